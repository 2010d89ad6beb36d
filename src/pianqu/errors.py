"""Errors a user can fix, said in the user's language (zh or en).

A :class:`PianquError` carries a message ``rule`` (a key in ``pianqu/locales/*.toml``) and the
values it is rendered with, not a finished sentence, so the command line can say it in the
language chosen with ``--lang`` whatever the language was when it was raised::

    [common.workspace.missing]                  # in common.toml
    msg.zh = "工作空间“{path}”不存在。"
    msg.en = "{path}: no such workspace."
    do.zh = "先用 `pianqu import` 或 `pianqu synth` 建立工作空间。"    # optional: what to do
    do.en = "Make one with `pianqu import` or `pianqu synth`."

    raise WorkspaceError("common.workspace.missing", path=url)

``rule.msg`` is required, ``rule.do`` optional (or ``rule`` itself holds the whole message).
A parameter that is itself a PianquError (a wrapped cause) or a :class:`Phrase` (a part of the
message with its own locale key, e.g. the problem found in a file) is rendered in the same language.
Name parameters anything but ``lang`` (the rendering language). Concrete errors keep the
built-in type that callers catch: :class:`UserValueError` is a ValueError, :class:`UserKeyError` a KeyError;
modules subclass these (``WorkspaceError``, ``ConfigError``, ``ReportError``, ...).
"""

from __future__ import annotations

import errno
import os
import re
import stat
from pathlib import Path
from typing import Any, Sequence

from pianqu.i18n import LANGS, catalogue, default_lang, t
from pianqu.schema import LAYERS


class PianquError(Exception):
    """An error the user can fix: ``rule`` names the message, ``params`` fill it in."""

    def __init__(self, rule: str, lang: str | None = None, **params: Any):
        self.rule = rule
        self.params = params
        super().__init__(self.message(lang))

    def message(self, lang: str | None = None) -> str:
        """The message (and, if the catalogue has one, what to do) in ``lang``."""
        params = {k: render(v, lang) for k, v in self.params.items()}
        if self.rule in catalogue():  # a one-part message (zh/en directly under the rule)
            return _text(self.rule, lang, params)
        text = _text(f"{self.rule}.msg", lang, params)
        if f"{self.rule}.do" in catalogue():
            text = f"{text} {_text(f'{self.rule}.do', lang, params)}"
        return text

    def __str__(self) -> str:  # KeyError would print the repr of its argument
        return str(self.args[0]) if self.args else self.rule

    def __reduce__(self):  # pickled across processes by rule and params, not by the text
        return _restore, (type(self), self.rule, self.params)


def _restore(cls: type, rule: str, params: dict[str, Any]) -> "PianquError":
    return cls(rule, **params)


class UserValueError(PianquError, ValueError):
    """A bad value or input file (caught where ValueError is)."""


class UserKeyError(PianquError, KeyError):
    """A name or code that does not exist (caught where KeyError is)."""


class UserFileError(PianquError, OSError):
    """A file or folder that cannot be read or written (caught where OSError is)."""


def layer_label(name: str) -> str:
    """A layer as Chinese text names it: ``道路（road）`` for a layer of the data standard
    (:mod:`pianqu.schema`), ``“name”`` for any other."""

    spec = LAYERS.get(str(name))
    return f"{spec.zh}（{spec.name}）" if spec is not None else f"“{name}”"


def _text(key: str, lang: str | None, params: dict[str, Any]) -> str:
    """``t(key, lang, **params)`` for any parameter names (``key`` and ``lang`` included)."""
    lang = lang or default_lang()
    if key not in catalogue() or lang not in LANGS:
        t(key, lang)  # raises t's error for an unknown key or language
    return catalogue()[key][lang].format(**params)


