"""Land use of the atoms, coded in 用地用海 2023 (自然资发〔2023〕234号).

In order, each step taking atoms nobody took before:

1. river band → 1701 河流水面;
2. towns: construction land grown from each town seat over the atom graph (cheap on flat
   land, dear across rivers) until the town's urban population × ``synth.urban_land_m2_per_person``
   is reached; rings from the centre get a commercial/public core, housing, and at the edge
   industry, storage and utilities; the county seat also gets an industrial park
   (``synth.industry_share_of_seat_land``). CZCSXM 201 (城市: districts and county-level
   cities) or 202 (建制镇);
3. villages: 0704 at the village seat, homesteads 0703 clustered around it and scattered on
   gentle land (``synth.homestead_m2_per_person``, ``synth.village_cluster_share``), CZCSXM 203;
4. a few ponds, livestock yards, mines, temples and cemeteries;
5. cultivated land on the best remaining land up to ``synth.farmland_share`` (paddy 0101 on
   flat low land near water, else dry land 0103; some 0102 on plains), then gardens
   (``synth.garden_share``: tea higher up, orchards lower);
6. the rest is natural cover by elevation, slope and a smooth noise field: 乔木林地 0301,
   竹林地 0302 near villages, 灌木林地 0303 on steep or high ground, grass (0401 on the
   plateau, 0403 elsewhere), wetland 0503, bare rock 2307 and glacier 1706 at the top; on
   the plains the woods round the farmsteads (林盘: 0302, 0304).

Farmland never exceeds 60% of the land gentler than 20° (so high mountain counties keep
little of it), and towns, homesteads and farmland prefer flat, low land near settlements.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

from pianqu.config import Config
from pianqu.synth.admin import KIND_RIVER, Atoms
from pianqu.synth.terrain import Terrain, spectral_noise

NONE = ""


@dataclass
class LandUse:
    code: np.ndarray  # 用地用海 code per atom (str)
    czcsxm: np.ndarray  # CZCSXM per atom ("" when none)
    town: np.ndarray  # township row of the town an atom belongs to, -1 if none
    ring: np.ndarray  # position inside its town (0 centre … 1 edge), nan if none



def _fill(order: np.ndarray, area: np.ndarray, target: float) -> np.ndarray:
    """The first atoms of ``order`` whose area reaches ``target`` (none for a target ≤ 0)."""
    if target <= 0 or len(order) == 0:
        return order[:0]
    return order[: int(np.searchsorted(np.cumsum(area[order]), target)) + 1]


def _pick(gen: np.random.Generator, table: dict[str, float], n: int) -> np.ndarray:
    codes = np.array(list(table))
    p = np.array(list(table.values()), dtype=float)
    return codes[gen.choice(len(codes), size=n, p=p / p.sum())]


TOWN_CORE = {"0701": 0.40, "0901": 0.24, "0801": 0.07, "0702": 0.04, "0803": 0.03, "080403": 0.06,
             "0806": 0.04, "1401": 0.06, "1403": 0.02, "0902": 0.04}
TOWN_MID = {"0701": 0.62, "0901": 0.08, "080403": 0.06, "080404": 0.02, "0806": 0.02, "1401": 0.06,
            "0702": 0.03, "0805": 0.02, "1208": 0.02, "0807": 0.02, "0904": 0.02, "1301": 0.01,
            "1303": 0.01, "1101": 0.01}
TOWN_EDGE = {"0701": 0.55, "1101": 0.06, "1301": 0.03, "1302": 0.03, "1303": 0.02, "1309": 0.02,
             "1310": 0.01, "1402": 0.05, "0904": 0.04, "1208": 0.03, "0801": 0.02, "1001": 0.1,
             "080403": 0.02, "1401": 0.02}


def atom_graph(atoms: Atoms, t: Terrain, gen: np.random.Generator, river_factor: float = 6.0,
               roughness: float = 0.8) -> sp.csr_matrix:
    """Atom adjacency weighted for growing settlements: cheap on flat land, dear across rivers,
    scaled by a smooth random field (``roughness``) so towns grow in irregular shapes."""
    a, b = atoms.edges[:, 0], atoms.edges[:, 1]
    d = np.hypot(*(atoms.xy[a] - atoms.xy[b]).T)
    s = 0.5 * (atoms.slope[a] + atoms.slope[b])
    field = spectral_noise(t.grid.shape, gen, 2.0, lmax=max(8.0, 1500.0 / t.grid.cell))
    mid = 0.5 * (atoms.xy[a] + atoms.xy[b])
    rough = np.exp(roughness * t.grid.sample(field, mid[:, 0], mid[:, 1]))
    w = np.maximum(d, 0.01) * (1.0 + s / 8.0) ** 2 * rough
    river = (atoms.kind[a] == KIND_RIVER) | (atoms.kind[b] == KIND_RIVER)
    w = np.where(river, w * river_factor, w)
    n = atoms.n
    return sp.csr_matrix((np.concatenate([w, w]), (np.concatenate([a, b]), np.concatenate([b, a]))),
                         shape=(n, n))


def classify(atoms: Atoms, t: Terrain, cfg: Config, *, town_atom: np.ndarray, town_urban: np.ndarray,
             seat_township: int, county_is_city: bool, village_atom: np.ndarray,
             village_rural: np.ndarray, village_is_comm: np.ndarray, gen: np.random.Generator) -> LandUse:
    """Code every atom (see module doc). ``town_atom``/``village_atom`` are the seat atoms per
    township/village row; ``town_urban`` the urban people per township; ``village_rural`` the
    rural people per village."""
    n = atoms.n
    code = np.full(n, "", dtype=object)
    cz = np.full(n, NONE, dtype=object)
    town = np.full(n, -1, dtype=np.int64)
    ring = np.full(n, np.nan)
    area = atoms.area
    slope = atoms.slope
    terrain = t.terrain_class
    county_area = area.sum()
    free = lambda: code == ""  # noqa: E731

    # 1. rivers
    code[atoms.kind == KIND_RIVER] = "1701"

    # 2. towns
    g = atom_graph(atoms, t, gen)
    dist, _, src = dijkstra(g, directed=False, indices=town_atom, min_only=True, return_predecessors=True)
    owner = np.full(n, -1)
    lookup = {int(a): i for i, a in enumerate(town_atom)}
    ok = src >= 0
    owner[ok] = [lookup[int(s)] for s in src[ok]]
    per_cap = float(cfg["synth.urban_land_m2_per_person"])
    min_land = float(cfg["synth.town_min_land_m2"])
    seat_cz = "201" if county_is_city else "202"
    order = np.argsort(dist, kind="stable")
    for ti in range(len(town_atom)):
        target = max(float(town_urban[ti]) * per_cap, min_land)
        mine = order[owner[order] == ti]
        mine = mine[(code[mine] == "") & (slope[mine] < 25)]
        cum = np.cumsum(area[mine])
        k = int(np.searchsorted(cum, target)) + 1
        take = mine[:k]
        if len(take) == 0:
            continue
        frac = cum[: len(take)] / max(cum[len(take) - 1], 1.0)
        town[take] = ti
        ring[take] = frac
        core, mid, edge = take[frac <= 0.25], take[(frac > 0.25) & (frac <= 0.7)], take[frac > 0.7]
        code[core] = _pick(gen, TOWN_CORE, len(core))
        code[mid] = _pick(gen, TOWN_MID, len(mid))
        edge_codes = _pick(gen, TOWN_EDGE, len(edge))
        if ti != seat_township and town_urban[ti] < 20000:
            edge_codes[edge_codes == "1001"] = "0701"
        code[edge] = edge_codes
        code[town_atom[ti]] = "0801" if ti == seat_township else "0702"
        cz[take] = seat_cz if ti == seat_township else "202"
    # the county seat's industrial park: flat land beyond the town edge
    seat_land = area[town == seat_township].sum()
    target = float(cfg["synth.industry_share_of_seat_land"]) * seat_land
    mine = order[(owner[order] == seat_township)]
    mine = mine[(code[mine] == "") & (slope[mine] < 10)]
    cum = np.cumsum(area[mine])
    take = mine[: int(np.searchsorted(cum, target)) + 1] if len(mine) else mine
    code[take] = np.where(gen.random(len(take)) < 0.8, "1001", "1101")
    cz[take] = seat_cz
    town[take] = seat_township
    ring[take] = 1.0

    # 3. villages: seat, clustered and scattered homesteads
    hs_cap = float(cfg["synth.homestead_m2_per_person"])
    share = float(cfg["synth.village_cluster_share"])
    vdist, _, vsrc = dijkstra(g, directed=False, indices=village_atom, min_only=True, return_predecessors=True)
    vorder = np.argsort(vdist, kind="stable")
    for v in range(len(village_atom)):
        if village_is_comm[v] and town[village_atom[v]] >= 0:
            continue  # a town 社区: its land is the town's
        a0 = village_atom[v]
        if code[a0] == "":
            code[a0] = "0704"
            cz[a0] = "203"
    by_village = [[] for _ in range(len(village_atom))]
    vil = atoms.village
    for a_ in vorder:
        if code[a_] == "" and vsrc[a_] >= 0 and slope[a_] < 25:
            by_village[vil[a_]].append(a_)
    for v in range(len(village_atom)):
        target = float(village_rural[v]) * hs_cap
        if target <= 0:
            continue
        cand = np.asarray(by_village[v], dtype=np.int64)
        cand = cand[vil[cand] == v] if len(cand) else cand
        if len(cand) == 0:
            continue
        cum = np.cumsum(area[cand])
        k = int(np.searchsorted(cum, share * target)) + 1
        cl = cand[:k]
        code[cl] = np.where(gen.random(len(cl)) < 0.08, "0704", "0703")
        cz[cl] = "203"
        rest = cand[k:]
        rest = rest[slope[rest] < 18]
        if len(rest) == 0:
            continue
        w = np.exp(-slope[rest] / 6.0) / np.sqrt(area[rest])
        pick_order = rest[np.argsort(-(np.log(w) + gen.gumbel(size=len(rest))), kind="stable")]
        cum = np.cumsum(area[pick_order])
        sc = pick_order[: int(np.searchsorted(cum, (1 - share) * target)) + 1]
        code[sc] = "0703"
        cz[sc] = "203"

    # 4. ponds, livestock yards, mines, temples, cemeteries
    zin = t.elev[t.inside]
    zrel = (atoms.elev - zin.min()) / max(np.ptp(zin), 1.0)
    pond_rate = {"plain": 0.02, "hill": 0.045, "piedmont": 0.015, "mountain": 0.006,
                 "alpine": 0.002, "plateau": 0.004}[terrain]
    flat = np.flatnonzero(free() & (slope < 8))
    ponds = flat[gen.random(len(flat)) < pond_rate]
    code[ponds] = "1704"
    near_v = np.flatnonzero(free() & (slope < 12) & (vdist < 800))
    yards = near_v[gen.random(len(near_v)) < 0.01]
    code[yards] = "060202"
    cz[yards] = "203"
    n_mine = int(gen.poisson(1 + county_area / 1.5e9)) if terrain != "plain" else 0
    mid_steep = np.flatnonzero(free() & (slope > 12) & (slope < 35) & (zrel > 0.2) & (zrel < 0.7))
    if len(mid_steep) and n_mine:
        mines = gen.choice(mid_steep, size=min(n_mine, len(mid_steep)), replace=False)
        code[mines] = "1002"
        cz[mines] = "204"
    for c, cnt, czv in (("1503", int(gen.poisson(1 + len(village_atom) / 120)), "205"),
                        ("1506", int(gen.poisson(len(village_atom) / 40)), "205")):
        cand = np.flatnonzero(free() & (slope < 20) & (vdist < 2000))
        if len(cand) and cnt:
            sel = gen.choice(cand, size=min(cnt, len(cand)), replace=False)
            code[sel] = c
            cz[sel] = czv

    # 5. farmland and gardens
    noise = spectral_noise(t.grid.shape, gen, 2.5, lmax=max(12.0, 3000.0 / t.grid.cell))
    nz = t.grid.sample(noise, atoms.xy[:, 0], atoms.xy[:, 1])
    noise2 = spectral_noise(t.grid.shape, gen, 2.5, lmax=max(10.0, 2000.0 / t.grid.cell))
    nz2 = t.grid.sample(noise2, atoms.xy[:, 0], atoms.xy[:, 1])
    near_settle = np.exp(-np.minimum(vdist, dist) / 1500.0)
    max_farm_slope = float(cfg["synth.farm_max_slope_deg"][terrain])
    farm_max_elev = 4000.0 if terrain in ("alpine", "plateau") else 3000.0
    cand = np.flatnonzero(free() & (slope < max_farm_slope) & (atoms.elev < farm_max_elev))
    elev_weight = {"plain": 0.3, "hill": 1.5}.get(terrain, 2.5)
    score = -slope[cand] / 6.0 - elev_weight * zrel[cand] + 1.5 * near_settle[cand] + 0.6 * nz[cand]
    if terrain in ("alpine", "plateau"):
        score -= 3.0 * (zrel[cand] > 0.35)
    farmable = area[cand[slope[cand] < 20]].sum()
    target = min(float(cfg["synth.farmland_share"][terrain]) * county_area, 0.6 * farmable)
    top = cand[np.argsort(-score, kind="stable")]
    # slope farmland (坡耕地 > 25°) is a share of its own: by score alone it would never be chosen
    steep = slope[top] > float(cfg["land.steep_slope_deg"])
    steep_target = float(cfg["synth.steep_farmland_share"][terrain]) * target
    farm = np.concatenate([_fill(top[~steep], area, target - steep_target), _fill(top[steep], area, steep_target)])
    paddy_ok = ((slope[farm] < float(cfg["synth.paddy_max_slope_deg"]))
                & (atoms.elev[farm] < float(cfg["synth.paddy_max_elev_m"]))
                & (terrain not in ("alpine", "plateau")))
    p_paddy = np.where(slope[farm] < 5, 0.85, 0.55) * np.exp(-np.minimum(t.river_dist.ravel()[
        t.grid.index(atoms.xy[farm, 0], atoms.xy[farm, 1])], 5000) / 4000.0)
    is_paddy = paddy_ok & (gen.random(len(farm)) < np.clip(p_paddy + 0.25, 0, 0.95))
    fcode = np.where(is_paddy, "0101", "0103").astype(object)
    irrig = (~is_paddy) & (gen.random(len(farm)) < (0.15 if terrain == "plain" else 0.03))
    fcode[irrig] = "0102"
    code[farm] = fcode
    gtarget = float(cfg["synth.garden_share"][terrain]) * county_area
    if gtarget > 0:
        cand = np.flatnonzero(free() & (slope > 3) & (slope < 28))
        score = -np.abs(slope[cand] - 12) / 6.0 + 1.0 * near_settle[cand] + 0.8 * nz2[cand]
        top = cand[np.argsort(-score, kind="stable")]
        gard = top[: int(np.searchsorted(np.cumsum(area[top]), gtarget)) + 1] if len(top) else top
        tea = (zrel[gard] > 0.25) & np.isin(terrain, ["mountain", "hill", "piedmont"]) & (nz[gard] > -0.2)
        gc = np.where(tea, "0202", np.where(gen.random(len(gard)) < 0.85, "0201", "0205")).astype(object)
        code[gard] = gc

    # 6. natural cover
    rest = np.flatnonzero(free())
    z, s, a1, a2 = zrel[rest], slope[rest], nz[rest], nz2[rest]
    el = atoms.elev[rest]
    nat = np.full(len(rest), "0301", dtype=object)
    if terrain in ("alpine", "plateau"):
        grass_from = 0.62 if terrain == "alpine" else 0.3
        nat = np.where((z > 0.5) | (a2 > 0.9), "0303", nat)
        nat = np.where(z > grass_from + 0.1 * a1, "0401", nat)
        nat = np.where((terrain == "plateau") & (s < 3) & (t.river_dist.ravel()[
            t.grid.index(atoms.xy[rest, 0], atoms.xy[rest, 1])] < 1500) & (a2 > 0), "0503", nat)
        nat = np.where((z > 0.88) & (s > 28), "2307", nat)
        nat = np.where((el > 5100) & (z > 0.93), "1706", nat)
    elif terrain == "plain":  # 林盘: bamboo and trees round farmsteads, some scrub and grass
        nat = np.where(a2 > 0.3, "0302", np.where(a1 > 0.0, "0304", "0301")).astype(object)
        nat = np.where((a2 < -1.0), "0403", nat)
    else:
        low = z < 0.35
        nat = np.where(low & (near_settle[rest] > 0.35) & (a2 > 0.55), "0302", nat)
        nat = np.where((s > 38) | ((a2 < -1.1) & (z > 0.3)) | (z > 0.85), "0303", nat)
        nat = np.where((z > 0.9) & (a1 > 0.3), "0403", nat)
        nat = np.where((a1 > 1.6) & (z < 0.6), "0304", nat)
        nat = np.where(s > 48, "2307", nat)
    code[rest] = nat
    return LandUse(code, cz, town, ring)
