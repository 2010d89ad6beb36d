"""Central towns chosen by strength (issue 17): a small county written here whose strongest town
lies off its population centre — access alone picks another centre, the strength-aware rule
picks the strong town, a designated town is always a centre, a 不作中心 town never — and the
exact division equals an independent brute force (every partition into connected blocks, each
block's best centre, under the same objective: population × time + the opening cost of every
centre) on ≤ 11 units, for the MIP and (never better than it) the heuristic."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from zoning_brute import Instance, dp_optimum
from zoning_helpers import check_division

from pianqu.config import load_config
from pianqu.inputs import designated_centres
from pianqu.testing.zoning import synthetic_county
from pianqu.zoning import adjacency, heuristic
from pianqu.zoning.centres import CentreScores
from pianqu.zoning.choice import centre_reasons, centre_strength, compare_rules
from pianqu.zoning.instance import ZoningInstance, solve
from pianqu.zoning.problem import make_problem
from pianqu.zoning.strength import open_costs

GK = 4543
SIZE = 5000.0  # m, side of a township
SPEED = 40 / 3.6  # m/s


def line_county(pops, ranks):
    """Townships in a row of 5 km squares; seats at the centres, drive time = distance × 1.3 at 40 km/h."""
    n = len(pops)
    polys = [shapely.box(400_000 + k * SIZE, 3_300_000, 400_000 + (k + 1) * SIZE, 3_300_000 + SIZE) for k in range(n)]
    codes = [f"51192110{k}" for k in range(n)]
    units = gpd.GeoDataFrame({"code": codes, "name": [f"第{k}镇" for k in range(n)], "kind": "镇",
                              "population": np.asarray(pops, dtype=float), "is_county_seat": False,
                              "county_code": "511921"}, geometry=polys, crs=GK).to_crs(4490)
    x = (np.arange(n) + 0.5) * SIZE
    T = np.abs(x[:, None] - x[None, :]) * 1.3 / SPEED
    ranks = np.asarray(ranks)
    scores = pd.DataFrame({"code": codes, "score": 1.0 - (ranks - 1) / n, "rank": ranks})
    return units, T, scores


def instance_of(units, T, scores, designated=None, rule="strength", **overrides):
    cfg = load_config(overrides=overrides or None)
    return ZoningInstance(units, T, adjacency(units, travel_s=T), None, None, False, [], cfg,
                          scores=CentreScores(scores, pd.Series(dtype=float), "user"), designated=designated,
                          centre_rule=rule)


def designation(rows):
    """A checked centres table as pianqu.inputs.designated_centres makes it."""
    return pd.DataFrame([{"code": c, "name": "", "category": cat, "reason": "", "level": "township", "role": role,
                          "source_file": "中心镇名单.csv", "source_row": k + 2}
                         for k, (c, cat, role) in enumerate(rows)],
                        columns=["code", "name", "category", "reason", "level", "role", "source_file", "source_row"])


# 9 townships: most people in the middle (第4镇, a weak town); the strongest town 第2镇 two
# townships west of it; the other towns that meet the standard (ranks ≤ 5) at the ends
POPS = [3000, 3000, 4000, 6000, 30000, 6000, 4000, 3000, 3000]
RANKS = [2, 3, 1, 8, 9, 7, 6, 4, 5]


def test_access_picks_the_population_centre_strength_the_strong_town():
    units, T, scores = line_county(POPS, RANKS)
    inst = instance_of(units, T, scores)
    access = solve(inst, 1, centre_rule="access")
    strong = solve(inst, 1, centre_rule="strength")
    assert access.centres == ["511921104"]  # the weak town in the middle
    assert strong.centres == ["511921102"]  # the strongest town, off the population centre
    assert strong.status == "optimal" and strong.stats["centre_rule"] == "strength"
    assert strong.stats["mean_time_s"] > access.stats["mean_time_s"]  # the price of strength, in time
    # the objective alone (every town a candidate): λ = 0 is access, a heavy weight the strong town
    free = instance_of(units, T, scores, **{"zoning.centre_strength_top_share": 1.0, "zoning.centre_weakness_min": 0.0})
    assert solve(free, 1).centres == ["511921104"]
    heavy = instance_of(units, T, scores, **{"zoning.centre_strength_top_share": 1.0, "zoning.centre_weakness_min": 60.0})
    assert solve(heavy, 1).centres == ["511921102"]
    why = centre_reasons(inst, strong).set_index("code")
    assert why.loc["511921102", "reason"] == "strongest_in_zone"
    assert centre_reasons(inst, access).set_index("code").loc["511921104", "reason"] == "access_only"


def test_designated_town_is_always_a_centre_and_a_forbidden_one_never():
    units, T, scores = line_county(POPS, RANKS)
    d = designation([("511921103", "县定中心镇", "fixed"), ("511921102", "不作中心", "forbidden")])
    inst = instance_of(units, T, scores, designated=d)
    for p in (1, 2, 3):
        for rule in ("strength", "designated"):
            r = solve(inst, p, centre_rule=rule)
            assert r.feasible
            check_division(units, inst.adjacency, r.assignment, p)
            assert "511921103" in r.centres  # weak (rank 8), but designated
            assert "511921102" not in r.centres  # strongest, but ruled out by the county
    reasons = centre_reasons(inst, solve(inst, 2)).set_index("code")
    assert reasons.loc["511921103", "reason"] == "designated" and reasons.loc["511921103", "category"] == "县定中心镇"
    table, results = compare_rules(inst, 2)
    assert list(table["rule"]) == ["access", "strength", "designated"]
    row = table.set_index("rule")
    assert row.loc["strength", "weak_centres"] == 0  # the designated weak town is not counted as weak
    assert row.loc["access", "extra_mean_time_min"] == 0
    assert (row["mean_time_min"] >= row.loc["access", "mean_time_min"] - 1e-9).all()  # access is the fastest
    # without a list the designated plan is said to be missing
    table, _ = compare_rules(instance_of(units, T, scores), 2)
    assert table.set_index("rule").loc["designated", "status"] == "missing"


def _brute(units, T, scores, cfg, p, designated):
    """The optimum from the problem statement alone: candidates = rank ≤ ceil(share·n) or listed,
    fixed = listed fixed, forbidden = 不作中心, opening cost = λ·60·W·(rank−1)/(n−1)."""
    n = len(units)
    share, lam = float(cfg["zoning.centre_strength_top_share"]), float(cfg["zoning.centre_weakness_min"])
    ranks = scores["rank"].to_numpy()
    codes = list(units["code"])
    fixed = [codes.index(c) for c, r in zip(designated["code"], designated["role"]) if r == "fixed"]
    listed = [codes.index(c) for c, r in zip(designated["code"], designated["role"]) if r == "candidate"]
    forbidden = [codes.index(c) for c, r in zip(designated["code"], designated["role"]) if r == "forbidden"]
    cands = [k for k in range(n) if ranks[k] <= math.ceil(share * n)] + fixed + listed
    cost = lam * 60 * units["population"].sum() * (ranks - 1) / (n - 1)
    adj = adjacency(units, travel_s=T)
    inst = Instance(units["population"], T, adj.edges[["i", "j"]].to_numpy(), p, candidates=cands, fixed=fixed,
                    forbidden=forbidden, open_cost=cost)
    return dp_optimum(inst)


@pytest.mark.parametrize("trial", range(6))
def test_exact_equals_brute_force(trial):
    rng = np.random.default_rng(trial)
    n = int(rng.integers(7, 12))
    county = synthetic_county(n, seed=40 + trial)
    units = county.units.copy()
    T = county.travel_s * rng.lognormal(0, 0.3, (n, n))
    np.fill_diagonal(T, 0)
    ranks = rng.permutation(n) + 1
    scores = pd.DataFrame({"code": units["code"], "score": 1 - ranks / n, "rank": ranks})
    codes = list(units["code"])
    rows = []
    if trial % 2:
        weak = int(np.argmax(ranks))
        rows.append((codes[weak], "县定中心镇", "fixed"))
        strongest = int(np.argmin(ranks))
        rows.append((codes[strongest], "不作中心", "forbidden"))
    d = designation(rows)
    lam = [1.0, 3.0, 10.0][trial % 3]
    inst = instance_of(units, T, scores, designated=d, **{"zoning.centre_weakness_min": lam})
    solved = 0
    for p in (1, 2, 3):
        best, _ = _brute(units, T, scores, inst.config, p, d)
        r = solve(inst, p, method="exact", time_limit=30)
        if not np.isfinite(best):
            assert not r.feasible or any(f.rule == "zoning.strength.widened" for f in r.explanation)
            continue
        assert r.status == "optimal"
        assert r.objective == pytest.approx(best, rel=1e-7)
        solved += 1
        check_division(units, inst.adjacency, r.assignment, p)
        h = solve(inst, p, method="heuristic", time_limit=5)
        assert h.feasible and h.objective >= best * (1 - 1e-9)
        # the objective is what it says: Σ population × time + the centres' opening costs
        oc = open_costs(units, scores, inst.config)
        pos = {c: k for k, c in enumerate(codes)}
        for res in (r, h):
            direct = sum(units["population"].iloc[pos[u]] * T[pos[u], pos[c]] for u, c in res.assignment.items())
            assert res.objective == pytest.approx(direct + sum(oc[c] for c in res.centres), rel=1e-9)
        # the Lagrangian bound with opening costs is a bound
        choice = inst.centre_choice("strength", p)
        prob = make_problem(units, T, p, adjacency=inst.adjacency, **choice.kwargs())
        lb, _ = heuristic.lagrangian_bound(prob, r.objective * 1.5)
        assert lb <= best * (1 + 1e-9)
    assert solved >= 2


def test_centre_strength_flags_a_hand_made_division():
    units, T, scores = line_county(POPS, RANKS)
    d = designation([("511921103", "县定中心镇", "fixed")])
    inst = instance_of(units, T, scores, designated=d)
    st = centre_strength(inst, ["511921104", "511921103", "511921102"]).set_index("code")
    assert list(st["rank"]) == [9, 8, 1]
    assert list(st["meets_standard"]) == [False, False, True]
    assert list(st["below_standard"]) == [True, False, False]  # the designated town is not below
    assert st.loc["511921103", "category"] == "县定中心镇"


def test_designated_centres_are_checked_and_matched():
    towns = pd.DataFrame({"code": ["511921101", "511921102", "511921103"], "name": ["诺江镇", "民胜镇", "火炬镇"]})
    villages = pd.DataFrame({"code": ["511921101001", "511921102001"], "name": ["白坪村", "白坪村"]})
    table = pd.DataFrame({
        "code": [None, "511921102", "511921999", None, "511921103", "511921103", None, "511921101", None],
        "name": ["诺江", None, "无名镇", "白坪村", None, None, "火炬镇", None, "广纳镇"],
        "category": ["县定中心镇", "省级百强中心镇", "县定中心镇", "中心村", "县定中心镇", "不作中心", "候选中心镇",
                     "重要镇", "县定中心镇"],
        "reason": [""] * 9, "source_file": "中心镇名单.xlsx", "source_row": range(2, 11)})
    out, findings = designated_centres(table, towns, villages)
    rules = sorted((f.rule.split(".")[-1], f.params.get("row", f.params.get("rows"))) for f in findings)
    assert ("unknown_code", 4) in rules  # 511921999 is no township of the county
    assert ("ambiguous_name", 5) in rules  # two villages are called 白坪村
    assert ("unknown_category", 9) in rules  # 重要镇
    assert ("unknown_name", 10) in rules  # 广纳镇 is not in the layer
    assert ("forbidden_fixed", "6、7、8") in rules  # 火炬镇 fixed on rows 6 and 8, 不作中心 on row 7
    assert all(f.source == "中心镇名单.xlsx" and f.layer == "centres" for f in findings)
    assert all(f.message("zh") and f.action("en") for f in findings)
    assert out.set_index("code")["role"].to_dict() == {"511921101": "fixed", "511921102": "fixed"}
    assert out.set_index("code").loc["511921101", "source_row"] == 2  # matched by name without its 镇
