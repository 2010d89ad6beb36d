"""Road diagnostics against independent answers (networkx, brute-force geometry)."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely
from scipy.sparse.csgraph import dijkstra

from pianqu.config import load_config
from pianqu.findings import to_frame
from pianqu.network import diagnostics as D
from pianqu.network.graph import build_graph
from pianqu.network.links import augmentation_baseline, link_candidates, propose_links
from pianqu.testing.network import sample_county
from pianqu.network.snap import snap_points
from pianqu.network.travel import augment, csr_min, od_matrix

from network_helpers import brute_dead_end_kinds


@pytest.fixture(scope="module")
def small():
    c = sample_county(n_villages=40, n_towns=6, size_km=15, n_hamlets=60, seed=7)
    return c, build_graph(c.roads, config=load_config(overrides={"network.link_candidate_max_m": 4000.0}))


# -- bridges ------------------------------------------------------------------------------------

def test_find_bridges_random_multigraphs():
    rng = np.random.default_rng(0)
    for trial in range(30):
        n = int(rng.integers(5, 120))
        m = int(rng.integers(n // 2, 2 * n))
        u, v = rng.integers(0, n, m), rng.integers(0, n, m)
        if trial % 3 == 0:  # doubled edges and self-loops
            u, v = np.r_[u, u[:5], np.arange(3)], np.r_[v, v[:5], np.arange(3)]
        got = D.find_bridges(n, u, v)
        mg = nx.MultiGraph()
        mg.add_nodes_from(range(n))
        mg.add_edges_from(zip(u.tolist(), v.tolist()))
        simple = nx.Graph(mg)
        want = {frozenset(e) for e in nx.bridges(simple) if mg.number_of_edges(*e) == 1}
        assert {frozenset((a, b)) for a, b in zip(u[got], v[got])} == want
        assert got.sum() == len(want)


@pytest.mark.parametrize("which", ["county_graph", "helsinki_graph"])
def test_bridges_equal_networkx(which, request):
    g = request.getfixturevalue(which)
    br = D.bridges(g)
    mg = nx.MultiGraph()
    mg.add_edges_from(zip(g.edges["u"], g.edges["v"]))
    want = {frozenset(e) for e in nx.bridges(nx.Graph(mg)) if mg.number_of_edges(*e) == 1}
    got = {frozenset((a, b)) for a, b in zip(g.edges["u"].to_numpy()[br.layer["edge"]],
                                             g.edges["v"].to_numpy()[br.layer["edge"]])}
    assert got == want and len(want) > 20


def test_isolated_population_brute_force(county, county_graph):
    g = county_graph
    st = county.settlements
    br = D.bridges(g, st)
    s = snap_points(g, st)
    node = D.settlement_nodes(g, s)
    pop = st["population"].to_numpy(float)
    seat = node[(st["level"] == "county_seat").to_numpy()][0]
    ref = nx.MultiGraph()
    ref.add_nodes_from(range(g.n_nodes))
    ref.add_edges_from(zip(g.edges["u"], g.edges["v"], range(g.n_edges)))
    main = nx.node_connected_component(ref, seat)
    rows = br.layer[g.edges["u"].to_numpy()[br.layer["edge"]].astype(int) >= 0]
    rows = rows[[g.edges["u"].iat[e] in main for e in rows["edge"]]]
    check = pd.concat([rows.head(15), rows.sample(15, random_state=0)]).drop_duplicates("edge")
    for e, iso in zip(check["edge"], check["isolated_population"]):
        u, v = int(g.edges["u"].iat[e]), int(g.edges["v"].iat[e])
        h = ref.copy()
        h.remove_edge(u, v, e)
        with_seat = nx.node_connected_component(h, seat)
        cut = (u if u not in with_seat else v)
        side = nx.node_connected_component(h, cut)
        want = pop[np.isin(node, list(side))].sum()
        assert iso == pytest.approx(want)
    assert check["isolated_population"].max() > 0


# -- dead ends ----------------------------------------------------------------------------------

def test_dead_end_classes_brute_force(county, county_graph):
    g = county_graph
    de = D.dead_ends(g, county.settlements, county.boundary)
    lay = de.layer.set_index("node")
    want = brute_dead_end_kinds(g, county.settlements, county.boundary)
    assert set(lay.index) == set(want)
    counts = {}
    for node, (kind, gap) in want.items():
        assert lay.at[node, "kind"] == kind, node
        if kind == "missing_connection":
            assert lay.at[node, "gap_m"] == pytest.approx(gap, abs=1e-6)
        counts[kind] = counts.get(kind, 0) + 1
    # the generator's spurs and hamlet roads leave every kind of dead end
    assert set(counts) == {"cross_boundary", "village_terminus", "missing_connection", "other"}, counts
    links = de.extra["links"]
    assert len(links) == counts["missing_connection"]
    assert np.allclose(links.to_crs(g.epsg).length, links["length_m"], atol=1e-3)
    assert lay["action"].str.len().min() > 0 and de.layer["rank"].is_monotonic_increasing
    assert {f.rule for f in de.findings} >= {"network.dead_end.missing_connection", "network.dead_end.cross_boundary"}


def test_components_population(county, county_graph):
    comp = D.components(county_graph, county.settlements)
    # the generator drew one island of village roads with one village on it
    island = comp.layer.iloc[1:]
    assert (island["settlements"] > 0).sum() == 1
    pop = county.settlements["population"].iat[-1]  # the island village is drawn last
    assert island["population"].max() == pop
    f = [x for x in comp.findings if x.rule == "network.component"]
    assert len(f) == 1 and f[0].params["population"] == pop
    assert str(pop) in to_frame(f, "zh")["message"].iat[0]


# -- loads and bottlenecks ----------------------------------------------------------------------

def test_gravity_loads_brute_force(small):
    c, g = small
    st = c.settlements
    load = D.gravity_loads(g, st)
    s = snap_points(g, st)
    pop = st["population"].to_numpy(float)
    t = od_matrix(g, s, s)
    beta = g.config["network.gravity_beta"]
    flow = np.outer(pop, pop) / np.maximum(t / 60, 1e-6) ** beta
    np.fill_diagonal(flow, 0)
    flow[~np.isfinite(t)] = 0
    flow *= pop.sum() / flow.sum()
    # networkx paths on the same augmented graph, mapped back to edges
    aug = augment(g, s, s, "drive")
    m = aug.matrix.tocoo()
    ref = nx.DiGraph()
    ref.add_weighted_edges_from(zip(m.row.tolist(), m.col.tolist(), m.data.tolist()))
    arcs = g.arcs["drive"]
    want = np.zeros(g.n_edges)
    n = g.n_nodes
    for i in range(len(st)):
        _, paths = nx.single_source_dijkstra(ref, int(aug.origins[i]))
        for j in range(len(st)):
            if flow[i, j] <= 0:
                continue
            path = paths[int(aug.destinations[j])]
            want[s.edge[j]] += flow[i, j]
            if path[1] != path[-1]:  # not the direct same-edge link
                want[s.edge[i]] += flow[i, j]
            for a, b in zip(path[1:-2], path[2:-1]):
                if a < n and b < n:
                    want[arcs.edge[arcs.arc_index(np.array([a]), np.array([b]))[0]]] += flow[i, j]
    assert np.allclose(load, want, rtol=1e-9, atol=1e-9)
    assert load.max() > 0


def test_bottlenecks(county, county_graph):
    g = county_graph
    bn = D.bottlenecks(g, county.settlements)
    lay = bn.layer
    cfg = g.config
    load = bn.extra["load"]
    low = lay[lay["kind"] == "low_capacity"]
    assert len(low) > 0
    assert (low["load"] >= bn.extra["load_cut"]).all()
    assert (low["class"].isin(cfg["network.bottleneck_classes"]) | low["narrow"]).all()
    # every other segment is either light or of a higher, standard-width class
    others = np.setdiff1d(np.flatnonzero(load >= bn.extra["load_cut"]), low["edge"])
    e = g.edges.iloc[others]
    assert not e["class"].isin(cfg["network.bottleneck_classes"]).any()
    single = lay[lay["kind"] == "single_access"]
    br = D.bridges(g, county.settlements).layer
    assert set(single["edge"]) == set(br.loc[br["isolated_population"] > cfg["network.bridge_population_min"], "edge"])
    assert len(single) > 0


# -- direct links -------------------------------------------------------------------------------

def test_detours(county, county_graph):
    g = county_graph
    st = county.settlements
    dt = D.detours(g, st)
    lay = dt.layer
    pairs = dt.extra["pairs"]
    nv = (st["level"] == "village_seat").sum()
    nt = (st["level"] == "town_seat").sum()
    assert (pairs["kind"] == "village_town").sum() == nv and (pairs["kind"] == "town_county").sum() == nt
    ref = g.config["network.detour_reference_speed_kmh"] / 3.6
    t = od_matrix(g, st, st)
    code = st["code"].to_numpy()
    xy = shapely.get_coordinates(st.to_crs(g.epsg).geometry.to_numpy())
    for r in lay.sample(40, random_state=1).itertuples():
        i, j = np.flatnonzero(code == r.from_code)[0], np.flatnonzero(code == r.to_code)[0]
        straight = np.hypot(*(xy[i] - xy[j]))
        assert r.straight_m == pytest.approx(straight)
        if np.isfinite(t[i, j]):
            assert r.detour_index == pytest.approx(t[i, j] / (straight / ref))
    assert (lay["status"] == "unreachable").sum() == 1  # the island village
    flagged = lay[lay["status"] == "detour"]
    assert len(flagged) > 0 and (flagged["detour_index"] > g.config["network.detour_index_max"]).all()
    assert (lay.loc[lay["status"] == "ok", "detour_index"] <= g.config["network.detour_index_max"]).all()
    zones = pd.DataFrame({"township_code": st["township_code"], "centre": st["code"].iat[1]})
    with_zone = D.detours(g, st, zones)
    assert (with_zone.extra["pairs"]["kind"] == "town_zone_centre").sum() == nt - 1


# -- link proposals -----------------------------------------------------------------------------

def brute_gain(g, st, pairs, extra, cand_row, speed, penalty):
    s = snap_points(g, st)
    aug = augment(g, s, s, "drive")
    m = aug.matrix.tocoo()
    tail, head, w = list(m.row), list(m.col), list(m.data)
    for x, y, length in extra + ([cand_row] if cand_row is not None else []):
        tail += [x, y]
        head += [y, x]
        w += [length / speed] * 2
    mm = csr_min(aug.matrix.shape[0], np.array(tail), np.array(head), np.array(w))
    d = dijkstra(mm, indices=aug.origins)[:, aug.destinations]
    a, b = pairs["a"].to_numpy(), pairs["b"].to_numpy()
    return np.minimum(d[a, b], penalty)


def test_propose_links_greedy_is_exact(small):
    c, g = small
    st = c.settlements
    cfg = g.config
    speed = cfg.road_speeds[cfg["network.new_link_class"]] / 3.6
    penalty = cfg["network.unreachable_time_s"]
    pairs = D.seat_pairs(st)
    cand = link_candidates(g, st, pairs=pairs)
    assert (cand["kind"] == "connect_component").sum() >= 1 and (cand["kind"] == "shortcut").sum() >= 5
    prop = propose_links(g, st, candidates=cand, max_links=2)
    w = st["population"].to_numpy(float)[pairs["a"].to_numpy()]
    base = brute_gain(g, st, pairs, [], None, speed, penalty)
    chosen = []
    for step in range(len(prop.links)):
        gains = []
        for r in cand.itertuples():
            if any(r.Index == k for k, _ in chosen):
                gains.append(-np.inf)
                continue
            t = brute_gain(g, st, pairs, [c_ for _, c_ in chosen], (r.x, r.y, r.length_m), speed, penalty)
            gains.append(((base - t) * w).sum() / (r.length_m / 1000))
        k = int(np.argmax(gains))
        link = prop.links.iloc[step]
        assert (min(link.from_node, link.to_node), max(link.from_node, link.to_node)) == (cand.x.iat[k], cand.y.iat[k])
        assert link.saved_per_km * 3600 == pytest.approx(gains[k], rel=1e-9)
        chosen.append((k, (cand.x.iat[k], cand.y.iat[k], cand.length_m.iat[k])))
        base = brute_gain(g, st, pairs, [c_ for _, c_ in chosen], None, speed, penalty)
    assert len(prop.links) == 2


def test_propose_links_budget_and_networkx_baseline(small):
    c, g = small
    st = c.settlements
    prop = propose_links(g, st, budget_m=3000)
    assert prop.summary["length_m"] <= 3000 and len(prop.links) >= 1
    assert (np.diff(prop.links["rank"]) == 1).all()
    assert prop.links.crs.to_epsg() == 4490
    # the island is joined by the cheapest component link, as networkx's k=1 augmentation would
    comp_links = prop.links[prop.links["kind"] == "connect_component"]
    base = augmentation_baseline(g, prop.candidates)
    assert len(comp_links) == 1 and len(base["pairs"]) == 1
    assert comp_links["length_m"].sum() == pytest.approx(base["length_m"])
    cost = propose_links(g, st, budget_cost=prop.summary["cost_wan"] / 2)
    assert cost.summary["cost_wan"] <= prop.summary["cost_wan"] / 2 + 1e-9
