"""Coverage against standards: nearest-facility times equal an independent networkx Dijkstra on
the same graph (small county and default county), standards per terrain and from pianqu.toml,
unserved lists that add up, the central town's catchment, terrain from parcel slopes."""

from __future__ import annotations

import re

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from pianqu.config import ConfigError, load_config
from pianqu.network import build_graph, snap_points
from pianqu.services import (ServicesInputError, coverage, coverage_standards, prepare_facilities, travel_costs,
                             village_demand, village_terrain, zone_catchment)
from pianqu.services.coverage import services_for_kind

pytest.register_assert_rewrite("services_fixtures")
import services_fixtures as SF  # noqa: E402

pytest_plugins = ["services_fixtures"]


def nx_nearest(graph, demand, facilities, mode: str) -> np.ndarray:
    """Time from every demand point to its nearest facility by networkx Dijkstra on a graph
    built here from the road edges plus one node per snapped point (access leg + the part of
    the edge to each end, and a direct link between points on the same edge)."""
    assert not graph.edges["oneway"].any()
    G = nx.Graph()
    t = graph.edge_time(mode)
    L = graph.edges["length_m"].to_numpy()
    u, v = graph.edges["u"].to_numpy(), graph.edges["v"].to_numpy()
    for a, b, w in zip(u, v, t):
        if np.isfinite(w) and a != b:
            if not G.has_edge(a, b) or G[a][b]["w"] > w:
                G.add_edge(int(a), int(b), w=float(w))
    ds, fs = snap_points(graph, demand, mode=mode), snap_points(graph, facilities, mode=mode)

    def attach(name, s, k):  # to both ends; on a loop road (u == v) the shorter way round
        e = s.edge[k]
        frac = s.offset_m[k] / L[e] if L[e] > 0 else 0.0
        for node, w in ((int(u[e]), s.access_s[k] + frac * t[e]), (int(v[e]), s.access_s[k] + (1 - frac) * t[e])):
            if not G.has_edge(name, node) or G[name][node]["w"] > w:
                G.add_edge(name, node, w=float(w))

    for k in range(len(ds)):
        attach(("d", k), ds, k)
    for k in range(len(fs)):
        attach(("f", k), fs, k)
    for a in range(len(ds)):  # points on the same edge reach each other along it
        for b in np.flatnonzero(fs.edge == ds.edge[a]):
            e = ds.edge[a]
            w = ds.access_s[a] + abs(ds.offset_m[a] - fs.offset_m[b]) / L[e] * t[e] + fs.access_s[b]
            if not G.has_edge(("d", a), ("f", b)) or G[("d", a)][("f", b)]["w"] > w:
                G.add_edge(("d", a), ("f", int(b)), w=float(w))
    out = np.full(len(ds), np.inf)
    if len(fs):
        dist = nx.multi_source_dijkstra_path_length(G, [("f", k) for k in range(len(fs))], weight="w")
        for k in range(len(ds)):
            out[k] = dist.get(("d", k), np.inf)
    # points at the very same place are 0 apart (as od_matrix treats them)
    dxy, fxy = ds.xy, fs.xy
    same = (np.abs(dxy[:, None, :] - fxy[None, :, :]).max(-1) < 1e-9).any(axis=1)
    out[same] = 0.0
    return out


@pytest.fixture(scope="module")
def small():
    layers = SF.small_county()
    zones = SF.small_zones()
    fac, _ = prepare_facilities(layers["facility"], townships=layers["township"], villages=layers["village"],
                                zones=zones)
    demand = village_demand(layers["village"], layers["settlement"], zones=zones)
    graph = build_graph(layers["road"])
    return layers, zones, fac, demand, graph, travel_costs(demand, fac, graph=graph)


