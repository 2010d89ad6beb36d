"""Storage benchmark: the GeoPackage and the PostGIS backend side by side on the default county.

One run: synthesise the default county (通江县 511921, seed 1) into a GeoPackage, start a private
PostgreSQL + PostGIS cluster (pianqu.testing.pgcluster), push the county into it, then time on
both backends, in-process: reading every base layer, writing a small decision table (the
planner's one-row edit), writing a zone layer (polygons), and pushing the whole county.
Prints medians and PostGIS/GPKG ratios; ``--write`` appends them to docs/benchmarks.md.

    python benchmarks/bench_store.py [--repeat 5] [--gpkg county.gpkg] [--write]
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


def median_s(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    from pianqu.store.transfer import push
    from pianqu.synth import write_county
    from pianqu.testing import pgcluster
    from pianqu.workspace import Workspace

    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--county", default="511921")
    ap.add_argument("--gpkg", type=Path, default=None, help="an existing workspace (else synthesised)")
    ap.add_argument("--write", action="store_true", help="append the table to docs/benchmarks.md")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp, pgcluster.running() as cluster:
        gpkg = Path(tmp) / f"{args.county}.gpkg"
        if args.gpkg:
            shutil.copy(args.gpkg, gpkg)
        else:
            write_county(args.county, gpkg, seed=1)
        url = cluster.schema_url(f"c{args.county}")
        push_s = median_s(lambda: push(gpkg, url, replace=True), max(1, args.repeat // 2))
        a, b = Workspace.open(gpkg), Workspace.open(url)
        layers = a.layers()
        rows = {name: a.count(name) for name in layers}
        res: list[tuple[str, str, float, float]] = []
        for name in sorted(layers, key=lambda n: -rows[n]):
            ta = median_s(lambda: a.read(name), args.repeat)
            tb = median_s(lambda: b.read(name), args.repeat)
            res.append((f"read `{name}`", f"{rows[name]:,}", ta, tb))
        res.append(("read every base layer", f"{sum(rows.values()):,}",
                    sum(r[2] for r in res), sum(r[3] for r in res)))
        decision = pd.DataFrame({"conflict_id": ["CF-0001"], "decision": ["withdraw_left"], "reason": ["核心保护区内"]})
        res.append(("write a decision table (1 row)", "1",
                    median_s(lambda: a.write({"bench_decision": decision}, command="bench"), args.repeat),
                    median_s(lambda: b.write({"bench_decision": decision}, command="bench"), args.repeat)))
        zones = a.read("township")
        res.append(("write a zone layer", f"{len(zones):,}",
                    median_s(lambda: a.write({"bench_zone": zones}, command="bench"), args.repeat),
                    median_s(lambda: b.write({"bench_zone": zones}, command="bench"), args.repeat)))
        res.append(("push the whole county (db push)", f"{sum(rows.values()):,}", float("nan"), push_s))
        size_mb = gpkg.stat().st_size / 2**20

    head = ("| operation | rows | GPKG s | PostGIS s | PostGIS / GPKG |\n"
            "|---|---:|---:|---:|---:|")
    lines = [head] + [f"| {op} | {n} | {'' if ta != ta else f'{ta:.3f}'} | {tb:.3f} | "
                      f"{'' if ta != ta else f'{tb / ta:.2f}'} |" for op, n, ta, tb in res]
    table = "\n".join(lines)
    print(table)
    if args.write:
        text = (f"\n## Storage: GeoPackage vs PostGIS ({dt.date.today()}, `benchmarks/bench_store.py`)\n\n"
                f"County {args.county} (seed 1, {size_mb:.0f} MB GeoPackage); medians of {args.repeat} runs "
                f"in one process; PostGIS 3 on a private PostgreSQL cluster on the same machine "
                f"(127.0.0.1, fsync off as in the tests). GPKG writes are this branch's GeoPackage "
                f"backend (copy of the file + rename).\n\n{table}\n")
        with open(ROOT / "docs" / "benchmarks.md", "a", encoding="utf-8") as fh:
            fh.write(text)


if __name__ == "__main__":
    main()
