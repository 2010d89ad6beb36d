"""Helpers of the fault corpus (issue 13): one small planned county per session (510403 西区, the fastest
to plan), copied per test; commands run in a child process that can be killed at a named point
of its commit (``PIANQU_FAULT_AT``, see :mod:`pianqu.workspace.base`), as another user, or
under a file size limit."""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
NOBODY = 65534
# the child: the command line of pianqu (typer reads sys.argv[1:])
CLI = "from pianqu.cli import app; app()"
# the child as another user: python and every module it needs are loaded as root (the
# interpreter lives under /root here), then the process drops to PIANQU_TEST_UID for good
AS_USER = """
import os, sys
import json, sqlite3, secrets, struct, fcntl, getpass, contextlib
import pyogrio, geopandas, shapely, pandas
import pianqu.cli, pianqu.commands.land, pianqu.commands.common, pianqu.plan
import pianqu.land.conflicts, pianqu.land.workflow, pianqu.land.common, pianqu.workspace
uid = int(os.environ.pop("PIANQU_TEST_UID"))
os.setgroups([]); os.setgid(uid); os.setuid(uid)
pianqu.cli.app()
"""


def child_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIANQU_FAULT")}
    env.update(PYTHONPATH=str(ROOT / "src"), PIANQU_LANG="zh", HOME="/tmp", MPLCONFIGDIR="/tmp", **extra)
    return env


def run(args: list, *, env: dict | None = None, as_user: int | None = None, fsize: int | None = None,
        timeout: float = 600) -> subprocess.CompletedProcess:
    """``pianqu *args`` in a child process (as ``as_user``; with RLIMIT_FSIZE ``fsize`` bytes)."""
    code = AS_USER if as_user is not None else CLI
    env = env or child_env()
    if as_user is not None:
        env = {**env, "PIANQU_TEST_UID": str(as_user)}

    def limit():
        if fsize is not None:
            import resource
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails (EFBIG)
            resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))

    return subprocess.run([sys.executable, "-c", code, *map(str, args)], env=env, capture_output=True, text=True,
                          timeout=timeout, preexec_fn=limit)


def start(args: list, *, pause_at: str, env: dict | None = None) -> subprocess.Popen:
    """``pianqu *args`` started in the background; returns once it waits at ``pause_at``."""
    env = {**(env or child_env()), "PIANQU_FAULT_AT": pause_at, "PIANQU_FAULT_ACTION": "pause"}
    proc = subprocess.Popen([sys.executable, "-c", CLI, *map(str, args)], env=env, stderr=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if line.startswith(f"pianqu-fault: {pause_at} "):
            return proc
    proc.wait()
    raise AssertionError(f"the child never reached {pause_at} (exit {proc.returncode}): {''.join(seen)[-3000:]}")


def finish(proc: subprocess.Popen) -> tuple[int, str]:
    """Let a paused child go on; its exit status and the rest of its stderr."""
    proc.send_signal(signal.SIGUSR1)
    _, err = proc.communicate(timeout=600)
    return proc.returncode, err


def sha(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def is_db(where) -> bool:
    """Whether ``where`` is a PostGIS workspace URL (else a GeoPackage file)."""
    return str(where).startswith("postgresql://")


@contextlib.contextmanager
def _pg(url: str):
    """A connection to the database of the workspace ``url`` and its schema."""
    import psycopg

    from pianqu.store.postgis import split_url

    conninfo, schema, _ = split_url(url)
    con = psycopg.connect(conninfo, autocommit=True)
    try:
        yield con, schema
    finally:
        con.close()


def fingerprint(where) -> str:
    """Every byte of the workspace: the file's sha256, or for a PostGIS schema the sha256 of each
    table's name, column types and rows (their text form, geometry as EWKB, sorted)."""
    if not is_db(where):
        return sha(where)
    h = hashlib.sha256()
    with _pg(where) as (con, schema):
        for (table,) in con.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = %s "
                                    "ORDER BY table_name", [schema]).fetchall():
            name = f'"{schema}"."{table}"'
            cols = con.execute("SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = %s "
                               "AND table_name = %s ORDER BY ordinal_position", [schema, table]).fetchall()
            rows = con.execute(f"SELECT coalesce(string_agg(x::text, E'\\n' ORDER BY x::text), '') FROM {name} x"
                               ).fetchone()[0]
            h.update(f"{table}|{cols}|{rows}\n".encode())
    return h.hexdigest()


def state(where) -> dict:
    """What the workspace holds, independent of how it is laid out in the file: the tables, their
    row counts, the planner's decisions and the line status (of the scenario and the base)."""
    if is_db(where):
        return _pg_state(where)
    path = where
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = sorted(r[0] for r in con.execute("SELECT table_name FROM gpkg_contents"))
        counts = {t: con.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}
        out = {"tables": tables, "counts": counts}
        for table in ("scn_plan__conflict", "conflict"):
            if table in tables:
                out[table] = sorted(tuple(r) for r in con.execute(
                    f"SELECT conflict_id, action, decision_reason FROM \"{table}\" WHERE coalesce(action, '') != ''"))
        for table in ("scn_plan__control_line_status", "control_line_status"):
            if table in tables:
                out[table] = sorted(tuple(r) for r in con.execute(f'SELECT line, status FROM "{table}"'))
        return out
    finally:
        con.close()


def _pg_state(url: str) -> dict:
    """:func:`state` of a PostGIS workspace: every table of its schema (``pianqu_revision`` and
    ``pianqu_config`` included), counted, and the same decisions and line status."""
    with _pg(url) as (con, schema):
        tables = [r[0] for r in con.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = %s "
                                            "ORDER BY table_name", [schema]).fetchall()]
        counts = {t: con.execute(f'SELECT count(*) FROM "{schema}"."{t}"').fetchone()[0] for t in tables}
        out = {"tables": tables, "counts": counts}
        for table in ("scn_plan__conflict", "conflict"):
            if table in tables:
                out[table] = sorted(tuple(r) for r in con.execute(
                    f"SELECT conflict_id, action, coalesce(decision_reason, '') FROM \"{schema}\".\"{table}\" "
                    "WHERE coalesce(action, '') != ''").fetchall())
        for table in ("scn_plan__control_line_status", "control_line_status"):
            if table in tables:
                out[table] = sorted(tuple(r) for r in con.execute(
                    f'SELECT line, status FROM "{schema}"."{table}"').fetchall())
        return out


