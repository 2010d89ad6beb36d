"""The three control lines are delineated in order (seed §二(一)): cultivated land and permanent
basic farmland, then the ecological protection red line, then the urban development boundary.

Each line has a status per scenario: ``draft``, ``final`` or ``stale``. A line can be finalised
only when every earlier line is final (and, when the scenario holds a conflict table, no open
conflict ties it to an earlier line); reopening a line puts it back to draft and marks every
later final line stale (it was delineated against an earlier line that may now change). The
status lives in the scenario table ``control_line_status`` (line, status, changed, reason); each
change is one atomic workspace write, so it is also in the audit table.

``scenario=None`` is the base workspace: the control-line check a planner runs on new data,
before any plan. Its status, conflict decisions and cleaned lines are base tables (the cleaned
lines replace the base lines; the change log and the audit table say what was cut). A scenario
without a status table of its own reads the base one, and ``pianqu plan`` starts a scenario from
the base work (:func:`planner_layers`); inside a scenario its own decisions win.

The pure functions (:func:`finalise`, :func:`reopen`, :func:`mark_changed`) work on the status
table; :func:`finalise_line` and :func:`reopen_line` read and write a workspace.
"""

from __future__ import annotations

import datetime as _dt
from typing import Iterable

import pandas as pd

from pianqu.errors import PianquError, Phrase, UserValueError
from pianqu.land.common import CONTROL_LINES
from pianqu.schema import WORK_LAYERS
from pianqu.workspace import Transaction, Workspace, scenario_layer
from pianqu.parcels import read_landuse

STATUS_TABLE = "control_line_status"
STATUSES = ("draft", "final", "stale")
COLUMNS = ["line", "seq", "status", "changed", "reason"]
# scenario layers that hold the planner's own work on the control lines (status, decisions,
# cleaned lines and their change log): re-running the plan keeps them
PLANNER_LAYERS = (STATUS_TABLE, "conflict", "control_line_change", *CONTROL_LINES, "reserve")
# the same work done on the base workspace (no scenario): tables a new scenario starts from (the
# cleaned lines are the base lines themselves, which a scenario falls back to)
BASE_WORK_LAYERS = WORK_LAYERS


class WorkflowError(PianquError, RuntimeError):
    """A status change the ordered workflow refuses; ``rule``/``params`` say why (and what to do),
    in the user's language (see :class:`pianqu.errors.PianquError`)."""


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).astimezone().isoformat(timespec="seconds")


def _line_name(line: str) -> Phrase:
    """A control line's name, said in the reader's language when the message is."""
    return Phrase(f"land.line.{line}")


def _check_line(line: str) -> int:
    if line not in CONTROL_LINES:
        raise WorkflowError("land.workflow.unknown_line", line=line, lines=", ".join(CONTROL_LINES))
    return CONTROL_LINES.index(line)


def initial_status() -> pd.DataFrame:
    """Every line in draft, in the order of delineation."""
    return pd.DataFrame({"line": list(CONTROL_LINES), "seq": range(1, len(CONTROL_LINES) + 1),
                         "status": "draft", "changed": "", "reason": ""})[COLUMNS]


def _normal(status: pd.DataFrame) -> pd.DataFrame:
    s = status.copy()
    known = set(s["line"])
    missing = [line for line in CONTROL_LINES if line not in known]
    if missing:
        s = pd.concat([s, initial_status().query("line in @missing")], ignore_index=True)
    bad = set(s["status"]) - set(STATUSES)
    if bad:
        raise UserValueError("land.workflow.bad_status", table=STATUS_TABLE, statuses=", ".join(sorted(map(str, bad))),
                             expected=", ".join(f"`{x}`" for x in STATUSES))
    s["seq"] = s["line"].map({line: k + 1 for k, line in enumerate(CONTROL_LINES)})
    return s.sort_values("seq").reset_index(drop=True)[COLUMNS]


def status_of(status: pd.DataFrame, line: str) -> str:
    return str(status.loc[status["line"] == line, "status"].iloc[0])


