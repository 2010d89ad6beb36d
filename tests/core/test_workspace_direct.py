"""Small tables written straight with SQLite (pianqu.workspace.gpkg_direct) read back exactly
as the same tables written by GDAL through pyogrio: random frames of every dtype and geometry
pianqu writes go through both writers into twin workspaces, and everything a reader sees is
compared — pyogrio's frame and layer info, a bbox read through the R-tree, and underneath the
SQLite rows, schema, GeoPackage registrations, R-tree entries and AUTOINCREMENT sequence."""

from __future__ import annotations

import shutil
import sqlite3
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely

from pianqu.workspace import Workspace
from pianqu.workspace import gpkg_direct
from pianqu.workspace.gpkg import GpkgBackend

TZS = ["UTC", "Asia/Shanghai", "America/New_York", "Asia/Kolkata"]
WORDS = ["", "水田", "通江县 城镇开发边界", "a", "ü", "x" * 300, " 空格 ", "line\nbreak", "引号'\""]


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    """A workspace made by GDAL (through the pyogrio path) with one spatial layer, as every
    county workspace has (so the GeoPackage tables a direct write registers in exist)."""
    path = tmp_path_factory.mktemp("direct") / "base.gpkg"
    ws = Workspace.create(path, county_code="511921", county_name="通江县", synthetic=True)
    county = gpd.GeoDataFrame({"name": ["通江县"]}, geometry=[shapely.box(106.9, 31.6, 107.8, 32.6)], crs=4490)
    ws.backend.direct_max_rows = 0
    ws.write({"county": county}, command="test")
    return path


@pytest.fixture
def direct_writes(monkeypatch) -> list[str]:
    """The tables written by gpkg_direct.write_prepared (not through pyogrio)."""
    seen: list[str] = []
    original = gpkg_direct.write_prepared

    def spy(con, prep, *args):
        seen.append(prep.table)
        return original(con, prep, *args)

    monkeypatch.setattr(gpkg_direct, "write_prepared", spy)
    return seen


def twins(base: Path, folder: Path, in_place_max_rows: int = 200) -> tuple[GpkgBackend, GpkgBackend]:
    """The same workspace twice: one written directly where it can be, one always through pyogrio."""
    a, b = folder / "direct.gpkg", folder / "pyogrio.gpkg"
    shutil.copy2(base, a)
    shutil.copy2(base, b)
    return GpkgBackend(a, direct_max_rows=1000, in_place_max_rows=in_place_max_rows), GpkgBackend(b, direct_max_rows=0)


# -- random frames -----------------------------------------------------------------------------
def _geoms(rng: np.random.Generator, n: int, kind: str) -> list:
    def point():
        return shapely.Point(rng.uniform(106.5, 108), rng.uniform(31, 32.5))

    def line():
        x, y = rng.uniform(106.5, 108), rng.uniform(31, 32.5)
        return shapely.LineString(np.c_[x + np.cumsum(rng.uniform(0, 0.01, 4)), y + rng.uniform(-0.01, 0.01, 4)])

    def poly():
        return point().buffer(rng.uniform(0.0005, 0.02), quad_segs=int(rng.integers(1, 5)))

    def multi(one):
        return {"Point": shapely.MultiPoint, "LineString": shapely.MultiLineString,
                "Polygon": shapely.MultiPolygon}[one().geom_type]([one() for _ in range(int(rng.integers(1, 4)))])

    empties = [shapely.Point(), shapely.LineString(), shapely.Polygon(), shapely.MultiPolygon(),
               shapely.GeometryCollection()]
    makers = {"point": [point], "line": [line], "polygon": [poly], "multipolygon": [lambda: multi(poly)],
              "poly+multi": [poly, lambda: multi(poly)], "point+line": [point, line],
              "points+multi": [point, lambda: multi(point)], "lines+multi": [line, lambda: multi(line)],
              "mixed": [point, line, poly, lambda: multi(poly), lambda: multi(line)],
              "collection": [lambda: shapely.GeometryCollection([point(), line()])]}
    out = []
    for _ in range(n):
        r = rng.random()
        if kind == "none" or r < 0.08:
            out.append(None)
        elif r < 0.14:
            out.append(empties[int(rng.integers(len(empties)))] if kind == "mixed" else
                       shapely.from_wkt(f"{makers[kind][0]().geom_type.upper()} EMPTY"))
        else:
            fns = makers[kind]
            out.append(fns[int(rng.integers(len(fns)))]())
    return out


