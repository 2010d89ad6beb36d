"""`pianqu.evaluate` on the default county planned end to end: one slow test of the whole chain
(synth → plan → evaluate → layers → report section) against figures read independently."""

import numpy as np
import pandas as pd
import pytest

from pianqu.evaluation import LIGHTS, catalogue, evaluate
from pianqu.plan import plan
from pianqu.report import write_report
from pianqu.workspace import Workspace

pytestmark = pytest.mark.slow  # a county synthesised and planned end to end


def test_default_county_evaluated(tongjiang, tmp_path):
    path = tmp_path / "ws.gpkg"
    path.write_bytes(tongjiang.path.read_bytes())
    ws = Workspace.open(path)
    plan(ws, "plan")
    ev = evaluate(ws, "plan")
    county = ev.county().set_index("indicator")
    assert list(county.index) == list(catalogue()["id"])
    assert set(ev.table["light"]) <= set(LIGHTS)
    # the land figures by the 三调 method, summed here from the layer: ΣTBDLMJ of class 01 per epoch
    lu = pd.DataFrame(ws.read("landuse", columns=["code", "tbdlmj", "epoch"]).drop(columns="geometry"))
    epochs = sorted(lu["epoch"].unique())
    assert len(epochs) == 2 and ev.epoch == epochs[-1]
    farm = {e: lu.loc[(lu["epoch"] == e) & lu["code"].astype(str).str.startswith("01"), "tbdlmj"].sum() / 1e4
            for e in epochs}
    row = county.loc["farmland_area"]
    assert row["value"] == pytest.approx(farm[epochs[1]], rel=1e-6)
    assert row["trend"] == pytest.approx(farm[epochs[1]] - farm[epochs[0]], rel=1e-6)
    assert row["previous_epoch"] == epochs[0]
    # plan figures read back as they are
    assert county.loc["zone_count", "value"] == len(ws.read("zone", "plan"))
    tel = ws.read("telecom_summary", "plan").set_index("tech")
    assert county.loc["telecom_5g_villages", "value"] == pytest.approx(tel.loc["5G", "share"])
    tickets = ws.read("land_tickets", "plan")
    assert county.loc["violation_events", "value"] == len(tickets)
    assert len(ev.drivers("violation_events")) == len(tickets)
    # statistics the synthetic county has no table of: said, not guessed
    assert county.loc["tap_water_rate", "light"] == "none" and county.loc["tap_water_rate", "need"] == \
        "import:statistics"
    # the zones' shares of villages weight up to the county's
    presence = ev.table[(ev.table["indicator"] == "village_children_home_share") & (ev.table["level"] == "zone")]
    assert len(presence) == len(ws.read("zone", "plan")) and presence["value"].between(0, 1).all()
    ev.write(ws)
    assert len(ws.read("indicator", "plan")) == len(ev.table)
    out = write_report(ws, tmp_path / "report", scenario="plan", sections=["evaluation"], strict=True)
    page = out.read_text(encoding="utf-8")
    assert "体检评估" in page and "耕地保有量" in page and np.isfinite(row["value"])
