"""`pianqu zones evaluate|move` (typer CliRunner) on a small workspace planned by pianqu.plan:
a hand-made division with a non-contiguous zone, a township in two zones and a zone without a
centre gets exactly three precise error findings and exit code 1; a move re-evaluates in well
under a second and equals a fresh evaluation of the moved division."""

import re

import networkx as nx
import pandas as pd
import pytest
from typer.testing import CliRunner

from pianqu.commands.zones import app
from pianqu.zoning.compare import compare_division, scenario_division
from pianqu.zoning.evaluate import evaluate

runner = CliRunner()
COLS = ["--code-col", "乡镇代码", "--zone-col", "片区", "--is-centre-col", "是否中心镇"]


@pytest.fixture(scope="module")
def planned(planned_workspace):
    ws = planned_workspace[0]
    d = ws.path.parent
    cmp = compare_division(ws)  # the scenario's division against itself
    g = nx.Graph(list(zip(cmp.instance.adjacency.edges["code_i"], cmp.instance.adjacency.edges["code_j"])))
    return ws, d, scenario_division(ws), g


def _as_table(div: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"乡镇代码": div["code"], "片区": "片区" + div["zone"],
                         "是否中心镇": div["centre_mark"].map({True: "是", False: "否"})})


def _members(div, zone):
    return set(div.loc[div["zone"] == zone, "code"])


def test_hand_made_copy_of_the_proposal_is_clean_and_equal(planned):
    ws, d, div, _ = planned
    csv = d / "same.csv"
    _as_table(div).to_csv(csv, index=False, encoding="gb18030")
    r = runner.invoke(app, ["evaluate", str(ws.path), str(csv), *COLS])
    assert r.exit_code == 0, r.output
    assert "该划分没有错误" in r.output and "pianqu 方案（plan）" in r.output and "手工划分" in r.output
    table = compare_division(ws, csv, code="乡镇代码", zone="片区", is_centre="是否中心镇").table()
    assert table.iloc[:, 0].astype(str).tolist() == table.iloc[:, 1].astype(str).tolist()
    assert table.loc["zones"].iloc[0] == div["zone"].nunique()


def test_three_planted_errors_three_precise_findings(planned, tmp_path):
    ws, d, div, g = planned
    zones = list(pd.unique(div["zone"]))
    zone_of = dict(zip(div["code"], div["zone"]))
    centres = set(div.loc[div["centre_mark"], "code"])
    # 1. a township moved into a zone it does not touch (its own zone stays connected)
    target = zones[0]
    mover = next(c for c in div["code"] if zone_of[c] != target and c not in centres
                 and not any(zone_of.get(nb) == target for nb in g[c])
                 and nx.is_connected(g.subgraph(_members(div, zone_of[c]) - {c})))
    # 2. a township listed in a second zone; 3. a zone whose centre mark is removed
    twice = next(c for c in div["code"] if c not in centres and c != mover and zone_of[c] not in (target, zone_of[mover]))
    other = next(z for z in zones if z not in (zone_of[twice], target))
    headless = next(z for z in zones if z not in (target, other))
    hand = div.copy()
    hand.loc[hand["code"] == mover, "zone"] = target
    hand.loc[hand["zone"] == headless, "centre_mark"] = False
    hand = pd.concat([hand, pd.DataFrame({"code": [twice], "zone": [other], "centre_mark": [False]})],
                     ignore_index=True)
    path = tmp_path / "手工划分.xlsx"
    _as_table(hand).to_excel(path, index=False)
    before = path.read_bytes()
    r = runner.invoke(app, ["evaluate", str(ws.path), str(path), *COLS, "--lang", "en"])
    assert r.exit_code == 1, r.output
    assert path.read_bytes() == before
    assert "1 errors" not in r.output and "3 errors" in r.output
    # the same division through the library: exactly these three errors, naming the units and zones
    ev = compare_division(ws, path, code="乡镇代码", zone="片区", is_centre="是否中心镇").evaluation()
    errors = sorted((f.rule, f.feature) for f in ev.findings if f.severity == "error")
    assert errors == sorted([("zoning.eval.zone_not_contiguous", "片区" + target),
                             ("zoning.eval.unit_in_two_zones", twice),
                             ("zoning.eval.zone_without_centre", "片区" + headless)])
    assert (ev.summary["units_in_two_zones"], ev.summary["units_unassigned"], ev.summary["zones_without_centre"],
            ev.summary["noncontiguous_zones"]) == (1, 0, 1, 1)
    nc = next(f for f in ev.findings if f.rule == "zoning.eval.zone_not_contiguous")
    assert nc.params["units"] == mover
    for f in ev.findings:  # each message is printed (rich may wrap long lines)
        if f.severity == "error":
            assert f.feature in r.output
    assert mover in r.output and f"片区{other}" in r.output
    r_zh = runner.invoke(app, ["evaluate", str(ws.path), str(path), *COLS])  # zh by default
    flat = r_zh.output.replace(" ", "").replace("│", "").replace("\n", "")
    assert r_zh.exit_code == 1 and "3个错误" in flat
    assert f"片区“片区{target}”不连片" in flat and f"片区“片区{headless}”没有中心" in flat
    assert f"“{twice}”同时出现在多个片区中" in flat