class Phrase:
    """A part of a message that is itself said in the reader's language: the key of a locale
    text and its values, rendered when the message is (``problem=Phrase("ingest.problem.not_toml",
    detail=...)``). Parameters may again be Phrases or PianquErrors."""

    def __init__(self, key: str, **params: Any):
        self.key = key
        self.params = params

    def message(self, lang: str | None = None) -> str:
        return _text(self.key, lang, {k: render(v, lang) for k, v in self.params.items()})

    def __str__(self) -> str:
        return self.message()

    def __repr__(self) -> str:
        return f"Phrase({self.key!r}, **{self.params!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Phrase) and (self.key, self.params) == (other.key, other.params)

    __hash__ = None  # type: ignore[assignment]


def render(value: Any, lang: str | None) -> Any:
    """A message parameter as said in ``lang``: a PianquError, Phrase or finding rendered, a list
    of them joined, anything else as it is."""
    if isinstance(value, (list, tuple)) and value and all(_speaks(v) for v in value):
        return ("；" if (lang or default_lang()) == "zh" else "; ").join(render(v, lang) for v in value)
    return value.message(lang) if _speaks(value) else value


def _speaks(value: Any) -> bool:
    """An error, a phrase or a finding: something that renders its own message in a language."""
    return callable(getattr(value, "message", None)) and \
        (isinstance(value, (BaseException, Phrase)) or hasattr(value, "rule"))


_GEOS_REASONS = {
    "self-intersection": "self_intersection", "ring self-intersection": "ring_self_intersection",
    "too few points": "too_few_points", "hole lies outside shell": "hole_outside_shell",
    "nested holes": "nested_holes", "interior is disconnected": "disconnected_interior",
    "nested shells": "nested_shells", "duplicate rings": "duplicate_rings",
    "invalid coordinate": "invalid_coordinate", "ring is not closed": "ring_not_closed",
}


def geometry_problem(reason: str) -> Phrase:
    """GEOS's reason for an invalid geometry (``shapely.is_valid_reason``: "Self-intersection[x y]")
    as a :class:`Phrase` said in the reader's language, with the place it names."""
    m = re.match(r"\s*([^\[]*?)\s*\[([^\]]*)\]", str(reason))
    key = _GEOS_REASONS.get(m.group(1).lower()) if m else None
    if key is None:
        return Phrase("common.geos.other", detail=str(reason))
    return Phrase(f"common.geos.{key}", at=m.group(2).strip())


_ERRNO_RULES = {
    errno.ENOENT: "common.os.missing",
    errno.EACCES: "common.os.denied",
    errno.EPERM: "common.os.denied",
    errno.EROFS: "common.os.read_only",
    errno.ENOSPC: "common.os.no_space",
    errno.EISDIR: "common.os.is_dir",
    errno.ENOTDIR: "common.os.not_dir",
    errno.EEXIST: "common.os.exists",
}


def from_os_error(exc: OSError) -> PianquError:
    """An operating-system error (missing folder, no permission, disk full, ...) as a
    :class:`UserFileError` naming the path, so it too is said in the user's language."""
    if isinstance(exc, PianquError):
        return exc
    path = exc.filename if exc.filename is not None else ""
    code = exc.errno
    if code is None:  # pandas: OSError("Cannot save file into a non-existent directory: '...'")
        quoted = re.search(r"'([^']+)'", str(exc))
        path = path or (quoted.group(1) if quoted else "")
        code = errno.ENOENT if "non-existent directory" in str(exc) else None
    rule = _ERRNO_RULES.get(code if code is not None else -1, "common.os.other")
    return UserFileError(rule, path=str(path), errno=code if code is not None else "?")


def user_message(exc: BaseException, lang: str | None = None) -> str:
    """What to tell the user about ``exc`` in ``lang``: a PianquError (or any error with a
    ``message(lang)`` method, like the import's IngestError) in that language; an OSError
    by its errno; anything else by its text."""
    message = getattr(exc, "message", None)
    if callable(message):
        return message(lang)
    if isinstance(exc, OSError):
        return from_os_error(exc).message(lang)
    text = str(exc)
    return text.strip("'\"") if isinstance(exc, KeyError) else text


