"""A county's own 三调 delivery, end to end, through the CLI as a planner runs it: import the File
GDB → validate (no error) → control-line conflicts without a plan → plan (roads, seats and
population derived, and said so) → report → export back to a File GDB in the delivery's CRS.
The delivery with planted defects: every defect reported, with the feature that carries it."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyogrio
import pytest
from typer.testing import CliRunner

from pianqu.cli import app
from pianqu.geo import ellipsoidal_area
from pianqu.report.tables import township_stats
from pianqu.workspace import Workspace

pytestmark = pytest.mark.slow  # a county synthesised, planned or run through the CLI end to end

runner = CliRunner()


def cli(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def run(clean_delivery, tmp_path_factory):
    """Every step's CLI result, in order, on one workspace."""
    root = tmp_path_factory.mktemp("zitong_e2e")
    ws = root / "zitong.gpkg"
    log = {"import": cli("import", clean_delivery.gdb, "-w", ws)}
    log["validate"] = cli("validate", ws, "--json", root / "findings.json")
    log["findings"] = json.loads((root / "findings.json").read_text(encoding="utf-8"))
    log["conflicts"] = cli("lines", "conflicts", ws)
    log["plan"] = cli("plan", ws, "--scenario", "plan", "--title", "三调方案", "--report", root / "report")
    log["report"] = (root / "report" / "index.html").read_text(encoding="utf-8")
    log["export"] = cli("export", ws, "-s", "plan", "--format", "gdb", "-o", root / "out.gdb")
    return ws, root, log


def test_every_step_succeeds_in_chinese(run):
    _, _, log = run
    for step in ("import", "conflicts", "plan", "export"):
        assert log[step].exit_code == 0, (step, log[step].output)
    assert log["validate"].exit_code == 0, log["validate"].output  # a clean delivery has no error
    assert not [f for f in log["findings"] if f["severity"] == "error"]
    # what was derived is said, with what to import to replace it
    out = "".join(log["plan"].output.split())  # the terminal wraps long lines
    assert "提取中心线生成路网" in out and "按居住用地面积分配" in out
    assert "pianquimport人口.xlsx" in out and "pianquimportcounty.osm.pbf" in out


def test_conflicts_without_a_plan_equal_the_independent_overlay(run, clean_delivery):
    ws_path, _, _ = run
    ws = Workspace.open(ws_path)
    assert ws.has("conflict")  # the base workspace's, before any scenario existed
    c = ws.read("conflict")
    by_rule = c.groupby("rule")["area_m2"].sum()
    truth = clean_delivery.truth["conflicts"]
    assert by_rule["pbf_in_redline"] == pytest.approx(truth["YJJBNT×STBHHX"], abs=0.5)
    assert by_rule["udb_over_pbf"] == pytest.approx(truth["YJJBNT×CZKFBJ"], abs=0.5)
    # each patch's area is the ellipsoidal area of its geometry, adjusted to the parcels' TBMJ
    # (面积平差: the pieces of a parcel add up to its TBMJ, a difference far below 1e-4)
    assert np.allclose(c["area_m2"], ellipsoidal_area(c), rtol=1e-4, atol=0.01)


def test_plan_records_derived_inputs_and_covers_every_township(run, clean_delivery):
    ws_path, _, _ = run
    ws = Workspace.open(ws_path)
    src = ws.read("input_source", "plan").set_index("input")["status"].to_dict()
    assert src == {"road": "derived", "settlement": "derived", "population": "estimated", "facility": "missing",
                   "economy": "missing", "landuse": "given", "centres": "missing"}
    members = ws.read("zone_member", "plan")
    assert sorted(members["township_code"]) == sorted(clean_delivery.truth["townships"])
    assert ws.has("village_zone", "plan") and ws.has("hierarchy", "plan")
    assert ws.has("road_dead_end", "plan") and ws.has("space", "plan")
    assert len(ws.read("derived_road", "plan")) > 20


