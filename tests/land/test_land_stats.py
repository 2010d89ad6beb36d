"""Statistics tables add up and agree with an independent geopandas overlay (1e-6 relative)."""

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from pianqu.geo import ellipsoidal_area
from pianqu.i18n import t

import land_fixtures as F
from pianqu.land import stats
from pianqu.land.change import simulate_epoch
from pianqu.land.conflicts import detect_conflicts


def _ref_by_unit(lu, units, col):
    ov = gpd.overlay(lu[["code", "geometry"]], units[[col, "geometry"]], how="intersection", keep_geom_type=True)
    ov["l1"] = ov["code"].str[:2]
    return ov.assign(a=ellipsoidal_area(ov.geometry.to_numpy(), F.EPSG) / 1e4).pivot_table(index=col, columns="l1", values="a", aggfunc="sum", fill_value=0.0)


@pytest.mark.parametrize("unit_layer", ["zone", "township"])
def test_landuse_by_unit_adds_up_and_matches_geopandas(unit_layer, zones):
    c = F.county()
    units, col = (zones, "zone") if unit_layer == "zone" else (c["gk:township"].rename(columns={"code": "tcode"}), "tcode")
    t = stats.landuse_by_unit(c["landuse"], units, unit_col=col, epsg=F.EPSG)
    body = t.drop(index="total", columns="total")
    county_ha = ellipsoidal_area(c["gk:landuse"].geometry.to_numpy(), F.EPSG).sum() / 1e4
    assert t.loc["total", "total"] == pytest.approx(county_ha, rel=1e-9)  # units sum to the county
    assert np.allclose(body.sum(axis=1), t["total"].drop("total"), rtol=1e-12)  # classes sum to the total
    assert np.allclose(body.sum(axis=0), t.loc["total"].drop("total"), rtol=1e-12)
    ref = _ref_by_unit(c["gk:landuse"], units, col)
    body.columns = [k[:2] for k in body.columns]
    assert np.allclose(body.reindex(index=ref.index, columns=ref.columns), ref, rtol=1e-6, atol=1e-9)
    assert list(t.columns[:2]) == ["01 耕地", "02 园地"]


def test_levels_and_units_agree(zones):
    lu = F.county()["landuse"]
    ha = stats.landuse_by_unit(lu, zones, epsg=F.EPSG)
    mu = stats.landuse_by_unit(lu, zones, epsg=F.EPSG, unit="mu")
    assert np.allclose(mu.to_numpy(), ha.to_numpy() * 15, rtol=1e-12)
    l2 = stats.landuse_by_unit(lu, zones, epsg=F.EPSG, level=2)
    cls = stats.landuse_by_unit(lu, zones, epsg=F.EPSG, level="class")
    assert l2.loc["total", "total"] == pytest.approx(ha.loc["total", "total"]) == pytest.approx(cls.loc["total", "total"])
    assert "0101 水田" in l2.columns and "construction" in cls.columns


def test_base_vs_plan():
    lu = F.county()["landuse"]
    after, _, truth = simulate_epoch(lu, seed=2, n_conversions=30, approvals_share=0.5, n_other_changes=0)
    t = stats.base_vs_plan(lu, after, epsg=F.EPSG)
    assert t.loc["total", "base_ha"] == pytest.approx(t.loc["total", "plan_ha"], rel=1e-9)
    assert t.loc["total", "change_ha"] == pytest.approx(0.0, abs=1e-6)
    assert t.loc["01 耕地", "change_ha"] == pytest.approx(-truth["area_m2"].sum() / 1e4, rel=1e-6)
    assert t["base_share"].drop("total").sum() == pytest.approx(1.0)


def test_control_line_table(zones, lines):
    t = stats.control_line_table(lines, zones, epsg=F.EPSG)
    c = F.county()
    for name in ("farmland_pbf", "eco_redline", "urban_boundary"):
        mask = gpd.GeoDataFrame(geometry=[c[f"gk:{name}"].union_all()], crs=F.EPSG)
        ov = gpd.overlay(zones, mask, how="intersection", keep_geom_type=True)
        ref = pd.Series(ov.area.to_numpy() / 1e4, index=ov["zone"]).reindex(zones["zone"], fill_value=0.0)
        assert np.allclose(t[f"{name}_ha"].drop("total").reindex(ref.index), ref, rtol=1e-6)
        assert t.loc["total", f"{name}_ha"] == pytest.approx(c[f"gk:{name}"].union_all().intersection(
            zones.union_all()).area / 1e4, rel=1e-6)
    assert t.loc["total", "unit_ha"] == pytest.approx(zones.area.sum() / 1e4)


def test_conflict_summary_and_excel(tmp_path, zones, lines):
    c = F.county()
    conf = detect_conflicts({**lines, "reserve": c["reserve"]})
    s = stats.conflict_summary(conf)
    assert s["count"].sum() == len(conf) and s["area_m2"].sum() == pytest.approx(conf["area_m2"].sum())
    path = stats.to_excel({"用地结构": stats.landuse_by_unit(c["landuse"], zones, epsg=F.EPSG), "冲突": s},
                          tmp_path / "land.xlsx")
    back = pd.read_excel(path, sheet_name=None, index_col=0)
    assert set(back) == {"用地结构", "冲突"}
    assert back["用地结构"].loc["total", "total"] == pytest.approx(c["gk:landuse"].area.sum() / 1e4)


def test_plan_tables(zones, lines):
    c = F.county()
    tabs = stats.plan_tables(c["landuse"], zones=zones, townships=c["township"], lines=lines,
                             conflicts=detect_conflicts(lines), epsg=F.EPSG)
    assert set(tabs) == {"landuse_by_zone", "landuse_by_township", "control_lines_by_zone", "conflicts"}
    assert tabs["landuse_by_zone"][0] == "land.stats.table.landuse_by_zone"  # the title's key: the edges say it
    assert t(tabs["landuse_by_zone"][0], "zh") == "各片区用地用海结构（公顷）"
    z, tw = tabs["landuse_by_zone"][1], tabs["landuse_by_township"][1]
    assert z.loc["total", "total"] == pytest.approx(tw.loc["total", "total"], rel=1e-12)  # zones and townships: one county
    assert np.allclose(z.loc["total"], tw.loc["total"].reindex(z.columns), rtol=1e-9)
