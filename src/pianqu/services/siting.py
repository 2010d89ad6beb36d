"""Where to put the next facilities of a service: the location engine with existing facilities
fixed and candidate sites taken from settlements (county seat, town seats, village seats).

Three questions, one call shape (:func:`propose_sites`):

- ``"cover"``: the fewest new sites so every demand point that any site can reach within the
  standard is served (LSCP; when more than ``services.siting_max_new`` would be needed, the
  best ``siting_max_new`` by covered population instead — MCLP);
- ``"mclp"``: ``n_new`` new sites covering the most population within the standard;
- ``"pmedian"``: ``n_new`` new sites minimising population-weighted travel cost.

Standards that differ per demand point (terrain) are handled by scaling each row of the cost
matrix by its point's limit, so "within the standard" is ``cost / limit ≤ 1`` for every point.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd

from pianqu.config import Config
from pianqu.services.common import ServicesInputError, config_of
from pianqu.services.coverage import as_costs, coverage_standards, service_limits
from pianqu.services.location import LocationResult, solve_lscp, solve_mclp, solve_pmedian

METHODS = ("cover", "mclp", "pmedian")
SITE_COLUMNS = ["site_id", "source", "facility_id", "settlement_code", "name", "level", "township_code",
                "village_code", "is_existing"]


def candidate_sites(facilities: gpd.GeoDataFrame, settlements: gpd.GeoDataFrame | None, kinds: list[str], *,
                    levels: list[str] | None = None, config: Config | None = None) -> gpd.GeoDataFrame:
    """Candidate sites for a facility: the existing facilities of ``kinds``, then settlements.

    Parameters
    ----------
    facilities : geopandas.GeoDataFrame
        The ``facility`` layer (``id``, ``kind``, points).
    settlements : geopandas.GeoDataFrame or None
        Settlements with ``code``, ``name``, ``level``; those of ``levels`` become new-site
        candidates.
    kinds : list of str
        Facility kinds (``standards.facility_kinds``, e.g. ``primary_school``) that exist already.
    levels : list of str, optional
        Settlement levels that may take a new site (default ``services.siting_candidate_levels``).
    config : pianqu.config.Config, optional
        Thresholds in force (default the shipped ones).

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``site_id``, ``source`` (``facility`` / ``settlement``), ``facility_id``,
        ``settlement_code``, ``name``, ``level``, ``township_code``, ``village_code``,
        ``is_existing``; existing facilities first (pass their positions as ``fixed_sites`` to
        :func:`pianqu.solve_pmedian`).
    """
    cfg = config_of(config)
    levels = list(cfg["services.siting_candidate_levels"] if levels is None else levels)
    ex = facilities[facilities["kind"].astype(str).isin(kinds)]
    crs = facilities.crs if isinstance(facilities, gpd.GeoDataFrame) else None
    parts = [gpd.GeoDataFrame({
        "site_id": "F:" + ex["id"].astype(str), "source": "facility", "facility_id": ex["id"].astype(str),
        "settlement_code": "", "name": ex["name"].astype(str) if "name" in ex.columns else ex["id"].astype(str),
        "level": ex["kind"].astype(str),
        "township_code": ex["township_code"].astype(str) if "township_code" in ex.columns else "",
        "village_code": ex["village_code"].astype(str) if "village_code" in ex.columns else "",
        "is_existing": True}, geometry=ex.geometry.to_numpy(), crs=crs)]
    if settlements is not None and len(settlements):
        st = settlements[settlements["level"].astype(str).isin(levels)]
        st = st.to_crs(crs) if crs is not None and st.crs != crs else st
        st = st.drop_duplicates(subset=["code", "level"])
        parts.append(gpd.GeoDataFrame({
            "site_id": "S:" + st["level"].astype(str) + ":" + st["code"].astype(str), "source": "settlement",
            "facility_id": "", "settlement_code": st["code"].astype(str), "name": st["name"].astype(str),
            "level": st["level"].astype(str),
            "township_code": st["township_code"].astype(str) if "township_code" in st.columns else "",
            "village_code": st["village_code"].fillna("").astype(str) if "village_code" in st.columns else "",
            "is_existing": False}, geometry=st.geometry.to_numpy(), crs=crs))
    out = pd.concat(parts, ignore_index=True)
    return gpd.GeoDataFrame(out, geometry="geometry", crs=crs)


@dataclass
class SitingResult:
    """new: positions (columns) of the proposed new sites; result: the location engine's
    answer (all open sites, assignment, bound, gap); covered_before/after: population within
    the standard with the existing sites / with the new ones as well; uncoverable: demand
    points no candidate reaches within the standard; gain: population newly served per new
    site (the order of ``new``)."""

    method: str
    new: np.ndarray
    result: LocationResult | None
    covered_before: float
    covered_after: float
    uncoverable: np.ndarray
    gain: np.ndarray = field(default_factory=lambda: np.zeros(0))


def _covered(scaled: np.ndarray, sites: np.ndarray, w: np.ndarray) -> tuple[float, np.ndarray]:
    if len(sites) == 0:
        return 0.0, np.zeros(scaled.shape[0], bool)
    within = (scaled[:, sites] <= 1.0).any(axis=1)
    return float(w[within].sum()), within


def propose_sites(population, cost, existing, *, limit=None, method: str = "cover", n_new: int | None = None,
                  max_new: int | None = None, time_limit: float = 30.0, config: Config | None = None) -> SitingResult:
    """Propose new sites with the existing ones kept open.

    population: (n,) demand weights; cost: (n, m) travel cost demand × candidate (inf: no path);
    existing: (m,) bool, True for sites that already host the service (fixed open);
    limit: the standard (scalar or per demand point, cost units) — needed by ``cover`` and
    ``mclp``; n_new: new sites for ``mclp``/``pmedian``; max_new: cap of ``cover``
    (``services.siting_max_new``).
    """
    cfg = config_of(config)
    if method not in METHODS:
        raise ServicesInputError(f"method must be one of {METHODS}, got {method!r}")
    w = np.asarray(population, dtype=float).ravel()
    C = np.asarray(cost, dtype=float)
    ex = np.asarray(existing, dtype=bool).ravel()
    n, m = C.shape
    if len(w) != n or len(ex) != m:
        raise ServicesInputError(f"population has {len(w)} values and existing {len(ex)} for a {n}×{m} cost matrix")
    fixed = np.flatnonzero(ex)
    max_new = int(cfg["services.siting_max_new"] if max_new is None else max_new)
    if method in ("cover", "mclp"):
        if limit is None:
            raise ServicesInputError(f"method '{method}' needs the standard (limit)")
        lim = np.broadcast_to(np.asarray(limit, dtype=float), (n,))
        scaled = C / lim[:, None]
    else:
        scaled = C / (np.nanmax(C[np.isfinite(C)]) if np.isfinite(C).any() else 1.0)
    before, within0 = _covered(scaled, fixed, w) if method != "pmedian" else (0.0, np.zeros(n, bool))
    reach = (scaled <= 1.0).any(axis=1) if method != "pmedian" else np.isfinite(C).any(axis=1)
    uncoverable = np.flatnonzero(~reach)
    if n == 0 or m == 0:
        return SitingResult(method, np.zeros(0, int), None, before, before, uncoverable)
    if method == "cover":
        rows = np.flatnonzero(reach & ~within0 & (w > 0))
        if len(rows) == 0:
            return SitingResult(method, np.zeros(0, int), None, before, before, uncoverable)
        res = solve_lscp(scaled[rows], 1.0, fixed_sites=fixed, time_limit=time_limit)
        new = np.setdiff1d(res.sites, fixed)
        if len(new) > max_new:
            return propose_sites(w, C, ex, limit=limit, method="mclp", n_new=max_new, time_limit=time_limit,
                                 config=cfg)
    else:
        if n_new is None or int(n_new) < 1:
            raise ServicesInputError(f"method '{method}' needs n_new ≥ 1 (the number of new sites)")
        p = len(fixed) + int(n_new)
        if p > m:
            raise ServicesInputError(f"{int(n_new)} new sites asked but only {m - len(fixed)} candidates are free")
        if method == "mclp":
            res = solve_mclp(scaled, p, 1.0, weights=w, fixed_sites=fixed, time_limit=time_limit)
        else:
            finite = np.where(np.isfinite(C), C, np.nan)
            penalty = 10.0 * (np.nanmax(finite) if np.isfinite(finite).any() else 1.0) + 1.0
            res = solve_pmedian(np.where(np.isfinite(C), C, penalty), p, weights=w, fixed_sites=fixed,
                                time_limit=time_limit)
        new = np.setdiff1d(res.sites, fixed)
    after, _ = _covered(scaled, np.r_[fixed, new].astype(int), w) if method != "pmedian" else (0.0, None)
    gain = _gains(scaled, fixed, new, w) if method != "pmedian" else _pmedian_gain(C, res, fixed, new, w)
    order = np.argsort(-gain, kind="stable")
    return SitingResult(method, new[order], res, before, after, uncoverable, gain[order])


def _gains(scaled: np.ndarray, fixed: np.ndarray, new: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Population that only each new site brings within the standard (nearest new site counted)."""
    if len(new) == 0:
        return np.zeros(0)
    _, within0 = _covered(scaled, fixed, w)
    sub = scaled[:, new]
    best = np.argmin(sub, axis=1)
    ok = (sub[np.arange(len(w)), best] <= 1.0) & ~within0
    return np.bincount(best[ok], weights=w[ok], minlength=len(new))


