"""`plan_land` on a small synthesized county (西区 510403, two epochs, approvals, reserve, projects):
every land step of issue 6 runs, writes its tables, and agrees with an independent geopandas
computation in the county's GK zone; the report shows them."""

from __future__ import annotations

import os
import re

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from pianqu.geo import ellipsoidal_area

from pianqu.land.common import zone_polygons
from pianqu.land.pipeline import run_land, targets_from_table
from pianqu.land.siting import siting_rules
from pianqu.plan import plan_land
from pianqu.workspace import Workspace

XIQU = "510403"  # small (≈2 500 parcels per epoch); its synthetic projects include a water project on the red line
GRAIN_CODES = ["0101", "0102", "0103"]  # 西区 has dry land only: the planner counts it for grain (pianqu.toml)


@pytest.fixture(scope="module")
def planned(tmp_path_factory):
    from pianqu.synth import write_county

    d = tmp_path_factory.mktemp("land_plan")
    ws = write_county(XIQU, d / "xiqu.gpkg", seed=1)
    (d / "pianqu.toml").write_text('[thresholds]\n"land.grain_codes" = ["0101", "0102", "0103"]\n'
                                   '"land.grain_base_min_mu" = 30.0\n', encoding="utf-8")
    ws = Workspace.open(ws.path)
    tw = ws.read("township")
    codes = sorted(tw["code"].astype(str))
    mapping = {c: codes[0] if k < len(codes) // 2 else codes[-1] for k, c in enumerate(codes)}
    zones = zone_polygons(townships=tw, mapping=mapping, epsg=ws.meta.compute_epsg).to_crs(4490)
    zones["name"] = [f"片区{k + 1}" for k in range(len(zones))]
    ws.create_scenario("t")
    ws.write({"zone": zones}, command="test", scenario="t")
    out = plan_land(ws, "t", zones)
    return ws, zones, out, mapping


def _gk(ws, frame):
    return frame.to_crs(ws.meta.compute_epsg)


def _base(ws):
    lu = ws.read("landuse")
    return _gk(ws, lu[lu["epoch"] == min(ws.meta.epochs)])


def test_every_step_ran_and_wrote_its_tables(planned):
    ws, _, out, _ = planned
    steps = {s["step"]: s["status"] for s in out["steps"]}
    assert all(v == "done" for v in steps.values()), steps
    assert set(ws.layers("t")) >= {"land_sizing", "land_siting", "land_siting_detail", "land_consolidation",
                                    "land_consolidation_parcels", "land_grain_base", "land_quota_township",
                                    "land_quota_zone", "land_quota_targets", "land_line_status", "land_steps",
                                    "conflict", "space", "land_tickets"}
    assert not [f for f in out["findings"] if f.rule == "land.plan.skipped"]


def test_sizing_ratio_against_geopandas(planned):
    ws, _, out, _ = planned
    lu = _base(ws)
    l1 = pd.to_numeric(lu["code"].astype(str).str[:2], errors="coerce")
    town = lu[l1.between(7, 16) & lu["czcsxm"].astype(str).str[:3].isin(["201", "202"])]
    epsg = ws.meta.compute_epsg  # areas are ellipsoidal (issue 11)
    udb = ellipsoidal_area([_gk(ws, ws.read("urban_boundary")).union_all()], epsg)[0]
    town_m2 = ellipsoidal_area(town.geometry.to_numpy(), epsg).sum()
    sizing = ws.read("land_sizing", "t").set_index("rule")
    assert sizing.at["expansion_ratio", "value"] == pytest.approx(udb / town_m2, rel=1e-6)
    assert bool(sizing.at["expansion_ratio", "ok"]) == (udb / town_m2 <= 1.3)
    # reserve quota against the planned total construction land (the quota's construction target)
    reserve = ellipsoidal_area([_gk(ws, ws.read("reserve")).union_all()], epsg)[0]
    target = ws.read("land_quota_targets", "t").set_index("indicator").at["construction", "target_ha"] * 1e4
    assert sizing.at["reserve_share", "value"] == pytest.approx(reserve / target, rel=1e-6)
    assert sizing.at["reserve_share", "basis"] == "quota"
    severity = {f.rule: f.severity for f in out["findings"] if f.rule.startswith("land.sizing")}
    assert all(s == ("info" if r.endswith("_ok") else "error") for r, s in severity.items()) and len(severity) == 2


def test_planted_water_project_on_the_red_line(planned):
    ws, _, out, _ = planned
    projects = _gk(ws, ws.read("projects"))
    water = projects[projects["kind"] == "water"]
    assert len(water) == 1 and bool(water["major"].iloc[0])
    red = _gk(ws, ws.read("eco_redline"))
    core = red[red["core_zone"].fillna(False).astype(bool)]
    g = water.geometry.iloc[0]
    in_core = len(core) and g.intersection(core.union_all()).area >= 1.0
    in_red = g.intersection(red[~red["core_zone"].fillna(False).astype(bool)].union_all()).area
    assert in_core or in_red >= 1.0, "the synthesiser plants the water project on the red line"
    rules = siting_rules().set_index("rule")
    expected = rules.at["redline_core", "verdict"] if in_core else rules.at["redline_major", "verdict"]
    v = ws.read("land_siting", "t").set_index("id")
    wid = water["id"].iloc[0]
    assert v.at[wid, "verdict"] == expected and expected in ("prohibited", "restricted")
    d = ws.read("land_siting_detail", "t")
    row = d[(d["project_id"] == wid) & (d["rule"] == ("redline_core" if in_core else "redline_major"))]
    piece = g.intersection(red[~red["core_zone"].fillna(False).astype(bool)].union_all() if not in_core
                           else core.union_all())
    assert row["area_m2"].iloc[0] == pytest.approx(ellipsoidal_area([piece], ws.meta.compute_epsg)[0], rel=1e-6)
    # prohibited projects are errors, restricted ones warnings
    errs = {f.feature for f in out["findings"] if f.rule == "land.siting.prohibited"}
    assert errs == set(v.index[v["verdict"] == "prohibited"])
    # environmental control units are zoning units, not construction: a 优先保护 unit on the red line is fine
    units = v[v["kind"] == "env_unit"]
    assert len(units) and (units["verdict"] != "prohibited").all()


def test_quota_sums_exactly_to_the_targets(planned):
    ws, _, _, mapping = planned
    targets = ws.read("land_quota_targets", "t").set_index("indicator")
    tw = ws.read("land_quota_township", "t")
    zone = ws.read("land_quota_zone", "t").set_index("zone")
    for ind, row in targets.iterrows():
        assert tw[f"{ind}_ha"].sum() == pytest.approx(row["target_ha"], rel=1e-9, abs=1e-9)
        assert zone[f"{ind}_ha"].sum() == pytest.approx(row["target_ha"], rel=1e-9, abs=1e-9)
        # zones are the sums of their townships
        by_zone = tw.groupby(tw["township_code"].astype(str).map(mapping))[f"{ind}_ha"].sum()
        np.testing.assert_allclose(by_zone.reindex(zone.index.astype(str)).to_numpy(), zone[f"{ind}_ha"], rtol=1e-9)
        assert (tw[f"{ind}_ha"] >= -1e-9).all()
    assert (targets["shortfall_ha"].abs() < 1e-9).all()
    # the derived rule, against an independent area: cultivated land kept at the configured share
    lu = _base(ws)
    farm = lu.loc[lu["code"].astype(str).str[:2] == "01", "tbdlmj"].sum()  # 耕地 by TBDLMJ (三调 method)
    share = ws.config()["land.quota_farmland_keep_share"]
    assert targets.at["farmland", "target_ha"] == pytest.approx(farm * share / 1e4, rel=1e-6)
    # no township may exceed its cultivated land, nor grow its village construction land
    cap = lu[lu["code"].astype(str).str[:2] == "01"].groupby(lu["township_code"].astype(str))["tbdlmj"].sum()
    got = tw.set_index(tw["township_code"].astype(str))["farmland_ha"] * 1e4
    assert (got <= cap.reindex(got.index).fillna(0) * (1 + 1e-6) + 1e-3).all()


def test_grain_bases_are_sums_of_their_parcels(planned):
    ws, zones, _, _ = planned
    bases = _gk(ws, ws.read("land_grain_base", "t"))
    assert len(bases) > 0
    cfg = ws.config()
    assert list(cfg["land.grain_codes"]) == GRAIN_CODES
    lu = _base(ws)
    good = lu[lu["code"].astype(str).str[:4].isin(GRAIN_CODES) & ~(lu["slope_deg"] > cfg["land.grain_slope_max_deg"])]
    pieces = gpd.overlay(good[["bsm", "geometry"]], _gk(ws, zones)[["zone", "geometry"]], how="intersection",
                         keep_geom_type=True)
    pieces = pieces[pieces.area > 1e-3]
    pts = pieces.geometry.representative_point()
    for b in bases.itertuples():
        inside = (pieces["zone"].astype(str) == str(b.zone)).to_numpy() & pts.within(b.geometry.buffer(0.01)).to_numpy()
        assert inside.sum() == b.parcels
        assert ellipsoidal_area(pieces.geometry.to_numpy()[inside], ws.meta.compute_epsg).sum() == \
            pytest.approx(b.area_m2, rel=1e-6)
        assert b.area_mu >= cfg["land.grain_base_min_mu"]


def test_consolidation_layer_adds_up(planned):
    ws, _, _, _ = planned
    c = ws.read("land_consolidation", "t")
    assert sorted(c["code"]) == sorted(ws.read("village")["code"])
    parts = c[["fragmented_m2", "steep_farmland_m2", "scattered_homestead_m2", "idle_homestead_m2"]].fillna(0)
    np.testing.assert_allclose(c["potential_m2"], parts.sum(axis=1), rtol=1e-12)
    hot = c[c["hotspot"].astype(bool)]
    assert len(hot) >= 1 and hot["potential_m2"].min() >= c.loc[~c["hotspot"].astype(bool), "potential_m2"].max()


def test_report_shows_the_land_analyses(planned, tmp_path):
    from openpyxl import load_workbook

    from pianqu.report import write_report

    ws, _, _, _ = planned
    html = write_report(ws, tmp_path / "r", scenario="t", sections=["land"]).read_text(encoding="utf-8")
    for title in ("规模核算", "项目选址合规性结论", "县级约束性指标", "约束性指标分解到片区", "约束性指标分解到乡镇",
                  "粮食生产基地候选区", "各村土地综合整治潜力", "三条控制线划定状态", "水库工程"):
        assert title in html, title
    assert (tmp_path / "r" / "maps" / "land_siting.png").exists()
    sheets = load_workbook(tmp_path / "r" / "tables.xlsx", read_only=True).sheetnames
    assert {"选址合规结论", "选址合规明细", "土地整治潜力", "县级约束性指标", "指标分解_片区", "指标分解_乡镇",
            "粮食生产基地候选"} <= set(sheets)
    assert all(len(s) <= 31 for s in sheets)


def test_missing_layers_skip_their_step_and_say_which(planned, tmp_path):
    ws, zones, _, _ = planned
    copy = tmp_path / "copy.gpkg"
    copy.write_bytes(ws.path.read_bytes())
    (tmp_path / "pianqu.toml").write_text((ws.path.parent / "pianqu.toml").read_text(encoding="utf-8"), encoding="utf-8")
    w2 = Workspace.open(copy)
    w2.write({}, command="test", drop=["projects", "reserve"])
    # the county's own targets: a cultivated land target above what any township has is infeasible
    w2.write({"targets": pd.DataFrame({"indicator": ["farmland", "village"], "target_ha": [1e6, 1.0]})},
             command="test")
    run = run_land(w2, "t", zones)
    skipped = {(f.layer, f.rule) for f in run.findings if f.rule == "land.plan.skipped"}
    assert ("projects", "land.plan.skipped") in skipped and ("reserve", "land.plan.skipped") in skipped
    assert any("projects" in f.message("en") for f in run.findings if f.rule == "land.plan.skipped")
    assert "land_siting" not in run.layers
    q = run.results["quota"]
    assert q.status == "infeasible" and q.targets == {"farmland": 1e10, "village": 1e4}
    assert any(f.rule == "land.quota.target_unreachable" and f.severity == "error" for f in run.findings)
    t = run.layers["land_quota_targets"].set_index("indicator")
    assert t.at["farmland", "shortfall_ha"] > 0 and t.at["farmland", "source"] == "targets"
    # a targets table with an indicator nobody knows: an error naming it, and the rule's targets
    w2.write({"targets": pd.DataFrame({"indicator": ["耕地保有量", "林地保有量"], "target_ha": [1.0, 1.0]})},
             command="test")
    run = run_land(w2, "t", zones)
    bad = [f for f in run.findings if f.rule == "land.plan.quota_input" and f.layer == "targets"]
    assert len(bad) == 1 and bad[0].severity == "error" and "林地保有量" in bad[0].message("en")
    assert run.layers["land_quota_targets"]["source"].eq("rule").all()


def test_targets_table_errors_name_the_row_and_field():
    with pytest.raises(ValueError) as e:
        targets_from_table(pd.DataFrame({"indicator": ["pbf", "farm"], "target_ha": [1.0, 2.0]}))
    assert re.search("row 2.*indicator.*'farm'", e.value.message("en"))
    assert "第 2 行" in e.value.message("zh") and "“farm”" in e.value.message("zh")
    with pytest.raises(ValueError) as e:
        targets_from_table(pd.DataFrame({"indicator": ["pbf"], "value": [1.0]}))
    assert "target_m2, target_ha or target_mu" in e.value.message("en")
    assert targets_from_table(pd.DataFrame({"indicator": ["pbf"], "target_mu": [15.0]})) == {"pbf": pytest.approx(1e4)}


os.environ.setdefault("MPLCONFIGDIR", "/work/main/.cache/matplotlib")
