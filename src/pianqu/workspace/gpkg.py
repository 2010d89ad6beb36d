"""The GeoPackage backend: one SQLite transaction per write, on the workspace file itself.

A write goes in two steps. First the new layers are *staged*: pyogrio writes them into a small
temporary GeoPackage beside the workspace (``.<name>.tmp-<pid>-<token>.gpkg``), so GDAL makes
the column types, geometry blobs, ``gpkg_contents``/``gpkg_geometry_columns`` rows and the
spatial index exactly as it always did. No lock is held meanwhile and the workspace is not
touched. Then ONE SQLite transaction on the workspace (``BEGIN IMMEDIATE`` with a busy timeout:
a second writer waits) attaches the stage, drops the replaced and dropped tables with their
GeoPackage registrations and R-tree, copies the staged tables with theirs, appends rows, checks
and bumps the revisions (``pianqu_revision``) and commits. A process killed at any moment leaves
the previous committed state or the new one: SQLite's journal rolls an interrupted transaction
back the next time the file is opened (:meth:`GpkgBackend.recover`).

Small layers skip the stage: a replaced layer of at most ``workspace.direct_write_max_rows``
rows that :mod:`pianqu.workspace.gpkg_direct` can encode (a decision's conflict table, a zone
edit) is kept in memory and written with SQLite inside the same transaction, exactly as GDAL
would have written it — rows replaced in place when its schema is unchanged and it is small
(``workspace.in_place_max_rows``), so that the schema every reader has parsed stays valid.

Journal mode: the file stays in SQLite's rollback journal (``DELETE``, GDAL's default) unless
something else (QGIS) switched it to WAL, which then works as well. Rollback mode because a
workspace is one self-contained file that planners copy, mail and keep on network shares, where
WAL does not work (it needs shared memory on one host) and leaves ``-wal``/``-shm`` files that
must travel with it; and a read-only copy of a WAL file cannot even be read without them. The
price: readers hold the writer's commit back (it waits with the busy timeout), and readers wait
during the short commit itself — GDAL's readers wait rather than fail (measured), and the commit
only copies what was staged. A WAL file is checkpointed after each commit so that the ``.gpkg``
alone is complete.

Leftovers: a killed writer leaves its stage file (removed by the next writer once that
process is gone — the token in the name keeps a reused pid apart), perhaps a hot ``-journal``
(rolled back, never deleted: deleting it would corrupt the file) and its ``.writer`` note
(overwritten by the next writer). A symlinked workspace is written through: the link stays.

In-process note: SQLite's locks are POSIX record locks, which a process loses when it closes
*any* descriptor of the file; GDAL has its own copy of SQLite, so the workspace is never opened
through pyogrio while this module holds the write lock (only the stage is).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import secrets
import sqlite3
import struct
import time
from pathlib import Path
from typing import Iterable, Mapping

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from pianqu.geo import STORAGE_EPSG
from pianqu.workspace import gpkg_direct
from pianqu.workspace.base import (REVISION_TABLE, Frame, Holder, StaleRevisionError, WorkspaceError,
                                   WorkspaceLockedError, current_user, fault_point, now_iso)

DEFAULT_BUSY_TIMEOUT_S = 30.0
DEFAULT_DIRECT_MAX_ROWS = 1000  # thresholds.toml workspace.direct_write_max_rows
DEFAULT_IN_PLACE_MAX_ROWS = 200  # thresholds.toml workspace.in_place_max_rows
# GeoPackage tables that register a user table (all keyed by table_name)
_REGISTRATIONS = ("gpkg_contents", "gpkg_geometry_columns", "gpkg_ogr_contents", "gpkg_extensions",
                  "gpkg_data_columns", "gpkg_metadata_reference")
_APPEND_PREFIX = "pianqu_append__"
_ACTIVE_STAGES: set[str] = set()  # stage files of this process (a stale one may carry our pid)
_FS_IOC_GETFLAGS = 0x80086601
_FS_IMMUTABLE_FL = 0x10


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def is_immutable(path: Path) -> bool:
    """Whether ``path`` carries the immutable attribute (``chattr +i``); False where unknown."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return False
    try:
        buf = fcntl.ioctl(fd, _FS_IOC_GETFLAGS, b"\0" * 8)
        return bool(struct.unpack("l", buf)[0] & _FS_IMMUTABLE_FL)
    except OSError:
        return False
    finally:
        os.close(fd)


