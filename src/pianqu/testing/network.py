"""Generated road networks for tests and benchmarks (synthetic geometry, never real data).

``sample_county`` draws a county-like network: a county seat and town seats joined by a
spanning tree of national/provincial roads and a Gabriel graph of county roads, villages joined
by a relative-neighbourhood graph of township/village roads, one village in ten reached by a
single road only (single access), dead-end spurs into the fields, an expressway that crosses everything without
a junction except at two interchanges, and an island of village roads not joined to the rest.
The defects (dead ends near other roads, cut edges, detours) arise from how the roads are
drawn; nothing here lists them. ``sample_province`` is the same idea at province scale
(a planar Gabriel graph, vectorised) for benchmarks.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.spatial import Delaunay, cKDTree
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import minimum_spanning_tree

SAMPLE_EPSG = 4544  # CGCS2000 3° GK, CM 105°E (eastern Sichuan)


@dataclass(frozen=True)
class SampleCounty:
    roads: gpd.GeoDataFrame  # EPSG:4490, road schema
    settlements: gpd.GeoDataFrame  # EPSG:4490, settlement schema
    boundary: gpd.GeoDataFrame  # EPSG:4490, county polygon
    epsg: int = SAMPLE_EPSG


def _delaunay_edges(xy: np.ndarray) -> np.ndarray:
    tri = Delaunay(xy)
    s = tri.simplices
    e = np.r_[s[:, [0, 1]], s[:, [1, 2]], s[:, [2, 0]]]
    e = np.sort(e, axis=1)
    return np.unique(e, axis=0)


def _gabriel(xy: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Keep Delaunay edges whose diametral circle holds no other point."""
    mid = (xy[edges[:, 0]] + xy[edges[:, 1]]) / 2
    r = np.hypot(*(xy[edges[:, 0]] - xy[edges[:, 1]]).T) / 2
    tree = cKDTree(xy)
    d, _ = tree.query(mid, k=3)
    # nearest points to the midpoint are the two ends (at distance r) unless another is inside
    inside = d[:, 0] < r * (1 - 1e-9)
    inside |= d[:, 2] < r * (1 - 1e-9)
    return edges[~inside]


