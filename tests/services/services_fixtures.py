"""Fixtures of the public-service tests (loaded with ``pytest_plugins = ["services_fixtures"]``).

``small_county()`` is a hand-made county small enough to count by hand: 6 townships in a row
(2 × 1 km each, GK zone CM 105°E), each split into 2 villages, a road grid every 500 m, three
zones (Z1 = T1–T3 centred on T1, Z2 = T4–T5 centred on T4, Z3 = T6 on itself) and facilities
placed so that the expected gaps are listed in the tests themselves.

``default_county`` is the project's default county (通江县 511921, real names and census
population on synthetic geometry) built once per session, with zones of about three
townships each (consecutive codes, centre = the most populous), and its service analysis.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from pianqu.services.common import Zones

EPSG = 4544
X0, Y0 = 500_000.0, 3_300_000.0
TW, TH = 2000.0, 1000.0  # township size (m); villages are its west and east halves
TOWNSHIPS = [f"51192110{i}" for i in range(1, 7)]  # T1..T6
ZONE_OF = {TOWNSHIPS[0]: "Z1", TOWNSHIPS[1]: "Z1", TOWNSHIPS[2]: "Z1", TOWNSHIPS[3]: "Z2", TOWNSHIPS[4]: "Z2",
           TOWNSHIPS[5]: "Z3"}
CENTRES = {"Z1": TOWNSHIPS[0], "Z2": TOWNSHIPS[3], "Z3": TOWNSHIPS[5]}


def village_code(t: int, half: int) -> str:
    """Village code of township index t (0..5), half 0 (west) or 1 (east)."""
    return f"{TOWNSHIPS[t]}{200 + half:03d}"


def _to4490(geoms) -> gpd.GeoSeries:
    return gpd.GeoSeries(list(geoms), crs=EPSG).to_crs(4490)


def small_county() -> dict[str, gpd.GeoDataFrame]:
    """Layers of the hand-made county (EPSG:4490)."""
    t_geom, v_rows, v_geom, s_rows, s_geom = [], [], [], [], []
    for t, code in enumerate(TOWNSHIPS):
        x = X0 + t * TW
        t_geom.append(shapely.box(x, Y0, x + TW, Y0 + TH))
        for half in (0, 1):
            vx = x + half * TW / 2
            vc = village_code(t, half)
            pop = 1000 * (t + 1) + 100 * half
            v_rows.append({"code": vc, "name": f"村{t + 1}{'西东'[half]}", "township_code": code, "kind": "村",
                           "population": pop, "households": pop // 3, "area_m2": TW / 2 * TH})
            v_geom.append(shapely.box(vx, Y0, vx + TW / 2, Y0 + TH))
            s_rows.append({"code": vc, "name": f"村{t + 1}{'西东'[half]}", "level": "village_seat", "population": pop,
                           "township_code": code, "village_code": vc})
            s_geom.append(shapely.Point(vx + 500.0, Y0 + 500.0))  # on the road grid
        s_rows.append({"code": code, "name": f"镇{t + 1}", "level": "town_seat", "population": 500 * (t + 1),
                       "township_code": code, "village_code": village_code(t, 0)})
        s_geom.append(shapely.Point(x + 500.0, Y0 + 500.0))
    townships = gpd.GeoDataFrame({"code": TOWNSHIPS, "name": [f"镇{i}" for i in range(1, 7)],
                                  "county_code": "511921", "kind": "镇",
                                  "population": [2100 * (i + 1) + 100 for i in range(6)]},
                                 geometry=_to4490(t_geom))
    villages = gpd.GeoDataFrame(v_rows, geometry=_to4490(v_geom))
    settlements = gpd.GeoDataFrame(s_rows, geometry=_to4490(s_geom))
    # roads: horizontal lines at y = 0, 500, 1000 and vertical lines every 500 m, split at crossings
    lines = []
    xs = np.arange(X0, X0 + 6 * TW + 1, 500.0)
    ys = [Y0, Y0 + 500.0, Y0 + 1000.0]
    for y in ys:
        for a, b in zip(xs[:-1], xs[1:]):
            lines.append(shapely.LineString([(a, y), (b, y)]))
    for x in xs:
        for a, b in zip(ys[:-1], ys[1:]):
            lines.append(shapely.LineString([(x, a), (x, b)]))
    roads = gpd.GeoDataFrame({"id": [f"R{i}" for i in range(len(lines))], "class": "township", "oneway": False},
                             geometry=_to4490(lines))
    return {"township": townships, "village": villages, "settlement": settlements, "road": roads,
            "facility": small_facilities()}


# facilities: (id, kind, township index, village half, capacity, area_m2, dx, dy); position = the village's
# south-west corner + (dx, dy) metres; township_code/village_code left blank for 'F_blank' (placed spatially)
FACILITIES = [
    ("F01", "regional_elderly_centre", 1, 0, 100, 4000, 500, 500),   # Z1 (in T2, not the centre)
    ("F02", "elderly_daycare", 0, 0, 30, 400, 500, 500),             # T1
    ("F03", "elderly_daycare", 3, 1, 30, 400, 500, 500),             # T4
    ("F04", "children_home", 0, 0, 20, 100, 500, 500),               # T1 west
    ("F05", "children_home", 0, 1, 20, 100, 500, 500),               # T1 east
    ("F06", "children_home", 2, 0, 20, 100, 500, 500),               # T3 west
    ("F07", "regional_school", 0, 0, 800, 20000, 500, 500),          # T1 = centre of Z1
    ("F08", "regional_school", 4, 0, 600, 15000, 500, 500),          # T5, not the centre of Z2
    ("F09", "minor_protection_station", 1, 1, 30, 200, 500, 500),    # T2
    ("F10", "shelter_fixed", 0, 1, 3000, 6000, 500, 500),            # Z1
    ("F11", "shelter_fixed", 3, 0, 500, 1500, 500, 500),             # Z2
    ("F12", "supply_reserve", 5, 0, 100, 300, 500, 500),             # Z3
    ("F13", "primary_school", 2, 1, 400, 8000, 500, 500),            # T3
    ("F14", "primary_school", 5, 1, 300, 6000, 500, 500),           # T6
    ("F_blank", "children_home", 1, 0, 15, 80, 250, 250),            # inside T2 west, codes blank
]


def small_facilities() -> gpd.GeoDataFrame:
    rows, geoms = [], []
    for fid, kind, t, half, cap, area, dx, dy in FACILITIES:
        x = X0 + t * TW + half * TW / 2
        rows.append({"id": fid, "kind": kind, "name": f"{fid}{kind}", "capacity": float(cap), "area_m2": float(area),
                     "township_code": None if fid == "F_blank" else TOWNSHIPS[t],
                     "village_code": None if fid == "F_blank" else village_code(t, half)})
        geoms.append(shapely.Point(x + dx, Y0 + dy))
    return gpd.GeoDataFrame(rows, geometry=_to4490(geoms))


def small_zones() -> Zones:
    return Zones(ZONE_OF, CENTRES)


# -- the default county ------------------------------------------------------------------------------
DEFAULT_COUNTY = "511921"


def default_zones(townships: pd.DataFrame, size: int = 3) -> Zones:
    """Zones of ``size`` consecutive township codes, centre = the most populous member."""
    t = townships.sort_values("code")
    codes = t["code"].astype(str).tolist()
    pop = dict(zip(t["code"].astype(str), t["population"]))
    tz = {c: f"Z{i // size + 1:02d}" for i, c in enumerate(codes)}
    centres: dict[str, str] = {}
    for c, z in tz.items():
        if z not in centres or pop[c] > pop[centres[z]]:
            centres[z] = c
    return Zones(tz, centres)


@pytest.fixture(scope="session")
def default_county(tongjiang_layers):
    """(layers, zones, road graph) of the default county (the session's one build)."""
    from pianqu.network import build_graph

    layers = {k: v.copy() for k, v in tongjiang_layers.items()}
    return layers, default_zones(layers["township"]), build_graph(layers["road"])


@pytest.fixture(scope="session")
def default_analysis(default_county):
    from pianqu.services.analysis import analyse_services

    layers, zones, graph = default_county
    return analyse_services(layers, zones=zones, graph=graph, county_code=DEFAULT_COUNTY)
