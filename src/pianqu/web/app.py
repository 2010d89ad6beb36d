"""The FastAPI app of ``pianqu serve`` (issue 14): the map page, tiles, queries, edits, audit.

Every county-scoped route goes through :func:`_county` (404 for a county the user may not read,
as for one that does not exist) or :func:`_editable` (403 for a readable county the user may not
change); tiles and exports included. Unsafe methods need the session's CSRF token in the
``X-CSRF-Token`` header.
"""

from __future__ import annotations

import io
import json
import secrets
import tempfile
import threading
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from fastapi import FastAPI, File, HTTPException, Request, UploadFile
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from jinja2 import Environment, PackageLoader, select_autoescape

from pianqu.config import load_config
from pianqu.errors import UserValueError, user_message
from pianqu.i18n import catalogue as messages, t
from pianqu.web import auth, catalogue as cat, query, tiles
from pianqu.web.registry import Registry
from pianqu.workspace import Holder, StaleRevisionError, WorkspaceError, scenario_layer

COOKIE = "pianqu_session"
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
STATIC = Path(__file__).parent / "static"


def _lang(request: Request) -> str:
    lang = request.query_params.get("lang") or request.cookies.get("pianqu_lang") or "zh"
    return lang if lang in ("zh", "en") else "zh"


def create_app(registry: Registry, *, config=None) -> FastAPI:
    """The app serving ``registry``'s counties. ``app.state.local_token`` is the one-time token of
    the local mode (None in server mode)."""
    cfg = config or load_config()
    sessions = auth.Sessions(float(cfg["web.session_ttl_h"]) * 3600, int(cfg["web.login_max_failures"]),
                             float(cfg["web.login_window_s"]))
    app = FastAPI(title="pianqu", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.registry = registry
    app.state.sessions = sessions
    app.state.local_token = sessions.one_time(auth.User("local", "admin")) if registry.mode == "local" else None
    app.state.cfg = cfg
    app.state.tile_cache = {}
    app.state.edit_sessions = {}
    app.state.lock = threading.Lock()
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    env = Environment(loader=PackageLoader("pianqu.web", "templates"), autoescape=select_autoescape())

    # -- plumbing -------------------------------------------------------------------------------
    @app.middleware("http")
    async def guard(request: Request, call_next):
        if request.method in UNSAFE and request.url.path not in ("/api/login",):
            session = sessions.get(request.cookies.get(COOKIE))
            if session is None:
                return JSONResponse({"detail": t("web.err.login", _lang(request))}, status_code=401)
            if not secrets.compare_digest(request.headers.get("x-csrf-token", ""), session.csrf):
                return JSONResponse({"detail": t("web.err.csrf", _lang(request))}, status_code=403)
        response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        return response

    def _session(request: Request) -> auth.Session:
        session = sessions.get(request.cookies.get(COOKIE))
        if session is None:
            raise HTTPException(401, t("web.err.login", _lang(request)))
        return session

    def _county(request: Request, county: str):
        """The workspace of ``county`` when the user may read it; 404 otherwise (the same for a
        county that is not served: nothing tells a user which other counties exist)."""
        user = _session(request).user
        ws = registry.workspaces.get(county)
        if ws is None or not user.can_read(county):
            raise HTTPException(404, t("web.err.no_county", _lang(request), county=county))
        return ws

    def _editable(request: Request, county: str):
        ws = _county(request, county)
        if not _session(request).user.can_edit(county):
            raise HTTPException(403, t("web.err.read_only", _lang(request), county=county))
        return ws

    def _scenario(ws, scenario: str | None, request: Request) -> str | None:
        if scenario in (None, "", "base"):
            return None
        if scenario not in set(ws.scenarios()["name"]):
            raise HTTPException(404, t("web.err.no_scenario", _lang(request), scenario=scenario))
        return scenario

    def _layer(ws, layer: str, scenario: str | None, request: Request) -> None:
        if layer not in ws.layers(scenario):
            raise HTTPException(404, t("web.err.no_layer", _lang(request), layer=layer))

    # -- pages and accounts ---------------------------------------------------------------------
    @app.get("/healthz")
    def healthz():
        return {"status": "ok", "mode": registry.mode, "counties": len(registry.workspaces)}

    @app.get("/", response_class=HTMLResponse)
    def index(request: Request, token: str | None = None):
        lang = _lang(request)
        if token:
            user = sessions.redeem(token)
            if user is not None:
                cookie, _ = sessions.open(user)
                response = RedirectResponse("/", status_code=303)
                _set_cookie(response, cookie)
                return response
        ui = {k[len("web.ui."):]: v for k, v in messages().items() if k.startswith("web.ui.")}
        logged_in = sessions.get(request.cookies.get(COOKIE)) is not None
        page = env.get_template("index.html").render(lang=lang, ui=json.dumps(ui, ensure_ascii=False),
                                                     logged_in=logged_in, t=lambda k: t(f"web.ui.{k}", lang))
        return HTMLResponse(page)

    def _set_cookie(response: Response, token: str) -> None:
        response.set_cookie(COOKIE, token, httponly=True, samesite="strict", max_age=int(sessions.ttl_s), path="/")

    @app.post("/api/login")
    async def login(request: Request):
        lang = _lang(request)
        form = await request.form() if "form" in request.headers.get("content-type", "") else await request.json()
        username, password = str(form.get("username", "")), str(form.get("password", ""))
        key = f"{request.client.host if request.client else '?'}|{username}"
        if sessions.limited(key):
            return JSONResponse({"detail": t("web.err.rate_limited", lang, s=int(sessions.window_s))}, status_code=429)
        user = auth.authenticate(registry.users, username, password) if registry.users is not None else None
        if user is None:
            sessions.failed(key)
            return JSONResponse({"detail": t("web.err.bad_login", lang)}, status_code=401)
        token, session = sessions.open(user)
        response = JSONResponse({"username": user.username, "role": user.role, "csrf": session.csrf})
        _set_cookie(response, token)
        return response

    @app.post("/api/logout")
    def logout(request: Request):
        sessions.close(request.cookies.get(COOKIE))
        response = JSONResponse({"ok": True})
        response.delete_cookie(COOKIE, path="/")
        return response

    @app.get("/api/me")
    def me(request: Request):
        session = _session(request)
        user = session.user
        counties = [{"code": code, "name": ws.meta.county_name, "synthetic": ws.meta.synthetic,
                     "notice": (ws.meta.extra or {}).get("synthetic_notice" if _lang(request) == "zh"
                                                         else "synthetic_notice_en", "") if ws.meta.synthetic else "",
                     "editable": user.can_edit(code)}
                    for code, ws in sorted(registry.workspaces.items()) if user.can_read(code)]
        return {"username": user.username, "role": user.role, "scope": user.scope, "csrf": session.csrf,
                "mode": registry.mode, "counties": counties}

    # -- catalogue and tiles ------------------------------------------------------------------
    @app.get("/api/counties/{county}/catalogue")
    def layer_catalogue(request: Request, county: str, scenario: str | None = None):
        ws = _county(request, county)
        scn = _scenario(ws, scenario, request)
        scenarios = [{"name": r.name, "title": r.title} for r in ws.scenarios().itertuples(index=False)]
        bounds = ws.read("county").total_bounds.tolist() if ws.has("county") else None
        return {"county": county, "scenario": scn or "base", "scenarios": scenarios, "bounds": bounds,
                "layers": cat.county_catalogue(ws, scn, _lang(request))}

    @app.get("/tiles/{county}/{scenario}/{layer}/{z}/{x}/{y}.pbf")
    def tile(request: Request, county: str, scenario: str, layer: str, z: int, x: int, y: int, rev: int | None = None):
        ws = _county(request, county)
        scn = _scenario(ws, scenario, request)
        if not tiles.valid_tile(z, x, y):
            raise HTTPException(404, t("web.err.bad_tile", _lang(request)))
        table = scenario_layer(layer, scn)
        current = ws.revisions([layer], scn)[layer]
        if current == 0 and layer not in ws.layers(scn):
            raise HTTPException(404, t("web.err.no_layer", _lang(request), layer=layer))
        key = (county, table, current, z, x, y)
        data = app.state.tile_cache.get(key)
        if data is None:
            if registry.postgis:
                data = tiles.postgis_tile(ws.backend, table, layer, z, x, y)
            else:
                data = tiles.gpkg_tile(ws, layer, scn, z, x, y)
            with app.state.lock:
                if len(app.state.tile_cache) > 20000:
                    app.state.tile_cache.clear()
                app.state.tile_cache[key] = data
        immutable = rev is not None and rev == current
        headers = {"Cache-Control": "public, max-age=31536000, immutable" if immutable else "no-cache",
                   "X-Pianqu-Revision": str(current)}
        return Response(data, media_type="application/vnd.mapbox-vector-tile", headers=headers)

    # -- queries ------------------------------------------------------------------------------
    @app.get("/api/counties/{county}/identify")
    def identify(request: Request, county: str, lon: float, lat: float, scenario: str | None = None,
                 layers: str | None = None, zoom: float = 14):
        ws = _county(request, county)
        scn = _scenario(ws, scenario, request)
        names = [n for n in (layers or "").split(",") if n] or None
        return {"results": query.identify(ws, scn, lon, lat, names, zoom, _lang(request))}

    @app.get("/api/counties/{county}/search")
    def search(request: Request, county: str, q: str, scenario: str | None = None):
        ws = _county(request, county)
        return {"results": query.search(ws, _scenario(ws, scenario, request), q, _lang(request))}

    @app.get("/api/counties/{county}/table/{layer}")
    def table(request: Request, county: str, layer: str, scenario: str | None = None, q: str = "",
              column: str = "", value: str = "", offset: int = 0, limit: int = 200, format: str = "json"):
        ws = _county(request, county)
        scn = _scenario(ws, scenario, request)
        _layer(ws, layer, scn, request)
        lang = _lang(request)
        frame = query.filtered(ws.read(layer, scn), q, column, value)
        if format == "xlsx":
            data = query.to_xlsx(frame, layer, lang)
            name = f"{county}_{scn or 'base'}_{layer}.xlsx"
            return Response(data, media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                            headers={"Content-Disposition": f'attachment; filename="{name}"'})
        return query.table_json(frame, layer, lang, offset, min(limit, 2000))

    @app.post("/api/counties/{county}/stats")
    async def stats(request: Request, county: str):
        ws = _county(request, county)
        body = await request.json()
        scn = _scenario(ws, body.get("scenario"), request)
        try:
            polygon = shapely.geometry.shape(body["geometry"])
        except Exception:
            raise HTTPException(422, t("web.err.bad_polygon", _lang(request)))
        if polygon.is_empty or polygon.geom_type not in ("Polygon", "MultiPolygon"):
            raise HTTPException(422, t("web.err.bad_polygon", _lang(request)))
        return await run_in_threadpool(query.polygon_stats, ws, scn, shapely.make_valid(polygon), _lang(request))

    @app.get("/api/counties/{county}/compare")
    def compare(request: Request, county: str, a: str, b: str):
        ws = _county(request, county)
        sa, sb = _scenario(ws, a, request), _scenario(ws, b, request)
        return query.compare(ws, sa, sb, _lang(request))

    @app.get("/api/counties/{county}/audit")
    def audit(request: Request, county: str, limit: int = 200):
        ws = _county(request, county)
        return {"rows": query.audit_rows(ws, _lang(request), limit)}

    @app.get("/api/counties/{county}/report")
    def report(request: Request, county: str, scenario: str | None = None, format: str = "html"):
        ws = _county(request, county)
        scn = _scenario(ws, scenario, request)
        from pianqu.report.writer import write_report

        out = Path(tempfile.mkdtemp(prefix="pianqu-web-report-"))
        index = write_report(ws, out, lang=_lang(request), scenario=scn)
        if format == "xlsx":
            return FileResponse(out / "tables.xlsx", filename=f"{county}_{scn or 'base'}_report.xlsx")
        return FileResponse(index, media_type="text/html", filename=f"{county}_{scn or 'base'}_report.html")

    @app.post("/api/counties/{county}/validate")
    async def validate_upload(request: Request, county: str, file: UploadFile = File(...)):
        ws = _county(request, county)
        lang = _lang(request)
        limit = int(float(cfg["web.upload_max_mb"]) * 1024 * 1024)
        data = await file.read(limit + 1)
        if len(data) > limit:
            raise HTTPException(413, t("web.err.too_large", lang, mb=cfg["web.upload_max_mb"]))
        try:
            findings = await run_in_threadpool(query.validate_delivery, ws, file.filename or "upload", data, cfg)
        except query.UploadRefused as exc:
            raise HTTPException(422, exc.message(lang))
        return {"findings": [f.as_dict(lang) for f in findings]}

    # -- edits ----------------------------------------------------------------------------------
    def _edit_session(ws, county: str, scn: str):
        from pianqu.zoning import edit

        rev = ws.revisions(["zone"], scn)["zone"]
        key = (county, scn)
        with app.state.lock:
            held = app.state.edit_sessions.get(key)
        if held is None or held[0] != rev:
            held = (rev, edit.open_session(ws, scn))
            with app.state.lock:
                app.state.edit_sessions[key] = held
        return held[1], rev

    @app.get("/api/counties/{county}/scenarios/{scenario}/assignment")
    def assignment(request: Request, county: str, scenario: str):
        ws = _county(request, county)
        scn = _scenario(ws, scenario, request)
        if scn is None or not ws.has("zone_member", scn):
            raise HTTPException(404, t("web.err.no_layer", _lang(request), layer="zone_member"))
        return query.assignment(ws, scn, _lang(request))

    @app.post("/api/counties/{county}/scenarios/{scenario}/check")
    async def check(request: Request, county: str, scenario: str):
        ws = _editable(request, county)
        scn = _scenario(ws, scenario, request)
        body = await request.json()
        session, rev = await run_in_threadpool(_edit_session, ws, county, scn)
        result = session.check({str(k): str(v) for k, v in body["assignment"].items()})
        return {"revision": rev, **result.to_dict(_lang(request))}

    @app.post("/api/counties/{county}/scenarios/{scenario}/save")
    async def save(request: Request, county: str, scenario: str):
        ws = _editable(request, county)
        scn = _scenario(ws, scenario, request)
        lang = _lang(request)
        body = await request.json()
        reason = str(body.get("reason", "")).strip()
        if not reason:
            raise HTTPException(422, t("web.err.no_reason", lang))
        user = _session(request).user
        session, rev = await run_in_threadpool(_edit_session, ws, county, scn)
        try:
            new_rev = await run_in_threadpool(lambda: session.save({str(k): str(v) for k, v in body["assignment"].items()}, reason=reason,
                                   base_revision=int(body["base_revision"]), holder=_holder(user, "web zones edit")))
        except StaleRevisionError as exc:
            return _stale(exc, lang)
        except UserValueError as exc:  # no reason, or a division with errors: what to fix
            raise HTTPException(422, user_message(exc, lang))
        with app.state.lock:
            app.state.edit_sessions.pop((county, scn), None)
        return {"revision": new_rev}

    def _holder(user: auth.User, command: str) -> Holder:
        here = Holder.here(command)
        return Holder(command, f"web:{user.username}", here.pid, here.started)

    def _stale(exc: StaleRevisionError, lang: str) -> JSONResponse:
        return JSONResponse({"detail": user_message(exc, lang),
                             "changed": {k: {"expected": v[0], "current": v[1]} for k, v in exc.changed.items()}},
                            status_code=409)

    @app.get("/api/counties/{county}/scenarios/{scenario}/conflicts")
    def conflicts(request: Request, county: str, scenario: str):
        ws = _county(request, county)
        scn = _scenario(ws, scenario, request)
        return query.conflicts(ws, scn, _lang(request))

    @app.post("/api/counties/{county}/scenarios/{scenario}/conflicts/{conflict_id}/decide")
    async def decide(request: Request, county: str, scenario: str, conflict_id: str):
        ws = _editable(request, county)
        scn = _scenario(ws, scenario, request)
        lang = _lang(request)
        body = await request.json()
        user = _session(request).user
        try:
            rev = await run_in_threadpool(query.decide_conflict, ws, scn, conflict_id, str(body.get("resolution", "")),
                                        str(body.get("reason", "")), int(body["base_revision"]),
                                        _holder(user, "lines decide"))
        except StaleRevisionError as exc:
            return _stale(exc, lang)
        except query.DecisionRefused as exc:
            raise HTTPException(422, exc.text(lang))
        return {"revision": rev}

    @app.exception_handler(WorkspaceError)
    async def workspace_error(request: Request, exc: WorkspaceError):
        return JSONResponse({"detail": user_message(exc, _lang(request))}, status_code=503)

    return app
