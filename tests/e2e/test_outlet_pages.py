"""Outlet pages in a real browser, at 390 px (a phone) and 1280 px: a supervisor counts the shelf, sees the
difference against the books, gives its reason, confirms and sees the books corrected (账物相符); the
district admin opens the view of all outlets and sees both charts drawn by the vendored Chart.js, with no
console error (a CSP refusal would be one) and no sideways scrolling on the phone."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.db import unit_of_work
from app.outlets import redemption
from app.outlets.models import StockCount
from app.outlets.page_queries import shelf_now
from app.tokens import make_token
from tests.e2e.conftest import PHONE, SHOTS, sign_in_in_browser
from tests.factories import PASSWORD
from tests.outlets_world import make_shop, member_with_points, sound

pytestmark = [pytest.mark.browser, pytest.mark.commits]

WIDE = {"viewport": {"width": 1280, "height": 900}, "locale": "en-GB"}


def _watch(page, errors: list[str]) -> None:
    page.on(
        "console",
        lambda msg: (
            errors.append(msg.text)
            if msg.type == "error" and not msg.text.startswith("Failed to load resource")
            else None
        ),
    )
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on(
        "response",
        lambda r: (
            errors.append(f"{r.status} {r.url}") if r.status >= 400 and not r.url.endswith("/favicon.ico") else None
        ),
    )


@pytest.fixture
def shop(app, town):
    sm = app.extensions["db_sessionmaker"]
    with app.app_context(), app.test_request_context(), unit_of_work(sm) as s:
        shop = make_shop(s, town)
        member = member_with_points(s, town, 500)
        token = make_token("member", town.district.id, member.id)
        redemption.redeem(s, shop.a, None, [(shop.rice.id, 1), (shop.oil.id, 2)], "e2e-cart-1", member_token=token)
    return shop


def _count_and_record(page, live_server, outlet, rice, oil, counted_rice: int, shot: str, width: int) -> None:
    page.goto(f"{live_server}/outlets/{outlet.id}/count")
    field = page.locator(f"input[name='counted-{rice.id}']")
    box = field.bounding_box()
    assert box and box["height"] >= 44, box  # a tap target a thumb can hit
    field.fill(str(counted_rice))
    # oil: the books after the redemption say 18 at outlet A and 20 at B; count it right.
    page.fill(f"input[name='counted-{oil.id}']", "18" if outlet.name.startswith("凤凰") else "20")
    with page.expect_navigation():
        page.locator("main button[type=submit]").first.click()
    assert "/counts/" in page.url, page.url
    row = page.locator("tr.differs")
    assert row.count() == 1 and "大米" in row.inner_text()
    assert page.evaluate("() => document.documentElement.scrollWidth") <= width
    page.fill(f"input[name='reason-{rice.id}']", "破损未登记")
    with page.expect_navigation():
        page.locator("main button[type=submit]").first.click()
    confirm = page.locator("button[name=confirm][value=yes]")
    assert confirm.is_visible()
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / shot), full_page=True)
    with page.expect_navigation():
        confirm.click()
    assert page.locator(".flash.success, .flash").first.is_visible()
    page.goto(f"{live_server}/outlets/{outlet.id}/stock-report")
    assert page.locator(".reconciled.yes").is_visible()


def test_supervisor_counts_stock_and_records_a_difference(app, town, shop, live_server, browser):
    sm = app.extensions["db_sessionmaker"]
    tenant = town.district.id
    errors: list[str] = []

    phone = browser.new_context(**PHONE).new_page()
    _watch(phone, errors)
    sign_in_in_browser(phone, live_server, tenant, shop.people["supervisor_a"].mobile, PASSWORD)
    _count_and_record(phone, live_server, shop.a, shop.rice, shop.oil, 17, "outlet_count_phone.png", 390)
    assert errors == []

    wide = browser.new_context(**WIDE).new_page()
    _watch(wide, errors)
    sign_in_in_browser(wide, live_server, tenant, shop.people["supervisor_b"].mobile, PASSWORD)
    wide.goto(f"{live_server}/?lang=en")
    _count_and_record(wide, live_server, shop.b, shop.rice, shop.oil, 21, "outlet_count_wide.png", 1280)
    assert "Stock report" in wide.inner_text("h1")
    assert errors == []

    with app.app_context(), unit_of_work(sm) as s:
        shelf = shelf_now(s, tenant)
        assert shelf[(shop.a.id, shop.rice.id)] == 17 and shelf[(shop.b.id, shop.rice.id)] == 21
        counts = s.scalars(select(StockCount).where(StockCount.tenant_id == tenant)).all()
        assert {c.status for c in counts} == {"applied"}
        assert sound(s, tenant) == []


def _charts_drawn(page) -> list[dict]:
    page.wait_for_function(
        "() => window.Chart && [...document.querySelectorAll('canvas[data-chart]')]"
        ".every(c => window.Chart.getChart(c))"
    )
    return page.evaluate(
        """() => [...document.querySelectorAll('canvas[data-chart]')].map(c => {
            const r = c.getBoundingClientRect();
            return {w: r.width, h: r.height, bars: window.Chart.getChart(c).getDatasetMeta(0).data.length}; })"""
    )


def test_district_admin_sees_all_outlets_side_by_side(app, town, shop, live_server, browser):
    _, mobile, password = town.users["district_admin"]
    errors: list[str] = []
    phone = browser.new_context(**PHONE).new_page()
    _watch(phone, errors)
    sign_in_in_browser(phone, live_server, town.district.id, mobile, password)
    phone.goto(f"{live_server}/outlets/")
    with phone.expect_navigation():
        phone.locator("a.button[href$='/outlets/district']").click()
    drawn = _charts_drawn(phone)
    assert [d["bars"] for d in drawn] == [2, 2]  # two outlets; rice and oil redeemed
    assert all(0 < d["w"] <= 390 and d["h"] > 0 for d in drawn), drawn
    assert phone.evaluate("() => document.documentElement.scrollWidth") <= 390
    assert "凤凰社区爱心超市" in phone.inner_text("main") and "塘家社区爱心超市" in phone.inner_text("main")
    SHOTS.mkdir(exist_ok=True)
    phone.screenshot(path=str(SHOTS / "outlets_district_phone.png"), full_page=True)
    assert errors == []

    wide = browser.new_context(**WIDE).new_page()
    _watch(wide, errors)
    sign_in_in_browser(wide, live_server, town.district.id, mobile, password)
    wide.goto(f"{live_server}/outlets/district?lang=en")
    drawn = _charts_drawn(wide)
    assert all(d["w"] > 390 for d in drawn), drawn
    assert "All outlets compared" in wide.inner_text("h1")
    with wide.expect_download() as got:
        wide.locator("a.button", has_text="Download (.xlsx)").click()
    assert got.value.suggested_filename.endswith(".xlsx")
    wide.screenshot(path=str(SHOTS / "outlets_district_wide.png"), full_page=True)
    assert errors == []
