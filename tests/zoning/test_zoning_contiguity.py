"""Adjacency: shared-boundary tolerance, snapping, road requirement, islands, enclaves."""

import geopandas as gpd
import numpy as np
import pytest
import shapely

from pianqu.zoning import adjacency

GK = 4543  # CGCS2000 3° GK CM 102E (metres)


def grid(nx_, ny, size=5000.0, gap=0.0, x0=400_000.0, y0=3_300_000.0):
    polys, codes = [], []
    for j in range(ny):
        for i in range(nx_):
            polys.append(shapely.box(x0 + i * size + gap, y0 + j * size + gap, x0 + (i + 1) * size, y0 + (j + 1) * size))
            codes.append(f"T{j}{i}")
    return gpd.GeoDataFrame({"code": codes, "population": 1000}, geometry=polys, crs=GK).to_crs(4490)


def edge_set(adj):
    return {tuple(sorted(p)) for p in zip(adj.edges["code_i"], adj.edges["code_j"])}


def test_grid_is_rook_not_queen():
    g = grid(4, 3)
    adj = adjacency(g, county=None)
    expected = set()
    for j in range(3):
        for i in range(4):
            if i < 3:
                expected.add(tuple(sorted((f"T{j}{i}", f"T{j}{i + 1}"))))
            if j < 2:
                expected.add(tuple(sorted((f"T{j}{i}", f"T{j + 1}{i}"))))
    assert edge_set(adj) == expected  # corner contacts are no link
    assert np.allclose(adj.edges["shared_m"], 5000.0, rtol=2e-3)
    assert np.allclose(adj.perimeter_m, 20000.0, rtol=2e-3)
    assert np.allclose(adj.area_m2, 25e6, rtol=3e-3)
    assert not adj.findings


def test_snap_absorbs_digitising_gaps_but_not_real_gaps():
    # every cell shrunk by 2 m on its lower-left sides: borders no longer coincide
    small = adjacency(grid(3, 1, gap=2.0), county=None)
    assert len(small.edges) == 2
    far = adjacency(grid(3, 1, gap=50.0), county=None, islands="report")
    assert len(far.edges) == 0
    assert {f.rule for f in far.findings} == {"zoning.island"}


def test_tolerance_drops_short_borders():
    a = shapely.box(0, 0, 1000, 1000)
    b = shapely.box(1000, 950, 2000, 1950)  # 50 m of common border
    c = shapely.box(0, 1000, 1000, 2000)
    g = gpd.GeoDataFrame({"code": ["a", "b", "c"]}, geometry=[a, b, c], crs=GK).to_crs(4490)
    assert edge_set(adjacency(g, county=None, tolerance_m=10)) == {("a", "b"), ("a", "c"), ("b", "c")}
    adj = adjacency(g, county=None, tolerance_m=100)
    assert ("a", "b") not in edge_set(adj)
    assert ("b", "c") in edge_set(adj)  # 950 m


def test_road_requirement():
    g = grid(3, 1)
    x0, y0 = 400_000.0, 3_300_000.0
    road = gpd.GeoSeries([shapely.LineString([(x0 + 2500, y0 + 2500), (x0 + 7500, y0 + 2500)])], crs=GK)
    adj = adjacency(g, county=None, roads=road, islands="report")
    assert edge_set(adj) == {("T00", "T01")}
    rules = [f.rule for f in adj.findings]
    assert rules.count("zoning.no_road_across") == 1
    assert "zoning.island" in rules  # T02 is now cut off, and said so


def test_island_attached_by_road_and_reported():
    g = grid(3, 1)
    island = shapely.box(430_000, 3_300_000, 435_000, 3_305_000)  # 15 km east, no shared border
    g = gpd.GeoDataFrame({"code": list(g["code"]) + ["ISL"], "population": 1000},
                         geometry=list(g.to_crs(GK).geometry) + [island], crs=GK).to_crs(4490)
    T = np.full((4, 4), 3600.0)
    np.fill_diagonal(T, 0)
    T[3, 1] = T[1, 3] = 600.0  # a ferry-like fast link to the middle unit
    adj = adjacency(g, county=None, travel_s=T)
    assert ("ISL", "T01") in edge_set(adj)
    f = [f for f in adj.findings if f.rule == "zoning.island_attached"]
    assert len(f) == 1 and f[0].feature == "ISL" and f[0].params["nearest"] == "T01"
    assert "T01" in f[0].message("en") and "ISL" in f[0].message("zh")
    assert len(set(adj.components())) == 1
    # without travel times: nearest by straight line (T02), and in report mode no link at all
    adj2 = adjacency(g, county=None)
    assert ("ISL", "T02") in edge_set(adj2)
    adj3 = adjacency(g, county=None, islands="report")
    assert len(set(adj3.components())) == 2
    assert [f.rule for f in adj3.findings] == ["zoning.island"]


def test_islands_are_per_county():
    g = grid(4, 1)
    g["county_code"] = ["A", "A", "B", "B"]
    adj = adjacency(g, islands="report")
    assert not adj.findings  # each county is connected on its own
    g["county_code"] = ["A", "B", "A", "B"]  # A = {T00, T02} is split by T01 of county B
    adj = adjacency(g, islands="report")
    assert {f.feature for f in adj.findings if f.rule == "zoning.island"} <= {"T00", "T02", "T01", "T03"}
    assert sum(f.rule == "zoning.island" for f in adj.findings) == 2  # one cut-off part in A and in B


def test_enclave_is_reported():
    host = shapely.box(0, 0, 9000, 9000).difference(shapely.box(3000, 3000, 6000, 6000))
    inner = shapely.box(3000, 3000, 6000, 6000)
    other = shapely.box(9000, 0, 18000, 9000)
    g = gpd.GeoDataFrame({"code": ["host", "inner", "other"]}, geometry=[host, inner, other],
                         crs=GK).to_crs(4490)
    adj = adjacency(g, county=None)
    f = [f for f in adj.findings if f.rule == "zoning.enclave"]
    assert len(f) == 1 and f[0].feature == "inner" and f[0].params["host"] == "host"


def test_bad_input_is_named():
    g = grid(2, 1)
    g2 = g.copy()
    g2.loc[1, "code"] = "T00"
    with pytest.raises(ValueError, match="T00.*more than once"):
        adjacency(g2, county=None)
    with pytest.raises(ValueError, match="no column 'xzqdm'"):
        adjacency(g, code="xzqdm")
    with pytest.raises(ValueError, match="shape"):
        adjacency(grid(2, 1, gap=100), county=None, travel_s=np.zeros((3, 3)))


def test_subset_and_extra_links():
    adj = adjacency(grid(3, 2), county=None)
    sub = adj.subset(np.array([0, 1, 3]))
    assert list(sub.codes) == ["T00", "T01", "T10"]
    assert edge_set(sub) == {("T00", "T01"), ("T00", "T10")}
    more = adj.with_edges([("T00", "T12")], kind="user")
    assert ("T00", "T12") in edge_set(more) and len(more.edges) == len(adj.edges) + 1
    with pytest.raises(KeyError, match="XX"):
        adj.with_edges([("T00", "XX")])
