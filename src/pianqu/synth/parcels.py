"""Land parcels (地类图斑) from the coded atoms: merge, then cut the road strips in.

1. Adjacent atoms of the same village and the same natural or garden code are merged into
   one parcel (forest, shrub and grass parcels are large and irregular, as in 三调); farmland
   and construction atoms stay single fields and blocks.
2. Every road is buffered by half its width and cut out of the parcels it crosses (one
   noding and polygonization of all the linework involved): the strips become 公路用地 1202 (national to
   township roads), 村道用地 060101 (village roads) or 城镇村道路用地 1207 inside towns and
   village clusters, merged per village; the rest of each parcel keeps its code, split
   where a road cut it in two.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely
from scipy.sparse.csgraph import connected_components

from pianqu.synth._util import group_indices, union_coverage
from pianqu.synth.admin import Atoms
from pianqu.synth.roads import CLASS_RANK, RANK_CLASS

MERGE_PREFIXES = ("02", "03", "04", "05", "17", "23")
MIN_PIECE_M2 = 30.0  # pieces of a parcel smaller than this after a road cut join the road strip


@dataclass
class Parcels:
    geom: np.ndarray  # polygons, GK metres
    code: np.ndarray
    czcsxm: np.ndarray
    village: np.ndarray  # village row
    slope: np.ndarray  # mean slope (deg)
    elev: np.ndarray  # mean elevation (m)
    source_atoms: np.ndarray  # number of atoms merged (0 for road strips)
    town: np.ndarray  # township row of the town a parcel belongs to, -1 outside towns

    def take(self, idx) -> "Parcels":
        return Parcels(self.geom[idx], self.code[idx], self.czcsxm[idx], self.village[idx],
                       self.slope[idx], self.elev[idx], self.source_atoms[idx], self.town[idx])


def merge_atoms(atoms: Atoms, code: np.ndarray, czcsxm: np.ndarray, town: np.ndarray) -> Parcels:
    """Merge adjacent atoms of one village sharing a mergeable code."""
    n = atoms.n
    a, b = atoms.edges[:, 0], atoms.edges[:, 1]
    mergeable = np.array([c[:2] in MERGE_PREFIXES for c in code])
    same = (atoms.village[a] == atoms.village[b]) & (code[a] == code[b]) & mergeable[a]
    m = sp.csr_matrix((np.ones(same.sum()), (a[same], b[same])), shape=(n, n))
    _, comp = connected_components(m, directed=False)
    uniq, groups = group_indices(comp)
    geom = np.empty(len(uniq), dtype=object)
    first = np.array([g[0] for g in groups])
    sizes = np.array([len(g) for g in groups])
    geom[sizes == 1] = atoms.geom[first[sizes == 1]]
    w = atoms.area
    slope = np.empty(len(uniq))
    elev = np.empty(len(uniq))
    for k in np.flatnonzero(sizes > 1):
        idx = groups[k]
        geom[k] = union_coverage(atoms.geom[idx])
    for k, idx in enumerate(groups):
        ww = w[idx]
        slope[k] = np.dot(atoms.slope[idx], ww) / ww.sum()
        elev[k] = np.dot(atoms.elev[idx], ww) / ww.sum()
    return Parcels(geom, code[first].astype(object), czcsxm[first].astype(object),
                   atoms.village[first], slope, elev, sizes, town[first])


def road_code(cls: str, czcsxm: str) -> str:
    """用地用海 code of a road strip: 1207 inside towns and villages, else 1202 for public
    roads and 060101 for village roads."""
    if czcsxm in ("201", "202", "203"):
        return "1207"
    return "060101" if cls == "village" else "1202"


def cut_roads(p: Parcels, lines: list[shapely.LineString], cls: list[str], widths: np.ndarray) -> Parcels:
    """Cut road strips (buffers of half the road width) out of the parcels.

    The boundaries of the parcels a road touches and of every road buffer are noded together
    once and polygonized, so each new edge exists once and the parcels stay an exact coverage
    (a per-parcel overlay would compute the same crossing twice, with different rounding).
    Each face belongs to the parcel holding its interior point; faces inside a buffer become
    road strips (merged per village and code), the rest keep their parcel's code.
    """
    if not lines:
        return p
    buf = shapely.buffer(np.asarray(lines, dtype=object), np.asarray(widths, dtype=float) / 2.0, quad_segs=2)
    brank = np.array([CLASS_RANK[c] for c in cls])
    btree = shapely.STRtree(buf)
    pi, _ = btree.query(p.geom, predicate="intersects")
    hit = np.unique(pi)
    if len(hit) == 0:
        return p
    linework = np.concatenate([shapely.get_parts(shapely.boundary(p.geom[hit])),
                               shapely.get_parts(shapely.boundary(buf))])
    noded = shapely.union_all(linework)
    faces = np.asarray(shapely.get_parts(shapely.polygonize(shapely.get_parts(noded))), dtype=object)
    faces = faces[shapely.area(faces) > 0]
    rp = shapely.point_on_surface(faces)
    a, b = shapely.STRtree(p.geom[hit]).query(rp, predicate="intersects")
    owner = np.full(len(faces), -1)
    owner[a[::-1]] = hit[b[::-1]]  # first hit wins
    ok = owner >= 0  # faces outside every touched parcel are the untouched parcels' (kept whole)
    faces, rp, owner = faces[ok], rp[ok], owner[ok]
    fa, fb = btree.query(rp, predicate="intersects")
    rank = np.zeros(len(faces), dtype=np.int64)
    if len(fa):
        best = pd.Series(brank[fb]).groupby(fa).min()
        rank[best.index.to_numpy()] = best.to_numpy()
    # slivers left between a road and a parcel edge join the road
    tiny = (rank == 0) & (shapely.area(faces) < MIN_PIECE_M2)
    if tiny.any():
        ta, tb = btree.query(faces[tiny], predicate="intersects")
        if len(ta):
            best = pd.Series(brank[tb]).groupby(ta).min()
            idx = np.flatnonzero(tiny)[best.index.to_numpy()]
            rank[idx] = best.to_numpy()
    road = rank > 0
    keep = np.ones(len(p.geom), dtype=bool)
    keep[hit] = False
    rest = ~road
    src = owner[rest]
    # road strips merged per village and code
    rcls = [RANK_CLASS[int(r)] for r in rank[road]]
    rown = owner[road]
    rcode = np.array([road_code(c, str(z)) for c, z in zip(rcls, p.czcsxm[rown])], dtype=object)
    rcz = np.where(rcode == "1207", p.czcsxm[rown], "").astype(object)
    rvil = p.village[rown]
    key = np.array([f"{v}|{c}|{z}" for v, c, z in zip(rvil, rcode, rcz)])
    sg, sc, sz, sv, ss, se, st = [], [], [], [], [], [], []
    rgeom = faces[road]
    for _, idx in zip(*group_indices(key)):
        merged = union_coverage(rgeom[idx])
        for part in shapely.get_parts(merged):
            if part.geom_type != "Polygon" or part.area <= 0:
                continue
            sg.append(part)
            sc.append(rcode[idx[0]])
            sz.append(rcz[idx[0]])
            sv.append(rvil[idx[0]])
            ss.append(float(np.mean(p.slope[rown[idx]])))
            se.append(float(np.mean(p.elev[rown[idx]])))
            st.append(int(p.town[rown[idx[0]]]) if rcode[idx[0]] == "1207" else -1)
    return Parcels(
        np.concatenate([p.geom[keep], faces[rest], np.array(sg, dtype=object)]).astype(object),
        np.concatenate([p.code[keep], p.code[src], np.array(sc, dtype=object)]),
        np.concatenate([p.czcsxm[keep], p.czcsxm[src], np.array(sz, dtype=object)]),
        np.concatenate([p.village[keep], p.village[src], np.array(sv, dtype=np.int64)]),
        np.concatenate([p.slope[keep], p.slope[src], np.array(ss)]),
        np.concatenate([p.elev[keep], p.elev[src], np.array(se)]),
        np.concatenate([p.source_atoms[keep], p.source_atoms[src], np.zeros(len(sg), dtype=np.int64)]),
        np.concatenate([p.town[keep], p.town[src], np.array(st, dtype=np.int64)]),
    )


def absorb_slivers(p: Parcels, min_area: float = 10.0) -> Parcels:
    """Merge parcels smaller than ``min_area`` into the neighbour of the same village with
    which they share the longest edge (a planner would call them digitising slivers)."""
    area = shapely.area(p.geom)
    tiny = np.flatnonzero(area < min_area)
    if len(tiny) == 0:
        return p
    geom = p.geom.copy()
    alive = np.ones(len(geom), dtype=bool)
    tree = shapely.STRtree(p.geom)
    for i in tiny[np.argsort(area[tiny])]:
        if not alive[i]:
            continue
        nb = tree.query(geom[i], predicate="intersects")
        nb = nb[(nb != i) & alive[nb] & (p.village[nb] == p.village[i])]
        if len(nb) == 0:
            continue
        shared = shapely.length(shapely.intersection(shapely.boundary(geom[nb]), shapely.boundary(geom[i])))
        if shared.max() <= 0:
            continue
        j = int(nb[np.argmax(shared)])
        merged = union_coverage(np.array([geom[j], geom[i]], dtype=object))
        if merged.geom_type != "Polygon":
            continue
        geom[j] = merged
        alive[i] = False
    out = p.take(alive)
    out.geom = geom[alive]
    return out
