"""Vectorised synthetic geometry for the land engine's tests and benchmark.

``parcel_grid`` tiles a rectangle with jittered quadrilaterals (a 三调-like parcel layer of any
size: a million parcels in a few seconds); ``blobs`` draws smooth, irregular, star-shaped
polygons with many vertices (red-line, boundary and project outlines). Coordinates are metres
in a projected CRS (a CGCS2000 3° GK zone); callers reproject to EPSG:4490 when they need to.
The synthetic county generator (``pianqu.synth``) is the project's default data; this is the
land engine's own bench, small and deterministic.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely

# Sichuan-like placement used by the defaults: the CGCS2000 3° GK zone of CM 105°E, near 30.5°N.
DEFAULT_EPSG = 4544
DEFAULT_ORIGIN = (500_000.0, 3_380_000.0)


def parcel_grid(nx: int, ny: int, cell: float = 50.0, *, jitter: float = 0.3, seed: int = 0,
                origin: tuple[float, float] = DEFAULT_ORIGIN, epsg: int = DEFAULT_EPSG) -> gpd.GeoDataFrame:
    """``nx × ny`` jittered quadrilaterals tiling the rectangle ``origin + (nx·cell, ny·cell)``.

    Interior lattice vertices move by up to ``jitter·cell`` in x and y (jitter < 0.5 keeps every
    quad simple and the tiling exact: neighbours share their edges vertex for vertex). Columns:
    ``bsm`` (a stable id), ``row``, ``col`` and the geometry.
    """
    if not 0 <= jitter < 0.5:
        raise ValueError("jitter must be in [0, 0.5) of the cell size")
    rng = np.random.default_rng(seed)
    x0, y0 = origin
    gx, gy = np.meshgrid(x0 + cell * np.arange(nx + 1), y0 + cell * np.arange(ny + 1))
    dx = rng.uniform(-jitter, jitter, gx.shape) * cell
    dy = rng.uniform(-jitter, jitter, gy.shape) * cell
    dx[:, [0, -1]] = 0.0
    dy[[0, -1], :] = 0.0
    gx, gy = gx + dx, gy + dy
    r, c = np.meshgrid(np.arange(ny), np.arange(nx), indexing="ij")
    r, c = r.ravel(), c.ravel()
    ring_r = np.stack([r, r, r + 1, r + 1, r], axis=1)
    ring_c = np.stack([c, c + 1, c + 1, c, c], axis=1)
    coords = np.stack([gx[ring_r, ring_c], gy[ring_r, ring_c]], axis=2)
    geoms = shapely.polygons(coords)
    bsm = np.char.add("P", np.char.zfill((r * nx + c).astype(str), 9))
    return gpd.GeoDataFrame({"bsm": bsm, "row": r, "col": c}, geometry=geoms, crs=epsg)


def blob(cx: float, cy: float, radius: float, *, n_vertices: int = 720, roughness: float = 0.25,
         seed: int = 0) -> shapely.Polygon:
    """A smooth irregular polygon around ``(cx, cy)``: a circle with random radial harmonics.

    The radius stays positive for ``roughness`` < 1, so the polygon is star-shaped and valid.
    """
    rng = np.random.default_rng(seed)
    theta = np.linspace(0.0, 2 * np.pi, n_vertices, endpoint=False)
    r = np.ones_like(theta)
    ks = np.arange(2, 40)
    amp = rng.uniform(0, 1, len(ks)) / ks ** 1.3
    amp *= roughness / amp.sum()
    phase = rng.uniform(0, 2 * np.pi, len(ks))
    r += (amp[:, None] * np.cos(ks[:, None] * theta[None, :] + phase[:, None])).sum(axis=0)
    return shapely.Polygon(np.c_[cx + radius * r * np.cos(theta), cy + radius * r * np.sin(theta)])


def blobs(n: int, bounds: tuple[float, float, float, float], radius: tuple[float, float], *,
          n_vertices: int = 720, roughness: float = 0.25, seed: int = 0,
          separate: bool = True) -> np.ndarray:
    """``n`` blobs with centres in ``bounds`` and radii in ``radius``; disjoint when ``separate``.

    Disjointness is by rejection of centres closer than the sum of the maximal radii (each blob
    lies within ``radius·(1 + roughness)`` of its centre), so ``n`` may not be reached in a
    crowded box: the result may be shorter.
    """
    rng = np.random.default_rng(seed)
    x0, y0, x1, y1 = bounds
    centres: list[tuple[float, float, float]] = []
    tries = 0
    while len(centres) < n and tries < 200 * n:
        tries += 1
        rad = rng.uniform(*radius)
        cx, cy = rng.uniform(x0 + rad, x1 - rad), rng.uniform(y0 + rad, y1 - rad)
        if separate and any(np.hypot(cx - a, cy - b) < (rad + ra) * (1 + roughness) + 1.0
                            for a, b, ra in centres):
            continue
        centres.append((cx, cy, rad))
    return np.array([blob(cx, cy, rad, n_vertices=n_vertices, roughness=roughness, seed=seed * 100_003 + k)
                     for k, (cx, cy, rad) in enumerate(centres)], dtype=object)
