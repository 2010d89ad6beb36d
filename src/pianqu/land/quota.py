"""Allocation of the county's binding indicators to zones or townships (规划传导), a linear program.

Indicators (areas in m²): ``farmland`` (耕地保有量), ``pbf`` (永久基本农田保护面积), ``redline``
(生态保护红线面积), ``construction`` (建设用地总规模), ``urban_rural`` (城乡建设用地规模) and
``village`` (村庄建设用地规模, no net increase). Each unit gets x[u, i] with

- the county targets met exactly: Σ_u x[u, i] = T_i for every indicator given;
- what the unit actually has: farmland ≤ its cultivated land (plus any stated potential),
  pbf ≤ its cultivated land and ≤ its farmland quota, redline ≤ its ecological land (land of the
  ecological classes or inside the current red line), village ≤ its present village
  construction land (no net increase), village ≤ urban_rural ≤ construction, and
  farmland + redline + construction ≤ the unit's area;
- as close as possible to a baseline rule: minimise Σ_i Σ_u |x[u, i] − b[u, i]| / T_i, where the
  baseline b shares T_i in proportion to what each unit has today (or to its area, or a given
  table).

HiGHS (highspy) solves it. When it is infeasible an elastic version (each county sum may miss
its target; the relative misses are minimised) finds the least shortfall; the explanation names each indicator that
cannot be met, by how much, and the units whose own limits bind it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import geopandas as gpd
import highspy
import numpy as np
import pandas as pd
from scipy import sparse

from pianqu.findings import Finding
from pianqu.geo import ellipsoidal_area
from pianqu.land.common import (CONTROL_LINES, LandInputError, area_columns, deduction_share, epsg_for,
                                is_construction, is_farmland, polygons, recorded_area, require, settlement_kind)
from pianqu.land.overlay import clip_union, intersect
from pianqu.land.spaces import space_of_codes
from pianqu.highs import new_highs

INDICATORS = ("farmland", "pbf", "redline", "construction", "urban_rural", "village")
BASE_COLUMN = {"farmland": "farmland_m2", "pbf": "pbf_m2", "redline": "redline_m2",
               "construction": "construction_m2", "urban_rural": "urban_rural_m2", "village": "village_m2"}
CAP_COLUMN = {"farmland": "farmland_cap_m2", "pbf": "farmland_cap_m2", "redline": "redline_cap_m2",
              "village": "village_m2"}
INF = highspy.kHighsInf


def unit_capacities(landuse: gpd.GeoDataFrame, units: gpd.GeoDataFrame, *, unit: str = "unit",
                    lines: Mapping[str, gpd.GeoDataFrame | None] | None = None,
                    epsg: int | None = None) -> pd.DataFrame:
    """What each unit has today (m²): its area, cultivated land, PBF, red line, ecological land,
    construction land, urban–rural and village construction land; the capacities the LP uses.

    ``units``: polygons with a ``unit`` column (zones or townships). Areas are ellipsoidal, a
    parcel's pieces adding up to its TBMJ; cultivated land (耕地保有量's base) is counted by the 三调
    method, each piece × TBDLMJ/TBMJ (so the county total is ΣTBDLMJ of the 耕地 parcels; a parcel
    cut by a unit boundary shares its 田坎 in proportion). ``farmland_cap_m2`` is the
    cultivated land (add a planned supplement before allocating if there is one);
    ``redline_cap_m2`` the land of the ecological classes or already inside the red line. Line
    areas are counted within the land parcels.
    """
    epsg = epsg_for(epsg, landuse, units)
    require(landuse, "landuse", ["bsm", "code"])
    require(units, "unit", [unit])
    lu = polygons(landuse, "landuse", epsg, "bsm")
    un = polygons(units, "unit", epsg)
    labels = un[unit].astype(str).to_numpy()
    ov = intersect(lu.geometry.to_numpy(), un.geometry.to_numpy(), crs=epsg, left_area=recorded_area(lu))
    code = lu["code"].astype(str).to_numpy()[ov.left]
    dl = 1 - deduction_share(lu)[ov.left]  # 地类面积 share: 耕地 counts TBDLMJ, not TBMJ
    cz = settlement_kind(lu["czcsxm"] if "czcsxm" in lu.columns else [""] * len(lu)).to_numpy()[ov.left]
    con = is_construction(code)
    eco = space_of_codes(code) == "ecological"
    df = pd.DataFrame({"unit": labels[ov.right], "area": ov.area, "farm": ov.area * dl * is_farmland(code),
                       "con": ov.area * con, "ur": ov.area * (con & np.isin(cz, ["town", "village"])),
                       "vil": ov.area * (con & (cz == "village")), "eco": ov.area * eco})
    g = df.groupby("unit").sum()
    out = pd.DataFrame(index=pd.Index(labels, name=unit))
    out["area_m2"] = pd.Series(ellipsoidal_area(un.geometry.to_numpy(), epsg), index=labels)
    out["farmland_m2"] = g["farm"].reindex(out.index, fill_value=0.0)
    out["construction_m2"] = g["con"].reindex(out.index, fill_value=0.0)
    out["urban_rural_m2"] = g["ur"].reindex(out.index, fill_value=0.0)
    out["village_m2"] = g["vil"].reindex(out.index, fill_value=0.0)
    out["eco_land_m2"] = g["eco"].reindex(out.index, fill_value=0.0)
    unit_of = labels[ov.right]
    for name in CONTROL_LINES[:2]:
        frame = (lines or {}).get(name)
        col = "pbf_m2" if name == "farmland_pbf" else "redline_m2"
        out[col] = 0.0
        if frame is None or len(frame) == 0:
            continue
        # the line within each parcel piece (overlapping features counted once)
        _, a, _ = clip_union(ov.geometry, polygons(frame, name, epsg).geometry.to_numpy(), crs=epsg,
                             left_area=ov.area)
        out[col] = pd.Series(a, index=unit_of).groupby(level=0).sum().reindex(out.index, fill_value=0.0)
        if name == "eco_redline":  # red line over land that is not of an ecological class
            extra = pd.Series(a * ~eco, index=unit_of).groupby(level=0).sum()
            out["redline_cap_m2"] = out["eco_land_m2"] + extra.reindex(out.index, fill_value=0.0)
    out["farmland_cap_m2"] = out["farmland_m2"]
    if "redline_cap_m2" not in out.columns:
        out["redline_cap_m2"] = out["eco_land_m2"]
    return out


@dataclass
class QuotaResult:
    """``allocation``: unit × indicator (m²); ``baseline``: the baseline rule's shares;
    ``status``: optimal / infeasible; ``explanation``: findings naming indicators and units;
    ``shortfall``: per indicator, target − best achievable (elastic LP; 0 when feasible)."""

    status: str
    allocation: pd.DataFrame
    baseline: pd.DataFrame
    targets: dict[str, float]
    objective: float
    explanation: list[Finding] = field(default_factory=list)
    shortfall: dict[str, float] = field(default_factory=dict)

    @property
    def feasible(self) -> bool:
        return self.status == "optimal"

    def aggregate(self, mapping: Mapping[str, str] | pd.Series) -> pd.DataFrame:
        """The allocation summed to a coarser level (e.g. townships → zones with the zone_member map).

        Allocating at the finest level and summing keeps both levels exact and consistent.
        """
        m = pd.Series(mapping) if not isinstance(mapping, pd.Series) else mapping
        missing = sorted(set(self.allocation.index.astype(str)) - set(m.index.astype(str)))
        if missing:
            raise LandInputError("land.error.quota_no_parent", units=", ".join(missing[:5]))
        return self.allocation.groupby(m.reindex(self.allocation.index.astype(str)).to_numpy()).sum()

    def table(self) -> pd.DataFrame:
        """Allocation in ha next to the baseline and the present amount, for plan documents."""
        rows = []
        for ind in self.allocation.columns:
            for u in self.allocation.index:
                rows.append({"unit": u, "indicator": ind, "allocated_ha": self.allocation.at[u, ind] / 1e4,
                             "baseline_ha": self.baseline.at[u, ind] / 1e4})
        return pd.DataFrame(rows)


def _baseline(cap: pd.DataFrame, targets: Mapping[str, float], rule) -> pd.DataFrame:
    if isinstance(rule, pd.DataFrame):
        b = rule.reindex(index=cap.index, columns=list(targets)).astype(float)
        if b.isna().any().any():
            raise LandInputError("land.error.quota_baseline_incomplete")
        return b
    if rule not in ("proportional", "area"):
        raise LandInputError("land.error.quota_baseline_rule", value=rule)
    out = pd.DataFrame(index=cap.index)
    for ind, target in targets.items():
        w = cap[BASE_COLUMN[ind]] if rule == "proportional" and BASE_COLUMN[ind] in cap.columns else cap["area_m2"]
        w = w.astype(float)
        if w.sum() <= 0:
            w = cap["area_m2"].astype(float)
        out[ind] = target * w / w.sum()
    return out


def _bounds(cap: pd.DataFrame, ind: str) -> np.ndarray:
    col = CAP_COLUMN.get(ind)
    if col is None:
        return np.full(len(cap), INF)
    if col not in cap.columns:
        raise LandInputError("land.error.quota_no_capacity", column=col, indicator=ind)
    return cap[col].to_numpy(dtype=float)


class _Model:
    """The LP in matrix form: columns x[u,i] (n·k), d+[u,i], d-[u,i]; optional elastic s+/s- per indicator."""

    def __init__(self, cap: pd.DataFrame, targets: Mapping[str, float], base: pd.DataFrame, elastic: bool):
        self.inds = list(targets)
        n, k = len(cap), len(self.inds)
        self.n, self.k = n, k
        col = {ind: np.arange(n) + j * n for j, ind in enumerate(self.inds)}
        self.col = col
        nx = n * k
        ncols = 3 * nx + (2 * k if elastic else 0)
        lower = np.zeros(ncols)
        upper = np.full(ncols, INF)
        cost = np.zeros(ncols)
        for j, ind in enumerate(self.inds):
            upper[col[ind]] = _bounds(cap, ind)
            scale = 0.0 if elastic else 1.0 / max(abs(targets[ind]), 1.0)  # elastic: least shortfall only
            cost[nx + col[ind]] = scale
            cost[2 * nx + col[ind]] = scale
        rows, cols, vals, rlo, rhi, self.row_kind = [], [], [], [], [], []

        def add(entries, lo, hi, kind):
            r = len(rlo)
            for c, v in entries:
                rows.append(r)
                cols.append(c)
                vals.append(v)
            rlo.append(lo)
            rhi.append(hi)
            self.row_kind.append(kind)

        for j, ind in enumerate(self.inds):  # county sums, exact
            entries = [(c, 1.0) for c in col[ind]]
            if elastic:
                entries += [(3 * nx + 2 * j, 1.0), (3 * nx + 2 * j + 1, -1.0)]
            add(entries, float(targets[ind]), float(targets[ind]), ("sum", ind, None))
        for j, ind in enumerate(self.inds):  # deviations: x - d+ + d- = b
            for u in range(n):
                c = col[ind][u]
                b = float(base.iat[u, j])
                add([(c, 1.0), (nx + c, -1.0), (2 * nx + c, 1.0)], b, b, ("dev", ind, u))
        area = cap["area_m2"].to_numpy(dtype=float)
        for u in range(n):
            if "pbf" in col and "farmland" in col:
                add([(col["pbf"][u], 1.0), (col["farmland"][u], -1.0)], -INF, 0.0, ("pbf_le_farmland", "pbf", u))
            if "village" in col and "urban_rural" in col:
                add([(col["village"][u], 1.0), (col["urban_rural"][u], -1.0)], -INF, 0.0,
                    ("village_le_urban_rural", "village", u))
            if "urban_rural" in col and "construction" in col:
                add([(col["urban_rural"][u], 1.0), (col["construction"][u], -1.0)], -INF, 0.0,
                    ("urban_rural_le_construction", "urban_rural", u))
            land = [ind for ind in ("farmland", "redline", "construction") if ind in col]
            if "pbf" in col and "farmland" not in col:
                land.append("pbf")
            if land:
                add([(col[ind][u], 1.0) for ind in land], -INF, float(area[u]), ("land_budget", "+".join(land), u))
        if elastic:
            for j, ind in enumerate(self.inds):
                scale = 1.0 / max(abs(targets[ind]), 1.0)
                cost[3 * nx + 2 * j] = cost[3 * nx + 2 * j + 1] = scale
        self.A = sparse.csc_matrix((vals, (rows, cols)), shape=(len(rlo), ncols))
        self.cost, self.lower, self.upper = cost, lower, upper
        self.rlo, self.rhi = np.array(rlo), np.array(rhi)
        self.nx = nx

    def solve(self) -> tuple[str, np.ndarray | None, float, np.ndarray | None]:
        A = self.A
        A.sort_indices()

        h = new_highs()  # silent: no version banner on stdout
        h.passModel(A.shape[1], A.shape[0], int(A.nnz), 1, 1, 0.0, self.cost, self.lower, self.upper,
                    self.rlo, self.rhi, A.indptr[:-1].astype(np.int32), A.indices.astype(np.int32),
                    A.data.astype(np.float64), np.zeros(A.shape[1], dtype=np.int32))
        h.run()
        status = h.getModelStatus()
        if status != highspy.HighsModelStatus.kOptimal:
            return h.modelStatusToString(status), None, float("inf"), None
        sol = h.getSolution()
        return "optimal", np.asarray(sol.col_value), float(h.getInfo().objective_function_value), \
            np.asarray(sol.row_value)


def allocate_quotas(units: pd.DataFrame, targets: Mapping[str, float], *, baseline="proportional",
                    village_rule: str = "unit", tol: float = 1e-6) -> QuotaResult:
    """Allocate county ``targets`` (indicator → m²) to ``units`` (the table of :func:`unit_capacities`).

    ``baseline``: 'proportional' (to what each unit has today), 'area', or a unit × indicator
    table (m²). ``village_rule``: 'unit' (no unit's village construction land grows) or 'county'
    (only the county total may not grow: land moves between units, 增减挂钩). ``tol``: relative
    tolerance used when naming binding limits in explanations.
    """
    if village_rule not in ("unit", "county"):
        raise LandInputError("land.error.quota_village_rule", value=village_rule)
    unknown = sorted(set(targets) - set(INDICATORS))
    if unknown:
        raise LandInputError("land.error.quota_unknown_indicators", indicators=", ".join(map(str, unknown)),
                             known=", ".join(f"`{i}`" for i in INDICATORS))
    for ind, v in targets.items():
        if not np.isfinite(v) or v < 0:
            raise LandInputError("land.error.quota_bad_target", indicator=ind, value=v)
    require(units, "unit", ["area_m2"])
    targets = {ind: float(targets[ind]) for ind in INDICATORS if ind in targets}
    cap = units.copy()
    base = _baseline(cap, targets, baseline)
    if "village" in targets and "village_m2" in cap.columns:
        present = float(cap["village_m2"].sum())
        if targets["village"] > present * (1 + tol):  # no net increase, whatever the rule
            f = Finding("error", "land.quota.village_net_increase", "quota", "village", "village",
                        {"indicator": "village", "target_ha": targets["village"] / 1e4, "present_ha": present / 1e4})
            return QuotaResult("infeasible", pd.DataFrame(index=cap.index), base, targets, float("inf"), [f],
                               {"village": targets["village"] - present})
        if village_rule == "county":
            cap["village_m2"] = np.inf  # bounded by urban–rural and construction land only
    model = _Model(cap, targets, base, elastic=False)
    status, x, obj, _ = model.solve()
    n = len(cap)
    if status == "optimal":
        alloc = pd.DataFrame({ind: x[model.col[ind]] for ind in targets}, index=cap.index)
        return QuotaResult("optimal", alloc, base, targets, obj, [], {ind: 0.0 for ind in targets})
    el = _Model(cap, targets, base, elastic=True)
    st2, x2, _, rowv = el.solve()
    if st2 != "optimal":  # cannot happen with free slacks; keep a clear message if it does
        raise RuntimeError(f"quota: the elastic model did not solve ({st2})")
    nx = el.nx
    alloc = pd.DataFrame({ind: x2[el.col[ind]] for ind in targets}, index=cap.index)
    explanation, shortfall = [], {}
    for j, ind in enumerate(el.inds):
        plus, minus = x2[3 * nx + 2 * j], x2[3 * nx + 2 * j + 1]
        miss = plus - minus  # > 0: the units cannot reach the target; < 0: they cannot stay below it
        shortfall[ind] = float(miss)
        if abs(miss) <= tol * max(targets[ind], 1.0):
            continue
        achievable = targets[ind] - miss
        explanation.append(Finding("error", "land.quota.target_unreachable" if miss > 0 else "land.quota.target_too_low",
                                   "quota", ind, ind, {"indicator": ind, "target_ha": targets[ind] / 1e4,
                                                       "achievable_ha": float(achievable) / 1e4,
                                                       "gap_ha": float(abs(miss)) / 1e4}))
        explanation.extend(_binding_units(el, cap, ind, x2, rowv, tol, n, over=miss > 0))
    return QuotaResult("infeasible", alloc, base, targets, float("inf"), explanation, shortfall)


def _binding_units(m: _Model, cap: pd.DataFrame, ind: str, x: np.ndarray, rowv: np.ndarray, tol: float, n: int,
                   over: bool) -> list[Finding]:
    """Per unit, the limits that hold ``ind`` at the elastic optimum (capacity bounds, coupling rows)."""
    out = []
    cols = m.col[ind]
    ub = m.upper[cols]
    names = cap.index.astype(str)
    for u in range(n):
        v = x[cols[u]]
        if over and np.isfinite(ub[u]) and v >= ub[u] - tol * max(ub[u], 1.0):
            out.append(Finding("info", "land.quota.unit_at_capacity", "quota", names[u], ind,
                               {"unit": names[u], "indicator": ind, "capacity_ha": float(ub[u]) / 1e4,
                                "limit": CAP_COLUMN.get(ind, "")}))
        if not over and v <= tol * max(abs(v), 1.0):
            out.append(Finding("info", "land.quota.unit_at_zero", "quota", names[u], ind,
                               {"unit": names[u], "indicator": ind}))
    for r, (kind, what, u) in enumerate(m.row_kind):
        if u is None or kind in ("sum", "dev") or ind not in what.split("+") and what != ind:
            continue
        if np.isfinite(m.rhi[r]) and rowv[r] >= m.rhi[r] - tol * max(abs(m.rhi[r]), 1.0):
            out.append(Finding("info", f"land.quota.binding_{kind}", "quota", names[u], ind,
                               {"unit": names[u], "indicator": ind, "limit_ha": float(m.rhi[r]) / 1e4 if kind == "land_budget" else 0.0}))
    return out


def check_allocation(units: pd.DataFrame, alloc: pd.DataFrame, targets: Mapping[str, float],
                     tol: float = 1e-6) -> list[str]:
    """Independent check of an allocation against the LP's rules: list of violations (empty: valid)."""
    bad = []
    for ind, target in targets.items():
        s = alloc[ind].sum()
        if abs(s - target) > tol * max(target, 1.0):
            bad.append(f"sum of {ind} is {s} not {target}")
        if (alloc[ind] < -tol).any():
            bad.append(f"{ind} negative")
        col = CAP_COLUMN.get(ind)
        if col and (alloc[ind] > units[col] * (1 + tol) + tol).any():
            bad.append(f"{ind} above {col}")
    pairs = [("pbf", "farmland"), ("village", "urban_rural"), ("urban_rural", "construction")]
    for a, b in pairs:
        if a in alloc and b in alloc and (alloc[a] > alloc[b] + tol * alloc[b].abs().clip(lower=1)).any():
            bad.append(f"{a} above {b}")
    land = [ind for ind in ("farmland", "redline", "construction") if ind in alloc]
    if land and (alloc[land].sum(axis=1) > units["area_m2"] * (1 + tol)).any():
        bad.append("farmland + redline + construction above unit area")
    return bad


def area_table(alloc: pd.DataFrame) -> pd.DataFrame:
    """An allocation with ha and 亩 columns per indicator (plan-document units)."""
    out = pd.DataFrame(index=alloc.index)
    for ind in alloc.columns:
        cols = area_columns(alloc[ind].to_numpy())
        out[f"{ind}_ha"] = cols["area_ha"]
        out[f"{ind}_mu"] = cols["area_mu"]
    return out
