"""A small realistic county workspace for the report tests, built with shapely (no synthesiser).

Three real townships of 通江县 (NBS codes and names) with three of their real villages each,
on a jittered 9 × 9 grid near 107.25°E 31.9°N: every grid cell is a land parcel, three columns
of cells make a township, three rows of a township's cells make a village. Cells share their
corner nodes, so parcels tile villages and townships exactly (no gaps, no slivers).
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

from pianqu import divisions
from pianqu.geo import ellipsoidal_area
from pianqu.workspace import Workspace

COUNTY = "511921"
N = 9  # grid cells per side
CELL = 0.012  # degrees (≈ 1.1–1.3 km)
X0, Y0 = 107.20, 31.85
CODES = ["0101", "0103", "0301", "0301", "0201", "0702", "1207", "1701", "0303", "0401", "0601",
         "2303", "0801", "1001"]


def grid_nodes(seed: int = 7) -> np.ndarray:
    rng = np.random.default_rng(seed)
    xs, ys = np.meshgrid(X0 + CELL * np.arange(N + 1), Y0 + CELL * np.arange(N + 1))
    nodes = np.stack([xs, ys], axis=-1)
    inner = (slice(1, N), slice(1, N))
    nodes[inner] += rng.uniform(-0.3, 0.3, size=nodes[inner].shape) * CELL
    return nodes  # [row, col, xy]


def build_layers(seed: int = 7) -> dict[str, gpd.GeoDataFrame]:
    nodes = grid_nodes(seed)
    towns = divisions.townships(COUNTY).iloc[[0, 5, 12]].reset_index(drop=True)
    vills = divisions.villages(COUNTY)
    cells, rows = [], []
    for r in range(N):
        for c in range(N):
            ring = [nodes[r, c], nodes[r, c + 1], nodes[r + 1, c + 1], nodes[r + 1, c]]
            cells.append(shapely.Polygon(ring))
            rows.append((r, c))
    cells = np.array(cells, dtype=object)
    tw_of = np.array([c // 3 for r, c in rows])
    vi_of = np.array([r // 3 for r, c in rows])
    village_rows, parcel_rows = [], []
    for ti, town in towns.iterrows():
        its = vills[vills["township_code"] == town["code"]].iloc[:3].reset_index(drop=True)
        assert len(its) == 3, town["name"]
        for vi, v in its.iterrows():
            sel = (tw_of == ti) & (vi_of == vi)
            village_rows.append({"code": v["code"], "name": v["name"], "township_code": town["code"],
                                 "kind": v["kind"], "population": 900 + 150 * (3 * ti + vi),
                                 "households": 300 + 40 * vi, "geometry": shapely.union_all(cells[sel])})
            for k, cell in enumerate(cells[sel]):
                parcel_rows.append({"village_code": v["code"], "township_code": town["code"],
                                    "geometry": cell})
    parcels = gpd.GeoDataFrame(parcel_rows, crs=4490)
    from pianqu.standards import landuse_codes

    names = landuse_codes(2023).set_index("code")["name"]
    parcels["code"] = [CODES[i % len(CODES)] for i in range(len(parcels))]
    parcels["name"] = parcels["code"].map(names)
    parcels["bsm"] = [f"5119212023{i:08d}" for i in range(len(parcels))]
    parcels["epoch"] = 2023
    parcels["area_m2"] = ellipsoidal_area(parcels)
    villages = gpd.GeoDataFrame(village_rows, crs=4490)
    township = gpd.GeoDataFrame({
        "code": towns["code"], "name": towns["name"], "county_code": COUNTY, "kind": towns["kind"],
        "population": villages.groupby("township_code")["population"].sum().reindex(towns["code"]).to_numpy(),
        "geometry": [shapely.union_all(cells[tw_of == i]) for i in range(3)]}, crs=4490)
    county = gpd.GeoDataFrame({"code": [COUNTY], "name": ["通江县"], "population": [int(township["population"].sum())],
                               "urban_population": [int(township["population"].sum() * 0.39)],
                               "geometry": [shapely.union_all(cells)]}, crs=4490)
    # roads, split and noded at the seats: a national road through the three town seats, a provincial road
    # crossing it at the middle seat, and a road from each town seat to each of its village seats
    seats = township.geometry.representative_point()
    vseats = villages.geometry.representative_point()
    west, east = shapely.Point(X0 - 0.002, seats[0].y + 0.004), shapely.Point(X0 + N * CELL + 0.002, seats[2].y)
    south, north = shapely.Point(seats[1].x - 0.003, Y0 - 0.002), shapely.Point(seats[1].x + 0.002, Y0 + N * CELL + 0.002)
    trunk = [west, seats[0], seats[1], seats[2], east]
    roads = [("national", shapely.LineString(trunk[i:i + 2])) for i in range(4)]  # split at every junction
    roads += [("provincial", shapely.LineString([south, seats[1]])),
              ("provincial", shapely.LineString([seats[1], north]))]
    for i, vs in enumerate(vseats):
        tseat = seats[i // 3]
        if not vs.equals(tseat):  # the seat village of a township needs no road to itself
            cls = "county" if i == 2 else "township" if i % 3 == 0 else "village"
            roads.append((cls, shapely.LineString([tseat, vs])))
    road = gpd.GeoDataFrame({"id": [f"R{i:03d}" for i in range(len(roads))], "class": [c for c, _ in roads],
                             "geometry": [g for _, g in roads]}, crs=4490)
    river = gpd.GeoDataFrame({"id": ["H1"], "name": ["诺水河"], "order": [3],
                              "geometry": [shapely.LineString([(X0, Y0 + 0.02), (X0 + 0.04, Y0 + 0.035),
                                                               (X0 + 0.108, Y0 + 0.03)])]}, crs=4490)
    st_rows = [{"code": f"{township.loc[i, 'code']}", "name": f"{township.loc[i, 'name']}驻地",
                "level": "county_seat" if i == 0 else "town_seat", "township_code": township.loc[i, "code"],
                "geometry": seats[i]} for i in range(3)]
    st_rows += [{"code": villages.loc[i, "code"], "name": villages.loc[i, "name"], "level": "village_seat",
                 "township_code": villages.loc[i, "township_code"], "village_code": villages.loc[i, "code"],
                 "geometry": vseats[i]} for i in range(len(villages))]
    settlement = gpd.GeoDataFrame(st_rows, crs=4490)
    return {"county": county, "township": township, "village": villages, "landuse": parcels,
            "road": road, "river": river, "settlement": settlement}


def make_workspace(path: Path, layers: dict[str, gpd.GeoDataFrame] | None = None, *,
                   synthetic: bool = True) -> Workspace:
    layers = layers if layers is not None else build_layers()
    ws = Workspace.create(path, county_code=COUNTY, county_name="通江县", synthetic=synthetic,
                          compute_epsg=4545, epochs=(2023,))
    ws.write(layers, command="test", reason="report fixture")
    return ws



def sample_findings(n: int = 12):
    from pianqu.findings import Finding

    out = [Finding("warning", "test.parcel_overlap", "landuse", f"5119212023{i:08d}", "",
                   {"area": 3.5 + i}) for i in range(n)]
    out.insert(3, Finding("error", "test.unrendered_rule", "township", "511921100", "population", {"x": 1}))
    return out