def _column(rng: np.random.Generator, n: int, kind: str) -> pd.Series:
    if kind == "int64":
        return pd.Series(rng.integers(-(2 ** 62), 2 ** 62, n), dtype="int64")
    if kind == "float64":
        v = rng.normal(0, 1e6, n)
        v[rng.random(n) < 0.2] = np.nan
        v[rng.random(n) < 0.05] = rng.choice([np.inf, -np.inf, 0.0, 1e-300])
        return pd.Series(v, dtype="float64")
    if kind == "bool":
        return pd.Series(rng.random(n) < 0.5, dtype=bool)
    if kind in ("str", "string", "object"):
        words = [WORDS[int(k)] for k in rng.integers(len(WORDS), size=n)]
        words = [None if rng.random() < 0.15 else w for w in words]
        if kind == "object":
            return pd.Series(words, dtype=object)
        return pd.Series(words, dtype="str" if kind == "str" else "string")
    if kind == "none":
        return pd.Series([None] * n, dtype=object)
    if kind.startswith("datetime"):
        ns = rng.integers(0, 4_000_000_000, n) * 10 ** 9
        ns += rng.choice([0, 0, 999_999_999, 500_000_000, 123_456_789, 1_000_000], n)
        s = pd.Series(pd.to_datetime(ns, unit="ns"))
        s[rng.random(n) < 0.15] = pd.NaT
        unit = ["ns", "us", "ms"][int(rng.integers(3))]
        s = s.astype(f"datetime64[{unit}]")
        if kind == "datetime-tz":
            s = s.dt.tz_localize("UTC").dt.tz_convert(TZS[int(rng.integers(len(TZS)))])
        return s
    raise AssertionError(kind)


KINDS = ["int64", "float64", "bool", "str", "string", "object", "none", "datetime", "datetime-tz"]
GEOMS = ["none", "point", "line", "polygon", "multipolygon", "poly+multi", "point+line", "points+multi",
         "lines+multi", "mixed", "collection", None]


def random_frame(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = int(rng.choice([0, 1, 2, 3, 7, 40]))
    kinds = list(rng.choice(KINDS, size=int(rng.integers(0, 7)), replace=True))
    cols = {f"{k}_{i}" if i % 3 else f"列{i}_{k}": _column(rng, n, k) for i, k in enumerate(kinds)}
    frame = pd.DataFrame(cols, index=pd.RangeIndex(n))
    geom = GEOMS[int(rng.integers(len(GEOMS)))]
    if geom is None and len(frame.columns):
        return frame
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(_geoms(rng, n, geom or "polygon"), crs=4490))


# -- what a reader sees ----------------------------------------------------------------------
def read_view(path: Path, table: str):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        info = pyogrio.read_info(path, layer=table, force_feature_count=True, force_total_bounds=True)
        frame = pyogrio.read_dataframe(path, layer=table, use_arrow=True)
        frame_fid = pyogrio.read_dataframe(path, layer=table, fid_as_index=True)
    return info, frame, frame_fid


def assert_same_frame(a: pd.DataFrame, b: pd.DataFrame) -> None:
    assert list(a.columns) == list(b.columns)
    assert a.dtypes.astype(str).tolist() == b.dtypes.astype(str).tolist()
    assert a.index.equals(b.index)
    plain = [c for c in a.columns if not isinstance(a[c].dtype, gpd.array.GeometryDtype)]
    pd.testing.assert_frame_equal(pd.DataFrame(a[plain]), pd.DataFrame(b[plain]))
    if isinstance(a, gpd.GeoDataFrame):
        assert a.crs == b.crs
        assert list(shapely.to_wkb(a.geometry.values)) == list(shapely.to_wkb(b.geometry.values))


def sql_view(path: Path, table: str) -> dict:
    """The table as SQLite holds it, with its GeoPackage registrations (minus the time stamp)."""
    con = sqlite3.connect(path)

    def rows(sql: str, *args) -> list | None:
        try:
            return con.execute(sql, args).fetchall()
        except sqlite3.OperationalError as exc:  # a GeoPackage table GDAL has not made yet
            assert "no such table" in str(exc)
            return None

    try:
        rtree = f"rtree_{table}_geom"
        out = {
            "schema": sorted(con.execute("SELECT type, name, tbl_name, sql FROM sqlite_master WHERE tbl_name IN "
                                         "(?, ?, ?, ?, ?)", (table, rtree, rtree + "_rowid", rtree + "_node",
                                                             rtree + "_parent")).fetchall()),
            "rows": [tuple(map(repr, r)) for r in con.execute(f'SELECT * FROM "{table}" ORDER BY fid')],
            "types": con.execute(f'SELECT * FROM pragma_table_info("{table}")').fetchall(),
            "contents": rows("SELECT table_name, data_type, identifier, description, min_x, min_y, max_x, max_y, "
                             "srs_id FROM gpkg_contents WHERE table_name=?", table),
            "ogr": rows("SELECT * FROM gpkg_ogr_contents WHERE table_name=?", table),
            "extensions": rows("SELECT * FROM gpkg_extensions WHERE table_name=?", table),
            "columns": rows("SELECT * FROM gpkg_geometry_columns WHERE table_name=?", table),
            "sequence": rows("SELECT seq FROM sqlite_sequence WHERE name=?", table),
        }
        if out["columns"]:
            out["rtree"] = con.execute(f'SELECT * FROM "{rtree}" ORDER BY id').fetchall()
        out["integrity"] = con.execute("PRAGMA integrity_check").fetchall()
        out["foreign_keys"] = con.execute("PRAGMA foreign_key_check").fetchall()
        return out
    finally:
        con.close()


