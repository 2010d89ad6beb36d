"""School districts (学区): assign villages to schools by travel time and capacity, check a
county's districts against its zones, and propose a district plan that satisfies the rule.

The policy (seed §二(五)): "依托片区划分学区，县域内学区数不超过片区数" — districts are drawn
on zones, and a county has no more districts than zones. Read with domain.md §5 F14: each
district lies within one zone.

- :func:`assign_schools`: capacitated assignment of villages (pupils) to schools minimising
  pupil × travel time (the location engine's capacitated p-median with every school open; a
  virtual "no place" school absorbs pupils when capacity runs out, at
  ``services.school_unassigned_min`` per pupil);
- :func:`check_districts`: the district count against the zone count and districts that cross
  zones (by membership); :func:`check_district_geometry` for districts drawn as polygons;
- :func:`propose_districts`: one district per zone (the most the rule allows, each inside its
  zone), villages assigned to schools of their own zone at least pupil-time, with the extra
  time the rule costs against the unconstrained assignment.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Mapping

import geopandas as gpd
import numpy as np
import pandas as pd
from scipy import sparse

from pianqu.config import Config
from pianqu.findings import Finding
from pianqu.geo import compute_epsg
from pianqu.services.common import ServicesInputError, config_of
from pianqu.services.location.highs_model import solve_mip

SCHOOL_KINDS = ("primary_school", "regional_school")


def pupils(population, kind: str = "primary_school", config: Config | None = None) -> np.ndarray:
    """School-age pupils of a population for a school kind (``services.pupil_share``)."""
    cfg = config_of(config)
    share = dict(cfg["services.pupil_share"])
    if kind not in share:
        raise ServicesInputError(f"services.pupil_share has no entry for '{kind}'; known: {', '.join(share)}")
    return np.asarray(population, dtype=float) * float(share[kind])


def school_capacity(schools: pd.DataFrame, level: str = "primary_school", config: Config | None = None) -> np.ndarray:
    """Places for ``level`` pupils per school: a school of that kind counts fully, a regional
    (九年制) school by the share of its grades that are ``level`` (from ``services.pupil_share``),
    any other kind not at all. A school without a capacity gets none (fill it in to count)."""
    cfg = config_of(config)
    share = dict(cfg["services.pupil_share"])
    cap = pd.to_numeric(schools["capacity"], errors="coerce").fillna(0.0).to_numpy(float) \
        if "capacity" in schools.columns else np.zeros(len(schools))
    kinds = schools["kind"].astype(str).to_numpy()
    nine_year = level in ("primary_school", "middle_school") and "regional_school" in share
    part = np.array([1.0 if k == level else
                     float(share[level]) / float(share["regional_school"]) if (k == "regional_school" and nine_year)
                     else 0.0 for k in kinds])
    return cap * part


@dataclass
class Assignment:
    """school: per village the school position (−1: no place); time_s: its travel time;
    unassigned: pupils without a place per village; load: pupils per school; objective:
    Σ pupils × seconds of the assigned (the no-place penalty excluded); gap: against
    ``lower_bound`` (a proven bound on the total, penalty included: the LP's, or for single
    source the best of LP, Lagrangian and MIP bounds); share: (villages, schools) fraction of
    each village's pupils per school; info: how it was solved."""

    school: np.ndarray
    time_s: np.ndarray
    pupils: np.ndarray
    unassigned: np.ndarray
    load: np.ndarray
    objective: float
    proven_optimal: bool
    gap: float
    share: np.ndarray | None = None
    lower_bound: float = float("nan")
    info: dict = field(default_factory=dict)

    @property
    def mean_time_s(self) -> float:
        """Mean travel time of the pupils placed."""
        served = self.pupils - self.unassigned
        return self.objective / max(float(served.sum()), 1e-12)


