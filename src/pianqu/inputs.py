"""What `pianqu plan` works from: every input from the county's own data where it has it, else
derived from what it has, and a record of which, per analysis.

A county's 三调 delivery has townships, villages and land parcels, and nothing else a plan
needs: no road network, no settlement points, no population, usually no facility coordinates
and no economy table. :func:`from_workspace` gathers each input in order of preference:

- roads: the workspace's ``road`` layer (the planner's own, or an OSM extract imported with
  ``pianqu import county.osm.pbf``); else centrelines of the 三调 traffic parcels
  (:func:`pianqu.derive.roads.centreline_roads`); else straight-line times with the measured
  detour factor, an estimate;
- settlements: the ``settlement`` layer; else seats derived from the parcels' 城镇村属性码
  (:func:`pianqu.derive.settlements.settlements_from_parcels`);
- population: the townships' and villages' own figures (a statistics table imported onto them);
  else the county's 2020 census total spread by residential land, an estimate;
- facilities and economy: the layers when present; the analyses that need them are skipped
  otherwise;
- designated centres (中心镇/中心村名单, the ``centres`` table): checked and matched to codes by
  :func:`designated_centres` when present; without it centres are chosen by strength and access
  alone (and said so).

Each choice is an :class:`InputSource` (``given`` / ``derived`` / ``estimated`` / ``missing``)
and, when not given, a finding that says what to import to get the real input. The analyses
never read these layers from the workspace themselves: they take them from :class:`PlanInputs`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping

import geopandas as gpd
import numpy as np
import pandas as pd

from pianqu.config import Config
from pianqu.derive.population import spread_census
from pianqu.derive.roads import centreline_roads, straight_line_times
from pianqu.derive.settlements import settlements_from_parcels
from pianqu.findings import Finding
from pianqu.parcels import read_landuse
from pianqu.standards import table as standards_table
from pianqu.network import RoadGraph, build_graph, od_matrix
from pianqu.network.graph import check_mode
from pianqu.workspace import Workspace

STATUSES = ("given", "derived", "estimated", "missing")

# the analyses of `pianqu plan` and the inputs each one needs
NEEDS: dict[str, tuple[str, ...]] = {
    "zoning": ("road", "settlement", "population"),
    "village_zoning": ("road", "settlement", "population"),
    "road_diagnostics": ("road", "settlement"),
    "services": ("road", "settlement", "population", "facility"),
    "specialties": ("economy",),
    "land": ("landuse",),
}
# optional inputs: an analysis runs without them (no effect on its status), but uses them if given
OPTIONAL: dict[str, tuple[str, ...]] = {"centres": ("zoning", "village_zoning")}
CENTRE_ROLES = ("fixed", "candidate", "forbidden")
_NAME_SUFFIXES = ("街道办事处", "街道", "镇", "乡", "社区", "村")


@dataclass(frozen=True)
class InputSource:
    """Where one input came from: ``status`` in :data:`STATUSES`, ``method`` how it was made
    (``layer``, ``osm``, ``centreline``, ``straight_line``, ``parcels``, ``census_spread``, …)."""

    input: str
    status: str
    method: str
    rows: int = 0
    detail: str = ""


@dataclass
class PlanInputs:
    """Everything the analyses of a plan read about the county, with where each came from."""

    townships: gpd.GeoDataFrame
    villages: gpd.GeoDataFrame | None
    settlements: gpd.GeoDataFrame
    roads: gpd.GeoDataFrame | None  # None: travel times are straight-line estimates
    facilities: gpd.GeoDataFrame | None
    economy: pd.DataFrame | None
    sources: dict[str, InputSource]
    findings: list[Finding] = field(default_factory=list)
    config: Config | None = None
    graph: RoadGraph | None = None
    parcels: Callable[[], gpd.GeoDataFrame | None] = field(default=lambda: None, repr=False)
    """The base epoch's parcels, read once for every step of a plan that needs them (None without)."""
    centres: pd.DataFrame | None = None
    """The county's designated centres, checked (:func:`designated_centres`); None without a table."""

    def status(self, name: str) -> str:
        return self.sources[name].status if name in self.sources else "missing"

    def travel_s(self, origins: gpd.GeoDataFrame, destinations: gpd.GeoDataFrame, *,
                 mode: str = "drive") -> np.ndarray:
        """Seconds from every origin to every destination: over the road graph, or straight-line
        estimates when the county has no road input at all."""
        check_mode(mode)
        if self.graph is None:
            return self._straight(origins, destinations, mode)
        seconds = od_matrix(self.graph, origins, destinations, mode=mode)
        if self.status("road") == "derived":  # a derived network has gaps a real one would not:
            cut = ~np.isfinite(seconds)        # those pairs get the straight-line estimate, and say so
            if cut.any():
                seconds = np.where(cut, self._straight(origins, destinations, mode), seconds)
                self.findings.append(_note("road_gaps", "warning", layer="road", pairs=int(cut.sum()),
                                           total=int(cut.size)))
        return seconds

    def _straight(self, origins: gpd.GeoDataFrame, destinations: gpd.GeoDataFrame, mode: str) -> np.ndarray:
        seconds = straight_line_times(origins, destinations, config=self.config)
        if mode == "walk":  # the same detoured distance at walking speed
            seconds = seconds * float(self.config["derive.straight_line_speed_kmh"]) / \
                float(self.config["network.walk_speed_kmh"])
        return seconds

    def table(self) -> pd.DataFrame:
        """One row per input: status, method, rows and the analyses that use it (`input_source`)."""
        rows = []
        for name, s in self.sources.items():
            used = [a for a, needs in NEEDS.items() if name in needs] + list(OPTIONAL.get(name, ()))
            rows.append({"input": name, "status": s.status, "method": s.method, "rows": s.rows,
                         "analyses": ",".join(used), "detail": s.detail})
        return pd.DataFrame(rows, columns=["input", "status", "method", "rows", "analyses", "detail"])

    def analysis_table(self) -> pd.DataFrame:
        """One row per analysis: the weakest status among its inputs (:func:`analysis_status`)."""
        return analysis_status({n: s.status for n, s in self.sources.items()})

    def layers(self) -> dict[str, pd.DataFrame]:
        """What a scenario records of its inputs: the table, and the derived layers themselves
        (so maps and later commands show exactly what the plan worked from)."""
        out: dict[str, pd.DataFrame] = {"input_source": self.table()}
        if self.status("road") == "derived" and self.roads is not None:
            out["derived_road"] = self.roads
        if self.status("settlement") == "derived":
            out["derived_settlement"] = self.settlements
        if self.status("population") == "estimated":
            cols = ["code", "name", "population"]
            out["derived_population"] = pd.concat(
                [pd.DataFrame(self.townships[cols]).assign(level="township"),
                 *([pd.DataFrame(self.villages[cols]).assign(level="village")] if self.villages is not None else [])],
                ignore_index=True)
        return out


