"""The shipped real data equals the NBS lists and the census (counts checked against SOURCES.md)."""

from pianqu import divisions as d


def test_counts_match_sources():
    assert len(d.counties()) == 183
    assert len(d.townships()) == 3111
    assert len(d.villages()) == 34412
    assert d.townships()["code"].is_unique and d.villages()["code"].is_unique


def test_tongjiang():
    assert d.county("511921")["name"] == "通江县"
    t = d.townships("511921")
    v = d.villages("511921")
    assert len(t) == 33 and "诺江镇" in set(t["name"])
    assert len(v) == 367
    assert v["code"].str[:9].isin(t["code"]).all()
    assert (v["township_code"] == v["code"].str[:9]).all()
    assert len(d.townships_2018("511921")) == 49  # before the 2019–2020 merger
    c = d.census("511921")
    assert c["population"] == 521875 and c["urban"] + c["rural"] == c["population"]


def test_names_and_kinds():
    assert d.short_village_name("大树村村民委员会") == "大树村"
    assert d.short_village_name("城南社区居民委员会") == "城南社区"
    assert d.village_kind("城南社区居民委员会") == "社区"
    assert d.township_kind("壁州街道") == "街道" and d.township_kind("松溪乡") == "乡"


def test_every_county_has_census_even_when_renamed():
    assert d.census("513402")["population"] > 0  # 会理市, 会理县 in the 2020 census
    assert all(d.census(code)["population"] > 0 for code in d.counties()["code"])
