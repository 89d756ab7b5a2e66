"""In real Chromium on a 390-px phone: a volunteer with approved hours goes from "my activities" to the
certificate page, asks for a certificate over a period, downloads the PDF (a real browser download),
and opens the verify URL its QR code holds, which shows the certificate as genuine with the masked name.

Debian's chromium package (/usr/bin/chromium) driven by Playwright for Python; no downloaded browser."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.db import utcnow
from app.times import to_beijing
from tests.e2e.conftest import PHONE, SHOTS, sign_in_in_browser
from tests.e2e.test_volunteer_phone import check_phone_layout
from tests.web.test_certificates import qr_codes_in, serve

pytestmark = [pytest.mark.browser, pytest.mark.commits]


def test_a_volunteer_downloads_a_certificate_and_checks_it(app, town, live_server, browser, tmp_path):
    member, mobile, password = town.users["volunteer"]
    serve(app, town, member.id, "敬老院陪护", 120, "approved")
    serve(app, town, member.id, "河道清理", 120, "rejected", day=2)
    SHOTS.mkdir(exist_ok=True)

    page = browser.new_page(**PHONE, accept_downloads=True)
    sign_in_in_browser(page, live_server, town.district.id, mobile, password)
    page.goto(f"{live_server}/me/activities")
    page.click("main a[href='/me/certificates']")
    page.wait_for_url("**/me/certificates")
    check_phone_layout(page)

    today = to_beijing(utcnow()).date()
    page.fill("input[name=period_from]", today.isoformat())
    page.fill("input[name=period_to]", (today + timedelta(days=7)).isoformat())
    page.click("main form button[type=submit]")
    page.wait_for_url("**/me/certificates")
    item = page.locator(".cert-list li").first
    assert "2" in item.inner_text()  # 2 hours: the rejected activity does not count
    check_phone_layout(page)
    page.screenshot(path=str(SHOTS / "certificate-390.png"), full_page=True)

    with page.expect_download() as info:
        item.locator("a[download]").click()
    saved = tmp_path / "certificate.pdf"
    info.value.save_as(saved)
    body = saved.read_bytes()
    assert body.startswith(b"%PDF")
    [url] = qr_codes_in(body)
    assert url.startswith(live_server + "/verify/")

    # Anyone can check it, signed in or not.
    other = browser.new_page(**PHONE)
    other.goto(url)
    card = other.locator("section.verified")
    assert card.get_attribute("data-genuine") == "yes"
    text = card.inner_text()
    assert f"{member.name[0]}*" in text and member.name not in text and "2" in text
    check_phone_layout(other)
    other.screenshot(path=str(SHOTS / "certificate-verify-390.png"), full_page=True)