def _gap_model(q: np.ndarray, C: np.ndarray, ok: np.ndarray, cap: np.ndarray, penalty: float, integer: bool,
               time_limit: float, start: np.ndarray | None = None):
    """min Σ q_i c_ij x_ij + penalty Σ q_i u_i  s.t.  Σ_j x_ij + u_i = 1,  Σ_i q_i x_ij ≤ cap_j."""
    n, m = C.shape
    ii, jj = np.nonzero(ok)
    nx = len(ii)
    cost = np.r_[q[ii] * C[ii, jj], q * penalty]
    rows = np.r_[ii, n + jj, np.arange(n)]
    cols = np.r_[np.arange(nx), np.arange(nx), nx + np.arange(n)]
    vals = np.r_[np.ones(nx), q[ii], np.ones(n)]
    A = sparse.csc_matrix((vals, (rows, cols)), shape=(n + m, nx + n))
    x0 = None if start is None else np.r_[start[ii, jj], 1.0 - start.sum(axis=1)]
    out = solve_mip(cost, A, np.r_[np.ones(n), np.full(m, -np.inf)], np.r_[np.ones(n), cap],
                    np.zeros(nx + n), np.ones(nx + n), np.full(nx + n, integer), time_limit=time_limit, start=x0)
    if out.x is None:
        raise RuntimeError(f"school assignment: no solution within {time_limit:g} s ({out.status})")
    X = np.zeros((n, m))
    X[ii, jj] = out.x[:nx]
    return X, out


def _total(q: np.ndarray, C: np.ndarray, X: np.ndarray, penalty: float) -> float:
    return float(np.sum(q[:, None] * np.where(X > 0, C, 0.0) * X) + penalty * np.sum(q * (1.0 - X.sum(axis=1))))


def assign_schools(pupils_per_village, cost, capacity, *, allowed: np.ndarray | None = None,
                   single_source: bool = False, improve_s: float = 10.0, config: Config | None = None,
                   time_limit: float = 30.0) -> Assignment:
    """Assign each village's pupils to schools within capacity, minimising Σ pupils × travel seconds.

    cost: (villages, schools) seconds (inf: no road); capacity: (schools,) places;
    allowed: optional bool mask of permitted pairs (e.g. same zone). Pupils who fit nowhere
    permitted are left without a place (``unassigned``, charged ``services.school_unassigned_min``)
    rather than sent where not allowed.

    Solved as a transportation LP: exact, a fraction of a second for a county; a few villages
    may be split between two schools (a 村 is several 组; at most one split per school in a
    basic solution). With ``single_source`` (one school per village: a generalised assignment
    problem) see :func:`single_source_assignment`: every set of villages and schools linked
    by permitted pairs (a zone, under a same-zone mask) is solved on its own by the location
    engine's relaxation with every school open, then HiGHS from that solution, within
    ``improve_s`` seconds in all; ``gap`` is certified by the best of the LP, Lagrangian and
    MIP bounds (``lower_bound``).
    """
    cfg = config_of(config)
    q = np.asarray(pupils_per_village, dtype=float).ravel()
    C = np.asarray(cost, dtype=float)
    cap = np.asarray(capacity, dtype=float).ravel()
    n, m = C.shape
    if len(q) != n or len(cap) != m:
        raise ServicesInputError(f"pupils ({len(q)}) and capacities ({len(cap)}) do not match the {n}×{m} cost matrix")
    if np.isnan(C).any() or (C < 0).any() or np.isnan(cap).any() or (cap < 0).any() or np.isnan(q).any() or (q < 0).any():
        raise ServicesInputError("school assignment: costs, capacities and pupils must be numbers ≥ 0")
    penalty = float(cfg["services.school_unassigned_min"]) * 60.0
    ok = np.isfinite(C) & (C < penalty)
    if allowed is not None:
        allowed = np.asarray(allowed, dtype=bool)
        if allowed.shape != C.shape:
            raise ServicesInputError(f"allowed mask {allowed.shape} does not match the {n}×{m} cost matrix")
        ok &= allowed
    if n == 0:
        return Assignment(np.zeros(0, int), np.zeros(0), q, q, np.zeros(m), 0.0, True, 0.0, np.zeros((0, m)), 0.0)
    if single_source:
        X, bound, info = single_source_assignment(q, C, ok, cap, penalty, time_limit=improve_s)
    else:
        X, lp = _gap_model(q, C, ok, cap, penalty, False, time_limit)
        bound, info = lp.objective, {"method": "transportation LP"}
    eps = 1e-7
    share = X
    assigned = share.sum(axis=1) > eps
    school = np.where(assigned, np.argmax(share, axis=1), -1)
    frac = np.clip(share.sum(axis=1), 0.0, 1.0)
    unassigned = q * (1.0 - frac)
    t = np.where(school >= 0, C[np.arange(n), np.maximum(school, 0)], np.inf)
    load = share.T @ q
    obj = float(np.sum(q[:, None] * np.where(share > 0, C, 0.0) * share))
    total = _total(q, C, share, penalty)
    bound = min(bound, total)
    gap = max(0.0, total - bound) / max(total, 1e-12)
    return Assignment(school, t, q, unassigned, load, obj, gap <= 1e-9, gap, share, bound, info)


