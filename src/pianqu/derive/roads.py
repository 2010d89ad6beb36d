"""Roads for a county whose data has no road network: derived from its 三调 traffic parcels, or,
failing those, straight-line times with a detour factor.

:func:`centreline_roads` turns the drivable traffic parcels of the land-use layer (公路用地 1202,
城镇村道路用地 1207, 农村道路 0601; railways are listed in ``derived_roads.csv`` as not drivable)
into a routable line layer with the fields of the ``road`` layer, so ``build_graph`` and
``od_matrix`` use it unchanged:

1. touching parcels are merged (one polygon per connected group), small holes filled;
2. the boundary is densified and the polygons triangulated (a constrained Delaunay triangulation
   by Shewchuk's Triangle: GEOS's took 68 s on the default county, Triangle 3 s);
3. the chordal axis of the triangulation is the centreline: a triangle with two interior edges
   joins their midpoints (exact on parallel-sided strips), one with three is a junction at its
   centroid, an end triangle stops the line;
4. the axis is cut into chains between junctions and ends; spurs (dead ends shorter than
   ``derive.centreline_spur_factor`` × the road's width) are pruned, junctions as close merged;
5. dead ends are extended to the parcel's edge (through the end triangle, a sliver as long as
   the densifying step on a narrow road), then joined across what the parcels leave out
   (:func:`_join_gaps`): two dead ends facing each other over water up to
   ``derive.centreline_bridge_m`` (三调 maps a bridge as the river under it), a dead end to the
   line ahead of it within ``derive.centreline_gap_m`` (a parcel of another kind across the
   road), and the dead ends of separate pieces that stop at one homestead cluster to the
   cluster's point (三调 keeps a hamlet's lanes inside its 宅基地 parcels); pieces shorter than
   ``derive.centreline_min_component_m`` are dropped after the joins;
6. each line's width is the area of its triangles over its length, its 用地用海 code the parcels'
   it runs through, its class read from ``derived_road_classes.csv`` by code and width.

:func:`straight_line_times` is the last resort: ellipsoidal distance × a detour factor at a mean
speed (``derive.straight_line_*``), both measured on synthetic counties against their true network
(docs/benchmarks/derived_roads.md).
"""

from __future__ import annotations

import time

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely
from pyproj import Geod
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from pianqu.config import Config, load_config
from pianqu.derive.settlements import cluster_labels, cluster_point, has_code, role_codes
from pianqu.geo import STORAGE_EPSG
from pianqu.parcels import select_epoch
from pianqu.standards import derived_road_classes, derived_road_codes, road_classes

DERIVED = "centreline"
ROAD_FIELDS = ("id", "class", "width_m", "speed_kmh", "code", "derived")


# -- selecting the parcels ----------------------------------------------------------------------

def road_parcel_codes(landuse: pd.DataFrame) -> pd.DataFrame:
    """Per parcel: the 用地用海 code of its traffic row in ``derived_roads.csv`` (``landuse_code``,
    empty when it is no traffic parcel) and whether it is ``drivable``.

    The parcel's ``code`` (用地用海, children by prefix: 060101 is 0601) is read first; a parcel
    whose code matches no row is matched by its original 三调 ``source_code`` (1003, 1004, 1006…).
    """
    table = derived_road_codes()
    n = len(landuse)
    target = pd.Series("", index=landuse.index, dtype=object)
    drive = pd.Series(False, index=landuse.index)
    code = (landuse["code"].astype("string").fillna("").str.strip() if "code" in landuse.columns
            else pd.Series("", index=landuse.index, dtype="string"))
    ylr = table[table["scheme"] == "用地用海"]
    for _, row in ylr.iloc[np.argsort(-ylr["code"].str.len().to_numpy(), kind="stable")].iterrows():
        hit = (target == "") & code.str.startswith(row["code"]).to_numpy(bool)
        target[hit] = row["landuse_code"]
        drive[hit] = bool(row["drivable"])
    if "source_code" in landuse.columns and n:
        src = landuse["source_code"].astype("string").fillna("").str.strip().str.replace(r"K$", "", regex=True)
        sd = table[table["scheme"] == "三调"].set_index("code")
        hit = (target == "").to_numpy() & src.isin(sd.index).to_numpy(bool)
        target[hit] = src[hit].map(sd["landuse_code"]).to_numpy()
        drive[hit] = src[hit].map(sd["drivable"]).to_numpy(bool)
    return pd.DataFrame({"landuse_code": target, "drivable": drive.astype(bool)}, index=landuse.index)


def _empty(crs: int = STORAGE_EPSG) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"id": pd.Series([], dtype=str), "class": pd.Series([], dtype=str),
                             "width_m": np.zeros(0), "speed_kmh": np.zeros(0),
                             "code": pd.Series([], dtype=str), "derived": pd.Series([], dtype=str)},
                            geometry=gpd.GeoSeries([], crs=crs), crs=crs)


# -- the centreline -----------------------------------------------------------------------------

