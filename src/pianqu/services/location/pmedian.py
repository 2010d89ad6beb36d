"""p-median: ``solve_pmedian`` (exact radius/Benders + reduction, or swap + Lagrangian bound)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Iterable

import numpy as np

from .bounds import lagrangian_bound
from .radius import radius_branch_and_bound
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
from .swap import assignment_cost, fast_interchange, swap_heuristic


@dataclass(frozen=True)
class _Core:
    """Outcome of a solve on the reduced matrix (allowed sites only)."""

    sites: np.ndarray
    objective: float
    lower_bound: float
    proven: bool
    method: str
    nodes: int
    info: dict


def _round_up(lb: float, integral: bool, ub: float) -> float:
    """Round a lower bound up when all costs are integral (with a numerical margin)."""
    if integral and np.isfinite(lb):
        return float(np.ceil(lb - 1e-7 * max(1.0, abs(ub))))
    return lb


def pmedian_exact_core(
    W: np.ndarray,
    p: int,
    fixed: np.ndarray,
    *,
    time_limit: float,
    integral: bool,
    rel_tol: float = 1e-9,
    perturbations: int = 0,
    seed: int = 0,
) -> _Core:
    """Exact p-median on a weighted cost matrix: swap incumbent, then radius branch and bound."""
    t0 = time.perf_counter()
    m = W.shape[1]
    sites, ub = swap_heuristic(W, p, fixed, perturbations=perturbations, seed=seed)
    info: dict = {"heuristic_objective": ub, "t_heuristic": time.perf_counter() - t0}
    if p == m or p == fixed.size:
        return _Core(sites, ub, ub, True, "exact:trivial", 0, info)

    def lp_guided(y: np.ndarray) -> np.ndarray:
        top = np.setdiff1d(np.argsort(-y, kind="stable"), fixed, assume_unique=True)[: p - fixed.size]
        return fast_interchange(W, np.union1d(top, fixed), fixed)

    out = radius_branch_and_bound(
        W, p, fixed, sites, integral=integral, rel_tol=rel_tol,
        time_limit=max(time_limit - (time.perf_counter() - t0), 1e-3), improve=lp_guided,
    )
    info.update(out.info)
    info["root_bound"] = out.root_bound
    return _Core(out.sites, out.objective, out.lower_bound, out.proven, "exact:radius-branch-and-cut", out.nodes, info)


def solve_pmedian(
    cost: np.ndarray,
    p: int,
    *,
    weights: np.ndarray | None = None,
    fixed_sites: Iterable[int] = (),
    forbidden_sites: Iterable[int] = (),
    method: str = "auto",
    time_limit: float = 60.0,
    seed: int = 0,
    perturbations: int = 20,
    lagrangian_iterations: int = 300,
    auto_exact_max_pairs: int = 4_000_000,
    rel_tol: float = 1e-9,
) -> LocationResult:
    """Choose ``p`` sites minimising the weighted total cost of serving every demand from its nearest open site.

    Parameters
    ----------
    cost : numpy.ndarray
        ``(n_demand, n_sites)`` non-negative finite costs (e.g. drive minutes or road km).
    p : int
        Number of open sites, existing ones (``fixed_sites``) included.
    weights : numpy.ndarray, optional
        Demand weights (population); ones when None.
    fixed_sites : iterable of int
        Existing facilities (columns of ``cost``), always open and counted in ``p``.
    forbidden_sites : iterable of int
        Sites never opened.
    method : {"auto", "exact", "heuristic"}, default "auto"
        ``exact``: swap incumbent, then branch and bound on the radius-formulation LP with
        Benders cuts and reduced-cost fixing (proven optimal unless ``time_limit`` stops it; the
        bound and gap say how far it got). ``heuristic``: greedy + fast interchange with a
        Lagrangian lower bound. ``auto``: exact when ``n_demand * n_sites <= auto_exact_max_pairs``.
    time_limit : float, default 60.0
        Wall-clock seconds for the whole call (bounds stay valid when it stops).
    seed : int, default 0
        Seed of the random kicks.
    perturbations : int, default 20
        Random multi-swap kicks after the interchange (heuristic incumbent).
    lagrangian_iterations : int, default 300
        Subgradient iterations of the heuristic's lower bound.
    auto_exact_max_pairs : int, default 4_000_000
        Size limit of ``auto`` for the exact method.
    rel_tol : float, default 1e-9
        Relative tolerance under which the bound certifies optimality for non-integral data
        (integral data is certified by rounding the bound up).

    Returns
    -------
    LocationResult
        ``sites`` (open columns, sorted), ``assignment`` (serving site per demand),
        ``objective``, ``lower_bound``, ``gap``, ``proven_optimal``, ``method``, ``time_s``.

    Examples
    --------
    >>> res = pianqu.solve_pmedian(minutes, 4, weights=population, fixed_sites=[0, 1, 2])   # doctest: +SKIP
    >>> res.sites, res.proven_optimal                                                         # doctest: +SKIP
    """
    t0 = time.perf_counter()
    check_method(method)
    C = as_cost_matrix(cost, allow_inf=False)
    n, m_all = C.shape
    w = as_weights(weights, n)
    fixed_all, forbidden, allowed = site_sets(m_all, fixed_sites, forbidden_sites)
    p = check_p(p, allowed.size, fixed_all.size, forbidden.size)
    served = np.flatnonzero(w > 0)  # zero-weight demands never change the choice
    if served.size == 0:
        raise ValueError("all demand weights are zero: nothing to locate for")
    W = w[served, None] * C[np.ix_(served, allowed)]
    fixed = np.searchsorted(allowed, fixed_all)
    integral = integral_data(W)
    use_exact = method == "exact" or (method == "auto" and n * allowed.size <= auto_exact_max_pairs)
    if use_exact:
        core = pmedian_exact_core(
            W, p, fixed, time_limit=time_limit, integral=integral, rel_tol=rel_tol,
            perturbations=0, seed=seed,
        )
    else:
        sites, ub = swap_heuristic(W, p, fixed, perturbations=perturbations, seed=seed)
        lb, _ = lagrangian_bound(
            W, p, fixed, upper_bound=ub, iterations=lagrangian_iterations,
            time_limit=max(time_limit - (time.perf_counter() - t0), 0.0),
        )
        lb = min(_round_up(lb, integral, ub), ub)
        proven = ub - lb <= rel_tol * max(1.0, abs(ub))
        core = _Core(sites, ub, lb, proven, "heuristic:swap+lagrangian", 0, {})
    sites = allowed[core.sites]
    obj, _ = assignment_cost(W, core.sites)
    assignment = sites[np.argmin(C[:, sites], axis=1)]
    return LocationResult(
        model="p-median",
        sites=np.sort(sites),
        assignment=assignment,
        objective=obj,
        lower_bound=core.lower_bound,
        gap=relative_gap(obj, core.lower_bound),
        proven_optimal=core.proven,
        method=core.method,
        time_s=time.perf_counter() - t0,
        nodes=core.nodes,
        extras=dict(core.info),
    )
