"""A fast vectorised polygon overlay: STRtree candidate pairs + shapely 2 array operations.

The same answer as ``geopandas.overlay(left, right, how="intersection")`` (polygonal parts,
one row per intersecting pair), several times faster on planning data, because planning
overlays are lopsided: many small parcels against few large, detailed control-line polygons.

1. The large polygons are cut into small pieces first: the parts of a multipolygon taken apart,
   then recursive halving until each piece has at most ``max_vertices`` vertices (like PostGIS
   ``ST_Subdivide``). The pieces partition each polygon.
2. Candidate pairs come from one STRtree query over the parcels with the exact ``intersects``
   predicate evaluated on the *prepared* pieces.
3. Where a piece *covers* the parcel (most pairs: parcels deep inside a red line or a development
   boundary) the intersection is the parcel itself: no overlay at all. A parcel across the cut
   between two pieces is tested against the polygon they came from (also prepared).
4. Only the remaining boundary pairs whose interiors meet (a DE-9IM test on the prepared piece
   drops the neighbours that merely touch) are intersected, each against a small piece, so each
   costs O(parcel) instead of O(red line); a parcel over several pieces gets the union of its parts.

The geometry is computed in the CRS of the input (callers pass the county's CGCS2000 3° GK zone,
see :func:`project`). Areas are planar in it unless ``crs`` is given: then every reported area is
the ellipsoidal CGCS2000 area (:func:`pianqu.geo.ellipsoidal_area`, what 三调 TBMJ holds), and with
the parcels' recorded areas (``left_area``, TBMJ) a piece that is a whole parcel reports exactly
that area, and the pieces of a parcel cut by the right side are scaled by TBMJ / its computed
ellipsoidal area (面积平差: a parcel's pieces add up to its TBMJ). The pieces of a cut polygon
partition it, so the areas agree with a plain overlay to floating-point rounding.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.errors import GEOSException

from pianqu.errors import Phrase, PianquError, geometry_problem
from pianqu.geo import GRID_M, STORAGE_EPSG, _polygonal, compute_epsg, dissolve_groups, ellipsoidal_area, union  # noqa: F401 (re-exported)

# Implementation parameters (not planning thresholds): they change speed, never the answer.
MAX_VERTICES = 256  # pieces of a large polygon keep at most this many vertices
MAX_DEPTH = 24  # halvings before a piece is kept whatever its size
# a recorded area (TBMJ) farther than this from the computed ellipsoidal area is not used to scale pieces
# (the data check validate.area_rel_tolerance reports such parcels); the pieces keep their own area
ADJUST_MAX_REL = 1e-2


class OverlayError(PianquError, ValueError):
    """Input geometry the overlay cannot use; the message (``land.error.*``, in the user's
    language) names the layer, feature and fix."""


@dataclass(frozen=True)
class Overlay:
    """Intersections of two geometry arrays: one entry per pair with a polygonal intersection.

    ``left``/``right``: positions in the input arrays; ``geometry``: the (multi)polygon of the
    intersection; ``area``: its area (ellipsoidal when the overlay was given a ``crs``); ``inside``: the left geometry lies wholly inside the
    right one (the intersection *is* the left geometry), ``contains``: the reverse.
    """

    left: np.ndarray
    right: np.ndarray
    geometry: np.ndarray
    area: np.ndarray
    inside: np.ndarray
    contains: np.ndarray

    def __len__(self) -> int:
        return len(self.left)

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame({"left": self.left, "right": self.right, "area": self.area,
                             "inside": self.inside, "contains": self.contains})


def _values(geoms) -> np.ndarray:
    if isinstance(geoms, (gpd.GeoDataFrame, gpd.GeoSeries)):
        geoms = geoms.geometry.to_numpy() if isinstance(geoms, gpd.GeoDataFrame) else geoms.to_numpy()
    return np.asarray(geoms, dtype=object)


def project(frame: gpd.GeoDataFrame, epsg: int | None = None) -> gpd.GeoDataFrame:
    """``frame`` in the computing CRS (the county's 3° GK zone; derived from the data if None)."""
    if frame.crs is None:
        raise OverlayError("land.error.no_crs")
    epsg = epsg or compute_epsg(frame)
    if frame.crs.to_epsg() == epsg:
        return frame
    return frame.to_crs(epsg)


def split_large(geoms, max_vertices: int = MAX_VERTICES) -> tuple[np.ndarray, np.ndarray]:
    """Cut every polygon with more than ``max_vertices`` vertices into pieces that have fewer.

    Returns ``(pieces, owner)``: owner[k] is the position of the polygon that piece k came from.
    The parts of a multipolygon are taken apart first; a piece is then cut in half across the
    longer side of its bounding box, recursively; the halves of a polygon partition it exactly
    (GEOS overlay with an axis-parallel box).
    """
    pieces, owner, _ = _split(_values(geoms), max_vertices)
    return pieces, owner


def _split(geoms: np.ndarray, max_vertices: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`split_large` plus, per piece, the polygon (part) it was cut from."""
    n = shapely.get_num_coordinates(geoms)
    multi = (n > max_vertices) & (shapely.get_num_geometries(geoms) > 1)
    if multi.any():  # cut the parts of a large multipolygon, not the whole of it
        parts, idx = shapely.get_parts(geoms[multi], return_index=True)
        pieces = np.concatenate([geoms[~multi], parts])
        owner = np.concatenate([np.flatnonzero(~multi), np.flatnonzero(multi)[idx]])
    else:
        pieces, owner = geoms, np.arange(len(geoms))
    parent = np.arange(len(pieces))
    whole = pieces
    out_p, out_o, out_w = [], [], []
    for depth in range(MAX_DEPTH + 1):
        n = shapely.get_num_coordinates(pieces)
        big = (n > max_vertices) & (depth < MAX_DEPTH)
        out_p.append(pieces[~big])
        out_o.append(owner[~big])
        out_w.append(parent[~big])
        if not big.any():
            break
        b, o, w = pieces[big], owner[big], parent[big]
        x0, y0, x1, y1 = shapely.bounds(b).T
        wide = (x1 - x0) >= (y1 - y0)
        xm, ym = (x0 + x1) / 2, (y0 + y1) / 2
        pad = np.maximum(x1 - x0, y1 - y0)  # boxes reach past the bounds: no edge lies on them
        lo = shapely.box(x0 - pad, y0 - pad, np.where(wide, xm, x1 + pad), np.where(wide, y1 + pad, ym))
        hi = shapely.box(np.where(wide, xm, x0 - pad), np.where(wide, y0 - pad, ym), x1 + pad, y1 + pad)
        halves = np.concatenate([shapely.intersection(b, lo), shapely.intersection(b, hi)])
        ho, hw = np.concatenate([o, o]), np.concatenate([w, w])
        keep = ~shapely.is_empty(halves) & (shapely.area(halves) > 0)
        pieces, owner, parent = halves[keep], ho[keep], hw[keep]
    return np.concatenate(out_p), np.concatenate(out_o), whole[np.concatenate(out_w)]


def _check(op, *arrays, names=("left", "right"), ids=None):
    try:
        return op(*arrays)
    except GEOSException as exc:
        for name, arr, id_ in zip(names, arrays, ids or (None, None)):
            bad = np.flatnonzero(~shapely.is_valid(arr))
            if len(bad):
                names_ = np.arange(len(arr)) if id_ is None else np.asarray(id_)
                which = names_[bad[0]]
                n_bad = len(set(names_[bad].tolist())) if id_ is not None else len(bad)
                raise OverlayError("land.error.invalid_geometry", layer=Phrase(f"land.error.side.{name}"),
                                   feature=which, n=n_bad,
                                   reason=geometry_problem(shapely.is_valid_reason(arr[bad[0]]))) from exc
        raise


def intersect(left, right, *, max_vertices: int = MAX_VERTICES, right_pieces=None, tree=None,
              left_ids=None, right_ids=None, crs=None, left_area=None, right_area=None) -> Overlay:
    """All polygonal intersections between ``left`` and ``right`` (arrays in one projected CRS).

    ``right`` is the side with the large polygons (control lines, zones); ``left`` the many small
    ones (parcels). ``right_pieces`` may pass a cached ``split_large(right)`` and ``tree`` a cached
    ``STRtree(left)`` (or a function returning one). ``left_ids`` and ``right_ids`` name features
    in error messages. ``crs``: the CRS of both arrays; given, areas are ellipsoidal (see the module
    docstring), with ``left_area``/``right_area`` (recorded areas per input feature, NaN where
    unknown) used for whole features and to scale the pieces of a left feature.
    """
    L, R = _values(left), _values(right)
    empty = Overlay(*(np.zeros(0, dtype=t) for t in (np.int64, np.int64, object, float, bool, bool)))
    if len(L) == 0 or len(R) == 0:
        return empty
    if right_pieces is not None:
        pieces, owner = right_pieces
        parent = R[owner]
    else:
        pieces, owner, parent = _split(R, max_vertices)
    shapely.prepare(pieces)
    tree = tree() if callable(tree) else (tree if tree is not None else shapely.STRtree(L))
    piece_ids = None if right_ids is None else np.asarray(right_ids)[owner]
    p, i = _check(lambda r, _l: tree.query(r, predicate="intersects"), pieces, L, names=("right", "left"),
                  ids=(piece_ids, left_ids))
    if len(i) == 0:
        return empty
    cov = _check(shapely.covers, pieces[p], L[i], names=("right", "left"),
                 ids=(None if piece_ids is None else piece_ids[p], None if left_ids is None else np.asarray(left_ids)[i]))
    j = owner[p]
    key = i.astype(np.int64) * len(R) + j
    order = np.argsort(key, kind="stable")
    key, i, j, p, cov = key[order], i[order], j[order], p[order], cov[order]
    start = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    counts = np.diff(np.r_[start, len(key)])
    pair = np.repeat(np.arange(len(start)), counts)  # entry → pair
    pi, pj = i[start], j[start]
    inside = np.logical_or.reduceat(cov, start)  # a piece covers the parcel: the owner does
    # a parcel across the cut between two pieces: test the polygon the pieces came from (prepared)
    cut = np.flatnonzero(~inside & (counts > 1))
    if len(cut):
        e = start[cut]
        par = parent[p[e]]
        split_par = ~np.array([a is b for a, b in zip(par, pieces[p[e]])], dtype=bool)
        if split_par.any():
            shapely.prepare(par[split_par])
            inside[cut[split_par]] = shapely.covers(par[split_par], L[i[e[split_par]]])
    area = np.zeros(len(start))
    geom = np.empty(len(start), dtype=object)
    geom[inside] = L[pi[inside]]
    area[inside] = shapely.area(geom[inside])
    edge = np.flatnonzero(~inside[pair])  # entries of pairs on a boundary
    if len(edge):  # drop mere contacts first (neighbours of a coverage): RelateNG on the prepared pieces
        edge = edge[shapely.relate_pattern(pieces[p[edge]], L[i[edge]], "T********")]
    if len(edge):
        parts = _check(shapely.intersection, L[i[edge]], pieces[p[edge]], names=("left", "right"),
                       ids=(None if left_ids is None else np.asarray(left_ids)[i[edge]],
                            None if piece_ids is None else piece_ids[p[edge]]))
        parts = _polygonal(parts)
        part_area = shapely.area(parts)
        np.add.at(area, pair[edge], part_area)
        n_parts = np.bincount(pair[edge], weights=part_area > 0, minlength=len(start))
        first = np.full(len(start), -1)
        nz = part_area > 0
        first[pair[edge][nz][::-1]] = np.flatnonzero(nz)[::-1]
        one = ~inside & (n_parts == 1)
        geom[one] = parts[first[one]]
        # a parcel straddling the cut between two pieces of the same polygon, wholly inside it
        la = shapely.area(L[pi])
        whole = ~inside & (n_parts > 1) & (np.abs(area - la) <= 1e-9 * la)
        geom[whole] = L[pi[whole]]
        inside |= whole
        rest = np.flatnonzero(~inside & (n_parts > 1))
        if len(rest):
            ep = pair[edge]
            o = np.argsort(ep, kind="stable")
            ep_sorted, parts_sorted, nz_sorted = ep[o], parts[o], nz[o]
            lo = np.searchsorted(ep_sorted, rest, side="left")
            hi = np.searchsorted(ep_sorted, rest, side="right")
            for m, a, b in zip(rest, lo, hi):
                geom[m] = shapely.union_all(parts_sorted[a:b][nz_sorted[a:b]])
        geom[~inside & (n_parts == 0)] = shapely.Polygon()
    # the reverse (a small right polygon inside a parcel): test only where the bounds allow it
    contains = np.zeros(len(start), dtype=bool)
    lb, rb = shapely.bounds(L[pi]), shapely.bounds(R[pj])
    maybe = ~inside & np.all(lb[:, :2] <= rb[:, :2], axis=1) & np.all(lb[:, 2:] >= rb[:, 2:], axis=1)
    if maybe.any():
        contains[maybe] = shapely.covers(L[pi[maybe]], R[pj[maybe]])
        geom[contains] = R[pj[contains]]
        area[contains] = shapely.area(geom[contains])
    keep = area > 0
    ov = Overlay(pi[keep], pj[keep], geom[keep], area[keep], inside[keep], contains[keep])
    return ov if crs is None else _ellipsoidal(ov, L, crs, left_area, right_area)


def _recorded(values, n: int) -> np.ndarray | None:
    if values is None:
        return None
    a = np.asarray(values, dtype=float)
    if len(a) != n:
        raise ValueError(f"recorded areas: {len(a)} values for {n} features")
    return np.where(np.isfinite(a) & (a > 0), a, np.nan)


def _ellipsoidal(ov: Overlay, L: np.ndarray, crs, left_area=None, right_area=None) -> Overlay:
    """``ov`` with ellipsoidal areas: recorded areas for whole features, pieces of a left feature
    scaled so that they add up to its recorded area (面积平差)."""
    area = ellipsoidal_area(ov.geometry, crs)
    la = _recorded(left_area, len(L))
    if right_area is not None:
        ra = np.asarray(right_area, dtype=float)
        ra = np.where(np.isfinite(ra) & (ra > 0), ra, np.nan)
        k = ov.contains & ~ov.inside & np.isfinite(ra[ov.right])
        area[k] = ra[ov.right[k]]
    if la is not None and len(ov):
        rec = la[ov.left]
        k = ov.inside & np.isfinite(rec)
        area[k] = rec[k]
        part = np.flatnonzero(~ov.inside & ~ov.contains & np.isfinite(rec))
        if len(part):
            whole = ellipsoidal_area(L[ov.left[part]], crs)
            factor = rec[part] / np.where(whole > 0, whole, np.nan)
            ok = np.abs(factor - 1) <= ADJUST_MAX_REL
            area[part[ok]] *= factor[ok]
    return Overlay(ov.left, ov.right, ov.geometry, area, ov.inside, ov.contains)


def intersect_any(a, b, *, a_ids=None, b_ids=None, max_vertices: int = MAX_VERTICES,
                  a_tree=None, b_tree=None, crs=None, a_area=None, b_area=None) -> Overlay:
    """:func:`intersect` with the sides chosen for speed; ``left``/``right`` index ``a``/``b``.

    The side whose polygons have more vertices on average is prepared and cut into pieces, the
    other is put in the tree (as it would be for parcels against control lines). ``a_tree`` and
    ``b_tree`` may pass cached trees (or functions returning them) of either side. ``crs``, ``a_area``
    and ``b_area``: ellipsoidal areas, as in :func:`intersect` (recorded areas of either side).
    """
    A, B = _values(a), _values(b)
    if len(A) == 0 or len(B) == 0:
        return intersect(A, B)
    va = shapely.get_num_coordinates(A).mean()
    vb = shapely.get_num_coordinates(B).mean()
    if vb >= va:
        return intersect(A, B, max_vertices=max_vertices, left_ids=a_ids, right_ids=b_ids, tree=a_tree,
                         crs=crs, left_area=a_area, right_area=b_area)
    ov = intersect(B, A, max_vertices=max_vertices, left_ids=b_ids, right_ids=a_ids, tree=b_tree,
                   crs=crs, left_area=b_area, right_area=a_area)
    return Overlay(ov.right, ov.left, ov.geometry, ov.area, ov.contains, ov.inside)


def subtract(left, ov: Overlay) -> np.ndarray:
    """``left`` minus everything the overlay found in it (one geometry per left entry).

    Left geometries untouched by the overlay come back as they are, those inside a right polygon
    come back empty, and boundary cases get one GEOS difference with the union of their parts.
    """
    L = _values(left)
    out = L.copy()
    if len(ov) == 0:
        return out
    gone = np.zeros(len(L), dtype=bool)
    gone[ov.left[ov.inside]] = True
    partial = ~ov.inside
    if partial.any():
        li, g = ov.left[partial], ov.geometry[partial]
        order = np.argsort(li, kind="stable")
        li, g = li[order], g[order]
        uniq, starts, counts = np.unique(li, return_index=True, return_counts=True)
        cut = np.empty(len(uniq), dtype=object)
        one = counts == 1
        cut[one] = g[starts[one]]
        for u in np.flatnonzero(~one):
            cut[u] = shapely.union_all(g[starts[u]:starts[u] + counts[u]])
        out[uniq] = _polygonal(shapely.difference(L[uniq], cut))
    out[gone] = shapely.Polygon()
    return out


def overlay(left: gpd.GeoDataFrame, right: gpd.GeoDataFrame, *, epsg: int | None = None,
            left_columns: list[str] | None = None, right_columns: list[str] | None = None,
            suffixes: tuple[str, str] = ("_1", "_2"), max_vertices: int = MAX_VERTICES,
            storage: bool = False, left_area=None) -> gpd.GeoDataFrame:
    """``geopandas.overlay(left, right, how="intersection")`` with an ``area_m2`` column: the
    ellipsoidal CGCS2000 area of each piece (``left_area``: recorded areas of ``left``, e.g. its
    TBMJ, used for whole parcels and to scale the pieces of a cut one; see :func:`intersect`).

    Both frames are projected to ``epsg`` (default: the GK zone of ``left``); the result is in
    that CRS, or in EPSG:4490 when ``storage``. Attribute columns (all by default) keep their
    names, with ``suffixes`` where both sides have the same name.
    """
    epsg = epsg or compute_epsg(left)
    lp, rp = project(left, epsg), project(right, epsg)
    ov = intersect(lp.geometry.to_numpy(), rp.geometry.to_numpy(), max_vertices=max_vertices,
                   left_ids=lp.index.to_numpy(), right_ids=rp.index.to_numpy(), crs=epsg,
                   left_area=left_area)
    lcols = [c for c in (left_columns if left_columns is not None else lp.columns) if c != lp.geometry.name]
    rcols = [c for c in (right_columns if right_columns is not None else rp.columns) if c != rp.geometry.name]
    a = lp[lcols].iloc[ov.left].reset_index(drop=True)
    b = rp[rcols].iloc[ov.right].reset_index(drop=True)
    both = set(a.columns) & set(b.columns)
    a = a.rename(columns={c: f"{c}{suffixes[0]}" for c in both})
    b = b.rename(columns={c: f"{c}{suffixes[1]}" for c in both})
    out = gpd.GeoDataFrame(pd.concat([a, b], axis=1), geometry=ov.geometry, crs=epsg)
    out["area_m2"] = ov.area
    return to_storage(out) if storage else out


def clip_union(left, right, *, tree=None, right_pieces=None, crs=None,
               left_area=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per left geometry: the part of it covered by the union of ``right``, its area, and whether
    that part is the whole left geometry. Overlapping right features are counted once (the parts
    of one left geometry are unioned), without ever building the union of ``right``. ``crs`` and
    ``left_area``: ellipsoidal areas as in :func:`intersect`."""
    L = _values(left)
    geom = np.full(len(L), None, dtype=object)
    area = np.zeros(len(L))
    whole = np.zeros(len(L), dtype=bool)
    ov = intersect(L, right, tree=tree, right_pieces=right_pieces, crs=crs, left_area=left_area)
    if len(ov) == 0:
        geom[:] = shapely.Polygon()
        return geom, area, whole
    whole[ov.left[ov.inside]] = True
    geom[whole] = L[whole]
    area[ov.left[ov.inside]] = ov.area[ov.inside]
    rest = ~whole[ov.left]
    li, g, a = ov.left[rest], ov.geometry[rest], ov.area[rest]
    order = np.argsort(li, kind="stable")
    li, g, a = li[order], g[order], a[order]
    uniq, starts, counts = np.unique(li, return_index=True, return_counts=True)
    one = counts == 1
    geom[uniq[one]] = g[starts[one]]
    area[uniq[one]] = a[starts[one]]
    for u, s0, c in zip(uniq[~one], starts[~one], counts[~one]):
        geom[u] = shapely.union_all(g[s0:s0 + c])
    multi = uniq[~one]
    if len(multi):  # the union of several pieces: its own area (ellipsoidal, scaled as its pieces were)
        if crs is None:
            area[multi] = shapely.area(geom[multi])
        else:
            area[multi] = ellipsoidal_area(geom[multi], crs)
            rec = _recorded(left_area, len(L))
            if rec is not None:
                f = rec[multi] / ellipsoidal_area(L[multi], crs)
                ok = np.isfinite(f) & (np.abs(f - 1) <= ADJUST_MAX_REL)
                area[multi[ok]] *= f[ok]
    geom[shapely.is_missing(geom)] = shapely.Polygon()
    return geom, area, whole


def disjoint(geoms) -> np.ndarray:
    """The same area as ``geoms`` with no two geometries overlapping: features whose interiors
    intersect are merged (by connected group); all others come back as they are."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    G = _values(geoms)
    G = G[~shapely.is_empty(G) & ~shapely.is_missing(G)]
    if len(G) < 2:
        return G
    a, b = shapely.STRtree(G).query(G, predicate="intersects")
    k = a < b
    a, b = a[k], b[k]
    over = shapely.relate_pattern(G[a], G[b], "T********")  # interiors intersect
    if over.any():  # ... by more than the rounding of an overlay (a partition's pieces touch, not overlap)
        k = np.flatnonzero(over)
        tol = np.maximum(1e-6, 1e-9 * np.minimum(shapely.area(G[a[k]]), shapely.area(G[b[k]])))
        over[k] = shapely.area(shapely.intersection(G[a[k]], G[b[k]])) > tol
    if not over.any():
        return G
    n = len(G)
    m = coo_matrix((np.ones(int(over.sum())), (a[over], b[over])), shape=(n, n))
    _, lab = connected_components(m, directed=False)
    sizes = np.bincount(lab)
    single = sizes[lab] == 1
    merged = [union(G[lab == c]) for c in np.flatnonzero(sizes > 1)]
    return np.concatenate([G[single], np.array(merged, dtype=object)])


def _shared_segment_pairs(G: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pairs of polygons with an identical boundary segment (the edges of a clean coverage)."""
    rings, ring_owner = shapely.get_rings(G, return_index=True)
    xy, ci = shapely.get_coordinates(rings, return_index=True)
    same = ci[1:] == ci[:-1]
    p, q = xy[:-1][same], xy[1:][same]
    owner = ring_owner[ci[:-1][same]]
    swap = (p[:, 0] > q[:, 0]) | ((p[:, 0] == q[:, 0]) & (p[:, 1] > q[:, 1]))
    seg = np.ascontiguousarray(np.where(swap[:, None], np.c_[q, p], np.c_[p, q]))
    _, inv = np.unique(seg.view(np.dtype((np.void, seg.dtype.itemsize * 4))).ravel(), return_inverse=True)
    order = np.argsort(inv, kind="stable")
    inv_s, own_s = inv[order], owner[order]
    nxt = inv_s[1:] == inv_s[:-1]  # consecutive entries of one segment
    a, b = own_s[:-1][nxt], own_s[1:][nxt]
    k = a != b
    return a[k], b[k]


def components(geoms, *, distance: float = 0.0) -> np.ndarray:
    """Connected groups of polygons: a label per geometry (0..k-1, in order of first appearance).

    ``distance`` = 0: two polygons are linked when they share a stretch of boundary (a corner
    contact is no link) or overlap; > 0: when they come within ``distance`` of each other.
    Shared edges of a clean coverage are found by hashing identical segments; GEOS ``relate``
    decides only the candidate pairs still in different groups after that (corner contacts,
    T-junctions, misaligned edges).
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    G = _values(geoms)
    n = len(G)
    if n == 0:
        return np.zeros(0, dtype=np.int64)

    def label(a, b):
        m = coo_matrix((np.ones(len(a)), (a, b)), shape=(n, n))
        return connected_components(m, directed=False)[1]

    tree = shapely.STRtree(G)
    if distance > 0:
        a, b = tree.query(G, predicate="dwithin", distance=distance)
        lab = label(a, b)
    else:
        sa, sb = _shared_segment_pairs(G)
        lab = label(sa, sb)
        a, b = tree.query(G, predicate="intersects")
        k = (a < b) & (lab[a] != lab[b])
        a, b = a[k], b[k]
        if len(a):
            de9im = np.char.ljust(shapely.relate(G[a], G[b]).astype(str), 9).view("U1").reshape(-1, 9)
            linked = (de9im[:, 0] != "F") | (de9im[:, 4] == "1")  # interiors meet, or boundaries share a line
            lab = label(np.r_[sa, a[linked]], np.r_[sb, b[linked]])
    _, first = np.unique(lab, return_index=True)
    order = np.argsort(np.argsort(first))  # relabel in order of first appearance (stable ids)
    return order[lab]


def to_storage(frame: gpd.GeoDataFrame, crs=STORAGE_EPSG) -> gpd.GeoDataFrame:
    """``frame`` in EPSG:4490 (or ``crs``) with every polygon valid.

    Reprojection moves vertices by a rounding error; a ring of an overlay result that was only
    just valid in metres (a collapsed sliver hole, two touching rings) can become invalid in
    degrees. Those few are repaired with ``make_valid`` keeping the polygonal parts (zero area).
    """
    out = frame.to_crs(crs)
    geoms = out.geometry.to_numpy()
    bad = np.flatnonzero(~shapely.is_valid(geoms) & ~shapely.is_missing(geoms))
    if len(bad):
        geoms = geoms.copy()
        # buffer(0) repairs these (touching rings, collapsed slivers) many times faster than make_valid on
        # county-size multipolygons; where it would change the area (a self-crossing ring) make_valid does it
        fixed = _polygonal(shapely.buffer(geoms[bad], 0))
        before, after = shapely.area(geoms[bad]), shapely.area(fixed)
        off = np.flatnonzero(~shapely.is_valid(fixed) | (np.abs(after - before) > 1e-9 * np.maximum(before, 1e-12)))
        if len(off):
            fixed[off] = _polygonal(shapely.make_valid(geoms[bad][off]))
        geoms[bad] = fixed
        out = out.set_geometry(gpd.GeoSeries(geoms, index=out.index, crs=out.crs))
    return out
