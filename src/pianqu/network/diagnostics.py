"""Road diagnostics (seed §二(四)): components, dead ends, cut edges, bottlenecks, direct links.

Each diagnostic returns a :class:`Diagnosis`: a layer (EPSG:4490) with ids, geometry, the
measured figures, a ``kind`` and a recommended ``action`` (Chinese by default), ranked
(``rank`` 1 = most urgent), and findings. Thresholds come from ``network.*`` in the config.

* dead ends (断头路): degree-1 nodes, classified as ``cross_boundary`` (near the county
  boundary), ``village_terminus`` (at a village seat: acceptable), ``missing_connection`` (near a
  road or settlement that is not reached by road: a connecting segment is proposed) or ``other``;
* cut edges (bridges): edges whose loss splits the network, with the population cut off from
  the county seat (from the larger part when the county seat is elsewhere);
* bottlenecks (瓶颈路): low-class or narrow segments carrying a high gravity-model load
  (``low_capacity``) and cut edges isolating more than ``network.bridge_population_min``
  (``single_access``);
* direct links (合并镇村直连): detour index of village seat ↔ township seat, township seat ↔
  county seat and township seat ↔ zone centre.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely
from scipy.sparse.csgraph import connected_components, dijkstra
from scipy.spatial import cKDTree

from pianqu.findings import Finding
from pianqu.geo import STORAGE_EPSG
from pianqu.network.graph import RoadGraph
from pianqu.network.snap import Snapped, as_snapped
from pianqu.network.travel import augment, od_matrix
from pianqu.standards import road_classes

CHUNK_ELEMENTS = 2**23  # distances held at once by the bounded searches (64 MB of float64)


@dataclass(frozen=True)
class Diagnosis:
    """A diagnostic layer (EPSG:4490, ranked) with its findings and extra layers."""

    layer: gpd.GeoDataFrame
    findings: tuple[Finding, ...] = ()
    extra: dict = field(default_factory=dict)

    @property
    def table(self) -> pd.DataFrame:
        """The ranked table (the layer without geometry)."""
        return pd.DataFrame(self.layer.drop(columns=self.layer.geometry.name))


def _gdf(rows: dict, geoms, graph: RoadGraph) -> gpd.GeoDataFrame:
    frame = gpd.GeoDataFrame(rows, geometry=gpd.GeoSeries(np.asarray(geoms, dtype=object), crs=graph.epsg or None))
    return frame.to_crs(STORAGE_EPSG) if graph.epsg else frame


def action_keys(kinds: pd.Series | np.ndarray, prefix: str) -> list[str]:
    """The recommended action of each diagnostic ``kind`` as its locale key ``<prefix>.<kind>.do``
    (the report, command line and export say it in the reader's language:
    :func:`pianqu.i18n.translate_keys`)."""
    return [f"{prefix}.{k}.do" for k in kinds]


def _populations(settlements: gpd.GeoDataFrame | None) -> np.ndarray:
    if settlements is None or "population" not in settlements.columns:
        return np.zeros(0 if settlements is None else len(settlements))
    return pd.to_numeric(settlements["population"], errors="coerce").fillna(0).to_numpy(float)


def settlement_nodes(graph: RoadGraph, s: Snapped) -> np.ndarray:
    """The graph node nearer to each snapped point along its edge (−1 when not snapped)."""
    out = np.full(len(s), -1)
    ok = s.edge >= 0
    e = s.edge[ok]
    length = graph.edges["length_m"].to_numpy()[e]
    near_u = s.offset_m[ok] <= length / 2
    out[ok] = np.where(near_u, graph.edges["u"].to_numpy()[e], graph.edges["v"].to_numpy()[e])
    return out


# -- components ---------------------------------------------------------------------------------

def components(graph: RoadGraph, settlements: gpd.GeoDataFrame | None = None, *,
               source: str = "") -> Diagnosis:
    """Weak components with road length, settlements and population; findings for the detached ones."""
    comp = graph.component
    nc = graph.n_components
    e = graph.edges
    ecomp = comp[e["u"].to_numpy()] if graph.n_edges else np.zeros(0, int)
    km = np.bincount(ecomp, weights=e["length_m"].to_numpy(), minlength=nc) / 1000
    nodes = np.bincount(comp, minlength=nc)
    pop = np.zeros(nc)
    nset = np.zeros(nc, int)
    if settlements is not None and len(settlements) and nc:
        s = as_snapped(graph, settlements, "drive", "settlement")
        node = settlement_nodes(graph, s)
        ok = node >= 0
        pop = np.bincount(comp[node[ok]], weights=_populations(settlements)[ok], minlength=nc)
        nset = np.bincount(comp[node[ok]], minlength=nc)
    geoms = []
    for c in range(nc):
        geoms.append(shapely.union_all(e.geometry.to_numpy()[ecomp == c]) if graph.n_edges else None)
    layer = _gdf({"component": np.arange(nc), "nodes": nodes, "road_km": km, "settlements": nset,
                  "population": pop}, geoms, graph)
    findings = []
    quiet = 0
    for c in range(1, nc):
        if nset[c] > 0:
            findings.append(Finding("warning", "network.component", "road", f"component {c}", "",
                                    {"component": c, "road_km": round(float(km[c]), 2), "settlements": int(nset[c]),
                                     "population": int(pop[c])}, source))
        else:
            quiet += 1
    if quiet:
        findings.append(Finding("info", "network.components_empty", "road", "", "", {"count": quiet}, source))
    return Diagnosis(layer, tuple(findings))


# -- dead ends ----------------------------------------------------------------------------------

def length_matrix(graph: RoadGraph) -> sp.csr_matrix:
    """Symmetric node adjacency by length (m), shortest of parallel edges, loops dropped."""
    from pianqu.network.travel import csr_min

    e = graph.edges
    u, v, w = e["u"].to_numpy(), e["v"].to_numpy(), e["length_m"].to_numpy()
    keep = u != v
    u, v, w = u[keep], v[keep], w[keep]
    return csr_min(graph.n_nodes, np.r_[u, v], np.r_[v, u], np.r_[w, w])


def dead_ends(graph: RoadGraph, settlements: gpd.GeoDataFrame | None = None,
              boundary: gpd.GeoDataFrame | gpd.GeoSeries | None = None, *,
              source: str = "") -> Diagnosis:
    """Degree-1 nodes classified (see the module doc). ``extra['links']`` holds the proposed
    connecting segments of the missing connections (EPSG:4490)."""
    cfg = graph.config
    link_max = float(cfg["network.dead_end_link_max_m"])
    ratio = float(cfg["network.dead_end_detour_ratio"])
    edge_b = float(cfg["network.dead_end_boundary_m"])
    term = float(cfg["network.dead_end_terminus_m"])
    dead = np.flatnonzero(graph.degree == 1) if graph.n_nodes else np.zeros(0, int)
    xy = graph.node_xy[dead]
    nd = len(dead)
    e = graph.edges
    # the edge each dead end hangs on
    inc = np.r_[e["u"].to_numpy(), e["v"].to_numpy()]
    inc_e = np.r_[np.arange(len(e)), np.arange(len(e))]
    loops = np.r_[(e["u"] == e["v"]).to_numpy(), (e["u"] == e["v"]).to_numpy()]
    first = pd.Series(inc_e[~loops]).groupby(inc[~loops]).first()
    own_edge = first.reindex(dead).to_numpy() if nd else np.zeros(0, int)

    kind = np.full(nd, "other", dtype=object)
    gap = np.full(nd, np.nan)
    net = np.full(nd, np.nan)
    target = np.full(nd, "", dtype=object)
    target_xy = np.full((nd, 2), np.nan)

    # boundary
    dist_b = np.full(nd, np.inf)
    if boundary is not None and len(boundary) and nd:
        poly = shapely.union_all(boundary.to_crs(graph.epsg).geometry.to_numpy())
        pts = shapely.points(xy)
        dist_b = shapely.distance(shapely.boundary(poly), pts)
        dist_b = np.where(shapely.contains(poly, pts), dist_b, 0.0)
    # settlements
    s_xy = np.zeros((0, 2))
    if settlements is not None and len(settlements):
        s = as_snapped(graph, settlements, "drive", "settlement")
        s_xy = s.xy
        s_ids = s.ids
        s_ok = np.isfinite(s_xy).all(axis=1)
    dist_s = np.full(nd, np.inf)
    near_s = np.full(nd, -1)
    if len(s_xy) and nd and s_ok.any():
        tree = cKDTree(s_xy[s_ok])
        d, j = tree.query(xy, k=1)
        dist_s, near_s = d, np.flatnonzero(s_ok)[j]

    # network distances from the dead ends (lengths, both ways), bounded
    if nd:
        lm = length_matrix(graph)
        reach = np.full(nd, np.inf)
        cand_edge = np.full(nd, -1)
        cand_gap = np.full(nd, np.inf)
        cand_off = np.zeros(nd)
        lines = e.geometry.to_numpy()
        tree = shapely.STRtree(lines)
        pts = shapely.points(xy)
        pi, li = tree.query(pts, predicate="dwithin", distance=link_max)
        sel = li != own_edge[pi]
        pi, li = pi[sel], li[sel]
        step = max(1, int(CHUNK_ELEMENTS // max(graph.n_nodes, 1)))
        limit = ratio * link_max
        sp_gap = shapely.distance(lines[li], pts[pi]) if len(pi) else np.zeros(0)
        sp_off = shapely.line_locate_point(lines[li], pts[pi]) if len(pi) else np.zeros(0)
        for k0 in range(0, nd, step):
            rows = np.arange(k0, min(nd, k0 + step))
            dist = dijkstra(lm, directed=False, indices=dead[rows], limit=limit)
            # candidate roads
            m = (pi >= rows[0]) & (pi <= rows[-1])
            if m.any():
                p, l_, g_, o_ = pi[m], li[m], sp_gap[m], sp_off[m]
                nw = np.minimum(dist[p - rows[0], e["u"].to_numpy()[l_]] + o_,
                               dist[p - rows[0], e["v"].to_numpy()[l_]] + e["length_m"].to_numpy()[l_] - o_)
                unreached = nw >= ratio * np.maximum(g_, 1e-9)
                frame = pd.DataFrame({"p": p[unreached], "l": l_[unreached], "g": g_[unreached],
                                      "o": o_[unreached], "n": nw[unreached]}).sort_values(["p", "g"])
                best = frame.drop_duplicates("p")
                cand_edge[best["p"].to_numpy()] = best["l"].to_numpy()
                cand_gap[best["p"].to_numpy()] = best["g"].to_numpy()
                cand_off[best["p"].to_numpy()] = best["o"].to_numpy()
                reach[best["p"].to_numpy()] = best["n"].to_numpy()
            # nearest settlement, when not within the terminus radius
            if len(s_xy):
                r = rows[(near_s[rows] >= 0) & (dist_s[rows] <= link_max) & (dist_s[rows] > term)]
                if len(r):
                    j = near_s[r]
                    ok = s.edge[j] >= 0
                    nw = np.full(len(r), np.inf)
                    nw[ok] = np.minimum(dist[r[ok] - rows[0], e["u"].to_numpy()[s.edge[j[ok]]]] + s.offset_m[j[ok]],
                                        dist[r[ok] - rows[0], e["v"].to_numpy()[s.edge[j[ok]]]]
                                        + e["length_m"].to_numpy()[s.edge[j[ok]]] - s.offset_m[j[ok]])
                    better = (nw >= ratio * dist_s[r]) & (dist_s[r] < cand_gap[r])
                    rr = r[better]
                    cand_edge[rr] = -2  # a settlement
                    cand_gap[rr] = dist_s[rr]
                    reach[rr] = nw[better]
        is_s = cand_edge == -2
        is_r = cand_edge >= 0
        missing = is_s | is_r
        kind[missing] = "missing_connection"
        gap[missing] = cand_gap[missing]
        net[missing] = reach[missing]
        target[is_r] = e["road"].to_numpy()[cand_edge[is_r]]
        if is_r.any():
            target_xy[is_r] = shapely.get_coordinates(
                shapely.line_interpolate_point(lines[cand_edge[is_r]], cand_off[is_r]))
        if is_s.any():
            target[is_s] = s_ids[near_s[is_s]]
            target_xy[is_s] = s_xy[near_s[is_s]]
        kind[dist_s <= term] = "village_terminus"
        kind[dist_b <= edge_b] = "cross_boundary"

    order_kind = {"missing_connection": 0, "cross_boundary": 1, "other": 2, "village_terminus": 3}
    kr = np.array([order_kind[k] for k in kind]) if nd else np.zeros(0, int)
    rank_order = np.lexsort((np.nan_to_num(gap, nan=np.inf), kr))
    rank = np.empty(nd, int)
    rank[rank_order] = np.arange(1, nd + 1)
    link_len = np.where(kind == "missing_connection", gap, np.nan)
    rows = {"rank": rank, "node": dead, "road": e["road"].to_numpy()[own_edge] if nd else [],
            "class": e["class"].to_numpy()[own_edge] if nd else [], "kind": kind,
            "target": np.where(kind == "missing_connection", target, ""), "gap_m": link_len,
            "network_m": np.where(kind == "missing_connection", net, np.nan),
            "settlement_m": dist_s, "boundary_m": dist_b,
            "action": action_keys(kind, "network.dead_end")}
    layer = _gdf(rows, shapely.points(xy) if nd else [], graph).sort_values("rank").reset_index(drop=True)
    mc = np.flatnonzero(kind == "missing_connection")
    links = _gdf({"node": dead[mc], "road": rows["road"][mc] if nd else [], "target": target[mc],
                  "length_m": gap[mc], "network_m": net[mc]},
                 shapely.linestrings(np.stack([xy[mc], target_xy[mc]], axis=1)) if len(mc) else [], graph)
    findings = [Finding("warning" if k == "missing_connection" else "info", f"network.dead_end.{k}", "road",
                        str(r), "", {"node": int(n), "gap_m": None if np.isnan(g) else round(float(g), 1),
                                     "target": str(tg)}, source)
                for k, r, n, g, tg in zip(layer["kind"], layer["road"], layer["node"], layer["gap_m"],
                                         layer["target"]) if k in ("missing_connection", "cross_boundary")]
    return Diagnosis(layer, tuple(findings), {"links": links})


# -- cut edges ----------------------------------------------------------------------------------

def _incidence(n: int, u: np.ndarray, v: np.ndarray):
    """CSR incidence: for node i, entries ptr[i]:ptr[i+1] of (edge, other end)."""
    ends = np.r_[u, v]
    other = np.r_[v, u]
    eid = np.r_[np.arange(len(u)), np.arange(len(u))]
    order = np.argsort(ends, kind="stable")
    ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(ends, minlength=n), out=ptr[1:])
    return ptr, eid[order], other[order]


def bfs_forest(n: int, u: np.ndarray, v: np.ndarray, roots: np.ndarray):
    """Breadth-first spanning forest by levels (vectorised): parent, parent edge, depth."""
    ptr, eid, other = _incidence(n, u, v)
    parent = np.full(n, -1)
    pedge = np.full(n, -1)
    depth = np.full(n, -1)
    depth[roots] = 0
    frontier = np.asarray(roots)
    d = 0
    while len(frontier):
        cnt = ptr[frontier + 1] - ptr[frontier]
        src = np.repeat(frontier, cnt)
        pos = np.repeat(ptr[frontier] - np.r_[0, np.cumsum(cnt)[:-1]], cnt) + np.arange(cnt.sum())
        nb, ed = other[pos], eid[pos]
        new = depth[nb] < 0
        nb, ed, src = nb[new], ed[new], src[new]
        nb, first = np.unique(nb, return_index=True)
        d += 1
        depth[nb] = d
        parent[nb] = src[first]
        pedge[nb] = ed[first]
        frontier = nb
    return parent, pedge, depth


def _levels_upward(depth: np.ndarray):
    """The non-root nodes of a BFS forest level by level, deepest first: accumulating a value into
    each node's parent level by level sums (or XORs) it over every subtree, vectorised."""
    order = np.argsort(-depth, kind="stable")
    for nodes in np.split(order, np.flatnonzero(np.diff(depth[order])) + 1):
        if depth[nodes[0]] <= 0:
            break
        yield nodes


