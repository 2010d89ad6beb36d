"""Plan versions and 动态调整: two versions of a plan compared — zones, members, control lines,
indicators — with the reasons recorded for each change.

A version is a scenario (``plan``, ``plan-2024调整`` …; :func:`save_version` keeps the approved
plan as its own scenario before it is adjusted), or a range of revisions of one scenario written
``NAME@REV`` (``plan@3``). A workspace keeps the current content of each table and the audit
trail of every write (command, user, time, reason), not the content of earlier revisions: two
revisions of one scenario are compared through that trail — which layers changed, by which
command, and why — and two scenarios by their content as well.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd

from pianqu.config import Config
from pianqu.evaluation.engine import evaluate
from pianqu.findings import Finding
from pianqu.geo import STORAGE_EPSG, ellipsoidal_area
from pianqu.workspace import Workspace

LINES = ("farmland_pbf", "eco_redline", "urban_boundary")
M2_PER_HA = 10_000.0


@dataclass
class VersionComparison:
    """What changed from version ``a`` to ``b``: one table per aspect (``to_frames``)."""

    a: str
    b: str
    zones: pd.DataFrame
    members: pd.DataFrame
    lines: pd.DataFrame
    indicators: pd.DataFrame
    decisions: pd.DataFrame
    changes: pd.DataFrame
    findings: list[Finding] = field(default_factory=list)

    def to_frames(self) -> dict[str, pd.DataFrame]:
        return {"zones": self.zones, "members": self.members, "lines": self.lines, "indicators": self.indicators,
                "decisions": self.decisions, "changes": self.changes}


def save_version(ws: Workspace, scenario: str, name: str, *, reason: str = "") -> None:
    """Copy every layer of ``scenario`` into a new scenario ``name`` (a kept version, e.g. the
    approved plan before 动态调整), in one unit of work recorded with ``reason``."""
    layers = ws.read_many(None, scenario)
    with ws.transaction(command="version", reason=reason or f"version of {scenario}"):
        ws.create_scenario(name, title=name, description=reason or f"version of {scenario}", command="version")
        ws.write(layers, command="version", scenario=name, reason=reason or f"version of {scenario}")


def _parse(spec: str) -> tuple[str, int | None]:
    name, _, rev = str(spec).partition("@")
    return name, (int(rev) if rev else None)


def compare_versions(ws: Workspace, a: str, b: str, *, config: Config | None = None,
                     indicators: bool = True) -> VersionComparison:
    """Compare two versions of a plan (two scenarios, or ``NAME@REV`` revisions of one).

    Parameters
    ----------
    ws : pianqu.workspace.Workspace
        The county workspace.
    a, b : str
        The versions: scenario names, or ``NAME@REV`` (the scenario as written up to revision
        ``REV`` of its layers; without ``@`` the current content).
    config : pianqu.config.Config, optional
        Thresholds in force for the indicators; default the workspace's own.
    indicators : bool, default True
        Also evaluate both versions (:func:`pianqu.evaluate`) and set their indicators side by side.

    Returns
    -------
    VersionComparison
        ``zones`` (added, removed, centre or members changed), ``members`` (townships that moved),
        ``lines`` (control-line areas, added and removed ha), ``indicators`` (values and lights of
        both), ``decisions`` (control-line conflict decisions that differ, with their reasons) and
        ``changes`` (the audit trail of the writes between them: command, user, time, reason).

    Examples
    --------
    >>> cmp = pianqu.compare_versions(ws, "方案一", "plan")                   # doctest: +SKIP
    >>> cmp.members                                                          # doctest: +SKIP
    """
    (sa, ra), (sb, rb) = _parse(a), _parse(b)
    changes = _changes(ws, sa, ra, sb, rb)
    findings: list[Finding] = []
    if sa == sb:
        # one scenario at two revisions: only the trail is kept, not earlier content
        findings.append(Finding("info", "evaluation.versions.same_scenario", "", sa, "",
                                {"a": a, "b": b}))
        empty = pd.DataFrame()
        return VersionComparison(a, b, empty, empty, empty, empty, empty, changes, findings)
    zones, members = _zones(ws, sa, sb)
    lines = _lines(ws, sa, sb)
    ind = _indicators(ws, sa, sb, config) if indicators else pd.DataFrame()
    decisions = _decisions(ws, sa, sb)
    return VersionComparison(a, b, zones, members, lines, ind, decisions, changes, findings)


# -- pieces -------------------------------------------------------------------------------------------

def _read(ws: Workspace, layer: str, scenario: str, fallback_base: bool = False):
    if ws.has(layer, scenario):
        return ws.read(layer, scenario)
    if fallback_base and ws.has(layer):
        return ws.read(layer)
    return None


def _zones(ws: Workspace, a: str, b: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    ma, mb = _read(ws, "zone_member", a), _read(ws, "zone_member", b)
    if ma is None or mb is None:
        return pd.DataFrame(), pd.DataFrame()
    za = ma.assign(township_code=ma["township_code"].astype(str), zone=ma["zone"].astype(str))
    zb = mb.assign(township_code=mb["township_code"].astype(str), zone=mb["zone"].astype(str))
    names = {}
    if ws.has("township"):
        t = ws.read("township", columns=["code", "name"])
        names = dict(zip(t["code"].astype(str), t["name"].astype(str)))
    m = za[["township_code", "zone"]].merge(zb[["township_code", "zone"]], on="township_code", how="outer",
                                            suffixes=("_a", "_b"))
    moved = m[m["zone_a"].fillna("") != m["zone_b"].fillna("")].copy()
    moved.insert(1, "name", moved["township_code"].map(names))
    rows = []
    sets_a = za.groupby("zone")["township_code"].apply(frozenset)
    sets_b = zb.groupby("zone")["township_code"].apply(frozenset)
    centre = lambda m: set(m.loc[m["is_centre"].astype(bool), "zone"]) if "is_centre" in m else set()  # noqa: E731
    for z in sorted(set(sets_a.index) | set(sets_b.index)):
        in_a, in_b = z in sets_a.index, z in sets_b.index
        if in_a and not in_b:
            change = "removed"
        elif in_b and not in_a:
            change = "added"
        elif sets_a[z] != sets_b[z]:
            change = "members_changed"
        else:
            change = "same"
        rows.append({"zone": z, "name": names.get(z, z), "change": change,
                     "members_a": len(sets_a[z]) if in_a else 0, "members_b": len(sets_b[z]) if in_b else 0,
                     "centre_a": z in centre(za), "centre_b": z in centre(zb)})
    return pd.DataFrame(rows), moved.reset_index(drop=True)


def _area_ha(frame) -> float:
    if frame is None or len(frame) == 0:
        return 0.0
    return float(np.sum(ellipsoidal_area(frame.geometry.to_crs(STORAGE_EPSG)))) / M2_PER_HA


def _lines(ws: Workspace, a: str, b: str) -> pd.DataFrame:
    rows = []
    for line in LINES:
        la, lb = _read(ws, line, a, True), _read(ws, line, b, True)
        if la is None and lb is None:
            continue
        ua = la.geometry.to_crs(STORAGE_EPSG).union_all() if la is not None and len(la) else None
        ub = lb.geometry.to_crs(STORAGE_EPSG).union_all() if lb is not None and len(lb) else None
        added = removed = 0.0
        if ua is not None and ub is not None:
            added = _area_ha(gpd.GeoDataFrame(geometry=[ub.difference(ua)], crs=STORAGE_EPSG))
            removed = _area_ha(gpd.GeoDataFrame(geometry=[ua.difference(ub)], crs=STORAGE_EPSG))
        rows.append({"line": line, "area_a_ha": _area_ha(la), "area_b_ha": _area_ha(lb),
                     "change_ha": _area_ha(lb) - _area_ha(la), "added_ha": added, "removed_ha": removed})
    return pd.DataFrame(rows)


def _indicators(ws: Workspace, a: str, b: str, config: Config | None) -> pd.DataFrame:
    ea, eb = evaluate(ws, a, config=config).county(), evaluate(ws, b, config=config).county()
    keep = ["indicator", "name_zh", "name_en", "unit", "value", "target", "light"]
    m = ea[keep].merge(eb[["indicator", "value", "target", "light"]], on="indicator", suffixes=("_a", "_b"))
    m["change"] = m["value_b"] - m["value_a"]
    return m


def _decisions(ws: Workspace, a: str, b: str) -> pd.DataFrame:
    ca, cb = _read(ws, "conflict", a, True), _read(ws, "conflict", b, True)
    if ca is None or cb is None:
        return pd.DataFrame()
    cols = ["conflict_id", "rule", "state", "action", "decision_reason"]
    pick = lambda c: pd.DataFrame({k: (c[k] if k in c else pd.Series("", index=c.index)) for k in cols})  # noqa: E731
    m = pick(ca).merge(pick(cb), on="conflict_id", how="outer", suffixes=("_a", "_b"))
    differs = np.zeros(len(m), dtype=bool)
    for c in ("state", "action", "decision_reason"):
        if f"{c}_a" in m:
            differs |= (m[f"{c}_a"].astype("string").fillna("") != m[f"{c}_b"].astype("string").fillna("")).to_numpy()
    return m[differs].reset_index(drop=True)


def _changes(ws: Workspace, sa: str, ra: int | None, sb: str, rb: int | None) -> pd.DataFrame:
    """The writes that made version b from a (audit rows with their reasons). Each write of a table
    bumps its revision by one, so a table's n-th audit row made its revision n: with ``@REV`` the
    rows of revisions in (REV_a, REV_b] of each table; two scenarios: every write of b's layers
    since a's last write, in the audit table's commit order (all of b's when a was written later)."""
    audit = ws.audit().copy()
    audit["ordinal"] = audit.groupby(["scenario", "layer"]).cumcount() + 1
    if sa == sb:
        lo = ra or 0
        hi = rb if rb is not None else np.inf
        rows = audit[(audit["scenario"] == sa) & (audit["ordinal"] > lo) & (audit["ordinal"] <= hi)]
    else:
        audit = audit.reset_index(drop=True)  # the audit table is appended in commit order
        of_a = audit.index[audit["scenario"] == sa]
        rows = audit[audit["scenario"] == sb]
        if len(of_a) and (rows.index > of_a.max()).any():
            rows = rows[rows.index > of_a.max()]
    cols = ["ts", "user", "command", "action", "scenario", "layer", "ordinal", "rows", "reason"]
    return rows[cols].rename(columns={"ordinal": "revision"}).reset_index(drop=True)
