"""Layers and fields: missing layers, missing fields, wrong types, unparsable and missing values.

Each declared field is coerced to its declared type so that later checks can work on clean
columns; what could not be coerced is reported here once (``validate.bad_value``) and left
out of later checks, so one bad value does not cascade into more findings.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pianqu.schema import IMPORTED_SUFFIX, LAYERS, SPATIAL_LAYERS, WORK_LAYERS
from pianqu.validate._common import Context, LayerData, as_text, feature_ids

# Fields whose missing values have a dedicated rule elsewhere (population.py, codes.py).
DEDICATED_MISSING = {("township", "population"), ("village", "population"),
                     ("landuse", "code"), ("landuse", "name")}

# Required fields whose absence is a warning with its own rule (population.py): 三调 data never
# carries population; it comes from a statistics table imported by code.
SOFT_REQUIRED = {("township", "population"), ("village", "population")}

# Numeric fields that cannot be negative (population has its own rule in population.py).
NON_NEGATIVE = {"households", "area_m2", "capacity", "lanes", "width_m", "speed_kmh", "output",
                "employment", "order", "slope_deg", "urban_population", "target_ha"}

# Layers whose absence is not reported at all (written by import only when needed; a county
# without a list of designated centres is told by the plan's inputs, inputs.centres_missing).
# (statistics: the evaluation shows 无数据 for each indicator it feeds and says what to import)
SILENT_OPTIONAL = {"landuse_review", "centres", "statistics"}

TRUE_WORDS = {"true", "t", "1", "yes", "y", "是"}
FALSE_WORDS = {"false", "f", "0", "no", "n", "否"}


def check_presence(ctx: Context, present: list[str]) -> None:
    """Required layers missing or empty, optional layers absent, layers pianqu does not know."""
    for name, spec in LAYERS.items():
        if name in present:
            if spec.required and len(ctx.layers[name]) == 0:
                ctx.add("error", "validate.empty_layer", name)
        elif spec.required:
            ctx.add("error", "validate.missing_layer", name, layer_zh=spec.zh)
        elif name not in SILENT_OPTIONAL:
            ctx.add("info", "validate.optional_layer_absent", name)
    for name in present:
        if name not in LAYERS and name not in WORK_LAYERS and not name.endswith(IMPORTED_SUFFIX):
            ctx.add("info", "validate.unknown_layer", name, known=", ".join(LAYERS))


def _kind(col: pd.Series) -> str:
    """The storage kind of a column: bool, int, float, str or mixed."""
    if pd.api.types.is_bool_dtype(col):
        return "bool"
    if pd.api.types.is_integer_dtype(col):
        return "int"
    if pd.api.types.is_float_dtype(col):
        return "float"
    if isinstance(col.dtype, pd.StringDtype):
        return "str"
    if col.dtype == object:
        kinds = {type(v) for v in col.dropna()}
        if kinds <= {str}:
            return "str"
        if kinds <= {bool, np.bool_}:
            return "bool"
        if kinds <= {int, np.int64, np.int32}:
            return "int"
        if kinds <= {float, int, np.float64, np.int64}:
            return "float"
        return "mixed"
    return "other"


def prepare_layer(ctx: Context, data: LayerData) -> None:
    """Coerce declared fields, report missing fields, wrong types, bad and missing values."""
    spec = data.spec
    frame = data.frame
    data.ids = feature_ids(frame, spec)
    if spec is None:
        return
    values = {}
    for f in spec.fields:
        if f.name not in frame.columns:
            if (data.name, f.name) in SOFT_REQUIRED:
                continue
            if f.required:
                ctx.add("error", "validate.missing_field", data.name, "", f.name)
            else:
                ctx.add("warning", "validate.missing_optional_field", data.name, "", f.name)
            continue
        col = frame[f.name].reset_index(drop=True)
        kind = _kind(col)
        values[f.name], bad, wrong = _coerce(col, kind, f.dtype)
        if wrong:
            ctx.add("error", "validate.wrong_type", data.name, "", f.name,
                    expected=f.dtype, actual=kind)
        if bad.any():
            data.bad[f.name] = bad
            raw = as_text(col)
            for i in np.nonzero(bad)[0]:
                ctx.add("error", "validate.bad_value", data.name, data.ids[i], f.name,
                        value=str(raw.iloc[i]), expected=f.dtype)
    data.values = pd.DataFrame(values, index=pd.RangeIndex(len(frame)))
    for f in spec.fields:
        if f.name not in data.values.columns:
            continue
        if f.required and (data.name, f.name) not in DEDICATED_MISSING:
            missing = ~data.ok(f.name)
            if f.name in data.bad:
                missing &= ~data.bad[f.name]
            for i in np.nonzero(missing)[0]:
                ctx.add("error", "validate.missing_value", data.name, data.ids[i], f.name)
        if f.name in NON_NEGATIVE and f.dtype in ("int", "float"):
            col = data.values[f.name]
            neg = (col < 0).fillna(False).to_numpy(dtype=bool)
            for i in np.nonzero(neg)[0]:
                ctx.add("error", "validate.negative_value", data.name, data.ids[i], f.name,
                        value=float(col.iloc[i]))
    if data.name in SPATIAL_LAYERS and not hasattr(frame, "geometry"):
        ctx.add("error", "validate.no_geometry", data.name, "", "", expected=spec.geometry)


def _coerce(col: pd.Series, kind: str, dtype: str) -> tuple[pd.Series, np.ndarray, bool]:
    """(values in the declared type, mask of unparsable values, whether the storage type is wrong)."""
    n = len(col)
    nobad = np.zeros(n, dtype=bool)
    if dtype == "str":
        text = as_text(col)
        text = text.where(text.isna(), text.str.strip())
        return text, nobad, kind not in ("str", "other") and col.notna().any()
    if dtype in ("int", "float"):
        if kind in ("int", "float"):
            num = pd.to_numeric(col, errors="coerce").astype(float)
            if dtype == "int":
                frac = (num.notna() & (num != np.floor(num))).to_numpy()
                return num.where(~frac), frac, False
            return num, nobad, False
        if kind == "bool":
            return col.astype(float), nobad, True
        text = as_text(col)
        stripped = text.where(text.isna(), text.str.strip().str.replace(",", "", regex=False))
        blank = stripped.isna() | stripped.eq("")
        num = pd.to_numeric(stripped.where(~blank), errors="coerce").astype(float)
        bad = np.array((~blank & num.isna()).to_numpy(), dtype=bool)
        if dtype == "int":
            frac = (num.notna() & (num != np.floor(num))).to_numpy()
            bad |= frac
            num = num.where(~frac)
        return num, bad, bool(col.notna().any())
    if dtype == "bool":
        if kind == "bool":
            return col.astype(object).where(col.notna(), None), nobad, False
        if kind in ("int", "float"):
            num = pd.to_numeric(col, errors="coerce")
            ok = num.isna() | num.isin([0, 1])
            if ok.all():
                return num.map(lambda v: None if pd.isna(v) else bool(v)).astype(object), nobad, False
            return num.where(ok).map(lambda v: None if pd.isna(v) else bool(v)).astype(object), \
                (~ok).to_numpy(), True
        text = as_text(col).str.strip().str.lower()
        parsed = text.map(lambda v: True if v in TRUE_WORDS else False if v in FALSE_WORDS else None)
        bad = (text.notna() & text.ne("") & parsed.isna()).to_numpy()
        return parsed.astype(object), bad, bool(col.notna().any())
    raise ValueError(f"unknown declared dtype {dtype!r}")
