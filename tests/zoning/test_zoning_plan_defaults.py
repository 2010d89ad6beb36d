"""plan()'s zoning defaults come from thresholds.toml (village method and time limit, member
bounds mode, pre-merger groups), on a small workspace with real 简阳市 codes (zoning_workspace)."""

import pytest
import zoning_workspace as zw

import pianqu.zoning.villages as villages_mod
from pianqu.config import CONFIG_NAME, load_config
from pianqu.plan import plan


def _run(tmp_path_factory, monkeypatch, name, toml):
    d = tmp_path_factory.mktemp(name)
    ws = zw.build(d / "ws.gpkg")
    if toml:
        (d / CONFIG_NAME).write_text(toml, encoding="utf-8")
    calls = []
    real = villages_mod.village_zones

    def spy(*a, **kw):
        calls.append({k: kw[k] for k in ("method", "time_limit")})
        return real(*a, **kw)

    monkeypatch.setattr(villages_mod, "village_zones", spy)
    return ws, plan(ws, "plan", services_step=False, land_step=False), calls


def test_defaults_from_thresholds(planned_workspace):
    cfg = load_config()
    ws, r, calls = planned_workspace
    assert calls == [{"method": cfg["zoning.village_method"], "time_limit": cfg["zoning.village_time_limit_s"]}]
    assert (cfg["zoning.village_method"], cfg["zoning.village_time_limit_s"]) == ("auto", 10.0)
    g = r.village_zoning.groups
    assert (g["gap"] <= cfg["zoning.village_target_gap"] + 1e-12).all() and (g["member_bounds"] == "kept").all()
    run = ws.read("plan_run", "plan").iloc[0]
    assert run["village_method"] == "auto" and run["village_max_gap"] == pytest.approx(g["gap"].max())
    # pre-merger group reported, not applied (zoning.keep_pre_merger_together = false) ...
    notes = [f for f in r.findings if f.rule.startswith("zoning.merger")]
    assert [(f.rule, f.params["units"]) for f in notes] == [("zoning.merger.not_kept", "510185003、510185102")]
    a = r.zoning.assignment
    assert a[zw.PAIR[0]] != a[zw.PAIR[1]]  # ... and on this geometry the optimum separates the pair


def test_thresholds_override_defaults_and_keep_the_pair(tmp_path_factory, monkeypatch):
    toml = ('[thresholds]\n"zoning.village_method" = "heuristic"\n"zoning.village_time_limit_s" = 3.0\n'
            '"zoning.keep_pre_merger_together" = true\n')
    ws, r, calls = _run(tmp_path_factory, monkeypatch, "keep", toml)
    assert calls == [{"method": "heuristic", "time_limit": 3.0}]
    a = r.zoning.assignment
    assert a[zw.PAIR[0]] == a[zw.PAIR[1]]
    assert [f.rule for f in r.findings if f.rule.startswith("zoning.merger")] == ["zoning.merger.kept"]
    assert r.zoning.status == "optimal"
    assert ws.read("plan_run", "plan").iloc[0]["village_method"] == "heuristic"
