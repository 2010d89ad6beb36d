"""The land analyses in the shape of issue 12 on a small synthesized county (西区 510403, two
epochs, approvals, reserve, projects): ``analyse(from_workspace(ws, scenario, zones=…))`` gives the
layers ``run_land`` gives, reads nothing from the workspace once the instance is built, honours the
scenario's own layers over the base ones, and ``LandRun.write`` stores tables that read back the
same."""

from __future__ import annotations

import dataclasses
import shutil

import geopandas as gpd
import pandas as pd
import pytest

from pianqu.land import instance as land_instance
from pianqu.land.common import zone_polygons
from pianqu.land.pipeline import LandRun, run_land
from pianqu.workspace import Workspace, storable

XIQU = "510403"
TOML = '[thresholds]\n"land.grain_codes" = ["0101", "0102", "0103"]\n"land.grain_base_min_mu" = 30.0\n'
STEPS = ["conflicts", "spaces", "tables", "change", "quota", "sizing", "siting", "consolidation", "grain", "workflow"]


@pytest.fixture(scope="module")
def county(tmp_path_factory):
    """The county workspace with two zones in scenario ``t``, and the zones."""
    from pianqu.synth import write_county

    d = tmp_path_factory.mktemp("land_instance")
    ws = write_county(XIQU, d / "xiqu.gpkg", seed=1)
    (d / "pianqu.toml").write_text(TOML, encoding="utf-8")
    ws = Workspace.open(ws.path)
    tw = ws.read("township")
    codes = sorted(tw["code"].astype(str))
    mapping = {c: codes[0] if k < len(codes) // 2 else codes[-1] for k, c in enumerate(codes)}
    zones = zone_polygons(townships=tw, mapping=mapping, epsg=ws.meta.compute_epsg).to_crs(4490)
    ws.create_scenario("t")
    ws.write({"zone": zones}, command="test", scenario="t")
    return ws, zones


@pytest.fixture(scope="module")
def analysed(county):
    ws, zones = county
    inst = land_instance.from_workspace(ws, "t", zones=zones)
    return inst, land_instance.analyse(inst)


def _same(a: pd.DataFrame, b: pd.DataFrame, name: str) -> None:
    """Equal tables: the same columns and values, geometries equal (to 1 mm, or as point sets)."""
    a, b = a.reset_index(drop=True), b.reset_index(drop=True)
    assert sorted(a.columns) == sorted(b.columns), name
    b = b[list(a.columns)]  # a GeoPackage keeps the geometry last
    if name == "land_steps":  # seconds differ run to run
        a, b = a.drop(columns="seconds"), b.drop(columns="seconds")
    geo = "geometry" if "geometry" in a.columns else None
    pd.testing.assert_frame_equal(pd.DataFrame(a.drop(columns=geo) if geo else a),
                                  pd.DataFrame(b.drop(columns=geo) if geo else b), check_dtype=False, obj=name)
    if geo:
        ga, gb = gpd.GeoSeries(a[geo]), gpd.GeoSeries(b[geo])
        tol = 1e-8 if ga.crs is not None and ga.crs.is_geographic else 1e-3
        # a stored single polygon may come back as a one-part multipolygon: the same point set
        assert (ga.geom_equals_exact(gb, tolerance=tol) | ga.geom_equals(gb)).all(), name


def test_analyse_gives_the_layers_of_run_land(county, analysed):
    ws, zones = county
    inst, run = analysed
    assert isinstance(run, LandRun)
    assert [s["step"] for s in run.steps] == STEPS
    assert all(s["status"] == "done" for s in run.steps), run.steps
    old = run_land(ws, "t", zones)
    assert sorted(run.layers) == sorted(old.layers)
    assert {"conflict", "space", "space_by_zone", "land_tickets", "land_siting", "land_quota_targets",
            "land_consolidation", "land_grain_base", "land_line_status", "land_steps"} <= set(run.layers)
    for name in run.layers:
        _same(run.layers[name], old.layers[name], name)
    assert [(f.rule, f.layer, f.feature) for f in run.findings] == [(f.rule, f.layer, f.feature) for f in old.findings]
    # the instance: the base epoch only, everything the steps compute on in the county's GK zone
    epochs = sorted(pd.to_numeric(inst.landuse_all["epoch"]).unique())
    assert len(epochs) == 2 and pd.to_numeric(inst.landuse["epoch"]).nunique() == 1
    epsg = ws.meta.compute_epsg
    assert inst.compute_epsg == epsg and inst.landuse.crs.to_epsg() == epsg and inst.zones.crs.to_epsg() == epsg
    assert all(f.crs.to_epsg() == epsg for f in inst.lines.values())
    assert set(inst.lines) == {"farmland_pbf", "eco_redline", "urban_boundary", "reserve"}
    assert sorted(inst.zones["zone"]) == sorted(zones["zone"])
    assert inst.approvals is not None and inst.projects is not None and inst.villages is not None


def test_to_frame_is_the_steps_table(analysed):
    _, run = analysed
    f = run.to_frame()
    assert list(f.columns) == ["step", "status", "layer", "seconds"]
    assert f["step"].tolist() == STEPS and (f["seconds"] >= 0).all()
    _same(f, run.layers["land_steps"], "land_steps")
    assert LandRun().to_frame().columns.tolist() == ["step", "status", "layer", "seconds"]  # empty, still shaped


def test_analyse_does_not_touch_the_workspace(county, analysed, tmp_path, monkeypatch):
    ws, zones = county
    _, reference = analysed
    copy = tmp_path / "copy.gpkg"
    shutil.copy(ws.path, copy)
    (tmp_path / "pianqu.toml").write_text(TOML, encoding="utf-8")
    inst = land_instance.from_workspace(Workspace.open(copy), "t", zones=zones)
    copy.unlink()  # the workspace is gone ...
    for method in ("read", "has", "write", "layers", "scenarios", "config", "open"):  # ... and may not be asked
        monkeypatch.setattr(Workspace, method, _refuse(method))
    run = land_instance.analyse(inst)
    assert sorted(run.layers) == sorted(reference.layers)
    for name in run.layers:
        _same(run.layers[name], reference.layers[name], name)


def _refuse(method):
    def refuse(*_a, **_k):
        raise AssertionError(f"analyse called Workspace.{method}")
    return refuse


def test_the_instance_is_data_a_notebook_can_change(analysed):
    """Without projects and the reserve the siting step is skipped and the reserve check not made,
    saying which layer would enable them; the other steps give what they gave."""
    inst, run = analysed
    lines = {k: v for k, v in inst.lines.items() if k != "reserve"}
    other = land_instance.analyse(dataclasses.replace(inst, projects=None, lines=lines))
    status = {s["step"]: s["status"] for s in other.steps}
    assert status["siting"] == "skipped" and "land_siting" not in other.layers
    skipped = {f.layer for f in other.findings if f.rule == "land.plan.skipped"}
    assert skipped == {"projects", "reserve"}
    assert other.layers["land_sizing"]["rule"].tolist() == ["expansion_ratio"]
    for name in ("space_by_zone", "land_grain_base", "land_quota_township", "land_consolidation"):
        _same(other.layers[name], run.layers[name], name)


def test_scenario_layers_take_precedence(county, tmp_path):
    """The scenario's cleaned lines and conflict decisions are the instance's, the base ones otherwise."""
    ws, zones = county
    copy = tmp_path / "copy.gpkg"
    shutil.copy(ws.path, copy)
    (tmp_path / "pianqu.toml").write_text(TOML, encoding="utf-8")
    w2 = Workspace.open(copy)
    base = land_instance.from_workspace(w2, "t", zones=zones)
    first = land_instance.analyse(base)
    first.write(w2, "t")
    conflict = w2.read("conflict", "t")
    decided = conflict.loc[conflict["action"].fillna("") != "", "conflict_id"].iloc[0]
    conflict.loc[conflict["conflict_id"] == decided, "decision_reason"] = "规划核实：保留"
    ub = w2.read("urban_boundary")
    left = str(conflict.set_index("conflict_id").at[decided, "left_id"])
    touched = ub.astype(str).eq(left).any(axis=1)  # the boundary piece of the decided patch stays
    assert touched.sum() == 1
    drop = ub.index[~touched.to_numpy()][-1]
    w2.write({"conflict": conflict, "urban_boundary": ub.drop(index=drop)}, command="test", scenario="t")

    inst = land_instance.from_workspace(w2, "t", zones=zones)
    assert len(inst.lines["urban_boundary"]) == len(ub) - 1 == len(base.lines["urban_boundary"]) - 1
    assert inst.previous_conflicts is not None
    kept = land_instance.analyse(inst).layers["conflict"].set_index("conflict_id")
    assert kept.at[decided, "decision_reason"] == "规划核实：保留"
    assert first.layers["conflict"].set_index("conflict_id").at[decided, "decision_reason"] != "规划核实：保留"
    # without a scenario: the base lines, and no decisions to keep
    plain = land_instance.from_workspace(w2, zones=zones)
    assert len(plain.lines["urban_boundary"]) == len(ub) and plain.previous_conflicts is None


def test_write_then_read_back_gives_the_same_tables(county, analysed, tmp_path):
    ws, _ = county
    _, run = analysed
    copy = tmp_path / "copy.gpkg"
    shutil.copy(ws.path, copy)
    (tmp_path / "pianqu.toml").write_text(TOML, encoding="utf-8")
    w2 = Workspace.open(copy)
    run.write(w2, "new")  # a scenario that does not exist yet is created
    assert "new" in set(w2.scenarios()["name"])
    assert set(w2.layers("new")) >= set(run.layers)
    for name, frame in run.layers.items():
        back = w2.read(name, "new")
        _same(back, storable(frame), name)
