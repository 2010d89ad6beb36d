"""Safety checks counted by hand (shelters, fire jurisdictions, brigade classes, presence of the
governance facilities) and site proposals against brute force."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from pianqu.network import build_graph
from pianqu.services import (brigade_classes, candidate_sites, coverage, fire_jurisdictions, infrastructure_check,
                             prepare_facilities, propose_for_service, propose_sites, safety_presence,
                             shelter_capacity, shelter_check, travel_costs, village_demand)

pytest.register_assert_rewrite("services_fixtures")
import services_fixtures as SF  # noqa: E402

pytest_plugins = ["services_fixtures"]

T, V = SF.TOWNSHIPS, SF.village_code


@pytest.fixture(scope="module")
def small():
    layers = SF.small_county()
    zones = SF.small_zones()
    fac, _ = prepare_facilities(layers["facility"], townships=layers["township"], villages=layers["village"],
                                zones=zones)
    demand = village_demand(layers["village"], layers["settlement"], zones=zones)
    return layers, zones, fac, demand


def test_shelters_hand_count(small):
    layers, zones, fac, demand = small
    pop = demand.groupby("zone")["population"].sum()
    assert pop.to_dict() == {"Z1": 12300, "Z2": 18200, "Z3": 12100}
    per_zone, per_site, findings = shelter_check(fac, pop, zones=zones)
    z = per_zone.set_index("zone")
    # by hand: 15 % of the population; Z1 has 3000 places, Z2 500, Z3 none
    assert z["required"].to_dict() == pytest.approx({"Z1": 1845.0, "Z2": 2730.0, "Z3": 1815.0})
    assert z["ok"].to_dict() == {"Z1": True, "Z2": False, "Z3": False}
    assert z.loc["Z1", "area_per_person_m2"] == pytest.approx(6000 / 12300)
    assert sorted(f.feature for f in findings if f.rule == "services.shelter.capacity") == ["Z2", "Z3"]
    # F11 (1500 m²) is below the 2000 m² site area; both shelters have ≥ 1.5 m² per place
    assert [f.feature for f in findings if f.rule == "services.shelter.small_site"] == ["F11"]
    assert per_site["area_ok"].all()
    # a planned population overrides today's; capacity falls back to area ÷ 1.5 m²
    planned = {"Z1": 30000, "Z2": 3000, "Z3": 100}
    z2 = shelter_check(fac, planned, zones=zones)[0].set_index("zone")
    assert z2["ok"].to_dict() == {"Z1": False, "Z2": True, "Z3": False}
    f = fac[fac["id"] == "F10"].assign(capacity=np.nan)
    assert shelter_capacity(f)[0] == pytest.approx(4000.0)


def test_fire_jurisdictions_hand_case():
    demand = pd.DataFrame({"code": ["a", "b", "c", "d", "e"], "population": [100, 200, 300, 400, 50],
                           "area_m2": [3e6, 5e6, 1e6, 0.5e6, 2e6]})
    fac = pd.DataFrame({"id": ["S1", "B1", "X"], "kind": ["fire_station", "township_fire_brigade", "police_station"]})
    C = np.array([[60, 900, 10], [240, 600, 10], [700, 120, 10], [800, 200, 10], [np.inf, np.inf, 10]])
    table, findings = fire_jurisdictions(demand, fac, {"drive": C}, station_class={"S1": "class1"})
    t = table.set_index("id")
    # by hand: S1 reaches a, b first (8 km² > 7 km² of a class-1 station); B1 reaches c, d (1.5 km² ≤ 15)
    assert t.loc["S1", "villages"] == 2 and t.loc["S1", "area_km2"] == pytest.approx(8.0)
    assert not t.loc["S1", "area_ok"] and t.loc["B1", "area_ok"]
    assert t.loc["B1", "population"] == 700 and t.loc["B1", "max_time_min"] == pytest.approx(200 / 60)
    # within the 5-minute response standard: a (60 s), b (240 s), c (120 s), d (200 s)
    assert t.loc["S1", "population_within"] == 300 and t.loc["B1", "population_within"] == 700
    rules = sorted(f.rule for f in findings)
    assert rules == ["services.fire.jurisdiction", "services.fire.unreached"]
    assert next(f for f in findings if f.rule == "services.fire.unreached").feature == "e"


def test_brigade_classes_hand_case():
    fac = pd.DataFrame({"id": ["b1", "b2", "b3", "b4"], "kind": "township_fire_brigade",
                        "township_code": ["t1", "t2", "t3", "t4"], "area_m2": [900.0, 800.0, 600.0, np.nan]})
    table, findings = brigade_classes(fac, {"t1": 25000, "t2": 15000, "t3": 500, "t4": 100})
    assert table["class"].tolist() == ["class1", "class2", "volunteer", "volunteer"]
    assert table["status"].tolist() == ["small", "ok", "large", "unknown"]
    assert [f.feature for f in findings] == ["b1"]


def test_safety_and_governance_presence_hand_count(small):
    layers, zones, fac, demand = small
    res = safety_presence(fac, townships=layers["township"], villages=layers["village"], zones=zones)
    m = res.missing.groupby("rule")["unit"].apply(sorted).to_dict()
    assert m == {"zone_court": ["Z1", "Z2", "Z3"], "zone_fire": ["Z1", "Z2", "Z3"],
                 "zone_governance": ["Z1", "Z2", "Z3"], "zone_judicial": ["Z1", "Z2", "Z3"],
                 "zone_police": ["Z1", "Z2", "Z3"], "zone_reserve": ["Z1", "Z2"], "zone_shelter": ["Z3"]}


def test_infrastructure_through_presence_and_coverage(small):
    layers, zones, fac, demand = small
    costs = travel_costs(demand, fac, graph=build_graph(layers["road"]))
    res = infrastructure_check(fac, demand, costs, townships=layers["township"], villages=layers["village"],
                               zones=zones)
    t = res.table.set_index("service")
    # no infrastructure facility in the small county: every unit misses every one, nobody is covered
    assert t.loc["bus_stop", "units"] == 12 and t.loc["bus_stop", "units_missing"] == 12
    assert t.loc["sewage_plant", "mode"] == "straight" and t.loc["refuse_point", "mode"] == "walk"
    assert (t["coverage_share"] == 0).all() and (t["source"] != "").all()


def brute_cover(scaled, existing, w):
    """Fewest new sites covering every coverable demand, and the best (covered weight) with k new."""
    m = scaled.shape[1]
    ex = np.flatnonzero(existing)
    free = np.flatnonzero(~existing)
    coverable = (scaled <= 1).any(axis=1)
    for k in range(0, len(free) + 1):
        for combo in itertools.combinations(free, k):
            cov = (scaled[:, list(ex) + list(combo)] <= 1).any(axis=1) if k + len(ex) else np.zeros(len(w), bool)
            if (cov | ~coverable).all():
                return k
    return m


def brute_mclp(scaled, existing, w, k):
    ex = list(np.flatnonzero(existing))
    return max(w[(scaled[:, ex + list(c)] <= 1).any(axis=1)].sum()
               for c in itertools.combinations(np.flatnonzero(~existing), k))


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_siting_against_brute_force(seed):
    rng = np.random.default_rng(seed)
    n, m = 14, 9
    xy_d, xy_s = rng.uniform(0, 10, (n, 2)), rng.uniform(0, 10, (m, 2))
    C = np.hypot(*(xy_d[:, None, :] - xy_s[None, :, :]).transpose(2, 0, 1)) * 100
    C[rng.random((n, m)) < 0.15] = np.inf
    w = rng.integers(10, 100, n).astype(float)
    existing = np.zeros(m, bool)
    existing[:2] = True
    lim = np.where(np.arange(n) % 2, 300.0, 400.0)
    scaled = C / lim[:, None]
    res = propose_sites(w, C, existing, limit=lim, method="cover", max_new=m)
    assert len(res.new) == brute_cover(scaled, existing, w)
    assert not set(res.new) & {0, 1}
    coverable = (scaled <= 1).any(axis=1)
    assert res.covered_after == pytest.approx(w[coverable].sum())
    assert set(res.uncoverable) == set(np.flatnonzero(~coverable))
    assert res.gain.sum() == pytest.approx(res.covered_after - res.covered_before)
    best2 = propose_sites(w, C, existing, limit=lim, method="mclp", n_new=2)
    assert best2.covered_after == pytest.approx(brute_mclp(scaled, existing, w, 2))
    # a cap on new sites turns "cover" into the best capped MCLP
    if len(res.new) > 1:
        capped = propose_sites(w, C, existing, limit=lim, method="cover", max_new=1)
        assert capped.method == "mclp" and len(capped.new) == 1
        assert capped.covered_after == pytest.approx(brute_mclp(scaled, existing, w, 1))
    pm = propose_sites(w, np.where(np.isfinite(C), C, 5000.0), existing, method="pmedian", n_new=2)
    brute = min(np.sum(w * np.min(np.where(np.isfinite(C), C, 5000.0)[:, [0, 1, *c]], axis=1))
                for c in itertools.combinations(range(2, m), 2))
    assert pm.result.objective == pytest.approx(brute)


def test_small_county_children_home_sites(small):
    layers, zones, fac, demand = small
    sites = candidate_sites(fac[fac["kind"] == "children_home"], layers["settlement"], ["children_home"])
    assert sites["is_existing"].sum() == 4 and (~sites["is_existing"]).sum() == len(layers["settlement"])
    costs = travel_costs(demand, sites, graph=build_graph(layers["road"]), modes=["walk"])
    chosen, res = propose_for_service(demand, sites, costs, "children_home")
    before = coverage(demand, fac, travel_costs(demand, fac, graph=build_graph(layers["road"]), modes=["walk"]),
                      services=["children_home"])
    unserved = set(before.unserved()["code"])
    # every village beyond 1 km of a children's home gets one: the fewest sites are its own seat
    assert res.covered_after == pytest.approx(demand["population"].sum())
    assert len(chosen) <= len(unserved) and set(chosen["kind"]) == {"children_home"}
    assert chosen["gain_population"].sum() == pytest.approx(demand.set_index("code").loc[sorted(unserved), "population"].sum())
    assert (chosen["rank"] == np.arange(1, len(chosen) + 1)).all()
