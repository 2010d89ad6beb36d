"""Small tables written straight into the workspace with SQLite, as GDAL would write them.

A planner's single write (a decision, a zone edit) replaces a table of a few dozen rows; staging
it through pyogrio costs a GeoPackage made by GDAL (its metadata tables, ~5–20 ms) and then an
ATTACH and a copy. Here such a table is *prepared* in memory instead (:func:`prepare`: the
``CREATE TABLE`` GDAL would issue, the rows with GeoPackage geometry blobs, the R-tree entries,
the extent) and written inside the commit's transaction (:func:`write_prepared`). Everything a
GDAL write leaves is reproduced — column types, ``fid`` 1..n, the ``geom`` blobs (GP header,
srs 4490, little-endian, an xy envelope except for a point, the empty flag and no envelope for an
empty geometry, then ISO WKB; singles promoted to multi as ``_write_frame`` asks pyogrio to, an
empty one as a multi of one empty part), DateTime text as GDAL formats it, ``gpkg_contents`` with
the extent as GDAL's SQLite prints it, ``gpkg_geometry_columns``, ``gpkg_ogr_contents``,
``gpkg_extensions``, the R-tree, GDAL's triggers and the AUTOINCREMENT sequence — so that GDAL,
pyogrio and QGIS read it back identically (tests/core/test_workspace_direct.py writes random
frames both ways and compares what pyogrio reads, bbox reads through the R-tree, and the SQLite
rows, schema and registrations themselves).

A frame this module is not sure about (a dtype or geometry it does not encode, 3D, odd names)
gets ``None`` from :func:`prepare` and goes through pyogrio as before.

When the table already exists with exactly the schema the new one would have (a decision or a
zone edit changes values, not columns), its rows are replaced in place (``DELETE`` + ``INSERT``;
GDAL's triggers keep the R-tree and the feature count) instead of dropping and creating it: the
schema is not changed, so no connection (ours, GDAL's, QGIS's) has to re-read the ~70 layers'
schema after the write.
"""

from __future__ import annotations

import re
import struct
import sqlite3
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from pianqu.geo import STORAGE_EPSG

GEOM_COLUMN = "geom"  # GDAL's GEOMETRY_NAME default for a GeoPackage layer
_RTREE_EXTENSION = ("gpkg_rtree_index", "http://www.geopackage.org/spec120/#extension_rtree", "write-only")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_GDAL_TYPE = {"Point": "POINT", "LineString": "LINESTRING", "Polygon": "POLYGON", "MultiPoint": "MULTIPOINT",
              "MultiLineString": "MULTILINESTRING", "MultiPolygon": "MULTIPOLYGON",
              "GeometryCollection": "GEOMETRYCOLLECTION", "Unknown": "GEOMETRY"}
_TYPE_NAMES = {0: "Point", 1: "LineString", 2: "LinearRing", 3: "Polygon", 4: "MultiPoint", 5: "MultiLineString",
               6: "MultiPolygon", 7: "GeometryCollection"}
_MULTI = {"Point": shapely.multipoints, "LineString": shapely.multilinestrings, "Polygon": shapely.multipolygons}


@dataclass
class Prepared:
    """A table ready to be written with SQLite (see the module docstring)."""

    table: str
    create: str  # the CREATE TABLE statement, as GDAL words it
    columns: list[str]  # in the file's order, fid (and geom) first
    rows: list[tuple]
    geometry_type: str | None = None  # GDAL's name (MULTIPOLYGON, GEOMETRY, ...); None: attributes
    rtree: list[tuple] = field(default_factory=list)  # (fid, minx, maxx, miny, maxy)
    extent: tuple | None = None  # (min_x, min_y, max_x, max_y) of the non-empty geometries

    @property
    def spatial(self) -> bool:
        return self.geometry_type is not None

    @property
    def rtree_name(self) -> str:
        return f"rtree_{self.table}_{GEOM_COLUMN}"

    def schema(self) -> list[tuple[str, str, str]]:
        """(type, name, sql) of every sqlite_master entry GDAL makes for the table."""
        t, g, r = self.table, GEOM_COLUMN, self.rtree_name
        out = [("table", t, self.create)]
        if self.spatial:
            out.append(("table", r, f'CREATE VIRTUAL TABLE "{r}" USING rtree(id, minx, maxx, miny, maxy)'))
            out += [("trigger", name, sql) for name, sql in _rtree_triggers(t, g)]
        out += [("trigger", name, sql) for name, sql in _count_triggers(t)]
        return out


