"""`pianqu import`: the planner's files → one county workspace (the unified base map, 统一底图).

Everything is read, recognised, typed and converted before anything is written; the layers of
one import then go into the workspace in ONE atomic write (a new workspace is built beside the
target and renamed onto it). A source that cannot be read stops the import with an
:class:`IngestError` naming the file, layer, feature and field; the workspace is left as it was.
Sources are only ever opened for reading.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import geopandas as gpd
import pandas as pd

from pianqu import divisions
from pianqu.config import load_config
from pianqu.errors import layer_label
from pianqu.findings import Finding
from pianqu.geo import STORAGE_EPSG, compute_epsg, describe_crs
from pianqu.ingest import crs as crsmod
from pianqu.ingest.conform import Context, admin_code, code_level, conform, points_from_lonlat
from pianqu.ingest.errors import IngestError
from pianqu.ingest.landcodes import convert
from pianqu.ingest.mapping import (ADMIN, ATTRIBUTES, IGNORE, LayerTarget, UserMapping, geometry_family,
                                   load_user_mapping, map_fields, match_layer, names_of)
from pianqu.ingest.readers import SourceLayer, expand, list_layers, read_layer
from pianqu.ingest.tables import join_attributes
from pianqu.progress import task
from pianqu.schema import LAYERS
from pianqu.workspace import Workspace
from pianqu.derive.facilities import place_facilities

_JOIN_TARGETS = (ATTRIBUTES, "county", "township", "village")


@dataclass(frozen=True)
class LayerMatch:
    """What the import does (or did) with one source layer."""

    source: str  # file (or .gdb folder)
    layer: str  # layer name inside the source
    target: str | None  # pianqu layer; "attributes" (joined by code); "ignore"; None: not recognised
    how: str  # how it was recognised: "standard name DLTB", "fields XZQDM", "user mapping", ...
    fields: dict[str, str] = field(default_factory=dict)  # source field → pianqu field
    rows: int = -1
    geometry_type: str | None = None
    crs: str = ""  # the CRS the source declares ("none" when it has none)
    transform: str = ""  # what is (or was) done to reach EPSG:4490
    encoding: str | None = None
    note: str = ""

    def __str__(self) -> str:
        target = self.target or "?"
        fields = ", ".join(f"{k}→{v}" for k, v in self.fields.items())
        parts = [f"{self.source} [{self.layer}] → {target} ({self.how or 'not recognised'})",
                 f"  rows: {self.rows}" + (f", geometry: {self.geometry_type}" if self.geometry_type else "")
                 + (f", encoding: {self.encoding}" if self.encoding else "")]
        if self.geometry_type:
            parts.append(f"  crs: {self.crs}; {self.transform}")
        if fields:
            parts.append(f"  fields: {fields}")
        if self.note:
            parts.append(f"  note: {self.note}")
        return "\n".join(parts)

    def __rich__(self) -> str:
        return str(self)


@dataclass(frozen=True)
class ImportResult:
    """What an import wrote and found."""

    workspace: Path
    created: bool
    county_code: str
    county_name: str
    layers: dict[str, int]  # layer → rows it holds after the import
    matches: tuple[LayerMatch, ...]  # every source layer: source, target, field mapping, CRS, transform
    review: pd.DataFrame = field(compare=False)  # land-code review rows of this import
    findings: list[Finding] = field(default_factory=list, compare=False)

    @property
    def sources(self) -> dict[str, list[tuple[str, str]]]:
        """Layer → the (file, source layer) pairs it came from."""
        out: dict[str, list[tuple[str, str]]] = {}
        for m in self.matches:
            if m.target and m.target != IGNORE:
                out.setdefault(m.target, []).append((m.source, m.layer))
        return out


@dataclass
class _Planned:
    src: SourceLayer
    match: LayerTarget
    target: str | None
    fields: dict[str, str]
    user_fields: dict[str, str]


# ---- planning: recognise every layer ----------------------------------------------------------------

def _plan(sources: Sequence[str | Path], user: UserMapping | None, encoding: str | None,
          strict: bool) -> tuple[list[_Planned], list[Finding]]:
    planned: list[_Planned] = []
    findings: list[Finding] = []
    for source in sources:
        layers = list_layers(source, encoding=encoding)
        here: list[_Planned] = []
        for src in layers:
            findings.extend(src.notes)
            match = match_layer(src, user)
            user_fields = {}
            if user is not None and match.how == "user mapping":
                hit = user.lookup(names_of(src))
                user_fields = dict(hit.fields) if hit else {}
            target = match.target
            if target == ADMIN and src.geometry_type is None:
                target = ATTRIBUTES
            fields = map_fields(target, src.fields, user_fields) if target and target != IGNORE else {}
            if target == ADMIN:
                target = _admin_level(src, fields, strict)
                fields = map_fields(target or ADMIN, src.fields, user_fields) if target else fields
                if target is not None:  # XZQ names: XZQDM/XZQMC map at every level
                    fields.update({c: f for c, f in map_fields(ADMIN, src.fields, user_fields).items()
                                   if f in ("code", "name") and c not in fields and f not in fields.values()})
            here.append(_Planned(src, match, target, fields, user_fields))
        unknown = [p for p in here if p.target is None]
        known = [p for p in here if p.target not in (None, IGNORE)]
        if strict and unknown and (not known or len(here) == 1):
            p = unknown[0]
            raise IngestError("ingest.unknown_layer", source=str(p.src.path), source_layer=p.src.layer,
                              fields=", ".join(p.src.fields[:15]) or "-")
        for p in unknown:
            findings.append(Finding("warning", "ingest.layer_skipped", "", params={
                "source_layer": p.src.layer, "fields": ", ".join(p.src.fields[:15]) or "-"}, source=str(p.src.path)))
        planned.extend(here)
    return planned, findings


def _admin_level(src: SourceLayer, fields: dict[str, str], strict: bool) -> str | None:
    code_col = next((c for c, f in fields.items() if f == "code"), None)
    if code_col is None:
        if strict:
            raise IngestError("ingest.admin_level", source=str(src.path), source_layer=src.layer,
                              fields=", ".join(src.fields))
        return None
    codes = read_layer(src, columns=[code_col], read_geometry=False)[code_col]
    level = code_level(codes)
    if level is None and strict:
        raise IngestError("ingest.admin_level", source=str(src.path), source_layer=src.layer,
                          fields=", ".join(src.fields))
    return level


def _planned_transform(src: SourceLayer, override) -> str:
    if src.geometry_type is None:
        return ""
    if src.crs is None:
        if override is None:
            fit = crsmod.suggest_crs(src.bounds)
            return f"no CRS: refused without --crs ({fit.looks('en')}; {fit.advice('en')})"
        return f"no CRS: --crs {describe_crs(override)} assumed → EPSG:4490"
    if override is not None and not override.equals(src.crs):
        return f"declares {describe_crs(src.crs)}; read as --crs {describe_crs(override)} → EPSG:4490"
    epsg = crsmod.recognise_epsg(src.crs)
    if epsg == STORAGE_EPSG:
        return "already EPSG:4490"
    if epsg == crsmod.WGS84:
        return "EPSG:4326 → EPSG:4490: coordinates unchanged, CRS relabelled"
    if crsmod.is_gk(epsg) or crsmod._is_cgcs2000(src.crs) or crsmod._is_wgs84(src.crs):
        return f"EPSG:{epsg} → EPSG:4490 (reproject)" if epsg else f"{src.crs.name} → EPSG:4490 (reproject)"
    return f"refused: {describe_crs(src.crs)} is not on the CGCS2000 or WGS 84 datum"


def _match_of(p: _Planned, transform: str = "") -> LayerMatch:
    src = p.src
    return LayerMatch(str(src.path), src.layer, p.target, p.match.how, dict(p.fields), src.count,
                      src.geometry_type, describe_crs(src.crs) if src.geometry_type else "", transform,
                      src.encoding, p.match.reason)


def recognise(path: str | Path | Sequence[str | Path], *, mapping: str | Path | None = None,
              encoding: str | None = None, crs: str | int | None = None) -> list[LayerMatch]:
    """What ``pianqu import`` would do with each layer of ``path``, without writing anything."""
    paths = [path] if isinstance(path, (str, Path)) else list(path)
    user = load_user_mapping(mapping) if mapping else None
    override = crsmod.parse_crs_option(crs)
    planned, _ = _plan(paths, user, encoding, strict=False)
    return [_match_of(p, _planned_transform(p.src, override)) for p in planned]


# ---- import -----------------------------------------------------------------------------------------------

def import_sources(sources: Sequence[str | Path], workspace: str | Path, *, crs: str | int | None = None,
                   mapping: str | Path | None = None, county_code: str | None = None,
                   county_name: str | None = None, epoch: int | None = None, replace: bool = False,
                   encoding: str | None = None) -> ImportResult:
    """Import ``sources`` into ``workspace`` (created when it does not exist) in one atomic write."""
    if isinstance(sources, (str, Path)):
        sources = [sources]
    ws_path = Path(workspace)
    if str(ws_path).startswith(("postgresql:/", "postgres:/")):  # a database workspace: push a file
        raise IngestError("db.import_into_db", path=str(workspace))
    if not str(ws_path).lower().endswith(".gpkg"):
        raise IngestError("ingest.workspace_suffix", workspace=str(ws_path))
    for source in sources:
        if any(p.resolve() == ws_path.resolve() for p in expand(source)):
            raise IngestError("ingest.source_is_workspace", source=str(source))
    override = crsmod.parse_crs_option(crs)
    user = load_user_mapping(mapping) if mapping else None
    cfg = load_config(ws_path)
    bbox = tuple(float(v) for v in cfg["validate.china_bbox"])
    default_epoch = int(cfg["ingest.default_epoch"])
    area_tol = float(cfg["ingest.area_unit_tolerance"])

    planned, findings = _plan(sources, user, encoding, strict=True)
    hint = _crs_hint(ws_path, county_code)
    frames: dict[str, list[pd.DataFrame]] = {}
    reviews: list[pd.DataFrame] = []
    joins: list[tuple[_Planned, pd.DataFrame, Context]] = []
    matches: list[LayerMatch] = []
    placing: list[tuple[pd.DataFrame, Context]] = []
    source_epsg: dict[str, int] = {}  # target layer → the EPSG its source was in (for `pianqu export`)
    with task("读取数据源 / reading sources", total=len(planned)) as advance:
        for p in planned:
            advance()
            src = p.src
            if p.target == IGNORE:
                findings.append(Finding("info", "ingest.layer_ignored", "", params={
                    "source_layer": src.layer, "reason": p.match.reason}, source=str(src.path)))
                matches.append(_match_of(p, "not imported"))
                continue
            reverse = {v: k for k, v in p.fields.items()}
            target = p.target
            assert target is not None
            ctx = Context(source=str(src.path), source_layer=src.layer,
                          layer=target if target in LAYERS else "", reverse=reverse)
            frame = read_layer(src)
            transform = ""
            is_table = src.geometry_type is None  # CSV/XLSX, or an attribute table of a GDB/GPKG
            if is_table and target in _JOIN_TARGETS:
                renamed = frame.rename(columns=p.fields)
                joins.append((p, renamed, ctx))
                matches.append(_match_of(p, "joined by code"))
                continue
            by_code = is_table and target == "facility" and bool({"village_code", "township_code"}
                                                                  & set(p.fields.values()))
            if is_table and LAYERS[target].geometry is not None:
                lonlat = {"lon", "lat"} <= set(p.fields.values()) and LAYERS[target].geometry == "Point"
                if not lonlat and not by_code:
                    raise IngestError("ingest.no_geometry", source=str(src.path), source_layer=src.layer,
                                      target=target)
                if lonlat:
                    frame = points_from_lonlat(frame.rename(columns={c: f for c, f in p.fields.items()
                                                                     if f in ("lon", "lat")}), ctx)
                transform = ("longitude/latitude columns → points in EPSG:4490" if lonlat else "") + \
                    ("; rows without coordinates placed at their village/town seat" if by_code else "")
            elif isinstance(frame, gpd.GeoDataFrame) and LAYERS[target].geometry is not None:
                found = set(frame.geom_type.dropna().map(geometry_family))
                if found - {geometry_family(LAYERS[target].geometry)}:
                    raise IngestError("ingest.geometry_mismatch", source=str(src.path), source_layer=src.layer,
                                      target=target, found="/".join(sorted(found)),
                                      expected=LAYERS[target].geometry)
                if hint.county_code is None and hint.zone_epsg is None:
                    hint = crsmod.CrsHint(county_code=_county_of(frame, p.fields))
                frame, report, notes = crsmod.to_storage(frame, override=override, source=str(src.path),
                                                         source_layer=src.layer, layer=target, china_bbox=bbox,
                                                         hint=hint)
                ctx.findings.extend(notes)
                transform = report.note
                if report.source_epsg:
                    source_epsg.setdefault(target, int(report.source_epsg))
            elif isinstance(frame, gpd.GeoDataFrame):  # a table layer delivered with geometry
                frame = pd.DataFrame(frame.drop(columns=frame.geometry.name))
            fmap = {c: f for c, f in p.fields.items() if f not in ("lon", "lat")}
            out = conform(frame, fmap, ctx, epoch=epoch, default_epoch=default_epoch, area_tolerance=area_tol)
            if target == "landuse":
                out, review, notes = convert(out, source=str(src.path), source_layer=src.layer)
                ctx.findings.extend(notes)
                reviews.append(review)
            if by_code:  # placed once every layer of this import is read (pianqu.derive.facilities)
                ctx.findings[:] = [f for f in ctx.findings if f.rule != "ingest.null_geometry"]
                placing.append((out, ctx))
                matches.append(_match_of(p, transform))
                continue
            findings.extend(ctx.findings)
            frames.setdefault(target, []).append(out)
            matches.append(_match_of(p, transform))

    new_layers = {name: _concat(parts) for name, parts in frames.items()}
    existing = Workspace.open(ws_path) if ws_path.exists() else None
    code, name = _county(new_layers, existing, county_code, county_name, findings)
    _derive_parents(new_layers, existing, findings)
    if "township" in new_layers and "county_code" in new_layers["township"].columns:
        new_layers["township"]["county_code"] = new_layers["township"]["county_code"].fillna(code)

    for out, ctx in placing:
        new_layers["facility"] = _concat([new_layers.get("facility"), _place(out, ctx, new_layers, existing)])
        findings.extend(ctx.findings)

    # statistics tables: onto the layers of this import, else onto the workspace's
    joined_from_ws: set[str] = set()
    for p, table, ctx in joins:
        only = p.target if p.target in ("county", "township", "village") else None
        available: dict[str, pd.DataFrame] = {}
        for lay in ("county", "township", "village"):
            if lay in new_layers:
                available[lay] = new_layers[lay]
            elif existing is not None and existing.has(lay):
                available[lay] = existing.read(lay)
                joined_from_ws.add(lay)
        updated = join_attributes(table, available, ctx, only=only)
        new_layers.update(updated)
        findings.extend(ctx.findings)

    review = _concat(reviews) if reviews else None
    to_write, epochs = _merge(new_layers, review, existing, replace, epoch_added=_epochs(new_layers),
                              joined_from_ws=joined_from_ws)
    reason = "; ".join(str(s) for s in sources)
    crs_meta = _source_crs_meta(source_epsg, existing)
    if existing is not None:
        meta = {"epochs": sorted(set(existing.meta.epochs) | set(epochs)), **crs_meta}
        spatial = _any_spatial(to_write)
        if existing.meta.compute_epsg is None and spatial is not None:
            meta["compute_epsg"] = compute_epsg(spatial)
        existing.write(to_write, command="import", reason=reason, meta_updates=meta)
        created = False
    else:
        spatial = _any_spatial(to_write)
        _create(ws_path, to_write, county_code=code, county_name=name,
                compute_epsg=compute_epsg(spatial) if spatial is not None else None,
                epochs=tuple(sorted(epochs)), reason=reason, extra=crs_meta)
        created = True
    layers = {k: len(v) for k, v in to_write.items()}
    return ImportResult(ws_path, created, code, name, layers, tuple(matches),
                        review if review is not None else _empty_review(), findings)


def _place(table: pd.DataFrame, ctx: Context, layers: dict[str, pd.DataFrame],
           existing: Workspace | None) -> gpd.GeoDataFrame:
    """Facility rows without coordinates placed at their village/town seat: the settlement layer,
    else seats derived from the parcels, else inside the unit's polygon (``location_method``)."""

    def get(name: str) -> pd.DataFrame | None:
        if name in layers:
            return layers[name]
        return existing.read(name) if existing is not None and existing.has(name) else None

    for col in ("village_code", "township_code"):
        if col in table.columns:
            table[col] = admin_code(table[col])
    villages, townships = get("village"), get("township")
    if villages is None:
        raise ctx.error("ingest.facility_needs_villages")
    epsg = existing.meta.compute_epsg if existing is not None else None
    placed = place_facilities(table, villages=villages, townships=townships, settlements=get("settlement"),
                              landuse=get("landuse"), compute_epsg=epsg)
    counts = placed["location_method"].value_counts()
    ctx.note("info", "ingest.facilities_placed", n=int(len(placed) - counts.get("unplaced", 0)),
             methods=", ".join(f"{k} {v}" for k, v in counts.items() if k != "unplaced"))
    if counts.get("unplaced", 0):
        bad = placed["location_method"] == "unplaced"
        ctx.note("warning", "ingest.facilities_unplaced", n=int(bad.sum()),
                 examples=", ".join(placed.loc[bad, "id"].astype(str).head(5)) if "id" in placed.columns else "")
        placed = placed.loc[~bad]
    return placed


