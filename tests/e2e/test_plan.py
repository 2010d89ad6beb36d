"""`pianqu plan` on the default county: invariants of the zones and the report sections."""

import numpy as np
import pytest
import shapely

from pianqu.plan import plan
from pianqu.report import write_report
from pianqu.workspace import Workspace

pytestmark = pytest.mark.slow  # a county synthesised, planned or run through the CLI end to end


@pytest.fixture(scope="module")
def planned(tongjiang, tmp_path_factory):
    path = tmp_path_factory.mktemp("plan") / "ws.gpkg"
    path.write_bytes(tongjiang.path.read_bytes())
    ws = Workspace.open(path)
    return ws, plan(ws, "auto", title="自动方案")


def test_every_township_in_exactly_one_contiguous_zone_with_its_centre(planned):
    ws, result = planned
    townships = ws.read("township")
    members = ws.read("zone_member", "auto")
    assert sorted(members["township_code"]) == sorted(townships["code"])  # each exactly once
    zones = ws.read("zone", "auto")
    assert len(zones) == result.zoning.p == members["zone"].nunique()
    for zone, group in members.groupby("zone"):
        assert zone in set(group["township_code"]), f"zone {zone} does not contain its centre"
        union = shapely.union_all(townships[townships["code"].isin(group["township_code"])].geometry.to_numpy())
        assert union.geom_type == "Polygon", f"zone {zone} is not contiguous"
    assert zones["population"].sum() == townships["population"].sum()
    lo, hi = ws.config()["zoning.members_min"], ws.config()["zoning.members_max"]
    assert zones["members"].between(lo, hi).all()
    assert result.zoning.status == "optimal"
    run = ws.read("plan_run", "auto")
    assert run["p"].iloc[0] == result.zoning.p


def test_village_zones_nest_in_township_zones(planned):
    ws, result = planned
    villages = ws.read("village")
    vh = ws.read("village_hierarchy", "auto")
    assert sorted(vh["code"]) == sorted(villages["code"])
    zone_of_township = ws.read("zone_member", "auto").set_index("township_code")["zone"]
    town_of = villages.set_index("code")["township_code"]
    centre = vh.set_index("code")["zone_centre"]
    # a village and its zone's central village lie in the same township-level zone
    same = [zone_of_township[town_of[v]] == zone_of_township[town_of[c]] for v, c in centre.items()]
    assert all(same)
    relocated = set(villages.loc[villages["village_class"] == "搬迁撤并", "code"])
    assert not relocated & set(vh.loc[vh["tier"] == "central_village", "code"])
    assert result.village_zoning.result.gap >= 0
    # 中心村 by strength (issue 17): no centre below the standard unless the county designated or
    # listed it, and each says why it is one; the village-zone layer carries the reason too
    heads = vh[vh["tier"] == "central_village"]
    assert heads["centre_status"].isin(["standard", "designated", "listed"]).all()
    assert heads["centre_reason"].isin(["designated", "strongest", "nearer", "listed"]).all()
    assert (vh.loc[vh["tier"] != "central_village", "centre_reason"] == "").all()
    vz = ws.read("village_zone", "auto")
    assert vz["centre_reason"].isin(["designated", "strongest", "nearer", "listed"]).all()
    # most centres are the strongest candidate of their zone
    assert (heads["centre_reason"] == "strongest").mean() >= 0.75


def test_scenario_is_audited_and_base_layers_untouched(planned, tongjiang):
    ws, _ = planned
    audit = ws.audit()
    assert (audit["command"] == "plan").any()
    assert set(ws.layers("auto")) >= {"zone", "zone_member", "hierarchy", "road_dead_end", "road_plan"}
    assert ws.layers() == Workspace.open(tongjiang.path).layers()


