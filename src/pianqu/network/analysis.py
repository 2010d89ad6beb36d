"""All road diagnostics of a county in one call, for ``pianqu plan``, the report and the web app.

:func:`analyse_network` builds the graph from the road layer and runs components, dead ends,
cut edges, bottlenecks, direct links, missing-link proposals, service areas (等时圈) from the
county seat for the budgets ``network.seat_isochrone_min`` and (when a telecom layer is given)
4G/5G coverage; :meth:`NetworkAnalysis.layers` returns the result layers (EPSG:4490)
ready to be written into a plan scenario, :attr:`NetworkAnalysis.findings` every finding.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import pandas as pd

from pianqu.config import Config, load_config
from pianqu.findings import Finding
from pianqu.network.coverage import Coverage, telecom_coverage
from pianqu.network.diagnostics import Diagnosis, bottlenecks, bridges, components, dead_ends, detours
from pianqu.network.graph import RoadGraph, build_graph
from pianqu.network.isochrone import isochrones
from pianqu.network.links import Proposal, propose_links
from pianqu.network.snap import snap_points


@dataclass(frozen=True)
class NetworkAnalysis:
    graph: RoadGraph
    components: Diagnosis
    dead_ends: Diagnosis
    bridges: Diagnosis
    bottlenecks: Diagnosis
    detours: Diagnosis
    proposals: Proposal
    coverage: Coverage | None = None
    snapping: tuple[Finding, ...] = field(default=())
    seat_isochrones: gpd.GeoDataFrame | None = None

    @property
    def findings(self) -> list[Finding]:
        out = list(self.graph.findings) + list(self.snapping)
        for d in (self.components, self.dead_ends, self.bottlenecks, self.detours):
            out += list(d.findings)
        out += list(self.proposals.findings)
        if self.coverage is not None:
            out += list(self.coverage.findings)
        return out

    def layers(self) -> dict[str, gpd.GeoDataFrame | pd.DataFrame]:
        """Result layers by name (geometry in EPSG:4490)."""
        out: dict[str, gpd.GeoDataFrame | pd.DataFrame] = {
            "road_dead_end": self.dead_ends.layer,
            "road_dead_end_link": self.dead_ends.extra["links"],
            "road_bridge": self.bridges.layer,
            "road_bottleneck": self.bottlenecks.layer,
            "road_detour": self.detours.layer,
            "road_plan": self.proposals.links,
            "road_component": self.components.layer,
        }
        if self.seat_isochrones is not None:
            out["road_isochrone"] = self.seat_isochrones
        if self.coverage is not None:
            out["telecom_uncovered"] = self.coverage.uncovered
            out["telecom_summary"] = self.coverage.summary
        return out


def analyse_network(roads: gpd.GeoDataFrame, settlements: gpd.GeoDataFrame, *,
                    boundary: gpd.GeoDataFrame | None = None, telecom: gpd.GeoDataFrame | None = None,
                    zones: pd.DataFrame | None = None, config: Config | None = None,
                    budget_m: float | None = None, budget_cost: float | None = None,
                    source: str = "",
                    graph: RoadGraph | None = None) -> NetworkAnalysis:
    """Every road diagnostic of seed §二(四) on a county's layers (see the module doc).
    ``graph``: the graph already built from ``roads`` with the same config (it is not rebuilt)."""
    cfg = config or load_config()
    g = graph if graph is not None else build_graph(roads, config=cfg, source=source)
    snapped = snap_points(g, settlements, layer="settlement") if g.n_nodes else None
    br = bridges(g, settlements, source=source)
    return NetworkAnalysis(
        graph=g,
        components=components(g, settlements, source=source),
        dead_ends=dead_ends(g, settlements, boundary, source=source),
        bridges=br,
        bottlenecks=bottlenecks(g, settlements, bridge_diagnosis=br, source=source),
        detours=detours(g, settlements, zones, source=source),
        proposals=propose_links(g, settlements, zones=zones, budget_m=budget_m, budget_cost=budget_cost,
                                source=source),
        coverage=telecom_coverage(settlements, telecom, config=cfg) if telecom is not None else None,
        snapping=snapped.findings if snapped is not None else (),
        seat_isochrones=seat_isochrones(g, settlements, cfg),
    )


def seat_isochrones(graph: RoadGraph, settlements: gpd.GeoDataFrame, cfg: Config) -> gpd.GeoDataFrame | None:
    """Drive-time service areas of the county seat (settlement level ``county_seat``) for the
    budgets ``network.seat_isochrone_min``; None when the county has no seat or no roads."""
    if not graph.n_nodes or "level" not in settlements:
        return None
    seat = settlements[settlements["level"].astype(str) == "county_seat"]
    if seat.empty:
        return None
    budgets = [60.0 * float(m) for m in cfg["network.seat_isochrone_min"]]
    out = isochrones(graph, seat.iloc[:1], budgets, mode="drive",
                     buffer_m=float(cfg["network.seat_isochrone_buffer_m"]))
    out["source_id"] = str(seat.iloc[0]["code"])
    out["source_name"] = str(seat.iloc[0].get("name", ""))
    return out
