"""The province results assembled from the counties, and the analyses that need them all.

- ``<out>/results/<layer>/county_code=<code>/part-0.parquet``: the plan's zones, zone members,
  conflicts, centre scores, zone centres (and indicators) of every county, one hive-partitioned
  GeoParquet set per layer, written by the county tasks (:mod:`pianqu.province.steps`);
- :func:`central_town_ranking`: every town's centre-score criteria on one province-wide scale
  (the criteria normalised over all the province's towns, not per county) and the provincial
  central-town candidate list (百强) with the reasons;
- :func:`cross_county_links`: pairs of zone centres of neighbouring counties whose road route is
  missing or a long detour against the straight line;
- ``<out>/province_summary.xlsx``: one workbook with Chinese headers (English with ``lang="en"``).
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import shapely

from pianqu.config import Config, load_config
from pianqu.i18n import t
from pianqu.province.steps import PARTITION_KEY

CRITERIA = ("population", "built_up_km2", "gdp_yi", "facilities", "accessibility", "centrality")


def read_results(out: str | Path, layer: str, counties: list[str] | None = None):
    """One result layer of every county (or ``counties``) as one frame with ``county_code``;
    None when no county wrote it."""
    import pyarrow.dataset as ds

    root = Path(out) / "results" / layer
    if not root.exists():
        return None
    part = ds.partitioning(pa.schema([(PARTITION_KEY, pa.string())]), flavor="hive")
    kwargs = {"partitioning": part}
    if counties:
        present = {p.name.split("=", 1)[1] for p in root.iterdir() if p.name.startswith(f"{PARTITION_KEY}=")}
        counties = [c for c in counties if c in present]
        if not counties:
            return None
        kwargs["filters"] = [(PARTITION_KEY, "in", list(counties))]
    try:
        frame = gpd.read_parquet(root, **kwargs)
    except ValueError:  # a plain table (no geometry metadata)
        frame = pd.read_parquet(root, **kwargs)
    frame[PARTITION_KEY] = frame[PARTITION_KEY].astype(str)
    return frame.sort_values(PARTITION_KEY, kind="stable").reset_index(drop=True)


# -- the central-town ranking on one scale ---------------------------------------------------
def central_town_ranking(scores: pd.DataFrame, *, zones: pd.DataFrame | None = None,
                         config: Config | None = None) -> pd.DataFrame:
    """Every town of the province ranked on one scale: the county plans' centre-score criteria
    (population, built-up area, GDP, facilities, accessibility, centrality) scored together by
    the same method as a county (entropy weights, TOPSIS: :func:`pianqu.zoning.centres.score_centres`)
    over all the towns at once, so a town's score does not depend on its county's ideal.

    Returns one row per town: ``county_code``, ``code``, ``name``, the criteria, ``county_rank``
    (its rank in its own county plan), ``province_score``, ``province_rank``, ``zone_centre``
    (a central town of its county's plan), ``candidate`` (within the provincial list of
    ``province.central_town_list_size``) and ``reasons`` (message keys, ``;``-joined: each
    criterion in the province's top ``province.central_town_reason_top_share``, the 100 central
    towns' averages met, a zone centre in its county's plan).
    """
    from pianqu.zoning.centres import score_centres

    cfg = config or load_config()
    crit = [c for c in CRITERIA if c in scores.columns]
    ind = scores[["county_code", "code", *crit]].copy()
    ind["code"] = ind["code"].astype(str)
    res = score_centres(ind[["code", *crit]].reset_index(drop=True), criteria=tuple(crit), config=cfg)
    out = ind.reset_index(drop=True)
    out["county_rank"] = scores["rank"].to_numpy() if "rank" in scores else np.nan
    out["province_score"] = res.table["score"].to_numpy()
    out["province_rank"] = res.table["rank"].to_numpy()
    centres = set(zones["centre"].astype(str)) if zones is not None and len(zones) else set()
    out["zone_centre"] = out["code"].isin(centres)
    size = int(cfg["province.central_town_list_size"])
    share = float(cfg["province.central_town_reason_top_share"])
    out["candidate"] = out["province_rank"] <= size
    top = {c: out[c] >= out[c].quantile(1.0 - share) for c in crit}
    meets = scores["meets_centre_average"].to_numpy().astype(bool) if "meets_centre_average" in scores else \
        np.zeros(len(out), bool)
    reasons = []
    for i in range(len(out)):
        r = [f"province.reason.top.{c}" for c in crit if bool(top[c].iloc[i])]
        if meets[i]:
            r.append("province.reason.centre_average")
        if out["zone_centre"].iloc[i]:
            r.append("province.reason.zone_centre")
        reasons.append(";".join(r))
    out["reasons"] = reasons
    out["name"] = _town_names(out)
    cols = ["province_rank", "county_code", "code", "name", "province_score", "county_rank", "zone_centre",
            "candidate", "reasons", *crit]
    return out[cols].sort_values(["province_rank", "code"], kind="stable").reset_index(drop=True)


def _town_names(frame: pd.DataFrame) -> list[str]:
    from pianqu import divisions

    names = {}
    for county in frame["county_code"].unique():
        try:
            tw = divisions.townships(str(county))
            names.update(dict(zip(tw["code"].astype(str), tw["name"].astype(str))))
        except (KeyError, ValueError):
            pass
    return [names.get(c, c) for c in frame["code"]]


def reasons_text(keys: str, lang: str | None = None) -> str:
    """The ``reasons`` of a ranking row in words."""
    return "；".join(t(k, lang) for k in keys.split(";") if k) if keys else ""


# -- roads that should link zones across a county border ---------------------------------------
def cross_county_links(centres: gpd.GeoDataFrame, counties: gpd.GeoDataFrame, roads: dict[str, gpd.GeoDataFrame],
                       *, config: Config | None = None) -> gpd.GeoDataFrame:
    """Pairs of zone centres in neighbouring counties (county polygons within
    ``province.neighbour_gap_m``) at most ``province.link_max_straight_km`` apart whose road
    route is missing or at least ``province.link_detour_ratio`` × the straight line.

    The route runs over the two counties' road layers joined where road ends of the two lie
    within ``province.link_snap_m`` of each other (a road crossing the border); a centre reaches
    its nearest road node in a straight line. Lengths in the province's equal-area CRS (the
    synthetic layout's Albers; metres). Returns one row per flagged pair with the straight and
    route lengths (km; route NaN when missing), the detour ratio, ``status`` (``missing`` or
    ``detour``) and the straight line between the centres (EPSG:4490).
    """
    from pyproj import CRS
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import dijkstra
    from scipy.spatial import cKDTree

    from pianqu.synth.layout import PROVINCE_CRS

    cfg = config or load_config()
    gap = float(cfg["province.neighbour_gap_m"])
    max_km = float(cfg["province.link_max_straight_km"])
    ratio = float(cfg["province.link_detour_ratio"])
    snap = float(cfg["province.link_snap_m"])
    crs = CRS(PROVINCE_CRS)
    cty = counties.to_crs(crs).reset_index(drop=True)
    cen = centres.to_crs(crs).reset_index(drop=True)
    codes = cty[PARTITION_KEY].astype(str).to_numpy()
    tree = shapely.STRtree(cty.geometry.to_numpy())
    left, right = tree.query(cty.geometry.to_numpy(), predicate="dwithin", distance=gap)
    pairs = sorted({(codes[a], codes[b]) for a, b in zip(left, right) if codes[a] < codes[b]})
    rows = []
    for ca, cb in pairs:
        A = cen[cen[PARTITION_KEY] == ca]
        B = cen[cen[PARTITION_KEY] == cb]
        if not len(A) or not len(B):
            continue
        pa_ = shapely.get_coordinates(A.geometry.to_numpy())
        pb_ = shapely.get_coordinates(B.geometry.to_numpy())
        straight = np.hypot(pa_[:, None, 0] - pb_[None, :, 0], pa_[:, None, 1] - pb_[None, :, 1])
        ia, ib = np.nonzero(straight <= max_km * 1000.0)
        if not len(ia):
            continue
        nodes, edges = _road_graph([roads.get(ca), roads.get(cb)], crs, snap)
        n = len(nodes)
        route = np.full(straight.shape, np.inf)
        if n:
            g = coo_matrix((edges[:, 2], (edges[:, 0].astype(int), edges[:, 1].astype(int))), shape=(n, n)).tocsr()
            kd = cKDTree(nodes)
            da, na = kd.query(pa_)
            db, nb = kd.query(pb_)
            src = np.unique(na[ia])
            dist = dijkstra(g, directed=False, indices=src)
            at = {s: k for k, s in enumerate(src)}
            for i, j in zip(ia, ib):
                route[i, j] = da[i] + dist[at[na[i]], nb[j]] + db[j]
        for i, j in zip(ia, ib):
            s, r = straight[i, j], route[i, j]
            det = r / s if s > 0 else 1.0
            if np.isfinite(r) and det < ratio:
                continue
            rows.append({"from_county": ca, "from_zone": str(A["zone"].iloc[i]), "from_name": str(A["centre_name"].iloc[i]),
                         "to_county": cb, "to_zone": str(B["zone"].iloc[j]), "to_name": str(B["centre_name"].iloc[j]),
                         "straight_km": s / 1000.0, "route_km": r / 1000.0 if np.isfinite(r) else np.nan,
                         "detour": det if np.isfinite(r) else np.inf,
                         "status": "detour" if np.isfinite(r) else "missing",
                         "geometry": shapely.LineString([pa_[i], pb_[j]])})
    cols = ["from_county", "from_zone", "from_name", "to_county", "to_zone", "to_name", "straight_km", "route_km",
            "detour", "status", "geometry"]
    frame = gpd.GeoDataFrame(pd.DataFrame(rows, columns=cols), geometry="geometry", crs=crs)
    return frame.sort_values(["straight_km"], kind="stable").reset_index(drop=True).to_crs(4490)


def _road_graph(frames: list, crs, snap: float) -> tuple[np.ndarray, np.ndarray]:
    """Nodes (x, y) and undirected edges (i, j, metres) of the road lines of ``frames`` (in
    ``crs``), vertices joined at equal coordinates (to the millimetre) and road ends of
    different frames joined within ``snap`` metres."""
    from scipy.spatial import cKDTree

    segs, ends, owner = [], [], []
    for k, f in enumerate(frames):
        if f is None or not len(f):
            continue
        lines = shapely.get_parts(f.to_crs(crs).geometry.to_numpy())
        lines = lines[shapely.get_type_id(lines) == 1]
        coords, idx = shapely.get_coordinates(lines, return_index=True)
        same = idx[1:] == idx[:-1]
        segs.append(np.column_stack([coords[:-1][same], coords[1:][same]]))
        first = np.r_[True, ~same]
        last = np.r_[~same, True]
        e = coords[first | last]
        ends.append(e)
        owner.append(np.full(len(e), k))
    if not segs:
        return np.zeros((0, 2)), np.zeros((0, 3))
    seg = np.vstack(segs)
    pts = np.round(np.vstack([seg[:, :2], seg[:, 2:]]), 3)
    nodes, inv = np.unique(pts, axis=0, return_inverse=True)
    m = len(seg)
    i, j = inv[:m], inv[m:]
    w = np.hypot(seg[:, 0] - seg[:, 2], seg[:, 1] - seg[:, 3])
    edges = [np.column_stack([i, j, w])]
    e = np.round(np.vstack(ends), 3)
    o = np.concatenate(owner)
    kd = cKDTree(e)
    links = np.array(sorted(kd.query_pairs(snap)), dtype=int).reshape(-1, 2)
    links = links[o[links[:, 0]] != o[links[:, 1]]]
    if len(links):
        lookup = {tuple(p): k for k, p in enumerate(nodes)}
        a = np.array([lookup[tuple(e[x])] for x in links[:, 0]])
        b = np.array([lookup[tuple(e[x])] for x in links[:, 1]])
        edges.append(np.column_stack([a, b, np.hypot(*(nodes[a] - nodes[b]).T)]))
    return nodes, np.vstack(edges)


# -- assembly ----------------------------------------------------------------------------------
def _workspace_layer(src, out: Path, code: str, layer: str):
    from pianqu.workspace import Workspace

    url = src.workspace_url(code, out)
    if src.kind != "postgis" and not Path(url).exists():
        return None
    ws = Workspace.open(url)
    return ws.read(layer) if ws.has(layer) else None


def assemble(out: str | Path, src, *, counties: list[str], lang: str | None = None) -> dict[str, Path]:
    """The province outputs from the counties' results in ``out``: the ranking and the links
    as GeoParquet/Parquet, and the summary workbook. Returns their paths by name."""
    from pianqu.province.run import read_manifest

    out = Path(out)
    prov = out / "province"
    prov.mkdir(parents=True, exist_ok=True)
    outputs: dict[str, Path] = {"results": out / "results"}
    manifest = read_manifest(out)
    ok = sorted(manifest[(manifest["step"] == "plan") & manifest["status"].isin(["done", "skipped"])
                         & manifest["county"].isin(counties)]["county"].unique())
    scores = read_results(out, "centre_score", ok)
    zones = read_results(out, "zone", ok)
    ranking = links = None
    if scores is not None and len(scores) > 1:
        ranking = central_town_ranking(scores, zones=zones)
        ranking.to_parquet(prov / "central_town_ranking.parquet", index=False)
        outputs["central_town_ranking"] = prov / "central_town_ranking.parquet"
    centres = read_results(out, "zone_centre", ok)
    if centres is not None and len(ok) > 1:
        cty, roads = [], {}
        for code in ok:
            c = _workspace_layer(src, out, code, "county")
            if c is not None:
                cty.append(c.assign(**{PARTITION_KEY: code})[[PARTITION_KEY, "geometry"]])
            roads[code] = _workspace_layer(src, out, code, "road")
        if cty:
            counties_gdf = gpd.GeoDataFrame(pd.concat(cty, ignore_index=True), geometry="geometry", crs=cty[0].crs)
            links = cross_county_links(centres, counties_gdf, roads)
            links.to_parquet(prov / "cross_county_links.parquet", index=False)
            outputs["cross_county_links"] = prov / "cross_county_links.parquet"
    outputs["summary"] = write_summary(out / "province_summary.xlsx", manifest[manifest["county"].isin(counties)],
                                       zones=zones, conflicts=read_results(out, "conflict", ok),
                                       ranking=ranking, links=links, lang=lang)
    return outputs


def county_table(manifest: pd.DataFrame, zones=None, conflicts=None) -> pd.DataFrame:
    """One row per county: its name, each step's status and seconds, zones, population, conflicts."""
    from pianqu import divisions

    rows = []
    for code, g in manifest.groupby("county", sort=True):
        try:
            name = str(divisions.county(code)["name"])
        except (KeyError, ValueError):
            name = ""
        r = {"county_code": code, "name": name}
        for s in g.itertuples():
            r[f"{s.step}_status"] = s.status
            r[f"{s.step}_seconds"] = float(s.seconds)
        r["error"] = "；".join(e for e in g["error_zh"] if e)
        if zones is not None:
            z = zones[zones[PARTITION_KEY] == code]
            r["zones"] = int(len(z))
            r["population"] = float(z["population"].sum()) if len(z) else np.nan
        if conflicts is not None:
            c = conflicts[conflicts[PARTITION_KEY] == code]
            r["conflicts"] = int(len(c))
            r["conflict_ha"] = float(c["area_ha"].sum()) if "area_ha" in c else np.nan
        rows.append(r)
    return pd.DataFrame(rows)


