"""Why a zoning instance has no solution: which bound, which unit.

:func:`precheck` proves infeasibility cheaply (counting arguments per connected part of each
county: enough candidate centres, units within reach of some centre, member and population
ranges compatible with p); each reason is an error :class:`Finding` naming the bound and the
units. When the solver proves infeasibility that the counting misses, :func:`diagnose`
relaxes one family of constraints at a time (zone population floor, ceiling, member
bounds, locks, keep-together groups, travel-time cap, fixed centres) and reports the ones whose
removal restores feasibility, then narrows locks and groups down to the single unit.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Callable

import numpy as np
from scipy.sparse.csgraph import connected_components

from pianqu.findings import Finding
from pianqu.zoning.problem import Problem, allowed_matrix

RULE = "zoning.infeasible"


def _f(kind: str, prob: Problem, feature: str = "", field: str = "", **params) -> Finding:
    return Finding("error", f"{RULE}.{kind}", prob.layer, feature, field, params)


def _join(codes, limit: int = 12) -> str:
    codes = list(codes)
    s = "、".join(str(c) for c in codes[:limit])
    return s + (f" …(+{len(codes) - limit})" if len(codes) > limit else "")


def precheck(prob: Problem) -> list[Finding]:
    """Reasons the instance is infeasible that counting alone proves (empty when none found)."""
    out: list[Finding] = []
    codes = prob.codes
    A = prob.allowed
    bad_fixed = np.flatnonzero(prob.fixed & (prob.forbidden | prob.relocate))
    for f in bad_fixed:
        out.append(_f("fixed_relocate" if prob.relocate[f] else "fixed_forbidden", prob, codes[f], "centre"))
    nfix = int(prob.fixed.sum())
    if nfix > prob.p:
        out.append(_f("too_many_fixed", prob, field="p", fixed=nfix, p=prob.p, units=_join(codes[prob.fixed])))
    for g in prob.groups:
        fx = g[prob.fixed[g]]
        locks = {int(prob.locked[u]) for u in g if prob.locked[u] >= 0}
        if len(fx) > 1:
            out.append(_f("group_two_centres", prob, codes[g[0]], "keep_together", units=_join(codes[g]),
                          centres=_join(codes[fx])))
        elif len(locks) > 1:
            out.append(_f("group_locks_differ", prob, codes[g[0]], "keep_together", units=_join(codes[g]),
                          centres=_join(codes[sorted(locks)])))
    if out:
        return out
    ncand = int(A.diagonal().sum())
    if ncand < prob.p:
        out.append(_f("too_few_candidates", prob, field="p", candidates=ncand, p=prob.p))
    no_cand: dict[int, list[int]] = {}
    for u in np.flatnonzero(~A.any(axis=1)):
        kind, params = _unreachable_reason(prob, int(u))
        if kind == "no_candidate":  # one finding per county, not one per unit
            no_cand.setdefault(int(prob.county[u]), []).append(int(u))
            continue
        out.append(_f(f"unreachable_{kind}", prob, codes[u], "", **params))
    for cty, us in no_cand.items():
        out.append(_f("unreachable_no_candidate", prob, str(prob.county_codes[cty]), "candidates",
                      units=_join(codes[us]), count=len(us)))
    if out:
        return out
    # per connected part of each county: ranges of the number of zones it can hold
    adj = prob.csr()
    same = prob.county[adj.indices] == np.repeat(prob.county, np.diff(adj.indptr))
    adj_c = adj.copy()
    adj_c.data = same.astype(float)
    adj_c.eliminate_zeros()
    _, comp = connected_components(adj_c, directed=False)
    kmin_tot, kmax_tot = 0, 0
    for c in np.unique(comp):
        m = np.flatnonzero(comp == c)
        cands = int(A.diagonal()[m].sum())
        units = _join(codes[m])
        if cands == 0:
            out.append(_f("part_without_candidate", prob, codes[m[0]], "candidates", units=units, count=len(m)))
            continue
        size, pop = len(m), float(prob.pop[m].sum())
        kmin = max(1, int(prob.fixed[m].sum()), math.ceil(size / prob.mem_hi) if prob.mem_hi < 10**9 else 1,
                   math.ceil(pop / prob.pop_hi - 1e-9) if np.isfinite(prob.pop_hi) else 1)
        kmax = min(cands, size // prob.mem_lo if prob.mem_lo > 1 else size,
                   int(math.floor(pop / prob.pop_lo + 1e-9)) if prob.pop_lo > 0 else size)
        if kmin > kmax:
            out.append(_f("part_bounds", prob, codes[m[0]], "bounds", units=units, count=size, population=round(pop),
                          kmin=kmin, kmax=kmax, pop_lo=_num(prob.pop_lo), pop_hi=_num(prob.pop_hi),
                          mem_lo=prob.mem_lo, mem_hi=_num(prob.mem_hi)))
        kmin_tot += kmin
        kmax_tot += kmax
    if out:
        return out
    if prob.p < kmin_tot:
        out.append(_f("p_too_small", prob, field="p", p=prob.p, kmin=kmin_tot, n=prob.n, pop=round(prob.pop.sum()),
                      pop_hi=_num(prob.pop_hi), mem_hi=_num(prob.mem_hi)))
    elif prob.p > kmax_tot:
        out.append(_f("p_too_large", prob, field="p", p=prob.p, kmax=kmax_tot, n=prob.n, pop=round(prob.pop.sum()),
                      pop_lo=_num(prob.pop_lo), mem_lo=prob.mem_lo))
    # single units (or keep-together groups) above the population ceiling
    if np.isfinite(prob.pop_hi):
        for u in np.flatnonzero(prob.pop > prob.pop_hi):
            out.append(_f("unit_over_ceiling", prob, codes[u], "population", population=round(prob.pop[u]),
                          pop_hi=_num(prob.pop_hi)))
        for g in prob.groups:
            if prob.pop[g].sum() > prob.pop_hi and not (prob.pop[g] > prob.pop_hi).any():
                out.append(_f("group_over_ceiling", prob, codes[g[0]], "keep_together", units=_join(codes[g]),
                              population=round(prob.pop[g].sum()), pop_hi=_num(prob.pop_hi)))
    if prob.mem_hi < 10**9:
        for g in prob.groups:
            if len(g) > prob.mem_hi:
                out.append(_f("group_over_members", prob, codes[g[0]], "keep_together", units=_join(codes[g]),
                              count=len(g), mem_hi=prob.mem_hi))
    return out


def _num(x: float) -> str:
    if x is None or not np.isfinite(x) or x >= 10**9:
        return "∞"
    return f"{x:g}"


def _unreachable_reason(prob: Problem, u: int) -> tuple[str, dict]:
    """Why no centre may take unit u: a rule suffix and its parameters."""
    if prob.locked[u] >= 0:
        c = int(prob.locked[u])
        if prob.county[c] != prob.county[u]:
            return "lock_county", {"centre": prob.codes[c]}
        if np.isfinite(prob.max_travel_s) and prob.T[u, c] > prob.max_travel_s:
            return "lock_cap", {"centre": prob.codes[c], "minutes": round(prob.T[u, c] / 60, 1),
                                "cap": round(prob.max_travel_s / 60, 1)}
        return "lock_path", {"centre": prob.codes[c]}
    same = prob.county == prob.county[u]
    cands = np.flatnonzero(same & prob.candidate)
    if not len(cands):
        return "no_candidate", {}
    if np.isfinite(prob.max_travel_s):
        tmin = float(np.min(prob.T[u, cands]))
        if tmin > prob.max_travel_s:
            return "cap", {"minutes": round(tmin / 60, 1), "cap": round(prob.max_travel_s / 60, 1)}
    for g in prob.groups:
        if u in g:
            return "group", {"units": _join(prob.codes[g])}
    return "no_path", {}


def diagnose(prob: Problem, feasible: Callable[[Problem], bool]) -> list[Finding]:
    """Relax one constraint family at a time; report those whose removal makes it feasible.

    ``feasible(problem)`` answers whether a (relaxed) problem has a solution (a short MIP).
    """
    families = []
    if prob.pop_lo > 0:
        families.append(("pop_lo", _num(prob.pop_lo), lambda q: replace(q, pop_lo=0.0)))
    if np.isfinite(prob.pop_hi):
        families.append(("pop_hi", _num(prob.pop_hi), lambda q: replace(q, pop_hi=np.inf)))
    if prob.mem_lo > 1:
        families.append(("mem_lo", str(prob.mem_lo), lambda q: replace(q, mem_lo=1)))
    if prob.mem_hi < 10**9:
        families.append(("mem_hi", str(prob.mem_hi), lambda q: replace(q, mem_hi=10**9)))
    if np.isfinite(prob.max_travel_s):
        families.append(("max_travel", f"{prob.max_travel_s / 60:g}",
                         lambda q: _rebuild(replace(q, max_travel_s=np.inf))))
    if (prob.locked >= 0).any():
        families.append(("locks", str(int((prob.locked >= 0).sum())), lambda q: _rebuild(_unlock(q))))
    if prob.groups:
        families.append(("groups", str(len(prob.groups)), lambda q: _rebuild(replace(q, groups=[]))))
    out: list[Finding] = []
    for name, value, relax in families:
        if name in ("locks", "groups", "max_travel"):
            continue
        if feasible(_rebuild(relax(prob))):
            out.append(_f(f"bound_{name}", prob, field=name, value=value))
    # locks and groups: name the unit whose lock (or group) is the obstacle
    if (prob.locked >= 0).any() and feasible(_rebuild(_unlock(prob))):
        for u in np.flatnonzero(prob.locked >= 0):
            lk = prob.locked.copy()
            lk[u] = -1
            q = _rebuild(_unlock(prob, keep=lk))
            if feasible(q):
                out.append(_f("lock", prob, prob.codes[u], "locked", centre=prob.codes[prob.locked[u]]))
    if prob.groups and feasible(_rebuild(replace(prob, groups=[]))):
        for k, g in enumerate(prob.groups):
            q = _rebuild(replace(prob, groups=[h for m, h in enumerate(prob.groups) if m != k]))
            if feasible(q):
                out.append(_f("group", prob, prob.codes[g[0]], "keep_together", units=_join(prob.codes[g])))
    if np.isfinite(prob.max_travel_s) and feasible(_rebuild(replace(prob, max_travel_s=np.inf))):
        out.append(_f("bound_max_travel", prob, field="max_travel", value=f"{prob.max_travel_s / 60:g}"))
    if not out:
        out.append(_f("combination", prob, field="", families="、".join(f[0] for f in families) or "contiguity"))
    return out


def _unlock(prob: Problem, keep: np.ndarray | None = None) -> Problem:
    lk = np.full(prob.n, -1, dtype=np.int64) if keep is None else keep
    # centres fixed only because something was locked to them become free again
    fixed = prob.user_fixed.copy()
    fixed[lk[lk >= 0]] = True
    return replace(prob, locked=lk, fixed=fixed)


def _rebuild(prob: Problem) -> Problem:
    q = replace(prob)
    q.allowed = allowed_matrix(q)
    return q
