"""The synthetic county's parcels carry the 三调 扣除 fields: KCXS of 耕地 by slope grade (田坎系数表),
KCMJ = TBMJ × KCXS to the cent, TBDLMJ = TBMJ − KCMJ; its 耕地 total is ΣTBDLMJ."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pianqu.report.tables import landuse_structure
from pianqu.standards import tiankan_coefficients
from pianqu.synth import synthesize_county

XIQU = "510403"


@pytest.fixture(scope="module")
def landuse():
    return synthesize_county(XIQU, seed=3)["landuse"]


def test_parcels_carry_kcxs_kcmj_tbdlmj(landuse):
    assert {"kcxs", "kcmj", "tbdlmj"} <= set(landuse.columns)
    assert landuse[["kcxs", "kcmj", "tbdlmj"]].notna().all().all()  # both epochs
    farm = landuse["code"].str[:2] == "01"
    assert farm.any() and (landuse.loc[~farm, ["kcxs", "kcmj"]] == 0).all().all()
    tk = tiankan_coefficients()
    slope = landuse.loc[farm, "slope_deg"].to_numpy()
    expected = np.array([tk.loc[(tk["min_deg"] <= s) & (s <= tk["max_deg"]), "kcxs"].iloc[0] for s in slope])
    assert landuse.loc[farm, "kcxs"].to_numpy() == pytest.approx(expected)
    assert (landuse["kcmj"].to_numpy() == np.round(landuse["area_m2"] * landuse["kcxs"], 2).to_numpy()).all()
    assert (landuse["tbdlmj"] + landuse["kcmj"]).to_numpy() == pytest.approx(landuse["area_m2"].to_numpy(), rel=1e-14)
    assert landuse.loc[farm, "kcmj"].sum() > 0


def test_farmland_total_is_the_tbdlmj(landuse):
    base = landuse[landuse["epoch"] == landuse["epoch"].min()]
    st = landuse_structure(base).set_index("code")
    farm = base["code"].str[:2] == "01"
    assert st.loc["01", "area_ha"] * 1e4 == pytest.approx(base.loc[farm, "tbdlmj"].sum(), abs=0.005)
    tiankan = base.loc[base["code"].str[:2] == "23", "area_m2"].sum() + base["kcmj"].sum()
    assert st.loc["23", "area_ha"] * 1e4 == pytest.approx(tiankan, abs=0.005)
