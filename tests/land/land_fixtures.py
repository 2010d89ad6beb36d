"""A small realistic county for the land tests, built with shapely in the GK zone of CM 105°E.

80 × 50 jittered parcels of about 40 m × 40 m (4000 parcels, 3.2 km × 2.0 km) tile 40 villages
(10 × 10 parcels each), which tile 12 townships (2 × 2 villages, the top row 2 × 1) grouped into
3 zones. Land use
follows a terrain field: paddy and irrigated land in the valley along a river, dry land and
orchards on the slopes, forest and grass on the ridges; a town (建制镇, CZCSXM 202) in the valley;
a homestead cluster at every village seat and a few scattered homesteads; some farmland cells
isolated in the forest (fragments) and some dry land on slopes over 25°.

Control lines: permanent basic farmland = the farmland of the valley dissolved per village
(one feature per contiguous block), two red-line blobs on the ridges that reach down into the
farmland (one a protected-area core zone), an urban development boundary around the town that
takes some farmland and part of a red line, and three reserve (留白) squares (one on farmland,
one in the red line, one clean). Overlaps are not hard-coded: the tests compute them
independently with geopandas.
"""

from __future__ import annotations

from functools import cache

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from pianqu.geo import STORAGE_EPSG
from pianqu.testing.land import DEFAULT_ORIGIN, blob, parcel_grid

EPSG = 4544
NX, NY, CELL = 80, 50, 40.0
VX, VY = 10, 10  # parcels per village
X0, Y0 = DEFAULT_ORIGIN
W, H = NX * CELL, NY * CELL
COUNTY = "511921"


