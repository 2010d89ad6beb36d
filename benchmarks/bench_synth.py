"""Benchmark of the synthetic county generator: synth + write + validate of the default county
(通江县 511921) with per-stage timings, and the province build (GeoParquet by county).

Each measurement runs in a fresh subprocess so that its peak memory (ru_maxrss) is its own.
Wall time on a shared machine depends on the load, so CPU time (user + system) and the load
average at the start are reported too. Run with ``nice``; this is not a test::

    nice python benchmarks/bench_synth.py [--county 511921] [--repeat 3]
                                          [--province 12|all|510104,510105] [--workers 1]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap

JOB = textwrap.dedent("""
    import json, os, resource, statistics, sys, time
    from pathlib import Path
    kind, arg, out, workers = sys.argv[1], sys.argv[2], Path(sys.argv[3]), int(sys.argv[4])
    load = os.getloadavg()[0]
    c0 = time.process_time(); t0 = time.perf_counter()
    if kind == "county":
        import pianqu.synth  # imports are not part of the measurement
        from pianqu.synth import build_county
        from pianqu.synth.county import GENERATOR_VERSION
        from pianqu.validate import validate_workspace
        from pianqu.workspace import Workspace
        c0 = time.process_time(); t0 = time.perf_counter()
        b = build_county(arg, 1)
        t1, c1 = time.perf_counter(), time.process_time()
        ws = Workspace.create(out / f"{arg}.gpkg", county_code=arg, county_name=str(b.layers["county"]["name"].iloc[0]),
                              synthetic=True, compute_epsg=b.geo.epsg, epochs=(2023,), overwrite=True)
        ws.write(b.layers, command="synth", reason="benchmark", meta_updates={"synth_seed": 1})
        t2, c2 = time.perf_counter(), time.process_time()
        findings = validate_workspace(ws)
        t3, c3 = time.perf_counter(), time.process_time()
        res = {"synth_s": t1 - t0, "write_s": t2 - t1, "validate_s": t3 - t2, "total_s": t3 - t0,
               "synth_cpu_s": c1 - c0, "write_cpu_s": c2 - c1, "validate_cpu_s": c3 - c2, "total_cpu_s": c3 - c0,
               "errors": sum(f.severity == "error" for f in findings),
               "warnings": sum(f.severity == "warning" for f in findings),
               "stages": {k: round(v, 2) for k, v in b.timings.items()},
               "n": {k: len(v) for k, v in b.layers.items()}}
    else:
        from pianqu import divisions
        from pianqu.synth import synthesize_province
        from pianqu.synth.province import read_manifest
        if arg == "all":
            codes = None
        elif arg.isdigit():  # a spread sample: every k-th county
            allc = list(divisions.counties()["code"]); k = max(1, len(allc) // int(arg))
            codes = allc[::k][: int(arg)]
        else:
            codes = arg.split(",")
        synthesize_province(out / "province", counties=codes, seed=1, workers=workers)
        man = read_manifest(out / "province")
        size = sum(f.stat().st_size for f in (out / "province").rglob("*.parquet"))
        secs = [c["seconds"] for c in man["counties"].values()]
        res = {"total_s": time.perf_counter() - t0, "total_cpu_s": time.process_time() - c0,
               "counties": len(man["counties"]), "parcels": sum(c["counts"]["landuse"] for c in man["counties"].values()),
               "county_s_median": statistics.median(secs), "county_s_max": max(secs),
               "slowest": max(man["counties"], key=lambda c: man["counties"][c]["seconds"]),
               "parquet_mb": size / 2**20}
    res["load_avg_1m"] = load
    self_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    child_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    res["peak_rss_mb"] = max(self_rss, child_rss) / 1024
    print(json.dumps(res))
""")


def run(kind: str, arg: str, workers: int = 1, keep: str = "") -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        where = keep or tmp
        os.makedirs(where, exist_ok=True)
        out = subprocess.run([sys.executable, "-c", JOB, kind, arg, where, str(workers)], capture_output=True,
                             text=True, env={**os.environ, "MPLCONFIGDIR": os.environ.get("MPLCONFIGDIR", tmp)})
        if out.returncode != 0:
            raise SystemExit(out.stderr)
        return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--county", default="511921")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--province", default="12", help="number of counties (spread sample), 'all', or codes")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--skip-province", action="store_true")
    ap.add_argument("--skip-county", action="store_true")
    ap.add_argument("--keep", default="", help="keep the province build in this folder (for inspection)")
    args = ap.parse_args()
    if not args.skip_county:
        county(args)
    if not args.skip_province:
        r = run("province", args.province, args.workers, keep=args.keep)
        print(f"\n## province build ({r['counties']} counties, workers {args.workers})\n")
        print(f"wall {r['total_s']:.0f} s (CPU {r['total_cpu_s']:.0f} s in the parent), per county median "
              f"{r['county_s_median']:.1f} s, max {r['county_s_max']:.1f} s ({r['slowest']}); "
              f"{r['parcels']} parcels, {r['parquet_mb']:.0f} MB of GeoParquet; peak RSS {r['peak_rss_mb']:.0f} MB; "
              f"load average at start {r['load_avg_1m']:.1f}")


def county(args) -> None:
    runs = [run("county", args.county) for _ in range(args.repeat)]
    keys = ["synth_s", "write_s", "validate_s", "total_s", "synth_cpu_s", "write_cpu_s", "validate_cpu_s",
            "total_cpu_s", "peak_rss_mb", "load_avg_1m"]
    med = {k: statistics.median(r[k] for r in runs) for k in keys}
    r0 = runs[0]
    print(f"## county {args.county} (median of {args.repeat})\n")
    print("| step | wall s | CPU s |\n|---|---|---|")
    for step in ("synth", "write", "validate", "total"):
        print(f"| {step} | {med[step + '_s']:.1f} | {med[step + '_cpu_s']:.1f} |")
    print(f"\npeak RSS {med['peak_rss_mb']:.0f} MB; load average at start {med['load_avg_1m']:.1f}; "
          f"errors {r0['errors']}, warnings {r0['warnings']}")
    print("features: " + ", ".join(f"{k} {v}" for k, v in r0["n"].items()))
    stages = {k: statistics.median(r["stages"][k] for r in runs) for k in r0["stages"]}
    print("stages (wall s): " + ", ".join(f"{k} {v:.1f}" for k, v in stages.items()))


if __name__ == "__main__":
    main()
