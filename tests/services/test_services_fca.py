"""2SFCA and Gaussian E2SFCA with capacities equal PySAL access to 1e-9 on the same inputs
(random instances with unreachable pairs, and the default county's travel times); per-point
catchments against a loop; supply is conserved; pairs input equals the dense matrix."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from pianqu.services import ServicesInputError, fca, gaussian_e2sfca, service_fca, two_sfca
from pianqu.services.coverage import service_limits

pytest.register_assert_rewrite("services_fixtures")
import services_fixtures as SF  # noqa: E402,F401

pytest_plugins = ["services_fixtures"]

import access  # noqa: E402  (a test dependency: pyproject [test])


def pysal(P, S, C, *, max_cost, weight_fn=None):
    """PySAL access on the same inputs: pairs with finite cost, demand/supply indexed by position."""
    n, m = C.shape
    i, j = np.nonzero(np.isfinite(C))
    cost = pd.DataFrame({"origin": i, "dest": j, "cost": C[i, j]})
    dem = pd.DataFrame({"geoid": np.arange(n), "pop": P})
    sup = pd.DataFrame({"geoid": np.arange(m), "cap": S})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        A = access.Access(demand_df=dem, demand_index="geoid", demand_value="pop", supply_df=sup,
                          supply_index="geoid", supply_value="cap", cost_df=cost, cost_origin="origin",
                          cost_dest="dest", cost_name="cost")
        if weight_fn is None:
            r = A.two_stage_fca(name="x", max_cost=max_cost)
        else:
            r = A.enhanced_two_stage_fca(name="x", max_cost=max_cost, weight_fn=weight_fn)
    return r["x_cap"].reindex(np.arange(n)).to_numpy()


def instance(seed: int, n: int = 300, m: int = 40):
    rng = np.random.default_rng(seed)
    P = rng.integers(50, 5000, n).astype(float)
    S = rng.integers(1, 200, m).astype(float)
    C = rng.gamma(2.0, 900.0, (n, m))
    C[rng.random((n, m)) < 0.3] = np.inf  # unreachable
    C[0, :] = np.inf  # a point no facility reaches
    return P, S, C


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_2sfca_equals_pysal_access(seed):
    P, S, C = instance(seed)
    got = two_sfca(P, S, C, max_cost=1800.0)
    want = pysal(P, S, C, max_cost=1800.0)
    # access leaves points with no facility in reach NaN; pianqu gives 0 and reached=False
    assert np.array_equal(np.isnan(want), ~got.reached)
    assert np.nanmax(np.abs(got.access - np.nan_to_num(want))) <= 1e-9
    assert (got.access > 0).sum() > 0.8 * len(P)


@pytest.mark.parametrize("sigma", [300.0, 900.0])
def test_gaussian_e2sfca_equals_pysal_access(sigma):
    P, S, C = instance(7)
    got = gaussian_e2sfca(P, S, C, max_cost=2400.0, sigma=sigma)
    want = pysal(P, S, C, max_cost=2400.0, weight_fn=access.weights.gaussian(sigma))
    assert np.nanmax(np.abs(got.access - np.nan_to_num(want))) <= 1e-9
    assert np.nanmax(np.abs(got.access - np.nan_to_num(want)) / np.where(want > 0, want, 1)) <= 1e-9


def test_step_e2sfca_equals_pysal_access():
    P, S, C = instance(3)
    steps = {600.0: 1.0, 1200.0: 0.68, 1800.0: 0.22}
    got = fca(P, S, C, max_cost=np.inf, weight=steps)
    want = pysal(P, S, C, max_cost=None, weight_fn=access.weights.step_fn(steps))
    assert np.nanmax(np.abs(got.access - np.nan_to_num(want))) <= 1e-9


def test_supply_is_conserved_and_pairs_equal_dense():
    P, S, C = instance(5)
    r = two_sfca(P, S, C, max_cost=2000.0)
    # uniform weights: Σ_i P_i A_i = Σ of the supply of facilities whose catchment holds people
    assert np.sum(P * r.access) == pytest.approx(S[r.demand_in_catchment > 0].sum(), rel=1e-12)
    i, j = np.nonzero(np.isfinite(C))
    r2 = two_sfca(P, S, (i, j, C[i, j]), max_cost=2000.0)
    assert np.array_equal(r.access, r2.access) and r.pairs == r2.pairs


def test_per_point_catchment_against_a_loop():
    P, S, C = instance(11, n=60, m=9)
    lim = np.where(np.arange(60) % 3 == 0, 1200.0, 2500.0)  # mountain villages allow longer trips
    r = fca(P, S, C, max_cost=lim, weight="gaussian", sigma=1000.0)
    w = lambda c: np.exp(-c * c / (2 * 1000.0 ** 2))  # noqa: E731
    D = np.zeros(9)
    for a in range(60):
        for b in range(9):
            if C[a, b] <= lim[a]:
                D[b] += P[a] * w(C[a, b])
    R = np.where(D > 0, S / np.where(D > 0, D, 1), 0)
    A = np.array([sum(R[b] * w(C[a, b]) for b in range(9) if C[a, b] <= lim[a]) for a in range(60)])
    assert np.allclose(r.access, A, rtol=1e-12, atol=0)


def test_bad_input():
    P, S, C = instance(0, n=5, m=3)
    with pytest.raises(ServicesInputError, match="expected"):
        two_sfca(P, S, C[:, :2], max_cost=1.0)
    with pytest.raises(ServicesInputError, match=r"supply\[1\]"):
        two_sfca(P, np.array([1.0, -2.0, 3.0]), C, max_cost=1.0)
    with pytest.raises(ServicesInputError, match="sigma"):
        fca(P, S, C, max_cost=1.0, weight="gaussian")
    with pytest.raises(ServicesInputError, match="unknown weight"):
        fca(P, S, C, max_cost=1.0, weight="cubic")


def test_default_county_ratios_equal_pysal(default_county, default_analysis):
    """The county's real drive times (villages × health facilities) through both libraries."""
    from pianqu.services import travel_costs

    layers, zones, graph = default_county
    a = default_analysis
    fac = a.facilities
    sel = np.flatnonzero(fac["kind"].isin(["health_centre", "central_health_centre"]).to_numpy())
    C = travel_costs(a.demand, fac.iloc[sel], graph=graph, modes=["drive"])["drive"]
    P = a.demand["population"].to_numpy(float)
    S = fac.iloc[sel]["capacity"].to_numpy(float)
    for max_cost, sigma in ((1800.0, None), (2700.0, 1350.0)):
        got = (two_sfca(P, S, C, max_cost=max_cost) if sigma is None
               else gaussian_e2sfca(P, S, C, max_cost=max_cost, sigma=sigma))
        want = pysal(P, S, C, max_cost=max_cost,
                     weight_fn=None if sigma is None else access.weights.gaussian(sigma))
        assert np.nanmax(np.abs(got.access - np.nan_to_num(want))) <= 1e-9
        assert got.reached.mean() > 0.5
    # the analysis' table uses the same engine with the terrain's catchment per village
    pp, pf, _ = service_fca(a.demand, fac, a.costs, "health_centre", method="2sfca")
    mode, lim, _ = service_limits(a.coverage.standards, "health_centre", a.demand["terrain"].tolist(), len(P))
    direct = fca(P, S, C, max_cost=lim)
    assert np.allclose(pp["access"].to_numpy(), direct.access, rtol=0, atol=1e-12)
    stored = a.fca[(a.fca["service"] == "health_centre") & (a.fca["method"] == "2sfca")]
    assert np.array_equal(stored["access"].to_numpy(), pp["access"].to_numpy())
