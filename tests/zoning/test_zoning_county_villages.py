"""Village-level zoning on the project's synthetic county (issue 4 follow-up).

金堂县 (510121) from ``pianqu.synth``: 200 villages in 5 township-level zones on a tree-like road
network where neighbouring villages are often far apart by road. The heuristic with its
Lagrangian bound left gaps of 17–32 % per group here; the exact path (LP bound with separator
rows, reduced-cost fixing, HiGHS) must bring every group within 1 % unless it runs into its time
limit (see test_every_group_within_one_percent for the one group that now does). Checks against
independent answers: a brute-force optimum on real sub-instances of 12 villages, every
division re-checked with networkx, and every lower bound below a division found by another
method. Timings are in benchmarks/bench_zoning.py, not here.
"""

import math

import networkx as nx
import numpy as np
import pytest
from zoning_brute import Instance, dp_optimum
from zoning_helpers import check_division

from pianqu.config import load_config
from pianqu.zoning import delineate
from pianqu.zoning.autop import p_range, recommend_shares
from pianqu.zoning.problem import RELOCATE_CLASS
from pianqu.testing.zoning import county_villages
from pianqu.zoning.villages import village_zones

pytestmark = pytest.mark.slow  # a county synthesised, planned or run through the CLI end to end

CODE = "510121"


@pytest.fixture(scope="module")
def cv():
    return county_villages(CODE, 1)  # synthesize_county + road graph + township zones (~15–40 s)


TIME_LIMIT = 10.0  # per group, village_zones' default


@pytest.fixture(scope="module")
def zoned(cv):
    # stop at the 1 % asserted below (the default target is 0.5 %)
    return village_zones(cv.villages, cv.travel_s, township_zone=cv.township_zone, adjacency=cv.adjacency,
                         target_gap=0.01, time_limit=TIME_LIMIT)


def _group_of(cv):
    return cv.villages["township_code"].astype(str).map(cv.township_zone)


def test_every_group_within_one_percent(cv, zoned):
    cfg = load_config()
    g = zoned.groups
    assert len(g) == cv.township_zone.nunique() >= 4
    # within 1 % unless the group ran into its time limit. Since the synthesiser's changes of
    # 2026-11-29 (roads, settlements) group 510121001 (90 villages, p = 13) is such a case: its
    # division is the optimum (proven offline in 123 s) but the root bound with separator rows is
    # 4.4 % below it and the MIP closes it to 3.6–1.7 % in 10–40 s (docs/benchmarks/zoning.md).
    # A group stopped by the clock must still carry the separator bound: well under the 17–32 %
    # the Lagrangian bound left here
    timed_out = g["time_s"] >= 0.95 * TIME_LIMIT
    assert ((g["gap"] <= 0.01) | (g["status"] == "optimal") | timed_out).all(), g
    assert g["gap"].between(0, 0.10).all(), g
    assert (~timed_out).sum() >= 3, g  # most groups are closed well within the limit
    assert (g["status"].isin(["optimal", "feasible"])).all()
    # p was chosen in the village range (one village of slack inside the member bounds)
    for row in g.itertuples():
        assert row.p in p_range(row.villages, "village", cfg)
    r = zoned.result
    v = cv.villages
    check_division(v, cv.adjacency, r.assignment)
    group = _group_of(cv)
    group.index = v["code"]
    assert all(group[a] == group[c] for a, c in r.assignment.items())  # never across township-level zones
    relocate = set(v.loc[v["village_class"] == RELOCATE_CLASS, "code"])
    assert not relocate & set(r.centres)
    sizes = r.assignment.value_counts()
    assert sizes.between(cfg["zoning.village_members_min"], cfg["zoning.village_members_max"]).all()
    # the objective is what it says: Σ population × seconds to the centre, plus the weakness
    # penalty of each 中心村 opened (issue 17: centres by strength); every centre a candidate
    pos = {c: k for k, c in enumerate(v["code"])}
    pop = v.set_index("code")["population"]
    obj = sum(pop[a] * cv.travel_s[pos[a], pos[c]] for a, c in r.assignment.items())
    t = zoned.centres.table.set_index("code")
    assert t.loc[r.centres, "candidate"].all()
    assert obj + t.loc[r.centres, "penalty"].sum() == pytest.approx(r.objective, rel=1e-9)


