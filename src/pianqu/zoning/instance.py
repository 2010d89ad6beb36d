"""The township-level zoning instance: everything the solver needs, built once.

:func:`from_workspace` gathers the townships with the attributes zoning uses
(:func:`township_units`), drive seconds between their town seats, their contiguity graph and the
policy rules in force — which townships may be centres (``centre_candidate_kind``), the member
bounds and how they relax (``zoning.member_bounds_mode``), the townships kept together because
they were one township before the 2019 merger (``zoning.keep_pre_merger_together``), the centre
scores (entropy-TOPSIS) and the county's designated centres. :func:`solve` divides an instance
(the number of zones by the policy rule unless given), choosing the central towns by the rule
``centre_rule`` (:mod:`pianqu.zoning.strength`: ``access``, ``strength`` — the default of
``zoning.centre_rule`` — or ``designated``). ``pianqu plan``,
``pianqu zones`` (:mod:`pianqu.zoning.compare`) and the test bench (:mod:`pianqu.testing.zoning`)
all build their instance here, so the rules live in one place.

>>> inst = pianqu.zoning.instance.from_workspace(ws)                     # doctest: +SKIP
>>> result = pianqu.zoning.instance.solve(inst)                          # doctest: +SKIP
>>> result.to_gdf()                                                      # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from pianqu.config import Config
from pianqu.errors import UserValueError
from pianqu.findings import Finding
from pianqu.inputs import PlanInputs, from_workspace as inputs_from_workspace
from pianqu.network.snap import seat_points
from pianqu.standards import policy_codes
from pianqu.workspace import Workspace
from pianqu.zoning.autop import AutoP, auto_p
from pianqu.zoning.centres import CentreScores, centre_indicators, score_centres
from pianqu.zoning.contiguity import Adjacency, adjacency as build_adjacency
from pianqu.zoning.delineate import delineate, member_bounds_for
from pianqu.zoning.mergers import pre_merger_constraints
from pianqu.zoning.result import ZoningResult
from pianqu.zoning.strength import CentreRule, centre_rule as make_centre_rule, check_rule, widened

YUAN_10K_PER_YI = 1e4  # 万元 per 亿元 (the economy table is in 万元, centre indicators in 亿元)


@dataclass
class ZoningInstance:
    """A county's townships ready to divide: units, travel seconds, contiguity and the rules.

    ``units`` (one row per township: ``code``, ``name``, ``kind``, ``population``,
    ``is_county_seat`` and, where their inputs exist, ``facilities``, ``built_up_km2``,
    ``gdp_yi``; polygons), ``travel_s`` (seconds between town seats, in the order of ``units``),
    ``adjacency``; the policy rules ``candidates`` (codes that may be centres, None: all),
    ``member_bounds`` and ``relax_member_bounds``, ``keep_together`` (pre-2019 townships);
    ``findings`` (adjacency notes and one note per pre-merger group); ``scores`` (the centre
    scores of the units), ``designated`` (the checked centres table, None without one) and
    ``centre_rule`` (the rule :func:`solve` uses by default, ``zoning.centre_rule``).
    """

    units: gpd.GeoDataFrame
    travel_s: np.ndarray
    adjacency: Adjacency
    candidates: list[str] | None
    member_bounds: tuple[int, int] | None
    relax_member_bounds: bool
    keep_together: list[list[str]]
    config: Config
    findings: list[Finding] = field(default_factory=list)
    county_code: str = ""
    inputs: PlanInputs | None = field(default=None, repr=False)
    scores: CentreScores | None = field(default=None, repr=False)
    designated: pd.DataFrame | None = field(default=None, repr=False)
    centre_rule: str = "access"

    @property
    def names(self) -> pd.Series:
        """Township code → name."""
        return self.units.set_index("code")["name"].astype(str)

    def rules(self) -> dict[str, Any]:
        """The keyword arguments of :func:`pianqu.delineate` / :func:`pianqu.auto_p` that carry
        this instance's graph and policy rules."""
        return dict(adjacency=self.adjacency, candidates=self.candidates, member_bounds=self.member_bounds,
                    relax_member_bounds=self.relax_member_bounds, keep_together=self.keep_together,
                    config=self.config)

    def centre_choice(self, rule: str | None = None, p: int | None = None) -> CentreRule | None:
        """Candidates, fixed and forbidden centres and opening costs of ``rule`` (default the
        instance's); None for ``designated`` without a designated town."""
        rule = check_rule(rule or self.centre_rule)
        return make_centre_rule(rule, self.units, self.centre_scores().table, self.designated,
                                kind_candidates=self.candidates, p=p, config=self.config)

    def centre_scores(self) -> CentreScores:
        """The units' centre scores (entropy-TOPSIS), computed once."""
        if self.scores is None:
            self.scores = score_centres(centre_indicators(self.units, self.travel_s, config=self.config),
                                        config=self.config)
        return self.scores

    def rules_for(self, rule: str | None = None, p: int | None = None) -> dict[str, Any]:
        """:meth:`rules` with the centre arguments of ``rule``.

        Raises
        ------
        pianqu.errors.UserValueError
            ``designated`` and the county has no designated central town.
        """
        choice = self.centre_choice(rule, p)
        if choice is None:
            raise UserValueError("zoning.strength.no_list")
        return {**self.rules(), **choice.kwargs()}


