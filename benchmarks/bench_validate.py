"""Benchmark of `pianqu validate` at county scale (run with `nice`; not a test).

    .venv/bin/python benchmarks/bench_validate.py [--parcels 50000] [--synth] [--broken]

Builds a county-size workspace (default: ~400 villages in 33 townships, ~50k land parcels,
~10k road segments; Voronoi geometry near 通江县) — or, with ``--synth``, the default county from
``pianqu.synth`` — and times ``validate_workspace`` (reading included) and ``validate_layers``
(in memory), with peak memory. ``--broken`` also shifts one village boundary node and one road
end so that the slow paths (overlap pairs, gap search, union_all) are exercised.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import psutil
import shapely

from pianqu import divisions, standards
from pianqu.geo import ellipsoidal_area
from pianqu.validate import summarise, validate_layers, validate_workspace
from pianqu.workspace import Workspace

COUNTY = "511921"


class PeakMemory:
    """Peak RSS of this process while the block runs (sampled every 20 ms)."""

    def __enter__(self):
        self.proc, self.peak, self.run = psutil.Process(), 0, True
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        return self

    def _sample(self):
        while self.run:
            self.peak = max(self.peak, self.proc.memory_info().rss)
            time.sleep(0.02)

    def __exit__(self, *exc):
        self.run = False
        self.thread.join()


def voronoi(points: np.ndarray, extent) -> np.ndarray:
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(points), extend_to=extent))
    return shapely.intersection(cells, extent)


def build(n_parcels: int, seed: int = 1) -> dict[str, gpd.GeoDataFrame | pd.DataFrame]:
    """A county-size set of layers with every declared field, consistent by construction."""
    rng = np.random.default_rng(seed)
    x0, y0, x1, y1 = 106.95, 31.55, 107.65, 32.25
    extent = shapely.box(x0, y0, x1, y1)
    towns = divisions.townships(COUNTY)
    vills = divisions.villages(COUNTY)
    vills = vills[vills["township_code"].isin(towns["code"])].reset_index(drop=True)
    nv, nt = len(vills), len(towns)
    # villages: Voronoi cells of points grouped by township around township centres
    tc = np.c_[rng.uniform(x0 + 0.05, x1 - 0.05, nt), rng.uniform(y0 + 0.05, y1 - 0.05, nt)]
    t_index = towns.reset_index(drop=True).set_index("code").index.get_indexer(vills["township_code"])
    vp = tc[t_index] + rng.normal(0, 0.03, (nv, 2))
    out = (vp[:, 0] <= x0) | (vp[:, 0] >= x1) | (vp[:, 1] <= y0) | (vp[:, 1] >= y1)
    vp[out] = np.c_[rng.uniform(x0, x1, out.sum()), rng.uniform(y0, y1, out.sum())]
    cells = voronoi(vp, extent)
    # match each cell to the village whose seed it contains
    owner = shapely.STRtree(cells).query(shapely.points(vp), predicate="intersects")
    vgeom = np.empty(nv, dtype=object)
    vgeom[owner[0]] = cells[owner[1]]
    village = gpd.GeoDataFrame({
        "code": vills["code"], "name": vills["name"], "township_code": vills["township_code"],
        "kind": vills["kind"], "population": rng.integers(400, 4000, nv), "households": 0,
        "village_class": rng.choice(["集聚提升", "城郊融合", "特色保护", "搬迁撤并"], nv), "area_m2": 0.0,
    }, geometry=list(vgeom), crs=4490)
    village["households"] = village["population"] // 3
    village["area_m2"] = ellipsoidal_area(village)
    tgeom = [shapely.coverage_union_all(vgeom[t_index == k]) for k in range(nt)]
    pops = village.groupby("township_code")["population"].sum()
    township = gpd.GeoDataFrame({
        "code": towns["code"], "name": towns["name"], "county_code": COUNTY, "kind": towns["kind"],
        "population": towns["code"].map(pops).fillna(0).astype(int), "area_m2": 0.0,
    }, geometry=tgeom, crs=4490)
    township["area_m2"] = ellipsoidal_area(township)
    county = gpd.GeoDataFrame({"code": [COUNTY], "name": ["通江县"],
                               "population": [int(township["population"].sum())], "urban_population": [0]},
                              geometry=[shapely.coverage_union_all(np.asarray(tgeom, dtype=object))], crs=4490)
    # parcels: Voronoi cells clipped to villages
    pcells = voronoi(np.c_[rng.uniform(x0, x1, n_parcels), rng.uniform(y0, y1, n_parcels)], extent)
    a, b = shapely.STRtree(vgeom).query(pcells, predicate="intersects")
    parts = shapely.intersection(pcells[a], vgeom[b])
    keep = (shapely.get_type_id(parts) == 3) & (shapely.area(parts) > 0)
    parts, vb = parts[keep], b[keep]
    table = standards.landuse_codes(2023)
    codes = table[table["level"] == 2].sample(25, random_state=seed)
    pick = rng.integers(0, len(codes), len(parts))
    landuse = gpd.GeoDataFrame({
        "bsm": [f"{COUNTY}2023{k:08d}" for k in range(len(parts))],
        "code": codes["code"].to_numpy()[pick], "name": codes["name"].to_numpy()[pick],
        "czcsxm": "", "epoch": 2023, "area_m2": 0.0,
        "township_code": vills["township_code"].to_numpy()[vb], "village_code": vills["code"].to_numpy()[vb],
        "slope_deg": rng.uniform(0, 40, len(parts)), "source_code": "",
    }, geometry=list(parts), crs=4490)
    landuse["area_m2"] = ellipsoidal_area(landuse)
    # settlements at village points; roads: Delaunay edges over seats and extra nodes
    seats = shapely.points(vp)
    settlement = gpd.GeoDataFrame({
        "code": vills["code"], "name": vills["name"], "level": "village_seat",
        "population": (village["population"] // 3).to_numpy(), "township_code": vills["township_code"],
        "village_code": vills["code"]}, geometry=list(seats), crs=4490)
    settlement.loc[0, "level"] = "county_seat"
    extra = np.c_[rng.uniform(x0, x1, 3300), rng.uniform(y0, y1, 3300)]
    edges = shapely.get_parts(shapely.delaunay_triangles(shapely.multipoints(np.r_[vp, extra]), only_edges=True))
    classes = standards.road_classes().set_index("class")
    cls = rng.choice(["county", "township", "village"], len(edges), p=[0.1, 0.3, 0.6])
    road = gpd.GeoDataFrame({
        "id": [f"R{k:05d}" for k in range(len(edges))], "class": cls, "name": "",
        "lanes": classes.loc[cls, "lanes"].to_numpy(), "width_m": classes.loc[cls, "width_m"].to_numpy(),
        "speed_kmh": classes.loc[cls, "speed_kmh"].to_numpy(), "oneway": False,
    }, geometry=list(edges), crs=4490)
    kinds = standards.facility_kinds()
    fk = rng.integers(0, len(kinds), 1000)
    fv = rng.integers(0, nv, 1000)
    facility = gpd.GeoDataFrame({
        "id": [f"F{k:04d}" for k in range(1000)], "kind": kinds["kind"].to_numpy()[fk],
        "name": kinds["name_zh"].to_numpy()[fk], "level": kinds["level"].to_numpy()[fk],
        "capacity": 10.0, "area_m2": 500.0, "township_code": vills["township_code"].to_numpy()[fv],
        "village_code": vills["code"].to_numpy()[fv]},
        geometry=list(shapely.point_on_surface(vgeom[fv])), crs=4490)
    return {"county": county, "township": township, "village": village, "landuse": landuse,
            "settlement": settlement, "road": road, "facility": facility}


def break_some(layers: dict) -> None:
    """One village boundary vertex moved (overlap + gap) and one road end pulled back 0.5 m."""
    v = layers["village"]
    g = v.geometry.iloc[5]
    pts = np.asarray(g.exterior.coords)
    pts[1] += (0.002, 0.001)
    pts[-1] = pts[0]
    v.loc[v.index[5], "geometry"] = shapely.Polygon(pts)
    r = layers["road"]
    line = np.asarray(r.geometry.iloc[7].coords)
    line[-1] += (line[-2] - line[-1]) * (0.5 / (np.linalg.norm(line[-2] - line[-1]) * 1e5))
    r.loc[r.index[7], "geometry"] = shapely.LineString(line)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--parcels", type=int, default=50000)
    ap.add_argument("--synth", action="store_true", help="use pianqu.synth.write_county (when available)")
    ap.add_argument("--broken", action="store_true")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench_validate_"))
    path = tmp / "county.gpkg"
    t0 = time.perf_counter()
    if args.synth:
        from pianqu.synth import write_county
        ws = write_county(COUNTY, path, seed=1)
        print(f"synth (write_county {COUNTY})    {time.perf_counter() - t0:7.2f} s")
    else:
        layers = build(args.parcels)
        if args.broken:
            break_some(layers)
        print(f"build layers                     {time.perf_counter() - t0:7.2f} s")
        t0 = time.perf_counter()
        ws = Workspace.create(path, county_code=COUNTY, county_name="通江县", synthetic=True,
                              compute_epsg=4545, epochs=(2023,))
        ws.write(layers, command="bench", reason="bench_validate")
        print(f"write workspace                  {time.perf_counter() - t0:7.2f} s")
    ws = Workspace.open(path)
    sizes = {name: len(ws.read(name)) for name in ("township", "village", "landuse", "road", "settlement")
             if ws.has(name)}
    print("features:", ", ".join(f"{k} {v}" for k, v in sizes.items()))
    with PeakMemory() as mem:
        t0, c0 = time.perf_counter(), time.process_time()
        findings = validate_workspace(ws)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(f"validate_workspace (read + check) {wall:7.2f} s   cpu {cpu:6.2f} s   peak RSS {mem.peak / 2**20:5.0f} MiB"
          f"   (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    t0 = time.perf_counter()
    layers = {name: ws.read(name) for name in ws.layers()}
    print(f"read all layers                  {time.perf_counter() - t0:7.2f} s")
    t0, c0 = time.perf_counter(), time.process_time()
    validate_layers(layers, config=ws.config(), county_code=COUNTY, compute_epsg=ws.meta.compute_epsg)
    print(f"validate_layers (in memory)      {time.perf_counter() - t0:7.2f} s   cpu {time.process_time() - c0:6.2f} s")
    print(f"findings: {len(findings)}")
    if findings:
        print(summarise(findings, "en").to_string(index=False))
    for f in findings[:10]:
        print(" ", f.severity, f.rule, f.layer, f.feature, f.field, "|", f.message("en"))
    for p in tmp.iterdir():
        p.unlink()
    os.rmdir(tmp)


if __name__ == "__main__":
    main()
