"""The result every delineation method returns (one shape for all solvers, like spopt)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd

from pianqu.findings import Finding
from pianqu.workspace import storable
from pianqu.zoning.polygons import zone_layer
from pianqu.zoning.problem import Problem

if TYPE_CHECKING:
    from pianqu.workspace import Workspace

STATUSES = ("optimal", "feasible", "infeasible", "no_solution")


@dataclass
class ZoningResult:
    """A division of units into p zones around centres.

    assignment: unit code → code of its zone's centre ("" when no solution).
    centres: centre codes, one per zone.
    objective: Σ population × travel seconds to the centre (person-seconds), plus the opening
        cost of each centre when centres are chosen by strength too (``stats["open_cost"]``).
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

    options: pd.DataFrame | None = None  # one row per p tried, when p was chosen by the policy rule
    units: gpd.GeoDataFrame | None = field(default=None, repr=False)  # the units divided (polygons)
    travel_s: np.ndarray | None = field(default=None, repr=False)  # seconds, in the order of ``units``

    def attach(self, units: gpd.GeoDataFrame | pd.DataFrame | None,
               travel_s: np.ndarray | None = None) -> "ZoningResult":
        """Keep the units (and travel seconds between them) this division is of, for
        :meth:`to_frame`, :meth:`to_gdf` and :meth:`write`; returns the result itself."""
        self.units = units
        self.travel_s = travel_s
        return self

    def to_frame(self) -> pd.DataFrame:
        """One row per unit: unit code, zone number, centre code and whether the unit is the
        centre; with the units attached also ``population`` and ``time_to_centre_min``."""
        zone_no = {c: k + 1 for k, c in enumerate(self.centres)}
        out = pd.DataFrame({"code": self.assignment.index, "centre": self.assignment.to_numpy(),
                            "zone": self.assignment.map(zone_no).fillna(0).astype(int).to_numpy(),
                            "is_centre": self.assignment.index == self.assignment.to_numpy()})
        if self.units is not None:
            codes = self.units["code"].astype(str)
            if "population" in self.units.columns:
                out["population"] = out["code"].map(pd.Series(self.units["population"].to_numpy(), index=codes))
            if self.travel_s is not None and len(self.travel_s) == len(codes):
                pos = {c: i for i, c in enumerate(codes)}
                out["time_to_centre_min"] = [
                    self.travel_s[pos[a], pos[b]] / 60.0 if a in pos and b in pos else np.nan
                    for a, b in zip(out["code"], out["centre"])]
        return out

    def to_gdf(self, units: gpd.GeoDataFrame | None = None, names: pd.Series | None = None) -> gpd.GeoDataFrame:
        """One polygon per zone with its figures (the plan's ``zone`` layer,
        :func:`pianqu.zoning.polygons.zone_layer`); ``units`` default the attached ones."""
        units = self.units if units is None else units
        if units is None or "geometry" not in units:
            raise ValueError("to_gdf needs the units' polygons: pass units, or solve with "
                             "pianqu.zoning.instance.solve (which keeps them)")
        return zone_layer(units, self.assignment, self.zones, names)

    def members(self) -> pd.DataFrame:
        """The plan's ``zone_member`` table: ``township_code``, ``zone`` (centre code),
        ``is_centre``, ``time_to_centre_min``, ``population``."""
        f = self.to_frame()
        out = pd.DataFrame({"township_code": f["code"].astype(str).to_numpy(), "zone": f["centre"].astype(str).to_numpy()})
        out["is_centre"] = out["township_code"] == out["zone"]
        for col in ("time_to_centre_min", "population"):
            if col in f.columns:
                out[col] = f[col].to_numpy()
        return out

    def layers(self) -> dict[str, pd.DataFrame]:
        """What a scenario records of this division: ``zone``, ``zone_member`` and, when p was
        chosen by the policy rule, ``zone_count_options``."""
        out: dict[str, pd.DataFrame] = {"zone": self.to_gdf(), "zone_member": self.members()}
        if self.options is not None:
            out["zone_count_options"] = self.options
        return out

    def write(self, ws: "Workspace", scenario: str, *, command: str = "zones") -> None:
        """Write :meth:`layers` into ``scenario`` of ``ws`` (created when missing) in one write."""
        with ws.transaction(command=command):  # the scenario and its layers commit together
            if scenario not in set(ws.scenarios()["name"]):
                ws.create_scenario(scenario, title=scenario, description=f"pianqu {command}", command=command)
            ws.write({k: storable(v) for k, v in self.layers().items()}, command=command, scenario=scenario,
                     reason=f"p={self.p}, status {self.status}, gap {self.gap:.2e}")


def relative_gap(objective: float, bound: float) -> float:
    if not np.isfinite(objective) or not np.isfinite(bound):
        return float("inf")
    if objective <= 0:
        return 0.0 if bound >= objective - 1e-9 else float("inf")
    return max(0.0, objective - bound) / objective


def objective_of(prob: Problem, centre_of: np.ndarray) -> float:
    """Σ w_i T[i, centre(i)] (+ the opening cost of each centre, :attr:`Problem.open_cost`) of an
    assignment (centre index per unit)."""
    return prob.objective(centre_of)


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
    st["open_cost"] = float(prob.open_cost[np.unique(centre_of)].sum())
    st.update(stats or {})
    assignment = pd.Series(prob.codes[centre_of], index=pd.Index(prob.codes, name="code"), name="centre")
    return ZoningResult(assignment, centres, prob.p, obj, lower_bound, gap, bool(proven), status, method, time_s,
                        explanation, zone_table(prob, centre_of, standard_s), st)
