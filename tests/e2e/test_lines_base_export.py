"""Control lines on the base workspace (no plan scenario), `pianqu plan` starting from that work,
and `pianqu export` → `pianqu import` round trips (GDB, GBK Shapefile, GPKG) keeping areas and
Chinese names. One small county (510403 西区) per module: synthesised, checked, planned once."""

from __future__ import annotations

import shutil

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from typer.testing import CliRunner

from pianqu.cli import app
from pianqu.export import BASE_LAYERS, FORMATS
from pianqu.geo import ellipsoidal_area
from pianqu.land import detect_conflicts, read_lines
from pianqu.land.workflow import STATUS_TABLE
from pianqu.workspace import Workspace

pytestmark = pytest.mark.slow  # a county synthesised, planned or run through the CLI end to end

runner = CliRunner()


def cli(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def county(tmp_path_factory):
    """西区 with one red-line feature planted over a farmland feature (a conflict that needs a
    decision), the base-level control-line work done through the CLI, then `pianqu plan`."""
    from pianqu.synth import write_county

    path = tmp_path_factory.mktemp("xiqu") / "510403.gpkg"
    write_county("510403", path, seed=1)
    ws = Workspace.open(path)
    pbf, red = ws.read("farmland_pbf"), ws.read("eco_redline")
    gk = pbf.to_crs(ws.meta.compute_epsg)
    big = gk.geometry.area.idxmax()
    planted = gpd.GeoDataFrame({"id": ["TEST-RED"], "core_zone": [False]},
                               geometry=[shapely.buffer(gk.geometry.loc[big].representative_point(), 60.0)],
                               crs=ws.meta.compute_epsg).to_crs(4490)
    ws.write({"eco_redline": pd.concat([red, planted], ignore_index=True)}, command="test")
    log = {"imported_red": Workspace.open(path).read("eco_redline"), "expected": detect_conflicts(read_lines(Workspace.open(path), None), epsg=ws.meta.compute_epsg)}
    log["conflicts"] = cli("lines", "conflicts", path)
    log["conflicts_again"] = cli("lines", "conflicts", path)
    c = Workspace.open(path).read("conflict")
    log["pending"] = c[c["resolution"] == "decide"]
    cid = log["pending"]["conflict_id"].iloc[0]
    log["cid"] = cid
    log["early"] = cli("lines", "finalise", path, "urban_boundary")
    log["decide"] = cli("lines", "decide", path, cid, "withdraw_right", "--reason", "红线勘界调整")
    log["decided"] = Workspace.open(path).read("conflict").set_index("conflict_id").loc[cid]
    log["apply"] = cli("lines", "apply", path)
    log["status"] = cli("lines", "status", path)
    log["spaces"] = cli("lines", "spaces", path)
    log["final"] = [cli("lines", "finalise", path, line, "--reason", "定稿")
                    for line in ("farmland_pbf", "eco_redline", "urban_boundary")]
    log["base_status"] = Workspace.open(path).read(STATUS_TABLE)
    log["base_red"] = Workspace.open(path).read("eco_redline")
    from pianqu.plan import plan

    plan(Workspace.open(path), "plan", services_step=False)
    return path, log


def test_lines_work_without_a_plan(county):
    path, log = county
    ws = Workspace.open(path)
    assert list(ws.scenarios()["name"]) == ["plan"]  # made by the plan at the end, not before
    r = log["conflicts"]
    assert r.exit_code == 0, r.output
    expected = sorted(log["expected"]["conflict_id"])
    assert len(expected) > 5 and all(cid in r.output for cid in expected)
    assert "基础数据" in r.output
    # stable ids: listed again from the stored table, the same ids
    assert log["conflicts_again"].exit_code == 0
    assert sorted(cid for cid in expected if cid in log["conflicts_again"].output) == expected
    planted = log["pending"]
    assert (planted["right_id"] == "TEST-RED").any()
    # out of order: refused with the reason, exit 1
    assert log["early"].exit_code == 1 and "须依次划定" in log["early"].output
    assert log["decide"].exit_code == 0, log["decide"].output
    assert log["decided"]["action"] == "withdraw_right" and log["decided"]["decision_reason"] == "红线勘界调整"
    assert log["apply"].exit_code == 0 and "已应用冲突规则" in log["apply"].output
    assert "基础数据" in log["status"].output and "草稿" in log["status"].output
    assert [r.exit_code for r in log["final"]] == [0, 0, 0], [r.output for r in log["final"]]
    assert set(log["base_status"]["status"]) == {"final"}
    # the red line gave way on the base layer: the planted feature lost the farmland patch
    # (a red-line feature inside the farmland is withdrawn whole)
    red = log["base_red"].set_index("id")
    pbf = ws.read("farmland_pbf")
    gk = int(ws.meta.compute_epsg)
    left = red.loc[red.index == "TEST-RED"]
    assert not len(left) or left.to_crs(gk).union_all().intersection(pbf.to_crs(gk).union_all()).area < 1.0
    change = ws.read("control_line_change")
    assert log["cid"] in ",".join(change["conflict_ids"])
    # the lines as imported are kept, unchanged, beside the cleaned ones
    kept = ws.read("eco_redline_imported")
    assert kept["id"].tolist() == log["imported_red"]["id"].tolist()
    assert shapely.equals(kept.geometry.to_numpy(), log["imported_red"].geometry.to_numpy()).all()


def test_county_spaces_without_zones(county):
    path, log = county
    r = log["spaces"]
    assert r.exit_code == 0, r.output
    assert all(word in r.output for word in ("农业空间", "生态空间", "建设空间"))
    from pianqu.land.workflow import county_spaces

    ws = Workspace.open(path)
    table = county_spaces(ws)
    county_area = float(ellipsoidal_area(ws.read("county")).sum())
    # the spaces tile the county: their sum is the county's area (planar GK vs ellipsoid: < 1e-3)
    assert abs(table["area_m2"].sum() / county_area - 1) < 1e-3
    assert abs(table["share"].sum() - 1) < 1e-9


def test_plan_starts_from_the_base_work(county):
    path, log = county
    ws = Workspace.open(path)
    status = ws.read(STATUS_TABLE, "plan").set_index("line")["status"]
    assert set(status) == {"final"}  # the base status carried into the new scenario
    change = ws.read("control_line_change", "plan")
    assert log["cid"] in ",".join(change["conflict_ids"])
    # the scenario's lines are the cleaned base lines: the decided patch does not come back
    c = ws.read("conflict", "plan")
    assert log["cid"] not in set(c["conflict_id"])
    # a scenario's own decision wins over the base's on re-plan
    from pianqu.land.workflow import merge_decisions

    base = pd.DataFrame({"conflict_id": ["A", "B"], "resolution": "decide", "action": ["withdraw_left"] * 2,
                         "decision_reason": ["base", "base"], "state": "open"})
    own = pd.DataFrame({"conflict_id": ["A", "B"], "resolution": "decide", "action": ["withdraw_right", ""],
                        "decision_reason": ["own", ""], "state": "open"})
    m = merge_decisions(own, base).set_index("conflict_id")
    assert m.loc["A", "action"] == "withdraw_right" and m.loc["B", "action"] == "withdraw_left"


@pytest.fixture(scope="module")
def exported(county, tmp_path_factory):
    path, _ = county
    out = tmp_path_factory.mktemp("export")
    results = {}
    for fmt in FORMATS:
        target = out / {"gdb": "xiqu.gdb", "shp": "xiqu_shp", "gpkg": "xiqu.gpkg"}[fmt]
        r = cli("export", path, "-s", "plan", "--format", fmt, "-o", target)
        assert r.exit_code == 0, r.output
        results[fmt] = target
    return results


def _layer(target, fmt, name):
    return pyogrio.read_dataframe(target / f"{name}.shp" if fmt == "shp" else target, layer=None if fmt == "shp"
                                  else name, encoding="GBK" if fmt == "shp" else None)


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_export_keeps_areas_crs_and_chinese(county, exported, fmt, tmp_path):
    path, _ = county
    ws = Workspace.open(path)
    target = exported[fmt]
    # the county's CRS is not recorded (synthetic): the computing GK zone with the zone prefix
    assert ws.meta.compute_epsg == 4543
    zone = _layer(target, fmt, "zone")
    assert zone.crs.to_epsg() == 4522
    # zone polygons: the same ellipsoidal areas and Chinese names
    mine = ws.read("zone", "plan").set_index("zone")
    back = zone.set_index("片区")
    a0 = ellipsoidal_area(mine.loc[back.index])
    a1 = ellipsoidal_area(back.to_crs(4490))
    assert np.allclose(a1, a0, rtol=1e-6, atol=0)
    assert list(back["名称"]) == list(mine.loc[back.index, "name"])
    if fmt == "shp":
        assert (target / "landuse.cpg").read_text().strip() == "GBK"
        table = pd.read_csv(target / "字段对照表.csv", encoding="utf-8-sig", dtype=str)
        assert all(len(n.encode("gbk")) <= 10 for n in table["字段名"])
        assert {"TBMJ", "YDYHFLDM", "片区"} <= set(table["字段名"])
    else:
        arrow = pyogrio.read_arrow(target, layer="zone")[1].schema
        meta = arrow.field("平均时间").metadata or {}
        assert meta.get(b"GDAL:OGR:alternative_name", b"").decode() == "到中心平均时间（分钟）"
    if fmt == "gdb":
        assert pyogrio.read_info(target, layer="landuse")["layer_metadata"]["ALIAS_NAME"] == "地类图斑"
    # export → import: parcels keep their areas (by BSM) and the townships their Chinese names
    sources = [target / f"{n}.shp" for n in BASE_LAYERS if (target / f"{n}.shp").exists()] if fmt == "shp" \
        else [target]
    mapping = tmp_path / "ignore.toml"
    names = [] if fmt == "shp" else [str(n) for n, _ in pyogrio.list_layers(target)]
    mapping.write_text("".join(f'[layers."{n}"]\ntarget = "ignore"\n' for n in names if n not in BASE_LAYERS),
                       encoding="utf-8")
    back_ws = tmp_path / "back.gpkg"
    r = cli("import", *sources, "-w", back_ws, "--mapping", mapping)
    assert r.exit_code == 0, r.output
    again = Workspace.open(back_ws)
    assert again.meta.extra["source_epsg"] == 4522  # recorded at import: the next export uses it
    def keyed(frame):  # two epochs: a parcel is (bsm, epoch)
        return frame.assign(epoch=frame["epoch"].astype(int)).set_index(["bsm", "epoch"])

    lu0, lu1 = keyed(ws.read("landuse")), keyed(again.read("landuse"))
    assert set(lu1.index) == set(lu0.index)
    a0 = ellipsoidal_area(lu0.loc[lu1.index])
    a1 = ellipsoidal_area(lu1)
    assert np.max(np.abs(a1 / a0 - 1)) < 1e-6
    assert (lu1["code"] == lu0.loc[lu1.index, "code"]).all()
    t0 = ws.read("township").set_index("code")["name"]
    t1 = again.read("township").set_index("code")["name"]
    assert t1.sort_index().to_dict() == t0.sort_index().to_dict()
