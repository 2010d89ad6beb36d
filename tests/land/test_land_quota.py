"""Quota allocation: exact sums, feasible units, optimum checked with an independently written LP (scipy),
infeasibility explained by indicator and unit."""

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

import land_fixtures as F
from pianqu.geo import ellipsoidal_area
from pianqu.land.common import LandInputError
from pianqu.land.quota import CAP_COLUMN, allocate_quotas, area_table, check_allocation, unit_capacities


@pytest.fixture(scope="module")
def caps():
    c = F.county()
    t = c["township"].rename(columns={"code": "unit"})
    return unit_capacities(c["landuse"], t, lines={k: c[k] for k in ("farmland_pbf", "eco_redline")}, epsg=F.EPSG)


def _targets(cap, **scale):
    tot = cap.sum()
    base = {"farmland": tot.farmland_m2 * 0.97, "pbf": tot.pbf_m2, "redline": tot.redline_m2 * 1.05,
            "construction": tot.construction_m2 * 1.1, "urban_rural": tot.urban_rural_m2 * 1.05,
            "village": tot.village_m2 * 0.98}
    base.update({k: tot[f"{k}_m2"] * v for k, v in scale.items()})
    return base


def _reference_objective(cap, targets, base):
    """The model as the quota docstring states it, written independently (dense, scipy's linprog)."""
    from scipy.optimize import linprog

    U, I = list(cap.index), list(targets)
    n, k = len(U), len(I)
    nv = 3 * n * k  # x, d+, d-
    X = lambda u, i: I.index(i) * n + u  # noqa: E731
    c = np.zeros(nv)
    A_eq, b_eq, A_ub, b_ub = [], [], [], []
    for i in I:
        for u in range(n):
            c[n * k + X(u, i)] = c[2 * n * k + X(u, i)] = 1.0 / targets[i]
            row = np.zeros(nv)
            row[X(u, i)], row[n * k + X(u, i)], row[2 * n * k + X(u, i)] = 1, -1, 1
            A_eq.append(row)
            b_eq.append(base.iat[u, I.index(i)])
        row = np.zeros(nv)
        row[[X(u, i) for u in range(n)]] = 1
        A_eq.append(row)
        b_eq.append(targets[i])

    def le(terms, rhs):
        row = np.zeros(nv)
        for (u, i), v in terms:
            row[X(u, i)] += v
        A_ub.append(row)
        b_ub.append(rhs)

    for u in range(n):
        le([((u, "farmland"), 1)], cap["farmland_m2"].iat[u])
        le([((u, "pbf"), 1)], cap["farmland_m2"].iat[u])
        le([((u, "pbf"), 1), ((u, "farmland"), -1)], 0)
        le([((u, "redline"), 1)], cap["redline_cap_m2"].iat[u])
        le([((u, "village"), 1)], cap["village_m2"].iat[u])
        le([((u, "village"), 1), ((u, "urban_rural"), -1)], 0)
        le([((u, "urban_rural"), 1), ((u, "construction"), -1)], 0)
        le([((u, "farmland"), 1), ((u, "redline"), 1), ((u, "construction"), 1)], cap["area_m2"].iat[u])
    res = linprog(c, A_ub=np.array(A_ub), b_ub=b_ub, A_eq=np.array(A_eq), b_eq=b_eq, bounds=(0, None),
                  method="highs-ipm")
    assert res.status == 0
    return res.fun


def test_capacities_against_geopandas(caps):
    c = F.county()
    lu, t = c["gk:landuse"], c["gk:township"]
    ov = gpd.overlay(lu[["code", "czcsxm", "geometry"]], t[["code", "geometry"]].rename(columns={"code": "unit"}),
                     how="intersection", keep_geom_type=True)
    ov["a"] = ellipsoidal_area(ov.geometry.to_numpy(), F.EPSG)  # areas are ellipsoidal (issue 11)
    farm = ov[ov["code"].str[:2] == "01"].groupby("unit")["a"].sum()
    vil = ov[(ov["czcsxm"] == "203") & ov["code"].str[:2].isin([f"{k:02d}" for k in range(7, 17)])].groupby("unit")["a"].sum()
    assert np.allclose(caps["farmland_m2"], farm.reindex(caps.index, fill_value=0), rtol=1e-6)
    assert np.allclose(caps["village_m2"], vil.reindex(caps.index, fill_value=0), rtol=1e-6)
    pbf = gpd.overlay(t[["code", "geometry"]], gpd.GeoDataFrame(geometry=[c["gk:farmland_pbf"].union_all()], crs=F.EPSG),
                      how="intersection", keep_geom_type=True)
    assert np.allclose(caps["pbf_m2"], pd.Series(ellipsoidal_area(pbf.geometry.to_numpy(), F.EPSG), index=pbf["code"]).reindex(caps.index, fill_value=0),
                       rtol=1e-6, atol=1e-6)
    assert caps["area_m2"].sum() == pytest.approx(ellipsoidal_area(lu.geometry.to_numpy(), F.EPSG).sum(), rel=1e-9)
    assert (caps["redline_cap_m2"] >= caps["redline_m2"] - 1e-6).all()


def test_feasible_allocation_is_exact_and_optimal(caps):
    targets = _targets(caps)
    r = allocate_quotas(caps, targets)
    assert r.feasible and r.explanation == []
    assert check_allocation(caps, r.allocation, targets) == []
    for ind, target in targets.items():  # sums exact
        assert r.allocation[ind].sum() == pytest.approx(target, rel=1e-9)
    assert r.objective == pytest.approx(_reference_objective(caps, targets, r.baseline), rel=1e-6, abs=1e-9)
    tab = area_table(r.allocation)
    assert np.allclose(tab["farmland_ha"] * 1e4, r.allocation["farmland"])
    assert len(r.table()) == len(caps) * len(targets)


