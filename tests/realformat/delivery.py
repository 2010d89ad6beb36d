"""A real-format 三调 delivery of a small part of 梓潼县 (510725, 绵阳市), built independently of
``pianqu.synth`` (only ``pianqu.divisions`` is used, for real names and codes).

The county: three real townships of 梓潼县 near 105.15°E 31.63°N, so CGCS2000 3° Gauss–Krüger
CM 105°E is the right CRS (EPSG:4544 without zone prefix, EPSG:4523 zone 35 with prefix):
文昌镇 (the county seat, a 城市 built-up area CZCSXM 201, 6 of its villages/communities), 卧龙镇
(a 建制镇, CZCSXM 202, its 6 villages/communities) and 宝石乡 (a 乡, 5 of its villages; its seat
is a village-like homestead cluster, 203). 17 villages in all, on made-up but realistic geometry:

- villages are unions of small Voronoi blocks grown from seeds over the block adjacency graph
  (irregular, contiguous), townships are unions of villages, the county the union of townships;
- a connected road corridor system as traffic parcels: 1003 公路用地 between the seats (10–18 m),
  1004 城镇村道路用地 street grids inside the two towns (9–12 m), 1006 农村道路 from every
  homestead cluster to the network (4–5 m); a river 1101 (36 m) with bridges; ponds 1104;
- built-up clusters: 0701/0601/0508 town parcels (CZCSXM 201/202), 0702 homesteads (203);
- the rest split into ~1.6 ha irregular parcels (0101/0103 耕地 with GDPDJB, GDLX and KCXS by slope
  grade, 0201, 0301/0305, 0404, 1202) following a smooth made-up terrain;
- every village tiled exactly by its parcels (overlay on a 1 mm grid); TBMJ is the ellipsoidal
  area computed here with ``pyproj.Geod`` on the polygon densified every 5 m in EPSG:4544;
  KCMJ = TBMJ × KCXS and TBDLMJ = TBMJ − KCMJ to the cent; ``Shape_Area`` is the planar GK area;
- planning layers YJJBNT (a subset of the gentle 耕地 parcels), STBHHX (a blob on the hills,
  XZQDM = county code) and CZKFBJ (around the two towns, XZQDM = the 6-digit county code), which
  overlap in places (control-line conflicts, areas in ``truth["conflicts"]``).

Written as a File GDB (XZQ/CJDCQ/DLTB in the ``TDDC`` feature dataset, the planning layers at the
root, Chinese layer and field aliases, EPSG:4544), as GBK Shapefiles (``.cpg`` GBK, EPSG:4523) and
as GeoJSON (EPSG:4490); a township population xlsx and an OSM PBF of the same roads beside them.

Planted defects (``defects=True``; ``defects=False`` writes the clean delivery with the same
parcels): a bow-tie parcel (its ring crosses its own 1 km straight edge by ~4 mm in GK, a valid
ring in degrees, where that edge is the parallel bulging ~12 mm south), 九柏村 written with
桂花村's code (a duplicate village code in CJDCQ and DLTB), two 0810 公园与绿地 parcels in the
county seat (no unique 用地用海 code: review; 0701 in the clean delivery), and CJDCQ.cpg saying
UTF-8 over GBK text. Everything is deterministic (fixed seed) and builds in a few seconds.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import glob
import os
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
import shapely.ops
import shapely.prepared
from pyproj import Geod, Transformer
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import dijkstra

from pianqu import divisions

COUNTY = "510725"
COUNTY_NAME = "梓潼县"
GK, GK_PREFIX, GEO = 4544, 4523, 4490
SEED = 510725
GRID = 0.001  # every overlay on a 1 mm grid: shared edges carry the same vertices
# township code, seat (EPSG:4544 m), CZCSXM of its built-up area, built-up radius (m), 常住人口 (made up)
TOWNSHIPS = [("510725100", (513000.0, 3501300.0), "201", 750.0, 86_000),
             ("510725105", (517000.0, 3502300.0), "202", 380.0, 9_800),
             ("510725217", (515600.0, 3499000.0), "203", 230.0, 7_600)]
VILLAGES = {"510725100": ["510725100001", "510725100002", "510725100201", "510725100202", "510725100204",
                          "510725100209"],
            "510725105": ["510725105001", "510725105201", "510725105206", "510725105209", "510725105210",
                          "510725105211"],
            "510725217": ["510725217201", "510725217202", "510725217203", "510725217207", "510725217208"]}
DUPLICATE = ("510725105209", "510725105206")  # 九柏村 written with 桂花村's code (defects=True)
FARMLAND = ("0101", "0102", "0103")
KCXS = {1: 0.0, 2: 0.05, 3: 0.08, 4: 0.12, 5: 0.15}  # 田坎系数 by 耕地坡度级别 (made up, realistic)
DLMC = {"0101": "水田", "0103": "旱地", "0201": "果园", "0301": "乔木林地", "0305": "灌木林地",
        "0404": "其他草地", "0508": "物流仓储用地", "0601": "工业用地", "0701": "城镇住宅用地",
        "0702": "农村宅基地", "0810": "公园与绿地", "1003": "公路用地", "1004": "城镇村道路用地",
        "1006": "农村道路", "1101": "河流水面", "1104": "坑塘水面", "1202": "设施农用地"}
LAYER_ALIAS = {"XZQ": "行政区", "CJDCQ": "村级调查区", "DLTB": "地类图斑", "YJJBNT": "永久基本农田",
               "STBHHX": "生态保护红线", "CZKFBJ": "城镇开发边界"}
FIELD_ALIAS = {"BSM": "标识码", "YSDM": "要素代码", "TBYBH": "图斑预编号", "TBBH": "图斑编号", "DLBM": "地类编码",
               "DLMC": "地类名称", "QSXZ": "权属性质", "QSDWDM": "权属单位代码", "QSDWMC": "权属单位名称",
               "ZLDWDM": "坐落单位代码", "ZLDWMC": "坐落单位名称", "TBMJ": "图斑面积", "KCDLBM": "扣除地类编码",
               "KCXS": "扣除地类系数", "KCMJ": "扣除地类面积", "TBDLMJ": "图斑地类面积", "GDLX": "耕地类型",
               "GDPDJB": "耕地坡度级别", "XZDWKD": "线状地物宽度", "TBXHDM": "图斑细化代码",
               "TBXHMC": "图斑细化名称", "ZZSXDM": "种植属性代码", "ZZSXMC": "种植属性名称", "GDDB": "耕地等别",
               "FRDBS": "飞入地标识", "CZCSXM": "城镇村属性码", "SJNF": "数据年份", "MSSM": "描述说明",
               "HDMC": "海岛名称", "BZ": "备注", "XZQDM": "行政区代码", "XZQMC": "行政区名称", "DCMJ": "调查面积",
               "JSMJ": "计算面积", "HXMC": "红线名称", "HXLX": "红线类型", "MJ": "面积", "BJLX": "边界类型",
               "JBNTTBBH": "基本农田图斑编号"}
GEOD = Geod(ellps="GRS80")
TO_GEO = Transformer.from_crs(GK, GEO, always_xy=True)
FROM_GEO = Transformer.from_crs(GEO, GK, always_xy=True)


@dataclass
class Delivery:
    """Where the delivery was written and what it holds (``truth`` computed here, independently)."""

    root: Path
    gdb: Path | None
    shp: Path | None  # folder of DLTB.shp, XZQ.shp, …
    geojson: Path | None  # folder of DLTB.geojson, …
    stats_xlsx: Path
    pbf: Path
    defects: bool
    truth: dict
    layers: dict[str, gpd.GeoDataFrame] = field(repr=False, default_factory=dict)  # EPSG:4544


# ---- geometry helpers ----------------------------------------------------------------------------

def _to_geo(geoms):
    return shapely.transform(geoms, lambda xy: np.column_stack(TO_GEO.transform(xy[:, 0], xy[:, 1])))


def geodesic_area(geoms) -> np.ndarray:
    """Ellipsoidal area (m²) of EPSG:4544 polygons: densified every 5 m, to degrees, pyproj.Geod."""
    dense = _to_geo(shapely.segmentize(np.asarray(geoms, dtype=object), 5.0))
    return np.array([abs(GEOD.geometry_area_perimeter(g)[0]) for g in dense])


def _blob(rng, centre, radius, n=48, amp=0.18):
    """An irregular round shape: a circle with smooth radial noise."""
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    r = np.ones(n)
    for k in (2, 3, 5):
        r += amp / k ** 0.5 * np.sin(k * t + rng.uniform(0, 2 * np.pi))
    return shapely.Polygon(np.column_stack([centre[0] + radius * r * np.cos(t), centre[1] + radius * r * np.sin(t)]))


def _wiggle(rng, pts, step=300.0, amp=90.0):
    """A polyline through ``pts`` with smooth sideways noise (zero at the given points)."""
    out = []
    for (x0, y0), (x1, y1) in zip(pts[:-1], pts[1:]):
        length = np.hypot(x1 - x0, y1 - y0)
        n = max(2, int(length // step))
        s = np.linspace(0, 1, n + 1)
        nx, ny = -(y1 - y0) / length, (x1 - x0) / length
        off = amp * (np.sin(np.pi * s) * rng.uniform(-1, 1) + 0.5 * np.sin(2 * np.pi * s) * rng.uniform(-1, 1))
        seg = np.column_stack([x0 + s * (x1 - x0) + off * nx, y0 + s * (y1 - y0) + off * ny])
        out.append(seg if not out else seg[1:])
    return shapely.LineString(np.vstack(out))


def _elevation(x, y):
    """A smooth made-up terrain (m): gentle in the north-west, steep hills in the south-east."""
    x, y = np.asarray(x, float) - 510000.0, np.asarray(y, float) - 3497000.0
    w = np.clip((x - 3000) / 5000 + (3500 - y) / 5000, 0, 1)
    return (450 + 90 * np.sin(x / 1300) * np.cos(y / 1100) + 50 * np.sin((x + y) / 700)
            + w * 160 * np.sin(x / 380) * np.sin(y / 420) + 0.03 * (x - y))


def _slope_grade(pts) -> np.ndarray:
    x, y = shapely.get_x(pts), shapely.get_y(pts)
    d = 10.0
    gx = (_elevation(x + d, y) - _elevation(x - d, y)) / (2 * d)
    gy = (_elevation(x, y + d) - _elevation(x, y - d)) / (2 * d)
    deg = np.degrees(np.arctan(np.hypot(gx, gy)))
    return 1 + np.searchsorted([2.0, 6.0, 15.0, 25.0], deg)


def _parts(geom) -> list:
    if geom is None or geom.is_empty:
        return []
    if geom.geom_type == "Polygon":
        return [geom]
    return [g for g in getattr(geom, "geoms", []) if g.geom_type == "Polygon" and not g.is_empty]


def _voronoi_split(rng, region, spacing: float) -> list:
    """``region`` cut into irregular pieces of about ``spacing``² (Voronoi cells of random points)."""
    area = region.area
    n = max(1, int(round(area / spacing ** 2)))
    if n == 1:
        return _parts(region)
    x0, y0, x1, y1 = region.bounds
    pts = []
    prepared = shapely.prepared.prep(region)
    while len(pts) < n:
        cand = shapely.points(rng.uniform(x0, x1, 4 * n), rng.uniform(y0, y1, 4 * n))
        pts.extend(p for p in cand if prepared.contains(p))
    cells = shapely.voronoi_polygons(shapely.MultiPoint(pts[:n]), extend_to=shapely.box(x0, y0, x1, y1).buffer(50))
    pieces = shapely.intersection(np.asarray(cells.geoms, dtype=object), region, grid_size=GRID)
    return [p for g in pieces for p in _parts(g)]


def _merge_small(pieces: list[dict], min_area: dict[str, float]) -> list[dict]:
    """Merge pieces smaller than their group's minimum into the neighbour sharing most boundary."""
    geoms = [p["geometry"] for p in pieces]
    tree = shapely.STRtree(geoms)
    parent = list(range(len(pieces)))

    def find(i):
        while parent[i] != i:
            i = parent[i]
        return i

    order = sorted(range(len(pieces)), key=lambda i: geoms[i].area)
    for i in order:
        g = pieces[i]["geometry"]
        if parent[i] != i or g.area >= min_area.get(pieces[i]["group"], 1.0):
            continue
        scored = []
        for j in tree.query(geoms[i]):
            r = find(int(j))
            if r == i:
                continue
            same = pieces[r]["group"] == pieces[i]["group"]
            shared = shapely.intersection(g.buffer(0.01), pieces[r]["geometry"]).area  # ≈ shared edge × 1 cm
            if shared > 0:
                scored.append((shared * (10 if same else 1), r))
        best = None
        for _, r in sorted(scored, reverse=True):
            merged = _parts(shapely.union(pieces[r]["geometry"], g, grid_size=GRID))
            if len(merged) == 1:  # one polygon (a collapsed sliver may leave a line beside it)
                merged = merged[0]
                best = r
                break
        if best is None:
            continue
        pieces[best]["geometry"] = merged
        parent[i] = best
    return [p for i, p in enumerate(pieces) if parent[i] == i]


