"""Geometry: CRS, empty and invalid geometry, wrong geometry type, coordinates outside China
or in projected metres, and area fields that disagree with the ellipsoidal area.

A feature whose geometry is empty, of the wrong type, outside China or in metres is marked
unusable and left out of the partition, containment and road checks (its problem is already
reported); an invalid geometry stays usable and is repaired with ``make_valid`` where used.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely
from pyproj import Transformer

from pianqu.geo import STORAGE_EPSG, accepted_crs, describe_crs, ellipsoidal_area, gk3_epsg, guess_gk_crs
from pianqu.validate._common import Context, LayerData, distinct

ALLOWED_TYPES = {
    "Polygon": {"Polygon", "MultiPolygon"},
    "LineString": {"LineString", "MultiLineString"},
    "Point": {"Point", "MultiPoint"},
}


def prepare_geometry(ctx: Context, data: LayerData) -> None:
    """Bring the layer's geometry to EPSG:4490 and report what makes features unusable."""
    spec = data.spec
    n = len(data)
    if spec is None or spec.geometry is None or not isinstance(data.frame, gpd.GeoDataFrame):
        return
    series = data.frame.geometry
    crs = series.crs
    if crs is not None and crs.to_epsg() != STORAGE_EPSG:
        if not accepted_crs(crs):
            ctx.add("error", "validate.wrong_crs", data.name, crs=describe_crs(crs))
        try:
            series = series.to_crs(STORAGE_EPSG)
        except Exception:  # a CRS pyproj cannot transform: nothing geometric can be checked
            data.geom = np.full(n, None, dtype=object)
            data.usable = np.zeros(n, dtype=bool)
            data.invalid = np.zeros(n, dtype=bool)
            return
    geom = np.asarray(series.reset_index(drop=True).to_numpy(), dtype=object)
    data.geom = geom
    usable = np.ones(n, dtype=bool)

    empty = shapely.is_missing(geom) | shapely.is_empty(geom)
    for i in np.nonzero(empty)[0]:
        ctx.add("error", "validate.empty_geometry", data.name, data.ids[i])
    usable &= ~empty

    types = shapely.get_type_id(geom)
    names = np.array(["Point", "LineString", "LinearRing", "Polygon", "MultiPoint",
                      "MultiLineString", "MultiPolygon", "GeometryCollection"], dtype=object)
    gtype = np.where(types >= 0, names[np.clip(types, 0, 7)], "")
    wrong = usable & ~np.isin(gtype, list(ALLOWED_TYPES[spec.geometry]))
    for i in np.nonzero(wrong)[0]:
        ctx.add("error", "validate.wrong_geometry_type", data.name, data.ids[i],
                expected=spec.geometry, actual=str(gtype[i]))
    usable &= ~wrong

    bounds = np.full((n, 4), np.nan)
    if usable.any():
        bounds[usable] = shapely.bounds(geom[usable])
    x0, y0, x1, y1 = bounds.T
    with np.errstate(invalid="ignore"):
        metres = usable & ((np.abs(x0) > 180) | (np.abs(x1) > 180) | (np.abs(y0) > 90) | (np.abs(y1) > 90))
    if metres.any():
        guess = guess_gk_crs(np.r_[x0[metres], x1[metres]], np.r_[y0[metres], y1[metres]])
        hint = f"EPSG:{guess}" if guess else ""
        for i in np.nonzero(metres)[0]:
            ctx.add("error", "validate.projected_coordinates", data.name, data.ids[i],
                    x=round(float(x0[i]), 1), y=round(float(y0[i]), 1), guess=hint)
    usable &= ~metres

    lon0, lat0, lon1, lat1 = ctx.config["validate.china_bbox"]
    with np.errstate(invalid="ignore"):
        outside = usable & ((x0 < lon0) | (x1 > lon1) | (y0 < lat0) | (y1 > lat1))
    for i in np.nonzero(outside)[0]:
        ctx.add("error", "validate.outside_china", data.name, data.ids[i],
                lon=round(float((x0[i] + x1[i]) / 2), 4), lat=round(float((y0[i] + y1[i]) / 2), 4))
    usable &= ~outside

    invalid = np.zeros(n, dtype=bool)
    if usable.any():
        invalid[usable] = ~shapely.is_valid(geom[usable])
    if invalid.any():
        reasons = shapely.is_valid_reason(geom[invalid])
        for i, reason in zip(np.nonzero(invalid)[0], reasons):
            ctx.add("error", "validate.invalid_geometry", data.name, data.ids[i], reason=str(reason))
    data.usable = usable
    data.invalid = invalid


