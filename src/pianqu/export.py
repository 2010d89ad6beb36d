"""Results back into the planner's tools: a scenario's layers as File GDB, Shapefile or GPKG.

``pianqu export`` writes the spatial layers of a plan scenario together with the base layers a
planner needs beside them (county, townships, villages, parcels, the control lines — the
scenario's cleaned lines where it has them), in the county's own CRS (the one its data came in,
recorded at import as ``source_epsg``), with short field names and Chinese aliases:

- **File GDB** (GDAL's OpenFileGDB writer): base layers in the feature dataset ``JCSJ`` (基础数据),
  the scenario's in a feature dataset named after the scenario; layer aliases (``LAYER_ALIAS``)
  and field aliases (GDAL alternative names, passed as Arrow field metadata) in zh or en.
- **Shapefile**: one ``.shp`` per layer, attributes in GBK with a ``.cpg``, field names of at
  most 10 bytes in GBK, and ``字段对照表.csv`` (layer, field, name, alias) beside them.
- **GeoPackage**: the same layers, field aliases as GeoPackage data columns.

Field names come from ``standards/export_fields.csv`` (a layer's own row first, then the ``*``
row): standard names (BSM, TBMJ, XZQDM …) where the planning databases have one, else short
Chinese names, so that ``pianqu import`` recognises the base layers again. Columns without a row
keep their own name, cut to 10 bytes and made unique.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio

from pianqu.errors import PianquError
from pianqu.i18n import translate_keys
from pianqu.findings import Finding
from pianqu.geo import STORAGE_EPSG
from pianqu.schema import LAYERS
from pianqu.standards import table as standards_table
from pianqu.workspace import Workspace

FORMATS = {"gdb": "OpenFileGDB", "shp": "ESRI Shapefile", "gpkg": "GPKG"}
# base layers exported with a scenario (those present); the scenario's own version wins
BASE_LAYERS = ("county", "township", "village", "landuse", "farmland_pbf", "eco_redline", "urban_boundary",
               "reserve", "settlement", "road", "facility", "hazard")
BASE_DATASET = "JCSJ"  # 基础数据: the GDB feature dataset of the base layers
SHP_NAME_BYTES = 10
SHP_ENCODING = "GBK"
FIELD_TABLE = "字段对照表.csv"
GDB_XY_SCALE = 1e6  # coordinate units per unit of the CRS stored in a File GDB (metres: a 1 µm grid)
_MULTI = {"Polygon": "MultiPolygon", "LineString": "MultiLineString", "Point": "Point",
          "MultiPolygon": "MultiPolygon", "MultiLineString": "MultiLineString", "MultiPoint": "MultiPoint"}


class ExportError(PianquError, ValueError):
    """An export that cannot be made; ``rule``/``params`` name the message (locales/export),
    said in the user's language (see :class:`pianqu.errors.PianquError`)."""


@dataclass
class ExportResult:
    """What was written: the target, its CRS and where the CRS came from, one row per layer
    (layer, out_name, source, alias, features, geometry) and per field (layer, field, name, alias)."""

    path: Path
    fmt: str
    epsg: int
    crs_basis: str  # given | recorded | compute_zone | storage
    layers: pd.DataFrame
    fields: pd.DataFrame
    findings: list[Finding] = field(default_factory=list)


@cache
def _field_rows() -> pd.DataFrame:
    return standards_table("export_fields")


def export_fields() -> pd.DataFrame:
    """The export name table (layer, field, name, alias_zh, alias_en, sureness, source);
    ``layer`` ``*`` applies to every layer."""
    return _field_rows().copy()


def _gbk_len(text: str) -> int:
    return len(text.encode(SHP_ENCODING, errors="replace"))


def field_names(layer: str, columns: list[str], lang: str = "zh") -> pd.DataFrame:
    """Output name and alias of each column of ``layer``: the layer's row of the table, else the
    ``*`` row, else the column itself cut to 10 bytes; every name unique within the layer and at
    most 10 bytes in GBK (a Shapefile's limit). The alias falls back to the schema's description."""
    rows = _field_rows()
    own = rows[rows["layer"] == layer].set_index("field")
    common = rows[rows["layer"] == "*"].set_index("field")
    spec = LAYERS.get(layer)
    alias_col = "alias_en" if lang == "en" else "alias_zh"
    out, used = [], set()
    for col in columns:
        row = own.loc[col] if col in own.index else common.loc[col] if col in common.index else None
        name = row["name"] if row is not None else col
        alias = row[alias_col] if row is not None else ""
        if not alias and spec is not None and col in spec.field_names:
            alias = getattr(spec.field(col), "en" if lang == "en" else "zh")
        alias = alias or col
        while _gbk_len(name) > SHP_NAME_BYTES:
            name = name[:-1]
        base, k = name, 1
        while name.upper() in used:
            suffix = f"_{k}"
            name = base
            while _gbk_len(name + suffix) > SHP_NAME_BYTES:
                name = name[:-1]
            name, k = name + suffix, k + 1
        used.add(name.upper())
        out.append({"layer": layer, "field": col, "name": name, "alias": alias})
    return pd.DataFrame(out, columns=["layer", "field", "name", "alias"])


