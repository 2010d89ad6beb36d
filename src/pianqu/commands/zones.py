"""`pianqu zones ...`: evaluate a hand-made township division beside pianqu's proposal, and move
one township to another zone with an immediate re-evaluation.

Thin over :mod:`pianqu.zoning.compare` (which is thin over :mod:`pianqu.zoning.evaluate`): each
command opens the workspace, calls the library and prints (zh by default, ``--lang en``).
Exit codes: 0 the division has no error, 1 it has errors (findings listed), 2 bad input.
The workspace and the division file are only read (``move --out`` writes a new file).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any, NoReturn, Optional

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

from pianqu.commands.common import USER_ERRORS, Lang, fail, input_ok, output_ok, resolve_lang, scenario_ok
from pianqu.i18n import t

app = typer.Typer(help="片区划分评价与调整 / evaluate and adjust township zones", no_args_is_help=True,
                  add_completion=False)
console = Console(highlight=False, soft_wrap=True, width=160)

Ws = Annotated[Path, typer.Argument(help="工作空间 .gpkg / workspace")]
Scenario = Annotated[str, typer.Option("--scenario", "-s", help="对照的方案 / scenario holding pianqu's zones")]
CodeCol = Annotated[str, typer.Option("--code-col", help="乡镇代码列 / column of township codes")]
ZoneCol = Annotated[str, typer.Option("--zone-col", help="片区列 / column of zone labels")]
CentreCol = Annotated[Optional[str], typer.Option("--centre-col", help="中心镇代码列 / column naming each zone's centre")]
IsCentreCol = Annotated[Optional[str], typer.Option("--is-centre-col", help="是否中心镇列（是/否）/ is-centre flag column")]
LayerOpt = Annotated[Optional[str], typer.Option("--layer", help="GeoPackage 图层 / layer of a GPKG")]
SheetOpt = Annotated[str, typer.Option("--sheet", help="Excel 工作表（名称或序号）/ sheet name or index")]


def _fmt(v: Any) -> str:
    if isinstance(v, bool):
        return "✓" if v else "✗"
    if isinstance(v, (int,)) or (isinstance(v, float) and math.isfinite(v) and float(v).is_integer() and abs(v) >= 100):
        return f"{int(v):,}"
    if isinstance(v, float):
        if not math.isfinite(v):
            return "—"
        return f"{v:.3f}" if abs(v) < 10 else f"{v:.1f}"
    return "" if v is None else str(v)


def _measures(frame: pd.DataFrame, lang: str) -> pd.DataFrame:
    """A comparison table (rows: measure keys) with the measures named in ``lang``."""
    return frame.rename(index=lambda key: t(f"zoning.metric.{key}", lang))


def _table(frame: pd.DataFrame, title: str = "", index: bool = False, lang: str = "zh") -> Table:
    tab = Table(title=title or None, show_lines=False)
    f = frame.rename_axis(t("zoning.cli.col.measure", lang)).reset_index() if index else frame
    for col in f.columns:
        tab.add_column(str(col), overflow="fold")
    for row in f.itertuples(index=False):
        tab.add_row(*(_fmt(v) for v in row))
    return tab


def _findings(findings, lang: str, max_rows: int = 60) -> None:
    if not findings:
        return
    tab = Table(show_lines=False)
    for key in ("col_severity", "col_feature", "col_message", "col_action"):
        tab.add_column(t(f"cli.{key}", lang), overflow="fold")
    style = {"error": "red", "warning": "yellow", "info": "cyan"}
    order = {"error": 0, "warning": 1, "info": 2}
    for f in sorted(findings, key=lambda f: order[f.severity])[:max_rows]:
        tab.add_row(t(f"common.severity.{f.severity}", lang), f.feature, f.message(lang), f.action(lang),
                    style=style[f.severity])
    console.print(tab)
    if len(findings) > max_rows:
        console.print(t("zoning.cli.more", lang, n=len(findings) - max_rows), markup=False)


def _zones_frame(zones: pd.DataFrame, names: dict[str, str], lang: str) -> pd.DataFrame:
    cols = ["zone", "centre", "members", "population", "mean_time_min", "max_time_min", "within_share",
            "compactness", "pieces"]
    z = zones[cols].copy()
    z.insert(1, "name", z["zone"].map(names).fillna(""))
    z.columns = [t(f"zoning.cli.col.{c}", lang) for c in z.columns]
    return z


def _compare(ws_path: Path, division: Optional[Path], scenario: Optional[str], lang: str, **read_kw):
    from pianqu.workspace import Workspace
    from pianqu.zoning.compare import compare_division

    scenario_ok(scenario, lang)
    if division is not None and division.exists():
        input_ok(division, lang, folder=division.suffix.lower() == ".gdb")  # a FIFO would block the read
    try:
        ws = Workspace.open(ws_path)
        labels = (t("zoning.cli.hand", lang), t("zoning.cli.proposal", lang, scenario=scenario or ""))
        return compare_division(ws, division, scenario=scenario, labels=labels, **read_kw)
    except USER_ERRORS as exc:
        fail(exc, lang)


def _read_kw(code_col, zone_col, centre_col, is_centre_col, layer, sheet) -> dict[str, Any]:
    return {"code": code_col, "zone": zone_col, "centre": centre_col, "is_centre": is_centre_col,
            "layer": layer, "sheet": int(sheet) if str(sheet).isdigit() else sheet}


def _verdict(s: dict, lang: str) -> NoReturn:
    """Errors and warnings of the evaluation, and the exit status (1 on errors)."""
    key = "zoning.cli.has_errors" if s["errors"] else "zoning.cli.no_errors"
    console.print(t(key, lang, errors=s["errors"], warnings=s["warnings"]),
                  style="bold red" if s["errors"] else "green", markup=False)
    raise typer.Exit(1 if s["errors"] else 0)


@app.command("evaluate")
def evaluate_(ws_path: Ws,
              division: Annotated[Path, typer.Argument(help="片区划分表 CSV / XLSX / GPKG（乡镇代码、片区、中心镇）")],
              scenario: Scenario = "plan",
              code_col: CodeCol = "code", zone_col: ZoneCol = "zone", centre_col: CentreCol = None,
              is_centre_col: IsCentreCol = None, layer: LayerOpt = None, sheet: SheetOpt = "0",
              lang: Lang = "") -> None:
    """评价手工片区划分并与 pianqu 方案对照 / evaluate a hand-made division beside pianqu's proposal."""
    lang = resolve_lang(lang)
    cmp = _compare(ws_path, division, scenario, lang,
                   **_read_kw(code_col, zone_col, centre_col, is_centre_col, layer, sheet))
    ev = cmp.evaluation()
    console.print(t("zoning.cli.evaluate_title", lang, division=str(division), scenario=scenario), markup=False)
    console.print(_table(_measures(cmp.table(ev), lang), index=True, lang=lang))
    console.print(_table(_zones_frame(ev.zones, cmp.zone_names(), lang), t("zoning.cli.zones_title", lang)))
    console.print(_table(_strength_frame(cmp.centre_strength(ev), lang), t("zoning.cli.strength_title", lang)))
    _findings(ev.findings, lang)
    _verdict(ev.summary, lang)


