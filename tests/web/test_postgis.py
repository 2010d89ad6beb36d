"""The main endpoints on a PostGIS database serving two county schemas (server mode): accounts in
``pianqu.pianqu_user``, ``ST_AsMVT`` tiles, identify, edits with revisions, county isolation."""

from __future__ import annotations

import math

import mapbox_vector_tile
import pytest
from fastapi.testclient import TestClient

from .conftest import PASSWORD, USERS, login

A, B = "510403", "510402"


@pytest.fixture(scope="module")
def pg_app(pg_cluster, counties):
    from pianqu.store.transfer import push
    from pianqu.web import auth
    from pianqu.web.app import create_app
    from pianqu.web.registry import open_registry

    url = pg_cluster.url
    for path in (counties.a, counties.b):
        push(path, url, replace=True)
    store = auth.user_store(url)
    for name, (role, scope) in USERS.items():
        auth.add_user(store, name, PASSWORD, role, scope)
    registry = open_registry(url)
    assert registry.mode == "server" and set(registry.workspaces) >= {A, B}
    app = create_app(registry)
    assert app.state.local_token is None
    return app


def _tile_of(lon, lat, z):
    x = int((lon + 180) / 360 * 2 ** z)
    y = int((1 - math.log(math.tan(math.radians(lat)) + 1 / math.cos(math.radians(lat))) / math.pi) / 2 * 2 ** z)
    return x, y


def test_postgis_tiles_identify_and_isolation(pg_app, counties):
    import geopandas as gpd

    c = TestClient(pg_app)
    assert c.get("/healthz").json()["mode"] == "server"
    login(c, "planner_a")
    assert {x["code"] for x in c.get("/api/me").json()["counties"]} == {A}
    t = gpd.read_file(counties.a, layer="township")
    seen = set()
    for p in t.geometry.representative_point():
        x, y = _tile_of(p.x, p.y, 10)
        r = c.get(f"/tiles/{A}/base/township/10/{x}/{y}.pbf?rev=1")
        assert r.status_code == 200
        seen |= {f["properties"]["code"] for f in mapbox_vector_tile.decode(r.content)["township"]["features"]}
    assert seen == set(t["code"])
    p = t.geometry.iloc[0].representative_point()
    res = c.get(f"/api/counties/{A}/identify?lon={p.x}&lat={p.y}&layers=township").json()["results"]
    assert res[0]["fields"][1]["value"] == t["name"].iloc[0]
    for url in (f"/api/counties/{B}/catalogue", f"/tiles/{B}/base/township/0/0/0.pbf", f"/api/counties/{B}/audit"):
        assert c.get(url).status_code == 404


def test_postgis_edit_save_and_stale(pg_app, counties):
    c = TestClient(pg_app)
    h = {"X-CSRF-Token": login(c, "planner_a")}
    state = c.get(f"/api/counties/{A}/scenarios/alt/assignment").json()
    base = state["revision"]
    code = counties.moved
    zones = [z["zone"] for z in state["zones"]]
    trial = {**state["assignment"], code: next(z for z in zones if z != state["assignment"][code])}
    check = c.post(f"/api/counties/{A}/scenarios/alt/check", json={"assignment": trial}, headers=h).json()
    assert check["changed"] == [code]
    r = c.post(f"/api/counties/{A}/scenarios/alt/save", json={"assignment": trial, "reason": "PostGIS 网页",
                                                               "base_revision": base}, headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["revision"] == base + 1
    stale = c.post(f"/api/counties/{A}/scenarios/alt/save", json={"assignment": state["assignment"], "reason": "晚了",
                                                                   "base_revision": base}, headers=h)
    assert stale.status_code == 409
    audit = c.get(f"/api/counties/{A}/audit").json()["rows"]
    assert any(a["reason"] == "PostGIS 网页" and a["user"] == "web:planner_a" for a in audit)


def test_a_county_in_several_schemas_is_served_from_its_own(pg_app, pg_cluster, counties):
    """A copy of county A in another schema (sorting after ``c<code>``) does not replace it."""
    from pianqu.store.postgis import split_url
    from pianqu.store.transfer import push
    from pianqu.web.registry import open_registry

    push(counties.a, pg_cluster.schema_url("zz_copy"), replace=True)
    registry = open_registry(pg_cluster.url)
    assert split_url(registry.workspaces[A].url)[1] == f"c{A}"
