"""Safety (seed §二(六)): emergency shelters, fire stations, emergency-supply reserve points and
the governance facilities the policy names.

- :func:`shelter_check`: per zone, fixed-shelter capacity against ``services.shelter_fixed_share``
  of the planned population, shelter area per person (人均应急避难场所面积, a TD/T 1063
  indicator) and per-site area against ``services.shelter_area_per_person_m2`` /
  ``services.shelter_site_min_m2``; the 500 m service radius is the ``shelter_emergency``
  coverage standard (:mod:`pianqu.services.coverage`);
- :func:`fire_jurisdictions`: each demand point goes to its fastest fire responder; the area of
  the villages so assigned is the station's jurisdiction, checked against
  ``services.fire_jurisdiction_km2`` by class (建标152); response time is the ``fire`` coverage
  standard;
- :func:`brigade_classes`: the class a township fire brigade should have from its town's
  population, and its site area against ``services.fire_brigade_site_m2`` (GB/T 35547);
- reserve points and governance facilities are presence rules (groups ``safety`` and
  ``governance`` in ``presence_rules.csv``); :func:`safety_presence` selects them.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd

from pianqu.config import Config
from pianqu.findings import Finding
from pianqu.services.common import ServicesInputError, Zones, config_of
from pianqu.services.coverage import as_costs, coverage_standards, nearest, service_limits
from pianqu.services.presence import PresenceResult, presence_check, presence_rules

SHELTER_KINDS = ("shelter_fixed", "shelter_emergency")
FIRE_KINDS = ("fire_station", "township_fire_brigade")
FIRE_CLASSES = ("class1", "class2", "small", "suburban")


def shelter_capacity(shelters: pd.DataFrame, config: Config | None = None) -> np.ndarray:
    """People a shelter holds: its ``capacity``, else its ``area_m2`` ÷ the per-person area."""
    cfg = config_of(config)
    per = float(cfg["services.shelter_area_per_person_m2"])
    cap = pd.to_numeric(shelters.get("capacity"), errors="coerce") if "capacity" in shelters.columns else \
        pd.Series(np.nan, index=shelters.index)
    area = pd.to_numeric(shelters.get("area_m2"), errors="coerce") if "area_m2" in shelters.columns else \
        pd.Series(np.nan, index=shelters.index)
    return cap.fillna(area / per).fillna(0.0).to_numpy(float)


def shelter_check(facilities: pd.DataFrame, population_by_zone: Mapping[str, float] | pd.Series, *,
                  zones: Zones | None = None, config: Config | None = None) -> tuple[pd.DataFrame, pd.DataFrame, list[Finding]]:
    """Shelter capacity and area per zone, and per site.

    facilities: prepared facility layer (``kind``, ``zone``, ``capacity``, ``area_m2``);
    population_by_zone: planned population per zone.
    Returns (per zone: population, fixed_capacity, required, capacity_share, ok, shelter_area_m2,
    area_per_person_m2, area_ok; per site: id, kind, zone, capacity, area_m2, area_per_place_m2,
    area_ok, site_ok; findings).
    """
    cfg = config_of(config)
    share = float(cfg["services.shelter_fixed_share"])
    per = float(cfg["services.shelter_area_per_person_m2"])
    site_min = float(cfg["services.shelter_site_min_m2"])
    pop = pd.Series(population_by_zone, dtype=float)
    sh = facilities[facilities["kind"].astype(str).isin(SHELTER_KINDS)].copy()
    sh["places"] = shelter_capacity(sh, cfg)
    sh["area"] = pd.to_numeric(sh["area_m2"], errors="coerce").fillna(0.0) if "area_m2" in sh.columns else 0.0
    fixed = sh[sh["kind"] == "shelter_fixed"]
    cap = fixed.groupby(fixed["zone"].astype(str))["places"].sum()
    area = sh.groupby(sh["zone"].astype(str))["area"].sum()
    zone_ids = list(pop.index) if zones is None else zones.ids
    per_zone = pd.DataFrame({"zone": zone_ids})
    per_zone["population"] = pop.reindex(zone_ids).fillna(0.0).to_numpy()
    per_zone["fixed_capacity"] = cap.reindex(zone_ids).fillna(0.0).to_numpy()
    per_zone["required"] = share * per_zone["population"]
    per_zone["capacity_share"] = per_zone["fixed_capacity"] / per_zone["population"].where(per_zone["population"] > 0)
    per_zone["ok"] = per_zone["fixed_capacity"] >= per_zone["required"] - 1e-9
    per_zone["shelter_area_m2"] = area.reindex(zone_ids).fillna(0.0).to_numpy()
    per_zone["area_per_person_m2"] = per_zone["shelter_area_m2"] / per_zone["population"].where(per_zone["population"] > 0)
    findings: list[Finding] = []
    for r in per_zone[~per_zone["ok"]].itertuples(index=False):
        findings.append(Finding("warning", "services.shelter.capacity", "zone", str(r.zone), "capacity",
                                {"capacity": round(r.fixed_capacity), "required": round(r.required),
                                 "share": f"{share:.0%}", "population": round(r.population)}))
    per_site = pd.DataFrame({"id": sh["id"].astype(str).to_numpy(), "kind": sh["kind"].to_numpy(),
                             "zone": sh["zone"].astype(str).to_numpy(), "capacity": sh["places"].to_numpy(),
                             "area_m2": np.asarray(sh["area"], dtype=float)})
    per_site["area_per_place_m2"] = per_site["area_m2"] / per_site["capacity"].where(per_site["capacity"] > 0)
    per_site["area_ok"] = per_site["area_per_place_m2"].fillna(0.0) >= per - 1e-9
    per_site["site_ok"] = per_site["area_m2"] >= site_min
    for r in per_site[~per_site["area_ok"]].itertuples(index=False):
        findings.append(Finding("warning", "services.shelter.crowded", "facility", r.id, "capacity",
                                {"per_place": round(float(np.nan_to_num(r.area_per_place_m2)), 2), "min": per}))
    for r in per_site[~per_site["site_ok"] & (per_site["kind"] == "shelter_fixed")].itertuples(index=False):
        findings.append(Finding("info", "services.shelter.small_site", "facility", r.id, "area_m2",
                                {"area": round(r.area_m2), "min": site_min}))
    return per_zone, per_site, findings


def fire_jurisdictions(demand: pd.DataFrame, facilities: pd.DataFrame, costs, *, village_area_m2: pd.Series | None = None,
                       station_class: Mapping[str, str] | None = None, standards: pd.DataFrame | None = None,
                       config: Config | None = None) -> tuple[pd.DataFrame, list[Finding]]:
    """Jurisdiction of each fire responder: the demand points (villages) it reaches first, their
    area and population, the time to its farthest point, against the class limit.

    demand: villages with ``code``, ``population`` (and ``terrain``); facilities in the column
    order of ``costs``; village_area_m2: area per village code (the demand's ``area_m2`` when
    absent); station_class: facility id → class1/class2/small/suburban (default
    ``services.fire_station_default_class``; township brigades are checked as ``suburban``).
    """
    cfg = config_of(config)
    std = coverage_standards(cfg) if standards is None else standards
    limits = dict(cfg["services.fire_jurisdiction_km2"])
    default_class = str(cfg["services.fire_station_default_class"])
    terr = demand["terrain"].astype(str).tolist() if "terrain" in demand.columns else None
    mode, lim, rows = service_limits(std, "fire", terr, len(demand))
    cm = as_costs(costs, len(demand), len(facilities))
    if mode not in cm:
        raise ServicesInputError(f"fire coverage is measured in mode '{mode}' but no {mode} costs were given")
    kinds = facilities["kind"].astype(str).to_numpy()
    cols = np.flatnonzero(np.isin(kinds, rows["kinds"].iloc[0]))
    best, col = nearest(cm[mode], cols)
    if village_area_m2 is None:
        if "area_m2" not in demand.columns:
            raise ServicesInputError("fire jurisdictions need the villages' area (area_m2)")
        area = pd.to_numeric(demand["area_m2"], errors="coerce").fillna(0.0).to_numpy(float)
    else:
        area = pd.Series(village_area_m2).reindex(demand["code"].astype(str)).fillna(0.0).to_numpy(float)
    pop = demand["population"].to_numpy(float)
    ids = facilities["id"].astype(str).to_numpy()
    out = []
    findings: list[Finding] = []
    for c in cols:
        sel = col == c
        cls = (station_class or {}).get(ids[c]) or (default_class if kinds[c] == "fire_station" else "suburban")
        if cls not in limits:
            raise ServicesInputError(f"layer 'facility', feature '{ids[c]}': fire station class '{cls}' is not one of "
                                     f"{', '.join(limits)}")
        a_km2 = float(area[sel].sum()) / 1e6
        tmax = float(best[sel].max()) if sel.any() else 0.0
        r = {"id": ids[c], "kind": kinds[c], "class": cls, "villages": int(sel.sum()), "population": float(pop[sel].sum()),
             "area_km2": a_km2, "max_area_km2": float(limits[cls]), "area_ok": a_km2 <= float(limits[cls]),
             "max_time_min": tmax / 60.0 if mode != "straight" else np.nan,
             "population_within": float(pop[sel & (best <= lim)].sum())}
        out.append(r)
        if not r["area_ok"]:
            findings.append(Finding("warning", "services.fire.jurisdiction", "facility", ids[c], "",
                                    {"area": round(a_km2, 1), "max": limits[cls], "cls": cls}))
    unreached = int((col < 0).sum())
    if unreached:
        findings.append(Finding("warning", "services.fire.unreached", "village",
                                ",".join(demand["code"].astype(str).to_numpy()[col < 0][:20]), "", {"n": unreached}))
    return pd.DataFrame(out, columns=["id", "kind", "class", "villages", "population", "area_km2", "max_area_km2",
                                      "area_ok", "max_time_min", "population_within"]), findings


def brigade_classes(facilities: pd.DataFrame, town_population: Mapping[str, float] | pd.Series, *,
                    config: Config | None = None) -> tuple[pd.DataFrame, list[Finding]]:
    """Township fire brigades: the class their town calls for (``services.fire_brigade_class_population``
    on the town's population) and their site area against that class's range
    (``services.fire_brigade_site_m2``). ``town_population``: township code → 场镇 population."""
    cfg = config_of(config)
    thr = dict(cfg["services.fire_brigade_class_population"])
    ranges = {k: tuple(v) for k, v in dict(cfg["services.fire_brigade_site_m2"]).items()}
    b = facilities[facilities["kind"].astype(str) == "township_fire_brigade"]
    tp = pd.Series(town_population, dtype=float)
    pop = tp.reindex(b["township_code"].astype(str)).fillna(0.0).to_numpy()
    cls = np.where(pop > float(thr["class1"]), "class1", np.where(pop > float(thr["class2"]), "class2", "volunteer"))
    area = pd.to_numeric(b["area_m2"], errors="coerce").to_numpy(float) if "area_m2" in b.columns else np.full(len(b), np.nan)
    lo = np.array([ranges[c][0] for c in cls]) if len(cls) else np.zeros(0)
    hi = np.array([ranges[c][1] for c in cls]) if len(cls) else np.zeros(0)
    status = np.where(np.isnan(area), "unknown", np.where(area < lo, "small", np.where(area > hi, "large", "ok")))
    table = pd.DataFrame({"id": b["id"].astype(str).to_numpy(), "township_code": b["township_code"].astype(str).to_numpy(),
                          "town_population": pop, "class": cls, "area_m2": area, "min_m2": lo, "max_m2": hi,
                          "status": status})
    findings = [Finding("warning", "services.fire.brigade_site", "facility", r["id"], "area_m2",
                        {"area": round(r["area_m2"]), "cls": r["class"], "lo": r["min_m2"], "hi": r["max_m2"]})
                for r in table[table["status"] == "small"].to_dict("records")]
    return table, findings


def safety_presence(facilities: pd.DataFrame, *, townships: pd.DataFrame, villages: pd.DataFrame | None = None,
                    zones: Zones | None = None) -> PresenceResult:
    """Presence of shelters, reserve points, fire stations and the governance facilities per zone."""
    return presence_check(facilities, townships=townships, villages=villages, zones=zones,
                          rules=presence_rules(groups=("safety", "governance")))