def check_projected_validity(ctx: Context) -> None:
    """Polygons valid in EPSG:4490 degrees but invalid in the computing GK zone.

    A bow-tie drawn in a projected source can become a valid ring in degrees: the projection is
    not affine, and a shallow crossing of a few millimetres is undone by the curvature of the
    inverse transform. 三调 areas and every GIS topology check are done in the projected plane,
    so validity is tested there too (all coordinates transformed in one vectorised call)."""
    if ctx.compute_epsg is None:
        return
    transformer = Transformer.from_crs(STORAGE_EPSG, ctx.compute_epsg, always_xy=True)

    def to_gk(xy: np.ndarray) -> np.ndarray:
        return np.column_stack(transformer.transform(xy[:, 0], xy[:, 1]))

    for name, data in ctx.layers.items():
        if data.spec is None or data.spec.geometry != "Polygon" or data.geom is None or data.usable is None:
            continue
        rows = np.nonzero(data.usable & ~data.invalid)[0]
        if len(rows) == 0:
            continue
        first, inv = distinct(data.geom[rows])  # parcels repeated across epochs: transformed once
        gk = shapely.transform(data.geom[rows[first]], to_gk)
        bad = (~shapely.is_valid(gk))[inv]
        gk = gk[inv]
        if not bad.any():
            continue
        reasons = shapely.is_valid_reason(gk[bad])
        where = shapely.point_on_surface(data.geom[rows[bad]])
        for i, reason, pt in zip(rows[bad], reasons, where):
            ctx.add("error", "validate.invalid_geometry_projected", name, data.ids[i],
                    reason=str(reason), epsg=int(ctx.compute_epsg),
                    lon=round(float(shapely.get_x(pt)), 6), lat=round(float(shapely.get_y(pt)), 6))
        data.invalid[rows[bad]] = True


def choose_compute_epsg(ctx: Context, preferred: int | None) -> int | None:
    """The GK zone for lengths and areas: the workspace's, else from the usable admin/land layers."""
    if preferred:
        return int(preferred)
    for name in ("county", "township", "village", "landuse", "road", "settlement"):
        data = ctx.get(name)
        if data is None or data.usable is None or not data.usable.any():
            continue
        x0, y0, x1, y1 = shapely.total_bounds(data.geom[data.usable])
        try:
            return gk3_epsg((x0 + x1) / 2)
        except ValueError:
            continue
    return None


def check_areas(ctx: Context) -> None:
    """Area fields against the ellipsoidal area of the geometry: a relative tolerance, and an
    absolute one for small parcels whose recorded area is rounded (TBMJ to the cent)."""
    tol = float(ctx.config["validate.area_rel_tolerance"])
    abs_tol = float(ctx.config["validate.area_abs_tolerance_m2"])
    for name, data in ctx.layers.items():
        spec = data.spec
        if spec is None or spec.geometry != "Polygon" or data.geom is None or not data.has("area_m2"):
            continue
        rows = data.usable & ~data.invalid & data.ok("area_m2")
        if not rows.any():
            continue
        idx = np.nonzero(rows)[0]
        first, inv = distinct(data.geom[idx])  # parcels repeated across epochs: measured once
        geo = ellipsoidal_area(gpd.GeoSeries(data.geom[idx[first]], crs=STORAGE_EPSG))[inv]
        given = data.col("area_m2").to_numpy(dtype=float)[idx]
        rel = np.abs(given - geo) / np.maximum(geo, 1e-9)
        for k in np.nonzero((rel > tol) & (np.abs(given - geo) > abs_tol))[0]:
            i = idx[k]
            ctx.add("warning", "validate.area_mismatch", name, data.ids[i], "area_m2",
                    value=round(float(given[k]), 2), computed=round(float(geo[k]), 2),
                    rel=float(rel[k]), tolerance=tol)
