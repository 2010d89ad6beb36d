"""The result every delineation method returns (one shape for all solvers, like spopt)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from pianqu.findings import Finding
from pianqu.zoning.problem import Problem

STATUSES = ("optimal", "feasible", "infeasible", "no_solution")


@dataclass
class ZoningResult:
    """A division of units into p zones around centres.

    assignment: unit code → code of its zone's centre ("" when no solution).
    centres: centre codes, one per zone.
    objective: Σ population × travel seconds to the centre (person-seconds).
    lower_bound: proven lower bound on the optimal objective (MIP dual bound, or a
        Lagrangian bound for the heuristic); gap = (objective − lower_bound) / objective.
    status: ``optimal`` (proven within ``zoning.mip_rel_gap``), ``feasible`` (a valid division,
        optimality not proven: see gap), ``infeasible`` (proven: see explanation),
        ``no_solution`` (time ran out before any valid division was found).
    explanation: findings saying which bound or lock makes the instance infeasible, plus
        notes (islands attached, groups not contiguous ...).
    zones: per zone: centre, members, population, mean/max travel time, share within the
        centre-time standard.
    """

    assignment: pd.Series
    centres: list[str]
    p: int
    objective: float
    lower_bound: float
    gap: float
    proven_optimal: bool
    status: str
    method: str
    time_s: float
    explanation: list[Finding] = field(default_factory=list)
    zones: pd.DataFrame = field(default_factory=pd.DataFrame)
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def feasible(self) -> bool:
        return self.status in ("optimal", "feasible")

    @property
    def mean_time_s(self) -> float:
        """Population-weighted mean travel time to the centre (s)."""
        return self.stats.get("mean_time_s", float("nan"))

    def to_frame(self) -> pd.DataFrame:
        """unit code, zone number, centre code and whether the unit is the centre."""
        zone_no = {c: k + 1 for k, c in enumerate(self.centres)}
        return pd.DataFrame({"code": self.assignment.index, "centre": self.assignment.to_numpy(),
                             "zone": self.assignment.map(zone_no).fillna(0).astype(int).to_numpy(),
                             "is_centre": self.assignment.index == self.assignment.to_numpy()})


def relative_gap(objective: float, bound: float) -> float:
    if not np.isfinite(objective) or not np.isfinite(bound):
        return float("inf")
    if objective <= 0:
        return 0.0 if bound >= objective - 1e-9 else float("inf")
    return max(0.0, objective - bound) / objective


def objective_of(prob: Problem, centre_of: np.ndarray) -> float:
    """Σ w_i T[i, centre(i)] of an assignment (centre index per unit)."""
    t = prob.T[np.arange(prob.n), centre_of]
    return float(np.sum(prob.pop * np.where(prob.pop > 0, t, 0.0)))


def zone_table(prob: Problem, centre_of: np.ndarray, standard_s: float) -> pd.DataFrame:
    """Per-zone figures of an assignment given as a centre index per unit (zones in order of
    first appearance)."""
    t = prob.T[np.arange(prob.n), centre_of]
    w = prob.pop
    centres = pd.unique(centre_of)
    k = np.searchsorted(centres, centre_of, sorter=np.argsort(centres))
    k = np.argsort(centres)[k]  # zone index per unit
    p = len(centres)
    members = np.bincount(k, minlength=p)
    pop = np.bincount(k, weights=w, minlength=p)
    wt = np.bincount(k, weights=w * t, minlength=p)
    mean_t = np.where(pop > 0, wt / np.maximum(pop, 1e-300), np.bincount(k, weights=t, minlength=p) / members)
    max_t = np.full(p, -np.inf)
    np.maximum.at(max_t, k, t)
    within = np.bincount(k, weights=(t <= standard_s) * w, minlength=p)
    units = [[] for _ in range(p)]
    for code, z in zip(prob.codes, k):
        units[z].append(code)
    return pd.DataFrame({
        "zone": np.arange(1, p + 1), "centre": prob.codes[centres], "members": members, "population": pop,
        "mean_time_min": mean_t / 60.0, "max_time_min": max_t / 60.0,
        "within_share": within / np.maximum(pop, 1e-12), "units": [",".join(u) for u in units],
    })


def summary_stats(prob: Problem, centre_of: np.ndarray, standard_s: float) -> dict[str, float]:
    t = prob.T[np.arange(prob.n), centre_of]
    w = prob.pop
    tot = max(w.sum(), 1e-12)
    zpop = pd.Series(w).groupby(centre_of).sum()
    return {
        "mean_time_s": float(np.sum(w * t) / tot),
        "max_time_s": float(t.max()),
        "within_share": float(np.sum(w * (t <= standard_s)) / tot),
        "pop_cv": float(zpop.std(ddof=0) / zpop.mean()) if len(zpop) and zpop.mean() > 0 else 0.0,
    }


def build_result(prob: Problem, centre_of: np.ndarray | None, *, lower_bound: float, status: str, method: str,
                 time_s: float, standard_s: float, explanation: list[Finding] | None = None,
                 proven: bool | None = None, stats: dict[str, Any] | None = None) -> ZoningResult:
    """Assemble a :class:`ZoningResult` from a centre index per unit (or None)."""
    explanation = list(prob.input_findings) + list(explanation or [])
    if centre_of is None:
        assignment = pd.Series("", index=pd.Index(prob.codes, name="code"), name="centre")
        return ZoningResult(assignment, [], prob.p, float("inf"), lower_bound, float("inf"), False, status,
                            method, time_s, explanation, pd.DataFrame(), dict(stats or {}))
    obj = objective_of(prob, centre_of)
    centres = [prob.codes[c] for c in pd.unique(centre_of)]
    gap = relative_gap(obj, lower_bound)
    if proven is None:
        proven = status == "optimal"
    st = summary_stats(prob, centre_of, standard_s)
    st.update(stats or {})
    assignment = pd.Series(prob.codes[centre_of], index=pd.Index(prob.codes, name="code"), name="centre")
    return ZoningResult(assignment, centres, prob.p, obj, lower_bound, gap, bool(proven), status, method, time_s,
                        explanation, zone_table(prob, centre_of, standard_s), st)