def designated_centres(table: pd.DataFrame, townships: pd.DataFrame, villages: pd.DataFrame | None = None
                       ) -> tuple[pd.DataFrame, list[Finding]]:
    """The county's designated centres, checked and matched to codes.

    Each row of the ``centres`` table (``code``, ``name``, ``category``, ``reason``; the import
    adds ``source_file`` and ``source_row``) gets its ``level`` (township / village, by the code's
    length) and ``role`` (fixed / candidate / forbidden, standards ``centre_categories``). A row
    with a name only is matched to a code through the townships and villages (exactly, else
    without the suffix 镇/乡/街道/村). Rows that cannot be used are left out with a finding naming
    the file, row and field and what to do: an unknown category, code or name, a name that fits
    several units, a unit listed twice (the first row kept), a unit both 不作中心 and fixed (both
    rows left out), a village category given a township or the reverse.

    Returns
    -------
    (pandas.DataFrame, list of Finding)
        ``code, name, category, reason, level, role, source_file, source_row`` and the findings.
    """
    cats = standards_table("centre_categories").set_index("category")
    units = [("township", townships)] + ([("village", villages)] if villages is not None else [])
    name_of: dict[str, str] = {}
    by_name: dict[str, dict[str, set[str]]] = {"exact": {}, "stem": {}}
    for level, frame in units:
        for code, name in zip(frame["code"].astype(str), frame["name"].astype(str)):
            name_of[code] = name
            by_name["exact"].setdefault(name.strip(), set()).add(code)
            by_name["stem"].setdefault(_name_stem(name), set()).add(code)
    findings: list[Finding] = []
    rows = []
    t = table.reset_index(drop=True)
    for k in range(len(t)):
        r = t.iloc[k]
        src = str(r.get("source_file", "") or "") or "centres"
        row = int(r["source_row"]) if "source_row" in t.columns and pd.notna(r.get("source_row")) else k + 2
        say = lambda sev, rule, fld, **kw: findings.append(  # noqa: E731
            Finding(sev, f"inputs.centres.{rule}", "centres", f"{src}:{row}", fld, {"file": src, "row": row, **kw},
                    src))
        cat = str(r.get("category", "") or "").strip()
        if cat not in cats.index:
            say("warning", "unknown_category", "category", value=cat or "—", known="、".join(cats.index))
            continue
        code = str(r.get("code", "") or "").strip() if pd.notna(r.get("code")) else ""
        name = str(r.get("name", "") or "").strip() if pd.notna(r.get("name")) else ""
        if code:
            if code not in name_of:
                say("warning", "unknown_code", "code", code=code, name=name or "—")
                continue
        elif name:
            hits = by_name["exact"].get(name) or by_name["stem"].get(_name_stem(name)) or set()
            level = cats.loc[cat, "level"]
            if level in ("township", "village"):
                hits = {h for h in hits if len(h) == (9 if level == "township" else 12)} or hits
            if not hits:
                say("warning", "unknown_name", "name", name=name)
                continue
            if len(hits) > 1:
                say("warning", "ambiguous_name", "name", name=name, codes="、".join(sorted(hits)))
                continue
            code = next(iter(hits))
        else:
            say("warning", "no_unit", "code")
            continue
        level = "township" if len(code) == 9 else "village"
        if cats.loc[cat, "level"] not in ("any", level):
            say("warning", "wrong_level", "category", code=code, name=name_of[code], category=cat,
                level=cats.loc[cat, "level"])
            continue
        rows.append({"code": code, "name": name_of[code], "category": cat,
                     "reason": str(r.get("reason", "") or "") if pd.notna(r.get("reason")) else "",
                     "level": level, "role": cats.loc[cat, "role"], "source_file": src, "source_row": row})
    out = pd.DataFrame(rows, columns=["code", "name", "category", "reason", "level", "role", "source_file",
                                      "source_row"])
    keep = np.ones(len(out), dtype=bool)
    for code, grp in out.groupby("code", sort=False):
        roles = set(grp["role"])
        if {"forbidden", "fixed"} <= roles:
            first = grp.iloc[0]
            findings.append(Finding("error", "inputs.centres.forbidden_fixed", "centres",
                                    f"{first['source_file']}:{first['source_row']}", "category",
                                    {"file": first["source_file"], "code": code, "name": first["name"],
                                     "rows": "、".join(map(str, grp["source_row"]))}, first["source_file"]))
            keep[grp.index] = False
        elif len(grp) > 1:
            first = grp.iloc[0]
            findings.append(Finding("warning", "inputs.centres.duplicate", "centres",
                                    f"{first['source_file']}:{grp['source_row'].iloc[1]}", "code",
                                    {"file": first["source_file"], "code": code, "name": first["name"],
                                     "rows": "、".join(map(str, grp["source_row"])), "kept": int(first["source_row"])},
                                    first["source_file"]))
            keep[grp.index[1:]] = False
    return out[keep].reset_index(drop=True), findings


