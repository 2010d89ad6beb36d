"""Exact zoning: a MIP with flow-based contiguity, solved by HiGHS (highspy).

Variables: ``x[i, j]`` = 1 when unit i joins the zone centred at unit j (``x[j, j]`` opens
centre j), only for pairs that ``Problem.allowed`` keeps; ``g[j, u, v] ≥ 0`` flow on the
directed link u → v of the contiguity graph, one commodity per candidate centre j, restricted
to units that may join j (Shirabe 2009; Validi, Buchanan & Lykhovyd 2022, "SHIR").

    min   Σ w_i t_ij x_ij + Σ f_j x_jj                      f: opening cost (Problem.open_cost)
    s.t.  Σ_j x_ij = 1                                      every unit in exactly one zone
          x_ij ≤ x_jj                                       only open centres take members
          Σ_j x_jj = p
          lo·x_jj ≤ Σ_i w_i x_ij ≤ hi·x_jj                  zone population (if bounded)
          mlo·x_jj ≤ Σ_i x_ij ≤ mhi·x_jj                    zone size (if bounded)
          x_aj = x_bj                                       a, b in one keep-together group
          Σ_v g_juv − Σ_v g_jvu = x_uj         (u ≠ j)      each member sends one unit to j
          Σ_v g_jvu ≤ (M_j − 1)·x_uj (u ≠ j),  Σ_v g_jvj ≤ M_j·x_jj
          x_ij ≤ Σ_{v ∈ N(i)} x_vj             (j ∉ N(i))   a member needs a neighbour in its zone
          x_ff = 1 for fixed centres; locks and the county border are in ``allowed``.

The last family (length-one separators) is implied by the flow but tightens the LP a lot. A
heuristic solution (with its flows) is handed to HiGHS as the first incumbent; the optimality
gap comes from HiGHS's dual bound.

Two ways to impose contiguity (:func:`solve`): ``"flow"`` builds the model above in one piece;
``"cuts"`` (the default) leaves the flows out and adds separator cuts
``x_ij ≤ Σ_{v ∈ S} x_vj`` (S separates i from j among the units that may join j): first
those violated by the LP relaxation, found by max-flow (:func:`fractional_separators`, the
root bound), then for each zone piece cut off from its centre in an integer point, re-solving
until the optimum is contiguous. Between the two, pairs whose LP reduced cost exceeds the gap
are fixed to 0 (reduced-cost fixing), and the heuristic polishes every set of centres the LP or
the MIP proposes into a contiguous division. Both ways are exact.

Why the root rows matter (docs/benchmarks/zoning.md): on a tree-like road network neighbouring
villages are often far apart by road, so the nearest centre of a village is often across another
zone, and relaxations lean villages on centres they cannot reach inside one zone. On 通江县's
village groups the Lagrangian bound (the LP bound of the p-median) lay 2–23 % below the optimum,
the LP of this model 0–8 %, and with the separator rows 0–4 % (median 1 %); reduced-cost fixing
then leaves a MIP of a fifth to a third of the pairs.
"""

from __future__ import annotations

import dataclasses
import time
from collections import deque

import highspy
import igraph as ig
import numpy as np
from scipy import sparse

from pianqu.highs import new_highs
from pianqu.zoning import explain, heuristic
from pianqu.zoning.problem import Problem, reachable
from pianqu.zoning.result import relative_gap

INF = highspy.kHighsInf


