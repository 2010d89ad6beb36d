"""Exact p-median: branch-and-Benders-cut on the radius formulation, LP solved by HiGHS.

Radius formulation (Cornuejols, Nemhauser & Wolsey 1980; Elloumi 2010): with the sorted
distinct costs D_i^1 < D_i^2 < ... of demand i, its cost is

    D_i^1 + sum_k (D_i^{k+1} - D_i^k) z_ik,   z_ik >= 1 - sum_{j: W_ij <= D_i^k} y_j.

Projecting out z leaves, for every demand i and every radius D, the Benders cut
(Duran-Mateluna, Ales & Elloumi 2021)

    theta_i >= D - sum_j max(0, D - W_ij) y_j,

and the most violated one at a fractional y is found in closed form: D is the cost at
which the cumulative sum of y over the demand's sites, sorted by cost, reaches 1.  A cut
loop on ``min sum theta  s.t. sum y = p`` reaches the LP bound of the classical
n*m-variable formulation with a few small rounds of n rows.

The exact search is a depth-first branch and bound over y using that LP (one HiGHS
object, warm-started dual simplex after every bound change, cuts shared by all nodes),
with reduced-cost fixing against the incumbent at every node.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import highspy
import numpy as np

from .highs_model import INF, add_columns, add_rows_csr, new_solver
from .swap import assignment_cost


class SortedCosts:
    """Per-demand costs sorted ascending with the matching site order (for separation)."""

    def __init__(self, W: np.ndarray) -> None:
        self.order = np.argsort(W, axis=1, kind="stable").astype(np.int32)
        self.values = np.take_along_axis(W, self.order, axis=1)

    def most_violated(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per demand: the radius D of the deepest cut at ``y`` and the cut's value there.

        The value equals the demand's cost in the radius LP for fixed y, so at an
        integral y it is the demand's true cost.
        """
        ys = y[self.order]
        cum = np.cumsum(ys, axis=1)
        m = ys.shape[1]
        k = np.minimum((cum < 1.0 - 1e-9).sum(axis=1), m - 1)
        D = self.values[np.arange(ys.shape[0]), k]
        value = D - (np.maximum(D[:, None] - self.values, 0.0) * ys).sum(axis=1)
        return D, value

    def cut_rows(self, rows: np.ndarray, D: np.ndarray, theta_offset: int):
        """CSR rows ``theta_i + sum_j max(0, D_i - W_ij) y_j >= D_i`` for demands ``rows``.

        Site j is LP column j; column ``theta_offset + i`` holds theta_i.
        """
        vals = self.values[rows]
        cols = self.order[rows]
        mask = vals < D[:, None]
        counts = mask.sum(axis=1)
        starts = np.concatenate([[0], np.cumsum(counts + 1)[:-1]]).astype(np.int64)
        idx = np.empty(int((counts + 1).sum()), dtype=np.int64)
        coef = np.empty(idx.size)
        body = np.ones(idx.size, dtype=bool)
        body[starts] = False
        idx[starts] = theta_offset + rows
        coef[starts] = 1.0
        idx[body] = cols[mask]
        coef[body] = (D[:, None] - vals)[mask]
        return starts, idx, coef


@dataclass(frozen=True)
class NodeBound:
    """LP outcome at one node: status, bound, LP point and reduced costs of y."""

    feasible: bool
    bound: float
    y: np.ndarray | None
    reduced_cost: np.ndarray | None
    converged: bool