TownshipInstance = ZoningInstance  # the name pianqu.zoning.compare used


def units_from_inputs(inputs: PlanInputs, landuse: gpd.GeoDataFrame | pd.DataFrame | None = None
                      ) -> gpd.GeoDataFrame:
    """Townships with the attributes zoning needs, from a plan's inputs and (optionally) the
    base-epoch parcels (``code``, ``township_code``, ``area_m2``, ``czcsxm``) for the built-up
    area. See :func:`township_units`."""
    t = inputs.townships.copy()
    t["code"] = t["code"].astype(str)
    seats = inputs.settlements
    seat_town = set(seats.loc[seats["level"].astype(str) == "county_seat", "township_code"].astype(str))
    t["is_county_seat"] = t["code"].isin(seat_town)
    if inputs.facilities is not None:
        fac = inputs.facilities
        t["facilities"] = t["code"].map(fac["township_code"].astype(str).value_counts()).fillna(0).astype(int)
    if landuse is not None:
        built = landuse[landuse["czcsxm"].astype(str).str[:3].isin(policy_codes("built_up_czcsxm"))]
        area = built.groupby(built["township_code"].astype(str))["area_m2"].sum() / 1e6
        t["built_up_km2"] = t["code"].map(area).fillna(0.0)
    if inputs.economy is not None:
        eco = inputs.economy
        out = eco.groupby(eco["township_code"].astype(str))["output"].sum() / YUAN_10K_PER_YI
        t["gdp_yi"] = t["code"].map(out).fillna(0.0)
    return t


def township_units(ws: Workspace, inputs: PlanInputs | None = None) -> gpd.GeoDataFrame:
    """Townships with the attributes zoning needs.

    Population, kind, county-seat flag, facility count, built-up area (km², parcels of
    城镇村属性码 201/202 inside the township) and output (亿元 from the economy table's 万元).

    Parameters
    ----------
    ws : pianqu.workspace.Workspace
        The county workspace (its base-epoch parcels give the built-up area).
    inputs : pianqu.inputs.PlanInputs, optional
        The plan's inputs; default :func:`pianqu.inputs.from_workspace` without the road graph
        (population and seats derived where the data lacks them).

    Returns
    -------
    geopandas.GeoDataFrame
        One row per township: ``code``, ``name``, ``kind``, ``population``, ``is_county_seat``,
        and ``facilities``, ``built_up_km2``, ``gdp_yi`` where their inputs exist; polygons in
        EPSG:4490. The ``units`` of :func:`pianqu.delineate` and :func:`pianqu.auto_p`.
    """
    inputs = inputs or inputs_from_workspace(ws, build_network=False)
    return units_from_inputs(inputs, inputs.parcels())


def from_inputs(inputs: PlanInputs, *, county_code: str, landuse: gpd.GeoDataFrame | pd.DataFrame | None = None,
                config: Config | None = None) -> ZoningInstance:
    """The instance of a county from its plan inputs (which must carry the road graph or be
    content with straight-line times) and, for the built-up area, its base-epoch parcels."""
    cfg = config or inputs.config
    units = units_from_inputs(inputs, landuse)
    seats = seat_points(inputs.settlements, units["code"], "town_seat", "township_code")
    T = inputs.travel_s(seats, seats)
    adj = build_adjacency(units, travel_s=T, config=cfg)
    candidates = units.loc[units["kind"].astype(str).isin(policy_codes("centre_candidate_kind")), "code"].tolist()
    bounds, relax = member_bounds_for("township", cfg)
    together, notes = pre_merger_constraints(units["code"], county_code, bool(cfg["zoning.keep_pre_merger_together"]))
    scores = score_centres(centre_indicators(units, T, config=cfg), config=cfg)
    return ZoningInstance(units, T, adj, candidates or None, bounds, relax, together, cfg,
                          list(adj.findings) + notes, str(county_code), inputs, scores, inputs.centres,
                          check_rule(str(cfg["zoning.centre_rule"])))


