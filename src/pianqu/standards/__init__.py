"""Code tables and thresholds shipped as data, each entry with its source and sureness.

Sureness tags follow domain.md: ``read`` (seen in a named source), ``recalled`` (background
knowledge, to verify), ``inferred`` (a design choice). Nothing here is a bare constant in code.

Every table is a CSV file in this folder, declared once in :data:`TABLES` (its key columns, the
dtype of its non-text columns, what a ``pianqu.toml`` may change) and read by :func:`table`;
:func:`catalogue` lists them all (``pianqu standards``). Overrides from a ``pianqu.toml``
(``[tables.NAME]``) are applied by :func:`apply_overrides` through :meth:`pianqu.config.Config.table`.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any, Iterable, Mapping

import pandas as pd

from pianqu.standards.ranges import ENTRY_FIELDS, Allowed, allowed

LANDUSE_VERSIONS = (2020, 2023)
KEY_SEPARATOR = "."  # a row of a table keyed by several columns: "children_home.mountain"


@dataclass(frozen=True)
class TableSpec:
    """How one shipped table is read and what a ``pianqu.toml`` may change in it.

    ``key``: the columns that name a row (``[tables.NAME]`` entries are these values joined by
    ``.``; a key naming only the first columns sets every row that starts with them).
    ``dtypes``: ``int``/``float``/``bool`` for the columns that are not text.
    ``overridable``: the columns ``[tables.NAME]`` may set (none: the table is not overridable).
    ``value``: the column a bare number sets (``village = 15`` in ``[tables.road_classes]``).
    ``positive``: overridable columns that must be positive numbers.
    ``fallback``: key column → value of the row to copy when an override names a row the table
    lacks (a coverage standard for a terrain without its own row copies the ``*`` row).
    ``choices``: allowed values of key columns for such new rows.
    """

    name: str
    file: str
    key: tuple[str, ...]
    description: str
    dtypes: Mapping[str, str] = field(default_factory=dict)
    overridable: tuple[str, ...] = ()
    value: str | None = None
    positive: tuple[str, ...] = ()
    fallback: Mapping[str, str] = field(default_factory=dict)
    choices: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


TERRAINS = ("plain", "hill", "mountain", "piedmont", "alpine", "plateau")

_SPECS = (
    TableSpec("landuse_2023", "landuse_2023.csv", ("code",), "用地用海 classification 2023 (formal)",
              {"level": "int"}),
    TableSpec("landuse_2020", "landuse_2020.csv", ("code",), "用地用海 classification 2020 (trial)",
              {"level": "int"}),
    TableSpec("sandiao_mapping", "sandiao.csv", ("code",), "三调 codes → 用地用海 2023, with defaults"),
    TableSpec("czcsxm", "czcsxm.csv", ("code",), "城镇村属性码 with the town/village split"),
    TableSpec("land_classes", "land_classes.csv", ("l1",), "first-level 用地用海 code → broad class"),
    TableSpec("facility_kinds", "facility_kinds.csv", ("kind",), "facility kinds: id, names, level, group"),
    TableSpec("industries", "industries.csv", ("id",), "specialties: Sichuan's 10+3, 5+1, 4+6"),
    TableSpec("road_classes", "road_classes.csv", ("class",), "road classes: speed, lanes, width",
              {"rank": "int", "lanes": "int", "speed_kmh": "float", "width_m": "float"},
              overridable=("speed_kmh",), value="speed_kmh", positive=("speed_kmh",)),
    TableSpec("derived_roads", "derived_roads.csv", ("scheme", "code"), "traffic parcels that become derived roads",
              {"drivable": "bool"}),
    TableSpec("derived_road_classes", "derived_road_classes.csv", ("landuse_code", "class"),
              "road class of a derived centreline by parcel code and width", {"min_width_m": "float"}),
    TableSpec("area_units", "units.csv", ("unit",), "area units in m² (亩 = 10000/15 m²)", {"m2": "float"}),
    TableSpec("derive_codes", "derive_codes.csv", ("role", "table", "code"), "codes derived inputs read from parcels",
              {"weight": "float"}),
    TableSpec("tiankan_coefficients", "tiankan_coefficients.csv", ("slope_grade",), "三调 田坎系数 by slope grade",
              {"slope_grade": "int", "min_deg": "float", "max_deg": "float", "kcxs": "float"}),
    TableSpec("export_fields", "export_fields.csv", ("layer", "field"), "field names and aliases of exported layers"),
    TableSpec("coverage_standards", "coverage_standards.csv", ("service", "terrain"),
              "service coverage standards by terrain (values `=key` take a threshold)",
              overridable=("value",), value="value", positive=("value",), fallback={"terrain": "*"},
              choices={"terrain": ("*",) + TERRAINS}),
    TableSpec("presence_rules", "presence_rules.csv", ("rule",), "facilities each level of unit must have"),
    TableSpec("conflict_rules", "conflict_rules.csv", ("rule",), "conflicts between control lines"),
    TableSpec("siting_rules", "siting_rules.csv", ("rule",), "where a project may be sited"),
    TableSpec("space_classes", "space_classes.csv", ("prefix",), "用地用海 code prefix → space (三区)"),
    TableSpec("space_lines", "space_lines.csv", ("layer",), "control line → space, with precedence",
              {"precedence": "int"}),
    TableSpec("osm_highway", "osm_highway.csv", ("highway",), "OSM highway value → road class"),
    TableSpec("county_centres", "county_centres.csv", ("code",),
              "approximate centre and terrain class of each Sichuan county", {"lon": "float", "lat": "float"}),
    TableSpec("policy_codes", "policy_codes.csv", ("role", "code"),
              "policy constants: central-town candidate kinds, built-up 城镇村属性码"),
    TableSpec("centre_categories", "centre_categories.csv", ("category",),
              "categories of the designated-centres table (中心镇/中心村名单): fixed, candidate or forbidden"),
    TableSpec("indicators", "indicators.csv", ("id",),
              "体检评估 indicators (TD/T 1063-2021 and the policy's own): dimension, unit, kind, direction, "
              "levels, how computed, target"),
    TableSpec("supervision_weights", "supervision_weights.csv", ("id",),
              "weights of the indicators in a county scorecard of `pianqu supervise` (督查考核), with the reasoning",
              {"weight": "float"}, overridable=("weight",), value="weight"),

    TableSpec("threshold_ranges", "threshold_ranges.csv", ("unit",),
              "kind and range of the thresholds in each unit (an entry of thresholds.toml may narrow it)",
              {"min": "float", "max": "float", "min_exclusive": "bool"}),
)
TABLES: dict[str, TableSpec] = {s.name: s for s in _SPECS}
THRESHOLDS_TABLE = "thresholds"


@cache
def _load(name: str) -> pd.DataFrame:
    spec = TABLES.get(name)
    if spec is None:
        raise KeyError(f"no standards table '{name}'; tables are: {', '.join(TABLES)}")
    with resources.files(__package__).joinpath(spec.file).open("rb") as fh:
        df = pd.read_csv(fh, dtype=str, keep_default_na=False)
    return _typed(df, spec)


def _typed(df: pd.DataFrame, spec: TableSpec) -> pd.DataFrame:
    for col, kind in spec.dtypes.items():
        if kind == "bool":
            df[col] = df[col].astype(str).str.strip().str.lower() == "true"
        elif kind == "int":
            df[col] = df[col].astype(int)
        else:
            df[col] = pd.to_numeric(df[col].replace("", None), errors="raise").astype(float)
    return df


def table(name: str) -> pd.DataFrame:
    """The shipped table ``name`` (a copy; see :data:`TABLES` and ``pianqu standards``), typed by
    its spec. Overrides of a ``pianqu.toml`` are not applied: use ``Config.table(name)``."""
    return _load(name).copy()


def key_of(frame: pd.DataFrame, spec: TableSpec) -> pd.Series:
    """Each row's key as written in ``[tables.NAME]``: key column values joined by ``.``."""
    parts = [frame[c].astype(str) for c in spec.key]
    out = parts[0]
    for p in parts[1:]:
        out = out + KEY_SEPARATOR + p
    return out


