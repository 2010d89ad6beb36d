"""The three control lines (三条控制线), drawn from the synthetic parcels in the policy's order,
with a handful of overlaps left for planners to resolve.

- 城镇开发边界 (urban development boundary, UDB): around the county seat and every town
  with at least ``synth.udb_min_urban_population`` urban residents, the town's construction
  land grown outwards until the boundary is ``synth.udb_expansion_ratio`` times it; split
  by township.
- 永久基本农田 (permanent basic farmland, PBF): patches of cultivated land no steeper than
  ``synth.pbf_max_slope_deg``, largest first, until ``synth.pbf_share`` of all cultivated
  land; the UDB is cut out of them except for ``synth.control_conflicts`` patches that stay
  overlapping (the classic UDB–farmland conflict).
- 生态保护红线 (ecological red line): forest, shrub, grass, wetland and bare high land
  above the ``synth.redline_elev_quantile`` elevation quantile in patches of at least
  ``synth.redline_min_patch_m2``, plus a drinking-water source strip on the main river
  upstream of the county seat; the largest patches hold a protected-area core zone. A few
  patches are drawn slightly over neighbouring farmland (``synth.control_conflicts``).
"""

from __future__ import annotations

import numpy as np
import shapely

from pianqu.config import Config
from pianqu.synth._util import GRID_SIZE, group_indices, union_coverage
from pianqu.synth.parcels import Parcels

FARMLAND = ("0101", "0102", "0103")
NATURAL_PREFIX = ("03", "04", "05")
NATURAL_EXTRA = ("1706", "2307")


def _parts(g) -> list[shapely.Polygon]:
    return [p for p in shapely.get_parts(g) if p.geom_type == "Polygon" and p.area > 0]


def urban_boundary(p: Parcels, townships: np.ndarray, town_urban: np.ndarray, seat_township: int,
                   county: shapely.Geometry, cfg: Config) -> list[tuple[shapely.Polygon, int]]:
    """UDB polygons as (polygon, township row), no two overlapping."""
    ratio = float(cfg["synth.udb_expansion_ratio"])
    min_pop = float(cfg["synth.udb_min_urban_population"])
    shapes = []
    for ti in range(len(town_urban)):
        if ti != seat_township and town_urban[ti] < min_pop:
            continue
        mine = np.flatnonzero(p.town == ti)
        if len(mine) == 0:
            continue
        land = shapely.simplify(union_coverage(p.geom[mine]), 5.0)
        a0, perim = land.area, max(land.length, 1.0)
        target = ratio * a0
        d = 4.0 * (target - a0) / perim  # grow by d, shrink by d/2: area grows ≈ perimeter × d/2
        shape = land
        for _ in range(5):
            shape = shapely.buffer(shapely.buffer(land, d, quad_segs=3), -d / 2, quad_segs=3)
            grown = shape.area - a0
            if grown <= 0 or abs(shape.area - target) < 0.02 * target:
                break
            d *= (target - a0) / grown
        shapes.append(shape)
    if not shapes:
        return []
    merged = shapely.intersection(shapely.union_all(shapes), county)
    merged = shapely.simplify(merged, 5.0)
    out = []
    tree = shapely.STRtree(townships)
    near = tree.query(merged, predicate="intersects")
    pieces = shapely.intersection(merged, townships[near], grid_size=GRID_SIZE)
    for ti, piece in zip(near, pieces):
        for part in _parts(piece):
            if part.area > 2000:
                out.append((part, int(ti)))
    return sorted(out, key=lambda x: (x[1], -x[0].area))


def farmland(p: Parcels, udb: list[tuple[shapely.Polygon, int]], cfg: Config,
             gen: np.random.Generator) -> list[shapely.Polygon]:
    """PBF patches (a few left overlapping the UDB on purpose)."""
    share = float(cfg["synth.pbf_share"])
    max_slope = float(cfg["synth.pbf_max_slope_deg"])
    n_conflict = int(cfg["synth.control_conflicts"])
    is_farm = np.isin(p.code, FARMLAND)
    total = shapely.area(p.geom[is_farm]).sum()
    good = np.flatnonzero(is_farm & (p.slope <= max_slope))
    patches = []
    for _, idx in zip(*group_indices(p.village[good])):
        patches += _parts(union_coverage(p.geom[good[idx]]))
    if not patches:
        return []
    patches = np.array(patches, dtype=object)
    area = shapely.area(patches)
    order = np.argsort(-area * gen.lognormal(0, 0.3, len(area)), kind="stable")
    cum = np.cumsum(area[order])
    chosen = patches[order[: int(np.searchsorted(cum, share * total)) + 1]]
    chosen = chosen[shapely.area(chosen) >= 2000]
    if not udb:
        return list(chosen)
    u = shapely.union_all([g for g, _ in udb])
    shapely.prepare(u)
    touching = np.flatnonzero(shapely.intersects(u, chosen))
    overlap = shapely.area(shapely.intersection(chosen[touching], u))
    keep_conflict = set(touching[np.argsort(-overlap)][:n_conflict].tolist())
    out = []
    for k, g in enumerate(chosen):
        if k in keep_conflict or k not in set(touching.tolist()):
            out.append(g)
            continue
        for part in _parts(shapely.difference(g, u, grid_size=GRID_SIZE)):
            if part.area >= 2000:
                out.append(part)
    return out


