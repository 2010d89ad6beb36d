"""Coverage against standards: the nearest facility of each service from every demand point,
whether it lies within the service's standard, the share of population served, and who is not.

A *service* (``standards/coverage_standards.csv``) is a set of facility kinds that serve the same need
(a township health centre also serves as the nearest clinic), a measure and a mode:

- ``time``/``drive``: minutes by road (the network's drive times);
- ``distance``/``walk``: metres walked on the network, compared as time at
  ``network.walk_speed_kmh`` (walk times are length ÷ that speed, so this is exact);
- ``distance``/``straight``: straight-line metres in the county's GK zone (pipes: sewage, water).

Each service has a default row (terrain ``*``) and rows per terrain type (plain, hill, mountain,
piedmont, alpine, plateau) where the standard differs; values written ``=key`` take the
threshold ``key`` of the configuration; a ``pianqu.toml`` table ``[tables.coverage_standards]``
sets ``"service" = value`` or ``"service.terrain" = value`` (in the row's unit; see
:mod:`pianqu.config`).

Costs come in as matrices demand × facility (one per mode: ``{"drive": seconds, "walk":
seconds, "straight": metres}``) aligned with the facility frame given, so every function here
is testable without a road network; :func:`travel_costs` computes them with
:mod:`pianqu.network`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Mapping

import geopandas as gpd
import numpy as np
import pandas as pd

from pianqu.config import Config
from pianqu.findings import Finding
from pianqu.standards import TERRAINS
from pianqu.services.common import ServicesInputError, config_of, split_kinds
from pianqu.geo import compute_epsg
from pianqu.network import od_matrix, snap_points

MEASURES = ("time", "distance")
MODES = ("drive", "walk", "straight")
DEFAULT_TERRAIN = "*"
LONG_COLUMNS = ["code", "name", "township_code", "zone", "terrain", "population", "service", "mode",
                "facility", "facility_kind", "cost", "time_min", "distance_m", "limit", "limit_value",
                "limit_unit", "within", "reachable"]
SUMMARY_COLUMNS = ["service", "mode", "points", "population", "population_within", "share", "points_unserved",
                   "points_unreachable", "population_unserved", "limit_min", "limit_max", "limit_unit"]


# -- standards -------------------------------------------------------------------------------------
def coverage_standards(config: Config | None = None, table: pd.DataFrame | None = None) -> pd.DataFrame:
    """The coverage standards in force: one row per service and terrain.

    Columns: service, kinds (list), terrain, measure, mode, value (in ``unit``), unit, limit
    (in cost units: seconds for drive and walk, metres for straight), sureness, source.
    ``table`` replaces the shipped ``coverage_standards`` table (same columns); the configuration's
    ``[tables.coverage_standards]`` rows apply to the shipped table.
    """
    cfg = config_of(config)
    raw = cfg.table("coverage_standards") if table is None else table.astype(str).copy()
    for col in ("service", "kinds", "terrain", "measure", "mode", "value", "unit"):
        if col not in raw.columns:
            raise ServicesInputError(f"coverage standards: column '{col}' is missing")
    rows = []
    for r in raw.itertuples(index=False):
        row = r._asdict()
        if row["measure"] not in MEASURES or row["mode"] not in MODES:
            raise ServicesInputError(f"coverage standards, service '{row['service']}': measure must be one of "
                                     f"{MEASURES} and mode one of {MODES}")
        if row["measure"] == "time" and row["mode"] == "straight":
            raise ServicesInputError(f"coverage standards, service '{row['service']}': a straight-line standard "
                                     "is a distance, not a time")
        text = str(row["value"]).strip()
        sureness, source = row.get("sureness", ""), row.get("source", "")
        if text.startswith("="):
            key = text[1:]
            if key not in cfg.thresholds:
                raise ServicesInputError(f"coverage standards, service '{row['service']}': threshold '{key}' "
                                         "does not exist")
            value = float(cfg[key])
            th = cfg.thresholds[key]
            sureness, source = th.sureness, th.source
        else:
            value = float(text)
        if not np.isfinite(value) or value <= 0:
            raise ServicesInputError(f"coverage standards, service '{row['service']}', terrain "
                                     f"'{row['terrain']}': the standard must be a positive number")
        row.update(value=value, sureness=sureness, source=source, kinds=split_kinds(row["kinds"]),
                   limit=_limit(value, row["measure"], row["mode"], row["unit"], cfg))
        rows.append(row)
    out = pd.DataFrame(rows)
    modes = out.groupby("service")["mode"].nunique()
    if (modes > 1).any():
        raise ServicesInputError(f"coverage standards, service '{modes[modes > 1].index[0]}': all terrain rows "
                                 "of a service must use the same mode")
    return out.reset_index(drop=True)


def _limit(value: float, measure: str, mode: str, unit: str, cfg: Config) -> float:
    if measure == "time":
        factor = {"min": 60.0, "s": 1.0, "h": 3600.0}.get(unit)
        if factor is None:
            raise ServicesInputError(f"coverage standards: time unit '{unit}' is not min, s or h")
        return value * factor
    metres = value * {"m": 1.0, "km": 1000.0}.get(unit, np.nan)
    if not np.isfinite(metres):
        raise ServicesInputError(f"coverage standards: distance unit '{unit}' is not m or km")
    if mode == "walk":
        return metres / (float(cfg["network.walk_speed_kmh"]) / 3.6)
    if mode == "drive":
        raise ServicesInputError("coverage standards: a drive standard must be a time (road distances are not "
                                 "computed); use measure 'time'")
    return metres


def service_limits(standards: pd.DataFrame, service: str, terrain: Iterable[str] | str | None,
                   n: int) -> tuple[str, np.ndarray, pd.DataFrame]:
    """(mode, limit per demand point, the rows used) of ``service`` for the demand's terrain."""
    rows = standards[standards["service"] == service]
    if rows.empty:
        raise ServicesInputError(f"no coverage standard for service '{service}'; services are: "
                                 f"{', '.join(sorted(set(standards['service'])))}")
    default = rows[rows["terrain"] == DEFAULT_TERRAIN]
    if default.empty:
        raise ServicesInputError(f"coverage standards, service '{service}': no default row (terrain '*')")
    by_terrain = dict(zip(rows["terrain"], rows["limit"]))
    if terrain is None or isinstance(terrain, str):
        terr = np.full(n, terrain or DEFAULT_TERRAIN, dtype=object)
    else:
        terr = np.asarray(list(terrain), dtype=object)
        if len(terr) != n:
            raise ServicesInputError(f"terrain has {len(terr)} values for {n} demand points")
    base = float(default["limit"].iloc[0])
    lim = np.array([by_terrain.get(t, base) for t in terr], dtype=float)
    return str(rows["mode"].iloc[0]), lim, rows


