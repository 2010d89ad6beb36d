"""`supervise` on three synthetic counties: the province run's output and the folder of its
county workspaces give the same scorecard; the score of each county recomputed by hand from
its indicator results; the overdue list of a registry written here; the central-town list is
the province ranking; the CLI writes a PDF in which pdftotext finds the title, a county name
and the overdue list."""

import datetime as dt
import shutil
import subprocess

import pandas as pd
import pytest
from typer.testing import CliRunner

from supervision_counties import COUNTIES
from pianqu.cli import app
from pianqu.province.gather import read_results
from pianqu.supervision import supervise

AS_OF = dt.date(2025, 3, 1)
REGISTRY = pd.DataFrame(
    [("510403", "格里坪片区", "乡镇级片区", "已批复", "2023-05-20"),
     ("510403", "格里坪村级片区", "村级片区", "编制中", ""),       # overdue
     ("510402", "东区片区", "乡镇级片区", "已批复", "2023-06-10"),
     ("510402", "银江村级片区", "村级片区", "已批复", "2024-11-30"),  # approved in time: not overdue
     ("510105", "青羊片区", "乡镇级片区", "已批复", "2023-06-20"),
     ("510105", "文家村级片区", "村级片区", "已报批", "")],           # overdue
    columns=["区县代码", "片区名称", "规划层级", "状态", "批复日期"])


@pytest.fixture(scope="module")
def sup(province_out):
    return supervise(province_out, registry=REGISTRY, as_of=AS_OF)


def test_scores_by_hand_from_the_indicator_results(sup, province_out):
    ind = read_results(province_out, "indicator")
    ind = ind[ind["level"] == "county"]
    weights = {"约束性": 3.0, "预期性": 1.0}
    points = {"green": 100.0, "yellow": 60.0, "red": 0.0}
    for code in COUNTIES:
        num = den = 0.0
        for r in ind[ind["county_code"] == code].itertuples():
            if r.direction == "none" or r.light not in points:
                continue
            num += weights[r.kind] * points[r.light]
            den += weights[r.kind]
        got = sup.scorecard.set_index("county_code").loc[code, "score"]
        assert got == round(num / den, 1)
    card = sup.scorecard.set_index("county_code")
    ordered = card.sort_values("score", ascending=False)
    assert card["province_rank"].tolist() == sorted(card["province_rank"])  # sorted by rank
    assert ordered["province_rank"].iloc[0] == 1
    # 西区 and 东区 are in 攀枝花 (5104), 青羊区 alone in 成都 (5101)
    assert card.loc["510105", "city_rank"] == 1 and card.loc["510105", "city_name"] == "成都市"
    pz = card.loc[["510402", "510403"]]
    assert sorted(pz["city_rank"]) == ([1, 1] if pz["score"].nunique() == 1 else [1, 2])
    assert pz.sort_values("score", ascending=False)["city_rank"].iloc[0] == 1


def test_folder_of_workspaces_gives_the_same_scorecard(sup, province_out, tmp_path):
    folder = tmp_path / "counties"
    folder.mkdir()
    for code in COUNTIES[1:]:  # the two counties of 攀枝花, and --city keeps only them
        shutil.copy(province_out / "workspaces" / f"{code}.gpkg", folder / f"{code}.gpkg")
    shutil.copy(province_out / "workspaces" / "510105.gpkg", folder / "510105.gpkg")
    city = supervise(folder, as_of=AS_OF, city="5104")
    assert sorted(city.scorecard["county_code"]) == ["510402", "510403"]
    mine = city.scorecard.set_index("county_code")
    theirs = sup.scorecard.set_index("county_code").loc[["510402", "510403"]]
    assert mine["score"].to_dict() == theirs["score"].to_dict()
    # the workspaces name the features behind a red light
    assert any(len(n) for n in city.worst["driver_names"])
    assert len(city.polygons) == 2 and city.registry is None and city.overdue.empty


def test_overdue_and_worst(sup):
    assert sorted(zip(sup.overdue["county_code"], sup.overdue["plan"])) == [
        ("510105", "文家村级片区"), ("510403", "格里坪村级片区")]
    assert sup.late.empty
    for code, grp in sup.worst.groupby("county_code"):
        assert len(grp) <= 3 and grp["light"].isin(["red", "yellow"]).all()
        assert grp["lost"].is_monotonic_decreasing


def test_central_towns_are_the_province_ranking(sup):
    towns = sup.towns
    assert towns is not None and set(towns["county_code"]) == set(COUNTIES)
    assert towns["province_rank"].tolist() == sorted(towns["province_rank"])
    assert towns["candidate"].all()  # fewer than 100 towns in three counties: all listed
    # one province-wide scale: the ranks interleave the counties, not county by county
    assert towns["province_score"].is_monotonic_decreasing


def test_cli_pdf(province_out, tmp_path):
    reg = tmp_path / "规划进度.xlsx"
    REGISTRY.to_excel(reg, index=False)
    out = tmp_path / "通报"
    res = CliRunner().invoke(app, ["supervise", str(province_out), "--registry", str(reg), "--as-of", "2025-03-01",
                                   "--out", str(out), "--pdf", "--json", str(tmp_path / "s.json")])
    assert res.exit_code == 0, res.output
    pdf = out / "通报.pdf"
    assert pdf.read_bytes()[:5] == b"%PDF-"
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "四川省片区乡村国土空间规划督查考核通报" in text
    assert "青羊区" in text and "西区" in text
    assert "逾期未批复名单" in text and "格里坪村级片区" in text and "文家村级片区" in text
    assert "银江村级片区" not in text.split("逾期未批复名单")[1].split("五、")[0]
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert int(info.split("Pages:")[1].split()[0]) >= 2
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert "WenQuanYi" in fonts  # the CSS names the installed CJK font (fonts-wqy-microhei)


def test_cli_english(province_out, tmp_path):
    res = CliRunner().invoke(app, ["supervise", str(province_out), "--out", str(tmp_path), "--pdf", "--lang", "en"])
    assert res.exit_code == 0, res.output
    text = " ".join(subprocess.run(["pdftotext", str(tmp_path / "report.pdf"), "-"], capture_output=True, text=True,
                                   check=True).stdout.split())
    assert "Supervision report on the zone-based rural spatial plans of Sichuan Province" in text
    assert "no overdue list" in text  # no registry given


def test_cli_bad_date(province_out, tmp_path):
    res = CliRunner().invoke(app, ["supervise", str(province_out), "--as-of", "2025-13-01", "--out", str(tmp_path)])
    assert res.exit_code == 2 and "2025-13-01" in res.output