# ---- the county's layout ---------------------------------------------------------------------------

def _divisions(rng):
    """Villages grown from seeds over Voronoi blocks; townships and county as their unions."""
    t = np.linspace(0, 2 * np.pi, 72, endpoint=False)
    r = 1 + 0.06 * np.sin(3 * t + 1.0) + 0.04 * np.sin(5 * t + 2.0)
    cx, cy = 515000.0, 3500800.0
    region = shapely.Polygon(np.column_stack([cx + 4300 * r * np.cos(t), cy + 2900 * r * np.sin(t)]))
    region = shapely.set_precision(region, GRID)
    gx, gy = np.meshgrid(np.arange(region.bounds[0], region.bounds[2], 380.0),
                         np.arange(region.bounds[1], region.bounds[3], 380.0))
    pts = np.column_stack([gx.ravel(), gy.ravel()]) + rng.uniform(-150, 150, (gx.size, 2))
    cells = shapely.voronoi_polygons(shapely.MultiPoint(pts), extend_to=region.buffer(500))
    blocks = [b for b in shapely.intersection(np.asarray(cells.geoms, dtype=object), region, grid_size=GRID)
              if b.geom_type == "Polygon" and b.area > 2000]
    blocks = np.asarray(blocks, dtype=object)
    cent = shapely.centroid(blocks)
    tree = shapely.STRtree(blocks)
    i, j = tree.query(blocks, predicate="intersects")
    keep = i < j
    i, j = i[keep], j[keep]
    shared = shapely.length(shapely.intersection(shapely.boundary(blocks[i]), shapely.boundary(blocks[j])))
    i, j = i[shared > 1], j[shared > 1]
    dist = shapely.distance(cent[i], cent[j]) * rng.uniform(0.6, 1.4, len(i))
    n = len(blocks)
    graph = coo_matrix((np.r_[dist, dist], (np.r_[i, j], np.r_[j, i])), shape=(n, n)).tocsr()

    def grow(sources, allowed):
        sub = graph[allowed][:, allowed]
        local = {b: k for k, b in enumerate(allowed)}
        _, _, src = dijkstra(sub, indices=[local[s] for s in sources], min_only=True, return_predecessors=True)
        return {b: allowed[src[local[b]]] for b in allowed}

    def block_at(xy):
        return int(tree.query(shapely.Point(xy), predicate="intersects")[0])

    seats = [block_at(s) for _, s, *_ in TOWNSHIPS]
    tw_of = grow(seats, list(range(n)))
    villages = []
    for (tcode, seat, *_), seat_block in zip(TOWNSHIPS, seats):
        members = [b for b in range(n) if tw_of[b] == seat_block]
        codes = VILLAGES[tcode]
        kinds = divisions.villages(COUNTY).set_index("code").loc[codes, "kind"].tolist()
        chosen = [seat_block]
        if kinds[1] == "社区":  # a second community next to the first, in the town
            nb = [int(b) for b in graph[seat_block].indices if tw_of[int(b)] == seat_block]
            chosen.append(min(nb, key=lambda b: shapely.distance(cent[b], cent[seat_block])))
        while len(chosen) < len(codes):  # the villages' seeds spread out (farthest point first)
            d = np.min([shapely.distance(cent[members], cent[c]) for c in chosen], axis=0)
            chosen.append(members[int(np.argmax(d * rng.uniform(0.8, 1.0, len(d))))])
        v_of = grow(chosen, members)
        for code, seed in zip(codes, chosen):
            geom = shapely.union_all(blocks[[b for b in members if v_of[b] == seed]], grid_size=GRID)
            villages.append({"code": code, "township_code": tcode, "kind": kinds[codes.index(code)],
                             "geometry": geom})
    return region, villages


