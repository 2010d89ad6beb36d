"""The zone editor (issue 14 item 5, :mod:`pianqu.zoning.edit`) on 510403 西区, synthesised and
planned once per module: the checks against the independent paths (``zones evaluate``'s
evaluator, the services' presence and school-district checks, brute-force contiguity), and
saving as one revision with its history, refused when stale."""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import shutil

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from pianqu.errors import UserKeyError, UserValueError
from pianqu.workspace import Holder, StaleRevisionError, Workspace, scenario_layer
from pianqu.zoning.edit import STRUCTURAL, ZONE_COLUMNS, open_session

SCENARIO = "plan"


@pytest.fixture(scope="module")
def planned(tmp_path_factory):
    """510403 synthesised and planned (p = 2) once for this module: its path."""
    from pianqu.plan import plan
    from pianqu.synth import write_county

    path = tmp_path_factory.mktemp("edit") / "510403.gpkg"
    write_county("510403", path, seed=1)
    plan(Workspace.open(path), SCENARIO, p=2)
    return path


@pytest.fixture(scope="module")
def session(planned):
    """A session on the planned county (read only: tests that save use their own copy)."""
    return open_session(Workspace.open(planned), SCENARIO)


@pytest.fixture
def copy(planned, tmp_path):
    target = tmp_path / planned.name
    shutil.copy2(planned, target)
    return target


def _graph(s) -> nx.Graph:
    g = nx.Graph()
    g.add_nodes_from(s.codes)
    for r in s.instance.adjacency.edges.itertuples(index=False):
        g.add_edge(str(r.code_i), str(r.code_j))
    return g


def _divisions(s) -> list[dict[str, str]]:
    """The saved division, every single move of a township to another zone, and swaps of two."""
    base = s.current()
    zones = sorted(set(base.values()))
    out = [base]
    for c in s.codes:
        for z in zones:
            if z != base[c]:
                out.append({**base, c: z})
    for a, b in itertools.combinations(s.codes, 2):
        if base[a] != base[b]:
            out.append({**base, a: base[b], b: base[a]})
    return out


def _frame(assignment, centres):
    rows = pd.DataFrame({"code": list(assignment), "zone": list(assignment.values())})
    rows["centre"] = rows["zone"].map(centres)
    from pianqu.zoning.evaluate import normalise_division

    return normalise_division(rows, centre="centre")


def test_saved_plan_is_clean_and_matches_its_layer(session, planned):
    ws = Workspace.open(planned)
    check = session.check(session.current())
    assert check.changed == []
    assert (check.delta["change"] == "same").all()
    assert check.new == [] and check.resolved == []
    assert not check.structural
    zone = ws.read("zone", SCENARIO).set_index("zone")
    z = check.zones.set_index("zone")
    assert set(z.index) == set(zone.index.astype(str))
    for col in ("members", "population", "mean_time_min", "max_time_min", "within_share"):
        np.testing.assert_allclose(z[col].astype(float), zone.loc[z.index, col].astype(float), rtol=1e-9)
    assert list(check.zones.columns) == ZONE_COLUMNS


def test_move_to_a_zone_it_does_not_touch_breaks_contiguity(session):
    g = _graph(session)
    base = session.current()
    cases = [(c, z) for c in session.codes for z in set(base.values())
             if z != base[c] and not any(base.get(n) == z for n in g.neighbors(c))]
    assert cases, "the fixture has a township that touches only its own zone"
    for code, zone in cases:
        check = session.move(code, zone)
        assert not check.ok
        hits = [f for f in check.findings if f.rule == "zoning.eval.zone_not_contiguous" and f.feature == zone]
        assert len(hits) == 1 and code in hits[0].params["units"].split("、")
        assert check.changed == [code]
        row = check.zones.set_index("zone").loc[zone]
        assert not row["contiguous"] and row["pieces"] >= 2
        assert any(f.rule == "zoning.eval.zone_not_contiguous" for f in check.new)
        assert check.delta.set_index("measure").loc["noncontiguous_zones", "change"] == "worse"


