"""Centre scoring (entropy, TOPSIS, AHP), comparison with the 100 central towns, hierarchy."""

import numpy as np
import pandas as pd
import pytest
from scipy.stats import entropy

from pianqu.zoning import delineate
from pianqu.zoning.centres import (ahp_weights, benchmark_ratios, centre_indicators, entropy_weights,
                                   score_centres, topsis, township_hierarchy, village_hierarchy)


def test_entropy_weights_match_textbook_formula():
    X = np.array([[1.0, 2.0, 7.0], [2.0, 4.0, 7.0], [4.0, 1.0, 7.0], [3.0, 3.0, 7.0]])
    w = entropy_weights(X)
    # independent: min-max normalise, proportions, Shannon entropy / ln m, weights ∝ 1 − e
    Z = (X[:, :2] - X[:, :2].min(0)) / (X[:, :2].max(0) - X[:, :2].min(0))
    e = np.array([entropy(Z[:, k]) / np.log(4) for k in range(2)])
    expect = (1 - e) / (1 - e).sum()
    assert w[2] == 0.0  # a constant criterion tells nothing
    assert np.allclose(w[:2], expect, atol=1e-6)
    assert w.sum() == pytest.approx(1.0)


def test_topsis_by_hand_and_dominance():
    X = np.array([[7.0, 9.0, 9.0], [8.0, 7.0, 8.0], [9.0, 6.0, 8.0], [6.0, 7.0, 8.0]])
    w = np.array([0.5, 0.3, 0.2])
    c = topsis(X, w)
    V = X / np.sqrt((X ** 2).sum(0)) * w
    best, worst = V.max(0), V.min(0)
    expect = [np.linalg.norm(v - worst) / (np.linalg.norm(v - best) + np.linalg.norm(v - worst)) for v in V]
    assert np.allclose(c, expect)
    Y = np.vstack([X, X.max(0) + 1])  # one alternative dominating every other
    assert topsis(Y, w)[-1] == pytest.approx(1.0)
    assert topsis(Y, w, benefit=[False, True, True])[-1] < 1.0


def test_ahp_consistent_inconsistent_and_malformed():
    w = np.array([0.5, 0.3, 0.2])
    A = w[:, None] / w[None, :]
    a = ahp_weights(A)
    assert np.allclose(a.weights, w) and a.cr == pytest.approx(0.0, abs=1e-9) and a.lambda_max == pytest.approx(3)
    # Saaty's example matrix: slightly inconsistent but acceptable
    S = np.array([[1, 3, 5], [1 / 3, 1, 3], [1 / 5, 1 / 3, 1]])
    s = ahp_weights(S)
    assert 0 < s.cr < 0.1 and np.argmax(s.weights) == 0
    bad = pd.DataFrame([[1, 9, 1 / 9], [1 / 9, 1, 9], [9, 1 / 9, 1]], index=["人口", "产值", "设施"],
                       columns=["人口", "产值", "设施"])
    with pytest.raises(ValueError, match=r"CR = \d+\.\d+ > 0\.1.*(人口|产值|设施) vs"):
        ahp_weights(bad)
    with pytest.raises(ValueError, match="not reciprocal"):
        ahp_weights(np.array([[1, 3], [3, 1]]))
    with pytest.raises(ValueError, match="positive"):
        ahp_weights(np.array([[1, -3], [-1 / 3, 1]]))


def test_score_county_and_benchmarks(county):
    u, T = county.units, county.travel_s
    ind = centre_indicators(u, T)
    assert set(ind.columns) >= {"population", "built_up_km2", "gdp_yi", "facilities", "accessibility", "centrality"}
    # accessibility counts the population within 30 min, itself included
    codes = list(u["code"])
    k = 3
    assert ind["accessibility"].iloc[k] == pytest.approx(u["population"].to_numpy()[T[k] <= 1800].sum())
    s = score_centres(ind)
    assert s.method == "entropy" and s.weights.sum() == pytest.approx(1)
    top = s.table.sort_values("rank").iloc[0]
    assert top["score"] == s.table["score"].max() and top["rank"] == 1
    crit = list(s.weights.index)
    X = ind[crit].to_numpy(float)
    assert np.allclose(s.table["score"], topsis(X, entropy_weights(X)))
    # a unit raised to the best value of every criterion becomes the top candidate
    weak = s.table.sort_values("rank")["code"].iloc[-1]
    ind2 = ind.copy()
    ind2.loc[ind2["code"] == weak, crit] = ind[crit].max().to_numpy()
    assert score_centres(ind2).table.set_index("code").loc[weak, "rank"] == 1
    # row order does not matter
    shuffled = score_centres(ind.sample(frac=1, random_state=1)).table.set_index("code")["score"]
    assert np.allclose(shuffled.loc[s.table["code"]], s.table["score"])
    user = score_centres(ind, weights={"population": 1.0})
    assert user.table.sort_values("rank")["code"].iloc[0] == codes[int(np.argmax(u["population"]))]
    crit = ["population", "gdp_yi", "accessibility"]
    ahp = pd.DataFrame([[1, 3, 2], [1 / 3, 1, 1 / 2], [1 / 2, 2, 1]], index=crit, columns=crit)
    a = score_centres(ind, ahp=ahp)
    assert a.method == "ahp" and a.cr < 0.1 and a.weights[["built_up_km2", "facilities", "centrality"]].sum() == 0
    with pytest.raises(ValueError, match="not in the indicators"):
        score_centres(ind, weights={"nope": 1})
    r = benchmark_ratios(pd.DataFrame({"population": [37600, 16000], "built_up_km2": [3.81, 5.0],
                                       "gdp_yi": [30.0, 10.0]}))
    assert r["population_vs_centre_towns"].tolist() == pytest.approx([1.0, 16000 / 37600])
    assert r["meets_centre_average"].tolist() == [True, False]


def test_hierarchy_tiers(county):
    u, T = county.units.copy(), county.travel_s
    res = delineate(u, T, 5, method="exact")
    xiang = next(c for c in res.centres if not u.set_index("code").loc[c, "is_county_seat"])
    u.loc[u["code"] == xiang, "kind"] = "乡"
    tiers, findings = township_hierarchy(u, res.assignment)
    seat = u.loc[u["is_county_seat"], "code"].iloc[0]
    t = tiers.set_index("code")["tier"]
    assert t[seat] == "county_seat"
    assert set(t[t == "central_town"].index) == set(res.centres) - {seat}
    assert (t == "general_town").sum() == len(u) - len(set(res.centres) | {seat})
    assert [(f.rule, f.feature) for f in findings] == [("zoning.hierarchy.centre_is_xiang", xiang)]


def test_village_hierarchy_relocate_rule():
    v = pd.DataFrame({"code": ["a", "b", "c", "d"], "village_class": ["集聚提升", "搬迁撤并", "特色保护", "其他"]})
    assignment = pd.Series({"a": "b", "b": "b", "c": "c", "d": "c"})
    tiers, findings = village_hierarchy(v, assignment)
    assert tiers.set_index("code")["tier"].to_dict() == {"a": "general_village", "b": "central_village",
                                                         "c": "central_village", "d": "general_village"}
    assert sorted((f.rule, f.feature) for f in findings) == [("zoning.hierarchy.relocate_centre", "b"),
                                                           ("zoning.hierarchy.unknown_class", "d")]
