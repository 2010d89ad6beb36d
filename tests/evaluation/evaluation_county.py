"""A small hand-made county for the 体检评估 tests, written here (not by the code under test).

Two townships of 4 × 4 km side by side (T1 = 511999100 west, T2 = 511999101 east), two villages
each (V11, V12 | V21, V22; V22 is a 社区, so three 行政村), one village road along y = 2 km with
a speed of 10 km/h, a 中心卫生院 at its west end, and parcels of two epochs (2023, 2025) whose
areas (TBMJ, KCMJ, TBDLMJ) are given, so every land figure is a sum done by hand below. The
scenario ``plan`` holds the layers ``pianqu plan`` writes, made by hand with known contents.
Geometry is built in the CGCS2000 3° GK zone of 105° E (EPSG:4544) and stored in EPSG:4490.
"""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
from shapely.geometry import LineString, Point, box

from pianqu.workspace import Workspace

GK = 4544
X0, Y0 = 500_000.0, 3_300_000.0
COUNTY = "511999"
T1, T2 = "511999100", "511999101"
V11, V12, V21, V22 = "511999100001", "511999100002", "511999101001", "511999101002"
POP = {V11: 1000, V12: 2000, V21: 1500, V22: 3000}
SEATS = {V11: (1000, 2000), V12: (3000, 2600), V21: (5500, 2000), V22: (7000, 2000)}  # V12 600 m off the road


def _g(geoms) -> gpd.GeoSeries:
    return gpd.GeoSeries(geoms, crs=GK).to_crs(4490)


def sq(x, y, w, h=None):
    return box(X0 + x, Y0 + y, X0 + x + w, Y0 + y + (w if h is None else h))


def pt(x, y):
    return Point(X0 + x, Y0 + y)


# parcels: bsm, code, czcsxm, TBMJ, KCMJ, village, (x, y) of a 100 m square standing for it
P2023 = [
    ("P1", "0103", None, 100_000, 10_000, V11, (100, 100)),
    ("P2", "0301", None, 200_000, 0, V11, (300, 100)),
    ("P3", "0703", "203", 50_000, 0, V11, (500, 100)),
    ("P4", "0101", None, 80_000, 0, V12, (2100, 100)),
    ("P5", "0303", None, 60_000, 0, V12, (2300, 100)),
    ("P6", "0703", "203", 40_000, 0, V12, (2500, 100)),
    ("P7", "0102", None, 50_000, 5_000, V21, (4100, 100)),
    ("P8", "0302", None, 30_000, 0, V21, (4300, 100)),
    ("P9", "0703", "203", 45_000, 0, V21, (4500, 100)),
    ("P10", "0701", "202", 70_000, 0, V22, (6100, 100)),
    ("P11", "0801", "202", 10_000, 0, V22, (6300, 100)),
]
# 2025: P4 (80 000 m² of 0101 in V12) split into 60 000 m² of farmland and 20 000 m² of 0703 in the village
P2025 = [p for p in P2023 if p[0] != "P4"] + [
    ("P4a", "0101", None, 60_000, 0, V12, (2100, 100)),
    ("P4b", "0703", "203", 20_000, 0, V12, (2100, 300)),
]


def parcels(rows, epoch):
    frame = pd.DataFrame({
        "bsm": [f"{epoch}{r[0]}" for r in rows], "code": [r[1] for r in rows], "name": [r[1] for r in rows],
        "czcsxm": [r[2] for r in rows], "epoch": epoch, "area_m2": [float(r[3]) for r in rows],
        "kcmj": [float(r[4]) for r in rows], "tbdlmj": [float(r[3] - r[4]) for r in rows],
        "township_code": [r[5][:9] for r in rows], "village_code": [r[5] for r in rows],
    })
    return gpd.GeoDataFrame(frame, geometry=_g([sq(*r[6], 100) for r in rows]))


