"""Service areas (等时圈): the part of the road network reachable within a time budget, buffered.

For each budget B the reached part of every edge is computed exactly from the node times (a
forward reach from ``u`` of (B − t_u)/T of the edge, a backward reach from ``v`` where the edge
may be used that way, and the stretch around a source lying on the edge); the reached lines are
buffered by ``network.isochrone_buffer_m`` and dissolved into one polygon per budget (and per
source with ``by_source``).
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from pianqu.geo import STORAGE_EPSG
from pianqu.network.graph import RoadGraph, check_mode
from pianqu.network.snap import Snapped, as_snapped
from pianqu.network.travel import node_times


def reached_intervals(graph: RoadGraph, times: np.ndarray, s: Snapped, rows: np.ndarray | None,
                      budget: float, mode: str) -> pd.DataFrame:
    """Reached stretches [start_m, end_m] along edges within ``budget`` s.

    ``times`` are node times from the sources ``rows`` of ``s`` (all when None).
    """
    e = graph.edges
    length = e["length_m"].to_numpy()
    t = graph.edge_time(mode)
    fw, bw = graph.edge_allows(mode)
    tu, tv = times[e["u"].to_numpy()], times[e["v"].to_numpy()]
    with np.errstate(invalid="ignore", divide="ignore"):
        rf = np.where(fw & (tu <= budget), np.minimum(length, (budget - tu) / t * length), -1.0)
        rb = np.where(bw & (tv <= budget), np.minimum(length, (budget - tv) / t * length), -1.0)
    idx = np.arange(len(e))
    parts = [pd.DataFrame({"edge": idx[rf >= 0], "start": 0.0, "end": rf[rf >= 0]}),
             pd.DataFrame({"edge": idx[rb >= 0], "start": (length - rb)[rb >= 0], "end": length[rb >= 0]})]
    pick = np.flatnonzero(s.edge >= 0) if rows is None else np.asarray(rows)
    pick = pick[s.edge[pick] >= 0]
    left = budget - s.access_s[pick]
    pick, left = pick[left >= 0], left[left >= 0]
    if len(pick):
        pe = s.edge[pick]
        reach = np.minimum(left / t[pe] * length[pe], length[pe])
        reach = np.where(np.isfinite(reach), reach, 0.0)
        off = s.offset_m[pick]
        lo = np.where(bw[pe], np.maximum(off - reach, 0.0), off)
        hi = np.where(fw[pe], np.minimum(off + reach, length[pe]), off)
        parts.append(pd.DataFrame({"edge": pe, "start": lo, "end": hi}))
    out = pd.concat(parts, ignore_index=True)
    return merge_intervals(out[out["end"] > out["start"]])


def merge_intervals(iv: pd.DataFrame) -> pd.DataFrame:
    """Union of overlapping [start, end] stretches on the same edge."""
    if iv.empty:
        return iv.reset_index(drop=True)
    iv = iv.sort_values(["edge", "start"]).reset_index(drop=True)
    reach = iv.groupby("edge")["end"].cummax()
    prev = reach.groupby(iv["edge"]).shift(1)
    new = prev.isna() | (iv["start"] > prev)
    grp = new.cumsum()
    return iv.groupby(grp).agg(edge=("edge", "first"), start=("start", "min"), end=("end", "max")).reset_index(drop=True)


def _substrings(graph: RoadGraph, iv: pd.DataFrame) -> np.ndarray:
    geoms = graph.edges.geometry.to_numpy()
    length = graph.edges["length_m"].to_numpy()
    e = iv["edge"].to_numpy()
    a, b = iv["start"].to_numpy(), iv["end"].to_numpy()
    full = (a <= 0) & (b >= length[e])
    out = np.empty(len(iv), dtype=object)
    out[full] = geoms[e[full]]
    from shapely.ops import substring

    glen = shapely.length(geoms)
    for k in np.flatnonzero(~full):
        scale = glen[e[k]] / length[e[k]] if length[e[k]] > 0 else 1.0
        out[k] = substring(geoms[e[k]], a[k] * scale, b[k] * scale)
    return out


def isochrones(graph: RoadGraph, sources, budgets_s, *, mode: str = "drive", by_source: bool = False,
               buffer_m: float | None = None) -> gpd.GeoDataFrame:
    """Service-area polygons (EPSG:4490) of ``sources`` for each travel-time budget.

    Parameters
    ----------
    graph : RoadGraph
        From :func:`build_graph`.
    sources : GeoDataFrame, GeoSeries or Snapped
        Points in any CRS (e.g. facilities or town seats).
    budgets_s : float or sequence of float
        Travel-time budgets in seconds.
    mode : {"drive", "walk"}, default "drive"
        Travel mode.
    by_source : bool, default False
        One polygon per source and budget (else one per budget for all sources together).
    buffer_m : float, optional
        Width around the reached roads (default ``network.isochrone_buffer_m``).

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``source`` (position, −1 for all sources together), ``source_id``, ``budget_s``,
        ``budget_min``, ``road_km`` (reached road length), ``area_m2`` (in the GK zone), geometry.
    """
    check_mode(mode)
    s = as_snapped(graph, sources, mode)
    budgets = sorted(float(b) for b in np.atleast_1d(budgets_s))
    buf = float(graph.config["network.isochrone_buffer_m"] if buffer_m is None else buffer_m)
    groups = [(k, np.array([k])) for k in range(len(s))] if by_source else [(-1, None)]
    rows = []
    for src, sel in groups:
        if sel is not None and s.edge[sel[0]] < 0:
            continue
        sub = s if sel is None else _subset(s, sel)
        times = node_times(graph, sub, mode=mode, cutoff_s=max(budgets))[0] if graph.n_nodes else np.zeros(0)
        for b in budgets:
            iv = reached_intervals(graph, times, sub, None, b, mode)
            lines = _substrings(graph, iv)
            km = float((iv["end"] - iv["start"]).sum()) / 1000
            poly = shapely.union_all(shapely.buffer(lines, buf)) if len(lines) else shapely.Polygon()
            rows.append({"source": src, "source_id": "" if src < 0 else s.ids[src], "budget_s": b,
                         "budget_min": b / 60, "road_km": km, "area_m2": float(shapely.area(poly)),
                         "geometry": poly})
    frame = gpd.GeoDataFrame(rows, columns=["source", "source_id", "budget_s", "budget_min", "road_km",
                                            "area_m2", "geometry"], geometry="geometry",
                             crs=graph.epsg or None)
    return frame.to_crs(STORAGE_EPSG) if graph.epsg else frame


def _subset(s: Snapped, sel: np.ndarray) -> Snapped:
    return Snapped(s.mode, s.edge[sel], s.offset_m[sel], s.access_m[sel], s.access_s[sel], s.far[sel],
                   s.xy[sel], s.ids[sel], ())
