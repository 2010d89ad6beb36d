"""Statistics tables joined onto divisions by code (e.g. 人口.xlsx: 行政区代码, 常住人口).

A table's codes are read at their natural length (a township written as ``511921101000`` is
township ``511921101``), so one table may carry townships and villages together: each row
updates the layer its code belongs to. Codes that match nothing are reported, never dropped
silently; the layers' other fields and geometry are left alone.
"""

from __future__ import annotations

from typing import Mapping

import pandas as pd

from pianqu.divisions import short_village_name
from pianqu.ingest.conform import Context, admin_code, type_fields
from pianqu.ingest.errors import IngestError
from pianqu.schema import LAYERS

_LEVELS = {6: "county", 9: "township", 12: "village"}
_NEVER_JOINED = {"code", "name", "geometry", "county_code", "township_code"}


def join_attributes(table: pd.DataFrame, layers: Mapping[str, pd.DataFrame], ctx: Context, *,
                    only: str | None = None) -> dict[str, pd.DataFrame]:
    """Updated copies of the layers ``table`` joins onto (``only``: one layer, e.g. "township")."""
    if "code" not in table.columns:
        raise ctx.error("ingest.table_no_code", fields=", ".join(map(str, ctx.reverse.values())) or "-")
    codes = admin_code(table["code"])
    level = codes.str.len().map(_LEVELS)
    if only is not None:
        level = pd.Series(only, index=table.index).where(codes.notna())
    updated: dict[str, pd.DataFrame] = {}
    for target in sorted(level.dropna().unique()):
        rows = table.loc[(level == target).to_numpy()].copy()
        rows["code"] = codes[rows.index]
        fields = [c for c in rows.columns if c in LAYERS[target].field_names and c not in _NEVER_JOINED]
        if not fields:
            continue
        if target not in layers:
            raise IngestError("ingest.join_no_target", source=ctx.source, source_layer=ctx.source_layer,
                              target=target, fields=", ".join(ctx.src_field(f) for f in fields))
        sub = Context(source=ctx.source, source_layer=ctx.source_layer, layer=target, reverse=ctx.reverse)
        rows = type_fields(rows[["code", *fields, *(["name"] if "name" in rows.columns else [])]], sub)
        dup = rows["code"].duplicated(keep="first")
        if dup.any():
            sub.note("warning", "ingest.join_duplicates", field=ctx.src_field("code"), n=int(dup.sum()),
                     examples=", ".join(rows.loc[dup, "code"].astype(str).head(5)))
            rows = rows.loc[~dup]
        frame = layers[target].copy()
        key = frame["code"].astype("string")
        by_code = rows.set_index("code")
        matched = key.isin(by_code.index)
        for f in fields:
            new = key.map(by_code[f])
            take = matched & new.notna()
            if f not in frame.columns:
                frame[f] = new.where(take)
            else:
                old = frame[f]
                if old.dtype != new.dtype:
                    frame[f] = old.astype(new.dtype) if len(old.dropna()) == 0 else old
                frame.loc[take.to_numpy(), f] = new[take].to_numpy()
            sub.note("info", "ingest.join_updated", field=ctx.src_field(f), n=int(take.sum()), m=len(frame),
                     target_field=f)
        unmatched = ~rows["code"].isin(key)
        if unmatched.any():
            sub.note("warning", "ingest.join_unmatched", field=ctx.src_field("code"), n=int(unmatched.sum()),
                     examples=", ".join(rows.loc[unmatched, "code"].astype(str).head(5)))
        if "name" in rows.columns and "name" in frame.columns:
            names = key.map(rows.set_index("code")["name"])
            if target == "village":
                names = names.map(short_village_name, na_action="ignore")
            differ = matched & names.notna() & frame["name"].notna() & (names != frame["name"].astype("string"))
            if differ.any():
                i = differ[differ].index[0]
                sub.note("warning", "ingest.join_name_differs", feature=str(key[i]), field=ctx.src_field("name"),
                         n=int(differ.sum()), table_name=str(names[i]), layer_name=str(frame.at[i, "name"]))
        ctx.findings.extend(sub.findings)
        sub.findings.clear()
        updated[target] = frame
    if not updated:
        raise ctx.error("ingest.join_nothing", fields=", ".join(map(str, table.columns)))
    return updated
