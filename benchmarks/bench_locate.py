"""Benchmark: pianqu p-median vs spopt PMedian (PuLP/CBC), side by side in one process.

Runs pianqu (exact, proven optimal) on OR-Library pmed1-20, on look-alikes of the
held-back pmed21-40 (``pmed21-like`` ... ``pmed40-like``: ``orlib_like_instance`` with the
held-back sizes, seed n + p) and on synthetic county instances (villages x candidate
sites, road distances), the capacitated p-median on county instances (``cap-N-M-P``:
primary pupils per village from ``services.pupil_share``, school places from class counts,
see ``capacitated_county``), and spopt
``PMedian.from_cost_matrix(...).solve(pulp.PULP_CBC_CMD(msg=False, timeLimit=T))`` on a
subset with a per-instance time limit; a peer that hits its limit is reported as ">T".
Timings are medians over ``--repeats`` runs for pianqu (wall clock, and CPU seconds of
the process, which a loaded machine distorts less), one run for spopt.  A summary at
the end gives the median and maximum per instance group.

    nice python benchmarks/bench_locate.py --repeats 3 --spopt pmed1,pmed5,pmed6 --spopt-limit 300
    nice python benchmarks/bench_locate.py --instances like --spopt ""   # pmed21-40 look-alikes only
    python benchmarks/bench_locate.py --json out.json      # machine-readable results too
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np

from pianqu.services import read_orlib_pmed, solve_capacitated_pmedian, solve_pmedian
from pianqu.services.location import orlib_like_instance, random_county_instance

ORLIB = Path(__file__).resolve().parents[1] / "tests" / "data" / "orlib"

# sizes (n, p) of the held-back OR-Library instances pmed21-40 (Beasley 1985/1990)
HELD_BACK = {
    21: (500, 5), 22: (500, 10), 23: (500, 50), 24: (500, 100), 25: (500, 167),
    26: (600, 5), 27: (600, 10), 28: (600, 60), 29: (600, 120), 30: (600, 200),
    31: (700, 5), 32: (700, 10), 33: (700, 70), 34: (700, 140),
    35: (800, 5), 36: (800, 10), 37: (800, 80),
    38: (900, 5), 39: (900, 10), 40: (900, 90),
}
GROUPS = {
    "orlib": [f"pmed{k}" for k in range(1, 21)],
    "like": [f"pmed{k}-like" for k in HELD_BACK],
    "county": ["county-400-150-10", "county-400-150-20"],
    "cap": ["cap-400-150-15", "cap-400-150-20"],
}
# school places of a capacitated instance: 45 pupils per class (the 班额 cap of primary
# schools), township centres sized for 36 classes (a large 九年制/完全小学), other candidate
# villages for 36 (15 sites) or 27 (20 sites); chosen so that p schools hold the pupils
CLASS_SIZE = 45
CENTRE_CLASSES = 36
VILLAGE_CLASSES = {15: 36, 20: 27}


def capacitated_county(n: int, m: int, p: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(cost km, pupils per village, places per site) on ``random_county_instance``."""
    from pianqu.config import load_config

    cost, pop = random_county_instance(n, m, seed=seed)
    pupils = np.round(pop * float(load_config()["services.pupil_share"]["primary_school"]), 1)
    cap = np.full(m, float(VILLAGE_CLASSES.get(p, 36) * CLASS_SIZE))
    cap[:30] = CENTRE_CLASSES * CLASS_SIZE  # the first 30 candidates are the township centres
    return cost, pupils, cap


def load_instances(names: list[str]) -> dict[str, tuple]:
    """name -> (cost, weights, p[, capacities]).  'pmedK-like' builds the look-alike of a
    held-back instance, 'county-N-M-P' a synthetic county, 'cap-N-M-P' a capacitated one
    (weights are then the pupils)."""
    out = {}
    for name in names:
        if name.startswith("pmed") and name.endswith("-like"):
            n, p = HELD_BACK[int(name[4:-5])]
            cost, _ = orlib_like_instance(n, p, seed=n + p)
            out[name] = (cost, None, p)
        elif name.startswith("pmed"):
            cost, p = read_orlib_pmed(ORLIB / f"{name}.txt")
            out[name] = (cost, None, p)
        elif name.startswith("cap"):
            _, n, m, p = name.split("-")
            cost, pupils, cap = capacitated_county(int(n), int(m), int(p))
            out[name] = (cost, pupils, int(p), cap)
        elif name.startswith("county"):
            _, n, m, p = name.split("-")
            cost, pop = random_county_instance(int(n), int(m), seed=1)
            out[name] = (cost, pop, int(p))
        else:
            raise ValueError(f"unknown instance {name}")
    return out


