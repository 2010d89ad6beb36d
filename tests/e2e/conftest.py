"""One synthetic 通江县 workspace per test session, shared by the end-to-end tests."""

import pytest


@pytest.fixture(scope="session")
def tongjiang(tongjiang_ws):
    """The default county written once from the session's one build (tests/conftest.py)."""
    return tongjiang_ws
