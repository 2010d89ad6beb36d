"""Member bounds: constraints while some division meets them, dropped with a warning where none
does (zoning.member_bounds_mode = relax, the default), never silently; 'hard' keeps the old
behaviour (infeasible, explained); 'range' does not constrain at all."""

import numpy as np
import pytest
from zoning_helpers import check_division

from pianqu.config import load_config
from pianqu.zoning import adjacency, delineate
from pianqu.zoning.autop import auto_p
from pianqu.zoning.delineate import RELAXED_RULE, member_bounds_for
from pianqu.testing.zoning import synthetic_county, synthetic_villages
from pianqu.zoning.villages import village_zones


def test_modes_from_thresholds():
    cfg = load_config()
    assert cfg["zoning.member_bounds_mode"] == "relax"
    assert member_bounds_for("township", cfg) == ((cfg["zoning.members_min"], cfg["zoning.members_max"]), True)
    assert member_bounds_for("village", cfg, "hard") == (
        (cfg["zoning.village_members_min"], cfg["zoning.village_members_max"]), False)
    assert member_bounds_for("village", cfg, "range") == (None, False)
    with pytest.raises(ValueError, match="member_bounds_mode"):
        member_bounds_for("village", cfg, "soft")


@pytest.fixture(scope="module")
def small():
    inst = synthetic_county(6, seed=4)
    u, T = inst.units, inst.travel_s
    return u, T, adjacency(u, travel_s=T)


def test_delineate_relaxes_only_when_no_division_meets_the_bounds(small):
    u, T, adj = small
    # 6 townships in 2 zones of 4–5: impossible (8 > 6)
    hard = delineate(u, T, 2, adjacency=adj, member_bounds=(4, 5))
    assert hard.status == "infeasible" and hard.explanation and all(f.severity == "error" for f in hard.explanation)
    relaxed = delineate(u, T, 2, adjacency=adj, member_bounds=(4, 5), relax_member_bounds=True)
    free = delineate(u, T, 2, adjacency=adj)
    assert relaxed.status == "optimal" and relaxed.stats["member_bounds_relaxed"]
    assert relaxed.objective == pytest.approx(free.objective)  # the unbounded optimum
    check_division(u, adj, relaxed.assignment, 2)
    first = relaxed.explanation[0]
    assert (first.severity, first.rule, first.params["lo"], first.params["hi"]) == ("warning", RELAXED_RULE, 4, 5)
    # followed by why the bounds could not hold, as information (the same rules as the hard run)
    assert [f.rule for f in relaxed.explanation[1:]] == [f.rule for f in hard.explanation]
    assert all(f.severity == "info" for f in relaxed.explanation[1:])
    assert "4–5" in first.message("zh")
    # bounds that can hold: relaxing changes nothing
    a = delineate(u, T, 2, adjacency=adj, member_bounds=(2, 4))
    b = delineate(u, T, 2, adjacency=adj, member_bounds=(2, 4), relax_member_bounds=True)
    assert a.feasible and b.objective == pytest.approx(a.objective) and "member_bounds_relaxed" not in b.stats
    assert b.zones["members"].between(2, 4).all()


def test_auto_p_relaxes_only_when_no_p_of_the_range_divides(small):
    u, T, adj = small
    hard = auto_p(u, T, adjacency=adj, member_bounds=(4, 5))
    assert hard.recommended is None and not hard.member_bounds_relaxed
    soft = auto_p(u, T, adjacency=adj, member_bounds=(4, 5), relax_member_bounds=True)
    assert soft.recommended in list(hard.table["p"]) and soft.member_bounds_relaxed
    assert (soft.table["member_bounds"] == "relaxed").all()
    assert soft.best.explanation[0].rule == RELAXED_RULE
    ok = auto_p(u, T, adjacency=adj, member_bounds=(2, 5), relax_member_bounds=True)
    assert not ok.member_bounds_relaxed and ok.best.zones["members"].between(2, 5).all()


@pytest.fixture(scope="module")
def tiny_groups():
    """Villages zoned per township: two townships hold only 2 villages (below the floor of 3)."""
    tw = synthetic_county(4, seed=8)
    counts = np.array([2, 9, 2, 10])
    v = synthetic_villages(tw, villages_per_township=counts, seed=9)
    return v.units, v.travel_s, adjacency(v.units, travel_s=v.travel_s, layer="village", county=None)


def test_village_groups_below_the_floor_are_divided_with_a_warning(tiny_groups):
    u, T, adj = tiny_groups
    vz = village_zones(u, T, adjacency=adj)  # default mode: relax
    g = vz.groups.set_index("group")
    small = [c for c, n in u["township_code"].value_counts().items() if n == 2]
    assert set(g.loc[small, "member_bounds"]) == {"relaxed"}
    assert set(g.drop(index=small)["member_bounds"]) == {"kept"}
    assert g["status"].isin(["optimal", "feasible"]).all()
    check_division(u, adj, vz.result.assignment)
    warned = sorted(f.feature for f in vz.result.explanation if f.rule == RELAXED_RULE)
    assert warned == sorted(small)
    for grp in g.drop(index=small).index:  # where the bounds held, they hold
        assert vz.parts[grp].zones["members"].between(3, 8).all()

    hard = village_zones(u, T, adjacency=adj, bounds_mode="hard")
    hg = hard.groups.set_index("group")
    assert set(hg.loc[small, "status"]) == {"infeasible"}
    assert any(f.rule.startswith("zoning.infeasible") and f.severity == "error" for f in hard.result.explanation)

    rng = village_zones(u, T, adjacency=adj, bounds_mode="range")
    assert set(rng.groups["member_bounds"]) == {"not used"} and rng.groups["status"].isin(["optimal", "feasible"]).all()
