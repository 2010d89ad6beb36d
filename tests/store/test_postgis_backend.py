"""The storage contract (STORE-SPEC.md) on PostGIS: frames read back as the GeoPackage reads
the same frame (dtypes included), revisions and `expect`, one transaction per write (an error
or a killed client leaves the previous state), and a second writer that waits, then fails
naming the holder."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from geopandas.testing import assert_geodataframe_equal
from shapely.geometry import LineString, MultiPolygon, Point, Polygon

import pianqu
from pianqu.store.postgis import PostgisBackend
from pianqu.workspace import GpkgBackend, Holder, StaleRevisionError, WorkspaceError, WorkspaceLockedError

SRC = str(Path(pianqu.__file__).resolve().parents[1])


def every_dtype() -> gpd.GeoDataFrame:
    """Every column type pianqu writes, with NULLs, Chinese text and Chinese/upper-case names,
    Polygon and MultiPolygon in one layer, a missing geometry."""
    tri = Polygon([(104.0, 30.0), (104.1, 30.0), (104.1, 30.1)])
    return gpd.GeoDataFrame({
        "code": np.array([510403001, 2, 3, -4], dtype="int64"),
        "n32": np.array([1, 2, 3, 4], dtype="int32"),
        "n16": np.array([1, 2, 3, 4], dtype="int16"),
        "area": [1.5, np.nan, 3.0, 1e300],
        "f32": np.array([1.5, 2, 3, 4], dtype="float32"),
        "name": ["西区", None, "格里坪镇", ""],
        "ok": [True, False, True, False],
        "maybe": pd.array([True, None, False, True], dtype="boolean"),
        "count_na": pd.array([1, None, 3, 4], dtype="Int64"),
        "when": pd.to_datetime(["2024-01-01 10:00:00", None, "2024-03-01", "2024-05-01 00:00:01.5"], format="ISO8601"),
        "when_cn": pd.to_datetime(["2024-01-01 10:00:00+08:00", None, "2024-03-01T00:00+08:00",
                                   "2024-05-01 00:00:01.123456+08:00"], format="ISO8601").tz_convert("Asia/Shanghai"),
        "when_utc": pd.to_datetime(["2024-01-01 10:00:00Z", None, "2024-03-01T00:00Z", "2024-05-01 00:00:01Z"],
                                   format="ISO8601"),
        "乡镇名称": ["甲", "乙", "丙", "丁"],
        "TBMJ": [1.0, 2, 3, 4],
        "objs": pd.Series(["1", "2", None, "x"], dtype=object),
    }, geometry=[tri, MultiPolygon([tri]), None, Polygon([(104.2, 30.2), (104.3, 30.2), (104.3, 30.3)])], crs=4490)


def frames() -> dict[str, pd.DataFrame]:
    f = every_dtype()
    mixed = gpd.GeoDataFrame({"k": [1, 2, 3]}, geometry=[Point(104, 30), LineString([(104, 30), (104.1, 30.1)]),
                                                         Polygon([(104, 30), (104.1, 30), (104.1, 30.1)])], crs=4490)
    return {"all_types": f, "empty": f.iloc[:0], "mixed": mixed, "points": gpd.GeoDataFrame(
        {"名称": ["一", "二"]}, geometry=[Point(104.5, 30.5), Point(104.6, 30.6)], crs=4490),
        "plain": pd.DataFrame({"a": [1, 2], "b": ["x", None], "c": [0.5, np.nan]}),
        "plain_empty": pd.DataFrame({"a": pd.Series([], dtype="int64"), "b": pd.Series([], dtype=object)})}


def assert_same(a, b):
    if isinstance(a, gpd.GeoDataFrame):
        assert isinstance(b, gpd.GeoDataFrame) and b.crs == a.crs
        assert_geodataframe_equal(a, b, check_dtype=True, check_less_precise=False)
    else:
        assert not isinstance(b, gpd.GeoDataFrame)
        pd.testing.assert_frame_equal(a, b, check_exact=True)
    assert a.dtypes.astype(str).to_dict() == b.dtypes.astype(str).to_dict()


def test_read_equals_the_geopackage_read_of_the_same_frame(tmp_path, pg_url):
    data = frames()
    gpkg, pg = GpkgBackend(tmp_path / "w.gpkg"), PostgisBackend(pg_url)
    gpkg.write(data, {}, [])
    assert pg.write(data, {}, []) == {name: 1 for name in data}
    assert pg.list_tables() == list(data)
    for name in data:
        assert_same(gpkg.read(name), pg.read(name))
    assert_same(gpkg.read("all_types", columns=["乡镇名称", "when_cn"]), pg.read("all_types", columns=["乡镇名称", "when_cn"]))
    box = (104.15, 30.15, 104.35, 30.35)  # only the last triangle's envelope meets it
    assert_same(gpkg.read("all_types", bbox=box), pg.read("all_types", bbox=box))
    assert len(pg.read("all_types", bbox=box)) == 1
    assert pg.read("all_types")["乡镇名称"].tolist() == ["甲", "乙", "丙", "丁"]  # row order kept
    assert pg.count("all_types") == 4
    # appended rows after the replaced ones, as the GeoPackage appends them
    more = data["plain"].assign(a=[7, 8])
    gpkg.write({}, {"plain": more}, [])
    pg.write({}, {"plain": more}, [])
    assert_same(gpkg.read("plain"), pg.read("plain"))


def test_revisions_count_every_replace_append_and_drop(pg_url):
    pg = PostgisBackend(pg_url)
    t = pd.DataFrame({"a": [1]})
    assert pg.revisions(["x"]) == {"x": 0}
    assert pg.write({"x": t, "y": t}, {}, []) == {"x": 1, "y": 1}
    assert pg.write({"x": t}, {"log": t}, []) == {"x": 2, "log": 1}
    assert pg.write({}, {"log": t}, ["y"]) == {"log": 2, "y": 2}
    assert "y" not in pg.list_tables()
    assert pg.revisions() == {"x": 2, "y": 2, "log": 2}  # a dropped table keeps its row
    assert pg.revisions(["y", "never"]) == {"y": 2, "never": 0}
    assert len(pg.read("log")) == 2


def test_stale_expect_writes_nothing_and_says_what_changed(pg_url):
    pg = PostgisBackend(pg_url)
    pg.write({"decision": pd.DataFrame({"v": [1]})}, {}, [], holder=Holder("lines decide", "alice", 11, "2025-01-01T08:00:00+08:00"))
    pg.write({"decision": pd.DataFrame({"v": [2]})}, {}, [], holder=Holder("lines decide", "bob", 12, "2025-01-01T09:00:00+08:00"))
    with pytest.raises(StaleRevisionError) as err:
        pg.write({"decision": pd.DataFrame({"v": [3]}), "other": pd.DataFrame({"v": [0]})}, {}, [],
                 expect={"decision": 1, "other": 0})
    assert err.value.changed == {"decision": (1, 2)}
    assert "bob" in str(err.value) and "lines decide" in str(err.value)
    assert pg.read("decision")["v"].tolist() == [2] and "other" not in pg.list_tables()
    assert pg.revisions(["decision", "other"]) == {"decision": 2, "other": 0}
    assert pg.write({"decision": pd.DataFrame({"v": [3]})}, {}, [], expect={"decision": 2}) == {"decision": 3}


def test_an_error_inside_the_write_leaves_the_previous_state(pg_url):
    pg = PostgisBackend(pg_url)
    pg.write({"a": pd.DataFrame({"v": [1, 2]}), "n": pd.DataFrame({"k": [1]})}, {}, [])
    before = (pg.read("a"), pg.revisions())
    # "a" is replaced and "b" created first; then text into n's bigint column fails on the server
    with pytest.raises(WorkspaceError):
        pg.write({"a": pd.DataFrame({"v": [9]}), "b": pd.DataFrame({"v": [9]})},
                 {"n": pd.DataFrame({"k": ["not a number"]})}, [])
    assert_same(before[0], pg.read("a"))
    assert pg.list_tables() == ["a", "n"] and pg.revisions() == before[1]


def _writer(url: str, marker: Path, hold_s: float, holder: str = "") -> subprocess.Popen:
    """A separate process that writes two tables and, after the first, signals and waits."""
    code = textwrap.dedent(f"""
        import time, pathlib, pandas as pd
        from pianqu.store.postgis import PostgisBackend
        from pianqu.workspace import Holder
        def progress(table):
            pathlib.Path({str(marker)!r}).write_text(table)
            time.sleep({hold_s})
        PostgisBackend({url!r}).write({{"a": pd.DataFrame({{"v": [7, 7, 7]}}), "b": pd.DataFrame({{"v": [7]}})}}, {{}}, [],
                                      holder=Holder("plan", "alice", 4242, "2025-01-01T08:00:00+08:00"), progress=progress)
    """)
    return subprocess.Popen([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": SRC})


def _wait_for(path: Path, proc: subprocess.Popen) -> None:
    for _ in range(600):
        if path.exists():
            return
        assert proc.poll() is None, "the writer ended before it reached the first table"
        time.sleep(0.05)
    raise AssertionError("the writer never reached the first table")


def test_a_killed_writer_leaves_the_previous_state_and_no_lock(tmp_path, pg_url):
    pg = PostgisBackend(pg_url)
    pg.write({"a": pd.DataFrame({"v": [1]})}, {}, [])
    marker = tmp_path / "reached"
    proc = _writer(pg_url, marker, 120)
    try:
        _wait_for(marker, proc)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert pg.read("a")["v"].tolist() == [1] and pg.list_tables() == ["a"]
    assert pg.revisions() == {"a": 1}
    # the server rolled back and let the lock go: the next writer gets it at once
    assert PostgisBackend(pg_url, busy_timeout_s=10).write({"a": pd.DataFrame({"v": [2]})}, {}, []) == {"a": 2}


def test_a_second_writer_fails_naming_the_holder(tmp_path, pg_url):
    PostgisBackend(pg_url).write({"a": pd.DataFrame({"v": [1]})}, {}, [])
    marker = tmp_path / "reached"
    proc = _writer(pg_url, marker, 60)
    try:
        _wait_for(marker, proc)
        second = PostgisBackend(pg_url, busy_timeout_s=0.5)
        with pytest.raises(WorkspaceLockedError) as err:
            second.write({"c": pd.DataFrame({"v": [1]})}, {}, [])
        msg = err.value.message("en")
        assert "plan" in msg and "alice" in msg and "4242" in msg and "2025-01-01T08:00:00+08:00" in msg
        assert "c" not in second.list_tables()
    finally:
        proc.kill()
        proc.wait()


def test_a_second_writer_waits_for_the_first(tmp_path, pg_url):
    PostgisBackend(pg_url).write({"a": pd.DataFrame({"v": [1]})}, {}, [])
    marker = tmp_path / "reached"
    proc = _writer(pg_url, marker, 1.0)
    try:
        _wait_for(marker, proc)
        out = PostgisBackend(pg_url, busy_timeout_s=60).write({"a": pd.DataFrame({"v": [5]})}, {}, [])
    finally:
        proc.wait()
    assert proc.returncode == 0
    assert out == {"a": 3}  # after the first writer's revision 2: it waited, then wrote on top
    assert PostgisBackend(pg_url).read("b")["v"].tolist() == [7]


def test_the_holder_in_application_name_keeps_pid_user_and_start_within_63_bytes():
    """PostgreSQL cuts application_name to 63 bytes; the command goes last so that a long one is
    what gets cut (it used to cut `user=root` to `user=ro` for `lines reopen`)."""
    from pianqu.store.postgis import _application_name, _parse_application_name

    for holder in (Holder("lines reopen", "root", 30811, "2026-12-07T22:38:05+00:00"),
                   Holder("lines conflicts", "planner01", 4194304, "2025-01-01T08:00:00+08:00")):
        app = _application_name(holder)
        assert len(app.encode("utf-8")) <= 63
        assert _parse_application_name((app, "postgres", 99, None)) == holder
    long = Holder("landuse review --apply 复核表（第二轮）.xlsx", "a_very_long_user_name_x", 4194304,
                  "2026-12-07T22:38:05+08:00")
    app = _application_name(long)
    assert len(app.encode("utf-8")) <= 63
    got = _parse_application_name((app, "postgres", 99, None))
    assert (got.pid, got.started, got.user) == (4194304, long.started, "a_very_long_user")
    assert long.command.startswith(got.command) and got.command.startswith("landuse re")
    # a session that is not a pianqu writer is named by what the server knows
    assert _parse_application_name(("psql", "alice", 77, "2025-01-01 08:00:00+08")) == \
        Holder("psql", "alice", 77, "2025-01-01 08:00:00+08")
