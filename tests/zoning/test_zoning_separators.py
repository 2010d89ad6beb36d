"""The pieces of the exact path checked on their own: separator rows from an LP point are violated
by it and hold for every contiguous division (networkx: S really separates i from j); the member
bound prunes exactly the pairs more hops apart than a zone can span; reduced-cost fixing keeps
the brute-force optimum; the heuristic's repair and chains return valid divisions."""

import math

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from zoning_brute import Instance, dp_optimum
from zoning_helpers import check_division

from pianqu.zoning import adjacency, exact, heuristic
from pianqu.zoning.problem import RELOCATE_CLASS, make_problem
from pianqu.testing.zoning import synthetic_county, synthetic_villages


def noisy_villages(seed: int, per_township: int = 12, townships: int = 2):
    """Villages with noisy, asymmetric road times: the nearest centre is often across another zone."""
    rng = np.random.default_rng(seed)
    vs = synthetic_villages(synthetic_county(townships, seed=seed), villages_per_township=per_township, seed=seed + 1)
    n = len(vs.units)
    T = vs.travel_s * rng.lognormal(0, 0.6, (n, n))
    np.fill_diagonal(T, 0)
    adj = adjacency(vs.units, travel_s=T, county=None, layer="village")
    return vs.units, T, adj


def _rows(model, rows_c, rows_v):
    """Decode rows x_ij − Σ_{v∈S} x_vj ≤ 0 into (i, j, S)."""
    out = []
    for c, v in zip(rows_c, rows_v):
        assert v[0] == 1 and (v[1:] == -1).all()
        i, j = model.xi[c[0]], model.xj[c[0]]
        assert (model.xj[c[1:]] == j).all()
        out.append((int(i), int(j), set(model.xi[c[1:]].tolist())))
    return out


@pytest.mark.parametrize("seed", [3, 5])
def test_fractional_separators_are_violated_and_valid(seed):
    u, T, adj = noisy_villages(seed)
    prob = make_problem(u, T, 5, adjacency=adj, county=None, member_bounds=(3, 8), layer="village")
    model = exact.Model(prob, flows=False)
    h = model.highs(time_limit=30, mip_rel_gap=1e-6)
    first = exact.root_bound(model, h, 1e18, max_rounds=1)  # the plain LP point, no rows added
    rows_c, rows_v = exact.fractional_separators(model, first["x"])
    assert rows_c, "this instance's LP leans on centres across other zones"
    X = np.zeros((prob.n, prob.n))
    X[model.xi, model.xj] = first["x"][: len(model.xi)]
    g = nx.Graph()
    g.add_nodes_from(range(prob.n))
    g.add_edges_from(map(tuple, prob.edges))
    for i, j, S in _rows(model, rows_c, rows_v):
        assert X[i, j] > sum(X[v, j] for v in S) + 1e-5  # violated by the LP point
        may = [k for k in range(prob.n) if prob.allowed[k, j] and k not in S]
        assert not nx.has_path(g.subgraph(may), i, j)  # S separates i from j among units that may join j
        for v in S:  # minimal on i's side: every unit of S touches i's side
            side = nx.node_connected_component(g.subgraph(may), i)
            assert any(w in side for w in g[v])
    # rows hold for the optimum (a contiguous division), and the root bound stays below it
    r = exact.solve(prob, time_limit=60)
    assert r["optimal"]
    xo = np.zeros((prob.n, prob.n))
    xo[np.arange(prob.n), r["centre_of"]] = 1
    for i, j, S in _rows(model, rows_c, rows_v):
        assert xo[i, j] <= sum(xo[v, j] for v in S)
    rb = exact.root_bound(model, h, 1e18)
    assert first["bound"] <= rb["bound"] <= r["objective"] * (1 + 1e-9)


def test_member_bound_prunes_pairs_by_hops():
    u, T, adj = noisy_villages(5, per_township=10)
    free = make_problem(u, T, 4, adjacency=adj, county=None, layer="village")
    capped = make_problem(u, T, 4, adjacency=adj, county=None, member_bounds=(1, 4), layer="village")
    g = nx.Graph()
    g.add_edges_from(map(tuple, free.edges))
    hops = dict(nx.all_pairs_shortest_path_length(g))
    for i in range(free.n):
        for j in range(free.n):
            assert capped.allowed[i, j] == (free.allowed[i, j] and hops[j].get(i, math.inf) <= 3)


def test_fixing_keeps_the_optimum():
    # a poor start leaves a wide gap, so reduced-cost fixing removes pairs; the optimum of the
    # smaller problem is still the exhaustive optimum (and that of the unreduced model)
    fixed = 0
    for seed in (6, 7, 8, 9):
        u, T, adj = noisy_villages(seed, per_township=6)
        p = 3
        prob = make_problem(u, T, p, adjacency=adj, county=None, member_bounds=(2, 6), layer="village")
        assert (prob.candidate == (u["village_class"] != RELOCATE_CLASS).to_numpy()).all()
        oracle = Instance(u["population"].to_numpy(), T, adj.edges[["i", "j"]].to_numpy(), p, member_bounds=(2, 6),
                          candidates=np.flatnonzero(prob.candidate))  # 搬迁撤并 villages are no centres
        best, _ = dp_optimum(oracle)
        bad = heuristic.solve(prob, time_limit=0.2, quick=True, bound=False)
        start = bad["centre_of"] if bad["violation"] == 0 else None
        r = exact.solve(prob, start=start, polish=False)
        assert r["optimal"] and r["objective"] == pytest.approx(best, rel=1e-6)
        assert r["lower_bound"] <= best * (1 + 1e-9)
        fixed += r["fixed_pairs"]
        plain = exact.solve(prob, start=start, polish=False, reduce=False)
        assert plain["objective"] == pytest.approx(best, rel=1e-6)
    assert fixed > 0


def test_repair_and_chains_give_valid_divisions():
    # zones grown from arbitrary centres break the member bounds; repair and chains fix them
    # without ever breaking contiguity, and chains never raise the cost
    u, T, adj = noisy_villages(9, per_township=15)
    prob = make_problem(u, T, 6, adjacency=adj, county=None, member_bounds=(3, 8), layer="village")
    rng = np.random.default_rng(0)
    sv = heuristic.Solver(prob)
    checked = repaired = 0
    for _ in range(10):
        centres = rng.choice(np.flatnonzero(prob.candidate), 6, replace=False)
        zone = sv.grow(centres)
        if zone is None:
            continue
        viol0, _ = sv.score(centres, zone)
        zone = sv.repair(centres, zone)
        viol, obj = sv.score(centres, zone)
        zone2 = sv.chains(centres, zone.copy())
        viol2, obj2 = sv.score(centres, zone2)
        assert viol2 <= viol and (obj2 <= obj + 1e-6 or viol2 < viol)
        assignment = prob.codes[centres[zone2]]
        check_division(u, adj, pd.Series(assignment, index=prob.codes), 6)
        checked += 1
        if viol2 == 0:
            sizes = np.bincount(zone2, minlength=6)
            assert sizes.min() >= 3 and sizes.max() <= 8
            repaired += viol0 > 0 or obj2 < obj
    assert checked >= 5 and repaired >= 1
