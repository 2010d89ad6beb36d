"""Conflict detection and resolution on the fixture county, checked with geopandas."""

import re

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

import land_fixtures as F
from pianqu.geo import ellipsoidal_area
from pianqu.land import workflow as wf
from pianqu.land.common import LandInputError
from pianqu.land.conflicts import (apply_conflicts, conflict_rules, decide, detect_conflicts, read_lines, write_conflicts,
                                   write_resolution)
from pianqu.workspace import Workspace

LINES = ("farmland_pbf", "eco_redline", "urban_boundary", "reserve")


def _lines(c):
    return {k: c[k] for k in LINES}


def _reference(c):
    """Every rule by geopandas.overlay in the GK zone: (rule, left id, right id) → area."""
    out = {}
    core = lambda f: f["core_zone"].astype(bool)  # noqa: E731
    cases = {
        "pbf_in_redline_core": ("farmland_pbf", "eco_redline", lambda r: r[core(r)]),
        "pbf_in_redline": ("farmland_pbf", "eco_redline", lambda r: r[~core(r)]),
        "udb_over_pbf": ("urban_boundary", "farmland_pbf", None),
        "udb_over_redline": ("urban_boundary", "eco_redline", None),
        "reserve_over_pbf": ("reserve", "farmland_pbf", None),
        "reserve_over_redline": ("reserve", "eco_redline", None),
    }
    for rule, (a, b, filt) in cases.items():
        left, right = c[f"gk:{a}"][["id", "geometry"]], c[f"gk:{b}"]
        right = (filt(right) if filt else right)[["id", "geometry"]]
        ov = gpd.overlay(left, right, how="intersection", keep_geom_type=True)
        for x, y, area in zip(ov["id_1"], ov["id_2"], ov.area):
            if area >= 1.0:
                out[(rule, x, y)] = area
    return out


def test_every_rule_against_geopandas(county):
    got = detect_conflicts(_lines(county))
    ref = _reference(county)
    assert set(zip(got["rule"], got["left_id"], got["right_id"])) == set(ref)
    for r in got.itertuples():
        assert r.area_m2 == pytest.approx(ref[(r.rule, r.left_id, r.right_id)], rel=1e-6)
    assert set(got["rule"]) == set(conflict_rules()["rule"])  # the fixture plants every kind
    assert np.allclose(got["area_ha"] * 1e4, got["area_m2"]) and np.allclose(got["area_mu"] * 666.6666666667, got["area_m2"])
    assert got.crs.to_epsg() == 4490 and got.is_valid.all()
    core = got[got["rule"] == "pbf_in_redline_core"]
    assert (core["resolution"] == "auto").all() and (core["action"] == "withdraw_left").all()
    dec = got[got["rule"] == "pbf_in_redline"]
    assert (dec["resolution"] == "decide").all() and (dec["action"] == "").all() and (dec["severity"] == "warning").all()
    assert (got["state"] == "open").all()


def test_ids_are_stable(county):
    a = detect_conflicts(_lines(county))
    shuffled = {k: v.sample(frac=1.0, random_state=3) for k, v in _lines(county).items()}
    b = detect_conflicts(shuffled)
    assert list(a["conflict_id"]) == list(b["conflict_id"])
    assert a["conflict_id"].is_unique
    # removing one feature leaves the other ids as they were
    lines = _lines(county)
    lines["reserve"] = lines["reserve"].iloc[1:]
    c = detect_conflicts(lines)
    assert set(c["conflict_id"]) == set(a["conflict_id"]) - set(a.loc[a["left_id"] == "LB-1", "conflict_id"])


def test_sliver_threshold_from_config(county):
    from pianqu.config import load_config
    all_ = detect_conflicts(_lines(county))
    cut = 5000.0
    some = detect_conflicts(_lines(county), cfg=load_config(overrides={"land.conflict_min_area_m2": cut}))
    assert set(some["conflict_id"]) == set(all_.loc[all_["area_m2"] >= cut, "conflict_id"])


