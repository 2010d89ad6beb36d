"""What the web app computes for a request, as plain functions over a workspace: identify,
search, attribute tables (and their xlsx), statistics inside a drawn polygon, the comparison of
two scenarios, the audit trail, the zone assignment, conflict decisions and the validation of an
uploaded delivery."""

from __future__ import annotations

import io
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from pianqu.errors import PianquError, user_message
from pianqu.geo import ellipsoidal_area
from pianqu.report.labels import header
from pianqu.schema import LAYERS
from pianqu.web.catalogue import geometry_types, layer_name
from pianqu.workspace import Holder, scenario_layer

SEARCH_LAYERS = ("township", "village", "settlement", "facility", "zone", "village_zone")


class UploadRefused(PianquError, ValueError):
    """An uploaded delivery that is not opened (zip-slip, compression bomb, unknown format)."""


class DecisionRefused(PianquError, ValueError):
    """A conflict decision the rules refuse (the land engine's message, in ``detail``)."""

    def text(self, lang: str) -> str:
        return self.message(lang)


def field_label(layer: str, column: str, lang: str) -> str:
    """A column's header: the report's (``report.col.*``), else the data standard's field name."""
    try:
        label = header(column, lang)
    except KeyError:  # a header with a placeholder ({minutes}) the report fills from its config
        label = header(column, lang, minutes=30)
    if label != column:
        return label
    spec = LAYERS.get(layer)
    if spec is not None and column in spec.field_names:
        f = spec.field(column)
        return f.zh if lang == "zh" else f.en
    return column


def _plain(value: Any) -> Any:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, (np.floating, float)):
        return None if np.isnan(value) else round(float(value), 6)
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value if isinstance(value, (int, str)) else str(value)


def _record(frame: pd.DataFrame, i: int, layer: str, lang: str) -> list[dict]:
    row = frame.iloc[i]
    return [{"field": c, "label": field_label(layer, c, lang), "value": _plain(row[c])}
            for c in frame.columns if c != "geometry"]


def identify(ws, scenario: str | None, lon: float, lat: float, layers: list[str] | None, zoom: float,
             lang: str) -> list[dict]:
    """The features at a clicked point: polygons containing it, lines and points within a few
    screen pixels (at ``zoom``), topmost layer first."""
    kinds = geometry_types(ws)
    tol = 360.0 / (256 * 2 ** max(zoom, 0)) * 6  # six pixels, in degrees
    point = shapely.Point(lon, lat)
    out = []
    candidates = [(layer, scenario) for layer in ws.layers(scenario)] if scenario else []
    candidates += [(layer, None) for layer in ws.layers(None)]
    for layer, scn in candidates:
        if layers is not None and layer not in layers:
            continue
        kind = kinds.get(scenario_layer(layer, scn))
        if kind is None:
            continue
        frame = ws.read(layer, scn, bbox=(lon - tol, lat - tol, lon + tol, lat + tol))
        if frame.empty:
            continue
        geoms = frame.geometry.values
        hit = shapely.contains(geoms, point) if kind == "Polygon" else shapely.dwithin(geoms, point, tol)
        for i in np.flatnonzero(hit)[:5]:
            out.append({"layer": layer, "scenario": scn or "base", "name": layer_name(layer, lang),
                        "fields": _record(frame, int(i), layer, lang)})
    return out


def search(ws, scenario: str | None, q: str, lang: str, limit: int = 20) -> list[dict]:
    """Features whose name or code contains ``q`` (townships, villages, settlements, facilities,
    zones), each with its bounds (lon/lat) to zoom to."""
    q = q.strip()
    if not q:
        return []
    out = []
    for layer in SEARCH_LAYERS:
        scn = scenario if layer in ("zone", "village_zone") else None
        if scn is None and layer in ("zone", "village_zone") or not ws.has(layer, scn):
            continue
        frame = ws.read(layer, scn)
        cols = [c for c in ("name", "code", "zone", "id", "centre_name") if c in frame.columns]
        mask = np.zeros(len(frame), bool)
        for c in cols:
            mask |= frame[c].astype(str).str.contains(q, case=False, regex=False).to_numpy()
        for i in np.flatnonzero(mask):
            row = frame.iloc[i]
            label = str(row.get("name", "") or row.get("zone", ""))
            code = str(row.get("code", row.get("zone", row.get("id", ""))))
            out.append({"layer": layer, "layer_name": layer_name(layer, lang), "name": label, "code": code,
                        "bounds": list(map(float, row.geometry.bounds))})
            if len(out) >= limit:
                return out
    return out


