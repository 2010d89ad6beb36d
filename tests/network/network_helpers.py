"""Helpers for the network tests (independent reference computations)."""

from __future__ import annotations

import geopandas as gpd
import networkx as nx
import numpy as np
import shapely


def random_points(graph, n, seed=0, spread=300.0):
    """Points scattered around random nodes (off the roads), EPSG:4490."""
    rng = np.random.default_rng(seed)
    base = graph.node_xy[rng.integers(0, graph.n_nodes, n)]
    xy = base + rng.normal(0, spread, (n, 2))
    return gpd.GeoDataFrame({"id": [f"p{i}" for i in range(n)]},
                            geometry=gpd.GeoSeries(shapely.points(xy), crs=graph.epsg)).to_crs(4490)


def nx_digraph(matrix):
    """networkx DiGraph of a scipy CSR matrix (weights = data)."""
    m = matrix.tocoo()
    g = nx.DiGraph()
    g.add_nodes_from(range(matrix.shape[0]))
    for a, b, w in zip(m.row.tolist(), m.col.tolist(), m.data.tolist()):
        if not g.has_edge(a, b) or g[a][b]["weight"] > w:
            g.add_edge(a, b, weight=w)
    return g


def nx_from_edges(graph, mode="drive"):
    """networkx MultiDiGraph built straight from the edge table (independent of the CSR)."""
    g = nx.MultiDiGraph()
    g.add_nodes_from(range(graph.n_nodes))
    e = graph.edges
    t = e[f"time_{mode}_s"].to_numpy()
    for u, v, w, one in zip(e["u"], e["v"], t, e["oneway"]):
        if not np.isfinite(w):
            continue
        g.add_edge(int(u), int(v), weight=float(w))
        if mode == "walk" or not one:
            g.add_edge(int(v), int(u), weight=float(w))
    return g


def nx_lengths(g):
    """Undirected networkx graph of the edges weighted by length (shortest parallel edge)."""
    ref = nx.Graph()
    ref.add_nodes_from(range(g.n_nodes))
    for u, v, w in zip(g.edges["u"], g.edges["v"], g.edges["length_m"]):
        if u != v and (not ref.has_edge(u, v) or ref[u][v]["weight"] > w):
            ref.add_edge(int(u), int(v), weight=float(w))
    return ref


def brute_dead_end_kinds(g, settlements, boundary):
    """Classify every degree-1 node the slow way: shapely distances to every edge and every
    settlement, networkx network distances. Returns {node: (kind, gap_m)}."""
    from pianqu.network.snap import snap_points

    cfg = g.config
    link_max, ratio = cfg["network.dead_end_link_max_m"], cfg["network.dead_end_detour_ratio"]
    term, edge_b = cfg["network.dead_end_terminus_m"], cfg["network.dead_end_boundary_m"]
    ref = nx_lengths(g)
    poly = shapely.union_all(boundary.to_crs(g.epsg).geometry.to_numpy())
    sxy = shapely.get_coordinates(settlements.to_crs(g.epsg).geometry.to_numpy())
    lines = g.edges.geometry.to_numpy()
    s = snap_points(g, settlements)
    eu, ev, el = g.edges["u"].to_numpy(), g.edges["v"].to_numpy(), g.edges["length_m"].to_numpy()
    out = {}
    for node in np.flatnonzero(g.degree == 1):
        p = shapely.Point(g.node_xy[node])
        dist = nx.single_source_dijkstra_path_length(ref, int(node), weight="weight")
        dn = np.vectorize(lambda k: dist.get(int(k), np.inf), otypes=[float])
        gap = shapely.distance(p, lines)
        gap[(eu == node) | (ev == node)] = np.inf
        cand = np.flatnonzero(gap <= link_max)
        best = (np.inf, None)
        if len(cand):
            off = shapely.line_locate_point(lines[cand], p)
            net = np.minimum(dn(eu[cand]) + off, dn(ev[cand]) + el[cand] - off)
            ok = net >= ratio * np.maximum(gap[cand], 1e-9)
            if ok.any():
                k = cand[ok][np.argmin(gap[cand][ok])]
                best = (gap[k], k)
        ds = np.hypot(*(sxy - g.node_xy[node]).T)
        j = int(np.argmin(ds))
        if term < ds[j] <= link_max and ds[j] < best[0] and s.edge[j] >= 0:
            e = s.edge[j]
            net = min(dist.get(int(eu[e]), np.inf) + s.offset_m[j], dist.get(int(ev[e]), np.inf) + el[e] - s.offset_m[j])
            if net >= ratio * ds[j]:
                best = (ds[j], "settlement")
        bd = poly.boundary.distance(p) if poly.contains(p) else 0.0
        kind = ("cross_boundary" if bd <= edge_b else "village_terminus" if ds[j] <= term
                else "missing_connection" if np.isfinite(best[0]) else "other")
        out[int(node)] = (kind, best[0])
    return out


def nx_split(graph, pts, mode):
    """networkx graph where every snapped point splits its edge (an independent formulation).

    Point i is node ('loc', i) on the road, ('o', i) → loc costs the access leg, loc → ('d', i)
    too. Returns the MultiDiGraph.
    """
    g = nx_from_edges(graph, mode)
    e = graph.edges
    t = e[f"time_{mode}_s"].to_numpy()
    by_edge = {}
    for i, (ed, off) in enumerate(zip(pts.edge, pts.offset_m)):
        if ed >= 0:
            by_edge.setdefault(int(ed), []).append((off, i))
    for ed, items in by_edge.items():
        u, v, L, one = int(e["u"].iat[ed]), int(e["v"].iat[ed]), e["length_m"].iat[ed], bool(e["oneway"].iat[ed])
        if not np.isfinite(t[ed]):
            continue
        two_way = mode == "walk" or not one
        # remove this edge's arcs (one parallel copy with this weight) and re-add it in pieces
        for a, b in [(u, v)] + ([(v, u)] if two_way else []):
            for k, d in list(g.get_edge_data(a, b).items()):
                if abs(d["weight"] - t[ed]) < 1e-12:
                    g.remove_edge(a, b, k)
                    break
        chain = [(0.0, u)] + sorted((off, ("loc", i)) for off, i in items) + [(L, v)]
        for (o1, n1), (o2, n2) in zip(chain[:-1], chain[1:]):
            w = (o2 - o1) / L * t[ed]
            g.add_edge(n1, n2, weight=w)
            if two_way:
                g.add_edge(n2, n1, weight=w)
    for i in range(len(pts)):
        if pts.edge[i] >= 0:
            g.add_edge(("o", i), ("loc", i), weight=pts.access_s[i])
            g.add_edge(("loc", i), ("d", i), weight=pts.access_s[i])
    return g


def nx_od(graph, pts, mode, rows=None):
    """Origin × destination times by networkx on the split graph (all points both ways)."""
    g = nx_split(graph, pts, mode)
    out = np.full((len(pts), len(pts)), np.inf)
    for i in (range(len(pts)) if rows is None else rows):
        if pts.edge[i] < 0:
            continue
        dist = nx.single_source_dijkstra_path_length(g, ("o", i), weight="weight")
        for j in range(len(pts)):
            out[i, j] = dist.get(("d", j), np.inf)
    same = np.all(np.isclose(pts.xy[:, None, :], pts.xy[None, :, :], atol=0, rtol=0), axis=2)
    out[same] = 0.0
    return out
