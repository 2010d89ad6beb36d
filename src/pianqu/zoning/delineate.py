"""Zone delineation: choose p centres and assign every unit to one, each zone contiguous and
holding its centre, minimising population-weighted travel time to the centre.

One entry point for every method (like spopt's solvers): :func:`delineate` takes a frame of
units and a travel-time matrix and returns a :class:`~pianqu.zoning.result.ZoningResult`.
``method="exact"`` proves optimality with a MIP (HiGHS, :mod:`~pianqu.zoning.exact`) for
county-size instances and brings village groups within ``zoning.village_target_gap``;
``"heuristic"`` (multi-start growth, repair, chains of moves, local search) answers in a
fraction of the time, with the LP bound of the exact path up to ``zoning.exact_max_units`` units
and a Lagrangian lower bound beyond; ``"auto"`` picks by size (``zoning.exact_max_units``).
Either way the heuristic runs first: its solution seeds the MIP, and when the root bound already
meets it the MIP is skipped.
"""

from __future__ import annotations

import time
from typing import Iterable, Mapping

import geopandas as gpd
import numpy as np
import pandas as pd

from pianqu.config import Config, load_config
from pianqu.findings import Finding
from pianqu.zoning import exact, explain, heuristic
from pianqu.zoning.contiguity import Adjacency, adjacency as build_adjacency
from pianqu.zoning.problem import Problem, make_problem
from pianqu.zoning.result import ZoningResult, build_result, relative_gap

METHODS = ("auto", "exact", "heuristic")
BOUND_MODES = ("hard", "relax", "range")
RELAXED_RULE = "zoning.member_bounds_relaxed"


def member_bounds_for(layer: str, config: Config | None = None, mode: str | None = None
                      ) -> tuple[tuple[int, int] | None, bool]:
    """The member bounds to solve with and whether to relax them, from ``zoning.member_bounds_mode``.

    ``hard``: the bounds are constraints; a county or group they make infeasible gets no division
    (the explanation names the bound). ``relax`` (default): constraints as long as some division
    meets them; where none does, that county or group is divided without them and a warning
    (``zoning.member_bounds_relaxed``) says so. ``range``: no constraint at all; the bounds only
    set the automatic p range and the evaluation warnings. Township level:
    ``zoning.members_min/max``; village level: ``zoning.village_members_min/max``.
    """
    cfg = config or load_config()
    mode = str(cfg["zoning.member_bounds_mode"] if mode is None else mode)
    if mode not in BOUND_MODES:
        raise ValueError(f"zoning.member_bounds_mode must be one of {BOUND_MODES}, got {mode!r}")
    keys = (("zoning.village_members_min", "zoning.village_members_max") if layer == "village"
            else ("zoning.members_min", "zoning.members_max"))
    bounds = (int(cfg[keys[0]]), int(cfg[keys[1]]))
    return (None, False) if mode == "range" else (bounds, mode == "relax")


def relaxed_findings(failed: ZoningResult, bounds: tuple[int | None, int | None], layer: str,
                     feature: str = "") -> list[Finding]:
    """A warning that the member bounds were dropped, then why they could not hold (the failed
    run's explanation, as information)."""
    lo, hi = bounds
    warn = Finding("warning", RELAXED_RULE, layer, feature, "members",
                   {"lo": lo if lo is not None else 1, "hi": hi if hi is not None else "∞", "p": failed.p,
                    "status": failed.status})
    return [warn] + [Finding("info", f.rule, f.layer, f.feature, f.field, f.params, f.source)
                     for f in failed.explanation]


