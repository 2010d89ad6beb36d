"""Survey epochs of the ``landuse`` layer: which one is the planning base, and change detection
between two of them.

A workspace keeps every epoch in the one ``landuse`` layer, told apart by its ``epoch`` field
(``meta.epochs`` lists them). Analyses of the current state use one epoch: the **base epoch**
(``meta['base_epoch']`` when set, else the earliest: the 基期 the plan is made on); later epochs
(年度变更调查) are for change detection against it (:func:`detect_changes`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from pianqu.config import Config
from pianqu.errors import UserValueError
from pianqu.findings import Finding


def epochs_of(landuse: pd.DataFrame | None) -> list[int]:
    """The survey years present in ``landuse`` (sorted; [] without an ``epoch`` field)."""
    if landuse is None or "epoch" not in landuse.columns:
        return []
    e = pd.to_numeric(landuse["epoch"], errors="coerce").dropna()
    return sorted({int(v) for v in e.unique()})


def base_epoch(landuse: pd.DataFrame | None, meta: Any = None) -> int | None:
    """The planning base epoch: ``meta.extra['base_epoch']`` if present in the data, else the earliest."""
    years = epochs_of(landuse)
    if not years:
        return None
    extra = getattr(meta, "extra", None) or {}
    want = extra.get("base_epoch") if isinstance(extra, dict) else None
    return int(want) if want is not None and int(want) in years else years[0]


def select_epoch(landuse: pd.DataFrame | None, epoch: int | None = None, *, meta: Any = None):
    """The parcels of one epoch (default: the base epoch). A layer with one epoch, or without the
    field, comes back as it is (parcels lacking an epoch then belong to it)."""
    years = epochs_of(landuse)
    if landuse is None or len(years) <= 1 and epoch is None:
        return landuse
    epoch = base_epoch(landuse, meta) if epoch is None else int(epoch)
    if epoch not in years:
        raise UserValueError("land.error.no_epoch", epoch=epoch, years=", ".join(map(str, years)))
    keep = (pd.to_numeric(landuse["epoch"], errors="coerce") == epoch).to_numpy()
    return landuse[keep]


def read_landuse(ws: Any, columns: list[str] | None = None, epoch: int | None = None) -> pd.DataFrame:
    """The workspace's land-use parcels of one epoch (default: the base epoch), only ``columns``
    when given (with the ``epoch`` field too unless the workspace records a single epoch)."""
    if columns is not None and "epoch" not in columns and len(ws.meta.epochs) != 1:
        columns = [*columns, "epoch"]
    return select_epoch(ws.read("landuse", columns=columns), epoch, meta=ws.meta)


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
