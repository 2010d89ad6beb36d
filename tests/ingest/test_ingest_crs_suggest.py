"""`--crs` overrides a wrong .prj, and every coordinate refusal suggests the CRS the numbers fit.

The check of a suggestion is independent of pianqu's guess: importing with the suggested
``--crs`` must put the villages exactly where pyproj puts them from the true source CRS.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import shapely
from pyproj import CRS

from ingest_data import village_cells
from pianqu.ingest import IngestError, import_sources, recognise
from pianqu.ingest.crs import CrsHint, county_zones, suggest_crs
from pianqu.workspace import Workspace


def _villages(crs: int, codes: bool = True) -> gpd.GeoDataFrame:
    cells = village_cells().to_crs(crs)
    cols = {"村代码": cells["code"], "村名称": cells["name"]} if codes else {"名称": cells["name"]}
    return gpd.GeoDataFrame(cols, geometry=cells.geometry, crs=crs)


def _write(frame: gpd.GeoDataFrame, path: Path, prj_epsg: int | None) -> Path:
    """A Shapefile whose .prj says ``prj_epsg`` whatever the numbers are (None: no .prj)."""
    pyogrio.write_dataframe(frame, path)
    prj = path.with_suffix(".prj")
    prj.unlink(missing_ok=True)
    if prj_epsg is not None:
        prj.write_text(CRS.from_epsg(prj_epsg).to_wkt("WKT1_ESRI"))
    return path


@pytest.fixture(scope="module")
def truth() -> gpd.GeoDataFrame:
    cells = village_cells()
    return gpd.GeoDataFrame({"code": cells["code"]}, geometry=cells.geometry.to_crs(4490), crs=4490)


def _max_shift_deg(stored: gpd.GeoDataFrame, truth: gpd.GeoDataFrame) -> float:
    a = shapely.get_coordinates(shapely.normalize(stored.sort_values("code").geometry.to_numpy()))
    b = shapely.get_coordinates(shapely.normalize(truth.sort_values("code").geometry.to_numpy()))
    return float(np.abs(a - b).max())


def test_crs_overrides_a_wrong_prj_with_a_warning(tmp_path, truth):
    """Lon/lat numbers under a GK zone-35 .prj: refused with EPSG:4490 suggested; --crs fixes it."""
    shp = _write(_villages(4490), tmp_path / "村界.shp", 4523)
    with pytest.raises(IngestError) as err:
        import_sources([shp], tmp_path / "w.gpkg")
    e = err.value
    assert e.rule == "ingest.crs_out_of_china" and e.file == str(shp) and e.layer == "村界"
    assert e.params["suggest"] == "EPSG:4490"
    zh, en = e.message("zh"), e.message("en")
    for text in (zh, en):  # file, layer, the CRS read, the declared one, and the --crs to rerun with
        assert str(shp) in text and "村界" in text and "EPSG:4523" in text and "--crs EPSG:4490" in text
    assert "经纬度" in zh and "longitude/latitude" in en
    assert not (tmp_path / "w.gpkg").exists()
    # the dry run says what --crs will do
    (m,) = recognise(shp, crs="EPSG:4490")
    assert "EPSG:4523" in m.transform and "--crs EPSG:4490" in m.transform

    result = import_sources([shp], tmp_path / "w.gpkg", crs="EPSG:4490")
    (warn,) = [f for f in result.findings if f.rule == "ingest.crs_overridden"]
    assert warn.severity == "warning" and "EPSG:4523" in warn.params["declared"] and "EPSG:4490" in warn.params["crs"]
    for lang in ("zh", "en"):
        assert "EPSG:4523" in warn.message(lang) and "EPSG:4490" in warn.message(lang)
    assert _max_shift_deg(Workspace.open(tmp_path / "w.gpkg").read("village"), truth) < 1e-9
    # a --crs equal to the .prj is no override: no warning
    shp_ok = _write(_villages(4524), tmp_path / "村界_正确.shp", 4524)
    ok = import_sources([shp_ok], tmp_path / "ok.gpkg", crs="EPSG:4524")
    assert not [f for f in ok.findings if f.rule == "ingest.crs_overridden"]


@pytest.mark.parametrize("true_epsg,prj_epsg,rule", [
    (4524, 4490, "ingest.crs_out_of_china"),  # 3° zone 36 with prefix under a lon/lat .prj
    (4496, 4490, "ingest.crs_out_of_china"),  # 6° zone 18 with prefix
    (4524, 4523, "ingest.crs_zone_mismatch"),  # the .prj names zone 35, the eastings say 36
])
def test_refusal_suggests_the_zone_of_prefixed_eastings(tmp_path, truth, true_epsg, prj_epsg, rule):
    shp = _write(_villages(true_epsg), tmp_path / "村界.shp", prj_epsg)
    with pytest.raises(IngestError) as err:
        import_sources([shp], tmp_path / "w.gpkg")
    assert err.value.rule == rule and err.value.params["suggest"] == f"EPSG:{true_epsg}"
    assert f"--crs EPSG:{true_epsg}" in err.value.message("zh")
    import_sources([shp], tmp_path / "w.gpkg", crs=err.value.params["suggest"])
    assert _max_shift_deg(Workspace.open(tmp_path / "w.gpkg").read("village"), truth) < 1e-8


def test_plain_eastings_narrowed_by_the_workspace(tmp_path, truth):
    """6-digit eastings without division codes: the zone comes from the workspace they go into."""
    ws = tmp_path / "w.gpkg"
    import_sources([_write(_villages(4524), tmp_path / "村界.shp", 4524)], ws)
    assert Workspace.open(ws).meta.compute_epsg == 4545
    plain = _villages(4545, codes=False)
    shp = _write(gpd.GeoDataFrame({"BSM": ["1"]}, geometry=[plain.geometry.union_all()], crs=4545),
                 tmp_path / "CZKFBJ.shp", None)
    with pytest.raises(IngestError) as err:
        import_sources([shp], ws)
    assert err.value.rule == "ingest.no_crs" and err.value.params["suggest"] == "EPSG:4545"
    assert "工作空间" in err.value.params["looks_zh"] and "workspace" in err.value.params["looks_en"]
    # without the workspace nothing tells the county: Sichuan's three zones
    with pytest.raises(IngestError) as err:
        import_sources([shp], tmp_path / "other.gpkg")
    assert err.value.params["suggest"] == "EPSG:4543 / EPSG:4544 / EPSG:4545"


def test_suggest_crs_ranges():
    # every 3° zone with prefix 25–45 → 4513–4533, at the easting's own zone; 6° zones 13–23 → 4491–4501
    for zone in range(25, 46):
        s = suggest_crs((zone * 1e6 + 420_000, 3.5e6, zone * 1e6 + 430_000, 3.51e6))
        assert s.kind == "gk_prefix" and s.epsg == (4513 + zone - 25,)
    assert suggest_crs((18.6e6, 3.5e6, 18.7e6, 3.6e6)).epsg == (4496,)
    assert suggest_crs((101.5, 26.1, 101.8, 26.6)).epsg == (4490,)
    # plain eastings: the county's zone (centre from county_geo.csv, compared with gk3 bands)
    assert suggest_crs((429_000, 3.53e6, 432_000, 3.533e6), CrsHint(county_code="511921")).epsg == (4545,)
    assert suggest_crs((429_000, 3.53e6, 432_000, 3.533e6), CrsHint(county_code="510403")).epsg == (4543,)
    assert suggest_crs((429_000, 3.53e6, 432_000, 3.533e6), CrsHint(zone_epsg=4544)).epsg == (4544,)
    # a county centre within 0.5° of a zone edge: both zones (恩阳区 ≈106.49°E lies between CM 105 and 108)
    assert county_zones("511903") == (4544, 4545)
    assert county_zones("999999") == () and county_zones(None) == ()
    # numbers that fit nothing: no --crs suggested, the provider asked instead
    s = suggest_crs((5e8, 5e8, 6e8, 6e8))
    assert s.epsg == () and s.suggest == "" and "提供方" in s.advice("zh")
