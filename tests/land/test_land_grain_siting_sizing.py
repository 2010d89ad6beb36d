"""Grain base candidates, siting verdicts and sizing rules on the fixture county."""

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

import land_fixtures as F
from pianqu.geo import ellipsoidal_area
from pianqu.config import load_config
from pianqu.land.grain import grain_bases
from pianqu.land.siting import check_siting
from pianqu.land.sizing import base_urban_construction, expansion_ratio, planned_construction, reserve_share
from pianqu.land.spaces import three_spaces

X0, Y0 = F.X0, F.Y0


# -- grain ---------------------------------------------------------------------------------------
def test_grain_clusters_against_a_buffer_dissolve(zones):
    c = F.county()
    cfg = load_config(overrides={"land.grain_base_min_mu": 100})
    got, notes = grain_bases(c["landuse"], zones, epsg=F.EPSG, cfg=cfg, all_clusters=True)
    assert notes == []
    lu = c["gk:landuse"]
    good = lu[lu["code"].isin(["0101", "0102"]) & (lu["slope_deg"] <= 6.0)]
    parts = gpd.overlay(good[["bsm", "geometry"]], zones, how="intersection", keep_geom_type=True)
    parts = parts[parts.area > 1e-3]  # geopandas keeps 1e-19 m² slivers where a parcel touches a zone edge
    for z, g in parts.groupby("zone"):
        # parcels within 10 m ⇔ their 5 m buffers touch: dissolve the buffers, count the members
        blobs = shapely.get_parts(shapely.union_all(g.geometry.buffer(5.0, quad_segs=2).to_numpy()))
        pts = g.geometry.representative_point()
        ea = pd.Series(ellipsoidal_area(g.geometry.to_numpy(), F.EPSG), index=g.index)  # ellipsoidal (issue 11)
        ref = sorted(ea[pts.within(b).to_numpy()].sum() for b in blobs)
        mine = sorted(got.loc[got["zone"] == z, "area_m2"])
        assert len(mine) == len(ref)
        assert np.allclose(mine, ref, rtol=1e-9)
    assert got["area_m2"].sum() == pytest.approx(ellipsoidal_area(parts.geometry.to_numpy(), F.EPSG).sum(), rel=1e-9)
    cand = grain_bases(c["landuse"], zones, epsg=F.EPSG, cfg=cfg)[0]
    assert (cand["area_mu"] >= 100).all() and len(cand) == (got["area_mu"] >= 100).sum() > 0
    assert cand.crs.to_epsg() == 4490 and cand["cluster_id"].is_unique
    assert ((cand["paddy_share"] >= 0) & (cand["paddy_share"] <= 1)).all() and (cand["mean_slope_deg"] <= 6).all()


def test_grain_slope_unknown_is_noted(zones):
    lu = F.county()["landuse"].drop(columns="slope_deg")
    got, notes = grain_bases(lu, zones, epsg=F.EPSG, all_clusters=True)
    assert [n.rule for n in notes] == ["land.grain.slope_unknown"] and "slope_deg" in notes[0].message("en")


def test_grain_without_good_farmland_is_an_empty_table(zones):
    """An urban district (锦江区) has no flat 耕地: no clusters, the columns all there."""
    lu = F.county()["landuse"]
    lu = lu[~lu["code"].astype(str).str.startswith("01")]
    got, _ = grain_bases(lu, zones, epsg=F.EPSG)
    assert len(got) == 0 and {"zone", "cluster_id", "area_m2", "area_ha", "area_mu", "candidate"} <= set(got.columns)


# -- siting --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def siting(zones, lines):
    c = F.county()
    red = c["gk:eco_redline"]
    core_pt = red.loc[red["core_zone"], "geometry"].iloc[0].centroid
    gen_pt = red.loc[~red["core_zone"], "geometry"].iloc[0].centroid
    udb_pt = c["gk:urban_boundary"].geometry.iloc[0].centroid
    sq = lambda p, s=40: shapely.box(p.x - s, p.y - s, p.x + s, p.y + s)  # noqa: E731
    projects = gpd.GeoDataFrame({
        "id": ["core", "major_in_red", "minor_in_red", "town_inside", "town_outside", "canal"],
        "kind": ["tourism", "transport", "industry", "urban", "urban", "water"],
        "major": [False, True, False, False, False, False]},
        geometry=[sq(core_pt), sq(gen_pt), sq(gen_pt, 30), sq(udb_pt, 20), shapely.box(X0 + 3000, Y0 + 1700, X0 + 3100, Y0 + 1800),
                  shapely.LineString([(X0 + 100, Y0 + 900), (X0 + 3100, Y0 + 900)])], crs=F.EPSG).to_crs(4490)
    sp = three_spaces(c["landuse"], lines, zones, epsg=F.EPSG)
    layers = {**lines, "space": sp.dissolved(), "hazard": c["hazard"]}
    return projects, layers, check_siting(projects, layers, epsg=F.EPSG)


def test_siting_verdicts(siting):
    projects, layers, r = siting
    v = r.verdicts.set_index("id")
    assert v.loc["core", "verdict"] == "prohibited" and v.loc["core", "worst_rule"] == "redline_core"
    assert v.loc["major_in_red", "verdict"] == "restricted" and "redline_major" in v.loc["major_in_red", "rules"]
    assert v.loc["minor_in_red", "verdict"] == "prohibited" and v.loc["minor_in_red", "worst_rule"] == "redline"
    assert "outside_udb" in v.loc["town_outside", "rules"] and "outside_udb" not in v.loc["town_inside", "rules"]
    assert r.not_checked == [] and v.crs.to_epsg() == 4490


