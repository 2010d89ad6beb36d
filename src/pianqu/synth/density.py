"""Real 三调 parcel density for a synthetic county (issue 11, "Scale: real 三调 density").

A real county's DLTB holds 200k–600k 图斑; the synthesiser's default county has ~45k (merged
atoms, ~9 ha each). :func:`densify` splits every parcel of the ``landuse`` layer into pieces of
realistic 三调 size — Voronoi cells of a jittered grid of seeds inside the parcel, finer on
farmland and construction land than on forest and grass (``synth.density_piece_size``) — so
that the whole layer reaches a target count. Each piece keeps its parcel's attributes; its
TBMJ is recomputed ellipsoidally (:func:`pianqu.geo.ellipsoidal_area`), KCMJ = TBMJ × KCXS to
the cent and TBDLMJ = TBMJ − KCMJ (as :func:`pianqu.synth.county.with_deductions`).

Both epochs are split with the same cells: a parcel unchanged in the later epoch keeps the
base epoch's pieces (same geometry, same BSM); a later parcel cut from a base parcel is cut by
that parcel's cells. With ``unmatched`` a share of the pieces get extra vertices every
``synth.density_unmatched_step_m`` along all their edges, which their neighbours do not carry
(shared edges without shared vertices, common in real deliveries). Deterministic for a seed.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from pianqu.config import Config
from pianqu.synth.knobs import synth_config
from pianqu.geo import compute_epsg, ellipsoidal_area
from pianqu.synth._util import rng as stage_rng

SIZE_CLASSES = {"01": "farmland", "02": "farmland", "03": "natural", "04": "natural", "05": "natural",
                "17": "water", "23": "natural"}


def _size_class(codes: np.ndarray) -> np.ndarray:
    """The piece-size class of each 用地用海 code: farmland, natural, water or construction."""
    pre = pd.Series(codes, dtype="string").fillna("").str[:2]
    return pre.map(SIZE_CLASSES).fillna("construction").to_numpy(dtype=object)


def piece_counts(area_m2: np.ndarray, weight: np.ndarray, target: int, min_piece_m2: float) -> np.ndarray:
    """How many pieces each parcel is split into so that the layer holds about ``target``
    parcels: ``round(area / (weight · s))`` (at least 1, at most area / min_piece) with the
    common piece area ``s`` found by bisection."""
    cap = np.maximum(1, np.floor(area_m2 / max(min_piece_m2, 1e-9)))

    def count(s: float) -> np.ndarray:
        return np.clip(np.rint(area_m2 / (weight * s)), 1, cap)

    if count(1e-9).sum() <= target:
        return count(1e-9).astype(np.int64)
    lo, hi = 1e-9, float(area_m2.sum()) + 1.0
    for _ in range(80):
        mid = np.sqrt(lo * hi) if lo > 0 else hi / 2
        if count(mid).sum() > target:
            lo = mid
        else:
            hi = mid
    return count(hi).astype(np.int64)


def _seeds(geom: np.ndarray, k: np.ndarray, area_m2: np.ndarray, gen: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Seeds of a jittered grid inside each parcel (about ``k`` per parcel, GK metres):
    returns (parcel index per seed, xy)."""
    b = shapely.bounds(geom)
    d = np.sqrt(area_m2 / k)  # grid spacing (m)
    nx = np.maximum(1, np.ceil((b[:, 2] - b[:, 0]) / d)).astype(np.int64) + 1
    ny = np.maximum(1, np.ceil((b[:, 3] - b[:, 1]) / d)).astype(np.int64) + 1
    n = nx * ny
    owner = np.repeat(np.arange(len(geom)), n)
    start = np.repeat(np.cumsum(n) - n, n)
    local = np.arange(n.sum()) - start
    ix, iy = local % nx[owner], local // nx[owner]
    off = gen.random((len(geom), 2))
    jit = gen.uniform(-0.35, 0.35, (len(owner), 2))
    x = b[owner, 0] + (ix + off[owner, 0] - 0.5 + jit[:, 0]) * d[owner]
    y = b[owner, 1] + (iy + off[owner, 1] - 0.5 + jit[:, 1]) * d[owner]
    inside = shapely.contains_xy(geom[owner], x, y)
    return owner[inside], np.column_stack([x[inside], y[inside]])