def assert_read_alike(a: Path, b: Path, table: str, frame: pd.DataFrame) -> None:
    info_a, frame_a, fid_a = read_view(a, table)
    info_b, frame_b, fid_b = read_view(b, table)
    assert {k: v.tolist() if isinstance(v, np.ndarray) else v for k, v in info_a.items()} == \
        {k: v.tolist() if isinstance(v, np.ndarray) else v for k, v in info_b.items()}
    assert info_a["features"] == len(frame)
    assert_same_frame(frame_a, frame_b)
    assert_same_frame(fid_a, fid_b)
    view_a, view_b = sql_view(a, table), sql_view(b, table)
    assert view_a["integrity"] == [("ok",)]
    assert view_a == view_b
    if isinstance(frame, gpd.GeoDataFrame) and len(frame):
        # the R-tree: every non-empty geometry, by fid (an independent answer: shapely's bounds)
        geoms = np.asarray(frame.geometry.values)
        full = ~shapely.is_missing(geoms) & ~shapely.is_empty(geoms)
        assert [r[0] for r in view_a["rtree"]] == (np.flatnonzero(full) + 1).tolist()
        bounds = shapely.bounds(geoms[full])
        got = np.array([r[1:] for r in view_a["rtree"]]).reshape(-1, 4)[:, [0, 2, 1, 3]]
        assert np.allclose(got, bounds, rtol=1e-6, atol=1e-6)
        # a bbox read goes through the R-tree and finds the same rows in both files
        if full.any():
            x0, y0, x1, y1 = shapely.total_bounds(geoms[full])
            box = (x0, y0, (x0 + x1) / 2, (y0 + y1) / 2)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                in_a = pyogrio.read_dataframe(a, layer=table, bbox=box, fid_as_index=True)
                in_b = pyogrio.read_dataframe(b, layer=table, bbox=box, fid_as_index=True)
            assert_same_frame(in_a, in_b)
            hit = shapely.intersects(shapely.box(*box), geoms) & full
            assert sorted(in_a.index.tolist()) == (np.flatnonzero(hit) + 1).tolist()


# -- the tests ---------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", range(48))
def test_direct_write_reads_back_like_gdal(seed, base, tmp_path, direct_writes):
    """Each frame replaces a table twice (a second random frame: a new schema, dropped and made
    again; then the same frame's values changed: rows replaced in place, or for odd seeds, with
    in-place writes off, dropped and made again)."""
    direct, through = twins(base, tmp_path, in_place_max_rows=200 if seed % 2 == 0 else 0)
    first, second = random_frame(seed), random_frame(10_000 + seed)
    table = f"t_{seed}"
    for frame in (first, second, _edited(second, seed)):
        assert gpkg_direct.prepare(table, frame, 1000) is not None, frame.dtypes
        direct.write({table: frame}, {}, [])
        through.write({table: frame}, {}, [])
        assert_read_alike(direct.path, through.path, table, frame)
    assert direct_writes == [table] * 3
    direct.close()
    through.close()


def _edited(frame: pd.DataFrame, seed: int) -> pd.DataFrame:
    """``frame`` with some values changed (same columns and types: the in-place path)."""
    rng = np.random.default_rng(seed + 7)
    out = frame.copy()
    if len(out) == 0:
        return out
    k = int(rng.integers(len(out)))
    for c in out.columns:
        if isinstance(out[c].dtype, gpd.array.GeometryDtype):
            out.loc[out.index[k], c] = shapely.Point(107, 31.7) if out.geom_type.iloc[k] in ("Point",) else None
        elif out[c].dtype == np.int64:
            out.loc[out.index[k], c] = 42
        elif isinstance(out[c].dtype, pd.StringDtype) or out[c].dtype == object:
            out.loc[out.index[k], c] = "改过"
    return out


