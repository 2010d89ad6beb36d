"""Contraction hierarchies (CH): exact many-to-many and one-to-all travel times on large graphs.

A Dijkstra search per origin settles the whole graph (100k nodes on a province) even when only a
few hundred destinations matter. A contraction hierarchy is built once per graph and mode, in one
of two ways:

* with node coordinates (road graphs, :func:`hierarchy`): a *customizable* hierarchy. The order
  is a nested dissection of the coordinates and every node is contracted without witness
  searches (all pairs of its higher neighbours joined); the times of the arcs come from one pass
  over the triangles of the filled graph (see the section below), once for both directions when
  the graph is symmetric. More arcs, but nothing is searched while building: on the generated
  100k-node province it builds in about 0.3 s, where the order below takes 6–7 s (its witness
  searches dominate there);
* from a matrix alone: nodes are contracted one by one, least important first (priority = edge
  difference + level, the level growing with contracted neighbours; kept current by lazy
  updates: a node whose neighbourhood changed is re-rated when it comes up). Contracting ``v``
  adds a shortcut ``u→w`` (weight ``t(u,v) + t(v,w)``, float64, an exact sum) unless a *witness*
  path ``u→w`` avoiding ``v`` is as fast. Witness searches are bounded by a number of settled
  nodes: a search stopped early only adds a shortcut that was not needed, it never loses a path,
  so the times stay exact;
* every arc then runs from a lower to a higher node (its rank). A shortest path is an upward part
  from the origin followed by a downward part to the destination, so two *upward* searches meet
  on the path's highest node. Directed graphs (one-way arcs) keep an upward forward graph (arcs
  ``v→x`` with x higher) and an upward backward graph (arcs ``x→v`` with x higher, stored at v).

Queries: :func:`many_to_many` (the bucket algorithm: a backward upward search from every target
drops ``(target, time)`` into the bucket of every node it settles; a forward upward search from
every source scans the buckets of its nodes) and :func:`one_to_all` (PHAST: a forward upward
search, then one sweep over all nodes from the highest rank down). On a customizable hierarchy
an upward search walks the seeds' ancestors in the elimination tree, lowest first, with no
priority queue; on the other, it is Dijkstra with stall-on-demand. Origins and destinations are
*seeded*: each may start at several nodes with an initial time (a snapped point starts at both
ends of its edge, with the part of the edge and its access leg already counted).

The kernels are numba-compiled with ``cache=True`` (compiled once per machine, into
``__pycache__``). :func:`hierarchy` caches the hierarchy of a :class:`RoadGraph` per mode.
"""

from __future__ import annotations

import threading
import time
from collections import namedtuple
from dataclasses import dataclass

import numba
import numpy as np
import scipy.sparse as sp
from numba import njit

# Witness searches stop after settling this many nodes: small while estimating a node's priority
# (only the ordering's quality depends on it), larger when contracting (fewer needless shortcuts).
# Neither changes any travel time, only the build and query speed: on the generated province,
# 8/100 … 40/400 (and 12/1000) all build within 10 % of each other.
WITNESS_SETTLED_PRIORITY = 20
WITNESS_SETTLED_CONTRACT = 200
# Nested dissection stops cutting parts this small, bins each part's nodes into this many slabs
# per axis to find the cut with the fewest crossing edges, and keeps at least this share of a
# part's nodes on each side of a cut. Only speed depends on them: on the generated province,
# searching the cut (balance 0.35, 128 slabs) instead of cutting at the median leaves 75 M
# triangles instead of 130 M (customization 0.28 s instead of 0.44 s); 64–256 slabs and balance
# 0.33–0.4 are all within 10 % of each other.
DISSECTION_LEAF = 2
DISSECTION_BINS = 128
DISSECTION_BALANCE = 0.35
# Large graphs and matrices share the work among threads: the nested dissection (once there are
# 4 parts per thread), and a many-to-many query's searches. Python threads run numba kernels
# compiled ``nogil`` (not numba's OpenMP layer: a process that has used GNU OpenMP cannot fork,
# and multiprocessing forks). The dissection is shared for graphs of at least this many nodes,
# a query when both sides have at least this many points (below, starting threads costs more).
PARALLEL_MIN_NODES = 20_000
PARALLEL_MIN_POINTS = 32
# The number of threads (None: numba's NUMBA_NUM_THREADS, the machine's cores by default).
MAX_THREADS: int | None = None


def n_threads() -> int:
    """How many threads the shared steps use."""
    return max(1, int(MAX_THREADS if MAX_THREADS is not None else numba.config.NUMBA_NUM_THREADS))


def _run_threads(calls: list) -> None:
    """Run ``fn(*args)`` for each ``(fn, args)`` in ``calls``, the first in this thread and the
    others in threads of their own (the kernels release the GIL), and wait for all of them."""
    errors: list[BaseException] = []

    def run(fn, args):
        try:
            fn(*args)
        except BaseException as exc:  # noqa: BLE001 - re-raised below, in the caller's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=call) for call in calls[1:]]
    for th in threads:
        th.start()
    run(*calls[0])
    for th in threads:
        th.join()
    if errors:
        raise errors[0]


@dataclass(frozen=True)
class Hierarchy:
    """A contracted graph: upward forward and upward backward arcs as CSR arrays.

    ``fwd_*``: for node v, arcs v→x with rank[x] > rank[v]. ``bwd_*``: for node v, arcs x→v with
    rank[x] > rank[v] (stored at v, head = x). ``down_order``: nodes by decreasing rank. Nodes
    are numbered as in the graph, or, when ``id_of``/``node_of`` are set (the customizable build),
    by rank: the queries translate their seeds and answers.
    """

    n: int
    rank: np.ndarray
    fwd_ptr: np.ndarray
    fwd_head: np.ndarray
    fwd_w: np.ndarray
    bwd_ptr: np.ndarray
    bwd_head: np.ndarray
    bwd_w: np.ndarray
    down_order: np.ndarray
    n_arcs: int  # arcs of the input graph
    n_shortcuts: int
    build_s: float
    # the graph node of each node of the hierarchy and back (None: the same numbering)
    node_of: np.ndarray | None = None
    id_of: np.ndarray | None = None
    # the customizable build: every node's parent in the elimination tree (its lowest higher
    # neighbour in the filled graph; -1 at a root). A node's upward search space is exactly its
    # ancestors, so the queries walk up the tree instead of running Dijkstra
    parent: np.ndarray | None = None


# -- indexed binary min-heap over items 0..n-1 (keys float64) ------------------------------------

@njit(cache=True)
def _sift_up(hk, hn, pos, i):
    key, node = hk[i], hn[i]
    while i > 0:
        p = (i - 1) >> 1
        if hk[p] <= key:
            break
        hk[i] = hk[p]
        hn[i] = hn[p]
        pos[hn[i]] = i
        i = p
    hk[i] = key
    hn[i] = node
    pos[node] = i


@njit(cache=True)
def _sift_down(hk, hn, pos, i, size):
    key, node = hk[i], hn[i]
    while True:
        c = 2 * i + 1
        if c >= size:
            break
        if c + 1 < size and hk[c + 1] < hk[c]:
            c += 1
        if hk[c] >= key:
            break
        hk[i] = hk[c]
        hn[i] = hn[c]
        pos[hn[i]] = i
        i = c
    hk[i] = key
    hn[i] = node
    pos[node] = i