def test_moving_the_centre_out_leaves_its_zone_without_one(session, copy):
    base = session.current()
    centre = next(z for z in set(base.values()) if sum(v == z for v in base.values()) >= 2)
    other = next(z for z in set(base.values()) if z != centre)
    check = session.move(centre, other)
    assert not check.ok
    probs = [f for f in check.structural if f.feature == centre]
    assert [f.rule for f in probs] == ["zoning.eval.centre_not_member"]
    # naming a member as the new centre repairs it
    member = next(c for c, z in base.items() if z == centre and c != centre)
    fixed = session.check({**base, centre: other}, {centre: member})
    assert not fixed.structural
    assert fixed.centres[centre] == member
    # refused on save, nothing written
    ws = Workspace.open(copy)
    s = open_session(ws, SCENARIO, instance=session.instance)
    before = hashlib.sha256(copy.read_bytes()).hexdigest()
    with pytest.raises(UserValueError) as exc:
        s.save({**base, centre: other}, reason="试", base_revision=s.revision)
    assert "centre" in str(exc.value.params) or exc.value.rule == "zoning.edit.refused"
    assert hashlib.sha256(copy.read_bytes()).hexdigest() == before


def test_check_equals_zones_evaluate_on_every_division(session, planned):
    """The numpy check against the evaluator of ``pianqu zones evaluate`` (pianqu.zoning.evaluate),
    an independent path, on the saved division, every single move and every swap."""
    from pianqu.zoning.compare import compare_division
    from pianqu.zoning.evaluate import Evaluator

    inst = session.instance
    first = True
    divisions = _divisions(session)
    assert len(divisions) > 10
    for a in divisions:
        check = session.check(a)
        frame = _frame(a, check.centres)
        if first:  # once through the very function `pianqu zones evaluate` calls
            ev = compare_division(Workspace.open(planned), frame, scenario=SCENARIO).evaluation()
            first = False
        else:
            ev = Evaluator(inst.units, inst.travel_s, frame, adjacency=inst.adjacency, config=session.cfg).evaluation()
        mine = check.zones.set_index("zone")
        theirs = ev.zones.set_index("zone").loc[mine.index]
        assert (mine["members"].to_numpy() == theirs["members"].to_numpy()).all()
        assert (mine["pieces"].to_numpy() == theirs["pieces"].to_numpy()).all()
        assert list(mine["centre"]) == list(theirs["centre"])
        for col in ("population", "mean_time_min", "max_time_min", "within_share", "compactness"):
            np.testing.assert_allclose(mine[col].astype(float), theirs[col].astype(float), rtol=1e-9, atol=1e-12,
                                       equal_nan=True, err_msg=col)
        for key in ("mean_time_min", "max_time_min", "within_share", "noncontiguous_zones", "zones_without_centre",
                    "errors"):
            want = ev.summary[key]
            got = check.summary[key] if key != "errors" else sum(
                f.severity == "error" and f.rule.startswith("zoning.eval.") for f in check.findings)
            assert (math.isnan(want) and math.isnan(got)) if isinstance(want, float) and math.isnan(want) \
                else got == pytest.approx(want, rel=1e-9), key
        ours = {(f.rule, f.feature) for f in check.findings if f.rule.startswith("zoning.eval.")}
        assert ours == {(f.rule, f.feature) for f in ev.findings if f.rule.startswith("zoning.eval.")}


def test_contiguity_equals_brute_force(session):
    g = _graph(session)
    for a in _divisions(session):
        check = session.check(a)
        for z, row in check.zones.set_index("zone").iterrows():
            members = [c for c, zz in a.items() if zz == z]
            assert row["pieces"] == nx.number_connected_components(g.subgraph(members))