def test_the_real_layers_take_the_in_place_path(base, tmp_path, direct_writes):
    """A conflict-like layer written by GDAL first: the direct write replaces its rows without
    touching the schema (the schema version stays), and reads back like GDAL's."""
    direct, through = twins(base, tmp_path)
    rng = np.random.default_rng(3)
    conflicts = gpd.GeoDataFrame(
        {"conflict_id": pd.array([f"C{i:03d}" for i in range(45)], dtype="str"),
         "area_m2": rng.uniform(1e3, 1e6, 45), "decision_reason": pd.array([""] * 45, dtype="str")},
        geometry=gpd.GeoSeries(_geoms(rng, 45, "poly+multi"), crs=4490))
    for backend in (direct, through):  # both made by GDAL
        backend.direct_max_rows = 0
        backend.write({"scn_plan__conflict": conflicts}, {}, [])
    direct.direct_max_rows = 2000
    con = sqlite3.connect(direct.path)
    before = con.execute("PRAGMA schema_version").fetchone()[0]
    edited = conflicts.copy()
    edited.loc[3, "decision_reason"] = "规划决定"
    stage = direct.stage()
    stage.put("scn_plan__conflict", edited)
    assert "scn_plan__conflict" in stage.pending and not stage.path.exists()
    direct.commit(stage, ["scn_plan__conflict"], {}, [])
    stage.discard()
    through.write({"scn_plan__conflict": edited}, {}, [])
    assert direct_writes == ["scn_plan__conflict"]
    assert con.execute("PRAGMA schema_version").fetchone()[0] == before
    con.close()
    assert_read_alike(direct.path, through.path, "scn_plan__conflict", edited)


def test_what_it_does_not_encode_goes_through_pyogrio(base, tmp_path):
    direct, through = twins(base, tmp_path)
    odd = {"int32": pd.DataFrame({"a": np.arange(3, dtype="int32")}),
           "nullable": pd.DataFrame({"a": pd.array([1, None, 3], dtype="Int64")}),
           "mixed_object": pd.DataFrame({"a": [1, "x", None]}),
           "z": gpd.GeoDataFrame({"a": [1]}, geometry=[shapely.Point(107, 31, 5)], crs=4490),
           "large": pd.DataFrame({"a": np.arange(1001, dtype="int64")}),
           "fid_column": pd.DataFrame({"FID": np.arange(3, dtype="int64")})}
    stage = direct.stage()
    for table, frame in odd.items():
        stage.put(table, frame)
        assert table not in stage.pending and table in stage.tables, table
    direct.commit(stage, list(odd), {}, [])
    stage.discard()
    through.write(odd, {}, [])
    for table, frame in odd.items():
        info_a, frame_a, _ = read_view(direct.path, table)
        info_b, frame_b, _ = read_view(through.path, table)
        assert_same_frame(frame_a, frame_b)


def test_a_unit_of_work_reads_its_pending_table_as_stored(base, tmp_path):
    """Read inside the unit of work, a pending table is what GDAL would give back; the commit
    still writes it (staged by then)."""
    path = tmp_path / "w.gpkg"
    shutil.copy2(base, path)
    ws = Workspace.open(path)
    frame = random_frame(5)
    if not isinstance(frame, gpd.GeoDataFrame):
        frame = gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(_geoms(np.random.default_rng(1), len(frame),
                                                                      "polygon"), crs=4490))
    with ws.transaction(command="test") as tx:
        ws.write({"zone": frame}, command="test")
        assert "zone" in tx.stage.pending
        inside = ws.read("zone")
    after = Workspace.open(path).read("zone")
    assert_same_frame(inside, after)


def test_staged_layers_one_after_another_keep_their_r_trees(base, tmp_path):
    """Through pyogrio, two writes in one process whose stages look alike (same schema version,
    other tables): each copied layer keeps its R-tree (a stale list of the stage's tables once
    dropped the second one's)."""
    path = tmp_path / "w.gpkg"
    shutil.copy2(base, path)
    backend = GpkgBackend(path, direct_max_rows=0)
    rng = np.random.default_rng(2)
    written = {}
    for table in ("scn_plan__conflict", "scn_plan__zone", "scn_plan__conflict"):
        boxes = [shapely.box(107 + k * 0.01, 31.7, 107.005 + k * 0.01, 31.705) for k in range(int(rng.integers(2, 9)))]
        written[table] = gpd.GeoDataFrame({"a": np.arange(len(boxes), dtype="int64")}, geometry=boxes, crs=4490)
        backend.write({table: written[table]}, {}, [])
    con = sqlite3.connect(path)
    for table, frame in written.items():
        assert con.execute("SELECT count(*) FROM sqlite_master WHERE name=?", (f"rtree_{table}_geom",)).fetchone() == (1,)
        assert con.execute(f'SELECT id FROM "rtree_{table}_geom" ORDER BY id').fetchall() == \
            [(k + 1,) for k in range(len(frame))]
    con.close()
