"""Roads around the county seat: its communities reach it without a detour, over an urban
street network — checked independently with networkx on the road layer, not with the
generator's routing grid nor with ``pianqu.network``."""

from __future__ import annotations

import networkx as nx
import numpy as np
import shapely
from scipy.spatial import cKDTree

from pianqu import standards
from pianqu.synth import synth_config


def _gk(frame, epsg):
    return np.asarray(frame.to_crs(epsg).geometry.to_numpy(), dtype=object)


def _time_graph(road, epsg) -> tuple[nx.Graph, np.ndarray]:
    """Road lines as graph edges between their end points, weighted by the time (s) at the
    class speed; the node coordinates in graph order."""
    speed = standards.road_classes().set_index("class")["speed_kmh"]
    lines = _gk(road, epsg)
    a = np.round(shapely.get_coordinates(shapely.get_point(lines, 0)), 3)
    b = np.round(shapely.get_coordinates(shapely.get_point(lines, -1)), 3)
    g = nx.Graph()
    for p, q, line, c in zip(map(tuple, a), map(tuple, b), lines, road["class"]):
        w = line.length / (speed[c] / 3.6)
        if not g.has_edge(p, q) or g[p][q]["time"] > w:
            g.add_edge(p, q, time=w)
    return g, np.array(list(g.nodes))


def _seat_and_communities(b):
    st = b.layers["settlement"].to_crs(b.geo.epsg)
    vl = b.layers["village"]
    seat = st[st["level"] == "county_seat"].iloc[0]
    comm = set(vl.loc[(vl["kind"] == "社区") & (vl["township_code"] == seat["township_code"]), "code"])
    vs = st[(st["level"] == "village_seat") & st["code"].isin(comm)]
    xy = np.column_stack([vs.geometry.x, vs.geometry.y])
    sxy = np.array([seat.geometry.x, seat.geometry.y])
    far = np.hypot(*(xy - sxy).T) > 1.0  # the community holding the seat is the seat itself
    return sxy, xy[far], list(vs["name"][far])


def test_county_seat_communities_reach_it_without_detour(built):
    cfg = synth_config()
    ref = float(cfg["network.detour_reference_speed_kmh"]) / 3.6
    top = float(cfg["network.detour_index_max"])  # the county seat's own communities are no detours
    sxy, xy, names = _seat_and_communities(built)
    assert len(xy) >= 2
    g, node_xy = _time_graph(built.layers["road"], built.geo.epsg)
    d, k = cKDTree(node_xy).query(np.vstack([sxy, xy]))
    assert d.max() < 1.0  # seats are road nodes
    nodes = [tuple(node_xy[i]) for i in k]
    time = nx.single_source_dijkstra_path_length(g, nodes[0], weight="time")
    t = np.array([time.get(n, np.inf) for n in nodes[1:]])
    straight = np.hypot(*(xy - sxy).T)
    index = t / (straight / ref)
    assert np.isfinite(index).all()
    assert index.max() <= top, dict(zip(names, np.round(index, 2)))
    # and the county seat's own neighbourhoods lie within a 15-minute drive of it
    assert (t <= 15 * 60).mean() >= 0.9


