"""The workspace: layers round-trip, scenarios, audit trail, atomic writes under a killed writer."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from contextlib import contextmanager
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from pianqu.workspace import Workspace, WorkspaceError


def parcels(n: int, code: str = "0101") -> gpd.GeoDataFrame:
    x = 107.0 + (np.arange(n) % 500) * 0.001
    y = 31.5 + (np.arange(n) // 500) * 0.001
    return gpd.GeoDataFrame({"bsm": [f"{i:018d}" for i in range(n)], "code": code, "name": "水田",
                             "epoch": 2023},
                            geometry=shapely.box(x, y, x + 0.0009, y + 0.0009), crs=4490)


@contextmanager
def raises_en(kind, text: str):
    """Like pytest.raises, matching ``text`` in the English rendering of the error."""
    with pytest.raises(kind) as err:
        yield err
    assert text in err.value.message("en"), err.value.message("en")


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    return Workspace.create(tmp_path / "c.gpkg", county_code="511921", county_name="通江县", synthetic=True)


def test_layers_roundtrip_keep_codes_as_text(ws: Workspace):
    ws.write({"landuse": parcels(10, "0101")}, command="test", reason="first parcels")
    back = Workspace.open(ws.path).read("landuse")
    assert list(back["code"]) == ["0101"] * 10  # leading zero kept
    assert back.crs.to_epsg() == 4490
    assert back.geometry.equals(parcels(10).geometry)


def test_meta_scenarios_and_audit(ws: Workspace):
    ws.write({"landuse": parcels(3)}, command="import", reason="三调 2023",
             meta_updates={"epochs": [2023], "compute_epsg": 4545, "note": "备注"})
    ws.create_scenario("plan1", title="方案一", description="first try", command="plan")
    ws.write({"zone": parcels(2)}, command="plan", scenario="plan1", reason="zones")
    again = Workspace.open(ws.path)
    assert again.meta.epochs == (2023,) and again.meta.compute_epsg == 4545
    assert again.meta.extra["note"] == "备注"
    assert again.layers() == ["landuse"]
    assert again.layers("plan1") == ["zone"]
    assert again.scenarios()["title"].tolist() == ["方案一"]
    audit = again.audit()
    assert audit["command"].tolist() == ["create", "import", "plan", "plan"]
    assert audit.loc[1, "reason"] == "三调 2023" and audit.loc[1, "rows"] == 3
    assert audit.loc[3, "scenario"] == "plan1"
    with raises_en(WorkspaceError, "no scenario 'nope'"):
        again.write({"zone": parcels(1)}, command="plan", scenario="nope")


def test_refuses_wrong_crs_and_existing_file(ws: Workspace, tmp_path: Path):
    with raises_en(WorkspaceError, "EPSG:4490"):
        ws.write({"landuse": parcels(2).to_crs(4545)}, command="test")
    with raises_en(WorkspaceError, "already exists"):
        Workspace.create(ws.path, county_code="511921", county_name="通江县", synthetic=True)
    with raises_en(WorkspaceError, "6-digit"):
        Workspace.create(tmp_path / "x.gpkg", county_code="5119", county_name="x", synthetic=True)
    with raises_en(WorkspaceError, "no such workspace"):
        Workspace.open(tmp_path / "missing.gpkg")


def test_plain_geopackage_is_not_a_workspace(tmp_path: Path):
    p = tmp_path / "plain.gpkg"
    parcels(2).to_file(p, layer="DLTB", driver="GPKG")
    with raises_en(WorkspaceError, "not a pianqu workspace"):
        Workspace.open(p)


WRITER = textwrap.dedent("""
    import sys, numpy as np, geopandas as gpd, shapely
    from pianqu.workspace import Workspace
    n = int(sys.argv[2])
    x = 107.0 + (np.arange(n) % 1000) * 0.0005
    y = 31.0 + (np.arange(n) // 1000) * 0.0005
    big = gpd.GeoDataFrame({"bsm": np.arange(n).astype(str), "code": "0301", "name": "乔木林地",
                            "epoch": 2024}, geometry=shapely.box(x, y, x + 0.0004, y + 0.0004), crs=4490)
    ws = Workspace.open(sys.argv[1])
    print("writing", flush=True)
    ws.write({"landuse": big, "road": big}, command="killed-writer")
    print("finished", flush=True)
""")


def test_killed_writer_leaves_previous_state_readable(ws: Workspace, tmp_path: Path):
    ws.write({"landuse": parcels(50)}, command="test", reason="state before the crash")
    before = ws.path.read_bytes()
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(ws.path), "400000"],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "writing"
    tmp_glob = f".{ws.path.stem}.tmp-*.gpkg"
    deadline = time.time() + 120
    while not list(tmp_path.glob(tmp_glob)) and time.time() < deadline:
        time.sleep(0.01)
    tmp_files = list(tmp_path.glob(tmp_glob))
    assert tmp_files, "the writer never started its temporary copy"
    # let it get into the middle of writing the big layers, then kill it hard
    while tmp_files[0].exists() and tmp_files[0].stat().st_size < len(before) + 2_000_000 \
            and time.time() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "writer finished before it could be killed"
    # the workspace is byte-identical to the state before the crash, and opens normally
    assert ws.path.read_bytes() == before
    again = Workspace.open(ws.path)
    assert len(again.read("landuse")) == 50 and "road" not in again.layers()
    assert again.audit()["command"].tolist() == ["create", "test"]
    # the next write removes the stale temporary file and succeeds
    again.write({"landuse": parcels(5)}, command="test", reason="after the crash")
    assert not list(tmp_path.glob(tmp_glob))
    assert len(Workspace.open(ws.path).read("landuse")) == 5


def test_second_writer_waits_then_fails_naming_the_holder(ws: Workspace):
    """The lock is SQLite's own (no side lock file): a second writer waits for
    workspace.busy_timeout_s, then fails naming the holder recorded in ``<file>.writer``."""
    import json
    import sqlite3

    (ws.path.parent / "pianqu.toml").write_text('[thresholds]\n"workspace.busy_timeout_s" = 0.3\n')
    again = Workspace.open(ws.path)
    before = ws.path.read_bytes()
    holder = sqlite3.connect(ws.path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    ws.path.with_name(ws.path.name + ".writer").write_text(json.dumps(
        {"command": "plan", "user": "zhang", "pid": os.getpid(), "started": "2024-05-01T09:00:00+08:00"}))
    try:
        with raises_en(WorkspaceError, "command `plan`, user zhang, pid") as err:
            again.write({"landuse": parcels(1)}, command="test")
        assert "2024-05-01T09:00:00+08:00" in err.value.message("zh")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert ws.path.read_bytes() == before
    again.write({"landuse": parcels(1)}, command="test")
    assert len(again.read("landuse")) == 1


def test_tables_without_geometry(ws: Workspace):
    econ = pd.DataFrame({"township_code": ["511921100"] * 2, "sector": ["tea", "pig"],
                         "output": [1200.5, 800.0], "employment": [300, 120], "year": [2022, 2022]})
    ws.write({"economy": econ}, command="test")
    back = ws.read("economy")
    assert back["township_code"].tolist() == ["511921100"] * 2
    assert back["output"].sum() == pytest.approx(2000.5)
