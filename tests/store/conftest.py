"""A private PostgreSQL + PostGIS cluster for the session (pianqu.testing.pgcluster), and the
small county 西区 (510403) as a GeoPackage, written once."""

import itertools

import pytest

from pianqu.testing import pgcluster

_SEQ = itertools.count()


@pytest.fixture(scope="session")
def pg_cluster():
    """The cluster, started once and stopped (its directory removed) at the end of the session.
    Without PostgreSQL/PostGIS the tests fail and say to run `make system-deps`."""
    try:
        cluster = pgcluster.start()
    except pgcluster.ClusterUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield cluster
    finally:
        pgcluster.stop(cluster)


@pytest.fixture()
def pg_url(pg_cluster):
    """A workspace URL on a schema of its own for each test."""
    return pg_cluster.schema_url(f"t{next(_SEQ)}")


@pytest.fixture(scope="session")
def xiqu_gpkg(tmp_path_factory):
    """西区 (510403, seed 1) as a GeoPackage workspace, with a pianqu.toml beside it."""
    from pianqu.synth import write_county

    path = tmp_path_factory.mktemp("xiqu") / "510403.gpkg"
    write_county("510403", path, seed=1)
    (path.parent / "pianqu.toml").write_text('[thresholds]\n"validate.overlap_tolerance_m2" = 5.0\n',
                                             encoding="utf-8")
    return path