def _road_lines(rng, villages):
    """Corridor centrelines: (class, 三调 code, width m, highway tag, name, LineString) in EPSG:4544."""
    seats = {t: s for t, s, *_ in TOWNSHIPS}
    wen, wo, bao = seats["510725100"], seats["510725105"], seats["510725217"]
    lines = [("1003", 18.0, "primary", "S302线", _wiggle(rng, [(509800, 3500300), wen, wo, (520300, 3503600)], amp=110)),
             ("1003", 12.0, "secondary", "梓宝路", _wiggle(rng, [wen, bao], amp=140)),
             ("1003", 10.0, "tertiary", "卧宝路", _wiggle(rng, [wo, bao], amp=140))]
    for (tcode, seat, czcs, radius, _), spacing, width, town in (
            (TOWNSHIPS[0], 260.0, 12.0, "文昌"), (TOWNSHIPS[1], 200.0, 9.0, "卧龙")):
        theta = rng.uniform(0.2, 0.5)
        u = np.array([np.cos(theta), np.sin(theta)])
        v = np.array([-u[1], u[0]])
        k = 1
        for axis, other in ((u, v), (v, u)):
            for off in np.arange(-radius + spacing / 2, radius, spacing):
                a = np.array(seat) + off * other - 1.3 * radius * axis
                b = np.array(seat) + off * other + 1.3 * radius * axis
                lines.append(("1004", width, "residential", f"{town}{k}路", shapely.LineString([a, b])))
                k += 1
    return lines


