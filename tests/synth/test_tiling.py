"""Tiling invariants, checked independently of the validator with shapely in the GK zone."""

from __future__ import annotations

import numpy as np
import shapely

from pianqu.geo import ellipsoidal_area


def _gk(frame, epsg):
    return np.asarray(frame.to_crs(epsg).geometry.to_numpy(), dtype=object)


def _max_pair_overlap(geoms: np.ndarray) -> float:
    tree = shapely.STRtree(geoms)
    a, b = tree.query(geoms, predicate="intersects")
    keep = a < b
    if not keep.any():
        return 0.0
    return float(shapely.area(shapely.intersection(geoms[a[keep]], geoms[b[keep]])).max())


def test_townships_and_villages_tile_the_county(built):
    epsg = built.geo.epsg
    county = _gk(built.layers["county"], epsg)[0]
    tw = _gk(built.layers["township"], epsg)
    vl = _gk(built.layers["village"], epsg)
    assert shapely.is_valid(tw).all() and shapely.is_valid(vl).all()
    assert (shapely.get_type_id(tw) == 3).all() and (shapely.get_type_id(vl) == 3).all()  # one piece each
    for parts in (tw, vl):
        assert _max_pair_overlap(parts) <= 1.0  # m²
        union = shapely.union_all(parts)
        assert shapely.symmetric_difference(union, county).area <= 1.0
        assert abs(shapely.area(parts).sum() - county.area) <= 1e-6 * county.area
    # every village lies in its own township
    codes = list(built.layers["township"]["code"])
    parent = np.array([codes.index(c) for c in built.layers["village"]["township_code"]])
    assert shapely.covers(tw[parent], vl).all()


def test_parcels_tile_each_village(built):
    epsg = built.geo.epsg
    lu = built.layers["landuse"]
    vl = built.layers["village"]
    P = _gk(lu, epsg)
    V = _gk(vl, epsg)
    assert shapely.is_valid(P).all() and (shapely.get_type_id(P) == 3).all()
    assert shapely.coverage_is_valid(P)  # shared edges match exactly: no overlaps, no slivers
    home = vl.reset_index().set_index("code").loc[lu["village_code"], "index"].to_numpy()
    assert shapely.covers(V[home], P).all()
    per_village = np.bincount(home, weights=shapely.area(P), minlength=len(V))
    assert np.allclose(per_village, shapely.area(V), rtol=1e-9, atol=0.5)
    # ellipsoidal areas add up to the county's
    county_area = ellipsoidal_area(built.layers["county"])[0]
    assert abs(lu["area_m2"].sum() - county_area) <= 1e-6 * county_area
    assert lu["area_m2"].min() > 0


def test_area_fields_are_ellipsoidal(built):
    for name in ("township", "village", "landuse", "farmland_pbf", "eco_redline", "urban_boundary"):
        frame = built.layers[name]
        if len(frame) == 0:
            continue
        assert np.allclose(frame["area_m2"], ellipsoidal_area(frame), rtol=1e-6), name
