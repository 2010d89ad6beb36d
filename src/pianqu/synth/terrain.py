"""Synthetic terrain: a heightfield with ridges and valleys, drained by rivers that follow them.

1. A fractal heightfield (spectral synthesis: white noise filtered by a power law, plus ridged
   noise ``1 - |n|`` for mountain crests) shaped by the county's terrain class (plain, hill,
   mountain, piedmont, alpine, plateau) and tilted so the county drains to one side.
2. Drainage (``hydrology.drain``): flow follows the minimum spanning tree of the grid whose
   edge weight is the higher elevation of its two cells; the tree path from any cell to the
   grid border is the path over the lowest pass, which is exactly how water leaves a
   depression once it is filled, so no pit-filling step is needed.
3. Valleys are carved: each cell is lowered to at most the elevation of its nearest river plus
   a side slope beyond a flat valley floor whose width grows with the river's catchment, so
   valley floors are flat (paddy, towns, roads) and rivers are at the valley bottoms.
4. The field is scaled to the county's elevation range and the slope (degrees) computed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from scipy import ndimage

from pianqu.synth._util import rng
from pianqu.synth.grid import Grid, inside_mask, make_grid
from pianqu.synth.layout import CountyGeo

# terrain-class shape parameters (generator knobs, not standards):
#   ridge: weight of ridged noise; scale: dominant wavelength (fraction of county width);
#   side: valley side slope (degrees); floor: valley floor width factor (m per sqrt(km²));
#   tilt: regional tilt as a share of relief; flat: exponent flattening the low ground
TERRAIN_SHAPE = {
    "plain": dict(ridge=0.0, scale=0.5, beta=3.0, side=1.0, floor=120.0, tilt=0.6, flat=3.0),
    "hill": dict(ridge=0.15, scale=0.12, beta=2.2, side=9.0, floor=45.0, tilt=0.25, flat=1.2),
    "mountain": dict(ridge=0.55, scale=0.22, beta=2.2, side=26.0, floor=28.0, tilt=0.3, flat=1.0),
    "piedmont": dict(ridge=0.5, scale=0.22, beta=2.2, side=24.0, floor=40.0, tilt=0.2, flat=1.0),
    "alpine": dict(ridge=0.7, scale=0.25, beta=2.1, side=30.0, floor=22.0, tilt=0.25, flat=0.9),
    "plateau": dict(ridge=0.3, scale=0.35, beta=2.6, side=14.0, floor=60.0, tilt=0.15, flat=1.6),
}


@dataclass
class Terrain:
    """The county's raster: elevation (m), slope (deg), drainage and the county mask."""

    grid: Grid
    county: shapely.Polygon  # GK metres
    inside: np.ndarray  # (ny, nx) bool: cell centre inside the county
    elev: np.ndarray  # (ny, nx) m
    slope: np.ndarray  # (ny, nx) degrees
    parent: np.ndarray  # (size,) downstream cell (flat index), -1 at outlets
    acc_km2: np.ndarray  # (ny, nx) catchment area (km²)
    river: np.ndarray  # (ny, nx) bool: a mapped stream runs through the cell
    order: np.ndarray  # (ny, nx) Strahler order on river cells, 0 elsewhere
    river_dist: np.ndarray  # (ny, nx) m to the nearest river cell
    river_near: np.ndarray  # (ny, nx) flat index of the nearest river cell
    terrain_class: str


def cell_size_for(area_km2: float, target_cells: int = 160_000) -> float:
    """Raster resolution giving about ``target_cells`` cells over the county (50–500 m)."""
    return float(np.clip(np.sqrt(area_km2 * 1e6 / target_cells), 50.0, 500.0))


def spectral_noise(shape: tuple[int, int], gen: np.random.Generator, beta: float,
                   lmax: float, lmin: float = 2.0) -> np.ndarray:
    """Gaussian noise with power spectrum ∝ f^-beta between wavelengths lmin..lmax (cells),
    normalised to zero mean and unit standard deviation."""
    ny, nx = shape
    white = gen.standard_normal(shape)
    spec = np.fft.rfft2(white)
    fy = np.fft.fftfreq(ny)[:, None]
    fx = np.fft.rfftfreq(nx)[None, :]
    f = np.hypot(fx, fy)
    with np.errstate(divide="ignore"):
        amp = np.where(f > 0, f ** (-beta / 2), 0.0)
    with np.errstate(divide="ignore"):
        amp *= np.where(f > 0, 1.0 / (1.0 + (np.maximum(f, 1e-12) * lmax) ** -4), 0.0)  # soft high-pass
    amp *= np.exp(-((f * lmin) ** 2))  # soft low-pass at lmin
    field = np.fft.irfft2(spec * amp, s=shape)
    field -= field.mean()
    sd = field.std()
    return field / sd if sd > 0 else field


