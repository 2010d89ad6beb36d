"""The raster the terrain, drainage and road routing live on, and graph helpers over it.

Cells are square, in metres of the county's GK zone; row 0 is the southern row. A cell's flat
index is ``row * nx + col``. Graph edges join the 8 neighbours of a cell.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import shapely
from scipy.sparse.csgraph import dijkstra

# neighbour offsets (drow, dcol) that cover each undirected 8-neighbour edge once
_OFFSETS = ((0, 1), (1, 0), (1, 1), (1, -1))


@dataclass(frozen=True)
class Grid:
    x0: float  # west edge (m)
    y0: float  # south edge (m)
    cell: float  # cell size (m)
    nx: int
    ny: int

    @property
    def size(self) -> int:
        return self.nx * self.ny

    @property
    def shape(self) -> tuple[int, int]:
        return (self.ny, self.nx)

    def centers(self) -> tuple[np.ndarray, np.ndarray]:
        """Cell-centre coordinates, each of shape (ny, nx)."""
        xs = self.x0 + (np.arange(self.nx) + 0.5) * self.cell
        ys = self.y0 + (np.arange(self.ny) + 0.5) * self.cell
        return np.meshgrid(xs, ys)

    def xy(self, idx: np.ndarray) -> np.ndarray:
        """Centre coordinates (n, 2) of flat cell indices."""
        idx = np.asarray(idx)
        r, c = np.divmod(idx, self.nx)
        return np.column_stack([self.x0 + (c + 0.5) * self.cell, self.y0 + (r + 0.5) * self.cell])

    def index(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Flat index of the cell containing each point (clipped to the grid)."""
        c = np.clip(((np.asarray(x) - self.x0) / self.cell).astype(np.int64), 0, self.nx - 1)
        r = np.clip(((np.asarray(y) - self.y0) / self.cell).astype(np.int64), 0, self.ny - 1)
        return r * self.nx + c

    def sample(self, field: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Bilinear sample of a (ny, nx) field at points."""
        fx = np.clip((np.asarray(x) - self.x0) / self.cell - 0.5, 0, self.nx - 1.000001)
        fy = np.clip((np.asarray(y) - self.y0) / self.cell - 0.5, 0, self.ny - 1.000001)
        c0 = np.floor(fx).astype(np.int64)
        r0 = np.floor(fy).astype(np.int64)
        tx, ty = fx - c0, fy - r0
        c1 = np.minimum(c0 + 1, self.nx - 1)
        r1 = np.minimum(r0 + 1, self.ny - 1)
        return ((field[r0, c0] * (1 - tx) + field[r0, c1] * tx) * (1 - ty)
                + (field[r1, c0] * (1 - tx) + field[r1, c1] * tx) * ty)


def make_grid(bounds: tuple[float, float, float, float], cell: float, margin: float) -> Grid:
    x0, y0, x1, y1 = bounds
    x0 -= margin
    y0 -= margin
    nx = int(np.ceil((x1 + margin - x0) / cell))
    ny = int(np.ceil((y1 + margin - y0) / cell))
    return Grid(float(x0), float(y0), float(cell), nx, ny)


def inside_mask(grid: Grid, poly: shapely.Geometry, *, whole_cell: bool = False) -> np.ndarray:
    """Cells whose centre (or, with ``whole_cell``, all four corners) lie inside ``poly``."""
    shapely.prepare(poly)
    gx, gy = grid.centers()
    if not whole_cell:
        return shapely.contains_xy(poly, gx, gy)
    cx = grid.x0 + np.arange(grid.nx + 1) * grid.cell
    cy = grid.y0 + np.arange(grid.ny + 1) * grid.cell
    kx, ky = np.meshgrid(cx, cy)
    k = shapely.contains_xy(poly, kx, ky)
    return k[:-1, :-1] & k[:-1, 1:] & k[1:, :-1] & k[1:, 1:]


def grid_edges(grid: Grid, mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Undirected 8-neighbour edges (u, v, length) between cells (both in ``mask`` if given)."""
    ny, nx = grid.shape
    idx = np.arange(grid.size).reshape(ny, nx)
    us, vs, ls = [], [], []
    for dr, dc in _OFFSETS:
        r0, r1 = 0, ny - dr
        c0, c1 = max(0, -dc), nx - max(0, dc)
        a = idx[r0:r1, c0:c1]
        b = idx[r0 + dr:r1 + dr, c0 + dc:c1 + dc]
        if mask is not None:
            keep = mask[r0:r1, c0:c1] & mask[r0 + dr:r1 + dr, c0 + dc:c1 + dc]
            a, b = a[keep], b[keep]
        else:
            a, b = a.ravel(), b.ravel()
        us.append(a.ravel())
        vs.append(b.ravel())
        ls.append(np.full(a.size, grid.cell * (np.sqrt(2.0) if dr and dc else 1.0)))
    return np.concatenate(us), np.concatenate(vs), np.concatenate(ls)


class CellGraph:
    """A routing graph over the cells of a mask: compact node ids, symmetric weights."""

    def __init__(self, grid: Grid, mask: np.ndarray):
        self.grid = grid
        self.mask = mask
        self.cells = np.flatnonzero(mask.ravel())  # node id -> flat cell index
        self.node = np.full(grid.size, -1, dtype=np.int64)
        self.node[self.cells] = np.arange(len(self.cells))
        u, v, length = grid_edges(grid, mask)
        self.u = self.node[u]
        self.v = self.node[v]
        self.length = length
        # CSR structure built once; ``matrix`` only permutes new weights into it
        rows = np.concatenate([self.u, self.v])
        cols = np.concatenate([self.v, self.u])
        self._perm = np.lexsort((cols, rows))
        self._indices = cols[self._perm].astype(np.int32)
        self._indptr = np.searchsorted(rows[self._perm], np.arange(self.n + 1)).astype(np.int32)

    @property
    def n(self) -> int:
        return len(self.cells)

    def matrix(self, weight: np.ndarray) -> sp.csr_matrix:
        """Symmetric sparse adjacency with the given per-edge weight (> 0)."""
        w = np.maximum(np.asarray(weight, dtype=float), 1e-6)
        data = np.concatenate([w, w])[self._perm]
        return sp.csr_matrix((data, self._indices, self._indptr), shape=(self.n, self.n))

    def shortest(self, weight: np.ndarray, sources: np.ndarray, *, min_only: bool = True,
                 limit: float = np.inf):
        """Multi-source Dijkstra: (dist, predecessor, source) per node."""
        m = self.matrix(weight)
        dist, pred, src = dijkstra(m, directed=False, indices=np.asarray(sources, dtype=np.int64),
                                   min_only=min_only, return_predecessors=True, limit=limit)
        return dist, pred, src


def trace(pred: np.ndarray, start: int) -> list[int]:
    """Node path from ``start`` back to its Dijkstra source (inclusive)."""
    path = [int(start)]
    p = pred[start]
    while p >= 0:
        path.append(int(p))
        p = pred[p]
    return path


def depth_from_parent(parent: np.ndarray, root: int) -> np.ndarray:
    """Number of steps from each node to ``root`` in a rooted tree given as a parent array
    (parent[root] = root), by pointer jumping (vectorised, O(log depth) passes)."""
    n = len(parent)
    jump = parent.copy()
    dist = np.where(np.arange(n) == root, 0, 1).astype(np.int64)
    active = jump != root
    while active.any():
        a = np.flatnonzero(active)
        dist[a] += dist[jump[a]]
        jump[a] = jump[jump[a]]
        active = jump != root
        active[root] = False
    return dist