def _strength_frame(st, lang: str):
    """The centres' strength with headers in ``lang``."""
    out = st[["zone", "code", "name", "score", "rank", "meets_standard", "category", "below_standard"]].copy()
    out["score"] = out["score"].map(lambda v: f"{v:.3f}")
    for col in ("meets_standard", "below_standard"):
        out[col] = out[col].map(lambda v: t("zoning.cli.yes" if v else "zoning.cli.no", lang))
    return out.rename(columns={c: t(f"zoning.cli.strength.{c}", lang) for c in out.columns})


@app.command("move")
def move(ws_path: Ws,
         township: Annotated[str, typer.Argument(help="乡镇代码 / township code")],
         zone: Annotated[str, typer.Argument(help="目标片区（片区标识、中心镇代码或片区名称）/ target zone")],
         scenario: Scenario = "plan",
         division: Annotated[Optional[Path], typer.Option("--division", help="在此手工划分上调整（默认：方案的划分）")] = None,
         new: Annotated[bool, typer.Option("--new", help="允许新建片区（无中心）/ allow a new zone")] = False,
         out: Annotated[Optional[Path], typer.Option("--out", "-o", help="把调整后的划分写入 CSV")] = None,
         code_col: CodeCol = "code", zone_col: ZoneCol = "zone", centre_col: CentreCol = None,
         is_centre_col: IsCentreCol = None, layer: LayerOpt = None, sheet: SheetOpt = "0",
         lang: Lang = "") -> None:
    """把一个乡镇调入另一片区并立即重新评价 / move one township to another zone and re-evaluate."""
    lang = resolve_lang(lang)
    output_ok(out, lang, inputs=[ws_path, division])
    cmp = _compare(ws_path, division, scenario, lang,
                   **_read_kw(code_col, zone_col, centre_col, is_centre_col, layer, sheet))
    names = cmp.zone_names()
    try:
        res = cmp.move(township, zone, allow_new=new)
    except KeyError as exc:
        fail(exc, lang)
    tname = cmp.instance.names.get(res["code"], res["code"])
    console.print(t("zoning.cli.moved", lang, code=res["code"], name=tname,
                    src=f"{res['from']} {names.get(res['from'], '')}".strip(),
                    dst=f"{res['to']} {names.get(res['to'], '')}".strip()), markup=False)
    console.print(_table(_zones_frame(res["before"], names, lang), t("zoning.cli.before", lang)))
    console.print(_table(_zones_frame(res["zones"], cmp.zone_names(), lang), t("zoning.cli.after", lang)))
    s = res["summary"]
    console.print(_table(_measures(cmp.table(cmp.evaluation()), lang), index=True, lang=lang))
    _findings(res["findings"], lang)
    console.print(t("zoning.cli.move_time", lang, ms=f"{res['seconds'] * 1000:.1f}",
                    load=f"{cmp.timings['load_s']:.1f}"), markup=False)
    if out is not None:
        try:
            cmp.division().to_csv(out, index=False, encoding="utf-8-sig")
        except OSError as exc:
            fail(exc, lang)
        console.print(t("cli.exported", lang, path=out), markup=False)
    _verdict(s, lang)