def ridged_noise(shape: tuple[int, int], gen: np.random.Generator, lmax: float,
                 octaves: int = 5, gain: float = 0.5) -> np.ndarray:
    """Ridged multifractal: sum over octaves of (1 - |band-pass noise|)², sharp crests."""
    out = np.zeros(shape)
    amp = 1.0
    lam = lmax
    total = 0.0
    for _ in range(octaves):
        n = spectral_noise(shape, gen, 0.0, lam * 1.5, lam / 1.5)
        r = (1.0 - np.clip(np.abs(n) / 2.0, 0, 1)) ** 2
        out += amp * r
        total += amp
        amp *= gain
        lam /= 2.0
        if lam < 3:
            break
    return out / total


def _normalise(z: np.ndarray, mask: np.ndarray) -> np.ndarray:
    lo, hi = np.percentile(z[mask], [0.5, 99.8]) if mask.any() else (z.min(), z.max())
    return np.clip((z - lo) / max(hi - lo, 1e-9), 0.0, 1.05)


def heightfield(grid: Grid, geo: CountyGeo, inside: np.ndarray, gen: np.random.Generator) -> np.ndarray:
    """Relative relief in [0, ~1] shaped by the terrain class (before valley carving)."""
    p = TERRAIN_SHAPE[geo.terrain]
    width_cells = np.sqrt(geo.area_km2 * 1e6) / grid.cell
    lmax = max(8.0, p["scale"] * width_cells * 2.5)
    base = spectral_noise(grid.shape, gen, p["beta"], lmax=lmax * 2)
    ridge = ridged_noise(grid.shape, gen, lmax=lmax)
    h = (1 - p["ridge"]) * _normalise(base, inside) + p["ridge"] * _normalise(ridge, inside)
    gx, gy = grid.centers()
    cx, cy = gx[inside].mean(), gy[inside].mean()
    span = np.sqrt(geo.area_km2 * 1e6)
    if geo.terrain == "piedmont":
        az = np.deg2rad(geo.mountain_azimuth)
        s = ((gx - cx) * np.sin(az) + (gy - cy) * np.cos(az)) / span
        ramp = 1 / (1 + np.exp(-(s - gen.uniform(-0.1, 0.1)) * 9))
        flat = 0.08 * _normalise(spectral_noise(grid.shape, gen, 3.0, lmax=lmax), inside)
        h = (1 - ramp) * flat + ramp * (0.25 + 0.75 * h)
    else:
        h = _normalise(h, inside) ** p["flat"]
    ang = gen.uniform(0, 2 * np.pi)
    tilt = ((gx - cx) * np.cos(ang) + (gy - cy) * np.sin(ang)) / span
    h = h + p["tilt"] * tilt
    return _normalise(h, inside)


def build_terrain(geo: CountyGeo, county: shapely.Polygon, seed: int, *,
                  cell: float | None = None, stream_km2: float | None = None) -> Terrain:
    """The county's terrain raster (see module doc). ``cell`` overrides the resolution;
    ``stream_km2`` the catchment area at which a stream is mapped (default by terrain)."""
    from pianqu.synth import hydrology

    gen = rng(seed, geo.code, "terrain")
    cell = cell or cell_size_for(geo.area_km2)
    bounds = county.bounds
    margin = 0.08 * max(bounds[2] - bounds[0], bounds[3] - bounds[1]) + 4 * cell
    grid = make_grid(bounds, cell, margin)
    inside = inside_mask(grid, county)
    h = heightfield(grid, geo, inside, gen)
    relief = geo.elev_max - geo.elev_min
    z = h * relief
    if stream_km2 is None:
        stream_km2 = {"plain": 12.0, "hill": 6.0, "mountain": 4.0, "piedmont": 5.0,
                      "alpine": 8.0, "plateau": 12.0}[geo.terrain] * max(1.0, cell / 150.0) ** 2
    dr = hydrology.drain(grid, z, stream_km2)
    z = hydrology.carve(grid, z, dr, TERRAIN_SHAPE[geo.terrain], gen)
    # scale to the county's elevation range (inside the county)
    zin = z[inside]
    lo, hi = np.percentile(zin, 0.0), np.percentile(zin, 99.9)
    z = geo.elev_min + (z - lo) / max(hi - lo, 1e-9) * relief
    slope = slope_degrees(z, cell)
    return Terrain(grid, county, inside, z, slope, dr.parent, dr.acc_km2, dr.river, dr.order,
                   dr.river_dist, dr.river_near, geo.terrain)


def slope_degrees(z: np.ndarray, cell: float) -> np.ndarray:
    """Slope (degrees) by central differences (Horn-like smoothing with a 3×3 mean first)."""
    zs = ndimage.uniform_filter(z, size=3, mode="nearest")
    gy, gx = np.gradient(zs, cell)
    return np.degrees(np.arctan(np.hypot(gx, gy)))