def _components(ok: np.ndarray) -> tuple[int, np.ndarray, np.ndarray]:
    """Connected sets of villages and schools linked by permitted pairs (independent problems:
    the 'no place' option has no capacity): (count, label per village, label per school)."""
    from scipy.sparse.csgraph import connected_components

    n, m = ok.shape
    g = sparse.bmat([[None, sparse.csr_matrix(ok)], [sparse.csr_matrix(ok.T), None]], format="csr")
    k, lab = connected_components(g, directed=False)
    return k, lab[:n], lab[n:]


def single_source_assignment(q: np.ndarray, C: np.ndarray, ok: np.ndarray, cap: np.ndarray, penalty: float, *,
                             time_limit: float = 10.0, lagrangian_share: float = 0.25) -> tuple[np.ndarray, float, dict]:
    """One school per village (or none, at ``penalty`` seconds per pupil), within capacity, at
    least Σ pupils × seconds over the permitted pairs ``ok``.

    Each connected set of permitted pairs is solved on its own (sets with fewer pairs first;
    time left over passes on): the capacitated p-median engine with every school open and a
    'no place' column of unlimited capacity (:func:`generalized_assignment`: transportation LP,
    Lagrangian bound with one exact knapsack per school, knapsack-based solutions, shift/swap
    moves) for ``lagrangian_share`` of the set's time, then the full MIP of the set from that
    solution (HiGHS) until proven optimal or the time is up. Returns (X (villages, schools) 0/1,
    lower bound on the total with the penalty, info)."""
    from pianqu.services.location.cap_lagrangian import generalized_assignment

    t0 = time.perf_counter()
    n, m = C.shape
    X = np.zeros((n, m))
    k, vlab, slab = _components(ok)
    pairs = np.bincount(vlab[np.nonzero(ok)[0]], minlength=k)  # permitted pairs per component
    todo = sorted((int(pairs[c]), int(c)) for c in np.flatnonzero(pairs))
    bound = float(penalty * q[~ok.any(axis=1)].sum())  # villages with no permitted school
    weight_left = float(sum(w for w, _ in todo))
    info = {"method": "lagrangian+mip", "components": len(todo), "proven_components": 0, "lp_bound": 0.0,
            "lagrangian_bound": 0.0, "mip_bound": 0.0}
    for w, c in todo:
        iv, js = np.flatnonzero(vlab == c), np.flatnonzero(slab == c)
        budget = max(time_limit - (time.perf_counter() - t0), 0.05) * w / max(weight_left, 1.0)
        weight_left -= w
        t1 = time.perf_counter()
        qc, Cc, okc = q[iv], C[np.ix_(iv, js)], ok[np.ix_(iv, js)]
        # the engine's form: cost per village and school, a 'no place' column that takes everyone;
        # a forbidden pair costs more than 'no place', so no solution improved by shifts keeps it
        W = np.c_[np.where(okc, qc[:, None] * np.where(okc, Cc, 0.0), qc[:, None] * 2.0 * penalty), qc * penalty]
        capc = np.r_[cap[js], qc.sum() + 1.0]
        heur = generalized_assignment(W, qc, capc, time_limit=lagrangian_share * budget)
        a = heur.assignment
        lb = heur.lower_bound
        info["lp_bound"] += heur.info["lp_bound"]
        info["lagrangian_bound"] += heur.lower_bound
        Xc = np.zeros((len(iv), len(js)))
        inside = (a < len(js))
        Xc[np.flatnonzero(inside), a[inside]] = 1.0
        Xc[~okc] = 0.0
        best = _total(qc, Cc, Xc, penalty)
        if best - lb > 1e-9 * max(best, 1.0):
            rest = budget - (time.perf_counter() - t1)
            if rest > 0.05:
                Xm, mip = _gap_model(qc, Cc, okc, capc[:-1], penalty, True, rest, start=Xc)
                lb = max(lb, mip.dual_bound)
                info["mip_bound"] += mip.dual_bound
                if mip.x is not None:
                    Xm = np.where(Xm > 0.5, 1.0, 0.0)
                    tm = _total(qc, Cc, Xm, penalty)
                    if tm < best:
                        Xc, best = Xm, tm
        if best - lb <= 1e-9 * max(best, 1.0):
            info["proven_components"] += 1
        X[np.ix_(iv, js)] = Xc
        bound += min(lb, best)
    info["time_s"] = time.perf_counter() - t0
    return X, bound, info


