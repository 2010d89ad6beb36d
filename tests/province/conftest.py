"""Three small synthetic counties as a `synth --province` GeoParquet set, and their sequential
province run (validate + plan + evaluate, in this process): the reference the cluster runs are compared to."""

import os

import pytest

os.environ.setdefault("MPLCONFIGDIR", "/work/main/.cache/matplotlib")

# 西区 and 东区 (攀枝花, neighbours) and 青羊区: among the fastest counties to synthesise and plan
COUNTIES = ["510105", "510402", "510403"]
STEPS = ["validate", "plan", "evaluate"]


@pytest.fixture(scope="session")
def province_set(tmp_path_factory):
    from pianqu.synth import synthesize_province

    return synthesize_province(tmp_path_factory.mktemp("set") / "province", counties=COUNTIES, seed=1)


@pytest.fixture(scope="session")
def sequential(province_set, tmp_path_factory):
    from pianqu.province import run

    out = tmp_path_factory.mktemp("seq")
    return run(province_set, STEPS, out=out, workers=0)
