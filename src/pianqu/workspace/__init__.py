"""The county workspace: one GeoPackage per county holding the unified base map (统一底图).

A workspace holds the base layers of ``pianqu.schema``, a metadata table, named plan
scenarios (their layers are stored as ``scn_<scenario>__<layer>``), an audit table that
records every write (GB/T 39972 asks for a full trail of every change to a plan) and a
revision per table (``pianqu_revision``).

Writes are transactions (issue 13, ``STORE-SPEC.md``). :meth:`Workspace.write` is one; a
command that writes several times does it in one unit of work::

    with ws.transaction(command="plan", reason="...") as tx:
        ws.create_scenario("plan", replace=True)    # staged, not yet visible to others
        ws.write(layers, scenario="plan")           # the command's own reads see it
    # committed here, all or nothing (nothing on an exception)

The GeoPackage backend (:mod:`pianqu.workspace.gpkg`) commits in one SQLite transaction on
the file itself: a process killed at any moment leaves the previous state or the new one, a
second writer waits (``workspace.busy_timeout_s``) and then fails naming the first.

Revisions and lost updates: every write bumps the revision of each table it touches. A write
with ``expect={layer: revision}`` is refused (:class:`StaleRevisionError`, saying what changed,
when, by which command) when someone else changed the layer after it was read. Inside a unit
of work, a stale scenario registration or metadata is re-read and re-applied at commit; a
command may register its own reconciliation (:meth:`Transaction.on_stale`) — ``plan`` keeps
the planner's decisions made while it ran.

Callers use :class:`Workspace` only; storage lives behind the :class:`Backend` protocol so a
PostGIS backend can follow without changing them.
"""

from __future__ import annotations

import json
import os
import re
import pyogrio
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping

import geopandas as gpd
import pandas as pd

from pianqu._version import __version__
from pianqu.config import Config, load_config
from pianqu.errors import check_input, layer_label
from pianqu.geo import STORAGE_EPSG
from pianqu.workspace.base import (AUDIT_TABLE, FAULT_POINTS, INTERNAL_TABLES, META_TABLE, REVISION_TABLE,
                                   SCENARIO_TABLE, Backend, Frame, Holder,
                                   StaleRevisionError, WorkspaceError, WorkspaceLockedError, current_user,
                                   fault_point, now_iso)
from pianqu.workspace.gpkg import (DEFAULT_BUSY_TIMEOUT_S, DEFAULT_DIRECT_MAX_ROWS, DEFAULT_IN_PLACE_MAX_ROWS,
                                   GpkgBackend, stage_error)

__all__ = ["AUDIT_TABLE", "FAULT_POINTS", "INTERNAL_TABLES", "META_TABLE", "REVISION_TABLE", "SCENARIO_TABLE",
           "Backend", "Frame", "GpkgBackend", "Holder", "Meta", "StaleRevisionError",
           "Transaction", "Workspace", "WorkspaceError", "WorkspaceLockedError", "fault_point", "scenario_layer",
           "storable"]

SCENARIO_PREFIX = "scn_"
SCENARIO_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$")
# the most times a unit of work re-reads what changed meanwhile and tries its commit again
MAX_COMMIT_ATTEMPTS = 4


def scenario_layer(layer: str, scenario: str | None) -> str:
    """Physical table name of ``layer`` in ``scenario`` (None: a base layer)."""
    if scenario is None:
        return layer
    if not SCENARIO_RE.match(scenario):
        raise WorkspaceError("common.workspace.bad_scenario_name", scenario=scenario)
    return f"{SCENARIO_PREFIX}{scenario}__{layer}"


_now = now_iso


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
    db = re.match(r"^postgres(?:ql)?:/+(.*)$", text, re.S)  # a URL through pathlib lost a slash: restore it
    if db:
        from pianqu.store.postgis import PostgisBackend  # psycopg only for a database workspace

        return PostgisBackend(f"postgresql://{db.group(1)}")
    if not text.lower().endswith(".gpkg"):
        raise WorkspaceError("common.workspace.not_gpkg", path=text)
    return GpkgBackend(target, _busy_timeout(target), *_direct_rows(target))


def _busy_timeout(target: str | Path) -> float:
    """``workspace.busy_timeout_s`` in force for the workspace (its pianqu.toml, else the default)."""
    try:
        return float(load_config(target)["workspace.busy_timeout_s"])
    except Exception:  # a broken pianqu.toml is reported by the command that reads it
        return DEFAULT_BUSY_TIMEOUT_S


