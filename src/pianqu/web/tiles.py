"""Vector tiles (MVT) of a workspace layer: ``ST_AsMVT`` on PostGIS, the same tile in Python on a
GeoPackage (bbox read, clip to the buffered tile, simplify per zoom, encode).

Geometries are stored in EPSG:4490 (CGCS2000 geographic, lon/lat); tiles are Web Mercator
(EPSG:3857) XYZ tiles with an extent of 4096 and a buffer of 64 units, as MapLibre expects.
CGCS2000 and WGS 84 differ by centimetres, below a tile unit at every zoom a county map uses.
"""

from __future__ import annotations

import math
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer

EXTENT = 4096
BUFFER = 64
HALF = 20037508.342789244  # half the Web Mercator world, m
MAX_ZOOM = 22

_TO_3857 = Transformer.from_crs(4490, 3857, always_xy=True)
_TO_4490 = Transformer.from_crs(3857, 4490, always_xy=True)


def tile_bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """The tile's bounds in EPSG:3857 (minx, miny, maxx, maxy)."""
    size = 2 * HALF / (1 << z)
    minx = -HALF + x * size
    maxy = HALF - y * size
    return minx, maxy - size, minx + size, maxy


def valid_tile(z: int, x: int, y: int) -> bool:
    return 0 <= z <= MAX_ZOOM and 0 <= x < (1 << z) and 0 <= y < (1 << z)


def lonlat_bounds(bounds: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    """3857 bounds → lon/lat bounds (Mercator is axis-aligned: the corners suffice)."""
    xs, ys = _TO_4490.transform([bounds[0], bounds[2]], [bounds[1], bounds[3]])
    return min(xs), min(ys), max(xs), max(ys)


def to_3857(geoms: np.ndarray) -> np.ndarray:
    return shapely.transform(geoms, lambda xy: np.column_stack(_TO_3857.transform(xy[:, 0], xy[:, 1])))


def _plain(value: Any) -> Any:
    """A property value MVT can carry (None drops the property)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (np.integer, int)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        return None if math.isnan(value) else float(value)
    return str(value)


def encode_tile(frame: gpd.GeoDataFrame, layer: str, z: int, x: int, y: int) -> bytes:
    """One MVT tile of ``frame`` (EPSG:4490, already limited to about the tile) as layer ``layer``.
    Properties: every scalar column (identify asks the server by position, not by feature id)."""
    import mapbox_vector_tile

    bounds = tile_bounds(z, x, y)
    pad = (bounds[2] - bounds[0]) * BUFFER / EXTENT
    clip_box = shapely.box(bounds[0] - pad, bounds[1] - pad, bounds[2] + pad, bounds[3] + pad)
    if frame.empty:
        return b""
    geoms = to_3857(frame.geometry.values)
    geoms = shapely.clip_by_rect(geoms, *clip_box.bounds)
    tolerance = (bounds[2] - bounds[0]) / EXTENT * 0.5  # half a tile unit: invisible
    geoms = shapely.simplify(geoms, tolerance, preserve_topology=True)
    keep = ~(shapely.is_empty(geoms) | shapely.is_missing(geoms))
    if not keep.any():
        return b""
    attrs = frame.drop(columns=frame.geometry.name)
    features = []
    columns = list(attrs.columns)
    values = attrs.to_numpy(dtype=object)
    for i in np.flatnonzero(keep):
        props = {c: v for c, v in ((c, _plain(values[i][j])) for j, c in enumerate(columns)) if v is not None}
        features.append({"geometry": geoms[i].wkb, "properties": props})
    return mapbox_vector_tile.encode(
        [{"name": layer, "features": features}],
        default_options={"quantize_bounds": bounds, "extents": EXTENT, "y_coord_down": False,
                         "on_invalid_geometry": mapbox_vector_tile.encoder.on_invalid_geometry_make_valid})


def gpkg_tile(ws, table_layer: str, scenario: str | None, z: int, x: int, y: int) -> bytes:
    """The tile of a workspace layer read with ``ws.read(..., bbox=)`` (the GeoPackage's R-tree)."""
    bounds = tile_bounds(z, x, y)
    pad = (bounds[2] - bounds[0]) * BUFFER / EXTENT
    bbox = lonlat_bounds((bounds[0] - pad, bounds[1] - pad, bounds[2] + pad, bounds[3] + pad))
    frame = ws.read(table_layer, scenario, bbox=bbox)
    if not isinstance(frame, gpd.GeoDataFrame) or frame.empty:
        return b""
    return encode_tile(frame, table_layer, z, x, y)


def postgis_tile(backend, table: str, layer: str, z: int, x: int, y: int) -> bytes:
    """The tile of ``schema.table`` by ``ST_AsMVT``/``ST_AsMVTGeom`` (4490 → 3857 in the database)."""
    from pianqu.store.postgis import FID, GEOMETRY, _qi

    cols = [c for c in backend._columns(table) if c.name != GEOMETRY]
    select = ", ".join(f"t.{_qi(c.name)}" for c in cols if c.name != FID)
    name = backend._name(table)
    sql = (f"WITH b AS (SELECT ST_TileEnvelope(%s, %s, %s) AS env), "
           f"m AS (SELECT ST_AsMVTGeom(ST_Transform(t.{_qi(GEOMETRY)}, 3857), b.env, {EXTENT}, {BUFFER}, true) AS geom, "
           f"{select or 'NULL AS none'} FROM {name} t, b "
           f"WHERE t.{_qi(GEOMETRY)} && ST_Transform(ST_Expand(b.env, (ST_XMax(b.env) - ST_XMin(b.env)) * {BUFFER / EXTENT}), 4490)) "
           f"SELECT ST_AsMVT(m.*, %s, {EXTENT}, 'geom') FROM m WHERE geom IS NOT NULL")
    row = backend._connection().execute(sql, [z, x, y, layer]).fetchone()
    return bytes(row[0]) if row and row[0] is not None else b""
