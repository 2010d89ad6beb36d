"""The `pianqu` command line: parse, call the library, print. No planning logic lives here."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from pianqu import progress
from pianqu.commands import db as db_commands
from pianqu.commands import land as land_commands
from pianqu.commands import landuse as landuse_commands
from pianqu.commands import zones as zones_commands
from pianqu.commands.export import export as export_command
from pianqu.web import commands as web_commands

from pianqu.commands.evaluate import evaluate as evaluate_command
from pianqu.findings import Finding, has_errors, summary, to_json
from pianqu.commands.common import USER_ERRORS, Lang, LocalisedGroup, fail, input_ok, output_ok, resolve_lang, scenario_ok
from pianqu.errors import UserKeyError, UserValueError
from pianqu.i18n import catalogue, t

app = typer.Typer(add_completion=False, no_args_is_help=True, cls=LocalisedGroup,
                  help="pianqu 片区：县域片区乡村国土空间规划辅助系统 / zone-based rural spatial planning")
console = Console()


@app.callback()
def _main() -> None:
    progress.enable(sys.stderr.isatty())


app.add_typer(zones_commands.app, name="zones")
app.add_typer(land_commands.app, name="lines")
app.add_typer(landuse_commands.app, name="landuse")
app.add_typer(db_commands.app, name="db")


def _province_app() -> typer.Typer:  # pianqu.province sits above the commands (its steps call the plan)
    from pianqu.province.command import app as province_app

    return province_app


app.add_typer(_province_app(), name="province")
app.command("export")(export_command)
app.add_typer(web_commands.users_app, name="users")
app.command("serve")(web_commands.serve)

app.command("evaluate")(evaluate_command)


def _supervise_command():  # pianqu.supervision sits above the province engine it may call
    from pianqu.supervision.command import supervise_command

    return supervise_command


app.command("supervise")(_supervise_command())


@app.command()
def standards(
    table: Annotated[Optional[str], typer.Option(help="只看一张表 / one table, e.g. landuse_2023, thresholds")] = None,
    export: Annotated[Optional[Path], typer.Option(help="导出为 .xlsx 或 CSV 目录 / export to .xlsx or a folder of CSV")] = None,
    lang: Lang = "",
) -> None:
    """列出代码表与阈值（含来源与可信度）/ print or export code tables and thresholds."""
    from pianqu.standards import catalogue

    lang = resolve_lang(lang)
    cat = catalogue()
    if table:
        if table not in cat:
            fail(UserKeyError("cli.err.unknown_table", table=table, tables=", ".join(f"`{c}`" for c in cat)), lang)
        cat = {table: cat[table]}
    if export:
        folder = export.suffix.lower() != ".xlsx"
        output_ok(export, lang, folder=folder, create_parent=folder)
        try:
            if export.suffix.lower() == ".xlsx":
                import pandas as pd

                with pd.ExcelWriter(export) as xw:
                    for name, df in cat.items():
                        df.to_excel(xw, sheet_name=name[:31], index=False)
            else:
                export.mkdir(parents=True, exist_ok=True)
                for name, df in cat.items():
                    df.to_csv(export / f"{name}.csv", index=False, encoding="utf-8-sig")
        except OSError as exc:
            fail(exc, lang)
        console.print(t("cli.exported", lang, path=export), markup=False)
        return
    for name, df in cat.items():
        tab = Table(title=name, show_lines=False)
        for col in df.columns:
            tab.add_column(str(col), overflow="fold")
        for row in df.astype(object).where(df.notna(), "").map(str).itertuples(index=False):  # NaN: blank
            tab.add_row(*row)
        console.print(tab)


@app.command()
def synth(
    county: Annotated[str, typer.Option(help="县级代码 / county code")] = "511921",
    seed: Annotated[int, typer.Option(help="随机种子 / random seed")] = 1,
    output: Annotated[Path, typer.Option("-o", "--output", help="输出 .gpkg（或 --province 时的目录）")] = Path("county.gpkg"),
    province: Annotated[bool, typer.Option("--province", help="合成全省（GeoParquet，按县分区）")] = False,
    counties: Annotated[Optional[str], typer.Option(help="--province 时只合成这些县，逗号分隔")] = None,
    overwrite: Annotated[bool, typer.Option(help="覆盖已有文件 / replace an existing file")] = False,
    parcels: Annotated[Optional[int], typer.Option(help="把图斑细分到约这么多个（真实三调密度，如 450000）/ split the parcels to about this many")] = None,
    unmatched: Annotated[float, typer.Option(help="细分后相邻图斑公共边顶点不一致的图斑比例 0–1 / share of pieces with vertices their neighbours lack")] = 0.0,
    lang: Lang = "",
) -> None:
    """合成一个县（真实名称、代码与人口，模拟几何）/ synthesise a county with real names on synthetic geometry."""
    from pianqu import divisions
    from pianqu.synth import synthesize_province, write_county

    lang = resolve_lang(lang)
    if parcels is not None and parcels < 1:
        fail(UserValueError("cli.err.bad_option", option="--parcels", value=parcels, allowed="≥ 1"), lang)
    if not 0.0 <= unmatched <= 1.0:
        fail(UserValueError("cli.err.bad_option", option="--unmatched", value=unmatched, allowed="0 – 1"), lang)
    output_ok(output, lang, folder=province, create_parent=True)
    try:
        if province:
            codes = [c.strip() for c in counties.split(",")] if counties else None
            path = synthesize_province(output, counties=codes, seed=seed)
            n = len(codes) if codes else len(divisions.counties())
            console.print(t("cli.province_done", lang, n=n, path=path), markup=False)
            return
        row = divisions.county(county)
        ws = write_county(county, output, seed=seed, overwrite=overwrite, parcels=parcels, unmatched=unmatched)
    except (*USER_ERRORS, RuntimeError) as exc:
        fail(exc, lang)
    console.print(t("cli.synth_done", lang, name=row["name"], code=county, seed=seed, path=ws.url),
                  markup=False)


@app.command("import")
def import_(
    sources: Annotated[list[Path], typer.Argument(help="数据源：GDB 目录、SHP、GPKG、GeoJSON、CSV、XLSX、OSM PBF")],
    workspace: Annotated[Optional[Path], typer.Option("-w", "--workspace", help="工作空间 .gpkg")] = None,
    crs: Annotated[Optional[str], typer.Option(help="数据的坐标系，如 EPSG:4524（无 .prj 时必填；优先于 .prj）")] = None,
    mapping: Annotated[Optional[Path], typer.Option(help="字段映射文件 .toml")] = None,
    county: Annotated[Optional[str], typer.Option(help="县级代码（无法从数据识别时）")] = None,
    county_name: Annotated[Optional[str], typer.Option(help="县级名称（代码不在四川名录中时）")] = None,
    encoding: Annotated[Optional[str], typer.Option(help="Shapefile/CSV 文本编码，如 GBK（默认自动识别）")] = None,
    epoch: Annotated[Optional[int], typer.Option(help="调查年度 / survey year")] = None,
    replace: Annotated[bool, typer.Option(help="替换工作空间中同名图层")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="只识别，不写入")] = False,
    lang: Lang = "",
) -> None:
    """导入规划师的数据到工作空间 / import the planner's data into a workspace."""
    from pianqu.ingest import IngestError, import_sources, recognise
    from pianqu.standards import default_thresholds, threshold_rule

    lang = resolve_lang(lang)
    try:
        if dry_run:
            for match in recognise(sources, mapping=mapping, encoding=encoding, crs=crs):
                console.print(match)
            return
        if workspace is None:
            fail(t("cli.workspace_required", lang), lang)
        if epoch is not None:  # a survey year within the documented range of ingest.default_epoch
            rule = threshold_rule(default_thresholds()["ingest.default_epoch"])
            if not rule.min <= epoch <= rule.max:
                fail(UserValueError("cli.err.bad_option", option="--epoch", value=epoch, allowed=rule.bounds()), lang)
        if workspace.exists():
            input_ok(workspace, lang)  # a folder, FIFO or empty file is no workspace to add to
        else:
            output_ok(workspace, lang, inputs=sources)
        result = import_sources(sources, workspace, crs=crs, mapping=mapping, county_code=county,
                                county_name=county_name, epoch=epoch, replace=replace, encoding=encoding)
    except (IngestError, *USER_ERRORS, RuntimeError) as exc:
        fail(exc, lang)
    layers = ", ".join(f"{k} {v}" for k, v in result.layers.items())
    console.print(t("cli.import_done", lang, workspace=result.workspace, layers=layers), markup=False)
    n_review = len(result.review) if result.review is not None else 0
    if n_review:
        console.print(t("cli.import_review", lang, n=n_review), style="yellow", markup=False)
    if result.findings:
        _print_findings(result.findings, lang, max_rows=30)


