"""In real Chromium on a 390-px phone screen: a grid administrator signs in, finds a member by the
last four digits of the mobile, and assigns them a grid picked by typing part of its name. Saves
screenshots under tests/e2e/screenshots/.

Debian's chromium package (/usr/bin/chromium) driven by Playwright for Python; no downloaded browser."""

from __future__ import annotations

import pytest

from app.db import unit_of_work
from tests.e2e.conftest import PHONE, SHOTS, sign_in_in_browser
from tests.factories import make_member

# A live server answers from its own thread and connections.
pytestmark = [pytest.mark.browser, pytest.mark.commits]


def test_grid_admin_finds_a_member_and_assigns_a_grid_on_a_phone(app, town, live_server, browser):
    with app.app_context(), app.test_request_context():
        with unit_of_work(app.extensions["db_sessionmaker"]) as s:
            member = make_member(s, town.district.id, town.grid_a2, name="孙小梅", mobile="13655554321")
            member_id = member.id
    admin, mobile, password = town.users["grid_admin"]
    SHOTS.mkdir(exist_ok=True)

    page = browser.new_page(**PHONE)
    sign_in_in_browser(page, live_server, town.district.id, mobile, password)

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
    # The grid is picked by typing part of its name and choosing its path from the suggestions.
    page.fill("#assign input[name=org_unit_id-text]", "")
    page.type("#assign input[name=org_unit_id-text]", "第一片区")  # not where they live: another grid
    option = page.locator("#assign [role=option]", has_text="凤凰社区 › 凤凰第一片区网格")
    option.wait_for()
    option.click()
    assert page.input_value("#assign input[name=org_unit_id-text]") == "凤凰街道 › 凤凰社区 › 凤凰第一片区网格"
    assert page.input_value("#assign input[name=org_unit_id]") == str(town.grid_a1.id)
    page.select_option("#assign select[name=role]", "building_head")
    page.fill("#assign input[name=households]", "42")
    page.click("#assign button[type=submit]")
    page.wait_for_url(f"**/members/{member_id}")
    body = page.inner_text("main")
    assert town.grid_a1.name in body
    assert "42" in body
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(SHOTS / "grid_admin_assigned_phone.png"), full_page=True)

    # The grid's own page now lists them as its building head.
    page.goto(f"{live_server}/org/{town.grid_a1.id}")
    assert "孙小梅" in page.inner_text("main")
    page.close()
