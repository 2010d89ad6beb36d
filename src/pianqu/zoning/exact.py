"""Exact zoning: a MIP with flow-based contiguity, solved by HiGHS (highspy).

Variables: ``x[i, j]`` = 1 when unit i joins the zone centred at unit j (``x[j, j]`` opens
centre j), only for pairs that ``Problem.allowed`` keeps; ``g[j, u, v] ≥ 0`` flow on the
directed link u → v of the contiguity graph, one commodity per candidate centre j, restricted
to units that may join j (Shirabe 2009; Validi, Buchanan & Lykhovyd 2022, "SHIR").

    min   Σ w_i t_ij x_ij
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
``x_ij ≤ Σ_{v ∈ N(S)} x_vj`` for each zone piece S cut off from its centre j, re-solving until
the optimum is contiguous. Both are exact; on county instances the cut loop needs one or two
rounds and is 7–10× faster (docs/benchmarks/zoning.md).
"""

from __future__ import annotations

import time
from collections import deque

import highspy
import numpy as np
from scipy import sparse

from pianqu.zoning.problem import Problem

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
        cost = [w[xi] * T[xi, xj]]
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
        self.c = np.r_[cost[0], np.zeros(col - nx_)]
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
            "objective": float(info.objective_function_value) if has_sol else np.inf,
            "lower_bound": bound if np.isfinite(bound) else -np.inf,
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


_BANNER_DONE = False


def new_highs() -> highspy.Highs:
    """A silent HiGHS instance (the version banner of the first instance is swallowed)."""
    global _BANNER_DONE
    if not _BANNER_DONE:
        import os
        import sys
        _BANNER_DONE = True
        try:
            sys.stdout.flush()
            saved = os.dup(1)
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            try:
                h = highspy.Highs()
            finally:
                os.dup2(saved, 1)
                os.close(saved)
                os.close(devnull)
        except OSError:
            h = highspy.Highs()
    else:
        h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    return h


def solve(prob: Problem, *, time_limit: float = 60.0, mip_rel_gap: float = 1e-6,
          start: np.ndarray | None = None, threads: int | None = None, contiguity: str = "cuts",
          max_rounds: int = 30) -> dict:
    """Solve the MIP; ``start`` is a feasible (contiguous) assignment, centre index per unit.

    contiguity="flow": the compact flow model in one solve. contiguity="cuts" (default, several
    times faster on county instances): the model without flows, re-solved after adding
    separator cuts ``x_ij ≤ Σ_{v ∈ N(S)} x_vj`` for every zone piece S cut off from its centre,
    until the optimum is contiguous; after ``max_rounds`` it falls back to the flow model.
    The dual bound of any round is a valid bound for the full problem (each round is a
    relaxation of it).
    """
    if contiguity not in ("cuts", "flow"):
        raise ValueError(f"contiguity must be 'cuts' or 'flow', got {contiguity!r}")
    t0 = time.perf_counter()
    flows = contiguity == "flow"
    model = Model(prob, flows=flows)
    sv = model.start_vector(start) if start is not None else None
    out = {"build_s": time.perf_counter() - t0, "rounds": 0, "cuts": 0, "contiguity": contiguity}
    h = model.highs(time_limit=max(time_limit - out["build_s"], 0.1), mip_rel_gap=mip_rel_gap, threads=threads)
    nodes = 0
    while True:
        left = time_limit - (time.perf_counter() - t0)
        h.setOptionValue("time_limit", float(max(left, 0.05)))
        if sv is not None:
            h.setSolution(model.ncol, np.arange(model.ncol, dtype=np.int32), sv.astype(np.float64))
        h.run()
        res = model.read(h)
        nodes += res["nodes"]
        out["rounds"] += 1
        co = res["centre_of"]
        if co is None or flows:
            break
        rows_c, rows_v = model.separator_cuts(co)
        if not rows_c:
            break
        if out["rounds"] >= max_rounds or left <= 0.1:
            # give up on cuts: the last solution is not contiguous; keep only the bound
            res["centre_of"], res["objective"], res["optimal"] = None, np.inf, False
            if out["rounds"] >= max_rounds and left > 0.1:
                fb = solve(prob, time_limit=left, mip_rel_gap=mip_rel_gap, start=start, threads=threads,
                           contiguity="flow")
                fb["rounds"] += out["rounds"]
                fb["cuts"] = out["cuts"]
                fb["contiguity"] = "cuts→flow"
                fb["lower_bound"] = max(fb["lower_bound"], res["lower_bound"])
                return fb
            break
        starts = np.cumsum([0] + [len(c) for c in rows_c[:-1]]).astype(np.int32)
        h.addRows(len(rows_c), np.full(len(rows_c), -INF), np.zeros(len(rows_c)),
                  int(sum(len(c) for c in rows_c)), starts,
                  np.concatenate(rows_c).astype(np.int32), np.concatenate(rows_v).astype(np.float64))
        out["cuts"] += len(rows_c)
    res.update(out)
    res["nodes"] = nodes
    res["time_s"] = time.perf_counter() - t0
    res["size"] = (model.nrow + out["cuts"], model.ncol, int(model.A.nnz))
    return res
