"""Shared helpers of the land engine: land classes by code, area units, zones, input checks.

Everything is computed in the county's CGCS2000 3° GK zone (``epsg``); callers pass the
workspace's ``meta.compute_epsg`` or let it be derived from the data's extent.
"""

from __future__ import annotations

from functools import cache
from typing import Iterable, Mapping

import geopandas as gpd
import numpy as np
import pandas as pd

from pianqu.config import Config, load_config
from pianqu.errors import Phrase, PianquError, layer_label
from pianqu.geo import compute_epsg, zone_polygons as geo_zone_polygons
from pianqu.i18n import default_lang
from pianqu.land.overlay import OverlayError, project
from pianqu.standards import area_units, czcsxm_codes, land_classes
from pianqu.standards import table as standards_table

CONTROL_LINES = ("farmland_pbf", "eco_redline", "urban_boundary")  # the order of delineation
TRUE_VALUES = {"1", "true", "t", "yes", "y", "是", "1.0"}


class LandInputError(PianquError, ValueError):
    """Input data the land engine cannot use; the message (``land.error.*``, said in the user's
    language, see :class:`pianqu.errors.PianquError`) names the layer, feature and field."""


def rule_names(name: str) -> pd.DataFrame:
    """The names of the rules of the standards table ``name`` (``conflict_rules`` or
    ``siting_rules``): ``name_zh`` and ``name_en`` indexed by rule (the edges pick the reader's)."""
    return standards_table(name).set_index("rule")[["name_zh", "name_en"]]


class RuleName(Phrase):
    """A land rule's name (of the standards table ``table``) said in the reader's language: a
    finding's parameter."""

    def __init__(self, table: str, rule: str):
        super().__init__(str(rule), table=table)

    def message(self, lang: str | None = None) -> str:
        names = rule_names(self.params["table"])
        col = "name_en" if (lang or default_lang()) == "en" else "name_zh"
        return str(names.at[self.key, col]) if self.key in names.index else self.key


def config_of(cfg: Config | None) -> Config:
    return cfg if cfg is not None else load_config()


# -- areas -------------------------------------------------------------------------------------
@cache
def _unit_m2() -> dict[str, float]:
    units = area_units()
    return dict(zip(units["unit"], units["m2"]))


def area_columns(area_m2) -> dict[str, np.ndarray]:
    """m², 公顷 and 亩 columns from areas in m² (the three units plan documents use)."""
    a = np.asarray(area_m2, dtype=float)
    u = _unit_m2()
    return {"area_m2": a, "area_ha": a / u["ha"], "area_mu": a / u["mu"]}


def m2_to(value: float, unit: str) -> float:
    return value / _unit_m2()[unit]


# -- 三调 area conventions ----------------------------------------------------------------------
TIANKAN_CODE = "2303"  # 田坎 (用地用海 2023; 三调 1203)


def recorded_area(frame: pd.DataFrame) -> np.ndarray:
    """Each feature's recorded area in m² (``area_m2``: 三调 TBMJ), NaN where missing or not positive.

    Overlays use it for whole features and to scale a feature's pieces (see
    :func:`pianqu.land.overlay.intersect`), so reported areas add up to the recorded ones."""
    if "area_m2" not in frame.columns:
        return np.full(len(frame), np.nan)
    a = pd.to_numeric(frame["area_m2"], errors="coerce").to_numpy(dtype=float)
    return np.where(np.isfinite(a) & (a > 0), a, np.nan)


def deduction_share(frame: pd.DataFrame) -> np.ndarray:
    """Per parcel the 三调 扣除 share KCMJ / TBMJ (mostly 田坎 inside farmland), in [0, 1].

    From ``kcmj`` and ``area_m2`` (TBMJ); else 1 − ``tbdlmj``/TBMJ; else ``kcxs``; else 0. A
    parcel's 地类面积 TBDLMJ = TBMJ × (1 − share) counts for its class, TBMJ × share for 田坎."""
    n = len(frame)
    tbmj = recorded_area(frame)
    col = lambda c: (pd.to_numeric(frame[c], errors="coerce").to_numpy(dtype=float)  # noqa: E731
                     if c in frame.columns else np.full(n, np.nan))
    with np.errstate(divide="ignore", invalid="ignore"):
        share = col("kcmj") / tbmj
        share = np.where(np.isfinite(share), share, 1 - col("tbdlmj") / tbmj)
        share = np.where(np.isfinite(share), share, col("kcxs"))
    return np.clip(np.where(np.isfinite(share), share, 0.0), 0.0, 1.0)


