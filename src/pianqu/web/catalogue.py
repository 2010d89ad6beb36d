"""The layer catalogue of a county for the map: every spatial base and scenario layer with its
name in the user's language, geometry type, revision (for the tile URLs) and a default style
(MapLibre paint): 用地用海 classes in the report's colours, zones by zone, control lines and
their conflicts, roads by class, facilities as points."""

from __future__ import annotations

import functools
import sqlite3
from typing import Any

from pianqu.i18n import catalogue as messages, t
from pianqu.schema import LAYERS
from pianqu.workspace import GpkgBackend, scenario_layer

# the layers the map opens with (the rest are in the layer tree, off)
VISIBLE = {"county", "township", "landuse", "zone"}
ZONE_PALETTE = ("#e41a1c", "#377eb8", "#4daf4a", "#984ea3", "#ff7f00", "#a65628", "#f781bf", "#66c2a5",
                "#fc8d62", "#8da0cb", "#e78ac3", "#a6d854")
# drawing order: land first, then areas, lines, points
ORDER = {"landuse": 0, "county": 9, "township": 8, "village": 7}
GROUPS = {"county": "admin", "township": "admin", "village": "admin", "landuse": "land", "farmland_pbf": "lines",
          "eco_redline": "lines", "urban_boundary": "lines", "conflict": "lines", "space": "lines",
          "road": "roads", "river": "roads", "facility": "services", "settlement": "services"}


def layer_name(layer: str, lang: str) -> str:
    """A layer's name: the data standard's, else ``web.layer.<name>``, else the name itself."""
    spec = LAYERS.get(layer)
    if spec is not None:
        return spec.zh if lang == "zh" else spec.en
    key = f"web.layer.{layer}"
    return t(key, lang) if key in messages() else layer


def group_of(layer: str) -> str:
    if layer in GROUPS:
        return GROUPS[layer]
    for prefix, group in (("zone", "zones"), ("village_zone", "zones"), ("road_", "roads"), ("facility", "services"),
                          ("service", "services"), ("telecom", "services"), ("land_", "land")):
        if layer.startswith(prefix):
            return group
    return "other"


def geometry_types(ws) -> dict[str, str]:
    """Table → geometry type family (Polygon, LineString, Point) of every spatial table."""
    backend = ws.backend
    if isinstance(backend, GpkgBackend):
        con = sqlite3.connect(f"file:{backend.path}?mode=ro", uri=True)
        try:
            rows = con.execute("SELECT table_name, geometry_type_name FROM gpkg_geometry_columns").fetchall()
        finally:
            con.close()
    else:
        rows = backend._connection().execute(
            "SELECT f_table_name, type FROM geometry_columns WHERE f_table_schema = %s", [backend.schema]).fetchall()
    out = {}
    for table, kind in rows:
        kind = str(kind).upper()
        out[str(table)] = ("Point" if "POINT" in kind else "LineString" if "LINE" in kind
                           else "Polygon" if "POLYGON" in kind else "Geometry")
    return out


@functools.lru_cache(maxsize=1)
def _class_colours() -> dict[str, str]:
    from pianqu.report.maps import CLASS_COLOURS

    return dict(CLASS_COLOURS)


@functools.lru_cache(maxsize=1)
def _road_styles() -> dict[str, tuple]:
    from pianqu.report.maps import ROAD_STYLE

    return dict(ROAD_STYLE)


def _match(prop: list, mapping: dict[str, str], default: str) -> list:
    expr: list[Any] = ["match", prop]
    for key, value in mapping.items():
        expr += [key, value]
    return expr + [default]


def style(layer: str, geometry: str, zones: list[str] | None = None) -> list[dict]:
    """MapLibre style layers (type, paint, filter) for a workspace layer."""
    if layer == "landuse":
        colours = {k: v for k, v in _class_colours().items() if k != "unknown"}
        return [{"type": "fill", "paint": {"fill-color": _match(["slice", ["to-string", ["get", "code"]], 0, 2], colours,
                                                                 "#888888"), "fill-opacity": 0.75}}]
    if layer in ("county", "township", "village"):
        width = {"county": 2.4, "township": 1.4, "village": 0.5}[layer]
        colour = {"county": "#202020", "township": "#404040", "village": "#8a8a8a"}[layer]
        return [{"type": "fill", "paint": {"fill-color": "#ffffff", "fill-opacity": 0.01}},
                {"type": "line", "paint": {"line-color": colour, "line-width": width}}]
    if layer in ("zone", "village_zone") and zones:
        colours = {z: ZONE_PALETTE[i % len(ZONE_PALETTE)] for i, z in enumerate(zones)}
        return [{"type": "fill", "paint": {"fill-color": _match(["to-string", ["get", "zone"]], colours, "#999999"),
                                           "fill-opacity": 0.35}},
                {"type": "line", "paint": {"line-color": "#111111", "line-width": 2.0 if layer == "zone" else 1.0}}]
    if layer in ("farmland_pbf", "eco_redline", "urban_boundary"):
        colour = {"farmland_pbf": "#e6c200", "eco_redline": "#1a9641", "urban_boundary": "#d7191c"}[layer]
        return [{"type": "fill", "paint": {"fill-color": colour, "fill-opacity": 0.25}},
                {"type": "line", "paint": {"line-color": colour, "line-width": 1.5}}]
    if layer == "conflict":
        return [{"type": "fill", "paint": {"fill-color": "#ff00aa", "fill-opacity": 0.6}},
                {"type": "line", "paint": {"line-color": "#9c0066", "line-width": 1.2}}]
    if layer == "road":
        roads = _road_styles()
        return [{"type": "line", "paint": {
            "line-color": _match(["get", "class"], {k: v[0] for k, v in roads.items()}, "#c8c8c8"),
            "line-width": _match(["get", "class"], {k: v[1] * 1.4 for k, v in roads.items()}, 0.6)}}]
    if geometry == "Point":
        colour = "#d7191c" if "plan" in layer else "#2b6cb0"
        return [{"type": "circle", "paint": {"circle-color": colour, "circle-radius": 4,
                                             "circle-stroke-color": "#ffffff", "circle-stroke-width": 1}}]
    if geometry == "LineString":
        return [{"type": "line", "paint": {"line-color": "#8e44ad", "line-width": 2}}]
    return [{"type": "fill", "paint": {"fill-color": "#7f8c8d", "fill-opacity": 0.3}},
            {"type": "line", "paint": {"line-color": "#555555", "line-width": 0.8}}]


def county_catalogue(ws, scenario: str | None, lang: str) -> list[dict]:
    """The spatial layers of the base and of ``scenario``, each with what the map needs."""
    kinds = geometry_types(ws)
    revs = ws.revisions(None)
    out = []
    for scn in [None] + ([scenario] if scenario else []):
        for layer in ws.layers(scn):
            table = scenario_layer(layer, scn)
            geometry = kinds.get(table)
            if geometry is None:
                continue
            zones = None
            if layer in ("zone", "village_zone"):
                zones = sorted(str(z) for z in ws.read(layer, scn, columns=["zone"])["zone"])
            out.append({"layer": layer, "scenario": scn or "base", "name": layer_name(layer, lang),
                        "group": group_of(layer), "geometry": geometry, "revision": int(revs.get(table, 0)),
                        "visible": layer in VISIBLE, "order": ORDER.get(layer, 5 if geometry == "Polygon" else 20),
                        "style": style(layer, geometry, zones)})
    return out
