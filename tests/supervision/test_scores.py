"""Scorecard arithmetic, competition ranking and the worst indicators on hand-built indicator
tables (the expected numbers are computed here by hand from the documented rule)."""

import numpy as np
import pandas as pd
import pytest

from pianqu.supervision import competition_rank, indicator_points, scorecards, worst_indicators
from pianqu.standards import table

# Default weights (standards/supervision_weights.csv): 约束性 3, 预期性 1, no direction 0.
W = {"farmland_area": 3.0, "tap_water_rate": 1.0, "forest_cover": 1.0, "refuse_treatment_rate": 1.0,
     "zone_count": 0.0, "violation_events": 3.0}


def _rows(county, lights, values=None):
    values = values or {}
    return [{"county_code": county, "indicator": ind, "level": "county", "light": lt,
             "value": values.get(ind, (1.0, 1.0))[0], "target": values.get(ind, (1.0, 1.0))[1],
             "direction": "none" if ind == "zone_count" else ("lower" if ind == "violation_events" else "higher"),
             "name_zh": ind, "name_en": ind, "kind": "", "unit": "", "drivers": 0}
            for ind, lt in lights.items()]


def test_default_weights_are_the_documented_ones():
    w = table("supervision_weights").set_index("id")["weight"]
    for ind, weight in W.items():
        assert w[ind] == weight
    cat = table("indicators").set_index("id")
    assert set(w.index) == set(cat.index)  # one weight per indicator of the catalogue


def test_scorecard_arithmetic_by_hand():
    ind = pd.DataFrame(_rows("510403", {"farmland_area": "green", "tap_water_rate": "yellow", "forest_cover": "red",
                                        "refuse_treatment_rate": "none", "zone_count": "none"}))
    card = scorecards(indicator_points(ind)).iloc[0]
    # (3×100 + 1×60 + 1×0) / (3 + 1 + 1) = 360 / 5 = 72.0; 无数据 and weight-0 rows are left out
    assert card["score"] == 72.0
    assert (card["green"], card["yellow"], card["red"], card["none"]) == (1, 1, 1, 1)
    assert card["scored"] == 3 and card["weight_scored"] == 5.0
    assert card["county_name"] == "西区" and card["city_name"] == "攀枝花市"


def test_rounding_before_ranking():
    # 2/3 of full marks: 66.666… → 66.7 at one decimal
    ind = pd.DataFrame(_rows("510402", {"tap_water_rate": "green", "forest_cover": "green", "refuse_treatment_rate": "red"}))
    assert scorecards(indicator_points(ind)).iloc[0]["score"] == 66.7


def test_competition_ranking_ties_within_city_and_province():
    rows = (_rows("510105", {"farmland_area": "green", "tap_water_rate": "red"})                   # 300/4 = 75
            + _rows("510104", {"farmland_area": "green", "tap_water_rate": "red"})                 # 75 (tie, 成都)
            + _rows("510402", {"farmland_area": "green", "tap_water_rate": "green"})               # 100
            + _rows("510403", {"farmland_area": "red", "tap_water_rate": "green"})                 # 100/4 = 25
            + _rows("510411", {"farmland_area": "yellow", "tap_water_rate": "yellow"}))            # 60
    card = scorecards(indicator_points(pd.DataFrame(rows))).set_index("county_code")
    assert card["score"].to_dict() == {"510402": 100.0, "510104": 75.0, "510105": 75.0, "510411": 60.0, "510403": 25.0}
    assert card["province_rank"].to_dict() == {"510402": 1, "510104": 2, "510105": 2, "510411": 4, "510403": 5}
    # 成都 (5101): the two tied counties are both first; 攀枝花 (5104): 100, 60, 25
    assert card["city_rank"].to_dict() == {"510402": 1, "510104": 1, "510105": 1, "510411": 2, "510403": 3}
    assert list(card.index) == ["510402", "510104", "510105", "510411", "510403"]


def test_competition_rank_1224_and_nan_last():
    s = pd.Series([90.0, 80.0, 80.0, 70.0, np.nan, 80.0])
    assert competition_rank(s).tolist() == [1, 2, 2, 5, 6, 2]
    assert competition_rank(pd.Series([3.0, 1.0, 1.0]), ascending=True).tolist() == [3, 1, 1]


def test_worst_indicators_order():
    ind = pd.DataFrame(_rows("510403", {
        "farmland_area": "yellow",        # lost 3 × 40 = 120
        "violation_events": "red",        # lost 3 × 100 = 300
        "tap_water_rate": "red",          # lost 1 × 100 = 100, shortfall 0.5
        "forest_cover": "red",            # lost 100, shortfall 0.2 → after tap water
        "refuse_treatment_rate": "green",
    }, values={"tap_water_rate": (0.45, 0.9), "forest_cover": (0.4, 0.5), "violation_events": (4.0, 0.0)}))
    pts = indicator_points(ind)
    worst = worst_indicators(pts)
    assert worst["indicator"].tolist() == ["violation_events", "farmland_area", "tap_water_rate"]
    sf = pts.set_index("indicator")["shortfall"]
    assert sf["tap_water_rate"] == pytest.approx(0.5) and sf["forest_cover"] == pytest.approx(0.2)
    assert sf["violation_events"] == pytest.approx(4.0)  # a ceiling of 0: the gap itself
    assert worst_indicators(pts, n=5)["indicator"].tolist()[-1] == "forest_cover"
