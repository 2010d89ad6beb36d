"""A 三调 File GDB in CGCS2000 GK zone 36 with prefix (EPSG:4524) imports whole: layers and fields
recognised, 三调 codes converted, the review list written, areas preserved, sources untouched."""

from __future__ import annotations

import numpy as np
import pyogrio
import pytest
from pyproj import Geod

from ingest_data import COUNTY, SANDIAO, TOWNSHIPS, file_hashes, villages
from pianqu import divisions
from pianqu.geo import ellipsoidal_area
from pianqu.ingest import ImportResult, import_sources
from pianqu.workspace import Workspace


@pytest.fixture(scope="module")
def gdb_import(county_data, tmp_path_factory) -> tuple[ImportResult, Workspace, dict]:
    before = county_data["hashes"]
    ws_path = tmp_path_factory.mktemp("ws") / "tongjiang.gpkg"
    result = import_sources([county_data["gdb"]], ws_path)
    return result, Workspace.open(ws_path), before


def test_layers_recognised_and_workspace_created(gdb_import):
    result, ws, _ = gdb_import
    assert result.created and result.county_code == COUNTY and result.county_name == "通江县"
    assert ws.meta.county_code == COUNTY and ws.meta.county_name == "通江县" and not ws.meta.synthetic
    assert ws.meta.compute_epsg == 4545  # CM 108°E
    assert ws.meta.epochs == (2019,)  # no year anywhere: the 三调 time point, with a warning
    assert any(f.rule == "ingest.epoch_assumed" for f in result.findings)
    by_layer = {m.layer: m.target for m in result.matches}
    assert by_layer == {"DLTB": "landuse", "XZQ": "township", "XZQJX": "ignore", "CJDCQ": "village",
                        "YJJBNT": "farmland_pbf", "STBHHX": "eco_redline", "CZKFBJ": "urban_boundary"}
    assert result.layers == {"landuse": 24, "township": 2, "village": 6, "farmland_pbf": 4, "eco_redline": 1,
                             "urban_boundary": 1, "county": 1, "landuse_review": 4}
    assert set(ws.layers()) == set(result.layers)
    assert result.sources["landuse"] == [(str(result.matches[0].source), "DLTB")]
    # XZQJX is ignored with an info finding; the county is made from the townships
    assert any(f.rule == "ingest.layer_ignored" and f.severity == "info" for f in result.findings)
    derived = [f for f in result.findings if f.rule == "ingest.derived"]
    assert [f.layer for f in derived] == ["county"]
    # one write after the creation: one audit row per layer written
    audit = ws.audit()
    assert set(audit["command"]) == {"import"} and (audit["action"] == "create").sum() == 1
    assert set(audit.loc[audit["action"] == "replace", "layer"]) == set(result.layers)


def test_fields_mapped(gdb_import):
    result, ws, _ = gdb_import
    dltb = next(m for m in result.matches if m.layer == "DLTB")
    assert dltb.fields["DLBM"] == "source_code" and dltb.fields["TBMJ"] == "area_m2"
    assert dltb.fields["BSM"] == "bsm" and dltb.fields["CZCSXM"] == "czcsxm"
    assert dltb.fields["ZLDWDM"] == "zldwdm" and dltb.fields["QSDWDM"] == "qsdwdm"
    assert dltb.fields["PDJB"] == "slope_class"
    assert "EPSG:4524" in dltb.crs
    assert dltb.transform.startswith("EPSG:4524") and "→ EPSG:4490" in dltb.transform
    lu = ws.read("landuse")
    src = pyogrio.read_dataframe(result.matches[0].source, layer="DLTB").set_index("BSM").loc[lu["bsm"]]
    # ZLDWDM (19 digits) → village (12) and township (9); QSDWDM kept; CZCSXM kept as text
    assert (lu["village_code"].to_numpy() == src["ZLDWDM"].str[:12].to_numpy()).all()
    assert (lu["township_code"].to_numpy() == src["ZLDWDM"].str[:9].to_numpy()).all()
    assert set(lu["township_code"]) == set(TOWNSHIPS)
    assert (lu["qsdwdm"].to_numpy() == src["QSDWDM"].to_numpy()).all()
    assert set(lu["czcsxm"].dropna()) == {"203"}
    # 坡度级别 → representative slope: class 5 is steeper than 25°, class 4 is not
    slope = dict(zip(src["PDJB"], lu["slope_deg"]))
    assert slope["5"] > 25 >= slope["4"] > slope["3"] > slope["2"] > slope["1"]
    tw = ws.read("township").set_index("code")
    official = divisions.townships(COUNTY).set_index("code")
    assert list(tw.index) == TOWNSHIPS
    assert (tw["name"] == official.loc[TOWNSHIPS, "name"]).all() and (tw["kind"] == "镇").all()
    assert (tw["county_code"] == COUNTY).all()


