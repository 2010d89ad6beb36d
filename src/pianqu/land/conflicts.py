"""Conflicts between the control lines (domain.md §2.3), as data, and their resolution.

The rules live in ``pianqu/standards/conflict_rules.csv`` (each with its source and sureness):
permanent basic farmland inside a protected-area core zone (withdraw the farmland), elsewhere
inside the red line (a decision: withdraw the farmland or adjust the red line), the urban
development boundary over farmland or the red line, and reserve construction land (留白) over
either (errors: the later line gives way).

:func:`detect_conflicts` overlays the lines and returns one patch per pair of intersecting
features with a stable id (the same pair gets the same id in every run, so decisions carry
over), its rule, type, area in m², ha and 亩, and a resolution state. :func:`decide` records a
planner's decision; :func:`apply_conflicts` cuts the patches out of the lines that give way and
returns the cleaned lines and a change list; :func:`write_resolution` stores all of it in a
scenario, with the change summary in the audit table.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Mapping

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from pianqu.config import Config
from pianqu.errors import Phrase, layer_label, render
from pianqu.findings import Finding
from pianqu.geo import STORAGE_EPSG, ellipsoidal_area
from pianqu.land import workflow
from pianqu.schema import IMPORTED_SUFFIX
from pianqu.land.common import (CONTROL_LINES, LandInputError, area_columns, config_of, epsg_for, filter_mask,
                                layer_or_base,
                                polygons, recorded_area)
from pianqu.standards import table as standards_table
from pianqu.land.overlay import _polygonal, intersect_any, to_storage
from pianqu.workspace import Workspace

LINE_LAYERS = (*CONTROL_LINES, "reserve")
ACTIONS = ("withdraw_left", "withdraw_right", "tolerate")
STATES = ("open", "resolved")
CONFLICT_COLUMNS = ["conflict_id", "rule", "name", "severity", "left_layer", "left_id", "right_layer", "right_id",
                    "area_m2", "area_ha", "area_mu", "resolution", "action", "state", "decision_reason"]


def conflict_rules() -> pd.DataFrame:
    """The conflict rules (rule, layers, filters, severity, resolution, options, sureness, source)."""
    return standards_table("conflict_rules")


def conflict_id(rule: str, left_id: str, right_id: str) -> str:
    """A stable id of the patch between two features under a rule."""
    digest = hashlib.sha1(f"{rule}|{left_id}|{right_id}".encode("utf-8")).hexdigest()
    return f"CF-{digest[:10].upper()}"


def _lines(lines: Mapping[str, gpd.GeoDataFrame | None], epsg: int) -> dict[str, gpd.GeoDataFrame]:
    out = {}
    for name, frame in lines.items():
        if name not in LINE_LAYERS:
            raise LandInputError("land.error.unknown_line_layer", layer=name, expected=", ".join(LINE_LAYERS))
        if frame is None or len(frame) == 0:
            continue
        g = polygons(frame, name, epsg, "id")
        ids = g["id"].astype(str)
        dup = ids[ids.duplicated()]
        if len(dup):
            raise LandInputError("land.error.duplicate_id", layer=name, label=layer_label(name), id=dup.iloc[0])
        out[name] = g.assign(id=ids.to_numpy())
    return out


class _Layer:
    """A control-line layer in the GK zone, its geometry as stored (EPSG:4490) when it came so,
    and a lazily built STRtree per filter (a million parcels are indexed once, not per rule)."""

    def __init__(self, gk: gpd.GeoDataFrame, stored: np.ndarray | None):
        self.gk, self.stored, self._trees = gk, stored, {}

    def select(self, expr: str):
        m = filter_mask(self.gk, expr)
        geoms = self.gk.geometry.to_numpy()[m]
        tree = lambda: self._trees.setdefault(expr, shapely.STRtree(geoms))  # noqa: E731
        return (geoms, self.gk["id"].to_numpy()[m], None if self.stored is None else self.stored[m],
                self._trees.get(expr) or tree, recorded_area(self.gk)[m])


def detect_conflicts(lines: Mapping[str, gpd.GeoDataFrame | None], *, epsg: int | None = None,
                     rules: pd.DataFrame | None = None, cfg: Config | None = None,
                     previous: pd.DataFrame | None = None) -> gpd.GeoDataFrame:
    """Conflict patches between the three control lines.

    The rules (``land/rules``) say which overlaps are conflicts (e.g. 城镇开发边界 over
    永久基本农田 or 生态保护红线) and whether each is resolved automatically or needs the
    planner's decision. Areas are ellipsoidal on CGCS2000; a patch that is a whole feature
    reports the feature's recorded area (e.g. its TBMJ).

    Parameters
    ----------
    lines : mapping of str to GeoDataFrame or None
        ``farmland_pbf``, ``eco_redline`` (with ``core_zone``), ``urban_boundary`` and
        optionally ``reserve`` (留白 polygons), each with an ``id`` (:func:`pianqu.read_lines`).
    epsg : int, optional
        The GK zone to cut in (default from the data).
    rules : pandas.DataFrame, optional
        The conflict rules (default :func:`pianqu.land.conflict_rules`).
    cfg : pianqu.config.Config, optional
        Thresholds in force; patches smaller than ``land.conflict_min_area_m2`` are slivers, not
        conflicts.
    previous : pandas.DataFrame, optional
        An earlier conflict table; decisions recorded there carry over to patches with the same id.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per patch (EPSG:4490), sorted by ``conflict_id`` (stable across runs): ``rule``,
        ``name``, ``severity``, ``left_layer``/``left_id``, ``right_layer``/``right_id``,
        ``area_m2``, ``area_ha``, ``area_mu``, ``resolution`` (``auto`` / ``decide``), ``action``,
        ``state``, ``decision_reason``.

    Examples
    --------
    >>> conflicts = pianqu.detect_conflicts(pianqu.read_lines(ws))         # doctest: +SKIP
    >>> conflicts.groupby("rule")["area_ha"].sum()                          # doctest: +SKIP
    """
    cfg = config_of(cfg)
    epsg = epsg_for(epsg, *lines.values())
    rules = conflict_rules() if rules is None else rules
    L = {}
    for name, g in _lines(lines, epsg).items():
        src = lines[name]
        stored = None
        if src.crs is not None and src.crs.to_epsg() == STORAGE_EPSG:
            stored = src.geometry.to_numpy()[src.index.get_indexer(g.index)] if src.index.is_unique else None
        L[name] = _Layer(g, stored)
    min_area = float(cfg["land.conflict_min_area_m2"])
    parts, geoms = [], []
    for r in rules.itertuples(index=False):
        if r.left_layer not in L or r.right_layer not in L:
            continue
        ag, aid, astore, atree, aarea = L[r.left_layer].select(r.left_filter)
        bg, bid, bstore, btree, barea = L[r.right_layer].select(r.right_filter)
        ov = intersect_any(ag, bg, a_ids=aid, b_ids=bid, a_tree=atree, b_tree=btree, crs=epsg, a_area=aarea,
                           b_area=barea)
        keep = ov.area >= min_area
        if not keep.any():
            continue
        lid, rid = aid[ov.left[keep]], bid[ov.right[keep]]
        # patches that are a whole feature keep the feature's stored geometry (no reprojection)
        stored = np.full(keep.sum(), None, dtype=object)
        if astore is not None:
            k = ov.inside[keep]
            stored[k] = astore[ov.left[keep][k]]
        if bstore is not None:
            k = ov.contains[keep] & (stored == None)  # noqa: E711
            stored[k] = bstore[ov.right[keep][k]]
        geoms.append((ov.geometry[keep], stored))
        parts.append(pd.DataFrame({
            "conflict_id": [conflict_id(r.rule, x, y) for x, y in zip(lid, rid)],
            "rule": r.rule, "name": r.name_zh, "severity": r.severity,
            "left_layer": r.left_layer, "left_id": lid, "right_layer": r.right_layer, "right_id": rid,
            **area_columns(ov.area[keep]),
            "resolution": r.resolution, "action": r.default_action if r.resolution == "auto" else "",
            "state": "open", "decision_reason": ""}))
    if not parts:
        return gpd.GeoDataFrame({c: pd.Series(dtype=float if c.startswith("area") else object)
                                 for c in CONFLICT_COLUMNS}, geometry=gpd.GeoSeries([], crs=STORAGE_EPSG))
    frame = pd.concat(parts, ignore_index=True)
    gk = np.concatenate([g for g, _ in geoms])
    out_g = np.concatenate([s for _, s in geoms])
    todo = np.flatnonzero(out_g == None)  # noqa: E711
    if len(todo):
        out_g[todo] = to_storage(gpd.GeoDataFrame(geometry=gk[todo], crs=epsg)).geometry.to_numpy()
    order = np.argsort(frame["conflict_id"].to_numpy(), kind="stable")
    out = gpd.GeoDataFrame(frame.iloc[order].reset_index(drop=True), geometry=out_g[order], crs=STORAGE_EPSG)
    if previous is not None and len(previous):
        out = _carry(out, previous)
    return out


def _carry(new: gpd.GeoDataFrame, old: pd.DataFrame) -> gpd.GeoDataFrame:
    """Decisions of ``old`` (by conflict id) on the patches of ``new``: those of rules that need
    one, and the planner's own decisions on the others (a different action, or a reason given)."""
    decided = old[old["action"].fillna("") != ""]
    amap = dict(zip(decided["conflict_id"], decided["action"]))
    rmap = dict(zip(decided["conflict_id"], decided["decision_reason"].fillna("")))
    previous = new["conflict_id"].map(amap)
    reason = new["conflict_id"].map(rmap).fillna("")
    hit = previous.notna() & ((new["resolution"] == "decide") | (previous != new["action"]) | (reason != ""))
    new.loc[hit, "action"] = new.loc[hit, "conflict_id"].map(amap)
    new.loc[hit, "decision_reason"] = new.loc[hit, "conflict_id"].map(rmap)
    return new


