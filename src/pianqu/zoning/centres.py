"""Centre scoring and the town–village hierarchy.

Candidate central towns (中心镇) and villages (中心村) are scored on population, built-up area,
economic output, facilities present, accessibility (population reachable within the
centre-time standard) and network centrality (harmonic closeness on travel times). Weights
come from the entropy method (criteria that discriminate more weigh more) with TOPSIS
ranking, or from the user: a dict of weights or an AHP pairwise-comparison matrix whose
consistency ratio is checked (Saaty; ``zoning.ahp_cr_max``). Towns are compared with the
published averages of Sichuan's 100 central towns (domain.md §3). Hierarchy tiers: county
seat / central town / general town; central village / general village, with the four village
classes and the rule that a 搬迁撤并 village is never a centre.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import numpy as np
import pandas as pd

from pianqu.config import Config, load_config
from pianqu.findings import Finding
from pianqu.schema import VILLAGE_CLASSES
from pianqu.zoning.problem import RELOCATE_CLASS

CRITERIA = ("population", "built_up_km2", "gdp_yi", "facilities", "accessibility", "centrality")
# Saaty's random consistency index RI(n) for n = 1..15 (Saaty 1980, Table 1.3).
RANDOM_INDEX = (0.0, 0.0, 0.58, 0.90, 1.12, 1.24, 1.32, 1.41, 1.45, 1.49, 1.51, 1.48, 1.56, 1.57, 1.59)


def centre_indicators(units: pd.DataFrame, travel_s: np.ndarray, *, code: str = "code",
                      population: str = "population", built_up: str | None = "built_up_km2",
                      gdp: str | None = "gdp_yi", facilities: str | pd.Series | None = "facilities",
                      county: str | None = "county_code", budget_min: float | None = None,
                      layer: str = "township", config: Config | None = None) -> pd.DataFrame:
    """One row per unit with the criteria present in the data.

    accessibility: population whose seat is within ``budget_min`` (default the centre-time
    standard of the layer) of this unit's seat, same county; centrality: harmonic closeness
    Σ_j 1/t_ij over the county's other units (per hour). ``facilities`` may be a column or a
    Series (code → count, e.g. from the facility layer).
    """
    cfg = config or load_config()
    if budget_min is None:
        budget_min = cfg["zoning.village_centre_time_min" if layer == "village" else "zoning.centre_time_min"]
    T = np.asarray(travel_s, dtype=float)
    n = len(units)
    if T.shape != (n, n):
        raise ValueError(f"travel_s has shape {T.shape}; expected ({n}, {n}) in unit order")
    codes = units[code].astype(str).to_numpy()
    pop = pd.to_numeric(units[population], errors="coerce").fillna(0).to_numpy(float)
    same = (units[county].astype(str).to_numpy()[:, None] == units[county].astype(str).to_numpy()[None, :]
            if county and county in units.columns else np.ones((n, n), dtype=bool))
    reach = same & (T <= budget_min * 60.0)
    out = pd.DataFrame({"code": codes, "population": pop})
    for name, col in (("built_up_km2", built_up), ("gdp_yi", gdp)):
        if col and col in units.columns:
            out[name] = pd.to_numeric(units[col], errors="coerce").to_numpy(float)
    if isinstance(facilities, pd.Series):
        out["facilities"] = out["code"].map(facilities.astype(float)).fillna(0.0).to_numpy()
    elif facilities and facilities in units.columns:
        out["facilities"] = pd.to_numeric(units[facilities], errors="coerce").to_numpy(float)
    out["accessibility"] = reach.astype(float) @ pop
    with np.errstate(divide="ignore"):
        inv = np.where(same & (T > 0) & np.isfinite(T), 3600.0 / np.where(T > 0, T, 1.0), 0.0)
    out["centrality"] = inv.sum(axis=1)
    return out


def entropy_weights(X: np.ndarray) -> np.ndarray:
    """Entropy-method weights of the columns of X (alternatives × criteria, larger is better).

    Each column is min–max normalised to proportions p_ij; e_j = −Σ p ln p / ln m; weight ∝ 1 − e_j.
    A constant column carries no information and gets weight 0.
    """
    X = np.asarray(X, dtype=float)
    m = X.shape[0]
    rng = X.max(axis=0) - X.min(axis=0)
    Z = np.where(rng > 0, (X - X.min(axis=0)) / np.where(rng > 0, rng, 1.0), 0.0) + 1e-12
    P = Z / Z.sum(axis=0)
    e = -(P * np.log(P)).sum(axis=0) / np.log(m) if m > 1 else np.ones(X.shape[1])
    d = np.where(rng > 0, 1.0 - e, 0.0)
    return d / d.sum() if d.sum() > 0 else np.full(X.shape[1], 1.0 / X.shape[1])


def topsis(X: np.ndarray, weights: np.ndarray, benefit: np.ndarray | None = None) -> np.ndarray:
    """TOPSIS closeness to the ideal (0 … 1, larger is better), vector normalisation."""
    X = np.asarray(X, dtype=float)
    w = np.asarray(weights, dtype=float)
    benefit = np.ones(X.shape[1], dtype=bool) if benefit is None else np.asarray(benefit, dtype=bool)
    norm = np.sqrt((X ** 2).sum(axis=0))
    V = np.where(norm > 0, X / np.where(norm > 0, norm, 1.0), 0.0) * w
    best = np.where(benefit, V.max(axis=0), V.min(axis=0))
    worst = np.where(benefit, V.min(axis=0), V.max(axis=0))
    dp = np.sqrt(((V - best) ** 2).sum(axis=1))
    dm = np.sqrt(((V - worst) ** 2).sum(axis=1))
    tot = dp + dm
    return np.where(tot > 0, dm / np.where(tot > 0, tot, 1.0), 0.5)


@dataclass(frozen=True)
class AHP:
    weights: np.ndarray
    lambda_max: float
    ci: float
    cr: float


def ahp_weights(matrix: np.ndarray | pd.DataFrame, *, cr_max: float | None = None,
                config: Config | None = None) -> AHP:
    """Weights from a pairwise-comparison matrix (principal eigenvector) and its consistency.

    Raises ``ValueError`` when the matrix is not positive and reciprocal, or when the
    consistency ratio exceeds ``zoning.ahp_cr_max``, naming the least consistent judgement.
    """
    labels = list(matrix.index) if isinstance(matrix, pd.DataFrame) else None
    A = np.asarray(matrix, dtype=float)
    k = A.shape[0]
    if A.shape != (k, k) or k < 1:
        raise ValueError(f"AHP matrix must be square, got shape {A.shape}")
    if (A <= 0).any() or not np.isfinite(A).all():
        raise ValueError("AHP matrix: every judgement must be a positive number (1/9 … 9)")
    name = (lambda i: labels[i]) if labels else (lambda i: f"criterion {i + 1}")
    bad = np.argwhere(~np.isclose(A * A.T, 1.0, rtol=1e-3))
    if len(bad):
        i, j = bad[0]
        raise ValueError(f"AHP matrix is not reciprocal: a[{name(i)}, {name(j)}] = {A[i, j]:g} but "
                         f"a[{name(j)}, {name(i)}] = {A[j, i]:g} (should be {1 / A[i, j]:g})")
    vals, vecs = np.linalg.eig(A)
    top = int(np.argmax(vals.real))
    w = np.abs(vecs[:, top].real)
    w = w / w.sum()
    lam = float(vals[top].real)
    ci = (lam - k) / (k - 1) if k > 2 else 0.0
    ri = RANDOM_INDEX[k - 1] if k <= len(RANDOM_INDEX) else RANDOM_INDEX[-1]
    cr = ci / ri if ri > 0 else 0.0
    limit = float((config or load_config())["zoning.ahp_cr_max"] if cr_max is None else cr_max)
    if cr > limit:
        implied = w[:, None] / w[None, :]
        dev = np.abs(np.log(A) - np.log(implied))
        i, j = np.unravel_index(np.argmax(dev), dev.shape)
        raise ValueError(f"AHP matrix is not consistent enough: CR = {cr:.3f} > {limit:g}. The least consistent "
                         f"judgement is {name(i)} vs {name(j)}: given {A[i, j]:.3g}, the other judgements imply "
                         f"{implied[i, j]:.3g}; revise it")
    return AHP(w, lam, ci, cr)


@dataclass
class CentreScores:
    table: pd.DataFrame  # code, criteria, score, rank, benchmark ratios
    weights: pd.Series
    method: str
    cr: float | None = None
    findings: list[Finding] = field(default_factory=list)


def score_centres(indicators: pd.DataFrame, *, criteria: tuple[str, ...] | None = None,
                  weights: Mapping[str, float] | str = "entropy", ahp: np.ndarray | pd.DataFrame | None = None,
                  config: Config | None = None) -> CentreScores:
    """Rank candidate centres by TOPSIS with entropy, user or AHP weights.

    indicators: from :func:`centre_indicators` (or any frame with ``code`` and numeric
    criteria, larger = better). Missing values count as the column minimum, with a finding.
    """
    cfg = config or load_config()
    crit = [c for c in (criteria or CRITERIA) if c in indicators.columns]
    if not crit:
        raise ValueError(f"no criteria to score: the indicators have none of {list(criteria or CRITERIA)}")
    findings: list[Finding] = []
    X = indicators[crit].astype(float).copy()
    for c in crit:
        miss = X[c].isna()
        for code in indicators.loc[miss, "code"]:
            findings.append(Finding("warning", "zoning.centres.missing_value", "township", str(code), c, {}))
        X[c] = X[c].fillna(X[c].min() if X[c].notna().any() else 0.0)
    cr = None
    if ahp is not None:
        a = ahp_weights(ahp, config=cfg)
        if isinstance(ahp, pd.DataFrame):
            missing = [c for c in ahp.index if c not in crit]
            if missing:
                raise ValueError(f"AHP matrix names criteria not in the indicators: {missing}")
            w = pd.Series(a.weights, index=list(ahp.index)).reindex(crit).fillna(0.0)
        else:
            if len(a.weights) != len(crit):
                raise ValueError(f"AHP matrix has {len(a.weights)} rows; the criteria are {crit}")
            w = pd.Series(a.weights, index=crit)
        method, cr = "ahp", a.cr
    elif isinstance(weights, str):
        if weights != "entropy":
            raise ValueError(f"weights must be 'entropy', a dict, or use ahp=; got {weights!r}")
        w = pd.Series(entropy_weights(X.to_numpy()), index=crit)
        method = "entropy"
    else:
        unknown = [k for k in weights if k not in crit]
        if unknown:
            raise ValueError(f"weights name criteria not in the indicators: {unknown}; available: {crit}")
        w = pd.Series({c: float(weights.get(c, 0.0)) for c in crit})
        if w.sum() <= 0 or (w < 0).any():
            raise ValueError("weights must be ≥ 0 and not all 0")
        w = w / w.sum()
        method = "user"
    score = topsis(X.to_numpy(), w.to_numpy())
    table = indicators[["code"]].copy()
    for c in crit:
        table[c] = X[c].to_numpy()
    table["score"] = score
    table["rank"] = table["score"].rank(ascending=False, method="min").astype(int)
    table = pd.concat([table, benchmark_ratios(table, cfg)], axis=1)
    return CentreScores(table, w, method, cr, findings)


def benchmark_ratios(table: pd.DataFrame, config: Config | None = None) -> pd.DataFrame:
    """Each unit against the 100 central towns' averages (3.76万 people, 3.81 km², 27.21亿)
    and the all-town averages; ``meets_centre_average`` when all present ratios are ≥ 1."""
    cfg = config or load_config()
    pairs = {"population": ("zoning.benchmark_centre_town_population", "zoning.benchmark_town_population"),
             "built_up_km2": ("zoning.benchmark_centre_town_builtup_km2", "zoning.benchmark_town_builtup_km2"),
             "gdp_yi": ("zoning.benchmark_centre_town_gdp_yi", "zoning.benchmark_town_gdp_yi")}
    out = pd.DataFrame(index=table.index)
    have = []
    for col, (kc, kt) in pairs.items():
        if col in table.columns:
            out[f"{col}_vs_centre_towns"] = table[col] / float(cfg[kc])
            out[f"{col}_vs_all_towns"] = table[col] / float(cfg[kt])
            have.append(f"{col}_vs_centre_towns")
    out["meets_centre_average"] = (out[have] >= 1.0).all(axis=1) if have else False
    return out


def township_hierarchy(units: pd.DataFrame, assignment: pd.Series, *, code: str = "code", kind: str | None = "kind",
                       county_seat: str | list[str] | None = "is_county_seat",
                       scores: CentreScores | None = None) -> tuple[pd.DataFrame, list[Finding]]:
    """Tier of each township: ``county_seat`` / ``central_town`` / ``general_town``.

    assignment: unit code → centre code (``ZoningResult.assignment``). A zone centre that is a
    乡 (not a 建制镇) gets a warning: a 中心镇 is a 建制镇 by definition (domain.md §3).
    """
    codes = units[code].astype(str)
    if isinstance(county_seat, str) and county_seat in units.columns:
        seat = set(codes[units[county_seat].fillna(False).astype(bool)])
    elif isinstance(county_seat, (list, tuple, set)):
        seat = set(map(str, county_seat))
    else:
        seat = set()
    centres = set(assignment.to_numpy())
    tier = np.where(codes.isin(seat), "county_seat", np.where(codes.isin(centres), "central_town", "general_town"))
    out = pd.DataFrame({"code": codes.to_numpy(), "tier": tier,
                        "zone_centre": codes.map(assignment).fillna("").to_numpy(),
                        "is_centre": codes.isin(centres).to_numpy()})
    if scores is not None:
        s = scores.table.set_index("code")
        out["score"] = out["code"].map(s["score"])
        out["rank"] = out["code"].map(s["rank"])
    findings = []
    if kind and kind in units.columns:
        k = dict(zip(codes, units[kind].astype(str)))
        for c in sorted(centres):
            if k.get(c) == "乡":
                findings.append(Finding("warning", "zoning.hierarchy.centre_is_xiang", "township", c, "kind", {}))
    return out, findings


def village_hierarchy(villages: pd.DataFrame, assignment: pd.Series, *, code: str = "code",
                      village_class: str | None = "village_class") -> tuple[pd.DataFrame, list[Finding]]:
    """Tier of each village: ``central_village`` / ``general_village`` with its class; a
    搬迁撤并 village that is a centre is an error (it is never a 中心村)."""
    codes = villages[code].astype(str)
    centres = set(assignment.to_numpy())
    cls = (villages[village_class].fillna("").astype(str).str.strip() if village_class and
           village_class in villages.columns else pd.Series("", index=villages.index))
    out = pd.DataFrame({"code": codes.to_numpy(),
                        "tier": np.where(codes.isin(centres), "central_village", "general_village"),
                        "village_class": cls.to_numpy(), "zone_centre": codes.map(assignment).fillna("").to_numpy()})
    findings = []
    for c, vc in zip(out["code"], out["village_class"]):
        if vc and vc not in VILLAGE_CLASSES:
            findings.append(Finding("warning", "zoning.hierarchy.unknown_class", "village", c, "village_class",
                                    {"value": vc}))
    for c in out.loc[(out["tier"] == "central_village") & (out["village_class"] == RELOCATE_CLASS), "code"]:
        findings.append(Finding("error", "zoning.hierarchy.relocate_centre", "village", c, "village_class", {}))
    return out, findings
