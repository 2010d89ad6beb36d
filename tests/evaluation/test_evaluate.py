"""Every indicator of the catalogue against a value computed by hand on the small county of
``county.py``; traffic-light boundaries; the second epoch's trend as constructed."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pyproj import Geod

from evaluation_county import COUNTY, T1, T2, V11, V12, V21, write_county
from pianqu.evaluation import LIGHTS, catalogue, evaluate, light, theil

GEOD = Geod(ellps="GRS80")


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    return write_county(tmp_path_factory.mktemp("ev") / f"{COUNTY}.gpkg")


@pytest.fixture(scope="module")
def ev(ws):
    return evaluate(ws, "plan")


def value(ev, ind, level="county", unit=None):
    t = ev.table
    row = t[(t["indicator"] == ind) & (t["level"] == level) & (t["unit_code"] == (unit or COUNTY if level == "county"
                                                                               else unit))]
    assert len(row) == 1, (ind, level, unit, row)
    return row.iloc[0]


def geod_ha(layer, ws):
    g = ws.read(layer).geometry.iloc[0]
    return abs(GEOD.geometry_area_perimeter(g)[0]) / 1e4


# the county's values, each summed by hand from county.py (2025 epoch unless said)
EXPECTED = {
    # ΣTBDLMJ of 01: P1 90 000 + P4a 60 000 + P7 45 000 m²
    "farmland_area": (19.5, 20.0, "red"),
    # 0301 200 000 + 0303 60 000 + 0302 30 000 m²
    "forest_area": (29.0, 29.0, "green"),
    # (0301 + 0302) 230 000 m² ÷ 2 × 16 km²
    "forest_cover": (230_000 / 32e6, 230_000 / 32e6, "green"),
    # construction with 城镇村属性码 202/203: P3 50 000 + P6 40 000 + P4b 20 000 + P9 45 000 + P10 70 000 + P11 10 000
    "urban_rural_land": (23.5, 21.5, "red"),
    # 203 construction 155 000 m² ÷ (7 500 − 3 000) rural residents
    "village_land_per_capita": (155_000 / 4500, 150.0, "green"),
    # seats at 1 000 m (6 min), ~3 000 m + 600 m off the road, 5 500 m (33 min) at 10 km/h: 2 of 3 行政村
    "hospital_30min_villages": (2 / 3, 1.0, "red"),
    # V12's seat is 600 m from the road (> 500 m)
    "graded_road_villages": (2 / 3, 1.0, "red"),
    "fire_5min_coverage": (6000 / 7500, 1.0, "red"),
    # (6 000 + 4 500) m² ÷ 7 500
    "shelter_area_per_capita": (10_500 / 7500, 1.5, "red"),
    "violation_events": (2, 0, "red"),
    "farmland_tickets": (1, 0, "red"),
    "farmland_ticket_area": (2.0, 0.0, "red"),
    # T1 0.8 × 3 000, T2 0.95 × 4 500 weighted: 0.89, within 5 % of 0.9
    "tap_water_rate": (0.89, 0.9, "yellow"),
    "refuse_treatment_rate": (0.95, 0.9, "green"),
    "urban_rural_income_ratio": (2.0, 2.5, "green"),
    "zone_count": (2, np.nan, "none"),
    "school_districts": (3, 2, "red"),
    "zone_elderly_centre_share": (0.5, 1.0, "red"),
    "village_children_home_share": (0.75, 1.0, "red"),
    "direct_link_share": (0.75, 1.0, "red"),
    "dead_end_roads": (1, 0, "red"),
    "bottleneck_roads": (0, 0, "green"),
    "telecom_4g_villages": (1.0, 1.0, "green"),
    "telecom_5g_villages": (0.25, 1.0, "red"),
    # 甲镇 (central town) 3 000 of 7 500
    "central_town_population_share": (0.4, np.nan, "none"),
    # both zones grow tea and touch
    "distinct_specialty_share": (0.0, 1.0, "red"),
    "open_conflicts": (2, 0, "red"),
    "expansion_ratio": (1.35, 1.3, "red"),
    "reserve_share": (0.04, 0.05, "green"),
}


def test_every_indicator_has_a_hand_computed_value(ev, ws):
    ids = set(catalogue()["id"])
    checked = set(EXPECTED) | {"pbf_area", "redline_area", "income_theil", "access_theil",
                               "township_daycare_share", "township_minor_station_share", "village_elderly_share",
                               "village_minor_point_share"}
    assert ids == checked
    for ind, (v, target, lt) in EXPECTED.items():
        row = value(ev, ind)
        assert row["value"] == pytest.approx(v, rel=1e-9, abs=1e-12), ind
        if np.isnan(target):
            assert np.isnan(row["target"]), ind
        else:
            assert row["target"] == pytest.approx(target), ind
        assert row["light"] == lt, ind


def test_control_line_areas_are_ellipsoidal(ev, ws):
    pbf = value(ev, "pbf_area")
    assert pbf["value"] == pytest.approx(geod_ha("farmland_pbf", ws), rel=1e-6)
    assert (pbf["target"], pbf["target_source"], pbf["light"]) == (3.9, "targets:市级下达", "green")
    red = value(ev, "redline_area")
    assert red["value"] == pytest.approx(geod_ha("eco_redline", ws), rel=1e-6)
    assert red["target_source"] == "quota:rule" and red["light"] == "green"  # ~100 ha ≥ the plan's 99 ha
    # by zone: the red line lies in T2's zone
    assert value(ev, "redline_area", "zone", T2)["value"] == pytest.approx(red["value"], rel=1e-6)
    assert value(ev, "redline_area", "zone", T1)["value"] == pytest.approx(0.0, abs=1e-9)


def test_theil_indices_by_hand(ev):
    def t(xs, ws):
        mu = sum(x * w for x, w in zip(xs, ws)) / sum(ws)
        return sum(w / sum(ws) * x / mu * math.log(x / mu) for x, w in zip(xs, ws))
    assert value(ev, "income_theil")["value"] == pytest.approx(t([20_000, 30_000], [3000, 4500]))
    assert value(ev, "access_theil")["value"] == pytest.approx(t([0.75, 1.0], [3000, 4500]))
    assert theil([5, 5, 5], [1, 2, 3]) == 0.0


def test_missing_inputs_are_said_not_guessed(ev):
    for ind in ("township_daycare_share", "township_minor_station_share", "village_elderly_share"):
        row = value(ev, ind)
        assert np.isnan(row["value"]) and row["light"] == "none" and row["need"] == "plan:service_presence"
    no_data = [f for f in ev.findings if f.rule == "evaluation.no_data"]
    assert {f.feature for f in no_data} >= {"township_daycare_share", "village_minor_point_share"}
    assert "pianqu plan" in no_data[0].action("zh") and "pianqu plan" in no_data[0].action("en")


def test_levels_by_hand(ev):
    assert value(ev, "farmland_area", "township", T1)["value"] == pytest.approx(15.0)  # 90 000 + 60 000
    assert value(ev, "farmland_area", "township", T2)["value"] == pytest.approx(4.5)
    assert value(ev, "farmland_area", "zone", T1)["value"] == pytest.approx(15.0)
    assert value(ev, "urban_rural_land", "township", T2)["value"] == pytest.approx(12.5)
    assert value(ev, "village_land_per_capita", "village", V11)["value"] == pytest.approx(50.0)
    assert value(ev, "village_land_per_capita", "village", V12)["value"] == pytest.approx(30.0)
    assert value(ev, "hospital_30min_villages", "zone", T1)["value"] == pytest.approx(1.0)
    assert value(ev, "hospital_30min_villages", "zone", T2)["value"] == pytest.approx(0.0)
    assert value(ev, "forest_cover", "township", T1)["value"] == pytest.approx(200_000 / 16e6)
    assert value(ev, "tap_water_rate", "township", T1)["value"] == pytest.approx(0.8)
    assert value(ev, "shelter_area_per_capita", "zone", T2)["value"] == pytest.approx(1.0)
    assert value(ev, "village_children_home_share", "zone", T1)["value"] == pytest.approx(0.5)
    assert value(ev, "farmland_tickets", "township", T1)["value"] == 1


def test_drivers_behind_red_lights(ev):
    assert ev.drivers("hospital_30min_villages")["feature"].tolist() == [V21]
    assert ev.drivers("graded_road_villages")["feature"].tolist() == [V12]
    assert ev.drivers("graded_road_villages")["value"].iloc[0] == pytest.approx(600.0, rel=1e-3)
    assert ev.drivers("fire_5min_coverage")["feature"].tolist() == [V21]
    assert ev.drivers("farmland_area")["feature"].tolist() == ["2025P4b"]
    assert sorted(ev.drivers("open_conflicts")["feature"]) == ["CF-1", "CF-3"]
    assert ev.drivers("dead_end_roads")["feature"].tolist() == ["R1"]
    assert ev.drivers("village_children_home_share")["feature"].tolist() == [V12]
    assert sorted(ev.drivers("telecom_5g_villages")["feature"]) == sorted([V12, V21, "511999101002"])
    assert ev.drivers("shelter_area_per_capita")["feature"].tolist() == [T2]
    assert ev.drivers("farmland_tickets")["feature"].tolist() == ["2025P4b"]
    assert ev.driver_features.crs.to_epsg() == 4490
    assert value(ev, "open_conflicts")["drivers"] == 2


def test_second_epoch_changes_the_trend_as_constructed(ws, ev):
    far = value(ev, "farmland_area")
    assert (far["previous"], far["trend"], far["previous_epoch"]) == (pytest.approx(21.5), pytest.approx(-2.0), 2023)
    assert value(ev, "urban_rural_land")["trend"] == pytest.approx(2.0)
    assert value(ev, "village_land_per_capita")["trend"] == pytest.approx(155_000 / 4500 - 135_000 / 4500)
    assert value(ev, "forest_area")["trend"] == pytest.approx(0.0)
    assert np.isnan(value(ev, "fire_5min_coverage")["trend"])  # not a land indicator: no trend
    first = evaluate(ws, "plan", epoch=2023)
    assert value(first, "farmland_area")["value"] == pytest.approx(21.5)
    assert np.isnan(value(first, "farmland_area")["trend"])
    # without the targets table, the base epoch is the floor: 2025 lost 2 ha of it
    assert value(first, "urban_rural_land")["light"] == "none"  # the base epoch itself has no earlier floor


def test_targets_and_band_from_configuration(tmp_path):
    ws = write_county(tmp_path / f"{COUNTY}.gpkg", plan=False, toml=(
        "[thresholds]\n\"evaluation.village_land_per_capita_max_m2\" = 40.0\n"
        "\"evaluation.warning_band\" = 0.0\n"))
    ev = evaluate(ws)
    assert value(ev, "village_land_per_capita")["light"] == "green"  # 34.4 ≤ 40
    assert value(ev, "village_land_per_capita", "village", V11)["light"] == "red"  # 50 > 40
    assert ev.drivers("village_land_per_capita")["feature"].tolist() == [V11]
    assert value(ev, "tap_water_rate")["light"] == "red"  # no band: 0.89 < 0.9
    assert value(ev, "zone_count")["need"] == "plan:zone"  # no scenario: plan indicators are 无数据
    assert value(ev, "hospital_30min_villages")["value"] == pytest.approx(2 / 3)  # base layers only


@pytest.mark.parametrize("v,target,direction,band,expected", [
    (100, 100, "higher", 0.05, "green"),
    (95, 100, "higher", 0.05, "yellow"),        # exactly at the band's edge
    (94.999, 100, "higher", 0.05, "red"),
    (99.99, 100, "higher", 0.0, "red"),         # 约束性: any shortfall
    (1.3, 1.3, "lower", 0.0, "green"),
    (1.365, 1.3, "lower", 0.05, "yellow"),
    (1.3651, 1.3, "lower", 0.05, "red"),
    (0, 0, "lower", 0.05, "green"),
    (1, 0, "lower", 0.05, "red"),               # a zero ceiling has no band
    (np.nan, 1, "higher", 0.05, "none"),
    (1, np.nan, "higher", 0.05, "none"),
    (1, 1, "none", 0.05, "none"),
])
def test_light_boundaries(v, target, direction, band, expected):
    assert light(v, target, direction, band) == expected
    assert expected in LIGHTS


def test_layers_written_in_one_transaction(tmp_path):
    ws = write_county(tmp_path / f"{COUNTY}.gpkg")
    ev = evaluate(ws, "plan")
    before = len(ws.audit())
    ev.write(ws)
    audit = ws.audit().iloc[before:]
    assert set(audit["layer"]) == {"indicator", "indicator_driver"} and set(audit["command"]) == {"evaluate"}
    back = ws.read("indicator", "plan")
    assert len(back) == len(ev.table)
    assert set(ws.read("indicator_driver", "plan")["indicator"]) == set(ev.driver_features["indicator"])


def test_json_document_for_the_web(ev):
    import json

    doc = json.loads(json.dumps(ev.to_dict()))
    assert doc["county"] == COUNTY and doc["epoch"] == 2025 and sum(doc["lights"].values()) == len(ev.county())
    assert len(doc["indicators"]) == len(ev.table)
    assert doc["drivers"]["type"] == "FeatureCollection" and len(doc["drivers"]["features"]) == len(ev.driver_features)
