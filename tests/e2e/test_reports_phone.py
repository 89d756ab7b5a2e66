"""The compliance reports in a real browser: a grid admin on a 390 px phone picks a community by typing
part of its name, opens the check-ins report and sees the chart drawn by the vendored Chart.js (a canvas
of non-zero size that Chart.js owns) with no console error (a CSP refusal would be one); then the grid
coverage report, and the same at 1280 px in English."""

from __future__ import annotations

from datetime import datetime, time

import pytest

from app.checkins import services as chk
from app.db import unit_of_work
from app.people.models import Member
from app.reports import services as rep
from app.tokens import make_token
from tests.e2e.conftest import PHONE, SHOTS, sign_in_in_browser

pytestmark = [pytest.mark.browser, pytest.mark.commits]

WIDE = {"viewport": {"width": 1280, "height": 900}, "locale": "en-GB"}


def _watch(page, errors: list[str]) -> None:
    """Console errors and failed loads of the page (a CSP refusal is a console error). The browser's own
    /favicon.ico request, which the app does not serve, is not the page's."""
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


def _chart_drawn(page) -> dict:
    page.wait_for_function("() => window.Chart && window.Chart.getChart(document.getElementById('report-chart'))")
    return page.evaluate(
        """() => { const c = document.getElementById('report-chart'); const r = c.getBoundingClientRect();
        return {w: r.width, h: r.height, pw: c.width, ph: c.height,
                bars: window.Chart.getChart(c).getDatasetMeta(0).data.length}; }"""
    )


def test_grid_admin_sees_the_check_in_chart_on_a_phone(app, town, live_server, browser):
    sm = app.extensions["db_sessionmaker"]
    tenant = town.district.id
    today = rep.beijing_today()
    with app.app_context(), app.test_request_context(), unit_of_work(sm) as s:
        m = s.get(Member, town.users["volunteer"][0].id)
        m.is_party_member = True
        m.checkin_community_id = town.community_a.id
        site = chk.create_site(s, tenant, None, s.merge(town.community_a), "")
        token = make_token("site_poster", tenant, site.id)
        for back in (0, 1, 3):
            day = rep.months_back(today, back)
            chk.check_in(s, m, token, now=datetime.combine(day, time(4, 0)))
    _, mobile, password = town.users["grid_admin"]
    errors: list[str] = []

    page = browser.new_context(**PHONE).new_page()
    _watch(page, errors)
    sign_in_in_browser(page, live_server, tenant, mobile, password)
    page.goto(f"{live_server}/reports/")
    page.fill("input[name='unit-text']", "凤凰社")
    page.wait_for_selector(".pick-list li", state="visible")
    page.locator(".pick-list li", has_text="凤凰社区").first.click()
    with page.expect_navigation():
        page.click("main button[type=submit]")
    assert page.url.endswith(f"/reports/units/{town.community_a.id}/party-checkins"), page.url
    drawn = _chart_drawn(page)
    assert drawn["w"] > 0 and drawn["h"] > 0 and drawn["pw"] > 0 and drawn["ph"] > 0, drawn
    assert drawn["bars"] == 12
    assert drawn["w"] <= 390
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390  # no sideways scrolling
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "reports_checkins_phone.png"), full_page=True)
    page.goto(f"{live_server}/reports/units/{town.community_a.id}/grid-coverage")
    assert _chart_drawn(page)["bars"] == 2  # the community's two grids
    page.screenshot(path=str(SHOTS / "reports_coverage_phone.png"), full_page=True)
    assert errors == []

    wide = browser.new_context(**WIDE).new_page()
    _watch(wide, errors)
    sign_in_in_browser(wide, live_server, tenant, mobile, password)
    wide.goto(f"{live_server}/reports/units/{town.community_a.id}/party-checkins?lang=en")
    assert _chart_drawn(wide)["w"] > 390
    assert "check-ins by month" in wide.inner_text("h1").lower()
    wide.screenshot(path=str(SHOTS / "reports_checkins_wide.png"), full_page=True)
    assert errors == []
