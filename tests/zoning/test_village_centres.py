"""中心村 chosen by strength (issue 17 item 4): village centre scores, the candidate standard,
designated and forbidden villages, the weakness penalty, and the exact village zoning against
an independent brute force under the same objective.

The township is written here: nine villages along a valley road, 6 minutes apart. 村2 holds
the most people, the facilities, the collective economy and the built-up land; 村4, in the
middle, is where the population-weighted time is least. Access alone makes 村4 the 中心村,
strength makes it 村2.
"""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import sparse
from scipy.sparse.csgraph import shortest_path
from zoning_brute import Instance, dp_optimum
from zoning_helpers import check_division

from pianqu.config import load_config
from pianqu.zoning.contiguity import Adjacency
from pianqu.zoning.problem import RELOCATE_CLASS
from pianqu.zoning.village_centres import centre_lists, village_centres
from pianqu.zoning.villages import village_zones

TOWN = "511921101"
STEP_S = 360.0  # 6 min between neighbouring village seats


def _code(k: int) -> str:
    return f"{TOWN}{k + 1:03d}"


def _adjacency(codes, edges) -> Adjacency:
    n = len(codes)
    a, b = np.array(edges).T
    i, j = np.minimum(a, b), np.maximum(a, b)
    e = pd.DataFrame({"i": i, "j": j, "code_i": codes[i], "code_j": codes[j], "shared_m": 1000.0, "kind": "user"})
    shared = sparse.coo_matrix((np.full(2 * len(i), 1000.0), (np.r_[i, j], np.r_[j, i])), shape=(n, n)).tocsr()
    return Adjacency(np.asarray(codes), e, shared, np.full(n, 4000.0), np.full(n, 1e6), [])


@pytest.fixture(scope="module")
def valley():
    n = 9
    codes = np.array([_code(k) for k in range(n)])
    pop = np.full(n, 1500)
    pop[2] = 2200
    villages = pd.DataFrame({"code": codes, "name": [f"村{k}" for k in range(n)], "township_code": TOWN,
                             "population": pop, "village_class": "集聚提升"})
    T = STEP_S * np.abs(np.arange(n)[:, None] - np.arange(n)[None, :]).astype(float)
    adj = _adjacency(codes, [(k, k + 1) for k in range(n - 1)])
    # 8 facilities at 村2, one each at 村5 and 村7, one at the township level only
    facilities = pd.DataFrame({"id": [f"f{k}" for k in range(11)], "kind": "clinic",
                               "township_code": TOWN, "village_code": [codes[2]] * 8 + [codes[5], codes[7], None]})
    # collective economy: the village rows of the economy table (12-digit codes), two years;
    # the latest year counts
    economy = pd.DataFrame({"township_code": [TOWN, *codes, codes[2]],
                            "sector": "collective", "output": [5000.0, *([20.0] * n), 999.0],
                            "year": [2023, *([2023] * n), 2021]})
    economy.loc[3, "output"] = 260.0  # 村2 in 2023 (row 0 is the township's own row)
    landuse = pd.DataFrame({"village_code": [codes[2], codes[2], codes[4], codes[6]],
                            "czcsxm": ["203", "203A", "203", "201"], "area_m2": [90_000.0, 30_000.0, 20_000.0,
                                                                                  40_000.0]})
    return dict(villages=villages, T=T, adj=adj, facilities=facilities, economy=economy, landuse=landuse)


def _zone(v, **kw):
    kw = {"p": {TOWN: 1}, "member_bounds": (3, 9), "time_limit": 10, **kw}
    return village_zones(v["villages"], v["T"], adjacency=v["adj"], facilities=v["facilities"],
                         economy=v["economy"], landuse=v["landuse"], **kw)


def test_indicators_come_from_the_layers(valley):
    vc = village_centres(valley["villages"], valley["T"], facilities=valley["facilities"], economy=valley["economy"],
                         landuse=valley["landuse"])
    t = vc.table.set_index("code")
    c2, c4, c6 = (_code(k) for k in (2, 4, 6))
    assert t.at[c2, "facilities"] == 8 and t.at[_code(5), "facilities"] == 1 and t.at[c4, "facilities"] == 0
    assert t.at[c2, "collective_wan"] == 260.0 and t.at[c4, "collective_wan"] == 20.0  # 2023, not 2021's 999
    assert t.at[c2, "built_up_km2"] == pytest.approx(0.12) and t.at[c6, "built_up_km2"] == pytest.approx(0.04)
    # accessibility: population within the village standard (15 min = two steps either side)
    assert t.at[c4, "accessibility"] == 5 * 1500 + 700 and t.at[_code(0), "accessibility"] == 2 * 1500 + 2200
    assert t.at[c2, "rank"] == 1 and set(vc.weights.index) == {"population", "facilities", "collective_wan",
                                                               "built_up_km2", "accessibility"}
    # the standard: the upper half of the eligible villages (5 of 9), no fewer than the most zones (3)
    assert (t["status"] == "standard").sum() == math.ceil(0.5 * 9) == t["candidate"].sum()
    # the penalty, by its definition: κ · 60 · P_zone · (s_best − s_j) / spread
    cfg = load_config()
    p_zone = t["population"].sum() * min(1.0, 5.5 / 9)
    spread = t["score"].max() - t["score"].min()
    cand = t[t["candidate"]]
    expect = cfg["zoning.village_weak_centre_penalty_min"] * 60 * p_zone * (cand["score"].max() - cand["score"]) / spread
    assert np.allclose(cand["penalty"], expect) and cand.at[c2, "penalty"] == 0.0
    assert (t.loc[~t["candidate"], "penalty"] == 0).all()