@dataclass(frozen=True)
class RowOverride:
    """One entry of ``[tables.NAME]`` in a ``pianqu.toml``: the row key as written, the columns
    it sets and where it was written (for the row's ``source``)."""

    table: str
    key: str
    values: Mapping[str, Any]
    where: str


class OverrideError(ValueError):
    """An override that does not fit its table; ``code`` is the message key (``common.config.*``)
    and ``params`` its parameters (the caller adds the file)."""

    def __init__(self, code: str, **params: Any) -> None:
        super().__init__(f"{code}: {params}")
        self.code = code
        self.params = params


def apply_overrides(name: str, frame: pd.DataFrame, overrides: Iterable[RowOverride]) -> pd.DataFrame:
    """``frame`` (table ``name``) with ``overrides`` applied in order: the rows a key names get
    the values, ``sureness`` = ``user`` and a ``source`` saying where the value was written and
    what it replaced. Raises :class:`OverrideError` for a table, row, column or value that does
    not fit."""
    spec = TABLES.get(name)
    if spec is None:
        raise OverrideError("common.config.unknown_table", table=name,
                            known=", ".join(f"[tables.{n}]" for n, s in TABLES.items() if s.overridable))
    out = frame.copy()
    # a key naming fewer key columns (every terrain of a service) first, so a full key wins
    for ov in sorted(overrides, key=lambda o: len(o.key.split(KEY_SEPARATOR))):
        if not spec.overridable:
            raise OverrideError("common.config.table_not_overridable", table=name, where=ov.where,
                                tables=", ".join(n for n, s in TABLES.items() if s.overridable))
        values = ov.values if isinstance(ov.values, Mapping) else {spec.value: ov.values}
        for col, value in values.items():
            if col not in spec.overridable:
                raise OverrideError("common.config.unknown_column", table=name, where=ov.where, key=ov.key, column=col,
                                    known=", ".join(spec.overridable))
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise OverrideError("common.config.bad_value", table=name, where=ov.where, key=ov.key, column=col, value=repr(value))
            if col in spec.positive and not (0 < value < float("inf")):
                raise OverrideError("common.config.bad_value", table=name, where=ov.where, key=ov.key, column=col, value=repr(value))
        keys = key_of(out, spec)
        parts = ov.key.split(KEY_SEPARATOR)
        if len(parts) > len(spec.key):
            hit = pd.Series(False, index=out.index)
        else:
            hit = pd.Series(True, index=out.index)
            for col, part in zip(spec.key, parts):
                hit &= out[col].astype(str) == part
        if not hit.any() and len(parts) == len(spec.key) and spec.fallback:
            out, hit = _fallback_row(out, spec, ov, parts)
        if not hit.any():
            raise OverrideError("common.config.unknown_row", table=name, where=ov.where, key=ov.key,
                                known=", ".join(f"`{k}`" for k in sorted(set(keys))[:40]))
        for col, value in values.items():
            old = out.loc[hit, col].astype(str)
            new = value if spec.dtypes.get(col) in ("int", "float") else str(value)
            if spec.dtypes.get(col) == "float":
                new = float(value)
            out.loc[hit, "source"] = (ov.where + " " + ov.key + "." + col + " (default " + old + ": "
                                      + out.loc[hit, "source"].astype(str) + ")")
            out.loc[hit, col] = new
            out.loc[hit, "sureness"] = "user"
    return out