def layer_alias(layer: str, lang: str = "zh") -> str:
    """A layer's name for people: the table's layer row (empty field), else the schema's."""
    rows = _field_rows()
    hit = rows[(rows["layer"] == layer) & (rows["field"] == "")]
    if len(hit):
        return hit.iloc[0]["alias_en" if lang == "en" else "alias_zh"]
    spec = LAYERS.get(layer)
    if spec is not None:
        return spec.en if lang == "en" else spec.zh
    return layer


def gk_with_prefix(epsg: int) -> int:
    """The CGCS2000 3° GK zone with the zone number before the easting (EPSG 4513–4533) of a
    zone given by its central meridian (EPSG 4534–4554); others come back as they are."""
    if 4534 <= epsg <= 4554:
        cm = 75 + 3 * (epsg - 4534)
        return 4513 + cm // 3 - 25
    return epsg


def export_crs(ws: Workspace, epsg: int | None = None) -> tuple[int, str]:
    """The CRS to write in and why: ``given`` (``--crs``), ``recorded`` (the CRS the county's
    data came in, recorded at import), ``compute_zone`` (unknown: the computing GK zone, with the
    zone prefix planners' data usually carries) or ``storage`` (EPSG:4490)."""
    if epsg:
        return int(epsg), "given"
    recorded = (ws.meta.extra or {}).get("source_epsg")
    if recorded:
        return int(recorded), "recorded"
    if ws.meta.compute_epsg:
        return gk_with_prefix(int(ws.meta.compute_epsg)), "compute_zone"
    return STORAGE_EPSG, "storage"