def _direct_rows(target: str | Path) -> tuple[int, int]:
    """``workspace.direct_write_max_rows`` and ``workspace.in_place_max_rows`` in force for the
    workspace (its pianqu.toml, else the defaults)."""
    try:
        cfg = load_config(target)
        return int(cfg["workspace.direct_write_max_rows"]), int(cfg["workspace.in_place_max_rows"])
    except Exception:  # a broken pianqu.toml is reported by the command that reads it
        return DEFAULT_DIRECT_MAX_ROWS, DEFAULT_IN_PLACE_MAX_ROWS


class MemoryStage:
    """A unit of work's pending tables for a backend that stages nothing itself: frames kept in
    memory and handed to ``Backend.write`` at commit."""

    def __init__(self):
        self.frames: dict[str, Frame] = {}

    @property
    def tables(self) -> set[str]:
        return set(self.frames)

    def put(self, table: str, frame: Frame) -> None:
        self.frames[table] = frame.copy()

    def read(self, table: str, columns=None, bbox=None) -> Frame:
        frame = self.frames[table].copy()
        if columns is not None:
            keep = [c for c in columns if c in frame.columns]
            if isinstance(frame, gpd.GeoDataFrame):
                keep.append(frame.geometry.name)
            frame = frame[keep]
        if bbox is not None and isinstance(frame, gpd.GeoDataFrame):
            frame = frame.cx[bbox[0]:bbox[2], bbox[1]:bbox[3]]
        return frame.reset_index(drop=True)

    def discard(self) -> None:
        self.frames.clear()


class Transaction:
    """One unit of work of a command on a workspace (see the module docstring): the writes it
    collects are staged as they come and committed once, at the end of ``with
    ws.transaction(...)``, or not at all. Reads through the workspace meanwhile see them."""

    def __init__(self, ws: "Workspace", command: str, reason: str = "", holder: Holder | None = None):
        self.ws = ws
        self.command = command
        self.reason = reason
        self.holder = holder or Holder.here(command)
        self.stage = ws.backend.stage() if hasattr(ws.backend, "stage") else MemoryStage()
        self.replaced: set[str] = set()
        self.dropped: set[str] = set()
        self.audit: list[pd.DataFrame] = []
        self.expect: dict[str, int] = {}
        self.meta_updates: dict[str, Any] = {}
        self.registrations: list[tuple[str, dict, bool]] = []  # scenarios registered (name, row, replace)
        self._reconcilers: list[Callable[["Transaction", dict[str, tuple[int, int]]], None]] = []
        self.revisions: dict[str, int] = {}

    # -- collecting ----------------------------------------------------------------------------
    def put(self, table: str, frame: Frame) -> None:
        try:
            self.stage.put(table, frame)
        except Exception as exc:
            if isinstance(self.ws.backend, GpkgBackend):
                raise stage_error(self.ws.backend, exc, getattr(self.stage, "path", None)) from exc
            raise
        self.replaced.add(table)
        self.dropped.discard(table)

    def drop(self, table: str) -> None:
        self.replaced.discard(table)
        self.dropped.add(table)

    def expect_revisions(self, revisions: Mapping[str, int]) -> None:
        """Tables (physical names) this unit of work read at these revisions: the commit is refused
        (or reconciled) when one changed meanwhile. The first expectation of a table counts."""
        for table, rev in revisions.items():
            self.expect.setdefault(table, int(rev))

    def watch(self, layers: Iterable[str], scenario: str | None = None) -> dict[str, int]:
        """Expect the committed revisions of ``layers`` (of ``scenario``) as of now — call it
        before reading them: a change committed by someone else after this refuses the commit
        (:class:`StaleRevisionError`) unless a reconciler settles it. Returns them by layer."""
        revs = self.ws.revisions(list(layers), scenario)
        self.expect_revisions({scenario_layer(name, scenario): rev for name, rev in revs.items()})
        return revs

    def on_stale(self, fn: Callable[["Transaction", dict[str, tuple[int, int]]], None]) -> None:
        """Register ``fn(tx, changed)``, called at commit when tables it expected changed
        meanwhile; it re-reads them (``tx.ws.read`` gives the committed state of tables this unit
        of work did not write), re-stages what it keeps with ``tx.ws.write`` and settles the
        expectation with ``tx.settle(table, revision)``. Tables no one settles refuse the commit."""
        self._reconcilers.append(fn)

    def settle(self, table: str, revision: int) -> None:
        self.expect[table] = int(revision)

    def has(self, table: str) -> bool | None:
        """True/False when this unit of work decides whether ``table`` exists, else None."""
        if table in self.replaced:
            return True
        if table in self.dropped:
            return False
        return None

    # -- committing ----------------------------------------------------------------------------
    def commit(self) -> dict[str, int]:
        for _attempt in range(MAX_COMMIT_ATTEMPTS):
            try:
                return self._commit_once()
            except StaleRevisionError as exc:
                if not self._reconcile(exc.changed):
                    raise
        return self._commit_once()

    def _reconcile(self, changed: dict[str, tuple[int, int]]) -> bool:
        """Re-apply this unit of work on what changed meanwhile; whether every change is settled."""
        backend = self.ws.backend
        for table, (_, current) in changed.items():
            if table == SCENARIO_TABLE and self.registrations:
                self._restage_scenarios()
                self.settle(table, current)
            elif table == META_TABLE and self.meta_updates:
                self._restage_meta()
                self.settle(table, current)
        rest = {t: c for t, c in changed.items() if self.expect.get(t) != c[1]}
        for fn in self._reconcilers:
            if rest:
                fn(self, rest)
                rest = {t: c for t, c in rest.items() if self.expect.get(t) != c[1]}
        del backend
        return not rest

    def _restage_scenarios(self) -> None:
        table = self.ws._committed_scenarios()
        for name, row, replace in self.registrations:
            table = table[table["name"] != name]
            table = pd.concat([table, pd.DataFrame([row])], ignore_index=True) if len(table) else pd.DataFrame([row])
        self.put(SCENARIO_TABLE, table)

    def _restage_meta(self) -> None:
        committed = Meta.from_frame(self.ws.backend.read(META_TABLE))
        self.put(META_TABLE, _updated_meta(committed, self.meta_updates).to_frame())

    def _commit_once(self) -> dict[str, int]:
        audit = pd.concat(self.audit, ignore_index=True) if self.audit else None
        replace = sorted(self.replaced)
        drop = sorted(self.dropped)
        append = {AUDIT_TABLE: audit} if audit is not None else {}
        backend = self.ws.backend
        try:
            if isinstance(self.stage, MemoryStage):
                return backend.write({t: self.stage.frames[t] for t in replace}, append, drop,
                                     expect=self.expect, holder=self.holder)
            return backend.commit(self.stage, replace, append, drop, expect=self.expect, holder=self.holder)
        except WorkspaceError:
            raise
        except Exception as exc:
            if isinstance(backend, GpkgBackend):
                raise stage_error(backend, exc, getattr(self.stage, "path", None)) from exc
            raise


