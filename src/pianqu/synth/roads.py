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

Towns are not reached by mountain tracks only:

* urban streets: inside the built-up land of every town big enough (the county seat first),
  a street lattice aligned on the town seat (one street every ``street_spacing_m``, bridges
  where it crosses a narrow river inside the town), the part connected to the seat kept;
* radial roads: every village seat and town seat within ``radial_radius_m`` of the county
  seat, or in one of its urban townships, whose road time to the seat exceeds
  ``radial_detour_max`` × the straight-line time at ``reference_speed_kmh``, gets a township
  road on its least-cost path to the seat (one shortest-path tree from the seat, so the
  radials share trunks). Far from the county seat the mountain detours stay, up to a cap:

Village roads toward the town seat: every village seat whose road time to the seat of its
township still exceeds ``village_detour_max`` × the straight-line time gets a village road
toward that seat (:func:`direct_roads`, shared with the radial roads): first the plain
least-cost path on the slope grid, then, if that still winds beyond the cap, paths that
weigh travel time more and more against the slope cost. Winding roads and detours between 1.5
and the cap stay, as in real mountain counties; a village 10 km from its town behind a 20×
detour does not (its 村道 would cross the pass).

Edges are then cut into LineStrings at every junction (a vertex of degree ≠ 2, a class
change, or where two diagonals cross) and smoothed (Chaikin, ends fixed), so every junction
is a vertex shared by the ends of the lines that meet there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import shapely
from scipy.sparse.csgraph import connected_components, dijkstra, minimum_spanning_tree

from pianqu import standards
from pianqu.synth._util import chaikin
from pianqu.synth.grid import CellGraph, trace
from pianqu.synth.terrain import Terrain, spectral_noise

CLASS_RANK = {"national": 1, "provincial": 2, "county": 3, "township": 4, "village": 5}
RANK_CLASS = {v: k for k, v in CLASS_RANK.items()}
# grade each class tolerates before its cost doubles, and how it weighs hillside slope
RADIAL_DISCOUNT = 0.7  # radial roads follow an existing road only where it heads their way
VILLAGE_LINK_DISCOUNT = 0.5  # village roads toward their town seat reuse roads as the village loops do
# rounds of :func:`direct_roads`: weight of time against cost (λ); the last round is time only
LAGRANGE = (0.0, 2.0, 8.0, 32.0, np.inf)
OFF_ROAD_S = 1e12  # time of a grid edge without a road in :meth:`_Builder.road_time` (never taken)
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
        self.xy = t.grid.xy(g.cells)  # node coordinates (m)
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
        """Mark the edges along ``path`` (a node sequence) as a road of ``cls`` named ``name``."""
        self.mark_edges(self.edge_ids(path), cls, name)

    def mark_edges(self, e: np.ndarray, cls: str, name: str) -> None:
        """Mark graph edges ``e`` (not necessarily a path) as roads of ``cls`` named ``name``."""
        if len(e) == 0:
            return
        r = CLASS_RANK[cls]
        self.names.append(name)
        better = (self.rank[e] == 0) | (self.rank[e] > r)
        self.rank[e[better]] = r
        self.owner[e[better]] = len(self.names) - 1

    def road_time(self, speeds: dict[str, float]) -> np.ndarray:
        """Travel time (s) of every graph edge on the roads built so far (inf off the roads)."""
        v = np.zeros(len(CLASS_RANK) + 1)
        for c, k in CLASS_RANK.items():
            v[k] = speeds[c] / 3.6
        return np.where(self.rank > 0, self.g.length / np.maximum(v[self.rank], 1e-9), OFF_ROAD_S)


