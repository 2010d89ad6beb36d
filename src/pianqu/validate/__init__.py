"""Validation of a county workspace (what ``pianqu validate`` runs): every problem in the data,
each as a :class:`pianqu.findings.Finding` naming the layer, the feature id, the field, what is
wrong and what to do, in Chinese (default) or English.

One module per family of checks:

- ``schema_checks`` — layers present, fields present, storage types, unparsable/missing values;
- ``geometry`` — CRS, empty/invalid geometry, coordinates outside China or in metres, area fields;
- ``codes`` — 用地用海 codes and names, admin code hierarchy, links, vocabularies, duplicate ids;
- ``partition`` — overlaps and gaps, features outside their parent, parcels across villages,
  features lying in another unit than their code says;
- ``population`` — missing/negative/implausible population, sums between levels;
- ``roads`` — ends not noded, pieces cut off from the network (with the population cut off).

Validation only reads: the workspace file and the frames passed in are never changed.
"""

from __future__ import annotations

from typing import Mapping

import geopandas as gpd
import pandas as pd

from pianqu._version import __version__
from pianqu.config import Config, load_config
from pianqu.findings import SEVERITIES, Finding
from pianqu.i18n import t
from pianqu.progress import task
from pianqu.schema import LAYERS
from pianqu.validate import codes, geometry, partition, population, roads, schema_checks
from pianqu.validate._common import Context, LayerData, layer_order

__all__ = ["validate_workspace", "validate_layers", "summarise", "sort_findings", "RULES", "data_state",
           "store_findings", "cached_findings", "findings_for_report"]

# Every rule with its severity (the locale file has <rule>.msg, .do and .title for each).
RULES: dict[str, str] = {
    "validate.missing_layer": "error",
    "validate.empty_layer": "error",
    "validate.optional_layer_absent": "info",
    "validate.unknown_layer": "info",
    "validate.missing_field": "error",
    "validate.missing_optional_field": "warning",
    "validate.wrong_type": "error",
    "validate.bad_value": "error",
    "validate.missing_value": "error",
    "validate.negative_value": "error",
    "validate.no_geometry": "error",
    "validate.wrong_crs": "error",
    "validate.empty_geometry": "error",
    "validate.wrong_geometry_type": "error",
    "validate.projected_coordinates": "error",
    "validate.outside_china": "error",
    "validate.invalid_geometry": "error",
    "validate.area_mismatch": "warning",
    "validate.unknown_landuse_code": "error",
    "validate.landuse_code_version": "error",
    "validate.landuse_name_mismatch": "error",
    "validate.unknown_czcsxm": "error",
    "validate.county_code_mismatch": "error",
    "validate.code_format": "error",
    "validate.code_hierarchy": "error",
    "validate.unknown_parent": "error",
    "validate.parent_mismatch": "error",
    "validate.unknown_value": "error",
    "validate.unknown_facility_kind": "error",
    "validate.unknown_sector": "warning",
    "validate.county_seat_count": "warning",
    "validate.duplicate_id": "error",
    "validate.overlap": "error",
    "validate.gap": "error",
    "validate.outside_parent": "error",
    "validate.crosses_villages": "error",
    "validate.location_mismatch": "warning",
    "validate.missing_population": "warning",
    "validate.population_absent": "warning",
    "validate.unknown_area_code": "error",
    "validate.invalid_geometry_projected": "error",
    "validate.negative_population": "error",
    "validate.population_implausible": "warning",
    "validate.population_sum_mismatch": "warning",
    "validate.road_not_noded": "warning",
    "validate.road_disconnected": "warning",
}


def sort_findings(findings: list[Finding]) -> list[Finding]:
    """Errors first, then warnings, then info; within a severity by layer (schema order),
    feature, rule and field."""
    rank = {s: k for k, s in enumerate(SEVERITIES)}
    return sorted(findings, key=lambda f: (rank[f.severity], layer_order(f.layer), f.layer,
                                           f.feature, f.rule, f.field))


def validate_layers(layers: Mapping[str, gpd.GeoDataFrame | pd.DataFrame], *, config: Config | None = None,
                    county_code: str | None = None, sources: Mapping[str, str] | None = None,
                    landuse_version: int = 2023, compute_epsg: int | None = None) -> list[Finding]:
    """Check in-memory layers (keyed by schema layer name) and return the sorted findings.

    ``county_code`` is the workspace's county (township codes must start with it);
    ``sources`` maps a layer to the file it came from so that findings can name it;
    ``landuse_version`` selects the 用地用海 table (2023 or 2020); ``compute_epsg`` the GK zone
    for areas and lengths (derived from the data when None). The frames are not modified.
    """
    config = config if config is not None else load_config()
    sources = dict(sources or {})
    prepared = {name: LayerData(name, LAYERS.get(name), frame, sources.get(name, ""))
                for name, frame in layers.items()}
    ctx = Context(config, county_code, int(landuse_version), prepared)
    steps = [
        lambda: schema_checks.check_presence(ctx, list(layers)),
        lambda: [schema_checks.prepare_layer(ctx, d) for d in prepared.values()],
        lambda: [geometry.prepare_geometry(ctx, d) for d in prepared.values()],
        lambda: setattr(ctx, "compute_epsg", geometry.choose_compute_epsg(ctx, compute_epsg)),
        lambda: geometry.check_projected_validity(ctx),
        lambda: geometry.check_areas(ctx),
        lambda: codes.check_landuse_codes(ctx),
        lambda: codes.check_admin_hierarchy(ctx),
        lambda: codes.check_links(ctx),
        lambda: codes.check_vocabularies(ctx),
        lambda: codes.check_duplicates(ctx),
        lambda: partition.check_partitions(ctx),
        lambda: partition.check_containment(ctx),
        lambda: partition.check_point_locations(ctx),
        lambda: population.check_values(ctx),
        lambda: population.check_sums(ctx),
        lambda: roads.check_roads(ctx),
    ]
    with task(t("validate.progress"), total=len(steps)) as advance:
        for step in steps:
            step()
            advance()
    return sort_findings(ctx.findings)


