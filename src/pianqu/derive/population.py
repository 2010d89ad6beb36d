"""Township and village population estimated from the 2020 census and the residential land.

A 三调 delivery carries no population. The county's 2020 census total (``pianqu.divisions``)
is known, split into urban (城镇人口) and rural (乡村人口). The urban people are spread over the
town housing (用地用海 0701 on CZCSXM 201/202 land), the rural people over the homesteads (0703 on
203 land), each at one county-wide density, so the villages add up to the census total exactly
(largest-remainder rounding); every village keeps at least ``derive.population_floor_share`` of
the median village's weight. Townships are the sums of their villages. Populations the planner
already has (a statistics table's townships or villages) are kept; only the remainder is
spread, over the villages without one, and within a township of known total only that
township's remainder. The codes are rows of ``standards/derive_codes.csv``.
"""

from __future__ import annotations

from typing import Mapping

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from pianqu import divisions
from pianqu.config import Config, load_config
from pianqu.derive.settlements import has_code, parcel_units, role_codes
from pianqu.geo import ellipsoidal_area
from pianqu.parcels import select_epoch


def split_total(total: int, weights: np.ndarray) -> np.ndarray:
    """``total`` split into non-negative integers proportional to ``weights`` (largest
    remainder; equal shares when every weight is zero); the parts sum to ``total`` exactly."""
    w = np.where(np.asarray(weights, dtype=float) > 0, np.asarray(weights, dtype=float), 0.0)
    n = len(w)
    if n == 0 or total <= 0:
        return np.zeros(n, dtype=np.int64)
    if w.sum() <= 0:
        w = np.ones(n)
    raw = total * w / w.sum()
    base = np.floor(raw).astype(np.int64)
    left = int(total - base.sum())
    if left > 0:
        base[np.argsort(-(raw - base), kind="stable")[:left]] += 1
    return base


def residential_land(landuse: gpd.GeoDataFrame, townships: gpd.GeoDataFrame,
                     villages: gpd.GeoDataFrame) -> pd.DataFrame:
    """Per village (index: code): ``urban_m2`` (town housing: 0701 on 201/202 land) and
    ``rural_m2`` (homesteads: 0703 on 203 land), ellipsoidal m² (``area_m2`` when present)."""
    vl = villages.reset_index(drop=True)
    out = pd.DataFrame({"urban_m2": 0.0, "rural_m2": 0.0}, index=pd.Index(vl["code"].astype(str), name="code"))
    lu = select_epoch(landuse)
    lu = lu[lu.geometry.notna()].reset_index(drop=True)
    if lu.empty:
        return out
    cz = lu["czcsxm"] if "czcsxm" in lu.columns else pd.Series("", index=lu.index)
    code = lu["code"] if "code" in lu.columns else pd.Series("", index=lu.index)
    urban = has_code(code, role_codes("urban_residential"), prefix=True) & has_code(
        cz, role_codes("town_cluster"), prefix=False)
    rural = has_code(code, role_codes("rural_residential"), prefix=True) & has_code(
        cz, role_codes("rural_cluster"), prefix=False)
    keep = urban | rural
    if not keep.any():
        return out
    sub = lu.loc[keep].reset_index(drop=True)
    crs = townships.crs
    _, vcode = parcel_units(sub.to_crs(crs), townships, villages.to_crs(crs))
    area = sub["area_m2"].to_numpy(dtype=float) if "area_m2" in sub.columns else np.full(len(sub), np.nan)
    missing = ~np.isfinite(area)
    if missing.any():
        area[missing] = ellipsoidal_area(sub.loc[missing])
    df = pd.DataFrame({"code": vcode, "urban_m2": np.where(urban[keep], area, 0.0),
                       "rural_m2": np.where(rural[keep], area, 0.0)})
    sums = df[df["code"] != ""].groupby("code")[["urban_m2", "rural_m2"]].sum()
    out.update(sums.reindex(out.index).fillna(0.0))
    return out


def _known_series(known: pd.Series | pd.DataFrame | Mapping | None) -> pd.Series:
    """``known`` as a Series code → population (NaN/None dropped)."""
    if known is None:
        return pd.Series(dtype=float)
    if isinstance(known, pd.DataFrame):
        s = pd.Series(known["population"].to_numpy(), index=known["code"].astype(str).to_numpy())
    elif isinstance(known, pd.Series):
        s = known.copy()
        s.index = s.index.astype(str)
    else:
        s = pd.Series(dict(known), dtype=float)
        s.index = s.index.astype(str)
    return pd.to_numeric(s, errors="coerce").dropna()


