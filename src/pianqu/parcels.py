"""The land parcels of a workspace: which survey epoch is the planning base, and reading it.

A workspace keeps every epoch in the one ``landuse`` layer, told apart by its ``epoch`` field
(``meta.epochs`` lists them). Analyses of the current state use one epoch: the **base epoch**
(``meta['base_epoch']`` when set, else the earliest: the 基期 the plan is made on); later epochs
(年度变更调查) are for change detection (:mod:`pianqu.land.epochs`). This sits below every
package that reads parcels (ingest, derive, land, services, report).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from pianqu.errors import UserValueError


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
