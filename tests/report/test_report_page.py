"""write_report end to end: the page (zh and en), its maps, the workbook, the section registry."""

from __future__ import annotations

import base64
import re
from html.parser import HTMLParser

import matplotlib.image as mpimg
import openpyxl
import pytest

from pianqu.i18n import t
from pianqu.report import (ReportError, SectionContent, Table, register_section, unregister_section,
                           write_report)
from pianqu.report.sections import sections
from report_fixture import build_layers, make_workspace, sample_findings

SHOWN = 5  # report.findings_shown set in the workspace's pianqu.toml below
N_FINDINGS = 13


class TagChecker(HTMLParser):
    """Checks that every opened element is closed in order (void elements excepted)."""

    VOID = {"meta", "img", "br", "hr", "link", "input", "col", "source", "wbr", "area", "base"}

    def __init__(self):
        super().__init__()
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.text: list[str] = []
        self.ids: list[str] = []

    def handle_starttag(self, tag, attrs):
        if "id" in dict(attrs):
            self.ids.append(dict(attrs)["id"])
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes <{self.stack[-1] if self.stack else None}>")
        else:
            self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)


def parse(page: str) -> TagChecker:
    checker = TagChecker()
    checker.feed(page)
    checker.close()
    return checker


@pytest.fixture(scope="module")
def report_zh(workspace, catalogue_with_test_rules):
    (workspace.path.parent / "pianqu.toml").write_text(
        f'[thresholds]\n"report.findings_shown" = {SHOWN}\n', encoding="utf-8")
    out = workspace.path.parent / "report_zh"
    index = write_report(workspace, out, findings=sample_findings(N_FINDINGS - 1), strict=True)
    return index, index.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def report_en(workspace, report_zh):
    index = write_report(workspace, workspace.path.parent / "report_en", findings=[], lang="en", strict=True)
    return index, index.read_text(encoding="utf-8")


def test_page_in_chinese(report_zh, layers):
    index, page = report_zh
    assert index.name == "index.html" and index.exists()
    assert page.startswith("<!DOCTYPE html>") and '<html lang="zh-CN">' in page
    checker = parse(page)
    assert checker.errors == [] and checker.stack == []
    text = "".join(checker.text)
    assert "通江县" in text and "巴中市" in text and "521,875" in text  # county, city, 2020 census
    for name in layers["township"]["name"]:
        assert name in text
    assert t("common.synthetic_notice", "zh") in text
    for heading in ("县域概况", "县域总图", "乡镇统计表", "用地用海现状结构", "数据校验摘要"):
        assert heading in text
    # the core sections in their order, each with an anchor in the table of contents
    order = [i for i in checker.ids if i.startswith("sec-")]
    # (体检评估 without a plan: the indicators the base layers give, the others 无数据)
    assert order == ["sec-overview", "sec-overview_map", "sec-townships", "sec-landuse", "sec-evaluation",
                     "sec-validation"]
    # maps embedded: the page alone is the report
    uris = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(uris) == 3  # the two maps and the 体检评估 chart
    assert base64.b64decode(uris[0]) == (index.parent / "maps" / "overview.png").read_bytes()


def test_validation_summary_lists_first_findings(report_zh):
    _, page = report_zh
    text = "".join(parse(page).text)
    assert f"共发现 {N_FINDINGS} 条问题：错误 1 条、警告 {N_FINDINGS - 1} 条" in text
    assert "test.unrendered_rule" in text  # the error comes first, with its rule name
    assert "图斑 511921202300000000 与相邻图斑重叠 3.5 平方米" in text and "在 ArcGIS 中修改图斑边界" in text
    findings_part = page[page.index('id="tbl-findings"'):]
    body = findings_part[: findings_part.index("</table>")]
    assert body.count("<tr>") == SHOWN + 1  # header + the first SHOWN findings
    assert f"仅显示前 {SHOWN} 行（共 {N_FINDINGS} 行）" in text


def test_page_in_english(report_en):
    _, page = report_en
    checker = parse(page)
    assert checker.errors == [] and '<html lang="en">' in page
    text = "".join(checker.text)
    for heading in ("County overview", "Overview map", "Township table", "Land-use structure",
                    "Validation summary", "Contents"):
        assert heading in text
    assert t("common.synthetic_notice", "en") in text
    assert "Validation passed: no problems found." in text
    assert "县域概况" not in text and "乡镇统计表" not in text  # no Chinese headings left


def test_maps_decode(report_zh):
    index, _ = report_zh
    for name, min_h in (("overview", 1200), ("landuse_structure", 500)):
        image = mpimg.imread(index.parent / "maps" / f"{name}.png")
        h, w = image.shape[:2]
        assert w == 1500 and min_h <= h <= 2100  # 10 in at 150 dpi
        rgb = image[..., :3]
        assert rgb.std() > 0.05  # not blank
        red = (rgb[..., 0] > 0.6) & (rgb[..., 1] < 0.25) & (rgb[..., 2] < 0.25)
        assert red[int(h * 0.93):].any()  # the synthetic notice (red) under the map


