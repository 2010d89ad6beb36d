"""The command-line side of the web app: ``pianqu serve`` and ``pianqu users add|list|disable``.
Thin: parse, call :mod:`pianqu.web`, print."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from pianqu.commands.common import Lang, fail, resolve_lang
from pianqu.i18n import t

users_app = typer.Typer(add_completion=False, no_args_is_help=True,
                        help="网页版账号 / accounts of the web app (pianqu serve)")

Target = Annotated[str, typer.Argument(help="工作空间 .gpkg 或 postgresql://… / a workspace or a database URL")]


def serve(target: Target,
          host: Annotated[str, typer.Option(help="监听地址 / address to listen on")] = "127.0.0.1",
          port: Annotated[int, typer.Option(help="端口 / port")] = 8000,
          lang: Lang = "") -> None:
    """启动网页“一张图”（.gpkg：本机单用户；PostGIS：多县账号服务）/ serve the web map."""
    import uvicorn

    from pianqu.web.app import create_app
    from pianqu.web.registry import open_registry

    lang = resolve_lang(lang)
    try:
        registry = open_registry(target)
        app = create_app(registry)
    except Exception as exc:  # a workspace that cannot be opened says what to do
        fail(exc, lang)
    url = f"http://{host}:{port}/"
    if registry.mode == "local":
        typer.echo(t("web.cli.open", lang, url=f"{url}?token={app.state.local_token}"))
    else:
        typer.echo(t("web.cli.server", lang, n=len(registry.workspaces), url=url))
    uvicorn.run(app, host=host, port=port, log_level="warning")


@users_app.command("add")
def users_add(target: Target, username: str,
              role: Annotated[str, typer.Option(help="admin | province | city | county_planner | county_viewer")],
              scope: Annotated[str, typer.Option(help="县代码（6位）或市代码（4位）/ county or city code")] = "",
              password: Annotated[Optional[str], typer.Option(help="密码（缺省时提示输入）/ prompted when absent")] = None,
              lang: Lang = "") -> None:
    """添加用户或重设其密码与角色 / add a user (or reset one)."""
    from pianqu.web import auth

    lang = resolve_lang(lang)
    if password is None:
        password = typer.prompt(t("web.cli.password", lang), hide_input=True, confirmation_prompt=True)
    try:
        auth.add_user(auth.user_store(target), username, password, role, scope)
    except Exception as exc:
        fail(exc, lang)
    typer.echo(t("web.cli.added", lang, username=username, role=role, scope=scope))


@users_app.command("list")
def users_list(target: Target, lang: Lang = "") -> None:
    """列出用户 / list the users."""
    from pianqu.web import auth

    lang = resolve_lang(lang)
    try:
        frame = auth.list_users(auth.user_store(target))
    except Exception as exc:
        fail(exc, lang)
    typer.echo(frame.to_string(index=False) if len(frame) else "—")


@users_app.command("disable")
def users_disable(target: Target, username: str, lang: Lang = "") -> None:
    """停用用户 / disable a user."""
    from pianqu.web import auth

    lang = resolve_lang(lang)
    try:
        auth.disable_user(auth.user_store(target), username)
    except Exception as exc:
        fail(exc, lang)
    typer.echo(t("web.cli.disabled", lang, username=username))
