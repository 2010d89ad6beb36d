"""Supply–demand ratios by floating catchments: 2SFCA (Luo & Wang 2003) and E2SFCA with a
Gaussian or stepped distance decay (Luo & Qi 2009; Dai 2010), with facility capacities.

Stage 1: each facility j gets the ratio R_j = S_j / Σ_i P_i w(c_ij) over the demand points i
within its catchment (c_ij ≤ d_i). Stage 2: each demand point gets A_i = Σ_j R_j w(c_ij) over
the facilities within its catchment. w ≡ 1 is 2SFCA; a decaying w is E2SFCA. The same w is used
in both stages.

The definitions follow PySAL ``access`` (``Access.two_stage_fca`` and
``enhanced_two_stage_fca`` with ``weights.gaussian``/``weights.step_fn``): the catchment test
is ``cost <= max_cost``, the Gaussian is exp(−c²/2σ²) without normalisation, a step function
returns the value of the first threshold ≥ c (0 beyond the last). Where access leaves a value
undefined (a demand point with no facility in reach: NaN; a facility whose catchment holds no
population: inf), this module gives 0 and says so in ``reached`` / ``demand_in_catchment``.

Costs are a dense matrix (demand × facility, ``inf`` = no path) or, for province-size
instances, the pairs ``(rows, cols, cost)`` within reach; the work is two sparse sums, so a
million pairs take milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping

import numpy as np
import pandas as pd

from pianqu.config import Config
from pianqu.findings import Finding
from pianqu.services.common import ServicesInputError, config_of
from pianqu.services.coverage import as_costs, coverage_standards, service_limits

Weight = str | Mapping[float, float] | Callable[[np.ndarray], np.ndarray] | None


@dataclass(frozen=True)
class FcaResult:
    """access: A_i per demand point (supply per person); ratio: R_j per facility;
    demand_in_catchment: Σ P_i w_ij per facility; reached: demand points with a facility in
    their catchment; pairs: the number of demand–facility pairs within catchment."""

    access: np.ndarray
    ratio: np.ndarray
    demand_in_catchment: np.ndarray
    reached: np.ndarray
    pairs: int


def weight_function(weight: Weight, sigma: float | None = None) -> Callable[[np.ndarray], np.ndarray]:
    """A vectorised distance-decay function.

    ``None``/``"uniform"``: 1 (2SFCA); ``"gaussian"``: exp(−c²/(2σ²)) (needs ``sigma``);
    a mapping ``{threshold: weight}``: the weight of the first threshold ≥ c, 0 beyond the last
    (PySAL ``step_fn``); a callable: applied to the cost array as is.
    """
    if weight is None or weight == "uniform":
        return lambda c: np.ones_like(c, dtype=float)
    if isinstance(weight, str):
        if weight != "gaussian":
            raise ServicesInputError(f"unknown weight '{weight}'; use 'uniform', 'gaussian', a step mapping "
                                     "{threshold: weight} or a function")
        if sigma is None or not np.isfinite(sigma) or sigma <= 0:
            raise ServicesInputError("a Gaussian weight needs sigma > 0 (in the cost unit)")
        s2 = 2.0 * float(sigma) ** 2
        return lambda c: np.exp(-(c * c) / s2)
    if isinstance(weight, Mapping):
        if not weight:
            raise ServicesInputError("a step weight needs at least one {threshold: weight} entry")
        keys = np.array(sorted(weight), dtype=float)
        vals = np.array([weight[k] for k in sorted(weight)], dtype=float)
        if (vals < 0).any():
            raise ServicesInputError("step weights must be ≥ 0")
        ext = np.r_[vals, 0.0]
        return lambda c: ext[np.searchsorted(keys, c, side="left")]
    if callable(weight):
        return lambda c: np.asarray(weight(c), dtype=float)
    raise ServicesInputError(f"weight must be a name, a mapping or a function, got {type(weight).__name__}")


def _pairs(cost, n: int, m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if isinstance(cost, tuple) and len(cost) == 3:
        i, j, c = (np.asarray(a) for a in cost)
        i, j, c = i.astype(np.int64), j.astype(np.int64), c.astype(float)
        if not (len(i) == len(j) == len(c)):
            raise ServicesInputError("cost pairs (rows, cols, cost) must have equal lengths")
        if len(i) and (i.min() < 0 or i.max() >= n or j.min() < 0 or j.max() >= m):
            raise ServicesInputError(f"cost pairs refer to demand or facility indices outside (0..{n - 1}, 0..{m - 1})")
    else:
        a = np.asarray(cost, dtype=float)
        if a.shape != (n, m):
            raise ServicesInputError(f"cost matrix has shape {a.shape}; expected (demand, facilities) = ({n}, {m})")
        fin = np.isfinite(a)
        i, j = np.nonzero(fin)
        c = a[i, j]
    if np.isnan(c).any() or (c < 0).any():
        raise ServicesInputError("costs must be ≥ 0 (inf or absent pairs when unreachable)")
    return i, j, c


def fca(population, supply, cost, *, max_cost, weight: Weight = None, sigma: float | None = None) -> FcaResult:
    """Two-step floating catchment ratios.

    population: (n,) demand per point; supply: (m,) capacity per facility; cost: dense (n, m)
    or pairs ``(rows, cols, cost)``; max_cost: the catchment, one value or one per demand
    point (a pair counts when cost ≤ the demand point's catchment); weight/sigma: see
    :func:`weight_function`.
    """
    P = np.asarray(population, dtype=float).ravel()
    S = np.asarray(supply, dtype=float).ravel()
    n, m = len(P), len(S)
    if np.isnan(P).any() or (P < 0).any():
        raise ServicesInputError(f"population[{int(np.flatnonzero(np.isnan(P) | (P < 0))[0])}] must be a number ≥ 0")
    if np.isnan(S).any() or (S < 0).any():
        raise ServicesInputError(f"supply[{int(np.flatnonzero(np.isnan(S) | (S < 0))[0])}] must be a number ≥ 0 "
                                 "(the facility's capacity)")
    i, j, c = _pairs(cost, n, m)
    lim = np.asarray(max_cost, dtype=float)
    if lim.ndim == 0:
        keep = c <= float(lim)
    else:
        if lim.shape != (n,):
            raise ServicesInputError(f"max_cost has {lim.size} values for {n} demand points")
        keep = c <= lim[i]
    i, j, c = i[keep], j[keep], c[keep]
    w = weight_function(weight, sigma)(c)
    D = np.bincount(j, weights=P[i] * w, minlength=m)
    R = np.divide(S, D, out=np.zeros(m), where=D > 0)
    A = np.bincount(i, weights=R[j] * w, minlength=n)
    reached = np.bincount(i, minlength=n) > 0
    return FcaResult(A, R, D, reached, int(len(i)))


def two_sfca(population, supply, cost, *, max_cost) -> FcaResult:
    """2SFCA: uniform weight within the catchment."""
    return fca(population, supply, cost, max_cost=max_cost)


def gaussian_e2sfca(population, supply, cost, *, max_cost, sigma: float) -> FcaResult:
    """E2SFCA with the Gaussian decay exp(−c²/2σ²) within the catchment."""
    return fca(population, supply, cost, max_cost=max_cost, weight="gaussian", sigma=sigma)


def service_fca(demand: pd.DataFrame, facilities: pd.DataFrame, costs, service: str, *,
                method: str = "e2sfca", standards: pd.DataFrame | None = None,
                config: Config | None = None) -> tuple[pd.DataFrame, pd.DataFrame, list[Finding]]:
    """Supply–demand ratios of one service on a county's demand points and facilities.

    The catchment of each demand point is the service's coverage standard for its terrain;
    method ``"2sfca"`` (uniform) or ``"e2sfca"`` (Gaussian, σ = ``services.fca_gaussian_sigma_share``
    × the default catchment). Supply is the facility ``capacity`` (a facility without one
    counts as 1, with a finding).

    Returns (per demand point: code, zone, township_code, population, access, per_1000, reached;
    per facility: id, kind, capacity, demand_in_catchment, ratio; findings).
    """
    cfg = config_of(config)
    if method not in ("2sfca", "e2sfca"):
        raise ServicesInputError(f"method must be '2sfca' or 'e2sfca', got {method!r}")
    std = coverage_standards(cfg) if standards is None else standards
    terr = demand["terrain"].astype(str).tolist() if "terrain" in demand.columns else None
    mode, lim, rows = service_limits(std, service, terr, len(demand))
    cm = as_costs(costs, len(demand), len(facilities))
    findings: list[Finding] = []
    if mode not in cm:
        raise ServicesInputError(f"service '{service}' is measured in mode '{mode}' but no {mode} costs were given")
    sel = np.flatnonzero(facilities["kind"].astype(str).isin(rows["kinds"].iloc[0]).to_numpy())
    fac = facilities.iloc[sel]
    cap = pd.to_numeric(fac["capacity"], errors="coerce") if "capacity" in fac.columns else pd.Series(
        np.nan, index=fac.index)
    for fid in fac["id"][cap.isna().to_numpy()]:
        findings.append(Finding("warning", "services.no_capacity", "facility", str(fid), "capacity"))
    cap = cap.fillna(1.0).to_numpy(float)
    sigma = float(cfg["services.fca_gaussian_sigma_share"]) * float(
        rows.loc[rows["terrain"] == "*", "limit"].iloc[0])
    res = fca(demand["population"].to_numpy(float), cap, cm[mode][:, sel], max_cost=lim,
              weight=None if method == "2sfca" else "gaussian", sigma=sigma)
    per_point = pd.DataFrame({
        "code": demand["code"].astype(str).to_numpy(),
        "zone": demand["zone"].astype(str).to_numpy() if "zone" in demand.columns else "",
        "township_code": demand["township_code"].astype(str).to_numpy() if "township_code" in demand.columns else "",
        "population": demand["population"].to_numpy(float),
        "service": service, "method": method, "access": res.access, "per_1000": res.access * 1000.0,
        "reached": res.reached})
    per_fac = pd.DataFrame({"id": fac["id"].astype(str).to_numpy(), "kind": fac["kind"].astype(str).to_numpy(),
                            "capacity": cap, "demand_in_catchment": res.demand_in_catchment, "ratio": res.ratio})
    return per_point, per_fac, findings
