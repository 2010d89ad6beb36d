"""Codes: 用地用海 codes and names, the hierarchy of administrative codes, links between layers,
controlled vocabularies (facility kinds, settlement levels, road classes, ...) and duplicate ids.

The administrative hierarchy is checked on the admin layers themselves (a township code starts
with the county code, a village code with its township code); other layers only check that
their ``township_code``/``village_code`` exist and agree with each other, so one wrong code is
reported once rather than on every parcel that refers to it.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from pianqu import standards
from pianqu.schema import SETTLEMENT_LEVELS, TELECOM_TECHS, TOWNSHIP_KINDS, VILLAGE_CLASSES
from pianqu.validate._common import Context, LayerData, as_text

VILLAGE_KINDS = ("村", "社区")  # NBS: 村民委员会 / 居民委员会
CODE_DIGITS = {"county": 6, "township": 9, "village": 12}
LINKED_LAYERS = ("settlement", "landuse", "urban_boundary", "facility", "economy")
# Planning layers drawn for the whole county: their township code (XZQDM) may hold the county's
# own 6-digit code, meaning "county-wide". Layers without a township_code field in the schema are
# checked on the source XZQDM kept by import (lower-cased), so that every such layer is treated alike.
COUNTY_WIDE_LAYERS = ("farmland_pbf", "eco_redline", "urban_boundary", "reserve", "approvals")
SOURCE_AREA_CODE = "xzqdm"


def _norm_name(s: pd.Series) -> pd.Series:
    return s.fillna("").astype(str).str.replace(r"\s+", "", regex=True)


def check_landuse_codes(ctx: Context) -> None:
    """Every parcel's code is in the 用地用海 table of the workspace's version and its name matches."""
    data = ctx.get("landuse")
    if data is None or not data.has("code"):
        return
    version = ctx.landuse_version
    other = 2020 if version == 2023 else 2023
    table = standards.landuse_codes(version).set_index("code")["name"]
    other_table = standards.landuse_codes(other).set_index("code")["name"]
    by_name = pd.Series(table.index, index=table.to_numpy())
    by_name = by_name[~by_name.index.duplicated()]
    code = data.col("code").fillna("").astype(str).str.strip()
    if "code" in data.bad:
        code = code.where(~data.bad["code"], "")
    name = _norm_name(data.col("name")) if data.has("name") else None
    known = code.isin(table.index).to_numpy()
    expected = code.map(table)
    if name is not None:
        # A (code, name) pair from the other version's table where this version disagrees.
        other_name = code.map(other_table)
        version_pair = (other_name.notna() & (_norm_name(other_name) == name)
                        & ((~pd.Series(known)) | (_norm_name(expected) != name))).to_numpy()
    else:
        version_pair = (~pd.Series(known) & code.isin(other_table.index)).to_numpy()
    for i in np.nonzero(version_pair)[0]:
        nm = name.iloc[i] if name is not None else str(other_table.get(code.iloc[i], ""))
        suggestion = str(by_name.get(nm, "")) if nm else ""
        ctx.add("error", "validate.landuse_code_version", "landuse", data.ids[i], "code",
                code=code.iloc[i], name=nm, version=version, other=other, suggestion=suggestion)
    unknown = ~known & ~version_pair
    # a parcel left without a code by import is quoted by its source 三调 code, not as ""
    source = data.col("source_code").fillna("").astype(str).str.strip() if data.has("source_code") else None
    for i in np.nonzero(unknown)[0]:
        shown = code.iloc[i]
        if not shown and source is not None and source.iloc[i]:
            shown = f"三调 {source.iloc[i]}"
        ctx.add("error", "validate.unknown_landuse_code", "landuse", data.ids[i], "code",
                code=shown, version=version)
    if name is not None:
        mismatch = known & ~version_pair & (_norm_name(expected) != name).to_numpy()
        if "name" in data.bad:
            mismatch &= ~data.bad["name"]
        for i in np.nonzero(mismatch)[0]:
            ctx.add("error", "validate.landuse_name_mismatch", "landuse", data.ids[i], "name",
                    code=code.iloc[i], name=name.iloc[i], expected=str(expected.iloc[i]))
    if data.has("czcsxm"):
        allowed = set(standards.czcsxm_codes()["code"])
        cz = data.col("czcsxm")
        rows = data.ok("czcsxm") & ~cz.fillna("").isin(allowed).to_numpy()
        for i in np.nonzero(rows)[0]:
            ctx.add("error", "validate.unknown_czcsxm", "landuse", data.ids[i], "czcsxm",
                    value=str(cz.iloc[i]), allowed=", ".join(sorted(allowed)))


def _codes(data: LayerData | None) -> set[str] | None:
    """Usable codes of an admin layer; None when the layer cannot tell (absent, empty, no code
    field: already reported), so that references to it are not checked."""
    if data is None or len(data) == 0 or not data.has("code"):
        return None
    return set(data.col("code")[data.ok("code")])


def check_admin_hierarchy(ctx: Context) -> None:
    """County code = workspace county; codes have their digits; each code starts with its parent's."""
    county_code = ctx.county_code
    county = ctx.get("county")
    if county is not None and county.has("code") and county_code:
        col = county.col("code")
        for i in np.nonzero(county.ok("code") & (col != county_code).to_numpy())[0]:
            ctx.add("error", "validate.county_code_mismatch", "county", county.ids[i], "code",
                    value=str(col.iloc[i]), expected=county_code)
    for name, digits in CODE_DIGITS.items():
        data = ctx.get(name)
        if data is None or not data.has("code"):
            continue
        col = data.col("code")
        fmt = data.ok("code") & ~col.fillna("").str.fullmatch(rf"\d{{{digits}}}").to_numpy()
        for i in np.nonzero(fmt)[0]:
            ctx.add("error", "validate.code_format", name, data.ids[i], "code",
                    value=str(col.iloc[i]), digits=digits)

    township = ctx.get("township")
    if township is not None and township.has("code") and county_code:
        col = township.col("code")
        bad = township.ok("code") & ~col.fillna("").str.startswith(county_code).to_numpy()
        for i in np.nonzero(bad)[0]:
            ctx.add("error", "validate.code_hierarchy", "township", township.ids[i], "code",
                    value=str(col.iloc[i]), parent=county_code, parent_layer="county")
    if township is not None and township.has("county_code") and county_code:
        col = township.col("county_code")
        bad = township.ok("county_code") & (col != county_code).to_numpy()
        for i in np.nonzero(bad)[0]:
            ctx.add("error", "validate.unknown_parent", "township", township.ids[i], "county_code",
                    value=str(col.iloc[i]), parent_layer="county", expected=county_code)

    village = ctx.get("village")
    if village is not None and village.has("township_code"):
        parent = village.col("township_code")
        linked = village.ok("township_code")
        known = _codes(township)
        if known is not None:
            unknown = linked & ~parent.isin(known).to_numpy()
            for i in np.nonzero(unknown)[0]:
                ctx.add("error", "validate.unknown_parent", "village", village.ids[i], "township_code",
                        value=str(parent.iloc[i]), parent_layer="township", expected="")
        if village.has("code"):
            code = village.col("code").fillna("")
            ok = linked & village.ok("code")
            bad = ok & ~np.array([c.startswith(p) for c, p in zip(code, parent.fillna(""))], dtype=bool)
            for i in np.nonzero(bad)[0]:
                ctx.add("error", "validate.code_hierarchy", "village", village.ids[i], "code",
                        value=str(code.iloc[i]), parent=str(parent.iloc[i]), parent_layer="township")