def _fallback_row(out: pd.DataFrame, spec: TableSpec, ov: RowOverride,
                  parts: list[str]) -> tuple[pd.DataFrame, pd.Series]:
    """Copy the fallback row (e.g. terrain ``*``) under the new key, when its values are allowed."""
    base = pd.Series(True, index=out.index)
    for col, part in zip(spec.key, parts):
        if col in spec.fallback:
            if part not in spec.choices.get(col, (part,)):
                raise OverrideError("common.config.bad_key_part", table=spec.name, where=ov.where, key=ov.key, column=col,
                                    value=part, known=", ".join(spec.choices[col]))
            base &= out[col].astype(str) == spec.fallback[col]
        else:
            base &= out[col].astype(str) == part
    if not base.any():
        return out, pd.Series(False, index=out.index)
    new = out[base].copy()
    for col, part in zip(spec.key, parts):
        new[col] = part
    out = pd.concat([out, new], ignore_index=True)
    hit = pd.Series(False, index=out.index)
    hit.iloc[len(out) - len(new):] = True
    return out, hit


def policy_codes(role: str) -> list[str]:
    """The codes of one policy rule (``policy_codes`` table): ``centre_candidate_kind`` (township
    kinds that may be central towns) or ``built_up_czcsxm`` (城镇村属性码 of built-up land, matched
    on their first three characters)."""
    t = _load("policy_codes")
    codes = t.loc[t["role"] == role, "code"].astype(str).tolist()
    if not codes:
        raise KeyError(f"policy_codes: no rows for role '{role}'")
    return codes


