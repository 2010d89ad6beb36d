"""County scorecards of the supervision (督查考核): each county-level indicator's light turned
into points, weighted (``standards/supervision_weights.csv``), totalled and ranked within each
city (地级市) and the province, and each county's worst indicators.

Scoring, all configurable: a light is worth ``supervision.points_green`` / ``_yellow`` / ``_red``
points (100 / 60 / 0 by default); a county's score is Σ weight × points ÷ Σ weight over the
indicators that have a light — 无数据 (``none``) is left out of both sums and counted apart
(``none`` column), so a missing input neither rewards nor punishes a county, and the count
says how much of the catalogue the score stands on. Indicators of weight 0 (no direction) are
shown, not scored. The score is rounded to ``supervision.score_decimals`` before ranking.

Ties: "competition ranking" (1, 2, 2, 4): counties with the same rounded score share the best
rank of the group and the next county's rank counts all the counties before it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pianqu import divisions
from pianqu.config import Config, load_config

LIGHT_ORDER = {"red": 0, "yellow": 1, "green": 2, "none": 3}
POINT_COLUMNS = ["county_code", "indicator", "name_zh", "name_en", "kind", "unit", "value", "target", "direction",
                 "light", "weight", "points", "lost", "shortfall", "drivers", "order"]
SCORECARD_COLUMNS = ["county_code", "county_name", "city_code", "city_name", "score", "province_rank", "city_rank",
                     "green", "yellow", "red", "none", "scored", "weight_scored"]


def competition_rank(scores: pd.Series, *, ascending: bool = False) -> pd.Series:
    """Competition ranking ("1224"): equal scores share the best rank of their group, the next
    rank skips the places they took. NaN scores rank last (after every number), tied together."""
    filled = scores.astype(float)
    if not ascending:
        filled = -filled
    filled = filled.fillna(np.inf)
    return filled.rank(method="min", ascending=True).astype(int)


def indicator_points(indicators: pd.DataFrame, config: Config | None = None) -> pd.DataFrame:
    """One row per county × indicator (county-level rows of :func:`pianqu.evaluation.evaluate`
    tables with ``county_code``): the weight, the points of its light, ``lost`` (weight × the
    points short of green: what the indicator costs the county) and ``shortfall`` (how far the
    value misses its target, as a share of the target — the gap itself for a target of 0, such
    as a ceiling of 0 violations; 0 when met)."""
    cfg = config or load_config()
    weights = cfg.table("supervision_weights").set_index("id")["weight"].astype(float)
    pts = {"green": float(cfg["supervision.points_green"]), "yellow": float(cfg["supervision.points_yellow"]),
           "red": float(cfg["supervision.points_red"])}
    t = indicators.copy()
    if "level" in t:
        t = t[t["level"].astype(str) == "county"]
    t = t.reset_index(drop=True)
    t["county_code"] = t["county_code"].astype(str)
    order = {ind: i for i, ind in enumerate(weights.index)}
    t["order"] = t["indicator"].map(order).fillna(len(order)).astype(int)
    t["weight"] = t["indicator"].map(weights).fillna(0.0).astype(float)
    t["light"] = t["light"].fillna("none").astype(str)
    t["points"] = t["light"].map(pts).astype(float)  # NaN for none
    t.loc[t["weight"] <= 0, "points"] = np.nan
    t["lost"] = (t["weight"] * (pts["green"] - t["points"])).fillna(0.0)
    value = pd.to_numeric(t["value"], errors="coerce")
    target = pd.to_numeric(t["target"], errors="coerce")
    gap = np.where(t["direction"] == "higher", target - value, np.where(t["direction"] == "lower", value - target, np.nan))
    with np.errstate(divide="ignore", invalid="ignore"):
        share = gap / np.where(np.abs(target) > 0, np.abs(target), 1.0)
    t["shortfall"] = np.clip(np.nan_to_num(share, nan=0.0, posinf=0.0, neginf=0.0), 0.0, None)
    t["value"], t["target"] = value, target
    for col in ("name_zh", "name_en", "kind", "unit", "direction"):
        if col not in t:
            t[col] = ""
    if "drivers" not in t:
        t["drivers"] = 0
    t["drivers"] = pd.to_numeric(t["drivers"], errors="coerce").fillna(0).astype(int)
    return t[POINT_COLUMNS].sort_values(["county_code", "order"], kind="stable").reset_index(drop=True)


def scorecards(points: pd.DataFrame, *, counties: list[str] | None = None, config: Config | None = None) -> pd.DataFrame:
    """One row per county: lights counted, ``score`` (0–100, rounded), ``province_rank`` and
    ``city_rank`` (competition ranking within the city: the first four digits of the county
    code), names from :mod:`pianqu.divisions`. ``counties`` adds counties without indicators
    (score NaN, ranked last)."""
    cfg = config or load_config()
    decimals = int(cfg["supervision.score_decimals"])
    codes = sorted(set(points["county_code"].astype(str)) | set(map(str, counties or [])))
    rows = []
    for code in codes:
        p = points[points["county_code"] == code]
        scored = p[p["points"].notna()]
        wsum = float(scored["weight"].sum())
        score = float((scored["weight"] * scored["points"]).sum() / wsum) if wsum > 0 else np.nan
        lights = p[p["weight"] > 0]["light"].value_counts()
        rows.append({"county_code": code, "score": round(score, decimals) if np.isfinite(score) else np.nan,
                     "scored": int(len(scored)), "weight_scored": wsum,
                     **{k: int(lights.get(k, 0)) for k in ("green", "yellow", "red", "none")}})
    card = pd.DataFrame(rows, columns=["county_code", "score", "scored", "weight_scored", "green", "yellow", "red", "none"])
    names = divisions.counties().set_index("code")
    card["county_name"] = card["county_code"].map(names["name"]).fillna(card["county_code"])
    card["city_code"] = card["county_code"].str[:4]
    card["city_name"] = card["county_code"].map(names["city_name"]).fillna(card["city_code"])
    card["province_rank"] = competition_rank(card["score"]) if len(card) else pd.Series(dtype=int)
    card["city_rank"] = card.groupby("city_code")["score"].transform(competition_rank) if len(card) else 0
    card = card.sort_values(["province_rank", "county_code"], kind="stable").reset_index(drop=True)
    return card[SCORECARD_COLUMNS]


def worst_indicators(points: pd.DataFrame, n: int | None = None, config: Config | None = None) -> pd.DataFrame:
    """Each county's ``n`` worst scored indicators (default ``supervision.worst_indicators``):
    those that cost it points, most ``lost`` first, then the larger ``shortfall``, then
    catalogue order; a county with none lost has no rows."""
    if n is None:
        n = int((config or load_config())["supervision.worst_indicators"])
    bad = points[points["lost"] > 0].copy()
    bad = bad.sort_values(["county_code", "lost", "shortfall", "order"], ascending=[True, False, False, True],
                          kind="stable")
    bad["place"] = bad.groupby("county_code").cumcount() + 1
    return bad[bad["place"] <= n].reset_index(drop=True)
