"""Control lines, facilities, telecom, hazards and the economy table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely

from pianqu import standards
from pianqu.synth import synth_config


def _gk(frame, epsg):
    return np.asarray(frame.to_crs(epsg).geometry.to_numpy(), dtype=object)


def _pair_overlaps(a: np.ndarray, b: np.ndarray, min_area: float = 1.0) -> int:
    tree = shapely.STRtree(b)
    i, j = tree.query(a, predicate="intersects")
    if len(i) == 0:
        return 0
    return int((shapely.area(shapely.intersection(a[i], b[j])) > min_area).sum())


def test_control_lines(tongjiang):
    epsg = tongjiang.geo.epsg
    L = tongjiang.layers
    pbf, erl, udb = _gk(L["farmland_pbf"], epsg), _gk(L["eco_redline"], epsg), _gk(L["urban_boundary"], epsg)
    lu = L["landuse"]
    farm = _gk(lu[lu["code"].isin(["0101", "0102", "0103"])], epsg)
    # permanent basic farmland lies on farmland (parcels do not overlap, so pairwise
    # intersections add up), and most of the farmland is protected
    i, j = shapely.STRtree(farm).query(pbf, predicate="intersects")
    on_farm = shapely.area(shapely.intersection(pbf[i], farm[j])).sum()
    assert on_farm > 0.98 * shapely.area(pbf).sum()
    assert 0.5 < shapely.area(pbf).sum() / shapely.area(farm).sum() < 0.95
    # the urban development boundary holds the county seat and stays near its expansion ratio
    seat = L["settlement"].query("level == 'county_seat'").to_crs(epsg).geometry.iloc[0]
    assert shapely.covers(shapely.union_all(udb), seat)
    assert L["urban_boundary"]["township_code"].notna().all()
    # the red line: high natural land, with protected-area core zones
    assert L["eco_redline"]["core_zone"].any()
    assert 0.1 < shapely.area(erl).sum() / L["county"].to_crs(epsg).area.iloc[0] < 0.8
    # no overlaps inside a layer; a handful between layers (for planners to resolve)
    for g in (pbf, erl, udb):
        assert _pair_overlaps(g, g) == len(g)  # each only with itself
    n = int(synth_config()["synth.control_conflicts"])
    planted = {"pbf x udb": _pair_overlaps(pbf, udb), "redline x pbf": _pair_overlaps(erl, pbf)}
    for pair, count in planted.items():  # some planted conflicts, but only a handful
        assert count > 0 and count <= 3 * n, (pair, count, n)


def test_facilities_kinds_levels_and_gaps(built):
    fac, vl = built.layers["facility"], built.layers["village"]
    kinds = standards.facility_kinds().set_index("kind")
    assert fac["kind"].isin(kinds.index).all()
    kl = fac["kind"].map(kinds["level"])
    # a facility serves its kind's level; a zone kind outside a central town serves its township
    assert ((fac["level"] == kl) | ((kl == "zone") & (fac["level"] == "township"))).all()
    assert (fac["capacity"] > 0).all() and (fac["area_m2"] > 0).all()
    assert (fac["village_code"].str[:9] == fac["township_code"]).all()
    share = fac[fac["level"] == "village"].groupby("kind")["village_code"].nunique() / len(vl)
    if len(vl) >= 80:
        assert 0.65 <= share["village_clinic"] <= 0.95
        assert share["children_home"] < share["village_clinic"]
        assert share.max() < 1.0  # gaps everywhere
    # the county seat has every kind of township and zone facility
    seat_t = built.layers["settlement"].query("level == 'county_seat'")["township_code"].iloc[0]
    upper = kinds.index[kinds["level"] != "village"]
    assert set(upper) <= set(fac.loc[fac["township_code"] == seat_t, "kind"])
    # each facility stands in the village its code names
    epsg = built.geo.epsg
    V = dict(zip(vl["code"], _gk(vl, epsg)))
    pts = _gk(fac, epsg)
    assert all(V[c].covers(p) for c, p in zip(fac["village_code"], pts))


def test_telecom_coverage_with_holes(tongjiang):
    epsg = tongjiang.geo.epsg
    tel = tongjiang.layers["telecom"]
    assert set(tel["tech"]) == {"4G", "5G"}
    g4 = shapely.union_all(_gk(tel[tel["tech"] == "4G"], epsg))
    g5 = shapely.union_all(_gk(tel[tel["tech"] == "5G"], epsg))
    county = _gk(tongjiang.layers["county"], epsg)[0]
    share4 = g4.area / county.area
    assert 0.3 < share4 < 0.99  # holes remain
    assert g5.area < 0.3 * g4.area and shapely.difference(g5, g4).area < 1.0
    seats = _gk(tongjiang.layers["settlement"].query("level == 'village_seat'"), epsg)
    covered = shapely.covers(g4, seats).mean()
    assert 0.85 < covered < 1.0
    # the holes are remote and high: uncovered land is higher than covered land
    t = tongjiang.terrain
    gx, gy = t.grid.centers()
    inside = t.inside
    cov = shapely.contains_xy(g4, gx[inside], gy[inside])
    assert t.elev[inside][~cov].mean() > t.elev[inside][cov].mean()


def test_hazards(tongjiang):
    epsg = tongjiang.geo.epsg
    hz = tongjiang.layers["hazard"]
    assert set(hz["kind"]) == {"地灾", "洪涝"}
    assert hz["level"].isin(["高", "中", "低"]).all()
    t = tongjiang.terrain
    slides = _gk(hz[hz["kind"] == "地灾"], epsg)
    c = shapely.get_coordinates(shapely.point_on_surface(slides))
    assert np.median(t.grid.sample(t.slope, c[:, 0], c[:, 1])) > np.median(t.slope[t.inside])
    floods = shapely.union_all(_gk(hz[hz["kind"] == "洪涝"], epsg))
    rivers = shapely.union_all(_gk(tongjiang.layers["river"], epsg))
    assert floods.distance(rivers) == 0


def test_economy_table(built):
    econ = built.layers["economy"]
    tw = built.layers["township"]
    assert econ["sector"].isin(set(standards.industries()["id"])).all()
    assert (econ["year"] == 2022).all()
    assert set(econ["township_code"]) == set(tw["code"])
    assert not econ.duplicated(["township_code", "sector", "year"]).any()
    assert (econ["output"] > 0).all()
    pop = tw["population"].sum()
    cfg = synth_config()
    assert abs(econ["employment"].sum() / pop - cfg["synth.employment_rate"]) < 0.01
    per_capita = econ["output"].sum() * 1e4 / pop  # 万元 → yuan
    assert 20_000 < per_capita < 150_000
    seat_t = built.layers["settlement"].query("level == 'county_seat'")["township_code"].iloc[0]
    by_t = econ.groupby("township_code")["output"].sum()
    assert by_t.idxmax() == seat_t
