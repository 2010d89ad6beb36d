"""The engine on the default county built by ``pianqu.synth`` (real names, synthetic geometry).

The synthesiser draws roads its own way; these tests check the engine's answers on them
against independent computations (networkx, brute-force geometry), not against any list the
synthesiser wrote.
"""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from pianqu.geo import compute_epsg
from pianqu.network import diagnostics as D
from pianqu.network.coverage import telecom_coverage
from pianqu.network.graph import build_graph
from pianqu.network.snap import snap_points
from pianqu.network.travel import od_matrix

from network_helpers import brute_dead_end_kinds, nx_od

DEFAULT_COUNTY = "511921"  # 通江县, the project's default county


@pytest.fixture(scope="module")
def synth(tongjiang_layers):
    layers = {k: v.copy() for k, v in tongjiang_layers.items()}  # the session's default county
    return layers, build_graph(layers["road"])


def test_default_county_graph_and_times(synth):
    layers, g = synth
    assert g.epsg == compute_epsg(layers["road"]) and g.n_nodes > 500
    st = layers["settlement"]
    s = snap_points(g, st, layer="settlement")
    assert s.ok.all()
    t = od_matrix(g, s, s)
    seat = int(np.flatnonzero((st["level"] == "county_seat").to_numpy())[0])
    rows = [seat] + list(range(0, len(st), 40))
    want = nx_od(g, s, "drive", rows=rows)
    assert np.allclose(t[rows], want[rows], rtol=0, atol=1e-9)
    assert (np.isfinite(t[rows]) == np.isfinite(want[rows])).all()
    assert np.isfinite(t[:, seat]).mean() > 0.95


def test_default_county_dead_ends_match_brute_force(synth):
    layers, g = synth
    de = D.dead_ends(g, layers["settlement"], layers["county"])
    lay = de.layer.set_index("node")
    want = brute_dead_end_kinds(g, layers["settlement"], layers["county"])
    assert set(lay.index) == set(want) and len(want) > 50
    for node, (kind, gap) in want.items():
        assert lay.at[node, "kind"] == kind, node
        if kind == "missing_connection":
            assert lay.at[node, "gap_m"] == pytest.approx(gap, abs=1e-6)
    kinds = lay["kind"].value_counts()
    assert kinds.get("village_terminus", 0) > 0


def test_default_county_bridges_and_detours(synth):
    layers, g = synth
    st = layers["settlement"]
    br = D.bridges(g, st)
    mg = nx.MultiGraph()
    mg.add_edges_from(zip(g.edges["u"], g.edges["v"]))
    want = {frozenset(e) for e in nx.bridges(nx.Graph(mg)) if mg.number_of_edges(*e) == 1}
    got = {frozenset((a, b)) for a, b in zip(g.edges["u"].to_numpy()[br.layer["edge"]],
                                             g.edges["v"].to_numpy()[br.layer["edge"]])}
    assert got == want
    dt = D.detours(g, st)
    nv = int((st["level"] == "village_seat").sum())
    assert (dt.layer["kind"] == "village_town").sum() >= nv - 5
    assert dt.layer["detour_index"].notna().all()


def test_default_county_telecom(synth):
    layers, _ = synth
    cov = telecom_coverage(layers["settlement"], layers["telecom"])
    v = layers["settlement"][layers["settlement"]["level"] == "village_seat"]
    polys = layers["telecom"]
    hit4 = np.array([polys.geometry.intersects(p).any() for p in v.geometry])
    assert cov.summary.set_index("tech").at["4G+", "covered"] == hit4.sum()


def test_points_on_nodes_give_node_times(synth):
    """Edges end exactly on their (snapped) nodes, so a point on a node is timed as the node."""
    import geopandas as gpd
    import shapely
    from scipy.sparse.csgraph import dijkstra

    _, g = synth
    nodes = np.arange(0, g.n_nodes, 9)
    pts = gpd.GeoSeries(shapely.points(g.node_xy[nodes]), crs=g.epsg)
    got = od_matrix(g, pts, pts)
    want = dijkstra(g.csr("drive"), indices=nodes)[:, nodes]
    assert (np.isfinite(got) == np.isfinite(want)).all()
    fin = np.isfinite(want)
    assert np.abs(got[fin] - want[fin]).max() <= 1e-9 * want[fin].max()
