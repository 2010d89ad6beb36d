"""The clean fixture of the broken-input corpus: a small realistic county built with shapely.

Three real towns of 通江县 (511921, NBS codes and names) with three of their real villages each,
on a jittered 6 × 6 grid of nodes near 107.2°E 31.8°N (cells ≈ 0.95 × 1.0 km). Every cell is a
land parcel (four of them split along a diagonal: 40 parcels); 2 × 2 cells make a village and a
column of three villages makes a township. All polygons are built from the same node
coordinates, so parcels tile villages, villages tile townships and townships tile the county
exactly. Settlements sit in their villages, roads are noded at every junction (a county road
through the town seats, a provincial road through the county seat, a village road from each
village seat to the county road, and one village road joining two village seats so that the
network has a loop), facilities are of listed kinds and lie where their codes say.

Every declared field of every layer is present and consistent, so the clean fixture produces
no finding at all; each corpus case breaks it in one way.
"""

from __future__ import annotations

import copy
from functools import cache

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from pianqu import divisions, standards
from pianqu.geo import ellipsoidal_area
from pianqu.synth.county import with_deductions
from pianqu.workspace import Workspace

COUNTY = "511921"
COUNTY_NAME = "通江县"
TOWNSHIPS = ["511921100", "511921101", "511921102"]  # 诺江镇, 民胜镇, 火炬镇
NT, NV = 3, 3  # townships, villages per township
NX, NY = 2 * NT, 2 * NV  # parcel cells
X0, Y0, DX, DY = 107.20, 31.80, 0.010, 0.009
COMPUTE_EPSG = 4545  # CGCS2000 3° GK, CM 108°E
SPLIT = {(0, 0), (2, 3), (4, 5), (5, 1)}  # cells split along a diagonal into two parcels
# land use by cell row (bottom to top) and a few special cells
ROW_CODES = ["0301", "0103", "0101", "0102", "0103", "0303"]
SPECIAL = {(1, 3): ("0703", "203"), (3, 3): ("0703", "203"), (5, 3): ("0703", "203"),
           (1, 2): ("0701", "202"), (0, 4): ("1701", ""), (4, 2): ("0801", "202"),
           (2, 5): ("0403", ""), (3, 0): ("1202", "")}


def crs_frame(rows: list[dict], geometry: list) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(pd.DataFrame(rows), geometry=list(geometry), crs=4490)


def nodes(seed: int = 11) -> np.ndarray:
    """Grid nodes [ix, iy] → (lon, lat); interior nodes jittered, the county edge straight."""
    rng = np.random.default_rng(seed)
    xs, ys = np.meshgrid(X0 + DX * np.arange(NX + 1), Y0 + DY * np.arange(NY + 1), indexing="ij")
    out = np.stack([xs, ys], axis=-1)
    jitter = rng.uniform(-0.12, 0.12, size=(NX - 1, NY - 1, 2)) * np.array([DX, DY])
    out[1:NX, 1:NY] += jitter
    return out


def ring(n: np.ndarray, path: list[tuple[int, int]]) -> shapely.Polygon:
    return shapely.Polygon([tuple(n[i, j]) for i, j in path])


def boundary_path(i0: int, j0: int, i1: int, j1: int) -> list[tuple[int, int]]:
    """Nodes around the block of cells [i0, i1) × [j0, j1), counter-clockwise, every node kept."""
    path = [(i, j0) for i in range(i0, i1)] + [(i1, j) for j in range(j0, j1)]
    path += [(i, j1) for i in range(i1, i0, -1)] + [(i0, j) for j in range(j1, j0, -1)]
    return path


def village_code(t: int, v: int) -> str:
    return _village_table()[t][v][0]


@cache
def _village_table() -> list[list[tuple[str, str, str]]]:
    vills = divisions.villages(COUNTY)
    out = []
    for code in TOWNSHIPS:
        rows = vills[vills["township_code"] == code].head(NV)
        out.append([(r.code, r.name, r.kind) for r in rows.itertuples()])
    return out


def _seat(n: np.ndarray, t: int, v: int, dx: float, dy: float) -> shapely.Point:
    cx, cy = n[2 * t + 1, 2 * v + 1]
    return shapely.Point(cx + dx * DX, cy + dy * DY)


