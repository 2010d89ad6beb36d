"""`pianqu plan`: run the analyses in order into a named scenario of the workspace.

Order: road graph and travel times → the township zoning instance (:mod:`pianqu.zoning.instance`,
the policy rules included) → centre scores → township-level zones (automatic p unless given) →
town–village hierarchy → village-level zones → one specialty per zone → road diagnostics with
the zone centres → public services and safety against the zones → control-line conflicts, the
three spaces and the land tables of every zone. Each step is a library call; this module only
passes results along and writes the scenario layers in one atomic write (recorded in the audit
table), or nothing with ``write=False``.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import geopandas as gpd
import pandas as pd

from pianqu.errors import UserValueError
from pianqu.findings import Finding
from pianqu.industry import Specialties, leading_specialties, zone_neighbours
from pianqu.inputs import PlanInputs, from_workspace
from pianqu.land import instance as land_instance
from pianqu.land.workflow import keep_planner_changes, planner_layers, planner_tables
from pianqu.network import NetworkAnalysis, analyse_network
from pianqu.network.snap import seat_points
from pianqu.progress import task
from pianqu.services import instance as services_instance
from pianqu.services.analysis import ServicesAnalysis
from pianqu.services.common import Zones
from pianqu.workspace import Workspace, scenario_layer, storable
from pianqu.zoning import instance as zoning_instance
from pianqu.zoning.autop import AutoP
from pianqu.zoning.centres import CentreScores, township_hierarchy, village_hierarchy
from pianqu.zoning.choice import centre_reasons, compare_rules, plan_members
from pianqu.zoning.instance import township_units  # noqa: F401 (its former home; pianqu.township_units)
from pianqu.zoning.polygons import zone_layer
from pianqu.zoning.result import ZoningResult
from pianqu.zoning import villages as zoning_villages  # called through the module (tests spy on it)
from pianqu.zoning.village_centres import centre_lists
from pianqu.zoning.villages import VillageZoning

Frame = gpd.GeoDataFrame | pd.DataFrame


@dataclass
class PlanResult:
    """What one plan run produced; ``layers`` are what was written into the scenario (or, with
    ``write=False``, what would have been)."""

    scenario: str
    zoning: ZoningResult
    autop: AutoP | None  # when p was chosen automatically
    centre_scores: CentreScores
    village_zoning: VillageZoning | None
    specialties: Specialties | None
    network: NetworkAnalysis | None
    layers: dict[str, Frame] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    services: ServicesAnalysis | None = None
    land: dict[str, object] | None = None  # conflicts, spaces, tables … (pianqu.land.pipeline.run_land)
    inputs: PlanInputs | None = None  # what the plan worked from: given, derived or estimated
    instance: zoning_instance.ZoningInstance | None = None  # the township zoning instance solved


def plan(ws: Workspace, scenario: str = "plan", *, p: int | None = None, title: str = "",
         villages: bool = True, time_limit: float | None = None,
         village_method: str | None = None, village_time_limit: float | None = None,
         services_step: bool = True, land_step: bool = True, inputs: PlanInputs | None = None,
         write: bool = True) -> PlanResult:
    """Run the zone plan on ``ws`` into ``scenario`` (what ``pianqu plan`` runs; ``pianqu.run_plan``).

    Township-level zones are solved exactly (the gap is reported); village-level zones per
    township-level zone, each with its gap against a lower bound. Member bounds apply as
    ``zoning.member_bounds_mode`` says; townships that were one township before the 2019 merger
    are kept together when ``zoning.keep_pre_merger_together`` is true (and reported either way).
    An analysis whose input is missing is skipped with a finding. The scenario is replaced if it
    exists, keeping the planner's control-line work (line status, conflict decisions, cleaned lines).

    Parameters
    ----------
    ws : pianqu.workspace.Workspace
        The county workspace; the scenario is written into it.
    scenario : str, default "plan"
        Name of the scenario (letters, digits, ``_``, ``-``).
    p : int, optional
        Number of township-level zones; default chosen by the policy rule (:func:`pianqu.auto_p`).
    title : str, default ""
        Title of the scenario (default its name).
    villages : bool, default True
        Also divide the villages into village-level zones.
    time_limit : float, optional
        Seconds for the township-level zoning (default ``zoning.time_limit_s``).
    village_method : str, optional
        ``exact`` or ``heuristic`` for village-level zones (default ``zoning.village_method``).
    village_time_limit : float, optional
        Seconds per township-level zone for its village zones (default ``zoning.village_time_limit_s``).
    services_step : bool, default True
        Run the public-service and safety analyses against the zones.
    land_step : bool, default True
        Run the control-line conflicts, the three spaces and the land tables.
    inputs : pianqu.inputs.PlanInputs, optional
        The roads, seats, population, facilities and economy to use; default
        :func:`pianqu.inputs.from_workspace` (the county's own, else derived and marked so).
    write : bool, default True
        Write the scenario; with False the workspace is left untouched and the results are
        only returned (``layers`` holds what would have been written), e.g. in a notebook.

    Returns
    -------
    PlanResult
        ``zoning`` (:class:`pianqu.zoning.ZoningResult`), ``autop``, ``centre_scores``,
        ``village_zoning``, ``specialties``, ``network``, ``services``, ``land``, ``inputs``,
        ``layers`` (what was written), ``instance`` and ``findings``.

    Raises
    ------
    pianqu.errors.UserValueError
        No valid division exists (the message gives the reasons).

    Examples
    --------
    >>> result = pianqu.run_plan(ws, "plan", p=3, services_step=False)      # doctest: +SKIP
    >>> result.zoning.zones[["centre", "members", "population"]]            # doctest: +SKIP
    """

    scenario_layer("x", scenario)  # a bad scenario name is refused before any work, not at the write
    if write:
        ws.check_writable()  # a read-only workspace is refused now, not after the computation
    cfg = ws.config()
    time_limit = float(cfg["zoning.time_limit_s"] if time_limit is None else time_limit)
    village_method = str(cfg["zoning.village_method"] if village_method is None else village_method)
    village_time_limit = float(cfg["zoning.village_time_limit_s"] if village_time_limit is None else village_time_limit)
    with task("道路网络与出行时间 / road graph and travel times", total=1) as advance:
        inputs = inputs or from_workspace(ws, config=cfg)  # the graph's findings come with the diagnostics
        inst = zoning_instance.from_workspace(ws, config=cfg, inputs=inputs)
        units, T = inst.units, inst.travel_s
        findings: list[Finding] = list(inst.findings)  # the inputs' own findings go first, at the end
        advance()

    with task("中心镇评分与片区划分 / centres and zones", total=3) as advance:
        scores = inst.centre_scores()
        findings += list(scores.findings)
        advance()
        if p is None:  # the policy rule chooses p; the table of every p tried is kept
            ap = zoning_instance.choose_p(inst, time_limit=time_limit)
            result = zoning_instance.best_of(ap)
        else:
            ap, result = None, zoning_instance.solve(inst, p, time_limit=time_limit)
        findings += list(result.explanation)
        if result.status not in ("optimal", "feasible"):
            raise UserValueError("plan.zoning_failed", p=result.p, status=result.status,
                                 reasons=list(result.explanation))
        advance()
        hierarchy, hf = township_hierarchy(units, result.assignment, scores=scores)
        findings += hf
        # the same number of zones with centres by access alone and from the county's list, beside it
        rule = str(result.stats.get("centre_rule", inst.centre_rule))
        tradeoff, by_rule = compare_rules(inst, result.p, results={rule: result}, time_limit=time_limit)
        centre_layers = {"centre_choice": tradeoff, "centre_reason": centre_reasons(inst, result),
                         "centre_plan_member": plan_members(inst, by_rule)}
        advance()

    vz, village_layers = None, {}
    if villages and inputs.villages is not None:
        with task("村级片区 / village-level zones", total=1) as advance:
            vz, village_layers, vf = _village_zoning(inputs, result, cfg, village_method, village_time_limit,
                                                     centres=_village_centre_lists(inputs))
            findings += vf
            advance()

    specialties = None
    if inputs.economy is not None:
        with task("一片区一特色 / specialties", total=1) as advance:
            specialties = leading_specialties(inputs.economy, result.assignment, config=cfg,
                                              neighbours=zone_neighbours(result.assignment, inst.adjacency.edges))
            findings += specialties.findings
            advance()

    net = None
    if inputs.graph is not None:
        with task("道路诊断 / road diagnostics", total=1) as advance:
            zones_for_roads = pd.DataFrame({"township_code": result.assignment.index.astype(str),
                                            "centre": result.assignment.astype(str).to_numpy()})
            net = analyse_network(inputs.roads, inputs.settlements, boundary=ws.read("county"), graph=inputs.graph,
                                  telecom=ws.read("telecom") if ws.has("telecom") else None,
                                  zones=zones_for_roads, config=cfg)
            findings += net.findings
            advance()

    layers = _plan_layers(result, ap, p, scores, hierarchy, village_layers, vz, village_method, specialties, net,
                          inputs)
    layers.update({k: storable(v) for k, v in centre_layers.items()})
    reason = (f"p={result.p} ({'auto' if p is None else 'given'}), status {result.status}, "
              f"gap {result.gap:.2e}")
    # one unit of work: the scenario, the services and the land layers commit together or not at
    # all; the planner's work read here (the snapshot) and changed meanwhile is kept at the commit
    with (ws.transaction(command="plan", reason=reason) if write else contextlib.nullcontext()) as tx:
        if write:
            tx.expect_revisions(ws.backend.revisions(planner_tables(scenario)
                                                     + [scenario_layer("plan_run", scenario)]))
            tx.on_stale(lambda tx, changed: keep_planner_changes(tx, scenario, changed))
            kept = planner_layers(ws, scenario)  # line status, conflict decisions, cleaned lines survive a re-plan
            ws.create_scenario(scenario, title=title or scenario, description="pianqu plan", command="plan",
                               replace=scenario in set(ws.scenarios()["name"]))
            ws.write({**kept, **layers}, command="plan", scenario=scenario, reason=reason)
        services = None
        if services_step and inputs.facilities is not None and inputs.graph is not None:
            with task("公共服务与安全 / services and safety", total=1) as advance:
                zones = Zones.from_frame(layers["zone_member"], code="township_code", zone="zone", is_centre="is_centre")
                services = services_instance.analyse(services_instance.from_workspace(ws, scenario, config=cfg,
                                                                                      inputs=inputs, zones=zones))
                if write:
                    services.write(ws, scenario)
                findings += list(getattr(services, "findings", []))
                advance()
        land = None
        if land_step and ws.has("landuse"):
            with task("三线冲突与三区划分 / control lines and the three spaces", total=1) as advance:
                land = plan_land(ws, scenario, layers["zone"], write=write)
                findings += land.get("findings", [])
                advance()
    findings = list(inputs.findings) + findings
    return PlanResult(scenario, result, ap, scores, vz, specialties, net, layers, findings, services, land,
                      inputs, inst)


def _village_centre_lists(inputs: PlanInputs) -> dict[str, list[str]]:
    """The county's designated 中心村 / 候选中心村 / 不作中心 villages: the 12-digit rows of the
    checked ``centres`` table of the plan inputs (empty lists without one)."""
    return centre_lists(inputs.centres)


def _village_zoning(inputs: PlanInputs, result: ZoningResult, cfg, method: str, time_limit: float,
                    centres: dict[str, list[str]] | None = None
                    ) -> tuple[VillageZoning, dict[str, Frame], list[Finding]]:
    """Village-level zones inside each township-level zone, their 中心村 by strength (scored on
    population, facilities, collective economy, built-up land and access; ``centres``: the
    county's designated / candidate / excluded villages), their hierarchy and layers."""
    vil = inputs.villages
    vseats = seat_points(inputs.settlements, vil["code"], "village_seat", "village_code")
    Tv = inputs.travel_s(vseats, vseats)
    vz = zoning_villages.village_zones(vil, Tv, township_zone=result.assignment, config=cfg, method=method,
                                       time_limit=time_limit, facilities=inputs.facilities, economy=inputs.economy,
                                       landuse=inputs.parcels(), **(centres or {}))
    findings = list(vz.result.explanation)  # a group without a division says why, and is left out
    solved = vz.result.assignment[vz.result.assignment.astype(str) != ""]
    if not len(solved):
        return vz, {}, findings
    vil_solved = vil[vil["code"].astype(str).isin(solved.index)]
    vh, vf = village_hierarchy(vil_solved, solved)
    # why each 中心村 is one, and every village's centre score (the report shows them)
    why = vz.reasons.set_index("code") if vz.reasons is not None else pd.DataFrame()
    scores = vz.centres.table.set_index("code") if vz.centres is not None else pd.DataFrame()
    if len(scores):
        vh["centre_score"] = vh["code"].map(scores["score"])
        vh["group_rank"] = vh["code"].map(scores["group_rank"])
        vh["centre_status"] = vh["code"].map(scores["status"])
    vh["centre_reason"] = vh["code"].map(why["reason"]).fillna("") if len(why) else ""
    zones = vz.result.zones.copy()
    if len(why) and len(zones):
        zones["centre_reason"] = zones["centre"].astype(str).map(why["reason"]).fillna("")
        zones["centre_score"] = zones["centre"].astype(str).map(why["score"])
    layers = {"village_zone": zone_layer(vil_solved, solved, zones), "village_hierarchy": vh}
    if vz.centres is not None:
        layers["village_centre_score"] = vz.centres.table
    return vz, layers, findings + vf


def _plan_layers(result: ZoningResult, ap: AutoP | None, p: int | None, scores: CentreScores,
                 hierarchy: pd.DataFrame, village_layers: dict[str, Frame], vz: VillageZoning | None,
                 village_method: str, specialties: Specialties | None, net: NetworkAnalysis | None,
                 inputs: PlanInputs) -> dict[str, Frame]:
    """Every layer of the scenario, storable in a GeoPackage."""
    zoning_layers = result.layers()
    zone = zoning_layers["zone"]
    if specialties is not None:
        lead = specialties.leading.set_index("zone")
        zone["specialty"] = zone["zone"].map(lead["sector"]).fillna("")
        zone["specialty_zh"] = zone["zone"].map(lead["name_zh"]).fillna("")
    layers: dict[str, Frame] = {
        "zone": zone,
        "zone_member": zoning_layers["zone_member"],
        "hierarchy": hierarchy,
        "centre_score": scores.table,
        **village_layers,
    }
    layers["plan_run"] = pd.DataFrame([{
        "p": result.p, "p_rule": "auto" if p is None else "given", "status": result.status,
        "centre_rule": str(result.stats.get("centre_rule", "")),
        "method": result.method, "objective": result.objective, "lower_bound": result.lower_bound,
        "gap": result.gap, "time_s": result.time_s, "townships": len(result.assignment),
        "village_zones": len(village_layers.get("village_zone", ())),
        "village_method": village_method if vz is not None else "",
        "village_max_gap": float(vz.groups["gap"].max()) if vz is not None and len(vz.groups) else float("nan"),
    }])
    if ap is not None:
        layers["zone_count_options"] = ap.table
    if specialties is not None:
        layers["specialty"] = specialties.leading
        layers["zone_similarity"] = specialties.similarity
    for name, frame in (net.layers() if net is not None else {}).items():
        if frame is not None:
            layers[name] = frame
    layers.update(inputs.layers())
    return {k: storable(v) for k, v in layers.items()}


def plan_land(ws: Workspace, scenario: str, zones: gpd.GeoDataFrame, *, write: bool = True) -> dict[str, object]:
    """Every land analysis of issue 6 (:mod:`pianqu.land.instance`): control-line
    conflicts (stable ids, decisions kept from an earlier run), the three spaces of every zone,
    the plan-document tables, change detection between epochs, sizing rules, siting compliance of
    the ``projects`` layer, consolidation potential per village, grain base candidates, quota
    allocation to townships and zones and the control-line status — each when its inputs exist
    (else an info finding names the missing layer). Results are written into ``scenario``
    (unless ``write`` is False)."""

    run = land_instance.analyse(land_instance.from_workspace(ws, scenario, zones=zones))
    if write:
        run.write(ws, scenario)
    return {**run.results, "findings": run.findings, "steps": run.steps, "timings": run.timings(),
            "layers": run.layers}
