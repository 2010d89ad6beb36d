"""The web API on a GeoPackage workspace: accounts, tiles, queries, edits, decisions, uploads,
and county isolation checked by direct HTTP calls."""

from __future__ import annotations

import io
import math
import zipfile

import mapbox_vector_tile
import numpy as np
import pytest
from fastapi.testclient import TestClient
from pyproj import Geod

from .conftest import PASSWORD, login

A, B = "510403", "510402"


@pytest.fixture
def client(app):
    return TestClient(app)


def _tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    x = int((lon + 180) / 360 * 2 ** z)
    y = int((1 - math.log(math.tan(math.radians(lat)) + 1 / math.cos(math.radians(lat))) / math.pi) / 2 * 2 ** z)
    return x, y


def _tile_box(z: int, x: int, y: int, margin: float):
    """The XYZ tile in lon/lat, grown by ``margin`` of its size on every side (Web Mercator)."""
    import shapely

    n = 2 ** z
    lat = lambda t: math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * t / n))))  # noqa: E731
    return shapely.box((x - margin) / n * 360 - 180, lat(y + 1 + margin),
                       (x + 1 + margin) / n * 360 - 180, lat(y - margin))


def _township(client, csrf=None):
    from pianqu.workspace import Workspace

    t = Workspace.open(client.app.state.registry.workspaces[A].url).read("township")
    row = t.iloc[0]
    p = row.geometry.representative_point()
    return row, p.x, p.y


def test_healthz_and_login(client):
    assert client.get("/healthz").status_code == 200
    assert client.get("/api/me").status_code == 401
    assert client.post("/api/login", json={"username": "admin", "password": "wrong password"}).status_code == 401
    csrf = login(client, "admin")
    me = client.get("/api/me").json()
    assert me["role"] == "admin" and {c["code"] for c in me["counties"]} == {A, B}
    cookie = client.cookies.jar
    assert any(c.name == "pianqu_session" and c.has_nonstandard_attr("HttpOnly") for c in cookie)
    assert csrf == me["csrf"]


def test_session_cookie_is_httponly_samesite_strict(app):
    c = TestClient(app)
    r = c.post("/api/login", json={"username": "viewer_a", "password": PASSWORD})
    header = r.headers["set-cookie"].lower()
    assert "httponly" in header and "samesite=strict" in header


def test_login_rate_limit(app):
    c = TestClient(app)
    limit = int(app.state.cfg["web.login_max_failures"])
    codes = [c.post("/api/login", json={"username": "planner_b", "password": f"bad{i}"}).status_code
             for i in range(limit + 1)]
    assert codes[:limit] == [401] * limit and codes[limit] == 429
    # even the right password is refused while limited
    assert c.post("/api/login", json={"username": "planner_b", "password": PASSWORD}).status_code == 429
    app.state.sessions._failures.clear()


def test_local_token_is_one_time(app):
    c = TestClient(app)
    token = app.state.local_token
    r = c.get(f"/?token={token}", follow_redirects=False)
    assert r.status_code == 303 and "pianqu_session" in r.headers["set-cookie"]
    assert c.get("/api/me").json()["role"] == "admin"
    c2 = TestClient(app)
    c2.get(f"/?token={token}", follow_redirects=False)
    assert c2.get("/api/me").status_code == 401
    from pianqu.web.auth import User

    app.state.local_token = app.state.sessions.one_time(User("local", "admin"))


