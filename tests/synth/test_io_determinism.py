"""Determinism, the written workspace, the validator's verdict, and clear errors."""

from __future__ import annotations

import hashlib

import pandas as pd
import pytest
import shapely

from pianqu import divisions
from pianqu.findings import has_errors
from pianqu.synth import GENERATOR_VERSION, synthesize_county, write_county
from pianqu.validate import validate_layers, validate_workspace
from pianqu.workspace import Workspace, WorkspaceError

XIQU = "510403"  # 西区 (攀枝花): small, for builds compared twice


def digest(layers: dict) -> str:
    """A hash of every layer: attributes and geometry (WKB)."""
    h = hashlib.sha256()
    for name in sorted(layers):
        frame = layers[name]
        h.update(name.encode())
        cols = [c for c in frame.columns if c != "geometry"]
        values = frame[cols].astype(object).where(frame[cols].notna(), None).astype(str)
        h.update(pd.util.hash_pandas_object(values, index=False).to_numpy().tobytes())
        if "geometry" in frame.columns:
            for wkb in shapely.to_wkb(frame.geometry.to_numpy(), byte_order=1):
                h.update(wkb)
    return h.hexdigest()


@pytest.fixture(scope="module")
def xiqu_ws(tmp_path_factory):
    path = tmp_path_factory.mktemp("synth") / "xiqu.gpkg"
    return write_county(XIQU, path, seed=7)


@pytest.fixture(scope="module")
def xiqu_again():
    return synthesize_county(XIQU, seed=7)


def test_same_seed_same_county(xiqu_ws, xiqu_again):
    # a second, independent build reads back from the written workspace bit for bit
    read = {name: xiqu_ws.read(name) for name in xiqu_again}
    assert digest(read) == digest(xiqu_again)


def test_other_seed_other_geometry(xiqu_again):
    other = synthesize_county(XIQU, seed=8)
    assert digest(other) != digest(xiqu_again)
    assert list(other["village"]["code"]) == list(xiqu_again["village"]["code"])  # the real data stays
    assert int(other["village"]["population"].sum()) == int(xiqu_again["village"]["population"].sum())
    assert not other["village"].geometry.geom_equals(xiqu_again["village"].geometry).all()


def test_written_workspace_is_marked_synthetic(xiqu_ws):
    ws = Workspace.open(xiqu_ws.path)
    assert ws.meta.synthetic is True
    assert ws.meta.county_code == XIQU and ws.meta.county_name == divisions.county(XIQU)["name"]
    assert ws.meta.epochs == (2023, 2025)  # the base epoch and the later one (synth.epoch, issue 6)
    assert ws.meta.extra["synth_seed"] == 7 and ws.meta.extra["synth_version"] == GENERATOR_VERSION
    assert "模拟" in ws.meta.extra["synthetic_notice"]
    assert ws.meta.compute_epsg == 4543  # 101.6°E → CM 102° → EPSG:4543
    audit = ws.audit()
    synth_rows = audit[audit["command"] == "synth"]
    assert set(synth_rows["layer"]) >= {"landuse", "village", "road"}
    assert (synth_rows["reason"].str.contains(XIQU)).all() and synth_rows["reason"].str.contains("7").all()
    assert not has_errors(validate_workspace(ws))


def test_refuses_to_replace_a_workspace(xiqu_ws):
    with pytest.raises(WorkspaceError, match="exists|已存在"):
        write_county(XIQU, xiqu_ws.path, seed=1)


def test_unknown_county_is_a_clear_error():
    with pytest.raises(KeyError, match="999999"):
        synthesize_county("999999")


def test_validator_finds_no_error(built):
    findings = validate_layers(built.layers, county_code=built.geo.code, compute_epsg=built.geo.epsg)
    errors = [f for f in findings if f.severity == "error"]
    assert errors == [], [f.message("en") for f in errors[:5]]
    assert not [f for f in findings if f.severity == "warning"], [f.message("en") for f in findings[:5]]
