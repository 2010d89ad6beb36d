"""Shape one source layer, its fields already recognised, into a pianqu schema layer.

Renames the recognised fields, keeps every other field (lower-cased Latin names; storage fields
such as OBJECTID/Shape_Area that describe the source file are dropped), types values as the schema
declares them (a value that cannot be typed is an error naming the feature and field, never a
silent NaN), derives what the standards define (township/village codes from ZLDWDM, slope from
坡度级别, names and kinds from the official division list, road classes from their Chinese names)
and reports each derivation as a finding.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from pianqu import divisions
from pianqu.findings import Finding
from pianqu.geo import ellipsoidal_area
from pianqu.ingest.errors import IngestError
from pianqu.ingest.landcodes import slope_from_class
from pianqu.ingest.mapping import area_units, indicator_key, norm_name, unit_in_name, unit_m2, value_table
from pianqu.schema import LAYERS
from pianqu.standards import facility_kinds, road_classes, table as standards_table
from pianqu.geo import guess_gk_crs  # GK metres: X east/Y north, or the surveyors' X north/Y east
from pianqu.network.osm import ROAD_TAGS, osm_road_attributes, parse_other_tags

CODE_FIELDS = ("code", "township_code", "village_code", "county_code")
ID_LIKE = ("bsm", "id", "source_code", "czcsxm", "zldwdm", "qsdwdm")


class Context:
    """Where the frame came from, for messages and findings."""

    def __init__(self, *, source: str, source_layer: str, layer: str, reverse: dict[str, str]):
        self.source = source
        self.source_layer = source_layer
        self.layer = layer
        self.reverse = reverse  # pianqu field → source field
        self.findings: list[Finding] = []

    def note(self, severity: str, rule: str, *, feature: str = "", field: str = "", **params: Any) -> None:
        self.findings.append(Finding(severity, rule, self.layer, feature, field,
                                     {"source_layer": self.source_layer, **params}, self.source))

    def error(self, rule: str, **params: Any) -> IngestError:
        return IngestError(rule, source=self.source, source_layer=self.source_layer, **params)

    def src_field(self, name: str) -> str:
        return self.reverse.get(name, name)


# ---- codes ---------------------------------------------------------------------------------------------

def norm_code(values: pd.Series) -> pd.Series:
    """Codes as text: numbers from spreadsheets lose their ``.0``, blanks become missing."""
    if pd.api.types.is_float_dtype(values.dtype) or pd.api.types.is_integer_dtype(values.dtype):
        num = pd.to_numeric(values, errors="coerce")
        ok = num.notna() & np.isfinite(num) & (num == np.floor(num))
        out = pd.Series(pd.NA, index=values.index, dtype="string")
        out[ok] = num[ok].astype("int64").astype("string")
        other = num.notna() & ~ok  # not a whole number: kept as written, validate reports it
        out[other] = num[other].astype("string")
        return out
    if values.dtype == object:
        is_text = bool(values.map(lambda v: isinstance(v, str), na_action="ignore").fillna(True).all())
    else:
        is_text = pd.api.types.is_string_dtype(values.dtype)
    if is_text:
        out = values.astype("string").str.strip().str.replace(" ", "", regex=False)
        out = out.str.replace(r"^(\d+)\.0+$", r"\1", regex=True)
    else:  # mixed cells from a spreadsheet: numbers, text
        out = values.map(_code_text, na_action="ignore").astype("string")
    return out.mask(_true(out == ""))


def _code_text(v: Any) -> str:
    if isinstance(v, (bool, np.bool_)):
        return str(v)
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        if np.isfinite(v) and float(v).is_integer():
            return str(int(v))
        return str(v)
    text = str(v).strip().replace(" ", "")
    return re.sub(r"^(\d+)\.0+$", r"\1", text)


def admin_code(codes: pd.Series) -> pd.Series:
    """Division codes at their natural length: 19-digit ZLDWDM → 12; padded ``…000`` dropped.

    ``511921101000`` is township 511921101 written at village length; ``511921000000`` is the
    county. NBS village codes never end in ``000``.
    """
    c = norm_code(codes)
    for pattern, keep in ((r"\d{19}", 12), (r"\d{6}000000", 6), (r"\d{9}000", 9), (r"\d{6}000", 6)):
        c = c.where(~_true(c.str.fullmatch(pattern)), c.str[:keep])
    return c


def _true(mask: pd.Series) -> pd.Series:
    """A boolean mask with missing values as False."""
    return mask.fillna(False).astype(bool)


def code_level(codes: pd.Series) -> str | None:
    """county / township / village from the lengths of normalised codes (the majority), or None."""
    lengths = admin_code(codes).dropna().str.len()
    if lengths.empty:
        return None
    common = int(lengths.mode().iloc[0])
    return {6: "county", 9: "township", 12: "village"}.get(common)


# ---- typing values ---------------------------------------------------------------------------------------

def _feature_label(frame: pd.DataFrame, i: Any, layer: str) -> str:
    id_field = LAYERS[layer].id_field if layer in LAYERS else None
    if id_field and id_field in frame.columns and pd.notna(frame.at[i, id_field]):
        return str(frame.at[i, id_field])
    return f"FID {i}"


def _to_number(frame: pd.DataFrame, col: str, ctx: Context, integer: bool) -> pd.Series:
    raw = frame[col]
    if pd.api.types.is_numeric_dtype(raw.dtype) and not pd.api.types.is_bool_dtype(raw.dtype):
        num = raw.astype("float64")
    else:
        text = raw.map(lambda v: v if not isinstance(v, str) else v.strip().replace(",", "").replace("，", ""),
                       na_action="ignore")
        text = text.mask(_true(text.map(lambda v: isinstance(v, str) and v == "", na_action="ignore")))
        num = pd.to_numeric(text, errors="coerce").astype("float64")
        bad = text.notna() & num.isna()
        if bad.any():
            i = bad[bad].index[0]
            raise ctx.error("ingest.bad_value", feature=_feature_label(frame, i, ctx.layer),
                            field=ctx.src_field(col), value=str(raw.at[i]),
                            dtype="整数 integer" if integer else "数值 number", n=int(bad.sum()))
    if integer:
        frac = num.notna() & (num != np.floor(num))
        if frac.any():
            i = frac[frac].index[0]
            raise ctx.error("ingest.bad_value", feature=_feature_label(frame, i, ctx.layer),
                            field=ctx.src_field(col), value=str(raw.at[i]), dtype="整数 integer", n=int(frac.sum()))
        return num.round().astype("Int64")
    return num


def _to_bool(frame: pd.DataFrame, col: str, ctx: Context) -> pd.Series:
    words = value_table("booleans")
    yes = {str(w).lower() for w in words["true"]}
    no = {str(w).lower() for w in words["false"]}
    text = frame[col].map(lambda v: _code_text(v).lower(), na_action="ignore")
    out = pd.Series(pd.NA, index=frame.index, dtype="boolean")
    out[text.isin(yes)] = True
    out[text.isin(no)] = False
    bad = text.notna() & ~text.isin(yes | no)
    if bad.any():
        i = bad[bad].index[0]
        raise ctx.error("ingest.bad_value", feature=_feature_label(frame, i, ctx.layer), field=ctx.src_field(col),
                        value=str(frame.at[i, col]), dtype="是/否 yes/no", n=int(bad.sum()))
    return out


def type_fields(frame: pd.DataFrame, ctx: Context) -> pd.DataFrame:
    """Schema types for the schema fields present; codes and ids as text."""
    layer = LAYERS.get(ctx.layer)
    if layer is None:
        return frame
    for f in layer.fields:
        if f.name not in frame.columns:
            continue
        if f.dtype == "str":
            if f.name in CODE_FIELDS or f.name in ID_LIKE:
                frame[f.name] = norm_code(frame[f.name])
            else:
                frame[f.name] = frame[f.name].map(lambda v: str(v).strip(), na_action="ignore").astype("string")
        elif f.dtype in ("int", "float"):
            frame[f.name] = _to_number(frame, f.name, ctx, f.dtype == "int")
        elif f.dtype == "bool":
            frame[f.name] = _to_bool(frame, f.name, ctx)
    for extra in ("zldwdm", "qsdwdm"):
        if extra in frame.columns:
            frame[extra] = norm_code(frame[extra])
    return frame


# ---- renaming and keeping --------------------------------------------------------------------------------

def rename(frame: pd.DataFrame, field_map: dict[str, str], layer: str) -> pd.DataFrame:
    """Mapped fields under their pianqu names; the rest kept (Latin names lower-cased)."""
    storage = {norm_name(n) for n in value_table("storage_fields")["names"]}
    geom = frame.geometry.name if isinstance(frame, gpd.GeoDataFrame) else None
    targets = set(field_map.values())
    schema = set(LAYERS[layer].field_names) if layer in LAYERS else set()
    taken = set(targets) | schema
    names: dict[str, str] = {}
    drop = []
    for col in frame.columns:
        if col == geom:
            continue
        if col in field_map:
            names[col] = field_map[col]
            continue
        if norm_name(col) in storage:
            drop.append(col)
            continue
        new = col.lower() if re.fullmatch(r"[A-Za-z0-9_]+", col) else col
        if new in taken:
            new = f"src_{new}"
        while new in taken:
            new = f"{new}_"
        taken.add(new)
        names[col] = new
    out = frame.drop(columns=drop).rename(columns=names)
    return out


# ---- per-layer derivations --------------------------------------------------------------------------------

def conform(frame: pd.DataFrame, field_map: dict[str, str], ctx: Context, *, epoch: int | None,
            default_epoch: int, area_tolerance: float) -> pd.DataFrame:
    """The frame as pianqu layer ``ctx.layer`` (geometry already in EPSG:4490)."""
    layer = ctx.layer
    out = rename(frame, field_map, layer)
    out = type_fields(out, ctx)
    if layer == "landuse":
        out = _landuse(out, ctx, epoch=epoch, default_epoch=default_epoch)
    elif layer in ("county", "township", "village"):
        out = _admin(out, ctx)
    elif layer == "road":
        out = _roads(out, ctx)
    elif layer == "facility":
        out = _facilities(out, ctx)
    elif layer == "telecom" and "tech" in out.columns:
        out["tech"] = out["tech"].str.upper().str.replace("Ｇ", "G")
    elif layer == "targets":
        out = _targets(out, ctx)
    elif layer == "centres":
        out = _centres(out, ctx)
    elif layer == "economy" and "township_code" in out.columns:
        out["township_code"] = admin_code(out["township_code"])
    elif layer == "settlement":
        for col in ("township_code", "village_code"):
            if col in out.columns:
                out[col] = admin_code(out[col])
    if layer in LAYERS:
        out = _ids(out, ctx)
        if "area_m2" in out.columns and isinstance(out, gpd.GeoDataFrame) and layer != "landuse":
            out = _area_unit(out, ctx, area_tolerance)
        derived_later = {"code", "name"} if layer == "landuse" and "source_code" in out.columns else set()
        missing = [f.name for f in LAYERS[layer].fields
                   if f.required and f.name not in out.columns and f.name not in derived_later]
        if "population" in missing and layer in ("township", "village"):  # 三调 carries none: the
            missing.remove("population")  # same warning and fix as validate's population_absent
            ctx.note("warning", "ingest.population_absent", field="population")
        if missing:
            ctx.note("warning", "ingest.missing_required", field=", ".join(missing), fields=", ".join(missing))
    nulls = int(out.geometry.isna().sum() + out.geometry.is_empty.sum()) if isinstance(out, gpd.GeoDataFrame) else 0
    if nulls:
        ctx.note("warning", "ingest.null_geometry", n=nulls)
    return _ordered(out, layer)


def _ordered(frame: pd.DataFrame, layer: str) -> pd.DataFrame:
    """Schema fields first, in schema order, then the kept source fields, then the geometry."""
    schema = [f for f in (LAYERS[layer].field_names if layer in LAYERS else []) if f in frame.columns]
    geom = [frame.geometry.name] if isinstance(frame, gpd.GeoDataFrame) else []
    rest = [c for c in frame.columns if c not in schema and c not in geom]
    return frame[schema + rest + geom]


def _ids(frame: pd.DataFrame, ctx: Context) -> pd.DataFrame:
    id_field = LAYERS[ctx.layer].id_field
    if id_field is None or ctx.layer in ("county", "township", "village", "settlement"):
        return frame
    if id_field not in frame.columns:
        frame[id_field] = pd.array([f"{ctx.source_layer}-{i + 1}" for i in range(len(frame))], dtype="string")
        ctx.note("info", "ingest.generated_ids", field=id_field, n=len(frame))
    else:
        empty = frame[id_field].isna()
        if empty.any():
            fill = pd.Series([f"{ctx.source_layer}-{i + 1}" for i in range(len(frame))], index=frame.index,
                             dtype="string")
            frame[id_field] = frame[id_field].fillna(fill)
            ctx.note("info", "ingest.generated_ids", field=id_field, n=int(empty.sum()))
    return frame


def _raw_name(src: str) -> str:
    """The column that keeps a converted field's original values."""
    return f"{norm_name(src)}_raw" if re.fullmatch(r"[A-Za-z0-9_]+", src) else f"{src}_原值"


