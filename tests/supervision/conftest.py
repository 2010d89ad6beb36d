"""Three small synthetic counties (as tests/province/conftest.py builds them: 西区 and 东区 of
攀枝花, 青羊区 of 成都), planned and evaluated once per session by the province engine in this
process; the supervision tests read its output folder and its workspaces."""

import os

import pytest

os.environ.setdefault("MPLCONFIGDIR", os.path.join(os.path.dirname(__file__), "..", "..", ".cache", "matplotlib"))

from supervision_counties import COUNTIES  # noqa: E402


@pytest.fixture(scope="session")
def province_out(tmp_path_factory):
    from pianqu.province import run
    from pianqu.synth import synthesize_province

    src = synthesize_province(tmp_path_factory.mktemp("set") / "province", counties=COUNTIES, seed=1)
    out = tmp_path_factory.mktemp("run")
    res = run(src, ["plan", "evaluate"], out=out, workers=0)
    assert set(res.manifest["status"]) == {"done"}, res.manifest
    return out