def _source_crs_meta(found: dict[str, int], existing: Workspace | None) -> dict[str, object]:
    """Metadata recording the CRS each layer was delivered in (``source_epsg_by_layer``) and the
    county's own (``source_epsg``: the land parcels', else the most common), so that
    ``pianqu export`` writes results back in it. A CRS recorded earlier is kept."""
    if not found:
        return {}
    extra = dict(existing.meta.extra or {}) if existing is not None else {}
    by_layer = {**found, **dict(extra.get("source_epsg_by_layer") or {})}
    out: dict[str, object] = {"source_epsg_by_layer": by_layer}
    if extra.get("source_epsg") is None:
        out["source_epsg"] = int(by_layer["landuse"]) if "landuse" in by_layer else \
            Counter(by_layer.values()).most_common(1)[0][0]
    return out

def _crs_hint(ws_path: Path, county_code: str | None) -> crsmod.CrsHint:
    """Where the data should be, to narrow a CRS suggestion: the workspace's zone, else ``--county``."""
    if ws_path.exists():
        try:
            meta = Workspace.open(ws_path).meta
            return crsmod.CrsHint(county_code=meta.county_code, zone_epsg=meta.compute_epsg)
        except Exception:  # an unreadable workspace is reported when it is written, not here
            pass
    return crsmod.CrsHint(county_code=county_code)


