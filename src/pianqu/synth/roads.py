"""A road hierarchy routed over the terrain, so that winding roads, detours and dead ends come
from the way roads are built, not from a planted list.

All roads are least-cost paths on the 8-neighbour grid of cells wholly inside the county. An
edge costs its length × (1 + (grade / g)²) (g: the grade a class tolerates) plus a bridge
when it touches a river; an edge already on a road costs a fraction, so later roads join
earlier ones instead of running beside them.

1. National and provincial roads: from the county seat to exits on the county border in
   different directions (the seat lies on every one of them).
2. County roads: one multi-source Dijkstra from all town seats; grid edges whose two ends
   reached different seats give, for every pair of neighbouring seats, the best link
   between them (the network-Voronoi trick). A minimum spanning tree of these links plus
   some shorter extra links (loops) are built.
3. Township and village roads: each village seat is joined to the network by its
   shortest path to a town seat (staying in its township unless it uses a road); stretches
   shared by two or more villages are township roads, the rest village roads. A share of
   links between neighbouring villages adds loops, and spurs reach scattered hamlets.

Edges are then cut into LineStrings at every junction (a vertex of degree ≠ 2, a class
change, or where two diagonals cross) and smoothed (Chaikin, ends fixed), so every junction
is a vertex shared by the ends of the lines that meet there.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import shapely
from scipy.sparse.csgraph import minimum_spanning_tree

from pianqu import standards
from pianqu.synth._util import chaikin
from pianqu.synth.grid import CellGraph, trace
from pianqu.synth.terrain import Terrain, spectral_noise

CLASS_RANK = {"national": 1, "provincial": 2, "county": 3, "township": 4, "village": 5}
RANK_CLASS = {v: k for k, v in CLASS_RANK.items()}
# grade each class tolerates before its cost doubles, and how it weighs hillside slope
GRADE = {"national": 0.045, "provincial": 0.055, "county": 0.07, "township": 0.09, "village": 0.12}


@dataclass
class RoadNet:
    lines: list[shapely.LineString]
    cls: list[str]
    name: list[str]
    edge_rank: np.ndarray  # per graph edge: best class rank using it (0 = none)
    graph: CellGraph


class _Builder:
    def __init__(self, t: Terrain, mask: np.ndarray, township_of_cell: np.ndarray, gen: np.random.Generator):
        self.t = t
        self.gen = gen
        self.g = CellGraph(t.grid, mask)
        g = self.g
        zf = t.elev.ravel()
        cu, cv = g.cells[g.u], g.cells[g.v]
        self.grade = np.abs(zf[cu] - zf[cv]) / g.length
        self.side = 0.5 * (t.slope.ravel()[cu] + t.slope.ravel()[cv])
        order = t.order.ravel()
        riv = t.river.ravel()
        bridge_order = np.maximum(np.where(riv[cu], order[cu], 0), np.where(riv[cv], order[cv], 0))
        self.bridge = np.where(bridge_order > 0, 150.0 * 1.8 ** bridge_order, 0.0)
        tw = township_of_cell.ravel()
        self.cross = tw[cu] != tw[cv]
        # a smooth random field plus a little per-edge noise: roads meander on flat land too
        field = spectral_noise(t.grid.shape, gen, 2.2, lmax=max(6.0, 2000.0 / t.grid.cell))
        fe = 0.5 * (field.ravel()[cu] + field.ravel()[cv])
        self.rough = np.exp(0.35 * fe) * gen.lognormal(0.0, 0.12, len(cu))
        m = len(g.u)
        self.rank = np.zeros(m, dtype=np.int64)  # best class on each edge (0: no road)
        self.owner = np.full(m, -1, dtype=np.int64)  # road name index of that class
        self.names: list[str] = []
        # edge lookup: (node a, node b) → edge id
        key = np.minimum(g.u, g.v) * g.n + np.maximum(g.u, g.v)
        self.key_order = np.argsort(key)
        self.key_sorted = key[self.key_order]

    def weight(self, cls: str, discount: float = 0.35, cross_penalty: float = 1.0) -> np.ndarray:
        w = self.g.length * (1.0 + (self.grade / GRADE[cls]) ** 2) * (1.0 + self.side / 30.0) * self.rough + self.bridge
        w = np.where(self.rank > 0, w * discount, w)
        if cross_penalty != 1.0:
            w = np.where(self.cross & (self.rank == 0), w * cross_penalty, w)
        return w

    def edge_ids(self, path: list[int]) -> np.ndarray:
        p = np.asarray(path, dtype=np.int64)
        if len(p) < 2:
            return np.zeros(0, dtype=np.int64)
        a, b = p[:-1], p[1:]
        key = np.minimum(a, b) * self.g.n + np.maximum(a, b)
        pos = np.searchsorted(self.key_sorted, key)
        return self.key_order[pos]

    def mark(self, path: list[int], cls: str, name: str) -> None:
        e = self.edge_ids(path)
        if len(e) == 0:
            return
        r = CLASS_RANK[cls]
        self.names.append(name)
        better = (self.rank[e] == 0) | (self.rank[e] > r)
        self.rank[e[better]] = r
        self.owner[e[better]] = len(self.names) - 1


def _border_nodes(g: CellGraph) -> np.ndarray:
    deg = np.bincount(np.concatenate([g.u, g.v]), minlength=g.n)
    return np.flatnonzero(deg < 8)


def build_roads(t: Terrain, mask: np.ndarray, township_of_cell: np.ndarray, seat_cell: int,
                town_cells: np.ndarray, village_cells: np.ndarray, hamlet_cells: np.ndarray,
                gen: np.random.Generator, *, loop_share: float = 0.3, village_loop_share: float = 0.2) -> RoadNet:
    """Build the road network (see module doc). Cells are flat grid indices inside ``mask``."""
    b = _Builder(t, mask, township_of_cell, gen)
    g = b.g
    seat = int(g.node[seat_cell])
    towns = g.node[town_cells]
    villages = g.node[village_cells]
    area_km2 = mask.sum() * t.grid.cell ** 2 / 1e6

    # 1. national and provincial roads through the county seat
    w = b.weight("national")
    dist, pred, _ = g.shortest(w, [seat])
    border = _border_nodes(g)
    border = border[np.isfinite(dist[border])]
    if len(border):
        bxy = t.grid.xy(g.cells[border])
        sxy = t.grid.xy(np.array([seat_cell]))[0]
        ang = np.arctan2(bxy[:, 1] - sxy[1], bxy[:, 0] - sxy[0])
        radial = np.hypot(*(bxy - sxy).T)
        rel = dist[border] / np.maximum(radial, 1.0)  # detour factor to reach the border
        n_prov = 1 + int(area_km2 > 1200) + int(area_km2 > 4000)
        exits: list[tuple[int, str]] = []
        first = int(np.argmin(rel * gen.lognormal(0, 0.2, len(rel))))
        exits.append((first, "national"))
        opp = np.abs(np.angle(np.exp(1j * (ang - ang[first])))) > np.radians(120)
        if opp.any():
            second = np.flatnonzero(opp)[np.argmin((rel * gen.lognormal(0, 0.2, len(rel)))[opp])]
            exits.append((int(second), "national"))
        for _ in range(n_prov):
            far = np.ones(len(border), dtype=bool)
            for e, _c in exits:
                far &= np.abs(np.angle(np.exp(1j * (ang - ang[e])))) > np.radians(60)
            if not far.any():
                break
            pick = np.flatnonzero(far)[np.argmin((rel * gen.lognormal(0, 0.3, len(rel)))[far])]
            exits.append((int(pick), "provincial"))
        nat_no = int(gen.choice([108, 212, 244, 245, 318, 347, 348, 350, 351, 542, 543, 544, 546]))
        prov_nos = gen.choice(np.arange(101, 460), size=len(exits), replace=False)
        for k, (e, cls) in enumerate(exits):
            name = f"G{nat_no}" if cls == "national" else f"S{int(prov_nos[k])}"
            b.mark(trace(pred, int(border[e])), cls, name)

    # 2. county roads between town seats
    seats_all = np.unique(np.concatenate([[seat], towns]))
    if len(seats_all) > 1:
        w = b.weight("county")
        dist, pred, src = g.shortest(w, seats_all)
        u, v = g.u, g.v
        diff = (src[u] != src[v]) & (src[u] >= 0) & (src[v] >= 0)
        eu, ev = u[diff], v[diff]
        cost = dist[eu] + w[diff] + dist[ev]
        s1, s2 = np.minimum(src[eu], src[ev]), np.maximum(src[eu], src[ev])
        order = np.lexsort((cost, s2, s1))
        s1, s2, cost, eu, ev = s1[order], s2[order], cost[order], eu[order], ev[order]
        first = np.r_[True, (s1[1:] != s1[:-1]) | (s2[1:] != s2[:-1])]
        s1, s2, cost, eu, ev = s1[first], s2[first], cost[first], eu[first], ev[first]
        idx = {int(s): i for i, s in enumerate(seats_all)}
        i1 = np.array([idx[int(s)] for s in s1])
        i2 = np.array([idx[int(s)] for s in s2])
        ns = len(seats_all)
        mst = minimum_spanning_tree(sp.csr_matrix((cost, (i1, i2)), shape=(ns, ns))).tocoo()
        in_mst = set(zip(np.minimum(mst.row, mst.col).tolist(), np.maximum(mst.row, mst.col).tolist()))
        med = np.median(mst.data) if mst.nnz else np.inf
        links = []
        for k in range(len(cost)):
            a_, b_ = int(min(i1[k], i2[k])), int(max(i1[k], i2[k]))
            if (a_, b_) in in_mst or (cost[k] < 1.3 * med and gen.random() < loop_share):
                links.append(k)
        for n_k, k in enumerate(links):
            path = trace(pred, int(eu[k]))[::-1] + trace(pred, int(ev[k]))
            b.mark(path, "county", f"X{n_k + 1:03d}")

    # 3. township and village roads: every village seat to a town seat
    w = b.weight("township", cross_penalty=3.0)
    dist, pred, src = g.shortest(w, towns)
    use = np.zeros(len(g.u), dtype=np.int64)
    paths = []
    for vnode in villages:
        if not np.isfinite(dist[vnode]):
            continue
        p = trace(pred, int(vnode))
        paths.append(p)
        e = b.edge_ids(p)
        use[e] += 1
    y_no, c_no = 0, 0
    for p in paths:
        e = b.edge_ids(p)
        if len(e) == 0:
            continue
        shared = use[e] >= 2
        # cut the path into township (shared) and village (single) stretches
        cuts = np.flatnonzero(np.diff(shared.astype(int))) + 1
        for seg in np.split(np.arange(len(e)), cuts):
            nodes = p[seg[0]: seg[-1] + 2]
            if shared[seg[0]]:
                y_no += 1
                b.mark(nodes, "township", f"Y{y_no:03d}")
            else:
                c_no += 1
                b.mark(nodes, "village", f"C{c_no:03d}")

    # loops between neighbouring villages
    if len(villages) > 1 and village_loop_share > 0:
        w = b.weight("village", discount=0.5)
        dist, pred, src = g.shortest(w, villages)
        u, v = g.u, g.v
        diff = (src[u] != src[v]) & (src[u] >= 0) & (src[v] >= 0)
        eu, ev = u[diff], v[diff]
        cost = dist[eu] + w[diff] + dist[ev]
        s1, s2 = np.minimum(src[eu], src[ev]), np.maximum(src[eu], src[ev])
        order = np.lexsort((cost, s2, s1))
        s1, s2, cost, eu, ev = s1[order], s2[order], cost[order], eu[order], ev[order]
        first = np.r_[True, (s1[1:] != s1[:-1]) | (s2[1:] != s2[:-1])]
        cost, eu, ev = cost[first], eu[first], ev[first]
        pick = np.flatnonzero(gen.random(len(cost)) < village_loop_share * (cost < np.median(cost)) * 2)
        for k in pick:
            c_no += 1
            path = trace(pred, int(eu[k]))[::-1] + trace(pred, int(ev[k]))
            b.mark(path, "village", f"C{c_no:03d}")

    # spurs to hamlets
    hamlets = g.node[hamlet_cells]
    hamlets = hamlets[hamlets >= 0]
    if len(hamlets):
        on_net = np.unique(np.concatenate([g.u[b.rank > 0], g.v[b.rank > 0]]))
        if len(on_net):
            w = b.weight("village")
            dist, pred, _ = g.shortest(w, on_net)
            for h in hamlets:
                if np.isfinite(dist[h]) and dist[h] > 0:
                    c_no += 1
                    b.mark(trace(pred, int(h)), "village", f"C{c_no:03d}")

    keep_nodes = set(np.concatenate([[seat_cell], town_cells, village_cells]).tolist())
    lines, cls, names = _lines(b, keep_nodes)
    return RoadNet(lines, cls, names, b.rank, g)


def _lines(b: _Builder, keep_nodes: set[int]) -> tuple[list[shapely.LineString], list[str], list[str]]:
    """Cut the used edges into lines at junctions, class/name changes, diagonal crossings and
    at ``keep_nodes`` (the seats, so that smoothing never moves a road off a settlement)."""
    g = b.g
    grid = b.t.grid
    used = np.flatnonzero(b.rank > 0)
    u = g.cells[g.u[used]].copy()
    v = g.cells[g.v[used]].copy()
    rank = b.rank[used]
    owner = b.owner[used]
    xy = {}
    # crossing diagonals: both diagonals of a 2×2 block used → split both at the block centre
    nx = grid.nx
    ru, cu = np.divmod(u, nx)
    rv, cv = np.divmod(v, nx)
    diag = (ru != rv) & (cu != cv)
    lo_r, lo_c = np.minimum(ru, rv), np.minimum(cu, cv)
    block = lo_r * nx + lo_c
    main = diag & (((ru < rv) & (cu < cv)) | ((ru > rv) & (cu > cv)))  # SW–NE diagonal
    anti = diag & ~main
    both = np.intersect1d(block[main], block[anti])
    if len(both):
        extra_u, extra_v, extra_r, extra_o = [], [], [], []
        keep = np.ones(len(u), dtype=bool)
        base_id = grid.size
        for k, blk in enumerate(both):
            mid_id = base_id + k
            r0, c0 = divmod(int(blk), nx)
            xy[mid_id] = (grid.x0 + (c0 + 1) * grid.cell, grid.y0 + (r0 + 1) * grid.cell)
            for e in np.flatnonzero(diag & (block == blk)):
                keep[e] = False
                extra_u += [u[e], mid_id]
                extra_v += [mid_id, v[e]]
                extra_r += [rank[e], rank[e]]
                extra_o += [owner[e], owner[e]]
        u = np.concatenate([u[keep], extra_u]).astype(np.int64)
        v = np.concatenate([v[keep], extra_v]).astype(np.int64)
        rank = np.concatenate([rank[keep], extra_r]).astype(np.int64)
        owner = np.concatenate([owner[keep], extra_o]).astype(np.int64)

    def coord(node: int) -> tuple[float, float]:
        if node in xy:
            return xy[node]
        r, c = divmod(node, nx)
        return (grid.x0 + (c + 0.5) * grid.cell, grid.y0 + (r + 0.5) * grid.cell)

    adj: dict[int, list[int]] = {}
    for k, (a, c) in enumerate(zip(u.tolist(), v.tolist())):
        adj.setdefault(a, []).append(k)
        adj.setdefault(c, []).append(k)

    def attr(k: int) -> tuple[int, int]:
        return int(rank[k]), int(owner[k])

    def is_break(node: int) -> bool:
        es = adj[node]
        return len(es) != 2 or attr(es[0]) != attr(es[1]) or node in keep_nodes

    seen = np.zeros(len(u), dtype=bool)
    lines, cls, names = [], [], []
    ul, vl = u.tolist(), v.tolist()

    def walk(start: int, k: int) -> None:
        nodes = [start]
        cur = start
        a0 = attr(k)
        while True:
            seen[k] = True
            nxt = vl[k] if ul[k] == cur else ul[k]
            nodes.append(nxt)
            if is_break(nxt):
                break
            k2 = [e for e in adj[nxt] if e != k][0]
            if seen[k2]:
                break
            cur, k = nxt, k2
        pts = np.array([coord(n) for n in nodes])
        pts = chaikin(pts, 2)
        line = shapely.simplify(shapely.LineString(pts), 0.5)
        lines.append(line)
        cls.append(RANK_CLASS[a0[0]])
        names.append(b.names[a0[1]])

    for node in sorted(adj):
        if not is_break(node):
            continue
        for k in adj[node]:
            if not seen[k]:
                walk(node, k)
    for k in np.flatnonzero(~seen):  # closed loops with no junction
        if not seen[k]:
            walk(ul[k], int(k))
    return lines, cls, names


def road_attributes(cls: list[str]) -> dict[str, np.ndarray]:
    """lanes, width (m) and speed (km/h) of each class from ``standards.road_classes()``."""
    table = standards.road_classes().set_index("class")
    c = np.asarray(cls, dtype=object)
    return {"lanes": table.loc[c, "lanes"].to_numpy(dtype=np.int64),
            "width_m": table.loc[c, "width_m"].to_numpy(dtype=float),
            "speed_kmh": table.loc[c, "speed_kmh"].to_numpy(dtype=float)}
