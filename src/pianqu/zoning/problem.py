"""One zoning instance as plain arrays, built (and checked) from the caller's inputs.

Every solver (exact MIP, heuristic, brute force in the tests) reads the same :class:`Problem`:
unit codes, population weights, the travel-time matrix, the contiguity graph, and the
planner's constraints turned into arrays: which units may be centres, which must be, which
unit is locked to which centre, groups to keep together, bounds on zone population and size,
the cost of opening each unit as a centre (``open_cost``, person-seconds: the weakness of a
centre weighed against access, :mod:`pianqu.zoning.strength`; zero for access alone),
and ``allowed[i, j]`` — whether unit ``i`` may belong to the zone centred at unit ``j``.
``allowed`` already folds in the county border, locks, fixed centres, the travel-time cap and
reachability through units that may themselves join ``j``, so solvers prune with it freely.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Mapping

import geopandas as gpd
import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse.csgraph import breadth_first_order, connected_components, shortest_path

from pianqu.findings import Finding
from pianqu.zoning.contiguity import Adjacency, adjacency as build_adjacency

RELOCATE_CLASS = "搬迁撤并"  # village class that is never a centre (domain.md §5 F25)


@dataclass
class Problem:
    codes: np.ndarray
    pop: np.ndarray
    T: np.ndarray
    edges: np.ndarray  # (m, 2) undirected links, i < j
    p: int
    candidate: np.ndarray
    fixed: np.ndarray
    locked: np.ndarray  # centre index per unit, -1 when free
    groups: list[np.ndarray]
    county: np.ndarray  # integer county label per unit
    county_codes: np.ndarray
    pop_lo: float = 0.0
    pop_hi: float = np.inf
    mem_lo: int = 1
    mem_hi: int = 10**9
    max_travel_s: float = np.inf
    layer: str = "township"
    allowed: np.ndarray = field(default=None)  # type: ignore[assignment]
    relocate: np.ndarray = field(default=None)  # type: ignore[assignment]  搬迁撤并 units
    forbidden: np.ndarray = field(default=None)  # type: ignore[assignment]
    user_fixed: np.ndarray = field(default=None)  # type: ignore[assignment]  fixed by the caller
    open_cost: np.ndarray = field(default=None)  # type: ignore[assignment]  person-seconds per opened centre
    input_findings: list[Finding] = field(default_factory=list)

    @property
    def n(self) -> int:
        return len(self.codes)

    @property
    def cost(self) -> np.ndarray:
        """Population-weighted travel seconds of unit i to centre j; inf where not allowed."""
        c = self.pop[:, None] * np.where(np.isfinite(self.T), self.T, 0.0)
        return np.where(self.allowed, c, np.inf)

    def csr(self) -> sparse.csr_matrix:
        i, j = self.edges[:, 0], self.edges[:, 1]
        m = sparse.coo_matrix((np.ones(2 * len(i)), (np.r_[i, j], np.r_[j, i])), shape=(self.n, self.n)).tocsr()
        m.data[:] = 1.0
        return m

    def neighbours(self) -> list[np.ndarray]:
        m = self.csr()
        return [m.indices[m.indptr[k]:m.indptr[k + 1]] for k in range(self.n)]

    def index(self, code: str) -> int:
        return int(self._pos[code])

    def __post_init__(self) -> None:
        self._pos = {c: k for k, c in enumerate(self.codes)}
        if self.open_cost is None:
            self.open_cost = np.zeros(len(self.codes))

    def objective(self, centre_of: np.ndarray) -> float:
        """Σ w_i T[i, centre(i)] + Σ open_cost of the opened centres, for a centre index per
        unit: what every solver minimises."""
        t = self.T[np.arange(self.n), centre_of]
        access = float(np.sum(self.pop * np.where(self.pop > 0, t, 0.0)))
        return access + float(self.open_cost[np.unique(centre_of)].sum())


def _codes_in(values: Iterable, pos: Mapping[str, int], what: str, layer: str) -> np.ndarray:
    out = []
    for v in values:
        s = str(v)
        if s not in pos:
            raise ValueError(f"{what}: unit '{s}' is not among the {layer} units; check the code")
        out.append(pos[s])
    return np.asarray(out, dtype=np.int64)


def make_problem(units: gpd.GeoDataFrame | pd.DataFrame, travel_s: np.ndarray, p: int, *,
                 code: str = "code", population: str = "population", county: str | None = "county_code",
                 candidates: Iterable[str] | str | None = None, fixed_centres: Iterable[str] = (),
                 forbidden_centres: Iterable[str] = (), locked: Mapping[str, str] | None = None,
                 pop_bounds: tuple[float | None, float | None] | None = None,
                 member_bounds: tuple[int | None, int | None] | None = None,
                 keep_together: Iterable[Iterable[str]] = (), max_travel_s: float | None = None,
                 adjacency: Adjacency | None = None, village_class: str | None = "village_class",
                 layer: str = "township", open_cost: Mapping[str, float] | None = None) -> Problem:
    """Check the inputs and build the :class:`Problem`; bad input raises ``ValueError`` naming
    the layer, unit and field. Infeasible but well-formed constraints are *not* errors here:
    :mod:`pianqu.zoning.explain` reports them."""
    for col in (code, population):
        if col not in units.columns:
            raise ValueError(f"{layer}: no column '{col}'; columns are {list(units.columns)}")
    codes = units[code].astype(str).to_numpy()
    n = len(codes)
    if n == 0:
        raise ValueError(f"{layer}: no units to zone")
    pos = {c: k for k, c in enumerate(codes)}
    if len(pos) != n:
        dup = pd.Series(codes)[pd.Series(codes).duplicated()].iloc[0]
        raise ValueError(f"{layer}: unit code '{dup}' appears more than once in field '{code}'")
    pop = pd.to_numeric(units[population], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(pop) | (pop < 0)
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{layer}: unit '{codes[k]}' field '{population}' is {units[population].iloc[k]!r}; "
                         "population must be a number ≥ 0")
    T = np.asarray(travel_s, dtype=float)
    if T.shape != (n, n):
        raise ValueError(f"travel_s has shape {T.shape}; expected ({n}, {n}), rows and columns in the order of "
                         f"the {layer} units")
    if np.isnan(T).any():
        i, j = np.argwhere(np.isnan(T))[0]
        raise ValueError(f"travel_s[{i}, {j}] ({codes[i]} → {codes[j]}) is NaN; use inf for 'no road'")
    if (T < 0).any():
        i, j = np.argwhere(T < 0)[0]
        raise ValueError(f"travel_s[{i}, {j}] ({codes[i]} → {codes[j]}) is negative")
    if not isinstance(p, (int, np.integer)) or p < 1:
        raise ValueError(f"p (number of zones) must be a positive integer, got {p!r}")
    if adjacency is None:
        if not isinstance(units, gpd.GeoDataFrame):
            raise ValueError(f"{layer}: give polygons (a GeoDataFrame) or an `adjacency` for contiguity")
        adjacency = build_adjacency(units, code=code, county=county, travel_s=T, layer=layer)
    if list(adjacency.codes) != list(codes):
        raise ValueError("adjacency was built for other units (or another order); rebuild it from these units")
    edges = adjacency.edges[["i", "j"]].to_numpy(dtype=np.int64).reshape(-1, 2)

    if county and county in units.columns:
        county_codes, cty = np.unique(units[county].astype(str).to_numpy(), return_inverse=True)
    else:
        county_codes, cty = np.asarray([""]), np.zeros(n, dtype=np.int64)

    if candidates is None:
        cand = np.ones(n, dtype=bool)
    elif isinstance(candidates, str):
        if candidates not in units.columns:
            raise ValueError(f"{layer}: candidates='{candidates}' is not a column; give a boolean column or codes")
        cand = units[candidates].fillna(False).astype(bool).to_numpy()
    else:
        cand = np.zeros(n, dtype=bool)
        cand[_codes_in(candidates, pos, "candidates", layer)] = True
    fixed = np.zeros(n, dtype=bool)
    fixed[_codes_in(fixed_centres, pos, "fixed_centres", layer)] = True
    forbidden = np.zeros(n, dtype=bool)
    forbidden[_codes_in(forbidden_centres, pos, "forbidden_centres", layer)] = True
    relocate = np.zeros(n, dtype=bool)
    if village_class and village_class in units.columns:
        relocate = units[village_class].astype(str).str.strip().eq(RELOCATE_CLASS).to_numpy()
    user_fixed = fixed.copy()
    lock = np.full(n, -1, dtype=np.int64)
    for u, c in (locked or {}).items():
        ui = _codes_in([u], pos, "locked (unit)", layer)[0]
        ci = _codes_in([c], pos, f"locked ({u} → centre)", layer)[0]
        lock[ui] = ci
    fixed[lock[lock >= 0]] = True  # a centre something is locked to is a fixed centre
    cand |= fixed  # a fixed centre is a candidate (explain reports it if it is also forbidden)
    cand &= ~(forbidden | relocate) | fixed
    groups = [_codes_in(g, pos, "keep_together", layer) for g in keep_together]
    groups = [g for g in groups if len(g) > 1]

    opening = np.zeros(n)
    for u, v in (open_cost or {}).items():
        k = _codes_in([u], pos, "open_cost", layer)[0]
        opening[k] = float(v)
        if not np.isfinite(opening[k]) or opening[k] < 0:
            raise ValueError(f"open_cost of unit '{u}' is {v!r}; it must be a number ≥ 0")
    lo, hi = (pop_bounds or (None, None))
    mlo, mhi = (member_bounds or (None, None))
    prob = Problem(codes=codes, pop=pop, T=T, edges=edges, p=int(p), candidate=cand, fixed=fixed, locked=lock,
                   groups=groups, county=cty, county_codes=county_codes,
                   pop_lo=float(lo or 0.0), pop_hi=float(hi) if hi is not None else np.inf,
                   mem_lo=int(mlo or 1), mem_hi=int(mhi) if mhi is not None else 10**9,
                   max_travel_s=float(max_travel_s) if max_travel_s is not None else np.inf,
                   layer=layer, relocate=relocate, forbidden=forbidden, user_fixed=user_fixed,
                   open_cost=opening, input_findings=list(adjacency.findings))
    prob.allowed = allowed_matrix(prob)
    return prob


def allowed_matrix(prob: Problem) -> np.ndarray:
    """``allowed[i, j]``: unit i may join the zone centred at j (see module docstring)."""
    n = prob.n
    same = prob.county[:, None] == prob.county[None, :]
    base = same & np.isfinite(prob.T) & (prob.T <= prob.max_travel_s) & prob.candidate[None, :]
    eye = np.eye(n, dtype=bool)
    base |= eye & prob.candidate[None, :]
    for u in np.flatnonzero(prob.locked >= 0):
        c = prob.locked[u]
        row = np.zeros(n, dtype=bool)
        row[c] = base[u, c] or u == c
        base[u] = row
    for f in np.flatnonzero(prob.fixed):
        base[f] = eye[f] & prob.candidate[f]
    for g in prob.groups:
        common = base[g].all(axis=0)
        base[g] = common
        for c in g:  # a member may still be its own zone's centre only if all can join it
            base[c, c] = common[c]
    return reachable(prob, base)


def reachable(prob: Problem, base: np.ndarray) -> np.ndarray:
    """``base`` with every pair (i, j) dropped where i cannot reach j through units that may
    themselves join j (``base[:, j]``), or only in more steps than a zone has members
    (``mem_hi``: a zone holds the whole path), and every column j whose centre pair (j, j) is
    not in ``base``. Used for ``allowed`` and for any tighter set of pairs a solver keeps."""
    adj = prob.csr()
    _, comp = connected_components(adj, directed=False)
    out = np.zeros_like(base)
    max_hops = prob.mem_hi - 1 if prob.mem_hi < prob.n else None
    hops_all = shortest_path(adj, unweighted=True, directed=False) if max_hops is not None else None
    for j in np.flatnonzero(base.any(axis=0)):
        mask = base[:, j]
        if not mask[j]:
            continue
        if np.all(mask[comp == comp[j]]):  # every unit of j's component may join j
            out[:, j] = mask & (comp == comp[j])
            if hops_all is not None:
                out[:, j] &= hops_all[j] <= max_hops
            continue
        keep = np.flatnonzero(mask)
        sub = adj[keep][:, keep]
        root = int(np.searchsorted(keep, j))
        if max_hops is None:
            order = breadth_first_order(sub, root, directed=False, return_predecessors=False)
            out[keep[order], j] = True
        else:
            hops = shortest_path(sub, unweighted=True, directed=False, indices=root)
            out[keep[hops <= max_hops], j] = True
    return out