def finalise(status: pd.DataFrame, line: str, reason: str = "", *, open_conflicts: pd.DataFrame | None = None,
             now: str | None = None) -> pd.DataFrame:
    """The status table with ``line`` final; raises :class:`WorkflowError` when out of order.

    ``open_conflicts``: conflicts still open (columns rule, left_layer, right_layer, conflict_id);
    those between ``line`` and an earlier line block it (the earlier line is settled, this one
    must be made consistent with it first).
    """
    k = _check_line(line)
    s = _normal(status)
    for earlier in CONTROL_LINES[:k]:
        st = status_of(s, earlier)
        if st != "final":
            raise WorkflowError("land.workflow.out_of_order", line=_line_name(line),
                                earlier=_line_name(earlier), status=Phrase(f"land.status.{st}"))
    if open_conflicts is not None and len(open_conflicts):
        earlier = set(CONTROL_LINES[:k])
        pair = open_conflicts[
            ((open_conflicts["left_layer"] == line) & open_conflicts["right_layer"].isin(earlier))
            | ((open_conflicts["right_layer"] == line) & open_conflicts["left_layer"].isin(earlier))]
        if len(pair):
            raise WorkflowError("land.workflow.open_conflicts", line=_line_name(line), n=len(pair),
                                ids=", ".join(map(str, pair["conflict_id"].head(5))))
    if status_of(s, line) == "final":
        return s
    s.loc[s["line"] == line, ["status", "changed", "reason"]] = ["final", now or _now(), reason]
    return s


def reopen(status: pd.DataFrame, line: str, reason: str = "", *,
           now: str | None = None) -> pd.DataFrame:
    """``line`` back to draft; every later final line becomes stale."""
    k = _check_line(line)
    s = _normal(status)
    ts = now or _now()
    s.loc[s["line"] == line, ["status", "changed", "reason"]] = ["draft", ts, reason]
    for later in CONTROL_LINES[k + 1:]:
        if status_of(s, later) == "final":
            # a text of the status table (like the audit log's reasons), in the session's language
            why = Phrase("land.workflow.stale_reason", line=_line_name(line), reason=reason).message()
            s.loc[s["line"] == later, ["status", "changed", "reason"]] = ["stale", ts, why]
    return s


def mark_changed(status: pd.DataFrame, lines: Iterable[str], reason: str = "", *,
                 now: str | None = None) -> pd.DataFrame:
    """Lines whose geometry changed go back to draft if they were final or stale (and later ones stale)."""
    s = _normal(status)
    for line in sorted(set(lines) & set(CONTROL_LINES), key=CONTROL_LINES.index):  # e.g. 'reserve' has no status
        if status_of(s, line) != "draft":
            s = reopen(s, line, reason, now=now)
    return s


# -- workspace ---------------------------------------------------------------------------------
def read_status(ws: Workspace, scenario: str | None) -> pd.DataFrame:
    """The scenario's status table; without one, the base workspace's; else all draft.
    ``scenario=None``: the base workspace's own."""
    for where in ((scenario, None) if scenario is not None else (None,)):
        if ws.has(STATUS_TABLE, where):
            return _normal(pd.DataFrame(ws.read(STATUS_TABLE, where)))
    return initial_status()


def _open_conflicts(ws: Workspace, scenario: str | None) -> pd.DataFrame | None:
    if not ws.has("conflict", scenario):
        return None
    c = pd.DataFrame(ws.read("conflict", scenario))
    return c[c["state"] == "open"] if "state" in c.columns else None


def finalise_line(ws: Workspace, scenario: str | None, line: str, reason: str = "", *,
                  command: str = "land finalise") -> pd.DataFrame:
    """Finalise ``line`` in ``scenario`` (None: the base workspace; refused with the reason when
    out of order). Refused too (StaleRevisionError) when the status or the conflicts change
    between reading them and writing."""
    with ws.transaction(command=command, reason=reason) as tx:
        tx.watch([STATUS_TABLE, "conflict"], scenario)
        if scenario is not None:  # a scenario without its own status reads the base one
            tx.watch([STATUS_TABLE], None)
        before = read_status(ws, scenario)
        after = finalise(before, line, reason, open_conflicts=_open_conflicts(ws, scenario))
        if not after.equals(before):
            ws.write({STATUS_TABLE: after}, scenario=scenario, command=command,
                     reason=f"finalise {line}: {reason}".rstrip(": "))
    return after


