"""A routable road graph from a road layer (``pianqu.schema`` layer ``road``).

Building (all vectorised):

1. check the layer (empty, no CRS, bad or multi-part geometry, zero length, duplicates, missing
   class, bad speed): every problem becomes a :class:`~pianqu.findings.Finding`, never a crash;
2. project to the county's CGCS2000 3° GK zone;
3. node: line ends, vertices shared by two roads, ends lying on another road (T junctions) and,
   when ``network.node_crossings`` is on, proper crossings of two at-grade roads; junction points
   closer than ``network.snap_tolerance_m`` are one node (single linkage, KD-tree);
4. split every road at its nodes into edges with length (m), speed (road speed, else the class
   default of ``Config.road_speeds``) and time per mode; one-way roads are one-way in ``drive``;
   expressways (``network.grade_separated_classes``) are closed to ``walk``;
5. CSR adjacency per mode (the fastest of parallel arcs) and weak components.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from pianqu.config import Config, load_config
from pianqu.errors import UserValueError
from pianqu.findings import Finding
from pianqu.geo import compute_epsg
from pianqu.standards import road_classes

MODES = ("drive", "walk")
LAYER = "road"


@dataclass(frozen=True)
class Arcs:
    """Directed arcs of one mode: CSR adjacency (seconds) and, per stored entry, its edge."""

    matrix: sp.csr_matrix  # n × n, data = time in s of the fastest arc u→v
    edge: np.ndarray  # per CSR entry (in CSR order): edge index
    forward: np.ndarray  # per CSR entry: True when the arc runs u→v of its edge

    def arc_index(self, tail: np.ndarray, head: np.ndarray) -> np.ndarray:
        """CSR entry of each arc tail→head (−1 where there is none)."""
        m = self.matrix
        n = m.shape[0]
        want = np.asarray(tail, dtype=np.int64) * n + np.asarray(head, dtype=np.int64)
        if m.nnz == 0:
            return np.full(len(want), -1)
        # CSR order is sorted by (tail, head): the keys are sorted
        keys = np.repeat(np.arange(n, dtype=np.int64), np.diff(m.indptr)) * n + m.indices
        pos = np.minimum(np.searchsorted(keys, want), len(keys) - 1)
        return np.where(keys[pos] == want, pos, -1)


@dataclass(frozen=True)
class RoadGraph:
    """A noded road graph in the county's GK zone.

    ``edges`` (GeoDataFrame, CRS ``epsg``): one row per edge with ``u``, ``v`` (node indices),
    ``road`` (road id), ``class``, ``rank``, ``length_m``, ``speed_kmh``, ``oneway``, ``lanes``,
    ``width_m``, ``time_drive_s``, ``time_walk_s`` (inf where walking is not allowed).
    ``node_xy`` are node coordinates (m). ``findings`` are the problems met while building.
    """

    epsg: int
    node_xy: np.ndarray
    edges: gpd.GeoDataFrame
    config: Config
    findings: tuple[Finding, ...] = ()
    stats: dict = field(default_factory=dict)

    @property
    def n_nodes(self) -> int:
        return len(self.node_xy)

    @property
    def n_edges(self) -> int:
        return len(self.edges)

    @cached_property
    def arcs(self) -> dict[str, Arcs]:
        return {mode: _arcs(self, mode) for mode in MODES}

    def csr(self, mode: str = "drive") -> sp.csr_matrix:
        """Adjacency of ``mode`` in seconds (the fastest arc between two nodes)."""
        return self.arcs[check_mode(mode)].matrix

    def edge_time(self, mode: str = "drive") -> np.ndarray:
        return self.edges[f"time_{check_mode(mode)}_s"].to_numpy(float)

    def edge_allows(self, mode: str = "drive") -> tuple[np.ndarray, np.ndarray]:
        """(forward u→v allowed, backward v→u allowed) per edge for ``mode``."""
        open_ = np.isfinite(self.edge_time(mode))
        if mode == "walk":
            return open_, open_
        return open_, open_ & ~self.edges["oneway"].to_numpy(bool)

    @cached_property
    def undirected(self) -> sp.csr_matrix:
        """Symmetric 0/1 adjacency of all non-loop edges (any mode), simple graph."""
        e = self.edges
        keep = (e["u"] != e["v"]).to_numpy()
        u, v = e["u"].to_numpy()[keep], e["v"].to_numpy()[keep]
        m = sp.coo_matrix((np.ones(2 * len(u)), (np.r_[u, v], np.r_[v, u])), shape=(self.n_nodes,) * 2)
        m = m.tocsr()
        m.data[:] = 1.0
        return m

    @cached_property
    def reducible_share(self) -> float:
        """Share of nodes with at most two distinct neighbours (dead ends, chains): what a
        contraction before many-to-many searches could remove."""
        if self.n_nodes == 0:
            return 0.0
        return float((np.diff(self.undirected.indptr) <= 2).mean())

    @cached_property
    def degree(self) -> np.ndarray:
        """Number of edge ends at each node, self-loops excluded (parallel edges counted)."""
        e = self.edges
        keep = (e["u"] != e["v"]).to_numpy()
        return np.bincount(np.r_[e["u"].to_numpy()[keep], e["v"].to_numpy()[keep]],
                           minlength=self.n_nodes)

    @cached_property
    def component(self) -> np.ndarray:
        """Weak component label of every node, 0 = the component with the longest road length."""
        if self.n_nodes == 0:
            return np.zeros(0, dtype=np.int64)
        _, lab = connected_components(self.undirected, directed=False)
        length = np.bincount(lab[self.edges["u"].to_numpy()], weights=self.edges["length_m"].to_numpy(),
                             minlength=lab.max() + 1)
        order = np.argsort(-length, kind="stable")
        rank = np.empty_like(order)
        rank[order] = np.arange(len(order))
        return rank[lab]

    @property
    def n_components(self) -> int:
        return int(self.component.max()) + 1 if self.n_nodes else 0

    def nodes_frame(self) -> gpd.GeoDataFrame:
        """Nodes as points (CRS ``epsg``) with degree and component."""
        return gpd.GeoDataFrame(
            {"node": np.arange(self.n_nodes), "degree": self.degree, "component": self.component},
            geometry=shapely.points(self.node_xy), crs=self.epsg)


def _compute_epsg(gdf: gpd.GeoDataFrame) -> int:
    """The county's GK zone; outside China (test data such as Helsinki) the local UTM zone."""
    try:
        return compute_epsg(gdf)
    except ValueError:
        return int(gdf.estimate_utm_crs().to_epsg())


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise UserValueError("network.error.unknown_mode", mode=mode, modes=", ".join(f"`{m}`" for m in MODES))
    return mode


