"""`pianqu lines ...`: the ordered control-line workflow and conflict resolution on the command line.

Thin over :mod:`pianqu.land.workflow` and :mod:`pianqu.land.conflicts`: each command opens the
workspace, calls one library function and prints the result (zh by default, ``--lang en``).
A refusal (out-of-order finalisation, an unknown conflict or action) prints the reason and what
to do in the chosen language, and exits with code 1; the workspace is not changed. Bad input (no
workspace, no such scenario) exits with code 2.

Without ``--scenario`` every command works on the base workspace (the control-line check of new
data, before any plan); ``pianqu plan`` then starts its scenario from that work.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Iterator, Optional

import pandas as pd
import typer
from rich.console import Console

from pianqu.commands.common import Lang, err_console, resolve_lang, scenario_ok
from pianqu.errors import render, user_message
from pianqu.i18n import t

app = typer.Typer(help="三条控制线：依次确定、冲突处置 / control lines: ordered workflow and conflicts",
                  no_args_is_help=True, add_completion=False)
console = Console(highlight=False, soft_wrap=True)

Ws = Annotated[Path, typer.Argument(help="工作空间 .gpkg / workspace")]
Scenario = Annotated[Optional[str], typer.Option("--scenario", "-s",
                                                  help="方案（默认：基础数据，无需方案）/ scenario (default: the base workspace)")]
Reason = Annotated[str, typer.Option("--reason", help="原因（记入审计表）/ reason, kept in the audit table")]


def _say(message: str) -> None:
    console.print(message, markup=False)


def _refuse(message: str | BaseException, lang: str, action: str = "", code: int = 1) -> None:
    """Print ``message`` (a text or an error, said in ``lang``) as an error, then ``action``; exit."""
    if isinstance(message, BaseException):
        message = user_message(message, lang)
    err_console.print(t("cli.error", lang, message=message), style="bold red", markup=False)
    if action:
        err_console.print(action, markup=False)
    raise typer.Exit(code)


def _open(path: Path, scenario: str | None, lang: str):
    from pianqu.workspace import Workspace, WorkspaceError

    scenario_ok(scenario, lang)
    try:
        ws = Workspace.open(path)
    except WorkspaceError as exc:
        _refuse(exc, lang, code=2)
    if scenario is not None and scenario not in set(ws.scenarios()["name"]):
        _refuse(t("land.cli.no_scenario", lang, scenario=scenario, path=str(path)), lang,
                t("land.cli.no_scenario_do", lang), code=2)
    return ws


@contextmanager
def _unit(ws, command: str, scenario: str | None, lang: str, watch: tuple[str, ...] = ()) -> Iterator[object]:
    """One unit of work for a command (its writes commit together or not at all), watching the
    revisions of ``watch`` (of ``scenario`` and, for a scenario, of the base) so that a change
    someone else commits meanwhile refuses the write rather than being overwritten. A refusal
    of the workspace (stale, locked, read-only, disk full) exits with code 1, nothing changed."""
    from pianqu.workspace import WorkspaceError

    try:
        with ws.transaction(command=command) as tx:
            if watch:
                tx.watch(watch, scenario)
                if scenario is not None:
                    tx.watch(watch, None)
            yield tx
    except WorkspaceError as exc:
        _refuse(exc, lang)


def _where(scenario: str | None, lang: str) -> str:
    """Where the work is kept: "方案 plan" or "基础数据"."""
    return t("land.cli.where_scenario", lang, scenario=scenario) if scenario else t("land.cli.where_base", lang)


def _status_lines(status: pd.DataFrame, lang: str) -> list[str]:
    out = []
    for r in status.itertuples(index=False):
        line = t("land.cli.status_row", lang, seq=r.seq, line=t(f"land.line.{r.line}", lang),
                 status=t(f"land.status.{r.status}", lang))
        extra = " · ".join(str(x) for x in (r.changed, r.reason) if isinstance(x, str) and x)
        out.append(line + (f"  ({extra})" if extra else ""))
    return out


def _workflow_error(exc, lang: str) -> None:
    _refuse(exc, lang)  # the reason and what to do


@app.command("status")
def status(ws_path: Ws, scenario: Annotated[Optional[str], typer.Option(
               "--scenario", "-s", help="方案（默认：基础数据和全部方案）/ scenario (default: base and all)")] = None,
           lang: Lang = "") -> None:
    """各控制线的状态（基础数据与每个方案）/ each control line's state (base workspace and scenarios)."""
    from pianqu.land.workflow import read_status

    lang = resolve_lang(lang)
    ws = _open(ws_path, scenario, lang)
    names = [scenario] if scenario else [None, *ws.scenarios()["name"]]
    for name in names:
        _say(t("land.cli.scenario", lang, scenario=_where(name, lang)))
        for row in _status_lines(read_status(ws, name), lang):
            _say("  " + row)


