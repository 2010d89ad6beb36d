"""Ordered finalisation of the three control lines, pure and in a workspace."""

import pandas as pd
import pytest

from pianqu.land import workflow as wf
from pianqu.land.workflow import WorkflowError, finalise, initial_status, mark_changed, reopen
from pianqu.workspace import Workspace


def statuses(s):
    return dict(zip(s["line"], s["status"]))


def test_out_of_order_is_refused_with_the_reason():
    s = initial_status()
    with pytest.raises(WorkflowError) as e:
        finalise(s, "eco_redline")
    assert e.value.rule == "land.workflow.out_of_order"
    assert "耕地和永久基本农田" in e.value.message("zh") and "草稿" in e.value.message("zh")
    with pytest.raises(WorkflowError) as e:
        finalise(s, "urban_boundary")
    assert "permanent basic farmland is still draft" in e.value.message("en")
    s = finalise(s, "farmland_pbf", "2023 delineation approved")
    with pytest.raises(WorkflowError) as e:
        finalise(s, "urban_boundary")
    assert "ecological protection red line is still draft" in e.value.message("en")
    s = finalise(finalise(s, "eco_redline"), "urban_boundary")
    assert set(s["status"]) == {"final"}
    assert s.loc[s["line"] == "farmland_pbf", "reason"].iloc[0] == "2023 delineation approved"


def test_reopen_marks_later_lines_stale_and_they_must_be_refinalised():
    s = initial_status()
    for line in wf.CONTROL_LINES:
        s = finalise(s, line)
    s = reopen(s, "farmland_pbf", "补划 after a major project")
    assert statuses(s) == {"farmland_pbf": "draft", "eco_redline": "stale", "urban_boundary": "stale"}
    assert "补划 after a major project" in s.loc[s["line"] == "eco_redline", "reason"].iloc[0]
    with pytest.raises(WorkflowError):  # stale is not final
        finalise(s, "urban_boundary")
    s = finalise(s, "farmland_pbf")
    with pytest.raises(WorkflowError) as e:
        finalise(s, "urban_boundary")
    assert "red line is still stale" in e.value.message("en")
    s = finalise(finalise(s, "eco_redline"), "urban_boundary")
    assert set(s["status"]) == {"final"}
    # reopening the last line touches nothing else; a draft later line stays draft
    s2 = reopen(s, "urban_boundary")
    assert statuses(s2) == {"farmland_pbf": "final", "eco_redline": "final", "urban_boundary": "draft"}
    s3 = reopen(s2, "eco_redline")
    assert statuses(s3)["urban_boundary"] == "draft"


def test_mark_changed_reopens_the_earliest_changed_line():
    s = initial_status()
    for line in wf.CONTROL_LINES[:2]:
        s = finalise(s, line)
    s = mark_changed(s, ["urban_boundary", "eco_redline"], "conflict resolution")
    assert statuses(s) == {"farmland_pbf": "final", "eco_redline": "draft", "urban_boundary": "draft"}


def test_open_conflicts_block_the_later_line():
    s = finalise(initial_status(), "farmland_pbf")
    open_c = pd.DataFrame({"conflict_id": ["CF-1", "CF-2"], "rule": ["pbf_in_redline", "udb_over_pbf"],
                           "left_layer": ["farmland_pbf", "urban_boundary"],
                           "right_layer": ["eco_redline", "farmland_pbf"]})
    with pytest.raises(WorkflowError, match="CF-1") as e:
        finalise(s, "eco_redline", open_conflicts=open_c)
    assert "CF-2" not in str(e.value)  # the boundary's conflict is the boundary's business
    s = finalise(s, "eco_redline", open_conflicts=open_c.iloc[1:])
    with pytest.raises(WorkflowError, match="CF-2"):
        finalise(s, "urban_boundary", open_conflicts=open_c)


def test_unknown_line():
    with pytest.raises(WorkflowError) as e:
        finalise(initial_status(), "roads")
    assert "unknown control line 'roads'" in e.value.message("en") and "未知的控制线“roads”" in e.value.message("zh")


def test_workspace_status_and_audit(tmp_path):
    ws = Workspace.create(tmp_path / "w.gpkg", county_code="511921", county_name="通江县", synthetic=True)
    ws.create_scenario("plan2035")
    assert set(wf.read_status(ws, "plan2035")["status"]) == {"draft"}
    with pytest.raises(WorkflowError):
        wf.finalise_line(ws, "plan2035", "eco_redline")
    assert not ws.has(wf.STATUS_TABLE, "plan2035")  # a refusal writes nothing
    wf.finalise_line(ws, "plan2035", "farmland_pbf", "县政府批复")
    wf.finalise_line(ws, "plan2035", "eco_redline", "省厅审定")
    wf.reopen_line(ws, "plan2035", "farmland_pbf", "重大项目占用补划")
    again = Workspace.open(ws.path)
    s = wf.read_status(again, "plan2035")
    assert statuses(s) == {"farmland_pbf": "draft", "eco_redline": "stale", "urban_boundary": "draft"}
    audit = again.audit()
    rows = audit[audit["layer"] == wf.STATUS_TABLE]
    assert list(rows["reason"]) == ["finalise farmland_pbf: 县政府批复", "finalise eco_redline: 省厅审定",
                                    "reopen farmland_pbf: 重大项目占用补划"]
    assert set(rows["scenario"]) == {"plan2035"}
    # another scenario has its own status
    again.create_scenario("alt")
    assert set(wf.read_status(again, "alt")["status"]) == {"draft"}
