"""Population: missing or negative values, implausible village sizes, and sums that disagree
between levels (villages of a township against the township, townships against the county).

A township whose villages have a missing, negative or unparsable population is left out of the
sum check: that problem is already reported, and the sum would only repeat it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pianqu.validate._common import Context

REQUIRED_POPULATION = ("township", "village")
OPTIONAL_POPULATION = ("county", "settlement")


def check_values(ctx: Context) -> None:
    """Missing (township/village: a warning with the fix, since 三调 data never carries
    population) and negative population; villages above the plausible maximum."""
    for name in REQUIRED_POPULATION:
        data = ctx.get(name)
        if data is None or len(data) == 0 or data.spec is None:
            continue
        if not data.has("population") or data.col("population").isna().all() and not data.bad.get(
                "population", np.zeros(len(data), dtype=bool)).any():
            ctx.add("warning", "validate.population_absent", name, "", "population", n=len(data))
    for name in REQUIRED_POPULATION + OPTIONAL_POPULATION:
        data = ctx.get(name)
        if data is None or not data.has("population"):
            continue
        pop = data.col("population")
        bad = data.bad.get("population", np.zeros(len(data), dtype=bool))
        if name in REQUIRED_POPULATION and not (pop.isna() & ~bad).all():
            for i in np.nonzero(pop.isna().to_numpy() & ~bad)[0]:
                ctx.add("warning", "validate.missing_population", name, data.ids[i], "population")
        for i in np.nonzero((pop < 0).fillna(False).to_numpy(dtype=bool))[0]:
            ctx.add("error", "validate.negative_population", name, data.ids[i], "population",
                    value=int(pop.iloc[i]))
    village = ctx.get("village")
    if village is not None and village.has("population"):
        limit = float(ctx.config["validate.max_population_per_village"])
        pop = village.col("population")
        for i in np.nonzero((pop > limit).fillna(False).to_numpy(dtype=bool))[0]:
            ctx.add("warning", "validate.population_implausible", "village", village.ids[i], "population",
                    value=int(pop.iloc[i]), limit=int(limit))


def _valid(pop: pd.Series, bad: np.ndarray | None) -> pd.Series:
    ok = pop.notna() & (pop >= 0)
    if bad is not None:
        ok &= ~bad
    return ok


def check_sums(ctx: Context) -> None:
    """Σ village = township and Σ township = county, within ``validate.population_sum_rel_tolerance``."""
    tol = float(ctx.config["validate.population_sum_rel_tolerance"])
    levels = (("village", "township_code", "township", "code"), ("township", "county_code", "county", "code"))
    for child, link, parent, key in levels:
        c, p = ctx.get(child), ctx.get(parent)
        if c is None or p is None or not (c.has("population") and c.has(link) and p.has("population")
                                         and p.has(key)):
            continue
        cpop = c.col("population")
        frame = pd.DataFrame({"parent": c.col(link), "pop": cpop,
                              "ok": _valid(cpop, c.bad.get("population"))})
        linked = c.ok(link)
        pcodes = set(p.col(key)[p.ok(key)])
        if parent != "county" and not (linked.all() and frame["parent"].isin(pcodes).all()):
            continue  # a child without a known parent (reported): no sum can be trusted
        frame = frame[linked]
        if parent == "county" and len(p) == 1 and p.ok(key)[0]:
            frame["parent"] = str(p.col(key).iloc[0])  # one county: every township belongs to it
        agg = frame.groupby("parent").agg(total=("pop", "sum"), all_ok=("ok", "all"), n=("pop", "size"))
        ppop = p.col("population")
        pok = _valid(ppop, p.bad.get("population")).to_numpy() & p.ok(key)
        for r in np.nonzero(pok)[0]:
            code = str(p.col(key).iloc[r])
            if code not in agg.index or not agg.at[code, "all_ok"]:
                continue
            total, value = float(agg.at[code, "total"]), float(ppop.iloc[r])
            rel = abs(total - value) / max(value, 1.0)
            if rel > tol:
                ctx.add("warning", "validate.population_sum_mismatch", parent, p.ids[r], "population",
                        value=int(value), total=int(total), child_layer=child, n=int(agg.at[code, "n"]),
                        rel=float(rel), tolerance=tol)
