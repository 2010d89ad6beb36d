"""三调 codes without a unique 用地用海 code: the default is carried, the parcel stays on the review
list, and `pianqu landuse review` lists, exports and applies decisions (xlsx round trip, audit)."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np
import openpyxl
import pyogrio
import pytest
from typer.testing import CliRunner

from ingest_data import parcels
from pianqu.cli import app
from pianqu.ingest import import_sources
from pianqu.ingest.review import ReviewError, apply_review, export_review, open_items, summarise
from pianqu.standards import landuse_codes, sandiao_mapping
from pianqu.validate import validate_workspace
from pianqu.workspace import Workspace

runner = CliRunner()
PARKS = 5  # parcels turned into 0810 公园与绿地
UNKNOWN = "0899"  # not a 三调 code


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def dltb(tmp_path_factory) -> tuple[Path, object]:
    """The 24 parcels of 通江县 with 5 of them 0810 and one with an unknown 三调 code, as a UTF-8 SHP."""
    p = parcels()
    p.loc[p.index[:PARKS], ["DLBM", "DLMC"]] = ["0810", "公园与绿地"]
    p.loc[p.index[PARKS], ["DLBM", "DLMC"]] = [UNKNOWN, "?"]
    path = tmp_path_factory.mktemp("review_src") / "DLTB.shp"
    pyogrio.write_dataframe(p, path, encoding="UTF-8")
    return path, p


@pytest.fixture(scope="module")
def base_ws(dltb, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("review_ws") / "w.gpkg"
    import_sources([dltb[0]], path)
    return path


@pytest.fixture
def ws_copy(base_ws, tmp_path) -> Path:
    path = tmp_path / "w.gpkg"
    shutil.copy(base_ws, path)
    return path


def test_every_review_code_has_a_valid_default_with_source():
    m = sandiao_mapping()
    review = m[m["target"] == ""]
    codes = set(landuse_codes(2023)["code"])
    assert set(review["code"]) == {"05H1", "08H1", "08H2", "0809", "0810", "09"}
    for r in review.itertuples(index=False):
        assert r.default in codes and r.default_sureness in {"read", "recalled", "inferred"} and r.default_source
        alts = r.alternatives.split()
        assert alts and set(alts) <= codes
        # the default is one of the alternatives or their common first-level class
        assert r.default in alts or {a[:2] for a in alts} == {r.default}
    assert m.set_index("code").loc["0810", "default"] == "1401"


def test_0810_imported_as_1401_and_listed(dltb, base_ws):
    _, src = dltb
    ws = Workspace.open(base_ws)
    lu = ws.read("landuse").set_index("bsm")
    parks = src[src["DLBM"] == "0810"]["BSM"]
    assert (lu.loc[parks, "code"] == "1401").all() and (lu.loc[parks, "name"] == "公园绿地").all()
    assert (lu.loc[parks, "source_code"] == "0810").all()
    review = ws.read("landuse_review")
    r0810 = review[review["source_code"] == "0810"]
    assert sorted(r0810["bsm"]) == sorted(parks)
    assert (r0810["default_code"] == "1401").all()
    assert r0810["alternatives"].str.contains("1402 防护绿地").all() and r0810["reason"].str.contains("0810").all()
    # the unknown code: listed, no default, no code; validate quotes the source code, not ""
    unknown_bsm = src[src["DLBM"] == UNKNOWN]["BSM"].iloc[0]
    assert lu.loc[unknown_bsm, "code"] == "" and review.set_index("bsm").loc[unknown_bsm, "default_code"] in ("", None)
    findings = validate_workspace(ws)
    bad = [f for f in findings if f.rule == "validate.unknown_landuse_code"]
    assert [f.feature for f in bad] == [unknown_bsm]
    assert f"“三调 {UNKNOWN}”" in bad[0].message("zh") and "“”" not in bad[0].message("zh")
    # the listing: grouped by source code with the area of the parcels (TBMJ, ha)
    summary = summarise(open_items(ws)).set_index("source_code")
    assert summary.loc["0810", "n"] == PARKS and summary.loc["0810", "default_code"] == "1401"
    assert summary.loc["0810", "area_ha"] == pytest.approx(src[src["DLBM"] == "0810"]["TBMJ"].sum() / 1e4, abs=1e-4)
    assert set(summary.index) == {"0810", "05H1", "08H2", UNKNOWN}


def _edit(path: Path, changes: dict[str, str]) -> None:
    """Set the 决定 cell of the rows whose 标识码 is a key of ``changes`` (as a planner would in Excel)."""
    book = openpyxl.load_workbook(path)
    sheet = book.worksheets[0]
    header = [c.value for c in sheet[1]]
    ci, di = header.index("标识码") + 1, header.index("决定") + 1
    for row in range(2, sheet.max_row + 1):
        bsm = sheet.cell(row, ci).value
        if bsm in changes:
            sheet.cell(row, di).value = changes[bsm]
    book.save(path)


def test_export_edit_apply_round_trip(dltb, ws_copy, tmp_path):
    _, src = dltb
    ws = Workspace.open(ws_copy)
    before = ws.read("landuse").set_index("bsm")
    xlsx = tmp_path / "review.xlsx"
    n = export_review(ws, xlsx)
    sheet = openpyxl.load_workbook(xlsx).worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    header = list(rows[0])
    assert n == len(rows) - 1 == len(ws.read("landuse_review"))
    assert {"标识码", "三调地类编码", "面积（公顷）", "默认代码", "可选代码", "决定"} <= set(header)
    for r in rows[1:]:  # the decision prefilled with the default, the code kept as text
        assert r[header.index("决定")] == r[header.index("默认代码")]
    park, other_park = src[src["DLBM"] == "0810"]["BSM"].iloc[:2]
    unknown_bsm = src[src["DLBM"] == UNKNOWN]["BSM"].iloc[0]
    _edit(xlsx, {park: "1402", unknown_bsm: None})  # one changed, the unknown one left undecided
    digest = _sha(xlsx)

    result = apply_review(ws, xlsx, reason="现场核实")
    assert _sha(xlsx) == digest  # the user's file is only read
    assert result.changed == 1 and result.skipped == 1 and result.open_left == 1
    assert len(result.decisions) == n - 1
    ws = Workspace.open(ws_copy)
    after = ws.read("landuse").set_index("bsm")
    assert after.loc[park, "code"] == "1402" and after.loc[park, "name"] == "防护绿地"
    diff = after.index[(after["code"] != before["code"]) | (after["name"] != before["name"])]
    assert list(diff) == [park]  # exactly that parcel changed
    assert after.loc[other_park, "code"] == "1401"
    assert np.array_equal(after.geometry.to_numpy(), before.geometry.to_numpy())
    review = ws.read("landuse_review")
    assert list(review["bsm"]) == [unknown_bsm]
    audit = ws.audit()
    row = audit[(audit["command"] == "landuse review --apply") & (audit["layer"] == "landuse")]
    assert len(row) == 1
    reason = row["reason"].iloc[0]
    assert reason.startswith("现场核实") and park in reason and "1401 → 1402" in reason
    assert other_park in reason and "1401 → 1401" in reason  # confirmed defaults are decisions too


def test_invalid_decision_is_refused_and_changes_nothing(dltb, ws_copy, tmp_path):
    _, src = dltb
    ws = Workspace.open(ws_copy)
    xlsx = tmp_path / "review.xlsx"
    export_review(ws, xlsx)
    park = src[src["DLBM"] == "0810"]["BSM"].iloc[3]
    _edit(xlsx, {park: "1499"})
    digest = _sha(ws_copy)
    with pytest.raises(ReviewError) as err:
        apply_review(ws, xlsx)
    e = err.value
    book = openpyxl.load_workbook(xlsx).worksheets[0]
    row = next(r for r in range(2, book.max_row + 1) if book.cell(r, 1).value == park)
    assert e.rule == "landuse.review.bad_code" and e.params["row"] == row and e.params["bsm"] == park
    for lang in ("zh", "en"):
        msg = e.message(lang)
        assert str(row) in msg and park in msg and "1499" in msg and str(xlsx) in msg
    assert _sha(ws_copy) == digest
    # a row naming a parcel that is not on the list: refused with its row and BSM, nothing written
    export_review(ws, xlsx)
    book = openpyxl.load_workbook(xlsx)
    sheet = book.worksheets[0]
    sheet.cell(sheet.max_row + 1, 1).value = "511921201999999999"
    sheet.cell(sheet.max_row, 10).value = "1402"
    book.save(xlsx)
    with pytest.raises(ReviewError) as err:
        apply_review(ws, xlsx)
    assert err.value.rule == "landuse.review.unknown_row" and err.value.params["row"] == sheet.max_row
    assert "511921201999999999" in err.value.message("en")
    assert _sha(ws_copy) == digest


def test_cli_lists_exports_and_applies(ws_copy, tmp_path):
    out = runner.invoke(app, ["landuse", "review", str(ws_copy)])
    assert out.exit_code == 0, out.output
    assert "0810" in out.output and "1401" in out.output and "--export" in out.output
    xlsx = tmp_path / "r.xlsx"
    out = runner.invoke(app, ["landuse", "review", str(ws_copy), "--export", str(xlsx), "--lang", "en"])
    assert out.exit_code == 0 and xlsx.exists()
    _edit_en(xlsx)
    out = runner.invoke(app, ["landuse", "review", str(ws_copy), "--apply", str(xlsx), "--lang", "en"])
    assert out.exit_code == 1 and "9999" in out.output
    out = runner.invoke(app, ["landuse", "review", str(ws_copy), "--export", str(xlsx), "--apply", str(xlsx)])
    assert out.exit_code == 2


def _edit_en(path: Path) -> None:
    book = openpyxl.load_workbook(path)
    sheet = book.worksheets[0]
    header = [c.value for c in sheet[1]]
    assert "decision" in header and "BSM" in header
    sheet.cell(2, header.index("decision") + 1).value = "9999"
    book.save(path)
