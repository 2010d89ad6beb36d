"""Change detection between two survey epochs of the ``landuse`` layer (which epoch is the
planning base, and reading it, is :mod:`pianqu.parcels`): the later epochs (年度变更调查)
against the base (:func:`detect_changes`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from pianqu.config import Config
from pianqu.errors import UserValueError
from pianqu.findings import Finding
from pianqu.parcels import base_epoch, epochs_of, select_epoch


@dataclass
class ChangeResult:
    """Change detection between two epochs: the pieces, the transition matrix (ha, first-level
    classes), the farmland outflow, the violation tickets and one error finding per ticket."""

    before: int
    after: int
    pieces: gpd.GeoDataFrame
    matrix: pd.DataFrame
    outflow: gpd.GeoDataFrame
    tickets: gpd.GeoDataFrame
    findings: list[Finding] = field(default_factory=list)

    def layers(self) -> dict[str, pd.DataFrame]:
        """Scenario tables: ``land_transition`` (ha), ``land_outflow`` and ``land_tickets``."""
        m = self.matrix.reset_index()
        m.columns = [str(c) for c in m.columns]
        out = self.outflow.drop(columns="geometry", errors="ignore")
        return {"land_transition": pd.DataFrame(m), "land_outflow": pd.DataFrame(out), "land_tickets": self.tickets}


def detect_changes(landuse: gpd.GeoDataFrame, *, approvals: gpd.GeoDataFrame | None = None,
                   farmland_pbf: gpd.GeoDataFrame | None = None, before: int | None = None, after: int | None = None,
                   epsg: int | None = None, cfg: Config | None = None, meta: Any = None) -> ChangeResult | None:
    """Change detection between ``before`` (default: the base epoch) and ``after`` (default: the
    latest epoch) of a ``landuse`` layer holding several; None when it holds only one."""
    from pianqu.land.change import change_pieces, farmland_outflow, ticket_findings, transition_matrix, \
        violation_tickets

    years = epochs_of(landuse)
    if len(years) < 2:
        return None
    b = base_epoch(landuse, meta) if before is None else int(before)
    a = max(years) if after is None else int(after)
    if a == b:
        a = max(y for y in years if y != b)
    pieces = change_pieces(select_epoch(landuse, b), select_epoch(landuse, a), epsg=epsg, cfg=cfg)
    tickets = violation_tickets(pieces, approvals=approvals, farmland_pbf=farmland_pbf, cfg=cfg)
    return ChangeResult(b, a, pieces, transition_matrix(pieces, level=1), farmland_outflow(pieces), tickets,
                        ticket_findings(tickets))


def ticket_summary(tickets: pd.DataFrame) -> dict[str, float]:
    """Counts and areas of a ticket list (for report notes)."""
    t = pd.DataFrame(tickets)
    n = len(t)
    return {"n": n, "n_pbf": int(np.asarray(t["in_pbf"], dtype=bool).sum()) if n else 0,
            "ha": float(t["area_ha"].sum()) if n else 0.0, "mu": float(t["area_mu"].sum()) if n else 0.0}
