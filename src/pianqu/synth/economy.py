"""Output and employment by township and sector (sector ids from ``standards.industries()``).

The county's output is its population × ``synth.gdp_per_capita_yuan`` of its terrain class,
split into primary, secondary and tertiary sectors by ``synth.sector_split``. Primary output
goes to townships by rural population and farmland, secondary mostly to the county seat and
the bigger towns, tertiary by urban population. Each township gets a grain-and-oil and pig
sector, one to three specialties suited to its terrain, a few industries where there is
industrial land, and services: trade and logistics everywhere, finance, technology and household
services only where the urban population reaches ``synth.urban_services_min_pop`` (and in the
county seat), rural services (tourism, catering, health, care) elsewhere; shares within a group are random (Dirichlet). Employment is
output ÷ ``synth.output_per_worker_yuan``, scaled so it totals ``synth.employment_rate`` of the
population. Output is in 万元 (10 000 yuan), year 2022.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pianqu import standards
from pianqu.config import Config

SPECIALTIES = {
    "plain": ["vegetable", "fruit", "fish", "herbal", "seed"],
    "hill": ["fruit", "vegetable", "fish", "tea", "herbal", "cold_chain"],
    "piedmont": ["tea", "fruit", "herbal", "vegetable", "bamboo"],
    "mountain": ["tea", "herbal", "fruit", "cattle_sheep", "bamboo"],
    "alpine": ["herbal", "cattle_sheep", "fruit"],
    "plateau": ["cattle_sheep", "herbal"],
}
INDUSTRY = ["food_beverage", "materials", "equipment", "energy_chem", "electronics", "digital"]
SERVICES = ["trade_logistics", "culture_tourism", "catering", "finance", "health_care", "elderly_child_care",
            "tech_services", "household_services"]
# services a rural township has; finance, tech and household services sit in towns with an urban core
RURAL_SERVICES = ["culture_tourism", "catering", "health_care", "elderly_child_care"]
YEAR = 2022


def economy_table(township_codes: list[str], township_pop: np.ndarray, township_urban: np.ndarray,
                  township_farm_m2: np.ndarray, township_industry_m2: np.ndarray, seat_township: int,
                  terrain: str, urban_core: bool, cfg: Config, gen: np.random.Generator) -> pd.DataFrame:
    """Rows (township_code, sector, output, employment, year)."""
    known = set(standards.industries()["id"])
    key = "urban_core" if urban_core else terrain
    gdp = float(township_pop.sum()) * float(cfg["synth.gdp_per_capita_yuan"][key]) / 1e4  # 万元
    split = np.asarray(cfg["synth.sector_split"][key], dtype=float)
    split = split / split.sum()
    rural = np.maximum(township_pop - township_urban, 0)
    w1 = rural * (0.5 + township_farm_m2 / max(township_farm_m2.mean(), 1.0))
    w2 = 0.3 * township_urban + township_industry_m2 / max(township_industry_m2.mean(), 1.0) * township_urban.mean()
    w2 = w2.astype(float)
    w2[seat_township] *= 3.0
    w3 = township_urban + 0.15 * rural
    shares = [w / max(w.sum(), 1e-9) for w in (w1, w2, w3)]
    per_worker = cfg["synth.output_per_worker_yuan"]
    productivity = np.array([per_worker["primary"], per_worker["secondary"], per_worker["tertiary"]]) / 1e4
    # a township with an urban core (the seat, or a town whose urban population is among the
    # county's larger ones) hosts the urban services; rural townships get rural ones
    town = township_urban >= max(float(cfg["synth.urban_services_min_pop"]), 0.0)
    town[seat_township] = True
    rows = []
    for ti, code in enumerate(township_codes):
        groups = [
            ["grain_oil", "pig"] + list(gen.choice(SPECIALTIES[terrain], replace=False,
                                                   size=min(len(SPECIALTIES[terrain]), int(gen.integers(1, 4))))),
            list(gen.choice(INDUSTRY[:4] if not urban_core else INDUSTRY, size=int(gen.integers(1, 3)), replace=False)),
            ["trade_logistics"] + list(gen.choice(SERVICES[1:] if town[ti] else RURAL_SERVICES,
                                                  size=int(gen.integers(1, 4)), replace=False)),
        ]
        if ti == seat_township:
            groups[1] = list(dict.fromkeys(groups[1] + ["food_beverage", "equipment"]))
            groups[2] = list(dict.fromkeys(groups[2] + ["finance", "health_care", "catering"]))
        for g, sectors in enumerate(groups):
            total = gdp * split[g] * shares[g][ti]
            if total <= 0:
                continue
            part = gen.dirichlet(np.ones(len(sectors)) * 2.0) * total
            for s, out in zip(sectors, part):
                if s not in known:
                    continue
                rows.append((code, s, round(float(out), 1), out / productivity[g], g))
    frame = pd.DataFrame(rows, columns=["township_code", "sector", "output", "emp_raw", "group"])
    target = float(cfg["synth.employment_rate"]) * float(township_pop.sum())
    scale = target / max(frame["emp_raw"].sum(), 1e-9)
    frame["employment"] = np.round(frame["emp_raw"] * scale).astype(np.int64)
    frame["year"] = YEAR
    return frame[["township_code", "sector", "output", "employment", "year"]]