def check_links(ctx: Context) -> None:
    """township_code / village_code of other layers exist and agree with each other."""
    township_codes = _codes(ctx.get("township"))
    village = ctx.get("village")
    village_parent: dict[str, str] = {}
    if village is not None and village.has("code") and village.has("township_code"):
        ok = village.ok("code") & village.ok("township_code")
        for c, p in zip(village.col("code")[ok], village.col("township_code")[ok]):
            if township_codes is None or p in township_codes:  # a village's unknown parent is
                village_parent.setdefault(c, p)  # reported on the village, not on its parcels
    village_codes = _codes(village)
    for name in COUNTY_WIDE_LAYERS:
        if name not in LINKED_LAYERS:
            _check_area_codes(ctx, name, township_codes)
    for name in LINKED_LAYERS:
        data = ctx.get(name)
        if data is None:
            continue
        has_t = data.has("township_code") and township_codes is not None
        has_v = data.has("village_code") and village_codes is not None
        if has_t and name in COUNTY_WIDE_LAYERS:
            _check_area_codes(ctx, name, township_codes)
        elif has_t:
            _check_parent_codes(ctx, name, data, "township_code", township_codes, "township")
        if has_v:
            _check_parent_codes(ctx, name, data, "village_code", village_codes, "village")
        if has_t and has_v:
            t = data.col("township_code")
            v = data.col("village_code")
            expected = v.map(village_parent)
            both = data.ok("township_code") & data.ok("village_code") & expected.notna().to_numpy()
            both &= t.isin(township_codes).to_numpy()
            bad = both & (t != expected).to_numpy()
            for i in np.nonzero(bad)[0]:
                ctx.add("error", "validate.parent_mismatch", name, data.ids[i], "township_code",
                        value=str(t.iloc[i]), village=str(v.iloc[i]), expected=str(expected.iloc[i]))


