"""Three small synthetic counties as a `synth --province` GeoParquet set, and their sequential
province run (validate + plan + evaluate, in this process): the reference the cluster runs are compared to."""

import os

import pytest

os.environ.setdefault("MPLCONFIGDIR", os.path.join(os.path.dirname(__file__), "..", "..", ".cache", "matplotlib"))

from province_counties import COUNTIES, STEPS


@pytest.fixture(scope="session")
def province_set(tmp_path_factory):
    from pianqu.synth import synthesize_province

    return synthesize_province(tmp_path_factory.mktemp("set") / "province", counties=COUNTIES, seed=1)


@pytest.fixture(scope="session")
def sequential(province_set, tmp_path_factory):
    from pianqu.province import run

    out = tmp_path_factory.mktemp("seq")
    return run(province_set, STEPS, out=out, workers=0)