def _write_frame(path: Path, table: str, frame: Frame, append: bool = False) -> None:
    if isinstance(frame, gpd.GeoDataFrame):
        if frame.crs is None or frame.crs.to_epsg() != STORAGE_EPSG:
            raise WorkspaceError("common.workspace.storage_crs", layer=table, epsg=STORAGE_EPSG,
                                 crs=str(frame.crs))
        geom_types = frame.geom_type.dropna().unique()
        promote = len(geom_types) > 1 or any(t.startswith("Multi") for t in geom_types)
        pyogrio.write_dataframe(frame, path, layer=table, driver="GPKG", append=append,
                                promote_to_multi=promote or None)
    else:
        pyogrio.write_dataframe(pd.DataFrame(frame), path, layer=table, driver="GPKG", append=append)


def _read(path: Path, table: str, columns=None, bbox=None, url: str | None = None) -> Frame:
    try:
        info = pyogrio.read_info(path, layer=table)
    except Exception as exc:  # pyogrio raises DataLayerError and friends
        raise WorkspaceError("common.workspace.unreadable_layer", path=url or str(path), layer=table,
                             detail=str(exc)) from exc
    spatial = info.get("geometry_type") is not None
    frame = pyogrio.read_dataframe(path, layer=table, columns=columns, bbox=bbox,
                                   read_geometry=spatial, use_arrow=True)
    if spatial and frame.crs is None:
        frame = frame.set_crs(STORAGE_EPSG)
    return frame


# -- the GeoPackage geometry functions the R-tree triggers call --------------------------------
def _envelope(blob: bytes | None) -> tuple[float, float, float, float] | None:
    """(minx, maxx, miny, maxy) of a GeoPackage geometry blob; None when empty or NULL."""
    if blob is None or len(blob) < 8 or blob[:2] != b"GP":
        return None
    flags = blob[3]
    if flags & 0x10:  # the empty flag
        return None
    order = "<" if flags & 1 else ">"
    kind = (flags >> 1) & 0x07
    if kind:
        return struct.unpack(order + "4d", blob[8:40])
    size = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}.get(kind, 0)
    geom = shapely.from_wkb(bytes(blob[8 + size:]))
    if geom is None or geom.is_empty:
        return None
    x0, y0, x1, y1 = geom.bounds
    return x0, x1, y0, y1


def _register_functions(con: sqlite3.Connection) -> None:
    con.create_function("ST_IsEmpty", 1, lambda b: None if b is None else int(_envelope(b) is None),
                        deterministic=True)
    for k, name in enumerate(("ST_MinX", "ST_MaxX", "ST_MinY", "ST_MaxY")):
        con.create_function(name, 1, lambda b, k=k: None if (e := _envelope(b)) is None else e[k],
                            deterministic=True)


@contextlib.contextmanager
def _throwaway_sqlite():
    """GDAL writes a stage without fsync and without a journal: a stage is thrown away when
    its writer dies, so durability there only costs time (27 → 5 ms for a small layer)."""
    options = {"OGR_SQLITE_SYNCHRONOUS": "OFF", "OGR_SQLITE_JOURNAL": "OFF"}
    before = {k: pyogrio.get_gdal_config_option(k) for k in options}
    pyogrio.set_gdal_config_options(options)
    try:
        yield
    finally:
        pyogrio.set_gdal_config_options(before)


class _Borrowed:
    """A kept connection lent for one use: ``close`` leaves it open."""

    def __init__(self, con: sqlite3.Connection):
        self._con = con

    def execute(self, *args):
        return self._con.execute(*args)

    def close(self) -> None:
        pass


class GpkgStage:
    """The temporary GeoPackage a write is staged in (module docstring); readable meanwhile so
    that a unit of work reads its own writes as they will be stored.

    A table of at most ``direct_max_rows`` rows that :mod:`gpkg_direct` can encode is not
    written to the stage file but kept prepared in memory (``pending``) and written with SQLite
    in the commit's transaction; read back in the unit of work meanwhile, it is staged through
    pyogrio first (so the read is GDAL's, as before)."""

    def __init__(self, workspace: Path, direct_max_rows: int = DEFAULT_DIRECT_MAX_ROWS):
        self.path = workspace.with_name(f".{workspace.stem}.tmp-{os.getpid()}-{secrets.token_hex(4)}.gpkg")
        self.tables: set[str] = set()
        self.pending: dict[str, tuple[gpkg_direct.Prepared, Frame]] = {}
        self.direct_max_rows = int(direct_max_rows)
        _ACTIVE_STAGES.add(str(self.path))

    def put(self, table: str, frame: Frame, direct: bool = True) -> None:
        prepared = gpkg_direct.prepare(table, frame, self.direct_max_rows) if direct else None
        if prepared is not None:
            self.pending[table] = (prepared, frame.copy())
            self.tables.discard(table)
            return
        with _throwaway_sqlite():
            _write_frame(self.path, table, frame)
        self.pending.pop(table, None)
        self.tables.add(table)

    def flush(self, tables: Iterable[str] | None = None) -> None:
        """Stage pending tables (all, or ``tables``) through pyogrio after all."""
        for table in list(self.pending if tables is None else tables):
            if table in self.pending:
                _prepared, frame = self.pending[table]
                self.put(table, frame, direct=False)

    def read(self, table: str, columns=None, bbox=None) -> Frame:
        self.flush([table])
        return _read(self.path, table, columns, bbox)

    def discard(self) -> None:
        self.pending.clear()
        _ACTIVE_STAGES.discard(str(self.path))
        for suffix in ("", "-journal", "-wal", "-shm"):
            Path(str(self.path) + suffix).unlink(missing_ok=True)


