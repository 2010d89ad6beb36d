"""Realistic synthetic zoning instances: Voronoi townships or villages with seats, populations,
centre indicators and a road graph whose shortest paths give the travel-time matrix.

The synthetic county generator (``pianqu.synth``) is the project's default data; this module is
the zoning engine's own test and benchmark bench: small, deterministic, quick, and it can build
a whole province (183 counties with their real township counts and codes) in seconds.
Geometry is synthetic; codes and names come from :mod:`pianqu.divisions` when asked.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import shortest_path

from pianqu import divisions
from pianqu.geo import STORAGE_EPSG, gk3_epsg
from pianqu.standards import road_classes
from pianqu.config import load_config
from pianqu.inputs import InputSource, PlanInputs
from pianqu.network import build_graph
from pianqu.network.snap import seat_points
from pianqu.parcels import select_epoch
from pianqu.synth import synthesize_county
from pianqu.zoning import instance as zoning_instance
from pianqu.zoning.contiguity import adjacency

# Mean township area and population after the 2019-2020 reform (domain.md §1.1: 156.7 km²,
# 2.93万 people) are the defaults of the generator; they are not planning thresholds.
TOWNSHIP_AREA_KM2 = 156.7
TOWNSHIP_POPULATION = 29_300.0
VILLAGE_AREA_KM2 = 8.0
VILLAGE_POPULATION = 1_600.0


@dataclass(frozen=True)
class Instance:
    """Units (GeoDataFrame in EPSG:4490), travel seconds between seats, and the road edges."""

    units: gpd.GeoDataFrame
    travel_s: np.ndarray
    roads: pd.DataFrame  # i, j, class, length_m, time_s (edges between adjacent seats)


def _blob(rng: np.random.Generator, area_m2: float, x0: float, y0: float) -> shapely.Polygon:
    """A county-like outline: a circle with a few random radial harmonics."""
    theta = np.linspace(0.0, 2 * np.pi, 181)[:-1]
    r = np.ones_like(theta)
    for k in (2, 3, 5):
        r += rng.uniform(0.03, 0.12) * np.cos(k * theta + rng.uniform(0, 2 * np.pi))
    poly = shapely.Polygon(np.c_[np.cos(theta) * r, np.sin(theta) * r])
    scale = np.sqrt(area_m2 / poly.area)
    return shapely.affinity.affine_transform(poly, [scale, 0, 0, scale, x0, y0])


def _points_in(rng: np.random.Generator, poly: shapely.Polygon, n: int) -> np.ndarray:
    x0, y0, x1, y1 = poly.bounds
    out = np.empty((0, 2))
    while len(out) < n:
        cand = rng.uniform((x0, y0), (x1, y1), size=(4 * n, 2))
        inside = shapely.contains_xy(poly, cand[:, 0], cand[:, 1])
        out = np.vstack([out, cand[inside]])
    return out[:n]


def tessellate(rng: np.random.Generator, outline: shapely.Polygon, n: int, *, lloyd: int = 3,
               jitter: float = 0.25) -> tuple[np.ndarray, np.ndarray]:
    """``n`` Voronoi cells tiling ``outline`` (projected metres), relaxed ``lloyd`` times.

    Returns the cells and a seat point per cell (near the cell centroid, jittered so seats are
    not all at the centre, like real town seats).
    """
    pts = _points_in(rng, outline, n)
    cells = None
    for it in range(lloyd + 1):
        vor = shapely.voronoi_polygons(shapely.MultiPoint(pts), extend_to=outline, ordered=True)
        cells = shapely.intersection(np.asarray(vor.geoms), outline)
        if it < lloyd:
            c = shapely.centroid(cells)
            pts = np.c_[shapely.get_x(c), shapely.get_y(c)]
    cells = np.asarray([g if g.geom_type == "Polygon" else max(g.geoms, key=lambda q: q.area)
                        if hasattr(g, "geoms") else g for g in cells])
    cent = shapely.centroid(cells)
    cx, cy = shapely.get_x(cent), shapely.get_y(cent)
    radius = np.sqrt(shapely.area(cells) / np.pi)
    ang = rng.uniform(0, 2 * np.pi, n)
    rad = rng.uniform(0, jitter, n) * radius
    sx, sy = cx + rad * np.cos(ang), cy + rad * np.sin(ang)
    inside = shapely.contains_xy(cells, sx, sy)
    rp = shapely.point_on_surface(cells)
    sx = np.where(inside, sx, shapely.get_x(rp))
    sy = np.where(inside, sy, shapely.get_y(rp))
    return cells, np.c_[sx, sy]


def road_travel_times(seats: np.ndarray, edges: np.ndarray, rng: np.random.Generator, *,
                      classes: tuple[str, ...] = ("provincial", "county", "township"),
                      weights: tuple[float, ...] = (0.15, 0.45, 0.40),
                      detour: tuple[float, float] = (1.15, 1.6)) -> tuple[np.ndarray, pd.DataFrame]:
    """All-pairs travel seconds over a road graph that links the seats of adjacent units.

    Each edge gets a road class (speed from ``standards.road_classes()``) and a detour factor
    over the straight line (mountain roads wind); shortest paths by Dijkstra (scipy).
    """
    speeds = road_classes().set_index("class")["speed_kmh"]
    n = len(seats)
    i, j = edges[:, 0], edges[:, 1]
    cls = rng.choice(np.asarray(classes), size=len(i), p=np.asarray(weights) / np.sum(weights))
    length = np.hypot(*(seats[i] - seats[j]).T) * rng.uniform(*detour, size=len(i))
    time_s = length / (speeds.loc[cls].to_numpy() / 3.6)
    g = coo_matrix((np.r_[time_s, time_s], (np.r_[i, j], np.r_[j, i])), shape=(n, n)).tocsr()
    travel = shortest_path(g, method="D", directed=False)
    roads = pd.DataFrame({"i": i, "j": j, "class": cls, "length_m": length, "time_s": time_s})
    return travel, roads


def _touching_pairs(cells: np.ndarray, min_shared_m: float) -> np.ndarray:
    tree = shapely.STRtree(cells)
    a, b = tree.query(shapely.buffer(cells, 1.0), predicate="intersects")
    keep = a < b
    a, b = a[keep], b[keep]
    shared = shapely.length(shapely.intersection(shapely.boundary(cells[a]), shapely.buffer(cells[b], 1.0)))
    ok = shared >= min_shared_m
    return np.c_[a[ok], b[ok]]


def synthetic_county(n: int, *, seed: int = 0, level: str = "township", county_code: str = "510000",
                     codes: list[str] | None = None, names: list[str] | None = None,
                     kinds: list[str] | None = None, lon: float = 104.0, lat: float = 30.5,
                     total_population: float | None = None) -> Instance:
    """A county of ``n`` townships (``level="township"``) or villages (``"village"``).

    Units carry ``code, name, county_code, kind, population`` plus centre indicators
    (``built_up_km2, gdp_yi, facilities``) and seats (``seat_lon, seat_lat``); the unit
    holding the county seat (the most central, most populous) is marked ``is_county_seat``.
    """
    rng = np.random.default_rng(seed)
    area_km2 = TOWNSHIP_AREA_KM2 if level == "township" else VILLAGE_AREA_KM2
    mean_pop = TOWNSHIP_POPULATION if level == "township" else VILLAGE_POPULATION
    epsg = gk3_epsg(lon)
    x0 = 500_000.0 + (lon - 3 * round(lon / 3)) * 96_000.0
    y0 = lat * 110_900.0
    outline = _blob(rng, n * area_km2 * rng.uniform(0.8, 1.2) * 1e6, x0, y0)
    cells, seats = tessellate(rng, outline, n)
    # the county seat: the cell nearest the outline's centre, with a large population
    c = shapely.centroid(outline)
    d = np.hypot(seats[:, 0] - c.x, seats[:, 1] - c.y)
    seat_unit = int(np.argmin(d))
    pop = rng.lognormal(0.0, 0.55, n)
    pop *= 1.0 + 0.6 * np.exp(-d / d.max() * 3)  # denser near the county seat
    pop[seat_unit] *= 3.5
    pop = pop / pop.mean() * mean_pop
    if total_population is not None:
        pop = pop / pop.sum() * total_population
    pop = np.maximum(np.round(pop), 50)
    built = pop / 10_000.0 * rng.lognormal(np.log(0.45), 0.35, n)  # km² of built-up land
    gdp = pop / 10_000.0 * rng.lognormal(np.log(6.0), 0.5, n)  # 亿元
    fac = rng.poisson(2 + pop / pop.mean() * 4)
    edges = _touching_pairs(cells, 1.0)
    travel, roads = road_travel_times(seats, edges, rng)
    if level == "township":
        codes = codes or [f"{county_code}{k + 1:03d}" for k in range(n)]
        names = names or [f"第{k + 1}镇" for k in range(n)]
        kinds = kinds or ["镇"] * n
    else:
        codes = codes or [f"{county_code}001{k + 1:03d}" for k in range(n)]
        names = names or [f"第{k + 1}村" for k in range(n)]
        kinds = kinds or ["村"] * n
    geo = gpd.GeoSeries(cells, crs=epsg)
    seats_geo = gpd.GeoSeries(shapely.points(seats), crs=epsg).to_crs(STORAGE_EPSG)
    units = gpd.GeoDataFrame({
        "code": codes, "name": names, "county_code": county_code, "kind": kinds,
        "population": pop.astype(int), "built_up_km2": built, "gdp_yi": gdp, "facilities": fac,
        "is_county_seat": np.arange(n) == seat_unit,
        "seat_lon": seats_geo.x.to_numpy(), "seat_lat": seats_geo.y.to_numpy(),
    }, geometry=geo.to_crs(STORAGE_EPSG))
    return Instance(units, travel, roads)


def synthetic_villages(township: Instance, *, villages_per_township: int | np.ndarray = 15,
                       seed: int = 0, village_classes: bool = True) -> Instance:
    """Villages tiling each township of ``township`` (a county), with seats, populations
    summing to the township's, a village class and a road graph (village roads are slow)."""
    rng = np.random.default_rng(seed)
    tw = township.units
    epsg = gk3_epsg(float(tw.geometry.union_all().centroid.x))
    proj = tw.to_crs(epsg)
    counts = np.broadcast_to(np.asarray(villages_per_township), (len(tw),))
    cells_all, seats_all, rows = [], [], []
    for k, (poly, tcode, tpop, n_v) in enumerate(zip(proj.geometry, tw["code"], tw["population"], counts)):
        cells, seats = tessellate(rng, poly, int(n_v), lloyd=2)
        vpop = rng.lognormal(0.0, 0.5, int(n_v))
        vpop = np.maximum(np.round(vpop / vpop.sum() * tpop), 30)
        for m in range(int(n_v)):
            rows.append({"code": f"{tcode}{m + 1:03d}", "name": f"{tw['name'].iloc[k]}{m + 1}村",
                         "township_code": tcode, "county_code": tw["county_code"].iloc[k],
                         "kind": "村", "population": int(vpop[m])})
        cells_all.extend(cells)
        seats_all.append(seats)
    cells = np.asarray(cells_all)
    seats = np.vstack(seats_all)
    n = len(cells)
    edges = _touching_pairs(cells, 1.0)
    travel, roads = road_travel_times(seats, edges, rng, classes=("county", "township", "village"),
                                      weights=(0.1, 0.3, 0.6))
    units = gpd.GeoDataFrame(rows, geometry=gpd.GeoSeries(cells, crs=epsg).to_crs(STORAGE_EPSG))
    seats_geo = gpd.GeoSeries(shapely.points(seats), crs=epsg).to_crs(STORAGE_EPSG)
    units["seat_lon"], units["seat_lat"] = seats_geo.x.to_numpy(), seats_geo.y.to_numpy()
    units["built_up_km2"] = units["population"] / 10_000 * rng.lognormal(np.log(0.8), 0.3, n)
    units["gdp_yi"] = units["population"] / 10_000 * rng.lognormal(np.log(3.0), 0.5, n)
    units["facilities"] = rng.poisson(1 + units["population"].to_numpy() / 1000)
    if village_classes:
        units["village_class"] = rng.choice(["集聚提升", "城郊融合", "特色保护", "搬迁撤并"], size=n,
                                            p=[0.55, 0.1, 0.15, 0.2])
    return Instance(units, travel, roads)


