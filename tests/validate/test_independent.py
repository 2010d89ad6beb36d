"""The geometric checks against independent answers on random data: every pair intersected
(no coverage prefilter, no spatial index) for overlaps, a plain ``union_all`` for gaps, and
networkx plus an all-pairs distance matrix for the road checks."""

from __future__ import annotations

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
import shapely
from pyproj import Geod

from pianqu.config import load_config
from pianqu.validate import validate_layers

EPSG = 4545
X0, Y0, X1, Y1 = 107.20, 31.80, 107.26, 31.85


def _random_partition(seed: int, n: int = 120, moves: int = 8):
    """Voronoi cells tiling a box, then some vertices moved in one cell only (overlaps and gaps)."""
    rng = np.random.default_rng(seed)
    box = shapely.box(X0, Y0, X1, Y1)
    pts = shapely.multipoints(np.c_[rng.uniform(X0, X1, n), rng.uniform(Y0, Y1, n)])
    cells = shapely.intersection(shapely.get_parts(shapely.voronoi_polygons(pts, extend_to=box)), box)
    cells = [c for c in cells if c.geom_type == "Polygon"]
    for k in rng.choice(len(cells), moves, replace=False):
        xy = np.asarray(cells[k].exterior.coords)
        v = rng.integers(0, len(xy) - 1)
        xy[v] += rng.normal(0, 0.0015, 2)
        if v == 0:
            xy[-1] = xy[0]
        moved = shapely.make_valid(shapely.Polygon(xy), method="structure", keep_collapsed=False)
        cells[k] = max(shapely.get_parts(moved), key=lambda g: g.area)
    cells.append(cells[3])  # one polygon imported twice
    return box, np.array(cells, dtype=object)


def _measure(geoms):
    """Ellipsoidal area (pyproj.Geod on the degrees, as 三调 TBMJ) and mean width in the GK zone."""
    geod = Geod(ellps="GRS80")
    area = np.array([abs(geod.geometry_area_perimeter(g)[0]) if not g.is_empty else 0.0 for g in geoms])
    length = gpd.GeoSeries(geoms, crs=4490).to_crs(EPSG).length.to_numpy()
    return area, np.where(length > 0, 2 * area / np.maximum(length, 1e-12), 0)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_overlaps_and_gaps_match_brute_force(seed):
    cfg = load_config()
    tol, sliver = cfg["validate.overlap_tolerance_m2"], cfg["validate.sliver_width_m"]
    box, cells = _random_partition(seed)
    ids = [f"511921{k:03d}" for k in range(len(cells))]
    county = gpd.GeoDataFrame({"code": ["511921"], "name": ["x"]}, geometry=[box], crs=4490)
    town = gpd.GeoDataFrame({"code": ids, "name": ids, "county_code": "511921", "kind": "镇",
                             "population": 1000}, geometry=list(cells), crs=4490)
    found = validate_layers({"county": county, "township": town}, config=cfg, county_code="511921",
                            compute_epsg=EPSG)
    overlaps = {tuple(sorted((f.feature, f.params["other"]))) for f in found if f.rule == "validate.overlap"}
    gaps = sorted(f.params["area_m2"] for f in found if f.rule == "validate.gap")

    i, j = np.triu_indices(len(cells), 1)  # every pair
    area, width = _measure(shapely.intersection(cells[i], cells[j]))
    hit = (area > tol) & (width > sliver)
    expected = {tuple(sorted((ids[a], ids[b]))) for a, b in zip(i[hit], j[hit])}
    assert expected and overlaps == expected
    assert (ids[3], ids[-1]) in overlaps  # the duplicate

    pieces = shapely.get_parts(shapely.difference(box, shapely.union_all(cells)))
    area, width = _measure(pieces)
    expected_gaps = sorted(round(float(a), 2) for a, w in zip(area, width) if a > tol and w > sliver)
    assert expected_gaps and gaps == pytest.approx(expected_gaps, rel=1e-6, abs=0.02)


def _random_roads(seed: int, n: int = 90):
    rng = np.random.default_rng(seed)
    pts = np.c_[rng.uniform(X0, X1, n), rng.uniform(Y0, Y1, n)]
    edges = shapely.get_parts(shapely.delaunay_triangles(shapely.multipoints(pts), only_edges=True))
    keep = rng.random(len(edges)) > 0.45  # thin out: dead ends and separate pieces appear
    edges = edges[keep]
    deg_per_m = 1 / 110574
    loose = rng.choice(len(edges), 6, replace=False)
    for k in loose:  # pull one end back by 0.2–0.8 m: no longer noded
        xy = np.asarray(edges[k].coords)
        d = xy[0] - xy[1]
        xy[1] = xy[1] + d / np.linalg.norm(d) * rng.uniform(0.2, 0.8) * deg_per_m
        edges[k] = shapely.LineString(xy)
    return edges


@pytest.mark.parametrize("seed", [4, 5])
def test_road_checks_match_networkx_and_all_pairs_distances(seed):
    cfg = load_config()
    tol = cfg["validate.road_node_tolerance_m"]
    edges = _random_roads(seed)
    ids = [f"R{k:03d}" for k in range(len(edges))]
    road = gpd.GeoDataFrame({"id": ids, "class": "village"}, geometry=list(edges), crs=4490)
    found = validate_layers({"road": road}, config=cfg, compute_epsg=EPSG)

    gk = gpd.GeoSeries(edges, crs=4490).to_crs(EPSG).to_numpy()
    ends = np.array([[shapely.get_point(g, 0), shapely.get_point(g, -1)] for g in gk], dtype=object)
    key = np.vectorize(lambda p: (round(p.x, 3), round(p.y, 3)), otypes=[object])(ends)

    # not noded: an end within the tolerance of another road and equal to none of its ends
    dist = shapely.distance(ends.reshape(-1, 1), gk.reshape(1, -1))  # (2n, n)
    expected_loose = set()
    for e in range(2 * len(gk)):
        seg = e // 2
        near = [s for s in np.nonzero(dist[e] <= tol)[0] if s != seg]
        if near and not any(key.flat[e] in (key[s, 0], key[s, 1]) for s in near):
            expected_loose.add(ids[seg])
    loose = {f.feature for f in found if f.rule == "validate.road_not_noded"}
    assert expected_loose and loose == expected_loose

    # pieces cut off: every connected component but the longest
    g = nx.MultiGraph()
    for k, geom in enumerate(gk):
        g.add_edge(key[k, 0], key[k, 1], id=ids[k], length=geom.length)
    comps = [sorted(d["id"] for _, _, d in g.subgraph(c).edges(data=True)) for c in nx.connected_components(g)]
    lengths = [sum(gk[ids.index(r)].length for r in c) for c in comps]
    main = int(np.argmax(lengths))
    expected_pieces = {tuple(c) for k, c in enumerate(comps) if k != main}
    pieces = {tuple(f.params["roads"].split(", ")) for f in found if f.rule == "validate.road_disconnected"}
    assert len(expected_pieces) > 1 and pieces == expected_pieces
