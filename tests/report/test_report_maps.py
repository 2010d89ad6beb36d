"""Map building blocks: true scale bar, north arrow, colouring, CJK labels."""

from __future__ import annotations

import warnings

import geopandas as gpd
import numpy as np
import pytest
import shapely
from pyproj import Geod, Proj

from pianqu.report import maps


@pytest.mark.parametrize("span, expected", [(10_000, 2000), (63_000, 10_000), (4_900, 500), (120, 20),
                                            (250_000, 50_000)])
def test_nice_length(span, expected):
    assert maps.nice_length(span) == expected


def test_gk_metres_are_true_metres_for_the_scale_bar(layers):
    """The scale bar is drawn in GK metres: they match geodesic metres on the ellipsoid."""
    a, b = (107.21, 31.86), (107.30, 31.95)
    gk = gpd.GeoSeries([shapely.Point(a), shapely.Point(b)], crs=4490).to_crs(4545)
    projected = gk.iloc[0].distance(gk.iloc[1])
    geodesic = Geod(ellps="GRS80").inv(*a, *b)[2]
    assert projected == pytest.approx(geodesic, rel=2e-4)  # GK scale error ≈ 1e-4 at 0.75° from the CM


def test_scale_bar_segments_add_up_to_its_label():
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    fig, ax = plt.subplots()
    ax.set_xlim(500_000, 563_000)
    ax.set_ylim(3_500_000, 3_560_000)
    length = maps.add_scale_bar(ax, "zh")
    plt.close(fig)
    assert length == 10_000
    bars = [p for p in ax.patches if isinstance(p, Rectangle) and p.get_height() < 1000 and p.get_zorder() == 21]
    assert len(bars) == 4 and sum(b.get_width() for b in bars) == pytest.approx(length)
    assert [t.get_text() for t in ax.texts] == ["0", "5", "10 公里"]


@pytest.mark.parametrize("lon, lat", [(107.25, 31.9), (108.0, 31.9), (109.3, 28.5)])
def test_north_arrow_follows_meridian_convergence(lon, lat):
    proj = Proj(4545)
    x, y = proj(lon, lat)
    got = maps.grid_convergence(4545, x, y)
    expected = proj.get_factors(lon, lat).meridian_convergence
    assert abs(got) == pytest.approx(abs(expected), abs=0.01)
    # east of the central meridian (108°E) true north lies to the left of grid north
    assert (got > 0) == (lon > 108.0) or abs(got) < 1e-6


def test_neighbour_colours_differ_across_shared_edges():
    cells = [shapely.box(i, j, i + 1, j + 1) for i in range(6) for j in range(5)]
    series = gpd.GeoSeries(cells)
    colour = maps.neighbour_colours(series, len(maps.TOWNSHIP_FILLS))
    a, b = shapely.STRtree(series.to_numpy()).query(series.to_numpy(), predicate="intersects")
    touching = a != b
    assert (colour[a[touching]] != colour[b[touching]]).all()


def test_line_segments_split_parts_and_rings():
    geoms = gpd.GeoSeries([shapely.LineString([(0, 0), (1, 1), (2, 0)]),
                           shapely.MultiLineString([[(0, 0), (0, 1)], [(5, 5), (6, 6), (7, 7)]]),
                           shapely.box(0, 0, 1, 1).difference(shapely.box(0.4, 0.4, 0.6, 0.6)), None])
    segs = maps.line_segments(geoms)
    assert [len(s) for s in segs] == [3, 2, 3, 5, 5]


def test_overview_map_labels_in_chinese_without_missing_glyphs(layers):
    assert maps.cjk_font() is not None, "install fonts-wqy-microhei (make system-deps)"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib warns 'Glyph ... missing from font' for boxes
        fig = maps.overview_map({"township": layers["township"], "settlement": layers["settlement"]},
                                epsg=4545, lang="zh", title="通江县县域总图", synthetic=True)
        texts = [t.get_text() for t in fig.axes[0].texts]
        png = maps.to_png(fig, 60)
    for name in layers["township"]["name"]:
        assert name in texts
    assert "北" in texts and any(t.endswith("公里") for t in texts)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_labels_sit_at_the_town_seats(layers):
    xy, at_seat = maps.label_points(layers["township"], layers["settlement"])
    assert at_seat.all()
    seats = layers["settlement"][layers["settlement"]["level"] != "village_seat"]
    np.testing.assert_allclose(xy, shapely.get_coordinates(seats.geometry.to_numpy()))
    xy, at_seat = maps.label_points(layers["township"], None)
    assert not at_seat.any()
    assert shapely.contains_xy(layers["township"].geometry.to_numpy(), xy[:, 0], xy[:, 1]).all()


def test_overview_map_needs_an_extent():
    with pytest.raises(ValueError) as err:
        maps.overview_map({"road": None}, epsg=4545)
    assert "county or township" in err.value.message("en")