def _targets(frame: pd.DataFrame, ctx: Context) -> pd.DataFrame:
    """Planning targets: indicator names to pianqu's keys (values.toml ``quota_indicators``), the
    value to hectares by the unit in its header (:func:`unit_m2`; none written: 公顷, said)."""
    if "indicator" in frame.columns:
        names = value_table("quota_indicators")["values"]
        mapped = frame["indicator"].astype("string").map(indicator_key, na_action="ignore")
        unknown = sorted({str(v) for v in mapped.dropna() if v not in names.values()})
        if unknown:
            ctx.note("warning", "ingest.target_indicator", field="indicator", values="、".join(unknown),
                     known="、".join(names))
        frame["indicator"] = mapped
    if "target_ha" in frame.columns:
        src = ctx.src_field("target_ha")
        unit = unit_in_name(src)
        m2 = unit_m2(unit) if unit else 1e4
        if not unit:
            ctx.note("info", "ingest.target_unit_assumed", field=src)
        elif m2 is None:
            ctx.note("warning", "ingest.target_unit_unknown", field=src, unit=unit)
        elif m2 != 1e4:
            frame[_raw_name(src)] = frame["target_ha"]
            frame["target_ha"] = pd.to_numeric(frame["target_ha"], errors="coerce") * (m2 / 1e4)
            ctx.note("info", "ingest.target_unit", field=src, unit=unit)
    return frame


