"""Village-level zones inside township-level zones."""

import pandas as pd
from zoning_helpers import check_division

from pianqu.zoning import adjacency, delineate
from pianqu.zoning.synthetic import synthetic_county, synthetic_villages
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
