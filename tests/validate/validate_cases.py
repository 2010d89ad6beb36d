"""The broken-input corpus: each case breaks the clean fixture in one way and returns the exact
set of findings (severity, rule, layer, feature, field) validation must produce — no more, no
fewer. Some also return params that must hold (e.g. the population cut off by a road gap).

Expected findings are written from the fixture's own codes and geometry, never from the
validator's output. tests/validate/README.md lists the cases in a table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from pianqu.geo import ellipsoidal_area
from validate_fixture import (COUNTY, DX, DY, NV, TOWNSHIPS, boundary_path, crs_frame, nodes,
                              parcel_bsm, ring, row_of, village_code)

T0, T1, T2 = TOWNSHIPS


def E(severity: str, rule: str, layer: str, feature: str = "", field: str = "") -> tuple:
    return (severity, f"validate.{rule}", layer, feature, field)


@dataclass
class Case:
    name: str
    what: str
    breaks: Callable[[dict], object]
    meta: dict = field(default_factory=dict)
    toml: str | None = None


CASES: dict[str, Case] = {}


def case(what: str, *, meta: dict | None = None, toml: str | None = None):
    def deco(fn):
        CASES[fn.__name__] = Case(fn.__name__, what, fn, meta or {}, toml)
        return fn
    return deco


def V(t: int, v: int) -> str:
    return village_code(t, v)


def set_value(frame, id_col: str, fid, column: str, value) -> None:
    frame.iloc[row_of(frame, id_col, fid), frame.columns.get_loc(column)] = value


def set_geom(frame, id_col: str, fid, geom) -> None:
    frame.loc[frame.index[row_of(frame, id_col, fid)], "geometry"] = geom


def recompute_area(frame) -> None:
    frame["area_m2"] = ellipsoidal_area(frame)


def rename_refs(L: dict, column: str, old: str, new: str) -> None:
    for name, frame in L.items():
        if column in frame.columns:
            frame.loc[frame[column] == old, column] = new


# -- the clean fixture ------------------------------------------------------------------------
@case("clean fixture (3 towns × 3 villages, 40 parcels, all layers)")
def clean(L):
    return set()


@case("two survey epochs of the same parcels (2019 and 2023): parcels overlap only across epochs",
      meta={"epochs": (2019, 2023)})
def clean_two_epochs(L):
    old = L["landuse"].copy()
    old["epoch"] = 2019
    L["landuse"] = pd.concat([old, L["landuse"]], ignore_index=True)
    return set()


# -- layers and fields ------------------------------------------------------------------------
def _missing_layer(name):
    def fn(L):
        del L[name]
        return {E("error", "missing_layer", name)}
    fn.__name__ = f"missing_layer_{name}"
    return fn


for _name in ("county", "township", "village", "landuse"):
    case(f"required layer '{_name}' missing")(_missing_layer(_name))


@case("optional layer 'road' absent")
def optional_layer_absent(L):
    del L["road"]
    return {E("info", "optional_layer_absent", "road")}


@case("a layer pianqu does not know ('dem_points')")
def unknown_layer(L):
    L["dem_points"] = crs_frame([{"z": 512.0}], [shapely.Point(107.23, 31.83)])
    return {E("info", "unknown_layer", "dem_points")}


@case("required layer 'village' present but empty")
def empty_layer(L):
    L["village"] = L["village"].iloc[0:0]
    return {E("error", "empty_layer", "village")}


@case("required field village.population missing")
def missing_field_population(L):
    L["village"] = L["village"].drop(columns="population")
    return {E("warning", "population_absent", "village", "", "population")}


@case("required field township.kind missing")
def missing_field_kind(L):
    L["township"] = L["township"].drop(columns="kind")
    return {E("error", "missing_field", "township", "", "kind")}


@case("optional field village.households missing")
def missing_optional_field(L):
    L["village"] = L["village"].drop(columns="households")
    return {E("warning", "missing_optional_field", "village", "", "households")}


@case("village.population stored as text, one value 'abc'")
def population_as_text(L):
    vil = L["village"]
    vil["population"] = vil["population"].astype(str)
    set_value(vil, "code", V(1, 2), "population", "abc")
    return {E("error", "wrong_type", "village", "", "population"),
            E("error", "bad_value", "village", V(1, 2), "population")}


@case("township codes stored as integers (Excel) instead of text")
def code_as_number(L):
    L["township"]["code"] = L["township"]["code"].astype("int64")
    return {E("error", "wrong_type", "township", "", "code")}


@case("a parcel without survey year (epoch)")
def missing_epoch(L):
    lu = L["landuse"]
    lu["epoch"] = lu["epoch"].astype(float)
    set_value(lu, "bsm", parcel_bsm(4, 2), "epoch", np.nan)
    return {E("error", "missing_value", "landuse", parcel_bsm(4, 2), "epoch")}


@case("road width negative")
def negative_width(L):
    set_value(L["road"], "id", "V11", "width_m", -4.5)
    return {E("error", "negative_value", "road", "V11", "width_m")}


# -- geometry ---------------------------------------------------------------------------------
def _loop_at_corner(poly: shapely.Polygon, k: int, eps: float) -> shapely.Polygon:
    """The polygon with a tiny self-intersecting loop (a 'bow-tie' of side ``eps``) at vertex k."""
    pts = np.asarray(poly.exterior.coords)[:-1]
    b, c, d = pts[k - 1], pts[k], pts[(k + 1) % len(pts)]
    c1 = c + eps * (c - b) / np.linalg.norm(c - b)
    c2 = c + eps * (c - d) / np.linalg.norm(c - d)
    return shapely.Polygon([*pts[:k], c1, c2, *pts[k + 1:]])


@case("self-intersecting parcel: a 0.5 m loop at one corner")
def self_intersection(L):
    lu = L["landuse"]
    bsm = parcel_bsm(3, 1)
    poly = lu.geometry.iloc[row_of(lu, "bsm", bsm)]
    set_geom(lu, "bsm", bsm, _loop_at_corner(poly, 2, 5e-6))
    return {E("error", "invalid_geometry", "landuse", bsm)}


@case("a parcel with empty (null) geometry")
def empty_geometry(L):
    set_geom(L["landuse"], "bsm", parcel_bsm(5, 4), None)
    return {E("error", "empty_geometry", "landuse", parcel_bsm(5, 4))}


@case("settlements in projected GK metres (EPSG:4524, zone prefix 36) stored as degrees")
def projected_metres(L):
    s = L["settlement"]
    metres = s.to_crs(4524)
    L["settlement"] = gpd.GeoDataFrame(s.drop(columns="geometry"),
                                       geometry=list(metres.geometry), crs=4490)
    return ({E("error", "projected_coordinates", "settlement", code) for code in s["code"]},
            {("validate.projected_coordinates", T0): {"guess": "EPSG:4524"}})


@case("a facility at 0°E 0°N (in the sea off Africa)")
def outside_china(L):
    set_geom(L["facility"], "id", "F004", shapely.Point(0.0, 0.0))
    return {E("error", "outside_china", "facility", "F004")}


@case("a facility drawn as a polygon (site outline) in the point layer")
def wrong_geometry_type(L):
    f = L["facility"]
    pt = f.geometry.iloc[row_of(f, "id", "F002")]
    set_geom(f, "id", "F002", shapely.buffer(pt, 0.0003, quad_segs=2))
    return {E("error", "wrong_geometry_type", "facility", "F002")}


@case("parcel area field (TBMJ) 5% larger than its ellipsoidal area")
def area_off_5pct(L):
    lu = L["landuse"]
    bsm = parcel_bsm(3, 2)
    r = row_of(lu, "bsm", bsm)
    lu.iloc[r, lu.columns.get_loc("area_m2")] *= 1.05
    return ({E("warning", "area_mismatch", "landuse", bsm, "area_m2")},
            {("validate.area_mismatch", bsm): {"rel": pytest.approx(0.05, rel=1e-3)}})


# -- land-use codes ---------------------------------------------------------------------------
@case("unknown 用地用海 code 0199")
def unknown_landuse_code(L):
    set_value(L["landuse"], "bsm", parcel_bsm(1, 0), "code", "0199")
    return {E("error", "unknown_landuse_code", "landuse", parcel_bsm(1, 0), "code")}


@case("parcel left without code by import (三调 code needing review: code and name empty)")
def empty_landuse_code(L):
    lu = L["landuse"]
    set_value(lu, "bsm", parcel_bsm(0, 5), "code", "")
    set_value(lu, "bsm", parcel_bsm(0, 5), "name", "")
    return {E("error", "unknown_landuse_code", "landuse", parcel_bsm(0, 5), "code")}


@case("code/name mismatch: 0101 named 旱地")
def code_name_mismatch(L):
    set_value(L["landuse"], "bsm", parcel_bsm(2, 2), "name", "旱地")
    return ({E("error", "landuse_name_mismatch", "landuse", parcel_bsm(2, 2), "name")},
            {("validate.landuse_name_mismatch", parcel_bsm(2, 2)): {"expected": "水田"}})


@case("2020-only code 0603 畜禽养殖设施建设用地 in a 2023 workspace")
def code_2020_only(L):
    lu = L["landuse"]
    set_value(lu, "bsm", parcel_bsm(4, 1), "code", "0603")
    set_value(lu, "bsm", parcel_bsm(4, 1), "name", "畜禽养殖设施建设用地")
    return ({E("error", "landuse_code_version", "landuse", parcel_bsm(4, 1), "code")},
            {("validate.landuse_code_version", parcel_bsm(4, 1)): {"suggestion": "060202"}})


@case("2020 meaning of a code that exists in 2023 with another meaning: 2302 田坎")
def code_2020_meaning(L):
    lu = L["landuse"]
    set_value(lu, "bsm", parcel_bsm(5, 2), "code", "2302")
    set_value(lu, "bsm", parcel_bsm(5, 2), "name", "田坎")
    return ({E("error", "landuse_code_version", "landuse", parcel_bsm(5, 2), "code")},
            {("validate.landuse_code_version", parcel_bsm(5, 2)): {"suggestion": "2303"}})


@case("2020 workspace: 2020 codes accepted, a 2023-only code 060202 rejected",
      meta={"landuse_version": 2020})
def workspace_2020(L):
    lu = L["landuse"]
    lu.loc[lu["code"] == "0601", "name"] = "乡村道路用地"  # the 2020 name of 0601
    set_value(lu, "bsm", parcel_bsm(4, 1), "code", "0603")
    set_value(lu, "bsm", parcel_bsm(4, 1), "name", "畜禽养殖设施建设用地")
    set_value(lu, "bsm", parcel_bsm(3, 1), "code", "060202")
    set_value(lu, "bsm", parcel_bsm(3, 1), "name", "畜禽养殖设施建设用地")
    return ({E("error", "landuse_code_version", "landuse", parcel_bsm(3, 1), "code")},
            {("validate.landuse_code_version", parcel_bsm(3, 1)): {"suggestion": "0603"}})


@case("unknown 城镇村属性码 209")
def unknown_czcsxm(L):
    set_value(L["landuse"], "bsm", parcel_bsm(1, 3), "czcsxm", "209")
    return {E("error", "unknown_czcsxm", "landuse", parcel_bsm(1, 3), "czcsxm")}


# -- administrative codes ---------------------------------------------------------------------
@case("county layer coded 511922 in a 511921 workspace")
def county_code_mismatch(L):
    L["county"]["code"] = "511922"
    return {E("error", "county_code_mismatch", "county", "511922", "code")}


@case("a whole township from another county (code 511912102, its villages and references renamed)")
def township_code_not_in_county(L):
    new = "511912102"
    for t, v in [(2, k) for k in range(NV)]:
        rename_refs(L, "village_code", V(t, v), new + V(t, v)[9:])
        L["village"].loc[L["village"]["code"] == V(t, v), "code"] = new + V(t, v)[9:]
    rename_refs(L, "township_code", T2, new)
    L["township"].loc[L["township"]["code"] == T2, "code"] = new
    return {E("error", "code_hierarchy", "township", new, "code")}


@case("township.county_code says 511922")
def township_wrong_county_code(L):
    set_value(L["township"], "code", T1, "county_code", "511922")
    return {E("error", "unknown_parent", "township", T1, "county_code")}


@case("village code not starting with its township code (511921100099 in 民胜镇)")
def village_code_not_in_township(L):
    new = T0 + "099"
    rename_refs(L, "village_code", V(1, 2), new)
    set_value(L["village"], "code", V(1, 2), "code", new)
    return {E("error", "code_hierarchy", "village", new, "code")}


@case("village code of 11 digits (references renamed)")
def village_code_format(L):
    new = V(2, 0)[:11]
    rename_refs(L, "village_code", V(2, 0), new)
    set_value(L["village"], "code", V(2, 0), "code", new)
    return {E("error", "code_format", "village", new, "code")}


@case("village.township_code names a township that does not exist")
def unknown_parent_township(L):
    set_value(L["village"], "code", V(1, 0), "township_code", "511921199")
    return {E("error", "unknown_parent", "village", V(1, 0), "township_code"),
            E("error", "code_hierarchy", "village", V(1, 0), "code")}


@case("facility's township_code disagrees with the township of its village_code")
def parent_mismatch(L):
    f = L["facility"]
    fid = f.loc[f["village_code"] == V(1, 2), "id"].iloc[0]
    set_value(f, "id", fid, "township_code", T0)
    return {E("error", "parent_mismatch", "facility", fid, "township_code")}


@case("duplicate village code (a village recoded to its neighbour's code, references too)")
def duplicate_village_code(L):
    a, b = row_of(L["village"], "code", V(2, 0)) + 1, row_of(L["village"], "code", V(2, 1)) + 1
    rename_refs(L, "village_code", V(2, 1), V(2, 0))
    set_value(L["village"], "code", V(2, 1), "code", V(2, 0))
    return {E("error", "duplicate_id", "village", f"{V(2, 0)} #{a}", "code"),
            E("error", "duplicate_id", "village", f"{V(2, 0)} #{b}", "code")}


@case("duplicate parcel bsm (typo: one parcel given its neighbour's bsm)")
def duplicate_bsm(L):
    a, b = row_of(L["landuse"], "bsm", parcel_bsm(4, 3)) + 1, row_of(L["landuse"], "bsm", parcel_bsm(4, 4)) + 1
    set_value(L["landuse"], "bsm", parcel_bsm(4, 4), "bsm", parcel_bsm(4, 3))
    return {E("error", "duplicate_id", "landuse", f"{parcel_bsm(4, 3)} #{a}", "bsm"),
            E("error", "duplicate_id", "landuse", f"{parcel_bsm(4, 3)} #{b}", "bsm")}


@case("a parcel imported twice (same bsm, same geometry)")
def parcel_imported_twice(L):
    lu = L["landuse"]
    r = row_of(lu, "bsm", parcel_bsm(2, 2))
    L["landuse"] = pd.concat([lu, lu.iloc[[r]]], ignore_index=True)
    bsm = parcel_bsm(2, 2)
    return {E("error", "duplicate_id", "landuse", f"{bsm} #{r + 1}", "bsm"),
            E("error", "duplicate_id", "landuse", f"{bsm} #{len(lu) + 1}", "bsm"), E("error", "overlap", "landuse", bsm)}


# -- vocabularies -----------------------------------------------------------------------------
@case("facility kind given as a Chinese name (卫生院) instead of the kind id")
def unknown_facility_kind(L):
    set_value(L["facility"], "id", "F001", "kind", "卫生院")
    return ({E("error", "unknown_facility_kind", "facility", "F001", "kind")},
            {("validate.unknown_facility_kind", "F001"): {"suggestion": "health_centre"}})


@case("settlement level not in the list (中心村)")
def settlement_level(L):
    set_value(L["settlement"], "code", V(0, 2), "level", "中心村")
    return {E("error", "unknown_value", "settlement", V(0, 2), "level")}


@case("road class not in the list (乡道)")
def road_class(L):
    set_value(L["road"], "id", "C03", "class", "乡道")
    return {E("error", "unknown_value", "road", "C03", "class")}


@case("telecom technology 3G")
def telecom_tech(L):
    set_value(L["telecom"], "id", "T4G", "tech", "3G")
    return {E("error", "unknown_value", "telecom", "T4G", "tech")}


@case("economy table: a negative output and a sector outside the industry list")
def economy_rows(L):
    eco = L["economy"]
    eco.iloc[1, eco.columns.get_loc("output")] = -300.0
    eco.iloc[4, eco.columns.get_loc("sector")] = "川菜"
    return {E("error", "negative_value", "economy", "#2", "output"),
            E("warning", "unknown_sector", "economy", "#5", "sector")}


@case("two county seats (a town seat marked county_seat)")
def two_county_seats(L):
    set_value(L["settlement"], "code", T2, "level", "county_seat")
    return {E("warning", "county_seat_count", "settlement", "", "level")}


# -- partitions and containment ---------------------------------------------------------------
def _moved(i: int, j: int, dx: float, dy: float) -> np.ndarray:
    n = nodes().copy()
    n[i, j] += (dx * DX, dy * DY)
    return n


@case("overlapping townships: a boundary node of 诺江镇 pushed 280 m into 民胜镇")
def overlapping_townships(L):
    tw = L["township"]
    set_geom(tw, "code", T0, ring(_moved(2, 3, 0.3, 0), boundary_path(0, 0, 2, 6)))
    recompute_area(tw)
    return {E("error", "overlap", "township", T0)}


@case("gap between two villages: a shared node moved 270 m into one village, for that village only")
def gap_between_villages(L):
    vil = L["village"]
    set_geom(vil, "code", V(0, 0), ring(_moved(1, 2, 0, -0.3), boundary_path(0, 0, 2, 2)))
    recompute_area(vil)
    first, second = sorted((V(0, 0), V(0, 1)))
    return ({E("error", "gap", "village", first),
             # the two parcels of the shrunk village that now reach into the gap
             E("error", "outside_parent", "landuse", parcel_bsm(0, 1), "village_code"),
             E("error", "outside_parent", "landuse", parcel_bsm(1, 1), "village_code")},
            {("validate.gap", first): {"neighbours": f"{first}, {second}"},
             ("validate.outside_parent", parcel_bsm(0, 1)): {"parent": V(0, 0)}})


@case("the same gap with validate.gap_tolerance_m2 raised to 1 km² in pianqu.toml",
      toml='[thresholds]\n"validate.gap_tolerance_m2" = 1000000.0\n')
def gap_below_user_tolerance(L):
    expected, _ = gap_between_villages(L)
    return {e for e in expected if e[1] != "validate.gap"}


@case("village outside its township: the town boundary moved 280 m into one of its villages")
def village_outside_township(L):
    tw = L["township"]
    n = _moved(2, 3, -0.3, 0)
    set_geom(tw, "code", T0, ring(n, boundary_path(0, 0, 2, 6)))
    set_geom(tw, "code", T1, ring(n, boundary_path(2, 0, 4, 6)))
    recompute_area(tw)
    return {E("error", "outside_parent", "village", V(0, 1), "township_code")}


@case("parcel crossing two villages: a parcel reaching 0.1 km² into the next village")
def parcel_crosses_villages(L):
    lu = L["landuse"]
    n = nodes()
    a, b = parcel_bsm(2, 1), parcel_bsm(2, 2)
    c = shapely.centroid(lu.geometry.iloc[row_of(lu, "bsm", b)]).coords[0]
    p = lambda i, j: tuple(n[i, j])  # noqa: E731
    set_geom(lu, "bsm", a, shapely.Polygon([p(2, 1), p(3, 1), p(3, 2), c, p(2, 2)]))
    set_geom(lu, "bsm", b, shapely.Polygon([p(2, 2), c, p(3, 2), p(3, 3), p(2, 3)]))
    recompute_area(lu)
    return {E("error", "crosses_villages", "landuse", a, "village_code")}


@case("parcel whose village_code names the neighbouring village")
def parcel_wrong_village(L):
    set_value(L["landuse"], "bsm", parcel_bsm(0, 1), "village_code", V(0, 1))
    return {E("warning", "location_mismatch", "landuse", parcel_bsm(0, 1), "village_code")}


@case("facility whose village_code names another village of the same township")
def facility_wrong_village(L):
    f = L["facility"]
    fid = f.loc[(f["kind"] == "village_clinic") & (f["village_code"] == V(0, 0)), "id"].iloc[0]
    set_value(f, "id", fid, "village_code", V(0, 1))
    return {E("warning", "location_mismatch", "facility", fid, "village_code")}


# -- population -------------------------------------------------------------------------------
@case("negative village population")
def negative_population(L):
    set_value(L["village"], "code", V(0, 2), "population", -5)
    return {E("error", "negative_population", "village", V(0, 2), "population")}


@case("missing village population")
def missing_population(L):
    vil = L["village"]
    vil["population"] = vil["population"].astype(float)
    set_value(vil, "code", V(2, 1), "population", np.nan)
    return {E("warning", "missing_population", "village", V(2, 1), "population")}


@case("village population of 8 万 (totals above adjusted to match)")
def implausible_population(L):
    for frame, key, code in [(L["village"], "code", V(1, 1)), (L["township"], "code", T1),
                             (L["county"], "code", COUNTY)]:
        r = row_of(frame, key, code)
        frame.iloc[r, frame.columns.get_loc("population")] += 80000
    return {E("warning", "population_implausible", "village", V(1, 1), "population")}


@case("township population 20% above the sum of its villages")
def population_sum(L):
    tw = L["township"]
    r = row_of(tw, "code", T2)
    tw.iloc[r, tw.columns.get_loc("population")] = int(tw.iloc[r]["population"] * 1.2)
    return {E("warning", "population_sum_mismatch", "township", T2, "population"),
            E("warning", "population_sum_mismatch", "county", COUNTY, "population")}


# -- roads ------------------------------------------------------------------------------------
def _shorten_end(line: shapely.LineString, metres: float) -> shapely.LineString:
    """The line with its last point pulled back along the last edge by ``metres`` (approx.)."""
    pts = np.asarray(line.coords)
    a, b = pts[-2], pts[-1]
    deg_per_m = np.array([1 / (111320 * np.cos(np.radians(b[1]))), 1 / 110574])
    step = (a - b) / np.linalg.norm((a - b) / deg_per_m)
    pts[-1] = b + step * metres
    return shapely.LineString(pts)


@case("village road end 0.5 m short of the county road (not noded; still reached by a loop road)")
def road_not_noded(L):
    r = L["road"]
    line = r.geometry.iloc[row_of(r, "id", "V10")]
    set_geom(r, "id", "V10", _shorten_end(line, 0.5))
    return {E("warning", "road_not_noded", "road", "V10")}


@case("village road ending 30 m short of the county road: its village seat is cut off")
def road_disconnected(L):
    r = L["road"]
    line = r.geometry.iloc[row_of(r, "id", "V02")]
    set_geom(r, "id", "V02", _shorten_end(line, 30.0))
    s = L["settlement"]
    pop = int(s.iloc[row_of(s, "code", V(0, 2))]["population"])
    return ({E("warning", "road_disconnected", "road", "V02")},
            {("validate.road_disconnected", "V02"): {"population": pop, "n_roads": 1}})