def find_bridges(n: int, u: np.ndarray, v: np.ndarray, seed: int = 0) -> np.ndarray:
    """Boolean mask of the cut edges (bridges) of an undirected multigraph, vectorised.

    A spanning forest by BFS; each non-tree edge gets a random 64-bit label XORed into both
    ends; a tree edge is a bridge iff the XOR over the subtree below it is zero, i.e. no
    non-tree edge leaves that subtree (wrong with probability 2⁻⁶⁴ per edge). Parallel edges
    and self-loops are handled (a doubled edge is never a bridge).
    """
    m = len(u)
    if n == 0 or m == 0:
        return np.zeros(m, bool)
    adj = sp.coo_matrix((np.ones(m), (u, v)), shape=(n, n))
    nc, lab = connected_components(adj, directed=False)
    roots = np.unique(lab, return_index=True)[1]
    parent, pedge, depth = bfs_forest(n, u, v, roots)
    tree = np.zeros(m, bool)
    tree[pedge[pedge >= 0]] = True
    rng = np.random.default_rng(seed)
    label = rng.integers(1, 2**63 - 1, size=m, dtype=np.int64).astype(np.uint64)
    label[tree] = 0
    acc = np.zeros(n, dtype=np.uint64)
    np.bitwise_xor.at(acc, u, label)
    np.bitwise_xor.at(acc, v, label)
    for nodes in _levels_upward(depth):
        np.bitwise_xor.at(acc, parent[nodes], acc[nodes])
    child = np.flatnonzero(pedge >= 0)
    bridge = np.zeros(m, bool)
    bridge[pedge[child[acc[child] == 0]]] = True
    return bridge


