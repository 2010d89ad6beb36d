"""One synthetic 通江县 workspace per test session, shared by the end-to-end tests."""

import pytest


@pytest.fixture(scope="session")
def tongjiang(tmp_path_factory, tongjiang_layers):
    """The default county written once from the session's one build (tests/conftest.py)."""
    from pianqu.synth import write_county

    return write_county("511921", tmp_path_factory.mktemp("tongjiang") / "511921.gpkg", seed=1,
                        layers=tongjiang_layers)