def test_strength_presence_and_districts_equal_the_services_checks(session):
    """Centre strength against pianqu.zoning.choice.centre_strength; facility presence against
    pianqu.services.presence_check; split school districts against services.check_districts."""
    from pianqu.services.common import Zones, prepare_facilities
    from pianqu.services.presence import presence_check, presence_rules
    from pianqu.services.schools import check_districts
    from pianqu.zoning.choice import centre_strength

    inst = session.instance
    inputs = inst.inputs
    villages = inputs.villages
    saved = session.current()
    rules = presence_rules(levels=("zone", "central_town"))
    for a in _divisions(session):
        check = session.check(a)
        if check.structural:
            continue
        z = check.zones.set_index("zone")
        st = centre_strength(inst, list(z["centre"])).set_index("code")
        np.testing.assert_allclose(z["centre_score"].to_numpy(float), st.loc[z["centre"], "score"].to_numpy(float))
        assert list(z["centre_below_standard"]) == list(st.loc[z["centre"], "below_standard"])
        zones = Zones(a, check.centres)
        fac, _ = prepare_facilities(inputs.facilities, townships=inputs.townships, villages=villages, zones=zones)
        pres = presence_check(fac, townships=inputs.townships, villages=villages, zones=zones, rules=rules)
        miss = pres.missing
        for zone, row in z.iterrows():
            want = set(miss.loc[(miss["zone"] == zone) & miss["level"].isin(["zone", "central_town"]), "kind"])
            assert set(filter(None, row["facilities_missing"].split(","))) == want, zone
        ours = {(f.rule, f.feature) for f in check.findings if f.rule.startswith("services.presence.")}
        assert ours == {(f.rule, f.feature) for f in pres.findings}
        vt = villages["township_code"].astype(str)
        dc = check_districts(pd.Series(vt.map(saved).to_numpy(), index=villages["code"].astype(str)),
                             pd.Series(vt.map(a).to_numpy(), index=villages["code"].astype(str)))
        assert {f.feature for f in check.findings if f.rule == "zoning.edit.district_split"} == set(dc.crossing)
        assert check.summary["districts_split"] == len(dc.crossing)


def test_to_dict_is_json_in_both_languages(session):
    base = session.current()
    code = next(iter(base))
    other = next(z for z in set(base.values()) if z != base[code])
    check = session.move(code, other)
    zh, en = check.to_dict("zh"), check.to_dict("en")
    json.dumps(zh, ensure_ascii=False, allow_nan=False)
    json.dumps(en, allow_nan=False)
    assert zh["changed"] == [code] and zh["ok"] == check.ok
    heads_zh = [c["header"] for c in zh["zones"]["columns"]]
    heads_en = [c["header"] for c in en["zones"]["columns"]]
    assert not set(heads_zh) & set(ZONE_COLUMNS) and not set(heads_en) & set(ZONE_COLUMNS)
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in f["message"]) for f in zh["findings"])
    assert not any(any("\u4e00" <= ch <= "\u9fff" for ch in d["label"]) for d in en["delta"])
    assert {d["change"] for d in zh["delta"]} <= {"better", "worse", "same", "changed"}


def test_unknown_township_and_zone_are_clear(session):
    with pytest.raises(UserKeyError):
        session.move("999999999", next(iter(session.current().values())))
    with pytest.raises(UserKeyError):
        session.move(next(iter(session.current())), "no-such-zone")
    check = session.check({**session.current(), "999999999": "x"})
    assert any(f.rule == "zoning.eval.unknown_unit" for f in check.structural)


def _valid_move(session):
    """A move that keeps every zone contiguous and centred (a township on a zone border)."""
    for a in _divisions(session)[1:]:
        c = session.check(a)
        if c.ok and len(c.changed) == 1:
            return a, c
    raise AssertionError("no valid single move in the fixture")


