"""Storage backends beyond the GeoPackage file of :mod:`pianqu.workspace`: PostGIS
(:mod:`pianqu.store.postgis`) and the copy of a whole workspace between backends
(:mod:`pianqu.store.transfer`: ``pianqu db push`` / ``db pull``). Callers use
:class:`pianqu.workspace.Workspace`, which picks the backend from the workspace URL."""
