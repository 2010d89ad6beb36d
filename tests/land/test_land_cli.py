"""`pianqu lines ...` (pianqu.commands.land) on a small workspace, with typer's CliRunner:
ordered finalisation (exit 1 with the reason when out of order), reopen → stale, the conflict
list, a decision and applying the rules — checked against the library and the workspace."""

from __future__ import annotations

import land_fixtures
import pytest
from typer.testing import CliRunner

from pianqu.commands.land import app
from pianqu.land import detect_conflicts, read_lines
from pianqu.land.workflow import read_status
from pianqu.workspace import Workspace

runner = CliRunner()


@pytest.fixture()
def ws(tmp_path):
    L = land_fixtures.layers()
    ws = Workspace.create(tmp_path / "w.gpkg", county_code=land_fixtures.COUNTY, county_name="通江县",
                          synthetic=True, compute_epsg=land_fixtures.EPSG)
    ws.write({k: L[k] for k in ("farmland_pbf", "eco_redline", "urban_boundary", "reserve")}, command="test")
    ws.create_scenario("plan")
    return ws


def run(*args):
    """A command on the scenario ``plan`` (the base workspace is the default: test_lines_base.py)."""
    args = [str(a) for a in args]
    return runner.invoke(app, args if "-s" in args else [*args, "-s", "plan"])


def status(ws):
    s = read_status(Workspace.open(ws.path), "plan")
    return dict(zip(s["line"], s["status"]))


def test_finalise_in_order_refuse_out_of_order_and_reopen(ws):
    r = run("finalise", ws.path, "eco_redline")
    assert r.exit_code == 1
    assert "须依次划定" in r.output and "耕地和永久基本农田" in r.output and "草稿" in r.output
    assert not Workspace.open(ws.path).has("control_line_status", "plan")  # a refusal writes nothing
    r = run("finalise", ws.path, "urban_boundary", "--lang", "en")
    assert r.exit_code == 1 and "delineated in order" in r.output and "finalise the" in r.output
    assert run("finalise", ws.path, "roads").exit_code == 1
    assert run("finalise", ws.path, "farmland_pbf", "--reason", "县政府批复").exit_code == 0
    assert status(ws) == {"farmland_pbf": "final", "eco_redline": "draft", "urban_boundary": "draft"}
    r = run("status", ws.path)
    assert r.exit_code == 0 and "方案 plan" in r.output and "已确定" in r.output and "县政府批复" in r.output
    assert run("finalise", ws.path, "eco_redline").exit_code == 0
    r = run("reopen", ws.path, "farmland_pbf", "--reason", "重大项目补划", "--lang", "en")
    assert r.exit_code == 0 and "now stale: ecological protection red line" in r.output
    assert status(ws) == {"farmland_pbf": "draft", "eco_redline": "stale", "urban_boundary": "draft"}
    assert run("finalise", ws.path, "farmland_pbf", "-s", "nope").exit_code == 2


def test_conflicts_decide_apply(ws):
    expected = detect_conflicts(read_lines(ws, "plan"), epsg=land_fixtures.EPSG)
    r = run("conflicts", ws.path)
    assert r.exit_code == 0
    stored = Workspace.open(ws.path).read("conflict", "plan")
    assert sorted(stored["conflict_id"]) == sorted(expected["conflict_id"]) and len(stored) >= 3
    for cid in expected["conflict_id"]:
        assert cid in r.output
    pending = stored[stored["resolution"] == "decide"]
    assert len(pending)  # farmland inside the red line outside the core zone needs a decision
    cid = pending["conflict_id"].iloc[0]
    r = run("decide", ws.path, cid, "burn_it", "--lang", "en")
    assert r.exit_code == 1 and "not allowed" in r.output
    assert run("decide", ws.path, "CF-NOPE", "withdraw_left").exit_code == 1
    r = run("decide", ws.path, cid, "withdraw_right", "--reason", "红线调整")
    assert r.exit_code == 0
    c = Workspace.open(ws.path).read("conflict", "plan").set_index("conflict_id")
    assert c.loc[cid, "action"] == "withdraw_right" and c.loc[cid, "decision_reason"] == "红线调整"
    # the red line cannot be finalised while a conflict with the farmland is still open
    assert run("finalise", ws.path, "farmland_pbf").exit_code == 0
    blocked = set(pending["conflict_id"]) - {cid}
    if blocked:
        r = run("finalise", ws.path, "eco_redline")
        assert r.exit_code == 1 and "冲突" in r.output
    r = run("apply", ws.path, "--lang", "en")
    assert r.exit_code == 0 and "conflict rules applied" in r.output
    after = Workspace.open(ws.path)
    c = after.read("conflict", "plan")
    assert (c.loc[c["action"].fillna("") != "", "state"] == "resolved").all()
    assert after.has("eco_redline", "plan") and after.has("control_line_change", "plan")
    # the withdrawn red-line patch is gone from the cleaned red line
    red = after.read("eco_redline", "plan").to_crs(land_fixtures.EPSG)
    patch = stored.set_index("conflict_id").loc[[cid]]
    from geopandas import GeoDataFrame
    p = GeoDataFrame(patch, geometry="geometry", crs=stored.crs).to_crs(land_fixtures.EPSG)
    assert red.union_all().intersection(p.union_all()).area < 1.0
    assert "lines apply" in set(after.audit()["command"])
