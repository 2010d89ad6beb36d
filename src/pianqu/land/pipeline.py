"""Every land analysis of issue 6 on one workspace scenario, in order (what ``pianqu plan`` runs).

Control-line conflicts → the three spaces → plan-document tables → change detection between
survey epochs → sizing rules (development boundary, reserve quota) → siting compliance of the
``projects`` layer → land consolidation potential per village → grain production base candidates
→ quota allocation (规划传导) to townships and zones → the control-line workflow status.

Each step runs when its inputs exist; otherwise it is skipped with an info finding naming the
layer that would enable it (``land.plan.skipped``). The base epoch of ``landuse`` and the lines
are projected to the county's GK zone once and shared by the steps. The steps themselves run in
:func:`pianqu.land.instance.analyse` on an instance read once (:func:`pianqu.land.instance.from_workspace`);
this module holds what they share: :class:`LandRun` — the scenario tables (names prefixed
``land_``, plus ``conflict``, ``space``, ``space_by_zone``), the findings and the steps table,
written by :meth:`LandRun.write` — the quota targets and tables, the consolidation layer, and
:func:`run_land`, the two in one call.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from pianqu.config import Config
from pianqu.findings import Finding
from pianqu.errors import Phrase
from pianqu.land.common import LandInputError, area_columns
from pianqu.ingest.mapping import indicator_key
from pianqu.land.quota import BASE_COLUMN, INDICATORS
from pianqu.land.stats import UNIT_DIV
from pianqu.land.overlay import project
from pianqu.workspace import Workspace, storable

# the rule's targets when the workspace states none: land.quota_<indicator>_keep_share × today's
QUOTA_RULE_KEYS = {ind: f"land.quota_{ind}_keep_share" for ind in INDICATORS}


@dataclass
class LandRun:
    """What :func:`run_land` produced: ``layers`` for the scenario, the results of each step (None
    when skipped), ``findings``, and ``steps`` (step, status done/skipped, the layer a skipped
    step needs, seconds)."""

    layers: dict[str, pd.DataFrame] = field(default_factory=dict)
    results: dict[str, Any] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    steps: list[dict] = field(default_factory=list)

    def timings(self) -> dict[str, float]:
        return {s["step"]: s["seconds"] for s in self.steps}

    def to_frame(self) -> pd.DataFrame:
        """The steps table: one row per step (``step``, ``status`` done/skipped/error, the
        ``layer`` a skipped step needs, ``seconds``)."""
        return pd.DataFrame(self.steps, columns=["step", "status", "layer", "seconds"])

    def write(self, ws: Workspace, scenario: str, *, command: str = "plan") -> None:
        """Write :attr:`layers` into ``scenario`` of ``ws`` (created when missing) in one write; the
        audit reason counts the conflicts and zones and lists each step's status."""
        out = self.layers
        with ws.transaction(command=command):  # the scenario and its layers commit together
            if scenario not in set(ws.scenarios()["name"]):
                ws.create_scenario(scenario, title=scenario, description=f"pianqu {command}", command=command)
            ws.write({k: storable(v) for k, v in out.items()}, command=command, scenario=scenario,
                     reason=f"{len(out['conflict'])} control-line conflict patches; three spaces of "
                            f"{len(out['space_by_zone'])} zones; land steps: "
                            + ", ".join(f"{s['step']} {s['status']}" for s in self.steps))


# -- quota targets ------------------------------------------------------------------------------
def targets_from_table(table: pd.DataFrame) -> dict[str, float]:
    """County targets (m²) from a ``targets`` table: ``indicator`` and ``target_m2``, ``target_ha``
    or ``target_mu`` (one row per indicator; indicators as in :data:`pianqu.land.quota.INDICATORS`
    or by their Chinese names, values.toml ``quota_indicators``)."""
    if "indicator" not in table.columns:
        raise LandInputError("land.error.targets_no_indicator", has=", ".join(map(str, table.columns)),
                             indicators=", ".join(f"`{i}`" for i in INDICATORS))
    factor = {f"target_{unit}": m2 for unit, m2 in UNIT_DIV.items()}
    col = next((c for c in factor if c in table.columns), None)
    if col is None:
        raise LandInputError("land.error.targets_no_value")
    out = {}
    for k, row in table.reset_index(drop=True).iterrows():
        ind = indicator_key(row["indicator"])  # 耕地保有量 → farmland, ...
        if ind not in INDICATORS:
            raise LandInputError("land.error.targets_unknown_indicator", row=k + 1, indicator=ind,
                                 indicators=", ".join(f"`{i}`" for i in INDICATORS))
        v = pd.to_numeric(pd.Series([row[col]]), errors="coerce").iloc[0]
        if not np.isfinite(v) or v < 0:
            raise LandInputError("land.error.targets_bad_value", row=k + 1, indicator=ind, field=col, value=row[col])
        out[ind] = float(v) * factor[col]
    return out


