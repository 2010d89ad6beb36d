"""Every land analysis of issue 6 on one workspace scenario, in order (what ``pianqu plan`` runs).

Control-line conflicts → the three spaces → plan-document tables → change detection between
survey epochs → sizing rules (development boundary, reserve quota) → siting compliance of the
``projects`` layer → land consolidation potential per village → grain production base candidates
→ quota allocation (规划传导) to townships and zones → the control-line workflow status.

Each step runs when its inputs exist; otherwise it is skipped with an info finding naming the
layer that would enable it (``land.plan.skipped``). The base epoch of ``landuse`` and the lines
are projected to the county's GK zone once and shared by the steps. :func:`run_land` returns the
scenario tables (names prefixed ``land_``, plus ``conflict``, ``space``, ``space_by_zone``) and
the findings; the caller writes them (:func:`pianqu.plan.plan_land`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from pianqu.config import Config
from pianqu.findings import Finding
from pianqu.errors import Phrase
from pianqu.land.common import LandInputError, RuleName, area_columns, layer_or_base
from pianqu.ingest.mapping import indicator_key
from pianqu.land.quota import BASE_COLUMN, INDICATORS
from pianqu.land.stats import UNIT_DIV
from pianqu.land.overlay import project, to_storage
from pianqu.workspace import Workspace
from pianqu.parcels import select_epoch

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
    """Run every land step on ``ws`` for ``scenario`` (see the module docstring)."""
    from pianqu.land import (check_siting, consolidation_potential, detect_conflicts, expansion_ratio, grain_bases,
                             read_lines, reserve_share, three_spaces)
    from pianqu.land.common import zone_polygons as land_zones
    from pianqu.land.epochs import detect_changes
    from pianqu.land.quota import allocate_quotas, unit_capacities
    from pianqu.land.sizing import planned_construction
    from pianqu.land.stats import plan_tables
    from pianqu.land.workflow import read_status

    cfg = cfg if cfg is not None else ws.config()
    epsg = ws.meta.compute_epsg
    run = LandRun()
    clock = [time.perf_counter()]

    def done(step: str, status: str = "done", layer: str = "", note: bool = True) -> None:
        now = time.perf_counter()
        run.steps.append({"step": step, "status": status, "layer": layer, "seconds": now - clock[0]})
        clock[0] = now
        if status == "skipped" and note:
            run.findings.append(_skipped(step, layer))

    lines = {k: project(v, epsg) for k, v in read_lines(ws, scenario).items()}  # once, for every step
    previous = ws.read("conflict", scenario) if ws.has("conflict", scenario) else None
    conflicts = detect_conflicts(lines, epsg=epsg, cfg=cfg, previous=previous)
    run.layers["conflict"] = conflicts
    run.results["conflicts"] = conflicts
    done("conflicts")

    landuse_all = ws.read("landuse")
    lu = project(select_epoch(landuse_all, meta=ws.meta), epsg)  # the planning base epoch, in GK once
    zpoly = land_zones(zones[["zone", "geometry"]], epsg=epsg)
    spaces = three_spaces(lu, lines, zpoly, epsg=epsg, cfg=cfg)
    run.layers["space"] = spaces.dissolved()
    run.layers["space_by_zone"] = spaces.table
    run.results["spaces"] = spaces
    run.findings += spaces.findings
    done("spaces")

    townships = ws.read("township")
    tables = plan_tables(lu, zones=zpoly, townships=townships, lines=lines, conflicts=conflicts, epsg=epsg)
    for name, (_title, frame) in tables.items():
        run.layers[f"land_{name}"] = frame
    run.results["tables"] = tables
    done("tables")

    change = None
    if not ws.has("approvals"):  # change detection needs two epochs and the approval records
        done("change", "skipped", "approvals")
    else:
        change = detect_changes(landuse_all, approvals=ws.read("approvals"), farmland_pbf=lines.get("farmland_pbf"),
                                epsg=epsg, cfg=cfg, meta=ws.meta)
        if change is None:
            done("change", "skipped", "landuse (2 epochs)")
        else:
            run.layers.update(change.layers())
            run.findings += change.findings
            done("change")
    run.results["change"] = change

    # quota before sizing: the reserve quota is measured against the planned construction land
    quota = None
    try:
        caps = unit_capacities(lu, townships.rename(columns={"code": "unit"})[["unit", "geometry"]],
                               lines=lines, epsg=epsg)
    except LandInputError as exc:
        caps = None
        run.findings.append(Finding("error", "land.plan.quota_input", "landuse", "", "", {"error": exc}))
    if caps is not None:
        table = layer_or_base(ws, "targets", scenario)
        targets, source = derived_targets(caps, cfg), "rule"
        if table is not None:
            try:
                targets, source = targets_from_table(pd.DataFrame(table)), "targets"
            except LandInputError as exc:  # said, and the rule's targets used instead
                run.findings.append(Finding("error", "land.plan.quota_input", "targets", "", "", {"error": exc}))
        quota = allocate_quotas(caps, targets, baseline=str(cfg["land.quota_baseline"]),
                                village_rule=str(cfg["land.quota_village_rule"]))
        zone_of = township_zone_map(townships, zpoly, epsg)
        qt = quota_tables(quota, caps, zone_of, source)
        run.layers.update(qt)
        run.findings += quota.explanation
        if source == "rule":
            run.findings.append(Finding("info", "land.plan.quota_rule", "targets", "", "",
                                        {"farmland": float(cfg[QUOTA_RULE_KEYS["farmland"]]),
                                         "construction": float(cfg[QUOTA_RULE_KEYS["construction"]])}))
        run.results["quota_capacities"] = caps
    run.results["quota"] = quota
    done("quota", "done" if quota is not None else "error")

    checks, basis = [], ""
    if "urban_boundary" in lines and len(lines["urban_boundary"]):
        checks.append(expansion_ratio(lines["urban_boundary"], lu, shrinking=bool(cfg["land.population_shrinking"]),
                                      epsg=epsg, cfg=cfg))
    else:
        run.findings.append(_skipped("sizing", "urban_boundary"))
    if "reserve" in lines:
        if quota is not None and "construction" in quota.targets:  # the planned total construction land
            planned, basis = quota.targets["construction"], "quota"
        else:
            planned, basis = planned_construction(lu, epsg=epsg), "base"
        checks.append(reserve_share(lines["reserve"], planned, epsg=epsg, cfg=cfg))
    else:
        run.findings.append(_skipped("reserve", "reserve"))
    rows = [{"rule": c.rule, "value": c.value, "limit": c.limit, "ok": c.ok, "numerator_ha": c.numerator_m2 / 1e4,
             "denominator_ha": c.denominator_m2 / 1e4, "basis": basis if c.rule == "reserve_share" else "base",
             "threshold": c.threshold, "source": c.source} for c in checks]
    run.findings += [c.finding for c in checks]
    if checks:
        run.layers["land_sizing"] = pd.DataFrame(rows)
    run.results["sizing"] = checks
    done("sizing", "done" if checks else "skipped", "" if checks else "urban_boundary, reserve", note=False)

    projects = layer_or_base(ws, "projects", scenario)
    siting = None
    if projects is not None and len(projects):
        hazard = layer_or_base(ws, "hazard", scenario)
        layers = {**lines, "space": spaces.pieces, "hazard": project(hazard, epsg) if hazard is not None else None}
        siting = check_siting(projects, layers, epsg=epsg, cfg=cfg)
        run.layers["land_siting"] = siting.verdicts
        run.layers["land_siting_detail"] = siting.details
        run.findings += siting.findings
        for r in siting.verdicts.itertuples(index=False):
            if r.verdict in ("prohibited", "restricted"):
                run.findings.append(Finding("error" if r.verdict == "prohibited" else "warning",
                                            f"land.siting.{r.verdict}", "projects", str(r.id), "",
                                            {"id": r.id, "name": r.name, "rules": r.rules,
                                             "rule": RuleName("siting_rules", r.worst_rule)}))
        done("siting")
    else:
        done("siting", "skipped", "projects")
    run.results["siting"] = siting

    villages = layer_or_base(ws, "village", None)
    if villages is not None and len(villages):
        cons = consolidation_potential(lu, villages=project(villages, epsg), epsg=epsg, cfg=cfg)
        run.layers["land_consolidation"] = consolidation_layer(cons.villages, villages, cfg)
        run.layers["land_consolidation_parcels"] = to_storage(cons.parcels)
        done("consolidation")
    else:
        cons = None
        done("consolidation", "skipped", "village")
    run.results["consolidation"] = cons

    grain, notes = grain_bases(lu, zpoly, epsg=epsg, cfg=cfg)
    run.layers["land_grain_base"] = grain
    run.findings += notes
    run.results["grain"] = grain
    done("grain")

    status = read_status(ws, scenario)
    run.results["workflow"] = status
    run.layers["land_line_status"] = status  # a snapshot for the report; the workflow keeps its own table
    done("workflow")
    run.layers["land_steps"] = pd.DataFrame(run.steps)
    return run


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