@njit(cache=True)
def _heap_set(hk, hn, pos, size, node, key):
    """Insert ``node`` with ``key`` or change its key; returns the new heap size."""
    i = pos[node]
    if i < 0:
        hk[size] = key
        hn[size] = node
        _sift_up(hk, hn, pos, size)
        return size + 1
    old = hk[i]
    hk[i] = key
    if key < old:
        _sift_up(hk, hn, pos, i)
    else:
        _sift_down(hk, hn, pos, i, size)
    return size


@njit(cache=True)
def _heap_pop(hk, hn, pos, size):
    """Remove the smallest item: (node, key, new size)."""
    node, key = hn[0], hk[0]
    pos[node] = -1
    size -= 1
    if size > 0:
        hk[0] = hk[size]
        hn[0] = hn[size]
        _sift_down(hk, hn, pos, 0, size)
    return node, key, size


@njit(cache=True)
def _heap_clear(hn, pos, size):
    for i in range(size):
        pos[hn[i]] = -1


# -- contraction ---------------------------------------------------------------------------------

# The graph being contracted, one side (out- or in-arcs): the arcs of node v are the slots
# start[v] .. start[v] + size[v] of nb (neighbour) and w (time), contiguous so that scanning them
# stays in cache. A node whose block is full moves it to the free end (``top[0]``) with twice the
# room; when the end is reached all blocks are packed again. A contracted node is removed from
# its neighbours' lists, so searches never meet it.
Adj = namedtuple("Adj", "start size room nb w top")
# Scratch space of one search: tentative times, touched nodes, the heap, target marks.
Work = namedtuple("Work", "dist touched hk hn pos tmark stamp")


def _work(n: int) -> Work:
    return Work(np.full(n, np.inf), np.empty(n, np.int64), np.empty(n, np.float64), np.empty(n, np.int64),
                np.full(n, -1, np.int64), np.full(n, -1, np.int64), np.zeros(1, np.int64))


def _adj(n: int, tail: np.ndarray, head: np.ndarray, w: np.ndarray, cap: int) -> Adj:
    """The arcs grouped by ``tail`` with room to grow; ``cap`` slots in all."""
    order = np.argsort(tail, kind="stable")
    deg = np.bincount(tail, minlength=n).astype(np.int64)
    room = deg + 4
    start = np.zeros(n, np.int64)
    np.cumsum(room[:-1], out=start[1:])
    nb = np.zeros(cap, np.int64)
    ww = np.zeros(cap)
    slot = start[tail[order]] + (np.arange(len(tail)) - np.repeat(np.cumsum(deg) - deg, deg))
    nb[slot] = head[order]
    ww[slot] = w[order]
    return Adj(start, deg, room, nb, ww, np.array([room.sum()], np.int64))


@njit(cache=True)
def _find(a, v, x):
    """Slot of arc v→x (or x→v on the in side) in ``a``, −1 if none."""
    for s in range(a.start[v], a.start[v] + a.size[v]):
        if a.nb[s] == x:
            return s
    return -1