@app.command()
def validate(
    workspace: Annotated[Path, typer.Argument(help="工作空间 .gpkg")],
    lang: Lang = "",
    json_out: Annotated[Optional[Path], typer.Option("--json", help="把全部检查结果写成 JSON（- 为标准输出）")] = None,
    xlsx_out: Annotated[Optional[Path], typer.Option("--xlsx", help="把全部检查结果写成 Excel 质检清单")] = None,
    gpkg_out: Annotated[Optional[Path], typer.Option("--gpkg", help="把全部检查结果写成带图形的错误图层（GeoPackage）")] = None,
    gpkg_crs: Annotated[Optional[str], typer.Option("--gpkg-crs", help="错误图层的坐标系，如 EPSG:4524（默认 EPSG:4490）")] = None,
    examples: Annotated[int, typer.Option(help="每条规则显示的示例数")] = 3,
    max_rows: Annotated[int, typer.Option(help="表格最多显示的规则数")] = 50,
) -> None:
    """检查工作空间中的数据问题；有错误时退出码为 1 / check a workspace; exit 1 on errors."""
    from pianqu.validate.qc import qc_report
    from pianqu.workspace import Workspace

    lang = resolve_lang(lang)
    for option, value in (("--examples", examples), ("--max-rows", max_rows)):
        if value < 0:
            fail(UserValueError("cli.err.bad_option", option=option, value=value, allowed="≥ 0"), lang)
    for out in (json_out, xlsx_out, gpkg_out):  # before the checks run, not after
        output_ok(out, lang, inputs=[workspace])
    if gpkg_crs:
        from pyproj import CRS
        from pyproj.exceptions import CRSError

        try:
            CRS.from_user_input(gpkg_crs)
        except CRSError:
            fail(UserValueError("cli.err.bad_crs", option="--gpkg-crs", value=gpkg_crs), lang)
    try:
        ws = Workspace.open(workspace)
        qc = qc_report(ws)
    except USER_ERRORS as exc:
        fail(exc, lang)
    findings = qc.findings
    if json_out is not None:
        text = to_json(findings, lang)
        if str(json_out) == "-":
            sys.stdout.write(text + "\n")
            raise typer.Exit(1 if has_errors(findings) else 0)
        try:
            json_out.write_text(text, encoding="utf-8")
        except OSError as exc:
            fail(exc, lang)
    try:
        if xlsx_out is not None:
            qc.to_xlsx(xlsx_out, lang)
            console.print(t("cli.qc_written", lang, path=xlsx_out, n=len(findings)), markup=False)
        if gpkg_out is not None:
            layers = qc.to_gpkg(gpkg_out, lang, crs=gpkg_crs)
            console.print(t("cli.qc_layers_written", lang, path=gpkg_out,
                            layers=", ".join(f"{k} {v}" for k, v in layers.items())), markup=False)
    except (*USER_ERRORS, OSError) as exc:
        fail(exc, lang)
    _print_groups(qc.groups(lang, examples=examples), lang, max_rows)
    _print_counts(findings, lang)
    raise typer.Exit(1 if has_errors(findings) else 0)


