"""OpenStreetMap roads (.osm.pbf, read with pyrosm) in the workspace road schema.

OSM ``highway`` values map to pianqu road classes through ``network/osm_highway.csv`` (OSM
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
from importlib import resources
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from pianqu.geo import STORAGE_EPSG

ROAD_COLUMNS = ["id", "class", "name", "lanes", "width_m", "speed_kmh", "oneway", "grade_separated",
                "osm_highway", "osm_id"]


class OSMError(ValueError):
    """An OSM file that cannot be read; the message names the file and what to do."""


@cache
def osm_highway_classes() -> pd.DataFrame:
    """OSM ``highway`` value → pianqu road class, with sureness and source."""
    with resources.files(__package__).joinpath("osm_highway.csv").open("rb") as fh:
        return pd.read_csv(fh, dtype=str, keep_default_na=False)


def _number(values: pd.Series, mph: bool = False) -> np.ndarray:
    text = values.astype("string").fillna("")
    num = pd.to_numeric(text.str.extract(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*(?:mph|km/h|kmh|m)?\s*$",
                                         flags=re.IGNORECASE)[0], errors="coerce").to_numpy(float)
    if mph:
        num = np.where(text.str.contains("mph", case=False).to_numpy(bool), num * 1.609344, num)
    return num


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
    table = osm_highway_classes().set_index("highway")["class"]
    hw = edges["highway"].astype("string").fillna("")
    cls = hw.map(table)
    edges = edges[cls.notna().to_numpy()].reset_index(drop=True)
    cls = cls[cls.notna()].reset_index(drop=True)
    hw = edges["highway"].astype(str)
    ow = edges["oneway"].astype("string").fillna("").str.lower() if "oneway" in edges else pd.Series("", index=edges.index)
    reverse = (ow == "-1").to_numpy(bool)
    oneway = ow.isin(["yes", "true", "1", "-1"]).to_numpy(bool) | hw.isin(["motorway", "motorway_link"]).to_numpy()
    oneway &= ~ow.isin(["no", "false", "0"]).to_numpy(bool)
    geom = edges.geometry.to_numpy()
    if reverse.any():
        geom[reverse] = shapely.reverse(geom[reverse])

    def col(name: str) -> pd.Series:
        return edges[name] if name in edges.columns else pd.Series(pd.NA, index=edges.index)

    flag = lambda s: s.astype("string").fillna("").str.lower()  # noqa: E731
    grade = (~flag(col("bridge")).isin(["", "no"]) | flag(col("tunnel")).isin(["yes", "culvert"])
             | ~flag(col("layer")).isin(["", "0"])).to_numpy(bool)
    wid = edges["id"].astype("int64").to_numpy()
    seq = pd.Series(wid).groupby(wid).cumcount().to_numpy()
    out = gpd.GeoDataFrame({
        "id": [f"osm{w}_{k}" for w, k in zip(wid, seq)],
        "class": cls.to_numpy(), "name": col("name").astype("string").fillna("").to_numpy(),
        "lanes": pd.array(np.floor(_number(col("lanes"))), dtype="Int64"),
        "width_m": _number(col("width")), "speed_kmh": _number(col("maxspeed"), mph=True),
        "oneway": oneway, "grade_separated": grade, "osm_highway": hw.to_numpy(), "osm_id": wid,
    }, geometry=gpd.GeoSeries(geom, crs=edges.crs or 4326))
    out.loc[~(out["speed_kmh"] > 0), "speed_kmh"] = np.nan
    return out.to_crs(STORAGE_EPSG)