def centreline_roads(landuse: gpd.GeoDataFrame, *, config: Config | None = None,
                     compute_epsg: int) -> gpd.GeoDataFrame:
    """A routable road layer (EPSG:4490) derived from the drivable traffic parcels of ``landuse``.

    ``landuse`` is the layer as stored (EPSG:4490, ``code``, optionally ``source_code`` and
    ``epoch``; of several epochs the base one is used). The result has the ``road`` layer's
    fields ``id``, ``class``, ``width_m``, ``speed_kmh`` (empty: the class default applies) plus
    ``code`` (the parcels' 用地用海 code) and ``derived`` = ``"centreline"``; lines are split at
    junctions. ``result.attrs["stats"]`` holds counts and timings. No drivable parcel: an empty layer.
    """
    cfg = config or load_config()
    clock = {"start": time.perf_counter()}
    stats: dict = {}

    def lap(name: str) -> None:
        now = time.perf_counter()
        stats[f"{name}_s"] = round(now - clock["start"], 3)
        clock["start"] = now

    lu = select_epoch(landuse) if landuse is not None else landuse
    if lu is None or len(lu) == 0:
        return _empty()
    codes = road_parcel_codes(lu)
    keep = codes["drivable"].to_numpy(bool)
    parcels = gpd.GeoDataFrame({"landuse_code": codes["landuse_code"].to_numpy()[keep]},
                               geometry=lu.geometry.to_numpy()[keep], crs=lu.crs)
    stats["parcels"] = int(keep.sum())
    if not keep.any():
        return _empty()
    pgeom = shapely.make_valid(parcels.to_crs(compute_epsg).geometry.to_numpy())
    polys, pidx = shapely.get_parts(pgeom, return_index=True)
    ispoly = shapely.get_type_id(polys) == 3
    polys, pidx = polys[ispoly], pidx[ispoly]
    pcode = parcels["landuse_code"].to_numpy()[pidx]

    step = float(cfg["derive.centreline_step_m"])
    factor = float(cfg["derive.centreline_spur_factor"])
    groups = _merge_parcels(polys, float(cfg["derive.centreline_grid_m"]),
                            float(cfg["derive.centreline_hole_max_m2"]))
    stats["groups"] = len(groups)
    lap("merge")
    sk = _chordal_axis(groups, step)
    stats["triangles"] = sk.n_triangles
    lap("triangulate")
    ch = _chains(sk)
    lap("chains")
    ch = _prune(ch, factor)
    stats["chains_pruned"] = len(ch.xy)
    lap("prune")
    if not ch.xy:
        return _empty()
    ch.width = ch.area / np.maximum(ch.length(), 1e-9)
    _extend_ends(ch, sk, step)
    ch.group = _group_of(ch, groups)
    joins = _join_gaps(ch, groups, _join_land(lu, compute_epsg, float(cfg["derive.homestead_gap_m"])),
                       gap_m=float(cfg["derive.centreline_gap_m"]), bridge_m=float(cfg["derive.centreline_bridge_m"]),
                       bridge_angle_deg=float(cfg["derive.centreline_bridge_angle_deg"]),
                       arm_m=float(cfg["derive.centreline_settlement_arm_m"]))
    stats["joins"] = sum(joins.values())
    stats.update({f"{k}_joins": v for k, v in joins.items()})
    ch = _drop_small(ch, float(cfg["derive.centreline_min_component_m"]))  # after the joins
    if not ch.xy:
        return _empty()
    lap("ends")

    lines = np.array([shapely.LineString(x) for x in ch.xy], dtype=object)
    code = _line_codes(lines, polys, pcode)
    width = ch.width
    cls = _classes(code, width)
    out = gpd.GeoDataFrame({
        "id": [f"DR{i + 1:06d}" for i in range(len(lines))],
        "class": cls, "width_m": np.round(width, 1), "speed_kmh": np.full(len(lines), np.nan),
        "code": code, "derived": DERIVED,
    }, geometry=gpd.GeoSeries(lines, crs=compute_epsg), crs=compute_epsg).to_crs(STORAGE_EPSG)
    lap("attributes")
    stats["lines"] = len(out)
    stats["length_km"] = round(float(ch.length().sum()) / 1000, 3)
    out.attrs["stats"] = stats
    return out


def _merge_parcels(polys: np.ndarray, grid: float, hole_max: float) -> np.ndarray:
    """Touching parcels as one polygon per connected group, holes up to ``hole_max`` m² filled."""
    merged = shapely.union_all(polys, grid_size=grid if grid > 0 else None)
    parts = [p for p in shapely.get_parts(merged) if p.geom_type == "Polygon" and p.area > 0]
    out = []
    for p in parts:
        if len(p.interiors):
            holes = [r for r in p.interiors if shapely.Polygon(r).area > hole_max]
            p = shapely.Polygon(p.exterior, holes)
        out.append(p)
    return np.array(out, dtype=object)


class _Skeleton:
    """The chordal axis as links between nodes (interior-edge midpoints, junction centroids)."""

    def __init__(self, node_xy, a, b, length, area, seg_p, seg_q, n_triangles):
        self.node_xy, self.a, self.b, self.length, self.area = node_xy, a, b, length, area
        self.seg_p, self.seg_q = seg_p, seg_q  # boundary segments (for extending dead ends)
        self.n_triangles = n_triangles


