"""In real Chromium on a 390-px phone: a volunteer signs in, browses activities, opens one, signs up,
finds it on "my activities" and the home page, and cancels (after confirming). Every link and button
is at least 44 px tall and the page never scrolls sideways. Screenshots at 390 and 1280 px go to
tests/e2e/screenshots/.

Debian's chromium package (/usr/bin/chromium) driven by Playwright for Python; no downloaded browser."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.activities import services as activities
from app.db import unit_of_work, utcnow
from tests.e2e.conftest import PHONE, SHOTS, sign_in_in_browser

# A live server answers from its own thread and connections.
pytestmark = [pytest.mark.browser, pytest.mark.commits]

LONG_TITLE = "社区环境整治与垃圾分类宣传志愿服务活动（第二期）——欢迎居民朋友们踊跃报名参加共建美好家园"


def make_activity(app, town, title: str, host, starts_in: timedelta, capacity: int = 10) -> int:
    with app.app_context(), app.test_request_context():
        with unit_of_work(app.extensions["db_sessionmaker"]) as s:
            starts = utcnow().replace(microsecond=0, second=0) + starts_in
            a = activities.create_activity(
                s,
                town.district.id,
                activities.ActivityData(
                    title=title,
                    category="environment",
                    host_unit_id=host.id,
                    place="凤凰社区党群服务中心门前广场",
                    starts_at=starts,
                    ends_at=starts + timedelta(hours=2),
                    capacity=capacity,
                    description="请穿方便活动的衣服，自带水杯。",
                ),
                actor_user_id=None,
            )
            activities.publish_activity(s, a, actor_user_id=None)
            return a.id


def check_phone_layout(page, width: int = 390) -> None:
    """No sideways scrolling; every visible link, button and field in the page is at least 44 px tall."""
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    small = page.evaluate(
        """() => [...document.querySelectorAll('main a, main button, main input, main select, main summary')]
            .filter(e => e.offsetParent !== null && e.type !== 'hidden' && e.type !== 'checkbox')
            .map(e => [e.outerHTML.slice(0, 80), e.getBoundingClientRect().height])
            .filter(([, h]) => h < 44)"""
    )
    assert small == [], small


def test_volunteer_signs_up_and_cancels_on_a_phone(app, town, live_server, browser):
    aid = make_activity(app, town, LONG_TITLE, town.community_a, timedelta(days=1))
    make_activity(app, town, "塘家社区夜间巡逻", town.community_b, timedelta(hours=6), capacity=3)
    _member, mobile, password = town.users["volunteer"]
    SHOTS.mkdir(exist_ok=True)

    page = browser.new_page(**PHONE)
    sign_in_in_browser(page, live_server, town.district.id, mobile, password)
    check_phone_layout(page)

    # The menu leads to the activities.
    page.click("details.menu > summary")
    page.click("nav.nav-menu a[href='/activities/']")
    page.wait_for_url("**/activities/")
    card = page.locator(".act-card", has_text="第二期")
    assert card.is_visible()
    # The nearer activity (own community) comes first although the other one starts sooner.
    titles = page.locator(".act-title").all_inner_texts()
    assert titles.index(LONG_TITLE) < titles.index("塘家社区夜间巡逻")
    # The long title wraps inside its card.
    box, title_box = card.bounding_box(), card.locator(".act-title").bounding_box()
    assert title_box["x"] + title_box["width"] <= box["x"] + box["width"] + 1
    check_phone_layout(page)
    page.screenshot(path=str(SHOTS / "volunteer_browse_phone.png"), full_page=True)

    # Filter by community, picked by its name.
    page.click(".filters > summary")
    page.select_option("select[name=community]", label=town.community_b.name)
    check_phone_layout(page)
    page.screenshot(path=str(SHOTS / "volunteer_filter_phone.png"), full_page=True)
    page.click(".filter-form button[type=submit]")
    page.wait_for_url(f"**/activities/?**community={town.community_b.id}**")
    assert page.locator(".act-title").all_inner_texts() == ["塘家社区夜间巡逻"]
    page.goto(f"{live_server}/activities/")
    card = page.locator(".act-card", has_text="第二期")

    card.locator(".act-title").click()
    page.wait_for_url(f"**/activities/{aid}")
    check_phone_layout(page)
    page.click("main form button[type=submit]")  # sign up
    page.wait_for_url(f"**/activities/{aid}")
    assert page.locator(".mine.confirmed").is_visible()
    check_phone_layout(page)
    page.screenshot(path=str(SHOTS / "volunteer_signed_up_phone.png"), full_page=True)

    page.goto(f"{live_server}/me/activities")
    assert LONG_TITLE in page.inner_text("main")
    check_phone_layout(page)
    page.goto(f"{live_server}/")
    assert LONG_TITLE in page.inner_text("main")
    assert page.locator("main a[href='/me/qr']").is_visible()
    check_phone_layout(page)
    page.screenshot(path=str(SHOTS / "volunteer_home_phone.png"), full_page=True)

    # Cancel: the page asks first, then the sign-up is gone.
    page.goto(f"{live_server}/activities/{aid}")
    page.click(f"main a[href='/activities/{aid}/cancel-signup']")
    page.wait_for_url(f"**/activities/{aid}/cancel-signup")
    check_phone_layout(page)
    page.click("main button.danger")
    page.wait_for_url(f"**/activities/{aid}")
    assert page.locator(".mine.confirmed").count() == 0
    assert page.locator("main form button[type=submit]").is_visible()  # may sign up again
    page.goto(f"{live_server}/me/activities")
    assert LONG_TITLE not in page.inner_text("main")

    page.goto(f"{live_server}/notices")
    check_phone_layout(page)
    page.goto(f"{live_server}/me/points")
    check_phone_layout(page)
    page.screenshot(path=str(SHOTS / "volunteer_points_phone.png"), full_page=True)
    page.close()

    wide = browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    sign_in_in_browser(wide, live_server, town.district.id, mobile, password)
    wide.screenshot(path=str(SHOTS / "volunteer_home_wide.png"), full_page=True)
    wide.goto(f"{live_server}/activities/")
    assert wide.evaluate("document.documentElement.scrollWidth") <= 1280
    wide.screenshot(path=str(SHOTS / "volunteer_browse_wide.png"), full_page=True)
    wide.goto(f"{live_server}/activities/{aid}")
    wide.screenshot(path=str(SHOTS / "volunteer_activity_wide.png"), full_page=True)
    wide.close()
