"""The report's messages: every key the code uses exists in zh and en; class names match the standards."""

from __future__ import annotations

import ast
import re
import tomllib
from importlib import resources
from pathlib import Path

import pianqu.report
from pianqu.i18n import catalogue
from pianqu.standards import landuse_codes

SRC = Path(pianqu.report.__file__).parent


def literal_keys() -> set[str]:
    """Message keys passed as literals to t(...) / ctx.t(...) in the package and its templates."""
    keys = set()
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
                    and isinstance(node.args[0].value, str)
                    and (getattr(node.func, "id", None) == "t" or getattr(node.func, "attr", None) == "t")):
                keys.add(node.args[0].value)
    for path in SRC.rglob("*.j2"):
        keys |= set(re.findall(r"""\bt\(\s*["']([a-z_.]+)["']""", path.read_text("utf-8")))
    return keys


def test_every_literal_key_exists():
    keys = literal_keys()
    assert len(keys) > 60
    missing = sorted(k for k in keys if k not in catalogue())
    assert missing == []


def test_every_entry_has_both_languages():
    raw = tomllib.loads(resources.files("pianqu.locales").joinpath("report.toml").read_text("utf-8"))

    def leaves(node, prefix=""):
        for key, value in node.items():
            if isinstance(value, dict) and ({"zh", "en"} & set(value)):
                yield prefix + key, value
            elif isinstance(value, dict):
                yield from leaves(value, f"{prefix}{key}.")

    entries = dict(leaves(raw))
    incomplete = [k for k, v in entries.items() if set(v) != {"zh", "en"} or not v["zh"] or not v["en"]]
    assert incomplete == [] and len(entries) > 100


def test_class_names_match_the_standard_table():
    table = landuse_codes(2023)
    for code, name in table[table["level"] == 1][["code", "name"]].itertuples(index=False):
        assert catalogue()[f"report.l1.{code}"]["zh"] == name
