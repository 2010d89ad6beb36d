"""Townships of 2023 that were one township before the 2019–2020 merger (乡镇撤并), from the real
NBS lists: :func:`pianqu.divisions.townships_2018` (2018-10-31, before the reform) against
:func:`pianqu.divisions.townships` (2023).

Which direction gives a constraint: the usual case of the reform is several 2018 townships
merged into one 2023 township (4,642 → 3,111 in Sichuan); those are already one unit of
township zoning, so they constrain nothing there. (They would constrain village zoning — keep
the villages of one former township together — but the lists cannot say which villages
belonged to which 2018 township: every 2023 village code carries its 2023 township's code.)
The constraint "2023 townships that were one township" comes from the other case: a 2018
township whose territory went to two or more 2023 townships.

A 2018 township's successors are found by code (the same 9-digit code in both lists; NBS keeps
the code of a township that continues, also when it is renamed, e.g. 乡 → 镇 keeps the stem but
not the code, 出江镇 → 䢺江镇 keeps the code) and by name (the same name without 乡/镇/街道/
民族乡/办事处 in the same county, e.g. 兴隆乡 → 兴隆镇, 官仓镇 → 官仓街道). A 2018 township with two
or more successors was split; its successors form a group (groups sharing a township are
joined). A 2023 township without any predecessor (a new name on a new code, e.g. 通江县
壁州街道) was carved out of townships the lists do not name; it is listed in
:func:`township_lineage` but forms no group. Townships of a county code retired since 2018
(县改市/区, development zones) are compared with the 2023 county of the same city that holds most
of their names.

On the whole of Sichuan this finds one group: 简阳市 (510185) 新市镇 (510185102) — its code is
now 杨家镇's and its name 新市街道's (510185003) — and none for the default county 通江县.
"""

from __future__ import annotations

from functools import cache

import pandas as pd

from pianqu import divisions
from pianqu.findings import Finding

_SUFFIXES = ("民族乡", "街道", "镇", "乡")


def name_stem(name: str) -> str:
    """'兴隆乡' → '兴隆', '官仓街道办事处' → '官仓', '石羊场街道' → '石羊场' (what stays across 乡 → 镇 → 街道)."""
    n = str(name).strip().replace("办事处", "")
    if n.endswith("街道办"):
        n = n[:-1]
    for s in _SUFFIXES:
        if n.endswith(s) and len(n) > len(s):
            return n[: -len(s)]
    return n


@cache
def _retired_county_map() -> dict[str, str]:
    """2018 county code absent in 2023 → the 2023 county of the same city holding most of its
    township names (none when no name matches)."""
    t18, t23 = divisions.townships_2018(), divisions.townships()
    gone = sorted(set(t18["county_code"]) - set(t23["county_code"]))
    stems23 = t23.assign(stem=t23["name"].map(name_stem))
    out = {}
    for c in gone:
        old = t18[t18["county_code"] == c]
        same_city = stems23[stems23["county_code"].str[:4] == c[:4]]
        hits = same_city[same_city["stem"].isin(set(old["name"].map(name_stem)))]
        if len(hits):
            counts = hits["county_code"].value_counts()
            out[c] = str(counts.index[0])
    return out


