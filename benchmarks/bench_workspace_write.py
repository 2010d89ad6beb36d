"""Workspace write benchmark (issue 13): a planner's single write, in process, on the
transactional GeoPackage backend against the copy-and-replace backend it replaced.

Three ways: ``direct`` (the backend as it is: a small replaced layer written with SQLite inside
the commit, ``pianqu.workspace.gpkg_direct``), ``staged`` (the same backend with
``direct_max_rows = 0``: every layer staged through pyogrio, then copied in the commit — the
transactional backend as first built) and ``old`` (copy-and-replace).

Workspaces: the county (default 511921 通江县, seed 1) planned once (``plan`` with services and
land), and a 10× larger one (the same plus copies of its ``landuse`` layer until the file is
≈ 10× as large). On each, both backends, ``--repeat`` times each (median reported):

- ``decision``: ``lines decide`` as the library does it — one conflict's decision changed, the
  scenario's ``conflict`` layer written (``write_conflicts``; the write alone is timed);
- ``zone edit``: one zone's attributes edited and the scenario's ``zone`` layer written;
- ``plan writes``: the time ``plan`` spends writing (the old backend: its four whole-file
  copies; the new one: staging every layer plus the one commit), on a copy, once.

The old backend is kept here verbatim (``CopyReplaceBackend``) as the peer.

    python benchmarks/bench_workspace_write.py [--county 511921] [--repeat 7] [--scale 10] [--write]
"""

from __future__ import annotations

import argparse
import fcntl
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import geopandas as gpd  # noqa: E402
import pandas as pd  # noqa: E402
import pyogrio  # noqa: E402

from pianqu.geo import STORAGE_EPSG  # noqa: E402
from pianqu.workspace import Meta, Workspace, WorkspaceError  # noqa: E402
from pianqu.workspace import gpkg as gpkg_backend  # noqa: E402


# -- the peer: the backend before issue 13, as it was ----------------------------------------------
class CopyReplaceBackend:
    """A GeoPackage file written by copy-on-write and an atomic rename (pianqu ≤ issue 13)."""

    def __init__(self, path):
        self.path = Path(path)
        self.url = str(self.path)

    def exists(self):
        return self.path.exists()

    def list_tables(self):
        return [str(name) for name, _ in pyogrio.list_layers(self.path)] if self.path.exists() else []

    def read(self, table, columns=None, bbox=None):
        info = pyogrio.read_info(self.path, layer=table)
        spatial = info.get("geometry_type") is not None
        frame = pyogrio.read_dataframe(self.path, layer=table, columns=columns, bbox=bbox,
                                       read_geometry=spatial, use_arrow=True)
        return frame.set_crs(STORAGE_EPSG) if spatial and frame.crs is None else frame

    def revisions(self, tables=None):
        return {t: 0 for t in tables} if tables is not None else {}

    def count(self, table):  # (not in the old backend: today's Workspace asks a backend that is not GpkgBackend)
        return int(pyogrio.read_info(self.path, layer=table)["features"])

    @contextmanager
    def _lock(self):
        with open(self.path.with_name(self.path.name + ".lock"), "w") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise WorkspaceError("common.workspace.locked", path=str(self.path)) from None
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def write(self, replace, append, drop, **_ignored):
        with self._lock():
            tmp = self.path.with_name(f".{self.path.stem}.old-{os.getpid()}.gpkg")
            try:
                shutil.copy2(self.path, tmp)
                existing = {str(n) for n, _ in pyogrio.list_layers(tmp)}
                for table in drop:
                    if table in existing:
                        _old_drop(tmp, table)
                for table, frame in replace.items():
                    gpkg_backend._write_frame(tmp, table, frame)
                present = {str(n) for n, _ in pyogrio.list_layers(tmp)}
                for table, frame in append.items():
                    gpkg_backend._write_frame(tmp, table, frame, append=table in present)
                with open(tmp, "rb+") as fh:
                    os.fsync(fh.fileno())
                os.replace(tmp, self.path)
                fd = os.open(self.path.parent, os.O_DIRECTORY)
                os.fsync(fd)
                os.close(fd)
            finally:
                tmp.unlink(missing_ok=True)
        return {}


def _old_drop(path, table):
    import sqlite3

    con = sqlite3.connect(path)
    with con:
        con.execute(f'DROP TABLE IF EXISTS "{table}"')
        for meta in ("gpkg_contents", "gpkg_geometry_columns", "gpkg_ogr_contents", "gpkg_extensions"):
            try:
                con.execute(f"DELETE FROM {meta} WHERE lower(table_name) = lower(?)", (table,))
            except sqlite3.OperationalError:
                pass
        con.execute(f'DROP TABLE IF EXISTS "rtree_{table}_geom"')
    con.close()


def open_with(path: Path, kind: str) -> Workspace:
    ws = Workspace.open(path)
    if kind == "old":
        return Workspace(CopyReplaceBackend(path), ws.meta)
    if kind == "staged":
        ws.backend.direct_max_rows = 0
    return ws


# -- the writes ---------------------------------------------------------------------------------
def decision_write(ws: Workspace, k: int):
    """The edited conflict table (read, not timed) and its write (timed)."""
    from pianqu.land.conflicts import write_conflicts

    c = ws.read("conflict", "plan")
    c.loc[c.index[k % len(c)], "decision_reason"] = f"bench {k}"
    return lambda: write_conflicts(ws, "plan", c, command="lines decide", reason="bench")


def zone_edit(ws: Workspace, k: int):
    z = ws.read("zone", "plan")
    if "specialty_zh" in z.columns:
        z.loc[z.index[k % len(z)], "specialty_zh"] = f"编辑 {k}"
    return lambda: ws.write({"zone": z}, scenario="plan", command="zones edit", reason="bench")