def run_pianqu(cost, weights, p, repeats: int, time_limit: float, cap=None) -> dict:
    """p-median: method "exact"; capacitated: the default method ("auto", the Lagrangian
    heuristic at county size)."""
    times, cpus, res = [], [], None
    for _ in range(repeats):
        t, c = time.perf_counter(), time.process_time()
        if cap is None:
            res = solve_pmedian(cost, p, weights=weights, method="exact", time_limit=time_limit)
        else:
            res = solve_capacitated_pmedian(cost, p, cap, weights, time_limit=time_limit)
        times.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
    return {
        "time": statistics.median(times),
        "times": times,
        "cpu": statistics.median(cpus),
        "objective": res.objective,
        "lower_bound": res.lower_bound,
        "proven": res.proven_optimal,
        "gap": res.gap,
        "method": res.method,
        "nodes": res.nodes,
    }


def run_spopt(cost, weights, p, time_limit: float, cap=None) -> dict:
    import pulp
    from spopt.locate import PMedian

    w = np.ones(cost.shape[0]) if weights is None else weights
    t = time.perf_counter()
    model = PMedian.from_cost_matrix(cost, w, p_facilities=p, facility_capacities=cap)
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
    ap.add_argument("--instances", default="orlib,like,county",
                    help="comma-separated names, or the groups orlib (pmed1-20), like (pmed21-40 look-alikes), county")
    ap.add_argument("--spopt", default="pmed1,pmed5,pmed6,pmed10,pmed16,county-400-150-10,county-400-150-20",
                    help="instances also run with spopt+CBC ('' for none)")
    ap.add_argument("--spopt-limit", type=float, default=300.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--time-limit", type=float, default=120.0)
    ap.add_argument("--skip-pianqu", action="store_true")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    names = [x for s in args.instances.split(",") if s for x in GROUPS.get(s, [s])]
    peer = {s for s in args.spopt.split(",") if s}
    data = load_instances(names + [s for s in peer if s not in names])
    rows = {}
    header = (f"{'instance':<20}{'n x m':>10}{'p':>5}{'pianqu s':>10}{'cpu s':>8}{'proven':>8}{'nodes':>7}"
              f"{'objective':>14}{'spopt s':>10}{'ratio':>9}")
    print(header, flush=True)
    for name, (cost, w, p, *cap) in data.items():
        cap = cap[0] if cap else None
        row = {"n": cost.shape[0], "m": cost.shape[1], "p": p}
        if not args.skip_pianqu and name in names:
            row["pianqu"] = run_pianqu(cost, w, p, args.repeats, args.time_limit, cap)
        if name in peer:
            row["spopt"] = run_spopt(cost, w, p, args.spopt_limit, cap)
        rows[name] = row
        pq, sp = row.get("pianqu"), row.get("spopt")
        sp_txt = "-" if sp is None else (f">{sp['limit']:.0f}" if sp["timed_out"] else f"{sp['time']:.1f}")
        ratio = "-"
        if pq and sp:
            ratio = (">" if sp["timed_out"] else "") + f"{sp['time'] / pq['time']:.0f}x"
        print(
            f"{name:<20}{cost.shape[0]:>5}x{cost.shape[1]:<4}{p:>5}"
            f"{(pq['time'] if pq else float('nan')):>10.2f}{(pq['cpu'] if pq else float('nan')):>8.2f}"
            f"{str(pq['proven'] if pq else '-'):>8}"
            f"{(pq['nodes'] if pq else 0):>7}{(pq['objective'] if pq else float('nan')):>14.1f}{sp_txt:>10}{ratio:>9}"
            + (f"  gap {pq['gap']:.3%} bound {pq['lower_bound']:.1f} {pq['method']}" if pq and cap is not None else "")
            + (f"  spopt obj {sp['objective']} ({sp['status']})" if sp and cap is not None else ""),
            flush=True,
        )
        if args.json:
            args.json.write_text(json.dumps(rows, indent=1, default=float))
    summarise(rows)


def summarise(rows: dict) -> None:
    """Median and maximum pianqu time per instance group (wall and CPU seconds)."""
    for group, members in GROUPS.items():
        got = [rows[k]["pianqu"] for k in members if k in rows and "pianqu" in rows[k]]
        if not got or group == "cap":
            continue
        wall, cpu = [g["time"] for g in got], [g["cpu"] for g in got]
        worst = max(members, key=lambda k: rows.get(k, {}).get("pianqu", {}).get("time", -1.0))
        print(
            f"{group:<8} {len(got):>2} instances, all proven: {all(g['proven'] for g in got)}; "
            f"wall s median {statistics.median(wall):.2f} max {max(wall):.2f} ({worst}), "
            f"cpu s median {statistics.median(cpu):.2f} max {max(cpu):.2f}, total wall {sum(wall):.1f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
