"""The three spaces (三区): agricultural, ecological and construction space, partitioning every zone.

Land inside a control line takes the line's space (``standards/space_lines.csv``: the red line is
ecological, permanent basic farmland agricultural, the urban development boundary construction;
where lines still overlap, the lower precedence number wins). The rest takes the space of its
land-use class (``standards/space_classes.csv``, longest code prefix wins). Zone land that no parcel
covers is ``unclassified`` (and reported), so the pieces always tile each zone: no gaps, no
overlaps, areas adding up to the zone.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Mapping

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from pianqu.config import Config
from pianqu.findings import Finding
from pianqu.geo import ellipsoidal_area
from pianqu.land.common import area_columns, config_of, epsg_for, polygons, recorded_area, require
from pianqu.land.overlay import _polygonal, clip_union, intersect, to_storage, union
from pianqu.standards import table as standards_table

SPACES = ("agricultural", "ecological", "construction")
UNCLASSIFIED = "unclassified"


def space_classes() -> pd.DataFrame:
    """Code prefix → space, with sureness and source."""
    return standards_table("space_classes")


def space_lines() -> pd.DataFrame:
    """Control-line layer → space and precedence."""
    t = standards_table("space_lines")
    t["precedence"] = t["precedence"].astype(int)
    return t.sort_values("precedence").reset_index(drop=True)


@cache
def _prefix_map() -> tuple[tuple[str, str], ...]:
    t = space_classes()
    return tuple(sorted(zip(t["prefix"], t["space"]), key=lambda kv: -len(kv[0])))


def space_of_codes(codes) -> np.ndarray:
    """The space of each 用地用海 code by the longest matching prefix ('unclassified' if none)."""
    s = pd.Series(codes, dtype="string").fillna("").str.strip()
    out = np.full(len(s), UNCLASSIFIED, dtype=object)
    done = np.zeros(len(s), dtype=bool)
    for prefix, space in _prefix_map():
        hit = ~done & s.str.startswith(prefix).to_numpy() & (s.str.len().to_numpy() > 0)
        out[hit] = space
        done |= hit
    return out


@dataclass
class SpacesResult:
    """``pieces``: one row per piece (zone, bsm, code, space, source, areas; GK geometry);
    ``table``: area by zone × space in m², ha and 亩 with the zone's own area;
    ``findings``: unclassified land, zones whose pieces do not add up."""

    pieces: gpd.GeoDataFrame
    table: pd.DataFrame
    findings: list[Finding]
    epsg: int

    def dissolved(self, storage: bool = True) -> gpd.GeoDataFrame:
        """One (multi)polygon per zone and space, for maps (EPSG:4490 unless ``storage`` is False).

        A union per zone and space: seconds for a county of 250 000 parcels; analyses (siting)
        take the pieces as they are. For storage the pieces are reprojected first (each small
        piece repaired if the reprojection made it just invalid) and unioned in EPSG:4490, so the
        union is valid as it is: reprojecting a county-size union afterwards needed a repair
        (buffer(0), make_valid) of the whole multipolygon, several times the union's own cost."""
        pieces = to_storage(self.pieces) if storage else self.pieces
        keys = pieces["zone"].astype(str) + "\x1f" + pieces["space"].astype(str)
        rows = []
        for key, g in pieces.groupby(keys, sort=True):
            zone, space = key.split("\x1f")
            rows.append({"zone": zone, "space": space, "area_m2": g["area_m2"].sum(),
                         "geometry": union(g.geometry.to_numpy())})
        out = gpd.GeoDataFrame(rows, geometry="geometry", crs=pieces.crs)
        for k, v in area_columns(out["area_m2"]).items():
            out[k] = v
        return out


def line_layers(lines: Mapping[str, gpd.GeoDataFrame | None], epsg: int) -> list[tuple[str, str, np.ndarray]]:
    """(layer, space, features in the GK zone) of the given control lines, in precedence order."""
    out = []
    for r in space_lines().itertuples(index=False):
        frame = lines.get(r.layer)
        if frame is None or len(frame) == 0:
            continue
        out.append((r.layer, r.space, polygons(frame, r.layer, epsg).geometry.to_numpy()))
    return out