def _arcs(g: RoadGraph, mode: str) -> Arcs:
    n = g.n_nodes
    e = g.edges
    t = g.edge_time(mode)
    fw, bw = g.edge_allows(mode)
    u, v = e["u"].to_numpy(), e["v"].to_numpy()
    idx = np.arange(len(e))
    tail = np.r_[u[fw], v[bw]]
    head = np.r_[v[fw], u[bw]]
    w = np.r_[t[fw], t[bw]]
    eid = np.r_[idx[fw], idx[bw]]
    forward = np.r_[np.ones(fw.sum(), bool), np.zeros(bw.sum(), bool)]
    keep = tail != head
    tail, head, w, eid, forward = tail[keep], head[keep], w[keep], eid[keep], forward[keep]
    order = np.lexsort((w, head, tail))  # by tail, head, then fastest first
    tail, head, w, eid, forward = tail[order], head[order], w[order], eid[order], forward[order]
    first = np.ones(len(tail), bool)
    first[1:] = (tail[1:] != tail[:-1]) | (head[1:] != head[:-1])
    tail, head, w, eid, forward = tail[first], head[first], w[first], eid[first], forward[first]
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(tail, minlength=n), out=indptr[1:])
    m = sp.csr_matrix((w, head, indptr), shape=(n, n))
    return Arcs(m, eid, forward)


# -- building ------------------------------------------------------------------------------------

def _ids(roads: gpd.GeoDataFrame) -> pd.Series:
    if "id" in roads.columns:
        ids = roads["id"].astype("string").fillna("")
        return ids.where(ids != "", pd.Series([f"#{i}" for i in range(len(roads))], index=roads.index))
    return pd.Series([f"#{i}" for i in range(len(roads))], index=roads.index, dtype="string")


def empty_graph(epsg: int, config: Config, findings: list[Finding]) -> RoadGraph:
    edges = gpd.GeoDataFrame(
        {"u": np.zeros(0, np.int64), "v": np.zeros(0, np.int64), "road": pd.Series([], dtype=str),
         "class": pd.Series([], dtype=str), "rank": np.zeros(0, int), "length_m": np.zeros(0),
         "speed_kmh": np.zeros(0), "oneway": np.zeros(0, bool), "lanes": np.zeros(0),
         "width_m": np.zeros(0), "time_drive_s": np.zeros(0), "time_walk_s": np.zeros(0)},
        geometry=gpd.GeoSeries([], crs=epsg), crs=epsg)
    return RoadGraph(epsg, np.zeros((0, 2)), edges, config, tuple(findings), {"roads": 0})


