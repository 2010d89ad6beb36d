"""`pianqu plan`: run the analyses in order into a named scenario of the workspace.

Order: road graph and travel times → centre scores → township-level zones (automatic p unless
given) → town–village hierarchy → village-level zones → one specialty per zone → road
diagnostics with the zone centres → public services and safety against the zones → control-line
conflicts, the three spaces and the land tables of every zone. Each step is a library call; this module only gathers the
inputs from the workspace, passes results along and writes the scenario layers in one atomic
write (recorded in the audit table).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import pandas as pd

from pianqu.errors import UserValueError
from pianqu.findings import Finding
from pianqu.inputs import PlanInputs, from_workspace
from pianqu.parcels import read_landuse
from pianqu.progress import task
from pianqu.standards import policy_codes
from pianqu.workspace import Workspace
from pianqu.industry import leading_specialties, zone_neighbours
from pianqu.land.pipeline import run_land
from pianqu.land.workflow import planner_layers
from pianqu.network import analyse_network
from pianqu.network.snap import seat_points
from pianqu.services import services_for_scenario
from pianqu.zoning import adjacency, delineate
from pianqu.zoning.autop import auto_p
from pianqu.zoning.centres import centre_indicators, score_centres, township_hierarchy, village_hierarchy
from pianqu.zoning.delineate import member_bounds_for
from pianqu.zoning.mergers import pre_merger_constraints
from pianqu.zoning.villages import village_zones

Frame = gpd.GeoDataFrame | pd.DataFrame


@dataclass
class PlanResult:
    """What one plan run produced; ``layers`` are what was written into the scenario."""

    scenario: str
    zoning: Any  # pianqu.zoning.ZoningResult
    autop: Any | None  # pianqu.zoning.autop.AutoP when p was chosen automatically
    centre_scores: Any  # pianqu.zoning.centres.CentreScores
    village_zoning: Any | None  # pianqu.zoning.villages.VillageZoning
    specialties: Any | None  # pianqu.industry.Specialties
    network: Any  # pianqu.network.NetworkAnalysis
    layers: dict[str, Frame] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    services: Any | None = None  # pianqu.services.ServicesAnalysis
    land: dict[str, Any] | None = None  # conflicts, spaces, tables (pianqu.land)
    inputs: PlanInputs | None = None  # what the plan worked from: given, derived or estimated


def township_units(ws: Workspace, inputs: PlanInputs | None = None) -> gpd.GeoDataFrame:
    """Townships with the attributes zoning needs.

    Population, kind, county-seat flag, facility count, built-up area (km², parcels of
    城镇村属性码 201/202 inside the township) and output (亿元 from the economy table's 万元).

    Parameters
    ----------
    ws : pianqu.workspace.Workspace
        The county workspace (its base-epoch parcels give the built-up area).
    inputs : pianqu.inputs.PlanInputs, optional
        The plan's inputs; default :func:`pianqu.inputs.from_workspace` without the road graph
        (population and seats derived where the data lacks them).

    Returns
    -------
    geopandas.GeoDataFrame
        One row per township: ``code``, ``name``, ``kind``, ``population``, ``is_county_seat``,
        and ``facilities``, ``built_up_km2``, ``gdp_yi`` where their inputs exist; polygons in
        EPSG:4490. The ``units`` of :func:`pianqu.delineate` and :func:`pianqu.auto_p`.
    """
    inputs = inputs or from_workspace(ws, build_network=False)
    t = inputs.townships.copy()
    t["code"] = t["code"].astype(str)
    seats = inputs.settlements
    seat_town = set(seats.loc[seats["level"].astype(str) == "county_seat", "township_code"].astype(str))
    t["is_county_seat"] = t["code"].isin(seat_town)
    if inputs.facilities is not None:
        fac = inputs.facilities
        t["facilities"] = t["code"].map(fac["township_code"].astype(str).value_counts()).fillna(0).astype(int)
    if ws.has("landuse"):
        lu = read_landuse(ws, ["code", "township_code", "area_m2", "czcsxm"])  # the base epoch
        built = lu[lu["czcsxm"].astype(str).str[:3].isin(policy_codes("built_up_czcsxm"))]
        area = built.groupby(built["township_code"].astype(str))["area_m2"].sum() / 1e6
        t["built_up_km2"] = t["code"].map(area).fillna(0.0)
    if inputs.economy is not None:
        eco = inputs.economy
        out = eco.groupby(eco["township_code"].astype(str))["output"].sum() / 1e4  # 万元 → 亿元
        t["gdp_yi"] = t["code"].map(out).fillna(0.0)
    return t


def zone_polygons(units: gpd.GeoDataFrame, assignment: pd.Series, zones: pd.DataFrame,
                  names: pd.Series) -> gpd.GeoDataFrame:
    """One polygon per zone (the union of its members) with the zone's figures."""
    u = units[["code", "geometry"]].copy()
    u["zone"] = u["code"].map(assignment)
    dissolved = u.dissolve("zone", as_index=False)[["zone", "geometry"]]
    z = zones.copy()
    key = "centre" if "centre" in z.columns else z.columns[0]
    z["zone"] = z[key].astype(str)
    out = dissolved.merge(z, on="zone", how="left")
    out["centre_name"] = out["zone"].map(names)
    out["name"] = out["centre_name"].astype(str) + "片区"
    return gpd.GeoDataFrame(out, geometry="geometry", crs=units.crs)


def plan(ws: Workspace, scenario: str = "plan", *, p: int | None = None, title: str = "",
         villages: bool = True, time_limit: float | None = None,
         village_method: str | None = None, village_time_limit: float | None = None,
         services_step: bool = True, land_step: bool = True, inputs: PlanInputs | None = None) -> PlanResult:
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

    Returns
    -------
    PlanResult
        ``zoning`` (:class:`pianqu.zoning.ZoningResult`), ``autop``, ``centre_scores``,
        ``village_zoning``, ``specialties``, ``network``, ``services``, ``land``, ``inputs``,
        ``layers`` (what was written) and ``findings``.

    Raises
    ------
    pianqu.errors.UserValueError
        No valid division exists (the message gives the reasons).

    Examples
    --------
    >>> result = pianqu.run_plan(ws, "plan", p=3, services_step=False)      # doctest: +SKIP
    >>> result.zoning.zones[["centre", "members", "population"]]            # doctest: +SKIP
    """

    cfg = ws.config()
    time_limit = float(cfg["zoning.time_limit_s"] if time_limit is None else time_limit)
    village_method = str(cfg["zoning.village_method"] if village_method is None else village_method)
    village_time_limit = float(cfg["zoning.village_time_limit_s"] if village_time_limit is None else village_time_limit)
    with task("道路网络与出行时间 / road graph and travel times", total=2) as advance:
        inputs = inputs or from_workspace(ws, config=cfg)  # the graph's findings come with the diagnostics
        findings: list[Finding] = []  # the inputs' own findings (what was derived) go first, at the end
        settlements, graph = inputs.settlements, inputs.graph
        units = township_units(ws, inputs)
        names = units.set_index("code")["name"]
        advance()
        seats = seat_points(settlements, units["code"], "town_seat", "township_code")
        T = inputs.travel_s(seats, seats)
        advance()

    with task("中心镇评分与片区划分 / centres and zones", total=3) as advance:
        adj = adjacency(units, travel_s=T, config=cfg)
        findings += list(adj.findings)
        ind = centre_indicators(units, T, config=cfg)
        scores = score_centres(ind, config=cfg)
        findings += list(scores.findings)
        advance()
        kinds = units["kind"].astype(str)
        candidates = units.loc[kinds.isin(policy_codes("centre_candidate_kind")), "code"].tolist() or None
        bounds, relax = member_bounds_for("township", cfg)
        together, merger_notes = pre_merger_constraints(units["code"], ws.meta.county_code,
                                                        bool(cfg["zoning.keep_pre_merger_together"]))
        findings += merger_notes
        kw = dict(adjacency=adj, candidates=candidates, time_limit=time_limit, config=cfg, member_bounds=bounds,
                  relax_member_bounds=relax, keep_together=together)
        if p is None:
            ap = auto_p(units, T, **kw)
            result = ap.best
            if result is None:
                raise UserValueError("plan.no_division", reasons=[f for r in ap.results.values()
                                                                  for f in r.explanation[:1]])
        else:
            ap = None
            result = delineate(units, T, p, **kw)
        findings += list(result.explanation)
        if result.status not in ("optimal", "feasible"):
            raise UserValueError("plan.zoning_failed", p=result.p, status=result.status,
                                 reasons=list(result.explanation))
        advance()
        hierarchy, hf = township_hierarchy(units, result.assignment, scores=scores)
        findings += hf
        advance()

    vz = None
    village_layers: dict[str, Frame] = {}
    if villages and inputs.villages is not None:
        with task("村级片区 / village-level zones", total=1) as advance:
            vil = inputs.villages
            vseats = seat_points(settlements, vil["code"], "village_seat", "village_code")
            Tv = inputs.travel_s(vseats, vseats)
            vz = village_zones(vil, Tv, township_zone=result.assignment, config=cfg,
                               method=village_method, time_limit=village_time_limit)
            findings += list(vz.result.explanation)  # a group without a division says why, and is left out
            solved = vz.result.assignment[vz.result.assignment.astype(str) != ""]
            if len(solved):
                vil_solved = vil[vil["code"].astype(str).isin(solved.index)]
                vh, vf = village_hierarchy(vil_solved, solved)
                findings += vf
                vnames = vil.set_index("code")["name"]
                village_layers = {
                    "village_zone": zone_polygons(vil_solved, solved, vz.result.zones, vnames),
                    "village_hierarchy": vh,
                }
            advance()

    specialties = None
    if inputs.economy is not None:
        with task("一片区一特色 / specialties", total=1) as advance:
            neighbours = zone_neighbours(result.assignment, adj.edges)
            specialties = leading_specialties(inputs.economy, result.assignment, neighbours=neighbours,
                                              config=cfg)
            findings += specialties.findings
            advance()

    net = None
    if graph is not None:
        with task("道路诊断 / road diagnostics", total=1) as advance:
            zones_for_roads = pd.DataFrame({"township_code": result.assignment.index.astype(str),
                                            "centre": result.assignment.astype(str).to_numpy()})
            net = analyse_network(inputs.roads, settlements, boundary=ws.read("county"), graph=graph,
                                  telecom=ws.read("telecom") if ws.has("telecom") else None,
                                  zones=zones_for_roads, config=cfg)
            findings += net.findings
            advance()

    zone_layer = zone_polygons(units, result.assignment, result.zones, names)
    if specialties is not None:
        lead = specialties.leading.set_index("zone")
        zone_layer["specialty"] = zone_layer["zone"].map(lead["sector"]).fillna("")
        zone_layer["specialty_zh"] = zone_layer["zone"].map(lead["name_zh"]).fillna("")
    member = pd.DataFrame({"township_code": result.assignment.index.astype(str),
                           "zone": result.assignment.astype(str).to_numpy()})
    pos = {c: i for i, c in enumerate(units["code"])}
    member["is_centre"] = member["township_code"] == member["zone"]
    member["time_to_centre_min"] = [T[pos[a], pos[b]] / 60.0 for a, b in zip(member["township_code"], member["zone"])]
    member["population"] = member["township_code"].map(units.set_index("code")["population"])
    layers: dict[str, Frame] = {
        "zone": zone_layer,
        "zone_member": member,
        "hierarchy": hierarchy,
        "centre_score": scores.table,
        **village_layers,
    }
    layers["plan_run"] = pd.DataFrame([{
        "p": result.p, "p_rule": "auto" if p is None else "given", "status": result.status,
        "method": result.method, "objective": result.objective, "lower_bound": result.lower_bound,
        "gap": result.gap, "time_s": result.time_s, "townships": len(units),
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
    layers = {k: _plain(v) for k, v in layers.items()}


    kept = planner_layers(ws, scenario)  # line status, conflict decisions, cleaned lines survive a re-plan
    ws.create_scenario(scenario, title=title or scenario, description="pianqu plan", command="plan",
                       replace=scenario in set(ws.scenarios()["name"]))
    ws.write({**kept, **layers}, command="plan", scenario=scenario,
             reason=f"p={result.p} ({'auto' if p is None else 'given'}), status {result.status}, gap {result.gap:.2e}")
    services = None
    if services_step and inputs.facilities is not None and graph is not None:

        with task("公共服务与安全 / services and safety", total=1) as advance:
            services = services_for_scenario(ws, scenario, graph=graph,
                                             layers=inputs.service_layers())
            findings += list(getattr(services, "findings", []))
            advance()
    land = None
    if land_step and ws.has("landuse"):
        with task("三线冲突与三区划分 / control lines and the three spaces", total=1) as advance:
            land = plan_land(ws, scenario, zone_layer)
            findings += land.get("findings", [])
            advance()
    findings = list(inputs.findings) + findings
    return PlanResult(scenario, result, ap, scores, vz, specialties, net, layers, findings, services, land,
                      inputs)


def plan_land(ws: Workspace, scenario: str, zones: gpd.GeoDataFrame) -> dict[str, Any]:
    """Every land analysis of issue 6 (:func:`pianqu.land.pipeline.run_land`): control-line
    conflicts (stable ids, decisions kept from an earlier run), the three spaces of every zone,
    the plan-document tables, change detection between epochs, sizing rules, siting compliance of
    the ``projects`` layer, consolidation potential per village, grain base candidates, quota
    allocation to townships and zones and the control-line status — each when its inputs exist
    (else an info finding names the missing layer). Results are written into ``scenario``."""

    run = run_land(ws, scenario, zones)
    out = run.layers
    ws.write({k: _plain(v) for k, v in out.items()}, command="plan", scenario=scenario,
             reason=f"{len(out['conflict'])} control-line conflict patches; three spaces of "
                    f"{len(out['space_by_zone'])} zones; land steps: "
                    + ", ".join(f"{s['step']} {s['status']}" for s in run.steps))
    return {**run.results, "findings": run.findings, "steps": run.steps, "timings": run.timings()}


def _plain(frame: Frame) -> Frame:
    """Columns a GeoPackage can store: lists and dicts become text, the index a column."""
    f = frame.reset_index(drop=not isinstance(frame.index, pd.MultiIndex) and frame.index.name is None)
    for col in f.columns:
        if col == "geometry":
            continue
        if f[col].dtype == object and f[col].map(lambda v: isinstance(v, (list, tuple, dict, set))).any():
            f[col] = f[col].map(lambda v: ",".join(map(str, v)) if isinstance(v, (list, tuple, set)) else str(v))
        elif f[col].dtype == bool or str(f[col].dtype) == "boolean":
            f[col] = f[col].astype(bool)
    if isinstance(f, gpd.GeoDataFrame) and f.crs is not None and f.crs.to_epsg() != 4490:
        f = f.to_crs(4490)
    return f


