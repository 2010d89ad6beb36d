"""The province-scale overlay of the control lines against all parcels, with dask-geopandas.

The parcels (base epoch) of every county form one dask-geopandas frame partitioned by county
(one partition per county: a county's parcels and its lines are read together, so no line
is ever cut by a partition edge); each partition is overlaid by :func:`county_line_areas`, the
single-county overlay of :mod:`pianqu.land.overlay` (``intersect_any`` of the parcels against
the line's features made disjoint, in the county's Gauss–Krüger zone, ellipsoidal CGCS2000
areas with the parcels' recorded areas), and the rows per county × line are gathered.

Totals add the pieces with ``math.fsum`` (the exactly rounded sum), so a county's total does not
depend on the order of its pieces, and a city's total (``fsum`` of its counties' pieces) is
exactly what the county-by-county results give, however the work was partitioned.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from pianqu.province.source import Source

LINES = ("farmland_pbf", "eco_redline", "urban_boundary")
COLUMNS = ["county_code", "line", "parcels", "area_m2", "pieces"]


def county_line_areas(parcels: gpd.GeoDataFrame, lines: dict[str, gpd.GeoDataFrame | None],
                      county_code: str) -> pd.DataFrame:
    """Area (m², ellipsoidal) of the county's parcels inside each control line, and how many
    parcels meet it; the pieces' areas are kept (``pieces``, a list) so that sums over counties
    are exact. Overlapping features of one line count once."""
    from pianqu.geo import compute_epsg
    from pianqu.land.overlay import disjoint, intersect_any, project

    rows = []
    if parcels is None or not len(parcels):
        return pd.DataFrame([{"county_code": county_code, "line": n, "parcels": 0, "area_m2": 0.0, "pieces": []}
                             for n in LINES], columns=COLUMNS)
    epsg = compute_epsg(parcels)
    lp = project(parcels, epsg)
    recorded = lp["area_m2"].to_numpy(dtype=float) if "area_m2" in lp else None
    for name in LINES:
        frame = lines.get(name)
        if frame is None or not len(frame):
            rows.append({"county_code": county_code, "line": name, "parcels": 0, "area_m2": 0.0, "pieces": []})
            continue
        feats = disjoint(project(frame, epsg).geometry.to_numpy())
        ov = intersect_any(lp.geometry.to_numpy(), feats, crs=epsg, a_area=recorded)
        pieces = [float(a) for a in ov.area]
        rows.append({"county_code": county_code, "line": name, "parcels": int(len(np.unique(ov.left))),
                     "area_m2": math.fsum(pieces), "pieces": pieces})
    return pd.DataFrame(rows, columns=COLUMNS)


def workspace_line_areas(ws) -> pd.DataFrame:
    """:func:`county_line_areas` of one county workspace (base-epoch parcels, the imported lines)."""
    from pianqu.parcels import select_epoch

    parcels = select_epoch(ws.read("landuse"), meta=ws.meta)
    lines = {n: ws.read(n) if ws.has(n) else None for n in LINES}
    return county_line_areas(parcels, lines, ws.meta.county_code)


def _read_county(src: Source, out: str, code: str, layer: str):
    """One layer of one county from the source (parquet: straight from the set; else the workspace)."""
    if src.kind == "parquet":
        return src.read_county_layers_one(code, layer)
    from pianqu.workspace import Workspace

    url = src.workspace_url(code, out) if src.kind == "postgis" else f"{src.url.rstrip('/')}/{code}.gpkg"
    ws = Workspace.open(url)
    return ws.read(layer) if ws.has(layer) else None


def _partition(src: Source, code: str) -> gpd.GeoDataFrame:
    """One county's base-epoch parcels (a dask partition), with its code."""
    from pianqu.parcels import select_epoch

    parcels = select_epoch(_read_county(src, "", code, "landuse"))
    parcels = parcels[["area_m2", "geometry"]].copy()
    parcels.insert(0, "county_code", code)
    return parcels


def _overlay_partition(part: gpd.GeoDataFrame, src: Source) -> pd.DataFrame:
    if not len(part):
        return pd.DataFrame(columns=COLUMNS)
    code = str(part["county_code"].iloc[0])
    lines = {n: _read_county(src, "", code, n) for n in LINES}
    return county_line_areas(part, lines, code)


