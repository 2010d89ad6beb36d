"""`pianqu supervise SOURCE`: parse, call :func:`pianqu.supervision.supervise`, write the 通报."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from pianqu.commands.common import USER_ERRORS, Lang, fail, resolve_lang
from pianqu.errors import UserValueError
from pianqu.i18n import t

console = Console(highlight=False, soft_wrap=True)


def supervise_command(
    source: Annotated[str, typer.Argument(help="县级工作空间文件夹（每县一个 <代码>.gpkg）、全省运行输出目录或 PostGIS 地址")],
    registry: Annotated[Optional[Path], typer.Option("--registry", help="规划进度登记表（xlsx 或 csv，中文表头）")] = None,
    as_of: Annotated[Optional[str], typer.Option("--as-of", help="逾期名单的截止日期，如 2025-01-01（默认今天）")] = None,
    city: Annotated[Optional[str], typer.Option("--city", help="只督查该市（州）的县，市代码四位，如 5119")] = None,
    scenario: Annotated[str, typer.Option(help="评估的方案名")] = "plan",
    province_out: Annotated[Optional[Path], typer.Option("--province-out", help="先用全省引擎评估各县，结果写入此目录")] = None,
    workers: Annotated[int, typer.Option(help="与 --province-out 同用：本机工作进程数（0：逐县顺序）")] = 0,
    out: Annotated[Path, typer.Option("--out", help="输出目录（通报与评分表）")] = Path("supervision"),
    pdf: Annotated[bool, typer.Option("--pdf", help="同时输出 PDF 通报")] = False,
    json_path: Annotated[Optional[Path], typer.Option("--json", help="评分、排名与逾期名单写为 JSON")] = None,
    lang: Lang = "",
) -> None:
    """督查考核：各县评分排名、逾期名单与通报 / supervision across counties: scorecards, rankings, overdue plans, the report."""
    from pianqu.supervision import supervise
    from pianqu.supervision.report import write_report

    lang = resolve_lang(lang)
    t0 = time.perf_counter()
    try:
        try:
            day = dt.date.fromisoformat(as_of) if as_of else None
        except ValueError:
            raise UserValueError("supervision.error.date", value=as_of) from None
        sup = supervise(source, registry=registry, as_of=day, city=city, scenario=scenario,
                        province_out=province_out, workers=workers)
        paths = write_report(sup, out, lang=lang, pdf=pdf)
        if json_path is not None:
            json_path.write_text(json.dumps(sup.to_dict(), ensure_ascii=False, indent=1), encoding="utf-8")
    except USER_ERRORS as exc:
        fail(exc, lang)
    for f in sup.findings:
        console.print(f"{f.message(lang)} {f.action(lang)}", markup=False)
    console.print(t("supervision.cli.done", lang, n=len(sup.scorecard), overdue=len(sup.overdue),
                    html=paths["html"]), markup=False)
    if "pdf" in paths:
        console.print(t("supervision.cli.pdf", lang, path=paths["pdf"]), markup=False)
    console.print(t("supervision.cli.seconds", lang, seconds=time.perf_counter() - t0), markup=False)
