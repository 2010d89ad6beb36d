"""The map page in Debian's chromium (pytest-playwright's library, ``executable_path``: no
browser download): log in, the map renders a known township, click → attributes, move a
township → findings, save → revision and audit row, compare, county isolation. One server
(tests/web/conftest.py ``live_server``) and one browser for the module; screenshots under
out/screenshots/."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import PASSWORD

SHOTS = Path(__file__).resolve().parents[2] / "out" / "screenshots"
CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def debian_chromium():
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "chromium is missing: run `make system-deps` (apt-get install chromium)"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--use-gl=swiftshader",
                                                             "--enable-unsafe-swiftshader", "--ignore-gpu-blocklist"])
        yield b
        b.close()


def _page(debian_chromium, live_server, user):
    ctx = debian_chromium.new_context(viewport={"width": 1366, "height": 768}, accept_downloads=True)
    page = ctx.new_page()
    page.goto(live_server + "/")
    page.fill("#username", user)
    page.fill("#password", PASSWORD)
    page.click("#login-button")
    page.wait_for_selector("#app:not(.hidden)")
    page.wait_for_function("window.map && window.map.getSource && Object.keys(window.map.getStyle().sources).length > 1",
                           timeout=30000)
    page.wait_for_function("window.map.loaded() && window.map.areTilesLoaded()", timeout=30000)
    return page


def _shot(page, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def test_map_identify_edit_compare(debian_chromium, live_server, counties):
    import geopandas as gpd

    page = _page(debian_chromium, live_server, "planner_a")
    # the canvas is not blank: many distinct colours
    import io

    import numpy as np
    from PIL import Image

    png = page.locator("#map canvas").screenshot()
    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).reshape(-1, 3)
    assert len(np.unique(pixels, axis=0)) > 20  # land classes, zones, boundaries: not a blank canvas
    t = gpd.read_file(counties.a, layer="township")
    names = page.evaluate("() => window.map.queryRenderedFeatures().filter(f => f.sourceLayer === 'township')"
                          ".map(f => f.properties.name)")
    assert set(t["name"]) & set(names)
    _shot(page, "map")
    # click a township's inner point → its attributes
    row = t.iloc[0]
    p = row.geometry.representative_point()
    xy = page.evaluate(f"() => {{ const q = window.map.project([{p.x}, {p.y}]); return [q.x, q.y]; }}")
    box = page.locator("#map").bounding_box()
    page.mouse.click(box["x"] + xy[0], box["y"] + xy[1])
    page.wait_for_selector(f"#tab-identify :text('{row['name']}')", timeout=15000)
    _shot(page, "identify")
    # move a township to another zone → the findings update; save → new revision + audit row
    page.click("#tabs button[data-tab=edit]")
    select = page.locator(f"#edit-form select[data-code='{counties.moved}']")
    select.wait_for()
    current = select.input_value()
    other = [o for o in select.locator("option").evaluate_all("os => os.map(o => o.value)") if o != current][0]
    rev_before = int(page.locator("#edit-form p").inner_text().split("r")[-1])
    select.select_option(other)
    page.wait_for_selector("#findings-list li", timeout=15000)
    _shot(page, "edit")
    page.fill("#edit-reason", "浏览器测试")
    page.click("#edit-save")
    page.wait_for_function("document.getElementById('edit-status').textContent.length > 0", timeout=20000)
    status = page.locator("#edit-status").inner_text()
    assert f"r{rev_before + 1}" in status, status
    page.click("#tabs button[data-tab=audit]")
    page.wait_for_selector("#audit-table :text('浏览器测试')", timeout=15000)
    assert "web:planner_a" in page.locator("#audit-table").inner_text()
    _shot(page, "audit")
    # compare plan with alt
    page.click("#tabs button[data-tab=compare]")
    page.select_option("#compare-a", "plan")
    page.select_option("#compare-b", "alt")
    page.click("#compare-go")
    page.wait_for_selector("#compare-members", timeout=15000)
    _shot(page, "compare")
    page.context.close()


def test_county_isolation_in_the_ui(debian_chromium, live_server):
    page = _page(debian_chromium, live_server, "planner_b")
    options = page.locator("#county option").evaluate_all("os => os.map(o => o.value)")
    assert options == ["510402"]
    status = page.evaluate("async () => (await fetch('/api/counties/510403/catalogue')).status")
    assert status == 404
    tile = page.evaluate("async () => (await fetch('/tiles/510403/base/township/10/800/440.pbf')).status")
    assert tile == 404
    _shot(page, "isolation")
    page.context.close()
