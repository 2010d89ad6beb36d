"""Sizing rules: the urban development boundary against base urban construction land (扩展倍数),
and the reserve construction quota (机动指标/留白) against planned construction land.

Thresholds: ``land.expansion_ratio_max`` (1.3), ``land.expansion_ratio_max_shrinking`` (1.2 for
counties whose population shrinks) and ``land.reserve_quota_max_share`` (5 %).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import shapely

from pianqu.config import Config
from pianqu.findings import Finding
from pianqu.land.common import config_of, epsg_for, is_construction, polygons, require, settlement_kind
from pianqu.geo import ellipsoidal_area
from pianqu.land.overlay import disjoint


@dataclass(frozen=True)
class SizingCheck:
    """A ratio against its limit: ``ok`` when ``value ≤ limit``; ``finding`` says it either way."""

    rule: str
    value: float
    limit: float
    numerator_m2: float
    denominator_m2: float
    threshold: str
    source: str
    finding: Finding = field(repr=False, default=None)  # type: ignore[assignment]

    @property
    def ok(self) -> bool:
        return bool(self.value <= self.limit)


def _area(frame: gpd.GeoDataFrame, layer: str, epsg: int) -> float:
    """Area of the union (overlapping features counted once)."""
    if frame is None or len(frame) == 0:
        return 0.0
    return float(ellipsoidal_area(disjoint(polygons(frame, layer, epsg).geometry.to_numpy()), epsg).sum())


def base_urban_construction(landuse: gpd.GeoDataFrame, *, epsg: int | None = None) -> float:
    """Base-year urban construction land (m²): construction codes (07–16) with CZCSXM 201/202(A)."""
    require(landuse, "landuse", ["code", "czcsxm"])
    epsg = epsg_for(epsg, landuse)
    lu = polygons(landuse, "landuse", epsg)
    town = (settlement_kind(lu["czcsxm"]) == "town").to_numpy() & is_construction(lu["code"])
    return float(ellipsoidal_area(lu.geometry.to_numpy()[town], epsg).sum())


def planned_construction(landuse: gpd.GeoDataFrame, *, epsg: int | None = None) -> float:
    """Construction land (m², codes 07–16) of a (planned) land-use layer."""
    require(landuse, "landuse", ["code"])
    epsg = epsg_for(epsg, landuse)
    lu = polygons(landuse, "landuse", epsg)
    return float(ellipsoidal_area(lu.geometry.to_numpy()[is_construction(lu["code"])], epsg).sum())


def expansion_ratio(urban_boundary: gpd.GeoDataFrame, base_landuse: gpd.GeoDataFrame, *, shrinking: bool = False,
                    epsg: int | None = None, cfg: Config | None = None) -> SizingCheck:
    """Urban development boundary area ÷ base urban construction land, against the limit.

    ``shrinking``: the county's population shrinks (the stricter limit applies).
    """
    cfg = config_of(cfg)
    epsg = epsg_for(epsg, base_landuse, urban_boundary)
    key = "land.expansion_ratio_max_shrinking" if shrinking else "land.expansion_ratio_max"
    udb = _area(urban_boundary, "urban_boundary", epsg)
    base = base_urban_construction(base_landuse, epsg=epsg)
    value = udb / base if base > 0 else (np.inf if udb > 0 else 0.0)
    limit = float(cfg[key])
    ok = value <= limit
    f = Finding("info" if ok else "error", "land.sizing.expansion_ok" if ok else "land.sizing.expansion_exceeded",
                "urban_boundary", "", "", {"ratio": float(value), "limit": limit, "udb_ha": udb / 1e4,
                                           "base_ha": base / 1e4, "excess_ha": max(0.0, udb - limit * base) / 1e4,
                                           "source": cfg.source(key)})
    return SizingCheck("expansion_ratio", float(value), limit, udb, base, key, cfg.source(key), f)


def reserve_share(reserve: gpd.GeoDataFrame | float, planned_construction_m2: float, *,
                  epsg: int | None = None, cfg: Config | None = None) -> SizingCheck:
    """Reserve construction quota ÷ planned construction land, against ``land.reserve_quota_max_share``.

    ``reserve``: the quota as an area in m² (机动指标 need not be drawn) or a polygon layer (留白).
    """
    cfg = config_of(cfg)
    key = "land.reserve_quota_max_share"
    if isinstance(reserve, gpd.GeoDataFrame):
        q = _area(reserve, "reserve", epsg_for(epsg, reserve)) if len(reserve) else 0.0
    else:
        q = float(reserve)
    if planned_construction_m2 <= 0:
        raise ValueError("reserve_share: planned construction land must be positive (m²)")
    value = q / planned_construction_m2
    limit = float(cfg[key])
    ok = value <= limit
    f = Finding("info" if ok else "error", "land.sizing.reserve_ok" if ok else "land.sizing.reserve_exceeded",
                "reserve", "", "", {"share": value, "limit": limit, "reserve_ha": q / 1e4,
                                    "planned_ha": planned_construction_m2 / 1e4,
                                    "excess_ha": max(0.0, q - limit * planned_construction_m2) / 1e4,
                                    "source": cfg.source(key)})
    return SizingCheck("reserve_share", value, limit, q, planned_construction_m2, key, cfg.source(key), f)
