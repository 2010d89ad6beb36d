"""`pianqu evaluate` on the hand-made county: the Chinese table, JSON, the workbook, English,
writing the layers, versions."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from evaluation_county import COUNTY, V21, write_county
from pianqu.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def ws_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / f"{COUNTY}.gpkg"
    write_county(path)
    return path


def test_table_json_and_workbook(ws_path, tmp_path):
    js, xl = tmp_path / "体检.json", tmp_path / "体检.xlsx"
    res = runner.invoke(app, ["evaluate", str(ws_path), "-s", "plan", "--json", str(js), "--xlsx", str(xl)])
    assert res.exit_code == 0, res.output
    assert "耕地保有量" in res.output and "未达标" in res.output and "预警" in res.output and "无目标" in res.output
    doc = json.loads(js.read_text(encoding="utf-8"))
    assert doc["county"] == COUNTY and doc["epoch"] == 2025 and doc["lights"]["yellow"] == 1
    far = [r for r in doc["indicators"] if r["indicator"] == "farmland_area" and r["level"] == "county"][0]
    assert far["value"] == pytest.approx(19.5) and far["light"] == "red" and far["name"] == "耕地保有量"
    hosp = [f for f in doc["drivers"]["features"] if f["properties"]["indicator"] == "hospital_30min_villages"]
    assert [f["properties"]["feature"] for f in hosp] == [V21]
    sheets = pd.read_excel(xl, sheet_name=None)
    assert set(sheets) == {"体检评估指标", "问题要素"}
    assert "现状值" in sheets["体检评估指标"].columns and len(sheets["体检评估指标"]) > 37


def test_english_and_levels(ws_path):
    res = runner.invoke(app, ["evaluate", str(ws_path), "-s", "plan", "--lang", "en", "--levels"])
    assert res.exit_code == 0, res.output
    assert "cultivated" in res.output and "not met" in res.output and "township" in res.output


def test_write_and_compare(ws_path):
    assert runner.invoke(app, ["evaluate", str(ws_path), "-s", "plan", "--save-version", "v1",
                               "--reason", "批复版本"]).exit_code == 0
    res = runner.invoke(app, ["evaluate", str(ws_path), "-s", "plan", "--write"])
    assert res.exit_code == 0, res.output
    from pianqu.workspace import Workspace
    assert Workspace.open(ws_path).has("indicator", "plan")
    res = runner.invoke(app, ["evaluate", str(ws_path), "--compare", "v1", "plan"])
    assert res.exit_code == 0, res.output
    assert "方案版本比较" in res.output and "evalua" in res.output  # the write of --write, in the trail


def test_bad_arguments_are_messages(ws_path):
    res = runner.invoke(app, ["evaluate", str(ws_path), "--write"])
    assert res.exit_code == 2 and "--scenario" in res.output
    res = runner.invoke(app, ["evaluate", str(ws_path), "--epoch", "1999"])
    assert res.exit_code == 2 and "1999" in res.output