def mu_per_m2() -> float:
    """亩 per m² from the units table (1 亩 = 10000/15 m²)."""
    u = _load("area_units")
    return 1.0 / float(u.loc[u["unit"] == "mu", "m2"].iloc[0])


@cache
def landuse_codes(version: int = 2023) -> pd.DataFrame:
    """The 用地用海 classification (2023 formal or 2020 trial): code, name, level, parent."""
    if version not in LANDUSE_VERSIONS:
        raise ValueError(f"unknown 用地用海 version {version}; choose one of {LANDUSE_VERSIONS}")
    return table(f"landuse_{version}")


@cache
def sandiao_mapping() -> pd.DataFrame:
    """三调 (third land survey) codes → 用地用海 2023 codes; empty target means manual review.

    A code without a unique mapping has a ``default`` (the usual reading, e.g. 0810 → 1401, with
    ``default_sureness``/``default_source``) that parcels carry until a planner decides, and the
    ``alternatives`` to choose from (space-separated 用地用海 codes).
    """
    return table("sandiao_mapping")


@cache
def czcsxm_codes() -> pd.DataFrame:
    """城镇村属性码 (CZCSXM) with the town/village split used in statistics."""
    return table("czcsxm")


@cache
def land_classes() -> pd.DataFrame:
    """First-level 用地用海 code → broad class (agricultural, construction, ...)."""
    return table("land_classes")


@cache
def facility_kinds() -> pd.DataFrame:
    """The controlled list of facility kinds: English id, Chinese name, level, group."""
    return table("facility_kinds")


@cache
def industries() -> pd.DataFrame:
    """Controlled vocabulary of specialties: Sichuan's "10+3", "5+1" and "4+6" systems."""
    return table("industries")


@cache
def road_classes() -> pd.DataFrame:
    """Road classes with default speed (km/h), lanes and width (m)."""
    return table("road_classes")


@cache
def derive_codes() -> pd.DataFrame:
    """Codes that derived inputs read from the parcels (pianqu.derive): role, table (czcsxm or
    landuse), code, weight; e.g. the 城镇村属性码 of town clusters, the homestead 用地用海 codes."""
    return table("derive_codes")


@cache
def derived_road_codes() -> pd.DataFrame:
    """Which traffic parcels (三调 or 用地用海 codes) become derived roads, and why railways do not."""
    return table("derived_roads")


@cache
def derived_road_classes() -> pd.DataFrame:
    """Road class of a derived centreline by its parcel's 用地用海 code and estimated width."""
    return table("derived_road_classes")


@cache
def area_units() -> pd.DataFrame:
    """Area units and their size in m² (亩 = 10000/15 m²)."""
    return table("area_units")


@cache
def tiankan_coefficients() -> pd.DataFrame:
    """三调 田坎系数 (KCXS of 耕地) by 坡度级别 1–5: slope range in degrees and the coefficient."""
    return table("tiankan_coefficients")


@dataclass(frozen=True)
class Threshold:
    """One configurable threshold with where its value comes from."""

    key: str
    value: Any
    unit: str
    sureness: str
    source: str
    description: str
    # the entry's own type and range fields (min, max, min_exclusive, integer, choices, length),
    # applied over its unit's rule (pianqu.standards.ranges)
    allowed: Mapping[str, Any] = field(default_factory=dict)


def read_thresholds(package: str, name: str) -> dict[str, Threshold]:
    """Thresholds of a TOML file shipped in ``package`` (``[section.name]`` tables with value,
    unit, sureness, source, description), keyed ``section.name``."""
    with resources.files(package).joinpath(name).open("rb") as fh:
        raw = tomllib.load(fh)
    out: dict[str, Threshold] = {}
    for section, entries in raw.items():
        for key_name, e in entries.items():
            key = f"{section}.{key_name}"
            own = {k: v for k, v in e.items() if k in ENTRY_FIELDS}
            out[key] = Threshold(key, e["value"], e["unit"], e["sureness"], e["source"], e["description"], own)
    return out


