"""Where the county seat, the town seats and the village seats are.

Settlements sit in valleys: a cell's suitability falls with slope, with height above the
county's lowest ground and with distance to a river. The county seat is on the main river
near the middle of the county; other 街道 cluster around it; town seats are spread over the
county (weighted sampling with a minimum spacing); townships first get provisional regions
(geodesic Voronoi cells on the terrain, so ridges make borders) and village seats are then
spread inside their township, 社区 close to the town seat (in the county town, on its valley
floor) and 村 over the countryside.
Every seat is a cell centre of the road grid, so roads can end exactly at it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pianqu.synth._util import spaced_pick, weighted_order
from pianqu.synth.grid import CellGraph, inside_mask
from pianqu.synth.terrain import Terrain


@dataclass
class Seats:
    seat_township: int  # row of the county-seat township in ``townships``
    town_cell: np.ndarray  # flat cell of each township's seat
    seat_village: np.ndarray  # row (in ``villages``) of each township's seat village
    village_cell: np.ndarray  # flat cell of each village's seat
    prov_township: np.ndarray  # (ny, nx) provisional township row per cell, -1 outside
    road_mask: np.ndarray  # (ny, nx) cells wholly inside the county (routing grid)
    suit: np.ndarray  # (ny, nx) settlement suitability


def county_seat_township(townships: pd.DataFrame) -> int:
    """Row of the township holding the county seat: the first 街道, else the town coded
    ``…100`` (NBS lists the seat town first), else the first 镇, else the first row."""
    kinds = townships["kind"].to_numpy()
    codes = townships["code"].astype(str).to_numpy()
    jd = np.flatnonzero(kinds == "街道")
    if len(jd):
        return int(jd[np.argmin(codes[jd])])
    first = np.flatnonzero(np.char.endswith(codes.astype("U9"), "100"))
    if len(first):
        return int(first[0])
    zhen = np.flatnonzero(kinds == "镇")
    return int(zhen[np.argmin(codes[zhen])]) if len(zhen) else 0


def seat_village_of(villages: pd.DataFrame, township_code: str) -> int:
    """Row of the village holding the town seat: the first 社区 of the township, else its
    first village."""
    sub = villages.index[villages["township_code"] == township_code]
    comm = [i for i in sub if villages.at[i, "kind"] == "社区"]
    return int(min(comm, key=lambda i: villages.at[i, "code"]) if comm
               else min(sub, key=lambda i: villages.at[i, "code"]))


def suitability(t: Terrain) -> np.ndarray:
    """Settlement suitability per cell in [0, 1]: flat, low, near (not on) a river."""
    z = t.elev
    zin = z[t.inside]
    rel = (z - zin.min()) / max(np.ptp(zin), 1.0)
    s = np.exp(-t.slope / 6.0) * (0.25 + np.exp(-t.river_dist / 500.0)) * np.exp(-1.8 * rel)
    s[t.river] *= 0.05
    s[~t.inside] = 0.0
    return s / max(s.max(), 1e-12)


def place_seats(t: Terrain, townships: pd.DataFrame, villages: pd.DataFrame,
                gen: np.random.Generator, *, community_rise_m: float = 120.0) -> Seats:
    """Choose every seat (see module doc). ``townships``/``villages`` are the real rows of the
    county (``pianqu.divisions``), index 0..n-1. A 社区 seat of the county seat's township or of
    a 街道 stands at most ``community_rise_m`` above its town seat (a generator knob: the county
    town's neighbourhoods share its valley floor) unless too few cells are that low."""
    grid = t.grid
    road_mask = inside_mask(grid, t.county, whole_cell=True)
    if road_mask.sum() < max(50, len(villages) * 2):
        road_mask = t.inside.copy()
    suit = suitability(t)
    gx, gy = grid.centers()
    cand = np.flatnonzero((road_mask & ~t.river & (t.slope < 30)).ravel())
    if len(cand) < len(villages) + len(townships):
        cand = np.flatnonzero(road_mask.ravel())
    cxy = grid.xy(cand)
    csuit = suit.ravel()[cand]
    area_m2 = t.inside.sum() * grid.cell ** 2
    centre = np.array([gx[t.inside].mean(), gy[t.inside].mean()])
    radius = np.sqrt(area_m2 / np.pi)

    # county seat: beside a big river, flat, near the middle
    acc_near = t.acc_km2.ravel()[t.river_near.ravel()[cand]]
    d_centre = np.hypot(*(cxy - centre).T)
    score = (csuit * np.sqrt(acc_near) * np.exp(-(d_centre / (0.45 * radius)) ** 2)
             * (t.river_dist.ravel()[cand] <= 4 * grid.cell) * gen.lognormal(0, 0.15, len(cand)))
    if score.max() <= 0:
        score = csuit * np.exp(-(d_centre / (0.45 * radius)) ** 2)
    seat_cell_pos = int(np.argmax(score))
    seat_xy = cxy[seat_cell_pos]

    nt = len(townships)
    seat_t = county_seat_township(townships)
    kinds = townships["kind"].to_numpy()
    town_pos = np.full(nt, -1, dtype=np.int64)
    town_pos[seat_t] = seat_cell_pos
    d_seat = np.hypot(*(cxy - seat_xy).T)

    # other 街道 cluster around the county seat
    jd = [i for i in np.flatnonzero(kinds == "街道") if i != seat_t]
    if jd:
        urban_area = min(area_m2, (len(jd) + 1) * 12e6)
        r_u = np.sqrt(urban_area / np.pi)
        w = csuit * np.exp(-d_seat / r_u)
        picks = spaced_pick(cxy, weighted_order(w, gen), len(jd),
                            0.75 * np.sqrt(urban_area / (len(jd) + 1)), taken=seat_xy[None, :],
                            min_floor=grid.cell)
        for i, p in zip(jd, picks):
            town_pos[i] = p
    # towns and 乡 spread over the county
    rest = [i for i in range(nt) if town_pos[i] < 0]
    if rest:
        d_t = 0.62 * np.sqrt(area_m2 / nt)
        w = csuit ** 1.5 * (1 - np.exp(-d_seat / d_t))
        taken = cxy[town_pos[town_pos >= 0]]
        picks = spaced_pick(cxy, weighted_order(w, gen), len(rest), d_t, taken=taken, min_floor=grid.cell)
        # better sites go to bigger townships (镇 before 乡, more villages first)
        nvill = villages.groupby("township_code").size()
        imp = np.array([(2 if kinds[i] == "镇" else 1 if kinds[i] == "乡" else 0) * 1000
                        + nvill.get(townships.at[i, "code"], 0) + gen.uniform(0, 3) for i in rest])
        rest_sorted = [rest[j] for j in np.argsort(-imp, kind="stable")]
        picks_sorted = picks[np.argsort(-csuit[picks], kind="stable")]
        for i, p in zip(rest_sorted, picks_sorted):
            town_pos[i] = p
    town_cell = cand[town_pos]

    # provisional township regions: geodesic Voronoi on the terrain
    g_in = CellGraph(grid, t.inside)
    zf = t.elev.ravel()
    cu, cv = g_in.cells[g_in.u], g_in.cells[g_in.v]
    grade = np.abs(zf[cu] - zf[cv]) / g_in.length
    w_edge = g_in.length * (1.0 + 6.0 * grade) * gen.lognormal(0, 0.15, len(grade))
    _, _, src = g_in.shortest(w_edge, g_in.node[town_cell])
    node_to_t = {int(n): i for i, n in enumerate(g_in.node[town_cell])}
    prov = np.full(grid.size, -1, dtype=np.int64)
    lab = np.array([node_to_t.get(int(s), -1) for s in src]) if len(src) else np.zeros(0, dtype=np.int64)
    prov[g_in.cells] = lab
    prov2 = prov.reshape(grid.shape)

    # village seats inside their township
    nv = len(villages)
    village_pos = np.full(nv, -1, dtype=np.int64)
    seat_village = np.zeros(nt, dtype=np.int64)
    cand_t = prov[cand]

    def town_cell_of(ti: int) -> int:
        return int(cand[town_pos[ti]])

    for ti in range(nt):
        tcode = townships.at[ti, "code"]
        rows = np.flatnonzero(villages["township_code"].to_numpy() == tcode)
        sv = seat_village_of(villages, tcode)
        seat_village[ti] = sv
        village_pos[sv] = town_pos[ti]
        mine = np.flatnonzero(cand_t == ti)
        if len(mine) < len(rows):
            # tiny region: borrow the nearest candidates
            d = np.hypot(*(cxy - cxy[town_pos[ti]]).T)
            mine = np.argsort(d, kind="stable")[: max(len(rows) * 4, 16)]
        mxy = cxy[mine]
        t_xy = cxy[town_pos[ti]]
        dm = np.hypot(*(mxy - t_xy).T)
        area_t = max(len(np.flatnonzero(prov == ti)), 1) * grid.cell ** 2
        comm = [r for r in rows if r != sv and villages.at[r, "kind"] == "社区"]
        vill = [r for r in rows if r != sv and villages.at[r, "kind"] != "社区"]
        taken = [t_xy]
        if comm:
            urban = kinds[ti] == "街道" and not vill
            r_c = np.sqrt(area_t / np.pi) / 1.5 if urban else 380.0 * np.sqrt(len(comm) + 1)
            # the county town's communities are its neighbourhoods: on the valley floor of the
            # seat, not on the ridge above it (at most ``community_rise_m`` higher, else the
            # lowest cells); other towns keep their hillside 社区
            rise = zf[cand[mine]] - zf[town_cell_of(ti)]
            if not (ti == seat_t or kinds[ti] == "街道"):
                rise = np.zeros(len(mine))
            low = rise <= community_rise_m
            if low.sum() < 3 * len(comm):
                low = rise <= np.sort(rise)[min(len(rise) - 1, 3 * len(comm))]
            sub = np.flatnonzero(low)
            w = (suit.ravel()[cand[mine[sub]]] * np.exp(-dm[sub] / r_c)
                 * np.exp(-np.maximum(rise[sub], 0.0) / (community_rise_m / 3.0)))
            picks = sub[spaced_pick(mxy[sub], weighted_order(w + 1e-9, gen), len(comm),
                                    0.9 * r_c / np.sqrt(len(comm) + 1), taken=np.array(taken),
                                    min_floor=grid.cell * 0.99)]
            for r, p in zip(comm, picks):
                village_pos[r] = mine[p]
            taken += list(mxy[picks])
        if vill:
            d_v = 0.6 * np.sqrt(area_t / (len(vill) + 1))
            w = suit.ravel()[cand[mine]] ** 1.2 * (1 - np.exp(-dm / d_v)) + 1e-9
            picks = spaced_pick(mxy, weighted_order(w, gen), len(vill), d_v, taken=np.array(taken),
                                min_floor=grid.cell * 0.99)
            for r, p in zip(vill, picks):
                village_pos[r] = mine[p]
    missing = np.flatnonzero(village_pos < 0)
    if len(missing):  # never expected: fall back to any free candidate
        free = np.setdiff1d(np.arange(len(cand)), village_pos[village_pos >= 0])
        village_pos[missing] = free[: len(missing)]
    village_cell = cand[village_pos]
    return Seats(seat_t, town_cell, seat_village, village_cell, prov2, road_mask, suit)