@dataclass
class DistrictCheck:
    """n_districts, n_zones, count_ok (n_districts ≤ n_zones); districts: per district the
    villages, pupils, zones it touches, its main zone and the pupils outside it; findings."""

    n_districts: int
    n_zones: int
    count_ok: bool
    districts: pd.DataFrame
    findings: list[Finding] = field(default_factory=list)

    @property
    def crossing(self) -> list[str]:
        return self.districts.loc[self.districts["n_zones"] > 1, "district"].tolist()

    @property
    def ok(self) -> bool:
        return self.count_ok and not self.crossing


def check_districts(district_of_village: Mapping[str, str] | pd.Series, village_zone: Mapping[str, str] | pd.Series,
                    *, n_zones: int | None = None, weights: Mapping[str, float] | pd.Series | None = None,
                    county: str = "") -> DistrictCheck:
    """The district rule by membership: ``count(districts) ≤ count(zones)`` and each district's
    villages in one zone. Villages without a district are ignored (a finding lists them).

    district_of_village: village code → district id; village_zone: village code → zone id;
    n_zones: the county's zone count (default: distinct zones of ``village_zone``);
    weights: pupils (or population) per village for the "outside" figures (1 each by default).
    """
    d = pd.Series(dict(district_of_village) if not isinstance(district_of_village, pd.Series) else district_of_village,
                  dtype=object).astype(str)
    z = pd.Series(dict(village_zone) if not isinstance(village_zone, pd.Series) else village_zone,
                  dtype=object).astype(str)
    d = d[(d != "") & (d.str.lower() != "nan")]
    findings: list[Finding] = []
    missing = sorted(set(d.index) - set(z.index))
    if missing:
        raise ServicesInputError(f"school districts: villages {missing[:5]} have a district but no zone; "
                                 "give every village's township a zone")
    nozone = sorted(set(z.index) - set(d.index))
    if nozone:
        findings.append(Finding("info", "services.school.village_without_district", "village",
                                ",".join(nozone[:20]), "district", {"n": len(nozone)}))
    w = pd.Series(1.0, index=d.index) if weights is None else pd.Series(dict(weights) if not isinstance(
        weights, pd.Series) else weights, dtype=float).reindex(d.index).fillna(0.0)
    df = pd.DataFrame({"village": d.index, "district": d.to_numpy(), "zone": z.reindex(d.index).to_numpy(),
                       "w": w.to_numpy()})
    rows = []
    for dist, g in df.groupby("district", sort=True):
        per_zone = g.groupby("zone")["w"].sum().sort_values(ascending=False, kind="stable")
        main = per_zone.index[0]
        rows.append({"district": dist, "villages": len(g), "weight": float(g["w"].sum()),
                     "n_zones": int(len(per_zone)), "zones": ",".join(map(str, sorted(per_zone.index))),
                     "main_zone": main, "weight_outside": float(per_zone.iloc[1:].sum()),
                     "villages_outside": int((g["zone"] != main).sum())})
    table = pd.DataFrame(rows, columns=["district", "villages", "weight", "n_zones", "zones", "main_zone",
                                        "weight_outside", "villages_outside"])
    nz = int(z.nunique()) if n_zones is None else int(n_zones)
    nd = len(table)
    count_ok = nd <= nz
    if not count_ok:
        findings.append(Finding("error", "services.school.too_many_districts", "school_district", county, "district",
                                {"districts": nd, "zones": nz}))
    for r in table[table["n_zones"] > 1].itertuples(index=False):
        findings.append(Finding("error", "services.school.district_crosses_zones", "school_district", r.district,
                                "district", {"zones": r.zones, "main": r.main_zone, "n": r.villages_outside}))
    return DistrictCheck(nd, nz, count_ok, table, findings)


