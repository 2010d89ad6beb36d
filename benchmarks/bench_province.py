"""Benchmark of `pianqu province run` and the province overlay (issue 16).

    PYTHONPATH=src .venv/bin/python benchmarks/bench_province.py --counties 510403,510402,510105
    PYTHONPATH=src .venv/bin/python benchmarks/bench_province.py --all        # all 183 counties (hours)

Builds the synthetic counties (`synth --province`) once, then runs validate + plan (and
evaluate with --evaluate) sequentially in one process (workers=0), on a LocalCluster of 1 and of
2 workers, each into a fresh output folder, and prints the wall times side by side, the scaling
ratio (1 worker / 2 workers) and the peak memory per worker (max RSS of the worker processes, from
the manifest). Then the control-line overlay: dask-geopandas on 2 workers, and plain
single-process geopandas (`geopandas.overlay` of all parcels at once) beside it.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

from pianqu import divisions
from pianqu.province import run
from pianqu.province.overlay import plain_overlay, province_overlay
from pianqu.province.run import _cluster
from pianqu.synth import synthesize_province


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--counties", default="510403,510402,510105")
    ap.add_argument("--all", action="store_true")
    ap.add_argument("--evaluate", action="store_true")
    ap.add_argument("--work", default="")
    ap.add_argument("--no-plain", action="store_true")
    a = ap.parse_args()
    codes = list(divisions.counties()["code"]) if a.all else a.counties.split(",")
    steps = ["validate", "plan"] + (["evaluate"] if a.evaluate else [])
    work = Path(a.work or tempfile.mkdtemp(prefix="bench_province_"))
    src = work / "set"
    if not (src / "manifest.json").exists():
        t0 = time.perf_counter()
        synthesize_province(src, counties=codes, seed=1, workers=2)
        print(f"synth --province {len(codes)} counties: {time.perf_counter() - t0:.1f} s")
    res = {}
    for label, workers in (("sequential", 0), ("1 worker", 1), ("2 workers", 2)):
        out = work / f"out_{workers}"
        shutil.rmtree(out, ignore_errors=True)
        t0 = time.perf_counter()
        r = run(src, steps, out=out, workers=workers, memory_limit="4GB")
        wall = time.perf_counter() - t0
        m = r.manifest
        peak = m.groupby("pid")["peak_rss_mb"].max()
        res[label] = {"wall_s": round(wall, 1), "tasks_s": round(float(m["seconds"].sum()), 1),
                      "failed": int((m["status"] != "done").sum()), "peak_rss_mb_per_worker": peak.round(0).tolist()}
        print(label, json.dumps(res[label]))
    print(f"scaling 1 → 2 workers: {res['1 worker']['wall_s'] / res['2 workers']['wall_s']:.2f}×; "
          f"sequential / 2 workers: {res['sequential']['wall_s'] / res['2 workers']['wall_s']:.2f}×")
    client, cluster = _cluster(None, 2, "4GB")
    try:
        t0 = time.perf_counter()
        by_county = province_overlay(src, client=client)
        t_dask = time.perf_counter() - t0
    finally:
        client.close()
        cluster.close()
    print(f"overlay dask-geopandas (2 workers): {t_dask:.1f} s, {by_county['area_m2'].sum() / 1e4:.1f} ha in lines")
    if not a.no_plain:
        t0 = time.perf_counter()
        plain = plain_overlay(src)
        t_plain = time.perf_counter() - t0
        d = by_county.set_index(["county_code", "line"])["area_m2"]
        p = plain.set_index(["county_code", "line"])["area_m2"].reindex(d.index).fillna(0.0)
        print(f"overlay plain geopandas (1 process): {t_plain:.1f} s; max |Δ| vs dask {float((d - p).abs().max()):.3f} m²")


if __name__ == "__main__":
    main()
