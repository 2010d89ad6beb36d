"""The road network engine: graph, snapping, travel times, service areas, diagnostics, OSM import.

Typical use::

    from pianqu.network import build_graph, snap_points, od_matrix
    g = build_graph(ws.read("road"), config=ws.config())
    seconds = od_matrix(g, settlements, facilities, mode="drive", cutoff_s=1800)

Modules: ``graph`` (build, noding, speeds, components), ``snap`` (points onto edges, access
legs), ``travel`` (OD matrices, nearest-k, node times), ``isochrone`` (service areas),
``ch`` (contraction hierarchies for large OD matrices; numba, imported on first use),
``diagnostics`` (components, dead ends, cut edges, bottlenecks, detours), ``links``
(missing-link proposals), ``coverage`` (4G/5G), ``osm`` (OpenStreetMap roads), ``analysis``
(all diagnostics in one call). Generated networks for tests and benchmarks live in
:mod:`pianqu.testing.network`.
"""

from pianqu.network.analysis import NetworkAnalysis, analyse_network
from pianqu.network.coverage import Coverage, telecom_coverage
from pianqu.network.diagnostics import (Diagnosis, bottlenecks, bridges, components, dead_ends, detours,
                                        find_bridges, gravity_loads, seat_pairs)
from pianqu.network.graph import MODES, RoadGraph, build_graph
from pianqu.network.isochrone import isochrones
from pianqu.network.links import Proposal, augmentation_baseline, link_candidates, propose_links
from pianqu.network.osm import OSMError, osm_highway_classes, read_osm_roads
from pianqu.network.snap import Snapped, snap_points, snapped_frame
from pianqu.network.travel import choose_method, nearest_k, node_times, od_matrix

_LAZY = {"Hierarchy", "build_hierarchy", "hierarchy"}  # from pianqu.network.ch: numba loads on first use


def __getattr__(name: str):
    if name in _LAZY:
        from pianqu.network import ch

        return getattr(ch, name)
    raise AttributeError(f"module 'pianqu.network' has no attribute '{name}'")


__all__ = [
    "MODES", "RoadGraph", "build_graph", "Snapped", "snap_points", "snapped_frame",
    "od_matrix", "nearest_k", "node_times", "choose_method", "isochrones",
    "Hierarchy", "build_hierarchy", "hierarchy",
    "Diagnosis", "components", "dead_ends", "bridges", "find_bridges", "gravity_loads", "bottlenecks",
    "seat_pairs", "detours", "Proposal", "link_candidates", "propose_links", "augmentation_baseline",
    "Coverage", "telecom_coverage", "OSMError", "osm_highway_classes", "read_osm_roads",
    "NetworkAnalysis", "analyse_network",
]