def _print_groups(groups, lang: str, max_rows: int) -> None:
    """The findings by rule: severity, problem, count, area, examples (layer feature .field), action."""
    if groups.empty:
        return
    tab = Table(title=t("cli.summary_title", lang), show_lines=True)
    for key in ("severity", "title", "count", "area_ha", "examples", "action"):
        tab.add_column(t(f"qc.col.{key}", lang), overflow="fold",
                       justify="right" if key in ("count", "area_ha") else "left")
    style = {"error": "red", "warning": "yellow", "info": "cyan"}
    for row in groups.head(max_rows).itertuples(index=False):
        shown = list(row.examples)
        if row.count > len(shown):
            shown.append(t("qc.examples_more", lang, n=row.count))
        area = "" if row.area_m2 != row.area_m2 else f"{row.area_m2 / 10_000:,.2f}"
        tab.add_row(t(f"common.severity.{row.severity}", lang), f"{row.title}\n{row.rule}", f"{row.count:,}",
                    area, "\n".join(shown), row.action, style=style[row.severity])
    console.print(tab)
    if len(groups) > max_rows:
        console.print(t("cli.more_rows", lang, n=len(groups) - max_rows), markup=False)


def _print_counts(findings: list[Finding], lang: str) -> None:
    counts = summary(findings)
    if counts["error"]:
        console.print(t("cli.validate_failed", lang, errors=counts["error"], warnings=counts["warning"]),
                      style="bold red", markup=False)
    else:
        console.print(t("cli.validate_ok", lang, warnings=counts["warning"], infos=counts["info"]),
                      style="green", markup=False)


