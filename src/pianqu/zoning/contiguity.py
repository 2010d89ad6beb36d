"""Adjacency of townships (or villages) from shared boundaries, with islands handled explicitly.

Two units are neighbours when their boundaries run together for at least
``zoning.adjacency_min_shared_m`` metres (a corner contact is no link), measured in the
county's CGCS2000 3° GK zone. Boundaries from different sources rarely coincide exactly, so a
boundary counts as shared where it lies within ``zoning.adjacency_snap_m`` of the other unit.
Optionally a link also needs a road crossing the shared boundary. Units that no link joins to
the rest of their county (islands: an exclave township, a unit across a river with no bridge
in the data) are never dropped silently: they are attached to the unit nearest by road (when a
travel-time matrix is given) or by straight line, or only reported, and each gets a finding.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import shapely
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from pianqu.config import Config, load_config
from pianqu.findings import Finding
from pianqu.geo import compute_epsg

ISLAND_MODES = ("attach", "report")


@dataclass
class Adjacency:
    """The contiguity graph of a set of units, in the order of the input frame.

    edges: one row per undirected link ``i < j`` with ``code_i, code_j, shared_m`` and ``kind``
        (``border``: shared boundary; ``road_link``/``nearest``: added to attach an island;
        ``user``: given by the caller).
    shared: all boundary contacts (also those below the tolerance), m, symmetric sparse;
        used for the perimeter of zones (compactness) without geometry operations.
    perimeter_m, area_m2: of each unit in the GK zone.
    findings: islands, enclaves, links dropped for want of a road, invalid geometry.
    """

    codes: np.ndarray
    edges: pd.DataFrame
    shared: sparse.csr_matrix
    perimeter_m: np.ndarray
    area_m2: np.ndarray
    findings: list[Finding] = field(default_factory=list)

    @property
    def n(self) -> int:
        return len(self.codes)

    def matrix(self) -> sparse.csr_matrix:
        """Symmetric 0/1 adjacency matrix (CSR)."""
        i, j = self.edges["i"].to_numpy(), self.edges["j"].to_numpy()
        m = sparse.coo_matrix((np.ones(2 * len(i)), (np.r_[i, j], np.r_[j, i])), shape=(self.n, self.n))
        m = m.tocsr()
        m.data[:] = 1.0
        return m

    def neighbours(self) -> list[np.ndarray]:
        """Neighbour indices of each unit."""
        m = self.matrix()
        return [m.indices[m.indptr[k]:m.indptr[k + 1]] for k in range(self.n)]

    def components(self) -> np.ndarray:
        """Connected-component label of each unit."""
        return connected_components(self.matrix(), directed=False)[1]

    def to_networkx(self) -> nx.Graph:
        g = nx.Graph()
        g.add_nodes_from(self.codes)
        for r in self.edges.itertuples(index=False):
            g.add_edge(r.code_i, r.code_j, shared_m=r.shared_m, kind=r.kind)
        return g

    def subset(self, idx: np.ndarray) -> "Adjacency":
        """The graph restricted to units ``idx`` (in that order)."""
        idx = np.asarray(idx, dtype=np.int64)
        pos = np.full(self.n, -1, dtype=np.int64)
        pos[idx] = np.arange(len(idx))
        e = self.edges
        keep = (pos[e["i"].to_numpy()] >= 0) & (pos[e["j"].to_numpy()] >= 0)
        sub = e[keep].copy()
        a, b = pos[sub["i"].to_numpy()], pos[sub["j"].to_numpy()]
        sub["i"], sub["j"] = np.minimum(a, b), np.maximum(a, b)
        codes = self.codes[idx]
        inside = set(codes.tolist())
        return Adjacency(codes, sub.reset_index(drop=True), self.shared[idx][:, idx], self.perimeter_m[idx],
                         self.area_m2[idx], [f for f in self.findings if f.feature in inside])

    def with_edges(self, pairs: list[tuple[str, str]], kind: str = "user") -> "Adjacency":
        """A copy with extra links between unit codes (e.g. a ferry or a planned road)."""
        pos = {c: k for k, c in enumerate(self.codes)}
        rows = []
        for a, b in pairs:
            for c in (a, b):
                if c not in pos:
                    raise KeyError(f"extra link ({a}, {b}): unit '{c}' is not among the units")
            i, j = sorted((pos[a], pos[b]))
            rows.append({"i": i, "j": j, "code_i": self.codes[i], "code_j": self.codes[j],
                         "shared_m": 0.0, "kind": kind})
        edges = pd.concat([self.edges, pd.DataFrame(rows)], ignore_index=True)
        edges = edges.drop_duplicates(["i", "j"]).reset_index(drop=True)
        return Adjacency(self.codes, edges, self.shared, self.perimeter_m, self.area_m2, list(self.findings))


def adjacency(units: gpd.GeoDataFrame, *, code: str = "code", county: str | None = "county_code",
              tolerance_m: float | None = None, snap_m: float | None = None,
              roads: gpd.GeoDataFrame | gpd.GeoSeries | None = None,
              travel_s: np.ndarray | None = None, islands: str = "attach",
              layer: str = "township", config: Config | None = None) -> Adjacency:
    """Contiguity graph of ``units`` (polygons with a ``code`` column).

    Parameters
    ----------
    units : geopandas.GeoDataFrame
        Townships or villages, polygons in any CRS (computed in the GK zone).
    code : str, default "code"
        Column of the unit code.
    county : str or None, default "county_code"
        Column of the county code; islands are found per county, because a zone never crosses a
        county border (None to ignore).
    tolerance_m : float, optional
        Shortest shared boundary that makes a link (default ``zoning.adjacency_min_shared_m``).
    snap_m : float, optional
        Gaps between neighbours narrower than this count as shared boundary (default
        ``zoning.adjacency_snap_m``).
    roads : GeoDataFrame or GeoSeries, optional
        Lines; when given, a link also needs a road crossing the shared boundary.
    travel_s : numpy.ndarray, optional
        Seat-to-seat travel seconds; used to attach an island to the unit nearest by road.
    islands : {"attach", "report"}, default "attach"
        Link each island to its nearest unit and report it, or leave it unlinked and report the
        options.
    layer : str, default "township"
        The layer the units are, for findings (``township`` or ``village``).
    config : pianqu.config.Config, optional
        Thresholds in force (default the shipped ones).

    Returns
    -------
    Adjacency
        ``codes``, ``edges`` (``i < j``, ``code_i``, ``code_j``, ``shared_m``, ``kind``),
        ``shared`` (sparse contact lengths), ``perimeter_m``, ``area_m2`` and ``findings``
        (islands, enclaves, links dropped for want of a road).
    """
    if islands not in ISLAND_MODES:
        raise ValueError(f"islands must be one of {ISLAND_MODES}, got {islands!r}")
    cfg = config or load_config()
    tol = float(cfg["zoning.adjacency_min_shared_m"] if tolerance_m is None else tolerance_m)
    snap = float(cfg["zoning.adjacency_snap_m"] if snap_m is None else snap_m)
    if code not in units.columns:
        raise ValueError(f"{layer}: no column '{code}' holding the unit code; columns are {list(units.columns)}")
    codes = units[code].astype(str).to_numpy()
    dup = pd.Series(codes)[pd.Series(codes).duplicated()]
    if len(dup):
        raise ValueError(f"{layer}: unit code '{dup.iloc[0]}' appears more than once in field '{code}'; "
                         "each unit must appear once")
    if units.crs is None:
        raise ValueError(f"{layer}: the frame has no CRS; set it (EPSG:4490 or a CGCS2000 GK zone)")
    findings: list[Finding] = []
    geoms = units.geometry.to_crs(compute_epsg(units)).to_numpy()
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    if missing.any():
        k = int(np.flatnonzero(missing)[0])
        raise ValueError(f"{layer}: unit '{codes[k]}' has no geometry; every unit needs its polygon")
    bad = ~shapely.is_valid(geoms)
    for k in np.flatnonzero(bad):
        findings.append(Finding("warning", "zoning.invalid_geometry", layer, codes[k], "geometry",
                                {"reason": shapely.is_valid_reason(geoms[k])}))
    geoms = np.where(bad, shapely.make_valid(geoms), geoms)  # a repaired copy; input untouched
    n = len(geoms)
    bnd = shapely.boundary(geoms)
    tree = shapely.STRtree(geoms)
    a, b = tree.query(shapely.buffer(geoms, snap), predicate="intersects")
    keep = a < b
    a, b = a[keep], b[keep]
    buf_b = shapely.buffer(geoms[b], snap)
    buf_a = shapely.buffer(geoms[a], snap)
    line_ab = shapely.intersection(bnd[a], buf_b)
    shared = _shared_length(bnd[a], bnd[b], line_ab, shapely.intersection(bnd[b], buf_a), snap)
    shared_m = sparse.coo_matrix((np.r_[shared, shared], (np.r_[a, b], np.r_[b, a])), shape=(n, n)).tocsr()
    link = shared >= tol
    if roads is not None and link.any():
        rgeo = roads.geometry if isinstance(roads, gpd.GeoDataFrame) else roads
        if rgeo.crs is None:
            raise ValueError("roads: the frame has no CRS; set it (EPSG:4490 or a CGCS2000 GK zone)")
        rgeo = rgeo.to_crs(compute_epsg(units)).to_numpy()
        rtree = shapely.STRtree(rgeo)
        cand = np.flatnonzero(link)
        q, _ = rtree.query(line_ab[cand], predicate="intersects")
        crossed = np.zeros(len(cand), dtype=bool)
        crossed[np.unique(q)] = True
        for k in cand[~crossed]:
            findings.append(Finding("info", "zoning.no_road_across", layer, codes[a[k]], "",
                                    {"other": codes[b[k]], "shared_m": round(float(shared[k]))}))
        link[cand[~crossed]] = False
    edges = pd.DataFrame({"i": a[link], "j": b[link], "code_i": codes[a[link]], "code_j": codes[b[link]],
                          "shared_m": shared[link], "kind": "border"})
    perimeter = shapely.length(bnd)
    area = shapely.area(geoms)
    adj = Adjacency(codes, edges, shared_m, perimeter, area, findings)
    counties = (units[county].astype(str).to_numpy() if county and county in units.columns
                else np.zeros(n, dtype=object))
    _islands(adj, geoms, counties, travel_s, islands, layer)
    _enclaves(adj, float(cfg["zoning.enclave_share"]), layer)
    return adj


def _shared_length(bnd_a: np.ndarray, bnd_b: np.ndarray, near_ab: np.ndarray, near_ba: np.ndarray,
                   snap: float) -> np.ndarray:
    """Length of common boundary: exact where the boundaries coincide, otherwise the length of
    each boundary within ``snap`` of the other unit, less the ``snap`` overshoot at both ends
    of every piece (averaged over the two sides)."""
    exact = shapely.length(shapely.intersection(bnd_a, bnd_b))

    def trimmed(lines):
        merged = shapely.line_merge(shapely.force_2d(lines)) if len(lines) else lines
        pieces = shapely.get_num_geometries(merged)
        return np.maximum(shapely.length(lines) - 2.0 * snap * pieces, 0.0)

    approx = 0.5 * (trimmed(near_ab) + trimmed(near_ba))
    return np.where(exact >= 0.9 * approx, exact, approx)


def _islands(adj: Adjacency, geoms: np.ndarray, counties: np.ndarray, travel_s: np.ndarray | None,
             mode: str, layer: str) -> None:
    """Find groups of units cut off from the main part of their county; attach or report each."""
    n = adj.n
    if travel_s is not None:
        travel_s = np.asarray(travel_s, dtype=float)
        if travel_s.shape != (n, n):
            raise ValueError(f"travel_s has shape {travel_s.shape}; expected ({n}, {n}) in the order of the units")
    m = adj.matrix().tocoo()
    same = counties[m.row] == counties[m.col]
    mc = sparse.coo_matrix((m.data[same], (m.row[same], m.col[same])), shape=(n, n))
    _, lab = connected_components(mc, directed=False)
    new_rows = []
    for cty in pd.unique(counties):
        members = np.flatnonzero(counties == cty)
        labs, sizes = np.unique(lab[members], return_counts=True)
        if len(labs) <= 1:
            continue
        main = labs[np.argmax(sizes)]
        rest = members[lab[members] == main]
        for lb in labs[labs != main]:
            part = members[lab[members] == lb]
            if travel_s is not None:
                sub = np.minimum(travel_s[np.ix_(part, rest)], travel_s[np.ix_(rest, part)].T)
                k = np.unravel_index(np.argmin(sub), sub.shape)
                via, dist, kind = "road", float(sub[k]) / 60.0, "road_link"
            else:
                d = shapely.distance(geoms[part][:, None], geoms[rest][None, :])
                k = np.unravel_index(np.argmin(d), d.shape)
                via, dist, kind = "line", float(d[k]), "nearest"
            u, v = int(part[k[0]]), int(rest[k[1]])
            params = {"units": "、".join(adj.codes[part]), "count": len(part), "nearest": adj.codes[v],
                      "via": via, "value": round(dist, 1)}
            if mode == "attach" and np.isfinite(dist):
                i, j = sorted((u, v))
                new_rows.append({"i": i, "j": j, "code_i": adj.codes[i], "code_j": adj.codes[j],
                                 "shared_m": 0.0, "kind": kind})
                adj.findings.append(Finding("warning", "zoning.island_attached", layer, adj.codes[u], "", params))
            else:
                adj.findings.append(Finding("warning", "zoning.island", layer, adj.codes[u], "", params))
    if new_rows:
        adj.edges = pd.concat([adj.edges, pd.DataFrame(new_rows)], ignore_index=True)


def attach_islands(adj: Adjacency, travel_s: np.ndarray, *, group: str = "", layer: str = "village") -> Adjacency:
    """A copy of ``adj`` in which every part cut off from the largest connected part is linked to
    the unit nearest it by road (``travel_s``, either direction), with a
    ``zoning.village.island_in_group`` finding each; a part no road reaches stays cut off.

    Village zoning solves each township-level zone's villages on their own; links missing
    inside one group (a boundary shorter than ``zoning.adjacency_min_shared_m``, a village
    whose only neighbours lie in another group) would otherwise make a small piece impossible to
    zone (fewer villages than the member floor) and the whole group infeasible.
    """
    T = np.asarray(travel_s, dtype=float)
    if T.shape != (adj.n, adj.n):
        raise ValueError(f"travel_s has shape {T.shape}; expected ({adj.n}, {adj.n}) in the order of the units")
    ncomp, lab = connected_components(adj.matrix(), directed=False)
    if ncomp <= 1:
        return adj
    sizes = np.bincount(lab)
    main = int(np.argmax(sizes))
    rest = np.flatnonzero(lab == main)
    rows, findings = [], list(adj.findings)
    for c in range(ncomp):
        if c == main:
            continue
        part = np.flatnonzero(lab == c)
        sub = np.minimum(T[np.ix_(part, rest)], T[np.ix_(rest, part)].T)
        k = np.unravel_index(np.argmin(sub), sub.shape)
        if not np.isfinite(sub[k]):
            continue
        u, v = int(part[k[0]]), int(rest[k[1]])
        i, j = sorted((u, v))
        rows.append({"i": i, "j": j, "code_i": adj.codes[i], "code_j": adj.codes[j], "shared_m": 0.0,
                     "kind": "road_link"})
        findings.append(Finding("warning", "zoning.village.island_in_group", layer, adj.codes[u], "",
                                {"units": "、".join(adj.codes[part]), "count": len(part), "group": group,
                                 "nearest": adj.codes[v], "value": round(float(sub[k]) / 60.0, 1)}))
    if not rows:
        return adj
    edges = pd.concat([adj.edges, pd.DataFrame(rows)], ignore_index=True)
    return Adjacency(adj.codes, edges, adj.shared, adj.perimeter_m, adj.area_m2, findings)


def _enclaves(adj: Adjacency, share: float, layer: str) -> None:
    """Units enclosed by a single other unit: in any zoning they go with it or stand alone."""
    border = adj.edges[adj.edges["kind"] == "border"]
    ends = np.r_[border["i"], border["j"]].astype(int)
    other = np.r_[border["j"], border["i"]].astype(int)
    deg = np.bincount(ends, minlength=adj.n)
    for k in np.flatnonzero(deg == 1):
        host = int(other[ends == k][0])
        if adj.shared.getrow(k).sum() >= share * adj.perimeter_m[k]:
            adj.findings.append(Finding("info", "zoning.enclave", layer, adj.codes[k], "",
                                        {"host": adj.codes[host]}))
