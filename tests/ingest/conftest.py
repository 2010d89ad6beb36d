"""Fixtures of the ingest tests: the planner's data of 通江县, written once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest_data import file_hashes, write_gbk_shapefiles, write_other_formats, write_sandiao_gdb


@pytest.fixture(scope="session")
def county_data(tmp_path_factory) -> dict[str, Path]:
    """Every source, written once per session (tests only read them; one test checks they stay unchanged)."""
    root = tmp_path_factory.mktemp("tongjiang_data")
    paths: dict[str, Path] = {"root": root, "gdb": root / "511921通江县三调.gdb"}
    write_sandiao_gdb(paths["gdb"])
    paths.update(write_gbk_shapefiles(root))
    paths.update(write_other_formats(root))
    paths["hashes"] = file_hashes(root)  # type: ignore[assignment]  # checked again after the imports
    return paths