def write_summary(path: Path, manifest: pd.DataFrame, *, zones=None, conflicts=None, ranking=None, links=None,
                  lang: str | None = None) -> Path:
    """The province summary workbook: counties, the ranking, the 百强 candidates, the links."""
    def head(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.rename(columns={c: t(f"province.col.{c}", lang) if f"province.col.{c}" in _keys() else c
                                     for c in frame.columns})

    tmp = path.with_name(f".{path.name}.tmp")
    with pd.ExcelWriter(tmp, engine="openpyxl") as xl:
        head(county_table(manifest, zones, conflicts)).to_excel(xl, sheet_name=t("province.sheet.counties", lang), index=False)
        if ranking is not None:
            r = ranking.copy()
            r["reasons"] = [reasons_text(k, lang) for k in r["reasons"]]
            head(r).to_excel(xl, sheet_name=t("province.sheet.ranking", lang), index=False)
            head(r[r["candidate"]]).to_excel(xl, sheet_name=t("province.sheet.candidates", lang), index=False)
        if links is not None:
            lk = pd.DataFrame(links.drop(columns="geometry"))
            lk["status"] = [t(f"province.link.{s}", lang) for s in lk["status"]]
            head(lk).to_excel(xl, sheet_name=t("province.sheet.links", lang), index=False)
    tmp.replace(path)
    return path


def _keys():
    from pianqu.i18n import catalogue

    return catalogue()
