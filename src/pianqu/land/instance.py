"""The land instance: everything the land analyses need, read from the workspace once.

:func:`from_workspace` reads a scenario's inputs — the base epoch's parcels (in the county's GK
zone) and every epoch for change detection, the control lines (the scenario's cleaned lines,
else the base ones, with ``reserve``), townships, villages, the zone polygons, approvals,
projects, hazard, the county targets, the previous conflict table (its decisions are kept) and
the control-line status — into a :class:`LandInstance`. :func:`analyse` runs every land step on
it without touching the workspace (conflicts → three spaces → plan tables → change detection →
quota → sizing → siting → consolidation → grain bases → line status; see
:mod:`pianqu.land.pipeline`) and returns a :class:`~pianqu.land.pipeline.LandRun`, which knows
how to show itself (``to_frame``) and write itself (``write``).

>>> inst = pianqu.land.instance.from_workspace(ws, "plan", zones=zones)     # doctest: +SKIP
>>> run = pianqu.land.instance.analyse(inst)                                # doctest: +SKIP
>>> run.to_frame(); run.write(ws, "plan")                                   # doctest: +SKIP
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import geopandas as gpd
import pandas as pd

from pianqu.config import Config
from pianqu.findings import Finding
from pianqu.land.common import LandInputError, RuleName, layer_or_base, zone_polygons
from pianqu.land.conflicts import detect_conflicts, read_lines
from pianqu.land.consolidation import consolidation_potential
from pianqu.land.epochs import detect_changes
from pianqu.land.grain import grain_bases
from pianqu.land.overlay import project, to_storage
from pianqu.land.pipeline import (QUOTA_RULE_KEYS, LandRun, _skipped, consolidation_layer, derived_targets,
                                  quota_tables, targets_from_table, township_zone_map)
from pianqu.land.quota import allocate_quotas, unit_capacities
from pianqu.land.siting import check_siting
from pianqu.land.sizing import expansion_ratio, planned_construction, reserve_share
from pianqu.land.spaces import three_spaces
from pianqu.land.stats import plan_tables
from pianqu.land.workflow import initial_status, read_status
from pianqu.parcels import select_epoch
from pianqu.workspace import Meta, Workspace

__all__ = ["LandInstance", "LandRun", "from_workspace", "analyse"]


@dataclass
class LandInstance:
    """A scenario's land inputs, read once (what :func:`analyse` needs and nothing else).

    ``landuse`` the base epoch's parcels in ``compute_epsg``; ``landuse_all`` every epoch as
    stored (change detection); ``lines`` the control lines and ``reserve`` in ``compute_epsg``
    (the scenario's cleaned lines, else the base ones; those present); ``townships`` and
    ``villages`` as stored (villages None when absent); ``zones`` the zone polygons (``zone``,
    geometry) in ``compute_epsg``; ``approvals``, ``projects``, ``hazard``, ``targets`` (the
    scenario's, else the workspace's; None when absent); ``previous_conflicts`` the scenario's
    conflict table (its decisions are kept) or None; ``line_status`` the control-line status
    table; ``config`` the thresholds in force; ``meta`` the workspace metadata (epochs, base
    epoch); ``scenario`` where the inputs came from.
    """

    landuse: gpd.GeoDataFrame
    landuse_all: gpd.GeoDataFrame
    lines: dict[str, gpd.GeoDataFrame]
    townships: gpd.GeoDataFrame
    zones: gpd.GeoDataFrame
    compute_epsg: int
    config: Config
    meta: Meta
    villages: gpd.GeoDataFrame | None = None
    approvals: gpd.GeoDataFrame | None = None
    projects: gpd.GeoDataFrame | None = None
    hazard: gpd.GeoDataFrame | None = None
    targets: pd.DataFrame | None = None
    previous_conflicts: pd.DataFrame | None = None
    line_status: pd.DataFrame | None = field(default=None, repr=False)
    scenario: str | None = None


def from_workspace(ws: Workspace, scenario: str | None = None, *, zones: gpd.GeoDataFrame,
                   config: Config | None = None) -> LandInstance:
    """The land instance of ``scenario`` of ``ws``: every layer the land steps read, read once.

    Parameters
    ----------
    ws : pianqu.workspace.Workspace
        The county workspace (must hold ``landuse`` and ``township``).
    scenario : str, optional
        The plan scenario whose layers (cleaned lines, projects, targets, conflict decisions,
        line status) take precedence over the base workspace's; None for the base layers.
    zones : geopandas.GeoDataFrame
        The zones: polygons with a ``zone`` field (several rows per zone are dissolved).
    config : pianqu.config.Config, optional
        Thresholds in force; default the workspace's own.

    Returns
    -------
    LandInstance
        The inputs, projected to the county's GK zone where the steps compute.

    Raises
    ------
    pianqu.land.common.LandInputError
        The zones are not polygons or lack the ``zone`` field.
    """
    cfg = config if config is not None else ws.config()
    epsg = ws.meta.compute_epsg
    landuse_all = ws.read("landuse")
    return LandInstance(
        landuse=project(select_epoch(landuse_all, meta=ws.meta), epsg),  # the planning base epoch, in GK once
        landuse_all=landuse_all,
        lines={k: project(v, epsg) for k, v in read_lines(ws, scenario).items()},
        townships=ws.read("township"),
        zones=zone_polygons(zones[["zone", "geometry"]], epsg=epsg),
        compute_epsg=epsg,
        config=cfg,
        meta=ws.meta,
        villages=layer_or_base(ws, "village", None),
        approvals=ws.read("approvals") if ws.has("approvals") else None,
        projects=layer_or_base(ws, "projects", scenario),
        hazard=layer_or_base(ws, "hazard", scenario),
        targets=layer_or_base(ws, "targets", scenario),
        previous_conflicts=ws.read("conflict", scenario) if ws.has("conflict", scenario) else None,
        line_status=read_status(ws, scenario),
        scenario=scenario,
    )


def analyse(instance: LandInstance) -> LandRun:
    """Every land step on ``instance``, in order, without touching a workspace.

    Each step runs when its inputs exist; otherwise it is skipped with an info finding
    (``land.plan.skipped``) naming the layer that would enable it.

    Parameters
    ----------
    instance : LandInstance
        The inputs (:func:`from_workspace`).

    Returns
    -------
    pianqu.land.pipeline.LandRun
        ``layers`` (the scenario tables), ``results`` (each step's result, None when skipped),
        ``findings`` and ``steps`` (step, status, the layer a skipped step needs, seconds).
    """
    inst, cfg, epsg = instance, instance.config, instance.compute_epsg
    lines, lu, zpoly, townships = inst.lines, inst.landuse, inst.zones, inst.townships
    run = LandRun()
    clock = [time.perf_counter()]

    def done(step: str, status: str = "done", layer: str = "", note: bool = True) -> None:
        now = time.perf_counter()
        run.steps.append({"step": step, "status": status, "layer": layer, "seconds": now - clock[0]})
        clock[0] = now
        if status == "skipped" and note:
            run.findings.append(_skipped(step, layer))

    conflicts = detect_conflicts(lines, epsg=epsg, cfg=cfg, previous=inst.previous_conflicts)
    run.layers["conflict"] = conflicts
    run.results["conflicts"] = conflicts
    done("conflicts")

    spaces = three_spaces(lu, lines, zpoly, epsg=epsg, cfg=cfg)
    run.layers["space"] = spaces.dissolved()
    run.layers["space_by_zone"] = spaces.table
    run.results["spaces"] = spaces
    run.findings += spaces.findings
    done("spaces")

    tables = plan_tables(lu, zones=zpoly, townships=townships, lines=lines, conflicts=conflicts, epsg=epsg)
    for name, (_title, frame) in tables.items():
        run.layers[f"land_{name}"] = frame
    run.results["tables"] = tables
    done("tables")

    change = None
    if inst.approvals is None:  # change detection needs two epochs and the approval records
        done("change", "skipped", "approvals")
    else:
        change = detect_changes(inst.landuse_all, approvals=inst.approvals, farmland_pbf=lines.get("farmland_pbf"),
                                epsg=epsg, cfg=cfg, meta=inst.meta)
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
        targets, source = derived_targets(caps, cfg), "rule"
        if inst.targets is not None:
            try:
                targets, source = targets_from_table(pd.DataFrame(inst.targets)), "targets"
            except LandInputError as exc:  # said, and the rule's targets used instead
                run.findings.append(Finding("error", "land.plan.quota_input", "targets", "", "", {"error": exc}))
        quota = allocate_quotas(caps, targets, baseline=str(cfg["land.quota_baseline"]),
                                village_rule=str(cfg["land.quota_village_rule"]))
        zone_of = township_zone_map(townships, zpoly, epsg)
        run.layers.update(quota_tables(quota, caps, zone_of, source))
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

    projects, siting = inst.projects, None
    if projects is not None and len(projects):
        hazard = inst.hazard
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

    villages = inst.villages
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

    status = inst.line_status.copy() if inst.line_status is not None else initial_status()
    run.results["workflow"] = status
    run.layers["land_line_status"] = status  # a snapshot for the report; the workflow keeps its own table
    done("workflow")
    run.layers["land_steps"] = run.to_frame()
    return run

