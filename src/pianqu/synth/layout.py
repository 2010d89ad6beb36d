"""Where each synthetic county sits and what outline it has.

``county_geo.csv`` (the generator's own table) holds, for each of the 183 Sichuan counties, an
approximate area and elevation range; the approximate centroid and terrain class come from the
planning table ``standards/county_centres.csv`` (recalled / inferred, see their ``sureness`` and
``source`` columns; they are the only inputs of the generator that are not NBS or census data).

Counties of a province build must not overlap, so every county is drawn inside its own region
of a *power diagram* of the province: the sites are the approximate real centroids and the
weights are tuned until each region's area is proportional to the county's area. A county's
outline is a random star-shaped blob of the county's area, centred in its region and clipped
to it. The layout does not depend on the seed or on which counties are built, so a county
looks the same whether it is built alone or with the whole province.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Transformer
from scipy.spatial import cKDTree

from pianqu import divisions
from pianqu.geo import STORAGE_EPSG, gk3_epsg
from pianqu.standards import table as standards_table
from pianqu.synth._util import GRID_SIZE, rng

TERRAINS = ("plain", "hill", "mountain", "piedmont", "alpine", "plateau")
# A province-wide equal-area projection (CGCS2000 ellipsoid) for the layout only.
PROVINCE_CRS = CRS.from_proj4("+proj=aea +lat_1=27 +lat_2=33 +lat_0=30 +lon_0=103 +ellps=GRS80 "
                              "+units=m +no_defs")
REGION_GAP_M = 50.0  # regions are shrunk by this much so neighbouring counties never touch


@dataclass(frozen=True)
class CountyGeo:
    """One row of ``county_geo.csv`` plus the real names and census of the county."""

    code: str
    name: str
    lon: float
    lat: float
    area_km2: float
    terrain: str
    elev_min: float
    elev_max: float
    mountain_azimuth: float  # for piedmont counties: direction (deg from north) of the mountains

    @property
    def epsg(self) -> int:
        return gk3_epsg(self.lon)


@cache
def county_geo_table() -> pd.DataFrame:
    """``county_geo.csv`` joined with the county centres and terrain of ``county_centres`` (code as str)."""
    with resources.files("pianqu.synth").joinpath("county_geo.csv").open("rb") as fh:
        gen = pd.read_csv(fh, dtype={"code": str}).drop(columns=["name", "sureness", "source"])
    centres = standards_table("county_centres")[["code", "name", "lon", "lat", "terrain", "sureness", "source"]]
    df = centres.astype({"code": str, "name": str, "terrain": str}).merge(gen, on="code", how="inner", validate="1:1")
    if len(df) != len(gen) or len(df) != len(centres):
        raise ValueError("pianqu/synth/county_geo.csv and standards/county_centres.csv list different counties")
    bad = set(df["terrain"]) - set(TERRAINS)
    if bad:
        raise ValueError(f"pianqu/synth/county_geo.csv: unknown terrain classes {sorted(bad)}")
    return df


def county_geo(code: str) -> CountyGeo:
    """The layout row of one county; a clear error for a code that is not a Sichuan county."""
    divisions.county(code)  # raises a KeyError naming the code when it is not a county
    df = county_geo_table()
    hit = df[df["code"] == str(code)]
    if hit.empty:
        raise KeyError(f"county {code} has no row in pianqu/synth/county_geo.csv or standards/county_centres.csv")
    r = hit.iloc[0]
    az = float(r["mountain_azimuth"]) if pd.notna(r["mountain_azimuth"]) else 300.0
    return CountyGeo(str(r["code"]), str(r["name"]), float(r["lon"]), float(r["lat"]),
                     float(r["area_km2"]), str(r["terrain"]), float(r["elev_min"]),
                     float(r["elev_max"]), az)


def _power_cells(sites: np.ndarray, weights: np.ndarray, hull: shapely.Geometry) -> np.ndarray:
    """Exact power-diagram cells (convex) clipped to ``hull``: cell i = {x : |x-c_i|² - w_i ≤
    |x-c_j|² - w_j for all j}, by clipping a box with the other sites' half planes, nearest
    bisector first, stopping once the next bisector lies beyond the cell."""
    n = len(sites)
    x0, y0, x1, y1 = hull.bounds
    box = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=float)
    sq = (sites ** 2).sum(axis=1)
    cells = np.empty(n, dtype=object)
    for i in range(n):
        d = np.hypot(*(sites - sites[i]).T)
        d[i] = np.inf
        # distance from site i to its bisector with j (may be negative for heavy neighbours)
        with np.errstate(invalid="ignore"):
            t = (d ** 2 + weights[i] - weights) / (2 * d)
        order = np.argsort(t)
        poly = box
        for j in order:
            if j == i or not np.isfinite(t[j]):
                continue
            reach = np.hypot(*(poly - sites[i]).T).max() if len(poly) else 0.0
            if t[j] > reach:
                break
            a = 2 * (sites[j] - sites[i])
            b = sq[j] - sq[i] - weights[j] + weights[i]
            poly = _clip_halfplane(poly, a, b)
            if len(poly) < 3:
                break
        cells[i] = shapely.intersection(shapely.Polygon(poly), hull) if len(poly) >= 3 else shapely.Polygon()
    return cells


def _clip_halfplane(poly: np.ndarray, a: np.ndarray, b: float) -> np.ndarray:
    """Sutherland–Hodgman: the convex polygon ``poly`` (vertex array) ∩ {x : a·x <= b}."""
    s = poly @ a - b
    if np.all(s <= 0):
        return poly
    if np.all(s > 0):
        return np.zeros((0, 2))
    out = []
    m = len(poly)
    for k in range(m):
        p, q = poly[k], poly[(k + 1) % m]
        sp, sq_ = s[k], s[(k + 1) % m]
        if sp <= 0:
            out.append(p)
        if (sp <= 0) != (sq_ <= 0):
            t = sp / (sp - sq_)
            out.append(p + t * (q - p))
    return np.asarray(out)


@cache
def province_layout() -> pd.DataFrame:
    """Each county's region (a convex polygon in ``PROVINCE_CRS``) and centre.

    Discs of each county's area start at the approximate real centroids and are pushed
    apart until none overlap (a weak pull keeps them near their real place). The regions are
    the power-diagram (Laguerre) cells of these discs: for discs that do not overlap, each disc
    lies inside its own cell, so every region has room for its county.
    """
    df = county_geo_table()
    to_aea = Transformer.from_crs(STORAGE_EPSG, PROVINCE_CRS, always_xy=True)
    x, y = to_aea.transform(df["lon"].to_numpy(), df["lat"].to_numpy())
    home = np.column_stack([x, y])
    radius = np.sqrt(df["area_km2"].to_numpy() * 1e6 / np.pi)
    pos = _separate_discs(home, radius)
    hull = shapely.convex_hull(shapely.MultiPoint(pos)).buffer(float(radius.max()), quad_segs=8)
    cells = _power_cells(pos, radius ** 2, hull)
    cells = shapely.buffer(cells, -REGION_GAP_M, join_style="mitre")
    return pd.DataFrame({"code": df["code"], "region": cells, "cx": pos[:, 0], "cy": pos[:, 1]})


def _separate_discs(home: np.ndarray, radius: np.ndarray, iterations: int = 5000) -> np.ndarray:
    """Move discs (centres ``home``, radii ``radius``) apart until no two overlap; each step
    moves both discs of an overlapping pair half the overlap apart (plus 1 m), so discs move
    only as far as they must. Deterministic. Only pairs that could touch are examined."""
    pos = home.astype(float).copy()
    reach = 2.0 * radius.max()
    pairs = np.zeros((0, 2), dtype=np.int64)
    for it in range(iterations):
        if it % 10 == 0:  # candidate pairs: centres closer than the two largest radii (+ slack)
            pairs = cKDTree(pos).query_pairs(reach * 1.2, output_type="ndarray")
        i, j = pairs[:, 0], pairs[:, 1]
        d = pos[i] - pos[j]
        dist = np.hypot(d[:, 0], d[:, 1])
        over = radius[i] + radius[j] - dist
        hit = over > 0
        if not hit.any():
            if it % 10 == 0:
                break
            pairs = cKDTree(pos).query_pairs(reach * 1.2, output_type="ndarray")
            continue
        i, j, d, dist, over = i[hit], j[hit], d[hit], dist[hit], over[hit]
        step = (0.5 * over + 1.0)[:, None] * d / np.maximum(dist, 1e-9)[:, None]
        move = np.zeros_like(pos)
        np.add.at(move, i, step)
        np.add.at(move, j, -step)
        pos += move
    return pos


def county_region(code: str, epsg: int) -> tuple[shapely.Geometry, tuple[float, float]]:
    """The county's region of the province layout and its centre, in EPSG ``epsg``."""
    lay = province_layout()
    row = lay[lay["code"] == str(code)].iloc[0]
    tr = Transformer.from_crs(PROVINCE_CRS, CRS.from_epsg(epsg), always_xy=True)
    region = shapely.transform(shapely.segmentize(row["region"], 2000.0),
                               lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1])))
    cx, cy = tr.transform(row["cx"], row["cy"])
    return region, (float(cx), float(cy))


