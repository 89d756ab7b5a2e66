"""In real Chromium on a 390-px phone screen: a grid administrator signs in, finds a member by the
last four digits of the mobile, and assigns them a grid. Saves screenshots under tests/e2e/screenshots/.

Debian's chromium package (/usr/bin/chromium) driven by Playwright for Python; no downloaded browser."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from app.db import unit_of_work
from tests.factories import make_member

# A live server answers from its own thread and connections.
pytestmark = [pytest.mark.browser, pytest.mark.commits]

CHROMIUM = "/usr/bin/chromium"
SHOTS = Path(__file__).parent / "screenshots"
ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture
def live_server(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)


@pytest.fixture
def browser():
    if not shutil.which(CHROMIUM):
        # Skipped with the reason on a machine without it; CI installs it and turns any skip into a failure.
        pytest.skip("browser tests need Debian's chromium at /usr/bin/chromium: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def test_grid_admin_finds_a_member_and_assigns_a_grid_on_a_phone(app, town, live_server, browser):
    with app.app_context(), app.test_request_context():
        with unit_of_work(app.extensions["db_sessionmaker"]) as s:
            member = make_member(s, town.district.id, town.grid_a2, name="孙小梅", mobile="13655554321")
            member_id = member.id
    admin, mobile, password = town.users["grid_admin"]
    SHOTS.mkdir(exist_ok=True)

    page = browser.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True,
                            has_touch=True, locale="zh-CN")
    page.goto(f"{live_server}/signin")
    if page.locator("select[name=district]").count():  # the test database holds many districts
        page.select_option("select[name=district]", str(town.district.id))
    page.fill("input[name=mobile]", mobile)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    assert page.url == f"{live_server}/", page.inner_text("main")

    page.goto(f"{live_server}/members/")
    page.fill("input[name=q]", "4321")
    page.press("input[name=q]", "Enter")
    page.wait_for_url("**/members/?**q=4321**")
    link = page.get_by_role("link", name="孙小梅")
    assert link.is_visible()
    # Nothing is wider than the phone: no sideways scrolling of the whole page.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(SHOTS / "grid_admin_search_phone.png"), full_page=True)
    link.click()
    page.wait_for_url(f"**/members/{member_id}")

    page.click("#assign summary")
    page.fill("#assign input[name=org_unit_id]", str(town.grid_a2.id))
    page.select_option("#assign select[name=role]", "building_head")
    page.fill("#assign input[name=households]", "42")
    page.click("#assign button[type=submit]")
    page.wait_for_url(f"**/members/{member_id}")
    body = page.inner_text("main")
    assert town.grid_a2.name in body
    assert "42" in body
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(SHOTS / "grid_admin_assigned_phone.png"), full_page=True)

    # The grid's own page now lists them as its building head.
    page.goto(f"{live_server}/org/{town.grid_a2.id}")
    assert "孙小梅" in page.inner_text("main")
    page.close()