def _name_stem(name: str) -> str:
    text = str(name).strip()
    for suffix in _NAME_SUFFIXES:
        if text.endswith(suffix) and len(text) > len(suffix):
            return text[: -len(suffix)]
    return text


def analysis_status(statuses: Mapping[str, str]) -> pd.DataFrame:
    """Each analysis of :data:`NEEDS` with the weakest status among its inputs (``statuses``:
    input → status, absent inputs are ``missing``) and the status of each input it uses."""
    order = {s: i for i, s in enumerate(STATUSES)}
    rows = []
    for analysis, needs in NEEDS.items():
        states = {n: statuses.get(n, "missing") for n in needs}
        rows.append({"analysis": analysis, "status": max(states.values(), key=order.__getitem__),
                     "inputs": states})
    return pd.DataFrame(rows, columns=["analysis", "status", "inputs"])


def _note(rule: str, severity: str = "info", **params) -> Finding:
    return Finding(severity, f"inputs.{rule}", params.pop("layer", ""), "", "", params)


class _Parcels:
    """The base epoch's parcels, read once and only when a derivation needs them."""

    def __init__(self, ws: Workspace):
        self.ws, self._frame = ws, None

    def __call__(self) -> gpd.GeoDataFrame | None:
        if self._frame is None and self.ws.has("landuse"):
            self._frame = read_landuse(self.ws)
        return self._frame

    def count(self) -> int:
        """How many parcels (of every epoch), without reading them when they were not read."""
        if self._frame is not None:
            return len(self._frame)
        return self.ws.count("landuse")


