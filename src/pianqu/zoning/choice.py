"""The trade-off of choosing central towns by access, by strength or from the county's list.

:func:`compare_rules` divides the county into the same number of zones under each rule of
:mod:`pianqu.zoning.strength` and puts the figures side by side (mean and maximum time to the
centre, share within the standard, mean centre score, centres that are not among the strongest
towns); :func:`centre_reasons` says why each centre of a division is a centre; :func:`centre_strength`
gives any set of centres (a hand-made division too) its scores, ranks and flags.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pianqu.errors import UserValueError
from pianqu.zoning.instance import ZoningInstance, solve
from pianqu.zoning.result import ZoningResult
from pianqu.zoning.strength import RULES, meets_standard, standard_rank, township_designations

FIGURES = ("rule", "status", "p", "mean_time_min", "max_time_min", "within_share", "mean_score", "mean_rank",
           "weak_centres", "weak_names", "centres", "centre_names", "extra_mean_time_min", "objective")


def centre_strength(instance: ZoningInstance, centres: list[str] | pd.Series) -> pd.DataFrame:
    """Score, rank, whether it meets the central-town standard and its designation, for each of
    ``centres`` (township codes; any division's, a hand-made one too).

    Columns: ``code``, ``name``, ``score``, ``rank``, ``meets_standard``, ``category`` (the
    designated category, "" when not listed), ``below_standard`` (neither meets the standard nor
    designated as a fixed or candidate centre).
    """
    s = instance.centre_scores().table.set_index(instance.centre_scores().table["code"].astype(str))
    meets = meets_standard(instance.centre_scores().table, instance.config)
    d = township_designations(instance.designated).drop_duplicates("code").set_index("code")
    codes = [str(c) for c in centres]
    out = pd.DataFrame({"code": codes})
    out["name"] = out["code"].map(instance.names)
    out["score"] = out["code"].map(s["score"]).astype(float)
    out["rank"] = out["code"].map(s["rank"]).astype("Int64")
    out["meets_standard"] = out["code"].map(meets).fillna(False).astype(bool)
    cat, roles = d["category"].astype(str).to_dict(), d["role"].astype(str).to_dict()
    out["category"] = [cat.get(c, "") for c in codes]
    role = pd.Series([roles.get(c, "") for c in codes], index=out.index, dtype=object)
    out["below_standard"] = ~out["meets_standard"] & ~role.isin(["fixed", "candidate"])
    return out


def centre_reasons(instance: ZoningInstance, result: ZoningResult) -> pd.DataFrame:
    """Why each centre of ``result`` is a centre, for the report.

    ``reason`` is a key: ``county_seat`` (the county seat's town), ``designated`` (a fixed centre
    of the county's list; ``category`` says which), ``designated_candidate``, ``strongest_in_zone``
    (the strongest town of its zone), ``strong_and_central`` (meets the standard; a stronger town
    of the zone lies farther from the zone's people: ``stronger`` names them), ``access_only``
    (below the standard: chosen for access alone). Also the zone's figures.
    """
    st = centre_strength(instance, result.centres)
    scores = instance.centre_scores().table.set_index(instance.centre_scores().table["code"].astype(str))["score"]
    seat = set(instance.units.loc[instance.units["is_county_seat"].astype(bool), "code"].astype(str)) \
        if "is_county_seat" in instance.units.columns else set()
    d = township_designations(instance.designated).drop_duplicates("code").set_index("code")
    a = result.assignment.astype(str)
    zones = result.zones.set_index(result.zones["centre"].astype(str)) if len(result.zones) else None
    rows = []
    for _, r in st.iterrows():
        c = r["code"]
        members = a.index[a.to_numpy() == c].astype(str)
        stronger = [m for m in members if scores.get(m, -1) > scores.get(c, -1)]
        role = d["role"].get(c, "") if len(d) else ""
        if c in seat:
            reason = "county_seat"
        elif role == "fixed":
            reason = "designated"
        elif role == "candidate":
            reason = "designated_candidate"
        elif not r["meets_standard"]:
            reason = "access_only"
        elif not stronger:
            reason = "strongest_in_zone"
        else:
            reason = "strong_and_central"
        row = {**r.to_dict(), "reason": reason, "stronger": "、".join(instance.names.get(m, m) for m in stronger),
               "members": len(members)}
        if zones is not None and c in zones.index:
            row.update(population=float(zones.loc[c, "population"]), mean_time_min=float(zones.loc[c, "mean_time_min"]),
                       max_time_min=float(zones.loc[c, "max_time_min"]))
        rows.append(row)
    return pd.DataFrame(rows)


def figures(instance: ZoningInstance, result: ZoningResult, rule: str) -> dict:
    """One row of :func:`compare_rules` for a division."""
    st = centre_strength(instance, result.centres) if result.feasible else pd.DataFrame()
    weak = st[st["below_standard"]] if len(st) else st
    return {
        "rule": rule, "status": result.status, "p": result.p,
        "mean_time_min": result.stats.get("mean_time_s", np.nan) / 60.0,
        "max_time_min": result.stats.get("max_time_s", np.nan) / 60.0,
        "within_share": result.stats.get("within_share", np.nan),
        "mean_score": float(st["score"].mean()) if len(st) else np.nan,
        "mean_rank": float(st["rank"].astype(float).mean()) if len(st) else np.nan,
        "weak_centres": int(len(weak)),
        "weak_names": "、".join(weak["name"].astype(str)) if len(weak) else "",
        "centres": ",".join(map(str, result.centres)),
        "centre_names": "、".join(st["name"].astype(str)) if len(st) else "",
        "objective": result.objective,
    }


def compare_rules(instance: ZoningInstance, p: int, *, results: dict[str, ZoningResult] | None = None,
                  time_limit: float | None = None, method: str = "auto"
                  ) -> tuple[pd.DataFrame, dict[str, ZoningResult]]:
    """The access-only, strength-aware and designated-centres divisions into ``p`` zones side by side.

    Parameters
    ----------
    instance : ZoningInstance
        The county (:func:`pianqu.zoning.instance.from_workspace`).
    p : int
        Number of zones (the plan's recommended one).
    results : dict of str to ZoningResult, optional
        Divisions already solved, by rule (e.g. the plan's own), not solved again.
    time_limit, method
        As for :func:`pianqu.zoning.instance.solve`.

    Returns
    -------
    (pandas.DataFrame, dict of str to ZoningResult)
        One row per rule of :data:`pianqu.zoning.strength.RULES` (``rule``, ``status`` —
        ``missing`` for ``designated`` without a centres table —, ``p``, ``mean_time_min``,
        ``max_time_min``, ``within_share``, ``mean_score``, ``mean_rank``, ``weak_centres`` (centres
        below the standard and not designated) and their names, the centres, ``extra_mean_time_min``
        against access, ``objective``), and the divisions by rule.
    """
    done = dict(results or {})
    rows = []
    for rule in RULES:
        if rule not in done:
            try:
                done[rule] = solve(instance, p, time_limit=time_limit, method=method, centre_rule=rule)
            except UserValueError:  # designated without a list
                rows.append({"rule": rule, "status": "missing", "p": p})
                continue
        rows.append(figures(instance, done[rule], rule))
    table = pd.DataFrame(rows).reindex(columns=list(FIGURES))
    access = table.loc[table["rule"] == "access", "mean_time_min"]
    table["extra_mean_time_min"] = table["mean_time_min"] - (float(access.iloc[0]) if len(access) else np.nan)
    table.attrs["standard_rank"] = standard_rank(len(instance.units), instance.config)
    return table, done


def plan_members(instance: ZoningInstance, results: dict[str, ZoningResult]) -> pd.DataFrame:
    """``rule, township_code, centre, centre_below_standard`` of every division (the maps of
    each plan)."""
    parts = []
    for rule, r in results.items():
        if not r.feasible:
            continue
        below = centre_strength(instance, r.centres).set_index("code")["below_standard"]
        centre = r.assignment.astype(str)
        parts.append(pd.DataFrame({"rule": rule, "township_code": r.assignment.index.astype(str),
                                   "centre": centre.to_numpy(),
                                   "centre_below_standard": centre.map(below).fillna(False).astype(bool).to_numpy()}))
    cols = ["rule", "township_code", "centre", "centre_below_standard"]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=cols)
