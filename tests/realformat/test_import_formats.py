"""The real-format delivery of 梓潼县 (``delivery.py``, independent of ``pianqu.synth``): the fixture
is what it claims (tiling, 三调 area conventions, the bow-tie only in GK), and ``pianqu import`` of
its File GDB (EPSG:4544), GBK Shapefiles (EPSG:4523) and GeoJSON (EPSG:4490) gives the same
workspace: counts, Chinese names, areas equal to TBMJ to the cent. The OSM PBF imports as roads."""

from __future__ import annotations

import numpy as np
import pyogrio
import pytest
import shapely
from typer.testing import CliRunner

from delivery import FARMLAND, FIELD_ALIAS, _to_geo, field_aliases, geodesic_area
from pianqu import divisions
from pianqu.cli import app
from pianqu.geo import ellipsoidal_area
from pianqu.workspace import Workspace

runner = CliRunner()
FORMATS = ("gdb", "shp", "geojson")


def _source(dl, fmt):
    return {"gdb": dl.gdb, "shp": dl.shp, "geojson": dl.geojson}[fmt]


def _import(dl, fmt, tmp_path_factory):
    ws = tmp_path_factory.mktemp(f"ws_{fmt}") / "zitong.gpkg"
    r = runner.invoke(app, ["import", str(_source(dl, fmt)), "-w", str(ws)])
    assert r.exit_code == 0, r.output
    return ws, r.output


@pytest.fixture(scope="module")
def clean_imports(clean_delivery, tmp_path_factory):
    return {fmt: _import(clean_delivery, fmt, tmp_path_factory) for fmt in FORMATS}


@pytest.fixture(scope="module")
def defect_imports(defect_delivery, tmp_path_factory):
    return {fmt: _import(defect_delivery, fmt, tmp_path_factory) for fmt in FORMATS}


# ---- the fixture itself ------------------------------------------------------------------------------

@pytest.mark.parametrize("which", ["clean", "defects"])
def test_fixture_is_a_consistent_sandiao_delivery(which, clean_delivery, defect_delivery):
    dl = clean_delivery if which == "clean" else defect_delivery
    dltb, cjdcq = dl.layers["DLTB"], dl.layers["CJDCQ"]
    assert 2000 <= len(dltb) <= 5000 and len(cjdcq) == 17 and len(dl.layers["XZQ"]) == 3
    # parcels tile the villages (to the 1 mm overlay grid) and the villages the townships
    per_village = dltb.assign(a=shapely.area(dltb.geometry)).groupby("ZLDWMC")["a"].sum()
    village = cjdcq.assign(a=shapely.area(cjdcq.geometry)).groupby("ZLDWMC")["a"].sum()
    assert np.allclose(per_village.loc[village.index], village, rtol=0, atol=1.0)
    assert shapely.area(dl.layers["XZQ"].geometry).sum() == pytest.approx(village.sum(), abs=0.01)
    # TBMJ: geodesic (independent pyproj.Geod on the densified GK polygon) equals pianqu's ellipsoidal area
    assert np.allclose(dltb["TBMJ"], geodesic_area(dltb.geometry.to_numpy()), rtol=0, atol=0.005)
    tbmj = dltb["TBMJ"].to_numpy()
    assert (np.abs(ellipsoidal_area(dltb) - tbmj) <= 0.005 + 1e-6 * tbmj).all()  # TBMJ is rounded to the cent
    # KCMJ = TBMJ × KCXS and TBDLMJ = TBMJ − KCMJ to the cent; only 耕地 has a 田坎 deduction
    cents = lambda c: np.round(dltb[c].to_numpy() * 100).astype(np.int64)  # noqa: E731
    assert (np.abs(cents("KCMJ") - dltb["TBMJ"].to_numpy() * dltb["KCXS"].to_numpy() * 100) <= 0.5 + 1e-6).all()
    assert (cents("TBDLMJ") == cents("TBMJ") - cents("KCMJ")).all()
    farm = dltb["DLBM"].isin(FARMLAND)
    assert (dltb.loc[~farm, "KCXS"] == 0).all() and dltb.loc[farm, "KCXS"].between(0, 0.15).all()
    assert set(dltb.loc[farm & (dltb["KCXS"] > 0), "KCDLBM"]) == {"1203"}
    assert cents("TBDLMJ")[farm.to_numpy()].sum() / 100 == pytest.approx(dl.truth["farmland_tbdlmj_sum"], abs=1e-6)
    assert cents("KCMJ").sum() / 100 == pytest.approx(dl.truth["kcmj_sum"], abs=1e-6)
    assert set(dltb["CZCSXM"]) == {"", "201", "202", "203"}
    assert {"1003", "1004", "1006", "1101", "0101", "0103", "0301", "0305", "0702"} <= set(dltb["DLBM"])
    # validity: every parcel valid in GK and in degrees, except the planted bow-tie (invalid in GK only)
    gk_valid = shapely.is_valid(dltb.geometry.to_numpy())
    deg_valid = shapely.is_valid(_to_geo(dltb.geometry.to_numpy()))
    assert deg_valid.all()
    expected = [dl.truth["bowtie_bsm"]] if dl.defects else []
    assert dltb.loc[~gk_valid, "BSM"].tolist() == expected
    # the duplicate code: two CJDCQ features (different names) share one ZLDWDM
    dup = cjdcq[cjdcq["ZLDWDM"].duplicated(keep=False)]
    if dl.defects:
        assert set(dup["ZLDWDM"].str[:12]) == {dl.truth["duplicate_code"]}
        assert sorted(dup["ZLDWMC"]) == sorted(dl.truth["duplicate_villages"])
        assert sorted(dltb.loc[dltb["DLBM"] == "0810", "BSM"]) == dl.truth["review_bsms"] and dl.truth["review_bsms"]
    else:
        assert dup.empty and "0810" not in set(dltb["DLBM"])
    # the control lines overlap: conflicts to find
    assert dl.truth["conflicts"]["YJJBNT×STBHHX"] > 10_000 and dl.truth["conflicts"]["YJJBNT×CZKFBJ"] > 10_000


