"""Service areas from the county seat, as pianqu plan writes them for the roads map."""

import numpy as np
import shapely

from pianqu.config import load_config
from pianqu.network.analysis import seat_isochrones
from pianqu.network.travel import od_matrix


def test_seat_isochrones_nest_and_match_travel_times(county, county_graph):
    cfg = load_config()
    iso = seat_isochrones(county_graph, county.settlements, cfg)
    minutes = [float(m) for m in cfg["network.seat_isochrone_min"]]
    assert sorted(iso["budget_min"].round(6)) == sorted(minutes)
    iso = iso.sort_values("budget_s").to_crs(county.epsg)
    geoms = iso.geometry.to_numpy()
    # larger budgets reach everything smaller ones do
    for small, big in zip(geoms[:-1], geoms[1:]):
        assert shapely.area(shapely.difference(small, big)) < 1e-6 * shapely.area(small)
    assert (np.diff(iso["road_km"].to_numpy()) >= 0).all()
    # settlements reached within a budget lie in its polygon (independent: the OD matrix)
    st = county.settlements
    seat = st[st["level"] == "county_seat"]
    t = od_matrix(county_graph, seat, st)[0]
    pts = st.to_crs(county.epsg).geometry.to_numpy()
    for budget, poly in zip(iso["budget_s"], geoms):
        inside = np.flatnonzero(t <= budget - 60)  # a minute of slack for the access legs
        assert inside.size > 0
        assert shapely.contains_xy(shapely.buffer(poly, 1.0), shapely.get_x(pts[inside]),
                                   shapely.get_y(pts[inside])).mean() > 0.95


def test_no_seat_no_isochrones(county, county_graph):
    st = county.settlements[county.settlements["level"] != "county_seat"]
    assert seat_isochrones(county_graph, st, load_config()) is None
