"""Presence rules at three levels and the central-town list: a hand count on a small county,
an independent count (pandas) on the default county, rules as data, bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pianqu.services import ServicesInputError, Zones, prepare_facilities, presence_check, presence_rules
from pianqu.services.common import kind_table

pytest.register_assert_rewrite("services_fixtures")
import services_fixtures as SF  # noqa: E402

pytest_plugins = ["services_fixtures"]

T = SF.TOWNSHIPS
V = SF.village_code


@pytest.fixture(scope="module")
def small():
    layers = SF.small_county()
    zones = SF.small_zones()
    fac, findings = prepare_facilities(layers["facility"], townships=layers["township"], villages=layers["village"],
                                       zones=zones)
    return layers, zones, fac, findings, presence_check(fac, townships=layers["township"],
                                                        villages=layers["village"], zones=zones)


def _missing(res, rule):
    m = res.missing
    return sorted(m.loc[m["rule"] == rule, "unit"])


def test_hand_count_of_missing_facilities(small):
    layers, zones, fac, findings, res = small
    # written out by hand from the fixture's FACILITIES table
    assert _missing(res, "zone_elderly_centre") == ["Z2", "Z3"]
    assert _missing(res, "township_daycare") == [T[1], T[2], T[4], T[5]]
    assert _missing(res, "township_minor_station") == [T[0], T[2], T[3], T[4], T[5]]
    assert _missing(res, "village_children_home") == sorted(
        [V(1, 1), V(2, 1), V(3, 0), V(3, 1), V(4, 0), V(4, 1), V(5, 0), V(5, 1)])
    assert _missing(res, "village_elderly") == sorted(V(t, h) for t in range(6) for h in (0, 1))
    # the regional school of Z2 stands in T5, not in the centre town T4: it does not count
    assert _missing(res, "centre_school") == [T[3], T[5]]
    assert _missing(res, "zone_shelter") == ["Z3"]
    assert _missing(res, "zone_reserve") == ["Z1", "Z2"]
    status = res.status.set_index(["rule", "unit"])
    assert status.loc[("village_children_home", V(0, 0)), "present"] == 1
    assert status.loc[("zone_elderly_centre", "Z1"), "present"] == 1
    # the summary adds up
    s = res.summary().set_index("rule")
    assert s.loc["village_children_home", "units"] == 12 and s.loc["village_children_home", "units_missing"] == 8
    assert (s["units_ok"] + s["units_missing"] == s["units"]).all()


def test_facility_without_codes_is_placed_by_its_polygon(small):
    layers, zones, fac, findings, res = small
    row = fac.set_index("id").loc["F_blank"]
    assert row["village_code"] == V(1, 0) and row["township_code"] == T[1] and row["zone"] == "Z1"
    assert not [f for f in findings if f.rule == "services.facility_unplaced"]


def test_matrix_is_what_is_missing_where(small):
    res = small[4]
    m = res.matrix("township")
    assert m.shape[0] == 6
    assert m.xs(T[0], level="unit")["elderly_daycare"].iloc[0] == 1
    assert m.xs(T[1], level="unit")["elderly_daycare"].iloc[0] == 0


def test_findings_speak_both_languages(small):
    res = small[4]
    f = next(f for f in res.findings if f.rule == "services.presence.village" and "童伴" in f.message("zh"))
    # the kind is a parameter said in the reader's language, not a stored text
    assert not any("\u4e00" <= ch <= "\u9fff" for ch in f.message("en").split(":")[0])
    assert "8" in f.message("zh") and "12" in f.message("zh")
    assert f.message("en").startswith("8 of 12 villages")
    assert f.action("zh")


def test_rules_are_data_with_sources():
    rules = presence_rules()
    assert set(rules["level"]) == {"zone", "central_town", "township", "village"}
    assert (rules["source"] != "").all() and rules["sureness"].isin(["read", "recalled", "inferred"]).all()
    assert set(rules["kind"]) <= set(kind_table().index)
    # the seed §二(五) three-level rules are all there, as read
    seed = rules[rules["group"] == "elderly_children"].set_index("kind")["level"].to_dict()
    assert seed == {"regional_elderly_centre": "zone", "elderly_daycare": "township",
                    "minor_protection_station": "township", "village_elderly_facility": "village",
                    "minor_protection_point": "village", "children_home": "village"}
    assert set(rules.loc[rules["level"] == "central_town", "kind"]) == {
        "regional_school", "health_centre", "elderly_home", "fire_station", "culture_station"}


def test_custom_rules_and_bad_rules(small):
    layers, zones, fac, _, _ = small
    custom = pd.DataFrame({"rule": ["two_homes"], "level": ["township"], "kind": ["children_home"],
                           "min_count": ["2"]})
    res = presence_check(fac, townships=layers["township"], villages=layers["village"], zones=zones,
                         rules=presence_rules(custom))
    # T1 has two children's homes (F04, F05), T2 one (F_blank), T3 one (F06)
    assert _missing(res, "two_homes") == [T[1], T[2], T[3], T[4], T[5]]
    assert res.status.set_index("unit").loc[T[1], "missing"] == 1
    with pytest.raises(ServicesInputError, match="rule 'x'.*level 'county'"):
        presence_rules(pd.DataFrame({"rule": ["x"], "level": ["county"], "kind": ["court"], "min_count": ["1"]}))
    with pytest.raises(ServicesInputError, match="kind 'gym'"):
        presence_rules(pd.DataFrame({"rule": ["x"], "level": ["zone"], "kind": ["gym"], "min_count": ["1"]}))


def test_zone_input_errors():
    with pytest.raises(ServicesInputError, match="centre township 'b'.*not a member"):
        Zones({"a": "Z1", "b": "Z2"}, {"Z1": "b"})
    with pytest.raises(ServicesInputError, match="listed twice"):
        Zones.from_frame(pd.DataFrame({"code": ["a", "a"], "zone": ["1", "2"]}))
    z = Zones.from_frame(pd.DataFrame({"code": ["a", "b", "c"], "zone": [1, 1, 2], "is_centre": [True, False, True]}))
    assert z.centres == {"1": "a", "2": "c"} and len(z) == 2
    layers = SF.small_county()
    f = Zones({T[0]: "Z1"}).check(layers["township"])
    assert {x.feature for x in f if x.rule == "services.zone_missing_township"} == set(T[1:])


def test_bad_facility_layer():
    layers = SF.small_county()
    fac = layers["facility"].copy()
    fac.loc[2, "id"] = "F01"
    with pytest.raises(ServicesInputError) as err:
        prepare_facilities(fac, townships=layers["township"], villages=layers["village"])
    assert "layer 'facility': id 'F01' is used by more than one" in err.value.message("en")
    assert "编号“F01”被多个设施使用" in str(err.value)  # zh by default
    fac = layers["facility"].drop(columns="kind")
    with pytest.raises(ServicesInputError) as err:
        prepare_facilities(fac, townships=layers["township"])
    assert "field 'kind' is missing" in err.value.message("en")
    fac = layers["facility"].copy()
    fac.loc[0, "kind"] = "spa"
    _, findings = prepare_facilities(fac, townships=layers["township"], villages=layers["village"])
    bad = [f for f in findings if f.rule == "services.unknown_kind"]
    assert len(bad) == 1 and bad[0].feature == "F01" and "spa" in bad[0].message("en")
    assert layers["facility"].loc[0, "kind"] == "regional_elderly_centre"  # the user's data is not changed


def test_default_county_presence_matches_independent_count(default_county):
    layers, zones, _ = default_county
    fac, _ = prepare_facilities(layers["facility"], townships=layers["township"], villages=layers["village"],
                                zones=zones)
    res = presence_check(fac, townships=layers["township"], villages=layers["village"], zones=zones)
    f = layers["facility"]  # the synthesiser writes township and village codes: count with plain pandas
    tz = pd.Series(zones.township_zone)
    rules = presence_rules()
    for r in rules.itertuples():
        sel = f[f["kind"] == r.kind]
        if r.level == "village":
            units = layers["village"]["code"]
            counts = sel["village_code"].value_counts()
        elif r.level == "township":
            units = layers["township"]["code"]
            counts = sel["township_code"].value_counts()
        elif r.level == "zone":
            units = pd.Series(zones.ids)
            counts = sel["township_code"].map(tz).value_counts()
        else:
            units = pd.Series([zones.centres[z] for z in zones.ids])
            counts = sel["township_code"].value_counts()
        want = sorted(units[counts.reindex(units).fillna(0).to_numpy() < r.min_count])
        assert _missing(res, r.rule) == want, r.rule
    # realistic gaps: every level has something missing and something present
    s = res.summary()
    assert (s["units_missing"] > 0).any() and (s["units_ok"] > 0).all()
    assert np.isclose(s.loc[s["rule"] == "village_children_home", "units"].iloc[0], len(layers["village"]))
