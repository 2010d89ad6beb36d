"""Natural-hazard zones: landslide zones (地灾) on steep slopes above settlements and roads,
flood zones (洪涝) on the low ground along the bigger rivers near towns.

A landslide zone is a tongue-shaped polygon running down the steepest descent from a steep
atom near a settlement; a flood zone is the river corridor near a town seat, limited to the
ground less than a few metres above the river. Levels (高/中/低) follow slope and exposure.
"""

from __future__ import annotations

import numpy as np
import shapely
from scipy.spatial import cKDTree

from pianqu.synth._util import GRID_SIZE
from pianqu.synth.admin import Atoms
from pianqu.synth.terrain import Terrain


def landslides(atoms: Atoms, t: Terrain, settle_xy: np.ndarray, n: int, gen: np.random.Generator):
    """(polygon, level) of ``n`` landslide zones."""
    if n <= 0 or len(settle_xy) == 0:
        return []
    d, _ = cKDTree(settle_xy).query(atoms.xy, k=1)
    cand = np.flatnonzero((atoms.slope > 25) & (d < 1500) & (d > 150))
    if len(cand) == 0:
        cand = np.flatnonzero(atoms.slope > np.quantile(atoms.slope, 0.9))
    if len(cand) == 0:
        return []
    w = atoms.slope[cand] / (1 + d[cand] / 500.0)
    pick = cand[np.argsort(-(np.log(w) + gen.gumbel(size=len(cand))))[: n * 3]]
    gy, gx = np.gradient(t.elev, t.grid.cell)
    out, used = [], []
    for a in pick:
        x, y = atoms.xy[a]
        if any(np.hypot(x - u[0], y - u[1]) < 800 for u in used):
            continue
        gxv = t.grid.sample(gx, x, y)
        gyv = t.grid.sample(gy, x, y)
        norm = max(np.hypot(gxv, gyv), 1e-9)
        length = gen.uniform(150, 500)
        end = (x - gxv / norm * length, y - gyv / norm * length)
        body = shapely.buffer(shapely.LineString([(x, y), end]), gen.uniform(40, 120), quad_segs=4)
        body = shapely.intersection(body, t.county, grid_size=GRID_SIZE)
        if body.is_empty or body.area < 2000:
            continue
        if body.geom_type != "Polygon":
            body = max(shapely.get_parts(body), key=lambda g: g.area)
        level = "高" if atoms.slope[a] > 35 and d[a] < 600 else ("中" if atoms.slope[a] > 28 else "低")
        out.append((body, level))
        used.append((x, y))
        if len(out) >= n:
            break
    return out


def floods(t: Terrain, rivers: list[tuple[shapely.LineString, int]], town_xy: np.ndarray,
           gen: np.random.Generator, min_order: int = 3, reach_m: float = 3000.0, rise_m: float = 6.0):
    """(polygon, level) of flood zones along big rivers near towns."""
    big = [(ln, o) for ln, o in rivers if o >= min_order]
    if not big or len(town_xy) == 0:
        return []
    lines = np.array([ln for ln, _ in big], dtype=object)
    orders = np.array([o for _, o in big])
    tree = shapely.STRtree(lines)
    out = []
    gx, gy = t.grid.centers()
    for x, y in town_xy:
        near = tree.query(shapely.Point(x, y), predicate="dwithin", distance=1500.0)
        if len(near) == 0:
            continue
        j = int(near[np.argmax(orders[near])])
        reach = shapely.intersection(lines[j], shapely.Point(x, y).buffer(reach_m, quad_segs=8))
        if reach.is_empty:
            continue
        width = 120.0 + 60.0 * orders[j]
        corridor = shapely.buffer(reach, width, quad_segs=4)
        # keep the low ground: cells no more than rise_m above the river next to them
        zr = t.elev.ravel()[t.river_near.ravel()].reshape(t.elev.shape)
        low = (t.elev - zr <= rise_m) & t.inside
        x0, y0, x1, y1 = corridor.bounds
        sel = low & (gx >= x0) & (gx <= x1) & (gy >= y0) & (gy <= y1)
        if not sel.any():
            continue
        h = t.grid.cell / 2
        boxes = shapely.box(gx[sel] - h, gy[sel] - h, gx[sel] + h, gy[sel] + h)
        lowland = shapely.union_all(boxes, grid_size=GRID_SIZE)
        zone = shapely.intersection(shapely.intersection(corridor, lowland), t.county, grid_size=GRID_SIZE)
        zone = shapely.simplify(shapely.buffer(shapely.buffer(zone, 30, quad_segs=4), -30, quad_segs=4), 5.0)
        zone = shapely.intersection(zone, t.county, grid_size=GRID_SIZE)
        for part in shapely.get_parts(zone):
            if part.geom_type == "Polygon" and part.area > 20000:
                level = "高" if orders[j] >= 4 else "中"
                out.append((part, level))
    return out