def bridges(graph: RoadGraph, settlements: gpd.GeoDataFrame | None = None, *,
            source: str = "") -> Diagnosis:
    """Cut edges with the population each one cuts off (``isolated_population``), ranked by it.

    The cut-off side is the one without the county seat (``level == 'county_seat'``); in a
    component without it, the side away from its most populous 2-edge-connected block.
    """
    e = graph.edges
    u, v = e["u"].to_numpy(), e["v"].to_numpy()
    mask = find_bridges(graph.n_nodes, u, v)
    bi = np.flatnonzero(mask)
    n = graph.n_nodes
    iso = np.zeros(len(bi))
    iso_n = np.zeros(len(bi), int)
    if len(bi):
        keep = ~mask & (u != v)
        adj = sp.coo_matrix((np.ones(keep.sum()), (u[keep], v[keep])), shape=(n, n))
        nb, blk = connected_components(adj, directed=False)  # 2-edge-connected blocks
        pop = np.zeros(nb)
        cnt = np.zeros(nb)
        seat_blk = -1
        if settlements is not None and len(settlements):
            s = as_snapped(graph, settlements, "drive", "settlement")
            node = settlement_nodes(graph, s)
            ok = node >= 0
            pop = np.bincount(blk[node[ok]], weights=_populations(settlements)[ok], minlength=nb)
            cnt = np.bincount(blk[node[ok]], minlength=nb).astype(float)
            if "level" in settlements.columns:
                seat = np.flatnonzero(ok & (settlements["level"] == "county_seat").to_numpy())
                if len(seat):
                    seat_blk = blk[node[seat[0]]]
        bu, bv = blk[u[bi]], blk[v[bi]]
        # the bridge tree (a forest), rooted at the county seat's block or the most populous block
        fc, flab = connected_components(sp.coo_matrix((np.ones(len(bi)), (bu, bv)), shape=(nb, nb)), directed=False)
        root_of = np.full(fc, -1)
        order = np.lexsort((-pop, flab))
        root_of[flab[order[::-1]]] = order[::-1]  # the most populous block of each tree (last write wins)
        if seat_blk >= 0:
            root_of[flab[seat_blk]] = seat_blk
        parent, pedge, depth = bfs_forest(nb, bu, bv, root_of)
        sub_pop, sub_cnt = pop.copy(), cnt.copy()
        for nodes in _levels_upward(depth):
            np.add.at(sub_pop, parent[nodes], sub_pop[nodes])
            np.add.at(sub_cnt, parent[nodes], sub_cnt[nodes])
        child = np.where(depth[bu] > depth[bv], bu, bv)
        iso, iso_n = sub_pop[child], sub_cnt[child].astype(int)
    kind = np.full(len(bi), "bridge", dtype=object)
    order = np.lexsort((-e["length_m"].to_numpy()[bi], -iso))
    rank = np.empty(len(bi), int)
    rank[order] = np.arange(1, len(bi) + 1)
    layer = _gdf({"rank": rank, "edge": bi, "road": e["road"].to_numpy()[bi], "class": e["class"].to_numpy()[bi],
                  "length_m": e["length_m"].to_numpy()[bi], "isolated_population": iso,
                  "isolated_settlements": iso_n, "kind": kind,
                  "action": action_keys(kind, "network.bridge")},
                 e.geometry.to_numpy()[bi], graph).sort_values("rank").reset_index(drop=True)
    return Diagnosis(layer, (), {"mask": mask})