def from_workspace(ws: Workspace, *, config: Config | None = None, inputs: PlanInputs | None = None
                   ) -> ZoningInstance:
    """The township-level zoning instance of ``ws``, built once.

    Parameters
    ----------
    ws : pianqu.workspace.Workspace
        The county workspace (its base-epoch parcels give the built-up area, its county code
        the pre-2019 merger groups).
    config : pianqu.config.Config, optional
        Thresholds in force; default the workspace's own.
    inputs : pianqu.inputs.PlanInputs, optional
        The plan's inputs (with the road graph); default :func:`pianqu.inputs.from_workspace`.

    Returns
    -------
    ZoningInstance
        Units, travel seconds between town seats, adjacency and the policy rules.
    """
    cfg = config or ws.config()
    inputs = inputs or inputs_from_workspace(ws, config=cfg)
    return from_inputs(inputs, county_code=ws.meta.county_code, landuse=inputs.parcels(), config=cfg)


def choose_p(instance: ZoningInstance, *, time_limit: float | None = None, method: str = "auto",
             centre_rule: str | None = None) -> AutoP:
    """Divide the instance for every p of the policy's range and recommend one
    (:func:`pianqu.auto_p` with the instance's rules).

    The number of zones is a question of the county's geography: the rule of :func:`pianqu.auto_p`
    (the smallest p bringing ``zoning.within_share_target`` of the population within the standard)
    is applied to the divisions by access. Under ``centre_rule`` ``strength`` or ``designated``
    (default the instance's) the recommended p is then divided again choosing its centres by
    that rule; that division is ``best`` (the table keeps the access divisions the rule saw, with
    ``centre_rule`` saying so).
    """
    rule = check_rule(centre_rule or instance.centre_rule)
    ap = auto_p(instance.units, instance.travel_s, time_limit=time_limit, method=method, **instance.rules())
    for r in ap.results.values():
        r.attach(instance.units, instance.travel_s)
    ap.table["centre_rule"] = "access"
    if rule != "access" and ap.recommended is not None:
        ap.results[ap.recommended] = solve(instance, ap.recommended, time_limit=time_limit, method=method,
                                           centre_rule=rule)
    return ap


def solve(instance: ZoningInstance, p: int | None = None, *, time_limit: float | None = None,
          method: str = "auto", centre_rule: str | None = None) -> ZoningResult:
    """Divide ``instance`` into ``p`` zones (default: p by the policy rule, :func:`choose_p`).

    The rules (candidates, member bounds and their relaxation, pre-merger groups) are the
    instance's; the central towns are chosen by ``centre_rule`` (``access``, ``strength`` or
    ``designated``, :mod:`pianqu.zoning.strength`; default the instance's, ``zoning.centre_rule``).
    When the central-town standard leaves no valid division, every 镇/街道 becomes a candidate
    again (the weakness still weighed) and a warning says so. The result knows its units and
    travel times (``to_frame``, ``to_gdf``, ``write``) and its rule (``stats["centre_rule"]``).

    Raises
    ------
    pianqu.errors.UserValueError
        p automatic and no p of the range has a division (the message gives the reasons), or
        ``designated`` without a designated central town.
    """
    rule = check_rule(centre_rule or instance.centre_rule)
    if p is None:
        return best_of(choose_p(instance, time_limit=time_limit, method=method, centre_rule=rule))
    choice = instance.centre_choice(rule, p)
    if choice is None:
        raise UserValueError("zoning.strength.no_list")
    result = delineate(instance.units, instance.travel_s, p, time_limit=time_limit, method=method,
                       **{**instance.rules(), **choice.kwargs()})
    if not result.feasible and rule != "access":
        wide = widened(choice, instance.candidates, instance.units["code"].astype(str).tolist())
        second = delineate(instance.units, instance.travel_s, p, time_limit=time_limit, method=method,
                           **{**instance.rules(), **wide.kwargs()})
        if second.feasible:
            second.explanation = [Finding("warning", "zoning.strength.widened", "township", "", "",
                                          {"p": p, "rule": rule})] + list(second.explanation)
            result = second
    result.explanation = list(choice.findings) + list(result.explanation)
    result.stats["centre_rule"] = rule
    return result.attach(instance.units, instance.travel_s)


def best_of(ap: AutoP) -> ZoningResult:
    """The division of the recommended p (with the table of every p as ``options``).

    Raises
    ------
    pianqu.errors.UserValueError
        No p of the range has a division (the message gives the reasons).
    """
    if ap.best is None:
        raise UserValueError("plan.no_division", reasons=[f for r in ap.results.values() for f in r.explanation[:1]])
    ap.best.options = ap.table
    return ap.best
