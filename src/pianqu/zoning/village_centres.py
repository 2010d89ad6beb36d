"""Central villages (中心村) chosen by strength, not by access alone (issue 17 item 4).

A 中心村 is meant to be a village that already gathers people, services and a working collective
economy (集聚提升类: "larger 中心村", domain.md §2.8), not merely the one nearest to its
neighbours. :func:`village_centres` prepares, for the village-level zoning of each township-level
zone (a *group*), which villages may be centres and what a weak one costs:

- **strength**: each village's centre score (TOPSIS, entropy weights, as for towns:
  :func:`pianqu.zoning.centres.score_centres`) on the criteria its data has — resident
  population, facilities at the village (facility layer, ``village_code``), collective economy
  (the economy table's village rows: a ``village_code`` column or a 12-digit ``township_code``;
  the latest year, 万元), built-up land (parcels of 城镇村属性码 ``village_built_up_czcsxm``, km²)
  and accessibility (population within ``zoning.village_centre_time_min`` of it, same group);
- **candidates**: the villages of a group whose score ranks in its top
  ``zoning.village_centre_top_share`` (never fewer than the most zones the group may get), plus
  the designated (中心村: fixed, always a centre) and listed (候选中心村: a candidate whatever its
  score) ones; ``forbidden`` (不作中心) and 搬迁撤并 villages never — a designated 搬迁撤并
  village is not made a centre, and a finding says so;
- **the weakness penalty** of each candidate j, added to the zoning objective when j is opened
  (``open_cost`` of :func:`pianqu.zoning.delineate.delineate`)::

      penalty_j = κ · 60 · P_zone · (s_best,g − s_j) / (s_max − s_min)

  κ = ``zoning.village_weak_centre_penalty_min``; P_zone = the population of a typical
  village-level zone of the group (its population × mid member bound / its villages); s_best,g
  the strongest candidate of the group, s_max − s_min the county's score spread. In a planner's
  words: choosing as 中心村 a village as far below its group's strongest as the county's weakest
  village is below its strongest costs as much as every person of a typical village-level zone
  travelling κ minutes more. The penalty is linear in the centre variables, so the exact
  village zoning stays exact; a designated centre has none (it is fixed anyway).

:func:`centre_reasons` then says for each centre of a division why it is one: ``designated``,
``strongest`` (the strongest village of its zone), ``nearer`` (meets the standard; a stronger
village of the zone was passed over because it lies farther from the zone's people), ``listed``
(a county-listed 候选中心村 below the standard) or ``access`` (chosen by access alone).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterable, Mapping

import numpy as np
import pandas as pd

from pianqu.config import Config, load_config
from pianqu.findings import Finding
from pianqu.standards import policy_codes
from pianqu.zoning.autop import p_range
from pianqu.zoning.centres import centre_indicators, score_centres
from pianqu.zoning.problem import RELOCATE_CLASS

VILLAGE_CRITERIA = ("population", "facilities", "collective_wan", "built_up_km2", "accessibility")
REASONS = ("designated", "strongest", "nearer", "listed", "access")
# categories of the `centres` input table that concern villages (12-digit codes)
CATEGORY_FIXED = "中心村"
CATEGORY_CANDIDATE = "候选中心村"
CATEGORY_FORBIDDEN = "不作中心"


@dataclass
class VillageCentres:
    """Strength of every village and the centre rules of the village-level zoning.

    ``table``: one row per village — ``code``, ``group``, the criteria, ``score``, ``rank``
    (county), ``group_rank``, ``status`` (``designated`` / ``standard`` / ``listed`` /
    ``below_standard`` / ``forbidden`` / ``relocate``), ``candidate`` (bool) and ``penalty``
    (population × seconds added when it is a centre). ``weights``: criterion → weight.
    """

    table: pd.DataFrame
    weights: pd.Series
    findings: list[Finding] = field(default_factory=list)
    strength: bool = True

    def rules(self, codes: Iterable[str]) -> dict:
        """The :func:`pianqu.delineate` keywords (candidates, fixed and forbidden centres, the
        weakness penalty as ``open_cost``) for the villages ``codes`` (one group)."""
        t = self.table.set_index("code").loc[[str(c) for c in codes]]
        out = {"candidates": t.index[t["candidate"]].tolist(),
               "fixed_centres": t.index[t["status"] == "designated"].tolist(),
               "forbidden_centres": t.index[t["status"] == "forbidden"].tolist()}
        if self.strength:
            out["open_cost"] = {c: float(v) for c, v in t["penalty"].items() if t.at[c, "candidate"] and v > 0}
        return out

    def fixed_in(self, codes: Iterable[str]) -> int:
        """How many designated centres are among ``codes``."""
        t = self.table.set_index("code")
        return int((t.loc[[str(c) for c in codes], "status"] == "designated").sum())


def centre_lists(centres: pd.DataFrame | None) -> dict[str, list[str]]:
    """The village rows (12-digit codes) of a ``centres`` table as the keyword arguments
    ``designated``, ``candidates_extra`` and ``forbidden``: by its ``role`` column (fixed /
    candidate / forbidden, as the checked table of the plan inputs has it) when present, else by
    ``category`` (中心村 / 候选中心村 / 不作中心)."""
    out: dict[str, list[str]] = {"designated": [], "candidates_extra": [], "forbidden": []}
    if centres is None or not len(centres) or "code" not in centres.columns:
        return out
    code = centres["code"].astype(str).str.strip()
    village = code.str.fullmatch(r"\d{12}")
    if "role" in centres.columns:
        kind, names = centres["role"].astype(str).str.strip(), ("fixed", "candidate", "forbidden")
    elif "category" in centres.columns:
        kind, names = centres["category"].astype(str).str.strip(), (CATEGORY_FIXED, CATEGORY_CANDIDATE,
                                                                    CATEGORY_FORBIDDEN)
    else:
        return out
    for key, name in zip(out, names):
        out[key] = code[village & (kind == name)].tolist()
    return out


def village_indicators(villages: pd.DataFrame, travel_s: np.ndarray, group: pd.Series, *, code: str = "code",
                       facilities: pd.DataFrame | pd.Series | None = None, economy: pd.DataFrame | None = None,
                       landuse: pd.DataFrame | None = None, config: Config | None = None) -> pd.DataFrame:
    """One row per village with the strength criteria its data has (see the module doc):
    ``population``, ``accessibility`` always; ``facilities``, ``collective_wan``, ``built_up_km2``
    when their input is given (or the villages carry such a column)."""
    cfg = config or load_config()
    codes = villages[code].astype(str)
    units = pd.DataFrame({"code": codes.to_numpy(), "population": villages["population"].to_numpy(),
                          "group": np.asarray(group, dtype=object).astype(str)})
    fac = None
    if isinstance(facilities, pd.Series):
        fac = facilities
    elif facilities is not None and "village_code" in facilities.columns:
        fac = facilities["village_code"].dropna().astype(str).value_counts()
    elif "facilities" in villages.columns:
        units["facilities"] = pd.to_numeric(villages["facilities"], errors="coerce").fillna(0).to_numpy()
    out = centre_indicators(units, travel_s, code="code", population="population", built_up=None, gdp=None,
                            facilities=fac if fac is not None else ("facilities" if "facilities" in units else None),
                            county="group", layer="village", config=cfg)
    out = out.drop(columns=["centrality"])
    eco = _collective(economy)
    if eco is not None:
        out["collective_wan"] = out["code"].map(eco).fillna(0.0).to_numpy()
    elif "collective_wan" in villages.columns:
        out["collective_wan"] = pd.to_numeric(villages["collective_wan"], errors="coerce").fillna(0).to_numpy()
    if landuse is not None and {"village_code", "czcsxm", "area_m2"} <= set(landuse.columns):
        built = landuse[landuse["czcsxm"].astype(str).str[:3].isin(policy_codes("village_built_up_czcsxm"))]
        area = built.groupby(built["village_code"].astype(str))["area_m2"].sum() / 1e6
        out["built_up_km2"] = out["code"].map(area).fillna(0.0).to_numpy()
    elif "built_up_km2" in villages.columns:
        out["built_up_km2"] = pd.to_numeric(villages["built_up_km2"], errors="coerce").fillna(0).to_numpy()
    out.insert(1, "group", units["group"].to_numpy())
    return out[["code", "group", *[c for c in VILLAGE_CRITERIA if c in out.columns]]]


def _collective(economy: pd.DataFrame | None) -> pd.Series | None:
    """Village code → collective-economy output (万元, the latest year of each village), from
    the economy table's village rows; None when it has none."""
    if economy is None or not len(economy) or "output" not in economy.columns:
        return None
    if "village_code" in economy.columns:
        vc = economy["village_code"].astype(str).str.strip()
    elif "township_code" in economy.columns:
        vc = economy["township_code"].astype(str).str.strip()
    else:
        return None
    rows = economy.assign(_v=vc)[vc.str.fullmatch(r"\d{12}")]
    if not len(rows):
        return None
    if "year" in rows.columns:
        year = pd.to_numeric(rows["year"], errors="coerce")
        rows = rows[year == year.groupby(rows["_v"]).transform("max")]
    return pd.to_numeric(rows["output"], errors="coerce").fillna(0).groupby(rows["_v"]).sum()


