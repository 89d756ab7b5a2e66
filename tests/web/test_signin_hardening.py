"""Security review, issue 6: sign-in redirects only within the site, one throttle per account however
it is spelled, a lockout message that tells the truth, password changes that cannot 500."""

from __future__ import annotations

import pytest

from app.db import unit_of_work
from tests.conftest import csrf_from, sign_in

HOSTILE_NEXT = [
    "//evil.example",
    "//evil.example/path",
    "/%09/evil.example",  # a tab: browsers drop it, leaving //evil.example
    "/%0a/evil.example",  # a newline, likewise
    "/%0d%0a/evil.example",
    "/%00/evil.example",
    "/\\evil.example",  # browsers read \ as /
    "/\\/evil.example",
    "\\\\evil.example",
    "%5C%5Cevil.example",
    "https://evil.example",
    "http:/evil.example",
    "https:evil.example",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "data:text/html,hi",
    "%2F%2Fevil.example",
    "%09",
    "\t",
    "\t//evil.example",
    " //evil.example",
    "/%E3%80%80/evil.example",  # an ideographic space
    "/%E2%80%8B/evil.example",  # a zero-width space (format character)
    "evil.example",
    "///evil.example",
    "/" + "a" * 3000,
]


def _post_signin(client, town, role, query, **data):
    member, mobile, password = town.users[role]
    page = client.get("/signin")
    form = {
        "csrf_token": csrf_from(page.get_data(as_text=True)),
        "district": town.district.id,
        "mobile": mobile,
        "password": password,
        **data,
    }
    return client.post("/signin" + query, data=form)


@pytest.mark.parametrize("target", HOSTILE_NEXT)
def test_signin_never_redirects_off_site(client, town, target):
    resp = _post_signin(client, town, "volunteer", f"?next={target}")
    if "%00" in target:  # a NUL is refused before anything else (400, no redirect at all)
        assert resp.status_code == 400 and "Location" not in resp.headers
        return
    assert resp.status_code == 302
    assert resp.headers["Location"] == "/"


@pytest.mark.parametrize("target", ["/members/", "/members/?q=%E5%BC%A0&page=2", "/me/qr", "/org/3#top"])
def test_signin_follows_a_same_site_next(client, town, target):
    resp = _post_signin(client, town, "volunteer", "?next=" + target.replace("&", "%26").replace("#", "%23"))
    assert resp.status_code == 302
    assert resp.headers["Location"] == target


def test_the_unauthorised_redirect_round_trips_through_signin(client, town):
    resp = client.get("/members/?q=a")
    assert resp.status_code == 302
    signin_url = resp.headers["Location"]
    page = client.get(signin_url)
    _, mobile, password = town.users["grid_admin"]
    resp = client.post(
        signin_url,
        data={
            "csrf_token": csrf_from(page.get_data(as_text=True)),
            "district": town.district.id,
            "mobile": mobile,
            "password": password,
        },
    )
    assert resp.headers["Location"] == "/members/?q=a"


def _fail(client, district, mobile):
    page = client.get("/signin")
    return client.post(
        "/signin",
        data={
            "csrf_token": csrf_from(page.get_data(as_text=True)),
            "district": district,
            "mobile": mobile,
            "password": "wrong-password-x",
        },
    )


@pytest.mark.parametrize("district_spelling", ["0{}", " {}", "+{}", "{} ", "00{}"])
def test_throttle_holds_for_every_spelling_of_the_district(client, town, district_spelling):
    _, mobile, password = town.users["auditor"]
    for _ in range(5):
        assert _fail(client, town.district.id, mobile).status_code == 401
    page = client.get("/signin")
    resp = client.post(
        "/signin",
        data={
            "csrf_token": csrf_from(page.get_data(as_text=True)),
            "district": district_spelling.format(town.district.id),
            "mobile": mobile,
            "password": password,
        },
    )
    assert resp.status_code == 429


@pytest.mark.parametrize("district", ["99999999999999999999", "-1", "0"])
def test_the_lock_on_a_district_that_cannot_exist_answers_429_not_500(client, town, district):
    # Typed by hand (or by a script): the lock-out's audit record must not look the number up as an id.
    _, mobile, _password = town.users["auditor"]
    answers = [_fail(client, district, mobile).status_code for _ in range(7)]
    assert 500 not in answers and answers[-1] == 429, answers


