"""A small real-format workspace for the plan and CLI tests: synthetic geometry (pianqu.zoning.
synthetic, seconds instead of pianqu.synth's tens of seconds) with real township codes, names and
kinds of 简阳市 (510185) — among them 新市街道 and 杨家镇, the one pair of 2023 townships that were
one 2018 township (新市镇) — written as the declared layers: county, township, village,
settlement (seats) and road (straight segments between seats of adjacent units, and from every
village seat to its town seat)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from pianqu import divisions
from pianqu.workspace import Workspace
from pianqu.testing.zoning import synthetic_county, synthetic_villages

COUNTY = "510185"
PAIR = ("510185003", "510185102")  # 新市街道, 杨家镇: both were 新市镇 (510185102) in 2018


def township_rows(n: int) -> pd.DataFrame:
    """n real townships of 简阳市 including the pair, in code order."""
    t = divisions.townships(COUNTY)
    keep = t[t["code"].isin(PAIR)]
    rest = t[~t["code"].isin(PAIR)].head(n - len(keep))
    return pd.concat([keep, rest]).sort_values("code").reset_index(drop=True)


def _lines(units: gpd.GeoDataFrame, roads: pd.DataFrame, prefix: str) -> gpd.GeoDataFrame:
    x, y = units["seat_lon"].to_numpy(), units["seat_lat"].to_numpy()
    i, j = roads["i"].to_numpy(), roads["j"].to_numpy()
    geom = shapely.linestrings(np.stack([np.c_[x[i], y[i]], np.c_[x[j], y[j]]], axis=1))
    return gpd.GeoDataFrame({"id": [f"{prefix}{k}" for k in range(len(i))], "class": roads["class"].to_numpy()},
                            geometry=geom, crs=4490)


def build(path, *, n: int = 12, villages_per_township: int = 4, seed: int = 3) -> Workspace:
    rows = township_rows(n)
    inst = synthetic_county(n, seed=seed, county_code=COUNTY, codes=list(rows["code"]), names=list(rows["name"]),
                            kinds=list(rows["kind"]))
    vinst = synthetic_villages(inst, villages_per_township=villages_per_township, seed=seed + 1,
                               village_classes=False)
    t, v = inst.units, vinst.units
    county = gpd.GeoDataFrame({"code": [COUNTY], "name": [divisions.county(COUNTY)["name"]],
                               "population": [int(t["population"].sum())]},
                              geometry=[t.geometry.union_all()], crs=4490)
    township = t[["code", "name", "county_code", "kind", "population", "geometry"]].copy()
    village = v[["code", "name", "township_code", "kind", "population", "geometry"]].copy()
    seat = t.loc[t["is_county_seat"]].iloc[0]
    settle = pd.concat([
        pd.DataFrame({"code": ["cs"], "name": ["县城"], "level": ["county_seat"], "population": [0],
                      "township_code": [seat["code"]], "village_code": [""],
                      "x": [seat["seat_lon"]], "y": [seat["seat_lat"]]}),
        pd.DataFrame({"code": "t" + t["code"], "name": t["name"], "level": "town_seat", "population": t["population"],
                      "township_code": t["code"], "village_code": "", "x": t["seat_lon"], "y": t["seat_lat"]}),
        pd.DataFrame({"code": "v" + v["code"], "name": v["name"], "level": "village_seat",
                      "population": v["population"], "township_code": v["township_code"],
                      "village_code": v["code"], "x": v["seat_lon"], "y": v["seat_lat"]}),
    ], ignore_index=True)
    settlement = gpd.GeoDataFrame(settle.drop(columns=["x", "y"]), geometry=shapely.points(settle["x"], settle["y"]),
                                  crs=4490)
    # village seat → its town seat (village road), so both levels are on one network
    pos = {c: k for k, c in enumerate(t["code"])}
    link_geom = shapely.linestrings(np.stack([np.c_[v["seat_lon"], v["seat_lat"]],
                                              np.c_[t["seat_lon"].to_numpy()[v["township_code"].map(pos)],
                                                    t["seat_lat"].to_numpy()[v["township_code"].map(pos)]]], axis=1))
    links = gpd.GeoDataFrame({"id": [f"L{k}" for k in range(len(v))], "class": "village"}, geometry=link_geom,
                             crs=4490)
    road = pd.concat([_lines(t, inst.roads, "T"), _lines(v, vinst.roads, "V"), links], ignore_index=True)
    ws = Workspace.create(path, county_code=COUNTY, county_name=str(county["name"].iloc[0]), synthetic=True,
                          compute_epsg=4544, overwrite=True)
    ws.write({"county": county, "township": township, "village": village, "settlement": settlement,
              "road": gpd.GeoDataFrame(road, geometry="geometry", crs=4490)}, command="test", reason="test fixture")
    return ws