def _print_findings(findings: list[Finding], lang: str, max_rows: int) -> None:
    if findings:
        tab = Table(show_lines=False)
        for key in ("col_severity", "col_layer", "col_feature", "col_field", "col_message", "col_action"):
            tab.add_column(t(f"cli.{key}", lang), overflow="fold")
        style = {"error": "red", "warning": "yellow", "info": "cyan"}
        for f in findings[:max_rows]:
            tab.add_row(t(f"common.severity.{f.severity}", lang), f.layer, f.feature, f.field,
                        f.message(lang), f.action(lang), style=style[f.severity])
        console.print(tab)
        if len(findings) > max_rows:
            console.print(t("cli.more_rows", lang, n=len(findings) - max_rows), markup=False)
    _print_counts(findings, lang)


@app.command()
def info(workspace: Annotated[Path, typer.Argument(help="工作空间 .gpkg")], lang: Lang = "") -> None:
    """工作空间概况：元数据、图层与最近写入 / workspace metadata, layers and latest writes."""
    from pianqu.workspace import Workspace

    lang = resolve_lang(lang)
    try:
        ws = Workspace.open(workspace)
        tables = {table: ws.count(table) for table in ws.tables()}
        audit = ws.audit().tail(10)
    except (*USER_ERRORS, RuntimeError) as exc:  # pyogrio's DataSourceError is a RuntimeError
        fail(exc, lang)
    meta = dict(ws.meta.__dict__)
    extra = dict(meta.pop("extra", None) or {})
    for key in [k for k in extra if k.endswith("_en")]:  # a text kept in both languages
        if lang == "en":
            extra[key[:-3]] = extra.pop(key)
        else:
            extra.pop(key)
    for key, value in {**meta, **extra}.items():
        label = t(f"cli.meta.{key}", lang) if f"cli.meta.{key}" in catalogue() else key
        if isinstance(value, bool):
            value = t(f"cli.{'yes' if value else 'no'}", lang)
        console.print(f"{label}: {value}", markup=False)
    tab = Table(title=t("cli.info_layers", lang))
    tab.add_column(t("cli.col_layer", lang))
    tab.add_column(t("cli.info_rows", lang), justify="right")
    for table, n in tables.items():
        tab.add_row(table, str(n))
    console.print(tab)
    atab = Table(title=t("cli.info_audit", lang))
    cols = ("ts", "user", "command", "scenario", "layer", "rows", "reason")
    for col in cols:
        atab.add_column(t(f"cli.audit.{col}", lang), overflow="fold")
    for row in audit[list(cols)].astype(str).itertuples(index=False):
        atab.add_row(*row)
    console.print(atab)


