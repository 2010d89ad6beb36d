"""``pianqu serve``: the web "一张图" of issue 14 (FastAPI + MapLibre GL JS, vendored).

- :mod:`pianqu.web.app` — :func:`create_app` (routes, county filtering, CSRF);
- :mod:`pianqu.web.auth` — users (argon2), roles, sessions, the login rate limit;
- :mod:`pianqu.web.registry` — the counties served (a GeoPackage, or PostGIS schemas);
- :mod:`pianqu.web.tiles` — MVT tiles (``ST_AsMVT`` on PostGIS, the same tile in Python);
- :mod:`pianqu.web.catalogue` — layers with names, revisions and default styles;
- :mod:`pianqu.web.query` — identify, search, tables, statistics, compare, audit, decisions;
- :mod:`pianqu.web.commands` — the ``serve`` and ``users`` commands.

Nothing here is imported by ``pianqu.cli`` at start-up (FastAPI loads only for ``serve``).
"""
