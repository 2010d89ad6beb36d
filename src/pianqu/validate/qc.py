"""Findings at real volume, as a 质检 (quality-inspection) report.

A county's 450k parcels can give thousands of findings of one rule. The terminal shows them by
rule (severity, rule, count, total area of the polygons involved, the first examples with
layer/feature/field and the action); the full list goes to an Excel workbook (a summary sheet
and one row per finding) and to an error layer with geometry (GeoPackage, one layer per
geometry type, Chinese field names) that planners open in ArcGIS/QGIS beside their data.

Each finding is located on the feature it names: by its row (``params['row']``, set where ids
repeat), by its feature id, or by the ``lon``/``lat`` it quotes. Everything is vectorised per
layer (a dict lookup of ids, one ellipsoidal-area call).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from pianqu.findings import SEVERITIES, Finding
from pianqu.geo import STORAGE_EPSG, ellipsoidal_area
from pianqu.i18n import t
from pianqu.schema import LAYERS
from pianqu.validate._common import feature_ids

__all__ = ["QCReport", "locate", "group", "full_table", "error_layers", "write_xlsx", "write_gpkg",
           "qc_report"]

# the columns of the full list, in order (header keys qc.col.<name> in locales/validate.toml)
COLUMNS = ("severity", "rule", "title", "layer", "layer_zh", "feature", "field", "field_zh", "message",
           "action", "area_m2", "source")
GEOMETRY_KINDS = ("polygon", "line", "point")


def locate(findings: Sequence[Finding], layers: Mapping[str, pd.DataFrame]) -> gpd.GeoDataFrame:
    """One row per finding (same order): its geometry in EPSG:4490 (None where it names no
    feature with a geometry) and ``area_m2``, the ellipsoidal area of a polygonal geometry
    (NaN otherwise)."""
    n = len(findings)
    geom = np.full(n, None, dtype=object)
    by_layer: dict[str, list[int]] = {}
    for k, f in enumerate(findings):
        if f.feature:
            by_layer.setdefault(f.layer, []).append(k)
    for name, ks in by_layer.items():
        frame = layers.get(name)
        if not isinstance(frame, gpd.GeoDataFrame) or len(frame) == 0:
            continue
        series = frame.geometry.reset_index(drop=True)
        if series.crs is not None and series.crs.to_epsg() != STORAGE_EPSG:
            try:
                series = series.to_crs(STORAGE_EPSG)
            except Exception:  # a CRS pyproj cannot transform: these findings have no place
                continue
        geoms = series.to_numpy()
        ids = pd.Series(np.arange(len(frame)), index=feature_ids(frame, LAYERS.get(name)))
        first = ids[~ids.index.duplicated()]
        rows = np.full(len(ks), -1, dtype=np.int64)
        feats = [findings[k].feature for k in ks]
        hit = first.reindex(feats)
        rows[hit.notna().to_numpy()] = hit.dropna().to_numpy(dtype=np.int64)
        for j, k in enumerate(ks):
            row = findings[k].params.get("row")
            if isinstance(row, int) and 1 <= row <= len(frame):
                rows[j] = row - 1
            elif rows[j] < 0 and feats[j].startswith("#") and feats[j][1:].isdigit():
                rows[j] = int(feats[j][1:]) - 1 if int(feats[j][1:]) <= len(frame) else -1
        ok = rows >= 0
        geom[np.asarray(ks)[ok]] = geoms[rows[ok]]
    for k, f in enumerate(findings):  # no feature geometry: the place the finding quotes
        if (geom[k] is None or shapely.is_empty(geom[k])) and "lon" in f.params and "lat" in f.params:
            try:
                geom[k] = shapely.Point(float(f.params["lon"]), float(f.params["lat"]))
            except (TypeError, ValueError):
                pass
    area = np.full(n, np.nan)
    polygonal = np.isin(shapely.get_type_id(geom), (3, 6)) & ~shapely.is_empty(geom)
    if polygonal.any():
        area[polygonal] = ellipsoidal_area(gpd.GeoSeries(geom[polygonal], crs=STORAGE_EPSG))
    return gpd.GeoDataFrame({"area_m2": area}, geometry=gpd.GeoSeries(geom, crs=STORAGE_EPSG))


def _kind(geom: np.ndarray) -> np.ndarray:
    """polygon / line / point / '' per geometry (collections and empties: '')."""
    tid = shapely.get_type_id(geom)
    out = np.full(len(geom), "", dtype=object)
    out[np.isin(tid, (3, 6))] = "polygon"
    out[np.isin(tid, (1, 2, 5))] = "line"
    out[np.isin(tid, (0, 4))] = "point"
    out[shapely.is_empty(geom) | (tid < 0)] = ""
    return out


def _example(f: Finding) -> str:
    text = f.layer
    if f.feature:
        text += f" {f.feature}"
    if f.field:
        text += f" .{f.field}"
    return text


def group(findings: Sequence[Finding], located: gpd.GeoDataFrame | None = None, lang: str | None = None,
          examples: int = 3) -> pd.DataFrame:
    """Findings by rule, severity first then in finding order: severity, rule, title, count,
    layers, area_m2 (Σ ellipsoidal area of the distinct polygons involved; NaN if none), the first
    ``examples`` as 'layer feature .field', and the action of the first finding."""
    cols = ["severity", "rule", "title", "count", "layers", "area_m2", "examples", "action"]
    if not findings:
        return pd.DataFrame(columns=cols)
    frame = pd.DataFrame({"severity": [f.severity for f in findings], "rule": [f.rule for f in findings],
                          "layer": [f.layer for f in findings], "feature": [f.feature for f in findings],
                          "k": np.arange(len(findings))})
    frame["area"] = located["area_m2"].to_numpy() if located is not None else np.nan
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    rows = []
    for (sev, rule), g in frame.groupby(["severity", "rule"], sort=False):
        distinct = g.drop_duplicates(["layer", "feature"])
        area = float(distinct["area"].sum()) if distinct["area"].notna().any() else np.nan
        first = [findings[k] for k in g["k"].head(examples)]
        rows.append({"severity": sev, "rule": rule, "title": t(f"{rule}.title", lang), "count": len(g),
                     "layers": ", ".join(dict.fromkeys(x for x in g["layer"] if x)), "area_m2": area,
                     "examples": [_example(f) for f in first], "action": first[0].action(lang),
                     "_order": (rank[sev], int(g["k"].iloc[0]))})
    out = pd.DataFrame(rows).sort_values("_order", kind="stable").drop(columns="_order")
    return out[cols].reset_index(drop=True)


def full_table(findings: Sequence[Finding], located: gpd.GeoDataFrame | None = None,
               lang: str | None = None) -> pd.DataFrame:
    """One row per finding with the rendered message and action, layer and field names in Chinese
    and the area of the polygon it names (English column keys; see :func:`headers`)."""
    rows = []
    for f in findings:
        spec = LAYERS.get(f.layer)
        rows.append({"severity": t(f"common.severity.{f.severity}", lang), "rule": f.rule,
                     "title": t(f"{f.rule}.title", lang), "layer": f.layer,
                     "layer_zh": spec.zh if spec is not None else "", "feature": f.feature, "field": f.field,
                     "field_zh": str(f.params.get("field_zh", "")) if f.field else "",
                     "message": f.message(lang), "action": f.action(lang), "source": f.source})
    frame = pd.DataFrame(rows, columns=[c for c in COLUMNS if c != "area_m2"])
    area = located["area_m2"].to_numpy() if located is not None else np.full(len(frame), np.nan)
    frame.insert(COLUMNS.index("area_m2"), "area_m2", np.round(area, 2))
    return frame


def headers(lang: str | None = None) -> dict[str, str]:
    """Column key → header in the user's language (Chinese field names for the GIS layer)."""
    return {c: t(f"qc.col.{c}", lang) for c in COLUMNS}


