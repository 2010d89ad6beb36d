"""Thin helpers around highspy: silent solver objects, bulk column/row loading, MIP solves.

Every HiGHS object comes from :func:`pianqu.highs.new_highs` (no version banner on stdout).
"""

from __future__ import annotations

from dataclasses import dataclass

import highspy
import numpy as np
from scipy import sparse

from pianqu.highs import new_highs

INF = highspy.kHighsInf


def new_solver(time_limit: float, *, mip_rel_gap: float = 0.0, threads: int | None = None) -> highspy.Highs:
    """A silent HiGHS instance with a wall-clock limit (seconds) and an exact MIP gap target."""
    h = new_highs()
    h.setOptionValue("time_limit", float(max(time_limit, 1e-3)))
    h.setOptionValue("mip_rel_gap", float(mip_rel_gap))
    h.setOptionValue("mip_abs_gap", 0.0)
    if threads is not None:
        h.setOptionValue("threads", int(threads))
    return h


def add_columns(h: highspy.Highs, cost: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> None:
    """Append columns without matrix entries."""
    k = len(cost)
    empty_i = np.zeros(0, dtype=np.int32)
    h.addCols(
        k,
        np.asarray(cost, dtype=np.float64),
        np.asarray(lower, dtype=np.float64),
        np.asarray(upper, dtype=np.float64),
        0,
        np.zeros(k, dtype=np.int32),
        empty_i,
        np.zeros(0, dtype=np.float64),
    )


def add_rows_csr(
    h: highspy.Highs,
    lower: np.ndarray,
    upper: np.ndarray,
    starts: np.ndarray,
    indices: np.ndarray,
    values: np.ndarray,
) -> None:
    """Append rows given in CSR form (starts has one entry per row, no end sentinel)."""
    h.addRows(
        len(lower),
        np.asarray(lower, dtype=np.float64),
        np.asarray(upper, dtype=np.float64),
        len(indices),
        np.asarray(starts, dtype=np.int32),
        np.asarray(indices, dtype=np.int32),
        np.asarray(values, dtype=np.float64),
    )


@dataclass(frozen=True)
class MipOutcome:
    """What a MIP solve returned: solution (None if none found), values and bound."""

    x: np.ndarray | None
    objective: float
    dual_bound: float
    optimal: bool
    infeasible: bool
    nodes: int
    status: str
    row_dual: np.ndarray | None = None  # LP only (no integer column): the row duals


def solve_mip(
    c: np.ndarray,
    A: sparse.spmatrix,
    row_lower: np.ndarray,
    row_upper: np.ndarray,
    col_lower: np.ndarray,
    col_upper: np.ndarray,
    integer: np.ndarray,
    *,
    time_limit: float,
    offset: float = 0.0,
    start: np.ndarray | None = None,
    mip_rel_gap: float = 0.0,
) -> MipOutcome:
    """Minimise ``c @ x + offset`` s.t. row bounds on ``A x``, column bounds, integrality mask.

    The model is passed to HiGHS in one call (CSC).  ``start`` is an optional feasible
    point handed over as the first incumbent.
    """
    A = sparse.csc_matrix(A)
    A.sort_indices()
    n_col, n_row = A.shape[1], A.shape[0]
    h = new_solver(time_limit, mip_rel_gap=mip_rel_gap)
    integrality = np.where(np.asarray(integer, dtype=bool), 1, 0).astype(np.int32)
    h.passModel(
        n_col,
        n_row,
        int(A.nnz),
        1,  # column-wise matrix
        1,  # minimise
        float(offset),
        np.asarray(c, dtype=np.float64),
        np.asarray(col_lower, dtype=np.float64),
        np.asarray(col_upper, dtype=np.float64),
        np.asarray(row_lower, dtype=np.float64),
        np.asarray(row_upper, dtype=np.float64),
        A.indptr[:-1].astype(np.int32),
        A.indices.astype(np.int32),
        A.data.astype(np.float64),
        integrality,
    )
    if start is not None:
        h.setSolution(n_col, np.arange(n_col, dtype=np.int32), np.asarray(start, dtype=np.float64))
    h.run()
    status = h.getModelStatus()
    info = h.getInfo()
    name = h.modelStatusToString(status)
    infeasible = status == highspy.HighsModelStatus.kInfeasible
    has_sol = info.primal_solution_status == highspy.kSolutionStatusFeasible
    x = np.asarray(h.getSolution().col_value) if has_sol else None
    obj = float(info.objective_function_value) if has_sol else float("inf")
    integral = bool(np.any(integrality))
    bound = float(info.mip_dual_bound) if integral else obj
    optimal = status == highspy.HighsModelStatus.kOptimal
    if optimal and not integral:
        bound = obj
    return MipOutcome(
        x=x,
        objective=obj,
        dual_bound=bound if np.isfinite(bound) else -float("inf"),
        optimal=optimal,
        infeasible=infeasible,
        nodes=int(info.mip_node_count) if integral else 0,
        status=name,
        row_dual=np.asarray(h.getSolution().row_dual) if (optimal and not integral) else None,
    )
