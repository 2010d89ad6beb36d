"""Consolidation potential per village, checked with independent computations."""

import numpy as np
import pandas as pd
import pytest
import shapely
from scipy.sparse.csgraph import connected_components

import land_fixtures as F
from pianqu.config import load_config
from pianqu.land.common import LandInputError
from pianqu.land.consolidation import consolidation_potential


@pytest.fixture(scope="module")
def result():
    c = F.county()
    return consolidation_potential(c["landuse"], villages=c["village"], epsg=F.EPSG)


def test_fragmented_farmland_against_a_dissolve(result):
    lu = F.county()["gk:landuse"]
    farm = lu[lu["code"].str[:2] == "01"]
    patches = shapely.get_parts(shapely.union_all(farm.geometry.to_numpy()))  # edge-connected parts
    small = [p for p in patches if p.area < 2000.0]
    pts = farm.geometry.representative_point()
    frag = np.zeros(len(farm), dtype=bool)
    for p in small:
        frag |= pts.within(p).to_numpy()
    ref = pd.Series(farm.area.to_numpy() * frag, index=farm["village_code"]).groupby(level=0).sum()
    got = result.villages.set_index("village_code")["fragmented_m2"]
    assert np.allclose(got.reindex(ref.index), ref, rtol=1e-9, atol=1e-6)
    assert got.sum() > 0 and result.villages["fragmented_patches"].sum() == len(small)
    assert np.allclose(result.villages["fragmented_mu"] * 666.6666666667, result.villages["fragmented_m2"])


def test_steep_farmland(result):
    lu = F.county()["gk:landuse"]
    steep = (lu["code"].str[:2] == "01") & (lu["slope_deg"] > 25)
    ref = pd.Series(lu.area.to_numpy() * steep.to_numpy(), index=lu["village_code"]).groupby(level=0).sum()
    got = result.villages.set_index("village_code")["steep_farmland_m2"]
    assert np.allclose(got.reindex(ref.index), ref, rtol=1e-9)
    # a stricter threshold from the configuration finds more
    c = F.county()
    r20 = consolidation_potential(c["landuse"], villages=c["village"], epsg=F.EPSG,
                                  cfg=load_config(overrides={"land.steep_slope_deg": 20}))
    assert r20.villages["steep_farmland_m2"].sum() > got.sum()


def test_scattered_homesteads_brute_force(result):
    lu = F.county()["gk:landuse"]
    h = lu[lu["code"] == "0703"].reset_index(drop=True)
    g = h.geometry.to_numpy()
    d = shapely.distance(g[:, None], g[None, :])  # all pairs
    _, lab = connected_components(d <= 50.0, directed=False)
    area = pd.Series(h.area.to_numpy()).groupby(lab).sum()
    scattered = area.reindex(lab).to_numpy() < 3000.0
    ref = pd.Series(h.area.to_numpy() * scattered, index=h["village_code"]).groupby(level=0).sum()
    got = result.villages.set_index("village_code")["scattered_homestead_m2"]
    assert np.allclose(got.reindex(ref.index), ref, rtol=1e-9)
    assert 0 < got.sum() < h.area.sum()
    flagged = result.parcels[result.parcels["scattered"]]
    assert set(flagged["bsm"]) == set(h.loc[scattered, "bsm"])


def test_idle_and_excess_homesteads():
    c = F.county()
    homes = c["landuse"][c["landuse"]["code"] == "0703"]
    idle = set(homes["bsm"].iloc[:5])
    r = consolidation_potential(c["landuse"], villages=c["village"], idle=idle, epsg=F.EPSG)
    gk = c["gk:landuse"].set_index("bsm")
    assert r.villages["idle_homestead_m2"].sum() == pytest.approx(gk.loc[list(idle)].area.sum(), rel=1e-9)
    v = r.villages.set_index("village_code")
    pop = c["village"].set_index("code")["population"]
    assert np.allclose(v["homestead_standard_m2"], pop.reindex(v.index) * 30.0)
    assert np.allclose(v["homestead_excess_m2"], (v["homestead_m2"] - v["homestead_standard_m2"]).clip(lower=0))
    # the idle field works as well; without either, idle is unknown (NaN), not zero
    lu = c["landuse"].assign(idle=c["landuse"]["bsm"].isin(idle).map({True: "是", False: "否"}))
    r2 = consolidation_potential(lu, epsg=F.EPSG)
    assert r2.villages["idle_homestead_m2"].sum() == pytest.approx(r.villages["idle_homestead_m2"].sum())
    assert consolidation_potential(c["landuse"], epsg=F.EPSG).villages["idle_homestead_m2"].isna().all()


def test_village_by_geometry_matches_the_field(result):
    c = F.county()
    by_field = consolidation_potential(c["landuse"], epsg=F.EPSG).villages.set_index("village_code")
    by_geom = result.villages.set_index("village_code")
    assert np.allclose(by_field["farmland_m2"].sort_index(), by_geom["farmland_m2"].sort_index(), rtol=1e-12)
    with pytest.raises(LandInputError) as e:
        consolidation_potential(c["landuse"].drop(columns="village_code"), epsg=F.EPSG)
    assert "village_code" in e.value.message("en") and "village_code" in e.value.message("zh")
