"""`pianqu province run`: every county's steps as ``dask.distributed`` tasks, resumable.

One task per county per step, chained per county (a county's plan waits for its validate, not
for other counties). By default a ``LocalCluster`` of ``workers`` processes with one thread each
and a memory limit per worker; ``scheduler="tcp://…"`` submits the very same tasks to an existing
cluster; ``workers=0`` runs the same step functions one after another in this process (the
sequential reference the tests and the benchmark compare against).

Worker processes are started with ``spawn`` (``distributed.worker.multiprocessing-method``, set
explicitly): the contraction hierarchy's numba kernels run on Python threads, and a forked child
of a process that has started threads may hang, so no worker is ever forked from a process that
has loaded them.

The manifest ``<out>/manifest.parquet`` has one row per county × step: the input hash, the
status (``done``, ``failed``, ``blocked`` when an earlier step of the county failed,
``skipped`` when done earlier at the same hash), timings, the worker, its peak memory, the
summary and the error (zh and en). It is rewritten after every finished task, so a run stopped
at any point resumes where it stopped.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import resource
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from pianqu._version import __version__
from pianqu.errors import PianquError, UserValueError, user_message
from pianqu.i18n import t
from pianqu.progress import task as progress_task
from pianqu.province.source import Source
from pianqu.province.steps import STEPS, StepContext, check_steps, maybe_kill

MANIFEST = "manifest.parquet"
COLUMNS = ["county", "step", "input_hash", "status", "seconds", "started", "finished", "worker", "pid",
           "peak_rss_mb", "attempt_pid", "summary", "error_zh", "error_en"]


@dataclass
class RunResult:
    """What a province run did: the manifest rows of this run's counties and steps, and where
    the outputs are."""

    out: Path
    manifest: pd.DataFrame
    seconds: float
    workers: int
    scheduler: str
    outputs: dict[str, Path] = field(default_factory=dict)

    def rows(self, status: str) -> pd.DataFrame:
        return self.manifest[self.manifest["status"] == status]

    @property
    def failed(self) -> pd.DataFrame:
        return self.manifest[self.manifest["status"].isin(["failed", "blocked"])]


def read_manifest(out: str | Path) -> pd.DataFrame:
    """The manifest of a run folder (empty when there is none yet)."""
    path = Path(out) / MANIFEST
    if not path.exists():
        return pd.DataFrame(columns=COLUMNS)
    return pd.read_parquet(path)


def _write_manifest(out: Path, frame: pd.DataFrame) -> None:
    tmp = out / f".{MANIFEST}.tmp-{os.getpid()}"
    frame = frame[COLUMNS].sort_values(["county", "step"], kind="stable").reset_index(drop=True)
    frame.to_parquet(tmp, index=False)
    os.replace(tmp, out / MANIFEST)


def step_hash(input_hash: str, steps: list[str], step: str, options: dict) -> str:
    """The hash a step is done at: the county's input, the pianqu version, the steps up to and
    including this one, and the options (scenario, plan options)."""
    upto = steps[: steps.index(step) + 1]
    text = json.dumps([__version__, input_hash, upto, options], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _peak_rss_mb() -> float:
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(kb / 1024.0 if sys.platform != "darwin" else kb / 1024.0 / 1024.0, 1)


def _on_worker() -> str:
    try:
        from distributed import get_worker

        return str(get_worker().address)
    except (ImportError, ValueError):
        return ""


def run_task(source: Source, out: str, code: str, step: str, steps: list[str], input_hash: str,
             options: dict, previous: dict | None = None) -> dict:
    """One step on one county (what a dask task runs): materialise the workspace if needed, run
    the step, and return its manifest row. A user error (PianquError, OSError) is the row's
    error; anything else propagates so dask retries the task and then reports it."""
    started = _dt.datetime.now().astimezone().isoformat(timespec="seconds")
    t0 = time.perf_counter()
    worker = _on_worker()
    row = {"county": code, "step": step, "input_hash": step_hash(input_hash, steps, step, options),
           "started": started, "worker": worker, "pid": os.getpid(), "attempt_pid": os.getpid(),
           "summary": "{}", "error_zh": "", "error_en": ""}
    if previous is not None and previous["status"] not in ("done", "skipped"):
        before = t("province.blocked", "zh", step=previous["step"]), t("province.blocked", "en", step=previous["step"])
        return {**row, "status": "blocked", "seconds": 0.0, "finished": started, "peak_rss_mb": _peak_rss_mb(),
                "error_zh": before[0], "error_en": before[1]}
    if worker:
        maybe_kill(step)
    try:
        ws = source.materialise(code, out, input_hash)
        summary = STEPS[step](StepContext(code, ws, str(out), options.get("scenario", "plan"), options))
        status, err = "done", None
    except (PianquError, OSError) as exc:
        status, err, summary = "failed", exc, {}
    row.update({"status": status, "seconds": round(time.perf_counter() - t0, 3),
                "finished": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
                "peak_rss_mb": _peak_rss_mb(), "summary": json.dumps(summary, ensure_ascii=False, default=str)})
    if err is not None:
        row["error_zh"], row["error_en"] = user_message(err, "zh"), user_message(err, "en")
    return row


def _crash_row(code: str, step: str, h: str, exc: BaseException) -> dict:
    """The row of a task that raised something unexpected (after dask's retries) or whose
    workers kept dying (KilledWorker)."""
    now = _dt.datetime.now().astimezone().isoformat(timespec="seconds")
    detail = f"{type(exc).__name__}: {exc}"
    return {"county": code, "step": step, "input_hash": h, "status": "failed", "seconds": 0.0, "started": now,
            "finished": now, "worker": "", "pid": 0, "attempt_pid": 0, "peak_rss_mb": 0.0, "summary": "{}",
            "error_zh": t("province.crashed", "zh", detail=detail), "error_en": t("province.crashed", "en", detail=detail)}


def _cluster(scheduler: str | None, workers: int, memory_limit: str | None):
    """A client: on ``scheduler`` when given, else on a new LocalCluster (spawned processes,
    one thread each, ``memory_limit`` per worker)."""
    import dask
    from distributed import Client, LocalCluster

    dask.config.set({"distributed.worker.multiprocessing-method": "spawn",
                     "distributed.scheduler.allowed-failures": 3})
    if scheduler:
        return Client(scheduler), None
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                           memory_limit=memory_limit or "auto", dashboard_address=None,
                           silence_logs=40)
    return Client(cluster), cluster


def run(source: str | Path, steps: list[str], *, out: str | Path, counties: list[str] | None = None,
        scheduler: str | None = None, workers: int = 2, memory_limit: str | None = "4GB",
        force: bool = False, retries: int | None = None, scenario: str = "plan",
        plan_options: dict | None = None, gather: bool = True, lang: str | None = None) -> RunResult:
    """Run ``steps`` on every county of ``source`` (or ``counties``) into ``out``.

    ``workers=0`` (and no scheduler) runs in this process, one county after another. Counties
    whose step is done at the same input hash are skipped unless ``force``. Each county's
    failure is its manifest row; the other counties go on. With ``gather`` the province results
    are assembled at the end (:func:`pianqu.province.gather.assemble`).
    """
    from pianqu.config import load_config

    steps = check_steps(list(steps))
    src = Source.open(source)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    known = src.counties()
    if counties:
        codes = list(dict.fromkeys(str(c).strip() for c in counties))
        missing = [c for c in codes if c not in known]
        if missing:
            raise UserValueError("province.error.counties", codes=",".join(missing), source=str(source))
    else:
        codes = known
    cfg = load_config()
    retries = int(cfg["province.task_retries"]) if retries is None else int(retries)
    options = {"scenario": scenario, "plan": dict(plan_options or {})}
    t0 = time.perf_counter()
    manifest = read_manifest(out)
    done = {(r.county, r.step): r.input_hash for r in manifest.itertuples() if r.status in ("done", "skipped")}
    rows = {(r["county"], r["step"]): r for r in manifest.to_dict("records")}

    client = cluster = None
    if workers > 0 or scheduler:
        client, cluster = _cluster(scheduler, workers, memory_limit)
    try:
        hashes = _hashes(src, codes, client)
        plan_ = []  # (code, step, hash, skip?)
        for code in codes:
            h = hashes[code]
            if isinstance(h, BaseException):
                rows[(code, steps[0])] = _crash_row(code, steps[0], "", h) | {
                    "error_zh": user_message(h, "zh"), "error_en": user_message(h, "en")}
                for s in steps[1:]:
                    rows[(code, s)] = _crash_row(code, s, "", h) | {
                        "status": "blocked", "error_zh": t("province.blocked", "zh", step=steps[0]),
                        "error_en": t("province.blocked", "en", step=steps[0])}
                continue
            for s in steps:
                sh = step_hash(h, steps, s, options)
                plan_.append((code, s, h, (not force) and done.get((code, s)) == sh))
        total = sum(1 for p in plan_ if not p[3])
        with progress_task(t("province.progress", lang, n=len(codes), tasks=total), total=max(total, 1)) as advance:
            if client is None:
                _run_here(src, out, steps, options, plan_, rows, advance)
            else:
                _run_dask(client, src, out, steps, options, plan_, rows, retries, advance)
        n_workers = len(client.scheduler_info()["workers"]) if client is not None else 0
    finally:
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()
    frame = pd.DataFrame([rows[k] for k in rows], columns=COLUMNS)
    _write_manifest(out, frame)
    this = frame[frame["county"].isin(codes) & frame["step"].isin(steps)].sort_values(["county", "step"])
    result = RunResult(out, this.reset_index(drop=True), time.perf_counter() - t0, n_workers,
                       scheduler or ("local" if workers > 0 else "sequential"))
    if gather:
        from pianqu.province.gather import assemble

        result.outputs = assemble(out, src, counties=codes, lang=lang)
    return result


def _hash_or_error(src: Source, code: str):
    try:
        return src.input_hash(code)
    except (PianquError, OSError) as exc:
        return exc


def _hashes(src: Source, codes: list[str], client) -> dict:
    if client is None:
        return {c: _hash_or_error(src, c) for c in codes}
    futures = client.map(_hash_or_error, [src] * len(codes), codes, key=[f"hash-{c}" for c in codes], pure=False)
    return dict(zip(codes, client.gather(futures)))


def _skipped(row: dict) -> dict:
    return {**row, "status": "skipped"} if row.get("status") == "done" else row


def _run_here(src, out, steps, options, plan_, rows, advance) -> None:
    prev: dict[str, dict | None] = {}
    for code, step, h, skip in plan_:
        if skip:
            rows[(code, step)] = _skipped(rows[(code, step)])
            prev[code] = rows[(code, step)]
            continue
        try:
            row = run_task(src, str(out), code, step, steps, h, options, prev.get(code))
        except Exception as exc:  # noqa: BLE001 - as on dask after its retries: this county's failure
            row = _crash_row(code, step, step_hash(h, steps, step, options), exc)
        rows[(code, step)] = row
        prev[code] = row
        _write_manifest(out, pd.DataFrame(list(rows.values()), columns=COLUMNS))
        advance()


def _run_dask(client, src, out, steps, options, plan_, rows, retries, advance) -> None:
    from distributed import as_completed

    futures = {}
    prev: dict[str, object] = {}
    for code, step, h, skip in plan_:
        if skip:
            rows[(code, step)] = _skipped(rows[(code, step)])
            prev[code] = None
            continue
        fut = client.submit(run_task, src, str(out), code, step, steps, h, options, prev.get(code),
                            key=f"{step}-{code}-{h[:12]}", retries=retries, pure=False)
        futures[fut] = (code, step, h, prev.get(code))
        prev[code] = fut
    for fut in as_completed(list(futures)):
        code, step, h, before = futures[fut]
        try:
            row = fut.result()
        except Exception as exc:  # noqa: BLE001 - a crash (after retries) is this county's failure
            row = _crash_row(code, step, step_hash(h, steps, step, options), exc)
            if before is not None and before.status == "error":  # its county's earlier step crashed
                earlier = futures[before][1]
                row.update(status="blocked", error_zh=t("province.blocked", "zh", step=earlier),
                           error_en=t("province.blocked", "en", step=earlier))
            elif os.environ.get("PIANQU_DEBUG"):
                traceback.print_exception(exc, file=sys.stderr)
        rows[(code, step)] = row
        _write_manifest(Path(out), pd.DataFrame(list(rows.values()), columns=COLUMNS))
        advance()