def test_baseline_reached_when_it_is_feasible(caps):
    """Targets equal to what units have today: the proportional baseline is itself feasible: zero deviation."""
    tot = caps.sum()
    targets = {"farmland": tot.farmland_m2, "village": tot.village_m2, "construction": tot.construction_m2,
               "urban_rural": tot.urban_rural_m2}
    r = allocate_quotas(caps, targets)
    assert r.feasible and r.objective == pytest.approx(0.0, abs=1e-7)
    assert np.allclose(r.allocation["farmland"], caps["farmland_m2"], rtol=1e-9)


def test_target_above_capacity_is_explained(caps):
    targets = _targets(caps, farmland=1.02)
    r = allocate_quotas(caps, targets)
    assert r.status == "infeasible"
    gap = targets["farmland"] - caps["farmland_cap_m2"].sum()
    assert r.shortfall["farmland"] == pytest.approx(gap, rel=1e-6)
    assert all(abs(v) < 1e-6 * targets[k] for k, v in r.shortfall.items() if k != "farmland")
    head = r.explanation[0]
    assert head.rule == "land.quota.target_unreachable" and head.params["indicator"] == "farmland"
    assert head.params["gap_ha"] == pytest.approx(gap / 1e4, rel=1e-6)
    at_cap = {f.feature for f in r.explanation if f.rule == "land.quota.unit_at_capacity"}
    assert at_cap == set(caps.index)  # every unit must be at its cultivated land
    msg = head.message("zh")
    assert "耕地" in msg or "farmland" in msg
    assert "缺口" in msg and f"{gap / 1e4:,.4f}" in msg


def test_coupled_infeasibility_names_the_land_budget():
    """Each indicator fits alone, together they exceed one unit's area."""
    cap = pd.DataFrame({"area_m2": [100.0, 100.0], "farmland_m2": [90.0, 10.0], "farmland_cap_m2": [90.0, 10.0],
                        "redline_cap_m2": [10.0, 90.0], "redline_m2": [5.0, 80.0], "construction_m2": [5.0, 5.0]},
                       index=pd.Index(["A", "B"], name="unit"))
    targets = {"farmland": 100.0, "redline": 100.0, "construction": 20.0}  # 220 > 200 of land
    r = allocate_quotas(cap, targets)
    assert r.status == "infeasible"
    assert sum(r.shortfall.values()) == pytest.approx(20.0, rel=1e-6)
    rules = {f.rule for f in r.explanation}
    assert "land.quota.binding_land_budget" in rules
    budget_units = {f.feature for f in r.explanation if f.rule == "land.quota.binding_land_budget"}
    assert budget_units == {"A", "B"}


def test_bad_targets(caps):
    with pytest.raises(LandInputError) as e:
        allocate_quotas(caps, {"forest": 1.0})
    assert "unknown indicator" in e.value.message("en") and "forest" in e.value.message("zh")
    with pytest.raises(LandInputError) as e:
        allocate_quotas(caps, {"farmland": -5.0})
    assert "non-negative" in e.value.message("en")
    assert set(CAP_COLUMN) <= {"farmland", "pbf", "redline", "village"}


def test_township_allocation_sums_to_zones(caps):
    """Allocated per township, summed per zone: both levels exact."""
    zone_of = dict(zip(F.county()["zone_member"]["code"], F.county()["zone_member"]["zone"]))
    targets = _targets(caps)
    r = allocate_quotas(caps, targets)
    z = r.aggregate(zone_of)
    assert list(z.index) == ["Z1", "Z2", "Z3"]
    for ind, target in targets.items():
        assert z[ind].sum() == pytest.approx(target, rel=1e-9)
    with pytest.raises(LandInputError) as e:
        r.aggregate({k: v for k, v in list(zone_of.items())[1:]})
    assert "no parent" in e.value.message("en")


def test_village_rule(caps):
    tot = caps.sum()
    # one unit would need more village land than it has: 'unit' refuses, 'county' moves it (增减挂钩)
    base = pd.DataFrame({"village": caps["village_m2"] * 0.0}, index=caps.index)
    base.iloc[0, 0] = tot.village_m2 * 0.5  # a baseline asking unit 0 to carry half of the county
    targets = {"village": tot.village_m2 * 0.9, "urban_rural": tot.urban_rural_m2, "construction": tot.construction_m2}
    full = base.assign(urban_rural=caps["urban_rural_m2"], construction=caps["construction_m2"])
    per_unit = allocate_quotas(caps, targets, baseline=full)
    county = allocate_quotas(caps, targets, baseline=full, village_rule="county")
    assert per_unit.feasible and county.feasible
    assert per_unit.allocation["village"].iloc[0] <= caps["village_m2"].iloc[0] * (1 + 1e-9)
    assert county.allocation["village"].iloc[0] > caps["village_m2"].iloc[0]  # moved in from other units
    assert county.objective < per_unit.objective
    assert county.allocation["village"].sum() == pytest.approx(targets["village"], rel=1e-9)
    grow = allocate_quotas(caps, {"village": tot.village_m2 * 1.01})
    assert grow.status == "infeasible" and grow.explanation[0].rule == "land.quota.village_net_increase"
    assert "不得净增加" in grow.explanation[0].message("zh")
