"""Building the graph: noding, speeds, one-way, components, and every kind of bad input."""

from __future__ import annotations

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely
from scipy.sparse.csgraph import dijkstra

from pianqu.config import load_config
from pianqu.findings import to_frame
from pianqu.network.graph import build_graph
from pianqu.testing.network import SAMPLE_EPSG, grid_roads

X0, Y0 = 500_000.0, 3_300_000.0


def roads(lines, **cols):
    n = len(lines)
    data = {"id": [f"r{i}" for i in range(n)], "class": ["county"] * n, "oneway": [False] * n}
    data.update(cols)
    return gpd.GeoDataFrame(data, geometry=gpd.GeoSeries(lines, crs=SAMPLE_EPSG))


def L(*pts):
    return shapely.LineString([(X0 + x, Y0 + y) for x, y in pts])


@pytest.mark.parametrize("split", [False, True])
def test_grid_times_are_manhattan(split):
    g = build_graph(grid_roads(5, 4, spacing_m=1000, split=split), epsg=SAMPLE_EPSG)
    assert g.n_nodes == 20 and g.n_edges == 31 and not g.findings
    d = dijkstra(g.csr("drive"))
    xy = g.node_xy
    manhattan = np.abs(xy[:, None, 0] - xy[None, :, 0]) + np.abs(xy[:, None, 1] - xy[None, :, 1])
    assert np.allclose(d, manhattan / (40 / 3.6), atol=1e-9)


def test_storage_crs_is_reprojected_to_gk_zone():
    g = build_graph(grid_roads(3, 3).to_crs(4490))
    assert g.epsg == 4544  # CM 105°E, from the data
    assert g.edges["length_m"].sum() == pytest.approx(12_000, rel=1e-6)


def test_t_junction_and_snap_tolerance():
    cfg = load_config()
    tol = cfg["network.snap_tolerance_m"]
    main = L((0, 0), (2000, 0))
    t_join = L((1000, 0.5 * tol), (1000, 800))  # ends on main's interior within tol: joined
    gap = L((1500, 3 * tol), (1500, 800))  # ends 3 tol away: not joined
    ends = L((2000 + 0.5 * tol, 0), (2600, 0))  # end to end within tol: joined
    g = build_graph(roads([main, t_join, gap, ends]))
    assert g.n_components == 2
    comp = g.component
    gap_nodes = g.edges.loc[g.edges["road"] == "r2", ["u", "v"]].to_numpy().ravel()
    assert (comp[gap_nodes] != comp[g.edges.loc[g.edges["road"] == "r0", "u"].iat[0]]).all()
    assert (g.edges["road"] == "r0").sum() == 2  # main split once, at the T junction
    assert g.degree.max() == 3


def test_crossings_joined_except_grade_separated():
    a = L((0, 500), (1000, 500))
    b = L((500, 0), (500, 1000))
    at_grade = build_graph(roads([a, b]))
    assert at_grade.n_nodes == 5 and at_grade.n_components == 1
    off = build_graph(roads([a, b]), node_crossings=False)
    assert off.n_nodes == 4 and off.n_components == 2
    expressway = build_graph(roads([a, b], **{"class": ["expressway", "county"]}))
    assert expressway.n_nodes == 4 and expressway.n_components == 2
    bridge = build_graph(roads([a, b], grade_separated=[True, False]))
    assert bridge.n_nodes == 4
    # an expressway joined at a shared vertex (an interchange) is connected
    ramp = build_graph(roads([L((0, 500), (500, 500), (1000, 500)), L((500, 0), (500, 500), (500, 1000))],
                             **{"class": ["expressway", "county"]}))
    assert ramp.n_components == 1 and ramp.n_nodes == 5


def test_speeds_classes_oneway_and_walk():
    r = roads([L((0, 0), (1000, 0)), L((1000, 0), (2000, 0)), L((2000, 0), (3000, 0)), L((3000, 0), (4000, 0))],
              **{"class": ["national", "village", "expressway", "county"], "speed_kmh": [np.nan, 30.0, np.nan, np.nan],
                 "oneway": [False, False, False, True]})
    cfg = load_config()
    g = build_graph(r, config=cfg)
    e = g.edges.set_index("road")
    assert e.loc["r0", "time_drive_s"] == pytest.approx(1000 / (cfg.road_speeds["national"] / 3.6))
    assert e.loc["r1", "time_drive_s"] == pytest.approx(1000 / (30 / 3.6))  # the road's own speed wins
    assert np.isinf(e.loc["r2", "time_walk_s"])  # no walking on expressways
    fw, bw = g.edge_allows("drive")
    assert fw.all() and bw.sum() == 3
    fw, bw = g.edge_allows("walk")
    assert fw.sum() == 3 and bw.sum() == 3


