"""Recognise layers and fields by their names: 三调 and planning-database standard names, plain
English and Chinese names, and a user mapping file that overrides them.

The name tables are data (``ingest/mappings/*.toml``, each entry with sureness and source).

A user mapping file (TOML)::

    [layers."乡镇界"]               # a source layer (or file) name
    target = "township"             # a pianqu layer, "attributes" (join by code) or "ignore"
    [layers."乡镇界".fields]
    "乡镇代码" = "code"
    "乡镇名" = "name"

TOML wants non-ASCII names in quotes; names written without them are accepted too.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping

from pianqu import standards
from pianqu.errors import Phrase, layer_label, check_input
from pianqu.ingest.errors import IngestError
from pianqu.schema import LAYERS

if TYPE_CHECKING:  # pragma: no cover
    from pianqu.ingest.readers import SourceLayer

# targets that are not schema layers
ADMIN = "admin"  # 行政区: county / township / village by the length of its codes
ATTRIBUTES = "attributes"  # a table joined onto townships or villages by code
IGNORE = "ignore"
PSEUDO_TARGETS = (ADMIN, ATTRIBUTES, IGNORE)
# field names that are not schema fields but drive a derivation (see fields.toml)
PSEUDO_FIELDS = ("zldwdm", "slope_class", "road_code", "lon", "lat")
_TABLE_POINT_TARGETS = ("facility", "settlement")  # tables with lon/lat columns become points


@cache
def _toml(name: str) -> dict[str, Any]:
    with resources.files("pianqu.ingest.mappings").joinpath(name).open("rb") as fh:
        return tomllib.load(fh)


def value_table(name: str) -> dict[str, Any]:
    """One table of ``mappings/values.toml`` (slope classes, road class words, codecs, ...)."""
    return _toml("values.toml")[name]


def norm_name(name: object) -> str:
    """Normalised name for matching: NFKC, trimmed, lower case, without a trailing unit in brackets."""
    text = unicodedata.normalize("NFKC", str(name)).strip().lower()
    stripped = re.sub(r"\s*[\(\[【][^\(\)\[\]【】]*[\)\]】]\s*$", "", text).strip()
    return stripped or text


def area_units() -> dict[str, float]:
    """m² per area unit by its Chinese name (平方米, 公顷, 亩, 平方千米: the standards' one
    ``area_units`` table), the order in which an area field's values are tried."""
    units = standards.area_units()
    return dict(zip(units["name_zh"].astype(str), units["m2"].astype(float)))


def unit_m2(unit: str) -> float | None:
    """m² per ``unit`` as written in a column header (公顷, ha, hm², 亩, 万亩, 平方米, m², km², ...:
    :func:`area_units` and values.toml ``area_unit_aliases``), None when unknown."""
    sizes = area_units()
    table = {**sizes, "万亩": 1e4 * sizes["亩"], **value_table("area_unit_aliases")["m2"]}
    return {norm_name(k): float(v) for k, v in table.items()}.get(norm_name(unit))


def indicator_key(name: object) -> str:
    """The quota indicator (pianqu.land.quota.INDICATORS) a targets table names: a key as it is,
    or its Chinese name (values.toml ``quota_indicators``: 耕地保有量 → farmland, ...); else the
    name unchanged (stripped)."""
    text = str(name).strip()
    names = value_table("quota_indicators")["values"]
    if text in names.values():
        return text
    return {norm_name(k): v for k, v in names.items()}.get(norm_name(text), text)


def unit_in_name(name: object) -> str:
    """The unit written in brackets at the end of a column name ("面积（公顷）" → "公顷"), or ""."""
    text = unicodedata.normalize("NFKC", str(name)).strip()
    hit = re.search(r"[\(\[【]([^\(\)\[\]【】]*)[\)\]】]\s*$", text)
    return hit.group(1).strip() if hit else ""


@dataclass(frozen=True)
class LayerRule:
    target: str
    names: tuple[str, ...]
    signature: tuple[str, ...]
    sureness: str
    source: str
    reason: str = ""


