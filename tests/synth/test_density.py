"""Real 三调 density (issue 11, "Scale"): 西区 (510403) split to ~10× its parcels, with unmatched
shared vertices on a third of the pieces, checked for invariants against the unsplit county:
areas add up, 耕地 ΣTBDLMJ kept to the cent rounding, every piece in exactly one village,
validation finds nothing new, and change detection raises the same number of tickets."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import shapely

from pianqu.geo import ellipsoidal_area
from pianqu.synth.density import densify, piece_counts

XIQU = "510403"
FACTOR = 10.0
UNMATCHED = 0.3


@pytest.fixture(scope="session")
def xiqu_layers():
    from pianqu.synth import synthesize_county

    return synthesize_county(XIQU, 1)


@pytest.fixture(scope="session")
def dense(xiqu_layers):
    return densify(xiqu_layers, factor=FACTOR, seed=1, unmatched=UNMATCHED)


def _epoch(lu, year):
    return lu[lu["epoch"] == year]


def test_piece_counts_reach_the_target():
    area = np.array([1e4, 5e4, 2e5, 300.0])
    k = piece_counts(area, np.ones(4), 40, min_piece_m2=200.0)
    assert abs(int(k.sum()) - 40) <= 2 and k[-1] == 1 and (k >= 1).all()
    assert (k <= np.maximum(1, area // 200)).all()


def test_split_reaches_density_and_keeps_areas(xiqu_layers, dense):
    before, after = xiqu_layers["landuse"], dense["landuse"]
    for year in sorted(before["epoch"].unique()):
        b, a = _epoch(before, year), _epoch(after, year)
        assert 0.8 * FACTOR * len(b) <= len(a) <= 1.2 * FACTOR * len(b)
        assert a["bsm"].is_unique
        assert a["area_m2"].sum() == pytest.approx(b["area_m2"].sum(), rel=1e-6)
        # TBMJ is each piece's own ellipsoidal area; KCMJ = TBMJ × KCXS to the cent; TBDLMJ = TBMJ − KCMJ
        np.testing.assert_allclose(a["area_m2"], ellipsoidal_area(a), rtol=1e-12)
        np.testing.assert_array_equal(a["kcmj"], np.round(a["area_m2"] * a["kcxs"], 2))
        np.testing.assert_allclose(a["tbdlmj"], a["area_m2"] - a["kcmj"], atol=1e-9)
        # per class and village the areas add up, and 耕地 ΣTBDLMJ to the cent rounding of each piece
        key = ["village_code", "code"]
        got = a.groupby(key)["area_m2"].sum()
        want = b.groupby(key)["area_m2"].sum()
        pd.testing.assert_index_equal(got.index, want.index)
        np.testing.assert_allclose(got, want, rtol=1e-6)
        farm_a = a[a["code"].str[:2] == "01"]
        farm_b = b[b["code"].str[:2] == "01"]
        slack = 0.005 * (len(farm_a) + len(farm_b)) + 1e-6 * farm_b["area_m2"].sum()
        assert abs(farm_a["tbdlmj"].sum() - farm_b["tbdlmj"].sum()) <= slack
        assert abs(farm_a["kcmj"].sum() - farm_b["kcmj"].sum()) <= slack


def test_pieces_tile_their_parcels_and_villages(xiqu_layers, dense):
    a = _epoch(dense["landuse"], 2023)
    g = a.geometry.to_numpy()
    assert shapely.is_valid(g).all() and (shapely.get_type_id(g) == 3).all()
    village = dense["village"]
    # every piece lies in exactly one village (its inner point), the one its code names
    i, j = shapely.STRtree(village.geometry.to_numpy()).query(shapely.point_on_surface(g), predicate="intersects")
    assert np.bincount(i, minlength=len(g)).max() == 1 and len(np.unique(i)) == len(g)
    assert (village["code"].to_numpy()[j] == a["village_code"].to_numpy()[i]).all()


def test_unmatched_vertices_are_there(xiqu_layers, dense):
    """A share of the pieces carry vertices their neighbours lack: the set is no GEOS coverage."""
    g = _epoch(dense["landuse"], 2023).geometry.to_numpy()
    assert not shapely.coverage_is_valid(g)
    same = densify(xiqu_layers, factor=FACTOR, seed=1, unmatched=UNMATCHED)["landuse"]
    assert same["bsm"].equals(dense["landuse"]["bsm"])  # deterministic for a seed
    assert shapely.equals_exact(same.geometry.to_numpy(), dense["landuse"].geometry.to_numpy(), 0).all()


def test_unchanged_parcels_keep_their_pieces_across_epochs(dense):
    lu = dense["landuse"]
    b, a = _epoch(lu, 2023), _epoch(lu, 2025)
    shared = np.intersect1d(b["bsm"], a["bsm"])
    assert len(shared) > 0.9 * len(b)
    gb = b.set_index("bsm").loc[shared].geometry.to_numpy()
    ga = a.set_index("bsm").loc[shared].geometry.to_numpy()
    assert shapely.equals_exact(gb, ga, 0).all()


def test_validation_finds_nothing_new(xiqu_layers, dense):
    from pianqu.validate import validate_layers

    def found(layers):
        f = validate_layers(layers, county_code=XIQU, compute_epsg=None)
        return sorted((x.severity, x.rule, x.layer) for x in f if x.severity != "info")

    assert found(dense) == found(xiqu_layers)


def test_splitting_does_not_multiply_tickets(xiqu_layers, dense):
    """A violation is a contiguous patch of change: the same tickets (count and area) however
    finely the survey splits the parcels."""
    from pianqu.land.epochs import detect_changes
    from pianqu.synth import layout

    epsg = layout.county_geo(XIQU).epsg

    def tickets(layers):
        return detect_changes(layers["landuse"], approvals=layers["approvals"], farmland_pbf=layers["farmland_pbf"],
                              epsg=epsg).tickets

    t0, t1 = tickets(xiqu_layers), tickets(dense)
    assert len(t0) > 0 and len(t1) == len(t0)
    np.testing.assert_allclose(np.sort(t1["area_m2"].to_numpy()), np.sort(t0["area_m2"].to_numpy()), rtol=1e-4)


def test_later_epoch_checked_as_if_alone(dense):
    """Validation reuses the base epoch's coverage work for unchanged parcels: an overlap and a gap
    planted in the later epoch are found exactly as when that epoch is checked on its own."""
    import geopandas as gpd

    from pianqu.validate import validate_layers

    lu = dense["landuse"].reset_index(drop=True)
    later = np.flatnonzero(lu["epoch"].to_numpy() == 2025)
    k1, k2 = np.random.default_rng(3).choice(later, 2, replace=False)
    g = lu.geometry.to_numpy().copy()
    g[k1] = shapely.buffer(g[k1], 3 / 111000)  # grown by ~3 m: overlaps its neighbours
    lu = lu.set_geometry(gpd.GeoSeries(g, crs=lu.crs)).drop(index=k2)  # a parcel missing: a gap

    def found(landuse):
        f = validate_layers({**dense, "landuse": landuse}, county_code=XIQU)
        return sorted((x.rule, x.feature, str(x.params)) for x in f
                      if x.rule in ("validate.overlap", "validate.gap") and x.params.get("epoch") == 2025)

    both = found(lu)
    alone = found(lu[lu["epoch"] == 2025])
    assert any(r == "validate.gap" for r, *_ in both) and any(r == "validate.overlap" for r, *_ in both)
    assert both == alone
