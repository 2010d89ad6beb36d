"""Derived roads against the true network (issue 11: choose each fallback by measurement).

A synthetic county has a true road layer and the 三调-style traffic parcels the synthesiser cut
from it (each road buffered by half its width: 公路用地 1202, 村道用地 060101, 城镇村道路用地 1207
inside towns, split per village). For township seat × township seat and village seat × village
seat pairs, drive times over (a) the true network, (b) the centreline network derived from the
parcels by :func:`pianqu.derive.roads.centreline_roads` and (c) straight-line times
(:func:`pianqu.derive.roads.straight_line_times`) are compared: median and 90th percentile of the
relative error |t − t_true| / t_true, the median signed error, and the share within 10 %.

The straight-line detour factor and speed are measured here too (``--fit``): the detour is the
median of shortest road distance over ellipsoidal distance, the speed the one that makes the
median straight-line time equal the true one.

``--bridges M`` cuts every road parcel within M/2 m of a river line near each crossing at
``--bridge-min-angle`` degrees or more (a bridge mapped as water) to measure the gap joining.

    python benchmarks/bench_derived_roads.py [--counties 511921,510403,510115] [--fit] [--bridges 20]
        [--bridge-min-angle 20]
"""

from __future__ import annotations

import argparse
import time

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from pianqu.config import load_config
from pianqu.derive.roads import centreline_roads, road_parcel_codes, straight_line_times
from pianqu.geo import compute_epsg
from pianqu.parcels import select_epoch
from pianqu.network import build_graph, od_matrix
from pianqu.network.snap import seat_points
from pianqu.synth import synthesize_county


def seats(layers: dict) -> dict[str, gpd.GeoDataFrame]:
    s = layers["settlement"]
    return {"township": seat_points(s, layers["township"]["code"], "town_seat", "township_code"),
            "village": seat_points(s, layers["village"]["code"], "village_seat", "village_code")}


def errors(t: np.ndarray, ref: np.ndarray) -> dict:
    off = ~np.eye(len(ref), dtype=bool)
    ok = off & np.isfinite(ref) & (ref > 0)
    unreachable = float((~np.isfinite(t[ok])).mean())
    rel = np.abs(t[ok] - ref[ok]) / ref[ok]
    signed = (t[ok] - ref[ok]) / ref[ok]
    rel = np.where(np.isfinite(rel), rel, np.inf)
    return {"median": float(np.median(rel)), "p90": float(np.quantile(rel, 0.9)),
            "bias": float(np.median(signed[np.isfinite(signed)])) if np.isfinite(signed).any() else np.nan,
            "within10": float((rel <= 0.10).mean()), "unreachable": unreachable, "pairs": int(ok.sum())}


def crossing_angle(road: shapely.LineString, river: shapely.LineString, p: shapely.Point, half: float = 15.0) -> float:
    """Angle (degrees, 0–90) between a road and a river where they cross at ``p``, each line's
    direction taken over ``half`` m either side."""
    def direction(line):
        s = line.project(p)
        a, b = line.interpolate(max(s - half, 0.0)), line.interpolate(min(s + half, line.length))
        return np.array([b.x - a.x, b.y - a.y])
    u, v = direction(road), direction(river)
    n = np.linalg.norm(u) * np.linalg.norm(v)
    return float(np.degrees(np.arccos(min(abs(u @ v) / n, 1.0)))) if n > 0 else 90.0


def with_bridges(landuse: gpd.GeoDataFrame, rivers: gpd.GeoDataFrame, roads: gpd.GeoDataFrame, gap_m: float,
                 epsg: int, min_angle: float = 0.0) -> gpd.GeoDataFrame:
    """Road parcels cut where a true road crosses a river (the bridge mapped as water): the river
    buffered by ``gap_m``/2 within 30 m of each crossing point; the pieces cut out become
    河流水面 parcels (用地用海 1701, 三调 1101), as 三调 maps the water under a bridge. Crossings at
    less than ``min_angle`` degrees are left alone: the synthesiser routes some valley roads on
    the river line itself, "crossing" it every few tens of metres over hundreds of metres, which
    no bridge does."""
    lu = select_epoch(landuse).copy()
    road = road_parcel_codes(lu)["drivable"].to_numpy(bool)
    rlines = shapely.get_parts(rivers.to_crs(epsg).geometry.to_numpy())
    river = shapely.union_all(rlines)
    rd = shapely.get_parts(roads.to_crs(epsg).geometry.to_numpy())
    cross = shapely.intersection(river, shapely.union_all(rd))
    pts = shapely.get_parts(shapely.extract_unique_points(cross))
    if min_angle > 0 and len(pts):
        near_road = shapely.STRtree(rd).query_nearest(pts, all_matches=False)[1]
        near_river = shapely.STRtree(rlines).query_nearest(pts, all_matches=False)[1]
        ang = np.array([crossing_angle(rd[i], rlines[j], p) for p, i, j in zip(pts, near_road, near_river)])
        pts = pts[ang >= min_angle]
    cut = shapely.intersection(shapely.buffer(river, gap_m / 2, cap_style="flat"),
                               shapely.union_all(shapely.buffer(pts, 30.0)))
    g = lu.geometry.to_crs(epsg).to_numpy()
    water = lu[road].copy()
    wg = shapely.intersection(g[road], cut)
    g[road] = shapely.difference(g[road], cut)
    lu = lu.set_geometry(gpd.GeoSeries(g, crs=epsg, index=lu.index).to_crs(4490))
    water = water.set_geometry(gpd.GeoSeries(wg, crs=epsg, index=water.index).to_crs(4490))
    water["code"] = "1701"
    if "source_code" in water.columns:
        water["source_code"] = "1101"
    water = water[~water.geometry.is_empty & (shapely.area(wg) > 0)]
    return pd.concat([lu[~lu.geometry.is_empty], water], ignore_index=True)