def province_overlay(source: str | Path, *, counties: list[str] | None = None, client=None) -> pd.DataFrame:
    """Control lines × parcels of every county of ``source`` as a dask-geopandas computation
    (on ``client`` when given, else dask's default scheduler): one row per county × line with
    ``city_code``, ``parcels``, ``area_m2`` and the exact ``pieces``."""
    import dask.dataframe as dd
    import dask_geopandas  # noqa: F401 - registers the GeoDataFrame backend of dask

    src = Source.open(source)
    codes = list(counties) if counties else src.counties()
    meta = gpd.GeoDataFrame({"county_code": pd.Series(dtype=str), "area_m2": pd.Series(dtype=float)},
                            geometry=gpd.GeoSeries([], crs=4490))
    parcels = dd.from_map(_partition, [src] * len(codes), codes, meta=meta, enforce_metadata=False)
    out_meta = pd.DataFrame({"county_code": pd.Series(dtype=str), "line": pd.Series(dtype=str),
                             "parcels": pd.Series(dtype=int), "area_m2": pd.Series(dtype=float),
                             "pieces": pd.Series(dtype=object)})
    res = parcels.map_partitions(_overlay_partition, src, meta=out_meta)
    frame = client.compute(res).result() if client is not None else res.compute()
    return with_cities(frame.sort_values(["county_code", "line"]).reset_index(drop=True))


def with_cities(frame: pd.DataFrame) -> pd.DataFrame:
    from pianqu import divisions

    c = divisions.counties().set_index("code")
    frame = frame.copy()
    frame.insert(1, "city_code", frame["county_code"].map(c["city_code"]).astype(str))
    return frame


def city_totals(by_county: pd.DataFrame) -> pd.DataFrame:
    """Totals per city × line: the exactly rounded sum of all its counties' pieces."""
    from pianqu import divisions

    names = divisions.counties().drop_duplicates("city_code").set_index("city_code")["city_name"]
    rows = []
    for (city, line), g in by_county.groupby(["city_code", "line"], sort=True):
        rows.append({"city_code": city, "city_name": names.get(city, ""), "line": line,
                     "counties": int(len(g)), "parcels": int(g["parcels"].sum()),
                     "area_m2": math.fsum(a for p in g["pieces"] for a in p)})
    return pd.DataFrame(rows)


def plain_overlay(source: str | Path, *, counties: list[str] | None = None) -> pd.DataFrame:
    """The same in one process with plain geopandas, all parcels at once (the benchmark's
    reference: ``geopandas.overlay`` of the whole province's parcels against each line)."""
    src = Source.open(source)
    codes = list(counties) if counties else src.counties()
    parcels = pd.concat([_partition(src, c) for c in codes], ignore_index=True)
    parcels = gpd.GeoDataFrame(parcels, geometry="geometry", crs=4490)
    rows = []
    from pianqu.synth.layout import PROVINCE_CRS

    pp = parcels.to_crs(PROVINCE_CRS)
    for name in LINES:
        lines = pd.concat([_read_county(src, "", c, name).assign(county_code=c) for c in codes], ignore_index=True)
        lines = gpd.GeoDataFrame(lines, geometry="geometry", crs=4490).to_crs(PROVINCE_CRS)
        lines = lines.dissolve(by="county_code").reset_index()[["county_code", "geometry"]]
        ov = gpd.overlay(pp, lines, how="intersection", keep_geom_type=True)
        ov = ov[ov["county_code_1"] == ov["county_code_2"]]
        area = ov.to_crs(4490).geometry
        from pianqu.geo import ellipsoidal_area

        ov = ov.assign(a=ellipsoidal_area(area.to_numpy()))
        for code, g in ov.groupby("county_code_1"):
            rows.append({"county_code": code, "line": name, "parcels": int(len(g)), "area_m2": float(g["a"].sum())})
    return pd.DataFrame(rows)


def timed(fn, *args, **kw):
    t0 = time.perf_counter()
    res = fn(*args, **kw)
    return res, time.perf_counter() - t0


def write_overlay(out: str | Path, by_county: pd.DataFrame, by_city: pd.DataFrame, *, lang: str | None = None) -> Path:
    """``<out>/province/control_lines_by_county.parquet``, ``…_by_city.parquet`` and a workbook
    with Chinese headers (areas in m² and ha); returns the workbook's path."""
    from pianqu.i18n import catalogue, t

    prov = Path(out) / "province"
    prov.mkdir(parents=True, exist_ok=True)
    by_county.drop(columns="pieces").to_parquet(prov / "control_lines_by_county.parquet", index=False)
    by_city.to_parquet(prov / "control_lines_by_city.parquet", index=False)
    keys = catalogue()

    def head(frame: pd.DataFrame) -> pd.DataFrame:
        frame = frame.assign(area_ha=frame["area_m2"] / 1e4)
        return frame.rename(columns={c: t(f"province.col.{c}", lang) for c in frame.columns if f"province.col.{c}" in keys})

    path = prov / "control_lines.xlsx"
    with pd.ExcelWriter(path, engine="openpyxl") as xl:
        head(by_county.drop(columns="pieces")).to_excel(xl, sheet_name=t("province.sheet.overlay_county", lang), index=False)
        head(by_city).to_excel(xl, sheet_name=t("province.sheet.overlay_city", lang), index=False)
    return path
