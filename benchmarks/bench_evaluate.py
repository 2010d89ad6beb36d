"""体检评估 benchmark: :func:`pianqu.evaluate` on the default county (通江县 511921, seed 1),
planned into the scenario ``plan`` first; goal < 10 s (issue 15).

Synthesises and plans the county once into ``--work`` (kept for a second run), then times
``evaluate(ws, "plan")`` on a freshly opened workspace ``--repeat`` times (each a cold run: a
new workspace object, nothing cached) and once per indicator group, and prints a Markdown table.

    nice python benchmarks/bench_evaluate.py [--work /tmp/bench_evaluate] [--repeat 3]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", type=Path, default=Path("/tmp/bench_evaluate"))
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    import pianqu
    from pianqu.evaluation import evaluate
    from pianqu.evaluation.context import open_context
    from pianqu.evaluation.indicators import REGISTRY
    from pianqu.plan import plan
    from pianqu.synth import write_county

    args.work.mkdir(parents=True, exist_ok=True)
    path = args.work / "511921.gpkg"
    if not path.exists() or not pianqu.open(path).has("zone", "plan"):
        t0 = time.perf_counter()
        write_county("511921", path, seed=1)
        t1 = time.perf_counter()
        plan(pianqu.open(path), "plan")
        print(f"setup: synth {t1 - t0:.1f} s, plan {time.perf_counter() - t1:.1f} s")
    times = []
    for _ in range(args.repeat):
        ws = pianqu.open(path)
        t = time.perf_counter()
        ev = evaluate(ws, "plan")
        times.append(time.perf_counter() - t)
    c = ev.counts()
    print(f"| evaluate(ws, 'plan'), 511921, {len(ev.county())} indicators, {len(ev.table)} rows, "
          f"{len(ev.driver_features)} drivers | median {statistics.median(times):.2f} s "
          f"(runs {', '.join(f'{x:.2f}' for x in times)}) | lights {c} | peak RSS "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB |")
    # per indicator, on one shared context (as evaluate runs them: the first to read a layer pays)
    ws = pianqu.open(path)
    cx = open_context(ws, "plan", None, ws.config())
    rows = []
    for ind, fn in REGISTRY.items():
        t = time.perf_counter()
        try:
            fn(cx)
        except Exception as exc:  # noqa: BLE001 - a missing input is timed too
            type(exc)
        rows.append((time.perf_counter() - t, ind))
    for dt, ind in sorted(rows, reverse=True)[:8]:
        print(f"| {ind} | {dt:.2f} s |")


if __name__ == "__main__":
    main()
