"""A workspace URL per test on the session's PostGIS cluster (``pg_cluster``, tests/conftest.py), and the
small county 西区 (510403) as a GeoPackage, written once."""

import itertools

import pytest

_SEQ = itertools.count()


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
