"""体检评估: every indicator of ``standards/indicators.csv`` at every level it has, against its
target, with a traffic light, the trend across land-use epochs and the features behind a red
light. :func:`evaluate` is the one function the CLI, the report and the web platform call.

Targets, in the order the catalogue's ``target`` column lists them: ``targets:NAME`` (the
workspace's ``targets`` table, the quotas the higher-level plan assigns, county level),
``quota:NAME`` (the plan's land quota, ``land_quota_targets``, derived by rule where the
county has no targets table), ``threshold:KEY`` (an entry of thresholds.toml, overridable in
pianqu.toml), ``base_epoch`` (the unit's own value at the base epoch: no loss of a floor, no growth of a ceiling), ``zone_count``
(the county's number of zones) or ``none``. Lights: ``green`` 达标, ``yellow`` 预警 (within
``evaluation.warning_band`` of the target; ``evaluation.warning_band_binding`` for 约束性
indicators, 0 by default: any shortfall is red), ``red`` 未达标 and ``none`` 无数据 — an input is
missing or there is no target, said in a finding, never guessed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import geopandas as gpd
import numpy as np
import pandas as pd

from pianqu.config import Config
from pianqu.evaluation.context import Context, Missing, open_context
from pianqu.evaluation.indicators import EPOCHAL, REGISTRY, Out
from pianqu.findings import Finding
from pianqu.geo import STORAGE_EPSG
from pianqu.standards import table
from pianqu.workspace import Workspace

LIGHTS = ("green", "yellow", "red", "none")
LEVELS = ("county", "zone", "township", "village")
TABLE_COLUMNS = ["indicator", "name_zh", "name_en", "dimension", "category", "kind", "tdt_class", "level",
                 "unit_code", "unit_name", "value", "unit", "target", "target_source", "light", "direction",
                 "epoch", "previous", "previous_epoch", "trend", "drivers", "method", "status", "need",
                 "source", "sureness"]
DRIVER_COLUMNS = ["indicator", "level", "unit_code", "kind", "feature", "name", "value"]
_REL_EPS = 1e-9  # a value equal to its target up to rounding meets it


def catalogue(config: Config | None = None) -> pd.DataFrame:
    """The indicator catalogue (``standards/indicators.csv``; a pianqu.toml ``[tables.indicators]``
    may not change it), one row per indicator."""
    return (config.table("indicators") if config is not None else table("indicators")).reset_index(drop=True)


def light(value: float, target: float, direction: str, band: float) -> str:
    """The traffic light of ``value`` against ``target``: direction ``higher`` (a floor) or
    ``lower`` (a ceiling); within ``band`` (a share of the target) of it ``yellow``; ``none``
    without a value, a target or a direction."""
    if direction not in ("higher", "lower") or value is None or target is None \
            or not np.isfinite(value) or not np.isfinite(target):
        return "none"
    eps = _REL_EPS * max(abs(target), 1.0)
    if direction == "higher":
        if value >= target - eps:
            return "green"
        return "yellow" if band > 0 and value >= target * (1 - band) - eps else "red"
    if value <= target + eps:
        return "green"
    return "yellow" if band > 0 and value <= target * (1 + band) + eps else "red"


@dataclass
class Evaluation:
    """The result of :func:`evaluate`: ``table`` (one row per indicator × unit), the drivers of
    every light (``drivers(indicator_id)``), ``findings``, and the layers to write."""

    table: pd.DataFrame
    driver_features: gpd.GeoDataFrame
    findings: list[Finding] = field(default_factory=list)
    scenario: str | None = None
    epoch: int | None = None
    county_code: str = ""

    def county(self) -> pd.DataFrame:
        """The county-level rows, in catalogue order."""
        return self.table[self.table["level"] == "county"].reset_index(drop=True)

    def drivers(self, indicator_id: str, unit_code: str | None = None) -> gpd.GeoDataFrame:
        """The villages, roads, parcels, zones … behind ``indicator_id`` (of one unit when given):
        a GeoDataFrame with kind, feature, name, value and geometry (EPSG:4490)."""
        d = self.driver_features
        keep = d["indicator"] == indicator_id
        if unit_code is not None:
            keep &= d["unit_code"] == str(unit_code)
        return d[keep].reset_index(drop=True)

    def counts(self) -> dict[str, int]:
        """County-level lights counted: {'green': n, 'yellow': n, 'red': n, 'none': n}."""
        c = self.county()["light"].value_counts()
        return {k: int(c.get(k, 0)) for k in LIGHTS}

    def to_dict(self) -> dict:
        """A JSON-ready document (no language: names in both, findings as rule and parameters) for
        the web platform and ``pianqu evaluate --json``: county, scenario, epoch, lights counted,
        indicators (every row), drivers (a GeoJSON FeatureCollection)."""
        import json

        return {"county": self.county_code, "scenario": self.scenario, "epoch": self.epoch, "lights": self.counts(),
                "indicators": json.loads(self.table.to_json(orient="records", force_ascii=False)),
                "drivers": json.loads(self.driver_features.to_json(na="null"))}

    def to_layers(self) -> dict[str, pd.DataFrame]:
        """``indicator`` (the table) and ``indicator_driver`` (the drivers) for a scenario."""
        return {"indicator": self.table.copy(), "indicator_driver": self.driver_features.copy()}

    def write(self, ws: Workspace, scenario: str | None = None) -> None:
        """Write :meth:`to_layers` into ``scenario`` (default the one evaluated) in one unit of work."""
        scenario = scenario or self.scenario
        if scenario is None:
            raise ValueError("an evaluation is written into a scenario")
        c = self.counts()
        reason = (f"epoch {self.epoch}: {c['green']} green, {c['yellow']} yellow, {c['red']} red, "
                  f"{c['none']} no data")
        with ws.transaction(command="evaluate", reason=reason):
            ws.write(self.to_layers(), command="evaluate", scenario=scenario, reason=reason)


def evaluate(ws: Workspace, scenario: str | None = None, *, epoch: int | None = None,
             config: Config | None = None) -> Evaluation:
    """Evaluate every indicator of the catalogue on a county workspace (体检评估).

    Parameters
    ----------
    ws : pianqu.workspace.Workspace
        The county workspace.
    scenario : str, optional
        The plan scenario whose layers (zones, services, road diagnostics, land) are read; without
        one only the indicators of the base layers have values, the others are 无数据.
    epoch : int, optional
        The land-use epoch evaluated (default the latest); the trend is against the epoch before.
    config : pianqu.config.Config, optional
        Thresholds in force (targets, warning band); default the workspace's own.

    Returns
    -------
    Evaluation
        ``table`` (indicator, names, dimension, kind, level, unit_code, unit_name, value, unit,
        target, target_source, light ∈ green/yellow/red/none, direction, previous, trend,
        drivers …), ``drivers(indicator_id)``, ``findings``, ``to_layers()``, ``write(ws)``.

    Examples
    --------
    >>> ev = pianqu.evaluate(ws, "plan")                                   # doctest: +SKIP
    >>> ev.county()[["indicator", "value", "target", "light"]]             # doctest: +SKIP
    """
    cfg = config or ws.config()
    cx = open_context(ws, scenario, epoch, cfg)
    previous = _previous_epoch(cx)
    cat = catalogue(cfg)
    unknown = sorted(set(cat["id"]) - set(REGISTRY))
    if unknown:
        raise KeyError(f"indicators without a computation: {', '.join(unknown)}")
    targets = _targets_table(cx)
    rows: list[dict] = []
    drivers: list[gpd.GeoDataFrame] = []
    findings: list[Finding] = []
    county_values: dict[str, float] = {}
    base_cx = cx.at(cx.base_epoch) if cx.base_epoch is not None and cx.base_epoch != cx.epoch else None
    for spec in cat.to_dict("records"):
        ind = spec["id"]
        out, missing = _run(ind, cx)
        prev = _run(ind, cx.at(previous))[0] if ind in EPOCHAL and previous is not None and missing is None else None
        base = None
        if "base_epoch" in str(spec["target"]) and base_cx is not None and missing is None:
            base = prev if previous == cx.base_epoch else _run(ind, base_cx)[0]
        if missing is not None:
            rows.append(_row(spec, cx, "county", cx.county_code, np.nan, np.nan, "", "none",
                             status="missing", need=f"{missing.need}:{missing.layer}"))
            findings.append(Finding("warning", "evaluation.no_data", missing.layer, ind, "",
                                    {"indicator": _name(spec), "need": _need_phrase(missing)}))
            continue
        prev_v = _values(prev)
        base_v = _values(base)
        unit_drivers = 0 if out.drivers is None else len(out.drivers)
        for level, code, value in out.rows:
            if level == "county":
                county_values[ind] = value
            target, source = _target(spec, level, code, base_v, targets, county_values, cfg, cx)
            band = float(cfg["evaluation.warning_band_binding"] if spec["kind"] == "约束性"
                         else cfg["evaluation.warning_band"])
            lt = light(value, target, spec["direction"], band)
            pv = prev_v.get((level, code), np.nan)
            rows.append(_row(spec, cx, level, code, value, target, source, lt, previous=pv,
                             previous_epoch=previous if ind in EPOCHAL else None,
                             drivers=unit_drivers if level == "county" else 0,
                             status="ok" if np.isfinite(value) else "missing"))
            if level == "county" and lt == "red":
                findings.append(Finding("error" if spec["kind"] == "约束性" else "warning", "evaluation.red",
                                        "indicator", ind, "",
                                        {"indicator": _name(spec), "value": _fmt(value, spec["unit"]),
                                         "target": _fmt(target, spec["unit"]), "drivers": unit_drivers}))
            if level == "county" and not np.isfinite(target) and spec["direction"] != "none":
                findings.append(Finding("info", "evaluation.no_target", "targets", ind, "",
                                        {"indicator": _name(spec)}))
        if out.drivers is not None and len(out.drivers):
            d = out.drivers.copy()
            d.insert(0, "indicator", ind)
            d.insert(1, "level", "county")
            d.insert(2, "unit_code", cx.county_code)
            drivers.append(d)
    frame = pd.DataFrame(rows, columns=TABLE_COLUMNS)
    frame = _with_trend(frame)
    drv = (pd.concat(drivers, ignore_index=True) if drivers
           else gpd.GeoDataFrame({c: pd.Series(dtype=object) for c in DRIVER_COLUMNS}, geometry=[], crs=STORAGE_EPSG))
    drv = gpd.GeoDataFrame(drv, geometry="geometry", crs=STORAGE_EPSG)
    return Evaluation(frame, drv, findings, scenario, cx.epoch, cx.county_code)


# -- pieces -------------------------------------------------------------------------------------------

def _run(ind: str, cx: Context) -> tuple[Out | None, Missing | None]:
    try:
        return REGISTRY[ind](cx), None
    except Missing as m:
        return None, m


def _values(out: Out | None) -> dict[tuple[str, str], float]:
    return {} if out is None else {(lv, str(c)): v for lv, c, v in out.rows}


def _previous_epoch(cx: Context) -> int | None:
    before = [e for e in cx.epochs if cx.epoch is not None and e < cx.epoch]
    return before[-1] if before else None


def _targets_table(cx: Context) -> dict[str, tuple[float, str]]:
    """The higher-level plan's quotas (``targets`` table): indicator → (ha, the document)."""
    t = cx.base("targets", required=False)
    if t is None or len(t) == 0:
        return {}
    out = {}
    for r in t.to_dict("records"):
        src = r.get("source")
        out[str(r["indicator"])] = (float(r["target_ha"]), f"targets:{src}" if isinstance(src, str) and src
                                    else "targets")
    return out


