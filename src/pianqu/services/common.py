"""Shared inputs of the service analyses: zones, facilities placed in their units, demand points.

Zones come from :mod:`pianqu.zoning` (or a planner's table) as a mapping township code → zone
id plus zone id → centre township code (:class:`Zones`). Facilities are the ``facility`` layer;
a facility without ``township_code``/``village_code`` is placed by the polygon it lies in.
Demand points are village seats (or any point layer with a population).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Iterable, Mapping

import geopandas as gpd
import numpy as np
import pandas as pd

from pianqu.config import Config, load_config
from pianqu.errors import Phrase, PianquError
from pianqu.findings import Finding
from pianqu.i18n import default_lang
from pianqu.standards import facility_kinds

LEVELS = ("zone", "central_town", "township", "village")


class ServicesInputError(ValueError):
    """Input the service analyses cannot use; the message names the layer, feature and field."""


class ServicesDataError(PianquError, ServicesInputError):
    """A ServicesInputError the user can reach from the command line (a layer of the workspace,
    a ``pianqu.toml`` entry), said in the user's language (``services.error.*``)."""


def config_of(cfg: Config | None) -> Config:
    return cfg if cfg is not None else load_config()


@cache
def kind_table() -> pd.DataFrame:
    """facility_kinds() indexed by kind."""
    return facility_kinds().set_index("kind")


class KindName(Phrase):
    """The name of a facility kind said in the reader's language (``name_zh``/``name_en`` of the
    standards table; the kind itself when unknown): a finding's parameter, rendered at the edges
    (``KindName("school").message("en")``)."""

    def __init__(self, kind: str):
        super().__init__(str(kind))

    def message(self, lang: str | None = None) -> str:
        kt = kind_table()
        if self.key not in kt.index:
            return self.key
        return str(kt.at[self.key, "name_en" if (lang or default_lang()) == "en" else "name_zh"])


def facility_name(kind: str) -> str:
    """The Chinese name of a facility kind, as a proposed facility's name in the data is made
    (``<seat name><kind name>``, like the names of the facility layer)."""
    kt = kind_table()
    return str(kt.at[kind, "name_zh"]) if kind in kt.index else str(kind)


def split_kinds(text: str) -> list[str]:
    """``"a|b"`` → ``["a", "b"]`` (kinds listed in a data file)."""
    return [k.strip() for k in str(text).split("|") if k.strip()]


# -- zones ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Zones:
    """Township-level zones: township code → zone id, and zone id → centre township code.

    ``centres`` may miss zones (no centre named yet); central-town checks then skip them.
    """

    township_zone: Mapping[str, str]
    centres: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        tz = {str(k): str(v) for k, v in self.township_zone.items()}
        ce = {str(k): str(v) for k, v in self.centres.items()}
        for zone, centre in ce.items():
            if zone not in set(tz.values()):
                raise ServicesInputError(f"zones: centre given for zone '{zone}', which has no township")
            if tz.get(centre) != zone:
                raise ServicesInputError(f"zones: centre township '{centre}' of zone '{zone}' is not a member "
                                         f"of that zone (it is in zone '{tz.get(centre, '—')}'); "
                                         "choose a member township as the centre")
        object.__setattr__(self, "township_zone", tz)
        object.__setattr__(self, "centres", ce)

    @property
    def ids(self) -> list[str]:
        """Zone ids in first-seen order."""
        return list(dict.fromkeys(self.township_zone.values()))

    def __len__(self) -> int:
        return len(self.ids)

    def members(self, zone: str) -> list[str]:
        return [t for t, z in self.township_zone.items() if z == zone]

    def zone_of(self, township_codes: Iterable) -> np.ndarray:
        """Zone id per township code ('' when the township is in no zone)."""
        return np.array([self.township_zone.get(str(c), "") for c in township_codes], dtype=object)

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, *, code: str = "code", zone: str = "zone",
                   is_centre: str | None = "is_centre", centre: str | None = None) -> "Zones":
        """From a table with one row per township (e.g. ``ZoningResult.to_frame()``): the zone of
        each township and either an ``is_centre`` flag or a ``centre`` column (centre code)."""
        for col in (code, zone):
            if col not in frame.columns:
                raise ServicesInputError(f"zone table: column '{col}' is missing; expected one row per township "
                                         f"with '{code}' and '{zone}'")
        codes = frame[code].astype(str).str.strip()
        dup = codes[codes.duplicated()]
        if len(dup):
            raise ServicesInputError(f"zone table: township '{dup.iloc[0]}' is listed twice; "
                                     "a township belongs to exactly one zone")
        zones = frame[zone].astype(str).str.strip()
        centres: dict[str, str] = {}
        if centre is not None and centre in frame.columns:
            for z, c in zip(zones, frame[centre].astype(str).str.strip()):
                if c and c.lower() not in ("nan", "none"):
                    centres.setdefault(z, c)
        elif is_centre is not None and is_centre in frame.columns:
            flag = frame[is_centre].fillna(False).astype(bool).to_numpy()
            for z, c in zip(zones[flag], codes[flag]):
                if z in centres:
                    raise ServicesInputError(f"zone table: zone '{z}' has two centres ('{centres[z]}' and '{c}')")
                centres[z] = c
        return cls(dict(zip(codes, zones)), centres)

    @classmethod
    def from_scenario(cls, ws, scenario: str) -> "Zones":
        """The zones ``pianqu plan`` wrote into ``scenario`` (its ``zone_member`` table)."""
        if not ws.has("zone_member", scenario):
            raise ServicesDataError("services.error.no_zones", path=ws.url, scenario=scenario)
        return cls.from_frame(ws.read("zone_member", scenario), code="township_code", zone="zone",
                              is_centre="is_centre")

    @classmethod
    def per_township(cls, townships: pd.DataFrame) -> "Zones":
        """Every township its own zone (before zones are delineated)."""
        codes = townships["code"].astype(str)
        return cls(dict(zip(codes, codes)), dict(zip(codes, codes)))

    def check(self, townships: pd.DataFrame) -> list[Finding]:
        """Townships of the layer that are in no zone, and zone members that are not townships."""
        codes = set(townships["code"].astype(str))
        out = [Finding("error", "services.zone_missing_township", "township", c, "code")
               for c in sorted(codes - set(self.township_zone))]
        out += [Finding("warning", "services.zone_unknown_township", "zone_member", c, "code")
                for c in sorted(set(self.township_zone) - codes)]
        return out