def delineate(units: gpd.GeoDataFrame | pd.DataFrame, travel_s: np.ndarray, p: int | Mapping[str, int], *,
              code: str = "code", population: str = "population", county: str | None = "county_code",
              candidates: Iterable[str] | str | None = None, fixed_centres: Iterable[str] = (),
              forbidden_centres: Iterable[str] = (), locked: Mapping[str, str] | None = None,
              pop_bounds: tuple[float | None, float | None] | None = None,
              member_bounds: tuple[int | None, int | None] | None = None,
              keep_together: Iterable[Iterable[str]] = (), max_travel_s: float | None = None,
              adjacency: Adjacency | None = None, method: str = "auto", time_limit: float | None = None,
              seed: int = 0, layer: str = "township", contiguity: str = "cuts",
              village_class: str | None = "village_class", threads: int | None = None,
              target_gap: float | None = None, config: Config | None = None,
              relax_member_bounds: bool = False, open_cost: Mapping[str, float] | None = None) -> ZoningResult:
    """Divide ``units`` into ``p`` contiguous zones around centres.

    The objective is the population-weighted travel time from each unit's seat to its zone's
    centre; the exact method (a MIP on HiGHS) proves its gap, the heuristic gives a Lagrangian
    lower bound.

    Parameters
    ----------
    units : GeoDataFrame or DataFrame
        One row per township (or village): ``code``, ``population``, polygons (or give
        ``adjacency``), optionally ``county_code`` (zones never cross it) and ``village_class``
        (a 搬迁撤并 village is never a centre). :func:`pianqu.township_units` makes them.
    travel_s : numpy.ndarray
        Seconds from each unit's seat (row) to each unit's seat (column), in the order of
        ``units``; ``inf`` where there is no road.
    p : int or mapping of str to int
        Number of zones, or county code → number of zones (counties solved separately).
    code, population, county : str
        Column names (``county`` may be None).
    candidates : iterable of str, str or None
        Codes (or the name of a boolean column) of units that may be centres; default all.
    fixed_centres, forbidden_centres : iterable of str
        Codes that must / must not be centres.
    locked : mapping of str to str, optional
        Unit code → code of the centre it must belong to (that centre becomes fixed).
    pop_bounds, member_bounds : tuple of (low, high), optional
        Population and number of members per zone; None for no bound.
    keep_together : iterable of iterables of str
        Groups of codes that must share a zone (e.g. one pre-2019 township).
    max_travel_s : float, optional
        No unit farther than this from its centre.
    adjacency : Adjacency, optional
        The contiguity graph (default built from the polygons, :func:`pianqu.adjacency`).
    method : {"auto", "exact", "heuristic"}, default "auto"
        Solver.
    time_limit : float, optional
        Seconds (default ``zoning.time_limit_s``).
    seed : int, default 0
        Seed of the heuristic.
    layer : {"township", "village"}, default "township"
        Which standards apply (centre-time standard, target gap) and what findings name.
    contiguity : str, default "cuts"
        How the exact model keeps zones contiguous: ``cuts`` (lazy separator cuts) or ``flow``.
    village_class : str or None, default "village_class"
        Column of the 村庄分类; a 搬迁撤并 village is never a centre (None to ignore).
    threads : int, optional
        Solver threads.
    target_gap : float, optional
        The exact method stops once its division is proven within this relative gap of the
        optimum (default ``zoning.mip_rel_gap``; for villages ``zoning.village_target_gap``).
        The status says ``optimal`` only within ``zoning.mip_rel_gap``, else ``feasible``.
    config : pianqu.config.Config, optional
        Thresholds in force (default the shipped ones).
    relax_member_bounds : bool, default False
        When no division within ``member_bounds`` exists, divide without them and say so with a
        warning (``zoning.member_bounds_relaxed``, followed by why they could not hold).
    open_cost : mapping of str to float, optional
        Unit code → person-seconds added to the objective when the unit is a centre (the weakness
        of a centre weighed against access: :func:`pianqu.zoning.strength.open_costs`); default 0.

    Returns
    -------
    ZoningResult
        ``assignment`` (unit code → centre code), ``centres``, ``zones`` (per zone: members,
        population, mean/max time to the centre, share within the standard), ``status``
        (``optimal`` / ``feasible`` / ``infeasible`` / ``no_solution``), ``objective``,
        ``lower_bound``, ``gap`` and ``explanation`` (why infeasible, and notes).

    Examples
    --------
    >>> result = pianqu.delineate(units, T, 3)                              # doctest: +SKIP
    >>> result.status, result.centres                                       # doctest: +SKIP
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    cfg = config or load_config()
    limit = float(cfg["zoning.time_limit_s"] if time_limit is None else time_limit)
    if isinstance(p, Mapping):
        return _per_county(units, travel_s, p, code=code, population=population, county=county,
                           candidates=candidates, fixed_centres=fixed_centres, forbidden_centres=forbidden_centres,
                           locked=locked, pop_bounds=pop_bounds, member_bounds=member_bounds,
                           keep_together=keep_together, max_travel_s=max_travel_s, adjacency=adjacency,
                           method=method, time_limit=limit, seed=seed, layer=layer, contiguity=contiguity,
                           village_class=village_class, threads=threads, target_gap=target_gap, config=cfg,
                           relax_member_bounds=relax_member_bounds, open_cost=open_cost)
    problem_kw = dict(code=code, population=population, county=county, candidates=candidates,
                      fixed_centres=fixed_centres, forbidden_centres=forbidden_centres, locked=locked,
                      pop_bounds=pop_bounds, keep_together=keep_together, max_travel_s=max_travel_s,
                      adjacency=adjacency, village_class=village_class, layer=layer, open_cost=open_cost)
    solve_kw = dict(method=method, time_limit=limit, seed=seed, contiguity=contiguity, threads=threads, config=cfg,
                    target_gap=target_gap)
    prob = make_problem(units, travel_s, p, member_bounds=member_bounds, **problem_kw)
    result = solve_problem(prob, **solve_kw)
    if result.feasible or not relax_member_bounds or member_bounds is None or member_bounds == (None, None):
        return result
    free = solve_problem(make_problem(units, travel_s, p, member_bounds=None, **problem_kw), **solve_kw)
    if not free.feasible:
        return result
    where = str(prob.county_codes[0]) if len(prob.county_codes) == 1 else ""
    free.explanation = relaxed_findings(result, member_bounds, layer, where) + list(free.explanation)
    free.stats["member_bounds_relaxed"] = True
    return free


def standard_seconds(layer: str, cfg: Config) -> float:
    """The centre travel-time standard of a layer (township: 30 min, village: 15 min)."""
    key = "zoning.village_centre_time_min" if layer == "village" else "zoning.centre_time_min"
    return float(cfg[key]) * 60.0


def solve_problem(prob: Problem, *, method: str = "auto", time_limit: float = 60.0, seed: int = 0,
                  contiguity: str = "cuts", threads: int | None = None, config: Config | None = None,
                  explain_infeasible: bool = True, target_gap: float | None = None) -> ZoningResult:
    """Solve a prepared :class:`Problem` (see :func:`delineate`)."""
    cfg = config or load_config()
    t0 = time.perf_counter()
    std = standard_seconds(prob.layer, cfg)
    tol = float(cfg["zoning.mip_rel_gap"])
    if target_gap is None:
        target_gap = float(cfg["zoning.village_target_gap"]) if prob.layer == "village" else tol
    stop = max(tol, float(target_gap))
    reasons = explain.precheck(prob)
    if reasons:
        return build_result(prob, None, lower_bound=np.inf, status="infeasible", method="precheck",
                            time_s=time.perf_counter() - t0, standard_s=std, explanation=reasons)
    if method == "auto":
        method = "exact" if prob.n <= int(cfg["zoning.exact_max_units"]) else "heuristic"
    # up to zoning.exact_max_units the bound is the LP relaxation with separator rows (also for
    # the heuristic: far stronger than the Lagrangian bound, which is the LP bound of the
    # p-median without contiguity or bounds, at about the same cost); beyond, the Lagrangian one
    lp_bound = prob.n <= int(cfg["zoning.exact_max_units"])
    h_limit = (0.6 if lp_bound else 1.0) * time_limit if method == "heuristic" else \
        min(max(0.2, 0.05 * time_limit), 2.0)
    h = heuristic.solve(prob, time_limit=h_limit, seed=seed, starts=8 if method == "heuristic" else 2,
                        bound=method == "heuristic" and not lp_bound)
    h_ok = h["centre_of"] is not None and h["violation"] == 0
    lb = h["lower_bound"]
    stats = {"heuristic_objective": h["objective"] if h_ok else np.inf, "heuristic_s": h["time_s"],
             "lagrangian_bound": lb}
    if h_ok and relative_gap(h["objective"], lb) <= tol:
        _verify(prob, h["centre_of"])
        return build_result(prob, h["centre_of"], lower_bound=lb, status="optimal", method=f"{method}:lagrangian",
                            time_s=time.perf_counter() - t0, standard_s=std, stats=stats)
    if method == "heuristic":
        label = "heuristic"
        centre_of, obj = (h["centre_of"], h["objective"]) if h_ok else (None, np.inf)
        if lp_bound:
            left = max(time_limit - (time.perf_counter() - t0), 0.5)
            m = exact.solve(prob, time_limit=left, start=centre_of, threads=threads, mip=False)
            stats.update({"root_bound": m["root_bound"], "root_rounds": m["root_rounds"],
                          "root_cuts": m["root_cuts"], "polished": m["polished"]})
            lb, label = m["lower_bound"], "heuristic:lp"
            if m["centre_of"] is not None and m["objective"] < obj:
                centre_of, obj = m["centre_of"], m["objective"]
            if m["infeasible"]:
                return build_result(prob, None, lower_bound=np.inf, status="infeasible", method=label,
                                    time_s=time.perf_counter() - t0, standard_s=std, stats=stats,
                                    explanation=explain.diagnose(prob, lambda q: _quick_feasible(q, cfg))
                                    if explain_infeasible else [])
        if centre_of is not None:
            _verify(prob, centre_of)
            status = "optimal" if relative_gap(obj, lb) <= tol * 1.01 + 1e-12 else "feasible"
            return build_result(prob, centre_of, lower_bound=min(lb, obj), status=status, method=label,
                                time_s=time.perf_counter() - t0, standard_s=std, stats=stats)
        # the heuristic found no division that meets every rule: that proves nothing, so the
        # exact search decides (a division, or proof that none exists), and the result says so
        fallback = [Finding("warning", "zoning.heuristic_fallback", prob.layer, "", "",
                            {"p": prob.p, "seconds": round(time.perf_counter() - t0, 2)})]
        stats["heuristic_fallback"] = True
    else:
        fallback = []
    left = max(time_limit - (time.perf_counter() - t0), 0.5)
    m = exact.solve(prob, time_limit=left, mip_rel_gap=stop, start=h["centre_of"] if h_ok else None,
                    threads=threads, contiguity=contiguity)
    stats.update({"mip_status": m["status"], "mip_nodes": m["nodes"], "mip_rounds": m["rounds"],
                  "mip_cuts": m["cuts"], "mip_size": m["size"], "mip_s": m["time_s"],
                  "root_bound": m["root_bound"], "root_rounds": m["root_rounds"], "root_cuts": m["root_cuts"],
                  "fixed_pairs": m["fixed_pairs"], "polished": m["polished"]})
    bound = max(lb, m["lower_bound"])
    label = f"heuristic→exact:{contiguity}" if fallback else f"exact:{contiguity}"
    if m["infeasible"] and not h_ok:
        findings = list(fallback)
        if explain_infeasible:
            findings += explain.diagnose(prob, lambda q: _quick_feasible(q, cfg))
        return build_result(prob, None, lower_bound=np.inf, status="infeasible", method=label,
                            time_s=time.perf_counter() - t0, standard_s=std, explanation=findings, stats=stats)
    centre_of = m["centre_of"]
    if centre_of is None or (h_ok and h["objective"] < m["objective"] - 1e-9):
        centre_of = h["centre_of"] if h_ok else None
    if centre_of is None:
        return _no_solution(prob, h, t0, std, stats, label, bound, fallback)
    _verify(prob, centre_of)
    obj = prob.objective(centre_of)
    optimal = relative_gap(obj, bound) <= tol * 1.01 + 1e-12
    return build_result(prob, centre_of, lower_bound=min(bound, obj), status="optimal" if optimal else "feasible",
                        method=label, time_s=time.perf_counter() - t0, standard_s=std, stats=stats,
                        explanation=fallback)


def _no_solution(prob, h, t0, std, stats, method, bound=None, before: list[Finding] = ()) -> ZoningResult:
    f = Finding("error", "zoning.no_solution", prob.layer, "", "", {"p": prob.p})
    return build_result(prob, None, lower_bound=h["lower_bound"] if bound is None else bound, status="no_solution",
                        method=method, time_s=time.perf_counter() - t0, standard_s=std,
                        explanation=[*before, f], stats=stats)


def _quick_feasible(prob: Problem, cfg: Config) -> bool:
    """Whether a relaxed problem has a solution: counting checks, the heuristic, then a MIP
    allowed 10 s (a MIP that finds nothing in time counts as 'no')."""
    if explain.precheck(prob):
        return False
    h = heuristic.solve(prob, time_limit=0.5, starts=2, bound=False)
    if h["centre_of"] is not None and h["violation"] == 0:
        return True
    if prob.n > int(cfg["zoning.exact_max_units"]):
        return False
    m = exact.solve(prob, time_limit=10.0, mip_rel_gap=1.0)
    return m["centre_of"] is not None


def _verify(prob: Problem, centre_of: np.ndarray) -> None:
    """Check a solution against every constraint; a failure is a bug, never a silent answer."""
    nbrs = prob.neighbours()
    problems = []
    centres = np.unique(centre_of)
    if len(centres) != prob.p:
        problems.append(f"{len(centres)} zones instead of {prob.p}")
    if not prob.allowed[np.arange(prob.n), centre_of].all():
        k = int(np.flatnonzero(~prob.allowed[np.arange(prob.n), centre_of])[0])
        problems.append(f"unit {prob.codes[k]} may not join centre {prob.codes[centre_of[k]]}")
    for j in centres:
        mem = np.flatnonzero(centre_of == j)
        if len(exact.components_of(mem, nbrs)) != 1:
            problems.append(f"zone of {prob.codes[j]} is not contiguous")
        pop = prob.pop[mem].sum()
        if pop < prob.pop_lo - 1e-6 or pop > prob.pop_hi + 1e-6:
            problems.append(f"zone of {prob.codes[j]} population {pop:g} outside bounds")
        if not prob.mem_lo <= len(mem) <= prob.mem_hi:
            problems.append(f"zone of {prob.codes[j]} has {len(mem)} members, outside bounds")
    for g in prob.groups:
        if len(set(centre_of[g].tolist())) != 1:
            problems.append(f"keep-together group {list(prob.codes[g])} split")
    if problems:
        raise RuntimeError("internal error: zoning solution violates its constraints: " + "; ".join(problems))


def _per_county(units, travel_s, p: Mapping[str, int], *, county, code, adjacency, config, time_limit, **kw):
    """Solve each county on its own (zones never cross a county border) and merge."""
    if not county or county not in units.columns:
        raise ValueError("p given per county needs a county column; pass county='county_code'")
    T = np.asarray(travel_s, dtype=float)
    cty = units[county].astype(str).to_numpy()
    missing = sorted(set(cty) - set(map(str, p)))
    if missing:
        raise ValueError(f"p has no entry for county '{missing[0]}'; give a number of zones for every county")
    if adjacency is None:
        adjacency = build_adjacency(units, code=code, county=county, travel_s=T, layer=kw["layer"])
    groups = [list(g) for g in kw["keep_together"]]
    where = dict(zip(units[code].astype(str), cty))
    for g in groups:
        spans = sorted({where.get(str(u), "?") for u in g})
        if len(spans) > 1:
            raise ValueError(f"keep_together group {g} spans counties {spans}; zones never cross a county border")
    t0 = time.perf_counter()
    parts = []
    for c in pd.unique(cty):
        idx = np.flatnonzero(cty == c)
        sub = units.iloc[idx]
        codes = set(sub[code].astype(str))
        kw2 = dict(kw)
        kw2["fixed_centres"] = [f for f in kw["fixed_centres"] if str(f) in codes]
        kw2["forbidden_centres"] = [f for f in kw["forbidden_centres"] if str(f) in codes]
        kw2["locked"] = {u: v for u, v in (kw["locked"] or {}).items() if str(u) in codes}
        kw2["keep_together"] = [g for g in groups if set(map(str, g)) <= codes]
        if kw.get("open_cost"):
            kw2["open_cost"] = {u: v for u, v in kw["open_cost"].items() if str(u) in codes}
        if kw["candidates"] is not None and not isinstance(kw["candidates"], str):
            kw2["candidates"] = [f for f in kw["candidates"] if str(f) in codes]
        parts.append(delineate(sub, T[np.ix_(idx, idx)], int(p[c]), county=county, code=code,
                               adjacency=adjacency.subset(idx), config=config, time_limit=time_limit, **kw2))
    return merge_results(parts, time.perf_counter() - t0)


def merge_results(parts: list[ZoningResult], time_s: float) -> ZoningResult:
    """One result from independent parts (counties): sums of objectives and bounds."""
    order = ["infeasible", "no_solution", "feasible", "optimal"]
    status = min((r.status for r in parts), key=order.index)
    obj = float(sum(r.objective for r in parts))
    lb = float(sum(r.lower_bound for r in parts))
    assignment = pd.concat([r.assignment for r in parts])
    zones = pd.concat([r.zones for r in parts], ignore_index=True) if any(len(r.zones) for r in parts) else pd.DataFrame()
    if len(zones):
        zones["zone"] = np.arange(1, len(zones) + 1)
    pop_time = sum(r.stats.get("mean_time_s", 0) * r.zones["population"].sum() for r in parts if len(r.zones))
    pop = sum(r.zones["population"].sum() for r in parts if len(r.zones))
    stats = {"parts": len(parts), "mean_time_s": pop_time / pop if pop else float("nan"),
             "max_time_s": max((r.stats.get("max_time_s", 0) for r in parts), default=0.0),
             "optimal_parts": sum(r.status == "optimal" for r in parts)}
    return ZoningResult(assignment, [c for r in parts for c in r.centres], sum(r.p for r in parts), obj, lb,
                        relative_gap(obj, lb), all(r.proven_optimal for r in parts), status,
                        "+".join(sorted({r.method for r in parts})), time_s,
                        [f for r in parts for f in r.explanation], zones, stats)