def error_layers(findings: Sequence[Finding], located: gpd.GeoDataFrame, lang: str | None = None,
                 crs: int | str | None = None) -> dict[str, gpd.GeoDataFrame | pd.DataFrame]:
    """The full list split by geometry type into layers named in the user's language
    (e.g. 质检问题_面/线/点), plus a table of the findings without a geometry; columns renamed to
    :func:`headers`; geometry in ``crs`` (default EPSG:4490)."""
    table = full_table(findings, located, lang).rename(columns=headers(lang))
    kinds = _kind(located.geometry.to_numpy())
    out: dict[str, gpd.GeoDataFrame | pd.DataFrame] = {}
    for kind in GEOMETRY_KINDS:
        sel = kinds == kind
        if not sel.any():
            continue
        layer = gpd.GeoDataFrame(table[sel].reset_index(drop=True),
                                 geometry=gpd.GeoSeries(located.geometry.to_numpy()[sel], crs=STORAGE_EPSG))
        if crs is not None:
            layer = layer.to_crs(crs)
        out[t(f"qc.layer.{kind}", lang)] = layer
    rest = kinds == ""
    if rest.any():
        out[t("qc.layer.none", lang)] = table[rest].reset_index(drop=True)
    return out


def write_gpkg(findings: Sequence[Finding], located: gpd.GeoDataFrame, path: str | Path,
               lang: str | None = None, crs: int | str | None = None) -> dict[str, int]:
    """Write :func:`error_layers` to a GeoPackage (replacing the file); returns rows per layer."""
    import pyogrio

    path = Path(path)
    if path.exists():
        path.unlink()
    counts = {}
    for name, layer in error_layers(findings, located, lang, crs).items():
        if isinstance(layer, gpd.GeoDataFrame):
            pyogrio.write_dataframe(layer, path, layer=name, driver="GPKG", promote_to_multi=True)
        else:
            pyogrio.write_dataframe(layer, path, layer=name, driver="GPKG")
        counts[name] = len(layer)
    if not counts:  # no finding: an empty polygon layer, so that the file opens
        empty = gpd.GeoDataFrame(columns=list(headers(lang).values()), geometry=[], crs=crs or STORAGE_EPSG)
        pyogrio.write_dataframe(empty, path, layer=t("qc.layer.polygon", lang), driver="GPKG",
                                geometry_type="MultiPolygon")
        counts[t("qc.layer.polygon", lang)] = 0
    return counts