def _centres(frame: pd.DataFrame, ctx: Context) -> pd.DataFrame:
    """Designated centres: codes at their natural length, a category written as one of its
    aliases (standards ``centre_categories``) under its name, and where each row came from
    (``source_file``, ``source_row``: the row in the file, the header being row 1) so that
    :func:`pianqu.inputs.designated_centres` names them."""
    if "code" in frame.columns:
        frame["code"] = admin_code(frame["code"])
    if "category" in frame.columns:
        cats = standards_table("centre_categories")
        alias = {norm_name(a): c for c, al in zip(cats["category"], cats["aliases"])
                 for a in [c, *str(al).split("|")] if a}
        frame["category"] = frame["category"].map(lambda v: alias.get(norm_name(v), str(v).strip()),
                                                  na_action="ignore").astype("string")
    frame["source_file"] = Path(ctx.source).name if ctx.source else ""
    frame["source_row"] = np.arange(2, len(frame) + 2)
    return frame


def _area_unit(frame: gpd.GeoDataFrame, ctx: Context, tolerance: float) -> gpd.GeoDataFrame:
    """Bring an area field to m² when its name or its values say it is in 公顷/亩/km²."""
    units = area_units()
    src = ctx.src_field("area_m2")
    unit = unit_in_name(src)
    factor = unit_m2(unit) if unit else None
    values = frame["area_m2"].astype("float64")
    ok = values.notna() & (values > 0) & frame.geometry.notna() & ~frame.geometry.is_empty
    if factor is None and ok.sum() > 0:
        geo = ellipsoidal_area(frame.geometry[ok])
        ratio = float(np.median(values[ok].to_numpy() / np.where(geo > 0, geo, np.nan)))
        for word, m2 in units.items():
            if np.isfinite(ratio) and abs(ratio * float(m2) - 1.0) <= tolerance:
                factor = float(m2)
                unit = word
                break
    if factor is not None and factor != 1.0:
        frame[_raw_name(src)] = values
        frame["area_m2"] = values * factor
        ctx.note("info", "ingest.area_unit", field=src, unit=unit)
    return frame


