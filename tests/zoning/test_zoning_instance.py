"""The zoning instance built once (pianqu.zoning.instance) on a small synthesised county (西区 510403):
it divides the county as the plan's former in-line recipe did, plan(write=False) leaves the
workspace byte for byte as it was, and the three former zone-polygon paths (the plan's zone
layer, the land analyses' zones, the service gaps' zones) give the same polygons as a plain
union of each zone's townships."""

import hashlib

import numpy as np
import pandas as pd
import pytest
import shapely

from pianqu.geo import zone_polygons
from pianqu.inputs import from_workspace as inputs_from_workspace
from pianqu.land.common import zone_polygons as land_zone_polygons
from pianqu.network.snap import seat_points
from pianqu.parcels import read_landuse
from pianqu.plan import plan
from pianqu.services.common import Zones
from pianqu.standards import policy_codes
from pianqu.synth import write_county
from pianqu.workspace import Workspace
from pianqu.zoning import adjacency
from pianqu.zoning import instance as zi
from pianqu.zoning.autop import auto_p
from pianqu.zoning.delineate import member_bounds_for
from pianqu.zoning.mergers import pre_merger_constraints

XIQU = "510403"  # 西区 (攀枝花): small, synthesised in seconds


@pytest.fixture(scope="module")
def xiqu(tmp_path_factory):
    path = tmp_path_factory.mktemp("xiqu") / f"{XIQU}.gpkg"
    return write_county(XIQU, path, seed=1)


@pytest.fixture(scope="module")
def inputs(xiqu):
    return inputs_from_workspace(xiqu)


def _former_recipe(ws, inputs):
    """What plan.py did in line before the instance existed (its units, rules and auto_p call)."""
    cfg = ws.config()
    t = inputs.townships.copy()
    t["code"] = t["code"].astype(str)
    s = inputs.settlements
    t["is_county_seat"] = t["code"].isin(set(s.loc[s["level"].astype(str) == "county_seat", "township_code"]))
    if inputs.facilities is not None:
        t["facilities"] = t["code"].map(inputs.facilities["township_code"].astype(str).value_counts()).fillna(0)
    lu = read_landuse(ws, ["code", "township_code", "area_m2", "czcsxm"])
    built = lu[lu["czcsxm"].astype(str).str[:3].isin(["201", "202"])]
    t["built_up_km2"] = t["code"].map(built.groupby("township_code")["area_m2"].sum() / 1e6).fillna(0.0)
    if inputs.economy is not None:
        eco = inputs.economy
        t["gdp_yi"] = t["code"].map(eco.groupby(eco["township_code"].astype(str))["output"].sum() / 1e4).fillna(0.0)
    seats = seat_points(s, t["code"], "town_seat", "township_code")
    T = inputs.travel_s(seats, seats)
    adj = adjacency(t, travel_s=T, config=cfg)
    cands = t.loc[t["kind"].astype(str).isin(["镇", "街道"]), "code"].tolist() or None
    bounds, relax = member_bounds_for("township", cfg)
    together, _ = pre_merger_constraints(t["code"], ws.meta.county_code, bool(cfg["zoning.keep_pre_merger_together"]))
    ap = auto_p(t, T, adjacency=adj, candidates=cands, time_limit=float(cfg["zoning.time_limit_s"]), config=cfg,
                member_bounds=bounds, relax_member_bounds=relax, keep_together=together)
    return t, T, cands, ap


