"""Village-level zones inside township-level zones."""

import pandas as pd
from zoning_helpers import check_division

from pianqu.zoning import Adjacency, adjacency, delineate
from pianqu.testing.zoning import synthetic_county, synthetic_villages
from pianqu.zoning.villages import village_zones


def test_village_zones_inside_township_zones(villages):
    tw = synthetic_county(24, seed=5)  # the county the villages were built in
    tz = delineate(tw.units, tw.travel_s, 6, method="exact")
    v, T = villages.units, villages.travel_s
    adj = adjacency(v, travel_s=T, layer="village", county=None)
    vz = village_zones(v, T, township_zone=tz.assignment, p="size", adjacency=adj, time_limit=5)
    r = vz.result
    assert r.feasible and len(vz.groups) == 6
    check_division(v, adj, r.assignment)
    group = v.set_index("code")["township_code"].map(tz.assignment)
    assert all(group[a] == group[c] for a, c in r.assignment.items())  # never across township zones
    relocate = set(v.loc[v["village_class"] == "搬迁撤并", "code"])
    assert not relocate & set(r.centres)
    sizes = r.assignment.value_counts()
    assert sizes.between(3, 8).all()


def test_village_auto_p_per_township():
    tw = synthetic_county(4, seed=9)
    vs = synthetic_villages(tw, villages_per_township=12, seed=10)
    vz = village_zones(vs.units, vs.travel_s, p="auto", time_limit=5)
    assert list(vz.groups["group"]) == list(pd.unique(vs.units["township_code"]))
    assert vz.groups["p"].between(2, 4).all()  # 12 villages in zones of 3–8
    assert (vz.groups["status"] == "optimal").all()


def test_village_cut_off_inside_its_group_is_linked_by_road():
    # a village whose every boundary link inside its township is lost (e.g. shared boundaries
    # shorter than the tolerance) would make the township's zoning infeasible: it is linked to
    # the nearest village of its group by road, with a finding, and the group is zoned
    tw = synthetic_county(4, seed=9)
    vs = synthetic_villages(tw, villages_per_township=12, seed=10)
    v, T = vs.units, vs.travel_s
    adj = adjacency(v, travel_s=T, layer="village", county=None)
    town = v["township_code"].to_numpy()
    e = adj.edges
    cut = int(e["i"].iloc[0])
    drop = ((e["i"] == cut) | (e["j"] == cut)) & (town[e["i"]] == town[e["j"]])
    assert drop.any()
    broken = Adjacency(adj.codes, e[~drop].reset_index(drop=True), adj.shared, adj.perimeter_m, adj.area_m2, [])
    vz = village_zones(v, T, adjacency=broken, p="size", time_limit=5)
    assert vz.result.feasible and (vz.groups["status"].isin(["optimal", "feasible"])).all()
    f = [f for f in vz.result.explanation if f.rule == "zoning.village.island_in_group"]
    assert len(f) == 1 and f[0].params["units"].split("、") == [v["code"].iloc[cut]]
    assert f[0].params["group"] == town[cut] and f[0].params["nearest"] in set(v.loc[town == town[cut], "code"])
    assert v["code"].iloc[cut] in f[0].message("zh") and f[0].params["nearest"] in f[0].message("en")
    # the division is contiguous once the road link is counted, and only then
    linked = broken.with_edges([(f[0].feature, f[0].params["nearest"])], kind="road_link")
    check_division(v, linked, vz.result.assignment)
    members = vz.result.assignment[vz.result.assignment == vz.result.assignment[v["code"].iloc[cut]]]
    assert len(members) >= 3  # it joined a zone of its group rather than standing alone
