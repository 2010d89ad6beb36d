"""Coordinate systems and measurement.

Storage is CGCS2000 geographic (EPSG:4490). Lengths and distances are computed in the
county's CGCS2000 3° Gauss–Krüger zone; areas are ellipsoidal (as 三调 TBMJ is), all from
:func:`ellipsoidal_area` (geodesic edges on the CGCS2000 ellipsoid, equal to pyproj.Geod).
"""

from __future__ import annotations

from functools import cache

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS, Geod, Transformer
from shapely.errors import GEOSException

from pianqu.errors import UserValueError

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
        raise UserValueError("common.geo.outside_zones", lon=float(lon))
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


# GRS80 = CGCS2000 ellipsoid (CGCS2000's flattening differs from GRS80's in the 12th digit)
GRS80_A = 6378137.0
GRS80_F = 1 / 298.257222101
# Edges longer than this (m) are followed along the geodesic in sub-edges of at most this length:
# below it a straight edge in the polygon's own tangent Albers projection and the geodesic enclose
# the same area to < 1e-10 relative (≈ step²/12R²) (an implementation parameter, not a planning threshold).
GEODESIC_STEP_M = 200.0


@cache
def _to_lonlat(crs_wkt: str) -> Transformer:
    return Transformer.from_crs(CRS.from_wkt(crs_wkt), STORAGE_EPSG, always_xy=True)


def _authalic_q(sinp: np.ndarray, e: float) -> np.ndarray:
    """Snyder's q(φ) (3-12): the authalic function, ∫ of the ellipsoid's area element over φ."""
    es = e * sinp
    return (1 - e * e) * (sinp / (1 - es * es) - np.log((1 - es) / (1 + es)) / (2 * e))


def _densify_geodesic(lon: np.ndarray, lat: np.ndarray, ring: np.ndarray, step: float):
    """Insert points along the geodesic into every edge longer than ``step`` metres.

    ``ring`` labels each vertex's ring (rings closed: last vertex = first). Returns the new
    ``(lon, lat, ring)``; the vertices of an edge keep their order.
    """
    dlon, dlat = np.abs(np.diff(lon)), np.abs(np.diff(lat))
    deg = step / 111_320.0 / np.sqrt(2)  # an edge shorter than this in both degrees is short at any latitude
    long_ = np.flatnonzero(((dlon > deg) | (dlat > deg)) & (ring[1:] == ring[:-1]))
    if len(long_):  # the candidates: their length in metres (approx.; the geodesic length decides the steps)
        dx = dlon[long_] * np.cos(np.radians(lat[long_])) * 111_320.0
        long_ = long_[np.hypot(dx, dlat[long_] * 110_574.0) > step]
    if len(long_) == 0:
        return lon, lat, ring
    geod = Geod(a=GRS80_A, f=GRS80_F)
    az, _, dist = geod.inv(lon[long_], lat[long_], lon[long_ + 1], lat[long_ + 1])
    k = np.ceil(np.asarray(dist) / step).astype(np.int64)  # sub-edges per long edge
    extra = k - 1
    src = np.repeat(long_, extra)
    first = np.repeat(np.cumsum(extra) - extra, extra)  # where each edge's new points start
    frac = (np.arange(len(src)) - first + 1) / np.repeat(k, extra)
    ilon, ilat, _ = geod.fwd(lon[src], lat[src], np.repeat(az, extra), np.repeat(dist, extra) * frac)
    # new vertices sit after their edge's first vertex: a stable sort on (position + fraction)
    pos = np.concatenate([np.arange(len(lon), dtype=float), src + frac])
    order = np.argsort(pos, kind="stable")
    return (np.concatenate([lon, ilon])[order], np.concatenate([lat, ilat])[order],
            np.concatenate([ring, ring[src]])[order])


