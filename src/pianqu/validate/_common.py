"""What every family of checks shares: the prepared layers and the way a finding is made.

A :class:`Context` holds, per layer, the user's frame (never modified), the declared fields
coerced to their declared types (unparsable values set to null and remembered), the feature
ids as strings, the geometry in EPSG:4490 and a mask of the features whose geometry can be
used for geometric checks. The families read the context and append findings to it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from pianqu.config import Config
from pianqu.findings import Finding
from pianqu.geo import ellipsoidal_area
from pianqu.schema import LAYERS, Layer

Frame = gpd.GeoDataFrame | pd.DataFrame


def _plain(value: Any) -> Any:
    """numpy scalars and arrays → JSON-native Python values (params must round-trip)."""
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, (np.ndarray, tuple, list)):
        return [_plain(v) for v in value]
    return value


@dataclass
class LayerData:
    """One layer prepared for checking."""

    name: str
    spec: Layer | None
    frame: Frame  # the user's frame, untouched
    source: str = ""
    values: pd.DataFrame = field(default_factory=pd.DataFrame)  # declared fields, coerced
    ids: np.ndarray = field(default_factory=lambda: np.array([], dtype=object))
    bad: dict[str, np.ndarray] = field(default_factory=dict)  # field → unparsable-value mask
    geom: np.ndarray | None = None  # shapely geometries in EPSG:4490 (None for tables)
    usable: np.ndarray | None = None  # geometry fit for geometric checks
    invalid: np.ndarray | None = None  # geometry invalid (repaired with make_valid when used)
    _gk: np.ndarray | None = None
    _geo: np.ndarray | None = None
    _ok: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.frame)

    def has(self, name: str) -> bool:
        return name in self.values.columns

    def col(self, name: str) -> pd.Series:
        return self.values[name]

    def ok(self, name: str) -> np.ndarray:
        """Rows where field ``name`` holds a usable (non-null, parsable) value (read only)."""
        if name not in self._ok:
            self._ok[name] = self._compute_ok(name)
            self._ok[name].setflags(write=False)
        return self._ok[name]

    def _compute_ok(self, name: str) -> np.ndarray:
        col = self.values[name]
        mask = col.notna().to_numpy().copy()
        if col.dtype == object or pd.api.types.is_string_dtype(col):
            mask &= col.fillna("").astype(str).str.strip().ne("").to_numpy()
        if name in self.bad:
            mask &= ~self.bad[name]
        return mask

    @property
    def fully_usable(self) -> bool:
        return self.usable is not None and bool(self.usable.all())


@dataclass
class Context:
    """Layers and settings of one validation run, and the findings found so far."""

    config: Config
    county_code: str | None
    landuse_version: int
    layers: dict[str, LayerData]
    compute_epsg: int | None = None
    findings: list[Finding] = field(default_factory=list)
    cache: dict[Any, Any] = field(default_factory=dict)

    def get(self, name: str) -> LayerData | None:
        return self.layers.get(name)

    def add(self, severity: str, rule: str, layer: str, feature: str = "", field: str = "",
            **params: Any) -> None:
        """Append one finding; the layer's and field's Chinese names go into the params."""
        self.findings.append(make_finding(severity, rule, layer, feature, field,
                                          self.layers[layer].source if layer in self.layers else "",
                                          **params))

    def geo(self, name: str) -> np.ndarray:
        """The layer's geometries in EPSG:4490 as stored (invalid ones repaired), None where the
        geometry is not usable. Topology (overlaps, gaps, containment) is computed on these:
        straight edges in the stored coordinates are what every GIS draws."""
        data = self.layers[name]
        if data._geo is None:
            out = np.full(len(data), None, dtype=object)
            use = data.usable if data.usable is not None else np.zeros(len(data), bool)
            if use.any():
                geoms = data.geom[use].copy()
                bad = data.invalid[use] if data.invalid is not None else np.zeros(use.sum(), bool)
                if bad.any():
                    polygonal = data.spec is not None and data.spec.geometry == "Polygon"
                    geoms[bad] = (shapely.make_valid(geoms[bad], method="structure", keep_collapsed=False)
                                  if polygonal else shapely.make_valid(geoms[bad]))
                out[use] = geoms
            data._geo = out
        return data._geo

    def measure(self, pieces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Ellipsoidal area (m², as 三调 TBMJ) and mean width (m, 2·area/perimeter in the GK zone)
        of 4490 pieces."""
        pieces = np.asarray(pieces, dtype=object)
        if len(pieces) == 0:
            return np.zeros(0), np.zeros(0)
        area = np.zeros(len(pieces))
        width = np.zeros(len(pieces))
        some = shapely.area(pieces) > 0  # only pieces with an area are projected (most are empty)
        if some.any():
            gk = gpd.GeoSeries(pieces[some], crs=4490).to_crs(self.compute_epsg).to_numpy()
            area[some] = ellipsoidal_area(pieces[some], crs=4490)
            perimeter = shapely.length(gk)
            width[some] = np.where(perimeter > 0, 2 * area[some] / np.maximum(perimeter, 1e-12), 0.0)
        return area, width

    def gk(self, name: str) -> np.ndarray:
        """The layer's geometries in the computing GK zone (invalid ones repaired); None where
        the geometry is not usable."""
        data = self.layers[name]
        if data._gk is None:
            out = np.full(len(data), None, dtype=object)
            use = data.usable if data.usable is not None else np.zeros(len(data), bool)
            if use.any() and self.compute_epsg is not None:
                geoms = self.geo(name)[use]
                out[use] = gpd.GeoSeries(geoms, crs=4490).to_crs(self.compute_epsg).to_numpy()
            data._gk = out
        return data._gk


