"""What one evaluation reads, read once: the workspace's base layers, the scenario's layers, the
land-use parcels of each epoch and the township → zone map.

An indicator function asks the :class:`Context` for a layer; a layer that is missing raises
:class:`Missing`, which the engine turns into a 无数据 row and a finding that names the layer and
what to do, so nothing is guessed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from pianqu.config import Config
from pianqu.geo import STORAGE_EPSG, ellipsoidal_area
from pianqu.land.common import recorded_area
from pianqu.land.stats import township_stats
from pianqu.parcels import base_epoch, epochs_of, select_epoch
from pianqu.standards import table
from pianqu.workspace import Workspace


class Missing(Exception):
    """An input an indicator needs is absent: ``layer`` (a layer name) and ``need`` — what to do:
    ``plan`` (run pianqu plan into a scenario), ``import`` (import the layer), ``facility`` (a
    facility kind the layer lacks), ``population`` (population figures)."""

    def __init__(self, layer: str, need: str = "import", detail: str = ""):
        super().__init__(layer)
        self.layer, self.need, self.detail = layer, need, detail


@dataclass
class Context:
    """The inputs of one evaluation (see the module doc). ``epoch`` is the land-use epoch being
    evaluated; :meth:`at` gives the same context at another epoch (shared caches)."""

    ws: Workspace
    scenario: str | None
    epoch: int | None
    epochs: tuple[int, ...]
    base_epoch: int | None
    config: Config
    _cache: dict[Any, Any] = field(default_factory=dict)

    def at(self, epoch: int | None) -> "Context":
        return Context(self.ws, self.scenario, epoch, self.epochs, self.base_epoch, self.config, self._cache)

    def _memo(self, key, make):
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    # -- layers ------------------------------------------------------------------------------------
    def base(self, name: str, *, required: bool = True):
        """A base layer (a copy), or None / :class:`Missing` when the workspace lacks it."""
        frame = self._memo(("base", name), lambda: self.ws.read(name) if self.ws.has(name) else None)
        if frame is None:
            if required:
                raise Missing(name, "import")
            return None
        return frame.copy()

    def plan(self, name: str, *, required: bool = True, fallback_base: bool = False):
        """A layer of the scenario (a copy); ``fallback_base``: the base layer of that name when the
        scenario has none (control lines, conflicts). :class:`Missing` (``plan``) when absent."""
        def read():
            if self.scenario is not None and self.ws.has(name, self.scenario):
                return self.ws.read(name, self.scenario)
            if fallback_base and self.ws.has(name):
                return self.ws.read(name)
            return None
        frame = self._memo(("plan", name), read)
        if frame is None:
            if required:
                raise Missing(name, "plan")
            return None
        return frame.copy()

    # -- units --------------------------------------------------------------------------------------
    def townships(self) -> gpd.GeoDataFrame:
        t = self.base("township")
        t["code"] = t["code"].astype(str)
        return t

    def villages(self) -> gpd.GeoDataFrame:
        v = self.base("village")
        v["code"] = v["code"].astype(str)
        v["township_code"] = v["township_code"].astype(str)
        return v

    def admin_villages(self) -> gpd.GeoDataFrame:
        """行政村: villages of kind 村 (社区 are urban); all villages when the layer has no kind."""
        v = self.villages()
        if "kind" in v and v["kind"].notna().any():
            v = v[v["kind"].astype(str) == "村"]
        return v

    def zone_of(self) -> pd.Series:
        """township code → zone id, from the scenario's zone_member (:class:`Missing` without)."""
        def make():
            m = self.plan("zone_member")
            return pd.Series(m["zone"].astype(str).to_numpy(), index=m["township_code"].astype(str).to_numpy())
        return self._memo("zone_of", make)

    def zones(self) -> gpd.GeoDataFrame:
        z = self.plan("zone")
        z["zone"] = z["zone"].astype(str)
        return z

    def unit_names(self) -> dict[str, str]:
        """code → name of the county, zones (when there is a scenario), townships and villages."""
        def make():
            names: dict[str, str] = {}
            meta = self.ws.meta
            names[str(meta.county_code)] = str(meta.county_name)
            for layer in ("township", "village"):
                frame = self.base(layer, required=False)
                if frame is not None:
                    names.update(zip(frame["code"].astype(str), frame["name"].astype(str)))
            zones = self.plan("zone", required=False)
            if zones is not None:
                col = "name" if "name" in zones else "zone"
                names.update(zip(zones["zone"].astype(str), zones[col].astype(str)))
            return names
        return self._memo("unit_names", make)

    @property
    def county_code(self) -> str:
        return str(self.ws.meta.county_code)

    # -- land use -----------------------------------------------------------------------------------
    def parcels(self) -> gpd.GeoDataFrame:
        """The parcels of this context's epoch (:class:`Missing` without a land-use layer)."""
        def make():
            lu = self.base("landuse")
            return select_epoch(lu, self.epoch, meta=self.ws.meta) if self.epochs else lu
        frame = self._memo(("parcels", self.epoch), make)
        return frame.copy()

    def township_land(self) -> pd.DataFrame:
        """Per township the first-level classes in ha by the 三调 statistical method
        (:func:`pianqu.land.stats.township_stats`) for this epoch."""
        return self._memo(("township_land", self.epoch),
                          lambda: township_stats(townships=self.townships(), landuse=self.parcels(),
                                                 landuse_version=self.ws.meta.landuse_version))

    def parcel_area_m2(self, parcels: gpd.GeoDataFrame) -> np.ndarray:
        """Each parcel's recorded area (TBMJ), else its ellipsoidal area."""
        area = recorded_area(parcels)
        todo = ~np.isfinite(area)
        if todo.any():
            area[todo] = ellipsoidal_area(parcels.geometry[todo].to_crs(STORAGE_EPSG))
        return area

    def settlement_of(self, parcels: pd.DataFrame) -> pd.Series:
        """Each parcel's 城镇村 settlement (``town``/``village``/``other``/``""``) from its 城镇村属性码."""
        cz = table("czcsxm")
        kinds = dict(zip(cz["code"].astype(str), cz["settlement"].astype(str)))
        if "czcsxm" not in parcels:
            return pd.Series("", index=parcels.index)
        return parcels["czcsxm"].astype("string").fillna("").str.strip().map(kinds).fillna("")


def open_context(ws: Workspace, scenario: str | None, epoch: int | None, config: Config) -> Context:
    """The context of an evaluation; ``epoch`` None: the latest epoch of the land-use layer."""
    epochs: tuple[int, ...] = ()
    first = None
    if ws.has("landuse"):
        lu = ws.read("landuse", columns=["epoch"])
        epochs = tuple(epochs_of(lu))
        first = base_epoch(lu, ws.meta)
    if epoch is None and epochs:
        epoch = epochs[-1]
    elif epoch is not None and epochs and int(epoch) not in epochs:
        select_epoch(pd.DataFrame({"epoch": list(epochs)}), int(epoch))  # raises the user's error
    return Context(ws, scenario, None if epoch is None else int(epoch), epochs, first, config)
