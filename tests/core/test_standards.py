"""Standards as data: code tables, the 三调 mapping, thresholds with their sources."""

import pandas as pd
import pytest

from pianqu import standards as st


def test_landuse_2023_table_examples_from_domain():
    t = st.landuse_codes(2023)
    assert st.landuse_name("0403") == "其他草地"
    assert st.landuse_name("0404") is None  # not a 2023 code
    assert st.landuse_name("0602") == "设施农用地"
    row = t.set_index("code").loc["060201"]
    assert row["parent"] == "0602" and row["level"] == 3
    assert t["code"].is_unique
    # every parent exists and every child's code starts with its parent's
    parents = t[t["parent"] != ""]
    assert parents["parent"].isin(t["code"]).all()
    assert all(c.startswith(p) for c, p in zip(parents["code"], parents["parent"]))
    assert set(t["sureness"]) <= {"read", "recalled", "inferred"}


def test_landuse_2020_differs_where_domain_says():
    t20 = st.landuse_codes(2020).set_index("code")["name"]
    t23 = st.landuse_codes(2023).set_index("code")["name"]
    assert t20["0601"] == "乡村道路用地" and t23["0601"] == "农村道路"
    assert "2302" in t20 and t20["2302"] == "田坎" and t23["2302"] == "后备耕地"
    assert "0205" not in t20 and "0604" in t20
    with pytest.raises(ValueError, match="version"):
        st.landuse_codes(2019)


def test_sandiao_conversion_clean_and_review():
    codes = pd.Series(["1006", "1202", "0702", "0305", "0204", "05H1", "0201K", "9999", None])
    out = st.convert_sandiao(codes)
    assert out["code"].tolist()[:5] == ["0601", "0602", "0703", "0303", "0205"]
    assert out.loc[4, "name"] == "其他园地"
    assert out.loc[5, "code"] == "" and "0901" in out.loc[5, "review"]
    assert out.loc[6, "code"] == "0201" and out.loc[6, "review"] == ""
    assert out.loc[7, "code"] == "" and out.loc[7, "review"] == "unknown 三调 code"
    assert out.loc[8, "review"] == "unknown 三调 code"
    # every clean target is a real 2023 code
    m = st.sandiao_mapping()
    targets = m.loc[m["target"] != "", "target"]
    assert targets.isin(st.landuse_codes(2023)["code"]).all()


def test_area_units_mu():
    u = st.area_units().set_index("unit")["m2"]
    assert 666.6667 / u["mu"] == pytest.approx(1.0, abs=1e-7)
    assert u["ha"] == 10_000 and u["km2"] == 1_000_000


def test_facility_kinds_and_roads_are_controlled_lists():
    fk = st.facility_kinds()
    assert fk["kind"].is_unique and set(fk["level"]) == {"zone", "township", "village"}
    # the policy's three-level elderly/children rule is expressible
    for kind in ("regional_elderly_centre", "elderly_daycare", "minor_protection_station",
                 "village_elderly_facility", "minor_protection_point", "children_home"):
        assert kind in set(fk["kind"])
    rc = st.road_classes()
    assert rc.sort_values("rank")["speed_kmh"].is_monotonic_decreasing


def test_every_threshold_has_source_and_sureness():
    th = st.default_thresholds()
    assert th["land.reserve_quota_max_share"].value == 0.05
    for t in th.values():
        assert t.source and t.sureness in {"read", "recalled", "inferred"} and t.unit, t.key


def test_catalogue_tables_all_present():
    cat = st.catalogue()
    assert {"landuse_2023", "sandiao_mapping", "facility_kinds", "road_classes", "thresholds"} <= set(cat)
    assert all(len(df) for df in cat.values())
