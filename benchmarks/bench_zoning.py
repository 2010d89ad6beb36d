"""Zoning benchmark: pianqu against spopt and pygeoda on the same graphs and data.

Run (not a test; ``nice`` it on a shared machine)::

    nice .venv/bin/python benchmarks/bench_zoning.py            # full run, ~10 min
    nice .venv/bin/python benchmarks/bench_zoning.py --quick    # a few counties, ~1 min

Sections (printed as Markdown; docs/benchmarks/zoning.md holds one run with comments):
1. county township zoning proven optimal: time per county over the whole synthetic province;
2. the whole province (183 counties, 3,111 townships, real codes and counts) on 2 processes;
3. 500 villages: heuristic time and gap against the Lagrangian bound;
4. side by side with spopt (MaxPHeuristic, Skater, AZP, WardSpatial) and pygeoda (max-p greedy,
   SKATER, REDCAP) on the same adjacency graphs and data: time, and quality on the planner's
   measures (population-weighted and maximum travel time to the centre, zones without a viable
   centre, population balance) and on their own homogeneity measure. The regions of methods
   that choose no centre get their best member as centre (the most favourable reading).
5. the village level of synthetic counties from the project's generator (``pianqu.synth``, as
   ``pianqu plan`` zones them: township-level zones first, then automatic p per group): time and
   gap per group for the exact path (the default), the heuristic with its LP bound, and the
   proven optimum of each chosen p for reference.

6. ``pianqu plan``'s zoning defaults on a workspace (``--plan-defaults WS.gpkg``, e.g. the one
   ``pianqu demo`` writes): plan() (zoning steps; services and land off) with the defaults of
   thresholds.toml (zoning.village_method / zoning.village_time_limit_s) against the former
   heuristic with 2 s per group, and ``pianqu zones``' load / evaluate / move times.

``--villages-only`` runs section 5 alone (``--counties 511921 510121`` to choose);
``--plan-defaults WS`` section 6 alone.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
import tempfile
import time
import warnings

import numpy as np
import pandas as pd

warnings.filterwarnings("ignore")
os.environ.setdefault("MPLCONFIGDIR", os.path.join(os.path.dirname(__file__), "..", ".cache", "matplotlib"))

from pianqu.zoning import adjacency, delineate  # noqa: E402
from pianqu.testing.zoning import synthetic_county, synthetic_province, synthetic_villages  # noqa: E402

MEMBER_BOUNDS = (2, 5)  # zoning.members_min/max: a township-level zone groups ≈ 2–5 townships
ATTRS = ["population", "gdp_yi", "built_up_km2"]  # what the homogeneity methods cluster on


def county_p(n: int) -> int:
    return max(int(np.ceil(n / MEMBER_BOUNDS[1])), min(n // MEMBER_BOUNDS[0], round(n / 4)))


def candidates(units: pd.DataFrame) -> list[str]:
    """Central towns are 建制镇 (or the county seat's 街道): 乡 are not candidates."""
    return list(units.loc[units["kind"].isin(["镇", "街道"]), "code"])


def zone_county(inst, time_limit: float = 30.0) -> dict:
    u, T = inst.units, inst.travel_s
    t0, c0 = time.perf_counter(), time.process_time()
    adj = adjacency(u, travel_s=T)
    n = len(u)
    p = county_p(n)
    cands = candidates(u)
    if len(cands) < p:  # a county of 乡 (e.g. on the plateau): any township may be a centre
        cands = None
    r = delineate(u, T, p, adjacency=adj, member_bounds=MEMBER_BOUNDS, candidates=cands,
                  method="exact", time_limit=time_limit)
    return {"county": u["county_code"].iloc[0], "n": n, "p": p, "towns_only": cands is not None,
            "status": r.status, "gap": r.gap, "mip_rounds": r.stats.get("mip_rounds", 0),
            "method": r.method, "time_s": time.perf_counter() - t0, "cpu_s": time.process_time() - c0,
            "solve_s": r.time_s,
            "mean_time_min": r.stats.get("mean_time_s", np.nan) / 60}


# -- quality of any labelling -----------------------------------------------------------------

def quality(units: pd.DataFrame, T: np.ndarray, labels: np.ndarray, adj) -> dict:
    pop = units["population"].to_numpy(float)
    if "village_class" in units.columns:  # a 搬迁撤并 village is never a central village
        viable = (units["village_class"] != "搬迁撤并").to_numpy()
    else:  # a central town is a 建制镇 (or the county seat's 街道), not a 乡
        viable = units["kind"].isin(["镇", "街道"]).to_numpy()
    X = units[ATTRS].to_numpy(float)
    X = (X - X.mean(0)) / X.std(0)
    nb = adj.neighbours()
    tot_w, tmax, no_centre, zpops, ssd, noncontig = 0.0, 0.0, 0, [], 0.0, 0
    for lab in np.unique(labels):
        m = np.flatnonzero(labels == lab)
        cands = m[viable[m]]
        if not len(cands):
            no_centre += 1
            cands = m
        cost = (pop[m][:, None] * T[np.ix_(m, cands)]).sum(0)
        c = cands[int(np.argmin(cost))]
        tot_w += cost.min()
        tmax = max(tmax, T[m, c].max())
        zpops.append(pop[m].sum())
        ssd += ((X[m] - X[m].mean(0)) ** 2).sum()
        seen, stack = {m[0]}, [m[0]]
        ms = set(m.tolist())
        while stack:
            a = stack.pop()
            for b in nb[a]:
                if b in ms and b not in seen:
                    seen.add(b)
                    stack.append(b)
        noncontig += len(seen) != len(m)
    zp = np.array(zpops)
    return {"p": len(zp), "mean_min": tot_w / pop.sum() / 60, "max_min": tmax / 60, "no_centre": no_centre,
            "pop_cv": zp.std() / zp.mean(), "ssd": ssd, "noncontig": noncontig}


# -- baselines, each in a child process with a time cap ------------------------------------------

def _w(adj):
    from libpysal.weights import W

    nb = adj.neighbours()
    return W({i: [int(j) for j in nb[i]] for i in range(adj.n)}, silence_warnings=True)


def _run_baseline(name, units, adj, p, floor, q):
    import warnings

    warnings.filterwarnings("ignore")
    import pygeoda  # noqa: F401  (imports are not timed: spopt alone takes seconds to import)
    import spopt.region  # noqa: F401

    t0 = time.perf_counter()
    try:
        gdf = units[["code", "population", "gdp_yi", "built_up_km2", "geometry"]].copy()
        for a in ATTRS:
            gdf[a + "_z"] = (gdf[a] - gdf[a].mean()) / gdf[a].std()
        zattrs = [a + "_z" for a in ATTRS]
        if name.startswith("spopt"):
            import spopt.region as sr

            w = _w(adj)
            if name == "spopt MaxPHeuristic":
                m = sr.MaxPHeuristic(gdf, w, zattrs, "population", floor, top_n=2)
            elif name == "spopt Skater":
                m = sr.Skater(gdf, w, zattrs, n_clusters=p)
            elif name == "spopt AZP":
                m = sr.AZP(gdf, w, zattrs, n_clusters=p, random_state=0)
            else:
                m = sr.WardSpatial(gdf, w, zattrs, n_clusters=p)
            m.solve()
            labels = np.asarray(m.labels_)
        else:
            import pygeoda

            path = os.path.join(tempfile.mkdtemp(), "w.gal")
            nb = adj.neighbours()
            with open(path, "w") as fh:
                fh.write(f"0 {adj.n} unknown ID\n")
                for i in range(adj.n):
                    fh.write(f"{i + 1} {len(nb[i])}\n{' '.join(str(j + 1) for j in nb[i])}\n")
            w = pygeoda.read_gal(path, [str(k) for k in range(1, adj.n + 1)])
            data = gdf[zattrs]
            if name == "pygeoda max-p":
                out = pygeoda.maxp_greedy(w, data, bound_variable=gdf["population"], min_bound=floor)
            elif name == "pygeoda SKATER":
                out = pygeoda.skater(p, w, data)
            else:
                out = pygeoda.redcap(p, w, data, "fullorder-wardlinkage")
            labels = np.asarray(out["Clusters"])
        q.put(("ok", labels, time.perf_counter() - t0))
    except Exception as exc:  # report, do not crash the benchmark
        q.put(("error", repr(exc)[:120], time.perf_counter() - t0))


BASELINES = ["spopt MaxPHeuristic", "spopt Skater", "spopt AZP", "spopt WardSpatial",
             "pygeoda max-p", "pygeoda SKATER", "pygeoda REDCAP"]


def compare_on(units, T, label: str, p: int, cap_s: float, layer: str = "township") -> pd.DataFrame:
    county = "county_code" if layer == "township" else None
    adj = adjacency(units, travel_s=T, county=county, layer=layer)
    rows = []
    t0 = time.perf_counter()
    kw = dict(member_bounds=MEMBER_BOUNDS) if layer == "township" else {}
    cands = candidates(units) if "kind" in units.columns and layer == "township" else None
    r = delineate(units, T, p, adjacency=adj, candidates=cands, county=county, layer=layer, time_limit=cap_s, **kw)
    lab = pd.factorize(r.assignment.reindex(units["code"]).to_numpy())[0]
    rows.append({"instance": label, "method": f"pianqu ({r.method.split(':')[0]})", "time_s": time.perf_counter() - t0,
                 "status": f"{r.status}, gap {r.gap:.2%}", **quality(units, T, lab, adj)})
    floor = units["population"].sum() / p * 0.8  # max-p chooses its own p; this floor gives about p
    ctx = mp.get_context("fork")
    for name in BASELINES:
        q = ctx.Queue()
        proc = ctx.Process(target=_run_baseline, args=(name, units, adj, p, floor, q))
        t1 = time.perf_counter()
        proc.start()
        proc.join(cap_s)
        if proc.is_alive():
            proc.kill()
            proc.join()
            rows.append({"instance": label, "method": name, "time_s": cap_s, "status": f"> {cap_s:.0f} s, killed"})
            continue
        try:
            kind, val, el = q.get(timeout=5)
        except Exception:
            kind, val, el = "error", "no result", time.perf_counter() - t1
        if kind == "ok":
            rows.append({"instance": label, "method": name, "time_s": el, "status": "done",
                         **quality(units, T, np.asarray(val), adj)})
        else:
            rows.append({"instance": label, "method": name, "time_s": el, "status": val})
    return pd.DataFrame(rows)


def _md(df: pd.DataFrame, floatfmt: str = ".3g") -> str:
    cols = list(df.columns)
    out = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for _, r in df.iterrows():
        cells = []
        for c in cols:
            v = r[c]
            if isinstance(v, float):
                cells.append("" if np.isnan(v) else format(v, floatfmt))
            else:
                cells.append(str(v))
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def _zone_one(inst):
    return zone_county(inst)


def village_level(codes: list[str], time_limit: float = 10.0) -> None:
    """Section 5: the village level of synthetic counties (pianqu.synth), as pianqu plan runs it."""
    from pianqu.testing.zoning import county_villages
    from pianqu.zoning.villages import village_zones

    print("## 5. Village level of synthetic counties (pianqu.synth), automatic p per group\n")
    rows, totals = [], []
    for code in codes:
        t0 = time.perf_counter()
        cv = county_villages(code, 1)
        build_s = time.perf_counter() - t0
        runs = {}
        for label, method in (("exact (default)", "auto"), ("heuristic + LP bound", "heuristic")):
            t1, c1 = time.perf_counter(), time.process_time()
            vz = village_zones(cv.villages, cv.travel_s, township_zone=cv.township_zone, adjacency=cv.adjacency,
                               method=method, time_limit=time_limit if method == "auto" else 2.0)
            wall, cpu = time.perf_counter() - t1, time.process_time() - c1
            runs[label] = vz
            g = vz.groups
            totals.append({"county": code, "villages": len(cv.villages), "groups": len(g), "method": label,
                           "wall_s": wall, "cpu_s": cpu, "max_gap": g["gap"].max(),
                           "groups ≤ 1 %": f"{int((g['gap'] <= 0.01).sum())}/{len(g)}",
                           "optimal": int((g["status"] == "optimal").sum()), "build_s (not counted)": build_s})
        # reference: each chosen p proven optimal (target gap 0 → zoning.mip_rel_gap)
        group = cv.villages["township_code"].astype(str).map(cv.township_zone)
        for name, part in runs["exact (default)"].parts.items():
            idx = np.flatnonzero((group == name).to_numpy())
            t2 = time.perf_counter()
            opt = delineate(cv.villages.iloc[idx], cv.travel_s[np.ix_(idx, idx)], part.p, county=None,
                            member_bounds=(3, 8), layer="village", adjacency=cv.adjacency.subset(idx),
                            time_limit=300, target_gap=0.0)
            h = runs["heuristic + LP bound"].parts[name]
            rows.append({"county": code, "group": name, "villages": len(idx), "p": part.p, "status": part.status,
                         "gap": part.gap, "time_s": part.time_s, "vs optimum": part.objective / opt.objective - 1,
                         "optimum proven": opt.status == "optimal", "prove_s": time.perf_counter() - t2,
                         "root_gap": 1 - part.stats.get("root_bound", np.nan) / part.objective,
                         "heuristic p": h.p, "heuristic gap": h.gap,
                         "heuristic vs optimum": h.objective / opt.objective - 1 if h.p == part.p else np.nan})
    print(_md(pd.DataFrame(totals)) + "\n")
    print("Per group (exact path; `vs optimum`: its division against the optimum of the same p proven to "
          "zoning.mip_rel_gap, `prove_s` the time that proof takes; `root_gap`: the LP bound with separator rows "
          "against the division; the heuristic run chooses its own p, compared with the optimum when it is the "
          "same):\n")
    print(_md(pd.DataFrame(rows)) + "\n")


def plan_defaults(path: str) -> None:
    """Section 6: plan()'s village defaults and the zones CLI's timings on a workspace."""
    import shutil

    from pianqu.config import load_config
    from pianqu.plan import plan
    from pianqu.workspace import Workspace
    from pianqu.zoning.compare import compare_division

    cfg = load_config()
    print("## 6. plan() zoning defaults and `pianqu zones` on a workspace\n")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        copy = os.path.join(tmp, os.path.basename(path))
        shutil.copy(path, copy)  # the workspace given is only read
        ws = Workspace.open(copy)
        print(f"- workspace: {ws.meta.county_code} {ws.meta.county_name}, {len(ws.read('township'))} townships, "
              f"{len(ws.read('village'))} villages; load {os.getloadavg()[0]:.1f}\n")
        for label, kw in ((f"defaults ({cfg['zoning.village_method']}, {cfg['zoning.village_time_limit_s']:g} s)", {}),
                          ("former (heuristic, 2 s)", {"village_method": "heuristic", "village_time_limit": 2.0})):
            t0, c0 = time.perf_counter(), time.process_time()
            r = plan(ws, "bench", services_step=False, land_step=False, **kw)
            g = r.village_zoning.groups
            rows.append({"plan()": label, "wall_s": time.perf_counter() - t0, "cpu_s": time.process_time() - c0,
                         "village_s": r.village_zoning.result.time_s, "groups": len(g),
                         "max_gap": g["gap"].max(), "groups ≤ 0.5 %": f"{int((g['gap'] <= 0.005).sum())}/{len(g)}",
                         "bounds relaxed": int((g["member_bounds"] == "relaxed").sum()),
                         "township p": r.zoning.p, "township status": r.zoning.status})
        print(_md(pd.DataFrame(rows)) + "\n")
        t0 = time.perf_counter()
        cmp = compare_division(ws, scenario="bench")
        load = time.perf_counter() - t0
        t1 = time.perf_counter()
        cmp.evaluation()
        ev_s = time.perf_counter() - t1
        ev = cmp.evaluator
        moves = []
        for code in ev.codes[:10]:
            k = int(ev.zone_of[ev.pos[code]])
            dest = next(z for z in ev.zone_labels if z != ev.zone_labels[k])
            moves.append(cmp.move(code, dest)["seconds"])
        print(f"- `pianqu zones`: load (road graph, travel times, adjacency) {load:.2f} s; full evaluation "
              f"{ev_s * 1000:.1f} ms; one move re-evaluated in {np.median(moves) * 1000:.1f} ms (median of "
              f"{len(moves)}, max {max(moves) * 1000:.1f} ms)\n")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--cap", type=float, default=120.0, help="time cap of each baseline run (s)")
    ap.add_argument("--villages-only", action="store_true", help="run section 5 only")
    ap.add_argument("--counties", nargs="*", default=None, help="counties of section 5 (default 511921 510121)")
    ap.add_argument("--plan-defaults", default=None, metavar="WS", help="run section 6 alone on this workspace")
    args = ap.parse_args()
    print(f"# pianqu zoning benchmark ({time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores, "
          f"load {os.getloadavg()[0]:.1f})\n")
    counties = args.counties or (["510121"] if args.quick else ["511921", "510121"])
    if args.villages_only:
        village_level(counties)
        return
    if args.plan_defaults:
        plan_defaults(args.plan_defaults)
        return

    # 1–2. the province, county by county, on 2 processes
    t0 = time.perf_counter()
    prov = synthetic_province() if not args.quick else synthetic_province(
        counties=["511921", "510121", "513433", "510704", "513230", "511623"])
    gen_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    with mp.get_context("fork").Pool(2) as pool:
        rows = pool.map(_zone_one, prov, chunksize=4)
    wall = time.perf_counter() - t0
    df = pd.DataFrame(rows)
    print("## 1–2. Township zoning of the whole province, county by county (exact MIP, 2 processes)\n")
    print(f"- {len(df)} counties, {int(df['n'].sum())} townships, {int(df['p'].sum())} zones; member bounds "
          f"{MEMBER_BOUNDS}, p ≈ n/4, candidates 镇/街道; instance generation {gen_s:.1f} s (not counted)")
    print(f"- wall time on 2 processes: **{wall:.1f} s**; proven optimal: {int((df['status'] == 'optimal').sum())}"
          f"/{len(df)}; largest gap {df['gap'].max():.2e}")
    print(f"- per county (adjacency + solve): median {df['time_s'].median():.2f} s, 90th pct "
          f"{df['time_s'].quantile(0.9):.2f} s, max {df['time_s'].max():.2f} s "
          f"(n = {int(df.loc[df['time_s'].idxmax(), 'n'])}); CPU time (HiGHS on 1 thread, so unaffected by other "
          f"load): median {df['cpu_s'].median():.2f} s, max {df['cpu_s'].max():.2f} s; "
          f"{int((df['cpu_s'] < 2).sum())}/{len(df)} counties under 2 s")
    print(f"- candidates restricted to 镇/街道 in {int(df['towns_only'].sum())} counties (the others have fewer "
          "towns than zones, so any township may be a centre)")
    root = (df["mip_rounds"].fillna(0) == 0) & (df["status"] == "optimal")
    print(f"- closed at the root (LP with separator rows, and the division polished from it; no MIP): "
          f"{int(root.sum())}; by the MIP: {int((~root).sum())}")
    big = df.sort_values("n", ascending=False).head(5)[["county", "n", "p", "status", "gap", "time_s", "cpu_s",
                                                        "method"]]
    print("\nLargest counties:\n\n" + _md(big) + "\n")

    # 3. villages
    print("## 3. 500 villages, heuristic with Lagrangian bound (beyond zoning.exact_max_units)\n")
    vrows = []
    for seed in ([1] if args.quick else [1, 2, 3]):
        v = synthetic_villages(synthetic_county(25, seed=seed), villages_per_township=20, seed=seed + 10)
        adj = adjacency(v.units, travel_s=v.travel_s, county=None, layer="village")
        for p in (60, 100):
            t1, c1 = time.perf_counter(), time.process_time()
            r = delineate(v.units, v.travel_s, p, adjacency=adj, method="heuristic", time_limit=10, county=None,
                          layer="village", seed=seed)
            vrows.append({"seed": seed, "villages": len(v.units), "p": p, "time_s": time.perf_counter() - t1,
                          "cpu_s": time.process_time() - c1, "gap": r.gap, "status": r.status})
    print(_md(pd.DataFrame(vrows)) + "\n")
    print("Where the gap comes from — 120 villages, heuristic against the proven optimum (MIP):\n")
    erows = []
    for seed in ([1] if args.quick else [1, 2, 3, 4]):
        v = synthetic_villages(synthetic_county(8, seed=seed), villages_per_township=15, seed=seed + 10)
        adj = adjacency(v.units, travel_s=v.travel_s, county=None, layer="village")
        h = delineate(v.units, v.travel_s, 20, adjacency=adj, method="heuristic", time_limit=10, county=None,
                      layer="village")
        t1 = time.perf_counter()
        e = delineate(v.units, v.travel_s, 20, adjacency=adj, method="exact", time_limit=300, county=None,
                      layer="village")
        erows.append({"seed": seed, "villages": len(v.units), "p": 20, "heuristic_s": h.time_s,
                      "heuristic vs bound": h.gap, "exact": e.status, "exact_s": time.perf_counter() - t1,
                      "heuristic vs optimum": (h.objective - e.objective) / e.objective,
                      "bound vs optimum": (e.objective - h.lower_bound) / e.objective})
    print(_md(pd.DataFrame(erows)) + "\n")

    # 4. baselines
    print(f"## 4. Side by side with spopt and pygeoda (same adjacency graph and data; cap {args.cap:.0f} s)\n")
    picks = df.sort_values("n")
    sample = [picks.iloc[len(picks) // 2]["county"], picks.iloc[-1]["county"]] if not args.quick else \
        [picks.iloc[-1]["county"]]
    frames = []
    for code in sample:
        inst = next(i for i in prov if i.units["county_code"].iloc[0] == code)
        p = county_p(len(inst.units))
        frames.append(compare_on(inst.units, inst.travel_s, f"county {code} (n={len(inst.units)})", p, args.cap))
    v = synthetic_villages(synthetic_county(15, seed=7), villages_per_township=15, seed=8)
    frames.append(compare_on(v.units, v.travel_s, "225 villages", 45, args.cap, layer="village"))
    cmp_df = pd.concat(frames, ignore_index=True)
    for col in ("mean_min", "max_min", "ssd", "time_s"):
        base = cmp_df.groupby("instance")[col].transform("first")
        cmp_df[f"{col} ×pianqu"] = cmp_df[col] / base
    show = cmp_df[["instance", "method", "status", "time_s", "p", "mean_min", "max_min", "no_centre", "pop_cv", "ssd",
                   "noncontig", "mean_min ×pianqu", "ssd ×pianqu"]]
    print(_md(show) + "\n")
    print("mean_min / max_min: population-weighted mean and maximum travel time to the zone centre (min); "
          "no_centre: zones with no 建制镇/街道 (villages: no village other than 搬迁撤并) to serve as centre; pop_cv: coefficient of variation of zone "
          "population; ssd: within-zone sum of squared deviations of the standardised attributes "
          f"{ATTRS} (what SKATER/AZP/Ward/REDCAP minimise); ×pianqu: ratio to pianqu on the same instance.\n")
    sys.stdout.flush()

    # 5. the village level of synthetic counties
    village_level(counties)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
