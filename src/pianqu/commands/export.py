"""`pianqu export`: a scenario's layers back into the planner's tools (File GDB, GBK Shapefile,
GeoPackage) in the county's own CRS, with Chinese aliases. Thin over :mod:`pianqu.export`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

from rich.console import Console

import typer
from pyproj import CRS
from pyproj.exceptions import CRSError

from pianqu.commands.common import Lang, err_console, fail, output_ok, resolve_lang, scenario_ok
from pianqu.i18n import t

console = Console(highlight=False, soft_wrap=True)


def export(ws_path: Annotated[Path, typer.Argument(help="工作空间 .gpkg / workspace")],
           out: Annotated[Path, typer.Option("--out", "-o", help="输出：.gdb 目录、Shapefile 目录或 .gpkg / output")],
           scenario: Annotated[str, typer.Option("--scenario", "-s", help="方案 / scenario")] = "plan",
           fmt: Annotated[str, typer.Option("--format", "-f", help="gdb | shp | gpkg")] = "gdb",
           crs: Annotated[Optional[str], typer.Option("--crs", help="输出坐标系，如 EPSG:4523（默认：导入时的坐标系）")] = None,
           base: Annotated[bool, typer.Option("--base/--no-base", help="同时导出基础图层 / with the base layers")] = True,
           overwrite: Annotated[bool, typer.Option("--overwrite", help="覆盖已有输出 / replace OUT")] = False,
           lang: Lang = "") -> None:
    """把方案成果导出为 File GDB / Shapefile（GBK）/ GPKG，使用原坐标系和中文别名 / export a scenario."""
    from pianqu.export import ExportError, export_scenario
    from pianqu.workspace import Workspace, WorkspaceError

    lang = resolve_lang(lang)
    scenario_ok(scenario, lang)
    output_ok(out, lang, inputs=[ws_path], folder=fmt.lower() in ("gdb", "shp"), create_parent=True)

    epsg = None
    if crs:
        text = crs.strip().upper().removeprefix("EPSG:")
        if not text.isdigit():
            fail(ExportError("export.bad_crs", crs=crs), lang)
        epsg = int(text)
        try:
            CRS.from_epsg(epsg)  # an unknown code is refused now, not by a traceback after the reads
        except CRSError:
            fail(ExportError("export.bad_crs", crs=crs), lang)
    try:
        ws = Workspace.open(ws_path)
    except WorkspaceError as exc:
        fail(exc, lang)
    try:
        res = export_scenario(ws, scenario, out, fmt=fmt.lower(), epsg=epsg, lang=lang, base=base,
                              overwrite=overwrite)
    except (ExportError, OSError) as exc:  # OSError: a place that cannot be written (said by its errno)
        fail(exc, lang)
    for f in res.findings:
        err_console.print(f.message(lang), style="yellow", markup=False)
    console.print(t("export.done", lang, path=str(res.path), fmt=res.fmt, n=len(res.layers), epsg=res.epsg,
                    basis=t(f"export.basis.{res.crs_basis}", lang)), markup=False)
    for r in res.layers.itertuples(index=False):
        console.print(f"  {r.out_name}  {r.alias}  {r.features}", markup=False)
