"""The overlay engine against geopandas.overlay (an independent implementation)."""

import re

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from pianqu.geo import ellipsoidal_area

from pianqu.land.overlay import (OverlayError, components, intersect, intersect_any, overlay, split_large, subtract,
                                 to_storage)
from pianqu.testing.land import DEFAULT_ORIGIN, blob, blobs, parcel_grid

X0, Y0 = DEFAULT_ORIGIN


@pytest.fixture(scope="module")
def parcels():
    return parcel_grid(120, 100, 25.0, seed=4)


@pytest.fixture(scope="module")
def controls():
    """Detailed polygons: blobs (one with a hole), a multipolygon, a small square inside a parcel."""
    b = list(blobs(6, (X0, Y0, X0 + 3000, Y0 + 2500), (250, 600), n_vertices=1500, seed=9, separate=False))
    holed = shapely.Polygon(b[0].exterior.coords, [shapely.Point(b[0].centroid).buffer(60).exterior.coords])
    multi = shapely.MultiPolygon([blob(X0 + 600, Y0 + 2200, 120, seed=3), blob(X0 + 1200, Y0 + 2200, 100, seed=4)])
    tiny = shapely.box(X0 + 1010, Y0 + 1010, X0 + 1011, Y0 + 1011)
    geoms = [holed, *b[1:], multi, tiny]
    return gpd.GeoDataFrame({"rid": np.arange(len(geoms))}, geometry=geoms, crs=4544)


def _pairs(frame, area_col):
    return frame.set_index(["bsm", "rid"])[area_col].sort_index()


def test_same_pairs_and_areas_as_geopandas(parcels, controls):
    ours = overlay(parcels[["bsm", "geometry"]], controls, epsg=4544)
    ref = gpd.overlay(parcels[["bsm", "geometry"]], controls, how="intersection", keep_geom_type=True)
    ref["area"] = ellipsoidal_area(ref.geometry.to_numpy(), 4544)  # areas are ellipsoidal (issue 11)
    ref = ref[ref.area > 0]
    a, b = _pairs(ours, "area_m2"), _pairs(ref, "area")
    assert list(a.index) == list(b.index)
    assert np.allclose(a.to_numpy(), b.to_numpy(), rtol=1e-9, atol=1e-6)
    assert ours.area_m2.sum() == pytest.approx(ref["area"].sum(), rel=1e-12)
    # geometry equals the intersection, and is polygonal
    assert set(ours.geom_type) <= {"Polygon", "MultiPolygon"}
    assert np.allclose(ellipsoidal_area(ours), ours.area_m2, rtol=1e-12)
    # the contained square came back whole, from the 'contains' path
    assert ours.loc[ours["rid"] == controls["rid"].iloc[-1], "area_m2"].sum() == pytest.approx(1.0)


def test_inside_pairs_return_the_parcel(parcels, controls):
    ov = intersect(parcels.geometry.to_numpy(), controls.geometry.to_numpy())
    assert ov.inside.sum() > 1000
    geoms = parcels.geometry.to_numpy()
    assert all(g is geoms[i] for g, i in zip(ov.geometry[ov.inside], ov.left[ov.inside]))


def test_intersect_any_is_symmetric(parcels, controls):
    a = intersect_any(parcels.geometry.to_numpy(), controls.geometry.to_numpy())
    b = intersect_any(controls.geometry.to_numpy(), parcels.geometry.to_numpy())
    fa = pd.Series(a.area, index=pd.MultiIndex.from_arrays([a.left, a.right])).sort_index()
    fb = pd.Series(b.area, index=pd.MultiIndex.from_arrays([b.right, b.left])).sort_index()
    assert list(fa.index) == list(fb.index)
    assert np.allclose(fa, fb, rtol=1e-12)
    assert (a.inside == b.contains[np.lexsort((b.left, b.right))][np.argsort(np.lexsort((a.right, a.left)))]).all()


def test_split_large_partitions(controls):
    pieces, owner = split_large(controls.geometry.to_numpy(), max_vertices=64)
    assert len(pieces) > len(controls)
    assert (shapely.get_num_coordinates(pieces) <= 64 + 8).mean() > 0.95
    for k, g in enumerate(controls.geometry):
        parts = pieces[owner == k]
        assert shapely.area(parts).sum() == pytest.approx(g.area, rel=1e-12)
        assert shapely.union_all(parts).symmetric_difference(g).area < 1e-6 * g.area