def filtered(frame: pd.DataFrame, q: str = "", column: str = "", value: str = "") -> pd.DataFrame:
    """Rows matching a free-text query (any column contains ``q``) and ``column == value``."""
    out = frame
    if column and column in out.columns and value != "":
        out = out[out[column].astype(str) == value]
    if q:
        attrs = out.drop(columns=[c for c in ("geometry",) if c in out.columns])
        mask = attrs.astype(str).apply(lambda s: s.str.contains(q, case=False, regex=False)).any(axis=1)
        out = out[mask]
    return out


def table_json(frame: pd.DataFrame, layer: str, lang: str, offset: int, limit: int) -> dict:
    cols = [c for c in frame.columns if c != "geometry"]
    page = frame.iloc[offset:offset + limit]
    return {"total": int(len(frame)), "offset": offset,
            "columns": [{"field": c, "label": field_label(layer, c, lang)} for c in cols],
            "rows": [[_plain(v) for v in row] for row in page[cols].itertuples(index=False)]}


def to_xlsx(frame: pd.DataFrame, layer: str, lang: str) -> bytes:
    cols = [c for c in frame.columns if c != "geometry"]
    out = pd.DataFrame(frame[cols]).rename(columns={c: field_label(layer, c, lang) for c in cols})
    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="openpyxl") as xw:
        out.to_excel(xw, sheet_name=layer[:31], index=False)
    return buf.getvalue()


def polygon_stats(ws, scenario: str | None, polygon, lang: str) -> dict:
    """Inside a drawn polygon (lon/lat): areas by 用地用海 class (ellipsoidal, m² and ha; 耕地 also
    net of 田坎 as 三调 counts it: area × (1 − kcxs)), population (village population shared by
    the village's area inside) and facilities by kind."""
    bbox = polygon.bounds
    area_total = float(ellipsoidal_area(np.array([polygon]), 4490)[0])
    classes = []
    if ws.has("landuse"):
        lu = ws.read("landuse", bbox=bbox)
        if "epoch" in lu.columns and len(lu):
            lu = lu[lu["epoch"] == lu["epoch"].max()]
        parts = shapely.intersection(lu.geometry.values, polygon)
        areas = ellipsoidal_area(parts, 4490) if len(lu) else np.array([])
        frame = pd.DataFrame({"class": lu["code"].astype(str).str[:2].to_numpy(), "area_m2": areas,
                              "net_m2": areas * (1 - pd.to_numeric(lu.get("kcxs", 0), errors="coerce").fillna(0).to_numpy())})
        by = frame[frame["area_m2"] > 0].groupby("class", as_index=False).sum()
        from pianqu.standards import landuse_codes

        codes = landuse_codes(2023)
        names = dict(zip(codes["code"].astype(str), codes["name"]))
        for r in by.itertuples(index=False):
            classes.append({"class": r[0], "name": names.get(r[0], r[0]), "area_m2": round(float(r[1]), 1),
                            "area_ha": round(float(r[1]) / 1e4, 4),
                            "net_area_ha": round(float(r[2]) / 1e4, 4) if r[0] == "01" else None})
    population = 0.0
    if ws.has("village"):
        v = ws.read("village", bbox=bbox)
        if len(v):
            full = ellipsoidal_area(v.geometry.values, 4490)
            inside = ellipsoidal_area(shapely.intersection(v.geometry.values, polygon), 4490)
            share = np.divide(inside, full, out=np.zeros_like(inside), where=full > 0)
            population = float((pd.to_numeric(v["population"], errors="coerce").fillna(0).to_numpy() * share).sum())
    facilities: dict[str, int] = {}
    if ws.has("facility"):
        f = ws.read("facility", bbox=bbox)
        if len(f):
            f = f[shapely.contains(polygon, f.geometry.values)]
            facilities = {str(k): int(n) for k, n in f["kind"].value_counts().items()}
    return {"area_m2": round(area_total, 1), "area_ha": round(area_total / 1e4, 4), "classes": classes,
            "population": round(population), "facilities": facilities,
            "headers": {k: field_label("", k, lang) for k in ("population", "area_ha", "facilities")}}


def _members(ws, scenario: str) -> pd.DataFrame:
    return ws.read("zone_member", scenario)[["township_code", "zone"]].astype(str) if ws.has("zone_member", scenario) \
        else pd.DataFrame(columns=["township_code", "zone"])


