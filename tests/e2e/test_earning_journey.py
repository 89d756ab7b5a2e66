"""Earning by service, end to end in real Chromium: the organiser (1280 px) creates and publishes an
activity through the form and shows the rotating check-in code; the QR is decoded FROM A SCREENSHOT with
a real decoder (zxing-cpp); the volunteer (a 390 px phone, location allowed and inside the radius) opens
the decoded link, signs in and is checked in; later checks out the same way; the organiser approves on
the review page; the points are then the volunteer's, and the ledger verifies."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import zxingcpp
from PIL import Image
from sqlalchemy import select

from app.activities.models import Activity, Attendance
from app.db import unit_of_work, utcnow
from app.points import services as points
from app.times import to_beijing
from ledger import Ledger
from tests.e2e.conftest import PHONE, SHOTS, sign_in_in_browser

pytestmark = [pytest.mark.browser, pytest.mark.commits]

WIDE = {"viewport": {"width": 1280, "height": 900}, "locale": "zh-CN"}
PLACE = {"latitude": 30.2741, "longitude": 120.1551}  # the activity's point
NEARBY = {"latitude": 30.2745, "longitude": 120.1553}  # about 50 m away


def _decode(path) -> str:
    found = zxingcpp.read_barcodes(Image.open(path))
    assert len(found) == 1, f"expected one QR code in {path}, found {len(found)}"
    assert found[0].format == zxingcpp.BarcodeFormat.QRCode
    return found[0].text


def _shot(page, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / name), full_page=True)


def _scan_code(org, volunteer_page, activity_id: int, direction: str, tmp_path, live_server) -> str:
    """The organiser shows the code; the test photographs it and decodes the picture."""
    org.goto(f"{live_server}/organise/activities/{activity_id}/code/{direction}")
    org.wait_for_selector("#live-qr svg")
    _shot(org, f"organise_code_{direction}_wide.png")
    shot = tmp_path / f"code-{direction}.png"
    org.locator("#live-qr").screenshot(path=str(shot))
    url = _decode(shot)
    assert url.startswith(f"{live_server}/scan/"), url
    token = org.locator("#qr-token").inner_text().strip()
    assert url.endswith(token)
    return url


def test_organiser_publishes_volunteer_scans_in_and_out_and_earns_points(app, town, live_server, browser, tmp_path):
    sm = app.extensions["db_sessionmaker"]
    tenant = town.district.id
    volunteer, v_mobile, v_password = town.users["volunteer"]
    _, o_mobile, o_password = town.users["organiser"]

    # --- the organiser creates and publishes the activity through the form (1280 px)
    org_ctx = browser.new_context(**WIDE)
    org = org_ctx.new_page()
    sign_in_in_browser(org, live_server, tenant, o_mobile, o_password)
    org.goto(f"{live_server}/organise/")
    assert org.locator("h1").inner_text()
    org.click("a[href='/organise/activities/new']")
    now_bj = to_beijing(utcnow())
    org.fill("input[name=title]", "西湖边清洁")
    org.select_option("select[name=category]", "environment")
    org.fill("input[name=host_unit_id-text]", "凤凰社区")
    org.locator("#host_unit_id-list [role=option]", has_text="凤凰社区").first.click()  # picked from suggestions
    org.fill("input[name=place]", "凤凰社区广场东门")
    org.fill("input[name=starts_at]", (now_bj - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"))
    org.fill("input[name=ends_at]", (now_bj + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"))
    org.fill("input[name=capacity]", "20")
    org.fill("input[name=lat]", str(PLACE["latitude"]))
    org.fill("input[name=lng]", str(PLACE["longitude"]))
    org.fill("input[name=radius_m]", "200")
    # (No full-page screenshot here: in headless Chromium it resizes the page and the next click misses.)
    org.click("form.form-wide button[type=submit]")
    org.wait_for_url(re.compile(r"/organise/activities/\d+$"))
    assert "/organise/activities/" in org.url and org.url.rstrip("/").split("/")[-1].isdigit(), org.inner_text("main")
    activity_id = int(org.url.rstrip("/").split("/")[-1])
    with org.expect_navigation():
        org.click("a[href$='/publish']")
    # Publishing asks first (it cannot go back to a draft); nothing changes before the answer.
    assert "/publish" in org.url and org.locator("section.confirm").count() == 1
    with unit_of_work(sm) as s:
        assert s.get(Activity, activity_id).status == "draft"
    with org.expect_navigation():
        org.click("section.confirm button[type=submit]")
    _shot(org, "organise_activity_wide.png")
    with unit_of_work(sm) as s:
        a = s.get(Activity, activity_id)
        assert (a.status, a.radius_m, a.host_unit_id) == ("published", 200, town.community_a.id)

    # --- the volunteer's phone: location allowed, standing near the place
    v_ctx = browser.new_context(**PHONE, geolocation=NEARBY, permissions=["geolocation"])
    phone = v_ctx.new_page()
    url = _scan_code(org, phone, activity_id, "in", tmp_path, live_server)
    phone.goto(url)
    assert "/signin" in phone.url  # not signed in yet: sign in first, the scan continues after
    if phone.locator("select[name=district]").count():
        phone.select_option("select[name=district]", str(tenant))
    phone.fill("input[name=mobile]", v_mobile)
    phone.fill("input[name=password]", v_password)
    phone.click("main button[type=submit]")
    phone.wait_for_selector(".scan-result.scan-ok", timeout=15000)  # located, sent by itself, recorded
    _shot(phone, "scan_checked_in_phone.png")
    with unit_of_work(sm) as s:
        att = s.scalars(select(Attendance).where(Attendance.activity_id == activity_id)).one()
        assert (att.member_id, att.status, att.checkin_source) == (volunteer.id, "in", "scan")
        # They arrived at the start two hours ago (as if they had scanned then), so the hours are worth crediting.
        att.checked_in_at = s.get(Activity, activity_id).starts_at

    # --- later: the check-out code, the same way (already signed in: one step)
    url = _scan_code(org, phone, activity_id, "out", tmp_path, live_server)
    phone.goto(url)
    phone.wait_for_selector(".scan-result.scan-ok", timeout=15000)
    _shot(phone, "scan_checked_out_phone.png")
    assert "20" in phone.inner_text(".scan-result")  # 2 hours at 10 points an hour, waiting for review
    with unit_of_work(sm) as s:
        att = s.scalars(select(Attendance).where(Attendance.activity_id == activity_id)).one()
        assert (att.status, att.credited_minutes, att.points) == ("to_review", 120, 20)
        assert points.member_points(s, tenant, volunteer.id).pending == 20

    # --- the organiser's live view and review
    org.goto(f"{live_server}/organise/activities/{activity_id}/live")
    _shot(org, "organise_live_wide.png")
    org.goto(f"{live_server}/organise/activities/{activity_id}/review")
    _shot(org, "organise_review_wide.png")
    o_phone = browser.new_context(**PHONE).new_page()
    sign_in_in_browser(o_phone, live_server, tenant, o_mobile, o_password)
    o_phone.goto(f"{live_server}/organise/activities/{activity_id}/review")
    o_phone.click("details.review-change summary")
    assert o_phone.evaluate("document.documentElement.scrollWidth") <= 390
    _shot(o_phone, "organise_review_phone.png")
    org.check(f"input[name=approve][value='{att.id}']")
    with org.expect_navigation():
        org.click("form[action$='/review'] button[type=submit]")
    with unit_of_work(sm) as s:
        assert s.get(Attendance, att.id).status == "approved"
        summary = points.member_points(s, tenant, volunteer.id)
        assert (summary.available, summary.pending) == (20, 0)
        assert Ledger(s, tenant).verify() == []

    # --- the main pages at both widths, for the eye (and nothing wider than the phone)
    org.goto(f"{live_server}/organise/")
    _shot(org, "organise_home_wide.png")
    org.goto(f"{live_server}/organise/activities/new")
    _shot(org, "organise_new_activity_wide.png")
    org.goto(f"{live_server}/organise/activities/{activity_id}/poster/in")
    _shot(org, "organise_poster_wide.png")
    for path, name in [
        ("/organise/", "organise_home_phone.png"),
        (f"/organise/activities/{activity_id}", "organise_activity_phone.png"),
        (f"/organise/activities/{activity_id}/code/in", "organise_code_in_phone.png"),
        (f"/organise/activities/{activity_id}/by-hand?tail=0000", "organise_by_hand_phone.png"),
        ("/points/rules", "points_rules_phone.png"),
        (f"/organise/activities/{activity_id}/edit", "organise_edit_phone.png"),
    ]:
        o_phone.goto(f"{live_server}{path}")
        assert o_phone.evaluate("document.documentElement.scrollWidth") <= 390, f"{path} is wider than the phone"
        _shot(o_phone, name)
    admin = browser.new_context(**WIDE).new_page()
    _, a_mobile, a_password = town.users["district_admin"]
    sign_in_in_browser(admin, live_server, tenant, a_mobile, a_password)
    admin.goto(f"{live_server}/points/rules")
    _shot(admin, "points_rules_wide.png")
    for ctx in (org_ctx, v_ctx):
        ctx.close()


def test_a_volunteer_who_refuses_location_is_told_plainly(app, town, live_server, browser):
    sm = app.extensions["db_sessionmaker"]
    from app.activities import services

    with app.test_request_context(), unit_of_work(sm) as s:
        now = utcnow()
        a = services.create_activity(
            s,
            town.district.id,
            services.ActivityData(
                title="巡逻",
                category="safety",
                host_unit_id=town.community_a.id,
                place="东门",
                starts_at=now - timedelta(minutes=5),
                ends_at=now + timedelta(hours=1),
                capacity=5,
                lat=PLACE["latitude"],
                lng=PLACE["longitude"],
                radius_m=100,
            ),
            actor_user_id=None,
        )
        services.publish_activity(s, a, actor_user_id=None)
        from app.tokens import make_token

        token = make_token("activity_checkin", town.district.id, a.id)
        aid = a.id
    ctx = browser.new_context(**PHONE)  # no permission granted: the page's request is refused
    phone = ctx.new_page()
    _, mobile, password = town.users["volunteer"]
    sign_in_in_browser(phone, live_server, town.district.id, mobile, password)
    phone.goto(f"{live_server}/scan/{token}")
    phone.wait_for_function("document.getElementById('scan-status').textContent.length > 40", timeout=15000)
    status = phone.inner_text("#scan-status")
    form = phone.locator("#scan-form")
    assert status == form.get_attribute("data-denied-text")
    assert phone.locator("#scan-form button").is_enabled()
    _shot(phone, "scan_location_refused_phone.png")
    with unit_of_work(sm) as s:
        assert s.scalars(select(Attendance).where(Attendance.activity_id == aid)).first() is None
    ctx.close()