def test_save_writes_one_revision_with_its_history(session, copy):
    ws = Workspace.open(copy)
    s = open_session(ws, SCENARIO, instance=session.instance)
    a, check = _valid_move(s)
    base = s.revision
    revs_before = ws.revisions(None)
    audit_before = len(ws.audit())
    new = s.save(a, reason="片区会议决定调整", base_revision=base, holder=Holder("web", "planner1", 1, "2024-01-01"))
    assert new == base + 1
    ws2 = Workspace.open(copy)
    assert ws2.revision("zone", SCENARIO) == new
    m = ws2.read("zone_member", SCENARIO)
    assert dict(zip(m["township_code"].astype(str), m["zone"].astype(str))) == a
    assert m["is_centre"].sum() == len(set(a.values()))
    zone = ws2.read("zone", SCENARIO)
    assert sorted(zone["zone"].astype(str)) == sorted(set(a.values()))
    assert zone.geometry.is_valid.all()
    audit = ws2.audit().iloc[audit_before:]
    assert set(audit["reason"]) == {"片区会议决定调整"} and set(audit["command"]) == {"zones edit"}
    assert {"zone", "zone_member", "zone_edit"} <= set(audit["layer"])
    hist = ws2.read("zone_edit", SCENARIO)
    assert len(hist) == 1
    row = hist.iloc[0]
    assert (row["user"], row["reason"], row["base_revision"], row["new_revision"]) == \
        ("planner1", "片区会议决定调整", base, new)
    assert row["moved"].split(":")[0] == check.changed[0]
    # only the zone layers moved on; the other tables are untouched
    after = ws2.revisions(None)
    moved = {k for k in after if after[k] != revs_before.get(k, 0)}
    assert moved <= {scenario_layer(n, SCENARIO) for n in ("zone", "zone_member", "hierarchy", "centre_reason",
                                                           "zone_edit")} | {"pianqu_audit"}
    # the session now starts from what it saved; a second edit appends to the history
    assert s.revision == new and s.current() == a and s.check(a).changed == []
    s.save(session.current(), reason="撤回", base_revision=new)
    assert len(Workspace.open(copy).read("zone_edit", SCENARIO)) == 2


def test_stale_base_revision_is_refused_and_nothing_written(session, copy):
    ws = Workspace.open(copy)
    first = open_session(ws, SCENARIO, instance=session.instance)
    second = open_session(Workspace.open(copy), SCENARIO, instance=session.instance)
    a, _ = _valid_move(first)
    base = first.revision
    first.save(a, reason="先保存", base_revision=base)
    before = hashlib.sha256(copy.read_bytes()).hexdigest()
    with pytest.raises(StaleRevisionError) as exc:
        second.save(session.current(), reason="后保存", base_revision=base)
    assert exc.value.changed == {scenario_layer("zone", SCENARIO): (base, base + 1)}
    assert hashlib.sha256(copy.read_bytes()).hexdigest() == before
    assert second.refresh() and second.revision == base + 1 and second.current() == a


def test_empty_reason_is_refused(session, copy):
    s = open_session(Workspace.open(copy), SCENARIO, instance=session.instance)
    with pytest.raises(UserValueError):
        s.save(s.current(), reason="  ", base_revision=s.revision)


def test_a_concurrent_lines_decide_is_not_lost(session, copy):
    from pianqu.land.conflicts import conflict_rules, decide, write_conflicts

    ws = Workspace.open(copy)
    s = open_session(ws, SCENARIO, instance=session.instance)
    other = Workspace.open(copy)  # another planner deciding a conflict meanwhile
    c = other.read("conflict", SCENARIO)
    options = {r.rule: r.options.split("|") for r in conflict_rules().itertuples(index=False)}
    cid, action = next((r.conflict_id, options[r.rule][0]) for r in c.itertuples(index=False)
                       if r.state == "open" and options.get(r.rule) and options[r.rule][0])
    write_conflicts(other, SCENARIO, decide(c, {cid: (action, "会上决定")}), command="lines decide")
    a, _ = _valid_move(s)
    s.save(a, reason="调整片区", base_revision=s.revision)
    after = Workspace.open(copy)
    row = after.read("conflict", SCENARIO).set_index("conflict_id").loc[cid]
    assert (row["action"], row["decision_reason"]) == (action, "会上决定")
    m = after.read("zone_member", SCENARIO)
    assert dict(zip(m["township_code"].astype(str), m["zone"].astype(str))) == a


def test_structural_rules_have_messages():
    from pianqu.i18n import catalogue

    for rule in STRUCTURAL + ("zoning.edit.within_below_target", "zoning.edit.centre_below_standard",
                              "zoning.edit.zone_without_school", "zoning.edit.district_split",
                              "zoning.edit.centre_forbidden", "zoning.edit.fixed_not_centre"):
        for part in ("msg", "do"):
            assert set(catalogue()[f"{rule}.{part}"]) == {"zh", "en"}
