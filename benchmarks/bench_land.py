"""Land benchmark: the control-line conflict overlay, pianqu's engine against geopandas.overlay.

Input (synthetic, vectorised, deterministic): a province subset of N permanent-basic-farmland
parcels (jittered 50 m quadrilaterals tiling a square, as YJJBNT holds one feature per parcel),
an ecological red line of 40 detailed blobs (3000 vertices each, about 30 % of the area, a
quarter of them protected-area core zones) and 15 urban development boundaries (600 vertices).
The conflict overlay is farmland ∩ red line plus farmland ∩ development boundary.

Methods, each in a fresh subprocess (so ``ru_maxrss`` is its own peak), on the same GeoParquet:

- ``geopandas``: ``geopandas.overlay(parcels, lines, how="intersection", keep_geom_type=True)``;
- ``pianqu``: ``pianqu.land.overlay.overlay`` (same output: attributes of both sides, geometry,
  area), the engine under :func:`pianqu.land.detect_conflicts`;
- ``pianqu_conflicts``: the whole :func:`pianqu.land.detect_conflicts` (rules from data, stable
  ids, areas in m²/ha/亩, EPSG:4490 patches), for reference.

Areas of every (parcel, line) pair are compared between the two overlays. Writes
``docs/benchmarks/land.md`` with ``--write``.

    nice python benchmarks/bench_land.py [--sizes 100000,1000000] [--repeat 3] [--write]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

GEN = textwrap.dedent("""
    import sys, math
    import numpy as np, geopandas as gpd
    from pianqu.testing.land import parcel_grid, blobs, DEFAULT_ORIGIN, DEFAULT_EPSG
    n, out = int(sys.argv[1]), sys.argv[2]
    side = int(math.ceil(math.sqrt(n)))
    nx, ny = side, int(math.ceil(n / side))
    cell = 50.0
    p = parcel_grid(nx, ny, cell, seed=1).iloc[:n]
    p = p.rename(columns={"bsm": "id"})[["id", "geometry"]]
    x0, y0 = DEFAULT_ORIGIN
    W, H = nx * cell, ny * cell
    red = blobs(40, (x0, y0, x0 + W, y0 + H), (0.02 * W, 0.08 * W), n_vertices=3000, roughness=0.3, seed=2)
    udb = blobs(15, (x0, y0, x0 + W, y0 + H), (0.005 * W, 0.015 * W), n_vertices=600, roughness=0.2, seed=3,
                separate=False)
    gpd.GeoDataFrame({"id": [f"HX-{k}" for k in range(len(red))], "core_zone": np.arange(len(red)) % 4 == 0},
                     geometry=red, crs=DEFAULT_EPSG).to_parquet(out + "/redline.parquet")
    gpd.GeoDataFrame({"id": [f"KFBJ-{k}" for k in range(len(udb))]}, geometry=udb,
                     crs=DEFAULT_EPSG).to_parquet(out + "/udb.parquet")
    p.to_parquet(out + "/pbf.parquet")
    print(len(p), len(red), len(udb))
