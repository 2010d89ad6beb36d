"""Settlement points (county seat, town seats, village seats) derived from the 三调 parcels.

A county's 三调 delivery has no settlement layer, but its parcels say where people live: the
城镇村属性码 (CZCSXM) marks town land (201 城市, 202 建制镇) and village land (203 村庄), and the
用地用海 code marks homesteads (0703) and village service land (0704). The rules, each falling back
to the next (the codes are rows of ``standards/derive_codes.csv``, the gaps thresholds):

- town seat: a point of the largest cluster of town parcels (201/202, parcels closer than
  ``derive.town_gap_m`` joined) in the township; a township without town land (many 乡) → its
  largest cluster of village homesteads (CZCSXM 203 and 0703/0704, ``derive.homestead_gap_m``);
  last resort the township polygon's ``point_on_surface``;
- county seat: the town seat of the township holding most of the county's largest 201 cluster
  (a 县 without 201 land: the largest 202 cluster);
- village seat: a point of the village's largest homestead cluster (0703/0704); a 社区 without
  homesteads → its largest piece of town land; last resort the village polygon's
  ``point_on_surface``.

A cluster's point is its area-weighted centroid when that lies on one of its parcels, else a
point inside the parcel nearest to it. The result has the shape of a settlement layer
(``pianqu.schema``; what ``pianqu.synth`` writes) plus a ``method`` column saying how each point
was found.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from pianqu import divisions, standards
from pianqu.config import Config, load_config
from pianqu.geo import STORAGE_EPSG
from pianqu.parcels import select_epoch

#: values of the ``method`` column
METHODS = ("town_cluster", "village_cluster", "homestead_cluster", "town_land_in_village", "point_on_surface")


def role_codes(role: str) -> tuple[str, ...]:
    """The codes of one role of ``standards/derive_codes.csv`` (e.g. ``town_cluster``)."""
    t = standards.derive_codes()
    codes = tuple(t.loc[t["role"] == role, "code"].astype(str))
    if not codes:
        raise KeyError(f"derive_codes.csv has no rows for role '{role}'")
    return codes


def has_code(values: pd.Series, codes: tuple[str, ...], *, prefix: bool) -> np.ndarray:
    """Which values carry one of ``codes``: exact for CZCSXM, by prefix for 用地用海 codes (0703
    matches its subclasses 070301/070302)."""
    v = values.astype("string").fillna("").str.strip().str.upper()
    if prefix:
        return v.str.startswith(codes).fillna(False).to_numpy(dtype=bool)
    return v.isin(codes).to_numpy(dtype=bool)


def cluster_labels(geoms: np.ndarray, gap_m: float, groups: np.ndarray | None = None) -> np.ndarray:
    """Connected clusters of polygons (metres): two join when closer than ``gap_m`` and, when
    ``groups`` is given, in the same group. Returns a label per polygon."""
    n = len(geoms)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    tree = shapely.STRtree(geoms)
    if gap_m > 0:
        a, b = tree.query(geoms, predicate="dwithin", distance=float(gap_m))
    else:
        a, b = tree.query(geoms, predicate="intersects")
    if groups is not None:
        g = np.asarray(groups)
        keep = g[a] == g[b]
        a, b = a[keep], b[keep]
    m = coo_matrix((np.ones(len(a), dtype=np.int8), (a, b)), shape=(n, n))
    return connected_components(m, directed=False)[1].astype(np.int64)


def cluster_point(geoms: np.ndarray, weight: np.ndarray | None = None) -> shapely.Point:
    """A point of a cluster of polygons: the centroid weighted by area (× ``weight`` when given
    and not all zero) when it lies on one of them, else a point inside the polygon nearest to it."""
    areas = shapely.area(geoms)
    if weight is not None and (np.asarray(weight) * areas).sum() > 0:
        areas = areas * np.asarray(weight, dtype=float)
    c = shapely.get_coordinates(shapely.centroid(geoms))
    w = areas if areas.sum() > 0 else np.ones(len(geoms))
    p = shapely.Point(*(c * w[:, None]).sum(axis=0) / w.sum())
    if shapely.contains(geoms, p).any():
        return p
    nearest = int(np.argmin(shapely.distance(geoms, p)))
    return shapely.point_on_surface(geoms[nearest])


def largest_clusters(geoms: np.ndarray, group: np.ndarray, gap_m: float) -> dict[str, np.ndarray]:
    """For each group value, the indices (into ``geoms``) of its largest cluster by area."""
    if len(geoms) == 0:
        return {}
    labels = cluster_labels(geoms, gap_m, group)
    df = pd.DataFrame({"group": group, "label": labels, "area": shapely.area(geoms)})
    size = df.groupby(["group", "label"], sort=True)["area"].sum().reset_index()
    best = size.sort_values(["group", "area", "label"], ascending=[True, False, True]).drop_duplicates("group")
    out: dict[str, np.ndarray] = {}
    for g, lab in zip(best["group"], best["label"]):
        out[str(g)] = np.flatnonzero((labels == lab) & (df["group"].to_numpy() == g))
    return out


def parcel_units(parcels: gpd.GeoDataFrame, townships: gpd.GeoDataFrame,
                 villages: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(township code, village code) of each parcel (all in one CRS): the parcel's own
    ``village_code``/``township_code`` where it names a known unit, else the unit holding the
    parcel's representative point ("" where none does)."""
    n = len(parcels)
    vcodes = set(villages["code"].astype(str))
    tcodes = set(townships["code"].astype(str))
    v_of_t = dict(zip(villages["code"].astype(str), villages["township_code"].astype(str))) \
        if "township_code" in villages.columns else {}
    vc = parcels["village_code"].astype("string").fillna("").str.strip().to_numpy(dtype=object) \
        if "village_code" in parcels.columns else np.full(n, "", dtype=object)
    vc = np.where(pd.Series(vc).isin(vcodes).to_numpy(), vc, "")
    missing = vc == ""
    pts = None
    if missing.any():
        pts = shapely.point_on_surface(parcels.geometry.to_numpy())
        vc[missing] = _containing(pts[missing], villages)
    tc = parcels["township_code"].astype("string").fillna("").str.strip().to_numpy(dtype=object) \
        if "township_code" in parcels.columns else np.full(n, "", dtype=object)
    from_v = np.array([v_of_t.get(v, "") for v in vc], dtype=object)
    tc = np.where(from_v != "", from_v, tc)
    tc = np.where(pd.Series(tc).isin(tcodes).to_numpy(), tc, "")
    missing = tc == ""
    if missing.any():
        if pts is None:
            pts = shapely.point_on_surface(parcels.geometry.to_numpy())
        tc[missing] = _containing(pts[missing], townships)
    return tc.astype(str), vc.astype(str)


