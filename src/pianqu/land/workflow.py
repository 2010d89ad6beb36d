"""The three control lines are delineated in order (seed §二(一)): cultivated land and permanent
basic farmland, then the ecological protection red line, then the urban development boundary.

Each line has a status per scenario: ``draft``, ``final`` or ``stale``. A line can be finalised
only when every earlier line is final (and, when the scenario holds a conflict table, no open
conflict ties it to an earlier line); reopening a line puts it back to draft and marks every
later final line stale (it was delineated against an earlier line that may now change). The
status lives in the scenario table ``control_line_status`` (line, status, changed, reason); each
change is one atomic workspace write, so it is also in the audit table.

The pure functions (:func:`finalise`, :func:`reopen`, :func:`mark_changed`) work on the status
table; :func:`finalise_line` and :func:`reopen_line` read and write a workspace.
"""

from __future__ import annotations

import datetime as _dt
from typing import Iterable

import pandas as pd

from pianqu.i18n import t
from pianqu.land.common import CONTROL_LINES
from pianqu.workspace import Workspace

STATUS_TABLE = "control_line_status"
STATUSES = ("draft", "final", "stale")
COLUMNS = ["line", "seq", "status", "changed", "reason"]
# scenario layers that hold the planner's own work on the control lines (status, decisions,
# cleaned lines and their change log): re-running the plan keeps them
PLANNER_LAYERS = (STATUS_TABLE, "conflict", "control_line_change", *CONTROL_LINES, "reserve")


class WorkflowError(RuntimeError):
    """A status change the ordered workflow refuses; ``rule``/``params`` say why, for reports."""

    def __init__(self, rule: str, lang: str | None = None, **params: object):
        self.rule, self.params = rule, params
        super().__init__(t(f"{rule}.msg", lang, **params))


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).astimezone().isoformat(timespec="seconds")


def _line_name(line: str, lang: str | None) -> str:
    return t(f"land.line.{line}", lang)


def _check_line(line: str, lang: str | None) -> int:
    if line not in CONTROL_LINES:
        raise WorkflowError("land.workflow.unknown_line", lang, line=line, lines=", ".join(CONTROL_LINES))
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
        raise ValueError(f"{STATUS_TABLE}: unknown status {sorted(bad)}; expected one of {STATUSES}")
    s["seq"] = s["line"].map({line: k + 1 for k, line in enumerate(CONTROL_LINES)})
    return s.sort_values("seq").reset_index(drop=True)[COLUMNS]


def status_of(status: pd.DataFrame, line: str) -> str:
    return str(status.loc[status["line"] == line, "status"].iloc[0])


def finalise(status: pd.DataFrame, line: str, reason: str = "", *, open_conflicts: pd.DataFrame | None = None,
             lang: str | None = None, now: str | None = None) -> pd.DataFrame:
    """The status table with ``line`` final; raises :class:`WorkflowError` when out of order.

    ``open_conflicts``: conflicts still open (columns rule, left_layer, right_layer, conflict_id);
    those between ``line`` and an earlier line block it (the earlier line is settled, this one
    must be made consistent with it first).
    """
    k = _check_line(line, lang)
    s = _normal(status)
    for earlier in CONTROL_LINES[:k]:
        st = status_of(s, earlier)
        if st != "final":
            raise WorkflowError("land.workflow.out_of_order", lang, line=_line_name(line, lang),
                                earlier=_line_name(earlier, lang), status=t(f"land.status.{st}", lang))
    if open_conflicts is not None and len(open_conflicts):
        earlier = set(CONTROL_LINES[:k])
        pair = open_conflicts[
            ((open_conflicts["left_layer"] == line) & open_conflicts["right_layer"].isin(earlier))
            | ((open_conflicts["right_layer"] == line) & open_conflicts["left_layer"].isin(earlier))]
        if len(pair):
            raise WorkflowError("land.workflow.open_conflicts", lang, line=_line_name(line, lang), n=len(pair),
                                ids=", ".join(map(str, pair["conflict_id"].head(5))))
    if status_of(s, line) == "final":
        return s
    s.loc[s["line"] == line, ["status", "changed", "reason"]] = ["final", now or _now(), reason]
    return s


def reopen(status: pd.DataFrame, line: str, reason: str = "", *, lang: str | None = None,
           now: str | None = None) -> pd.DataFrame:
    """``line`` back to draft; every later final line becomes stale."""
    k = _check_line(line, lang)
    s = _normal(status)
    ts = now or _now()
    s.loc[s["line"] == line, ["status", "changed", "reason"]] = ["draft", ts, reason]
    for later in CONTROL_LINES[k + 1:]:
        if status_of(s, later) == "final":
            why = t("land.workflow.stale_reason", lang, line=_line_name(line, lang), reason=reason)
            s.loc[s["line"] == later, ["status", "changed", "reason"]] = ["stale", ts, why]
    return s


def mark_changed(status: pd.DataFrame, lines: Iterable[str], reason: str = "", *,
                 lang: str | None = None, now: str | None = None) -> pd.DataFrame:
    """Lines whose geometry changed go back to draft if they were final or stale (and later ones stale)."""
    s = _normal(status)
    for line in sorted(set(lines) & set(CONTROL_LINES), key=CONTROL_LINES.index):  # e.g. 'reserve' has no status
        if status_of(s, line) != "draft":
            s = reopen(s, line, reason, lang=lang, now=now)
    return s


# -- workspace ---------------------------------------------------------------------------------
def read_status(ws: Workspace, scenario: str) -> pd.DataFrame:
    """The scenario's status table (all draft if it has none yet)."""
    if ws.has(STATUS_TABLE, scenario):
        return _normal(pd.DataFrame(ws.read(STATUS_TABLE, scenario)))
    return initial_status()


def _open_conflicts(ws: Workspace, scenario: str) -> pd.DataFrame | None:
    if not ws.has("conflict", scenario):
        return None
    c = pd.DataFrame(ws.read("conflict", scenario))
    return c[c["state"] == "open"] if "state" in c.columns else None


def finalise_line(ws: Workspace, scenario: str, line: str, reason: str = "", *,
                  lang: str | None = None, command: str = "land finalise") -> pd.DataFrame:
    """Finalise ``line`` in ``scenario`` (refused with the reason when out of order)."""
    before = read_status(ws, scenario)
    after = finalise(before, line, reason, open_conflicts=_open_conflicts(ws, scenario), lang=lang)
    if not after.equals(before):
        ws.write({STATUS_TABLE: after}, scenario=scenario, command=command,
                 reason=f"finalise {line}: {reason}".rstrip(": "))
    return after


def reopen_line(ws: Workspace, scenario: str, line: str, reason: str = "", *,
                lang: str | None = None, command: str = "land reopen") -> pd.DataFrame:
    """Reopen ``line`` in ``scenario``; later final lines become stale."""
    after = reopen(read_status(ws, scenario), line, reason, lang=lang)
    ws.write({STATUS_TABLE: after}, scenario=scenario, command=command,
             reason=f"reopen {line}: {reason}".rstrip(": "))
    return after


def planner_layers(ws: Workspace, scenario: str) -> dict[str, pd.DataFrame]:
    """The planner's control-line work stored in ``scenario`` (see ``PLANNER_LAYERS``), read
    before the scenario is replaced so that it can be written back."""
    if scenario not in set(ws.scenarios()["name"]):
        return {}
    return {name: ws.read(name, scenario) for name in PLANNER_LAYERS if ws.has(name, scenario)}