""")

JOB = textwrap.dedent("""
    import json, resource, sys, time
    import geopandas as gpd, pandas as pd
    method, d = sys.argv[1], sys.argv[2]
    pbf = gpd.read_parquet(d + "/pbf.parquet")
    red = gpd.read_parquet(d + "/redline.parquet")
    udb = gpd.read_parquet(d + "/udb.parquet")
    epsg = pbf.crs.to_epsg()
    if method == "pianqu_conflicts":  # as the workspace stores them
        pbf, red, udb = pbf.to_crs(4490), red.to_crs(4490), udb.to_crs(4490)
    import pianqu.land  # imports outside the timing
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.perf_counter()
    if method == "geopandas":
        a = gpd.overlay(pbf, red[["id", "geometry"]], how="intersection", keep_geom_type=True)
        b = gpd.overlay(pbf, udb, how="intersection", keep_geom_type=True)
        dt = time.perf_counter() - t0
        a["area_m2"], b["area_m2"] = a.area, b.area
    elif method == "pianqu":
        from pianqu.land.overlay import overlay
        a = overlay(pbf, red[["id", "geometry"]], epsg=epsg)
        b = overlay(pbf, udb, epsg=epsg)
        dt = time.perf_counter() - t0
    else:
        from pianqu.land import detect_conflicts
        c = detect_conflicts({"farmland_pbf": pbf, "eco_redline": red, "urban_boundary": udb}, epsg=epsg)
        dt = time.perf_counter() - t0
        res = {"s": dt, "pairs": len(c), "area_m2": float(c["area_m2"].sum())}
    if method != "pianqu_conflicts":
        pairs = pd.concat([a[["id_1", "id_2", "area_m2"]], b[["id_1", "id_2", "area_m2"]]], ignore_index=True)
        pairs = pairs[pairs["area_m2"] > 0]
        pairs.to_parquet(d + f"/pairs_{method}.parquet")
        res = {"s": dt, "pairs": len(pairs), "area_m2": float(pairs["area_m2"].sum())}
    res["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    res["input_rss_mb"] = rss0
    print(json.dumps(res))
""")


COUNTY = textwrap.dedent("""
    import json, sys, time
    import numpy as np, geopandas as gpd, pandas as pd
    from pianqu.testing.land import parcel_grid, blobs, DEFAULT_ORIGIN
    from pianqu.land import (detect_conflicts, apply_conflicts, three_spaces, unit_capacities, allocate_quotas,
                             simulate_epoch, change_pieces, violation_tickets, transition_matrix,
                             consolidation_potential, grain_bases, check_siting)
    from pianqu.land.common import zone_polygons
    from pianqu.land import stats
    n, cell, E = int(sys.argv[1]), 60.0, 4544
    p = parcel_grid(n, n, cell, seed=5)
    rng = np.random.default_rng(1)
    u, v = (p["col"].to_numpy() + .5) / n, (p["row"].to_numpy() + .5) / n
    z = np.abs(np.sin(3 * np.pi * u) * .5 + np.cos(2 * np.pi * v) * .5) + rng.normal(0, .05, len(p))
    code = np.select([z < .25, z < .45, z < .55, z < .6, z < .9], ["0101", "0102", "0103", "0703", "0301"], "0401")
    code[rng.random(len(p)) < .02] = "1001"
    W = n * cell
    x0, y0 = DEFAULT_ORIGIN
    vx, vy = p["col"].to_numpy() // 40, p["row"].to_numpy() // 40
    nv = int(np.ceil(n / 40))
    village = np.char.add("511921", np.char.zfill((vy * nv + vx).astype(str), 6))
    tship = np.char.add("511921", np.char.zfill(((vy // 4) * int(np.ceil(nv / 4)) + vx // 4).astype(str), 3))
    lu = gpd.GeoDataFrame({"bsm": p["bsm"], "code": code,
                           "czcsxm": np.where(code == "1001", "202", np.where(code == "0703", "203", "")),
                           "epoch": 2020, "village_code": village, "township_code": tship,
                           "slope_deg": np.clip(z * 40, 0, 60)}, geometry=p.geometry, crs=p.crs).to_crs(4490)
    farm = lu[lu.code.str[:2] == "01"]
    pbf = farm.iloc[::2][["bsm", "geometry"]].rename(columns={"bsm": "id"})
    red = gpd.GeoDataFrame({"id": [f"H{k}" for k in range(20)], "core_zone": np.arange(20) % 3 == 0},
                           geometry=blobs(20, (x0, y0, x0 + W, y0 + W), (W * .03, W * .08), n_vertices=2000, seed=3),
                           crs=E).to_crs(4490)
    udb = gpd.GeoDataFrame({"id": [f"U{k}" for k in range(5)]},
                           geometry=blobs(5, (x0, y0, x0 + W, y0 + W), (W * .02, W * .04), n_vertices=500, seed=4),
                           crs=E).to_crs(4490)
    tw = lu[["township_code", "geometry"]].to_crs(E).dissolve("township_code").reset_index() \
        .rename(columns={"township_code": "code"})
    zm = pd.DataFrame({"code": tw.code, "zone": ["Z%d" % (k % 5) for k in range(len(tw))]})
    lines = {"farmland_pbf": pbf, "eco_redline": red, "urban_boundary": udb}
    out = {"parcels": len(lu), "pbf": len(pbf), "townships": len(tw)}
    def T(name, f):
        t = time.perf_counter()
        r = f()
        out[name] = time.perf_counter() - t
        return r
    zones = T("zone_polygons", lambda: zone_polygons(townships=tw, mapping=zm, epsg=E))
    c = T("detect_conflicts", lambda: detect_conflicts(lines, epsg=E))
    T("apply_conflicts", lambda: apply_conflicts(lines, c, epsg=E))
    sp = T("three_spaces", lambda: three_spaces(lu, lines, zones, epsg=E))
    caps = T("unit_capacities", lambda: unit_capacities(lu, tw.rename(columns={"code": "unit"}), lines=lines, epsg=E))
    tot = caps.sum()
    T("allocate_quotas", lambda: allocate_quotas(caps, {"farmland": .97 * tot.farmland_m2, "pbf": tot.pbf_m2,
                                                         "construction": 1.05 * tot.construction_m2}))
    after, ap, truth = T("simulate_epoch", lambda: simulate_epoch(lu, 1, 500, .5, epsg=E))
    pcs = T("change_pieces", lambda: change_pieces(lu, after, epsg=E))
    tk = T("violation_tickets", lambda: violation_tickets(pcs, approvals=ap, farmland_pbf=pbf))
    out["tickets_exact"] = set(tk.bsm_after) == set(truth[~truth.approved].bsm_after)
    T("transition_matrix", lambda: transition_matrix(pcs))
    T("consolidation_potential", lambda: consolidation_potential(lu, epsg=E))
    T("grain_bases", lambda: grain_bases(lu, zones, epsg=E))
    projects = gpd.GeoDataFrame({"id": [f"P{k}" for k in range(200)], "kind": "industry"},
                                geometry=gpd.points_from_xy(rng.uniform(x0, x0 + W, 200), rng.uniform(y0, y0 + W, 200),
                                                            crs=E).buffer(150), crs=E).to_crs(4490)
    T("check_siting", lambda: check_siting(projects, {**lines, "space": sp.pieces}, epsg=E))
    T("landuse_by_unit", lambda: stats.landuse_by_unit(lu, tw, unit_col="code", epsg=E))
    T("control_line_table", lambda: stats.control_line_table(lines, zones, epsg=E))
    print(json.dumps(out))
""")


def run(code: str, *args: str) -> str:
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(out.stderr)
    return out.stdout.strip().splitlines()[-1]


def compare(d: Path) -> dict:
    import numpy as np
    import pandas as pd

    a = pd.read_parquet(d / "pairs_pianqu.parquet").set_index(["id_1", "id_2"])["area_m2"]
    b = pd.read_parquet(d / "pairs_geopandas.parquet").set_index(["id_1", "id_2"])["area_m2"]
    b = b[b > 1e-6]  # geopandas keeps 1e-19 m² slivers where a parcel only touches a line
    a = a[a > 1e-6]
    j = pd.concat([a.rename("a"), b.rename("b")], axis=1)
    missing = int(j.isna().any(axis=1).sum())
    j = j.dropna()
    rel = float(np.max(np.abs(j["a"] - j["b"]) / j["b"])) if len(j) else 0.0
    return {"pairs_equal": bool(missing == 0), "unmatched": missing, "max_rel_diff": rel,
            "total_rel_diff": float(abs(a.sum() - b.sum()) / b.sum())}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="100000,1000000")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--geopandas-repeat-large", type=int, default=1,
                    help="repeats of geopandas.overlay at ≥ 500 000 parcels (it takes minutes)")
    ap.add_argument("--county", type=int, default=500, help="side of the county-scale grid (500: 250 000 parcels); 0 skips it")
    ap.add_argument("--write", action="store_true", help="write docs/benchmarks/land.md")
    args = ap.parse_args()
    lines = ["| parcels | pairs | method | time s (median) | runs | ratio | peak RSS MB | input RSS MB | max rel. area diff | unmatched pairs |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    print(lines[0])
    print(lines[1])
    for n in [int(s) for s in args.sizes.split(",")]:
        with tempfile.TemporaryDirectory() as tmp:
            d = Path(tmp)
            run(GEN, str(n), tmp)
            results = {}
            for method in ("pianqu", "pianqu_conflicts", "geopandas"):
                reps = args.geopandas_repeat_large if method == "geopandas" and n >= 500_000 else args.repeat
                runs = [json.loads(run(JOB, method, tmp)) for _ in range(reps)]
                results[method] = {"s": statistics.median(r["s"] for r in runs), "runs": reps,
                                   "peak": max(r["peak_rss_mb"] for r in runs),
                                   "input": min(r["input_rss_mb"] for r in runs),
                                   "pairs": runs[0]["pairs"], "area": runs[0]["area_m2"]}
            cmp = compare(d)
            base = results["geopandas"]["s"]
            for method, r in results.items():
                diff = f"{cmp['max_rel_diff']:.1e}" if method == "pianqu" else "—"
                row = (f"| {n:,} | {r['pairs']:,} | {method} | {r['s']:.2f} | {r['runs']} | {base / r['s']:.1f}× | "
                       f"{r['peak']:.0f} | {r['input']:.0f} | {diff} | {cmp['unmatched'] if method == 'pianqu' else '—'} |")
                lines.append(row)
                print(row, flush=True)
    county = []
    if args.county:
        r = json.loads(run(COUNTY, str(args.county)))
        county = [f"County scale: {r['parcels']:,} parcels, {r['pbf']:,} permanent-basic-farmland features, "
                  f"{r['townships']} townships, 5 zones; every planted illegal conversion ticketed and no approved "
                  f"one: {r['tickets_exact']}.", "", "| step | time s |", "|---|---|"]
        county += [f"| `{k}` | {v:.2f} |" for k, v in r.items() if isinstance(v, float)]
        print("\n".join(county))
    if args.write:
        write_doc(lines, args, county)


def write_doc(table: list[str], args, county: list[str]) -> None:
    import shapely

    import geopandas

    head = textwrap.dedent(f"""\
        # Land benchmark: the control-line conflict overlay

        `benchmarks/bench_land.py` ({time.strftime('%Y-%m-%d')}, {platform.machine()}, 2 cores shared with other
        jobs, run under `nice`; Python {platform.python_version()}, geopandas {geopandas.__version__},
        shapely {shapely.__version__}, GEOS {'.'.join(map(str, shapely.geos_version))}).

        **Input**: N permanent-basic-farmland parcels (jittered 50 m quadrilaterals tiling a square — YJJBNT
        holds one feature per farmland parcel), an ecological red line of 40 detailed blobs (3000 vertices each,
        ≈ 30 % of the area, a quarter of them core zones) and 15 urban development boundaries (600 vertices),
        all in the CGCS2000 3° GK zone of CM 105°E (EPSG:4544). The conflict overlay is
        farmland ∩ red line plus farmland ∩ development boundary.

        **Methods** (each run in a fresh subprocess; time excludes reading the input):
        - `geopandas`: `geopandas.overlay(parcels, line, how="intersection", keep_geom_type=True)`;
        - `pianqu`: `pianqu.land.overlay.overlay` — same output (attributes of both sides, geometry, area);
        - `pianqu_conflicts`: the whole `pianqu.land.detect_conflicts` on the layers in EPSG:4490 as the
          workspace stores them (projecting them to the GK zone, rules from data, core-zone filter, stable ids,
          m²/ha/亩, patches back in EPSG:4490), for reference; it also overlays the boundaries with the red line
          and drops patches under `land.conflict_min_area_m2`, so its pair count differs.

        *ratio* = geopandas time ÷ method time. *peak RSS* is the subprocess's `ru_maxrss`; *input RSS* the
        same measured after reading the input, before the overlay. *max rel. area diff*: largest relative
        difference between the two overlays' areas over every (parcel, line) pair; *unmatched pairs*: pairs
        found by one and not the other (geopandas' 1e-19 m² slivers where a parcel only touches a line are
        left out; pianqu drops zero-area results).

    """)
    how = textwrap.dedent("""

        ## Why it is faster

        `geopandas.overlay` intersects every candidate pair with GEOS, and each intersection of a 5-vertex
        parcel with a 3000-vertex red-line polygon costs O(3000). The engine (`pianqu/land/overlay.py`)
        (1) cuts the large polygons into ≤ 256-vertex pieces (parts of multipolygons apart, then recursive
        halving, like PostGIS `ST_Subdivide`), (2) queries one STRtree of the parcels with the exact
        `intersects` predicate on the *prepared* pieces, (3) takes the parcel itself wherever a piece (or, for
        a parcel across a cut, the polygon the pieces came from) *covers* it — most pairs, a parcel deep inside
        a red line — with no overlay at all, and (4) intersects only the boundary parcels whose interiors meet
        the piece (a DE-9IM test on the prepared piece drops neighbours that merely touch), each with a small
        piece, so each costs O(parcel). The pieces partition each polygon, so areas agree to rounding.

        The machine is shared with other sessions: the same command run twice can differ by up to 2× in
        absolute times (geopandas took 51–107 s for the 1M overlay in different runs); the ratios stayed
        above 8× at 100 000 parcels and 10× at 1 000 000.
    """)
    out = ROOT / "docs" / "benchmarks" / "land.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    scale = ""
    if county:
        scale = textwrap.dedent("""

            ## Every analysis at county scale

            One run of each library function on a synthetic county (`--county`): jittered 60 m parcels with land
            use from a terrain field, every other farmland parcel a PBF feature, 20 red-line blobs (2000 vertices,
            a third core zones), 5 development boundaries, townships of 160 × 160 parcels; inputs in EPSG:4490 as
            the workspace stores them (times include projecting to the GK zone and back).

        """) + "\n".join(county) + "\n"
    out.write_text(head + "\n".join(table) + "\n" + how + scale, encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
