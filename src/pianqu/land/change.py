"""Change detection between two land-use epochs (违法占用耕地"零容忍", seed §二(七)).

:func:`change_pieces` overlays the epochs (parcels unchanged in geometry are matched by their
exact coordinates first, so only changed areas are overlaid); :func:`transition_matrix` gives
the areas (ha) from each class to each class; :func:`farmland_outflow` lists the pieces that left
cultivated land; :func:`violation_tickets` raises a ticket for every piece of cultivated land or
permanent basic farmland that became construction land without an approval covering it.

:func:`simulate_epoch` makes a second epoch with planted conversions, some approved, and
returns the truth, for tests and for the synthetic county generator.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from pianqu.config import Config
from pianqu.findings import Finding
from pianqu.land.common import (area_columns, broad_class, config_of, epsg_for, is_construction, is_farmland, l1,
                                polygons, require)
from pianqu.geo import ellipsoidal_area
from pianqu.land.overlay import clip_union, intersect, subtract, to_storage
from pianqu.standards import landuse_codes

PIECE_KEYS = ("bsm", "code")
CARRY = ("village_code", "township_code", "czcsxm")


def _hash(*parts: str) -> str:
    return hashlib.sha1("|".join(parts).encode("utf-8")).hexdigest()[:10].upper()


def change_pieces(before: gpd.GeoDataFrame, after: gpd.GeoDataFrame, *, epsg: int | None = None,
                  cfg: Config | None = None) -> gpd.GeoDataFrame:
    """The overlay of two epochs: one piece per (before parcel, after parcel) pair that overlap.

    Columns: ``bsm_before``, ``code_before``, ``bsm_after``, ``code_after``, the after parcel's
    village/township codes when present, ``unchanged_geometry``, ``area_m2``; GK geometry.
    Pieces smaller than ``land.change_sliver_m2`` are dropped.
    """
    cfg = config_of(cfg)
    epsg = epsg_for(epsg, before, after)
    require(before, "landuse (before)", PIECE_KEYS)
    require(after, "landuse (after)", PIECE_KEYS)
    b = polygons(before, "landuse (before)", epsg, "bsm")
    a = polygons(after, "landuse (after)", epsg, "bsm")
    bg, ag = b.geometry.to_numpy(), a.geometry.to_numpy()
    # same geometry in both epochs (normalised WKB): matched without an overlay
    bw = pd.Series(shapely.to_wkb(shapely.normalize(bg)))
    aw = pd.Series(shapely.to_wkb(shapely.normalize(ag)))
    a_pos = pd.Series(np.arange(len(aw)), index=aw.to_numpy())
    a_pos = a_pos[~a_pos.index.duplicated()]
    hit = bw.map(a_pos)
    same_b = np.flatnonzero(hit.notna().to_numpy())
    same_a = hit.dropna().astype(int).to_numpy()
    rest_b = np.setdiff1d(np.arange(len(b)), same_b)
    rest_a = np.setdiff1d(np.arange(len(a)), same_a)
    ov = intersect(bg[rest_b], ag[rest_a], left_ids=b["bsm"].to_numpy()[rest_b], right_ids=a["bsm"].to_numpy()[rest_a])
    bi = np.concatenate([same_b, rest_b[ov.left]])
    ai = np.concatenate([same_a, rest_a[ov.right]])
    geom = np.concatenate([bg[same_b], ov.geometry])
    area = np.concatenate([shapely.area(bg[same_b]), ov.area])
    out = pd.DataFrame({"bsm_before": b["bsm"].astype(str).to_numpy()[bi], "code_before": b["code"].astype(str).to_numpy()[bi],
                        "bsm_after": a["bsm"].astype(str).to_numpy()[ai], "code_after": a["code"].astype(str).to_numpy()[ai]})
    for col in CARRY:
        if col in a.columns:
            out[col] = a[col].astype("string").fillna("").to_numpy()[ai]
    out["unchanged_geometry"] = np.r_[np.ones(len(same_b), bool), np.zeros(len(ov), bool)]
    out["area_m2"] = area
    keep = area >= float(cfg["land.change_sliver_m2"])
    return gpd.GeoDataFrame(out[keep].reset_index(drop=True), geometry=geom[keep], crs=epsg)


def _level(codes: pd.Series, level) -> pd.Series:
    if level == "class":
        return broad_class(codes)
    if level == 1:
        return l1(codes)
    if level == 2:
        return pd.Series(codes, dtype="string").fillna("").str[:4]
    raise ValueError("level must be 1, 2 or 'class'")


def transition_matrix(pieces: gpd.GeoDataFrame | pd.DataFrame, *, level=1, unit: str = "ha") -> pd.DataFrame:
    """Area from each class (rows, before) to each class (columns, after), with totals.

    ``level``: 1 (first-level 用地用海 codes), 2 (second level) or 'class' (agricultural,
    construction ...). ``unit``: 'ha', 'm2' or 'mu'. The grand total equals the area overlaid.
    """
    div = {"ha": 1e4, "m2": 1.0, "mu": 10000.0 / 15.0}[unit]
    fr = _level(pieces["code_before"], level).rename("before")
    to = _level(pieces["code_after"], level).rename("after")
    m = pd.crosstab(fr, to, values=pieces["area_m2"] / div, aggfunc="sum").fillna(0.0)
    keys = sorted(set(m.index) | set(m.columns))
    m = m.reindex(index=keys, columns=keys, fill_value=0.0)
    m["total"] = m.sum(axis=1)
    m.loc["total"] = m.sum(axis=0)
    m.index.name, m.columns.name = "before", "after"
    return m


def farmland_outflow(pieces: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Pieces that were cultivated land (01) and are something else now (耕地流出), largest first."""
    out = pieces[is_farmland(pieces["code_before"]) & ~is_farmland(pieces["code_after"])].copy()
    out["class_after"] = broad_class(out["code_after"]).to_numpy()
    for k, v in area_columns(out["area_m2"]).items():
        out[k] = v
    return out.sort_values(["area_m2", "bsm_before"], ascending=[False, True]).reset_index(drop=True)


