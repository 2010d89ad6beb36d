"""Siting compliance (多规合一): any project or sectoral-plan boundary against the control lines,
the three spaces and hazard zones.

The rules are data (``standards/siting_rules.csv``, each with its source and sureness): a layer, a
filter on its features, a filter on the projects (``kind``, ``major``), a relation (``intersects``
or ``outside``) and a verdict (``restricted`` or ``prohibited``). A project's verdict is the
strictest of the rules it meets (``allowed`` when none), with the intersecting area behind each.
Linear projects (roads, canals given as lines) are checked as a corridor ``width_m`` wide
(``land.siting_line_width_m`` when the field is missing).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from pianqu.config import Config
from pianqu.findings import Finding
from pianqu.land.common import (LandInputError, area_columns, config_of, epsg_for, filter_mask, polygons, require)
from pianqu.standards import table as standards_table
from pianqu.geo import ellipsoidal_area
from pianqu.land.overlay import disjoint, intersect_any, project, to_storage

VERDICTS = ("allowed", "restricted", "prohibited")  # by severity


def siting_rules() -> pd.DataFrame:
    return standards_table("siting_rules")


@dataclass
class SitingResult:
    """``verdicts``: one row per project (verdict, worst rule, EPSG:4490 geometry);
    ``details``: one row per project and rule met, with the area and share;
    ``not_checked``: rules skipped because their layer was not given."""

    verdicts: gpd.GeoDataFrame
    details: pd.DataFrame
    not_checked: list[str]
    findings: list[Finding]


def _projects(projects: gpd.GeoDataFrame, epsg: int, width_m: float) -> gpd.GeoDataFrame:
    require(projects, "project", ["id"])
    p = project(projects, epsg).reset_index(drop=True)
    lines = p.geom_type.isin(["LineString", "MultiLineString"]).to_numpy()
    if lines.any():
        w = pd.to_numeric(p["width_m"], errors="coerce").fillna(width_m).to_numpy() if "width_m" in p.columns \
            else np.full(len(p), width_m)
        geoms = p.geometry.to_numpy().copy()
        geoms[lines] = p.geometry[lines].buffer(w[lines] / 2, cap_style="flat").to_numpy()
        p = p.set_geometry(gpd.GeoSeries(geoms, crs=epsg))
    return polygons(p, "project", epsg, "id")


def check_siting(projects: gpd.GeoDataFrame, layers: Mapping[str, gpd.GeoDataFrame | None], *,
                 epsg: int | None = None, cfg: Config | None = None, rules: pd.DataFrame | None = None) -> SitingResult:
    """Verdict per project against ``layers`` (``eco_redline``, ``farmland_pbf``, ``urban_boundary``,
    ``space`` (a polygon layer with a ``space`` column, e.g. ``SpacesResult.dissolved()``), ``hazard``).

    The ``space`` layer may be the pieces of :func:`pianqu.land.spaces.three_spaces` as they are
    (``SpacesResult.pieces``: no need to dissolve them).
    ``projects``: polygons or lines with ``id`` and optionally ``name``, ``kind`` (urban, transport,
    water, energy, ecology, agriculture, env_unit ...), ``major`` (a national/provincial major
    project) and ``width_m``.
    """
    cfg = config_of(cfg)
    rules = siting_rules() if rules is None else rules
    epsg = epsg_for(epsg, projects)
    p = _projects(projects, epsg, float(cfg["land.siting_line_width_m"]))
    pg = p.geometry.to_numpy()
    parea = ellipsoidal_area(pg, epsg)
    min_area = float(cfg["land.siting_min_area_m2"])
    rows, skipped = [], []
    masks: dict[tuple[str, str], np.ndarray] = {}
    for r in rules.itertuples(index=False):
        frame = layers.get(r.layer)
        if frame is None:
            skipped.append((r.rule, r.layer))
            continue
        sel = filter_mask(p, r.project_filter)
        if not sel.any():
            continue
        key = (r.layer, r.filter)
        if key not in masks:  # the features near any project, overlaps merged so that no area counts twice
            f = polygons(frame, r.layer, epsg)
            g = f[filter_mask(f, r.filter)].geometry.to_numpy()
            near = np.unique(shapely.STRtree(g).query(pg, predicate="intersects")[1]) if len(g) else []
            masks[key] = disjoint(g[near])
        idx = np.flatnonzero(sel)
        ov = intersect_any(pg[idx], masks[key], crs=epsg)
        inside = np.zeros(len(idx))
        np.add.at(inside, ov.left, ov.area)
        if r.relation == "intersects":
            area = inside
        elif r.relation == "outside":
            area = parea[idx] - inside
        else:
            raise LandInputError("land.error.siting_relation", siting_rule=r.rule, relation=r.relation)
        hit = area >= min_area
        for k, a in zip(idx[hit], area[hit]):
            rows.append({"project_id": str(p["id"].iloc[k]), "rule": r.rule, "verdict": r.verdict, "layer": r.layer,
                         "relation": r.relation, "area_m2": a, "share": a / parea[k] if parea[k] > 0 else 0.0,
                         "name": r.name_zh, "sureness": r.sureness, "source": r.source})
    details = pd.DataFrame(rows, columns=["project_id", "rule", "verdict", "layer", "relation", "area_m2", "share",
                                          "name", "sureness", "source"])
    for k, v in area_columns(details["area_m2"]).items():
        if k != "area_m2":
            details[k] = v
    rank = {v: k for k, v in enumerate(VERDICTS)}
    worst = {}
    for pid, g in details.groupby("project_id"):
        top = g.iloc[int(np.argmax(g["verdict"].map(rank).to_numpy()))]
        worst[pid] = (top["verdict"], top["rule"], ",".join(g["rule"]))
    ids = p["id"].astype(str)
    verdicts = gpd.GeoDataFrame({
        "id": ids.to_numpy(), "name": p["name"].to_numpy() if "name" in p.columns else "",
        "kind": p["kind"].to_numpy() if "kind" in p.columns else "",
        "verdict": [worst.get(i, ("allowed",))[0] for i in ids],
        "worst_rule": [worst.get(i, ("", ""))[1] for i in ids],
        "rules": [worst.get(i, ("", "", ""))[2] for i in ids], "area_m2": parea}, geometry=pg, crs=epsg)
    findings = [Finding("info", "land.siting.not_checked", lyr, "", "", {"rule": r}) for r, lyr in skipped]
    return SitingResult(to_storage(verdicts), details, [r for r, _ in skipped], findings)
