"""4G/5G coverage of village seats and their population (seed §二(四): 4G/5G 全覆盖).

A seat is covered by a technology when it lies in (or on the edge of) one of that technology's
coverage polygons; "4G+" means 4G or 5G. Shares are compared with ``telecom.coverage_target``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from pianqu.config import Config, load_config
from pianqu.findings import Finding
from pianqu.geo import STORAGE_EPSG

TECHS = {"4G+": ("4G", "5G"), "5G": ("5G",)}


@dataclass(frozen=True)
class Coverage:
    summary: pd.DataFrame  # one row per technology: seats, covered, share, population, ...
    uncovered: gpd.GeoDataFrame  # seats not covered by 4G+ or by 5G (EPSG:4490)
    findings: tuple[Finding, ...] = field(default=())


def telecom_coverage(settlements: gpd.GeoDataFrame, telecom: gpd.GeoDataFrame | None, *,
                     levels: tuple[str, ...] = ("village_seat",), config: Config | None = None,
                     source: str = "") -> Coverage:
    """Share of seats (of ``levels``) and of their population inside 4G+/5G coverage."""
    cfg = config or load_config()
    target = float(cfg["telecom.coverage_target"])
    seats = settlements
    if "level" in settlements.columns and levels:
        seats = settlements[settlements["level"].isin(levels)]
    seats = seats.to_crs(STORAGE_EPSG) if seats.crs is not None else seats
    pop = pd.to_numeric(seats.get("population", pd.Series(0, index=seats.index)), errors="coerce").fillna(0)
    pop = pop.to_numpy(float)
    findings: list[Finding] = []
    if telecom is None or len(telecom) == 0:
        findings.append(Finding("error", "network.telecom.no_layer", "telecom", "", "", {}, source))
        telecom = gpd.GeoDataFrame({"id": [], "tech": []}, geometry=gpd.GeoSeries([], crs=STORAGE_EPSG))
    tel = telecom.to_crs(STORAGE_EPSG) if telecom.crs is not None else telecom
    pts = seats.geometry.to_numpy()
    covered: dict[str, np.ndarray] = {}
    rows = []
    for name, techs in TECHS.items():
        polys = tel.geometry[tel["tech"].astype(str).isin(techs)].to_numpy()
        if len(polys) and len(pts):
            tree = shapely.STRtree(polys)
            pi, _ = tree.query(pts, predicate="intersects")
            hit = np.zeros(len(pts), bool)
            hit[pi] = True
        else:
            hit = np.zeros(len(pts), bool)
        covered[name] = hit
        n, c = len(pts), int(hit.sum())
        share = c / n if n else 1.0
        pshare = pop[hit].sum() / pop.sum() if pop.sum() > 0 else share
        rows.append({"tech": name, "seats": n, "covered": c, "share": share, "population": pop.sum(),
                     "population_covered": pop[hit].sum(), "population_share": pshare, "target": target,
                     "met": share >= target - 1e-12})
        if n and share < target - 1e-12:
            findings.append(Finding("warning", "network.telecom.below_target", "telecom", "", "",
                                    {"tech": name, "share": f"{share:.1%}", "target": f"{target:.0%}"}, source))
    summary = pd.DataFrame(rows)
    miss = ~covered["4G+"] | ~covered["5G"]
    code = seats["code"].astype(str).to_numpy() if "code" in seats.columns else seats.index.astype(str).to_numpy()
    name = seats["name"].astype(str).to_numpy() if "name" in seats.columns else code
    uncovered = gpd.GeoDataFrame({"code": code[miss], "name": name[miss], "population": pop[miss],
                                  "has_4g": covered["4G+"][miss], "has_5g": covered["5G"][miss]},
                                 geometry=gpd.GeoSeries(pts[miss], crs=STORAGE_EPSG))
    uncovered = uncovered.sort_values(["has_4g", "population"], ascending=[True, False]).reset_index(drop=True)
    uncovered.insert(0, "rank", np.arange(1, len(uncovered) + 1))
    uncovered["action"] = "network.telecom.uncovered.do"  # a locale key: the edges translate
    for r in uncovered.itertuples():
        findings.append(Finding("warning" if not r.has_4g else "info", "network.telecom.uncovered", "settlement",
                                r.code, "", {"name": r.name, "tech": "5G" if r.has_4g else "4G/5G"}, source))
    return Coverage(summary, uncovered, tuple(findings))
