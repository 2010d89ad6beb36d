"""Contraction hierarchies: the same times as Dijkstra / networkx / brute force, on real and
random graphs, directed and disconnected, with snapped points as origins and destinations. Both
builds are checked: the order by edge difference with witness searches (a matrix alone) and the
customizable one by nested dissection of node coordinates (``xy``, what road graphs use)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import scipy.sparse as sp
import shapely
from scipy.sparse.csgraph import dijkstra

from pianqu.network import ch
from pianqu.network.snap import snap_points
from pianqu.network.travel import choose_method, csr_min, has_hierarchy, node_times, od_matrix

from network_helpers import nx_od, random_points


def assert_same(a, b, tol=1e-9):
    assert a.shape == b.shape
    assert (np.isfinite(a) == np.isfinite(b)).all()
    fin = np.isfinite(a)
    assert np.abs(a[fin] - b[fin]).max(initial=0) <= tol * max(1.0, np.abs(b[fin]).max(initial=0))


def random_digraph(n, m, seed, one_way_share=0.3, components=3):
    """A random directed graph: two-way and one-way arcs, zero and repeated weights, parallel
    arcs, and ``components`` separate groups of nodes (no arc between groups)."""
    rng = np.random.default_rng(seed)
    group = rng.integers(0, components, n)
    tail, head = rng.integers(0, n, m), rng.integers(0, n, m)
    keep = (tail != head) & (group[tail] == group[head])
    tail, head = tail[keep], head[keep]
    w = rng.choice([0.0, 1.0, 2.5, 7.0], len(tail)) + rng.random(len(tail)) * rng.integers(0, 2, len(tail))
    two = rng.random(len(tail)) > one_way_share
    t = np.r_[tail, head[two]]
    h = np.r_[head, tail[two]]
    return csr_min(n, t, h, np.r_[w, w[two]])


def geometric_digraph(n, seed, one_way_share=0.3):
    """Random points, each joined to its 4 nearest neighbours (two-way or one-way arcs, times
    from distances, some zero, some repeated), no arc across the line x = 0.5 (two components)
    and a few points sharing their coordinates. Returns (matrix, xy)."""
    from scipy.spatial import cKDTree

    rng = np.random.default_rng(seed)
    xy = rng.random((n, 2))
    xy[n - 5:] = xy[:5]  # same place, different nodes
    _, nb = cKDTree(xy).query(xy, k=5)
    tail, head = np.repeat(np.arange(n), 4), nb[:, 1:].ravel()
    keep = (tail != head) & ((xy[tail, 0] < 0.5) == (xy[head, 0] < 0.5))
    tail, head = tail[keep], head[keep]
    w = np.round(np.hypot(*(xy[tail] - xy[head]).T) * 100, 1) * (rng.random(len(tail)) > 0.05)
    two = rng.random(len(tail)) > one_way_share
    return csr_min(n, np.r_[tail, head[two]], np.r_[head, tail[two]], np.r_[w, w[two]]), xy


def floyd(m):
    """All-pairs shortest times by the Floyd–Warshall recurrence in plain numpy."""
    n = m.shape[0]
    d = np.full((n, n), np.inf)
    a = m.tocoo()
    np.minimum.at(d, (a.row, a.col), a.data)
    np.fill_diagonal(d, 0.0)
    for k in range(n):
        d = np.minimum(d, d[:, k:k + 1] + d[k:k + 1, :])
    return d


def check_queries(h, m, src, dst, cutoff, n_all=5):
    """Every query of ``h`` equals Dijkstra on ``m``: the matrix ``src`` × ``dst`` (meeting several
    components), ``one_to_all`` from the first ``n_all`` sources, a point seeded at two nodes with
    start times beside one without seeds, and a cut-off (chosen between two times: one equal to a
    time may fall on either side, shortcut sums round differently from Dijkstra's by ~1e-14).
    Returns (matrix, Dijkstra from ``src``)."""
    ref = dijkstra(m, indices=src)
    got = ch.many_to_many(h, ch.node_seeds(src), len(src), ch.node_seeds(dst), len(dst))
    assert_same(got, ref[:, dst])
    assert np.isinf(got).any() and np.isfinite(got).any()  # several components really met
    assert_same(ch.one_to_all(h, ch.node_seeds(src[:n_all]), n_all), ref[:n_all])
    seeds = (np.array([0, 0]), src[:2], np.array([5.0, 1.5]))
    two = ch.many_to_many(h, seeds, 2, ch.node_seeds(dst), len(dst))
    assert_same(two[0], np.minimum(5.0 + ref[0, dst], 1.5 + ref[1, dst]))
    assert np.isinf(two[1]).all()
    cut = ch.many_to_many(h, ch.node_seeds(src), len(src), ch.node_seeds(dst), len(dst), cutoff_s=cutoff)
    assert_same(cut, np.where(ref[:, dst] <= cutoff, ref[:, dst], np.inf))
    assert np.isfinite(cut).sum() < np.isfinite(got).sum()
    return got, ref


@pytest.mark.parametrize("seed", range(6))
def test_tiny_graphs_equal_floyd(seed):
    m = random_digraph(25, 70, seed)
    h = ch.build_hierarchy(m)
    all_ = np.arange(25)
    ref = floyd(m)
    assert_same(ch.many_to_many(h, ch.node_seeds(all_), 25, ch.node_seeds(all_), 25), ref)
    assert_same(ch.one_to_all(h, ch.node_seeds(all_), 25), ref)
    assert sorted(h.rank) == list(range(25))
    # every arc of the hierarchy runs upward
    lo = np.repeat(all_, np.diff(h.fwd_ptr))
    assert (h.rank[h.fwd_head] > h.rank[lo]).all()


@pytest.mark.parametrize("seed", range(6))
def test_customizable_tiny_graphs_equal_floyd(seed):
    m = random_digraph(25, 70, seed)
    xy = np.random.default_rng(seed).random((25, 2)).round(1)  # ties in the coordinates too
    h = ch.build_hierarchy(m, xy=xy)
    all_ = np.arange(25)
    ref = floyd(m)
    assert_same(ch.many_to_many(h, ch.node_seeds(all_), 25, ch.node_seeds(all_), 25), ref)
    assert_same(ch.one_to_all(h, ch.node_seeds(all_), 25), ref)
    assert sorted(h.node_of) == list(range(25)) and (h.id_of[h.node_of] == all_).all()
    lo = np.repeat(all_, np.diff(h.fwd_ptr))
    assert (h.rank[h.fwd_head] > h.rank[lo]).all()
    lo = np.repeat(all_, np.diff(h.bwd_ptr))
    assert (h.rank[h.bwd_head] > h.rank[lo]).all()


def test_customizable_geometric_graph_equals_dijkstra():
    m, xy = geometric_digraph(3000, 4)
    h = ch.build_hierarchy(m, xy=xy)
    witness = ch.build_hierarchy(m)
    rng = np.random.default_rng(5)
    src, dst = rng.choice(3000, 70, replace=False), rng.choice(3000, 50, replace=False)
    got, ref = check_queries(h, m, src, dst, 20.05, n_all=6)  # times are multiples of 0.1 here
    assert (got[np.isfinite(got)] > 0).any() and (ref[:, dst] == 0).sum() == (got == 0).sum()
    assert_same(ch.many_to_many(witness, ch.node_seeds(src), 70, ch.node_seeds(dst), 50), got)
    with pytest.raises(ValueError, match="coordinates"):
        ch.build_hierarchy(m, xy=xy[:10])
    bad = xy.copy()
    bad[3] = np.nan
    with pytest.raises(ValueError, match="coordinates"):
        ch.build_hierarchy(m, xy=bad)


@pytest.mark.parametrize("one_way_share", [0.0, 0.3])
def test_customizable_threads_and_symmetric_paths_equal_dijkstra(monkeypatch, one_way_share):
    """The dissection gives the same order on 1–3 threads; a symmetric graph keeps one set of
    arcs for both directions; the query's searches shared among threads give the same answers
    (several seeds per point, a cut-off, more threads than points). All equal Dijkstra."""
    m, xy = geometric_digraph(3000, 7, one_way_share=one_way_share)
    sym = one_way_share == 0.0
    assert ((m != m.T).nnz == 0) == sym
    n = m.shape[0]
    coo = m.tocoo()  # the pattern of the graph's arcs, both ways (zero times included)
    pat = sp.csr_matrix((np.ones(coo.nnz), (coo.row, coo.col)), shape=(n, n))
    pat = (pat + pat.T).tocsr()
    orders = [ch._dissection_order(xy[:, 0].copy(), xy[:, 1].copy(), pat.indptr.astype(np.int64),
                                   pat.indices.astype(np.int64), ch.DISSECTION_LEAF, ch.DISSECTION_BINS,
                                   ch.DISSECTION_BALANCE, threads) for threads in (1, 2, 3)]
    assert sorted(orders[0]) == list(range(n))
    assert all(np.array_equal(o, orders[0]) for o in orders[1:])  # the same order on any number of threads
    # the fill: every node's higher neighbours sorted, without repeats
    order = orders[0]
    rp = pat[order][:, order].tocsr()
    uptr, uhead = ch._fill(n, rp.indptr.astype(np.int64), rp.indices.astype(np.int64))
    assert all((np.diff(uhead[uptr[v]:uptr[v + 1]]) > 0).all() for v in range(n))
    assert (uhead[uptr[np.flatnonzero(np.diff(uptr))]] > np.flatnonzero(np.diff(uptr))).all()
    # the whole build, with the dissection on two threads
    monkeypatch.setattr(ch, "PARALLEL_MIN_NODES", 0)
    monkeypatch.setattr(ch, "MAX_THREADS", 2)
    h = ch.build_hierarchy(m, xy=xy)
    assert (h.bwd_head is h.fwd_head) == sym
    assert np.array_equal(h.node_of, order)
    rng = np.random.default_rng(8)
    src, dst = rng.choice(n, 40, replace=False), rng.choice(n, 30, replace=False)
    check_queries(h, m, src, dst, 20.05, n_all=4)  # times are multiples of 0.1 here
    # the query's searches on threads
    monkeypatch.setattr(ch, "PARALLEL_MIN_POINTS", 0)
    _, ref = check_queries(h, m, src, dst, 20.05, n_all=4)
    seeds = (np.array([0, 0, 1]), np.r_[src[:2], src[5]], np.array([5.0, 1.5, 0.0]))
    two = ch.many_to_many(h, seeds, 2, ch.node_seeds(dst), 30)
    assert_same(two, np.vstack([np.minimum(5.0 + ref[0, dst], 1.5 + ref[1, dst]), ref[5, dst]]))
    o = ch._seed_csr(3, *ch._internal(h, ch.node_seeds(src[:3])))
    assert_same(ch._many_to_many_tree(h, o, o, np.inf, 5), ref[:3, src[:3]])
    # the elimination tree: a node's parent is above it, and every upward arc reaches an ancestor
    assert (h.parent[h.parent >= 0] > np.flatnonzero(h.parent >= 0)).all()
    v = int(np.argmax(np.diff(h.fwd_ptr)))
    anc, x = set(), int(h.parent[v])
    while x >= 0:
        anc.add(x)
        x = int(h.parent[x])
    assert set(h.fwd_head[h.fwd_ptr[v]:h.fwd_ptr[v + 1]].tolist()) <= anc


def test_random_directed_graph_with_components_equals_dijkstra():
    m = random_digraph(2000, 5000, 11, components=4)
    h = ch.build_hierarchy(m)
    rng = np.random.default_rng(3)
    src, dst = rng.choice(2000, 60, replace=False), rng.choice(2000, 45, replace=False)
    check_queries(h, m, src, dst, 6.0)


def test_od_matrix_ch_equals_networkx_on_helsinki(helsinki_graph):
    g = helsinki_graph
    assert g.edges["oneway"].any()  # one-way streets: the directed case
    pts = random_points(g, 30, seed=2, spread=60)
    s = snap_points(g, pts, mode="drive")
    got = od_matrix(g, s, s, mode="drive", method="ch")
    assert_same(got, nx_od(g, s, "drive"))
    assert np.isfinite(got).mean() > 0.8
    assert_same(od_matrix(g, s, s, mode="drive", method="dijkstra"), got)
    # one-to-all (PHAST) and its minimum over sources
    assert_same(node_times(g, s, min_only=False, method="ch"), node_times(g, s, min_only=False, method="dijkstra"))
    assert_same(node_times(g, s, method="ch"), node_times(g, s, method="dijkstra"))
    assert_same(node_times(g, s, cutoff_s=300, method="ch"), node_times(g, s, cutoff_s=300, method="dijkstra"))


@pytest.mark.parametrize("mode", ["drive", "walk"])
def test_od_matrix_ch_equals_dijkstra_on_county(county_graph, county, mode):
    g = county_graph
    pts = random_points(g, 50, seed=5)
    both = gpd.GeoDataFrame(geometry=gpd.GeoSeries(
        list(pts.geometry) + list(county.settlements.geometry[:40]), crs=4490))
    o = snap_points(g, both, mode=mode)
    d = snap_points(g, both.iloc[::3], mode=mode)
    ref = od_matrix(g, o, d, mode=mode, method="dijkstra")
    assert_same(od_matrix(g, o, d, mode=mode, method="ch"), ref)
    assert_same(od_matrix(g, o, d, mode=mode, method="ch", cutoff_s=900),
                od_matrix(g, o, d, mode=mode, method="dijkstra", cutoff_s=900))
    assert (np.diag(ref[::3][:, :]) == 0).all() if len(d) == len(o) else True


def test_same_edge_and_unsnapped_points(county_graph):
    g = county_graph
    e = 7
    line = g.edges.geometry.iloc[e]
    # two points on one edge (the direct way along it is shortest), and a point with no geometry
    xy = shapely.get_coordinates(shapely.line_interpolate_point(line, [0.3, 0.6], normalized=True))
    pts = gpd.GeoDataFrame({"id": ["a", "b", "c"]},
                           geometry=gpd.GeoSeries(list(shapely.points(xy)) + [None], crs=g.epsg))
    s = snap_points(g, pts)
    assert (s.edge[:2] == e).all() and s.edge[2] < 0
    got = od_matrix(g, s, s, method="ch")
    assert_same(got, od_matrix(g, s, s, method="dijkstra"))
    assert np.isinf(got[2]).all() and np.isinf(got[:, 2]).all()
    assert got[0, 1] == pytest.approx(0.3 * g.edges["time_drive_s"].iat[e], rel=1e-9)


def test_default_county_settlements(tongjiang_layers):
    from pianqu.network.graph import build_graph

    layers = tongjiang_layers  # 通江县, the project's default county (read only here)
    g = build_graph(layers["road"])
    s = snap_points(g, layers["settlement"])
    ref = od_matrix(g, s, s, method="dijkstra")
    assert_same(od_matrix(g, s, s, method="ch"), ref)


def test_hierarchy_is_cached_and_auto_uses_it():
    from pianqu.network.graph import build_graph
    from pianqu.testing.network import grid_roads

    g = build_graph(grid_roads(30, 30))
    assert g.n_nodes == 900
    # auto: a hierarchy is built for many points without a cut-off, not for few or with a cut-off
    assert choose_method(g, 5000, 4000, "drive", None) == "ch"
    assert choose_method(g, 100, 4000, "drive", None) == "dijkstra"
    assert choose_method(g, 5000, 4000, "drive", 600.0) == "dijkstra"
    assert not has_hierarchy(g, "drive")
    h = ch.hierarchy(g, "drive")
    assert ch.hierarchy(g, "drive") is h and has_hierarchy(g, "drive")  # built once per graph and mode
    assert h.id_of is not None  # a road graph has coordinates: the customizable build
    assert not has_hierarchy(g, "walk")
    # once kept, auto uses it for any query of that mode, with a cut-off too
    assert choose_method(g, 5, 5, "drive", 600.0) == "ch"
    assert choose_method(g, 5, 5, "walk", None) == "dijkstra"
    assert choose_method(g, 5, 5, "drive", None, method="dijkstra") == "dijkstra"
    pts = g.nodes_frame().iloc[[0, 31, 450, 899]]
    assert_same(od_matrix(g, pts, pts), od_matrix(g, pts, pts, method="dijkstra"))
    with pytest.raises(ValueError, match="unknown method"):
        od_matrix(g, pts, pts, method="fast")


def test_arc_lists_packed_when_full():
    # a grid (many shortcuts) with little room reserved: the arc lists fill up and are packed
    # during the contraction; the answers do not change. Last, the customizable build on the
    # grid's coordinates
    k = 40
    ids = np.arange(k * k).reshape(k, k)
    t = np.r_[ids[:, :-1].ravel(), ids[:-1, :].ravel()]
    h = np.r_[ids[:, 1:].ravel(), ids[1:, :].ravel()]
    w = np.random.default_rng(1).random(len(t)) * 10
    m = csr_min(k * k, np.r_[t, h], np.r_[h, t], np.r_[w, w])
    src = np.arange(0, k * k, 37)
    ref = dijkstra(m, indices=src)
    yx = np.c_[np.repeat(np.arange(k), k), np.tile(np.arange(k), k)].astype(float)  # node ids[i, j] at (i, j)
    for room in (1.0, 3.0, None):
        hier = ch.build_hierarchy(m, room=room) if room else ch.build_hierarchy(m, xy=yx[:, ::-1])
        assert hier.n_shortcuts > 0.5 * m.nnz  # more than the 4 spare slots per node hold
        assert_same(ch.one_to_all(hier, ch.node_seeds(src), len(src)), ref)
        assert_same(ch.many_to_many(hier, ch.node_seeds(src), len(src), ch.node_seeds(src), len(src)), ref[:, src])


def _child_od(args):
    m, xy, src = args
    h = ch.build_hierarchy(m, xy=xy)
    return ch.many_to_many(h, ch.node_seeds(src), len(src), ch.node_seeds(src), len(src))


def test_parallel_kernels_then_fork(monkeypatch):
    """A process that shared a build and a query among threads can still fork (multiprocessing's
    default on Linux), and its children can do the same: no OpenMP runtime is involved (a
    process that used GNU OpenMP cannot fork: numba stops the child)."""
    import multiprocessing as mp

    monkeypatch.setattr(ch, "PARALLEL_MIN_NODES", 0)
    monkeypatch.setattr(ch, "PARALLEL_MIN_POINTS", 0)
    monkeypatch.setattr(ch, "MAX_THREADS", 2)
    m, xy = geometric_digraph(3000, 9, one_way_share=0.0)
    src = np.random.default_rng(10).choice(3000, 40, replace=False)
    here = _child_od((m, xy, src))  # the parallel kernels, in this process
    with mp.get_context("fork").Pool(2) as pool:
        got = [r.get(timeout=120) for r in [pool.apply_async(_child_od, ((m, xy, src),)) for _ in range(2)]]
    ref = dijkstra(m, indices=src)[:, src]
    assert_same(here, ref)
    for g in got:
        assert_same(g, ref)