def synthetic_province(*, seed: int = 0, counties: list[str] | None = None) -> list[Instance]:
    """Every Sichuan county (or the ``counties`` given) with its real township codes, names,
    kinds and count, real 2020 census population and synthetic geometry."""
    table = divisions.counties()
    if counties is not None:
        table = table[table["code"].isin(counties)]
    out = []
    for k, row in enumerate(table.itertuples(index=False)):
        tw = divisions.townships(row.code)
        try:
            total = divisions.census(row.code)["population"]
        except KeyError:
            total = None
        lon = 98.0 + 8.0 * ((k * 0.618) % 1.0)
        lat = 27.0 + 6.0 * ((k * 0.382) % 1.0)
        out.append(synthetic_county(len(tw), seed=seed * 1000 + k, county_code=row.code,
                                    codes=list(tw["code"]), names=list(tw["name"]), kinds=list(tw["kind"]),
                                    lon=lon, lat=lat, total_population=total))
    return out


@dataclass(frozen=True)
class CountyVillages:
    """The village level of a county from the project's synthetic county generator
    (``pianqu.synth``): what :func:`pianqu.plan.plan` hands to village zoning."""

    townships: gpd.GeoDataFrame
    township_travel_s: np.ndarray
    township_zone: pd.Series  # township code → code of its township-level zone centre
    villages: gpd.GeoDataFrame
    travel_s: np.ndarray  # drive time between village seats on the county's road graph
    adjacency: object  # pianqu.zoning.contiguity.Adjacency of the villages