def test_strength_picks_the_strong_village_access_picks_the_middle(valley):
    access = _zone(valley, strength=False)
    strong = _zone(valley)
    assert access.result.centres == [_code(4)]
    assert strong.result.centres == [_code(2)]
    assert list(access.reasons["reason"]) == ["access"] and list(strong.reasons["reason"]) == ["strongest"]
    pop, T = valley["villages"]["population"].to_numpy(), valley["T"]
    cost = lambda c: float(pop @ T[:, c])  # noqa: E731
    # the price in travel time of the strong centre, and the weakness penalty that outweighs it
    assert cost(2) - cost(4) == pytest.approx((36000 - 31400) * STEP_S)
    pen = strong.centres.table.set_index("code")["penalty"]
    assert pen[_code(4)] > cost(2) - cost(4) and pen[_code(2)] == 0
    assert strong.result.objective == pytest.approx(cost(2))  # the strongest centre carries no penalty
    assert access.result.objective == pytest.approx(cost(4))
    # with the penalty off (κ = 0) strength still limits the candidates but access decides
    cfg = load_config(overrides={"zoning.village_weak_centre_penalty_min": 0.0})
    assert _zone(valley, config=cfg).result.centres == [_code(4)]


def test_a_designated_village_is_always_a_centre(valley):
    weak = _code(8)  # the valley's end: the weakest village, far from everyone
    one = _zone(valley, designated=[weak])
    assert one.result.centres == [weak] and list(one.reasons["reason"]) == ["designated"]
    auto = _zone(valley, designated=[weak], p="auto", member_bounds=None)
    assert weak in auto.result.centres and auto.result.feasible
    r = auto.reasons.set_index("code")
    assert r.at[weak, "reason"] == "designated"
    check_division(valley["villages"], valley["adj"], auto.result.assignment)
    # two designated villages in one group: never fewer zones than designated centres
    two = _zone(valley, designated=[weak, _code(0)], p="size")
    assert {weak, _code(0)} <= set(two.result.centres)


def test_a_relocation_village_is_never_a_centre_even_when_designated(valley):
    v = dict(valley)
    v["villages"] = valley["villages"].assign(
        village_class=np.where(valley["villages"]["code"] == _code(2), RELOCATE_CLASS, "集聚提升"))
    vz = _zone(v, designated=[_code(2)])
    assert _code(2) not in vz.result.centres and vz.result.feasible
    f = [f for f in vz.result.explanation if f.rule == "zoning.village_centres.designated_relocate"]
    assert len(f) == 1 and f[0].feature == _code(2) and f[0].layer == "centres"
    assert "搬迁撤并" in f[0].message("zh") and _code(2) in f[0].message("en")
    assert vz.centres.table.set_index("code").at[_code(2), "status"] == "relocate"
    # and without the designation, the strongest village being 搬迁撤并 still never heads a zone
    for p in ({TOWN: 1}, {TOWN: 2}, "auto"):
        r = _zone(v, p=p, member_bounds=None if p == "auto" else (3, 9))
        assert _code(2) not in r.result.centres and r.result.feasible


def test_listed_and_forbidden_villages(valley):
    weak = _code(8)
    vc = village_centres(valley["villages"], valley["T"], candidates_extra=[weak], forbidden=[_code(2)],
                         facilities=valley["facilities"])
    t = vc.table.set_index("code")
    assert t.at[weak, "status"] == "listed" and t.at[weak, "candidate"]  # below the standard, yet a candidate
    assert t.at[_code(2), "status"] == "forbidden" and not t.at[_code(2), "candidate"]
    vz = _zone(valley, forbidden=[_code(2)])
    assert _code(2) not in vz.result.centres
    # the county's table: village rows (12 digits) by category, township rows left to the township level
    table = pd.DataFrame({"code": [TOWN, _code(1), _code(3), _code(5), "999"],
                          "category": ["县定中心镇", "中心村", "候选中心村", "不作中心", "中心村"]})
    assert centre_lists(table) == {"designated": [_code(1)], "candidates_extra": [_code(3)],
                                   "forbidden": [_code(5)]}
    checked = table.assign(role=["fixed", "fixed", "candidate", "forbidden", "fixed"])  # the plan inputs' form
    assert centre_lists(checked.drop(columns="category")) == centre_lists(table)
    unknown = village_centres(valley["villages"], valley["T"], designated=["511921101999"])
    assert [f.rule for f in unknown.findings] == ["zoning.village_centres.unknown"]