def test_bounds_hold_against_other_divisions(cv, zoned):
    # any valid division costs at least the optimum ≥ the reported lower bound: the heuristic
    # (another algorithm) must never beat a bound, and the exact path never loses to it
    v, T = cv.villages, cv.travel_s
    group = _group_of(cv)
    for gname, part in zoned.parts.items():
        idx = np.flatnonzero((group == gname).to_numpy())
        h = delineate(v.iloc[idx], T[np.ix_(idx, idx)], part.p, county=None, member_bounds=(3, 8), layer="village",
                      adjacency=cv.adjacency.subset(idx), method="heuristic", time_limit=2,
                      **zoned.centres.rules(v["code"].iloc[idx]))  # the same candidates and penalties
        if h.feasible:
            assert h.objective >= part.lower_bound * (1 - 1e-9)
            assert part.objective <= h.objective * (1 + 1e-9)
        assert part.lower_bound <= part.objective * (1 + 1e-9)


def test_screening_table(cv):
    # the rule runs on screened rows; only the recommended p is solved, and it is the one the
    # rule picks from the table as returned
    from pianqu.zoning.autop import auto_p
    group = _group_of(cv)
    sizes = group.value_counts()
    gname = sizes.index[sizes.between(25, 60)][-1]  # a mid-size group: several p, a quick solve
    idx = np.flatnonzero((group == gname).to_numpy())
    ap = auto_p(cv.villages.iloc[idx], cv.travel_s[np.ix_(idx, idx)], layer="village", county=None,
                member_bounds=(3, 8), adjacency=cv.adjacency.subset(idx), time_limit=20)
    t = ap.table
    assert list(t["p"]) == list(p_range(len(idx), "village"))
    assert ap.screened and t["recommended"].sum() == 1
    solved = t[~t["screened"]]
    assert list(solved["p"]) == [ap.recommended] and (solved["gap"] <= 0.01).all()
    assert (t.loc[t["screened"] & (t["status"] == "feasible"), "gap"] == math.inf).all()  # no bound claimed
    # the rule applied to the shares it saw (screened; the table keeps them) gives the recommendation
    assert recommend_shares(dict(zip(t["p"], t["rule_share"])), ap.target) == ap.recommended
    unsolved = t[t["screened"]]
    assert (unsolved["rule_share"].fillna(-1) == unsolved["within_share"].fillna(-1)).all()
    said = {lang: "".join(p.message(lang) for p in ap.rule) for lang in ("zh", "en")}
    assert "筛选" in said["zh"] and "screened" in said["en"]


def _connected_subset(adj, start, size):
    g = nx.Graph()
    g.add_edges_from(zip(adj.edges["i"], adj.edges["j"]))
    order = list(nx.bfs_tree(g, start))[:size]
    return np.asarray(sorted(order))


@pytest.mark.parametrize("rank,p", [(0, 2), (1, 3), (2, 3)])
def test_real_sub_instances_match_brute_force(cv, rank, p):
    # 12 neighbouring villages of the real county (in its rank-th largest group) with their real
    # road times and the village member bounds: the exact path equals an exhaustive optimum over
    # connected partitions
    v, T = cv.villages, cv.travel_s
    group = _group_of(cv)
    members = np.flatnonzero((group == group.value_counts().index[rank]).to_numpy())
    assert len(members) >= 12
    sub_adj = cv.adjacency.subset(members)
    idx = members[_connected_subset(sub_adj, len(members) // 2, 12)]
    units, Ts, adj = v.iloc[idx], T[np.ix_(idx, idx)], cv.adjacency.subset(idx)
    cand = [k for k in range(len(idx)) if units["village_class"].iloc[k] != RELOCATE_CLASS]
    oracle = Instance(units["population"].to_numpy(), Ts, adj.edges[["i", "j"]].to_numpy(), p,
                      candidates=cand, member_bounds=(3, 8))
    best, _ = dp_optimum(oracle)
    assert math.isfinite(best)
    r = delineate(units, Ts, p, adjacency=adj, county=None, member_bounds=(3, 8), layer="village", method="exact",
                  target_gap=0.0)
    assert r.status == "optimal" and r.objective == pytest.approx(best, rel=1e-9)
    check_division(units, adj, r.assignment, p)
    d = delineate(units, Ts, p, adjacency=adj, county=None, member_bounds=(3, 8), layer="village")  # village gap
    assert best * (1 - 1e-9) <= d.objective <= best * 1.005 + 1e-6 and d.lower_bound <= best * (1 + 1e-9)
