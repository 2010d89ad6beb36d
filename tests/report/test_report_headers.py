"""Every table of the default county's plan report reads as a planner reads it: headers in the
report's language (never an English column id), zones, townships and villages by name (a bare
code only in a code column), booleans as 是/否, and the village-zone table counting villages."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import numpy as np
import openpyxl
import pandas as pd
import pytest

from pianqu.i18n import t
from pianqu.report import write_report
from pianqu.report.labels import UnitNames, header, yes_no
from pianqu.workspace import Workspace

pytestmark = pytest.mark.slow  # the default county planned once for the module

IDENTIFIER = re.compile(r"[a-z][a-z0-9_]*")
UNIT_CODE = re.compile(r"\d{9}|\d{12}")  # a township (9 digits) or village (12 digits) code
CODE_HEADER = re.compile(r"代码|编号|标识码|[Cc]ode|ID|BSM")  # columns meant to hold codes


class Tables(HTMLParser):
    """The tables of the report page: (title, header, rows of cell texts)."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[tuple[str, list[str], list[list[str]]]] = []
        self._title, self._in_title, self._rows, self._row, self._cell = "", False, None, None, None

    def handle_starttag(self, tag, attrs):
        if tag == "h3":
            self._in_title, self._title = True, ""
        elif tag == "table":
            self._rows = []
        elif tag == "tr" and self._rows is not None:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = ""

    def handle_endtag(self, tag):
        if tag == "h3":
            self._in_title = False
        elif tag in ("td", "th") and self._cell is not None:
            self._row.append(self._cell.strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self._rows.append(self._row)
            self._row = None
        elif tag == "table" and self._rows is not None:
            self.tables.append((self._title, self._rows[0], self._rows[1:]))
            self._rows = None

    def handle_data(self, data):
        if self._in_title:
            self._title += data
        if self._cell is not None:
            self._cell += data


@pytest.fixture(scope="module")
def planned(tongjiang_layers, tmp_path_factory) -> Workspace:
    from pianqu.plan import plan
    from pianqu.synth import write_county

    path = tmp_path_factory.mktemp("headers") / "511921.gpkg"
    ws = write_county("511921", path, seed=1, layers=tongjiang_layers)
    ws = Workspace.open(path)
    plan(ws, "plan", title="方案一")
    return ws


@pytest.fixture(scope="module")
def reports(planned, tmp_path_factory):
    """The zh and en report folders of the planned county."""
    out = tmp_path_factory.mktemp("reports")
    return {lang: write_report(planned, out / lang, scenario="plan", lang=lang, strict=True).parent
            for lang in ("zh", "en")}


def page_tables(folder) -> list[tuple[str, list[str], list[list[str]]]]:
    parser = Tables()
    parser.feed((folder / "index.html").read_text(encoding="utf-8"))
    return parser.tables


def sheets(folder) -> dict[str, tuple[list, list[list]]]:
    book = openpyxl.load_workbook(folder / "tables.xlsx", read_only=True)
    out = {}
    for sheet in book.worksheets:
        rows = [list(r) for r in sheet.iter_rows(values_only=True)]
        out[sheet.title] = (rows[0], rows[1:])
    return out


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_no_header_is_a_column_id(reports, lang):
    tables = page_tables(reports[lang])
    assert len(tables) > 30  # every section of a full plan is there
    for title, head, _ in tables:
        bad = [h for h in head if IDENTIFIER.fullmatch(h)]
        assert not bad, f"{lang} page table '{title}' has column ids as headers: {bad}"
        assert len(set(head)) == len(head), f"{lang} page table '{title}' repeats a header: {head}"
    books = sheets(reports[lang])
    assert len(books) > 30
    for name, (head, _) in books.items():
        bad = [h for h in head if h is None or IDENTIFIER.fullmatch(str(h))]
        assert not bad, f"{lang} sheet '{name}' has column ids as headers: {bad}"
        if lang == "zh":  # a Chinese header row: every header has a Chinese character or is a class code
            assert all(re.search(r"[\u4e00-\u9fff]", str(h)) for h in head), f"sheet '{name}': {head}"


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_units_by_name_and_booleans_as_words(reports, lang):
    words = {"True", "False", "true", "false"}
    for title, head, rows in page_tables(reports[lang]):
        for j, h in enumerate(head):
            cells = [r[j] for r in rows if j < len(r)]
            assert not words & set(cells), f"'{title}' column '{h}' shows booleans"
            if not CODE_HEADER.search(h):
                codes = [c for c in cells if UNIT_CODE.fullmatch(c)]
                assert not codes, f"'{title}' column '{h}' shows bare unit codes {codes[:3]}"
    for name, (head, rows) in sheets(reports[lang]).items():
        for j, h in enumerate(head):
            cells = [r[j] for r in rows]
            assert not any(isinstance(c, bool) or c in words for c in cells), f"sheet '{name}' '{h}' has booleans"
            if not CODE_HEADER.search(str(h)):
                codes = [c for c in cells if isinstance(c, str) and UNIT_CODE.fullmatch(c)]
                assert not codes, f"sheet '{name}' column '{h}' shows bare unit codes {codes[:3]}"


def test_zone_and_township_columns_name_the_units(planned, reports):
    """Zone columns show the zones' names, township columns the townships' names."""
    zones = planned.read("zone", "plan")
    townships = planned.read("township")
    tables = {title: (head, rows) for title, head, rows in page_tables(reports["zh"])}
    head, rows = tables[t("report.section.services.school_title", "zh")]
    assert {r[head.index("片区")] for r in rows} == set(zones["name"])
    head, rows = tables[t("report.section.services.shelter_title", "zh")]
    assert {r[head.index("片区")] for r in rows} == set(zones["name"])
    head, rows = tables[t("plan.section.zones.similarity", "zh")]
    assert {r[head.index("片区")] for r in rows} | {r[head.index("相邻片区")] for r in rows} <= set(zones["name"])
    head, rows = tables[t("report.section.services.unserved_title", "zh")]
    assert {r[head.index("乡镇（街道）")] for r in rows} <= set(townships["name"])
    # a village column: the village's name with its code beside it
    head, rows = tables[t("land.report.outflow", "zh")]
    villages = planned.read("village").set_index("code")["name"]
    for r in rows:
        m = re.fullmatch(r"(.+)（(\d{12})）", r[head.index("村（社区）")])
        assert m and villages[m.group(2)] == m.group(1)


def test_village_zone_table_counts_villages(planned, reports):
    """The count column of the village-zone table is named for villages and equals the number of
    villages whose central village is the zone's (from the village hierarchy, independently)."""
    title = t("plan.section.zones.villages", "zh")
    head, rows = sheets(reports["zh"])[title]
    assert "乡镇数" not in head and "乡镇（街道）数" not in head
    count = head.index(header("villages", "zh"))
    assert head[count] == "村（社区）数"
    vz = planned.read("village_zone", "plan")
    per_centre = planned.read("village_hierarchy", "plan").groupby("zone_centre").size()
    expected = {name: int(per_centre[str(z)]) for z, name in zip(vz["zone"].astype(str), vz["name"])}
    shown = {r[head.index("片区")]: r[count] for r in rows}
    assert shown == expected
    assert sum(shown.values()) == len(planned.read("village"))
    # the page shows the same header and the same counts for the rows it shows
    page = {title_: (h, r) for title_, h, r in page_tables(reports["zh"])}[title]
    assert page[0][count] == "村（社区）数"
    assert all(int(r[count]) == expected[r[page[0].index("片区")]] for r in page[1])


def test_township_table_column_of_members_is_named_for_townships(planned, reports):
    head, rows = sheets(reports["zh"])[t("plan.section.zones.table", "zh")]
    members = planned.read("zone", "plan").set_index("name")["members"]
    col = head.index("乡镇（街道）数")
    assert {r[0]: r[col] for r in rows} == {n: int(m) for n, m in members.items()}


def test_helpers():
    """The one place for names: a column id's header, 是/否, a unit's name with its code."""
    assert header("mean_time_min", "zh") == "平均用时（分钟）" and header("mean_time_min", "en") == "Mean time (min)"
    assert header("within_share", "zh", minutes=30) == "30分钟内人口占比"
    assert header("no_such_column", "zh") == "no_such_column"  # left as it is (and the tests above fail)
    assert [yes_no(v, "zh") for v in (True, np.bool_(False), "True", "false", None, 3)] == ["是", "否", "是", "否", "", 3]
    assert yes_no(False, "en") == "No"
    names = UnitNames("zh", {"511921113": "诺水河镇"}, {"511921113200": "两河口"}, {"511921001": "壁州街道片区"})
    assert names.township("511921113") == "诺水河镇（511921113）"
    assert names.township(511921113, code_beside=False) == "诺水河镇"
    assert names.village("511921113200") == "两河口（511921113200）"
    assert names.zone("511921001") == "壁州街道片区"
    assert names.zone("511921113") == "诺水河镇片区"  # a zone the scenario does not list: named by its centre
    assert names.township("511921999") == "511921999"  # unknown: the code itself
    assert UnitNames("en", {"511921113": "诺水河镇"}).township("511921113") == "诺水河镇 (511921113)"
    assert pd.isna(np.nan) and yes_no(np.nan, "zh") == ""