def test_siting_areas_against_geopandas(siting):
    projects, layers, r = siting
    gk = projects.to_crs(F.EPSG)
    canal = gk.set_index("id").geometry["canal"].buffer(10.0, cap_style="flat")
    d = r.details.set_index(["project_id", "rule"])
    pbf = layers["farmland_pbf"].to_crs(F.EPSG).union_all()
    assert d.loc[("canal", "pbf"), "area_m2"] == pytest.approx(canal.intersection(pbf).area, rel=1e-6)
    assert d.loc[("canal", "pbf"), "verdict"] == "prohibited"
    haz = layers["hazard"].to_crs(F.EPSG).union_all()
    expected = {pid for pid, g in zip(gk["id"], gk.geometry) if (canal if pid == "canal" else g).intersection(haz).area >= 1}
    assert expected == set(r.details.loc[r.details["rule"] == "hazard", "project_id"])
    assert (r.details["share"] <= 1 + 1e-9).all()
    out = r.details.set_index(["project_id", "rule"]).loc[("town_outside", "outside_udb")]
    assert out["area_m2"] == pytest.approx(100 * 100, rel=1e-6) and out["share"] == pytest.approx(1.0)


def test_siting_without_layers_says_what_was_not_checked(siting):
    projects, layers, _ = siting
    r = check_siting(projects, {"eco_redline": layers["eco_redline"]}, epsg=F.EPSG)
    assert set(r.not_checked) == {"pbf", "pbf_major", "outside_udb", "ecological_space", "agricultural_space", "hazard"}
    assert r.verdicts.set_index("id").loc["town_outside", "verdict"] == "allowed"
    assert all(f.rule == "land.siting.not_checked" for f in r.findings)


# -- sizing --------------------------------------------------------------------------------------
def test_expansion_ratio(county):
    lu = county["gk:landuse"]
    town = lu[(lu["czcsxm"] == "202") & lu["code"].str[:2].isin([f"{k:02d}" for k in range(7, 17)])]
    town_m2 = ellipsoidal_area(town.geometry.to_numpy(), F.EPSG).sum()  # areas are ellipsoidal (issue 11)
    assert base_urban_construction(county["landuse"], epsg=F.EPSG) == pytest.approx(town_m2, rel=1e-9)
    udb = ellipsoidal_area([county["gk:urban_boundary"].union_all()], F.EPSG)[0]
    r = expansion_ratio(county["urban_boundary"], county["landuse"], epsg=F.EPSG)
    assert r.value == pytest.approx(udb / town_m2, rel=1e-9) and r.limit == 1.3
    assert r.ok == (r.value <= 1.3) and r.finding.severity == ("info" if r.ok else "error")
    assert not r.ok and "1.3" in r.finding.message("zh")
    excess = r.finding.params["excess_ha"]
    assert excess == pytest.approx((udb - 1.3 * town_m2) / 1e4, rel=1e-9)
    shrink = expansion_ratio(county["urban_boundary"], county["landuse"], shrinking=True, epsg=F.EPSG)
    assert shrink.limit == 1.2 and shrink.threshold == "land.expansion_ratio_max_shrinking"
    loose = expansion_ratio(county["urban_boundary"], county["landuse"], epsg=F.EPSG,
                            cfg=load_config(overrides={"land.expansion_ratio_max": 2.0}))
    assert loose.ok and loose.finding.rule == "land.sizing.expansion_ok" and "override" in loose.source


def test_reserve_share(county, tmp_path):
    planned = planned_construction(county["landuse"], epsg=F.EPSG)
    r = reserve_share(county["reserve"], planned, epsg=F.EPSG)
    assert r.numerator_m2 == pytest.approx(county["gk:reserve"].union_all().area, rel=1e-6)
    assert r.value == pytest.approx(r.numerator_m2 / planned) and r.ok
    big = reserve_share(0.06 * planned, planned)
    assert not big.ok and big.finding.rule == "land.sizing.reserve_exceeded"
    assert big.finding.params["excess_ha"] == pytest.approx(0.01 * planned / 1e4)
    # a pianqu.toml beside the workspace changes the limit
    (tmp_path / "pianqu.toml").write_text('[thresholds]\n"land.reserve_quota_max_share" = 0.08\n', encoding="utf-8")
    cfg = load_config(tmp_path / "w.gpkg")
    assert reserve_share(0.06 * planned, planned, cfg=cfg).ok


def test_siting_with_space_pieces_equals_dissolved(siting, zones, lines):
    projects, layers, r = siting
    sp = three_spaces(F.county()["landuse"], lines, zones, epsg=F.EPSG)
    r2 = check_siting(projects, {**layers, "space": sp.pieces}, epsg=F.EPSG)
    a = r.details.set_index(["project_id", "rule"])["area_m2"].sort_index()
    b = r2.details.set_index(["project_id", "rule"])["area_m2"].sort_index()
    assert list(a.index) == list(b.index)
    assert np.allclose(a, b, rtol=1e-6)
