"""OR-Library pmed1-pmed20: published optimum reached and certified by the bound."""

import numpy as np
import pytest

from pianqu.services import read_orlib_pmed, solve_pmedian
from pianqu.services.location import orlib_like_instance

# sizes (n, p) of pmed1..20 as printed in the file headers
HEADERS = {1: (100, 5), 6: (200, 5), 10: (200, 67), 16: (400, 5), 20: (400, 133)}


@pytest.mark.parametrize("k", range(1, 21))
def test_pmed_proven_optimal(k, orlib_dir, orlib_optima):
    cost, p = read_orlib_pmed(orlib_dir / f"pmed{k}.txt")
    res = solve_pmedian(cost, p, method="exact", time_limit=120)
    assert res.objective == orlib_optima[f"pmed{k}"]
    assert res.proven_optimal
    assert res.lower_bound == res.objective
    assert res.gap == 0.0
    assert res.sites.size == p
    # the reported objective is the cost of the reported sites
    assert cost[:, res.sites].min(axis=1).sum() == res.objective


def test_read_orlib_shape_and_p(orlib_dir):
    for k, (n, p) in HEADERS.items():
        cost, pp = read_orlib_pmed(orlib_dir / f"pmed{k}.txt")
        assert cost.shape == (n, n) and pp == p
        assert np.allclose(cost, cost.T) and (np.diag(cost) == 0).all()


def test_read_orlib_last_duplicate_edge_holds(tmp_path):
    f = tmp_path / "tiny.txt"
    # edge 1-2 given twice (second time reversed): the last length (7) holds, not the min
    f.write_text("3 3 1\n1 2 2\n2 3 5\n2 1 7\n")
    cost, p = read_orlib_pmed(f)
    assert p == 1
    assert cost[0, 1] == 7 and cost[1, 2] == 5 and cost[0, 2] == 12


def test_heuristic_bound_on_orlib(orlib_dir, orlib_optima):
    cost, p = read_orlib_pmed(orlib_dir / "pmed9.txt")
    res = solve_pmedian(cost, p, method="heuristic", perturbations=5)
    opt = orlib_optima["pmed9"]
    assert res.lower_bound <= opt <= res.objective
    assert res.objective <= 1.05 * opt
    assert res.gap == pytest.approx((res.objective - res.lower_bound) / res.objective)


@pytest.mark.parametrize("n,p", [(500, 5), (900, 200)])
def test_orlib_like_large_proven(n, p):
    """Built like pmed21-40 (held back): proven optimal. Timings of the larger set are in
    benchmarks/bench_locate.py, not here."""
    cost, _ = orlib_like_instance(n, p, seed=n + p)
    res = solve_pmedian(cost, p, method="exact", time_limit=300)
    assert res.proven_optimal
    assert res.lower_bound == res.objective