def _layout(rng, villages):
    """Every land cover region in precedence order, as lists of (code, geometry, extra) per kind."""
    lines = _road_lines(rng, villages)
    towns = []
    for tcode, seat, czcs, radius, _ in TOWNSHIPS[:2]:
        towns.append((czcs, _blob(rng, seat, radius, amp=0.12)))
    town_union = shapely.union_all([g for _, g in towns])
    # 1004 streets only inside the towns
    lines = [(c, w, h, n, (shapely.intersection(g, towns[0 if n.startswith("文昌") else 1][1].buffer(-15))
                            if c == "1004" else g)) for c, w, h, n, g in lines]
    lines = [(c, w, h, n, g) for c, w, h, n, g in lines if not g.is_empty and g.length > 50]
    lines = [(c, w, h, n, max(getattr(g, "geoms", [g]), key=lambda s: s.length)) for c, w, h, n, g in lines]
    clusters = []  # (czcsxm, geometry, main?, village code)
    main_roads = shapely.union_all([g for c, *_, g in lines if c == "1003"])
    river = _wiggle(rng, [(509500, 3499600), (514500, 3500200), (520500, 3501200)], step=400, amp=220)
    bao_seat = dict((t, s) for t, s, *_ in TOWNSHIPS)["510725217"]
    for v in villages:
        if v["kind"] == "社区":
            continue
        inner = v["geometry"].buffer(-180)
        if inner.is_empty:
            inner = v["geometry"].buffer(-60)
        free = inner.difference(town_union.buffer(200)).difference(main_roads.buffer(70)).difference(river.buffer(80))
        if free.is_empty:
            continue
        seat_here = v["geometry"].contains(shapely.Point(bao_seat)) and v["township_code"] == "510725217"
        if seat_here:
            centre = shapely.Point(bao_seat)
            radius = TOWNSHIPS[2][3]
        else:
            cand = shapely.points(rng.uniform(*free.bounds[0::2], 200), rng.uniform(*free.bounds[1::2], 200))
            cand = [p for p in cand if free.contains(p)]
            c0 = v["geometry"].centroid
            centre = min(cand, key=lambda p: p.distance(c0) * rng.uniform(0.7, 1.3))
            radius = rng.uniform(110, 160)
        main = shapely.intersection(_blob(rng, (centre.x, centre.y), radius), v["geometry"].buffer(-20), grid_size=GRID)
        clusters.append(("203", main, True, v["code"]))
        taken = main.buffer(350)
        for _ in range(int(rng.integers(1, 3))):
            cand = shapely.points(rng.uniform(*free.bounds[0::2], 100), rng.uniform(*free.bounds[1::2], 100))
            cand = [p for p in cand if free.contains(p) and not taken.contains(p)]
            if not cand:
                break
            p = cand[0]
            small = _blob(rng, (p.x, p.y), rng.uniform(50, 80))
            clusters.append(("203", small, False, v["code"]))
            taken = taken.union(small.buffer(350))
    # 1006: from every cluster to the nearest point of the network so far, one bend on the way
    built = shapely.union_all([g for _, g, *_ in clusters] + [town_union])
    net = [g for *_, g in lines]
    net_cars = list(net)
    k = 1
    for czcs, g, main, vcode in clusters:
        c = g.centroid
        # a village's main road joins the car network; a small cluster's track may join anything
        target = shapely.ops.nearest_points(c, shapely.union_all(net if not main else net_cars))[1]
        if c.distance(target) < 1:
            continue
        mid = np.array([(c.x + target.x) / 2, (c.y + target.y) / 2])
        d = np.array([target.x - c.x, target.y - c.y])
        mid += np.array([-d[1], d[0]]) / np.linalg.norm(d) * rng.uniform(-0.15, 0.15) * np.linalg.norm(d)
        line = shapely.LineString([(c.x, c.y), tuple(mid), (target.x, target.y)])
        lines.append(("1006", 5.0 if main else 4.0, "unclassified" if main else "track",
                      f"{vcode[-3:]}村道{k}", line))
        net.append(line)
        if main:
            net_cars.append(line)
        k += 1
    return lines, towns, clusters, river, built


def _bowtie_strip(rng, villages, blocked, defects: bool, length: float = 1000.0, h: float = 30.0):
    """Two 1 km strips P (north) and S (south) sharing one straight edge A–B (A, B on one parallel),
    and a wedge N cut into P from its north side, its apex V near the middle of A–B: V lies ``δ``
    south of the GK chord A–B (defects: P's ring crosses itself in GK, not in degrees, where the
    edge is the parallel, ~12 mm further south) or 2 m north of it (clean)."""
    order = rng.permutation(len(villages))
    for vi in order:
        v = villages[vi]
        if v["kind"] == "社区":
            continue
        inner = v["geometry"].buffer(-40).difference(blocked)
        for _ in range(150):
            x = rng.uniform(*inner.bounds[0::2])
            y = rng.uniform(*inner.bounds[1::2])
            lon, lat = TO_GEO.transform(x, y)
            dlon = length / (111_320 * np.cos(np.radians(lat)))
            a = np.round(np.array(FROM_GEO.transform(lon - dlon / 2, lat)), 3)
            b = np.round(np.array(FROM_GEO.transform(lon + dlon / 2, lat)), 3)
            u = (b - a) / np.linalg.norm(b - a)
            n = np.array([-u[1], u[0]])  # north-ish
            rect = shapely.Polygon([a - n * h, b - n * h, b + n * h, a + n * h])
            if inner.contains(rect.buffer(15)):
                return v["code"], _strip_pieces(a, b, u, n, h, defects)
    raise RuntimeError("no room for the bow-tie strip")


def _strip_pieces(a, b, u, n, h, defects):
    L = np.linalg.norm(b - a)
    ks = np.arange(0, L + 1e-9, 10.0)
    ks[-1] = L
    top = [np.round(a + n * h + u * k, 3) for k in ks]  # west → east along P's north side
    bottom = [np.round(a - n * h + u * k, 3) for k in ks]
    mid = len(ks) // 2
    wi, ei = mid - 6, mid + 6  # the wedge's base: 120 m of P's north side
    chord_mid = (a + b) / 2
    lon, lat = TO_GEO.transform(*chord_mid)
    delta = 0.004
    apex = np.round(chord_mid - n * delta, 4) if defects else np.round(chord_mid + n * 2.0, 3)
    p_ring = [a, b] + top[::-1][: len(ks) - ei] + [apex] + top[: wi + 1][::-1]
    p = shapely.Polygon(p_ring)
    wedge = shapely.Polygon(top[wi: ei + 1] + [apex])
    s = shapely.Polygon(bottom + [b, a])
    outer = shapely.Polygon(bottom + top[::-1])
    return {"P": p, "N": wedge, "S": s, "outer": outer, "A": a, "B": b, "apex": apex}


