"""Chinese text survives: GBK Shapefiles with and without .cpg, a wrong .cpg, GBK/BOM CSV; text
that no encoding decodes is refused with the feature and field named."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
import shapely

from ingest_data import COUNTY, TOWNSHIPS, villages
from pianqu import divisions
from pianqu.ingest import IngestError, import_sources, recognise
from pianqu.ingest.readers import list_layers, read_layer, text_encoding
from pianqu.workspace import Workspace


def copy_shapefile(shp: Path, dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for part in shp.parent.glob(shp.stem + ".*"):
        shutil.copy(part, dest / part.name)
    return dest / shp.name


def test_gbk_shapefiles_with_and_without_cpg(county_data, tmp_path):
    ws_path = tmp_path / "w.gpkg"
    result = import_sources([county_data["village"], county_data["township"]], ws_path)
    ws = Workspace.open(ws_path)
    v = ws.read("village").set_index("code")
    ref = villages().set_index("code")
    assert (v["name"] == ref.loc[v.index, "name"]).all()  # 村民委员会 names decoded, then shortened
    assert set(v["village_class"]) == {"集聚提升", "特色保护", "城郊融合", "搬迁撤并"}
    assert v["population"].dtype.kind in "iu" or str(v["population"].dtype) == "Int64"
    t = ws.read("township").set_index("code")
    official = divisions.townships(COUNTY).set_index("code")
    assert list(t.index) == TOWNSHIPS and (t["name"] == official.loc[TOWNSHIPS, "name"]).all()
    encodings = {Path(m.source).name: m.encoding for m in result.matches}
    assert encodings == {"村界.shp": "gbk", "乡镇.shp": "gbk"}
    detected = [f for f in result.findings if f.rule == "ingest.encoding_detected"]
    assert [Path(f.source).name for f in detected] == ["乡镇.shp"]  # the one without a .cpg


def test_wrong_cpg_is_caught(county_data, tmp_path):
    shp = copy_shapefile(county_data["village"], tmp_path / "wrong")
    shp.with_suffix(".cpg").write_text("UTF-8")
    layer = list_layers(shp)[0]
    assert layer.encoding == "gbk"
    assert [f.rule for f in layer.notes] == ["ingest.cpg_wrong"]
    frame = read_layer(layer)
    assert set(frame["村名称"]) == set(villages()["official_name"])


def test_undecodable_text_names_feature_and_field(county_data, tmp_path):
    shp = copy_shapefile(county_data["village"], tmp_path / "bad")
    shp.with_suffix(".cpg").unlink()
    dbf = shp.with_suffix(".dbf")
    data = bytearray(dbf.read_bytes())
    header_len = int.from_bytes(data[8:10], "little")
    record_len = int.from_bytes(data[10:12], "little")
    # field 2 (村名称) of record 3: bytes that are neither UTF-8 nor GBK (0xFF is never a lead byte)
    fields, off = [], 1
    for i in range(32, header_len - 1, 32):
        if data[i] == 0x0D:
            break
        fields.append((bytes(data[i:i + 11]).split(b"\x00")[0], off, data[i + 16]))
        off += data[i + 16]
    name_field = next(f for f in fields if f[0].decode("gbk") == "村名称")
    pos = header_len + 3 * record_len + name_field[1]
    data[pos:pos + 2] = b"\xff\xff"
    dbf.write_bytes(bytes(data))
    with pytest.raises(IngestError) as err:
        import_sources([shp], tmp_path / "w.gpkg")
    e = err.value
    assert e.rule == "ingest.encoding" and e.feature == "3" and e.field == "村名称" and e.file == str(shp)
    assert "--encoding" in str(e) and "村名称" in str(e)
    assert not (tmp_path / "w.gpkg").exists()


def test_encoding_option_overrides(county_data, tmp_path):
    shp = copy_shapefile(county_data["village"], tmp_path / "opt")
    shp.with_suffix(".cpg").write_text("UTF-8")
    (m,) = recognise(shp, encoding="GBK")
    assert m.encoding == "gbk" and m.fields["村名称"] == "name"
    with pytest.raises(IngestError) as err:  # a field name (or a value) that UTF-8 cannot decode
        import_sources([shp], tmp_path / "w.gpkg", encoding="UTF-8")
    assert err.value.rule in ("ingest.encoding_name", "ingest.encoding") and "UTF-8" in err.value.message("en")
    assert "field name" in err.value.message("en") or "村名称" in err.value.message("en")


def test_csv_encodings(tmp_path):
    frame = pd.DataFrame({"乡镇代码": TOWNSHIPS, "产业": ["川茶", "川猪"], "产值": [1.5, 2.0], "年份": [2023, 2023]})
    text = frame.to_csv(index=False)
    assert text_encoding(text.encode("gbk"), source="x") == "gbk"
    assert text_encoding(text.encode("utf-8"), source="x") == "utf-8"
    assert text_encoding(b"\xef\xbb\xbf" + text.encode("utf-8"), source="x") == "utf-8-sig"
    for name, data in [("gbk.csv", text.encode("gbk")), ("bom.csv", b"\xef\xbb\xbf" + text.encode("utf-8"))]:
        (tmp_path / name).write_bytes(data)
        (layer,) = list_layers(tmp_path / name)
        assert layer.fields == ("乡镇代码", "产业", "产值", "年份")
        assert read_layer(layer)["产业"].tolist() == ["川茶", "川猪"]
    (tmp_path / "bad.csv").write_bytes(text.encode("gbk") + "511921103,川茶,1,2\n".encode("gbk") + b"\xff\xfe,x,1,2\n")
    with pytest.raises(IngestError) as err:
        list_layers(tmp_path / "bad.csv")
    assert err.value.rule == "ingest.encoding_line" and err.value.params["line"] == 5


def test_text_cut_mid_character_by_its_writer(tmp_path):
    """UTF-8 Shapefiles cut field names at 10 bytes and values at 254 bytes, in the middle of a character."""
    shp = tmp_path / "道路.shp"
    frame = gpd.GeoDataFrame({"道路等级": ["村道"], "名称": ["很长的道路名称" * 30]},
                             geometry=[shapely.LineString([(107.25, 31.9), (107.26, 31.91)])], crs=4490)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # GDAL says it shortened the field name
        pyogrio.write_dataframe(frame, shp, encoding="UTF-8")
    (layer,) = list_layers(shp)
    assert layer.encoding == "utf-8" and layer.repair_text
    assert layer.fields == ("道路等", "名称") and "ingest.text_truncated" in [f.rule for f in layer.notes]
    got = read_layer(layer)
    assert got["道路等"].tolist() == ["村道"]
    assert got["名称"].iloc[0] == ("很长的道路名称" * 30)[:84]  # 254 bytes hold 84 whole characters



def test_single_byte_cpg_with_chinese_text(county_data, tmp_path):
    """A .cpg saying 88591 (Latin-1) 'decodes' GBK bytes into nonsense; GBK is found instead."""
    shp = copy_shapefile(county_data["village"], tmp_path / "latin")
    shp.with_suffix(".cpg").write_text("88591")
    (layer,) = list_layers(shp)
    assert layer.encoding == "gbk" and [f.rule for f in layer.notes] == ["ingest.cpg_wrong"]
