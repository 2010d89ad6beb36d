"""Three spaces partition every zone; areas agree with an independent geopandas computation."""

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

import land_fixtures as F
from pianqu.geo import ellipsoidal_area
from pianqu.land.spaces import space_of_codes, three_spaces


def test_space_of_codes_longest_prefix():
    got = space_of_codes(["0101", "0402", "0401", "1704", "1701", "2302", "2307", "0703", "", "99"])
    assert list(got) == ["agricultural", "agricultural", "ecological", "agricultural", "ecological", "agricultural",
                         "ecological", "construction", "unclassified", "unclassified"]


def test_partition_without_gaps_or_overlaps(county, zones, lines):
    r = three_spaces(county["landuse"], lines, zones, epsg=F.EPSG)
    assert r.findings == []
    for z, g in r.pieces.groupby("zone"):
        zone_area = ellipsoidal_area([zones.set_index("zone").geometry[z]], F.EPSG)[0]  # areas are ellipsoidal
        assert g["area_m2"].sum() == pytest.approx(zone_area, rel=1e-9)  # no gap (with no overlap)
        assert ellipsoidal_area([shapely.union_all(g.geometry.to_numpy())], F.EPSG)[0] == pytest.approx(zone_area, rel=1e-9)  # no overlap
    t = r.table
    assert np.allclose(t["difference_m2"], 0.0, atol=1e-6 * t["zone_area_m2"].max())
    assert set(r.pieces["space"]) == {"agricultural", "ecological", "construction"}
    d = r.dissolved()
    assert d.crs.to_epsg() == 4490 and d.is_valid.all() and len(d) == 9


def test_areas_against_geopandas(county, zones, lines):
    """Ecological space = zone ∩ red line + ecological-class land outside all three lines (geopandas)."""
    r = three_spaces(county["landuse"], lines, zones, epsg=F.EPSG)
    gk = {k: county[f"gk:{k}"] for k in ("farmland_pbf", "eco_redline", "urban_boundary", "landuse")}
    red = gpd.GeoDataFrame(geometry=[gk["eco_redline"].union_all()], crs=F.EPSG)
    pbf = gpd.GeoDataFrame(geometry=[gk["farmland_pbf"].union_all().difference(red.geometry[0])], crs=F.EPSG)
    udb = gpd.GeoDataFrame(geometry=[gk["urban_boundary"].union_all().difference(red.geometry[0])
                                     .difference(gk["farmland_pbf"].union_all())], crs=F.EPSG)
    lines_all = red.geometry[0].union(pbf.geometry[0]).union(udb.geometry[0])
    parcels = gk["landuse"][["code", "geometry"]]
    outside = gpd.overlay(parcels, gpd.GeoDataFrame(geometry=[lines_all], crs=F.EPSG), how="difference", keep_geom_type=True)
    outside = gpd.overlay(outside, zones, how="intersection", keep_geom_type=True)
    outside["space"] = space_of_codes(outside["code"])
    ref = outside.assign(a=outside.area).groupby(["zone", "space"])["a"].sum().unstack(fill_value=0.0)
    for mask, space in ((red, "ecological"), (pbf, "agricultural"), (udb, "construction")):
        inter = gpd.overlay(zones, mask, how="intersection", keep_geom_type=True)
        add = pd.Series(inter.area.to_numpy(), index=inter["zone"]).groupby(level=0).sum()
        ref[space] = ref[space].add(add, fill_value=0.0)
    for space in ("agricultural", "ecological", "construction"):
        assert np.allclose(r.table[f"{space}_m2"].reindex(ref.index), ref[space], rtol=1e-6)


def test_missing_parcels_are_unclassified(county, zones, lines):
    lu = county["landuse"]
    lines_gk = shapely.union_all([county[f"gk:{k}"].union_all() for k in lines])
    vil = county["gk:village"].set_index("code").geometry
    # the village with most land outside the lines
    free = vil.area - vil.intersection(lines_gk).area
    code = free.idxmax()
    drop = lu["village_code"] == code
    dropped_area = county["gk:landuse"][drop.to_numpy()].area.sum()
    r = three_spaces(lu[~drop], lines, zones, epsg=F.EPSG)
    un = r.pieces[r.pieces["space"] == "unclassified"]
    hole = vil[code]
    expected = hole.area - hole.intersection(lines_gk).area  # the lines still classify their part
    assert expected > 0.5 * hole.area
    assert un["area_m2"].sum() == pytest.approx(expected, rel=1e-6)
    assert dropped_area == pytest.approx(hole.area, rel=1e-9)
    assert len(r.findings) == 1 and r.findings[0].rule == "land.spaces.unclassified"
    assert "公顷" in r.findings[0].message("zh")
    for z, g in r.pieces.groupby("zone"):  # still a partition
        assert g["area_m2"].sum() == pytest.approx(ellipsoidal_area([zones.set_index("zone").geometry[z]], F.EPSG)[0], rel=1e-9)


def test_without_lines_spaces_follow_land_use(county, zones):
    r = three_spaces(county["landuse"], {}, zones, epsg=F.EPSG)
    assert set(r.pieces["source"]) == {"landuse"}
    lu = county["gk:landuse"]
    ref = pd.Series(ellipsoidal_area(lu.geometry.to_numpy(), F.EPSG), index=space_of_codes(lu["code"])).groupby(level=0).sum()
    got = r.pieces.groupby("space")["area_m2"].sum()
    assert np.allclose(got.reindex(ref.index), ref, rtol=1e-9)


def test_overlapping_line_features_count_once(county, zones, lines):
    base = three_spaces(county["landuse"], lines, zones, epsg=F.EPSG).table
    dup = dict(lines)
    extra = lines["eco_redline"].iloc[:1].copy()
    extra["id"] = "HX-1-copy"
    dup["eco_redline"] = pd.concat([lines["eco_redline"], extra], ignore_index=True)
    again = three_spaces(county["landuse"], dup, zones, epsg=F.EPSG).table
    assert np.allclose(again.to_numpy(), base.to_numpy(), rtol=1e-9, atol=1e-6)
