"""Shared fixtures for the location-allocation tests."""

from pathlib import Path

import pytest

ORLIB = Path(__file__).resolve().parents[1] / "data" / "orlib"


@pytest.fixture(scope="session")
def orlib_dir() -> Path:
    return ORLIB


@pytest.fixture(scope="session")
def orlib_optima() -> dict[str, float]:
    lines = (ORLIB / "optima.txt").read_text().splitlines()[1:]
    return {name: float(value) for name, value in (line.split() for line in lines if line.strip())}