@dataclass(frozen=True)
class Approvals:
    """Approval records: polygons (``approval_id``) or a table of after-epoch parcel ``bsm``."""

    geometry: np.ndarray | None
    ids: np.ndarray
    bsm: set


def _approvals(approvals, epsg: int) -> Approvals:
    if approvals is None or len(approvals) == 0:
        return Approvals(None, np.zeros(0, dtype=object), set())
    if "approval_id" not in approvals.columns and "id" in approvals.columns:  # the workspace layer ``approvals``
        approvals = approvals.rename(columns={"id": "approval_id"})
    if isinstance(approvals, gpd.GeoDataFrame) and approvals.geometry.notna().any():
        require(approvals, "approval", ["approval_id"])
        ap = polygons(approvals, "approval", epsg, "approval_id")
        return Approvals(ap.geometry.to_numpy(), ap["approval_id"].astype(str).to_numpy(), set())
    require(approvals, "approval", ["approval_id", "bsm"])
    return Approvals(None, approvals["approval_id"].astype(str).to_numpy(), set(approvals["bsm"].astype(str)))


def violation_tickets(pieces: gpd.GeoDataFrame, *, approvals=None, farmland_pbf: gpd.GeoDataFrame | None = None,
                      cfg: Config | None = None) -> gpd.GeoDataFrame:
    """One ticket per contiguous patch of farmland (01) or permanent basic farmland turned into
    construction land (07–16) that no approval covers — zero tolerance: every patch above the
    sliver size. Touching pieces of the same transition are one ticket (a survey that splits a
    field into several parcels does not multiply the violation).

    ``pieces``: from :func:`change_pieces` (GK geometry). ``approvals``: a polygon layer with
    ``approval_id`` (the part of a piece they cover is approved) or a table with ``approval_id``
    and ``bsm`` of the approved after-epoch parcels. ``farmland_pbf``: the PBF of the earlier epoch.
    Tickets carry a stable id, the parcels, the unapproved area (m², ha, 亩) and EPSG:4490 geometry.
    """
    cfg = config_of(cfg)
    sliver = float(cfg["land.change_sliver_m2"])
    epsg = pieces.crs.to_epsg()
    conv = pieces[is_construction(pieces["code_after"]) & ~is_construction(pieces["code_before"])]
    geoms = conv.geometry.to_numpy()
    farm = is_farmland(conv["code_before"])
    pbf_area = np.zeros(len(conv))
    watch = np.where(farm, geoms, None)
    if farmland_pbf is not None and len(farmland_pbf):
        part, pbf_area, _ = clip_union(geoms, polygons(farmland_pbf, "farmland_pbf", epsg).geometry.to_numpy())
        nf = ~farm & (pbf_area > 0)  # non-farmland inside PBF is watched too
        watch[nf] = part[nf]
    has = np.array([w is not None for w in watch], dtype=bool)
    watch = watch[has]
    conv = conv[has]
    pbf_area = pbf_area[has]
    ap = _approvals(approvals, epsg)
    approved_by = np.full(len(conv), "", dtype=object)
    if ap.geometry is not None and len(watch):
        ao = intersect(watch, ap.geometry)
        rest = subtract(watch, ao)
        for k in np.unique(ao.left):
            approved_by[k] = ",".join(sorted(set(ap.ids[ao.right[ao.left == k]])))
    else:
        rest = watch.copy()
        listed = conv["bsm_after"].isin(ap.bsm).to_numpy()
        rest[listed] = shapely.Polygon()
        approved_by[listed] = "bsm"
    area = shapely.area(rest) if len(rest) else np.zeros(0)
    keep = area > 0  # pieces below the sliver size still count toward the patch they touch
    t = conv[keep].drop(columns=["geometry"]).copy().reset_index(drop=True)
    t["in_pbf"] = pbf_area[keep] >= sliver
    t["watched_area_m2"] = shapely.area(watch[keep]) if keep.any() else np.zeros(0)
    t["approved_area_m2"] = t["watched_area_m2"] - area[keep]
    t["approval_ids"] = approved_by[keep]
    t["area_m2"] = area[keep]
    t, geom = _patches(t, rest[keep])
    big = t["area_m2"].to_numpy(dtype=float) >= sliver
    t, geom = t[big].reset_index(drop=True), geom[big]
    t.insert(0, "ticket_id", [f"WF-{_hash(b, a)}" for b, a in zip(t["bsm_before"], t["bsm_after"])])
    for k, v in area_columns(t["area_m2"].to_numpy(dtype=float)).items():
        t[k] = v
    t["severity"] = "error"
    out = to_storage(gpd.GeoDataFrame(t, geometry=geom, crs=epsg))
    return out.sort_values("ticket_id").reset_index(drop=True)