def distinct(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(positions of the distinct geometries, index of each geometry's distinct one): survey
    epochs repeat most parcels as they are, and per-geometry checks need run only once each."""
    wkb = shapely.to_wkb(geoms)
    codes, _ = pd.factorize(wkb)
    first = np.full(codes.max() + 1 if len(codes) else 0, -1, dtype=np.int64)
    first[codes[::-1]] = np.arange(len(codes))[::-1]
    return first, codes


def make_finding(severity: str, rule: str, layer: str, feature: str = "", field: str = "",
                 source: str = "", **params: Any) -> Finding:
    """A :class:`Finding` whose params carry the layer's and field's Chinese names."""
    spec = LAYERS.get(layer)
    p: dict[str, Any] = {}
    if spec is not None:
        p["layer_zh"] = spec.zh
        if field and field in spec.field_names:
            p["field_zh"] = spec.field(field).zh
    if field and "field_zh" not in p:
        p["field_zh"] = field
    for key, value in list(params.items()):
        if key.endswith("_layer") and value in LAYERS:  # parent_layer → parent_layer_zh
            p[f"{key}_zh"] = LAYERS[value].zh
    p.update({k: _plain(v) for k, v in params.items()})
    return Finding(severity, rule, layer, feature, field, p, source)


def feature_ids(frame: Frame, spec: Layer | None) -> np.ndarray:
    """Feature ids as strings; rows without an id are named by their row number ('#12', 1-based)."""
    n = len(frame)
    rows = np.array([f"#{i + 1}" for i in range(n)], dtype=object)
    if spec is None or spec.id_field is None or spec.id_field not in frame.columns:
        return rows
    col = frame[spec.id_field]
    text = as_text(col)
    blank = text.isna().to_numpy() | text.fillna("").str.strip().eq("").to_numpy()
    out = np.array(text.fillna("").str.strip().to_numpy(dtype=object), dtype=object)  # writable copy
    out[blank] = rows[blank]
    return out


def as_text(col: pd.Series) -> pd.Series:
    """A column as strings; integral floats print without '.0' (codes stored as numbers)."""
    if pd.api.types.is_bool_dtype(col):
        return col.astype("object").where(col.notna(), None).map(lambda v: None if v is None else str(v))
    if pd.api.types.is_float_dtype(col):
        def fmt(v: float) -> str | None:
            if pd.isna(v):
                return None
            return str(int(v)) if float(v).is_integer() else repr(float(v))
        return col.map(fmt).astype(object)
    if pd.api.types.is_integer_dtype(col):
        return col.astype("object").map(lambda v: None if pd.isna(v) else str(int(v)))
    if isinstance(col.dtype, pd.StringDtype):
        out = col.astype(object)
        return out.where(col.notna(), None)
    return col.astype(object).map(lambda v: None if v is None or (isinstance(v, float) and np.isnan(v))
                                  else str(v))


def layer_order(name: str) -> int:
    order = list(LAYERS)
    return order.index(name) if name in order else len(order)

