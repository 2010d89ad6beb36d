"""A planner's division of a workspace's townships beside pianqu's proposal (a plan scenario),
and the re-evaluation when one township moves — what ``pianqu zones evaluate|move`` prints.

Both divisions are evaluated by :mod:`pianqu.zoning.evaluate` on the same units, drive times
between town seats over the workspace's road network and contiguity graph, so their figures
compare one to one. Loading (the road graph, the travel-time matrix) takes a second or two; a
move is then re-evaluated from sums in milliseconds (:meth:`Comparison.move`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from pianqu.config import Config
from pianqu.errors import UserKeyError, UserValueError, layer_label
from pianqu.workspace import scenario_layer
from pianqu.zoning.choice import centre_strength
from pianqu.zoning.evaluate import Evaluation, Evaluator, compare, normalise_division, read_division
from pianqu.zoning.instance import TownshipInstance, from_workspace as instance_from_workspace


def township_instance(ws, config: Config | None = None) -> TownshipInstance:
    """The township zoning instance of ``ws`` (:func:`pianqu.zoning.instance.from_workspace`:
    the same inputs, travel times, adjacency and rules as :func:`pianqu.plan.plan`); a workspace
    whose townships lack seats gets a message that says so."""
    try:
        return instance_from_workspace(ws, config=config or ws.config())
    except UserValueError as exc:
        raise UserValueError("zoning.division.in_workspace", path=ws.url, error=exc) from None


def scenario_division(ws, scenario: str = "plan") -> pd.DataFrame:
    """pianqu's township division in ``scenario`` (layer ``zone_member``) as ``code, zone,
    centre_mark``; zones are labelled by their centre's code."""
    if scenario not in set(ws.scenarios()["name"]) or not ws.has("zone_member", scenario):
        raise UserValueError("zoning.division.no_scenario_zones", path=ws.url, scenario=scenario)
    m = ws.read("zone_member", scenario)
    div = normalise_division(pd.DataFrame(m).astype({"township_code": str, "zone": str}), code="township_code",
                             zone="zone", is_centre="is_centre",
                             source=f"{ws.url}:{scenario_layer('zone_member', scenario)}")
    return div


@dataclass
class Comparison:
    """A division (``evaluator``, live: moves update it) and the proposal's evaluation."""

    instance: TownshipInstance
    evaluator: Evaluator
    proposal: Evaluation | None
    labels: tuple[str, str] = ("division", "pianqu")
    timings: dict[str, float] = field(default_factory=dict)

    def evaluation(self) -> Evaluation:
        return self.evaluator.evaluation()

    def table(self, evaluation: Evaluation | None = None) -> pd.DataFrame:
        """Measures side by side (rows: measure keys, see :func:`pianqu.zoning.evaluate.compare`;
        columns: the division, then the proposal)."""
        evs = {self.labels[0]: evaluation or self.evaluation()}
        if self.proposal is not None:
            evs[self.labels[1]] = self.proposal
        table = compare(evs)
        for name, ev in evs.items():  # the strength of each division's centres (issue 17)
            st = self.centre_strength(ev)
            table.loc["centre_score_mean", name] = float(st["score"].mean()) if len(st) else float("nan")
            table.loc["weak_centres", name] = int(st["below_standard"].sum())
        return table

    def centre_strength(self, evaluation: Evaluation | None = None) -> pd.DataFrame:
        """Each zone's centre with its centre score, rank, whether it meets the central-town
        standard and its designation (:func:`pianqu.zoning.choice.centre_strength`), for this
        division (a hand-made one too) or the ``evaluation`` given; ``zone`` first."""
        ev = evaluation or self.evaluation()
        z = ev.zones[ev.zones["centre"].astype(str) != ""] if "centre" in ev.zones.columns else ev.zones.iloc[:0]
        st = centre_strength(self.instance, z["centre"].astype(str).tolist() if len(z) else [])
        st.insert(0, "zone", z["zone"].astype(str).to_numpy() if "zone" in z.columns else st["code"])
        return st

    def zone_names(self) -> dict[str, str]:
        """Zone label → '<centre name>片区' where the zone has exactly one centre."""
        ev = self.evaluator
        out = {}
        for k, z in enumerate(ev.zone_labels):
            c = ev.centre_of_zone(k)
            if c >= 0:
                out[z] = f"{self.instance.names.get(ev.codes[c], ev.codes[c])}片区"
        return out

    def resolve_zone(self, zone: str, *, allow_new: bool = False) -> str:
        """A zone label from a label, a centre code or a zone name ('…片区'); a clear error
        listing the zones otherwise (unless ``allow_new``: a new zone without a centre)."""
        ev = self.evaluator
        z = str(zone).strip()
        if z in ev.zone_labels:
            return z
        by_name = {v: k for k, v in self.zone_names().items()}
        if z in by_name:
            return by_name[z]
        by_centre = {ev.codes[c]: ev.zone_labels[k] for k in range(len(ev.zone_labels))
                     if (c := ev.centre_of_zone(k)) >= 0}
        if z in by_centre:
            return by_centre[z]
        if allow_new:
            return z
        names = self.zone_names()
        centre = {k: v.removesuffix("片区") for k, v in names.items()}
        raise UserKeyError("zoning.division.unknown_zone", zone=z, source=ev.source or "-",
                           zones_zh="、".join(f"{k}（{v}）" for k, v in names.items()) or "、".join(ev.zone_labels),
                           zones_en=", ".join(f"{k} ({v})" for k, v in centre.items()) or ", ".join(ev.zone_labels))

    def move(self, code: str, zone: str, *, allow_new: bool = False) -> dict[str, Any]:
        """Move township ``code`` to ``zone`` and re-evaluate (see :meth:`Evaluator.move`);
        the result also holds ``before`` (the two zones' figures before), ``from``/``to`` and
        ``seconds`` (the re-evaluation alone)."""
        ev = self.evaluator
        code = str(code).strip()
        if code not in ev.pos:
            raise UserKeyError("zoning.division.unknown_unit", code=code, layer="township",
                               layer_zh=layer_label("township"))
        target = self.resolve_zone(zone, allow_new=allow_new)
        k_from = int(ev.zone_of[ev.pos[code]])
        src = ev.zone_labels[k_from] if k_from >= 0 else ""
        ks = [k for k in (k_from, ev.zone_labels.index(target) if target in ev.zone_labels else -1) if k >= 0]
        before = ev.zones_frame(ks)
        t0 = time.perf_counter()
        out = ev.move(code, target)
        out["seconds"] = time.perf_counter() - t0
        out.update({"before": before, "from": src, "to": target, "code": code})
        return out

    def division(self) -> pd.DataFrame:
        """The (possibly moved) division as ``code, zone, is_centre`` rows, for saving."""
        ev = self.evaluator
        rows = []
        for k, z in enumerate(ev.zone_labels):
            for u in sorted(ev.members[k]):
                rows.append({"code": ev.codes[u], "zone": z, "is_centre": u in ev.centres[k]})
        return pd.DataFrame(rows, columns=["code", "zone", "is_centre"])


