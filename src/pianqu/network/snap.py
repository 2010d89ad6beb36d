"""Snap points (settlements, facilities, demand points) to the nearest usable road edge.

A snapped point sits on edge ``edge`` at ``offset_m`` from the edge's ``u`` end; the straight
access leg from the point to the road (``access_m``) is travelled at the walking speed
(``network.walk_speed_kmh``) in walk mode and at ``network.drive_access_speed_kmh`` in drive
mode. Points are never snapped to grade-separated roads (expressways), nor to roads the mode may
not use. Points farther than ``network.snap_max_m`` are still snapped and timed, and flagged.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from pianqu.errors import UserValueError
from pianqu.findings import Finding
from pianqu.network.graph import RoadGraph, check_mode


@dataclass(frozen=True)
class Snapped:
    """Points placed on the graph (arrays aligned with the input points)."""

    mode: str
    edge: np.ndarray  # edge index, −1 when the point could not be snapped
    offset_m: np.ndarray  # distance along the edge from its u end
    access_m: np.ndarray  # straight distance from the point to the road
    access_s: np.ndarray  # time of the access leg
    far: np.ndarray  # access_m > network.snap_max_m
    xy: np.ndarray  # point coordinates in the graph's GK zone
    ids: np.ndarray  # point ids (for findings and tables)
    findings: tuple[Finding, ...] = field(default=())

    def __len__(self) -> int:
        return len(self.edge)

    @property
    def ok(self) -> np.ndarray:
        return self.edge >= 0


def _point_ids(points: gpd.GeoDataFrame | gpd.GeoSeries, id_field: str | None) -> np.ndarray:
    if isinstance(points, gpd.GeoDataFrame):
        for col in ([id_field] if id_field else []) + ["code", "id"]:
            if col in points.columns:
                return points[col].astype(str).to_numpy()
    return np.array([str(i) for i in points.index])


def snap_points(graph: RoadGraph, points: gpd.GeoDataFrame | gpd.GeoSeries, *, mode: str = "drive",
                max_m: float | None = None, layer: str = "", id_field: str | None = None) -> Snapped:
    """Snap ``points`` (any CRS) to the nearest edge usable in ``mode``.

    Returns a :class:`Snapped`; its findings name points that have no geometry, that could not
    be snapped (no usable road) or that lie farther than ``max_m`` (default
    ``network.snap_max_m``) from any road (still snapped, with the access leg counted).
    """
    check_mode(mode)
    cfg = graph.config
    max_m = float(cfg["network.snap_max_m"] if max_m is None else max_m)
    ids = _point_ids(points, id_field)
    n = len(points)
    geom = (points.geometry if isinstance(points, gpd.GeoDataFrame) else points)
    findings: list[Finding] = []
    edge = np.full(n, -1)
    offset = np.zeros(n)
    access = np.full(n, np.inf)
    xy = np.full((n, 2), np.nan)
    if n == 0:
        return Snapped(mode, edge, offset, access, access.copy(), np.zeros(0, bool), xy, ids, ())
    if geom.crs is None:
        raise UserValueError("network.error.no_crs", layer=layer or "-")
    valid = (~geom.isna() & ~geom.is_empty & (geom.geom_type == "Point")).to_numpy()
    for i in np.flatnonzero(~valid):
        findings.append(Finding("error", "network.bad_point", layer, ids[i], "geometry"))
    if graph.n_nodes and graph.epsg:
        proj = geom.to_crs(graph.epsg).to_numpy()
        xy[valid] = shapely.get_coordinates(proj[valid])
        fw, bw = graph.edge_allows(mode)
        usable = (fw | bw) & ~graph.edges["class"].isin(
            list(cfg["network.grade_separated_classes"])).to_numpy()
        cand = np.flatnonzero(usable)
        if len(cand):
            lines = graph.edges.geometry.to_numpy()[cand]
            tree = shapely.STRtree(lines)
            pts = proj[valid]
            (pi, li), dist = tree.query_nearest(pts, return_distance=True, all_matches=False)
            vi = np.flatnonzero(valid)[pi]
            edge[vi] = cand[li]
            access[vi] = dist
            offset[vi] = shapely.line_locate_point(lines[li], pts[pi])
            # the edge length along the split line may differ by rounding from the geometry
            offset[vi] = np.clip(offset[vi], 0.0, graph.edges["length_m"].to_numpy()[cand[li]])
    speed = float(cfg["network.walk_speed_kmh"] if mode == "walk" else cfg["network.drive_access_speed_kmh"])
    access_s = access / (speed / 3.6)
    far = np.isfinite(access) & (access > max_m)
    for i in np.flatnonzero(valid & (edge < 0)):
        findings.append(Finding("error", "network.unsnapped", layer, ids[i], "geometry", {"mode": mode}))
    for i in np.flatnonzero(far):
        findings.append(Finding("warning", "network.far_point", layer, ids[i], "geometry",
                                {"distance_m": round(float(access[i]), 1), "max_m": max_m,
                                 "access_min": round(float(access_s[i]) / 60, 1)}))
    return Snapped(mode, edge, offset, access, access_s, far, xy, ids, tuple(findings))


def as_snapped(graph: RoadGraph, points, mode: str, layer: str = "") -> Snapped:
    """``points`` if already snapped in ``mode``, else snap them."""
    if isinstance(points, Snapped):
        if points.mode != mode:
            raise ValueError(f"points were snapped for mode '{points.mode}', not '{mode}'; snap again")
        return points
    return snap_points(graph, points, mode=mode, layer=layer)


def snapped_frame(graph: RoadGraph, s: Snapped) -> pd.DataFrame:
    """A table of the snapping: id, edge, road id, offset, access leg (m, s), far."""
    road = np.where(s.edge >= 0, graph.edges["road"].to_numpy()[np.maximum(s.edge, 0)] if graph.n_edges
                    else "", "")
    return pd.DataFrame({"id": s.ids, "edge": s.edge, "road": road, "offset_m": s.offset_m,
                         "access_m": s.access_m, "access_s": s.access_s, "far": s.far})


def seat_points(settlements: gpd.GeoDataFrame, codes: pd.Series, level: str, key: str) -> gpd.GeoDataFrame:
    """The seat point of each unit (a township's town seat, a village's village seat), in order.

    Parameters
    ----------
    settlements : geopandas.GeoDataFrame
        The ``settlement`` layer (or derived seats, :attr:`pianqu.inputs.PlanInputs.settlements`).
    codes : pandas.Series
        Unit codes; the result follows their order.
    level : str
        Settlement level of the seats: ``town_seat`` or ``village_seat``.
    key : str
        Column of ``settlements`` that holds the unit code: ``township_code`` or ``village_code``.

    Returns
    -------
    geopandas.GeoDataFrame
        One seat per code, in the order of ``codes``, with ``key`` as a column.

    Raises
    ------
    pianqu.errors.UserValueError
        Some units have no seat; the message names them.

    Examples
    --------
    >>> seats = pianqu.seat_points(inputs.settlements, units["code"], "town_seat", "township_code")  # doctest: +SKIP
    """
    s = settlements[settlements["level"].astype(str) == level].copy()
    s[key] = s[key].astype(str)
    s = s.drop_duplicates(key).set_index(key)
    missing = [c for c in codes.astype(str) if c not in s.index]
    if missing:
        raise UserValueError("network.error.no_seat", level=level, key=key, n=len(missing),
                             codes=", ".join(missing[:5]) + (" …" if len(missing) > 5 else ""))
    return gpd.GeoDataFrame(s.loc[codes.astype(str)].reset_index(), crs=settlements.crs)
