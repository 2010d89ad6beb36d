"""Area benchmark: pianqu.geo.ellipsoidal_area against pyproj.Geod on ~100k parcel polygons.

Input (synthetic, deterministic): N parcels of a jittered grid (≈ 9 ha cells at 30°N, 8–40
vertices each, one in ten with a hole, a few multipolygons) around 104.5°E, in EPSG:4490 and in
the county's GK zone (EPSG:4544). Methods:

- ``geod``: ``pyproj.Geod(ellps="GRS80").geometry_area_perimeter`` per polygon (the reference);
- ``pianqu`` (4490 input) and ``pianqu_gk`` (GK input, taken back to lon/lat first);
- ``planar_gk``: the planar area in the GK zone, what overlay pieces used to report (for the error).

Writes ``docs/benchmarks/areas.md`` with ``--write``.

    nice python benchmarks/bench_areas.py [--n 100000] [--repeat 3] [--write]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from datetime import date
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyproj
import shapely
from pyproj import Geod

from pianqu.geo import ellipsoidal_area

ROOT = Path(__file__).resolve().parents[1]


def parcels(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    side = int(np.ceil(np.sqrt(n)))
    step = 0.003  # ≈ 290 m × 333 m
    i, j = np.divmod(np.arange(n), side)
    cx, cy = 104.5 + (j - side / 2) * step, 30.0 + (i - side / 2) * step
    out = np.empty(n, dtype=object)
    nv = rng.integers(8, 41, n)
    for k in range(n):
        t = np.linspace(0, 2 * np.pi, nv[k], endpoint=False)
        r = 0.5 * step * (0.75 + 0.2 * rng.uniform(size=nv[k]))
        shell = np.c_[cx[k] + r * np.cos(t), cy[k] + r * np.sin(t)]
        holes = []
        if k % 10 == 0:
            th = np.linspace(0, 2 * np.pi, 8, endpoint=False)[::-1]
            holes = [np.c_[cx[k] + 0.1 * step * np.cos(th), cy[k] + 0.1 * step * np.sin(th)]]
        out[k] = shapely.Polygon(shell, holes)
        if k % 50 == 1:
            out[k] = shapely.MultiPolygon([out[k], shapely.affinity.translate(out[k], 0.0, 1.1 * side * step)])
    return out


def timed(fn, repeat):
    ts, res = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        res = fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts), res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    geoms = parcels(args.n)
    s = gpd.GeoSeries(geoms, crs=4490)
    gk = s.to_crs(4544)
    gk_arr = gk.to_numpy()
    nverts = int(shapely.get_num_coordinates(geoms).sum())
    geod = Geod(ellps="GRS80")
    t_geod, ref = timed(lambda: np.array([abs(geod.geometry_area_perimeter(g)[0]) for g in geoms]), 1)
    rows = [("geod (reference, per polygon)", t_geod, 0.0, 0.0)]
    for name, fn in (("pianqu (EPSG:4490 input)", lambda: ellipsoidal_area(s)),
                     ("pianqu_gk (EPSG:4544 input)", lambda: ellipsoidal_area(gk_arr, crs=4544)),
                     ("planar_gk (GK-zone planar area)", lambda: shapely.area(gk_arr))):
        t, a = timed(fn, args.repeat)
        rel = np.abs(a / ref - 1)
        rows.append((name, t, float(rel.max()), float(np.abs(a - ref).max())))
    lines = [
        "# Area benchmark: one ellipsoidal area function against pyproj.Geod", "",
        f"`benchmarks/bench_areas.py` ({date.today()}, {platform.machine()}, 2 cores shared with other jobs; "
        f"Python {platform.python_version()}, shapely {shapely.__version__}, pyproj {pyproj.__version__}).", "",
        f"**Input**: {args.n:,} parcel polygons ({nverts:,} vertices; ≈ 7 ha each at 30°N, 104.5°E, "
        "8–40 vertices, one in ten with a hole, one in fifty a multipolygon), in EPSG:4490 and in the GK zone "
        "EPSG:4544. *max rel./abs. diff*: against `pyproj.Geod(ellps=\"GRS80\").geometry_area_perimeter` "
        "per polygon (GeographicLib; its own rounding is up to ~5e-5 m² on such parcels). "
        f"Times: median of {args.repeat} runs (Geod: one run).", "",
        "| method | time s | per polygon µs | speed-up vs Geod | max rel. diff | max abs. diff m² |",
        "|---|---|---|---|---|---|"]
    for name, t, rel, ab in rows:
        lines.append(f"| {name} | {t:.2f} | {1e6 * t / args.n:.1f} | {t_geod / t:.1f}× | {rel:.1e} | {ab:.1e} |")
    # a second, exact reference on a sample: PROJ's Albers equal-area centred on each polygon
    from pyproj import CRS
    sample = np.flatnonzero(shapely.get_type_id(geoms) == 3)[:: max(1, args.n // 1000)]
    ours = ellipsoidal_area(s).take(sample)
    aea = np.empty(len(sample))
    for m, k in enumerate(sample):
        x0, y0, x1, y1 = geoms[k].bounds
        crs = CRS.from_proj4(f"+proj=aea +lat_1={y0} +lat_2={y1} +lat_0={(y0 + y1) / 2} +lon_0={(x0 + x1) / 2} "
                             "+ellps=GRS80 +units=m")
        aea[m] = gpd.GeoSeries([geoms[k]], crs=4490).to_crs(crs).area.iloc[0]
    lines += ["", f"On {len(sample):,} of the polygons, against PROJ's Albers equal-area projection centred on each "
              "(exact areas; straight 10–100 m edges equal geodesics to ~1e-11): pianqu max rel. diff "
              f"{np.max(np.abs(ours / aea - 1)):.1e}, Geod {np.max(np.abs(ref[sample] / aea - 1)):.1e} — the "
              "remaining difference to Geod is GeographicLib's rounding (it sums areas down to the equator)."]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.write:
        (ROOT / "docs" / "benchmarks" / "areas.md").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