def test_report_has_zone_and_road_sections(planned, tmp_path):
    ws, result = planned
    html = write_report(ws, tmp_path / "r", scenario="auto").read_text(encoding="utf-8")
    assert "片区划分与镇村体系" in html and "道路网络诊断" in html and "三条控制线与三区空间" in html
    from pianqu.i18n import t

    assert t("network.link.shortcut.do", "zh") in html and "network.link.shortcut.do" not in html
    for name in ws.read("zone", "auto")["name"]:
        assert name in html
    assert (tmp_path / "r" / "maps" / "zones.png").exists() and (tmp_path / "r" / "maps" / "roads.png").exists()


def test_english_report_of_a_chinese_plan_speaks_english(planned, tmp_path):
    """Road actions and conflict names follow the report's language, not the plan run's."""
    from pianqu.i18n import t

    ws, result = planned
    html = write_report(ws, tmp_path / "en", scenario="auto", lang="en", strict=True).read_text(encoding="utf-8")
    links = ws.read("road_plan", "auto")
    keys = {f"network.link.{k}.do" for k in ("shortcut", "connect_component")}
    assert len(links) and links["action"].isin(keys).all()  # the plan stores the action's key, no language
    assert t("network.link.shortcut.do", "en") in html and t("network.link.shortcut.do", "zh") not in html
    assert not any(k in html for k in keys)  # the report said it
    assert t("network.dead_end.missing_connection.do", "zh") not in html
    conflicts = ws.read("conflict", "auto")
    assert len(conflicts) and not any(name in html for name in set(conflicts["name"]))


def test_land_spaces_partition_zones_and_conflicts_have_stable_ids(planned):
    ws, result = planned
    table = ws.read("space_by_zone", "auto")
    zones = ws.read("zone", "auto")
    assert len(table) == len(zones)
    parts = table[["agricultural_m2", "ecological_m2", "construction_m2"]].sum(axis=1)
    np.testing.assert_allclose(parts, table["zone_area_m2"], rtol=1e-9)
    conflicts = ws.read("conflict", "auto")
    assert len(conflicts) > 0 and conflicts["conflict_id"].is_unique  # the synthesiser plants overlaps
    from pianqu.plan import plan_land

    again = plan_land(ws, "auto", zones)["conflicts"]
    assert sorted(again["conflict_id"]) == sorted(conflicts["conflict_id"])  # stable across runs


def test_central_towns_are_strong_or_designated_and_the_report_says_why(planned, tmp_path):
    """Issue 17 on the default county: no zone centre below the central-town standard unless
    designated; the three ways of choosing centres side by side; each centre's reason in the report."""
    from pianqu.i18n import t

    ws, result = planned
    assert result.zoning.stats["centre_rule"] == "strength"
    reasons = ws.read("centre_reason", "auto")
    assert sorted(reasons["code"].astype(str)) == sorted(ws.read("zone", "auto")["centre"].astype(str))
    assert (reasons["meets_standard"].astype(bool) | (reasons["category"].fillna("") != "")).all()
    choice = ws.read("centre_choice", "auto").set_index("rule")
    assert list(choice.index) == ["access", "strength", "designated"]
    assert choice.loc["strength", "weak_centres"] == 0
    assert choice.loc["access", "weak_centres"] > 0  # what issue 17 saw: access alone opens weak towns
    assert choice.loc["designated", "status"] == "missing"  # the synthetic county has no list
    assert choice.loc["strength", "mean_rank"] < choice.loc["access", "mean_rank"]
    html = write_report(ws, tmp_path / "r", scenario="auto", sections=["centres"]).read_text(encoding="utf-8")
    assert t("centres.title", "zh") in html and t("centres.no_list", "zh").split("。")[0] in html
    for key, name in zip(reasons["reason"].astype(str), reasons["name"].astype(str)):
        assert name in html and t(f"centres.reason.{key}", "zh", category="", stronger="").split("，")[0] in html
    assert (tmp_path / "r" / "maps" / "centres_access.png").exists()
    assert (tmp_path / "r" / "maps" / "centres_strength.png").exists()