def fit_straight(layers: dict, graph_true, cfg) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(road distance, straight distance, true time) over all seat pairs of a county."""
    roads = layers["road"].copy()
    roads["speed_kmh"] = 3.6  # 1 m/s: the time is the shortest distance in metres
    dist_g = build_graph(roads, config=load_config(overrides={"network.drive_access_speed_kmh": 3.6}))
    out = []
    for pts in seats(layers).values():
        t = od_matrix(graph_true, pts, pts)
        d = od_matrix(dist_g, pts, pts)
        unit = load_config(overrides={"derive.straight_line_detour": 1.0, "derive.straight_line_speed_kmh": 3.6})
        s = straight_line_times(pts, pts, config=unit)  # metres
        off = ~np.eye(len(t), dtype=bool) & np.isfinite(t) & (s > 0)
        out.append((d[off], s[off], t[off]))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--counties", default="511921,510403,510115")
    ap.add_argument("--fit", action="store_true", help="measure the straight-line detour factor and speed")
    ap.add_argument("--bridges", type=float, default=0.0, help="cut road parcels at rivers over this gap (m)")
    ap.add_argument("--bridge-min-angle", type=float, default=20.0,
                    help="cut only crossings at this angle (degrees) or more (0: every crossing)")
    ap.add_argument("--set", action="append", default=[], help="threshold override key=value")
    args = ap.parse_args()
    cfg = load_config(overrides={k: float(v) for k, v in (kv.split("=") for kv in args.set)})
    rows = []
    fits = []
    for code in args.counties.split(","):
        t0 = time.perf_counter()
        layers = synthesize_county(code, 1)
        epsg = compute_epsg(layers["road"])
        synth_s = time.perf_counter() - t0
        landuse = layers["landuse"]
        if args.bridges > 0:
            landuse = with_bridges(landuse, layers["river"], layers["road"], args.bridges, epsg,
                                   args.bridge_min_angle)
        t0 = time.perf_counter()
        derived = centreline_roads(landuse, config=cfg, compute_epsg=epsg)
        derive_s = time.perf_counter() - t0
        g_true = build_graph(layers["road"], config=cfg, epsg=epsg)
        g_der = build_graph(derived, config=cfg, epsg=epsg)
        st = derived.attrs["stats"]
        print(f"{code}: synth {synth_s:.1f} s; {st['parcels']} road parcels, {st['groups']} groups, "
              f"{st['triangles']} triangles → {st['lines']} lines, {st['length_km']:.0f} km "
              f"(true {layers['road'].to_crs(epsg).length.sum() / 1000:.0f} km), {st['joins']} joins "
              f"({st['bridge_joins']} bridges, {st['gap_joins']} gaps, {st['settlement_joins']} hamlets); "
              f"derive {derive_s:.2f} s {st}; components true {g_true.n_components}, derived {g_der.n_components}")
        for level, pts in seats(layers).items():
            ref = od_matrix(g_true, pts, pts)
            cen = od_matrix(g_der, pts, pts)
            stl = straight_line_times(pts, pts, config=cfg)
            for name, t in (("centreline", cen), ("straight", stl)):
                rows.append((code, level, name, errors(t, ref)))
        if args.fit:
            for level, f in zip(("township", "village"), fit_straight(layers, g_true, cfg)):
                fits.append((code, level, *f))
    print()
    print("| county | seats | method | pairs | median rel. error | p90 rel. error | median signed | within 10 % | unreachable |")
    print("|---|---|---|---|---|---|---|---|---|")
    for code, level, name, e in rows:
        print(f"| {code} | {level} | {name} | {e['pairs']} | {e['median']:.1%} | {e['p90']:.1%} | "
              f"{e['bias']:+.1%} | {e['within10']:.1%} | {e['unreachable']:.1%} |")
    if fits:
        print("\n| county | seats | pairs | detour: median road / straight distance (p10–p90) | speed making the median time exact |")
        print("|---|---|---|---|---|")
        det, spd = [], []
        for code, level, d, s, t in fits:
            ok = (s > 0) & np.isfinite(d) & np.isfinite(t)
            ratio = d[ok] / s[ok]
            detour = float(np.median(ratio))
            speed = float(np.median(s[ok] * detour / t[ok])) * 3.6
            det.append(detour)
            spd.append(speed)
            print(f"| {code} | {level} | {ok.sum()} | {detour:.3f} ({np.quantile(ratio, 0.1):.2f}–"
                  f"{np.quantile(ratio, 0.9):.2f}) | {speed:.1f} km/h |")
        print(f"\nmedian over the county × seat-level groups: detour {np.median(det):.3f}, speed {np.median(spd):.1f} km/h")


if __name__ == "__main__":
    main()