def _chordal_axis(groups: np.ndarray, step: float) -> _Skeleton:
    import triangle  # Shewchuk's Triangle: constrained Delaunay in O(n log n)

    poly = shapely.segmentize(groups, step) if step > 0 else groups
    rings = shapely.get_rings(poly)
    xy, ri = shapely.get_coordinates(rings, return_index=True)
    closing = np.r_[ri[1:] != ri[:-1], True]  # every ring repeats its first vertex last
    xy, ri = xy[~closing], ri[~closing]
    origin = xy.min(axis=0)
    q = np.round((xy - origin) * 1000).astype(np.int64)  # to the millimetre
    uq, inv = np.unique(q, axis=0, return_inverse=True)
    inv = inv.ravel()
    verts = uq / 1000.0
    nxt = np.arange(1, len(ri) + 1)
    start = np.r_[0, np.flatnonzero(np.diff(ri)) + 1]
    nxt[np.r_[start[1:] - 1, len(ri) - 1]] = start
    segs = np.c_[inv, inv[nxt]]
    segs = segs[segs[:, 0] != segs[:, 1]]
    tri = triangle.triangulate({"vertices": verts, "segments": segs}, "pQ")
    V = tri["vertices"]
    T = tri["triangles"]
    S = tri.get("segments", segs)
    # triangles inside the parcels (holes are triangulated too)
    cen = V[T].mean(axis=1)
    inside = shapely.contains_xy(shapely.MultiPolygon(list(groups)) if len(groups) > 1 else groups[0],
                                 cen[:, 0] + origin[0], cen[:, 1] + origin[1])
    T, cen = T[inside], cen[inside]
    nv = len(V)
    e = np.stack([np.sort(T[:, [1, 2]], axis=1), np.sort(T[:, [2, 0]], axis=1),
                  np.sort(T[:, [0, 1]], axis=1)], axis=1)  # (m, 3, 2)
    key = e[..., 0].astype(np.int64) * nv + e[..., 1]
    skey = np.sort(S, axis=1)
    bkey = np.unique(skey[:, 0].astype(np.int64) * nv + skey[:, 1])
    interior = ~np.isin(key, bkey)
    ukey, node = np.unique(key[interior], return_inverse=True)
    node_of = np.full(key.shape, -1)
    node_of[interior] = node.ravel()
    mid = (V[ukey // nv] + V[ukey % nv]) / 2
    k = interior.sum(axis=1)
    p, q = V[T[:, 1]] - V[T[:, 0]], V[T[:, 2]] - V[T[:, 0]]
    area = 0.5 * np.abs(p[:, 0] * q[:, 1] - p[:, 1] * q[:, 0])
    # sleeves: the two interior midpoints
    sl = np.flatnonzero(k == 2)
    ends = node_of[sl][interior[sl]].reshape(-1, 2)
    la, lb, lar = [ends[:, 0]], [ends[:, 1]], [area[sl]]
    # junctions: the centroid joined to the three midpoints
    jn = np.flatnonzero(k == 3)
    cid = len(mid) + np.arange(len(jn))
    for c in range(3):
        la.append(cid)
        lb.append(node_of[jn, c])
        lar.append(area[jn] / 3)
    node_xy = np.r_[mid, cen[jn]] + origin
    a, b, larea = np.concatenate(la), np.concatenate(lb), np.concatenate(lar)
    length = np.hypot(*(node_xy[a] - node_xy[b]).T)
    return _Skeleton(node_xy, a, b, length, larea, V[S[:, 0]] + origin, V[S[:, 1]] + origin, int(len(T)))


class _Chains:
    """Polylines between junctions/ends: coordinates, end nodes, triangle area."""

    def __init__(self, xy: list, a: np.ndarray, b: np.ndarray, area: np.ndarray, node_xy: np.ndarray):
        self.xy, self.a, self.b, self.area, self.node_xy = xy, a, b, area, node_xy
        self.width = np.zeros(len(xy))
        self.group = np.zeros(len(xy), dtype=np.int64)

    def length(self) -> np.ndarray:
        return np.array([np.hypot(*np.diff(x, axis=0).T).sum() for x in self.xy])

    def degree(self) -> np.ndarray:
        return np.bincount(np.r_[self.a, self.b], minlength=len(self.node_xy))

    def take(self, keep: np.ndarray) -> _Chains:
        idx = np.flatnonzero(keep)
        c = _Chains([self.xy[i] for i in idx], self.a[idx], self.b[idx], self.area[idx], self.node_xy)
        c.width, c.group = self.width[idx], self.group[idx]
        return c


def _chains(sk: _Skeleton) -> _Chains:
    """Cut the skeleton into chains between nodes of degree ≠ 2 (cycles stay whole)."""
    nn, nl = len(sk.node_xy), len(sk.a)
    deg = np.bincount(np.r_[sk.a, sk.b], minlength=nn)
    # links sharing a degree-2 node are in one chain
    inc_node = np.r_[sk.a, sk.b]
    inc_link = np.r_[np.arange(nl), np.arange(nl)]
    through = deg[inc_node] == 2
    order = np.argsort(inc_node[through], kind="stable")
    pairs = inc_link[through][order].reshape(-1, 2)
    g = sp.coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(nl, nl))
    _, label = connected_components(g, directed=False)
    segs = shapely.linestrings(np.stack([sk.node_xy[sk.a], sk.node_xy[sk.b]], axis=1))
    order = np.argsort(label, kind="stable")
    multi = shapely.multilinestrings(segs[order], indices=label[order])
    merged = shapely.line_merge(multi)
    nc = len(merged)
    area = np.bincount(label, weights=sk.area, minlength=nc)
    # end nodes: incidences at nodes of degree ≠ 2
    endi = ~through
    en, el = inc_node[endi], label[inc_link[endi]]
    a = np.full(nc, -1)
    b = np.full(nc, -1)
    o = np.argsort(el, kind="stable")
    en, el = en[o], el[o]
    first = np.r_[True, el[1:] != el[:-1]]
    a[el[first]] = en[first]
    second = ~first
    b[el[second]] = en[second]
    node_xy = sk.node_xy
    xy = []
    for i, line in enumerate(merged):
        if line.geom_type != "LineString":  # should not happen: a chain is one path
            parts = sorted(shapely.get_parts(line), key=lambda p: -p.length)
            line = parts[0]
        c = shapely.get_coordinates(line)
        if a[i] >= 0 and not np.allclose(c[0], node_xy[a[i]], atol=1e-6):
            c = c[::-1]
        xy.append(c)
    # a cycle through no junction: give it one node at its first vertex
    cyc = np.flatnonzero(a < 0)
    if len(cyc):
        extra = np.array([xy[i][0] for i in cyc])
        ids = len(node_xy) + np.arange(len(cyc))
        node_xy = np.r_[node_xy, extra]
        a[cyc] = ids
        b[cyc] = ids
    return _Chains(xy, a, b, area, node_xy)


def _merge_through(ch: _Chains) -> _Chains:
    """Join chains meeting at a node of degree 2 into one chain."""
    deg = ch.degree()
    nc = len(ch.xy)
    inc_node = np.r_[ch.a, ch.b]
    inc_chain = np.r_[np.arange(nc), np.arange(nc)]
    through = (deg[inc_node] == 2) & (ch.a[inc_chain] != ch.b[inc_chain])
    if not through.any():
        return ch
    order = np.argsort(inc_node[through], kind="stable")
    pairs = inc_chain[through][order].reshape(-1, 2)
    g = sp.coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(nc, nc))
    n, label = connected_components(g, directed=False)
    xy, a, b, area, width = [], [], [], [], []
    members: dict[int, list[int]] = {}
    for i, lab in enumerate(label):
        members.setdefault(int(lab), []).append(i)
    for lab in range(n):
        idx = members[lab]
        if len(idx) == 1:
            i = idx[0]
            xy.append(ch.xy[i]), a.append(ch.a[i]), b.append(ch.b[i]), area.append(ch.area[i])
            width.append(ch.width[i])
            continue
        # walk from an end whose node is not a through node (or anywhere on a cycle)
        ends = {i: (ch.a[i], ch.b[i]) for i in idx}
        at_node: dict[int, list[int]] = {}
        for i in idx:
            at_node.setdefault(ch.a[i], []).append(i)
            at_node.setdefault(ch.b[i], []).append(i)
        start = next((i for i in idx if deg[ch.a[i]] != 2 or deg[ch.b[i]] != 2), idx[0])
        s_a, s_b = ends[start]
        node = s_a if deg[s_a] != 2 else (s_b if deg[s_b] != 2 else s_a)
        first_node = node
        used = set()
        cur, coords = start, []
        while cur is not None and cur not in used:
            used.add(cur)
            c = ch.xy[cur]
            if ch.a[cur] == node:
                nxt_node = ch.b[cur]
            else:
                c, nxt_node = c[::-1], ch.a[cur]
            coords.append(c if not coords else c[1:])
            node = nxt_node
            cur = next((j for j in at_node.get(node, []) if j not in used), None) if deg[node] == 2 else None
        xy.append(np.concatenate(coords))
        a.append(first_node)
        b.append(node)
        tot = sum(ch.area[i] for i in idx)
        area.append(tot)
        width.append(max(ch.width[i] for i in idx))
    out = _Chains(xy, np.array(a), np.array(b), np.array(area), ch.node_xy)
    out.width = np.array(width)
    return out