def check_district_geometry(districts: gpd.GeoDataFrame, zones: gpd.GeoDataFrame, *, district_id: str = "district",
                            zone_id: str = "zone", config: Config | None = None) -> pd.DataFrame:
    """Districts drawn as polygons against zone polygons: for each district the zone holding
    most of it, the share of its area outside that zone, and whether that share exceeds
    ``services.district_outside_share_max``."""
    cfg = config_of(config)
    tol = float(cfg["services.district_outside_share_max"])
    for frame, col, name in ((districts, district_id, "school district"), (zones, zone_id, "zone")):
        if col not in frame.columns:
            raise ServicesInputError(f"{name} layer: field '{col}' is missing")
    epsg = compute_epsg(zones)
    dg, zg = districts.to_crs(epsg), zones.to_crs(epsg)
    rows = []
    for did, geom in zip(dg[district_id].astype(str), dg.geometry):
        area = geom.area
        inter = zg.geometry.intersection(geom).area.to_numpy()
        k = int(np.argmax(inter)) if len(inter) else -1
        share_out = 1.0 - (inter[k] / area if k >= 0 and area > 0 else 0.0)
        rows.append({"district": did, "main_zone": str(zg[zone_id].iloc[k]) if k >= 0 else "",
                     "area_m2": area, "share_outside": share_out, "crosses": share_out > tol})
    return pd.DataFrame(rows)


def districts_by_township(schools: pd.DataFrame) -> pd.Series:
    """The pre-reform practice as a baseline: each township with a school is one district
    (school id → township code)."""
    return pd.Series(schools["township_code"].astype(str).to_numpy(), index=schools["id"].astype(str).to_numpy())


@dataclass
class DistrictPlan:
    """district: per village the proposed district (its zone, '' when no school of the zone can
    take its pupils); assignment (within zones) and free (unconstrained) assignments; cost of
    the rule = the extra mean travel time (minutes per pupil placed) of the plan against the
    unconstrained assignment; zones_without_school; check of the plan against the rule; table:
    per zone pupils, pupils without a place in their zone, schools, places, mean times, the
    villages split between schools (only in the split mode); split_villages: codes of the
    villages the plan splits (empty with single source)."""

    district: pd.Series
    school: pd.Series
    assignment: Assignment
    free: Assignment
    extra_mean_min: float
    zones_without_school: list[str]
    check: DistrictCheck
    table: pd.DataFrame
    split_villages: list[str] = field(default_factory=list)


def _pupil_seconds(q: np.ndarray, C: np.ndarray, share: np.ndarray) -> np.ndarray:
    return np.sum(q[:, None] * np.where(share > 0, C, 0.0) * share, axis=1)