def services_for_kind(standards: pd.DataFrame, kind: str) -> list[str]:
    """Services a facility kind counts towards (the one named after it first)."""
    named = [s for s in standards["service"].unique() if s == kind]
    rest = [s for s, ks in zip(standards["service"], standards["kinds"]) if kind in ks and s != kind]
    return list(dict.fromkeys(named + rest))


# -- terrain ---------------------------------------------------------------------------------------
def village_terrain(villages: pd.DataFrame, landuse: pd.DataFrame | None = None, *,
                    county_terrain: str | None = None, config: Config | None = None) -> pd.Series:
    """Terrain type per village (indexed by village code) for the coverage standards.

    With land parcels carrying ``slope_deg``: the area-weighted mean slope of the village's
    parcels against ``services.terrain_hill_slope_deg`` / ``terrain_mountain_slope_deg``
    (plain / hill / mountain). An ``alpine`` or ``plateau`` county keeps its class (elevation,
    not slope, sets it). Otherwise every village gets ``county_terrain`` (or ``*``).
    """
    cfg = config_of(config)
    codes = villages["code"].astype(str)
    base = county_terrain if county_terrain in TERRAINS else DEFAULT_TERRAIN
    out = pd.Series(base, index=pd.Index(codes, name="code"), name="terrain", dtype=object)
    if base in ("alpine", "plateau") or landuse is None or "slope_deg" not in landuse.columns \
            or "village_code" not in landuse.columns:
        return out
    slope = pd.to_numeric(landuse["slope_deg"], errors="coerce")
    if "area_m2" in landuse.columns:
        area = pd.to_numeric(landuse["area_m2"], errors="coerce")
    else:
        area = pd.Series(1.0, index=landuse.index)
    ok = slope.notna() & area.notna() & (area > 0)
    df = pd.DataFrame({"v": landuse["village_code"].astype(str)[ok], "sw": (slope * area)[ok], "a": area[ok]})
    g = df.groupby("v")[["sw", "a"]].sum()
    mean = (g["sw"] / g["a"]).reindex(out.index)
    hill, mountain = float(cfg["services.terrain_hill_slope_deg"]), float(cfg["services.terrain_mountain_slope_deg"])
    cls = np.where(mean > mountain, "mountain", np.where(mean > hill, "hill", "plain"))
    known = mean.notna().to_numpy()
    out[known] = cls[known]
    return out