def test_county_seat_has_a_street_network(tongjiang):
    """Road length per km² around the county seat is that of a town (several km/km², a mesh
    with junctions), far above the countryside around the village seats."""
    b = tongjiang
    epsg = b.geo.epsg
    lines = _gk(b.layers["road"], epsg)
    st = b.layers["settlement"].to_crs(epsg)
    seat = st[st["level"] == "county_seat"].geometry.iloc[0]

    def density(p, r: float = 1000.0) -> float:
        disc = shapely.buffer(p, r)
        near = shapely.STRtree(lines).query(disc, predicate="intersects")
        return shapely.length(shapely.intersection(lines[near], disc)).sum() / 1000 / (disc.area / 1e6)

    villages = st[st["level"] == "village_seat"].geometry.to_numpy()
    rural = np.median([density(p) for p in villages[:: max(1, len(villages) // 60)]])
    urban = density(seat)
    assert urban > 3.0 and urban > 3 * rural, (urban, rural)
    # a mesh, not a star: junctions of three or more roads in the town
    g, node_xy = _time_graph(b.layers["road"], epsg)
    deg = np.array([g.degree(tuple(p)) for p in node_xy])
    close = np.hypot(*(node_xy - np.array([seat.x, seat.y])).T) < 1500.0
    assert (deg[close] >= 3).sum() >= 15
    # loops: the town's road graph has many more edges than a tree would
    sub = g.subgraph([tuple(p) for p in node_xy[close]])
    assert sub.number_of_edges() - sub.number_of_nodes() + nx.number_connected_components(sub) >= 10


def test_facility_levels_follow_kind_and_place(built):
    """Village kinds serve their village, township kinds their township, zone kinds their zone
    in a central town (the county seat's township and the towns with most urban people,
    recomputed here from the settlement layer) and their own township elsewhere."""
    cfg = synth_config()
    fac = built.layers["facility"]
    kinds = standards.facility_kinds().set_index("kind")["level"]
    assert fac["level"].notna().all() and fac["level"].isin(["zone", "township", "village"]).all()
    kl = fac["kind"].map(kinds).to_numpy()
    st = built.layers["settlement"]
    towns = st[st["level"] == "town_seat"].set_index("code")["population"]  # urban people per town
    seat_t = st.loc[st["level"] == "county_seat", "township_code"].iloc[0]
    others = towns.drop(seat_t)
    k = int(round(float(cfg["synth.central_town_share"]) * len(towns)))
    order = sorted(others.index, key=lambda c: (-others[c], c))  # township rows are in code order
    central = {seat_t, *order[:k]}
    in_central = fac["township_code"].isin(central).to_numpy()
    want = np.where(kl == "zone", np.where(in_central, "zone", "township"), kl)
    assert (fac["level"].to_numpy() == want).all()
    # the county seat hosts every zone kind at zone level; every facility names its units
    at_seat = fac[fac["township_code"] == seat_t]
    assert set(kinds[kinds == "zone"].index) <= set(at_seat.loc[at_seat["level"] == "zone", "kind"])
    assert fac["township_code"].notna().all() and fac["village_code"].notna().all()
    assert fac["village_code"].str.startswith(tuple(fac["township_code"])).all()
    v = fac[fac["level"] == "village"]
    assert (v["village_code"].str[:9] == v["township_code"]).all()


def test_village_detour_to_town_seat_is_capped(built):
    """Every village seat reaches the seat of its township by road within
    ``synth.village_detour_max`` × the straight-line time at the reference speed (networkx on
    the road layer at class speeds), while winding roads remain: a share of the villages still
    has a detour index above ``network.detour_index_max``, which the 合并镇村直连 diagnostic flags."""
    cfg = synth_config()
    ref = float(cfg["network.detour_reference_speed_kmh"]) / 3.6
    cap = float(cfg["synth.village_detour_max"])
    st = built.layers["settlement"].to_crs(built.geo.epsg)
    xy = np.column_stack([st.geometry.x, st.geometry.y])
    lv, tc = st["level"].to_numpy(), st["township_code"].to_numpy()
    town = {tc[i]: i for i in np.flatnonzero(lv == "county_seat")}
    town.update({tc[i]: i for i in np.flatnonzero(lv == "town_seat")})
    vill = np.flatnonzero(lv == "village_seat")
    assert set(tc[vill]) <= set(town)
    g, node_xy = _time_graph(built.layers["road"], built.geo.epsg)
    d, k = cKDTree(node_xy).query(xy)
    node = [tuple(node_xy[i]) for i in k]
    index = np.zeros(len(vill))
    for tcode, ti in town.items():
        mine = vill[tc[vill] == tcode]
        if not len(mine):
            continue
        assert d[ti] < 1.0 and d[mine].max() < 1.0  # seats are road nodes
        straight = np.hypot(*(xy[mine] - xy[ti]).T)
        time = nx.single_source_dijkstra_path_length(g, node[ti], cutoff=cap * straight.max() / ref + 1.0,
                                                     weight="time")
        t = np.array([time.get(node[i], np.inf) for i in mine])
        same = straight < 1.0  # the village holding the town seat
        assert (t[same] == 0).all()
        index[np.searchsorted(vill, mine)] = np.where(same, 1.0, t / np.maximum(straight, 1e-9) * ref)
    worst = int(np.argmax(index))
    assert index.max() <= cap + 1e-9, (st["name"].iloc[vill[worst]], round(float(index.max()), 2))
    if built.geo.terrain in ("mountain", "alpine"):  # roads still wind in the mountains
        assert (index > float(cfg["network.detour_index_max"])).mean() > 0.05
        assert np.median(index) > 1.2