def _target(spec: Mapping, level: str, code: str, base: dict, targets: dict, county: dict, cfg: Config,
            cx: Context) -> tuple[float, str]:
    for option in str(spec["target"]).split("|"):
        kind, _, arg = option.partition(":")
        if kind == "targets" and level == "county" and arg in targets:
            return targets[arg]
        if kind == "quota" and level == "county":
            q = cx.plan("land_quota_targets", required=False)
            row = q[q["indicator"].astype(str) == arg] if q is not None else []
            if len(row):
                return float(row["target_ha"].iloc[0]), f"quota:{row['source'].iloc[0]}"
        if kind == "threshold":
            return float(cfg[arg]), f"threshold:{arg}"
        if kind == "base_epoch" and (level, code) in base and cx.base_epoch is not None:
            return float(base[(level, code)]), f"base_epoch:{cx.base_epoch}"
        if kind == "zone_count" and "zone_count" in county:
            return float(county["zone_count"]), "zone_count"
    return np.nan, ""


def _row(spec: Mapping, cx: Context, level: str, code: str, value: float, target: float, source: str,
         lt: str, *, previous: float = np.nan, previous_epoch=None, drivers: int = 0, status: str = "ok",
         need: str = "") -> dict:
    return {"indicator": spec["id"], "name_zh": spec["name_zh"], "name_en": spec["name_en"],
            "dimension": spec["dimension"], "category": spec["category"], "kind": spec["kind"],
            "tdt_class": spec["tdt_class"], "level": level, "unit_code": str(code),
            "unit_name": cx.unit_names().get(str(code), str(code)), "value": value, "unit": spec["unit"],
            "target": target, "target_source": source, "light": lt, "direction": spec["direction"],
            "epoch": cx.epoch, "previous": previous, "previous_epoch": previous_epoch, "trend": np.nan,
            "drivers": drivers, "method": spec["method"], "status": status, "need": need,
            "source": spec["source"], "sureness": spec["sureness"]}