@cache
def layer_rules() -> tuple[LayerRule, ...]:
    rules = []
    for entry in _toml("layers.toml")["layer"]:
        rules.append(LayerRule(entry["target"], tuple(entry["names"]), tuple(entry.get("signature", ())),
                               entry["sureness"], entry["source"], entry.get("reason", "")))
    # a pianqu layer's own name always names it (re-importing a workspace's layers)
    rules.append(LayerRule("", (), (), "read", "pianqu.schema layer names"))
    return tuple(rules)


@cache
def field_aliases(target: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """(field, source names) for ``target`` in priority order: own names, the layer's, shared ones."""
    raw = _toml("fields.toml")
    schema_fields = list(LAYERS[target].field_names) if target in LAYERS else []
    out: list[tuple[str, tuple[str, ...]]] = [(f, (f,)) for f in schema_fields]
    for fname, entry in raw.get(target, {}).items():
        out.append((fname, tuple(entry["names"])))
    allowed = set(schema_fields) | set(PSEUDO_FIELDS)
    if target == ADMIN:
        allowed |= {f for lay in ("county", "township", "village") for f in LAYERS[lay].field_names}
    if target == ATTRIBUTES:
        allowed |= {f for lay in ("township", "village") for f in LAYERS[lay].field_names}
    for fname, entry in raw.get("common", {}).items():
        if fname in allowed:
            out.append((fname, tuple(entry["names"])))
    return tuple(out)


def field_source(target: str, fname: str) -> str:
    """Sureness and source of a standard field name entry (for reports)."""
    raw = _toml("fields.toml")
    entry = raw.get(target, {}).get(fname) or raw.get("common", {}).get(fname)
    return f"{entry['sureness']}: {entry['source']}" if entry else "pianqu.schema field name"


# ---- user mapping file -------------------------------------------------------------------------------

@dataclass(frozen=True)
class UserLayer:
    target: str
    fields: Mapping[str, str] = field(default_factory=dict)  # source field → pianqu field


@dataclass(frozen=True)
class UserMapping:
    path: Path
    layers: Mapping[str, UserLayer]  # normalised source layer name → entry

    def lookup(self, names: Iterable[str]) -> UserLayer | None:
        for name in names:
            hit = self.layers.get(norm_name(name))
            if hit is not None:
                return hit
        return None


def load_user_mapping(path: str | Path) -> UserMapping:
    """Read and check a user mapping file; every error names the file and the key."""
    p = Path(path)
    if not p.exists():
        raise IngestError("ingest.mapping_file", source=str(p), problem=Phrase("ingest.problem.no_file"))
    check_input(p, empty_ok=True)  # a FIFO would block the read, a folder fail with a traceback (empty: no mappings)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise IngestError("ingest.mapping_file", source=str(p),
                          problem=Phrase("ingest.problem.not_utf8", byte=exc.start)) from exc
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        try:  # Chinese names written without quotes, as people do: [layers.乡镇界] / 乡镇代码 = "code"
            raw = tomllib.loads(_quote_bare_keys(text))
        except tomllib.TOMLDecodeError:
            raise IngestError("ingest.mapping_file", source=str(p), problem=toml_problem(exc)) from exc
    layers: dict[str, UserLayer] = {}
    for name, entry in (raw.get("layers") or {}).items():
        if not isinstance(entry, dict) or "target" not in entry:
            raise IngestError("ingest.mapping_file", source=str(p),
                              problem=Phrase("ingest.problem.no_target", name=name))
        target = str(entry["target"])
        if target not in LAYERS and target not in PSEUDO_TARGETS:
            raise IngestError("ingest.mapping_file", source=str(p),
                              problem=Phrase("ingest.problem.bad_target", name=name, target=target,
                                             targets=", ".join(f"`{x}`" for x in [*LAYERS, *PSEUDO_TARGETS])))
        fields = {str(k): str(v) for k, v in (entry.get("fields") or {}).items()}
        known = _known_fields(target)
        for src, dst in fields.items():
            if dst not in known:
                raise IngestError("ingest.mapping_file", source=str(p),
                                  problem=Phrase("ingest.problem.bad_field", name=name, src=src, dst=dst,
                                                 target=target, label=layer_label(target),
                                                 fields=", ".join(f"`{x}`" for x in sorted(known))))
        layers[norm_name(name)] = UserLayer(target, fields)
    unknown = set(raw) - {"layers"}
    if unknown:
        raise IngestError("ingest.mapping_file", source=str(p),
                          problem=Phrase("ingest.problem.unknown_section",
                                         sections=", ".join(f"[{k}]" for k in sorted(unknown))))
    return UserMapping(p, layers)


