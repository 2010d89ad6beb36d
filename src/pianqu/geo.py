"""Coordinate systems and measurement.

Storage is CGCS2000 geographic (EPSG:4490). Lengths and distances are computed in the
county's CGCS2000 3° Gauss–Krüger zone; areas are ellipsoidal (as 三调 TBMJ is), computed in
a local equal-area projection on the CGCS2000 ellipsoid.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
from pyproj import CRS

STORAGE_EPSG = 4490

# CGCS2000 Gauss–Krüger EPSG ranges (EPSG registry):
#   6° zones 13–23 with zone prefix 4491–4501, CM 75–135 without prefix 4502–4512;
#   3° zones 25–45 with zone prefix 4513–4533, CM 75–135 without prefix 4534–4554.
GK6_PREFIX = range(4491, 4502)
GK6_CM = range(4502, 4513)
GK3_PREFIX = range(4513, 4534)
GK3_CM = range(4534, 4555)


def gk3_epsg(lon: float) -> int:
    """EPSG of the CGCS2000 3° GK zone (no prefix) whose central meridian is nearest ``lon``."""
    cm = 3 * round(lon / 3)
    if not 75 <= cm <= 135:
        raise ValueError(f"longitude {lon:.3f} is outside China's CGCS2000 3° zones (CM 75–135)")
    return 4534 + (cm - 75) // 3


def compute_epsg(gdf: gpd.GeoDataFrame | gpd.GeoSeries) -> int:
    """The 3° GK zone for computing lengths: from the centroid of the data's bounds in 4490."""
    geo = gdf.to_crs(STORAGE_EPSG) if gdf.crs is not None and gdf.crs.to_epsg() != STORAGE_EPSG else gdf
    x0, y0, x1, y1 = geo.total_bounds
    return gk3_epsg((x0 + x1) / 2)


def is_cgcs2000_gk(epsg: int | None) -> bool:
    return epsg is not None and (epsg in GK6_PREFIX or epsg in GK6_CM or epsg in GK3_PREFIX or epsg in GK3_CM)


def describe_crs(crs: CRS | None) -> str:
    if crs is None:
        return "none"
    epsg = crs.to_epsg()
    return f"EPSG:{epsg} {crs.name}" if epsg else crs.name


def accepted_crs(crs: CRS | None) -> bool:
    """Whether pianqu accepts data in this CRS: CGCS2000 geographic/GK, or WGS 84 (4326)."""
    if crs is None:
        return False
    epsg = crs.to_epsg()
    return epsg in (4490, 4326) or is_cgcs2000_gk(epsg)


def guess_gk_crs(x: np.ndarray, y: np.ndarray) -> int | None:
    """Guess a CGCS2000 GK EPSG from projected coordinates that came without a CRS.

    Eastings with a zone prefix look like ``ZZxxxxxx.x`` (zone 25–45 for 3°, 13–23 for 6°);
    without a prefix they lie in 100 000–900 000 and the zone cannot be known. Returns None
    when no safe guess exists. Used to suggest a ``--crs`` in error messages, never silently.
    """
    if len(x) == 0:
        return None
    if not (np.all((y > 0) & (y < 6_500_000))):
        return None
    zones = np.unique(np.floor(x / 1_000_000).astype(int))
    if len(zones) != 1:
        return None
    z = int(zones[0])
    if 25 <= z <= 45:
        return 4513 + (z - 25)
    if 13 <= z <= 23:
        return 4491 + (z - 13)
    return None


def equal_area_crs(gdf: gpd.GeoDataFrame | gpd.GeoSeries) -> CRS:
    """A local Albers equal-area CRS on the CGCS2000 (GRS80) ellipsoid around the data."""
    geo = gdf.to_crs(STORAGE_EPSG) if gdf.crs is not None and gdf.crs.to_epsg() != STORAGE_EPSG else gdf
    x0, y0, x1, y1 = geo.total_bounds
    lat1, lat2 = y0 + (y1 - y0) / 6, y1 - (y1 - y0) / 6
    if lat2 - lat1 < 1e-6:
        lat1, lat2 = y0 - 0.1, y1 + 0.1
    return CRS.from_proj4(
        f"+proj=aea +lat_1={lat1:.6f} +lat_2={lat2:.6f} +lat_0={(y0 + y1) / 2:.6f} "
        f"+lon_0={(x0 + x1) / 2:.6f} +ellps=GRS80 +units=m +no_defs")


def ellipsoidal_area(gdf: gpd.GeoDataFrame | gpd.GeoSeries) -> np.ndarray:
    """Area in m² on the CGCS2000 ellipsoid (what 三调 TBMJ holds), vectorised."""
    geoms = gdf.geometry if isinstance(gdf, gpd.GeoDataFrame) else gdf
    if len(geoms) == 0:
        return np.zeros(0)
    return geoms.to_crs(equal_area_crs(geoms)).area.to_numpy()


def to_compute(gdf: gpd.GeoDataFrame, epsg: int | None = None) -> gpd.GeoDataFrame:
    """Reproject to the computing GK zone (given, or derived from the data)."""
    return gdf.to_crs(epsg or compute_epsg(gdf))
