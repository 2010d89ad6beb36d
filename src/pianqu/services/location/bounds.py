"""Lagrangian lower bound for the p-median (relaxing "each demand is assigned once").

For multipliers lambda the relaxation separates by site:

    L(lambda) = sum_i lambda_i + min_{|S| = p, S >= fixed} sum_{j in S} rho_j,
    rho_j = sum_i min(0, W_ij - lambda_i),

which is a valid lower bound for every lambda; subgradient ascent drives it towards the LP
bound of the classical formulation.  Each step costs a few passes over W.
"""

from __future__ import annotations

import time

import numpy as np


def lagrangian_value(W: np.ndarray, lam: np.ndarray, p: int, fixed: np.ndarray) -> tuple[float, np.ndarray]:
    """L(lambda) and the chosen site set S."""
    rho = np.minimum(W - lam[:, None], 0.0).sum(axis=0)
    k = p - fixed.size
    if k > 0:
        rest = rho.copy()
        rest[fixed] = np.inf
        chosen = np.argpartition(rest, k - 1)[:k]
        S = np.concatenate([fixed, chosen])
    else:
        S = fixed
    return float(lam.sum() + rho[S].sum()), S


def lagrangian_bound(
    W: np.ndarray,
    p: int,
    fixed: np.ndarray,
    *,
    upper_bound: float,
    iterations: int = 300,
    time_limit: float = 10.0,
    step0: float = 2.0,
    patience: int = 20,
    min_step: float = 1e-4,
) -> tuple[float, np.ndarray]:
    """Subgradient ascent (Held-Wolfe-Crowder step towards ``upper_bound``).

    Returns the best bound found and its multipliers.  Stops after ``iterations``,
    ``time_limit`` seconds, when the step factor falls below ``min_step``, or when the
    bound reaches the upper bound.
    """
    t0 = time.perf_counter()
    fixed = np.asarray(fixed, dtype=np.int64)
    n = W.shape[0]
    part = np.partition(W, min(1, W.shape[1] - 1), axis=1)
    lam = part[:, min(1, W.shape[1] - 1)].astype(float)  # second-smallest cost per demand
    best, best_lam = -np.inf, lam.copy()
    mu, stall = step0, 0
    for _ in range(iterations):
        val, S = lagrangian_value(W, lam, p, fixed)
        if val > best + 1e-9 * max(1.0, abs(best) if np.isfinite(best) else 1.0):
            best, best_lam, stall = val, lam.copy(), 0
        else:
            stall += 1
            if stall >= patience:
                mu, stall = mu / 2.0, 0
        if best >= upper_bound - 1e-9 * max(1.0, abs(upper_bound)) or mu < min_step:
            break
        if time.perf_counter() - t0 > time_limit:
            break
        g = 1.0 - (W[:, S] < lam[:, None]).sum(axis=1)
        norm = float(g @ g)
        if norm == 0.0:
            break  # the relaxed solution is feasible: the bound is the optimum of L
        lam = lam + mu * max(upper_bound - val, 1e-9 * max(1.0, abs(upper_bound))) / norm * g
        lam = np.maximum(lam, 0.0)  # lambda below min_j W_ij is never useful; keep it >= 0
    return best, best_lam
