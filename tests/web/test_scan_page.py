"""The scan page volunteers land on from a code: GET shows, POST records (with CSRF); a second scan
changes nothing; refusals say why; a volunteer who must sign in first keeps the time the code was opened."""

from __future__ import annotations

import time
from datetime import timedelta
from urllib.parse import parse_qs, unquote, urlsplit

from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import func, select

from app.activities.models import Attendance, Scan
from app.db import unit_of_work
from app.tokens import make_token
from tests.conftest import csrf_from, sign_in
from tests.web.test_organiser_pages import make_activity


def _token(app, town, aid, purpose="activity_checkin", now=None):
    with app.app_context():
        return make_token(purpose, town.district.id, aid, now if now is not None else time.time())


def _attendance(app, aid, member_id):
    with app.test_request_context(), unit_of_work(app.extensions["db_sessionmaker"]) as s:
        a = s.scalars(
            select(Attendance).where(Attendance.activity_id == aid, Attendance.member_id == member_id)
        ).first()
        return None if a is None else (a.status, a.checkin_source, a.credited_minutes, a.points, a.checked_in_at)


def _scan(client, token, **data):
    page = client.get(f"/scan/{token}")
    assert page.status_code == 200, page.get_data(as_text=True)[:1500]
    html = page.get_data(as_text=True)
    return client.post(f"/scan/{token}", data={"csrf_token": csrf_from(html), **data}), html


def test_check_in_then_again_then_check_out(app, client, town):
    aid, _d, _s = make_activity(app, town, starts_in=timedelta(hours=-2), hours=3)
    client.get("/?lang=en")
    volunteer = sign_in(client, town, "volunteer")
    token = _token(app, town, aid)
    page = client.get(f"/scan/{token}")
    html = page.get_data(as_text=True)
    assert "社区清洁" in html and 'id="scan-form"' in html and "js/scan.js" in html
    assert ">Check in</button>" in html
    assert _attendance(app, aid, volunteer.id) is None  # a GET changes nothing
    resp = client.post(f"/scan/{token}", data={"csrf_token": csrf_from(html)})
    text = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "Checked in " in text, text[:2000]
    assert _attendance(app, aid, volunteer.id)[:2] == ("in", "scan")
    again, _ = _scan(client, token)
    assert again.status_code == 200 and "already checked in" in again.get_data(as_text=True)
    # They arrived at the start (two hours ago): move the check-in there, as if scanned then.
    with app.test_request_context(), unit_of_work(app.extensions["db_sessionmaker"]) as s:
        att = s.scalars(select(Attendance).where(Attendance.activity_id == aid)).one()
        att.checked_in_at = att.activity.starts_at
    out, html = _scan(client, _token(app, town, aid, "activity_checkout"))
    assert ">Check out</button>" in html
    text = out.get_data(as_text=True)
    assert out.status_code == 200 and "Checked out" in text
    status, _src, minutes, points, _at = _attendance(app, aid, volunteer.id)
    assert status == "to_review" and minutes == 120 and points == 20  # 2 h at the default 10 an hour
    assert "2 hours of service, +20 points waiting for review" in text


def test_without_csrf_nothing_is_recorded(app, client, town):
    aid, _d, _s = make_activity(app, town)
    volunteer = sign_in(client, town, "volunteer")
    resp = client.post(f"/scan/{_token(app, town, aid)}", data={})
    assert resp.status_code == 400 and 'id="scan-form"' not in resp.get_data(as_text=True)  # no resend loop
    assert _attendance(app, aid, volunteer.id) is None


def test_an_expired_code_says_so(app, client, town):
    aid, _d, _s = make_activity(app, town)
    client.get("/?lang=en")
    sign_in(client, town, "volunteer")
    old = _token(app, town, aid, now=time.time() - 600)
    resp = client.get(f"/scan/{old}")
    assert resp.status_code >= 400 and resp.status_code < 500
    assert "expired" in resp.get_data(as_text=True)
    resp = client.get("/scan/NOT-A-CODE")
    assert 400 <= resp.status_code < 500


def test_outside_the_radius_is_refused_and_logged(app, client, town):
    aid, _d, _s = make_activity(app, town, radius=200)
    client.get("/?lang=en")
    volunteer = sign_in(client, town, "volunteer")
    token = _token(app, town, aid)
    page = client.get(f"/scan/{token}").get_data(as_text=True)
    assert 'data-needs-location="1"' in page
    # No location: asked for it.
    resp = client.post(f"/scan/{token}", data={"csrf_token": csrf_from(page)})
    assert resp.status_code == 422 and "location" in resp.get_data(as_text=True)
    # 11 km away: refused with the distance, and the refused scan stays in the log.
    resp = client.post(f"/scan/{token}", data={"csrf_token": csrf_from(page), "lat": "30.1", "lng": "120.0"})
    text = resp.get_data(as_text=True)
    assert resp.status_code == 422 and "200 m" in text and "凤凰社区广场" in text
    assert _attendance(app, aid, volunteer.id) is None
    with app.test_request_context(), unit_of_work(app.extensions["db_sessionmaker"]) as s:
        n = s.scalar(
            select(func.count()).select_from(Scan).where(Scan.activity_id == aid, Scan.outcome == "outside_radius")
        )
        assert n == 1
    # At the place: recorded.
    resp = client.post(f"/scan/{token}", data={"csrf_token": csrf_from(page), "lat": "30.0005", "lng": "120.0"})
    assert resp.status_code == 200
    assert _attendance(app, aid, volunteer.id)[0] == "in"