def decide(conflicts: gpd.GeoDataFrame, decisions: Mapping[str, str | tuple[str, str]], *,
           rules: pd.DataFrame | None = None) -> gpd.GeoDataFrame:
    """Record decisions ``{conflict_id: action}`` or ``{conflict_id: (action, reason)}``.

    The action must be one the conflict's rule allows (``options`` in the rules file), e.g.
    ``withdraw_left`` (the farmland leaves) or ``withdraw_right`` (the red line is adjusted) for
    farmland in the red line outside core zones.
    """
    rules = conflict_rules() if rules is None else rules
    options = {r.rule: r.options.split("|") for r in rules.itertuples(index=False)}
    out = conflicts.copy()
    index = {cid: k for k, cid in enumerate(out["conflict_id"])}
    for cid, value in decisions.items():
        action, reason = (value, "") if isinstance(value, str) else value
        if cid not in index:
            raise LandInputError("land.error.unknown_conflict", id=cid)
        k = index[cid]
        rule = out["rule"].iloc[k]
        if action not in options.get(rule, []):
            raise LandInputError("land.error.action_not_allowed", id=cid, conflict_rule=rule, action=action,
                                 options=", ".join(f"`{o}`" for o in options.get(rule, [])))
        out.iloc[k, out.columns.get_loc("action")] = action
        out.iloc[k, out.columns.get_loc("decision_reason")] = reason
    return out