@cache
def default_thresholds() -> dict[str, Threshold]:
    """Every planning threshold pianqu uses, keyed ``section.name``, as shipped (the
    synthesiser's generator knobs are in ``pianqu/synth/knobs.toml``)."""
    return read_thresholds(__package__, "thresholds.toml")


@cache
def unit_rules() -> dict[str, Allowed]:
    """The kind and range of the thresholds in each unit (``threshold_ranges.csv``)."""
    out = {}
    for r in _load("threshold_ranges").itertuples(index=False):
        out[str(r.unit)] = Allowed(str(r.kind), None if pd.isna(r.min) else float(r.min),
                                   None if pd.isna(r.max) else float(r.max), bool(r.min_exclusive))
    return out


def threshold_rule(th: Threshold) -> Allowed:
    """What ``th`` may be set to: its unit's rule with the entry's own ``min``/``max``/``choices``/...
    (:mod:`pianqu.standards.ranges`). KeyError for a unit without a rule and no kind of its own."""
    try:
        return allowed(unit_rules().get(th.unit), th.allowed)
    except KeyError:
        raise KeyError(f"threshold {th.key}: unit {th.unit!r} has no row in threshold_ranges.csv and the "
                       f"entry sets no integer/choices") from None


def landuse_name(code: str, version: int = 2023) -> str | None:
    """Name of a 用地用海 code, or None when the code is not in the table."""
    table = landuse_codes(version)
    hit = table.loc[table["code"] == code, "name"]
    return None if hit.empty else str(hit.iloc[0])


def convert_sandiao(codes: pd.Series) -> pd.DataFrame:
    """Convert 三调 DLBM codes to 用地用海 2023.

    Returns a frame aligned with ``codes``: ``code`` (target, empty when it needs review),
    ``name``, ``review`` (why a planner must decide; empty when the mapping is clean), and for
    codes without a unique mapping ``default``/``default_name`` (the code to carry until a
    planner decides, from the table) and ``alternatives`` (space-separated codes). Codes with a
    ``K`` suffix (即可恢复/工程恢复 land) map as their base code. Unknown codes go to review
    with no default.
    """
    mapping = sandiao_mapping().set_index("code")
    names = landuse_codes(2023).set_index("code")["name"]
    raw = codes.astype("string").fillna("").str.strip()
    base = raw.str.replace(r"K$", "", regex=True)
    target = base.map(mapping["target"]).fillna("")
    note = base.map(mapping["note"])
    review = pd.Series("", index=codes.index, dtype=object)
    unknown = ~base.isin(mapping.index)
    review[unknown] = "unknown 三调 code"
    needs = (~unknown) & (target == "")
    review[needs] = note[needs].fillna("no clean mapping")
    default = base.map(mapping["default"]).fillna("").where(review != "", "")
    alternatives = base.map(mapping["alternatives"]).fillna("").where(review != "", "")
    return pd.DataFrame(
        {"code": target, "name": target.map(names).fillna(""), "review": review,
         "default": default, "default_name": default.map(names).fillna(""), "alternatives": alternatives},
        index=codes.index,
    )


def catalogue() -> dict[str, pd.DataFrame]:
    """All tables by name, as `pianqu standards` prints or exports them: every table of
    :data:`TABLES` and the thresholds."""
    th = pd.DataFrame([t.__dict__ for t in default_thresholds().values()])
    th["value"] = th["value"].astype(str)
    th["allowed"] = [threshold_rule(t).symbol() for t in default_thresholds().values()]
    return {**{name: table(name) for name in TABLES}, THRESHOLDS_TABLE: th}


def county_centre(code: str) -> pd.Series | None:
    """The ``county_centres`` row of a county (approximate lon, lat and terrain class), or None
    for a code the table does not list."""
    t = _load("county_centres")
    hit = t[t["code"] == str(code)[:6]]
    return None if hit.empty else hit.iloc[0]
