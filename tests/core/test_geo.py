"""CRS rules: GK zone from longitude, ellipsoidal areas, guessing a zone from coordinates."""

import geopandas as gpd
import numpy as np
import pytest
import shapely
from pyproj import Geod

from pianqu import geo


@pytest.mark.parametrize("lon, epsg", [(102.0, 4543), (103.4, 4543), (105.0, 4544), (107.25, 4545), (108.0, 4545)])
def test_gk3_zone(lon, epsg):
    assert geo.gk3_epsg(lon) == epsg


def test_gk3_outside_china():
    with pytest.raises(ValueError) as e:
        geo.gk3_epsg(10.0)
    assert "outside" in e.value.message("en") and "不在" in e.value.message("zh")


def test_ellipsoidal_area_matches_geodesic_area():
    polys = [shapely.box(107.0, 31.0, 107.01, 31.01), shapely.Polygon(
        [(107.2, 31.9), (107.25, 31.91), (107.23, 31.95), (107.19, 31.94)])]
    gdf = gpd.GeoDataFrame(geometry=polys, crs=4490)
    ours = geo.ellipsoidal_area(gdf)
    g = Geod(ellps="GRS80")
    ref = np.array([abs(g.geometry_area_perimeter(p)[0]) for p in polys])
    np.testing.assert_allclose(ours, ref, rtol=1e-6)


def test_gk_area_differs_from_ellipsoidal_far_from_cm():
    # 1.4° east of the central meridian the GK scale error is ~5e-4: why areas are ellipsoidal
    gdf = gpd.GeoDataFrame(geometry=[shapely.box(109.4, 31.0, 109.41, 31.01)], crs=4490)
    gk = gdf.to_crs(4545).area.iloc[0]
    ell = geo.ellipsoidal_area(gdf)[0]
    assert abs(gk / ell - 1) > 1e-4


def test_guess_zone_from_prefixed_eastings():
    assert geo.guess_gk_crs(np.array([36_500_000.0, 36_510_000.0]), np.array([3_500_000.0, 3_510_000.0])) == 4524
    assert geo.guess_gk_crs(np.array([500_000.0]), np.array([3_500_000.0])) is None
    assert geo.guess_gk_crs(np.array([107.2]), np.array([31.9])) is None