def test_instance_divides_as_the_former_plan_recipe(xiqu, inputs):
    assert set(policy_codes("centre_candidate_kind")) == {"镇", "街道"}  # the recipe's literals
    assert set(policy_codes("built_up_czcsxm")) == {"201", "202"}
    units, T, cands, ap = _former_recipe(xiqu, inputs)
    inst = zi.from_workspace(xiqu, inputs=inputs)
    assert list(inst.units["code"]) == list(units["code"])
    for col in ("population", "is_county_seat", "built_up_km2", "facilities", "gdp_yi"):
        if col in units.columns:
            assert np.allclose(inst.units[col].astype(float), units[col].astype(float)), col
    assert np.array_equal(inst.travel_s, T)
    assert inst.candidates == cands
    result = zi.solve(inst, centre_rule="access")  # the former recipe chose centres by access alone
    assert ap.best is not None and result.p == ap.recommended
    pd.testing.assert_series_equal(result.assignment, ap.best.assignment)
    assert result.objective == pytest.approx(ap.best.objective)
    assert result.options is not None and list(result.options["p"]) == list(ap.table["p"])
    # the same p given: the same division; the frames the result gives
    again = zi.solve(inst, result.p, centre_rule="access")
    pd.testing.assert_series_equal(again.assignment, result.assignment)
    f = result.to_frame()
    pos = {c: i for i, c in enumerate(units["code"])}
    want = [T[pos[a], pos[b]] / 60 for a, b in zip(f["code"], f["centre"])]
    assert np.allclose(f["time_to_centre_min"], want) and (f.loc[f["is_centre"], "time_to_centre_min"] == 0).all()
    assert f["population"].sum() == units["population"].sum()


def _digest(path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(path.parent.iterdir())}


@pytest.fixture(scope="module")
def unwritten(xiqu, inputs):
    before = _digest(xiqu.path)
    result = plan(xiqu, "dry", write=False, inputs=inputs)
    return before, result


def test_plan_without_write_leaves_the_workspace_byte_identical(xiqu, unwritten):
    before, result = unwritten
    assert _digest(xiqu.path) == before
    assert "dry" not in set(xiqu.scenarios()["name"])
    assert result.zoning.feasible and {"zone", "zone_member", "plan_run"} <= set(result.layers)
    assert result.services is not None and result.land is not None and len(result.land["layers"]["conflict"]) >= 0


def test_written_plan_equals_the_unwritten_one(xiqu, unwritten, tmp_path):
    _, dry = unwritten
    path = tmp_path / "copy.gpkg"
    path.write_bytes(xiqu.path.read_bytes())
    ws = Workspace.open(path)
    wet = plan(ws, "wet", services_step=False, land_step=False)
    pd.testing.assert_series_equal(wet.zoning.assignment, dry.zoning.assignment)
    members = ws.read("zone_member", "wet")
    pd.testing.assert_frame_equal(pd.DataFrame(members).reset_index(drop=True),
                                  pd.DataFrame(dry.layers["zone_member"]).reset_index(drop=True), check_dtype=False)
    # ZoningResult.write stores the same zone layers on their own
    dry.zoning.write(ws, "only_zones")
    z = ws.read("zone", "only_zones")
    assert list(z["zone"]) == list(dry.layers["zone"]["zone"])
    assert np.allclose(z["population"], dry.layers["zone"]["population"])


def test_the_three_zone_polygon_paths_agree(xiqu, unwritten):
    _, result = unwritten
    townships = xiqu.read("township")
    members = result.layers["zone_member"]
    epsg = xiqu.meta.compute_epsg
    plan_zones = result.layers["zone"].set_index("zone")  # the plan's zone layer (EPSG:4490)
    land = land_zone_polygons(townships=townships, mapping=members, epsg=epsg).to_crs(4490).set_index("zone")
    zones = Zones.from_frame(members, code="township_code", zone="zone", is_centre="is_centre")
    services = zone_polygons(townships.to_crs(4490), zones.township_zone).set_index("zone")  # facility_gaps' path
    assert list(plan_zones.index) == list(land.index) == list(services.index) == sorted(members["zone"].unique())
    proj = townships.to_crs(epsg)
    for zone, group in members.groupby("zone"):
        # independent: GEOS union of the member townships, in the computing CRS
        truth = shapely.union_all(proj[proj["code"].isin(group["township_code"])].geometry.to_numpy())
        for name, frame in (("plan", plan_zones), ("land", land), ("services", services)):
            g = frame.loc[[zone]].set_crs(4490, allow_override=True).to_crs(epsg).geometry.iloc[0]
            diff = shapely.symmetric_difference(g, truth).area
            assert diff <= 1e-6 * truth.area, (name, zone, diff / truth.area)
    assert shapely.equals_exact(plan_zones.geometry.to_numpy(), services.geometry.to_numpy(), 0.0).all()
