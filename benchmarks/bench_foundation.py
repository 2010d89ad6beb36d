"""Foundation benchmark: synth + validate of the default county, and the province build.

Each measurement runs in a fresh subprocess so that peak memory (ru_maxrss) is its own.
Prints a table of medians; `--write` appends the results to docs/benchmarks.md's section.

    python benchmarks/bench_foundation.py [--repeat 3] [--province-counties N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import textwrap

JOB = textwrap.dedent("""
    import json, resource, sys, time
    from pathlib import Path
    kind, arg, out = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    t0 = time.perf_counter()
    if kind == "county":
        from pianqu.synth import write_county
        from pianqu.validate import validate_workspace
        ws = write_county(arg, out / f"{arg}.gpkg", seed=1, overwrite=True)
        t1 = time.perf_counter()
        findings = validate_workspace(ws)
        t2 = time.perf_counter()
        n = {name: len(ws.read(name)) for name in ("township", "village", "landuse", "road")}
        errors = sum(f.severity == "error" for f in findings)
        res = {"synth_s": t1 - t0, "validate_s": t2 - t1, "total_s": t2 - t0, "errors": errors, **n}
    else:
        from pianqu import divisions
        from pianqu.synth import synthesize_province
        codes = list(divisions.counties()["code"])[: int(arg)] if arg != "all" else None
        synthesize_province(out / "province", counties=codes, seed=1)
        res = {"total_s": time.perf_counter() - t0, "counties": len(codes) if codes else 183}
    res["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(res))
""")


def run(kind: str, arg: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run([sys.executable, "-c", JOB, kind, arg, tmp], capture_output=True, text=True)
        if out.returncode != 0:
            raise SystemExit(out.stderr)
        return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--counties", default="511921,510121,513330", help="counties for synth+validate")
    ap.add_argument("--province-counties", default="all", help="number of counties, or 'all'")
    ap.add_argument("--skip-province", action="store_true")
    args = ap.parse_args()
    print("| county | parcels | roads | synth s | validate s | total s (median of %d) | peak RSS MB | errors |" % args.repeat)
    print("|---|---|---|---|---|---|---|---|")
    for code in args.counties.split(","):
        runs = [run("county", code) for _ in range(args.repeat)]
        med = {k: statistics.median(r[k] for r in runs) for k in ("synth_s", "validate_s", "total_s", "peak_rss_mb")}
        r0 = runs[0]
        print(f"| {code} | {r0['landuse']} | {r0['road']} | {med['synth_s']:.1f} | {med['validate_s']:.1f} | "
              f"{med['total_s']:.1f} | {med['peak_rss_mb']:.0f} | {r0['errors']} |")
    if not args.skip_province:
        r = run("province", args.province_counties)
        print(f"\nprovince build: {r['counties']} counties in {r['total_s']:.0f} s, peak RSS {r['peak_rss_mb']:.0f} MB")


if __name__ == "__main__":
    main()