def three_spaces(landuse: gpd.GeoDataFrame, lines: Mapping[str, gpd.GeoDataFrame | None],
                 zones: gpd.GeoDataFrame, *, epsg: int | None = None, cfg: Config | None = None) -> SpacesResult:
    """Partition every zone into agricultural / ecological / construction space (三区).

    Each parcel (cut to its zone) gives up the part inside the first line, then the part inside
    the second line of what is left, and so on; the remainder takes the space of its class.
    Areas are ellipsoidal (CGCS2000) and a parcel's pieces add up to its TBMJ (``area_m2``).

    Parameters
    ----------
    landuse : geopandas.GeoDataFrame
        Parcels with ``bsm`` and ``code`` (用地用海).
    lines : mapping of str to GeoDataFrame or None
        ``eco_redline``, ``farmland_pbf``, ``urban_boundary`` (any may be missing).
    zones : geopandas.GeoDataFrame
        Polygons with a ``zone`` column (e.g. the ``zone`` layer of a plan scenario).
    epsg : int, optional
        The GK zone to cut in (default from the data).
    cfg : pianqu.config.Config, optional
        Thresholds in force (default the shipped ones).

    Returns
    -------
    SpacesResult
        ``pieces`` (one row per piece: zone, bsm, code, space, source, areas), ``table`` (area by
        zone × space in m², ha and 亩 with the zone's own area), ``findings``; ``dissolved()``
        gives one polygon per zone and space for maps.
    """
    cfg = config_of(cfg)
    epsg = epsg_for(epsg, landuse, zones)
    require(landuse, "landuse", ["bsm", "code"])
    require(zones, "zone", ["zone"])
    lu = polygons(landuse, "landuse", epsg, "bsm")
    zn = polygons(zones, "zone", epsg)
    zone_lab = zn["zone"].astype(str).to_numpy()
    ov = intersect(lu.geometry.to_numpy(), zn.geometry.to_numpy(), crs=epsg, left_area=recorded_area(lu))
    geoms = ov.geometry
    garea = ov.area
    zone = zone_lab[ov.right]
    bsm = lu["bsm"].astype(str).to_numpy()[ov.left]
    code = lu["code"].astype(str).to_numpy()[ov.left]
    # zone land no parcel covers
    tol = float(cfg["validate.gap_tolerance_m2"])
    zarea = ellipsoidal_area(zn.geometry.to_numpy(), epsg)
    covered = np.bincount(ov.right, weights=ov.area, minlength=len(zn))
    gaps_g, gaps_z = [], []
    for k in np.flatnonzero(zarea - covered > tol):
        gap = shapely.difference(zn.geometry.iloc[k], union(geoms[ov.right == k]))
        for part in shapely.get_parts(gap):
            if shapely.area(part) > 0:
                gaps_g.append(part)
                gaps_z.append(zone_lab[k])
    if gaps_g:
        garea = np.concatenate([garea, ellipsoidal_area(np.array(gaps_g, dtype=object), epsg)])
        geoms = np.concatenate([geoms, np.array(gaps_g, dtype=object)])
        zone = np.concatenate([zone, gaps_z])
        bsm = np.concatenate([bsm, [""] * len(gaps_g)])
        code = np.concatenate([code, [""] * len(gaps_g)])
    parts = []
    cur = geoms.copy()
    cur_area = garea.copy()  # what is left of each piece's area (its share of the parcel's TBMJ)
    for layer, space, feats in line_layers(lines, epsg):
        live = np.flatnonzero(~shapely.is_empty(cur))
        part, area, whole = clip_union(cur[live], feats, crs=epsg, left_area=cur_area[live])
        area = np.minimum(area, cur_area[live])
        hit = area > 0
        k = live[hit]
        parts.append(pd.DataFrame({"zone": zone[k], "bsm": bsm[k], "code": code[k], "space": space, "source": layer,
                                   "geometry": part[hit], "area_m2": area[hit]}))
        partial = hit & ~whole
        cur[live[whole]] = shapely.Polygon()
        cur_area[live[hit]] -= area[hit]
        cur_area[live[whole]] = 0.0
        if partial.any():
            cur[live[partial]] = _polygonal(shapely.difference(cur[live[partial]], part[partial]))
    rest_area = np.where(shapely.is_empty(cur), 0.0, np.maximum(cur_area, 0.0))
    keep = (rest_area > 0) & (shapely.area(cur) > 0)
    parts.append(pd.DataFrame({"zone": zone[keep], "bsm": bsm[keep], "code": code[keep],
                               "space": space_of_codes(code[keep]), "source": "landuse",
                               "geometry": cur[keep], "area_m2": rest_area[keep]}))
    df = pd.concat(parts, ignore_index=True)
    gap = (df["bsm"] == "") & (df["space"] == UNCLASSIFIED)
    df.loc[gap, "source"] = "gap"
    pieces = gpd.GeoDataFrame(df, geometry="geometry", crs=epsg)
    for k, v in area_columns(pieces["area_m2"]).items():
        pieces[k] = v
    table = spaces_table(pieces, pd.Series(zarea, index=zone_lab))
    findings = []
    un = table[table["unclassified_m2"] > tol] if "unclassified_m2" in table.columns else table.iloc[0:0]
    for z, row in un.iterrows():
        findings.append(Finding("warning", "land.spaces.unclassified", "landuse", str(z), "",
                                {"zone": z, "area_ha": row["unclassified_m2"] / 1e4}))
    return SpacesResult(pieces, table, findings, epsg)


def spaces_table(pieces: pd.DataFrame, zone_area: pd.Series | None = None) -> pd.DataFrame:
    """Area (m²) by zone × space, with the sum, the zone's area and their difference."""
    t = pieces.pivot_table(index="zone", columns="space", values="area_m2", aggfunc="sum", fill_value=0.0)
    cols = [s for s in (*SPACES, UNCLASSIFIED) if s in t.columns or s in SPACES]
    t = t.reindex(columns=cols, fill_value=0.0)
    t.columns = [f"{c}_m2" for c in t.columns]
    t["total_m2"] = t.sum(axis=1)
    if zone_area is not None:
        t["zone_area_m2"] = zone_area.groupby(level=0).sum().reindex(t.index)
        t["difference_m2"] = t["total_m2"] - t["zone_area_m2"]
    t.index.name = "zone"
    return t