def split_cells(geom: np.ndarray, k: np.ndarray, area_m2: np.ndarray,
                gen: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The Voronoi cells splitting each parcel with ``k > 1`` (unclipped, reaching the parcel's
    envelope): returns (parcel index per cell, cell polygons). Parcels left with fewer than
    two seeds inside are not split."""
    todo = np.flatnonzero(k > 1)
    shapely.prepare(geom[todo])
    owner, xy = _seeds(geom[todo], k[todo], area_m2[todo], gen)
    cnt = np.bincount(owner, minlength=len(todo))
    split = cnt >= 2
    sel = split[owner]
    owner, xy = owner[sel], xy[sel]
    used = np.flatnonzero(split)
    rank = np.cumsum(split) - 1
    mp = shapely.multipoints(shapely.points(xy), indices=rank[owner])
    env = shapely.envelope(geom[todo[used]])
    env = shapely.buffer(env, 10.0, join_style="mitre")
    vor = shapely.voronoi_polygons(mp, extend_to=env)
    cells, ci = shapely.get_parts(vor, return_index=True)
    return todo[used][ci], cells


def _pieces(geom: np.ndarray, owner: np.ndarray, cells: np.ndarray, min_m2: float) -> tuple[np.ndarray, np.ndarray]:
    """Each geometry cut by the cells of its owner: (geometry index per piece, polygon pieces).
    Cells wholly inside their geometry are pieces as they are (no overlay); crumbs smaller than
    ``min_m2`` (a cell clipping a corner of a concave parcel) join the piece of the same parcel
    they share the longest edge with."""
    shapely.prepare(geom)
    inner = shapely.contains_properly(geom[owner], cells)
    part = cells.copy()
    part[~inner] = shapely.intersection(geom[owner[~inner]], cells[~inner])
    polys, pi = shapely.get_parts(part, return_index=True)
    ok = (shapely.get_type_id(polys) == 3) & (shapely.area(polys) > 0)
    own, polys = owner[pi[ok]], polys[ok]
    area = shapely.area(polys)
    tiny = np.flatnonzero(area < min_m2)
    if len(tiny):
        alive = np.ones(len(polys), dtype=bool)
        tree = shapely.STRtree(polys)
        for i in tiny[np.argsort(area[tiny])]:
            nb = tree.query(polys[i], predicate="intersects")
            nb = nb[(nb != i) & alive[nb] & (own[nb] == own[i])]
            if len(nb) == 0:
                continue
            shared = shapely.length(shapely.intersection(shapely.boundary(polys[nb]), shapely.boundary(polys[i])))
            if shared.max() <= 0:
                continue
            j = int(nb[np.argmax(shared)])
            merged = shapely.coverage_union_all(np.array([polys[j], polys[i]], dtype=object))
            if merged.geom_type != "Polygon":
                continue
            polys[j] = merged
            alive[i] = False
        own, polys = own[alive], polys[alive]
    return own, polys


def densify(layers: dict, *, parcels: int | None = None, factor: float | None = None, seed: int = 1,
            unmatched: float = 0.0, config: Config | None = None) -> dict:
    """``layers`` with the ``landuse`` parcels of every epoch split to real 三调 density.

    ``parcels``: the target number of base-epoch parcels (or ``factor`` × the current count).
    ``unmatched``: the share of pieces given extra vertices their neighbours lack (0–1).
    Returns a new dict; other layers are shared. Pieces get new BSMs (county prefix, serial);
    a piece unchanged between the epochs keeps its BSM in both.
    """
    cfg = synth_config(config)  # the density knobs live with the synthesiser's (knobs.toml)
    lu = layers["landuse"].reset_index(drop=True)
    gname = lu.geometry.name
    epochs = pd.to_numeric(lu["epoch"], errors="coerce").to_numpy()
    e0 = np.nanmin(epochs)
    is_base = epochs == e0
    base = lu[is_base].reset_index(drop=True)
    later = lu[~is_base].reset_index(drop=True)
    n0 = len(base)
    target = int(parcels) if parcels is not None else int(round(n0 * (factor if factor is not None else 1.0)))
    if target <= n0 and not unmatched:
        return layers
    prefix = str(base["bsm"].iloc[0])[:-10] if n0 else ""
    gen = stage_rng(seed, prefix if prefix.isdigit() else "0", f"density-{target}-{unmatched}")
    # split in the county's GK zone: a cut's new vertex on a parcel edge then lies much closer to the
    # geodesic edge the ellipsoidal area follows than on a straight line in degrees
    epsg = compute_epsg(lu)
    bg = _gk(base.geometry.to_numpy(), lu.crs, epsg)
    area = base["area_m2"].to_numpy(dtype=float) if "area_m2" in base.columns else ellipsoidal_area(base)
    crumb = float(cfg["synth.density_min_crumb_m2"])
    sizes = cfg["synth.density_piece_size"]
    weight = np.array([float(sizes[c]) for c in _size_class(base["code"].to_numpy())])
    k = piece_counts(area, weight, target, float(cfg["synth.density_min_piece_m2"]))
    cell_owner, cells = split_cells(bg, k, area, gen)
    has_cells = np.zeros(n0, dtype=bool)
    has_cells[cell_owner] = True
    # base epoch: split parcels replaced by their pieces
    pi, pg = _pieces(bg, cell_owner, cells, crumb)
    bidx = np.concatenate([np.flatnonzero(~has_cells), pi])
    bgeo = np.concatenate([bg[~has_cells], pg])
    order = np.lexsort((np.arange(len(bidx)), bidx))  # pieces follow their parcel's order
    bidx, bgeo = bidx[order], bgeo[order]
    if unmatched > 0:
        pick = gen.random(len(bgeo)) < float(unmatched)
        bgeo[pick] = shapely.segmentize(bgeo[pick], float(cfg["synth.density_unmatched_step_m"]))
    bgeo = _gk(bgeo, epsg, lu.crs)
    new_base = base.drop(columns=[gname]).iloc[bidx].reset_index(drop=True)
    new_base["bsm"] = [f"{prefix}{s + 1:010d}" for s in range(len(bidx))]
    out_base = _with_areas(gpd.GeoDataFrame(new_base, geometry=bgeo, crs=lu.crs).rename_geometry(gname)
                           if gname != "geometry" else gpd.GeoDataFrame(new_base, geometry=bgeo, crs=lu.crs))
    frames = [out_base]
    if len(later):
        bsm_pos = pd.Series(np.arange(n0), index=base["bsm"].astype(str).to_numpy())
        lpos = later["bsm"].astype(str).map(bsm_pos)
        same = lpos.notna().to_numpy()
        # unchanged parcels: the base pieces, as they are
        keep_pos = lpos[same].astype(int).to_numpy()
        sel = np.isin(bidx, keep_pos)
        shared = out_base[sel].copy()
        shared["epoch"] = later["epoch"].iloc[0]
        frames.append(shared)
        # changed parcels: cut by the cells of the base parcel holding them
        new = later[~same].reset_index(drop=True)
        if len(new):
            ng = _gk(new.geometry.to_numpy(), lu.crs, epsg)
            hit = shapely.STRtree(bg).query(shapely.point_on_surface(ng), predicate="intersects")
            parent = np.full(len(new), -1)
            parent[hit[0][::-1]] = hit[1][::-1]
            cell_rows = pd.Series(np.arange(len(cells))).groupby(cell_owner).agg(list)
            ro, rc = [], []
            for r in np.flatnonzero((parent >= 0) & has_cells[np.maximum(parent, 0)]):
                cs = cell_rows[parent[r]]
                ro.extend([r] * len(cs))
                rc.extend(cs)
            ro = np.asarray(ro, dtype=np.int64)
            cut = np.zeros(len(new), dtype=bool)
            cut[ro] = True
            qi, qg = _pieces(ng, ro, cells[np.asarray(rc, dtype=np.int64)], crumb) if len(ro) else \
                (ro, np.zeros(0, object))
            nidx = np.concatenate([np.flatnonzero(~cut), qi])
            ngeo = np.concatenate([ng[~cut], qg])
            order = np.lexsort((np.arange(len(nidx)), nidx))
            nidx, ngeo = nidx[order], _gk(ngeo[order], epsg, lu.crs)
            rows = new.drop(columns=[gname]).iloc[nidx].reset_index(drop=True)
            rows["bsm"] = [f"{prefix}{len(bidx) + s + 1:010d}" for s in range(len(nidx))]
            frames.append(_with_areas(gpd.GeoDataFrame(rows, geometry=ngeo, crs=lu.crs)))
    out = pd.concat(frames, ignore_index=True)
    out = gpd.GeoDataFrame(out, geometry=out_base.geometry.name, crs=lu.crs)
    if out.geometry.name != gname:
        out = out.rename_geometry(gname)
    for col in lu.columns:
        if col != gname:
            out[col] = out[col].astype(lu[col].dtype)
    res = dict(layers)
    res["landuse"] = out[list(lu.columns)]
    return res


def _gk(geoms: np.ndarray, src, dst) -> np.ndarray:
    """Geometries reprojected (every parcel goes through the same transform both ways, so the
    vertices neighbours share stay shared)."""
    return gpd.GeoSeries(np.asarray(geoms, dtype=object), crs=src).to_crs(dst).to_numpy()


def _with_areas(g: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """TBMJ recomputed ellipsoidally, KCMJ/TBDLMJ from it (the parcel's KCXS)."""
    if "area_m2" in g.columns:
        g["area_m2"] = ellipsoidal_area(g)
    if "kcxs" in g.columns:
        kcxs = pd.to_numeric(g["kcxs"], errors="coerce").fillna(0.0).to_numpy(dtype=float)
        tbmj = g["area_m2"].to_numpy(dtype=float)
        g["kcmj"] = np.round(tbmj * kcxs, 2)
        if "tbdlmj" in g.columns:
            g["tbdlmj"] = tbmj - g["kcmj"].to_numpy()
    return g
