"""Change detection on a second epoch with planted conversions: every illegal one ticketed,
none of the approved ones; transition matrix checked with geopandas."""

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

import land_fixtures as F
from pianqu.land.change import (change_pieces, farmland_outflow, simulate_epoch, transition_matrix,
                                violation_tickets)


@pytest.fixture(scope="module")
def epochs():
    lu = F.county()["landuse"]
    after, approvals, truth = simulate_epoch(lu, seed=11, n_conversions=60, approvals_share=0.4)
    return lu, after, approvals, truth


def test_simulated_epoch(epochs):
    lu, after, approvals, truth = epochs
    assert len(truth) == 60 and truth["approved"].sum() == 24 and len(approvals) == 24
    assert truth["partial"].sum() == 30
    assert (after["epoch"] == 2021).all() and after["bsm"].is_unique
    # the new epoch still tiles the county
    gk = after.to_crs(F.EPSG)
    assert gk.area.sum() == pytest.approx(lu.to_crs(F.EPSG).area.sum(), rel=1e-9)
    assert gk.is_valid.all()
    # deterministic
    a2, _, t2 = simulate_epoch(lu, seed=11, n_conversions=60, approvals_share=0.4)
    assert list(t2["bsm_after"]) == list(truth["bsm_after"]) and a2.geometry.equals(after.geometry)


def test_every_illegal_conversion_is_ticketed(epochs):
    lu, after, approvals, truth = epochs
    pieces = change_pieces(lu, after)
    tickets = violation_tickets(pieces, approvals=approvals, farmland_pbf=F.county()["farmland_pbf"])
    illegal = truth[~truth["approved"]]
    assert set(zip(tickets["bsm_before"], tickets["bsm_after"])) == set(zip(illegal["bsm_before"], illegal["bsm_after"]))
    got = tickets.set_index("bsm_after")["area_m2"]
    assert np.allclose(got.loc[illegal["bsm_after"]], illegal["area_m2"], rtol=1e-6)
    assert (tickets["approved_area_m2"].abs() < 1e-3).all() and (tickets["severity"] == "error").all()
    assert tickets["ticket_id"].is_unique and tickets.crs.to_epsg() == 4490
    # stable ids
    again = violation_tickets(change_pieces(lu, after), approvals=approvals, farmland_pbf=F.county()["farmland_pbf"])
    assert list(again["ticket_id"]) == list(tickets["ticket_id"])
    # the in_pbf flag agrees with geopandas
    pbf = F.county()["gk:farmland_pbf"].union_all()
    for t in tickets.to_crs(F.EPSG).itertuples():
        assert t.in_pbf == (t.geometry.intersection(pbf).area >= 1.0)


def test_approvals_as_a_table_and_none(epochs):
    lu, after, approvals, truth = epochs
    pieces = change_pieces(lu, after)
    table = pd.DataFrame({"approval_id": [f"A{k}" for k in range(truth["approved"].sum())],
                          "bsm": truth.loc[truth["approved"], "bsm_after"].to_numpy()})
    t = violation_tickets(pieces, approvals=table)
    assert set(t["bsm_after"]) == set(truth.loc[~truth["approved"], "bsm_after"])
    everything = violation_tickets(pieces, approvals=None)
    assert set(everything["bsm_after"]) == set(truth["bsm_after"])


def test_partial_approval_leaves_the_rest_ticketed(epochs):
    lu, after, approvals, truth = epochs
    pieces = change_pieces(lu, after)
    ap = approvals.to_crs(F.EPSG)
    k = 0
    g = ap.geometry.iloc[k]
    minx, miny, maxx, maxy = g.bounds
    half = g.intersection(shapely.box(minx, miny, (minx + maxx) / 2, maxy))
    ap.loc[ap.index[k], "geometry"] = half
    t = violation_tickets(pieces, approvals=ap.to_crs(4490))
    bsm = truth.loc[truth["approved"], "bsm_after"].iloc[k]
    row = t[t["bsm_after"] == bsm]
    assert len(row) == 1
    assert row["area_m2"].iloc[0] == pytest.approx(g.area - half.area, rel=1e-6)
    assert row["approved_area_m2"].iloc[0] == pytest.approx(half.area, rel=1e-6)
    assert row["approval_ids"].iloc[0] == ap["approval_id"].iloc[k]


def test_non_farmland_inside_pbf_is_watched():
    c = F.county()
    lu = c["landuse"].copy()
    pbf = c["gk:farmland_pbf"].union_all()
    gk = lu.to_crs(F.EPSG)
    inside = gk.geometry.within(pbf).to_numpy() & (lu["code"].str[:2] == "01").to_numpy()
    k = int(np.flatnonzero(inside)[0])
    lu.loc[k, "code"] = "0201"  # an orchard inside the PBF in the base epoch
    after = lu.copy()
    after.loc[k, ["bsm", "code"]] = ["NEW1", "1001"]
    pieces = change_pieces(lu, after)
    t = violation_tickets(pieces, farmland_pbf=c["farmland_pbf"])
    assert list(t["bsm_after"]) == ["NEW1"] and bool(t["in_pbf"].iloc[0])
    assert violation_tickets(pieces).empty  # without the PBF the orchard is not watched


def test_transition_matrix_against_geopandas(epochs):
    lu, after, approvals, truth = epochs
    pieces = change_pieces(lu, after)
    assert pieces["unchanged_geometry"].sum() > 0.9 * len(lu)
    m = transition_matrix(pieces, level=1)
    total = lu.to_crs(F.EPSG).area.sum() / 1e4
    assert m.loc["total", "total"] == pytest.approx(total, rel=1e-9)
    inner = m.drop(index="total", columns="total")
    assert np.allclose(inner.sum(axis=1), m["total"].drop("total"))
    assert np.allclose(inner.sum(axis=0), m.loc["total"].drop("total"))
    ref = gpd.overlay(lu.to_crs(F.EPSG)[["code", "geometry"]], after.to_crs(F.EPSG)[["code", "geometry"]],
                      how="intersection", keep_geom_type=True)
    ref["a"] = ref.area / 1e4
    r = ref.assign(b=ref["code_1"].str[:2], f=ref["code_2"].str[:2]).pivot_table(index="b", columns="f", values="a",
                                                                                  aggfunc="sum", fill_value=0.0)
    assert np.allclose(inner.reindex(index=r.index, columns=r.columns), r, rtol=1e-6, atol=1e-6)
    # farmland to construction in the matrix = the planted conversions
    conv = inner.loc["01", [c for c in inner.columns if "07" <= c <= "16"]].sum()
    assert conv == pytest.approx(truth["area_m2"].sum() / 1e4, rel=1e-6)
    cls = transition_matrix(pieces, level="class", unit="mu")
    assert cls.loc["total", "total"] == pytest.approx(total * 15, rel=1e-9)


def test_farmland_outflow(epochs):
    lu, after, approvals, truth = epochs
    out = farmland_outflow(change_pieces(lu, after))
    conv = out[out["class_after"] == "construction"]
    assert set(conv["bsm_after"]) == set(truth["bsm_after"])
    forest = out[out["code_after"] == "0301"]
    assert len(forest) == 15  # the planted 退耕还林 distractors (half of n/2)
    assert out["area_m2"].is_monotonic_decreasing
