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
import shapely

from pianqu.geo import ellipsoidal_area
from pianqu.land.common import (CONTROL_LINES, area_columns, broad_class, deduction_share, epsg_for, l1, polygons,
                                recorded_area, require, split_deduction)
from pianqu.land.overlay import disjoint, intersect, intersect_any
from pianqu.errors import UserValueError
from pianqu.land.common import TIANKAN_CODE
from pianqu.parcels import read_landuse
from pianqu.standards import area_units, land_classes, landuse_codes
from pianqu.standards import mu_per_m2 as mu_per_m2_of

M2_PER_HA = float(area_units().set_index("unit").loc["ha", "m2"])
UNIT_DIV = {"m2": 1.0, "ha": M2_PER_HA, "mu": 1.0 / mu_per_m2_of()}  # m² per unit (the area_units table)


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


# -- per township (the report's township table) ------------------------------------------------
def _valid_area(values: pd.Series | None, n: int) -> np.ndarray:
    """Boolean mask of positive finite numbers (an area field that can be trusted as given)."""
    if values is None:
        return np.zeros(n, dtype=bool)
    v = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    return np.isfinite(v) & (v > 0)


def _text(values: pd.Series) -> pd.Series:
    return values.astype("string").str.strip()


def first_level_classes(version: int = 2023) -> pd.DataFrame:
    """First-level 用地用海 classes: code, name (the standard's own, Chinese), land (True: not a
    sea class). The report names them in its language (``report.tables.first_level_names``)."""
    table = landuse_codes(version)
    l1 = table[table["level"] == 1][["code", "name"]].reset_index(drop=True)
    l1["land"] = l1["code"].isin(set(land_classes()["l1"]))
    return l1


# -- parcels → townships ----------------------------------------------------------------------
def parcel_townships(landuse: gpd.GeoDataFrame, townships: gpd.GeoDataFrame) -> pd.Series:
    """Township code of every parcel (index aligned with ``landuse``; <NA> outside all townships)."""
    codes = set(_text(townships["code"]).dropna())
    out = pd.Series(pd.NA, index=landuse.index, dtype="string")
    if "township_code" in landuse:
        given = _text(landuse["township_code"])
        ok = given.isin(codes).fillna(False).to_numpy(dtype=bool)
        out[ok] = given[ok]
    if "village_code" in landuse:
        prefix = _text(landuse["village_code"]).str[:9]
        ok = (out.isna() & prefix.isin(codes)).fillna(False).to_numpy(dtype=bool)
        out[ok] = prefix[ok]
    rest = np.flatnonzero(out.isna().to_numpy())
    if len(rest) and len(townships):
        geoms = landuse.geometry.to_numpy()[rest]
        has = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
        points = shapely.point_on_surface(geoms[has])
        tree = shapely.STRtree(townships.geometry.to_numpy())
        hit_pt, hit_tw = tree.query(points, predicate="within")
        if len(hit_pt):
            first = np.unique(hit_pt, return_index=True)[1]  # a point in two townships: the first
            target = rest[has][hit_pt[first]]
            out.iloc[target] = _text(townships["code"]).to_numpy()[hit_tw[first]]
    return out


def _areas(townships: gpd.GeoDataFrame, landuse: gpd.GeoDataFrame | None) -> tuple[np.ndarray, np.ndarray]:
    """Ellipsoidal m² of townships and parcels: the area field when valid, else computed.

    Missing areas of both layers are computed in one call so they share one equal-area
    projection (their sums then agree to rounding, not to projection differences).
    """
    t_ok = _valid_area(townships.get("area_m2"), len(townships))
    t_area = np.where(t_ok, pd.to_numeric(townships.get("area_m2", pd.Series(np.nan, index=townships.index)),
                                          errors="coerce").to_numpy(dtype=float, na_value=np.nan), np.nan)
    if landuse is None:
        l_ok = np.zeros(0, dtype=bool)
        l_area = np.zeros(0)
    else:
        l_ok = _valid_area(landuse.get("area_m2"), len(landuse))
        l_area = np.where(l_ok, pd.to_numeric(landuse.get("area_m2", pd.Series(np.nan, index=landuse.index)),
                                              errors="coerce").to_numpy(dtype=float, na_value=np.nan), np.nan)
    parts = [townships.geometry[~t_ok]]
    if landuse is not None:
        parts.append(landuse.geometry[~l_ok].to_crs(townships.crs))
    todo = gpd.GeoSeries(pd.concat(parts, ignore_index=True), crs=townships.crs)
    if len(todo):
        computed = np.nan_to_num(ellipsoidal_area(todo), nan=0.0)
        n_t = int((~t_ok).sum())
        t_area[~t_ok] = computed[:n_t]
        if landuse is not None:
            l_area[~l_ok] = computed[n_t:]
    return t_area, l_area


def _by_sandiao_method(l1: np.ndarray, m2: np.ndarray, landuse: pd.DataFrame):
    """First-level classes by the 三调 statistical method: each parcel's TBDLMJ (TBMJ − KCMJ) for its
    class, its KCMJ for 23 其他土地 (2303 田坎). Returns ``(l1, m2, source row)``, rows added for KCMJ."""
    codes, areas, rows = split_deduction(l1, m2, deduction_share(landuse))
    return np.where(codes == TIANKAN_CODE, TIANKAN_CODE[:2], codes), areas, rows