@app.command()
def report(
    workspace: Annotated[Path, typer.Argument(help="工作空间 .gpkg")],
    output: Annotated[Path, typer.Option("-o", "--output", help="报告目录")] = Path("report"),
    scenario: Annotated[Optional[str], typer.Option(help="包含此方案的成果")] = None,
    lang: Lang = "",
) -> None:
    """生成 HTML 报告（含地图与 Excel 统计表）/ write the HTML report with maps and an Excel workbook."""
    from pianqu.report import write_report
    from pianqu.validate import findings_for_report
    from pianqu.workspace import Workspace

    lang = resolve_lang(lang)
    scenario_ok(scenario, lang)
    output_ok(output, lang, inputs=[workspace], folder=True, not_folder_rule="report.error.not_a_folder")
    try:
        ws = Workspace.open(workspace)
        path = write_report(ws, output, findings=findings_for_report(ws), lang=lang, scenario=scenario)
    except USER_ERRORS as exc:
        fail(exc, lang)
    console.print(t("cli.report_done", lang, report=path), markup=False)


@app.command("plan")
def plan_(
    workspace: Annotated[Path, typer.Argument(help="工作空间 .gpkg")],
    scenario: Annotated[str, typer.Option(help="方案名（字母、数字、_ 或 -）")] = "plan",
    title: Annotated[str, typer.Option(help="方案标题（可用中文）")] = "",
    p: Annotated[Optional[int], typer.Option("-p", help="片区数（默认自动比选）")] = None,
    villages: Annotated[bool, typer.Option(help="同时划分村级片区")] = True,
    report_dir: Annotated[Optional[Path], typer.Option("--report", help="同时生成报告到此目录")] = None,
    lang: Lang = "",
) -> None:
    """划分片区、确定中心镇与镇村体系、主导产业与道路诊断，写入方案 / plan zones into a scenario."""
    lang = resolve_lang(lang)
    scenario_ok(scenario, lang)  # in a second, not after the plan's minutes of work (nor its imports)
    if p is not None and p < 1:
        fail(UserValueError("cli.err.bad_option", option="-p", value=p, allowed="≥ 1"), lang)
    output_ok(report_dir, lang, inputs=[workspace], folder=True, not_folder_rule="report.error.not_a_folder")

    from pianqu.plan import plan
    from pianqu.workspace import Workspace
    try:
        ws = Workspace.open(workspace)
        result = plan(ws, scenario, p=p, title=title, villages=villages)
    except USER_ERRORS as exc:
        fail(exc, lang)
    z = result.zoning
    _say_inputs(result.inputs.findings if result.inputs is not None else [], lang, analyses_skipped=True)
    console.print(t("cli.plan_done", lang, scenario=scenario, p=z.p, status=z.status, gap=z.gap,
                    layers=", ".join(result.layers)), markup=False)
    if report_dir is not None:
        from pianqu.report import write_report
        from pianqu.validate import findings_for_report

        try:
            path = write_report(ws, report_dir, findings=findings_for_report(ws), lang=lang, scenario=scenario)
        except USER_ERRORS as exc:
            fail(exc, lang)
        console.print(t("cli.report_done", lang, report=path), markup=False)


