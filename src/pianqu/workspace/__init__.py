"""The county workspace: one GeoPackage per county holding the unified base map (统一底图).

A workspace holds the base layers of ``pianqu.schema``, a metadata table, named plan
scenarios (their layers are stored as ``scn_<scenario>__<layer>``) and an audit table that
records every write (GB/T 39972 asks for a full trail of every change to a plan).

Writes are atomic: the file is copied, the copy is written and synced, and the copy replaces
the original with one ``os.replace``. A process killed in the middle of a write leaves the
previous workspace intact (and a stray temporary file, removed on the next write).

Callers use :class:`Workspace` only; storage lives behind the :class:`Backend` protocol so a
PostGIS backend can follow without changing them.
"""

from __future__ import annotations

import datetime as _dt
import fcntl
import getpass
import json
import os
import re
import shutil
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping, Protocol

import geopandas as gpd
import pandas as pd
import pyogrio

from pianqu._version import __version__
from pianqu.config import Config, load_config
from pianqu.errors import PianquError, layer_label
from pianqu.geo import STORAGE_EPSG

META_TABLE = "pianqu_meta"
AUDIT_TABLE = "pianqu_audit"
SCENARIO_TABLE = "pianqu_scenario"
INTERNAL_TABLES = (META_TABLE, AUDIT_TABLE, SCENARIO_TABLE)
SCENARIO_PREFIX = "scn_"
SCENARIO_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$")

Frame = gpd.GeoDataFrame | pd.DataFrame


class WorkspaceError(PianquError, RuntimeError):
    """A workspace that cannot be opened or written; the message (``common.workspace.*`` in
    ``pianqu/locales/common.toml``) says what to do, in the user's language."""


class BackendUnavailableError(WorkspaceError, NotImplementedError):
    """A workspace URL of a storage backend pianqu does not serve yet (PostGIS): a
    :class:`WorkspaceError` that is also a ``NotImplementedError``."""


def scenario_layer(layer: str, scenario: str | None) -> str:
    """Physical table name of ``layer`` in ``scenario`` (None: a base layer)."""
    if scenario is None:
        return layer
    if not SCENARIO_RE.match(scenario):
        raise WorkspaceError("common.workspace.bad_scenario_name", scenario=scenario)
    return f"{SCENARIO_PREFIX}{scenario}__{layer}"


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).astimezone().isoformat(timespec="seconds")


class Backend(Protocol):
    """Storage of one workspace. Every ``write`` is one transaction: all or nothing."""

    url: str

    def exists(self) -> bool: ...
    def list_tables(self) -> list[str]: ...
    def read(self, table: str, columns: list[str] | None = None,
             bbox: tuple[float, float, float, float] | None = None) -> Frame: ...
    def write(self, replace: Mapping[str, Frame], append: Mapping[str, pd.DataFrame],
              drop: list[str]) -> None: ...


