"""The zone-plan registry (xlsx with Chinese headers, written here) and the overdue list as
constructed, against the policy's deadlines (thresholds.toml)."""

import datetime as dt

import pandas as pd
import pytest

from pianqu.errors import UserValueError
from pianqu.supervision import deadlines, overdue, read_registry
from pianqu.supervision.registry import approved_late

ROWS = [  # 区县代码, 片区名称, 规划层级, 状态, 报批日期, 批复日期
    ("510403", "格里坪片区", "乡镇级片区", "已批复", "2023-04-01", "2023-05-20"),
    ("510403", "格里坪村级片区", "村级片区", "编制中", "", ""),            # overdue after 2024-12-31
    ("510402", "东区片区", "乡镇级片区", "已批复", "2023-07-01", "2023年9月1日"),  # approved, late
    ("510402", "银江村级片区", "村级片区", "已批复", "2024-10-01", "2024/11/30"),
    ("510105", "青羊片区", "乡镇级片区", "已报批", "2023-06-01", ""),        # overdue since 2023-06-30
    ("510105", "坏行", "片区", "已批复", "", ""),                          # unknown level: left out
]


@pytest.fixture()
def registry_xlsx(tmp_path):
    path = tmp_path / "规划进度.xlsx"
    pd.DataFrame(ROWS, columns=["区县代码", "片区名称", "规划层级", "状态", "报批日期", "批复日期"]).to_excel(path, index=False)
    return path


def test_deadlines_from_configuration():
    assert deadlines() == {"township": dt.date(2023, 6, 30), "village": dt.date(2024, 12, 31)}


def test_registry_read(registry_xlsx):
    reg, findings = read_registry(registry_xlsx)
    assert len(reg) == 5
    assert [f.params["row"] for f in findings] == [7] and findings[0].field == "level"
    east = reg[reg["plan"] == "东区片区"].iloc[0]
    assert east["level"] == "township" and east["status"] == "approved" and east["approved"] == dt.date(2023, 9, 1)
    assert reg.loc[reg["plan"] == "银江村级片区", "approved"].iloc[0] == dt.date(2024, 11, 30)


def test_overdue_as_constructed(registry_xlsx):
    reg, _ = read_registry(registry_xlsx)
    counties = ["510105", "510402", "510403"]
    due = overdue(reg, dt.date(2025, 3, 1), counties=counties)
    got = {(r.county_code, r.plan, r.level, r.status, r.days_overdue) for r in due.itertuples()}
    assert got == {
        ("510105", "青羊片区", "township", "submitted", (dt.date(2025, 3, 1) - dt.date(2023, 6, 30)).days),
        ("510105", "", "village", "missing", 60),       # 青羊区 registered no village-level plan
        ("510403", "格里坪村级片区", "village", "in_progress", 60),
    }
    assert due.loc[due["plan"] == "格里坪村级片区", "county_name"].iloc[0] == "西区"
    # before the village-level deadline only the township-level plan is overdue
    early = overdue(reg, dt.date(2024, 12, 31), counties=counties)
    assert early["plan"].tolist() == ["青羊片区"]
    # the approved ones are never overdue, the late approval is listed apart
    assert not due["plan"].isin(["格里坪片区", "东区片区", "银江村级片区"]).any()
    assert approved_late(reg)["plan"].tolist() == ["东区片区"]


def test_registry_without_required_headers(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("区县代码,片区名称\n510403,格里坪片区\n", encoding="utf-8")
    with pytest.raises(UserValueError) as e:
        read_registry(path)
    assert "规划层级" in e.value.message("zh") and "状态" in e.value.message("zh")