@app.command()
def travel(
    workspace: Annotated[Path, typer.Argument(help="工作空间 .gpkg")],
    origins: Annotated[str, typer.Option("--from", help="起点：图层[:字段=值]，如 settlement:level=village_seat")] = "settlement:level=village_seat",
    destinations: Annotated[str, typer.Option("--to", help="终点：图层[:字段=值]，如 facility:kind=health_centre")] = "settlement:level=town_seat",
    mode: Annotated[str, typer.Option(help="drive（驾车）或 walk（步行）")] = "drive",
    cutoff_min: Annotated[Optional[float], typer.Option("--cutoff", help="最长时间（分钟），超出记为不可达")] = None,
    nearest: Annotated[Optional[int], typer.Option(help="只输出每个起点最近的 k 个终点")] = None,
    output: Annotated[Path, typer.Option("-o", "--output", help="输出 CSV（分钟）")] = Path("travel.csv"),
    lang: Lang = "",
) -> None:
    """起终点出行时间矩阵或最近 k 个设施（道路网络，含接入段）/ OD travel-time matrix or nearest-k."""
    import numpy as np
    import pandas as pd

    from pianqu.inputs import from_workspace
    from pianqu.network import nearest_k
    from pianqu.workspace import Workspace

    lang = resolve_lang(lang)

    def pick(ws: Workspace, spec: str):
        layer, _, cond = spec.partition(":")
        given = {"settlement": inputs.settlements, "facility": inputs.facilities,
                 "township": inputs.townships, "village": inputs.villages}.get(layer)
        frame = given if given is not None else ws.read(layer)  # derived seats where the county has none
        if cond:
            field, _, value = cond.partition("=")
            if field not in frame.columns:
                fail(UserKeyError("network.travel.no_field", layer=layer, field=field,
                                  fields=", ".join(map(str, frame.columns))), lang)
            frame = frame[frame[field].astype(str) == value]
        if frame.empty:
            fail(UserKeyError("network.travel.no_features", spec=spec), lang)
        id_field = next((c for c in ("code", "id", "bsm") if c in frame.columns), None)
        ids = frame[id_field].astype(str).to_numpy() if id_field else np.arange(len(frame)).astype(str)
        return frame.reset_index(drop=True), ids

    if cutoff_min is not None and not (0 < cutoff_min < float("inf")):
        fail(UserValueError("cli.err.bad_option", option="--cutoff", value=cutoff_min, allowed="> 0"), lang)
    if nearest is not None and nearest < 1:
        fail(UserValueError("network.error.bad_k", k=nearest), lang)  # 0 would silently give the whole matrix
    output_ok(output, lang, inputs=[workspace])  # before the travel times are computed
    try:
        ws = Workspace.open(workspace)
        inputs = from_workspace(ws)  # the county's roads, else centrelines of its traffic parcels
        graph = inputs.graph
        o, oid = pick(ws, origins)
        d, did = pick(ws, destinations)
        cutoff = cutoff_min * 60 if cutoff_min else None
        if nearest:
            if graph is None:
                fail(t("inputs.road_straight.msg", lang) + " → " + t("inputs.road_straight.do", lang), lang)
            table = nearest_k(graph, o, d, k=nearest, mode=mode, cutoff_s=cutoff)
            table["origin_id"] = oid[table["origin"].to_numpy()]
            table["facility_id"] = did[table["facility"].to_numpy()]
            table["time_min"] = table["time_s"] / 60
            table.to_csv(output, index=False, encoding="utf-8-sig")
        else:
            seconds = inputs.travel_s(o, d, mode=mode)
            if cutoff is not None:
                seconds = np.where(seconds <= cutoff, seconds, np.inf)
            minutes = seconds / 60
            pd.DataFrame(minutes, index=pd.Index(oid, name="origin"), columns=did).to_csv(
                output, encoding="utf-8-sig")
    except USER_ERRORS as exc:
        fail(exc, lang)
    _say_inputs(inputs.findings, lang)  # after the times: a derived network's gaps are known by then
    console.print(t("cli.exported", lang, path=output), markup=False)


def _say_inputs(findings: list[Finding], lang: str, *, analyses_skipped: bool = False) -> None:
    """What a command's inputs rest on: each derived or estimated input (and, for a plan, each
    missing one whose analysis was skipped: the info findings), with what to import instead."""
    for f in findings:
        if analyses_skipped or f.severity != "info":
            console.print(f"[{t('common.severity.' + f.severity, lang)}] {f.message(lang)} → {f.action(lang)}",
                          markup=False)


@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", help="输出目录")] = Path("out/demo"),
    county: Annotated[str, typer.Option(help="县级代码")] = "511921",
    seed: Annotated[int, typer.Option(help="随机种子")] = 1,
    lang: Lang = "",
) -> None:
    """在默认县（通江县）上合成 → 检查 → 报告 / the main job on the default county, no input needed."""
    from pianqu.demo import run_demo

    lang = resolve_lang(lang)
    output_ok(out, lang, folder=True)
    try:
        result = run_demo(out, county=county, seed=seed, lang=lang)
    except USER_ERRORS as exc:
        fail(exc, lang)
    c = result.counts
    console.print(t("cli.demo_done", lang, workspace=result.workspace, report=result.report,
                    errors=c["error"], warnings=c["warning"], infos=c["info"]), markup=False)


if __name__ == "__main__":  # pragma: no cover
    app()
