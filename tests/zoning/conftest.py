"""Fixtures of the zoning tests: a synthetic county and its villages (session-scoped)."""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))  # zoning_helpers, zoning_brute

from pianqu.zoning.synthetic import synthetic_county, synthetic_villages  # noqa: E402


@pytest.fixture(scope="session")
def county():
    """A 24-township county (Voronoi geometry, road-graph travel times)."""
    return synthetic_county(24, seed=11)


@pytest.fixture(scope="session")
def villages():
    """~480 villages of a 24-township county."""
    return synthetic_villages(synthetic_county(24, seed=5), villages_per_township=20, seed=6)
