"""All service analyses of a county in one call, and their outputs into a plan scenario.

:func:`analyse_services` runs presence (three levels and the central-town list), coverage of
every service against its standard, the central town's catchment, 2SFCA / Gaussian E2SFCA
ratios, shelters, fire jurisdictions and brigade classes, the school-district rule and a
district proposal, and proposed sites for the services that leave people unserved.
:func:`facility_plan` and :func:`facility_gaps` turn the result into the scenario layers
``facility_plan`` (proposed facilities, points) and ``facility_gap`` (what is missing or not
served, on the unit's polygon); :func:`write_services` stores them with the tables.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Mapping

import geopandas as gpd
import numpy as np
import pandas as pd

from pianqu.config import Config
from pianqu.findings import Finding
from pianqu.geo import STORAGE_EPSG, ellipsoidal_area, zone_polygons
from pianqu.progress import task
from pianqu.errors import layer_label
from pianqu.services.common import (ServicesDataError, ServicesInputError, Zones, config_of, facility_name, kind_table, prepare_facilities,
                                    village_demand)
from pianqu.services.coverage import (CoverageResult, as_costs, coverage, coverage_standards, travel_costs,
                                      village_terrain, zone_catchment)
from pianqu.services.fca import service_fca
from pianqu.services.presence import PresenceResult, presence_check, presence_rules
from pianqu.services.safety import brigade_classes, fire_jurisdictions, shelter_check
from pianqu.services.schools import (SCHOOL_KINDS, DistrictCheck, DistrictPlan, check_districts, propose_districts,
                                     pupils)
from pianqu.services.siting import candidate_sites, propose_for_service
from pianqu.standards import county_centre
from pianqu.network import build_graph

FCA_SERVICES = ("health_centre", "primary_school", "elderly_home", "kindergarten")
PLAN_COLUMNS = ["id", "kind", "name", "level", "zone", "township_code", "village_code", "reason",
                "service", "gain_population", "rank", "method", "site", "status"]
GAP_COLUMNS = ["id", "gap", "level", "unit", "unit_name", "zone", "township_code", "kind", "service",
               "required", "present", "population", "time_min", "distance_m", "limit_value", "limit_unit",
               "severity", "rule", "source"]


@dataclass
class ServicesAnalysis:
    """Everything :func:`analyse_services` computed (tables are plain DataFrames)."""

    zones: Zones
    demand: gpd.GeoDataFrame
    facilities: gpd.GeoDataFrame
    presence: PresenceResult
    coverage: CoverageResult
    catchment: pd.DataFrame
    fca: pd.DataFrame
    fca_facilities: pd.DataFrame
    shelters: pd.DataFrame
    shelter_sites: pd.DataFrame
    fire: pd.DataFrame
    brigades: pd.DataFrame
    district_baseline: DistrictCheck | None
    district_plan: DistrictPlan | None
    proposals: gpd.GeoDataFrame
    findings: list[Finding] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    costs: dict[str, np.ndarray] = field(default_factory=dict)  # village × facility per mode
    source: Mapping[str, gpd.GeoDataFrame] | None = field(default=None, repr=False)  # the layers analysed

    def to_frame(self) -> pd.DataFrame:
        """The coverage summary: one row per service (population and villages served / not
        served against its standard)."""
        return self.coverage.summary()

    def _layers_of(self, layers: Mapping[str, gpd.GeoDataFrame] | None) -> Mapping[str, gpd.GeoDataFrame]:
        layers = self.source if layers is None else layers
        if layers is None:
            raise ValueError("the analysis does not know its layers: pass layers, or analyse with "
                             "pianqu.services.instance.analyse (which keeps them)")
        return layers

    def to_gdf(self, layers: Mapping[str, gpd.GeoDataFrame] | None = None) -> gpd.GeoDataFrame:
        """The proposed facilities (points, the scenario's ``facility_plan``, :func:`facility_plan`)."""
        return facility_plan(self, self._layers_of(layers).get("settlement"))

    def layers(self, layers: Mapping[str, gpd.GeoDataFrame] | None = None) -> dict[str, pd.DataFrame]:
        """What a scenario records of this analysis: ``facility_plan``, ``facility_gap`` and the
        tables of :func:`service_tables`; ``layers`` (township, village, settlement) default the
        ones analysed."""
        layers = self._layers_of(layers)
        out: dict[str, pd.DataFrame] = {"facility_plan": facility_plan(self, layers.get("settlement")),
                                        "facility_gap": facility_gaps(self, layers["township"], layers["village"])}
        out.update(service_tables(self))
        return out

    def write(self, ws, scenario: str, *, layers: Mapping[str, gpd.GeoDataFrame] | None = None,
              reason: str = "") -> dict[str, int]:
        """Write :meth:`layers` into ``scenario`` of ``ws`` (created when absent) in one audited
        write; returns the row count per layer."""
        out = self.layers(layers)
        for name in service_tables(self):
            t = out[name]
            out[name] = t.astype({c: str for c in t.columns if t[c].dtype == object})
        with ws.transaction(command="services"):  # the scenario and its layers commit together
            if scenario not in set(ws.scenarios()["name"]):
                ws.create_scenario(scenario, command="services")
            ws.write(out, command="services", reason=reason or "public services and safety (issue 5)",
                     scenario=scenario)
        return {k: len(v) for k, v in out.items()}


def _county_terrain(county_code: str | None) -> str | None:
    """The county's terrain class from the shipped county table (recalled/inferred, see its source)."""
    if not county_code:
        return None
    row = county_centre(str(county_code))  # None for a county the table does not know: default standards
    return None if row is None else str(row["terrain"])


def analyse_services(layers: Mapping[str, gpd.GeoDataFrame | pd.DataFrame], *, zones: Zones | None = None,
                     graph=None, costs: Mapping[str, np.ndarray] | None = None,
                     site_costs: Mapping[str, np.ndarray] | None = None, county_code: str | None = None,
                     terrain: pd.Series | str | None = None, planned_population: Mapping[str, float] | None = None,
                     fca_services: Iterable[str] = FCA_SERVICES, propose: bool | Iterable[str] = True,
                     config: Config | None = None, time_limit: float = 20.0) -> ServicesAnalysis:
    """Run every service analysis on a county's layers.

    layers: ``township``, ``village``, ``facility`` (required), ``settlement``, ``road``,
        ``landuse`` (optional: seats, travel times, terrain);
    zones: township-level zones (default: every township its own zone, with a finding);
    graph / costs: a road graph, or cost matrices ``{mode: village × facility}`` (drive and
        walk seconds, straight metres) in the order of ``layers['facility']``; site_costs the
        same for village × candidate settlements (needed to propose sites without a graph);
    terrain: per village code (default: from parcel slopes and the county's class);
    planned_population: per zone for the shelter check (default: today's population);
    propose: True (every service leaving people unserved), False, or the services to site.
    """
    import time

    cfg = config_of(config)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal t0
        timings[name] = time.perf_counter() - t0
        t0 = time.perf_counter()

    for name in ("township", "village", "facility"):
        if layers.get(name) is None:
            raise ServicesDataError("services.error.need_layer", layer=name, layer_zh=layer_label(name))
    townships, villages = layers["township"], layers["village"]
    settlements = layers.get("settlement")
    findings: list[Finding] = []
    if zones is None:
        zones = Zones.per_township(townships)
        findings.append(Finding("info", "services.zones_default", "township", "", ""))
    findings += zones.check(townships)
    fac, f_find = prepare_facilities(layers["facility"], townships=townships, villages=villages, zones=zones)
    findings += f_find
    demand = village_demand(villages, settlements, zones=zones)
    if terrain is None:
        terr = village_terrain(villages, layers.get("landuse"), county_terrain=_county_terrain(county_code), config=cfg)
    elif isinstance(terrain, str):
        terr = pd.Series(terrain, index=demand["code"])
    else:
        terr = pd.Series(terrain)
    demand["terrain"] = terr.reindex(demand["code"]).fillna("*").to_numpy()
    area = pd.to_numeric(villages["area_m2"], errors="coerce") if "area_m2" in villages.columns else \
        pd.Series(np.nan, index=villages.index)
    demand["area_m2"] = area.fillna(pd.Series(ellipsoidal_area(villages), index=villages.index)).to_numpy()
    lap("inputs")
    std = coverage_standards(cfg)
    if costs is None or (propose and site_costs is None and settlements is not None):
        if graph is None:
            if layers.get("road") is None:
                raise ServicesDataError("services.error.need_layer", layer="road", layer_zh=layer_label("road"))

            graph = build_graph(layers["road"], config=cfg)
        with task("服务设施可达性 / service travel times", total=2) as advance:
            if costs is None:
                costs = travel_costs(demand, fac, graph=graph)
            advance()
            sites_all = candidate_sites(fac.iloc[:0], settlements, [], config=cfg) if settlements is not None else None
            if propose and site_costs is None and sites_all is not None and len(sites_all):
                site_costs = travel_costs(demand, sites_all, graph=graph)
            advance()
    cm = as_costs(costs, len(demand), len(fac))
    lap("travel")
    presence = presence_check(fac, townships=townships, villages=villages, zones=zones)
    findings += presence.findings
    cov = coverage(demand, fac, cm, standards=std, config=cfg)
    findings += cov.findings
    central_kinds = presence_rules(levels=("central_town",))["kind"].tolist()
    catch = zone_catchment(demand, fac, cm, zones.centres, central_kinds, standards=std, config=cfg)
    lap("presence_coverage")
    fca_rows, fca_fac = [], []
    for s in fca_services:
        for method in ("2sfca", "e2sfca"):
            pp, pf, ff = service_fca(demand, fac, cm, s, method=method, standards=std, config=cfg)
            fca_rows.append(pp)
            fca_fac.append(pf.assign(service=s, method=method))
            if method == "2sfca":
                findings += ff
    fca_table = pd.concat(fca_rows, ignore_index=True) if fca_rows else pd.DataFrame()
    fca_fac_table = pd.concat(fca_fac, ignore_index=True) if fca_fac else pd.DataFrame()
    lap("fca")
    zone_pop = demand.groupby("zone")["population"].sum()
    planned = zone_pop if planned_population is None else pd.Series(planned_population, dtype=float)
    shelters, shelter_sites, sf = shelter_check(fac, planned, zones=zones, config=cfg)
    findings += sf
    fire, ff = fire_jurisdictions(demand, fac, cm, standards=std, config=cfg)
    findings += ff
    town_pop = pd.Series(dtype=float)
    if settlements is not None and len(settlements):
        ts = settlements[settlements["level"].astype(str) == "town_seat"]
        town_pop = pd.Series(pd.to_numeric(ts["population"], errors="coerce").fillna(0.0).to_numpy(),
                             index=ts["township_code"].astype(str).to_numpy())
    brigades, bf = brigade_classes(fac, town_pop, config=cfg)
    findings += bf
    lap("safety")
    baseline, plan = None, None
    school_cols = np.flatnonzero(fac["kind"].isin(SCHOOL_KINDS).to_numpy())
    if len(school_cols) and "drive" in cm:
        schools = fac.iloc[school_cols]
        plan = propose_districts(demand, schools, cm["drive"][:, school_cols], config=cfg,
                                 time_limit=min(time_limit, float(cfg["services.school_time_limit_s"])))
        # today's practice as the baseline: villages go to their nearest-by-capacity school, one
        # district per township that has a school
        sch_t = schools["township_code"].astype(str).to_numpy()
        free_school = plan.free.school
        dist = pd.Series(np.where(free_school >= 0, sch_t[np.maximum(free_school, 0)], ""),
                         index=demand["code"].to_numpy())
        baseline = check_districts(dist, pd.Series(demand["zone"].to_numpy(), index=demand["code"].to_numpy()),
                                   n_zones=len(zones), weights=pd.Series(pupils(demand["population"], config=cfg),
                                                                          index=demand["code"].to_numpy()),
                                   county=str(county_code or ""))
        findings += baseline.findings + [f for f in plan.check.findings if f.severity != "info"]
    lap("schools")
    proposals = _propose(demand, fac, settlements, cov, cm, site_costs, std, propose, cfg, time_limit)
    lap("siting")
    return ServicesAnalysis(zones, demand, fac, presence, cov, catch, fca_table, fca_fac_table, shelters,
                            shelter_sites, fire, brigades, baseline, plan, proposals, findings, timings, cm)


def _propose(demand, fac, settlements, cov: CoverageResult, cm, site_costs, std, propose, cfg, time_limit):
    empty = gpd.GeoDataFrame(columns=["site_id", "service", "kind", "gain_population", "rank", "method"],
                             geometry=[], crs=fac.crs)
    if not propose or settlements is None or site_costs is None:
        return empty
    summary = cov.summary()
    services = list(summary.loc[summary["points_unserved"] > 0, "service"])
    if not isinstance(propose, bool):
        services = [s for s in services if s in set(propose)]
    settle = candidate_sites(fac.iloc[:0], settlements, [], config=cfg)
    sc = as_costs(site_costs, len(demand), len(settle))
    out = []
    with task("设施选址", total=len(services)) as advance:
        for s in services:
            rows = std[std["service"] == s]
            mode = rows["mode"].iloc[0]
            if mode not in cm or mode not in sc:
                advance()
                continue
            kinds = rows["kinds"].iloc[0]
            fcols = np.flatnonzero(fac["kind"].isin(kinds).to_numpy())
            sites = candidate_sites(fac.iloc[fcols], settlements, kinds, config=cfg)
            costs = {mode: np.c_[cm[mode][:, fcols], sc[mode]]}
            chosen, _ = propose_for_service(demand, sites, costs, s, method="cover", standards=std, config=cfg,
                                            time_limit=time_limit)
            out.append(chosen)
            advance()
    if not out:
        return empty
    res = pd.concat(out, ignore_index=True)
    return gpd.GeoDataFrame(res, geometry="geometry", crs=fac.crs)


# -- outputs -------------------------------------------------------------------------------------
def facility_plan(analysis: ServicesAnalysis, settlements: gpd.GeoDataFrame | None = None) -> gpd.GeoDataFrame:
    """Proposed facilities (points, EPSG:4490): one per presence gap (at the unit's seat: the
    village seat, the town seat, the zone's centre town) and one per site proposed for
    coverage. A coverage proposal at a seat that a presence gap already names merges into it
    (reason ``presence+coverage``)."""
    kt = kind_table()
    rows: list[dict] = []
    geoms: list = []
    seat_v: dict[str, object] = {}
    seat_t: dict[str, object] = {}
    if settlements is not None and len(settlements):
        st = settlements.to_crs(STORAGE_EPSG)
        for lvl, code_col, target in (("village_seat", "village_code", seat_v), ("town_seat", "township_code", seat_t)):
            s = st[st["level"].astype(str) == lvl]
            target.update(dict(zip(s[code_col].astype(str), s.geometry)))
    dem = analysis.demand.to_crs(STORAGE_EPSG)
    dem_pt = dict(zip(dem["code"], dem.geometry))
    village_t = dict(zip(dem["code"], dem["township_code"]))
    missing = analysis.presence.missing
    for r in missing.to_dict("records"):
        if r["level"] == "village":
            geom, vc, tc = seat_v.get(r["unit"], dem_pt.get(r["unit"])), r["unit"], village_t.get(r["unit"], "")
        else:
            tc = r["township_code"] if r["level"] != "zone" else analysis.zones.centres.get(r["unit"], "")
            geom, vc = seat_t.get(tc), ""
        for k in range(int(r["missing"])):
            rows.append({"kind": r["kind"], "zone": r["zone"], "township_code": tc, "village_code": vc,
                         "reason": "presence", "service": "", "gain_population": np.nan, "rank": 0,
                         "method": f"rule:{r['rule']}", "site": r["unit"], "name": f"{r['unit_name']}{facility_name(r['kind'])}"})
            geoms.append(geom)
    index = {(r["kind"], r["site"]): i for i, r in enumerate(rows)}
    prop = analysis.proposals.to_crs(STORAGE_EPSG) if len(analysis.proposals) else analysis.proposals
    for r, g in zip(prop.to_dict("records") if len(prop) else [], prop.geometry if len(prop) else []):
        site = r["village_code"] if r["level"] == "village_seat" else r["township_code"]
        key = (r["kind"], site)
        if key in index:
            hit = rows[index[key]]
            hit.update(reason="presence+coverage", service=r["service"], gain_population=r["gain_population"],
                       rank=r["rank"], method=r["method"])
            continue
        rows.append({"kind": r["kind"], "zone": analysis.zones.township_zone.get(r["township_code"], ""),
                     "township_code": r["township_code"], "village_code": r["village_code"], "reason": "coverage",
                     "service": r["service"], "gain_population": r["gain_population"], "rank": r["rank"],
                     "method": r["method"], "site": r["site_id"], "name": f"{r['name']}{facility_name(r['kind'])}"})
        geoms.append(g)
    df = pd.DataFrame(rows, columns=[c for c in PLAN_COLUMNS if c not in ("id", "level", "status")])
    df.insert(0, "id", [f"FP{i + 1:05d}" for i in range(len(df))])
    df["level"] = df["kind"].map(kt["level"]).fillna("")
    df["status"] = "proposed"
    df["gain_population"] = df["gain_population"].astype(float)
    df["rank"] = df["rank"].astype(int)
    return gpd.GeoDataFrame(df[PLAN_COLUMNS], geometry=gpd.GeoSeries(geoms, crs=STORAGE_EPSG).to_numpy(),
                            crs=STORAGE_EPSG)


def facility_gaps(analysis: ServicesAnalysis, townships: gpd.GeoDataFrame, villages: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """What is missing (presence) or not served (coverage), one row per unit and kind/service,
    on the unit's polygon (EPSG:4490)."""
    tw = townships.to_crs(STORAGE_EPSG)
    vl = villages.to_crs(STORAGE_EPSG)
    poly_t = dict(zip(tw["code"].astype(str), tw.geometry))
    poly_v = dict(zip(vl["code"].astype(str), vl.geometry))
    zp = zone_polygons(tw, analysis.zones.township_zone)
    poly_z = dict(zip(zp["zone"], zp.geometry))
    rows, geoms = [], []
    for r in analysis.presence.missing.to_dict("records"):
        geom = {"zone": poly_z, "village": poly_v}.get(r["level"], poly_t).get(r["unit"])
        rows.append({"gap": "presence", "level": r["level"], "unit": r["unit"], "unit_name": r["unit_name"],
                     "zone": r["zone"], "township_code": r["township_code"], "kind": r["kind"],
                     "service": "", "required": r["required"], "present": r["present"],
                     "population": np.nan, "time_min": np.nan, "distance_m": np.nan, "limit_value": np.nan,
                     "limit_unit": "", "severity": r["severity"], "rule": r["rule"], "source": r["source"]})
        geoms.append(geom)
    std = analysis.coverage.standards
    src = dict(zip(std.loc[std["terrain"] == "*", "service"], std.loc[std["terrain"] == "*", "source"]))
    for r in analysis.coverage.unserved().to_dict("records"):
        rows.append({"gap": "coverage", "level": "village", "unit": r["code"], "unit_name": r["name"],
                     "zone": r["zone"], "township_code": r["township_code"], "kind": r["facility_kind"],
                     "service": r["service"], "required": 0, "present": 0,
                     "population": r["population"], "time_min": r["time_min"], "distance_m": r["distance_m"],
                     "limit_value": r["limit_value"], "limit_unit": r["limit_unit"], "severity": "warning",
                     "rule": f"coverage:{r['service']}", "source": src.get(r["service"], "")})
        geoms.append(poly_v.get(r["code"]))
    df = pd.DataFrame(rows, columns=GAP_COLUMNS[1:])
    df.insert(0, "id", [f"FG{i + 1:05d}" for i in range(len(df))])
    for col in ("required", "present"):
        df[col] = df[col].astype(int)
    return gpd.GeoDataFrame(df, geometry=gpd.GeoSeries(geoms, crs=STORAGE_EPSG).to_numpy(), crs=STORAGE_EPSG)


def service_tables(analysis: ServicesAnalysis) -> dict[str, pd.DataFrame]:
    """The analysis tables as plain frames (scenario tables and workbook sheets)."""
    tables = {
        "service_presence": analysis.presence.status,
        "service_coverage": analysis.coverage.summary(),
        "service_coverage_zone": analysis.coverage.by_unit("zone"),
        "service_catchment": analysis.catchment,
        "service_fca": analysis.fca,
        "service_shelter": analysis.shelters,
        "service_fire": analysis.fire,
    }
    if analysis.district_plan is not None:
        tables["service_school_district"] = analysis.district_plan.table
    return tables


def write_services(ws, scenario: str, analysis: ServicesAnalysis, *, layers: Mapping[str, gpd.GeoDataFrame],
                   reason: str = "") -> dict[str, int]:
    """Write ``facility_plan``, ``facility_gap`` and the tables into ``scenario`` (created when
    absent) in one audited write; returns the row count per layer (:meth:`ServicesAnalysis.write`)."""
    return analysis.write(ws, scenario, layers=layers, reason=reason)


def services_for_scenario(ws, scenario: str, *, write: bool = True,
                          layers: Mapping[str, gpd.GeoDataFrame] | None = None, **kw) -> ServicesAnalysis:
    """Run every public-service and safety analysis against the zones of a plan scenario.

    Presence against the rules, coverage against the standards, floating-catchment ratios,
    proposed sites, school districts, shelters and fire jurisdictions, infrastructure
    (:func:`pianqu.services.analyse_services`), with the zones of ``scenario`` (every township its
    own zone when the scenario has none).

    Parameters
    ----------
    ws : pianqu.workspace.Workspace
        The county workspace.
    scenario : str
        The plan scenario whose zones are used (and, with ``write``, written into).
    write : bool, default True
        Store the layers and tables in the scenario.
    layers : mapping of str to GeoDataFrame, optional
        The township, village, facility, settlement and road layers to use (e.g. a plan's inputs,
        derived where the workspace lacks them); default the workspace's own.
    **kw
        Passed to :func:`pianqu.services.analyse_services` (``graph``, ``costs``, ``propose``,
        ``time_limit`` …).

    Returns
    -------
    ServicesAnalysis
        ``demand``, ``presence``, ``coverage``, ``catchment``, ``fca``, ``shelters``, ``fire``,
        ``brigades``, school districts (``district_baseline``, ``district_plan``), proposed
        sites (``proposals``) and ``findings``.
    """
    from pianqu.services import instance  # the instance module builds on this one

    zones = kw.pop("zones", None)
    graph = kw.pop("graph", None)
    costs, site_costs = kw.pop("costs", None), kw.pop("site_costs", None)
    terrain = kw.pop("terrain", None)
    if layers is None:
        layers = {name: ws.read(name) for name in instance.LAYERS if ws.has(name)}
    inst = instance.from_layers(layers, zones=zones if zones is not None else instance.scenario_zones(ws, scenario),
                                graph=graph, slopes=instance.base_slopes(ws), county_code=ws.meta.county_code,
                                config=ws.config(), build_network=costs is None)
    inst.costs, inst.site_costs = costs, site_costs
    if terrain is not None:
        inst.terrain = terrain
    analysis = instance.analyse(inst, **kw)
    if write:
        analysis.write(ws, scenario)
    return analysis