def urban_streets(b: _Builder, town_cells: np.ndarray, built_town: np.ndarray, spacing_m: float,
                  min_cells: int = 6) -> int:
    """Street lattices inside the built-up land of the towns (see module doc); returns the
    number of towns that got one.

    ``built_town`` is the township row of the town whose built-up land covers each cell (flat,
    −1 elsewhere). A town's streets are the orthogonal grid edges on every ``k``-th row and
    column through its seat cell (``k`` = spacing ÷ cell, at least 2) with both ends in its
    built-up land or on a river cell beside it (a bridge); only the part connected to the seat
    is kept, so every street is reachable, and stubs cut by the town edge are pruned. Towns of fewer than ``min_cells`` cells get none."""
    g, grid = b.g, b.t.grid
    k = max(2, int(round(spacing_m / grid.cell)))
    river = b.t.river.ravel()
    cu, cv = g.cells[g.u], g.cells[g.v]
    ru, cu_c = np.divmod(cu, grid.nx)
    rv, cv_c = np.divmod(cv, grid.nx)
    horiz, vert = ru == rv, cu_c == cv_c
    bt_u, bt_v = built_town[cu], built_town[cv]
    # a river cell counts as part of the town it separates (any town on one of its ends)
    own_u = np.where(river[cu] & (bt_u < 0), bt_v, bt_u)
    own_v = np.where(river[cv] & (bt_v < 0), bt_u, bt_v)
    same = (own_u >= 0) & (own_u == own_v) & ~(river[cu] & river[cv])
    count = np.bincount(built_town[built_town >= 0], minlength=len(town_cells))
    made = 0
    for ti in np.argsort(-count, kind="stable"):
        if count[ti] < min_cells:
            break
        seat = int(g.node[town_cells[ti]])
        if seat < 0:
            continue
        r0, c0 = divmod(int(town_cells[ti]), grid.nx)
        on = same & (own_u == ti) & ((horiz & ((ru - r0) % k == 0)) | (vert & ((cu_c - c0) % k == 0)))
        e = np.flatnonzero(on)
        if len(e) == 0:
            continue
        nodes, inv = np.unique(np.r_[g.u[e], g.v[e]], return_inverse=True)
        m = len(nodes)
        adj = sp.coo_matrix((np.ones(len(e)), (inv[: len(e)], inv[len(e):])), shape=(m, m))
        _, lab = connected_components(adj, directed=False)
        at = np.searchsorted(nodes, seat)
        if at >= m or nodes[at] != seat:
            continue
        e = e[lab[inv[: len(e)]] == lab[at]]
        e = _prune_stubs(b, e, seat)
        b.mark_edges(e, "township", f"JD{ti + 1:03d}")
        made += 1
    return made


def _prune_stubs(b: _Builder, e: np.ndarray, keep_node: int) -> np.ndarray:
    """Drop, repeatedly, the edges of ``e`` with an end that no other road (of ``e`` or built
    before) reaches: a street lattice cut by the edge of the town leaves stubs, real streets
    end on another street."""
    g = b.g
    old = np.flatnonzero(b.rank > 0)
    base = np.bincount(np.r_[g.u[old], g.v[old]], minlength=g.n)
    while len(e):
        deg = base + np.bincount(np.r_[g.u[e], g.v[e]], minlength=g.n)
        deg[keep_node] = 2
        stub = (deg[g.u[e]] == 1) | (deg[g.v[e]] == 1)
        if not stub.any():
            break
        e = e[~stub]
    return e


def _window(b: _Builder, seat: int, targets: np.ndarray, factor: float) -> np.ndarray:
    """Nodes (bool per node) inside the union of the ellipses with foci ``seat`` and each of
    the ``targets`` whose sum of focal distances is at most ``factor`` × their distance (plus
    two cells): where a road of at most ``factor`` × the straight length can lie."""
    s = b.xy[seat]
    ds = np.hypot(*(b.xy - s).T)
    inw = np.zeros(b.g.n, dtype=bool)
    for tn in targets:
        d = np.hypot(*(b.xy[tn] - s))
        inw |= ds + np.hypot(*(b.xy - b.xy[tn]).T) <= factor * d + 2.0 * b.t.grid.cell
    return inw


def _tree(b: _Builder, weight: np.ndarray, inside: np.ndarray, source: int) -> np.ndarray:
    """Predecessors (global node ids, −9999 off the tree) of the least-``weight`` tree from
    ``source`` over the grid edges with both ends ``inside``."""
    g = b.g
    nodes = np.flatnonzero(inside)
    loc = np.full(g.n, -1, dtype=np.int64)
    loc[nodes] = np.arange(len(nodes))
    e = inside[g.u] & inside[g.v]
    m = sp.csr_matrix((np.maximum(weight[e], 1e-6), (loc[g.u[e]], loc[g.v[e]])), shape=(len(nodes), len(nodes)))
    _, pl = dijkstra(m, directed=False, indices=int(loc[source]), return_predecessors=True)
    pred = np.full(g.n, -9999, dtype=np.int64)
    pred[nodes] = np.where(pl >= 0, nodes[np.maximum(pl, 0)], -9999)
    return pred


