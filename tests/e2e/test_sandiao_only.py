"""`pianqu plan` on what a county's 三调 delivery has: townships, villages, land parcels and the
control lines — no roads, settlements, population, facilities or economy. The default county's
own layers are the truth the derived inputs are measured against."""

import numpy as np
import pandas as pd
import pytest

from pianqu import divisions
from pianqu.network import build_graph, od_matrix
from pianqu.network.snap import seat_points
from pianqu.plan import plan
from pianqu.report import write_report
from pianqu.workspace import Workspace

pytestmark = pytest.mark.slow  # a county synthesised, planned or run through the CLI end to end

SANDIAO_LAYERS = ("county", "township", "village", "landuse", "farmland_pbf", "eco_redline", "urban_boundary")


@pytest.fixture(scope="module")
def sandiao(tongjiang, tmp_path_factory):
    """The default county reduced to a 三调 delivery, planned into scenario ``plan``."""
    layers = {name: tongjiang.read(name) for name in SANDIAO_LAYERS}
    for name in ("township", "village"):
        layers[name]["population"] = pd.array([pd.NA] * len(layers[name]), dtype="Int64")
    meta = tongjiang.meta
    ws = Workspace.create(tmp_path_factory.mktemp("sandiao") / "ws.gpkg", county_code=meta.county_code,
                          county_name=meta.county_name, synthetic=True, compute_epsg=meta.compute_epsg,
                          epochs=tuple(meta.epochs), command="test", reason="三调 only")
    ws.write(layers, command="test", reason="三调 only")
    return ws, plan(ws, "plan", title="三调方案")


def test_plan_says_which_inputs_were_derived(sandiao):
    ws, result = sandiao
    src = ws.read("input_source", "plan").set_index("input")
    assert src.loc["road", "status"] == "derived" and src.loc["road", "method"] == "centreline"
    assert src.loc["settlement", "status"] == "derived"
    assert src.loc["population", "status"] == "estimated"
    assert src.loc["facility", "status"] == "missing" and src.loc["economy", "status"] == "missing"
    rules = {f.rule for f in result.findings}
    assert {"inputs.road_centreline", "inputs.settlement_parcels", "inputs.population_census",
            "inputs.facility_missing", "inputs.economy_missing"} <= rules
    for layer in ("derived_road", "derived_settlement", "derived_population"):
        assert ws.has(layer, "plan")


def test_zones_cover_every_township_once_with_the_census_population(sandiao):
    ws, result = sandiao
    townships = ws.read("township")
    members = ws.read("zone_member", "plan")
    assert sorted(members["township_code"]) == sorted(townships["code"])
    zones = ws.read("zone", "plan")
    census = divisions.census(ws.meta.county_code)["population"]
    assert zones["population"].sum() == pytest.approx(census, abs=len(townships))  # rounding per township
    assert result.zoning.status in ("optimal", "feasible")
    assert ws.has("village_zone", "plan") and ws.has("road_dead_end", "plan")
    assert ws.has("conflict", "plan") and ws.has("space", "plan")


def test_derived_seat_times_are_close_to_the_true_network(sandiao, tongjiang):
    """Township seat to seat: the derived network and seats against the county's own roads and seats."""
    ws, result = sandiao
    codes = result.inputs.townships["code"]
    derived = result.inputs.travel_s(*(2 * [seat_points(result.inputs.settlements, codes, "town_seat",
                                                        "township_code")]))
    true_seats = seat_points(tongjiang.read("settlement"), codes, "town_seat", "township_code")
    truth = od_matrix(build_graph(tongjiang.read("road"), config=tongjiang.config()), true_seats, true_seats)
    off = ~np.eye(len(codes), dtype=bool)
    rel = np.abs(derived[off] - truth[off]) / truth[off]
    assert np.isfinite(derived[off]).all()
    assert np.median(rel) < 0.25, f"median relative error {np.median(rel):.3f}"


def test_report_shows_the_inputs(sandiao, tmp_path):
    ws, _ = sandiao
    page = write_report(ws, tmp_path / "report", scenario="plan", lang="zh").read_text(encoding="utf-8")
    assert "数据来源" in page and "推算" in page and "估算" in page