def _node_widths(ch: _Chains) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each chain's length, each node's degree and the widest road (area / length) at each node."""
    length = ch.length()
    width = ch.area / np.maximum(length, 1e-9)
    wide = np.zeros(len(ch.node_xy))
    np.maximum.at(wide, ch.a, width)
    np.maximum.at(wide, ch.b, width)
    return length, ch.degree(), wide


def _prune(ch: _Chains, factor: float, rounds: int = 4) -> _Chains:
    """Remove spurs (short dead-end branches off a junction), then merge junctions joined by a
    chain shorter than ``factor`` widths into one."""
    for _ in range(rounds):
        length, deg, wide = _node_widths(ch)
        da, db = deg[ch.a], deg[ch.b]
        spur_a = (da == 1) & (db >= 3) & (length < factor * wide[ch.b])
        spur_b = (db == 1) & (da >= 3) & (length < factor * wide[ch.a])
        spur = spur_a | spur_b
        if not spur.any():
            break
        ch = _merge_through(ch.take(~spur))
    # close junctions: contract short junction-to-junction chains
    length, deg, wide = _node_widths(ch)
    short = ((deg[ch.a] >= 3) & (deg[ch.b] >= 3) & (ch.a != ch.b)
             & (length < factor * np.minimum(wide[ch.a], wide[ch.b])))
    if short.any():
        nn = len(ch.node_xy)
        s = np.flatnonzero(short)
        g = sp.coo_matrix((np.ones(len(s)), (ch.a[s], ch.b[s])), shape=(nn, nn))
        _, lab = connected_components(g, directed=False)
        involved = np.zeros(nn, bool)
        involved[ch.a[s]] = True
        involved[ch.b[s]] = True
        node_xy = ch.node_xy.copy()
        cnt = np.bincount(lab[involved], minlength=lab.max() + 1)
        sx = np.bincount(lab[involved], weights=node_xy[involved, 0], minlength=lab.max() + 1)
        sy = np.bincount(lab[involved], weights=node_xy[involved, 1], minlength=lab.max() + 1)
        rep = np.arange(nn)
        # representative node of each merged group: its first member, placed at the mean
        first = {}
        for v in np.flatnonzero(involved):
            first.setdefault(lab[v], v)
        for v in np.flatnonzero(involved):
            rep[v] = first[lab[v]]
        for lab_, v in first.items():
            node_xy[v] = (sx[lab_] / cnt[lab_], sy[lab_] / cnt[lab_])
        keep = ~short
        a, b = rep[ch.a], rep[ch.b]
        xy = []
        for i in range(len(ch.xy)):
            c = ch.xy[i].copy()
            c[0], c[-1] = node_xy[a[i]], node_xy[b[i]]
            xy.append(c)
        new = _Chains(xy, a, b, ch.area, node_xy)
        new.width = ch.width
        # short loops left at a merged junction go too
        ln = new.length()
        loop = (a == b) & (ln < factor * 4 * np.maximum(ch.area / np.maximum(length, 1e-9), 1e-9))
        ch = _merge_through(new.take(keep & ~loop))
    return ch


def _drop_small(ch: _Chains, min_m: float) -> _Chains:
    """Drop connected pieces shorter than ``min_m`` in total."""
    if not ch.xy:
        return ch
    nn = len(ch.node_xy)
    g = sp.coo_matrix((np.ones(len(ch.a)), (ch.a, ch.b)), shape=(nn, nn))
    _, lab = connected_components(g, directed=False)
    tot = np.bincount(lab[ch.a], weights=ch.length(), minlength=lab.max() + 1)
    return ch.take(tot[lab[ch.a]] >= min_m)


def _extend_ends(ch: _Chains, sk: _Skeleton, step: float) -> None:
    """Extend every dead end along its last direction to the edge of its parcels (the axis of an
    end triangle stops short of the road's end: by up to the densifying ``step`` on a narrow road,
    whose end triangles are slivers as long as the boundary's vertex spacing)."""
    deg = ch.degree()
    seg_p, seg_q = sk.seg_p, sk.seg_q
    seglen = np.hypot(*(seg_q - seg_p).T)
    tree = cKDTree((seg_p + seg_q) / 2)
    half = float(seglen.max()) / 2 if len(seglen) else 0.0
    for i in range(len(ch.xy)):
        for end in (0, 1):
            node = ch.a[i] if end == 0 else ch.b[i]
            if deg[node] != 1 or ch.a[i] == ch.b[i]:
                continue
            c = ch.xy[i] if end == 1 else ch.xy[i][::-1]
            e = c[-1]
            w = max(float(ch.width[i]), 1.0)
            # direction over the last ≈ one width of the line
            back = np.hypot(*np.diff(c, axis=0).T)[::-1].cumsum()
            k = int(np.searchsorted(back, w))
            ref = c[max(len(c) - 2 - k, 0)]
            d = e - ref
            nd = np.hypot(*d)
            if nd <= 0:
                continue
            d = d / nd
            reach = 2 * w + (step if step > 0 else 20.0)
            cand = tree.query_ball_point(e + d * reach / 2, reach / 2 + half)
            if not cand:
                continue
            cand = np.asarray(cand)
            p, r = seg_p[cand], seg_q[cand] - seg_p[cand]
            den = d[0] * r[:, 1] - d[1] * r[:, 0]
            ok = np.abs(den) > 1e-12
            if not ok.any():
                continue
            pe = p[ok] - e
            t = (pe[:, 0] * r[ok, 1] - pe[:, 1] * r[ok, 0]) / den[ok]
            u = (pe[:, 0] * d[1] - pe[:, 1] * d[0]) / den[ok]
            hit = (t > 1e-6) & (t <= reach) & (u >= -1e-9) & (u <= 1 + 1e-9)
            if not hit.any():
                continue
            new = e + d * t[hit].min()
            c = np.r_[c, new[None, :]]
            ch.xy[i] = c if end == 1 else c[::-1]
            ch.node_xy[node] = new


def _group_of(ch: _Chains, groups: np.ndarray) -> np.ndarray:
    """Index of the merged parcel group each chain runs in (the one nearest its middle)."""
    mids = shapely.line_interpolate_point([shapely.LineString(x) for x in ch.xy], 0.5, normalized=True)
    _, gi = shapely.STRtree(groups).query_nearest(mids, all_matches=False)
    return np.asarray(gi)


def _end_direction(c: np.ndarray, base: float) -> np.ndarray:
    """Unit direction in which the line ``c`` ends (at ``c[-1]``), over its last ``base`` metres."""
    back = np.hypot(*np.diff(c, axis=0).T)[::-1].cumsum()
    k = int(np.searchsorted(back, base))
    d = c[-1] - c[max(len(c) - 2 - k, 0)]
    n = float(np.hypot(*d))
    return d / n if n > 0 else np.zeros(2)


def _dead_ends(ch: _Chains) -> list[tuple[int, int, np.ndarray, np.ndarray]]:
    """(chain, node, point, outward direction) of every dead end; the direction is taken over the
    last three widths (at least 15 m) of the line, steadier than the axis' last link."""
    deg = ch.degree()
    out = []
    for i in range(len(ch.xy)):
        if ch.a[i] == ch.b[i]:
            continue
        for end in (0, 1):
            node = int(ch.a[i] if end == 0 else ch.b[i])
            if deg[node] != 1:
                continue
            c = ch.xy[i] if end == 1 else ch.xy[i][::-1]
            out.append((i, node, c[-1].copy(), _end_direction(c, max(3 * float(ch.width[i]), 15.0))))
    return out


def _outside(segs: np.ndarray, polys: list[tuple[np.ndarray, np.ndarray]], step: float = 2.0) -> np.ndarray:
    """Length of each segment off all of ``polys``, pairs of (polygons, distance per segment within
    which a point counts as on them), sampled every ``step`` m."""
    n = len(segs)
    if not n:
        return np.zeros(0)
    length = shapely.length(segs)
    k = np.maximum(np.ceil(length / step).astype(np.int64), 1)
    which = np.repeat(np.arange(n), k)
    frac = (np.arange(k.sum()) - np.repeat(np.cumsum(k) - k, k) + 0.5) / np.repeat(k, k)
    pts = shapely.line_interpolate_point(segs[which], frac, normalized=True)
    hit = np.zeros(len(pts), bool)
    for group, near in polys:
        if not len(group):
            continue
        tree = shapely.STRtree(group)
        for d in np.unique(near):
            sel = np.flatnonzero(~hit & (near[which] == d))
            if len(sel):
                pi, _ = tree.query(pts[sel], predicate="dwithin", distance=float(d))
                hit[sel[np.unique(pi)]] = True
    return np.bincount(which, weights=(~hit) * (length / k)[which], minlength=n)


def _join_land(lu: gpd.GeoDataFrame, compute_epsg: int, home_gap: float) -> _JoinLand:
    """The water (``bridge_water`` codes of ``derive_codes.csv``) and homestead (``homestead``)
    parcels of ``lu``, as polygons in the compute CRS."""
    code = lu["code"] if "code" in lu.columns else pd.Series("", index=lu.index)

    def polys(mask: np.ndarray) -> np.ndarray:
        if not mask.any():
            return np.zeros(0, dtype=object)
        g = shapely.make_valid(lu.geometry[mask].to_crs(compute_epsg).to_numpy())
        parts = shapely.get_parts(g)
        return parts[shapely.get_type_id(parts) == 3]

    return _JoinLand(polys(has_code(code, role_codes("bridge_water"), prefix=True)),
                    polys(has_code(code, role_codes("homestead"), prefix=True)), home_gap)


class _JoinLand:
    """The land a road may cross where its parcels leave a gap: water (a bridge mapped as water)
    and homestead clusters (village lanes inside the homestead parcels), in the compute CRS."""

    def __init__(self, water: np.ndarray, homes: np.ndarray, home_gap: float):
        self.water = water
        self.homes = homes
        self.home_gap = home_gap


def _join_gaps(ch: _Chains, roads: np.ndarray, land: _JoinLand | None, *, gap_m: float, bridge_m: float,
               bridge_angle_deg: float, arm_m: float) -> dict[str, int]:
    """Join the dead ends of the centreline across what the parcels leave out; three kinds, each
    dead end joined once, in this order:

    - *bridge*: two dead ends facing each other (each within ``bridge_angle_deg`` of the line
      between them) up to ``bridge_m`` apart, where at most ``gap_m`` of that line runs outside
      the road parcels and the water (三调 maps a bridge as the river under it; a road crossing a
      river obliquely leaves a gap longer than the river is wide);
    - *gap*: a dead end to the nearest line ahead of it (within 90° of its direction) of another
      parcel group within ``gap_m`` (a parcel of another kind across the road);
    - *settlement*: where dead ends of two or more separate pieces of the network lie within
      ``gap_m`` of one homestead cluster (parcels closer than ``land.home_gap``), the dead end of
      each piece nearest the cluster's point (:func:`pianqu.derive.settlements.cluster_point`,
      the derived village seat of a village's main cluster) is led to it when at most ``arm_m``
      away: 三调 leaves a village's lanes inside its homestead parcels, so the roads that reach
      a hamlet from several sides stop at its edge.

    The target line is split where a join meets it. Returns the number of joins by kind."""
    counts = {"bridge": 0, "gap": 0, "settlement": 0}
    if not ch.xy:
        return counts
    dead = _dead_ends(ch)
    if not dead:
        return counts
    dxy = np.array([d[2] for d in dead])
    ddir = np.array([d[3] for d in dead])
    used = np.zeros(len(dead), bool)
    joins: list[tuple[int, int, tuple]] = []  # (chain of the dead end, its node, target)
    splits: dict[int, set] = {}
    hubs: list[np.ndarray] = []

    # bridges: facing pairs, shortest first
    if bridge_m > 0 and len(dead) > 1:
        pairs = cKDTree(dxy).query_pairs(bridge_m, output_type="ndarray")
        if len(pairs):
            p, q = pairs[:, 0], pairs[:, 1]
            v = dxy[q] - dxy[p]
            L = np.hypot(*v.T)
            cos_min = np.cos(np.radians(bridge_angle_deg))
            face = ((ddir[p] * v).sum(axis=1) >= cos_min * L) & ((-ddir[q] * v).sum(axis=1) >= cos_min * L)
            face &= np.array([dead[i][1] != dead[j][1] for i, j in zip(p, q)], dtype=bool)
            p, q, L = p[face], q[face], L[face]
            if len(p):
                segs = shapely.linestrings(np.stack([dxy[p], dxy[q]], axis=1))
                water = land.water if land is not None else np.zeros(0, dtype=object)
                # a bridge's straight line may leave a curving road or cut the corner of a bank
                # by up to about the road's width beside the water; along the road, no slack
                near = np.maximum(np.maximum(ch.width[[dead[i][0] for i in p]], ch.width[[dead[j][0] for j in q]]),
                                  3.0).round()
                outside = _outside(segs, [(water, near), (roads, np.full(len(p), 0.5))])
                ok = outside <= gap_m + 1e-6
                p, q, L = p[ok], q[ok], L[ok]
                for k in np.argsort(L, kind="stable"):
                    i, j = int(p[k]), int(q[k])
                    if used[i] or used[j]:
                        continue
                    used[i] = used[j] = True
                    joins.append((dead[i][0], dead[i][1], ("n", dead[j][1])))
                    counts["bridge"] += 1

    # gaps: the nearest vertex ahead of the dead end, of another parcel group
    if gap_m > 0:
        vxy = np.concatenate(ch.xy)
        vchain = np.repeat(np.arange(len(ch.xy)), [len(x) for x in ch.xy])
        vpos = np.concatenate([np.arange(len(x)) for x in ch.xy])
        tree = cKDTree(vxy)
        seen: set = set()
        for k, (i, node, e, d) in enumerate(dead):
            if used[k]:
                continue
            cand = np.asarray(tree.query_ball_point(e, gap_m), dtype=np.int64)
            if not len(cand):
                continue
            cand = cand[(ch.group[vchain[cand]] != ch.group[i]) & ((vxy[cand] - e) @ d >= 0)]
            if not len(cand):
                continue
            j = cand[np.argmin(np.hypot(*(vxy[cand] - e).T))]
            tc, tp = int(vchain[j]), int(vpos[j])
            last = len(ch.xy[tc]) - 1
            target = ("n", int(ch.a[tc])) if tp == 0 else ("n", int(ch.b[tc])) if tp == last else ("v", tc, tp)
            key = tuple(sorted([("n", node), target]))
            if key in seen:
                continue
            seen.add(key)
            used[k] = True
            joins.append((i, node, target))
            if target[0] == "v":
                splits.setdefault(tc, set()).add(tp)
            counts["gap"] += 1

    # settlements: the hamlet's point, where dead ends of separate pieces reach one hamlet
    if land is not None and len(land.homes) and arm_m > 0 and not used.all():
        free = np.flatnonzero(~used)
        di, hi = shapely.STRtree(land.homes).query(shapely.points(dxy[free]), predicate="dwithin",
                                                    distance=max(gap_m, 1e-3))
        if len(di):
            comp = _components(ch, joins)
            label = cluster_labels(land.homes, land.home_gap)
            # each dead end's nearest homestead parcel decides its cluster
            dist = shapely.distance(shapely.points(dxy[free[di]]), land.homes[hi])
            order = np.lexsort((dist, di))
            first = np.r_[True, di[order][1:] != di[order][:-1]]
            ends_of: dict[int, list[int]] = {}
            for k, h in zip(free[di[order][first]], hi[order][first]):
                ends_of.setdefault(int(label[h]), []).append(int(k))
            for lab, ks in ends_of.items():
                if len({comp[dead[k][1]] for k in ks}) < 2:
                    continue
                pt = cluster_point(land.homes[label == lab])
                hub = np.array([pt.x, pt.y])
                best: dict[int, tuple[float, int]] = {}  # per piece, its dead end nearest the hub
                for k in ks:
                    dk = float(np.hypot(*(hub - dxy[k])))
                    c = int(comp[dead[k][1]])
                    if 1e-6 < dk <= arm_m and (c not in best or dk < best[c][0]):
                        best[c] = (dk, k)
                if len(best) < 2:
                    continue
                hubs.append(hub)
                for _, k in best.values():
                    used[k] = True
                    joins.append((dead[k][0], dead[k][1], ("p", len(hubs) - 1)))
                    counts["settlement"] += 1
    if joins:
        _apply_joins(ch, joins, splits, hubs)
    return counts


def _components(ch: _Chains, joins: list[tuple[int, int, tuple]]) -> np.ndarray:
    """Connected piece of every node of ``ch`` with the node-to-node and node-to-line ``joins``."""
    nn = len(ch.node_xy)
    a, b = list(ch.a), list(ch.b)
    for _, node, target in joins:
        if target[0] in ("n", "v"):
            a.append(node)
            b.append(target[1] if target[0] == "n" else int(ch.a[target[1]]))
    g = sp.coo_matrix((np.ones(len(a)), (np.array(a), np.array(b))), shape=(nn, nn))
    return connected_components(g, directed=False)[1]


def _apply_joins(ch: _Chains, joins: list[tuple[int, int, tuple]], splits: dict[int, set],
                 hubs: list[np.ndarray]) -> None:
    """Add the joining segments: to a node (``("n", node)``), to a vertex of a chain, which is split
    there (``("v", chain, position)``), or to a new node (``("p", hub)``)."""
    node_xy = list(ch.node_xy)
    vnode: dict[tuple, int] = {}
    xy, a, b, area, width, group = [], [], [], [], [], []
    for i in range(len(ch.xy)):
        cuts = sorted(splits.get(i, ()))
        if not cuts:
            xy.append(ch.xy[i]), a.append(ch.a[i]), b.append(ch.b[i]), area.append(ch.area[i])
            width.append(ch.width[i]), group.append(ch.group[i])
            continue
        c = ch.xy[i]
        total = max(np.hypot(*np.diff(c, axis=0).T).sum(), 1e-9)
        bounds = [0, *cuts, len(c) - 1]
        prev_node = ch.a[i]
        for k in range(len(bounds) - 1):
            lo, hi = bounds[k], bounds[k + 1]
            if hi < len(c) - 1:
                nid = len(node_xy)
                node_xy.append(c[hi].copy())
                vnode[(i, hi)] = nid
            else:
                nid = ch.b[i]
            piece = c[lo:hi + 1]
            plen = np.hypot(*np.diff(piece, axis=0).T).sum()
            xy.append(piece), a.append(prev_node), b.append(nid)
            area.append(ch.area[i] * plen / total), width.append(ch.width[i]), group.append(ch.group[i])
            prev_node = nid
    hub_node = {}
    for h, pt in enumerate(hubs):
        hub_node[h] = len(node_xy)
        node_xy.append(np.asarray(pt, dtype=float))
    for i, node, target in joins:
        tn = (target[1] if target[0] == "n" else vnode[(target[1], target[2])] if target[0] == "v"
              else hub_node[target[1]])
        seg = np.array([ch.node_xy[node], node_xy[tn]])
        xy.append(seg), a.append(node), b.append(tn)
        area.append(0.0), width.append(ch.width[i]), group.append(ch.group[i])
    ch.xy, ch.a, ch.b = xy, np.array(a), np.array(b)
    ch.area, ch.width, ch.group = np.array(area), np.array(width), np.array(group)
    ch.node_xy = np.array(node_xy)


def _line_codes(lines: np.ndarray, polys: np.ndarray, pcode: np.ndarray) -> np.ndarray:
    """The 用地用海 code of the parcels under most of each line (samples at 10 %, 30 % … 90 %)."""
    fr = np.array([0.1, 0.3, 0.5, 0.7, 0.9])
    pts = shapely.line_interpolate_point(np.repeat(lines, len(fr)), np.tile(fr, len(lines)), normalized=True)
    _, pi = shapely.STRtree(polys).query_nearest(pts, all_matches=False)
    sample = pd.DataFrame({"line": np.repeat(np.arange(len(lines)), len(fr)), "code": pcode[pi]})
    counts = sample.groupby(["line", "code"]).size().reset_index(name="n")
    # most samples wins; a tie goes to the table's first code (公路 before 城镇村道路 before 农村道路)
    order = {c: k for k, c in enumerate(pd.unique(derived_road_classes()["landuse_code"]))}
    counts["order"] = counts["code"].map(order).fillna(len(order))
    counts = counts.sort_values(["line", "n", "order"], ascending=[True, False, True])
    return counts.drop_duplicates("line").set_index("line")["code"].reindex(np.arange(len(lines))).to_numpy()


def _classes(code: np.ndarray, width: np.ndarray) -> np.ndarray:
    """Road class by code and width from ``derived_road_classes.csv`` (the slowest class where
    the code has no row)."""
    table = derived_road_classes().sort_values("min_width_m", ascending=False)
    slowest = road_classes().set_index("class")["rank"].idxmax()
    out = np.full(len(code), slowest, dtype=object)
    done = np.zeros(len(code), bool)
    for _, row in table.iterrows():
        hit = ~done & (code == row["landuse_code"]) & (width >= row["min_width_m"])
        out[hit] = row["class"]
        done |= hit
    return out


# -- straight lines -----------------------------------------------------------------------------

def straight_line_times(origins: gpd.GeoSeries | gpd.GeoDataFrame, destinations: gpd.GeoSeries | gpd.GeoDataFrame,
                        *, config: Config | None = None) -> np.ndarray:
    """Estimated travel time (s) from every origin to every destination without a road network:
    the ellipsoidal (CGCS2000) distance × ``derive.straight_line_detour`` at
    ``derive.straight_line_speed_kmh``. Missing points give ``inf``."""
    cfg = config or load_config()
    detour = float(cfg["derive.straight_line_detour"])
    speed = float(cfg["derive.straight_line_speed_kmh"]) / 3.6

    def lonlat(pts) -> np.ndarray:
        g = pts.geometry if isinstance(pts, gpd.GeoDataFrame) else pts
        g = g.to_crs(STORAGE_EPSG) if g.crs is not None else g
        xy = np.full((len(g), 2), np.nan)
        ok = (~g.isna() & ~g.is_empty).to_numpy()
        if ok.any():
            pts_ok = g.to_numpy()[ok]
            xy[ok] = np.c_[shapely.get_x(pts_ok), shapely.get_y(pts_ok)]
        return xy

    o, d = lonlat(origins), lonlat(destinations)
    if len(o) == 0 or len(d) == 0:
        return np.zeros((len(o), len(d)))
    lon1 = np.repeat(o[:, 0], len(d))
    lat1 = np.repeat(o[:, 1], len(d))
    lon2 = np.tile(d[:, 0], len(o))
    lat2 = np.tile(d[:, 1], len(o))
    ok = ~(np.isnan(lon1) | np.isnan(lon2))
    dist = np.full(len(lon1), np.inf)
    if ok.any():
        _, _, dist[ok] = Geod(ellps="GRS80").inv(lon1[ok], lat1[ok], lon2[ok], lat2[ok])
    return (dist * detour / speed).reshape(len(o), len(d))
