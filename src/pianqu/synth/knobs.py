"""Knobs of the synthetic county generator (``knobs.toml`` beside this module).

They shape plausible synthetic data only and no analysis reads them, so they are not planning
thresholds (``pianqu/standards/thresholds.toml``). :func:`synth_config` adds them to a
configuration for the generator; a ``pianqu.toml`` changes them under ``[synth]`` (keys
``"synth.NAME"`` or ``NAME``), ``overrides`` in code, each keeping its source as thresholds do.
"""

from __future__ import annotations

from dataclasses import replace
from functools import cache
from typing import Any, Mapping

from pianqu.config import Config, load_config, override_threshold
from pianqu.standards import Threshold, read_thresholds

KNOBS_FILE = "knobs.toml"


@cache
def default_knobs() -> dict[str, Threshold]:
    """Every generator knob, keyed ``synth.NAME``, as shipped."""
    return read_thresholds(__package__, KNOBS_FILE)


def synth_config(config: Config | None = None, overrides: Mapping[str, Any] | None = None) -> Config:
    """``config`` (default: :func:`pianqu.config.load_config`) with the generator knobs added:
    shipped values, then the config file's ``[synth]`` entries, then ``overrides``. A config
    that already has the knobs is returned as it is (apart from ``overrides``)."""
    cfg = config if config is not None else load_config()
    th = dict(cfg.thresholds)
    if not set(default_knobs()) <= set(th):
        th.update(default_knobs())
        where = f"{cfg.path} [synth]" if cfg.path is not None else "[synth]"
        for key, value in (cfg.synth or {}).items():
            key = key if key.startswith("synth.") else f"synth.{key}"
            th[key] = override_threshold(default_knobs(), key, value, where)
    for key, value in (overrides or {}).items():
        th[key] = override_threshold({k: v for k, v in th.items() if k in default_knobs()}, key, value, "override")
    return replace(cfg, thresholds=th)
