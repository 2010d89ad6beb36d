"""Validation severities that fit a real county's data, and findings at volume as a 质检 report.

A 三调 delivery in a projected CRS (EPSG:4524, zone prefix) is written from the ingest fixture
(``tests/ingest/ingest_data.py``) with planted defects and imported once per session:

- a bow-tie parcel whose crossing (1 cm over a 1 km edge) GEOS misses in EPSG:4490 degrees;
- a village recoded to its neighbour's code (different names): two villages, one code;
- CZKFBJ and STBHHX whose XZQDM holds the county's own 6-digit code (county-wide);
- no population at all (三调 carries none).
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ingest"))

from ingest_data import COUNTY, ORIGIN, geodesic_area, write_sandiao_gdb  # noqa: E402
from pianqu import divisions  # noqa: E402
from pianqu.cli import app  # noqa: E402
from pianqu.ingest import import_sources  # noqa: E402
from pianqu.validate import RULES, validate_layers, validate_workspace  # noqa: E402
from pianqu.validate.qc import qc_report  # noqa: E402
from pianqu.workspace import Workspace  # noqa: E402
from validate_fixture import clean_layers, write_workspace  # noqa: E402

BOWTIE_BSM = "511921201999999999"


@pytest.fixture
def wide(monkeypatch):
    """A terminal wide enough that rich does not fold the table's cells."""
    from pianqu import cli

    monkeypatch.setattr(cli.console, "_width", 400)


def flat(text: str) -> str:
    """Terminal output without the table's borders, wrapping and spaces (rich folds long cells)."""
    return re.sub(r"[\s│┃┆]+", "", text)


def bowtie(x0: float, y0: float, length: float = 1000.0, dip: float = 0.01) -> shapely.Polygon:
    """A strip whose middle vertex dips ``dip`` metres below its straight bottom edge: the two
    edges through it cross that edge (a self-intersection in the plane of the GK zone)."""
    return shapely.Polygon([(x0, y0), (x0 + length, y0), (x0 + length, y0 + 50),
                            (x0 + length / 2, y0 - dip), (x0, y0 + 50)])


@pytest.fixture(scope="session")
def sandiao(tmp_path_factory):
    """The 三调 layers as a GK GeoPackage (EPSG:4524) with the planted defects, imported."""
    root = tmp_path_factory.mktemp("sandiao_real")
    gdb = root / "src.gdb"
    write_sandiao_gdb(gdb)
    layers = {name: pyogrio.read_dataframe(gdb, layer=name) for name, _ in pyogrio.list_layers(gdb)}
    dltb = layers["DLTB"]
    bow = bowtie(ORIGIN[0] + 1000, ORIGIN[1] + 1990)  # inside the village cells, 1 km long
    row = dltb.iloc[[0]].copy()
    row["BSM"], row["TBMJ"] = BOWTIE_BSM, round(float(shapely.area(bow)), 2)
    row = row.set_geometry([bow], crs=dltb.crs)
    layers["DLTB"] = pd.concat([dltb, row], ignore_index=True)
    cj = layers["CJDCQ"]
    codes = cj["ZLDWDM"].str[:12]
    first, second = codes.iloc[2], codes.iloc[3]  # two villages of one township (not the split one)
    assert first[:9] == second[:9] and cj["ZLDWMC"].iloc[2] != cj["ZLDWMC"].iloc[3]
    cj.loc[3, "ZLDWDM"] = cj.loc[2, "ZLDWDM"]
    layers["CZKFBJ"]["XZQDM"] = COUNTY
    layers["STBHHX"]["XZQDM"] = COUNTY
    src = root / "511921通江县三调.gpkg"
    for name, frame in layers.items():
        pyogrio.write_dataframe(frame, src, layer=name, driver="GPKG")
    ws = root / "ws.gpkg"
    result = import_sources([src], ws)
    names = tuple(divisions.short_village_name(n) for n in cj["ZLDWMC"].iloc[[2, 3]])  # as import keeps them
    return {"ws": ws, "import": result, "code": first, "names": names,
            "villages": cj.iloc[[2, 3]], "bowtie": bow, "root": root}


@pytest.fixture(scope="session")
def findings(sandiao):
    return validate_workspace(Workspace.open(sandiao["ws"]))


