"""End to end on the default county: synth → validate (no error) → report → CLI, real names and census."""

import json

import pytest
from typer.testing import CliRunner

from pianqu import divisions
from pianqu.cli import app
from pianqu.findings import summary
from pianqu.validate import validate_workspace
from pianqu.workspace import Workspace

pytestmark = pytest.mark.slow  # a county synthesised, planned or run through the CLI end to end


def test_validate_finds_no_error(tongjiang):
    findings = validate_workspace(tongjiang)
    errors = [f for f in findings if f.severity == "error"]
    assert not errors, [(f.rule, f.layer, f.feature, f.message()) for f in errors[:10]]


def test_real_names_codes_and_census(tongjiang):
    t = tongjiang.read("township").sort_values("code")
    v = tongjiang.read("village").sort_values("code")
    real_t = divisions.townships("511921").sort_values("code")
    real_v = divisions.villages("511921").sort_values("code")
    assert t["code"].tolist() == real_t["code"].tolist()
    assert t["name"].tolist() == real_t["name"].tolist()
    assert v["code"].tolist() == real_v["code"].tolist()
    assert v["name"].tolist() == real_v["name"].tolist()
    census = divisions.census("511921")
    assert int(t["population"].sum()) == census["population"]
    assert int(v["population"].sum()) == census["population"]
    meta = Workspace.open(tongjiang.path).meta
    assert meta.synthetic is True and meta.county_name == "通江县" and meta.compute_epsg == 4545


def test_cli_validate_json_and_exit_code(tongjiang, tmp_path):
    runner = CliRunner()
    out = tmp_path / "f.json"
    res = runner.invoke(app, ["validate", str(tongjiang.path), "--json", str(out), "--lang", "en"])
    assert res.exit_code == 0, res.output
    data = json.loads(out.read_text(encoding="utf-8"))
    assert summary([]) == {"error": 0, "warning": 0, "info": 0}
    assert all(d["severity"] != "error" for d in data)


def test_cli_info_and_report(tongjiang, tmp_path):
    runner = CliRunner()
    res = runner.invoke(app, ["info", str(tongjiang.path)])
    assert res.exit_code == 0 and "511921" in res.output and "synth" in res.output
    res = runner.invoke(app, ["report", str(tongjiang.path), "-o", str(tmp_path / "r")])
    assert res.exit_code == 0, res.output
    html = (tmp_path / "r" / "index.html").read_text(encoding="utf-8")
    assert "通江县" in html and "模拟数据" in html
    for name in divisions.townships("511921")["name"]:
        assert name in html


def test_cli_validate_exit_1_on_broken_copy(tongjiang, tmp_path):
    ws = Workspace.open(tongjiang.path)
    broken = Workspace.create(tmp_path / "b.gpkg", county_code="511921", county_name="通江县", synthetic=True)
    villages = ws.read("village")
    villages.loc[0, "population"] = -5
    broken.write({"township": ws.read("township"), "village": villages, "county": ws.read("county"),
                  "landuse": ws.read("landuse")}, command="test")
    res = CliRunner().invoke(app, ["validate", str(broken.path)])
    assert res.exit_code == 1
    assert "错误" in res.output


def test_cli_travel_matrix_equals_library(tongjiang, tmp_path):
    import numpy as np
    import pandas as pd

    from pianqu.network import build_graph, od_matrix

    out = tmp_path / "od.csv"
    res = CliRunner().invoke(app, ["travel", str(tongjiang.path), "--from", "settlement:level=town_seat",
                                   "--to", "facility:kind=health_centre", "-o", str(out)])
    assert res.exit_code == 0, res.output
    table = pd.read_csv(out, index_col=0, encoding="utf-8-sig")
    s = tongjiang.read("settlement")
    f = tongjiang.read("facility")
    expect = od_matrix(build_graph(tongjiang.read("road"), config=tongjiang.config()),
                       s[s["level"] == "town_seat"], f[f["kind"] == "health_centre"]) / 60
    np.testing.assert_allclose(table.to_numpy(), expect, rtol=1e-12)
    res = CliRunner().invoke(app, ["travel", str(tongjiang.path), "--to", "facility:kind=nope", "-o", str(out)])
    assert res.exit_code == 2
