"""Code tables and thresholds shipped as data, each entry with its source and sureness.

Sureness tags follow domain.md: ``read`` (seen in a named source), ``recalled`` (background
knowledge, to verify), ``inferred`` (a design choice). Nothing here is a bare constant in code.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import pandas as pd

LANDUSE_VERSIONS = (2020, 2023)


def _csv(name: str) -> pd.DataFrame:
    with resources.files(__package__).joinpath(name).open("rb") as fh:
        return pd.read_csv(fh, dtype=str, keep_default_na=False)


@cache
def landuse_codes(version: int = 2023) -> pd.DataFrame:
    """The 用地用海 classification (2023 formal or 2020 trial): code, name, level, parent."""
    if version not in LANDUSE_VERSIONS:
        raise ValueError(f"unknown 用地用海 version {version}; choose one of {LANDUSE_VERSIONS}")
    df = _csv(f"landuse_{version}.csv")
    df["level"] = df["level"].astype(int)
    return df


@cache
def sandiao_mapping() -> pd.DataFrame:
    """三调 (third land survey) codes → 用地用海 2023 codes; empty target means manual review.

    A code without a unique mapping has a ``default`` (the usual reading, e.g. 0810 → 1401, with
    ``default_sureness``/``default_source``) that parcels carry until a planner decides, and the
    ``alternatives`` to choose from (space-separated 用地用海 codes).
    """
    return _csv("sandiao.csv")


@cache
def czcsxm_codes() -> pd.DataFrame:
    """城镇村属性码 (CZCSXM) with the town/village split used in statistics."""
    return _csv("czcsxm.csv")


@cache
def land_classes() -> pd.DataFrame:
    """First-level 用地用海 code → broad class (agricultural, construction, ...)."""
    return _csv("land_classes.csv")


@cache
def facility_kinds() -> pd.DataFrame:
    """The controlled list of facility kinds: English id, Chinese name, level, group."""
    return _csv("facility_kinds.csv")


@cache
def industries() -> pd.DataFrame:
    """Controlled vocabulary of specialties: Sichuan's "10+3", "5+1" and "4+6" systems."""
    return _csv("industries.csv")


@cache
def road_classes() -> pd.DataFrame:
    """Road classes with default speed (km/h), lanes and width (m)."""
    df = _csv("road_classes.csv")
    for col in ("speed_kmh", "width_m"):
        df[col] = df[col].astype(float)
    df["rank"] = df["rank"].astype(int)
    df["lanes"] = df["lanes"].astype(int)
    return df


@cache
def derive_codes() -> pd.DataFrame:
    """Codes that derived inputs read from the parcels (pianqu.derive): role, table (czcsxm or
    landuse), code, weight; e.g. the 城镇村属性码 of town clusters, the homestead 用地用海 codes."""
    df = _csv("derive_codes.csv")
    df["weight"] = df["weight"].astype(float)
    return df


@cache
def derived_road_codes() -> pd.DataFrame:
    """Which traffic parcels (三调 or 用地用海 codes) become derived roads, and why railways do not."""
    df = _csv("derived_roads.csv")
    df["drivable"] = df["drivable"].str.lower() == "true"
    return df


@cache
def derived_road_classes() -> pd.DataFrame:
    """Road class of a derived centreline by its parcel's 用地用海 code and estimated width."""
    df = _csv("derived_road_classes.csv")
    df["min_width_m"] = df["min_width_m"].astype(float)
    return df


@cache
def area_units() -> pd.DataFrame:
    """Area units and their size in m² (亩 = 10000/15 m²)."""
    df = _csv("units.csv")
    df["m2"] = df["m2"].astype(float)
    return df


@cache
def tiankan_coefficients() -> pd.DataFrame:
    """三调 田坎系数 (KCXS of 耕地) by 坡度级别 1–5: slope range in degrees and the coefficient."""
    df = _csv("tiankan_coefficients.csv")
    for col in ("min_deg", "max_deg", "kcxs"):
        df[col] = df[col].astype(float)
    df["slope_grade"] = df["slope_grade"].astype(int)
    return df


@dataclass(frozen=True)
class Threshold:
    """One configurable threshold with where its value comes from."""

    key: str
    value: Any
    unit: str
    sureness: str
    source: str
    description: str


@cache
def default_thresholds() -> dict[str, Threshold]:
    """Every threshold pianqu uses, keyed ``section.name``, as shipped."""
    with resources.files(__package__).joinpath("thresholds.toml").open("rb") as fh:
        raw = tomllib.load(fh)
    out: dict[str, Threshold] = {}
    for section, entries in raw.items():
        for name, e in entries.items():
            key = f"{section}.{name}"
            out[key] = Threshold(key, e["value"], e["unit"], e["sureness"], e["source"], e["description"])
    return out


def landuse_name(code: str, version: int = 2023) -> str | None:
    """Name of a 用地用海 code, or None when the code is not in the table."""
    table = landuse_codes(version)
    hit = table.loc[table["code"] == code, "name"]
    return None if hit.empty else str(hit.iloc[0])


def convert_sandiao(codes: pd.Series) -> pd.DataFrame:
    """Convert 三调 DLBM codes to 用地用海 2023.

    Returns a frame aligned with ``codes``: ``code`` (target, empty when it needs review),
    ``name``, ``review`` (why a planner must decide; empty when the mapping is clean), and for
    codes without a unique mapping ``default``/``default_name`` (the code to carry until a
    planner decides, from the table) and ``alternatives`` (space-separated codes). Codes with a
    ``K`` suffix (即可恢复/工程恢复 land) map as their base code. Unknown codes go to review
    with no default.
    """
    mapping = sandiao_mapping().set_index("code")
    names = landuse_codes(2023).set_index("code")["name"]
    raw = codes.astype("string").fillna("").str.strip()
    base = raw.str.replace(r"K$", "", regex=True)
    target = base.map(mapping["target"]).fillna("")
    note = base.map(mapping["note"])
    review = pd.Series("", index=codes.index, dtype=object)
    unknown = ~base.isin(mapping.index)
    review[unknown] = "unknown 三调 code"
    needs = (~unknown) & (target == "")
    review[needs] = note[needs].fillna("no clean mapping")
    default = base.map(mapping["default"]).fillna("").where(review != "", "")
    alternatives = base.map(mapping["alternatives"]).fillna("").where(review != "", "")
    return pd.DataFrame(
        {"code": target, "name": target.map(names).fillna(""), "review": review,
         "default": default, "default_name": default.map(names).fillna(""), "alternatives": alternatives},
        index=codes.index,
    )


def catalogue() -> dict[str, pd.DataFrame]:
    """All tables by name, as `pianqu standards` prints or exports them."""
    th = pd.DataFrame([t.__dict__ for t in default_thresholds().values()])
    th["value"] = th["value"].astype(str)
    return {
        "landuse_2023": landuse_codes(2023),
        "landuse_2020": landuse_codes(2020),
        "sandiao_mapping": sandiao_mapping(),
        "czcsxm": czcsxm_codes(),
        "land_classes": land_classes(),
        "facility_kinds": facility_kinds(),
        "industries": industries(),
        "road_classes": road_classes(),
        "derived_roads": derived_road_codes(),
        "derived_road_classes": derived_road_classes(),
        "area_units": area_units(),
        "derive_codes": derive_codes(),
        "tiankan_coefficients": tiankan_coefficients(),
        "thresholds": th,
    }
