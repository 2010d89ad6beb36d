"""Heuristic zoning: multi-start centre selection, contiguous growth, local search; with a
Lagrangian lower bound so that every answer carries its gap.

1. Centre sets: a p-median fast-interchange local optimum (contiguity ignored), the sets the
   Lagrangian relaxation picks, sets handed in by the caller (e.g. from the MIP's LP), and
   population-weighted random seedings.
2. Growth: from the centres, units join zones nearest-first (a multi-source Dijkstra over the
   contiguity graph keyed by travel time to each centre), so every zone is contiguous by
   construction and the upper bounds are respected while growing.
3. Repair: zones outside their member or population bounds are brought inside by the
   cheapest chains of boundary moves (a zone short of villages takes one from a neighbour,
   which takes one from its neighbour ... until a zone that can spare one).
4. Local search: move a boundary unit to a neighbouring zone when it lowers the bound
   violation, or the objective at equal violation, and its old zone stays connected; re-centre
   each zone on its best candidate; regrow from the new centres (Lloyd iterations). With
   bounds, chains and cycles of moves (negative paths over zones) then let zones held at a
   bound trade units.
5. Centre exchange: the best few (close one centre, open another) swaps, ranked by the
   p-median interchange estimate, are re-grown and kept when they improve.

On village groups with member bounds 3–8 on a tree-like road network, the repair and the chains
took the heuristic from up to 21 % above the optimum to within 0–5 % (docs/benchmarks/zoning.md);
the exact path polishes every set of centres its LP proposes with this heuristic.

Groups of units to keep together are contracted into one node first, so every move keeps
them together.
"""

from __future__ import annotations

import heapq
import time
from dataclasses import dataclass

import numpy as np

from pianqu.zoning.problem import Problem

BIG = 1e15  # stands for "not allowed" in estimate formulas (inf would give inf − inf)


@dataclass
class Nodes:
    """The problem with keep-together groups contracted: node = one unit or one group."""

    node_of: np.ndarray  # node index per unit
    members: list[np.ndarray]
    C: np.ndarray  # (N, n) Σ w t of the node's units to centre unit j; inf if not allowed
    Tn: np.ndarray  # (N, n) mean travel time of the node to centre j (growth priority)
    pop: np.ndarray
    size: np.ndarray
    nbrs: list[np.ndarray]
    lock: np.ndarray  # centre unit per node or -1
    ok: np.ndarray  # (N, n) bool allowed
    F: np.ndarray = None  # type: ignore[assignment]  (n,) cost of opening unit j as a centre

    @property
    def N(self) -> int:
        return len(self.members)


def contract(prob: Problem) -> Nodes:
    n = prob.n
    node_of = np.arange(n)
    for g in prob.groups:  # union groups that share units
        roots = np.unique(node_of[g])
        target = roots.min()
        node_of[np.isin(node_of, roots)] = target
    uniq, node_of = np.unique(node_of, return_inverse=True)
    N = len(uniq)
    members = [np.flatnonzero(node_of == k) for k in range(N)] if N < n else [np.array([k]) for k in range(n)]
    cost = prob.pop[:, None] * np.where(np.isfinite(prob.T), prob.T, 0.0)
    if N == n:
        C = np.where(prob.allowed, cost, np.inf)
        Tn = np.where(prob.allowed, prob.T, np.inf)
        ok = prob.allowed.copy()
        pop = prob.pop.copy()
        size = np.ones(n, dtype=np.int64)
        lock = prob.locked.copy()
    else:
        ok = np.stack([prob.allowed[m].all(axis=0) for m in members])
        C = np.where(ok, np.stack([cost[m].sum(axis=0) for m in members]), np.inf)
        Tn = np.where(ok, np.stack([np.where(np.isfinite(prob.T[m]), prob.T[m], 0).mean(axis=0)
                                    for m in members]), np.inf)
        pop = np.array([prob.pop[m].sum() for m in members])
        size = np.array([len(m) for m in members])
        lock = np.array([prob.locked[m].max() for m in members])
    e = prob.edges
    a, b = node_of[e[:, 0]], node_of[e[:, 1]]
    keep = a != b
    a, b = a[keep], b[keep]
    nb = [set() for _ in range(N)]
    for x, y in zip(a.tolist(), b.tolist()):
        nb[x].add(y)
        nb[y].add(x)
    nbrs = [np.fromiter(s, dtype=np.int64, count=len(s)) for s in nb]
    return Nodes(node_of, members, C, Tn, pop, size, nbrs, lock, ok, np.asarray(prob.open_cost, dtype=float))


