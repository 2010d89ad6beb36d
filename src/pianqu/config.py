"""Standards in force: shipped defaults overridden by a ``pianqu.toml`` beside the workspace.

``pianqu.toml``::

    [thresholds]
    "validate.overlap_tolerance_m2" = 5.0      # any key of `pianqu standards --table thresholds`

    [tables.road_classes]                      # rows of a standards table, by its key column(s)
    village = 15                               # a bare number sets the table's value column (km/h)
    [tables.coverage_standards]
    "children_home.mountain" = { value = 3000 }  # key columns joined by "."; a column = value

    [synth]                                    # knobs of the synthesiser (pianqu/synth/knobs.toml)
    "synth.employment_rate" = 0.5

Every value is checked when the file is read against the threshold's documented type and range
(its unit's rule in ``standards/threshold_ranges.csv``, narrowed by the entry's own ``min``,
``max``, ``choices``, ...; :func:`pianqu.standards.threshold_rule`): a speed of ``true``, a
negative length, ``nan``, a share above 1 are refused with a message naming the file, the table,
the key, the value, the allowed range and the default's source; a mistyped name suggests the
closest known one.

Each value keeps its source (the file and section it was written in, and the default it
replaced), so reports can say where a number came from. The sections ``[road_speeds]`` and
``[coverage_standards]`` of earlier versions are read as ``[tables.road_classes]`` and
``[tables.coverage_standards]``, with an info finding (``Config.findings``) asking to rename them.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from pianqu.errors import Phrase, UserValueError, check_input
from pianqu.findings import Finding
from pianqu.standards import (TABLES, OverrideError, RowOverride, Threshold, apply_overrides, default_thresholds,
                              key_of, table, threshold_rule)
from pianqu.standards.ranges import Allowed, Problem, closest, problem, shape_of

CONFIG_NAME = "pianqu.toml"
# The tables a pianqu.toml may hold; any other (a typo such as [threshold]) is refused rather
# than silently ignored.
SECTIONS = ("thresholds", "tables", "synth")
# Section names of earlier versions → the standards table they override (read, with a finding).
DEPRECATED_SECTIONS = {"road_speeds": "road_classes", "coverage_standards": "coverage_standards"}


class ConfigError(UserValueError):
    """A ``pianqu.toml`` that cannot be used; the message (``common.config.*``) names the file
    and the key, in the user's language."""


@dataclass(frozen=True)
class Config:
    thresholds: Mapping[str, Threshold]
    road_speeds: Mapping[str, float]
    path: Path | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    table_overrides: tuple[RowOverride, ...] = ()
    synth: Mapping[str, Any] = field(default_factory=dict)  # [synth] entries, read by pianqu.synth
    findings: tuple[Finding, ...] = ()  # notes about the file itself (a deprecated section name)

    def __getitem__(self, key: str) -> Any:
        return self.thresholds[key].value

    def source(self, key: str) -> str:
        return self.thresholds[key].source

    def table(self, name: str) -> pd.DataFrame:
        """The standards table ``name`` with this configuration's ``[tables.NAME]`` rows applied
        (changed rows have sureness ``user`` and a source naming the file)."""
        base = table(name) if name in TABLES else pd.DataFrame()  # an unknown name: apply_overrides says so
        return apply_overrides(name, base, [o for o in self.table_overrides if o.table == name])


def config_path_for(workspace: str | Path) -> Path:
    """Where the ``pianqu.toml`` of a workspace lives: in the same folder."""
    return Path(workspace).resolve().parent / CONFIG_NAME


