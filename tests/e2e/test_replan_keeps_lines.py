"""Re-running `pianqu plan` keeps the planner's control-line work: line status and decisions."""

import pandas as pd
import pytest
from typer.testing import CliRunner

from pianqu.cli import app
from pianqu.land.workflow import STATUS_TABLE
from pianqu.plan import plan
from pianqu.synth import write_county
from pianqu.workspace import Workspace

pytestmark = pytest.mark.slow  # a county synthesised, planned or run through the CLI end to end


def test_replan_keeps_status_and_decisions(tmp_path):
    path = tmp_path / "xiqu.gpkg"
    write_county("510403", path, seed=1)  # 西区, 攀枝花: a small county
    ws = Workspace.open(path)
    plan(ws, "plan", services_step=False)
    conflicts = pd.DataFrame(Workspace.open(path).read("conflict", "plan"))
    runner = CliRunner()
    decided = None
    open_ = conflicts[conflicts["state"] == "open"]
    for _, row in open_.iterrows():
        for option in ("withdraw_left", "withdraw_right", "tolerate"):
            r = runner.invoke(app, ["lines", "decide", str(path), row["conflict_id"], option, "--reason", "测试",
                                     "-s", "plan"])
            if r.exit_code == 0:
                decided = (row["conflict_id"], option)
                break
        if decided:
            break
    assert decided is not None, "the synthetic county plants control-line conflicts"
    r = runner.invoke(app, ["lines", "finalise", str(path), "farmland_pbf", "--reason", "定稿", "-s", "plan"])
    assert r.exit_code == 0, r.output
    before = pd.DataFrame(Workspace.open(path).read(STATUS_TABLE, "plan")).set_index("line")["status"]
    assert before["farmland_pbf"] == "final"

    plan(Workspace.open(path), "plan", services_step=False)  # the scenario is replaced …
    ws = Workspace.open(path)
    after = pd.DataFrame(ws.read(STATUS_TABLE, "plan")).set_index("line")["status"]
    assert after.to_dict() == before.to_dict()  # … the planner's work is not
    again = pd.DataFrame(ws.read("conflict", "plan")).set_index("conflict_id")
    assert again.loc[decided[0], "action"] == decided[1]
    assert again.loc[decided[0], "decision_reason"] == "测试"
    assert ws.has("zone", "plan") and ws.has("space", "plan")
