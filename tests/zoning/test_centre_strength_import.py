"""The county's list of central towns as a planner delivers it — 中心镇名单.xlsx / .csv with
Chinese headers — imported, checked, recorded among the plan's inputs and respected by the
division; and `pianqu zones evaluate`'s figures of centre strength for a hand-made division."""

from __future__ import annotations

import pandas as pd
import pytest
import zoning_workspace as zw

from pianqu.ingest import import_sources
from pianqu.inputs import from_workspace
from pianqu.workspace import Workspace
from pianqu.zoning import instance as zi
from pianqu.zoning.compare import compare_division


@pytest.fixture(scope="module")
def county(tmp_path_factory):
    """The small real-format workspace of the zoning tests (12 townships of 简阳市) and its towns
    ordered by centre score (strongest first)."""
    ws = zw.build(tmp_path_factory.mktemp("centres") / "ws.gpkg")
    inst = zi.from_workspace(ws)
    order = inst.centre_scores().table.sort_values("rank")["code"].astype(str).tolist()
    return ws, inst, order


def test_list_imported_checked_and_respected(county, tmp_path):
    ws, inst, order = county
    names = inst.names
    towns = [c for c in order if c in set(inst.candidates or order)]
    weakest, strongest = towns[-1], towns[0]
    path = tmp_path / "中心镇名单.xlsx"
    pd.DataFrame({"乡镇代码": [int(weakest), None, None, 510185999],
                  "乡镇名称": [names[weakest], names[strongest], names[towns[1]], "无此镇"],
                  "类别": ["县定中心镇", "不作中心", "候选", "县定中心镇"],
                  "理由": ["县城副中心", "位于灾害风险区", "", ""]}).to_excel(path, index=False)
    target = tmp_path / "ws.gpkg"
    target.write_bytes(ws.path.read_bytes())
    import_sources([path], target)
    ws2 = Workspace.open(target)
    table = ws2.read("centres")
    assert {"code", "name", "category", "reason"} <= set(table.columns)
    assert table["category"].tolist()[:3] == ["县定中心镇", "不作中心", "候选中心镇"]  # 候选 → its category
    inputs = from_workspace(ws2)
    src = inputs.table().set_index("input").loc["centres"]
    assert src["status"] == "given" and src["rows"] == 3 and "zoning" in src["analyses"]
    bad = [f for f in inputs.findings if f.rule == "inputs.centres.unknown_code"]
    assert len(bad) == 1 and bad[0].params["row"] == 5 and bad[0].source == "中心镇名单.xlsx"
    inst2 = zi.from_workspace(ws2, inputs=inputs)
    p = zi.choose_p(inst2).recommended
    for rule in ("strength", "designated"):
        r = zi.solve(inst2, p, centre_rule=rule)
        assert weakest in r.centres and strongest not in r.centres
    # without a list the input is missing, and said so
    plain = from_workspace(ws)
    assert plain.table().set_index("input").loc["centres", "status"] == "missing"
    assert any(f.rule == "inputs.centres_missing" for f in plain.findings)


def test_evaluate_reports_the_strength_of_a_hand_made_division(county):
    ws, inst, order = county
    access = zi.solve(inst, 3, centre_rule="access")
    division = pd.DataFrame({"code": access.assignment.index, "zone": access.assignment.to_numpy(),
                             "centre_mark": access.assignment.index == access.assignment.to_numpy()})
    cmp = compare_division(ws, division, scenario=None)
    st = cmp.centre_strength()
    assert sorted(st["code"]) == sorted(access.centres)
    ranks = inst.centre_scores().table.set_index("code")["rank"]
    assert (st.set_index("code")["rank"] == ranks.reindex(st["code"]).to_numpy()).all()
    n = len(inst.units)
    assert (st["below_standard"] == (st["rank"] > -(-n // 2))).all()  # no list: below = rank beyond the top half
    table = cmp.table()
    assert table.loc["weak_centres", "division"] == st["below_standard"].sum()
    assert table.loc["centre_score_mean", "division"] == pytest.approx(st["score"].mean())
