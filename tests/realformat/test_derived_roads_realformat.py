"""The road network derived from the real-format 梓潼县 delivery's traffic parcels (1003 公路用地,
1004 城镇村道路用地, 1006 农村道路 4–5 m wide) connects every village seat: the 1006 roads of a
village's hamlets stop at the edge of its homestead parcels (三调 keeps the lanes inside them), and
are joined through the homestead cluster. The independent answer is the delivery's own OSM
centrelines (``delivery.pbf``, written from the corridors' lines, not from the parcels)."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from pianqu import inputs
from pianqu.cli import app
from pianqu.config import load_config
from pianqu.network import build_graph, od_matrix
from pianqu.workspace import Workspace

runner = CliRunner()


@pytest.fixture(scope="module")
def zitong(clean_delivery, tmp_path_factory):
    """(workspace from the GDB, its plan inputs, a copy with the OSM roads imported)."""
    root = tmp_path_factory.mktemp("ws_derived_roads")
    ws_path = root / "zitong.gpkg"
    r = runner.invoke(app, ["import", str(clean_delivery.gdb), "-w", str(ws_path)])
    assert r.exit_code == 0, r.output
    osm_path = root / "zitong_osm.gpkg"
    osm_path.write_bytes(ws_path.read_bytes())
    r = runner.invoke(app, ["import", str(clean_delivery.pbf), "-w", str(osm_path)])
    assert r.exit_code == 0, r.output
    ws = Workspace.open(ws_path)
    return ws, inputs.from_workspace(ws), Workspace.open(osm_path)


def village_seats(pi):
    s = pi.settlements
    return s[s["level"].astype(str) == "village_seat"]


def test_every_village_seat_reaches_every_other(zitong):
    ws, pi, _ = zitong
    assert pi.status("road") == "derived" and pi.sources["road"].method == "centreline"
    seats = village_seats(pi)
    assert len(seats) == 17
    seconds = od_matrix(pi.graph, seats, seats)
    assert np.isfinite(seconds).all(), f"{int((~np.isfinite(seconds)).sum())} of {seconds.size} pairs unreachable"
    assert pi.graph.n_components == 1
    # so plan's travel times need no straight-line stand-ins
    t = pi.travel_s(seats, seats)
    assert np.isfinite(t).all()
    assert not [f for f in pi.findings if f.rule.endswith("road_gaps")]
    stats = pi.roads.attrs["stats"]
    assert stats["settlement_joins"] >= 8  # the hamlets whose roads stopped at their edge


def test_derived_distances_follow_the_delivery_own_centrelines(zitong):
    """Shortest road distance between village seats over the derived network against the same
    seats over the delivery's OSM centrelines (car roads only: tracks are not imported). Both
    networks at 1 m/s, access legs included, so times are metres and classes do not matter."""
    ws, pi, osm_ws = zitong
    cfg = load_config(overrides={"network.drive_access_speed_kmh": 3.6})
    seats = village_seats(pi)

    def metres(roads):
        return od_matrix(build_graph(roads.assign(speed_kmh=3.6), config=cfg), seats, seats)

    derived, osm = metres(pi.roads), metres(osm_ws.read("road"))
    off = ~np.eye(len(seats), dtype=bool)
    assert np.isfinite(osm[off]).all() and np.isfinite(derived[off]).all()
    ratio = derived[off] / osm[off]
    assert np.median(np.abs(ratio - 1)) < 0.01  # measured 0.2 %
    assert (np.abs(ratio - 1) < 0.05).all()  # measured at most 1.6 %: no detour, no false shortcut
