"""A county workspace in PostgreSQL + PostGIS: the :class:`pianqu.workspace.Backend` contract
(STORE-SPEC.md) on one database schema per county.

The URL is ``postgresql://user@host:port/dbname?schema=NAME``; ``schema`` is pianqu's and is
removed before connecting (every other parameter goes to libpq; keep passwords in
``~/.pgpass`` or ``PGPASSWORD``: a password in the URL is masked in ``url`` and messages).
``pianqu db push`` picks ``c<county_code>`` when the URL names no schema.

The schema holds the same tables as the GeoPackage (``pianqu_meta``, ``pianqu_audit``,
``pianqu_scenario``, base layers, ``scn_<scenario>__<layer>``), plus ``pianqu_revision`` (the
revision of every table) and ``pianqu_config`` (the workspace's ``pianqu.toml`` as text). A
spatial table has a ``geometry`` column in EPSG:4490 with a GiST index and a ``fid`` key (the
row order); attributes are typed as the GeoPackage types them (smallint, integer, bigint,
real, double precision, boolean, text, timestamp, timestamptz), so :meth:`read` gives the same
frame, dtypes included, as pyogrio gives from a GeoPackage holding the same data.

:meth:`PostgisBackend.write` is one PostgreSQL transaction: the writer takes
``pg_advisory_xact_lock(hashtext(schema))`` (waiting up to ``workspace.busy_timeout_s`` through
``lock_timeout``, then naming the holder from ``pg_stat_activity.application_name``), checks
``expect`` against ``pianqu_revision``, then drops, replaces (``COPY``, geometry as hex EWKB)
and appends; a client killed at any moment leaves the previous state, as the server rolls back.
The write fires the fault points of :func:`pianqu.workspace.fault_point` (``staged`` … ``after-commit``)
at the places a GeoPackage write does, so the fault corpus (tests/faults) runs on both backends.
"""

from __future__ import annotations

import datetime as _dt
import os
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import shapely

from pianqu.config import load_config
from pianqu.geo import STORAGE_EPSG
from pianqu.workspace import (Frame, Holder, StaleRevisionError, WorkspaceError, WorkspaceLockedError,
                              _now, fault_point)

REVISION_TABLE = "pianqu_revision"
CONFIG_TABLE = "pianqu_config"
BOOKKEEPING = (REVISION_TABLE, CONFIG_TABLE)  # the backend's own tables: not listed as layers
FID = "fid"
GEOMETRY = "geometry"
MAX_IDENT_BYTES = 63  # PostgreSQL's NAMEDATALEN - 1: longer names would be cut silently
SCHEMA_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
TZ_COMMENT = "pianqu:tz="

_SMALL = {"int8", "int16", "uint8", "Int8", "Int16", "UInt8"}
_INT = {"int32", "uint16", "Int32", "UInt16"}
_ARROW = {"smallint": pa.int16(), "integer": pa.int32(), "bigint": pa.int64(), "real": pa.float32(),
          "double precision": pa.float64(), "boolean": pa.bool_(), "text": pa.string()}


def is_db_url(target: object) -> bool:
    """Whether ``target`` names a database workspace (also after ``pathlib`` collapsed ``//``)."""
    return re.match(r"^postgres(?:ql)?:/", str(target)) is not None


def normalise_url(target: object) -> str:
    """``postgresql://…`` from a URL that went through :class:`pathlib.Path` (``postgresql:/…``)."""
    m = re.match(r"^postgres(?:ql)?:/+(.*)$", str(target), re.S)
    if not m:
        raise ValueError(f"not a postgresql:// URL: {target}")
    return f"postgresql://{m.group(1)}"


def split_url(url: str) -> tuple[str, str | None, str]:
    """(libpq URL without ``schema``, schema or None, the URL shown to users: password masked)."""
    parts = urlsplit(normalise_url(url))
    query = parse_qsl(parts.query, keep_blank_values=True)
    schema = next((v for k, v in query if k == "schema"), None)
    rest = urlencode([(k, v) for k, v in query if k != "schema"])
    conninfo = urlunsplit((parts.scheme, parts.netloc, parts.path, rest, ""))
    netloc = parts.netloc
    if parts.password is not None:
        netloc = netloc.replace(f":{parts.password}@", ":***@", 1)
    shown = urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))
    return conninfo, schema, shown


