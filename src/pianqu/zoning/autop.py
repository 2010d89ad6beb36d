"""Automatic number of zones: solve for every p in a range and recommend one by a stated rule.

The rule (``zoning.autop.rule`` in the locale): the smallest p whose zoning brings at least
``zoning.within_share_target`` of the population within the centre-time standard
(``zoning.centre_time_min``; villages ``zoning.village_centre_time_min``) of its centre —
fewer, stronger zones concentrate investment in central towns (seed §二(二)) while the
standard keeps them reachable. When no p in the range reaches the target, the p with the
highest share (the smaller on ties). The default range follows the member bounds:
ceil(n / members_max) … floor(n / members_min). The whole table is returned so the planner
sees what each p costs.

With ``screen=True`` (the default for villages: a county has dozens of groups with up to ~15
values of p each) every p is first divided by the heuristic alone (no bound, a few hundredths
of a second), the rule is applied to those divisions, and only the recommended p is then solved
with the requested method (its row in the table is replaced by the solved division, whose share
may differ a little from the screened one; should the solver find no division, the rule is
applied again). Screened rows say so (``screened``); ``rule_share`` keeps the share the rule saw
for every p (the screened one also for the p then solved). When the quick heuristic divides no p
(tight bounds), the full heuristic tries each; when that fails too, p is solved one by one from
the middle of the range until one divides.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from pianqu.config import Config, load_config
from pianqu.errors import Phrase
from pianqu.zoning import explain, heuristic
from pianqu.zoning.contiguity import adjacency as build_adjacency
from pianqu.zoning.delineate import delineate, relaxed_findings, standard_seconds
from pianqu.zoning.problem import Problem, make_problem
from pianqu.zoning.result import ZoningResult, build_result


@dataclass
class AutoP:
    table: pd.DataFrame  # one row per p
    recommended: int | None
    results: dict[int, ZoningResult] = field(default_factory=dict)
    target: float = 0.0
    screened: bool = False  # the rule was applied to quick heuristic divisions (see module docstring)
    member_bounds_relaxed: bool = False  # no p had a division within the member bounds (see auto_p)

    @property
    def rule(self) -> list[Phrase]:
        """The rule that chose p, as phrases the report says in its language."""
        said = [Phrase("zoning.autop.rule", target=round(self.target * 100))]
        return said + [Phrase("zoning.autop.screened")] if self.screened else said

    @property
    def best(self) -> ZoningResult | None:
        return self.results.get(self.recommended) if self.recommended is not None else None


def p_range(n: int, layer: str = "township", config: Config | None = None) -> range:
    """ceil(n / members_max) … floor(n / members_min), at least 1 and at most n. For villages
    the average zone keeps ``zoning.village_autop_slack`` villages away from either member bound:
    ceil(n / (members_max − slack)) … floor(n / (members_min + slack)) (when that leaves any p),
    so that the automatic choice does not end where every zone is filled to a bound."""
    cfg = config or load_config()
    lo_key, hi_key = (("zoning.village_members_min", "zoning.village_members_max") if layer == "village"
                      else ("zoning.members_min", "zoning.members_max"))
    mlo, mhi = int(cfg[lo_key]), int(cfg[hi_key])
    lo = max(1, math.ceil(n / mhi))
    hi = max(lo, min(n, n // mlo))
    if layer == "village":
        slack = int(cfg["zoning.village_autop_slack"])
        lo2 = max(lo, math.ceil(n / max(mhi - slack, 1)))
        hi2 = min(hi, n // (mlo + slack))
        if lo2 <= hi2:
            lo, hi = lo2, hi2
    return range(lo, hi + 1)


def auto_p(units: pd.DataFrame, travel_s: np.ndarray, *, ps: range | list[int] | None = None,
           layer: str = "township", code: str = "code", county: str | None = "county_code",
           config: Config | None = None, screen: bool | None = None, **kw: Any) -> AutoP:
    """Delineate for each number of zones ``p`` in ``ps`` and recommend one by the policy rule.

    The rule: the smallest p whose division brings ``zoning.within_share_target`` of the
    population within the centre-time standard, else the p with the highest share. The adjacency
    is built once and shared; with ``screen`` every p is first divided by the quick heuristic and
    only the recommended p solved exactly (see the module docstring).

    Parameters
    ----------
    units : DataFrame
        As for :func:`pianqu.delineate`.
    travel_s : numpy.ndarray
        As for :func:`pianqu.delineate`.
    ps : range or list of int, optional
        The numbers of zones to try (default :func:`p_range`: the policy's range for the layer).
    layer : {"township", "village"}, default "township"
        Which standards apply.
    code, county : str
        Column names (``county`` may be None).
    config : pianqu.config.Config, optional
        Thresholds in force (default the shipped ones).
    screen : bool, optional
        Screen with the heuristic first (default: on for ``layer="village"``).
    **kw
        Passed to :func:`pianqu.delineate` (bounds, locks, candidates, method, time_limit …).
        ``relax_member_bounds=True``: when no p of the range has a division within
        ``member_bounds``, the whole range is solved again without them, and the recommended
        division carries the warning ``zoning.member_bounds_relaxed``.

    Returns
    -------
    AutoP
        ``table`` (one row per p: status, objective, share within the standard, recommended),
        ``recommended`` (p or None), ``results`` (p → ZoningResult) and ``best`` (the
        recommended division).
    """
    relax = bool(kw.pop("relax_member_bounds", False))
    bounds = kw.get("member_bounds")
    if kw.get("adjacency") is None:
        kw["adjacency"] = build_adjacency(units, code=code, county=county, travel_s=np.asarray(travel_s, dtype=float),
                                          layer=layer)
    out = _auto_p(units, travel_s, ps=ps, layer=layer, code=code, county=county, config=config, screen=screen, **kw)
    if out.recommended is not None or not relax or bounds is None or tuple(bounds) == (None, None):
        return out
    kw2 = dict(kw, member_bounds=None)
    free = _auto_p(units, travel_s, ps=list(out.table["p"]), layer=layer, code=code, county=county,
                   config=config, screen=screen, **kw2)
    if free.recommended is None:
        return out
    failed = out.results.get(int(out.table["p"].iloc[len(out.table) // 2]))
    cty = units[county].astype(str).iloc[0] if county and county in units.columns and \
        units[county].astype(str).nunique() == 1 else ""
    best = free.best
    if failed is not None:
        best.explanation = relaxed_findings(failed, tuple(bounds), layer, cty) + list(best.explanation)
    best.stats["member_bounds_relaxed"] = True
    free.table["member_bounds"] = "relaxed"
    free.member_bounds_relaxed = True
    return free


def _auto_p(units: pd.DataFrame, travel_s: np.ndarray, *, ps, layer, code, county, config, screen,
            **kw: Any) -> AutoP:
    cfg = config or load_config()
    T = np.asarray(travel_s, dtype=float)
    ps = list(ps if ps is not None else p_range(len(units), layer, cfg))
    if kw.get("adjacency") is None:
        kw["adjacency"] = build_adjacency(units, code=code, county=county, travel_s=T, layer=layer)
    if screen is None:
        screen = layer == "village"
    target = float(cfg["zoning.within_share_target"])
    common = dict(layer=layer, code=code, county=county, config=cfg, **kw)
    if screen:  # one problem for every p: only p differs
        base = make_problem(units, T, ps[0], **{k: v for k, v in common.items() if k in _PROBLEM_KEYS})
        seed = kw.get("seed", 0)
        results = {p: screen_problem(dataclasses.replace(base, p=p), cfg, seed=seed) for p in ps}
        if not any(r.feasible for r in results.values()):  # tight bounds: the full heuristic next
            results = {p: screen_problem(dataclasses.replace(base, p=p), cfg, seed=seed, quick=False)
                       if r.status == "no_solution" else r for p, r in results.items()}
    else:
        results = {p: delineate(units, T, p, **common) for p in ps}
    solved = set() if screen else set(ps)
    seen = {p: _share(r) for p, r in results.items()}  # the shares the rule is applied to
    rec = recommend(results, target)
    if rec is None and screen:
        # no heuristic division for any p: solve p by p from the middle of the range until one divides
        mid = (ps[0] + ps[-1]) / 2.0
        for p in sorted(ps, key=lambda q: (abs(q - mid), q)):
            if results[p].status == "infeasible":
                continue
            results[p] = delineate(units, T, p, **common)
            seen[p] = _share(results[p])
            solved.add(p)
            if results[p].feasible:
                break
        rec = recommend({p: results[p] for p in solved}, target)
    while rec is not None and rec not in solved:  # solve the recommended p (the next one if it fails)
        results[rec] = delineate(units, T, rec, **common)
        solved.add(rec)
        if not results[rec].feasible:
            seen[rec] = np.nan
            rec = recommend(results, target)
    table = pd.DataFrame([_row(p, results[p], p not in solved) for p in ps])
    table["rule_share"] = table["p"].map(seen)
    table["recommended"] = table["p"] == rec
    return AutoP(table, rec, results, target, screened=screen)


def _share(r: ZoningResult) -> float:
    return float(r.stats.get("within_share", np.nan)) if r.feasible else np.nan


def recommend(results: dict[int, ZoningResult], target: float) -> int | None:
    """The rule: the smallest p whose division brings ``target`` of the population within the
    standard, else the p with the highest share (the smaller on ties); None without any division."""
    return recommend_shares({p: _share(r) for p, r in results.items()}, target)


def recommend_shares(shares: dict[int, float], target: float) -> int | None:
    """:func:`recommend` on the shares alone (NaN: no division), e.g. ``AutoP.table["rule_share"]``:
    with screening the rule sees the screened divisions' shares, which the table keeps."""
    share = {p: v for p, v in shares.items() if np.isfinite(v)}
    if not share:
        return None
    meets = [p for p, v in share.items() if v >= target]
    if meets:
        return min(meets)
    best = max(share.values())
    return min(p for p, v in share.items() if v >= best - 1e-12)


def screen_p(units: pd.DataFrame, travel_s: np.ndarray, p: int, *, config: Config | None = None,
             seed: int = 0, **kw: Any) -> ZoningResult:
    """A quick division for ``p`` by the heuristic alone (one start, no exchange, no lower
    bound, at most ``zoning.screen_time_limit_s``): what :func:`auto_p` applies its rule to before
    solving the recommended p. Same keywords as :func:`~pianqu.zoning.delineate.delineate`."""
    cfg = config or load_config()
    prob = make_problem(units, travel_s, p, **{k: v for k, v in kw.items() if k in _PROBLEM_KEYS})
    return screen_problem(prob, cfg, seed=seed)


def screen_problem(prob: Problem, config: Config | None = None, *, seed: int = 0, quick: bool = True) -> ZoningResult:
    """:func:`screen_p` for a prepared problem (``quick=False``: the full heuristic, still within
    ``zoning.screen_time_limit_s``)."""
    cfg = config or load_config()
    t0 = time.perf_counter()
    std = standard_seconds(prob.layer, cfg)
    reasons = explain.precheck(prob)
    if reasons:
        return build_result(prob, None, lower_bound=np.inf, status="infeasible", method="precheck",
                            time_s=time.perf_counter() - t0, standard_s=std, explanation=reasons)
    h = heuristic.solve(prob, time_limit=float(cfg["zoning.screen_time_limit_s"]), seed=seed, bound=False,
                        quick=quick, starts=2)
    ok = h["centre_of"] is not None and h["violation"] == 0
    return build_result(prob, h["centre_of"] if ok else None, lower_bound=-np.inf,
                        status="feasible" if ok else "no_solution", method="screen",
                        time_s=time.perf_counter() - t0, standard_s=std)


def _row(p: int, r: ZoningResult, screened: bool) -> dict:
    z = r.zones
    return {
        "p": p, "status": r.status, "objective": r.objective,
        "mean_time_min": r.stats.get("mean_time_s", np.nan) / 60.0,
        "max_time_min": r.stats.get("max_time_s", np.nan) / 60.0,
        "within_share": r.stats.get("within_share", np.nan), "pop_cv": r.stats.get("pop_cv", np.nan),
        "members_min": int(z["members"].min()) if len(z) else 0,
        "members_max": int(z["members"].max()) if len(z) else 0,
        "gap": r.gap, "time_s": r.time_s, "screened": screened,
    }


_PROBLEM_KEYS = set(inspect.signature(make_problem).parameters) - {"units", "travel_s", "p"}
