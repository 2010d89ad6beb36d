"""Real names, codes and membership; population sums equal the 2020 census."""

from __future__ import annotations

import numpy as np

from pianqu import divisions


def test_townships_and_villages_equal_shared_data(built):
    code = built.geo.code
    tw, vl = built.layers["township"], built.layers["village"]
    real_t = divisions.townships(code).sort_values("code")
    real_v = divisions.villages(code).sort_values("code")
    assert len(tw) == len(real_t) and len(vl) == len(real_v)
    assert list(tw["code"]) == list(real_t["code"])
    assert list(tw["name"]) == list(real_t["name"])
    assert list(tw["kind"]) == list(real_t["kind"])
    assert list(vl["code"]) == list(real_v["code"])
    assert list(vl["name"]) == list(real_v["name"])
    assert list(vl["township_code"]) == list(real_v["township_code"])
    assert (tw["county_code"] == code).all()
    assert all(v.startswith(t) for v, t in zip(vl["code"], vl["township_code"]))


def test_population_sums_equal_census(built):
    code = built.geo.code
    census = divisions.census(code)
    tw, vl, county = built.layers["township"], built.layers["village"], built.layers["county"]
    assert int(tw["population"].sum()) == census["population"]
    assert int(county["population"].iloc[0]) == census["population"]
    assert int(county["urban_population"].iloc[0]) == census["urban"]
    by_t = vl.groupby("township_code")["population"].sum()
    assert (by_t.reindex(tw["code"]).to_numpy() == tw["population"].to_numpy()).all()
    assert (vl["population"] > 0).all() and (vl["households"] > 0).all()
    # households follow the census household size
    size = vl["population"].sum() / vl["households"].sum()
    assert abs(size - census["population"] / census["households"]) < 0.35


def test_seat_township_largest_and_urban_people_in_seats(built):
    tw, st = built.layers["township"], built.layers["settlement"]
    seat = st[st["level"] == "county_seat"].iloc[0]
    pop = tw.set_index("code")["population"]
    assert pop[seat["township_code"]] == pop.max()
    assert (pop.drop(seat["township_code"]) < pop[seat["township_code"]]).all()
    census = divisions.census(built.geo.code)
    towns = st[st["level"] == "town_seat"]
    assert int(towns["population"].sum()) == census["urban"]  # urban people live in the seats
    assert seat["population"] >= towns["population"].max()


def test_village_classes_plausible(built):
    vl = built.layers["village"]
    share = vl["village_class"].value_counts(normalize=True)
    assert set(share.index) <= {"集聚提升", "城郊融合", "特色保护", "搬迁撤并"}
    if len(vl) > 80:  # a county with countryside has all four, 集聚提升 the most common
        assert set(share.index) == {"集聚提升", "城郊融合", "特色保护", "搬迁撤并"}
        assert share.idxmax() in ("集聚提升", "城郊融合")
        assert share["搬迁撤并"] < 0.2
    # 搬迁撤并 villages are the remote, small ones: smaller than the median village
    rel = vl[vl["village_class"] == "搬迁撤并"]
    if len(rel) >= 5:
        assert rel["population"].median() < vl["population"].median()