class RadiusLP:
    """Benders master LP of the radius formulation over the ``active`` sites.

    Columns: y of the active sites, then theta of every demand.  Sites outside ``active``
    are closed for good: cuts and separation only see the active columns, which keeps
    rows short and separation cheap once reduced-cost fixing has closed most sites.
    """

    def __init__(
        self, W: np.ndarray, p: int, sorted_costs: SortedCosts, active: np.ndarray, time_limit: float
    ) -> None:
        n, m = W.shape
        self.n, self.m = n, m
        self.active = np.asarray(active, dtype=np.int64)
        self.k = self.active.size
        # separation works on the active columns only (closed sites have y = 0)
        self.sc = sorted_costs if self.k == m else SortedCosts(W[:, self.active])
        self.h = new_solver(time_limit)
        self.h.setOptionValue("solver", "simplex")
        self.h.setOptionValue("simplex_strategy", 1)  # dual simplex: warm starts after new rows/bounds
        add_columns(self.h, np.zeros(self.k), np.zeros(self.k), np.ones(self.k))
        add_columns(self.h, np.ones(n), sorted_costs.values[:, 0], np.full(n, INF))
        add_rows_csr(self.h, [p], [p], [0], np.arange(self.k), np.ones(self.k))
        self.pool_rows: list[np.ndarray] = []
        self.pool_D: list[np.ndarray] = []
        self.n_cuts = 0
        self.lp_solves = 0
        self.lp_iterations = 0
        self.lp_time = 0.0

    def add_rows(self, rows: np.ndarray, D: np.ndarray) -> None:
        """Add radius cuts (demand ``rows[t]``, radius ``D[t]``) to the LP and the pool."""
        if rows.size == 0:
            return
        starts, idx, coef = self.sc.cut_rows(rows, D, self.k)
        add_rows_csr(self.h, D, np.full(rows.size, INF), starts, idx, coef)
        self.pool_rows.append(rows)
        self.pool_D.append(D)
        self.n_cuts += rows.size

    def pool(self, tight_only: bool = False, tol: float = 1e-6) -> tuple[np.ndarray, np.ndarray]:
        """Cuts added so far as (demand, radius) pairs, optionally only those binding at
        the last LP solution (rows in the pool follow the first row, sum y = p)."""
        if not self.pool_rows:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        rows, D = np.concatenate(self.pool_rows), np.concatenate(self.pool_D)
        if tight_only:
            activity = np.asarray(self.h.getSolution().row_value)[1 : 1 + rows.size]
            keep = activity - D <= tol * np.maximum(1.0, np.abs(D))
            rows, D = rows[keep], D[keep]
        return rows, D

    def add_cuts(self, y: np.ndarray, theta: np.ndarray | None, tol: float = 1e-7) -> int:
        """Add the deepest cut at ``y`` (full site vector) for each demand whose theta it
        violates (every demand when theta is None)."""
        D, value = self.sc.most_violated(y[self.active] if self.k < self.m else y)
        if theta is None:
            rows = np.arange(self.n)
        else:
            rows = np.flatnonzero(value > theta + tol * np.maximum(1.0, np.abs(value)))
        self.add_rows(rows, D[rows])
        return int(rows.size)

    def basis(self) -> tuple[list, list]:
        """Current simplex basis (column and row statuses)."""
        b = self.h.getBasis()
        return list(b.col_status), list(b.row_status)

    def restore_basis(self, saved: tuple[list, list] | None) -> None:
        """Reinstall a basis saved at an ancestor node; cuts added since then enter with
        basic slacks, so the basis stays dual feasible and the child re-solve is short."""
        if saved is None:
            return
        cols, rows = saved
        b = highspy.HighsBasis()
        b.col_status = cols
        b.row_status = rows + [highspy.HighsBasisStatus.kBasic] * (self.h.getNumRow() - len(rows))
        b.valid = True
        b.alien = False
        self.h.setBasis(b)

    def set_bounds(self, lower: np.ndarray, upper: np.ndarray) -> None:
        """Set the bounds of the active y columns from full-length site arrays."""
        self.h.changeColsBounds(
            self.k, np.arange(self.k, dtype=np.int32), lower[self.active], upper[self.active]
        )

    def solve(
        self,
        *,
        prune_above: float,
        deadline: float,
        max_rounds: int = 200,
        centre: np.ndarray | None = None,
        alpha: float = 0.5,
    ) -> NodeBound:
        """Cut loop until no violated cut, the bound exceeds ``prune_above``, or the deadline.

        centre: optional stability centre for in-out separation (Ben-Ameur & Neto): cuts
        are also taken at ``alpha * centre + (1 - alpha) * y``, which damps the
        oscillation of the LP point in the first rounds.  Returned y and reduced costs
        are full-length site vectors (zero for inactive sites).
        """
        bound = -np.inf
        y = rc = None
        for _ in range(max_rounds):
            self.h.setOptionValue("time_limit", float(max(deadline - time.perf_counter(), 1e-3)))
            t = time.perf_counter()
            self.h.run()
            self.lp_time += time.perf_counter() - t
            self.lp_solves += 1
            self.lp_iterations += int(self.h.getInfo().simplex_iteration_count)
            status = self.h.getModelStatus()
            if status == highspy.HighsModelStatus.kInfeasible:
                return NodeBound(False, np.inf, None, None, True)
            if status != highspy.HighsModelStatus.kOptimal:
                return NodeBound(True, bound, None, None, False)
            sol = self.h.getSolution()
            x = np.asarray(sol.col_value)
            y = np.zeros(self.m)
            y[self.active] = x[: self.k]
            theta = x[self.k :]
            rc = np.zeros(self.m)
            rc[self.active] = np.asarray(sol.col_dual)[: self.k]
            bound = max(bound, float(self.h.getInfo().objective_function_value))
            if bound > prune_above:
                return NodeBound(True, bound, y, rc, False)
            added = self.add_cuts(y, theta)
            if added == 0:
                return NodeBound(True, bound, y, rc, True)
            if centre is not None:
                self.add_cuts(alpha * centre + (1.0 - alpha) * y, theta)
                centre = 0.5 * centre + 0.5 * y
            if time.perf_counter() > deadline:
                return NodeBound(True, bound, y, rc, False)
        return NodeBound(True, bound, y, rc, False)