def _landuse(frame: pd.DataFrame, ctx: Context, *, epoch: int | None, default_epoch: int) -> pd.DataFrame:
    if "zldwdm" in frame.columns:
        z = norm_code(frame["zldwdm"])
        if "village_code" not in frame.columns:
            v = z.str[:12].where(z.str.len() >= 12)
            frame["village_code"] = v.mask(_true(v.str.endswith("000")))  # township-level units
        if "township_code" not in frame.columns:
            frame["township_code"] = z.str[:9].where(z.str.len() >= 9)
        ctx.note("info", "ingest.codes_from_zldwdm", field=ctx.src_field("zldwdm"))
    if "slope_class" in frame.columns and "slope_deg" not in frame.columns:
        deg, unknown = slope_from_class(frame["slope_class"])
        frame["slope_deg"] = deg
        src = value_table("slope_classes")
        ctx.note("info", "ingest.slope_from_class", field=ctx.src_field("slope_class"), source_ref=src["source"],
                 unknown=unknown)
    if epoch is not None:
        if "epoch" in frame.columns:
            ctx.note("warning", "ingest.epoch_overridden", field=ctx.src_field("epoch"), epoch=epoch)
        frame["epoch"] = pd.array([epoch] * len(frame), dtype="Int64")
    elif "epoch" not in frame.columns or frame["epoch"].isna().all():
        year = _year_in_name(ctx.source_layer) or _year_in_name(Path(ctx.source).name)
        frame["epoch"] = pd.array([year or default_epoch] * len(frame), dtype="Int64")
        if year:
            ctx.note("info", "ingest.epoch_from_name", epoch=year)
        else:
            ctx.note("warning", "ingest.epoch_assumed", epoch=default_epoch)
    elif frame["epoch"].isna().any():
        n = int(frame["epoch"].isna().sum())
        frame["epoch"] = frame["epoch"].fillna(int(frame["epoch"].dropna().mode().iloc[0]))
        ctx.note("warning", "ingest.epoch_filled", n=n, field=ctx.src_field("epoch"))
    if "bsm" not in frame.columns:
        frame["bsm"] = pd.array([f"{ctx.source_layer}-{i + 1}" for i in range(len(frame))], dtype="string")
        ctx.note("info", "ingest.generated_ids", field="bsm", n=len(frame))
    return _deductions(frame, ctx)