def load_config(workspace: str | Path | None = None, *, path: str | Path | None = None,
                overrides: Mapping[str, Any] | None = None, text: str | None = None) -> Config:
    """Defaults, then the ``pianqu.toml`` beside ``workspace`` (or at ``path``; or its ``text``, kept
    in a database workspace, ``path`` then naming where), then ``overrides``."""
    thresholds = dict(default_thresholds())
    cfg_path = Path(path) if path is not None else (
        config_path_for(workspace) if workspace is not None else None)
    rows: list[RowOverride] = []
    synth: dict[str, Any] = {}
    notes: list[Finding] = []
    if cfg_path is not None and (text is not None or cfg_path.exists()):
        if text is None:
            check_input(cfg_path, empty_ok=True)  # a FIFO would block the read; a folder, no permission
        try:
            raw = tomllib.loads(text if text is not None else cfg_path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError("common.config.not_toml", path=str(cfg_path), detail=str(exc),
                              line=_line_of(exc)) from exc
        for section, value in raw.items():
            if section in SECTIONS + tuple(DEPRECATED_SECTIONS) and not isinstance(value, dict):
                raise ConfigError("common.config.not_a_table", path=str(cfg_path), section=section, value=_toml(value))
            if section not in SECTIONS + tuple(DEPRECATED_SECTIONS):
                raise ConfigError("common.config.unknown_section", path=str(cfg_path), section=section,
                                  known=", ".join(f"[{s}]" for s in SECTIONS),
                                  close=did_you_mean(section, SECTIONS + tuple(f"tables.{n}" for n in TABLES)))
        for key, value in raw.get("thresholds", {}).items():
            thresholds[key] = override_threshold(thresholds, key, value, f"{cfg_path} [thresholds]")
        for old, name in DEPRECATED_SECTIONS.items():
            if old in raw:
                notes.append(Finding("info", "common.config.deprecated_section", "pianqu.toml", str(cfg_path), old,
                                     {"path": str(cfg_path), "old": old, "new": f"tables.{name}"}))
                rows += [RowOverride(name, str(k), v, f"{cfg_path} [{old}]") for k, v in raw[old].items()]
        for name, entries in raw.get("tables", {}).items():
            if not isinstance(entries, dict):
                raise ConfigError("common.config.unknown_section", path=str(cfg_path), section=f"tables.{name}",
                                  known=", ".join(f"[tables.{s}]" for s, spec in TABLES.items() if spec.overridable),
                                  close="")
            rows += [RowOverride(name, str(k), v, f"{cfg_path} [tables.{name}]") for k, v in entries.items()]
        synth = dict(raw.get("synth", {}))
    for key, value in (overrides or {}).items():
        thresholds[key] = override_threshold(thresholds, key, value, "override")
    cfg = Config(thresholds, {}, cfg_path, {}, tuple(rows), synth, tuple(notes))
    for name in dict.fromkeys(o.table for o in rows):  # refuse a bad row now, naming the file
        try:
            cfg.table(name)
        except OverrideError as exc:
            raise ConfigError(exc.code, **{"path": str(cfg_path), "where": _where(rows, name), **exc.params,
                                           "close": _close_of(exc)}) from None
    roads = cfg.table("road_classes")
    return replace(cfg, road_speeds=dict(zip(roads["class"], roads["speed_kmh"].astype(float))))


def _close_of(exc: OverrideError) -> Phrase | str:
    """The name a mistyped table, row or column of ``[tables.NAME]`` most likely meant."""
    p = exc.params
    if exc.code == "common.config.unknown_table":
        return did_you_mean(p["table"], [n for n, s in TABLES.items() if s.overridable])
    if exc.code == "common.config.unknown_row":
        spec = TABLES[p["table"]]
        return did_you_mean(p["key"], key_of(table(p["table"]), spec))
    if exc.code == "common.config.unknown_column":
        return did_you_mean(p["column"], TABLES[p["table"]].overridable)
    return ""


def _where(rows: list[RowOverride], name: str) -> str:
    return next((o.where for o in rows if o.table == name), name)


def _line_of(exc: Exception) -> str:
    """The line number a TOML or decoding error names ('?' if none)."""
    import re

    m = re.search(r"line (\d+)", str(exc))
    return m.group(1) if m else "?"


def override_threshold(thresholds: Mapping[str, Threshold], key: str, value: Any, where: str) -> Threshold:
    """``thresholds[key]`` with ``value`` written at ``where`` (sureness ``user``, the source
    keeps the default it replaced); a :class:`ConfigError` for an unknown key or a value of the
    wrong type or outside the threshold's documented range (:func:`pianqu.standards.threshold_rule`;
    a synthesiser knob, which has no documented range, only by the type of its default)."""
    if key not in thresholds:
        raise ConfigError("common.config.unknown_threshold", where=where, key=key,
                          close=did_you_mean(key, thresholds))
    old = thresholds[key]
    rule = _rule(old)
    why = problem(rule, old.value, value)
    if why is not None:
        code = "not_a_number" if why[0] == "not_number" and shape_of(old.value) == "scalar" else "out_of_range"
        raise ConfigError(f"common.config.{code}", where=where, key=key, unit=old.unit, default=_toml(old.value),
                          value=_toml(value), problem=_phrase(why), allowed=allowed_phrase(rule, old.value),
                          source=old.source.replace("`", "'"))
    return replace(old, value=value, sureness="user", source=f"{where} (default {old.value}: {old.source})")


def _rule(th: Threshold) -> Allowed:
    """The documented rule of a planning threshold; for anything else (a synthesiser knob) the
    kind of its default, with no range."""
    if th.key in default_thresholds():
        return threshold_rule(th)
    v = th.value
    while isinstance(v, (list, dict)) and v:
        v = v[0] if isinstance(v, list) else next(iter(v.values()))
    return Allowed("bool" if isinstance(v, bool) else "number" if isinstance(v, (int, float)) else "text")


def allowed_phrase(rule: Allowed, default: Any) -> Phrase:
    """What a threshold with ``rule`` and shipped value ``default`` may be, in the reader's language."""
    if rule.kind == "text":
        item = Phrase("common.range.allowed.choices", choices=", ".join(f"“{c}”" for c in rule.choices)) \
            if rule.choices else Phrase("common.range.allowed.text")
    elif rule.kind == "bool":
        item = Phrase("common.range.allowed.bool")
    else:
        item = Phrase(f"common.range.allowed.{rule.kind}", bounds=rule.bounds() or "—")
    shape = shape_of(default)
    if shape == "list":
        return Phrase("common.range.allowed.list_of_n" if rule.length else "common.range.allowed.list",
                      item=item, n=rule.length or 0)
    if shape == "table":
        return Phrase("common.range.allowed.table", item=item, keys=", ".join(map(str, default)))
    return item


def _phrase(why: Problem) -> Phrase:
    """A problem of :func:`pianqu.standards.ranges.problem` as a Phrase (nested ones too)."""
    code, params = why
    params = {k: (_phrase(v) if k == "problem" else v) for k, v in params.items()}
    if "close" in params:
        params["close"] = _maybe(params["close"])
    return Phrase(f"common.range.{code}", **params)


def did_you_mean(name: str, known) -> Phrase | str:
    """"(did you mean 'x'?)" for the known name closest to a mistyped ``name``; "" when none is close."""
    return _maybe(closest(name, known))


def _maybe(close: str) -> Phrase | str:
    return Phrase("common.config.did_you_mean", name=close) if close else ""


def _toml(value: Any) -> str:
    """A value as the user wrote it in TOML (true, "text", nan, [1, 2])."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, float) and value != value:
        return "nan"
    if isinstance(value, float) and value in (float("inf"), float("-inf")):
        return "inf" if value > 0 else "-inf"
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"
    return str(value)