def build_graph(roads: gpd.GeoDataFrame, *, config: Config | None = None, epsg: int | None = None,
                snap_tolerance_m: float | None = None, node_crossings: bool | None = None,
                source: str = "") -> RoadGraph:
    """Build the routable graph of a road layer (any CRS; computed in the GK zone ``epsg``).

    Problems in the layer are returned in ``graph.findings`` (the caller's frame is not changed):
    an empty layer gives an empty graph and an error finding; multi-part lines are split into their
    parts; zero-length and duplicated segments are dropped; a missing or unknown class is taken as
    the slowest class (``village``); a missing or non-positive ``speed_kmh`` falls back to the class
    default.

    Parameters
    ----------
    roads : geopandas.GeoDataFrame
        Road centrelines with ``class`` (``standards.road_classes``) and optionally ``id``,
        ``speed_kmh``, ``oneway``, ``lanes``, ``width_m``.
    config : pianqu.config.Config, optional
        Thresholds and road speeds in force (default the shipped ones; ``ws.config()`` for a
        workspace's ``pianqu.toml``).
    epsg : int, optional
        The projected CRS to compute in; default the CGCS2000 3° GK zone of the roads' centre.
    snap_tolerance_m : float, optional
        Ends closer than this are joined (default ``network.snap_tolerance_m``).
    node_crossings : bool, optional
        Node lines where they cross (default ``network.node_crossings``).
    source : str, default ""
        The file the layer came from, copied into the findings.

    Returns
    -------
    RoadGraph
        ``edges`` (one row per edge: ``u``, ``v``, ``class``, ``length_m``, ``speed_kmh``,
        ``time_drive_s``, ``time_walk_s`` …), ``node_xy``, ``epsg``, ``findings``.

    Examples
    --------
    >>> g = pianqu.build_graph(ws.read("road"), config=ws.config())       # doctest: +SKIP
    """
    cfg = config or load_config()
    tol = float(cfg["network.snap_tolerance_m"] if snap_tolerance_m is None else snap_tolerance_m)
    crossings = bool(cfg["network.node_crossings"] if node_crossings is None else node_crossings)
    findings: list[Finding] = []

    def add(sev: str, rule: str, feature: str = "", fld: str = "", **params) -> None:
        findings.append(Finding(sev, f"network.{rule}", LAYER, feature, fld, params, source))

    if roads is None or len(roads) == 0:
        add("error", "empty")
        return empty_graph(epsg or 0, cfg, findings)
    if roads.crs is None:
        add("error", "no_crs")
        return empty_graph(epsg or 0, cfg, findings)
    ids = _ids(roads)
    geom = roads.geometry.reset_index(drop=True)
    bad = (geom.isna() | geom.is_empty | ~geom.geom_type.isin(["LineString", "MultiLineString"])).to_numpy()
    for i in np.flatnonzero(bad):
        add("error", "bad_geometry", ids.iloc[i], "geometry",
            kind="empty" if geom.iloc[i] is None or geom.iloc[i].is_empty else geom.iloc[i].geom_type)
    if bad.all():
        add("error", "empty")
        return empty_graph(epsg or 0, cfg, findings)
    epsg = epsg or _compute_epsg(roads[~bad])
    proj = geom.to_crs(epsg)

    # attributes -----------------------------------------------------------------------------
    classes = road_classes().set_index("class")
    speeds = dict(cfg.road_speeds)
    slowest = classes["rank"].idxmax()
    cls = (roads["class"] if "class" in roads.columns else pd.Series(pd.NA, index=roads.index))
    cls = cls.astype("string").str.strip().reset_index(drop=True)
    missing = (cls.isna() | (cls == "")).to_numpy() & ~bad
    unknown = ~missing & ~cls.fillna("").isin(list(speeds)).to_numpy() & ~bad
    for i in np.flatnonzero(missing):
        add("warning", "missing_class", ids.iloc[i], "class", assumed=slowest)
    for i in np.flatnonzero(unknown):
        add("warning", "unknown_class", ids.iloc[i], "class", value=str(cls.iloc[i]), assumed=slowest,
            known=", ".join(speeds))
    cls = cls.where(~(missing | unknown), slowest).fillna(slowest)

    def num(col: str) -> np.ndarray:
        if col not in roads.columns:
            return np.full(len(roads), np.nan)
        return pd.to_numeric(roads[col], errors="coerce").to_numpy(float)

    speed = num("speed_kmh")
    given = ~np.isnan(speed)
    badspeed = given & ~(speed > 0) & ~bad
    for i in np.flatnonzero(badspeed):
        add("warning", "bad_speed", ids.iloc[i], "speed_kmh", value=float(speed[i]),
            default=float(speeds[cls.iloc[i]]))
    class_speed = cls.map(speeds).to_numpy(float)
    speed = np.where(given & (speed > 0), speed, class_speed)
    oneway = (roads["oneway"].astype("boolean").fillna(False).to_numpy(bool)
              if "oneway" in roads.columns else np.zeros(len(roads), bool))
    lanes, width = num("lanes"), num("width_m")
    grade_sep = cls.isin(list(cfg["network.grade_separated_classes"])).to_numpy().copy()
    if "grade_separated" in roads.columns:
        grade_sep |= roads["grade_separated"].astype("boolean").fillna(False).to_numpy(bool)

    # explode multi-part lines ----------------------------------------------------------------
    keep = np.flatnonzero(~bad)
    parts, part_of = shapely.get_parts(proj.to_numpy()[keep], return_index=True)
    row = keep[part_of]  # input row of every part
    multi = np.bincount(part_of, minlength=len(keep)) > 1
    for i in keep[multi]:
        add("warning", "multipart", ids.iloc[i], "geometry", parts=int((row == i).sum()))

    # zero length, duplicates -------------------------------------------------------------------
    plen = shapely.length(parts)
    zero = plen <= 1e-9
    for i in np.unique(row[zero]):
        add("warning", "zero_length", ids.iloc[i], "geometry")
    norm = shapely.to_wkb(shapely.normalize(parts))
    key = pd.Series(norm)
    dup = key.duplicated(keep="first").to_numpy() & ~zero
    if dup.any():
        first_of = key.groupby(key).transform(lambda s: s.index[0]).to_numpy()
        # opposite one-way carriageways drawn on the same line are not duplicates
        same_dir = shapely.equals_exact(parts, parts[first_of], tolerance=0.0)
        dup &= ~(oneway[row] & oneway[row[first_of]] & ~same_dir)
        for i in np.flatnonzero(dup):
            add("warning", "duplicate", ids.iloc[row[i]], "geometry", other=str(ids.iloc[row[first_of[i]]]))
    use = ~zero & ~dup
    parts, row = parts[use], row[use]
    if len(parts) == 0:
        add("error", "empty")
        return empty_graph(epsg, cfg, findings)

    node_xy, edge_u, edge_v, edge_line, edge_len, edge_geom = _node_and_split(
        parts, tol, crossings, grade_sep[row])

    r = row[edge_line]
    length = edge_len
    spd = speed[r]
    t_drive = length / (spd / 3.6)
    walk_kmh = float(cfg["network.walk_speed_kmh"])
    walk_closed = cls.isin(list(cfg["network.grade_separated_classes"])).to_numpy()[r]
    t_walk = np.where(walk_closed, np.inf, length / (walk_kmh / 3.6))
    edges = gpd.GeoDataFrame({
        "u": edge_u, "v": edge_v, "road": ids.to_numpy()[r].astype(str), "road_row": r,
        "class": cls.to_numpy()[r].astype(str),
        "rank": cls.map(classes["rank"]).to_numpy()[r].astype(int),
        "length_m": length, "speed_kmh": spd, "oneway": oneway[r], "lanes": lanes[r],
        "width_m": width[r], "time_drive_s": t_drive, "time_walk_s": t_walk,
    }, geometry=gpd.GeoSeries(edge_geom, crs=epsg), crs=epsg)
    stats = {"roads": int(len(roads)), "parts": int(len(parts)), "nodes": int(len(node_xy)),
             "edges": int(len(edges)), "snap_tolerance_m": tol, "node_crossings": crossings}
    return RoadGraph(epsg, node_xy, edges, cfg, tuple(findings), stats)