def _check_parent_codes(ctx: Context, name: str, data, field: str, codes, parent: str) -> None:
    """An error for every feature whose ``field`` names no unit of the ``parent`` layer."""
    col = data.col(field)
    bad = data.ok(field) & ~col.isin(codes).to_numpy()
    for i in np.nonzero(bad)[0]:
        ctx.add("error", "validate.unknown_parent", name, data.ids[i], field,
                value=str(col.iloc[i]), parent_layer=parent, expected="")


def _check_area_codes(ctx: Context, name: str, township_codes: set[str] | None) -> None:
    """A county-wide layer's township code (or its source XZQDM): a township of the workspace or
    the county's own code (county-wide; ``…000`` padding ignored); anything else is an error."""
    data = ctx.get(name)
    if data is None or township_codes is None:
        return
    if data.has("township_code"):
        field, col, ok = "township_code", data.col("township_code"), data.ok("township_code")
    elif SOURCE_AREA_CODE in data.frame.columns:
        field = SOURCE_AREA_CODE
        col = as_text(data.frame[SOURCE_AREA_CODE].reset_index(drop=True)).str.strip()
        ok = (col.fillna("") != "").to_numpy()
    else:
        return
    text = col.fillna("").astype(str)
    short = text.str.replace(r"^(\d{6}|\d{9})0{3,6}$", r"\1", regex=True)
    county = (short == ctx.county_code).to_numpy() if ctx.county_code else np.zeros(len(text), bool)
    bad = ok & ~county & ~text.isin(township_codes).to_numpy() & ~short.isin(township_codes).to_numpy()
    for i in np.nonzero(bad)[0]:
        ctx.add("error", "validate.unknown_area_code", name, data.ids[i], field,
                value=str(text.iloc[i]), county=ctx.county_code or "")


