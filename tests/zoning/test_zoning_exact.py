"""Exactness: on small instances (≤ 12 units) the MIP — with separator cuts and with the
flow formulation — finds the optimum of an independent brute force (enumeration of all
partitions for n ≤ 8, subset DP over connected blocks for n ≤ 12), under every kind of
constraint; the heuristic returns a valid division no better than that optimum."""

import math

import numpy as np
import pytest
from zoning_brute import Instance, dp_optimum, enumerate_optimum
from zoning_helpers import check_division

from pianqu.zoning import adjacency, delineate
from pianqu.testing.zoning import synthetic_county


def random_case(trial: int):
    rng = np.random.default_rng(1000 + trial)
    n = int(rng.integers(6, 13))
    p = int(rng.integers(2, 5))
    inst = synthetic_county(n, seed=trial)
    u = inst.units
    # noisy, asymmetric travel times: nearest-centre assignment is often not contiguous
    T = inst.travel_s * rng.lognormal(0, 0.4, (n, n))
    np.fill_diagonal(T, 0)
    adj = adjacency(u, travel_s=T)
    edges = adj.edges[["i", "j"]].to_numpy()
    codes = u["code"].tolist()
    kw, okw = {}, {}
    if rng.random() < 0.5:
        tot = u["population"].sum()
        kw["pop_bounds"] = okw["pop_bounds"] = (tot / p * 0.6, tot / p * 1.5)
    if rng.random() < 0.4:
        kw["member_bounds"] = okw["member_bounds"] = (2, 5)
    if rng.random() < 0.3:
        f = int(rng.integers(n))
        kw["fixed_centres"], okw["fixed"] = [codes[f]], [f]
    if rng.random() < 0.3:
        fb = [int(x) for x in rng.choice(n, 2, replace=False) if x not in okw.get("fixed", [])]
        kw["forbidden_centres"], okw["forbidden"] = [codes[x] for x in fb], fb
    if rng.random() < 0.3:
        a, b = edges[rng.integers(len(edges))]
        kw["keep_together"], okw["groups"] = [[codes[a], codes[b]]], [[a, b]]
    if rng.random() < 0.25:
        c = okw.get("fixed", [int(rng.integers(n))])[0]
        nb = [j for i, j in edges if i == c] + [i for i, j in edges if j == c]
        if nb and c not in okw.get("forbidden", []):
            kw["locked"], okw["locked"] = {codes[nb[0]]: codes[c]}, {nb[0]: c}
    if rng.random() < 0.2:
        kw["max_travel_s"] = okw["max_travel"] = float(np.quantile(T, 0.6))
    if rng.random() < 0.2:
        cand = [int(x) for x in rng.choice(n, max(p + 1, n // 2), replace=False)]
        kw["candidates"], okw["candidates"] = [codes[x] for x in cand], cand
    oracle = Instance(u["population"].to_numpy(), T, edges, p, **okw)
    return u, T, adj, p, kw, oracle


@pytest.mark.parametrize("trial", range(36))
def test_mip_matches_brute_force(trial):
    u, T, adj, p, kw, oracle = random_case(trial)
    best, _ = dp_optimum(oracle)
    if oracle.n <= 8:
        assert enumerate_optimum(oracle) == pytest.approx(best, rel=1e-9) if math.isfinite(best) \
            else math.isinf(enumerate_optimum(oracle))
    for contiguity in ("cuts", "flow"):
        r = delineate(u, T, p, adjacency=adj, method="exact", contiguity=contiguity, time_limit=30, **kw)
        if math.isinf(best):
            assert r.status == "infeasible"
            assert r.explanation and all(f.severity == "error" for f in r.explanation
                                         if f.rule.startswith("zoning.infeasible"))
        else:
            assert r.status == "optimal" and r.proven_optimal
            assert r.objective == pytest.approx(best, rel=1e-6)
            assert r.lower_bound <= r.objective * (1 + 1e-9)
            check_division(u, adj, r.assignment, p)
    h = delineate(u, T, p, adjacency=adj, method="heuristic", time_limit=2, **kw)
    if math.isinf(best):
        assert h.status in ("infeasible", "no_solution")
    elif h.feasible:
        assert h.objective >= best * (1 - 1e-9)
        assert h.lower_bound <= best * (1 + 1e-9)  # the Lagrangian bound is a valid bound
        check_division(u, adj, h.assignment, p)


def test_brute_force_oracles_agree_on_a_path():
    # path a-b-c-d, weights 1: p=2 centres; the optimum by hand is 2 (e.g. {a,b}@a? no: centre b
    # serves a (1); centre c serves d (1) → 2)
    T = np.abs(np.subtract.outer(np.arange(4), np.arange(4))).astype(float)
    inst = Instance([1, 1, 1, 1], T, [(0, 1), (1, 2), (2, 3)], 2)
    assert dp_optimum(inst)[0] == 2 == enumerate_optimum(inst)
    inst = Instance([1, 1, 1, 1], T, [(0, 1), (1, 2), (2, 3)], 2, member_bounds=(1, 1))
    assert math.isinf(dp_optimum(inst)[0])