def timed(fn, ws, repeat: int) -> list[float]:
    """Seconds of each write alone (the read before it is not counted)."""
    fn(ws, -1)()  # warm: files in the page cache, modules loaded
    out = []
    for k in range(repeat):
        write = fn(ws, k)
        t = time.perf_counter()
        write()
        out.append(time.perf_counter() - t)
    return out


def plan_write_time(path: Path, kind: str) -> float:
    """Seconds ``plan`` spends writing, with ``kind`` backend (the workspace at ``path`` is changed)."""
    from pianqu.plan import plan

    spent = [0.0]

    def clock(owner, name):
        original = getattr(owner, name)

        def wrapped(*a, **kw):
            t = time.perf_counter()
            try:
                return original(*a, **kw)
            finally:
                spent[0] += time.perf_counter() - t
        setattr(owner, name, wrapped)
        return original

    if kind == "old":
        undo = [(CopyReplaceBackend, "write", clock(CopyReplaceBackend, "write"))]
    else:
        undo = [(gpkg_backend.GpkgStage, "put", clock(gpkg_backend.GpkgStage, "put")),
                (gpkg_backend.GpkgBackend, "commit", clock(gpkg_backend.GpkgBackend, "commit"))]
    try:
        plan(open_with(path, kind), "plan")
    finally:
        for owner, name, original in undo:
            setattr(owner, name, original)
    return spent[0]


def enlarge(path: Path, scale: int) -> None:
    """Copies of ``landuse`` until the file is about ``scale`` × its size."""
    ws = Workspace.open(path)
    size = path.stat().st_size
    lu = ws.read("landuse")
    k = 0
    while path.stat().st_size < scale * size:
        ws.write({f"landuse_copy{k}": lu}, command="bench", reason="a 10× larger workspace")
        k += 1


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--county", default="511921")
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--scale", type=int, default=10)
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--skip-plan", action="store_true")
    ap.add_argument("--write", action="store_true", help="write docs/benchmarks/workspace_write.md")
    args = ap.parse_args()

    from pianqu.plan import plan
    from pianqu.synth import write_county

    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench-ws-"))
    work.mkdir(parents=True, exist_ok=True)
    base = work / f"{args.county}.gpkg"
    if not base.exists():
        t = time.perf_counter()
        write_county(args.county, base, seed=1)
        plan(Workspace.open(base), "plan")
        print(f"county synthesised and planned in {time.perf_counter() - t:.0f} s", flush=True)
    big = work / f"{args.county}-x{args.scale}.gpkg"
    if not big.exists():
        shutil.copy2(base, big)
        enlarge(big, args.scale)
    rows = []
    for label, path in (("county", base), (f"{args.scale}× larger", big)):
        mb = path.stat().st_size / 1e6
        for name, fn in (("decision", decision_write), ("zone edit", zone_edit)):
            res = {}
            for kind in ("new", "staged", "old"):
                copy = work / f"run-{kind}.gpkg"
                shutil.copy2(path, copy)
                res[kind] = statistics.median(timed(fn, open_with(copy, kind), args.repeat))
                copy.unlink()
            rows.append((label, f"{mb:.0f}", name, res["new"], res["staged"], res["old"]))
            print(f"{label:>12} {mb:6.0f} MB {name:>10}: direct {res['new'] * 1e3:7.1f} ms, "
                  f"staged {res['staged'] * 1e3:7.1f} ms, old {res['old'] * 1e3:7.1f} ms, "
                  f"×{res['staged'] / res['new']:.1f} / ×{res['old'] / res['new']:.0f}", flush=True)
    plan_rows = []
    if not args.skip_plan:
        for kind in ("new", "staged", "old"):
            copy = work / f"plan-{kind}.gpkg"
            shutil.copy2(base, copy)
            plan_rows.append((kind, plan_write_time(copy, kind)))
            print(f"plan writes ({kind}): {plan_rows[-1][1]:.2f} s", flush=True)
    if args.write:
        write_doc(args, rows, plan_rows)


def write_doc(args, rows, plan_rows) -> None:
    load = os.getloadavg()[0]
    lines = ["# Workspace writes: one SQLite transaction vs copy-and-replace (issue 13)", "",
             f"`python benchmarks/bench_workspace_write.py --county {args.county} --repeat {args.repeat} "
             f"--scale {args.scale} --write`; {platform.processor() or platform.machine()}, "
             f"{os.cpu_count()} cores shared with other jobs (load {load:.1f} at the end); median of {args.repeat}.",
             "", "direct: the backend as it is (a small replaced layer written with SQLite in the commit, "
             "`workspace.direct_write_max_rows`); staged: the same with every layer staged through pyogrio "
             "first (the transactional backend as first built); copy-and-replace: the backend before issue 13.", "",
             "| workspace | size MB | write | direct | staged | copy-and-replace | staged / direct | "
             "copy / direct |",
             "|---|---:|---|---:|---:|---:|---:|---:|"]
    for label, mb, name, new, staged, old in rows:
        lines.append(f"| {label} | {mb} | {name} | {new * 1e3:.1f} ms | {staged * 1e3:.1f} ms | "
                     f"{old * 1e3:.1f} ms | {staged / new:.1f}× | {old / new:.0f}× |")
    if plan_rows:
        d = dict(plan_rows)
        lines += ["", f"`plan`'s writes in all (county, services and land included): direct "
                      f"{d['new']:.2f} s, staged {d['staged']:.2f} s (staging every layer + one commit), "
                      f"copy-and-replace {d['old']:.2f} s (four whole-file copies)."]
    out = ROOT / "docs" / "benchmarks" / "workspace_write.md"
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
