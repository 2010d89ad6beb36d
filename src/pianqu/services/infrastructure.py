"""Infrastructure service points (seed §二(四)) through the same presence and coverage machinery:
rural bus stations and stops (金通工程), postal, express and logistics stations (四张网络),
sewage treatment, refuse collection and transfer, rural water supply.

Each has its own presence rule (``presence_rules.csv``, groups transport / logistics /
utilities) and coverage standard (``standards.csv``): bus stops, express stations and refuse
points by walking distance, township stations by drive time, postal offices, sewage and water
plants by straight-line reach.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from pianqu.config import Config
from pianqu.services.common import Zones, config_of
from pianqu.services.coverage import CoverageResult, coverage, coverage_standards
from pianqu.services.presence import PresenceResult, presence_check, presence_rules

GROUPS = ("transport", "logistics", "utilities")
SERVICES = ("bus_station", "bus_stop", "postal_office", "express_station", "logistics_centre", "sewage_plant",
            "refuse_transfer", "refuse_point", "water_plant")


@dataclass
class InfrastructureResult:
    presence: PresenceResult
    coverage: CoverageResult
    table: pd.DataFrame  # per service: standard, units meeting the presence rule, population coverage


def infrastructure_check(facilities: pd.DataFrame, demand: pd.DataFrame, costs, *, townships: pd.DataFrame,
                         villages: pd.DataFrame | None = None, zones: Zones | None = None,
                         standards: pd.DataFrame | None = None, config: Config | None = None,
                         ) -> InfrastructureResult:
    """Presence per township/village and coverage per demand point of the infrastructure services."""
    cfg = config_of(config)
    std = coverage_standards(cfg) if standards is None else standards
    pres = presence_check(facilities, townships=townships, villages=villages, zones=zones,
                          rules=presence_rules(groups=GROUPS))
    cov = coverage(demand, facilities, costs, services=[s for s in SERVICES if s in set(std["service"])],
                   standards=std, config=cfg)
    summary = cov.summary().set_index("service")
    pres_sum = pres.summary().set_index("kind")
    rows = []
    for s in SERVICES:
        d = std[(std["service"] == s) & (std["terrain"] == "*")]
        if d.empty:
            continue
        d = d.iloc[0]
        rows.append({"service": s, "mode": d["mode"], "standard": d["value"],
                     "unit": d["unit"], "sureness": d["sureness"], "source": d["source"],
                     "presence_level": pres_sum.at[s, "level"] if s in pres_sum.index else "",
                     "units": int(pres_sum.at[s, "units"]) if s in pres_sum.index else 0,
                     "units_missing": int(pres_sum.at[s, "units_missing"]) if s in pres_sum.index else 0,
                     "coverage_share": float(summary.at[s, "share"]) if s in summary.index else float("nan"),
                     "population_unserved": float(summary.at[s, "population_unserved"]) if s in summary.index else float("nan")})
    return InfrastructureResult(pres, cov, pd.DataFrame(rows))