@pytest.mark.parametrize("mobile_spelling", ["+86{}", "+86 {}", " {} ", "{a}-{b}", "0086{}"])
def test_throttle_holds_for_every_spelling_of_the_mobile(client, town, mobile_spelling):
    _, mobile, password = town.users["auditor"]
    for _ in range(5):
        assert _fail(client, town.district.id, mobile).status_code == 401
    page = client.get("/signin")
    spelled = mobile_spelling.format(mobile, a=mobile[:3], b=mobile[3:])
    resp = client.post(
        "/signin",
        data={
            "csrf_token": csrf_from(page.get_data(as_text=True)),
            "district": town.district.id,
            "mobile": spelled,
            "password": password,
        },
    )
    assert resp.status_code == 429


def test_a_spelled_mobile_signs_in_when_not_throttled(client, town):
    _, mobile, password = town.users["volunteer"]
    page = client.get("/signin")
    resp = client.post(
        "/signin",
        data={
            "csrf_token": csrf_from(page.get_data(as_text=True)),
            "district": f"0{town.district.id}",
            "mobile": f"+86 {mobile[:3]} {mobile[3:]}",
            "password": password,
        },
    )
    assert resp.status_code == 302


def test_failures_say_how_many_attempts_are_left_and_the_lock_says_how_long(client, town):
    _, mobile, _ = town.users["auditor"]
    said = [_fail(client, town.district.id, mobile).get_data(as_text=True) for _ in range(5)]
    for n, body in zip((4, 3, 2, 1), said, strict=False):
        assert (
            f"Attempts left before sign-in is locked for 10 minutes: {n}." in body
            or f"剩余尝试次数：{n}。用完后登录将被锁定 10 分钟。" in body
        ), body[-1500:]
    assert "locked for 10 minutes" in said[4] or "已锁定 10 分钟" in said[4]
    client.get("/signin?lang=en")  # the lock page in English from here on
    locked = _fail(client, town.district.id, mobile)
    body = locked.get_data(as_text=True)
    assert locked.status_code == 429
    assert "Wait a minute" not in body
    assert "Sign-in is locked for 10 more minutes, until" in body, body[-1500:]


def test_lock_message_in_chinese(client, town):
    _, mobile, _ = town.users["auditor"]
    for _ in range(5):
        _fail(client, town.district.id, mobile)
    body = _fail(client, town.district.id, mobile).get_data(as_text=True)
    assert "尝试次数过多" in body and "10 分钟" in body


def _change(client, current, new):
    token = csrf_from(client.get("/account/password").get_data(as_text=True))
    return client.post(
        "/account/password",
        data={"csrf_token": token, "current_password": current, "new_password": new, "confirm": new},
    )


def test_changing_to_a_common_password_is_refused_with_a_message_not_a_500(client, town):
    sign_in(client, town, "volunteer")
    _, _, old = town.users["volunteer"]
    resp = _change(client, old, "password1")
    assert resp.status_code == 422
    body = resp.get_data(as_text=True)
    assert "too common" in body or "过于常见" in body


def test_changing_to_the_same_password_is_refused(client, town):
    sign_in(client, town, "volunteer")
    _, _, old = town.users["volunteer"]
    resp = _change(client, old, old)
    assert resp.status_code == 422
    body = resp.get_data(as_text=True)
    assert "same as the current" in body or "与当前密码相同" in body


def test_signin_page_with_one_district_shows_no_chooser_and_the_demo_does_not_promise_one(app, client, town):
    from sqlalchemy import func, select

    from app.demo.loader import _sign_in_lines
    from app.places.models import District

    with app.app_context():
        with unit_of_work(app.extensions["db_sessionmaker"]) as s:
            several = s.scalar(select(func.count()).select_from(District)) > 1
    html = client.get("/signin?lang=en").get_data(as_text=True)
    assert ('<select id="district"' in html) == several
    assert 'name="district"' in html
    line = "\n".join(_sign_in_lines(town.district, []))
    assert "choose it on the sign-in page" not in line