def _rtree_triggers(t: str, g: str) -> list[tuple[str, str]]:
    """The R-tree triggers, worded as GDAL 3.12 creates them."""
    r = f"rtree_{t}_{g}"
    env = f'ST_MinX(NEW."{g}"), ST_MaxX(NEW."{g}"),ST_MinY(NEW."{g}"), ST_MaxY(NEW."{g}")'
    return [
        (f"{r}_insert", f'CREATE TRIGGER "{r}_insert" AFTER INSERT ON "{t}" WHEN (new."{g}" NOT NULL AND NOT '
                        f'ST_IsEmpty(NEW."{g}")) BEGIN INSERT OR REPLACE INTO "{r}" VALUES (NEW."fid",{env}); END'),
        (f"{r}_update6", f'CREATE TRIGGER "{r}_update6" AFTER UPDATE OF "{g}" ON "{t}" WHEN OLD."fid" = NEW."fid" AND '
                         f'(NEW."{g}" NOTNULL AND NOT ST_IsEmpty(NEW."{g}")) AND (OLD."{g}" NOTNULL AND NOT '
                         f'ST_IsEmpty(OLD."{g}")) BEGIN UPDATE "{r}" SET minx = ST_MinX(NEW."{g}"), maxx = '
                         f'ST_MaxX(NEW."{g}"),miny = ST_MinY(NEW."{g}"), maxy = ST_MaxY(NEW."{g}") WHERE id = '
                         f'NEW."fid";END'),
        (f"{r}_update7", f'CREATE TRIGGER "{r}_update7" AFTER UPDATE OF "{g}" ON "{t}" WHEN OLD."fid" = NEW."fid" AND '
                         f'(NEW."{g}" NOTNULL AND NOT ST_IsEmpty(NEW."{g}")) AND (OLD."{g}" ISNULL OR '
                         f'ST_IsEmpty(OLD."{g}")) BEGIN INSERT INTO "{r}" VALUES (NEW."fid",{env}); END'),
        (f"{r}_update2", f'CREATE TRIGGER "{r}_update2" AFTER UPDATE OF "{g}" ON "{t}" WHEN OLD."fid" = NEW."fid" AND '
                         f'(NEW."{g}" ISNULL OR ST_IsEmpty(NEW."{g}")) BEGIN DELETE FROM "{r}" WHERE id = '
                         f'OLD."fid"; END'),
        (f"{r}_update5", f'CREATE TRIGGER "{r}_update5" AFTER UPDATE ON "{t}" WHEN OLD."fid" != NEW."fid" AND '
                         f'(NEW."{g}" NOTNULL AND NOT ST_IsEmpty(NEW."{g}")) BEGIN DELETE FROM "{r}" WHERE id = '
                         f'OLD."fid"; INSERT OR REPLACE INTO "{r}" VALUES (NEW."fid",{env}); END'),
        (f"{r}_update4", f'CREATE TRIGGER "{r}_update4" AFTER UPDATE ON "{t}" WHEN OLD."fid" != NEW."fid" AND '
                         f'(NEW."{g}" ISNULL OR ST_IsEmpty(NEW."{g}")) BEGIN DELETE FROM "{r}" WHERE id IN '
                         f'(OLD."fid", NEW."fid"); END'),
        (f"{r}_delete", f'CREATE TRIGGER "{r}_delete" AFTER DELETE ON "{t}" WHEN old."{g}" NOT NULL BEGIN DELETE '
                        f'FROM "{r}" WHERE id = OLD."fid"; END'),
    ]


def _count_triggers(t: str) -> list[tuple[str, str]]:
    """GDAL's triggers keeping ``gpkg_ogr_contents.feature_count`` for other writers."""
    return [(f"trigger_{op}_feature_count_{t}",
             f'CREATE TRIGGER "trigger_{op}_feature_count_{t}" AFTER {op.upper()} ON "{t}" BEGIN UPDATE '
             f"gpkg_ogr_contents SET feature_count = feature_count {sign} 1 WHERE lower(table_name) = "
             f"lower('{t}'); END") for op, sign in (("insert", "+"), ("delete", "-"))]


