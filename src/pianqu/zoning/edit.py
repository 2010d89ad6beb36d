"""Editing a plan's zones with instant checks (issue 14 item 5): the engine the web platform
and ``pianqu zones edit`` call.

:func:`open_session` builds once what a check needs (the units with their population, the
travel seconds between seats from the plan's inputs, the contiguity graph, the centre scores
and strength, the school districts and schools, the facilities of every unit by kind) and the
saved plan's division with its check. :meth:`EditSession.check` then re-evaluates any division
of the units (a township → zone mapping, optional centres) with numpy over the units — no
geometry, no pandas group-by — in a few milliseconds on a county:

- every unit in one zone; each zone contiguous, with exactly one centre that is its member
  (never a 搬迁撤并 village), within one county (village level: within one township-level zone);
- members and population of each zone against the bounds (``zoning.members_*``,
  ``zoning.zone_population_*``), mean and maximum time to the centre, the share of population
  within the centre-time standard (``zoning.centre_time_min``) against
  ``zoning.within_share_target``, compactness, the number of zones;
- the centre's strength (issue 17): score, rank, below the central-town standard unless the
  county designated it, a 不作中心 town as a centre, a designated fixed centre left out;
- schools: a zone without a school (no district can be drawn inside it), the saved plan's
  school districts split by the edit or more numerous than the zones (districts ≤ zones);
- facility presence: the policy's 片区 facilities (``presence_rules.csv`` levels ``zone`` and
  ``central_town``) present or missing in each zone;
- which of these got better or worse than the saved plan (:attr:`EditCheck.delta`, new and
  resolved findings).

:meth:`EditSession.save` writes the edited zone layers (``zone_member``, ``zone``,
``hierarchy``, ``centre_reason``) in one unit of work, refused with
:class:`~pianqu.workspace.StaleRevisionError` when the scenario's ``zone`` layer is no longer at
the revision the edit started from, and keeps the history in the scenario's ``zone_edit`` table
(who, when, why, from which revision to which, the townships moved) beside the audit trail.

The figures are those of :mod:`pianqu.zoning.evaluate` (``pianqu zones evaluate``) on the same
division, computed independently (``tests/zoning/test_edit.py`` holds them equal).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from pianqu.config import Config
from pianqu.errors import UserKeyError, UserValueError
from pianqu.findings import Finding
from pianqu.i18n import t
from pianqu.services.common import KindName
from pianqu.services.presence import presence_rules
from pianqu.services.schools import SCHOOL_KINDS, pupils as pupils_of, school_capacity
from pianqu.workspace import Holder, Workspace, current_user, scenario_layer, storable
from pianqu.zoning.centres import township_hierarchy
from pianqu.zoning.choice import centre_reasons, centre_strength
from pianqu.zoning.compare import township_instance
from pianqu.zoning.instance import ZoningInstance
from pianqu.zoning.polygons import zone_layer
from pianqu.zoning.problem import RELOCATE_CLASS
from pianqu.zoning.result import ZoningResult

COMMAND = "zones edit"
EDIT_TABLE = "zone_edit"
EDIT_COLUMNS = ["ts", "user", "command", "level", "reason", "base_revision", "new_revision", "moved",
                "centres", "errors", "warnings"]
# findings that leave a division without a shape the plan's layers can hold: never saved
STRUCTURAL = ("zoning.eval.unknown_unit", "zoning.eval.unit_unassigned", "zoning.eval.zone_without_centre",
              "zoning.eval.zone_two_centres", "zoning.eval.centre_not_member", "zoning.eval.centre_relocate",
              "zoning.eval.no_zones")
# the measures compared with the saved plan: key → +1 higher is better, −1 lower is better, 0 neither
MEASURES = {"zones": 0, "mean_time_min": -1, "max_time_min": -1, "within_share": 1, "pop_cv": -1,
            "noncontiguous_zones": -1, "zones_without_centre": -1, "centre_score_mean": 1, "weak_centres": -1,
            "zones_without_school": -1, "districts_split": -1, "facilities_missing": -1, "errors": -1,
            "warnings": -1}
ZONE_COLUMNS = ["zone", "name", "centre", "centre_name", "members", "units", "population", "mean_time_min",
                "max_time_min", "within_share", "contiguous", "pieces", "compactness", "centre_score",
                "centre_rank", "centre_meets_standard", "centre_designated", "centre_below_standard",
                "schools", "pupils", "school_places", "school_districts", "facilities_present",
                "facilities_missing", "changed"]


# -- the result of one check ----------------------------------------------------------------------

@dataclass
class EditCheck:
    """The re-evaluation of one division.

    ``ok``: no error finding; ``findings``; ``zones`` (one row per zone, :data:`ZONE_COLUMNS`);
    ``changed``: units whose zone differs from the saved plan; ``summary`` and ``saved`` (the
    measures of :data:`MEASURES` and more, of this division and of the saved plan); ``delta``
    (measure, saved, edited, change: ``better``/``worse``/``same``/``changed``); ``new`` and
    ``resolved`` (findings this division adds to, or removes from, the saved plan's);
    ``assignment`` and ``centres`` (zone → centre code) as checked; ``seconds`` the check took.
    """

    ok: bool
    findings: list[Finding]
    zones: pd.DataFrame
    changed: list[str]
    summary: dict[str, Any]
    saved: dict[str, Any]
    delta: pd.DataFrame
    new: list[Finding] = field(default_factory=list)
    resolved: list[Finding] = field(default_factory=list)
    assignment: dict[str, str] = field(default_factory=dict)
    centres: dict[str, str] = field(default_factory=dict)
    level: str = "township"
    seconds: float = 0.0

    @property
    def structural(self) -> list[Finding]:
        """The errors that keep this division from being saved (a unit in no zone, a zone
        without exactly one member centre, an unknown unit)."""
        return [f for f in self.findings if f.severity == "error" and f.rule in STRUCTURAL]

    def to_dict(self, lang: str = "zh") -> dict[str, Any]:
        """Everything as JSON-able values, messages and headers in ``lang`` (zh or en).

        Keys: ``ok``, ``level``, ``seconds``, ``changed``, ``counts`` (errors, warnings, info),
        ``zones`` (``columns``: key and header; ``rows``), ``findings`` (each with its message,
        action and ``new``), ``resolved``, ``delta`` (measure, label, saved, edited, change and
        its label), ``summary``, ``saved``, ``assignment``, ``centres``.
        """
        new_keys = {_key(f) for f in self.new}
        counts = {s: sum(f.severity == s for f in self.findings) for s in ("error", "warning", "info")}
        heads = {c: t(f"zoning.edit.col.{c}", lang) for c in ZONE_COLUMNS}
        rows = [{c: _json(v) for c, v in r.items()} for r in self.zones.to_dict("records")]
        return {
            "ok": self.ok, "level": self.level, "seconds": self.seconds, "changed": list(self.changed),
            "counts": counts,
            "zones": {"columns": [{"key": c, "header": heads[c]} for c in ZONE_COLUMNS], "rows": rows},
            "findings": [{**_finding(f, lang), "new": _key(f) in new_keys} for f in self.findings],
            "resolved": [_finding(f, lang) for f in self.resolved],
            "delta": [{**{k: _json(v) for k, v in r.items()}, "label": t(f"zoning.edit.measure.{r['measure']}", lang),
                       "change_label": t(f"zoning.edit.change.{r['change']}", lang)}
                      for r in self.delta.to_dict("records")],
            "summary": {k: _json(v) for k, v in self.summary.items()},
            "saved": {k: _json(v) for k, v in self.saved.items()},
            "assignment": dict(self.assignment), "centres": dict(self.centres),
        }


def _key(f: Finding) -> tuple[str, str]:
    return (f.rule, f.feature)


def _finding(f: Finding, lang: str) -> dict[str, Any]:
    return {"severity": f.severity, "rule": f.rule, "layer": f.layer, "feature": f.feature, "field": f.field,
            "message": f.message(lang), "action": f.action(lang),
            "params": {k: _json(v if isinstance(v, (int, float, str, bool)) or v is None else str(v))
                       for k, v in f.params.items()}}


def _json(v: Any) -> Any:
    if isinstance(v, (np.bool_, bool)):
        return bool(v)
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return float(v) if math.isfinite(v) else None
    if v is pd.NA or v is None:
        return None
    return v


# -- the session ------------------------------------------------------------------------------------

class EditSession:
    """A scenario's zones opened for editing (:func:`open_session`): everything a check needs,
    precomputed as arrays in the order of the units, and the saved plan's division and check."""

    def __init__(self, ws: Workspace, scenario: str, instance: ZoningInstance, *,
                 districts: Mapping[str, str] | None = None, config: Config | None = None):
        t0 = time.perf_counter()
        self.ws, self.scenario, self.level = ws, scenario, "township"
        self.instance = instance
        cfg = self.cfg = config or instance.config
        units = instance.units
        self.codes = units["code"].astype(str).to_numpy()
        self.n = len(self.codes)
        self.pos = {c: k for k, c in enumerate(self.codes)}
        self.names = dict(zip(self.codes, units["name"].astype(str)))
        self.pop = pd.to_numeric(units["population"], errors="coerce").fillna(0).to_numpy(float)
        self.T = np.asarray(instance.travel_s, dtype=float)
        adj = instance.adjacency
        m = adj.matrix().tocoo()
        self.ai, self.aj = m.row.astype(np.int64), m.col.astype(np.int64)
        sh = adj.shared.tocoo()
        self.si, self.sj, self.sv = sh.row.astype(np.int64), sh.col.astype(np.int64), sh.data.astype(float)
        self.perim, self.area = np.asarray(adj.perimeter_m, float), np.asarray(adj.area_m2, float)
        self.static = list(adj.findings)
        county = units["county_code"].astype(str).to_numpy() if "county_code" in units.columns else np.full(self.n, "")
        self.county_labels, self.county = np.unique(county, return_inverse=True)
        self.relocate = (units["village_class"].astype(str).str.strip().eq(RELOCATE_CLASS).to_numpy()
                         if "village_class" in units.columns else np.zeros(self.n, bool))
        self.mem_lo = int(cfg["zoning.members_min"] or 1)
        self.mem_hi = int(cfg["zoning.members_max"] or 10**9)
        self.pop_lo = float(cfg["zoning.zone_population_min"] or 0)
        self.pop_hi = float(cfg["zoning.zone_population_max"] or 0) or math.inf
        self.standard_s = float(cfg["zoning.centre_time_min"]) * 60.0
        self.within_target = float(cfg["zoning.within_share_target"])
        self.compact_min = float(cfg["zoning.compactness_min"])
        self._strength()
        self._facilities(instance)
        self._load_saved(districts)
        self.timings = {"open_s": time.perf_counter() - t0}

    # -- precomputation ------------------------------------------------------------------------
    def _strength(self) -> None:
        """Score, rank, standard, designation of every unit as a centre (issue 17)."""
        st = centre_strength(self.instance, list(self.codes))
        self.score = st["score"].to_numpy(float)
        self.rank = st["rank"].astype("float").to_numpy()
        self.meets = st["meets_standard"].to_numpy(bool)
        self.category = st["category"].astype(str).to_numpy()
        self.below = st["below_standard"].to_numpy(bool)
        from pianqu.zoning.strength import township_designations

        d = township_designations(self.instance.designated)
        role = dict(zip(d["code"].astype(str), d["role"].astype(str))) if len(d) else {}
        self.forbidden = np.array([role.get(c) == "forbidden" for c in self.codes])
        self.fixed = np.array([role.get(c) == "fixed" for c in self.codes])

    def _facilities(self, instance: ZoningInstance) -> None:
        """Facilities per unit by the kinds of the zone and central-town presence rules; pupils
        and school places per unit."""
        rules = presence_rules(levels=("zone", "central_town"))
        self.rules = rules.reset_index(drop=True)
        kinds = list(dict.fromkeys(self.rules["kind"].tolist()))
        self.kinds = kinds
        self.F = np.zeros((self.n, len(kinds)), dtype=np.int64)
        self.places = np.zeros(self.n)
        self.schools = np.zeros(self.n, dtype=np.int64)
        fac = instance.inputs.facilities if instance.inputs is not None else None
        self.has_facilities = fac is not None and len(fac) > 0
        if self.has_facilities:
            fk = fac["kind"].astype(str).to_numpy()
            ft = np.array([self.pos.get(c, -1) for c in fac["township_code"].astype(str)])
            kid = {k: j for j, k in enumerate(kinds)}
            for u, k in zip(ft, fk):
                if u >= 0 and k in kid:
                    self.F[u, kid[k]] += 1
            is_school = np.isin(fk, SCHOOL_KINDS) & (ft >= 0)
            np.add.at(self.schools, ft[is_school], 1)
            cap = school_capacity(fac, "primary_school", self.cfg)
            np.add.at(self.places, ft[ft >= 0], cap[ft >= 0])
        self.pupils = pupils_of(self.pop, "primary_school", self.cfg)
        self.rule_kind = np.array([kinds.index(k) for k in self.rules["kind"]], dtype=np.int64)
        self.rule_min = self.rules["min_count"].to_numpy(np.int64)
        self.rule_central = self.rules["level"].eq("central_town").to_numpy()

    def _load_saved(self, districts: Mapping[str, str] | None) -> None:
        """The saved plan's division (``zone_member``), revision, districts and check."""
        ws, scenario = self.ws, self.scenario
        if scenario not in set(ws.scenarios()["name"]) or not ws.has("zone_member", scenario):
            raise UserValueError("zoning.division.no_scenario_zones", path=ws.url, scenario=scenario)
        self.revision = ws.revision("zone", scenario)
        m = ws.read("zone_member", scenario)
        codes = m["township_code"].astype(str).to_numpy()
        zones = m["zone"].astype(str).to_numpy()
        self.saved_assignment = dict(zip(codes, zones))
        flag = m["is_centre"].fillna(False).astype(bool).to_numpy() if "is_centre" in m.columns else codes == zones
        self.saved_centres = {z: c for c, z in zip(codes[flag], zones[flag])}
        self.zone_order = list(dict.fromkeys(zones.tolist()))
        # school districts: given (unit code → district), else the saved plan's (one per zone)
        src = dict(districts) if districts is not None else self.saved_assignment
        self.district_labels = sorted({str(v) for v in src.values() if str(v)})
        did = {d: k for k, d in enumerate(self.district_labels)}
        self.district_of = np.array([did.get(str(src.get(c, "")), -1) for c in self.codes], dtype=np.int64)
        self.saved_check = None
        self.saved_check = self.check(self.saved_assignment, self.saved_centres)

    def refresh(self) -> bool:
        """Re-read the saved plan when another session saved since (the ``zone`` layer's
        revision moved); whether it did."""
        if self.ws.revision("zone", self.scenario) == self.revision:
            return False
        self._load_saved(None)
        return True

    # -- checking ---------------------------------------------------------------------------------
    def check(self, assignment: Mapping[str, str], centres: Mapping[str, str] | None = None) -> EditCheck:
        """Re-evaluate the division ``assignment`` (unit code → zone id) with ``centres`` (zone id →
        centre code; default the saved plan's centre of the zone, else the unit the zone is named
        after). See the module docstring for the checks."""
        t0 = time.perf_counter()
        a = {str(k).strip(): str(v).strip() for k, v in assignment.items()}
        findings: list[Finding] = list(self.static)
        for c in sorted(set(a) - set(self.pos)):
            findings.append(Finding("error", "zoning.eval.unknown_unit", "zone_member", c, "code", {}))
        labels = [z for z in self.zone_order if z in set(a.values())]
        labels += [z for z in dict.fromkeys(a.values()) if z not in set(labels)]
        zid = {z: k for k, z in enumerate(labels)}
        nz = len(labels)
        zone_of = np.array([zid[a[c]] if c in a else -1 for c in self.codes], dtype=np.int64)
        given = {str(k).strip(): str(v).strip() for k, v in (centres or {}).items()}
        centre_code = {}
        for z in labels:
            c = given.get(z) or self.saved_centres.get(z) or (z if z in self.pos else "")
            centre_code[z] = c
        cidx = np.array([self.pos.get(centre_code[z], -1) for z in labels], dtype=np.int64)
        inside = (cidx >= 0) & (zone_of[np.maximum(cidx, 0)] == np.arange(nz)) if nz else np.zeros(0, bool)
        cen = np.where(inside, cidx, -1)

        ok_u = zone_of >= 0
        zu = zone_of[ok_u]
        members = np.bincount(zu, minlength=nz)
        pop = np.bincount(zu, weights=self.pop[ok_u], minlength=nz)
        area = np.bincount(zu, weights=self.area[ok_u], minlength=nz)
        zs_i, zs_j = zone_of[self.si], zone_of[self.sj]
        same = (zs_i == zs_j) & (zs_i >= 0)
        inner = np.bincount(zs_i[same], weights=self.sv[same], minlength=nz)
        perim = np.bincount(zu, weights=self.perim[ok_u], minlength=nz) - inner
        with np.errstate(divide="ignore", invalid="ignore"):
            compact = np.where(perim > 0, 4 * math.pi * area / perim ** 2, np.nan)
        # time to the centre
        ucen = np.where(ok_u, cen[np.maximum(zone_of, 0)], -1) if nz else np.full(self.n, -1)
        has_c = ucen >= 0
        tt = np.full(self.n, np.nan)
        tt[has_c] = self.T[np.flatnonzero(has_c), ucen[has_c]]
        zc = zone_of[has_c]
        wt = np.bincount(zc, weights=self.pop[has_c] * tt[has_c], minlength=nz)
        st = np.bincount(zc, weights=tt[has_c], minlength=nz)
        within_pop = np.bincount(zc, weights=self.pop[has_c] * (tt[has_c] <= self.standard_s), minlength=nz)
        mx = np.full(nz, -np.inf)
        np.maximum.at(mx, zc, tt[has_c])
        zhas = cen >= 0
        with np.errstate(divide="ignore", invalid="ignore"):
            mean_t = np.where(zhas, np.where(pop > 0, wt / pop, st / np.maximum(members, 1)), np.nan) / 60.0
            within = np.where(zhas & (pop > 0), within_pop / pop, np.nan)
        max_t = np.where(zhas, mx, np.nan) / 60.0
        # contiguity: components of the graph of links inside a zone
        za, zb = zone_of[self.ai], zone_of[self.aj]
        keep = (za == zb) & (za >= 0)
        g = sparse.csr_matrix((np.ones(int(keep.sum())), (self.ai[keep], self.aj[keep])), shape=(self.n, self.n))
        _, comp = connected_components(g, directed=False)
        pairs = np.unique(np.c_[zu, comp[ok_u]], axis=0) if ok_u.any() else np.zeros((0, 2), np.int64)
        pieces = np.bincount(pairs[:, 0], minlength=nz) if len(pairs) else np.zeros(nz, np.int64)
        # counties
        cp = np.unique(np.c_[zu, self.county[ok_u]], axis=0) if ok_u.any() else np.zeros((0, 2), np.int64)
        n_counties = np.bincount(cp[:, 0], minlength=nz) if len(cp) else np.zeros(nz, np.int64)

        # facilities, schools, districts
        onehot = sparse.csr_matrix((np.ones(len(zu)), (zu, np.flatnonzero(ok_u))), shape=(nz, self.n))
        Fz = np.asarray(onehot @ self.F)
        Fc = np.where(zhas[:, None], self.F[np.maximum(cen, 0)], 0)
        present = np.where(self.rule_central[None, :], Fc[:, self.rule_kind], Fz[:, self.rule_kind])
        lacking = present < self.rule_min[None, :]
        lacking[~zhas[:, None] & self.rule_central[None, :]] = False  # no centre: central-town rules skipped
        schools = np.bincount(zu, weights=self.schools[ok_u], minlength=nz).astype(np.int64)
        zpupils = np.bincount(zu, weights=self.pupils[ok_u], minlength=nz)
        zplaces = np.bincount(zu, weights=self.places[ok_u], minlength=nz)
        dmask = ok_u & (self.district_of >= 0)
        dz = np.unique(np.c_[self.district_of[dmask], zone_of[dmask]], axis=0) if dmask.any() \
            else np.zeros((0, 2), np.int64)

        # -- findings --------------------------------------------------------------------------
        for u in np.flatnonzero(~ok_u):
            findings.append(Finding("error", "zoning.eval.unit_unassigned", "zone_member", self.codes[u], "zone", {}))
        for k, z in enumerate(labels):
            if members[k] == 0:
                continue
            c = centre_code[z]
            if not c:
                findings.append(Finding("error", "zoning.eval.zone_without_centre", "zone", z, "centre", {}))
            elif not inside[k]:
                findings.append(Finding("error", "zoning.eval.centre_not_member", "zone", z, "centre", {"centre": c}))
            elif self.relocate[cidx[k]]:
                findings.append(Finding("error", "zoning.eval.centre_relocate", "zone", z, "centre", {"centre": c}))
            if pieces[k] > 1:
                mem = np.flatnonzero(zone_of == k)
                lab = comp[mem]
                if zhas[k]:
                    main = comp[cen[k]]
                else:
                    vals, cnt = np.unique(lab, return_counts=True)
                    main = vals[np.argmax(cnt)]
                detached = mem[lab != main]
                findings.append(Finding("error", "zoning.eval.zone_not_contiguous", "zone", z, "",
                                        {"pieces": int(pieces[k]), "units": "、".join(self.codes[detached])}))
            if n_counties[k] > 1:
                cs = sorted(self.county_labels[cp[cp[:, 0] == k, 1]].tolist())
                findings.append(Finding("error", "zoning.eval.zone_crosses_county", "zone", z, "",
                                        {"counties": "、".join(cs)}))
            if not self.mem_lo <= members[k] <= self.mem_hi:
                findings.append(Finding("warning", "zoning.eval.members_outside", "zone", z, "",
                                        {"members": int(members[k]), "lo": self.mem_lo, "hi": _bound(self.mem_hi)}))
            if not self.pop_lo <= pop[k] <= self.pop_hi:
                findings.append(Finding("warning", "zoning.eval.population_outside", "zone", z, "",
                                        {"population": round(float(pop[k])), "lo": _bound(self.pop_lo),
                                         "hi": _bound(self.pop_hi)}))
            if np.isfinite(compact[k]) and compact[k] < self.compact_min:
                findings.append(Finding("warning", "zoning.eval.not_compact", "zone", z, "",
                                        {"value": round(float(compact[k]), 3), "min": self.compact_min}))
            if np.isfinite(within[k]) and within[k] < 1.0:
                far = np.flatnonzero((zone_of == k) & (tt > self.standard_s))
                findings.append(Finding("info", "zoning.eval.far_units", "zone", z, "",
                                        {"count": len(far), "units": "、".join(self.codes[far][:10]),
                                         "minutes": round(self.standard_s / 60)}))
            if np.isfinite(within[k]) and within[k] < self.within_target:
                findings.append(Finding("warning", "zoning.edit.within_below_target", "zone", z, "",
                                        {"share": f"{within[k]:.1%}", "target": f"{self.within_target:.0%}",
                                         "minutes": round(self.standard_s / 60)}))
            if zhas[k]:
                u = cen[k]
                if self.forbidden[u]:
                    findings.append(Finding("warning", "zoning.edit.centre_forbidden", "zone", z, "centre",
                                            {"centre": self.codes[u], "name": self.names[self.codes[u]]}))
                elif self.below[u]:
                    findings.append(Finding("warning", "zoning.edit.centre_below_standard", "zone", z, "centre",
                                            {"centre": self.codes[u], "name": self.names[self.codes[u]],
                                             "rank": _int(self.rank[u]), "score": round(float(self.score[u]), 3)}))
            if self.has_facilities and schools[k] == 0:
                findings.append(Finding("warning", "zoning.edit.zone_without_school", "zone", z, "",
                                        {"pupils": round(float(zpupils[k]))}))
        fixed_out = [u for u in np.flatnonzero(self.fixed) if u not in set(cen[zhas].tolist())]
        for u in fixed_out:
            findings.append(Finding("warning", "zoning.edit.fixed_not_centre", "township", self.codes[u], "",
                                    {"name": self.names[self.codes[u]]}))
        live = members > 0
        findings += self._count_findings(zone_of, live)
        split = []
        for d in range(len(self.district_labels)):
            zs = dz[dz[:, 0] == d, 1]
            if len(zs) > 1:
                split.append(d)
                w = np.array([self.pupils[(self.district_of == d) & (zone_of == zz)].sum() for zz in zs])
                main = zs[int(np.argmax(w))]
                n_out = int(((self.district_of == d) & ok_u & (zone_of != main)).sum())
                findings.append(Finding("warning", "zoning.edit.district_split", "school_district",
                                        self.district_labels[d], "district",
                                        {"zones": ",".join(sorted(labels[zz] for zz in zs)), "main": labels[main],
                                         "n": n_out}))
        n_districts = len(np.unique(dz[:, 0])) if len(dz) else 0
        if n_districts > int(live.sum()):
            findings.append(Finding("warning", "services.school.too_many_districts", "school_district",
                                    "", "district", {"districts": n_districts, "zones": int(live.sum())}))
        if self.has_facilities:
            findings += self._presence_findings(labels, live, lacking, zhas, cen)

        # -- the zones frame and the summary --------------------------------------------------
        saved = self.saved_assignment
        changed = [c for c in self.codes if a.get(c) != saved.get(c)]
        changed_zones = {a[c] for c in changed if c in a} | {saved[c] for c in changed if c in saved}
        unit_lists = [[] for _ in range(nz)]
        for u in np.flatnonzero(ok_u):
            unit_lists[zone_of[u]].append(self.codes[u])
        rows = []
        for k, z in enumerate(labels):
            if not live[k]:
                continue
            u = cen[k]
            cc = self.codes[u] if u >= 0 else ""
            cname = self.names.get(cc, "") if cc else ""
            miss = [self.rules["kind"].iat[r] for r in np.flatnonzero(lacking[k])]
            rows.append({
                "zone": z, "name": f"{cname}片区" if cname else z, "centre": cc, "centre_name": cname,
                "members": int(members[k]), "units": ",".join(sorted(unit_lists[k])), "population": float(pop[k]),
                "mean_time_min": float(mean_t[k]), "max_time_min": float(max_t[k]), "within_share": float(within[k]),
                "contiguous": bool(pieces[k] <= 1), "pieces": int(pieces[k]), "compactness": float(compact[k]),
                "centre_score": float(self.score[u]) if u >= 0 else float("nan"),
                "centre_rank": _int(self.rank[u]) if u >= 0 else None,
                "centre_meets_standard": bool(self.meets[u]) if u >= 0 else False,
                "centre_designated": str(self.category[u]) if u >= 0 else "",
                "centre_below_standard": bool(self.below[u]) if u >= 0 else False,
                "schools": int(schools[k]), "pupils": float(zpupils[k]), "school_places": float(zplaces[k]),
                "school_districts": ",".join(self.district_labels[d] for d in np.unique(dz[dz[:, 1] == k, 0])),
                "facilities_present": int((~lacking[k]).sum()) if self.has_facilities else 0,
                "facilities_missing": ",".join(dict.fromkeys(miss)) if self.has_facilities else "",
                "changed": z in changed_zones,
            })
        zones = pd.DataFrame(rows, columns=ZONE_COLUMNS)
        summary = self._summary(zones, pop, wt, within_pop, zhas, live, findings, len(split), lacking)
        if self.saved_check is None:
            base, delta, new, resolved = summary, _delta(summary, summary), [], []
        else:
            base = self.saved_check.summary
            delta = _delta(base, summary)
            old = {_key(f) for f in self.saved_check.findings}
            cur = {_key(f) for f in findings}
            new = [f for f in findings if _key(f) not in old]
            resolved = [f for f in self.saved_check.findings if _key(f) not in cur]
        ok = not any(f.severity == "error" for f in findings)
        return EditCheck(ok, findings, zones, changed, summary, base, delta, new, resolved, a,
                         {z: centre_code[z] for z in labels if live[zid[z]]}, self.level, time.perf_counter() - t0)

    def _count_findings(self, zone_of: np.ndarray, live: np.ndarray) -> list[Finding]:
        out = []
        for ci, cty in enumerate(self.county_labels):
            in_c = self.county == ci
            n = int(in_c.sum())
            nzc = len(np.unique(zone_of[in_c & (zone_of >= 0)]))
            lo = math.ceil(n / self.mem_hi) if self.mem_hi < 10**9 else 1
            hi = max(lo, n // self.mem_lo)
            if not lo <= nzc <= hi:
                out.append(Finding("warning", "zoning.eval.zone_count", "zone", str(cty), "",
                                   {"zones": nzc, "units": n, "lo": lo, "hi": hi}))
        if not live.any():
            out.append(Finding("error", "zoning.eval.no_zones", "zone", "", "", {}))
        return out

    def _presence_findings(self, labels, live, lacking, zhas, cen) -> list[Finding]:
        """One finding per presence rule with zones missing (as :func:`pianqu.services.presence_check`)."""
        out = []
        for r, rule in enumerate(self.rules.itertuples(index=False)):
            central = self.rule_central[r]
            ks = [k for k in range(len(labels)) if live[k] and (zhas[k] or not central)]
            miss = [k for k in ks if lacking[k, r]]
            if not miss:
                continue
            ids = [self.codes[cen[k]] if central else labels[k] for k in miss]
            names = [self.names.get(i, i) if central else self._zone_name(labels[k], cen[k]) for i, k in zip(ids, miss)]
            sev = rule.severity if rule.severity in ("error", "warning", "info") else "warning"
            out.append(Finding(sev, "services.presence.central_town" if central else "services.presence.zone", "zone", ",".join(ids[:20]), "kind",
                               {"kind": KindName(rule.kind), "n": len(miss), "units": len(ks),
                                "names": "、".join(names[:8]) + ("…" if len(names) > 8 else ""),
                                "required": int(rule.min_count), "source_rule": rule.source}))
        return out

    def _zone_name(self, zone: str, centre: int) -> str:
        return f"{self.names[self.codes[centre]]}片区" if centre >= 0 else zone

    def _summary(self, zones, pop, wt, within_pop, zhas, live, findings, n_split, lacking) -> dict[str, Any]:
        pc = float(pop[zhas & live].sum())
        zp = pop[live] if live.any() else np.zeros(1)
        cs = zones.loc[zones["centre"] != "", "centre_score"]
        return {
            "zones": int(live.sum()), "units": self.n, "population": float(self.pop.sum()),
            "mean_time_min": float(wt[zhas].sum() / pc / 60.0) if pc > 0 else float("nan"),
            "max_time_min": float(np.nanmax(zones["max_time_min"])) if zones["max_time_min"].notna().any() else float("nan"),
            "within_share": float(within_pop[zhas].sum() / pc) if pc > 0 else float("nan"),
            "pop_cv": float(zp.std() / zp.mean()) if zp.mean() > 0 else float("nan"),
            "members_min": int(zones["members"].min()) if len(zones) else 0,
            "members_max": int(zones["members"].max()) if len(zones) else 0,
            "compactness_mean": float(np.nanmean(zones["compactness"])) if zones["compactness"].notna().any() else float("nan"),
            "noncontiguous_zones": int((~zones["contiguous"]).sum()),
            "zones_without_centre": int((zones["centre"] == "").sum()),
            "centre_score_mean": float(cs.mean()) if len(cs) else float("nan"),
            "weak_centres": int(zones["centre_below_standard"].sum()),
            "zones_without_school": int((zones["schools"] == 0).sum()) if self.has_facilities else 0,
            "districts_split": int(n_split),
            "facilities_missing": int(lacking[live].sum()) if self.has_facilities else 0,
            "errors": sum(f.severity == "error" for f in findings),
            "warnings": sum(f.severity == "warning" for f in findings),
        }

    # -- conveniences -------------------------------------------------------------------------------
    def current(self) -> dict[str, str]:
        """The saved plan's division (unit code → zone id)."""
        return dict(self.saved_assignment)

    def move(self, code: str, zone: str, assignment: Mapping[str, str] | None = None,
             centres: Mapping[str, str] | None = None) -> EditCheck:
        """The check of ``assignment`` (default the saved plan's) with unit ``code`` moved to
        ``zone`` (a zone id, the code of its centre or its name '…片区')."""
        a = dict(self.saved_assignment if assignment is None else assignment)
        code = str(code).strip()
        if code not in self.pos:
            raise UserKeyError("zoning.division.unknown_unit", code=code, layer=self.level,
                               layer_zh="乡镇" if self.level == "township" else "村")
        a[code] = self.resolve_zone(zone, a, centres)
        return self.check(a, centres)

    def resolve_zone(self, zone: str, assignment: Mapping[str, str] | None = None,
                     centres: Mapping[str, str] | None = None) -> str:
        """A zone id from an id, a centre code or a zone name (``…片区``); a clear error listing
        the zones otherwise."""
        a = self.saved_assignment if assignment is None else assignment
        z = str(zone).strip()
        ids = list(dict.fromkeys(a.values()))
        if z in ids:
            return z
        cen = {zz: (dict(centres or {}).get(zz) or self.saved_centres.get(zz) or zz) for zz in ids}
        for zz, c in cen.items():
            if z == c or z == f"{self.names.get(c, c)}片区" or z == self.names.get(c):
                return zz
        names = {zz: self.names.get(c, c) for zz, c in cen.items()}
        raise UserKeyError("zoning.division.unknown_zone", zone=z, source=scenario_layer("zone_member", self.scenario),
                           zones_zh="、".join(f"{k}（{v}片区）" for k, v in names.items()),
                           zones_en=", ".join(f"{k} ({v})" for k, v in names.items()))

    # -- saving -------------------------------------------------------------------------------------
    def layers(self, check: EditCheck) -> dict[str, pd.DataFrame]:
        """The scenario layers of a checked division, zones named by their centre's code as
        ``pianqu plan`` names them: ``zone_member``, ``zone`` (polygons; a zone keeping its id
        keeps its specialty), ``hierarchy`` and ``centre_reason``."""
        relabel = {z: c for z, c in check.centres.items()}
        a = pd.Series({c: relabel[z] for c, z in check.assignment.items() if c in self.pos}, name="centre")
        a = a.reindex(self.codes)
        a.index.name = "code"
        tt = np.array([self.T[self.pos[c], self.pos[z]] / 60.0 for c, z in zip(a.index, a.to_numpy())])
        member = pd.DataFrame({"township_code": a.index.to_numpy(), "zone": a.to_numpy(),
                               "is_centre": a.index.to_numpy() == a.to_numpy(), "time_to_centre_min": tt,
                               "population": self.instance.units["population"].to_numpy()})
        zt = check.zones.copy()
        zt["zone"] = zt["zone"].map(relabel)
        ztab = zt[["centre", "members", "population", "mean_time_min", "max_time_min", "within_share",
                   "units"]].reset_index(drop=True)
        ztab.insert(0, "zone", np.arange(1, len(ztab) + 1))
        poly = zone_layer(self.instance.units, a, ztab, self.instance.names)
        old = self.ws.read("zone", self.scenario) if self.ws.has("zone", self.scenario) else None
        if old is not None:
            for col in ("specialty", "specialty_zh"):
                if col in old.columns:
                    poly[col] = poly["zone"].map(dict(zip(old["zone"].astype(str), old[col]))).fillna("")
        hierarchy, _ = township_hierarchy(self.instance.units, a, scores=self.instance.centre_scores())
        result = ZoningResult(a, list(ztab["centre"]), len(ztab), float("nan"), float("nan"), float("nan"), False,
                              "feasible", "edit", 0.0, zones=ztab)
        reasons = centre_reasons(self.instance, result)
        return {"zone_member": member, "zone": poly, "hierarchy": hierarchy, "centre_reason": reasons}

    def save(self, assignment: Mapping[str, str], centres: Mapping[str, str] | None = None, *, reason: str,
             base_revision: int, holder: Holder | None = None, allow_errors: bool = False) -> int:
        """Write the edited division as a new revision of the scenario's zone layers; returns the
        new revision of the ``zone`` layer.

        One unit of work: ``zone_member``, ``zone``, ``hierarchy``, ``centre_reason`` and a row of
        ``zone_edit`` (who, when, why, the revisions, the units moved), with an audit row per
        layer carrying ``reason``. Refused — nothing written — when the ``zone`` layer is no
        longer at ``base_revision`` (:class:`~pianqu.workspace.StaleRevisionError`: someone saved
        meanwhile), when ``reason`` is empty, when the division has a structural error (a unit in
        no zone, a zone without exactly one member centre) or, unless ``allow_errors``, any error
        (a zone not contiguous …) (:class:`~pianqu.errors.UserValueError` listing them).
        """
        reason = (reason or "").strip()
        if not reason:
            raise UserValueError("zoning.edit.no_reason")
        check = self.check(assignment, centres)
        bad = check.structural or ([f for f in check.findings if f.severity == "error"] if not allow_errors else [])
        if bad:
            raise UserValueError("zoning.edit.refused", n=len(bad), findings=list(bad[:10]))
        layers = self.layers(check)
        who = holder.user if holder is not None else current_user()
        table = scenario_layer("zone", self.scenario)
        saved = self.saved_assignment
        moved = [f"{c}:{saved.get(c, '')}>{check.assignment.get(c, '')}" for c in check.changed]
        cen_changed = [f"{z}:{c}" for z, c in check.centres.items() if self.saved_centres.get(z) != c]
        with self.ws.transaction(command=COMMAND, reason=reason, holder=holder) as tx:
            history = self.ws.read(EDIT_TABLE, self.scenario) if self.ws.has(EDIT_TABLE, self.scenario) \
                else pd.DataFrame(columns=EDIT_COLUMNS)
            row = pd.DataFrame([{
                "ts": pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds"), "user": who, "command": COMMAND,
                "level": self.level, "reason": reason, "base_revision": int(base_revision),
                "new_revision": int(base_revision) + 1, "moved": ",".join(moved), "centres": ",".join(cen_changed),
                "errors": int(check.summary["errors"]), "warnings": int(check.summary["warnings"])}])
            history = pd.concat([history.astype(object), row.astype(object)], ignore_index=True) if len(history) else row
            history = history.astype({"base_revision": "int64", "new_revision": "int64", "errors": "int64",
                                      "warnings": "int64"})
            self.ws.write({k: storable(v) for k, v in {**layers, EDIT_TABLE: history}.items()}, command=COMMAND,
                          reason=reason, scenario=self.scenario, expect={"zone": int(base_revision)})
            if holder is not None and tx.audit:
                tx.audit[-1]["user"] = who
        new = int(tx.revisions.get(table, int(base_revision) + 1))
        self._load_saved(None)
        return new


def _delta(base: Mapping[str, Any], cur: Mapping[str, Any]) -> pd.DataFrame:
    rows = []
    for m, sign in MEASURES.items():
        b, c = base.get(m), cur.get(m)
        bf, cf = _num(b), _num(c)
        if bf is None or cf is None or (math.isnan(bf) and math.isnan(cf)):
            change = "same" if (bf is None or math.isnan(bf)) and (cf is None or math.isnan(cf)) else "changed"
        elif abs(cf - bf) <= 1e-9 * max(1.0, abs(bf)):
            change = "same"
        elif sign == 0:
            change = "changed"
        else:
            change = "better" if (cf - bf) * sign > 0 else "worse"
        rows.append({"measure": m, "saved": b, "edited": c, "change": change})
    return pd.DataFrame(rows)


def _num(v: Any) -> float | None:
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def _bound(x: float) -> str:
    return "∞" if not np.isfinite(x) or x >= 10**9 else f"{x:g}"


def _int(x: float) -> int | None:
    return int(x) if x is not None and np.isfinite(x) else None


def open_session(ws: Workspace, scenario: str = "plan", *, level: str = "township",
                 districts: Mapping[str, str] | None = None, instance: ZoningInstance | None = None,
                 config: Config | None = None) -> EditSession:
    """Open a scenario's zones for editing: build once what every check needs.

    Parameters
    ----------
    ws : pianqu.workspace.Workspace
        The county workspace.
    scenario : str, default "plan"
        A plan scenario (its ``zone_member`` layer is the saved division).
    level : str, default "township"
        ``township`` (township-level zones).
    districts : mapping of str to str, optional
        Township code → school district; default the saved plan's districts (one per zone).
    instance : ZoningInstance, optional
        The township zoning instance already built (:func:`pianqu.zoning.instance.from_workspace`).
    config : pianqu.config.Config, optional
        Thresholds in force; default the workspace's own.

    Returns
    -------
    EditSession
        ``check(assignment, centres=None)``, ``move(code, zone)``, ``save(...)``, ``revision``
        (of the scenario's ``zone`` layer), ``current()`` (the saved division).

    Raises
    ------
    pianqu.errors.UserValueError
        The scenario has no zones, or the workspace lacks the seats a plan needs.
    """
    if level != "township":
        raise UserValueError("zoning.edit.bad_level", level=level)
    cfg = config or ws.config()
    inst = instance or township_instance(ws, cfg)
    return EditSession(ws, scenario, inst, districts=districts, config=cfg)