def split_deduction(codes, areas, share) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pieces of parcels (code, area, the parcel's 扣除 share) → rows by the 三调 statistical method.

    Each piece counts ``area × (1 − share)`` for its own code and ``area × share`` for 田坎
    (:data:`TIANKAN_CODE`): a parcel partly inside a line or a unit contributes in proportion to its
    piece (the usual convention; 田坎 lie spread over the parcel). For whole parcels this gives
    exactly ΣTBDLMJ for their class and ΣKCMJ for 田坎. Returns ``(codes, areas, source row)``.
    """
    codes = np.asarray(codes, dtype=object)
    areas = np.asarray(areas, dtype=float)
    share = np.asarray(share, dtype=float)
    kc = np.flatnonzero(share > 0)
    rows = np.r_[np.arange(len(codes)), kc]
    out_codes = np.r_[codes, np.full(len(kc), TIANKAN_CODE, dtype=object)]
    out_areas = np.r_[areas * (1 - share), areas[kc] * share[kc]]
    return out_codes, out_areas, rows


# -- land classes by code -----------------------------------------------------------------------
def l1(codes) -> pd.Series:
    """First-level 用地用海 code (the first two characters)."""
    return pd.Series(codes, dtype="string").fillna("").str.strip().str[:2]


@cache
def _class_of_l1() -> dict[str, str]:
    lc = land_classes()
    return dict(zip(lc["l1"], lc["class"]))


def broad_class(codes) -> pd.Series:
    """agricultural / construction / agri_facility / water / unused per code (land_classes.csv)."""
    return l1(codes).map(_class_of_l1()).fillna("unknown")


def is_construction(codes) -> np.ndarray:
    """用地用海 first-level 07–16 (domain.md §5 F3)."""
    return (broad_class(codes) == "construction").to_numpy()


def is_farmland(codes) -> np.ndarray:
    """耕地: first-level 01."""
    return (l1(codes) == "01").to_numpy()


@cache
def _settlement_of_czcsxm() -> dict[str, str]:
    cz = czcsxm_codes()
    return dict(zip(cz["code"], cz["settlement"]))


def settlement_kind(czcsxm) -> pd.Series:
    """town / village / other / '' per CZCSXM (201/202(A) town, 203(A) village)."""
    s = pd.Series(czcsxm, dtype="string").fillna("").str.strip().str.upper()
    return s.map(_settlement_of_czcsxm()).fillna("")


def truthy(values) -> np.ndarray:
    """Booleans from bool/int/text columns (是/否, true/false, 1/0); missing is False."""
    s = pd.Series(values)
    if s.dtype == bool:
        return s.to_numpy()
    return s.astype("string").fillna("").str.strip().str.lower().isin(TRUE_VALUES).to_numpy()


# -- inputs ------------------------------------------------------------------------------------
def require(frame: gpd.GeoDataFrame | pd.DataFrame, layer: str, columns: Iterable[str]) -> None:
    """Raise a clear error if ``frame`` (layer ``layer``) lacks any of ``columns``."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise LandInputError("land.error.missing_fields", layer=layer, label=layer_label(layer),
                             fields=", ".join(f"`{c}`" for c in missing), has=", ".join(map(str, frame.columns)))


def polygons(frame: gpd.GeoDataFrame, layer: str, epsg: int, id_field: str | None = None) -> gpd.GeoDataFrame:
    """``frame`` projected to ``epsg``, checked to hold polygons (None/empty geometries dropped)."""
    if not isinstance(frame, gpd.GeoDataFrame):
        raise LandInputError("land.error.not_spatial", layer=layer, label=layer_label(layer), kind=type(frame).__name__)
    if id_field is not None:
        require(frame, layer, [id_field])
    try:
        out = project(frame, epsg)
    except OverlayError as exc:
        raise LandInputError("land.error.layer", layer=layer, label=layer_label(layer), error=exc) from None
    keep = out.geometry.notna() & ~out.geometry.is_empty
    out = out[keep.to_numpy()]
    kinds = set(out.geom_type.unique()) - {"Polygon", "MultiPolygon"}
    if kinds:
        bad = out[~out.geom_type.isin(["Polygon", "MultiPolygon"])]
        which = bad[id_field].iloc[0] if id_field else bad.index[0]
        raise LandInputError("land.error.not_polygons", layer=layer, label=layer_label(layer), feature=str(which),
                             kind=bad.geom_type.iloc[0])
    return out