# -- costs ---------------------------------------------------------------------------------------
def straight_distances(demand: gpd.GeoDataFrame | gpd.GeoSeries, facilities: gpd.GeoDataFrame | gpd.GeoSeries,
                       epsg: int | None = None) -> np.ndarray:
    """Straight-line metres demand × facility in the county's GK zone."""

    dg = demand.geometry if isinstance(demand, gpd.GeoDataFrame) else demand
    fg = facilities.geometry if isinstance(facilities, gpd.GeoDataFrame) else facilities
    if len(dg) == 0 or len(fg) == 0:
        return np.zeros((len(dg), len(fg)))
    epsg = epsg or compute_epsg(dg)
    a = dg.to_crs(epsg).get_coordinates().to_numpy() if not dg.is_empty.any() else None
    b = fg.to_crs(epsg).get_coordinates().to_numpy() if not fg.is_empty.any() else None
    if a is None or b is None or len(a) != len(dg) or len(b) != len(fg):
        raise ServicesInputError("straight distances need one point per demand and per facility (empty or "
                                 "multi-part geometry found)")
    return np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1))


def travel_costs(demand: gpd.GeoDataFrame, facilities: gpd.GeoDataFrame, *, graph=None,
                 modes: Iterable[str] = MODES, cutoff_s: float | None = None) -> dict[str, np.ndarray]:
    """Cost matrices demand × facility per mode: drive and walk seconds over ``graph`` (a
    :class:`pianqu.network.RoadGraph`), straight-line metres in the graph's (or the data's) GK zone."""
    out: dict[str, np.ndarray] = {}
    modes = list(modes)
    unknown = set(modes) - set(MODES)
    if unknown:
        raise ServicesInputError(f"unknown modes {sorted(unknown)}; choose from {MODES}")
    if {"drive", "walk"} & set(modes):
        if graph is None:
            raise ServicesInputError("drive and walk costs need a road graph (pianqu.network.build_graph)")

        for mode in ("drive", "walk"):
            if mode in modes:
                o = snap_points(graph, demand, mode=mode, layer="village")
                d = snap_points(graph, facilities, mode=mode, layer="facility")
                out[mode] = od_matrix(graph, o, d, mode=mode, cutoff_s=cutoff_s)
    if "straight" in modes:
        out["straight"] = straight_distances(demand, facilities, getattr(graph, "epsg", None) or None)
    return out


def as_costs(costs: Mapping[str, np.ndarray] | np.ndarray, n_demand: int, n_facility: int) -> dict[str, np.ndarray]:
    """Check cost matrices; a bare array is taken as drive seconds."""
    if isinstance(costs, np.ndarray) or not isinstance(costs, Mapping):
        costs = {"drive": costs}
    out = {}
    for mode, m in costs.items():
        if mode not in MODES:
            raise ServicesInputError(f"cost matrix for unknown mode '{mode}'; choose from {MODES}")
        a = np.asarray(m, dtype=float)
        if a.shape != (n_demand, n_facility):
            raise ServicesInputError(f"{mode} cost matrix has shape {a.shape}; expected (demand points, "
                                     f"facilities) = ({n_demand}, {n_facility})")
        if np.isnan(a).any() or (a < 0).any():
            i, j = np.argwhere(np.isnan(a) | (a < 0))[0]
            raise ServicesInputError(f"{mode} cost [{i}, {j}] is {a[i, j]}: costs must be ≥ 0 (inf when unreachable)")
        out[mode] = a
    return out


