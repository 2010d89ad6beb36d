"""Benchmark of validate / plan / report at real 三调 parcel density (issue 11, "Scale").

    .venv/bin/python benchmarks/bench_real_density.py [--cases 0,200000,450000] [--unmatched 0.5]
        [--runs 1] [--keep DIR] [--out docs/benchmarks/real_density.md]

Synthesises the default county 通江县 511921 once, then for each case writes a workspace with
its parcels split to about that many base-epoch parcels (``pianqu.synth.density.densify``; 0:
the county at its own density, ~45k; cases above it with ``--unmatched`` of the pieces given
vertices their neighbours lack). Each step runs in a fresh subprocess, in the order a planner
runs them: ``pianqu validate`` (CLI), ``pianqu.plan.plan`` (scenario ``plan``) and
``pianqu report --scenario plan`` (CLI); wall time and the subprocess's peak RSS
(``resource.getrusage``) are recorded; with ``--runs`` > 1 the medians are reported. Not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

COUNTY = "511921"
ROOT = Path(__file__).resolve().parents[1]

STEP = r"""
import json, resource, sys, time
t0 = time.perf_counter()
step, path, out = sys.argv[1], sys.argv[2], sys.argv[3]
if step == "validate":
    from pianqu.cli import app
    rc = app(["validate", path, "--lang", "en"], standalone_mode=False)
elif step == "plan":
    from pianqu.plan import plan
    from pianqu.workspace import Workspace
    plan(Workspace.open(path), "plan")
    rc = 0
else:
    from pianqu.cli import app
    rc = app(["report", path, "-o", out, "--scenario", "plan", "--lang", "en"], standalone_mode=False)
wall = time.perf_counter() - t0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # MB (Linux: KB)
print("RESULT " + json.dumps({"wall_s": wall, "peak_mb": peak, "rc": rc or 0}))
"""


def build(target: int, unmatched: float, path: Path, layers) -> dict:
    """Write the county (split to ``target`` parcels when above its own count) as a workspace."""
    from pianqu import divisions
    from pianqu.synth import layout
    from pianqu.synth.density import densify
    from pianqu.workspace import Workspace

    t0 = time.perf_counter()
    if target:
        layers = densify(layers, parcels=target, seed=1, unmatched=unmatched)
    t_split = time.perf_counter() - t0
    lu = layers["landuse"]
    ws = Workspace.create(path, county_code=COUNTY, county_name=divisions.county(COUNTY)["name"], synthetic=True,
                          compute_epsg=layout.county_geo(COUNTY).epsg,
                          epochs=tuple(sorted({int(e) for e in lu["epoch"]})), command="synth",
                          reason="bench_real_density", overwrite=True)
    ws.write(layers, command="synth", reason="bench_real_density", meta_updates={"synth_seed": 1})
    base = int((lu["epoch"] == lu["epoch"].min()).sum())
    return {"parcels": base, "rows": len(lu), "densify_s": t_split}


def run_step(step: str, path: Path, out: Path, src: Path) -> dict:
    env = dict(os.environ, PYTHONPATH=str(src))
    proc = subprocess.run([sys.executable, "-c", STEP, step, str(path), str(out)], env=env, capture_output=True,
                          text=True)
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode != 0 or not line:
        raise RuntimeError(f"{step} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
    return json.loads(line[-1][7:])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", default="0,200000,450000")
    ap.add_argument("--unmatched", type=float, default=0.5)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--keep", type=Path, default=None, help="keep the workspaces in this directory")
    ap.add_argument("--reuse", action="store_true", help="reuse workspaces already in --keep")
    ap.add_argument("--out", type=Path, default=None, help="append a markdown table to this file")
    ap.add_argument("--label", default="")
    ap.add_argument("--steps", default="validate,plan,report",
                    help="the steps to time (the report needs a plan made before, e.g. by an earlier run)")
    ap.add_argument("--src", type=Path, default=ROOT / "src",
                    help="the pianqu sources the steps run (e.g. an older checkout, for a before/after table)")
    args = ap.parse_args()
    from pianqu.synth import synthesize_county

    tmp = Path(args.keep or tempfile.mkdtemp(prefix="pianqu-density-"))
    tmp.mkdir(parents=True, exist_ok=True)
    layers = None
    rows = []
    for case in [int(c) for c in args.cases.split(",")]:
        um = args.unmatched if case else 0.0
        path = tmp / f"density_{case}.gpkg"
        if args.reuse and path.exists():
            info = {"parcels": case, "rows": 0, "densify_s": float("nan")}
        else:
            if layers is None:
                layers = synthesize_county(COUNTY, 1)
            info = build(case, um, path, layers)
        res = {s: [] for s in args.steps.split(",")}
        for _ in range(args.runs):
            for s in res:
                res[s].append(run_step(s, path, tmp / f"report_{case}", args.src))
        med = {s: statistics.median(r["wall_s"] for r in v) if v else float("nan")
               for s, v in {k: res.get(k, []) for k in ("validate", "plan", "report")}.items()}
        peak = max(r["peak_mb"] for v in res.values() for r in v)
        row = {**info, "unmatched": um, **{f"{s}_s": med[s] for s in med},
               "peak_mb": peak, **{f"{s}_peak_mb": max((r["peak_mb"] for r in res.get(s, [])), default=float("nan"))
                                   for s in ("validate", "plan", "report")},
               "validate_rc": res["validate"][-1]["rc"] if res.get("validate") else None, "runs": args.runs}
        rows.append(row)
        print(json.dumps(row), flush=True)
    if args.out:
        with open(args.out, "a", encoding="utf-8") as fh:
            fh.write(f"\n{args.label}\n\n| parcels (base epoch) | unmatched share | validate | plan | report | peak RSS "
                     "(validate / plan / report) | runs |\n|---|---|---|---|---|---|---|\n")
            for r in rows:
                fh.write(f"| {r['parcels']:,} | {r['unmatched']:.1f} | {r['validate_s']:.1f} s | {r['plan_s']:.1f} s | "
                         f"{r['report_s']:.1f} s | {r['peak_mb'] / 1024:.2f} GB ({r['validate_peak_mb']:.0f} / "
                         f"{r['plan_peak_mb']:.0f} / {r['report_peak_mb']:.0f} MB) | {r['runs']} |\n")


if __name__ == "__main__":
    main()