def layer_or_base(ws, name: str, scenario: str | None):
    """A layer of the scenario if it has one, else of the workspace, else None."""
    if scenario is not None and ws.has(name, scenario):
        return ws.read(name, scenario)
    return ws.read(name) if ws.has(name) else None


def epsg_for(epsg: int | None, *frames: gpd.GeoDataFrame | None) -> int:
    """The computing GK zone: the one given, else the zone of the first non-empty frame."""
    if epsg:
        return int(epsg)
    for f in frames:
        if f is not None and len(f):
            return compute_epsg(f)
    raise LandInputError("land.error.no_compute_crs")


# -- zones -------------------------------------------------------------------------------------
def zone_polygons(zones: gpd.GeoDataFrame | None = None, *, townships: gpd.GeoDataFrame | None = None,
                  mapping: Mapping[str, str] | pd.DataFrame | None = None, zone_field: str = "zone",
                  epsg: int | None = None) -> gpd.GeoDataFrame:
    """Zones as a GeoDataFrame (``zone``, geometry) in ``epsg``.

    Either ``zones`` (a polygon layer with ``zone_field``; several rows per zone are dissolved)
    or ``townships`` (the township layer, ``code``) with ``mapping`` township code → zone
    (a dict, or a frame with ``code``/``township_code`` and ``zone`` as the zone_member table).
    """
    if zones is not None:
        require(zones, "zone", [zone_field])
        epsg = epsg_for(epsg, zones)
        z = polygons(zones, "zone", epsg)
        labels = z[zone_field].astype(str)
        return geo_zone_polygons(z.assign(_label=labels), dict(zip(labels, labels)), code="_label")
    if townships is None or mapping is None:
        raise LandInputError("land.error.zones_args")
    require(townships, "township", ["code"])
    epsg = epsg_for(epsg, townships)
    if isinstance(mapping, pd.DataFrame):
        key = "code" if "code" in mapping.columns else "township_code"
        require(mapping, "zone_member", [key, zone_field])
        mapping = dict(zip(mapping[key].astype(str), mapping[zone_field].astype(str)))
    t = polygons(townships, "township", epsg, "code")
    missing = sorted(set(t["code"].astype(str)) - set(mapping))
    if missing:
        raise LandInputError("land.error.township_no_zone", codes=", ".join(missing[:5]))
    return geo_zone_polygons(t, mapping, epsg=epsg)


# -- rule filters ------------------------------------------------------------------------------
def filter_mask(frame: pd.DataFrame, expr: str) -> np.ndarray:
    """Rows of ``frame`` matching a rules-file filter: ``col=a|b``, ``col!=a``, conditions joined by
    ``&`` (all must hold), or '' (all rows).

    ``true``/``false`` compare the column as a boolean (是/否, 1/0 ...). A missing column reads as
    empty values: ``core_zone=true`` matches nothing when the layer has no ``core_zone`` field.
    """
    expr = (expr or "").strip()
    if not expr:
        return np.ones(len(frame), dtype=bool)
    if "&" in expr:  # every condition holds
        return np.logical_and.reduce([filter_mask(frame, part) for part in expr.split("&")])
    neg = "!=" in expr
    col, _, vals = expr.partition("!=" if neg else "=")
    col, options = col.strip(), [v.strip() for v in vals.split("|")]
    values = frame[col] if col in frame.columns else pd.Series([None] * len(frame), index=frame.index)
    if set(o.lower() for o in options) <= {"true", "false"}:
        want = options[0].lower() == "true"
        hit = truthy(values) == want
    else:
        hit = values.astype("string").fillna("").str.strip().isin(options).to_numpy()
    return ~hit if neg else hit
