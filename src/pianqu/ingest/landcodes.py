"""三调 land codes (DLBM) → 用地用海 2023, with the list of parcels a planner must decide.

Parcels whose 三调 code has no clean 用地用海 code (05H1 商业服务业设施用地 splits into
0901–0904, 08H1, 08H2, 0809, 0810, 09, unknown codes) are kept, with ``code``/``name`` empty:
validate reports them as parcels without a valid code, and ``landuse_review`` says for each
why and which codes to choose from. Nothing is guessed silently.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from pianqu.findings import Finding
from pianqu.ingest.mapping import value_table
from pianqu.standards import convert_sandiao, landuse_codes


def pad_land_code(codes: pd.Series) -> tuple[pd.Series, int]:
    """Restore a leading zero a spreadsheet dropped ("101" → "0101", "5H1" → "05H1").

    Land codes have an even number of leading digits; an odd count means a zero was lost.
    Returns the codes and how many were padded.
    """
    text = codes.astype("string").str.strip()
    text = text.str.replace(r"^(\d+)\.0$", r"\1", regex=True)
    digits = text.str.extract(r"^(\d+)", expand=False)
    odd = digits.notna() & (digits.str.len() % 2 == 1)
    out = text.where(~odd, "0" + text)
    return out, int(odd.sum())


def convert(frame: pd.DataFrame, *, source: str, source_layer: str, epoch_col: str = "epoch"
            ) -> tuple[pd.DataFrame, pd.DataFrame, list[Finding]]:
    """Fill ``code``/``name`` (用地用海 2023) of a landuse frame from ``source_code`` (三调 DLBM).

    Rows that already carry a 用地用海 code (YDYHFLDM, planning databases) keep it. Returns the
    frame, the review rows (schema ``landuse_review`` plus ``epoch``) and findings.
    """
    findings: list[Finding] = []
    out = frame.copy()
    names_2023 = landuse_codes(2023).set_index("code")["name"]
    has_code = "code" in out.columns
    if has_code:
        code, n_pad = pad_land_code(out["code"])
        out["code"] = code.fillna("")
        if n_pad:
            findings.append(Finding("warning", "ingest.code_padded", "landuse", field="code",
                                    params={"n": n_pad, "source_layer": source_layer}, source=source))
        if "name" not in out.columns:
            out["name"] = out["code"].map(names_2023).fillna("")
        else:
            out["name"] = out["name"].astype("string").fillna(out["code"].map(names_2023)).fillna("")
    else:
        out["code"] = ""
        out["name"] = ""
    review = _empty_review()
    if "source_code" in out.columns:
        src, n_pad = pad_land_code(out["source_code"])
        out["source_code"] = src
        if n_pad:
            findings.append(Finding("warning", "ingest.code_padded", "landuse", field="source_code",
                                    params={"n": n_pad, "source_layer": source_layer}, source=source))
        todo = (out["code"].astype("string").fillna("") == "") & src.notna() & (src != "")
        if todo.any():
            conv = convert_sandiao(src[todo])
            out.loc[todo, "code"] = conv["code"].to_numpy()
            out.loc[todo, "name"] = conv["name"].to_numpy()
            needs = conv["review"] != ""
            n_ok = int((~needs).sum())
            if n_ok:
                findings.append(Finding("info", "ingest.landcode_converted", "landuse", field="source_code",
                                        params={"n": n_ok, "kinds": int(src[todo][~needs.to_numpy()].nunique()),
                                                "source_layer": source_layer}, source=source))
            if needs.any():
                idx = conv.index[needs]
                names = out.loc[idx, "source_name"] if "source_name" in out.columns else pd.Series("", index=idx)
                review = pd.DataFrame({
                    "bsm": out.loc[idx, "bsm"].astype("string").to_numpy() if "bsm" in out.columns else "",
                    "source_code": src[idx].to_numpy(),
                    "source_name": names.astype("string").fillna("").to_numpy(),
                    "reason": [_reason(r) for r in conv.loc[idx, "review"]],
                    "source_file": source,
                    "epoch": out.loc[idx, epoch_col].to_numpy() if epoch_col in out.columns else np.nan,
                })
                for (code, reason), grp in review.groupby(["source_code", "reason"], sort=True):
                    findings.append(Finding("warning", "ingest.landcode_review", "landuse", field="source_code",
                                            feature=str(grp["bsm"].iloc[0]),
                                            params={"n": len(grp), "code": code,
                                                    "name": str(grp["source_name"].iloc[0]), "reason": reason,
                                                    "source_layer": source_layer}, source=source))
    missing = out["code"].astype("string").fillna("") == ""
    if "source_code" not in out.columns and missing.any():
        findings.append(Finding("warning", "ingest.landcode_missing", "landuse", field="code",
                                params={"n": int(missing.sum()), "source_layer": source_layer}, source=source))
    return out, review, findings


def _reason(text: str) -> str:
    return re.sub(r"^review:\s*", "", str(text))


def _empty_review() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="object") for c in
                         ("bsm", "source_code", "source_name", "reason", "source_file", "epoch")})


def slope_from_class(classes: pd.Series) -> tuple[pd.Series, int]:
    """Representative slope (degrees) of 坡度级别 1–5 (values.toml); unknown classes → NaN."""
    table = value_table("slope_classes")["degrees"]
    key = classes.astype("string").str.strip().str.replace(r"\.0$", "", regex=True)
    deg = key.map({str(k): float(v) for k, v in table.items()}).astype("float64")
    unknown = int((key.notna() & (key != "") & deg.isna()).sum())
    return deg, unknown
