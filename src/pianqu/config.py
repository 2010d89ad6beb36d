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

from pianqu.errors import UserValueError
from pianqu.findings import Finding
from pianqu.standards import (TABLES, OverrideError, RowOverride, Threshold, apply_overrides, default_thresholds,
                              table)

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
        try:
            raw = tomllib.loads(text if text is not None else cfg_path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError("common.config.not_toml", path=str(cfg_path), detail=str(exc),
                              line=_line_of(exc)) from exc
        for section, value in raw.items():
            if section not in SECTIONS + tuple(DEPRECATED_SECTIONS) or not isinstance(value, dict):
                raise ConfigError("common.config.unknown_section", path=str(cfg_path), section=section,
                                  known=", ".join(f"[{s}]" for s in SECTIONS))
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
                                  known=", ".join(f"[tables.{s}]" for s, spec in TABLES.items() if spec.overridable))
            rows += [RowOverride(name, str(k), v, f"{cfg_path} [tables.{name}]") for k, v in entries.items()]
        synth = dict(raw.get("synth", {}))
    for key, value in (overrides or {}).items():
        thresholds[key] = override_threshold(thresholds, key, value, "override")
    cfg = Config(thresholds, {}, cfg_path, {}, tuple(rows), synth, tuple(notes))
    for name in dict.fromkeys(o.table for o in rows):  # refuse a bad row now, naming the file
        try:
            cfg.table(name)
        except OverrideError as exc:
            raise ConfigError(exc.code, **{"path": str(cfg_path), "where": _where(rows, name), **exc.params}) from None
    roads = cfg.table("road_classes")
    return replace(cfg, road_speeds=dict(zip(roads["class"], roads["speed_kmh"].astype(float))))


def _where(rows: list[RowOverride], name: str) -> str:
    return next((o.where for o in rows if o.table == name), name)


def _line_of(exc: Exception) -> str:
    """The line number a TOML or decoding error names ('?' if none)."""
    import re

    m = re.search(r"line (\d+)", str(exc))
    return m.group(1) if m else "?"


def override_threshold(thresholds: Mapping[str, Threshold], key: str, value: Any, where: str) -> Threshold:
    """``thresholds[key]`` with ``value`` written at ``where`` (sureness ``user``, the source
    keeps the default it replaced); a :class:`ConfigError` for an unknown key or a bad value."""
    if key not in thresholds:
        raise ConfigError("common.config.unknown_threshold", where=where, key=key)
    old = thresholds[key]
    if type(old.value) in (int, float) and not isinstance(value, (int, float)):
        raise ConfigError("common.config.not_a_number", where=where, key=key, unit=old.unit,
                          default=old.value, value=repr(value))
    return replace(old, value=value, sureness="user", source=f"{where} (default {old.value}: {old.source})")