def township_stats(ws=None, *, townships: gpd.GeoDataFrame | None = None,
                   landuse: gpd.GeoDataFrame | None = None, villages: pd.DataFrame | None = None,
                   mu_per_m2: float | None = None, landuse_version: int | None = None) -> pd.DataFrame:
    """Per township: code, name, kind, population, villages, area_m2/ha/mu, ``l1_XX`` (ha by
    first-level class), ``unknown_ha`` (parcels whose code is not in the 用地用海 table) and
    ``gap_ha`` (township area not covered by its parcels; negative when they exceed it).

    Per row, the class columns + unknown_ha + gap_ha add up to area_ha. Class columns exist
    only when there is a landuse layer; sea classes (18–22, 24) only when present.
    ``attrs``: ``unassigned_parcels`` / ``unassigned_m2`` (parcels outside every township).
    Pass a workspace, or the frames themselves (layers the workspace lacks are skipped).
    """
    if ws is not None:
        townships = townships if townships is not None else ws.read("township")
        if landuse is None and ws.has("landuse"):
            landuse = read_landuse(ws)
        if villages is None and ws.has("village"):
            villages = ws.read("village", columns=["code", "township_code"])
        if mu_per_m2 is None:
            mu_per_m2 = mu_per_m2_of()
        landuse_version = landuse_version or ws.meta.landuse_version
    if townships is None:
        raise ValueError("township_stats needs a workspace or a township layer")
    mu = mu_per_m2 if mu_per_m2 is not None else mu_per_m2_of()
    version = landuse_version or 2023
    tw = townships.reset_index(drop=True)
    for needed in ("code", "name"):
        if needed not in tw:
            raise UserValueError("report.error.township_field", field=needed)
    t_area, l_area = _areas(tw, landuse)
    codes = _text(tw["code"])
    out = pd.DataFrame({
        "code": codes.to_numpy(),
        "name": tw["name"].astype("string").to_numpy(),
        "kind": tw["kind"].astype("string").to_numpy() if "kind" in tw else pd.array([pd.NA] * len(tw), "string"),
        "population": pd.to_numeric(tw.get("population"), errors="coerce").round().astype("Int64").to_numpy()
        if "population" in tw else pd.array([pd.NA] * len(tw), "Int64"),
    })
    if villages is not None and "township_code" in villages:
        counts = _text(villages["township_code"]).value_counts()
        out["villages"] = codes.map(counts).fillna(0).astype("Int64").to_numpy()
    else:
        out["villages"] = pd.array([pd.NA] * len(tw), "Int64")
    out["area_m2"] = t_area
    out["area_ha"] = t_area / M2_PER_HA
    out["area_mu"] = t_area * mu
    out.attrs.update(unassigned_parcels=0, unassigned_m2=0.0, landuse_version=version)
    if landuse is None:
        return out

    lu = landuse.reset_index(drop=True)
    owner = parcel_townships(lu, tw).to_numpy(dtype=object, na_value=None)
    valid_codes = set(landuse_codes(version)["code"])
    code = _text(lu["code"]) if "code" in lu else pd.Series(pd.NA, index=lu.index, dtype="string")
    known = code.isin(valid_codes).fillna(False).to_numpy(dtype=bool)
    l1 = np.where(known, code.str[:2].fillna("").to_numpy(dtype=object), "unknown")
    assigned = np.array([o is not None for o in owner], dtype=bool)
    out.attrs.update(unassigned_parcels=int((~assigned).sum()),
                     unassigned_m2=float(l_area[~assigned].sum()))
    l1, l_area, rows = _by_sandiao_method(l1, l_area, lu)
    owner, assigned = owner[rows], assigned[rows]
    sums = (pd.DataFrame({"township": owner[assigned], "l1": l1[assigned], "m2": l_area[assigned]})
            .groupby(["township", "l1"])["m2"].sum().unstack(fill_value=0.0))
    classes = first_level_classes(version)
    present = set(sums.columns)
    wanted = [c for c, land in zip(classes["code"], classes["land"]) if land or c in present]
    covered = np.zeros(len(out))
    for c in wanted:
        m2 = codes.map(sums[c]).fillna(0.0).to_numpy(dtype=float) if c in present else np.zeros(len(out))
        out[f"l1_{c}"] = m2 / M2_PER_HA
        covered += m2
    unknown = codes.map(sums["unknown"]).fillna(0.0).to_numpy(dtype=float) if "unknown" in present \
        else np.zeros(len(out))
    out["unknown_ha"] = unknown / M2_PER_HA
    covered += unknown
    out["gap_ha"] = (t_area - covered) / M2_PER_HA
    return out



def to_excel(tables: Mapping[str, pd.DataFrame], path: str | Path) -> Path:
    """Write tables to one workbook, a sheet each (sheet names cut to Excel's 31 characters)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with pd.ExcelWriter(path, engine="openpyxl") as xw:
        for name, frame in tables.items():
            frame.to_excel(xw, sheet_name=str(name)[:31])
    return path