def _containing(points: np.ndarray, units: gpd.GeoDataFrame) -> np.ndarray:
    """Code of the unit polygon holding each point ("" where none does)."""
    out = np.full(len(points), "", dtype=object)
    if len(points) == 0 or len(units) == 0:
        return out
    tree = shapely.STRtree(units.geometry.to_numpy())
    pi, ui = tree.query(points, predicate="within")
    codes = units["code"].astype(str).to_numpy()
    out[pi] = codes[ui]
    return out


def settlements_from_parcels(landuse: gpd.GeoDataFrame, townships: gpd.GeoDataFrame, villages: gpd.GeoDataFrame,
                             *, config: Config | None = None, compute_epsg: int) -> gpd.GeoDataFrame:
    """The settlement layer derived from the parcels (see the module doc): one county seat, one
    town seat per township, one village seat per village, in EPSG:4490, with the settlement
    fields (code, name, level, population left empty, township_code, village_code) and
    ``method``. A landuse layer holding several survey epochs is read at its base epoch."""
    cfg = config if config is not None else load_config()
    town_gap = float(cfg["derive.town_gap_m"])
    home_gap = float(cfg["derive.homestead_gap_m"])
    tw = townships.to_crs(compute_epsg).reset_index(drop=True)
    vl = villages.to_crs(compute_epsg).reset_index(drop=True)
    tw["code"] = tw["code"].astype(str)
    vl["code"] = vl["code"].astype(str)
    vl["township_code"] = vl["township_code"].astype(str)
    lu = select_epoch(landuse).to_crs(compute_epsg).reset_index(drop=True)  # the base epoch of several
    lu = lu[lu.geometry.notna() & ~lu.geometry.is_empty].reset_index(drop=True)
    geoms = lu.geometry.to_numpy()
    tcode, vcode = parcel_units(lu, tw, vl)
    cz = lu["czcsxm"] if "czcsxm" in lu.columns else pd.Series("", index=lu.index)
    lcode = lu["code"] if "code" in lu.columns else pd.Series("", index=lu.index)
    town = has_code(cz, role_codes("town_cluster"), prefix=False) & (tcode != "")
    homestead = has_code(lcode, role_codes("homestead"), prefix=True)
    rural = homestead & has_code(cz, role_codes("rural_cluster"), prefix=False) & (tcode != "")

    centre = has_code(lcode, role_codes("town_centre"), prefix=True).astype(float)

    def seats_of(mask: np.ndarray, group: np.ndarray, gap: float, weight: np.ndarray | None = None
                 ) -> dict[str, shapely.Point]:
        idx = np.flatnonzero(mask)
        best = largest_clusters(geoms[idx], group[idx], gap)
        return {g: cluster_point(geoms[idx[m]], None if weight is None else weight[idx[m]]) for g, m in best.items()}

    # town seats
    by_town = seats_of(town, tcode, town_gap, centre)
    by_rural = seats_of(rural, tcode, home_gap)
    t_pts, t_method = _first_found(tw, [(by_town, "town_cluster"), (by_rural, "village_cluster")])

    # village seats
    in_village = vcode != ""
    by_home = seats_of(homestead & in_village, vcode, home_gap)
    by_town_v = seats_of(town & in_village, vcode, town_gap, centre)
    v_pts, v_method = _first_found(vl, [(by_home, "homestead_cluster"), (by_town_v, "town_land_in_village")])

    # county seat: the township holding most of the county's largest 201 (else 202) cluster
    seat_ti = _county_seat_township(geoms, cz, tcode, tw, town_gap)
    t_village = _containing(np.array(t_pts, dtype=object), vl)
    for i in np.flatnonzero(t_village == ""):  # a seat on the township's edge: its nearest village
        mine = vl[vl["township_code"] == tw.at[i, "code"]]
        cand = mine if len(mine) else vl
        t_village[i] = cand["code"].iloc[int(np.argmin(shapely.distance(cand.geometry.to_numpy(), t_pts[i])))]
    county_code, county_name = _county_name(tw)
    rows = [(county_code, county_name, "county_seat", tw.at[seat_ti, "code"], t_village[seat_ti],
             t_method[seat_ti], t_pts[seat_ti])]
    rows += [(c, n, "town_seat", c, v, m, p)
             for c, n, v, m, p in zip(tw["code"], tw["name"], t_village, t_method, t_pts)]
    rows += [(c, n, "village_seat", tc, c, m, p)
             for c, n, tc, m, p in zip(vl["code"], vl["name"], vl["township_code"], v_method, v_pts)]
    out = gpd.GeoDataFrame({
        "code": pd.array([r[0] for r in rows], dtype="string"),
        "name": pd.array([r[1] for r in rows], dtype="string"),
        "level": pd.array([r[2] for r in rows], dtype="string"),
        "population": pd.array([pd.NA] * len(rows), dtype="Int64"),
        "township_code": pd.array([r[3] for r in rows], dtype="string"),
        "village_code": pd.array([r[4] for r in rows], dtype="string"),
        "method": pd.array([r[5] for r in rows], dtype="string"),
    }, geometry=[r[6] for r in rows], crs=compute_epsg)
    return out.to_crs(STORAGE_EPSG)