def check_vocabularies(ctx: Context) -> None:
    """Controlled lists: township kind, village kind/class, settlement level, road class,
    telecom tech, facility kind (own rule, with a hint when a Chinese name was used), sector."""
    lists = {
        ("township", "kind"): TOWNSHIP_KINDS,
        ("village", "kind"): VILLAGE_KINDS,
        ("village", "village_class"): VILLAGE_CLASSES,
        ("settlement", "level"): SETTLEMENT_LEVELS,
        ("road", "class"): tuple(standards.road_classes()["class"]),
        ("telecom", "tech"): TELECOM_TECHS,
    }
    for (name, fld), allowed in lists.items():
        data = ctx.get(name)
        if data is None or not data.has(fld):
            continue
        col = data.col(fld)
        bad = data.ok(fld) & ~col.isin(allowed).to_numpy()
        for i in np.nonzero(bad)[0]:
            ctx.add("error", "validate.unknown_value", name, data.ids[i], fld,
                    value=str(col.iloc[i]), allowed=", ".join(allowed))

    facility = ctx.get("facility")
    if facility is not None and facility.has("kind"):
        kinds = standards.facility_kinds()
        by_zh = dict(zip(kinds["name_zh"], kinds["kind"]))
        by_zh.update({re.sub(r"（.*?）", "", k): v for k, v in by_zh.items()})
        col = facility.col("kind")
        bad = facility.ok("kind") & ~col.isin(set(kinds["kind"])).to_numpy()
        for i in np.nonzero(bad)[0]:
            value = str(col.iloc[i])
            ctx.add("error", "validate.unknown_facility_kind", "facility", facility.ids[i], "kind",
                    value=value, suggestion=by_zh.get(value, ""))

    economy = ctx.get("economy")
    if economy is not None and economy.has("sector"):
        allowed = set(standards.industries()["id"])
        col = economy.col("sector")
        bad = economy.ok("sector") & ~col.isin(allowed).to_numpy()
        for i in np.nonzero(bad)[0]:
            ctx.add("warning", "validate.unknown_sector", "economy", economy.ids[i], "sector",
                    value=str(col.iloc[i]))

    settlement = ctx.get("settlement")
    if settlement is not None and settlement.has("level"):
        n = int((settlement.col("level") == "county_seat").sum())
        if n != 1:
            ctx.add("warning", "validate.county_seat_count", "settlement", "", "level", count=n)


def check_duplicates(ctx: Context) -> None:
    """Ids unique within a layer (parcels within one survey epoch); economy rows unique per
    (township_code, sector, year)."""
    for name, data in ctx.layers.items():
        spec = data.spec
        if spec is None or spec.id_field is None or not data.has(spec.id_field):
            continue
        ok = data.ok(spec.id_field)
        key = data.col(spec.id_field).astype(object)
        group = None
        if name == "landuse" and data.has("epoch"):
            group = data.col("epoch").fillna(-1)
        frame = pd.DataFrame({"id": key, "g": group if group is not None else 0})[ok]
        dup = frame.duplicated(keep=False)
        if not dup.any():
            continue
        # Every feature involved gets its own finding, named by id and row (#n, 1-based), with
        # the rows and names of all the others: nothing is merged, the planner sees each one.
        names = data.col("name").fillna("").astype(str) if data.has("name") else None
        frame = frame[dup.to_numpy()]
        for (g, fid), rows in frame.groupby(["g", "id"], sort=True).groups.items():
            rows = sorted(rows)
            listed = "、".join(f"#{r + 1}" + (f" {names.iloc[r]}" if names is not None and names.iloc[r] else "")
                              for r in rows)
            extra = {"epoch": int(g)} if group is not None and g != -1 else {}
            for r in rows:
                ctx.add("error", "validate.duplicate_id", name, f"{fid} #{r + 1}", spec.id_field,
                        count=len(rows), value=str(fid), row=int(r + 1), features=listed, **extra)
    economy = ctx.get("economy")
    if economy is not None and all(economy.has(c) for c in ("township_code", "sector", "year")):
        ok = economy.ok("township_code") & economy.ok("sector") & economy.ok("year")
        frame = economy.values.loc[ok, ["township_code", "sector", "year"]]
        dup = frame.duplicated(keep=False)
        if not dup.any():
            return
        for (t, s, y), rows in frame[dup].groupby(["township_code", "sector", "year"], sort=True).groups.items():
            rows = sorted(rows)
            key = f"{t}/{s}/{int(y)}"
            for r in rows:
                ctx.add("error", "validate.duplicate_id", "economy", f"{key} #{r + 1}", "sector", count=len(rows),
                        value=key, row=int(r + 1), features="、".join(f"#{k + 1}" for k in rows))
