"""Travel times: exact against networkx on the same roads, with points snapped onto edges."""

from __future__ import annotations

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
import shapely
from scipy.sparse.csgraph import dijkstra

from pianqu.network.graph import build_graph
from pianqu.testing.network import SAMPLE_EPSG, grid_roads
from pianqu.network.snap import snap_points
from pianqu.network.travel import nearest_k, node_times, od_matrix, reduce_graph

from network_helpers import nx_digraph, nx_from_edges, nx_od, random_points


def assert_same(a, b, tol=1e-9):
    assert a.shape == b.shape
    assert (np.isfinite(a) == np.isfinite(b)).all()
    fin = np.isfinite(a)
    assert np.abs(a[fin] - b[fin]).max(initial=0) <= tol * max(1.0, np.abs(b[fin]).max(initial=0))


@pytest.mark.parametrize("mode", ["drive", "walk"])
def test_od_matrix_equals_networkx_on_county(county_graph, county, mode):
    pts = random_points(county_graph, 40, seed=1)
    both = gpd.GeoDataFrame(geometry=gpd.GeoSeries(
        list(pts.geometry) + list(county.settlements.geometry[:25]), crs=4490))
    s = snap_points(county_graph, both, mode=mode)
    got = od_matrix(county_graph, s, s, mode=mode)
    assert_same(got, nx_od(county_graph, s, mode))
    # the reduction (dead-end trees, degree-2 chains) changes nothing
    assert_same(od_matrix(county_graph, s, s, mode=mode, reduce=False), got)


def test_od_matrix_equals_networkx_on_helsinki(helsinki_graph):
    g = helsinki_graph
    assert g.n_nodes > 1000 and g.edges["oneway"].any()
    pts = random_points(g, 30, seed=2, spread=60)
    s = snap_points(g, pts, mode="drive")
    got = od_matrix(g, s, s, mode="drive")
    assert_same(got, nx_od(g, s, "drive"))
    assert np.isfinite(got).mean() > 0.8


