"""Missing-link proposals: which new road segments save the most population-weighted time per km.

Candidates are straight links of at most ``network.link_candidate_max_m``:

* ``connect_component``: from every component holding settlements (other than the main one) to
  the nearest node of each other component;
* ``shortcut``: from dead ends and from nodes near the seats of badly detoured pairs to nodes
  whose network distance is at least ``network.shortcut_min_ratio`` times the straight gap.

The benefit of a link is Σ population × time saved over the seat pairs of
:func:`pianqu.network.diagnostics.seat_pairs` (an unreachable pair counts as
``network.unreachable_time_s``), per km built. Links are chosen greedily: after each choice
the link joins the graph and every remaining candidate is re-evaluated exactly (a shortest path
uses a new link at most once, so times from the seats are updated from one forward and one
backward search at each end of the link). The choice stops at the length or cost budget or
when no candidate saves time. :func:`augmentation_baseline` gives networkx's minimum-cost
``k_edge_augmentation`` over the same component candidates, for comparison.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree

from pianqu.findings import Finding
from pianqu.geo import STORAGE_EPSG
from pianqu.network.diagnostics import CHUNK_ELEMENTS, action_keys, detours, length_matrix, seat_pairs
from pianqu.network.graph import RoadGraph
from pianqu.network.snap import as_snapped
from pianqu.network.travel import augment, csr_min


@dataclass(frozen=True)
class Proposal:
    """Chosen links (ranked, EPSG:4490), all candidates, and a summary."""

    links: gpd.GeoDataFrame
    candidates: pd.DataFrame
    summary: dict
    findings: tuple[Finding, ...] = field(default=())


def link_candidates(graph: RoadGraph, settlements: gpd.GeoDataFrame, *, pairs: pd.DataFrame | None = None,
                    per_node: int = 3) -> pd.DataFrame:
    """Candidate links: columns x, y (nodes), length_m, kind."""
    if graph.n_nodes == 0:
        return pd.DataFrame(columns=["x", "y", "length_m", "kind"])
    cfg = graph.config
    rmax = float(cfg["network.link_candidate_max_m"])
    ratio = float(cfg["network.shortcut_min_ratio"])
    xy = graph.node_xy
    comp = graph.component
    s = as_snapped(graph, settlements, "drive", "settlement")
    rows = []
    # component connections
    from pianqu.network.diagnostics import settlement_nodes

    snode = settlement_nodes(graph, s)
    populated = np.unique(comp[snode[snode >= 0]])
    for c in populated[populated > 0]:
        mine = np.flatnonzero(comp == c)
        others = np.flatnonzero(comp != c)
        if not len(others):
            continue
        tree = cKDTree(xy[others])
        d, j = tree.query(xy[mine], k=1, distance_upper_bound=rmax)
        ok = np.isfinite(d)
        if not ok.any():
            continue
        frame = pd.DataFrame({"x": mine[ok], "y": others[j[ok]], "length_m": d[ok]})
        frame["cy"] = comp[frame["y"]]
        best = frame.sort_values("length_m").drop_duplicates("cy")
        best = best.assign(kind="connect_component")
        rows.append(best[["x", "y", "length_m", "kind"]])
    # shortcuts: from dead ends and from nodes near badly detoured seats
    starts = [np.flatnonzero(graph.degree == 1)]
    if pairs is not None and len(pairs):
        det = detours(graph, settlements, pairs=pairs)
        bad = det.layer["status"] != "ok"
        code_pos = {c: i for i, c in enumerate(settlements["code"].astype(str))}
        seats = [code_pos[c] for c in pd.concat([det.layer.loc[bad, "from_code"], det.layer.loc[bad, "to_code"]])]
        seats = np.unique(seats).astype(int)
        seats = seats[np.isfinite(s.xy[seats]).all(axis=1)]
        if len(seats):
            near = cKDTree(xy).query_ball_point(s.xy[seats], rmax / 2)
            starts.append(np.unique(np.concatenate([np.asarray(n, dtype=int) for n in near] + [np.zeros(0, int)])))
    x0 = np.unique(np.concatenate(starts))
    if len(x0):
        tree = cKDTree(xy)
        near = tree.query_ball_point(xy[x0], rmax)
        cnt = np.array([len(n) for n in near])
        xs = np.repeat(x0, cnt)
        ys = np.concatenate([np.asarray(n, dtype=np.int64) for n in near]) if cnt.sum() else np.zeros(0, np.int64)
        sel = xs != ys
        xs, ys = xs[sel], ys[sel]
        gap = np.hypot(*(xy[xs] - xy[ys]).T)
        lm = length_matrix(graph)
        net = np.full(len(xs), np.inf)
        step = max(1, int(CHUNK_ELEMENTS // max(graph.n_nodes, 1)))
        pos = np.searchsorted(x0, xs)
        for k in range(0, len(x0), step):
            dist = dijkstra(lm, directed=False, indices=x0[k:k + step], limit=ratio * rmax)
            m = (pos >= k) & (pos < k + step)
            net[m] = dist[pos[m] - k, ys[m]]
        good = (net >= ratio * gap) & (comp[xs] == comp[ys])
        frame = pd.DataFrame({"x": xs[good], "y": ys[good], "length_m": gap[good]})
        frame = frame.sort_values(["x", "length_m"]).groupby("x").head(per_node)
        rows.append(frame.assign(kind="shortcut"))
    if not rows:
        return pd.DataFrame(columns=["x", "y", "length_m", "kind"])
    out = pd.concat(rows, ignore_index=True)
    a, b = np.minimum(out["x"], out["y"]), np.maximum(out["x"], out["y"])
    out = out.assign(x=a, y=b).drop_duplicates(["x", "y"]).reset_index(drop=True)
    return out[out["length_m"] > 0].reset_index(drop=True)


def propose_links(graph: RoadGraph, settlements: gpd.GeoDataFrame, *, zones: pd.DataFrame | None = None,
                  budget_m: float | None = None, budget_cost: float | None = None, max_links: int = 50,
                  candidates: pd.DataFrame | None = None,
                  source: str = "") -> Proposal:
    """Greedy missing-link plan under a length (m) and/or cost (万元) budget (see the module doc)."""
    cfg = graph.config
    mode = "drive"
    speed = float(cfg.road_speeds[str(cfg["network.new_link_class"])]) / 3.6
    unit_cost = float(cfg["network.link_cost_wan_per_km"])
    penalty = float(cfg["network.unreachable_time_s"])
    pairs = seat_pairs(settlements, zones)
    cand = link_candidates(graph, settlements, pairs=pairs) if candidates is None else candidates.copy()
    pop = pd.to_numeric(settlements.get("population", pd.Series(0, index=settlements.index)),
                        errors="coerce").fillna(0).to_numpy(float)
    s = as_snapped(graph, settlements, mode, "settlement")
    summary = {"candidates": int(len(cand)), "pairs": int(len(pairs))}
    empty = gpd.GeoDataFrame({"rank": [], "kind": [], "from_node": [], "to_node": [], "length_m": [],
                              "cost_wan": [], "saved_person_h": [], "saved_per_km": [], "pairs_improved": [],
                              "action": []},
                             geometry=gpd.GeoSeries([], crs=STORAGE_EPSG))
    if len(cand) == 0 or len(pairs) == 0 or graph.n_nodes == 0:
        return Proposal(empty, cand, {**summary, "chosen": 0}, ())
    a, b = pairs["a"].to_numpy(int), pairs["b"].to_numpy(int)
    w = pop[a]
    aug = augment(graph, s, s, mode)
    n = aug.matrix.shape[0]
    tail0, head0, w0 = _coo(aug.matrix)
    added_t, added_h, added_w = [], [], []

    def matrix():
        return csr_min(n, np.r_[tail0, added_t], np.r_[head0, added_h], np.r_[w0, added_w])

    m = matrix()
    fwd = dijkstra(m, directed=True, indices=aug.origins)  # seat → every node
    bwd = dijkstra(m.T.tocsr(), directed=True, indices=aug.destinations)  # every node → seat
    cur = fwd[a, aug.destinations[b]]
    x, y = cand["x"].to_numpy(int), cand["y"].to_numpy(int)
    tau = cand["length_m"].to_numpy(float) / speed
    length = cand["length_m"].to_numpy(float)
    alive = np.ones(len(cand), bool)
    used_m = 0.0
    chosen = []
    while len(chosen) < max_links and alive.any():
        capped = np.minimum(cur, penalty)
        A, B = a[:, None], b[:, None]
        via = np.minimum(fwd[A, x[None, :]] + tau + bwd[B, y[None, :]],
                         fwd[A, y[None, :]] + tau + bwd[B, x[None, :]])
        new = np.minimum(np.minimum(cur[:, None], via), penalty)
        saved = (capped[:, None] - new) * w[:, None]
        gain = saved.sum(axis=0)
        score = np.where(alive, gain / (length / 1000), -np.inf)
        fits = np.ones(len(cand), bool)
        if budget_m is not None:
            fits &= used_m + length <= budget_m
        if budget_cost is not None:
            fits &= (used_m + length) / 1000 * unit_cost <= budget_cost
        score[~fits] = -np.inf
        k = int(np.argmax(score))
        if not np.isfinite(score[k]) or gain[k] <= 1e-9:
            break
        chosen.append({"candidate": k, "x": int(x[k]), "y": int(y[k]), "kind": cand["kind"].iloc[k],
                       "length_m": float(length[k]), "saved_s": float(gain[k]),
                       "pairs_improved": int((saved[:, k] > 1e-9).sum())})
        used_m += length[k]
        alive[k] = False
        added_t += [x[k], y[k]]
        added_h += [y[k], x[k]]
        added_w += [tau[k], tau[k]]
        m = matrix()
        ends = np.array([x[k], y[k]])
        from_end = dijkstra(m, directed=True, indices=ends)  # link end → every node
        to_end = dijkstra(m.T.tocsr(), directed=True, indices=ends)  # every node → link end
        # seat → node through the link: seat → x, link, y → node (and the other way)
        fwd = np.minimum(fwd, np.minimum(fwd[:, [x[k]]] + tau[k] + from_end[1][None, :],
                                         fwd[:, [y[k]]] + tau[k] + from_end[0][None, :]))
        bwd = np.minimum(bwd, np.minimum(bwd[:, [y[k]]] + tau[k] + to_end[0][None, :],
                                         bwd[:, [x[k]]] + tau[k] + to_end[1][None, :]))
        cur = fwd[a, aug.destinations[b]]
    xy = graph.node_xy
    if chosen:
        ch = pd.DataFrame(chosen)
        geoms = shapely.linestrings(np.stack([xy[ch["x"]], xy[ch["y"]]], axis=1))
        links = gpd.GeoDataFrame({
            "rank": np.arange(1, len(ch) + 1), "kind": ch["kind"], "from_node": ch["x"], "to_node": ch["y"],
            "length_m": ch["length_m"], "cost_wan": ch["length_m"] / 1000 * unit_cost,
            "saved_person_h": ch["saved_s"] / 3600, "saved_per_km": ch["saved_s"] / 3600 / (ch["length_m"] / 1000),
            "pairs_improved": ch["pairs_improved"],
            "action": action_keys(ch["kind"], "network.link")},
            geometry=gpd.GeoSeries(geoms, crs=graph.epsg)).to_crs(STORAGE_EPSG)
    else:
        links = empty
    findings = tuple(Finding("info", f"network.link.{r.kind}", "road", f"link {r.rank}", "",
                             {"length_m": round(float(r.length_m)), "saved_h": round(float(r.saved_person_h), 1)},
                             source) for r in links.itertuples())
    summary.update({"chosen": int(len(links)), "length_m": float(links["length_m"].sum()),
                    "cost_wan": float(links["cost_wan"].sum()),
                    "saved_person_h": float(links["saved_person_h"].sum())})
    return Proposal(links, cand, summary, findings)


def _coo(m: sp.csr_matrix):
    tail = np.repeat(np.arange(m.shape[0], dtype=np.int64), np.diff(m.indptr))
    return tail, m.indices.astype(np.int64), m.data


def augmentation_baseline(graph: RoadGraph, candidates: pd.DataFrame, components: np.ndarray | None = None,
                          k: int = 1) -> dict:
    """networkx ``k_edge_augmentation`` over component candidates (weights = length in m).

    The graph is condensed to its components (``components``: the labels to keep, default all
    that candidates touch); returns the chosen component pairs and their total length.
    """
    comp = graph.component
    cc = candidates[candidates["kind"] == "connect_component"]
    cx, cy = comp[cc["x"].to_numpy(int)], comp[cc["y"].to_numpy(int)]
    keep = np.unique(np.r_[cx, cy]) if components is None else np.asarray(components)
    G = nx.Graph()
    G.add_nodes_from(int(c) for c in keep)
    avail: dict[tuple[int, int], float] = {}
    for i, j, ln in zip(cx, cy, cc["length_m"].to_numpy(float)):
        if i in keep and j in keep and i != j:
            key = (int(min(i, j)), int(max(i, j)))
            avail[key] = min(avail.get(key, np.inf), ln)
    try:
        aug = list(nx.k_edge_augmentation(G, k=k, avail=[(i, j, float(w)) for (i, j), w in avail.items()],
                                          partial=True))
    except nx.NetworkXUnfeasible:
        aug = []
    total = float(sum(avail[(min(i, j), max(i, j))] for i, j in aug))
    return {"pairs": aug, "length_m": total}