class Workspace:
    """One county's workspace. Open with :meth:`open`, make with :meth:`create`."""

    def __init__(self, backend: Backend, meta: Meta, meta_revision: int = 0):
        self.backend = backend
        self.meta = meta
        self._meta_revision = meta_revision
        self._tx: Transaction | None = None

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
        drop = backend.list_tables() if backend.exists() and overwrite else []
        try:
            revs = backend.write({META_TABLE: meta.to_frame()},
                                 {AUDIT_TABLE: _audit_rows([META_TABLE], command, reason, None, "create", [0])},
                                 [t for t in drop if t != META_TABLE], holder=Holder.here(command))
        except WorkspaceError:
            raise
        except Exception as exc:
            if isinstance(backend, GpkgBackend):
                raise stage_error(backend, exc) from exc
            raise
        return cls(backend, meta, revs.get(META_TABLE, 0))

    @classmethod
    def open(cls, target: str | Path) -> "Workspace":
        backend = _backend_for(target)
        if not backend.exists():
            raise WorkspaceError("common.workspace.missing", path=backend.url)
        if isinstance(backend, GpkgBackend):
            check_input(backend.path)  # a FIFO would block SQLite's open; a folder, no permission
        try:
            if hasattr(backend, "recover"):
                backend.recover()  # a transaction a killed writer left is rolled back first
            tables = backend.list_tables()
        except WorkspaceError:
            raise  # already says what is wrong, in the reader's language
        except Exception as exc:
            raise WorkspaceError("common.workspace.not_readable", path=backend.url, detail=str(exc)) from exc
        if META_TABLE not in tables:
            raise WorkspaceError("common.workspace.not_pianqu", path=backend.url, table=META_TABLE)
        try:
            revision = backend.revisions([META_TABLE]).get(META_TABLE, 0)
            meta = Meta.from_frame(backend.read(META_TABLE))
        except WorkspaceError:
            raise
        except Exception as exc:  # a missing key, bad JSON, a value of the wrong type
            raise WorkspaceError("common.workspace.bad_meta", path=backend.url, table=META_TABLE,
                                 detail=f"{type(exc).__name__}: {exc}") from exc
        return cls(backend, meta, revision)

    # -- units of work ----------------------------------------------------------------------
    @contextmanager
    def transaction(self, *, command: str, reason: str = "", holder: Holder | None = None
                    ) -> Iterator[Transaction]:
        """One unit of work (module docstring): every write and scenario registration inside
        commits together at the end, or nothing does (an exception discards them). Nested
        calls join the outer unit of work."""
        if self._tx is not None:
            yield self._tx
            return
        meta_before, rev_before = self.meta, self._meta_revision
        tx = Transaction(self, command, reason, holder)
        self._tx = tx
        try:
            yield tx
            tx.revisions = tx.commit()
            self._meta_revision = tx.revisions.get(META_TABLE, self._meta_revision)
        except BaseException:
            self.meta, self._meta_revision = meta_before, rev_before
            raise
        finally:
            self._tx = None
            tx.stage.discard()

    @property
    def in_transaction(self) -> Transaction | None:
        """The unit of work in progress, if any."""
        return self._tx

    # -- reading ----------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return self.backend.url

    @property
    def path(self) -> Path:
        """The GeoPackage file (a database workspace has none: :class:`WorkspaceError`)."""
        if not isinstance(self.backend, GpkgBackend):
            raise WorkspaceError("db.workspace.not_a_file", path=self.url)
        return Path(self.backend.url)

    def config(self, overrides: Mapping[str, Any] | None = None) -> Config:
        """Thresholds in force for this workspace (defaults + the ``pianqu.toml`` beside it; a
        database workspace keeps that text in its ``pianqu_config`` table)."""
        text = getattr(self.backend, "config_text", None)
        if text is not None:
            return load_config(path=self.backend.config_label, text=text(), overrides=overrides)
        return load_config(self.url, overrides=overrides)

    def count(self, table: str) -> int:
        """Rows of a table, without reading it."""
        counter = getattr(self.backend, "count", None)
        if counter is not None:
            return int(counter(table))
        return int(pyogrio.read_info(self.path, layer=table)["features"])

    def tables(self) -> list[str]:
        tables = self.backend.list_tables()
        if self._tx is None:
            return tables
        tx = self._tx
        kept = [t for t in tables if t not in tx.dropped]
        return kept + sorted(tx.replaced - set(kept))

    def layers(self, scenario: str | None = None) -> list[str]:
        """Layers present: base layers, or those of ``scenario``."""
        tables = self.tables()
        if scenario is None:
            return [t for t in tables if t not in INTERNAL_TABLES and not t.startswith(SCENARIO_PREFIX)]
        prefix = scenario_layer("", scenario)
        return [t[len(prefix):] for t in tables if t.startswith(prefix)]

    def has(self, layer: str, scenario: str | None = None) -> bool:
        table = scenario_layer(layer, scenario)
        pending = self._tx.has(table) if self._tx is not None else None
        return pending if pending is not None else table in self.backend.list_tables()

    def _read_table(self, table: str, columns=None, bbox=None) -> Frame:
        if self._tx is not None and table in self._tx.replaced:
            stage = self._tx.stage
            if isinstance(self.backend, GpkgBackend) and table in getattr(stage, "pending", ()):
                try:  # a table kept for a direct write is staged through pyogrio to be read back
                    stage.flush([table])
                except Exception as exc:
                    raise stage_error(self.backend, exc, stage.path) from exc
            return stage.read(table, columns=columns, bbox=bbox)
        if self._tx is not None and table in self._tx.dropped:
            raise WorkspaceError("common.workspace.unreadable_layer", path=self.url, layer=table,
                                 detail="dropped in this unit of work")
        return self.backend.read(table, columns=columns, bbox=bbox)

    def read(self, layer: str, scenario: str | None = None, *, columns: list[str] | None = None,
             bbox: tuple[float, float, float, float] | None = None) -> Frame:
        table = scenario_layer(layer, scenario)
        try:
            return self._read_table(table, columns=columns, bbox=bbox)
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
        return self._read_table(SCENARIO_TABLE)

    def _scenario_names(self) -> set[str]:
        pending = self._tx is not None and SCENARIO_TABLE in (self._tx.replaced | self._tx.dropped)
        if not pending and hasattr(self.backend, "values"):
            if SCENARIO_TABLE not in self.backend.list_tables():
                return set()
            return {str(v) for v in self.backend.values(SCENARIO_TABLE, "name")}
        return set(self.scenarios()["name"])

    def _committed_scenarios(self) -> pd.DataFrame:
        if SCENARIO_TABLE not in self.backend.list_tables():
            return pd.DataFrame(columns=["name", "title", "description", "created", "command"])
        return self.backend.read(SCENARIO_TABLE)

    def revisions(self, layers: Iterable[str] | None = None, scenario: str | None = None) -> dict[str, int]:
        """The committed revision of each layer (of ``scenario``; 0: never written), keyed by the
        names given; ``layers=None``: every table's, by physical table name. A web client sends
        back the revision it edited from as ``write(..., expect=...)``."""
        if layers is None:
            return self.backend.revisions(None)
        names = list(layers)
        physical = {name: scenario_layer(name, scenario) for name in names}
        revs = self.backend.revisions(list(physical.values()))
        return {name: revs.get(table, 0) for name, table in physical.items()}

    def check_writable(self) -> None:
        """Refuse now (read-only file or folder, immutable file), before a long computation,
        what a write would refuse at its end."""
        check = getattr(self.backend, "_check_writable", None)
        if check is not None:
            check()

    def revision(self, layer: str, scenario: str | None = None) -> int:
        return self.revisions([layer], scenario)[layer]

    # -- writing ----------------------------------------------------------------------------
    def write(self, layers: Mapping[str, Frame], *, command: str, reason: str = "",
              scenario: str | None = None, meta_updates: Mapping[str, Any] | None = None,
              drop: list[str] | None = None, expect: Mapping[str, int] | None = None) -> None:
        """Replace ``layers`` (and drop ``drop``), recorded in the audit table: one transaction,
        or part of the unit of work in progress (:meth:`transaction`).

        ``expect``: layer (of ``scenario``) → the revision it was read at; the write is refused
        with :class:`StaleRevisionError` when one changed meanwhile (nothing is written)."""
        if scenario is not None and scenario not in self._scenario_names():
            raise WorkspaceError("common.workspace.no_scenario", path=self.url, scenario=scenario)
        replace = {scenario_layer(name, scenario): frame for name, frame in layers.items()}
        clash = set(replace) & set(INTERNAL_TABLES)
        if clash:
            raise WorkspaceError("common.workspace.reserved", layers=", ".join(sorted(clash)))
        with self.transaction(command=command, reason=reason) as tx:
            if expect:
                tx.expect_revisions({scenario_layer(name, scenario): rev for name, rev in expect.items()})
            for table, frame in replace.items():
                tx.put(table, frame)
            for name in drop or []:
                tx.drop(scenario_layer(name, scenario))
            if meta_updates:
                tx.expect_revisions({META_TABLE: self._meta_revision})
                tx.meta_updates.update(meta_updates)
                self.meta = _updated_meta(self.meta, meta_updates)
                tx.put(META_TABLE, self.meta.to_frame())
            names = list(layers) + [f"-{d}" for d in (drop or [])]
            counts = [len(f) for f in layers.values()] + [0] * len(drop or [])
            tx.audit.append(_audit_rows(names, command, reason, scenario, "replace", counts))

    def create_scenario(self, name: str, *, title: str = "", description: str = "",
                        command: str = "scenario", replace: bool = False) -> None:
        """Register a named plan scenario (an empty set of plan layers); with ``replace`` an
        existing one starts again empty. Inside a unit of work nothing is visible to others
        before it commits."""
        scenario_layer("x", name)  # validates the name
        with self.transaction(command=command, reason=description) as tx:
            if SCENARIO_TABLE not in tx.replaced:
                tx.expect_revisions(self.backend.revisions([SCENARIO_TABLE]))
            table = self.scenarios()
            if name in set(table["name"]):
                if not replace:
                    raise WorkspaceError("common.workspace.scenario_exists", path=self.url, scenario=name)
                table = table[table["name"] != name]
                old = self.layers(name)
            else:
                old = []
            row = {"name": name, "title": title or name, "description": description,
                   "created": _now(), "command": command}
            table = pd.concat([table, pd.DataFrame([row])], ignore_index=True) if len(table) else pd.DataFrame([row])
            tx.registrations.append((name, row, replace))
            for layer in old:
                tx.drop(scenario_layer(layer, name))
            tx.put(SCENARIO_TABLE, table)
            tx.audit.append(_audit_rows([SCENARIO_TABLE], command, description, name, "scenario", [1]))


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
    user = current_user()
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