def _roads(ws: Workspace, parcels: _Parcels, cfg: Config) -> tuple[gpd.GeoDataFrame | None,
                                                                    InputSource, list[Finding]]:
    if ws.has("road"):
        roads = ws.read("road")
        if len(roads):
            method = "osm" if "osm_id" in roads.columns else "layer"
            return roads, InputSource("road", "given", method, len(roads)), []
    landuse = parcels()
    if landuse is not None:
        derived = centreline_roads(landuse, config=cfg, compute_epsg=ws.meta.compute_epsg)
        if len(derived) >= int(cfg["inputs.min_derived_roads"]):
            km = float(derived.to_crs(ws.meta.compute_epsg).length.sum() / 1000.0)
            return derived, InputSource("road", "derived", "centreline", len(derived), f"{km:.1f} km"), [
                _note("road_centreline", "warning", layer="road", lines=len(derived), km=round(km, 1))]
    return None, InputSource("road", "estimated", "straight_line"), [_note("road_straight", "warning", layer="road")]


def _settlements(ws: Workspace, townships, villages, parcels: _Parcels, cfg: Config):
    if ws.has("settlement"):
        s = ws.read("settlement")
        levels = set(s["level"].astype(str)) if len(s) else set()
        if "town_seat" in levels and (villages is None or "village_seat" in levels):
            return s, InputSource("settlement", "given", "layer", len(s)), []
    landuse = parcels()
    if landuse is None:
        landuse = gpd.GeoDataFrame({"code": [], "czcsxm": []}, geometry=[], crs=4490)
    s = settlements_from_parcels(landuse, townships, villages if villages is not None else townships.iloc[:0],
                                 config=cfg, compute_epsg=ws.meta.compute_epsg)
    by = s["method"].value_counts().to_dict() if "method" in s.columns else {}
    detail = ",".join(f"{k}:{v}" for k, v in sorted(by.items()))  # the report names the methods
    return s, InputSource("settlement", "derived", "parcels", len(s), detail), [
        _note("settlement_parcels", "warning", layer="settlement", seats=len(s),
              inside=int(by.get("point_on_surface", 0)))]


def _population(ws: Workspace, townships: gpd.GeoDataFrame, villages: gpd.GeoDataFrame | None,
                parcels: _Parcels, cfg: Config):
    tp = pd.to_numeric(townships.get("population"), errors="coerce") if "population" in townships else None
    vp = pd.to_numeric(villages.get("population"), errors="coerce") \
        if villages is not None and "population" in villages else None
    t_full = tp is not None and tp.notna().all()
    v_full = villages is None or (vp is not None and vp.notna().all())
    if t_full and v_full:
        return townships, villages, InputSource("population", "given", "layer", len(townships)), []
    if not t_full and v_full and villages is not None:  # townships as the sum of their villages
        sums = vp.groupby(villages["township_code"].astype(str)).sum()
        townships = townships.assign(population=townships["code"].astype(str).map(sums).fillna(0).round().astype(int))
        return townships, villages, InputSource("population", "given", "village_sum", len(villages)), []
    known = {}
    if tp is not None and tp.notna().any():
        known.update(dict(zip(townships["code"].astype(str), tp)))
    if vp is not None and vp.notna().any():
        known.update(dict(zip(villages["code"].astype(str), vp)))
    known = {k: float(v) for k, v in known.items() if pd.notna(v)}
    vill = villages if villages is not None else townships.iloc[:0].assign(township_code=[])
    t_pop, v_pop, estimated = spread_census(ws.meta.county_code, townships, vill, parcels(), config=cfg,
                                            known=known or None)
    townships = townships.assign(population=townships["code"].astype(str).map(t_pop).round().astype(int))
    if villages is not None:
        villages = villages.assign(population=villages["code"].astype(str).map(v_pop).round().astype(int))
    n_est = int(np.asarray(estimated, dtype=bool).sum())
    total = int(townships["population"].sum())
    return townships, villages, InputSource("population", "estimated", "census_spread", n_est,
                                            f"{total}"), [
        _note("population_census", "warning", layer="township", units=n_est, total=total)]