# -- the extent as GDAL stores it -----------------------------------------------------------------
# GDAL writes gpkg_contents' extent with sqlite3_mprintf("%.17g") of the SQLite it bundles (3.53 in
# pyogrio's wheels), which keeps 16 significant digits, and SQLite parses that text back: the
# stored double is not the exact one. The two conversions below are SQLite 3.53's
# (sqlite3FpDecode / sqlite3Fp2Convert10 / sqlite3Fp10Convert2, 96-bit powers of ten), so that
# the extent is bit for bit GDAL's; tests/core/test_workspace_direct.py checks it against GDAL.
_M64 = (1 << 64) - 1


def _pow10_96(p: int) -> tuple[int, int]:
    """(high 64 bits, next 32 bits) of 10**p normalised to 96 bits, truncated."""
    if p >= 0:
        n = 10 ** p
        shift = n.bit_length() - 96
        q = n >> shift if shift >= 0 else n << -shift
    else:
        d = 10 ** (-p)
        k = 95 + d.bit_length()
        q = (1 << k) // d
        while q.bit_length() > 96:
            k -= 1
            q = (1 << k) // d
        while q.bit_length() < 96:
            k += 1
            q = (1 << k) // d
    return q >> 32, q & 0xFFFFFFFF


def _p10to2(p: int) -> int:
    return (p * 108853) >> 15


def _p2to10(p: int) -> int:
    return (p * 78913) >> 18


def _fp10_convert2(d: int, p: int) -> float:
    b = d.bit_length()
    lp = _p10to2(p)
    e = 53 - b - lp
    s = -(e - (64 - b) + lp + 3)
    hi10, lo10 = _pow10_96(p)
    if lo10:
        hi10 += 1
        lo10 = ~lo10 & 0xFFFFFFFF
    x = (d << (64 - b)) & _M64
    prod = x * hi10
    hi, mid1 = prod >> 64, ((prod & _M64) >> 32)
    sticky = 1
    if hi & ((1 << s) - 1) == 0:
        mid2 = ((x * (lo10 << 32)) >> 96) & 0xFFFFFFFF
        sticky = int(((mid1 - mid2) & 0xFFFFFFFF) > 1)
        hi -= int(mid1 < mid2)
    u = (hi >> s) | sticky
    if u >= (1 << 55) - 2:
        u = (u >> 1) | (u & 1)
        e -= 1
    m = (u + 1 + ((u >> 2) & 1)) >> 2
    if m & (1 << 52):
        m = (m & ~(1 << 52)) | ((1075 - e) << 52)
    return struct.unpack("<d", struct.pack("<Q", m))[0]


def sqlite_printed(r: float) -> float:
    """``r`` printed by SQLite 3.53's ``%.17g`` (16 significant digits) and read back by it."""
    if r == 0 or r != r or abs(r) == float("inf") or abs(r) < 2.3e-308:
        return float(r)  # zero, NaN, infinite, subnormal: as they are
    bits = struct.unpack("<Q", struct.pack("<d", abs(r)))[0]
    e = ((bits >> 52) & 0x7FF) - 1086
    m = ((bits & ((1 << 52) - 1)) << 11) | (1 << 63)
    p = 17 - _p2to10(e + 63)
    h = ((m * _pow10_96(p)[0]) >> 64) >> -(e + _p10to2(p) + 2)
    digits = list(str((h + ((h << 1) & 2)) >> 1))
    point = len(digits) - p
    if len(digits) > 16:
        up = digits[16] >= "5"
        digits = digits[:16]
        j = 15
        while up:
            if digits[j] != "9":
                digits[j] = chr(ord(digits[j]) + 1)
                break
            digits[j] = "0"
            if j == 0:
                digits.insert(0, "1")
                point += 1
                break
            j -= 1
    text = "".join(digits).rstrip("0")
    value = _fp10_convert2(int(text), point - len(text))
    return -value if r < 0 else value


# -- preparing ------------------------------------------------------------------------------------
def column_values(series: pd.Series) -> tuple[str, list] | None:
    """(GDAL's column type, the values as SQLite takes them) of a column; None when not sure."""
    dtype = series.dtype
    if dtype == np.int64:
        return "INTEGER", series.to_numpy().tolist()
    if dtype == np.float64:
        values = series.to_numpy()
        out = values.tolist()
        if np.isnan(values).any():
            out = [None if v != v else v for v in out]
        return "REAL", out
    if dtype == np.bool_:
        return "BOOLEAN", series.to_numpy().astype(np.int64).tolist()
    if isinstance(dtype, pd.StringDtype):
        return "TEXT", series.to_numpy(dtype=object, na_value=None).tolist()
    if dtype == object:
        values = series.tolist()
        if all(v is None or type(v) is str for v in values):
            return "TEXT", values
        return None
    if isinstance(dtype, pd.DatetimeTZDtype) or (isinstance(dtype, np.dtype) and dtype.kind == "M"):
        return "DATETIME", _datetimes(series)
    return None


