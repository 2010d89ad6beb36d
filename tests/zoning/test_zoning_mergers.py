"""Townships that were one township before the 2019 merger, from the real NBS 2018 and 2023 lists.

Hand-checked case (zcat src/pianqu/data/sichuan_townships*.csv.gz | grep 510185):
2018 has ``510185102,"新市镇"`` and ``510185003,"十里坝街道办事处"``; 2023 has
``510185102,"杨家镇"`` and ``510185003,"新市街道"`` (and no 杨家 in 简阳 in 2018). So 新市镇's
code went on with 杨家镇 and its name with 新市街道: the two 2023 townships were one in 2018.
"""

import pandas as pd

from pianqu import divisions
from pianqu.zoning import merger_groups
from pianqu.zoning.mergers import merger_table, name_stem, pre_merger_constraints, township_lineage


def test_jianyang_xinshi_split_across_two_townships():
    assert merger_groups("510185") == [["510185003", "510185102"]]
    tab = merger_table("510185")
    assert list(tab["code"]) == ["510185003", "510185102"]
    assert list(tab["name"]) == ["新市街道", "杨家镇"]
    assert set(tab["code_2018"]) == {"510185102"} and set(tab["name_2018"]) == {"新市镇"}
    assert dict(zip(tab["code"], tab["by"])) == {"510185003": "name", "510185102": "code"}


def test_default_county_tongjiang_has_no_group_and_a_complete_lineage():
    assert merger_groups("511921") == []
    assert merger_table("511921").empty
    lin = township_lineage("511921")
    # every township of both lists appears: 49 in 2018, 33 in 2023
    assert set(lin["code_2018"]) - {""} == set(divisions.townships_2018("511921")["code"])
    assert set(lin["code_2023"]) - {""} == set(divisions.townships("511921")["code"])
    row = lin.set_index("code_2018")
    assert row.loc["511921219", "name_2023"] == "兴隆镇" and row.loc["511921219", "by"] == "name"  # 兴隆乡 → 兴隆镇
    assert row.loc["511921100", "by"] == "code+name"  # 诺江镇 continues
    # the usual merger direction: 31 of the 33 townships of 2023 continue a 2018 one; the other
    # 18 of 2018 (三合乡, 东山乡 ...) were absorbed into neighbours and have no successor of their own
    assert (lin["code_2023"] == "").sum() == 49 - (33 - 2)
    assert "三合乡" in set(lin.loc[lin["code_2023"] == "", "name_2018"])
    new = lin.loc[lin["code_2018"] == "", "name_2023"]
    assert sorted(new) == ["壁州街道", "青峪镇"]


def test_province_wide_only_jianyang():
    """The whole of Sichuan (183 counties): the split of 新市镇 is the only one the lists show."""
    found = {c: merger_groups(c) for c in divisions.counties()["code"]}
    assert {c: g for c, g in found.items() if g} == {"510185": [["510185003", "510185102"]]}


def test_retired_county_codes_are_compared_with_their_successor():
    # 511771 (a 2018 county code gone in 2023): 斌郎乡 is 2023 斌郎街道 of 511703
    lin = township_lineage("511703")
    hit = lin[lin["code_2018"] == "511771200"]
    assert list(hit["code_2023"]) == ["511703009"] and list(hit["by"]) == ["name"]
    assert name_stem("官仓街道办事处") == "官仓" and name_stem("兴隆乡") == "兴隆" and name_stem("东升街道办") == "东升"


def test_constraints_for_plan():
    codes = divisions.townships("510185")["code"]
    groups, notes = pre_merger_constraints(codes, "510185", keep=False)
    assert groups == [] and [f.rule for f in notes] == ["zoning.merger.not_kept"]
    assert "新市镇" in notes[0].message("zh") and "杨家镇" in notes[0].message("en")
    groups, notes = pre_merger_constraints(codes, "510185", keep=True)
    assert groups == [["510185003", "510185102"]] and notes[0].rule == "zoning.merger.kept"
    # a workspace holding only one of the two: no group to keep
    assert pre_merger_constraints(pd.Series(["510185003", "510185001"]), "510185", keep=True) == ([], [])
    assert pre_merger_constraints(["510000001"], "510000", keep=True) == ([], [])  # not a Sichuan county
