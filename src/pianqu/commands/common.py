"""What every command shares: the --lang option, resolving it, and failing with a message."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from pianqu.errors import PianquError, check_input, check_output, user_message
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


def output_ok(path, lang: str, *, inputs=(), folder: bool = False, create_parent: bool = False) -> None:
    """Check an output option before any work (:func:`pianqu.errors.check_output`): never onto
    the workspace or an input, never a FIFO or device; a missing parent folder is created
    (``create_parent``: folders of results) or refused with a message naming it."""
    if path is None or str(path) == "-":
        return
    try:
        check_output(path, inputs=inputs, folder=folder, create_parent=create_parent)
    except PianquError as exc:
        fail(exc, lang)


def input_ok(path, lang: str, *, folder: bool = False) -> None:
    """Check an input file option before opening it (:func:`pianqu.errors.check_input`)."""
    if path is None:
        return
    try:
        check_input(path, folder=folder)
    except PianquError as exc:
        fail(exc, lang)


def scenario_ok(name: str | None, lang: str) -> None:
    """Refuse a scenario name that breaks the naming rule before any work (not after a plan's
    minutes of computation): letters, digits, '_' and '-'."""
    from pianqu.workspace import scenario_layer

    if not name:
        return
    try:
        scenario_layer("x", name)  # raises the workspace's bad_scenario_name error
    except PianquError as exc:
        fail(exc, lang)
