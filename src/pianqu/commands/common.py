"""What every command shares: the --lang option, resolving it, and failing with a message."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from pianqu.i18n import LANGS, default_lang, t

Lang = Annotated[str, typer.Option("--lang", help="输出语言 zh（默认）或 en / output language")]
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


def resolve_lang(value: str | None) -> str:
    """The output language: ``--lang`` if given, else the default (zh); refuses unknown ones."""
    lang = value or default_lang()
    if lang not in LANGS:
        raise typer.BadParameter(f"--lang must be one of {', '.join(LANGS)}")
    return lang


def fail(message: str, lang: str, code: int = 2) -> None:
    """Print ``message`` as an error in ``lang`` and exit with ``code`` (2: bad input)."""
    err_console.print(t("cli.error", lang, message=message), style="bold red", markup=False)
    raise typer.Exit(code)
