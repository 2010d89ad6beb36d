"""Real administrative divisions of Sichuan (NBS 2023 codes, 2018 pre-merger list) and the
2020 census per county, shipped in ``pianqu/data`` (provenance in ``data/SOURCES.md``)."""

from __future__ import annotations

from functools import cache
from importlib import resources

import pandas as pd

from pianqu.errors import UserKeyError

_DATA = "pianqu.data"


def _read(name: str, **kw) -> pd.DataFrame:
    with resources.files(_DATA).joinpath(name).open("rb") as fh:
        return pd.read_csv(fh, compression="gzip" if name.endswith(".gz") else None, **kw)


def township_kind(name: str) -> str:
    """镇 / 乡 / 街道 from an official township name (民族乡 is a 乡)."""
    n = name.replace("办事处", "")
    if n.endswith("街道"):
        return "街道"
    if n.endswith("镇"):
        return "镇"
    if n.endswith("乡"):
        return "乡"
    return "其他"


def village_kind(name: str) -> str:
    """社区 (residents' committee) or 村 (villagers' committee) from the official name."""
    return "社区" if ("居委会" in name or "居民委员会" in name or name.endswith("社区")) else "村"


def short_village_name(name: str) -> str:
    """'大树村村民委员会' → '大树村'; '城南社区居民委员会' → '城南社区' (the name planners use)."""
    for suffix in ("村民委员会", "居民委员会", "村委会", "居委会"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


@cache
def counties() -> pd.DataFrame:
    """All 183 Sichuan counties: code, name, city_code, city_name."""
    c = _read("sichuan_counties.csv", dtype=str)
    cities = _read("sichuan_cities.csv", dtype=str).set_index("code")["name"]
    return pd.DataFrame({"code": c["code"], "name": c["name"], "city_code": c["cityCode"],
                         "city_name": c["cityCode"].map(cities)})


def county(code: str) -> pd.Series:
    """One county's row; a clear error for a code that is not a Sichuan county."""
    table = counties()
    hit = table[table["code"] == str(code)]
    if hit.empty:
        raise UserKeyError("common.not_a_county", code=str(code))
    return hit.iloc[0]


@cache
def _townships() -> pd.DataFrame:
    t = _read("sichuan_townships.csv.gz", dtype=str)
    return pd.DataFrame({"code": t["code"], "name": t["name"], "county_code": t["areaCode"],
                         "kind": t["name"].map(township_kind)})


def townships(county_code: str | None = None) -> pd.DataFrame:
    """Townships (2023): code (9), name, county_code, kind (镇/乡/街道)."""
    t = _townships()
    return t if county_code is None else t[t["county_code"] == str(county_code)].reset_index(drop=True)


@cache
def _townships_2018() -> pd.DataFrame:
    t = _read("sichuan_townships_2018.csv.gz", dtype=str)
    return pd.DataFrame({"code": t["code"], "name": t["name"], "county_code": t["areaCode"],
                         "kind": t["name"].map(township_kind)})


def townships_2018(county_code: str | None = None) -> pd.DataFrame:
    """Townships before the 2019–2020 merger (NBS 2018 list)."""
    t = _townships_2018()
    return t if county_code is None else t[t["county_code"] == str(county_code)].reset_index(drop=True)


@cache
def _villages() -> pd.DataFrame:
    v = _read("sichuan_villages.csv.gz", dtype=str)
    return pd.DataFrame({"code": v["code"], "name": v["name"].map(short_village_name),
                         "official_name": v["name"], "township_code": v["streetCode"],
                         "county_code": v["areaCode"], "kind": v["name"].map(village_kind)})


def villages(county_code: str | None = None) -> pd.DataFrame:
    """Villages and communities (2023): code (12), name, official_name, township_code, kind."""
    v = _villages()
    return v if county_code is None else v[v["county_code"] == str(county_code)].reset_index(drop=True)


@cache
def _census() -> pd.DataFrame:
    c = _read("census_2020_sichuan_counties.csv.gz")
    c = c.copy()  # read_csv of 153 columns leaves a fragmented frame
    c["code"] = c["区划代码"].astype(int).astype(str)
    return c


def _stem(name: str) -> str:
    return name[:-1] if name[-1:] in ("县", "市", "区") else name


def census(county_code: str) -> dict[str, float]:
    """2020 census figures of a county: total, urban, rural population and households."""
    c = _census()
    hit = c[c["code"] == str(county_code)]
    if hit.empty:  # renamed since 2020 (e.g. 会理县 513425 → 会理市 513402 in 2021): match by name
        row = county(county_code)
        hit = c[(c["区县"].map(_stem) == _stem(row["name"])) & (c["市"] == row["city_name"])]
    if hit.empty:
        raise KeyError(f"no 2020 census row for county {county_code}")
    r = hit.iloc[0]
    return {"population": int(r["人口数_合计"]), "urban": int(r["城镇人口"]), "rural": int(r["乡村人口"]),
            "households": int(r["家庭户数"]), "share_65plus": float(r["人口比重_65岁及以上"]) / 100.0}
