"""`pianqu db push` / `pianqu db pull`: a whole workspace between a GeoPackage file and a PostGIS
schema. Thin over :mod:`pianqu.store.transfer`; progress with rich (on a terminal)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from pianqu.commands.common import USER_ERRORS, Lang, fail, resolve_lang
from pianqu.i18n import t

app = typer.Typer(help="PostGIS 数据库工作空间的上传与下载 / push a workspace to PostGIS and pull it back",
                  no_args_is_help=True, add_completion=False)
console = Console(highlight=False, soft_wrap=True)

Replace = Annotated[bool, typer.Option("--replace", help="覆盖已有的模式或文件 / overwrite an existing schema or file")]


@app.command()
def push(source: Annotated[Path, typer.Argument(help="工作空间 .gpkg / workspace file")],
         url: Annotated[str, typer.Argument(help="postgresql://用户@主机:端口/数据库[?schema=模式]（默认 c<县级代码>）")],
         replace: Replace = False, lang: Lang = "") -> None:
    """把 .gpkg 工作空间上传到 PostGIS（一个县一个模式）/ copy a .gpkg workspace into a PostGIS schema."""
    from pianqu.store.transfer import push as push_workspace

    lang = resolve_lang(lang)
    try:
        res = push_workspace(source, url, replace=replace)
    except USER_ERRORS as exc:
        fail(exc, lang)
    console.print(t("db.push.done", lang, n=len(res.tables), rows=res.rows, path=res.target,
                    config=t("db.config_yes" if res.config else "db.config_no", lang)), markup=False)


@app.command()
def pull(url: Annotated[str, typer.Argument(help="postgresql://用户@主机:端口/数据库?schema=模式")],
         target: Annotated[Path, typer.Argument(help="输出 .gpkg / output file")],
         replace: Replace = False, lang: Lang = "") -> None:
    """把 PostGIS 工作空间下载为 .gpkg（连同 pianqu.toml）/ copy a PostGIS workspace into a .gpkg file."""
    from pianqu.store.transfer import pull as pull_workspace

    lang = resolve_lang(lang)
    try:
        res = pull_workspace(url, target, replace=replace)
    except USER_ERRORS as exc:
        fail(exc, lang)
    console.print(t("db.pull.done", lang, n=len(res.tables), rows=res.rows, source=res.source, path=res.target,
                    config=t("db.config_yes" if res.config else "db.config_no", lang)), markup=False)