@app.command("spaces")
def spaces(ws_path: Ws, scenario: Scenario = None, lang: Lang = "") -> None:
    """全县三区面积（无需片区）/ the three spaces of the whole county (no zones needed)."""
    from pianqu.land.common import LandInputError
    from pianqu.land.workflow import county_spaces

    lang = resolve_lang(lang)
    ws = _open(ws_path, scenario, lang)
    missing = [name for name in ("county", "landuse") if not ws.has(name)]
    if missing:
        _refuse(t("land.cli.spaces_missing", lang, layers=", ".join(missing), path=str(ws_path)), lang,
                t("land.cli.spaces_missing_do", lang), code=2)
    try:
        table = county_spaces(ws, scenario)
    except LandInputError as exc:
        _refuse(exc, lang, t("land.cli.spaces_missing_do", lang))
    _say(t("land.cli.spaces_title", lang, county=ws.meta.county_name, where=_where(scenario, lang)))
    for r in table.itertuples(index=False):
        _say("  " + t("land.cli.spaces_row", lang, space=t(f"land.space.{r.space}", lang), ha=float(r.area_ha),
                      mu=float(r.area_mu), share=100.0 * float(r.share)))
    for f in table.attrs.get("findings", []):
        _say("  " + f.message(lang))


@app.command("finalise")
def finalise(ws_path: Ws, line: Annotated[str, typer.Argument(help="farmland_pbf | eco_redline | urban_boundary")],
             scenario: Scenario = None, reason: Reason = "", lang: Lang = "") -> None:
    """确定一条控制线（须按顺序）/ finalise a line (refused out of order)."""
    from pianqu.land.workflow import WorkflowError, finalise_line

    lang = resolve_lang(lang)
    ws = _open(ws_path, scenario, lang)
    try:
        with _unit(ws, "lines finalise", scenario, lang):
            s = finalise_line(ws, scenario, line, reason, command="lines finalise")
    except WorkflowError as exc:
        _workflow_error(exc, lang)
    _say(t("land.cli.finalised", lang, line=t(f"land.line.{line}", lang), scenario=_where(scenario, lang)))
    for row in _status_lines(s, lang):
        _say("  " + row)


@app.command("reopen")
def reopen(ws_path: Ws, line: Annotated[str, typer.Argument(help="farmland_pbf | eco_redline | urban_boundary")],
           scenario: Scenario = None, reason: Reason = "", lang: Lang = "") -> None:
    """重新打开一条控制线，其后已确定的控制线标为待复核 / reopen a line; later final lines become stale."""
    from pianqu.land.workflow import WorkflowError, read_status, reopen_line

    lang = resolve_lang(lang)
    ws = _open(ws_path, scenario, lang)
    before = read_status(ws, scenario)
    try:
        with _unit(ws, "lines reopen", scenario, lang):
            s = reopen_line(ws, scenario, line, reason, command="lines reopen")
    except WorkflowError as exc:
        _workflow_error(exc, lang)
    stale = sorted(set(s.loc[s["status"] == "stale", "line"]) - set(before.loc[before["status"] == "stale", "line"]))
    _say(t("land.cli.reopened", lang, line=t(f"land.line.{line}", lang), scenario=_where(scenario, lang),
           stale=", ".join(t(f"land.line.{x}", lang) for x in stale) or t("land.cli.none", lang)))
    for row in _status_lines(s, lang):
        _say("  " + row)


