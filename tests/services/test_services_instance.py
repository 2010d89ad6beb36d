"""The services' one shape: the instance built once from a workspace, a pure analysis of it, and
the result's frames, layers and write (issue 12)."""

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from pianqu.services import Zones, services_for_scenario
from pianqu.services import instance as I
from pianqu.synth import write_county
from pianqu.workspace import Workspace

SCENARIO = "p"


@pytest.fixture(scope="module")
def county(tmp_path_factory):
    """西区 (510403) with a plan scenario of two zones (the first half of the townships by code
    around the first, the rest around the last)."""
    ws = write_county("510403", tmp_path_factory.mktemp("svc") / "xiqu.gpkg", seed=1)
    codes = sorted(ws.read("township")["code"].astype(str))
    half = len(codes) // 2
    centre = {c: (codes[0] if i < half else codes[-1]) for i, c in enumerate(codes)}
    member = pd.DataFrame({"township_code": codes, "zone": [centre[c] for c in codes]})
    member["is_centre"] = member["township_code"] == member["zone"]
    ws.create_scenario(SCENARIO)
    ws.write({"zone_member": member}, command="plan", scenario=SCENARIO)
    inst = I.from_workspace(ws, SCENARIO)
    return ws, inst, I.analyse(inst), centre


def _same_tables(a, b):
    la, lb = a.layers(), b.layers()
    assert set(la) == set(lb)
    for name in la:
        pd.testing.assert_frame_equal(pd.DataFrame(la[name]), pd.DataFrame(lb[name]), obj=name)


def test_from_workspace_reads_layers_zones_and_terrain(county):
    ws, inst, _, centre = county
    for attr, layer in (("townships", "township"), ("villages", "village"), ("facilities", "facility"),
                        ("settlements", "settlement"), ("roads", "road")):
        assert len(getattr(inst, attr)) == len(ws.read(layer)) > 0, layer
    assert inst.graph is not None and inst.county_code == "510403"
    assert dict(inst.zones.township_zone) == centre  # the scenario's zone_member
    assert set(inst.zones.centres.values()) == set(centre.values())
    # terrain per village from the base epoch's parcel slopes: one class for each village code
    assert list(inst.terrain.index) == list(ws.read("village")["code"].astype(str))
    assert set(inst.terrain) <= {"plain", "hill", "mountain"}
    # without a scenario every township is its own zone (decided by the analysis, with a finding)
    assert I.from_workspace(ws).zones is None


def test_analyse_equals_services_for_scenario(county):
    ws, inst, a, centre = county
    b = services_for_scenario(ws, SCENARIO, write=False)
    _same_tables(a, b)
    pd.testing.assert_frame_equal(a.to_frame(), b.coverage.summary())
    # the scenario's zones were used: zone-level presence rows are the two centres
    st = a.presence.status
    assert set(st.loc[st["level"] == "zone", "unit"]) == set(centre.values())


def test_analyse_does_not_touch_the_workspace(county, monkeypatch):
    ws, inst, a, _ = county
    frames = I.ServicesInstance(inst.townships.copy(), inst.villages.copy(), inst.facilities.copy(),
                                inst.settlements.copy(), inst.roads.copy(), inst.graph,
                                zones=Zones(dict(inst.zones.township_zone), dict(inst.zones.centres)),
                                terrain=inst.terrain.copy(), county_code=inst.county_code, config=inst.config)

    def forbidden(*args, **kw):
        raise AssertionError("analyse read the workspace")

    for name in ("read", "has", "scenarios", "write", "open"):
        monkeypatch.setattr(Workspace, name, forbidden)
    b = I.analyse(frames)
    _same_tables(a, b)
    # one terrain class given for all villages reaches every demand point
    c = I.analyse(I.ServicesInstance(inst.townships, inst.villages, inst.facilities, inst.settlements,
                                     inst.roads, inst.graph, zones=inst.zones, terrain="plain",
                                     config=inst.config), propose=False)
    assert set(c.demand["terrain"]) == {"plain"} and len(c.proposals) == 0


def test_write_then_read_back(county):
    ws, _, a, _ = county
    counts = a.write(ws, "out")
    layers = a.layers()
    assert counts == {k: len(v) for k, v in layers.items()}
    back = Workspace.open(ws.path)
    assert set(layers) <= set(back.layers("out"))
    for name, frame in layers.items():
        got = back.read(name, "out")
        assert len(got) == len(frame), name
        if isinstance(frame, gpd.GeoDataFrame):
            want = frame.to_crs(got.crs).geometry.reset_index(drop=True)  # stored polygons become multi
            assert (shapely.hausdorff_distance(got.geometry.values, want.values) < 1e-7).all(), name  # degrees
            assert list(got["id"]) == list(frame["id"])
    # a table round-trips value for value (numbers as numbers, codes as text)
    cov = back.read("service_coverage", "out")
    want = a.to_frame()
    pd.testing.assert_series_equal(cov["service"].astype(str), want["service"].astype(str), check_names=False)
    for col in want.columns:
        if pd.api.types.is_numeric_dtype(want[col]):
            pd.testing.assert_series_equal(pd.to_numeric(cov[col]).astype(float), want[col].astype(float),
                                           check_names=False, check_index=False)
    # to_gdf is the facility_plan layer
    pd.testing.assert_frame_equal(pd.DataFrame(a.to_gdf()), pd.DataFrame(layers["facility_plan"]))