def test_bowtie_survives_every_format(defect_delivery):
    """Written and read back, the bow-tie is a self-intersection in GK and a valid ring in degrees."""
    dl = defect_delivery
    bsm = dl.truth["bowtie_bsm"]
    for fmt, path, kw in (("gdb", dl.gdb, {"layer": "DLTB"}), ("shp", dl.shp / "DLTB.shp", {}),
                          ("geojson", dl.geojson / "DLTB.geojson", {})):
        f = pyogrio.read_dataframe(path, **kw)
        assert f.crs.to_epsg() == {"gdb": 4544, "shp": 4523, "geojson": 4490}[fmt]
        row = f["BSM"] == bsm
        assert not f.to_crs(4544).geometry[row].iloc[0].is_valid, fmt
        assert f.to_crs(4490).geometry[row].iloc[0].is_valid, fmt


def test_gdb_structure_and_chinese_aliases(clean_delivery):
    layers = dict(pyogrio.list_layers(clean_delivery.gdb))
    assert set(layers) == {"XZQ", "CJDCQ", "DLTB", "YJJBNT", "STBHHX", "CZKFBJ"}
    aliases = field_aliases(clean_delivery.gdb, "DLTB")
    assert aliases["TBMJ"] == "图斑面积" and aliases["KCMJ"] == "扣除地类面积" and aliases["TBDLMJ"] == "图斑地类面积"
    assert all(aliases[f] == FIELD_ALIAS[f] for f in aliases if f in FIELD_ALIAS)
    assert {"Shape_Area", "Shape_Length"} <= set(aliases)  # ArcGIS-style planar fields, written by GDAL
    czkfbj = pyogrio.read_dataframe(clean_delivery.gdb, layer="CZKFBJ")
    assert set(czkfbj["XZQDM"]) == {"510725"}  # the county code on a county-wide layer


# ---- pianqu import, three formats ------------------------------------------------------------------