def ellipsoidal_area(geoms, crs=None) -> np.ndarray:
    """Area in m² on the CGCS2000 ellipsoid (what 三调 TBMJ holds), one per geometry, vectorised.

    The one area function of pianqu: parcel areas, overlay pieces, control lines, units. Equal to
    ``pyproj.Geod(ellps="GRS80").geometry_area_perimeter`` (edges are geodesics) to ~1e-12
    relative for parcels and ~1e-10 for county-size polygons. ``geoms``: a GeoSeries/GeoDataFrame
    (its CRS is used) or an array of shapely geometries in ``crs`` (EPSG code or CRS; default
    EPSG:4490); projected input (a GK zone) is taken back to longitude/latitude first. Polygons
    with holes and multipolygons are summed per geometry; non-polygonal parts, empty and missing
    geometries have area 0.

    How: each polygon is mapped with an Albers equal-area projection (exact: dA = a²/2·dq·dλ)
    tangent at its own mean latitude, where a short straight edge is the geodesic; edges longer
    than :data:`GEODESIC_STEP_M` are first followed along the geodesic; the shoelace sum of the
    projected rings is then the ellipsoidal area.
    """
    if isinstance(geoms, (gpd.GeoDataFrame, gpd.GeoSeries)):
        crs = geoms.crs if crs is None else crs
        geoms = geoms.geometry.to_numpy() if isinstance(geoms, gpd.GeoDataFrame) else geoms.to_numpy()
    arr = np.asarray(geoms, dtype=object).ravel()
    out = np.zeros(len(arr))
    if len(arr) == 0:
        return out
    parts, owner = shapely.get_parts(arr, return_index=True)
    poly = shapely.get_type_id(parts) == 3
    parts, owner = parts[poly], owner[poly]
    if len(parts) == 0:
        return out
    rings, rpoly = shapely.get_rings(parts, return_index=True)
    if len(rings) == 0:
        return out
    exterior = np.r_[True, rpoly[1:] != rpoly[:-1]]  # shapely lists the exterior ring first
    xy, ring = shapely.get_coordinates(rings, return_index=True)
    lon, lat = xy[:, 0], xy[:, 1]
    crs = CRS.from_user_input(crs if crs is not None else STORAGE_EPSG)
    if not crs.is_geographic:
        lon, lat = _to_lonlat(crs.to_wkt()).transform(lon, lat)
        lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    lon, lat, ring = _densify_geodesic(lon, lat, ring, GEODESIC_STEP_M)
    a, f = GRS80_A, GRS80_F
    e = np.sqrt(f * (2 - f))
    # the tangent parallel and central meridian of each polygon (part), from its vertices
    vpoly = rpoly[ring]
    cnt = np.bincount(vpoly, minlength=len(parts))
    latc = np.bincount(vpoly, weights=lat, minlength=len(parts)) / np.maximum(cnt, 1)
    lonc = np.bincount(vpoly, weights=lon, minlength=len(parts)) / np.maximum(cnt, 1)
    sc = np.sin(np.radians(latc))
    n = np.where(np.abs(sc) < 1e-3, np.copysign(1e-3, sc + 1e-300), sc)  # any n is equal-area
    mc2 = np.cos(np.radians(latc)) ** 2 / (1 - (e * sc) ** 2)
    qc = _authalic_q(sc, e)
    cc = mc2 + n * qc  # C with the cone tangent at latc: ρ(latc) = a·m_c/n
    nv, qv = n[vpoly], _authalic_q(np.sin(np.radians(lat)), e)
    s = np.sqrt(np.maximum(cc[vpoly] - nv * qv, 0.0))
    s0 = np.sqrt(mc2)[vpoly]
    rho = a * s / nv
    theta = nv * np.radians(lon - lonc[vpoly])
    x = rho * np.sin(theta)
    y = a * (qv - qc[vpoly]) / (s + s0) + 2 * rho * np.sin(theta / 2) ** 2  # ρc − ρcosθ without cancellation
    same = ring[1:] == ring[:-1]
    cross = (x[:-1] * y[1:] - x[1:] * y[:-1])[same]
    ring_area = np.abs(np.bincount(ring[:-1][same], weights=cross, minlength=len(rings))) / 2
    poly_area = np.bincount(rpoly, weights=np.where(exterior, ring_area, -ring_area), minlength=len(parts))
    np.add.at(out, owner, poly_area)
    return out


def to_compute(gdf: gpd.GeoDataFrame, epsg: int | None = None) -> gpd.GeoDataFrame:
    """Reproject to the computing GK zone (given, or derived from the data)."""
    return gdf.to_crs(epsg or compute_epsg(gdf))