def _with_trend(frame: pd.DataFrame) -> pd.DataFrame:
    frame["value"] = pd.to_numeric(frame["value"], errors="coerce")
    frame["previous"] = pd.to_numeric(frame["previous"], errors="coerce")
    frame["target"] = pd.to_numeric(frame["target"], errors="coerce")
    frame["trend"] = frame["value"] - frame["previous"]
    frame["previous_epoch"] = pd.to_numeric(frame["previous_epoch"], errors="coerce").astype("Int64")
    frame["epoch"] = pd.to_numeric(frame["epoch"], errors="coerce").astype("Int64")
    frame["drivers"] = frame["drivers"].astype(int)
    return frame


def _name(spec: Mapping) -> object:
    from pianqu.errors import Phrase
    return Phrase("evaluation.indicator_name", zh=spec["name_zh"], en=spec["name_en"])


def _need_phrase(m: Missing) -> object:
    from pianqu.errors import Phrase
    return Phrase(f"evaluation.need.{m.need}", layer=m.layer, detail=m.detail)


def format_value(value, unit: str) -> str:
    """A value as tables show it: shares in %, counts whole, multiples and areas with two
    decimals, indices with four; "—" for no value."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return "—"
    if not np.isfinite(v):
        return "—"
    if unit == "ratio":
        return f"{v:.1%}"
    if unit == "count":
        return f"{v:,.0f}"
    if unit == "index":
        return f"{v:.4f}"
    return f"{v:,.2f}"


def _fmt(value: float, unit: str) -> str:
    text = format_value(value, unit)
    return text if unit in ("ratio", "count", "index", "multiple") or text == "—" else f"{text} {unit}"
