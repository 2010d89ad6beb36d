"""Benchmark: pianqu p-median vs spopt PMedian (PuLP/CBC), side by side in one process.

Runs pianqu (exact, proven optimal) on OR-Library pmed1-20 and on synthetic county
instances (villages x candidate sites, road distances), and spopt
``PMedian.from_cost_matrix(...).solve(pulp.PULP_CBC_CMD(msg=False, timeLimit=T))`` on a
subset with a per-instance time limit; a peer that hits its limit is reported as ">T".
Timings are wall-clock medians over ``--repeats`` runs for pianqu, one run for spopt.

    nice python benchmarks/bench_locate.py --repeats 3 --spopt pmed1,pmed5,pmed6 --spopt-limit 300
    python benchmarks/bench_locate.py --json out.json      # machine-readable results too
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np

from pianqu.services import read_orlib_pmed, solve_pmedian
from pianqu.services.location import random_county_instance

ORLIB = Path(__file__).resolve().parents[1] / "tests" / "data" / "orlib"


def load_instances(names: list[str]) -> dict[str, tuple[np.ndarray, np.ndarray | None, int]]:
    """name -> (cost, weights, p).  'county-N-M-P' builds a synthetic county."""
    out = {}
    for name in names:
        if name.startswith("pmed"):
            cost, p = read_orlib_pmed(ORLIB / f"{name}.txt")
            out[name] = (cost, None, p)
        elif name.startswith("county"):
            _, n, m, p = name.split("-")
            cost, pop = random_county_instance(int(n), int(m), seed=1)
            out[name] = (cost, pop, int(p))
        else:
            raise ValueError(f"unknown instance {name}")
    return out


def run_pianqu(cost, weights, p, repeats: int, time_limit: float) -> dict:
    times, res = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        res = solve_pmedian(cost, p, weights=weights, method="exact", time_limit=time_limit)
        times.append(time.perf_counter() - t)
    return {
        "time": statistics.median(times),
        "times": times,
        "objective": res.objective,
        "lower_bound": res.lower_bound,
        "proven": res.proven_optimal,
        "nodes": res.nodes,
    }


def run_spopt(cost, weights, p, time_limit: float) -> dict:
    import pulp
    from spopt.locate import PMedian

    w = np.ones(cost.shape[0]) if weights is None else weights
    t = time.perf_counter()
    model = PMedian.from_cost_matrix(cost, w, p_facilities=p)
    try:
        model = model.solve(pulp.PULP_CBC_CMD(msg=False, timeLimit=time_limit))
    except RuntimeError:  # spopt raises when CBC stops at the time limit without a proof
        pass
    elapsed = time.perf_counter() - t
    status = pulp.LpStatus[model.problem.status]
    obj = pulp.value(model.problem.objective)
    timed_out = elapsed >= time_limit * 0.98 or status != "Optimal"
    return {"time": elapsed, "objective": obj, "status": status, "timed_out": timed_out, "limit": time_limit}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--instances", default=",".join([f"pmed{k}" for k in range(1, 21)] + ["county-400-150-10", "county-400-150-20"]))
    ap.add_argument("--spopt", default="pmed1,pmed5,pmed6,pmed10,pmed16,county-400-150-10,county-400-150-20",
                    help="instances also run with spopt+CBC ('' for none)")
    ap.add_argument("--spopt-limit", type=float, default=300.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--time-limit", type=float, default=120.0)
    ap.add_argument("--skip-pianqu", action="store_true")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    names = [s for s in args.instances.split(",") if s]
    peer = {s for s in args.spopt.split(",") if s}
    data = load_instances(names + [s for s in peer if s not in names])
    rows = {}
    header = f"{'instance':<20}{'n x m':>10}{'p':>5}{'pianqu s':>10}{'proven':>8}{'nodes':>7}{'objective':>14}{'spopt s':>10}{'ratio':>9}"
    print(header, flush=True)
    for name, (cost, w, p) in data.items():
        row = {"n": cost.shape[0], "m": cost.shape[1], "p": p}
        if not args.skip_pianqu and name in names:
            row["pianqu"] = run_pianqu(cost, w, p, args.repeats, args.time_limit)
        if name in peer:
            row["spopt"] = run_spopt(cost, w, p, args.spopt_limit)
        rows[name] = row
        pq, sp = row.get("pianqu"), row.get("spopt")
        sp_txt = "-" if sp is None else (f">{sp['limit']:.0f}" if sp["timed_out"] else f"{sp['time']:.1f}")
        ratio = "-"
        if pq and sp:
            ratio = (">" if sp["timed_out"] else "") + f"{sp['time'] / pq['time']:.0f}x"
        print(
            f"{name:<20}{cost.shape[0]:>5}x{cost.shape[1]:<4}{p:>5}"
            f"{(pq['time'] if pq else float('nan')):>10.2f}{str(pq['proven'] if pq else '-'):>8}"
            f"{(pq['nodes'] if pq else 0):>7}{(pq['objective'] if pq else float('nan')):>14.1f}{sp_txt:>10}{ratio:>9}",
            flush=True,
        )
        if args.json:
            args.json.write_text(json.dumps(rows, indent=1, default=float))


if __name__ == "__main__":
    main()
