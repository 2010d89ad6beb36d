"""Capacitated p-median: every demand served by one open site (single source) within capacity.

Formulation (HiGHS MIP, strengthened with x_ij <= y_j):

    min  sum_ij w_i c_ij x_ij
    s.t. sum_j x_ij = 1                 every demand assigned
         sum_i q_i x_ij <= Q_j y_j      capacity of open sites
         x_ij <= y_j                    (tightens the LP bound)
         sum_j y_j = p,  y binary, x binary (or continuous when splitting is allowed)
"""

from __future__ import annotations

import time
from typing import Iterable

import numpy as np
from scipy import sparse

from .highs_model import INF, solve_mip
from .result import (
    LocationResult,
    as_cost_matrix,
    as_weights,
    check_method,
    check_p,
    integral_data,
    relative_gap,
    site_sets,
)


def solve_capacitated_pmedian(
    cost: np.ndarray,
    p: int,
    capacities: np.ndarray,
    demand: np.ndarray,
    *,
    weights: np.ndarray | None = None,
    fixed_sites: Iterable[int] = (),
    forbidden_sites: Iterable[int] = (),
    single_source: bool = True,
    method: str = "auto",
    time_limit: float = 60.0,
    heuristic_gap: float = 0.01,
    start_time_limit: float = 5.0,
    full_max_pairs: int = 20_000,
    neighbours: int = 15,
) -> LocationResult:
    """Choose p sites and assign each demand to one of them without exceeding capacities.

    capacities: (n_sites,) capacity of each site; demand: (n_demand,) load of each demand.
    weights: multiplier of the assignment cost (defaults to ``demand``: cost per unit served).
    single_source: one site per demand (villages keep one service centre); False lets a
        demand split across sites, and ``assignment`` then names its largest share.
    method: "exact" (HiGHS MIP to gap 0 within ``time_limit``), "heuristic" (the same MIP
        stopped at relative gap ``heuristic_gap``, with its proven bound); "auto" is exact.
        Above ``full_max_pairs`` demand-site pairs each demand may only use its
        ``neighbours`` cheapest sites: the result is then a heuristic whose lower bound is
        the uncapacitated p-median optimum.  Both start from the uncapacitated p-median sites with a capacity-feasible
        assignment (a generalised assignment MIP, at most ``start_time_limit`` seconds).
    Raises ValueError when the p largest usable capacities cannot hold the total demand,
    or (single source) a demand exceeds every allowed site's capacity.
    """
    t0 = time.perf_counter()
    check_method(method)
    C = as_cost_matrix(cost, allow_inf=False)
    n, m_all = C.shape
    q = np.asarray(demand, dtype=float).ravel()
    if q.shape != (n,) or not np.isfinite(q).all() or (q < 0).any():
        raise ValueError(f"demand must be {n} finite values >= 0")
    cap_all = np.asarray(capacities, dtype=float).ravel()
    if cap_all.shape != (m_all,) or np.isnan(cap_all).any() or (cap_all < 0).any():
        raise ValueError(f"capacities must be {m_all} values >= 0")
    w = q.copy() if weights is None else as_weights(weights, n)
    fixed_all, forbidden, allowed = site_sets(m_all, fixed_sites, forbidden_sites)
    p = check_p(p, allowed.size, fixed_all.size, forbidden.size)
    fixed = np.searchsorted(allowed, fixed_all)
    cap = cap_all[allowed]
    k = allowed.size
    # capacity check: fixed sites plus the largest remaining ones
    free = np.setdiff1d(np.arange(k), fixed)
    best_cap = cap[fixed].sum() + np.sort(cap[free])[::-1][: p - fixed.size].sum()
    if q.sum() > best_cap + 1e-9 * max(1.0, q.sum()):
        raise ValueError(
            f"capacities too small: total demand {q.sum():g} exceeds {best_cap:g}, the most "
            f"that p={p} open sites can hold (fixed sites included)"
        )
    if single_source and k:
        too_big = np.flatnonzero(q > cap.max() + 1e-12)
        if too_big.size:
            i = int(too_big[0])
            raise ValueError(
                f"demand {i} ({q[i]:g}) exceeds the largest allowed site capacity ({cap.max():g}); "
                "use single_source=False to let it split"
            )
    WC = w[:, None] * C[:, allowed]
    start = _start_solution(WC, q, cap, p, fixed, single_source, time_limit=start_time_limit)
    # assignment pairs: all, or each demand's nearest sites (plus the start's own pairs)
    restricted = n * k > full_max_pairs
    if restricted:
        near = np.argsort(WC, axis=1, kind="stable")[:, : min(neighbours, k)]
        mask = np.zeros((n, k), dtype=bool)
        mask[np.arange(n)[:, None], near] = True
        if start is not None:
            mask |= start[1] > 0
    else:
        mask = np.ones((n, k), dtype=bool)
    ii, jj = np.nonzero(mask)
    nx = ii.size
    xcol = k + np.arange(nx)
    r_link = n + k + np.arange(nx)  # x_ij - y_j <= 0
    r_p = n + k + nx
    rows = np.concatenate([ii, n + jj, n + np.arange(k), r_link, r_link, np.full(k, r_p)])
    cols = np.concatenate([xcol, xcol, np.arange(k), xcol, jj, np.arange(k)])
    vals = np.concatenate([np.ones(nx), q[ii], -cap, np.ones(nx), -np.ones(nx), np.ones(k)])
    A = sparse.csc_matrix((vals, (rows, cols)), shape=(r_p + 1, k + nx))
    row_lo = np.concatenate([np.ones(n), np.full(k, -INF), np.full(nx, -INF), [p]])
    row_hi = np.concatenate([np.ones(n), np.zeros(k), np.zeros(nx), [p]])
    col_lo = np.zeros(k + nx)
    col_lo[fixed] = 1.0
    c = np.concatenate([np.zeros(k), WC[ii, jj]])
    integer = np.concatenate([np.ones(k, dtype=bool), np.full(nx, single_source)])
    gap = heuristic_gap if method == "heuristic" else 0.0
    x0 = None
    if start is not None:
        x0 = np.zeros(k + nx)
        x0[start[0]] = 1.0
        x0[k:] = start[1][ii, jj]
    out = solve_mip(
        c, A, row_lo, row_hi, col_lo, np.ones(k + nx), integer,
        time_limit=max(time_limit - (time.perf_counter() - t0), 1e-3), mip_rel_gap=gap, start=x0,
    )
    if out.infeasible and not restricted:
        raise ValueError("capacitated p-median is infeasible for these capacities and demands "
                         "(no assignment of demands to p sites respects every capacity)")
    if out.x is None:
        raise RuntimeError(f"capacitated p-median: no solution within time_limit={time_limit}s ({out.status})")
    y = out.x[:k] > 0.5
    X = np.zeros((n, k))
    X[ii, jj] = out.x[k:]
    share = np.argmax(X, axis=1)
    open_sites = allowed[np.flatnonzero(y)]
    assignment = allowed[share]
    obj = float((WC * X).sum())
    # the MIP bound is global only for the full model; the uncapacitated p-median optimum
    # (same p, same fixed sites) is a lower bound either way
    lb = -np.inf if restricted else out.dual_bound
    if restricted or not out.optimal:
        remaining = max(time_limit - (time.perf_counter() - t0), 1.0)
        from .pmedian import pmedian_exact_core

        pm = pmedian_exact_core(WC, p, fixed, time_limit=remaining, integral=integral_data(WC))
        lb = max(lb, pm.lower_bound)
    if single_source and integral_data(WC):
        lb = float(np.ceil(lb - 1e-7 * max(1.0, abs(obj))))
    lb = min(lb, obj)
    proven = (not restricted and out.optimal and gap == 0.0) or obj - lb <= 1e-9 * max(1.0, abs(obj))
    load = X.T @ q
    return LocationResult(
        model="capacitated-p-median",
        sites=open_sites,
        assignment=assignment,
        objective=obj,
        lower_bound=lb,
        gap=relative_gap(obj, lb),
        proven_optimal=bool(proven),
        method=("heuristic:" if gap or restricted else "exact:") + ("highs-mip-nearest" if restricted else "highs-mip"),
        time_s=time.perf_counter() - t0,
        nodes=out.nodes,
        extras={"load": load[np.flatnonzero(y)], "capacity": cap[np.flatnonzero(y)]},
    )


