"""A party member's check-in (报到) in a real browser: the grid admin prints a site's poster (1280 px); the
test photographs the poster's QR code and decodes it with a real decoder (zxing-cpp); the party member
(a 390 px phone, location allowed, at the site) opens that URL, signs in, is checked in by the page
itself, and sees the points on the result and on "my check-ins". The ledger verifies clean."""

from __future__ import annotations

import pytest
import zxingcpp
from PIL import Image
from sqlalchemy import select

from app.checkins import services as chk
from app.checkins.models import PartyCheckin
from app.db import unit_of_work
from app.people.models import Member
from app.points import services as points
from ledger import Ledger
from tests.e2e.conftest import PHONE, SHOTS, sign_in_in_browser

pytestmark = [pytest.mark.browser, pytest.mark.commits]

WIDE = {"viewport": {"width": 1280, "height": 900}, "locale": "zh-CN"}
SITE = {"latitude": 22.7780, "longitude": 113.9360}
NEARBY = {"latitude": 22.7783, "longitude": 113.9361}  # about 35 m away


def test_party_member_scans_a_site_poster_signs_in_and_sees_the_points(app, town, live_server, browser, tmp_path):
    sm = app.extensions["db_sessionmaker"]
    tenant = town.district.id
    member, mobile, password = town.users["volunteer"]
    with app.app_context(), app.test_request_context(), unit_of_work(sm) as s:
        m = s.get(Member, member.id)
        m.is_party_member = True
        m.checkin_community_id = town.community_a.id
        site_id = chk.create_site(
            s,
            tenant,
            None,
            s.merge(town.community_a),
            "凤凰社区党群服务中心",
            lat=SITE["latitude"],
            lng=SITE["longitude"],
            radius_m=200,
        ).id

    # --- the grid admin prints the poster
    _, a_mobile, a_password = town.users["grid_admin"]
    admin = browser.new_context(**WIDE).new_page()
    sign_in_in_browser(admin, live_server, tenant, a_mobile, a_password)
    admin.goto(f"{live_server}/checkins/sites/{site_id}")
    with admin.expect_navigation():
        admin.click(f"a[href='/checkins/sites/{site_id}/poster']")
    admin.wait_for_selector(".poster-qr svg")
    SHOTS.mkdir(exist_ok=True)
    admin.screenshot(path=str(SHOTS / "checkin_site_poster_wide.png"), full_page=True)
    shot = tmp_path / "poster.png"
    admin.locator(".poster-qr").screenshot(path=str(shot))
    found = zxingcpp.read_barcodes(Image.open(shot))
    assert len(found) == 1 and found[0].format == zxingcpp.BarcodeFormat.QRCode
    url = found[0].text
    assert url.startswith(f"{live_server}/site-scan/AX1.SP."), url

    # --- the party member's phone, at the site
    phone = browser.new_context(**PHONE, geolocation=NEARBY, permissions=["geolocation"]).new_page()
    phone.goto(url)
    assert "/signin" in phone.url
    if phone.locator("select[name=district]").count():
        phone.select_option("select[name=district]", str(tenant))
    phone.fill("input[name=mobile]", mobile)
    phone.fill("input[name=password]", password)
    phone.click("main button[type=submit]")
    phone.wait_for_selector(".scan-result.scan-ok", timeout=15000)  # located, sent by itself, recorded
    phone.screenshot(path=str(SHOTS / "party_checked_in_phone.png"), full_page=True)
    assert "+2" in phone.inner_text(".checkin-points")
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the result page scrolls sideways on a phone ({width} px)"
    phone.goto(f"{live_server}/me/checkins")
    text = phone.inner_text("main")
    assert "凤凰社区党群服务中心" in text and "+2" in text
    phone.screenshot(path=str(SHOTS / "my_checkins_phone.png"), full_page=True)

    # Every page of the area fits a phone (no sideways scrolling).
    admin_phone = browser.new_context(**PHONE).new_page()
    sign_in_in_browser(admin_phone, live_server, tenant, a_mobile, a_password)
    for who, pg, path in [
        ("party", phone, "/me/visits"),
        ("admin", admin_phone, "/checkins/sites/"),
        ("admin", admin_phone, "/checkins/sites/new"),
        ("admin", admin_phone, f"/checkins/sites/{site_id}"),
        ("admin", admin_phone, f"/checkins/sites/{site_id}/code"),
        ("admin", admin_phone, "/checkins/visits/"),
    ]:
        pg.goto(f"{live_server}{path}")
        width = pg.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"{path} scrolls sideways on a phone for the {who} ({width} px)"
    admin_phone.goto(f"{live_server}/checkins/sites/new")
    admin_phone.screenshot(path=str(SHOTS / "checkin_site_new_phone.png"), full_page=True)

    with unit_of_work(sm) as s:
        c = s.scalars(select(PartyCheckin).where(PartyCheckin.member_id == member.id)).one()
        assert (c.site_id, c.source, c.points, c.points_cut) == (site_id, "poster", 2, 0)
        assert c.distance_m is not None and c.distance_m < 200
        assert points.member_points(s, tenant, member.id).available == 2
        assert Ledger(s, tenant=tenant).verify() == []
