"""The steps a province run runs on each county: a registry of plain functions.

``STEPS[name](ctx) -> dict`` runs one step on one county's workspace and returns a small summary
(JSON-able numbers); it raises :class:`pianqu.errors.PianquError` for what the user can fix. A
step that produces province results writes them as GeoParquet parts
``<out>/results/<layer>/county_code=<code>/part-0.parquet`` (one hive-partitioned set per layer,
read across counties by :func:`pianqu.province.gather.read_results`).

``evaluate`` is :func:`pianqu.evaluation.evaluate` on the planned scenario (issue 15): the
indicator table of each county into the ``indicator`` result set.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from pianqu.errors import PianquError, UserValueError
from pianqu import evaluation

PARTITION_KEY = "county_code"
# the plan's scenario layers gathered into the province set
PLAN_RESULTS = ("zone", "zone_member", "conflict", "centre_score")
KILL_ENV = "PIANQU_PROVINCE_TEST_KILL"  # test hook: "<step>:<marker file>", see maybe_kill


@dataclass(frozen=True)
class StepContext:
    """What a step gets: the county, its workspace URL, the run's output folder and options."""

    code: str
    workspace: str
    out: str
    scenario: str = "plan"
    options: dict = field(default_factory=dict)


def result_path(out: str | Path, layer: str, code: str) -> Path:
    """Where one county's part of one province result layer is written."""
    return Path(out) / "results" / layer / f"{PARTITION_KEY}={code}" / "part-0.parquet"


def write_result(out: str | Path, layer: str, code: str, frame) -> None:
    """Write one county's part of a result layer atomically (GeoParquet, or Parquet for tables);
    the partition key is carried by the folder, as in ``synth --province``."""
    import geopandas as gpd

    path = result_path(out, layer, code)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame = frame.drop(columns=[PARTITION_KEY], errors="ignore")
    tmp = path.with_name(f".part-0.tmp-{os.getpid()}")
    if isinstance(frame, gpd.GeoDataFrame):
        frame.to_parquet(tmp, index=False)
    else:
        frame.to_parquet(tmp, index=False)
    os.replace(tmp, path)


def _open(ctx: StepContext):
    from pianqu.workspace import Workspace

    return Workspace.open(ctx.workspace)


def step_validate(ctx: StepContext) -> dict:
    """The data checks of ``pianqu validate``; the findings by severity (errors do not stop the
    later steps: ``pianqu plan`` runs on such data too and says what it derived)."""
    from pianqu.validate.qc import qc_report

    qc = qc_report(_open(ctx))
    counts: dict[str, int] = {"error": 0, "warning": 0, "info": 0}
    for f in qc.findings:
        counts[f.severity] = counts.get(f.severity, 0) + 1
    return {"findings": len(qc.findings), **{f"findings_{k}": v for k, v in counts.items()}}


def step_plan(ctx: StepContext) -> dict:
    """``pianqu plan`` into the scenario, then the scenario's zones, conflicts and centre
    scores (and the zone centres as points) into the province result set."""
    from pianqu.plan import plan

    ws = _open(ctx)
    res = plan(ws, ctx.scenario, **ctx.options.get("plan", {}))
    for layer in PLAN_RESULTS:
        if ws.has(layer, ctx.scenario):
            write_result(ctx.out, layer, ctx.code, ws.read(layer, ctx.scenario))
    write_result(ctx.out, "zone_centre", ctx.code, zone_centres(ws, ctx.scenario))
    z = res.zoning
    return {"zones": int(z.p), "status": str(z.status), "gap": float(z.gap or 0.0),
            "layers": len(res.layers)}


def zone_centres(ws, scenario: str):
    """One point per township-level zone: the seat of its central town (the town_seat settlement),
    else a point inside the town's polygon; EPSG:4490."""
    import geopandas as gpd

    zones = ws.read("zone", scenario)
    towns = ws.read("township").set_index("code")
    seats = ws.read("settlement") if ws.has("settlement") else None
    seat = {}
    if seats is not None and len(seats):
        s = seats[seats["level"].astype(str) == "town_seat"]
        seat = dict(zip(s["code"].astype(str), s.geometry))
    pts = []
    for c in zones["centre"].astype(str):
        pts.append(seat.get(c) if c in seat else towns.geometry.loc[c].representative_point())
    return gpd.GeoDataFrame({"zone": zones["zone"].astype(str).to_numpy(),
                             "centre": zones["centre"].astype(str).to_numpy(),
                             "centre_name": zones.get("centre_name", zones["centre"]).astype(str).to_numpy(),
                             "population": zones["population"].astype(float).to_numpy()},
                            geometry=pts, crs=zones.crs)


def step_evaluate(ctx: StepContext) -> dict:
    """The 体检评估 indicators of the plan scenario (issue 15's :mod:`pianqu.evaluation`), its
    table into the province result set as ``indicator``."""
    ws = _open(ctx)
    ev = evaluation.evaluate(ws, ctx.scenario)
    table = ev.table
    write_result(ctx.out, "indicator", ctx.code, table)
    return {"indicators": int(len(table))}


STEPS: dict[str, Callable[[StepContext], dict]] = {
    "validate": step_validate,
    "plan": step_plan,
    "evaluate": step_evaluate,
}


def check_steps(names: list[str]) -> list[str]:
    """The steps in registry order; refuses an unknown name."""
    bad = [n for n in names if n not in STEPS]
    if bad or not names:
        raise UserValueError("province.error.steps", steps=",".join(bad) or "-", allowed=",".join(STEPS))
    return [n for n in STEPS if n in names]


def maybe_kill(step: str) -> None:
    """Test hook: with ``PIANQU_PROVINCE_TEST_KILL=<step>:<marker>`` the first task of ``step``
    to get here kills its own worker process (SIGKILL) once, leaving the marker file, so the
    tests see a worker lost mid-run."""
    spec = os.environ.get(KILL_ENV, "")
    if not spec or ":" not in spec:
        return
    which, marker = spec.split(":", 1)
    if which != step:
        return
    try:
        fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return
    os.write(fd, json.dumps({"pid": os.getpid()}).encode())
    os.close(fd)
    import signal

    os.kill(os.getpid(), signal.SIGKILL)


__all__ = ["STEPS", "StepContext", "PianquError", "check_steps", "result_path", "write_result", "zone_centres"]
