"""One function per indicator of ``standards/indicators.csv``: the value at each level it has, and
the features behind it (drivers).

Each function takes the :class:`~pianqu.evaluation.context.Context` and returns an
:class:`Out`: rows ``(level, unit code, value)`` and a GeoDataFrame of drivers (the villages,
roads, parcels, zones behind a shortfall, each with ``kind``, ``feature``, ``name``, ``value``).
They reuse what pianqu has produced — the scenario's layers written by ``pianqu plan`` (services,
road diagnostics, land) — and pianqu's own functions for what is computed here (the 三调 land
statistics, the road graph's travel times, ellipsoidal areas). A missing input raises
:class:`~pianqu.evaluation.context.Missing`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import geopandas as gpd
import numpy as np
import pandas as pd

from pianqu.evaluation.context import Context, Missing
from pianqu.geo import STORAGE_EPSG, compute_epsg, ellipsoidal_area
from pianqu.inputs import from_workspace as plan_inputs
from pianqu.land.stats import parcel_townships
from pianqu.standards import land_classes

M2_PER_HA = 10_000.0


@dataclass
class Out:
    """What an indicator function gives: ``rows`` of (level, unit code, value) and the drivers."""

    rows: list[tuple[str, str, float]] = field(default_factory=list)
    drivers: gpd.GeoDataFrame | None = None


REGISTRY: dict[str, Callable[[Context], Out]] = {}
EPOCHAL: set[str] = set()  # indicators of the land-use parcels: computed again at the previous epoch


def indicator(name: str, *, epochal: bool = False):
    def wrap(fn):
        REGISTRY[name] = fn
        if epochal:
            EPOCHAL.add(name)
        return fn
    return wrap


# -- helpers -----------------------------------------------------------------------------------------

def _drivers(frame: gpd.GeoDataFrame | None, kind: str, feature, name=None, value=None) -> gpd.GeoDataFrame | None:
    """Driver features in one shape: kind, feature, name, value, geometry (EPSG:4490)."""
    if frame is None or len(frame) == 0:
        return None
    n = len(frame)
    col = lambda v: (frame[v].to_numpy() if isinstance(v, str) else  # noqa: E731
                     (np.full(n, None, dtype=object) if v is None else np.asarray(v)))
    out = gpd.GeoDataFrame({"kind": kind, "feature": pd.Series(col(feature)).astype(str).to_numpy(),
                            "name": pd.Series(col(name)).astype("string").to_numpy(),
                            "value": pd.to_numeric(pd.Series(col(value)), errors="coerce").to_numpy()},
                           geometry=frame.geometry.to_crs(STORAGE_EPSG).to_numpy(), crs=STORAGE_EPSG)
    return out


def _county(cx: Context, value: float) -> tuple[str, str, float]:
    return ("county", cx.county_code, float(value))


def _by_zone(cx: Context, values: pd.Series, weights: pd.Series | None = None, how: str = "sum") -> list:
    """Township values → zone rows (sum, or a weighted mean); no rows without a scenario."""
    try:
        zone_of = cx.zone_of()
    except Missing:
        return []
    zone = values.index.to_series().map(zone_of)
    frame = pd.DataFrame({"zone": zone.to_numpy(), "v": values.to_numpy(),
                          "w": (weights.reindex(values.index).to_numpy() if weights is not None else 1.0)})
    frame = frame.dropna(subset=["zone"])
    if how == "sum":
        agg = frame.groupby("zone")["v"].sum()
    else:
        agg = frame.groupby("zone").apply(lambda g: float(np.average(g["v"], weights=g["w"]))
                                          if g["w"].sum() > 0 else np.nan, include_groups=False)
    return [("zone", z, float(v)) for z, v in agg.items()]


def _share(ok: pd.Series) -> float:
    return float(ok.mean()) if len(ok) else np.nan


def theil(values, weights) -> float:
    """Theil T index of ``values`` across groups weighted by ``weights`` (population):
    Σ wᵢ/W · xᵢ/μ · ln(xᵢ/μ), μ the weighted mean; 0 when all are equal."""
    x = np.asarray(values, dtype=float)
    w = np.asarray(weights, dtype=float)
    keep = np.isfinite(x) & np.isfinite(w) & (w > 0)
    x, w = x[keep], w[keep]
    if len(x) == 0 or w.sum() <= 0:
        return np.nan
    mu = float(np.sum(w * x) / w.sum())
    if mu <= 0:
        return np.nan
    r = x / mu
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(r > 0, r * np.log(r), 0.0)
    return float(np.sum(w / w.sum() * terms))


# -- land (per epoch) -------------------------------------------------------------------------------

def _land_class(cx: Context, column: str, ind: str) -> Out:
    land = cx.township_land()
    ha = land.set_index("code")[column] if column in land else pd.Series(0.0, index=land["code"])
    rows = [_county(cx, ha.sum())] + _by_zone(cx, ha) + [("township", c, float(v)) for c, v in ha.items()]
    return Out(rows, _outflow_drivers(cx, ind))


def _outflow_drivers(cx: Context, ind: str) -> gpd.GeoDataFrame | None:
    """The parcels that left the class between the epochs (the scenario's land_outflow)."""
    if ind != "farmland_area":
        return None
    out = cx.plan("land_outflow", required=False)
    if out is None or len(out) == 0:
        return None
    parcels = cx.parcels()
    parcels["bsm"] = parcels["bsm"].astype(str)
    ha = out.groupby(out["bsm_after"].astype(str))["area_ha"].sum()
    hit = parcels[parcels["bsm"].isin(ha.index)]
    return _drivers(hit, "parcel", "bsm", None, ha.reindex(hit["bsm"]).to_numpy())


@indicator("farmland_area", epochal=True)
def farmland_area(cx: Context) -> Out:
    return _land_class(cx, "l1_01", "farmland_area")


@indicator("forest_area", epochal=True)
def forest_area(cx: Context) -> Out:
    return _land_class(cx, "l1_03", "forest_area")


@indicator("forest_cover", epochal=True)
def forest_cover(cx: Context) -> Out:
    parcels = cx.parcels()
    codes = set(cx.config["evaluation.forest_cover_codes"])
    forest = parcels["code"].astype(str).isin(codes).to_numpy()
    owner = parcel_townships(parcels.reset_index(drop=True), cx.townships())
    m2 = pd.Series(np.where(forest, cx.parcel_area_m2(parcels), 0.0)).groupby(owner.to_numpy()).sum()
    land = cx.township_land().set_index("code")
    area = land["area_m2"]
    forest_m2 = m2.reindex(area.index, fill_value=0.0)
    rows = [_county(cx, forest_m2.sum() / area.sum())]
    rows += [("township", c, float(forest_m2[c] / area[c])) for c in area.index if area[c] > 0]
    return Out(rows)


def _construction(cx: Context, settlements: tuple[str, ...]) -> tuple[gpd.GeoDataFrame, np.ndarray]:
    parcels = cx.parcels().reset_index(drop=True)
    classes = land_classes()
    con = set(classes.loc[classes["class"] == "construction", "l1"].astype(str))
    keep = (parcels["code"].astype(str).str[:2].isin(con) & cx.settlement_of(parcels).isin(settlements)).to_numpy()
    return parcels[keep].reset_index(drop=True), cx.parcel_area_m2(parcels[keep])


@indicator("urban_rural_land", epochal=True)
def urban_rural_land(cx: Context) -> Out:
    parcels, m2 = _construction(cx, ("town", "village"))
    owner = parcel_townships(parcels, cx.townships()) if len(parcels) else pd.Series([], dtype=object)
    by_t = pd.Series(m2).groupby(owner.to_numpy()).sum() / M2_PER_HA
    by_t = by_t.reindex(cx.townships()["code"], fill_value=0.0)
    rows = [_county(cx, m2.sum() / M2_PER_HA)] + [("township", c, float(v)) for c, v in by_t.items()]
    return Out(rows)


@indicator("village_land_per_capita", epochal=True)
def village_land_per_capita(cx: Context) -> Out:
    parcels, m2 = _construction(cx, ("village",))
    villages = cx.admin_villages()
    pop = pd.to_numeric(villages["population"], errors="coerce")
    county = cx.base("county", required=False)
    rural = np.nan
    if county is not None and len(county) and {"population", "urban_population"} <= set(county.columns):
        rural = float(pd.to_numeric(county["population"], errors="coerce").iloc[0]
                      - pd.to_numeric(county["urban_population"], errors="coerce").iloc[0])
    if not np.isfinite(rural) or rural <= 0:
        rural = float(pop.sum())
    if not np.isfinite(rural) or rural <= 0:
        raise Missing("village", "population")
    rows = [_county(cx, m2.sum() / rural)]
    vcode = parcels["village_code"].astype("string").fillna("") if "village_code" in parcels \
        else pd.Series("", index=parcels.index)
    by_v = pd.Series(m2).groupby(vcode.to_numpy()).sum()
    v = villages.set_index("code")
    v_m2 = by_v.reindex(v.index, fill_value=0.0)
    by_t = v_m2.groupby(v["township_code"]).sum() / pop.groupby(villages["township_code"].to_numpy()).sum() \
        .reindex(v["township_code"].unique()).replace(0, np.nan)
    rows += [("township", c, float(x)) for c, x in by_t.dropna().items()]
    per_v = (v_m2 / pd.to_numeric(v["population"], errors="coerce").replace(0, np.nan)).dropna()
    rows += [("village", c, float(x)) for c, x in per_v.items()]
    over = per_v[per_v > float(cx.config["evaluation.village_land_per_capita_max_m2"])]
    vv = villages.set_index("code").loc[over.index].reset_index()
    return Out(rows, _drivers(vv, "village", "code", "name", over.to_numpy()))


# -- control lines ---------------------------------------------------------------------------------

def _line_area(cx: Context, layer: str) -> Out:
    lines = cx.plan(layer, required=False, fallback_base=True)
    if lines is None:
        raise Missing(layer, "import")
    lines = lines[lines.geometry.notna() & ~lines.geometry.is_empty]
    rows = [_county(cx, float(np.sum(ellipsoidal_area(lines.geometry.to_crs(STORAGE_EPSG)))) / M2_PER_HA)]
    zones = cx.plan("zone", required=False)
    if zones is not None and len(lines):
        union = lines.geometry.to_crs(STORAGE_EPSG).union_all()
        z = zones.to_crs(STORAGE_EPSG)
        pieces = gpd.GeoSeries(z.geometry.intersection(union), crs=STORAGE_EPSG)
        rows += [("zone", str(c), float(a) / M2_PER_HA) for c, a in zip(z["zone"], ellipsoidal_area(pieces))]
    return Out(rows)


@indicator("pbf_area")
def pbf_area(cx: Context) -> Out:
    return _line_area(cx, "farmland_pbf")


@indicator("redline_area")
def redline_area(cx: Context) -> Out:
    return _line_area(cx, "eco_redline")


# -- access ------------------------------------------------------------------------------------------

def _inputs(cx: Context):
    """The plan's inputs (seats, the road graph and its travel times), read once per evaluation."""
    return cx._memo("inputs", lambda: plan_inputs(cx.ws, config=cx.config))


def _village_seats(cx: Context) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """行政村 and their seats (the settlement layer's village seats, else derived by pianqu.inputs)."""
    villages = cx.admin_villages()
    inputs = _inputs(cx)
    seats = inputs.settlements
    seats = seats[(seats["level"] == "village_seat") & seats["village_code"].astype(str).isin(villages["code"])]
    seats = seats.drop_duplicates("village_code").reset_index(drop=True)
    return villages, seats


def _village_rows(cx: Context, villages: gpd.GeoDataFrame, ok: pd.Series) -> list:
    """County and zone shares of villages for which ``ok`` (indexed by village code) is True."""
    ok = ok.reindex(villages["code"]).fillna(False).astype(bool)
    rows = [_county(cx, _share(ok))]
    try:
        zone_of = cx.zone_of()
    except Missing:
        return rows
    zone = villages.set_index("code")["township_code"].map(zone_of)
    rows += [("zone", str(z), float(v)) for z, v in ok.groupby(zone.to_numpy()).mean().items()]
    return rows


@indicator("hospital_30min_villages")
def hospital_30min_villages(cx: Context) -> Out:
    facilities = cx.base("facility")
    kinds = list(cx.config["evaluation.graded_hospital_kinds"])
    hospitals = facilities[facilities["kind"].astype(str).isin(kinds)]
    if len(hospitals) == 0:
        raise Missing("facility", "facility", ",".join(kinds))
    villages, seats = _village_seats(cx)
    if len(seats) == 0:
        raise Missing("settlement", "import")
    inputs = _inputs(cx)
    minutes = inputs.travel_s(seats, hospitals.reset_index(drop=True), mode="drive").min(axis=1) / 60.0
    t = pd.Series(minutes, index=seats["village_code"].astype(str).to_numpy())
    ok = t <= float(cx.config["evaluation.hospital_time_min"])
    rows = _village_rows(cx, villages, ok)
    late = villages[~villages["code"].isin(t[ok].index)]
    return Out(rows, _drivers(late, "village", "code", "name", t.reindex(late["code"]).to_numpy()))


@indicator("graded_road_villages")
def graded_road_villages(cx: Context) -> Out:
    roads = cx.base("road")
    villages, seats = _village_seats(cx)
    if len(seats) == 0:
        raise Missing("settlement", "import")
    graded = roads[roads["class"].astype(str).isin(list(cx.config["evaluation.graded_road_classes"]))]
    epsg = cx.ws.meta.compute_epsg or compute_epsg(villages)
    if len(graded):
        union = graded.geometry.to_crs(epsg).union_all()
        dist = seats.geometry.to_crs(epsg).distance(union).to_numpy()
    else:
        dist = np.full(len(seats), np.inf)
    d = pd.Series(dist, index=seats["village_code"].astype(str).to_numpy())
    ok = d <= float(cx.config["evaluation.graded_road_distance_m"])
    rows = _village_rows(cx, villages, ok)
    far = villages[~villages["code"].isin(d[ok].index)]
    return Out(rows, _drivers(far, "village", "code", "name", d.reindex(far["code"]).to_numpy()))


@indicator("fire_5min_coverage")
def fire_5min_coverage(cx: Context) -> Out:
    cov = cx.plan("service_coverage")
    fire = cov[cov["service"].astype(str) == "fire"]
    if len(fire) == 0:
        raise Missing("service_coverage", "plan")
    value = float(fire["population_within"].sum() / fire["population"].sum())
    gaps = cx.plan("facility_gap", required=False)
    drivers = None
    if gaps is not None and len(gaps):
        g = gaps[(gaps["service"].astype(str) == "fire") & (gaps["gap"].astype(str) == "coverage")]
        drivers = _village_units(cx, g["unit"].astype(str), g["time_min"])
    return Out([_county(cx, value)], drivers)


def _village_units(cx: Context, codes: pd.Series, values=None) -> gpd.GeoDataFrame | None:
    villages = cx.base("village", required=False)
    if villages is None or len(codes) == 0:
        return None
    villages["code"] = villages["code"].astype(str)
    v = villages.set_index("code")
    hit = [c for c in codes if c in v.index]
    vals = None if values is None else pd.Series(np.asarray(values), index=codes.to_numpy()).groupby(level=0).first()
    sub = v.loc[hit].reset_index()
    return _drivers(sub, "village", "code", "name", None if vals is None else vals.reindex(hit).to_numpy())


@indicator("shelter_area_per_capita")
def shelter_area_per_capita(cx: Context) -> Out:
    s = cx.plan("service_shelter")
    value = float(s["shelter_area_m2"].sum() / s["population"].sum()) if s["population"].sum() > 0 else np.nan
    rows = [_county(cx, value)] + [("zone", str(z), float(v)) for z, v in zip(s["zone"], s["area_per_person_m2"])]
    low = s[s["area_per_person_m2"] < float(cx.config["evaluation.shelter_area_per_capita_min_m2"])]
    return Out(rows, _zone_units(cx, low["zone"].astype(str), low["area_per_person_m2"]))


def _zone_units(cx: Context, zones: pd.Series, values=None) -> gpd.GeoDataFrame | None:
    z = cx.plan("zone", required=False)
    if z is None or len(zones) == 0:
        return None
    z["zone"] = z["zone"].astype(str)
    sub = z.set_index("zone").loc[[c for c in zones if c in set(z["zone"])]].reset_index()
    vals = None if values is None else pd.Series(np.asarray(values), index=zones.to_numpy()).reindex(sub["zone"])
    return _drivers(sub, "zone", "zone", "name" if "name" in sub else None,
                    None if vals is None else vals.to_numpy())


# -- tickets and conflicts ------------------------------------------------------------------------

def _tickets(cx: Context, farmland_only: bool) -> gpd.GeoDataFrame:
    t = cx.plan("land_tickets")
    if farmland_only:
        before = t["code_before"].astype(str).str[:2] == "01"
        pbf = t["in_pbf"].fillna(False).astype(bool) if "in_pbf" in t else False
        t = t[before | pbf]
    return t


def _ticket_rows(cx: Context, t: gpd.GeoDataFrame, value: pd.Series) -> list:
    by_t = value.groupby(t["township_code"].astype(str).to_numpy()).sum() if len(t) else pd.Series(dtype=float)
    by_t = by_t.reindex(cx.townships()["code"], fill_value=0.0)
    return [_county(cx, float(value.sum()))] + [("township", c, float(v)) for c, v in by_t.items()]


@indicator("violation_events")
def violation_events(cx: Context) -> Out:
    t = _tickets(cx, False)
    return Out(_ticket_rows(cx, t, pd.Series(1.0, index=t.index)),
               _drivers(t, "parcel", "bsm_after", "ticket_id", t.get("area_ha")))


@indicator("farmland_tickets")
def farmland_tickets(cx: Context) -> Out:
    t = _tickets(cx, True)
    return Out(_ticket_rows(cx, t, pd.Series(1.0, index=t.index)),
               _drivers(t, "parcel", "bsm_after", "ticket_id", t.get("area_ha")))


@indicator("farmland_ticket_area")
def farmland_ticket_area(cx: Context) -> Out:
    t = _tickets(cx, True)
    ha = pd.to_numeric(t["area_m2"], errors="coerce").fillna(0.0) / M2_PER_HA
    return Out(_ticket_rows(cx, t, ha), _drivers(t, "parcel", "bsm_after", "ticket_id", ha.to_numpy()))


@indicator("open_conflicts")
def open_conflicts(cx: Context) -> Out:
    c = cx.plan("conflict", required=False, fallback_base=True)
    if c is None:
        raise Missing("conflict", "plan")
    open_ = c[c["state"].astype(str) == "open"]
    return Out([_county(cx, len(open_))], _drivers(open_, "conflict", "conflict_id", None, open_.get("area_ha")))


def _sizing(cx: Context, rule: str) -> Out:
    s = cx.plan("land_sizing")
    row = s[s["rule"].astype(str) == rule]
    if len(row) == 0:
        raise Missing("land_sizing", "plan")
    return Out([_county(cx, float(row["value"].iloc[0]))])


@indicator("expansion_ratio")
def expansion_ratio(cx: Context) -> Out:
    return _sizing(cx, "expansion_ratio")


@indicator("reserve_share")
def reserve_share(cx: Context) -> Out:
    return _sizing(cx, "reserve_share")


# -- the plan's zones, services and roads ---------------------------------------------------------

@indicator("zone_count")
def zone_count(cx: Context) -> Out:
    return Out([_county(cx, len(cx.zones()))])


@indicator("school_districts")
def school_districts(cx: Context) -> Out:
    return Out([_county(cx, len(cx.plan("service_school_district")))])


def _presence(cx: Context, rule: str) -> Out:
    p = cx.plan("service_presence")
    p = p[p["rule"].astype(str) == rule]
    if len(p) == 0:
        raise Missing("service_presence", "plan")
    ok = p["ok"].fillna(False).astype(bool)
    rows = [_county(cx, _share(ok))]
    level = str(p["level"].iloc[0])
    if level != "zone":
        rows += [("zone", str(z), float(v)) for z, v in ok.groupby(p["zone"].astype(str).to_numpy()).mean().items()]
    missing = p[~ok]
    units = missing["unit"].astype(str)
    if level == "zone":
        drivers = _zone_units(cx, units)
    elif level == "village":
        drivers = _village_units(cx, units)
    else:
        t = cx.townships().set_index("code")
        sub = t.loc[[c for c in units if c in t.index]].reset_index()
        drivers = _drivers(sub, "township", "code", "name")
    return Out(rows, drivers)


for _id, _rule in [("zone_elderly_centre_share", "zone_elderly_centre"), ("township_daycare_share", "township_daycare"),
                   ("township_minor_station_share", "township_minor_station"),
                   ("village_elderly_share", "village_elderly"), ("village_minor_point_share", "village_minor_point"),
                   ("village_children_home_share", "village_children_home")]:
    indicator(_id)(lambda cx, _rule=_rule: _presence(cx, _rule))


@indicator("direct_link_share")
def direct_link_share(cx: Context) -> Out:
    d = cx.plan("road_detour")
    ok = d["status"].astype(str) == "ok"
    bad = d[~ok]
    return Out([_county(cx, _share(ok))],
               _drivers(bad, "link", pd.Series(bad["from_code"].astype(str) + "→" + bad["to_code"].astype(str)).to_numpy(),
                        pd.Series(bad["from_name"].astype(str) + "→" + bad["to_name"].astype(str)).to_numpy(),
                        bad.get("detour_index")) if isinstance(bad, gpd.GeoDataFrame) else None)


def _road_list(cx: Context, layer: str, value_col: str) -> Out:
    listed = cx.plan(layer)
    roads = cx.base("road", required=False)
    drivers = None
    if roads is not None and len(listed):
        roads["id"] = roads["id"].astype(str)
        vals = listed.groupby(listed["road"].astype(str))[value_col].first() if value_col in listed else None
        sub = roads[roads["id"].isin(set(listed["road"].astype(str)))]
        drivers = _drivers(sub, "road", "id", "name", None if vals is None else vals.reindex(sub["id"]).to_numpy())
    return Out([_county(cx, len(listed))], drivers)


@indicator("dead_end_roads")
def dead_end_roads(cx: Context) -> Out:
    return _road_list(cx, "road_dead_end", "gap_m")


@indicator("bottleneck_roads")
def bottleneck_roads(cx: Context) -> Out:
    return _road_list(cx, "road_bottleneck", "load_index")


def _telecom(cx: Context, tech: str, has: str) -> Out:
    s = cx.plan("telecom_summary")
    row = s[s["tech"].astype(str) == tech]
    if len(row) == 0:
        raise Missing("telecom_summary", "plan")
    u = cx.plan("telecom_uncovered", required=False)
    drivers = None
    if u is not None and len(u):
        gone = u[~u[has].fillna(False).astype(bool)]
        drivers = _village_units(cx, gone["code"].astype(str), gone["population"])
    return Out([_county(cx, float(row["share"].iloc[0]))], drivers)


@indicator("telecom_4g_villages")
def telecom_4g_villages(cx: Context) -> Out:
    return _telecom(cx, "4G+", "has_4g")


@indicator("telecom_5g_villages")
def telecom_5g_villages(cx: Context) -> Out:
    return _telecom(cx, "5G", "has_5g")


@indicator("central_town_population_share")
def central_town_population_share(cx: Context) -> Out:
    h = cx.plan("hierarchy")
    t = cx.townships().set_index("code")
    pop = pd.to_numeric(t["population"], errors="coerce").fillna(0.0)
    central = h.loc[h["tier"].astype(str).isin(["county_seat", "central_town"]), "code"].astype(str)
    return Out([_county(cx, float(pop.reindex(central).fillna(0.0).sum() / pop.sum()) if pop.sum() > 0 else np.nan)])


@indicator("distinct_specialty_share")
def distinct_specialty_share(cx: Context) -> Out:
    z = cx.zones()
    if "specialty" not in z:
        raise Missing("specialty", "plan")
    g = z.to_crs(cx.ws.meta.compute_epsg or compute_epsg(z)).reset_index(drop=True)
    spec = g["specialty"].astype("string")
    shared = np.zeros(len(g), dtype=bool)
    for i in range(len(g)):
        for j in range(i + 1, len(g)):
            if pd.notna(spec[i]) and spec[i] == spec[j] and g.geometry[i].intersection(g.geometry[j]).length > 0:
                shared[i] = shared[j] = True
    ok = pd.Series(~shared & spec.notna().to_numpy())
    bad = z.reset_index(drop=True)[~ok.to_numpy()]
    return Out([_county(cx, _share(ok))], _drivers(bad, "zone", "zone", "name" if "name" in bad else None))


@indicator("access_theil")
def access_theil(cx: Context) -> Out:
    cz = cx.plan("service_coverage_zone")
    mean = cz.groupby(cz["zone"].astype(str))["share"].mean()
    pop = cx.zones().set_index("zone")["population"]
    return Out([_county(cx, theil(mean.to_numpy(), pd.to_numeric(pop.reindex(mean.index), errors="coerce")))])


# -- statistics tables ------------------------------------------------------------------------------

def _stats(cx: Context, name: str) -> pd.Series:
    """unit code → the latest value (in a year not after the epoch, when years are given) of
    statistic ``name`` in the statistics table."""
    s = cx.base("statistics")
    s = s[s["indicator"].astype(str) == name].copy()
    if len(s) == 0:
        raise Missing("statistics", "statistic", name)
    s["unit_code"] = s["unit_code"].astype(str)
    if "year" in s and s["year"].notna().any():
        s["year"] = pd.to_numeric(s["year"], errors="coerce")
        if cx.epoch is not None and (s["year"] <= cx.epoch).any():
            s = s[s["year"] <= cx.epoch]
        s = s.sort_values("year")
    return s.groupby("unit_code")["value"].last().astype(float)


def _township_weighted(cx: Context, values: pd.Series) -> tuple[float, pd.Series, pd.Series]:
    t = cx.townships().set_index("code")
    pop = pd.to_numeric(t["population"], errors="coerce")
    tv = values.reindex(t.index).dropna()
    w = pop.reindex(tv.index)
    county = values.get(cx.county_code, np.nan)
    if not np.isfinite(county) and len(tv):
        county = float(np.average(tv, weights=w)) if w.sum() > 0 else float(tv.mean())
    return float(county), tv, w


def _rate(cx: Context, name: str) -> Out:
    county, tv, _ = _township_weighted(cx, _stats(cx, name))
    return Out([_county(cx, county)] + [("township", c, float(v)) for c, v in tv.items()])


@indicator("tap_water_rate")
def tap_water_rate(cx: Context) -> Out:
    return _rate(cx, "tap_water_rate")


@indicator("refuse_treatment_rate")
def refuse_treatment_rate(cx: Context) -> Out:
    return _rate(cx, "refuse_treatment_rate")


@indicator("urban_rural_income_ratio")
def urban_rural_income_ratio(cx: Context) -> Out:
    urban, _, _ = _township_weighted(cx, _stats(cx, "urban_income_per_capita"))
    rural, _, _ = _township_weighted(cx, _stats(cx, "rural_income_per_capita"))
    return Out([_county(cx, urban / rural if rural > 0 else np.nan)])


@indicator("income_theil")
def income_theil(cx: Context) -> Out:
    _, tv, w = _township_weighted(cx, _stats(cx, "income_per_capita"))
    zone = tv.index.to_series().map(cx.zone_of())
    frame = pd.DataFrame({"zone": zone.to_numpy(), "x": tv.to_numpy(), "w": w.to_numpy()}).dropna()
    g = frame.groupby("zone").apply(lambda d: pd.Series({"x": np.average(d["x"], weights=d["w"]), "w": d["w"].sum()}),
                                    include_groups=False)
    return Out([_county(cx, theil(g["x"], g["w"]))])