def spread_census(county_code: str, townships: gpd.GeoDataFrame, villages: gpd.GeoDataFrame,
                  landuse: gpd.GeoDataFrame, *, config: Config | None = None,
                  known: pd.Series | pd.DataFrame | Mapping | None = None
                  ) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Population of each township and village (see the module doc).

    ``known``: populations the workspace already has, by township (9-digit) or village
    (12-digit) code: a Series, a mapping, or a frame with ``code`` and ``population`` (e.g. the
    township and village layers after ``pianqu import 人口.xlsx``). Returns
    ``(township_pop, village_pop, estimated)``: integer Series indexed by township and by
    village code, and a boolean Series indexed by both kinds of code (True where the value was
    spread from the census, False where it was known)."""
    cfg = config if config is not None else load_config()
    census = divisions.census(str(county_code))
    total, urban = int(census["population"]), int(min(census["urban"], census["population"]))
    tw = townships.reset_index(drop=True)
    vl = villages.reset_index(drop=True)
    tcodes = pd.Index(tw["code"].astype(str))
    vcodes = pd.Index(vl["code"].astype(str))
    v_town = pd.Series(vl["township_code"].astype(str).to_numpy(), index=vcodes)
    land = residential_land(landuse, tw, vl).reindex(vcodes).fillna(0.0)

    # one density per kind of land over the county: the raw estimates add up to the census
    u_m2, r_m2 = land["urban_m2"].sum(), land["rural_m2"].sum()
    weight = (land["urban_m2"] * (urban / u_m2 if u_m2 > 0 else 0.0)
              + land["rural_m2"] * ((total - urban) / r_m2 if r_m2 > 0 else 0.0))
    if u_m2 <= 0:  # no town housing found: everyone on the homesteads
        weight = land["rural_m2"] * (total / r_m2 if r_m2 > 0 else 0.0)
    pos = weight[weight > 0]
    floor = float(cfg["derive.population_floor_share"]) * (float(pos.median()) if len(pos) else 1.0)
    weight = np.maximum(weight, floor)

    k = _known_series(known)
    kv = k[k.index.isin(vcodes)].round().astype(np.int64)
    kt = k[k.index.isin(tcodes)].round().astype(np.int64)
    village_pop = pd.Series(0, index=vcodes, dtype=np.int64)
    village_pop[kv.index] = kv.to_numpy()
    open_v = ~vcodes.isin(kv.index)
    # townships of known total: their own remainder over their open villages
    fixed_t = set(kt.index)
    for t in fixed_t:
        rows = (v_town == t).to_numpy() & open_v
        rest = int(kt[t]) - int(village_pop[(v_town == t).to_numpy()].sum())
        village_pop[rows] = split_total(max(rest, 0), weight[rows].to_numpy())
    # the county's remainder over the other open villages
    rows = open_v & ~v_town.isin(fixed_t).to_numpy()
    taken = int(village_pop[~rows].sum()) + sum(
        int(kt[t]) - int(village_pop[(v_town == t).to_numpy()].sum()) for t in fixed_t)
    village_pop[rows] = split_total(max(total - taken, 0), weight[rows].to_numpy())

    township_pop = village_pop.groupby(v_town).sum().reindex(tcodes).fillna(0).astype(np.int64)
    township_pop[kt.index] = kt.to_numpy()
    est_v = pd.Series(open_v, index=vcodes)
    est_t = pd.Series(~tcodes.isin(kt.index), index=tcodes)
    # a township of unknown total whose villages are all known is known too
    all_known = v_town[~open_v].groupby(v_town[~open_v]).size().reindex(tcodes).fillna(0) == \
        v_town.groupby(v_town).size().reindex(tcodes).fillna(0)
    est_t = est_t & ~(all_known & (v_town.groupby(v_town).size().reindex(tcodes).fillna(0) > 0))
    township_pop.index.name = village_pop.index.name = None
    return township_pop, village_pop, pd.concat([est_t, est_v]).astype(bool)
