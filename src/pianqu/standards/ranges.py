"""The type and range each planning threshold may take, checked when a ``pianqu.toml`` is read.

A threshold's allowed values come from two places:

- its unit: a row of ``threshold_ranges.csv`` (``pianqu standards --table threshold_ranges``)
  gives the kind (``number``, ``integer``, ``bool``, ``text``) and the range for every threshold
  in that unit (a length in ``m`` is ≥ 0, a ``ratio`` lies in 0–1, a speed in ``km/h`` is > 0);
- the entry itself in ``thresholds.toml``, where a threshold differs from its unit's rule:
  ``min``, ``max`` (``inf`` for none), ``min_exclusive``, ``integer = true``, ``choices`` (the
  texts allowed) and ``length`` (the number of items of a list).

The shape follows the shipped value: a list default takes a list whose items obey the rule, a
table (``{ class1 = 7.0 }``) takes a table with the same keys whose values obey it. Every
threshold must resolve to a rule (a test checks it) and its shipped value must obey it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

# A problem: (locale key under ``common.range.``, its parameters); a nested problem is a parameter.
Problem = tuple[str, dict[str, Any]]

RANGES_TABLE = "threshold_ranges"
KINDS = ("number", "integer", "bool", "text")
# keys an entry of thresholds.toml may hold besides value, unit, sureness, source, description
ENTRY_FIELDS = ("min", "max", "min_exclusive", "integer", "choices", "length")


@dataclass(frozen=True)
class Allowed:
    """What a threshold (or each item of a list or table threshold) may be."""

    kind: str
    min: float | None = None
    max: float | None = None
    min_exclusive: bool = False
    choices: tuple[str, ...] = ()
    length: int | None = None

    def bounds(self) -> str:
        """The range in symbols, the same in every language: ``0 ≤ x ≤ 1``, ``x > 0``, ``x ≥ 0``."""
        lo = None if self.min is None or self.min == -math.inf else _num(self.min)
        hi = None if self.max is None or self.max == math.inf else _num(self.max)
        op = "<" if self.min_exclusive else "≤"
        if lo is not None and hi is not None:
            return f"{lo} {op} x ≤ {hi}"
        if lo is not None:
            return f"x {'>' if self.min_exclusive else '≥'} {lo}"
        if hi is not None:
            return f"x ≤ {hi}"
        return ""

    def symbol(self) -> str:
        """A short language-neutral form for the catalogue (``pianqu standards``)."""
        if self.kind == "text":
            return " | ".join(self.choices) if self.choices else "text"
        if self.kind == "bool":
            return "true | false"
        return ("integer " if self.kind == "integer" else "") + self.bounds()


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else repr(float(v))


def allowed(base: Allowed | None, entry: Mapping[str, Any]) -> Allowed:
    """The rule for a threshold: the entry's own fields (``min``, ``max``, ...) applied over its
    unit's rule ``base``. Raises KeyError when neither gives a kind (a unit without a rule)."""
    if base is None:
        if "integer" not in entry and "choices" not in entry:
            raise KeyError("no range rule")
        base = Allowed("text" if "choices" in entry else "number")
    kind = "integer" if entry.get("integer") else ("text" if "choices" in entry else base.kind)
    return Allowed(kind, float(entry["min"]) if "min" in entry else base.min,
                   float(entry["max"]) if "max" in entry else base.max,
                   bool(entry.get("min_exclusive", base.min_exclusive)),
                   tuple(str(c) for c in entry.get("choices", base.choices)),
                   int(entry["length"]) if "length" in entry else base.length)


def shape_of(default: Any) -> str:
    """``list``, ``table`` or ``scalar``: the shape a threshold's value takes (its default's)."""
    return "list" if isinstance(default, list) else "table" if isinstance(default, dict) else "scalar"


def problem(rule: Allowed, default: Any, value: Any) -> Problem | None:
    """Why ``value`` cannot replace ``default`` under ``rule`` (a :data:`Problem`: locale key and
    parameters), or None when it can."""
    if isinstance(default, dict):
        if not isinstance(value, dict):
            return ("not_table", {})
        for k, v in value.items():
            if k not in default:
                return ("unknown_item_key", dict(item=k, known=", ".join(map(str, default)),
                                                 close=closest(k, default)))
            why = problem(rule, default[k], v)
            if why is not None:
                return ("item", dict(item=k, problem=why))
        return None
    if isinstance(default, list):
        if not isinstance(value, list):
            return ("not_list", {})
        if rule.length is not None and len(value) != rule.length:
            return ("bad_length", dict(n=rule.length, got=len(value)))
        item_default = default[0] if default else None
        for i, v in enumerate(value, start=1):
            why = problem(rule, item_default, v)
            if why is not None:
                return ("item", dict(item=f"#{i}", problem=why))
        return None
    return _scalar_problem(rule, value)


def _scalar_problem(rule: Allowed, value: Any) -> Problem | None:
    if rule.kind == "bool":
        return None if isinstance(value, bool) else ("not_bool", {})
    if rule.kind == "text":
        if not isinstance(value, str):
            return ("not_text", {})
        if rule.choices and value not in rule.choices:
            return ("not_choice", dict(close=closest(value, rule.choices)))
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return ("not_number", {})
    if not math.isfinite(value):
        return ("not_finite", {})
    if rule.kind == "integer" and not float(value).is_integer():
        return ("not_integer", {})
    low = rule.min is not None and (value <= rule.min if rule.min_exclusive else value < rule.min)
    high = rule.max is not None and value > rule.max
    return ("outside", {}) if low or high else None


def closest(name: str, known) -> str:
    """The known name closest to ``name`` ("" when none is close): a likely typo's fix."""
    import difflib

    hit = difflib.get_close_matches(str(name), [str(k) for k in known], n=1, cutoff=0.6)
    return hit[0] if hit else ""
