"""Names and values: planning-database fields, plain English names, division-code levels, values
that cannot be typed (refused with feature and field), layer-name matching."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
import shapely

from ingest_data import TOWNSHIPS, parcels, village_cells
from pianqu.ingest import IngestError, import_sources, recognise
from pianqu.ingest.conform import admin_code, code_level
from pianqu.ingest.landcodes import pad_land_code
from pianqu.ingest.mapping import map_fields, match_layer, norm_name
from pianqu.ingest.readers import SourceLayer
from pianqu.workspace import Workspace


def test_division_codes_at_their_natural_length():
    codes = pd.Series(["511921101000", "511921000000", "5119211012000000000", "511921101200", 511921102000.0,
                       " 511921 ", None])
    assert admin_code(codes).tolist()[:6] == ["511921101", "511921", "511921101200", "511921101200", "511921102",
                                              "511921"]
    assert admin_code(codes).isna().tolist()[-1]
    assert code_level(pd.Series(["511921"])) == "county"
    assert code_level(pd.Series(["511921101", "511921102000"])) == "township"
    assert code_level(pd.Series(["511921101200", "5119211012010000000"])) == "village"
    padded, n = pad_land_code(pd.Series(["101", "0101", "5H1", "201K", "60201", "1001", None]))
    assert padded.tolist()[:6] == ["0101", "0101", "05H1", "0201K", "060201", "1001"] and n == 4


def test_planning_database_and_english_names(tmp_path):
    """YDYHFLDM needs no conversion (codes stored as numbers lose their zero); plain English fields."""
    p = parcels().to_crs(4490)
    plan = gpd.GeoDataFrame({"BSM": p["BSM"], "YDYHFLDM": [101, 703, 601, 80403] * 6, "TBMJ": p["TBMJ"],
                             "ZLDWDM": p["ZLDWDM"]}, geometry=p.geometry, crs=4490)
    gpkg = tmp_path / "规划数据库.gpkg"
    pyogrio.write_dataframe(plan, gpkg, layer="JQDLTB", driver="GPKG")
    cells = village_cells().to_crs(4490).dissolve(by="township_code", as_index=False)
    towns = gpd.GeoDataFrame({"code": cells["township_code"], "Name": ["民胜", "火炬"], "Population": [21000, 18000],
                              "Type": ["镇", "镇"]}, geometry=cells.geometry.to_numpy(), crs=4490)
    gj = tmp_path / "townships.geojson"
    pyogrio.write_dataframe(towns, gj, driver="GeoJSON")
    result = import_sources([gpkg, gj], tmp_path / "w.gpkg", epoch=2020)
    ws = Workspace.open(tmp_path / "w.gpkg")
    lu = ws.read("landuse")
    assert sorted(set(lu["code"])) == ["0101", "0601", "0703", "080403"]
    assert dict(zip(lu["code"], lu["name"]))["080403"] == "中小学用地"
    assert "source_code" not in lu.columns and len(result.review) == 0
    assert ws.read("landuse_review").empty
    assert any(f.rule == "ingest.code_padded" and f.params["n"] == 24 for f in result.findings)
    t = ws.read("township")
    assert t["code"].tolist() == TOWNSHIPS and t["population"].tolist() == [21000, 18000]
    assert t["name"].tolist() == ["民胜", "火炬"] and t["kind"].tolist() == ["镇", "镇"]
    fields = {m.layer: m.fields for m in result.matches}
    assert fields["townships"] == {"code": "code", "Name": "name", "Population": "population", "Type": "kind"}


def test_values_that_cannot_be_typed_are_refused(tmp_path):
    table = pd.DataFrame({"行政区代码": TOWNSHIPS, "常住人口": ["21000", "约1.8万"]})
    xlsx = tmp_path / "人口.xlsx"
    table.to_excel(xlsx, index=False)
    cells = village_cells().to_crs(4490).dissolve(by="township_code", as_index=False)
    towns = tmp_path / "乡镇.gpkg"
    pyogrio.write_dataframe(gpd.GeoDataFrame({"XZQDM": cells["township_code"]}, geometry=cells.geometry.to_numpy(),
                                             crs=4490), towns, layer="XZQ", driver="GPKG")
    with pytest.raises(IngestError) as err:
        import_sources([towns, xlsx], tmp_path / "w.gpkg")
    e = err.value
    assert e.rule == "ingest.bad_value" and e.field == "常住人口" and e.params["value"] == "约1.8万"
    assert e.feature == "511921102" and e.file == str(xlsx) and e.layer == "Sheet1"  # named by its code
    assert not (tmp_path / "w.gpkg").exists()
    # the XZQ layer alone: township level from its 9-digit codes, names from the official list
    (m,) = recognise(towns)
    assert m.target == "township" and m.fields == {"XZQDM": "code"}


@pytest.mark.parametrize("name,fields,geometry,target", [
    ("DLTB", ("BSM", "DLBM"), "MultiPolygon", "landuse"),
    ("511921DLTB2023", ("BSM", "DLBM"), "Polygon", "landuse"),
    ("通江县2023年地类图斑", ("x",), "Polygon", "landuse"),
    ("parcels_v2", ("DLBM", "TBMJ"), "Polygon", "landuse"),  # by its fields
    ("CJDCQ", ("ZLDWDM", "ZLDWMC"), "Polygon", "village"),
    ("调查区", ("ZLDWDM", "ZLDWMC"), "Polygon", "village"),  # by its fields
    ("roads", ("highway",), "LineString", "road"),
    ("道路中心线", ("等级",), "MultiLineString", "road"),
    ("产业园区", ("名称",), "Polygon", None),  # 产业 names a table; a polygon layer is not it
    ("永久基本农田", ("BSM",), "Polygon", "farmland_pbf"),
    ("XZQJX", ("BSM",), "LineString", "ignore"),
])
def test_layer_names(name, fields, geometry, target):
    src = SourceLayer(Path(f"/data/{name}.shp"), name, "vector", "ESRI Shapefile", fields, geometry)
    assert match_layer(src).target == target


def test_field_names_with_units_and_case():
    assert norm_name("常住人口（人）") == "常住人口" and norm_name(" TBMJ ") == "tbmj"
    got = map_fields("village", ["ZLDWDM", "zldwmc", "常住人口（人）", "户数(户)", "OBJECTID"])
    assert got == {"ZLDWDM": "code", "zldwmc": "name", "常住人口（人）": "population", "户数(户)": "households"}


def test_tables_as_points_and_attribute_tables_in_a_geopackage(tmp_path):
    cells = village_cells().to_crs(4490)
    towns = cells.dissolve(by="township_code", as_index=False)
    gpkg = tmp_path / "县域数据.gpkg"
    pyogrio.write_dataframe(gpd.GeoDataFrame({"XZQDM": towns["township_code"]}, geometry=towns.geometry.to_numpy(),
                                             crs=4490), gpkg, layer="XZQ", driver="GPKG")
    # an attribute table inside the same GeoPackage (no geometry)
    pyogrio.write_dataframe(pd.DataFrame({"XZQDM": TOWNSHIPS, "常住人口": [21000, 18000]}), gpkg, layer="人口",
                            driver="GPKG", append=False)
    pts = cells.geometry.representative_point()
    csv = tmp_path / "设施.csv"
    pd.DataFrame({"编号": ["S1", "S2"], "设施类型": ["小学", "卫生院"], "经度": pts.x[:2].round(7),
                  "纬度": pts.y[:2].round(7)}).to_csv(csv, index=False, encoding="utf-8-sig")
    result = import_sources([gpkg, csv], tmp_path / "w.gpkg")
    ws = Workspace.open(tmp_path / "w.gpkg")
    assert ws.read("township")["population"].tolist() == [21000, 18000]
    fac = ws.read("facility")
    assert fac["kind"].tolist() == ["primary_school", "health_centre"] and fac.crs.to_epsg() == 4490
    assert abs(fac.geometry.x.to_numpy() - pts.x[:2].to_numpy()).max() < 1e-6
    assert any(f.rule == "ingest.lonlat_points" for f in result.findings)
    # a table without coordinates cannot become a spatial layer
    mapping = tmp_path / "m.toml"
    mapping.write_text('[layers.roads]\ntarget = "road"\n', encoding="utf-8")
    (tmp_path / "roads.csv").write_text("class,name\nvillage,x\n", encoding="utf-8")
    with pytest.raises(IngestError) as err:
        import_sources([tmp_path / "roads.csv"], tmp_path / "w.gpkg", mapping=mapping)
    assert err.value.rule == "ingest.no_geometry"


def test_user_mapping_cannot_put_lines_into_a_polygon_layer(county_data, tmp_path):
    mapping = tmp_path / "m.toml"
    mapping.write_text('[layers.道路]\ntarget = "landuse"\n', encoding="utf-8")
    with pytest.raises(IngestError) as err:
        import_sources([county_data["road"]], tmp_path / "w.gpkg", mapping=mapping, county_code="511921")
    assert err.value.rule == "ingest.geometry_mismatch" and err.value.params["found"] == "line"


def test_osm_highway_tags_become_road_classes():
    from pianqu.ingest.conform import Context, conform

    lines = [shapely.LineString([(107.25 + i * 0.01, 31.9), (107.26 + i * 0.01, 31.91)]) for i in range(5)]
    frame = gpd.GeoDataFrame({"osm_id": ["1", "2", "3", "4", "5"],
                              "highway": ["primary", "footway", "residential", "motorway_link", "track"],
                              "name": ["G542", "", "", "", ""]}, geometry=lines, crs=4490)
    ctx = Context(source="x.osm.pbf", source_layer="lines", layer="road", reverse={"class": "highway", "id": "osm_id"})
    out = conform(frame, {"highway": "class", "osm_id": "id"}, ctx, epoch=None, default_epoch=2019,
                  area_tolerance=0.02)
    # standards/osm_highway.csv, the table read_osm_roads uses too: tracks and footways are not
    # part of a drive network
    assert out["class"].tolist() == ["provincial", "village", "expressway"]
    assert out["highway"].tolist() == ["primary", "residential", "motorway_link"]  # the tag is kept
    assert out["oneway"].tolist() == [False, False, True]  # motorways are one-way unless tagged
    assert [f.params["n"] for f in ctx.findings if f.rule == "ingest.osm_dropped"] == [2]
