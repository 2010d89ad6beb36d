"""API behaviour: bounds, fixed and forbidden sites, assignments, input errors."""

import dataclasses

import numpy as np
import pytest

from pianqu.services import (
    LocationResult,
    solve_capacitated_pmedian,
    solve_lscp,
    solve_mclp,
    solve_pcenter,
    solve_pmedian,
)
from pianqu.services.location import random_county_instance, shortest_path_costs


@pytest.fixture(scope="module")
def county():
    return random_county_instance(120, 40, n_centres=10, seed=3)


def test_result_is_frozen(county):
    cost, pop = county
    res = solve_pmedian(cost, 4, weights=pop)
    assert isinstance(res, LocationResult)
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.objective = 0.0  # type: ignore[misc]


@pytest.mark.parametrize("method", ["exact", "heuristic"])
def test_pmedian_fixed_forbidden_and_assignment(county, method):
    cost, pop = county
    fixed, forbidden = [0, 7], [1, 2, 3, 30]
    res = solve_pmedian(cost, 6, weights=pop, fixed_sites=fixed, forbidden_sites=forbidden, method=method)
    assert res.sites.size == 6
    assert set(fixed) <= set(res.sites)
    assert not set(forbidden) & set(res.sites)
    # every demand goes to its nearest open site, and the objective is that cost
    nearest = cost[:, res.sites].min(axis=1)
    assert np.allclose(cost[np.arange(cost.shape[0]), res.assignment], nearest)
    assert res.objective == pytest.approx((pop * nearest).sum())
    assert res.lower_bound <= res.objective + 1e-6
    assert res.gap >= 0


def test_heuristic_never_beats_exact_bound(county):
    cost, pop = county
    exact = solve_pmedian(cost, 8, weights=pop, method="exact")
    heur = solve_pmedian(cost, 8, weights=pop, method="heuristic", perturbations=0)
    assert exact.proven_optimal
    assert heur.objective >= exact.objective - 1e-6
    assert heur.lower_bound <= exact.objective + 1e-6
    assert heur.lower_bound > 0.9 * exact.objective  # the Lagrangian bound is not trivial


def test_fixed_sites_fill_p(county):
    cost, pop = county
    res = solve_pmedian(cost, 3, weights=pop, fixed_sites=[4, 5, 6])
    assert list(res.sites) == [4, 5, 6] and res.proven_optimal


def test_time_limit_still_gives_valid_bound():
    from pianqu.services.location import orlib_like_instance

    cost, p = orlib_like_instance(300, 5, seed=11)
    res = solve_pmedian(cost, p, method="exact", time_limit=0.05)
    assert res.lower_bound <= res.objective
    if not res.proven_optimal:
        assert res.gap > 0


@pytest.mark.parametrize("method", ["exact", "heuristic"])
def test_covering_models_respect_sites(county, method):
    cost, pop = county
    fixed, forbidden = [5], [0, 1]
    m = solve_mclp(cost, 4, 5.0, weights=pop, fixed_sites=fixed, forbidden_sites=forbidden, method=method)
    assert 5 in m.sites and not {0, 1} & set(m.sites) and m.sites.size == 4
    assert m.lower_bound <= m.objective + 1e-6
    covered = (cost[:, m.sites] <= 5.0).any(axis=1)
    assert m.extras["covered_weight"] == pytest.approx(pop[covered].sum())
    assert ((m.assignment >= 0) == covered).all()
    r = float(cost[:, 2:].min(axis=1).max()) + 1.0  # every demand reachable without sites 0, 1
    l = solve_lscp(cost, r, fixed_sites=fixed, forbidden_sites=forbidden, method=method)
    assert 5 in l.sites and not {0, 1} & set(l.sites)
    assert (cost[:, l.sites] <= r).any(axis=1).all()
    assert l.lower_bound <= l.objective
    c = solve_pcenter(cost, 4, fixed_sites=fixed, forbidden_sites=forbidden, method=method)
    assert 5 in c.sites and not {0, 1} & set(c.sites) and c.sites.size == 4
    assert c.objective == pytest.approx(cost[:, c.sites].min(axis=1).max())
    assert c.lower_bound <= c.objective


def test_heuristic_covering_bounds_hold_against_exact(county):
    cost, pop = county
    for solve, args in [(solve_mclp, (3, 4.0)), (solve_pcenter, (3,))]:
        ex = solve(cost, *args, method="exact")
        he = solve(cost, *args, method="heuristic")
        assert ex.proven_optimal
        assert he.lower_bound <= ex.objective + 1e-9 <= he.objective + 2e-9
    r = float(cost.min(axis=1).max()) + 2.0
    ex = solve_lscp(cost, r)
    he = solve_lscp(cost, r, method="heuristic")
    assert he.lower_bound <= ex.objective <= he.objective