def _build() -> dict[str, gpd.GeoDataFrame | pd.DataFrame]:
    n = nodes()
    names = divisions.townships(COUNTY).set_index("code")
    names_zh = dict(zip(standards.landuse_codes(2023)["code"], standards.landuse_codes(2023)["name"]))
    vt = _village_table()

    # -- county, townships, villages ----------------------------------------------------------
    county_geom = ring(n, boundary_path(0, 0, NX, NY))
    town_geoms = [ring(n, boundary_path(2 * t, 0, 2 * t + 2, NY)) for t in range(NT)]
    vill_rows, vill_geoms = [], []
    town_pop = []
    classes = ["集聚提升", "城郊融合", "特色保护", "搬迁撤并"]
    k = 0
    for t in range(NT):
        total = 0
        for v in range(NV):
            code, name, kind = vt[t][v]
            pop = 900 + 350 * k + (4000 if v == 1 else 0)  # the town's own community is larger
            total += pop
            vill_rows.append({"code": code, "name": name, "township_code": TOWNSHIPS[t], "kind": kind,
                              "population": pop, "households": pop // 3,
                              "village_class": classes[k % 4], "area_m2": 0.0})
            vill_geoms.append(ring(n, boundary_path(2 * t, 2 * v, 2 * t + 2, 2 * v + 2)))
            k += 1
        town_pop.append(total)
    village = crs_frame(vill_rows, vill_geoms)
    village["area_m2"] = ellipsoidal_area(village)
    township = crs_frame([{"code": c, "name": names.at[c, "name"], "county_code": COUNTY,
                           "kind": names.at[c, "kind"], "population": town_pop[t], "area_m2": 0.0}
                          for t, c in enumerate(TOWNSHIPS)], town_geoms)
    township["area_m2"] = ellipsoidal_area(township)
    county = crs_frame([{"code": COUNTY, "name": COUNTY_NAME, "population": sum(town_pop),
                         "urban_population": 14000}], [county_geom])

    # -- land parcels -------------------------------------------------------------------------
    rows, geoms = [], []
    serial = 0
    for i in range(NX):
        for j in range(NY):
            t, v = i // 2, j // 2
            corners = [(i, j), (i + 1, j), (i + 1, j + 1), (i, j + 1)]
            parts = [corners]
            if (i, j) in SPLIT:
                parts = [[corners[0], corners[1], corners[2]], [corners[0], corners[2], corners[3]]]
            for p, part in enumerate(parts):
                code, cz = SPECIAL.get((i, j), (ROW_CODES[j], ""))
                if p == 1 and code == "0301":
                    code = "0304"  # the other half of a split forest cell is 其他林地
                if p == 1 and code.startswith("01"):
                    code, cz = "0601", ""  # a strip of 农村道路 between two fields
                serial += 1
                rows.append({"bsm": f"{COUNTY}2023{serial:08d}", "code": code, "name": names_zh[code],
                             "czcsxm": cz, "epoch": 2023, "area_m2": 0.0, "township_code": TOWNSHIPS[t],
                             "village_code": vt[t][v][0], "slope_deg": float(3 + 4 * j + (i % 3)),
                             "source_code": code})
                geoms.append(ring(n, part))
    landuse = crs_frame(rows, geoms)
    landuse["area_m2"] = ellipsoidal_area(landuse)
    landuse = with_deductions(landuse)  # the 三调 扣除 fields KCXS/KCMJ/TBDLMJ, as a real DLTB has them

    # -- settlements --------------------------------------------------------------------------
    s_rows, s_geoms = [], []
    s_rows.append({"code": COUNTY, "name": "通江县城", "level": "county_seat", "population": 52000,
                   "township_code": TOWNSHIPS[0], "village_code": vt[0][1][0]})
    s_geoms.append(_seat(n, 0, 1, -0.30, 0.25))
    for t in range(NT):
        s_rows.append({"code": TOWNSHIPS[t], "name": f"{names.at[TOWNSHIPS[t], 'name']}场镇",
                       "level": "town_seat", "population": 3000 + 500 * t,
                       "township_code": TOWNSHIPS[t], "village_code": vt[t][1][0]})
        s_geoms.append(_seat(n, t, 1, -0.25, -0.20))
        for v in range(NV):
            pop = int(village.loc[t * NV + v, "population"]) // 3
            s_rows.append({"code": vt[t][v][0], "name": vt[t][v][1], "level": "village_seat",
                           "population": pop, "township_code": TOWNSHIPS[t], "village_code": vt[t][v][0]})
            s_geoms.append(_seat(n, t, v, 0.25, 0.30 if v != 1 else 0.20))
    settlement = crs_frame(s_rows, s_geoms)

    # -- roads --------------------------------------------------------------------------------
    road_rows, road_geoms = [], []

    def add_road(rid: str, cls: str, coords: list[tuple[float, float]], name: str = "") -> None:
        spec = standards.road_classes().set_index("class").loc[cls]
        road_rows.append({"id": rid, "class": cls, "name": name, "lanes": int(spec["lanes"]),
                          "width_m": float(spec["width_m"]), "speed_kmh": float(spec["speed_kmh"]),
                          "oneway": False})
        road_geoms.append(shapely.LineString(coords))

    town_seats = [s_geoms[1 + t * (NV + 1)] for t in range(NT)]
    west = (X0 - 0.004, town_seats[0].y)
    east = (X0 + NX * DX + 0.004, town_seats[-1].y)
    main = shapely.LineString([west] + [(p.x, p.y) for p in town_seats] + [east])
    # junctions: the county road's nearest point to each village seat (not the towns' own)
    seats = {(t, v): s_geoms[2 + t * (NV + 1) + v] for t in range(NT) for v in range(NV)}
    junction = {key: main.interpolate(main.project(p)) for key, p in seats.items()}
    stops = sorted({0.0, main.length} | {main.project(p) for p in town_seats}
                   | {main.project(j) for j in junction.values()})
    coords = {d: tuple(main.interpolate(d).coords[0]) for d in stops}
    vertex_d = [main.project(shapely.Point(c)) for c in main.coords]
    for a, b in zip(stops[:-1], stops[1:]):
        inner = [tuple(c) for c, d in zip(main.coords, vertex_d) if a < d < b]
        add_road(f"C{len(road_rows) + 1:02d}", "county", [coords[a], *inner, coords[b]], "通诺路")
    for (t, v), p in seats.items():
        j = coords[min(stops, key=lambda d: abs(d - main.project(junction[(t, v)])))]
        add_road(f"V{t}{v}", "village", [(p.x, p.y), j])
    # the provincial road crosses the county through the county seat's town seat
    hub = town_seats[0]
    add_road("S1", "provincial", [(hub.x + 0.001, Y0 - 0.004), (hub.x, hub.y)], "省道 S101")
    add_road("S2", "provincial", [(hub.x, hub.y), (hub.x - 0.002, Y0 + NY * DY + 0.004)], "省道 S101")
    # a village road joining two village seats (a loop in the network)
    add_road("L1", "village", [(seats[(1, 0)].x, seats[(1, 0)].y), (seats[(2, 0)].x, seats[(2, 0)].y)])
    road = crs_frame(road_rows, road_geoms)

    river = crs_frame([{"id": "H1", "name": "诺江", "order": 3}],
                      [shapely.LineString([(X0 - 0.005, Y0 + 4.2 * DY), (X0 + 3 * DX, Y0 + 4.6 * DY),
                                           (X0 + NX * DX + 0.005, Y0 + 4.1 * DY)])])

    # -- facilities ---------------------------------------------------------------------------
    f_rows, f_geoms = [], []

    def add_facility(kind: str, t: int, v: int, dx: float, dy: float, capacity: float) -> None:
        name = standards.facility_kinds().set_index("kind").at[kind, "name_zh"]
        level = standards.facility_kinds().set_index("kind").at[kind, "level"]
        f_rows.append({"id": f"F{len(f_rows) + 1:03d}", "kind": kind, "name": name, "level": level,
                       "capacity": capacity, "area_m2": 800.0 + 100 * len(f_rows),
                       "township_code": TOWNSHIPS[t], "village_code": vt[t][v][0]})
        f_geoms.append(_seat(n, t, v, dx, dy))

    for t in range(NT):
        add_facility("health_centre", t, 1, -0.15, -0.30, 30 + 10 * t)
        add_facility("primary_school", t, 1, -0.35, -0.10, 600)
        add_facility("elderly_daycare", t, 1, -0.10, -0.10, 40)
    add_facility("middle_school", 0, 1, -0.40, 0.35, 1200)
    for t, v in [(0, 0), (0, 2), (1, 0), (2, 2)]:
        add_facility("village_clinic", t, v, 0.35, 0.20, 2)
    add_facility("children_home", 1, 2, 0.15, 0.40, 30)
    facility = crs_frame(f_rows, f_geoms)

    # -- control lines, telecom, hazard, economy ----------------------------------------------
    pbf = crs_frame([{"id": "YJJBNT01", "status": "已划定", "area_m2": 0.0},
                     {"id": "YJJBNT02", "status": "已划定", "area_m2": 0.0}],
                    [geoms[2], geoms[8]])
    pbf["area_m2"] = ellipsoidal_area(pbf)
    eco = crs_frame([{"id": "STBHHX01", "status": "已划定", "core_zone": False, "kind": "水源涵养",
                      "area_m2": 0.0}], [geoms[-1]])
    eco["area_m2"] = ellipsoidal_area(eco)
    urban = crs_frame([{"id": "CZKFBJ01", "status": "已划定", "township_code": TOWNSHIPS[0], "area_m2": 0.0}],
                      [shapely.buffer(town_seats[0], 0.002, quad_segs=4)])
    urban["area_m2"] = ellipsoidal_area(urban)
    telecom = crs_frame([{"id": "T4G", "tech": "4G"}, {"id": "T5G", "tech": "5G"}],
                        [county_geom, shapely.buffer(town_seats[0], 0.01, quad_segs=4)])
    hazard = crs_frame([{"id": "DZ01", "kind": "地灾", "level": "中"}],
                       [shapely.buffer(_seat(n, 2, 2, -0.3, 0.3), 0.001, quad_segs=4)])
    economy = pd.DataFrame([{"township_code": c, "sector": s, "output": 12000.0 + 3000 * t + 500 * k,
                             "employment": 800 + 100 * k, "year": 2022}
                            for t, c in enumerate(TOWNSHIPS) for k, s in enumerate(["grain_oil", "tea"])])
    # -- approvals, reserve land, projects (the land engine's optional inputs) ------------------
    approvals = crs_frame([{"id": "NZY01", "approval_no": "川府土〔2024〕12号", "date": "2024-05-20",
                            "kind": "农用地转用", "approved_code": "0701", "area_m2": 0.0,
                            "township_code": TOWNSHIPS[1]}],
                          [shapely.buffer(town_seats[1], 0.0008, quad_segs=4)])
    approvals["area_m2"] = ellipsoidal_area(approvals)
    reserve = crs_frame([{"id": "LB01", "kind": "战略留白", "township_code": TOWNSHIPS[0], "area_m2": 0.0}],
                        [shapely.buffer(shapely.Point(town_seats[0].x + 0.001, town_seats[0].y), 0.0005,
                                        quad_segs=4)])
    reserve["area_m2"] = ellipsoidal_area(reserve)
    projects = crs_frame([{"id": "XM01", "name": "乡道改建工程", "kind": "transport", "major": False,
                           "level": "", "source": "县交通专项规划"}],
                         [shapely.buffer(shapely.LineString([town_seats[0], town_seats[1]]), 0.0002)])
    targets = pd.DataFrame({"indicator": ["farmland", "pbf", "village"], "target_ha": [3.0, 2.0, 0.4],
                            "year": [2035] * 3, "source": ["市级国土空间总体规划指标分解"] * 3})
    return {"targets": targets, "county": county, "township": township, "village": village, "settlement": settlement,
            "landuse": landuse, "farmland_pbf": pbf, "eco_redline": eco, "urban_boundary": urban,
            "road": road, "river": river, "facility": facility, "telecom": telecom, "hazard": hazard,
            "economy": economy, "approvals": approvals, "reserve": reserve, "projects": projects}