class GpkgBackend:
    """A GeoPackage file written in place, one SQLite transaction per write (module docstring)."""

    def __init__(self, path: str | Path, busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S,
                 direct_max_rows: int = DEFAULT_DIRECT_MAX_ROWS, in_place_max_rows: int = DEFAULT_IN_PLACE_MAX_ROWS):
        self.path = Path(path)
        self.url = str(self.path)
        self.busy_timeout_s = float(busy_timeout_s)
        self.direct_max_rows = int(direct_max_rows)  # 0: every table staged through pyogrio
        self.in_place_max_rows = int(in_place_max_rows)

    @property
    def real(self) -> Path:
        """The file itself (a symlinked workspace is written through the link)."""
        return Path(os.path.realpath(self.path))

    @property
    def writer_note(self) -> Path:
        return self.real.with_name(self.real.name + ".writer")

    # -- reading --------------------------------------------------------------------------------
    def exists(self) -> bool:
        return self.path.exists()

    def list_tables(self) -> list[str]:
        """The layers (the tables registered in ``gpkg_contents``, as GDAL lists them), read
        with SQLite: ~0.3 ms where pyogrio.list_layers takes ~35 ms on a county workspace."""
        if not self.path.exists():
            return []
        con = self._reader()
        try:
            return [str(r[0]) for r in con.execute(
                "SELECT table_name FROM gpkg_contents WHERE data_type IN ('features', 'attributes') ORDER BY rowid")]
        except sqlite3.DatabaseError as exc:
            raise WorkspaceError("common.workspace.not_readable", path=self.url, detail=str(exc)) from exc
        finally:
            con.close()

    def values(self, table: str, column: str) -> list:
        """One column of a plain table, read with SQLite (e.g. the scenario names)."""
        con = self._reader()
        try:
            return [r[0] for r in con.execute(f"SELECT {_q(column)} FROM {_q(table)}")]
        except sqlite3.DatabaseError as exc:
            raise WorkspaceError("common.workspace.unreadable_layer", path=self.url, layer=table,
                                 detail=str(exc)) from exc
        finally:
            con.close()

    def _reader(self) -> "_Borrowed":
        """The backend's read-only SQLite connection, kept open between calls (a connection
        parses the schema of ~70 layers once, not at every call) and renewed when the file was
        replaced; used as ``con = self._reader(); ...; con.close()`` (close keeps it)."""
        return _Borrowed(self._cached("ro"))

    def _writer(self) -> sqlite3.Connection:
        """The backend's writing connection, kept open between writes (no lock is held between
        transactions); an interrupted one is dropped (:meth:`_forget`)."""
        con = self._cached("rw")
        _register_functions(con)
        return con

    def _cached(self, mode: str) -> sqlite3.Connection:
        real = self.real
        st = real.stat()
        key = (mode, str(real), st.st_dev, st.st_ino)
        cache = self.__dict__.setdefault("_connections", {})
        con = cache.get(mode)
        if con is not None and con[0] == key:
            return con[1]
        if con is not None:
            con[1].close()
        if mode == "ro":
            new = sqlite3.connect(f"file:{real}?mode=ro", uri=True, timeout=self.busy_timeout_s,
                                  check_same_thread=False, factory=_Connection)
        else:
            new = sqlite3.connect(real, timeout=self.busy_timeout_s, isolation_level=None, check_same_thread=False,
                                  factory=_Connection)
        cache[mode] = (key, new)
        return new

    def _forget(self) -> None:
        """Close the kept connections (after a failed write, before a recovery)."""
        for _key, con in self.__dict__.pop("_connections", {}).values():
            with contextlib.suppress(sqlite3.Error):
                con.close()

    def close(self) -> None:
        self._forget()

    def read(self, table, columns=None, bbox=None):
        return _read(self.path, table, columns, bbox, url=self.url)

    def revisions(self, tables: Iterable[str] | None = None) -> dict[str, int]:
        rows: dict[str, int] = {}
        if self.path.exists():
            con = self._reader()
            try:
                rows = _revision_rows(con)
            except sqlite3.DatabaseError as exc:
                raise WorkspaceError("common.workspace.not_readable", path=self.url, detail=str(exc)) from exc
            finally:
                con.close()
        if tables is None:
            return rows
        low = {k.lower(): v for k, v in rows.items()}
        return {t: low.get(t.lower(), 0) for t in tables}

    def latest(self, tables: Iterable[str]) -> dict[str, dict]:
        """The latest ``pianqu_revision`` row of each table (revision, ts, command, user)."""
        con = self._reader()
        try:
            return _latest(con, tables)
        finally:
            con.close()

    def recover(self) -> None:
        """Roll back a transaction a killed writer left in a hot journal (SQLite does it when a
        writable connection reads the file); a no-op without one or without write access."""
        journal = Path(str(self.real) + "-journal")
        if not journal.exists() or not os.access(self.real, os.W_OK):
            return
        self._forget()
        con = sqlite3.connect(self.real, timeout=self.busy_timeout_s)
        try:
            con.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.DatabaseError:
            pass  # the next open says what is wrong
        finally:
            con.close()

    # -- writing --------------------------------------------------------------------------------
    def stage(self) -> GpkgStage:
        """A new stage for a write (module docstring); checked writable first, leftovers of
        killed writers removed. A new workspace's folder is made (as before: the library makes
        it; the CLI refuses a missing folder of an output it names, see ``commands.common``)."""
        if not self.real.exists():
            self.real.parent.mkdir(parents=True, exist_ok=True)
        self._check_writable()
        self._clean_stale_stages()
        return GpkgStage(self.real, self.direct_max_rows)

    def write(self, replace: Mapping[str, Frame], append: Mapping[str, pd.DataFrame], drop: list[str], *,
              expect: Mapping[str, int] | None = None, holder: Holder | None = None) -> dict[str, int]:
        stage = self.stage()
        try:
            for table, frame in replace.items():
                stage.put(table, frame)
            return self.commit(stage, list(replace), append, drop, expect=expect, holder=holder)
        except WorkspaceError:
            raise
        except Exception as exc:  # pyogrio could not stage
            raise stage_error(self, exc, stage.path) from exc
        finally:
            stage.discard()

    def commit(self, stage: GpkgStage, replace: list[str], append: Mapping[str, pd.DataFrame],
               drop: list[str], *, expect: Mapping[str, int] | None = None,
               holder: Holder | None = None) -> dict[str, int]:
        """Commit the staged tables ``replace`` (and ``append`` rows, and ``drop``) in one SQLite
        transaction; returns the new revisions of the tables touched."""
        holder = holder or Holder.here()
        if not self.path.exists():
            fault_point("staged")
            return self._create(stage, replace, append, drop, holder)
        present = {t.lower() for t in self._plain_tables()}
        for table, frame in append.items():  # plain rows into an existing table go in with SQL
            if isinstance(frame, gpd.GeoDataFrame) or table.lower() not in present:
                stage.put(_APPEND_PREFIX + table, frame, direct=False)
        if stage.pending and not self._direct_ready():
            stage.flush()
        fault_point("staged")
        try:
            con = self._writer()
        except (sqlite3.Error, OSError) as exc:
            raise self._storage_error(exc) from exc
        ok = False
        try:
            try:
                con.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                if "locked" in str(exc) or "busy" in str(exc):
                    raise self._locked_error() from None
                raise self._storage_error(exc) from exc
            try:
                self._note_holder(holder)
                fault_point("locked")
                self._check_expect(con, expect or {})
                if stage.tables:
                    con.execute("ATTACH DATABASE ? AS stage", (str(stage.path),))
                touched = _apply(con, stage, replace, append, drop, self.in_place_max_rows)
                revisions = _bump(con, touched, holder)
                fault_point("before-commit")
                con.execute("COMMIT")
            except BaseException as exc:
                with contextlib.suppress(sqlite3.Error):
                    con.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise self._storage_error(exc) from exc
                raise
            finally:
                self.writer_note.unlink(missing_ok=True)
            fault_point("after-commit")
            with contextlib.suppress(sqlite3.Error):
                if stage.tables:
                    con.execute("DETACH DATABASE stage")
                if str(con.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal":
                    con.execute("PRAGMA wal_checkpoint(PASSIVE)")
            ok = True
            return revisions
        finally:
            if not ok:
                self._forget()
                self.recover()  # a commit that failed half-way (disk full) is rolled back now

    def _create(self, stage: GpkgStage, replace, append, drop, holder: Holder) -> dict[str, int]:
        """A new workspace: the stage becomes the file (complete, then linked into place, so a
        half-made file is never seen and an existing one is never replaced)."""
        stage.flush()
        for table, frame in append.items():
            stage.put(table, frame, direct=False)
        con = sqlite3.connect(stage.path, isolation_level=None)
        try:
            con.execute("BEGIN IMMEDIATE")
            revisions = _bump(con, list(replace) + list(append) + list(drop), holder)
            con.execute("COMMIT")
        finally:
            con.close()
        with open(stage.path, "rb+") as fh:
            os.fsync(fh.fileno())
        self.real.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(stage.path, self.real)
        except FileExistsError:
            raise WorkspaceError("common.workspace.exists", path=self.url) from None
        except OSError as exc:
            raise self._storage_error(exc) from exc
        _fsync_dir(self.real.parent)
        return revisions

    def _direct_ready(self) -> bool:
        """Whether the workspace has the GeoPackage tables a direct write registers tables in."""
        con = self._reader()
        try:
            return gpkg_direct.can_write(con, _tables(con))
        except sqlite3.DatabaseError:
            return False
        finally:
            con.close()

    def _plain_tables(self) -> list[str]:
        con = self._reader()
        try:
            return list(_tables(con).values())
        except sqlite3.DatabaseError as exc:
            raise WorkspaceError("common.workspace.not_readable", path=self.url, detail=str(exc)) from exc
        finally:
            con.close()

    def _check_expect(self, con: sqlite3.Connection, expect: Mapping[str, int]) -> None:
        if not expect:
            return
        current = {k.lower(): v for k, v in _revision_rows(con).items()}
        changed = {t: (int(e), int(current.get(t.lower(), 0))) for t, e in expect.items()
                   if int(current.get(t.lower(), 0)) != int(e)}
        if not changed:
            return
        latest = _latest(con, changed)
        what = "; ".join(f"{t} r{e}→r{c} ({latest[t]['ts']}, {latest[t]['command']}, {latest[t]['user']})"
                         if t in latest else f"{t} r{e}→r{c}" for t, (e, c) in changed.items())
        raise StaleRevisionError("common.workspace.stale", changed, path=self.url, changes=what,
                                 tables=", ".join(changed))

    def _note_holder(self, holder: Holder) -> None:
        tmp = self.writer_note.with_name(self.writer_note.name + f".{os.getpid()}")
        try:
            tmp.write_text(json.dumps(holder.__dict__, ensure_ascii=False))
            os.replace(tmp, self.writer_note)
        except OSError:
            tmp.unlink(missing_ok=True)  # informative only: the lock is SQLite's

    def _locked_error(self) -> WorkspaceLockedError:
        note = {}
        with contextlib.suppress(OSError, ValueError):
            note = json.loads(self.writer_note.read_text())
        if note and _pid_alive(int(note.get("pid", 0))):
            return WorkspaceLockedError("common.workspace.locked_by", path=self.url, command=note.get("command", "?"),
                                        user=note.get("user", "?"), pid=note.get("pid", "?"),
                                        started=note.get("started", "?"), timeout=self.busy_timeout_s)
        return WorkspaceLockedError("common.workspace.locked", path=self.url, timeout=self.busy_timeout_s)

    def _check_writable(self) -> None:
        """Refuse before anything is done when the file or its folder cannot be written."""
        real = self.real
        folder = real.parent
        if self.path.exists():
            if is_immutable(real):
                raise WorkspaceError("common.workspace.immutable", path=self.url)
            if not os.access(real, os.W_OK):
                raise WorkspaceError("common.workspace.read_only_file", path=self.url)
        if folder.exists() and not os.access(folder, os.W_OK | os.X_OK):
            raise WorkspaceError("common.workspace.read_only_dir", path=self.url, folder=str(folder))

    def _storage_error(self, exc: BaseException) -> WorkspaceError:
        text = str(exc)
        if isinstance(exc, sqlite3.Error):
            code = getattr(exc, "sqlite_errorcode", None)
            if code == sqlite3.SQLITE_FULL or "full" in text:
                return WorkspaceError("common.workspace.disk_full", path=self.url, detail=text)
            if "readonly" in text or "read-only" in text:
                if is_immutable(self.real):
                    return WorkspaceError("common.workspace.immutable", path=self.url)
                return WorkspaceError("common.workspace.read_only_file", path=self.url)
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
            return WorkspaceError("common.workspace.disk_full", path=self.url, detail=text)
        if _out_of_room(self.real.parent, None) or _at_size_limit(self.real):
            return WorkspaceError("common.workspace.disk_full", path=self.url, detail=text)
        return WorkspaceError("common.workspace.write_failed", path=self.url, detail=f"{type(exc).__name__}: {text}")

    def _clean_stale_stages(self) -> None:
        real = self.real
        for stale in real.parent.glob(f".{real.stem}.tmp-*.gpkg*"):
            base = str(stale)
            for suffix in ("-journal", "-wal", "-shm"):
                base = base.removesuffix(suffix)
            if base in _ACTIVE_STAGES:
                continue
            try:
                pid = int(Path(base).name.split(".tmp-", 1)[1].split("-")[0].split(".")[0])
            except (IndexError, ValueError):
                continue
            if pid == os.getpid() or not _pid_alive(pid):
                stale.unlink(missing_ok=True)


def stage_error(backend: GpkgBackend, exc: BaseException, stage: Path | None = None) -> WorkspaceError:
    """A staging failure (pyogrio could not write the temporary GeoPackage) as a message; GDAL
    often says only "Failed to commit transaction", so a full disk or a file size limit is
    recognised from the disk itself."""
    if isinstance(exc, WorkspaceError):
        return exc
    text = str(exc)
    low = text.lower()
    if ("no space" in low or "file too large" in low or "disk is full" in low or "disk full" in low
            or isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT)
            or _out_of_room(backend.real.parent, stage)):
        return WorkspaceError("common.workspace.disk_full", path=backend.url, detail=text)
    return WorkspaceError("common.workspace.write_failed", path=backend.url, detail=f"{type(exc).__name__}: {text}")


