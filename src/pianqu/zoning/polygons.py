"""Zone polygons with the zone's figures: the ``zone`` and ``village_zone`` layers of a plan.

The polygons come from the project's one zone-polygon builder, :func:`pianqu.geo.zone_polygons`
(it sits below the analyses so that the land and service analyses, which may not import
zoning, use the same one); this module adds what zoning knows of each zone.
"""

from __future__ import annotations

import geopandas as gpd
import pandas as pd

from pianqu.geo import zone_polygons

__all__ = ["zone_polygons", "zone_layer"]


def zone_layer(units: gpd.GeoDataFrame, assignment: pd.Series, zones: pd.DataFrame,
               names: pd.Series | None = None, *, code: str = "code") -> gpd.GeoDataFrame:
    """One polygon per zone (the union of its members) with the zone's figures.

    ``assignment``: unit code → centre code (units assigned ``''`` are left out); ``zones``: the
    per-zone table of a :class:`~pianqu.zoning.result.ZoningResult`; ``names``: unit code → name
    (default the units' ``name``). Columns: ``zone`` (the centre's code), the figures of
    ``zones``, ``centre_name`` and ``name`` ('<centre name>片区'); CRS of ``units``.
    """
    out = zone_polygons(units, assignment, code=code)
    z = zones.copy()
    key = "centre" if "centre" in z.columns else z.columns[0]
    z["zone"] = z[key].astype(str)
    out = out.merge(z, on="zone", how="left")
    if names is None:
        names = units.set_index(units[code].astype(str))["name"] if "name" in units.columns else pd.Series(dtype=str)
    out["centre_name"] = out["zone"].map(names)
    out["name"] = out["centre_name"].astype(str) + "片区"
    return gpd.GeoDataFrame(out, geometry="geometry", crs=units.crs)
