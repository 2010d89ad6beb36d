"""Evaluation of divisions: a hand-made division with three planted errors gets exactly three
precise findings; files in CSV/XLSX/GPKG; incremental re-evaluation equals a fresh one."""


import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest

from pianqu.geo import compute_epsg
from pianqu.zoning import adjacency, delineate
from pianqu.zoning.evaluate import Evaluator, compare, division_from_result, evaluate, read_division


@pytest.fixture(scope="module")
def setup(county):
    u, T = county.units, county.travel_s
    adj = adjacency(u, travel_s=T)
    res = delineate(u, T, 5, adjacency=adj, method="exact")
    return u, T, adj, res


def planted(u, adj, res):
    """pianqu's division with a unit moved into a zone it does not touch, a unit listed in two
    zones and a zone whose centre mark was removed."""
    g = nx.Graph(list(zip(adj.edges["code_i"], adj.edges["code_j"])))
    a = res.assignment
    zone_of = {c: f"片区{k + 1}" for k, c in enumerate(res.centres)}
    rows = pd.DataFrame({"乡镇代码": a.index, "片区": a.map(zone_of).to_numpy(),
                         "是否中心镇": np.where(a.index == a.to_numpy(), "是", "否")})
    target_zone = zone_of[res.centres[0]]
    members = set(a.index[a.to_numpy() == res.centres[0]])
    mover = next(c for c in a.index if c not in members and a[c] != c
                 and not any(nb in members for nb in g[c])
                 and nx.is_connected(g.subgraph([m for m in a.index[a.to_numpy() == a[c]] if m != c])))
    rows.loc[rows["乡镇代码"] == mover, "片区"] = target_zone
    donor_zone = zone_of[a[mover]]
    twice = next(c for c in a.index if a[c] != c and c != mover and zone_of[a[c]] not in (target_zone, donor_zone))
    other = next(z for z in zone_of.values() if z != zone_of[a[twice]])
    rows = pd.concat([rows, pd.DataFrame({"乡镇代码": [twice], "片区": [other], "是否中心镇": ["否"]})],
                     ignore_index=True)
    headless = next(z for z in zone_of.values() if z not in (target_zone, other, zone_of[a[twice]]))
    rows.loc[(rows["片区"] == headless), "是否中心镇"] = "否"
    return rows, mover, target_zone, twice, headless


def test_three_planted_errors_three_findings(setup, tmp_path):
    u, T, adj, res = setup
    rows, mover, target_zone, twice, headless = planted(u, adj, res)
    csv = tmp_path / "划分.csv"
    rows.to_csv(csv, index=False, encoding="gb18030")
    xlsx = tmp_path / "划分.xlsx"
    rows.to_excel(xlsx, index=False)
    gpkg = tmp_path / "划分.gpkg"
    gpd.GeoDataFrame(rows, geometry=u.set_index("code").loc[rows["乡镇代码"]].geometry.to_numpy(),
                     crs=4490).to_file(gpkg, layer="zone_member")
    before = csv.read_bytes()
    seen = []
    for path in (csv, xlsx, gpkg):
        div = read_division(path, code="乡镇代码", zone="片区", is_centre="是否中心镇",
                            layer="zone_member" if path.suffix == ".gpkg" else None)
        ev = evaluate(u, div, T, adjacency=adj)
        errors = sorted((f.rule, f.feature) for f in ev.findings if f.severity == "error")
        assert errors == sorted([("zoning.eval.zone_not_contiguous", target_zone),
                                 ("zoning.eval.unit_in_two_zones", twice),
                                 ("zoning.eval.zone_without_centre", headless)])
        by_rule = {f.rule: f for f in ev.findings if f.severity == "error"}
        nc = by_rule["zoning.eval.zone_not_contiguous"]
        assert nc.params["units"] == mover and nc.params["pieces"] == 2
        assert mover in nc.message("zh") and target_zone in nc.message("en")
        assert str(path) in nc.source
        assert ev.summary["zones_without_centre"] == 1 and ev.summary["noncontiguous_zones"] == 1
        seen.append(ev.summary)
    assert csv.read_bytes() == before  # the user's file is only read
    assert seen[0] == seen[1] == seen[2]


