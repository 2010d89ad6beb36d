"""The synthetic later land-use epoch (issue 6): two epochs in one workspace that validate clean,
and change detection that tickets every illegal conversion and none of the approved ones —
checked against an independent geopandas overlay, not against anything the generator wrote."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from pianqu.land.common import broad_class
from pianqu.land.epochs import detect_changes
from pianqu.parcels import select_epoch
from pianqu.schema import LAYERS
from pianqu.synth import epoch as synth_epoch
from pianqu.synth import synth_config, write_county
from pianqu.validate import validate_workspace

XIQU = "510403"  # 西区: small (≈2 300 parcels), and with seed 1 its later epoch has a new road


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    return write_county(XIQU, tmp_path_factory.mktemp("epoch") / "xiqu.gpkg", seed=1)


@pytest.fixture(scope="module")
def regenerated(ws):
    """The later epoch made again from the workspace's base layers (same seed): the truth of what
    was planted, held in memory only."""
    layers = {name: ws.read(name) for name in ("landuse", "settlement", "farmland_pbf", "eco_redline",
                                               "urban_boundary", "township")}
    layers["landuse"] = select_epoch(layers["landuse"], 2023)
    return synth_epoch.second_epoch(layers, 1, XIQU, ws.meta.compute_epsg, ws.config())


def test_two_epochs_in_one_layer_validate_clean(ws):
    assert ws.meta.epochs == (2023, 2025)
    lu = ws.read("landuse")
    counts = lu.groupby("epoch").size()
    assert set(counts.index) == {2023, 2025} and abs(counts[2025] - counts[2023]) < 0.2 * counts[2023]
    for name in ("approvals", "reserve", "projects"):
        frame = ws.read(name)
        assert len(frame) and [c for c in frame.columns if c != "geometry"] == LAYERS[name].field_names, name
    findings = validate_workspace(ws)
    assert not [f for f in findings if f.severity == "error"], [f.message() for f in findings][:5]
    # each epoch tiles the county on its own: no overlap, gap or duplicate id across epochs is reported
    assert not [f for f in findings if f.layer == "landuse" and f.severity != "info"], \
        [(f.rule, f.message()) for f in findings if f.layer == "landuse"][:5]
    # same area in both epochs (the later one is a re-cut of the same land)
    a = lu.groupby("epoch")["area_m2"].sum()
    assert abs(a[2025] - a[2023]) < 1e-6 * a[2023]


def _expected_tickets(lu: gpd.GeoDataFrame, approvals: gpd.GeoDataFrame, pbf: gpd.GeoDataFrame, epsg: int,
                      sliver: float) -> set[tuple[str, str]]:
    """Farmland (or any land inside permanent basic farmland) that became construction land,
    minus the approval polygons, pieces ≥ the sliver area — a plain geopandas overlay in GK."""
    before = lu[lu["epoch"] == 2023].to_crs(epsg)[["bsm", "code", "geometry"]]
    after = lu[lu["epoch"] == 2025].to_crs(epsg)[["bsm", "code", "geometry"]]
    conv = gpd.overlay(before, after, how="intersection", keep_geom_type=True)  # bsm_1/code_1 before, _2 after
    conv = conv[(broad_class(conv["code_2"]) == "construction").to_numpy()
                & (broad_class(conv["code_1"]) != "construction").to_numpy()]
    farm = conv["code_1"].str[:2] == "01"
    pbf_u = pbf.to_crs(epsg).union_all()
    watched = np.where(farm, conv.geometry.to_numpy(), shapely.intersection(conv.geometry.to_numpy(), pbf_u))
    rest = shapely.difference(watched, approvals.to_crs(epsg).union_all())
    keep = shapely.area(rest) >= sliver
    return set(zip(conv["bsm_1"][keep], conv["bsm_2"][keep]))


def test_every_illegal_conversion_ticketed_and_no_approved_one(ws, regenerated):
    lu = ws.read("landuse")
    approvals, pbf = ws.read("approvals"), ws.read("farmland_pbf")
    cfg = synth_config(ws.config())
    res = detect_changes(lu, approvals=approvals, farmland_pbf=pbf, epsg=ws.meta.compute_epsg, cfg=cfg)
    assert (res.before, res.after) == (2023, 2025)
    got = set(zip(res.tickets["bsm_before"], res.tickets["bsm_after"]))
    expected = _expected_tickets(lu, approvals, pbf, ws.meta.compute_epsg, float(cfg["land.change_sliver_m2"]))
    assert got == expected and len(got) >= 4
    # against what was planted (regenerated in memory, never stored)
    planted = regenerated.planted
    assert (planted["process"] == "road").any() and (planted["process"] == "town").sum() >= 3
    ticketed = set(res.tickets["bsm_before"])
    illegal = planted[planted["approved"].isin(["no", "part"])]
    assert len(illegal) >= 4 and set(illegal["bsm_before"]) <= ticketed
    approved = planted[planted["approved"] == "yes"]
    assert len(approved) >= 5 and not (set(approved["bsm_before"]) & ticketed)
    # distractors: 退耕还林 and 复垦 are in the matrix but never tickets
    for proc in ("farmland_to_forest", "homestead_reclaimed"):
        assert not set(planted.loc[planted["process"] == proc, "bsm_before"]) & ticketed
    # illegal ones lie far from every approval: the planted truth is not readable from the approvals
    far = float(cfg["synth.epoch_illegal_min_distance_m"])
    ill = lu[lu["bsm"].isin(set(planted.loc[planted["approved"] == "no", "bsm_before"]))].to_crs(ws.meta.compute_epsg)
    assert (ill.distance(approvals.to_crs(ws.meta.compute_epsg).union_all()) > 0.99 * far).all()
    # the transition matrix adds up to the overlaid area and shows farmland going to construction
    m = res.matrix
    assert abs(m.loc["total", "total"] - res.pieces["area_m2"].sum() / 1e4) < 1e-9 * m.loc["total", "total"]
    assert m.loc["01", [c for c in m.columns if c not in ("01", "total") and "07" <= c <= "16"]].sum() > 0
    assert len(res.outflow) and (res.outflow["code_before"].str[:2] == "01").all()


def test_regenerated_epoch_equals_written(ws, regenerated):
    """Deterministic by seed: the later epoch made again from the stored base epoch is the stored one."""
    stored = ws.read("landuse")
    stored = stored[stored["epoch"] == 2025].sort_values("bsm").reset_index(drop=True)
    again = regenerated.landuse.sort_values("bsm").reset_index(drop=True)
    assert list(stored["bsm"]) == list(again["bsm"]) and list(stored["code"]) == list(again["code"])
    assert shapely.equals_exact(stored.geometry.to_numpy(), again.geometry.to_numpy(), tolerance=0).all()
    ap = ws.read("approvals")
    assert list(ap["approval_no"]) == list(regenerated.approvals["approval_no"])


def test_reserve_and_projects(ws):
    from pianqu.land import check_siting, detect_conflicts, read_lines

    epsg = ws.meta.compute_epsg
    conflicts = detect_conflicts(read_lines(ws), epsg=epsg, cfg=ws.config())
    assert not conflicts["rule"].astype(str).str.startswith("reserve_").any()  # 留白 clear of PBF and red line
    base = select_epoch(ws.read("landuse"))
    constr = base[(broad_class(base["code"]) == "construction").to_numpy()]["area_m2"].sum()
    assert ws.read("reserve")["area_m2"].sum() <= float(ws.config()["land.reserve_quota_max_share"]) * constr
    projects = ws.read("projects")
    res = check_siting(projects, {"eco_redline": ws.read("eco_redline"), "farmland_pbf": ws.read("farmland_pbf"),
                                  "urban_boundary": ws.read("urban_boundary")}, epsg=epsg, cfg=ws.config())
    v = res.verdicts.set_index("name")["verdict"]
    water = res.verdicts.set_index("name")["id"]["水库工程"]
    rules = set(res.details.loc[res.details["project_id"] == water, "rule"])
    assert rules & {"redline_major", "redline_core"} and v["水库工程"] != "allowed"  # placed on the red line's edge
    assert v["产业园区"] in ("restricted", "prohibited")  # straddles the development boundary


@pytest.mark.parametrize("name, target", [("approvals", "approvals"), ("农用地转用审批", "approvals"),
                                          ("留白用地", "reserve"), ("projects", "projects"),
                                          ("三线一单环境管控单元", "projects")])
def test_import_recognises_the_new_layers(name, target, tmp_path):
    from pianqu.ingest.mapping import match_layer
    from pianqu.ingest.readers import SourceLayer

    src = SourceLayer(tmp_path / f"{name}.shp", name, "vector", "ESRI Shapefile", ("ID",), "Polygon")
    assert match_layer(src).target == target


def test_plan_land_and_report_show_the_change(ws, tmp_path):
    """plan_land runs change detection (two epochs + approvals) and plans on the base epoch only;
    the report's land section shows the matrix, the outflow and every ticket (zh by default)."""
    import os

    os.environ.setdefault("MPLCONFIGDIR", "/work/main/.cache/matplotlib")
    from pianqu.geo import ellipsoidal_area
    from pianqu.plan import plan_land
    from pianqu.report import write_report

    tw = ws.read("township")
    zones = gpd.GeoDataFrame({"zone": tw["code"].astype(str)}, geometry=tw.geometry.to_numpy(), crs=tw.crs)
    ws.create_scenario("plan", replace=True)
    out = plan_land(ws, "plan", zones)
    res = detect_changes(ws.read("landuse"), approvals=ws.read("approvals"), farmland_pbf=ws.read("farmland_pbf"),
                         epsg=ws.meta.compute_epsg, cfg=ws.config())
    stored = ws.read("land_tickets", "plan")
    assert sorted(stored["ticket_id"]) == sorted(res.tickets["ticket_id"]) and len(stored) >= 4
    assert len([f for f in out["findings"] if f.rule == "land.change.violation"]) == len(stored)
    tr = ws.read("land_transition", "plan").set_index("before")
    assert abs(tr.loc["total", "total"] - res.matrix.loc["total", "total"]) < 1e-9 * tr.loc["total", "total"]
    # the three spaces partition the county once (the base epoch), not twice
    county_m2 = ellipsoidal_area(ws.read("county")).sum()
    space_m2 = ellipsoidal_area(ws.read("space", "plan")).sum()
    assert abs(space_m2 - county_m2) < 1e-3 * county_m2
    html = write_report(ws, tmp_path / "r", scenario="plan", sections=["land"]).read_text(encoding="utf-8")
    assert "地类转移矩阵" in html and "耕地流出清单" in html and "违法占用耕地线索" in html
    for tid in stored["ticket_id"]:
        assert tid in html