def derived_targets(capacities: pd.DataFrame, cfg: Config) -> dict[str, float]:
    """County targets when the workspace states none: the present amount of each indicator (sum
    over the units) times its ``land.quota_<indicator>_keep_share`` (thresholds.toml)."""
    tot = capacities.sum(numeric_only=True)
    return {ind: float(tot[BASE_COLUMN[ind]]) * float(cfg[key]) for ind, key in QUOTA_RULE_KEYS.items()}


def township_zone_map(townships: gpd.GeoDataFrame, zones: gpd.GeoDataFrame, epsg: int) -> pd.Series:
    """Township code → zone: the zone holding the township's representative point."""
    tw = project(townships, epsg)
    zn = project(zones, epsg)
    pts = tw.geometry.representative_point().to_numpy()
    zi, ti = shapely.STRtree(pts).query(zn.geometry.to_numpy(), predicate="contains")
    out = pd.Series(index=tw["code"].astype(str).to_numpy(), dtype=object)
    out.iloc[ti] = zn["zone"].astype(str).to_numpy()[zi]
    missing = out.index[out.isna()]
    if len(missing):
        raise LandInputError("land.error.township_outside_zones", codes=", ".join(missing[:5]))
    return out


def quota_tables(result, capacities: pd.DataFrame, zone_of: pd.Series, source: str) -> dict[str, pd.DataFrame]:
    """Scenario tables of a quota allocation (ha): by township, by zone, and the county targets."""
    from pianqu.land.quota import check_allocation

    alloc = result.allocation
    tw = alloc / 1e4
    tw.columns = [f"{c}_ha" for c in tw.columns]
    tw.insert(0, "zone", zone_of.reindex(alloc.index.astype(str)).to_numpy())
    tw.index.name = "township_code"
    zone = (result.aggregate(zone_of) / 1e4) if len(alloc) else pd.DataFrame()
    zone.columns = [f"{c}_ha" for c in zone.columns]
    zone.index.name = "zone"
    rows = []
    for ind, target in result.targets.items():
        present = float(capacities[BASE_COLUMN[ind]].sum())
        rows.append({"indicator": ind, "target_ha": target / 1e4,
                     "present_ha": present / 1e4, "allocated_ha": float(alloc[ind].sum()) / 1e4 if ind in alloc else
                     np.nan, "shortfall_ha": result.shortfall.get(ind, 0.0) / 1e4, "source": source})
    targets = pd.DataFrame(rows)
    targets.attrs["violations"] = check_allocation(capacities, alloc, result.targets) if result.feasible else []
    return {"land_quota_township": tw.reset_index(), "land_quota_zone": zone.reset_index(),
            "land_quota_targets": targets}


# -- the run ------------------------------------------------------------------------------------
def run_land(ws: Workspace, scenario: str, zones: gpd.GeoDataFrame, *,
             cfg: Config | None = None) -> LandRun:
    """Run every land step on ``ws`` for ``scenario`` (see the module docstring): the land
    instance read once and analysed, ``analyse(from_workspace(ws, scenario, zones=zones))``
    (:mod:`pianqu.land.instance`). Kept for compatibility."""
    from pianqu.land.instance import analyse, from_workspace  # the instance module builds on this one

    return analyse(from_workspace(ws, scenario, zones=zones, config=cfg))


def _skipped(step: str, layer: str) -> Finding:
    """Info: ``step`` did not run; importing ``layer`` would enable it."""
    return Finding("info", "land.plan.skipped", layer.split(",")[0], "", "",
                   {"step": Phrase(f"land.plan.step.{step}"), "layer": layer})


def consolidation_layer(table: pd.DataFrame, villages: gpd.GeoDataFrame, cfg: Config) -> gpd.GeoDataFrame:
    """The per-village potential on the village polygons, with the total potential
    (fragmented + steep farmland + scattered + idle homesteads, m²/ha/亩), its rank and the hot
    spots: the top ``land.consolidation_hotspot_share`` of villages by total potential (at least one
    when any village has potential)."""
    v = villages[["code", "name", "geometry"]].copy()
    v["code"] = v["code"].astype(str)
    t_ = table.copy()
    t_["village_code"] = t_["village_code"].astype(str)
    parts = ["fragmented_m2", "steep_farmland_m2", "scattered_homestead_m2", "idle_homestead_m2"]
    t_["potential_m2"] = t_[parts].fillna(0.0).sum(axis=1)
    out = v.merge(t_, left_on="code", right_on="village_code", how="left").drop(columns="village_code")
    num = out.columns.difference(["code", "name", "geometry"])
    out[num] = out[num].apply(pd.to_numeric, errors="coerce")
    out["potential_m2"] = out["potential_m2"].fillna(0.0)
    a = area_columns(out["potential_m2"])
    out["potential_ha"], out["potential_mu"] = a["area_ha"], a["area_mu"]
    out["rank"] = out["potential_m2"].rank(ascending=False, method="first").astype(int)
    n_pos = int((out["potential_m2"] > 0).sum())
    n_hot = min(n_pos, max(1, int(np.ceil(float(cfg["land.consolidation_hotspot_share"]) * len(out))))) if n_pos else 0
    out["hotspot"] = out["rank"] <= n_hot
    return gpd.GeoDataFrame(out.sort_values("rank"), geometry="geometry", crs=villages.crs)