def _codes(u: np.ndarray, v: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Land-use code, CZCSXM and slope per cell from a terrain field (u, v in 0..1)."""
    river = np.abs(v - 0.45 - 0.08 * np.sin(2 * np.pi * u)) < 0.012
    z = np.abs(v - 0.45 - 0.08 * np.sin(2 * np.pi * u)) * 1.6 + 0.15 * np.sin(5 * u) ** 2
    code = np.full(len(u), "0301", dtype=object)
    code[z > 0.95] = "0401"
    code[(z >= 0.55) & (z < 0.65)] = "0201"
    code[z < 0.55] = "0103"
    code[z < 0.38] = "0102"
    code[z < 0.22] = "0101"
    slope = np.clip(3 + 40 * z ** 2 + rng.normal(0, 1.5, len(u)), 0.5, 60)
    steep = (code == "0103") & (rng.random(len(u)) < 0.25)
    slope[steep] = rng.uniform(26, 35, steep.sum())
    # farmland islands in the forest: fragments
    islands = (code == "0301") & (rng.random(len(u)) < 0.04)
    code[islands] = "0103"
    code[river] = "1701"
    czcsxm = np.full(len(u), "", dtype=object)
    town = np.hypot((u - 0.30) * W, (v - 0.40) * H) < 260
    code[town] = np.array(["0701", "0801", "0901", "1001", "1207"], dtype=object)[rng.integers(0, 5, town.sum())]
    czcsxm[town] = "202"
    return code, czcsxm, slope


@cache
def county() -> dict[str, gpd.GeoDataFrame]:
    """Layers in EPSG:4490 (landuse, village, township, zone_member, farmland_pbf, eco_redline,
    urban_boundary, reserve, hazard) plus the same in the GK zone under ``gk:<name>``."""
    rng = np.random.default_rng(7)
    p = parcel_grid(NX, NY, CELL, jitter=0.25, seed=3, epsg=EPSG)
    u, v = (p["col"].to_numpy() + 0.5) / NX, (p["row"].to_numpy() + 0.5) / NY
    code, czcsxm, slope = _codes(u, v, rng)
    vcol, vrow = p["col"].to_numpy() // VX, p["row"].to_numpy() // VY
    nvx = NX // VX
    vid = vrow * nvx + vcol
    tid = (vrow // 2) * (nvx // 2) + vcol // 2
    # a homestead cluster (2 × 2 parcels) at every village seat, and a few scattered ones
    lc, lr = p["col"].to_numpy() % VX, p["row"].to_numpy() % VY
    cluster = (lc >= 4) & (lc < 6) & (lr >= 6) & (lr < 8) & (czcsxm == "")
    code[cluster] = "0703"
    czcsxm[cluster] = "203"
    lone = (rng.random(len(p)) < 0.01) & (czcsxm == "") & (code != "1701")
    code[lone] = "0703"
    czcsxm[lone] = "203"
    township_codes = np.array([f"{COUNTY}{100 + k:03d}" for k in range(tid.max() + 1)])
    village_codes = np.array([f"{township_codes[tid[np.flatnonzero(vid == k)[0]]]}{200 + k:03d}"
                              for k in range(vid.max() + 1)])
    from pianqu.standards import landuse_codes
    names = landuse_codes(2023).set_index("code")["name"]
    landuse = gpd.GeoDataFrame({
        "bsm": p["bsm"].to_numpy(), "code": code, "name": pd.Series(code).map(names).to_numpy(),
        "czcsxm": czcsxm, "epoch": 2020, "township_code": township_codes[tid], "village_code": village_codes[vid],
        "slope_deg": np.round(slope, 1)}, geometry=p.geometry.to_numpy(), crs=EPSG)
    village = gpd.GeoDataFrame(
        {"code": village_codes, "name": [f"村{k}" for k in range(len(village_codes))],
         "township_code": [c[:9] for c in village_codes], "population": rng.integers(300, 2000, len(village_codes))},
        geometry=[shapely.coverage_union_all(p.geometry.to_numpy()[vid == k]) for k in range(len(village_codes))],
        crs=EPSG)
    township = gpd.GeoDataFrame(
        {"code": township_codes, "name": [f"镇{k}" for k in range(len(township_codes))], "county_code": COUNTY,
         "kind": "镇", "population": 0},
        geometry=[shapely.coverage_union_all(p.geometry.to_numpy()[tid == k]) for k in range(len(township_codes))],
        crs=EPSG)
    zone_of = {c: f"Z{1 + min(int(c[-2:]) * 3 // len(township_codes), 2)}" for c in township_codes}
    zone_member = pd.DataFrame({"code": list(zone_of), "zone": list(zone_of.values())})

    # permanent basic farmland: valley farmland (0101/0102 and some 0103) dissolved per village block
    farm = landuse[landuse["code"].isin(["0101", "0102"]) | ((landuse["code"] == "0103") & (v < 0.6) & (v > 0.3))]
    pbf_parts = []
    for vc, g in farm.groupby("village_code"):
        merged = shapely.coverage_union_all(g.geometry.to_numpy())
        for k, part in enumerate(shapely.get_parts(merged)):
            pbf_parts.append({"id": f"PBF-{vc[-6:]}-{k}", "status": "draft", "geometry": part})
    farmland_pbf = gpd.GeoDataFrame(pbf_parts, crs=EPSG)

    # red line: two ridge blobs reaching into the valley; the first is a core zone
    red = [blob(X0 + 0.75 * W, Y0 + 0.80 * H, 520, n_vertices=900, roughness=0.25, seed=11),
           blob(X0 + 0.12 * W, Y0 + 0.10 * H, 520, n_vertices=900, roughness=0.25, seed=12)]
    eco_redline = gpd.GeoDataFrame({"id": ["HX-1", "HX-2"], "status": "draft", "core_zone": [True, False],
                                    "kind": ["自然保护区", "水源涵养"]}, geometry=red, crs=EPSG)
    udb = blob(X0 + 0.30 * W, Y0 + 0.40 * H, 330, n_vertices=400, roughness=0.2, seed=13)
    urban_boundary = gpd.GeoDataFrame({"id": ["KFBJ-1"], "status": "draft", "township_code": [township_codes[0]]},
                                      geometry=[udb], crs=EPSG)
    sq = lambda cx, cy, s: shapely.box(cx - s, cy - s, cx + s, cy + s)  # noqa: E731
    reserve = gpd.GeoDataFrame({"id": ["LB-1", "LB-2", "LB-3"]}, geometry=[
        sq(X0 + 0.60 * W, Y0 + 0.45 * H, 30), sq(X0 + 0.75 * W, Y0 + 0.85 * H, 30), sq(X0 + 0.05 * W, Y0 + 0.97 * H, 25)],
        crs=EPSG)
    hazard = gpd.GeoDataFrame({"id": ["ZH-1"], "kind": ["地灾"], "level": ["高"]},
                              geometry=[blob(X0 + 0.55 * W, Y0 + 0.20 * H, 250, seed=14)], crs=EPSG)
    gk = {"landuse": landuse, "village": village, "township": township, "farmland_pbf": farmland_pbf,
          "eco_redline": eco_redline, "urban_boundary": urban_boundary, "reserve": reserve, "hazard": hazard}
    out: dict = {name: f.to_crs(STORAGE_EPSG) for name, f in gk.items()}
    out.update({f"gk:{name}": f for name, f in gk.items()})
    out["zone_member"] = zone_member
    return out


def layers() -> dict[str, gpd.GeoDataFrame]:
    """Fresh copies (tests may modify them)."""
    return {k: v.copy() for k, v in county().items()}
