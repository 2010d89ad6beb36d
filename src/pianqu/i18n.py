"""Messages in the user's language: Chinese (zh, default) or English (en).

Messages live in ``pianqu/locales/<area>.toml``, one table per key with a ``zh`` and an
``en`` string (``str.format`` placeholders)::

    [validate.missing_layer]
    zh = "缺少图层“{layer}”"
    en = "layer '{layer}' is missing"

Keys are global; each area (validate, ingest, report, cli, ...) keeps its own file.
"""

from __future__ import annotations

import os
import tomllib
from functools import cache
from importlib import resources

LANGS = ("zh", "en")
DEFAULT_LANG = "zh"


def default_lang() -> str:
    """``PIANQU_LANG`` if set to a known language, else Chinese."""
    lang = os.environ.get("PIANQU_LANG", DEFAULT_LANG)
    return lang if lang in LANGS else DEFAULT_LANG


@cache
def catalogue() -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for entry in resources.files("pianqu.locales").iterdir():
        if not entry.name.endswith(".toml"):
            continue
        with entry.open("rb") as fh:
            raw = tomllib.load(fh)
        _flatten(raw, "", out, entry.name)
    return out


def _flatten(node: dict, prefix: str, out: dict, source: str) -> None:
    for key, value in node.items():
        full = f"{prefix}{key}"
        if isinstance(value, dict) and set(value) >= {"zh", "en"}:
            if full in out:
                raise ValueError(f"message key '{full}' defined twice (in {source})")
            out[full] = {"zh": value["zh"], "en": value["en"]}
        elif isinstance(value, dict):
            _flatten(value, f"{full}.", out, source)


def t(key: str, lang: str | None = None, **kw: object) -> str:
    """The message ``key`` in ``lang``, formatted with ``kw``."""
    lang = lang or default_lang()
    if lang not in LANGS:
        raise ValueError(f"unknown language '{lang}'; choose one of {LANGS}")
    try:
        template = catalogue()[key][lang]
    except KeyError:
        raise KeyError(f"no message '{key}' in pianqu/locales/*.toml") from None
    return template.format(**kw)


def translate_keys(values, lang: str | None = None) -> list:
    """Each value that is a message key (an analysis result's ``action`` column, say) as its text
    in ``lang``; any other value (a name from the data, a number) as it is. The edges (report,
    command line, export) call this; analyses keep the keys."""
    cat = catalogue()
    cache: dict = {}
    out = []
    for v in values:
        if isinstance(v, str) and v in cat:
            if v not in cache:
                cache[v] = t(v, lang)
            out.append(cache[v])
        else:
            out.append(v)
    return out