@cache
def _clean() -> dict:
    return _build()


def clean_layers() -> dict[str, gpd.GeoDataFrame | pd.DataFrame]:
    """A fresh deep copy of the clean fixture (cases may change it freely)."""
    return copy.deepcopy(_clean())


def write_workspace(path, layers: dict, *, county_code: str = COUNTY, landuse_version: int | None = None,
                    epochs: tuple[int, ...] = (2023,)) -> Workspace:
    """A GeoPackage workspace holding ``layers`` (as `pianqu synth`/`import` would write it)."""
    ws = Workspace.create(path, county_code=county_code, county_name=COUNTY_NAME, synthetic=True,
                          compute_epsg=COMPUTE_EPSG, epochs=epochs)
    meta = {"landuse_version": landuse_version} if landuse_version else None
    ws.write(layers, command="test", reason="validate corpus fixture", meta_updates=meta)
    return ws


def parcel_bsm(i: int, j: int, part: int = 0) -> str:
    """The bsm of the parcel in cell (i, j) (part 1: the second triangle of a split cell)."""
    serial = 0
    for ii in range(NX):
        for jj in range(NY):
            for p in range(2 if (ii, jj) in SPLIT else 1):
                serial += 1
                if (ii, jj, p) == (i, j, part):
                    return f"{COUNTY}2023{serial:08d}"
    raise KeyError((i, j, part))


def row_of(frame, column: str, value) -> int:
    """The positional row of the feature whose ``column`` equals ``value``."""
    hits = list(frame.index[frame[column] == value])
    assert len(hits) == 1, (column, value, hits)
    return frame.index.get_loc(hits[0])