def test_capacitated_respects_capacity(county):
    cost, pop = county
    cap = np.full(cost.shape[1], pop.sum() / 3.5)
    res = solve_capacitated_pmedian(cost[:60, :20], 4, cap[:20], pop[:60], fixed_sites=[2])
    assert 2 in res.sites and res.sites.size == 4
    load = np.array([pop[:60][res.assignment == s].sum() for s in res.sites])
    assert (load <= cap[res.sites] + 1e-9).all()
    assert np.allclose(load, res.extras["load"])
    assert res.lower_bound <= res.objective + 1e-6


# ---- errors -----------------------------------------------------------------------------


def test_p_larger_than_sites():
    with pytest.raises(ValueError, match=r"p=5 exceeds the number of available sites \(4"):
        solve_pmedian(np.ones((3, 4)), 5)
    with pytest.raises(ValueError, match=r"p=4 exceeds the number of available sites \(3 = sites minus 1 forbidden"):
        solve_pmedian(np.ones((3, 4)), 4, forbidden_sites=[0])


def test_p_below_fixed_and_conflicts():
    with pytest.raises(ValueError, match="smaller than the number of fixed sites"):
        solve_pmedian(np.ones((3, 4)), 1, fixed_sites=[0, 1])
    with pytest.raises(ValueError, match="site 2 is both fixed"):
        solve_pmedian(np.ones((3, 4)), 2, fixed_sites=[2], forbidden_sites=[2])
    with pytest.raises(ValueError, match="outside range"):
        solve_pmedian(np.ones((3, 4)), 2, fixed_sites=[9])
    with pytest.raises(ValueError, match="method must be one of"):
        solve_pmedian(np.ones((3, 4)), 2, method="fast")


def test_bad_costs_and_weights():
    c = np.ones((3, 4))
    c[1, 2] = np.nan
    with pytest.raises(ValueError, match=r"cost\[1, 2\] is NaN"):
        solve_pmedian(c, 1)
    c[1, 2] = np.inf
    with pytest.raises(ValueError, match=r"cost\[1, 2\] is not finite"):
        solve_pmedian(c, 1)
    with pytest.raises(ValueError, match=r"weights must have length n_demand=3"):
        solve_pmedian(np.ones((3, 4)), 1, weights=[1, 2])
    with pytest.raises(ValueError, match=r"weights\[1\] = -1.0"):
        solve_pmedian(np.ones((3, 4)), 1, weights=[1, -1, 2])


def test_lscp_unreachable_demand_named():
    c = np.array([[1.0, 2.0], [9.0, 8.0], [1.0, 1.0]])
    with pytest.raises(ValueError, match=r"demand 1 cannot be covered within radius 5: its nearest allowed site is at 8"):
        solve_lscp(c, 5.0)
    # forbidding the only covering site makes demand 0 unreachable
    c2 = np.array([[1.0, 9.0], [1.0, 2.0]])
    with pytest.raises(ValueError, match=r"demand 0 cannot be covered within radius 3.*1 sites forbidden"):
        solve_lscp(c2, 3.0, forbidden_sites=[0])


def test_capacity_errors():
    c = np.ones((4, 3))
    with pytest.raises(ValueError, match=r"capacities too small: total demand 10 exceeds 8"):
        solve_capacitated_pmedian(c, 2, [4, 4, 3], [1, 2, 3, 4])
    with pytest.raises(ValueError, match=r"demand 3 \(9\) exceeds the largest allowed site capacity \(6\)"):
        solve_capacitated_pmedian(c, 3, [6, 6, 6], [1, 1, 1, 9])
    with pytest.raises(ValueError, match=r"capacities must be 3 values"):
        solve_capacitated_pmedian(c, 2, [4, 4], [1, 2, 3, 4])


def test_radius_errors():
    with pytest.raises(ValueError, match="radius must be a finite number >= 0"):
        solve_mclp(np.ones((2, 2)), 1, -1.0)


def test_shortest_path_costs_unreachable_and_zero_edges():
    d = shortest_path_costs(4, np.array([[0, 1], [1, 2]]), np.array([0.0, 3.0]))
    assert d[0, 2] == 3.0 and d[0, 1] == 0.0 and np.isinf(d[0, 3])