def compare_division(ws, division: str | Path | pd.DataFrame | None = None, *, scenario: str | None = "plan",
                     config: Config | None = None, labels: tuple[str, str] = ("division", "pianqu"),
                     **read_kw: Any) -> Comparison:
    """Evaluate a division of the workspace's townships beside the division of a plan scenario.

    What ``pianqu zones evaluate`` prints. Both divisions are evaluated on the same townships,
    drive times between town seats and contiguity graph, from the inputs a plan uses
    (:func:`pianqu.from_workspace`), so their figures compare one to one.

    Parameters
    ----------
    ws : pianqu.workspace.Workspace
        The county workspace.
    division : str, pathlib.Path, DataFrame or None
        A file for :func:`pianqu.read_division`, a frame ``code, zone, centre_mark``, or None for
        the scenario's own division (to adjust it with moves).
    scenario : str or None, default "plan"
        The plan scenario to compare with (None: no proposal).
    config : pianqu.config.Config, optional
        Thresholds in force; default the workspace's own.
    labels : tuple of (str, str), default ("division", "pianqu")
        Column names of the two divisions in :meth:`Comparison.table`.
    **read_kw
        Passed to :func:`pianqu.read_division` (``code``, ``zone``, ``centre``, ``is_centre``,
        ``layer``, ``sheet``).

    Returns
    -------
    Comparison
        ``table()`` (the measures side by side), ``evaluation()``, ``proposal`` and
        ``move(code, zone)``: one township moved and re-evaluated from sums in milliseconds.
    """
    cfg = config or ws.config()
    t0 = time.perf_counter()
    inst = township_instance(ws, cfg)
    t1 = time.perf_counter()
    proposal_div = scenario_division(ws, scenario) if scenario else None
    if division is None:
        if proposal_div is None:
            raise UserValueError("zoning.division.nothing")
        div = proposal_div
    elif isinstance(division, pd.DataFrame):
        div = division
    else:
        div = read_division(division, **read_kw)
    kw = dict(adjacency=inst.adjacency, config=cfg, layer="township")
    evaluator = Evaluator(inst.units, inst.travel_s, div, **kw)
    if proposal_div is None:
        proposal = None
    elif div is proposal_div:  # adjusting the proposal itself: its evaluation before any move
        proposal = evaluator.evaluation()
    else:
        proposal = Evaluator(inst.units, inst.travel_s, proposal_div, **kw).evaluation()
    return Comparison(inst, evaluator, proposal, labels,
                      {"load_s": t1 - t0, "evaluate_s": time.perf_counter() - t1})
