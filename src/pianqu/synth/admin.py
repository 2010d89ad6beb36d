"""The county's finest tessellation ("atoms") and the township/village tiling built from it.

Atoms are the Voronoi cells of random points whose density follows the land: dense on flat
valley floors and in towns, sparse on steep slopes; the seats of towns and villages are atom
generators themselves, and points along the big rivers make a river band. Atoms tile the
county exactly (one Voronoi diagram, clipped once, vertices on a 1 cm grid) and are the
building blocks of everything polygonal: villages are geodesic Voronoi regions of the
village seats over the atom graph (crossing ridges and provisional township borders costs
more), land parcels are atoms or unions of atoms, and the village, township and county
polygons are unions of the final parcels, so every border coincides exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import shapely
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import Delaunay, cKDTree

from pianqu.synth._util import GRID_SIZE, group_indices, snap_coords, union_coverage
from pianqu.synth.terrain import Terrain

KIND_LAND, KIND_RIVER, KIND_BANK, KIND_SEAT = 0, 1, 2, 3


@dataclass
class Atoms:
    xy: np.ndarray  # (n, 2) generator (or a point inside, for cut-off pieces)
    geom: np.ndarray  # polygons, GK metres, 1 cm grid
    area: np.ndarray  # m² (planar, GK)
    slope: np.ndarray  # mean slope (deg)
    elev: np.ndarray  # mean elevation (m)
    kind: np.ndarray  # KIND_*
    edges: np.ndarray  # (m, 2) pairs of atoms sharing an edge
    river_order: np.ndarray  # order of the river a river-band atom belongs to, else 0
    village: np.ndarray | None = None  # village row per atom
    township: np.ndarray | None = None  # township row per atom

    @property
    def n(self) -> int:
        return len(self.geom)


def atom_count(area_km2: float, n_villages: int, detail: float = 1.0) -> int:
    """How many random atoms to draw: grows with area and with the number of villages."""
    return int(detail * min(70_000, 6.0 * area_km2 + 45.0 * n_villages + 600))


def density(t: Terrain, town_xy: np.ndarray, town_r: np.ndarray, village_xy: np.ndarray,
            village_r: np.ndarray) -> np.ndarray:
    """Relative atom density per cell: flat land and settlements get small atoms."""
    gx, gy = t.grid.centers()
    pts = np.column_stack([gx[t.inside], gy[t.inside]])
    d = 1.0 + 11.0 * np.exp(-t.slope[t.inside] / 9.0)
    for xy, r, boost in ((town_xy, town_r, 14.0), (village_xy, village_r, 4.0)):
        if len(xy) == 0:
            continue
        tree = cKDTree(xy)
        dist, which = tree.query(pts, k=1)
        d *= 1.0 + boost * np.exp(-(dist / r[which]) ** 2)
    out = np.zeros(t.grid.shape)
    out[t.inside] = d
    return out


def river_band_points(lines: list[tuple[shapely.LineString, int]], min_order: int,
                      width_of) -> tuple[np.ndarray, np.ndarray, np.ndarray, shapely.Geometry]:
    """Generators of the river band: points along each big river line and, on both banks,
    points one band-width away. Returns (centre points, their order, bank points, lines)."""
    centres, orders, banks, used = [], [], [], []
    for line, order in lines:
        if order < min_order or line.length < 1:
            continue
        w = width_of(order)
        n = max(int(line.length / w), 2)
        s = np.linspace(0, line.length, n + 1)
        pts = shapely.get_coordinates(shapely.line_interpolate_point(line, s))
        ahead = shapely.get_coordinates(shapely.line_interpolate_point(line, np.minimum(s + w / 4, line.length)))
        behind = shapely.get_coordinates(shapely.line_interpolate_point(line, np.maximum(s - w / 4, 0)))
        tang = ahead - behind
        tang /= np.maximum(np.hypot(*tang.T), 1e-9)[:, None]
        normal = np.column_stack([-tang[:, 1], tang[:, 0]])
        centres.append(pts)
        orders.append(np.full(len(pts), order))
        banks.append(pts + normal * w * 1.2)
        banks.append(pts - normal * w * 1.2)
        used.append(line)
    if not centres:
        return np.zeros((0, 2)), np.zeros(0, dtype=np.int64), np.zeros((0, 2)), shapely.GeometryCollection()
    return (np.vstack(centres), np.concatenate(orders), np.vstack(banks),
            shapely.union_all(np.array(used, dtype=object)))


def build_atoms(t: Terrain, seat_xy: np.ndarray, dens: np.ndarray, n_target: int,
                river_lines: list[tuple[shapely.LineString, int]], gen: np.random.Generator, *,
                band_min_order: int | None = None) -> Atoms:
    """Draw the atom generators, tessellate, clip to the county and find adjacency."""
    grid, county = t.grid, t.county
    lam = dens.ravel() * (n_target / max(dens.sum(), 1e-9))
    counts = gen.poisson(lam)
    cells = np.repeat(np.arange(grid.size), counts)
    base = grid.xy(cells) + gen.uniform(-0.5, 0.5, (len(cells), 2)) * grid.cell
    shapely.prepare(county)
    base = base[shapely.contains_xy(county, base[:, 0], base[:, 1])]
    # river band (rivers of the top orders)
    max_order = max([o for _, o in river_lines], default=0)
    if band_min_order is None:
        band_min_order = max(3, max_order - 1)

    def width_of(order: int) -> float:
        return float(np.clip(30.0 * 1.5 ** (order - 3), 20.0, 0.6 * grid.cell + 40.0))

    r_pts, r_ord, b_pts, r_union = river_band_points(river_lines, band_min_order, width_of)
    if len(r_pts):
        w_max = width_of(max_order)
        shapely.prepare(r_union)
        keep = ~shapely.dwithin(r_union, shapely.points(base), 1.6 * w_max)
        base = base[keep]
        inside_b = shapely.contains_xy(county, b_pts[:, 0], b_pts[:, 1])
        b_pts = b_pts[inside_b]
        inside_r = shapely.contains_xy(county, r_pts[:, 0], r_pts[:, 1])
        r_pts, r_ord = r_pts[inside_r], r_ord[inside_r]
        # seats never sit in the band
        if len(seat_xy):
            d, _ = cKDTree(seat_xy).query(r_pts, k=1)
            r_pts, r_ord = r_pts[d > width_of(max_order)], r_ord[d > width_of(max_order)]
            d, _ = cKDTree(seat_xy).query(b_pts, k=1)
            b_pts = b_pts[d > 0.5 * width_of(max_order)]
    # seats: keep random points a little away from them
    if len(seat_xy) and len(base):
        d, _ = cKDTree(seat_xy).query(base, k=1)
        base = base[d > 0.15 * grid.cell]
    pts = np.vstack([seat_xy, r_pts, b_pts, base])
    kind = np.concatenate([np.full(len(seat_xy), KIND_SEAT), np.full(len(r_pts), KIND_RIVER),
                           np.full(len(b_pts), KIND_BANK), np.full(len(base), KIND_LAND)])
    rord = np.concatenate([np.zeros(len(seat_xy), dtype=np.int64), r_ord,
                           np.zeros(len(b_pts) + len(base), dtype=np.int64)])
    # drop near-duplicates (closer than 0.5 m; the earlier point wins, so seats are kept)
    pts = np.round(pts, 2)
    drop = np.zeros(len(pts), dtype=bool)
    close = cKDTree(pts).query_pairs(0.5, output_type="ndarray")
    if len(close):
        drop[close.max(axis=1)] = True
    pts, kind, rord = pts[~drop], kind[~drop], rord[~drop]
    n0 = len(pts)

    x0, y0, x1, y1 = county.bounds
    env = shapely.box(x0 - 1000, y0 - 1000, x1 + 1000, y1 + 1000)
    vor = shapely.voronoi_polygons(shapely.multipoints(pts), extend_to=env, ordered=True)
    cells_v = np.asarray(shapely.get_parts(vor), dtype=object)
    if len(cells_v) != n0:
        raise RuntimeError(f"Voronoi returned {len(cells_v)} cells for {n0} points")
    cells_v = _round_cells(cells_v)
    within = shapely.contains_properly(county, cells_v)
    geoms = cells_v.copy()
    cut = np.flatnonzero(~within)
    geoms[cut] = shapely.intersection(cells_v[cut], county, grid_size=GRID_SIZE)
    # explode multi-part atoms: the part holding the generator keeps it
    parts, part_of = shapely.get_parts(geoms, return_index=True)
    poly = shapely.get_type_id(parts) == 3
    parts, part_of = parts[poly], part_of[poly]
    parts = np.asarray(parts, dtype=object)
    has_gen = shapely.intersects_xy(parts, pts[part_of, 0], pts[part_of, 1])
    multi = np.bincount(part_of, minlength=n0) > 1
    keep_main = ~multi[part_of] | has_gen
    main_idx = part_of[keep_main]
    geom_main = np.empty(n0, dtype=object)
    geom_main[main_idx] = parts[keep_main]
    missing = shapely.is_missing(geom_main)
    if missing.any():  # generator on a cut line: keep the largest part
        for i in np.flatnonzero(missing):
            cand = parts[part_of == i]
            geom_main[i] = max(cand, key=lambda g: g.area) if len(cand) else None
    extra = parts[~keep_main]
    ok = ~shapely.is_missing(geom_main) & ~shapely.is_empty(geom_main)
    # atoms whose generator was dropped entirely (cannot happen for points inside) are removed
    idx_ok = np.flatnonzero(ok)
    geom = np.concatenate([geom_main[idx_ok], extra]).astype(object)
    xy = np.vstack([pts[idx_ok], shapely.get_coordinates(shapely.point_on_surface(extra)).reshape(-1, 2)])
    kind_all = np.concatenate([kind[idx_ok], np.full(len(extra), KIND_LAND)])
    rord_all = np.concatenate([rord[idx_ok], np.zeros(len(extra), dtype=np.int64)])
    remap = np.full(n0, -1)
    remap[idx_ok] = np.arange(len(idx_ok))
    n = len(geom)
    touched = np.zeros(n, dtype=bool)
    cut_ok = remap[cut]
    touched[cut_ok[cut_ok >= 0]] = True
    touched[len(idx_ok):] = True

    # adjacency: Delaunay edges between untouched atoms, geometry for the rest
    e = _voronoi_neighbours(pts, min_edge=0.1)
    e = remap[e]
    e = e[(e >= 0).all(axis=1)]
    e = np.sort(e, axis=1)
    e = _unique_pairs(e, n0)
    e = e[~(touched[e[:, 0]] | touched[e[:, 1]])]
    tree = shapely.STRtree(geom)
    tidx = np.flatnonzero(touched)
    a, b = tree.query(geom[tidx], predicate="intersects")
    a = tidx[a]
    sel = a != b
    a, b = a[sel], b[sel]
    shared = shapely.length(shapely.intersection(geom[a], geom[b]))
    g_e = np.sort(np.column_stack([a, b])[shared > 0.05], axis=1)
    edges = _unique_pairs(np.vstack([e, g_e]), n) if len(g_e) else e

    # mean slope and elevation per atom (cells → nearest generator), point sample as fallback
    gx, gy = t.grid.centers()
    cxy = np.column_stack([gx[t.inside], gy[t.inside]])
    owner_cell = cKDTree(xy).query(cxy, k=1)[1]
    cnt = np.bincount(owner_cell, minlength=n)
    sl = np.bincount(owner_cell, weights=t.slope[t.inside], minlength=n)
    el = np.bincount(owner_cell, weights=t.elev[t.inside], minlength=n)
    sl_pt = t.grid.sample(t.slope, xy[:, 0], xy[:, 1])
    el_pt = t.grid.sample(t.elev, xy[:, 0], xy[:, 1])
    with np.errstate(invalid="ignore", divide="ignore"):
        slope = np.where(cnt > 0, sl / np.maximum(cnt, 1), sl_pt)
        elev = np.where(cnt > 0, el / np.maximum(cnt, 1), el_pt)
    return Atoms(xy, geom, shapely.area(geom), slope, elev, kind_all, edges, rord_all)


def _voronoi_neighbours(pts: np.ndarray, min_edge: float) -> np.ndarray:
    """Pairs of generators whose Voronoi cells share an edge at least ``min_edge`` long: the
    Delaunay edges, each with the distance between the circumcentres of its two triangles
    (the length of the dual Voronoi edge; hull edges count as long)."""
    tri = Delaunay(pts)
    s = tri.simplices
    a, b, c = pts[s[:, 0]], pts[s[:, 1]], pts[s[:, 2]]
    d = 2 * (a[:, 0] * (b[:, 1] - c[:, 1]) + b[:, 0] * (c[:, 1] - a[:, 1]) + c[:, 0] * (a[:, 1] - b[:, 1]))
    a2, b2, c2 = (a ** 2).sum(1), (b ** 2).sum(1), (c ** 2).sum(1)
    with np.errstate(divide="ignore", invalid="ignore"):
        ux = (a2 * (b[:, 1] - c[:, 1]) + b2 * (c[:, 1] - a[:, 1]) + c2 * (a[:, 1] - b[:, 1])) / d
        uy = (a2 * (c[:, 0] - b[:, 0]) + b2 * (a[:, 0] - c[:, 0]) + c2 * (b[:, 0] - a[:, 0])) / d
    cc = np.column_stack([ux, uy])
    pairs, lengths = [], []
    for k in range(3):  # the edge opposite vertex k, shared with neighbours[:, k]
        edge = np.delete(s, k, axis=1)
        nb = tri.neighbors[:, k]
        length = np.where(nb >= 0, np.hypot(*(cc - cc[np.maximum(nb, 0)]).T), np.inf)
        pairs.append(edge)
        lengths.append(length)
    pairs = np.vstack(pairs)
    lengths = np.concatenate(lengths)
    return pairs[~(lengths < min_edge)]


def _unique_pairs(e: np.ndarray, n: int) -> np.ndarray:
    """Unique rows of an (m, 2) array of sorted node pairs (fast 1-D keys)."""
    key = np.unique(e[:, 0].astype(np.int64) * n + e[:, 1])
    return np.column_stack([key // n, key % n])


def _round_cells(cells: np.ndarray) -> np.ndarray:
    """Snap Voronoi cells to the 1 cm grid by rounding their coordinates (identical input
    vertices round identically, so shared edges stay shared); the rare cell made invalid by
    rounding is snap-rounded properly instead."""
    out = shapely.transform(cells, snap_coords)
    bad = ~shapely.is_valid(out)
    if bad.any():
        out[bad] = shapely.set_precision(cells[bad], GRID_SIZE)
    return out


def assign_villages(atoms: Atoms, t: Terrain, seat_atom: np.ndarray, village_township: np.ndarray,
                    prov_township: np.ndarray, gen: np.random.Generator) -> None:
    """Village and township of each atom: geodesic Voronoi regions of the village seats on the
    atom graph; climbing and leaving the provisional township cost extra."""
    a, b = atoms.edges[:, 0], atoms.edges[:, 1]
    d = np.hypot(*(atoms.xy[a] - atoms.xy[b]).T)
    dz = np.abs(atoms.elev[a] - atoms.elev[b])
    pt = prov_township.ravel()[t.grid.index(atoms.xy[:, 0], atoms.xy[:, 1])]
    cross = pt[a] != pt[b]
    w = np.maximum(d, 0.01) * (1.0 + 5.0 * dz / np.maximum(d, 1.0)) * (1.0 + 9.0 * cross)
    w *= gen.lognormal(0, 0.1, len(w))
    n = atoms.n
    m = sp.csr_matrix((np.concatenate([w, w]), (np.concatenate([a, b]), np.concatenate([b, a]))), shape=(n, n))
    _, _, src = dijkstra(m, directed=False, indices=seat_atom, min_only=True, return_predecessors=True)
    lookup = np.full(n, -1)
    lookup[seat_atom] = np.arange(len(seat_atom))
    village = lookup[np.where(src >= 0, src, 0)]
    if (src < 0).any():  # atoms cut off from every seat (never expected): nearest seat
        lost = np.flatnonzero(src < 0)
        near = cKDTree(atoms.xy[seat_atom]).query(atoms.xy[lost], k=1)[1]
        village[lost] = near
    atoms.village = village
    atoms.township = village_township[village]


def admin_polygons(parcel_geom: np.ndarray, parcel_village: np.ndarray, village_township: np.ndarray,
                   nv: int):
    """Village, township and county polygons as unions of the parcels (edges coincide exactly)."""
    uniq, groups = group_indices(parcel_village)
    village_geom = np.empty(nv, dtype=object)
    for v, idx in zip(uniq, groups):
        village_geom[v] = _single(union_coverage(parcel_geom[idx]))
    nt = int(village_township.max()) + 1
    township_geom = np.empty(nt, dtype=object)
    for tw, idx in zip(*group_indices(village_township)):
        township_geom[tw] = _single(union_coverage(village_geom[idx]))
    county = _single(union_coverage(township_geom))
    return village_geom, township_geom, county


def _single(g: shapely.Geometry) -> shapely.Geometry:
    """A polygon when the union is one piece; MultiPolygon otherwise (kept, reported by tests)."""
    if g.geom_type == "MultiPolygon" and len(g.geoms) == 1:
        return g.geoms[0]
    return g