class GpkgBackend:
    """A GeoPackage file written by copy-on-write and an atomic rename."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.url = str(self.path)

    def exists(self) -> bool:
        return self.path.exists()

    def list_tables(self) -> list[str]:
        if not self.path.exists():
            return []
        return [str(name) for name, _ in pyogrio.list_layers(self.path)]

    def read(self, table, columns=None, bbox=None):
        try:
            info = pyogrio.read_info(self.path, layer=table)
        except Exception as exc:  # pyogrio raises DataLayerError and friends
            raise WorkspaceError("common.workspace.unreadable_layer", path=str(self.path), layer=table,
                                 detail=str(exc)) from exc
        spatial = info.get("geometry_type") is not None
        frame = pyogrio.read_dataframe(self.path, layer=table, columns=columns, bbox=bbox,
                                       read_geometry=spatial, use_arrow=True)
        if spatial and frame.crs is None:
            frame = frame.set_crs(STORAGE_EPSG)
        return frame

    @contextmanager
    def _lock(self) -> Iterator[None]:
        lock_path = self.path.with_name(self.path.name + ".lock")
        with open(lock_path, "w") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise WorkspaceError("common.workspace.locked", path=str(self.path)) from None
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def write(self, replace, append, drop):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock():
            for stale in self.path.parent.glob(f".{self.path.stem}.tmp-*.gpkg"):
                stale.unlink(missing_ok=True)  # left by a writer that was killed
            tmp = self.path.with_name(f".{self.path.stem}.tmp-{os.getpid()}.gpkg")
            try:
                if self.path.exists():
                    shutil.copy2(self.path, tmp)
                existing = set(self.list_tables_of(tmp)) if tmp.exists() else set()
                for table in drop:
                    if table in existing:
                        _drop_table(tmp, table)
                for table, frame in replace.items():
                    _write_frame(tmp, table, frame, append=False)
                present = set(self.list_tables_of(tmp)) if tmp.exists() else set()
                for table, frame in append.items():
                    _write_frame(tmp, table, frame, append=table in present)
                with open(tmp, "rb+") as fh:
                    os.fsync(fh.fileno())
                os.replace(tmp, self.path)
                dir_fd = os.open(self.path.parent, os.O_DIRECTORY)
                try:
                    os.fsync(dir_fd)
                finally:
                    os.close(dir_fd)
            finally:
                tmp.unlink(missing_ok=True)

    @staticmethod
    def list_tables_of(path: Path) -> list[str]:
        return [str(name) for name, _ in pyogrio.list_layers(path)]


def _write_frame(path: Path, table: str, frame: Frame, append: bool) -> None:
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


def _drop_table(path: Path, table: str) -> None:
    """Remove a table and its GeoPackage registrations (SQLite, as GDAL would)."""
    import sqlite3

    con = sqlite3.connect(path)
    try:
        with con:
            con.execute(f'DROP TABLE IF EXISTS "{table}"')
            for meta in ("gpkg_contents", "gpkg_geometry_columns", "gpkg_ogr_contents"):
                try:
                    con.execute(f"DELETE FROM {meta} WHERE lower(table_name) = lower(?)", (table,))
                except sqlite3.OperationalError:
                    pass
            try:
                con.execute("DELETE FROM gpkg_extensions WHERE lower(table_name) = lower(?)", (table,))
            except sqlite3.OperationalError:
                pass
            rtree = f"rtree_{table}_geom"
            con.execute(f'DROP TABLE IF EXISTS "{rtree}"')
    finally:
        con.close()


@dataclass(frozen=True)
class Meta:
    """The workspace metadata table, typed."""

    county_code: str
    county_name: str
    storage_epsg: int
    compute_epsg: int | None
    synthetic: bool
    pianqu_version: str
    created: str
    epochs: tuple[int, ...] = ()
    landuse_version: int = 2023
    extra: Mapping[str, Any] | None = None

    def to_frame(self) -> pd.DataFrame:
        rows = {
            "county_code": self.county_code, "county_name": self.county_name,
            "storage_epsg": self.storage_epsg, "compute_epsg": self.compute_epsg,
            "synthetic": self.synthetic, "pianqu_version": self.pianqu_version,
            "created": self.created, "epochs": list(self.epochs),
            "landuse_version": self.landuse_version, **(self.extra or {}),
        }
        return pd.DataFrame({"key": list(rows), "value": [json.dumps(v, ensure_ascii=False)
                                                           for v in rows.values()]})

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> "Meta":
        kv = {str(k): json.loads(v) for k, v in zip(frame["key"], frame["value"])}
        known = {"county_code", "county_name", "storage_epsg", "compute_epsg", "synthetic",
                 "pianqu_version", "created", "epochs", "landuse_version"}
        return cls(kv["county_code"], kv["county_name"], int(kv["storage_epsg"]),
                   None if kv.get("compute_epsg") is None else int(kv["compute_epsg"]),
                   bool(kv["synthetic"]), kv["pianqu_version"], kv["created"],
                   tuple(int(e) for e in kv.get("epochs", [])), int(kv.get("landuse_version", 2023)),
                   {k: v for k, v in kv.items() if k not in known})


def _backend_for(target: str | Path) -> Backend:
    text = str(target)
    if text.startswith(("postgresql://", "postgres://")):
        raise BackendUnavailableError("common.workspace.postgis", path=text)
    if not text.lower().endswith(".gpkg"):
        raise WorkspaceError("common.workspace.not_gpkg", path=text)
    return GpkgBackend(target)


class Workspace:
    """One county's workspace. Open with :meth:`open`, make with :meth:`create`."""

    def __init__(self, backend: Backend, meta: Meta):
        self.backend = backend
        self.meta = meta

    # -- life cycle -------------------------------------------------------------------------
    @classmethod
    def create(cls, target: str | Path, *, county_code: str, county_name: str, synthetic: bool,
               compute_epsg: int | None = None, epochs: tuple[int, ...] = (),
               command: str = "create", reason: str = "", overwrite: bool = False,
               extra: Mapping[str, Any] | None = None) -> "Workspace":
        """Make a new, empty workspace (refuses to replace an existing one unless ``overwrite``)."""
        backend = _backend_for(target)
        if backend.exists() and not overwrite:
            raise WorkspaceError("common.workspace.exists", path=backend.url)
        if not re.fullmatch(r"\d{6}", county_code):
            raise WorkspaceError("common.workspace.bad_county_code", code=county_code)
        meta = Meta(county_code, county_name, STORAGE_EPSG, compute_epsg, synthetic, __version__,
                    _now(), tuple(epochs), 2023, dict(extra or {}))
        if backend.exists() and overwrite and isinstance(backend, GpkgBackend):
            drop = backend.list_tables()
        else:
            drop = []
        backend.write({META_TABLE: meta.to_frame()},
                      {AUDIT_TABLE: _audit_rows([META_TABLE], command, reason, None, "create", [0])},
                      drop)
        return cls(backend, meta)

    @classmethod
    def open(cls, target: str | Path) -> "Workspace":
        backend = _backend_for(target)
        if not backend.exists():
            raise WorkspaceError("common.workspace.missing", path=backend.url)
        try:
            tables = backend.list_tables()
        except Exception as exc:
            raise WorkspaceError("common.workspace.not_readable", path=backend.url, detail=str(exc)) from exc
        if META_TABLE not in tables:
            raise WorkspaceError("common.workspace.not_pianqu", path=backend.url, table=META_TABLE)
        try:
            meta = Meta.from_frame(backend.read(META_TABLE))
        except WorkspaceError:
            raise
        except Exception as exc:  # a missing key, bad JSON, a value of the wrong type
            raise WorkspaceError("common.workspace.bad_meta", path=backend.url, table=META_TABLE,
                                 detail=f"{type(exc).__name__}: {exc}") from exc
        return cls(backend, meta)

    # -- reading ----------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return self.backend.url

    @property
    def path(self) -> Path:
        return Path(self.backend.url)

    def config(self, overrides: Mapping[str, Any] | None = None) -> Config:
        """Thresholds in force for this workspace (defaults + the ``pianqu.toml`` beside it)."""
        return load_config(self.url, overrides=overrides)

    def tables(self) -> list[str]:
        return self.backend.list_tables()

    def layers(self, scenario: str | None = None) -> list[str]:
        """Layers present: base layers, or those of ``scenario``."""
        tables = self.tables()
        if scenario is None:
            return [t for t in tables if t not in INTERNAL_TABLES and not t.startswith(SCENARIO_PREFIX)]
        prefix = scenario_layer("", scenario)
        return [t[len(prefix):] for t in tables if t.startswith(prefix)]

    def has(self, layer: str, scenario: str | None = None) -> bool:
        return scenario_layer(layer, scenario) in self.tables()

    def read(self, layer: str, scenario: str | None = None, *, columns: list[str] | None = None,
             bbox: tuple[float, float, float, float] | None = None) -> Frame:
        table = scenario_layer(layer, scenario)
        try:
            return self.backend.read(table, columns=columns, bbox=bbox)
        except WorkspaceError:
            if table in self.tables():
                raise
            if scenario:
                raise WorkspaceError("common.workspace.no_scenario_layer", path=self.url, layer=layer,
                                     layer_zh=layer_label(layer), scenario=scenario) from None
            raise WorkspaceError("common.workspace.no_layer", path=self.url, layer=layer,
                                 layer_zh=layer_label(layer)) from None

    def read_many(self, layers: list[str] | None = None, scenario: str | None = None) -> dict[str, Frame]:
        """Several layers at once (all base layers, or all of ``scenario``, by default)."""
        names = self.layers(scenario) if layers is None else layers
        return {name: self.read(name, scenario) for name in names}

    def audit(self) -> pd.DataFrame:
        return self.backend.read(AUDIT_TABLE)

    def scenarios(self) -> pd.DataFrame:
        if SCENARIO_TABLE not in self.tables():
            return pd.DataFrame(columns=["name", "title", "description", "created", "command"])
        return self.backend.read(SCENARIO_TABLE)

    # -- writing ----------------------------------------------------------------------------
    def write(self, layers: Mapping[str, Frame], *, command: str, reason: str = "",
              scenario: str | None = None, meta_updates: Mapping[str, Any] | None = None,
              drop: list[str] | None = None) -> None:
        """Replace ``layers`` (and drop ``drop``) in one atomic write, recorded in the audit table."""
        if scenario is not None and scenario not in set(self.scenarios()["name"]):
            raise WorkspaceError("common.workspace.no_scenario", path=self.url, scenario=scenario)
        replace = {scenario_layer(name, scenario): frame for name, frame in layers.items()}
        clash = set(replace) & set(INTERNAL_TABLES)
        if clash:
            raise WorkspaceError("common.workspace.reserved", layers=", ".join(sorted(clash)))
        dropped = [scenario_layer(name, scenario) for name in (drop or [])]
        new_meta = self.meta
        if meta_updates:
            new_meta = _updated_meta(self.meta, meta_updates)
            replace[META_TABLE] = new_meta.to_frame()
        names = list(layers) + [f"-{d}" for d in (drop or [])]
        counts = [len(f) for f in layers.values()] + [0] * len(drop or [])
        self.backend.write(replace, {AUDIT_TABLE: _audit_rows(names, command, reason, scenario,
                                                               "replace", counts)}, dropped)
        self.meta = new_meta

    def create_scenario(self, name: str, *, title: str = "", description: str = "",
                        command: str = "scenario", replace: bool = False) -> None:
        """Register a named plan scenario (an empty set of plan layers)."""
        scenario_layer("x", name)  # validates the name
        table = self.scenarios()
        if name in set(table["name"]):
            if not replace:
                raise WorkspaceError("common.workspace.scenario_exists", path=self.url, scenario=name)
            table = table[table["name"] != name]
            old = self.layers(name)
        else:
            old = []
        row = pd.DataFrame([{"name": name, "title": title or name, "description": description,
                             "created": _now(), "command": command}])
        table = pd.concat([table, row], ignore_index=True) if len(table) else row
        self.backend.write({SCENARIO_TABLE: table},
                           {AUDIT_TABLE: _audit_rows([SCENARIO_TABLE], command, description, name,
                                                     "scenario", [1])},
                           [scenario_layer(layer, name) for layer in old])


