"""Thresholds in force: shipped defaults overridden by a ``pianqu.toml`` beside the workspace.

``pianqu.toml``::

    [thresholds]
    "validate.overlap_tolerance_m2" = 5.0      # any key of `pianqu standards --table thresholds`

    [road_speeds]                              # km/h by road class
    village = 15

Each value keeps its source, so reports can say where a number came from.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping

from pianqu.errors import UserValueError
from pianqu.standards import Threshold, default_thresholds, road_classes

CONFIG_NAME = "pianqu.toml"
# The tables a pianqu.toml may hold; any other (a typo such as [threshold]) is refused rather
# than silently ignored. coverage_standards: see pianqu.services.coverage.
SECTIONS = ("thresholds", "road_speeds", "coverage_standards")


class ConfigError(UserValueError):
    """A ``pianqu.toml`` that cannot be used; the message (``common.config.*``) names the file
    and the key, in the user's language."""


@dataclass(frozen=True)
class Config:
    thresholds: Mapping[str, Threshold]
    road_speeds: Mapping[str, float]
    path: Path | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __getitem__(self, key: str) -> Any:
        return self.thresholds[key].value

    def source(self, key: str) -> str:
        return self.thresholds[key].source


def config_path_for(workspace: str | Path) -> Path:
    """Where the ``pianqu.toml`` of a workspace lives: in the same folder."""
    return Path(workspace).resolve().parent / CONFIG_NAME


def load_config(workspace: str | Path | None = None, *, path: str | Path | None = None,
                overrides: Mapping[str, Any] | None = None) -> Config:
    """Defaults, then the ``pianqu.toml`` beside ``workspace`` (or at ``path``), then ``overrides``."""
    thresholds = dict(default_thresholds())
    speeds = {r["class"]: float(r["speed_kmh"]) for _, r in road_classes().iterrows()}
    cfg_path = Path(path) if path is not None else (
        config_path_for(workspace) if workspace is not None else None)
    extra: dict[str, Any] = {}
    if cfg_path is not None and cfg_path.exists():
        try:
            raw = tomllib.loads(cfg_path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError("common.config.not_toml", path=str(cfg_path), detail=str(exc),
                              line=_line_of(exc)) from exc
        for section, value in raw.items():
            if section not in SECTIONS or not isinstance(value, dict):
                raise ConfigError("common.config.unknown_section", path=str(cfg_path), section=section,
                                  known=", ".join(f"[{s}]" for s in SECTIONS))
        for key, value in raw.get("thresholds", {}).items():
            thresholds[key] = _override(thresholds, key, value, f"{cfg_path} [thresholds]")
        for cls, value in raw.get("road_speeds", {}).items():
            if cls not in speeds:
                raise ConfigError("common.config.unknown_road_class", path=str(cfg_path), cls=cls,
                                  known=", ".join(f"`{c}`" for c in speeds))
            if not isinstance(value, (int, float)) or value <= 0:
                raise ConfigError("common.config.bad_speed", path=str(cfg_path), cls=cls, value=repr(value))
            speeds[cls] = float(value)
        extra = {k: v for k, v in raw.items() if k not in ("thresholds", "road_speeds")}
    for key, value in (overrides or {}).items():
        thresholds[key] = _override(thresholds, key, value, "override")
    return Config(thresholds, speeds, cfg_path, extra)


def _line_of(exc: Exception) -> str:
    """The line number a TOML or decoding error names ('?' if none)."""
    import re

    m = re.search(r"line (\d+)", str(exc))
    return m.group(1) if m else "?"


def _override(thresholds: Mapping[str, Threshold], key: str, value: Any, where: str) -> Threshold:
    if key not in thresholds:
        raise ConfigError("common.config.unknown_threshold", where=where, key=key)
    old = thresholds[key]
    if type(old.value) in (int, float) and not isinstance(value, (int, float)):
        raise ConfigError("common.config.not_a_number", where=where, key=key, unit=old.unit,
                          default=old.value, value=repr(value))
    return replace(old, value=value, sureness="user", source=f"{where} (default {old.value}: {old.source})")
