"""Automatic p: the whole table, and the recommendation follows the stated rule."""

import numpy as np

from pianqu.config import load_config
from pianqu.zoning import adjacency
from pianqu.zoning.autop import auto_p, p_range


def test_auto_p_table_and_rule(county):
    u, T = county.units, county.travel_s
    cfg = load_config()
    ps = p_range(len(u))
    assert list(ps) == list(range(int(np.ceil(24 / cfg["zoning.members_max"])), 24 // cfg["zoning.members_min"] + 1))
    ap = auto_p(u, T, adjacency=adjacency(u, travel_s=T), member_bounds=(2, None), method="exact")
    assert list(ap.table["p"]) == list(ps)
    assert (ap.table["status"] == "optimal").all()
    # the objective falls as p grows (more centres never hurt, up to the member floor)
    assert ap.table["objective"].is_monotonic_decreasing
    # recompute the share within 30 min from each assignment, then apply the rule by hand
    codes = list(u["code"])
    pop = u["population"].to_numpy(float)
    share = {}
    for p, r in ap.results.items():
        t = np.array([T[codes.index(a), codes.index(c)] for a, c in r.assignment.items()])
        share[p] = pop[[codes.index(a) for a in r.assignment.index]][t <= 1800].sum() / pop.sum()
    assert np.allclose(ap.table["within_share"], [share[p] for p in ap.table["p"]])
    meets = [p for p in ps if share[p] >= cfg["zoning.within_share_target"]]
    expect = min(meets) if meets else min(p for p in ps if share[p] == max(share.values()))
    assert ap.recommended == expect and ap.table["recommended"].sum() == 1
    said = {lang: "".join(p.message(lang) for p in ap.rule) for lang in ("zh", "en")}
    assert "90" in said["zh"] and "90" in said["en"] and said["zh"] != said["en"]