def base_layers() -> dict[str, gpd.GeoDataFrame | pd.DataFrame]:
    townships = gpd.GeoDataFrame({
        "code": [T1, T2], "name": ["甲镇", "乙乡"], "county_code": COUNTY, "kind": ["镇", "乡"],
        "population": [3000, 4500], "area_m2": [16e6, 16e6]}, geometry=_g([sq(0, 0, 4000), sq(4000, 0, 4000)]))
    villages = gpd.GeoDataFrame({
        "code": [V11, V12, V21, V22], "name": ["一村", "二村", "三村", "四社区"],
        "township_code": [T1, T1, T2, T2], "kind": ["村", "村", "村", "社区"],
        "population": [POP[v] for v in (V11, V12, V21, V22)]},
        geometry=_g([sq(0, 0, 2000, 4000), sq(2000, 0, 2000, 4000), sq(4000, 0, 2000, 4000),
                     sq(6000, 0, 2000, 4000)]))
    county = gpd.GeoDataFrame({"code": [COUNTY], "name": ["样例县"], "population": [7500],
                               "urban_population": [3000]}, geometry=_g([sq(0, 0, 8000, 4000)]))
    settlements = gpd.GeoDataFrame({
        "code": [T1, T2] + [f"S{v}" for v in SEATS], "name": ["甲镇驻地", "乙乡驻地"] + list("ABCD"),
        "level": ["town_seat", "town_seat"] + ["village_seat"] * 4, "population": [1000, 1000] + [POP[v] for v in SEATS],
        "township_code": [T1, T2] + [v[:9] for v in SEATS], "village_code": [V11, V21] + list(SEATS)},
        geometry=_g([pt(1000, 2000), pt(5500, 2000)] + [pt(*xy) for xy in SEATS.values()]))
    xs = [0, 1000, 3000, 5500, 7000, 8000]
    roads = gpd.GeoDataFrame({"id": ["R1"], "class": ["village"], "name": ["村道"], "lanes": [1], "width_m": [4.5],
                              "speed_kmh": [10.0], "oneway": [False]},
                             geometry=_g([LineString([(X0 + x, Y0 + 2000) for x in xs])]))
    facilities = gpd.GeoDataFrame({"id": ["H1"], "kind": ["central_health_centre"], "name": ["甲镇中心卫生院"],
                                   "level": ["zone"], "township_code": [T1], "village_code": [V11]},
                                  geometry=_g([pt(0, 2000)]))
    landuse = pd.concat([parcels(P2023, 2023), parcels(P2025, 2025)], ignore_index=True)
    pbf = gpd.GeoDataFrame({"id": ["YJ1"]}, geometry=_g([sq(100, 1000, 200)]))
    redline = gpd.GeoDataFrame({"id": ["ST1"]}, geometry=_g([sq(4500, 2500, 1000)]))
    statistics = pd.DataFrame({
        "unit_code": [T1, T2, COUNTY, COUNTY, COUNTY, T1, T2],
        "indicator": ["tap_water_rate", "tap_water_rate", "refuse_treatment_rate", "urban_income_per_capita",
                      "rural_income_per_capita", "income_per_capita", "income_per_capita"],
        "value": [0.8, 0.95, 0.95, 40_000.0, 20_000.0, 20_000.0, 30_000.0],
        "year": [2024] * 7, "source": "统计年鉴"})
    targets = pd.DataFrame({"indicator": ["farmland", "pbf"], "target_ha": [20.0, 3.9], "year": [2035, 2035],
                            "source": ["市级下达"] * 2})
    return {"county": county, "township": townships, "village": villages, "settlement": settlements, "road": roads,
            "facility": facilities, "landuse": landuse, "farmland_pbf": pbf, "eco_redline": redline,
            "statistics": statistics, "targets": targets}


