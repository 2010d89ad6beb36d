"""What every command shares: the --lang option, resolving it, and failing with a message."""

from __future__ import annotations

import importlib
import re
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Annotated

import typer
from rich.console import Console
from typer.core import TyperGroup

from pianqu.errors import Phrase, PianquError, check_input, check_output, user_message
from pianqu.i18n import LANGS, default_lang, t

Lang = Annotated[str, typer.Option("--lang", help="输出语言 zh（默认）或 en / output language")]
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


def resolve_lang(value: str | None) -> str:
    """The output language: ``--lang`` if given, else the default (zh); refuses unknown ones."""
    lang = value or default_lang()
    if lang not in LANGS:
        fail(PianquError("cli.usage.bad_lang", value=lang, langs=", ".join(LANGS)), default_lang())
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


def is_database(path) -> bool:
    """A ``postgresql://`` workspace URL (also after pathlib folded its ``//``): no file to check;
    the workspace backend checks the database."""
    return str(path).startswith(("postgresql:", "postgres:"))


def output_ok(path, lang: str, *, inputs=(), folder: bool = False, create_parent: bool = False,
              not_folder_rule: str = "common.os.not_a_folder") -> None:
    """Check an output option before any work (:func:`pianqu.errors.check_output`): never onto
    the workspace or an input, never a FIFO or device; a missing parent folder is created
    (``create_parent``: folders of results) or refused with a message naming it."""
    if path is None or str(path) == "-" or is_database(path):
        return
    try:
        check_output(path, inputs=inputs, folder=folder, create_parent=create_parent, not_folder_rule=not_folder_rule)
    except PianquError as exc:
        fail(exc, lang)


def input_ok(path, lang: str, *, folder: bool = False) -> None:
    """Check an input file option before opening it (:func:`pianqu.errors.check_input`)."""
    if path is None or is_database(path):
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


class LocalisedGroup(TyperGroup):
    """The top-level command group: a usage error (a missing argument, an unknown command or
    option, a value of the wrong type, an extra argument) said as one line in the user's language,
    like every other error (``错误：…`` / ``Error: …``, exit 2), instead of click's English box.
    The language is the ``--lang`` given anywhere on the line, else the default."""

    def make_context(self, info_name, args, parent=None, **extra):
        if parent is None:
            _ARGV.set(list(args))
        with _localised():
            return super().make_context(info_name, args, parent=parent, **extra)

    def invoke(self, ctx):
        with _localised():
            return super().invoke(ctx)


# click's exceptions, from wherever this typer takes click (its own vendored copy in typer ≥ 0.20)
click = importlib.import_module(typer.BadParameter.__module__)
_ARGV: ContextVar[list[str]] = ContextVar("pianqu_argv", default=[])


def _lang_of(argv: list[str]) -> str:
    """``--lang`` as written on the command line (``--lang en``, ``--lang=en``), if valid."""
    for i, a in enumerate(argv):
        value = argv[i + 1] if a == "--lang" and i + 1 < len(argv) else a[7:] if a.startswith("--lang=") else None
        if value in LANGS:
            return value
    return default_lang()


@contextmanager
def _localised():
    try:
        yield
    except click.NoArgsIsHelpError:
        raise
    except click.UsageError as exc:
        lang = _lang_of(_ARGV.get())
        try:
            message = _usage_message(exc, lang)
        except Exception:  # noqa: BLE001 — an error of another shape than expected: click's own text
            message = exc.format_message()
        err_console.print(t("cli.error", lang, message=message), style="bold red", markup=False)
        raise typer.Exit(2) from None


def _usage_message(exc, lang: str) -> str:
    """A click usage error as a message of ``cli.usage.*`` in ``lang``."""
    command = "pianqu" + ("".join(f" {p}" for p in exc.ctx.command_path.split()[1:]) if exc.ctx else "")
    text = exc.format_message()
    if text.startswith("No such command"):
        name = re.search(r"'([^']*)'", text)
        close = re.search(r"Did you mean '([^']*)'", text)
        rule = PianquError("cli.usage.no_such_command", name=name.group(1) if name else "",
                           close=Phrase("common.config.did_you_mean", name=close.group(1)) if close else "",
                           command=command)
    elif isinstance(exc, click.NoSuchOption):
        rule = PianquError("cli.usage.no_such_option", option=exc.option_name, command=command,
                           close=Phrase("common.config.did_you_mean", name=exc.possibilities[0])
                           if exc.possibilities else "")
    elif isinstance(exc, click.MissingParameter):
        opts = list(getattr(exc.param, "opts", None) or [])
        rule = PianquError("cli.usage.missing", name=opts[0] if opts else "", command=command)
    elif isinstance(exc, click.BadParameter) and exc.param is not None and getattr(exc.param, "opts", None):
        name = exc.param.opts[0]
        want = next((w for pattern, w in (("valid integer", "integer"), ("valid number", "number"),
                                          ("valid bool", "bool")) if pattern in text), None)
        if want is None:
            return text  # a check of ours (e.g. --lang), already said in both languages
        argv = _ARGV.get()
        given = next((a.split("=", 1)[1] if "=" in a else nxt for a, nxt in zip(argv, argv[1:] + [""])
                      if a == name or a.startswith(name + "=")), "")
        rule = PianquError("cli.usage.bad_value", option=name, value=given, want=Phrase(f"cli.usage.want.{want}"),
                           command=command)
    elif text.startswith("Got unexpected extra argument"):
        extra = re.search(r"\(([^()]*)\)\s*$", text)
        rule = PianquError("cli.usage.extra", args=extra.group(1) if extra else "", command=command)
    elif re.match(r"Option '([^']*)' does not take a value", text):
        rule = PianquError("cli.usage.no_value", option=re.match(r"Option '([^']*)'", text).group(1), command=command)
    elif re.match(r"Option '([^']*)' requires an argument", text):
        rule = PianquError("cli.usage.needs_value", option=re.match(r"Option '([^']*)'", text).group(1),
                           command=command)
    else:
        return text
    return rule.message(lang)
