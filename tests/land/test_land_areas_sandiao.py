"""三调 area conventions in the land engine: ellipsoidal overlay pieces, 耕地 by TBDLMJ, 田坎 by KCMJ.

Independent answers: pyproj.Geod (geodesic area on GRS80) for the pieces, and the parcels' own
TBDLMJ/KCMJ columns summed with pandas for the tables.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import Geod

import land_fixtures
from pianqu.geo import STORAGE_EPSG, ellipsoidal_area
from pianqu.land.overlay import intersect
from pianqu.land.conflicts import detect_conflicts
from pianqu.land.quota import unit_capacities
from pianqu.land.stats import base_vs_plan, landuse_by_unit
from pianqu.report.tables import landuse_structure, township_stats
from pianqu.synth.county import with_deductions

GEOD = Geod(ellps="GRS80")
EPSG = 4544  # CGCS2000 3° GK, CM 105°E


def _geod(g) -> float:
    return abs(GEOD.geometry_area_perimeter(g)[0])


def _parcel(lon=106.40, lat=30.50) -> shapely.Polygon:
    """A ~32 ha farmland parcel 1.4° east of the zone's central meridian (GK scale error ~2.5e-4)."""
    t = np.linspace(0, 2 * np.pi, 40, endpoint=False)
    r = 0.0032 * (1 + 0.15 * np.sin(3 * t))
    return shapely.Polygon(np.c_[lon + r * np.cos(t), lat + 0.9 * r * np.sin(t)])


@pytest.mark.parametrize("recorded", [False, True])
def test_whole_parcel_overlap_reports_its_tbmj(recorded):
    p = _parcel()
    tbmj = round(_geod(p), 2)
    pbf = gpd.GeoDataFrame({"id": ["YJJBNT1"], "area_m2": [tbmj if recorded else np.nan]}, geometry=[p],
                           crs=STORAGE_EPSG)
    red = gpd.GeoDataFrame({"id": ["HX1"], "core_zone": [False]}, geometry=[p.buffer(0.01)], crs=STORAGE_EPSG)
    cf = detect_conflicts({"farmland_pbf": pbf, "eco_redline": red}, epsg=EPSG)
    assert len(cf) == 1
    assert cf["area_m2"].iloc[0] == pytest.approx(tbmj, abs=0.01)
    # what a planar overlay in the GK zone says instead (issue 11, defect 9)
    planar = gpd.GeoSeries([p], crs=STORAGE_EPSG).to_crs(EPSG).area.iloc[0]
    assert abs(planar - tbmj) > 10.0


def test_pieces_are_ellipsoidal_and_add_up_to_the_tbmj():
    p = _parcel()
    gk = gpd.GeoSeries([p], crs=STORAGE_EPSG).to_crs(EPSG)
    x0, y0, x1, y1 = gk.total_bounds
    halves = [shapely.box(x0 - 10, y0 - 10, (x0 + x1) / 2, y1 + 10), shapely.box((x0 + x1) / 2, y0 - 10, x1 + 10, y1 + 10)]
    ov = intersect(gk.to_numpy(), np.array(halves, dtype=object), crs=EPSG)
    assert len(ov) == 2
    # each piece: the geodesic area of its vertices (Geod), not its planar GK area
    truth = [_geod(shapely.transform(g, lambda xy: np.c_[gpd.GeoSeries(gpd.points_from_xy(*xy.T), crs=EPSG)
                                                        .to_crs(STORAGE_EPSG).get_coordinates().to_numpy()]))
             for g in ov.geometry]
    assert ov.area == pytest.approx(truth, rel=1e-9)
    assert ov.area.sum() == pytest.approx(_geod(p), rel=1e-9)
    tbmj = round(_geod(p), 2) + 0.004  # a recorded TBMJ: the pieces are scaled to it (面积平差)
    ov2 = intersect(gk.to_numpy(), np.array(halves, dtype=object), crs=EPSG, left_area=[tbmj])
    assert ov2.area.sum() == pytest.approx(tbmj, abs=1e-4)


@pytest.fixture(scope="module")
def parcels():
    """The land fixture county's parcels (EPSG:4490) with TBMJ and the 三调 扣除 fields."""
    lu = land_fixtures.county()["landuse"].copy()
    lu["area_m2"] = np.round(ellipsoidal_area(lu), 2)
    lu = with_deductions(lu)
    assert (lu["kcmj"] > 0).sum() > 100  # the fixture's farmland has 田坎
    return lu


def _farm(lu):
    return lu["code"].astype(str).str[:2] == "01"


def test_land_tables_count_farmland_by_tbdlmj_and_tiankan_by_kcmj(parcels, zones):
    farm_tbdlmj = float(parcels.loc[_farm(parcels), "tbdlmj"].sum())
    kcmj = float(parcels["kcmj"].sum())
    tbl = landuse_by_unit(parcels, zones, unit="m2", epsg=EPSG)
    total = tbl.iloc[-1]
    assert total["01 耕地"] == pytest.approx(farm_tbdlmj, abs=0.005)
    assert total["23 其他土地"] == pytest.approx(kcmj, abs=0.005)
    assert total.iloc[-1] == pytest.approx(parcels["area_m2"].sum(), abs=0.01)  # everything still adds up
    lv2 = landuse_by_unit(parcels, zones, unit="m2", level=2, epsg=EPSG).iloc[-1]
    assert lv2["2303 田坎"] == pytest.approx(kcmj, abs=0.005)
    bp = base_vs_plan(parcels, parcels, unit="m2", epsg=EPSG)
    assert bp.loc["01 耕地", "base_m2"] == pytest.approx(farm_tbdlmj, abs=0.005)
    assert bp.loc["23 其他土地", "plan_m2"] == pytest.approx(kcmj, abs=0.005)


def test_quota_farmland_base_is_the_tbdlmj(parcels, zones):
    cap = unit_capacities(parcels, zones.rename(columns={"zone": "unit"}), epsg=EPSG)
    assert cap["farmland_m2"].sum() == pytest.approx(parcels.loc[_farm(parcels), "tbdlmj"].sum(), abs=0.005)


def test_report_tables_count_farmland_by_tbdlmj(parcels):
    st = landuse_structure(parcels, lang="zh").set_index("code")
    assert st.loc["01", "area_ha"] * 1e4 == pytest.approx(parcels.loc[_farm(parcels), "tbdlmj"].sum(), abs=0.005)
    assert st.loc["23", "area_ha"] * 1e4 == pytest.approx(parcels["kcmj"].sum(), abs=0.005)
    tw = land_fixtures.county()["township"]
    ts = township_stats(townships=tw, landuse=parcels)
    assert ts["l1_01"].sum() * 1e4 == pytest.approx(parcels.loc[_farm(parcels), "tbdlmj"].sum(), abs=0.005)
    assert ts["l1_23"].sum() * 1e4 == pytest.approx(parcels["kcmj"].sum(), abs=0.005)


def test_without_deduction_fields_farmland_is_whole_parcels(parcels, zones):
    plain = parcels.drop(columns=["kcxs", "kcmj", "tbdlmj"])
    total = landuse_by_unit(plain, zones, unit="m2", epsg=EPSG).iloc[-1]
    assert total["01 耕地"] == pytest.approx(plain.loc[_farm(plain), "area_m2"].sum(), abs=0.005)
    assert "23 其他土地" not in total.index
