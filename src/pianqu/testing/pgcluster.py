"""A private PostgreSQL + PostGIS cluster for tests and benchmarks, started by the project itself.

No Docker and no system service: the server binaries of Debian's ``postgresql`` package
(``pg_config --bindir``, else ``/usr/lib/postgresql/<ver>/bin``) run ``initdb`` in a fresh
directory of their own, the server listens on 127.0.0.1 at a free port (and on a socket
directory of its own), ``CREATE EXTENSION postgis`` runs in a database ``pianqu``, and the
cluster is stopped (``pg_ctl stop -m fast``) and its directory removed on exit, also when the
caller fails. ``initdb`` refuses to run as root: as root, the server runs as the ``postgres``
system user (which Debian's package creates) in a directory that user owns.

>>> with pgcluster.running() as cluster:          # doctest: +SKIP
...     ws = pianqu.open(cluster.url + "?schema=c510403")

A missing PostgreSQL or PostGIS is an error (:class:`ClusterUnavailable`) that says to run
``make system-deps``; tests fail on it rather than skipping.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

DATABASE = "pianqu"
INSTALL_HINT = ("PostgreSQL and PostGIS are needed: run `make system-deps` (as root it installs Debian's "
                "postgresql and postgresql-<ver>-postgis-3).")


class ClusterUnavailable(RuntimeError):
    """PostgreSQL or PostGIS is not installed, or the private cluster did not start."""


@dataclass(frozen=True)
class Cluster:
    """A running private cluster: ``url`` is the ``postgresql://`` URL of its ``pianqu`` database
    (PostGIS installed), ``admin_url`` that of the ``postgres`` database."""

    url: str
    admin_url: str
    port: int
    bindir: Path
    root: Path

    def schema_url(self, schema: str) -> str:
        """The workspace URL of ``schema`` in the cluster's database."""
        return f"{self.url}?schema={schema}"


def find_bindir() -> Path:
    """The directory of ``initdb``/``pg_ctl``: ``pg_config --bindir``, else the newest
    ``/usr/lib/postgresql/<ver>/bin``."""
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.CalledProcessError):
            out = subprocess.run([pg_config, "--bindir"], check=True, capture_output=True, text=True).stdout
            candidates.append(Path(out.strip()))
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name)
                      if Path(p).parent.name.isdigit() else 0, reverse=True)
    candidates += [Path(p) for p in versions]
    for cand in candidates:
        if (cand / "initdb").exists() and (cand / "pg_ctl").exists():
            return cand
    raise ClusterUnavailable(f"No PostgreSQL server binaries (initdb, pg_ctl) found. {INSTALL_HINT}")


def postgis_available(bindir: Path) -> bool:
    """Whether the PostGIS extension is installed for the server in ``bindir``."""
    version = bindir.parent.name
    return bool(glob.glob(f"/usr/share/postgresql/{version}/extension/postgis.control"))


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _runas() -> tuple[list[str], int | None, int | None]:
    """The command prefix and the uid/gid the server runs as (``postgres`` when we are root)."""
    if os.geteuid() != 0:
        return [], None, None
    try:
        pw = pwd.getpwnam("postgres")
    except KeyError:
        raise ClusterUnavailable(f"Running as root, but there is no `postgres` system user to run the "
                                 f"server as. {INSTALL_HINT}") from None
    return ["runuser", "-u", "postgres", "--"], pw.pw_uid, pw.pw_gid


def _run(cmd: list[str], what: str, log: Path | None = None) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd="/")
    if proc.returncode != 0:
        tail = log.read_text(errors="replace")[-2000:] if log is not None and log.exists() else ""
        raise ClusterUnavailable(f"{what} failed ({proc.returncode}): {proc.stderr.strip()}\n{tail}")


def start(*, postgis: bool = True) -> Cluster:
    """Initialise and start a private cluster; the caller must :func:`stop` it (or use :func:`running`)."""
    bindir = find_bindir()
    if postgis and not postgis_available(bindir):
        raise ClusterUnavailable(f"PostGIS is not installed for PostgreSQL {bindir.parent.name}. {INSTALL_HINT}")
    prefix, uid, gid = _runas()
    root = Path(tempfile.mkdtemp(prefix="pianqu-pg-", dir="/tmp"))  # outside root's 0700 pytest dirs
    data, sock, log = root / "data", root / "sock", root / "server.log"
    try:
        sock.mkdir()
        if uid is not None:
            for p in (root, sock):
                os.chown(p, uid, gid)
        _run([*prefix, str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
              "-E", "UTF8", "--no-locale", "--no-sync"], "initdb")
        port = free_port()
        opts = (f"-c listen_addresses=127.0.0.1 -p {port} -k {sock} -c fsync=off "
                f"-c synchronous_commit=off -c full_page_writes=off -c max_connections=50")
        _run([*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", opts, "-w", "-t", "60",
              "start"], "pg_ctl start", log)
        admin = f"postgresql://postgres@127.0.0.1:{port}/postgres"
        cluster = Cluster(f"postgresql://postgres@127.0.0.1:{port}/{DATABASE}", admin, port, bindir, root)
        _setup(cluster, postgis)
        return cluster
    except BaseException:
        _stop_dir(bindir, root, prefix)
        raise


def _setup(cluster: Cluster, postgis: bool) -> None:
    import psycopg

    for attempt in range(50):
        try:
            with psycopg.connect(cluster.admin_url, autocommit=True) as con:
                con.execute(f"CREATE DATABASE {DATABASE}")
            break
        except psycopg.OperationalError:
            if attempt == 49:
                raise
            time.sleep(0.1)
    if postgis:
        with psycopg.connect(cluster.url, autocommit=True) as con:
            con.execute("CREATE EXTENSION IF NOT EXISTS postgis")


def _stop_dir(bindir: Path, root: Path, prefix: list[str]) -> None:
    data = root / "data"
    if (data / "postmaster.pid").exists():
        subprocess.run([*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
                       capture_output=True, cwd="/")
    shutil.rmtree(root, ignore_errors=True)


def stop(cluster: Cluster) -> None:
    """Stop the cluster (fast shutdown) and remove its directory."""
    _stop_dir(cluster.bindir, cluster.root, _runas()[0])


@contextlib.contextmanager
def running(*, postgis: bool = True) -> Iterator[Cluster]:
    """A private cluster for the ``with`` block, stopped and removed at its end (also on error)."""
    cluster = start(postgis=postgis)
    try:
        yield cluster
    finally:
        stop(cluster)
