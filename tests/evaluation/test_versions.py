"""Two versions of the hand-made county's plan compared: zones, members, lines, indicators and
the reasons recorded for each change (动态调整)."""

from __future__ import annotations

import geopandas as gpd
import pytest

from evaluation_county import COUNTY, T1, T2, sq, write_county, _g
from pianqu.evaluation import compare_versions, save_version

REASON = "2026年动态调整：乙乡并入甲镇片区，红线按勘界成果调整"


@pytest.fixture(scope="module")
def adjusted(tmp_path_factory):
    ws = write_county(tmp_path_factory.mktemp("ver") / f"{COUNTY}.gpkg")
    save_version(ws, "plan", "approved", reason="2025年批复版本")
    member = ws.read("zone_member", "plan")
    member["zone"] = T1
    member["is_centre"] = member["township_code"].astype(str) == T1
    zone = ws.read("zone", "plan").iloc[[0]]
    conflict = ws.read("conflict", "plan")
    conflict.loc[conflict["conflict_id"] == "CF-1", ["state"]] = "resolved"
    conflict["decision_reason"] = ["核减城镇开发边界" if c == "CF-1" else "" for c in conflict["conflict_id"]]
    redline = gpd.GeoDataFrame({"id": ["ST1"]}, geometry=_g([sq(4500, 2500, 1000, 500)]))  # half of it
    with ws.transaction(command="plan", reason=REASON):
        ws.write({"zone_member": member, "zone": zone, "conflict": conflict, "eco_redline": redline},
                 command="plan", scenario="plan", reason=REASON)
    return ws


def test_two_scenarios_compared(adjusted):
    cmp = compare_versions(adjusted, "approved", "plan")
    moved = cmp.members
    assert moved["township_code"].tolist() == [T2] and (moved["zone_a"].iloc[0], moved["zone_b"].iloc[0]) == (T2, T1)
    z = cmp.zones.set_index("zone")["change"].to_dict()
    assert z == {T1: "members_changed", T2: "removed"}
    line = cmp.lines.set_index("line").loc["eco_redline"]
    assert line["removed_ha"] == pytest.approx(line["area_a_ha"] / 2, rel=1e-3)
    assert line["change_ha"] == pytest.approx(-line["removed_ha"], rel=1e-5)
    assert line["added_ha"] == pytest.approx(0, abs=1e-4)
    ind = cmp.indicators.set_index("indicator")
    assert (ind.loc["zone_count", "value_a"], ind.loc["zone_count", "value_b"]) == (2, 1)
    assert ind.loc["open_conflicts", "change"] == -1
    assert cmp.decisions["conflict_id"].tolist() == ["CF-1"]
    assert cmp.decisions["decision_reason_b"].iloc[0] == "核减城镇开发边界"
    reasons = cmp.changes.set_index("layer")["reason"]
    assert set(cmp.changes["layer"]) == {"zone_member", "zone", "conflict", "eco_redline"}
    assert (reasons == REASON).all()


def test_two_revisions_of_one_scenario_list_the_trail(adjusted):
    cmp = compare_versions(adjusted, "plan@1", "plan@2")
    assert set(cmp.changes["layer"]) == {"zone_member", "zone", "conflict"}  # eco_redline's first write is 1
    assert (cmp.changes["reason"] == REASON).all() and (cmp.changes["revision"] == 2).all()
    assert cmp.findings[0].rule == "evaluation.versions.same_scenario"
    assert "--save-version" in cmp.findings[0].action("zh")
