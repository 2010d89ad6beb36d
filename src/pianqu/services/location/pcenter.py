"""p-center: minimise the largest (weighted) demand-to-site cost with p open sites.

Solved by bisection over the sorted distinct costs: radius r is feasible iff the set
cover "every demand within r" needs at most p sites.  Each test is answered cheaply
when possible (greedy cover <= p: feasible; LP cover > p: infeasible) and by an exact
HiGHS MIP otherwise, so the final radius comes with a proof: the next smaller candidate
was shown infeasible.
"""

from __future__ import annotations

import time
from typing import Iterable

import numpy as np

from .coverage import _greedy_cover, _lscp_model
from .result import (
    LocationResult,
    as_cost_matrix,
    as_weights,
    check_method,
    check_p,
    relative_gap,
    site_sets,
)
from .swap import greedy_add


def _feasible(
    cover: np.ndarray, p: int, fixed: np.ndarray, exact: bool, deadline: float
) -> tuple[bool | None, np.ndarray | None, int]:
    """Can p sites (fixed ones included) cover every demand?  (answer, sites, MIP nodes).

    answer None: undecided (heuristic mode or out of time).
    """
    if not cover.any(axis=1).all():
        return False, None, 0
    ones = np.ones(cover.shape[1])
    greedy = _greedy_cover(cover, ones, fixed)
    if greedy.size <= p:
        return True, greedy, 0
    pre = cover[:, fixed].any(axis=1) if fixed.size else np.zeros(cover.shape[0], dtype=bool)
    rows = np.flatnonzero(~pre)
    remaining = deadline - time.perf_counter()
    if remaining <= 0:
        return None, None, 0
    lp = _lscp_model(cover, rows, ones, fixed, integer=False, time_limit=remaining)
    if lp.optimal and lp.objective > p + 1e-6:
        return False, None, 0
    if not exact:
        return None, None, 0
    remaining = deadline - time.perf_counter()
    if remaining <= 0:
        return None, None, 0
    mip = _lscp_model(cover, rows, ones, fixed, integer=True, time_limit=remaining, max_sites=p)
    if mip.infeasible:
        return False, None, mip.nodes
    if mip.x is not None:
        return True, np.flatnonzero(mip.x > 0.5), mip.nodes
    return None, None, mip.nodes


def solve_pcenter(
    cost: np.ndarray,
    p: int,
    *,
    weights: np.ndarray | None = None,
    fixed_sites: Iterable[int] = (),
    forbidden_sites: Iterable[int] = (),
    method: str = "auto",
    time_limit: float = 60.0,
) -> LocationResult:
    """Open p sites minimising max_i w_i * cost[i, nearest open site].

    weights: optional demand weights (weighted p-center); ones when None.
    method: "exact" (bisection with exact set-cover MIPs), "heuristic" (bisection
    decided by greedy covers and LP relaxations only: the objective is feasible and the
    bound is the smallest radius the LP could not rule out); "auto" is exact.
    When fewer than p sites suffice, the remaining ones are added greedily by total cost.
    """
    t0 = time.perf_counter()
    deadline = t0 + time_limit
    check_method(method)
    C = as_cost_matrix(cost, allow_inf=False)
    n, m_all = C.shape
    w = as_weights(weights, n)
    fixed_all, forbidden, allowed = site_sets(m_all, fixed_sites, forbidden_sites)
    p = check_p(p, allowed.size, fixed_all.size, forbidden.size)
    fixed = np.searchsorted(allowed, fixed_all)
    W = w[:, None] * C[:, allowed]
    exact = method != "heuristic"
    values = np.unique(W)
    # no radius below the largest "best possible" demand cost can work
    floor = float(W.min(axis=1).max())
    lo = int(np.searchsorted(values, floor))  # smallest candidate not yet ruled out
    hi = values.size - 1  # largest radius is always feasible (p >= 1 site covers all)
    nodes = 0
    ok, sites, nd = _feasible(W <= values[hi], p, fixed, exact, deadline)
    best_sites = sites if sites is not None else np.array([int(np.argmin(W.max(axis=0)))])
    nodes += nd
    undecided_low = None
    # bisection: invariant values[hi] feasible, everything below values[lo] infeasible
    while lo < hi:
        mid = (lo + hi) // 2
        ok, sites, nd = _feasible(W <= values[mid], p, fixed, exact, deadline)
        nodes += nd
        if ok:
            hi, best_sites = mid, sites
        elif ok is False:
            lo = mid + 1
        else:
            # undecided: try the upper half for a feasible radius, remember the bound
            undecided_low = lo if undecided_low is None else min(undecided_low, lo)
            lo = mid + 1
    # in heuristic mode (or on timeout) the bound is the lowest radius never ruled out
    lower_idx = lo if undecided_low is None else undecided_low
    # recompute the feasible radius from the sites found (may be below values[hi])
    sites = np.union1d(best_sites, fixed).astype(np.int64)
    if sites.size < p:
        extra = greedy_add(W, p, sites)
        sites = extra
    obj = float(W[:, sites].min(axis=1).max())
    lb = min(float(values[min(lower_idx, values.size - 1)]), obj)
    proven = exact and undecided_low is None and obj <= lb
    open_sites = allowed[np.sort(sites)]
    assignment = open_sites[np.argmin(C[:, open_sites], axis=1)]
    return LocationResult(
        model="p-center",
        sites=open_sites,
        assignment=assignment,
        objective=obj,
        lower_bound=lb,
        gap=relative_gap(obj, lb),
        proven_optimal=bool(proven),
        method="exact:bisection+set-cover-mip" if exact else "heuristic:bisection+greedy+lp",
        time_s=time.perf_counter() - t0,
        nodes=nodes,
        extras={"radius": obj},
    )
