"""Facilities from a table without coordinates, placed at the seat of their village or township.

Planners' facility lists (学校、卫生院、村卫生室…) often name the village (村代码) or the township
but carry no coordinates. Each such row is placed at its village's seat: the workspace's
settlement layer when it has one (``village_seat``), else the seat derived from the parcels
(:func:`pianqu.derive.settlements.settlements_from_parcels`, ``derived_village_seat``), else a
point inside the village polygon (``village_polygon``); rows with only a township code go to the
town seat likewise. Rows with coordinates keep them (``coordinates``); rows whose codes match no
unit stay without geometry (``unplaced``). The ``location_method`` column says which.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from pianqu.config import Config
from pianqu.geo import STORAGE_EPSG, compute_epsg as guess_compute_epsg

LOCATION_METHODS = ("coordinates", "village_seat", "derived_village_seat", "village_polygon", "town_seat",
                    "derived_town_seat", "township_polygon", "unplaced")


def _codes(frame: pd.DataFrame, col: str) -> pd.Series:
    if col not in frame.columns:
        return pd.Series(pd.NA, index=frame.index, dtype="string")
    return frame[col].astype("string").str.strip().replace("", pd.NA)


def place_facilities(table: pd.DataFrame, *, villages: gpd.GeoDataFrame, townships: gpd.GeoDataFrame | None = None,
                     settlements: gpd.GeoDataFrame | None = None, landuse: gpd.GeoDataFrame | None = None,
                     compute_epsg: int | None = None, config: Config | None = None) -> gpd.GeoDataFrame:
    """``table`` (a DataFrame, or a GeoDataFrame whose rows may lack geometry) as facility points
    in EPSG:4490 with ``location_method`` (see the module doc); ``township_code`` filled from the
    village code where missing."""
    n = len(table)
    geom = np.full(n, None, dtype=object)
    method = np.full(n, "unplaced", dtype=object)
    if isinstance(table, gpd.GeoDataFrame) and table.geometry.name in table.columns:
        g = table.geometry.to_crs(STORAGE_EPSG) if table.crs is not None else table.geometry
        has = (g.notna() & ~g.is_empty).to_numpy()
        if has.any():
            xy = shapely.get_coordinates(g.to_numpy()[has])
            ok = np.isfinite(xy).all(axis=1)
            idx = np.flatnonzero(has)[ok]
            geom[idx] = g.to_numpy()[idx]
            method[idx] = "coordinates"
        data = pd.DataFrame(table.drop(columns=table.geometry.name))
    else:
        data = pd.DataFrame(table).copy()
    data = data.reset_index(drop=True)
    vcode = _codes(data, "village_code")
    tcode = _codes(data, "township_code")
    vl = villages.to_crs(STORAGE_EPSG)
    v_town = dict(zip(vl["code"].astype(str), vl["township_code"].astype(str)))
    tcode = tcode.fillna(vcode.map(v_town, na_action="ignore").astype("string"))
    data["township_code"] = tcode
    if "village_code" in data.columns or vcode.notna().any():
        data["village_code"] = vcode

    need = method == "unplaced"
    if need.any():
        seats, derived = _seats(settlements, landuse, vl, townships, compute_epsg, config,
                                bool((need & vcode.notna().to_numpy()).any() or (need & tcode.notna().to_numpy()).any()))
        vseat = _seat_map(seats, "village_seat", "village_code")
        tseat = _seat_map(seats, "town_seat", "township_code")
        vpoly = dict(zip(vl["code"].astype(str), shapely.point_on_surface(vl.geometry.to_numpy())))
        tpoly = {}
        if townships is not None:
            tw = townships.to_crs(STORAGE_EPSG)
            tpoly = dict(zip(tw["code"].astype(str), shapely.point_on_surface(tw.geometry.to_numpy())))
        prefix = "derived_" if derived else ""
        for i in np.flatnonzero(need):
            v, t = vcode.iat[i], tcode.iat[i]
            if pd.notna(v) and v in vseat:
                geom[i], method[i] = vseat[v], prefix + "village_seat"
            elif pd.notna(v) and v in vpoly:
                geom[i], method[i] = vpoly[v], "village_polygon"
            elif pd.notna(t) and t in tseat:
                geom[i], method[i] = tseat[t], prefix + "town_seat"
            elif pd.notna(t) and t in tpoly:
                geom[i], method[i] = tpoly[t], "township_polygon"
    data["location_method"] = pd.array(method, dtype="string")
    return gpd.GeoDataFrame(data, geometry=list(geom), crs=STORAGE_EPSG)


def _seats(settlements, landuse, villages, townships, compute_epsg, config, wanted: bool
           ) -> tuple[gpd.GeoDataFrame | None, bool]:
    """The settlement layer if given, else seats derived from the parcels (True), else None."""
    if settlements is not None and len(settlements):
        return settlements.to_crs(STORAGE_EPSG), False
    if not wanted or landuse is None or townships is None or len(landuse) == 0:
        return None, False
    from pianqu.derive.settlements import settlements_from_parcels

    epsg = compute_epsg or guess_compute_epsg(villages)
    return settlements_from_parcels(landuse, townships, villages, config=config, compute_epsg=epsg), True


def _seat_map(seats: gpd.GeoDataFrame | None, level: str, key: str) -> dict[str, shapely.Point]:
    if seats is None or key not in seats.columns:
        return {}
    s = seats[seats["level"].astype(str) == level].dropna(subset=[key]).drop_duplicates(key)
    return dict(zip(s[key].astype(str), s.geometry.to_numpy()))