def test_user_speeds_from_config(tmp_path):
    (tmp_path / "pianqu.toml").write_text("[road_speeds]\ncounty = 80\n", encoding="utf-8")
    cfg = load_config(tmp_path / "ws.gpkg")
    g = build_graph(grid_roads(2, 2), config=cfg)
    assert g.edges["time_drive_s"].iat[0] == pytest.approx(1000 / (80 / 3.6))


def rules(g):
    return [f.rule for f in g.findings]


def test_empty_and_crs_problems_are_findings():
    empty = build_graph(gpd.GeoDataFrame({"id": [], "class": []}, geometry=gpd.GeoSeries([], crs=4490)))
    assert empty.n_nodes == 0 and rules(empty) == ["network.empty"]
    nocrs = build_graph(gpd.GeoDataFrame({"id": ["a"], "class": ["county"]}, geometry=[L((0, 0), (1, 0))]))
    assert rules(nocrs) == ["network.no_crs"] and nocrs.findings[0].severity == "error"
    frame = to_frame(nocrs.findings, "en")
    assert "coordinate reference system" in frame["message"].iat[0]


def test_bad_features_are_reported_and_worked_around():
    lines = [L((0, 0), (1000, 0)),
             shapely.MultiLineString([[(X0 + 1000, Y0), (X0 + 2000, Y0)], [(X0 + 3000, Y0), (X0 + 4000, Y0)]]),
             L((0, 0), (0, 0)),  # zero length
             L((1000, 0), (0, 0)),  # duplicate of r0 (reversed)
             L((0, 0), (0, 1000)),  # no class
             L((0, 1000), (1000, 1000)),  # unknown class
             L((1000, 1000), (1000, 0)),  # bad speed
             None,
             shapely.Point(X0, Y0)]
    r = roads(lines, **{"class": ["county", "county", "county", "county", None, "motorway", "county", "county", "county"],
                        "speed_kmh": [np.nan] * 6 + [-5.0, np.nan, np.nan]})
    before = r.copy()
    g = build_graph(r, source="roads.shp")
    got = pd.Series(rules(g)).value_counts().to_dict()
    assert got == {"network.multipart": 1, "network.zero_length": 1, "network.duplicate": 1,
                   "network.missing_class": 1, "network.unknown_class": 1, "network.bad_speed": 1,
                   "network.bad_geometry": 2}
    by_rule = {f.rule: f for f in g.findings}
    assert by_rule["network.duplicate"].feature == "r3" and by_rule["network.duplicate"].params["other"] == "r0"
    assert by_rule["network.missing_class"].feature == "r4" and by_rule["network.missing_class"].field == "class"
    assert all(f.source == "roads.shp" and f.layer == "road" for f in g.findings)
    # every message renders in both languages
    for lang in ("zh", "en"):
        assert to_frame(g.findings, lang)["message"].str.len().min() > 5
    # the multi-part road became two separate pieces; the unclassified road is timed as a village road
    assert (g.edges["road"] == "r1").sum() == 2
    assert g.edges.loc[g.edges["road"] == "r4", "class"].iat[0] == "village"
    assert g.edges.loc[g.edges["road"] == "r6", "speed_kmh"].iat[0] == load_config().road_speeds["county"]
    pd.testing.assert_frame_equal(r, before)  # the caller's data is untouched


def test_components_identified_by_length(county_graph):
    g = county_graph
    ref = nx.Graph()
    ref.add_nodes_from(range(g.n_nodes))
    ref.add_edges_from(zip(g.edges["u"], g.edges["v"]))
    comps = list(nx.connected_components(ref))
    assert g.n_components == len(comps)
    main = max(comps, key=lambda c: g.edges.loc[g.edges["u"].isin(c), "length_m"].sum())
    assert set(np.flatnonzero(g.component == 0)) == main


def test_dead_end_nodes_match_line_geometry(county, county_graph):
    """Degree-1 nodes are exactly the road ends that touch no other road (brute force, shapely)."""
    g = county_graph
    tol = g.config["network.snap_tolerance_m"]
    lines = county.roads.to_crs(g.epsg).geometry.to_numpy()
    ends = np.r_[shapely.get_coordinates(shapely.get_point(lines, 0)), shapely.get_coordinates(shapely.get_point(lines, -1))]
    owner = np.r_[np.arange(len(lines)), np.arange(len(lines))]
    dist = shapely.distance(shapely.points(ends)[:, None], lines[None, :])
    dist[np.arange(len(ends)), owner] = np.inf
    free = dist.min(axis=1) > tol
    # an end also touches when another end of the same line lies on it (closed rings)
    expected = ends[free]
    got = g.node_xy[g.degree == 1]
    assert len(got) == len(expected)
    d = np.hypot(*(got[:, None, :] - expected[None, :, :]).transpose(2, 0, 1)).min(axis=1)
    assert d.max() < 1e-6