def _node_and_split(lines: np.ndarray, tol: float, crossings: bool, grade_sep: np.ndarray):
    """Find junctions on ``lines`` (projected) and split them into edges.

    Returns node_xy, u, v, line index, length and geometry of every edge (zero-length pieces
    and degenerate loops shorter than ``tol`` dropped).
    """
    xy, li = shapely.get_coordinates(lines, return_index=True)
    nl = len(lines)
    repeat = np.r_[False, (li[1:] == li[:-1]) & np.all(xy[1:] == xy[:-1], axis=1)]
    xy, li = xy[~repeat], li[~repeat]
    start = np.r_[0, np.flatnonzero(np.diff(li)) + 1]
    end = np.r_[start[1:] - 1, len(li) - 1]
    seg = np.r_[0.0, np.hypot(*np.diff(xy, axis=0).T)]
    seg[start] = 0.0
    pos = np.cumsum(seg)
    pos -= np.repeat(pos[start], np.diff(np.r_[start, len(li)]))
    is_end = np.zeros(len(li), bool)
    is_end[start] = True
    is_end[end] = True

    # interior vertices shared (to the millimetre) with another road, or twice on one road
    vkey = _point_keys(xy)
    pair = np.unique(vkey * np.int64(nl) + li)
    lines_at = np.bincount(pair // nl, minlength=vkey.max() + 1)
    verts_at = np.bincount(vkey, minlength=vkey.max() + 1)
    # a closed ring's first and last vertex coincide but are ends anyway
    ring_dup = np.bincount(vkey[is_end], minlength=vkey.max() + 1)
    shared = (lines_at[vkey] >= 2) | ((verts_at[vkey] - ring_dup[vkey] + np.minimum(ring_dup[vkey], 1)) >= 2)
    is_node = is_end | shared

    extra_line: list[np.ndarray] = []
    extra_pos: list[np.ndarray] = []
    # T junctions: a loose end (not on another road's vertex) within tol of another road's interior
    ends = np.flatnonzero(is_end & (lines_at[vkey] == 1))
    end_pts = shapely.points(xy[ends])
    tree = shapely.STRtree(lines)
    p_idx, l_idx = tree.query(end_pts, predicate="dwithin", distance=tol)
    own = li[ends[p_idx]]
    sel = l_idx != own
    p_idx, l_idx = p_idx[sel], l_idx[sel]
    if len(p_idx):
        at = shapely.line_locate_point(lines[l_idx], end_pts[p_idx])
        ln = shapely.length(lines[l_idx])
        inner = (at > tol) & (at < ln - tol)
        extra_line.append(l_idx[inner])
        extra_pos.append(at[inner])
    # proper crossings between at-grade roads
    if crossings:
        cl, cp = _crossings(xy, li, pos, is_end, grade_sep)
        extra_line.append(cl)
        extra_pos.append(cp)

    if extra_line:
        el = np.concatenate(extra_line)
        ep = np.concatenate(extra_pos)
        exy = shapely.get_coordinates(shapely.line_interpolate_point(lines[el], ep))
        li = np.r_[li, el]
        pos = np.r_[pos, ep]
        xy = np.r_[xy, exy]
        is_node = np.r_[is_node, np.ones(len(el), bool)]
        is_first = np.r_[np.isin(np.arange(len(is_end)), start), np.zeros(len(el), bool)]
        # order along each line; at equal position an original vertex first, a line's start first
        order = np.lexsort((~is_first, pos, li))
        li, pos, xy, is_node = li[order], pos[order], xy[order], is_node[order]

    # cluster junction points within tol into nodes
    nidx = np.flatnonzero(is_node)
    pts = xy[nidx]
    if tol > 0 and len(pts) > 1:
        pairs = cKDTree(pts).query_pairs(tol, output_type="ndarray")
        adj = sp.coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(len(pts),) * 2)
        _, lab = connected_components(adj, directed=False)
    else:
        lab = _point_keys(pts)
    nn = int(lab.max()) + 1
    cnt = np.bincount(lab, minlength=nn)
    node_xy = np.c_[np.bincount(lab, pts[:, 0], nn) / cnt, np.bincount(lab, pts[:, 1], nn) / cnt]
    node_of = np.full(len(li), -1)
    node_of[nidx] = lab

    # split: every vertex belongs to the edge that starts at the last node at or before it
    newline = np.r_[True, li[1:] != li[:-1]]
    nodes_so_far = np.cumsum(is_node)
    # edge serial (global): count of nodes seen before + within line, minus the line count
    k = nodes_so_far - 1  # global index of the last node at/before each vertex
    # drop "edges" that would start at a line's last node
    last_in_line = np.r_[li[1:] != li[:-1], True]
    fwd_ok = ~last_in_line
    # vertex → edge id (edge id = global node-vertex index where the edge starts)
    e_fwd = k[fwd_ok]
    v_fwd = np.flatnonzero(fwd_ok)
    # a node vertex (not a line's first) also closes the previous edge
    close = is_node & ~newline
    e_close = k[close] - 1
    v_close = np.flatnonzero(close)
    ev = np.r_[e_fwd, e_close]
    vv = np.r_[v_fwd, v_close]
    order = np.lexsort((pos[vv], ev))
    ev, vv = ev[order], vv[order]
    uniq_e, first = np.unique(ev, return_index=True)
    last = np.r_[first[1:] - 1, len(ev) - 1]
    u = node_of[vv[first]]
    v = node_of[vv[last]]
    length = pos[vv[last]] - pos[vv[first]]
    eline = li[vv[first]]
    ok = (last > first) & (length > 0) & ~((u == v) & (length <= max(tol, 1e-9) * 2))
    # rebuild geometries of kept edges
    keep_e = np.zeros(len(uniq_e), bool)
    keep_e[ok] = True
    vmask = np.repeat(keep_e, np.diff(np.r_[first, len(ev)]))
    new_id = np.cumsum(keep_e) - 1
    gid = np.repeat(new_id, np.diff(np.r_[first, len(ev)]))[vmask]
    coords = xy[vv[vmask]].copy()
    # edges start and end exactly on their nodes (ends joined within tol move by less than tol)
    efirst = np.r_[0, np.flatnonzero(np.diff(gid)) + 1]
    elast = np.r_[efirst[1:] - 1, len(gid) - 1]
    coords[efirst] = node_xy[u[ok]]
    coords[elast] = node_xy[v[ok]]
    geoms = shapely.linestrings(coords, indices=gid)
    return node_xy, u[ok], v[ok], eline[ok], shapely.length(geoms), geoms