def test_bowtie_in_gk_source_reported_with_its_bsm(sandiao, findings):
    ws = Workspace.open(sandiao["ws"])
    lu = ws.read("landuse")
    stored = lu.geometry[lu["bsm"] == BOWTIE_BSM]
    assert len(stored) == 1 and stored.is_valid.all()  # in degrees GEOS sees a valid ring
    hits = [f for f in findings if f.rule == "validate.invalid_geometry_projected"]
    assert [(f.severity, f.layer, f.feature) for f in hits] == [("error", "landuse", BOWTIE_BSM)]
    assert hits[0].params["epsg"] == ws.meta.compute_epsg
    assert "Self-intersection" in hits[0].params["reason"]
    assert BOWTIE_BSM in hits[0].message("zh") and "EPSG:" in hits[0].message("zh")
    # the independent answer: the stored ring taken back to the source's zone is a bow-tie
    back = stored.to_crs(4524).iloc[0]
    assert not back.is_valid


def test_two_villages_one_code_are_kept_and_both_named(sandiao, findings):
    code = sandiao["code"]
    village = Workspace.open(sandiao["ws"]).read("village")
    same = village[village["code"] == code]
    assert len(same) == 2  # both kept as they came, none merged
    assert sorted(same["name"]) == sorted(sandiao["names"])
    src = sandiao["villages"].to_crs(4490)
    for geom in src.geometry:  # each feature keeps its own geometry
        assert min(g.symmetric_difference(geom).area for g in same.geometry) < 1e-12
    hits = [f for f in findings if f.rule == "validate.duplicate_id" and f.layer == "village"]
    assert len(hits) == 2 and all(f.severity == "error" for f in hits)
    rows = sorted(village.index[village["code"] == code] + 1)
    assert sorted(f.params["row"] for f in hits) == rows
    for f in hits:
        assert f.feature == f"{code} #{f.params['row']}"
        message = f.message("zh")
        for name, row in zip(sorted(sandiao["names"]), rows):
            assert name in message or name in f.params["features"]
        for row in rows:
            assert f"#{row}" in message
    notes = [f for f in sandiao["import"].findings if f.rule == "ingest.duplicate_codes"]
    assert len(notes) == 1 and notes[0].severity == "warning" and code in notes[0].params["examples"]
    # the split CJDCQ village (same code, same name: parts of one unit) is still one feature
    assert village["code"].value_counts().max() == 2 and len(village) == 6


def test_county_code_accepted_on_county_wide_layers(sandiao, findings):
    ws = Workspace.open(sandiao["ws"])
    assert set(ws.read("urban_boundary")["township_code"]) == {COUNTY}
    assert set(ws.read("eco_redline")["xzqdm"].astype(str)) == {COUNTY}
    bad = [f for f in findings if f.layer in ("urban_boundary", "eco_redline")
           and f.rule in ("validate.unknown_area_code", "validate.unknown_parent")]
    assert bad == []


def test_another_countys_code_is_an_error_on_every_county_wide_layer():
    layers = clean_layers()
    layers["urban_boundary"]["township_code"] = "511922"
    layers["eco_redline"]["xzqdm"] = "511922"
    layers["farmland_pbf"]["xzqdm"] = ["511921", "511921101"]  # county-wide and a township: fine
    found = validate_layers(layers, county_code=COUNTY)
    got = {(f.severity, f.rule, f.layer, f.feature, f.field) for f in found if f.severity == "error"}
    assert got == {("error", "validate.unknown_area_code", "urban_boundary", "CZKFBJ01", "township_code"),
                   ("error", "validate.unknown_area_code", "eco_redline", "STBHHX01", "xzqdm")}
    layers["urban_boundary"]["township_code"] = COUNTY
    layers["eco_redline"]["xzqdm"] = COUNTY + "000"  # padded county code
    assert not [f for f in validate_layers(layers, county_code=COUNTY) if f.severity == "error"]


def test_missing_population_is_a_warning_with_the_fix_and_exit_0(tmp_path, sandiao, wide):
    layers = clean_layers()
    for name in ("township", "village"):
        layers[name] = layers[name].drop(columns="population")
    path = tmp_path / "ws.gpkg"
    write_workspace(path, layers)
    result = CliRunner().invoke(app, ["validate", str(path), "--lang", "zh"])
    assert result.exit_code == 0, result.stdout
    assert "缺少人口数据" in flat(result.stdout) and "pianquimport人口.xlsx" in flat(result.stdout)
    found = validate_workspace(Workspace.open(path))
    assert {(f.severity, f.rule, f.layer) for f in found} == {
        ("warning", "validate.population_absent", "township"), ("warning", "validate.population_absent", "village")}
    assert RULES["validate.missing_population"] == "warning"
    # import says the same, with the same fix
    notes = [f for f in sandiao["import"].findings if f.rule == "ingest.population_absent"]
    assert {(f.severity, f.layer) for f in notes} == {("warning", "township"), ("warning", "village")}
    assert not [f for f in sandiao["import"].findings
                if f.rule == "ingest.missing_required" and "population" in f.params["fields"]]
    assert "行政区代码" in notes[0].action("zh") and "常住人口" in notes[0].action("zh")


