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


@pytest.mark.parametrize("n,p", [(500, 5), (600, 5), (900, 200)])
def test_orlib_like_large_proven(n, p):
    """Built like pmed21-40 (held back): proven optimal. Timings of the larger set are in
    benchmarks/bench_locate.py, not here."""
    cost, _ = orlib_like_instance(n, p, seed=n + p)
    res = solve_pmedian(cost, p, method="exact", time_limit=300)
    assert res.proven_optimal
    assert res.lower_bound == res.objective


# ---- look-alikes of the held-back pmed21-40 ---------------------------------------------


def _edges(path):
    tokens = path.read_text().split()
    n, m, _ = (int(t) for t in tokens[:3])
    return n, m, np.asarray(tokens[3 : 3 + 3 * m], dtype=np.int64).reshape(m, 3)


@pytest.mark.parametrize("k", [1, 6, 11, 16])
def test_orlib_like_graph_follows_the_shipped_files(k, orlib_dir):
    """The generator's rule, checked against Beasley's own files: n^2/50 edges, the path
    1-2-...-n first, then edges between distinct vertices, lengths 1..100."""
    from pianqu.services.location import orlib_like_graph

    n, m, data = _edges(orlib_dir / f"pmed{k}.txt")
    assert m == n * n // 50
    assert (data[: n - 1, 0] == np.arange(1, n)).all() and (data[: n - 1, 1] == np.arange(2, n + 1)).all()
    assert (data[:, 0] != data[:, 1]).all()
    assert data[:, 2].min() >= 1 and data[:, 2].max() <= 100
    edges, lengths = orlib_like_graph(n, seed=k)
    assert edges.shape == (m, 2)
    assert (edges[: n - 1, 0] == np.arange(n - 1)).all() and (edges[: n - 1, 1] == np.arange(1, n)).all()
    assert (edges[:, 0] != edges[:, 1]).all() and edges.min() >= 0 and edges.max() < n
    assert set(np.unique(lengths)) <= set(range(1, 101))
    if m >= 1800:  # both ends of 1..100 are drawn (missing one has probability < 1e-7)
        assert lengths.min() == 1 and lengths.max() == 100


def _classical_mip(W, p):
    """Independent answer: HiGHS MIP on the classical formulation (x_ij <= y_j)."""
    from scipy import sparse

    from pianqu.services.location.highs_model import INF, solve_mip

    n, m = W.shape
    nx = n * m
    ii, jj = np.repeat(np.arange(n), m), np.tile(np.arange(m), n)
    xc = m + np.arange(nx)
    A = sparse.csc_matrix(
        (
            np.concatenate([np.ones(nx), np.ones(nx), -np.ones(nx), np.ones(m)]),
            (np.concatenate([ii, n + np.arange(nx), n + np.arange(nx), np.full(m, n + nx)]),
             np.concatenate([xc, xc, jj, np.arange(m)])),
        ),
        shape=(n + nx + 1, m + nx),
    )
    out = solve_mip(
        np.concatenate([np.zeros(m), W.ravel()]), A,
        np.concatenate([np.ones(n), np.full(nx, -INF), [p]]), np.concatenate([np.ones(n), np.zeros(nx), [p]]),
        np.zeros(m + nx), np.ones(m + nx), np.concatenate([np.ones(m, bool), np.zeros(nx, bool)]),
        time_limit=300,
    )
    assert out.optimal
    return out.objective


def test_tree_search_matches_highs_mip():
    """An instance whose proof needs a real tree (restricted LPs, enumeration, and an
    incumbent improved during the search) against HiGHS on the classical formulation."""
    cost, p = orlib_like_instance(100, 5, seed=7)
    res = solve_pmedian(cost, p, method="exact")
    assert res.proven_optimal and res.nodes > 1
    assert res.extras["heuristic_objective"] > res.objective  # the search found the optimum
    assert res.extras["lps"] > 1 and res.extras["enumerated"] >= 1
    assert res.objective == pytest.approx(_classical_mip(cost, p), abs=1e-6)
    assert res.lower_bound == res.objective


@pytest.mark.parametrize(
    "options",
    [dict(shrink=0.0), dict(enum_budget=0.0), dict(node_rounds=200), dict(branching="fractional")],
    ids=["no-restricted-lps", "no-enumeration", "converged-nodes", "fractional-branching"],
)
def test_engine_options_keep_the_optimum(options, orlib_dir, orlib_optima):
    """Each acceleration can be switched off (or changed) without changing the proof."""
    from pianqu.services.location.radius import radius_branch_and_bound
    from pianqu.services.location.swap import swap_heuristic

    cost, p = read_orlib_pmed(orlib_dir / "pmed16.txt")
    none = np.zeros(0, dtype=np.int64)
    start, _ = swap_heuristic(cost, p, none)
    out = radius_branch_and_bound(cost, p, none, start, integral=True, time_limit=300, **options)
    assert out.proven and out.nodes > 1
    assert out.objective == out.lower_bound == orlib_optima["pmed16"]


def test_enumeration_equals_brute_force():
    from itertools import combinations

    from pianqu.services.location.radius import enumerate_completions

    rng = np.random.default_rng(5)
    W = rng.integers(0, 50, size=(30, 12)).astype(float)
    for trial in range(6):
        lower, upper = np.zeros(12), np.ones(12)
        lower[rng.choice(12, size=trial % 3, replace=False)] = 1.0
        upper[rng.choice(np.flatnonzero(lower < 0.5), size=2, replace=False)] = 0.0
        p = int(lower.sum()) + 2 + trial % 2
        free = [j for j in range(12) if upper[j] > 0.5 and lower[j] < 0.5]
        opened = list(np.flatnonzero(lower > 0.5))
        best = min(W[:, opened + list(c)].min(axis=1).sum() for c in combinations(free, p - len(opened)))
        cost, sites = enumerate_completions(W, lower, upper, p, budget=1e9, max_loops=10**6)
        assert cost == best and sites.size == p
        assert W[:, sites].min(axis=1).sum() == cost
        assert set(opened) <= set(sites) and upper[sites].min() == 1.0
    assert enumerate_completions(W, np.zeros(12), np.ones(12), 6, budget=100.0, max_loops=10) is None


def test_restricted_lp_keeps_the_bound():
    """Dropping closed sites and slack cuts leaves the LP optimum unchanged."""
    import time

    from pianqu.services.location.radius import RadiusLP, SortedCosts, restricted_lp

    cost, p = orlib_like_instance(200, 5, seed=3)
    sc = SortedCosts(cost)
    lp = RadiusLP(cost, p, sc, np.arange(200), 60)
    lower, upper = np.zeros(200), np.ones(200)
    lp.set_bounds(lower, upper)
    lp.add_cuts(np.eye(200)[[0, 50, 100, 150, 199]].sum(axis=0), None)
    deadline = time.perf_counter() + 60
    root = lp.solve(prune_above=np.inf, deadline=deadline)
    assert root.converged
    keep = np.union1d(np.flatnonzero(root.y > 1e-9), np.arange(0, 200, 4))
    upper[np.setdiff1d(np.arange(200), keep)] = 0.0
    sub = restricted_lp(lp, cost, p, sc, keep, lower, upper, deadline)
    again = sub.solve(prune_above=np.inf, deadline=deadline)
    assert again.converged and sub.k == keep.size
    assert again.bound == pytest.approx(root.bound, rel=1e-9)