def _pieces(rng, villages, defects):
    """Every parcel of every village: dicts with code, geometry, village, czcsxm, width, group."""
    lines, towns, clusters, river, built = _layout(rng, villages)
    corridors = {}
    for code in ("1003", "1004", "1006"):
        corridors[code] = shapely.union_all(
            [shapely.buffer(g, w / 2, cap_style="flat", join_style="round", quad_segs=4)
             for c, w, _, _, g in lines if c == code], grid_size=GRID)
    corridors["1006"] = shapely.difference(corridors["1006"], shapely.union_all([g for _, g, *_ in clusters]),
                                           grid_size=GRID)
    water = shapely.buffer(river, 18.0, cap_style="flat", quad_segs=4)
    town_union = shapely.union_all([g for _, g in towns])
    ponds = []
    for v in villages[::2]:
        p = shapely.Point(rng.uniform(*v["geometry"].bounds[0::2]), rng.uniform(*v["geometry"].bounds[1::2]))
        if v["geometry"].buffer(-80).contains(p) and p.distance(built) > 150:
            ponds.append(_blob(rng, (p.x, p.y), rng.uniform(25, 45), n=24))
    blocked = shapely.union_all([corridors["1003"], corridors["1004"], corridors["1006"], water.buffer(20),
                                 built.buffer(20)] + [p.buffer(20) for p in ponds])
    strip_village, strip = _bowtie_strip(rng, villages, blocked, defects)
    layers = [("road", "1003", corridors["1003"]), ("road", "1004", corridors["1004"]),
              ("road", "1006", corridors["1006"]), ("water", "1101", water),
              ("town", None, town_union), ("home", "0702", shapely.union_all([g for _, g, *_ in clusters])),
              ("pond", "1104", shapely.union_all(ponds)), ("strip", None, strip["outer"])]
    widths = {c: [(g, w) for cc, w, _, _, g in lines if cc == c] for c in ("1003", "1004", "1006")}
    all_pieces = []
    for v in villages:
        vg = v["geometry"]
        taken = shapely.Polygon()
        pieces = []
        for group, code, geom in layers:
            part = shapely.difference(shapely.intersection(geom, vg, grid_size=GRID), taken, grid_size=GRID)
            if part.is_empty:
                continue
            taken = shapely.union(taken, part, grid_size=GRID)
            if group == "strip":
                continue  # added below, whole
            if group == "town":
                for g in _voronoi_split(rng, part, 130.0):
                    pieces.append({"group": "town", "code": "0701", "geometry": g})
            elif group == "home":
                for g in _parts(part):
                    for s in (_voronoi_split(rng, g, 120.0) if g.area > 30_000 else [g]):
                        pieces.append({"group": "home", "code": "0702", "geometry": s})
            else:
                for g in _parts(part):
                    width = 36.0 if code == "1101" else 0.0
                    if group == "road":
                        rp = g.representative_point()
                        width = min(widths[code], key=lambda gw: gw[0].distance(rp))[1]
                    pieces.append({"group": group, "code": code, "geometry": g, "width": width})
        rest = shapely.difference(vg, taken, grid_size=GRID)
        for g in _voronoi_split(rng, rest, 125.0):
            pieces.append({"group": "rest", "code": None, "geometry": g})
        # what the separate overlays left uncovered (mm slivers) becomes pieces, merged below
        gap = shapely.difference(vg, shapely.union_all([p["geometry"] for p in pieces] + [strip["outer"]],
                                                       grid_size=GRID), grid_size=GRID)
        pieces += [{"group": "gap", "code": None, "geometry": g} for g in _parts(gap)]
        pieces = _merge_small(pieces, {"rest": 400.0, "town": 200.0, "home": 200.0, "road": 50.0,
                                       "water": 50.0, "gap": 1e9})
        left = [p["geometry"] for p in pieces if p["group"] == "gap"]
        assert not left, [(g.area, g.wkt[:200]) for g in left]
        if v["code"] == strip_village:
            pieces += [{"group": "strip", "code": "0103", "geometry": strip["P"], "bowtie": True},
                       {"group": "strip", "code": "0301", "geometry": strip["N"]},
                       {"group": "strip", "code": "0103", "geometry": strip["S"]}]
        for p in pieces:
            p["village"] = v["code"]
        all_pieces += pieces
    return all_pieces, lines, towns, strip


def _classify(rng, pieces, towns, defects):
    """Land cover codes, slope grades and CZCSXM of every piece."""
    geoms = np.array([p["geometry"] for p in pieces], dtype=object)
    rp = shapely.point_on_surface(geoms)
    grade = _slope_grade(rp)
    u = rng.uniform(0, 1, len(pieces))
    wen = towns[0][1]
    town_cells = [i for i, p in enumerate(pieces) if p["group"] == "town"]
    # the two parcels of the county seat nearest its centre become 0810 公园与绿地 (defects only)
    seat = shapely.Point(TOWNSHIPS[0][1])
    parks = sorted((i for i in town_cells if wen.contains(rp[i])), key=lambda i: rp[i].distance(seat))[1:3]
    for i, p in enumerate(pieces):
        p["grade"] = int(grade[i])
        if p["group"] == "rest":
            g = grade[i]
            if g >= 5:
                p["code"] = "0301" if u[i] < 0.7 else "0305"
            elif g == 4:
                p["code"] = "0103" if u[i] < 0.45 else ("0301" if u[i] < 0.8 else "0305")
            else:
                p["code"] = ("0101" if (g <= 2 and u[i] < 0.55) else "0103") if u[i] < 0.82 else \
                    ("0201" if u[i] < 0.88 else ("0301" if u[i] < 0.95 else ("0404" if u[i] < 0.99 else "1202")))
        elif p["group"] == "town":
            p["code"] = "0701" if u[i] < 0.68 else ("0601" if u[i] < 0.9 else "0508")
            if defects and i in parks:
                p["code"] = "0810"
        p["czcsxm"] = ""
        for czcs, tg in towns:
            if tg.contains(rp[i]):
                p["czcsxm"] = czcs
        if p["code"] == "0702":
            p["czcsxm"] = "203"
    return [pieces[i] for i in parks]


# ---- the tables ------------------------------------------------------------------------------------

def _cents(area_m2: np.ndarray) -> np.ndarray:
    return np.floor(np.asarray(area_m2) * 100 + 0.5).astype(np.int64)