def _county_of(frame: pd.DataFrame, fields: dict[str, str]) -> str | None:
    """The county (6 digits) most of a source layer's division codes name, or None."""
    cols = [c for c, f in fields.items() if f in ("code", "county_code", "township_code", "village_code",
                                                   "zldwdm") and c in frame.columns]
    votes: Counter = Counter()
    for col in cols:
        codes = admin_code(frame[col]).dropna()
        votes.update(codes[codes.str.fullmatch(r"\d{6,}")].str[:6].tolist())
    return votes.most_common(1)[0][0] if votes else None


def _concat(parts: list[pd.DataFrame]) -> pd.DataFrame:
    parts = [p for p in parts if p is not None]
    if len(parts) == 1:
        return parts[0]
    if all(isinstance(p, gpd.GeoDataFrame) for p in parts):
        geo = parts[0].geometry.name
        return gpd.GeoDataFrame(pd.concat([p.rename_geometry(geo) if p.geometry.name != geo else p for p in parts],
                                          ignore_index=True), geometry=geo, crs=parts[0].crs)
    return pd.concat(parts, ignore_index=True)


def _empty_review() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="object") for c in LAYERS["landuse_review"].field_names + ["epoch"]})


def _epochs(layers: dict[str, pd.DataFrame]) -> set[int]:
    if "landuse" not in layers or "epoch" not in layers["landuse"].columns:
        return set()
    return {int(e) for e in layers["landuse"]["epoch"].dropna().unique()}