def compare(ws, a: str | None, b: str | None, lang: str) -> dict:
    """What differs between scenarios ``a`` and ``b``: the zone of each township (members are
    compared as groups, so renumbered zones with the same members do not count), each zone's
    indicators and the conflicts by state."""
    names = dict(zip(ws.read("township")["code"].astype(str), ws.read("township")["name"])) if ws.has("township") else {}
    ma, mb = _members(ws, a), _members(ws, b)
    za, zb = dict(zip(ma["township_code"], ma["zone"])), dict(zip(mb["township_code"], mb["zone"]))
    group_a = {z: frozenset(g["township_code"]) for z, g in ma.groupby("zone")}
    group_b = {z: frozenset(g["township_code"]) for z, g in mb.groupby("zone")}
    members = []
    for code in sorted(set(za) | set(zb)):
        ga, gb = group_a.get(za.get(code), frozenset()), group_b.get(zb.get(code), frozenset())
        if ga != gb:
            members.append({"township_code": code, "name": names.get(code, code), "zone_a": za.get(code),
                            "zone_b": zb.get(code)})
    cols = ["zone", "centre", "members", "population", "mean_time_min", "max_time_min", "within_share"]
    zones = {}
    for key, scn in (("a", a), ("b", b)):
        if scn and ws.has("zone", scn):
            z = ws.read("zone", scn)
            zones[key] = [{c: _plain(r[c]) for c in cols if c in z.columns} for _, r in z.iterrows()]
        else:
            zones[key] = []
    conflicts = {}
    for key, scn in (("a", a), ("b", b)):
        if ws.has("conflict", scn):
            c = ws.read("conflict", scn)
            conflicts[key] = {str(k): int(n) for k, n in c["state"].value_counts().items()}
        else:
            conflicts[key] = {}
    return {"a": a or "base", "b": b or "base", "members": members, "zones": zones, "conflicts": conflicts,
            "headers": {c: field_label("zone", c, lang) for c in cols + ["township_code", "zone_a", "zone_b"]}}


def audit_rows(ws, lang: str, limit: int = 200) -> list[dict]:
    """The audit trail, newest first: who, when, which command, what (scenario, layer, rows), why
    and the revision of the layer before and after (counted from the layer's earlier rows)."""
    a = ws.audit().reset_index(drop=True)
    if a.empty:
        return []
    table = [scenario_layer(str(l).lstrip("-"), s or None) if not str(l).startswith("pianqu_") else str(l)
             for l, s in zip(a["layer"], a["scenario"])]
    a["table"] = table
    a["to_revision"] = a.groupby("table").cumcount() + 1
    a["from_revision"] = a["to_revision"] - 1
    a = a.iloc[::-1].head(limit)
    keep = ["ts", "user", "command", "action", "scenario", "layer", "rows", "reason", "from_revision", "to_revision"]
    return [{k: _plain(r[k]) for k in keep} for _, r in a.iterrows()]


def assignment(ws, scenario: str, lang: str) -> dict:
    """The township → zone assignment of a scenario, the zones, and the revision to edit from."""
    m = ws.read("zone_member", scenario)
    names = dict(zip(ws.read("township")["code"].astype(str), ws.read("township")["name"]))
    zones = ws.read("zone", scenario) if ws.has("zone", scenario) else pd.DataFrame(columns=["zone", "name"])
    return {"revision": int(ws.revisions(["zone"], scenario)["zone"]),
            "assignment": dict(zip(m["township_code"].astype(str), m["zone"].astype(str))),
            "townships": [{"code": c, "name": names.get(c, c)} for c in m["township_code"].astype(str)],
            "zones": [{"zone": str(r["zone"]), "name": str(r.get("name", r["zone"]))} for _, r in zones.iterrows()]}


def conflicts(ws, scenario: str | None, lang: str) -> dict:
    """The control-line conflicts with the actions their rule allows, and the table's revision."""
    from pianqu.land.conflicts import conflict_rules

    options = {r.rule: [o for o in r.options.split("|") if o] for r in conflict_rules().itertuples(index=False)}
    if not ws.has("conflict", scenario):
        return {"revision": 0, "rows": []}
    c = ws.read("conflict", scenario)
    cols = ["conflict_id", "rule", "name", "severity", "area_ha", "action", "state"]
    rows = [{**{k: _plain(r[k]) for k in cols if k in c.columns}, "options": options.get(r["rule"], [])}
            for _, r in c.iterrows()]
    return {"revision": int(ws.revisions(["conflict"], scenario)["conflict"]), "rows": rows,
            "headers": {k: field_label("conflict", k, lang) for k in cols}}


