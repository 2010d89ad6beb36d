"""The land-code review list (``landuse_review``): list it, export it to Excel, apply the decisions.

Import gives a parcel whose 三调 code has no unique 用地用海 code the table's default (0810 →
1401 公园绿地, ``standards/sandiao.csv``) and lists it on ``landuse_review``. Here a planner
settles the list: :func:`open_items` joins each review row with its parcel (current code, area),
:func:`summarise` groups them by source code, :func:`export_review` writes every item to an xlsx
with a 决定 (decision) column prefilled with the default, and :func:`apply_review` reads the
decisions back, checks every code against the 用地用海 2023 table (nothing is written if one row
is wrong), sets the parcels' code and name, removes the decided rows from the list and records
each decision in the workspace's audit trail (one atomic write). The user's xlsx is only read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from pianqu.errors import PianquError, check_input
from pianqu.geo import ellipsoidal_area
from pianqu.i18n import t
from pianqu.ingest.landcodes import pad_land_code
from pianqu.standards import landuse_codes
from pianqu.workspace import Workspace

REVIEW = "landuse_review"
# The columns of the exported sheet, in order (headers are localised: landuse.review.col.<name>).
COLUMNS = ("bsm", "epoch", "source_code", "source_name", "area_ha", "code", "default_code", "alternatives",
           "reason", "decision", "note")
_MAX_LISTED = 5  # bad rows named in one error message


class ReviewError(PianquError, ValueError):
    """A review file or workspace that cannot be applied; ``rule`` is a key of locales/landuse.toml
    (``message`` says what is wrong and what to do, ``action`` only what to do)."""

    def action(self, lang: str | None = None) -> str:
        return t(f"{self.rule}.do", lang, **self.params)


@dataclass(frozen=True)
class Decision:
    """One applied decision: the parcel, its source code, the code it had and the code it got."""

    bsm: str
    epoch: int | None
    source_code: str
    before: str
    after: str
    note: str = ""


@dataclass(frozen=True)
class ApplyResult:
    decisions: tuple[Decision, ...]  # every decided row (changed or the default confirmed)
    changed: int  # parcels whose code changed
    open_left: int  # review rows still open after the write
    skipped: int = 0  # rows of the file with an empty decision (left open)
    audit_reason: str = field(default="", compare=False)


def _key(bsm: pd.Series, epoch: pd.Series | None) -> pd.Series:
    """"bsm|epoch" keys matching a review row to its parcel (epoch omitted when unknown)."""
    b = bsm.astype("string").fillna("").str.strip()
    if epoch is None:
        return b + "|"
    e = pd.to_numeric(epoch, errors="coerce")
    return b + "|" + e.map(lambda v: "" if pd.isna(v) else str(int(v))).astype("string")


def open_items(ws: Workspace) -> pd.DataFrame:
    """Every open review row with its parcel: the columns of :data:`COLUMNS` but decision/note."""
    cols = [c for c in COLUMNS if c not in ("decision", "note")]
    if not ws.has(REVIEW) or not ws.has("landuse"):
        return pd.DataFrame({c: pd.Series(dtype="object") for c in cols})
    review = ws.read(REVIEW).reset_index(drop=True)
    for c in ("default_code", "alternatives", "source_name", "reason"):
        if c not in review.columns:  # a list written before defaults existed
            review[c] = ""
    if "epoch" not in review.columns:
        review["epoch"] = np.nan
    lu = ws.read("landuse")
    lu_epoch = lu["epoch"] if "epoch" in lu.columns else None
    area = (lu["area_m2"] if "area_m2" in lu.columns else pd.Series(np.nan, index=lu.index)).astype("float64")
    if area.isna().any():  # no TBMJ: the ellipsoidal area of the geometry
        area = area.fillna(pd.Series(ellipsoidal_area(lu), index=lu.index))
    parcel = pd.DataFrame({"key": _key(lu["bsm"], lu_epoch).to_numpy(), "code": lu["code"].to_numpy(),
                           "area_m2": area.to_numpy()}).drop_duplicates("key").set_index("key")
    keys = _key(review["bsm"], review["epoch"] if lu_epoch is not None else None)
    out = pd.DataFrame({
        "bsm": review["bsm"].astype("string").fillna(""),
        "epoch": pd.to_numeric(review["epoch"], errors="coerce").astype("Int64"),
        "source_code": review["source_code"].astype("string").fillna(""),
        "source_name": review["source_name"].astype("string").fillna(""),
        "area_ha": (keys.map(parcel["area_m2"]).astype("float64") / 10_000).round(4),
        "code": keys.map(parcel["code"]).astype("string").fillna(""),
        "default_code": review["default_code"].astype("string").fillna(""),
        "alternatives": review["alternatives"].astype("string").fillna(""),
        "reason": review["reason"].astype("string").fillna(""),
    })
    return out[cols]


def summarise(items: pd.DataFrame) -> pd.DataFrame:
    """Open items grouped by source code: n, area_ha, default_code, alternatives (largest area first)."""
    if items.empty:
        return pd.DataFrame(columns=["source_code", "source_name", "n", "area_ha", "default_code", "alternatives"])
    g = items.groupby(["source_code", "default_code"], sort=False, dropna=False)
    out = g.agg(source_name=("source_name", "first"), n=("bsm", "size"), area_ha=("area_ha", "sum"),
                alternatives=("alternatives", "first")).reset_index()
    out["area_ha"] = out["area_ha"].round(4)
    return out.sort_values(["area_ha", "source_code"], ascending=[False, True]).reset_index(drop=True)[
        ["source_code", "source_name", "n", "area_ha", "default_code", "alternatives"]]


def _headers(lang: str | None) -> dict[str, str]:
    return {c: t(f"landuse.review.col.{c}", lang) for c in COLUMNS}


def export_review(ws: Workspace, path: str | Path, lang: str | None = None) -> int:
    """Write every open item to ``path`` (xlsx) with the decision column prefilled; returns the rows."""
    items = open_items(ws)
    items["decision"] = items["default_code"]
    items["note"] = ""
    sheet = items[list(COLUMNS)].astype(object).where(items[list(COLUMNS)].notna(), None)
    sheet = sheet.rename(columns=_headers(lang))
    path = Path(path)
    with pd.ExcelWriter(path, engine="openpyxl") as xw:
        sheet.to_excel(xw, index=False, sheet_name=t("landuse.review.sheet", lang))
        ws_sheet = xw.sheets[t("landuse.review.sheet", lang)]
        for col, width in zip("ABCDEFGHIJK", (22, 8, 10, 18, 10, 10, 10, 40, 60, 10, 30)):
            ws_sheet.column_dimensions[col].width = width
        for row in ws_sheet.iter_rows(min_row=2):  # codes as text, so Excel keeps the leading zero
            for cell in row:
                if isinstance(cell.value, str):
                    cell.number_format = "@"
    return len(items)


def read_decisions(path: str | Path, lang: str | None = None) -> pd.DataFrame:
    """The decisions of an exported (and edited) review sheet: bsm, epoch, decision, note, row.

    Headers are recognised in Chinese and English; ``row`` is the spreadsheet row (header = 1).
    """
    path = Path(path)
    if not path.exists():
        raise ReviewError("landuse.review.no_file", lang, path=str(path))
    check_input(path)  # a FIFO would block the read; a folder, an empty file
    try:
        raw = pd.read_excel(path, sheet_name=0, dtype=str)
    except Exception as exc:  # not an xlsx, damaged, locked
        raise ReviewError("landuse.review.unreadable", lang, path=str(path), reason=str(exc)) from exc
    names = {}
    for c in COLUMNS:
        for lang in ("zh", "en"):
            names[t(f"landuse.review.col.{c}", lang).strip().lower()] = c
        names[c] = c
    raw = raw.rename(columns={h: names.get(str(h).strip().lower(), h) for h in raw.columns})
    missing = [c for c in ("bsm", "decision") if c not in raw.columns]
    if missing:
        raise ReviewError("landuse.review.missing_columns", lang, path=str(path),
                          columns=", ".join(f"{t(f'landuse.review.col.{c}', 'zh')}/{t(f'landuse.review.col.{c}', 'en')}"
                                            for c in missing))
    out = pd.DataFrame({
        "row": np.arange(len(raw)) + 2,
        "bsm": raw["bsm"].astype("string").str.strip().fillna(""),
        "epoch": pd.to_numeric(raw["epoch"], errors="coerce") if "epoch" in raw.columns else np.nan,
        "decision": raw["decision"].astype("string").str.strip().fillna(""),
        "note": raw["note"].astype("string").fillna("").str.strip() if "note" in raw.columns else "",
    })
    out["decision"] = pad_land_code(out["decision"])[0].fillna("")
    return out[out["bsm"] != ""].reset_index(drop=True)


def _rows_text(rows: pd.DataFrame, col: str) -> str:
    shown = rows.head(_MAX_LISTED)
    return "; ".join(f"{r.row}: {r.bsm} “{getattr(r, col)}”" for r in shown.itertuples(index=False))


def apply_review(ws: Workspace, path: str | Path, *, reason: str = "", lang: str | None = None) -> ApplyResult:
    """Apply the decisions of ``path`` to the workspace in one atomic write (nothing on any error).

    Every non-empty decision must be a code of the 用地用海 2023 table and name an open review
    row (BSM and, when the sheet has it, the survey year). A decided row sets its parcel's code
    and name, leaves the review list and is written, with the code before and after, into the
    reason of the audit rows. Empty decisions leave their rows open.
    """
    path = Path(path)
    decisions = read_decisions(path, lang)
    if not ws.has(REVIEW) or ws.read(REVIEW).empty:
        raise ReviewError("landuse.review.nothing_open", lang, workspace=ws.url)
    review = ws.read(REVIEW).reset_index(drop=True)
    lu = ws.read("landuse")
    has_epoch = "epoch" in lu.columns and "epoch" in review.columns
    review_keys = _key(review["bsm"], review["epoch"] if has_epoch else None)
    todo = decisions[decisions["decision"] != ""].copy()
    skipped = len(decisions) - len(todo)
    names = landuse_codes(2023).set_index("code")["name"]
    bad = todo[~todo["decision"].isin(names.index)]
    if len(bad):
        r = bad.iloc[0]
        raise ReviewError("landuse.review.bad_code", lang, path=str(path), row=int(r["row"]), bsm=r["bsm"],
                          code=r["decision"], n=len(bad), rows=_rows_text(bad, "decision"))
    if has_epoch and todo["epoch"].notna().all():
        todo["key"] = _key(todo["bsm"], todo["epoch"])
    else:  # no year in the sheet: the BSM must be unique on the list
        by_bsm = pd.Series(review_keys.to_numpy(), index=review["bsm"].astype("string").to_numpy())
        dup = by_bsm.index.duplicated(keep=False)
        todo["key"] = todo["bsm"].map(by_bsm[~dup]).fillna(todo["bsm"] + "|?")
    unknown = todo[~todo["key"].isin(set(review_keys))]
    if len(unknown):
        r = unknown.iloc[0]
        raise ReviewError("landuse.review.unknown_row", lang, path=str(path), row=int(r["row"]), bsm=r["bsm"],
                          n=len(unknown), rows=_rows_text(unknown, "bsm"))
    twice = todo[todo["key"].duplicated(keep=False)]
    if len(twice):
        r = twice.iloc[0]
        raise ReviewError("landuse.review.duplicate_row", lang, path=str(path), row=int(r["row"]), bsm=r["bsm"],
                          n=len(twice), rows=_rows_text(twice, "decision"))

    lu_keys = _key(lu["bsm"], lu["epoch"] if has_epoch else None)
    pos = pd.Series(np.arange(len(lu)), index=lu_keys.to_numpy())
    pos = pos[~pos.index.duplicated()]
    hit = todo["key"].map(pos)
    todo = todo[hit.notna()].assign(pos=hit[hit.notna()].astype(int))
    before = lu["code"].astype("string").fillna("").to_numpy()[todo["pos"].to_numpy()]
    src_by_key = pd.Series(review["source_code"].astype("string").to_numpy(), index=review_keys.to_numpy())
    src_by_key = src_by_key[~src_by_key.index.duplicated()]
    code_col, name_col = lu.columns.get_loc("code"), lu.columns.get_loc("name")
    lu = lu.copy()
    lu.iloc[todo["pos"].to_numpy(), code_col] = todo["decision"].to_numpy()
    lu.iloc[todo["pos"].to_numpy(), name_col] = todo["decision"].map(names).to_numpy()
    out = []
    for r, b in zip(todo.itertuples(index=False), before):
        epoch = None if pd.isna(r.epoch) else int(r.epoch)
        if epoch is None and has_epoch:
            epoch = int(str(r.key).split("|")[1]) if str(r.key).split("|")[1] else None
        out.append(Decision(str(r.bsm), epoch, str(src_by_key.get(r.key, "")), str(b), str(r.decision),
                            str(r.note)))
    remaining = review[~review_keys.isin(set(todo["key"]))].reset_index(drop=True)
    if not out:  # every decision empty: nothing to write
        return ApplyResult((), 0, len(remaining), skipped, "")
    audit = audit_text(out, reason, lang)
    ws.write({"landuse": lu, REVIEW: remaining}, command="landuse review --apply", reason=audit)
    return ApplyResult(tuple(out), sum(d.before != d.after for d in out), len(remaining), skipped, audit)


def audit_text(decisions: list[Decision] | tuple[Decision, ...], reason: str = "", lang: str | None = None) -> str:
    """The audit reason: the user's reason, then one entry per decision (BSM, year, 三调 code, before → after)."""
    entries = []
    for d in decisions:
        year = f" ({d.epoch})" if d.epoch is not None else ""
        note = f" {d.note}" if d.note else ""
        entries.append(t("landuse.review.audit_entry", lang, bsm=d.bsm, year=year, source=d.source_code,
                         before=d.before or "—", after=d.after) + note)
    head = t("landuse.review.audit_head", lang, n=len(decisions))
    return "; ".join(([reason] if reason else []) + [head] + entries)