class Model:
    """The MIP of one problem, with the column maps needed to read and seed solutions."""

    def __init__(self, prob: Problem, flows: bool = True):
        self.prob = prob
        n = prob.n
        A = prob.allowed
        xi, xj = np.nonzero(A)
        self.xi, self.xj = xi, xj
        self.X = np.full((n, n), -1, dtype=np.int64)
        self.X[xi, xj] = np.arange(len(xi))
        nx_ = len(xi)
        w = prob.pop
        T = np.where(np.isfinite(prob.T), prob.T, 0.0)
        cost = [w[xi] * T[xi, xj] + np.where(xi == xj, prob.open_cost[xj], 0.0)]  # x_jj opens j
        rows_i: list[np.ndarray] = []
        cols_i: list[np.ndarray] = []
        vals: list[np.ndarray] = []
        lo: list[np.ndarray] = []
        hi: list[np.ndarray] = []
        self.nrow = 0

        def add(r, c, v, rlo, rhi):
            rows_i.append(np.asarray(r, dtype=np.int64) + self.nrow)
            cols_i.append(np.asarray(c, dtype=np.int64))
            vals.append(np.asarray(v, dtype=float))
            lo.append(np.asarray(rlo, dtype=float))
            hi.append(np.asarray(rhi, dtype=float))
            self.nrow += len(rlo)

        # every unit in exactly one zone
        add(xi, np.arange(nx_), np.ones(nx_), np.ones(n), np.ones(n))
        centres = np.flatnonzero(A.diagonal())
        self.centres = centres
        yc = self.X[centres, centres]
        off = xi != xj
        k = np.flatnonzero(off)
        m = len(k)
        # x_ij − x_jj ≤ 0
        add(np.r_[np.arange(m), np.arange(m)], np.r_[k, self.X[xj[k], xj[k]]],
            np.r_[np.ones(m), -np.ones(m)], np.full(m, -INF), np.zeros(m))
        # Σ y = p
        add(np.zeros(len(yc)), yc, np.ones(len(yc)), [prob.p], [prob.p])
        # zone index of each x column's centre, for the per-centre rows
        cpos = np.full(n, -1, dtype=np.int64)
        cpos[centres] = np.arange(len(centres))
        zc = cpos[xj]
        nc = len(centres)
        if prob.pop_lo > 0:
            coef = w[xi].copy()
            coef[~off] -= prob.pop_lo
            add(zc, np.arange(nx_), coef, np.zeros(nc), np.full(nc, INF))
        if np.isfinite(prob.pop_hi):
            coef = w[xi].copy()
            coef[~off] -= prob.pop_hi
            add(zc, np.arange(nx_), coef, np.full(nc, -INF), np.zeros(nc))
        if prob.mem_lo > 1:
            coef = np.ones(nx_)
            coef[~off] -= prob.mem_lo
            add(zc, np.arange(nx_), coef, np.zeros(nc), np.full(nc, INF))
        if prob.mem_hi < n:
            coef = np.ones(nx_)
            coef[~off] -= prob.mem_hi
            add(zc, np.arange(nx_), coef, np.full(nc, -INF), np.zeros(nc))
        # keep-together groups
        for g in prob.groups:
            for a, b in zip(g[:-1], g[1:]):
                js = np.flatnonzero(A[a] | A[b])
                ca, cb = self.X[a, js], self.X[b, js]
                r = np.arange(len(js))
                both = (ca >= 0) & (cb >= 0)
                add(np.r_[r[both], r[both]], np.r_[ca[both], cb[both]],
                    np.r_[np.ones(both.sum()), -np.ones(both.sum())], np.zeros(len(js)), np.zeros(len(js)))
                # a pair allowed for one member only is fixed to 0 through the column bounds
        self.col_upper_x = np.ones(nx_)
        for g in prob.groups:
            for a in g:
                for b in g:
                    bad = (A[a] & ~A[b])
                    self.col_upper_x[self.X[a, bad]] = 0.0
        # neighbour (length-one separator) inequalities
        nbrs = prob.neighbours()
        rr, cc, vv = [], [], []
        r0 = 0
        for i in range(n):
            Ni = nbrs[i]
            js = np.flatnonzero(A[i])
            js = js[(js != i) & ~np.isin(js, Ni)]
            for j in js:
                vs = Ni[A[Ni, j]]
                rr.append(np.full(1 + len(vs), r0))
                cc.append(np.r_[self.X[i, j], self.X[vs, j]])
                vv.append(np.r_[1.0, -np.ones(len(vs))])
                r0 += 1
        if r0:
            add(np.concatenate(rr), np.concatenate(cc), np.concatenate(vv), np.full(r0, -INF), np.zeros(r0))
        # flows
        e = prob.edges
        Eu = np.r_[e[:, 0], e[:, 1]]
        Ev = np.r_[e[:, 1], e[:, 0]]
        self.flow_cols: dict[int, tuple[np.ndarray, np.ndarray, int]] = {}
        col = nx_
        fc_rows, fc_cols, fc_vals, f_lo, f_hi = [], [], [], [], []
        nflow_rows = 0
        for j in (centres if flows else []):
            Vj = A[:, j]
            members = np.flatnonzero(Vj)
            if len(members) <= 1:
                continue
            keep = Vj[Eu] & Vj[Ev] & (Eu != j)
            u, v = Eu[keep], Ev[keep]
            na = len(u)
            if na == 0:
                continue
            self.flow_cols[int(j)] = (u, v, col)
            Mj = min(len(members), prob.mem_hi) - 1
            others = members[members != j]
            rpos = np.full(n, -1, dtype=np.int64)
            rpos[others] = np.arange(len(others))
            fcol = col + np.arange(na)
            # conservation rows (one per other member): out − in − x_uj = 0
            out_r = rpos[u]
            in_r = rpos[v]
            to_other = in_r >= 0
            rows = np.r_[out_r, in_r[to_other], rpos[others]]
            cols = np.r_[fcol, fcol[to_other], self.X[others, j]]
            vals_ = np.r_[np.ones(na), -np.ones(to_other.sum()), -np.ones(len(others))]
            fc_rows.append(rows + nflow_rows)
            fc_cols.append(cols)
            fc_vals.append(vals_)
            f_lo.append(np.zeros(len(others)))
            f_hi.append(np.zeros(len(others)))
            nflow_rows += len(others)
            # inflow capacity rows: others then j
            cap_r = np.full(n, -1, dtype=np.int64)
            cap_r[others] = np.arange(len(others))
            cap_r[j] = len(others)
            rows = np.r_[cap_r[v], cap_r[others], cap_r[j]]
            cols = np.r_[fcol, self.X[others, j], self.X[j, j]]
            vals_ = np.r_[np.ones(na), -np.full(len(others), max(Mj - 1, 0)), -float(Mj)]
            fc_rows.append(rows + nflow_rows)
            fc_cols.append(cols)
            fc_vals.append(vals_)
            f_lo.append(np.full(len(others) + 1, -INF))
            f_hi.append(np.zeros(len(others) + 1))
            nflow_rows += len(others) + 1
            col += na
        if nflow_rows:
            add(np.concatenate(fc_rows), np.concatenate(fc_cols), np.concatenate(fc_vals),
                np.concatenate(f_lo), np.concatenate(f_hi))
        self.ncol = col
        # HiGHS works best with costs of order 1–100 (person-seconds reach 1e8): scale, and
        # multiply objective values and bounds back in read()
        top = float(cost[0].max()) if nx_ else 0.0
        self.scale = top / 100.0 if top > 100.0 else 1.0
        self.c = np.r_[cost[0] / self.scale, np.zeros(col - nx_)]
        self.col_lo = np.zeros(col)
        self.col_hi = np.r_[self.col_upper_x, np.full(col - nx_, INF)]
        fixed = np.flatnonzero(prob.fixed & A.diagonal())
        self.col_lo[self.X[fixed, fixed]] = 1.0
        self.integer = np.r_[np.ones(nx_, dtype=bool), np.zeros(col - nx_, dtype=bool)]
        self.A = sparse.csc_matrix((np.concatenate(vals), (np.concatenate(rows_i), np.concatenate(cols_i))),
                                   shape=(self.nrow, col))
        self.A.sum_duplicates()
        self.row_lo = np.concatenate(lo)
        self.row_hi = np.concatenate(hi)

    def start_vector(self, centre_of: np.ndarray) -> np.ndarray | None:
        """A full solution vector (x and flows) for an assignment, or None if it does not fit."""
        prob = self.prob
        x = np.zeros(self.ncol)
        idx = self.X[np.arange(prob.n), centre_of]
        if (idx < 0).any():
            return None
        x[idx] = 1.0
        if not self.flow_cols:  # no flow columns (separator cuts): the x part is the whole vector
            return x
        nbrs = prob.neighbours()
        for j in np.unique(centre_of):
            members = np.flatnonzero(centre_of == j)
            if len(members) == 1:
                continue
            if int(j) not in self.flow_cols:
                return None
            u_arr, v_arr, c0 = self.flow_cols[int(j)]
            arc = {(int(a), int(b)): c0 + k for k, (a, b) in enumerate(zip(u_arr, v_arr))}
            inzone = set(members.tolist())
            parent = {int(j): -1}
            order = [int(j)]
            dq = deque([int(j)])
            while dq:
                a = dq.popleft()
                for b in nbrs[a]:
                    b = int(b)
                    if b in inzone and b not in parent:
                        parent[b] = a
                        order.append(b)
                        dq.append(b)
            if len(order) != len(members):
                return None
            sub = {k: 1 for k in order}
            for b in reversed(order[1:]):
                a = parent[b]
                key = (b, a)
                if key not in arc:
                    return None
                x[arc[key]] = sub[b]
                if a != j:
                    sub[a] += sub[b]
        return x

    def highs(self, *, time_limit: float, mip_rel_gap: float, threads: int | None = None) -> highspy.Highs:
        """A HiGHS instance holding this model."""
        h = new_highs()
        h.setOptionValue("time_limit", float(max(time_limit, 1e-3)))
        h.setOptionValue("mip_rel_gap", float(mip_rel_gap))
        if threads is not None:
            h.setOptionValue("threads", int(threads))
        A = self.A
        A.sort_indices()
        h.passModel(self.ncol, self.nrow, int(A.nnz), 1, 1, 0.0,
                    self.c.astype(np.float64), self.col_lo.astype(np.float64), self.col_hi.astype(np.float64),
                    self.row_lo.astype(np.float64), self.row_hi.astype(np.float64),
                    A.indptr[:-1].astype(np.int32), A.indices.astype(np.int32), A.data.astype(np.float64),
                    self.integer.astype(np.int32))
        return h

    def read(self, h: highspy.Highs) -> dict:
        status = h.getModelStatus()
        info = h.getInfo()
        has_sol = info.primal_solution_status == highspy.kSolutionStatusFeasible
        centre_of = None
        if has_sol:
            xv = np.asarray(h.getSolution().col_value)[: len(self.xi)]
            centre_of = np.full(self.prob.n, -1, dtype=np.int64)
            on = xv > 0.5
            centre_of[self.xi[on]] = self.xj[on]
            if (centre_of < 0).any():
                centre_of = None
        bound = float(info.mip_dual_bound)
        return {
            "centre_of": centre_of,
            "objective": float(info.objective_function_value) * self.scale if has_sol else np.inf,
            "lower_bound": bound * self.scale if np.isfinite(bound) else -np.inf,
            "optimal": status == highspy.HighsModelStatus.kOptimal,
            "infeasible": status == highspy.HighsModelStatus.kInfeasible,
            "status": h.modelStatusToString(status),
            "nodes": int(info.mip_node_count),
        }

    def separator_cuts(self, centre_of: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Rows ``x_ij − Σ_{v ∈ N(S)} x_vj ≤ 0`` for every unit i of each piece S of a zone cut
        off from its centre j (N(S): the units around S that may join j)."""
        prob = self.prob
        nbrs = prob.neighbours()
        rows_c, rows_v = [], []
        for j in np.unique(centre_of):
            members = np.flatnonzero(centre_of == j)
            pieces = components_of(members, nbrs)
            for S in pieces:
                if j in S:
                    continue
                Sset = set(S.tolist())
                ring = sorted({int(v) for u in S for v in nbrs[u] if int(v) not in Sset})
                ring = np.asarray([v for v in ring if self.prob.allowed[v, j]], dtype=np.int64)
                for i in S:
                    rows_c.append(np.r_[self.X[i, j], self.X[ring, j]])
                    rows_v.append(np.r_[1.0, -np.ones(len(ring))])
        return rows_c, rows_v


def components_of(members: np.ndarray, nbrs: list[np.ndarray]) -> list[np.ndarray]:
    """Connected pieces of a set of units in the contiguity graph."""
    left = set(int(m) for m in members)
    out = []
    while left:
        root = left.pop()
        seen = [root]
        stack = [root]
        while stack:
            a = stack.pop()
            for b in nbrs[a]:
                b = int(b)
                if b in left:
                    left.discard(b)
                    seen.append(b)
                    stack.append(b)
        out.append(np.asarray(sorted(seen), dtype=np.int64))
    return out


def fractional_separators(model: Model, xv: np.ndarray, *, eps: float = 1e-6,
                          violation: float = 1e-4) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Separator rows ``x_ij − Σ_{v ∈ S} x_vj ≤ 0`` violated by a fractional point ``xv``.

    For every open centre j (x_jj > 0) and unit i with x_ij > 0 not next to j, the lightest
    vertex set S separating i from j among the units that may join j, with weights x_vj, is a
    minimum cut in the split graph (max-flow, igraph). When it weighs less than x_ij the row is
    violated; S is trimmed to the units next to i's side (a minimal separator). Integer points
    need only :meth:`Model.separator_cuts`; this is what makes the LP bound strong when the
    nearest centre is often across another zone (tree-like road networks, village level).
    """
    prob = model.prob
    n = prob.n
    A = prob.allowed
    X = np.zeros((n, n))
    X[model.xi, model.xj] = xv[: len(model.xi)]
    nbrs = prob.neighbours()
    e = prob.edges
    rows_c: list[np.ndarray] = []
    rows_v: list[np.ndarray] = []
    for j in np.flatnonzero(np.diag(X) > eps):
        near = np.zeros(n, dtype=bool)
        near[nbrs[j]] = True
        near[j] = True
        targets = np.flatnonzero((X[:, j] > eps + violation) & ~near)
        if not len(targets):
            continue
        Vj = np.flatnonzero(A[:, j])
        m = len(Vj)
        pos = np.full(n, -1, dtype=np.int64)
        pos[Vj] = np.arange(m)
        keep = A[e[:, 0], j] & A[e[:, 1], j]
        a, b = pos[e[keep, 0]], pos[e[keep, 1]]
        # unit v is the arc v_in (v) → v_out (m + v) with capacity x_vj; links cost "infinity"
        arcs = np.r_[np.c_[np.arange(m), m + np.arange(m)], np.c_[m + a, b], np.c_[m + b, a]]
        cap = np.r_[X[Vj, j] + 1e-7, np.full(2 * len(a), float(n + 1))].tolist()
        g = ig.Graph(n=2 * m, edges=arcs.tolist(), directed=True)
        src = int(m + pos[j])
        done: set[int] = set()
        for i in targets:
            if int(i) in done:
                continue
            f = g.maxflow(src, int(pos[i]), capacity=cap)
            if f.value >= X[i, j] - violation:
                continue
            cut = np.asarray(f.cut, dtype=np.int64)
            S = set(Vj[cut[cut < m]].tolist())
            side, stack = {int(i)}, [int(i)]  # i's side of the cut, to keep S minimal
            while stack:
                u = stack.pop()
                for v in nbrs[u]:
                    v = int(v)
                    if A[v, j] and v not in S and v not in side:
                        side.add(v)
                        stack.append(v)
            ring = np.asarray(sorted(v for v in S if any(int(u) in side for u in nbrs[v])), dtype=np.int64)
            weight = X[ring, j].sum()
            # the same separator cuts off every unit on i's side that leans on j more than it
            for k in sorted(side):
                if X[k, j] > weight + violation and model.X[k, j] >= 0:
                    rows_c.append(np.r_[model.X[k, j], model.X[ring, j]])
                    rows_v.append(np.r_[1.0, -np.ones(len(ring))])
                    done.add(k)
    return rows_c, rows_v


def _add_rows(h: highspy.Highs, rows_c: list[np.ndarray], rows_v: list[np.ndarray]) -> None:
    starts = np.cumsum([0] + [len(c) for c in rows_c[:-1]]).astype(np.int32)
    h.addRows(len(rows_c), np.full(len(rows_c), -INF), np.zeros(len(rows_c)), int(sum(len(c) for c in rows_c)),
              starts, np.concatenate(rows_c).astype(np.int32), np.concatenate(rows_v).astype(np.float64))


def root_bound(model: Model, h: highspy.Highs, deadline: float, *, max_rounds: int = 200, stall_rounds: int = 3,
               stall_gain: float = 1e-4, target: float = np.inf) -> dict:
    """LP relaxation with separator rows added while the LP violates some (a cutting-plane loop).

    The rows stay in ``h`` for the MIP. Stops when no row is violated, when the bound rose by
    less than ``stall_gain`` (relative) over ``stall_rounds`` rounds, when it reaches ``target``
    (an incumbent it already proves), or at ``deadline``. Returns the bound (valid for the MIP:
    every round is a relaxation of it), the last LP point, its reduced costs and counts.
    """
    ncol = model.ncol
    cols = np.arange(ncol, dtype=np.int32)
    h.changeColsIntegrality(ncol, cols, np.zeros(ncol, dtype=np.uint8))
    out = {"bound": -np.inf, "x": None, "rounds": 0, "cuts": 0, "infeasible": False, "lp_value": -np.inf,
           "reduced": None}
    history: list[float] = []
    try:
        for _ in range(max_rounds):
            h.setOptionValue("time_limit", float(max(deadline - time.perf_counter(), 0.05)))
            h.run()
            out["rounds"] += 1
            status = h.getModelStatus()
            if status == highspy.HighsModelStatus.kInfeasible:
                out["infeasible"] = True
                break
            if status != highspy.HighsModelStatus.kOptimal:
                break
            val = float(h.getInfo().objective_function_value) * model.scale
            sol = h.getSolution()
            out["bound"] = max(out["bound"], val)
            out["x"] = np.asarray(sol.col_value)
            # reduced costs with the value of the same LP, for fixing (see solve)
            out["lp_value"], out["reduced"] = val, np.asarray(sol.col_dual) * model.scale
            history.append(val)
            if val >= target * (1 - 1e-9) or time.perf_counter() > deadline:
                break
            if len(history) > stall_rounds and val - history[-1 - stall_rounds] < stall_gain * abs(val):
                break
            rows_c, rows_v = fractional_separators(model, out["x"])
            if not rows_c:
                break
            _add_rows(h, rows_c, rows_v)
            out["cuts"] += len(rows_c)
    finally:
        h.changeColsIntegrality(ncol, cols, model.integer.astype(np.uint8))
    return out


def _centre_of(model: Model, xv: np.ndarray) -> np.ndarray | None:
    centre_of = np.full(model.prob.n, -1, dtype=np.int64)
    on = xv[: len(model.xi)] > 0.5
    centre_of[model.xi[on]] = model.xj[on]
    return None if (centre_of < 0).any() else centre_of


def _objective(prob: Problem, centre_of: np.ndarray) -> float:
    t = prob.T[np.arange(prob.n), centre_of]
    opening = float(prob.open_cost[np.unique(centre_of)].sum())
    return float(np.sum(prob.pop * np.where(np.isfinite(t), t, 0.0))) + opening


class _Incumbent:
    """The best contiguous division met so far, and the heuristic that turns a set of centres
    (from an LP point or a non-contiguous MIP point) into one."""

    def __init__(self, prob: Problem, polish: bool):
        self.prob, self.polish = prob, polish
        self.best: np.ndarray | None = None
        self.obj = np.inf
        self.polished = 0
        self._solver: heuristic.Solver | None = None
        self._tried: set[tuple[int, ...]] = set()

    def offer(self, centre_of: np.ndarray | None) -> None:
        prob = self.prob
        if centre_of is None or not prob.allowed[np.arange(prob.n), centre_of].all():
            return
        obj = _objective(prob, centre_of)
        if obj < self.obj - 1e-9 * max(1.0, abs(obj)):
            self.best, self.obj = np.asarray(centre_of, dtype=np.int64).copy(), obj

    def from_centres(self, centres) -> None:
        key = tuple(sorted(int(c) for c in centres))
        if not self.polish or len(key) != self.prob.p or key in self._tried:
            return
        self._tried.add(key)
        if self._solver is None:
            self._solver = heuristic.Solver(self.prob)
        got = self._solver.improve(np.asarray(key, dtype=np.int64))
        self.polished += 1
        if got is not None and got[0][0] == 0:
            (_, _), S, zone = got
            self.offer(S[zone][self._solver.nd.node_of])

    def from_lp(self, model: Model, x: np.ndarray) -> None:
        """Polish the p centres the LP point opens most (fixed centres first)."""
        prob = self.prob
        y = np.full(prob.n, -1.0)
        y[model.centres] = x[model.X[model.centres, model.centres]]
        y[~(prob.candidate & prob.allowed.diagonal())] = -1.0
        y[prob.fixed] = 2.0
        self.from_centres(np.argsort(-y, kind="stable")[: prob.p])


def _mip_rounds(model: Model, h: highspy.Highs, inc: _Incumbent, deadline: float, mip_rel_gap: float,
                max_rounds: int, bound: float) -> dict:
    """Solve the MIP in ``h`` from the incumbent, adding separator rows for every integer point
    HiGHS meets that has a zone in pieces, until the optimum of a round is contiguous, the
    incumbent is proven within ``mip_rel_gap``, or time runs out."""
    found: list[np.ndarray] = []
    nx = len(model.xi)

    def on_solution(ev) -> None:
        if len(found) < 200:
            found.append(np.asarray(ev.data_out.mip_solution)[:nx].copy())

    h.cbMipSolution.subscribe(on_solution)
    out = {"bound": bound, "rounds": 0, "cuts": 0, "nodes": 0, "status": "", "infeasible": False,
           "contiguous": False, "gave_up": False}
    seen_rows: set[tuple[int, ...]] = set()
    try:
        while relative_gap(inc.obj, out["bound"]) > mip_rel_gap:
            left = deadline - time.perf_counter()
            if left <= 0.05 and out["rounds"]:
                break
            h.setOptionValue("time_limit", float(max(left, 0.05)))
            if inc.best is not None:
                sv = model.start_vector(inc.best)
                if sv is not None:
                    h.setSolution(model.ncol, np.arange(model.ncol, dtype=np.int32), sv.astype(np.float64))
            found.clear()
            h.run()
            res = model.read(h)
            out["nodes"] += res["nodes"]
            out["rounds"] += 1
            out["status"] = res["status"]
            if res["infeasible"]:
                out["infeasible"] = True
                break
            out["bound"] = max(out["bound"], res["lower_bound"])
            co = res["centre_of"]
            if co is None:
                break
            if not model.separator_cuts(co)[0]:
                inc.offer(co)
                out["contiguous"] = res["optimal"]
                break  # the optimum of this round is contiguous: optimal within HiGHS's gap
            rows_c, rows_v = [], []
            for pt in [co] + [c for c in (_centre_of(model, x) for x in found) if c is not None]:
                rc, rv = model.separator_cuts(pt)
                if not rc:
                    inc.offer(pt)
                    continue
                for c, v in zip(rc, rv):
                    key = tuple(c.tolist())
                    if key not in seen_rows:
                        seen_rows.add(key)
                        rows_c.append(c)
                        rows_v.append(v)
                inc.from_centres(np.unique(pt))
            if not rows_c:
                break
            if out["rounds"] >= max_rounds:
                out["gave_up"] = True
                break
            _add_rows(h, rows_c, rows_v)
            out["cuts"] += len(rows_c)
    finally:
        h.cbMipSolution.unsubscribe(on_solution)
    return out


def _dive(model: Model, h: highspy.Highs, inc: _Incumbent, x: np.ndarray, deadline: float,
          mip_s: float = 2.0) -> None:
    """A division for the incumbent from an LP dive on the centres: open the fractional centre
    the LP leans on most, re-solve (with separator rows), until the LP opens whole centres;
    then solve the MIP with exactly those centres (a small problem) and offer its division.

    The heuristic alone grows zones from a set of centres; with member bounds on a tree-like
    road network it can miss the best assignment by a few percent, which the centre-fixed MIP
    finds in a fraction of a second. Bounds are restored afterwards; the separator rows added
    stay (they hold for every division)."""
    ncol = model.ncol
    cols = np.arange(ncol, dtype=np.int32)
    yc = model.X[model.centres, model.centres]
    lo0, hi0 = model.col_lo[yc].copy(), model.col_hi[yc].copy()
    h.changeColsIntegrality(ncol, cols, np.zeros(ncol, dtype=np.uint8))
    try:
        ok = True
        for _ in range(len(yc)):
            y = x[yc]
            frac = np.flatnonzero((y > 1e-6) & (y < 1 - 1e-6))
            if not len(frac) or time.perf_counter() > deadline:
                break
            k = int(frac[np.argmax(y[frac])])
            h.changeColBounds(int(yc[k]), 1.0, 1.0)
            for _ in range(5):
                h.setOptionValue("time_limit", float(max(deadline - time.perf_counter(), 0.05)))
                h.run()
                if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
                    ok = False
                    break
                x = np.asarray(h.getSolution().col_value)
                rows_c, rows_v = fractional_separators(model, x)
                if not rows_c:
                    break
                _add_rows(h, rows_c, rows_v)
            if not ok:
                break
            inc.from_lp(model, x)
        if ok and time.perf_counter() < deadline:
            open_ = np.round(x[yc])
            h.changeColsBounds(len(yc), yc.astype(np.int32), open_, open_)
            h.changeColsIntegrality(ncol, cols, model.integer.astype(np.uint8))
            _mip_rounds(model, h, inc, min(deadline, time.perf_counter() + mip_s), 1e-4, 10, -np.inf)
    finally:
        h.changeColsBounds(len(yc), yc.astype(np.int32), lo0, hi0)
        h.changeColsIntegrality(ncol, cols, model.integer.astype(np.uint8))


def solve(prob: Problem, *, time_limit: float = 60.0, mip_rel_gap: float = 1e-6,
          start: np.ndarray | None = None, threads: int | None = None, contiguity: str = "cuts",
          max_rounds: int = 30, root_cuts: bool = True, polish: bool = True, reduce: bool = True,
          mip: bool = True, dive: bool = True) -> dict:
    """Solve the MIP; ``start`` is a feasible (contiguous) assignment, centre index per unit.

    contiguity="flow": the compact flow model in one solve. contiguity="cuts" (default):
    the model without flows, in three steps.

    1. Root: the LP relaxation tightened with violated separator rows (:func:`root_bound`; off
       with ``root_cuts=False``); the heuristic grows a contiguous division from the centres the
       LP opens (``polish``), and an LP dive on the centres ends in a MIP with its centres fixed
       (``dive``, :func:`_dive`): usually within one percent of the optimum.
    2. Fixing (``reduce``): a pair (i, j) whose LP reduced cost exceeds incumbent − bound is in
       no better division; the pairs left (and reachable within the member bound) form a much
       smaller problem holding every division better than the incumbent.
    3. HiGHS solves that MIP from the incumbent; every integer point it meets that has a zone
       in pieces yields separator rows ``x_ij ≤ Σ_{v ∈ N(S)} x_vj`` (and its centres another
       polished division), and it is re-solved until its optimum is contiguous, the incumbent is
       proven within ``mip_rel_gap`` or time runs out; after ``max_rounds`` rounds it falls back
       to the flow model.

    Every round is a relaxation of its problem, so each bound is valid; after fixing the bound
    is min(incumbent at fixing, bound of the smaller problem). ``mip=False`` stops after step 1
    (the root bound and the polished division: what ``method="heuristic"`` reports).
    """
    if contiguity not in ("cuts", "flow"):
        raise ValueError(f"contiguity must be 'cuts' or 'flow', got {contiguity!r}")
    t0 = time.perf_counter()
    deadline = t0 + time_limit
    flows = contiguity == "flow"
    model = Model(prob, flows=flows)
    out = {"build_s": time.perf_counter() - t0, "rounds": 0, "cuts": 0, "contiguity": contiguity, "nodes": 0,
           "root_bound": -np.inf, "root_rounds": 0, "root_cuts": 0, "polished": 0, "fixed_pairs": 0,
           "status": "root", "infeasible": False}
    h = model.highs(time_limit=max(time_limit - out["build_s"], 0.1), mip_rel_gap=mip_rel_gap, threads=threads)
    if not flows:
        # the incumbent comes from polishing (root LP, every integer point met): HiGHS's sub-MIP
        # heuristics and restarts cost more than they find here (docs/benchmarks/zoning.md)
        for opt, val in (("mip_heuristic_run_rins", False), ("mip_heuristic_run_rens", False),
                         ("mip_allow_restart", False)):
            h.setOptionValue(opt, val)
    inc = _Incumbent(prob, polish)
    inc.offer(None if start is None else np.asarray(start, dtype=np.int64))

    def finish(bound: float, size) -> dict:
        out.update(centre_of=inc.best, objective=inc.obj,
                   lower_bound=min(bound, inc.obj) if inc.best is not None else bound,
                   optimal=inc.best is not None and relative_gap(inc.obj, bound) <= mip_rel_gap * 1.01 + 1e-12,
                   time_s=time.perf_counter() - t0, size=size, polished=inc.polished)
        return out

    bound = -np.inf
    if not flows and root_cuts:
        rb = root_bound(model, h, deadline, target=inc.obj)
        out.update(root_bound=rb["bound"], root_rounds=rb["rounds"], root_cuts=rb["cuts"],
                   root_s=time.perf_counter() - t0)
        bound = rb["bound"]
        if rb["infeasible"]:
            out.update(infeasible=inc.best is None, status="Infeasible")
            return finish(np.inf if inc.best is None else inc.obj, (h.getNumRow(), model.ncol, int(model.A.nnz)))
        if rb["x"] is not None:
            inc.from_lp(model, rb["x"])
        if not mip:
            return finish(bound, (h.getNumRow(), model.ncol, int(model.A.nnz)))
        if dive and rb["x"] is not None and relative_gap(inc.obj, bound) > mip_rel_gap:
            _dive(model, h, inc, rb["x"], deadline)
        if reduce and inc.best is not None and rb["reduced"] is not None and \
                relative_gap(inc.obj, bound) > mip_rel_gap and time.perf_counter() < deadline:
            slack = inc.obj - rb["lp_value"]
            nx = len(model.xi)  # only pairs free at 0 are fixed (a fixed centre's pair stays)
            keep = (rb["reduced"][:nx] <= slack * (1 + 1e-7) + 1e-9 * abs(inc.obj)) | (model.col_lo[:nx] > 0)
            mask = np.zeros_like(prob.allowed)
            mask[model.xi[keep], model.xj[keep]] = True
            reduced = reachable(prob, mask & prob.allowed)
            out["fixed_pairs"] = int(prob.allowed.sum() - reduced.sum())
            ub = inc.obj
            q = dataclasses.replace(prob, allowed=reduced)
            if np.diag(reduced).sum() < prob.p or explain.precheck(q):
                out["status"] = "fixed"  # no division better than the incumbent
                return finish(ub, (h.getNumRow(), model.ncol, int(model.A.nnz)))
            sub = solve(q, time_limit=deadline - time.perf_counter(), mip_rel_gap=mip_rel_gap, start=inc.best,
                        threads=threads, contiguity="cuts", max_rounds=max_rounds, root_cuts=True, polish=polish,
                        reduce=False, dive=False)
            inc.offer(sub["centre_of"])
            for k in ("rounds", "cuts", "nodes", "status"):
                out[k] = sub[k]
            out["polished"] += sub["polished"]
            if sub["contiguity"] != "cuts":
                out["contiguity"] = sub["contiguity"]
            sub_bound = ub if sub["infeasible"] else sub["lower_bound"]
            return finish(max(bound, min(ub, sub_bound)), sub["size"])
    if flows:
        # one solve; the start needs the flows too (Model.start_vector)
        h.setOptionValue("time_limit", float(max(deadline - time.perf_counter(), 0.05)))
        if inc.best is not None:
            sv = model.start_vector(inc.best)
            if sv is not None:
                h.setSolution(model.ncol, np.arange(model.ncol, dtype=np.int32), sv.astype(np.float64))
        h.run()
        res = model.read(h)
        inc.offer(res["centre_of"])
        out.update(rounds=1, nodes=res["nodes"], status=res["status"],
                   infeasible=res["infeasible"] and inc.best is None)
        return finish(max(bound, res["lower_bound"]), (h.getNumRow(), model.ncol, int(model.A.nnz)))
    mr = _mip_rounds(model, h, inc, deadline, mip_rel_gap, max_rounds, bound)
    out.update(rounds=mr["rounds"], cuts=mr["cuts"], nodes=mr["nodes"], status=mr["status"] or out["status"],
               infeasible=mr["infeasible"] and inc.best is None)
    if mr["gave_up"] and deadline - time.perf_counter() > 0.1:
        fb = solve(prob, time_limit=deadline - time.perf_counter(), mip_rel_gap=mip_rel_gap, start=inc.best,
                   threads=threads, contiguity="flow")
        inc.offer(fb["centre_of"])
        out.update(contiguity="cuts→flow", rounds=out["rounds"] + fb["rounds"], status=fb["status"],
                   nodes=out["nodes"] + fb["nodes"])
        return finish(max(mr["bound"], fb["lower_bound"]), fb["size"])
    return finish(mr["bound"], (h.getNumRow(), model.ncol, int(model.A.nnz)))
