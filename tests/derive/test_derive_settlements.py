"""Settlements, population and facility placement derived from a county's own data
(pianqu.derive), checked against a synthetic county's true seats and populations and on
hand-made parcels whose answer is known by construction."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import Polygon, box

from pianqu import divisions
from pianqu.derive.facilities import place_facilities
from pianqu.derive.population import spread_census
from pianqu.derive.settlements import settlements_from_parcels
from pianqu.geo import compute_epsg
from pianqu.network.snap import seat_points
from pianqu.synth import synthesize_county

CODE = "511113"  # 金口河区: 2 镇 and 3 乡, 30 villages; synthesised in a few seconds


@pytest.fixture(scope="session")
def county():
    layers = synthesize_county(CODE, 1)
    epsg = compute_epsg(layers["township"])
    derived = settlements_from_parcels(layers["landuse"], layers["township"], layers["village"], compute_epsg=epsg)
    return layers, epsg, derived


def _distances(derived: gpd.GeoDataFrame, true: gpd.GeoDataFrame, level: str, epsg: int) -> np.ndarray:
    d = derived[derived["level"] == level].set_index("code").to_crs(epsg)
    t = true[true["level"] == level].set_index("code").to_crs(epsg).loc[d.index]
    return d.geometry.distance(t.geometry).to_numpy()


def test_every_unit_has_exactly_one_seat_inside_it(county):
    layers, epsg, s = county
    assert s.crs.to_epsg() == 4490
    tw, vl = layers["township"], layers["village"]
    assert (s["level"] == "county_seat").sum() == 1
    assert sorted(s.loc[s["level"] == "town_seat", "code"]) == sorted(tw["code"])
    assert sorted(s.loc[s["level"] == "village_seat", "code"]) == sorted(vl["code"])
    assert s["code"].is_unique or (s["level"] == "county_seat").sum() == 1
    # what the network and zoning code ask of a settlement layer
    vs = seat_points(s, vl["code"], "village_seat", "village_code")
    ts = seat_points(s, tw["code"], "town_seat", "township_code")
    assert len(vs) == len(vl) and len(ts) == len(tw)
    # each seat lies in its own unit (1 m of tolerance for a point on a shared edge)
    vpoly = vl.set_index("code").to_crs(epsg).geometry
    vp = vs.set_index("village_code").to_crs(epsg).geometry
    assert (vpoly.loc[vp.index].buffer(1.0).contains(vp)).all()
    tpoly = tw.set_index("code").to_crs(epsg).geometry
    tp = ts.set_index("township_code").to_crs(epsg).geometry
    assert (tpoly.loc[tp.index].buffer(1.0).contains(tp)).all()
    # the county seat is the seat of the township the synthesiser put it in (largest city cluster)
    true_seat = layers["settlement"].loc[layers["settlement"]["level"] == "county_seat"].iloc[0]
    seat = s.loc[s["level"] == "county_seat"].iloc[0]
    assert seat["code"] == CODE and seat["township_code"] == true_seat["township_code"]
    assert set(s["method"]) <= {"town_cluster", "village_cluster", "homestead_cluster", "town_land_in_village",
                                "point_on_surface"}


def test_seats_are_near_the_true_seats(county):
    # measured on this county: town seats median 206 m, p90 491 m, max 617 m; village seats
    # median 121 m, p90 228 m, max 850 m (docs/benchmarks/derived_settlements.md has more)
    layers, epsg, s = county
    town = _distances(s, layers["settlement"], "town_seat", epsg)
    village = _distances(s, layers["settlement"], "village_seat", epsg)
    assert np.median(town) < 300 and town.max() < 1000
    assert np.median(village) < 200 and np.quantile(village, 0.9) < 400 and village.max() < 1200


def test_census_spread_is_exact_and_near_the_true_populations(county):
    layers, _, _ = county
    tp, vp, est = spread_census(CODE, layers["township"], layers["village"], layers["landuse"])
    census = divisions.census(CODE)["population"]
    assert vp.sum() == census and tp.sum() == census
    assert (vp >= 0).all() and est.all()
    vt = layers["village"].set_index("code")["township_code"]
    assert (vp.groupby(vt.loc[vp.index]).sum().loc[tp.index] == tp).all()
    true_t = layers["township"].set_index("code")["population"].loc[tp.index]
    rel = (tp - true_t).abs() / true_t
    assert rel.median() < 0.25  # measured 12.7 % on this county


def test_known_populations_are_kept_and_only_the_remainder_spread(county):
    layers, _, _ = county
    tw, vl = layers["township"], layers["village"]
    t_known = tw["code"].iloc[0]
    v_known = vl.loc[vl["township_code"] != t_known, "code"].iloc[:3]
    known = pd.Series({t_known: 20000, **{c: 1000 + i for i, c in enumerate(v_known)}})
    tp, vp, est = spread_census(CODE, tw, vl, layers["landuse"], known=known)
    census = divisions.census(CODE)["population"]
    assert tp[t_known] == 20000 and (vp[v_known] == known[v_known]).all()
    assert vp.sum() == census and tp.sum() == census
    in_known = vl.loc[vl["township_code"] == t_known, "code"]
    assert vp[in_known].sum() == 20000
    assert not est[t_known] and not est[v_known].any() and est.drop([t_known, *v_known]).all()


# ---- a hand-made county: two clusters (the larger wins); no cluster → point_on_surface ----------

EPSG = 4544  # CGCS2000 3° GK, CM 105°E


def _frame(data: dict, geoms) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(data, geometry=list(geoms), crs=EPSG).to_crs(4490)


@pytest.fixture(scope="session")
def tiny():
    x0, y0 = 500_000.0, 3_400_000.0
    # township A: two villages side by side; township B: an L-shaped village, no parcels at all
    v1 = box(x0, y0, x0 + 2000, y0 + 2000)
    v2 = box(x0 + 2000, y0, x0 + 4000, y0 + 2000)
    ell = Polygon([(x0, y0 + 2000), (x0 + 4000, y0 + 2000), (x0 + 4000, y0 + 2400), (x0 + 400, y0 + 2400),
                   (x0 + 400, y0 + 6000), (x0, y0 + 6000)])
    townships = _frame({"code": ["510000101", "510000201"], "name": ["甲乡", "乙乡"], "county_code": ["510000"] * 2,
                        "kind": ["乡", "乡"]}, [v1.union(v2), ell])
    villages = _frame({"code": ["510000101201", "510000101202", "510000201201"], "name": ["一村", "二村", "三村"],
                       "township_code": ["510000101", "510000101", "510000201"]}, [v1, v2, ell])
    # village 1: a large cluster of three touching homesteads and a small one 1 km away;
    # village 2: only farmland
    big = [box(x0 + 200 + 60 * i, y0 + 200, x0 + 260 + 60 * i, y0 + 260) for i in range(3)]
    small = [box(x0 + 1500, y0 + 1500, x0 + 1540, y0 + 1540)]
    farm = [box(x0 + 2500, y0 + 500, x0 + 3000, y0 + 1000)]
    landuse = _frame({"bsm": [str(i) for i in range(5)], "code": ["0703", "070301", "0703", "0703", "0103"],
                      "czcsxm": ["203", "203", "203", "203", ""],
                      "village_code": ["510000101201"] * 4 + ["510000101202"]}, big + small + farm)
    return townships, villages, landuse, big, ell


def test_the_larger_cluster_wins_and_point_on_surface_is_the_last_resort(tiny):
    townships, villages, landuse, big, ell = tiny
    s = settlements_from_parcels(landuse, townships, villages, compute_epsg=EPSG).to_crs(EPSG)
    by = {(r.level, r.code): r for r in s.itertuples()}
    cluster = shapely.union_all(big)
    v1 = by[("village_seat", "510000101201")]
    assert v1.method == "homestead_cluster" and cluster.contains(v1.geometry)
    # the cluster's area-weighted centroid, which lies on the middle parcel
    assert v1.geometry.distance(shapely.Point(500_290.0, 3_400_230.0)) < 1e-6
    # a 乡 without town land: its seat is its largest homestead cluster
    ta = by[("town_seat", "510000101")]
    assert ta.method == "village_cluster" and ta.geometry.equals(v1.geometry) and ta.village_code == "510000101201"
    # no cluster: point_on_surface, inside the (L-shaped) polygon, where the centroid is not
    for key in (("village_seat", "510000201201"), ("town_seat", "510000201"), ("village_seat", "510000101202")):
        assert by[key].method == "point_on_surface"
    assert ell.contains(by[("village_seat", "510000201201")].geometry) and not ell.contains(ell.centroid)
    assert by[("village_seat", "510000101202")].geometry.within(villages.to_crs(EPSG).geometry.iloc[1])


def test_facilities_are_placed_at_the_village_seats(county, tmp_path):
    layers, epsg, derived = county
    vl = layers["village"]
    codes = vl["code"].iloc[[0, 3, 7]].tolist()
    table = pd.DataFrame({"id": ["F1", "F2", "F3", "F4"], "kind": ["clinic"] * 4, "name": ["甲", "乙", "丙", "丁"],
                          "village_code": codes + ["510000000000"]})
    # with a settlement layer: at its village seats
    placed = place_facilities(table, villages=vl, townships=layers["township"], settlements=layers["settlement"])
    true = layers["settlement"].query("level == 'village_seat'").set_index("code").geometry
    assert placed["location_method"].tolist() == ["village_seat"] * 3 + ["unplaced"]
    assert all(g.equals(true[c]) for g, c in zip(placed.geometry[:3], codes))
    assert placed["township_code"].iloc[:3].tolist() == vl.set_index("code").loc[codes, "township_code"].tolist()
    # without one: at the seats derived from the parcels
    placed = place_facilities(table, villages=vl, townships=layers["township"], landuse=layers["landuse"],
                              compute_epsg=epsg)
    seats = derived.query("level == 'village_seat'").set_index("code").geometry
    assert (placed["location_method"].iloc[:3] == "derived_village_seat").all()
    assert all(g.distance(seats[c]) < 1e-9 for g, c in zip(placed.geometry[:3], codes))

    # the import: an xlsx with 名称/类型/村代码 and no coordinates, into a workspace without settlements
    from pianqu.ingest.importer import import_sources
    from pianqu.workspace import Workspace

    ws = Workspace.create(tmp_path / "w.gpkg", county_code=CODE, county_name="金口河区", synthetic=True,
                          compute_epsg=epsg, epochs=(2023,), command="test", reason="test")
    ws.write({k: layers[k] for k in ("county", "township", "village", "landuse")}, command="test", reason="test")
    pd.DataFrame({"名称": ["甲小学", "乙卫生室"], "类型": ["小学", "村卫生室"], "村代码": codes[:2]}).to_excel(
        tmp_path / "设施.xlsx", index=False)
    result = import_sources([tmp_path / "设施.xlsx"], tmp_path / "w.gpkg")
    fac = Workspace.open(tmp_path / "w.gpkg").read("facility")
    assert fac["location_method"].tolist() == ["derived_village_seat"] * 2
    assert fac["kind"].tolist()[0] == "primary_school"
    assert all(g.distance(seats[c]) < 1e-7 for g, c in zip(fac.geometry, codes[:2]))
    assert any(f.rule == "ingest.facilities_placed" for f in result.findings)