@dataclass(frozen=True)
class ExactOutcome:
    """Result of the branch and bound on the weighted cost matrix."""

    sites: np.ndarray
    objective: float
    lower_bound: float
    proven: bool
    nodes: int
    root_bound: float
    info: dict


def _round_eps(value: float) -> float:
    """Numerical margin used when rounding LP bounds of integral problems."""
    return 1e-7 * max(1.0, abs(value))


def _fix_by_reduced_cost(
    node: NodeBound, lower: np.ndarray, upper: np.ndarray, target: float
) -> tuple[np.ndarray, np.ndarray]:
    """Sites whose reduced cost proves y_j = 0 (resp. 1) in every solution below ``target``."""
    y, rc, lb = node.y, node.reduced_cost, node.bound
    free = (lower < 0.5) & (upper > 0.5)
    to_zero = np.flatnonzero(free & (y < 1e-9) & (lb + rc > target))
    to_one = np.flatnonzero(free & (y > 1 - 1e-9) & (lb - rc > target))
    return to_zero, to_one


def radius_branch_and_bound(
    W: np.ndarray,
    p: int,
    fixed: np.ndarray,
    incumbent: np.ndarray,
    *,
    integral: bool,
    time_limit: float,
    rel_tol: float = 1e-9,
    improve=None,
) -> ExactOutcome:
    """Prove (or improve) ``incumbent`` optimal by branch and bound on the radius LP.

    A node is pruned when its LP bound exceeds ``ub - delta``: ``delta`` is just below 1
    for integral costs (a better solution must be at least 1 cheaper) and
    ``rel_tol * |ub|`` otherwise.  ``improve(y)`` is an optional callback turning the root
    LP point into a better incumbent (e.g. LP-guided interchange).
    Returns the best sites, their cost, a valid lower bound and the node count.
    """
    t0 = time.perf_counter()
    deadline = t0 + time_limit
    n, m = W.shape
    best_sites = np.sort(np.asarray(incumbent, dtype=np.int64))
    ub, _ = assignment_cost(W, best_sites)

    def prune_level(ub_: float) -> float:
        if integral:  # a better solution costs <= ub - 1; 2*eps margin matches the rounding below
            return ub_ - 1.0 + 2.0 * _round_eps(ub_)
        return ub_ - rel_tol * max(1.0, abs(ub_))

    sc = SortedCosts(W)
    lp = RadiusLP(W, p, sc, np.arange(m), time_limit)
    lower = np.zeros(m)
    lower[fixed] = 1.0
    upper = np.ones(m)
    lp.set_bounds(lower, upper)
    centre = np.zeros(m)
    centre[best_sites] = 1.0
    lp.add_cuts(centre, None)
    info: dict = {}
    root = lp.solve(prune_above=prune_level(ub), deadline=deadline, centre=centre)
    info.update(t_root=time.perf_counter() - t0, root_lp_converged=root.converged)
    root_bound = root.bound if root.feasible else np.inf
    if improve is not None and root.y is not None and root.bound <= prune_level(ub):
        cand = improve(root.y)
        c, _ = assignment_cost(W, cand)
        if c < ub - 1e-12:
            best_sites, ub = np.sort(cand), c
    if root.y is not None and root.converged and root.bound <= prune_level(ub):
        # close sites for good by reduced cost, then rebuild the LP over the rest
        zero, one = _fix_by_reduced_cost(root, lower, upper, prune_level(ub))
        upper[zero] = 0.0
        lower[one] = 1.0
        active = np.flatnonzero(upper > 0.5)
        info.update(root_closed=int(zero.size), root_opened=int(one.size))
        if zero.size:
            rows, D = lp.pool(tight_only=True)
            counters = (lp.lp_solves, lp.lp_iterations, lp.lp_time)
            lp = RadiusLP(W, p, sc, active, max(deadline - time.perf_counter(), 1e-3))
            lp.lp_solves, lp.lp_iterations, lp.lp_time = counters
            lp.set_bounds(lower, upper)
            keep = np.unique(np.column_stack([rows, D]), axis=0)
            lp.add_rows(keep[:, 0].astype(np.int64), keep[:, 1])
            lp.add_cuts(centre, None)  # the incumbent's own cuts
            root = lp.solve(prune_above=prune_level(ub), deadline=deadline)
    # stack of open nodes: (lower, upper, parent bound)
    stack: list[tuple[np.ndarray, np.ndarray, float, tuple | None]] = []
    nodes = 1
    pruned_min = np.inf  # smallest bound among pruned nodes (a valid bound once the tree is done)
    timed_out = False

    def process(node: NodeBound, lo: np.ndarray, hi: np.ndarray) -> None:
        nonlocal ub, best_sites, pruned_min
        if not node.feasible:
            return
        if node.y is None:  # LP stopped by the deadline
            stack.append((lo, hi, node.bound, None))
            return
        level = prune_level(ub)
        if node.bound > level:
            pruned_min = min(pruned_min, node.bound)
            return
        y = node.y
        frac = np.flatnonzero((y > 1e-6) & (y < 1 - 1e-6))
        if frac.size == 0 and node.converged:
            sites = np.flatnonzero(y > 0.5)
            c, _ = assignment_cost(W, sites)
            if c < ub:
                ub, best_sites = c, sites
            # an integral LP optimum with no violated cut: this node is solved
            pruned_min = min(pruned_min, node.bound)
            return
        if not node.converged:  # deadline hit mid-loop
            stack.append((lo, hi, node.bound, None))
            return
        zero, one = _fix_by_reduced_cost(node, lo, hi, level)
        lo, hi = lo.copy(), hi.copy()
        hi[zero] = 0.0
        lo[one] = 1.0
        j = int(frac[np.argmin(np.abs(y[frac] - 0.5))])  # most fractional site
        down_lo, down_hi = lo, hi.copy()
        down_hi[j] = 0.0
        up_lo, up_hi = lo.copy(), hi
        up_lo[j] = 1.0
        saved = lp.basis()
        stack.append((down_lo, down_hi, node.bound, saved))
        stack.append((up_lo, up_hi, node.bound, saved))  # explored first: opens a site

    if root.feasible and root.y is not None and root.bound > prune_level(ub):
        pruned_min = root.bound
    else:
        process(root, lower, upper)
    while stack:
        if time.perf_counter() > deadline:
            timed_out = True
            break
        lo, hi, parent, saved = stack.pop()
        if parent > prune_level(ub):
            pruned_min = min(pruned_min, parent)
            continue
        if lo.sum() > p + 1e-9 or hi.sum() < p - 1e-9:
            continue  # no way to open exactly p sites
        lp.set_bounds(lo, hi)
        lp.restore_basis(saved)
        nodes += 1
        node = lp.solve(prune_above=prune_level(ub), deadline=deadline)
        process(node, lo, hi)
    if timed_out or stack:
        lb = min([ub, pruned_min] + [b for _, _, b, _ in stack])
    else:
        lb = min(ub, pruned_min)
    if integral and np.isfinite(lb):
        lb = min(ub, float(np.ceil(lb - _round_eps(ub))))
    lb = max(lb, min(root_bound, ub)) if np.isfinite(root_bound) else lb
    proven = (not timed_out) and not stack
    if not proven:
        proven = ub - lb <= rel_tol * max(1.0, abs(ub))
    info.update(lp_solves=lp.lp_solves, lp_iterations=lp.lp_iterations, lp_time=lp.lp_time, cuts=lp.n_cuts, t_total=time.perf_counter() - t0)
    return ExactOutcome(best_sites, ub, lb, proven, nodes, root_bound, info)