def test_codes_converted_exactly_and_review_listed(gdb_import):
    result, ws, _ = gdb_import
    lu = ws.read("landuse")
    expected = dict(SANDIAO)
    got = lu.groupby("source_code")["code"].agg(set).to_dict()
    assert got == {k: {v} for k, v in expected.items()}
    assert expected["0702"] == "0703" and expected["1006"] == "0601"  # the examples
    names = dict(zip(lu["code"], lu["name"]))
    assert names["0703"] == "农村宅基地" and names["0601"] == "农村道路" and names["0602"] == "设施农用地"
    assert names["0303"] == "灌木林地" and names["0201"] == "果园"  # 0201K (可调整果园) as its base code
    # parcels without a unique mapping carry the default and are listed with the reason and alternatives
    review_rows = lu[lu["source_code"].isin(["05H1", "08H2"])]
    assert len(review_rows) == 4 and set(review_rows["name"]) == {"商业用地", "公共管理与公共服务用地"}
    review = ws.read("landuse_review")
    assert sorted(review["bsm"]) == sorted(review_rows["bsm"])
    assert set(review["source_code"]) == {"05H1", "08H2"}
    r05 = review[review["source_code"] == "05H1"]
    assert (r05["source_name"] == "商业服务业设施用地").all() and r05["reason"].str.contains("0902").all()
    assert (r05["default_code"] == "0901").all() and r05["alternatives"].str.contains("0904 其他商业服务业用地").all()
    assert len(result.review) == 4
    warned = {f.params["code"]: f.params["n"] for f in result.findings if f.rule == "ingest.landcode_default"}
    assert warned == {"05H1": 2, "08H2": 2}


def test_areas_preserved(gdb_import):
    """TBMJ unchanged; the ellipsoidal area of the stored geometry equals the GK source's to 1e-6."""
    result, ws, _ = gdb_import
    lu = ws.read("landuse").set_index("bsm")
    src = pyogrio.read_dataframe(result.matches[0].source, layer="DLTB").set_index("BSM").loc[lu.index]
    assert src.crs.to_epsg() == 4524 and lu.crs.to_epsg() == 4490
    assert (lu["area_m2"].to_numpy() == src["TBMJ"].to_numpy()).all()
    stored = ellipsoidal_area(lu)
    assert np.max(np.abs(stored / ellipsoidal_area(src) - 1)) < 1e-6
    # and against the independent geodesic TBMJ of the fixture (pyproj.Geod, densified GK polygon)
    assert np.max(np.abs(stored / src["TBMJ"].to_numpy() - 1)) < 1e-6
    geod = Geod(ellps="GRS80")
    direct = np.array([abs(geod.geometry_area_perimeter(g)[0]) for g in lu.geometry])
    assert np.max(np.abs(direct / src["TBMJ"].to_numpy() - 1)) < 1e-6


def test_divisions_and_control_lines(gdb_import):
    result, ws, _ = gdb_import
    v = ws.read("village").set_index("code")
    ref = villages().set_index("code")
    assert sorted(v.index) == sorted(ref.index)  # the split CJDCQ village is one feature again
    assert (v["name"] == ref.loc[v.index, "name"]).all()  # official 村民委员会 names shortened
    assert (v["township_code"] == ref.loc[v.index, "township_code"]).all()
    assert any(f.rule == "ingest.dissolved" and f.params["m"] == 1 for f in result.findings)
    tw = ws.read("township")
    county = ws.read("county")
    assert abs(ellipsoidal_area(county)[0] / ellipsoidal_area(tw).sum() - 1) < 1e-9
    assert abs(ellipsoidal_area(v).sum() / ellipsoidal_area(tw).sum() - 1) < 1e-9
    # STBHHX.MJ is in 公顷: recognised against the geometry and converted, the original kept
    red = ws.read("eco_redline")
    assert abs(red["area_m2"].iloc[0] / ellipsoidal_area(red)[0] - 1) < 1e-6
    assert red["mj_raw"].iloc[0] == pytest.approx(red["area_m2"].iloc[0] / 10_000)
    ub = ws.read("urban_boundary")
    assert ub["township_code"].tolist() == ["511921101"]
    assert abs(ub["area_m2"].iloc[0] / ellipsoidal_area(ub)[0] - 1) < 1e-6  # MJ already m²: unchanged
    pbf = ws.read("farmland_pbf")
    assert set(pbf["dlbm"]) == {"0101", "0103"} and pbf["id"].is_unique


def test_sources_unchanged(gdb_import, county_data):
    _, _, before = gdb_import
    assert file_hashes(county_data["root"]) == before


def test_deduction_fields_kept(gdb_import):
    """KCXS/KCMJ/TBDLMJ of the DLTB are imported as kcxs/kcmj/tbdlmj, unchanged (三调 口径 of 耕地/田坎)."""
    result, ws, _ = gdb_import
    dltb = next(m for m in result.matches if m.layer == "DLTB")
    assert dltb.fields["KCXS"] == "kcxs" and dltb.fields["KCMJ"] == "kcmj" and dltb.fields["TBDLMJ"] == "tbdlmj"
    lu = ws.read("landuse").set_index("bsm")
    src = pyogrio.read_dataframe(result.matches[0].source, layer="DLTB").set_index("BSM").loc[lu.index]
    for field in ("KCXS", "KCMJ", "TBDLMJ"):
        assert (lu[field.lower()].to_numpy() == src[field].to_numpy()).all(), field
    assert (src["KCMJ"] > 0).sum() >= 3  # farmland on slopes has 田坎
    assert not any(f.rule.startswith("ingest.deduction") for f in result.findings)