def test_grouped_output_and_the_full_list_in_xlsx_and_gpkg(sandiao, findings, tmp_path, wide):
    xlsx, gpkg = tmp_path / "质检.xlsx", tmp_path / "质检.gpkg"
    result = CliRunner().invoke(app, ["validate", str(sandiao["ws"]), "--lang", "zh", "--xlsx", str(xlsx),
                                      "--gpkg", str(gpkg), "--examples", "2"])
    assert result.exit_code == 1
    out = flat(result.stdout)
    assert "按规则汇总" in out
    counts = Counter(f.rule for f in findings)
    qc = qc_report(Workspace.open(sandiao["ws"]))
    groups = qc.groups("zh", examples=2)
    assert dict(zip(groups["rule"], groups["count"])) == dict(counts)
    for rule, n in counts.items():
        assert rule in out
        if n > 2:
            assert f"等{n}处" in out
    # one table row per rule, not per feature: far fewer lines than findings × wrapped rows
    assert len(groups) < len(findings)
    # the area of a rule = Σ geodesic areas of the distinct polygons involved (independent: pyproj.Geod)
    dup = groups.set_index("rule").loc["validate.duplicate_id", "area_m2"]
    want = geodesic_area(sandiao["villages"].geometry).sum()
    assert dup == pytest.approx(want, rel=1e-6)

    summary = pd.read_excel(xlsx, sheet_name="按规则汇总")
    listed = pd.read_excel(xlsx, sheet_name="问题清单")
    assert len(listed) == len(findings) and summary["数量"].sum() == len(findings)
    assert Counter(listed["规则"]) == counts
    assert {"级别", "图层", "要素编号", "字段", "问题描述", "处理建议", "面积_平方米"} <= set(listed.columns)
    assert (listed["要素编号"].astype(str) == BOWTIE_BSM).sum() == Counter(
        f.feature for f in findings)[BOWTIE_BSM]

    info = {name: pyogrio.read_info(gpkg, layer=name) for name, _ in pyogrio.list_layers(gpkg)}
    assert sum(i["features"] for i in info.values()) == len(findings)
    poly = gpd.read_file(gpkg, layer="质检问题_面")
    assert poly.crs.to_epsg() == 4490 and poly.geometry.notna().all() and not poly.geometry.is_empty.any()
    assert "要素编号" in poly.columns and "问题描述" in poly.columns
    bow = poly[(poly["要素编号"] == BOWTIE_BSM) & (poly["规则"] == "validate.invalid_geometry_projected")]
    assert len(bow) == 1
    src = gpd.GeoSeries([sandiao["bowtie"]], crs=4524).to_crs(4490).iloc[0]
    assert np.allclose(shapely.get_coordinates(bow.geometry.iloc[0]), shapely.get_coordinates(src), atol=1e-9)
    vil = poly[(poly["规则"] == "validate.duplicate_id") & (poly["图层"] == "village")]
    assert len(vil) == 2 and vil.geometry.is_valid.all()

    # the planner's original CRS on request
    gk = tmp_path / "质检_4524.gpkg"
    qc.to_gpkg(gk, "zh", crs="EPSG:4524")
    assert pyogrio.read_info(gk, layer="质检问题_面")["crs"] == "EPSG:4524"

    # --json keeps working
    js = CliRunner().invoke(app, ["validate", str(sandiao["ws"]), "--json", "-"])
    assert js.exit_code == 1 and len(json.loads(js.stdout)) == len(findings)


def test_parts_of_one_unit_are_told_from_different_units():
    from pianqu.ingest.conform import _unit_name

    same = {_unit_name(n) for n in ("民胜村一组", "民胜村村民委员会", "民胜村民委员会", "民胜村", "民胜村 3组")}
    assert len(same) == 1
    assert _unit_name("城南社区二居民小组") == "城南社区"
    assert _unit_name("鹦哥嘴村民委员会") != _unit_name("新场村民委员会")
    assert _unit_name(None) == _unit_name("  ") == ""
