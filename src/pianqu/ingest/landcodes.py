"""三调 land codes (DLBM) → 用地用海 2023, with the list of parcels a planner must decide.

Parcels whose 三调 code has no unique 用地用海 code (05H1 商业服务业设施用地 splits into
0901–0904, 08H1, 08H2, 0809, 0810, 09) carry the table's default (``sandiao.csv``: 0810 →
1401 公园绿地, 08H2 → 08 …) so that analyses and the report count them, and stay on
``landuse_review`` with the source code, the default, the alternatives and the reason until a
planner decides (``pianqu landuse review``, :mod:`pianqu.ingest.review`). Unknown 三调 codes
have no default: their ``code`` stays empty and validate reports them, quoting the source code.
Nothing is guessed silently.
"""

from __future__ import annotations


import numpy as np
import pandas as pd

from pianqu.findings import Finding
from pianqu.i18n import default_lang, t
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
            needs = conv["review"] != ""
            out.loc[todo, "code"] = conv["code"].where(~needs, conv["default"]).to_numpy()
            out.loc[todo, "name"] = conv["name"].where(~needs, conv["default_name"]).to_numpy()
            n_ok = int((~needs).sum())
            if n_ok:
                findings.append(Finding("info", "ingest.landcode_converted", "landuse", field="source_code",
                                        params={"n": n_ok, "kinds": int(src[todo][~needs.to_numpy()].nunique()),
                                                "source_layer": source_layer}, source=source))
            if needs.any():
                idx = conv.index[needs]
                names = out.loc[idx, "source_name"] if "source_name" in out.columns else pd.Series("", index=idx)
                sub = conv.loc[idx]
                review = pd.DataFrame({
                    "bsm": out.loc[idx, "bsm"].astype("string").to_numpy() if "bsm" in out.columns else "",
                    "source_code": src[idx].to_numpy(),
                    "source_name": names.astype("string").fillna("").to_numpy(),
                    "reason": "",
                    "source_file": source,
                    "default_code": sub["default"].to_numpy(),
                    "alternatives": [labelled_codes(a) for a in sub["alternatives"]],
                    "epoch": out.loc[idx, epoch_col].to_numpy() if epoch_col in out.columns else np.nan,
                })
                review["reason"] = [review_reason(c, d, a) for c, d, a in
                                    zip(review["source_code"], review["default_code"], review["alternatives"])]
                for (code, default), grp in review.groupby(["source_code", "default_code"], sort=True):
                    alts = str(grp["alternatives"].iloc[0])
                    rule = "ingest.landcode_default" if default else "ingest.landcode_review"
                    findings.append(Finding("warning", rule, "landuse", field="source_code",
                                            feature=str(grp["bsm"].iloc[0]),
                                            params={"n": len(grp), "code": code,
                                                    "name": str(grp["source_name"].iloc[0]),
                                                    "default": labelled_codes(default), "alternatives": alts,
                                                    "reason": review_reason(code, default, alts),
                                                    "source_layer": source_layer}, source=source))
    missing = out["code"].astype("string").fillna("") == ""
    if "source_code" not in out.columns and missing.any():
        findings.append(Finding("warning", "ingest.landcode_missing", "landuse", field="code",
                                params={"n": int(missing.sum()), "source_layer": source_layer}, source=source))
    return out, review, findings


def labelled_codes(codes: str) -> str:
    """"1401 1402" → "1401 公园绿地、1402 防护绿地" (用地用海 2023 names; unknown codes kept bare)."""
    names = landuse_codes(2023).set_index("code")["name"]
    parts = [c for c in str(codes or "").split() if c]
    return "、".join(f"{c} {names[c]}" if c in names.index else c for c in parts)


def review_reason(source_code: str, default: str, alternatives: str, lang: str | None = None) -> str:
    """Why a parcel is on the review list, in ``lang`` (default: the session's language)."""
    lang = lang or default_lang()
    if default:
        return t("landuse.reason.default", lang, code=source_code, default=labelled_codes(default),
                 alternatives=alternatives)
    return t("landuse.reason.unknown", lang, code=source_code)


def _empty_review() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="object") for c in
                         ("bsm", "source_code", "source_name", "reason", "source_file", "default_code",
                          "alternatives", "epoch")})


def slope_from_class(classes: pd.Series) -> tuple[pd.Series, int]:
    """Representative slope (degrees) of 坡度级别 1–5 (values.toml); unknown classes → NaN."""
    table = value_table("slope_classes")["degrees"]
    key = classes.astype("string").str.strip().str.replace(r"\.0$", "", regex=True)
    deg = key.map({str(k): float(v) for k, v in table.items()}).astype("float64")
    unknown = int((key.notna() & (key != "") & deg.isna()).sum())
    return deg, unknown
