"""Delineation on realistic instances: county size proven optimal, 480 villages within 1 % of
the bound, a small province by county, planner's constraints honoured, infeasibility
explained with the bound and the unit."""

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from zoning_brute import Instance, dp_optimum
from zoning_helpers import check_division

from pianqu.zoning import adjacency, delineate, exact
from pianqu.zoning.problem import make_problem
from pianqu.testing.zoning import synthetic_province

GK = 4543


def row_of_boxes(n, pops=None, size=5000.0):
    polys = [shapely.box(400_000 + k * size, 3_300_000, 400_000 + (k + 1) * size, 3_300_000 + size) for k in range(n)]
    return gpd.GeoDataFrame({"code": [f"U{k}" for k in range(n)],
                             "population": pops if pops is not None else [1000] * n},
                            geometry=polys, crs=GK).to_crs(4490)


def test_county_proven_optimal(county):
    u, T = county.units, county.travel_s
    adj = adjacency(u, travel_s=T)
    r = delineate(u, T, 6, adjacency=adj, member_bounds=(2, 6), method="exact", time_limit=60)
    assert r.status == "optimal" and r.proven_optimal and r.gap <= 1e-6  # speed: benchmarks/bench_zoning.py
    check_division(u, adj, r.assignment, 6)
    z = r.zones
    assert z["members"].between(2, 6).all()
    assert z["population"].sum() == pytest.approx(u["population"].sum())
    # the objective is what it says: Σ population × travel time to the centre
    codes = list(u["code"])
    obj = sum(pop * T[codes.index(c), codes.index(r.assignment[c])] for c, pop in zip(codes, u["population"]))
    assert r.objective == pytest.approx(obj, rel=1e-9)
    assert r.stats["mean_time_s"] == pytest.approx(obj / u["population"].sum(), rel=1e-9)


def test_villages_within_one_percent(villages):
    u, T = villages.units, villages.travel_s
    adj = adjacency(u, travel_s=T, layer="village", county=None)
    r = delineate(u, T, 60, adjacency=adj, method="heuristic", time_limit=8, layer="village", county=None)
    assert r.status in ("feasible", "optimal")
    assert r.gap <= 0.01, f"gap {r.gap:.4f} against the Lagrangian bound"
    check_division(u, adj, r.assignment, 60)
    centres = set(r.centres)
    relocate = set(u.loc[u["village_class"] == "搬迁撤并", "code"])
    assert relocate and not centres & relocate  # a 搬迁撤并 village is never a centre


def test_small_province_by_county():
    prov = synthetic_province(counties=["511921", "510121", "513433", "510704", "513230"])
    units = pd.concat([i.units for i in prov], ignore_index=True)
    n = len(units)
    T = np.full((n, n), np.inf)
    off = 0
    for inst in prov:
        k = len(inst.units)
        T[off:off + k, off:off + k] = inst.travel_s
        off += k
    units = gpd.GeoDataFrame(units, geometry="geometry", crs=4490)
    p = {i.units["county_code"].iloc[0]: max(1, round(len(i.units) / 4)) for i in prov}
    adj = adjacency(units, travel_s=T)
    r = delineate(units, T, p, adjacency=adj, member_bounds=(2, 6), method="exact", time_limit=30)
    assert r.status == "optimal" and r.stats["optimal_parts"] == len(prov)
    check_division(units, adj, r.assignment, sum(p.values()))
    cty = dict(zip(units["code"], units["county_code"]))
    assert all(cty[u] == cty[c] for u, c in r.assignment.items())  # zones inside one county
    for c, k in p.items():
        assert len({r.assignment[u] for u in units.loc[units["county_code"] == c, "code"]}) == k
    with pytest.raises(ValueError, match="no entry for county"):
        delineate(units, T, {"511921": 3}, adjacency=adj)


