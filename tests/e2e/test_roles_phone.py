"""In real Chromium at 390 px, for each role of the `town` fixture: sign in, open the home page and the
menu, and check that every link there answers (no 404, no 500), that the menu fits on one line, and that
the menu's and the home page's links and buttons are tap targets of at least 44 × 44 px. Then pick
places by typing part of their names, as a grid administrator does."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import PHONE, SHOTS, sign_in_in_browser

pytestmark = pytest.mark.browser

ROLES = ("volunteer", "organiser", "grid_admin", "fund_manager", "fund_approver", "district_admin", "auditor")

# Every visible link and button in the opened phone menu and in the page's main part, with its box.
TARGETS = """() => [...document.querySelectorAll('.menu a, .menu button, .menu summary, main a, main button')]
  .filter(e => e.offsetParent !== null)
  .map(e => { const r = e.getBoundingClientRect();
              return {text: e.textContent.trim(), href: e.getAttribute('href'), w: r.width, h: r.height}; })"""


@pytest.mark.parametrize("role", ROLES)
def test_every_home_and_menu_link_answers_and_is_big_enough(app, town, live_server, browser, role):
    _, mobile, password = town.users[role]
    page = browser.new_page(**PHONE)
    sign_in_in_browser(page, live_server, town.district.id, mobile, password)

    header = page.locator("header.top").bounding_box()
    assert header["height"] <= 70, f"the top bar wraps: {header['height']} px high"  # one line, not three
    assert page.locator(".nav-wide").is_hidden()
    page.click(".menu summary")
    assert page.locator(".nav-menu").is_visible()
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"home_menu_{role}_phone.png"), full_page=True)

    targets = page.evaluate(TARGETS)
    assert targets, "no links on the home page"
    small = [t for t in targets if t["w"] < 44 or t["h"] < 44]
    assert small == [], f"tap targets under 44 px for {role}: {small}"
    assert page.evaluate("document.documentElement.scrollWidth") <= 390

    links = sorted({t["href"] for t in targets if t["href"] and t["href"].startswith("/")})
    assert "/me" in links
    for href in links:
        resp = page.request.get(f"{live_server}{href}")
        assert resp.status not in (404, 500), f"{role}: {href} answered {resp.status}"
        # Each page the menu leads to fits the phone too.
        if resp.status == 200 and "text/html" in resp.headers.get("content-type", ""):
            page.goto(f"{live_server}{href}")
            assert page.evaluate("document.documentElement.scrollWidth") <= 390, f"{href} is wider than the phone"
    page.close()


def test_a_grid_is_picked_by_typing_part_of_its_name(app, town, live_server, browser):
    """The move form: type a few characters, see each match's path, choose one, and the unit moves."""
    from app.db import unit_of_work
    from app.places import services as places
    from app.places.models import OrgUnit

    with app.app_context(), app.test_request_context():
        with unit_of_work(app.extensions["db_sessionmaker"]) as s:
            unit_id = places.create_unit(
                s,
                town.district.id,
                name="临时微网格",
                kind="grid",
                grid_type="micro",
                parent=s.get(OrgUnit, town.grid_a1.id),
            ).id
    _, mobile, password = town.users["grid_admin"]
    page = browser.new_page(**PHONE)
    sign_in_in_browser(page, live_server, town.district.id, mobile, password)
    page.goto(f"{live_server}/org/{unit_id}")
    page.click("#move summary")
    page.type("#move input[name=parent_id-text]", "片区")
    options = page.locator("#move [role=option]")
    options.first.wait_for()
    shown = options.all_inner_texts()
    # Both of the grid admin's area grids, with their paths; nothing from 塘家社区 (outside the scope).
    assert any("凤凰街道 › 凤凰社区 › 凤凰第二片区网格" in t for t in shown), shown
    assert not any("塘家" in t for t in shown), shown
    assert all(options.nth(i).bounding_box()["height"] >= 44 for i in range(options.count()))
    page.screenshot(path=str(SHOTS / "pick_grid_phone.png"), full_page=True)
    options.filter(has_text="凤凰第二片区网格").click()
    assert page.input_value("#move input[name=parent_id]") == str(town.grid_a2.id)
    page.click("#move button[type=submit]")
    page.wait_for_url(f"**/org/{unit_id}")
    assert "凤凰第二片区网格" in page.inner_text("nav.crumbs")
    page.close()


def test_without_javascript_a_typed_name_is_resolved_by_the_server(app, town, live_server, browser):
    _, mobile, password = town.users["district_admin"]
    context = browser.new_context(java_script_enabled=False, **PHONE)
    page = context.new_page()
    sign_in_in_browser(page, live_server, town.district.id, mobile, password)
    member_id = town.users["volunteer"][0].id
    page.goto(f"{live_server}/members/{member_id}")
    page.click("#assign summary")
    page.fill("#assign input[name=org_unit_id-text]", "片区网格")  # three grids match
    page.click("#assign button[type=submit]")
    page.wait_for_load_state()
    choice = page.get_by_label("凤凰街道 › 塘家社区 › 塘家第一片区网格")
    assert choice.is_visible()
    choice.check()
    page.click("#assign button[type=submit]")
    page.wait_for_url(f"**/members/{member_id}")
    assert "塘家第一片区网格" in page.inner_text("main")
    context.close()


def test_long_names_stay_inside_their_card(app, town, live_server, browser):
    from app.db import unit_of_work
    from app.places import services as places
    from app.places.models import OrgUnit

    long_name = "GuangmingFenghuangTangjiaCommunityParkSideEstatePhaseTwoNorthBuildingsMicroGrid" + "一" * 8
    with app.app_context(), app.test_request_context():
        with unit_of_work(app.extensions["db_sessionmaker"]) as s:
            unit_id = places.create_unit(
                s,
                town.district.id,
                name=long_name,
                kind="grid",
                grid_type="micro",
                parent=s.get(OrgUnit, town.grid_a1.id),
            ).id
    _, mobile, password = town.users["grid_admin"]
    page = browser.new_page(**PHONE)
    sign_in_in_browser(page, live_server, town.district.id, mobile, password)
    for path in (f"/org/{unit_id}", f"/org/{town.grid_a1.id}", "/org/?q=Guangming"):
        page.goto(f"{live_server}{path}")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, path
        too_wide = page.evaluate("""() => [...document.querySelectorAll('.card, h1')].filter(
            c => c.scrollWidth > c.clientWidth + 1).map(c => c.className || c.tagName)""")
        assert too_wide == [], (path, too_wide)
    page.close()