@njit(cache=True)
def _compact(a):
    """Pack all blocks to the front, each with half its size as room to grow (through a copy of
    the arcs, so no block overwrites another). False when even that does not fit."""
    n = len(a.start)
    total = 0
    need = 0
    for v in range(n):
        total += a.size[v]
        need += a.size[v] + max(2, a.size[v] // 2)
    if need > len(a.nb):
        return False
    nb = np.empty(total, np.int64)
    w = np.empty(total, np.float64)
    k = 0
    for v in range(n):
        for i in range(a.start[v], a.start[v] + a.size[v]):
            nb[k] = a.nb[i]
            w[k] = a.w[i]
            k += 1
    top = 0
    k = 0
    for v in range(n):
        a.start[v] = top
        for i in range(a.size[v]):
            a.nb[top + i] = nb[k]
            a.w[top + i] = w[k]
            k += 1
        a.room[v] = a.size[v] + max(2, a.size[v] // 2)
        top += a.room[v]
    a.top[0] = top
    return True


@njit(cache=True)
def _append(a, v, x, w):
    """Add arc (v, x); False when ``a`` has no room left even once packed (the caller retries
    with more)."""
    if a.size[v] == a.room[v] and a.top[0] + 2 * a.room[v] > len(a.nb):
        if not _compact(a):
            return False
    if a.size[v] == a.room[v]:
        room = 2 * a.room[v]
        if a.top[0] + room > len(a.nb):
            return False
        top = a.top[0]
        s0 = a.start[v]
        for k in range(a.size[v]):
            a.nb[top + k] = a.nb[s0 + k]
            a.w[top + k] = a.w[s0 + k]
        a.start[v] = top
        a.room[v] = room
        a.top[0] = top + room
    s = a.start[v] + a.size[v]
    a.nb[s], a.w[s] = x, w
    a.size[v] += 1
    return True


@njit(cache=True)
def _remove(a, v, x):
    """Drop arc (v, x) (the last arc of v takes its slot)."""
    s = _find(a, v, x)
    if s >= 0:
        last = a.start[v] + a.size[v] - 1
        a.nb[s], a.w[s] = a.nb[last], a.w[last]
        a.size[v] -= 1


@njit(cache=True)
def _reset(dist, touched, nt):
    for i in range(nt):
        dist[touched[i]] = np.inf


@njit(cache=True)
def _witness(v, i, out, inn, max_settled, sym, work):
    """Dijkstra from the in-neighbour in slot ``i`` of ``v`` avoiding ``v``, stopped beyond the
    longest path through ``v``, after ``max_settled`` nodes or once every out-neighbour of ``v``
    (with ``sym``, every one numbered above the source: the pair's other direction is the same
    question) is settled. Leaves tentative times in ``work.dist`` (each a real path's time); returns how
    many nodes it touched (``work.touched``, for :func:`_reset`)."""
    u = inn.nb[i]
    dist, touched, hk, hn, pos, tmark = work.dist, work.touched, work.hk, work.hn, work.pos, work.tmark
    work.stamp[0] += 1
    stamp = work.stamp[0]
    top = -1.0
    n_targets = 0
    for j in range(out.start[v], out.start[v] + out.size[v]):
        if out.nb[j] > u or (out.nb[j] < u and not sym):
            tmark[out.nb[j]] = stamp
            n_targets += 1
            top = max(top, out.w[j])
    if n_targets == 0:
        return 0
    limit = inn.w[i] + top
    dist[u] = 0.0
    touched[0] = u
    nt = 1
    size = _heap_set(hk, hn, pos, 0, u, 0.0)
    settled = 0
    while size > 0:
        x, d, size = _heap_pop(hk, hn, pos, size)
        if d > limit or settled >= max_settled:
            break
        settled += 1
        if tmark[x] == stamp:
            n_targets -= 1
            if n_targets == 0:
                break
        for e in range(out.start[x], out.start[x] + out.size[x]):
            y = out.nb[e]
            nd = d + out.w[e]
            if nd < dist[y] and y != v:
                if dist[y] == np.inf:
                    touched[nt] = y
                    nt += 1
                dist[y] = nd
                size = _heap_set(hk, hn, pos, size, y, nd)
    _heap_clear(hn, pos, size)
    return nt


@njit(cache=True)
def _priority(v, level, out, inn, sym, work):
    """How late ``v`` should be contracted (small first): the edge difference (arcs its
    contraction would add − arcs it removes) + its level (one more than the highest contracted
    neighbour; it grows where neighbours went already, which spreads the contraction evenly over
    the graph, the role of the contracted-neighbours term of Geisberger et al. 2008)."""
    added = 0
    for i in range(inn.start[v], inn.start[v] + inn.size[v]):
        u = inn.nb[i]
        nt = _witness(v, i, out, inn, WITNESS_SETTLED_PRIORITY, sym, work)
        for j in range(out.start[v], out.start[v] + out.size[v]):
            x = out.nb[j]
            if (x > u or (x < u and not sym)) and work.dist[x] > inn.w[i] + out.w[j]:
                added += 2 if sym else 1
        _reset(work.dist, work.touched, nt)
    return float(added - inn.size[v] - out.size[v] + level[v])


@njit(cache=True)
def _shortcut(u, x, via, out, inn):
    """Lower arc u→x to ``via`` or add it; False when out of room."""
    s = _find(out, u, x)
    if s >= 0:
        if via < out.w[s]:
            out.w[s] = via
            inn.w[_find(inn, x, u)] = via
        return True
    return _append(out, u, x, via) and _append(inn, x, u, via)


@njit(cache=True)
def _contract(n, out, inn, sym, work):
    """Contract every node (``sym``: the graph is symmetric, every arc has its twin of the same
    time; it stays so, and each pair of neighbours is checked once). Returns (ok, rank, lower
    node, higher node, weight, runs lower→higher, shortcuts added).

    One row per arc at the time its lower end was contracted. ``ok`` is False when the
    adjacency ran out of room (the caller retries with more).
    """
    level = np.zeros(n, np.int64)
    dirty = np.zeros(n, np.bool_)
    qk = np.empty(n, np.float64)  # the ordering queue
    qn = np.empty(n, np.int64)
    qpos = np.full(n, -1, np.int64)
    qsize = 0
    for v in range(n):
        qsize = _heap_set(qk, qn, qpos, qsize, v, _priority(v, level, out, inn, sym, work))
    rank = np.full(n, -1, np.int64)
    total = out.size.sum()
    cap = 4 * total + 1024
    up_lo = np.empty(cap, np.int64)
    up_hi = np.empty(cap, np.int64)
    up_w = np.empty(cap, np.float64)
    up_fwd = np.empty(cap, np.bool_)
    nup = 0
    n_short = 0
    r = 0
    while qsize > 0:
        v, key, qsize = _heap_pop(qk, qn, qpos, qsize)
        # lazy update: a node whose neighbourhood changed is re-rated when it comes up, and put
        # back when it is no longer the least important
        if dirty[v]:
            dirty[v] = False
            p = _priority(v, level, out, inn, sym, work)
            if qsize > 0 and p > qk[0]:
                qsize = _heap_set(qk, qn, qpos, qsize, v, p)
                continue
        if nup + out.size[v] + inn.size[v] > cap:
            cap = 2 * cap + out.size[v] + inn.size[v]
            up_lo = np.concatenate((up_lo[:nup], np.empty(cap - nup, np.int64)))
            up_hi = np.concatenate((up_hi[:nup], np.empty(cap - nup, np.int64)))
            up_w = np.concatenate((up_w[:nup], np.empty(cap - nup, np.float64)))
            up_fwd = np.concatenate((up_fwd[:nup], np.empty(cap - nup, np.bool_)))
        for j in range(out.start[v], out.start[v] + out.size[v]):
            up_lo[nup], up_hi[nup], up_w[nup], up_fwd[nup] = v, out.nb[j], out.w[j], True
            nup += 1
        for i in range(inn.start[v], inn.start[v] + inn.size[v]):
            up_lo[nup], up_hi[nup], up_w[nup], up_fwd[nup] = v, inn.nb[i], inn.w[i], False
            nup += 1
        for i in range(inn.start[v], inn.start[v] + inn.size[v]):
            u = inn.nb[i]
            nt = _witness(v, i, out, inn, WITNESS_SETTLED_CONTRACT, sym, work)
            for j in range(out.start[v], out.start[v] + out.size[v]):
                x = out.nb[j]
                via = inn.w[i] + out.w[j]
                if (x > u or (x < u and not sym)) and work.dist[x] > via:
                    n_short += (_find(out, u, x) < 0) + (sym and _find(out, x, u) < 0)
                    if not _shortcut(u, x, via, out, inn) or (sym and not _shortcut(x, u, via, out, inn)):
                        return False, rank, up_lo[:0], up_hi[:0], up_w[:0], up_fwd[:0], 0
            _reset(work.dist, work.touched, nt)
        # v leaves the graph; its neighbours lose an arc and gain a level (re-rated when they
        # come up)
        for j in range(out.start[v], out.start[v] + out.size[v]):
            x = out.nb[j]
            _remove(inn, x, v)
            level[x] = max(level[x], level[v] + 1)
            dirty[x] = True
        for i in range(inn.start[v], inn.start[v] + inn.size[v]):
            u = inn.nb[i]
            _remove(out, u, v)
            level[u] = max(level[u], level[v] + 1)
            dirty[u] = True
        out.size[v] = 0
        inn.size[v] = 0
        rank[v] = r
        r += 1
    return True, rank, up_lo[:nup], up_hi[:nup], up_w[:nup], up_fwd[:nup], n_short


def _csr_arrays(lo: np.ndarray, hi: np.ndarray, w: np.ndarray, n: int):
    """CSR (indptr, head, weight) of arcs grouped by ``lo``."""
    order = np.argsort(lo, kind="stable")
    ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(lo, minlength=n), out=ptr[1:])
    return ptr, np.ascontiguousarray(hi[order], dtype=np.int64), np.ascontiguousarray(w[order], dtype=np.float64)


# -- customizable contraction hierarchy (nodes with coordinates) ----------------------------------
#
# With node coordinates the order comes from the geometry alone (nested dissection: the graph is
# cut in two across x or y where the fewest edges cross, the nodes on one side with a neighbour
# across the cut are the separator, ranked above both halves, which are cut again), and every
# node is contracted in that order *without* witness searches: all pairs of its higher
# neighbours are joined. The arcs so added (the fill) depend on the order only; their times come
# from one pass over the triangles of the filled graph, lowest node first (x→v→y with v lower
# than both ends, Dibbelt, Strasser & Wagner 2014, "customizable contraction hierarchies").
# Every up-down path of the plain contraction is there, so the queries are exact as well. On a
# planar mesh the separators are small (~√n), which bounds the fill, and no search is run while
# building. A node's higher neighbours are all its ancestors in the elimination tree (parent =
# lowest higher neighbour), which lets the queries walk up the tree instead of searching.

@njit(cache=True, nogil=True)
def _cut(a, b, x, y, ptr, head, nbins, balance, order, tmp, stamp, bx, by, side, cnt, diff):
    """Cut the part ``order[a:b]`` (see :func:`_dissection_order`): its nodes are rearranged as
    left side, right side, separator; returns the sizes of the two sides. Touches only the
    part's entries of the shared arrays (``stamp`` marks the part by ``a``), so disjoint parts
    can be cut at the same time; ``cnt``/``diff`` are the caller's own."""
    size = b - a
    xmin, xmax, ymin, ymax = np.inf, -np.inf, np.inf, -np.inf
    for k in range(a, b):
        v = order[k]
        stamp[v] = a
        xmin, xmax = min(xmin, x[v]), max(xmax, x[v])
        ymin, ymax = min(ymin, y[v]), max(ymax, y[v])
    sx = nbins / (xmax - xmin) if xmax > xmin else 0.0
    sy = nbins / (ymax - ymin) if ymax > ymin else 0.0
    cnt[:] = 0
    diff[:] = 0
    for k in range(a, b):
        v = order[k]
        i = min(int((x[v] - xmin) * sx), nbins - 1)
        j = min(int((y[v] - ymin) * sy), nbins - 1)
        bx[v], by[v] = i, j
        cnt[0, i + 1] += 1
        cnt[1, j + 1] += 1
    # diff[axis, c]: edges whose slabs lie on both sides of the cut before slab c, as differences
    for k in range(a, b):
        u = order[k]
        iu, ju = bx[u], by[u]
        for e in range(ptr[u], ptr[u + 1]):
            v = head[e]
            if v > u and stamp[v] == a:
                iv, jv = bx[v], by[v]
                if iu != iv:
                    diff[0, min(iu, iv) + 1] += 1
                    diff[0, max(iu, iv) + 1] -= 1
                if ju != jv:
                    diff[1, min(ju, jv) + 1] += 1
                    diff[1, max(ju, jv) + 1] -= 1
    best, best_axis, best_c = np.int64(1) << 62, -1, 0
    lo, hi = balance * size, (1.0 - balance) * size
    for axis in range(2):
        left, crossing = 0, 0
        for c in range(1, nbins):
            left += cnt[axis, c]
            crossing += diff[axis, c]
            if lo <= left <= hi and crossing < best:
                best, best_axis, best_c = crossing, axis, c
    if best_axis >= 0:
        for k in range(a, b):
            v = order[k]
            side[v] = 1 if (bx[v] if best_axis == 0 else by[v]) < best_c else 2
    else:  # no balanced cut between slabs (points piled up): halve the list
        for k in range(a, b):
            side[order[k]] = 1 if k - a < size // 2 else 2
    # the nodes with a neighbour across (side -1/-2 marks them), counted per side
    n_cut1, n_cut2 = 0, 0
    for k in range(a, b):
        v = order[k]
        sv = side[v]
        for e in range(ptr[v], ptr[v + 1]):
            h = head[e]
            if stamp[h] == a and abs(side[h]) != sv:
                if sv == 1:
                    n_cut1 += 1
                else:
                    n_cut2 += 1
                side[v] = -sv
                break
    cut_side = 1 if n_cut1 <= n_cut2 else 2
    nl, nr, ns = 0, 0, 0
    for k in range(a, b):
        v = order[k]
        sv = side[v]
        stamp[v] = -1
        side[v] = 0
        if sv == -cut_side:
            tmp[b - 1 - ns] = v
            ns += 1
        elif abs(sv) == 1:
            order[a + nl] = v
            nl += 1
        else:
            tmp[a + nr] = v
            nr += 1
    order[a + nl:a + nl + nr] = tmp[a:a + nr]
    order[a + nl + nr:b] = tmp[b - ns:b][::-1]
    return nl, nr


@njit(cache=True, nogil=True)
def _finish_parts(g, owner, first_a, first_b, st_a, st_b, x, y, ptr, head, leaf, nbins, balance, order, tmp, stamp,
                  bx, by, side, cnt, diff):
    """Cut the parts ``first_a[k]:first_b[k]`` owned by ``g``, and their parts in turn (a stack)."""
    top = 0
    for k in range(len(first_a)):
        if owner[k] == g:
            st_a[top], st_b[top] = first_a[k], first_b[k]
            top += 1
    while top > 0:
        top -= 1
        a, b = st_a[top], st_b[top]
        if b - a <= leaf:
            continue
        nl, nr = _cut(a, b, x, y, ptr, head, nbins, balance, order, tmp, stamp, bx, by, side, cnt, diff)
        st_a[top], st_b[top] = a, a + nl
        top += 1
        st_a[top], st_b[top] = a + nl, a + nl + nr
        top += 1


@njit(cache=True, nogil=True)
def _first_cuts(x, y, ptr, head, leaf, nbins, balance, n_parts, order, tmp, stamp, bx, by, side, cnt, diff):
    """Cut the graph (``order`` = all nodes) into ``n_parts`` parts, the largest part first;
    returns the parts' bounds in ``order``."""
    n = len(x)
    pa = [0]
    pb = [n]
    while len(pa) < n_parts:
        i = 0
        for k in range(1, len(pa)):
            if pb[k] - pa[k] > pb[i] - pa[i]:
                i = k
        a, b = pa[i], pb[i]
        if b - a <= leaf:
            break
        pa.pop(i)
        pb.pop(i)
        nl, nr = _cut(a, b, x, y, ptr, head, nbins, balance, order, tmp, stamp, bx, by, side, cnt, diff)
        pa.append(a)
        pb.append(a + nl)
        pa.append(a + nl)
        pb.append(a + nl + nr)
    return np.array(pa, np.int64), np.array(pb, np.int64)


def _dissection_order(x: np.ndarray, y: np.ndarray, ptr: np.ndarray, head: np.ndarray, leaf: int, nbins: int,
                      balance: float, threads: int = 1) -> np.ndarray:
    """An elimination order (lowest rank first) by recursive bisection of the coordinates
    (``ptr``/``head``: a symmetric pattern). Each part is cut across x or across y where the
    fewest edges cross, among the cuts that leave at least ``balance`` of its nodes on each side
    (the nodes binned into ``nbins`` slabs per axis: one pass over the nodes and one over the
    edges give every candidate cut of both axes). The nodes of the side with fewer of them that
    have a neighbour across are the separator, ranked above both sides, which are cut again in
    turn; a part of at most ``leaf`` nodes is not cut. Every part keeps a contiguous range of
    ranks (sides first, separator last), so a part's nodes, and their arcs, stay together in
    memory. With ``threads`` > 1 the largest parts are cut first until there are 4 per thread,
    which then finish them, each its share; the order is the same on any number of threads."""
    n = len(x)
    order = np.arange(n, dtype=np.int64)
    tmp = np.empty(n, np.int64)
    stamp = np.full(n, -1, np.int64)  # the part a node is in (its first place in order), while it is cut
    bx, by = np.empty(n, np.int64), np.empty(n, np.int64)
    side = np.zeros(n, np.int8)
    cnt = np.empty((threads, 2, nbins + 1), np.int64)
    diff = np.empty((threads, 2, nbins + 1), np.int64)
    first_a, first_b = _first_cuts(x, y, ptr, head, leaf, nbins, balance, 4 * threads if threads > 1 else 1, order,
                                   tmp, stamp, bx, by, side, cnt[0], diff[0])
    owner = np.empty(len(first_a), np.int64)  # largest first, each to the least loaded thread
    load = np.zeros(threads, np.int64)
    for k in np.argsort(first_a - first_b, kind="stable"):
        g = int(np.argmin(load))
        owner[k] = g
        load[g] += first_b[k] - first_a[k]
    stacks = np.empty((threads, 2, n + 2), np.int64)
    _run_threads([(_finish_parts, (g, owner, first_a, first_b, stacks[g, 0], stacks[g, 1], x, y, ptr, head, leaf,
                                   nbins, balance, order, tmp, stamp, bx, by, side, cnt[g], diff[g]))
                  for g in range(threads)])
    return order


@njit(cache=True)
def _fill(n, ptr, head):
    """The higher neighbours of every node once all are contracted without witnesses (nodes
    numbered by rank; ``ptr``/``head`` a symmetric pattern without duplicates): CSR (uptr,
    uhead), heads sorted. A node's set is its own higher neighbours and those of its children in
    the elimination tree (the nodes whose lowest higher neighbour it is), merged as sorted lists."""
    cap = 4 * len(head) + 16
    uhead = np.empty(cap, np.int64)
    uptr = np.zeros(n + 1, np.int64)
    first_child = np.full(n, -1, np.int64)
    sibling = np.full(n, -1, np.int64)
    buf = np.empty(n, np.int64)
    other = np.empty(n, np.int64)
    for v in range(n):
        k = 0  # its own higher neighbours, sorted (a few: insertion)
        for e in range(ptr[v], ptr[v + 1]):
            y = head[e]
            if y > v:
                i = k
                while i > 0 and buf[i - 1] > y:
                    buf[i] = buf[i - 1]
                    i -= 1
                buf[i] = y
                k += 1
        c = first_child[v]
        while c >= 0:  # merged with each child's (sorted; its first is v itself)
            i, j, end, o = 0, uptr[c] + 1, uptr[c + 1], 0
            while i < k and j < end:
                a, b = buf[i], uhead[j]
                if a <= b:
                    other[o] = a
                    i += 1
                    j += a == b
                else:
                    other[o] = b
                    j += 1
                o += 1
            while i < k:
                other[o] = buf[i]
                i += 1
                o += 1
            while j < end:
                other[o] = uhead[j]
                j += 1
                o += 1
            buf, other = other, buf
            k = o
            c = sibling[c]
        if uptr[v] + k > cap:
            cap = 2 * cap + k
            grown = np.empty(cap, np.int64)
            grown[:uptr[v]] = uhead[:uptr[v]]
            uhead = grown
        uhead[uptr[v]:uptr[v] + k] = buf[:k]
        uptr[v + 1] = uptr[v] + k
        if k > 0:
            sibling[v] = first_child[buf[0]]
            first_child[buf[0]] = v
    return uptr, uhead[:uptr[n]]


@njit(cache=True)
def _arc_times(n, uptr, uhead, tail, head, w, sym):
    """The filled graph's arcs with the graph's own times (the fastest of parallel arcs; inf for
    fill), ``up[e]`` for v→x and ``down[e]`` for x→v (arc e of v, x higher), and the arcs
    reaching every node from below: CSR ``dptr``/``darc``, with ``dend`` the end of the list of
    the arc's owner (v's arcs above x are ``darc[q] + 1 .. dend[q] - 1``). ``sym``: the graph is
    symmetric, ``down`` is ``up`` (the same array)."""
    m = len(uhead)
    up = np.full(m, np.inf)
    down = up if sym else np.full(m, np.inf)
    for k in range(len(tail)):
        a, b = tail[k], head[k]
        lo, hi = (a, b) if a < b else (b, a)
        left, right = uptr[lo], uptr[lo + 1]
        while left < right:
            mid = (left + right) >> 1
            if uhead[mid] < hi:
                left = mid + 1
            else:
                right = mid
        if a < b or sym:
            up[left] = min(up[left], w[k])
        else:
            down[left] = min(down[left], w[k])
    dptr = np.zeros(n + 1, np.int64)
    for e in range(m):
        dptr[uhead[e] + 1] += 1
    for i in range(n):
        dptr[i + 1] += dptr[i]
    darc = np.empty(m, np.int64)
    dend = np.empty(m, np.int64)
    fill = dptr[:n].copy()
    for v in range(n):
        end = uptr[v + 1]
        for e in range(uptr[v], end):
            q = fill[uhead[e]]
            darc[q] = e
            dend[q] = end
            fill[uhead[e]] = q + 1
    return up, down, dptr, darc, dend


@njit(cache=True)
def _lower_triangles(q0, q1, uhead, darc, dend, sym, up, down, pos, out_up, out_down):
    """The triangles x→v→y and y→v→x through the lower neighbours ``v`` of x given by the arcs
    ``darc[q0:q1]`` (v→x), for every y above x: ``out_up``/``out_down`` of arc x→y improved
    (indexed ``pos[y]``, the arc's place in x's list). ``sym``: the graph is symmetric, ``down``
    is ``up`` and only ``out_up`` is computed (half the memory traffic)."""
    for q in range(q0, q1):
        evx = darc[q]
        if sym:
            x_v = up[evx]
            if x_v == np.inf:
                continue
            for evy in range(evx + 1, dend[q]):
                f = pos[uhead[evy]]
                c = x_v + up[evy]
                if c < out_up[f]:
                    out_up[f] = c
            continue
        x_to_v, v_to_x = down[evx], up[evx]
        if x_to_v == np.inf and v_to_x == np.inf:
            continue
        for evy in range(evx + 1, dend[q]):  # v's arcs to nodes above x
            f = pos[uhead[evy]]
            c = x_to_v + up[evy]
            if c < out_up[f]:
                out_up[f] = c
            c = down[evy] + v_to_x
            if c < out_down[f]:
                out_down[f] = c


@njit(cache=True)
def _customize(n, uptr, uhead, tail, head, w, sym):
    """Times of the arcs of the filled graph (``up``, ``down`` as in :func:`_arc_times`; inf where
    no path of that kind exists): the graph's own arcs, then every triangle x→v→y and y→v→x for
    v lower than x and y, x taken in increasing order, so the arcs of v are final when used."""
    up, down, dptr, darc, dend = _arc_times(n, uptr, uhead, tail, head, w, sym)
    pos = np.full(n, -1, np.int64)
    for x in range(n):
        a, b = uptr[x], uptr[x + 1]
        for f in range(a, b):
            pos[uhead[f]] = f - a
        _lower_triangles(dptr[x], dptr[x + 1], uhead, darc, dend, sym, up, down, pos, up[a:b], down[a:b])
        for f in range(a, b):
            pos[uhead[f]] = -1
    return up, down


def _build_customizable(n: int, tail: np.ndarray, head: np.ndarray, w: np.ndarray, xy: np.ndarray, sym: bool,
                        t0: float) -> Hierarchy:
    """The hierarchy by nested dissection of the coordinates ``xy`` (see the comment above)."""
    xy = np.asarray(xy, dtype=np.float64)
    if xy.shape != (n, 2) or not np.isfinite(xy).all():
        raise ValueError(f"xy must hold finite coordinates of the {n} nodes, one (x, y) row each")
    threads = n_threads() if n >= PARALLEL_MIN_NODES else 1
    pat = sp.csr_matrix((np.ones(len(tail), np.int8), (tail, head)), shape=(n, n))
    pat = (pat + pat.T).tocsr()
    order = _dissection_order(np.ascontiguousarray(xy[:, 0]), np.ascontiguousarray(xy[:, 1]),
                              pat.indptr.astype(np.int64), pat.indices.astype(np.int64), DISSECTION_LEAF,
                              DISSECTION_BINS, DISSECTION_BALANCE, threads)  # lowest rank first
    rank = np.empty(n, np.int64)
    rank[order] = np.arange(n)
    rt, rh = rank[tail], rank[head]
    rp = sp.csr_matrix((np.ones(len(rt), np.int8), (rt, rh)), shape=(n, n))
    rp = (rp + rp.T).tocsr()
    uptr, uhead = _fill(n, rp.indptr.astype(np.int64), rp.indices.astype(np.int64))
    up, down = _customize(n, uptr, uhead, rt, rh, w, sym)
    # the hierarchy keeps the rank numbering (its arcs are grouped by rank already, and searches
    # and sweeps run through memory in order); arcs without a path are dropped
    fptr, fhead, fw = _keep_finite(uptr, uhead, up)
    bptr, bhead, bw = (fptr, fhead, fw) if sym else _keep_finite(uptr, uhead, down)  # symmetric: one set
    ids = np.arange(n, dtype=np.int64)
    n_short = len(fhead) + len(bhead) - len(tail)  # the graph's own arcs are all there, once each
    parent = np.full(n, -1, np.int64)
    has_up = uptr[1:] > uptr[:-1]
    parent[has_up] = uhead[uptr[:-1][has_up]]  # heads are sorted: the first is the lowest
    return Hierarchy(n, ids, fptr, fhead, fw, bptr, bhead, bw, ids[::-1].copy(), int(len(tail)), int(n_short),
                     time.perf_counter() - t0, node_of=order, id_of=rank, parent=parent)


def _keep_finite(ptr: np.ndarray, head: np.ndarray, w: np.ndarray):
    """The CSR (ptr, head, w) without its infinite arcs."""
    ok = np.isfinite(w)
    before = np.zeros(len(w) + 1, np.int64)  # kept arcs before each arc
    np.cumsum(ok, out=before[1:])
    return before[ptr], head[ok], w[ok]


def build_hierarchy(matrix: sp.csr_matrix, *, xy: np.ndarray | None = None, room: float = 3.0) -> Hierarchy:
    """Contract the directed graph ``matrix`` (n × n CSR, data = arc time; the fastest of parallel
    arcs, no loops) into a :class:`Hierarchy`. Exact: every time it answers equals Dijkstra's.

    ``xy`` (n × 2 node coordinates): order the nodes by nested dissection of the coordinates and
    contract without witness searches (a customizable hierarchy: more arcs, no search while
    building, several times faster to build on large graphs). Without it, the order by edge
    difference with witness searches. ``room``: arc slots reserved per arc of the graph for the
    shortcuts of the latter (more are found by packing the lists, then by starting again with
    twice as many; only speed depends on it)."""
    t0 = time.perf_counter()
    m = sp.csr_matrix(matrix)
    m.sum_duplicates()
    n = m.shape[0]
    tail = np.repeat(np.arange(n, dtype=np.int64), np.diff(m.indptr))
    head = m.indices.astype(np.int64)
    w = m.data.astype(np.float64)
    keep = (tail != head) & np.isfinite(w)
    tail, head, w = tail[keep], head[keep], w[keep]
    if len(w) and w.min() < 0:
        raise ValueError("travel times must not be negative")
    sym = bool((m != m.T).nnz == 0)
    if xy is not None:
        return _build_customizable(n, tail, head, w, xy, sym, t0)
    cap = int(max(room, 1.0) * len(tail)) + 4 * n + 16
    while True:
        ok, rank, lo, hi, uw, fwd, n_short = _contract(n, _adj(n, tail, head, w, cap), _adj(n, head, tail, w, cap),
                                                       sym, _work(n))
        if ok:
            break
        cap *= 2
    fptr, fhead, fw = _csr_arrays(lo[fwd], hi[fwd], uw[fwd], n)
    bptr, bhead, bw = _csr_arrays(lo[~fwd], hi[~fwd], uw[~fwd], n)
    down = np.argsort(-rank, kind="stable").astype(np.int64)
    return Hierarchy(n, rank, fptr, fhead, fw, bptr, bhead, bw, down, int(len(tail)), int(n_short),
                     time.perf_counter() - t0)


def hierarchy(graph, mode: str = "drive") -> Hierarchy:
    """The hierarchy of ``graph`` (a :class:`~pianqu.network.graph.RoadGraph`) in ``mode``, built
    on first use and kept on the graph (which is immutable), so repeated queries reuse it
    (:func:`pianqu.network.travel.has_hierarchy` says whether it is kept)."""
    cache = graph.__dict__.setdefault("_ch_cache", {})
    if mode not in cache:
        cache[mode] = build_hierarchy(graph.csr(mode), xy=graph.node_xy)
    return cache[mode]


# -- queries -------------------------------------------------------------------------------------

@njit(cache=True)
def _upward(ptr, head, w, sptr, shead, sw, stall, seed_node, seed_d, limit, dist, touched, hk, hn, pos,
            out_node, out_d):
    """Dijkstra over upward arcs from the seeds (node, start time), up to ``limit``. The settled
    nodes and times go to ``out_node``/``out_d``; returns their number. ``dist`` is left at inf.

    ``stall`` (stall-on-demand): a node reached faster from a higher node by an arc of the other
    direction (``sptr``/``shead``/``sw``, the arcs into it from above) has no shortest time here;
    it is neither kept nor expanded. No shortest path runs through it, so the result is the same
    with fewer nodes."""
    nt = 0
    size = 0
    for k in range(len(seed_node)):
        s, d0 = seed_node[k], seed_d[k]
        if d0 < dist[s] and d0 <= limit:
            if dist[s] == np.inf:
                touched[nt] = s
                nt += 1
            dist[s] = d0
            size = _heap_set(hk, hn, pos, size, s, d0)
    ns = 0
    while size > 0:
        x, d, size = _heap_pop(hk, hn, pos, size)
        if stall:
            stalled = False
            for e in range(sptr[x], sptr[x + 1]):
                if dist[shead[e]] + sw[e] < d:
                    stalled = True
                    break
            if stalled:
                continue
        out_node[ns] = x
        out_d[ns] = d
        ns += 1
        for e in range(ptr[x], ptr[x + 1]):
            y = head[e]
            nd = d + w[e]
            if nd < dist[y] and nd <= limit:
                if dist[y] == np.inf:
                    touched[nt] = y
                    nt += 1
                dist[y] = nd
                size = _heap_set(hk, hn, pos, size, y, nd)
    _reset(dist, touched, nt)
    return ns


@njit(cache=True)
def _tree_upward(ptr, head, w, parent, seed_node, seed_d, limit, dist, mark, tag, chain, out_node, out_d):
    """The upward search of a customizable hierarchy: the seeds' ancestors in the elimination tree
    (``parent``), lowest first, each relaxing its upward arcs; no queue, no search order to keep.
    Every arc into an ancestor comes from a lower ancestor, so its time is final when it is
    reached. Settled nodes (time ≤ ``limit``) go to ``out_node``/``out_d``; returns their number.
    ``mark`` must not hold ``tag``; ``dist`` is left at inf."""
    nc = 0
    for k in range(len(seed_node)):
        s = seed_node[k]
        if seed_d[k] < dist[s]:
            dist[s] = seed_d[k]
        x = s
        while x >= 0 and mark[x] != tag:
            mark[x] = tag
            chain[nc] = x
            nc += 1
            x = parent[x]
    if len(seed_node) > 1:
        chain[:nc].sort()
    ns = 0
    for q in range(nc):
        x = chain[q]
        d = dist[x]
        dist[x] = np.inf
        if d > limit:
            continue
        out_node[ns] = x
        out_d[ns] = d
        ns += 1
        for e in range(ptr[x], ptr[x + 1]):
            y = head[e]
            nd = d + w[e]
            if nd < dist[y]:
                dist[y] = nd
    return ns


@njit(cache=True)
def _many_to_many(n, fptr, fhead, fw, bptr, bhead, bw, o_ptr, o_node, o_d, d_ptr, d_node, d_d, limit):
    """The bucket many-to-many on a hierarchy without an elimination tree: upward searches by
    Dijkstra with stall-on-demand."""
    no, nd = len(o_ptr) - 1, len(d_ptr) - 1
    res = np.full((no, nd), np.inf)
    dist = np.full(n, np.inf)
    touched = np.empty(n, np.int64)
    hk = np.empty(n, np.float64)
    hn = np.empty(n, np.int64)
    pos = np.full(n, -1, np.int64)
    snode = np.empty(n, np.int64)
    sd = np.empty(n, np.float64)
    # backward upward searches from the targets fill the buckets
    cap = 4096
    b_node = np.empty(cap, np.int64)
    b_tgt = np.empty(cap, np.int64)
    b_d = np.empty(cap, np.float64)
    nb = 0
    for j in range(nd):
        k = _upward(bptr, bhead, bw, fptr, fhead, fw, True, d_node[d_ptr[j]:d_ptr[j + 1]],
                    d_d[d_ptr[j]:d_ptr[j + 1]], limit, dist, touched, hk, hn, pos, snode, sd)
        if nb + k > cap:
            while nb + k > cap:
                cap *= 2
            b_node = np.concatenate((b_node[:nb], np.empty(cap - nb, np.int64)))
            b_tgt = np.concatenate((b_tgt[:nb], np.empty(cap - nb, np.int64)))
            b_d = np.concatenate((b_d[:nb], np.empty(cap - nb, np.float64)))
        for t in range(k):
            b_node[nb] = snode[t]
            b_tgt[nb] = j
            b_d[nb] = sd[t]
            nb += 1
    bucket_ptr, bucket_tgt, bucket_d = _bucket_csr(n, b_node[:nb], b_tgt[:nb], b_d[:nb])
    # forward upward searches from the sources scan them
    for i in range(no):
        k = _upward(fptr, fhead, fw, bptr, bhead, bw, True, o_node[o_ptr[i]:o_ptr[i + 1]],
                    o_d[o_ptr[i]:o_ptr[i + 1]], limit, dist, touched, hk, hn, pos, snode, sd)
        _scan_buckets(res[i], snode, sd, k, bucket_ptr, bucket_tgt, bucket_d)
    return res


@njit(cache=True, nogil=True)
def _scan_buckets(row, snode, sd, k, bucket_ptr, bucket_tgt, bucket_d):
    """A source's times to every target (``row``) from the ``k`` nodes its search reached
    (``snode``/``sd``) and the targets' entries in their buckets."""
    for t in range(k):
        x, dx = snode[t], sd[t]
        for e in range(bucket_ptr[x], bucket_ptr[x + 1]):
            c = dx + bucket_d[e]
            j = bucket_tgt[e]
            if c < row[j]:
                row[j] = c


@njit(cache=True, nogil=True)
def _tree_sizes(parent, d_ptr, d_node):
    """Slots of every target (its seeds' ancestors in the elimination tree, counted once), as
    offsets: target j's entries go to ``[size[j], size[j + 1])``."""
    nd = len(d_ptr) - 1
    mark = np.full(len(parent), -1, np.int64)
    size = np.zeros(nd + 1, np.int64)
    for j in range(nd):
        k = 0
        for q in range(d_ptr[j], d_ptr[j + 1]):
            x = d_node[q]
            while x >= 0 and mark[x] != j:
                mark[x] = j
                k += 1
                x = parent[x]
        size[j + 1] = size[j] + k
    return size


@njit(cache=True, nogil=True)
def _tree_targets(lo, hi, bptr, bhead, bw, parent, d_ptr, d_node, d_d, limit, size, b_node, b_d, used):
    """The backward upward searches of targets ``lo .. hi - 1``, each into its slots."""
    n = len(parent)
    dist = np.full(n, np.inf)
    mark = np.full(n, -1, np.int64)
    chain = np.empty(n, np.int64)
    for j in range(lo, hi):
        a = size[j]
        used[j] = _tree_upward(bptr, bhead, bw, parent, d_node[d_ptr[j]:d_ptr[j + 1]], d_d[d_ptr[j]:d_ptr[j + 1]],
                               limit, dist, mark, j, chain, b_node[a:], b_d[a:])


@njit(cache=True, nogil=True)
def _bucket_csr(n, node, tgt, d):
    """Entries (node, target, time) grouped by node (a counting sort, stable): CSR (ptr, target,
    time)."""
    ptr = np.zeros(n + 1, np.int64)
    for q in range(len(node)):
        ptr[node[q] + 1] += 1
    for i in range(n):
        ptr[i + 1] += ptr[i]
    fill = ptr[:n].copy()
    out_tgt = np.empty(len(node), np.int64)
    out_d = np.empty(len(node), np.float64)
    for q in range(len(node)):
        x = node[q]
        out_tgt[fill[x]] = tgt[q]
        out_d[fill[x]] = d[q]
        fill[x] += 1
    return ptr, out_tgt, out_d


@njit(cache=True, nogil=True)
def _buckets(n, size, used, b_node, b_d):
    """The targets' entries (each target's first ``used`` slots) as buckets (:func:`_bucket_csr`)."""
    nb = used.sum()
    node = np.empty(nb, np.int64)
    tgt = np.empty(nb, np.int64)
    d = np.empty(nb, np.float64)
    k = 0
    for j in range(len(used)):
        for q in range(size[j], size[j] + used[j]):
            node[k], tgt[k], d[k] = b_node[q], j, b_d[q]
            k += 1
    return _bucket_csr(n, node, tgt, d)


@njit(cache=True, nogil=True)
def _tree_sources(lo, hi, fptr, fhead, fw, parent, o_ptr, o_node, o_d, limit, bucket_ptr, bucket_tgt, bucket_d,
                  res):
    """The forward upward searches of sources ``lo .. hi - 1``, each scanning the buckets of the
    nodes it reaches into its row of ``res``."""
    n = len(parent)
    dist = np.full(n, np.inf)
    mark = np.full(n, -1, np.int64)
    chain = np.empty(n, np.int64)
    snode = np.empty(n, np.int64)
    sd = np.empty(n, np.float64)
    for i in range(lo, hi):
        k = _tree_upward(fptr, fhead, fw, parent, o_node[o_ptr[i]:o_ptr[i + 1]], o_d[o_ptr[i]:o_ptr[i + 1]], limit,
                         dist, mark, i, chain, snode, sd)
        _scan_buckets(res[i], snode, sd, k, bucket_ptr, bucket_tgt, bucket_d)


def _many_to_many_tree(h: Hierarchy, o, d, limit: float, threads: int) -> np.ndarray:
    """:func:`_many_to_many` on a customizable hierarchy with its searches shared among
    ``threads`` threads: the targets' upward searches (each into its own slots), the buckets by
    a counting sort, then the sources' searches, each filling its own row."""
    (o_ptr, o_node, o_d), (d_ptr, d_node, d_d) = o, d
    no, nd = len(o_ptr) - 1, len(d_ptr) - 1
    size = _tree_sizes(h.parent, d_ptr, d_node)
    b_node, b_d = np.empty(size[nd], np.int64), np.empty(size[nd], np.float64)
    used = np.zeros(nd, np.int64)
    _run_threads([(_tree_targets, (nd * g // threads, nd * (g + 1) // threads, h.bwd_ptr, h.bwd_head, h.bwd_w,
                                   h.parent, d_ptr, d_node, d_d, limit, size, b_node, b_d, used))
                  for g in range(threads)])
    bucket = _buckets(h.n, size, used, b_node, b_d)
    res = np.full((no, nd), np.inf)
    _run_threads([(_tree_sources, (no * g // threads, no * (g + 1) // threads, h.fwd_ptr, h.fwd_head, h.fwd_w,
                                   h.parent, o_ptr, o_node, o_d, limit, *bucket, res))
                  for g in range(threads)])
    return res


@njit(cache=True)
def _one_to_all(n, fptr, fhead, fw, bptr, bhead, bw, tree, parent, down, s_ptr, s_node, s_d, limit):
    ns = len(s_ptr) - 1
    mark = np.full(n, -1, np.int64)
    out = np.full((ns, n), np.inf)
    dist = np.full(n, np.inf)
    touched = np.empty(n, np.int64)
    hk = np.empty(n, np.float64)
    hn = np.empty(n, np.int64)
    pos = np.full(n, -1, np.int64)
    snode = np.empty(n, np.int64)
    sd = np.empty(n, np.float64)
    for i in range(ns):
        row = out[i]
        if tree:
            k = _tree_upward(fptr, fhead, fw, parent, s_node[s_ptr[i]:s_ptr[i + 1]], s_d[s_ptr[i]:s_ptr[i + 1]],
                             limit, dist, mark, i, touched, snode, sd)
        else:
            k = _upward(fptr, fhead, fw, bptr, bhead, bw, False, s_node[s_ptr[i]:s_ptr[i + 1]],
                        s_d[s_ptr[i]:s_ptr[i + 1]], limit, dist, touched, hk, hn, pos, snode, sd)
        for t in range(k):
            row[snode[t]] = sd[t]
        # downward sweep, highest rank first: arcs x→v with x higher are final when v is reached
        for q in range(n):
            v = down[q]
            best = row[v]
            for e in range(bptr[v], bptr[v + 1]):
                c = row[bhead[e]] + bw[e]
                if c < best:
                    best = c
            row[v] = best
    return out


def _seed_csr(n_items: int, item: np.ndarray, node: np.ndarray, d: np.ndarray):
    """Seeds grouped by item: (indptr, node, start time)."""
    item = np.asarray(item, dtype=np.int64)
    order = np.argsort(item, kind="stable")
    ptr = np.zeros(n_items + 1, dtype=np.int64)
    np.cumsum(np.bincount(item, minlength=n_items), out=ptr[1:])
    return (ptr, np.ascontiguousarray(np.asarray(node, dtype=np.int64)[order]),
            np.ascontiguousarray(np.asarray(d, dtype=np.float64)[order]))


def _tree(h: Hierarchy) -> tuple[bool, np.ndarray]:
    """Whether the queries walk the elimination tree, and its parent array (empty if not)."""
    if h.parent is None:
        return False, np.empty(0, np.int64)
    return True, h.parent


def _internal(h: Hierarchy, seeds):
    """Seeds with their nodes in the numbering of the hierarchy."""
    item, node, d = seeds
    if h.id_of is None:
        return item, node, d
    return item, h.id_of[np.asarray(node, dtype=np.int64)], d


def many_to_many(h: Hierarchy, sources: tuple[np.ndarray, np.ndarray, np.ndarray], n_sources: int,
                 targets: tuple[np.ndarray, np.ndarray, np.ndarray], n_targets: int,
                 cutoff_s: float | None = None) -> np.ndarray:
    """Times (s) from every source to every target; ``inf`` when unreachable or beyond ``cutoff_s``.

    ``sources``/``targets`` are seeds ``(item, node, start time)``: source ``item`` starts at
    ``node`` at that time (target ``item`` is reached from ``node`` after that time); an item
    without seeds gets ``inf``.
    """
    limit = np.inf if cutoff_s is None else float(cutoff_s)
    o = _seed_csr(n_sources, *_internal(h, sources))
    d = _seed_csr(n_targets, *_internal(h, targets))
    if h.parent is not None:  # customizable: up the elimination tree, on threads for large matrices
        threads = n_threads() if min(n_sources, n_targets) >= PARALLEL_MIN_POINTS else 1
        res = _many_to_many_tree(h, o, d, limit, threads)
    else:
        res = _many_to_many(h.n, h.fwd_ptr, h.fwd_head, h.fwd_w, h.bwd_ptr, h.bwd_head, h.bwd_w, *o, *d, limit)
    if cutoff_s is not None:
        res[res > limit] = np.inf
    return res


def one_to_all(h: Hierarchy, sources: tuple[np.ndarray, np.ndarray, np.ndarray], n_sources: int,
               cutoff_s: float | None = None) -> np.ndarray:
    """Times (s) from every source (seeds as in :func:`many_to_many`) to every node (PHAST)."""
    limit = np.inf if cutoff_s is None else float(cutoff_s)
    s = _seed_csr(n_sources, *_internal(h, sources))
    res = _one_to_all(h.n, h.fwd_ptr, h.fwd_head, h.fwd_w, h.bwd_ptr, h.bwd_head, h.bwd_w, *_tree(h), h.down_order,
                      *s, limit)
    if h.id_of is not None:
        res = res[:, h.id_of]
    if cutoff_s is not None:
        res[res > limit] = np.inf
    return res


def node_seeds(nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Seeds of items that are graph nodes (item i at node ``nodes[i]``, time 0)."""
    nodes = np.asarray(nodes, dtype=np.int64)
    return np.arange(len(nodes)), nodes, np.zeros(len(nodes))


def warm_up() -> float:
    """Compile (or load from numba's cache) every kernel of this module, those of the shared
    steps included, on a four-node graph; returns the seconds it took. Benchmarks call it so that
    they time the work, not the compiler; nothing else needs to."""
    t0 = time.perf_counter()
    m = sp.csr_matrix((np.ones(5), ([0, 1, 2, 3, 1], [1, 2, 3, 0, 0])), shape=(4, 4))  # one one-way arc
    xy = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
    s = node_seeds(np.arange(4))
    for mat in (m, m.maximum(m.T)):  # directed and symmetric
        for h in (build_hierarchy(mat), build_hierarchy(mat, xy=xy)):
            many_to_many(h, s, 4, s, 4)
            one_to_all(h, s, 4)
        o = _seed_csr(4, *_internal(h, s))
        _many_to_many_tree(h, o, o, np.inf, 2)
    return time.perf_counter() - t0
