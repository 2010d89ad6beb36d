"""Presence rules at the three levels (zone, township, village) and the central-town list.

The policy (seed §二(二), 二(五), 二(六)) names facilities every zone, township and village
should have, and the regional facilities central towns should host for their zone. The rules
are data (``services/presence_rules.csv``: rule, level, kind, min_count, group, severity,
sureness, source); :func:`presence_check` counts the facilities of each unit and returns what
is missing where.

Levels: ``zone`` (all facilities of the zone's townships count), ``central_town`` (only those
in the zone's centre township), ``township`` and ``village``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

import numpy as np
import pandas as pd

from pianqu.findings import Finding
from pianqu.standards import table as standards_table
from pianqu.services.common import LEVELS, ServicesInputError, KindName, Zones, kind_table

STATUS_COLUMNS = ["level", "unit", "unit_name", "zone", "township_code", "rule", "kind", "required",
                  "present", "missing", "ok", "group", "severity", "sureness", "source"]


def presence_rules(table: pd.DataFrame | None = None, *, groups: Iterable[str] | None = None,
                   levels: Iterable[str] | None = None) -> pd.DataFrame:
    """The presence rules (the shipped ``standards/presence_rules.csv`` or ``table``), optionally only some
    groups (elderly_children, central_town, health, safety, governance, transport, logistics,
    utilities) or levels."""
    raw = standards_table("presence_rules") if table is None else table.astype(str).copy()
    for col in ("rule", "level", "kind", "min_count"):
        if col not in raw.columns:
            raise ServicesInputError(f"presence rules: column '{col}' is missing")
    for col, default in (("group", ""), ("severity", "warning"), ("sureness", ""), ("source", "")):
        if col not in raw.columns:
            raw[col] = default
    bad = raw[~raw["level"].isin(LEVELS)]
    if len(bad):
        raise ServicesInputError(f"presence rule '{bad['rule'].iloc[0]}': level '{bad['level'].iloc[0]}' is not one "
                                 f"of {LEVELS}")
    unknown = raw[~raw["kind"].isin(kind_table().index)]
    if len(unknown):
        raise ServicesInputError(f"presence rule '{unknown['rule'].iloc[0]}': kind '{unknown['kind'].iloc[0]}' is not "
                                 "a facility kind (pianqu standards --table facility_kinds)")
    raw["min_count"] = pd.to_numeric(raw["min_count"], errors="coerce")
    if raw["min_count"].isna().any() or (raw["min_count"] < 1).any():
        raise ServicesInputError("presence rules: min_count must be a whole number ≥ 1")
    raw["min_count"] = raw["min_count"].astype(int)
    if raw["rule"].duplicated().any():
        raise ServicesInputError(f"presence rules: rule '{raw['rule'][raw['rule'].duplicated()].iloc[0]}' is listed twice")
    if groups is not None:
        raw = raw[raw["group"].isin(list(groups))]
    if levels is not None:
        raw = raw[raw["level"].isin(list(levels))]
    return raw.reset_index(drop=True)


@dataclass
class PresenceResult:
    """status: one row per unit and rule (:data:`STATUS_COLUMNS`); missing: the rows not met;
    findings: one per rule with units missing (the table has the details)."""

    status: pd.DataFrame
    findings: list[Finding] = field(default_factory=list)

    @property
    def missing(self) -> pd.DataFrame:
        return self.status[~self.status["ok"]].reset_index(drop=True)

    def summary(self) -> pd.DataFrame:
        """Per level and rule: units, units meeting the rule, units missing, share meeting it."""
        s = self.status
        g = s.groupby(["level", "rule", "kind"], sort=False)
        out = pd.DataFrame({"units": g.size(), "units_ok": g["ok"].sum().astype(int),
                            "facilities": g["present"].sum().astype(int)}).reset_index()
        out["units_missing"] = out["units"] - out["units_ok"]
        out["share_ok"] = out["units_ok"] / out["units"].where(out["units"] > 0)
        return out

    def matrix(self, level: str) -> pd.DataFrame:
        """Units × kinds of one level: the number of facilities present (the "what is missing
        where" table; zeros are the gaps)."""
        s = self.status[self.status["level"] == level]
        if s.empty:
            return pd.DataFrame()
        return s.pivot_table(index=["zone", "unit", "unit_name"], columns="kind", values="present",
                             aggfunc="sum", sort=True).astype(int)


def _names(frame: pd.DataFrame | None) -> dict[str, str]:
    if frame is None or "name" not in frame.columns:
        return {}
    return dict(zip(frame["code"].astype(str), frame["name"].astype(str)))


def presence_check(facilities: pd.DataFrame, *, townships: pd.DataFrame, villages: pd.DataFrame | None = None,
                   zones: Zones | None = None, rules: pd.DataFrame | None = None,
                   ) -> PresenceResult:
    """Count the facilities of every unit against the presence rules.

    facilities: the facility layer prepared by :func:`pianqu.services.common.prepare_facilities`
        (``kind``, ``township_code``, ``village_code``, ``zone``);
    townships, villages: the unit layers (``code``, ``name``; villages with ``township_code``);
    zones: township-level zones (without them, zone and central-town rules are skipped);
    rules: from :func:`presence_rules` (all shipped rules by default).
    """
    rules = presence_rules() if rules is None else rules
    fk = facilities["kind"].astype(str).to_numpy()
    ft = facilities["township_code"].astype(str).to_numpy()
    fv = facilities["village_code"].astype(str).to_numpy() if "village_code" in facilities.columns else np.full(len(fk), "")
    fz = facilities["zone"].astype(str).to_numpy() if "zone" in facilities.columns else np.full(len(fk), "")
    t_names = _names(townships)
    t_codes = townships["code"].astype(str).to_numpy()
    units: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = {}
    # (unit ids, names, zone, township, key of each facility at this level)
    tz = zones.zone_of(t_codes) if zones is not None else np.full(len(t_codes), "", dtype=object)
    units["township"] = (t_codes, np.array([t_names.get(c, c) for c in t_codes], dtype=object), tz, t_codes, ft)
    if villages is not None and len(villages):
        v_codes = villages["code"].astype(str).to_numpy()
        v_t = villages["township_code"].astype(str).to_numpy()
        v_names = _names(villages)
        units["village"] = (v_codes, np.array([v_names.get(c, c) for c in v_codes], dtype=object),
                            zones.zone_of(v_t) if zones is not None else np.full(len(v_codes), "", dtype=object),
                            v_t, fv)
    if zones is not None:
        z_ids = np.array(zones.ids, dtype=object)
        z_names = np.array([_zone_name(z, zones, t_names) for z in z_ids], dtype=object)
        units["zone"] = (z_ids, z_names, z_ids, np.array([zones.centres.get(z, "") for z in z_ids], dtype=object), fz)
        cz = np.array([z for z in zones.ids if z in zones.centres], dtype=object)
        cc = np.array([zones.centres[z] for z in cz], dtype=object)
        units["central_town"] = (cc, np.array([t_names.get(c, c) for c in cc], dtype=object), cz, cc, ft)
    frames = []
    findings: list[Finding] = []
    for r in rules.itertuples(index=False):
        if r.level not in units:
            continue
        ids, names, zone, town, key = units[r.level]
        counts = pd.Series(key[fk == r.kind]).value_counts()
        present = counts.reindex(ids).fillna(0).astype(int).to_numpy() if len(ids) else np.zeros(0, int)
        frames.append(pd.DataFrame({
            "level": r.level, "unit": ids, "unit_name": names, "zone": zone, "township_code": town,
            "rule": r.rule, "kind": r.kind, "required": int(r.min_count),
            "present": present, "missing": np.maximum(0, int(r.min_count) - present),
            "ok": present >= int(r.min_count), "group": r.group, "severity": r.severity,
            "sureness": r.sureness, "source": r.source}))
        lacking = ids[present < int(r.min_count)]
        if len(lacking):
            nm = names[present < int(r.min_count)]
            findings.append(Finding(r.severity if r.severity in ("error", "warning", "info") else "warning",
                                    f"services.presence.{r.level}", _LEVEL_LAYER[r.level], ",".join(map(str, lacking[:20])),
                                    "kind", {"kind": KindName(r.kind), "n": len(lacking), "units": len(ids),
                                             "names": "、".join(map(str, nm[:8])) + ("…" if len(nm) > 8 else ""),
                                             "required": int(r.min_count), "source_rule": r.source}))
    status = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=STATUS_COLUMNS)
    return PresenceResult(status[STATUS_COLUMNS], findings)


_LEVEL_LAYER = {"zone": "zone", "central_town": "zone", "township": "township", "village": "village"}


def _zone_name(zone: str, zones: Zones, t_names: dict[str, str]) -> str:
    """A zone's name as the zone layer has it (``<centre town>片区``, a name of the data)."""
    centre = zones.centres.get(zone)
    if centre:
        base = t_names.get(centre, centre)
        return f"{base}片区"
    return str(zone)