def _pmedian_gain(C: np.ndarray, res: LocationResult, fixed, new, w) -> np.ndarray:
    """Population assigned to each new site by the p-median."""
    a = res.assignment
    return np.array([w[a == s].sum() for s in new], dtype=float)


def propose_for_service(demand: pd.DataFrame, sites: gpd.GeoDataFrame, costs, service: str, *,
                        method: str = "cover", n_new: int | None = None, standards: pd.DataFrame | None = None,
                        config: Config | None = None, time_limit: float = 30.0) -> tuple[gpd.GeoDataFrame, SitingResult]:
    """Proposed new sites of ``service`` as a layer: the candidate rows chosen, with
    ``service``, ``kind`` (the first kind of the service), ``gain_population`` and ``rank``.

    demand: points with ``population`` (and ``terrain``); sites: from :func:`candidate_sites`;
    costs: ``{mode: demand × site matrix}`` in the order of ``sites``.
    """
    cfg = config_of(config)
    std = coverage_standards(cfg) if standards is None else standards
    terr = demand["terrain"].astype(str).tolist() if "terrain" in demand.columns else None
    mode, lim, rows = service_limits(std, service, terr, len(demand))
    cm = as_costs(costs, len(demand), len(sites))
    if mode not in cm:
        raise ServicesInputError(f"service '{service}' is measured in mode '{mode}' but no {mode} costs were given")
    res = propose_sites(demand["population"].to_numpy(float), cm[mode], sites["is_existing"].to_numpy(bool),
                        limit=lim, method=method, n_new=n_new, config=cfg, time_limit=time_limit)
    chosen = sites.iloc[res.new].copy()
    chosen["service"] = service
    chosen["kind"] = rows["kinds"].iloc[0][0]
    chosen["gain_population"] = res.gain
    chosen["rank"] = np.arange(1, len(chosen) + 1)
    chosen["method"] = method
    return chosen.reset_index(drop=True), res
