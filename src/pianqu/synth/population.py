"""Population of townships and villages from the real 2020 census total of the county.

The census urban population lives in the county seat and the town seats (in 街道 and in 社区);
the rural population lives in the 村, more of it where there is flat land near the village
seat. Sums are exact (largest-remainder rounding): villages add up to their township and
townships to the census total; the county-seat township is always the most populous.
Households follow the county's census household size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pianqu.synth._util import split_integer


@dataclass
class Population:
    township: np.ndarray  # people per township row
    township_urban: np.ndarray  # urban people per township row
    village: np.ndarray  # people per village row
    village_urban: np.ndarray  # urban people per village row
    households: np.ndarray  # per village row
    total: int
    urban: int


def allocate(townships: pd.DataFrame, villages: pd.DataFrame, census: dict, seat_township: int,
             seat_village: np.ndarray, village_weight: np.ndarray, gen: np.random.Generator, *,
             seat_share_min: float = 0.55, floor_village: int = 80, max_village: float | None = None) -> Population:
    """Split the census total over townships and villages (see module doc).

    ``village_weight`` (per village row) scales each 村's share of its township's rural people
    (e.g. the farmland around its seat); ``seat_share_min`` is the smallest share of the urban
    population living in the county seat and the other 街道; ``max_village`` caps a village's
    people where the township's total allows (the excess goes to its other villages).
    """
    total, urban = int(census["population"]), int(census["urban"])
    urban = min(urban, total)
    rural = total - urban
    nt, nv = len(townships), len(villages)
    kinds = townships["kind"].to_numpy()
    tcode = townships["code"].to_numpy()
    vt = pd.Series(np.arange(nt), index=tcode)[villages["township_code"].to_numpy()].to_numpy()
    is_comm = (villages["kind"] == "社区").to_numpy()
    n_comm = np.bincount(vt[is_comm], minlength=nt)
    n_vill = np.bincount(vt[~is_comm], minlength=nt)

    # urban weights: the seat and other 街道 take a fixed share, towns share the rest
    jd = (kinds == "街道")
    jd[seat_township] = True
    n_jd = int(jd.sum())
    share = min(0.95, seat_share_min + 0.025 * (n_jd - 1)) if (~jd).any() else 1.0
    w_core = np.where(jd, 1.0, 0.0)
    w_core[seat_township] = 1.6
    w_town = np.where(kinds == "镇", gen.lognormal(0, 0.55, nt) * (1 + n_comm),
                      np.where(kinds == "乡", 0.25 * gen.lognormal(0, 0.4, nt), 0.04))
    w_town[jd] = 0.0
    u_core = int(round(urban * share))
    t_urban = split_integer(u_core, w_core) + split_integer(urban - u_core, w_town)

    # rural weights: the 村 of each township by their land
    vw = np.where(is_comm, 0.0, np.asarray(village_weight, dtype=float))
    w_rural = np.bincount(vt, weights=vw, minlength=nt)
    w_rural = np.where(n_vill == 0, 0.02 * np.maximum(n_comm, 1) * max(w_rural.mean(), 1e-6), w_rural)
    w_rural = np.where(kinds == "街道", 0.3 * w_rural, w_rural)
    w_rural = np.where(kinds == "其他", 0.2 * w_rural, w_rural)
    t_rural = split_integer(rural, w_rural)
    for _ in range(30):  # first lean on the seat's rural share
        t_pop = t_urban + t_rural
        others = np.delete(t_pop, seat_township)
        if not len(others) or t_pop[seat_township] > others.max():
            break
        w_rural[seat_township] = w_rural[seat_township] * 1.25 + 1e-9
        t_rural = split_integer(rural, w_rural)
    t_pop = t_urban + t_rural
    if nt > 1 and t_pop[seat_township] <= np.delete(t_pop, seat_township).max():
        # still not the largest (e.g. a district of 街道 with one big town): swap the urban
        # people of the seat and of the largest township, then, if need be, their rural people
        j = int(np.argmax(np.where(np.arange(nt) == seat_township, -1, t_pop)))
        t_urban[[seat_township, j]] = t_urban[[j, seat_township]]
        t_pop = t_urban + t_rural
        if t_pop[seat_township] <= t_pop[j]:
            t_rural[[seat_township, j]] = t_rural[[j, seat_township]]
            t_pop = t_urban + t_rural
        if t_pop[seat_township] <= np.delete(t_pop, seat_township).max():  # pragma: no cover
            raise RuntimeError("could not make the county-seat township the most populous")

    if max_village is not None:
        t_urban, t_rural = _fit_capacity(t_urban, t_rural, 0.85 * max_village * np.bincount(vt, minlength=nt),
                                         seat_township)

    v_pop = np.zeros(nv, dtype=np.int64)
    v_urb = np.zeros(nv, dtype=np.int64)
    for ti in range(nt):
        rows = np.flatnonzero(vt == ti)
        comm = rows[is_comm[rows]]
        vill = rows[~is_comm[rows]]
        sv = seat_village[ti]
        # urban people: the 社区 (the seat 社区 largest), else the seat village
        u_rows = comm if len(comm) else np.array([sv])
        if max_village is not None and t_urban[ti] > 0.85 * max_village * len(u_rows):
            u_rows = rows  # too many townspeople for its 社区: the town spreads over its villages
        uw = gen.lognormal(0, 0.35, len(u_rows)) * np.where(u_rows == sv, 2.0, 1.0)
        u_split = split_integer(int(t_urban[ti]), uw, floor=floor_village * 3 if t_urban[ti] > 0 else 0,
                                cap=None if max_village is None else 0.85 * max_village)
        # rural people: the 村, else the 社区
        r_rows = vill if len(vill) else comm
        rw = vw[r_rows] * gen.lognormal(0, 0.3, len(r_rows)) if len(vill) else np.ones(len(r_rows))
        r_cap = None
        if max_village is not None:  # rural people join 社区 that may already hold urban people
            r_cap = max(0.85 * max_village - (v_urb[r_rows].max() if len(r_rows) else 0), 0) or None
        r_split = split_integer(int(t_rural[ti]), rw, floor=floor_village, cap=r_cap)
        v_urb[u_rows] += u_split
        v_pop[u_rows] += u_split
        v_pop[r_rows] += r_split
    hh_size = total / max(int(census["households"]), 1)
    hh = np.maximum(1, np.round(v_pop / (hh_size * gen.lognormal(0, 0.08, nv)))).astype(np.int64)
    hh[v_pop == 0] = 0
    return Population(t_urban + t_rural, t_urban, v_pop, v_urb, hh, total, urban)


def village_classes(villages: pd.DataFrame, townships: pd.DataFrame, village_township: np.ndarray,
                    seat_xy: np.ndarray, town_xy: np.ndarray, county_seat_xy: np.ndarray, pop: Population,
                    seat_elev: np.ndarray, seat_slope: np.ndarray, cfg, gen: np.random.Generator) -> np.ndarray:
    """村庄分类 (domain.md §2.8) by rule: 城郊融合 near the county seat or in a 街道, 搬迁撤并 for
    the most remote, steep, high and small villages (``synth.relocation_share``), 特色保护 for a
    random few (``synth.heritage_share``), 集聚提升 for the rest."""
    nv = len(villages)
    out = np.full(nv, "集聚提升", dtype=object)
    d_seat = np.hypot(*(seat_xy - county_seat_xy).T)
    in_jd = (townships["kind"].to_numpy()[village_township] == "街道")
    suburban = (d_seat <= float(cfg["synth.suburban_radius_m"])) | in_jd
    out[suburban] = "城郊融合"
    is_village = (villages["kind"] != "社区").to_numpy()
    d_town = np.hypot(*(seat_xy - town_xy[village_township]).T)

    def rank(x: np.ndarray) -> np.ndarray:
        return np.argsort(np.argsort(x, kind="stable"), kind="stable") / max(len(x) - 1, 1)

    remote = rank(seat_elev) + rank(seat_slope) + rank(d_town) - 2.0 * rank(pop.village.astype(float))
    small = pop.village < np.median(pop.village[is_village]) if is_village.any() else np.zeros(nv, dtype=bool)
    cand = np.flatnonzero(is_village & ~suburban & small)
    n_rel = int(round(float(cfg["synth.relocation_share"]) * nv))
    rel = cand[np.argsort(-remote[cand], kind="stable")][:n_rel]
    out[rel] = "搬迁撤并"
    rest = np.flatnonzero(is_village & (out == "集聚提升"))
    n_her = min(len(rest), int(round(float(cfg["synth.heritage_share"]) * nv)))
    if n_her:
        her = gen.choice(rest, size=n_her, replace=False)
        out[her] = "特色保护"
    return out


def _fit_capacity(t_urban: np.ndarray, t_rural: np.ndarray, capacity: np.ndarray,
                  seat_township: int) -> tuple[np.ndarray, np.ndarray]:
    """Move people out of townships holding more than ``capacity`` (so no village has to hold an
    implausible number) into the others with room, urban people first; totals are kept. Left
    unchanged when the move would cost the county seat its place as the largest township."""
    tu, tr = t_urban.astype(np.int64).copy(), t_rural.astype(np.int64).copy()
    for _ in range(10):
        total = tu + tr
        excess = np.maximum(total - np.floor(capacity).astype(np.int64), 0)
        if not excess.any():
            break
        room = np.maximum(np.floor(capacity).astype(np.int64) - total, 0)
        moved = int(min(excess.sum(), room.sum()))
        if moved == 0:
            break
        take = split_integer(moved, excess.astype(float))
        take = np.minimum(take, excess)
        from_u = np.minimum(take, tu)
        from_r = take - from_u
        tu -= from_u
        tr -= from_r
        tu += split_integer(int(from_u.sum()), room.astype(float))  # townspeople stay townspeople
        tr += split_integer(int(from_r.sum()), room.astype(float))
    total = tu + tr
    if len(total) > 1 and total[seat_township] <= np.delete(total, seat_township).max():
        return t_urban, t_rural
    return tu, tr