def test_proposal_evaluates_clean_and_agrees_with_solver(setup):
    u, T, adj, res = setup
    ev = evaluate(u, division_from_result(res), T, adjacency=adj, member_bounds=(1, 24))
    assert not [f for f in ev.findings if f.severity == "error"]
    assert ev.summary["zones"] == 5
    assert ev.summary["mean_time_min"] == pytest.approx(res.stats["mean_time_s"] / 60)
    assert ev.summary["max_time_min"] == pytest.approx(res.stats["max_time_s"] / 60)
    assert ev.summary["within_share"] == pytest.approx(res.stats["within_share"])
    # compactness from areas/perimeters/shared borders equals the geometric union's
    z = ev.zones.iloc[0]
    members = z["units"].split(",")
    geom = u.set_index("code").loc[members].to_crs(compute_epsg(u)).union_all()
    assert z["compactness"] == pytest.approx(4 * np.pi * geom.area / geom.length ** 2, rel=2e-3)
    assert z["area_km2"] == pytest.approx(geom.area / 1e6, rel=2e-3)


def test_side_by_side(setup):
    u, T, adj, res = setup
    rows, *_ = planted(u, adj, res)
    from pianqu.zoning.evaluate import normalise_division
    hand = evaluate(u, normalise_division(rows, code="乡镇代码", zone="片区", is_centre="是否中心镇"), T, adjacency=adj)
    mine = evaluate(u, division_from_result(res), T, adjacency=adj)
    table = compare({"规划师方案": hand, "pianqu": mine})
    assert list(table.columns) == ["规划师方案", "pianqu"]
    assert table.loc["zones_without_centre", "规划师方案"] == 1 and table.loc["zones_without_centre", "pianqu"] == 0
    assert table.loc["zones", "pianqu"] == 5
    assert compare({"a": mine}).index[0] == "zones"  # measure keys: the command line names them


def test_moves_reevaluate_fast_and_exactly(setup):
    u, T, adj, res = setup
    ev = Evaluator(u, T, division_from_result(res), adjacency=adj)
    rng = np.random.default_rng(3)
    codes = list(u["code"])
    for _ in range(25):  # the speed of a move is measured in benchmarks/bench_zoning.py
        c = codes[rng.integers(len(codes))]
        z = ev.zone_labels[rng.integers(len(ev.zone_labels))]
        out = ev.move(c, z)
        assert set(out["zones"]["zone"]) <= set(ev.zone_labels)
    # the same division evaluated from scratch
    div = pd.DataFrame({"code": codes, "zone": [ev.zone_labels[k] for k in ev.zone_of],
                        "centre_mark": [any(ev.pos[c] in ev.centres[k] for k in range(len(ev.centres)))
                                        for c in codes]})
    fresh = evaluate(u, div, T, adjacency=adj)
    inc = ev.zones_frame().set_index("zone").sort_index()
    full = fresh.zones.set_index("zone").sort_index()
    inc = inc[inc["members"] > 0]
    full = full.loc[inc.index]
    for col in ("members", "population", "mean_time_min", "max_time_min", "within_share", "compactness", "pieces"):
        assert np.allclose(inc[col].astype(float), full[col].astype(float), equal_nan=True, rtol=1e-9), col
    assert sorted(f.rule for f in ev.findings()) == sorted(f.rule for f in fresh.findings)


def test_moving_a_centre_leaves_its_zone_headless(setup):
    u, T, adj, res = setup
    ev = Evaluator(u, T, division_from_result(res), adjacency=adj)
    centre = res.centres[1]
    zone = ev.zone_labels[ev.zone_of[ev.pos[centre]]]
    dest = next(z for z in ev.zone_labels if z != zone)
    out = ev.move(centre, dest)
    rules = {(f.rule, f.feature) for f in out["findings"]}
    assert ("zoning.eval.zone_without_centre", zone) in rules
    out = ev.set_centre(zone, next(iter(sorted(ev.codes[list(ev.members[ev.zone_labels.index(zone)])]))))
    assert not [f for f in out["findings"] if f.rule == "zoning.eval.zone_without_centre"]


def test_unknown_and_unassigned_units(setup):
    u, T, adj, res = setup
    div = division_from_result(res)
    div = pd.concat([div.iloc[1:], pd.DataFrame({"code": ["999999999"], "zone": ["1"], "centre_mark": [False]})])
    ev = evaluate(u, div, T, adjacency=adj)
    rules = {(f.rule, f.feature) for f in ev.findings if f.severity == "error"}
    assert ("zoning.eval.unknown_unit", "999999999") in rules
    assert ("zoning.eval.unit_unassigned", res.assignment.index[0]) in rules
    with pytest.raises(ValueError, match="没有列“片区”") as err:
        read_division_from_frame = __import__("pianqu.zoning.evaluate", fromlist=["x"]).normalise_division
        read_division_from_frame(div, zone="片区")
    assert "no column '片区'" in err.value.message("en")
