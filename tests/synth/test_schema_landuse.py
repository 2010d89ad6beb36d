"""Schema conformance and 用地用海 coding of the land parcels."""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely

from pianqu import standards
from pianqu.schema import LAYERS

DTYPES = {"str": "object", "int": "int64", "float": "float64", "bool": "bool"}
GEOM = {"Polygon": 3, "Point": 0, "LineString": 1}


def test_every_layer_with_declared_fields_and_dtypes(built):
    # not synthesised: the import's review list, the targets the city assigns (without them
    # the land engine derives targets by rule and says so) and the county's designated centres
    # (without them centres are chosen by strength and access, and the plan says so), nor the
    # statistics tables (their indicators show 无数据 and say what to import)
    expected = [n for n in LAYERS if n not in ("landuse_review", "targets", "centres", "statistics")]
    assert sorted(built.layers) == sorted(expected)
    for name, frame in built.layers.items():
        spec = LAYERS[name]
        cols = [c for c in frame.columns if c != "geometry"]
        assert cols == spec.field_names, name
        for f in spec.fields:
            col = frame[f.name]
            if f.dtype == "str":
                assert pd.api.types.is_string_dtype(col.dtype) or col.dtype == object, (name, f.name)
                assert col.dropna().map(type).eq(str).all(), (name, f.name)
            else:
                assert str(col.dtype) == DTYPES[f.dtype], (name, f.name, col.dtype)
            if f.required:
                assert frame[f.name].notna().all(), (name, f.name)
        if spec.geometry is None:
            assert "geometry" not in frame.columns
            continue
        assert frame.crs.to_epsg() == 4490, name
        if len(frame):
            assert (shapely.get_type_id(frame.geometry.to_numpy()) == GEOM[spec.geometry]).all(), name
            assert frame.geometry.is_valid.all() and not frame.geometry.is_empty.any(), name
            x0, y0, x1, y1 = frame.total_bounds
            assert 97 < x0 < x1 < 109 and 26 < y0 < y1 < 35, name  # inside Sichuan, in degrees
        if spec.id_field:
            assert frame[spec.id_field].is_unique, name


def test_landuse_codes_names_and_attributes(built):
    lu = built.layers["landuse"]
    table = standards.landuse_codes(2023)
    levels = dict(zip(table["code"], table["level"]))
    names = dict(zip(table["code"], table["name"]))
    assert lu["code"].map(levels).isin([2, 3]).all()
    assert (lu["name"] == lu["code"].map(names)).all()
    assert (lu["epoch"] == 2023).all()
    assert lu["slope_deg"].between(0, 90).all()
    assert lu["bsm"].str.fullmatch(built.geo.code + r"\d{10}").all()
    assert (lu["township_code"] == lu["village_code"].str[:9]).all()
    cz = lu["czcsxm"].dropna()
    assert cz.isin(set(standards.czcsxm_codes()["code"])).all()
    first = lu["code"].str[:2]
    # town/village attribute codes only on construction land; homesteads always 203
    assert first[lu["czcsxm"].isin(["201", "202"])].isin([f"{i:02d}" for i in range(7, 17)]).all()
    assert (lu.loc[lu["code"] == "0703", "czcsxm"] == "203").all()
    assert lu.loc[first.isin(["01", "03", "04"]), "czcsxm"].isna().all()
    seat_cz = "201" if not built.layers["county"]["name"].iloc[0].endswith("县") else "202"
    seat = built.layers["settlement"].query("level == 'county_seat'").iloc[0]
    assert (lu.loc[lu["village_code"] == seat["village_code"], "czcsxm"] == seat_cz).any()


def test_landuse_follows_the_terrain(tongjiang):
    lu = tongjiang.layers["landuse"]
    share = lu.groupby("code")["area_m2"].sum() / lu["area_m2"].sum()
    first = share.groupby(share.index.str[:2]).sum()
    # a mountainous county: mostly forest, a fifth farmland, a few % construction, some water
    assert 0.5 < first["03"] < 0.85
    assert 0.1 < first.get("01", 0) < 0.3
    assert 0.01 < first[[c for c in first.index if "07" <= c <= "16"]].sum() < 0.1
    assert first.get("17", 0) > 0.002
    w = lu["area_m2"]
    mean_slope = lambda codes: np.average(lu.loc[lu["code"].isin(codes), "slope_deg"],  # noqa: E731
                                          weights=w[lu["code"].isin(codes)])
    assert mean_slope(["0101"]) < mean_slope(["0103"]) < mean_slope(["0301", "0303"])
    # many parcels, of realistic sizes
    assert 15_000 <= len(lu) <= 80_000
    assert 5_000 < np.median(w) < 60_000


def test_plain_county_is_farmland_and_town(wenjiang):
    lu = wenjiang.layers["landuse"]
    share = lu.groupby(lu["code"].str[:2])["area_m2"].sum() / lu["area_m2"].sum()
    assert share["01"] > 0.3
    assert share[[c for c in share.index if "07" <= c <= "16"]].sum() > 0.2  # an urban district
    assert share.get("03", 0) < 0.2
