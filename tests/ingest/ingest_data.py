"""Realistic planner data for 通江县 (511921), written with pyogrio the way GIS tools write it.

Real division codes and names (``pianqu.divisions``) on a made-up 3 km × 2 km patch near
107.25°E 31.9°N. The 三调 File GDB is in CGCS2000 3° GK zone 36 *with* zone prefix
(EPSG:4524; 通江 lies near CM 108°E, zone 36 = 108/3), with standard layer and field names.
TBMJ is the ellipsoidal (geodesic) area of each parcel, computed independently of pianqu with
``pyproj.Geod`` on the densified polygon, as the 三调 does.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyproj import Geod, Transformer

from pianqu import divisions
from pianqu.standards import sandiao_mapping

COUNTY = "511921"
TOWNSHIPS = ["511921101", "511921102"]  # 民胜镇, 火炬镇
ORIGIN = (36_429_000.0, 3_531_000.0)  # EPSG:4524 metres, ≈ 107.25°E 31.9°N
CELL = 1000.0
# 三调 DLBM cycled over the parcels, with the 用地用海 2023 code each must become (05H1 and 08H2 have
# no unique mapping: they carry the default of sandiao.csv and go on the review list)
SANDIAO = [("0101", "0101"), ("0702", "0703"), ("1006", "0601"), ("1202", "0602"), ("0305", "0303"),
           ("05H1", "0901"), ("0201K", "0201"), ("0103", "0103"), ("1101", "1701"), ("0404", "0403"),
           ("08H2", "08"), ("1003", "1202")]
REVIEWED = {"05H1": "0901", "08H2": "08"}  # source code → default
GEOD = Geod(ellps="GRS80")
TO_4490 = {epsg: Transformer.from_crs(epsg, 4490, always_xy=True) for epsg in (4524, 4545)}


def geodesic_area(geoms: gpd.GeoSeries) -> np.ndarray:
    """Ellipsoidal area (m²) of projected polygons: densify every 5 m, to degrees, geodesic area."""
    tr = TO_4490[geoms.crs.to_epsg()]
    out = []
    for g in shapely.segmentize(geoms.to_numpy(), 5.0):
        ll = shapely.transform(g, lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1])))
        out.append(abs(GEOD.geometry_area_perimeter(ll)[0]))
    return np.array(out)


def villages() -> pd.DataFrame:
    v = divisions.villages(COUNTY)
    v = v[v["township_code"].isin(TOWNSHIPS)]
    return v.groupby("township_code").head(3).reset_index(drop=True)


def village_cells(crs: int = 4524, origin: tuple[float, float] = ORIGIN) -> gpd.GeoDataFrame:
    v = villages()
    row = v["township_code"].map({t: i for i, t in enumerate(TOWNSHIPS)}).to_numpy()
    col = v.groupby("township_code").cumcount().to_numpy()
    x0 = origin[0] + col * CELL
    y0 = origin[1] + row * CELL
    return gpd.GeoDataFrame(v, geometry=shapely.box(x0, y0, x0 + CELL, y0 + CELL), crs=crs)


def parcels() -> gpd.GeoDataFrame:
    """4 parcels per village (a 2 × 2 split of its square): 24 parcels, the 12 codes twice."""
    cells = village_cells()
    rows = []
    k = 0
    for _, v in cells.iterrows():
        x0, y0, x1, y1 = v.geometry.bounds
        h = (x1 - x0) / 2
        for dx in (0, 1):
            for dy in (0, 1):
                code, _ = SANDIAO[k % len(SANDIAO)]
                rows.append({"village": v["code"], "vname": v["official_name"], "code": code,
                             "geometry": shapely.box(x0 + dx * h, y0 + dy * h, x0 + (dx + 1) * h, y0 + (dy + 1) * h)})
                k += 1
    p = gpd.GeoDataFrame(rows, geometry="geometry", crs=4524)
    names = sandiao_mapping().set_index("code")["name"]
    base = p["code"].str.replace("K", "", regex=False)
    czcsxm = np.where(p["code"].isin(["0702", "05H1", "08H2"]), "203", "")
    tbmj = np.round(geodesic_area(p.geometry), 2)
    pdjb = np.array([1 + i % 5 for i in range(len(p))])
    # 三调 扣除: KCXS of 耕地 by 坡度级别 (values of a county's 田坎系数表), KCMJ = TBMJ × KCXS, TBDLMJ = TBMJ − KCMJ
    kcxs = np.where(p["code"].str.startswith("01"), np.array([0.0, 0.0, 0.034, 0.081, 0.132, 0.178])[pdjb], 0.0)
    kcmj = np.round(tbmj * kcxs, 2)
    return gpd.GeoDataFrame({
        "BSM": [f"5119212019{i:08d}" for i in range(len(p))],
        "DLBM": p["code"],
        "DLMC": np.where(p["code"].str.endswith("K"), "可调整" + base.map(names), base.map(names)),
        "TBMJ": tbmj,
        "KCXS": kcxs,
        "KCMJ": kcmj,
        "TBDLMJ": np.round(tbmj - kcmj, 2),
        "CZCSXM": czcsxm,
        "ZLDWDM": p["village"] + "0000000",
        "ZLDWMC": p["vname"],
        "QSDWDM": p["village"] + "0000000",
        "QSDWMC": p["vname"],
        "PDJB": [str(k) for k in pdjb],
        "TBBH": [str(i + 1) for i in range(len(p))],
    }, geometry=p.geometry, crs=4524)


def write_sandiao_gdb(path: Path) -> gpd.GeoDataFrame:
    """A 三调-style File GDB: DLTB, XZQ, XZQJX, CJDCQ, YJJBNT, STBHHX, CZKFBJ. Returns DLTB."""
    dltb = parcels()
    cells = village_cells()
    towns = cells.dissolve(by="township_code", as_index=False)
    names = divisions.townships(COUNTY).set_index("code")["name"]
    xzq = gpd.GeoDataFrame({"BSM": [f"51192100{i:010d}" for i in range(len(towns))],
                            "YSDM": "1000600100", "XZQDM": towns["township_code"],
                            "XZQMC": towns["township_code"].map(names),
                            "DCMJ": np.round(geodesic_area(towns.geometry), 2)},
                           geometry=towns.geometry.to_numpy(), crs=4524)
    xzqjx = gpd.GeoDataFrame({"BSM": ["1", "2"], "JXLX": "670500"}, geometry=towns.boundary.to_numpy(), crs=4524)
    # CJDCQ: the first village comes in two features (west and east halves) with the same ZLDWDM
    first = cells.geometry.iloc[0]
    x0, y0, x1, y1 = first.bounds
    halves = [shapely.box(x0, y0, (x0 + x1) / 2, y1), shapely.box((x0 + x1) / 2, y0, x1, y1)]
    geoms = halves + list(cells.geometry.iloc[1:])
    codes = [cells["code"].iloc[0]] * 2 + list(cells["code"].iloc[1:])
    official = [cells["official_name"].iloc[0]] * 2 + list(cells["official_name"].iloc[1:])
    cjdcq = gpd.GeoDataFrame({"BSM": [f"51192130{i:010d}" for i in range(len(geoms))],
                              "ZLDWDM": [c + "0000000" for c in codes], "ZLDWMC": official},
                             geometry=geoms, crs=4524)
    farmland = dltb[dltb["DLBM"].isin(["0101", "0103"])]
    yjjbnt = gpd.GeoDataFrame({"BSM": [f"51192140{i:010d}" for i in range(len(farmland))],
                               "DLBM": farmland["DLBM"].to_numpy(), "TBMJ": farmland["TBMJ"].to_numpy()},
                              geometry=farmland.geometry.to_numpy(), crs=4524)
    red = cells.geometry.iloc[[5]]
    stbhhx = gpd.GeoDataFrame({"BSM": ["511921500000000001"], "HXLX": ["水源涵养"],
                               "MJ": np.round(geodesic_area(red) / 10_000, 6)},  # 公顷
                              geometry=red.to_numpy(), crs=4524)
    ub = shapely.box(ORIGIN[0] + 100, ORIGIN[1] + 100, ORIGIN[0] + 600, ORIGIN[1] + 600)
    czkfbj = gpd.GeoDataFrame({"BSM": ["511921600000000001"], "XZQDM": ["511921101"],
                               "MJ": np.round(geodesic_area(gpd.GeoSeries([ub], crs=4524)), 2)},
                              geometry=[ub], crs=4524)
    for name, frame in [("DLTB", dltb), ("XZQ", xzq), ("XZQJX", xzqjx), ("CJDCQ", cjdcq), ("YJJBNT", yjjbnt),
                        ("STBHHX", stbhhx), ("CZKFBJ", czkfbj)]:
        pyogrio.write_dataframe(frame, path, layer=name, driver="OpenFileGDB")
    return dltb


def write_gbk_shapefiles(root: Path) -> dict[str, Path]:
    """村界.shp (GBK, .cpg says GBK) and 乡镇.shp (GBK, no .cpg), both in EPSG:4545 (CM 108°E, no prefix)."""
    to4545 = Transformer.from_crs(4524, 4545, always_xy=True)
    origin = to4545.transform(*ORIGIN)
    cells = village_cells(4545, origin)
    rng = np.random.default_rng(7)
    out = {}
    cun = gpd.GeoDataFrame({"村代码": cells["code"], "村名称": cells["official_name"],
                            "乡镇代码": cells["township_code"],
                            "常住人口": rng.integers(600, 3000, len(cells)),
                            "村庄分类": ["集聚提升", "特色保护", "城郊融合", "集聚提升", "搬迁撤并", "集聚提升"]},
                           geometry=cells.geometry, crs=4545)
    (root / "cpg").mkdir()
    out["village"] = root / "cpg" / "村界.shp"
    pyogrio.write_dataframe(cun, out["village"], encoding="GBK")
    assert out["village"].with_suffix(".cpg").read_text().strip().upper() == "GBK"
    towns = cells.dissolve(by="township_code", as_index=False)
    names = divisions.townships(COUNTY).set_index("code")["name"]
    xiang = gpd.GeoDataFrame({"乡镇代码": towns["township_code"], "乡镇名称": towns["township_code"].map(names)},
                             geometry=towns.geometry.to_numpy(), crs=4545)
    (root / "nocpg").mkdir()
    out["township"] = root / "nocpg" / "乡镇.shp"
    pyogrio.write_dataframe(xiang, out["township"], encoding="GBK")
    out["township"].with_suffix(".cpg").unlink()
    return out


def write_other_formats(root: Path) -> dict[str, Path]:
    """设施.gpkg (EPSG:4490), 道路.geojson (EPSG:4326), 产业统计.csv (GBK), 人口.xlsx (title row)."""
    cells = village_cells().to_crs(4490)
    pts = cells.geometry.representative_point()
    out = {}
    fac = gpd.GeoDataFrame({"编号": [f"F{i:03d}" for i in range(6)],
                            "设施名称": ["民胜镇卫生院", "民胜小学", "火炬镇敬老院", "村卫生室", "日间照料中心", "农家书屋"],
                            "设施类型": ["卫生院", "小学", "敬老院", "村卫生室", "日间照料中心", "农家书屋"],
                            "乡镇代码": cells["township_code"].to_numpy()},
                           geometry=pts.to_numpy(), crs=4490)
    out["facility"] = root / "设施.gpkg"
    pyogrio.write_dataframe(fac, out["facility"], layer="公共服务设施", driver="GPKG")
    centres = village_cells().geometry.centroid.to_crs(4490)
    xs, ys = centres.x.to_numpy(), centres.y.to_numpy()
    lines = [shapely.LineString([(xs[i], ys[i]), (xs[i + 1], ys[i + 1])]) for i in range(len(xs) - 1)]
    road = gpd.GeoDataFrame({"名称": [f"路{i}" for i in range(len(lines))],
                             "道路等级": ["县道", "乡道", "村道", "村道", "国道"],
                             "路面宽度": [8.5, 6.5, 4.5, 4.5, 12.0]}, geometry=lines, crs=4490).to_crs(4326)
    out["road"] = root / "道路.geojson"
    pyogrio.write_dataframe(road, out["road"], driver="GeoJSON")
    econ = pd.DataFrame({"乡镇代码": TOWNSHIPS * 2, "产业": ["川茶", "川茶", "川猪", "川粮油"],
                         "产值（万元）": [1200.5, 800, 3000, 950.25], "从业人员": [300, 210, 95, 410],
                         "年份": [2023] * 4})
    out["economy"] = root / "产业统计.csv"
    out["economy"].write_bytes(econ.to_csv(index=False).encode("gbk"))
    v = villages()
    pop = pd.DataFrame({"行政区代码": [int(t + "000") for t in TOWNSHIPS] + [int(c) for c in v["code"]],
                        "名称": list(divisions.townships(COUNTY).set_index("code").loc[TOWNSHIPS, "name"])
                        + list(v["official_name"]),
                        "常住人口": [21000, 18000] + [1500 + 100 * i for i in range(len(v))],
                        "户数": [7000, 6100] + [500 + 30 * i for i in range(len(v))]})
    out["population"] = root / "人口.xlsx"
    with pd.ExcelWriter(out["population"], engine="openpyxl") as xw:
        pd.DataFrame([["通江县2020年常住人口统计表"]]).to_excel(xw, index=False, header=False, startrow=0)
        pop.to_excel(xw, index=False, startrow=2)
    return out


def file_hashes(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}
