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

The exact search is a depth-first branch and bound over y on that LP (warm-started dual
simplex after every bound change), with reduced-cost fixing against the incumbent at
every node.  On OR-Library-sized instances with small p (n = 500 to 900, p = 5 or 10)
the root gap is 1 to 2 %, general-purpose cuts barely move it (HiGHS's own root cuts on
the master: +3 of a 120 gap), and the tree has hundreds of nodes, so the cost of a node
and the branching choice are what count:

* the dual simplex stops as soon as its dual objective passes the pruning level (HiGHS
  ``objective_bound``), so a node that will be pruned costs only a few iterations;
* a node is branched on after one LP solve; the cuts violated at its LP point are added
  for its children instead of being iterated to convergence first;
* branching picks the undecided site carrying the most LP demand (see ``branching``);
* when fixing has left at most half of the current LP's sites below a node, the subtree
  gets its own LP over those sites, seeded with the binding cuts and the basis of the
  parent LP (shorter rows, cheaper iterations);
* when few sites remain to choose among few free ones, the subtree is settled by
  enumerating every completion (numpy, the last site vectorised);
* each better incumbent re-applies the root reduced costs, closing sites everywhere.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from itertools import combinations
from math import comb

import highspy
import numpy as np

from .highs_model import INF, add_columns, add_rows_csr, new_solver
from .swap import assignment_cost

_STATUS = highspy.HighsModelStatus
_BASIC = highspy.HighsBasisStatus.kBasic


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

    def service(self, y: np.ndarray) -> np.ndarray:
        """LP demand served by every site at ``y``.

        In the radius LP each demand is served by its sites in cost order, taking y_j
        from each until the cumulative sum reaches 1; a site's service is the sum of
        those shares over the demands.
        """
        ys = y[self.order]
        cum = np.cumsum(ys, axis=1)
        share = np.clip(np.minimum(ys, 1.0 - (cum - ys)), 0.0, None)
        return np.bincount(self.order.ravel(), weights=share.ravel(), minlength=ys.shape[1])

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
    """LP outcome at one node.

    bound: a valid lower bound on every solution of the node (inf when infeasible).
    y, reduced_cost: LP point and reduced costs of y (full-length site vectors), None
        when the LP was cut off or stopped before an optimum.
    converged: no cut was violated at the returned LP point.
    cutoff: the node cannot hold a solution below the pruning level (infeasible, or the
        dual simplex passed the level; ``bound`` is then that level).
    """

    bound: float
    y: np.ndarray | None
    reduced_cost: np.ndarray | None
    converged: bool
    cutoff: bool = False


@dataclass
class LPStats:
    """Counters shared by every LP of one search (the root LP and the restricted ones)."""

    lps: int = 0
    solves: int = 0
    iterations: int = 0
    time: float = 0.0
    cuts: int = 0


