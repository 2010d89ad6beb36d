"""The province layout and the partitioned GeoParquet build."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import shapely

from pianqu import divisions
from pianqu.synth import layout, synthesize_province
from pianqu.synth.province import partition_path, read_layer, read_manifest

CHENGDU_CORE = ["510104", "510105"]  # 锦江, 青羊: neighbours, small


def test_county_geo_table_covers_every_county():
    g = layout.county_geo_table()
    c = divisions.counties()
    assert sorted(g["code"]) == sorted(c["code"])
    assert (g.set_index("code")["name"] == c.set_index("code")["name"]).all()
    assert g["sureness"].isin(["recalled", "inferred"]).all() and g["source"].str.len().gt(0).all()
    assert set(g["terrain"]) <= set(layout.TERRAINS)
    assert (g["elev_min"] < g["elev_max"]).all() and (g["area_km2"] > 0).all()
    tj = g.set_index("code").loc["511921"]
    assert tj["terrain"] == "mountain" and 4000 < tj["area_km2"] < 4300
    assert 0.95 < g["area_km2"].sum() / 486_000 < 1.05  # Sichuan ≈ 486 000 km²


def test_layout_regions_are_disjoint_and_roomy():
    lay = layout.province_layout()
    regions = lay["region"].to_numpy()
    tree = shapely.STRtree(regions)
    a, b = tree.query(regions, predicate="intersects")
    assert (a == b).all()
    area = shapely.area(regions) / 1e6
    assert (area >= layout.county_geo_table()["area_km2"].to_numpy()).all()


def test_outlines_fit_their_regions():
    for code in ["511921", "510104", "513332", "511504"]:
        geo = layout.county_geo(code)
        poly = layout.county_outline(geo, 1)
        region, _ = layout.county_region(code, geo.epsg)
        assert poly.is_valid and region.covers(poly)
        assert abs(poly.area / 1e6 - geo.area_km2) < 0.01 * geo.area_km2


@pytest.fixture(scope="module")
def province(tmp_path_factory):
    out = tmp_path_factory.mktemp("province")
    synthesize_province(out, counties=CHENGDU_CORE, seed=1)
    return out


def test_partitioned_geoparquet_with_manifest(province):
    man = read_manifest(province)
    assert man["synthetic"] == "true" and "模拟" in man["notice_zh"]
    assert sorted(man["counties"]) == CHENGDU_CORE
    for code in CHENGDU_CORE:
        for layer in man["layers"]:
            path = partition_path(province, layer, code)
            assert path.exists(), path
            meta = json.loads(pq.read_schema(path).metadata[b"pianqu"])
            assert meta["county_code"] == code and meta["synthetic"] == "true"
    tw = gpd.read_parquet(partition_path(province, "township", "510104"))
    assert tw.crs.to_epsg() == 4490
    assert list(tw["code"]) == list(divisions.townships("510104").sort_values("code")["code"])
    econ = pd.read_parquet(partition_path(province, "economy", "510105"))
    assert set(econ["township_code"]) == set(divisions.townships("510105")["code"])
    # a layer across counties, with the partition key as text and the schema's fields
    tw_all = read_layer(province, "township")
    assert sorted(tw_all["county_code"].unique()) == CHENGDU_CORE
    assert (tw_all["code"].str[:6] == tw_all["county_code"]).all()
    vl = read_layer(province, "village", ["510105"])
    assert len(vl) == len(divisions.villages("510105"))


def test_counties_do_not_overlap(province):
    counties = pd.concat([gpd.read_parquet(partition_path(province, "county", c)) for c in CHENGDU_CORE])
    g = counties.to_crs(4544).geometry.to_numpy()
    for i in range(len(g)):
        for j in range(i + 1, len(g)):
            assert shapely.intersection(g[i], g[j]).area == 0.0
    assert shapely.distance(g[0], g[1]) < 15_000  # neighbours stay near each other


def test_errors(tmp_path):
    with pytest.raises(ValueError, match="999999"):
        synthesize_province(tmp_path / "x", counties=["999999"])
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "file.txt").write_text("x")
    with pytest.raises(ValueError, match="busy"):
        synthesize_province(tmp_path / "busy", counties=["510104"])