def township_lineage(county_code: str) -> pd.DataFrame:
    """Links between the county's 2018 and 2023 townships.

    One row per link: ``code_2018, name_2018, code_2023, name_2023, by`` (``code``, ``name`` or
    ``code+name``); a 2018 township without a successor has an empty ``code_2023`` (merged into
    a neighbour the lists do not name), a 2023 township without a predecessor an empty
    ``code_2018``.
    """
    c = str(county_code)
    divisions.county(c)  # a clear error for a code that is not a Sichuan county
    t23 = divisions.townships(c)
    retired = [k for k, v in _retired_county_map().items() if v == c]
    t18 = divisions.townships_2018()
    t18 = t18[t18["county_code"].isin([c, *retired])]
    by_stem: dict[str, list[str]] = {}
    for code, name in zip(t23["code"], t23["name"]):
        by_stem.setdefault(name_stem(name), []).append(code)
    codes23 = set(t23["code"])
    name23 = dict(zip(t23["code"], t23["name"]))
    rows = []
    for code, name in zip(t18["code"], t18["name"]):
        links: dict[str, list[str]] = {}
        if code in codes23:
            links.setdefault(code, []).append("code")
        for succ in by_stem.get(name_stem(name), []):
            links.setdefault(succ, []).append("name")
        if not links:
            rows.append((code, name, "", "", ""))
        for succ, how in sorted(links.items()):
            rows.append((code, name, succ, name23[succ], "+".join(how)))
    linked = {r[2] for r in rows}
    for code, name in zip(t23["code"], t23["name"]):
        if code not in linked:
            rows.append(("", "", code, name, ""))
    return pd.DataFrame(rows, columns=["code_2018", "name_2018", "code_2023", "name_2023", "by"])


def merger_table(county_code: str) -> pd.DataFrame:
    """One row per 2023 township in a group: ``group`` (number), ``code``, ``name`` (2023),
    ``code_2018``, ``name_2018`` (the township it was part of) and ``by`` (how the link was
    found). Empty when no 2018 township of the county was split."""
    lin = township_lineage(county_code)
    lin = lin[(lin["code_2018"] != "") & (lin["code_2023"] != "")]
    split = lin.groupby("code_2018")["code_2023"].nunique()
    split = lin[lin["code_2018"].isin(split[split > 1].index)]
    # join groups sharing a 2023 township (union–find over 2023 codes)
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            x = parent[x]
        return x

    for _, succ in split.groupby("code_2018")["code_2023"]:
        s = sorted(succ)
        for other in s[1:]:
            parent[find(other)] = find(s[0])
    if split.empty:
        return pd.DataFrame(columns=["group", "code", "name", "code_2018", "name_2018", "by"])
    out = split.rename(columns={"code_2023": "code", "name_2023": "name"}).copy()
    out["root"] = out["code"].map(find)
    roots = sorted(out["root"].unique())
    out["group"] = out["root"].map({r: k + 1 for k, r in enumerate(roots)})
    return out[["group", "code", "name", "code_2018", "name_2018", "by"]].sort_values(
        ["group", "code"]).reset_index(drop=True)


def merger_groups(county_code: str) -> list[list[str]]:
    """2023 township codes of the county that were one township before the 2019 merger, one
    list per group (see :func:`merger_table` for why); ``[]`` when there is none."""
    table = merger_table(county_code)
    return [sorted(set(g["code"])) for _, g in table.groupby("group")]


def pre_merger_constraints(codes, county_code: str, keep: bool, *, layer: str = "township"
                           ) -> tuple[list[list[str]], list[Finding]]:
    """The groups to pass as ``keep_together`` (those whose townships are all among ``codes``;
    none unless ``keep``) and one info finding per group saying whether it was kept. A county
    code outside Sichuan's lists gives no group."""
    have = set(map(str, codes))
    try:
        table = merger_table(county_code)
    except KeyError:  # not a Sichuan county code (e.g. a test workspace): no lists to compare
        return [], []
    groups, findings = [], []
    for _, g in table.groupby("group"):
        members = sorted(set(g["code"]))
        if not set(members) <= have:
            continue
        names = dict(zip(g["code"], g["name"]))
        old = g.drop_duplicates("code_2018")
        params = {"units": "、".join(members), "names": "、".join(names[m] for m in members),
                  "old_code": "、".join(old["code_2018"]), "old_name": "、".join(old["name_2018"]),
                  "evidence": "; ".join(f"{r.code_2018}→{r.code} ({r.by})" for r in g.itertuples())}
        findings.append(Finding("info", "zoning.merger.kept" if keep else "zoning.merger.not_kept", layer,
                                members[0], "", params))
        if keep:
            groups.append(members)
    return groups, findings