def test_workbook(report_zh, report_en, layers):
    book = openpyxl.load_workbook(report_zh[0].parent / "tables.xlsx")
    assert book.sheetnames == ["县域概况", "图层清单", "乡镇统计", "用地结构", "三大类", "体检评估", "体检评估分级",
                               "校验汇总", "校验问题清单"]
    sheet = book["乡镇统计"]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:3] == ("代码", "乡镇（街道）", "类型") and rows[0][7] == "01 耕地（公顷）"
    assert [r[1] for r in rows[1:]] == [*layers["township"]["name"], "合计"]
    assert rows[-1][3] == sum(r[3] for r in rows[1:-1])  # numbers stay numbers
    assert sheet.cell(row=2, column=6).number_format == "#,##0.00"
    assert len(list(book["校验问题清单"].iter_rows())) == N_FINDINGS + 1  # all findings, not the first few
    english = openpyxl.load_workbook(report_en[0].parent / "tables.xlsx")
    assert english.sheetnames[:5] == ["Overview", "Layers", "Townships", "Land use", "Broad classes"]
    assert "Findings" not in english.sheetnames  # no findings, no list


def test_registered_section_appears_in_order(workspace, tmp_path):
    def zones(ws, ctx):
        content = SectionContent("片区划分（测试）")
        content.add_html("<p class='probe'>zone <b>markup</b></p>").add_note("<not markup>")
        import pandas as pd

        return content.add_table(Table("zones", "片区表", pd.DataFrame({"片区": ["一片区"], "人口": [12345]}),
                                       sheet="片区"))

    register_section("zz_zones", order=250, builder=zones)
    register_section("zz_empty", order=260, builder=lambda ws, ctx: None)  # nothing to say: left out
    try:
        with pytest.raises(ValueError, match="already registered"):
            register_section("zz_zones", order=1, builder=lambda ws, ctx: None)
        names = [s.name for s in sections()]
        assert names.index("overview_map") < names.index("zz_zones") < names.index("townships")
        index = write_report(workspace, tmp_path / "r", sections=["overview", "zz_zones", "zz_empty", "validation"],
                             strict=True)
    finally:
        unregister_section("zz_zones")
        unregister_section("zz_empty")
    page = index.read_text(encoding="utf-8")
    ids = [i for i in parse(page).ids if i.startswith("sec-")]
    assert ids == ["sec-overview", "sec-zz_zones", "sec-validation"]
    assert "<p class='probe'>zone <b>markup</b></p>" in page  # trusted html kept
    assert "&lt;not markup&gt;" in page  # notes escaped
    assert "12,345" in page and "未提供校验结果" in page
    assert openpyxl.load_workbook(index.parent / "tables.xlsx").sheetnames == ["县域概况", "图层清单", "片区"]
    assert "zz_zones" not in [s.name for s in sections()]


def test_failing_section_is_reported_not_fatal(workspace, tmp_path):
    def broken(ws, ctx):
        raise RuntimeError("boom")

    register_section("zz_broken", order=150, builder=broken)
    try:
        with pytest.warns(RuntimeWarning, match="zz_broken"):
            index = write_report(workspace, tmp_path / "r", sections=["zz_broken"])
        assert "本节生成失败（RuntimeError: boom）" in index.read_text(encoding="utf-8")
        with pytest.raises(RuntimeError, match="boom"):
            write_report(workspace, tmp_path / "r2", sections=["zz_broken"], strict=True)
    finally:
        unregister_section("zz_broken")


def test_real_data_has_no_notice_and_bad_input_is_refused(tmp_path):
    layers = build_layers()
    ws = make_workspace(tmp_path / "real.gpkg", {k: layers[k] for k in ("township", "village")}, synthetic=False)
    index = write_report(ws, tmp_path / "r", sections=["overview", "townships", "landuse"], strict=True)
    page = index.read_text(encoding="utf-8")
    assert t("common.synthetic_notice", "zh") not in page
    assert "没有地类图斑（landuse）图层" in page  # said, not crashed
    ws.create_scenario("plan1", title="方案一")
    index = write_report(ws, tmp_path / "s", scenario="plan1", sections=["overview"], lang="en")
    assert "Plan scenario: 方案一 (plan1)" in index.read_text(encoding="utf-8")
    with pytest.raises(ReportError) as err:
        write_report(ws, tmp_path / "r", lang="fr")
    assert "unknown report language 'fr'" in err.value.message("en")
    with pytest.raises(ReportError) as err:
        write_report(ws, tmp_path / "r", scenario="nope")
    assert "no scenario 'nope'" in err.value.message("en") and "没有方案“nope”" in err.value.message("zh")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ReportError) as err:
        write_report(ws, tmp_path / "file")
    assert "not a folder" in err.value.message("en")
    with pytest.raises(KeyError, match="unknown report sections"):
        write_report(ws, tmp_path / "r", sections=["nope"])


def test_township_section_points_out_gaps_bad_codes_and_stray_parcels(tmp_path):
    import pandas as pd

    layers = build_layers()
    lu = layers["landuse"].drop(index=[10]).reset_index(drop=True)  # a hole in the first township
    lu.loc[20, "code"] = "9999"
    stray = lu.iloc[[0]].copy()
    stray["geometry"] = stray.geometry.translate(0.5, 0.0)
    stray[["township_code", "village_code", "bsm"]] = [None, None, "stray"]
    layers["landuse"] = pd.concat([lu, stray], ignore_index=True)
    ws = make_workspace(tmp_path / "holes.gpkg", layers)
    page = write_report(ws, tmp_path / "r", sections=["townships"], strict=True).read_text(encoding="utf-8")
    text = "".join(parse(page).text)
    assert "1 个乡镇的地类图斑面积之和与乡镇面积相差超过 0.0001（最大：壁州街道" in text
    assert "1 个地类图斑的用地用海代码不在分类表中" in text
    assert "1 个地类图斑（共" in text and "不在任何乡镇范围内" in text
    assert "<th>未覆盖差额（公顷）</th>" in page and "<th>代码无效（公顷）</th>" in page  # shown when not zero