def _datetimes(series: pd.Series) -> list:
    """ISO 8601 as GDAL writes a DateTime field into a GeoPackage: milliseconds only when not
    zero (truncated, not rounded), ``Z`` for UTC, ``±HH:MM`` for another offset, none when naive."""
    aware = isinstance(series.dtype, pd.DatetimeTZDtype)
    local = series.dt.tz_localize(None) if aware else series
    offsets = None
    if aware:
        minutes = ((local - series.dt.tz_convert("UTC").dt.tz_localize(None)) // pd.Timedelta("1min")).to_numpy()
        offsets = minutes
    parts = [local.dt.year, local.dt.month, local.dt.day, local.dt.hour, local.dt.minute, local.dt.second,
             local.dt.microsecond // 1000]
    rows = np.column_stack([p.to_numpy(dtype="float64", na_value=np.nan) for p in parts])
    out: list = []
    for k, (y, mo, d, h, mi, s, ms) in enumerate(rows.tolist()):
        if y != y:
            out.append(None)
            continue
        text = f"{int(y):04d}-{int(mo):02d}-{int(d):02d}T{int(h):02d}:{int(mi):02d}:{int(s):02d}"
        if ms:
            text += f".{int(ms):03d}"
        if offsets is not None:
            off = int(offsets[k])
            text += "Z" if off == 0 else f"{'+' if off > 0 else '-'}{abs(off) // 60:02d}:{abs(off) % 60:02d}"
        out.append(text)
    return out


def geometry_blobs(geoms: np.ndarray, srs_id: int = STORAGE_EPSG) -> tuple[list, np.ndarray]:
    """GeoPackage geometry blobs of 2D shapely geometries (None stays NULL) and their bounds
    (minx, miny, maxx, maxy; NaN for a NULL or empty geometry), vectorised."""
    n = len(geoms)
    blobs: list = [None] * n
    bounds = shapely.bounds(geoms)
    if n == 0:
        return blobs, bounds
    present = ~shapely.is_missing(geoms)
    empty = present & shapely.is_empty(geoms)
    full = present & ~empty
    wkb = shapely.to_wkb(geoms, byte_order=1, flavor="iso", output_dimension=2)
    srs = struct.pack("<i", srs_id)
    head_full = b"GP\x00\x03" + srs  # little-endian, an xy envelope
    head_point = b"GP\x00\x01" + srs  # a point has no envelope (GDAL leaves it out)
    head_empty = b"GP\x00\x11" + srs  # the empty flag, no envelope
    env = np.ascontiguousarray(bounds[:, [0, 2, 1, 3]], dtype="<f8")
    point = shapely.get_type_id(geoms) == 0
    for k in np.flatnonzero(full & ~point).tolist():
        blobs[k] = head_full + env[k].tobytes() + wkb[k]
    for k in np.flatnonzero(full & point).tolist():
        blobs[k] = head_point + wkb[k]
    for k in np.flatnonzero(empty).tolist():
        blobs[k] = head_empty + wkb[k]
    return blobs, bounds


def _geometry(frame: gpd.GeoDataFrame) -> tuple[str, np.ndarray] | None:
    """(GDAL's geometry type name, the geometries as written) as ``_write_frame`` has pyogrio
    write them: promoted to multi when the layer mixes types or holds a multi type; None when
    this module does not encode them."""
    geoms = np.asarray(frame.geometry.values, dtype=object)
    present = ~shapely.is_missing(geoms)
    if present.any():
        kinds = shapely.get_type_id(geoms[present])
        if (kinds == 2).any() or (kinds < 0).any():  # a LinearRing
            return None
        if shapely.has_z(geoms[present & ~shapely.is_empty(geoms)]).any():
            return None
    ids = shapely.get_type_id(geoms[present])
    types = [_TYPE_NAMES[i] for i in sorted(set(ids.tolist()))]
    promote = len(types) > 1 or any(t.startswith("Multi") for t in types)
    if len(types) == 1:
        name = f"Multi{types[0]}" if promote is True and types[0] in _MULTI else types[0]
    elif len(types) == 2 and promote:
        pair = set(types)
        name = next((m for s, m in (("Polygon", "MultiPolygon"), ("LineString", "MultiLineString"),
                                     ("Point", "MultiPoint")) if pair == {s, m}), "Unknown")
    else:
        name = "Unknown"
    if name not in _GDAL_TYPE:
        return None
    if promote:  # an empty single becomes a multi of one empty part, as OGR's ForceToMulti makes it
        geoms = geoms.copy()
        for single, make in _MULTI.items():
            mask = present & (shapely.get_type_id(geoms) == {"Point": 0, "LineString": 1, "Polygon": 3}[single])
            if mask.any():
                geoms[mask] = make(np.atleast_2d(geoms[mask]), axis=0)
    return _GDAL_TYPE[name], geoms


def prepare(table: str, frame: pd.DataFrame, max_rows: int) -> Prepared | None:
    """``frame`` ready to be written as ``table`` with SQLite, or None when it is larger than
    ``max_rows`` or holds something this module does not encode (pyogrio writes it then)."""
    if max_rows <= 0 or len(frame) > max_rows or not _NAME.match(table) or len(table) > 200 or frame.columns.duplicated().any():
        return None
    spatial = isinstance(frame, gpd.GeoDataFrame) and frame._geometry_column_name in frame.columns
    geo_cols = [c for c, t in frame.dtypes.items() if isinstance(t, gpd.array.GeometryDtype)]
    geo_name = frame._geometry_column_name if spatial else None
    if geo_cols != ([geo_name] if spatial else []):
        return None
    if spatial and (frame.crs is None or frame.crs.to_epsg() != STORAGE_EPSG):
        return None  # _write_frame refuses it with a message
    names = [c for c in frame.columns if c != geo_name]
    if not all(isinstance(c, str) and c and '"' not in c and not any(ord(ch) < 32 for ch in c) for c in names):
        return None
    lower = [c.lower() for c in names]
    if len(set(lower)) != len(lower) or "fid" in lower or (spatial and GEOM_COLUMN in lower):
        return None
    defs, values = ['"fid" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL'], [list(range(1, len(frame) + 1))]
    columns = ["fid"]
    geometry_type, rtree, extent = None, [], None
    if spatial:
        got = _geometry(frame)
        if got is None:
            return None
        geometry_type, geoms = got
        blobs, bounds = geometry_blobs(geoms)
        defs.append(f'"{GEOM_COLUMN}" {geometry_type}')
        values.append(blobs)
        columns.append(GEOM_COLUMN)
        ok = ~np.isnan(bounds[:, 0])
        if ok.any():
            b = bounds[ok]
            extent = tuple(sqlite_printed(float(v)) for v in (b[:, 0].min(), b[:, 1].min(), b[:, 2].max(), b[:, 3].max()))
            fids = np.flatnonzero(ok) + 1
            rtree = list(zip(fids.tolist(), b[:, 0].tolist(), b[:, 2].tolist(), b[:, 1].tolist(), b[:, 3].tolist()))
    for name, series in frame.items():
        if name == geo_name:
            continue
        col = column_values(series)
        if col is None:
            return None
        defs.append(f'"{name}" {col[0]}')
        values.append(col[1])
        columns.append(name)
    create = f'CREATE TABLE "{table}" ( {", ".join(defs)})'
    return Prepared(table, create, columns, list(zip(*values)) if len(frame) else [], geometry_type, rtree, extent)


# -- writing (inside the caller's transaction) ----------------------------------------------------
def can_write(con: sqlite3.Connection, tables: dict[str, str]) -> bool:
    """Whether the workspace has what a direct write registers the table in (GDAL made them)."""
    need = ("gpkg_contents", "gpkg_geometry_columns", "gpkg_ogr_contents", "gpkg_extensions",
            "gpkg_spatial_ref_sys", "sqlite_sequence")
    if not all(t in tables for t in need):
        return False
    return con.execute("SELECT 1 FROM gpkg_spatial_ref_sys WHERE srs_id=?", (STORAGE_EPSG,)).fetchone() is not None


def same_schema(con: sqlite3.Connection, prep: Prepared) -> bool:
    """Whether the table exists with exactly the schema (table, R-tree, triggers) ``prep`` has."""
    have = con.execute("SELECT type, name, sql FROM main.sqlite_master WHERE (tbl_name=? OR name=?) "
                       "AND sql IS NOT NULL AND name NOT LIKE 'sqlite_autoindex%'",
                       (prep.table, prep.rtree_name)).fetchall()
    return sorted(have) == sorted(prep.schema())


def _feature_count(con: sqlite3.Connection, table: str) -> int | None:
    row = con.execute("SELECT feature_count FROM gpkg_ogr_contents WHERE lower(table_name)=lower(?)", (table,)).fetchone()
    return None if row is None or row[0] is None else int(row[0])


def write_prepared(con: sqlite3.Connection, prep: Prepared, drop, in_place_max_rows: int = 200) -> None:
    """Replace ``prep.table`` with the prepared rows and registrations. The rows are replaced in
    place when the schema is unchanged and the old and new tables have at most
    ``in_place_max_rows`` rows (GDAL's triggers then run for every row, ~40 µs each); otherwise
    ``drop(con, table)`` (the backend's) drops the table and it is made again."""
    t = prep.table
    cols = ", ".join(f'"{c}"' for c in prep.columns)
    marks = ", ".join("?" * len(prep.columns))
    old = _feature_count(con, t) if len(prep.rows) <= in_place_max_rows else None
    if old is not None and old <= in_place_max_rows and same_schema(con, prep):
        # rows replaced in place: GDAL's triggers keep the R-tree and the feature count
        con.execute(f'DELETE FROM "{t}"')
        if prep.spatial:
            con.execute(f'DELETE FROM "{prep.rtree_name}"')
        con.executemany(f'INSERT INTO "{t}" ({cols}) VALUES ({marks})', prep.rows)
        for reg in ("gpkg_contents", "gpkg_geometry_columns", "gpkg_ogr_contents", "gpkg_extensions"):
            con.execute(f"DELETE FROM {reg} WHERE lower(table_name)=lower(?)", (t,))
        for reg in ("gpkg_data_columns", "gpkg_metadata_reference"):
            if con.execute("SELECT 1 FROM main.sqlite_master WHERE type='table' AND name=?", (reg,)).fetchone():
                con.execute(f"DELETE FROM {reg} WHERE lower(table_name)=lower(?)", (t,))
    else:
        drop(con, t)
        schema = prep.schema()
        for kind, _name, sql in schema:
            if kind == "table":
                con.execute(sql)
        con.executemany(f'INSERT INTO "{t}" ({cols}) VALUES ({marks})', prep.rows)
        if prep.rtree:
            con.executemany(f'INSERT INTO "{prep.rtree_name}" VALUES (?, ?, ?, ?, ?)', prep.rtree)
        for kind, _name, sql in schema:
            if kind == "trigger":
                con.execute(sql)
    # the AUTOINCREMENT sequence at the last fid, as a copied table's (0 for no rows: SQLite
    # writes the row even when an INSERT ... SELECT copies nothing)
    if con.execute("UPDATE sqlite_sequence SET seq=? WHERE name=?", (len(prep.rows), t)).rowcount == 0:
        con.execute("INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)", (t, len(prep.rows)))
    ext = prep.extent or (None, None, None, None)
    con.execute("INSERT INTO gpkg_contents (table_name, data_type, identifier, description, last_change, "
                "min_x, min_y, max_x, max_y, srs_id) VALUES (?, ?, ?, '', strftime('%Y-%m-%dT%H:%M:%fZ','now'), "
                "?, ?, ?, ?, ?)", (t, "features" if prep.spatial else "attributes", t, *ext,
                                   STORAGE_EPSG if prep.spatial else 0))
    con.execute("INSERT INTO gpkg_ogr_contents (table_name, feature_count) VALUES (?, ?)", (t, len(prep.rows)))
    if prep.spatial:
        con.execute("INSERT INTO gpkg_geometry_columns (table_name, column_name, geometry_type_name, srs_id, z, m) "
                    "VALUES (?, ?, ?, ?, 0, 0)", (t, GEOM_COLUMN, prep.geometry_type, STORAGE_EPSG))
        con.execute("INSERT INTO gpkg_extensions (table_name, column_name, extension_name, definition, scope) "
                    "VALUES (?, ?, ?, ?, ?)", (t, GEOM_COLUMN, *_RTREE_EXTENSION))