def eco_redline(p: Parcels, pbf: list[shapely.Polygon], water_source: shapely.Geometry | None,
                cfg: Config, gen: np.random.Generator, terrain: str = "mountain") -> list[tuple[shapely.Polygon, bool, str]]:
    """Red-line polygons as (polygon, core_zone, kind); non-overlapping among themselves.

    Patches are unions of whole parcels, and a core zone is the union of the parcels deep
    inside a patch, so core and non-core parts share their edges exactly."""
    q = float(cfg["synth.redline_elev_quantile"])
    min_patch = float(cfg["synth.redline_min_patch_m2"])
    n_conflict = int(cfg["synth.control_conflicts"])
    natural = np.array([c[:2] in NATURAL_PREFIX or c in NATURAL_EXTRA for c in p.code])
    area = shapely.area(p.geom)
    order = np.argsort(p.elev, kind="stable")
    cum = np.cumsum(area[order]) / area.sum()
    cut = p.elev[order][min(int(np.searchsorted(cum, q)), len(order) - 1)]  # area-weighted quantile
    sloped = p.slope >= (0.0 if terrain == "plateau" else 8.0)  # the plains' woods are no red line
    sel = np.flatnonzero(natural & (p.elev >= cut) & sloped)
    if len(sel) == 0:
        return []
    patches = np.array(_parts(union_coverage(p.geom[sel])), dtype=object)
    if len(patches) == 0:
        return []
    rp = shapely.point_on_surface(p.geom[sel])
    rxy = shapely.get_coordinates(rp)
    a, b = shapely.STRtree(patches).query(rp)  # bounding boxes, then exact point-in-polygon
    member = np.full(len(sel), -1)
    for k, idx in zip(*group_indices(b)):
        shapely.prepare(patches[k])
        pts = a[idx]
        hit = shapely.contains_xy(patches[k], rxy[pts, 0], rxy[pts, 1])
        member[pts[hit]] = k
    big = shapely.area(patches) >= min_patch
    kinds = np.array(["水源涵养", "生物多样性维护", "水土保持"])
    out: list[tuple[shapely.Polygon, bool, str]] = []
    order = np.argsort(-shapely.area(patches), kind="stable")
    for rank_, k in enumerate(order):
        if not big[k]:
            continue
        g = patches[k]
        if rank_ < 2 and g.area > 20 * min_patch:
            idx = sel[member == k]
            xy = shapely.get_coordinates(rp[member == k])
            depth = _depth_inside(g, xy, cell=max(50.0, np.sqrt(g.area / 40000.0)))
            inner = (depth > 200.0) & (depth >= np.quantile(depth, 0.7)) if len(depth) else depth > 0
            if inner.any() and shapely.area(p.geom[idx[inner]]).sum() > min_patch:
                for c in _parts(union_coverage(p.geom[idx[inner]])):
                    out.append((c, True, "生物多样性维护"))
                if (~inner).any():
                    for r in _parts(union_coverage(p.geom[idx[~inner]])):
                        out.append((r, False, "生物多样性维护"))
                continue
        out.append((g, False, str(kinds[gen.integers(0, 3)])))
    # a few patches drawn over the edge of neighbouring farmland: the strip of farmland next to
    # them is added to the red line (it overlaps permanent basic farmland)
    if pbf and out:
        pb = np.array(pbf, dtype=object)
        rl = np.array([g for g, _, _ in out], dtype=object)
        core = np.array([c for _, c, _ in out])
        tree = shapely.STRtree(rl)
        done, tried = 0, 0
        for j in gen.permutation(len(pb)):
            if done >= n_conflict or tried > 400:
                break
            tried += 1
            zone = shapely.buffer(pb[j], 130.0, quad_segs=2)
            for r in tree.query(zone):
                if core[r]:
                    continue
                local = shapely.intersection(rl[r], zone)
                if local.is_empty or local.area < 10:
                    continue
                bump = shapely.intersection(pb[j], shapely.buffer(local, 120.0, quad_segs=2), grid_size=GRID_SIZE)
                parts = [q for q in _parts(bump) if q.area >= 500]
                if parts:
                    out.append((max(parts, key=lambda q: q.area), False, out[r][2]))
                    done += 1
                    break
    if water_source is not None and not water_source.is_empty:
        geoms = np.array([g for g, _, _ in out], dtype=object)
        near = shapely.STRtree(geoms).query(water_source, predicate="intersects") if len(geoms) else []
        taken = shapely.union_all(geoms[near]) if len(near) else shapely.Polygon()
        for part in _parts(shapely.difference(water_source, taken, grid_size=GRID_SIZE)):
            if part.area > 1000:
                out.append((part, False, "饮用水水源保护"))
    return out


def _depth_inside(poly: shapely.Geometry, xy: np.ndarray, cell: float) -> np.ndarray:
    """Distance (m) from points inside ``poly`` to its edge, on a raster of ``cell`` metres."""
    from scipy import ndimage

    x0, y0, x1, y1 = poly.bounds
    nx = int(np.ceil((x1 - x0) / cell)) + 2
    ny = int(np.ceil((y1 - y0) / cell)) + 2
    gx, gy = np.meshgrid(x0 - cell + (np.arange(nx) + 0.5) * cell, y0 - cell + (np.arange(ny) + 0.5) * cell)
    shapely.prepare(poly)
    inside = shapely.contains_xy(poly, gx, gy)
    depth = ndimage.distance_transform_edt(inside) * cell
    c = np.clip(((xy[:, 0] - (x0 - cell)) / cell).astype(int), 0, nx - 1)
    r = np.clip(((xy[:, 1] - (y0 - cell)) / cell).astype(int), 0, ny - 1)
    return depth[r, c]