def _rng_graph(xy: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Relative neighbourhood graph: drop an edge when a third point is nearer to both ends."""
    tree = cKDTree(xy)
    length = np.hypot(*(xy[edges[:, 0]] - xy[edges[:, 1]]).T)
    near = tree.query_ball_point(xy[edges[:, 0]], length * (1 - 1e-9))
    cnt = np.array([len(c) for c in near])
    k = np.repeat(np.arange(len(edges)), cnt)
    c = np.concatenate([np.asarray(c, dtype=np.int64) for c in near]) if len(near) else np.zeros(0, np.int64)
    b = edges[k, 1]
    lune = (c != edges[k, 0]) & (c != b) & (np.hypot(*(xy[c] - xy[b]).T) < length[k] * (1 - 1e-9))
    keep = np.bincount(k[lune], minlength=len(edges)) == 0
    return edges[keep]


def _polylines(a: np.ndarray, b: np.ndarray, rng: np.random.Generator, pieces: int = 4,
               wiggle: float = 0.03) -> np.ndarray:
    """Straight segments a→b bent at ``pieces - 1`` inner vertices (ends exact)."""
    t = np.linspace(0, 1, pieces + 1)
    d = b - a
    nrm = np.c_[-d[:, 1], d[:, 0]]
    off = rng.normal(0, wiggle, (len(a), pieces + 1))
    off[:, [0, -1]] = 0
    pts = a[:, None, :] + t[None, :, None] * d[:, None, :] + off[:, :, None] * nrm[:, None, :]
    idx = np.repeat(np.arange(len(a)), pieces + 1)
    return shapely.linestrings(pts.reshape(-1, 2), indices=idx)


def sample_county(n_villages: int = 300, n_towns: int = 20, size_km: float = 40.0, seed: int = 0,
                  n_hamlets: int = 0,
                  origin: tuple[float, float] = (500_000.0, 3_300_000.0)) -> SampleCounty:
    """A county-like road network with settlements, in EPSG:4490 (drawn in EPSG:4544)."""
    rng = np.random.default_rng(seed)
    size = size_km * 1000.0
    x0, y0 = origin
    centre = np.array([x0 + size / 2, y0 + size / 2])
    towns = centre + rng.uniform(-0.42, 0.42, (n_towns * 3, 2)) * size
    # thin towns to a minimum spacing
    keep: list[int] = []
    for i, p in enumerate(towns):
        if all(np.hypot(*(p - towns[j])) > size / np.sqrt(n_towns) * 0.6 for j in keep):
            keep.append(i)
        if len(keep) == n_towns:
            break
    towns = np.r_[centre[None], towns[keep]]
    nt = len(towns)
    owner = rng.integers(0, nt, n_villages)
    villages = towns[owner] + rng.normal(0, size / np.sqrt(nt) * 0.35, (n_villages, 2))
    villages = np.clip(villages, [x0 + 500, y0 + 500], [x0 + size - 500, y0 + size - 500])
    # the corner where the island will be drawn stays empty
    isl = np.array([x0 + size * 0.05, y0 + size * 0.95])
    away = np.hypot(*(villages - isl).T) > 3000
    villages, owner = villages[away], owner[away]
    n_villages = len(villages)
    pts = np.r_[towns, villages]
    level = np.r_[["county_seat"], ["town_seat"] * (nt - 1), ["village_seat"] * n_villages]
    nv = len(pts)

    lines, cls = [], []
    # trunk: spanning tree of seats; edges at the county seat national, others provincial
    te = _delaunay_edges(towns)
    tl = np.hypot(*(towns[te[:, 0]] - towns[te[:, 1]]).T)
    mst = minimum_spanning_tree(coo_matrix((tl, (te[:, 0], te[:, 1])), shape=(nt, nt))).tocoo()
    me = np.c_[mst.row, mst.col]
    lines.append(_polylines(towns[me[:, 0]], towns[me[:, 1]], rng, 6, 0.02))
    cls += ["national" if 0 in e else "provincial" for e in me]
    # county roads: the other Gabriel edges between seats
    ge = _gabriel(towns, te)
    mset = {tuple(sorted(e)) for e in me.tolist()}
    ce = np.array([e for e in ge.tolist() if tuple(e) not in mset]).reshape(-1, 2)
    lines.append(_polylines(towns[ce[:, 0]], towns[ce[:, 1]], rng, 6, 0.03))
    cls += ["county"] * len(ce)
    # one village in ten is remote: reached by a single road from its nearest neighbour
    remote = np.r_[np.zeros(nt, bool), rng.random(n_villages) < 0.1]
    # village roads: relative neighbourhood graph of the other settlements, minus seat-seat pairs
    core = np.flatnonzero(~remote)
    ae = core[_rng_graph(pts[core], _delaunay_edges(pts[core]))]
    ae = ae[(ae >= nt).any(axis=1)]
    lines.append(_polylines(pts[ae[:, 0]], pts[ae[:, 1]], rng, 4, 0.05))
    cls += ["township" if (e < nt).any() else "village" for e in ae]
    rv = np.flatnonzero(remote)
    if len(rv):
        _, j = cKDTree(pts[core]).query(pts[rv], k=1)
        lines.append(_polylines(pts[core[j]], pts[rv], rng, 4, 0.05))
        cls += ["village"] * len(rv)
    # hamlets (自然村/组) hang off the village roads: a relative-neighbourhood graph of
    # hamlets and settlements, hamlet–hamlet and hamlet–settlement edges only
    if n_hamlets:
        hv = rng.integers(nt, nv, n_hamlets)  # noqa: F841 (kept for the random stream)
        ham = pts[hv] + rng.normal(0, 900, (n_hamlets, 2))
        ham = np.clip(ham, [x0 + 200, y0 + 200], [x0 + size - 200, y0 + size - 200])
        ham = ham[np.hypot(*(ham - isl).T) > 3000]
        n_hamlets = len(ham)
        allp = np.r_[pts, ham]
        he = _rng_graph(allp, _delaunay_edges(allp))
        he = he[(he >= nv).any(axis=1) & ~np.r_[remote, np.zeros(n_hamlets, bool)][he].any(axis=1)]
        lines.append(_polylines(allp[he[:, 0]], allp[he[:, 1]], rng, 3, 0.05))
        cls += ["village"] * len(he)
    # dead-end spurs into the fields from a third of the villages
    sv = rng.choice(n_villages, n_villages // 3, replace=False) + nt
    sv = sv[~remote[sv]]
    ang = rng.uniform(0, 2 * np.pi, len(sv))
    ln = rng.uniform(300, 1500, len(sv))
    ends = pts[sv] + np.c_[np.cos(ang), np.sin(ang)] * ln[:, None]
    lines.append(_polylines(pts[sv], ends, rng, 3, 0.05))
    cls += ["village"] * len(sv)
    # an expressway across the county, joined only at two interchanges (shared vertices)
    far = np.argsort(-np.hypot(*(towns - centre).T))[:2]
    ex = np.array([[x0 - 2000, centre[1] - size * 0.1], towns[far[0]], centre, towns[far[1]],
                   [x0 + size + 2000, centre[1] + size * 0.1]])
    ex = ex[np.argsort(ex[:, 0])]
    lines.append(np.array([shapely.LineString(ex)]))
    cls += ["expressway"]
    # an island of village roads with one village, away from the rest
    ring = isl + np.array([[0, 0], [800, 0], [800, 600], [0, 600]])
    lines.append(_polylines(ring, np.roll(ring, -1, axis=0), rng, 2, 0.0))
    cls += ["village"] * 4
    pts = np.r_[pts, isl[None] + [400, 0]]
    level = np.r_[level, ["village_seat"]]
    lines.append(np.array([shapely.LineString([isl + [400, 0], isl + [400, 300]])]))
    cls += ["village"]

    geoms = np.concatenate(lines)
    n = len(geoms)
    cls = np.array(cls)
    speed = np.full(n, np.nan)
    width = np.where(cls == "village", rng.choice([3.5, 4.5], n), np.nan)
    roads = gpd.GeoDataFrame({
        "id": [f"R{i:05d}" for i in range(n)], "class": cls, "name": "", "lanes": pd.array([pd.NA] * n, "Int64"),
        "width_m": width, "speed_kmh": speed, "oneway": np.zeros(n, bool)},
        geometry=gpd.GeoSeries(geoms, crs=SAMPLE_EPSG)).to_crs(4490)
    township = np.r_[np.arange(nt), owner, [0]]
    pop = np.where(level == "county_seat", 80_000, np.where(level == "town_seat", rng.integers(5000, 30000, len(level)),
                                                             rng.integers(300, 3000, len(level))))
    sett = gpd.GeoDataFrame({
        "code": [f"S{i:04d}" for i in range(len(pts))], "name": [f"驻地{i}" for i in range(len(pts))],
        "level": level, "population": pop.astype(int),
        "township_code": [f"T{t:02d}" for t in township],
        "village_code": [f"V{i:04d}" if lv == "village_seat" else "" for i, lv in enumerate(level)]},
        geometry=gpd.GeoSeries(shapely.points(pts), crs=SAMPLE_EPSG)).to_crs(4490)
    box = shapely.box(x0, y0, x0 + size, y0 + size)
    boundary = gpd.GeoDataFrame({"code": ["511921"], "name": ["样例县"]},
                                geometry=gpd.GeoSeries([box], crs=SAMPLE_EPSG)).to_crs(4490)
    return SampleCounty(roads, sett, boundary)


def grid_roads(nx_: int = 5, ny: int = 4, spacing_m: float = 1000.0, cls: str = "county",
               origin: tuple[float, float] = (500_000.0, 3_300_000.0), epsg: int = SAMPLE_EPSG,
               split: bool = False) -> gpd.GeoDataFrame:
    """A square grid of roads; long lines crossing without shared vertices unless ``split``."""
    x0, y0 = origin
    geoms = []
    if split:
        for j in range(ny):
            for i in range(nx_ - 1):
                geoms.append(shapely.LineString([(x0 + i * spacing_m, y0 + j * spacing_m),
                                                 (x0 + (i + 1) * spacing_m, y0 + j * spacing_m)]))
        for i in range(nx_):
            for j in range(ny - 1):
                geoms.append(shapely.LineString([(x0 + i * spacing_m, y0 + j * spacing_m),
                                                 (x0 + i * spacing_m, y0 + (j + 1) * spacing_m)]))
    else:
        for j in range(ny):
            geoms.append(shapely.LineString([(x0, y0 + j * spacing_m), (x0 + (nx_ - 1) * spacing_m, y0 + j * spacing_m)]))
        for i in range(nx_):
            geoms.append(shapely.LineString([(x0 + i * spacing_m, y0), (x0 + i * spacing_m, y0 + (ny - 1) * spacing_m)]))
    n = len(geoms)
    return gpd.GeoDataFrame({"id": [f"G{i}" for i in range(n)], "class": cls, "oneway": False},
                            geometry=gpd.GeoSeries(geoms, crs=epsg))


def sample_province(n_points: int = 100_000, size_km: float = 600.0, seed: int = 0,
                    origin: tuple[float, float] = (300_000.0, 2_900_000.0)) -> gpd.GeoDataFrame:
    """A planar province-scale road network (Gabriel graph of clustered points), EPSG:4544.

    Returned in the GK zone (not 4490) so that benchmarks measure the graph, not reprojection.
    """
    rng = np.random.default_rng(seed)
    size = size_km * 1000
    n_c = max(1, n_points // 500)
    centres = rng.uniform(0, size, (n_c, 2))
    pts = centres[rng.integers(0, n_c, n_points)] + rng.normal(0, size / np.sqrt(n_c) * 0.4, (n_points, 2))
    pts = np.clip(pts, 0, size) + origin
    pts = np.unique(np.round(pts, 1), axis=0)
    e = _gabriel(pts, _delaunay_edges(pts))
    length = np.hypot(*(pts[e[:, 0]] - pts[e[:, 1]]).T)
    order = np.argsort(length)
    rank = np.empty(len(e), int)
    rank[order] = np.arange(len(e))
    q = rank / len(e)
    cls = np.select([q > 0.995, q > 0.97, q > 0.85, q > 0.6], ["national", "provincial", "county", "township"],
                    "village")
    geoms = _polylines(pts[e[:, 0]], pts[e[:, 1]], rng, 2, 0.02)
    return gpd.GeoDataFrame({"id": [f"P{i}" for i in range(len(e))], "class": cls, "oneway": False},
                            geometry=gpd.GeoSeries(geoms, crs=SAMPLE_EPSG))
