"""A whole workspace copied between a GeoPackage file and a PostGIS schema: ``pianqu db push``
and ``pianqu db pull``. Every table is copied (base layers, scenarios, metadata, the audit trail),
with the workspace's ``pianqu.toml`` (beside the file ↔ the schema's ``pianqu_config`` table), in
one write: the target has all of it or, on any failure, what it had before. Each copy adds one
row to the audit trail saying where the data came from."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pianqu import progress
from pianqu.config import config_path_for
from pianqu.i18n import t
from pianqu.store.postgis import BOOKKEEPING, CONFIG_TABLE, PostgisBackend, is_db_url, split_url, with_schema
from pianqu.workspace import (AUDIT_TABLE, Frame, GpkgBackend, Holder, Workspace, WorkspaceError, _audit_rows)


@dataclass(frozen=True)
class Transfer:
    """What a push or pull copied: the target, the tables with their rows, and whether a
    ``pianqu.toml`` went with them."""

    source: str
    target: str
    tables: dict[str, int]
    config: bool

    @property
    def rows(self) -> int:
        return sum(self.tables.values())


def default_schema(county_code: str) -> str:
    """The schema ``db push`` uses for a county when the URL names none: ``c<county_code>``."""
    return f"c{county_code}"


def _read_all(ws: Workspace, label: str) -> dict[str, Frame]:
    names = [n for n in ws.tables() if n not in BOOKKEEPING]
    frames: dict[str, Frame] = {}
    with progress.task(label, total=len(names)) as advance:
        for name in names:
            frames[name] = ws.backend.read(name)
            advance()
    return frames


def _with_audit(frames: dict[str, Frame], command: str, reason: str) -> None:
    rows = sum(len(f) for n, f in frames.items() if n != AUDIT_TABLE)
    row = _audit_rows(["*"], command, reason, None, command.split()[-1], [rows])
    old = frames.get(AUDIT_TABLE)
    frames[AUDIT_TABLE] = pd.concat([old, row], ignore_index=True) if old is not None and len(old) else row


def push(source: str | Path, target: str, *, replace: bool = False) -> Transfer:
    """Copy the GeoPackage workspace ``source`` into the PostGIS workspace ``target``
    (``postgresql://…[?schema=NAME]``; without a schema, ``c<county_code>``). Refuses a schema
    that already has tables unless ``replace`` (which drops them in the same transaction)."""
    src = Workspace.open(source)
    if not isinstance(src.backend, GpkgBackend):
        raise WorkspaceError("db.push.not_workspace", path=str(source))
    if not is_db_url(target):
        raise WorkspaceError("db.workspace.no_schema", path=str(target))
    if split_url(str(target))[1] is None:
        target = with_schema(str(target), default_schema(src.meta.county_code))
    dst = PostgisBackend(str(target))
    existing = dst.list_tables() if dst.exists() else []
    if existing and not replace:
        raise WorkspaceError("db.push.exists", path=dst.url, n=len(existing))
    frames = _read_all(src, t("db.push.progress", path=dst.url))
    cfg_file = config_path_for(source)
    has_config = cfg_file.exists()
    if has_config:
        frames[CONFIG_TABLE] = pd.DataFrame({"toml": [cfg_file.read_text(encoding="utf-8")]})
    _with_audit(frames, "db push", str(Path(source).resolve()))
    drop = [n for n in existing if n not in frames]
    if not has_config and dst.exists() and dst.config_text() is not None:
        drop.append(CONFIG_TABLE)
    with progress.task(t("db.push.progress", path=dst.url), total=len(frames)) as advance:
        dst.write(frames, {}, drop, holder=Holder.here("db push"), progress=lambda _t: advance())
    return Transfer(str(source), dst.url, {n: len(f) for n, f in frames.items() if n != CONFIG_TABLE}, has_config)


def pull(source: str, target: str | Path, *, replace: bool = False) -> Transfer:
    """Copy the PostGIS workspace ``source`` into a new GeoPackage ``target`` (and its
    ``pianqu.toml`` beside it). Refuses an existing file (or a different ``pianqu.toml``) unless
    ``replace``. The file is written under a temporary name and renamed when complete."""
    out = Path(target)
    if out.suffix.lower() != ".gpkg":
        raise WorkspaceError("db.pull.not_gpkg", path=str(out))
    src = Workspace.open(source)
    if not isinstance(src.backend, PostgisBackend):
        raise WorkspaceError("db.workspace.no_schema", path=str(source))
    if out.exists() and not replace:
        raise WorkspaceError("db.pull.exists", path=str(out))
    text = src.backend.config_text()
    cfg_file = config_path_for(out)
    if text is not None and cfg_file.exists() and not replace and cfg_file.read_text(encoding="utf-8") != text:
        raise WorkspaceError("db.pull.exists", path=str(cfg_file))
    frames = _read_all(src, t("db.pull.progress", path=src.url))
    _with_audit(frames, "db pull", src.url)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.stem}.pull-{os.getpid()}.gpkg")
    tmp.unlink(missing_ok=True)
    try:
        with progress.task(t("db.pull.progress", path=src.url), total=1):
            GpkgBackend(tmp).write(frames, {}, [])
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    if text is not None:
        cfg_file.write_text(text, encoding="utf-8")
    return Transfer(src.url, str(out), {n: len(f) for n, f in frames.items()}, text is not None)