def _check_against_nx(res, graph, demand, fac, services):
    std = res.standards
    for service in services:
        rows = std[std["service"] == service]
        mode, kinds = rows["mode"].iloc[0], rows["kinds"].iloc[0]
        sel = fac[fac["kind"].isin(kinds)]
        want = nx_nearest(graph, demand, sel, mode)
        got = res.long[res.long["service"] == service].set_index("code").loc[demand["code"], "cost"].to_numpy()
        assert np.allclose(got, want, rtol=1e-9, atol=1e-6), service
        assert (np.isfinite(got) == np.isfinite(want)).all()
        assert np.isfinite(got).mean() > 0.9 and np.unique(got).size > 2, service  # not a vacuous comparison


def test_small_county_nearest_times_equal_networkx(small):
    layers, zones, fac, demand, graph, costs = small
    res = coverage(demand, fac, costs)
    _check_against_nx(res, graph, demand, fac, ["children_home", "elderly_daycare", "regional_school",
                                                "primary_school", "shelter_emergency", "supply_reserve"])
    long = res.long
    # within = cost ≤ the standard (limit, seconds for drive and walk)
    assert (long["within"] == (long["reachable"] & (long["cost"] <= long["limit"]))).all()
    walk = long[long["mode"] == "walk"]
    speed = float(load_config()["network.walk_speed_kmh"]) / 3.6
    assert np.allclose(walk["distance_m"], walk["cost"] * speed)
    # a service nobody provides (no court in the county): nobody reachable, share 0
    court = res.summary().set_index("service").loc["court"]
    assert court["share"] == 0 and court["points_unreachable"] == len(demand)


def test_straight_distances_equal_geopandas(small):
    layers, zones, fac, demand, graph, costs = small
    d = demand.to_crs(graph.epsg)
    f = fac.to_crs(graph.epsg)
    want = np.array([[a.distance(b) for b in f.geometry] for a in d.geometry])
    assert np.allclose(costs["straight"], want, atol=1e-6)


def test_summary_and_unserved_lists_add_up(small):
    layers, zones, fac, demand, graph, costs = small
    res = coverage(demand, fac, costs)
    s = res.summary().set_index("service")
    u = res.unserved()
    for service, row in s.iterrows():
        part = u[u["service"] == service]
        assert row["population_unserved"] == pytest.approx(part["population"].sum())
        assert row["points_unserved"] == len(part)
        assert row["population"] == pytest.approx(demand["population"].sum())
    by_zone = res.by_unit("zone")
    assert np.allclose(by_zone.groupby("service")["population_within"].sum().reindex(s.index), s["population_within"])
    lists = res.unserved_lists("township_code")
    assert lists["points"].sum() == len(u)


def test_terrain_standards_and_overrides(small, tmp_path):
    layers, zones, fac, demand, graph, costs = small
    std = coverage_standards()
    assert std.groupby("service")["mode"].nunique().max() == 1
    assert (std["source"] != "").all()
    row = std[(std["service"] == "children_home") & (std["terrain"] == "*")].iloc[0]
    assert row["value"] == 1000 and row["limit"] == pytest.approx(1000 / (4.5 / 3.6))
    # mountain villages get the mountain standard
    terr = ["mountain" if i % 2 else "plain" for i in range(len(demand))]
    res = coverage(demand, fac, costs, services=["children_home"], terrain=terr)
    lim = res.long["limit_value"].to_numpy()
    assert (lim[1::2] == 2000).all() and (lim[::2] == 1000).all()
    # pianqu.toml: one terrain row, a whole service, a terrain the table has no row for
    cfg_file = tmp_path / "pianqu.toml"
    cfg_file.write_text('[tables.coverage_standards]\n"children_home.mountain" = 3000\n"fire" = 12\n'
                        '"elderly_daycare.plain" = { value = 20 }\n', encoding="utf-8")
    cfg = load_config(path=cfg_file)
    std2 = coverage_standards(cfg).set_index(["service", "terrain"])
    assert std2.loc[("children_home", "mountain"), "value"] == 3000
    assert std2.loc[("children_home", "mountain"), "sureness"] == "user"
    assert std2.loc[("children_home", "*"), "value"] == 1000
    assert std2.loc[("fire", "*"), "limit"] == 12 * 60
    assert std2.loc[("elderly_daycare", "plain"), "limit"] == 20 * 60
    assert std2.loc[("elderly_daycare", "mountain"), "value"] == 40  # untouched shipped row
    cfg_file.write_text('[coverage_standards]\n"sauna" = 3\n', encoding="utf-8")  # the old section name
    with pytest.raises(ConfigError) as err:
        coverage_standards(load_config(path=cfg_file))
    assert re.search(r"pianqu.toml \[coverage_standards\]: 'sauna' is not a row of the standards table "
                     "'coverage_standards'", err.value.message("en"))
    # thresholds referenced by the table follow the configuration
    cfg3 = load_config(overrides={"services.village_tier_m": 1500})
    assert coverage_standards(cfg3).set_index(["service", "terrain"]).loc[("children_home", "*"), "value"] == 1500