def toml_problem(exc: tomllib.TOMLDecodeError) -> Phrase:
    """What is wrong with a TOML file in the reader's language: the line (tomllib's own English
    text goes into the English message only)."""
    where = re.search(r"line (\d+)", str(exc))
    return Phrase("ingest.problem.not_toml", line=where.group(1) if where else "?", detail=str(exc))


def _quote_bare_keys(text: str) -> str:
    """Quote table-header parts and keys that TOML does not allow bare (e.g. Chinese names)."""
    bare = re.compile(r"^[A-Za-z0-9_-]+$")

    def part(p: str) -> str:
        p = p.strip()
        return p if bare.match(p) or p[:1] in "\"'" else '"' + p.replace('"', '\\"') + '"'

    out = []
    for line in text.splitlines():
        head = re.match(r"^(\s*)\[([^\[\]]+)\](.*)$", line)
        key = re.match(r"^(\s*)([^=#\[\s\"'][^=]*?)(\s*=.*)$", line)
        if head:
            line = f"{head.group(1)}[{'.'.join(part(x) for x in head.group(2).split('.'))}]{head.group(3)}"
        elif key:
            line = f"{key.group(1)}{part(key.group(2))}{key.group(3)}"
        out.append(line)
    return "\n".join(out)


def _known_fields(target: str) -> set[str]:
    if target == IGNORE:
        return set()
    return {f for f, _ in field_aliases(target)} | set(PSEUDO_FIELDS)


# ---- layers -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class LayerTarget:
    target: str | None  # a schema layer, a pseudo target, or None (not recognised)
    how: str  # "user mapping" | "standard name XZQ" | "name contains 地类图斑" | "fields DLBM" | ""
    sureness: str = ""
    source: str = ""
    reason: str = ""  # why an ignored layer is ignored


def names_of(src: "SourceLayer") -> list[str]:
    """The names a layer goes by: its own; a workbook's sheet also by the workbook's name.

    The name of a GDB or GeoPackage says nothing about each of its layers and is not used.
    """
    names = [src.layer]
    suffix = src.path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        names.append(src.path.stem)
    elif suffix not in (".gdb", ".gpkg", ".pbf"):
        names.append(src.path.name)
    return names


def _compatible(target: str, src: "SourceLayer", columns: Iterable[str]) -> bool:
    if target in (IGNORE, ""):
        return True
    spatial = src.geometry_type is not None
    if target == ATTRIBUTES:
        return not spatial
    if target == ADMIN:
        return spatial and "polygon" in src.geometry_type.lower() if spatial else True
    layer = LAYERS[target]
    if layer.geometry is None:
        return not spatial
    if not spatial:
        if target in ("township", "village", "county"):
            return True  # a table of township/village attributes joined by code
        if target in _TABLE_POINT_TARGETS:
            cols = {norm_name(c) for c in columns}
            if target == "facility" and cols & (_alias_set("village_code") | _alias_set("township_code")):
                return True  # placed at the village or town seat (pianqu.derive.facilities)
            return bool(cols & _alias_set("lon")) and bool(cols & _alias_set("lat"))
        return False
    family = geometry_family(src.geometry_type)
    return family == geometry_family(layer.geometry) or family not in ("polygon", "line", "point")


def geometry_family(name: str | None) -> str:
    n = (name or "").lower()
    if "polygon" in n:
        return "polygon"
    if "line" in n or "curve" in n:
        return "line"
    if "point" in n:
        return "point"
    return n


@cache
def _alias_set(fname: str) -> frozenset[str]:
    entry = _toml("fields.toml").get("common", {}).get(fname, {})
    return frozenset(norm_name(n) for n in entry.get("names", ())) | {fname}


