"""`pianqu db push` then `pianqu db pull` give back every layer of the county unchanged (geometry
exactly equal, attributes equal, the pianqu.toml too), refuse to overwrite without --replace,
and a postgresql:// workspace works where a .gpkg does (its configuration read from the schema)."""

from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from geopandas.testing import assert_geodataframe_equal
from typer.testing import CliRunner

from pianqu.cli import app
from pianqu.store.postgis import PostgisBackend, split_url
from pianqu.workspace import AUDIT_TABLE, Workspace, WorkspaceError
from pianqu.workspace.base import REVISION_TABLE

runner = CliRunner()


def run(*args: str) -> tuple[int, str]:
    res = runner.invoke(app, [*args, "--lang", "en"])
    return res.exit_code, res.output


def test_push_then_pull_gives_every_layer_back(xiqu_gpkg, pg_cluster, tmp_path):
    url = pg_cluster.url  # no schema: db push picks c<county code>
    code, out = run("db", "push", str(xiqu_gpkg), url)
    assert code == 0, out
    target = pg_cluster.schema_url("c510403")
    assert "c510403" in out and "pianqu.toml copied" in out
    code, out = run("db", "push", str(xiqu_gpkg), url)  # refused: the schema has tables
    assert code == 2 and "--replace" in out
    pulled = tmp_path / "back" / "510403.gpkg"
    code, out = run("db", "pull", target, str(pulled))
    assert code == 0, out
    code, out = run("db", "pull", target, str(pulled))  # refused: the file exists
    assert code == 2 and "--replace" in out
    assert run("db", "pull", target, str(pulled), "--replace")[0] == 0

    src, back = Workspace.open(xiqu_gpkg), Workspace.open(pulled)
    assert set(back.tables()) == set(src.tables())
    for table in src.tables():
        a, b = src.backend.read(table), back.backend.read(table)
        if table == REVISION_TABLE:  # each store's own bookkeeping: the pull wrote every table once
            assert set(b["table_name"]) == set(a["table_name"]) and set(b["revision"]) == {1}
            continue
        if table == AUDIT_TABLE:  # the push and the pull each add their row
            assert b["command"].tolist()[-2:] == ["db push", "db pull"]
            b = b.iloc[: len(a)]
        if isinstance(a, gpd.GeoDataFrame):
            assert_geodataframe_equal(a, b, check_less_precise=False)  # tolerance 0
        else:
            pd.testing.assert_frame_equal(a, b, check_exact=True)
    assert (pulled.parent / "pianqu.toml").read_text() == (xiqu_gpkg.parent / "pianqu.toml").read_text()
    assert Workspace.open(pulled).config()["validate.overlap_tolerance_m2"] == 5.0


def test_a_database_workspace_works_where_a_file_does(xiqu_gpkg, pg_cluster):
    url = pg_cluster.schema_url("dbws")
    code, out = run("db", "push", str(xiqu_gpkg), url)
    assert code == 0, out
    ws = Workspace.open(Path(url))  # a URL through pathlib (as the CLI's arguments pass it) still opens
    assert isinstance(ws.backend, PostgisBackend) and ws.meta.county_code == "510403"
    cfg = ws.config()
    assert cfg["validate.overlap_tolerance_m2"] == 5.0 and "pianqu_config" in cfg.source("validate.overlap_tolerance_m2")
    with pytest.raises(WorkspaceError, match="db pull"):
        ws.path  # no file behind it: the message says how to get one
    assert ws.count("landuse") == len(ws.read("landuse"))
    code, out = run("info", url)
    assert code == 0 and "landuse" in out and "db push" in out
    code, out = run("import", str(xiqu_gpkg), "-w", url)
    assert code == 2 and "db push" in out


def test_a_password_in_the_url_is_not_shown():
    conninfo, schema, shown = split_url("postgresql://planner:s3cret@db.example:5432/gis?schema=c511921&sslmode=require")
    assert schema == "c511921" and "s3cret" not in shown and "schema" not in conninfo and "sslmode=require" in conninfo
    with pytest.raises(WorkspaceError):
        PostgisBackend("postgresql://planner@db.example/gis")  # no schema: the message says to add one