# -- facilities ------------------------------------------------------------------------------------
def _within(points: gpd.GeoSeries, polygons: gpd.GeoDataFrame, code: str = "code") -> np.ndarray:
    """Code of the polygon each point lies in ('' when none)."""
    out = np.full(len(points), "", dtype=object)
    if len(points) == 0 or polygons is None or len(polygons) == 0:
        return out
    poly = polygons.to_crs(points.crs) if polygons.crs != points.crs else polygons
    tree_idx = poly.sindex.query(points.to_numpy(), predicate="within")
    pi, gi = tree_idx
    order = np.argsort(pi, kind="stable")
    pi, gi = pi[order], gi[order]
    first = np.r_[True, pi[1:] != pi[:-1]] if len(pi) else np.zeros(0, bool)
    out[pi[first]] = poly[code].astype(str).to_numpy()[gi[first]]
    return out


def prepare_facilities(facilities: gpd.GeoDataFrame | pd.DataFrame, *, townships: gpd.GeoDataFrame | None = None,
                       villages: gpd.GeoDataFrame | None = None, zones: Zones | None = None,
                       layer: str = "facility") -> tuple[pd.DataFrame, list[Finding]]:
    """The facility layer with ``township_code``, ``village_code`` (filled from the polygons
    a facility lies in where blank), ``zone`` and the kind's ``kind_level``/``group``.

    Facilities of unknown kind are kept (and reported); the caller's frame is not changed.
    """
    if facilities is None:
        facilities = gpd.GeoDataFrame({"id": [], "kind": []}, geometry=[], crs=4490)
    for col in ("id", "kind"):
        if col not in facilities.columns:
            raise ServicesDataError("services.error.facility_field", layer=layer, field=col)
    f = facilities.copy()
    findings: list[Finding] = []
    ids = f["id"].astype("string")
    blank = ids.isna() | (ids.str.strip() == "")
    if blank.any():
        raise ServicesDataError("services.error.facility_no_id", layer=layer, n=int(blank.sum()),
                                row=int(np.flatnonzero(blank.to_numpy())[0]))
    dup = ids[ids.duplicated()]
    if len(dup):
        raise ServicesDataError("services.error.facility_dup_id", layer=layer, id=str(dup.iloc[0]))
    f["id"] = ids.astype(str).to_numpy()
    f["kind"] = f["kind"].astype("string").fillna("").str.strip().astype(str).to_numpy()
    kt = kind_table()
    for fid, kind in zip(f["id"], f["kind"]):
        if kind not in kt.index:
            findings.append(Finding("warning", "services.unknown_kind", layer, fid, "kind", {"value": kind}))
    f["kind_level"] = f["kind"].map(kt["level"]).fillna("").to_numpy()
    f["group"] = f["kind"].map(kt["group"]).fillna("").to_numpy()
    for col in ("township_code", "village_code"):
        if col not in f.columns:
            f[col] = None
        f[col] = f[col].astype("string").fillna("").str.strip().astype(str).to_numpy()
    spatial = isinstance(f, gpd.GeoDataFrame) and f.geometry.name in f.columns and f.crs is not None
    if spatial:
        geom_ok = (~f.geometry.isna() & ~f.geometry.is_empty).to_numpy()
        need_v = (f["village_code"] == "").to_numpy() & geom_ok
        if need_v.any() and villages is not None and len(villages):
            f.loc[need_v, "village_code"] = _within(f.geometry[need_v], villages)
        need_t = (f["township_code"] == "").to_numpy() & geom_ok
        if need_t.any():
            if villages is not None and "township_code" in villages.columns:
                vt = dict(zip(villages["code"].astype(str), villages["township_code"].astype(str)))
                f.loc[need_t, "township_code"] = f.loc[need_t, "village_code"].map(vt).fillna("").to_numpy()
            still = need_t & (f["township_code"] == "").to_numpy()
            if still.any() and townships is not None and len(townships):
                f.loc[still, "township_code"] = _within(f.geometry[still], townships)
    if villages is not None and "township_code" in villages.columns:
        # a facility coded to a village but not a township: the village says which township
        vt = dict(zip(villages["code"].astype(str), villages["township_code"].astype(str)))
        miss = (f["township_code"] == "") & (f["village_code"] != "")
        f.loc[miss, "township_code"] = f.loc[miss, "village_code"].map(vt).fillna("").to_numpy()
    for fid in f.loc[f["township_code"] == "", "id"]:
        findings.append(Finding("warning", "services.facility_unplaced", layer, fid, "township_code"))
    f["zone"] = zones.zone_of(f["township_code"]) if zones is not None else ""
    return f, findings