def write_xlsx(findings: Sequence[Finding], located: gpd.GeoDataFrame | None, path: str | Path,
               lang: str | None = None) -> None:
    """An Excel workbook: the summary by rule, then every finding (one row each)."""
    groups = group(findings, located, lang)
    summary = pd.DataFrame({
        t("qc.col.severity", lang): [t(f"common.severity.{s}", lang) for s in groups["severity"]],
        t("qc.col.title", lang): groups["title"], t("qc.col.rule", lang): groups["rule"],
        t("qc.col.count", lang): groups["count"], t("qc.col.layer", lang): groups["layers"],
        t("qc.col.area_ha", lang): np.round(groups["area_m2"].astype(float) / 10_000, 4),
        t("qc.col.examples", lang): ["; ".join(e) for e in groups["examples"]],
        t("qc.col.action", lang): groups["action"]})
    table = full_table(findings, located, lang).rename(columns=headers(lang))
    with pd.ExcelWriter(path, engine="openpyxl") as xw:
        summary.to_excel(xw, sheet_name=t("qc.sheet.summary", lang), index=False)
        table.to_excel(xw, sheet_name=t("qc.sheet.list", lang), index=False)


@dataclass
class QCReport:
    """A validation run with every finding placed on its feature."""

    findings: list[Finding]
    located: gpd.GeoDataFrame

    def groups(self, lang: str | None = None, examples: int = 3) -> pd.DataFrame:
        return group(self.findings, self.located, lang, examples)

    def to_xlsx(self, path: str | Path, lang: str | None = None) -> None:
        write_xlsx(self.findings, self.located, path, lang)

    def to_gpkg(self, path: str | Path, lang: str | None = None, crs: int | str | None = None) -> dict[str, int]:
        return write_gpkg(self.findings, self.located, path, lang, crs)


def qc_report(ws, config=None) -> QCReport:
    """Validate a workspace (read only) and place every finding on its feature.

    Parameters
    ----------
    ws : pianqu.workspace.Workspace
        The county workspace.
    config : pianqu.config.Config, optional
        Thresholds in force; default the workspace's own.

    Returns
    -------
    QCReport
        ``findings`` and ``located`` (one row per finding with the feature's geometry);
        ``groups(lang)`` counts them by rule and layer with examples, ``to_xlsx(path)`` and
        ``to_gpkg(path)`` write the 质检 workbook and error layers for ArcGIS/QGIS.
    """
    from pianqu.validate import validate_workspace

    from pianqu.validate import store_findings

    layers = ws.read_many()
    findings = validate_workspace(ws, config, layers=layers)
    store_findings(ws, findings, config)  # the report reuses them while the data stay as they are
    return QCReport(findings, locate(findings, layers))
