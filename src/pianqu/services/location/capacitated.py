"""Capacitated p-median: every demand served by one open site (single source) within capacity.

Two engines behind one call:

* a Lagrangian bound and heuristic (:mod:`.cap_lagrangian`: assignment constraints
  relaxed, one knapsack per site; solutions from the relaxation's sites by rounded
  transportation LP, shift/swap and site-swap moves), fast at county size, always with a
  proven gap;
* a HiGHS MIP that closes the gap, started from the heuristic's solution, over the sites
  the Lagrangian bound does not close (strengthened with x_ij <= y_j):

    min  sum_ij w_i c_ij x_ij
    s.t. sum_j x_ij = 1                 every demand assigned
         sum_i q_i x_ij <= Q_j y_j      capacity of open sites
         x_ij <= y_j                    (tightens the LP bound)
         sum_j y_j = p,  y binary, x binary (or continuous when splitting is allowed)

The uncapacitated p-median optimum (same p, same fixed sites) is a lower bound too, and
its sites are the heuristic's first start.
"""

from __future__ import annotations

import time
from typing import Iterable

import numpy as np
from scipy import sparse

from .cap_lagrangian import CapacitatedHeuristic, lagrangian_heuristic, lagrangian_value
from .highs_model import INF, MipOutcome, solve_mip
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
    heuristic_time_limit: float = 10.0,
    pmedian_time_limit: float = 2.0,
    auto_exact_max_pairs: int = 20_000,
) -> LocationResult:
    """Choose p sites and assign each demand to one of them without exceeding capacities.

    capacities: (n_sites,) capacity of each site; demand: (n_demand,) load of each demand.
    weights: multiplier of the assignment cost (defaults to ``demand``: cost per unit served).
    single_source: one site per demand (villages keep one service centre); False lets a
        demand split across sites, and ``assignment`` then names its largest share.
    method: "heuristic" (Lagrangian bound + Lagrangian heuristic, at most
        ``heuristic_time_limit`` seconds, gap against the best bound), "exact" (the
        heuristic, then the MIP until proven optimal or ``time_limit``), "auto" (exact when
        n_demand * n_sites <= ``auto_exact_max_pairs``, else heuristic).  With
        ``single_source=False`` the heuristic is skipped and "exact"/"auto" solve the MIP
        (y binary, x continuous), "heuristic" returns its first solution's gap when the
        time runs out.
    pmedian_time_limit: seconds for the uncapacitated p-median (start sites and bound).
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
    int_data = integral_data(WC)
    integral = single_source and int_data
    use_mip = method == "exact" or (method == "auto" and n * k <= auto_exact_max_pairs)
    info: dict = {}

    def left() -> float:
        return max(time_limit - (time.perf_counter() - t0), 1e-3)

    # the uncapacitated p-median: its sites start the heuristic, its bound holds here too
    from .pmedian import pmedian_exact_core

    pm = pmedian_exact_core(WC, p, fixed, time_limit=min(pmedian_time_limit, left() / 4), integral=int_data)
    lb = pm.lower_bound
    info["pmedian_bound"] = lb
    sites = assign = None
    ub = np.inf
    closed = np.zeros(k, dtype=bool)
    if single_source:
        heur = lagrangian_heuristic(WC, q, cap, p, fixed, starts=[pm.sites],
                                    time_limit=min(heuristic_time_limit, left()), integral=int_data)
        info.update({key: v for key, v in heur.info.items() if key != "multipliers"})
        info["lagrangian_bound"] = heur.lower_bound
        lb = max(lb, heur.lower_bound)
        sites, assign, ub = heur.sites, heur.assignment, heur.objective
        if sites is not None and use_mip:
            closed = _lagrangian_closed(WC, q, cap, p, fixed, heur, integral)
    info.update(heuristic_objective=ub, sites_closed_by_bound=int(closed.sum()))
    nodes, mip_optimal, engine = 0, False, "lagrangian"
    if single_source and sites is None:
        use_mip = True  # capacities too tight for the heuristic: let the MIP search for a solution
    run_mip = use_mip and not (np.isfinite(ub) and _certified(ub, lb, integral))
    if run_mip or not single_source:  # the splittable model's heuristic is the MIP, stopped at the time
        limit = left() if run_mip else min(heuristic_time_limit, left())
        out, keep = _solve_mip(WC, q, cap, p, fixed, closed, single_source, limit, sites, assign)
        nodes, engine = out.nodes, ("lagrangian+mip" if single_source else "mip")
        if out.x is not None and (not np.isfinite(ub) or out.objective < ub - 1e-9 * max(1.0, abs(ub))):
            X = out.x[keep.size:].reshape(n, keep.size)
            sites = keep[out.x[: keep.size] > 0.5]
            if single_source:
                assign = keep[np.argmax(X, axis=1)]
            else:
                assign = np.zeros((n, k))
                assign[:, keep] = X
            ub = out.objective
        if out.infeasible and not np.isfinite(ub):
            raise ValueError("capacitated p-median is infeasible for these capacities and demands "
                             "(no assignment of demands to p sites respects every capacity)")
        # the sites closed by the Lagrangian bound only hold solutions costing at least the
        # heuristic's, which the MIP started from: its bound (<= ub) is global
        lb = max(lb, out.dual_bound)
        mip_optimal = out.optimal
    if sites is None:
        raise RuntimeError(f"capacitated p-median: no feasible solution found within time_limit={time_limit}s "
                           "(capacities may be too tight for single-source assignment)")
    if single_source:
        X = np.zeros((n, k))
        X[np.arange(n), assign] = 1.0
    else:
        X = assign
    obj = float((WC * X).sum())
    if integral and np.isfinite(lb):
        lb = float(np.ceil(lb - 1e-7 * max(1.0, abs(obj))))
    lb = min(lb, obj)
    proven = mip_optimal or _certified(obj, lb, integral)
    open_pos = np.sort(np.asarray(sites, dtype=np.int64))
    load = X.T @ q
    return LocationResult(
        model="capacitated-p-median",
        sites=allowed[open_pos],
        assignment=allowed[np.argmax(X, axis=1)],
        objective=obj,
        lower_bound=lb,
        gap=relative_gap(obj, lb),
        proven_optimal=bool(proven),
        method=("exact:" if use_mip else "heuristic:") + engine,
        time_s=time.perf_counter() - t0,
        nodes=nodes,
        extras={"load": load[open_pos], "capacity": cap[open_pos], **info},
    )


def _certified(ub: float, lb: float, integral: bool) -> bool:
    """The bound proves ``ub`` optimal (integral data: no solution is 1 cheaper)."""
    if integral:
        return lb > ub - 1.0 + 1e-7 * max(1.0, abs(ub))
    return ub - lb <= 1e-9 * max(1.0, abs(ub))


def _lagrangian_closed(WC: np.ndarray, q: np.ndarray, cap: np.ndarray, p: int, fixed: np.ndarray,
                       heur: CapacitatedHeuristic, integral: bool) -> np.ndarray:
    """Sites that the Lagrangian bound at the best multipliers keeps closed in every solution
    cheaper than the heuristic's: forcing site j open costs at least L + rho_j - (the largest
    rho among the free chosen sites)."""
    k = WC.shape[1]
    fixed_mask = np.zeros(k, dtype=bool)
    fixed_mask[fixed] = True
    closed = np.zeros(k, dtype=bool)
    if p == fixed.size:
        closed[~fixed_mask] = True
        return closed
    val, S, _, rho = lagrangian_value(WC, q, cap, heur.info["multipliers"], p, fixed, fixed_mask, exact=True)
    free_S = S[~fixed_mask[S]]
    ub = heur.objective
    level = ub - (1.0 - 1e-7 * max(1.0, abs(ub)) if integral else 1e-9 * max(1.0, abs(ub)))
    closed = (val + rho - rho[free_S].max() > level) & ~fixed_mask
    closed[S] = False
    closed[heur.sites] = False  # the incumbent's sites stay (it is the MIP's start)
    return closed


def _solve_mip(WC: np.ndarray, q: np.ndarray, cap: np.ndarray, p: int, fixed: np.ndarray, closed: np.ndarray,
               single_source: bool, time_limit: float, start_sites: np.ndarray | None,
               start_assign: np.ndarray | None) -> tuple[MipOutcome, np.ndarray]:
    """The MIP over the sites not ``closed``: columns y of ``keep``, then x demand by demand."""
    n = WC.shape[0]
    keep = np.flatnonzero(~closed)
    kk = keep.size
    nx = n * kk
    ii, jj = np.repeat(np.arange(n), kk), np.tile(np.arange(kk), n)
    xcol = kk + np.arange(nx)
    r_link = n + kk + np.arange(nx)  # x_ij - y_j <= 0
    r_p = n + kk + nx
    rows = np.concatenate([ii, n + jj, n + np.arange(kk), r_link, r_link, np.full(kk, r_p)])
    cols = np.concatenate([xcol, xcol, np.arange(kk), xcol, jj, np.arange(kk)])
    vals = np.concatenate([np.ones(nx), q[ii], -cap[keep], np.ones(nx), -np.ones(nx), np.ones(kk)])
    A = sparse.csc_matrix((vals, (rows, cols)), shape=(r_p + 1, kk + nx))
    row_lo = np.concatenate([np.ones(n), np.full(kk, -INF), np.full(nx, -INF), [p]])
    row_hi = np.concatenate([np.ones(n), np.zeros(kk), np.zeros(nx), [p]])
    col_lo = np.zeros(kk + nx)
    col_lo[np.searchsorted(keep, fixed)] = 1.0
    c = np.concatenate([np.zeros(kk), WC[:, keep].ravel()])
    integer = np.concatenate([np.ones(kk, dtype=bool), np.full(nx, single_source)])
    x0 = None
    if start_sites is not None:
        x0 = np.zeros(kk + nx)
        x0[np.searchsorted(keep, start_sites)] = 1.0
        x0[kk + np.arange(n) * kk + np.searchsorted(keep, start_assign)] = 1.0
    out = solve_mip(c, A, row_lo, row_hi, col_lo, np.ones(kk + nx), integer, time_limit=time_limit, start=x0)
    return out, keep
