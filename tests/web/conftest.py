"""The web app's fixtures: 510403 西区 planned once per session (with a second scenario ``alt``
where one township moved), 510402 东区 unplanned as another county, users of every role, an app
on both, and a live server (uvicorn in a thread) for the browser tests."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

PASSWORD = "correct horse battery"
USERS = {"admin": ("admin", ""), "planner_a": ("county_planner", "510403"), "viewer_a": ("county_viewer", "510403"),
         "planner_b": ("county_planner", "510402"), "province": ("province", ""), "city_b": ("city", "5104")}


@dataclass(frozen=True)
class Counties:
    a: Path  # 510403, planned: scenarios plan and alt
    b: Path  # 510402, base data only
    moved: str  # the township moved in alt


@pytest.fixture(scope="session")
def counties(tmp_path_factory) -> Counties:
    from pianqu.plan import plan
    from pianqu.synth import write_county
    from pianqu.web import auth
    from pianqu.workspace import Holder, Workspace
    from pianqu.zoning.edit import open_session

    root = tmp_path_factory.mktemp("web")
    a, b = root / "510403.gpkg", root / "510402.gpkg"
    write_county("510403", a, seed=1)
    write_county("510402", b, seed=1)
    ws = Workspace.open(a)
    plan(ws, "plan", p=2)
    layers = ws.read_many(None, "plan")
    with ws.transaction(command="test copy"):
        ws.create_scenario("alt", command="test copy")
        ws.write(layers, scenario="alt", command="test copy", reason="a copy of plan")
    session = open_session(ws, "alt")
    saved = dict(session.current())
    moved = None
    for code, zone in saved.items():  # the first move that keeps the division valid
        for other in sorted(set(saved.values()) - {zone}):
            trial = {**saved, code: other}
            if session.check(trial).ok:
                moved = code
                break
        if moved:
            break
    assert moved, "510403 has a township that can change zone without an error"
    session.save(trial, reason="fixture move", base_revision=ws.revisions(["zone"], "alt")["zone"],
                 holder=Holder.here("test"))
    store = auth.user_store(a)
    for name, (role, scope) in USERS.items():
        auth.add_user(store, name, PASSWORD, role, scope)
    return Counties(a, b, moved)


@pytest.fixture(scope="session")
def registry(counties):
    from pianqu.web.registry import open_registry

    return open_registry([counties.a, counties.b])


@pytest.fixture(scope="session")
def app(registry):
    from pianqu.web.app import create_app

    return create_app(registry)


def login(client, user: str, password: str = PASSWORD) -> str:
    """Log ``client`` in as ``user``; returns the session's CSRF token."""
    r = client.post("/api/login", json={"username": user, "password": password})
    assert r.status_code == 200, r.text
    return r.json()["csrf"]


@pytest.fixture(scope="session")
def live_server(app):
    """The app served by uvicorn on a free loopback port, for the browser."""
    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
