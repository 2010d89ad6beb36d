"""Independent oracles for small zoning instances (≤ 12 units), written from the problem
statement only (no pianqu.zoning code): every zone is a connected block of units holding its
centre; the optimum over all such partitions into p blocks.

- :func:`enumerate_optimum` literally enumerates every set partition (restricted-growth
  strings) — for n ≤ 9;
- :func:`dp_optimum` is an exact subset dynamic programme over connected blocks — for n ≤ 12.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np


class Instance:
    def __init__(self, pop, T, edges, p, *, candidates=None, fixed=(), forbidden=(), locked=None,
                 pop_bounds=(None, None), member_bounds=(None, None), groups=(), county=None, max_travel=None,
                 open_cost=None):
        self.pop = np.asarray(pop, dtype=float)
        self.T = np.asarray(T, dtype=float)
        self.n = len(self.pop)
        self.p = p
        self.nbr = [0] * self.n
        for a, b in edges:
            a, b = int(a), int(b)
            self.nbr[a] |= 1 << b
            self.nbr[b] |= 1 << a
        self.cand = set(range(self.n)) if candidates is None else set(candidates)
        self.fixed = {int(f) for f in fixed}
        self.cand = (self.cand - {int(f) for f in forbidden}) | self.fixed
        self.locked = {int(u): int(c) for u, c in (locked or {}).items()}
        self.fixed |= set(self.locked.values())
        self.cand |= self.fixed
        self.lo = pop_bounds[0] if pop_bounds[0] is not None else -math.inf
        self.hi = pop_bounds[1] if pop_bounds[1] is not None else math.inf
        self.mlo = member_bounds[0] or 1
        self.mhi = member_bounds[1] or self.n
        self.groups = [sum(1 << int(u) for u in g) for g in groups]
        self.county = list(county) if county is not None else [0] * self.n
        self.max_travel = max_travel if max_travel is not None else math.inf
        # cost of a block's centre being a centre at all (centre strength, issue 17)
        self.open_cost = np.zeros(self.n) if open_cost is None else np.asarray(open_cost, dtype=float)

    def connected(self, mask: int) -> bool:
        start = mask & -mask
        seen = start
        frontier = start
        while frontier:
            b = frontier & -frontier
            frontier ^= b
            u = b.bit_length() - 1
            new = self.nbr[u] & mask & ~seen
            seen |= new
            frontier |= new
        return seen == mask

    def block_cost(self, mask: int) -> tuple[float, int]:
        """(cost, centre) of the best valid centre of a block, (inf, -1) if none."""
        units = [u for u in range(self.n) if mask >> u & 1]
        if len({self.county[u] for u in units}) != 1:
            return math.inf, -1
        if not self.mlo <= len(units) <= self.mhi:
            return math.inf, -1
        pop = sum(self.pop[u] for u in units)
        if not self.lo - 1e-9 <= pop <= self.hi + 1e-9:
            return math.inf, -1
        for g in self.groups:
            if mask & g and (mask & g) != g:
                return math.inf, -1
        if not self.connected(mask):
            return math.inf, -1
        fixed_in = [u for u in units if u in self.fixed]
        if len(fixed_in) > 1:
            return math.inf, -1
        cands = fixed_in if fixed_in else [u for u in units if u in self.cand]
        best, bc = math.inf, -1
        for c in cands:
            if any(self.locked.get(u, c) != c for u in units):
                continue
            if any(self.T[u, c] > self.max_travel for u in units):
                continue
            cost = sum(self.pop[u] * self.T[u, c] for u in units) + self.open_cost[c]
            if cost < best:
                best, bc = cost, c
        return best, bc


def dp_optimum(inst: Instance) -> tuple[float, dict[int, int] | None]:
    """Optimal objective and an optimal assignment (unit → centre), or (inf, None)."""
    n = inst.n
    assert n <= 14
    full = (1 << n) - 1
    blocks: dict[int, tuple[float, int]] = {}
    for mask in range(1, full + 1):
        c = inst.block_cost(mask)
        if c[0] < math.inf:
            blocks[mask] = c

    @lru_cache(maxsize=None)
    def best(mask: int, k: int) -> tuple[float, tuple]:
        if mask == 0:
            return (0.0, ()) if k == 0 else (math.inf, ())
        if k == 0:
            return math.inf, ()
        low = mask & -mask
        rest = mask ^ low
        out = (math.inf, ())
        sub = rest
        while True:
            blk = sub | low
            if blk in blocks:
                r = best(mask ^ blk, k - 1)
                v = blocks[blk][0] + r[0]
                if v < out[0]:
                    out = (v, ((blk, blocks[blk][1]),) + r[1])
            if sub == 0:
                break
            sub = (sub - 1) & rest
        return out

    val, parts = best(full, inst.p)
    if val == math.inf:
        return val, None
    assign = {}
    for blk, c in parts:
        for u in range(n):
            if blk >> u & 1:
                assign[u] = c
    return val, assign


def _partitions(n: int):
    """Set partitions of range(n) as restricted-growth strings."""
    a = [0] * n

    def rec(i: int, m: int):
        if i == n:
            yield list(a)
            return
        for v in range(m + 1):
            a[i] = v
            yield from rec(i + 1, max(m, v + 1))

    yield from rec(1, 1) if n > 0 else iter([[]])


def enumerate_optimum(inst: Instance) -> float:
    """Optimal objective by enumerating every partition into p blocks (n ≤ 9)."""
    assert inst.n <= 9
    best = math.inf
    for rgs in _partitions(inst.n):
        if max(rgs) + 1 != inst.p:
            continue
        masks = [0] * inst.p
        for u, b in enumerate(rgs):
            masks[b] |= 1 << u
        tot = 0.0
        for m in masks:
            c = inst.block_cost(m)[0]
            tot += c
            if tot == math.inf:
                break
        best = min(best, tot)
    return best