def _plain(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Columns every format stores: text for objects, numbers as numbers, one geometry type."""
    f = frame.copy()
    for col in f.columns:
        if col == f.geometry.name:
            continue
        s = f[col]
        if pd.api.types.is_bool_dtype(s):
            f[col] = s.astype("int16")
        elif pd.api.types.is_integer_dtype(s) and s.dtype.itemsize == 8 and \
                s.dropna().between(-2**31, 2**31 - 1).all():  # 32-bit integers: every ArcGIS reads them
            f[col] = s.astype("Int32" if s.hasnans else "int32")
        elif s.dtype == object or isinstance(s.dtype, pd.StringDtype):
            f[col] = s.map(lambda v: None if v is None or (isinstance(v, float) and np.isnan(v)) else str(v)) \
                .astype(object)
    types = set(f.geom_type.dropna())
    if types & {"Polygon", "MultiPolygon"}:
        f = f.set_geometry(gpd.GeoSeries(
            [g if g is None or g.geom_type == "MultiPolygon" else _to_multi(g) for g in f.geometry],
            index=f.index, crs=f.crs))
    elif types & {"LineString", "MultiLineString"}:
        f = f.set_geometry(gpd.GeoSeries(
            [g if g is None or g.geom_type == "MultiLineString" else _to_multi(g) for g in f.geometry],
            index=f.index, crs=f.crs))
    return f


def _to_multi(g):
    import shapely

    if g.geom_type == "Polygon":
        return shapely.MultiPolygon([g])
    if g.geom_type == "LineString":
        return shapely.MultiLineString([g])
    if g.geom_type == "GeometryCollection":
        parts = [p for p in g.geoms if p.geom_type in ("Polygon", "MultiPolygon")]
        return shapely.MultiPolygon([q for p in parts for q in getattr(p, "geoms", [p])])
    return g


def _geometry_type(frame: gpd.GeoDataFrame) -> str:
    types = sorted(set(frame.geom_type.dropna()))
    multi = {_MULTI.get(t, t) for t in types}
    if len(multi) == 1:
        return multi.pop()
    if multi <= {"Point", "MultiPoint"}:
        return "MultiPoint"
    return "Unknown"


def collect_layers(ws: Workspace, scenario: str, *, base: bool = True) -> list[tuple[str, str, gpd.GeoDataFrame]]:
    """(layer, source, frame in EPSG:4490) of every non-empty spatial layer to export: the base
    layers (the scenario's version where it has one), then the scenario's own."""
    if scenario not in set(ws.scenarios()["name"]):
        raise ExportError("export.no_scenario", scenario=scenario, path=ws.url)
    own = ws.layers(scenario)
    out = []
    names = [n for n in BASE_LAYERS if base and (ws.has(n) or n in own)]
    names += [n for n in own if n not in names]
    for name in names:
        where = scenario if name in own else None
        frame = ws.read(name, where)
        if not isinstance(frame, gpd.GeoDataFrame) or not len(frame) or frame.geometry.isna().all():
            continue
        out.append((name, "scenario" if where else "base", frame))
    return out


def export_scenario(ws: Workspace, scenario: str, out: str | Path, *, fmt: str, epsg: int | None = None,
                    lang: str = "zh", base: bool = True, overwrite: bool = False) -> ExportResult:
    """Write a scenario's layers (and the base layers) for ArcGIS/QGIS.

    A Shapefile export is a directory of ``.shp`` files with the field table; layer and field
    names follow ``standards/export_fields.csv``. The target is written beside and moved in place
    when complete.

    Parameters
    ----------
    ws : pianqu.workspace.Workspace
        The county workspace.
    scenario : str
        The plan scenario to export.
    out : str or pathlib.Path
        The target: a ``.gdb`` folder, a folder of Shapefiles or a ``.gpkg``.
    fmt : {"gdb", "shp", "gpkg"}
        File format.
    epsg : int, optional
        Target CRS (default :func:`export_crs`: the one the data came in, else the GK zone).
    lang : {"zh", "en"}, default "zh"
        Language of layer and field aliases.
    base : bool, default True
        Also export the base layers.
    overwrite : bool, default False
        Replace an existing ``out`` (else refused).

    Returns
    -------
    ExportResult
        ``path``, ``fmt``, ``epsg``, ``crs_basis``, ``layers`` and ``fields`` (what was written,
        with names and aliases) and ``findings``.
    """
    if fmt not in FORMATS:
        raise ExportError("export.unknown_format", fmt=fmt, formats=", ".join(FORMATS))
    out = Path(out)
    if out.exists() and not overwrite:
        raise ExportError("export.exists", path=str(out))
    out.parent.mkdir(parents=True, exist_ok=True)  # an unwritable place fails here, before any work
    crs, basis = export_crs(ws, epsg)
    findings: list[Finding] = []
    if basis == "compute_zone" or basis == "storage":
        findings.append(Finding("warning", "export.crs_unknown", "", params={"epsg": crs}))
    layers = collect_layers(ws, scenario, base=base)
    tmp = out.with_name(f".{out.stem}.tmp{out.suffix}")  # the driver reads the suffix
    _remove(tmp)
    if fmt == "shp":
        tmp.mkdir(parents=True)
    rows, frows = [], []
    try:
        for name, source, frame in layers:
            cols = [c for c in frame.columns if c != frame.geometry.name]
            fn = field_names(name, cols, lang)
            g = _plain(frame.to_crs(crs))
            if "action" in g.columns:  # a recommended action is stored as its locale key
                g["action"] = translate_keys(g["action"], lang)
            g = g.rename(columns=dict(zip(fn["field"], fn["name"])))
            alias = layer_alias(name, lang)
            out_name = name
            _write(g, tmp, out_name, fmt, aliases=dict(zip(fn["name"], fn["alias"])), alias=alias,
                   dataset=None if fmt != "gdb" else (scenario if source == "scenario" else BASE_DATASET),
                   crs=crs)
            rows.append({"layer": name, "out_name": out_name, "source": source, "alias": alias, "features": len(g),
                         "geometry": _geometry_type(g)})
            frows.append(fn.assign(out_name=out_name))
        fields = pd.concat(frows, ignore_index=True) if frows else pd.DataFrame(
            columns=["layer", "field", "name", "alias", "out_name"])
        if fmt == "shp":
            fields.rename(columns={"layer": "图层", "out_name": "文件", "field": "pianqu字段", "name": "字段名",
                                   "alias": "别名"})[["图层", "文件", "pianqu字段", "字段名", "别名"]].to_csv(
                tmp / FIELD_TABLE, index=False, encoding="utf-8-sig")
        if out.exists():
            _remove(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp.rename(out)
    finally:
        _remove(tmp)
    return ExportResult(out, fmt, crs, basis, pd.DataFrame(rows), fields, findings)


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


def _write(g: gpd.GeoDataFrame, target: Path, layer: str, fmt: str, *, aliases: dict[str, str], alias: str,
           dataset: str | None, crs: int) -> None:
    gtype = _geometry_type(g)
    if fmt == "shp":
        pyogrio.write_dataframe(g, target / f"{layer}.shp", driver=FORMATS[fmt], encoding=SHP_ENCODING,
                                geometry_type=gtype if gtype != "Unknown" else None)
        return
    import pyarrow as pa
    from pyogrio.raw import write_arrow

    table = pa.table(g.to_arrow(geometry_encoding="WKB", index=False))
    schema = []
    for f in table.schema:
        if f.name in aliases and aliases[f.name] != f.name:
            f = f.with_metadata({**(f.metadata or {}), b"GDAL:OGR:alternative_name": aliases[f.name].encode("utf-8")})
        schema.append(f)
    table = pa.Table.from_arrays(table.columns, schema=pa.schema(schema, metadata=table.schema.metadata))
    options = {}
    if fmt == "gdb":
        # a 1 µm grid (GDAL's default for projected CRSs is 0.1 mm): areas come back to 1e-6 relative
        options = {"LAYER_ALIAS": alias, "XYSCALE": str(GDB_XY_SCALE), "XYTOLERANCE": str(10.0 / GDB_XY_SCALE),
                   **({"FEATURE_DATASET": dataset} if dataset else {})}
    else:
        options = {"IDENTIFIER": alias, "DESCRIPTION": alias}
    write_arrow(table, str(target), layer=layer, driver=FORMATS[fmt], geometry_name=g.geometry.name,
                geometry_type=gtype, crs=f"EPSG:{crs}", append=target.exists(), layer_options=options)