def with_schema(url: str, schema: str) -> str:
    """``url`` naming ``schema`` (replacing any schema it names)."""
    parts = urlsplit(normalise_url(url))
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "schema"]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode([*query, ("schema", schema)]), ""))


def _qi(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class _Column:
    name: str
    pgtype: str
    comment: str | None = None


@dataclass
class _Prepared:
    """A frame ready for COPY: typed columns and their values as Python lists."""

    columns: list[_Column]
    values: list[list[Any]]
    spatial: bool
    fids: list[int] | None
    rows: int


class PostgisBackend:
    """One county's workspace in a PostgreSQL schema (see the module docstring)."""

    def __init__(self, url: str, *, busy_timeout_s: float | None = None):
        self._conninfo, schema, self.url = split_url(url)
        if schema is None:
            raise WorkspaceError("db.workspace.no_schema", path=self.url)
        if not SCHEMA_RE.match(schema):
            raise WorkspaceError("db.workspace.bad_schema", path=self.url, schema=schema)
        self.schema = schema
        self.busy_timeout_s = busy_timeout_s
        self._con = None
        self._pid: int | None = None

    # -- connection -------------------------------------------------------------------------
    def _connection(self):
        import psycopg

        if self._con is not None and self._pid == os.getpid() and not self._con.closed:
            return self._con
        try:
            con = psycopg.connect(self._conninfo, autocommit=True, connect_timeout=10,
                                  application_name="pianqu")
        except psycopg.Error as exc:
            raise WorkspaceError("db.workspace.connect", path=self.url, detail=str(exc).strip()) from exc
        con.execute("SET TimeZone = 'UTC'")
        if con.execute("SELECT 1 FROM pg_extension WHERE extname = 'postgis'").fetchone() is None:
            try:
                con.execute("CREATE EXTENSION IF NOT EXISTS postgis")
            except psycopg.Error as exc:
                con.close()
                raise WorkspaceError("db.workspace.no_postgis", path=self.url, detail=str(exc).strip()) from exc
        self._con, self._pid = con, os.getpid()
        return con

    def close(self) -> None:
        if self._con is not None and self._pid == os.getpid():
            self._con.close()
        self._con = None

    def _name(self, table: str) -> str:
        return f"{_qi(self.schema)}.{_qi(table)}"

    @property
    def config_label(self) -> str:
        """Where the configuration lives, as messages and sources name it."""
        return f"{self.url}#{CONFIG_TABLE}"

    # -- reading ----------------------------------------------------------------------------
    def exists(self) -> bool:
        row = self._connection().execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [self.schema]).fetchone()
        return row is not None

    def _tables(self, con=None) -> list[str]:
        rows = (con or self._connection()).execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relkind IN ('r', 'p') ORDER BY c.oid", [self.schema]).fetchall()
        return [r[0] for r in rows]

    def list_tables(self) -> list[str]:
        return [t for t in self._tables() if t not in BOOKKEEPING]

    def _columns(self, table: str, con=None) -> list[_Column]:
        rows = (con or self._connection()).execute(
            "SELECT a.attname, format_type(a.atttypid, a.atttypmod), col_description(a.attrelid, a.attnum) "
            "FROM pg_attribute a WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 AND NOT a.attisdropped "
            "ORDER BY a.attnum", [self._name(table)]).fetchall()
        return [_Column(n, t, c) for n, t, c in rows]

    def count(self, table: str) -> int:
        return int(self._connection().execute(f"SELECT count(*) FROM {self._name(table)}").fetchone()[0])

    def read(self, table: str, columns: list[str] | None = None,
             bbox: tuple[float, float, float, float] | None = None) -> Frame:
        cols = self._columns(table)
        if not cols:
            raise WorkspaceError("common.workspace.unreadable_layer", path=self.url, layer=table,
                                 detail=f"no table {self.schema}.{table}")
        spatial = any(c.name == GEOMETRY and c.pgtype.startswith("geometry") for c in cols)
        attrs = [c for c in cols if c.name != FID and not (spatial and c.name == GEOMETRY)]
        if columns is not None:
            wanted = set(columns)
            attrs = [c for c in attrs if c.name in wanted]
        select = [_qi(c.name) for c in attrs] + ([f"ST_AsBinary({_qi(GEOMETRY)})"] if spatial else [])
        sql = f"SELECT {', '.join(select) or 'NULL'} FROM {self._name(table)}"
        params: list[Any] = []
        if spatial and bbox is not None:
            # && uses the GiST index; ST_Intersects then keeps what OGR's rectangle filter keeps
            sql += (f" WHERE {_qi(GEOMETRY)} && ST_MakeEnvelope(%s, %s, %s, %s, {STORAGE_EPSG})"
                    f" AND ST_Intersects({_qi(GEOMETRY)}, ST_MakeEnvelope(%s, %s, %s, %s, {STORAGE_EPSG}))")
            params = [*map(float, bbox), *map(float, bbox)]
        has_fid = any(c.name == FID for c in cols)
        if has_fid:
            sql += f" ORDER BY {_qi(FID)}"
        with self._connection().cursor(binary=True) as cur:
            cur.execute(sql, params)
            rows = cur.fetchall()
        data = list(zip(*rows)) if rows else [() for _ in select]
        arrays = [_to_arrow(c, list(v)) for c, v in zip(attrs, data)]
        frame = pa.table(arrays, names=[c.name for c in attrs]).to_pandas() if attrs else pd.DataFrame(
            index=pd.RangeIndex(len(rows)))
        if not spatial:
            return frame if attrs else pd.DataFrame()
        geoms = shapely.from_wkb(np.array(data[-1], dtype=object)) if rows else np.array([], dtype=object)
        return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms, index=frame.index), crs=STORAGE_EPSG)

    def revisions(self, tables: Iterable[str] | None = None) -> dict[str, int]:
        return self._revisions(self._connection(), tables)

    def _revisions(self, con, tables: Iterable[str] | None) -> dict[str, int]:
        if con.execute("SELECT to_regclass(%s)", [self._name(REVISION_TABLE)]).fetchone()[0] is None:
            found: dict[str, int] = {}
        else:
            found = dict(con.execute(f"SELECT table_name, revision FROM {self._name(REVISION_TABLE)}").fetchall())
        if tables is None:
            return {str(k): int(v) for k, v in found.items()}
        return {t: int(found.get(t, 0)) for t in tables}

    def config_text(self) -> str | None:
        """The workspace's ``pianqu.toml`` (None when it has none)."""
        con = self._connection()
        if con.execute("SELECT to_regclass(%s)", [self._name(CONFIG_TABLE)]).fetchone()[0] is None:
            return None
        row = con.execute(f"SELECT toml FROM {self._name(CONFIG_TABLE)} LIMIT 1").fetchone()
        return None if row is None else row[0]

    # -- writing ----------------------------------------------------------------------------
    def _busy_timeout(self) -> float:
        if self.busy_timeout_s is not None:
            return float(self.busy_timeout_s)
        text = self.config_text() if self.exists() else None
        cfg = load_config(path=self.config_label, text=text) if text is not None else load_config()
        return float(cfg["workspace.busy_timeout_s"])

    def write(self, replace: Mapping[str, Frame], append: Mapping[str, pd.DataFrame], drop: list[str], *,
              expect: Mapping[str, int] | None = None, holder: Holder | None = None,
              progress: Callable[[str], None] | None = None) -> dict[str, int]:
        """All of ``drop``, ``replace`` and ``append`` in one transaction; the new revisions of the
        tables touched. ``progress`` (optional) is called with each table's name once it is written."""
        import psycopg

        holder = holder or Holder.here()
        for name in [*replace, *append, *drop]:
            self._check_name(name)
        prepared = {t: _prepare(t, f, self.url) for t, f in replace.items()}  # outside the lock
        appended = {t: _prepare(t, f, self.url) for t, f in append.items()}
        busy = self._busy_timeout()
        con = self._connection()
        app = _application_name(holder)
        fault_point("staged")  # the fault points: see pianqu.workspace.base (the same names as a GeoPackage's)
        try:
            with con.transaction():
                con.execute("SELECT set_config('application_name', %s, true)", [app])
                con.execute("SELECT set_config('lock_timeout', %s, true)", [f"{max(1, int(busy * 1000))}ms"])
                con.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [self.schema])
                fault_point("locked")
                con.execute(f"CREATE SCHEMA IF NOT EXISTS {_qi(self.schema)}")
                con.execute(f"CREATE TABLE IF NOT EXISTS {self._name(REVISION_TABLE)} (table_name text PRIMARY KEY, "
                            f"revision integer NOT NULL, ts text, command text, {_qi('user')} text)")
                if expect:
                    self._check_expect(con, expect)
                for table in drop:
                    con.execute(f"DROP TABLE IF EXISTS {self._name(table)}")
                for k, (table, prep) in enumerate(prepared.items()):
                    con.execute(f"DROP TABLE IF EXISTS {self._name(table)}")
                    self._create(con, table, prep)
                    self._copy(con, table, prep)
                    self._index(con, table, prep)
                    if progress:
                        progress(table)
                    if k == len(prepared) // 2:
                        fault_point("mid-commit")
                present = set(self._tables(con))
                for table, prep in appended.items():
                    if table in present:
                        self._extend(con, table, prep)
                        self._copy(con, table, prep)
                    else:
                        self._create(con, table, prep)
                        self._copy(con, table, prep)
                        self._index(con, table, prep)
                    if progress:
                        progress(table)
                touched = list(dict.fromkeys([*drop, *replace, *append]))
                ts = _now()
                out: dict[str, int] = {}
                for table in touched:
                    row = con.execute(
                        f"INSERT INTO {self._name(REVISION_TABLE)} AS r (table_name, revision, ts, command, {_qi('user')}) "
                        f"VALUES (%s, 1, %s, %s, %s) ON CONFLICT (table_name) DO UPDATE SET "
                        f"revision = r.revision + 1, ts = EXCLUDED.ts, command = EXCLUDED.command, "
                        f"{_qi('user')} = EXCLUDED.{_qi('user')} RETURNING revision",
                        [table, ts, holder.command, holder.user]).fetchone()
                    out[table] = int(row[0])
                fault_point("before-commit")
        except psycopg.errors.LockNotAvailable:
            raise self._locked(busy) from None
        except psycopg.Error as exc:
            raise WorkspaceError("db.workspace.write_failed", path=self.url, detail=str(exc).strip()) from exc
        fault_point("after-commit")
        return out

    def _check_name(self, name: str) -> None:
        if len(name.encode("utf-8")) > MAX_IDENT_BYTES:
            raise WorkspaceError("db.workspace.long_name", path=self.url, name=name, limit=MAX_IDENT_BYTES)

    def _check_expect(self, con, expect: Mapping[str, int]) -> None:
        current = self._revisions(con, list(expect))
        changed = {t: (int(e), current[t]) for t, e in expect.items() if int(e) != current[t]}
        if not changed:
            return
        rows = dict((r[0], r[1:]) for r in con.execute(
            f"SELECT table_name, ts, command, {_qi('user')} FROM {self._name(REVISION_TABLE)} "
            f"WHERE table_name = ANY(%s)", [list(changed)]).fetchall())
        # the same message as a GeoPackage workspace's (common.workspace.stale, STORE-SPEC.md)
        changes = "; ".join(f"{t} r{e}→r{c}" + (f" ({rows[t][0]}, {rows[t][1]}, {rows[t][2]})" if t in rows else "")
                            for t, (e, c) in changed.items())
        raise StaleRevisionError("common.workspace.stale", changed, path=self.url, tables=", ".join(changed),
                                 changes=changes)

    def _locked(self, busy: float) -> WorkspaceLockedError:
        """Who holds the schema's write lock, from ``pg_stat_activity``."""
        row = self._connection().execute(
            "SELECT a.application_name, a.usename, a.pid, a.xact_start FROM pg_locks l "
            "JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted "
            "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
            "AND l.objid = ((hashtext(%s)::bigint) & 4294967295)::oid AND l.objsubid = 1 LIMIT 1",
            [self.schema]).fetchone()
        holder = _parse_application_name(row) if row else Holder("?", "?", 0, "?")
        return WorkspaceLockedError("common.workspace.locked_by", path=self.url, command=holder.command or "?",
                                    user=holder.user, pid=holder.pid, started=holder.started, timeout=busy)

    def _create(self, con, table: str, prep: _Prepared) -> None:
        cols = [f"{_qi(FID)} bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"]
        cols += [f"{_qi(c.name)} {c.pgtype}" for c in prep.columns]
        if prep.spatial:
            cols.append(f"{_qi(GEOMETRY)} geometry(Geometry, {STORAGE_EPSG})")
        con.execute(f"CREATE TABLE {self._name(table)} ({', '.join(cols)})")
        for c in prep.columns:
            if c.comment:
                con.execute(f"COMMENT ON COLUMN {self._name(table)}.{_qi(c.name)} IS {_literal(c.comment)}")

    def _extend(self, con, table: str, prep: _Prepared) -> None:
        have = {c.name for c in self._columns(table, con)}
        for c in prep.columns:
            if c.name not in have:
                con.execute(f"ALTER TABLE {self._name(table)} ADD COLUMN {_qi(c.name)} {c.pgtype}")

    def _index(self, con, table: str, prep: _Prepared) -> None:
        if prep.spatial:
            index = _qi(f"{table}_geom_idx"[:MAX_IDENT_BYTES] if len(f"{table}_geom_idx".encode()) <= MAX_IDENT_BYTES
                        else f"gix_{abs(hash(table)) % 10**12}")
            con.execute(f"CREATE INDEX {index} ON {self._name(table)} USING gist ({_qi(GEOMETRY)})")

    def _copy(self, con, table: str, prep: _Prepared) -> None:
        if not prep.rows:
            return
        names = [c.name for c in prep.columns] + ([GEOMETRY] if prep.spatial else [])
        values = list(prep.values)
        if prep.fids is not None:
            names = [FID, *names]
            values = [prep.fids, *values]
        target = f"{self._name(table)} ({', '.join(_qi(n) for n in names)})"
        with con.cursor().copy(f"COPY {target} FROM STDIN") as copy:
            for row in zip(*values):
                copy.write_row(row)
        if prep.fids is not None:
            con.execute(f"SELECT setval(pg_get_serial_sequence(%s, %s), (SELECT max({_qi(FID)}) FROM "
                        f"{self._name(table)}))", [self._name(table), FID])


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _cut(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` bytes of UTF-8 (never inside a character)."""
    return text.encode("utf-8")[:limit].decode("utf-8", errors="ignore")


def _application_name(holder: Holder) -> str:
    """``pianqu <pid> <started> <user> <command>``, within PostgreSQL's 63 bytes: the start time in
    ISO-8601's basic form (``20250101T080000+0800``), the user cut to 16 bytes, and the command
    last, cut to what is left — so the pid, start and user always survive (a long command at the
    front used to push the user and pid off the end)."""
    try:
        started = _dt.datetime.fromisoformat(holder.started).strftime("%Y%m%dT%H%M%S%z")
    except (TypeError, ValueError):
        started = "".join(str(holder.started).split()) or "?"
    user = _cut("".join(str(holder.user).split()) or "?", 16)
    return _cut(f"pianqu {int(holder.pid)} {started} {user} {holder.command or '?'}", MAX_IDENT_BYTES)


def _parse_application_name(row: tuple) -> Holder:
    """The writer (:class:`Holder`) from a ``pg_stat_activity`` row (application_name, usename,
    backend pid, transaction start); a session that is not a pianqu writer is named by those."""
    app, usename, backend_pid, xact_start = row
    m = re.match(r"^pianqu (?P<pid>\d+) (?P<started>\S+) (?P<user>\S+) (?P<command>.*)$", app or "")
    if not m:
        return Holder(app or "?", usename or "?", int(backend_pid), str(xact_start))
    try:
        started = _dt.datetime.strptime(m["started"], "%Y%m%dT%H%M%S%z").isoformat()
    except ValueError:
        started = m["started"]
    return Holder(m["command"] or "?", m["user"], int(m["pid"]), started)


# -- frames ↔ rows ---------------------------------------------------------------------------
def _pgtype(series: pd.Series) -> tuple[str, str | None]:
    """The column type a GeoPackage would give ``series`` (as pyogrio writes it), and a comment."""
    dtype = series.dtype
    name = str(dtype)
    if name in ("bool", "boolean"):
        return "boolean", None
    if isinstance(dtype, pd.DatetimeTZDtype):
        return "timestamptz", TZ_COMMENT + _tz_of(series)
    if pd.api.types.is_datetime64_dtype(dtype):
        return "timestamp", None
    if pd.api.types.is_integer_dtype(dtype):
        return ("smallint" if name in _SMALL else "integer" if name in _INT else "bigint"), None
    if pd.api.types.is_float_dtype(dtype):
        return ("real" if name in ("float32", "Float32") else "double precision"), None
    return "text", None


def _tz_of(series: pd.Series) -> str:
    """The offset a GeoPackage read gives back: the one offset of every value, else UTC."""
    values = series.dropna()
    if values.empty:
        return "UTC"
    offsets = {v.utcoffset() for v in values}
    if len(offsets) != 1:
        return "UTC"
    off = offsets.pop()
    if not off:
        return "UTC"
    minutes = int(off.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _values(series: pd.Series, pgtype: str) -> list[Any]:
    """Python values for COPY: NULL for every missing value, datetimes cut to milliseconds (as GDAL)."""
    missing = series.isna().to_numpy()
    if pgtype in ("timestamp", "timestamptz"):
        s = series.dt.tz_convert("UTC") if pgtype == "timestamptz" else series
        out = s.dt.floor("ms").astype(object).to_numpy()
        out = [None if m else v.to_pydatetime() for v, m in zip(out, missing)]
        return out
    if pgtype == "text":
        return [None if m else (v if isinstance(v, str) else str(v)) for v, m in zip(series.to_numpy(dtype=object), missing)]
    out = series.to_numpy(dtype=object)
    if missing.any():
        out = np.where(missing, None, out)
    if pgtype == "boolean":
        return [None if v is None else bool(v) for v in out]
    if pgtype in ("double precision", "real"):
        return [None if v is None else float(v) for v in out]
    return [None if v is None else int(v) for v in out]


def _promote(geoms: np.ndarray) -> np.ndarray:
    """As pyogrio writes a GeoPackage: a layer of several geometry types, or of any Multi type,
    gets every single Point/LineString/Polygon as its Multi type."""
    present = geoms[~shapely.is_missing(geoms)]
    types = set(shapely.get_type_id(present).tolist())
    multi = {4, 5, 6}
    if len(types) <= 1 and not (types & multi):
        return geoms
    out = geoms.copy()
    ids = shapely.get_type_id(geoms)
    for single, make in ((0, shapely.multipoints), (1, shapely.multilinestrings), (3, shapely.multipolygons)):
        idx = np.flatnonzero(ids == single)
        if len(idx):
            out[idx] = make(geoms[idx], indices=np.arange(len(idx)))
    return out


def _prepare(table: str, frame: Frame, url: str) -> _Prepared:
    spatial = isinstance(frame, gpd.GeoDataFrame)
    if spatial:
        if frame.crs is None or frame.crs.to_epsg() != STORAGE_EPSG:
            raise WorkspaceError("common.workspace.storage_crs", layer=table, epsg=STORAGE_EPSG, crs=str(frame.crs))
        geom_name = frame.geometry.name
        attrs = pd.DataFrame(frame.drop(columns=[c for c in frame.columns
                                                 if c == geom_name or isinstance(frame[c].dtype, gpd.array.GeometryDtype)]))
    else:
        attrs = pd.DataFrame(frame)
    fids = None
    if FID in attrs.columns:  # GDAL takes a "fid" column as the GeoPackage's key
        fids = [int(v) for v in attrs.pop(FID)]
    columns: list[_Column] = []
    values: list[list[Any]] = []
    for name in attrs.columns:
        label = str(name)
        if len(label.encode("utf-8")) > MAX_IDENT_BYTES:
            raise WorkspaceError("db.workspace.long_name", path=url, name=f"{table}.{label}", limit=MAX_IDENT_BYTES)
        series = attrs[name]
        pgtype, comment = _pgtype(series)
        columns.append(_Column(label, pgtype, comment))
        values.append(_values(series, pgtype))
    if spatial:
        geoms = _promote(np.asarray(frame.geometry.array, dtype=object))
        ewkb = shapely.to_wkb(shapely.set_srid(geoms, STORAGE_EPSG), hex=True, include_srid=True)
        values.append(list(ewkb))
    return _Prepared(columns, values, spatial, fids, len(frame))


def _to_arrow(col: _Column, values: list[Any]) -> pa.Array:
    """A column as the GeoPackage read gives it (GDAL's arrow types, as pyogrio converts them)."""
    if col.pgtype in _ARROW:
        return pa.array(values, type=_ARROW[col.pgtype])
    if col.pgtype.startswith("timestamp"):
        tz = None
        if col.pgtype.startswith("timestamp with time zone") and any(v is not None for v in values):
            tz = (col.comment or "").removeprefix(TZ_COMMENT) or "UTC"
        return pa.array(values, type=pa.timestamp("ms", tz=tz))
    return pa.array([None if v is None else str(v) for v in values], type=pa.string())