class RadiusLP:
    """Benders master LP of the radius formulation over the ``active`` sites.

    Columns: y of the active sites, then theta of every demand.  Sites outside ``active``
    are closed for good: cuts and separation only see the active columns, which keeps
    rows short and separation cheap once fixing has closed most sites.  Row 0 is
    ``sum y = p``, then the cuts in the order they were added (``cut_client``, ``cut_D``).
    """

    def __init__(
        self,
        W: np.ndarray,
        p: int,
        sorted_costs: SortedCosts,
        active: np.ndarray,
        time_limit: float,
        stats: LPStats | None = None,
    ) -> None:
        n, m = W.shape
        self.n, self.m = n, m
        self.active = np.asarray(active, dtype=np.int64)
        self.k = self.active.size
        self.stats = stats if stats is not None else LPStats()
        self.stats.lps += 1
        # separation works on the active columns only (closed sites have y = 0)
        self.sc = sorted_costs if self.k == m else SortedCosts(W[:, self.active])
        self.h = new_solver(time_limit)
        self.h.setOptionValue("solver", "simplex")
        self.h.setOptionValue("simplex_strategy", 1)  # dual simplex: warm starts after new rows/bounds
        add_columns(self.h, np.zeros(self.k), np.zeros(self.k), np.ones(self.k))
        add_columns(self.h, np.ones(n), sorted_costs.values[:, 0], np.full(n, INF))
        add_rows_csr(self.h, [p], [p], [0], np.arange(self.k), np.ones(self.k))
        self._clients: list[np.ndarray] = []
        self._radii: list[np.ndarray] = []
        self._rows_at_solve = 1

    @property
    def n_cuts(self) -> int:
        return self.h.getNumRow() - 1

    def add_rows(self, rows: np.ndarray, D: np.ndarray) -> None:
        """Add radius cuts (demand ``rows[t]``, radius ``D[t]``) to the LP."""
        if rows.size == 0:
            return
        starts, idx, coef = self.sc.cut_rows(rows, D, self.k)
        add_rows_csr(self.h, D, np.full(rows.size, INF), starts, idx, coef)
        self._clients.append(np.asarray(rows, dtype=np.int64))
        self._radii.append(np.asarray(D, dtype=float))
        self.stats.cuts += rows.size

    def pool(self, tight_only: bool = False, tol: float = 1e-6) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Cuts in the LP as (demand, radius, LP row) arrays; with ``tight_only`` only those
        binding at the last LP solution, plus the cuts added since (violated there)."""
        if not self._clients:
            empty = np.zeros(0, dtype=np.int64)
            return empty, np.zeros(0), empty
        rows, D = np.concatenate(self._clients), np.concatenate(self._radii)
        lp_rows = 1 + np.arange(rows.size)
        if tight_only:
            solved = self._rows_at_solve - 1  # cuts present at the last solve
            activity = np.asarray(self.h.getSolution().row_value)[1 : 1 + solved]
            keep = np.ones(rows.size, dtype=bool)
            keep[:solved] = activity - D[:solved] <= tol * np.maximum(1.0, np.abs(D[:solved]))
            rows, D, lp_rows = rows[keep], D[keep], lp_rows[keep]
        return rows, D, lp_rows

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
        self.set_basis(cols, rows + [_BASIC] * (self.h.getNumRow() - len(rows)), check=False)

    def set_basis(self, cols: list, rows: list, check: bool = True) -> None:
        """Install a basis.  With ``check``, a basis without one basic variable per row
        is handed over as 'alien' and HiGHS completes or repairs it."""
        b = highspy.HighsBasis()
        b.col_status = cols
        b.row_status = rows
        b.valid = True
        b.alien = check and cols.count(_BASIC) + rows.count(_BASIC) != len(rows)
        self.h.setBasis(b)

    def set_bounds(self, lower: np.ndarray, upper: np.ndarray) -> None:
        """Set the bounds of the active y columns from full-length site arrays."""
        self.h.changeColsBounds(
            self.k, np.arange(self.k, dtype=np.int32), lower[self.active], upper[self.active]
        )

    def _run(self, deadline: float) -> highspy.HighsModelStatus:
        self.h.setOptionValue("time_limit", float(max(deadline - time.perf_counter(), 1e-3)))
        t = time.perf_counter()
        self.h.run()
        self._rows_at_solve = self.h.getNumRow()
        self.stats.time += time.perf_counter() - t
        self.stats.solves += 1
        self.stats.iterations += int(self.h.getInfo().simplex_iteration_count)
        return self.h.getModelStatus()

    def solve(
        self,
        *,
        prune_above: float,
        deadline: float,
        max_rounds: int = 200,
        centre: np.ndarray | None = None,
        alpha: float = 0.5,
    ) -> NodeBound:
        """Cut loop until no violated cut, ``max_rounds`` LP solves, the bound exceeds
        ``prune_above``, or the deadline.

        The dual simplex stops as soon as its (exact, unperturbed) dual objective
        exceeds ``prune_above``: the node is then cut off with bound ``prune_above``.
        Cuts violated at the last LP point are added even when ``max_rounds`` stops the
        loop (they serve the children).
        centre: optional stability centre for in-out separation (Ben-Ameur & Neto): cuts
        are also taken at ``alpha * centre + (1 - alpha) * y``, which damps the
        oscillation of the LP point in the first rounds.
        """
        bound = -np.inf
        y = rc = None
        self.h.setOptionValue("objective_bound", float(prune_above) if np.isfinite(prune_above) else INF)
        for _ in range(max_rounds):
            status = self._run(deadline)
            if status == _STATUS.kInfeasible:
                return NodeBound(np.inf, None, None, True, cutoff=True)
            if status == _STATUS.kObjectiveBound:
                return NodeBound(float(prune_above), None, None, True, cutoff=True)
            if status != _STATUS.kOptimal:  # time limit
                return NodeBound(bound, None, None, False)
            sol = self.h.getSolution()
            x = np.asarray(sol.col_value)
            y = np.zeros(self.m)
            y[self.active] = x[: self.k]
            theta = x[self.k :]
            rc = np.zeros(self.m)
            rc[self.active] = np.asarray(sol.col_dual)[: self.k]
            bound = max(bound, float(self.h.getInfo().objective_function_value))
            if bound > prune_above:
                return NodeBound(bound, y, rc, False, cutoff=True)
            if self.add_cuts(y, theta) == 0:
                return NodeBound(bound, y, rc, True)
            if centre is not None:
                self.add_cuts(alpha * centre + (1.0 - alpha) * y, theta)
                centre = 0.5 * centre + 0.5 * y
            if time.perf_counter() > deadline:
                break
        return NodeBound(bound, y, rc, False)


def restricted_lp(
    lp: RadiusLP, W: np.ndarray, p: int, sc: SortedCosts, keep: np.ndarray,
    lower: np.ndarray, upper: np.ndarray, deadline: float,
) -> RadiusLP:
    """A new LP over the sites ``keep`` only, with the cuts binding in ``lp`` and its basis.

    Valid wherever the other sites are closed (after root fixing, or below a node): a
    cut of ``lp`` restricted to ``keep`` is the same inequality with closed columns
    dropped.  Call right after a solve of ``lp``.  Dropping slack cuts and columns at
    zero leaves the LP optimum unchanged, so the new LP re-solves in a few iterations.
    """
    rows, D, lp_rows = lp.pool(tight_only=True)
    # a cut may have been added twice (incumbent cuts, in-out rounds): keep one copy
    _, first = np.unique(np.column_stack([rows, D]), axis=0, return_index=True)
    first = np.sort(first)
    parent = lp.h.getBasis()
    sub = RadiusLP(W, p, sc, keep, max(deadline - time.perf_counter(), 1e-3), stats=lp.stats)
    sub.set_bounds(lower, upper)
    sub.add_rows(rows[first], D[first])
    cols = list(parent.col_status)
    prow = list(parent.row_status)
    sub.set_basis(
        [cols[q] for q in np.searchsorted(lp.active, sub.active).tolist()] + cols[lp.k :],
        [prow[0]] + [prow[q] for q in lp_rows[first].tolist()],
    )
    return sub


def enumerate_completions(
    W: np.ndarray, lower: np.ndarray, upper: np.ndarray, p: int, *, budget: float, max_loops: int
) -> tuple[float, np.ndarray] | None:
    """Best completion of a node by enumeration, when that is cheap.

    The node opens the sites with ``lower = 1`` and must choose the remaining r sites
    among the free ones.  When C(free, r) * n_demand <= ``budget`` and the Python loop
    over the first r - 1 sites has at most ``max_loops`` turns, every choice is
    evaluated (the last site vectorised), which settles the node's whole subtree.
    Returns (cost, sites), or None when the enumeration would be too expensive.
    """
    opened = np.flatnonzero(lower > 0.5)
    free = np.flatnonzero((upper > 0.5) & (lower < 0.5))
    r = p - opened.size
    if r < 1 or free.size < r:
        return None
    n = W.shape[0]
    if comb(free.size, r) * n > budget or comb(free.size, r - 1) > max_loops:
        return None
    base = W[:, opened].min(axis=1) if opened.size else np.full(n, np.inf)
    Wf = W[:, free]
    best, best_sites = np.inf, opened
    for head in combinations(range(free.size), r - 1):
        start = head[-1] + 1 if head else 0
        cur = np.minimum(base, Wf[:, list(head)].min(axis=1)) if head else base
        totals = np.minimum(cur[:, None], Wf[:, start:]).sum(axis=0)
        if totals.size == 0:
            continue
        t = int(np.argmin(totals))
        if totals[t] < best:
            best = float(totals[t])
            best_sites = np.sort(np.concatenate([opened, free[list(head)], free[[start + t]]]))
    return best, best_sites


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
    node_rounds: int = 1,
    shrink: float = 0.5,
    enum_budget: float = 2e7,
    enum_loops: int = 400,
    branching: str = "service",
) -> ExactOutcome:
    """Prove (or improve) ``incumbent`` optimal by branch and bound on the radius LP.

    A node is pruned when its LP bound exceeds ``ub - delta``: ``delta`` is just below 1
    for integral costs (a better solution must be at least 1 cheaper) and
    ``rel_tol * |ub|`` otherwise.  ``improve(y)`` is an optional callback turning the root
    LP point into a better incumbent (e.g. LP-guided interchange).
    node_rounds: LP solves (cut rounds) per node before branching; the root always
    converges.  shrink: a subtree whose open and free sites number at most ``shrink``
    times the columns of the current LP gets its own smaller LP.  enum_budget,
    enum_loops: limits under which a node is settled by enumeration (see
    ``enumerate_completions``).  branching: "service" (the fractional site with the
    largest LP service times min(y, 1 - y): undecided and carrying much demand, so that
    closing it moves the bound) or "fractional" (y closest to 1/2).
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
    stats = LPStats()
    lp = RadiusLP(W, p, sc, np.arange(m), time_limit, stats=stats)
    lower = np.zeros(m)
    lower[fixed] = 1.0
    upper = np.ones(m)  # global bounds: sites closed for the whole search have upper 0
    lp.set_bounds(lower, upper)
    centre = np.zeros(m)
    centre[best_sites] = 1.0
    lp.add_cuts(centre, None)
    info: dict = {}
    root = lp.solve(prune_above=prune_level(ub), deadline=deadline, centre=centre)
    info.update(t_root=time.perf_counter() - t0, root_lp_converged=root.converged)
    root_bound = root.bound
    if improve is not None and root.y is not None and not root.cutoff:
        cand = improve(root.y)
        c, _ = assignment_cost(W, cand)
        if c < ub - 1e-12:
            best_sites, ub = np.sort(cand), c
    root_rc = None
    if root.y is not None and root.converged and root.bound <= prune_level(ub):
        # close sites for good by reduced cost, then rebuild the LP over the rest
        root_rc = (root.bound, root.reduced_cost.copy(), root.y.copy())
        zero, one = _fix_by_reduced_cost(root, lower, upper, prune_level(ub))
        upper[zero] = 0.0
        lower[one] = 1.0
        info.update(root_closed=int(zero.size), root_opened=int(one.size))
        if zero.size:
            lp = restricted_lp(lp, W, p, sc, np.flatnonzero(upper > 0.5), lower, upper, deadline)
            lp.add_cuts(centre, None)  # the incumbent's own cuts
            root = lp.solve(prune_above=prune_level(ub), deadline=deadline)
    # open nodes: (lower, upper, bound of the parent, parent basis, LP of the subtree)
    stack: list[tuple] = []
    nodes = 1
    enumerated = 0
    pruned_min = np.inf  # smallest bound among settled nodes (the bound once the tree is done)
    timed_out = False

    def new_incumbent(cost: float, sites: np.ndarray) -> None:
        """Record a better solution and close, everywhere, the sites that the root
        reduced costs now exclude."""
        nonlocal ub, best_sites
        ub, best_sites = cost, np.sort(sites)
        if root_rc is not None:
            b, rc, y0 = root_rc
            upper[(y0 < 1e-9) & (b + rc > prune_level(ub)) & (lower < 0.5)] = 0.0

    def settle_by_enumeration(lo: np.ndarray, hi: np.ndarray) -> bool:
        """Solve the node's subtree by enumerating its completions when that is cheap."""
        nonlocal pruned_min, enumerated
        done = enumerate_completions(W, lo, hi, p, budget=enum_budget, max_loops=enum_loops)
        if done is None:
            return False
        enumerated += 1
        if done[0] < ub:
            new_incumbent(*done)
        pruned_min = min(pruned_min, done[0])
        return True

    def branch_site(y: np.ndarray, frac: np.ndarray) -> int:
        """The fractional site to branch on (see ``branching``)."""
        if branching == "fractional":
            return int(frac[np.argmin(np.abs(y[frac] - 0.5))])
        ya = y[lp.active]
        score = np.zeros(m)
        score[lp.active] = lp.sc.service(ya) * np.minimum(ya, 1.0 - ya)
        return int(frac[np.argmax(score[frac])])

    def process(node: NodeBound, lo: np.ndarray, hi: np.ndarray, parent: float) -> None:
        """Settle the node (pruned, integral, enumerated) or push its two children."""
        nonlocal lp, pruned_min
        j = -1
        while True:
            level = prune_level(ub)
            if node.cutoff or node.bound > level:
                pruned_min = min(pruned_min, node.bound)
                return
            if node.y is None or (not node.converged and time.perf_counter() > deadline):
                stack.append((lo, hi, max(parent, node.bound), None, lp))  # stopped by the deadline
                return
            y = node.y
            frac = np.flatnonzero((y > 1e-6) & (y < 1 - 1e-6))
            if frac.size == 0:
                if not node.converged:  # integral, but cuts still violated: finish the loop
                    node = lp.solve(prune_above=level, deadline=deadline)
                    continue
                # an integral LP optimum with no violated cut: this node is solved
                sites = np.flatnonzero(y > 0.5)
                c, _ = assignment_cost(W, sites)
                if c < ub:
                    new_incumbent(c, sites)
                pruned_min = min(pruned_min, node.bound)
                return
            zero, one = _fix_by_reduced_cost(node, lo, hi, level)
            lo, hi = lo.copy(), hi.copy()
            hi[zero] = 0.0
            lo[one] = 1.0
            if settle_by_enumeration(lo, hi):
                return
            keep = np.flatnonzero(hi > 0.5)
            if keep.size <= shrink * lp.k:
                # few sites left below this node: give the subtree a smaller LP
                lp = restricted_lp(lp, W, p, sc, keep, lo, hi, deadline)
                node = lp.solve(prune_above=prune_level(ub), deadline=deadline, max_rounds=node_rounds)
                continue
            j = branch_site(y, frac)
            break
        down_lo, down_hi = lo, hi.copy()
        down_hi[j] = 0.0
        up_lo, up_hi = lo.copy(), hi
        up_lo[j] = 1.0
        saved = lp.basis()
        stack.append((down_lo, down_hi, node.bound, saved, lp))
        stack.append((up_lo, up_hi, node.bound, saved, lp))  # explored first: opens a site

    process(root, lower, upper, -np.inf)
    while stack:
        if time.perf_counter() > deadline:
            timed_out = True
            break
        lo, hi, parent, saved, lp = stack.pop()
        if parent > prune_level(ub):
            pruned_min = min(pruned_min, parent)
            continue
        hi = np.minimum(hi, upper)  # sites closed globally since the node was created
        if lo.sum() > p + 1e-9 or hi.sum() < p - 1e-9 or (lo > hi).any():
            continue  # no way to open exactly p sites
        nodes += 1
        if settle_by_enumeration(lo, hi):
            continue
        lp.set_bounds(lo, hi)
        lp.restore_basis(saved)
        node = lp.solve(prune_above=prune_level(ub), deadline=deadline, max_rounds=node_rounds)
        process(node, lo, hi, parent)
    lb = min([ub, pruned_min] + [entry[2] for entry in stack])
    if integral and np.isfinite(lb):
        lb = min(ub, float(np.ceil(lb - _round_eps(ub))))
    if np.isfinite(root_bound):
        lb = max(lb, min(root_bound, ub))
    proven = (not timed_out and not stack) or ub - lb <= rel_tol * max(1.0, abs(ub))
    info.update(
        lp_solves=stats.solves, lp_iterations=stats.iterations, lp_time=stats.time, cuts=stats.cuts,
        lps=stats.lps, enumerated=enumerated, t_total=time.perf_counter() - t0,
    )
    return ExactOutcome(best_sites, ub, lb, proven, nodes, root_bound, info)
