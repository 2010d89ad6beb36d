"""Greedy construction and fast interchange (vertex substitution) for the p-median problem.

All functions work on a weighted cost matrix ``W`` (n_demand x n_sites, finite) where
``W[i, j]`` is the cost of serving demand ``i`` from site ``j`` (weight x distance).
The interchange follows Whitaker's fast interchange in the matrix form of Resende &
Werneck (2007): for every (insert j, remove r) pair the profit is

    gain[j] - loss[r] + extra[j, r]

so one pass evaluates all p x (m - p) swaps with a few array operations.
"""

from __future__ import annotations

import numpy as np


def assignment_cost(W: np.ndarray, open_sites: np.ndarray) -> tuple[float, np.ndarray]:
    """Total cost and per-demand closest open site."""
    open_sites = np.asarray(open_sites, dtype=np.int64)
    sub = W[:, open_sites]
    pos = np.argmin(sub, axis=1)
    return float(sub[np.arange(W.shape[0]), pos].sum()), open_sites[pos]


def greedy_add(W: np.ndarray, p: int, fixed: np.ndarray) -> np.ndarray:
    """Open ``fixed`` sites, then add the site with the largest cost saving until p are open."""
    n, m = W.shape
    is_open = np.zeros(m, dtype=bool)
    is_open[fixed] = True
    if fixed.size:
        cur = W[:, fixed].min(axis=1)
    else:
        j = int(np.argmin(W.sum(axis=0)))
        is_open[j] = True
        cur = W[:, j].copy()
    while is_open.sum() < p:
        gain = np.maximum(cur[:, None] - W, 0.0).sum(axis=0)
        gain[is_open] = -1.0
        j = int(np.argmax(gain))
        is_open[j] = True
        np.minimum(cur, W[:, j], out=cur)
    return np.flatnonzero(is_open)


def _two_closest(W: np.ndarray, open_sites: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per demand: position (in open_sites) of the closest site, its cost, second cost."""
    sub = W[:, open_sites]
    rows = np.arange(W.shape[0])
    if open_sites.size == 1:
        return np.zeros(W.shape[0], dtype=np.int64), sub[:, 0].copy(), np.full(W.shape[0], np.inf)
    two = np.argpartition(sub, 1, axis=1)[:, :2]
    a, b = sub[rows, two[:, 0]], sub[rows, two[:, 1]]
    first = np.where(a <= b, two[:, 0], two[:, 1])
    return first, np.minimum(a, b), np.maximum(a, b)


def fast_interchange(
    W: np.ndarray,
    start: np.ndarray,
    fixed: np.ndarray,
    *,
    max_swaps: int = 10_000,
    tol: float = 1e-9,
) -> np.ndarray:
    """Best-improvement swap local search from ``start``; ``fixed`` sites never leave.

    Returns a local optimum: no single swap lowers the cost by more than ``tol``.
    """
    n, m = W.shape
    open_sites = np.sort(np.asarray(start, dtype=np.int64))
    p = open_sites.size
    if p == m:
        return open_sites
    fixed_mask = np.zeros(m, dtype=bool)
    fixed_mask[fixed] = True
    if p == 1:
        if fixed.size:
            return open_sites
        return np.array([int(np.argmin(W.sum(axis=0)))])
    for _ in range(max_swaps):
        c1, d1, d2 = _two_closest(W, open_sites)
        is_open = np.zeros(m, dtype=bool)
        is_open[open_sites] = True
        # gain of inserting j alone
        gain = np.maximum(d1[:, None] - W, 0.0).sum(axis=0)
        # loss of removing the facility at position r alone
        loss = np.bincount(c1, weights=d2 - d1, minlength=p)
        # extra[j, r]: demands of r that j would catch before their second-closest site
        A = np.maximum(d2[:, None] - np.maximum(W, d1[:, None]), 0.0)
        onehot = np.zeros((n, p))
        onehot[np.arange(n), c1] = 1.0
        profit = A.T @ onehot
        profit += gain[:, None]
        profit -= loss[None, :]
        profit[is_open, :] = -np.inf
        profit[:, fixed_mask[open_sites]] = -np.inf
        flat = int(np.argmax(profit))
        j, r = divmod(flat, p)
        if not profit[j, r] > tol * max(1.0, float(d1.sum())):
            break
        open_sites[r] = j
        open_sites.sort()
    return open_sites


def swap_heuristic(
    W: np.ndarray,
    p: int,
    fixed: np.ndarray,
    *,
    starts: list[np.ndarray] | None = None,
    perturbations: int = 0,
    seed: int = 0,
) -> tuple[np.ndarray, float]:
    """Greedy + fast interchange, then optional perturbation rounds (iterated local search).

    starts: extra starting solutions (e.g. rounded LP solutions); each is completed or
    trimmed to p sites and improved.  perturbations: number of random multi-swap kicks.
    Returns the best sites found and their cost.
    """
    rng = np.random.default_rng(seed)
    fixed = np.asarray(fixed, dtype=np.int64)
    candidates = [greedy_add(W, p, fixed)] + [np.asarray(s, dtype=np.int64) for s in (starts or [])]
    best, best_cost = None, np.inf
    for s in candidates:
        s = _repair(W, s, p, fixed)
        s = fast_interchange(W, s, fixed)
        c, _ = assignment_cost(W, s)
        if c < best_cost:
            best, best_cost = s, c
    free_total = W.shape[1] - fixed.size
    n_free_open = p - fixed.size
    for _ in range(perturbations):
        if n_free_open == 0 or n_free_open == free_total:
            break
        k = int(rng.integers(1, max(2, min(n_free_open, 5)) + 1))
        k = min(k, n_free_open, free_total - n_free_open)
        cur = best.copy()
        movable = np.setdiff1d(cur, fixed)
        closed = np.setdiff1d(np.arange(W.shape[1]), cur)
        out = rng.choice(movable, size=k, replace=False)
        inn = rng.choice(closed, size=k, replace=False)
        cur = np.union1d(np.setdiff1d(cur, out), inn)
        cur = fast_interchange(W, cur, fixed)
        c, _ = assignment_cost(W, cur)
        if c < best_cost - 1e-12:
            best, best_cost = cur, c
    return best, best_cost


def _repair(W: np.ndarray, sites: np.ndarray, p: int, fixed: np.ndarray) -> np.ndarray:
    """Make ``sites`` contain all fixed sites and exactly p sites (greedy add/drop)."""
    m = W.shape[1]
    s = np.union1d(np.unique(sites), fixed)
    while s.size > p:  # drop the free site whose removal costs least
        free = np.setdiff1d(s, fixed)
        costs = [assignment_cost(W, np.setdiff1d(s, [j]))[0] for j in free]
        s = np.setdiff1d(s, [free[int(np.argmin(costs))]])
    if s.size < p:
        cur = W[:, s].min(axis=1) if s.size else None
        is_open = np.zeros(m, dtype=bool)
        is_open[s] = True
        while is_open.sum() < p:
            if cur is None:
                j = int(np.argmin(W.sum(axis=0)))
                cur = W[:, j].copy()
            else:
                gain = np.maximum(cur[:, None] - W, 0.0).sum(axis=0)
                gain[is_open] = -1.0
                j = int(np.argmax(gain))
                np.minimum(cur, W[:, j], out=cur)
            is_open[j] = True
        s = np.flatnonzero(is_open)
    return s
