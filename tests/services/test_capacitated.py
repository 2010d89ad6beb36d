"""Capacitated p-median: the Lagrangian bound and heuristic against brute force (small), an
independent HiGHS MIP (medium), and their pieces (knapsacks, relaxation, moves)."""

from itertools import combinations, product

import numpy as np
import pytest
from scipy import sparse
from scipy.optimize import linprog

from pianqu.services import solve_capacitated_pmedian
from pianqu.services.location import random_county_instance
from pianqu.services.location.cap_lagrangian import (improve_assignment, knapsack_01, knapsack_lp, lagrangian_value,
                                                     lp_assign, regret_assign)
from pianqu.services.location.highs_model import INF, solve_mip


def small(seed, n=8, m=5):
    rng = np.random.default_rng(seed)
    d, s = rng.uniform(0, 20, (n, 2)), rng.uniform(0, 20, (m, 2))
    cost = np.round(np.linalg.norm(d[:, None] - s[None], axis=2))
    q = rng.integers(1, 6, n).astype(float)
    return cost, q


def brute_force(W, q, cap, p, fixed=()):
    """Every site set and every single-source assignment."""
    n, m = W.shape
    best = np.inf
    for S in combinations(range(m), p):
        if not set(fixed) <= set(S) or cap[list(S)].sum() < q.sum():
            continue
        for a in product(S, repeat=n):
            a = np.asarray(a)
            if (np.bincount(a, weights=q, minlength=m) <= cap + 1e-9).all():
                best = min(best, W[np.arange(n), a].sum())
    return best


def classical_mip(W, q, cap, p, relax=False):
    """Independent answer: HiGHS on the textbook single-source formulation (no x <= y rows);
    ``relax``: its LP relaxation."""
    n, m = W.shape
    nx = n * m
    ii, jj = np.repeat(np.arange(n), m), np.tile(np.arange(m), n)
    A = sparse.csc_matrix(
        (np.concatenate([np.ones(nx), q[ii], -cap, np.ones(m)]),
         (np.concatenate([ii, n + jj, n + np.arange(m), np.full(m, n + m)]),
          np.concatenate([m + np.arange(nx), m + np.arange(nx), np.arange(m), np.arange(m)]))),
        shape=(n + m + 1, m + nx))
    out = solve_mip(np.r_[np.zeros(m), W.ravel()], A, np.r_[np.ones(n), np.full(m, -INF), p],
                    np.r_[np.ones(n), np.zeros(m), p], np.zeros(m + nx), np.ones(m + nx), np.full(m + nx, not relax),
                    time_limit=120)
    assert out.optimal
    return out.objective


def check_feasible(res, q, cap, p, fixed=()):
    assert res.sites.size == p and set(fixed) <= set(res.sites)
    assert set(res.assignment) <= set(res.sites)
    load = np.bincount(res.assignment, weights=q, minlength=cap.size)
    assert (load <= cap + 1e-9).all()
    assert np.allclose(res.extras["load"], load[res.sites])


@pytest.mark.parametrize("seed", range(8))
def test_heuristic_and_bound_against_brute_force(seed):
    cost, q = small(seed)
    p = 2 + seed % 2
    fixed = (seed % 5,) if seed >= 4 else ()
    cap = np.full(5, np.ceil(q.sum() * (0.55 if p == 2 else 0.4)))
    best = brute_force(q[:, None] * cost, q, cap, p, fixed)
    for method in ("heuristic", "exact"):
        res = solve_capacitated_pmedian(cost, p, cap, q, fixed_sites=fixed, method=method)
        check_feasible(res, q, cap, p, fixed)
        assert res.lower_bound <= best + 1e-9 <= res.objective + 2e-9
        assert res.objective == pytest.approx((q * cost[np.arange(8), res.assignment]).sum())
        if method == "exact":
            assert res.proven_optimal and res.objective == pytest.approx(best)
        elif res.proven_optimal:
            assert res.objective == pytest.approx(best)


@pytest.fixture(scope="module")
def medium():
    cost, pop = random_county_instance(60, 24, n_centres=8, seed=5)
    q = np.round(pop / 50.0)
    cap = np.full(24, np.ceil(q.sum() / 5.0))
    return np.round(cost), q, cap