def village_centres(villages: pd.DataFrame, travel_s: np.ndarray, *, group: pd.Series | str | None = None,
                    code: str = "code", facilities: pd.DataFrame | pd.Series | None = None,
                    economy: pd.DataFrame | None = None, landuse: pd.DataFrame | None = None,
                    designated: Iterable[str] = (), candidates_extra: Iterable[str] = (),
                    forbidden: Iterable[str] = (), village_class: str | None = "village_class",
                    strength: bool = True, weights: Mapping[str, float] | str = "entropy",
                    config: Config | None = None) -> VillageCentres:
    """Score every village as a possible 中心村 and set the centre rules of each group.

    Parameters
    ----------
    villages : DataFrame
        One row per village: ``code``, ``population``, ``township_code``, optionally
        ``village_class`` and the criteria as columns (``facilities``, ``collective_wan``,
        ``built_up_km2``) when their layers are not given.
    travel_s : numpy.ndarray
        Seconds between the village seats, in the order of ``villages``.
    group : Series or str, optional
        The township-level zone of each village (aligned with ``villages``) or a column name;
        default ``township_code``.
    facilities, economy, landuse : DataFrame, optional
        The facility layer (``village_code``) or a Series code → count; the economy table
        (village rows: ``village_code`` or a 12-digit ``township_code``; ``output`` in 万元,
        ``year``); the base-epoch parcels (``village_code``, ``czcsxm``, ``area_m2``).
    designated, candidates_extra, forbidden : iterable of str
        Village codes the county designates as 中心村 (fixed), lists as 候选中心村 (a candidate
        whatever its score) or excludes (不作中心).
    village_class : str or None
        Column of the 村庄分类; a 搬迁撤并 village is never a centre.
    strength : bool, default True
        False: every eligible village is a candidate and no penalty applies (access alone).
    weights : mapping or "entropy"
        Criterion weights, as for :func:`pianqu.zoning.centres.score_centres`.
    config : Config, optional
        Thresholds in force (``zoning.village_centre_top_share``,
        ``zoning.village_weak_centre_penalty_min``, member bounds).

    Returns
    -------
    VillageCentres
        The table (criteria, score, ranks, status, candidate, penalty), weights and findings.
    """
    cfg = config or load_config()
    codes = villages[code].astype(str).reset_index(drop=True)
    if group is None:
        group = "township_code"
    g = (villages[group] if isinstance(group, str) else pd.Series(np.asarray(group, dtype=object)))
    g = pd.Series(np.asarray(g, dtype=object), dtype=object).astype(str)
    ind = village_indicators(villages, travel_s, g, code=code, facilities=facilities, economy=economy,
                             landuse=landuse, config=cfg)
    crit = tuple(c for c in VILLAGE_CRITERIA if c in ind.columns)
    sc = score_centres(ind.drop(columns=["group"]), criteria=crit, weights=weights, config=cfg)
    table = ind.copy()
    table["score"] = sc.table["score"].to_numpy()
    table["rank"] = sc.table["rank"].to_numpy()
    table["group_rank"] = table.groupby("group")["score"].rank(ascending=False, method="min").astype(int)

    findings: list[Finding] = []
    known = set(codes)
    lists = {}
    for name, vals in (("designated", designated), ("candidates_extra", candidates_extra), ("forbidden", forbidden)):
        vals = [str(v).strip() for v in vals]
        for v in vals:
            if v not in known:
                findings.append(Finding("warning", "zoning.village_centres.unknown", "centres", v, "code",
                                        {"category": name}))
        lists[name] = {v for v in vals if v in known}
    relocate = (villages[village_class].astype(str).str.strip().eq(RELOCATE_CLASS).to_numpy()
                if village_class and village_class in villages.columns else np.zeros(len(codes), dtype=bool))
    reloc = set(codes[relocate])
    for v in sorted((lists["designated"] | lists["candidates_extra"]) & reloc):
        cat = CATEGORY_FIXED if v in lists["designated"] else CATEGORY_CANDIDATE
        findings.append(Finding("warning", "zoning.village_centres.designated_relocate", "centres", v, "category",
                                {"category": cat}))
    for v in sorted(lists["designated"] & lists["forbidden"] - reloc):
        findings.append(Finding("warning", "zoning.village_centres.designated_forbidden", "centres", v, "category", {}))
    fixed = lists["designated"] - reloc
    banned = (lists["forbidden"] - fixed) | reloc
    status = np.where(codes.isin(reloc), "relocate",
                      np.where(codes.isin(fixed), "designated",
                               np.where(codes.isin(banned), "forbidden", "below_standard"))).astype(object)
    table["status"] = status
    eligible = table["status"] == "below_standard"
    share = float(cfg["zoning.village_centre_top_share"])
    bounds = (int(cfg["zoning.village_members_min"]), int(cfg["zoning.village_members_max"]))
    mid = (bounds[0] + bounds[1]) / 2.0
    spread = float(table["score"].max() - table["score"].min()) or 1.0
    kappa = float(cfg["zoning.village_weak_centre_penalty_min"]) * 60.0
    table["candidate"] = False
    table["penalty"] = 0.0
    pop = pd.to_numeric(table["population"], errors="coerce").fillna(0.0)
    for gname, idx in table.groupby("group").groups.items():
        idx = pd.Index(idx)
        el = idx[eligible.loc[idx].to_numpy()]
        n = len(idx)
        if strength:
            k = min(len(el), max(math.ceil(share * len(el)), max(p_range(n, "village", cfg))))
            top = table.loc[el, "score"].sort_values(ascending=False, kind="stable").index[:k]
        else:
            top = el
        table.loc[top, "status"] = "standard"
        listed = el[codes.loc[el].isin(lists["candidates_extra"]).to_numpy()].difference(top)
        table.loc[listed, "status"] = "listed"
        cand = top.union(listed)
        table.loc[cand, "candidate"] = True
        fx = idx[(table.loc[idx, "status"] == "designated").to_numpy()]
        table.loc[fx, "candidate"] = True
        if strength and len(cand):
            best = float(table.loc[cand.union(fx), "score"].max())
            p_zone = float(pop.loc[idx].sum()) * min(1.0, mid / n)
            table.loc[cand, "penalty"] = kappa * p_zone * (best - table.loc[cand, "score"]).clip(lower=0) / spread
    return VillageCentres(table, sc.weights, findings, strength)