def test_decide_validates(county):
    c = detect_conflicts(_lines(county))
    cid = c.loc[c["rule"] == "pbf_in_redline", "conflict_id"].iloc[0]
    with pytest.raises(LandInputError) as e:
        decide(c, {cid: "tolerate"})
    assert e.value.rule == "land.error.action_not_allowed" and "not allowed" in e.value.message("en")
    assert "不能采用处置“tolerate”" in e.value.message("zh")
    with pytest.raises(LandInputError) as e:
        decide(c, {"CF-NOPE": "withdraw_left"})
    assert re.search("CF-NOPE.* not in the conflict table", e.value.message("en"))
    d = decide(c, {cid: ("withdraw_right", "生态影响评估：调出红线")})
    assert d.loc[d["conflict_id"] == cid, "action"].iloc[0] == "withdraw_right"
    assert (c["action"] == "").sum() == (d["action"] == "").sum() + 1  # the input is not changed


def test_apply_removes_every_resolved_conflict(county):
    lines = _lines(county)
    c = detect_conflicts(lines)
    undecided = c[c["rule"] == "pbf_in_redline"]
    first, rest = undecided["conflict_id"].iloc[0], undecided["conflict_id"].iloc[1:]
    d = decide(c, {first: "withdraw_right", **{k: "withdraw_left" for k in rest}})
    res = apply_conflicts(lines, d)
    assert (res.conflicts["state"] == "resolved").all()
    again = detect_conflicts(res.lines)
    assert len(again) == 0, again[["rule", "left_id", "right_id", "area_m2"]]
    # areas: what each feature lost equals the union of its patches (checked with geopandas)
    for ch in res.changes.itertuples():
        gk = F.county()[f"gk:{ch.layer}"].set_index("id").geometry
        before = gk.loc[ch.feature]
        # areas are ellipsoidal (issue 11: one area function), of the same GK geometry
        assert ch.area_before_m2 == pytest.approx(ellipsoidal_area([before], F.EPSG)[0], rel=1e-9)
        after = res.lines[ch.layer].set_index("id").to_crs(F.EPSG).geometry.get(ch.feature)
        assert ch.area_after_m2 == pytest.approx(0.0 if after is None else ellipsoidal_area([after], F.EPSG)[0],
                                                 rel=1e-6, abs=1e-3)
    patches = d[d["action"].isin(["withdraw_left", "withdraw_right"])].to_crs(F.EPSG)
    target = np.where(patches["action"] == "withdraw_left", patches["left_layer"] + "/" + patches["left_id"],
                      patches["right_layer"] + "/" + patches["right_id"])
    expected = patches.geometry.groupby(target).agg(
        lambda g: ellipsoidal_area([shapely.union_all(g.to_numpy())], F.EPSG)[0])
    got = res.changes.set_index(res.changes["layer"] + "/" + res.changes["feature"])["area_removed_m2"]
    assert sorted(got.index) == sorted(expected.index)
    assert np.allclose(got.sort_index(), expected.sort_index(), rtol=1e-6)
    # the boundary lost less than the sum of its patches: farmland patches and red-line patches overlap
    udb = res.changes.loc[res.changes["layer"] == "urban_boundary", "area_removed_m2"].sum()
    assert udb < patches.loc[patches["left_layer"] == "urban_boundary", "area_m2"].sum()
    # untouched features keep their geometry object for object
    pbf_changed = set(res.changes.loc[res.changes["layer"] == "farmland_pbf", "feature"])
    orig = lines["farmland_pbf"].set_index("id").geometry
    new = res.lines["farmland_pbf"].set_index("id").geometry
    for fid in set(orig.index) - pbf_changed:
        assert new.loc[fid].equals_exact(orig.loc[fid], 0)
    assert all(f.is_valid.all() for f in res.lines.values())


