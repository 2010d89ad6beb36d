import os
import sys

import pytest

os.environ.setdefault("MPLCONFIGDIR", "/work/main/.cache/matplotlib")
sys.path.insert(0, os.path.dirname(__file__))

import land_fixtures  # noqa: E402

from pianqu.land.common import zone_polygons  # noqa: E402


@pytest.fixture()
def county():
    """Fresh copies of the fixture county's layers (EPSG:4490; 'gk:<name>' in the GK zone)."""
    return land_fixtures.layers()


@pytest.fixture(scope="session")
def zones():
    c = land_fixtures.county()
    return zone_polygons(townships=c["township"], mapping=c["zone_member"], epsg=land_fixtures.EPSG)


@pytest.fixture(scope="session")
def lines():
    c = land_fixtures.county()
    return {k: c[k] for k in ("farmland_pbf", "eco_redline", "urban_boundary")}
