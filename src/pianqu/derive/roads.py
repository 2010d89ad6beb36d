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
5. dead ends are extended to the parcel's edge, then joined across gaps up to
   ``derive.centreline_gap_m`` to another parcel group (a bridge mapped as water, a parcel of
   another kind across the road);
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
from pianqu.geo import STORAGE_EPSG
from pianqu.land.epochs import select_epoch
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
    _extend_ends(ch, sk)
    ch.group = _group_of(ch, groups)
    n_joins = _join_gaps(ch, float(cfg["derive.centreline_gap_m"]))
    stats["gap_joins"] = n_joins
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


def _prune(ch: _Chains, factor: float, rounds: int = 4) -> _Chains:
    """Remove spurs (short dead-end branches off a junction), then merge junctions joined by a
    chain shorter than ``factor`` widths into one."""
    for _ in range(rounds):
        length = ch.length()
        width = ch.area / np.maximum(length, 1e-9)
        deg = ch.degree()
        wide = np.zeros(len(ch.node_xy))
        np.maximum.at(wide, ch.a, width)
        np.maximum.at(wide, ch.b, width)
        da, db = deg[ch.a], deg[ch.b]
        spur_a = (da == 1) & (db >= 3) & (length < factor * wide[ch.b])
        spur_b = (db == 1) & (da >= 3) & (length < factor * wide[ch.a])
        spur = spur_a | spur_b
        if not spur.any():
            break
        ch = _merge_through(ch.take(~spur))
    # close junctions: contract short junction-to-junction chains
    length = ch.length()
    width = ch.area / np.maximum(length, 1e-9)
    deg = ch.degree()
    wide = np.zeros(len(ch.node_xy))
    np.maximum.at(wide, ch.a, width)
    np.maximum.at(wide, ch.b, width)
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
        loop = (a == b) & (ln < factor * 4 * np.maximum(width, 1e-9))
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


def _extend_ends(ch: _Chains, sk: _Skeleton) -> None:
    """Extend every dead end along its last direction to the edge of its parcels (the axis of an
    end triangle stops short of the road's end)."""
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
            reach = 2 * w
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


def _join_gaps(ch: _Chains, tol: float) -> int:
    """Join dead ends to the nearest line of another parcel group within ``tol``; the line is split
    there. Returns the number of joins."""
    if tol <= 0 or not ch.xy:
        return 0
    deg = ch.degree()
    dead = [(i, end) for i in range(len(ch.xy)) for end in (0, 1)
            if deg[ch.a[i] if end == 0 else ch.b[i]] == 1 and ch.a[i] != ch.b[i]]
    if not dead:
        return 0
    vxy = np.concatenate(ch.xy)
    vchain = np.repeat(np.arange(len(ch.xy)), [len(x) for x in ch.xy])
    vpos = np.concatenate([np.arange(len(x)) for x in ch.xy])
    tree = cKDTree(vxy)
    joins: dict[tuple, tuple] = {}
    splits: dict[int, set] = {}
    for i, end in dead:
        node = ch.a[i] if end == 0 else ch.b[i]
        e = ch.node_xy[node]
        cand = np.asarray(tree.query_ball_point(e, tol), dtype=np.int64)
        if not len(cand):
            continue
        cand = cand[ch.group[vchain[cand]] != ch.group[i]]
        if not len(cand):
            continue
        j = cand[np.argmin(np.hypot(*(vxy[cand] - e).T))]
        tc, tp = int(vchain[j]), int(vpos[j])
        last = len(ch.xy[tc]) - 1
        target = ("n", int(ch.a[tc])) if tp == 0 else ("n", int(ch.b[tc])) if tp == last else ("v", tc, tp)
        key = tuple(sorted([("n", int(node)), target]))
        if key in joins:
            continue
        joins[key] = (i, int(node), target)
        if target[0] == "v":
            splits.setdefault(tc, set()).add(tp)
    if not joins:
        return 0
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
    for i, node, target in joins.values():
        tn = target[1] if target[0] == "n" else vnode[(target[1], target[2])]
        seg = np.array([ch.node_xy[node], node_xy[tn]])
        xy.append(seg), a.append(node), b.append(tn)
        area.append(0.0), width.append(ch.width[i]), group.append(ch.group[i])
    ch.xy, ch.a, ch.b = xy, np.array(a), np.array(b)
    ch.area, ch.width, ch.group = np.array(area), np.array(width), np.array(group)
    ch.node_xy = np.array(node_xy)
    return len(joins)


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
