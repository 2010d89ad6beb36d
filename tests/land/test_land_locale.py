"""Every message the land engine emits exists in Chinese and English and renders."""

import re
from pathlib import Path

import pandas as pd
import pytest

import land_fixtures as F
from pianqu.i18n import catalogue, t
from pianqu.land import workflow as wf
from pianqu.land.change import change_pieces, simulate_epoch, ticket_findings, violation_tickets
from pianqu.land.conflicts import conflict_findings, detect_conflicts
from pianqu.land.quota import allocate_quotas
from pianqu.land.sizing import expansion_ratio, reserve_share
from pianqu.land.spaces import three_spaces

SRC = Path(__file__).resolve().parents[2] / "src" / "pianqu" / "land"
RULE = re.compile(r'"(land\.[a-z_.]+)"')


def test_every_rule_literal_has_both_languages():
    cat = catalogue()
    keys = set()
    for path in SRC.glob("*.py"):
        keys |= set(RULE.findall(path.read_text(encoding="utf-8")))
    rules = {k for k in keys if not k.endswith(".") and k.count(".") >= 2
             and not k.startswith(("land.expansion", "land.reserve_quota", "land.conflict_min", "land.change_",
                                   "land.fragment", "land.homestead", "land.scattered", "land.grain_",
                                   "land.siting_", "land.steep"))}
    assert rules, "the pattern found no message keys"
    for k in sorted(rules):
        if k in cat:  # a plain message
            continue
        assert f"{k}.msg" in cat and f"{k}.do" in cat, k
    for k in ("land.quota.binding_land_budget", "land.quota.binding_pbf_le_farmland",
              "land.quota.binding_village_le_urban_rural", "land.quota.binding_urban_rural_le_construction"):
        assert f"{k}.msg" in cat  # built with an f-string in quota.py
    for key in ("land.line.", "land.status.", "land.space.", "land.verdict."):
        assert any(k.startswith(key) for k in cat)


def test_findings_render_in_both_languages(zones, lines):
    c = F.county()
    findings = []
    findings.append(expansion_ratio(c["urban_boundary"], c["landuse"], epsg=F.EPSG).finding)
    findings.append(reserve_share(1e6, 1e6).finding)
    lu = c["landuse"]
    findings += three_spaces(lu[lu["village_code"] != lu["village_code"].iloc[-1]], lines, zones, epsg=F.EPSG).findings
    cap = pd.DataFrame({"area_m2": [100.0, 100.0], "farmland_cap_m2": [50.0, 20.0], "redline_cap_m2": [60.0, 70.0]},
                       index=["A", "B"])
    findings += allocate_quotas(cap, {"farmland": 80.0, "redline": 120.0, "construction": 30.0}).explanation
    conf = detect_conflicts({**lines, "reserve": c["reserve"]})
    cf = conflict_findings(conf)
    assert len(cf) == len(conf) and {f.rule for f in cf} == {f"land.conflict.{r}" for r in conf["rule"]}
    findings += cf
    after, approvals, truth = simulate_epoch(c["landuse"], seed=1, n_conversions=6, approvals_share=0.5)
    tf = ticket_findings(violation_tickets(change_pieces(c["landuse"], after), approvals=approvals))
    assert len(tf) == 3 and all(f.severity == "error" for f in tf)
    findings += tf
    assert {f.rule for f in findings} >= {"land.sizing.expansion_exceeded", "land.sizing.reserve_exceeded",
                                          "land.spaces.unclassified", "land.quota.target_unreachable"}
    for f in findings:
        for lang in ("zh", "en"):
            assert f.message(lang) and f.action(lang)
    for line in wf.CONTROL_LINES:
        assert t(f"land.line.{line}", "zh") != t(f"land.line.{line}", "en")
    with pytest.raises(wf.WorkflowError) as e:
        wf.finalise(wf.initial_status(), "urban_boundary")
    assert "城镇开发边界" in e.value.message("zh") and "urban development boundary" in e.value.message("en")