def test_report_shows_zones_lines_spaces_roads_and_where_inputs_came_from(run):
    page = run[2]["report"]
    for title in ("数据来源：实有、推算与估算", "片区划分与镇村体系", "三条控制线与三区空间", "道路网络诊断"):
        assert title in page, title
    assert "交通用地图斑中心线" in page and "2020 年普查总数按居住用地分配" in page


def test_cultivated_land_and_field_ridges_follow_the_sandiao_method(run, clean_delivery):
    """耕地 = ΣTBDLMJ of farmland parcels and 田坎 = ΣKCMJ, to the cent, in the report's tables."""
    ws = Workspace.open(run[0])
    stats = township_stats(ws)
    truth = clean_delivery.truth
    assert stats["l1_01"].sum() * 10_000 == pytest.approx(truth["farmland_tbdlmj_sum"], abs=0.01)
    assert stats["l1_23"].sum() * 10_000 >= truth["kcmj_sum"] - 0.01  # 田坎 (2303) is in class 23
    lu = ws.read("landuse")
    assert lu["kcmj"].sum() == pytest.approx(truth["kcmj_sum"], abs=0.01)
    assert lu["area_m2"].sum() == pytest.approx(truth["tbmj_sum"], abs=0.01)


def test_export_is_a_file_gdb_in_the_delivery_crs(run):
    _, root, log = run
    assert "EPSG:4544" in log["export"].output
    layers = dict(pyogrio.list_layers(root / "out.gdb"))
    assert {"DLTB", "XZQ"} & set(layers) or any("片区" in name or "zone" in name for name in layers)
    info = pyogrio.read_info(root / "out.gdb", layer=next(name for name in layers if "zone" in name.lower()
                                                           or "片区" in name))
    assert info["crs"] == "EPSG:4544"


@pytest.fixture(scope="module")
def defects(defect_delivery, tmp_path_factory):
    root = tmp_path_factory.mktemp("zitong_defects_e2e")
    ws = root / "zitong.gpkg"
    imported = cli("import", defect_delivery.gdb, "-w", ws)
    validated = cli("validate", ws, "--json", root / "findings.json", "--xlsx", root / "质检.xlsx",
                    "--gpkg", root / "质检.gpkg")
    findings = json.loads((root / "findings.json").read_text(encoding="utf-8"))
    review = cli("landuse", "review", ws)
    return ws, root, imported, validated, findings, review


def test_planted_defects_are_each_reported_with_their_feature(defects, defect_delivery):
    ws, root, imported, validated, findings, review = defects
    truth = defect_delivery.truth
    assert imported.exit_code == 0, imported.output
    assert validated.exit_code == 1  # errors
    errors = [f for f in findings if f["severity"] == "error"]
    bowtie = [f for f in errors if f["rule"] == "validate.invalid_geometry_projected"]
    assert [f["feature"] for f in bowtie] == [truth["bowtie_bsm"]]
    dup = [f for f in errors if f["rule"] == "validate.duplicate_id" and f["layer"] == "village"]
    assert dup and all(truth["duplicate_code"] in f["feature"] for f in dup)
    named = " ".join(f["message"] for f in dup)
    for name in truth["duplicate_villages"]:
        assert name.replace("村民委员会", "") in named
    villages = Workspace.open(ws).read("village")  # both villages kept, none merged
    assert (villages["code"] == truth["duplicate_code"]).sum() == 2
    # 0810 parcels: counted as 1401 and left on the review list that `pianqu landuse review` lists
    lu = Workspace.open(ws).read("landuse").set_index("bsm")
    assert set(lu.loc[truth["review_bsms"], "code"]) == {"1401"}
    assert review.exit_code == 0 and "0810" in review.output
    # the full list and an error layer for ArcGIS/QGIS
    assert len(pd.read_excel(root / "质检.xlsx", sheet_name=None)) >= 2
    layers = [name for name, _ in pyogrio.list_layers(root / "质检.gpkg")]
    assert sum(len(pyogrio.read_dataframe(root / "质检.gpkg", layer=name)) for name in layers) == len(findings)
