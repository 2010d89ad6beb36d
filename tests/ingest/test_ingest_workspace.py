"""Several sources into one workspace: tables joined by code, a second import replacing one layer,
land-use epochs side by side, a user mapping file, dry runs, and failures that change nothing."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
import shapely

from ingest_data import COUNTY, TOWNSHIPS, file_hashes, parcels, village_cells, villages
from pianqu.i18n import catalogue
from pianqu.ingest import IngestError, import_sources, recognise
from pianqu.workspace import Workspace


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def full(county_data, tmp_path_factory):
    """GDB + GBK shapefiles are not mixed here: the GDB plus the GPKG/GeoJSON/CSV/XLSX sources."""
    ws_path = tmp_path_factory.mktemp("full") / "county.gpkg"
    srcs = [county_data[k] for k in ("gdb", "facility", "road", "economy", "population")]
    result = import_sources(srcs, ws_path, epoch=2022)
    return result, ws_path


def test_every_format_in_one_import(full):
    result, ws_path = full
    ws = Workspace.open(ws_path)
    assert ws.meta.epochs == (2022,)
    targets = {(Path(m.source).name, m.layer): m.target for m in result.matches}
    assert targets[("设施.gpkg", "公共服务设施")] == "facility"
    assert targets[("道路.geojson", "道路")] == "road"
    assert targets[("产业统计.csv", "产业统计")] == "economy"
    assert targets[("人口.xlsx", "Sheet1")] == "attributes"
    fac = ws.read("facility").set_index("id")
    assert fac.loc["F000", "kind"] == "health_centre" and fac.loc["F002", "kind"] == "elderly_home"  # 敬老院
    assert fac.loc["F004", "kind"] == "elderly_daycare" and fac.loc["F005", "kind"] == "农家书屋"
    assert any(f.rule == "ingest.unknown_values" and "农家书屋" in f.params["values"] for f in result.findings)
    road = ws.read("road")
    assert road["class"].tolist() == ["county", "township", "village", "village", "national"]
    assert road["width_m"].tolist() == [8.5, 6.5, 4.5, 4.5, 12.0]
    econ = ws.read("economy")
    assert econ["township_code"].tolist() == TOWNSHIPS * 2 and econ["output"].sum() == pytest.approx(5950.75)
    assert econ["sector"].tolist() == ["川茶", "川茶", "川猪", "川粮油"] and (econ["year"] == 2023).all()


def test_population_table_joined_by_code(full):
    """人口.xlsx: a title row, townships written as 12-digit numbers (…000), villages as 12-digit numbers."""
    result, ws_path = full
    ws = Workspace.open(ws_path)
    t = ws.read("township").set_index("code")
    assert t.loc[TOWNSHIPS, "population"].tolist() == [21000, 18000]
    v = ws.read("village").set_index("code")
    ref = villages()
    expected = dict(zip(ref["code"], [1500 + 100 * i for i in range(len(ref))]))
    assert v["population"].to_dict() == expected
    assert v["households"].to_dict() == dict(zip(ref["code"], [500 + 30 * i for i in range(len(ref))]))
    updated = {(f.layer, f.params["target_field"]): f.params["n"] for f in result.findings
               if f.rule == "ingest.join_updated"}
    assert updated == {("township", "population"): 2, ("village", "population"): 6, ("village", "households"): 6}
    assert not any(f.rule in ("ingest.join_unmatched", "ingest.join_name_differs") for f in result.findings)


def test_second_import_replaces_one_layer_and_keeps_the_others(full, county_data, tmp_path):
    _, ws_path = full
    copy = tmp_path / "county.gpkg"
    copy.write_bytes(ws_path.read_bytes())
    before = Workspace.open(copy)
    kept = {name: before.read(name) for name in before.layers() if name != "village"}
    # without --replace: refused, nothing changes
    digest = sha(copy)
    with pytest.raises(IngestError) as err:
        import_sources([county_data["village"]], copy)
    assert err.value.rule == "ingest.layer_exists" and "--replace" in str(err.value)
    assert sha(copy) == digest
    result = import_sources([county_data["village"]], copy, replace=True)
    assert result.layers == {"village": 6} and not result.created
    after = Workspace.open(copy)
    assert set(after.layers()) == set(kept) | {"village"}
    for name, frame in kept.items():
        pd.testing.assert_frame_equal(after.read(name), frame, check_dtype=False)
    v = after.read("village")
    assert "village_class" in v.columns  # the new layer came from 村界.shp
    # a table alone updates the workspace's own layer without --replace
    result = import_sources([county_data["population"]], copy)
    assert set(result.layers) == {"township", "village"}
    assert Workspace.open(copy).read("village").set_index("code")["population"].min() == 1500


def test_landuse_epochs_side_by_side(county_data, tmp_path):
    ws_path = tmp_path / "w.gpkg"
    import_sources([county_data["gdb"]], ws_path, epoch=2019)
    # an annual change survey of 2023 as a Shapefile in the same GK zone
    p = parcels()
    p.loc[p["DLBM"] == "0101", "DLBM"] = "0702"  # farmland built over
    shp = tmp_path / "DLTB_2023.shp"
    pyogrio.write_dataframe(p, shp, encoding="UTF-8")
    result = import_sources([shp], ws_path)
    assert any(f.rule == "ingest.epoch_from_name" and f.params["epoch"] == 2023 for f in result.findings)
    ws = Workspace.open(ws_path)
    assert ws.meta.epochs == (2019, 2023)
    lu = ws.read("landuse")
    assert lu.groupby("epoch").size().to_dict() == {2019: 24, 2023: 24}
    assert (lu[lu["epoch"] == 2023]["source_code"] != "0101").all()
    review = ws.read("landuse_review")
    assert review.groupby("epoch").size().to_dict() == {2019: 4, 2023: 4}
    with pytest.raises(IngestError, match="2023"):
        import_sources([shp], ws_path)  # the same epoch again needs --replace
    import_sources([shp], ws_path, replace=True)
    assert Workspace.open(ws_path).read("landuse").groupby("epoch").size().to_dict() == {2019: 24, 2023: 24}


def test_user_mapping_overrides(tmp_path):
    cells = village_cells()
    odd = gpd.GeoDataFrame({"XZDM": cells["township_code"], "XZMC": "x", "RK_2020": [10, 20, 30, 40, 50, 60],
                            "cun": cells["code"]}, geometry=cells.geometry, crs=4524)
    shp = tmp_path / "boundary_v3.shp"
    pyogrio.write_dataframe(odd, shp)
    with pytest.raises(IngestError) as err:
        import_sources([shp], tmp_path / "w.gpkg")
    assert err.value.rule == "ingest.unknown_layer" and "--mapping" in str(err.value)
    mapping = tmp_path / "map.toml"
    mapping.write_text('[layers.boundary_v3]\ntarget = "village"\n[layers.boundary_v3.fields]\n'
                       'cun = "code"\nRK_2020 = "population"\nXZDM = "township_code"\n', encoding="utf-8")
    (m,) = recognise(shp, mapping=mapping)
    assert m.target == "village" and m.how == "user mapping"
    assert m.fields == {"cun": "code", "RK_2020": "population", "XZDM": "township_code"}
    import_sources([shp], tmp_path / "w.gpkg", mapping=mapping)
    v = Workspace.open(tmp_path / "w.gpkg").read("village").set_index("code")
    assert v["population"].tolist() == [10, 20, 30, 40, 50, 60]
    assert (v["name"] == villages().set_index("code").loc[v.index, "name"]).all()  # names from divisions
    bad = tmp_path / "bad.toml"
    bad.write_text('[layers.boundary_v3]\ntarget = "village"\n[layers.boundary_v3.fields]\ncun = "codee"\n')
    with pytest.raises(IngestError, match="codee"):
        import_sources([shp], tmp_path / "w2.gpkg", mapping=bad)


def test_failed_import_changes_nothing(full, county_data, tmp_path):
    _, ws_path = full
    copy = tmp_path / "county.gpkg"
    copy.write_bytes(ws_path.read_bytes())
    digest = sha(copy)
    noprj = tmp_path / "DLTB_noprj.shp"
    pyogrio.write_dataframe(parcels(), noprj)
    noprj.with_suffix(".prj").unlink()
    with pytest.raises(IngestError):
        import_sources([county_data["village"], noprj], copy, replace=True)
    assert sha(copy) == digest
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
    with pytest.raises(IngestError) as err:
        import_sources([tmp_path / "missing.gdb"], copy)
    assert err.value.rule == "ingest.not_found"
    with pytest.raises(IngestError) as err:
        import_sources([copy], copy)
    assert err.value.rule == "ingest.source_is_workspace"


def test_recognise_writes_nothing(county_data, tmp_path):
    before = file_hashes(county_data["root"])
    matches = recognise(county_data["gdb"])
    assert {m.layer: m.target for m in matches}["XZQ"] == "township"
    dltb = next(m for m in matches if m.layer == "DLTB")
    assert dltb.rows == 24 and "EPSG:4524" in str(dltb) and "DLBM→source_code" in str(dltb)
    assert file_hashes(county_data["root"]) == before
    assert list(tmp_path.iterdir()) == []


def test_osm_pbf_roads_recognised():
    import pyrosm  # a test dependency (pyproject [test]): ships the PBF used here
    pbf = pyrosm.get_data("test_pbf")
    matches = {m.layer: m for m in recognise(pbf)}
    assert matches["lines"].target == "road" and matches["lines"].fields.get("highway") == "class"
    assert matches["points"].target == "ignore"


def test_every_message_key_exists_in_both_languages():
    root = Path(__file__).resolve().parents[2] / "src" / "pianqu" / "ingest"
    rules = set()
    for py in root.glob("*.py"):
        rules |= set(re.findall(r'"(ingest\.[a-z_]+)"', py.read_text(encoding="utf-8")))
    rules -= {"ingest.default_epoch", "ingest.area_unit_tolerance"}  # thresholds, not messages
    cat = catalogue()
    missing = [r for r in sorted(rules) for part in ("msg", "do") if f"{r}.{part}" not in cat]
    assert not missing
    assert len(rules) > 50
    # and each renders with the parameters the code passes (spot check of the common shapes)
    from pianqu.findings import Finding
    f = Finding("warning", "ingest.landcode_review", "landuse", "1", "source_code",
                {"n": 2, "code": "05H1", "name": "商业服务业设施用地", "reason": "split", "source_layer": "DLTB"})
    assert "05H1" in f.message("zh") and "05H1" in f.message("en") and "landuse_review" in f.action("en")


def test_county_from_data_or_option(tmp_path):
    shp = tmp_path / "道路.gpkg"
    line = shapely.LineString([(107.25, 31.9), (107.26, 31.91)])
    pyogrio.write_dataframe(gpd.GeoDataFrame({"道路等级": ["村道"]}, geometry=[line], crs=4490), shp, layer="道路")
    with pytest.raises(IngestError) as err:
        import_sources([shp], tmp_path / "w.gpkg")
    assert err.value.rule == "ingest.county_unknown" and "--county" in str(err.value)
    result = import_sources([shp], tmp_path / "w.gpkg", county_code=COUNTY)
    assert result.county_name == "通江县" and result.layers == {"road": 1}


def test_zz_no_source_was_changed_by_any_import(county_data):
    """Every import of this session only read the sources (hashes as written by the fixture)."""
    assert file_hashes(county_data["root"]) == county_data["hashes"]



def test_planning_targets_table(county_data, tmp_path):
    """规划指标.xlsx as county planners keep it: Chinese indicator names, values in 亩 (the unit in
    the header), one name nobody knows. The import maps the names, converts to hectares (keeping
    the original) and says so; the quota step reads the table and names the unknown row."""
    from pianqu.land.pipeline import LandInputError, targets_from_table

    src = tmp_path / "规划指标.xlsx"
    table = pd.DataFrame({"指标": ["耕地保有量", "永久基本农田保护面积", "村庄建设用地规模", "林地保有量"],
                          "目标值（亩）": [600000.0, 450000.0, 30000.0, 1.0],
                          "下达文件": ["川府函〔2023〕X号"] * 4})
    table.to_excel(src, index=False)
    before = sha(src)
    result = import_sources([county_data["gdb"], src], tmp_path / "ws.gpkg", epoch=2022)
    assert {m.target for m in result.matches if Path(m.source).name == "规划指标.xlsx"} == {"targets"}
    ws = Workspace.open(tmp_path / "ws.gpkg")
    got = ws.read("targets")
    assert got["indicator"].tolist() == ["farmland", "pbf", "village", "林地保有量"]
    assert got["target_ha"].tolist() == pytest.approx([40000.0, 30000.0, 2000.0, 1 / 15])
    assert got["目标值（亩）_原值"].tolist() == [600000.0, 450000.0, 30000.0, 1.0]
    assert got["source"].iloc[0] == "川府函〔2023〕X号"
    rules = {f.rule: f for f in result.findings if f.layer == "targets"}
    assert "林地保有量" in rules["ingest.target_indicator"].params["values"]
    assert rules["ingest.target_unit"].params["unit"] == "亩"
    assert sha(src) == before  # the planner's file is untouched
    with pytest.raises(LandInputError) as e:
        targets_from_table(got)
    assert re.search(r"row 4.*'indicator'.*林地保有量", e.value.message("en"))
    assert targets_from_table(got.iloc[:3]) == pytest.approx({"farmland": 4e8, "pbf": 3e8, "village": 2e7})
    # a table written by hand with the Chinese names and no unit in the header: read as hectares
    assert targets_from_table(pd.DataFrame({"indicator": ["建设用地总规模"], "target_ha": [12.5]})) == {
        "construction": pytest.approx(1.25e5)}
