"""Travel times over the road graph: origin × destination matrices, nearest-k, node times.

Snapped points enter the graph as virtual nodes: an origin on edge (u, v) at fraction f of the
edge reaches v after (1 − f)·T and u after f·T (when the edge may be used that way), plus its
access leg; a destination is reached the same way; an origin and a destination on the same edge
are also joined directly along the edge. One multi-source Dijkstra (scipy.sparse.csgraph, run
in chunks of sources to bound memory) over this augmented graph gives exact times; before it,
dead-end trees and chains of degree-2 nodes that carry no point are contracted away, which does
not change any time (see :func:`reduce_graph`).

On large graphs without a tight cut-off the matrices come from a contraction hierarchy instead
(:mod:`pianqu.network.ch`, built once per graph and mode and kept on the graph): each snapped
point becomes up to two *seeds*, the ends of its edge with the part of the edge and the access leg
already counted (the same arcs as the virtual nodes above), so the hierarchy of the road graph
itself serves any set of points. ``method="dijkstra"|"ch"`` forces one engine; both give the
same times (to float rounding, ~1e-12 s).
"""

from __future__ import annotations

from dataclasses import dataclass

import importlib.util

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components, dijkstra

from pianqu.errors import UserValueError
from pianqu.network.graph import RoadGraph, check_mode
from pianqu.network.snap import Snapped, as_snapped

DEFAULT_MEMORY_MB = 256
REDUCE_MIN_SHARE = 0.2  # contract the graph only when this share of its nodes could go
# auto: build a contraction hierarchy when the smaller side has this many points and one
# Dijkstra per point would settle this many nodes in all. Building the customizable hierarchy of
# a road graph (nested dissection of its coordinates) and querying it costs about 50 Dijkstra
# searches on the 100k-node generated province (docs/benchmarks/network.md), and loading numba
# ~0.3–1 s once per process, so below this Dijkstra answers a first call sooner.
CH_MIN_POINTS = 100
CH_MIN_WORK = 1_000_000
AT_NODE_M = 1e-6  # a snapped point this close to an edge end is at the junction (float noise, not a threshold)


def csr_min(n: int, tail: np.ndarray, head: np.ndarray, w: np.ndarray) -> sp.csr_matrix:
    """n × n CSR adjacency keeping the smallest weight of parallel arcs (zeros kept as arcs)."""
    tail = np.asarray(tail, dtype=np.int64)
    head = np.asarray(head, dtype=np.int64)
    w = np.asarray(w, dtype=float)
    order = np.lexsort((w, head, tail))
    tail, head, w = tail[order], head[order], w[order]
    first = np.ones(len(tail), bool)
    first[1:] = (tail[1:] != tail[:-1]) | (head[1:] != head[:-1])
    tail, head, w = tail[first], head[first], w[first]
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(tail, minlength=n), out=indptr[1:])
    return sp.csr_matrix((w, head, indptr), shape=(n, n))