def _dltb(pieces, names, code_of) -> gpd.GeoDataFrame:
    geoms = np.array([p["geometry"] for p in pieces], dtype=object)
    codes = np.array([p["code"] for p in pieces], dtype=object)
    farmland = np.isin(codes, FARMLAND)
    grade = np.array([p["grade"] for p in pieces])
    kcxs = np.where(farmland, [KCXS[g] for g in grade], 0.0)
    tbmj_c = _cents(geodesic_area(geoms))
    kcxs_pct = np.round(kcxs * 100).astype(np.int64)
    kcmj_c = (tbmj_c * kcxs_pct + 50) // 100  # TBMJ × KCXS to the cent, half up, in integers
    tbdlmj_c = tbmj_c - kcmj_c
    vcodes = [code_of[p["village"]] for p in pieces]
    zl = [c + "0000000" for c in vcodes]
    zlmc = [names[p["village"]] for p in pieces]
    state = np.isin(codes, ["1003", "1004", "1101", "0701", "0601", "0508", "0810"])
    tbbh = pd.Series(vcodes).groupby(pd.Series(vcodes)).cumcount().to_numpy() + 1
    gdlx = np.where(farmland & (grade >= 2), np.where(grade >= 4, "PD", "TT"), "")
    return gpd.GeoDataFrame({
        "BSM": [f"{COUNTY}211{i + 1:09d}" for i in range(len(pieces))],
        "YSDM": "2001010100",
        "TBYBH": [f"{b:05d}" for b in tbbh],
        "TBBH": [str(b) for b in tbbh],
        "DLBM": codes.astype(str),
        "DLMC": [DLMC[c] for c in codes],
        "QSXZ": np.where(state, "10", "20"),
        "QSDWDM": zl, "QSDWMC": zlmc, "ZLDWDM": zl, "ZLDWMC": zlmc,
        "TBMJ": tbmj_c / 100,
        "KCDLBM": np.where(kcxs > 0, "1203", ""),
        "KCXS": kcxs,
        "KCMJ": kcmj_c / 100,
        "TBDLMJ": tbdlmj_c / 100,
        "GDLX": gdlx,
        "GDPDJB": np.where(farmland, grade.astype(str), ""),
        "XZDWKD": [float(p.get("width", 0.0)) for p in pieces],
        "TBXHDM": "", "TBXHMC": "",
        "ZZSXDM": np.where(farmland, "LS", ""), "ZZSXMC": np.where(farmland, "粮食作物", ""),
        "GDDB": np.where(farmland, np.clip(grade + 7, 8, 12).astype(str), ""),
        "FRDBS": "0",
        "CZCSXM": [p["czcsxm"] for p in pieces],
        "SJNF": np.int32(2019),
        "MSSM": "00", "HDMC": "", "BZ": "",
    }, geometry=geoms, crs=GK)


def build_layers(defects: bool) -> tuple[dict[str, gpd.GeoDataFrame], dict, list]:
    """The six layers in EPSG:4544, the truth, and the road centrelines (for the OSM PBF)."""
    rng = np.random.default_rng(SEED)
    _, villages = _divisions(rng)
    ref = divisions.villages(COUNTY).set_index("code")
    names = {v["code"]: ref.loc[v["code"], "official_name"] for v in villages}
    code_of = {v["code"]: v["code"] for v in villages}
    if defects:
        code_of[DUPLICATE[0]] = DUPLICATE[1]
    pieces, lines, towns, strip = _pieces(rng, villages, defects)
    parks = _classify(rng, pieces, towns, defects)
    dltb = _dltb(pieces, names, code_of)
    dltb["Shape_Area"] = np.round(shapely.area(dltb.geometry.to_numpy()), 4)  # planar GK, as ArcGIS writes it
    tw_names = divisions.townships(COUNTY).set_index("code")["name"]
    vg = gpd.GeoDataFrame({"code": [v["code"] for v in villages], "tcode": [v["township_code"] for v in villages]},
                          geometry=[v["geometry"] for v in villages], crs=GK)
    towns_geom = [shapely.union_all(vg.geometry[vg["tcode"] == t].to_numpy(), grid_size=GRID) for t, *_ in TOWNSHIPS]
    tw_area = np.round(geodesic_area(towns_geom), 2)
    xzq = gpd.GeoDataFrame({"BSM": [f"{COUNTY}100{i + 1:09d}" for i in range(len(TOWNSHIPS))],
                            "YSDM": "1000600100", "XZQDM": [t for t, *_ in TOWNSHIPS],
                            "XZQMC": [tw_names[t] for t, *_ in TOWNSHIPS], "DCMJ": tw_area, "JSMJ": tw_area,
                            "MSSM": "00", "HDMC": "", "BZ": ""}, geometry=towns_geom, crs=GK)
    v_area = np.round(geodesic_area(vg.geometry.to_numpy()), 2)
    cjdcq = gpd.GeoDataFrame({"BSM": [f"{COUNTY}120{i + 1:09d}" for i in range(len(villages))],
                              "YSDM": "1000600200", "ZLDWDM": [code_of[c] + "0000000" for c in vg["code"]],
                              "ZLDWMC": [names[c] for c in vg["code"]], "DCMJ": v_area, "MSSM": "00", "BZ": ""},
                             geometry=vg.geometry.to_numpy(), crs=GK)
    # YJJBNT: gentle 耕地 (grade ≤ 3), about 70 % of it, copied from DLTB
    h = np.array([int(b[-6:]) * 2654435761 % 1000 for b in dltb["BSM"]]) / 1000
    strip_rows = np.array([p["group"] == "strip" for p in pieces])
    sel = dltb[dltb["DLBM"].isin(FARMLAND) & (dltb["GDPDJB"].isin(["1", "2", "3"])) & (h < 0.7) & ~strip_rows]
    tmap = {v["code"]: v["township_code"] for v in villages}
    vtown = [tmap[p["village"]] for p in pieces]
    dltb_town = pd.Series(vtown, index=dltb.index)
    yjjbnt = gpd.GeoDataFrame({"BSM": [f"{COUNTY}410{i + 1:09d}" for i in range(len(sel))], "YSDM": "2090010100",
                               "JBNTTBBH": [f"{i + 1:06d}" for i in range(len(sel))],
                               "XZQDM": dltb_town[sel.index].to_numpy(),
                               "XZQMC": [tw_names[t] for t in dltb_town[sel.index]],
                               "DLBM": sel["DLBM"].to_numpy(), "DLMC": sel["DLMC"].to_numpy(),
                               "GDPDJB": sel["GDPDJB"].to_numpy(), "TBMJ": sel["TBMJ"].to_numpy()},
                              geometry=sel.geometry.to_numpy(), crs=GK)
    county_geom = shapely.union_all(towns_geom, grid_size=GRID)
    red = shapely.intersection(_blob(np.random.default_rng(SEED + 1), (517300.0, 3499200.0), 1150.0, amp=0.2),
                               county_geom, grid_size=GRID)
    stbhhx = gpd.GeoDataFrame({"BSM": [f"{COUNTY}510000000001"], "YSDM": "2510010100",
                               "HXMC": ["梓潼县水源涵养生态保护红线"], "HXLX": ["水源涵养"],
                               "XZQDM": [COUNTY], "XZQMC": [COUNTY_NAME],
                               "MJ": np.round(geodesic_area([red]) / 10_000, 4)},  # 公顷
                              geometry=[red], crs=GK)
    ub = [shapely.intersection(shapely.buffer(tg, d), county_geom, grid_size=GRID)
          for (_, tg), d in zip(towns, (420.0, 220.0))]
    czkfbj = gpd.GeoDataFrame({"BSM": [f"{COUNTY}610{i + 1:09d}" for i in range(2)], "YSDM": "2520010100",
                               "BJLX": ["城镇集中建设区"] * 2, "XZQDM": [COUNTY] * 2, "XZQMC": [COUNTY_NAME] * 2,
                               "MJ": np.round(geodesic_area(ub), 2)},  # m²
                              geometry=ub, crs=GK)
    layers = {"XZQ": xzq, "CJDCQ": cjdcq, "DLTB": dltb, "YJJBNT": yjjbnt, "STBHHX": stbhhx, "CZKFBJ": czkfbj}
    truth = _truth(layers, pieces, parks, defects, names, tw_names)
    truth["strip_village"] = next(p["village"] for p in pieces if p.get("bowtie"))
    return layers, truth, lines