def centre_reasons(centres: VillageCentres, assignment: pd.Series) -> pd.DataFrame:
    """Why each centre of a division is one: one row per centre with ``code``, ``score``,
    ``group_rank``, ``reason`` (:data:`REASONS`) and ``stronger`` (the strongest candidate of its
    zone when that is another village, else '').

    ``assignment``: village code → centre code (``ZoningResult.assignment``); unassigned ('')
    villages are left out."""
    a = assignment.astype(str)
    a = a[a != ""]
    t = centres.table.set_index("code")
    rows = []
    for c, members in a.groupby(a).groups.items():
        members = [str(m) for m in members]
        rivals = [m for m in members if t.at[m, "candidate"] or m == c]  # who could have been the centre
        s = t.loc[rivals, "score"]
        strongest = str(s.idxmax())
        status = t.at[c, "status"]
        if status == "designated":
            reason = "designated"
        elif not centres.strength:
            reason = "access"
        elif s[c] >= s.max() - 1e-12:
            reason = "strongest"
        elif status == "listed":
            reason = "listed"
        else:
            reason = "nearer"
        rows.append({"code": c, "score": float(t.at[c, "score"]), "group_rank": int(t.at[c, "group_rank"]),
                     "reason": reason, "stronger": "" if s[c] >= s.max() - 1e-12 else strongest})
    return pd.DataFrame(rows, columns=["code", "score", "group_rank", "reason", "stronger"])
