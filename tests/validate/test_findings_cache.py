"""The findings of ``pianqu validate`` are kept for the workspace's data state and the report reuses
them; any write to a base layer, an edit outside pianqu or other thresholds make them stale."""

from __future__ import annotations

import sqlite3

import pytest

from pianqu.validate import cached_findings, data_state, findings_for_report, validate_workspace
from pianqu.validate.qc import qc_report
from validate_fixture import clean_layers, write_workspace


@pytest.fixture()
def ws(tmp_path, monkeypatch):
    monkeypatch.setenv("PIANQU_CACHE", str(tmp_path / "cache"))
    layers = clean_layers()
    layers["village"].loc[0, "population"] = -5  # one finding to recognise
    return write_workspace(tmp_path / "county.gpkg", layers)


def _key(findings):
    return sorted((f.severity, f.rule, f.layer, f.feature, f.field) for f in findings)


def test_report_reuses_the_findings_of_validate(ws):
    assert cached_findings(ws) is None
    qc = qc_report(ws)  # what `pianqu validate` runs
    assert any(f.rule == "validate.negative_population" for f in qc.findings)
    got = cached_findings(ws)
    assert got is not None and _key(got) == _key(qc.findings)
    assert _key(findings_for_report(ws)) == _key(validate_workspace(ws))
    # a scenario write (what `pianqu plan` does) leaves the base data as they were
    ws.create_scenario("plan")
    ws.write({"zone": ws.read("township").head(1)}, command="plan", scenario="plan")
    assert cached_findings(ws) is not None


def test_a_base_write_makes_them_stale(ws):
    qc_report(ws)
    v = ws.read("village")
    v.loc[0, "population"] = 100
    ws.write({"village": v}, command="test")
    assert cached_findings(ws) is None
    fresh = findings_for_report(ws)  # validated again, and kept
    assert not any(f.rule == "validate.negative_population" for f in fresh)
    assert _key(cached_findings(ws)) == _key(fresh)


def test_an_edit_outside_pianqu_or_other_thresholds_make_them_stale(ws):
    qc_report(ws)
    state = data_state(ws)
    with sqlite3.connect(ws.path) as con:  # as QGIS/GDAL record an edit
        con.execute("UPDATE gpkg_contents SET last_change = '2030-01-01T00:00:00Z' WHERE table_name = 'village'")
    assert data_state(ws) != state and cached_findings(ws) is None
    qc_report(ws)
    assert cached_findings(ws) is not None
    assert cached_findings(ws, ws.config({"validate.overlap_tolerance_m2": 5.0})) is None