def direct_roads(b: _Builder, seats: np.ndarray, targets: np.ndarray, speeds: dict[str, float],
                 reference_kmh: float, detour_max: float, cls: str, name: Callable[[int], str],
                 discount: float = 0.5) -> np.ndarray:
    """Roads of class ``cls`` from every target node whose road time to its seat node
    (``seats[i]`` for ``targets[i]``) exceeds ``detour_max`` × the straight-line time at
    ``reference_kmh``; returns the targets linked.

    Per seat, in rounds: the targets still above the cap get the path of least
    ``cost + λ·time`` from the seat (cost: :meth:`_Builder.weight` of ``cls``; time: on the
    roads built so far, or at the speed of ``cls`` off them, in metres at that speed), for λ in
    ``LAGRANGE`` — the Lagrangian relaxation of the least-cost path under a time bound; a path
    is built in the first round where its own time meets the cap. Round one (λ = 0) is the
    plain least-cost path on the slope grid, so most roads still wind; the last (time only)
    meets the cap whenever the class speed allows it (a grid path is at most 1.08 × the
    straight line), so no target is left above it. Paths are searched in the
    ellipse where a road of the class meeting the cap can lie (:func:`_window`); targets of
    one seat share trunks (one tree per seat and round). ``name(k)`` names the k-th road made."""
    g, grid = b.g, b.t.grid
    seats = np.asarray(seats, dtype=np.int64)
    targets = np.asarray(targets, dtype=np.int64)
    ok = (seats >= 0) & (targets >= 0) & (seats != targets)
    v_ref, v_cls = reference_kmh / 3.6, speeds[cls] / 3.6
    factor = max(detour_max * v_cls / v_ref, 1.1)
    linked, made = [], 0
    for s in np.unique(seats[ok]):
        tg = np.unique(targets[ok & (seats == s)])
        budget = detour_max * np.maximum(np.hypot(*(b.xy[tg] - b.xy[s]).T), grid.cell) / v_ref
        for lam in LAGRANGE:
            rt = b.road_time(speeds)
            dist = g.shortest(rt, [s], limit=float(budget.max()) * 1.001)[0][tg]
            late = dist > budget
            if not late.any():
                break
            need, excess = tg[late], dist[late] - budget[late]
            time_m = np.where(b.rank > 0, rt * v_cls, g.length)
            w = time_m if np.isinf(lam) else b.weight(cls, discount=discount) + lam * time_m
            pred = _tree(b, w, _window(b, int(s), need, factor), int(s))
            last = lam == LAGRANGE[-1]
            cap = budget[late]
            for k in np.argsort(-np.nan_to_num(excess, posinf=1e18), kind="stable"):
                if pred[need[k]] < 0:
                    continue
                e = b.edge_ids(trace(pred, int(need[k])))
                # a path still beyond the cap waits for a later round: no road is built twice
                if last or time_m[e].sum() / v_cls <= cap[k]:
                    b.mark_edges(e, cls, name(made))
                    made += 1
            linked.append(need)
    return np.unique(np.concatenate(linked)) if linked else np.zeros(0, dtype=np.int64)


def radial_roads(b: _Builder, seat: int, targets: np.ndarray, speeds: dict[str, float],
                 reference_kmh: float, detour_max: float) -> np.ndarray:
    """Township roads from the county seat node ``seat`` to the ``targets`` (graph nodes) whose
    road time to it exceeds ``detour_max`` × the straight-line time at ``reference_kmh``
    (:func:`direct_roads`; see module doc). Returns the targets linked."""
    targets = np.unique(np.asarray(targets, dtype=np.int64))
    return direct_roads(b, np.full(len(targets), seat), targets, speeds, reference_kmh, detour_max,
                        "township", lambda k: f"FS{len(b.names) + 1:04d}", RADIAL_DISCOUNT)


def _border_nodes(g: CellGraph) -> np.ndarray:
    deg = np.bincount(np.concatenate([g.u, g.v]), minlength=g.n)
    return np.flatnonzero(deg < 8)


