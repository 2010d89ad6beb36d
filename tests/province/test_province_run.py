"""`pianqu province run`: the cluster run equals the sequential one, also with a worker killed
mid-run; a broken county is reported while the others complete; a rerun resumes."""

from pathlib import Path
import json
import math
import os
import shutil

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from province_counties import COUNTIES, STEPS
from pianqu.province import read_manifest, run
from pianqu.province.gather import read_results
from pianqu.province.steps import KILL_ENV, PLAN_RESULTS
from pianqu.errors import PianquError


def _results(out, layer):
    frame = read_results(out, layer)
    keys = [c for c in ("county_code", "zone", "code", "conflict_id", "township_code") if c in frame.columns]
    return frame.sort_values(keys).reset_index(drop=True)


@pytest.mark.slow
def test_sequential_run_plans_every_county(sequential):
    m = sequential.manifest
    assert set(m["county"]) == set(COUNTIES) and set(m["step"]) == set(STEPS)
    assert (m["status"] == "done").all(), m[["county", "step", "status", "error_en"]]
    zones = read_results(sequential.out, "zone")
    assert set(zones["county_code"]) == set(COUNTIES)
    # the summary workbook: Chinese headers, one row per county
    book = pd.read_excel(sequential.outputs["summary"], sheet_name=None)
    counties = book["县域汇总"]
    assert list(counties["县级代码"].astype(str)) == sorted(COUNTIES)
    assert (counties["片区规划状态"] == "done").all()
    # the ranking: every town of the three counties on one scale, ranks 1..n
    rank = pd.read_parquet(sequential.outputs["central_town_ranking"])
    scores = read_results(sequential.out, "centre_score")
    assert len(rank) == len(scores) and sorted(rank["province_rank"]) [0] == 1
    # one scale: a town's province score does not depend on its county (the county top towns differ)
    tops = rank[rank["county_rank"] == 1]
    assert tops["province_score"].nunique() == len(COUNTIES)
    assert rank["candidate"].all()  # fewer towns than the 100 of the list


@pytest.mark.slow
def test_cluster_run_with_a_killed_worker_equals_sequential(sequential, province_set, tmp_path, monkeypatch):
    marker = tmp_path / "killed"
    monkeypatch.setenv(KILL_ENV, f"plan:{marker}")
    res = run(province_set, STEPS, out=tmp_path / "out", workers=2, memory_limit="3GB")
    assert marker.exists(), "the test hook did not kill a worker"
    killed = json.loads(marker.read_text())["pid"]
    m = res.manifest
    assert (m["status"] == "done").all(), m[["county", "step", "status", "error_en"]]
    # the killed attempt's plan was run again in another process (earlier tasks may have run in it)
    assert killed not in set(m.loc[m["step"] == "plan", "pid"])
    assert res.workers == 2
    for layer in [*PLAN_RESULTS, "zone_centre"]:
        a, b = _results(sequential.out, layer), _results(res.out, layer)
        if isinstance(a, gpd.GeoDataFrame):
            assert a.geometry.geom_equals_exact(b.geometry, 1e-9).all(), layer
            a, b = pd.DataFrame(a.drop(columns="geometry")), pd.DataFrame(b.drop(columns="geometry"))
        pd.testing.assert_frame_equal(a, b, check_dtype=False, obj=layer)


@pytest.mark.slow
def test_broken_county_is_reported_and_a_rerun_resumes(province_set, tmp_path):
    src = tmp_path / "set"
    shutil.copytree(province_set, src)
    # a county whose township layer is not parquet at all
    part = src / "township" / "county_code=510402" / "part-0.parquet"
    part.write_bytes(b"not a parquet file")
    out = tmp_path / "out"
    first = run(src, ["validate"], out=out, workers=2, memory_limit="3GB")
    m = first.manifest.set_index("county")
    assert m.loc["510402", "status"] == "failed" and m.loc["510402", "error_zh"]
    assert (m.drop(index="510402")["status"] == "done").all()
    # a rerun: the done ones are skipped, the broken one is tried again (and reported again)
    second = run(src, ["validate"], out=out, workers=0, gather=False)
    m2 = second.manifest.set_index("county")
    assert (m2.drop(index="510402")["status"] == "skipped").all()
    assert m2.loc["510402", "status"] == "failed"
    # fixed input: a new hash, the county runs; --force runs the others again too
    shutil.copy(province_set / "township" / "county_code=510402" / "part-0.parquet", part)
    third = run(src, ["validate"], out=out, workers=0, gather=False)
    assert third.manifest.set_index("county").loc["510402", "status"] == "done"
    forced = run(src, ["validate"], out=out, workers=0, gather=False, force=True, counties=["510403"])
    assert list(forced.manifest["status"]) == ["done"]
    assert len(read_manifest(out)) == len(COUNTIES)


@pytest.mark.slow
def test_rerun_skips_the_done_steps(sequential, province_set, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(sequential.out, out)
    again = run(province_set, STEPS, out=out, workers=0)
    assert (again.manifest["status"] == "skipped").all()


@pytest.mark.slow
def test_evaluate_step_equals_evaluate_on_the_county(sequential):
    """The province's indicator set holds, per county, what `pianqu.evaluate` gives on that
    county's planned workspace (the step adds nothing and loses nothing)."""
    from pianqu import evaluate
    from pianqu.workspace import Workspace

    gathered = read_results(sequential.out, "indicator")
    assert set(gathered["county_code"]) == set(COUNTIES)
    ws = Workspace.open(Path(sequential.out) / "workspaces" / "510403.gpkg")
    direct = evaluate(ws, "plan").table
    keys = ["indicator", "level", "unit_code"]
    mine = gathered[gathered["county_code"] == "510403"].sort_values(keys).reset_index(drop=True)
    direct = direct.sort_values(keys).reset_index(drop=True)
    assert len(mine) == len(direct) > 30
    assert mine["indicator"].tolist() == direct["indicator"].tolist()
    assert mine["light"].tolist() == direct["light"].tolist()
    np.testing.assert_allclose(pd.to_numeric(mine["value"], errors="coerce"),
                               pd.to_numeric(direct["value"], errors="coerce"), rtol=1e-12, equal_nan=True)