def test_open_decisions_stay_open_and_carry_over(county):
    lines = _lines(county)
    c = detect_conflicts(lines)
    res = apply_conflicts(lines, c)
    open_ = res.conflicts[res.conflicts["state"] == "open"]
    assert set(open_["rule"]) == {"pbf_in_redline"}
    left = detect_conflicts(res.lines)
    assert set(left["rule"]) == {"pbf_in_redline"}
    cid = left["conflict_id"].iloc[0]
    decided = decide(left, {cid: ("withdraw_left", "退出")})
    rerun = detect_conflicts(res.lines, previous=decided)
    assert rerun.loc[rerun["conflict_id"] == cid, "action"].iloc[0] == "withdraw_left"
    assert rerun.loc[rerun["conflict_id"] == cid, "decision_reason"].iloc[0] == "退出"


def test_bad_lines(county):
    lines = _lines(county)
    lines["farmland_pbf"] = pd.concat([lines["farmland_pbf"], lines["farmland_pbf"].iloc[:1]])
    with pytest.raises(LandInputError) as e:
        detect_conflicts(lines)
    assert re.search("farmland_pbf.*used by more than one feature", e.value.message("en"))
    lines = _lines(county)
    lines["eco_redline"] = lines["eco_redline"].drop(columns="id")
    with pytest.raises(LandInputError) as e:
        detect_conflicts(lines)
    assert re.search("eco_redline.*missing field.*id", e.value.message("en"))
    assert "图层生态保护红线（eco_redline）缺少字段" in e.value.message("zh")
    with pytest.raises(LandInputError) as e:
        detect_conflicts({"roads": county["farmland_pbf"]})
    assert "unknown control-line layer 'roads'" in e.value.message("en")


def test_write_resolution_records_changes(county, tmp_path):
    ws = Workspace.create(tmp_path / "w.gpkg", county_code="511921", county_name="通江县", synthetic=True,
                          compute_epsg=F.EPSG)
    ws.create_scenario("s1")
    lines = _lines(county)
    c = detect_conflicts(lines, epsg=ws.meta.compute_epsg)
    write_conflicts(ws, "s1", c)
    wf.finalise_line(ws, "s1", "farmland_pbf")
    with pytest.raises(wf.WorkflowError, match="冲突"):  # open pbf/red line conflicts block the red line
        wf.finalise_line(ws, "s1", "eco_redline")
    d = decide(c, {k: "withdraw_left" for k in c.loc[c["rule"] == "pbf_in_redline", "conflict_id"]})
    res = apply_conflicts(lines, d, epsg=ws.meta.compute_epsg)
    status = write_resolution(ws, "s1", res, reason="2023 三线协调")
    # the farmland line changed: it went back to draft
    assert dict(zip(status["line"], status["status"]))["farmland_pbf"] == "draft"
    back = Workspace.open(ws.path)
    assert set(back.layers("s1")) >= {"conflict", "control_line_change", wf.STATUS_TABLE, *LINES}
    stored_lines = read_lines(back, "s1")
    assert set(stored_lines) == set(LINES)
    assert len(detect_conflicts(stored_lines, epsg=F.EPSG)) == 0  # what was stored is clean
    stored = back.read("conflict", "s1")
    assert (stored["state"] == "resolved").all() and list(stored["conflict_id"]) == list(d["conflict_id"])
    ch = back.read("control_line_change", "s1")
    assert ch["area_removed_m2"].sum() == pytest.approx(res.changes["area_removed_m2"].sum())
    audit = back.audit()
    last = audit[audit["command"] == "land resolve"]
    assert len(last) == len(LINES) + 3
    reason = last["reason"].iloc[0]
    assert reason.startswith("2023 三线协调: ") and "永久基本农田" in reason and "城镇开发边界" in reason
    some_id = res.changes["conflict_ids"].iloc[0].split(",")[0]
    assert some_id in reason
    # now the lines can be finalised in order again
    wf.finalise_line(back, "s1", "farmland_pbf")
    wf.finalise_line(back, "s1", "eco_redline")
    wf.finalise_line(back, "s1", "urban_boundary")