def match_layer(src: "SourceLayer", user: UserMapping | None = None) -> LayerTarget:
    """Which pianqu layer a source layer is: user mapping, standard name, plain name, then fields."""
    names = names_of(src)
    if user is not None:
        hit = user.lookup(names)
        if hit is not None:
            return LayerTarget(hit.target, "user mapping", "user", str(user.path))
    if src.layer.lower().startswith("scn_"):
        return LayerTarget(IGNORE, "pianqu scenario table", "read", "pianqu.workspace",
                           "a plan scenario's layer of another workspace")
    rules = layer_rules()
    normed = [norm_name(n) for n in names]
    stems = [norm_name(re.sub(r"\.(shp|csv|txt|xlsx|xlsm|geojson|json|fgb|gpkg|gdb|osm\.pbf|pbf)$", "", n,
                              flags=re.I)) for n in names]
    # 1. exact names (schema layer names too)
    for name in dict.fromkeys(stems + normed):
        if name in LAYERS and _compatible(name, src, src.fields):
            return LayerTarget(name, f"pianqu layer name {name}", "read", "pianqu.schema")
        for rule in rules:
            if name in {norm_name(n) for n in rule.names} and _compatible(rule.target, src, src.fields):
                return LayerTarget(rule.target, f"standard name {name}", rule.sureness, rule.source, rule.reason)
    # 2. names inside a longer name: Latin names as whole words, Chinese names of ≥ 2 characters
    best: tuple[int, LayerRule, str] | None = None
    for name in dict.fromkeys(stems):
        tokens = set(re.findall(r"[a-z]+", name))
        for rule in rules:
            for alias in rule.names:
                a = norm_name(alias)
                if re.fullmatch(r"[0-9a-z_]+", a):
                    found = a in tokens or ("_" in a and a in re.findall(r"[a-z_]+", name))
                else:
                    found = len(a) >= 2 and a in name
                if found and _compatible(rule.target, src, src.fields) and (best is None or len(a) > best[0]):
                    best = (len(a), rule, a)
    if best is not None:
        _, rule, alias = best
        return LayerTarget(rule.target, f"name contains {alias}", rule.sureness, rule.source, rule.reason)
    # 3. standard fields
    cols = {norm_name(c) for c in src.fields}
    for rule in rules:
        sig = [s for s in rule.signature if norm_name(s) in cols]
        if sig and _compatible(rule.target, src, src.fields):
            if rule.target == "village" and ({"dlbm", "ydyhfldm"} & cols):
                continue  # parcels carry ZLDWDM too
            return LayerTarget(rule.target, f"fields {', '.join(sig)}", rule.sureness, rule.source)
    if src.geometry_type is None:
        return _match_table_by_fields(src)
    return LayerTarget(None, "")


def _match_table_by_fields(src: "SourceLayer") -> LayerTarget:
    """A table without a recognised name: economy rows, or attributes to join by code."""
    econ = map_fields("economy", src.fields)
    if {"sector", "output"} <= set(econ.values()):
        return LayerTarget("economy", "fields " + ", ".join(k for k, v in econ.items() if v in ("sector", "output")),
                           "inferred", "fields.toml economy")
    attrs = map_fields(ATTRIBUTES, src.fields)
    values = set(attrs.values())
    if "code" in values and values & {"population", "households", "village_class", "urban_population"}:
        return LayerTarget(ATTRIBUTES, "fields " + ", ".join(attrs), "inferred", "fields.toml attributes")
    return LayerTarget(None, "")


# ---- fields ---------------------------------------------------------------------------------------------

def map_fields(target: str, columns: Iterable[str], user_fields: Mapping[str, str] | None = None,
               ) -> dict[str, str]:
    """Source column → pianqu field for the columns that a name table (or the user) recognises.

    Each column is used once and each pianqu field filled once: the user's mapping first, then
    the field's own name, the layer's standard names, then the shared plain names.
    """
    cols = [str(c) for c in columns]
    normed: dict[str, list[str]] = {}
    for c in cols:
        normed.setdefault(norm_name(c), []).append(c)
    out: dict[str, str] = {}
    used_targets: set[str] = set()
    for src, dst in (user_fields or {}).items():
        hits = [c for c in cols if c == src] or normed.get(norm_name(src), [])
        if hits:
            out[hits[0]] = dst
            used_targets.add(dst)
    if target == IGNORE:
        return out
    for fname, names in field_aliases(target):
        if fname in used_targets:
            continue
        for alias in names:
            hits = [c for c in normed.get(norm_name(alias), []) if c not in out]
            if hits:
                out[hits[0]] = fname
                used_targets.add(fname)
                break
    return out
