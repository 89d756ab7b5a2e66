"""Sessions end on the server: after SESSION_IDLE_MINUTES without a request and SESSION_LIFETIME_HOURS
after sign-in, whatever the browser keeps. last_seen_at is written at most once a minute."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from app.audit.models import AuditEvent
from app.auth.models import User, UserSession
from app.db import unit_of_work, utcnow
from tests.conftest import sign_in


def _my_session(app, member_id) -> UserSession:
    with app.app_context():
        with unit_of_work(app.extensions["db_sessionmaker"]) as s:
            uid = s.scalar(select(User.id).where(User.member_id == member_id))
            return s.scalars(
                select(UserSession).where(UserSession.user_id == uid).order_by(UserSession.created_at.desc())
            ).first()


def _age(app, token, **shift):
    with app.app_context():
        with unit_of_work(app.extensions["db_sessionmaker"]) as s:
            row = s.get(UserSession, token)
            s.execute(
                update(UserSession)
                .where(UserSession.token == token)
                .values(
                    created_at=row.created_at - shift.get("created", timedelta()),
                    last_seen_at=row.last_seen_at - shift.get("seen", timedelta()),
                )
            )


def test_defaults_follow_asvs_level_2(app):
    assert app.config["SESSION_IDLE_MINUTES"] == 30
    assert app.config["SESSION_LIFETIME_HOURS"] == 12


def test_an_idle_session_is_revoked_and_the_user_told_why(app, client, town):
    member = sign_in(client, town, "volunteer")
    us = _my_session(app, member.id)
    assert client.get("/me").status_code == 302 and "/members/" in client.get("/me").headers["Location"]
    _age(app, us.token, seen=timedelta(minutes=31))
    resp = client.get("/me?lang=en")
    assert resp.status_code == 302 and "/signin" in resp.headers["Location"]
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "signed out after 30 minutes without activity" in page
    assert "Please sign in to see this page" not in page
    after = _my_session(app, member.id)
    assert after.revoked_at is not None and after.revoked_why == "idle_timeout"
    with app.app_context():
        with unit_of_work(app.extensions["db_sessionmaker"]) as s:
            assert s.scalar(
                select(AuditEvent).where(
                    AuditEvent.tenant_id == town.district.id, AuditEvent.action == "session.expired"
                )
            )


def test_a_busy_session_still_ends_at_its_lifetime(app, client, town):
    member = sign_in(client, town, "volunteer")
    us = _my_session(app, member.id)
    _age(app, us.token, created=timedelta(hours=12, minutes=1))  # last seen just now: not idle
    resp = client.get("/me?lang=en")
    assert resp.status_code == 302 and "/signin" in resp.headers["Location"]
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "a sign-in lasts at most 12 hours" in page
    assert _my_session(app, member.id).revoked_why == "lifetime"


def test_a_session_in_use_stays_signed_in_and_is_touched_at_most_once_a_minute(app, client, town):
    member = sign_in(client, town, "volunteer")
    token = _my_session(app, member.id).token
    first = _my_session(app, member.id).last_seen_at
    assert client.get(f"/members/{member.id}").status_code == 200
    assert _my_session(app, member.id).last_seen_at == first  # within the minute: no write
    _age(app, token, seen=timedelta(minutes=29), created=timedelta(minutes=29))
    assert client.get(f"/members/{member.id}").status_code == 200  # 29 minutes idle: still fine
    touched = _my_session(app, member.id).last_seen_at
    assert touched > first - timedelta(minutes=29) and utcnow() - touched < timedelta(minutes=1)
    _age(app, token, seen=timedelta(minutes=20))
    assert client.get(f"/members/{member.id}").status_code == 200  # counted from the last request


@pytest.mark.commits  # a second app on the same database
def test_the_limits_are_configurable(engine, db_url, town):
    from app import create_app

    app = create_app(
        {
            "ENV": "test",
            "SECRET_KEY": "test-secret-key",
            "DATABASE_URL": db_url,
            "ENGINE": engine,
            "RATELIMIT_STORAGE_URI": "memory://",
            "PASSWORD_HASH_FAST": True,
            "SESSION_IDLE_MINUTES": 5,
        }
    )
    client = app.test_client()
    member = sign_in(client, town, "volunteer")
    _age(app, _my_session(app, member.id).token, seen=timedelta(minutes=6))
    resp = client.get(f"/members/{member.id}")
    assert resp.status_code == 302 and "/signin" in resp.headers["Location"]


@pytest.mark.parametrize("path", ["/members/", "/api/v1/members"])
def test_an_expired_cookie_replayed_stays_signed_out(app, client, town, path):
    member = sign_in(client, town, "grid_admin")
    us = _my_session(app, member.id)
    _age(app, us.token, seen=timedelta(hours=1))
    assert client.get("/me").status_code == 302
    _age(app, us.token, seen=-timedelta(hours=1))  # even if last_seen were moved forward again
    resp = client.get(path)
    assert resp.status_code in (302, 401)