def reopen_line(ws: Workspace, scenario: str | None, line: str, reason: str = "", *,
                command: str = "land reopen") -> pd.DataFrame:
    """Reopen ``line`` in ``scenario``; later final lines become stale."""
    with ws.transaction(command=command, reason=reason) as tx:
        tx.watch([STATUS_TABLE], scenario)
        if scenario is not None:
            tx.watch([STATUS_TABLE], None)
        after = reopen(read_status(ws, scenario), line, reason)
        ws.write({STATUS_TABLE: after}, scenario=scenario, command=command,
                 reason=f"reopen {line}: {reason}".rstrip(": "))
    return after


def planner_layers(ws: Workspace, scenario: str) -> dict[str, pd.DataFrame]:
    """The planner's control-line work for ``scenario`` (see ``PLANNER_LAYERS``), read before the
    scenario is replaced so that it can be written back.

    The work done on the base workspace (``BASE_WORK_LAYERS``) is the starting point: a new
    scenario gets it whole; an existing one keeps its own tables, and its conflict table takes
    the base decisions only on the conflicts the scenario has not decided itself."""
    base = {name: ws.read(name) for name in BASE_WORK_LAYERS if ws.has(name)}
    own = {}
    if scenario in set(ws.scenarios()["name"]):
        own = {name: ws.read(name, scenario) for name in PLANNER_LAYERS if ws.has(name, scenario)}
    out = {**base, **own}
    if "conflict" in base and "conflict" in own:
        out["conflict"] = merge_decisions(own["conflict"], base["conflict"])
    return out


def planner_tables(scenario: str) -> list[str]:
    """The tables (physical names) holding the planner's own work that ``plan`` starts
    ``scenario`` from: the scenario's ``PLANNER_LAYERS`` and the base work layers."""
    return [scenario_layer(name, scenario) for name in PLANNER_LAYERS] + list(BASE_WORK_LAYERS)


def keep_planner_changes(tx: Transaction, scenario: str, changed: dict[str, tuple[int, int]]) -> None:
    """At the commit of ``plan`` (a :meth:`pianqu.workspace.Transaction.on_stale` hook): the
    planner's work committed while the plan ran is kept, never overwritten. A decision on a
    conflict made meanwhile (``lines decide``) goes onto the plan's new conflict table (by
    conflict id, as a re-plan carries decisions); a status, cleaned lines or change log changed
    meanwhile replace what the plan read at its start; a base table changed meanwhile brings
    its new decisions to the scenario's conflicts where the scenario has none of its own.
    Tables settled here no longer refuse the commit."""
    from pianqu.land.conflicts import _carry

    ws = tx.ws
    own = {scenario_layer(name, scenario): name for name in PLANNER_LAYERS}
    committed = set(ws.backend.list_tables())
    for table, (expected, current) in changed.items():
        if table in own:
            name, newer = own[table], True
        elif table in BASE_WORK_LAYERS:  # the base wins where the scenario had none of its own
            name = table
            newer = tx.expect.get(scenario_layer(name, scenario), 0) == 0
        else:
            continue
        if table not in committed:
            continue  # dropped meanwhile: left to refuse the commit
        fresh = ws.backend.read(table)
        why = f"kept: {table} changed while the plan ran (r{expected}→r{current})"
        if name == "conflict" and ws.has("conflict", scenario):
            pending = ws.read("conflict", scenario)
            if newer:  # the plan's new patches with the decisions made meanwhile
                merged = _carry(pending.copy(), pd.DataFrame(fresh))
                extra = fresh[_decided(fresh) & ~fresh["conflict_id"].isin(set(merged["conflict_id"]))]
                if len(extra):
                    merged = pd.concat([merged, extra[[c for c in merged.columns if c in extra.columns]]],
                                       ignore_index=True)
            else:
                merged = merge_decisions(pending, pd.DataFrame(fresh))
            ws.write({"conflict": merged}, scenario=scenario, command=tx.command, reason=why)
        elif newer:
            ws.write({name: fresh}, scenario=scenario, command=tx.command, reason=why)
        tx.settle(table, current)