def test_constraints_are_honoured(county):
    u, T = county.units, county.travel_s
    codes = list(u["code"])
    adj = adjacency(u, travel_s=T)
    free = delineate(u, T, 5, adjacency=adj, method="exact")
    # fix a centre that the free optimum does not use, forbid one it uses, lock a unit
    fixed = next(c for c in codes if c not in free.centres)
    forbidden = free.centres[0]
    lock_unit = next(c for c in codes if c not in free.centres and c != fixed)
    lock_to = fixed
    r = delineate(u, T, 5, adjacency=adj, method="exact", fixed_centres=[fixed], forbidden_centres=[forbidden],
                  locked={lock_unit: lock_to}, time_limit=60)
    assert r.status == "optimal"
    assert fixed in r.centres and forbidden not in r.centres
    assert r.assignment[lock_unit] == lock_to
    assert r.objective >= free.objective * (1 - 1e-9)  # constraints never help
    check_division(u, adj, r.assignment, 5)
    # keep a pair of neighbours together that the free optimum splits
    split = next(((a, b) for a, b in zip(adj.edges["code_i"], adj.edges["code_j"])
                  if free.assignment[a] != free.assignment[b]))
    r = delineate(u, T, 5, adjacency=adj, method="exact", keep_together=[list(split)])
    assert r.assignment[split[0]] == r.assignment[split[1]]
    check_division(u, adj, r.assignment, 5)
    # a travel-time cap
    cap = float(np.quantile(T, 0.5))
    r = delineate(u, T, 5, adjacency=adj, method="exact", max_travel_s=cap)
    assert r.status == "optimal"
    assert all(T[codes.index(a), codes.index(c)] <= cap for a, c in r.assignment.items())


def test_contiguity_cuts_are_needed_and_exact():
    # 0-1-2-3-4-5 in a row, centres fixed at both ends; travel times make 3, 4 nearest to 0
    # and 1, 2 nearest to 5: nearest-centre zones satisfy every neighbour inequality but are
    # not contiguous, so the separator cuts must do the work
    u = row_of_boxes(6)
    T = np.full((6, 6), 3000.0)
    np.fill_diagonal(T, 0)
    for a in (3, 4):
        T[a, 0] = 100.0
    for a in (1, 2):
        T[a, 5] = 100.0
    adj = adjacency(u, county=None)
    oracle = Instance(u["population"], T, adj.edges[["i", "j"]].to_numpy(), 2, fixed=[0, 5])
    best, _ = dp_optimum(oracle)
    for contiguity in ("cuts", "flow"):
        r = delineate(u, T, 2, adjacency=adj, county=None, fixed_centres=["U0", "U5"], method="exact",
                      contiguity=contiguity)
        assert r.status == "optimal" and r.objective == pytest.approx(best)
        check_division(u, adj, r.assignment, 2)
        if contiguity == "cuts":  # separator rows were needed (at the root LP or in the MIP)
            assert r.stats["root_cuts"] + r.stats["mip_cuts"] > 0
    # the integer cut loop alone (no root rows, no polishing, no start) also gets there
    prob = make_problem(u, T, 2, adjacency=adj, county=None, fixed_centres=["U0", "U5"])
    m = exact.solve(prob, root_cuts=False, polish=False, reduce=False)
    assert m["optimal"] and m["objective"] == pytest.approx(best)
    assert m["cuts"] > 0 and m["rounds"] >= 2
    # and when the loop runs out of rounds, the flow model finishes the job
    fb = exact.solve(prob, root_cuts=False, polish=False, reduce=False, max_rounds=1)
    assert fb["contiguity"] == "cuts→flow" and fb["optimal"] and fb["objective"] == pytest.approx(best)


def test_infeasible_counting_names_bound_and_unit():
    u = row_of_boxes(4, pops=[1000, 5000, 1000, 1000])
    adj = adjacency(u, county=None)
    T = np.abs(np.subtract.outer(np.arange(4), np.arange(4))) * 600.0
    r = delineate(u, T, 2, adjacency=adj, county=None, pop_bounds=(None, 4000))
    assert r.status == "infeasible" and r.assignment.eq("").all()
    f = [f for f in r.explanation if f.rule == "zoning.infeasible.unit_over_ceiling"]
    assert len(f) == 1 and f[0].feature == "U1"
    assert "U1" in f[0].message("zh") and "4000" in f[0].message("en")
    r = delineate(u, T, 3, adjacency=adj, county=None, member_bounds=(2, None))
    assert [f.rule for f in r.explanation] == ["zoning.infeasible.p_too_large"]
    assert r.explanation[0].params["kmax"] == 2
    r = delineate(u, T, 2, adjacency=adj, county=None, fixed_centres=["U0", "U1", "U2"])
    assert [f.rule for f in r.explanation] == ["zoning.infeasible.too_many_fixed"]
    r = delineate(u, T, 2, adjacency=adj, county=None, locked={"U1": "U3", "U2": "U0"})
    rules = {f.rule for f in r.explanation}
    assert rules == {"zoning.infeasible.unreachable_lock_path"}
    assert {f.feature for f in r.explanation} == {"U1", "U2"}


