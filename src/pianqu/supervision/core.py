""":func:`supervise`: the supervision across counties (督查考核, issue 15 item 4) as one result —
scorecards and rankings, the worst indicators, the overdue plans and the provincial
central-town list — which the CLI (``pianqu supervise``) and the 通报 writer share."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import pandas as pd

from pianqu.config import Config, load_config
from pianqu.findings import Finding
from pianqu.supervision import registry as reg
from pianqu.supervision.scores import indicator_points, scorecards, worst_indicators
from pianqu.supervision.sources import Collected, from_database, from_folder, from_province_out, is_province_out


@dataclass
class Supervision:
    """The result of :func:`supervise`.

    ``scorecard`` (one row per county: score, province and city ranks, lights counted),
    ``points`` (county × indicator: light, weight, points, lost, shortfall), ``worst`` (each
    county's worst indicators, with ``driver_names``), ``registry`` and ``overdue`` (plans past
    their deadline as of ``as_of``), ``late`` (approved after the deadline), ``towns`` (the
    province-wide central-town ranking, :func:`pianqu.province.gather.central_town_ranking`),
    ``polygons`` (county outlines for the map), ``findings``.
    """

    scorecard: pd.DataFrame
    points: pd.DataFrame
    worst: pd.DataFrame
    overdue: pd.DataFrame
    late: pd.DataFrame
    registry: pd.DataFrame | None
    towns: pd.DataFrame | None
    polygons: gpd.GeoDataFrame
    as_of: dt.date
    deadlines: dict[str, dt.date]
    city: str | None = None
    source_kind: str = "folder"
    findings: list[Finding] = field(default_factory=list)

    def to_dict(self) -> dict:
        """A JSON-ready document (no language) for the web platform and ``--json``."""
        import json

        def records(frame):
            return [] if frame is None else json.loads(frame.to_json(orient="records", force_ascii=False,
                                                                     date_format="iso"))

        return {"as_of": self.as_of.isoformat(), "city": self.city,
                "deadlines": {k: v.isoformat() for k, v in self.deadlines.items()},
                "scorecard": records(self.scorecard), "worst": records(self.worst.drop(columns=["driver_names"],
                                                                                       errors="ignore")),
                "overdue": records(self.overdue), "late": records(self.late),
                "towns": records(self.towns.head(100) if self.towns is not None else None)}


def collect(source: str | Path, *, scenario: str = "plan", city: str | None = None,
            province_out: str | Path | None = None, workers: int = 0, config: Config | None = None) -> Collected:
    """Read the counties of ``source``: a ``postgresql://`` URL, a province run's output folder,
    or a folder of ``<code>.gpkg`` (with ``province_out``: evaluated by ``pianqu.province.run``
    into that folder — on Dask with ``workers`` > 0 — then read from there)."""
    text = str(source)
    if province_out is not None:
        from pianqu.province import run

        run(source, ["evaluate"], out=province_out, workers=workers, scenario=scenario,
            counties=_city_counties(source, city))
        return from_province_out(province_out, scenario=scenario, city=city)
    if text.startswith(("postgresql://", "postgres://")):
        return from_database(text, scenario=scenario, city=city, config=config)
    path = Path(source)
    if is_province_out(path):
        return from_province_out(path, scenario=scenario, city=city)
    return from_folder(path, scenario=scenario, city=city, config=config)


def _city_counties(source, city: str | None) -> list[str] | None:
    if city is None:
        return None
    from pianqu.province.source import Source

    return [c for c in Source.open(source).counties() if c.startswith(str(city))] or None


def supervise(source: str | Path | Collected, *, registry: str | Path | pd.DataFrame | None = None,
              as_of: dt.date | None = None, city: str | None = None, scenario: str = "plan",
              province_out: str | Path | None = None, workers: int = 0,
              config: Config | None = None) -> Supervision:
    """Supervise the counties of ``source`` (督查考核).

    Parameters
    ----------
    source : path, URL or Collected
        A folder of county workspaces, a ``pianqu province run`` output folder, a
        ``postgresql://`` database (one schema per county), or what :func:`collect` returned.
    registry : path or DataFrame, optional
        The zone-plan registry (xlsx/csv with Chinese headers, :func:`registry.read_registry`).
    as_of : datetime.date, optional
        The date of the overdue list (default today).
    city : str, optional
        A city code (first four digits of the county codes): only its counties.
    scenario : str
        The plan scenario evaluated.
    """
    cfg = config or load_config()
    as_of = as_of or dt.date.today()
    col = source if isinstance(source, Collected) else collect(source, scenario=scenario, city=city,
                                                                province_out=province_out, workers=workers,
                                                                config=cfg)
    findings = list(col.findings)
    points = indicator_points(col.indicators, cfg)
    if city is not None:
        points = points[points["county_code"].str.startswith(str(city))].reset_index(drop=True)
    codes = sorted(points["county_code"].unique())
    card = scorecards(points, counties=codes, config=cfg)
    worst = worst_indicators(points, config=cfg)
    worst["driver_names"] = [col.driver_names.get((c, i), []) for c, i in zip(worst["county_code"], worst["indicator"])]
    if registry is not None:
        table, bad = reg.read_registry(registry)
        findings += bad
        late = reg.approved_late(table[table["county_code"].isin(codes)], cfg)
    else:
        table, late = None, pd.DataFrame(columns=reg.COLUMNS)
    due = reg.overdue(table if table is not None else pd.DataFrame(columns=reg.COLUMNS), as_of,
                      counties=codes, config=cfg) if table is not None else pd.DataFrame(columns=reg.OVERDUE_COLUMNS)
    towns = None
    if col.centre_scores is not None and len(col.centre_scores):
        from pianqu.province.gather import central_town_ranking

        scores = col.centre_scores[col.centre_scores["county_code"].astype(str).isin(codes)].reset_index(drop=True)
        zones = col.zones[col.zones["county_code"].astype(str).isin(codes)] if col.zones is not None else None
        towns = central_town_ranking(scores, zones=zones, config=cfg)
    polys = col.polygons[col.polygons["county_code"].isin(codes)].reset_index(drop=True)
    return Supervision(card, points, worst, due, late, table, towns, polys, as_of, reg.deadlines(cfg), city,
                       col.kind, findings)
