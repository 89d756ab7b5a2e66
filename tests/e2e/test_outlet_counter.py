"""The 爱心超市 counter in real browsers. The member's QR page (a 390 px phone) is screenshotted; the
screenshot becomes a .y4m video that a second Chromium plays as its camera
(--use-fake-device-for-media-stream, --use-file-for-fake-video-capture), so the counter page's real
scanner (jsQR) reads a real code. Staff at the counter PC (1280 px) redeem two items, the receipt
shows, and the member's page shows the redemption; a supervisor refunds one line. Then staff on a
phone take the short code the member reads out. The ledger and the shelves verify clean."""

from __future__ import annotations

import re

import pytest

from app.db import unit_of_work
from app.outlets.checks import verify_stock
from app.outlets.models import Redemption
from ledger import Ledger
from tests.counter_shop import make_shop
from tests.e2e.conftest import ARGS, CHROMIUM, PHONE, SHOTS, sign_in_in_browser
from tests.e2e.fake_camera import camera_args, picture_as_camera

pytestmark = [pytest.mark.browser, pytest.mark.commits]

WIDE = {"viewport": {"width": 1280, "height": 900}, "locale": "zh-CN"}


def _add(page, typed: str, name: str) -> None:
    """Find an item by typing part of its name, and tap + beside it."""
    page.fill("#item-search", typed)
    row = page.locator(f"#item-list li[data-name='{name}']")
    assert row.is_visible()
    assert page.locator("#item-list li:visible").count() < page.locator("#item-list li").count()  # filtered
    row.locator("button.add").click()


def _no_sideways_scroll(page, width: int) -> None:
    scroll = page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= width, f"the page scrolls sideways ({scroll} px > {width} px)"