@dataclass
class Resolution:
    """Cleaned lines (EPSG:4490), what changed in them, and the conflicts with their new state."""

    lines: dict[str, gpd.GeoDataFrame]
    changes: pd.DataFrame
    conflicts: gpd.GeoDataFrame
    epsg: int
    summary: dict[str, float] = field(default_factory=dict)

    @property
    def changed_layers(self) -> list[str]:
        return sorted(set(self.changes["layer"]), key=LINE_LAYERS.index) if len(self.changes) else []

    def describe(self) -> list[Phrase]:
        """One phrase per changed layer: features changed, area withdrawn (ha), conflict ids
        (the edges say them: ``pianqu.errors.render(res.describe(), lang)``)."""
        if not len(self.changes):
            return [Phrase("land.resolution.nothing")]
        out = []
        for layer, g in self.changes.groupby("layer", sort=False):
            ids = sorted({c for cs in g["conflict_ids"] for c in cs.split(",")})
            out.append(Phrase("land.resolution.layer", layer=Phrase(f"land.line.{layer}"), n=len(g),
                              ha=g["area_removed_m2"].sum() / 1e4,
                              ids=", ".join(ids[:10]) + (" …" if len(ids) > 10 else "")))
        return out


def apply_conflicts(lines: Mapping[str, gpd.GeoDataFrame | None], conflicts: pd.DataFrame, *,
                    epsg: int | None = None) -> Resolution:
    """Cut every conflict patch that has an action out of the line that gives way.

    ``withdraw_left`` removes the patch from the left feature (e.g. the development boundary),
    ``withdraw_right`` from the right one, ``tolerate`` keeps both (an approved exception).
    Patches are recomputed from the two features in the GK zone (with the overlay engine), so the
    conflict table may come back from the workspace. Conflicts without an action stay open.
    Features not touched keep their geometry as it was; features withdrawn entirely are dropped.
    """
    epsg = epsg_for(epsg, *lines.values())
    L = _lines(lines, epsg)
    c = pd.DataFrame(conflicts).reset_index(drop=True)
    act = c["action"].fillna("").astype(str) if len(c) else pd.Series([], dtype=str)
    bad = sorted(set(act) - {"", *ACTIONS})
    if bad:
        raise LandInputError("land.error.unknown_actions", actions=", ".join(f"`{a}`" for a in bad),
                             expected=", ".join(f"`{a}`" for a in ACTIONS))
    pos = {name: pd.Series(np.arange(len(g)), index=g["id"].to_numpy()) for name, g in L.items()}
    geom = {name: g.geometry.to_numpy() for name, g in L.items()}
    todo = c[act.isin(["withdraw_left", "withdraw_right"]).to_numpy()]
    for side in ("left", "right"):
        for name, grp in todo.groupby(f"{side}_layer"):
            ids = grp[f"{side}_id"].astype(str)
            known = ids.isin(pos[name].index) if name in pos else pd.Series(False, index=ids.index)
            if not known.all():
                k = np.flatnonzero(~known.to_numpy())[0]
                raise LandInputError("land.error.feature_gone", id=grp["conflict_id"].iloc[k], feature=ids.iloc[k],
                                     layer=name, label=layer_label(name))
    tl, tp, tg, tw, tc = [], [], [], [], []  # target layer, position, patch, whole target, conflict id
    for (ll, rl), grp in todo.groupby(["left_layer", "right_layer"], sort=True):
        lp = pos[ll].loc[grp["left_id"].astype(str)].to_numpy()
        rp = pos[rl].loc[grp["right_id"].astype(str)].to_numpy()
        ul, li = np.unique(lp, return_inverse=True)
        ur, ri = np.unique(rp, return_inverse=True)
        ov = intersect_any(geom[ll][ul], geom[rl][ur], crs=epsg)
        at = pd.Series(np.arange(len(ov)), index=ov.left * len(ur) + ov.right)
        k = at.reindex(li * len(ur) + ri).to_numpy()
        found = ~np.isnan(k)
        k = np.where(found, k, 0).astype(int)
        patch = np.where(found, ov.geometry[k] if len(ov) else None, shapely.Polygon())
        left_goes = (grp["action"] == "withdraw_left").to_numpy()
        tl.append(np.where(left_goes, ll, rl))
        tp.append(np.where(left_goes, lp, rp))
        tg.append(patch)
        tw.append(found & np.where(left_goes, ov.inside[k] if len(ov) else False, ov.contains[k] if len(ov) else False))
        tc.append(grp["conflict_id"].to_numpy())
    out = {name: frame.copy() for name, frame in lines.items() if frame is not None}
    changes = []
    if tl:
        t = pd.DataFrame({"layer": np.concatenate(tl), "pos": np.concatenate(tp), "whole": np.concatenate(tw),
                          "cid": np.concatenate(tc)})
        patches = np.concatenate(tg)
        for name, grp in t.groupby("layer", sort=True):
            g = grp.sort_values("pos", kind="stable")
            upos, starts, counts = np.unique(g["pos"].to_numpy(), return_index=True, return_counts=True)
            pg = patches[g.index.to_numpy()]
            whole = np.logical_or.reduceat(g["whole"].to_numpy(), starts)
            cut = np.empty(len(upos), dtype=object)
            one = counts == 1
            cut[one] = pg[starts[one]]
            for u in np.flatnonzero(~one & ~whole):
                cut[u] = shapely.union_all(pg[starts[u]:starts[u] + counts[u]])
            before = geom[name][upos]
            after = np.empty(len(upos), dtype=object)
            after[whole] = shapely.Polygon()
            part = ~whole
            if part.any():
                after[part] = _polygonal(shapely.difference(before[part], cut[part]))
            a0, a1 = ellipsoidal_area(before, epsg), ellipsoidal_area(after, epsg)
            cids = [",".join(sorted(g["cid"].iloc[s:s + n])) for s, n in zip(starts, counts)]
            ids = L[name]["id"].to_numpy()[upos]
            changes.append(pd.DataFrame({"layer": name, "feature": ids, "conflict_ids": cids, "action": "withdraw",
                                         "area_before_m2": a0, "area_after_m2": a1, "area_removed_m2": a0 - a1}))
            frame = out[name]
            rows = frame.index.get_indexer(L[name].index[upos]) if frame.index.is_unique else None
            if rows is None or (rows < 0).any():
                rows = np.flatnonzero(frame["id"].astype(str).isin(set(ids)).to_numpy())
                rows = rows[np.argsort(pd.Index(frame["id"].astype(str).to_numpy()[rows]).get_indexer(ids))]
            new = frame.geometry.to_numpy().copy()
            new[rows] = to_storage(gpd.GeoDataFrame(geometry=after, crs=epsg), frame.crs).geometry.to_numpy()
            frame = frame.set_geometry(gpd.GeoSeries(new, index=frame.index, crs=frame.crs))
            gone = shapely.is_empty(new)
            if "area_m2" in frame.columns:
                touched = np.zeros(len(frame), dtype=bool)
                touched[rows] = True
                touched &= ~gone
                if touched.any():
                    frame.loc[touched, "area_m2"] = ellipsoidal_area(frame[touched])
            out[name] = frame[~gone].copy() if gone.any() else frame
    ch = pd.concat(changes, ignore_index=True) if changes else pd.DataFrame(
        columns=["layer", "feature", "conflict_ids", "action", "area_before_m2", "area_after_m2", "area_removed_m2"])
    ch["area_removed_ha"] = ch["area_removed_m2"].astype(float) / 1e4
    ch["area_removed_mu"] = area_columns(ch["area_removed_m2"].astype(float))["area_mu"]
    state = np.where(act.to_numpy() != "", "resolved", "open")
    res_conf = conflicts.copy()
    res_conf["state"] = state
    summary = {f"{layer}_removed_m2": float(ch.loc[ch["layer"] == layer, "area_removed_m2"].sum())
               for layer in set(ch["layer"])}
    summary.update(resolved=int((state == "resolved").sum()), open=int((state == "open").sum()))
    return Resolution(out, ch, res_conf, epsg, summary)


