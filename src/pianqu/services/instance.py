"""The public-service instance: everything the service analyses need, built once.

:func:`from_workspace` gathers the townships, villages, facilities, settlements and roads (from
the workspace, or from a plan's inputs), the road graph, the terrain class of every village
(from the base epoch's parcel slopes and the county's class) and the zones of a scenario (every
township its own zone when there are none). :func:`analyse` runs every service analysis on an
instance without touching the workspace (:func:`pianqu.services.analyse_services`); the result
knows the layers it came from (``to_frame``, ``to_gdf``, ``layers``, ``write``).

>>> inst = pianqu.services.instance.from_workspace(ws, "plan")           # doctest: +SKIP
>>> result = pianqu.services.instance.analyse(inst)                      # doctest: +SKIP
>>> result.to_frame()                                                    # doctest: +SKIP
>>> result.write(ws, "plan")                                             # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import geopandas as gpd
import numpy as np
import pandas as pd

from pianqu.config import Config
from pianqu.network import RoadGraph, build_graph
from pianqu.parcels import read_landuse
from pianqu.services.analysis import ServicesAnalysis, _county_terrain, analyse_services
from pianqu.services.common import Zones, config_of
from pianqu.services.coverage import village_terrain
from pianqu.workspace import Workspace

LAYERS = ("township", "village", "facility", "settlement", "road")  # what the analyses read


@dataclass
class ServicesInstance:
    """A county ready for the service analyses.

    ``townships``, ``villages``, ``facilities`` (required), ``settlements`` and ``roads``
    (optional: seats, travel times); ``graph`` (the road graph; None: built from ``roads`` or
    replaced by ``costs``); ``costs`` / ``site_costs`` (optional cost matrices ``{mode: village ×
    facility}`` and village × candidate settlement, see :func:`pianqu.services.analyse_services`);
    ``zones`` (None: every township its own zone, with a finding); ``terrain`` (class per
    village code, or one class for all; None: the county's class); ``county_code``, ``config``.
    """

    townships: gpd.GeoDataFrame
    villages: gpd.GeoDataFrame
    facilities: gpd.GeoDataFrame
    settlements: gpd.GeoDataFrame | None = None
    roads: gpd.GeoDataFrame | None = None
    graph: RoadGraph | None = field(default=None, repr=False)
    costs: Mapping[str, np.ndarray] | None = field(default=None, repr=False)
    site_costs: Mapping[str, np.ndarray] | None = field(default=None, repr=False)
    zones: Zones | None = None
    terrain: pd.Series | str | None = None
    county_code: str = ""
    config: Config | None = None

    def layers(self) -> dict[str, gpd.GeoDataFrame]:
        """The layers by the names :func:`pianqu.services.analyse_services` reads (absent ones left out)."""
        out = {"township": self.townships, "village": self.villages, "facility": self.facilities,
               "settlement": self.settlements, "road": self.roads}
        return {k: v for k, v in out.items() if v is not None}


def base_slopes(ws: Workspace, parcels: pd.DataFrame | None = None) -> pd.DataFrame | None:
    """The base epoch's parcels' ``village_code``, ``slope_deg`` and ``area_m2`` (for the terrain
    class of each village): from ``parcels`` when already read (a plan's inputs), else read; None
    when the workspace has no parcels or they carry no slopes."""
    columns = ["village_code", "slope_deg", "area_m2"]
    if parcels is None:
        if not ws.has("landuse"):
            return None
        try:  # the planning base epoch only: later epochs repeat the same ground
            parcels = read_landuse(ws, columns)
        except Exception:  # an older workspace without slopes: terrain from the county's class
            return None
    if not set(columns) <= set(parcels.columns):
        return None
    return pd.DataFrame(parcels[columns])


def scenario_zones(ws: Workspace, scenario: str | None) -> Zones | None:
    """The zones ``pianqu plan`` wrote into ``scenario`` (None: no such scenario, or no zones in it)."""
    if scenario is None or scenario not in set(ws.scenarios()["name"]) or not ws.has("zone_member", scenario):
        return None
    return Zones.from_scenario(ws, scenario)


def from_layers(layers: Mapping[str, gpd.GeoDataFrame | pd.DataFrame], *, zones: Zones | None = None,
                graph: RoadGraph | None = None, slopes: pd.DataFrame | None = None, county_code: str = "",
                config: Config | None = None, build_network: bool = True) -> ServicesInstance:
    """The instance of a county from its layers (``township``, ``village``, ``facility``,
    ``settlement``, ``road``) and, for the terrain classes, its parcel slopes. The road graph is
    built from ``road`` unless given (or ``build_network`` is False)."""
    cfg = config_of(config)
    villages = layers.get("village")
    terrain = None
    if villages is not None:
        terrain = village_terrain(villages, slopes, county_terrain=_county_terrain(county_code), config=cfg)
    roads = layers.get("road")
    if graph is None and build_network and roads is not None:
        graph = build_graph(roads, config=cfg)
    return ServicesInstance(layers.get("township"), villages, layers.get("facility"), layers.get("settlement"),
                            roads, graph, zones=zones, terrain=terrain, county_code=str(county_code or ""),
                            config=cfg)


def _input_layers(inputs: Any) -> dict[str, gpd.GeoDataFrame]:
    """The layers of a plan's inputs (:class:`pianqu.inputs.PlanInputs` or anything with its
    ``townships``, ``villages``, ``facilities``, ``settlements``, ``roads`` attributes)."""
    out = {name: getattr(inputs, attr, None) for name, attr in
           zip(LAYERS, ("townships", "villages", "facilities", "settlements", "roads"))}
    return {k: v for k, v in out.items() if v is not None}


def from_workspace(ws: Workspace, scenario: str | None = None, *, config: Config | None = None,
                   inputs: Any = None, zones: Zones | None = None) -> ServicesInstance:
    """The service instance of ``ws``, built once.

    Parameters
    ----------
    ws : pianqu.workspace.Workspace
        The county workspace (its base-epoch parcel slopes give each village's terrain class).
    scenario : str, optional
        The plan scenario whose zones (``zone_member``) are used when ``zones`` is not given;
        without zones every township is its own zone.
    config : pianqu.config.Config, optional
        Thresholds in force; default the workspace's own.
    inputs : pianqu.inputs.PlanInputs, optional
        A plan's inputs (their ``townships``, ``villages``, ``facilities``, ``settlements``,
        ``roads`` and ``graph`` are used); default the workspace's own layers, and a road graph
        built from its ``road`` layer.
    zones : pianqu.services.Zones, optional
        Township-level zones (e.g. ``Zones.from_frame(result.members(), code="township_code")``).

    Returns
    -------
    ServicesInstance
        Layers, road graph, zones, terrain per village, county code and config.
    """
    cfg = config or ws.config()
    if inputs is not None:
        layers = _input_layers(inputs)
        graph = getattr(inputs, "graph", None)
        parcels = getattr(inputs, "parcels", lambda: None)()  # read once by the plan's inputs
    else:
        layers = {name: ws.read(name) for name in LAYERS if ws.has(name)}
        graph, parcels = None, None
    return from_layers(layers, zones=zones if zones is not None else scenario_zones(ws, scenario), graph=graph,
                       slopes=base_slopes(ws, parcels), county_code=ws.meta.county_code, config=cfg)


def analyse(instance: ServicesInstance, **options) -> ServicesAnalysis:
    """Every service analysis of ``instance`` (:func:`pianqu.services.analyse_services` with the
    instance's layers, graph, costs, zones, terrain and config; no workspace access).

    ``options``: ``planned_population``, ``fca_services``, ``propose``, ``time_limit``. The
    result keeps the instance's layers for :meth:`ServicesAnalysis.layers` and ``write``.
    """
    layers = instance.layers()
    analysis = analyse_services(layers, zones=instance.zones, graph=instance.graph, costs=instance.costs,
                                site_costs=instance.site_costs, county_code=instance.county_code or None,
                                terrain=instance.terrain, config=instance.config, **options)
    analysis.source = layers
    return analysis