def _truth(layers, pieces, parks, defects, names, tw_names) -> dict:
    dltb = layers["DLTB"]
    cents = _cents(dltb["TBMJ"].to_numpy())
    farm = dltb["DLBM"].isin(FARMLAND).to_numpy()
    bowtie = next(i for i, p in enumerate(pieces) if p.get("bowtie"))
    conflicts = {}
    for a, b in (("YJJBNT", "STBHHX"), ("YJJBNT", "CZKFBJ"), ("STBHHX", "CZKFBJ")):
        ga = shapely.union_all(layers[a].geometry.to_numpy(), grid_size=GRID)
        gb = shapely.union_all(layers[b].geometry.to_numpy(), grid_size=GRID)
        inter = shapely.intersection(ga, gb, grid_size=GRID)
        conflicts[f"{a}×{b}"] = round(float(geodesic_area([inter])[0]) if not inter.is_empty else 0.0, 2)
    by_code = dltb.groupby("DLBM")["TBMJ"].agg(["size", "sum"])
    return {
        "county_code": COUNTY, "county_name": COUNTY_NAME,
        "townships": {t: tw_names[t] for t, *_ in TOWNSHIPS},
        "villages": dict(names),  # real code → official name
        "population": {t: pop for t, *_, pop in TOWNSHIPS},
        "counts": {k: len(v) for k, v in layers.items()},
        "tbmj_sum": int(cents.sum()) / 100,
        "farmland_tbdlmj_sum": int(_cents(dltb["TBDLMJ"].to_numpy())[farm].sum()) / 100,
        "farmland_tbmj_sum": int(cents[farm].sum()) / 100,
        "kcmj_sum": int(_cents(dltb["KCMJ"].to_numpy()).sum()) / 100,
        "by_dlbm": {c: (int(r["size"]), round(float(r["sum"]), 2)) for c, r in by_code.iterrows()},
        "bowtie_bsm": dltb["BSM"].iloc[bowtie] if defects else None,
        "bowtie_candidate_bsm": dltb["BSM"].iloc[bowtie],
        "duplicate_code": DUPLICATE[1] if defects else None,
        "duplicate_villages": [names[DUPLICATE[0]], names[DUPLICATE[1]]] if defects else [],
        "review_bsms": sorted(dltb["BSM"].iloc[[pieces.index(p) for p in parks]]) if defects else [],
        "conflicts": conflicts,
    }


# ---- writers ---------------------------------------------------------------------------------------

