"""The fault corpus (issue 13): one small planned county per session (510403 西区, the fastest
to plan), copied per test. The helpers that run commands in child processes are in
faults_helpers.py."""

from __future__ import annotations

import itertools
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass(frozen=True)
class County:
    """The planned county: its file, and the conflicts a planner can decide (id, allowed action)."""

    path: Path
    decided: tuple[str, str]  # decided in the fixture
    undecided: tuple[str, str]  # open, for the tests to decide


@pytest.fixture(scope="session")
def county(tmp_path_factory) -> County:
    """510403 西区 synthesised and planned once (p = 2), with a planner's decision on one conflict
    and the farmland line finalised in the scenario ``plan``."""
    from pianqu.land.conflicts import conflict_rules, decide, write_conflicts
    from pianqu.land.workflow import finalise_line
    from pianqu.plan import plan
    from pianqu.synth import write_county
    from pianqu.workspace import Workspace

    path = tmp_path_factory.mktemp("faults") / "510403.gpkg"
    write_county("510403", path, seed=1)
    ws = Workspace.open(path)
    plan(ws, "plan", p=2)
    c = ws.read("conflict", "plan")
    options = {r.rule: r.options.split("|") for r in conflict_rules().itertuples(index=False)}
    choices = [(r.conflict_id, options[r.rule][0]) for r in c.itertuples(index=False)
               if r.state == "open" and options.get(r.rule) and options[r.rule][0]]
    assert len(choices) >= 2, "the synthetic county plants at least two open control-line conflicts"
    write_conflicts(ws, "plan", decide(c, {choices[0][0]: (choices[0][1], "夹具决定")}), command="lines decide")
    finalise_line(ws, "plan", "farmland_pbf", "定稿")
    return County(path, choices[0], choices[1])


@pytest.fixture
def ws_copy(county, tmp_path) -> Path:
    """A private copy of the planned county."""
    target = tmp_path / "ws" / county.path.name
    target.parent.mkdir()
    shutil.copy2(county.path, target)
    return target


_SCHEMAS = itertools.count()


@pytest.fixture(params=["gpkg", "postgis"])
def backend(request) -> str:
    """The storage backend a fault test runs on (every fault that is not about files)."""
    return request.param


@pytest.fixture
def target(backend, county, tmp_path, request) -> str:
    """The planned county on ``backend``, private to the test, as the command line names it: a
    copy of the GeoPackage, or a fresh schema of the session's PostGIS cluster (``pg_cluster``,
    started only when a PostGIS case runs) filled by ``db push`` of that GeoPackage."""
    if backend == "gpkg":
        path = tmp_path / "ws" / county.path.name
        path.parent.mkdir()
        shutil.copy2(county.path, path)
        yield str(path)
        return
    from pianqu.store.postgis import PostgisBackend
    from pianqu.store.transfer import push

    cluster = request.getfixturevalue("pg_cluster")
    url = cluster.schema_url(f"fault{next(_SCHEMAS)}")
    push(county.path, url)
    yield url
    pg = PostgisBackend(url)
    pg._connection().execute(f'DROP SCHEMA IF EXISTS "{pg.schema}" CASCADE')
    pg.close()