def build_roads(t: Terrain, mask: np.ndarray, township_of_cell: np.ndarray, seat_cell: int,
                town_cells: np.ndarray, village_cells: np.ndarray, hamlet_cells: np.ndarray,
                gen: np.random.Generator, *, loop_share: float = 0.3, village_loop_share: float = 0.2,
                built_town: np.ndarray | None = None, street_spacing_m: float = 400.0,
                radial_radius_m: float = 5000.0, radial_detour_max: float = 1.8,
                reference_speed_kmh: float = 30.0, speeds: dict[str, float] | None = None,
                village_township: np.ndarray | None = None, village_detour_max: float | None = None) -> RoadNet:
    """Build the road network (see module doc). Cells are flat grid indices inside ``mask``.

    ``built_town`` (flat, per cell: township row of the town whose built-up land covers it, −1
    elsewhere) enables the urban streets; the radial roads serve the seats in the county
    seat's township or within ``radial_radius_m`` of it; ``speeds`` (km/h per class, default
    ``standards.road_classes()``) time the roads for the radial and village tests. With
    ``village_detour_max``, every village seat whose road time to the seat of its township
    (``village_township``: township row per village, default the township of its cell) exceeds
    it × the straight-line time at ``reference_speed_kmh`` gets a village road toward that seat."""
    b = _Builder(t, mask, township_of_cell, gen)
    if speeds is None:
        classes = standards.road_classes()
        speeds = dict(zip(classes["class"], classes["speed_kmh"].astype(float)))
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

    # urban streets inside the built-up land of the towns
    if built_town is not None:
        urban_streets(b, town_cells, np.asarray(built_town, dtype=np.int64).ravel(), street_spacing_m)

    # 2. county roads between town seats
    seats_all = np.unique(np.concatenate([[seat], towns]))
    if len(seats_all) > 1:
        pred, s1, s2, cost, eu, ev = _cheapest_links(g, b.weight("county"), seats_all)
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
        pred, _, _, cost, eu, ev = _cheapest_links(g, b.weight("village", discount=0.5), villages)
        pick = np.flatnonzero(gen.random(len(cost)) < village_loop_share * (cost < np.median(cost)) * 2)
        for k in pick:
            c_no += 1
            path = trace(pred, int(eu[k]))[::-1] + trace(pred, int(ev[k]))
            b.mark(path, "village", f"C{c_no:03d}")

    # radial roads from the county seat to the settlements around it
    cand = np.concatenate([town_cells, village_cells])
    tw = township_of_cell.ravel()
    near = (np.hypot(*(t.grid.xy(cand) - t.grid.xy(np.array([seat_cell]))[0]).T) <= radial_radius_m) \
        | (tw[cand] == tw[seat_cell])
    radial_roads(b, seat, g.node[cand[near]], speeds, reference_speed_kmh, radial_detour_max)

    # village roads toward the own town seat where the road detour is beyond the cap
    if village_detour_max is not None and len(villages):
        vt = tw[village_cells] if village_township is None else np.asarray(village_township, dtype=np.int64)
        n0 = len(b.names)
        c0 = c_no
        direct_roads(b, towns[vt], villages, speeds, reference_speed_kmh, village_detour_max, "village",
                     lambda k: f"C{c0 + 1 + k:03d}", VILLAGE_LINK_DISCOUNT)
        c_no += len(b.names) - n0

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


def _cheapest_links(g: CellGraph, w: np.ndarray, seeds: np.ndarray):
    """The cheapest link between each pair of neighbouring seeds' regions (a multi-source shortest
    path tree from ``seeds``: an edge whose ends were reached from two seeds joins their regions).
    Returns the predecessors and, per seed pair (s1 < s2), the link's cost and its edge ends."""
    dist, pred, src = g.shortest(w, seeds)
    u, v = g.u, g.v
    diff = (src[u] != src[v]) & (src[u] >= 0) & (src[v] >= 0)
    eu, ev = u[diff], v[diff]
    cost = dist[eu] + w[diff] + dist[ev]
    s1, s2 = np.minimum(src[eu], src[ev]), np.maximum(src[eu], src[ev])
    order = np.lexsort((cost, s2, s1))
    s1, s2, cost, eu, ev = s1[order], s2[order], cost[order], eu[order], ev[order]
    first = np.r_[True, (s1[1:] != s1[:-1]) | (s2[1:] != s2[:-1])]
    return pred, s1[first], s2[first], cost[first], eu[first], ev[first]


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


def road_options(cfg, built_town: np.ndarray, village_township: np.ndarray) -> dict:
    """Keyword arguments of :func:`build_roads` from the config (``synth.street_spacing_m``,
    ``synth.seat_radial_radius_m``, ``synth.seat_radial_detour_max``, ``synth.village_detour_max``,
    ``network.detour_reference_speed_kmh``, road speeds), the town of every cell's built-up land
    (``built_town``, −1 outside the towns) and the township row of every village."""
    return {"built_town": built_town, "street_spacing_m": float(cfg["synth.street_spacing_m"]),
            "radial_radius_m": float(cfg["synth.seat_radial_radius_m"]),
            "radial_detour_max": float(cfg["synth.seat_radial_detour_max"]),
            "reference_speed_kmh": float(cfg["network.detour_reference_speed_kmh"]),
            "speeds": {c: float(v) for c, v in dict(cfg.road_speeds).items()},
            "village_township": np.asarray(village_township, dtype=np.int64),
            "village_detour_max": float(cfg["synth.village_detour_max"])}


def road_attributes(cls: list[str]) -> dict[str, np.ndarray]:
    """lanes, width (m) and speed (km/h) of each class from ``standards.road_classes()``."""
    table = standards.road_classes().set_index("class")
    c = np.asarray(cls, dtype=object)
    return {"lanes": table.loc[c, "lanes"].to_numpy(dtype=np.int64),
            "width_m": table.loc[c, "width_m"].to_numpy(dtype=float),
            "speed_kmh": table.loc[c, "speed_kmh"].to_numpy(dtype=float)}
