"""What every command shares: the --lang option, resolving it, and failing with a message."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from pianqu.errors import PianquError, user_message
from pianqu.i18n import LANGS, default_lang, t

Lang = Annotated[str, typer.Option("--lang", help="输出语言 zh（默认）或 en / output language")]
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


def resolve_lang(value: str | None) -> str:
    """The output language: ``--lang`` if given, else the default (zh); refuses unknown ones."""
    lang = value or default_lang()
    if lang not in LANGS:
        raise typer.BadParameter(f"只能是 {'、'.join(LANGS)} / must be one of {', '.join(LANGS)}")
    return lang


# What a command catches and reports with ``fail`` (exit 2) rather than a traceback: errors a
# user can fix. PianquError and the import's IngestError re-render in the chosen language.
USER_ERRORS = (PianquError, ValueError, KeyError, OSError)


def fail(message: str | BaseException, lang: str, code: int = 2) -> None:
    """Print ``message`` (a text, or an error rendered by :func:`pianqu.errors.user_message`
    in ``lang``) as an error and exit with ``code`` (2: bad input)."""
    if isinstance(message, typer.Exit):  # an earlier fail() caught by a broad ``except RuntimeError``
        raise message
    if isinstance(message, BaseException):
        message = user_message(message, lang)
    err_console.print(t("cli.error", lang, message=message), style="bold red", markup=False)
    raise typer.Exit(code)