def _deductions(frame: pd.DataFrame, ctx: Context) -> pd.DataFrame:
    """三调 扣除 fields of the parcels: KCXS, KCMJ, TBDLMJ kept as read, the missing ones derived
    (KCMJ = TBMJ − TBDLMJ or TBMJ × KCXS; TBDLMJ = TBMJ − KCMJ; KCXS = KCMJ / TBMJ); none → 0 (noted)."""
    n = len(frame)
    num = lambda c: (pd.to_numeric(frame[c], errors="coerce").astype("float64")  # noqa: E731
                     if c in frame.columns else pd.Series(np.nan, index=frame.index, dtype="float64"))
    present = [c for c in ("kcxs", "kcmj", "tbdlmj") if c in frame.columns]
    if "area_m2" not in frame.columns or n == 0:
        return frame
    tbmj, kcxs, kcmj, tbdlmj = num("area_m2"), num("kcxs"), num("kcmj"), num("tbdlmj")
    if not present:
        frame["kcxs"], frame["kcmj"], frame["tbdlmj"] = 0.0, 0.0, tbmj
        ctx.note("info", "ingest.deduction_zero")
        return frame
    before = {"kcxs": kcxs.isna(), "kcmj": kcmj.isna(), "tbdlmj": tbdlmj.isna()}
    kcmj = kcmj.fillna(tbmj - tbdlmj).fillna(tbmj * kcxs)
    tbdlmj = tbdlmj.fillna(tbmj - kcmj)
    kcxs = kcxs.fillna(kcmj / tbmj.where(tbmj > 0))
    derived = {c: int((before[c] & v.notna()).sum()) for c, v in (("kcxs", kcxs), ("kcmj", kcmj), ("tbdlmj", tbdlmj))}
    frame["kcxs"], frame["kcmj"], frame["tbdlmj"] = kcxs, kcmj, tbdlmj
    if any(derived.values()):
        ctx.note("info", "ingest.deduction_derived", fields="、".join(c.upper() for c, k in derived.items() if k),
                 n=max(derived.values()))
    return frame