# -- demand --------------------------------------------------------------------------------------
def village_demand(villages: gpd.GeoDataFrame, settlements: gpd.GeoDataFrame | None = None, *,
                   zones: Zones | None = None) -> gpd.GeoDataFrame:
    """One demand point per village, weighted by its population.

    The point is the village's seat (``settlement`` level ``village_seat``), else a point inside
    the village polygon.

    Parameters
    ----------
    villages : geopandas.GeoDataFrame
        The ``village`` layer: ``code``, ``township_code``, ``population`` (non-negative), polygons.
    settlements : geopandas.GeoDataFrame, optional
        Settlements with ``level`` and ``village_code`` (the county's own, or
        :attr:`pianqu.inputs.PlanInputs.settlements`).
    zones : Zones, optional
        Township → zone, to fill the ``zone`` column (empty otherwise).

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``code``, ``name``, ``township_code``, ``zone``, ``population``, geometry (in the
        CRS of ``villages``).

    Raises
    ------
    pianqu.services.ServicesInputError
        A field is missing, or a population is missing or negative (the village is named).
    """
    for col in ("code", "township_code", "population"):
        if col not in villages.columns:
            raise ServicesDataError("services.error.village_field", field=col)
    v = villages.reset_index(drop=True)
    pop = pd.to_numeric(v["population"], errors="coerce")
    if pop.isna().any() or (pop < 0).any():
        bad = v["code"].astype(str)[(pop.isna() | (pop < 0)).to_numpy()].iloc[0]
        raise ServicesDataError("services.error.village_population", feature=str(bad))
    codes = v["code"].astype(str).to_numpy()
    geom = v.geometry.representative_point()
    if settlements is not None and len(settlements) and "village_code" in settlements.columns:
        st = settlements[settlements["level"].astype(str) == "village_seat"]
        st = st[st["village_code"].notna()]
        st = st.to_crs(v.crs) if st.crs != v.crs else st
        seat = dict(zip(st["village_code"].astype(str), st.geometry))
        geom = gpd.GeoSeries([seat.get(c, g) for c, g in zip(codes, geom)], crs=v.crs)
    return gpd.GeoDataFrame({
        "code": codes,
        "name": v["name"].astype(str).to_numpy() if "name" in v.columns else codes,
        "township_code": v["township_code"].astype(str).to_numpy(),
        "zone": zones.zone_of(v["township_code"]) if zones is not None else np.full(len(v), "", dtype=object),
        "population": pop.to_numpy(float),
    }, geometry=geom.to_numpy(), crs=v.crs)


def fill_zone(frame: pd.DataFrame, zones: Zones | None) -> pd.DataFrame:
    """Set the ``zone`` column of a frame that has ``township_code``."""
    out = frame.copy()
    out["zone"] = zones.zone_of(out["township_code"]) if zones is not None else ""
    return out
