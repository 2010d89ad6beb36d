"""The report's statistics tables as DataFrames (the same frames go to the page and the workbook).

Classes follow the 三调 statistical method: a parcel counts its 图斑地类面积 TBDLMJ (TBMJ − KCMJ) for
its class and its 扣除面积 KCMJ for 23 其他土地 (2303 田坎).
Areas are ellipsoidal (CGCS2000), as 三调 TBMJ is: a parcel's ``area_m2`` is used when it is
a positive finite number, otherwise its area is computed with :func:`pianqu.geo.ellipsoidal_area`.
A parcel belongs to the township named by its ``township_code``, else by the first 9 digits of
its ``village_code`` (坐落单位代码), else to the township that contains a point on its surface.

:func:`township_stats` has stable English column names (``l1_01`` … the first-level 用地用海
classes in hectares); :func:`township_table` is the same table in the report language with a
county total row, as planners paste it into plan documents.
"""

from __future__ import annotations

import json
from typing import Iterable

import geopandas as gpd
import numpy as np
import pandas as pd


from pianqu import divisions
from pianqu.findings import SEVERITIES, Finding
from pianqu.geo import describe_crs, ellipsoidal_area
from pianqu.i18n import t
from pianqu.schema import LAYERS
from pianqu.parcels import read_landuse
from pianqu.standards import land_classes, landuse_codes, mu_per_m2

from pianqu.land.stats import (M2_PER_HA, _areas, _by_sandiao_method, _text, _valid_area,  # noqa: F401 (re-exported)
                               first_level_classes, parcel_townships, township_stats)


# -- helpers -----------------------------------------------------------------------------------
def first_level_names(version: int = 2023, lang: str = "zh") -> pd.Series:
    """First-level class code → its name in the report's language."""
    l1 = first_level_classes(version).set_index("code")["name"]
    return l1 if lang == "zh" else pd.Series([t(f"report.l1.{c}", lang) for c in l1.index], index=l1.index)


def join_list(items: list[str], lang: str) -> str:
    """'a、b、c' in Chinese, 'a, b, c' in English."""
    return ("、" if lang == "zh" else ", ").join(items)


def class_label(code: str, lang: str, version: int = 2023) -> str:
    """'01 耕地' / '01 Cultivated land'."""
    l1 = first_level_names(version, lang)
    return f"{code} {l1.get(code, code)}"


def mu_factor(config=None) -> float:
    """亩 per m² (the ``mu`` row of the ``area_units`` table; ``config`` is not needed)."""
    return mu_per_m2()


def class_columns(stats: pd.DataFrame) -> list[str]:
    """The ``l1_XX`` columns of a :func:`township_stats` frame."""
    return [c for c in stats.columns if c.startswith("l1_")]


def _kind_label(kind, lang: str) -> str:
    if kind is None or kind is pd.NA or (isinstance(kind, float) and np.isnan(kind)):
        return ""
    try:
        return t(f"report.kind.{kind}", lang)
    except KeyError:
        return str(kind)


def township_table(ws=None, lang: str = "zh", *, stats: pd.DataFrame | None = None,
                   county_code: str | None = None) -> pd.DataFrame:
    """The township table in the report language, with a county total row (last).

    Columns: code, name, kind, population, villages, area (ha), area (亩), then ha by
    first-level 用地用海 class, unknown codes, and area not covered by parcels.
    """
    if stats is None:
        if ws is None:
            raise ValueError("township_table needs a workspace or the stats of township_stats")
        stats = township_stats(ws)
    county_code = county_code or (ws.meta.county_code if ws is not None else "")
    version = stats.attrs.get("landuse_version", 2023)
    classes = class_columns(stats)
    total = {"code": county_code, "name": t("report.total", lang), "kind": pd.NA,
             "population": stats["population"].sum(min_count=1),
             "villages": stats["villages"].sum(min_count=1)}
    for col in ["area_m2", "area_ha", "area_mu", *classes, "unknown_ha", "gap_ha"]:
        if col in stats:
            total[col] = stats[col].sum()
    body = pd.concat([stats, pd.DataFrame([total])], ignore_index=True)
    body["kind"] = [_kind_label(k, lang) for k in body["kind"]]
    names = {
        "code": t("report.col.code", lang), "name": t("report.col.township", lang),
        "kind": t("report.col.kind", lang), "population": t("report.col.population", lang),
        "villages": t("report.col.villages", lang), "area_ha": t("report.col.area_ha", lang),
        "area_mu": t("report.col.area_mu", lang),
    }
    for col in classes:
        names[col] = t("report.col.class_ha", lang, label=class_label(col[3:], lang, version))
    if "unknown_ha" in stats:
        names["unknown_ha"] = t("report.col.unknown_ha", lang)
        names["gap_ha"] = t("report.col.gap_ha", lang)
    table = body[list(names)].rename(columns=names)
    table.attrs.update(stats.attrs)
    table.attrs["columns"] = names
    return table