def _out_of_room(folder: Path, stage: Path | None, margin: int = 1 << 20) -> bool:
    """Whether the folder's file system is (nearly) full, or a stage file reached this process's
    file size limit (RLIMIT_FSIZE)."""
    import resource

    try:
        st = os.statvfs(folder)
        if st.f_bavail * st.f_frsize < margin:
            return True
    except OSError:
        pass
    soft, _ = resource.getrlimit(resource.RLIMIT_FSIZE)
    if soft == resource.RLIM_INFINITY or stage is None:
        return False
    sizes = [Path(str(stage) + s).stat().st_size for s in ("", "-journal", "-wal")
             if Path(str(stage) + s).exists()]
    return any(size >= soft - margin for size in sizes)


def _at_size_limit(real: Path, margin: int = 1 << 16) -> bool:
    """Whether the workspace or its journal reached this process's file size limit."""
    import resource

    soft, _ = resource.getrlimit(resource.RLIMIT_FSIZE)
    if soft == resource.RLIM_INFINITY:
        return False
    return any(Path(str(real) + s).exists() and Path(str(real) + s).stat().st_size >= soft - margin
               for s in ("", "-journal", "-wal"))


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# -- inside the transaction ----------------------------------------------------------------------
class _Connection(sqlite3.Connection):
    """The backend's kept connections: they remember their workspace's table names by schema
    version. (Not a cache keyed by ``id(connection)`` and version: a closed connection's id is
    reused, and every fresh stage has the same versions — a stale list of a stage's tables once
    left a copied layer without its R-tree.)"""

    tables_seen: tuple[int, dict[str, str]] | None = None


