"""Helpers of the fault corpus (issue 13): one small planned county per session (510403 西区, the fastest
to plan), copied per test; commands run in a child process that can be killed at a named point
of its commit (``PIANQU_FAULT_AT``, see :mod:`pianqu.workspace.base`), as another user, or
under a file size limit."""

from __future__ import annotations

import hashlib
import os
import signal
import sqlite3
import subprocess
import sys
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


def state(path: Path) -> dict:
    """What the workspace holds, independent of how it is laid out in the file: the tables, their
    row counts, the planner's decisions and the line status (of the scenario and the base)."""
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
