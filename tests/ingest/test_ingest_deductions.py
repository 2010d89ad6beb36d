"""三调 扣除 fields on import: missing ones derived (KCMJ = TBMJ × KCXS, TBDLMJ = TBMJ − KCMJ),
none at all → 0 with an info note."""

from __future__ import annotations

import numpy as np
import pytest

from ingest_data import parcels
from pianqu.ingest import import_sources
from pianqu.workspace import Workspace


def _import(tmp_path, frame):
    src = tmp_path / "dltb.gpkg"
    frame.to_file(src, layer="DLTB", driver="GPKG")
    result = import_sources([src], tmp_path / "ws.gpkg")
    return result, Workspace.open(tmp_path / "ws.gpkg").read("landuse").set_index("bsm")


def test_kcmj_and_tbdlmj_derived_from_kcxs(tmp_path):
    src = parcels().drop(columns=["KCMJ", "TBDLMJ"])
    result, lu = _import(tmp_path, src)
    s = src.set_index("BSM").loc[lu.index]
    assert np.allclose(lu["kcmj"], s["TBMJ"] * s["KCXS"], rtol=0, atol=1e-9)
    assert np.allclose(lu["tbdlmj"], s["TBMJ"] - lu["kcmj"], rtol=0, atol=1e-9)
    assert (lu["kcxs"].to_numpy() == s["KCXS"].to_numpy()).all()
    note = [f for f in result.findings if f.rule == "ingest.deduction_derived"]
    assert len(note) == 1 and note[0].severity == "info" and note[0].params["fields"] == "KCMJ、TBDLMJ"


def test_kcmj_and_kcxs_derived_from_tbdlmj(tmp_path):
    src = parcels().drop(columns=["KCMJ", "KCXS"])
    _, lu = _import(tmp_path, src)
    s = src.set_index("BSM").loc[lu.index]
    assert lu["kcmj"].to_numpy() == pytest.approx((s["TBMJ"] - s["TBDLMJ"]).to_numpy(), abs=1e-9)
    assert lu["kcxs"].to_numpy() == pytest.approx((lu["kcmj"] / s["TBMJ"]).to_numpy(), rel=1e-12)


def test_no_deduction_fields_means_zero(tmp_path):
    src = parcels().drop(columns=["KCMJ", "KCXS", "TBDLMJ"])
    result, lu = _import(tmp_path, src)
    assert (lu["kcmj"] == 0).all() and (lu["kcxs"] == 0).all()
    assert (lu["tbdlmj"].to_numpy() == lu["area_m2"].to_numpy()).all()
    assert [f.severity for f in result.findings if f.rule == "ingest.deduction_zero"] == ["info"]
