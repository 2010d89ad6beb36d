"""Partitions and containment: overlaps and gaps in townships, villages and land parcels,
features outside their parent (township outside the county, village outside its township,
parcel outside every village), parcels crossing two villages, and features whose
``village_code``/``township_code`` names another unit than the one they lie in.

Topology is computed on the stored coordinates (EPSG:4490, whose straight edges are what every
GIS draws); only the resulting pieces are measured, in m² in the county's GK zone. Reprojecting
first would bend long straight edges and make slivers of shared boundaries. A piece counts when
its area exceeds the tolerance *and* its mean width (2·area/perimeter) exceeds
``validate.sliver_width_m``: long hair-thin slivers of digitising noise are not findings.

Overlaps are found without testing every pair of neighbours: GEOS's coverage validator
(``shapely.coverage_invalid_edges``, linear in the number of edges) marks the polygons whose
edges do not match their neighbours', and only those are intersected with what they touch. A
clean coverage is unioned with ``shapely.coverage_union_all``; gaps are the parent's area not
covered by the union. Land parcels are checked per survey epoch (a workspace may hold several).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely
from shapely.errors import GEOSException

from pianqu.validate._common import Context, LayerData

PARTITIONS = (("township", "county"), ("village", "township"), ("landuse", "village"))
POINT_LAYERS = ("settlement", "facility")
NEAR_DEG = 1e-7  # ≈ 1 cm: a feature this close to a gap borders it
MATCH_EPS_DEG = 1e-8  # ≈ 1 mm: a vertex this close to a straight edge lies on it (matched_vertices); a
# straight edge of the GK zone reprojected to degrees bows by ~0.1 mm over 100 m
METRES_PER_DEGREE = 111_320.0  # of latitude; a longitude degree is shorter, so this errs small


def _safe(op, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """A vectorised set operation that falls back pair by pair on GEOS robustness errors."""
    try:
        return op(a, b)
    except GEOSException:
        out = np.empty(len(a), dtype=object)
        for k, (x, y) in enumerate(zip(a, b)):
            try:
                out[k] = op(x, y)
            except GEOSException:
                out[k] = op(shapely.buffer(x, 0), shapely.buffer(y, 0))
        return out


def _significant(ctx: Context, pieces: np.ndarray, tol_m2: float) -> tuple[np.ndarray, np.ndarray]:
    """(mask of pieces that are findings, their areas in m²)."""
    area, width = ctx.measure(pieces)
    return (area > tol_m2) & (width > float(ctx.config["validate.sliver_width_m"])), area


def matched_vertices(geoms: np.ndarray, eps: float = MATCH_EPS_DEG) -> np.ndarray:
    """The polygons without the vertices that only they carry and that lie on a straight edge
    (within ``eps`` degrees of the chord between the vertices kept on either side).

    Real deliveries often digitise a shared boundary with extra vertices on one side only; the
    edges then do not match and the set is no coverage for GEOS, although the polygons meet
    exactly. Removing those vertices moves no boundary by more than ``eps`` (≈ 1 mm, far below
    ``validate.sliver_width_m``), so no overlap or gap that is a finding appears or disappears;
    vertices another polygon carries (corners, T-junctions) are always kept. Other geometry
    types are returned as they are."""
    out = geoms.copy()
    poly = np.flatnonzero(shapely.get_type_id(geoms) == 3)
    if len(poly) == 0:
        return out
    rings, ring_poly = shapely.get_rings(geoms[poly], return_index=True)
    xy, ring = shapely.get_coordinates(rings, return_index=True)
    xy = np.round(xy / eps) * eps  # the same point computed twice (ulps apart) becomes one coordinate
    n_ring = np.bincount(ring, minlength=len(rings))
    end = np.cumsum(n_ring) - 1
    start = end - n_ring + 1
    last = np.zeros(len(xy), dtype=bool)
    last[end] = True  # the closing vertex repeats the first
    # how many rings carry each coordinate (a ring's closing vertex not counted): the grid
    # indices packed into one integer and hashed
    gx = np.rint(xy[:, 0] / eps)
    gy = np.rint(xy[:, 1] / eps)
    gx -= gx.min()
    gy -= gy.min()
    if gx.max() < 2**32 and gy.max() < 2**32:
        key = (gx.astype(np.uint64) << np.uint64(32)) | gy.astype(np.uint64)
    else:  # wider than 40° at 1 mm: a slower exact key
        key = pd.MultiIndex.from_arrays([gx, gy]).to_numpy()
    codes, _ = pd.factorize(key[~last])
    cnt = np.bincount(codes)
    single = np.zeros(len(xy), dtype=bool)
    single[np.flatnonzero(~last)] = cnt[codes] == 1
    # local straightness: distance of each vertex to the chord of its ring neighbours
    k = np.arange(len(xy))
    nprev = np.where(k == start[ring], end[ring] - 1, k - 1)
    nnext = k + 1
    nnext[last] = k[last]
    ax, ay = xy[nprev, 0], xy[nprev, 1]
    bx, by = xy[np.minimum(nnext, len(xy) - 1), 0], xy[np.minimum(nnext, len(xy) - 1), 1]
    chord = np.hypot(bx - ax, by - ay)
    dist = np.abs((bx - ax) * (xy[:, 1] - ay) - (by - ay) * (xy[:, 0] - ax)) / np.maximum(chord, 1e-300)
    drop = single & (dist <= eps) & ~last & (k != start[ring]) & (chord > 0)
    if not drop.any():
        return out
    # a run of dropped vertices must lie within eps of the chord between the vertices kept around it
    kept_before = np.maximum.accumulate(np.where(~drop, k, -1))
    kept_after = np.minimum.accumulate(np.where(~drop, k, len(xy))[::-1])[::-1]
    d = np.flatnonzero(drop)
    pa, pb = xy[kept_before[d]], xy[kept_after[d]]
    c = np.hypot(pb[:, 0] - pa[:, 0], pb[:, 1] - pa[:, 1])
    dev = np.abs((pb[:, 0] - pa[:, 0]) * (xy[d, 1] - pa[:, 1]) - (pb[:, 1] - pa[:, 1]) * (xy[d, 0] - pa[:, 0])) \
        / np.maximum(c, 1e-300)
    bad_run = pd.Series(dev > eps).groupby(kept_before[d]).transform("any").to_numpy()
    drop[d[bad_run]] = False
    keep = ~drop
    kept_n = np.bincount(ring[keep], minlength=len(rings))
    keep |= (kept_n < 4)[ring]  # a ring that would collapse is kept whole
    new_rings = shapely.linearrings(xy[keep], indices=ring[keep])
    polys = shapely.polygons(new_rings, indices=ring_poly)
    ok = shapely.is_valid(polys)  # rounding may pinch a ring: that polygon stays as it was
    out[poly[ok]] = polys[ok]
    return out


def _insert_junctions(geoms: np.ndarray, dirty: np.ndarray, edges: np.ndarray, eps: float) -> np.ndarray:
    """The ``dirty`` polygons (indices) with the vertices of the other polygons' unmatched edges
    that lie on their edges (within ``eps``) inserted: the corners of a neighbour split into two
    (T-junctions) that a straight edge on the other side lacks."""
    xy, own = shapely.get_coordinates(edges, return_index=True)
    if len(xy) == 0:
        return geoms
    pts = shapely.points(xy)
    gi, qi = shapely.STRtree(pts).query(geoms[dirty], predicate="dwithin", distance=2 * eps)
    other = own[qi] != gi
    gi, qi = gi[other], qi[other]
    if len(gi) == 0:
        return geoms
    order = np.argsort(gi, kind="stable")
    gi, qi = gi[order], qi[order]
    uniq, inv = np.unique(gi, return_inverse=True)
    snapped = shapely.snap(geoms[dirty[uniq]], shapely.multipoints(pts[qi], indices=inv), eps)
    ok = shapely.is_valid(snapped) & (shapely.get_type_id(snapped) == shapely.get_type_id(geoms[dirty[uniq]]))
    out = geoms.copy()
    out[dirty[uniq[ok]]] = snapped[ok]
    return out


def matched_coverage(geoms: np.ndarray, eps: float = MATCH_EPS_DEG, rounds: int = 3,
                     prior: "MatchState | None" = None, same: tuple[np.ndarray, np.ndarray] | None = None
                     ) -> "MatchState":
    """Polygons whose shared edges carry the same vertices where they meet within ``eps``
    (:func:`matched_vertices`, then neighbours' corners inserted into straight edges), and the
    mask of polygons that still have unmatched edges (overlaps, gaps, or edges further apart than
    ``eps``: these are checked exactly). Nothing moves by more than ``eps`` (≈ 1 mm).

    ``prior`` and ``same`` (indices here, indices in the prior set) reuse the work done on another
    set sharing most polygons (the base epoch for a later one): only the polygons that are new and
    their neighbours are examined again."""
    n = len(geoms)
    tree = shapely.STRtree(geoms)
    if prior is not None and same is not None and len(same[0]):
        fresh = np.setdiff1d(np.arange(n), same[0])
        around = np.unique(np.r_[fresh, tree.query(geoms[fresh], predicate="intersects")[1]]) if len(fresh) \
            else fresh
        orig = np.zeros(n, dtype=bool)
        orig[same[0]] = prior.orig_dirty[same[1]]
    else:
        fresh = around = np.arange(n)
        orig = np.zeros(n, dtype=bool)
    try:
        if len(around):
            edges = shapely.coverage_invalid_edges(geoms[around])
            orig[around] |= ~shapely.is_empty(edges) & ~shapely.is_missing(edges)
    except GEOSException:
        return MatchState(geoms, np.ones(n, dtype=bool), np.ones(n, dtype=bool))
    if not orig.any():  # a clean coverage as it is
        return MatchState(geoms, orig, orig)
    if prior is not None and same is not None and len(same[0]) and not (prior.matched is prior.geoms):
        m = geoms.copy()
        m[same[0]] = prior.matched[same[1]]
        dirty = np.zeros(n, dtype=bool)
        dirty[same[0]] = prior.dirty[same[1]]
        if len(fresh):
            m[fresh] = matched_vertices(geoms[around], eps)[np.searchsorted(around, fresh)]
        check = around
    else:
        m = matched_vertices(geoms, eps)
        dirty = np.zeros(n, dtype=bool)
        check = np.arange(n)
    for k in range(rounds + 1):
        if len(check) == 0:
            break
        try:  # polygons away from the changed ones keep their verdict: only those and their neighbours
            edges = shapely.coverage_invalid_edges(m[check])  # are checked again
        except GEOSException:
            return MatchState(geoms, orig, np.ones(n, dtype=bool))
        dirty[check] = ~shapely.is_empty(edges) & ~shapely.is_missing(edges)
        if not dirty[check].any() or k == rounds:
            break
        changed = check[dirty[check]]
        m = _insert_junctions(m, changed, edges[dirty[check]], eps)
        _, near = tree.query(m[changed], predicate="intersects")
        check = np.unique(np.r_[changed, near])
    return MatchState(m, orig, dirty, geoms)


@dataclass
class MatchState:
    """What :func:`matched_coverage` found: the matched polygons, which polygons have unmatched
    edges as stored (``orig_dirty``) and after matching (``dirty``), and the stored polygons."""

    matched: np.ndarray
    orig_dirty: np.ndarray
    dirty: np.ndarray
    geoms: np.ndarray | None = None

    def __post_init__(self):
        if self.geoms is None:
            self.geoms = self.matched


def find_overlaps(ctx: Context, geoms: np.ndarray, tol_m2: float, matched: np.ndarray | None = None):
    """Pairs (i, j), intersection pieces and areas (m²) of polygons overlapping beyond the
    tolerances; and whether the set is a clean coverage (edges match exactly). ``matched``:
    the mask of polygons with unmatched edges from :func:`matched_coverage` (the candidates;
    the intersections are computed on ``geoms`` as they are); else found here."""
    n = len(geoms)
    if matched is not None:
        cand = np.flatnonzero(matched)
    else:
        try:
            edges = shapely.coverage_invalid_edges(geoms)
            cand = np.nonzero(~shapely.is_empty(edges) & ~shapely.is_missing(edges))[0]
        except GEOSException:
            cand = np.arange(n)
    empty = (np.empty(0, int), np.empty(0, int), np.empty(0, dtype=object), np.empty(0))
    if len(cand) == 0:
        return (*empty, True)
    a, b = shapely.STRtree(geoms).query(geoms[cand], predicate="intersects")
    i, j = cand[a], b
    keep = i != j
    pairs = np.unique(np.sort(np.c_[i[keep], j[keep]], axis=1), axis=0)
    if len(pairs) == 0:
        return (*empty, False)
    pieces = _safe(shapely.intersection, geoms[pairs[:, 0]], geoms[pairs[:, 1]])
    big, area = _significant(ctx, pieces, tol_m2)
    return pairs[big, 0], pairs[big, 1], pieces[big], area[big], False


def union(geoms: np.ndarray, clean: bool, dirty: np.ndarray | None = None):
    """The union of a coverage: a coverage union when clean; with ``dirty`` (the polygons with
    unmatched edges) the clean ones by a coverage union, then GEOS's union with the others."""
    if clean:
        try:
            return shapely.coverage_union_all(geoms)
        except GEOSException:
            pass
    if dirty is not None and (~dirty).sum() > 1:
        try:
            part = shapely.coverage_union_all(geoms[~dirty])
            return shapely.union_all(np.r_[np.array([part], dtype=object), geoms[dirty]])
        except GEOSException:
            pass
    return shapely.union_all(geoms)


def gap_pieces(merged, extent) -> np.ndarray:
    """Candidate gaps: the extent not covered by the union, or the union's holes without extent."""
    if extent is not None:
        parts = shapely.get_parts(shapely.difference(extent, merged))
    else:
        polys = shapely.get_parts(merged)
        rings = [shapely.get_interior_ring(p, k) for p in polys
                 for k in range(shapely.get_num_interior_rings(p))]
        parts = shapely.polygons(rings) if rings else np.empty(0, dtype=object)
    return parts[shapely.get_type_id(parts) == 3] if len(parts) else parts


def _gaps_around(geoms: np.ndarray, dirty: np.ndarray, extent, min_m2: float = 0.0) -> np.ndarray:
    """:func:`gap_pieces` of ``geoms`` in ``extent`` when a few polygons (``dirty``) do not fit the
    coverage: the extent less the coverage union of the others, each of its parts less the dirty
    polygons touching it (the same pieces as from the union of all, without a county-size
    GEOS union). Parts whose area cannot exceed ``min_m2`` (a piece of a part is never larger
    than the part) are left out: hair-thin slivers along shared edges are most of them."""
    try:
        clean_union = shapely.coverage_union_all(geoms[~dirty])
    except GEOSException:
        return gap_pieces(shapely.union_all(geoms), extent)
    holes = shapely.get_parts(shapely.difference(extent, clean_union))
    holes = holes[shapely.get_type_id(holes) == 3]
    if min_m2 > 0 and len(holes):  # an upper bound of the area in m² (a degree is < 111.7 km)
        holes = holes[shapely.area(holes) * 111_700.0 ** 2 > min_m2]
    if len(holes) == 0:
        return holes
    bad = geoms[dirty]
    hi, bi = shapely.STRtree(bad).query(holes, predicate="intersects")
    out = list(holes[np.setdiff1d(np.arange(len(holes)), hi)])
    n_hit = np.bincount(hi, minlength=len(holes))
    one = n_hit[hi] == 1  # most holes hold one dirty polygon: one vectorised difference
    if one.any():
        rest = _safe(shapely.difference, holes[hi[one]], bad[bi[one]])
        parts = shapely.get_parts(rest)
        out.extend(parts[shapely.get_type_id(parts) == 3])
    for h in np.unique(hi[~one]):
        rest = _safe(shapely.difference, np.array([holes[h]], dtype=object),
                     np.array([shapely.union_all(bad[bi[hi == h]])], dtype=object))[0]
        out.extend(p for p in shapely.get_parts(rest) if shapely.get_type_id(p) == 3)
    return np.asarray(out, dtype=object)


def _exact_gaps(cands: np.ndarray, geoms: np.ndarray, extent) -> np.ndarray:
    """Each candidate gap found on the matched polygons, cut again from the stored ones: the part
    of a window around it (the candidate grown by 3 ``MATCH_EPS_DEG``, within ``extent``)
    that no stored polygon covers, its largest piece meeting the candidate."""
    if len(cands) == 0:
        return cands
    tree = shapely.STRtree(geoms)
    win = shapely.buffer(cands, 3 * MATCH_EPS_DEG, quad_segs=2)
    out = []
    for c, w in zip(cands, win):
        if extent is not None:
            w = _safe(shapely.intersection, np.array([w], dtype=object), np.array([extent], dtype=object))[0]
        near = geoms[tree.query(w, predicate="intersects")]
        cover = shapely.union_all(near) if len(near) else shapely.Polygon()
        rest = _safe(shapely.difference, np.array([w], dtype=object), np.array([cover], dtype=object))[0]
        parts = [p for p in shapely.get_parts(rest) if shapely.get_type_id(p) == 3 and p.intersects(c)]
        if parts:
            out.append(max(parts, key=lambda p: p.area))
    return np.asarray(out, dtype=object)


def _groups(data: LayerData) -> list[tuple[int | None, np.ndarray]]:
    """Row groups checked as one partition: parcels per epoch, other layers whole."""
    if data.name == "landuse" and data.has("epoch"):
        epoch = data.col("epoch")
        values = sorted(epoch.dropna().unique())
        if len(values) > 1:  # parcels without an epoch (reported) belong to no group
            return [(int(v), np.nonzero((epoch == v).to_numpy())[0]) for v in values]
        if len(values) == 1:  # one epoch: parcels without one are taken to belong to it
            return [(int(values[0]), np.arange(len(data)))]
    return [(None, np.arange(len(data)))]


def _parent_extent(ctx: Context, parent: str):
    """Union of a fully usable parent layer (cached), or None."""
    key = ("extent", parent)
    if key not in ctx.cache:
        data = ctx.get(parent)
        if data is None or data.geom is None or len(data) == 0 or not data.fully_usable:
            ctx.cache[key] = None
        else:
            geoms = ctx.geo(parent)
            clean = len(geoms) == 1
            if not clean:
                try:
                    clean = bool(shapely.coverage_is_valid(geoms))
                except GEOSException:
                    clean = False
            ctx.cache[key] = union(geoms, clean)
    return ctx.cache[key]


def _where(geom) -> tuple[float, float]:
    pt = shapely.point_on_surface(geom)
    return round(float(pt.x), 5), round(float(pt.y), 5)


def check_partitions(ctx: Context) -> None:
    """Overlaps and gaps in townships, villages and parcels."""
    if ctx.compute_epsg is None:
        return
    over_tol = float(ctx.config["validate.overlap_tolerance_m2"])
    gap_tol = float(ctx.config["validate.gap_tolerance_m2"])
    for name, parent in PARTITIONS:
        data = ctx.get(name)
        if data is None or data.geom is None or len(data) == 0:
            continue
        geo = ctx.geo(name)
        no_epoch = name == "landuse" and data.has("epoch") and bool(data.col("epoch").isna().any())
        groups = _groups(data)
        prev = None  # (ids, geometries, match state) of the previous epoch
        for epoch, rows in groups:
            use = rows[data.usable[rows]]
            if len(use) == 0:
                continue
            geoms = geo[use]
            same = None
            if prev is not None:  # parcels unchanged since the previous epoch: its work is reused
                pos = pd.Series(np.arange(len(prev[0])), index=prev[0])
                pos = pos[~pos.index.duplicated()]
                hit = pd.Series(data.ids[use]).map(pos).to_numpy()
                here = np.flatnonzero(~np.isnan(hit))
                there = hit[here].astype(np.int64)
                eq = shapely.equals_exact(geoms[here], prev[1][there], 0)
                same = (here[eq], there[eq])
            state = matched_coverage(geoms, prior=prev[2] if prev is not None else None, same=same)
            prev = (np.asarray(data.ids[use]), geoms, state)
            matched, dirty = state.matched, state.dirty
            i, j, pieces, area, clean = find_overlaps(ctx, geoms, over_tol, dirty)
            extra = {} if epoch is None else {"epoch": epoch}
            for a, b, piece, ar in zip(i, j, pieces, area):
                first, second = sorted((use[a], use[b]), key=lambda r: (data.ids[r], r))
                lon, lat = _where(piece)
                ctx.add("error", "validate.overlap", name, data.ids[first], "",
                        other=str(data.ids[second]), area_m2=round(float(ar), 2), lon=lon, lat=lat, **extra)
            if len(use) < len(rows) or (no_epoch and len(groups) > 1):
                continue  # an unusable feature or one without epoch (reported) leaves no gap of its own
            extent = _parent_extent(ctx, parent)
            if matched is geoms:  # a clean coverage, or one no matching could help
                parts = gap_pieces(union(geoms, clean), extent)
            else:
                if extent is not None and 0 < dirty.sum() < len(dirty) - 1:
                    parts = _gaps_around(matched, dirty, extent, gap_tol / 2)
                else:
                    parts = gap_pieces(union(matched, False, dirty), extent)
                # the gaps as findings are cut from the stored polygons (the matched ones lack vertices,
                # which would change a gap's ellipsoidal area): each candidate recomputed in a small window
                if len(parts):
                    a, w = ctx.measure(parts)
                    near = (a > gap_tol / 2) & (w > float(ctx.config["validate.sliver_width_m"]) / 2)
                    parts = _exact_gaps(parts[near], geoms, extent)
            if len(parts) == 0:
                continue
            big, area = _significant(ctx, parts, gap_tol)
            tree = shapely.STRtree(geoms)
            for gap, ar in zip(parts[big], area[big]):
                neighbours = _neighbours(gap, geoms, tree, data.ids[use])
                lon, lat = _where(gap)
                ctx.add("error", "validate.gap", name, neighbours[0] if neighbours else "", "",
                        neighbours=", ".join(neighbours), area_m2=round(float(ar), 2), lon=lon, lat=lat,
                        **extra)


def _neighbours(gap, geoms: np.ndarray, tree: shapely.STRtree, ids: np.ndarray) -> list[str]:
    """Ids of the features sharing a stretch of boundary (not just a corner) with a gap."""
    near = np.unique(tree.query(gap, predicate="dwithin", distance=NEAR_DEG))
    if len(near) == 0:
        return []
    shared = shapely.length(shapely.intersection(gap.boundary, shapely.buffer(geoms[near], NEAR_DEG)))
    return sorted({str(ids[k]) for k, length in zip(near, shared) if length > 10 * NEAR_DEG})


def _first_usable_by_code(ctx: Context, name: str) -> dict[str, int]:
    data = ctx.get(name)
    if data is None or data.geom is None or not data.has("code"):
        return {}
    rows = np.nonzero(data.usable & data.ok("code"))[0]
    codes = data.col("code").to_numpy(dtype=object)
    out: dict[str, int] = {}
    for r in rows:
        out.setdefault(str(codes[r]), int(r))
    return out


def check_containment(ctx: Context) -> None:
    """Townships inside the county, villages inside their township (share outside above
    ``validate.village_outside_tolerance``), parcels inside one village."""
    if ctx.compute_epsg is None:
        return
    share_tol = float(ctx.config["validate.village_outside_tolerance"])
    township = ctx.get("township")
    if township is not None and township.geom is not None and ctx.get("county") is not None:
        extent = _parent_extent(ctx, "county")
        if extent is not None:
            rows = np.nonzero(township.usable)[0]
            _outside(ctx, "township", rows, np.full(len(rows), extent, dtype=object),
                     [ctx.county_code or ""] * len(rows), "county_code", "county", share_tol)
    village = ctx.get("village")
    if village is not None and village.geom is not None and village.has("township_code"):
        parents = _first_usable_by_code(ctx, "township")
        if parents:
            code = village.col("township_code")
            rows = np.nonzero(village.usable & village.ok("township_code") & code.isin(parents).to_numpy())[0]
            if len(rows):
                tgeo = ctx.geo("township")
                pgeoms = np.array([tgeo[parents[c]] for c in code.iloc[rows]], dtype=object)
                _outside(ctx, "village", rows, pgeoms, list(code.iloc[rows]), "township_code", "township",
                         share_tol)
    _check_parcels(ctx)


def _outside(ctx: Context, name: str, rows: np.ndarray, parents: np.ndarray, parent_codes: list[str],
             field: str, parent_layer: str, share_tol: float) -> None:
    data = ctx.layers[name]
    geoms = ctx.geo(name)[rows]
    check = np.nonzero(~shapely.covers(parents, geoms))[0]
    if len(check) == 0:
        return
    pieces = _safe(shapely.difference, geoms[check], parents[check])
    area, width = ctx.measure(pieces)
    total, _ = ctx.measure(geoms[check])
    share = area / np.maximum(total, 1e-9)
    sliver = float(ctx.config["validate.sliver_width_m"])
    for k in np.nonzero((share > share_tol) & (width > sliver))[0]:
        r = rows[check[k]]
        ctx.add("error", "validate.outside_parent", name, data.ids[r], field,
                parent=str(parent_codes[check[k]]), parent_layer=parent_layer,
                share=float(share[k]), area_m2=round(float(area[k]), 2), tolerance=share_tol)


def _check_parcels(ctx: Context) -> None:
    """Each parcel lies in one village: not across two, not outside all; village_code agrees."""
    parcels, village = ctx.get("landuse"), ctx.get("village")
    if parcels is None or village is None or parcels.geom is None or village.geom is None:
        return
    tol = float(ctx.config["validate.overlap_tolerance_m2"])
    sliver = float(ctx.config["validate.sliver_width_m"])
    vrows = np.nonzero(village.usable)[0]
    prows = np.nonzero(parcels.usable)[0]
    if len(vrows) == 0 or len(prows) == 0:
        return
    V = ctx.geo("village")[vrows]
    P = ctx.geo("landuse")[prows]
    vcode = (village.col("code").fillna("").astype(str).to_numpy(dtype=object) if village.has("code")
             else np.full(len(village), "", dtype=object))[vrows]
    # Parcels covered by a village grown by the sliver width cannot reach out of it by more than
    # a sliver: only the others (few) are intersected with the villages they touch.
    grown = shapely.buffer(V, sliver / METRES_PER_DEGREE)
    a, b = shapely.STRtree(P).query(grown, predicate="covers")
    home = np.full(len(P), -1)
    home[b] = a
    twice = np.nonzero(np.bincount(b, minlength=len(P)) > 1)[0]
    if len(twice):  # a sliver-thin parcel along a boundary: the village holding its inner point
        inner = shapely.point_on_surface(P[twice])
        k, v = shapely.STRtree(V).query(inner, predicate="intersects")
        home[twice[k]] = v
    cand = np.nonzero(home < 0)[0]
    if len(cand):
        ci, vj = shapely.STRtree(V).query(P[cand], predicate="intersects")
        pieces = _safe(shapely.intersection, P[cand][ci], V[vj])
        area, width = ctx.measure(pieces)
        frame = pd.DataFrame({"p": ci, "v": vj, "a": area, "w": width})
        frame = frame[frame["a"] > 0].sort_values(["p", "a"], ascending=[True, False])
        first = ~frame["p"].duplicated()
        main = frame[first.to_numpy()]
        home[cand[main["p"].to_numpy()]] = main["v"].to_numpy()
        rest = frame[(~first).to_numpy() & (frame["a"] > tol).to_numpy() & (frame["w"] > sliver).to_numpy()]
        main_by_p = main.set_index("p")
        for p, grp in rest.groupby("p", sort=True):
            r = prows[cand[p]]
            ctx.add("error", "validate.crosses_villages", "landuse", parcels.ids[r], "village_code",
                    village=str(vcode[main_by_p.at[p, "v"]]), area_m2=round(float(main_by_p.at[p, "a"]), 2),
                    others=", ".join(f"{vcode[v]} ({a:.1f} m²)" for v, a in zip(grp["v"], grp["a"])))
        if village.fully_usable:
            covered = np.bincount(frame["p"].to_numpy(), weights=frame["a"].to_numpy(), minlength=len(cand))
            outside_check = np.nonzero(ctx.measure(P[cand])[0] - covered > tol)[0]
            if len(outside_check):  # measure what lies in no village, as a piece (sliver test)
                merged = _parent_extent(ctx, "village")
                pieces = _safe(shapely.difference, P[cand[outside_check]],
                               np.full(len(outside_check), merged, dtype=object))
                big, area = _significant(ctx, pieces, tol)
                total = ctx.measure(P[cand[outside_check]])[0]
                for k in np.nonzero(big)[0]:
                    p = outside_check[k]
                    r = prows[cand[p]]
                    h = home[cand[p]]
                    ctx.add("error", "validate.outside_parent", "landuse", parcels.ids[r], "village_code",
                            parent=str(vcode[h]) if h >= 0 else "", parent_layer="village",
                            share=float(area[k] / max(total[k], 1e-9)), area_m2=round(float(area[k]), 2),
                            tolerance=0.0)
    if parcels.has("village_code"):
        given = parcels.col("village_code").to_numpy(dtype=object)[prows]
        ok = parcels.ok("village_code")[prows] & (home >= 0)
        located = np.where(home >= 0, vcode[np.maximum(home, 0)], "")
        bad = ok & pd.Series(given).isin(set(vcode)).to_numpy() & (given != located)
        for k in np.nonzero(bad)[0]:
            ctx.add("warning", "validate.location_mismatch", "landuse", parcels.ids[prows[k]], "village_code",
                    value=str(given[k]), located=str(located[k]), parent_layer="village")


def check_point_locations(ctx: Context) -> None:
    """Settlements and facilities lie in the village (or township) their codes name."""
    for name in POINT_LAYERS:
        data = ctx.get(name)
        if data is None or data.geom is None:
            continue
        for fld, parent in (("village_code", "village"), ("township_code", "township")):
            pdata = ctx.get(parent)
            if pdata is None or pdata.geom is None or not data.has(fld) or not pdata.has("code"):
                continue
            rows = np.nonzero(data.usable & data.ok(fld))[0]
            if fld == "township_code" and data.has("village_code"):
                rows = rows[~data.ok("village_code")[rows]]  # the village check covers these
            prow = np.nonzero(pdata.usable & pdata.ok("code"))[0]
            if len(rows) == 0 or len(prow) == 0:
                continue
            pcode = pdata.col("code").to_numpy(dtype=object)[prow]
            a, b = shapely.STRtree(ctx.geo(parent)[prow]).query(ctx.geo(name)[rows], predicate="intersects")
            given = data.col(fld).to_numpy(dtype=object)[rows]
            inside = np.zeros(len(rows), dtype=bool)
            inside[a] = True
            matched = np.zeros(len(rows), dtype=bool)
            matched[a[pcode[b] == given[a]]] = True
            located = np.full(len(rows), "", dtype=object)
            located[a[::-1]] = pcode[b[::-1]]  # the first hit wins
            known = pd.Series(given).isin(set(pcode)).to_numpy()
            for k in np.nonzero(inside & ~matched & known)[0]:
                ctx.add("warning", "validate.location_mismatch", name, data.ids[rows[k]], fld,
                        value=str(given[k]), located=str(located[k]), parent_layer=parent)