def _tables(con, schema: str = "main") -> dict[str, str]:
    """lower name → name of the tables of ``schema`` (main's remembered until its schema changes)."""
    version = con.execute(f"PRAGMA {schema}.schema_version").fetchone()[0]
    raw = getattr(con, "_con", con)
    keep = schema == "main" and isinstance(raw, _Connection)
    if keep and raw.tables_seen is not None and raw.tables_seen[0] == version:
        return dict(raw.tables_seen[1])
    names = {r[0].lower(): r[0] for r in con.execute(f"SELECT name FROM {schema}.sqlite_master WHERE type='table'")}
    if keep:
        raw.tables_seen = (version, names)
    return dict(names)


def _revision_rows(con: sqlite3.Connection) -> dict[str, int]:
    if REVISION_TABLE not in _tables(con):
        return {}
    return {str(t): int(r) for t, r in con.execute(f"SELECT table_name, revision FROM {REVISION_TABLE}")}


def _latest(con: sqlite3.Connection, tables: Iterable[str]) -> dict[str, dict]:
    if REVISION_TABLE not in _tables(con):
        return {}
    out = {}
    for t in tables:
        row = con.execute(f"SELECT revision, ts, command, user FROM {REVISION_TABLE} WHERE lower(table_name)=lower(?)",
                          (t,)).fetchone()
        if row:
            out[t] = dict(zip(("revision", "ts", "command", "user"), row))
    return out