def _cross2(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]


def _crossings(xy: np.ndarray, li: np.ndarray, pos: np.ndarray, is_end: np.ndarray,
               grade_sep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where two at-grade roads meet away from their ends: (line, position along it) pairs.

    Segment against segment, vectorised: candidate pairs from an STRtree of segment boxes, then
    the exact parametric intersection of non-parallel segments. Meetings at a road's end are
    left to end clustering and T junctions; collinear overlaps are not junctions.
    """
    s = np.flatnonzero(li[:-1] == li[1:])
    s = s[~grade_sep[li[s]]]
    if len(s) < 2:
        return np.zeros(0, np.int64), np.zeros(0)
    p1, p2 = xy[s], xy[s + 1]
    segs = shapely.linestrings(np.stack([p1, p2], axis=1))
    i, j = shapely.STRtree(segs).query(segs)  # pairs whose boxes meet
    sel = (i < j) & (li[s[i]] != li[s[j]])
    i, j = i[sel], j[sel]
    d1, d2 = p2[i] - p1[i], p2[j] - p1[j]
    den = _cross2(d1, d2)
    w = p1[j] - p1[i]
    ok = den != 0
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(ok, _cross2(w, d2) / den, -1.0)
        u = np.where(ok, _cross2(w, d1) / den, -1.0)
    hit = ok & (t >= 0) & (t <= 1) & (u >= 0) & (u <= 1)
    # not at either road's own end
    at_end = ((t == 0) & is_end[s[i]]) | ((t == 1) & is_end[s[i] + 1]) | \
             ((u == 0) & is_end[s[j]]) | ((u == 1) & is_end[s[j] + 1])
    hit &= ~at_end
    i, j, t, u = i[hit], j[hit], t[hit], u[hit]
    la, lb = li[s[i]], li[s[j]]
    pa = pos[s[i]] + t * (pos[s[i] + 1] - pos[s[i]])
    pb = pos[s[j]] + u * (pos[s[j] + 1] - pos[s[j]])
    return np.r_[la, lb], np.r_[pa, pb]


def _point_keys(xy: np.ndarray) -> np.ndarray:
    """Dense labels 0..k-1 of points equal to the millimetre."""
    if len(xy) == 0:
        return np.zeros(0, dtype=np.int64)
    g = np.round(xy * 1000.0).astype(np.int64)
    g -= g.min(axis=0)
    span = g.max(axis=0) + 1
    if span[0] * float(span[1]) < 2**62:
        _, lab = np.unique(g[:, 0] * span[1] + g[:, 1], return_inverse=True)
    else:
        _, lab = np.unique(g, axis=0, return_inverse=True)
    return lab.ravel().astype(np.int64)