def propose_districts(villages: pd.DataFrame, schools: pd.DataFrame, cost, *, level: str = "primary_school",
                      single_source: bool | None = None, config: Config | None = None,
                      time_limit: float = 30.0) -> DistrictPlan:
    """One district per zone with each village assigned to a school of its own zone at least
    pupil × travel time, within capacity.

    villages: ``code``, ``zone``, ``population`` (pupils from ``services.pupil_share``);
    schools: ``id``, ``kind``, ``zone``, ``capacity`` (the order of ``cost``'s columns);
    cost: (villages, schools) seconds. Pupils of a zone whose schools are full or absent are
    left without a place (the plan's table says how many: build or extend a school there).
    single_source: one school per village (default ``services.school_single_source``); else the
    transportation LP, which may split a few villages (listed in the table's ``split_villages``).
    time_limit: seconds for the two assignments (within zones, then free), half each.
    """
    cfg = config_of(config)
    for col in ("code", "zone", "population"):
        if col not in villages.columns:
            raise ServicesInputError(f"layer 'village': field '{col}' is missing for school districts")
    if single_source is None:
        single_source = bool(cfg["services.school_single_source"])
    vz = villages["zone"].astype(str).to_numpy()
    sz = schools["zone"].astype(str).to_numpy()
    q = pupils(villages["population"].to_numpy(float), level, cfg)
    cap = school_capacity(schools, level, cfg)
    C = np.asarray(cost, dtype=float)
    allowed = vz[:, None] == sz[None, :]
    half = max(time_limit / 2.0, 0.1)
    inside = assign_schools(q, C, cap, allowed=allowed, single_source=single_source, improve_s=half, config=cfg,
                            time_limit=half)
    free = assign_schools(q, C, cap, single_source=single_source, improve_s=half, config=cfg, time_limit=half)
    codes = villages["code"].astype(str).to_numpy()
    ids = schools["id"].astype(str).to_numpy()
    district = pd.Series(np.where(inside.school >= 0, vz, ""), index=codes, name="district")
    school = pd.Series(np.where(inside.school >= 0, ids[np.maximum(inside.school, 0)], ""), index=codes, name="school")
    extra = (inside.mean_time_s - free.mean_time_s) / 60.0
    no_school = sorted(set(vz) - set(sz[cap > 0]))
    check = check_districts(district, pd.Series(vz, index=codes), n_zones=len(set(vz)), weights=pd.Series(q, index=codes))
    is_split = (inside.share > 1e-7).sum(axis=1) > 1
    t = pd.DataFrame({"zone": vz, "pupils": q, "unassigned": inside.unassigned, "unassigned_free": free.unassigned,
                      "pupil_s": _pupil_seconds(q, C, inside.share), "pupil_s_free": _pupil_seconds(q, C, free.share),
                      "split": np.where(is_split, codes, None)})
    g = t.groupby("zone", sort=True)
    zones = sorted(set(vz))
    table = pd.DataFrame({"pupils": g["pupils"].sum(), "pupils_without_place": g["unassigned"].sum(),
                          "schools": pd.Series(sz).value_counts().reindex(zones).fillna(0).astype(int).to_numpy(),
                          "capacity": pd.Series(cap, index=sz).groupby(level=0).sum().reindex(zones).fillna(0).to_numpy(),
                          "mean_time_min": (g["pupil_s"].sum() / (g["pupils"].sum() - g["unassigned"].sum()).clip(lower=1e-12)) / 60.0,
                          "mean_time_min_free": (g["pupil_s_free"].sum() / (g["pupils"].sum() - g["unassigned_free"].sum()
                                                                            ).clip(lower=1e-12)) / 60.0,
                          "villages_split": g["split"].count(),
                          "split_villages": g["split"].agg(lambda s: ",".join(s.dropna()))})
    table.index.name = "zone"
    return DistrictPlan(district, school, inside, free, extra, no_school, check, table.reset_index(),
                        sorted(codes[is_split].tolist()))
