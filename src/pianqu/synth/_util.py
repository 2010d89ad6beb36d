"""Small shared helpers of the generator: seeded random streams, exact integer splits and
unions of polygon coverages."""

from __future__ import annotations

import zlib

import numpy as np
import shapely
import shapely.errors

GRID_SIZE = 0.01  # metres: every generated polygon vertex lies on a 1 cm grid of the GK zone


def snap_coords(c: np.ndarray) -> np.ndarray:
    """Round coordinates to the grid exactly as GEOS' fixed precision model does
    (``floor(x * scale + 0.5) / scale``), so rounded and snap-rounded vertices agree."""
    scale = 1.0 / GRID_SIZE
    return np.floor(c * scale + 0.5) / scale


def rng(seed: int, county_code: str, stage: str) -> np.random.Generator:
    """An independent random stream per (seed, county, stage): changing one stage's draws never
    shifts another stage's, so the output stays stable as the generator evolves."""
    return np.random.default_rng(np.random.SeedSequence(
        [int(seed) & 0xFFFFFFFF, int(county_code), zlib.crc32(stage.encode())]))


def split_integer(total: int, weights: np.ndarray, floor: int = 0, cap: float | None = None) -> np.ndarray:
    """Split ``total`` into integers proportional to ``weights`` (largest remainder), each at
    least ``floor`` when the total allows it and at most ``cap`` when the total allows it
    (the excess is spread over the others in proportion); the parts sum to ``total`` exactly."""
    w = np.asarray(weights, dtype=float)
    if cap is not None and len(w) and total <= cap * len(w):
        w = np.where(w > 0, w, 0.0) if (w > 0).any() else np.ones(len(w))
        w = w / w.sum() * total
        for _ in range(len(w)):
            over = w > cap
            if not over.any():
                break
            excess = (w[over] - cap).sum()
            w[over] = cap
            room = ~over & (w < cap)
            w[room] += excess * w[room] / max(w[room].sum(), 1e-12) if w[room].sum() > 0 else excess / max(room.sum(), 1)
        out = split_integer(total, w, floor)
        return out
    n = len(w)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    floor = int(floor) if total >= floor * n else total // n
    rest = total - floor * n
    w = np.where(w > 0, w, 0.0)
    if w.sum() <= 0:
        w = np.ones(n)
    raw = rest * w / w.sum()
    base = np.floor(raw).astype(np.int64)
    left = rest - int(base.sum())
    if left > 0:
        order = np.argsort(-(raw - base), kind="stable")
        base[order[:left]] += 1
    return base + floor


def group_indices(labels: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """Unique labels and, for each, the indices carrying it (stable order)."""
    labels = np.asarray(labels)
    order = np.argsort(labels, kind="stable")
    uniq, starts = np.unique(labels[order], return_index=True)
    return uniq, np.split(order, starts[1:])


def union_coverage(geoms: np.ndarray) -> shapely.Geometry:
    """Union of polygons that share edges exactly (a coverage): fast coverage union, falling
    back to a fixed-precision overlay when rounding left the coverage imperfect."""
    geoms = np.asarray(geoms, dtype=object)
    if len(geoms) == 1:
        return geoms[0]
    try:
        out = shapely.coverage_union_all(geoms)
        if not out.is_empty:
            return out
    except shapely.errors.GEOSException:
        pass
    return shapely.union_all(geoms, grid_size=GRID_SIZE)


def chaikin(coords: np.ndarray, iterations: int = 2) -> np.ndarray:
    """Chaikin corner cutting with fixed end points (new points stay on the old segments, so
    a smoothed line never leaves the corners it cuts)."""
    pts = np.asarray(coords, dtype=float)
    for _ in range(iterations):
        if len(pts) < 3:
            return pts
        a, b = pts[:-1], pts[1:]
        q = 0.75 * a + 0.25 * b
        r = 0.25 * a + 0.75 * b
        mid = np.empty((2 * len(a), 2))
        mid[0::2] = q
        mid[1::2] = r
        pts = np.vstack([pts[:1], mid[1:-1], pts[-1:]])
    return pts


def weighted_order(weights: np.ndarray, gen: np.random.Generator) -> np.ndarray:
    """A random order in which heavier items tend to come first (weighted sampling without
    replacement by the Gumbel-top-k trick); zero weights come last."""
    w = np.asarray(weights, dtype=float)
    with np.errstate(divide="ignore"):
        key = np.log(np.where(w > 0, w, 1e-300)) + gen.gumbel(size=len(w))
    key[w <= 0] = -np.inf
    return np.argsort(-key, kind="stable")


def spaced_pick(xy: np.ndarray, order: np.ndarray, n: int, min_dist: float,
                taken: np.ndarray | None = None, relax: float = 0.8, min_floor: float = 0.0) -> np.ndarray:
    """Pick ``n`` candidates in ``order`` that keep ``min_dist`` from each other and from
    ``taken`` points, relaxing the distance when too few fit. Returns candidate indices."""
    chosen: list[int] = []
    if n <= 0 or len(order) == 0:
        return np.zeros(0, dtype=np.int64)
    fixed = np.zeros((0, 2)) if taken is None else np.asarray(taken, dtype=float).reshape(-1, 2)
    d = float(min_dist)
    used = np.zeros(len(xy), dtype=bool)
    while len(chosen) < n:
        pts = np.vstack([fixed, xy[chosen]]) if chosen else fixed
        for i in order:
            if used[i]:
                continue
            p = xy[i]
            if len(pts) and np.min(np.hypot(pts[:, 0] - p[0], pts[:, 1] - p[1])) < d:
                continue
            chosen.append(int(i))
            used[i] = True
            pts = np.vstack([pts, p[None, :]])
            if len(chosen) >= n:
                break
        if len(chosen) >= n:
            break
        if d <= min_floor or d < 1e-6:
            # fewer distinct candidates than requested: reuse none, stop
            break
        d = max(d * relax, min_floor)
    return np.asarray(chosen, dtype=np.int64)
