"""`pianqu evaluate`: the 体检评估 of a county — every indicator against its target with a traffic
light — and plan versions compared. Thin over :mod:`pianqu.evaluation`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from pianqu.commands.common import USER_ERRORS, Lang, err_console, fail, output_ok, resolve_lang, scenario_ok
from pianqu.findings import to_json
from pianqu.i18n import t

console = Console(highlight=False, soft_wrap=True)
STYLE = {"green": "bold green", "yellow": "bold yellow", "red": "bold red", "none": "dim"}
# the columns of the table in the workbook and the JSON, in order
COLUMNS = ["indicator", "name", "dimension", "kind", "level", "unit_code", "unit_name", "value", "unit", "target",
           "target_source", "light", "direction", "epoch", "previous", "previous_epoch", "trend", "drivers", "need",
           "method", "source", "sureness"]


def fmt(value, unit: str) -> str:
    """A value as the table shows it (:func:`pianqu.evaluation.engine.format_value`)."""
    from pianqu.evaluation.engine import format_value

    return format_value(value, unit)


def light_label(row, lang: str) -> str:
    """达标/预警/未达标/无数据, and 无目标 for a value without a target."""
    if row["light"] == "none" and row["status"] == "ok":
        return t("evaluation.light.no_target", lang)
    return t(f"evaluation.light.{row['light']}", lang)


def _frame(ev, lang: str):
    table = ev.table.copy()
    table["name"] = table["name_zh"] if lang == "zh" else table["name_en"]
    return table[COLUMNS]


def evaluate(ws_path: Annotated[Path, typer.Argument(help="工作空间 .gpkg 或 postgresql:// / workspace")],
             scenario: Annotated[Optional[str], typer.Option("--scenario", "-s", help="方案 / scenario")] = None,
             epoch: Annotated[Optional[int], typer.Option("--epoch", help="评估年度（默认最新）/ land-use epoch")] = None,
             json_out: Annotated[Optional[Path], typer.Option("--json", help="写出 JSON / write JSON")] = None,
             xlsx: Annotated[Optional[Path], typer.Option("--xlsx", help="写出 Excel / write a workbook")] = None,
             levels: Annotated[bool, typer.Option("--levels", help="同时列出片区、乡镇、村的值 / every level")] = False,
             write: Annotated[bool, typer.Option("--write", help="写入方案图层 indicator、indicator_driver")] = False,
             compare: Annotated[Optional[tuple[str, str]], typer.Option(
                 "--compare", help="比较两个方案或修订版本（名称或 名称@修订号）/ compare two versions")] = None,
             save_version: Annotated[Optional[str], typer.Option(
                 "--save-version", help="把 --scenario 另存为一个版本 / keep the scenario as a version")] = None,
             reason: Annotated[str, typer.Option("--reason", help="理由（保存版本时记录）")] = "",
             lang: Lang = "") -> None:
    """体检评估：各项指标对照目标，红黄绿灯、年度趋势与问题要素；比较方案版本 / evaluate the plan."""
    lang = resolve_lang(lang)
    for name in (scenario, save_version, *(v.partition("@")[0] for v in (compare or ()))):
        scenario_ok(name, lang)
    for out in (json_out, xlsx):
        output_ok(out, lang, inputs=[ws_path], create_parent=True)
    if (write or save_version) and not scenario:
        fail(t("evaluation.cli.needs_scenario", lang), lang)

    from pianqu.evaluation import compare_versions, evaluate as run, save_version as keep
    from pianqu.workspace import Workspace

    try:
        ws = Workspace.open(ws_path)
        if save_version:
            keep(ws, scenario, save_version, reason=reason)
            console.print(t("evaluation.cli.saved", lang, scenario=scenario, name=save_version), markup=False)
            return
        if compare:
            _compare(compare_versions(ws, compare[0], compare[1]), lang, json_out, xlsx)
            return
        ev = run(ws, scenario, epoch=epoch)
        if write:
            ev.write(ws)
    except USER_ERRORS as exc:
        fail(exc, lang)
    _print(ev, lang, levels)
    frame = _frame(ev, lang)
    if json_out is not None:
        doc = {**ev.to_dict(), "indicators": json.loads(frame.to_json(orient="records", force_ascii=False)),
               "findings": json.loads(to_json(ev.findings, lang))}
        json_out.write_text(json.dumps(doc, ensure_ascii=False, indent=1), encoding="utf-8")
    if xlsx is not None:
        drivers = ev.driver_features.drop(columns="geometry").assign(
            lon=ev.driver_features.geometry.representative_point().x,
            lat=ev.driver_features.geometry.representative_point().y)
        _workbook(xlsx, {t("evaluation.sheet.indicators", lang): _headed(frame, lang),
                         t("evaluation.sheet.drivers", lang): _headed(drivers, lang)})
    for out in (json_out, xlsx):
        if out is not None:
            console.print(t("evaluation.cli.written", lang, path=str(out)), markup=False)


def _headed(frame, lang: str):
    return frame.rename(columns={c: t(f"evaluation.col.{c}", lang) for c in frame.columns
                                 if f"evaluation.col.{c}" in _keys()})


def _keys() -> set[str]:
    from pianqu.i18n import catalogue
    return set(catalogue())


def _workbook(path: Path, sheets) -> None:
    import pandas as pd

    with pd.ExcelWriter(path) as xw:
        for name, frame in sheets.items():
            frame.to_excel(xw, sheet_name=name[:31], index=False)


def _print(ev, lang: str, levels: bool) -> None:
    rows = ev.table if levels else ev.county()
    c = ev.counts()
    console.print(t("evaluation.cli.title", lang, county=ev.county_code, scenario=ev.scenario or "—",
                    epoch=ev.epoch or "—", green=c["green"], yellow=c["yellow"], red=c["red"], none=c["none"]),
                  markup=False)
    table = Table(show_lines=False)
    for col in ("name", "level", "value", "target", "light", "trend", "drivers"):
        table.add_column(t(f"evaluation.col.{col}", lang), overflow="fold")
    for r in rows.to_dict("records"):
        name = r["name_zh"] if lang == "zh" else r["name_en"]
        if r["level"] != "county":
            name = f"  {r['unit_name']}"
        unit = "" if r["unit"] in ("ratio", "count", "index") else f" {t('evaluation.unit.' + r['unit'], lang)}"
        trend = fmt(r["trend"], r["unit"])
        if trend != "—" and not trend.startswith("-"):
            trend = "+" + trend
        table.add_row(name, t(f"evaluation.level.{r['level']}", lang), fmt(r["value"], r["unit"]) + unit,
                      fmt(r["target"], r["unit"]), f"[{STYLE[r['light']]}]{light_label(r, lang)}[/]",
                      trend, str(r["drivers"]) if r["drivers"] else "")
    console.print(table)
    for f in ev.findings:
        if f.rule == "evaluation.no_data":
            err_console.print(f"{f.message(lang)} → {f.action(lang)}", style="yellow", markup=False)


def _compare(cmp, lang: str, json_out, xlsx) -> None:
    console.print(t("evaluation.cli.compare", lang, a=cmp.a, b=cmp.b), markup=False)
    for f in cmp.findings:
        err_console.print(f"{f.message(lang)} → {f.action(lang)}", style="yellow", markup=False)
    frames = cmp.to_frames()
    for key, frame in frames.items():
        if frame is None or frame.empty:
            continue
        table = Table(title=t(f"evaluation.compare.{key}", lang))
        for col in frame.columns:
            table.add_column(str(col), overflow="fold")
        for row in frame.head(50).itertuples(index=False):
            table.add_row(*["" if v is None else (f"{v:,.2f}" if isinstance(v, float) else str(v)) for v in row])
        console.print(table)
    if json_out is not None:
        json_out.write_text(json.dumps({k: json.loads(v.to_json(orient="records", force_ascii=False))
                                        if not v.empty else [] for k, v in frames.items()},
                                       ensure_ascii=False, indent=1), encoding="utf-8")
    if xlsx is not None:
        _workbook(xlsx, {t(f"evaluation.compare.{k}", lang): v for k, v in frames.items()})