def test_infeasible_by_contiguity_is_diagnosed():
    # pops 10 | 1 | 10 in a row, two zones of ≥ 10.5 people: counting allows it (21 ≥ 2 × 10.5)
    # but no contiguous split reaches the floor in both zones
    u = row_of_boxes(3, pops=[10, 1, 10])
    adj = adjacency(u, county=None)
    T = np.abs(np.subtract.outer(np.arange(3), np.arange(3))) * 600.0
    r = delineate(u, T, 2, adjacency=adj, county=None, pop_bounds=(10.5, None), method="exact")
    assert r.status == "infeasible" and r.method.startswith("exact")
    assert [f.rule for f in r.explanation] == ["zoning.infeasible.bound_pop_lo"]
    assert r.explanation[0].params["value"] == "10.5"


def test_bad_inputs_are_named(county):
    u, T = county.units, county.travel_s
    with pytest.raises(ValueError, match="shape"):
        delineate(u, T[:5, :5], 3)
    T2 = T.copy()
    T2[1, 2] = np.nan
    with pytest.raises(ValueError, match=r"travel_s\[1, 2\].*NaN"):
        delineate(u, T2, 3)
    with pytest.raises(ValueError, match="'nope' is not among"):
        delineate(u, T, 3, locked={"nope": u["code"].iloc[0]})
    u2 = u.copy()
    u2.loc[3, "population"] = -5
    with pytest.raises(ValueError, match=f"{u['code'].iloc[3]}.*population"):
        delineate(u2, T, 3)
    with pytest.raises(ValueError, match="positive integer"):
        delineate(u, T, 0)


def test_heuristic_falls_back_to_exact_search():
    """Issue 12's instance: the heuristic finds no division meeting the population bounds; the
    result must come from the exact search (equal to the brute-force optimum) and say so."""
    from scipy import sparse
    from scipy.sparse.csgraph import shortest_path

    from pianqu.zoning.contiguity import Adjacency

    xy = np.array([(32.2, 32.32), (20.61, 11.43), (2.16, 15.33), (16.34, 1.81), (1.95, 39.97),
                   (26.09, 9.38), (17.4, 38.97), (35.91, 33.77), (15.7, 19.72)])
    pop = [28305, 28684, 28202, 7128, 38568, 24445, 36622, 14500, 17653]
    edges = [(0, 5), (0, 6), (0, 7), (0, 8), (1, 2), (1, 3), (1, 5), (1, 8), (2, 3), (2, 4), (2, 8),
             (3, 5), (4, 6), (4, 8), (5, 7), (5, 8), (6, 7), (6, 8)]
    n, bounds, cand = 9, (42020.06, 70033.44), [0, 3, 6, 8]
    a, b = np.array(edges).T
    secs = np.hypot(*(xy[a] - xy[b]).T) * 2 * 60  # 30 km/h: 2 min per km
    T = shortest_path(sparse.coo_matrix((secs, (a, b)), shape=(n, n)).tocsr(), directed=False)
    codes = np.array([f"u{i}" for i in range(n)])
    e = pd.DataFrame({"i": a, "j": b, "code_i": codes[a], "code_j": codes[b], "shared_m": 1000.0, "kind": "user"})
    shared = sparse.coo_matrix((np.full(2 * len(a), 1000.0), (np.r_[a, b], np.r_[b, a])), shape=(n, n)).tocsr()
    adj = Adjacency(codes, e, shared, np.full(n, 4000.0), np.full(n, 1e6), [])
    units = pd.DataFrame({"code": codes, "population": pop})
    r = delineate(units, T, 4, adjacency=adj, candidates=list(codes[cand]), pop_bounds=bounds,
                  method="heuristic", county=None, village_class=None)
    best, _ = dp_optimum(Instance(pop, T, edges, 4, candidates=cand, pop_bounds=bounds))
    assert r.status == "optimal" and r.method.startswith("heuristic→exact")
    assert r.objective == pytest.approx(best, rel=1e-9)
    assert r.objective / 60 == pytest.approx(5_315_159.84, abs=0.01)  # person-minutes
    assert sorted(sorted(r.assignment.index[r.assignment == c]) for c in set(r.assignment)) == \
        [["u0", "u5"], ["u1", "u2", "u3"], ["u4", "u8"], ["u6", "u7"]]
    assert [f.rule for f in r.explanation] == ["zoning.heuristic_fallback"]
    assert "精确算法" in r.explanation[0].message("zh")
    check_division(units, adj, r.assignment, 4)