def test_medium_against_independent_mip(medium):
    cost, q, cap = medium
    opt = classical_mip(q[:, None] * cost, q, cap, 6)
    heur = solve_capacitated_pmedian(cost, 6, cap, q, method="heuristic")
    check_feasible(heur, q, cap, 6)
    assert heur.lower_bound <= opt + 1e-6 <= heur.objective + 2e-6
    # a useful certificate: the knapsack relaxation beats the textbook LP, the solution is close
    assert heur.extras["lagrangian_bound"] > classical_mip(q[:, None] * cost, q, cap, 6, relax=True)
    assert heur.objective <= 1.03 * opt
    assert heur.method == "heuristic:lagrangian"
    exact = solve_capacitated_pmedian(cost, 6, cap, q, method="exact")
    assert exact.proven_optimal and exact.objective == pytest.approx(opt) and exact.lower_bound == exact.objective
    assert solve_capacitated_pmedian(cost, 6, cap, q).method.startswith("exact:")  # auto: small enough


def test_county_size_is_fast_with_a_certified_gap():
    """400 villages x 150 sites, primary pupils (services.pupil_share) and places for 36 or 27
    classes of 45: the default (auto -> heuristic) gives a small proven gap in seconds."""
    from pianqu.config import load_config

    cost, pop = random_county_instance(400, 150, seed=1)
    q = np.round(pop * load_config()["services.pupil_share"]["primary_school"], 1)
    cap = np.full(150, 27 * 45.0)
    cap[:30] = 36 * 45.0  # township centres
    res = solve_capacitated_pmedian(cost, 20, cap, q, time_limit=30)
    check_feasible(res, q, cap, 20)
    assert res.method == "heuristic:lagrangian"
    assert res.gap < 0.02  # its speed: benchmarks/bench_locate.py
    # the Lagrangian bound beats the uncapacitated p-median bound (all the plain MIP proved in 60 s)
    assert res.lower_bound == res.extras["lagrangian_bound"] > res.extras["pmedian_bound"]


def test_splittable_demands_use_the_mip(medium):
    cost, q, cap = medium
    res = solve_capacitated_pmedian(cost, 6, cap, q, single_source=False, method="exact")
    single = solve_capacitated_pmedian(cost, 6, cap, q, method="exact")
    assert res.proven_optimal and res.objective <= single.objective + 1e-6
    assert (res.extras["load"] <= cap[res.sites] + 1e-6).all()


# ---- pieces ------------------------------------------------------------------------------


def test_knapsacks_against_enumeration_and_linprog():
    rng = np.random.default_rng(0)
    for _ in range(60):
        n = 9
        profit, q, cap = rng.normal(2, 3, n), rng.uniform(0, 10, n), rng.uniform(5, 40)
        q[0] = 0.0  # a weightless item
        best = max(profit[list(s)].sum() for r in range(n + 1) for s in combinations(range(n), r)
                   if q[list(s)].sum() <= cap)
        value, take = knapsack_01(profit, q, cap, units=100_000)
        assert value >= best - 1e-9  # never below the optimum: a valid bound
        assert value == pytest.approx(best, abs=1e-6) or q[take].sum() <= cap * 1.001
        lp = linprog(-np.maximum(profit, 0), A_ub=q[None], b_ub=[cap], bounds=[(0, 1)] * n)
        v_lp, (i, j, x) = knapsack_lp(profit[:, None], q, np.array([cap]))
        assert v_lp[0] == pytest.approx(-lp.fun, abs=1e-7) and v_lp[0] >= value - 1e-9
        assert (q[i] * x).sum() <= cap + 1e-9


def test_relaxation_is_a_lower_bound_everywhere():
    cost, q = small(3)
    W = q[:, None] * cost
    cap = np.full(5, np.ceil(q.sum() * 0.4))
    best = brute_force(W, q, cap, 3)
    rng = np.random.default_rng(1)
    none, mask = np.zeros(0, dtype=np.int64), np.zeros(5, dtype=bool)
    for _ in range(40):
        lam = rng.uniform(0, 1.5, 8) * W.max(axis=1)
        lp, *_ = lagrangian_value(W, q, cap, lam, 3, none, mask, exact=False)
        ex, *_ = lagrangian_value(W, q, cap, lam, 3, none, mask, exact=True, units=100_000)
        assert lp <= ex + 1e-9 <= best + 2e-9


def test_assignment_moves_keep_capacity_and_never_worsen():
    rng = np.random.default_rng(4)
    W = rng.uniform(1, 100, (50, 6))
    q = rng.uniform(1, 10, 50)
    sites = np.array([0, 2, 3, 5])
    cap = np.full(6, q.sum() / 3.5)
    a = regret_assign(W, q, cap[sites], sites)
    b = improve_assignment(W, q, cap, sites, a)
    c = lp_assign(W, q, cap, sites)
    for x in (a, b, c):
        assert set(x) <= set(sites)
        assert (np.bincount(x, weights=q, minlength=6) <= cap + 1e-9).all()
    rows = np.arange(50)
    assert W[rows, b].sum() <= W[rows, a].sum() + 1e-9
    assert regret_assign(W, q, np.full(4, 1.0), sites) is None  # nothing fits
