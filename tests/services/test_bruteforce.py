"""Exact solvers equal exhaustive enumeration on small random instances (n <= 12)."""

from itertools import combinations, product

import numpy as np
import pytest

from pianqu.services import (
    solve_capacitated_pmedian,
    solve_lscp,
    solve_mclp,
    solve_pcenter,
    solve_pmedian,
)

SEEDS = range(6)


def instance(seed, n=10, m=8, integral=True):
    rng = np.random.default_rng(seed)
    pts_d = rng.uniform(0, 20, size=(n, 2))
    pts_s = rng.uniform(0, 20, size=(m, 2))
    cost = np.linalg.norm(pts_d[:, None] - pts_s[None], axis=2)
    if integral:
        cost = np.round(cost)
    weights = rng.integers(1, 6, size=n).astype(float)
    return cost, weights


def subsets(m, p, fixed=(), forbidden=()):
    for s in combinations([j for j in range(m) if j not in forbidden], p):
        if set(fixed) <= set(s):
            yield list(s)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("p", [1, 2, 3, 5])
def test_pmedian_equals_enumeration(seed, p):
    cost, w = instance(seed, integral=seed % 2 == 0)
    fixed = (seed % 8,) if p > 1 and seed >= 3 else ()
    forbidden = ((seed + 3) % 8,) if seed % 3 == 0 else ()
    best = min((w * cost[:, s].min(axis=1)).sum() for s in subsets(8, p, fixed, forbidden))
    res = solve_pmedian(cost, p, weights=w, fixed_sites=fixed, forbidden_sites=forbidden, method="exact")
    assert res.objective == pytest.approx(best, rel=1e-9)
    assert res.proven_optimal
    assert res.lower_bound == pytest.approx(best, rel=1e-6)
    assert set(fixed) <= set(res.sites) and not set(forbidden) & set(res.sites)


@pytest.mark.parametrize("seed", SEEDS)
def test_capacitated_pmedian_equals_enumeration(seed):
    n, m, p = 7, 5, 2
    cost, w = instance(seed, n=n, m=m)
    rng = np.random.default_rng(100 + seed)
    q = rng.integers(1, 5, size=n).astype(float)
    cap = np.full(m, np.ceil(q.sum() * 0.6))
    best = np.inf
    for s in subsets(m, p):
        for a in product(range(p), repeat=n):
            a = np.asarray(a)
            if (np.bincount(a, weights=q, minlength=p) <= cap[s]).all():
                best = min(best, (q * cost[np.arange(n), np.asarray(s)[a]]).sum())
    res = solve_capacitated_pmedian(cost, p, cap, q, method="exact")
    assert res.objective == pytest.approx(best, rel=1e-9)
    assert res.proven_optimal
    load = np.bincount(np.searchsorted(res.sites, res.assignment), weights=q, minlength=p)
    assert (load <= cap[res.sites] + 1e-9).all()


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("p", [1, 2, 3])
def test_mclp_equals_enumeration(seed, p):
    cost, w = instance(seed)
    radius = 6.0
    best = max(w[(cost[:, s] <= radius).any(axis=1)].sum() for s in subsets(8, p))
    res = solve_mclp(cost, p, radius, weights=w, method="exact")
    assert res.extras["covered_weight"] == pytest.approx(best)
    assert res.objective == pytest.approx(w.sum() - best)
    assert res.proven_optimal


@pytest.mark.parametrize("seed", SEEDS)
def test_lscp_equals_enumeration(seed):
    cost, _ = instance(seed)
    radius = 9.0
    if not (cost <= radius).any(axis=1).all():
        radius = float(cost.min(axis=1).max())
    best = next(
        k for k in range(1, 9) if any((cost[:, s] <= radius).any(axis=1).all() for s in subsets(8, k))
    )
    res = solve_lscp(cost, radius, method="exact")
    assert res.objective == best and res.sites.size == best
    assert res.proven_optimal
    assert (cost[np.arange(cost.shape[0]), res.assignment] <= radius).all()


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("p", [1, 2, 4])
def test_pcenter_equals_enumeration(seed, p):
    cost, w = instance(seed, integral=seed % 2 == 1)
    weights = w if seed >= 3 else None
    ww = np.ones(len(w)) if weights is None else w
    best = min((ww * cost[:, s].min(axis=1)).max() for s in subsets(8, p))
    res = solve_pcenter(cost, p, weights=weights, method="exact")
    assert res.objective == pytest.approx(best, rel=1e-12)
    assert res.proven_optimal and res.lower_bound == pytest.approx(best)
    assert res.sites.size == p
