"""Settlements in valleys and inside their units; a connected, noded road hierarchy with
dead ends and detours that come from how the roads are built."""

from __future__ import annotations

import networkx as nx
import numpy as np
import shapely

from pianqu import standards


def _gk(frame, epsg):
    return np.asarray(frame.to_crs(epsg).geometry.to_numpy(), dtype=object)


def test_one_seat_per_unit_inside_it(built):
    st, tw, vl = built.layers["settlement"], built.layers["township"], built.layers["village"]
    epsg = built.geo.epsg
    assert (st["level"] == "county_seat").sum() == 1
    towns = st[st["level"] == "town_seat"]
    vills = st[st["level"] == "village_seat"]
    assert sorted(towns["code"]) == sorted(tw["code"])
    assert sorted(vills["code"]) == sorted(vl["code"])
    assert st.loc[st["level"] == "county_seat", "code"].iloc[0] == built.geo.code
    V = dict(zip(vl["code"], _gk(vl, epsg)))
    T = dict(zip(tw["code"], _gk(tw, epsg)))
    pts = _gk(st, epsg)
    for (_, row), p in zip(st.iterrows(), pts):
        assert V[row["village_code"]].covers(p)
        assert T[row["township_code"]].covers(p)
        assert row["village_code"].startswith(row["township_code"])


def test_settlements_in_valleys(built):
    t = built.terrain
    xy = built.atoms.xy[: len(built.layers["village"])]
    slope = t.grid.sample(t.slope, xy[:, 0], xy[:, 1])
    elev = t.grid.sample(t.elev, xy[:, 0], xy[:, 1])
    assert np.median(slope) < np.median(t.slope[t.inside])
    assert np.median(elev) < np.median(t.elev[t.inside])
    # the county seat sits next to a big river
    seat = built.layers["settlement"].query("level == 'county_seat'").to_crs(built.geo.epsg).geometry.iloc[0]
    rivers = built.layers["river"].to_crs(built.geo.epsg)
    big = rivers[rivers["order"] >= rivers["order"].max() - 1]
    assert big.distance(seat).min() < 1500


def _graph(lines: np.ndarray, cls) -> nx.Graph:
    g = nx.Graph()
    for line, c in zip(lines, cls):
        a = tuple(np.round(shapely.get_coordinates(line)[0], 3))
        b = tuple(np.round(shapely.get_coordinates(line)[-1], 3))
        g.add_edge(a, b, length=line.length, cls=c)
    return g


def test_road_network_connected_noded_and_near_settlements(built):
    epsg = built.geo.epsg
    road = built.layers["road"]
    assert road["class"].isin(standards.road_classes()["class"]).all()
    assert {"national", "county", "township", "village"} <= set(road["class"])
    lines = _gk(road, epsg)
    g = _graph(lines, road["class"])
    assert nx.number_connected_components(g) == 1
    # noded: two lines meet only at shared end points
    tree = shapely.STRtree(lines)
    a, b = tree.query(lines, predicate="intersects")
    keep = a < b
    ends = shapely.multipoints(np.stack([shapely.get_coordinates(shapely.get_point(lines, 0)),
                                         shapely.get_coordinates(shapely.get_point(lines, -1))], axis=1))
    inter = shapely.intersection(lines[a[keep]], lines[b[keep]])
    shared = shapely.intersection(ends[a[keep]], ends[b[keep]])
    assert shapely.is_empty(shapely.difference(inter, shapely.buffer(shared, 1e-6))).all()
    # every settlement close to a road
    pts = _gk(built.layers["settlement"], epsg)
    d = shapely.distance(pts[:, None], shapely.union_all(lines)).ravel()
    assert d.max() < 1.0  # seats are road nodes


def test_national_road_through_county_seat(built):
    epsg = built.geo.epsg
    road = built.layers["road"]
    seat = built.layers["settlement"].query("level == 'county_seat'").to_crs(epsg).geometry.iloc[0]
    major = _gk(road[road["class"].isin(["national", "provincial"])], epsg)
    assert shapely.distance(major, seat).min() < 1.0
    towns = built.layers["settlement"].query("level == 'town_seat'").to_crs(epsg).geometry.to_numpy()
    upper = shapely.union_all(_gk(road[road["class"].isin(["national", "provincial", "county"])], epsg))
    assert (shapely.distance(towns, upper) < 1.0).mean() > 0.9  # county roads link the town seats


def test_dead_ends_and_detours(tongjiang):
    epsg = tongjiang.geo.epsg
    road = tongjiang.layers["road"]
    g = _graph(_gk(road, epsg), road["class"])
    deg = np.array([d for _, d in g.degree()])
    dead = (deg == 1).mean()
    assert 0.2 < dead < 0.7  # village spurs and hamlet tracks end in the countryside
    # detours: network distance between neighbouring villages against the straight line
    st = tongjiang.layers["settlement"].query("level == 'village_seat'").to_crs(epsg)
    xy = np.column_stack([st.geometry.x, st.geometry.y])
    node_xy = np.array(list(g.nodes))
    from scipy.spatial import cKDTree

    near = cKDTree(node_xy).query(xy)[1]
    nodes = [tuple(node_xy[k]) for k in near]
    rng = np.random.default_rng(0)
    ratios = []
    for i in rng.choice(len(xy), 40, replace=False):
        j = int(cKDTree(xy).query(xy[i], k=2)[1][1])
        straight = np.hypot(*(xy[i] - xy[j]))
        net = nx.shortest_path_length(g, nodes[i], nodes[j], weight="length")
        ratios.append(net / straight)
    ratios = np.array(ratios)
    assert np.median(ratios) > 1.3  # mountain roads wind
    assert (ratios > 2.0).mean() > 0.1  # and some neighbours are a long detour apart