def test_bad_cost_matrices(small):
    layers, zones, fac, demand, graph, costs = small
    with pytest.raises(ServicesInputError, match="drive cost matrix has shape"):
        coverage(demand, fac, {"drive": costs["drive"][:, :3]})
    bad = costs["drive"].copy()
    bad[2, 1] = -1
    with pytest.raises(ServicesInputError, match=r"drive cost \[2, 1\]"):
        coverage(demand, fac, {"drive": bad})
    # a bare matrix is drive seconds; walk and straight services are skipped with a finding
    res = coverage(demand, fac, costs["drive"], services=["children_home", "elderly_daycare"])
    assert set(res.long["service"]) == {"elderly_daycare"}
    assert [f.feature for f in res.findings] == ["children_home"]


def test_central_town_catchment_hand_case(small):
    layers, zones, fac, demand, graph, costs = small
    c = zone_catchment(demand, fac, costs, zones.centres, ["regional_school", "elderly_home"]).set_index(["zone", "kind"])
    # Z1's regional school stands in its centre T1; every Z1 village is < 30 min away by road
    assert c.loc[("Z1", "regional_school"), "facilities"] == 1
    assert c.loc[("Z1", "regional_school"), "share"] == 1.0
    # Z2's regional school is in T5, not the centre T4: the centre provides nothing
    assert c.loc[("Z2", "regional_school"), "facilities"] == 0 and c.loc[("Z2", "regional_school"), "share"] == 0
    assert c.loc[("Z3", "elderly_home"), "points_outside"] == 2
    assert services_for_kind(coverage_standards(), "regional_elderly_centre")[0] == "regional_elderly_centre"


def test_village_terrain_from_slopes():
    villages = pd.DataFrame({"code": ["a", "b", "c", "d"]})
    landuse = pd.DataFrame({"village_code": ["a", "a", "b", "c", "c"], "slope_deg": [2.0, 4.0, 10.0, 30.0, 10.0],
                            "area_m2": [1.0, 1.0, 5.0, 3.0, 1.0]})
    t = village_terrain(villages, landuse, county_terrain="hill")
    assert t.to_dict() == {"a": "plain", "b": "hill", "c": "mountain", "d": "hill"}
    assert set(village_terrain(villages, landuse, county_terrain="plateau")) == {"plateau"}
    assert set(village_terrain(villages)) == {"*"}


def test_default_county_coverage_equals_networkx(default_county, default_analysis):
    layers, zones, graph = default_county
    a = default_analysis
    res = a.coverage
    _check_against_nx(res, graph, a.demand, a.facilities, ["health_centre", "village_clinic", "fire"])
    s = res.summary().set_index("service")
    # a mountain county: realistic gaps, but the township health centres reach most people
    assert 0.5 < s.loc["health_centre", "share"] < 1.0
    assert s.loc["fire", "share"] < s.loc["health_centre", "share"]
    assert set(a.demand["terrain"]) <= {"plain", "hill", "mountain"}