def nearest(cost: np.ndarray, columns: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(cost, column) of the cheapest column per row among ``columns`` (all when None);
    column −1 and cost inf where none is reachable."""
    n = cost.shape[0]
    cols = np.arange(cost.shape[1]) if columns is None else np.asarray(columns, dtype=np.int64)
    if len(cols) == 0:
        return np.full(n, np.inf), np.full(n, -1, dtype=np.int64)
    sub = cost[:, cols]
    k = np.argmin(sub, axis=1)
    best = sub[np.arange(n), k]
    col = np.where(np.isfinite(best), cols[k], -1)
    return best, col


# -- coverage ---------------------------------------------------------------------------------------
@dataclass
class CoverageResult:
    """Coverage of demand points by services.

    ``long``: one row per demand point and service (columns :data:`LONG_COLUMNS`): the nearest
    facility, its cost (seconds or metres), time in minutes and distance in metres where
    known, the limit for the point's terrain and whether it is within (``within``) and
    reachable at all (``reachable``).
    ``findings``: services skipped for lack of a cost matrix, and similar notes.
    """

    long: pd.DataFrame
    standards: pd.DataFrame
    findings: list[Finding] = field(default_factory=list)

    def summary(self) -> pd.DataFrame:
        """Per service: demand points, population, population within the standard and its
        share, points not served, points that reach no facility at all, and the standards
        applied (smallest and largest over the points' terrains, in minutes or metres)."""
        df = self.long
        if df.empty:
            return pd.DataFrame(columns=SUMMARY_COLUMNS)
        df = df.assign(pw=df["population"] * df["within"], nu=~df["within"], nr=~df["reachable"])
        g = df.groupby("service", sort=False)
        out = pd.DataFrame({
            "mode": g["mode"].first(),
            "points": g.size(),
            "population": g["population"].sum(),
            "population_within": g["pw"].sum(),
            "points_unserved": g["nu"].sum().astype(int),
            "points_unreachable": g["nr"].sum().astype(int),
        })
        out["share"] = (out["population_within"] / out["population"].where(out["population"] > 0)).fillna(1.0)
        out["population_unserved"] = out["population"] - out["population_within"]
        out["limit_min"] = g["limit_value"].min()
        out["limit_max"] = g["limit_value"].max()
        out["limit_unit"] = g["limit_unit"].first()
        return out.reset_index()[SUMMARY_COLUMNS]

    def by_unit(self, unit: str = "zone") -> pd.DataFrame:
        """Share of population within the standard per ``unit`` (``zone`` or ``township_code``) and service."""
        df = self.long.assign(pw=self.long["population"] * self.long["within"], nu=~self.long["within"])
        g = df.groupby([unit, "service"], sort=True)
        out = pd.DataFrame({"population": g["population"].sum(), "population_within": g["pw"].sum(),
                            "points_unserved": g["nu"].sum().astype(int)})
        out["share"] = (out["population_within"] / out["population"].where(out["population"] > 0)).fillna(1.0)
        return out.reset_index()

    def unserved(self, services: Iterable[str] | None = None) -> pd.DataFrame:
        """Demand points outside the standard, sorted by zone, township, service and cost."""
        df = self.long[~self.long["within"]]
        if services is not None:
            df = df[df["service"].isin(list(services))]
        return df.sort_values(["zone", "township_code", "service", "cost", "code"]).reset_index(drop=True)

    def unserved_lists(self, unit: str = "zone") -> pd.DataFrame:
        """Per ``unit`` and service: the number and names of demand points not served."""
        df = self.unserved()
        g = df.groupby([unit, "service"], sort=True)
        return pd.DataFrame({"points": g.size(), "population": g["population"].sum(),
                             "names": g["name"].agg(lambda s: "、".join(map(str, s)))}).reset_index()


def coverage(demand: pd.DataFrame, facilities: pd.DataFrame, costs: Mapping[str, np.ndarray] | np.ndarray, *,
             services: Iterable[str] | None = None, standards: pd.DataFrame | None = None,
             terrain: Iterable[str] | str | None = None, config: Config | None = None) -> CoverageResult:
    """Nearest facility of each service from every demand point and whether it meets the standard.

    demand: rows with ``code``, ``population`` (and ``name``, ``township_code``, ``zone``,
        ``terrain`` when known); facilities: rows with ``id`` and ``kind``, in the column order
        of the cost matrices; costs: ``{mode: matrix}`` (a bare matrix = drive seconds);
    services: the services to check (all of the standards table by default); terrain: per
        demand point (or one for all; the demand's ``terrain`` column by default).
    A service with no facility gives every point ``reachable = False``. A service whose mode
    has no matrix is skipped with a finding.
    """
    cfg = config_of(config)
    std = coverage_standards(cfg) if standards is None else standards
    n, m = len(demand), len(facilities)
    cm = as_costs(costs, n, m)
    if "code" not in demand.columns or "population" not in demand.columns:
        raise ServicesInputError("demand points need 'code' and 'population'")
    pop = pd.to_numeric(demand["population"], errors="coerce").to_numpy(float)
    if np.isnan(pop).any() or (pop < 0).any():
        i = int(np.flatnonzero(np.isnan(pop) | (pop < 0))[0])
        raise ServicesInputError(f"demand point '{demand['code'].iloc[i]}': population must be a number ≥ 0")
    if terrain is None and "terrain" in demand.columns:
        terrain = demand["terrain"].astype(str).tolist()
    terr = (np.full(n, terrain or DEFAULT_TERRAIN, dtype=object) if terrain is None or isinstance(terrain, str)
            else np.asarray(list(terrain), dtype=object))
    kinds = facilities["kind"].astype(str).to_numpy() if m else np.zeros(0, dtype=object)
    ids = facilities["id"].astype(str).to_numpy() if m else np.zeros(0, dtype=object)
    wanted = list(dict.fromkeys(std["service"])) if services is None else list(services)
    findings: list[Finding] = []
    frames = []
    base = pd.DataFrame({
        "code": demand["code"].astype(str).to_numpy(),
        "name": demand["name"].astype(str).to_numpy() if "name" in demand.columns else demand["code"].astype(str).to_numpy(),
        "township_code": demand["township_code"].astype(str).to_numpy() if "township_code" in demand.columns else "",
        "zone": demand["zone"].astype(str).to_numpy() if "zone" in demand.columns else "",
        "terrain": terr, "population": pop,
    })
    walk_mps = float(cfg["network.walk_speed_kmh"]) / 3.6
    for service in wanted:
        mode, lim, rows = service_limits(std, service, terr, n)
        if mode not in cm:
            findings.append(Finding("warning", "services.no_costs", "facility", service, "", {"mode": mode}))
            continue
        cols = np.flatnonzero(np.isin(kinds, rows["kinds"].iloc[0]))
        best, col = nearest(cm[mode], cols)
        reach = col >= 0
        time_min = best / 60.0 if mode in ("drive", "walk") else np.full(n, np.nan)
        dist = best * walk_mps if mode == "walk" else (best if mode == "straight" else np.full(n, np.nan))
        unit = rows["unit"].iloc[0]
        lim_value = lim / (60.0 if unit == "min" else 1.0) if mode == "drive" else (
            lim * walk_mps if mode == "walk" else lim)
        frames.append(base.assign(
            service=service, mode=mode,
            facility=np.where(reach, ids[np.maximum(col, 0)] if m else "", ""),
            facility_kind=np.where(reach, kinds[np.maximum(col, 0)] if m else "", ""),
            cost=best, time_min=time_min, distance_m=dist, limit=lim, limit_value=lim_value,
            limit_unit="min" if mode == "drive" else "m", within=reach & (best <= lim), reachable=reach))
    long = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=LONG_COLUMNS)
    return CoverageResult(long[LONG_COLUMNS], std, findings)


def zone_catchment(demand: pd.DataFrame, facilities: pd.DataFrame, costs: Mapping[str, np.ndarray] | np.ndarray,
                   centres: Mapping[str, str], kinds: Iterable[str], *, standards: pd.DataFrame | None = None,
                   config: Config | None = None) -> pd.DataFrame:
    """Whether the central town's facility of each kind serves its whole zone (domain.md §5 F16).

    For every zone with a centre and every kind: the facilities of that kind in the centre
    township, and the share of the zone's population within the kind's standard of the
    nearest of them (the standard of the service named after the kind, else the first service
    that counts the kind). Columns: zone, centre, kind, service, facilities, population,
    population_within, share, points_outside.
    """
    cfg = config_of(config)
    std = coverage_standards(cfg) if standards is None else standards
    cm = as_costs(costs, len(demand), len(facilities))
    fk = facilities["kind"].astype(str).to_numpy()
    ft = facilities["township_code"].astype(str).to_numpy()
    dz = demand["zone"].astype(str).to_numpy()
    pop = demand["population"].to_numpy(float)
    terr = demand["terrain"].astype(str).to_numpy() if "terrain" in demand.columns else None
    rows = []
    for kind in kinds:
        svc = services_for_kind(std, kind)
        if not svc:
            continue
        mode, lim, _ = service_limits(std, svc[0], terr, len(demand))
        if mode not in cm:
            continue
        for zone, centre in centres.items():
            sel = dz == zone
            cols = np.flatnonzero((fk == kind) & (ft == centre))
            best, col = nearest(cm[mode][sel], cols) if sel.any() else (np.zeros(0), np.zeros(0, int))
            within = (col >= 0) & (best <= lim[sel])
            p = pop[sel]
            rows.append({"zone": zone, "centre": centre, "kind": kind, "service": svc[0], "facilities": len(cols),
                         "population": p.sum(), "population_within": p[within].sum(),
                         "share": p[within].sum() / p.sum() if p.sum() > 0 else float(len(cols) > 0),
                         "points_outside": int((~within).sum())})
    return pd.DataFrame(rows, columns=["zone", "centre", "kind", "service", "facilities", "population",
                                       "population_within", "share", "points_outside"])
