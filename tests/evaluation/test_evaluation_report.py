"""The report's 体检评估 section on the hand-made county: the chart, the table, each red light
explained by the features behind it, every level in the workbook; zh and en."""

from __future__ import annotations

import pandas as pd
import pytest

from evaluation_county import COUNTY, write_county
from pianqu.report import write_report


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    return write_county(tmp_path_factory.mktemp("rep") / f"{COUNTY}.gpkg")


@pytest.mark.parametrize("lang,words", [
    ("zh", ["体检评估", "耕地保有量", "未达标：等级医院交通30分钟行政村覆盖率", "三村", "上级下达：市级下达", "不高于2023年基期值"]),
    ("en", ["Plan evaluation", "cultivated land kept", "Not met: administrative villages within 30 min", "三村",
            "assigned: 市级下达", "no more than the 2023 base epoch"]),
])
def test_section_page_and_workbook(ws, tmp_path, lang, words):
    page = write_report(ws, tmp_path / lang, scenario="plan", sections=["evaluation"], strict=True, lang=lang)
    html = page.read_text(encoding="utf-8")
    for w in words:
        assert w in html, w
    assert "evaluation_lights" in html or "data:image/png" in html
    sheets = pd.read_excel(tmp_path / lang / "tables.xlsx", sheet_name=None)
    name = {"zh": ("体检评估", "体检评估分级"), "en": ("Evaluation", "Evaluation by level")}[lang]
    assert set(name) <= set(sheets)
    assert len(sheets[name[1]]) > len(sheets[name[0]])  # every level in the workbook