def _updated_meta(meta: Meta, updates: Mapping[str, Any]) -> Meta:
    fields = {f: getattr(meta, f) for f in meta.__dataclass_fields__}
    extra = dict(fields.pop("extra") or {})
    for key, value in updates.items():
        if key in fields:
            fields[key] = tuple(value) if key == "epochs" else value
        else:
            extra[key] = value
    return Meta(**fields, extra=extra)


def _audit_rows(layers: list[str], command: str, reason: str, scenario: str | None,
                action: str, counts: list[int]) -> pd.DataFrame:
    try:
        user = getpass.getuser()
    except Exception:  # no passwd entry in some containers
        user = os.environ.get("USER", "unknown")
    ts = _now()
    return pd.DataFrame({
        "ts": ts, "user": user, "command": command, "action": action,
        "scenario": scenario or "", "layer": layers, "rows": counts, "reason": reason,
        "pianqu_version": __version__,
    })


def storable(frame: Frame) -> Frame:
    """Columns a GeoPackage can store: lists and dicts become text, booleans plain ``bool``, the
    index a column (when named or a MultiIndex), geometry in EPSG:4490."""
    f = frame.reset_index(drop=not isinstance(frame.index, pd.MultiIndex) and frame.index.name is None)
    for col in f.columns:
        if col == "geometry":
            continue
        if f[col].dtype == object and f[col].map(lambda v: isinstance(v, (list, tuple, dict, set))).any():
            f[col] = f[col].map(lambda v: ",".join(map(str, v)) if isinstance(v, (list, tuple, set)) else str(v))
        elif f[col].dtype == bool or str(f[col].dtype) == "boolean":
            f[col] = f[col].astype(bool)
    if isinstance(f, gpd.GeoDataFrame) and f.crs is not None and f.crs.to_epsg() != STORAGE_EPSG:
        f = f.to_crs(STORAGE_EPSG)
    return f
