"""Assembly of one synthetic county: every layer of ``pianqu.schema`` (except the conversion
review list) with the county's real names, codes, membership and census population on
synthetic geometry, and writing it as a workspace.

Stages (each in its own module): layout → terrain and drainage → seats → population →
atoms and the village tiling → land use → roads → parcels → admin polygons → village classes
→ control lines → facilities → telecom → hazards → economy. All geometry is built in the
county's CGCS2000 3° GK zone (metres) and stored in EPSG:4490.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.spatial import cKDTree

from pianqu import divisions, standards
from pianqu.config import Config
from pianqu.geo import STORAGE_EPSG, ellipsoidal_area
from pianqu.i18n import t
from pianqu.progress import task
from pianqu.schema import LAYERS
from pianqu.synth import (admin, controls, economy, epoch, facilities, hazard, hydrology, landuse, layout, parcels,
                          population, roads, settlements, telecom, terrain)
from pianqu.synth._util import rng
from pianqu.synth.knobs import synth_config
from pianqu.workspace import Workspace, WorkspaceError

GENERATOR_VERSION = "1.1"  # 1.1: second land-use epoch with approvals, urban services, county-seat streets
EPOCH = 2023
# every layer but the import's review list and the targets the city assigns (not invented here:
# without them the land engine derives targets by rule and says so)
SYNTH_LAYERS = [name for name in LAYERS if name not in ("landuse_review", "targets", "centres", "statistics")]  # nor a 中心镇 list, nor statistics tables
STAGES = 14


@dataclass
class CountyBuild:
    """A built county: the layers (EPSG:4490) and the intermediate products (GK metres),
    kept for diagnostics, benchmarks and tests."""

    layers: dict[str, gpd.GeoDataFrame | pd.DataFrame]
    geo: layout.CountyGeo
    terrain: terrain.Terrain
    seats: settlements.Seats
    population: population.Population
    atoms: admin.Atoms
    parcels: parcels.Parcels
    road_net: roads.RoadNet
    timings: dict[str, float] = field(default_factory=dict)
    later_epoch: "epoch.SecondEpoch | None" = None  # the later land-use epoch (not in ``layers``' landuse)


def synthesize_county(county_code: str, seed: int = 1, *, config: Config | None = None,
                      detail: float = 1.0) -> dict[str, gpd.GeoDataFrame | pd.DataFrame]:
    """Every layer of a synthetic Sichuan county: real names, codes and census on synthetic geometry.

    Every layer of ``pianqu.schema.LAYERS`` except ``landuse_review``: real names, codes,
    township→village membership and 2020 census population on synthetic geometry, declared
    field names and dtypes, geometry in EPSG:4490. Deterministic for a (county, seed).

    Parameters
    ----------
    county_code : str
        Six-digit code of one of Sichuan's 183 counties (e.g. ``"511921"`` 通江县,
        ``"510403"`` 西区).
    seed : int, default 1
        Seed; the same (county, seed) gives the same layers.
    config : pianqu.config.Config, optional
        Supplies the thresholds and the ``[synth]`` knobs of its pianqu.toml
        (:func:`pianqu.synth.knobs.synth_config`; defaults otherwise).
    detail : float, default 1.0
        Scales the number of atoms the parcels are made of (1.0: about 6 per km² plus 45 per
        village, at most 70 000).

    Returns
    -------
    dict of str to GeoDataFrame or DataFrame
        Layer name → frame, ready for ``Workspace.write``.
    """
    b = build_county(county_code, seed, config=config, detail=detail)
    return epoch.with_epochs(b.layers, b.later_epoch.landuse if b.later_epoch is not None else None)


def build_county(county_code: str, seed: int = 1, *, config: Config | None = None,
                 detail: float = 1.0) -> CountyBuild:
    """Like :func:`synthesize_county`, returning the intermediate products as well."""
    import time

    code = str(county_code).strip()
    geo = layout.county_geo(code)
    cfg = synth_config(config)  # the planning thresholds and the generator knobs (knobs.toml)
    crow = divisions.county(code)
    tws = divisions.townships(code).sort_values("code").reset_index(drop=True)
    vls = divisions.villages(code).sort_values("code").reset_index(drop=True)
    if tws.empty or vls.empty:
        raise ValueError(f"county {code} has no townships or villages in the shipped division data")
    census = divisions.census(code)
    nt, nv = len(tws), len(vls)
    vt = pd.Series(np.arange(nt), index=tws["code"]).loc[vls["township_code"]].to_numpy()
    timings: dict[str, float] = {}
    clock = [time.perf_counter()]

    def lap(name: str) -> None:
        now = time.perf_counter()
        timings[name] = now - clock[0]
        clock[0] = now

    with task(t("synth.progress.county", name=crow["name"], code=code), total=STAGES) as advance:
        outline = layout.county_outline(geo, seed)
        ter = terrain.build_terrain(geo, outline, seed)
        grid = ter.grid
        lap("terrain")
        advance()
        seats = settlements.place_seats(ter, tws, vls, rng(seed, code, "seats"))
        village_weight = _village_land_weight(ter, seats)
        pop = population.allocate(tws, vls, census, seats.seat_township, seats.seat_village, village_weight,
                                  rng(seed, code, "population"),
                                  max_village=float(cfg["validate.max_population_per_village"]))
        lap("seats")
        advance()
        drainage = hydrology.Drainage(ter.parent, ter.acc_km2, ter.river, ter.order, ter.river_dist,
                                      ter.river_near, np.zeros(0, dtype=np.int64))
        river_lines = hydrology.river_lines(grid, drainage, outline)
        seat_xy = grid.xy(seats.village_cell)
        town_xy = grid.xy(seats.town_cell)
        per_cap = float(cfg["synth.urban_land_m2_per_person"])
        town_r = np.sqrt(np.maximum(pop.township_urban * per_cap, float(cfg["synth.town_min_land_m2"])) / np.pi)
        hs_cap = float(cfg["synth.homestead_m2_per_person"])
        village_r = np.sqrt(np.maximum(pop.village - pop.village_urban, 50) * hs_cap / np.pi) + 150.0
        dens = admin.density(ter, town_xy, 1.4 * town_r, seat_xy, village_r)
        atoms = admin.build_atoms(ter, seat_xy, dens, admin.atom_count(geo.area_km2, nv, detail), river_lines,
                                  rng(seed, code, "atoms"))
        if not np.allclose(atoms.xy[:nv], seat_xy):
            raise RuntimeError("internal: village seats are not the first atoms")
        seat_atom = np.arange(nv)
        admin.assign_villages(atoms, ter, seat_atom, vt, seats.prov_township, rng(seed, code, "assign"))
        lap("atoms")
        advance()
        is_comm = (vls["kind"] == "社区").to_numpy()
        lu = landuse.classify(atoms, ter, cfg, town_atom=seat_atom[seats.seat_village], town_urban=pop.township_urban,
                              seat_township=seats.seat_township, county_is_city=not crow["name"].endswith("县"),
                              village_atom=seat_atom, village_rural=pop.village - pop.village_urban,
                              village_is_comm=is_comm, gen=rng(seed, code, "landuse"))
        lap("landuse")
        advance()
        gx, gy = grid.centers()
        owner = cKDTree(atoms.xy).query(np.column_stack([gx.ravel(), gy.ravel()]), k=1)[1]
        township_of_cell = atoms.township[owner].reshape(grid.shape)
        gen_h = rng(seed, code, "hamlets")
        hs = np.flatnonzero((lu.code == "0703") & (lu.town < 0))
        hcells = grid.index(atoms.xy[hs, 0], atoms.xy[hs, 1])
        hcells = hcells[(gen_h.random(len(hcells)) < 0.3) & seats.road_mask.ravel()[hcells]]
        net = roads.build_roads(ter, seats.road_mask, township_of_cell, int(seats.town_cell[seats.seat_township]),
                                seats.town_cell, seats.village_cell, np.unique(hcells), rng(seed, code, "roads"),
                                **roads.road_options(cfg, lu.town[owner], vt))
        lap("roads")
        advance()
        p0 = parcels.merge_atoms(atoms, lu.code, lu.czcsxm, lu.town)
        widths = roads.road_attributes(net.cls)["width_m"] if net.lines else np.zeros(0)
        pc = parcels.cut_roads(p0, net.lines, net.cls, widths)
        pc = parcels.absorb_slivers(pc)
        lap("parcels")
        advance()
        vgeom, tgeom, cgeom = admin.admin_polygons(pc.geom, pc.village, vt, nv)
        lap("admin")
        advance()
        vclass = population.village_classes(vls, tws, vt, seat_xy, town_xy, town_xy[seats.seat_township], pop,
                                            atoms.elev[:nv], atoms.slope[:nv], cfg, rng(seed, code, "classes"))
        advance()
        udb = controls.urban_boundary(pc, tgeom, pop.township_urban, seats.seat_township, cgeom, cfg)
        pbf = controls.farmland(pc, udb, cfg, rng(seed, code, "pbf"))
        water = _water_source(river_lines, town_xy[seats.seat_township], pbf)
        erl = controls.eco_redline(pc, pbf, water, cfg, rng(seed, code, "redline"), geo.terrain)
        lap("controls")
        advance()
        fac = facilities.place(vgeom, seat_xy, vt, list(vls["name"]), pop.village, list(tws["name"]),
                               seats.seat_village, pop.township, pop.township_urban, seats.seat_township,
                               float(census["share_65plus"]), cfg, rng(seed, code, "facilities"))
        lap("facilities")
        advance()
        tel = telecom.coverage(atoms, ter, town_xy, seat_xy, pop.village, net.lines, net.cls, cfg,
                               rng(seed, code, "telecom"))
        lap("telecom")
        advance()
        gen_z = rng(seed, code, "hazard")
        slides = hazard.landslides(atoms, ter, seat_xy, max(3, nv // 25), gen_z)
        flood = hazard.floods(ter, river_lines, town_xy, gen_z)
        lap("hazard")
        advance()
        farm_m2 = np.bincount(vt[pc.village], weights=shapely.area(pc.geom) * np.isin(pc.code, controls.FARMLAND),
                              minlength=nt)
        ind_m2 = np.bincount(vt[pc.village], weights=shapely.area(pc.geom) * np.isin(pc.code, ["1001", "1101"]),
                             minlength=nt)
        econ = economy.economy_table(list(tws["code"]), pop.township, pop.township_urban, farm_m2, ind_m2,
                                     seats.seat_township, geo.terrain, census["urban"] >= 0.9 * census["population"],
                                     cfg, rng(seed, code, "economy"))
        lap("economy")
        advance()
        layers = _frames(code, crow, geo, tws, vls, vt, pop, seats, atoms, pc, vgeom, tgeom, cgeom, vclass, net,
                         river_lines, udb, pbf, erl, fac, tel, slides, flood, econ)
        later = epoch.second_epoch(layers, seed, code, geo.epsg, cfg)  # issue 6: approvals, reserve, projects
        layers.update(later.layers)
        lap("frames")
        advance()
    return CountyBuild(layers, geo, ter, seats, pop, atoms, pc, net, timings, later)


def _village_land_weight(ter: terrain.Terrain, seats: settlements.Seats, radius_m: float = 1500.0) -> np.ndarray:
    """Settlement suitability summed around each village seat (more flat land → more people)."""
    gx, gy = ter.grid.centers()
    inside = ter.inside
    pts = np.column_stack([gx[inside], gy[inside]])
    s = seats.suit[inside]
    tree = cKDTree(ter.grid.xy(seats.village_cell))
    d, which = tree.query(pts, k=1, distance_upper_bound=radius_m)
    ok = np.isfinite(d)
    w = np.bincount(which[ok], weights=s[ok], minlength=len(seats.village_cell))
    return w + 0.05 * max(w.mean(), 1e-9)


def _water_source(rivers: list, seat_xy: np.ndarray, pbf: list) -> shapely.Geometry | None:
    """A drinking-water source strip on the biggest river near the county seat (3–7 km away)."""
    if not rivers:
        return None
    pt = shapely.Point(*seat_xy)
    best = max(rivers, key=lambda r: (r[1], -r[0].distance(pt)))
    line = best[0]
    s0 = line.project(pt)
    lo, hi = s0 + 3000.0, s0 + 7000.0
    if hi > line.length:
        lo, hi = max(0.0, s0 - 7000.0), max(0.0, s0 - 3000.0)
    if hi - lo < 500:
        return None
    from shapely.ops import substring

    strip = shapely.buffer(substring(line, lo, hi), 80.0, quad_segs=4)
    if pbf:
        pb = np.asarray(pbf, dtype=object)
        near = shapely.STRtree(pb).query(strip, predicate="intersects")
        if len(near):
            strip = shapely.difference(strip, shapely.union_all(pb[near]))
    return strip


def _to_4490(geoms, epsg: int) -> gpd.GeoSeries:
    return gpd.GeoSeries(np.asarray(geoms, dtype=object), crs=epsg).to_crs(STORAGE_EPSG)


def _frame(name: str, data: dict, geoms=None, epsg: int | None = None) -> gpd.GeoDataFrame | pd.DataFrame:
    """A layer with exactly the declared fields, in order, with the declared dtypes."""
    spec = LAYERS[name]
    n = len(next(iter(data.values()))) if data else (0 if geoms is None else len(geoms))
    cols = {}
    for f in spec.fields:
        v = data.get(f.name)
        if v is None:
            v = [None] * n
        s = pd.Series(v)
        if f.dtype == "int":
            s = s.astype("int64")
        elif f.dtype == "float":
            s = s.astype("float64")
        elif f.dtype == "bool":
            s = s.astype(bool)
        else:
            s = s.astype(object).where(s.notna(), None)
            s = s.map(lambda x: None if x is None or x == "" else str(x))
        cols[f.name] = s.to_numpy()
    if spec.geometry is None:
        return pd.DataFrame(cols)
    gs = _to_4490(geoms, epsg) if n else gpd.GeoSeries([], crs=STORAGE_EPSG)
    return gpd.GeoDataFrame(cols, geometry=gs.to_numpy(), crs=STORAGE_EPSG)


def _reverse_sandiao() -> dict[str, str]:
    m = standards.sandiao_mapping()
    m = m[m["target"] != ""]
    counts = m.groupby("target")["code"].nunique()
    single = counts[counts == 1].index
    return dict(m[m["target"].isin(single)].drop_duplicates("target").set_index("target")["code"])


def _frames(code, crow, geo, tws, vls, vt, pop, seats, atoms, pc, vgeom, tgeom, cgeom, vclass, net, rivers,
            udb, pbf, erl, fac, tel, slides, flood, econ):
    epsg = geo.epsg
    nt, nv = len(tws), len(vls)
    tcodes = tws["code"].to_numpy(dtype=object)
    tnames = tws["name"].to_numpy(dtype=object)
    vcodes = vls["code"].to_numpy(dtype=object)
    vnames = vls["name"].to_numpy(dtype=object)
    vtcodes = vls["township_code"].to_numpy(dtype=object)
    out: dict[str, gpd.GeoDataFrame | pd.DataFrame] = {}
    out["county"] = _frame("county", {"code": [code], "name": [crow["name"]], "population": [pop.total],
                                      "urban_population": [pop.urban]}, [cgeom], epsg)
    tw = _frame("township", {"code": tws["code"], "name": tws["name"], "county_code": [code] * nt,
                             "kind": tws["kind"], "population": pop.township, "area_m2": np.zeros(nt)}, tgeom, epsg)
    tw["area_m2"] = ellipsoidal_area(tw)
    out["township"] = tw
    vl = _frame("village", {"code": vls["code"], "name": vls["name"], "township_code": vls["township_code"],
                            "kind": vls["kind"], "population": pop.village, "households": pop.households,
                            "village_class": vclass, "area_m2": np.zeros(nv)}, vgeom, epsg)
    vl["area_m2"] = ellipsoidal_area(vl)
    out["village"] = vl

    # settlements: the county seat, one seat per township and per village (at atom generators)
    seat_pts = atoms.xy[:nv]
    st = seats.seat_township
    sv = seats.seat_village
    suffix = "县城" if crow["name"].endswith("县") else ("市区" if crow["name"].endswith("市") else "城区")
    jd = (tws["kind"] == "街道").to_numpy().copy()
    jd[st] = True
    rows = [(code, crow["name"] + suffix, "county_seat", int(pop.township_urban[jd].sum()),
             tcodes[st], vcodes[sv[st]], seat_pts[sv[st]])]
    for ti in range(nt):
        rows.append((tcodes[ti], tnames[ti], "town_seat", int(pop.township_urban[ti]),
                     tcodes[ti], vcodes[sv[ti]], seat_pts[sv[ti]]))
    for v in range(nv):
        rows.append((vcodes[v], vnames[v], "village_seat", int(pop.village[v]), vtcodes[v], vcodes[v], seat_pts[v]))
    out["settlement"] = _frame("settlement", {
        "code": [r[0] for r in rows], "name": [r[1] for r in rows], "level": [r[2] for r in rows],
        "population": [r[3] for r in rows], "township_code": [r[4] for r in rows],
        "village_code": [r[5] for r in rows]}, shapely.points(np.array([r[6] for r in rows])), epsg)

    # land parcels, ordered by village then north-west to south-east
    rp = shapely.get_coordinates(shapely.point_on_surface(pc.geom))
    vcode = vcodes[pc.village]
    order = np.lexsort((rp[:, 0], -rp[:, 1], vcode))
    names = dict(zip(standards.landuse_codes(2023)["code"], standards.landuse_codes(2023)["name"]))
    rev = _reverse_sandiao()
    pcode = pc.code[order]
    lu = _frame("landuse", {
        "bsm": [f"{code}{k + 1:010d}" for k in range(len(order))], "code": pcode,
        "name": [names[c] for c in pcode], "czcsxm": pc.czcsxm[order], "epoch": np.full(len(order), EPOCH),
        "area_m2": np.zeros(len(order)), "township_code": vtcodes[pc.village[order]],
        "village_code": vcode[order], "slope_deg": np.round(pc.slope[order], 2),
        "source_code": [rev.get(c[:4]) if len(c) > 4 else rev.get(c) for c in pcode]}, pc.geom[order], epsg)
    lu["area_m2"] = ellipsoidal_area(lu)
    out["landuse"] = with_deductions(lu)

    def polys(name, prefix, items, extra):
        geoms = [g for g, *_ in items]
        data = {"id": [f"{prefix}{k + 1:05d}" for k in range(len(items))], **extra}
        f = _frame(name, data if items else {"id": []}, geoms, epsg)
        if "area_m2" in f.columns and len(f):
            f["area_m2"] = ellipsoidal_area(f)
        return f

    out["farmland_pbf"] = polys("farmland_pbf", "YJJBNT", [(g,) for g in pbf],
                                {"status": ["已划定"] * len(pbf), "area_m2": np.zeros(len(pbf))})
    out["eco_redline"] = polys("eco_redline", "STBHHX", erl,
                               {"status": ["已划定"] * len(erl), "core_zone": [c for _, c, _ in erl],
                                "kind": [k for _, _, k in erl], "area_m2": np.zeros(len(erl))})
    out["urban_boundary"] = polys("urban_boundary", "CZKFBJ", udb,
                                  {"status": ["已划定"] * len(udb),
                                   "township_code": [tcodes[ti] for _, ti in udb],
                                   "area_m2": np.zeros(len(udb))})
    attrs = roads.road_attributes(net.cls) if net.lines else {"lanes": [], "width_m": [], "speed_kmh": []}
    out["road"] = _frame("road", {"id": [f"DL{k + 1:06d}" for k in range(len(net.lines))], "class": net.cls,
                                  "name": net.name, "lanes": attrs["lanes"], "width_m": attrs["width_m"],
                                  "speed_kmh": attrs["speed_kmh"], "oneway": [False] * len(net.lines)},
                         net.lines, epsg)
    rnames = _river_names(rivers, vgeom, vls, tws, vt)
    out["river"] = _frame("river", {"id": [f"HD{k + 1:05d}" for k in range(len(rivers))], "name": rnames,
                                    "order": [o for _, o in rivers]}, [g for g, _ in rivers], epsg)
    out["facility"] = _frame("facility", {
        "id": [f"SS{k + 1:05d}" for k in range(len(fac))], "kind": [f.kind for f in fac],
        "name": [f.name for f in fac], "level": [f.level for f in fac],
        "capacity": [f.capacity for f in fac], "area_m2": [f.area_m2 for f in fac],
        "township_code": [tcodes[f.township] for f in fac],
        "village_code": [vcodes[f.village] for f in fac]},
        shapely.points([(f.x, f.y) for f in fac]) if fac else [], epsg)
    tel_ids = []
    count = {"4G": 0, "5G": 0}
    for _, tech in tel:
        count[tech] += 1
        tel_ids.append(f"{tech}-{count[tech]:04d}")
    out["telecom"] = _frame("telecom", {"id": tel_ids, "tech": [tc for _, tc in tel]}, [g for g, _ in tel], epsg)
    haz = [(g, "地灾", lv) for g, lv in slides] + [(g, "洪涝", lv) for g, lv in flood]
    out["hazard"] = _frame("hazard", {"id": [f"{'DZ' if k == '地灾' else 'HL'}{i + 1:04d}"
                                             for i, (_, k, _) in enumerate(haz)],
                                      "kind": [k for _, k, _ in haz], "level": [lv for _, _, lv in haz]},
                           [g for g, _, _ in haz], epsg)
    out["economy"] = _frame("economy", {c: econ[c].to_numpy() for c in econ.columns})
    return out


def _river_names(rivers, vgeom, vls, tws, vt) -> list[str]:
    """Rivers take the name of a township (河) or a village (沟) they flow through."""
    if not rivers:
        return []
    mids = shapely.line_interpolate_point(np.array([g for g, _ in rivers], dtype=object), 0.5, normalized=True)
    tree = shapely.STRtree(np.asarray(vgeom, dtype=object))
    a, b = tree.query(mids, predicate="intersects")
    where = np.zeros(len(rivers), dtype=np.int64)
    where[a] = b
    out = []
    for k, (_, order) in enumerate(rivers):
        v = where[k]
        if order >= 3:
            stem = tws.at[vt[v], "name"]
            for s in ("街道", "镇", "乡"):
                stem = stem[: -len(s)] if stem.endswith(s) else stem
            out.append(f"{stem}河")
        else:
            stem = vls.at[v, "name"]
            for s in ("社区", "村"):
                stem = stem[: -len(s)] if stem.endswith(s) else stem
            out.append(f"{stem}沟")
    return out


def write_county(county_code: str, path: str | Path, seed: int = 1, overwrite: bool = False, *,
                 config: Config | None = None, parcels: int | None = None, unmatched: float = 0.0,
                 layers: dict | None = None):
    """Synthesise a county and write it as a new workspace (one audited write).

    The workspace is marked synthetic; its metadata records the seed, the generator version and
    the notice that the geometry is synthetic (every map and report shows it).

    Parameters
    ----------
    county_code : str
        Six-digit code of a Sichuan county (see :func:`synthesize_county`).
    path : str or pathlib.Path
        The ``.gpkg`` file to write.
    seed : int, default 1
        Seed of the synthesis.
    overwrite : bool, default False
        Replace an existing file (else refused with a clear error).
    config : pianqu.config.Config, optional
        Supplies the ``synth.*`` knobs.
    parcels, unmatched : optional
        Split the parcels to real 三调 density: about ``parcels`` parcels, with unmatched shared
        vertices every ``unmatched`` metres (:func:`pianqu.synth.density.densify`).
    layers : dict, optional
        The layers :func:`synthesize_county` already gave for this county and seed (written as
        they are instead of synthesising again, e.g. one build shared by a test session).

    Returns
    -------
    pianqu.workspace.Workspace
        The new workspace, open.

    Examples
    --------
    >>> ws = pianqu.write_county("510403", "xiqu.gpkg", seed=1)            # doctest: +SKIP
    """

    code = str(county_code).strip()
    target = Path(path)
    if target.exists() and not overwrite:
        raise WorkspaceError("synth.exists", path=str(target))
    geo = layout.county_geo(code)
    name = divisions.county(code)["name"]
    layers = dict(layers) if layers is not None else synthesize_county(code, seed, config=config)
    if parcels is not None or unmatched:
        from pianqu.synth.density import densify

        layers = densify(layers, parcels=parcels, seed=seed, unmatched=unmatched, config=config)
    reason = t("synth.reason", name=name, code=code, seed=seed, version=GENERATOR_VERSION)
    ws = Workspace.create(target, county_code=code, county_name=name, synthetic=True, compute_epsg=geo.epsg,
                          epochs=tuple(sorted({int(e) for e in layers["landuse"]["epoch"]})), command="synth",
                          reason=reason, overwrite=overwrite)
    ws.write(layers, command="synth", reason=reason,
             meta_updates={"synth_seed": int(seed), "synth_version": GENERATOR_VERSION,
                           "synthetic_notice": t("common.synthetic_notice", "zh"),
                           "synthetic_notice_en": t("common.synthetic_notice", "en"),
                           **({"synth_parcels": int(parcels or 0), "synth_unmatched": float(unmatched)}
                              if parcels is not None or unmatched else {})})
    return ws


def with_deductions(lu: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The parcels with the 三调 扣除 fields: KCXS of 耕地 (用地用海 01) by its slope grade from
    ``standards/tiankan_coefficients.csv``, 0 elsewhere; KCMJ = TBMJ × KCXS (to the cent, as 三调
    stores it) and TBDLMJ = TBMJ − KCMJ."""
    tk = standards.tiankan_coefficients()
    slope = pd.to_numeric(lu["slope_deg"], errors="coerce").fillna(0.0).to_numpy(dtype=float)
    grade = np.clip(np.searchsorted(tk["max_deg"].to_numpy(), slope, side="left"), 0, len(tk) - 1)
    farm = pd.Series(lu["code"], dtype="string").fillna("").str[:2].to_numpy() == "01"
    kcxs = np.where(farm, tk["kcxs"].to_numpy()[grade], 0.0)
    tbmj = lu["area_m2"].to_numpy(dtype=float)
    out = lu.copy()
    out["kcxs"] = kcxs
    out["kcmj"] = np.round(tbmj * kcxs, 2)
    out["tbdlmj"] = tbmj - out["kcmj"].to_numpy()
    return out