def _year_in_name(name: str) -> int | None:
    hits = re.findall(r"(?<!\d)(20[0-4]\d)(?!\d)", str(name))
    return int(hits[-1]) if hits else None


def _admin(frame: pd.DataFrame, ctx: Context) -> pd.DataFrame:
    layer = ctx.layer
    if "code" in frame.columns:
        codes = admin_code(frame["code"])
        if layer == "village":
            codes = norm_code(frame["code"])
            long = _true(codes.str.fullmatch(r"\d{19}"))  # ZLDWDM: village + 7 digits of its groups;
            if long.any():  # other lengths are kept as they came (validate reports their format)
                ctx.note("info", "ingest.codes_truncated", field=ctx.src_field("code"), n=int(long.sum()), digits=12)
            codes = codes.where(~long, codes.str[:12])
        frame["code"] = codes
        frame = _dissolve(frame, ctx)
    else:
        return frame
    code = frame["code"]
    if layer == "township":
        if "county_code" not in frame.columns or frame["county_code"].isna().all():
            frame["county_code"] = code.str[:6]
        official = divisions.townships()
        ref = official.set_index("code")
    elif layer == "village":
        if "township_code" not in frame.columns or frame["township_code"].isna().all():
            frame["township_code"] = code.str[:9]
        else:
            frame["township_code"] = admin_code(frame["township_code"]).fillna(code.str[:9])
        ref = divisions.villages().set_index("code")
    else:
        ref = divisions.counties().set_index("code")
    known = code.isin(ref.index)
    if "name" not in frame.columns:
        frame["name"] = pd.array([pd.NA] * len(frame), dtype="string")
    if layer == "village":
        frame["name"] = frame["name"].map(divisions.short_village_name, na_action="ignore").astype("string")
    empty = frame["name"].isna() | (frame["name"] == "")
    fill = empty & known
    if fill.any():
        frame.loc[fill, "name"] = code[fill].map(ref["name"]).to_numpy()
        ctx.note("info", "ingest.names_from_divisions", field="name", n=int(fill.sum()))
    if layer in ("township", "village"):
        if "kind" not in frame.columns:
            frame["kind"] = pd.array([pd.NA] * len(frame), dtype="string")
        kind_empty = frame["kind"].isna() | (frame["kind"] == "")
        from_ref = code.map(ref["kind"]) if "kind" in ref.columns else pd.Series(pd.NA, index=frame.index)
        guess = frame["name"].map(divisions.township_kind if layer == "township" else divisions.village_kind,
                                  na_action="ignore")
        frame["kind"] = frame["kind"].mask(kind_empty, from_ref.fillna(guess)).astype("string")
    unknown = code.notna() & ~known
    if unknown.any():
        ctx.note("warning", "ingest.code_not_official", field=ctx.src_field("code"), n=int(unknown.sum()),
                 examples=", ".join(code[unknown].astype(str).head(5)))
    return frame


_GROUP_SUFFIX = re.compile(r"(?<=[村区])[0-9０-９一二三四五六七八九十百零〇]+(村民小组|居民小组|小组|组|社)$")


def _unit_name(name: object) -> str:
    """The unit a part's name points to, as a comparison key: '民胜村一组', '民胜村' and
    '民胜村民委员会' → '民胜'; '城南社区二组' → '城南社区'; '' if none."""
    if not isinstance(name, str) or not name.strip():
        return ""
    text = _GROUP_SUFFIX.sub("", divisions.short_village_name(re.sub(r"\s+", "", name)))
    return text[:-1] if text.endswith("村") and len(text) > 1 else text


