"""The township table and the land-use structure: sums, units, attribution, against independent answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pyproj import Geod

from pianqu.findings import Finding
from pianqu.report import (broad_structure, findings_summary, findings_table, landuse_structure,
                           parcel_townships, township_stats, township_table)
from pianqu.report.tables import class_columns


def test_class_columns_add_up_to_township_area(workspace, layers):
    stats = township_stats(workspace)
    classes = class_columns(stats)
    assert len(stats) == 3 and classes[0] == "l1_01" and "l1_23" in classes
    # no gaps in the fixture: the class columns alone add up to the township area
    np.testing.assert_allclose(stats[classes].sum(axis=1), stats["area_ha"], rtol=1e-9)
    np.testing.assert_allclose(stats["gap_ha"], 0.0, atol=1e-6)
    assert (stats["unknown_ha"] == 0).all()
    # every class of the fixture's parcels is where it should be: brute force per township
    lu = layers["landuse"]
    for _, row in stats.iterrows():
        mine = lu[lu["township_code"] == row["code"]]
        for l1, m2 in mine.groupby(mine["code"].str[:2])["area_m2"].sum().items():
            assert row[f"l1_{l1}"] == pytest.approx(m2 / 1e4, rel=1e-12)


def test_areas_agree_with_geodesic_area_and_units(workspace, layers):
    stats = township_stats(workspace)
    geod = Geod(ellps="GRS80")  # CGCS2000's ellipsoid; geodesic polygon area, independent of any projection
    for geom, ha in zip(layers["township"].geometry, stats["area_ha"]):
        geodesic = abs(geod.geometry_area_perimeter(geom)[0])
        assert ha * 1e4 == pytest.approx(geodesic, rel=1e-5)
    np.testing.assert_allclose(stats["area_ha"] * 15, stats["area_mu"], rtol=1e-12)  # 1 ha = 15 亩
    np.testing.assert_allclose(stats["area_m2"] / 666.6667, stats["area_mu"], rtol=1e-6)  # domain.md F4


def test_township_table_total_row_and_population(workspace, layers):
    table = township_table(workspace, "zh")
    assert list(table.columns[:7]) == ["代码", "乡镇（街道）", "类型", "常住人口（人）", "村（社区）数",
                                       "面积（公顷）", "面积（亩）"]
    assert table.columns[7] == "01 耕地（公顷）"
    body, total = table.iloc[:-1], table.iloc[-1]
    assert list(body["乡镇（街道）"]) == list(layers["township"]["name"])
    assert total["乡镇（街道）"] == "合计" and total["代码"] == "511921"
    assert total["常住人口（人）"] == layers["township"]["population"].sum() == body["常住人口（人）"].sum()
    assert list(body["村（社区）数"]) == [3, 3, 3] and total["村（社区）数"] == 9
    numeric = table.columns[5:]
    np.testing.assert_allclose(body[numeric].sum().to_numpy(dtype=float),
                               total[numeric].to_numpy(dtype=float), rtol=1e-12)
    np.testing.assert_allclose(table["面积（公顷）"] * 15, table["面积（亩）"], rtol=1e-12)
    english = township_table(workspace, "en")
    assert english.columns[1] == "Township" and english.columns[7] == "01 Cultivated land (ha)"
    assert english.iloc[-1]["Township"] == "Total" and set(english["Kind"].iloc[:-1]) <= {"town", "township",
                                                                                            "subdistrict"}


def test_attribution_by_village_code_and_by_location_gives_the_same_table(layers):
    base = township_stats(townships=layers["township"], landuse=layers["landuse"], villages=layers["village"])
    by_village = layers["landuse"].drop(columns=["township_code"])
    by_place = by_village.drop(columns=["village_code"])
    for parcels in (by_village, by_place):
        owner = parcel_townships(parcels, layers["township"])
        assert (owner.to_numpy() == layers["landuse"]["township_code"].to_numpy()).all()
        other = township_stats(townships=layers["township"], landuse=parcels, villages=layers["village"])
        pd.testing.assert_frame_equal(other, base)
    # a wrong township_code is not trusted blindly: it falls back to the village code / the location
    wrong = layers["landuse"].copy()
    wrong.loc[0, "township_code"] = "999999999"
    assert parcel_townships(wrong, layers["township"]).iloc[0] == layers["landuse"]["township_code"].iloc[0]


def test_missing_area_fields_are_computed_consistently(layers):
    no_area = layers["landuse"].drop(columns=["area_m2"])
    stats = township_stats(townships=layers["township"], landuse=no_area)
    np.testing.assert_allclose(stats[class_columns(stats)].sum(axis=1), stats["area_ha"], rtol=1e-9)
    with_area = layers["township"].assign(area_m2=[1e7, 2e7, 3e7])  # a given area field wins
    stats = township_stats(townships=with_area, landuse=layers["landuse"])
    assert list(stats["area_ha"]) == [1000.0, 2000.0, 3000.0]
    np.testing.assert_allclose(stats[class_columns(stats)].sum(axis=1) + stats["gap_ha"], stats["area_ha"],
                               rtol=1e-12)


def test_gaps_unknown_codes_and_parcels_outside(layers):
    lu = layers["landuse"].copy()
    hole = lu.iloc[10]
    lu = lu.drop(index=10)
    lu.loc[20, "code"] = "9999"  # not a 用地用海 code
    outside = lu.iloc[[0]].copy()
    outside["geometry"] = outside.geometry.translate(5.0, 0.0)  # 5° east: in no township
    outside[["township_code", "village_code"]] = None
    outside["bsm"] = "outside"
    lu = pd.concat([lu, outside], ignore_index=True)
    stats = township_stats(townships=layers["township"], landuse=lu)
    row = stats.set_index("code").loc[hole["township_code"]]
    assert row["gap_ha"] == pytest.approx(hole["area_m2"] / 1e4, rel=1e-9)
    unknown_row = stats.set_index("code").loc[layers["landuse"].loc[20, "township_code"]]
    assert unknown_row["unknown_ha"] == pytest.approx(layers["landuse"].loc[20, "area_m2"] / 1e4, rel=1e-12)
    np.testing.assert_allclose(stats[class_columns(stats)].sum(axis=1) + stats["unknown_ha"] + stats["gap_ha"],
                               stats["area_ha"], rtol=1e-12)
    assert stats.attrs["unassigned_parcels"] == 1
    assert stats.attrs["unassigned_m2"] == pytest.approx(outside["area_m2"].iloc[0])


def test_landuse_structure_matches_township_table(workspace, layers):
    structure = landuse_structure(ws=workspace)
    stats = township_stats(workspace)
    by_code = structure.set_index("code")["area_ha"]
    for col in class_columns(stats):
        assert by_code.get(col[3:], 0.0) == pytest.approx(stats[col].sum(), rel=1e-12)
    assert structure["share"].sum() == pytest.approx(1.0)
    assert (structure["area_ha"] > 0).all() and structure["label"].iloc[0] == "01 耕地"
    broad = broad_structure(structure)
    assert broad["area_ha"].sum() == pytest.approx(structure["area_ha"].sum())
    agri = structure[structure["code"].isin(["01", "02", "03", "04"])]["area_ha"].sum()
    assert broad.set_index("class").loc["agricultural", "area_ha"] == pytest.approx(agri)
    assert broad_structure(structure, "en")["label"].iloc[0] == "Agricultural land"


def test_findings_tables(catalogue_with_test_rules):
    from report_fixture import sample_findings

    findings = sample_findings(4)
    table = findings_table(findings, "zh")
    assert list(table.columns) == ["级别", "规则", "图层", "要素编号", "字段", "问题", "处理建议", "来源文件"]
    assert table["级别"].iloc[0] == "错误"  # errors first
    assert table["问题"].iloc[0].startswith("test.unrendered_rule")  # a rule without messages still shows
    assert table["问题"].iloc[1] == "图斑 511921202300000000 与相邻图斑重叠 3.5 平方米"
    assert table["处理建议"].iloc[1] == "在 ArcGIS 中修改图斑边界"
    assert table["图层"].iloc[1] == "地类图斑（landuse）"
    summary = findings_summary(findings, "en")
    assert list(summary["Count"]) == [1, 4] and list(summary["Severity"]) == ["error", "warning"]
    assert findings_summary([], "zh").empty
    assert findings_table([Finding("info", "test.parcel_overlap", params={"area": 1})], "en").iloc[0, 0] == "info"


def test_report_township_table_is_the_land_one(workspace, layers):
    """One township-statistics function: the report's table is pianqu.land.stats.township_stats, and
    its class columns equal the land tables' land use by township (parcels cut to townships)."""
    from pianqu.land import stats as land_stats
    from pianqu.report.parts import core

    assert core.township_stats is land_stats.township_stats
    stats = township_stats(workspace).set_index("code")
    by_unit = land_stats.landuse_by_unit(layers["landuse"], layers["township"], unit_col="code", level=1, unit="ha")
    by_unit = by_unit.drop(index=land_stats.TOTAL, columns=land_stats.TOTAL)  # the totals row, by key
    by_unit.columns = [c[:2] for c in by_unit.columns]
    for code, row in by_unit.iterrows():
        for l1, ha in row.items():
            assert stats.loc[code, f"l1_{l1}"] == pytest.approx(ha, rel=1e-9, abs=1e-9), (code, l1)
    assert land_stats.UNIT_DIV["mu"] == pytest.approx(1.0 / land_stats.mu_per_m2_of())