# -- unions and zones ----------------------------------------------------------------------------
GRID_M = 1e-3  # snap-rounding grid (m) of the last-resort union of nearly invalid input


def _geom_values(geoms) -> np.ndarray:
    if isinstance(geoms, (gpd.GeoDataFrame, gpd.GeoSeries)):
        geoms = geoms.geometry.to_numpy() if isinstance(geoms, gpd.GeoDataFrame) else geoms.to_numpy()
    return np.asarray(geoms, dtype=object)


def _polygonal(geoms: np.ndarray) -> np.ndarray:
    """Keep only the polygonal parts of intersection results (as geopandas' keep_geom_type)."""
    out = geoms.copy()
    gtype = shapely.get_type_id(out)
    mixed = np.flatnonzero(gtype == 7)  # GeometryCollection
    for k in mixed:
        parts = [p for p in shapely.get_parts(out[k]) if shapely.get_type_id(p) in (3, 6)]
        polys = [q for p in parts for q in shapely.get_parts(p)]
        out[k] = (polys[0] if len(polys) == 1 else shapely.MultiPolygon(polys)) if polys else shapely.Polygon()
    return out


def union(geoms) -> shapely.Geometry:
    """The union of polygons: a fast coverage union when they tile (edge-matched, no overlaps; the
    result is checked: valid and as large as the parts), else GEOS ``union_all``."""
    geoms = _geom_values(geoms)
    geoms = geoms[~shapely.is_empty(geoms) & ~shapely.is_missing(geoms)]
    if len(geoms) == 0:
        return shapely.Polygon()
    if len(geoms) == 1:
        return geoms[0]
    total = float(shapely.area(geoms).sum())
    try:
        u = shapely.coverage_union_all(geoms)
        if shapely.is_valid(u) and abs(u.area - total) <= 1e-9 * max(total, 1.0):
            return u
    except GEOSException:
        pass
    try:
        return shapely.union_all(geoms)
    except GEOSException:  # inputs made just invalid by a reprojection: repair them, then snap-round
        fixed = _polygonal(shapely.make_valid(geoms))
        try:
            return shapely.union_all(fixed)
        except GEOSException:
            return shapely.union_all(fixed, grid_size=GRID_M)


def dissolve_groups(geoms, labels) -> tuple[np.ndarray, np.ndarray]:
    """Union of the geometries of each label (``coverage_union`` when they tile, else ``union_all``).

    Returns ``(labels, geometries)`` sorted by label.
    """
    geoms = _geom_values(geoms)
    labels = np.asarray(labels)
    order = np.argsort(labels, kind="stable")
    lab, g = labels[order], geoms[order]
    uniq, starts, counts = np.unique(lab, return_index=True, return_counts=True)
    out = np.empty(len(uniq), dtype=object)
    for u, (s, c) in enumerate(zip(starts, counts)):
        out[u] = union(g[s:s + c])
    return uniq, out


def zone_polygons(units: gpd.GeoDataFrame, assignment, *, code: str = "code",
                  epsg: int | None = None) -> gpd.GeoDataFrame:
    """One polygon per zone: the union of its units' polygons.

    The one zone-polygon builder of the project (the plan's ``zone`` layer, the land analyses'
    zones and the service gaps all use it). ``assignment`` maps a unit code to its zone label
    (a Series indexed by code, or a dict); units without a zone (absent or ``''``) are left out.
    Computed in ``epsg`` when given (the frame is reprojected first), else in the units' CRS.

    Returns
    -------
    geopandas.GeoDataFrame
        ``zone`` (str, sorted) and the polygon.
    """
    frame = units if epsg is None or units.crs is None or units.crs.to_epsg() == int(epsg) else units.to_crs(int(epsg))
    mapping = assignment.to_dict() if hasattr(assignment, "to_dict") else dict(assignment)
    mapping = {str(k): ("" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v))
               for k, v in mapping.items()}
    labels = np.asarray([mapping.get(str(c), "") for c in frame[code]], dtype=object)
    keep = labels != ""
    uniq, geoms = dissolve_groups(frame.geometry.to_numpy()[keep], labels[keep].astype(str))
    return gpd.GeoDataFrame({"zone": uniq.astype(object)}, geometry=list(geoms) if len(geoms) else [],
                            crs=frame.crs)
