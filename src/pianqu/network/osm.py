"""OpenStreetMap roads (.osm.pbf, read with pyrosm) in the workspace road schema.

OSM ``highway`` values map to pianqu road classes through ``standards/osm_highway.csv``, the one
table of both OSM imports (this module and ``pianqu import`` of a .osm.pbf through GDAL, which
share :func:`osm_road_attributes`) (OSM
China tags routes by administrative level: trunk = 国道 G, primary = 省道 S, secondary = 县道 X,
tertiary = 乡道 Y, unclassified = 村道 C). Other values (footways, service roads, tracks) are
left out. Ways come split at their junction nodes. ``maxspeed``, ``lanes`` and ``width`` fill
``speed_kmh``, ``lanes`` and ``width_m`` where they are plain numbers; ``oneway=-1`` ways are
reversed; bridges, tunnels and ways on another ``layer`` are marked ``grade_separated`` so that
the graph never joins them at a crossing.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from pianqu.geo import STORAGE_EPSG
from pianqu.standards import table as standards_table

ROAD_COLUMNS = ["id", "class", "name", "lanes", "width_m", "speed_kmh", "oneway", "grade_separated",
                "osm_highway", "osm_id"]


class OSMError(ValueError):
    """An OSM file that cannot be read; the message names the file and what to do."""


@cache
def osm_highway_classes() -> pd.DataFrame:
    """OSM ``highway`` value → pianqu road class, with sureness and source."""
    return standards_table("osm_highway")


def _number(values: pd.Series, mph: bool = False) -> np.ndarray:
    text = values.astype("string").fillna("")
    num = pd.to_numeric(text.str.extract(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*(?:mph|km/h|kmh|m)?\s*$",
                                         flags=re.IGNORECASE)[0], errors="coerce").to_numpy(float)
    if mph:
        num = np.where(text.str.contains("mph", case=False).to_numpy(bool), num * 1.609344, num)
    return num


# OSM tags the road import reads (besides ``highway`` and ``name``).
CAR_ACCESS_KEYS = ("motorcar", "motor_vehicle", "vehicle", "access")  # most specific first
ROAD_TAGS = ("oneway", "maxspeed", "lanes", "width", "bridge", "tunnel", "layer", "area") + CAR_ACCESS_KEYS
_VALUE = r'"((?:[^"\\]|\\.)*)"'  # a quoted hstore value, backslash escapes allowed


def parse_other_tags(values: pd.Series, keys: tuple[str, ...] = ROAD_TAGS) -> pd.DataFrame:
    """The ``other_tags`` field of GDAL's OSM driver (``"k"=>"v","k2"=>"v2"``) as one column per
    key in ``keys`` (missing tags are <NA>), aligned with ``values``."""
    text = values.astype("string")
    out = {}
    for k in keys:
        got = text.str.extract(r'(?:^|,)"' + re.escape(k) + '"=>' + _VALUE, expand=False)
        out[k] = got.str.replace(r'\\(.)', r'\1', regex=True).astype("string")
    return pd.DataFrame(out, index=values.index)


def _tag(tags: pd.DataFrame, key: str) -> pd.Series:
    """The values of OSM tag ``key`` (all <NA> when no way has it)."""
    return (tags[key] if key in tags.columns else pd.Series(pd.NA, index=tags.index)).astype("string")


def closed_to_cars(tags: pd.DataFrame) -> np.ndarray:
    """Ways a car may not use: areas (``area=yes``) and ways whose most specific access tag
    (motorcar, motor_vehicle, vehicle, then access) says ``no`` or ``private``, also as one of
    several values — the rule of OSMnx's and pyrosm's "drive" network, so that both imports keep
    the same ways."""
    closed = np.zeros(len(tags), bool)
    decided = np.zeros(len(tags), bool)
    for k in CAR_ACCESS_KEYS:
        v = _tag(tags, k)
        has = v.notna().to_numpy(bool) & ~decided
        parts = v.fillna("").str.lower().str.split(";")
        shut = parts.map(lambda p: any(x.strip() in ("no", "private") for x in p)).to_numpy(bool)
        closed |= has & shut
        decided |= has
    return closed | (_tag(tags, "area").fillna("").str.lower() == "yes").to_numpy(bool)


def osm_road_attributes(highway: pd.Series, tags: pd.DataFrame) -> pd.DataFrame:
    """pianqu road attributes of OSM ways from their ``highway`` value and tags (columns named as
    the OSM keys in :data:`ROAD_TAGS`, any may be missing). The one rule set of both OSM imports
    (:func:`read_osm_roads` and ``pianqu import`` of a .osm.pbf).

    Columns: ``class`` (from ``osm_highway.csv``; <NA> for values that are not roads a planner's
    network uses), ``keep`` (mapped and open to cars), ``speed_kmh`` (``maxspeed`` when a plain
    number, mph converted), ``oneway`` (``oneway=yes/true/1/-1``, motorways unless ``oneway=no``),
    ``reverse`` (``oneway=-1``: the geometry runs against the traffic), ``grade_separated``
    (bridges, tunnels, ways on another ``layer``), ``lanes``, ``width_m``.
    """
    highway = highway.astype("string").fillna("")
    tag = lambda k: _tag(tags, k)  # noqa: E731

    table = osm_highway_classes().set_index("highway")["class"]
    cls = highway.map(table).astype("string")
    flag = lambda s: s.astype("string").fillna("").str.lower()  # noqa: E731
    ow = flag(tag("oneway"))
    reverse = (ow == "-1").to_numpy(bool)
    oneway = ow.isin(["yes", "true", "1", "-1"]).to_numpy(bool) | highway.isin(["motorway", "motorway_link"]).to_numpy()
    oneway &= ~ow.isin(["no", "false", "0"]).to_numpy(bool)
    grade = (~flag(tag("bridge")).isin(["", "no"]) | flag(tag("tunnel")).isin(["yes", "culvert"])
             | ~flag(tag("layer")).isin(["", "0"])).to_numpy(bool)
    speed = _number(tag("maxspeed"), mph=True)
    speed = np.where(speed > 0, speed, np.nan)
    return pd.DataFrame({
        "class": cls, "keep": cls.notna().to_numpy(bool) & ~closed_to_cars(tags), "speed_kmh": speed,
        "oneway": oneway, "reverse": reverse, "grade_separated": grade,
        "lanes": pd.array(np.floor(_number(tag("lanes"))), dtype="Int64"), "width_m": _number(tag("width")),
    }, index=highway.index)


def empty_roads() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({c: pd.Series([], dtype=object) for c in ROAD_COLUMNS},
                            geometry=gpd.GeoSeries([], crs=STORAGE_EPSG))


def read_osm_roads(pbf_path: str | Path, bbox: tuple[float, float, float, float] | None = None) -> gpd.GeoDataFrame:
    """Roads of an OSM PBF extract (optionally clipped to ``bbox`` = lon_min, lat_min, lon_max,
    lat_max) as a road layer in EPSG:4490: id, class, name, lanes, width_m, speed_kmh, oneway,
    grade_separated, osm_highway, osm_id."""
    path = Path(pbf_path)
    if not path.exists():
        raise OSMError(f"{path}: no such file; give the path of an OpenStreetMap .osm.pbf extract")
    try:
        from pyrosm import OSM
    except ImportError as exc:  # pragma: no cover - pyrosm is a test/bench dependency
        raise OSMError("reading OpenStreetMap needs the 'pyrosm' package (pip install pyrosm)") from exc
    try:
        osm = OSM(str(path), bounding_box=list(bbox) if bbox is not None else None)
        got = osm.get_network(network_type="driving", nodes=True, extra_attributes=["layer"])
    except Exception as exc:
        raise OSMError(f"{path}: not a readable OpenStreetMap PBF file ({exc})") from exc
    if got is None or got[1] is None or len(got[1]) == 0:
        return empty_roads()
    edges = got[1]
    att = osm_road_attributes(edges["highway"], edges)
    keep = att["keep"].to_numpy(bool)
    edges, att = edges[keep].reset_index(drop=True), att[keep].reset_index(drop=True)
    geom = edges.geometry.to_numpy().copy()
    reverse = att["reverse"].to_numpy(bool)
    if reverse.any():
        geom[reverse] = shapely.reverse(geom[reverse])
    wid = edges["id"].astype("int64").to_numpy()
    seq = pd.Series(wid).groupby(wid).cumcount().to_numpy()
    out = gpd.GeoDataFrame({
        "id": [f"osm{w}_{k}" for w, k in zip(wid, seq)],
        "class": att["class"].to_numpy(), "name": _tag(edges, "name").fillna("").to_numpy(),
        "lanes": att["lanes"].array, "width_m": att["width_m"].to_numpy(), "speed_kmh": att["speed_kmh"].to_numpy(),
        "oneway": att["oneway"].to_numpy(), "grade_separated": att["grade_separated"].to_numpy(),
        "osm_highway": edges["highway"].astype(str).to_numpy(), "osm_id": wid,
    }, geometry=gpd.GeoSeries(geom, crs=edges.crs or 4326))
    return out.to_crs(STORAGE_EPSG)