def _county_seat_township(geoms: np.ndarray, cz: pd.Series, tcode: np.ndarray, tw: gpd.GeoDataFrame,
                          gap: float) -> int:
    """Row of ``tw`` holding the county seat: most of the largest 201 cluster (else 202; else the
    township with the most town land; else the first)."""
    codes = list(tw["code"])
    for role in ("county_seat_first", "county_seat_second"):
        idx = np.flatnonzero(has_code(cz, role_codes(role), prefix=False) & (tcode != ""))
        if len(idx) == 0:
            continue
        best = largest_clusters(geoms[idx], np.zeros(len(idx), dtype=np.int64), gap)["0"]
        members = idx[best]
        by_t = pd.Series(shapely.area(geoms[members])).groupby(tcode[members]).sum()
        top = str(by_t.idxmax())
        if top in codes:
            return codes.index(top)
    return 0


def _county_name(tw: gpd.GeoDataFrame) -> tuple[str, str]:
    """(county code, the seat's name as pianqu.synth writes it: 某某县城 / 某某市区 / 某某城区)."""
    if "county_code" in tw.columns and tw["county_code"].notna().any():
        code = str(tw["county_code"].dropna().astype(str).mode().iloc[0])
    else:
        code = str(tw["code"].astype(str).str[:6].mode().iloc[0])
    try:
        name = str(divisions.county(code)["name"])
    except KeyError:
        return code, code
    suffix = "县城" if name.endswith("县") else ("市区" if name.endswith("市") else "城区")
    return code, name + suffix


def _first_found(units: gpd.GeoDataFrame, choices: list[tuple[dict, str]]) -> tuple[list, list]:
    """Each unit's seat from the first rule that found one (``choices``: code → point, and the
    rule's name), else a point inside the unit's polygon."""
    pts, methods = [], []
    for code, poly in zip(units["code"], units.geometry):
        hit = next(((found[code], name) for found, name in choices if code in found), None)
        pt, name = hit if hit is not None else (shapely.point_on_surface(poly), "point_on_surface")
        pts.append(pt)
        methods.append(name)
    return pts, methods
