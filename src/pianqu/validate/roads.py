"""Roads: ends that are not noded, and pieces of the network cut off from the main one.

The road graph has the segments' end points as nodes (the convention of the network module:
a junction is a vertex shared by the ends of the segments that meet there). A segment end
within ``validate.road_node_tolerance_m`` of another segment that does not coincide with one
of that segment's ends is "not noded": it looks joined on a map but a router cannot pass.
Connected components come from ``scipy.sparse.csgraph``; every component other than the
largest (by length) is reported with the population of the settlements whose nearest road
(within ``network.snap_max_m``) belongs to it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from pianqu.validate._common import Context

NODE_DECIMALS = 3  # end points equal to the millimetre are the same node


def _segments(ctx: Context):
    """Usable road parts (multi-lines exploded) in GK: geometries and the row each came from."""
    data = ctx.get("road")
    if data is None or data.geom is None or ctx.compute_epsg is None:
        return None, None
    rows = np.nonzero(data.usable & ~data.invalid)[0]
    if len(rows) == 0:
        return None, None
    parts, index = shapely.get_parts(ctx.gk("road")[rows], return_index=True)
    keep = shapely.get_type_id(parts) == 1
    return parts[keep], rows[index[keep]]


def check_roads(ctx: Context) -> None:
    lines, rows = _segments(ctx)
    if lines is None:
        return
    data = ctx.layers["road"]
    ids = data.ids
    n = len(lines)
    ends = np.r_[shapely.get_coordinates(shapely.get_point(lines, 0)),
                 shapely.get_coordinates(shapely.get_point(lines, -1))]  # starts, then ends
    _, node = np.unique(np.round(ends, NODE_DECIMALS), axis=0, return_inverse=True)
    node = node.ravel()
    start_node, end_node = node[:n], node[n:]

    # -- ends not noded -----------------------------------------------------------------------
    tol = float(ctx.config["validate.road_node_tolerance_m"])
    tree = shapely.STRtree(lines)
    points = shapely.points(ends)
    k, j = tree.query(points, predicate="dwithin", distance=tol)
    seg = k % n
    other = j != seg
    k, j = k[other], j[other]
    if len(k):
        joined = (start_node[j] == node[k]) | (end_node[j] == node[k])
        frame = pd.DataFrame({"k": k, "j": j, "joined": joined,
                              "d": shapely.distance(points[k], lines[j])})
        per_end = frame.groupby("k").agg(joined=("joined", "any"))
        loose = per_end.index[~per_end["joined"]].to_numpy()
        nearest = frame[frame["k"].isin(loose)].sort_values(["k", "d"]).drop_duplicates("k")
        to_lonlat = _lonlat(ctx)
        for _, r in nearest.iterrows():
            kk, jj = int(r["k"]), int(r["j"])
            s = kk % n
            lon, lat = to_lonlat(ends[kk])
            ctx.add("warning", "validate.road_not_noded", "road", ids[rows[s]], "",
                    end="start" if kk < n else "end", end_zh="起点" if kk < n else "终点", other=str(ids[rows[jj]]),
                    distance_m=round(float(r["d"]), 3), lon=lon, lat=lat)

    # -- disconnected pieces ------------------------------------------------------------------
    n_nodes = int(node.max()) + 1
    graph = coo_matrix((np.ones(n), (start_node, end_node)), shape=(n_nodes, n_nodes))
    n_comp, label = connected_components(graph, directed=False)
    if n_comp <= 1:
        return
    seg_comp = label[start_node]
    length = pd.Series(shapely.length(lines)).groupby(seg_comp).sum()
    main = int(length.idxmax())
    pop_by_comp, names_by_comp = _settlements_by_component(ctx, tree, seg_comp)
    for comp in sorted(set(seg_comp) - {main}, key=lambda c: min(ids[rows[seg_comp == c]])):
        members = sorted({str(ids[r]) for r in rows[seg_comp == comp]})
        ctx.add("warning", "validate.road_disconnected", "road", members[0], "",
                roads=", ".join(members), n_roads=len(members), length_km=round(float(length[comp]) / 1000, 3),
                population=int(pop_by_comp.get(comp, 0)), settlements="、".join(names_by_comp.get(comp, [])) or "-")


def _lonlat(ctx: Context):
    from pyproj import Transformer

    t = Transformer.from_crs(ctx.compute_epsg, 4490, always_xy=True)

    def f(xy):
        lon, lat = t.transform(float(xy[0]), float(xy[1]))
        return round(float(lon), 6), round(float(lat), 6)
    return f


def _settlements_by_component(ctx: Context, tree: shapely.STRtree, seg_comp: np.ndarray):
    """Population and names of settlements, by the component of their nearest road segment."""
    data = ctx.get("settlement")
    if data is None or data.geom is None or not data.usable.any():
        return {}, {}
    rows = np.nonzero(data.usable)[0]
    pts = ctx.gk("settlement")[rows]
    snap = float(ctx.config["network.snap_max_m"])
    s, j = tree.query_nearest(pts, max_distance=snap, all_matches=False)
    pop = data.col("population") if data.has("population") else pd.Series(np.nan, index=range(len(data)))
    names = data.col("name") if data.has("name") else pd.Series(data.ids)
    comp = seg_comp[j]
    p = pop.to_numpy(dtype=float)[rows[s]]
    p = np.where(np.isnan(p) | (p < 0), 0, p)
    pop_by = pd.Series(p).groupby(comp).sum().to_dict()
    labels = [f"{names.iloc[rows[i]] or ''}({data.ids[rows[i]]})" for i in s]
    names_by: dict[int, list[str]] = {}
    for c, label in sorted(zip(comp, labels)):
        names_by.setdefault(int(c), []).append(label)
    return pop_by, names_by