def _signin_then_follow(client, town, location):
    """Sign in through the real form with the `next` the scan page gave; returns where it leads."""
    assert urlsplit(location).path == "/signin"
    nxt = parse_qs(urlsplit(location).query)["next"][0]
    page = client.get(location)
    shown = page.get_data(as_text=True)
    assert "Sign in to record your check-in" in shown or "登录后即可记录签到" in shown  # why this page
    member, mobile, password = town.users["volunteer"]
    resp = client.post(
        location,
        data={
            "csrf_token": csrf_from(page.get_data(as_text=True)),
            "district": town.district.id,
            "mobile": mobile,
            "password": password,
        },
    )
    assert resp.status_code == 302
    assert unquote(resp.headers["Location"]).endswith(unquote(nxt))
    return nxt


def test_not_signed_in_signs_in_and_continues(app, client, town):
    aid, _d, _s = make_activity(app, town)
    token = _token(app, town, aid)
    resp = client.get(f"/scan/{token}")
    assert resp.status_code == 302
    nxt = _signin_then_follow(client, town, resp.headers["Location"])
    assert "seen=" in nxt  # the time the code was opened goes along
    volunteer = town.users["volunteer"][0]
    page = client.get(nxt)
    html = page.get_data(as_text=True)
    resp = client.post(nxt, data={"csrf_token": csrf_from(html)})
    assert resp.status_code == 200, resp.get_data(as_text=True)[:1500]
    assert _attendance(app, aid, volunteer.id)[0] == "in"


def _seen(app, token, t):
    with app.app_context():
        return URLSafeTimedSerializer(app.config["SECRET_KEY"], salt="activities.scan-seen").dumps(
            {"token": token, "t": int(t)}
        )


def test_the_remembered_time_keeps_an_expired_code_valid_for_ten_minutes(app, client, town):
    """Opened at T-290 s (valid then), signed in slowly: at T the code has expired, yet it counts."""
    aid, _d, _s = make_activity(app, town)
    client.get("/?lang=en")
    volunteer = sign_in(client, town, "volunteer")
    now = time.time()
    token = _token(app, town, aid, now=now - 300)
    assert "expired" in client.get(f"/scan/{token}").get_data(as_text=True)  # on its own: expired
    url = f"/scan/{token}?seen={_seen(app, token, now - 290)}"
    page = client.get(url)
    assert page.status_code == 200
    resp = client.post(url, data={"csrf_token": csrf_from(page.get_data(as_text=True))})
    assert resp.status_code == 200, resp.get_data(as_text=True)[:1500]
    assert _attendance(app, aid, volunteer.id)[0] == "in"


def test_a_remembered_time_older_than_ten_minutes_does_not_count(app, client, town):
    aid, _d, _s = make_activity(app, town)
    client.get("/?lang=en")
    volunteer = sign_in(client, town, "volunteer")
    now = time.time()
    token = _token(app, town, aid, now=now - 700)
    url = f"/scan/{token}?seen={_seen(app, token, now - 690)}"
    resp = client.get(url)
    assert resp.status_code >= 400 and "expired" in resp.get_data(as_text=True)
    # Nor does one made for another code.
    other = _token(app, town, aid, now=now - 300)
    resp = client.get(f"/scan/{other}?seen={_seen(app, token, now - 290)}")
    assert resp.status_code >= 400
    assert _attendance(app, aid, volunteer.id) is None


def test_an_expired_code_is_not_remembered_before_sign_in(app, client, town):
    aid, _d, _s = make_activity(app, town)
    old = _token(app, town, aid, now=time.time() - 600)
    resp = client.get(f"/scan/{old}")
    assert (
        resp.status_code == 302 and "seen" not in unquote(resp.headers["Location"]).split("next=")[1].split("?", 1)[-1]
    )


def test_permissions_policy_allows_geolocation_for_the_site(client):
    assert "geolocation=(self)" in client.get("/signin").headers["Permissions-Policy"]


def test_a_typed_code_leads_to_its_scan_page(client, town):
    """A volunteer whose camera will not read the QR code types the code under it (spaces and case do not matter)."""
    sign_in(client, town, "volunteer")
    page = client.get("/scan/")
    assert page.status_code == 200 and 'name="code"' in page.get_data(as_text=True)
    r = client.get("/scan/?code=ax1.ai.1. abc")
    assert r.status_code == 302 and r.headers["Location"].endswith("/scan/AX1.AI.1.ABC")
    assert "/scan/" in client.get("/").get_data(as_text=True)
