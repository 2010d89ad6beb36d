"""The synthetic county's later land-use epoch (a 年度变更调查), its approvals, the reserve
construction land (留白) and project boundaries (issue 6).

The base epoch (``synth.county.EPOCH``) is left as it is; :func:`second_epoch` derives a later
one (``synth.epoch_year``) from plausible processes, each deterministic for (seed, county):

- **town growth**: farmland parcels touching town land (CZCSXM 201/202) become town residential,
  industrial or commercial land; each has a 农用地转用 approval, one only for part of the parcel
  (building beyond the approved area, 超出批准范围);
- **new homesteads**: a half disc cut from a parcel beside a village homestead becomes 0703;
  those on farmland are approved (宅基地审批), on other land every other one;
- **a road**: an 8 m strip between two village seats across farmland (公路用地 1202), approved;
- **illegal occupation**: a few farmland parcels, mostly inside permanent basic farmland and at
  least ``synth.epoch_illegal_min_distance_m`` from every approval, built on (whole or part);
- distractors the detector must not ticket: farmland → forest (退耕还林), homestead → farmland
  (复垦), an approval not yet built.

Approvals are written as the ``approvals`` layer; which conversions are illegal is NOT written
anywhere (:class:`SecondEpoch.planted` stays in memory, for tests). Changed parcels are cut in
EPSG:4490 against the stored geometry, so the later epoch tiles the villages exactly as the base
epoch does; unchanged parcels keep their BSM and geometry, changed ones get new BSMs.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from pianqu import standards
from pianqu.config import Config
from pianqu.geo import STORAGE_EPSG, ellipsoidal_area
from pianqu.synth._util import rng as stage_rng
from pianqu.synth.knobs import synth_config

TOWN_CODES = ("0701", "1001", "0901")  # town residential, industrial, commercial
ILLEGAL_CODES = ("1001", "0703", "0901", "1101")
ROAD_CODE = "1202"
HOMESTEAD = "0703"
MIN_PIECE_M2 = 0.1  # numerical crumbs of a cut are dropped (far below validate's gap tolerance)


@dataclass
class SecondEpoch:
    """The later epoch (``landuse`` rows of year ``year``, EPSG:4490), the layers that go with it,
    and ``planted``: one row per planted farmland/other → construction conversion (process,
    parcel BSMs, whether an approval covers it) — for tests only, never written."""

    year: int
    landuse: gpd.GeoDataFrame
    approvals: gpd.GeoDataFrame
    reserve: gpd.GeoDataFrame
    projects: gpd.GeoDataFrame
    planted: pd.DataFrame

    @property
    def layers(self) -> dict[str, gpd.GeoDataFrame]:
        """The schema layers besides landuse (approvals, reserve, projects)."""
        return {"approvals": self.approvals, "reserve": self.reserve, "projects": self.projects}


def _gk(geoms, epsg: int) -> np.ndarray:
    return gpd.GeoSeries(np.asarray(geoms, dtype=object), crs=STORAGE_EPSG).to_crs(epsg).to_numpy()


def _st(geoms, epsg: int) -> np.ndarray:
    g = shapely.segmentize(np.asarray(geoms, dtype=object), 10.0)
    return gpd.GeoSeries(g, crs=epsg).to_crs(STORAGE_EPSG).to_numpy()


def _largest(geom) -> shapely.Geometry | None:
    parts = [p for p in shapely.get_parts(geom) if p.geom_type == "Polygon" and not p.is_empty]
    return max(parts, key=lambda p: p.area) if parts else None


def _polys(geom) -> list:
    return [p for p in shapely.get_parts(geom) if p.geom_type == "Polygon" and not p.is_empty]


class _Planter:
    """Book-keeping of the planted changes on the base parcels."""

    def __init__(self, lu: gpd.GeoDataFrame, epsg: int):
        self.lu, self.epsg = lu, epsg
        self.G = lu.geometry.to_numpy()
        self.code = lu["code"].astype(str).to_numpy()
        self.cz = lu["czcsxm"].astype(object).where(lu["czcsxm"].notna(), None).to_numpy()
        self.tree = shapely.STRtree(self.G)
        self.pt_gk = shapely.get_coordinates(_gk(shapely.point_on_surface(self.G), epsg))
        self.used = np.zeros(len(lu), dtype=bool)
        self.edits: list[dict] = []  # pos, cutter (EPSG:4490 or None), code, czcsxm, process, approved
        self.approvals: list[dict] = []  # geometry (GK), kind, approved_code, process

    def farm(self) -> np.ndarray:
        return np.char.startswith(self.code.astype(str), "01")

    def edit(self, pos: int, cutter, code: str, cz, process: str, approved: str) -> None:
        self.used[pos] = True
        self.edits.append({"pos": int(pos), "cutter": cutter, "code": code, "czcsxm": cz, "process": process,
                           "approved": approved})

    def approve(self, geom_gk, kind: str, code: str, process: str) -> None:
        self.approvals.append({"geometry": geom_gk, "kind": kind, "approved_code": code, "process": process})

    def piece_area(self, pos: int, cutter) -> float:
        part = shapely.intersection(self.G[pos], cutter)
        return float(shapely.area(_gk([part], self.epsg)[0])) if not shapely.is_empty(part) else 0.0


def _inside(points_st: np.ndarray, layer: gpd.GeoDataFrame | None) -> np.ndarray:
    out = np.zeros(len(points_st), dtype=bool)
    if layer is not None and len(layer):
        i, _ = shapely.STRtree(layer.geometry.to_numpy()).query(points_st, predicate="intersects")
        out[np.unique(i)] = True
    return out


def _road(p: _Planter, seats: gpd.GeoDataFrame, width: float, gen: np.random.Generator) -> dict | None:
    """An 8 m strip between two village seats 1.2–3 km apart with the most farmland on its way."""
    from scipy.spatial import cKDTree

    vs = seats[seats["level"].astype(str) == "village_seat"].reset_index(drop=True)
    if len(vs) < 2:
        return None
    xy = shapely.get_coordinates(_gk(vs.geometry.to_numpy(), p.epsg))
    pairs = np.array(sorted(cKDTree(xy).query_pairs(3000.0)), dtype=int).reshape(-1, 2)
    if not len(pairs):
        return None
    d = np.hypot(*(xy[pairs[:, 0]] - xy[pairs[:, 1]]).T)
    pairs = pairs[d >= 1200.0]
    if not len(pairs):
        return None
    pairs = pairs[gen.permutation(len(pairs))[:60]]
    farm = p.farm()
    best, best_share = None, 0.3
    for a, b in pairs:
        t = np.linspace(0.05, 0.95, 40)[:, None]
        pts = _st(shapely.points(xy[a] + t * (xy[b] - xy[a])), p.epsg)
        i, j = p.tree.query(pts, predicate="within")
        share = farm[j].sum() / 40.0
        if share > best_share:
            best, best_share = (a, b), share
    if best is None:
        return None
    a, b = best
    strip = shapely.buffer(shapely.LineString([xy[a], xy[b]]), width / 2, cap_style="flat")
    cutter = _st([strip], p.epsg)[0]
    hits = [k for k in p.tree.query(cutter, predicate="intersects") if not p.used[k]]
    for k in sorted(hits):
        if p.piece_area(k, cutter) >= 5.0:
            p.edit(k, cutter, ROAD_CODE, None, "road", "yes")
    p.approve(shapely.buffer(strip, 1.0), "农用地转用", ROAD_CODE, "road")
    return {"geometry": strip, "name": f"{vs['name'].iloc[a]}至{vs['name'].iloc[b]}道路"}


def _town_growth(p: _Planter, n: int, in_udb, in_pbf, gen: np.random.Generator) -> None:
    town = np.flatnonzero(np.isin(p.cz.astype(str), ["201", "202"]))
    if not len(town) or n <= 0:
        return
    farm = np.flatnonzero(p.farm() & ~p.used)
    i, j = shapely.STRtree(p.G[town]).query(p.G[farm], predicate="intersects")
    touching = pd.Series(town[j], index=farm[i]).groupby(level=0).first()
    cand = touching.index.to_numpy()
    rank = np.where(in_udb[cand] & ~in_pbf[cand], 0, np.where(~in_pbf[cand], 1, 2))
    cand = cand[np.lexsort((gen.random(len(cand)), rank))][:n]
    for m, k in enumerate(cand):
        code = str(gen.choice(TOWN_CODES))
        g = _gk([p.G[k]], p.epsg)[0]
        if m == 0 and len(cand) > 1:  # approved for about half of the parcel only
            c = shapely.centroid(g)
            x0, y0, x1, y1 = g.bounds
            half = shapely.box(x0 - 10, y0 - 10, c.x, y1 + 10)
            part = _largest(shapely.intersection(g, half))
            p.edit(k, None, code, p.cz[touching[k]], "town", "part")
            if part is not None:
                p.approve(part, "农用地转用", code, "town")
            continue
        p.edit(k, None, code, p.cz[touching[k]], "town", "yes")
        p.approve(shapely.buffer(g, 0.5), "农用地转用", code, "town")


def _homesteads(p: _Planter, n: int, radius: float, in_pbf, gen: np.random.Generator) -> None:
    hs = np.flatnonzero(p.code == HOMESTEAD)
    if not len(hs) or n <= 0:
        return
    first = np.array([c[:2] for c in p.code])
    ok = np.flatnonzero(np.isin(first, ["01", "02", "03"]) & ~p.used & ~in_pbf)
    i, j = shapely.STRtree(p.G[hs]).query(p.G[ok], predicate="intersects")
    nb = pd.Series(hs[j], index=ok[i]).groupby(level=0).first()
    cand = nb.index.to_numpy()[gen.permutation(len(nb))]
    made = 0
    for k in cand:
        if made >= n:
            break
        if p.used[k]:
            continue
        g, h = _gk([p.G[k], p.G[nb[k]]], p.epsg)
        edge = shapely.get_coordinates(shapely.shortest_line(g.exterior, shapely.point_on_surface(h)))[0]
        disc = shapely.Point(edge).buffer(radius, quad_segs=16)
        cutter = _st([disc], p.epsg)[0]
        if p.piece_area(k, cutter) < 100.0:
            continue
        is_farm = p.code[k].startswith("01")
        approved = is_farm or made % 2 == 0
        p.edit(k, cutter, HOMESTEAD, "203", "homestead", "yes" if approved else "not_needed")
        if approved:
            p.approve(shapely.buffer(disc, 0.5), "宅基地", HOMESTEAD, "homestead")
        made += 1


def _distractors(p: _Planter, gen: np.random.Generator) -> None:
    farm = np.flatnonzero(p.farm() & ~p.used)
    for k in gen.choice(farm, size=min(2, len(farm)), replace=False):
        p.edit(k, None, "0301", None, "farmland_to_forest", "not_needed")
    hs = np.flatnonzero((p.code == HOMESTEAD) & ~p.used)
    for k in gen.choice(hs, size=min(2, len(hs)), replace=False):
        p.edit(k, None, "0103", None, "homestead_reclaimed", "not_needed")
    farm = np.flatnonzero(p.farm() & ~p.used)
    if len(farm):  # approved, not yet built
        k = int(gen.choice(farm))
        p.used[k] = True
        p.approve(shapely.buffer(_gk([p.G[k]], p.epsg)[0], 0.5), "农用地转用", "1001", "unbuilt")


def _illegal(p: _Planter, n: int, min_dist: float, in_pbf, gen: np.random.Generator) -> None:
    if n <= 0:
        return
    farm = np.flatnonzero(p.farm() & ~p.used)
    if p.approvals:
        union = shapely.union_all([a["geometry"] for a in p.approvals])
        near = shapely.distance(shapely.points(p.pt_gk[farm]), union) < min_dist + 2000.0  # cheap pre-filter
        d = np.full(len(farm), np.inf)
        d[near] = shapely.distance(_gk(p.G[farm[near]], p.epsg), union)
        farm = farm[d >= min_dist]
    pbf_c, other = farm[in_pbf[farm]], farm[~in_pbf[farm]]
    n_other = 1 if len(other) and n > 1 else 0
    pick = list(gen.choice(pbf_c, size=min(n - n_other, len(pbf_c)), replace=False)) if len(pbf_c) else []
    pick += list(gen.choice(other, size=min(n - len(pick), len(other)), replace=False)) if len(other) else []
    for m, k in enumerate(pick):
        code = str(gen.choice(ILLEGAL_CODES))
        cz = "203" if code == HOMESTEAD else None
        if m % 2 == 0:
            p.edit(k, None, code, cz, "illegal", "no")
            continue
        g = _gk([p.G[k]], p.epsg)[0]
        r = np.sqrt(gen.uniform(600.0, 2500.0) / np.pi)
        disc = shapely.point_on_surface(g).buffer(r, quad_segs=16)
        cutter = _st([disc], p.epsg)[0]
        if p.piece_area(k, cutter) < 50.0:
            p.edit(k, None, code, cz, "illegal", "no")
        else:
            p.edit(k, cutter, code, cz, "illegal", "no")


def _later_landuse(p: _Planter, year: int) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    from pianqu.synth.county import _reverse_sandiao

    lu = p.lu
    names = dict(zip(standards.landuse_codes(2023)["code"], standards.landuse_codes(2023)["name"]))
    rev = _reverse_sandiao()
    prefix = str(lu["bsm"].iloc[0])[:-10] if len(lu) else ""
    serial = len(lu)
    rows, geoms, planted = [], [], []
    for e in p.edits:
        k = e["pos"]
        g = p.G[k]
        if e["cutter"] is None:
            parts = [(q, True) for q in _polys(g)]
        else:
            parts = [(q, True) for q in _polys(shapely.intersection(g, e["cutter"]))]
            parts += [(q, False) for q in _polys(shapely.difference(g, e["cutter"]))]
        area = shapely.area(_gk([q for q, _ in parts], p.epsg)) if parts else np.zeros(0)
        base = lu.iloc[k]
        after_bsm = []
        for (q, conv), a in zip(parts, area):
            if a < MIN_PIECE_M2:
                continue
            serial += 1
            row = base.drop(labels=[lu.geometry.name]).to_dict()
            row["bsm"] = f"{prefix}{serial:010d}"
            if conv:
                code = e["code"]
                row.update(code=code, name=names[code], czcsxm=e["czcsxm"],
                           source_code=rev.get(code[:4]) if len(code) > 4 else rev.get(code))
                after_bsm.append(row["bsm"])
            rows.append(row)
            geoms.append(q)
        planted.append({"process": e["process"], "bsm_before": str(base["bsm"]), "code_before": p.code[k],
                        "code_after": e["code"], "bsm_after": ",".join(after_bsm), "approved": e["approved"],
                        "partial": e["cutter"] is not None})
    keep = lu[~np.isin(np.arange(len(lu)), [e["pos"] for e in p.edits])]
    new = gpd.GeoDataFrame(pd.DataFrame(rows, columns=[c for c in lu.columns if c != lu.geometry.name]),
                           geometry=np.asarray(geoms, dtype=object), crs=lu.crs)
    if len(new):
        new["area_m2"] = ellipsoidal_area(new)
        if "kcxs" in lu.columns:
            from pianqu.synth.county import with_deductions
            new = with_deductions(new)
    new = new.rename_geometry(lu.geometry.name) if new.geometry.name != lu.geometry.name else new
    out = pd.concat([keep, new], ignore_index=True)
    out = gpd.GeoDataFrame(out, geometry=lu.geometry.name, crs=lu.crs)
    for col in lu.columns:
        if col != lu.geometry.name:
            out[col] = out[col].astype(lu[col].dtype)
    out["epoch"] = np.int64(year)
    return out, pd.DataFrame(planted)


def _reserve(layers: dict, epsg: int, gen: np.random.Generator) -> list:
    """Strategic reserve (战略留白) discs inside the largest development boundaries, clear of
    permanent basic farmland and the red line."""
    udb = layers.get("urban_boundary")
    if udb is None or not len(udb):
        return []
    ug = _gk(udb.geometry.to_numpy(), epsg)
    avoid = [g for name in ("farmland_pbf", "eco_redline") if layers.get(name) is not None and len(layers[name])
             for g in _gk(layers[name].geometry.to_numpy(), epsg)]
    avoid_u = shapely.union_all(avoid) if avoid else shapely.Polygon()
    out = []
    for k in np.argsort(-shapely.area(ug))[:3]:
        u = ug[k]
        r = np.sqrt(0.02 * u.area / np.pi)
        x0, y0, x1, y1 = u.bounds
        for _ in range(30):
            c = shapely.Point(gen.uniform(x0, x1), gen.uniform(y0, y1))
            if not u.contains(c):
                continue
            piece = _largest(shapely.difference(shapely.intersection(c.buffer(r, quad_segs=16), u), avoid_u))
            if piece is not None and piece.area > 0.5 * np.pi * r * r:
                out.append((piece, str(udb["township_code"].iloc[k]) if "township_code" in udb else None))
                break
    return out


def _projects(layers: dict, road: dict | None, epsg: int, gen: np.random.Generator) -> list[dict]:
    """Projects and sectoral-plan boundaries for siting compliance: the new road, a major water
    project touching the red line, an industrial park straddling a development boundary, and
    two environmental control units (三线一单)."""
    out = []
    if road is not None:
        out.append({"geometry": road["geometry"], "name": road["name"], "kind": "transport", "major": False,
                    "level": None, "source": "县域综合交通规划"})
    erl = layers.get("eco_redline")
    if erl is not None and len(erl):
        eg = _gk(erl.geometry.to_numpy(), epsg)
        k = int(np.argmax(shapely.area(eg)))
        ring = eg[k].exterior
        c = ring.interpolate(gen.uniform(0, ring.length))
        out.append({"geometry": c.buffer(400.0, quad_segs=16), "name": "水库工程", "kind": "water", "major": True,
                    "level": None, "source": "水利专项规划"})
        out.append({"geometry": _largest(eg[k]), "name": "生态保护红线优先保护单元", "kind": "env_unit",
                    "major": False, "level": "优先保护", "source": "三线一单"})
    udb = layers.get("urban_boundary")
    if udb is not None and len(udb):
        ug = _gk(udb.geometry.to_numpy(), epsg)
        k = int(np.argmax(shapely.area(ug)))
        ring = _largest(ug[k]).exterior
        c = ring.interpolate(gen.uniform(0, ring.length))
        out.append({"geometry": c.buffer(300.0, quad_segs=16), "name": "产业园区", "kind": "urban", "major": False,
                    "level": None, "source": "产业发展规划"})
        tw = layers.get("township")
        code = str(udb["township_code"].iloc[k]) if "township_code" in udb else None
        if tw is not None and code is not None and (tw["code"].astype(str) == code).any():
            tg = _gk(tw.loc[tw["code"].astype(str) == code].geometry.to_numpy(), epsg)[0]
            out.append({"geometry": _largest(tg), "name": "城镇重点管控单元", "kind": "env_unit", "major": False,
                        "level": "重点管控", "source": "三线一单"})
    return [o for o in out if o["geometry"] is not None]


def second_epoch(layers: dict, seed: int, county_code: str, epsg: int, cfg: Config) -> SecondEpoch:
    """The later epoch of ``layers['landuse']`` with planted conversions, the approvals, the
    reserve land and the project boundaries (EPSG:4490 frames in the schema's fields); ``cfg``
    gets the generator knobs when it lacks them (:func:`pianqu.synth.knobs.synth_config`)."""
    from pianqu.synth.county import _frame

    cfg = synth_config(cfg)
    gen = stage_rng(seed, county_code, "epoch")
    year = int(cfg["synth.epoch_year"])
    lu = layers["landuse"].reset_index(drop=True)
    p = _Planter(lu, epsg)
    pts = shapely.point_on_surface(p.G)
    in_pbf = _inside(pts, layers.get("farmland_pbf"))
    in_udb = _inside(pts, layers.get("urban_boundary"))
    road = _road(p, layers["settlement"], float(cfg["synth.epoch_road_width_m"]), gen)
    _town_growth(p, int(cfg["synth.epoch_town_growth"]), in_udb, in_pbf, gen)
    _homesteads(p, int(cfg["synth.epoch_homesteads"]), float(cfg["synth.epoch_homestead_radius_m"]), in_pbf, gen)
    _distractors(p, gen)
    _illegal(p, int(cfg["synth.epoch_illegal"]), float(cfg["synth.epoch_illegal_min_distance_m"]), in_pbf, gen)
    later, planted = _later_landuse(p, year)

    ap = p.approvals
    tcode = lu["township_code"].astype(str).to_numpy()
    ap_pts = _st([shapely.point_on_surface(a["geometry"]) for a in ap], epsg) if ap else np.zeros(0, dtype=object)
    hit = p.tree.query(ap_pts, predicate="intersects") if len(ap) else np.zeros((2, 0), dtype=int)
    where = pd.Series(hit[1], index=hit[0]).groupby(level=0).first() if hit.shape[1] else pd.Series(dtype=int)
    years = gen.integers(year - 1, year + 1, len(ap))
    dates = [f"{y}-{m:02d}-{d:02d}" for y, m, d in zip(years, gen.integers(1, 13, len(ap)), gen.integers(1, 29, len(ap)))]
    numbers = [f"川府土〔{y}〕{100 + k}号" if a["kind"] != "宅基地" else f"{county_code}宅审〔{y}〕{k + 1}号"
               for k, (a, y) in enumerate(zip(ap, years))]
    approvals = _frame("approvals", {
        "id": [f"PZ{year}-{k + 1:04d}" for k in range(len(ap))], "approval_no": numbers, "date": dates,
        "kind": [a["kind"] for a in ap], "approved_code": [a["approved_code"] for a in ap],
        "area_m2": np.zeros(len(ap)), "township_code": [tcode[where[k]] if k in where.index else None
                                                         for k in range(len(ap))]},
        [a["geometry"] for a in ap], epsg)
    if len(approvals):
        approvals["area_m2"] = ellipsoidal_area(approvals)

    rs = _reserve(layers, epsg, gen)
    reserve = _frame("reserve", {"id": [f"LB{k + 1:04d}" for k in range(len(rs))], "kind": ["战略留白"] * len(rs),
                                 "township_code": [t for _, t in rs], "area_m2": np.zeros(len(rs))},
                     [g for g, _ in rs], epsg)
    if len(reserve):
        reserve["area_m2"] = ellipsoidal_area(reserve)
    pj = _projects(layers, road, epsg, gen)
    projects = _frame("projects", {"id": [f"XM{k + 1:04d}" for k in range(len(pj))],
                                   **{f: [o[f] for o in pj] for f in ("name", "kind", "major", "level", "source")}},
                      [o["geometry"] for o in pj], epsg)
    return SecondEpoch(year, later, approvals, reserve, projects, planted)


def with_epochs(layers: dict, later: gpd.GeoDataFrame | None) -> dict:
    """``layers`` with the later epoch's parcels appended to ``landuse`` (one layer, field ``epoch``,
    as the workspace stores epochs)."""
    if later is None or not len(later):
        return layers
    out = dict(layers)
    base = layers["landuse"]
    out["landuse"] = gpd.GeoDataFrame(pd.concat([base, later], ignore_index=True), geometry=base.geometry.name,
                                      crs=base.crs)
    return out
