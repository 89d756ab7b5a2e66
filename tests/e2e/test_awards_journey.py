"""In real Chromium: a district administrator at a 1280-px desktop awards points to one member above
the district's approval threshold, picking the member by typing part of the name; a second district
administrator approves it on a 390-px phone; the member sees the points on their own page.

Debian's chromium package (/usr/bin/chromium) driven by Playwright for Python; no downloaded browser."""

from __future__ import annotations

import pytest

from app.points import awards
from tests.e2e.conftest import PHONE, SHOTS, sign_in_in_browser
from tests.e2e.test_volunteer_phone import check_phone_layout
from tests.web.test_activities_api import _extra_user
from tests.web.test_api import commit

pytestmark = [pytest.mark.browser, pytest.mark.commits]

DESKTOP = {"viewport": {"width": 1280, "height": 900}, "locale": "zh-CN"}


def test_an_award_above_the_threshold_is_proposed_approved_and_seen(app, town, live_server, browser):
    member, member_mobile, member_password = town.users["volunteer"]
    _extra_user(app, town, "district_admin2", "孙丽", roles=[("district_admin", None)])
    commit(app, lambda s: awards.set_threshold(s, town.district.id, 100, reason="测试"))
    SHOTS.mkdir(exist_ok=True)

    # The maker, at a desktop: types part of the name, picks the member from the suggestions.
    _admin, mobile, password = town.users["district_admin"]
    desk = browser.new_page(**DESKTOP)
    sign_in_in_browser(desk, live_server, town.district.id, mobile, password)
    desk.goto(f"{live_server}/points/awards")
    desk.fill("input[name=one-member]", member.name[1:])
    option = desk.locator(".pick-list [role=option]", has_text=member.name)
    option.first.wait_for()
    option.first.dispatch_event("mousedown")
    assert desk.input_value("input[name=one-member_id]") == str(member.id)
    assert desk.input_value("input[name=one-member]").startswith(member.name)
    desk.fill("input[name=one-points]", "300")
    desk.select_option("select[name=one-category]", "civic")
    desk.fill("input[name=one-reason]", "创文表彰")
    desk.screenshot(path=str(SHOTS / "award-propose-1280.png"), full_page=True)
    desk.click("main form:has(input[name=one-member]) button[type=submit]")
    desk.wait_for_url("**/points/awards/*")
    award_url = desk.url
    assert 'value="approve"' not in desk.content()  # the maker cannot approve their own award
    assert desk.evaluate("document.documentElement.scrollWidth") <= 1280

    # The checker, on a phone: opens the queue, approves with a reason.
    _checker, mobile2, password2 = town.users["district_admin2"]
    phone = browser.new_page(**PHONE)
    sign_in_in_browser(phone, live_server, town.district.id, mobile2, password2)
    phone.goto(f"{live_server}/points/awards")
    phone.click(f"main a[href='{award_url.removeprefix(live_server)}']")
    phone.wait_for_url(award_url)
    check_phone_layout(phone)
    phone.fill("input[name=decision_reason]", "核实无误")
    phone.screenshot(path=str(SHOTS / "award-approve-390.png"), full_page=True)
    phone.click("button[value=approve]")
    # It asks first, naming the points and the members; then the confirmation posts them.
    phone.wait_for_selector("section.confirm")
    check_phone_layout(phone)
    assert "核实无误" in phone.inner_text("main")
    phone.click("section.confirm button[type=submit]")
    phone.wait_for_url(award_url)
    assert "核实无误" in phone.inner_text("main")

    # The member sees the points and the reason.
    own = browser.new_page(**PHONE)
    sign_in_in_browser(own, live_server, town.district.id, member_mobile, member_password)
    own.goto(f"{live_server}/me/points")
    text = own.inner_text("main")
    assert "300" in text and "创文表彰" in text
    check_phone_layout(own)
    own.screenshot(path=str(SHOTS / "award-seen-390.png"), full_page=True)