def _any_spatial(layers: dict[str, pd.DataFrame]) -> gpd.GeoDataFrame | None:
    for name in ("county", "township", "village", "landuse"):
        frame = layers.get(name)
        if isinstance(frame, gpd.GeoDataFrame) and len(frame) and frame.geometry.notna().any():
            return frame
    for frame in layers.values():
        if isinstance(frame, gpd.GeoDataFrame) and len(frame) and frame.geometry.notna().any():
            return frame
    return None


# ---- county ----------------------------------------------------------------------------------------------

def _county_votes(layers: dict[str, pd.DataFrame]) -> Counter:
    votes: Counter = Counter()
    for name, col in (("county", "code"), ("township", "code"), ("village", "code"), ("landuse", "township_code"),
                      ("economy", "township_code"), ("settlement", "township_code")):
        frame = layers.get(name)
        if frame is None or col not in frame.columns:
            continue
        codes = admin_code(frame[col]).dropna()
        codes = codes[codes.str.fullmatch(r"\d{6,}")]
        votes.update(codes.str[:6].tolist())
    return votes


def _county(layers: dict[str, pd.DataFrame], existing: Workspace | None, county_code: str | None,
            county_name: str | None, findings: list[Finding]) -> tuple[str, str]:
    votes = _county_votes(layers)
    found = votes.most_common(1)[0][0] if votes else None
    if existing is not None:
        code = existing.meta.county_code
        if county_code and county_code != code:
            raise IngestError("ingest.county_mismatch", workspace=str(existing.path), ws_code=code, code=county_code)
        if found and found != code and votes[code] == 0:
            raise IngestError("ingest.county_mismatch", workspace=str(existing.path), ws_code=code, code=found)
        return code, existing.meta.county_name
    if county_code:
        code = str(county_code)
        if found and found != code:
            findings.append(Finding("warning", "ingest.county_differs", "", params={"code": code, "found": found}))
    elif found is None:
        raise IngestError("ingest.county_unknown")
    else:
        code = found
        others = [c for c in votes if c != found]
        if others:
            findings.append(Finding("warning", "ingest.county_several", "", params={
                "code": code, "others": ", ".join(sorted(others)[:5])}))
    if county_name:
        return code, county_name
    try:
        return code, str(divisions.county(code)["name"])
    except KeyError:
        pass
    county = layers.get("county")
    if county is not None and "name" in county.columns and county["name"].notna().any():
        return code, str(county["name"].dropna().iloc[0])
    raise IngestError("ingest.county_name_unknown", code=code)


