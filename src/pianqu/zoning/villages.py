"""Village-level zones (村级片区) around central villages (中心村), inside each township-level
zone (or each township), with the same machinery as township zoning.

Each group (the villages of one township-level zone) is zoned on its own: its 中心村 are chosen
by strength as well as access (:mod:`pianqu.zoning.village_centres`: candidates by centre score,
designated ones fixed, a linear penalty on weak centres opened), a 搬迁撤并
village is never a centre, member bounds default to ``zoning.village_members_min/max`` (applied
as ``zoning.member_bounds_mode`` says: by default constraints, dropped with a warning for a group
no division within them exists for, e.g. a township-level zone of two villages) and the
number of zones per group is chosen by :func:`~pianqu.zoning.autop.auto_p` (``p="auto"``: every
p screened by the quick heuristic, the rule applied, the chosen p solved), by the size rule
``round(n / mean(members_min, members_max))`` (``p="size"``), or given as a dict group → p.

With the default ``method="auto"`` each group is solved by the exact path (groups up to
``zoning.exact_max_units`` villages) until it is proven within ``zoning.village_target_gap`` of
the optimum or ``time_limit`` (per group) runs out; the gap of every group is in ``groups``. On
the synthetic 通江县 (367 villages, 9 groups) that takes about 8 s in all on a loaded 2-core
machine, every group within 0.5 % (docs/benchmarks/zoning.md).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd

from pianqu.config import Config, load_config
from pianqu.zoning.autop import auto_p, p_range
from pianqu.zoning.contiguity import Adjacency, adjacency as build_adjacency, attach_islands
from pianqu.zoning.delineate import RELAXED_RULE, delineate, member_bounds_for, merge_results
from pianqu.zoning.result import ZoningResult
from pianqu.zoning.village_centres import VillageCentres, centre_reasons, village_centres


@dataclass
class VillageZoning:
    result: ZoningResult  # all groups merged
    groups: pd.DataFrame  # group, villages, p, status, objective, gap, time_s, member_bounds
    parts: dict[str, ZoningResult]
    centres: VillageCentres | None = None  # strength, candidates and penalties of every village
    reasons: pd.DataFrame | None = None  # per centre: code, score, group_rank, reason, stronger


def village_zones(villages: pd.DataFrame, travel_s: np.ndarray, *, township_zone: Mapping[str, str] | pd.Series | None = None,
                  township: str = "township_code", code: str = "code", p: str | Mapping[str, int] = "auto",
                  member_bounds: tuple[int | None, int | None] | None = None, adjacency: Adjacency | None = None,
                  method: str = "auto", time_limit: float = 10.0, config: Config | None = None,
                  bounds_mode: str | None = None, strength: bool = True,
                  designated: Iterable[str] = (), candidates_extra: Iterable[str] = (), forbidden: Iterable[str] = (),
                  facilities: pd.DataFrame | pd.Series | None = None, economy: pd.DataFrame | None = None,
                  landuse: pd.DataFrame | None = None, **kw: Any) -> VillageZoning:
    """Zone the villages of each township-level zone (``township_zone``: township code → zone
    label, e.g. ``ZoningResult.assignment``) or, without it, of each township.

    Centres (中心村) by strength (:mod:`pianqu.zoning.village_centres`): the candidates of a group
    are its villages whose centre score reaches ``zoning.village_centre_top_share``, plus
    ``designated`` (fixed centres) and ``candidates_extra`` (候选中心村); ``forbidden`` and
    搬迁撤并 villages never; the objective adds to the population-weighted time the weakness
    penalty of each centre opened (``zoning.village_weak_centre_penalty_min``). The score uses
    the ``facilities`` layer, the ``economy`` table's village rows and the ``landuse`` parcels
    when given. ``strength=False``: every eligible village a candidate, no penalty (access alone).
    ``centres`` of the result holds the scores, ``reasons`` why each centre is one.

    member_bounds: (min, max) villages per zone, default ``zoning.village_members_min/max``;
    bounds_mode: ``hard`` | ``relax`` | ``range`` (default ``zoning.member_bounds_mode``; see
    :func:`~pianqu.zoning.delineate.member_bounds_for`). ``groups["member_bounds"]`` says per
    group whether the bounds were ``kept``, ``relaxed`` or ``not used``."""
    cfg = config or load_config()
    T = np.asarray(travel_s, dtype=float)
    if township not in villages.columns:
        raise ValueError(f"village: no column '{township}' linking each village to its township")
    tw = villages[township].astype(str)
    if township_zone is not None:
        tz = pd.Series(township_zone).astype(str)
        group = tw.map(tz)
        if group.isna().any():
            k = int(np.flatnonzero(group.isna().to_numpy())[0])
            raise ValueError(f"village '{villages[code].iloc[k]}': its township '{tw.iloc[k]}' is in no "
                             "township-level zone; give every township a zone")
    else:
        group = tw
    if adjacency is None:
        adjacency = build_adjacency(villages, code=code, travel_s=T, layer="village", county=None)
    vc = village_centres(villages, T, group=group.to_numpy(), code=code, facilities=facilities, economy=economy,
                         landuse=landuse, designated=designated, candidates_extra=candidates_extra,
                         forbidden=forbidden, strength=strength, config=cfg,
                         village_class=kw.get("village_class", "village_class"))
    bounds = member_bounds or (int(cfg["zoning.village_members_min"]), int(cfg["zoning.village_members_max"]))
    cfg_bounds, relax = member_bounds_for("village", cfg, bounds_mode)
    solve_bounds = bounds if cfg_bounds is not None else None
    t0 = time.perf_counter()
    parts: dict[str, ZoningResult] = {}
    rows = []
    for g in pd.unique(group):
        idx = np.flatnonzero((group == g).to_numpy())
        sub = villages.iloc[idx]
        Tg = T[np.ix_(idx, idx)]
        adj = attach_islands(adjacency.subset(idx), Tg, group=str(g))
        codes = sub[code].astype(str)
        common = dict(code=code, county=None, member_bounds=solve_bounds, adjacency=adj, method=method,
                      time_limit=time_limit, layer="village", config=cfg, relax_member_bounds=relax,
                      **vc.rules(codes), **kw)
        n_fixed = vc.fixed_in(codes)  # every designated 中心村 heads a zone: never fewer zones
        if isinstance(p, Mapping):
            pg = int(p[g])
            r = delineate(sub, Tg, pg, **common)
        elif p == "auto":
            ps = [q for q in p_range(len(idx), "village", cfg) if q >= n_fixed] or [min(n_fixed, len(idx))]
            ap = auto_p(sub, Tg, ps=ps, **common)
            pg = ap.recommended
            r = ap.best if ap.best is not None else ap.results[min(ap.results)]
        elif p == "size":
            mid = (bounds[0] + bounds[1]) / 2.0
            pg = max(1, n_fixed, int(round(len(idx) / mid)))
            r = delineate(sub, Tg, pg, **common)
        else:
            raise ValueError(f"p must be 'auto', 'size' or a dict group → p; got {p!r}")
        relaxed = bool(r.stats.get("member_bounds_relaxed"))
        if relaxed:  # name the group in the warning and its reasons
            r.explanation = [dataclasses.replace(f, feature=str(g)) if f.rule == RELAXED_RULE else f
                             for f in r.explanation]
        parts[str(g)] = r
        rows.append({"group": g, "villages": len(idx), "p": pg, "status": r.status, "objective": r.objective,
                     "gap": r.gap, "time_s": r.time_s,
                     "member_bounds": "not used" if solve_bounds is None else "relaxed" if relaxed else "kept"})
    merged = merge_results(list(parts.values()), time.perf_counter() - t0)
    merged.explanation = list(vc.findings) + list(merged.explanation)
    return VillageZoning(merged, pd.DataFrame(rows), parts, vc, centre_reasons(vc, merged.assignment))
