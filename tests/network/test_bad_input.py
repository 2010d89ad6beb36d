"""Bad input never crashes and never gives a silent wrong time."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely

from pianqu.findings import to_frame
from pianqu.network import diagnostics as D
from pianqu.network.graph import build_graph
from pianqu.network.isochrone import isochrones
from pianqu.network.links import propose_links
from pianqu.testing.network import SAMPLE_EPSG, grid_roads
from pianqu.network.snap import snap_points
from pianqu.network.travel import nearest_k, od_matrix


def settlements(xy, crs=SAMPLE_EPSG):
    n = len(xy)
    return gpd.GeoDataFrame({"code": [f"S{i}" for i in range(n)], "name": [f"点{i}" for i in range(n)],
                             "level": ["county_seat"] + ["village_seat"] * (n - 1), "population": [1000] * n,
                             "township_code": ["T0"] * n},
                            geometry=gpd.GeoSeries(shapely.points(xy), crs=crs))


def test_empty_graph_everywhere():
    g = build_graph(gpd.GeoDataFrame({"id": [], "class": []}, geometry=gpd.GeoSeries([], crs=4490)))
    pts = settlements([(500000, 3300000), (501000, 3300000)])
    s = snap_points(g, pts)
    assert (s.edge == -1).all() and [f.rule for f in s.findings] == ["network.unsnapped"] * 2
    assert np.isinf(od_matrix(g, pts, pts)).all()  # no roads: no times, and the findings say why
    assert nearest_k(g, pts, pts, 1).empty
    assert len(D.dead_ends(g, pts).layer) == 0
    assert len(D.bridges(g, pts).layer) == 0
    assert len(D.components(g, pts).layer) == 0
    det = D.detours(g, pts)
    assert (det.layer["status"] == "unreachable").all()
    assert len(isochrones(g, pts, [600])) == 1
    assert len(propose_links(g, pts).links) == 0


def test_far_and_unusable_points_are_flagged():
    g = build_graph(grid_roads(3, 3, split=True))
    far = g.config["network.snap_max_m"] + 500
    pts = settlements([(501000, 3301000), (501000, 3302000 + far)])
    pts.loc[2] = ["S2", "点2", "village_seat", 10, "T0", None]
    s = snap_points(g, pts, layer="settlement")
    rules = [(f.rule, f.feature) for f in s.findings]
    assert ("network.far_point", "S1") in rules and ("network.bad_point", "S2") in rules
    assert s.access_m[1] == pytest.approx(far) and s.far[1]
    t = od_matrix(g, s, s)
    # the far point is still timed, with its access leg
    assert t[0, 1] == pytest.approx(1000 / (40 / 3.6) + far / (15 / 3.6))
    assert np.isinf(t[0, 2]) and np.isinf(t[2, 0])
    msg = to_frame(s.findings, "zh")
    assert msg["message"].str.contains("S1").any()
    with pytest.raises(ValueError, match="没有坐标系"):
        snap_points(g, gpd.GeoSeries(shapely.points([(0, 0)])))
    with pytest.raises(ValueError, match="snapped for mode"):
        od_matrix(g, s, s, mode="walk")
    with pytest.raises(ValueError, match="未知的出行方式"):
        od_matrix(g, pts, pts, mode="bike")


def test_expressway_is_not_an_access_road():
    r = grid_roads(3, 2, split=True)
    r.loc[0, "class"] = "expressway"  # the first bottom segment
    g = build_graph(r)
    pts = settlements([(500500, 3299990)])  # right beside the expressway
    s = snap_points(g, pts)
    assert g.edges["class"].iat[s.edge[0]] != "expressway"
    assert s.access_m[0] > 10


def test_analyse_network_runs_everything(county):
    from pianqu.findings import to_frame as frame
    from pianqu.network.analysis import analyse_network

    res = analyse_network(county.roads, county.settlements, boundary=county.boundary, budget_m=5000)
    layers = res.layers()
    for name, lay in layers.items():
        if isinstance(lay, gpd.GeoDataFrame) and len(lay):
            assert lay.crs.to_epsg() == 4490, name
    assert len(layers["road_dead_end"]) and len(layers["road_detour"]) and len(layers["road_plan"])
    assert "action" in layers["road_plan"] and "action" in layers["road_bottleneck"]
    rules = {f.rule for f in res.findings}
    assert {"network.component", "network.dead_end.missing_connection", "network.detour.unreachable"} <= rules
    for lang in ("zh", "en"):
        msgs = frame(res.findings, lang)
        assert msgs["message"].str.len().min() > 3 and msgs["action"].str.len().min() > 1
