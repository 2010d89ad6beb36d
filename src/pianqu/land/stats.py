"""Statistics tables in the form plan documents use (用地用海结构表, 三条控制线面积表, 基期—规划对比).

Every table is computed from a vectorised overlay in the county's GK zone, and adds up: units
sum to the county (the total row), classes sum to the total column. Areas follow the 三调
statistical method: ellipsoidal CGCS2000 areas (a parcel's pieces add up to its TBMJ), each
parcel's class counted by its 图斑地类面积 TBDLMJ and its 扣除面积 KCMJ counted as 田坎 (2303),
so 耕地 totals ΣTBDLMJ of the 耕地 parcels and 田坎 ΣKCMJ (plus mapped 田坎 parcels). Areas in 公顷 by default
(``unit='m2'`` or ``'mu'`` for 平方米 or 亩). The report section (maps, Excel sheets) calls these
functions; :func:`to_excel` writes any set of them to a workbook on its own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import geopandas as gpd
import numpy as np
import pandas as pd

from pianqu.geo import ellipsoidal_area
from pianqu.land.common import (CONTROL_LINES, area_columns, broad_class, deduction_share, epsg_for, l1, polygons,
                                recorded_area, require, split_deduction)
from pianqu.land.overlay import disjoint, intersect, intersect_any
from pianqu.standards import landuse_codes

UNIT_DIV = {"m2": 1.0, "ha": 1e4, "mu": 10000.0 / 15.0}


def _div(unit: str) -> float:
    if unit not in UNIT_DIV:
        raise ValueError(f"unit must be one of {', '.join(UNIT_DIV)}")
    return UNIT_DIV[unit]


def class_label(codes, level=1, version: int = 2023) -> pd.Series:
    """'01 耕地'-style labels of the first-level (level=1) or second-level (2) class of each code,
    or the broad class (level='class')."""
    if level == "class":
        return broad_class(codes)
    key = l1(codes) if level == 1 else pd.Series(codes, dtype="string").fillna("").str[:4]
    names = landuse_codes(version).set_index("code")["name"]
    return (key + " " + key.map(names).fillna("?")).where(key != "", "(none)")


def _pieces(landuse: gpd.GeoDataFrame, units: gpd.GeoDataFrame, unit_col: str, epsg: int) -> pd.DataFrame:
    require(landuse, "landuse", ["code"])
    require(units, "unit", [unit_col])
    lu = polygons(landuse, "landuse", epsg)
    un = polygons(units, "unit", epsg)
    ov = intersect(lu.geometry.to_numpy(), un.geometry.to_numpy(), crs=epsg, left_area=recorded_area(lu))
    codes, areas, rows = split_deduction(lu["code"].astype(str).to_numpy()[ov.left], ov.area,
                                         deduction_share(lu)[ov.left])
    return pd.DataFrame({"unit": un[unit_col].astype(str).to_numpy()[ov.right][rows], "code": codes,
                         "area_m2": areas})


TOTAL = "total"  # the key of a totals row or column; the edges say it (``land.stats.total``)


def _with_total(table: pd.DataFrame) -> pd.DataFrame:
    table = table.copy()
    table[TOTAL] = table.sum(axis=1)
    table.loc[TOTAL] = table.sum(axis=0)
    return table


def landuse_by_unit(landuse: gpd.GeoDataFrame, units: gpd.GeoDataFrame, *, unit_col: str = "zone", level=1,
                    unit: str = "ha", epsg: int | None = None) -> pd.DataFrame:
    """Area by 用地用海 class (columns) per unit (rows: zones or townships), with totals.

    ``units``: polygons with ``unit_col``; parcels are cut to units, so each parcel's area is
    split exactly where a boundary crosses it.
    """
    epsg = epsg_for(epsg, landuse, units)
    p = _pieces(landuse, units, unit_col, epsg)
    p["class"] = class_label(p["code"], level).to_numpy()
    table = p.pivot_table(index="unit", columns="class", values="area_m2", aggfunc="sum", fill_value=0.0) / _div(unit)
    table = table.reindex(sorted(table.columns), axis=1)
    table.index.name = unit_col
    table.columns.name = None
    return _with_total(table)


def base_vs_plan(base: gpd.GeoDataFrame, plan: gpd.GeoDataFrame, *, level=1, unit: str = "ha",
                 epsg: int | None = None) -> pd.DataFrame:
    """Base year against plan by class: areas, shares of the total, change and relative change.

    Parcels count their recorded area (TBMJ; the ellipsoidal area where none), split into TBDLMJ for
    the class and KCMJ for 田坎."""
    epsg = epsg_for(epsg, base, plan)
    d = _div(unit)
    rows = {}
    for name, frame in (("base", base), ("plan", plan)):
        require(frame, f"landuse ({name})", ["code"])
        f = polygons(frame, f"landuse ({name})", epsg)
        area = recorded_area(f)
        miss = ~np.isfinite(area)
        if miss.any():
            area[miss] = ellipsoidal_area(f.geometry.to_numpy()[miss], epsg)
        codes, areas, _ = split_deduction(f["code"].astype(str).to_numpy(), area, deduction_share(f))
        rows[name] = pd.Series(areas, index=class_label(codes, level).to_numpy()).groupby(level=0).sum() / d
    out = pd.DataFrame({f"base_{unit}": rows["base"], f"plan_{unit}": rows["plan"]}).fillna(0.0).sort_index()
    out["base_share"] = out[f"base_{unit}"] / out[f"base_{unit}"].sum()
    out["plan_share"] = out[f"plan_{unit}"] / out[f"plan_{unit}"].sum()
    out[f"change_{unit}"] = out[f"plan_{unit}"] - out[f"base_{unit}"]
    with np.errstate(divide="ignore", invalid="ignore"):
        out["change_rel"] = np.where(out[f"base_{unit}"] > 0, out[f"change_{unit}"] / out[f"base_{unit}"], np.nan)
    total = out.sum(axis=0)
    total["change_rel"] = total[f"change_{unit}"] / total[f"base_{unit}"] if total[f"base_{unit}"] > 0 else np.nan
    out.loc[TOTAL] = total
    out.index.name = "class"
    return out


def control_line_table(lines: Mapping[str, gpd.GeoDataFrame | None], units: gpd.GeoDataFrame, *,
                       unit_col: str = "zone", unit: str = "ha", epsg: int | None = None) -> pd.DataFrame:
    """Area of each control line per unit (overlapping features counted once) and its share of the unit."""
    epsg = epsg_for(epsg, units)
    require(units, "unit", [unit_col])
    un = polygons(units, "unit", epsg)
    labels = un[unit_col].astype(str).to_numpy()
    uarea = ellipsoidal_area(un.geometry.to_numpy(), epsg)
    out = pd.DataFrame(index=pd.Index(labels, name=unit_col))
    out[f"unit_{unit}"] = uarea / _div(unit)
    for name in CONTROL_LINES:
        frame = lines.get(name)
        col = np.zeros(len(un))
        if frame is not None and len(frame):
            feats = disjoint(polygons(frame, name, epsg).geometry.to_numpy())
            ov = intersect_any(un.geometry.to_numpy(), feats, crs=epsg)
            np.add.at(col, ov.left, ov.area)
        out[f"{name}_{unit}"] = col / _div(unit)
    out = out.groupby(level=0).sum()
    out.loc[TOTAL] = out.sum(axis=0)
    for name in CONTROL_LINES:
        out[f"{name}_share"] = out[f"{name}_{unit}"] / out[f"unit_{unit}"]
    return out


def conflict_summary(conflicts: pd.DataFrame) -> pd.DataFrame:
    """Conflicts by rule and state: count and area (m², ha, 亩)."""
    if len(conflicts) == 0:
        return pd.DataFrame(columns=["rule", "state", "count", "area_m2", "area_ha", "area_mu"])
    g = pd.DataFrame(conflicts).groupby(["rule", "state"], sort=True)["area_m2"].agg(["count", "sum"]).reset_index()
    g = g.rename(columns={"sum": "area_m2"})
    for k, v in area_columns(g["area_m2"]).items():
        g[k] = v
    return g


def plan_tables(landuse: gpd.GeoDataFrame, *, zones: gpd.GeoDataFrame, townships: gpd.GeoDataFrame | None = None,
                lines: Mapping[str, gpd.GeoDataFrame | None] | None = None, plan: gpd.GeoDataFrame | None = None,
                conflicts: pd.DataFrame | None = None, epsg: int | None = None
                ) -> dict[str, tuple[str, pd.DataFrame]]:
    """The plan-document tables at once, keyed by name, each with the locale key of its title
    (``land.stats.table.<name>``; totals under the key :data:`TOTAL`, see :func:`totals_in`):
    land use by zone (and township), base against plan, control lines by zone, conflicts.
    What the report section and the Excel workbook take."""
    epsg = epsg_for(epsg, landuse, zones)
    out = {"landuse_by_zone": landuse_by_unit(landuse, zones, unit_col="zone", epsg=epsg)}
    if townships is not None:
        out["landuse_by_township"] = landuse_by_unit(landuse, townships, unit_col="code", epsg=epsg)
    if plan is not None:
        out["base_vs_plan"] = base_vs_plan(landuse, plan, epsg=epsg)
    if lines:
        out["control_lines_by_zone"] = control_line_table(lines, zones, epsg=epsg)
    if conflicts is not None:
        out["conflicts"] = conflict_summary(conflicts)
    return {k: (f"land.stats.table.{k}", v) for k, v in out.items()}


def to_excel(tables: Mapping[str, pd.DataFrame], path: str | Path) -> Path:
    """Write tables to one workbook, a sheet each (sheet names cut to Excel's 31 characters)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with pd.ExcelWriter(path, engine="openpyxl") as xw:
        for name, frame in tables.items():
            frame.to_excel(xw, sheet_name=str(name)[:31])
    return path
