"""Messages, JSON, the summary table and the in-memory entry point."""

from __future__ import annotations

import copy
import dataclasses
import json
import re

import geopandas as gpd
import pandas as pd
import pytest
from typer.testing import CliRunner

from pianqu.cli import app
from pianqu.config import load_config
from pianqu.findings import Finding, to_json
from pianqu.i18n import catalogue, translate_keys
from pianqu.validate import RULES, summarise, validate_layers, validate_workspace
from pianqu.workspace import Workspace
from test_corpus import broken_workspace
from validate_cases import CASES
from validate_fixture import COMPUTE_EPSG, COUNTY, clean_layers, parcel_bsm, write_workspace

CJK = re.compile(r"[\u3400-\u9fff]")


@pytest.fixture(scope="module")
def area_ws(tmp_path_factory):
    """The TBMJ-off-by-5% case and the gap case, as workspaces."""
    folder = tmp_path_factory.mktemp("render")
    write_workspace(folder / "clean.gpkg", clean_layers())
    paths = {}
    for name in ("area_off_5pct", "gap_between_villages"):
        paths[name] = folder / f"{name}.gpkg"
        broken_workspace(CASES[name], folder / "clean.gpkg", paths[name])
    return paths


def test_every_rule_has_messages_in_both_languages():
    cat = catalogue()
    for rule in RULES:
        for part in ("msg", "do", "title"):
            key = f"{rule}.{part}"
            assert key in cat, key
            assert cat[key]["zh"] and cat[key]["en"]
            assert CJK.search(cat[key]["zh"]), key  # Chinese really is Chinese
            # English is English: Chinese only as a term in parentheses, e.g. "(用地用海)"
            assert not CJK.search(re.sub(r"\([^)]*\)", "", cat[key]["en"])), key


def test_english_rendering_through_the_cli(area_ws):
    path = area_ws["area_off_5pct"]
    result = CliRunner().invoke(app, ["validate", str(path), "--lang", "en", "--json", "-"])
    assert result.exit_code == 0  # a warning only: no error
    rows = json.loads(result.stdout)
    assert len(rows) == 1
    bsm = parcel_bsm(3, 2)
    row = rows[0]
    assert (row["severity"], row["rule"], row["layer"], row["feature"], row["field"]) == \
        ("warning", "validate.area_mismatch", "landuse", bsm, "area_m2")
    computed = row["params"]["computed"]
    assert row["message"] == (f"feature {bsm} of layer 'landuse': area field {row['params']['value']} m² "
                              f"differs from the ellipsoidal area {computed} m² by 5.00% (tolerance 0.01%)")
    assert row["action"].startswith("decide which is right")
    assert row["source"] == str(path)
    zh = CliRunner().invoke(app, ["validate", str(path), "--lang", "zh", "--json", "-"])
    assert json.loads(zh.stdout)[0]["message"].startswith(f"地类图斑（landuse）要素 {bsm} 的面积字段")


def test_cli_exit_status_is_1_on_error(area_ws):
    result = CliRunner().invoke(app, ["validate", str(area_ws["gap_between_villages"]), "--lang", "en"])
    assert result.exit_code == 1
    assert "3 errors and 0 warnings found" in result.stdout


def test_json_round_trip(area_ws):
    findings = validate_workspace(Workspace.open(area_ws["gap_between_villages"]))
    assert len(findings) == 3
    text = to_json(findings, "en")
    names = [f.name for f in dataclasses.fields(Finding)]
    back = [Finding(**{k: row[k] for k in names}) for row in json.loads(text)]
    assert back == findings
    assert [f.message("en") for f in back] == [row["message"] for row in json.loads(text)]


def test_summary_counts_add_up(area_ws):
    findings = validate_workspace(Workspace.open(area_ws["gap_between_villages"]))
    table = summarise(findings)
    assert table["count"].sum() == len(findings)
    assert list(table.columns) == ["severity", "rule", "layer", "count", "title"]
    by_rule = dict(zip(zip(table["rule"], table["layer"]), table["count"]))
    assert by_rule == {("validate.gap", "village"): 1, ("validate.outside_parent", "landuse"): 2}
    assert set(translate_keys(table["title"], "en")) == {"gap between features", "outside its parent"}
    assert summarise([]).empty