def county_villages(county_code: str, seed: int = 1, *, layers: dict | None = None, config=None) -> CountyVillages:
    """Build a synthetic county (``pianqu.synth.synthesize_county``, tens of seconds), its road
    graph and seat-to-seat drive times, zone its townships as ``pianqu plan`` does (the zoning
    instance of :mod:`pianqu.zoning.instance`: automatic p, its candidates, member bounds and
    pre-merger groups) and return the village instance. ``layers``: an already built county."""

    cfg = config or load_config()
    if layers is None:
        layers = synthesize_county(county_code, seed, config=cfg)
    inputs = synthetic_inputs(layers, cfg)
    landuse = select_epoch(layers.get("landuse"))  # the base epoch, as read_landuse gives a workspace
    inst = zoning_instance.from_inputs(inputs, county_code=county_code, landuse=landuse, config=cfg)
    result = zoning_instance.solve(inst)
    vil = inputs.villages
    vs = seat_points(inputs.settlements, vil["code"], "village_seat", "village_code")
    Tv = inputs.travel_s(vs, vs)
    vadj = adjacency(vil, travel_s=Tv, layer="village", county=None, config=cfg)
    return CountyVillages(inst.units, inst.travel_s, result.assignment, vil, Tv, vadj)


def synthetic_inputs(layers: dict, config=None) -> PlanInputs:
    """The :class:`pianqu.inputs.PlanInputs` of a synthesised county's layers (every input given,
    the road graph built), without writing a workspace."""
    cfg = config or load_config()
    town = layers["township"].copy()
    town["code"] = town["code"].astype(str)
    vil = layers["village"].copy()
    vil["code"] = vil["code"].astype(str)
    given = {name: InputSource(name, "given", "layer", len(layers[layer]))
             for name, layer in (("road", "road"), ("settlement", "settlement"), ("population", "township"),
                                 ("facility", "facility"), ("economy", "economy")) if layer in layers}
    return PlanInputs(town, vil, layers["settlement"], layers["road"], layers.get("facility"), layers.get("economy"),
                      given, [], cfg, build_graph(layers["road"], config=cfg))