@pytest.mark.parametrize("which", ["clean", "defects"])
def test_three_formats_import_to_the_same_workspace(which, clean_delivery, defect_delivery, clean_imports,
                                                    defect_imports):
    dl, imports = (clean_delivery, clean_imports) if which == "clean" else (defect_delivery, defect_imports)
    truth = dl.truth
    ref = divisions.villages("510725").set_index("code")
    towns = divisions.townships("510725").set_index("code")
    frames = {}
    for fmt, (path, _) in imports.items():
        ws = Workspace.open(path)
        assert ws.meta.county_code == "510725" and ws.meta.county_name == "梓潼县"
        assert ws.meta.compute_epsg == 4544
        lu = ws.read("landuse").set_index("bsm").sort_index()
        assert len(lu) == truth["counts"]["DLTB"]
        assert len(ws.read("farmland_pbf")) == truth["counts"]["YJJBNT"]
        assert len(ws.read("eco_redline")) == 1 and len(ws.read("urban_boundary")) == 2
        tw = ws.read("township").set_index("code")
        assert sorted(tw.index) == sorted(truth["townships"])
        assert (tw["name"] == towns.loc[tw.index, "name"]).all()  # 文昌镇 卧龙镇 宝石乡
        v = ws.read("village").set_index("code")
        if not dl.defects:  # (with the planted duplicate the two villages are merged today: see the report)
            assert sorted(v.index) == sorted(truth["villages"])
            assert (v["name"] == ref.loc[v.index, "name"]).all()  # 村民委员会 names shortened: 龙口村 …
        # areas: TBMJ carried to the cent, Σ to the cent, the geometry's ellipsoidal area equal to TBMJ
        src = dl.layers["DLTB"].set_index("BSM").loc[lu.index]
        assert (lu["area_m2"].to_numpy() == src["TBMJ"].to_numpy()).all(), fmt
        assert round(float(lu["area_m2"].sum()), 2) == pytest.approx(truth["tbmj_sum"], abs=0.005)
        tbmj = src["TBMJ"].to_numpy()
        assert (np.abs(ellipsoidal_area(lu) - tbmj) <= 0.005 + 1e-6 * tbmj).all(), fmt
        assert (lu["source_code"].to_numpy() == src["DLBM"].to_numpy()).all()
        assert (lu["village_code"].to_numpy() == src["ZLDWDM"].str[:12].to_numpy()).all()
        frames[fmt] = lu
    # the same workspace whatever the format: codes, villages and geometry (ellipsoidal area to 1e-9)
    a, b, c = (frames[f] for f in FORMATS)
    for other in (b, c):
        assert (other.index == a.index).all()
        assert (other[["code", "source_code", "village_code", "township_code"]].to_numpy()
                == a[["code", "source_code", "village_code", "township_code"]].to_numpy()).all()
        assert np.max(np.abs(ellipsoidal_area(other) - ellipsoidal_area(a))) < 0.01  # 0.1 mm storage grids


def test_wrong_cpg_caught_and_names_read_right(defect_delivery, defect_imports):
    _, out = defect_imports["shp"]
    assert "CJDCQ" in out and "UTF-8" in out and "gbk" in out  # ingest.cpg_wrong, in Chinese
    v = Workspace.open(defect_imports["shp"][0]).read("village")
    assert "龙口村" in set(v["name"]) and not v["name"].str.contains("\ufffd").any()


def test_review_list_holds_the_0810_parcels(defect_delivery, defect_imports):
    for path, _ in defect_imports.values():
        review = Workspace.open(path).read("landuse_review")
        assert sorted(review["bsm"]) == defect_delivery.truth["review_bsms"]
        assert set(review["source_code"]) == {"0810"}


def test_clean_delivery_needs_no_review(clean_imports):
    for path, _ in clean_imports.values():
        ws = Workspace.open(path)
        assert "landuse_review" not in ws.layers() or len(ws.read("landuse_review")) == 0
        assert (ws.read("landuse")["code"] != "").all()


def test_osm_pbf_imports_as_roads(clean_delivery, clean_imports, tmp_path):
    ws_path = tmp_path / "roads.gpkg"
    ws_path.write_bytes(clean_imports["gdb"][0].read_bytes())
    r = runner.invoke(app, ["import", str(clean_delivery.pbf), "-w", str(ws_path)])
    assert r.exit_code == 0, r.output
    road = Workspace.open(ws_path).read("road")
    ways = clean_delivery.truth["osm_ways"]
    assert len(road) == sum(n for k, n in ways.items() if k != "track")  # tracks are not car roads
    assert set(road["class"]) == {"provincial", "county", "township", "village"}
    assert {"S302线", "梓宝路", "卧宝路"} <= set(road["name"])
    # the corridors lie inside the county and the network is one connected piece
    county = Workspace.open(ws_path).read("county").geometry.iloc[0]
    assert road.geometry.intersects(county).all()
    import networkx as nx

    g = nx.Graph()
    for line in road.geometry:
        xy = [tuple(np.round(c, 7)) for c in shapely.get_coordinates(line)]
        g.add_edges_from(zip(xy[:-1], xy[1:]))
    assert nx.number_connected_components(g) == 1  # shared OSM nodes where corridors meet
