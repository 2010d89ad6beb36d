"""Shared builds for the synth tests: each county is generated once per session.

通江县 (511921, the default county: mountainous, 33 townships, 367 villages), 温江区
(510115, Chengdu plain) and 泸定县 (513322, western Sichuan, Ganzi) are the three counties
the issue asks to check; 西区 (510403, small) is used where two builds are compared.
"""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("MPLCONFIGDIR", "/work/main/.cache/matplotlib")

TONGJIANG, WENJIANG, LUDING, XIQU = "511921", "510115", "513322", "510403"


@pytest.fixture(scope="session")
def tongjiang(tongjiang_build):
    return tongjiang_build  # the session's one build of the default county (tests/conftest.py)


@pytest.fixture(scope="session")
def wenjiang():
    from pianqu.synth import build_county

    return build_county(WENJIANG, 1)


@pytest.fixture(scope="session")
def luding():
    from pianqu.synth import build_county

    return build_county(LUDING, 1)


@pytest.fixture(scope="session", params=[TONGJIANG, WENJIANG, LUDING])
def built(request, tongjiang, wenjiang, luding):
    """Each of the three checked counties in turn."""
    return {TONGJIANG: tongjiang, WENJIANG: wenjiang, LUDING: luding}[request.param]