def test_subtract_completes_the_overlay(parcels, controls):
    geoms = parcels.geometry.to_numpy()
    mask = np.array([shapely.union_all(controls.geometry.to_numpy())], dtype=object)  # no double cover
    ov = intersect(geoms, mask)
    rest = subtract(geoms, ov)
    total = shapely.area(rest).sum() + ov.area.sum()
    assert total == pytest.approx(shapely.area(geoms).sum(), rel=1e-12)
    assert shapely.is_empty(rest[ov.left[ov.inside]]).all()


def test_invalid_geometry_is_named():
    bow = shapely.Polygon([(0, 0), (10, 10), (10, 0), (0, 10)])  # self-intersecting
    left = np.array([shapely.box(0, 0, 5, 5), bow], dtype=object)
    right = np.array([shapely.box(2, 2, 8, 8).buffer(1, quad_segs=64)], dtype=object)
    with pytest.raises(OverlayError) as e:
        intersect(left, right, left_ids=np.array(["A1", "BAD7"]), right_ids=np.array(["R"]))
    assert re.search(r"feature BAD7 .*Self-intersection.*1 invalid feature", e.value.message("en"))
    assert "要素 BAD7 的几何无效（边自相交，位于 5 5）" in e.value.message("zh")


def test_components():
    g = np.array([shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1), shapely.box(2, 1, 3, 2),
                  shapely.box(5, 5, 6, 6), shapely.box(5.5, 5.5, 7, 7)], dtype=object)
    assert components(g).tolist() == [0, 0, 1, 2, 2]  # a corner contact is no link
    assert components(g, distance=0.5).tolist() == [0, 0, 0, 1, 1]


def test_to_storage_repairs_collapsed_rings():
    # a polygon with a sliver hole narrower than the rounding of a reprojection
    shell = [(X0, Y0), (X0 + 100, Y0), (X0 + 100, Y0 + 100), (X0, Y0 + 100)]
    hole = [(X0 + 50, Y0 + 50), (X0 + 50 + 1e-9, Y0 + 50), (X0 + 50, Y0 + 50 + 1e-9)]
    g = gpd.GeoDataFrame(geometry=[shapely.Polygon(shell, [hole])], crs=4544)
    out = to_storage(g)
    assert out.crs.to_epsg() == 4490 and out.is_valid.all()
    assert out.to_crs(4544).area.iloc[0] == pytest.approx(1e4, rel=1e-6)


def test_union_disjoint_and_clip_union_count_overlaps_once(parcels, controls):
    from pianqu.land.overlay import clip_union, disjoint, union

    over = controls.geometry.to_numpy()  # the blobs overlap each other
    truth = shapely.union_all(over)
    d = disjoint(over)
    assert shapely.area(d).sum() == pytest.approx(truth.area, rel=1e-9)
    a, b = shapely.STRtree(d).query(d, predicate="intersects")
    k = a < b
    assert not shapely.relate_pattern(d[a[k]], d[b[k]], "T********").any()
    assert union(over).symmetric_difference(truth).area < 1e-6 * truth.area
    tiles = parcels.geometry.to_numpy()
    assert union(tiles).area == pytest.approx(shapely.area(tiles).sum(), rel=1e-12)  # the coverage path
    tiles = tiles[::5]  # the reference intersects each tile with the whole union: keep it short
    geom, area, whole = clip_union(tiles, over)
    ref = shapely.area(shapely.intersection(tiles, truth))
    assert np.allclose(area, ref, rtol=1e-9, atol=1e-6)
    assert np.allclose(shapely.area(geom), area, rtol=1e-9, atol=1e-9)
    assert (np.abs(area[whole] - shapely.area(tiles[whole])) < 1e-6).all()


def test_components_with_t_junctions_and_overlaps():
    # A | B share an edge, but B's side has an extra vertex (a T-junction): still linked
    a = shapely.Polygon([(0, 0), (2, 0), (2, 2), (0, 2)])
    b = shapely.Polygon([(2, 0), (4, 0), (4, 2), (2, 2), (2, 1)])
    c = shapely.box(4, 2, 5, 3)  # corner contact with B only
    d = shapely.box(4.5, 2.5, 6, 4)  # overlaps C
    g = np.array([a, b, c, d], dtype=object)
    assert components(g).tolist() == [0, 0, 1, 1]
