"""The counties a web server serves: one GeoPackage workspace (local mode), or the county schemas
of a PostGIS database (server mode; a URL naming ``?schema=`` serves that county alone)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pianqu.workspace import META_TABLE, Workspace


@dataclass
class Registry:
    """County code → workspace, the users store and the mode (``local`` or ``server``)."""

    target: str
    mode: str
    workspaces: dict[str, Workspace] = field(default_factory=dict)
    users: object = None

    @property
    def postgis(self) -> bool:
        return self.mode == "server"


def county_schemas(url: str) -> list[str]:
    """The schemas of the database that hold a pianqu workspace (a ``pianqu_meta`` table)."""
    import psycopg

    from pianqu.store.postgis import split_url

    conninfo = split_url(url)[0]
    with psycopg.connect(conninfo, autocommit=True, connect_timeout=10) as con:
        rows = con.execute("SELECT table_schema FROM information_schema.tables WHERE table_name = %s "
                           "ORDER BY table_schema", [META_TABLE]).fetchall()
    return [r[0] for r in rows]


def open_registry(targets: list[str | Path] | str | Path) -> Registry:
    """Open what ``pianqu serve`` was given: GeoPackage file(s) (local mode; several only for tests
    and demonstrations), or one ``postgresql://`` URL (server mode; every county schema, or the
    one it names)."""
    from pianqu.store.postgis import is_db_url, normalise_url, split_url, with_schema
    from pianqu.web.auth import user_store

    items = list(targets) if isinstance(targets, (list, tuple)) else [targets]
    first = str(items[0])
    if is_db_url(first):
        url = normalise_url(first)
        schema = split_url(url)[1]
        schemas = [schema] if schema else county_schemas(url)
        reg = Registry(url, "server", users=user_store(url))
        for s in schemas:
            ws = Workspace.open(with_schema(url, s))
            code = ws.meta.county_code
            # a county held by several schemas (a copy, a test): its own schema c<code> (what
            # `pianqu db push` names it) serves it, else the first by name
            if code not in reg.workspaces or s == f"c{code}":
                reg.workspaces[code] = ws
        return reg
    reg = Registry(first, "local", users=user_store(first))
    for item in items:
        ws = Workspace.open(item)
        reg.workspaces[ws.meta.county_code] = ws
    return reg