def test_csrf_required_on_unsafe_methods(client):
    login(client, "admin")
    body = {"geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}}
    assert client.post(f"/api/counties/{A}/stats", json=body).status_code == 403
    assert client.post(f"/api/counties/{A}/stats", json=body, headers={"X-CSRF-Token": "forged"}).status_code == 403


def test_catalogue_and_tiles(client):
    login(client, "viewer_a")
    cat = client.get(f"/api/counties/{A}/catalogue?scenario=plan").json()
    layers = {(L["scenario"], L["layer"]): L for L in cat["layers"]}
    assert ("base", "landuse") in layers and ("plan", "zone") in layers and ("plan", "conflict") in layers
    assert layers[("base", "township")]["name"] == "乡镇" and layers[("base", "township")]["geometry"] == "Polygon"
    assert layers[("base", "landuse")]["style"][0]["paint"]["fill-color"][0] == "match"
    row, lon, lat = _township(client)
    z = 12
    x, y = _tile_of(lon, lat, z)
    rev = layers[("base", "township")]["revision"]
    r = client.get(f"/tiles/{A}/base/township/{z}/{x}/{y}.pbf?rev={rev}")
    assert r.status_code == 200 and "immutable" in r.headers["cache-control"]
    names = {f["properties"]["name"] for f in mapbox_vector_tile.decode(r.content)["township"]["features"]}
    assert row["name"] in names
    stale = client.get(f"/tiles/{A}/base/township/{z}/{x}/{y}.pbf?rev={rev + 7}")
    assert "immutable" not in stale.headers["cache-control"]
    # the tiles at each township's inner point, together, hold every township
    from pianqu.workspace import Workspace

    t = Workspace.open(client.app.state.registry.workspaces[A].url).read("township")
    seen = set()
    for p in t.geometry.representative_point():
        tx, ty = _tile_of(p.x, p.y, 10)
        seen |= {f["properties"]["code"] for f in
                 mapbox_vector_tile.decode(client.get(f"/tiles/{A}/base/township/10/{tx}/{ty}.pbf").content)["township"]["features"]}
    assert seen == set(t["code"])
    tx, ty = _tile_of(lon, lat, 10)
    zone = mapbox_vector_tile.decode(client.get(f"/tiles/{A}/plan/zone/10/{tx}/{ty}.pbf").content)
    in_tile = {str(f["properties"]["zone"]) for f in zone["zone"]["features"]}
    # independently: the zones crossing the tile (lon/lat from the XYZ formula) are all in it, and
    # nothing beyond its 64/4096 buffer (margin doubled for the simplification)
    zones = Workspace.open(client.app.state.registry.workspaces[A].url).read("zone", "plan")
    near = set(zones.loc[zones.intersects(_tile_box(10, tx, ty, 0.0)), "zone"].astype(str))
    around = set(zones.loc[zones.intersects(_tile_box(10, tx, ty, 128 / 4096)), "zone"].astype(str))
    assert near and near <= in_tile <= around
    assert client.get(f"/tiles/{A}/base/nope/0/0/0.pbf").status_code == 404
    assert client.get(f"/tiles/{A}/base/township/3/99/0.pbf").status_code == 404


def test_identify_search_table(client):
    login(client, "viewer_a")
    row, lon, lat = _township(client)
    res = client.get(f"/api/counties/{A}/identify?lon={lon}&lat={lat}&layers=township").json()["results"]
    fields = {f["field"]: f for f in res[0]["fields"]}
    assert fields["name"]["value"] == row["name"] and fields["population"]["label"] == "常住人口（人）"
    hits = client.get(f"/api/counties/{A}/search", params={"q": row["name"]}).json()["results"]
    assert any(h["layer"] == "township" and h["code"] == row["code"] for h in hits)
    table = client.get(f"/api/counties/{A}/table/township", params={"column": "code", "value": row["code"]}).json()
    assert table["total"] == 1 and table["rows"][0][1] == row["name"]
    r = client.get(f"/api/counties/{A}/table/township", params={"format": "xlsx", "q": row["name"]})
    import openpyxl

    sheet = openpyxl.load_workbook(io.BytesIO(r.content)).active
    rows = list(sheet.values)
    assert "名称" in rows[0] and len(rows) == 2


def test_polygon_statistics_match_geodesic_area(client):
    csrf = login(client, "viewer_a")
    row, lon, lat = _township(client)
    ring = [[lon - 0.01, lat - 0.01], [lon + 0.01, lat - 0.01], [lon + 0.01, lat + 0.01], [lon - 0.01, lat + 0.01]]
    body = {"geometry": {"type": "Polygon", "coordinates": [ring + [ring[0]]]}}
    r = client.post(f"/api/counties/{A}/stats", json=body, headers={"X-CSRF-Token": csrf}).json()
    geod_area = abs(Geod(ellps="GRS80").polygon_area_perimeter([p[0] for p in ring], [p[1] for p in ring])[0])
    assert r["area_m2"] == pytest.approx(geod_area, rel=1e-4)
    # the classes partition the land inside (parcels tile the county, the square lies inside it or nearly)
    assert sum(c["area_m2"] for c in r["classes"]) <= r["area_m2"] * 1.0001
    farm = [c for c in r["classes"] if c["class"] == "01"]
    assert not farm or farm[0]["net_area_ha"] <= farm[0]["area_ha"]
    assert r["population"] >= 0


def test_compare_and_audit(client, counties):
    login(client, "province")
    cmp = client.get(f"/api/counties/{A}/compare?a=plan&b=alt").json()
    assert counties.moved in {m["township_code"] for m in cmp["members"]}
    assert len(cmp["zones"]["a"]) == 2
    same = client.get(f"/api/counties/{A}/compare?a=plan&b=plan").json()
    assert same["members"] == []
    audit = client.get(f"/api/counties/{A}/audit").json()["rows"]
    move = [r for r in audit if r["reason"] == "fixture move"]
    assert move and all(r["to_revision"] == r["from_revision"] + 1 for r in audit)


def test_edit_check_save_and_stale(client, counties):
    csrf = login(client, "planner_a")
    h = {"X-CSRF-Token": csrf}
    state = client.get(f"/api/counties/{A}/scenarios/plan/assignment").json()
    base = state["revision"]
    zones = [z["zone"] for z in state["zones"]]
    code = counties.moved
    trial = {**state["assignment"], code: next(z for z in zones if z != state["assignment"][code])}
    check = client.post(f"/api/counties/{A}/scenarios/plan/check", json={"assignment": trial}, headers=h).json()
    assert check["changed"] == [code] and "findings" in check
    assert client.post(f"/api/counties/{A}/scenarios/plan/save", json={"assignment": trial, "reason": "",
                                                                         "base_revision": base}, headers=h).status_code == 422
    r = client.post(f"/api/counties/{A}/scenarios/plan/save",
                    json={"assignment": trial, "reason": "网页测试移动", "base_revision": base}, headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["revision"] == base + 1
    audit = client.get(f"/api/counties/{A}/audit").json()["rows"]
    assert any(a["reason"] == "网页测试移动" and a["user"] == "web:planner_a" for a in audit)
    again = client.post(f"/api/counties/{A}/scenarios/plan/save",
                        json={"assignment": state["assignment"], "reason": "晚了", "base_revision": base}, headers=h)
    assert again.status_code == 409 and "zone" in "".join(again.json()["changed"])
    # put it back, from the current revision
    back = client.post(f"/api/counties/{A}/scenarios/plan/save",
                       json={"assignment": state["assignment"], "reason": "复原", "base_revision": base + 1}, headers=h)
    assert back.status_code == 200


def test_conflict_decision_rules_and_staleness(client):
    csrf = login(client, "planner_a")
    h = {"X-CSRF-Token": csrf}
    c = client.get(f"/api/counties/{A}/scenarios/plan/conflicts").json()
    open_ = [r for r in c["rows"] if r["state"] == "open" and r["options"]]
    assert len(open_) >= 2
    first, second = open_[0], open_[1]
    bad = client.post(f"/api/counties/{A}/scenarios/plan/conflicts/{first['conflict_id']}/decide",
                      json={"resolution": "no_such_action", "base_revision": c["revision"]}, headers=h)
    assert bad.status_code == 422
    ok = client.post(f"/api/counties/{A}/scenarios/plan/conflicts/{first['conflict_id']}/decide",
                     json={"resolution": first["options"][0], "reason": "网页决定", "base_revision": c["revision"]}, headers=h)
    assert ok.status_code == 200 and ok.json()["revision"] == c["revision"] + 1
    stale = client.post(f"/api/counties/{A}/scenarios/plan/conflicts/{second['conflict_id']}/decide",
                        json={"resolution": second["options"][0], "base_revision": c["revision"]}, headers=h)
    assert stale.status_code == 409 and stale.json()["changed"]
    after = {r["conflict_id"]: r for r in client.get(f"/api/counties/{A}/scenarios/plan/conflicts").json()["rows"]}
    assert after[first["conflict_id"]]["action"] == first["options"][0]


def test_validate_upload_and_archive_checks(client, counties, tmp_path):
    import geopandas as gpd

    csrf = login(client, "viewer_a")
    h = {"X-CSRF-Token": csrf}
    t = gpd.read_file(counties.a, layer="township")
    t.loc[0, "code"] = "999999999"  # a township code outside the county
    gpkg = tmp_path / "delivery.gpkg"
    t.to_file(gpkg, layer="township")
    r = client.post(f"/api/counties/{A}/validate", files={"file": ("delivery.gpkg", gpkg.read_bytes())}, headers=h)
    assert r.status_code == 200 and any("999999999" in f["feature"] or "999999999" in str(f["params"])
                                        for f in r.json()["findings"])
    slip = io.BytesIO()
    with zipfile.ZipFile(slip, "w") as z:
        z.writestr("../../evil.gpkg", b"x")
    r = client.post(f"/api/counties/{A}/validate", files={"file": ("d.zip", slip.getvalue())}, headers=h)
    assert r.status_code == 422 and "evil" in r.json()["detail"]
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("big.gpkg", b"\0" * (20 * 1024 * 1024))
    r = client.post(f"/api/counties/{A}/validate", files={"file": ("d.zip", bomb.getvalue())}, headers=h)
    assert r.status_code == 422 and "big.gpkg" in r.json()["detail"]
    assert not (tmp_path.parent / "evil.gpkg").exists()


@pytest.mark.parametrize("user", ["planner_a", "viewer_a"])
def test_county_isolation_by_direct_http(app, user):
    """A county-A user gets nothing of county B: layers, tiles, features, tables, exports,
    statistics, edits, decisions, audit, report, uploads — 404 as for a county that does not exist."""
    c = TestClient(app)
    csrf = login(c, user)
    h = {"X-CSRF-Token": csrf}
    assert {x["code"] for x in c.get("/api/me").json()["counties"]} == {A}
    gets = [f"/api/counties/{B}/catalogue", f"/tiles/{B}/base/township/0/0/0.pbf", f"/tiles/{B}/base/landuse/0/0/0.pbf",
            f"/api/counties/{B}/identify?lon=101.7&lat=26.6", f"/api/counties/{B}/search?q=区",
            f"/api/counties/{B}/table/township", f"/api/counties/{B}/table/township?format=xlsx",
            f"/api/counties/{B}/audit", f"/api/counties/{B}/report", f"/api/counties/{B}/compare?a=base&b=base",
            f"/api/counties/{B}/scenarios/plan/assignment", f"/api/counties/{B}/scenarios/plan/conflicts"]
    for url in gets:
        assert c.get(url).status_code == 404, url
    square = {"type": "Polygon", "coordinates": [[[101, 26], [102, 26], [102, 27], [101, 26]]]}
    posts = [(f"/api/counties/{B}/stats", {"geometry": square}),
             (f"/api/counties/{B}/scenarios/plan/check", {"assignment": {}}),
             (f"/api/counties/{B}/scenarios/plan/save", {"assignment": {}, "reason": "x", "base_revision": 1}),
             (f"/api/counties/{B}/scenarios/plan/conflicts/CF-1/decide", {"resolution": "tolerate", "base_revision": 1})]
    for url, body in posts:
        assert c.post(url, json=body, headers=h).status_code == 404, url
    assert c.post(f"/api/counties/{B}/validate", files={"file": ("d.gpkg", b"x")}, headers=h).status_code == 404
    # own county: readable
    assert c.get(f"/api/counties/{A}/catalogue").status_code == 200


def test_roles_read_only_and_city(app):
    viewer = TestClient(app)
    h = {"X-CSRF-Token": login(viewer, "viewer_a")}
    assert viewer.post(f"/api/counties/{A}/scenarios/plan/check", json={"assignment": {}}, headers=h).status_code == 403
    assert viewer.post(f"/api/counties/{A}/scenarios/plan/conflicts/CF-1/decide",
                       json={"resolution": "x", "base_revision": 1}, headers=h).status_code == 403
    province = TestClient(app)
    h = {"X-CSRF-Token": login(province, "province")}
    assert province.get(f"/api/counties/{B}/catalogue").status_code == 200
    assert province.post(f"/api/counties/{A}/scenarios/plan/check", json={"assignment": {}}, headers=h).status_code == 403
    city = TestClient(app)
    login(city, "city_b")
    assert {x["code"] for x in city.get("/api/me").json()["counties"]} == {A, B}
    other = TestClient(app)
    login(other, "planner_b")
    assert other.get(f"/tiles/{A}/base/township/0/0/0.pbf").status_code == 404


def test_disabled_user_cannot_log_in(app, counties):
    from pianqu.web import auth

    store = auth.user_store(counties.a)
    auth.add_user(store, "leaver", PASSWORD, "county_viewer", A)
    auth.disable_user(store, "leaver")
    c = TestClient(app)
    assert c.post("/api/login", json={"username": "leaver", "password": PASSWORD}).status_code == 401
    users = auth.list_users(store)
    assert bool(users.set_index("username").loc["leaver", "disabled"]) and "password_hash" not in users.columns
    with pytest.raises(auth.UserError):
        auth.add_user(store, "x", PASSWORD, "county_planner", "51")
