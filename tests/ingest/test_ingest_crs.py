"""Coordinate systems: CGCS2000 GK 3°/6° with and without prefix (also as custom ESRI .prj), WGS 84,
refusal of other datums and of data without a CRS (with the right --crs suggested)."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import shapely
from pyproj import CRS, Transformer

from ingest_data import ORIGIN, village_cells
from pianqu.geo import ellipsoidal_area
from pianqu.ingest import IngestError, import_sources, recognise
from pianqu.ingest.crs import describe_coordinates, gk_epsg, recognise_epsg
from pianqu.workspace import Workspace

ESRI = ('PROJCS["{name}",GEOGCS["GCS_{g}",DATUM["{d}",SPHEROID["{s}",6378137.0,298.257222101]],'
        'PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]],PROJECTION["{p}"],'
        'PARAMETER["False_Easting",{fe}],PARAMETER["False_Northing",0.0],PARAMETER["Central_Meridian",{cm}],'
        'PARAMETER["Scale_Factor",1.0],PARAMETER["Latitude_Of_Origin",0.0],UNIT["Meter",1.0]]')
CN = dict(g="China_Geodetic_Coordinate_System_2000", d="D_China_2000", s="CGCS2000", p="Gauss_Kruger")


@pytest.mark.parametrize("wkt,expected", [
    (ESRI.format(name="CGCS2000_3_Degree_GK_Zone_35", fe=35500000.0, cm=105.0, **CN), 4523),
    (ESRI.format(name="CGCS2000_3_Degree_GK_CM_105E", fe=500000.0, cm=105.0, **CN), 4544),
    (ESRI.format(name="CGCS2000_6_Degree_GK_Zone_18", fe=18500000.0, cm=105.0, **CN), 4496),
    # names GDAL does not know: recognised by datum, ellipsoid and projection parameters
    (ESRI.format(name="my_gk", g="CGCS2000", d="D_CGCS2000", s="GRS_1980", p="Transverse_Mercator",
                 fe=36500000.0, cm=108.0), 4524),
    (ESRI.format(name="Custom", g="China_2000", d="China_2000", s="CGCS_2000", p="Transverse_Mercator",
                 fe=500000.0, cm=102.0), 4543),
])
def test_recognise_custom_gk(wkt, expected):
    assert recognise_epsg(CRS.from_wkt(wkt)) == expected


def test_gk_epsg_table():
    # DESIGN.md: EPSG = 4534 + (CM − 75)/3 without prefix; with prefix 4513 + zone − 25
    assert [gk_epsg(cm, 500_000) for cm in (102, 105, 108)] == [4543, 4544, 4545]
    assert gk_epsg(108, 36_500_000) == 4524 and gk_epsg(105, 18_500_000) == 4496
    assert gk_epsg(108, 35_500_000) is None  # zone 35 is CM 105, not 108
    # a foreign datum on the same projection is not CGCS2000
    assert recognise_epsg(CRS.from_epsg(2433)) == 2433


def _write(frame: gpd.GeoDataFrame, path: Path, prj: str | None) -> Path:
    pyogrio.write_dataframe(frame, path)
    if prj is None:
        path.with_suffix(".prj").unlink(missing_ok=True)
    else:
        path.with_suffix(".prj").write_text(prj)
    return path


def _villages(crs: int) -> gpd.GeoDataFrame:
    cells = village_cells().to_crs(crs)
    return gpd.GeoDataFrame({"村代码": cells["code"], "村名称": cells["name"]}, geometry=cells.geometry, crs=crs)


def _max_shift_deg(a: gpd.GeoDataFrame, b: gpd.GeoDataFrame) -> float:
    ca = shapely.get_coordinates(shapely.normalize(a.sort_values("code").geometry.to_numpy()))
    cb = shapely.get_coordinates(shapely.normalize(b.sort_values("code").geometry.to_numpy()))
    return float(np.abs(ca - cb).max())


@pytest.fixture(scope="module")
def truth() -> gpd.GeoDataFrame:
    """The villages in EPSG:4490, transformed directly from the GK source by pyproj."""
    cells = village_cells()
    return gpd.GeoDataFrame({"code": cells["code"]}, geometry=cells.geometry.to_crs(4490), crs=4490)


def test_prj_without_prefix_but_prefixed_eastings_is_corrected(tmp_path, truth):
    shp = _write(_villages(4524), tmp_path / "村.shp",
                 ESRI.format(name="CGCS2000_3_Degree_GK_CM_108E", fe=500000.0, cm=108.0, **CN))
    result = import_sources([shp], tmp_path / "w.gpkg")
    fixed = [f for f in result.findings if f.rule == "ingest.crs_prefix_fixed"]
    assert fixed and fixed[0].params["declared"] == "EPSG:4545" and fixed[0].params["used"] == "EPSG:4524"
    v = Workspace.open(tmp_path / "w.gpkg").read("village")
    assert _max_shift_deg(v, truth) < 1e-9


def test_no_crs_refused_with_the_right_suggestion(tmp_path, truth):
    shp = _write(_villages(4524), tmp_path / "村界.shp", None)
    with pytest.raises(IngestError) as err:
        import_sources([shp], tmp_path / "w.gpkg")
    e = err.value
    assert e.rule == "ingest.no_crs" and e.file == str(shp) and e.layer == "村界"
    assert e.params["suggest"] == "EPSG:4524" and "--crs EPSG:4524" in str(e) and "带号 36" in e.params["looks_zh"]
    assert "--crs EPSG:4524" in e.message("en") and "zone prefix 36" in e.message("en")
    assert not (tmp_path / "w.gpkg").exists()
    (m,) = recognise(shp)
    assert "refused" in m.transform and "EPSG:4524" in m.transform
    result = import_sources([shp], tmp_path / "w.gpkg", crs="EPSG:4524")
    assert any(f.rule == "ingest.crs_assigned" for f in result.findings)
    assert _max_shift_deg(Workspace.open(tmp_path / "w.gpkg").read("village"), truth) < 1e-9
    # without a zone prefix the zone cannot be read from the numbers: the villages' codes name 通江县
    # (centre ≈107.25°E → CM 108°E), so EPSG:4545 alone is suggested
    shp2 = _write(_villages(4545), tmp_path / "村界_无带号.shp", None)
    with pytest.raises(IngestError) as err:
        import_sources([shp2], tmp_path / "w2.gpkg")
    assert err.value.params["suggest"] == "EPSG:4545" and "without a zone prefix" in err.value.params["looks_en"]
    assert "511921" in err.value.params["looks_en"]
    # degrees: CGCS2000 geographic
    shp3 = _write(_villages(4490), tmp_path / "村界_经纬度.shp", None)
    with pytest.raises(IngestError) as err:
        import_sources([shp3], tmp_path / "w3.gpkg")
    assert err.value.params["suggest"] == "EPSG:4490"


def test_wrong_crs_lands_outside_china(tmp_path):
    shp = _write(_villages(4545), tmp_path / "村界.shp", None)
    with pytest.raises(IngestError) as err:
        import_sources([shp], tmp_path / "w.gpkg", crs="EPSG:4326")
    assert err.value.rule == "ingest.crs_out_of_china"
    with pytest.raises(IngestError, match="EPSG"):
        import_sources([shp], tmp_path / "w.gpkg", crs="not a crs")


@pytest.mark.parametrize("epsg", [2381, 2433, 4610])  # Xi'an 1980 GK, Beijing 1954 GK, Xi'an 1980
def test_other_datums_refused(tmp_path, epsg):
    x, y = Transformer.from_crs(4524, epsg, always_xy=True).transform(ORIGIN[0], ORIGIN[1])
    size = 0.01 if CRS.from_epsg(epsg).is_geographic else 1000
    geom = [shapely.box(x, y, x + size, y + size)]
    shp = tmp_path / f"村界{epsg}.shp"
    pyogrio.write_dataframe(gpd.GeoDataFrame({"村代码": ["511921101200"]}, geometry=geom, crs=epsg), shp)
    with pytest.raises(IngestError) as err:
        import_sources([shp], tmp_path / "w.gpkg")
    assert err.value.rule == "ingest.crs_unsupported" and "CGCS2000" in str(err.value)


def test_wgs84_relabelled_and_other_projections_on_it(county_data, tmp_path, truth):
    road = county_data["road"]
    result = import_sources([road], tmp_path / "w.gpkg", county_code="511921")
    (m,) = result.matches
    assert "coordinates unchanged" in m.transform
    stored = Workspace.open(tmp_path / "w.gpkg").read("road")
    src = pyogrio.read_dataframe(road)
    assert src.crs.to_epsg() == 4326
    assert np.array_equal(shapely.get_coordinates(stored.geometry), shapely.get_coordinates(src.geometry))
    # a UTM (WGS 84) source and a 6° GK zone are reprojected exactly
    for epsg in (32648, 4496):
        shp = _write(_villages(epsg), tmp_path / f"村界{epsg}.shp", CRS.from_epsg(epsg).to_wkt("WKT1_ESRI"))
        import_sources([shp], tmp_path / f"w{epsg}.gpkg")
        v = Workspace.open(tmp_path / f"w{epsg}.gpkg").read("village")
        assert _max_shift_deg(v, truth) < 1e-8
        assert np.allclose(ellipsoidal_area(v.sort_values("code")), ellipsoidal_area(truth.sort_values("code")),
                           rtol=1e-6)


def test_describe_coordinates():
    assert describe_coordinates((107.2, 31.8, 107.3, 31.9))[1] == "EPSG:4490"
    assert describe_coordinates((36_429_000, 3_531_000, 36_432_000, 3_533_000))[1] == "EPSG:4524"
    assert describe_coordinates((18_700_000, 3_531_000, 18_710_000, 3_533_000))[1] == "EPSG:4496"
    looks, suggest = describe_coordinates((429_000, 3_531_000, 432_000, 3_533_000), lang="en")
    assert "EPSG:4545" in suggest and "EPSG:4543" in suggest and "cannot be read" in looks
    assert describe_coordinates((1e9, 1e9, 2e9, 2e9))[1] == ""
