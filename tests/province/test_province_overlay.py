"""The province overlay (dask-geopandas, partitioned by county) equals the single-county
overlay of pianqu.land county by county, and the city totals are the exact sums."""

import math

import dask
import numpy as np
import pytest

from province_counties import COUNTIES
from pianqu.land.overlay import overlay
from pianqu.parcels import select_epoch
from pianqu.province.overlay import LINES, city_totals, province_overlay, workspace_line_areas
from pianqu.workspace import Workspace


@pytest.fixture(scope="module")
def by_county(province_set):
    with dask.config.set(scheduler="synchronous"):
        return province_overlay(province_set)


@pytest.mark.slow
def test_overlay_equals_the_county_by_county_overlay(by_county, sequential):
    assert sorted(by_county["county_code"].unique()) == sorted(COUNTIES)
    for code in COUNTIES:
        ws = Workspace.open(sequential.out / "workspaces" / f"{code}.gpkg")  # built from the same set
        single = workspace_line_areas(ws).set_index("line")
        got = by_county[by_county["county_code"] == code].set_index("line")
        for line in LINES:
            assert got.loc[line, "area_m2"] == single.loc[line, "area_m2"]  # exactly
            assert got.loc[line, "parcels"] == single.loc[line, "parcels"]
        # an independent answer: geopandas-style overlay of pianqu.land, piece by piece
        parcels = select_epoch(ws.read("landuse"), meta=ws.meta)
        for line in LINES:
            ov = overlay(parcels[["area_m2", "geometry"]], ws.read(line)[["geometry"]], left_area=parcels["area_m2"])
            assert got.loc[line, "area_m2"] == pytest.approx(ov["area_m2"].sum(), rel=1e-9)
    assert (by_county["area_m2"] > 0).any()


@pytest.mark.slow
def test_city_totals_equal_the_sum_of_counties(by_county):
    cities = city_totals(by_county)
    for row in cities.itertuples():
        g = by_county[(by_county["city_code"] == row.city_code) & (by_county["line"] == row.line)]
        assert row.area_m2 == math.fsum(a for p in g["pieces"] for a in p)
        assert row.area_m2 == pytest.approx(g["area_m2"].sum(), rel=1e-12)
        assert row.parcels == g["parcels"].sum()
    assert set(cities["city_code"]) == {"5101", "5104"}
    assert np.isclose(cities["area_m2"].sum(), by_county["area_m2"].sum(), rtol=1e-12)
