"""Grain production base candidates (粮食生产基地, seed §二(三)): contiguous clusters of good
farmland per zone.

Good farmland: the codes of ``land.grain_codes`` (paddy and irrigated land) with a mean slope of
at most ``land.grain_slope_max_deg``. Parcels are cut to zones; within a zone, parcels closer
than ``land.grain_gap_m`` (field roads, ditches) form one cluster; clusters of at least
``land.grain_base_min_mu`` 亩 are candidates.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

from pianqu.config import Config
from pianqu.findings import Finding
from pianqu.land.common import area_columns, config_of, epsg_for, m2_to, polygons, require
from pianqu.land.common import recorded_area
from pianqu.land.overlay import components, intersect, to_storage, union


def good_farmland(landuse: gpd.GeoDataFrame, *, cfg: Config | None = None) -> tuple[np.ndarray, list[Finding]]:
    """Mask of good-farmland parcels, and a note when slopes are unknown."""
    cfg = config_of(cfg)
    codes = landuse["code"].astype(str).str[:4]
    good = np.array(codes.isin([str(c) for c in cfg["land.grain_codes"]]), dtype=bool)
    notes = []
    if "slope_deg" in landuse.columns:
        slope = pd.to_numeric(landuse["slope_deg"], errors="coerce")
        unknown = good & slope.isna().to_numpy()
        good &= ~(slope > float(cfg["land.grain_slope_max_deg"])).to_numpy()
        if unknown.any():
            notes.append(Finding("info", "land.grain.slope_unknown", "landuse", "", "slope_deg", {"n": int(unknown.sum())}))
    else:
        notes.append(Finding("info", "land.grain.slope_unknown", "landuse", "", "slope_deg", {"n": int(good.sum())}))
    return good, notes


def grain_bases(landuse: gpd.GeoDataFrame, zones: gpd.GeoDataFrame, *, epsg: int | None = None,
                cfg: Config | None = None, all_clusters: bool = False) -> tuple[gpd.GeoDataFrame, list[Finding]]:
    """Candidate grain production bases per zone, largest first (EPSG:4490 geometry).

    Columns: ``zone``, ``cluster_id`` (stable: zone and smallest BSM), ``parcels``, ``area_m2``,
    ``area_ha``, ``area_mu``, ``paddy_share``, ``mean_slope_deg`` (area-weighted), ``candidate``.
    ``all_clusters``: return the clusters below the size threshold as well.
    """
    cfg = config_of(cfg)
    require(landuse, "landuse", ["bsm", "code"])
    require(zones, "zone", ["zone"])
    epsg = epsg_for(epsg, landuse, zones)
    lu = polygons(landuse, "landuse", epsg, "bsm").reset_index(drop=True)
    zn = polygons(zones, "zone", epsg)
    good, notes = good_farmland(lu, cfg=cfg)
    g = lu[good].reset_index(drop=True)
    ov = intersect(g.geometry.to_numpy(), zn.geometry.to_numpy(), crs=epsg, left_area=recorded_area(g))
    zone = zn["zone"].astype(str).to_numpy()[ov.right]
    bsm = g["bsm"].astype(str).to_numpy()[ov.left]
    paddy = (g["code"].astype(str).str[:4] == "0101").to_numpy()[ov.left]
    slope = pd.to_numeric(g["slope_deg"], errors="coerce").to_numpy()[ov.left] if "slope_deg" in g.columns \
        else np.full(len(ov), np.nan)
    rows = []
    min_mu = float(cfg["land.grain_base_min_mu"])
    gap = float(cfg["land.grain_gap_m"])
    for z in np.unique(zone):
        k = np.flatnonzero(zone == z)
        lab = components(ov.geometry[k], distance=gap)
        for c in np.unique(lab):
            m = k[lab == c]
            a = ov.area[m]
            total = a.sum()
            rows.append({"zone": z, "cluster_id": f"{z}-{min(bsm[m])}", "parcels": len(m), "area_m2": total,
                         "paddy_share": float(a[paddy[m]].sum() / total),
                         "mean_slope_deg": float(np.nansum(a * slope[m]) / total) if np.isfinite(slope[m]).any()
                         else np.nan,
                         "candidate": m2_to(total, "mu") >= min_mu, "geometry": union(ov.geometry[m])})
    cols = ["zone", "cluster_id", "parcels", "area_m2", "paddy_share", "mean_slope_deg", "candidate", "geometry"]
    out = gpd.GeoDataFrame(pd.DataFrame(rows, columns=cols), geometry="geometry", crs=epsg)
    if not all_clusters:  # a boolean mask even when empty (an empty object column would select columns)
        out = out[out["candidate"].astype(bool).to_numpy()]
    a = area_columns(out["area_m2"])
    out.insert(4, "area_ha", a["area_ha"])
    out.insert(5, "area_mu", a["area_mu"])
    out = out.sort_values(["zone", "area_m2"], ascending=[True, False]).reset_index(drop=True)
    return to_storage(out), notes
