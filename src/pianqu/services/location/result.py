"""Result type and input checks shared by every location-allocation model.

Every model minimises; a maximising model (MCLP) reports the uncovered weight as its
objective so that ``lower_bound <= objective`` always holds and ``gap`` means the same
everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np

METHODS = ("auto", "exact", "heuristic")


@dataclass(frozen=True)
class LocationResult:
    """Solution of a location-allocation model.

    sites: open site indices (columns of the cost matrix), sorted.
    assignment: per demand the serving site index, or -1 when the demand is not served
        (uncovered in MCLP).
    objective: value of the returned solution (always minimised).
    lower_bound: proven lower bound on the optimal objective.
    gap: relative gap ``(objective - lower_bound) / max(|objective|, 1e-12)``.
    proven_optimal: ``objective`` is certified optimal by ``lower_bound``.
    method: solver path taken, e.g. ``"exact:radius-benders"`` or ``"heuristic:swap+lagrangian"``.
    time_s: wall time of the call.
    nodes: branch-and-bound nodes of the final MIP (0 when the bound closed at the root).
    extras: model-specific values (covered share, radius, per-site load, ...).
    """

    model: str
    sites: np.ndarray
    assignment: np.ndarray
    objective: float
    lower_bound: float
    gap: float
    proven_optimal: bool
    method: str
    time_s: float
    nodes: int = 0
    extras: dict[str, Any] = field(default_factory=dict)


def relative_gap(objective: float, lower_bound: float) -> float:
    """Relative optimality gap, 0 when the bound meets the objective."""
    if not np.isfinite(lower_bound):
        return float("inf")
    return max(0.0, float(objective - lower_bound)) / max(abs(float(objective)), 1e-12)


def check_method(method: str) -> None:
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")


def as_cost_matrix(cost: Any, *, allow_inf: bool, name: str = "cost") -> np.ndarray:
    """Return ``cost`` as a float 2-D array; reject NaN, negatives and (optionally) inf."""
    c = np.asarray(cost, dtype=float)
    if c.ndim != 2 or c.shape[0] == 0 or c.shape[1] == 0:
        raise ValueError(f"{name} must be a non-empty 2-D array (n_demand x n_sites), got shape {c.shape}")
    if np.isnan(c).any():
        i, j = np.argwhere(np.isnan(c))[0]
        raise ValueError(f"{name}[{i}, {j}] is NaN")
    if (c < 0).any():
        i, j = np.argwhere(c < 0)[0]
        raise ValueError(f"{name}[{i}, {j}] = {c[i, j]} is negative")
    if not allow_inf and not np.isfinite(c).all():
        i, j = np.argwhere(~np.isfinite(c))[0]
        raise ValueError(
            f"{name}[{i}, {j}] is not finite: this model needs every demand to reach every site "
            "(replace unreachable pairs by a large finite penalty)"
        )
    return c


def as_weights(weights: Any, n_demand: int) -> np.ndarray:
    """Demand weights as a float vector (ones when None); negatives and NaN rejected."""
    if weights is None:
        return np.ones(n_demand)
    w = np.asarray(weights, dtype=float).ravel()
    if w.shape != (n_demand,):
        raise ValueError(f"weights must have length n_demand={n_demand}, got {w.shape[0]}")
    if not np.isfinite(w).all() or (w < 0).any():
        i = int(np.argmax(~np.isfinite(w) | (w < 0)))
        raise ValueError(f"weights[{i}] = {w[i]} must be finite and >= 0")
    return w


def as_site_set(sites: Iterable[int], n_sites: int, name: str) -> np.ndarray:
    """Sorted unique site indices, each checked to lie in ``range(n_sites)``."""
    s = np.unique(np.asarray(list(sites), dtype=np.int64))
    if s.size and (s[0] < 0 or s[-1] >= n_sites):
        bad = s[(s < 0) | (s >= n_sites)][0]
        raise ValueError(f"{name} contains site {bad}, outside range(0, {n_sites})")
    return s


def site_sets(
    n_sites: int, fixed_sites: Iterable[int], forbidden_sites: Iterable[int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Check fixed/forbidden site lists; return (fixed, forbidden, allowed) index arrays."""
    fixed = as_site_set(fixed_sites, n_sites, "fixed_sites")
    forbidden = as_site_set(forbidden_sites, n_sites, "forbidden_sites")
    both = np.intersect1d(fixed, forbidden)
    if both.size:
        raise ValueError(f"site {both[0]} is both fixed (existing facility) and forbidden")
    allowed = np.setdiff1d(np.arange(n_sites), forbidden)
    return fixed, forbidden, allowed


def check_p(p: int, n_allowed: int, n_fixed: int, n_forbidden: int) -> int:
    """Validate the number of facilities against fixed and available sites."""
    if isinstance(p, bool) or int(p) != p:
        raise ValueError(f"p must be an integer, got {p!r}")
    p = int(p)
    if p < 1:
        raise ValueError(f"p must be >= 1, got {p}")
    if p > n_allowed:
        raise ValueError(
            f"p={p} exceeds the number of available sites ({n_allowed} = sites minus "
            f"{n_forbidden} forbidden)"
        )
    if p < n_fixed:
        raise ValueError(f"p={p} is smaller than the number of fixed sites ({n_fixed}); fixed sites count towards p")
    return p


def integral_data(*arrays: np.ndarray) -> bool:
    """True when every finite entry is integral, so bounds may be rounded up."""
    for a in arrays:
        f = a[np.isfinite(a)]
        if f.size and not np.array_equal(f, np.round(f)):
            return False
    return True