def _arcs_of(m: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    tail = np.repeat(np.arange(m.shape[0], dtype=np.int64), np.diff(m.indptr))
    return tail, m.indices.astype(np.int64), m.data


def point_arcs(graph: RoadGraph, s: Snapped, mode: str, base: int, *, origin: bool):
    """Arcs joining snapped points (virtual nodes ``base + i``) to the ends of their edges."""
    ok = np.flatnonzero(s.edge >= 0)
    e = s.edge[ok]
    length = graph.edges["length_m"].to_numpy()[e]
    f = np.divide(s.offset_m[ok], length, out=np.zeros(len(ok)), where=length > 0)
    t = graph.edge_time(mode)[e]
    fw, bw = (a[e] for a in graph.edge_allows(mode))
    u, v = graph.edges["u"].to_numpy()[e], graph.edges["v"].to_numpy()[e]
    acc = s.access_s[ok]
    p = base + ok
    # a point at an end of its edge is at that junction: it may leave or arrive by any road there
    at_u = s.offset_m[ok] <= AT_NODE_M
    at_v = s.offset_m[ok] >= length - AT_NODE_M
    f = np.where(at_u, 0.0, np.where(at_v, 1.0, f))
    if origin:  # p→v is the forward arc, p→u the backward one
        fw, bw = fw | at_v, bw | at_u
    else:  # u→p is the forward arc, v→p the backward one
        fw, bw = fw | at_u, bw | at_v
    if origin:  # point → node
        tail = np.r_[p[fw], p[bw]]
        head = np.r_[v[fw], u[bw]]
    else:  # node → point
        tail = np.r_[u[fw], v[bw]]
        head = np.r_[p[fw], p[bw]]
    w = np.r_[((1 - f) * t + acc)[fw] if origin else (f * t + acc)[fw],
              (f * t + acc)[bw] if origin else ((1 - f) * t + acc)[bw]]
    return tail, head, w


def same_edge_arcs(graph: RoadGraph, o: Snapped, d: Snapped, mode: str, o_base: int, d_base: int):
    """Direct arcs between an origin and a destination on the same edge (along the edge)."""
    oi, di = np.flatnonzero(o.edge >= 0), np.flatnonzero(d.edge >= 0)
    left = pd.DataFrame({"edge": o.edge[oi], "o": oi})
    right = pd.DataFrame({"edge": d.edge[di], "d": di})
    pairs = left.merge(right, on="edge")
    if pairs.empty:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    e = pairs["edge"].to_numpy()
    i, j = pairs["o"].to_numpy(), pairs["d"].to_numpy()
    length = graph.edges["length_m"].to_numpy()[e]
    t = graph.edge_time(mode)[e]
    fw, bw = (a[e] for a in graph.edge_allows(mode))
    delta = d.offset_m[j] - o.offset_m[i]
    along = np.divide(np.abs(delta), length, out=np.zeros(len(e)), where=length > 0) * t
    allowed = np.where(delta >= 0, fw, bw)
    w = along + o.access_s[i] + d.access_s[j]
    return (o_base + i)[allowed], (d_base + j)[allowed], w[allowed]


@dataclass(frozen=True)
class Augmented:
    """The graph of one mode with origins and destinations added as virtual nodes."""

    matrix: sp.csr_matrix
    n_real: int
    origins: np.ndarray  # virtual node of each origin
    destinations: np.ndarray  # virtual node of each destination


def augment(graph: RoadGraph, o: Snapped, d: Snapped, mode: str) -> Augmented:
    """Add origins (sources only) and destinations (sinks only) to the graph of ``mode``."""
    n = graph.n_nodes
    o_base, d_base = n, n + len(o)
    total = d_base + len(d)
    parts = [point_arcs(graph, o, mode, o_base, origin=True),
             point_arcs(graph, d, mode, d_base, origin=False),
             same_edge_arcs(graph, o, d, mode, o_base, d_base)]
    # the point arcs are deduplicated among themselves; they never repeat a road arc
    extra = csr_min(total, *(np.concatenate([p[k] for p in parts]) for k in range(3))).tocoo()
    base = graph.csr(mode).tocoo() if n else sp.coo_matrix((0, 0))
    m = sp.csr_matrix((np.r_[base.data, extra.data], (np.r_[base.row, extra.row], np.r_[base.col, extra.col])),
                      shape=(total, total))
    return Augmented(m, n, o_base + np.arange(len(o)), d_base + np.arange(len(d)))


def _simple_undirected(n: int, tail: np.ndarray, head: np.ndarray) -> sp.csr_matrix:
    """Symmetric 0/1 pattern of the arcs (loops dropped), one entry per neighbour pair."""
    keep = tail != head
    a, b = tail[keep], head[keep]
    m = sp.csr_matrix((np.ones(2 * len(a), dtype=np.int8), (np.r_[a, b], np.r_[b, a])), shape=(n, n))
    m.sum_duplicates()
    m.data[:] = 1
    return m


def reduce_graph(m: sp.csr_matrix, keep: np.ndarray, *, min_gain: float = 0.05) -> tuple[sp.csr_matrix, np.ndarray]:
    """Contract nodes that no shortest path between ``keep`` nodes needs to visit.

    Exact: (1) dead-end trees are peeled away (a node, not in ``keep``, left with one
    neighbour is never crossed by a shortest path between other nodes); (2) every chain of
    nodes with exactly two neighbours (none in ``keep``) between junctions a and b is replaced
    by arcs a→b and b→a carrying the chain's times (two min-only Dijkstra runs over the chains
    cut loose from their junctions). The fastest of parallel arcs is kept. Nothing is done when
    fewer than ``min_gain`` of the nodes would go. Returns the reduced matrix and, for each of
    its nodes, the original node.
    """
    n = m.shape[0]
    tail, head, w = _arcs_of(m)
    und = _simple_undirected(n, tail, head)
    deg = np.diff(und.indptr).astype(np.int64)
    protect = np.zeros(n, bool)
    protect[np.asarray(keep, dtype=np.int64)] = True
    if ((deg <= 2) & ~protect).sum() < min_gain * n:
        return m, np.arange(n)
    alive = np.ones(n, bool)
    # (1) peel dead-end trees
    frontier = np.flatnonzero((deg <= 1) & ~protect)
    while len(frontier):
        alive[frontier] = False
        cnt = und.indptr[frontier + 1] - und.indptr[frontier]
        nb = und.indices[np.repeat(und.indptr[frontier], cnt) + _ranges(cnt)]
        nb = nb[alive[nb]]
        np.subtract.at(deg, nb, 1)
        nb = np.unique(nb)
        frontier = nb[(deg[nb] <= 1) & ~protect[nb]]
    # (2) chains of degree-2 nodes
    chain = alive & ~protect & (deg == 2)
    if chain.any():
        ct = tail[alive[tail] & alive[head]]
        ch = head[alive[tail] & alive[head]]
        cw = w[alive[tail] & alive[head]]
        inside = chain[ct] & chain[ch]
        sub = sp.coo_matrix((np.ones(inside.sum()), (ct[inside], ch[inside])), shape=(n, n))
        _, lab = connected_components(sub, directed=False)
        # boundary arcs: between a chain node and a junction (alive, not chain)
        out_b = chain[ct] & ~chain[ch]  # x → a
        in_b = ~chain[ct] & chain[ch]  # a → x
        # each chain has two boundary edges (a, x); copy the junction per (chain, end)
        ends = pd.DataFrame({"a": np.r_[ch[out_b], ct[in_b]], "x": np.r_[ct[out_b], ch[in_b]]})
        ends = ends.drop_duplicates()
        ends["chain"] = lab[ends["x"].to_numpy()]
        ends = ends.sort_values(["chain", "x", "a"]).reset_index(drop=True)
        ends["side"] = ends.groupby("chain").cumcount()
        ends = ends[ends.groupby("chain")["side"].transform("size").to_numpy() == 2].reset_index(drop=True)
        ends["copy"] = n + np.arange(len(ends))
        key = ends["a"].to_numpy(np.int64) * n + ends["x"].to_numpy(np.int64)
        order = np.argsort(key)
        skey, scopy = key[order], ends["copy"].to_numpy()[order]

        def copy_of(a: np.ndarray, x: np.ndarray) -> np.ndarray:
            k = a.astype(np.int64) * n + x
            pos = np.minimum(np.searchsorted(skey, k), max(len(skey) - 1, 0))
            return np.where((len(skey) > 0) & (skey[pos] == k), scopy[pos], -1) if len(skey) else np.full(len(k), -1)

        # the chains cut loose: internal arcs, x → copy(a) and copy(a) → x
        bt = np.r_[ct[inside], ct[out_b], copy_of(ct[in_b], ch[in_b])]
        bh = np.r_[ch[inside], copy_of(ch[out_b], ct[out_b]), ch[in_b]]
        bw = np.r_[cw[inside], cw[out_b], cw[in_b]]
        ok = (bt >= 0) & (bh >= 0)
        chain_m = csr_min(n + len(ends), bt[ok], bh[ok], bw[ok])
        first = ends[ends["side"] == 0]
        second = ends[ends["side"] == 1].set_index("chain").loc[first["chain"].to_numpy()]
        src = first["copy"].to_numpy()
        dst = second["copy"].to_numpy()
        ab = dijkstra(chain_m, directed=True, indices=src, min_only=True)[dst] if len(src) else np.zeros(0)
        ba = dijkstra(chain_m.T.tocsr(), directed=True, indices=src, min_only=True)[dst] if len(src) else np.zeros(0)
        a_node, b_node = first["a"].to_numpy(), second["a"].to_numpy()
        # chains whose ends could not be resolved (cycles on their own) stay as they are
        comp_ok = np.zeros(lab.max() + 1, bool)
        comp_ok[ends["chain"].to_numpy()] = True
        drop = chain & comp_ok[lab]
        alive &= ~drop
        fa, fb = np.isfinite(ab) & (a_node != b_node), np.isfinite(ba) & (a_node != b_node)
        tail = np.r_[tail, a_node[fa], b_node[fb]]
        head = np.r_[head, b_node[fa], a_node[fb]]
        w = np.r_[w, ab[fa], ba[fb]]
    sel = alive[tail] & alive[head]
    old = np.flatnonzero(alive)
    new = np.full(n, -1)
    new[old] = np.arange(len(old))
    return csr_min(len(old), new[tail[sel]], new[head[sel]], w[sel]), old


def _ranges(cnt: np.ndarray) -> np.ndarray:
    """0..c-1 for every c in ``cnt``, concatenated."""
    if len(cnt) == 0:
        return np.zeros(0, dtype=np.int64)
    ends = np.cumsum(cnt)
    return np.arange(ends[-1]) - np.repeat(ends - cnt, cnt)


def _chunks(n_sources: int, n_nodes: int, max_memory_mb: float) -> int:
    return max(1, int(max_memory_mb * 2**20 // (8 * max(n_nodes, 1))))


METHODS = ("auto", "dijkstra", "ch")


def _ch_available() -> bool:
    """numba is installed (checked without importing it: the import alone takes ~1 s)."""
    return importlib.util.find_spec("numba") is not None


def _ch_module():
    """:mod:`pianqu.network.ch`, or a clear error when numba is missing."""
    if not _ch_available():
        raise ImportError("method='ch' (contraction hierarchies) needs the 'numba' package: pip install numba, "
                          "or use method='dijkstra'")
    from pianqu.network import ch

    return ch


def has_hierarchy(graph: RoadGraph, mode: str = "drive") -> bool:
    """A hierarchy of ``mode`` is kept on the graph already (:func:`pianqu.network.ch.hierarchy`
    keeps them in ``graph.__dict__["_ch_cache"]``)."""
    return mode in graph.__dict__.get("_ch_cache", {})


def choose_method(graph: RoadGraph, n_sources: int, n_targets: int, mode: str, cutoff_s: float | None,
                  method: str = "auto") -> str:
    """``"ch"`` or ``"dijkstra"`` for a query of ``n_sources`` × ``n_targets`` points.

    ``auto`` takes the contraction hierarchy when it is kept on the graph already, or when there
    is no cut-off, the smaller side has at least ``CH_MIN_POINTS`` points and one Dijkstra per
    point would settle at least ``CH_MIN_WORK`` nodes in all. With a cut-off the Dijkstra
    searches stay local and are kept; without numba, Dijkstra.
    """
    if method not in METHODS:
        raise ValueError(f"unknown method '{method}'; choose one of {METHODS}")
    if method != "auto":
        return method
    if graph.n_nodes == 0 or not _ch_available():
        return "dijkstra"
    if has_hierarchy(graph, mode):
        return "ch"
    small = min(n_sources, n_targets)
    if cutoff_s is None and small >= CH_MIN_POINTS and small * graph.n_nodes >= CH_MIN_WORK:
        return "ch"
    return "dijkstra"


def _od_ch(graph: RoadGraph, o: Snapped, d: Snapped, mode: str, cutoff_s: float | None) -> np.ndarray:
    """The OD matrix from the contraction hierarchy of the road graph (points as seeds)."""
    ch = _ch_module()
    h = ch.hierarchy(graph, mode)
    o_item, o_node, o_w = point_arcs(graph, o, mode, 0, origin=True)  # origin → edge end
    d_node, d_item, d_w = point_arcs(graph, d, mode, 0, origin=False)  # edge end → destination
    res = ch.many_to_many(h, (o_item, o_node, o_w), len(o), (d_item, d_node, d_w), len(d))
    i, j, w = same_edge_arcs(graph, o, d, mode, 0, 0)
    np.minimum.at(res, (i, j), w)
    if cutoff_s is not None:
        res[res > cutoff_s] = np.inf
    return res


def od_matrix(graph: RoadGraph, origins, destinations, *, mode: str = "drive",
              cutoff_s: float | None = None, reduce: bool = True,
              max_memory_mb: float = DEFAULT_MEMORY_MB, method: str = "auto") -> np.ndarray:
    """Travel time (s) from every origin to every destination; ``inf`` when unreachable.

    Access legs from each point to its nearest road are included; a pair at the same location
    takes 0 s.

    Parameters
    ----------
    graph : RoadGraph
        From :func:`build_graph`.
    origins, destinations : GeoDataFrame, GeoSeries or Snapped
        Point layers in any CRS (or points already snapped with :func:`snap_points`).
    mode : {"drive", "walk"}, default "drive"
        Travel mode.
    cutoff_s : float, optional
        Stop the search there; longer times are ``inf``.
    reduce : bool, default True
        Contract chains of degree-2 nodes before searching (same answers, faster).
    max_memory_mb : float
        Memory for one block of Dijkstra searches.
    method : {"auto", "dijkstra", "ch"}, default "auto"
        One Dijkstra search per point of the smaller side, a contraction hierarchy (built on
        first use and kept on the graph), or the choice of :func:`choose_method`.

    Returns
    -------
    numpy.ndarray
        Seconds, shape ``(len(origins), len(destinations))``.

    Examples
    --------
    >>> seconds = pianqu.od_matrix(g, villages_seats, schools, cutoff_s=3600)   # doctest: +SKIP
    """
    check_mode(mode)
    o = as_snapped(graph, origins, mode)
    d = as_snapped(graph, destinations, mode)
    out = np.full((len(o), len(d)), np.inf)
    use = choose_method(graph, len(o), len(d), mode, cutoff_s, method)  # rejects a bad method
    if len(o) == 0 or len(d) == 0 or graph.n_nodes == 0:
        return _same_place(out, o, d)
    if use == "ch":
        return _same_place(_od_ch(graph, o, d, mode, cutoff_s), o, d)
    aug = augment(graph, o, d, mode)
    m = aug.matrix
    src, dst = aug.origins, aug.destinations
    backwards = len(d) < len(o)
    if backwards:
        m = m.T.tocsr()
        src, dst = dst, src
    if reduce and graph.reducible_share >= REDUCE_MIN_SHARE:
        m, old = reduce_graph(m, np.r_[src, dst], min_gain=0.0)
        new = np.full(aug.matrix.shape[0], -1)
        new[old] = np.arange(len(old))
        src, dst = new[src], new[dst]
    limit = np.inf if cutoff_s is None else float(cutoff_s)
    step = _chunks(len(src), m.shape[0], max_memory_mb)
    res = np.empty((len(src), len(dst)))
    for k in range(0, len(src), step):
        dist = dijkstra(m, directed=True, indices=src[k:k + step], limit=limit)
        res[k:k + step] = dist[:, dst]
    if cutoff_s is not None:
        res[res > cutoff_s] = np.inf
    out = res.T if backwards else res
    return _same_place(np.ascontiguousarray(out), o, d)


def _same_place(out: np.ndarray, o: Snapped, d: Snapped) -> np.ndarray:
    """Zero time between an origin and a destination at the same location."""
    if len(o) and len(d):
        oi = pd.DataFrame({"x": o.xy[:, 0], "y": o.xy[:, 1], "i": np.arange(len(o))}).dropna()
        dj = pd.DataFrame({"x": d.xy[:, 0], "y": d.xy[:, 1], "j": np.arange(len(d))}).dropna()
        same = oi.merge(dj, on=["x", "y"])
        out[same["i"].to_numpy(), same["j"].to_numpy()] = 0.0
    return out


def node_times(graph: RoadGraph, sources, *, mode: str = "drive", cutoff_s: float | None = None,
               min_only: bool = True, method: str = "auto") -> np.ndarray:
    """Time (s) from the sources (points or Snapped) to every graph node.

    ``min_only``: one row, the time from the nearest source; else one row per source.
    ``method``: ``"dijkstra"``, ``"ch"`` (PHAST over the contraction hierarchy: an upward search
    and one sweep over all nodes) or ``"auto"`` (the hierarchy when it is built already and there
    is no cut-off, where Dijkstra stays local).
    """
    check_mode(mode)
    if method not in METHODS:
        raise ValueError(f"unknown method '{method}'; choose one of {METHODS}")
    s = as_snapped(graph, sources, mode)
    n = graph.n_nodes
    if method == "auto":
        from_ch = cutoff_s is None and n > 0 and has_hierarchy(graph, mode)
        method = "ch" if from_ch else "dijkstra"
    if method == "ch" and n > 0:
        ch = _ch_module()
        item, node, w = point_arcs(graph, s, mode, 0, origin=True)
        h = ch.hierarchy(graph, mode)
        if min_only:
            return ch.one_to_all(h, (np.zeros_like(item), node, w), 1, cutoff_s)
        return ch.one_to_all(h, (item, node, w), len(s), cutoff_s)
    empty = Snapped(mode, np.zeros(0, int), np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0, bool),
                    np.zeros((0, 2)), np.zeros(0, str))
    aug = augment(graph, s, empty, mode)
    limit = np.inf if cutoff_s is None else float(cutoff_s)
    idx = aug.origins[s.edge >= 0]
    if len(idx) == 0:
        return np.full((1 if min_only else len(s), n), np.inf)
    if min_only:
        dist = dijkstra(aug.matrix, directed=True, indices=idx, limit=limit, min_only=True)
        return dist[None, :n]
    out = np.full((len(s), n), np.inf)
    dist = dijkstra(aug.matrix, directed=True, indices=idx, limit=limit)
    out[s.edge >= 0] = dist[:, :n]
    return out


def nearest_k(graph: RoadGraph, origins, facilities, k: int = 1, *, mode: str = "drive",
              cutoff_s: float | None = None, kind: str | None = None, method: str = "auto") -> pd.DataFrame:
    """The ``k`` nearest facilities (by travel time) of every origin, as a long table.

    Parameters
    ----------
    graph : RoadGraph
        From :func:`build_graph`.
    origins : GeoDataFrame, GeoSeries or Snapped
        Points in any CRS.
    facilities : GeoDataFrame, GeoSeries or Snapped
        Points in any CRS.
    k : int, default 1
        How many facilities per origin.
    mode : {"drive", "walk"}, default "drive"
        Travel mode.
    cutoff_s : float, optional
        Facilities farther than this are not listed.
    kind : str, optional
        Keep only facilities whose ``kind`` field equals it (e.g. ``primary_school``).
    method : {"auto", "dijkstra", "ch"}, default "auto"
        As in :func:`od_matrix`.

    Returns
    -------
    pandas.DataFrame
        Columns ``origin`` (position), ``origin_id``, ``rank`` (1..k), ``facility`` (position in
        ``facilities``), ``facility_id``, ``time_s``. Origins with fewer than k reachable
        facilities get fewer rows.
    """
    if k < 1:
        raise UserValueError("network.error.bad_k", k=k)
    fac = facilities
    pos = np.arange(len(facilities))
    if kind is not None:
        if "kind" not in getattr(facilities, "columns", []):
            raise ValueError("facilities have no 'kind' field to select on")
        sel = (facilities["kind"] == kind).to_numpy()
        fac, pos = facilities[sel], pos[sel]
    o = as_snapped(graph, origins, mode)
    f = as_snapped(graph, fac, mode)
    t = od_matrix(graph, o, f, mode=mode, cutoff_s=cutoff_s, method=method)
    kk = min(k, t.shape[1])
    if kk == 0:
        return pd.DataFrame(columns=["origin", "origin_id", "rank", "facility", "facility_id", "time_s"])
    part = np.argpartition(t, kk - 1, axis=1)[:, :kk] if kk < t.shape[1] else np.tile(np.arange(kk), (len(t), 1))
    pt = np.take_along_axis(t, part, axis=1)
    order = np.argsort(pt, axis=1, kind="stable")
    part, pt = np.take_along_axis(part, order, axis=1), np.take_along_axis(pt, order, axis=1)
    rows = np.repeat(np.arange(len(t)), kk)
    out = pd.DataFrame({"origin": rows, "origin_id": o.ids[rows], "rank": np.tile(np.arange(1, kk + 1), len(t)),
                        "facility": pos[part.ravel()], "facility_id": f.ids[part.ravel()],
                        "time_s": pt.ravel()})
    return out[np.isfinite(out["time_s"])].reset_index(drop=True)


def shortest_tree(graph: RoadGraph, o: Snapped, d: Snapped, mode: str, rows: np.ndarray):
    """(times, predecessors, augmented graph) of the unreduced augmented graph from origins ``rows``."""
    aug = augment(graph, o, d, mode)
    dist, pred = dijkstra(aug.matrix, directed=True, indices=aug.origins[rows], return_predecessors=True)
    return dist, pred, aug
