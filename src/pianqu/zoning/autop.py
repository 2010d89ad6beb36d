"""Automatic number of zones: solve for every p in a range and recommend one by a stated rule.

The rule (``zoning.autop.rule`` in the locale): the smallest p whose zoning brings at least
``zoning.within_share_target`` of the population within the centre-time standard
(``zoning.centre_time_min``; villages ``zoning.village_centre_time_min``) of its centre —
fewer, stronger zones concentrate investment in central towns (seed §二(二)) while the
standard keeps them reachable. When no p in the range reaches the target, the p with the
highest share (the smaller on ties). The default range follows the member bounds:
ceil(n / members_max) … floor(n / members_min). The whole table is returned so the planner
sees what each p costs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from pianqu.config import Config, load_config
from pianqu.i18n import t
from pianqu.zoning.contiguity import adjacency as build_adjacency
from pianqu.zoning.delineate import delineate
from pianqu.zoning.result import ZoningResult


@dataclass
class AutoP:
    table: pd.DataFrame  # one row per p
    recommended: int | None
    results: dict[int, ZoningResult] = field(default_factory=dict)
    target: float = 0.0

    def rule(self, lang: str | None = None) -> str:
        return t("zoning.autop.rule", lang, target=round(self.target * 100))

    @property
    def best(self) -> ZoningResult | None:
        return self.results.get(self.recommended) if self.recommended is not None else None


def p_range(n: int, layer: str = "township", config: Config | None = None) -> range:
    """ceil(n / members_max) … floor(n / members_min), at least 1 and at most n."""
    cfg = config or load_config()
    lo_key, hi_key = (("zoning.village_members_min", "zoning.village_members_max") if layer == "village"
                      else ("zoning.members_min", "zoning.members_max"))
    lo = max(1, math.ceil(n / int(cfg[hi_key])))
    hi = max(lo, min(n, n // int(cfg[lo_key])))
    return range(lo, hi + 1)


def auto_p(units: pd.DataFrame, travel_s: np.ndarray, *, ps: range | list[int] | None = None,
           layer: str = "township", code: str = "code", county: str | None = "county_code",
           config: Config | None = None, **kw: Any) -> AutoP:
    """Delineate for each p in ``ps`` (default :func:`p_range`) and recommend one.

    Other keyword arguments go to :func:`~pianqu.zoning.delineate.delineate` (bounds, locks,
    method, time_limit ...); the adjacency is built once and shared.
    """
    cfg = config or load_config()
    T = np.asarray(travel_s, dtype=float)
    ps = list(ps if ps is not None else p_range(len(units), layer, cfg))
    if kw.get("adjacency") is None:
        kw["adjacency"] = build_adjacency(units, code=code, county=county, travel_s=T, layer=layer)
    target = float(cfg["zoning.within_share_target"])
    rows, results = [], {}
    for p in ps:
        r = delineate(units, T, p, layer=layer, code=code, county=county, config=cfg, **kw)
        results[p] = r
        z = r.zones
        rows.append({
            "p": p, "status": r.status, "objective": r.objective,
            "mean_time_min": r.stats.get("mean_time_s", np.nan) / 60.0,
            "max_time_min": r.stats.get("max_time_s", np.nan) / 60.0,
            "within_share": r.stats.get("within_share", np.nan), "pop_cv": r.stats.get("pop_cv", np.nan),
            "members_min": int(z["members"].min()) if len(z) else 0,
            "members_max": int(z["members"].max()) if len(z) else 0,
            "gap": r.gap, "time_s": r.time_s,
        })
    table = pd.DataFrame(rows)
    ok = table[table["status"].isin(["optimal", "feasible"])]
    rec = None
    if len(ok):
        meets = ok[ok["within_share"] >= target]
        if len(meets):
            rec = int(meets["p"].min())
        else:
            best = ok["within_share"].max()
            rec = int(ok.loc[ok["within_share"] >= best - 1e-12, "p"].min())
    table["recommended"] = table["p"] == rec
    return AutoP(table, rec, results, target)