def conflict_findings(conflicts: pd.DataFrame) -> list[Finding]:
    """One finding per conflict patch still open (or every patch with ``state`` absent), for the
    findings table of a report: the rule's severity, the left feature, the patch id and area."""
    out = []
    c = pd.DataFrame(conflicts)
    if "state" in c.columns:
        c = c[c["state"] != "resolved"]
    for r in c.itertuples(index=False):
        out.append(Finding(r.severity, f"land.conflict.{r.rule}", r.left_layer, str(r.left_id), "",
                           {"conflict_id": r.conflict_id, "right_layer": r.right_layer, "right_id": str(r.right_id),
                            "area_ha": float(r.area_ha), "area_mu": float(r.area_mu),
                            "action": str(r.action or "")}))
    return out


def read_lines(ws: Workspace, scenario: str | None = None) -> dict[str, gpd.GeoDataFrame]:
    """The control lines (and ``reserve``) of a scenario, falling back to the base layers.

    Parameters
    ----------
    ws : pianqu.workspace.Workspace
        The county workspace.
    scenario : str, optional
        A plan scenario whose cleaned lines (after ``pianqu lines apply``) take precedence; None
        for the base layers.

    Returns
    -------
    dict of str to geopandas.GeoDataFrame
        ``farmland_pbf``, ``eco_redline``, ``urban_boundary`` and ``reserve``, those present.
    """
    return {n: f for n in LINE_LAYERS if (f := layer_or_base(ws, n, scenario)) is not None}