def decide_conflict(ws, scenario: str | None, conflict_id: str, resolution: str, reason: str,
                    base_revision: int, holder: Holder) -> int:
    """Record a decision as ``pianqu lines decide`` does (the same rules and refusals), from the
    revision of the conflict table the user saw: a table changed meanwhile refuses it
    (:class:`~pianqu.workspace.StaleRevisionError`). Returns the table's new revision."""
    from pianqu.land.common import LandInputError
    from pianqu.land.conflicts import decide, write_conflicts
    from pianqu.land.workflow import stored_conflicts

    table = scenario_layer("conflict", scenario)
    with ws.transaction(command="lines decide", holder=holder) as tx:
        tx.expect_revisions({table: base_revision})
        c, _ = stored_conflicts(ws, scenario, command="lines decide")
        try:
            c = decide(c, {conflict_id: (resolution, reason)})
        except LandInputError as exc:
            raise DecisionRefused("web.err.decide_refused", id=conflict_id, detail=exc) from exc
        who = f"{holder.user}, r{base_revision}"
        write_conflicts(ws, scenario, c, command="lines decide",
                        reason=f"{conflict_id}: {resolution}" + (f" ({reason})" if reason else "") + f" [{who}]")
    return int(tx.revisions.get(table, ws.revisions(["conflict"], scenario)["conflict"]))


# -- uploads -------------------------------------------------------------------------------------

def safe_extract(data: bytes, target: Path, *, max_bytes: int, max_ratio: float) -> list[Path]:
    """Extract a zip archive refusing what would escape ``target`` (zip-slip: absolute paths,
    ``..``, links), more than ``max_bytes`` uncompressed, or a member compressed more than
    ``max_ratio`` times (a compression bomb). Sizes are checked as bytes are written, not only
    as the archive declares them."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise UploadRefused("web.err.bad_zip", detail=str(exc)) from exc
    root = target.resolve()
    written = 0
    out = []
    for info in archive.infolist():
        name = info.filename
        dest = (root / name).resolve()
        if name.startswith(("/", "\\")) or ".." in Path(name).parts or os.path.commonpath([root, dest]) != str(root):
            raise UploadRefused("web.err.zip_slip", name=name)
        if (info.external_attr >> 16) & 0o170000 == 0o120000:
            raise UploadRefused("web.err.zip_slip", name=name)
        if info.is_dir():
            dest.mkdir(parents=True, exist_ok=True)
            continue
        if info.compress_size and info.file_size / max(info.compress_size, 1) > max_ratio:
            raise UploadRefused("web.err.zip_bomb", name=name, ratio=round(info.file_size / info.compress_size))
        dest.parent.mkdir(parents=True, exist_ok=True)
        size = 0
        with archive.open(info) as src, open(dest, "wb") as dst:
            while chunk := src.read(1 << 16):
                size += len(chunk)
                written += len(chunk)
                if written > max_bytes or size > max_ratio * max(info.compress_size, 1):
                    raise UploadRefused("web.err.zip_bomb", name=name, ratio=round(size / max(info.compress_size, 1)))
                dst.write(chunk)
        out.append(dest)
    return out


def validate_delivery(ws, filename: str, data: bytes, cfg) -> list:
    """Validate an uploaded delivery (a GeoPackage, or a zip of GeoPackages/shapefiles whose
    layers are named as the data standard names them) against the workspace's county."""
    import pyogrio

    from pianqu.validate import validate_layers

    with tempfile.TemporaryDirectory(prefix="pianqu-upload-") as tmp:
        tmpdir = Path(tmp)
        if filename.lower().endswith(".zip"):
            files = safe_extract(data, tmpdir, max_bytes=int(float(cfg["web.unzip_max_mb"]) * 1024 * 1024),
                                 max_ratio=float(cfg["web.unzip_max_ratio"]))
        elif filename.lower().endswith(".gpkg"):
            path = tmpdir / "upload.gpkg"
            path.write_bytes(data)
            files = [path]
        else:
            raise UploadRefused("web.err.bad_upload", name=filename)
        layers: dict[str, pd.DataFrame] = {}
        sources: dict[str, str] = {}
        for path in files:
            try:
                if path.suffix.lower() == ".gpkg":
                    for name, _ in pyogrio.list_layers(path):
                        layers[str(name)] = gpd.read_file(path, layer=name)
                        sources[str(name)] = f"{filename}:{path.name}"
                elif path.suffix.lower() == ".shp":
                    layers[path.stem] = gpd.read_file(path)
                    sources[path.stem] = f"{filename}:{path.relative_to(tmpdir)}"
            except Exception as exc:
                raise UploadRefused("web.err.bad_upload", name=f"{filename}:{path.name} ({exc})") from exc
        if not layers:
            raise UploadRefused("web.err.bad_upload", name=filename)
        return validate_layers(layers, config=ws.config(), county_code=ws.meta.county_code, sources=sources,
                               compute_epsg=ws.meta.compute_epsg)
