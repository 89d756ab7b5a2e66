"""In real Chromium on a 390-px phone screen: a resident reports a safety hazard with a photo (the
phone's location filled in by static/js/gridreport-form.js), sees it waiting; the grid admin, on a
phone too, finds it in the triage queue, verifies it after confirming, and the resident sees it
verified with the points credited. Saves screenshots under tests/e2e/screenshots/."""

from __future__ import annotations

import os
from io import BytesIO

import pytest
from PIL import Image
from sqlalchemy import select

from app.db import unit_of_work
from app.gridreports.models import GridReport
from ledger import Ledger
from tests.e2e.conftest import PHONE, SHOTS, sign_in_in_browser

pytestmark = [pytest.mark.browser, pytest.mark.commits]
LOADED = "(() => { const i = document.querySelector('%s'); return !!(i && i.complete && i.naturalWidth > 0); })()"


def _photo(path) -> None:
    """A camera-sized photo bigger than a whole request may be (20 MB): only the page's shrinking
    before sending gets it through."""
    size = (4000, 3000)
    img = Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3))
    out = BytesIO()
    img.save(out, format="JPEG", quality=100)
    path.write_bytes(out.getvalue())
    assert path.stat().st_size > 20 * 1024 * 1024


def wait_until(page, expression: str, tries: int = 300) -> None:
    """Wait until a JavaScript expression is true, asked with page.evaluate (DevTools, outside the page's
    CSP: page.wait_for_function polls with eval, which the CSP's script-src 'self' refuses)."""
    for _ in range(tries):
        if page.evaluate(expression):
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"never true: {expression}")


def _db(app, fn):
    with app.app_context(), app.test_request_context(), unit_of_work(app.extensions["db_sessionmaker"]) as s:
        return fn(s)


def test_resident_reports_a_hazard_with_a_photo_and_the_grid_admin_verifies_it(
    app, town, live_server, browser, tmp_path
):
    app.config["UPLOAD_DIR"] = str(tmp_path / "uploads")
    photo = tmp_path / "hazard.jpg"
    _photo(photo)
    SHOTS.mkdir(exist_ok=True)
    resident, r_mobile, r_password = town.users["volunteer"]

    ctx = browser.new_context(
        **PHONE, permissions=["geolocation"], geolocation={"latitude": 22.7791, "longitude": 113.9362}
    )
    page = ctx.new_page()
    sign_in_in_browser(page, live_server, town.district.id, r_mobile, r_password)
    page.goto(f"{live_server}/grid-reports/new")
    file_input = page.locator("#photos")
    assert file_input.get_attribute("accept") == "image/*" and file_input.get_attribute("capture") is not None
    page.check("input[name=category][value=hazard]")
    page.fill("textarea[name=text]", "3栋楼道堆放纸箱，堵住了消防通道")
    file_input.set_input_files(str(photo))
    wait_until(page, LOADED % "#gr-previews img")
    # The phone already allows the location: the script fills it in by itself.
    wait_until(page, "document.querySelector('#gr-form input[name=lat]').value !== ''")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(SHOTS / "grid_report_form_phone.png"), full_page=True)
    page.click("#gr-form button[type=submit]")
    page.wait_for_url("**/me/grid-reports/*")
    report_id = int(page.url.rsplit("/", 1)[1])
    img = page.locator(".gr-photos img").first
    img.wait_for()
    wait_until(page, LOADED % ".gr-photos img")
    assert page.evaluate("document.querySelector('.gr-photos img').naturalWidth") == 1600
    assert page.locator(".tag.gr-submitted").is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(SHOTS / "grid_report_sent_phone.png"), full_page=True)

    stored = _db(app, lambda s: s.get(GridReport, report_id))
    assert (stored.grid_id, stored.category, stored.status) == (town.grid_a1.id, "hazard", "submitted")
    assert stored.lat == pytest.approx(22.7791) and stored.lng == pytest.approx(113.9362)

    _admin, a_mobile, a_password = town.users["grid_admin"]
    actx = browser.new_context(**PHONE)
    apage = actx.new_page()
    sign_in_in_browser(apage, live_server, town.district.id, a_mobile, a_password)
    apage.locator("main a[href='/grid-reports/triage']").first.click()
    apage.wait_for_url("**/grid-reports/triage")
    apage.click(f"a[href='/me/grid-reports/{report_id}']")
    apage.wait_for_url(f"**/me/grid-reports/{report_id}")
    wait_until(apage, LOADED % ".gr-photos img")
    assert apage.evaluate("document.querySelector('.gr-photos img').naturalWidth") == 1600
    apage.click("button[name=decision][value=verify]")
    confirm = apage.locator("button.danger")
    confirm.wait_for()
    assert apage.evaluate("document.documentElement.scrollWidth") <= 390
    apage.screenshot(path=str(SHOTS / "grid_report_confirm_phone.png"), full_page=True)
    # Nothing is decided before the confirmation.
    assert _db(app, lambda s: s.get(GridReport, report_id).status) == "submitted"
    confirm.click()
    apage.wait_for_url("**/grid-reports/triage")
    assert _db(app, lambda s: (s.get(GridReport, report_id).status, s.get(GridReport, report_id).points)) == (
        "verified",
        5,
    )
    assert _db(app, lambda s: Ledger(s, tenant=town.district.id).balance(f"member:{resident.id}").posted) == 5
    actx.close()

    page.goto(f"{live_server}/me/grid-reports")
    assert page.locator(".tag.gr-verified").first.is_visible()
    page.screenshot(path=str(SHOTS / "grid_report_verified_phone.png"), full_page=True)
    assert _db(app, lambda s: s.scalar(select(GridReport.id).where(GridReport.reporter_member_id == resident.id)))
    ctx.close()


def test_grid_admin_reads_the_summary_per_grid_on_a_desktop(app, town, live_server, browser, tmp_path):
    """At 1280 px: the summary of the admin's community draws its chart (vendored Chart.js) and offers
    the .xlsx; the queue lists the waiting report."""
    from app.gridreports import services

    app.config["UPLOAD_DIR"] = str(tmp_path / "uploads")
    resident = town.users["volunteer"][0]
    _db(
        app,
        lambda s: services.submit_report(
            s, s.get(type(resident), resident.id), category="facility", text="路灯不亮已有一周"
        ),
    )
    _admin, mobile, password = town.users["grid_admin"]
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = ctx.new_page()
    sign_in_in_browser(page, live_server, town.district.id, mobile, password)
    page.goto(f"{live_server}/grid-reports/summary/{town.community_a.id}")
    wait_until(
        page,
        "(() => { const c = document.getElementById('report-chart');"
        " return c && c.width > 0 && window.Chart && window.Chart.getChart(c); })()",
    )
    assert page.locator(f"a[href^='/grid-reports/summary/{town.community_a.id}.xlsx']").is_visible()
    assert "凤凰第一片区网格" in page.inner_text("main")
    page.screenshot(path=str(SHOTS / "grid_report_summary_desktop.png"), full_page=True)
    page.goto(f"{live_server}/grid-reports/triage")
    assert "路灯不亮已有一周" in page.inner_text("main")
    page.screenshot(path=str(SHOTS / "grid_report_queue_desktop.png"), full_page=True)
    ctx.close()