def _grid_township(seed: int):
    """11 villages on a 3 × 4 grid less one corner, roads along the grid with random times,
    random populations, facilities and collective economy; one 搬迁撤并 village."""
    rng = np.random.default_rng(seed)
    cells = [(r, c) for r in range(3) for c in range(4)][:-1]
    n = len(cells)
    codes = np.array([_code(k) for k in range(n)])
    edges = [(a, b) for a in range(n) for b in range(a + 1, n)
             if abs(cells[a][0] - cells[b][0]) + abs(cells[a][1] - cells[b][1]) == 1]
    a, b = np.array(edges).T
    secs = rng.uniform(240, 900, len(edges))
    T = shortest_path(sparse.coo_matrix((secs, (a, b)), shape=(n, n)).tocsr(), directed=False)
    cls = np.full(n, "集聚提升", dtype=object)
    cls[rng.integers(n)] = RELOCATE_CLASS
    villages = pd.DataFrame({"code": codes, "township_code": TOWN, "population": rng.integers(300, 3000, n),
                             "village_class": cls, "facilities": rng.poisson(2, n),
                             "collective_wan": rng.gamma(2.0, 40.0, n)})
    return villages, T, _adjacency(codes, edges), edges


@pytest.mark.parametrize("seed,p,designate", [(1, 3, False), (2, 2, True), (3, 3, True)])
def test_exact_equals_brute_force_under_the_same_objective(seed, p, designate):
    villages, T, adj, edges = _grid_township(seed)
    designated = []
    if designate:  # a weak, eligible village designated
        ok = villages["village_class"] != RELOCATE_CLASS
        designated = [villages.loc[ok, "code"].iloc[int(np.argmin(villages.loc[ok, "population"]))]]
    vz = village_zones(villages, T, adjacency=adj, p={TOWN: p}, member_bounds=(2, 6), designated=designated,
                       time_limit=20, target_gap=0.0)
    t = vz.centres.table
    pos = {c: k for k, c in enumerate(villages["code"])}
    cand = [pos[c] for c in t.loc[t["candidate"], "code"]]
    fixed = [pos[c] for c in designated]
    oracle = Instance(villages["population"].to_numpy(), T, edges, p, candidates=cand, fixed=fixed,
                      member_bounds=(2, 6), open_cost=t["penalty"].to_numpy())
    best, _ = dp_optimum(oracle)
    r = vz.result
    assert math.isfinite(best) and r.status == "optimal"
    assert r.objective == pytest.approx(best, rel=1e-9)
    # the objective is what it says: Σ population × seconds to the centre + the centres' penalties
    pop = villages.set_index("code")["population"]
    access = sum(pop[u] * T[pos[u], pos[c]] for u, c in r.assignment.items())
    pen = t.set_index("code")["penalty"]
    assert r.objective == pytest.approx(access + sum(pen[c] for c in r.centres), rel=1e-9)
    assert set(designated) <= set(r.centres)
    assert not set(villages.loc[villages["village_class"] == RELOCATE_CLASS, "code"]) & set(r.centres)
    assert set(r.centres) <= set(t.loc[t["candidate"], "code"])
    check_division(villages, adj, r.assignment, p)
    # the penalty matters here: access alone picks other centres, or the chosen ones pay a penalty
    free = village_zones(villages, T, adjacency=adj, p={TOWN: p}, member_bounds=(2, 6), designated=designated,
                         strength=False, time_limit=20, target_gap=0.0)
    assert free.result.objective <= access + 1e-6  # the price in travel time of strength, never negative
    assert sorted(free.result.centres) != sorted(r.centres) or any(pen[c] > 0 for c in r.centres)
    # each centre's reason: a centre that is not its zone's strongest candidate names the stronger one
    why = vz.reasons.set_index("code")
    for c in r.centres:
        zone = r.assignment.index[r.assignment == c]
        rivals = t.set_index("code").loc[zone].query("candidate")
        if c in designated:
            assert why.at[c, "reason"] == "designated"
        elif rivals["score"].max() <= t.set_index("code").at[c, "score"]:
            assert why.at[c, "reason"] == "strongest" and why.at[c, "stronger"] == ""
        else:
            assert why.at[c, "reason"] == "nearer" and why.at[c, "stronger"] == rivals["score"].idxmax()
