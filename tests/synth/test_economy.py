"""The synthetic economy puts urban services where there is an urban core."""

import numpy as np

from pianqu.synth import synth_config
from pianqu.standards import industries
from pianqu.synth.economy import economy_table

URBAN_ONLY = {"finance", "tech_services", "household_services"}


def _table(seed: int):
    cfg = synth_config()
    n = 30
    gen = np.random.default_rng(seed)
    pop = gen.integers(3000, 40000, n).astype(float)
    urban = pop * gen.uniform(0.05, 0.6, n)
    urban[0] = 90000.0  # the county seat
    pop[0] = 120000.0
    farm = gen.uniform(1e6, 5e7, n)
    industry = gen.uniform(0, 1e6, n)
    codes = [f"511921{k:03d}" for k in range(n)]
    eco = economy_table(codes, pop, urban, farm, industry, 0, "mountain", False, cfg, gen)
    return eco, dict(zip(codes, urban)), float(cfg["synth.urban_services_min_pop"]), pop


def test_urban_services_only_in_towns_with_an_urban_core():
    for seed in range(5):
        eco, urban, floor, _ = _table(seed)
        hosts = eco.loc[eco["sector"].isin(URBAN_ONLY), "township_code"].unique()
        assert all(urban[c] >= floor or c == "511921000" for c in hosts), seed
        rural = [c for c, u in urban.items() if u < floor]
        assert rural, "the case must have rural townships"
        # every rural township still has trade and a primary base
        for c in rural:
            sectors = set(eco.loc[eco["township_code"] == c, "sector"])
            assert {"trade_logistics", "grain_oil", "pig"} <= sectors


def test_sectors_in_vocabulary_and_employment_matches_rate():
    eco, _, _, pop = _table(11)
    assert set(eco["sector"]) <= set(industries()["id"])
    rate = float(synth_config()["synth.employment_rate"])
    assert abs(eco["employment"].sum() - rate * pop.sum()) <= len(eco)  # rounding per row
    assert (eco["output"] >= 0).all()
