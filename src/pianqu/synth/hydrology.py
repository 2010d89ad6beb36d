"""Drainage on the terrain grid: flow directions, catchment areas, streams, Strahler order,
valley carving and the river polylines.

Flow directions come from the minimum spanning tree (MST) of the 8-neighbour grid graph with
edge weight ``max(z_u, z_v)`` (minus a tiny bonus for steeper edges, so among equal passes
the steepest descent wins), rooted at a virtual outlet joined to every border cell. The tree
path from a cell to the outlet minimises the highest point crossed: water leaves a
depression over its lowest pass, as it would on a pit-filled DEM. All steps are vectorised
(scipy's MST and BFS, pointer jumping for depths, one ``np.add.at`` per depth level).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import shapely
from scipy import ndimage
from scipy.sparse.csgraph import breadth_first_order, minimum_spanning_tree

from pianqu.synth._util import chaikin
from pianqu.synth.grid import Grid, depth_from_parent, grid_edges


@dataclass
class Drainage:
    parent: np.ndarray  # (size,) downstream cell, -1 at outlets
    acc_km2: np.ndarray  # (ny, nx)
    river: np.ndarray  # (ny, nx) bool
    order: np.ndarray  # (ny, nx) int
    river_dist: np.ndarray  # (ny, nx) m
    river_near: np.ndarray  # (ny, nx) flat index of nearest river cell
    depth: np.ndarray  # (size,) steps to the outlet


def drain(grid: Grid, z: np.ndarray, stream_km2: float) -> Drainage:
    """Flow tree, catchment areas and streams (cells draining ≥ ``stream_km2``)."""
    n = grid.size
    zf = z.ravel()
    u, v, length = grid_edges(grid)
    hi = np.maximum(zf[u], zf[v])
    drop = np.abs(zf[u] - zf[v]) / length
    base = hi - zf.min() + 1.0
    w = base - 1e-3 * drop
    # virtual outlet joined to every border cell
    ny, nx = grid.shape
    idx = np.arange(n).reshape(ny, nx)
    border = np.unique(np.concatenate([idx[0], idx[-1], idx[:, 0], idx[:, -1]]))
    root = n
    uu = np.concatenate([u, border])
    vv = np.concatenate([v, np.full(len(border), root)])
    ww = np.concatenate([w, zf[border] - zf.min() + 1.0])
    g = sp.csr_matrix((ww, (uu, vv)), shape=(n + 1, n + 1))
    mst = minimum_spanning_tree(g)
    _, pred = breadth_first_order(mst, root, directed=False, return_predecessors=True)
    parent_full = pred.copy()
    parent_full[root] = root
    depth = depth_from_parent(parent_full, root)[:n]
    parent = parent_full[:n].copy()
    parent[parent == root] = -1
    # flow accumulation, deepest level first
    cell_km2 = grid.cell ** 2 / 1e6
    acc = np.full(n, cell_km2)
    by_depth = np.argsort(-depth, kind="stable")
    d_sorted = depth[by_depth]
    cuts = np.flatnonzero(np.diff(d_sorted)) + 1
    for level in np.split(by_depth, cuts):
        p = parent[level]
        ok = p >= 0
        np.add.at(acc, p[ok], acc[level[ok]])
    river = acc >= stream_km2
    strahler = _strahler(parent, river, by_depth)
    river2 = river.reshape(grid.shape)
    if river2.any():
        dist, (ri, ci) = ndimage.distance_transform_edt(~river2, return_indices=True)
        near = ri * nx + ci
    else:
        dist = np.full(grid.shape, np.inf)
        near = np.zeros(grid.shape, dtype=np.int64)
    return Drainage(parent, acc.reshape(grid.shape), river2, strahler.reshape(grid.shape),
                    dist * grid.cell, near, depth)


def _strahler(parent: np.ndarray, river: np.ndarray, upstream_first: np.ndarray) -> np.ndarray:
    """Strahler order of stream cells (0 elsewhere), sources first."""
    n = len(parent)
    order = np.zeros(n, dtype=np.int64)
    best = np.zeros(n, dtype=np.int64)  # highest order among upstream stream cells
    count = np.zeros(n, dtype=np.int64)  # how many upstream stream cells carry ``best``
    cells = upstream_first[river[upstream_first]]
    par = parent.tolist()
    o = order.tolist()
    b = best.tolist()
    c = count.tolist()
    for i in cells.tolist():
        if b[i] == 0:
            oi = 1
        elif c[i] >= 2:
            oi = b[i] + 1
        else:
            oi = b[i]
        o[i] = oi
        p = par[i]
        if p >= 0:
            if oi > b[p]:
                b[p] = oi
                c[p] = 1
            elif oi == b[p]:
                c[p] += 1
    return np.asarray(o, dtype=np.int64)


def river_profile(dr: Drainage, z: np.ndarray) -> np.ndarray:
    """Stream-bed elevation: the terrain, lowered so it never rises downstream (rivers cut
    through the ridges they cross instead of pooling behind them)."""
    zf = z.ravel()
    river = dr.river.ravel()
    bed = np.where(river, zf, np.inf)
    by_depth = np.argsort(-dr.depth, kind="stable")
    sel = by_depth[river[by_depth]]
    d_sorted = dr.depth[sel]
    cuts = np.flatnonzero(np.diff(d_sorted)) + 1
    for level in np.split(sel, cuts):
        p = dr.parent[level]
        ok = p >= 0
        np.minimum.at(bed, p[ok], bed[level[ok]])
    return np.where(river, bed, zf).reshape(z.shape)


def carve(grid: Grid, z: np.ndarray, dr: Drainage, shape: dict, gen: np.random.Generator) -> np.ndarray:
    """Lower the terrain into valleys: at most bed + tan(side) × (distance beyond the floor)."""
    if not dr.river.any():
        return z
    bed = river_profile(dr, z).ravel()
    near = dr.river_near
    zb = bed[near]
    floor_half = 0.5 * shape["floor"] * np.sqrt(dr.acc_km2.ravel()[near])
    side = np.tan(np.radians(shape["side"]))
    relief = max(float(z.max() - z.min()), 1.0)
    wall = np.maximum(dr.river_dist - floor_half, 0.0) * side
    jitter = 0.01 * relief * ndimage.gaussian_filter(gen.standard_normal(z.shape), 2)
    return np.minimum(z, zb + wall + np.abs(jitter))


def river_lines(grid: Grid, dr: Drainage, county: shapely.Geometry, min_order: int = 1):
    """Stream polylines inside the county, split at confluences: list of (LineString, order)."""
    n = grid.size
    river = dr.river.ravel() & (dr.order.ravel() >= min_order)
    order = dr.order.ravel()
    parent = dr.parent
    cells = np.flatnonzero(river)
    if len(cells) == 0:
        return []
    ups = np.zeros(n, dtype=np.int64)
    p = parent[cells]
    ok = p >= 0
    np.add.at(ups, p[ok], 1)
    # a chain starts at a source, below a confluence, or where the order changes
    start = np.zeros(n, dtype=bool)
    start[cells] = ups[cells] != 1
    single = cells[ok & (ups[p.clip(0)] == 1)]
    chg = single[order[single] != order[parent[single]]]
    start[parent[chg]] = True
    xy = grid.xy(np.arange(n))
    lines = []
    par = parent.tolist()
    st = start.tolist()
    rv = river.tolist()
    for s in np.flatnonzero(start & river).tolist():
        path = [s]
        cur = s
        while True:
            nxt = par[cur]
            if nxt < 0 or not rv[nxt]:
                break
            path.append(nxt)
            if st[nxt]:
                break
            cur = nxt
        if len(path) < 2:
            continue
        coords = chaikin(xy[path], 2)
        lines.append((shapely.LineString(coords), int(order[s])))
    if not lines:
        return []
    geoms = np.array([g for g, _ in lines], dtype=object)
    orders = np.array([o for _, o in lines])
    clipped = shapely.intersection(geoms, county)
    out = []
    for g, o in zip(clipped, orders):
        if g.is_empty:
            continue
        parts = shapely.get_parts(shapely.line_merge(g)) if g.geom_type == "MultiLineString" else [g]
        for part in parts:
            if part.geom_type == "LineString" and part.length > grid.cell:
                out.append((part, int(o)))
    return out
