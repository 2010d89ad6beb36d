"""Test-wide settings: caches inside the checkout, headless matplotlib."""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("MPLCONFIGDIR", str(ROOT / ".cache" / "matplotlib"))
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("PIANQU_LANG", "zh")

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def tongjiang_build():
    """The default county (通江县 511921, seed 1) with its intermediate products, synthesised once
    per session for every test that needs it."""
    from pianqu.synth import build_county

    return build_county("511921", 1)


@pytest.fixture(scope="session")
def tongjiang_layers(tongjiang_build):
    """The default county's layers as `pianqu.synth.synthesize_county` gives them (both land-use
    epochs in `landuse`). Shared: copy a frame before changing it."""
    from pianqu.synth.epoch import with_epochs

    b = tongjiang_build
    return with_epochs(b.layers, b.later_epoch.landuse if b.later_epoch is not None else None)


@pytest.fixture(scope="session")
def tongjiang_ws(tmp_path_factory, tongjiang_layers):
    """The default county as a GeoPackage workspace, written once from the session's one build
    (unplanned; copy it before writing). tests/e2e calls it ``tongjiang``."""
    from pianqu.synth import write_county

    return write_county("511921", tmp_path_factory.mktemp("tongjiang") / "511921.gpkg", seed=1,
                        layers=tongjiang_layers)


def pytest_collection_modifyitems(config, items):
    """Every test that needs the default county's build is `slow` (the build alone takes ~40 s)."""
    for item in items:
        if "tongjiang_build" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def pg_cluster():
    """A private PostgreSQL + PostGIS cluster (pianqu.testing.pgcluster), started once and stopped
    (its directory removed) at the end of the session; shared by tests/store and tests/web.
    Without PostgreSQL/PostGIS the tests fail and say to run `make system-deps`."""
    from pianqu.testing import pgcluster

    try:
        cluster = pgcluster.start()
    except pgcluster.ClusterUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield cluster
    finally:
        pgcluster.stop(cluster)
