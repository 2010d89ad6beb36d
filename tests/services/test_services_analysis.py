"""The whole analysis on the default county, its scenario layers (facility_plan, facility_gap),
the workspace write and the report section with its maps and workbook sheets."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pianqu.services import analyse_services, facility_gaps, facility_plan, write_services
from pianqu.workspace import Workspace

pytest.register_assert_rewrite("services_fixtures")
import services_fixtures as SF  # noqa: E402

pytest_plugins = ["services_fixtures"]


def test_default_county_analysis_adds_up(default_county, default_analysis):
    layers, zones, graph = default_county
    a = default_analysis
    assert len(a.demand) == len(layers["village"]) and a.demand["population"].sum() == layers["village"]["population"].sum()
    # the central town list: every zone with a centre, every central-town kind
    assert len(a.catchment) == len(zones) * 5
    assert ((a.catchment["facilities"] == 0) <= (a.catchment["share"] == 0)).all()
    # shelters: capacity per zone recomputed from the facility layer
    f = layers["facility"]
    fixed = f[f["kind"] == "shelter_fixed"].assign(zone=lambda d: d["township_code"].map(zones.township_zone))
    want = fixed.groupby("zone")["capacity"].sum()
    got = a.shelters.set_index("zone")["fixed_capacity"]
    assert np.allclose(got.reindex(want.index), want)
    assert (got.drop(want.index) == 0).all()
    # fire: every village goes to exactly one responder (or none when unreachable)
    assert a.fire["villages"].sum() + int((a.coverage.long.query("service == 'fire'")["reachable"] == False).sum()) \
        == len(a.demand)  # noqa: E712
    # proposals only for services with people outside the standard; never an existing facility's site
    s = a.coverage.summary().set_index("service")
    assert set(a.proposals["service"]) <= set(s.index[s["points_unserved"] > 0])
    assert (~a.proposals["is_existing"]).all()
    assert a.timings and sum(a.timings.values()) < 120


def test_plan_and_gap_layers(default_county, default_analysis):
    layers, zones, graph = default_county
    a = default_analysis
    plan = facility_plan(a, layers["settlement"])
    gaps = facility_gaps(a, layers["township"], layers["village"])
    assert plan.crs.to_epsg() == 4490 and gaps.crs.to_epsg() == 4490
    assert plan.geometry.notna().all() and (plan.geom_type == "Point").all()
    assert gaps.geometry.notna().all()
    missing = a.presence.missing
    assert (plan["reason"] != "coverage").sum() == missing["missing"].sum()
    assert (gaps["gap"] == "presence").sum() == len(missing)
    assert (gaps["gap"] == "coverage").sum() == len(a.coverage.unserved())
    assert not plan.duplicated(["kind", "site", "reason"]).any()
    assert plan["id"].is_unique and gaps["id"].is_unique
    # a village missing a children's home gets one at its seat
    v = missing[(missing["rule"] == "village_children_home")]["unit"].iloc[0]
    row = plan[(plan["kind"] == "children_home") & (plan["site"] == v)]
    seat = layers["settlement"].query("level == 'village_seat' and village_code == @v").geometry.iloc[0]
    assert len(row) == 1 and row.geometry.iloc[0].equals_exact(seat, 1e-9)


def test_written_into_a_scenario_and_reported(default_county, default_analysis, tmp_path):
    from pianqu.report import write_report

    layers, zones, graph = default_county
    a = default_analysis
    ws = Workspace.create(tmp_path / "511921.gpkg", county_code="511921", county_name="通江县", synthetic=True)
    base = {k: layers[k] for k in ("county", "township", "village", "settlement", "facility")}
    ws.write(base, command="test")
    counts = write_services(ws, "plan1", a, layers=layers)
    ws2 = Workspace.open(tmp_path / "511921.gpkg")
    assert set(ws2.layers("plan1")) >= {"facility_plan", "facility_gap", "service_coverage", "service_presence"}
    assert len(ws2.read("facility_plan", "plan1")) == counts["facility_plan"] > 0
    gaps = ws2.read("facility_gap", "plan1")  # what is missing (presence) or not served (coverage), stored
    assert len(gaps) == counts["facility_gap"] == len(a.presence.missing) + len(a.coverage.unserved())
    assert (gaps["gap"] == "presence").sum() == len(a.presence.missing) and gaps.crs.to_epsg() == 4490
    audit = ws2.audit()
    assert (audit["scenario"] == "plan1").any()
    out = write_report(ws2, tmp_path / "report", scenario="plan1", sections=["services"], strict=True)
    html = out.read_text(encoding="utf-8")
    assert "公共服务与安全设施" in html and "服务覆盖率" in html
    assert sorted(p.name for p in (tmp_path / "report" / "maps").glob("services_*.png")) == [
        "services_coverage.png", "services_plan.png", "services_unserved.png"]
    sheets = pd.ExcelFile(tmp_path / "report" / "tables.xlsx").sheet_names
    assert {"设施缺项", "服务覆盖", "未达标村", "服务标准", "学区方案", "设施规划"} <= set(sheets)
    # no scenario: the section is left out (a report never runs the analysis itself)
    out2 = write_report(ws2, tmp_path / "report2", sections=["services"], strict=True)
    assert "公共服务与安全设施" not in out2.read_text(encoding="utf-8")


def test_small_county_analysis_without_a_graph():
    """Cost matrices given directly (no road network): the library is plain functions."""
    layers = SF.small_county()
    zones = SF.small_zones()
    from pianqu.network import build_graph
    from pianqu.services import travel_costs, village_demand
    from pianqu.services.siting import candidate_sites

    g = build_graph(layers["road"])
    demand = village_demand(layers["village"], layers["settlement"], zones=zones)
    costs = travel_costs(demand, layers["facility"], graph=g)
    sites = candidate_sites(layers["facility"].iloc[:0], layers["settlement"], [])
    site_costs = travel_costs(demand, sites, graph=g)
    no_roads = {k: v for k, v in layers.items() if k != "road"}
    a = analyse_services(no_roads, zones=zones, costs=costs, site_costs=site_costs, terrain="plain")
    b = analyse_services(layers, zones=zones, terrain="plain")
    pd.testing.assert_frame_equal(a.coverage.long, b.coverage.long)
    assert len(a.proposals) == len(b.proposals) > 0
    assert set(a.demand["terrain"]) == {"plain"}


def test_services_for_a_planned_scenario(tmp_path):
    """The zones `pianqu plan` writes (zone_member) drive the analysis; results land in the scenario."""
    from pianqu.services import Zones, services_for_scenario

    layers = SF.small_county()
    ws = Workspace.create(tmp_path / "small.gpkg", county_code="511921", county_name="样例", synthetic=True)
    ws.write(layers, command="test")
    ws.create_scenario("p")
    member = pd.DataFrame({"township_code": list(SF.ZONE_OF), "zone": [SF.CENTRES[z] for z in SF.ZONE_OF.values()]})
    member["is_centre"] = member["township_code"] == member["zone"]
    ws.write({"zone_member": member}, command="plan", scenario="p")
    zones = Zones.from_scenario(ws, "p")
    assert len(zones) == 3 and zones.centres[SF.TOWNSHIPS[0]] == SF.TOWNSHIPS[0]
    a = services_for_scenario(ws, "p", propose=False)
    assert set(a.presence.status.loc[a.presence.status["level"] == "zone", "unit"]) == set(SF.CENTRES.values())
    # the hand count of the presence test, with the plan's zone ids (the centre codes)
    m = a.presence.missing
    assert sorted(m.loc[m["rule"] == "zone_reserve", "unit"]) == [SF.TOWNSHIPS[0], SF.TOWNSHIPS[3]]
    assert {"facility_plan", "facility_gap", "service_presence"} <= set(Workspace.open(ws.path).layers("p"))
    with pytest.raises(Exception, match="没有片区划分"):
        ws.create_scenario("empty")
        Zones.from_scenario(ws, "empty")