def write_conflicts(ws: Workspace, scenario: str, conflicts: gpd.GeoDataFrame, *,
                    command: str = "land conflicts", reason: str = "") -> None:
    """Store the conflict table (layer ``conflict``) in ``scenario``."""
    ws.write({"conflict": conflicts}, scenario=scenario, command=command,
             reason=reason or f"{len(conflicts)} conflict patches detected")


def write_resolution(ws: Workspace, scenario: str, res: Resolution, *, reason: str = "",
                     command: str = "land resolve") -> pd.DataFrame:
    """Store the cleaned lines, the conflicts, the change list and the line status in ``scenario``.

    One atomic write; its audit reason lists what changed (layer, features, ha withdrawn, conflict
    ids). A changed line that was final (or stale) goes back to draft and later lines become
    stale. Returns the new status table.
    """
    described = render(res.describe(), None)  # the audit reason, in the session's language like the audit log
    status = workflow.mark_changed(workflow.read_status(ws, scenario), res.changed_layers,
                                   reason=described)
    layers: dict[str, pd.DataFrame] = dict(res.lines)
    if scenario is None:  # cleaned lines replace the base ones: the imported lines are kept once, as delivered
        for name in res.lines:
            if ws.has(name) and not ws.has(name + IMPORTED_SUFFIX):
                layers[name + IMPORTED_SUFFIX] = ws.read(name)
    layers["conflict"] = res.conflicts
    layers["control_line_change"] = res.changes
    layers[workflow.STATUS_TABLE] = status
    ws.write(layers, scenario=scenario, command=command,
             reason=(reason + ": " if reason else "") + described)
    return status
