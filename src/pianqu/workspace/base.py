"""What every storage backend of a workspace shares: the errors, the writer (:class:`Holder`),
the :class:`Backend` protocol (the storage contract of issue 13, ``STORE-SPEC.md``) and the
testing hook :func:`fault_point`.

The testing hook: with the environment variable ``PIANQU_FAULT_AT=<point>`` (a comma list is
allowed) a write stops at that named point of its commit. ``PIANQU_FAULT_ACTION=pause`` (the
default) prints ``pianqu-fault: <point> <pid>`` on stderr and waits for SIGUSR1 (continue) or
a SIGKILL from the test; ``kill`` makes the process kill itself with SIGKILL there. The points,
in order: ``staged`` (the layers are in the temporary GeoPackage, or prepared for ``COPY`` on
PostGIS; no lock taken), ``locked`` (the write lock is held — SQLite's, or the schema's advisory
lock — nothing written), ``mid-commit`` (inside the transaction, the old tables dropped and some
new ones copied), ``before-commit`` (everything written, not yet committed), ``after-commit``
(committed; the temporary files not yet removed). Both backends fire them. The hook is for
the fault tests (tests/faults) only; without the variable it costs one dictionary lookup.
"""

from __future__ import annotations

import datetime as _dt
import functools
import getpass
import os
import signal
import sys
from dataclasses import dataclass
from typing import Iterable, Mapping, Protocol

import geopandas as gpd
import pandas as pd

from pianqu.errors import PianquError

META_TABLE = "pianqu_meta"
AUDIT_TABLE = "pianqu_audit"
SCENARIO_TABLE = "pianqu_scenario"
REVISION_TABLE = "pianqu_revision"
INTERNAL_TABLES = (META_TABLE, AUDIT_TABLE, SCENARIO_TABLE, REVISION_TABLE)

Frame = gpd.GeoDataFrame | pd.DataFrame

FAULT_POINTS = ("staged", "locked", "mid-commit", "before-commit", "after-commit")


class WorkspaceError(PianquError, RuntimeError):
    """A workspace that cannot be opened or written; the message (``common.workspace.*`` in
    ``pianqu/locales/common.toml``) says what to do, in the user's language."""


class WorkspaceLockedError(WorkspaceError):
    """Another writer held the workspace's write lock longer than ``workspace.busy_timeout_s``;
    the message names it (command, user, pid, start time) when it is known."""


class StaleRevisionError(WorkspaceError):
    """A write made from revisions that are no longer current: someone else changed these
    tables after they were read. ``changed`` maps each table to (expected, current) revision;
    nothing was written."""

    def __init__(self, rule: str, changed: Mapping[str, tuple[int, int]] | None = None, **params):
        super().__init__(rule, **params)
        self.changed = dict(changed or {})

    def __reduce__(self):
        return _restore_stale, (self.rule, self.changed, self.params)


def _restore_stale(rule, changed, params):
    return StaleRevisionError(rule, changed, **params)


def now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).astimezone().isoformat(timespec="seconds")


@functools.lru_cache(maxsize=1)
def current_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry in some containers
        return os.environ.get("USER", "unknown")


@dataclass(frozen=True)
class Holder:
    """Who writes: the command, the user, the process and when it started (ISO-8601). Recorded
    while the write lock is held so that a waiting writer can say whom it waited for."""

    command: str
    user: str
    pid: int
    started: str

    @classmethod
    def here(cls, command: str = "") -> "Holder":
        """This process, running ``command``."""
        return cls(command or "?", current_user(), os.getpid(), now_iso())


class Backend(Protocol):
    """Storage of one workspace. Every ``write`` is one transaction: all or nothing (see the
    module docstring of :mod:`pianqu.workspace` and ``STORE-SPEC.md``)."""

    url: str

    def exists(self) -> bool: ...
    def list_tables(self) -> list[str]: ...
    def read(self, table: str, columns: list[str] | None = None,
             bbox: tuple[float, float, float, float] | None = None) -> Frame: ...
    def revisions(self, tables: Iterable[str] | None = None) -> dict[str, int]: ...
    def write(self, replace: Mapping[str, Frame], append: Mapping[str, pd.DataFrame],
              drop: list[str], *, expect: Mapping[str, int] | None = None,
              holder: Holder | None = None) -> dict[str, int]: ...


_FIRED: set[str] = set()


def fault_point(name: str) -> None:
    """The testing hook (module docstring): stop at ``name`` when ``PIANQU_FAULT_AT`` names it."""
    wanted = os.environ.get("PIANQU_FAULT_AT")
    if not wanted or name in _FIRED or name not in {w.strip() for w in wanted.split(",")}:
        return
    _FIRED.add(name)  # once per process: a commit tried again does not stop again
    if os.environ.get("PIANQU_FAULT_ACTION", "pause") == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
    print(f"pianqu-fault: {name} {os.getpid()}", file=sys.stderr, flush=True)
    signal.sigwait({signal.SIGUSR1})
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGUSR1})