def test_node_to_node_times_equal_networkx(helsinki_graph, county_graph):
    for g in (helsinki_graph, county_graph):
        src = np.arange(0, g.n_nodes, max(1, g.n_nodes // 15))
        ours = dijkstra(g.csr("drive"), indices=src)
        ref = nx_from_edges(g, "drive")
        res = nx.multi_source_dijkstra_path_length(ref, {int(src[0])})
        row = np.array([res.get(k, np.inf) for k in range(g.n_nodes)])
        assert_same(ours[0], row)
        for k, s0 in enumerate(src[1:], 1):
            res = nx.single_source_dijkstra_path_length(ref, int(s0))
            assert_same(ours[k], np.array([res.get(n, np.inf) for n in range(g.n_nodes)]))


def test_oneway_same_edge_and_direction():
    # one straight one-way road 0 → 1000 m east, drawn west to east
    road = gpd.GeoDataFrame({"id": ["a"], "class": ["county"], "oneway": [True]},
                            geometry=[shapely.LineString([(500000, 3300000), (501000, 3300000)])], crs=SAMPLE_EPSG)
    g = build_graph(road)
    pts = gpd.GeoSeries(shapely.points([(500200, 3300000), (500700, 3300000)]), crs=SAMPLE_EPSG)
    s = snap_points(g, pts)
    t = od_matrix(g, s, s)
    v = 40 / 3.6
    assert t[0, 1] == pytest.approx(500 / v, abs=1e-9)
    assert np.isinf(t[1, 0])  # against the one-way direction
    assert t[0, 0] == 0 and t[1, 1] == 0
    w = od_matrix(g, pts, pts, mode="walk")
    assert w[1, 0] == pytest.approx(500 / (4.5 / 3.6), abs=1e-9)


def test_access_leg_counted_and_cutoff():
    g = build_graph(grid_roads(3, 3, split=True))
    pts = gpd.GeoSeries(shapely.points([(500000, 3299900), (502000, 3302000)]), crs=SAMPLE_EPSG)
    s = snap_points(g, pts)
    assert s.access_m[0] == pytest.approx(100)
    t = od_matrix(g, s, s)
    v, acc = 40 / 3.6, 15 / 3.6
    assert t[0, 1] == pytest.approx(4000 / v + 100 / acc, abs=1e-9)
    assert np.isinf(od_matrix(g, s, s, cutoff_s=t[0, 1] - 1)[0, 1])
    assert od_matrix(g, s, s, cutoff_s=t[0, 1] + 1)[0, 1] == pytest.approx(t[0, 1])


def test_rectangular_matrix_both_directions(county_graph):
    o = random_points(county_graph, 30, seed=4)
    d = random_points(county_graph, 7, seed=5)
    so, sd = snap_points(county_graph, o), snap_points(county_graph, d)
    a = od_matrix(county_graph, so, sd)  # runs from the 7 destinations on the reversed graph
    b = od_matrix(county_graph, sd, so).T  # differs only through one-ways (none here)
    full = od_matrix(county_graph, so, sd, max_memory_mb=0.01)  # one source per chunk
    assert_same(a, b)
    assert_same(a, full)


def test_nearest_k_against_sorting(county_graph, county):
    o = random_points(county_graph, 25, seed=6)
    fac = county.settlements.iloc[::9]
    fac = fac.assign(kind=np.where(np.arange(len(fac)) % 2 == 0, "school", "clinic"))
    nk = nearest_k(county_graph, o, fac, 3, kind="school")
    schools = fac[fac["kind"] == "school"]
    t = od_matrix(county_graph, o, schools)
    for i in range(len(o)):
        rows = nk[nk["origin"] == i]
        want = np.sort(t[i][np.isfinite(t[i])])[:3]
        assert np.allclose(rows["time_s"].to_numpy(), want, rtol=0, atol=1e-9)
        assert (fac["kind"].to_numpy()[rows["facility"].to_numpy()] == "school").all()


def test_node_times_min_over_sources(county_graph, county):
    src = county.settlements.iloc[:5]
    each = node_times(county_graph, src, min_only=False)
    best = node_times(county_graph, src)[0]
    assert np.allclose(np.min(each, axis=0), best, equal_nan=True)


def test_reduce_graph_keeps_distances_random():
    rng = np.random.default_rng(0)
    g = nx.gnm_random_graph(300, 420, seed=1, directed=True)
    import scipy.sparse as sp

    u, v = np.array(g.edges()).T
    m = sp.csr_matrix((rng.uniform(1, 5, len(u)), (u, v)), shape=(300, 300))
    keep = rng.choice(300, 20, replace=False)
    r, old = reduce_graph(m, keep)
    assert r.shape[0] < 300
    new = np.full(300, -1)
    new[old] = np.arange(len(old))
    a = dijkstra(m, indices=keep)[:, keep]
    b = dijkstra(r, indices=new[keep])[:, new[keep]]
    assert_same(a, b)
    ref = nx_digraph(m)
    d0 = nx.single_source_dijkstra_path_length(ref, int(keep[0]))
    assert_same(a[0], np.array([d0.get(int(k), np.inf) for k in keep]))


def test_points_on_junctions_of_one_way_streets():
    """A point at a junction may leave and arrive by any road there, even when snapped to a one-way."""
    # a one-way loop a→b→c→a plus a two-way spur from c
    pts_xy = [(0, 0), (1000, 0), (1000, 1000)]
    lines = [shapely.LineString([(500000 + x, 3300000 + y) for x, y in (pts_xy[i], pts_xy[(i + 1) % 3])])
             for i in range(3)] + [shapely.LineString([(501000, 3301000), (502000, 3301000)])]
    r = gpd.GeoDataFrame({"id": list("abcd"), "class": "county", "oneway": [True, True, True, False]},
                         geometry=gpd.GeoSeries(lines, crs=SAMPLE_EPSG))
    g = build_graph(r)
    nodes = gpd.GeoSeries(shapely.points(g.node_xy), crs=SAMPLE_EPSG)
    got = od_matrix(g, nodes, nodes)
    want = dijkstra(g.csr("drive"))
    assert_same(got, want)