def test_findings_are_sorted_errors_first():
    layers = clean_layers()
    layers["landuse"].loc[layers["landuse"].index[0], "area_m2"] *= 2  # warning on landuse
    layers["facility"].loc[layers["facility"].index[0], "kind"] = "x"  # error on facility
    layers["county"].loc[0, "code"] = "511922"  # error on county
    f = validate_layers(layers, config=load_config(), county_code=COUNTY, compute_epsg=COMPUTE_EPSG)
    assert [(x.severity, x.layer) for x in f] == [("error", "county"), ("error", "facility"),
                                                   ("warning", "landuse")]


def test_validate_layers_in_memory_names_sources_and_leaves_frames_alone():
    layers = clean_layers()
    layers["village"]["population"] = layers["village"]["population"].astype(object)
    layers["village"].loc[layers["village"].index[2], "population"] = "abc"
    before = copy.deepcopy(layers)
    sources = {"village": "/data/通江/CJDCQ.shp"}
    findings = validate_layers(layers, config=load_config(), county_code=COUNTY, sources=sources)
    for name in layers:  # the caller's frames are not modified
        pd.testing.assert_frame_equal(pd.DataFrame(layers[name]), pd.DataFrame(before[name]))
    keys = {(f.rule, f.layer, f.field) for f in findings}
    assert keys == {("validate.wrong_type", "village", "population"),
                    ("validate.bad_value", "village", "population")}
    assert all(f.source == "/data/通江/CJDCQ.shp" for f in findings)


def test_layers_in_a_gk_zone_give_the_same_findings_and_foreign_crs_is_an_error():
    layers = clean_layers()
    layers["landuse"].loc[layers["landuse"].index[5], "area_m2"] *= 1.1
    base = validate_layers(layers, config=load_config(), county_code=COUNTY)
    gk = {k: (v.to_crs(4545) if isinstance(v, gpd.GeoDataFrame) else v) for k, v in layers.items()}
    assert [(f.rule, f.feature) for f in validate_layers(gk, config=load_config(), county_code=COUNTY)] == \
        [(f.rule, f.feature) for f in base] == [("validate.area_mismatch", parcel_bsm(0, 4))]
    foreign = dict(layers)
    foreign["river"] = layers["river"].to_crs(4214)  # Beijing 1954: no exact transformation
    found = validate_layers(foreign, config=load_config(), county_code=COUNTY)
    assert ("error", "validate.wrong_crs", "river") in {(f.severity, f.rule, f.layer) for f in found}


def test_thresholds_come_from_config():
    layers = clean_layers()
    layers["landuse"].loc[layers["landuse"].index[5], "area_m2"] *= 1.05
    strict = validate_layers(layers, config=load_config(), county_code=COUNTY)
    lax = validate_layers(layers, config=load_config(overrides={"validate.area_rel_tolerance": 0.1}),
                          county_code=COUNTY)
    assert [f.rule for f in strict] == ["validate.area_mismatch"] and lax == []


def test_small_parcel_rounded_to_the_cent_is_not_an_area_mismatch():
    """A 5 m² parcel whose TBMJ is rounded to 0.01 m² differs by up to 1e-3 relative: rounding, not an
    error; 0.02 m² off is reported."""
    import numpy as np
    import shapely as shp

    from pianqu.geo import ellipsoidal_area

    layers = clean_layers()
    lu = layers["landuse"]
    k = lu.index[5]
    gk = gpd.GeoSeries([lu.geometry.loc[k]], crs=4490).to_crs(4545)
    c = gk.iloc[0].centroid
    tiny = gpd.GeoSeries([shp.box(c.x, c.y, c.x + 2.2361, c.y + 2.2361)], crs=4545).to_crs(4490).iloc[0]
    lu.loc[k, "geometry"] = tiny
    true = float(ellipsoidal_area(gpd.GeoSeries([tiny], crs=4490))[0])
    lu.loc[k, "area_m2"] = np.floor(true * 100) / 100  # TBMJ truncated to the cent
    assert abs(lu.loc[k, "area_m2"] - true) / true > 1e-4
    found = validate_layers(layers, config=load_config(), county_code=COUNTY)
    assert "validate.area_mismatch" not in {f.rule for f in found}
    lu.loc[k, "area_m2"] = round(true + 0.02, 2)
    found = validate_layers(layers, config=load_config(), county_code=COUNTY)
    assert "validate.area_mismatch" in {f.rule for f in found}
