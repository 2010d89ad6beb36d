"""Location quotients, leading specialty per zone (staggered), structure similarity, warnings."""

import numpy as np
import pandas as pd
import pytest

from pianqu.industry import leading_specialties, location_quotients, zone_neighbours
from pianqu.standards import industries


def economy(rows):
    return pd.DataFrame(rows, columns=["township_code", "sector", "output", "employment", "year"])


ECO = economy([
    ("t1", "tea", 80, 10, 2023), ("t1", "grain_oil", 20, 10, 2023),
    ("t2", "tea", 40, 10, 2023), ("t2", "liquor", 60, 10, 2023),
    ("t3", "tea", 50, 10, 2023), ("t3", "grain_oil", 150, 10, 2023),
    ("t4", "culture_tourism", 100, 10, 2023), ("t4", "tea", 0, 10, 2023),
    ("t1", "tea", 999, 10, 2022),  # an older year is ignored
])
ZONES = {"t1": "A", "t2": "A", "t3": "B", "t4": "B"}


def test_location_quotients_by_hand():
    lq, share = location_quotients(ECO, ZONES)
    # A: tea 120, grain 20, liquor 60 (200); B: tea 50, grain 150, tourism 100 (300); total 500
    assert share.loc["A", "tea"] == pytest.approx(120 / 200)
    assert lq.loc["A", "tea"] == pytest.approx((120 / 200) / (170 / 500))
    assert lq.loc["B", "grain_oil"] == pytest.approx((150 / 300) / (170 / 500))
    assert lq.loc["A", "liquor"] == pytest.approx((60 / 200) / (60 / 500))
    # the employment-weighted reference differs
    lq_e, _ = location_quotients(ECO, ZONES, measure="employment")
    assert lq_e.loc["A", "tea"] == pytest.approx((20 / 40) / (40 / 80))
    assert lq_e.loc["A", "liquor"] == pytest.approx((10 / 40) / (10 / 80))


def test_leading_and_staggering():
    sp = leading_specialties(ECO, ZONES, neighbours=[("A", "B")])
    lead = sp.leading.set_index("zone")
    assert set(sp.leading["sector"]) <= set(industries()["id"])
    # A: tea LQ 1.76 × share 0.6 = 1.06 beats liquor 2.5 × 0.3 = 0.75;
    # B: grain LQ 1.47 × 0.5 = 0.74 beats tourism 1.67 × 0.33 = 0.56
    assert lead.loc["A", "sector"] == "tea" and lead.loc["A", "name_zh"] == "川茶"
    assert lead.loc["B", "sector"] == "grain_oil" and lead.loc["B", "runner_up"] == "culture_tourism"
    assert not [f for f in sp.findings if f.rule == "zoning.industry.same_specialty"]
    row = sp.similarity.iloc[0]
    va, vb = sp.shares.loc["A"].to_numpy(), sp.shares.loc["B"].to_numpy()
    assert row["cosine"] == pytest.approx(va @ vb / np.linalg.norm(va) / np.linalg.norm(vb))
    assert row["krugman"] == pytest.approx(np.abs(va - vb).sum())


def test_same_specialty_is_staggered_or_warned():
    eco = economy([("a", "tea", 90, 1, 2023), ("a", "grain_oil", 10, 1, 2023),
                   ("b", "tea", 70, 1, 2023), ("b", "fruit", 30, 1, 2023),
                   ("c", "grain_oil", 100, 1, 2023)])
    zones = {"a": "Z1", "b": "Z2", "c": "Z3"}
    # Z2 leads with tea too, but fruit qualifies: it switches (the weaker tea zone gives way)
    sp = leading_specialties(eco, zones, neighbours=[("Z1", "Z2"), ("Z2", "Z3")])
    lead = sp.leading.set_index("zone")["sector"]
    assert lead["Z1"] == "tea" and lead["Z2"] == "fruit"
    # without staggering the clash is kept and warned about, naming both zones
    sp = leading_specialties(eco, zones, neighbours=[("Z1", "Z2")], stagger=False)
    w = [f for f in sp.findings if f.rule == "zoning.industry.same_specialty"]
    assert len(w) == 1 and {w[0].feature, w[0].params["other"]} == {"Z1", "Z2"}
    assert "川茶" in w[0].message("zh")


def test_no_specialty_and_bad_rows():
    # Z2's fish has LQ 1.98 but only 1 % of its output (< zoning.industry_share_min): no specialty
    eco = economy([("a", "tea", 50, 1, 2023), ("a", "fruit", 50, 1, 2023),
                   ("b", "tea", 50, 1, 2023), ("b", "fruit", 50, 1, 2023), ("b", "fish", 1, 1, 2023)])
    sp = leading_specialties(eco, {"a": "Z1", "b": "Z2"}, neighbours=[("Z1", "Z2")])
    assert sp.leading.set_index("zone").loc["Z2", "sector"] != "fish"
    sim = [f for f in sp.findings if f.rule == "zoning.industry.similar_structure"]
    assert len(sim) == 1 and sim[0].params["cosine"] > 0.99  # near-identical structures
    # Z1: tea 96 (LQ 0.98), fish 4 (LQ 2 but 4 % of output): nothing qualifies
    eco = economy([("a", "tea", 96, 1, 2023), ("a", "fish", 4, 1, 2023), ("b", "tea", 100, 1, 2023)])
    sp = leading_specialties(eco, {"a": "Z1", "b": "Z2"})
    lead = sp.leading.set_index("zone")
    assert lead.loc["Z1", "sector"] == "" and lead.loc["Z2", "sector"] == "tea"  # Z2 tea LQ 1.02
    assert [(f.rule, f.feature) for f in sp.findings] == [("zoning.industry.no_specialty", "Z1")]
    bad = economy([("a", "rice", 5, 1, 2023)])
    with pytest.raises(ValueError, match="sector 'rice'.*controlled vocabulary"):
        leading_specialties(bad, {"a": "Z1"})
    bad = economy([("a", "tea", -5, 1, 2023)])
    with pytest.raises(ValueError, match="township a.*output"):
        leading_specialties(bad, {"a": "Z1"})


def test_zone_neighbours_from_unit_edges():
    edges = pd.DataFrame({"code_i": ["t1", "t2", "t3"], "code_j": ["t2", "t3", "t4"]})
    assert zone_neighbours(pd.Series(ZONES), edges) == [("A", "B")]