def from_workspace(ws: Workspace, *, config: Config | None = None, build_network: bool = True) -> PlanInputs:
    """The inputs of a plan of ``ws``: given where the workspace has them, else derived.

    Roads, town and village seats and population come from the county's own layers where
    present, else from its 三调 parcels and census (see the module doc); facilities and economy
    are taken as they are or marked missing. Each choice is recorded as an :class:`InputSource`
    and, when not given, as a finding that says what to import.

    Parameters
    ----------
    ws : pianqu.workspace.Workspace
        The county workspace.
    config : pianqu.config.Config, optional
        Thresholds in force; default the workspace's own.
    build_network : bool, default True
        Also build the road graph (:func:`pianqu.network.build_graph`); travel times need it.

    Returns
    -------
    PlanInputs
        ``townships``, ``villages``, ``settlements``, ``roads``, ``facilities``, ``economy``,
        ``graph``; ``sources`` and ``table()`` (given / derived / estimated / missing per
        input), ``findings``, and ``travel_s(origins, destinations)`` in seconds.

    Examples
    --------
    >>> inputs = pianqu.from_workspace(ws)                                  # doctest: +SKIP
    >>> inputs.table()[["input", "status", "method"]]                       # doctest: +SKIP
    """
    cfg = config or ws.config()
    townships = ws.read("township")
    townships["code"] = townships["code"].astype(str)
    villages = ws.read("village") if ws.has("village") else None
    if villages is not None:
        villages["code"] = villages["code"].astype(str)
    parcels = _Parcels(ws)
    findings: list[Finding] = []
    sources: dict[str, InputSource] = {}

    roads, sources["road"], f = _roads(ws, parcels, cfg)
    findings += f
    settlements, sources["settlement"], f = _settlements(ws, townships, villages, parcels, cfg)
    findings += f
    townships, villages, sources["population"], f = _population(ws, townships, villages, parcels, cfg)
    findings += f
    facilities = ws.read("facility") if ws.has("facility") else None
    sources["facility"] = InputSource("facility", "given", "layer", len(facilities)) if facilities is not None \
        else InputSource("facility", "missing", "")
    if facilities is None:
        findings.append(_note("facility_missing", layer="facility"))
    economy = ws.read("economy") if ws.has("economy") else None
    sources["economy"] = InputSource("economy", "given", "layer", len(economy)) if economy is not None \
        else InputSource("economy", "missing", "")
    if economy is None:
        findings.append(_note("economy_missing", layer="economy"))
    sources["landuse"] = InputSource("landuse", "given", "layer", parcels.count()) if ws.has("landuse") \
        else InputSource("landuse", "missing", "")
    centres = None
    if ws.has("centres"):
        centres, f = designated_centres(pd.DataFrame(ws.read("centres")), townships, villages)
        findings += f
        sources["centres"] = InputSource("centres", "given", "layer", len(centres),
                                         ",".join(f"{k}:{v}" for k, v in centres["category"].value_counts().items()))
    else:
        sources["centres"] = InputSource("centres", "missing", "")
        findings.append(_note("centres_missing", layer="centres"))
    graph = build_graph(roads, config=cfg) if build_network and roads is not None else None
    return PlanInputs(townships, villages, settlements, roads, facilities, economy, sources, findings, cfg, graph,
                      parcels, centres)