def _columns(con: sqlite3.Connection, table: str, schema: str = "main") -> list[str]:
    return [r[1] for r in con.execute(f"PRAGMA {schema}.table_info({_q(table)})")]


def _drop(con: sqlite3.Connection, table: str) -> bool:
    """Drop ``table`` of main with its registrations and R-tree; whether it existed."""
    present = _tables(con)
    name = present.get(table.lower())
    if "gpkg_geometry_columns" in present:
        for (col,) in con.execute("SELECT column_name FROM gpkg_geometry_columns WHERE lower(table_name)=lower(?)",
                                  (table,)).fetchall():
            con.execute(f"DROP TABLE IF EXISTS {_q(f'rtree_{name or table}_{col}')}")
    for reg in _REGISTRATIONS:
        if reg in present:
            con.execute(f"DELETE FROM {reg} WHERE lower(table_name)=lower(?)", (table,))
    if name is not None:
        con.execute(f"DROP TABLE {_q(name)}")
    return name is not None


def _ensure_registration_tables(con: sqlite3.Connection) -> None:
    main, stage = _tables(con), _tables(con, "stage")
    for reg in _REGISTRATIONS:
        if reg not in main and reg in stage:
            sql = con.execute("SELECT sql FROM stage.sqlite_master WHERE type='table' AND name=?", (stage[reg],)).fetchone()[0]
            con.execute(sql)


