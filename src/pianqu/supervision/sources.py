"""What a supervision reads from each county: the county-level indicators, the county polygon,
the plan's centre scores and zones, and the features behind the lights.

Sources: a folder of county workspaces (``<code>.gpkg``, each evaluated with
:func:`pianqu.evaluation.evaluate`), a ``pianqu province run`` output folder (its ``results/``
sets: ``indicator``, ``centre_score``, ``zone``; polygons from its ``workspaces/``), or a
``postgresql://`` database with one schema ``c<code>`` per county (evaluated like a folder).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import pandas as pd

from pianqu.config import Config
from pianqu.errors import UserValueError
from pianqu.findings import Finding
from pianqu.geo import STORAGE_EPSG

DRIVER_NAMES = 3  # feature names quoted per driven indicator (the rest counted)


@dataclass
class Collected:
    """Everything read from the counties of a source (frames carry ``county_code``)."""

    indicators: pd.DataFrame
    polygons: gpd.GeoDataFrame
    centre_scores: pd.DataFrame | None = None
    zones: pd.DataFrame | None = None
    driver_names: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    kind: str = "folder"


def is_province_out(path: Path) -> bool:
    """A ``pianqu province run`` output folder: it has ``results/`` or a manifest."""
    return (path / "results").is_dir() or (path / "manifest.parquet").exists()


def _in_city(code: str, city: str | None) -> bool:
    return city is None or str(code).startswith(str(city))


def _county_polygon(ws, code: str) -> gpd.GeoDataFrame | None:
    if not ws.has("county"):
        return None
    c = ws.read("county")
    if not len(c):
        return None
    geom = c.to_crs(STORAGE_EPSG).geometry.union_all()
    return gpd.GeoDataFrame({"county_code": [code]}, geometry=[geom], crs=STORAGE_EPSG)


def _from_workspace(url: str, scenario: str | None, config: Config | None, acc: dict) -> None:
    from pianqu.evaluation import evaluate
    from pianqu.workspace import Workspace

    ws = Workspace.open(url)
    code = str(ws.meta.county_code)
    scn = scenario if scenario and scenario in set(ws.scenarios()["name"].astype(str)) else None
    if scenario and scn is None:
        acc["findings"].append(Finding("warning", "supervision.no_scenario", "pianqu_scenario", code, "",
                                       {"county": code, "scenario": scenario}))
    ev = evaluate(ws, scn, config=config)
    tab = ev.county().assign(county_code=code)
    acc["indicators"].append(tab)
    for ind in tab.loc[tab["light"].isin(["red", "yellow"]), "indicator"]:
        d = ev.drivers(ind)
        if len(d):
            acc["driver_names"][(code, ind)] = [str(n) for n in d["name"].fillna(d["feature"]).astype(str)]
    poly = _county_polygon(ws, code)
    if poly is not None:
        acc["polygons"].append(poly)
    for layer, key in (("centre_score", "centre_scores"), ("zone", "zones")):
        if scn is not None and ws.has(layer, scn):
            acc[key].append(pd.DataFrame(ws.read(layer, scn)).drop(columns="geometry", errors="ignore")
                            .assign(county_code=code))


def _empty() -> dict:
    return {"indicators": [], "polygons": [], "centre_scores": [], "zones": [], "driver_names": {}, "findings": []}


def _finish(acc: dict, kind: str) -> Collected:
    ind = pd.concat(acc["indicators"], ignore_index=True) if acc["indicators"] else pd.DataFrame(
        columns=["county_code", "indicator", "level", "light"])
    polys = (gpd.GeoDataFrame(pd.concat(acc["polygons"], ignore_index=True), crs=STORAGE_EPSG) if acc["polygons"]
             else gpd.GeoDataFrame({"county_code": []}, geometry=[], crs=STORAGE_EPSG))
    cat = (lambda k: pd.concat(acc[k], ignore_index=True) if acc[k] else None)
    return Collected(ind, polys, cat("centre_scores"), cat("zones"), acc["driver_names"], acc["findings"], kind)


def from_folder(folder: str | Path, *, scenario: str | None = "plan", city: str | None = None,
                config: Config | None = None) -> Collected:
    """Evaluate every ``<code>.gpkg`` of ``folder`` (of ``city`` when given), one after another."""
    acc = _empty()
    for path in sorted(Path(folder).glob("*.gpkg")):
        if path.stem.isdigit() and not _in_city(path.stem, city):
            continue
        _from_workspace(str(path), scenario, config, acc)
    if not acc["indicators"]:
        raise UserValueError("supervision.error.no_counties", source=str(folder))
    return _finish(acc, "folder")


def from_database(url: str, *, scenario: str | None = "plan", city: str | None = None,
                  config: Config | None = None) -> Collected:
    """Evaluate every county schema ``c<code>`` of a PostGIS database (of ``city`` when given)."""
    from pianqu.province.source import Source

    src = Source.open(url)
    acc = _empty()
    for code in src.counties():
        if _in_city(code, city):
            _from_workspace(src.workspace_url(code, None), scenario, config, acc)
    if not acc["indicators"]:
        raise UserValueError("supervision.error.no_counties", source=url)
    return _finish(acc, "postgis")


def from_province_out(out: str | Path, *, scenario: str = "plan", city: str | None = None) -> Collected:
    """Read a ``pianqu province run`` output: the county-level ``indicator`` results (written by
    its ``evaluate`` step), ``centre_score`` and ``zone`` (from the results, else the scenario
    layers of its workspaces) and the county polygons of its ``workspaces/``."""
    from pianqu.province.gather import read_results

    out = Path(out)
    ind = read_results(out, "indicator")
    if ind is None or not len(ind):
        raise UserValueError("supervision.error.no_indicators", source=str(out))
    ind = ind[ind["county_code"].map(lambda c: _in_city(c, city))]
    ind = ind[ind["level"].astype(str) == "county"].reset_index(drop=True)
    codes = sorted(ind["county_code"].astype(str).unique())
    if not codes:
        raise UserValueError("supervision.error.no_counties", source=str(out))
    acc = _empty()
    acc["indicators"].append(ind)
    from pianqu.workspace import Workspace

    for layer, key in (("centre_score", "centre_scores"), ("zone", "zones")):
        frame = read_results(out, layer, codes)
        if frame is not None:
            acc[key].append(pd.DataFrame(frame).drop(columns="geometry", errors="ignore"))
    for code in codes:
        path = out / "workspaces" / f"{code}.gpkg"
        if not path.exists():
            continue
        ws = Workspace.open(path)
        poly = _county_polygon(ws, code)
        if poly is not None:
            acc["polygons"].append(poly)
        for layer, key in (("centre_score", "centre_scores"), ("zone", "zones")):
            have = acc[key] and (acc[key][0]["county_code"].astype(str) == code).any()
            if not have and ws.has(layer, scenario):
                acc[key].append(pd.DataFrame(ws.read(layer, scenario)).drop(columns="geometry", errors="ignore")
                                .assign(county_code=code))
    return _finish(acc, "province")