def _dissolve(frame: pd.DataFrame, ctx: Context) -> pd.DataFrame:
    """One feature per division code where the features sharing it are parts of one unit (飞地,
    a CJDCQ split by 村民小组: same name or no name). Features that share a code but carry
    different names are different units with a wrong code: they are kept as they came (never
    merged) and validate reports each of them."""
    if not isinstance(frame, gpd.GeoDataFrame):
        return frame
    has = frame["code"].notna()
    dup = frame.loc[has, "code"].duplicated(keep=False)
    if not dup.any():
        return frame
    if "name" in frame.columns:
        unit = frame["name"].map(_unit_name).where(has, "")
        named = frame.loc[has & (unit != ""), "code"]
        distinct = unit[has & (unit != "")].groupby(named.to_numpy()).nunique()
        clash = set(distinct.index[distinct > 1])
        if clash:
            kept = has & frame["code"].isin(clash)
            ctx.note("warning", "ingest.duplicate_codes", field=ctx.src_field("code"), n=int(kept.sum()),
                     m=len(clash), examples=", ".join(sorted(clash)[:5]))
            has = has & ~kept
            dup = frame.loc[has, "code"].duplicated(keep=False)
            if not dup.any():
                return frame
    parts = frame.loc[has]
    merged_geom = parts.geometry.groupby(parts["code"].to_numpy()).agg(lambda g: g.union_all())
    first = parts.drop_duplicates("code", keep="first").set_index("code", drop=False)
    numeric = [c for c in ("area_m2",) if c in parts.columns]
    for c in numeric:
        first[c] = parts.groupby("code")[c].sum(min_count=1)
    first = first.set_geometry(gpd.GeoSeries(merged_geom.reindex(first.index).to_numpy(), index=first.index,
                                             crs=frame.crs))
    out = pd.concat([first.reset_index(drop=True), frame.loc[~has]], ignore_index=True)
    ctx.note("info", "ingest.dissolved", field=ctx.src_field("code"), n=int(dup.sum()),
             m=int(parts.loc[dup.to_numpy(), "code"].nunique()))
    return gpd.GeoDataFrame(out, geometry=frame.geometry.name, crs=frame.crs)


def _roads(frame: pd.DataFrame, ctx: Context) -> pd.DataFrame:
    classes = road_classes()
    lookup = {c: c for c in classes["class"]}
    lookup.update({n: c for n, c in zip(classes["name_zh"], classes["class"])})
    lookup.update(value_table("road_class_names")["values"])
    src_class = ctx.src_field("class")
    if "class" in frame.columns:
        raw = frame["class"].astype("string").str.strip()
        if norm_name(src_class) == "highway":
            frame = _osm_roads(frame, raw, ctx)
            mapped = frame["class"]
            raw = mapped
        else:
            mapped = raw.map(lambda v: lookup.get(v, lookup.get(str(v).lower())), na_action="ignore")
        frame["class"] = mapped.fillna(raw).astype("string")
    if "road_code" in frame.columns:
        prefix = value_table("road_code_prefix")["values"]
        by_code = frame["road_code"].astype("string").str.strip().str[:1].str.upper().map(prefix)
        if "class" not in frame.columns:
            frame["class"] = by_code.astype("string")
        else:
            frame["class"] = frame["class"].fillna(by_code)
    if "class" in frame.columns:
        unknown = frame["class"].notna() & ~frame["class"].isin(list(classes["class"]))
        if unknown.any():
            ctx.note("warning", "ingest.unknown_values", field=src_class, n=int(unknown.sum()),
                     values=", ".join(sorted(frame.loc[unknown, "class"].astype(str).unique())[:8]),
                     allowed=", ".join(classes["class"]))
    return frame


def _osm_roads(frame: pd.DataFrame, highway: pd.Series, ctx: Context) -> pd.DataFrame:
    """OpenStreetMap ways (GDAL's OSM driver: ``highway`` plus the ``other_tags`` text) with the
    classes, speeds, one-way and grade separation of :func:`pianqu.network.osm.osm_road_attributes`,
    the rules ``read_osm_roads`` uses too (one table, ``standards/osm_highway.csv``). Ways that are
    not roads a planner's network uses, or are closed to cars, are left out (reported);
    ``oneway=-1`` ways are turned to run with the traffic."""

    tags = (parse_other_tags(frame["other_tags"]) if "other_tags" in frame.columns
            else pd.DataFrame(index=frame.index))
    for key in ROAD_TAGS:  # tags GDAL was configured to give as fields of their own
        if key not in tags.columns and key in frame.columns:
            tags[key] = frame[key]
    att = osm_road_attributes(highway, tags)
    keep = att["keep"].to_numpy(bool)
    dropped = int((~keep).sum())
    if dropped:
        ctx.note("info", "ingest.osm_dropped", n=dropped,
                 kinds=", ".join(sorted(highway[~keep].dropna().unique())[:8]))
    frame = frame.loc[keep].copy()
    att = att.loc[keep]
    frame["highway"] = highway[keep].to_numpy()
    frame["class"] = att["class"].to_numpy()
    for col in ("speed_kmh", "lanes", "width_m"):
        given = frame[col] if col in frame.columns else pd.Series(np.nan, index=frame.index)
        frame[col] = given.where(given.notna(), att[col])
    frame["oneway"] = att["oneway"].to_numpy(bool)
    frame["grade_separated"] = att["grade_separated"].to_numpy(bool)
    reverse = att["reverse"].to_numpy(bool)
    if reverse.any() and isinstance(frame, gpd.GeoDataFrame):
        geom = frame.geometry.to_numpy().copy()
        geom[reverse] = shapely.reverse(geom[reverse])
        frame = frame.set_geometry(gpd.GeoSeries(geom, index=frame.index, crs=frame.crs))
    return frame


