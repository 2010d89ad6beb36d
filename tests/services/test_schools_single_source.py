"""Single-source school assignment (one school per village, or none): against brute force on
small instances, against an independent HiGHS MIP (scipy.optimize.milp) on a medium one, and
the certified gap: the bound never exceeds the optimum and the result lies within the gap."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.optimize import Bounds, LinearConstraint, milp

from pianqu.config import load_config
from pianqu.services import assign_schools
from pianqu.services.location.cap_lagrangian import generalized_assignment, knapsack_assignment

PEN = float(load_config()["services.school_unassigned_min"]) * 60.0


def total(a) -> float:
    return a.objective + PEN * float(a.unassigned.sum())


def brute(q, C, cap, ok):
    """Every choice of one permitted school or none per village (vectorised enumeration)."""
    n, m = C.shape
    choice = np.array(list(itertools.product(range(m + 1), repeat=n)))  # m = no place
    cost_ext = np.c_[np.where(ok, q[:, None] * C, np.inf), q * PEN]
    cost = cost_ext[np.arange(n)[None, :], choice].sum(axis=1)
    load = np.stack([(q[None, :] * (choice == j)).sum(axis=1) for j in range(m)], axis=1)
    cost[(load > cap[None, :] + 1e-9).any(axis=1)] = np.inf
    return float(cost.min())


def random_instance(rng, n, m, fill, zones=1):
    xy_v, xy_s = rng.uniform(0, 20_000, (n, 2)), rng.uniform(0, 20_000, (m, 2))
    C = np.hypot(*(xy_v[:, None, :] - xy_s[None, :, :]).transpose(2, 0, 1)) * 1.3 / 8.0  # seconds at 8 m/s
    q = rng.integers(10, 120, n).astype(float) * 0.64
    cap = rng.dirichlet(np.ones(m) * 3) * q.sum() * fill
    vz, sz = rng.integers(0, zones, n), np.arange(m) % zones
    return q, C, cap, vz[:, None] == sz[None, :]


def check(a, q, cap, ok, opt):
    """Feasible, one school per village, within capacity, bound ≤ optimum ≤ result within the gap."""
    share = a.share
    assert set(np.unique(share)) <= {0.0, 1.0} and (share.sum(axis=1) <= 1).all()
    assert not (share[~ok] > 0).any()
    assert (share.T @ q <= cap + 1e-9).all() and np.allclose(a.load, share.T @ q)
    t = total(a)
    assert t >= opt - 1e-6 * opt
    assert a.lower_bound <= opt + 1e-6 * opt
    assert t - opt <= a.gap * t + 1e-6 * opt
    assert a.gap == pytest.approx((t - a.lower_bound) / t, abs=1e-12)


@pytest.mark.parametrize("seed,zones,fill", [(0, 1, 0.9), (1, 2, 0.8), (2, 2, 1.1), (3, 1, 0.7), (4, 3, 1.0)])
def test_single_source_brute_force(seed, zones, fill):
    rng = np.random.default_rng(seed)
    n, m = 7, 4
    q, C, cap, ok = random_instance(rng, n, m, fill, zones)
    C[0, 1] = np.inf  # no road
    opt = brute(q, C, cap, ok & np.isfinite(C))
    a = assign_schools(q, C, cap, allowed=ok, single_source=True, improve_s=10.0)
    check(a, q, cap, ok & np.isfinite(C), opt)
    assert a.proven_optimal and total(a) == pytest.approx(opt, rel=1e-9)
    if fill < 1.0:  # fewer places than pupils: someone has no place, and the brute force agrees it is forced
        assert a.unassigned.sum() > 0


def test_unassigned_rather_than_forbidden():
    """A village whose only school is forbidden or full gets no place, never a forbidden school."""
    q = np.array([50.0, 40.0, 30.0])
    C = np.array([[600.0, 300.0], [700.0, 900.0], [800.0, 200.0]])
    cap = np.array([60.0, 35.0])
    ok = np.array([[True, False], [True, False], [False, True]])
    a = assign_schools(q, C, cap, allowed=ok, single_source=True)
    # by hand: school 0 takes 50 or 40 (not both: 90 > 60) → keep 50 at 600 s (40 × 240 min penalty
    # is less than 50 × 240 min); village 2 to school 1 (30 ≤ 35)
    assert a.school.tolist() == [0, -1, 1] and a.unassigned.tolist() == [0.0, 40.0, 0.0]
    assert a.proven_optimal and total(a) == pytest.approx(brute(q, C, cap, ok))


def independent_mip(q, C, cap, ok, time_limit=60.0):
    """min Σ q c x + PEN Σ q u, Σ_j x_ij + u_i = 1, Σ_i q_i x_ij ≤ cap_j, binary (scipy's milp)."""
    n, m = C.shape
    c = np.r_[np.where(ok, q[:, None] * np.where(ok, C, 0.0), 0.0).ravel(), q * PEN]
    A1 = np.zeros((n, n * m + n))
    A2 = np.zeros((m, n * m + n))
    for i in range(n):
        A1[i, i * m:(i + 1) * m] = 1.0
        A1[i, n * m + i] = 1.0
        A2[:, i * m:(i + 1) * m] = np.diag(np.full(m, q[i]))
    ub = np.r_[ok.ravel().astype(float), np.ones(n)]
    res = milp(c, constraints=[LinearConstraint(A1, 1, 1), LinearConstraint(A2, -np.inf, cap)],
               integrality=np.ones(n * m + n), bounds=Bounds(0, ub), options={"time_limit": time_limit})
    assert res.status == 0, res.message  # proven optimal
    return float(res.fun)


@pytest.fixture(scope="module")
def medium():
    rng = np.random.default_rng(7)
    q, C, cap, ok = random_instance(rng, 60, 12, 1.05, zones=3)  # places = 105 % of pupils, unevenly by zone
    return q, C, cap, ok


def test_single_source_medium_against_independent_mip(medium):
    q, C, cap, ok = medium
    opt = independent_mip(q, C, cap, ok)
    a = assign_schools(q, C, cap, allowed=ok, single_source=True, improve_s=20.0)
    check(a, q, cap, ok, opt)
    assert a.info["components"] == 3 and a.gap <= 0.01
    # the LP bound is valid but weaker than the certified one
    lp = assign_schools(q, C, cap, allowed=ok)
    assert total(lp) <= a.lower_bound + 1e-6 * opt
    # deterministic: the same answer again (the search finished before its time limit)
    if a.proven_optimal:
        b = assign_schools(q, C, cap, allowed=ok, single_source=True, improve_s=20.0)
        assert np.array_equal(a.school, b.school) and total(a) == total(b)


def test_free_against_independent_mip():
    q, C, cap, ok = random_instance(np.random.default_rng(12), 24, 5, 0.95)  # one zone: one component
    opt = independent_mip(q, C, cap, ok)
    a = assign_schools(q, C, cap, single_source=True, improve_s=8.0)
    check(a, q, cap, ok, opt)
    assert a.info["components"] == 1 and a.gap <= 0.05


def test_generalized_assignment_engine():
    """The engine entry point: a valid bound (≤ the brute-force optimum), a feasible solution,
    and knapsack solutions turned into a capacity-feasible assignment."""
    rng = np.random.default_rng(5)
    q, C, cap, ok = random_instance(rng, 7, 3, 0.85)
    W = np.c_[q[:, None] * C, q * PEN]
    capv = np.r_[cap, q.sum()]
    opt = brute(q, C, cap, ok)
    h = generalized_assignment(W, q, capv, time_limit=5.0)
    assert h.lower_bound <= opt + 1e-6 * opt <= h.objective + 2e-6 * opt
    assert h.info["lp_bound"] <= h.lower_bound + 1e-9 * opt
    assert (np.bincount(h.assignment, weights=q, minlength=4) <= capv + 1e-9).all()
    X = np.ones((7, 4))  # every knapsack takes everyone: cheapest kept, overfull shed, then regret
    a = knapsack_assignment(W, q, capv, X)
    assert (np.bincount(a, weights=q, minlength=4) <= capv + 1e-9).all()