def _copy(con: sqlite3.Connection, stage_table: str, table: str) -> None:
    """Copy ``stage_table`` of the stage into main as ``table``, with its GeoPackage registrations,
    indexes, R-tree and triggers (the rows first, the triggers last: nothing fires)."""
    master = con.execute("SELECT type, name, sql FROM stage.sqlite_master WHERE tbl_name=? AND sql IS NOT NULL",
                         (stage_table,)).fetchall()
    create = next(sql for kind, name, sql in master if kind == "table" and name == stage_table)
    if stage_table != table:
        create = create.replace(_q(stage_table), _q(table), 1).replace(f"TABLE {stage_table} ", f"TABLE {_q(table)} ", 1)
    con.execute(create)
    con.execute(f"INSERT INTO main.{_q(table)} SELECT * FROM stage.{_q(stage_table)}")
    srs = set()
    main_tables, stage_tables = _tables(con), _tables(con, "stage")
    for reg in _REGISTRATIONS:
        if reg not in stage_tables or reg not in main_tables:
            continue
        cols = [c for c in _columns(con, reg, "stage") if c in set(_columns(con, reg))]
        rows = con.execute(f"SELECT {', '.join(map(_q, cols))} FROM stage.{reg} WHERE table_name=?",
                           (stage_table,)).fetchall()
        for row in rows:
            row = [table if c == "table_name" else (table if c == "identifier" and v == stage_table else v)
                   for c, v in zip(cols, row)]
            if "srs_id" in cols:
                srs.add(row[cols.index("srs_id")])
            con.execute(f"INSERT INTO main.{reg} ({', '.join(map(_q, cols))}) VALUES ({', '.join('?' * len(cols))})",
                        row)
    if srs and "gpkg_spatial_ref_sys" in main_tables:
        cols = [c for c in _columns(con, "gpkg_spatial_ref_sys", "stage") if c in set(_columns(con, "gpkg_spatial_ref_sys"))]
        for s in srs:
            con.execute(f"INSERT OR IGNORE INTO main.gpkg_spatial_ref_sys ({', '.join(cols)}) "
                        f"SELECT {', '.join(cols)} FROM stage.gpkg_spatial_ref_sys WHERE srs_id=?", (s,))
    for (col,) in con.execute("SELECT column_name FROM main.gpkg_geometry_columns WHERE table_name=?", (table,)).fetchall() \
            if "gpkg_geometry_columns" in main_tables else []:
        src, dst = f"rtree_{stage_table}_{col}", f"rtree_{table}_{col}"
        if src.lower() in stage_tables:
            con.execute(f"CREATE VIRTUAL TABLE {_q(dst)} USING rtree(id, minx, maxx, miny, maxy)")
            con.execute(f"INSERT INTO main.{_q(dst)} SELECT * FROM stage.{_q(src)}")
    for kind, name, sql in master:
        if kind in ("index", "trigger"):
            if stage_table != table:
                sql = sql.replace(stage_table, table)
            con.execute(sql)


