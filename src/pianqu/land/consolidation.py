"""Land consolidation potential per village (土地综合整治, seed §二(七)).

- Fragmented farmland: contiguous patches of cultivated land (parcels sharing a boundary)
  smaller than ``land.fragment_max_m2``.
- Steep farmland: cultivated land with a mean slope over ``land.steep_slope_deg`` (25°).
- Scattered homesteads: clusters of homestead parcels (0703; parcels within
  ``land.homestead_cluster_m`` of each other) holding less than ``land.scattered_cluster_max_m2``.
- Idle homesteads: parcels flagged idle (an ``idle`` field, or a list of BSMs from the village
  survey); and, where the village population is known, homestead land above the standard
  ``land.homestead_m2_per_person`` × population (an estimate, reported separately).
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from pianqu.config import Config
from pianqu.land.common import (LandInputError, area_columns, config_of, epsg_for, is_farmland, polygons, require,
                                truthy)
from pianqu.land.overlay import components

HOMESTEAD_CODES = ("0703",)  # 农村宅基地 (用地用海 2023 and 2020)


@dataclass
class ConsolidationResult:
    """``villages``: one row per village (areas in m², ha, 亩); ``parcels``: the parcels flagged
    (fragmented / steep farmland, scattered / idle homesteads) with their patch or cluster."""

    villages: pd.DataFrame
    parcels: gpd.GeoDataFrame


def _village_of(lu: gpd.GeoDataFrame, villages: gpd.GeoDataFrame | None, epsg: int) -> np.ndarray:
    if villages is None:
        if "village_code" not in lu.columns:
            raise LandInputError("land.error.no_village_code")
        return lu["village_code"].astype("string").fillna("").to_numpy(dtype=object)
    v = polygons(villages, "village", epsg, "code")
    pts = lu.geometry.representative_point().to_numpy()
    vi, pi = shapely.STRtree(pts).query(v.geometry.to_numpy(), predicate="contains")
    out = np.full(len(lu), "", dtype=object)
    out[pi] = v["code"].astype(str).to_numpy()[vi]
    return out


def consolidation_potential(landuse: gpd.GeoDataFrame, *, villages: gpd.GeoDataFrame | None = None,
                            idle: set[str] | None = None, epsg: int | None = None,
                            cfg: Config | None = None) -> ConsolidationResult:
    """Consolidation potential per village (see the module docstring for the rules).

    ``villages``: the village layer (``code``, optional ``population``); without it parcels are
    grouped by their ``village_code`` field. ``idle``: BSMs of idle homesteads (else the
    ``idle`` field of ``landuse`` when present).
    """
    cfg = config_of(cfg)
    require(landuse, "landuse", ["bsm", "code"])
    epsg = epsg_for(epsg, landuse)
    lu = polygons(landuse, "landuse", epsg, "bsm").reset_index(drop=True)
    village = _village_of(lu, villages, epsg)
    area = lu.geometry.area.to_numpy()
    codes = lu["code"].astype(str)
    farm = is_farmland(codes)
    home = codes.str[:4].isin(HOMESTEAD_CODES).to_numpy()

    # farmland patches
    fi = np.flatnonzero(farm)
    patch = np.full(len(lu), -1)
    patch[fi] = components(lu.geometry.to_numpy()[fi])
    patch_area = np.bincount(patch[fi], weights=area[fi]) if len(fi) else np.zeros(0)
    fragmented = np.zeros(len(lu), dtype=bool)
    fragmented[fi] = patch_area[patch[fi]] < float(cfg["land.fragment_max_m2"])
    # steep farmland
    if "slope_deg" in lu.columns:
        slope = pd.to_numeric(lu["slope_deg"], errors="coerce").to_numpy()
        steep = farm & (slope > float(cfg["land.steep_slope_deg"]))
    else:
        slope = np.full(len(lu), np.nan)
        steep = np.zeros(len(lu), dtype=bool)
    # homestead clusters
    hi = np.flatnonzero(home)
    cluster = np.full(len(lu), -1)
    cluster[hi] = components(lu.geometry.to_numpy()[hi], distance=float(cfg["land.homestead_cluster_m"]))
    cl_area = np.bincount(cluster[hi], weights=area[hi]) if len(hi) else np.zeros(0)
    scattered = np.zeros(len(lu), dtype=bool)
    scattered[hi] = cl_area[cluster[hi]] < float(cfg["land.scattered_cluster_max_m2"])
    if idle is not None:
        idle_mask = home & lu["bsm"].astype(str).isin(set(map(str, idle))).to_numpy()
        idle_known = True
    elif "idle" in lu.columns:
        idle_mask = home & truthy(lu["idle"])
        idle_known = True
    else:
        idle_mask, idle_known = np.zeros(len(lu), dtype=bool), False

    df = pd.DataFrame({"village": village, "area": area, "farm": area * farm, "frag": area * fragmented,
                       "steep": area * steep, "home": area * home, "scat": area * scattered,
                       "idle": area * idle_mask})
    g = df.groupby("village", sort=True)
    out = pd.DataFrame({"farmland_m2": g["farm"].sum(), "fragmented_m2": g["frag"].sum(),
                        "steep_farmland_m2": g["steep"].sum(), "homestead_m2": g["home"].sum(),
                        "scattered_homestead_m2": g["scat"].sum(),
                        "idle_homestead_m2": g["idle"].sum() if idle_known else np.nan})
    frag_patches = pd.Series(patch[fragmented], index=village[fragmented]).groupby(level=0).nunique()
    out["fragmented_patches"] = frag_patches.reindex(out.index, fill_value=0).astype(int)
    scat_cl = pd.Series(cluster[scattered], index=village[scattered]).groupby(level=0).nunique()
    out["scattered_clusters"] = scat_cl.reindex(out.index, fill_value=0).astype(int)
    out["homestead_clusters"] = pd.Series(cluster[home], index=village[home]).groupby(level=0).nunique() \
        .reindex(out.index, fill_value=0).astype(int)
    if villages is not None and "population" in villages.columns:
        pop = villages.set_index(villages["code"].astype(str))["population"].astype(float)
        std = pop.reindex(out.index) * float(cfg["land.homestead_m2_per_person"])
        out["homestead_standard_m2"] = std
        out["homestead_excess_m2"] = (out["homestead_m2"] - std).clip(lower=0)
    for col in ("fragmented_m2", "steep_farmland_m2", "scattered_homestead_m2", "idle_homestead_m2"):
        cols = area_columns(out[col].to_numpy())
        out[col.replace("_m2", "_ha")] = cols["area_ha"]
        out[col.replace("_m2", "_mu")] = cols["area_mu"]
    out.index.name = "village_code"
    flag = fragmented | steep | scattered | idle_mask
    parcels = gpd.GeoDataFrame({
        "bsm": lu["bsm"].astype(str).to_numpy()[flag], "code": codes.to_numpy()[flag], "village_code": village[flag],
        "fragmented": fragmented[flag], "steep": steep[flag], "scattered": scattered[flag], "idle": idle_mask[flag],
        "patch": patch[flag], "patch_area_m2": np.where(patch[flag] >= 0, patch_area[np.maximum(patch[flag], 0)]
                                                        if len(patch_area) else 0.0, np.nan),
        "cluster": cluster[flag], "slope_deg": slope[flag], "area_m2": area[flag]},
        geometry=lu.geometry.to_numpy()[flag], crs=epsg)
    return ConsolidationResult(out.reset_index(), parcels)