def _derive_parents(layers: dict[str, pd.DataFrame], existing: Workspace | None, findings: list[Finding]) -> None:
    """Townships from villages and the county from townships, when neither data nor workspace has them."""
    def missing(name: str) -> bool:
        return name not in layers and not (existing is not None and existing.has(name))

    if missing("township") and isinstance(layers.get("village"), gpd.GeoDataFrame) \
            and "township_code" in layers["village"].columns:
        v = layers["village"]
        v = v[v["township_code"].notna()]
        geom = v.geometry.groupby(v["township_code"].to_numpy()).agg(lambda g: g.union_all())
        t = gpd.GeoDataFrame({"code": pd.array(geom.index, dtype="string")}, geometry=list(geom.to_numpy()),
                             crs=v.crs)
        ref = divisions.townships().set_index("code")
        t["name"] = t["code"].map(ref["name"]).astype("string")
        t["county_code"] = t["code"].str[:6]
        t["kind"] = t["code"].map(ref["kind"]).astype("string")
        t["population"] = pd.array([pd.NA] * len(t), dtype="Int64")
        layers["township"] = t
        findings.append(Finding("info", "ingest.derived", "township", params={
            "n": len(t), "from_layer": "village", "label": layer_label("township"), "from_label": layer_label("village")}))
    if missing("county") and isinstance(layers.get("township"), gpd.GeoDataFrame) and len(layers["township"]):
        t = layers["township"]
        code = t["county_code"].dropna().mode().iloc[0] if "county_code" in t.columns and t["county_code"].notna().any() \
            else str(t["code"].dropna().iloc[0])[:6]
        try:
            name = str(divisions.county(code)["name"])
        except KeyError:
            name = ""
        c = gpd.GeoDataFrame({"code": pd.array([code], dtype="string"), "name": pd.array([name], dtype="string")},
                             geometry=[t.geometry.union_all()], crs=t.crs)
        layers["county"] = c
        findings.append(Finding("info", "ingest.derived", "county", params={
            "n": 1, "from_layer": "township", "label": layer_label("county"), "from_label": layer_label("township")}))