def advisory_locks(url: str, wait_s: float = 5.0) -> int:
    """How many sessions hold the write lock of the PostGIS workspace ``url`` (its advisory lock),
    after waiting up to ``wait_s`` for the server to see that a killed client has gone."""
    deadline = time.monotonic() + wait_s
    with _pg(url) as (con, schema):
        while True:
            n = con.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                            "AND objid = ((hashtext(%s)::bigint) & 4294967295)::oid", [schema]).fetchone()[0]
            if n == 0 or time.monotonic() > deadline:
                return int(n)
            time.sleep(0.05)


def set_config(where, text: str) -> None:
    """The workspace's ``pianqu.toml``: the file beside a GeoPackage, a PostGIS schema's
    ``pianqu_config`` table."""
    if not is_db(where):
        (Path(where).parent / "pianqu.toml").write_text(text, encoding="utf-8")
        return
    from pianqu.store.postgis import CONFIG_TABLE, PostgisBackend

    PostgisBackend(str(where)).write({CONFIG_TABLE: pd.DataFrame({"toml": [text]})}, {}, [])


def corrupt_meta(where) -> None:
    """Break one value of ``pianqu_meta`` (JSON cut short)."""
    sql = "UPDATE {t} SET value = '{{\"broken' WHERE key = 'county_name'"
    if is_db(where):
        with _pg(where) as (con, schema):
            con.execute(sql.format(t=f'"{schema}".pianqu_meta'))
        return
    con = sqlite3.connect(where)
    with con:
        con.execute(sql.format(t="pianqu_meta"))
    con.close()


# plan, and each `pianqu lines` command that writes
COMMANDS = ("plan", "lines decide", "lines reopen", "lines apply", "lines finalise", "lines conflicts")


def command_args(command: str, path: Path, county) -> list:
    """The command line of ``command`` on the workspace ``path`` of the planned ``county``."""
    cid, action = county.undecided
    return {
        "plan": ["plan", path, "--scenario", "plan", "-p", "2"],
        "lines decide": ["lines", "decide", path, cid, action, "--reason", "测试", "-s", "plan"],
        "lines reopen": ["lines", "reopen", path, "farmland_pbf", "--reason", "复核", "-s", "plan"],
        "lines apply": ["lines", "apply", path, "-s", "plan"],
        "lines finalise": ["lines", "finalise", path, "farmland_pbf"],  # the base workspace's own status
        "lines conflicts": ["lines", "conflicts", path],  # detected on the base lines and stored
    }[command]