def county_outline(geo: CountyGeo, seed: int, n_vertices: int = 1024) -> shapely.Polygon:
    """The county polygon in its GK zone: a star-shaped blob of the county's area with a
    fractal edge, centred in its layout region. Where the blob would leave the region it
    follows the region's edge, pulled in by a wiggle so the border never looks ruled.
    Coordinates lie on the 1 cm grid."""
    gen = rng(seed, geo.code, "outline")
    region, (cx, cy) = county_region(geo.code, geo.epsg)
    theta = np.linspace(0, 2 * np.pi, n_vertices, endpoint=False)
    ks = np.arange(1, 129)
    amp = 0.22 * ks ** -1.15 * gen.lognormal(0, 0.25, len(ks))
    amp[0] *= 0.5  # k=1 only shifts the blob
    phase = gen.uniform(0, 2 * np.pi, len(ks))
    log_r = (amp[:, None] * np.cos(ks[:, None] * theta[None, :] + phase[:, None])).sum(axis=0)
    shape = np.exp(log_r - log_r.mean())
    wig = (amp[8:, None] * np.cos(ks[8:, None] * theta[None, :] + phase[::-1][8:, None])).sum(axis=0)
    wig = 1.0 - 0.8 * np.abs(wig) - 0.004
    # distance from the centre to the region's edge along each ray
    far = 4.0 * np.sqrt(region.area)
    rays = shapely.linestrings(np.stack([np.column_stack([np.full_like(theta, cx), np.full_like(theta, cy)]),
                                         np.column_stack([cx + far * np.sin(theta), cy + far * np.cos(theta)])],
                                        axis=1))
    hits = shapely.intersection(rays, region)
    reach = shapely.length(hits)
    cap = reach * np.clip(wig, 0.85, 1.0)
    target = geo.area_km2 * 1e6

    def ring(scale: float) -> np.ndarray:
        r = np.minimum(scale * shape, cap)
        return np.column_stack([cx + r * np.sin(theta), cy + r * np.cos(theta)])

    def area(xy: np.ndarray) -> float:
        x, y = xy[:, 0], xy[:, 1]
        return 0.5 * abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))

    lo, hi = 0.0, 3.0 * np.sqrt(target / np.pi)
    for _ in range(60):
        mid = (lo + hi) / 2
        if area(ring(mid)) < target:
            lo = mid
        else:
            hi = mid
    poly = shapely.make_valid(shapely.Polygon(ring(hi)))
    poly = shapely.intersection(poly, region, grid_size=GRID_SIZE)
    if poly.geom_type != "Polygon":  # keep the largest piece
        poly = max(shapely.get_parts(poly), key=lambda p: p.area)
    return shapely.Polygon(poly.exterior)
