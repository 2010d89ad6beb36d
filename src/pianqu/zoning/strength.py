"""Strength in the choice of central towns: which towns may be centres and what a weak one costs.

A division chooses its central towns (中心镇) by one of three rules (``zoning.centre_rule``):

- ``access``: population-weighted travel time to the centre alone (the p-median); every 镇/街道
  may be a centre;
- ``strength`` (default): only towns that meet the central-town standard — a centre-score rank
  (:func:`pianqu.zoning.centres.score_centres`, entropy-TOPSIS) within the top
  ``zoning.centre_strength_top_share`` of the county's townships — and the county's designated
  ones may be centres; designated fixed centres (省级百强中心镇, 县定中心镇) are fixed, 不作中心
  never a centre; and each opened centre adds its weakness to the objective:

      min  Σ_i w_i t_i,c(i)  +  Σ_{centres j}  λ · W · weakness_j

  with w the population, t the drive time to the zone centre, W the county's population,
  weakness_j = (rank_j − 1) / (n − 1) (0 for the strongest town, 1 for the weakest) and λ
  ``zoning.centre_weakness_min`` in seconds: replacing the weakest town by the strongest as a
  centre is worth λ more minutes of mean travel time for everyone. The extra term is a cost on
  opening a centre (a p-median with opening costs), so the exact MIP and the heuristic solve it
  as they solve the p-median (:attr:`pianqu.zoning.problem.Problem.open_cost`);
- ``designated``: as ``strength``, but only the towns of the county's list and the county seat's
  town (the top of the hierarchy, which a list of 中心镇 does not name) may be centres (the
  standard fills in when the list has fewer towns than zones).

Ranks rather than TOPSIS closeness: closeness is relative to the county's own ideal and is
dominated by the county seat (通江县: 0.99 against at most 0.13 for every other town), so its
values neither compare across counties nor spread the other towns; ranks do both.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd

from pianqu.config import Config, load_config
from pianqu.findings import Finding

RULES = ("access", "strength", "designated")
FIXED, CANDIDATE, FORBIDDEN = "fixed", "candidate", "forbidden"


def check_rule(rule: str) -> str:
    """``rule`` when it is one of :data:`RULES`, else a ValueError naming them."""
    if rule not in RULES:
        raise ValueError(f"centre_rule must be one of {RULES}, got {rule!r}")
    return rule


def weakness(scores: pd.DataFrame) -> pd.Series:
    """Code → (rank − 1) / (n − 1): 0 for the county's strongest town, 1 for its weakest."""
    rank = scores.set_index(scores["code"].astype(str))["rank"].astype(float)
    n = len(rank)
    return (rank - 1.0) / max(n - 1, 1)


def standard_rank(n: int, config: Config | None = None) -> int:
    """The lowest rank that meets the central-town standard: ceil(share × n)."""
    cfg = config or load_config()
    return max(1, math.ceil(float(cfg["zoning.centre_strength_top_share"]) * n - 1e-9))


def meets_standard(scores: pd.DataFrame, config: Config | None = None) -> pd.Series:
    """Code → whether the town's centre-score rank is within the standard's top share."""
    rank = scores.set_index(scores["code"].astype(str))["rank"]
    return rank <= standard_rank(len(rank), config)


def open_costs(units: pd.DataFrame, scores: pd.DataFrame, config: Config | None = None) -> dict[str, float]:
    """Code → person-seconds added to the objective when the town is a centre:
    λ (``zoning.centre_weakness_min``, in seconds) × the county's population × weakness."""
    cfg = config or load_config()
    lam_s = float(cfg["zoning.centre_weakness_min"]) * 60.0
    total = float(pd.to_numeric(units["population"], errors="coerce").fillna(0).sum())
    return {c: lam_s * total * w for c, w in weakness(scores).items()}


def township_designations(designated: pd.DataFrame | None) -> pd.DataFrame:
    """The township rows of the checked centres table (:func:`pianqu.inputs.designated_centres`)."""
    cols = ["code", "name", "category", "reason", "role"]
    if designated is None or not len(designated):
        return pd.DataFrame(columns=cols)
    d = designated[designated["level"].astype(str) == "township"]
    return d[[c for c in cols if c in d.columns]].assign(code=d["code"].astype(str)).reset_index(drop=True)


@dataclass
class CentreRule:
    """A rule turned into the arguments of :func:`pianqu.delineate`."""

    rule: str
    candidates: list[str] | None
    fixed: list[str] = field(default_factory=list)
    forbidden: list[str] = field(default_factory=list)
    open_cost: dict[str, float] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)

    def kwargs(self) -> dict:
        """``candidates``, ``fixed_centres``, ``forbidden_centres`` and ``open_cost``."""
        return dict(candidates=self.candidates, fixed_centres=list(self.fixed),
                    forbidden_centres=list(self.forbidden), open_cost=dict(self.open_cost) or None)


def centre_rule(rule: str, units: pd.DataFrame, scores: pd.DataFrame, designated: pd.DataFrame | None, *,
                kind_candidates: list[str] | None, p: int | None = None,
                config: Config | None = None) -> CentreRule | None:
    """The candidates, fixed and forbidden centres and opening costs of ``rule``.

    ``kind_candidates``: the towns the policy lets be centres at all (镇/街道; None: all).
    ``p``: the number of zones (``designated`` widens a list shorter than p with the standard).
    None for ``designated`` without any designated town.
    """
    cfg = config or load_config()
    check_rule(rule)
    if rule == "access":
        return CentreRule(rule, kind_candidates)
    codes = units["code"].astype(str).tolist()
    base = set(codes if kind_candidates is None else map(str, kind_candidates))
    strong = meets_standard(scores, cfg)
    d = township_designations(designated)
    d = d[d["code"].isin(codes)]
    fixed = d.loc[d["role"] == FIXED, "code"].tolist()
    listed = d.loc[d["role"] == CANDIDATE, "code"].tolist()
    forbidden = d.loc[d["role"] == FORBIDDEN, "code"].tolist()
    costs = open_costs(units, scores, cfg)
    findings: list[Finding] = []
    if rule == "strength":
        chosen = {c for c in base if strong.get(c, False)} | set(fixed) | set(listed)
    else:
        if not fixed and not listed:
            return None
        seat = set(units.loc[units["is_county_seat"].fillna(False).astype(bool), "code"].astype(str)) \
            if "is_county_seat" in units.columns else set()
        chosen = set(fixed) | set(listed) | seat
        if p is not None and len(chosen) < p:
            chosen |= {c for c in base if strong.get(c, False)}
            findings.append(Finding("info", "zoning.strength.list_short", "centres", "", "category",
                                    {"listed": len(set(fixed) | set(listed)), "p": p}))
    chosen -= set(forbidden)
    return CentreRule(rule, [c for c in codes if c in chosen], fixed, forbidden, costs, findings)


def widened(r: CentreRule, kind_candidates: list[str] | None, codes: list[str]) -> CentreRule:
    """``r`` with every town of the policy's kinds a candidate again (fixed, forbidden and the
    opening costs kept): what is tried when the standard leaves no valid division."""
    base = set(codes if kind_candidates is None else map(str, kind_candidates)) | set(r.fixed)
    cands = [c for c in codes if c in base and c not in set(r.forbidden)]
    return CentreRule(r.rule, cands, r.fixed, r.forbidden, r.open_cost, list(r.findings))
