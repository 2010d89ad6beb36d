"""Cost matrices for location models: network shortest paths, OR-Library files, test counties."""

from __future__ import annotations

from os import PathLike

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import shortest_path
from scipy.spatial import Delaunay


def shortest_path_costs(
    n_nodes: int,
    edges: np.ndarray,
    lengths: np.ndarray,
    *,
    sources: np.ndarray | None = None,
    targets: np.ndarray | None = None,
) -> np.ndarray:
    """All-pairs (or sources x targets) shortest-path lengths over an undirected graph.

    edges: (k, 2) node index pairs; lengths: (k,) non-negative.  If an edge appears twice
    (in either direction) the last one holds.  Unreachable pairs are ``inf``.
    """
    e = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    w = np.asarray(lengths, dtype=float).ravel()
    if e.shape[0] != w.shape[0]:
        raise ValueError(f"{e.shape[0]} edges but {w.shape[0]} lengths")
    if e.size and (e.min() < 0 or e.max() >= n_nodes):
        raise ValueError(f"edge endpoint outside range(0, {n_nodes})")
    if (w < 0).any() or np.isnan(w).any():
        raise ValueError("edge lengths must be non-negative numbers")
    keep = e[:, 0] != e[:, 1]  # self-loops never shorten a path
    e, w = e[keep], w[keep]
    lo, hi = np.minimum(e[:, 0], e[:, 1]), np.maximum(e[:, 0], e[:, 1])
    # last occurrence of each undirected edge wins
    key = lo * n_nodes + hi
    _, last_rev = np.unique(key[::-1], return_index=True)
    last = len(key) - 1 - last_rev
    lo, hi, w = lo[last], hi[last], w[last]
    # explicit zeros in a CSR matrix are edges for csgraph, so zero-length roads survive
    g = coo_matrix((w, (lo, hi)), shape=(n_nodes, n_nodes)).tocsr()
    src = None if sources is None else np.asarray(sources, dtype=np.int64)
    d = shortest_path(g, method="D", directed=False, indices=src)
    if src is not None and d.ndim == 1:
        d = d[None, :]
    if targets is not None:
        d = d[:, np.asarray(targets, dtype=np.int64)]
    return d


def read_orlib_pmed(path: str | PathLike[str]) -> tuple[np.ndarray, int]:
    """Read an OR-Library p-median file; return (n x n shortest-path cost matrix, p).

    Format: first line ``n_vertices n_edges p``, then ``i j cost`` per undirected edge
    (1-based).  Every vertex is both a demand point (weight 1) and a candidate site.
    """
    with open(path) as fh:
        tokens = fh.read().split()
    n, m, p = (int(t) for t in tokens[:3])
    data = np.asarray(tokens[3 : 3 + 3 * m], dtype=float).reshape(m, 3)
    if data.shape[0] != m:
        raise ValueError(f"{path}: header announces {m} edges, file has {data.shape[0]}")
    edges = data[:, :2].astype(np.int64) - 1
    cost = shortest_path_costs(n, edges, data[:, 2])
    if not np.isfinite(cost).all():
        raise ValueError(f"{path}: graph is not connected")
    return cost, p


def random_county_instance(
    n_villages: int = 400,
    n_candidates: int = 150,
    *,
    n_centres: int = 30,
    extent_km: float = 60.0,
    detour: tuple[float, float] = (1.15, 1.6),
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic county: village populations and road-like village x candidate distances.

    Villages are scattered over an ``extent_km`` square in a few clusters; candidate sites
    are ``n_centres`` township centres plus the largest remaining villages.  Roads are the
    Delaunay edges of all points, each lengthened by a random detour factor, so the costs
    are shortest road distances in km.  Returns (cost n_villages x n_candidates, population).
    """
    if not 0 <= n_centres <= n_candidates:
        raise ValueError("need 0 <= n_centres <= n_candidates")
    if n_candidates - n_centres > n_villages:
        raise ValueError("more village candidates than villages")
    rng = np.random.default_rng(seed)
    n_clusters = max(3, n_villages // 40)
    hubs = rng.uniform(0.1 * extent_km, 0.9 * extent_km, size=(n_clusters, 2))
    which = rng.integers(0, n_clusters, size=n_villages)
    villages = hubs[which] + rng.normal(scale=0.08 * extent_km, size=(n_villages, 2))
    villages = np.clip(villages, 0.0, extent_km)
    centres = rng.uniform(0.05 * extent_km, 0.95 * extent_km, size=(n_centres, 2))
    pts = np.vstack([villages, centres])
    tri = Delaunay(pts)
    s = tri.simplices
    edges = np.vstack([s[:, [0, 1]], s[:, [1, 2]], s[:, [0, 2]]])
    edges = np.unique(np.sort(edges, axis=1), axis=0)
    length = np.linalg.norm(pts[edges[:, 0]] - pts[edges[:, 1]], axis=1)
    length *= rng.uniform(*detour, size=length.shape[0])
    population = np.round(rng.lognormal(mean=6.5, sigma=0.6, size=n_villages))
    big = np.argsort(-population, kind="stable")[: n_candidates - n_centres]
    site_nodes = np.concatenate([np.arange(n_villages, n_villages + n_centres), np.sort(big)])
    cost = shortest_path_costs(len(pts), edges, length, sources=np.arange(n_villages), targets=site_nodes)
    return np.round(cost, 3), population


def orlib_like_graph(n: int, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Edges and lengths of a random graph built like Beasley's pmed files.

    The rule is read off the shipped files pmed1-20: n^2/50 edges in all (100/200,
    200/800, 300/1800, 400/3200); the first n-1 edges form the path 1-2-...-n, which keeps
    the graph connected; the others join two different random vertices (no self-loops,
    a few duplicates, of which the last holds); lengths are uniform integers 1..100.
    Returns (edges (k, 2) 0-based, lengths (k,)).
    """
    rng = np.random.default_rng(seed)
    n_edges = max(n - 1, n * n // 50)
    path = np.column_stack([np.arange(n - 1), np.arange(1, n)])
    k = n_edges - (n - 1)
    tail = rng.integers(0, n, size=k)
    head = (tail + rng.integers(1, max(n, 2), size=k)) % n  # uniform over the other vertices
    edges = np.vstack([path, np.column_stack([tail, head])])
    lengths = rng.integers(1, 101, size=edges.shape[0]).astype(float)
    return edges, lengths


def orlib_like_instance(n: int, p: int, *, seed: int = 0) -> tuple[np.ndarray, int]:
    """Shortest-path costs over ``orlib_like_graph(n, seed=seed)``: an instance built like
    the OR-Library pmed files (for scaling tests beyond the shipped pmed1-20; these are
    not the OR-Library files).  Returns (n x n costs, p).
    """
    edges, lengths = orlib_like_graph(n, seed=seed)
    return shortest_path_costs(n, edges, lengths), p
