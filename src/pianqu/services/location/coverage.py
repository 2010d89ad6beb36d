"""Coverage models: maximal covering (MCLP) and location set covering (LSCP).

A demand is covered by a site when ``cost[i, j] <= radius``; ``inf`` costs never cover.
Both are small MIPs (one binary per site, at most one continuous per demand) that HiGHS
solves exactly; the heuristic paths (greedy + swap / greedy cover) come with the LP
relaxation as bound.
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
from .swap import swap_heuristic


def _check_radius(radius: float) -> float:
    r = float(radius)
    if not np.isfinite(r) or r < 0:
        raise ValueError(f"radius must be a finite number >= 0, got {radius!r}")
    return r


def _nearest_within(C: np.ndarray, sites: np.ndarray, radius: float | None) -> np.ndarray:
    """Per demand the nearest open site (-1 if none, or none within ``radius``)."""
    if sites.size == 0:
        return np.full(C.shape[0], -1, dtype=np.int64)
    sub = C[:, sites]
    pos = np.argmin(sub, axis=1)
    best = sub[np.arange(C.shape[0]), pos]
    out = sites[pos].astype(np.int64)
    bad = ~np.isfinite(best) if radius is None else ~(best <= radius)
    out[bad] = -1
    return out


def solve_mclp(
    cost: np.ndarray,
    p: int,
    radius: float,
    *,
    weights: np.ndarray | None = None,
    fixed_sites: Iterable[int] = (),
    forbidden_sites: Iterable[int] = (),
    method: str = "auto",
    time_limit: float = 60.0,
    seed: int = 0,
    perturbations: int = 20,
) -> LocationResult:
    """Maximal covering: open p sites covering the most demand weight within ``radius``.

    The objective reported is the *uncovered* weight (minimised, so the lower bound and gap
    read as for every other model); ``extras`` holds ``covered_weight``,
    ``covered_share`` and ``uncoverable`` (demands no allowed site reaches).
    method: "exact" (HiGHS MIP, mip_rel_gap 0), "heuristic" (greedy + swap with the LP
    relaxation bound); "auto" is exact.
    """
    t0 = time.perf_counter()
    check_method(method)
    C = as_cost_matrix(cost, allow_inf=True)
    r = _check_radius(radius)
    n, m_all = C.shape
    w = as_weights(weights, n)
    fixed_all, forbidden, allowed = site_sets(m_all, fixed_sites, forbidden_sites)
    p = check_p(p, allowed.size, fixed_all.size, forbidden.size)
    cover = C[:, allowed] <= r
    fixed = np.searchsorted(allowed, fixed_all)
    coverable = cover.any(axis=1)
    uncoverable = np.flatnonzero(~coverable)
    total = float(w.sum())
    # demands covered by a fixed site, or never coverable, are constants
    pre = cover[:, fixed].any(axis=1) if fixed.size else np.zeros(n, dtype=bool)
    rows = np.flatnonzero(coverable & ~pre & (w > 0))
    const_uncovered = float(w[~coverable].sum())
    k = allowed.size
    if method == "heuristic":
        Wp = w[rows, None] * (~cover[rows]).astype(float)
        sites, _ = swap_heuristic(Wp, p, fixed, perturbations=perturbations, seed=seed)
        lp = _mclp_model(cover, rows, w, p, fixed, k, integer=False, time_limit=time_limit)
        lb = lp.dual_bound + const_uncovered
        nodes, label, optimal = 0, "heuristic:swap+lp", False
    else:
        out = _mclp_model(cover, rows, w, p, fixed, k, integer=True, time_limit=time_limit)
        if out.x is None:
            raise RuntimeError(f"MCLP: no solution within time_limit={time_limit}s ({out.status})")
        sites = np.flatnonzero(out.x[:k] > 0.5)
        lb = out.dual_bound + const_uncovered
        nodes, label, optimal = out.nodes, "exact:highs-mip", out.optimal
    open_sites = allowed[np.sort(sites)]
    assignment = _nearest_within(C, open_sites, r)
    covered = float(w[assignment >= 0].sum())
    obj = total - covered
    if integral_data(w):
        lb = float(np.ceil(lb - 1e-7 * max(1.0, abs(obj))))
    lb = min(lb, obj)
    proven = optimal or obj - lb <= 1e-9 * max(1.0, abs(obj))
    return LocationResult(
        model="mclp",
        sites=open_sites,
        assignment=assignment,
        objective=obj,
        lower_bound=lb,
        gap=relative_gap(obj, lb),
        proven_optimal=bool(proven),
        method=label,
        time_s=time.perf_counter() - t0,
        nodes=nodes,
        extras={
            "covered_weight": covered,
            "covered_share": covered / total if total > 0 else 1.0,
            "radius": r,
            "uncoverable": uncoverable,
        },
    )


def _mclp_model(cover, rows, w, p, fixed, k, *, integer: bool, time_limit: float):
    """min sum w_i (1 - u_i)  s.t.  u_i <= sum_{j covers i} y_j,  sum y = p."""
    nr = rows.size
    sub = sparse.csr_matrix(cover[rows].astype(np.float64))
    # rows 0..nr-1: u_i - sum y_j <= 0 ; row nr: sum y = p
    A_y = sparse.vstack([-sub, sparse.csr_matrix(np.ones((1, k)))])
    A_u = sparse.vstack([sparse.identity(nr, format="csr"), sparse.csr_matrix((1, nr))])
    A = sparse.hstack([A_y, A_u]).tocsc()
    row_lo = np.concatenate([np.full(nr, -INF), [p]])
    row_hi = np.concatenate([np.zeros(nr), [p]])
    col_lo = np.zeros(k + nr)
    col_lo[fixed] = 1.0
    c = np.concatenate([np.zeros(k), -w[rows]])
    integ = np.concatenate([np.full(k, integer), np.zeros(nr, dtype=bool)])
    return solve_mip(
        c, A, row_lo, row_hi, col_lo, np.ones(k + nr), integ,
        time_limit=time_limit, offset=float(w[rows].sum()),
    )


def _greedy_cover(cover: np.ndarray, site_cost: np.ndarray, start: np.ndarray) -> np.ndarray:
    """Greedy set cover (cost per newly covered demand), then drop redundant sites."""
    covered = cover[:, start].any(axis=1) if start.size else np.zeros(cover.shape[0], dtype=bool)
    chosen = list(start)
    cov = cover.astype(np.float64)
    while not covered.all():
        gain = cov[~covered].sum(axis=0)
        gain[chosen] = 0.0
        ratio = np.where(gain > 0, site_cost / np.maximum(gain, 1e-300), np.inf)
        j = int(np.argmin(ratio))
        if not np.isfinite(ratio[j]):
            break
        chosen.append(j)
        covered |= cover[:, j]
    fixed_set = set(int(s) for s in start)
    # remove redundant free sites, most expensive first
    sel = np.array(sorted(set(chosen)), dtype=np.int64)
    for j in sorted((s for s in sel if int(s) not in fixed_set), key=lambda s: -site_cost[s]):
        rest = sel[sel != j]
        if rest.size and cover[:, rest].any(axis=1).all():
            sel = rest
    return sel


def _lscp_model(cover, rows, site_cost, fixed, *, integer: bool, time_limit: float, max_sites=None):
    """min sum f_j y_j  s.t.  sum_{j covers i} y_j >= 1 (optionally sum y <= max_sites)."""
    k = cover.shape[1]
    A = sparse.csr_matrix(cover[rows].astype(np.float64))
    row_lo = np.ones(rows.size)
    row_hi = np.full(rows.size, INF)
    if max_sites is not None:
        A = sparse.vstack([A, sparse.csr_matrix(np.ones((1, k)))])
        row_lo = np.append(row_lo, -INF)
        row_hi = np.append(row_hi, max_sites)
    col_lo = np.zeros(k)
    col_lo[fixed] = 1.0
    return solve_mip(
        site_cost, A.tocsc(), row_lo, row_hi, col_lo, np.ones(k), np.full(k, integer),
        time_limit=time_limit,
    )


def solve_lscp(
    cost: np.ndarray,
    radius: float,
    *,
    site_costs: np.ndarray | None = None,
    fixed_sites: Iterable[int] = (),
    forbidden_sites: Iterable[int] = (),
    method: str = "auto",
    time_limit: float = 60.0,
) -> LocationResult:
    """Location set covering: fewest (or cheapest) sites so every demand is within ``radius``.

    site_costs: opening cost per site (ones: minimise the count).  Fixed sites are open
    and their cost counts.  Raises ValueError naming the first demand that no allowed
    site reaches within the radius.
    method: "exact" (HiGHS MIP), "heuristic" (greedy cover with the LP bound); "auto" is exact.
    """
    t0 = time.perf_counter()
    check_method(method)
    C = as_cost_matrix(cost, allow_inf=True)
    r = _check_radius(radius)
    n, m_all = C.shape
    fixed_all, forbidden, allowed = site_sets(m_all, fixed_sites, forbidden_sites)
    f_all = np.ones(m_all) if site_costs is None else np.asarray(site_costs, dtype=float).ravel()
    if f_all.shape != (m_all,) or not np.isfinite(f_all).all() or (f_all < 0).any():
        raise ValueError(f"site_costs must be {m_all} finite values >= 0")
    cover = C[:, allowed] <= r
    reach = cover.any(axis=1)
    if not reach.all():
        i = int(np.argmin(reach))
        nearest = float(np.min(C[i, allowed])) if allowed.size else float("inf")
        raise ValueError(
            f"demand {i} cannot be covered within radius {r:g}: its nearest allowed site is at "
            f"{nearest:g}" + (f" ({forbidden.size} sites forbidden)" if forbidden.size else "")
        )
    fixed = np.searchsorted(allowed, fixed_all)
    f = f_all[allowed]
    pre = cover[:, fixed].any(axis=1) if fixed.size else np.zeros(n, dtype=bool)
    rows = np.flatnonzero(~pre)
    if method == "heuristic":
        sites = _greedy_cover(cover, f, fixed)
        lp = _lscp_model(cover, rows, f, fixed, integer=False, time_limit=time_limit)
        lb, nodes, label, optimal = lp.dual_bound, 0, "heuristic:greedy+lp", False
    else:
        out = _lscp_model(cover, rows, f, fixed, integer=True, time_limit=time_limit)
        if out.x is None:
            raise RuntimeError(f"LSCP: no solution within time_limit={time_limit}s ({out.status})")
        sites = np.flatnonzero(out.x > 0.5)
        lb, nodes, label, optimal = out.dual_bound, out.nodes, "exact:highs-mip", out.optimal
    open_sites = allowed[np.sort(sites)]
    obj = float(f_all[open_sites].sum())
    if integral_data(f):
        lb = float(np.ceil(lb - 1e-7 * max(1.0, abs(obj))))
    lb = min(lb, obj)
    proven = optimal or obj - lb <= 1e-9 * max(1.0, abs(obj))
    return LocationResult(
        model="lscp",
        sites=open_sites,
        assignment=_nearest_within(C, open_sites, r),
        objective=obj,
        lower_bound=lb,
        gap=relative_gap(obj, lb),
        proven_optimal=bool(proven),
        method=label,
        time_s=time.perf_counter() - t0,
        nodes=nodes,
        extras={"n_sites": int(open_sites.size), "radius": r},
    )
