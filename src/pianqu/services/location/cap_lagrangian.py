"""Capacitated p-median (single source): Lagrangian bound and Lagrangian heuristic.

Relaxing "every demand is assigned once" with multipliers lambda leaves one 0-1 knapsack
per site (Mulvey & Beck 1984; Lorena & Senne 2004):

    L(lambda) = sum_i lambda_i + min_{|S| = p, S >= fixed} sum_{j in S} rho_j,
    rho_j = - max { sum_i (lambda_i - c_ij) x_i : sum_i q_i x_i <= Q_j, x binary },

a valid lower bound for every lambda.  The knapsacks are first solved as LPs (Dantzig's
bound: a few array operations for all sites at once, and still a valid bound, as good as
the LP of the strong formulation), then, near the best multipliers, exactly for the sites
that can enter S, which lifts the bound above that LP.  Exact knapsacks use the demands
rounded down to ``units`` steps of the capacity: a relaxation, so the bound stays valid.

The heuristic turns the sites S of the relaxation into solutions: demands assigned by
regret (the demand that would lose most if its best site filled up goes first), then
shift and swap moves between open sites within capacity, then site swaps (close one site,
open a promising closed one, re-assign).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse

from pianqu.services.location.highs_model import INF, solve_mip
from pianqu.services.location.result import integral_data


# -- knapsacks ---------------------------------------------------------------------------
def knapsack_lp(profit: np.ndarray, q: np.ndarray, cap: np.ndarray) -> tuple[np.ndarray, tuple]:
    """LP (fractional) knapsack of every site at once: items i with ``profit[i, j] > 0``,
    weights ``q``, capacities ``cap``.  Greedy by profit per unit of weight, the break item
    taken fractionally (Dantzig).  Only the items with a profit are handled (usually a few
    per demand), in one flat array grouped by site.  Returns (value per site, (demand,
    site, x) of the items taken)."""
    k = profit.shape[1]
    i, j = np.nonzero(profit > 0)
    v = profit[i, j]
    with np.errstate(divide="ignore"):
        ratio = v / q[i]  # weightless items with a profit: inf, packed first
    o = np.lexsort((-ratio, j))
    i, j, v = i[o], j[o], v[o]
    w = q[i]
    before = np.cumsum(w) - w
    starts = np.searchsorted(j, np.arange(k))
    before -= np.r_[before, 0.0][starts][j]  # weight packed before each item, within its site
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.where(w > 0, np.clip((cap[j] - before) / w, 0.0, 1.0), 1.0)
    return np.bincount(j, weights=frac * v, minlength=k), (i, j, frac)


def knapsack_01(profit: np.ndarray, q: np.ndarray, cap: float, units: int = 2000) -> tuple[float, np.ndarray]:
    """An upper bound on the 0-1 knapsack max{profit @ x : q @ x <= cap}, exact up to weight
    rounding: weights become ``floor(q * s)`` with ``s = units / cap``, which only lets more
    sets fit, so the value never falls below the true optimum.  Returns (value, x bool)."""
    pos = np.flatnonzero(profit > 0)
    x = np.zeros(profit.size, dtype=bool)
    if pos.size == 0:
        return 0.0, x
    if q[pos].sum() <= cap:
        x[pos] = True
        return float(profit[pos].sum()), x
    s = units / max(cap, 1e-300)
    w = np.floor(q[pos] * s).astype(np.int64)
    C = int(np.floor(cap * s + 1e-9))
    if w.sum() <= C:  # everything fits after rounding (the bound relaxes the capacity)
        x[pos] = True
        return float(profit[pos].sum()), x
    v = profit[pos]
    dp = np.zeros(C + 1)
    took = np.zeros((pos.size, C + 1), dtype=bool)
    for t in range(pos.size):
        wt = w[t]
        if wt > C:
            continue
        if wt == 0:
            dp += v[t]
            took[t] = True
            continue
        cand = dp[: C + 1 - wt] + v[t]
        better = cand > dp[wt:]
        dp[wt:][better] = cand[better]
        took[t, wt:] = better
    c = C
    for t in range(pos.size - 1, -1, -1):  # backtrack
        if took[t, c]:
            x[pos[t]] = True
            c -= w[t]
    return float(dp[C]), x


# -- the relaxation ------------------------------------------------------------------------
def _choose(rho: np.ndarray, p: int, fixed: np.ndarray, fixed_mask: np.ndarray) -> np.ndarray:
    """The fixed sites plus the p - |fixed| free sites with the smallest rho."""
    r = p - fixed.size
    if r <= 0:
        return fixed
    rest = np.where(fixed_mask, np.inf, rho)
    return np.concatenate([fixed, np.argpartition(rest, r - 1)[:r]])


def lagrangian_value(W: np.ndarray, q: np.ndarray, cap: np.ndarray, lam: np.ndarray, p: int,
                     fixed: np.ndarray, fixed_mask: np.ndarray, *, exact: bool,
                     units: int = 2000) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    """L(lambda) with LP knapsacks, or (``exact``) with 0-1 knapsacks for the sites that can
    be chosen.  Returns (value, sites S, x of S (n, |S|), rho of every site, LP or exact)."""
    profit = lam[:, None] - W
    val_lp, (ti, tj, tx) = knapsack_lp(profit, q, cap)
    rho = -val_lp

    def x_lp(S: np.ndarray) -> np.ndarray:
        col = np.full(W.shape[1], -1)
        col[S] = np.arange(S.size)
        X = np.zeros((W.shape[0], S.size))
        keep = col[tj] >= 0
        X[ti[keep], col[tj[keep]]] = tx[keep]
        return X

    if not exact:
        S = _choose(rho, p, fixed, fixed_mask)
        return float(lam.sum() + rho[S].sum()), S, x_lp(S), rho
    # exact knapsacks, lazily: rho_exact >= rho_lp, so once the p-th smallest exact value is
    # no larger than the next LP value, no other site can enter S
    rho_ex = rho.copy()
    done = np.zeros(W.shape[1], dtype=bool)
    xs: dict[int, np.ndarray] = {}
    for j in fixed:
        v, xj = knapsack_01(profit[:, j], q, cap[j], units)
        rho_ex[j], done[j], xs[int(j)] = -v, True, xj
    r = p - fixed.size
    order = np.argsort(np.where(fixed_mask, np.inf, rho), kind="stable")
    t = 0
    while r > 0 and t < order.size and not fixed_mask[order[t]]:
        j = int(order[t])
        v, xj = knapsack_01(profit[:, j], q, cap[j], units)
        rho_ex[j], done[j], xs[j] = -v, True, xj
        t += 1
        free_done = done & ~fixed_mask
        if free_done.sum() >= r:
            kth = np.sort(rho_ex[free_done])[r - 1]
            nxt = rho[order[t]] if t < order.size and not fixed_mask[order[t]] else np.inf
            if kth <= nxt:
                break
    cand = np.where(done, rho_ex, rho)  # not evaluated: the LP value is still a valid (lower) rho
    S = _choose(cand, p, fixed, fixed_mask)
    X = x_lp(S)
    for t, j in enumerate(S):
        if int(j) in xs:
            X[:, t] = xs[int(j)]
    return float(lam.sum() + cand[S].sum()), S, X, cand


@dataclass
class CapacitatedHeuristic:
    """Best solution and bound of :func:`lagrangian_heuristic`."""

    sites: np.ndarray | None
    assignment: np.ndarray | None  # per demand the site (index into the columns of W)
    objective: float
    lower_bound: float
    info: dict = field(default_factory=dict)


# -- assignment heuristics -----------------------------------------------------------------
def regret_assign(W: np.ndarray, q: np.ndarray, room: np.ndarray, sites: np.ndarray,
                  demands: np.ndarray | None = None) -> np.ndarray | None:
    """Single-source assignment of ``demands`` (default: all) to ``sites`` whose free
    capacities are ``room``, by regret: the demand with the largest cost difference between
    its best and second-best site that still has room goes first, to its best one.  Regrets
    are recomputed only when a site's room falls below some waiting demand (only then can a
    best or second site change).  Returns per demand of ``demands`` the site, or None when
    one no longer fits anywhere."""
    demands = np.arange(W.shape[0]) if demands is None else np.asarray(demands, dtype=np.int64)
    sub = W[np.ix_(demands, sites)]
    qd = q[demands]
    rem = np.asarray(room, dtype=float).copy()
    out = np.full(demands.size, -1, dtype=np.int64)
    left = np.ones(demands.size, dtype=bool)
    while left.any():
        idx = np.flatnonzero(left)
        c = np.where(qd[idx, None] <= rem[None, :] + 1e-9, sub[idx], np.inf)
        if sites.size > 1:
            two = np.partition(c, 1, axis=1)[:, :2]
            best, second = two[:, 0], two[:, 1]
        else:
            best, second = c[:, 0], np.full(idx.size, np.inf)
        if not np.isfinite(best).all():
            return None  # a demand fits nowhere any more
        regret = np.where(np.isfinite(second), second - best, np.inf)
        to = np.argmin(c, axis=1)
        order = np.lexsort((-qd[idx], -regret))  # largest regret first, ties: the heaviest
        waiting_max = np.maximum.accumulate(qd[idx][order][::-1])[::-1]  # largest demand from t on
        for n_done, t in enumerate(order):
            i, j = int(idx[t]), int(to[t])
            if qd[i] > rem[j] + 1e-9:
                break
            out[i] = sites[j]
            left[i] = False
            rem[j] -= qd[i]
            if n_done + 1 < order.size and rem[j] + 1e-9 < waiting_max[n_done + 1]:
                break
    return out


def improve_assignment(W: np.ndarray, q: np.ndarray, cap: np.ndarray, sites: np.ndarray,
                       assign: np.ndarray, *, swaps: bool = True, max_rounds: int = 500) -> np.ndarray:
    """Shift (one demand to another open site with room) and swap (two demands of different
    sites exchange them, both capacities kept) moves until none lowers the cost.  Each round
    computes every move's gain once and applies the improving ones that do not conflict,
    best first; swaps are tried only when no shift helps."""
    n = W.shape[0]
    pos = np.searchsorted(sites, assign)
    sub = W[:, sites]
    rows = np.arange(n)
    room = cap[sites] - np.bincount(pos, weights=q, minlength=sites.size)
    tol = 1e-12 * max(1.0, float(sub[rows, pos].sum()))
    for _ in range(max_rounds):
        cur = sub[rows, pos]
        d = sub - cur[:, None]
        d[q[:, None] > room[None, :] + 1e-9] = np.inf
        d[rows, pos] = np.inf
        to = np.argmin(d, axis=1)
        gain = d[rows, to]
        moved = False
        for i in np.flatnonzero(gain < -tol)[np.argsort(gain[gain < -tol], kind="stable")]:
            j = to[i]
            if q[i] <= room[j] + 1e-9:  # rooms change as moves are applied
                room[pos[i]] += q[i]
                room[j] -= q[i]
                pos[i] = j
                moved = True
        if moved:
            continue
        if not swaps:
            break
        cik = sub[:, pos]  # cik[i, k] = cost of demand i at demand k's site
        d_swap = cik + cik.T - cur[:, None] - cur[None, :]
        d_swap[np.tril_indices(n)] = np.inf
        d_swap[pos[:, None] == pos[None, :]] = np.inf
        ii, kk = np.nonzero(d_swap < -tol)
        if ii.size == 0:
            break
        used = np.zeros(n, dtype=bool)
        for t in np.argsort(d_swap[ii, kk], kind="stable"):
            i, k = ii[t], kk[t]
            if used[i] or used[k]:
                continue
            a, b = pos[i], pos[k]
            if room[a] + q[i] - q[k] < -1e-9 or room[b] + q[k] - q[i] < -1e-9:
                continue
            room[a] += q[i] - q[k]
            room[b] += q[k] - q[i]
            pos[i], pos[k] = b, a
            used[i] = used[k] = True
            moved = True
        if not moved:
            break
    return sites[pos]


def lp_assign(W: np.ndarray, q: np.ndarray, cap: np.ndarray, sites: np.ndarray,
              duals: dict | None = None) -> np.ndarray | None:
    """Transportation LP (demands split allowed) on ``sites``, rounded: a demand served by one
    site keeps it, the few split ones (at most one per site in a basic solution) go by regret
    into the room left.  None when even the LP is infeasible or the rounding fails.
    duals: when given, receives the LP value and the duals of "every demand assigned once"
    (``duals["value"]``, ``duals["u"]``): good multipliers for the relaxation."""
    n, ps = W.shape[0], sites.size
    nx = n * ps
    ii = np.repeat(np.arange(n), ps)
    jj = np.tile(np.arange(ps), n)
    A = sparse.csc_matrix((np.concatenate([np.ones(nx), q[ii]]), (np.concatenate([ii, n + jj]), np.tile(np.arange(nx), 2))),
                          shape=(n + ps, nx))
    out = solve_mip(W[:, sites].ravel(), A, np.r_[np.ones(n), np.full(ps, -INF)], np.r_[np.ones(n), cap[sites]],
                    np.zeros(nx), np.ones(nx), np.zeros(nx, dtype=bool), time_limit=30.0)
    if out.x is None:
        return None
    if duals is not None and out.row_dual is not None:
        duals["value"], duals["u"] = out.objective, out.row_dual[:n].copy()
    X = out.x.reshape(n, ps)
    whole = X.max(axis=1) >= 1.0 - 1e-7
    assign = np.full(n, -1, dtype=np.int64)
    assign[whole] = sites[np.argmax(X[whole], axis=1)]
    split = np.flatnonzero(~whole)
    if split.size:
        room = cap[sites] - np.bincount(np.searchsorted(sites, assign[whole]), weights=q[whole], minlength=ps)
        rest = regret_assign(W, q, room, sites, split)
        if rest is None:  # the caller falls back on regret over all demands
            return None
        assign[split] = rest
    return assign


def solution_from_sites(W: np.ndarray, q: np.ndarray, cap: np.ndarray, sites: np.ndarray, *,
                        lp: bool = True, duals: dict | None = None) -> tuple[float, np.ndarray | None]:
    """A capacity-feasible assignment to ``sites`` (rounded transportation LP, or regret when
    ``lp`` is False), improved by shifts and swaps: (cost, assignment) or (inf, None).
    ``duals`` as in :func:`lp_assign`."""
    sites = np.sort(np.asarray(sites, dtype=np.int64))
    if cap[sites].sum() + 1e-9 < q.sum():
        return np.inf, None
    a = lp_assign(W, q, cap, sites, duals) if lp else regret_assign(W, q, cap[sites], sites)
    if a is None and lp:
        a = regret_assign(W, q, cap[sites], sites)
    if a is None:
        return np.inf, None
    a = improve_assignment(W, q, cap, sites, a)
    return float(W[np.arange(W.shape[0]), a].sum()), a


def site_swaps(W: np.ndarray, q: np.ndarray, cap: np.ndarray, sites: np.ndarray, assign: np.ndarray,
               cost: float, fixed_mask: np.ndarray, promising: np.ndarray, *, deadline: float,
               candidates: int = 10) -> tuple[np.ndarray, np.ndarray, float]:
    """Site swaps: close an open (non-fixed) site r, open one of the ``candidates`` most
    promising closed sites j (``promising``: smaller is better, e.g. the Lagrangian rho).
    A swap is estimated by re-assigning only r's demands and those cheaper at j (regret,
    then shifts); a promising estimate is confirmed by a full assignment.  First improvement,
    until no swap helps or the deadline."""
    n = W.shape[0]
    rows = np.arange(n)
    improved = True
    while improved and time.perf_counter() < deadline:
        improved = False
        closed = np.setdiff1d(np.argsort(promising, kind="stable"), sites, assume_unique=True)
        closed = closed[~fixed_mask[closed]][:candidates]
        cur = W[rows, assign]
        for j in closed:
            for r in sites[~fixed_mask[sites]]:
                if time.perf_counter() > deadline:
                    return sites, assign, cost
                trial = np.sort(np.concatenate([sites[sites != r], [j]]))
                if cap[trial].sum() + 1e-9 < q.sum():
                    continue
                moving = (assign == r) | (W[:, j] < cur)
                stay = ~moving
                room = cap[trial] - np.bincount(np.searchsorted(trial, assign[stay]), weights=q[stay],
                                                minlength=trial.size)
                part = regret_assign(W, q, room, trial, np.flatnonzero(moving))
                if part is None:
                    continue
                a = assign.copy()
                a[moving] = part
                a = improve_assignment(W, q, cap, trial, a, swaps=False)
                est = float(W[rows, a].sum())
                if est < cost - 1e-9 * max(1.0, abs(cost)):
                    a = improve_assignment(W, q, cap, trial, a)
                    c_lp, a_lp = solution_from_sites(W, q, cap, trial)  # the full assignment, to confirm
                    if c_lp < float(W[rows, a].sum()):
                        a = a_lp
                    sites, assign, cost, improved = trial, a, float(W[rows, a].sum()), True
                    break
            if improved:
                break
    return sites, assign, cost


# -- the whole heuristic ---------------------------------------------------------------------
def lagrangian_heuristic(
    W: np.ndarray,
    q: np.ndarray,
    cap: np.ndarray,
    p: int,
    fixed: np.ndarray,
    *,
    time_limit: float = 10.0,
    starts: list[np.ndarray] = (),
    iterations: int = 300,
    exact_iterations: int = 30,
    heuristic_every: int = 10,
    heuristic_within: float = 0.05,
    step0: float = 2.0,
    patience: int = 10,
    units: int = 2000,
    swap_candidates: int = 10,
    integral: bool | None = None,
) -> CapacitatedHeuristic:
    """Subgradient ascent on L(lambda) (LP knapsacks, then ``exact_iterations`` with 0-1
    knapsacks from the best multipliers); the relaxation's sites become a solution every
    ``heuristic_every`` iterations once the bound is within ``heuristic_within`` of the
    incumbent (and ``starts`` are tried first); then site swaps on the best solution.
    Stops when the bound meets the incumbent (integral data: within 1) or at ``time_limit``.
    ``integral``: whether ``W`` is integral (worked out when not given)."""
    t0 = time.perf_counter()
    deadline = t0 + time_limit
    n, k = W.shape
    fixed = np.asarray(fixed, dtype=np.int64)
    fixed_mask = np.zeros(k, dtype=bool)
    fixed_mask[fixed] = True
    integral = integral_data(W) if integral is None else bool(integral)
    best = CapacitatedHeuristic(None, None, np.inf, -np.inf, {})
    tried: set[bytes] = set()

    lp_duals: list[dict] = []

    def try_sites(S: np.ndarray) -> None:
        S = np.sort(np.asarray(S, dtype=np.int64))
        key = S.tobytes()
        if key in tried:
            return
        tried.add(key)
        d: dict = {}
        c, a = solution_from_sites(W, q, cap, S, duals=d)
        if d:
            lp_duals.append(d)
        if c < best.objective:
            best.sites, best.assignment, best.objective = S, a, c

    for s in starts:
        try_sites(s)

    def closed_gap() -> bool:
        if not np.isfinite(best.objective):
            return False
        margin = 1.0 - 1e-9 if integral else 1e-9 * max(1.0, abs(best.objective))
        return best.lower_bound > best.objective - margin

    # multipliers start at the duals of the start's transportation LP (when every site is
    # fixed open they are optimal for the LP knapsacks), else just above each demand's
    # cheapest cost
    if lp_duals:
        lam = min(lp_duals, key=lambda d: d["value"])["u"]
    else:
        lam = W.min(axis=1) + 1e-3 * (np.ptp(W, axis=1) + 1.0)
    best_lam, best_rho = lam.copy(), None
    mu, stall, it_lp, it_ex = step0, 0, 0, 0
    phase = "lp"
    while time.perf_counter() < deadline and not closed_gap():
        if phase == "lp" and (it_lp >= iterations or mu < 5e-3):
            phase, lam, mu, stall = "exact", best_lam.copy(), 0.25, 0
        if phase == "exact" and (it_ex >= exact_iterations or mu < 5e-3):
            break
        val, S, X, rho = lagrangian_value(W, q, cap, lam, p, fixed, fixed_mask, exact=phase == "exact", units=units)
        it = it_lp + it_ex
        if phase == "lp":
            it_lp += 1
        else:
            it_ex += 1
        if val > best.lower_bound + 1e-9 * max(1.0, abs(val)):
            best.lower_bound, best_lam, best_rho, stall = val, lam.copy(), rho, 0
        else:
            stall += 1
            if stall >= patience:
                mu, stall = mu / 2.0, 0
        near = not np.isfinite(best.objective) or val >= (1.0 - heuristic_within) * best.objective
        if it % heuristic_every == 0 and near:
            try_sites(S)
        g = 1.0 - X.sum(axis=1)
        norm = float(g @ g)
        if norm < 1e-12:
            if phase == "lp":
                it_lp = iterations  # on to the exact knapsacks
                continue
            break  # the relaxed solution assigns everyone once: L is the optimum of this lambda
        target = best.objective if np.isfinite(best.objective) else abs(val) * 1.05 + 1.0
        lam = lam + mu * max(target - val, 1e-9 * max(1.0, abs(target))) / norm * g
    info = {"lagrangian_iterations": it_lp, "exact_knapsack_iterations": it_ex, "site_sets_tried": len(tried),
            "t_lagrangian": time.perf_counter() - t0}
    if best.sites is None and best_rho is not None:
        try_sites(_choose(best_rho, p, fixed, fixed_mask))
    if best.sites is not None and not closed_gap():
        rank = best_rho if best_rho is not None else W.sum(axis=0)
        s, a, c = site_swaps(W, q, cap, best.sites, best.assignment, best.objective, fixed_mask, rank,
                             deadline=deadline, candidates=swap_candidates)
        best.sites, best.assignment, best.objective = s, a, c
    if integral and np.isfinite(best.lower_bound):
        best.lower_bound = float(np.ceil(best.lower_bound - 1e-7 * max(1.0, abs(best.lower_bound))))
    best.lower_bound = min(best.lower_bound, best.objective)
    info.update(t_total=time.perf_counter() - t0, multipliers=best_lam)
    best.info = info
    return best


# -- every site open: the generalised assignment problem ---------------------------------------
def knapsack_assignment(W: np.ndarray, q: np.ndarray, cap: np.ndarray, X: np.ndarray) -> np.ndarray | None:
    """A single-source assignment from the knapsacks of a relaxation (``X``: (demands, sites)
    taken, every site open): a demand taken by several knapsacks keeps its cheapest one, a
    site over capacity (the exact knapsacks round weights down) sheds its costliest demands
    per unit, and the demands left go by regret into the room left; then shifts and swaps.
    None when some demand then fits nowhere."""
    n, k = W.shape
    sites = np.arange(k)
    taken = X > 0.5
    assign = np.where(taken.any(axis=1), np.argmin(np.where(taken, W, np.inf), axis=1), -1)
    for j in np.flatnonzero(np.bincount(assign[assign >= 0], weights=q[assign >= 0], minlength=k) > cap + 1e-9):
        mine = np.flatnonzero(assign == j)
        mine = mine[np.argsort(W[mine, j] / np.maximum(q[mine], 1e-12), kind="stable")]  # cheapest per unit first
        assign[mine[np.cumsum(q[mine]) > cap[j] + 1e-9]] = -1
    rest = np.flatnonzero(assign < 0)
    if rest.size:
        room = cap - np.bincount(assign[assign >= 0], weights=q[assign >= 0], minlength=k)
        part = regret_assign(W, q, room, sites, rest)
        if part is None:
            return None
        assign[rest] = part
    return improve_assignment(W, q, cap, sites, assign)


def generalized_assignment(
    W: np.ndarray,
    q: np.ndarray,
    cap: np.ndarray,
    *,
    time_limit: float = 5.0,
    iterations: int = 400,
    heuristic_every: int = 3,
    step0: float = 1.0,
    patience: int = 6,
    units: int = 4000,
) -> CapacitatedHeuristic:
    """Every site open (the capacitated p-median with p = sites, all fixed): each demand to
    one site within capacity at least cost ``W[i, j]``.  The same relaxation (one exact 0-1
    knapsack per site, :func:`lagrangian_value`) maximised by subgradient steps from the
    transportation LP's duals; every ``heuristic_every`` iterations its knapsacks become a
    solution (:func:`knapsack_assignment`, then the shift/swap moves).  ``lower_bound`` is the
    best of the LP value and the Lagrangian bound.  Callers wanting a solution always should
    give a site that can take every demand (e.g. a 'not served' column).  Stops when the bound
    meets the incumbent, after ``iterations`` or at ``time_limit``."""
    t0 = time.perf_counter()
    deadline = t0 + time_limit
    n, k = W.shape
    sites = np.arange(k)
    fixed_mask = np.ones(k, dtype=bool)
    duals: dict = {}
    ub, assign = solution_from_sites(W, q, cap, sites, duals=duals)
    best = CapacitatedHeuristic(sites, assign, ub, duals.get("value", -np.inf), {})
    lam = duals["u"].copy() if "u" in duals else W.min(axis=1) + 1e-3 * (np.ptp(W, axis=1) + 1.0)
    best_lam, mu, stall, it = lam.copy(), step0, 0, 0
    scale = max(1.0, abs(ub) if np.isfinite(ub) else float(np.abs(W).sum()))

    def closed() -> bool:
        return np.isfinite(best.objective) and best.lower_bound >= best.objective - 1e-9 * scale

    while it < iterations and time.perf_counter() < deadline and not closed() and mu > 1e-4:
        val, _, X, _ = lagrangian_value(W, q, cap, lam, k, sites, fixed_mask, exact=True, units=units)
        it += 1
        if val > best.lower_bound + 1e-12 * scale:
            best.lower_bound, best_lam, stall = val, lam.copy(), 0
        else:
            stall += 1
            if stall >= patience:
                mu, stall = mu / 2.0, 0
        if it % heuristic_every == 1 or heuristic_every == 1:
            a = knapsack_assignment(W, q, cap, X)
            if a is not None:
                c = float(W[np.arange(n), a].sum())
                if c < best.objective:
                    best.assignment, best.objective = a, c
        g = 1.0 - X.sum(axis=1)
        norm = float(g @ g)
        if norm < 1e-12:
            break  # the knapsacks assign every demand once: L is optimal for these multipliers
        target = best.objective if np.isfinite(best.objective) else abs(val) * 1.05 + 1.0
        lam = lam + mu * max(target - val, 1e-9 * scale) / norm * g
    best.lower_bound = min(best.lower_bound, best.objective)
    best.info = {"lagrangian_iterations": it, "lp_bound": duals.get("value", -np.inf), "multipliers": best_lam,
                 "t_total": time.perf_counter() - t0}
    return best