def _gdal():
    """GDAL's C library as loaded by pyogrio (field aliases are not exposed by pyogrio)."""
    libs = glob.glob(os.path.join(os.path.dirname(pyogrio.__file__) + ".libs", "libgdal*.so*"))
    path = libs[0] if libs else ctypes.util.find_library("gdal")
    if not path:
        raise RuntimeError("GDAL's C library not found: cannot write the File GDB field aliases")
    lib = ctypes.CDLL(path)
    lib.GDALOpenEx.restype = ctypes.c_void_p
    lib.GDALOpenEx.argtypes = [ctypes.c_char_p, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
    lib.GDALDatasetGetLayerByName.restype = ctypes.c_void_p
    lib.GDALDatasetGetLayerByName.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    lib.OGR_L_GetLayerDefn.restype = ctypes.c_void_p
    lib.OGR_L_GetLayerDefn.argtypes = [ctypes.c_void_p]
    lib.OGR_FD_GetFieldCount.argtypes = [ctypes.c_void_p]
    lib.OGR_FD_GetFieldDefn.restype = ctypes.c_void_p
    lib.OGR_FD_GetFieldDefn.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.OGR_Fld_GetNameRef.restype = ctypes.c_char_p
    lib.OGR_Fld_GetNameRef.argtypes = [ctypes.c_void_p]
    lib.OGR_Fld_GetType.argtypes = [ctypes.c_void_p]
    lib.OGR_Fld_GetAlternativeNameRef.restype = ctypes.c_char_p
    lib.OGR_Fld_GetAlternativeNameRef.argtypes = [ctypes.c_void_p]
    lib.OGR_Fld_Create.restype = ctypes.c_void_p
    lib.OGR_Fld_Create.argtypes = [ctypes.c_char_p, ctypes.c_int]
    lib.OGR_Fld_SetAlternativeName.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    lib.OGR_Fld_Destroy.argtypes = [ctypes.c_void_p]
    lib.OGR_L_AlterFieldDefn.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
    lib.GDALClose.argtypes = [ctypes.c_void_p]
    return lib


ALTER_ALTERNATIVE_NAME_FLAG = 0x80  # ogr_core.h


def set_field_aliases(gdb: Path, aliases: dict[str, dict[str, str]]) -> None:
    """Chinese field aliases in a File GDB, through GDAL's OpenFileGDB driver (AlterFieldDefn)."""
    lib = _gdal()
    ds = lib.GDALOpenEx(str(gdb).encode(), 0x04 | 0x01, None, None, None)  # vector, update
    if not ds:
        raise RuntimeError(f"cannot open {gdb} for update")
    try:
        for layer, mapping in aliases.items():
            lyr = lib.GDALDatasetGetLayerByName(ds, layer.encode())
            defn = lib.OGR_L_GetLayerDefn(lyr)
            for i in range(lib.OGR_FD_GetFieldCount(defn)):
                fld = lib.OGR_FD_GetFieldDefn(defn, i)
                name = lib.OGR_Fld_GetNameRef(fld).decode()
                if name in mapping:
                    new = lib.OGR_Fld_Create(name.encode(), lib.OGR_Fld_GetType(fld))
                    lib.OGR_Fld_SetAlternativeName(new, mapping[name].encode("utf-8"))
                    if lib.OGR_L_AlterFieldDefn(lyr, i, new, ALTER_ALTERNATIVE_NAME_FLAG) != 0:
                        raise RuntimeError(f"cannot set the alias of {layer}.{name}")
                    lib.OGR_Fld_Destroy(new)
    finally:
        lib.GDALClose(ds)


def field_aliases(gdb: Path, layer: str) -> dict[str, str]:
    """The field aliases of a File GDB layer (for the tests)."""
    lib = _gdal()
    ds = lib.GDALOpenEx(str(gdb).encode(), 0x04, None, None, None)
    try:
        defn = lib.OGR_L_GetLayerDefn(lib.GDALDatasetGetLayerByName(ds, layer.encode()))
        out = {}
        for i in range(lib.OGR_FD_GetFieldCount(defn)):
            fld = lib.OGR_FD_GetFieldDefn(defn, i)
            alias = lib.OGR_Fld_GetAlternativeNameRef(fld)
            out[lib.OGR_Fld_GetNameRef(fld).decode()] = alias.decode("utf-8") if alias else ""
        return out
    finally:
        lib.GDALClose(ds)


def _write_gdb(layers, path: Path) -> None:
    for name, frame in layers.items():
        opts = {"LAYER_ALIAS": LAYER_ALIAS[name]}
        if name in ("XZQ", "CJDCQ", "DLTB"):
            opts["FEATURE_DATASET"] = "TDDC"
        frame = frame.drop(columns=["Shape_Area"], errors="ignore")  # the GDB writes its own
        opts["CREATE_SHAPE_AREA_AND_LENGTH_FIELDS"] = "YES"
        pyogrio.write_dataframe(frame, path, layer=name, driver="OpenFileGDB", layer_options=opts)
    set_field_aliases(path, {n: {c: FIELD_ALIAS[c] for c in f.columns if c in FIELD_ALIAS}
                             for n, f in layers.items()})


def _write_shp(layers, root: Path, defects: bool) -> Path | None:
    root.mkdir(parents=True, exist_ok=True)
    wrong = None
    for name, frame in layers.items():
        shifted = frame.copy()
        shifted.geometry = shapely.transform(frame.geometry.to_numpy(), lambda xy: xy + [35_000_000.0, 0.0])
        shifted = shifted.set_crs(GK_PREFIX, allow_override=True)
        pyogrio.write_dataframe(shifted, root / f"{name}.shp", encoding="GBK")
        (root / f"{name}.cpg").write_text("GBK")
    if defects:  # a wrong .cpg variant: GBK text under a .cpg that says UTF-8
        wrong = root / "CJDCQ.cpg"
        wrong.write_text("UTF-8")
    return wrong


def _write_geojson(layers, root: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for name, frame in layers.items():
        geo = frame.copy()
        geo.geometry = _to_geo(frame.geometry.to_numpy())
        geo = geo.set_crs(GEO, allow_override=True)
        pyogrio.write_dataframe(geo, root / f"{name}.geojson", driver="GeoJSON",
                                layer_options={"COORDINATE_PRECISION": "12"})


def _write_stats(path: Path, truth) -> None:
    rows = pd.DataFrame({"行政区代码": list(truth["population"]), "名称": [truth["townships"][t] for t in truth["population"]],
                         "常住人口": list(truth["population"].values())})
    rows.to_excel(path, index=False, engine="openpyxl")


def _write_pbf(path: Path, lines) -> dict[str, int]:
    """The road centrelines as OSM ways (nodes shared where lines cross or end on another line)."""
    import osmium

    geoms = [g for *_, g in lines]
    cuts = [[] for _ in geoms]
    for i, gi in enumerate(geoms):
        for j in range(i + 1, len(geoms)):
            inter = shapely.intersection(gi, geoms[j])
            for p in getattr(inter, "geoms", [inter]):
                if p.geom_type == "Point":
                    cuts[i].append(p)
                    cuts[j].append(p)
            # a line ending on another: its end point is a node of both
            for end in (shapely.Point(geoms[j].coords[0]), shapely.Point(geoms[j].coords[-1])):
                if gi.distance(end) < 1e-6:
                    cuts[i].append(end)
            for end in (shapely.Point(gi.coords[0]), shapely.Point(gi.coords[-1])):
                if geoms[j].distance(end) < 1e-6:
                    cuts[j].append(end)
    nodes: dict[tuple, int] = {}
    ways = []
    for (code, width, highway, name, g), extra in zip(lines, cuts):
        coords = list(g.coords)
        pos = [g.project(shapely.Point(c)) for c in coords] + [g.project(p) for p in extra]
        pts = coords + [(p.x, p.y) for p in extra]
        seq = [pts[k] for k in np.argsort(pos, kind="stable")]
        ids = []
        for x, y in seq:
            lon, lat = TO_GEO.transform(x, y)
            key = (round(lon, 7), round(lat, 7))
            if key not in nodes:
                nodes[key] = len(nodes) + 1
            if not ids or ids[-1] != nodes[key]:
                ids.append(nodes[key])
        ways.append((ids, {"highway": highway, "name": name}))
    if path.exists():
        path.unlink()
    with osmium.SimpleWriter(str(path)) as w:
        for (lon, lat), nid in sorted(nodes.items(), key=lambda kv: kv[1]):
            w.add_node(osmium.osm.mutable.Node(id=nid, location=(lon, lat), tags={}, version=1))
        for k, (ids, tags) in enumerate(ways):
            w.add_way(osmium.osm.mutable.Way(id=k + 1, nodes=ids, tags=tags, version=1))
    return pd.Series([t["highway"] for _, t in ways]).value_counts().to_dict()


def build_delivery(out_dir: Path | str, *, defects: bool, formats=("gdb", "shp", "geojson")) -> Delivery:
    """Write the delivery of 梓潼县 into ``out_dir``: the formats asked for, the population xlsx and
    the OSM PBF. ``truth`` holds what a correct reader must find (see the module docstring)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    layers, truth, lines = build_layers(defects)
    gdb = shp = gj = None
    if "gdb" in formats:
        gdb = out / f"{COUNTY}{COUNTY_NAME}三调.gdb"
        _write_gdb(layers, gdb)
    if "shp" in formats:
        shp = out / "shp"
        wrong = _write_shp(layers, shp, defects)
        truth["wrong_cpg"] = str(wrong) if wrong else None
    if "geojson" in formats:
        gj = out / "geojson"
        _write_geojson(layers, gj)
    stats = out / f"{COUNTY_NAME}乡镇常住人口.xlsx"
    _write_stats(stats, truth)
    pbf = out / f"{COUNTY}.osm.pbf"
    truth["osm_ways"] = _write_pbf(pbf, lines)
    truth["pbf"] = str(pbf)
    return Delivery(out, gdb, shp, gj, stats, pbf, defects, truth, layers)
