"""Exact p-median by the radius formulation: Benders cuts for the LP bound, then a compact MIP.

Radius formulation (Cornuejols, Nemhauser & Wolsey 1980; Elloumi 2010): with the sorted
distinct costs D_i^1 < D_i^2 < ... of demand i, the cost of i is

    D_i^1 + sum_k (D_i^{k+1} - D_i^k) z_ik,   z_ik >= 1 - sum_{j: W_ij <= D_i^k} y_j.

Projecting out z gives, for every demand and every radius D, the Benders cut
(Duran-Mateluna, Ales & Elloumi 2021)

    theta_i >= D - sum_j max(0, D - W_ij) y_j,

whose most violated member at a fractional y is found in closed form: D is the cost at
which the sorted cumulative sum of y reaches 1.  The cut loop on
``min sum theta  s.t. sum y = p`` reaches the LP bound of the classical formulation
with O(n) small rows per round instead of n*m assignment variables.  Reduced costs of y
against the incumbent then fix most sites, and the remaining problem is solved as the
compact (Elloumi) radius MIP over the surviving sites.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from .highs_model import INF, add_columns, add_rows_csr, new_solver, solve_mip


@dataclass(frozen=True)
class CutLoopResult:
    """Outcome of the Benders LP: bound, LP point and reduced costs of y."""

    lower_bound: float
    y: np.ndarray
    reduced_cost: np.ndarray
    converged: bool
    rounds: int
    n_cuts: int


class SortedCosts:
    """Per-demand costs sorted ascending, with the site order, for cut separation."""

    def __init__(self, W: np.ndarray) -> None:
        self.order = np.argsort(W, axis=1, kind="stable").astype(np.int32)
        self.values = np.take_along_axis(W, self.order, axis=1)

    def cuts(self, y: np.ndarray, rows: np.ndarray | None = None):
        """Most violated radius cut per demand at point ``y``.

        Returns (radius D, cut value at y, csr starts, site indices, coefficients) for the
        demands in ``rows`` (all demands when None).  The cut reads
        ``theta_i + sum coef * y_site >= D``.
        """
        order = self.order if rows is None else self.order[rows]
        vals = self.values if rows is None else self.values[rows]
        n, m = vals.shape
        cum = np.cumsum(y[order], axis=1)
        k = np.minimum((cum < 1.0 - 1e-9).sum(axis=1), m - 1)
        D = vals[np.arange(n), k]
        slack = np.maximum(D[:, None] - vals, 0.0)  # zero at and beyond radius D
        value = D - (slack * y[order]).sum(axis=1)
        mask = slack > 0.0
        counts = mask.sum(axis=1)
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
        return D, value, starts, order[mask], slack[mask]


def radius_cut_loop(
    W: np.ndarray,
    p: int,
    fixed: np.ndarray,
    incumbent: np.ndarray,
    sorted_costs: SortedCosts,
    *,
    stop_at: float,
    time_limit: float,
    max_rounds: int = 500,
    stabilisation: float = 0.5,
    tol: float = 1e-7,
) -> CutLoopResult:
    """Benders cut loop on the radius formulation's LP relaxation.

    Columns are y (sites) then theta (demands).  Each round separates at the LP point and
    at an in-out point between the LP point and a stability centre (initially the
    incumbent), which cuts the number of rounds for small p.  Stops when no cut is
    violated at the LP point (LP bound reached), when the bound reaches ``stop_at``, or
    at ``time_limit`` seconds.  Every round's LP value is a valid lower bound.
    """
    t0 = time.perf_counter()
    n, m = W.shape
    h = new_solver(time_limit)
    h.setOptionValue("solver", "simplex")
    y_lo = np.zeros(m)
    y_lo[fixed] = 1.0
    add_columns(h, np.zeros(m), y_lo, np.ones(m))
    add_columns(h, np.ones(n), sorted_costs.values[:, 0], np.full(n, INF))
    add_rows_csr(h, [p], [p], [0], np.arange(m), np.ones(m))
    centre = np.zeros(m)
    centre[incumbent] = 1.0
    n_cuts = 0

    def add(y_point: np.ndarray, theta: np.ndarray | None) -> int:
        D, value, starts, idx, coef = sorted_costs.cuts(y_point)
        if theta is None:
            keep = np.ones(n, dtype=bool)
        else:
            keep = value > theta + tol * np.maximum(1.0, np.abs(value))
        if not keep.any():
            return 0
        rows = np.flatnonzero(keep)
        ends = np.append(starts[1:], len(idx))
        lens = ends[rows] - starts[rows]
        take = np.concatenate([np.arange(s, e) for s, e in zip(starts[rows], ends[rows])]) if rows.size else []
        take = np.asarray(take, dtype=np.int64)
        # theta_i column first, then the site columns
        new_starts = np.concatenate([[0], np.cumsum(lens + 1)[:-1]])
        out_idx = np.empty(int((lens + 1).sum()), dtype=np.int64)
        out_val = np.empty_like(out_idx, dtype=np.float64)
        out_idx[new_starts] = m + rows
        out_val[new_starts] = 1.0
        body = np.ones(out_idx.size, dtype=bool)
        body[new_starts] = False
        out_idx[body] = idx[take]
        out_val[body] = coef[take]
        add_rows_csr(h, D[rows], np.full(rows.size, INF), new_starts, out_idx, out_val)
        return rows.size

    n_cuts += add(centre, None)
    lb = -np.inf
    y = centre
    rc = np.zeros(m)
    converged = False
    rounds = 0
    for rounds in range(1, max_rounds + 1):
        h.setOptionValue("time_limit", float(max(time_limit - (time.perf_counter() - t0), 1e-3)))
        h.run()
        info = h.getInfo()
        sol = h.getSolution()
        if h.getModelStatus() != __import__("highspy").HighsModelStatus.kOptimal:
            break
        x = np.asarray(sol.col_value)
        y, theta = x[:m], x[m:]
        rc = np.asarray(sol.col_dual)[:m]
        lb = max(lb, float(info.objective_function_value))
        if lb >= stop_at or time.perf_counter() - t0 > time_limit:
            break
        added = add(y, theta)
        if added == 0:
            converged = True
            break
        if stabilisation > 0:
            y_in = stabilisation * centre + (1.0 - stabilisation) * y
            n_cuts += add(y_in, None if False else _theta_at(h, m, n))
            centre = 0.5 * centre + 0.5 * y
        n_cuts += added
    return CutLoopResult(lb, y, rc, converged, rounds, n_cuts)


def _theta_at(h, m: int, n: int) -> np.ndarray:
    """Current theta values (used as the reference for in-out cuts)."""
    return np.asarray(h.getSolution().col_value)[m : m + n]


@dataclass(frozen=True)
class CompactOutcome:
    sites: np.ndarray | None
    objective: float
    dual_bound: float
    optimal: bool
    nodes: int
    n_cols: int


def compact_radius_mip(
    W: np.ndarray,
    free: np.ndarray,
    opened: np.ndarray,
    p_free: int,
    *,
    incumbent: np.ndarray | None,
    time_limit: float,
) -> CompactOutcome:
    """Solve the p-median restricted to ``opened`` (forced open) + ``free`` sites exactly.

    Elloumi's compact radius model: per demand one z per distinct cost level below the
    cost of its nearest forced-open site, chained ``z_k + sum_{W_ij = D_k} y_j >= z_{k-1}``,
    so each (demand, free site) pair appears once in the matrix.
    """
    n = W.shape[0]
    nf = free.size
    cap = W[:, opened].min(axis=1) if opened.size else np.full(n, np.inf)
    Wf = W[:, free]
    rows_r, cols_r, vals_r = [], [], []
    costs: list[np.ndarray] = []
    offset = 0.0
    z_base = nf
    row = 1  # row 0: sum y = p_free
    level_of: list[tuple[int, np.ndarray, np.ndarray]] = []
    for i in range(n):
        wi = Wf[i]
        below = wi < cap[i]
        levels, inv = np.unique(wi[below], return_inverse=True)
        if np.isfinite(cap[i]):
            levels = np.append(levels, cap[i])
        if levels.size == 0:
            offset += cap[i]
            continue
        offset += levels[0]
        K = levels.size
        if K == 1:
            continue
        nz = K - 1  # z_1..z_{K-1}
        zc = z_base + np.arange(nz)
        costs.append(np.diff(levels))
        rws = row + np.arange(nz)
        # z_k coefficient +1
        rows_r.append(rws)
        cols_r.append(zc)
        vals_r.append(np.ones(nz))
        # -z_{k-1} for k >= 2
        rows_r.append(rws[1:])
        cols_r.append(zc[:-1])
        vals_r.append(-np.ones(nz - 1))
        # y_j with W_ij at level k-1 (levels below the last)
        sites = np.flatnonzero(below)
        lv = inv
        keep = lv < nz
        rows_r.append(row + lv[keep])
        cols_r.append(sites[keep])
        vals_r.append(np.ones(int(keep.sum())))
        level_of.append((i, zc, levels))
        z_base += nz
        row += nz
    n_col = z_base
    rows_all = np.concatenate([np.zeros(nf, dtype=np.int64)] + rows_r)
    cols_all = np.concatenate([np.arange(nf)] + cols_r)
    vals_all = np.concatenate([np.ones(nf)] + vals_r)
    A = sparse.csc_matrix((vals_all, (rows_all, cols_all)), shape=(row, n_col))
    row_lo = np.ones(row)
    row_lo[0] = p_free
    # rows with a -z_{k-1} term have rhs 0
    first_rows = np.zeros(row, dtype=bool)
    first_rows[0] = True
    r = 1
    for _, zc, _ in level_of:
        first_rows[r] = True
        r += zc.size
    row_lo[~first_rows] = 0.0
    row_hi = np.full(row, INF)
    row_hi[0] = p_free
    c = np.concatenate([np.zeros(nf)] + costs) if costs else np.zeros(nf)
    start = None
    if incumbent is not None:
        start = np.zeros(n_col)
        in_free = np.isin(free, incumbent)
        start[:nf] = in_free.astype(float)
        open_costs = Wf[:, in_free]
        for i, zc, levels in level_of:
            d = open_costs[i].min() if open_costs.shape[1] else np.inf
            start[zc] = (levels[:-1] < min(d, cap[i])).astype(float)
    integer = np.zeros(n_col, dtype=bool)
    integer[:nf] = True
    out = solve_mip(
        c, A, row_lo, row_hi, np.zeros(n_col), np.ones(n_col), integer,
        time_limit=time_limit, offset=offset, start=start,
    )
    sites = None
    if out.x is not None:
        sites = np.sort(np.concatenate([opened, free[out.x[:nf] > 0.5]]))
    return CompactOutcome(sites, out.objective, out.dual_bound, out.optimal, out.nodes, n_col)