def validate_workspace(ws, config: Config | None = None, *,
                       layers: Mapping[str, gpd.GeoDataFrame | pd.DataFrame] | None = None) -> list[Finding]:
    """Check every base layer of a workspace and return the findings (what ``pianqu validate`` runs).

    Validation only reads: neither the workspace nor ``layers`` is changed.

    Parameters
    ----------
    ws : pianqu.workspace.Workspace
        The county workspace.
    config : pianqu.config.Config, optional
        Thresholds in force; default the workspace's own (shipped defaults overridden by the
        ``pianqu.toml`` beside it).
    layers : mapping of str to GeoDataFrame or DataFrame, optional
        The workspace's layers already read (``ws.read_many()``), so that they are read once.

    Returns
    -------
    list of pianqu.findings.Finding
        Errors first, then warnings, then info; each names the layer, feature, field, what is
        wrong and what to do (``f.message(lang)``, ``f.action(lang)``).

    Examples
    --------
    >>> findings = pianqu.validate_workspace(pianqu.open("county.gpkg"))   # doctest: +SKIP
    >>> [f.rule for f in findings if f.severity == "error"]                 # doctest: +SKIP
    []
    """
    config = config if config is not None else ws.config()
    layers = ws.read_many() if layers is None else layers
    meta = ws.meta
    return validate_layers(layers, config=config, county_code=meta.county_code,
                           sources={name: ws.url for name in layers},
                           landuse_version=meta.landuse_version, compute_epsg=meta.compute_epsg)


def _last_changes(ws, tables: list[str]) -> list[tuple[str, str]]:
    """``gpkg_contents.last_change`` of the base tables (GDAL and QGIS update it on every edit,
    so an edit made outside pianqu changes the state too); empty for other backends."""
    import sqlite3

    try:
        path = ws.path
    except Exception:  # not a file-based workspace
        return []
    if not path.is_file():
        return []
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as con:
            rows = con.execute("SELECT table_name, last_change FROM gpkg_contents").fetchall()
    except sqlite3.Error:
        return []
    keep = set(tables)
    return sorted((str(a), str(b)) for a, b in rows if a in keep)


def data_state(ws, config: Config | None = None) -> str:
    """A fingerprint of everything validation reads: the audit rows of writes to base layers,
    the base tables' last change, the metadata validation uses, the thresholds in force and
    the pianqu version. Two calls give the same string exactly when the findings are the same."""
    import hashlib

    config = config if config is not None else ws.config()
    audit = ws.audit()
    scn = audit["scenario"].astype("string").fillna("") if "scenario" in audit.columns else pd.Series("", index=audit.index)
    base = audit[scn == ""]
    meta = ws.meta
    h = hashlib.sha256()
    h.update(base.to_csv(index=False).encode("utf-8"))
    h.update(repr(_last_changes(ws, ws.layers())).encode("utf-8"))
    h.update(repr((meta.county_code, meta.landuse_version, meta.compute_epsg, __version__)).encode("utf-8"))
    h.update(repr(sorted((k, repr(v.value)) for k, v in config.thresholds.items())).encode("utf-8"))
    return h.hexdigest()


def _cache_file(ws):
    import hashlib
    import os
    from pathlib import Path

    root = os.environ.get("PIANQU_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "pianqu")
    return Path(root) / "validate" / (hashlib.sha256(str(ws.url).encode("utf-8")).hexdigest()[:32] + ".pkl")


def store_findings(ws, findings: list[Finding], config: Config | None = None) -> None:
    """Keep the findings of ``pianqu validate`` for the workspace's current data state (in the
    user's cache directory, never in the workspace), so that the report need not validate again."""
    import os
    import pickle
    import tempfile

    try:
        target = _cache_file(ws)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            pickle.dump({"state": data_state(ws, config), "findings": list(findings)}, fh)
        os.replace(tmp, target)
    except OSError:  # a read-only home: the report validates again
        pass


def cached_findings(ws, config: Config | None = None) -> list[Finding] | None:
    """The findings stored by :func:`store_findings` when the workspace's data state is still the
    one they were made for, else None."""
    import pickle

    try:
        with open(_cache_file(ws), "rb") as fh:
            got = pickle.load(fh)
    except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ImportError):
        return None
    if not isinstance(got, dict) or got.get("state") != data_state(ws, config):
        return None
    return list(got["findings"])


def findings_for_report(ws, config: Config | None = None) -> list[Finding]:
    """The workspace's findings: those of the last ``pianqu validate`` when the data have not
    changed since, else a fresh validation (then kept for the next time)."""
    found = cached_findings(ws, config)
    if found is None:
        found = validate_workspace(ws, config)
        store_findings(ws, found, config)
    return found


def summarise(findings: list[Finding]) -> pd.DataFrame:
    """Counts by severity × rule × layer with the locale key of the rule's title (``<rule>.title``:
    the CLI and the report say it, :func:`pianqu.i18n.translate_keys`), in finding order (for
    when one rule fires on thousands of features)."""
    cols = ["severity", "rule", "layer", "count", "title"]
    if not findings:
        return pd.DataFrame(columns=cols)
    frame = pd.DataFrame([(f.severity, f.rule, f.layer) for f in sort_findings(list(findings))],
                         columns=["severity", "rule", "layer"])
    out = frame.groupby(["severity", "rule", "layer"], sort=False).size().reset_index(name="count")
    out["title"] = [f"{rule}.title" for rule in out["rule"]]
    return out[cols]