def facility_kind_lookup() -> dict[str, str]:
    """Chinese and English names (and their common short forms) → facility kind id."""
    table = facility_kinds()
    out: dict[str, str] = {}
    for kind, zh, en in zip(table["kind"], table["name_zh"], table["name_en"]):
        names = {kind, en.lower(), zh, re.sub(r"（[^）]*）", "", zh)}
        tail = re.search(r"（([^）]*)）$", zh)
        if tail:
            names.add(tail.group(1))
        for n in names:
            out.setdefault(norm_name(n), kind)
    return out


def _facilities(frame: pd.DataFrame, ctx: Context) -> pd.DataFrame:
    if "kind" not in frame.columns:
        return frame
    lookup = facility_kind_lookup()
    raw = frame["kind"].astype("string").str.strip()
    mapped = raw.map(lambda v: lookup.get(norm_name(v)), na_action="ignore")
    frame["kind"] = mapped.fillna(raw).astype("string")
    unknown = raw.notna() & mapped.isna()
    if unknown.any():
        ctx.note("warning", "ingest.unknown_values", field=ctx.src_field("kind"), n=int(unknown.sum()),
                 values=", ".join(sorted(raw[unknown].astype(str).unique())[:8]),
                 allowed="pianqu standards --table facility_kinds")
    return frame


def points_from_lonlat(frame: pd.DataFrame, ctx: Context) -> gpd.GeoDataFrame:
    """A table with longitude/latitude columns as points in EPSG:4490. Columns holding
    Gauss–Krüger metres with a zone prefix (X/Y, either order) are reprojected from that zone;
    rows without coordinates get no geometry (a facility table places them by code)."""
    lon = _to_number(frame, "lon", ctx, False)
    lat = _to_number(frame, "lat", ctx, False)
    has = (lon.notna() & lat.notna()).to_numpy()
    fields = f"{ctx.src_field('lon')}, {ctx.src_field('lat')}"
    x, y, epsg = lon.to_numpy(), lat.to_numpy(), 4490
    if has.any() and not ((73 <= x[has]) & (x[has] <= 136) & (3 <= y[has]) & (y[has] <= 54)).all():

        epsg = guess_gk_crs(x[has], y[has])
        if epsg is None and (epsg := guess_gk_crs(y[has], x[has])) is not None:
            x, y = y, x
        if epsg is None:
            from pianqu.ingest.crs import describe_coordinates

            looks, suggest = describe_coordinates((float(np.nanmin(x)), float(np.nanmin(y)),
                                                   float(np.nanmax(x)), float(np.nanmax(y))))
            raise ctx.error("ingest.table_xy_crs", field=fields, looks=looks, suggest=suggest)
        ctx.note("info", "ingest.table_xy_points", field=fields, crs=f"EPSG:{epsg}")
    else:
        ctx.note("warning", "ingest.lonlat_points", field=fields)
    geom = np.full(len(frame), None, dtype=object)
    geom[has] = shapely.points(np.column_stack([x[has], y[has]]))
    out = gpd.GeoDataFrame(frame.drop(columns=["lon", "lat"]), geometry=list(geom), crs=epsg)
    return out.to_crs(4490) if epsg != 4490 else out