def plan_layers(townships: gpd.GeoDataFrame) -> dict:
    """What ``pianqu plan`` would have written, by hand: zone Z1 = 甲镇, Z2 = 乙乡."""
    zone = gpd.GeoDataFrame({"zone": [T1, T2], "centre": [T1, T2], "name": ["甲镇片区", "乙乡片区"],
                             "population": [3000.0, 4500.0], "specialty": ["tea", "tea"]},
                            geometry=townships.geometry.to_numpy(), crs=4490)
    member = pd.DataFrame({"township_code": [T1, T2], "zone": [T1, T2], "is_centre": [True, True],
                           "population": [3000, 4500]})
    hierarchy = pd.DataFrame({"code": [T1, T2], "tier": ["central_town", "general_town"], "zone_centre": [T1, T2],
                              "is_centre": [True, True]})
    coverage = pd.DataFrame({"service": ["fire", "health_centre"], "population": [7500.0, 7500.0],
                             "population_within": [6000.0, 7500.0], "share": [0.8, 1.0]})
    coverage_zone = pd.DataFrame({"zone": [T1, T1, T2, T2], "service": ["fire", "health_centre"] * 2,
                                  "population": [3000.0, 3000.0, 4500.0, 4500.0], "share": [1.0, 0.5, 1.0, 1.0]})
    gap = gpd.GeoDataFrame({"id": ["FG1"], "gap": ["coverage"], "level": ["village"], "unit": [V21],
                            "service": ["fire"], "time_min": [9.0]}, geometry=_g([pt(5500, 2000)]))
    shelter = pd.DataFrame({"zone": [T1, T2], "population": [3000.0, 4500.0], "shelter_area_m2": [6000.0, 4500.0],
                            "area_per_person_m2": [2.0, 1.0]})
    presence = pd.DataFrame({
        "level": ["zone", "zone", "village", "village", "village", "village"],
        "unit": [T1, T2, V11, V12, V21, V22], "zone": [T1, T2, T1, T1, T2, T2],
        "rule": ["zone_elderly_centre"] * 2 + ["village_children_home"] * 4, "ok": [True, False, True, False, True, True]})
    districts = pd.DataFrame({"zone": [T1, T2, T2]})  # three school districts for two zones
    tickets = gpd.GeoDataFrame({
        "ticket_id": ["WF-1", "WF-2"], "bsm_after": ["2025P4b", "2025P9"], "code_before": ["0101", "0703"],
        "code_after": ["0703", "0703"], "township_code": [T1, T2], "in_pbf": [False, False],
        "area_m2": [20_000.0, 1_000.0], "area_ha": [2.0, 0.1]}, geometry=_g([sq(2100, 300, 100), sq(4500, 100, 100)]))
    conflict = gpd.GeoDataFrame({"conflict_id": ["CF-1", "CF-2", "CF-3"], "rule": ["udb_over_pbf"] * 3,
                                 "state": ["open", "resolved", "open"], "area_ha": [0.1, 0.2, 0.3]},
                                geometry=_g([sq(0, 0, 10), sq(20, 0, 10), sq(40, 0, 10)]))
    sizing = pd.DataFrame({"rule": ["expansion_ratio", "reserve_share"], "value": [1.35, 0.04]})
    detour = gpd.GeoDataFrame({"kind": ["village_town"] * 4, "from_code": [V11, V12, V21, V22],
                               "from_name": list("ABCD"), "to_code": [T1, T1, T2, T2], "to_name": ["甲镇"] * 2 + ["乙乡"] * 2,
                               "status": ["ok", "detour", "ok", "ok"], "detour_index": [1.1, 3.0, 1.2, 1.0]},
                              geometry=_g([LineString([pt(0, 0), pt(1, 1)])] * 4))
    dead_end = pd.DataFrame({"rank": [1], "road": ["R1"], "gap_m": [80.0]})
    bottleneck = pd.DataFrame({"rank": pd.Series([], dtype=int), "road": pd.Series([], dtype=str),
                               "load_index": pd.Series([], dtype=float)})
    telecom = pd.DataFrame({"tech": ["4G+", "5G"], "seats": [4, 4], "covered": [4, 1], "share": [1.0, 0.25]})
    uncovered = pd.DataFrame({"code": [V12, V21, V22], "name": ["二村", "三村", "四社区"],
                              "population": [2000.0, 1500.0, 3000.0], "has_4g": [True, True, True],
                              "has_5g": [False, False, False]})
    quota = pd.DataFrame({"indicator": ["redline"], "target_ha": [99.0], "source": ["rule"]})
    outflow = pd.DataFrame({"bsm_before": ["2023P4"], "code_before": ["0101"], "bsm_after": ["2025P4b"],
                            "code_after": ["0703"], "area_ha": [2.0]})
    return {"zone": zone, "zone_member": member, "hierarchy": hierarchy, "service_coverage": coverage,
            "service_coverage_zone": coverage_zone, "facility_gap": gap, "service_shelter": shelter,
            "service_presence": presence, "service_school_district": districts, "land_tickets": tickets,
            "conflict": conflict, "land_sizing": sizing, "road_detour": detour, "road_dead_end": dead_end,
            "road_bottleneck": bottleneck, "telecom_summary": telecom, "telecom_uncovered": uncovered,
            "land_quota_targets": quota, "land_outflow": outflow}


def write_county(path, *, plan: bool = True, toml: str | None = None) -> Workspace:
    """The county at ``path`` (a .gpkg), with the scenario ``plan`` unless ``plan=False``."""
    if toml is not None:
        (path.parent / "pianqu.toml").write_text(toml, encoding="utf-8")
    ws = Workspace.create(path, county_code=COUNTY, county_name="样例县", synthetic=True, compute_epsg=GK,
                          epochs=(2023, 2025))
    layers = base_layers()
    ws.write(layers, command="test")
    if plan:
        with ws.transaction(command="plan"):
            ws.create_scenario("plan", title="方案一")
            ws.write(plan_layers(layers["township"]), command="plan", scenario="plan", reason="hand-made plan")
    return ws