def _append_rows(con: sqlite3.Connection, table: str, frame: pd.DataFrame) -> None:
    """Rows of a plain table appended with SQL (new columns added)."""
    name = _tables(con)[table.lower()]
    have = _columns(con, name)
    for col in frame.columns:
        if col not in have:
            kind = "INTEGER" if pd.api.types.is_integer_dtype(frame[col]) or pd.api.types.is_bool_dtype(frame[col]) \
                else "REAL" if pd.api.types.is_float_dtype(frame[col]) else "TEXT"
            con.execute(f"ALTER TABLE {_q(name)} ADD COLUMN {_q(col)} {kind}")
    cols = list(frame.columns)
    encoded = [gpkg_direct.column_values(frame[c]) for c in cols] if not frame.columns.duplicated().any() else [None]
    if all(e is not None for e in encoded):
        values = list(zip(*[e[1] for e in encoded]))
    else:
        values = frame.astype(object).where(frame.notna(), None).to_numpy().tolist()
        values = [[v.item() if isinstance(v, np.generic) else v for v in row] for row in values]
    con.executemany(f"INSERT INTO {_q(name)} ({', '.join(map(_q, cols))}) VALUES ({', '.join('?' * len(cols))})",
                    values)
    if "gpkg_ogr_contents" in _tables(con):
        con.execute(f"UPDATE gpkg_ogr_contents SET feature_count=(SELECT count(*) FROM {_q(name)}) "
                    "WHERE lower(table_name)=lower(?)", (table,))
    if "gpkg_contents" in _tables(con):
        con.execute("UPDATE gpkg_contents SET last_change=strftime('%Y-%m-%dT%H:%M:%fZ','now') "
                    "WHERE lower(table_name)=lower(?)", (table,))


def _apply(con: sqlite3.Connection, stage: GpkgStage, replace: list[str], append: Mapping[str, pd.DataFrame],
           drop: list[str], in_place_max_rows: int = DEFAULT_IN_PLACE_MAX_ROWS) -> list[str]:
    """Every change of one write, inside its transaction; the tables touched."""
    if stage.tables:
        _ensure_registration_tables(con)
    for table in drop:
        if table not in replace:
            _drop(con, table)
    for k, table in enumerate(replace):
        if table in stage.pending:
            gpkg_direct.write_prepared(con, stage.pending[table][0], _drop, in_place_max_rows)
        else:
            _drop(con, table)
            _copy(con, table, table)
        if k == len(replace) // 2:
            fault_point("mid-commit")
    for table, frame in append.items():
        staged = _APPEND_PREFIX + table
        if table.lower() in _tables(con):
            if staged in stage.tables:
                cols = [c for c in _columns(con, staged, "stage") if c != "fid"]
                con.execute(f"INSERT INTO {_q(table)} ({', '.join(map(_q, cols))}) "
                            f"SELECT {', '.join(map(_q, cols))} FROM stage.{_q(staged)}")
            else:
                _append_rows(con, table, frame)
        elif staged in stage.tables:
            _copy(con, staged, table)
        else:  # the table vanished after the write was staged: nothing is written
            raise WorkspaceError("common.workspace.write_failed", path=str(stage.path),
                                 detail=f"table {table} disappeared during the write")
    return list(dict.fromkeys([*drop, *replace, *append]))


def _bump(con: sqlite3.Connection, tables: list[str], holder: Holder) -> dict[str, int]:
    """Revision + 1 for each table (the revision table made and registered when absent)."""
    if REVISION_TABLE not in _tables(con):
        con.execute(f"CREATE TABLE {REVISION_TABLE} (fid INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, "
                    "table_name TEXT NOT NULL UNIQUE, revision INTEGER NOT NULL, ts TEXT, command TEXT, user TEXT)")
        if "gpkg_contents" in _tables(con):
            con.execute("INSERT INTO gpkg_contents (table_name, data_type, identifier, last_change) "
                        "VALUES (?, 'attributes', ?, strftime('%Y-%m-%dT%H:%M:%fZ','now'))",
                        (REVISION_TABLE, REVISION_TABLE))
    ts = now_iso()
    out = {}
    for table in tables:
        con.execute(f"INSERT INTO {REVISION_TABLE} (table_name, revision, ts, command, user) VALUES (?, 1, ?, ?, ?) "
                    "ON CONFLICT(table_name) DO UPDATE SET revision=revision+1, ts=excluded.ts, "
                    "command=excluded.command, user=excluded.user",
                    (table, ts, holder.command, holder.user))
        out[table] = int(con.execute(f"SELECT revision FROM {REVISION_TABLE} WHERE table_name=?", (table,)).fetchone()[0])
    return out