def test_staff_scan_the_members_phone_redeem_two_items_and_a_supervisor_refunds_one(
    app, town, live_server, browser, tmp_path
):
    shop = make_shop(app, town)
    tenant = town.district.id
    _, v_mobile, v_password = town.users["volunteer"]
    SHOTS.mkdir(exist_ok=True)

    # --- the member opens "My QR code" on their phone
    phone = browser.new_context(**PHONE).new_page()
    sign_in_in_browser(phone, live_server, tenant, v_mobile, v_password)
    phone.goto(f"{live_server}/me/qr")
    phone.wait_for_selector("#live-qr svg")
    short_code = phone.inner_text("#qr-short-code").strip()
    assert re.fullmatch(r"[2-9A-Z]{6}", short_code), short_code
    _no_sideways_scroll(phone, 390)
    shot = tmp_path / "member_qr.png"
    phone.screenshot(path=str(shot))  # what the phone's screen shows, held up to the counter's camera
    phone.screenshot(path=str(SHOTS / "member_qr_phone.png"))
    camera = picture_as_camera(shot, tmp_path / "member_qr.y4m")

    # --- the counter PC: a Chromium whose camera sees the member's phone
    counter_browser = browser.browser_type.launch(executable_path=CHROMIUM, args=ARGS + camera_args(camera))
    try:
        staff = counter_browser.new_context(**WIDE, permissions=["camera"]).new_page()
        _, s_mobile, s_password = shop.users["staff"]
        sign_in_in_browser(staff, live_server, tenant, s_mobile, s_password)
        staff.goto(f"{live_server}/outlets/{shop.outlet_a}/counter")
        staff.click("#scan-start")
        staff.wait_for_selector("#member-found:not([hidden])", timeout=30000)
        assert staff.inner_text("#member-name") == "李*"
        assert staff.inner_text("#member-points") == "200"
        _add(staff, "米", "大米 5kg")
        _add(staff, "油", "食用油 1.8L")
        assert staff.inner_text("#cart-total") == "80"
        assert staff.inner_text("#cart-after") == "120"
        staff.screenshot(path=str(SHOTS / "counter_cart_wide.png"), full_page=True)
        staff.click("#cart-review")
        assert staff.locator("#step-confirm").is_visible()
        assert "大米 5kg ×1" in staff.inner_text("#confirm-lines")
        with staff.expect_navigation():
            staff.click("#confirm-redeem")
        receipt = staff.inner_text(".receipt")
        assert "凤凰社区爱心超市" in receipt and "大米 5kg" in receipt and "食用油 1.8L" in receipt
        assert "80" in receipt and "120" in receipt
        staff.screenshot(path=str(SHOTS / "counter_receipt_wide.png"), full_page=True)
        receipt_url = staff.url
    finally:
        counter_browser.close()

    # --- the member's phone, still on "My QR code", shows what was just redeemed
    phone.wait_for_selector("#qr-redeemed:not([hidden]) .redeemed-item", timeout=20000)
    said = phone.inner_text("#qr-redeemed")
    assert "凤凰社区爱心超市" in said and "大米 5kg ×1" in said and "食用油 1.8L ×1" in said
    assert "120" in said
    phone.screenshot(path=str(SHOTS / "member_qr_redeemed_phone.png"), full_page=True)

    # --- a supervisor refunds the oil (one line), after a check page
    sup = browser.new_context(**WIDE).new_page()
    _, p_mobile, p_password = shop.users["supervisor"]
    sign_in_in_browser(sup, live_server, tenant, p_mobile, p_password)
    sup.goto(receipt_url)
    with sup.expect_navigation():
        sup.click("a[href$='/refund']")
    oil_row = sup.locator("table.refund-lines tr", has_text="食用油 1.8L")
    oil_row.locator("input").fill("1")
    sup.fill("#reason", "瓶盖漏油")
    with sup.expect_navigation():
        sup.click("main button[type=submit]")
    assert "食用油 1.8L ×1" in sup.inner_text("main")
    sup.screenshot(path=str(SHOTS / "counter_refund_confirm_wide.png"), full_page=True)
    with sup.expect_navigation():
        sup.click("main button.danger")
    receipt = sup.inner_text(".receipt")
    assert "瓶盖漏油" in receipt and "150" in receipt  # 120 + 30 back

    # --- the member's history says it in words
    phone.goto(f"{live_server}/me/points")
    history = phone.inner_text("main")
    assert "凤凰社区爱心超市 · 大米 5kg ×1 · 食用油 1.8L ×1" in history
    assert "食用油 1.8L ×1" in history and "+30" in history

    # --- staff on a phone: the camera is not used; the member reads out the short code
    staff_phone = browser.new_context(**PHONE).new_page()
    sign_in_in_browser(staff_phone, live_server, tenant, s_mobile, s_password)
    staff_phone.goto(f"{live_server}/outlets/{shop.outlet_a}/counter")
    _no_sideways_scroll(staff_phone, 390)
    # Before a member is found only step 1 shows: no stop button, no member card, no cart.
    for hidden in ("#scan-stop", "#member-found", "#step-cart", "#step-confirm", "#counter-error"):
        assert not staff_phone.locator(hidden).is_visible(), hidden
    staff_phone.fill("#member-code", short_code.lower())
    staff_phone.click("#code-form button[type=submit]")
    staff_phone.wait_for_selector("#member-found:not([hidden])")
    assert staff_phone.inner_text("#member-points") == "150"
    _add(staff_phone, "理", "理发")
    staff_phone.screenshot(path=str(SHOTS / "counter_cart_phone.png"), full_page=True)
    _no_sideways_scroll(staff_phone, 390)
    staff_phone.click("#cart-review")
    staff_phone.locator("#confirm-redeem").dblclick()  # a double tap redeems once
    staff_phone.wait_for_url(re.compile(r".*/counter/redemptions/\d+"))
    staff_phone.wait_for_selector(".receipt")
    assert "理发" in staff_phone.inner_text(".receipt")
    _no_sideways_scroll(staff_phone, 390)
    staff_phone.screenshot(path=str(SHOTS / "counter_receipt_phone.png"), full_page=True)

    # A used short code is refused in words.
    staff_phone.goto(f"{live_server}/outlets/{shop.outlet_a}/counter")
    staff_phone.fill("#member-code", short_code)
    staff_phone.click("#code-form button[type=submit]")
    staff_phone.wait_for_selector("#counter-error:not([hidden])")
    assert "我的二维码" in staff_phone.inner_text("#counter-error") or "My QR code" in staff_phone.inner_text(
        "#counter-error"
    )

    with app.app_context(), unit_of_work(app.extensions["db_sessionmaker"]) as s:
        from sqlalchemy import select

        rows = s.scalars(select(Redemption).where(Redemption.tenant_id == tenant)).all()
        assert sorted(r.total_points for r in rows) == [15, 80]
        assert Ledger(s, tenant=tenant).verify() == []
        assert verify_stock(s, tenant) == []