def landuse_structure(landuse: gpd.GeoDataFrame | None = None, *, ws=None, lang: str = "zh",
                      mu_per_m2: float | None = None, version: int | None = None) -> pd.DataFrame:
    """County land use by first-level class: code, label, area_ha, area_mu, share (0–1), colour key.

    All parcels count, also those outside every township; parcels with an unknown code form
    a row ``unknown``. Classes with no area are left out.
    """
    if ws is not None:
        landuse = landuse if landuse is not None else (
            read_landuse(ws) if ws.has("landuse") else None)
        mu_per_m2 = mu_per_m2 if mu_per_m2 is not None else mu_factor(ws.config())
        version = version or ws.meta.landuse_version
    version = version or 2023
    mu = mu_per_m2 if mu_per_m2 is not None else mu_factor()
    cols = ["code", "label", "area_ha", "area_mu", "share"]
    if landuse is None or len(landuse) == 0:
        return pd.DataFrame(columns=cols)
    ok = _valid_area(landuse.get("area_m2"), len(landuse))
    m2 = pd.to_numeric(landuse.get("area_m2", pd.Series(np.nan, index=landuse.index)),
                       errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    if (~ok).any():
        m2 = m2.copy()
        m2[~ok] = np.nan_to_num(ellipsoidal_area(landuse.geometry[~ok]))
    code = _text(landuse["code"])
    known = code.isin(set(landuse_codes(version)["code"])).fillna(False).to_numpy(dtype=bool)
    l1 = np.where(known, code.str[:2].fillna("").to_numpy(dtype=object), "unknown")
    l1, m2, _ = _by_sandiao_method(l1, m2, landuse)
    sums = pd.Series(m2).groupby(l1).sum()
    sums = sums[sums > 0]
    classes = first_level_names(version, lang)
    order = [c for c in classes.index if c in sums.index] + (["unknown"] if "unknown" in sums.index else [])
    total = float(sums.sum())
    rows = [{"code": c,
             "label": f"{c} {classes[c]}" if c != "unknown" else t("report.col.unknown_ha_short", lang),
             "area_ha": sums[c] / M2_PER_HA, "area_mu": sums[c] * mu,
             "share": sums[c] / total if total else np.nan} for c in order]
    return pd.DataFrame(rows, columns=cols)


def broad_structure(structure: pd.DataFrame, lang: str = "zh") -> pd.DataFrame:
    """The first-level structure grouped into broad classes (农用地, 建设用地, ...)."""
    mapping = land_classes().set_index("l1")["class"]
    cls = structure["code"].map(mapping).fillna("other")
    grouped = structure.assign(cls=cls).groupby("cls", sort=False)[["area_ha", "area_mu", "share"]].sum()
    order = [c for c in ["agricultural", "agri_facility", "construction", "water", "unused", "other"]
             if c in grouped.index]
    grouped = grouped.loc[order]
    return pd.DataFrame({"class": grouped.index,
                         "label": [t(f"report.broad.{c}", lang) for c in grouped.index],
                         "area_ha": grouped["area_ha"].to_numpy(), "area_mu": grouped["area_mu"].to_numpy(),
                         "share": grouped["share"].to_numpy()})


# -- county facts and layers --------------------------------------------------------------------
def county_facts(ws, lang: str = "zh", *, stats: pd.DataFrame | None = None) -> pd.DataFrame:
    """Key facts of the county as a two-column table (item, value) in the report language."""
    meta = ws.meta
    none = t("report.missing", lang)
    rows: list[tuple[str, str]] = [
        (t("report.fact.name", lang), meta.county_name),
        (t("report.fact.code", lang), meta.county_code),
    ]
    try:
        rows.append((t("report.fact.city", lang), str(divisions.county(meta.county_code)["city_name"])))
    except KeyError:
        rows.append((t("report.fact.city", lang), none))
    try:
        census = divisions.census(meta.county_code)
    except KeyError:
        census = None
    if census:
        rows += [
            (t("report.fact.population_census", lang), f"{census['population']:,}"),
            (t("report.fact.urban_share", lang), f"{census['urban'] / census['population']:.1%}"),
            (t("report.fact.share_65plus", lang), f"{census['share_65plus']:.1%}"),
            (t("report.fact.households", lang), f"{census['households']:,}"),
        ]
    else:
        rows.append((t("report.fact.population_census", lang), none))
    if stats is not None and len(stats):
        pop = stats["population"].sum(min_count=1)
        rows.append((t("report.fact.population_ws", lang), none if pd.isna(pop) else f"{int(pop):,}"))
        area_m2 = float(stats["area_m2"].sum())
        rows.append((t("report.fact.area", lang),
                     t("report.fact.area_value", lang, km2=f"{area_m2 / 1e6:,.2f}",
                       ha=f"{stats['area_ha'].sum():,.2f}", mu=f"{stats['area_mu'].sum():,.0f}")))
        kinds = stats["kind"].astype("string").value_counts()
        parts = join_list([f"{_kind_label(k, lang)} {n}" if lang == "zh" else f"{n} {_kind_label(k, lang)}"
                           for k, n in kinds.items()], lang)
        rows.append((t("report.fact.townships", lang),
                     t("report.fact.townships_value", lang, n=len(stats), parts=parts)))
        villages = stats["villages"].sum(min_count=1)
        rows.append((t("report.fact.villages", lang), none if pd.isna(villages) else f"{int(villages):,}"))
    rows.append((t("report.fact.epochs", lang), join_list([str(e) for e in meta.epochs], lang) or none))
    rows.append((t("report.fact.landuse_version", lang), t("report.fact.landuse_version_value", lang,
                                                           version=meta.landuse_version)))
    from pyproj import CRS

    rows.append((t("report.fact.storage_crs", lang), describe_crs(CRS.from_epsg(meta.storage_epsg))))
    rows.append((t("report.fact.compute_crs", lang),
                 describe_crs(CRS.from_epsg(meta.compute_epsg)) if meta.compute_epsg else none))
    rows.append((t("report.fact.synthetic", lang),
                 t("report.yes", lang) if meta.synthetic else t("report.no", lang)))
    return pd.DataFrame(rows, columns=[t("report.col.item", lang), t("report.col.value", lang)])


def layer_inventory(ws, lang: str = "zh") -> pd.DataFrame:
    """The base layers of the workspace: layer, standard code, name, feature count."""
    counts: dict[str, int] = {}
    path = getattr(ws.backend, "path", None)
    for name in ws.layers():
        try:
            import pyogrio

            counts[name] = int(pyogrio.read_info(path, layer=name)["features"])
        except Exception:  # another backend: count by reading
            counts[name] = len(ws.read(name))
    rows = []
    for name in list(LAYERS) + sorted(set(counts) - set(LAYERS)):
        spec = LAYERS.get(name)
        if name not in counts and not (spec and spec.required):
            continue
        rows.append({
            t("report.col.layer", lang): name,
            t("report.col.standard_code", lang): spec.standard_code if spec else "",
            t("report.col.layer_name", lang): (spec.zh if lang == "zh" else spec.en) if spec else "",
            t("report.col.features", lang): counts.get(name, 0),
        })
    return pd.DataFrame(rows)


# -- findings --------------------------------------------------------------------------------------
def _render(f: Finding, lang: str) -> tuple[str, str]:
    """Message and action; a rule without locale messages shows its name and parameters."""
    try:
        return f.message(lang), f.action(lang)
    except (KeyError, IndexError, ValueError):
        params = json.dumps(f.params, ensure_ascii=False, default=str) if f.params else ""
        return f"{f.rule} {params}".strip(), ""


def _layer_label(layer: str, lang: str) -> str:
    spec = LAYERS.get(layer)
    if spec is None:
        return layer
    return f"{spec.zh}（{layer}）" if lang == "zh" else f"{spec.en} ({layer})"


def findings_table(findings: Iterable[Finding], lang: str = "zh") -> pd.DataFrame:
    """Every finding, most severe first: severity, rule, layer, feature, field, message, action."""
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    items = sorted(findings, key=lambda f: rank[f.severity])  # stable: keeps the order within
    rows = []
    for f in items:
        message, action = _render(f, lang)
        rows.append({"severity": t(f"common.severity.{f.severity}", lang), "rule": f.rule,
                     "layer": _layer_label(f.layer, lang) if f.layer else "", "feature": f.feature,
                     "field": f.field, "message": message, "action": action, "source": f.source})
    cols = ["severity", "rule", "layer", "feature", "field", "message", "action", "source"]
    frame = pd.DataFrame(rows, columns=cols)
    return frame.rename(columns={c: t(f"report.col.{c}", lang) for c in cols})


def findings_summary(findings: Iterable[Finding], lang: str = "zh") -> pd.DataFrame:
    """Counts by severity and rule (most severe, then most frequent first), with an example."""
    items = list(findings)
    cols = [t("report.col.severity", lang), t("report.col.rule", lang), t("report.col.count", lang),
            t("report.col.example", lang)]
    if not items:
        return pd.DataFrame(columns=cols)
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    frame = pd.DataFrame({"sev": [f.severity for f in items], "rule": [f.rule for f in items],
                          "i": range(len(items))})
    g = frame.groupby(["sev", "rule"]).agg(count=("i", "size"), first=("i", "min")).reset_index()
    g["rank"] = g["sev"].map(rank)
    g = g.sort_values(["rank", "count", "rule"], ascending=[True, False, True])
    return pd.DataFrame({
        cols[0]: [t(f"common.severity.{s}", lang) for s in g["sev"]],
        cols[1]: g["rule"].to_numpy(),
        cols[2]: g["count"].to_numpy(),
        cols[3]: [_render(items[i], lang)[0] for i in g["first"]],
    })