# ---- merging into an existing workspace and writing -------------------------------------------------------

def _merge(new: dict[str, pd.DataFrame], review: pd.DataFrame | None, existing: Workspace | None,
           replace: bool, epoch_added: set[int], joined_from_ws: set[str]
           ) -> tuple[dict[str, pd.DataFrame], set[int]]:
    """The frames to write: new layers, landuse epochs merged with the workspace's other epochs."""
    out = dict(new)
    if review is not None:
        out["landuse_review"] = review
    if existing is None:
        return out, epoch_added
    present = set(existing.layers())
    for name in list(new):
        if name not in present:
            continue
        if name == "landuse":
            old = existing.read("landuse")
            old_epochs = {int(e) for e in old["epoch"].dropna().unique()} if "epoch" in old.columns else set()
            clash = old_epochs & epoch_added
            if clash and not replace:
                raise IngestError("ingest.layer_exists", layer=f"landuse ({', '.join(map(str, sorted(clash)))})",
                                  workspace=str(existing.path))
            keep = old[~old["epoch"].isin(list(epoch_added))] if "epoch" in old.columns else old.iloc[0:0]
            if len(keep):
                out["landuse"] = _concat([keep, new["landuse"]])
            if existing.has("landuse_review") and review is not None:
                old_review = existing.read("landuse_review")
                if "epoch" in old_review.columns:
                    old_review = old_review[~pd.to_numeric(old_review["epoch"], errors="coerce").isin(list(epoch_added))]
                    out["landuse_review"] = pd.concat([old_review, review], ignore_index=True)
        elif name in joined_from_ws:
            continue  # the workspace's own layer with joined attributes
        elif not replace:
            raise IngestError("ingest.layer_exists", layer=name, workspace=str(existing.path))
    return out, epoch_added


def _create(path: Path, layers: dict[str, pd.DataFrame], *, county_code: str, county_name: str,
            compute_epsg: int | None, epochs: tuple[int, ...], reason: str,
            extra: dict[str, object] | None = None) -> None:
    """A new workspace built beside ``path`` and renamed onto it: all there or nothing."""
    tmp = path.with_name(f".{path.stem}.import-{os.getpid()}.gpkg")
    try:
        ws = Workspace.create(tmp, county_code=county_code, county_name=county_name, synthetic=False,
                              compute_epsg=compute_epsg, epochs=epochs, command="import", reason=reason,
                              overwrite=True, extra=extra)
        ws.write(layers, command="import", reason=reason)
        if path.exists():  # appeared while importing: do not clobber it
            raise IngestError("ingest.workspace_appeared", workspace=str(path))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
        tmp.with_name(tmp.name + ".lock").unlink(missing_ok=True)