def _kind(mode: int) -> str:
    """What a non-regular file is: ``fifo``, ``device``, ``socket`` or ``other``."""
    if stat.S_ISFIFO(mode):
        return "fifo"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device"
    if stat.S_ISSOCK(mode):
        return "socket"
    return "other"


def check_input(path: str | Path, *, folder: bool = False, empty_ok: bool = False) -> None:
    """Refuse, before opening it, an input that is no readable regular file: a FIFO (opening it
    would wait forever for a writer), a device, a socket, a folder where a file is expected
    (``folder=True``: a folder is what is expected, e.g. a File GDB), an empty file, or one the
    user may not read. Only ``stat``/``access`` are called; raises :class:`UserFileError`."""
    p = Path(path)
    try:
        st = p.stat()
    except OSError as exc:
        raise from_os_error(exc) from None
    if stat.S_ISDIR(st.st_mode):
        if not folder:
            raise UserFileError("common.os.is_dir", path=str(p), errno=errno.EISDIR)
        if not os.access(p, os.R_OK | os.X_OK):
            raise UserFileError("common.os.denied", path=str(p), errno=errno.EACCES)
        return
    if not stat.S_ISREG(st.st_mode):
        raise UserFileError("common.os.not_regular", path=str(p), kind=Phrase(f"common.os.kind.{_kind(st.st_mode)}"))
    if folder:
        raise UserFileError("common.os.not_dir", path=str(p), errno=errno.ENOTDIR)
    if not os.access(p, os.R_OK):
        raise UserFileError("common.os.denied", path=str(p), errno=errno.EACCES)
    if st.st_size == 0 and not empty_ok:
        raise UserFileError("common.os.empty", path=str(p))


def check_output(path: str | Path, *, inputs: Sequence[str | Path] = (), folder: bool = False,
                 create_parent: bool = False, not_folder_rule: str = "common.os.not_a_folder") -> None:
    """Refuse, before any work, an output that would destroy an input or cannot be written:
    the workspace or an input file itself (``inputs``), a FIFO or device (writing would block or
    go nowhere), a folder where a file is written (``folder=False``) or a file where a folder is
    (``folder=True``), a missing parent folder (created when ``create_parent`` or for a folder of
    results, ``folder=True``) or a parent
    that is a file. ``not_folder_rule``: the message for an existing file where a folder is
    written (a command may have its own). Raises :class:`UserFileError`."""
    p = Path(path)
    for given in inputs:
        if given is not None and _same_file(p, Path(given)):
            raise UserFileError("common.os.output_is_input", path=str(p), input=str(given))
    if p.exists():
        mode = p.stat().st_mode
        if stat.S_ISDIR(mode) and not folder:
            raise UserFileError("common.os.is_dir", path=str(p), errno=errno.EISDIR)
        if stat.S_ISREG(mode) and folder:
            raise UserFileError(not_folder_rule, path=str(p))
        if not stat.S_ISDIR(mode) and not stat.S_ISREG(mode):
            raise UserFileError("common.os.not_regular_output", path=str(p),
                                kind=Phrase(f"common.os.kind.{_kind(mode)}"))
        return
    parent = p.absolute().parent
    missing = parent
    while not missing.parent.exists() and missing.parent != missing:
        missing = missing.parent
    if parent.exists() and not parent.is_dir() or missing.parent.exists() and not missing.parent.is_dir():
        blocker = parent if parent.exists() else missing.parent
        raise UserFileError("common.os.not_dir", path=str(blocker), errno=errno.ENOTDIR)
    if not parent.exists():
        if not (create_parent or folder):  # a folder of results is made with its parents
            raise UserFileError("common.os.missing", path=str(missing), errno=errno.ENOENT)
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise from_os_error(exc) from None


def _same_file(a: Path, b: Path) -> bool:
    """Whether ``a`` and ``b`` name one file (hard links and symlinks included)."""
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return a.resolve() == b.resolve()