def _start_solution(
    WC: np.ndarray,
    q: np.ndarray,
    cap: np.ndarray,
    p: int,
    fixed: np.ndarray,
    single_source: bool,
    *,
    time_limit: float,
) -> tuple[np.ndarray, np.ndarray] | None:
    """Incumbent: p-median sites (heuristic), then the cheapest capacity-feasible assignment
    to them.  None when those sites cannot hold the demand."""
    from .swap import swap_heuristic

    n, k = WC.shape
    sites, _ = swap_heuristic(WC, p, fixed)
    if cap[sites].sum() < q.sum():
        return None
    sub = WC[:, sites]
    ps = sites.size
    nx = n * ps
    ii = np.repeat(np.arange(n), ps)
    jj = np.tile(np.arange(ps), n)
    A = sparse.csc_matrix(
        (np.concatenate([np.ones(nx), q[ii]]), (np.concatenate([ii, n + jj]), np.tile(np.arange(nx), 2))),
        shape=(n + ps, nx),
    )
    row_lo = np.concatenate([np.ones(n), np.full(ps, -INF)])
    row_hi = np.concatenate([np.ones(n), cap[sites]])
    out = solve_mip(
        sub.ravel(), A, row_lo, row_hi, np.zeros(nx), np.ones(nx), np.full(nx, single_source),
        time_limit=time_limit, mip_rel_gap=1e-3,
    )
    if out.x is None:
        return None
    X = np.zeros((n, k))
    X[:, sites] = out.x.reshape(n, ps)
    if single_source:
        X = np.round(X)
    return sites, X