class Solver:
    """Growth and local search on one problem; state is a centre list and a zone per node."""

    def __init__(self, prob: Problem, nodes: Nodes | None = None, rng: np.random.Generator | None = None):
        self.prob = prob
        self.nd = nodes or contract(prob)
        self.rng = rng or np.random.default_rng(0)
        self.lo, self.hi = prob.pop_lo, prob.pop_hi
        self.mlo, self.mhi = prob.mem_lo, prob.mem_hi
        self.nbrs = [x.tolist() for x in self.nd.nbrs]
        self.cand = np.flatnonzero(prob.candidate & prob.allowed.diagonal())
        self.fixed = np.flatnonzero(prob.fixed)
        self.use_chains = self.bounded  # chains let zones held at a bound trade units; else moves suffice

    # -- violation of the bounds -------------------------------------------------------------
    @property
    def bounded(self) -> bool:
        return self.lo > 0 or np.isfinite(self.hi) or self.mlo > 1 or self.mhi < 10**9

    def _viol(self, pop: float, size: int) -> float:
        v = 0.0
        if pop < self.lo:
            v += (self.lo - pop) / max(self.lo, 1.0)
        if pop > self.hi:
            v += (pop - self.hi) / max(self.hi, 1.0)
        if size < self.mlo:
            v += self.mlo - size
        if size > self.mhi:
            v += size - self.mhi
        return v

    # -- growth ---------------------------------------------------------------------------------
    def grow(self, centres: np.ndarray) -> np.ndarray | None:
        """Zone index per node grown nearest-first from ``centres`` (unit indices); None when
        some node cannot join any zone (the centre set cannot serve the instance)."""
        nd = self.nd
        N = nd.N
        zone = np.full(N, -1, dtype=np.int64)
        zpop = np.zeros(len(centres))
        zsize = np.zeros(len(centres), dtype=np.int64)
        heap: list[tuple[float, int, int]] = []
        Tn, ok = nd.Tn, nd.ok
        for k, c in enumerate(centres):
            v = nd.node_of[c]
            if zone[v] != -1 or not ok[v, c]:
                return None
            zone[v] = k
            zpop[k] += nd.pop[v]
            zsize[k] += nd.size[v]
        for k, c in enumerate(centres):
            for u in self.nbrs[nd.node_of[c]]:
                if zone[u] == -1 and ok[u, c]:
                    heapq.heappush(heap, (Tn[u, c], u, k))
        blocked = []
        while heap:
            _, v, k = heapq.heappop(heap)
            if zone[v] != -1:
                continue
            if zpop[k] + nd.pop[v] > self.hi or zsize[k] + nd.size[v] > self.mhi:
                blocked.append(v)
                continue
            zone[v] = k
            zpop[k] += nd.pop[v]
            zsize[k] += nd.size[v]
            c = centres[k]
            for u in self.nbrs[v]:
                if zone[u] == -1 and ok[u, c]:
                    heapq.heappush(heap, (Tn[u, c], u, k))
        if (zone == -1).any():  # full zones blocked the rest: attach ignoring the upper bounds
            changed = True
            while changed and (zone == -1).any():
                changed = False
                for v in np.flatnonzero(zone == -1):
                    best, bk = np.inf, -1
                    for u in self.nbrs[v]:
                        k = zone[u]
                        if k >= 0 and ok[v, centres[k]] and nd.C[v, centres[k]] < best:
                            best, bk = nd.C[v, centres[k]], k
                    if bk >= 0:
                        zone[v] = bk
                        changed = True
            if (zone == -1).any():
                return None
        return zone

    # -- local search ---------------------------------------------------------------------------
    def _connected_without(self, members: set[int], root: int, v: int) -> bool:
        if len(members) <= 2:
            return True
        seen = {root}
        stack = [root]
        target = len(members) - 1
        nbrs = self.nbrs
        while stack:
            x = stack.pop()
            for u in nbrs[x]:
                if u != v and u not in seen and u in members:
                    seen.add(u)
                    if len(seen) == target:
                        return True
                    stack.append(u)
        return len(seen) == target

    def local_search(self, centres: np.ndarray, zone: np.ndarray, max_passes: int = 50) -> np.ndarray:
        nd = self.nd
        p = len(centres)
        C = nd.C
        zs = [set(np.flatnonzero(zone == k).tolist()) for k in range(p)]
        zpop = np.array([nd.pop[list(s)].sum() for s in zs])
        zsize = np.array([nd.size[list(s)].sum() for s in zs])
        cnode = nd.node_of[centres]
        locked = nd.lock >= 0
        bounded = self.bounded
        for _ in range(max_passes):
            moved = False
            for v in range(nd.N):
                a = zone[v]
                if cnode[a] == v or locked[v]:
                    continue
                ca = centres[a]
                best = None
                for u in self.nbrs[v]:
                    b = zone[u]
                    if b == a:
                        continue
                    cb = centres[b]
                    if not nd.ok[v, cb]:
                        continue
                    dv = (self._viol(zpop[a] - nd.pop[v], zsize[a] - nd.size[v])
                          + self._viol(zpop[b] + nd.pop[v], zsize[b] + nd.size[v])
                          - self._viol(zpop[a], zsize[a]) - self._viol(zpop[b], zsize[b])) if bounded else 0.0
                    dc = C[v, cb] - C[v, ca]
                    key = (round(dv, 12), dc)
                    if (dv < -1e-12 or (abs(dv) <= 1e-12 and dc < -1e-9)) and (best is None or key < best[0]):
                        best = (key, b)
                if best is None:
                    continue
                if not self._connected_without(zs[a], cnode[a], v):
                    continue
                self._move(v, a, best[1], zone, zs, zpop, zsize)
                moved = True
            if not moved:
                break
        return zone

    def repair(self, centres: np.ndarray, zone: np.ndarray, max_chains: int | None = None) -> np.ndarray:
        """Bring zones within their bounds by the cheapest chains of boundary moves.

        A zone short of members (or population) receives a unit from a neighbouring zone, which
        receives one from its neighbour, and so on until a zone that can spare one; a zone over
        its bounds passes units on the same way to a zone with room. Each link of a chain is the
        cheapest move of a boundary unit between the two zones that keeps the giving zone
        connected; a cheap chain (Dijkstra over zones — a heuristic choice, as a move may also
        lower the cost) is applied when it lowers the total violation. Single moves that only
        look at the violation (the local search) would move any unit — often the largest
        village — whatever it costs.
        """
        if not self.bounded:
            return zone
        nd = self.nd
        p = len(centres)
        zs = [set(np.flatnonzero(zone == k).tolist()) for k in range(p)]
        zpop = np.array([nd.pop[list(z)].sum() for z in zs], dtype=float)
        zsize = np.array([nd.size[list(z)].sum() for z in zs], dtype=np.int64)
        cnode = nd.node_of[centres]
        banned: set[tuple[int, int, int]] = set()
        for _ in range(max_chains or 4 * nd.N):
            viol = np.array([self._viol(zpop[k], int(zsize[k])) for k in range(p)])
            if viol.sum() <= 1e-12:
                break
            best = self._transfers(centres, zone, zs, banned)
            if not best:
                break
            order = np.argsort(-viol)
            applied = False
            n_banned = len(banned)
            for k in order[: max(1, int((viol > 0).sum()))]:
                if viol[k] <= 0:
                    break
                short = zsize[k] < self.mlo or zpop[k] < self.lo
                chain = self._chain(k, short, best, zpop, zsize)
                if chain is None:
                    continue
                undo = []
                ok = True
                for a, b, v in chain:
                    if zone[v] != a or not self._connected_without(zs[a], cnode[a], v) or \
                            not any(zone[u] == b for u in self.nbrs[v]):
                        banned.add((a, b, v))
                        ok = False
                        break
                    self._move(v, a, b, zone, zs, zpop, zsize)
                    undo.append((v, a, b))
                new_viol = sum(self._viol(zpop[x], int(zsize[x])) for x in range(p))
                if ok and new_viol < viol.sum() - 1e-12:
                    applied = True
                    break
                for v, a, b in reversed(undo):
                    self._move(v, b, a, zone, zs, zpop, zsize)
                if ok:
                    banned.update(chain)
            if not applied and len(banned) == n_banned:
                break
        return zone

    def _transfers(self, centres: np.ndarray, zone: np.ndarray, zs: list[set[int]],
                   banned: set[tuple[int, int, int]] = frozenset()) -> dict[tuple[int, int], tuple[float, int]]:
        """Cheapest move (cost change, unit) of a boundary unit from zone a to a touching zone b,
        keeping a connected, for every pair (a, b)."""
        nd = self.nd
        C = nd.C
        cnode = nd.node_of[centres]
        locked = nd.lock >= 0
        best: dict[tuple[int, int], tuple[float, int]] = {}
        for v in range(nd.N):
            a = zone[v]
            if cnode[a] == v or locked[v]:
                continue
            cav = C[v, centres[a]]
            removable = None
            for u in self.nbrs[v]:
                b = zone[u]
                if b == a or not nd.ok[v, centres[b]] or (a, b, v) in banned:
                    continue
                d = C[v, centres[b]] - cav
                if (a, b) not in best or d < best[(a, b)][0]:
                    if removable is None:
                        removable = self._connected_without(zs[a], cnode[a], v)
                    if removable:
                        best[(a, b)] = (d, v)
        return best

    def chains(self, centres: np.ndarray, zone: np.ndarray, max_iter: int | None = None,
               max_len: int = 4) -> np.ndarray:
        """Improve by chains of boundary moves a → b → … → e (each zone passes one unit on)
        or cycles, found as negative paths over zones (Bellman–Ford, at most ``max_len``
        links), so that zones at their member bounds can still trade units. Kept only when
        the violation does not grow and the cost falls."""
        nd = self.nd
        p = len(centres)
        if p < 2:
            return zone
        zs = [set(np.flatnonzero(zone == k).tolist()) for k in range(p)]
        zpop = np.array([nd.pop[list(z)].sum() for z in zs], dtype=float)
        zsize = np.array([nd.size[list(z)].sum() for z in zs], dtype=np.int64)
        cnode = nd.node_of[centres]
        failed: set[tuple] = set()

        def can(x: int, v: int, sign: int) -> bool:  # zone x may lose (-1) / gain (+1) unit v
            return self._viol(zpop[x] + sign * nd.pop[v], int(zsize[x] + sign * nd.size[v])) <= \
                self._viol(zpop[x], int(zsize[x])) + 1e-12

        for _ in range(max_iter or 2 * nd.N):
            best = self._transfers(centres, zone, zs)
            if not best:
                break
            viol0 = sum(self._viol(zpop[x], int(zsize[x])) for x in range(p))
            edges = [(a, b, d, v) for (a, b), (d, v) in best.items()]
            options = []  # (gain, chain)
            for s0 in range(p):
                dist = {s0: 0.0}
                pred: dict[int, tuple[int, int]] = {}
                hops = {s0: 0}
                for _ in range(max_len):
                    changed = False
                    for a, b, d, v in edges:
                        if a in dist and hops[a] < max_len and b != s0 and dist[a] + d < dist.get(b, np.inf) - 1e-9:
                            # no zone twice on the path
                            y, on_path = a, set()
                            while y != s0:
                                on_path.add(y)
                                y = pred[y][0]
                            if b in on_path:
                                continue
                            dist[b] = dist[a] + d
                            pred[b] = (a, v)
                            hops[b] = hops[a] + 1
                            changed = True
                    if not changed:
                        break
                # open paths s0 → e (s0 loses a unit, e gains one) and cycles back to s0
                ends = [(dist[e], e, None) for e in dist if e != s0]
                ends += [(dist[a] + d, a, (a, s0, v)) for a, b, d, v in edges if b == s0 and a in dist and a != s0]
                for gain, e, close in ends:
                    if gain >= -1e-9 * max(1.0, abs(gain)):
                        continue
                    chain = []
                    y = e
                    while y != s0:
                        a, v = pred[y]
                        chain.append((a, y, v))
                        y = a
                    chain = chain[::-1]
                    if close is not None:
                        chain.append(close)
                    elif not (can(s0, chain[0][2], -1) and can(e, chain[-1][2], +1)):
                        continue
                    key = tuple(chain)
                    if key not in failed:
                        options.append((gain, key))
            applied = False
            for gain, chain in sorted(options):
                undo, ok = [], True
                for a, b, v in chain:
                    if zone[v] != a or cnode[a] == v or not self._connected_without(zs[a], cnode[a], v) or \
                            not any(zone[u] == b for u in self.nbrs[v]):
                        ok = False
                        break
                    self._move(v, a, b, zone, zs, zpop, zsize)
                    undo.append((v, a, b))
                if ok and sum(self._viol(zpop[x], int(zsize[x])) for x in range(p)) <= viol0 + 1e-12:
                    applied = True
                    break
                for v, a, b in reversed(undo):
                    self._move(v, b, a, zone, zs, zpop, zsize)
                failed.add(chain)
            if not applied:
                break
        return zone

    def _move(self, v, a, b, zone, zs, zpop, zsize) -> None:
        nd = self.nd
        zs[a].discard(v)
        zs[b].add(v)
        zpop[a] -= nd.pop[v]
        zpop[b] += nd.pop[v]
        zsize[a] -= nd.size[v]
        zsize[b] += nd.size[v]
        zone[v] = b

    def _chain(self, k: int, short: bool, best: dict, zpop: np.ndarray, zsize: np.ndarray):
        """A cheap chain of transfers into zone ``k`` (``short``) or out of it, ending at a
        zone that can give (or take) a unit without leaving its bounds."""
        nd = self.nd
        dist = {k: 0.0}
        prev: dict[int, tuple[int, int, int]] = {}
        heap = [(0.0, k)]
        done = set()
        # transfers by receiving zone (short: walk donors backwards) or by giving zone
        links: dict[int, list[tuple[int, float, int]]] = {}
        for (a, b), (d, v) in best.items():
            if short:
                links.setdefault(b, []).append((a, d, v))
            else:
                links.setdefault(a, []).append((b, d, v))
        while heap:
            dk, x = heapq.heappop(heap)
            if x in done:
                continue
            done.add(x)
            if x != k:
                # the move that reached x: x gives v (short) or receives v (over)
                a, b, v = prev[x]
                if short:
                    ok_end = self._viol(zpop[x] - nd.pop[v], int(zsize[x] - nd.size[v])) <= \
                        self._viol(zpop[x], int(zsize[x])) + 1e-12
                else:
                    ok_end = self._viol(zpop[x] + nd.pop[v], int(zsize[x] + nd.size[v])) <= \
                        self._viol(zpop[x], int(zsize[x])) + 1e-12
                if ok_end:
                    chain = []
                    y = x
                    while y != k:
                        a, b, v = prev[y]
                        chain.append((a, b, v))
                        y = b if short else a
                    # short: apply from the move into k outwards; over: from k outwards too
                    return chain[::-1]
            for y, d, v in links.get(x, []):
                if y in done:
                    continue
                nd_ = dk + d
                if nd_ < dist.get(y, np.inf) - 1e-12:
                    dist[y] = nd_
                    prev[y] = (y, x, v) if short else (x, y, v)
                    heapq.heappush(heap, (nd_, y))
        return None

    def recentre(self, centres: np.ndarray, zone: np.ndarray) -> np.ndarray:
        """Best candidate centre of each zone (fixed centres stay)."""
        nd = self.nd
        new = centres.copy()
        fixed = set(self.fixed.tolist())
        for k, c in enumerate(centres):
            if c in fixed:
                continue
            zn = np.flatnonzero(zone == k)
            units = np.concatenate([nd.members[v] for v in zn])
            cands = units[self.prob.candidate[units]]
            if len(cands) <= 1:
                continue
            tot = nd.C[np.ix_(zn, cands)].sum(axis=0) + nd.F[cands]
            j = cands[int(np.argmin(tot))]
            if tot.min() < nd.C[zn, c].sum() + nd.F[c] - 1e-9:
                new[k] = j
        return new

    def score(self, centres: np.ndarray, zone: np.ndarray) -> tuple[float, float]:
        """(bound violation, objective) of a solution."""
        nd = self.nd
        p = len(centres)
        zpop = np.bincount(zone, weights=nd.pop, minlength=p)
        zsize = np.bincount(zone, weights=nd.size, minlength=p)
        viol = sum(self._viol(zpop[k], int(zsize[k])) for k in range(p))
        return viol, float(nd.C[np.arange(nd.N), centres[zone]].sum() + nd.F[centres].sum())

    def improve(self, centres: np.ndarray, max_iter: int = 20):
        """Grow, repair, local search and re-centre until the centres settle (Lloyd iterations);
        then chains of moves (:meth:`chains`) on the best division, and Lloyd again from its
        re-centred zones while that finds new centres."""
        best = None
        seen = set()
        for _ in range(3):
            for _ in range(max_iter):
                key = tuple(sorted(centres.tolist()))
                if key in seen:
                    break
                seen.add(key)
                zone = self.grow(centres)
                if zone is None:
                    break
                zone = self.repair(centres, zone)
                zone = self.local_search(centres, zone)
                sc = self.score(centres, zone)
                if best is None or sc < best[0]:
                    best = (sc, centres.copy(), zone.copy())
                centres = self.recentre(centres, zone)
            if best is None or not self.use_chains:
                break
            sc, S, zone = best
            zone = self.chains(S, zone.copy())
            sc2 = self.score(S, zone)
            if sc2 < sc:
                best = (sc2, S.copy(), zone.copy())
            centres = self.recentre(S, zone)
            if tuple(sorted(centres.tolist())) in seen:
                break
        return best

    # -- centre sets ----------------------------------------------------------------------------
    def _nearest(self):
        """For each node its K nearest candidate centres (units) and their costs, sorted."""
        if getattr(self, "_nn", None) is None:
            C = np.where(np.isfinite(self.nd.C), self.nd.C, BIG)
            cand = self.cand
            K = int(min(len(cand), max(40, 3 * self.nd.N // max(self.prob.p, 1))))
            sub = C[:, cand]
            part = np.argpartition(sub, K - 1, axis=1)[:, :K] if K < len(cand) else np.tile(np.arange(len(cand)), (len(sub), 1))
            cost = np.take_along_axis(sub, part, axis=1)
            order = np.argsort(cost, axis=1)
            self._nn = (cand[np.take_along_axis(part, order, axis=1)], np.take_along_axis(cost, order, axis=1), C)
        return self._nn

    def pmedian_swap(self, centres: np.ndarray, max_rounds: int = 500) -> np.ndarray:
        """Best-improvement p-median interchange on the node costs and the opening costs
        (contiguity ignored)."""
        _, _, C = self._nearest()
        F = self.nd.F
        S = centres.copy()
        obj = float(C[:, S].min(axis=1).sum() + F[S].sum())
        for _ in range(max_rounds):
            delta, r, u = self._swap_deltas(S, top=4)
            moved = False
            for d, ri, ui in zip(delta, r, u):
                if d >= -1e-9 * max(1.0, obj):
                    break
                S2 = S.copy()
                S2[ri] = ui
                new = float(C[:, S2].min(axis=1).sum() + F[S2].sum())  # exact check of the estimate
                if new < obj - 1e-9 * max(1.0, obj):
                    S, obj, moved = S2, new, True
                    break
            if not moved:
                break
        return S

    def _swap_deltas(self, S: np.ndarray, top: int):
        """Estimated objective change of swapping S[r] → u for the ``top`` best pairs.

        Whitaker's fast interchange on the K-nearest lists: exact whenever each node's
        second-nearest open centre is among its K nearest candidates, otherwise a pessimistic
        estimate (terms beyond the K nearest can only lower the true change); callers check the
        true objective before applying a swap.
        """
        nn_u, nn_c, C = self._nearest()
        p = len(S)
        n_units = self.prob.n
        CS = C[:, S]
        if p > 1:
            two = np.argpartition(CS, 1, axis=1)[:, :2]
            v2 = np.take_along_axis(CS, two, axis=1)
            swap = v2[:, 1] < v2[:, 0]
            a1 = np.where(swap, two[:, 1], two[:, 0])
            d1 = np.minimum(v2[:, 0], v2[:, 1])
            d2 = np.maximum(v2[:, 0], v2[:, 1])
        else:
            a1 = np.zeros(len(CS), dtype=np.int64)
            d1 = CS[:, 0]
            d2 = np.full(len(CS), BIG)
        # inserting u saves Σ_v min(0, c_vu − d1_v) ...
        gain = np.minimum(0.0, nn_c - d1[:, None])
        G = np.bincount(nn_u.ravel(), weights=gain.ravel(), minlength=n_units)
        # ... removing S[r] costs Σ_{v: a1=v→r} (min(d2, c_vu) − min(d1, c_vu))
        #   = loss_r − Σ_{v→r} max(0, d2_v − max(c_vu, d1_v)), non-zero only where c_vu < d2_v
        loss = np.bincount(a1, weights=np.minimum(d2, BIG) - d1, minlength=p)
        corr = np.maximum(0.0, d2[:, None] - np.maximum(nn_c, d1[:, None]))
        L = loss[None, :] - np.bincount((nn_u * p + a1[:, None]).ravel(), weights=corr.ravel(),
                                        minlength=n_units * p).reshape(n_units, p)
        D = G[:, None] + L + (self.nd.F[:, None] - self.nd.F[S][None, :])  # opening u, closing S[r]
        ok_u = np.zeros(n_units, dtype=bool)
        ok_u[self.cand] = True
        ok_u[S] = False
        busy = np.zeros(self.nd.N, dtype=bool)
        busy[self.nd.node_of[S]] = True
        ok_u &= ~busy[self.nd.node_of]
        D[~ok_u] = np.inf
        D[:, np.isin(S, self.fixed)] = np.inf
        flat = np.argpartition(D, min(top, D.size - 1), axis=None)[:top] if D.size > top else np.arange(D.size)
        flat = flat[np.argsort(D.ravel()[flat])]
        ui, ri = np.unravel_index(flat, D.shape)
        keep = np.isfinite(D[ui, ri])
        return D[ui, ri][keep], ri[keep], ui[keep]

    def _free_mask(self, S: list[int]) -> np.ndarray:
        ok = np.zeros(self.prob.n, dtype=bool)
        ok[self.cand] = True
        if S:
            busy = np.zeros(self.nd.N, dtype=bool)
            busy[self.nd.node_of[np.asarray(S)]] = True
            ok &= ~busy[self.nd.node_of]
        return ok

    def greedy_centres(self, p: int) -> np.ndarray | None:
        """Greedy add on the p-median costs, starting from the fixed centres."""
        _, _, C = self._nearest()
        S = list(self.fixed)
        cur = C[:, S].min(axis=1) if S else np.full(C.shape[0], BIG)
        ok = self._free_mask(S)
        while len(S) < p:
            free = np.flatnonzero(ok)
            if not len(free):
                return None
            tot = np.minimum(cur[:, None], C[:, free]).sum(axis=0) + self.nd.F[free]
            u = int(free[np.argmin(tot)])
            S.append(u)
            ok[self.nd.members[self.nd.node_of[u]]] = False
            cur = np.minimum(cur, C[:, u])
        return np.asarray(S, dtype=np.int64)

    def random_centres(self, p: int) -> np.ndarray | None:
        """k-means++-like seeding: a candidate is drawn with probability ∝ the cost of its own
        node under the centres drawn so far."""
        _, _, C = self._nearest()
        S = list(self.fixed)
        ok = self._free_mask(S)
        cur = C[:, S].min(axis=1) if S else None
        while len(S) < p:
            free = np.flatnonzero(ok)
            if not len(free):
                return None
            wu = (np.minimum(cur[self.nd.node_of[free]], BIG / 1e3) + 1e-9) if cur is not None else np.ones(len(free))
            u = int(self.rng.choice(free, p=wu / wu.sum()))
            S.append(u)
            ok[self.nd.members[self.nd.node_of[u]]] = False
            cur = C[:, u].copy() if cur is None else np.minimum(cur, C[:, u])
        return np.asarray(S, dtype=np.int64)

    def exchange(self, best, time_left: float, top: int = 8):
        """Centre-exchange descent on a grown solution."""
        t0 = time.perf_counter()
        tried = set()
        while time.perf_counter() - t0 < time_left:
            (sc, S, zone) = best
            delta, r, u = self._swap_deltas(S, top=top * 3)
            improved = False
            n_eval = 0
            for d, ri, ui in zip(delta, r, u):
                if n_eval >= top or time.perf_counter() - t0 > time_left:
                    break
                S2 = S.copy()
                S2[ri] = ui
                key = tuple(sorted(S2.tolist()))
                if key in tried:
                    continue
                tried.add(key)
                n_eval += 1
                got = self.improve(S2)
                if got is not None and got[0] < sc:
                    best = got
                    improved = True
                    break
            if not improved:
                break
        return best


def lagrangian_bound(prob: Problem, upper: float, *, iterations: int = 400, time_limit: float = 5.0,
                     collect: int = 0, k_nearest: int | None = None) -> tuple[float, list[np.ndarray]]:
    """Lower bound of the zoning objective by Lagrangian relaxation of "each unit in one zone".

    Contiguity, the bounds and the groups are relaxed; candidates, fixed centres, locks, the
    county border and travel-time caps are kept (they are in ``allowed``). For multipliers λ:
    L(λ) = Σλ_i + min over p centres (fixed ones forced) of Σ_j ρ_j, ρ_j = f_j + Σ_i min(0, W_ij − λ_i)
    (f_j: the cost of opening j, :attr:`Problem.open_cost`),
    a valid bound for every λ; subgradient ascent (Held–Wolfe–Crowder) raises it. λ_i is kept
    at most the cost of unit i's K-th nearest candidate, so only K entries per row count
    (L(λ) stays exact and valid for any λ). Also returns up to ``collect`` distinct centre sets
    met on the way (seeds for the heuristic).
    """
    t0 = time.perf_counter()
    n, p = prob.n, prob.p
    cand_mask = prob.candidate & prob.allowed.diagonal()
    cand = np.flatnonzero(cand_mask)
    fixed = np.flatnonzero(prob.fixed)
    k_free = p - len(fixed)
    if k_free < 0 or len(cand) < p:
        return -np.inf, []
    W = np.where(prob.allowed, prob.pop[:, None] * np.where(np.isfinite(prob.T), prob.T, 0.0), BIG)[:, cand]
    K = int(min(len(cand), k_nearest or max(40, 3 * n // max(p, 1))))
    part = np.argpartition(W, K - 1, axis=1)[:, :K] if K < len(cand) else np.tile(np.arange(len(cand)), (n, 1))
    nw = np.take_along_axis(W, part, axis=1)
    order = np.argsort(nw, axis=1)
    nj = np.take_along_axis(part, order, axis=1)  # positions in cand
    nw = np.take_along_axis(nw, order, axis=1)
    cap = nw[:, -1] if K < len(cand) else np.full(n, BIG)
    lam = np.minimum(nw[:, min(1, K - 1)], cap)
    f_cand = np.asarray(prob.open_cost, dtype=float)[cand]
    best, mu, stall = -np.inf, 2.0, 0
    sets: list[np.ndarray] = []
    seen = set()
    free_mask = np.ones(len(cand), dtype=bool)
    fixed_pos = np.searchsorted(cand, fixed)
    free_mask[fixed_pos] = False
    for it in range(iterations):
        red = np.minimum(nw - lam[:, None], 0.0)
        rho = np.bincount(nj.ravel(), weights=red.ravel(), minlength=len(cand)) + f_cand
        r = np.where(free_mask, rho, np.inf)
        chosen = np.argpartition(r, k_free - 1)[:k_free] if k_free > 0 else np.zeros(0, dtype=np.int64)
        Spos = np.concatenate([fixed_pos, chosen])
        val = float(lam.sum() + rho[Spos].sum())
        if collect and it > 10:
            key = tuple(sorted(Spos.tolist()))
            if key not in seen:
                seen.add(key)
                sets.append(cand[Spos])
                if len(sets) > collect:
                    sets.pop(0)
        if val > best + 1e-9 * max(1.0, abs(best) if np.isfinite(best) else 1.0):
            best, stall = val, 0
        else:
            stall += 1
            if stall >= 15:
                mu, stall = mu / 2.0, 0
        if best >= upper * (1 - 1e-9) or mu < 1e-4 or time.perf_counter() - t0 > time_limit:
            break
        inS = np.zeros(len(cand), dtype=bool)
        inS[Spos] = True
        g = 1.0 - ((nw < lam[:, None]) & inS[nj]).sum(axis=1)
        norm = float(g @ g)
        if norm == 0.0:
            break
        lam = np.clip(lam + mu * max(upper - val, 1e-9 * max(1.0, abs(upper))) / norm * g, 0.0, cap)
    return min(best, upper) if np.isfinite(upper) else best, sets


def solve(prob: Problem, *, time_limit: float = 10.0, starts: int = 8, seed: int = 0,
          seed_centres: list[np.ndarray] | None = None, bound: bool = True,
          bound_time: float | None = None, quick: bool = False) -> dict:
    """Run the heuristic. Returns a dict with ``centre_of`` (unit → centre unit index, or None),
    ``objective``, ``violation``, ``lower_bound``, ``starts_run``. ``quick``: only the p-median
    interchange seed (and ``seed_centres``), no random starts, no centre exchange — a division
    in a few hundredths of a second for screening."""
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    sv = Solver(prob, rng=rng)
    p = prob.p
    seeds: list[np.ndarray] = []
    g = sv.greedy_centres(p)
    if g is not None:
        seeds.append(sv.pmedian_swap(g))
        if not quick:
            seeds.append(g)
    for s in seed_centres or []:
        seeds.append(np.asarray(s, dtype=np.int64))
    lb, lag_sets = -np.inf, []
    upper_guess = np.inf
    best = None

    def consider(S):
        nonlocal best
        if len(S) != p or len(set(sv.nd.node_of[S].tolist())) != p:
            return
        got = sv.improve(np.asarray(S, dtype=np.int64))
        if got is not None and (best is None or got[0] < best[0]):
            best = got

    for S in seeds:
        consider(S)
        if time.perf_counter() - t0 > time_limit * 0.4:
            break
    if bound:
        upper_guess = best[0][1] if best is not None and best[0][0] == 0 else np.inf
        if not np.isfinite(upper_guess):
            C = np.where(np.isfinite(sv.nd.C), sv.nd.C, BIG)
            S0 = seeds[0] if seeds else None
            upper_guess = float(C[:, S0].min(axis=1).sum()) * 1.05 if S0 is not None else 1e12
        lb, lag_sets = lagrangian_bound(prob, upper_guess, time_limit=bound_time or max(0.5, time_limit * 0.25),
                                        collect=6)
        for S in lag_sets[::-1][:3]:
            consider(sv.pmedian_swap(S))
    k = 0
    while not quick and k < starts and time.perf_counter() - t0 < time_limit * 0.6:
        S = sv.random_centres(p)
        if S is None:
            break
        consider(sv.pmedian_swap(S))
        k += 1
    if best is not None and not quick:
        best = sv.exchange(best, time_left=max(0.0, time_limit - (time.perf_counter() - t0)))
    if best is None:
        return {"centre_of": None, "objective": np.inf, "violation": np.inf, "lower_bound": lb,
                "starts_run": k + len(seeds), "time_s": time.perf_counter() - t0}
    (viol, obj), S, zone = best
    centre_node = S[zone]  # centre unit per node
    centre_of = centre_node[sv.nd.node_of]
    return {"centre_of": centre_of, "objective": obj, "violation": viol, "lower_bound": lb,
            "starts_run": k + len(seeds), "time_s": time.perf_counter() - t0}