def _patches(t: pd.DataFrame, geom: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
    """One row per contiguous patch of change: unapproved pieces that touch and share the
    transition (code before → code after) are one violation, however many parcels the survey
    split it into. Areas add up; parcels and approvals are listed (sorted, comma-separated);
    a patch of one piece is that piece unchanged."""
    n = len(t)
    if n < 2:
        return t, geom
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    key = (t["code_before"].astype(str) + "→" + t["code_after"].astype(str)).to_numpy()
    a, b = shapely.STRtree(geom).query(geom, predicate="intersects")
    same = (a != b) & (key[a] == key[b])
    m = coo_matrix((np.ones(int(same.sum())), (a[same], b[same])), shape=(n, n))
    _, comp = connected_components(m, directed=False)
    if len(np.unique(comp)) == n:
        return t, geom
    rows, geoms = [], []
    for c in np.unique(comp):
        idx = np.flatnonzero(comp == c)
        if len(idx) == 1:
            rows.append(t.iloc[idx[0]].to_dict())
            geoms.append(geom[idx[0]])
            continue
        sub = t.iloc[idx]
        row = sub.iloc[int(np.argmin(sub["bsm_before"].astype(str) + "|" + sub["bsm_after"].astype(str)))].to_dict()
        for col in ("bsm_before", "bsm_after"):
            row[col] = ",".join(sorted(set(sub[col].astype(str))))
        ids = sorted({i for v in sub["approval_ids"] for i in str(v).split(",") if i})
        row["approval_ids"] = ",".join(ids)
        row["in_pbf"] = bool(sub["in_pbf"].any())
        for col in ("watched_area_m2", "approved_area_m2", "area_m2"):
            row[col] = float(sub[col].sum())
        rows.append(row)
        geoms.append(shapely.union_all(geom[idx]))
    return pd.DataFrame(rows, columns=t.columns), np.asarray(geoms, dtype=object)


# -- a second epoch with planted conversions ---------------------------------------------------
CONVERSION_CODES = ("0703", "1001", "1202", "0901", "0801", "1101")


def simulate_epoch(landuse: gpd.GeoDataFrame, seed: int, n_conversions: int, approvals_share: float, *,
                   epoch: int | None = None, n_other_changes: int | None = None,
                   epsg: int | None = None) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """A later epoch of ``landuse`` with ``n_conversions`` farmland → construction conversions.

    Half of the converted parcels change entirely, the others are cut in two by a line through
    their centre and only one part changes (a realistic partial occupation, new BSMs for both
    parts). The first ``round(n · approvals_share)`` conversions get an approval polygon (the
    converted area, as 农用地转用 approvals are drawn); the rest are illegal. ``n_other_changes``
    (default n/2) lawful-by-nature changes are planted as distractors: farmland → forest
    (退耕还林) and construction → farmland (复垦). Returns ``(after, approvals, truth)``:
    ``truth`` has one row per planted farmland → construction conversion (``bsm_before``,
    ``bsm_after``, codes, ``approved``, ``area_m2``, geometry), all in EPSG:4490 like ``after``.
    """
    if not 0 <= approvals_share <= 1:
        raise ValueError("approvals_share must be between 0 and 1")
    require(landuse, "landuse", ["bsm", "code"])
    epsg = epsg_for(epsg, landuse)
    rng = np.random.default_rng(seed)
    lu = landuse.reset_index(drop=True)
    gname = lu.geometry.name
    names = landuse_codes(2023).set_index("code")["name"]
    farm = np.flatnonzero(is_farmland(lu["code"]))
    if n_conversions > len(farm):
        raise ValueError(f"simulate_epoch: {n_conversions} conversions asked, only {len(farm)} farmland parcels")
    pick = rng.choice(farm, size=n_conversions, replace=False)
    n_other = n_conversions // 2 if n_other_changes is None else n_other_changes
    others = np.setdiff1d(np.arange(len(lu)), pick)
    cons = others[is_construction(lu["code"].to_numpy()[others])]
    farm_rest = np.setdiff1d(farm, pick)
    n_reclaim = min(n_other // 2, len(cons))
    reclaim = rng.choice(cons, size=n_reclaim, replace=False) if n_reclaim else np.zeros(0, int)
    n_forest = min(n_other - n_reclaim, len(farm_rest))
    forest = rng.choice(farm_rest, size=n_forest, replace=False) if n_forest else np.zeros(0, int)
    new_epoch = epoch if epoch is not None else \
        int(pd.to_numeric(lu.get("epoch", pd.Series([2020])), errors="coerce").max()) + 1
    n_ok = int(round(n_conversions * approvals_share))
    codes_new = np.array(CONVERSION_CODES, dtype=object)[rng.integers(len(CONVERSION_CODES), size=n_conversions)]
    ang = rng.uniform(0, np.pi, n_conversions)
    partial = np.arange(n_conversions) % 2 == 1
    orig = lu.geometry.to_numpy()
    conv = orig[pick].copy()  # whole parcels keep their geometry exactly as it was
    keep = np.full(n_conversions, None, dtype=object)
    if partial.any():  # cut by a random line through the centre, in the GK zone
        g = gpd.GeoSeries(orig[pick[partial]], crs=lu.crs).to_crs(epsg).to_numpy()
        c = shapely.centroid(g)
        cx, cy = shapely.get_x(c), shapely.get_y(c)
        r = 4 * np.sqrt(shapely.area(g)) + 1
        dx, dy = np.cos(ang[partial]) * r, np.sin(ang[partial]) * r
        ring = np.stack([np.c_[cx - dx, cy - dy], np.c_[cx + dx, cy + dy], np.c_[cx + dx - dy, cy + dy + dx],
                         np.c_[cx - dx - dy, cy - dy + dx], np.c_[cx - dx, cy - dy]], axis=1)
        half = shapely.polygons(ring)
        both = np.concatenate([shapely.intersection(g, half), shapely.difference(g, half)])
        back = to_storage(gpd.GeoDataFrame(geometry=both, crs=epsg), lu.crs).geometry.to_numpy()
        conv[partial] = back[:partial.sum()]
        keep[partial] = back[partial.sum():]
    base = lu.iloc[pick].reset_index(drop=True)
    conv_rows = base.assign(bsm=base["bsm"].astype(str) + "C", code=codes_new,
                            name=pd.Series(codes_new).map(names).fillna("").to_numpy())
    conv_rows[gname] = conv
    if "czcsxm" in conv_rows.columns:
        conv_rows["czcsxm"] = "203"
    has_rest = partial & np.array([k is not None and not shapely.is_empty(k) for k in keep], dtype=bool)
    rest_rows = base[has_rest].assign(bsm=base.loc[has_rest, "bsm"].astype(str) + "R")
    rest_rows[gname] = keep[has_rest]
    moved = [(forest, "0301"), (reclaim, "0103")]
    other_rows = [lu.iloc[idx].assign(bsm=lu["bsm"].iloc[idx].astype(str) + "X", code=code, name=names.get(code, ""),
                                      **({"czcsxm": ""} if "czcsxm" in lu.columns else {})) for idx, code in moved]
    changed = np.concatenate([pick, forest, reclaim]).astype(int)
    kept = lu.drop(index=changed)
    after = pd.concat([kept, conv_rows, rest_rows, *other_rows], ignore_index=True)
    after = gpd.GeoDataFrame(after, geometry=gname, crs=lu.crs)
    if "epoch" in after.columns:
        after["epoch"] = new_epoch
    if "area_m2" in after.columns:
        after.loc[len(kept):, "area_m2"] = ellipsoidal_area(after.iloc[len(kept):])
    approved = np.arange(n_conversions) < n_ok
    tr = gpd.GeoDataFrame({"bsm_before": base["bsm"].astype(str).to_numpy(), "bsm_after": conv_rows["bsm"].to_numpy(),
                           "code_before": base["code"].to_numpy(), "code_after": codes_new, "approved": approved,
                           "partial": partial}, geometry=conv, crs=lu.crs)
    tr["area_m2"] = ellipsoidal_area(tr)
    ap = gpd.GeoDataFrame({"approval_id": [f"PZ{new_epoch}-{k + 1:04d}" for k in np.flatnonzero(approved)],
                           "kind": "农用地转用", "approved_code": codes_new[approved], "year": new_epoch},
                          geometry=conv[approved], crs=lu.crs)
    return after, ap, tr


def ticket_findings(tickets: pd.DataFrame) -> list[Finding]:
    """One error finding per violation ticket (zero tolerance), for the findings table of a report."""
    return [Finding("error", "land.change.violation", "landuse", str(t.bsm_after), "code",
                    {"ticket_id": t.ticket_id, "bsm_before": str(t.bsm_before), "code_before": str(t.code_before),
                     "code_after": str(t.code_after), "area_m2": float(t.area_m2), "area_mu": float(t.area_mu),
                     "in_pbf": bool(t.in_pbf)})
            for t in pd.DataFrame(tickets).itertuples(index=False)]