def test_move_reevaluates_fast_and_equals_a_fresh_evaluation(planned, tmp_path):
    ws, d, div, g = planned
    zone_of = dict(zip(div["code"], div["zone"]))
    centres = set(div.loc[div["centre_mark"], "code"])
    # a border township whose zone stays connected without it: the move keeps every zone whole
    code, dest = next((c, zone_of[nb]) for c in div["code"] if c not in centres
                      for nb in g[c] if zone_of[nb] != zone_of[c]
                      and nx.is_connected(g.subgraph(_members(div, zone_of[c]) - {c})))
    cmp = compare_division(ws)
    res = cmp.move(code, dest)
    assert res["seconds"] < 0.2  # the re-evaluation itself (loading takes a second or two)
    moved = cmp.division()
    assert moved.loc[moved["code"] == code, "zone"].item() == dest
    fresh = evaluate(cmp.instance.units, moved.rename(columns={"is_centre": "centre_mark"}), cmp.instance.travel_s,
                     adjacency=cmp.instance.adjacency)
    for key in ("mean_time_min", "max_time_min", "within_share", "compactness_mean", "errors", "zones"):
        assert res["summary"][key] == pytest.approx(fresh.summary[key]), key
    assert res["summary"]["errors"] == 0

    out = tmp_path / "moved.csv"
    r = runner.invoke(app, ["move", str(ws.path), code, dest, "--out", str(out)])
    assert r.exit_code == 0, r.output
    ms = float(re.search(r"重新评价用时 ([\d.]+) 毫秒", r.output).group(1))
    assert ms < 200
    saved = pd.read_csv(out, dtype=str)
    assert saved.loc[saved["code"] == code, "zone"].item() == dest
    r2 = runner.invoke(app, ["evaluate", str(ws.path), str(out)])
    assert r2.exit_code == 0, r2.output
    # by zone name ('<centre name>片区') as well as by label; a move that cuts a zone: exit 1
    name = cmp.zone_names()[dest]
    assert runner.invoke(app, ["move", str(ws.path), code, name]).exit_code == 0
    centre = next(c for c in centres if len(_members(div, zone_of[c])) > 2)
    r3 = runner.invoke(app, ["move", str(ws.path), centre, next(z for z in set(div["zone"]) if z != zone_of[centre]),
                             "--lang", "en"])
    assert r3.exit_code == 1  # the centre leaves: its old zone has no centre (an error)
    assert f"zone '{zone_of[centre]}' has no centre" in r3.output.replace("\n", " ")


def test_bad_input_exits_2_with_a_clear_message(planned, tmp_path):
    ws, d, div, _ = planned
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"乡镇": div["code"], "片区": div["zone"]}).to_csv(bad, index=False)
    r = runner.invoke(app, ["evaluate", str(ws.path), str(bad)])
    assert r.exit_code == 2 and "bad.csv" in r.output and "code" in r.output
    r = runner.invoke(app, ["move", str(ws.path), div["code"].iloc[0], "no-such-zone"])
    assert r.exit_code == 2 and "no-such-zone" in r.output
    r = runner.invoke(app, ["evaluate", str(ws.path), str(bad), "--scenario", "nope", "--code-col", "乡镇"])
    assert r.exit_code == 2 and "nope" in r.output
