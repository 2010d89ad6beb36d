"""`pianqu province run` / `pianqu province overlay`: parse, call :mod:`pianqu.province`, print."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from pianqu.commands.common import USER_ERRORS, Lang, fail, resolve_lang
from pianqu.errors import UserValueError
from pianqu.i18n import t

app = typer.Typer(help="全省运行：各县任务在 Dask 上并行 / the whole province on Dask",
                  no_args_is_help=True, add_completion=False)
console = Console(highlight=False, soft_wrap=True)


def _codes(text: Optional[str]) -> list[str] | None:
    return [c.strip() for c in text.split(",") if c.strip()] if text else None


@app.command("run")
def run_(
    source: Annotated[str, typer.Argument(help="县级工作空间文件夹、synth --province 目录或 PostGIS 地址（路径或 URL）")],
    steps: Annotated[str, typer.Option(help="步骤，逗号分隔：validate,plan,evaluate")] = "validate,plan",
    counties: Annotated[Optional[str], typer.Option(help="只运行这些县，逗号分隔")] = None,
    scheduler: Annotated[Optional[str], typer.Option(help="已有 Dask 集群的调度器地址，如 tcp://主机:8786")] = None,
    workers: Annotated[int, typer.Option(help="本机工作进程数（0：在本进程中逐县顺序运行）")] = 2,
    memory_limit: Annotated[str, typer.Option("--memory-limit", help="每个工作进程的内存上限，如 4GB")] = "4GB",
    force: Annotated[bool, typer.Option("--force", help="已完成的县也重新运行")] = False,
    scenario: Annotated[str, typer.Option(help="方案名")] = "plan",
    out: Annotated[Path, typer.Option("--out", help="输出目录（清单、各县工作空间与全省结果）")] = Path("province_out"),
    lang: Lang = "",
) -> None:
    """各县运行数据检查、片区规划（与体检评估），汇总全省结果 / run every county's steps on Dask."""
    from pianqu.province.run import run

    lang = resolve_lang(lang)
    if workers < 0:
        fail(UserValueError("province.error.workers", value=workers), lang)
    try:
        res = run(source, steps.split(","), out=out, counties=_codes(counties), scheduler=scheduler,
                  workers=workers, memory_limit=memory_limit, force=force, scenario=scenario, lang=lang)
    except USER_ERRORS as exc:
        fail(exc, lang)
    m = res.manifest
    n = {s: int((m["status"] == s).sum()) for s in ("done", "skipped", "failed", "blocked")}
    from pianqu import divisions

    names = divisions.counties().set_index("code")["name"]
    for r in res.failed.itertuples():
        console.print(t("province.failed_row", lang, county=r.county, name=names.get(r.county, ""), step=r.step,
                        error=r.error_zh if lang != "en" else r.error_en), markup=False)
    console.print(t("province.done", lang, n=m["county"].nunique(), seconds=res.seconds, workers=res.workers,
                    scheduler=res.scheduler, out=res.out, **n), markup=False)
    for name, path in res.outputs.items():
        console.print(t("province.output", lang, name=name, path=path), markup=False)
    raise typer.Exit(1 if n["failed"] or n["blocked"] else 0)


@app.command("overlay")
def overlay_(
    source: Annotated[str, typer.Argument(help="synth --province 目录或县级工作空间文件夹（路径或 URL）")],
    counties: Annotated[Optional[str], typer.Option(help="只叠加这些县，逗号分隔")] = None,
    scheduler: Annotated[Optional[str], typer.Option(help="已有 Dask 集群的调度器地址")] = None,
    workers: Annotated[int, typer.Option(help="本机工作进程数")] = 2,
    memory_limit: Annotated[str, typer.Option("--memory-limit", help="每个工作进程的内存上限")] = "4GB",
    out: Annotated[Path, typer.Option("--out", help="输出目录")] = Path("province_out"),
    lang: Lang = "",
) -> None:
    """管控线与全部图斑叠加，按县、按市汇总 / the control lines against every parcel, by county and city."""
    from pianqu.province.overlay import city_totals, province_overlay, write_overlay
    from pianqu.province.run import _cluster

    lang = resolve_lang(lang)
    t0 = time.perf_counter()
    client, cluster = _cluster(scheduler, workers, memory_limit)
    try:
        by_county = province_overlay(source, counties=_codes(counties), client=client)
    except USER_ERRORS as exc:
        fail(exc, lang)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    path = write_overlay(out, by_county, city_totals(by_county), lang=lang)
    console.print(t("province.overlay.done", lang, n=by_county["county_code"].nunique(),
                    seconds=time.perf_counter() - t0, path=path), markup=False)