def _conflicts(ws, scenario: str | None, lang: str, command: str = "lines conflicts"):
    from pianqu.land.common import LandInputError
    from pianqu.land.workflow import stored_conflicts

    try:
        return stored_conflicts(ws, scenario, command=command)
    except LandInputError as exc:  # lines the conflict check cannot use (no CRS, duplicate ids, ...)
        _refuse(exc, lang, code=2)


@app.command("conflicts")
def conflicts(ws_path: Ws, scenario: Scenario = None, lang: Lang = "") -> None:
    """列出控制线冲突图斑（无冲突表时先检测）/ list the conflict patches (detected if absent)."""
    lang = resolve_lang(lang)
    ws = _open(ws_path, scenario, lang)
    with _unit(ws, "lines conflicts", scenario, lang, ("conflict",)):
        c, fresh = _conflicts(ws, scenario, lang)
    if fresh:
        _say(t("land.cli.detected", lang, n=len(c), scenario=_where(scenario, lang)))
    if not len(c):
        _say(t("land.cli.no_conflicts", lang))
        return
    for r in c.sort_values("conflict_id").itertuples(index=False):
        _say(t("land.cli.conflict_row", lang, id=r.conflict_id, rule=r.rule, left=f"{r.left_layer}:{r.left_id}",
               right=f"{r.right_layer}:{r.right_id}", ha=float(r.area_ha), mu=float(r.area_mu),
               state=t(f"land.cli.state.{r.state}", lang), action=(r.action or "—") if isinstance(r.action, str) else "—"))


@app.command("decide")
def decide(ws_path: Ws, conflict_id: Annotated[str, typer.Argument(help="冲突编号 CF-…")],
           resolution: Annotated[str, typer.Argument(help="withdraw_left | withdraw_right | tolerate")],
           scenario: Scenario = None, reason: Reason = "", lang: Lang = "") -> None:
    """记录对一处冲突的处置决定 / record the decision on one conflict."""
    from pianqu.land.common import LandInputError
    from pianqu.land.conflicts import decide as decide_conflicts, write_conflicts

    lang = resolve_lang(lang)
    ws = _open(ws_path, scenario, lang)
    with _unit(ws, "lines decide", scenario, lang, ("conflict",)):
        c, _ = _conflicts(ws, scenario, lang, "lines decide")
        try:
            c = decide_conflicts(c, {conflict_id: (resolution, reason)})
        except LandInputError as exc:
            _refuse(t("land.cli.decide_refused", lang, id=conflict_id, reason=user_message(exc, lang)), lang,
                    t("land.cli.decide_do", lang))
        write_conflicts(ws, scenario, c, command="lines decide",
                        reason=f"{conflict_id}: {resolution}" + (f" ({reason})" if reason else ""))
    _say(t("land.cli.decided", lang, id=conflict_id, action=resolution, scenario=_where(scenario, lang)))


@app.command("apply")
def apply(ws_path: Ws, scenario: Scenario = None, reason: Reason = "", lang: Lang = "") -> None:
    """应用冲突规则与决定，得到清理后的控制线（记入审计表）/ apply the rules and decisions."""
    from pianqu.land.common import LandInputError
    from pianqu.land.conflicts import apply_conflicts, read_lines, write_resolution
    from pianqu.land.workflow import PLANNER_LAYERS

    lang = resolve_lang(lang)
    ws = _open(ws_path, scenario, lang)
    with _unit(ws, "lines apply", scenario, lang, PLANNER_LAYERS):
        c, _ = _conflicts(ws, scenario, lang, "lines apply")
        try:
            res = apply_conflicts(read_lines(ws, scenario), c, epsg=ws.meta.compute_epsg)
        except LandInputError as exc:
            _refuse(exc, lang, t("land.cli.apply_do", lang))
        s = write_resolution(ws, scenario, res, reason=reason, command="lines apply")
    _say(t("land.cli.applied", lang, resolved=res.summary.get("resolved", 0), open=res.summary.get("open", 0),
           what=render(res.describe(), lang)))
    for row in _status_lines(s, lang):
        _say("  " + row)