# -- loads and bottlenecks -------------------------------------------------------------------

def gravity_loads(graph: RoadGraph, settlements: gpd.GeoDataFrame, *, mode: str = "drive",
                  beta: float | None = None, max_memory_mb: float = 256) -> np.ndarray:
    """Load on every edge from gravity flows between settlements on fastest paths (all-or-nothing).

    Flows T_ij = P_i P_j / t_ij^β (i ≠ j, reachable, t in minutes), scaled so that they add up to
    the total population; an edge's load is the sum of the flows whose path uses it (both
    directions added).
    """
    beta = float(graph.config["network.gravity_beta"] if beta is None else beta)
    s = as_snapped(graph, settlements, mode, "settlement")
    pop = _populations(settlements)
    load = np.zeros(graph.n_edges)
    ns = len(s)
    if ns < 2 or graph.n_nodes == 0:
        return load
    aug = augment(graph, s, s, mode)
    n_real = graph.n_nodes
    arcs = graph.arcs[mode]
    dvirt = aug.destinations
    d_of = np.full(aug.matrix.shape[0], -1)
    d_of[dvirt] = np.arange(ns)
    o_of = np.full(aug.matrix.shape[0], -1)
    o_of[aug.origins] = np.arange(ns)
    times = od_matrix(graph, s, s, mode=mode)
    with np.errstate(divide="ignore"):
        flow = np.outer(pop, pop) / np.power(np.maximum(times / 60.0, 1e-6), beta)
    np.fill_diagonal(flow, 0.0)
    flow[~np.isfinite(times)] = 0.0
    total = flow.sum()
    if total <= 0:
        return load
    flow *= pop.sum() / total
    step = max(1, int(max_memory_mb * 2**20 // (16 * aug.matrix.shape[0])))
    for k0 in range(0, ns, step):
        rows = np.arange(k0, min(ns, k0 + step))
        _, pred = dijkstra(aug.matrix, directed=True, indices=aug.origins[rows], return_predecessors=True)
        r, dcol = np.nonzero(flow[rows] > 0)
        f = flow[rows][r, dcol]
        cur = dvirt[dcol]
        # first arc: into the destination (its own edge carries the flow)
        np.add.at(load, s.edge[dcol], f)
        cur = pred[r, cur]
        while len(cur):
            prev = pred[r, cur]
            real = (prev >= 0) & (prev < n_real) & (cur < n_real)
            if real.any():
                arc = arcs.arc_index(prev[real], cur[real])
                good = arc >= 0
                np.add.at(load, arcs.edge[arc[good]], f[real][good])
            at_origin = o_of[np.maximum(prev, 0)] >= 0
            # the origin's own edge carries the flow
            if at_origin.any():
                np.add.at(load, s.edge[o_of[prev[at_origin]]], f[at_origin])
            go = (prev >= 0) & ~at_origin
            r, cur, f = r[go], prev[go], f[go]
    return load


def bottlenecks(graph: RoadGraph, settlements: gpd.GeoDataFrame, *, bridge_diagnosis: Diagnosis | None = None,
                source: str = "") -> Diagnosis:
    """Low-class or narrow segments with a high gravity load, and single-access cut edges."""
    cfg = graph.config
    e = graph.edges
    q = float(cfg["network.bottleneck_load_quantile"])
    low_classes = set(cfg["network.bottleneck_classes"])
    pmin = float(cfg["network.bridge_population_min"])
    load = gravity_loads(graph, settlements)
    loaded = load > 0
    cut = np.quantile(load[loaded], q) if loaded.any() else np.inf
    std = road_classes().set_index("class")
    std_w = e["class"].map(std["width_m"]).to_numpy(float)
    std_l = e["class"].map(std["lanes"]).to_numpy(float)
    width, lanes = e["width_m"].to_numpy(float), e["lanes"].to_numpy(float)
    narrow = (width < std_w) | (lanes < std_l)  # NaN compares False: unknown is not narrow
    low = e["class"].isin(low_classes).to_numpy() | narrow
    heavy = loaded & (load >= cut)
    cap = np.flatnonzero(low & heavy)
    br = bridge_diagnosis or bridges(graph, settlements, source=source)
    bl = br.layer
    single = bl[bl["isolated_population"] > pmin]
    share = load / load.max() if loaded.any() else load
    rows = pd.DataFrame({
        "edge": np.r_[cap, single["edge"].to_numpy()],
        "kind": ["low_capacity"] * len(cap) + ["single_access"] * len(single),
        "isolated_population": np.r_[np.zeros(len(cap)), single["isolated_population"].to_numpy()],
    })
    ed = rows["edge"].to_numpy()
    rows["road"] = e["road"].to_numpy()[ed]
    rows["class"] = e["class"].to_numpy()[ed]
    rows["width_m"] = width[ed]
    rows["lanes"] = lanes[ed]
    rows["narrow"] = narrow[ed]
    rows["load"] = load[ed]
    rows["load_index"] = share[ed]
    rows["length_m"] = e["length_m"].to_numpy()[ed]
    rows = rows.sort_values(["kind", "load", "isolated_population"], ascending=[True, False, False])
    # rank: single-access by population, low-capacity by load, interleaved by their own order
    rows["rank"] = np.arange(1, len(rows) + 1)
    rows["action"] = action_keys(rows["kind"].to_numpy(), "network.bottleneck")
    layer = _gdf({c: rows[c].to_numpy() for c in ["rank", "edge", "road", "class", "kind", "load", "load_index",
                                                  "isolated_population", "width_m", "lanes", "narrow",
                                                  "length_m", "action"]},
                 e.geometry.to_numpy()[ed], graph)
    findings = [Finding("warning", f"network.bottleneck.{k}", "road", str(r), "",
                        {"load_index": round(float(li), 3), "population": int(p)}, source)
                for k, r, li, p in zip(layer["kind"], layer["road"], layer["load_index"], layer["isolated_population"])]
    return Diagnosis(layer, tuple(findings), {"load": load, "load_cut": cut})


# -- direct links (detours) ----------------------------------------------------------------------

def seat_pairs(settlements: gpd.GeoDataFrame, zones: pd.DataFrame | None = None) -> pd.DataFrame:
    """Pairs to link directly: village seat → its township seat, township seat → county seat,
    township seat → zone centre (``zones``: township_code, centre = settlement code).

    Returns positions ``a`` (the lower seat) and ``b`` with ``kind``.
    """
    lv = settlements["level"].astype(str).to_numpy()
    tc = settlements.get("township_code", pd.Series("", index=settlements.index)).astype(str).to_numpy()
    code = settlements["code"].astype(str).to_numpy()
    pos = np.arange(len(settlements))
    out = []
    county = pos[lv == "county_seat"]
    town_of: dict[str, int] = {}
    for p in pos[lv == "county_seat"]:
        town_of.setdefault(tc[p], p)
    for p in pos[lv == "town_seat"]:
        town_of[tc[p]] = p
    for p in pos[lv == "village_seat"]:
        if tc[p] in town_of:
            out.append((p, town_of[tc[p]], "village_town"))
    if len(county):
        for p in pos[lv == "town_seat"]:
            out.append((p, county[0], "town_county"))
    if zones is not None and len(zones):
        at = {c: i for i, c in enumerate(code)}
        centre = dict(zip(zones["township_code"].astype(str), zones["centre"].astype(str)))
        for p in pos[lv == "town_seat"]:
            c = centre.get(tc[p])
            if c in at and at[c] != p:
                out.append((p, at[c], "town_zone_centre"))
    return pd.DataFrame(out, columns=["a", "b", "kind"])


def detours(graph: RoadGraph, settlements: gpd.GeoDataFrame, zones: pd.DataFrame | None = None, *,
            pairs: pd.DataFrame | None = None, mode: str = "drive",
            source: str = "") -> Diagnosis:
    """Detour index (network time ÷ straight-line time at ``network.detour_reference_speed_kmh``)
    of the seat pairs of :func:`seat_pairs`; above ``network.detour_index_max`` is flagged,
    unreachable pairs are errors."""
    cfg = graph.config
    ref = float(cfg["network.detour_reference_speed_kmh"]) / 3.6
    top = float(cfg["network.detour_index_max"])
    pr = seat_pairs(settlements, zones) if pairs is None else pairs
    s = as_snapped(graph, settlements, mode, "settlement")
    a, b = pr["a"].to_numpy(int), pr["b"].to_numpy(int)
    ua = np.unique(np.r_[a, b]) if len(pr) else np.zeros(0, int)
    sub_pos = {p: i for i, p in enumerate(ua)}
    sub = _take(s, ua)
    tm = od_matrix(graph, sub, sub, mode=mode) if len(ua) else np.zeros((0, 0))
    ia = np.array([sub_pos[p] for p in a], dtype=int)
    ib = np.array([sub_pos[p] for p in b], dtype=int)
    time = tm[ia, ib] if len(pr) else np.zeros(0)
    straight = np.hypot(*(s.xy[a] - s.xy[b]).T) if len(pr) else np.zeros(0)
    with np.errstate(divide="ignore", invalid="ignore"):
        index = time / (straight / ref)
    index = np.where(straight > 0, index, np.where(np.isfinite(time), 1.0, np.inf))
    status = np.where(~np.isfinite(time), "unreachable", np.where(index > top, "detour", "ok"))
    code = settlements["code"].astype(str).to_numpy()
    name = settlements["name"].astype(str).to_numpy() if "name" in settlements.columns else code
    pop = _populations(settlements)
    order = np.lexsort((-np.nan_to_num(index, posinf=1e18), pd.Series(status).map(
        {"unreachable": 0, "detour": 1, "ok": 2}).to_numpy()))
    rank = np.empty(len(pr), int)
    rank[order] = np.arange(1, len(pr) + 1)
    geoms = np.full(len(pr), None, dtype=object)
    known = np.isfinite(s.xy[a]).all(axis=1) & np.isfinite(s.xy[b]).all(axis=1) if len(pr) else np.zeros(0, bool)
    if known.any():
        geoms[known] = shapely.linestrings(np.stack([s.xy[a[known]], s.xy[b[known]]], axis=1))
    layer = _gdf({"rank": rank, "kind": pr["kind"].to_numpy(), "from_code": code[a], "from_name": name[a],
                  "to_code": code[b], "to_name": name[b], "population": pop[a], "straight_m": straight,
                  "time_s": time, "time_min": time / 60, "reference_min": straight / ref / 60,
                  "detour_index": index, "status": status,
                  "action": action_keys(status, "network.detour")}, geoms, graph)
    layer = layer.sort_values("rank").reset_index(drop=True)
    findings = []
    for _, r in layer[layer["status"] != "ok"].iterrows():
        findings.append(Finding("error" if r["status"] == "unreachable" else "warning",
                                f"network.detour.{r['status']}", "settlement", r["from_code"], "",
                                {"from": r["from_name"], "to": r["to_name"], "to_code": r["to_code"],
                                 "index": None if not np.isfinite(r["detour_index"]) else round(float(r["detour_index"]), 2),
                                 "time_min": None if not np.isfinite(r["time_min"]) else round(float(r["time_min"]), 1),
                                 "straight_km": round(float(r["straight_m"]) / 1000, 2)}, source))
    return Diagnosis(layer, tuple(findings), {"pairs": pr})


def _take(s: Snapped, idx: np.ndarray) -> Snapped:
    return Snapped(s.mode, s.edge[idx], s.offset_m[idx], s.access_m[idx], s.access_s[idx], s.far[idx],
                   s.xy[idx], s.ids[idx], ())
