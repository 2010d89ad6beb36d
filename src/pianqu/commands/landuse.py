"""`pianqu landuse review`: list, export and apply the 三调 → 用地用海 review list.

Thin over :mod:`pianqu.ingest.review`: opens the workspace, calls one function, prints (zh by
default, ``--lang en``). Exit codes: 0 done, 1 the decisions were refused (the workspace is not
changed), 2 bad input (no workspace, both --export and --apply).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from pianqu.commands.common import Lang, fail, input_ok, output_ok, resolve_lang
from pianqu.i18n import t

app = typer.Typer(help="地类转换待核定清单 / the 三调 → 用地用海 review list", no_args_is_help=True,
                  add_completion=False)
console = Console(highlight=False, soft_wrap=True, width=160)

Ws = Annotated[Path, typer.Argument(help="工作空间 .gpkg / workspace")]


@app.command("review")
def review(
    ws_path: Ws,
    export: Annotated[Optional[Path], typer.Option("--export", help="导出核定表 .xlsx（决定列预填默认代码）/ write the items to an xlsx")] = None,
    apply: Annotated[Optional[Path], typer.Option("--apply", help="读回核定表并更新图斑 / apply the decisions of an xlsx")] = None,
    reason: Annotated[str, typer.Option("--reason", help="原因（记入审计表）/ reason, kept in the audit table")] = "",
    lang: Lang = "",
) -> None:
    """列出、导出、读回待核定地类 / list, export and apply the land-code review list."""
    from pianqu.ingest.landcodes import labelled_codes
    from pianqu.ingest.review import ReviewError, apply_review, export_review, open_items, summarise
    from pianqu.workspace import Workspace, WorkspaceError

    lang = resolve_lang(lang)
    if export is not None and apply is not None:
        fail(t("landuse.cli.both", lang), lang)
    output_ok(export, lang, inputs=[ws_path], create_parent=True)
    if apply is not None and apply.exists():
        input_ok(apply, lang)
    try:
        ws = Workspace.open(ws_path)
    except WorkspaceError as exc:
        fail(exc, lang)
    if apply is not None:
        try:
            result = apply_review(ws, apply, reason=reason, lang=lang)
        except ReviewError as exc:  # the decisions are refused: the reason and what to do
            fail(exc, lang, code=1)
        console.print(t("landuse.cli.applied", lang, n=len(result.decisions), changed=result.changed,
                        left=result.open_left, skipped=result.skipped), markup=False)
        return
    if export is not None:
        n = export_review(ws, export, lang=lang)
        console.print(t("landuse.cli.exported", lang, n=n, path=str(export)), markup=False)
        return
    items = open_items(ws)
    if items.empty:
        console.print(t("landuse.cli.none", lang, path=str(ws_path)), markup=False)
        return
    table = Table(title=t("landuse.cli.title", lang, n=len(items), ha=f"{items['area_ha'].sum():.2f}"))
    cols = ("source_code", "source_name", "n", "area_ha", "default_code", "alternatives")
    for c in cols:
        table.add_column(t(f"landuse.review.col.{c}", lang), overflow="fold",
                         justify="right" if c in ("n", "area_ha") else "left")
    for r in summarise(items).itertuples(index=False):
        table.add_row(r.source_code, r.source_name, f"{r.n:,}", f"{r.area_ha:,.2f}", labelled_codes(r.default_code) or "—",
                      r.alternatives)
    console.print(table)
    console.print(t("landuse.cli.hint", lang, path=str(ws_path)), markup=False)
