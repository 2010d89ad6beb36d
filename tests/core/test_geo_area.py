"""The one ellipsoidal area function (pianqu.geo.ellipsoidal_area) against pyproj.Geod.

Geod (GeographicLib, geodesic edges on GRS80 = CGCS2000) is the independent answer; both must
agree to 1e-9 relative on parcel-size (1–50 ha) and county-size (~1000–10000 km²) polygons, with
holes and multipolygons, given in EPSG:4490 or in several CGCS2000 3° GK zones.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from pyproj import CRS, Geod

from pianqu import geo

GEOD = Geod(ellps="GRS80")


def _blob(rng, lon, lat, r_deg, n, hole=False):
    """A star-shaped polygon of ``n`` vertices around (lon, lat), with a hole if asked."""
    t = np.linspace(0, 2 * np.pi, n, endpoint=False) + rng.uniform(0, 0.5 / n, n)
    r = r_deg * (0.7 + 0.3 * rng.uniform(size=n))
    shell = np.c_[lon + r * np.cos(t), lat + 0.9 * r * np.sin(t)]
    holes = []
    if hole:
        th = np.linspace(0, 2 * np.pi, 12, endpoint=False)[::-1]
        holes = [np.c_[lon + 0.3 * r_deg * np.cos(th), lat + 0.3 * r_deg * np.sin(th)]]
    return shapely.Polygon(shell, holes)


def _cases(r_deg, n_vertices, cms=(99, 102, 105, 108)):
    """Per GK zone's central meridian: polygons near it, some with holes, and a multipolygon."""
    rng = np.random.default_rng(int(r_deg * 1e6) + n_vertices)
    out = []
    for cm in cms:
        polys = [_blob(rng, cm + rng.uniform(-1.4, 1.4), rng.uniform(26.5, 33.5), r_deg * rng.uniform(0.5, 1.0),
                       n_vertices, hole=(k % 2 == 1)) for k in range(6)]
        far = shapely.affinity.translate(polys[2], 3 * r_deg, 0.5 * r_deg)
        polys.append(shapely.MultiPolygon([polys[0], far]))
        out.append((cm, polys))
    return out


def _geod(polys):
    return np.array([abs(GEOD.geometry_area_perimeter(p)[0]) for p in polys])


@pytest.mark.parametrize("r_deg,n_vertices", [
    (0.004, 12),   # parcels of ~10–40 ha
    (0.35, 1500),  # county-size (~1000–3500 km²), a detailed boundary
    (0.5, 16),     # county-size with edges of 10–30 km (followed along the geodesic)
])
def test_area_equals_geod_in_4490_and_gk_zones(r_deg, n_vertices):
    for cm, polys in _cases(r_deg, n_vertices):
        ref = _geod(polys)
        s = gpd.GeoSeries(polys, crs=geo.STORAGE_EPSG)
        ours = geo.ellipsoidal_area(s)
        assert np.max(np.abs(ours / ref - 1)) < 1e-9, (cm, ours, ref)
        epsg = geo.gk3_epsg(cm)  # the same polygons in the GK zone of their central meridian
        gk = s.to_crs(epsg)
        ours_gk = geo.ellipsoidal_area(gk.to_numpy(), crs=epsg)
        assert np.max(np.abs(ours_gk / ref - 1)) < 1e-9, (cm, epsg)
        assert np.max(np.abs(geo.ellipsoidal_area(gk) / ref - 1)) < 1e-9  # CRS taken from the series
        # the planar GK area is what pianqu no longer reports: off by the zone's scale error
        assert np.max(np.abs(gk.area.to_numpy() / ref - 1)) > 1e-6


def test_small_parcels_match_geod_and_proj_albers():
    """Parcels of ~1–5 ha: Geod's own rounding (up to ~5e-5 m², GeographicLib sums areas to the
    equator) is ~1e-9 of them, so they are also checked against PROJ's Albers equal-area
    projection centred on each (exact areas; 100-m straight edges ≈ geodesics to 1e-11)."""
    for cm, polys in _cases(0.0015, 6):
        ref = _geod(polys)
        ours = geo.ellipsoidal_area(np.array(polys, dtype=object))
        assert np.all(np.abs(ours - ref) <= 1e-9 * ref + 1e-4), cm
        for p, a in zip(polys, ours):
            planar = 0.0
            for part in shapely.get_parts(p):  # each part in an Albers projection around it
                x0, y0, x1, y1 = part.bounds
                aea = CRS.from_proj4(f"+proj=aea +lat_1={y0} +lat_2={y1} +lat_0={(y0 + y1) / 2} "
                                     f"+lon_0={(x0 + x1) / 2} +ellps=GRS80 +units=m")
                planar += gpd.GeoSeries([part], crs=geo.STORAGE_EPSG).to_crs(aea).area.iloc[0]
            assert a == pytest.approx(planar, rel=1e-10)


def test_holes_and_multipolygons_add_up():
    rng = np.random.default_rng(5)
    a = _blob(rng, 104.0, 30.5, 0.004, 20, hole=True)
    b = _blob(rng, 104.02, 30.5, 0.004, 20)
    shell = shapely.Polygon(a.exterior)
    hole = shapely.Polygon(a.interiors[0])
    got = geo.ellipsoidal_area(np.array([a, shell, hole, shapely.MultiPolygon([a, b]), b]))
    assert got[0] == pytest.approx(got[1] - got[2], rel=1e-12)
    assert got[3] == pytest.approx(got[0] + got[4], rel=1e-12)


def test_degenerate_inputs_have_zero_area():
    got = geo.ellipsoidal_area(np.array([None, shapely.Polygon(), shapely.LineString([(104, 30), (104.1, 30.1)]),
                                         shapely.Point(104, 30)], dtype=object))
    assert got.tolist() == [0.0, 0.0, 0.0, 0.0]
    assert len(geo.ellipsoidal_area(np.array([], dtype=object))) == 0
    coll = shapely.GeometryCollection([shapely.box(104, 30, 104.01, 30.01), shapely.LineString([(0, 0), (1, 1)])])
    assert geo.ellipsoidal_area(np.array([coll]))[0] == pytest.approx(_geod([shapely.box(104, 30, 104.01, 30.01)])[0],
                                                                      rel=1e-9)