def _decided(c: pd.DataFrame) -> pd.Series:
    """Rows carrying a planner's decision: an action on a conflict that needs one, or a reason."""
    action = c["action"].fillna("").astype(str) if "action" in c.columns else pd.Series("", index=c.index)
    reason = (c["decision_reason"].fillna("").astype(str) if "decision_reason" in c.columns
              else pd.Series("", index=c.index))
    need = c["resolution"].astype(str) == "decide" if "resolution" in c.columns else pd.Series(True, index=c.index)
    return (action != "") & (need | (reason != ""))


def merge_decisions(own: pd.DataFrame, base: pd.DataFrame) -> pd.DataFrame:
    """``own``'s conflict table with the decisions of ``base`` on the conflicts ``own`` has not
    decided (by conflict id); decided base conflicts ``own`` lacks are appended, so that they
    carry over when the patch is detected again. ``own``'s decisions win."""
    out = own.copy()
    b = base[_decided(base)].drop_duplicates("conflict_id").set_index("conflict_id")
    if not len(b):
        return out
    free = ~_decided(out) & out["conflict_id"].isin(b.index)
    ids = out.loc[free, "conflict_id"]
    out.loc[free, "action"] = ids.map(b["action"]).to_numpy()
    out.loc[free, "decision_reason"] = ids.map(b["decision_reason"]).fillna("").to_numpy()
    extra = base[_decided(base) & ~base["conflict_id"].isin(set(out["conflict_id"]))]
    if len(extra):
        out = pd.concat([out, extra[[c for c in out.columns if c in extra.columns]]], ignore_index=True)
        if hasattr(own, "crs"):
            import geopandas as gpd

            out = gpd.GeoDataFrame(out, geometry=own.geometry.name, crs=own.crs)
    return out


def stored_conflicts(ws: Workspace, scenario: str | None, *, command: str = "lines conflicts"):
    """The conflict table of ``scenario`` (None: the base workspace) and whether it was detected
    now: a stored table is returned as it is; without one the conflicts are detected on the
    scenario's lines (falling back to the base lines), the base decisions carried over, and
    stored."""
    from pianqu.land.conflicts import detect_conflicts, read_lines, write_conflicts

    if ws.has("conflict", scenario):
        return ws.read("conflict", scenario), False
    previous = ws.read("conflict") if scenario is not None and ws.has("conflict") else None
    c = detect_conflicts(read_lines(ws, scenario), epsg=ws.meta.compute_epsg, cfg=ws.config(), previous=previous)
    write_conflicts(ws, scenario, c, command=command)
    return c, True


def county_spaces(ws: Workspace, scenario: str | None = None, *, cfg=None) -> pd.DataFrame:
    """The three spaces of the whole county (no zones needed): one row per space with m², ha
    and 亩 and its share of the county, from the base parcels and the control lines of
    ``scenario`` (None: the base lines). The county polygon is the one zone."""
    from pianqu.land.common import area_columns
    from pianqu.land.conflicts import read_lines
    from pianqu.land.spaces import three_spaces

    epsg = ws.meta.compute_epsg
    county = ws.read("county")
    zone = county[["geometry"]].assign(zone=ws.meta.county_code)
    lu = read_landuse(ws, ["bsm", "code"])
    res = three_spaces(lu, read_lines(ws, scenario), zone, epsg=epsg, cfg=cfg if cfg is not None else ws.config())
    row = res.table.iloc[0]
    spaces = [c[:-3] for c in res.table.columns if c.endswith("_m2")
              and c not in ("total_m2", "zone_area_m2", "difference_m2")]
    m2 = [float(row[f"{s}_m2"]) for s in spaces]
    total = float(row["total_m2"])
    out = pd.DataFrame({"space": spaces, **area_columns(m2)})
    out["share"] = out["area_m2"] / total if total > 0 else float("nan")
    out.attrs["findings"] = res.findings
    return out
