"""Security properties users rely on: CSRF, session revocation and rotation, throttling, argon2id,
cookie flags, headers, password rules, personal data kept minimal, append-only audit log."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text

from app import create_app
from app.audit.models import AuditEvent
from app.auth.models import User
from app.db import unit_of_work
from app.people.models import Member
from config import DEV_SECRET
from tests.conftest import csrf_from, sign_in
from tests.factories import valid_id_number


def _events(app, tenant_id, action):
    with app.app_context():
        with unit_of_work(app.extensions["db_sessionmaker"]) as s:
            return list(
                s.scalars(select(AuditEvent).where(AuditEvent.tenant_id == tenant_id, AuditEvent.action == action))
            )


def _cookie(client):
    c = client.get_cookie("session")
    return c.value if c else None


def test_form_without_csrf_token_is_refused(client, town):
    sign_in(client, town, "grid_admin")
    resp = client.post(f"/org/{town.grid_a1.id}/rename", data={"name": "无令牌"})
    assert resp.status_code == 400
    body = resp.get_data(as_text=True)
    assert "security token" in body or "安全令牌" in body


def test_signin_form_without_csrf_token_is_refused(client, town):
    _, mobile, password = town.users["volunteer"]
    resp = client.post("/signin", data={"district": town.district.id, "mobile": mobile, "password": password})
    assert resp.status_code == 400


def test_cookie_replayed_after_signout_is_not_signed_in(client, town):
    sign_in(client, town, "grid_admin")
    stolen = _cookie(client)
    assert client.get("/members/").status_code == 200
    token = csrf_from(client.get("/members/").get_data(as_text=True))
    assert client.post("/signout", data={"csrf_token": token}).status_code == 302
    client.set_cookie("session", stolen)
    resp = client.get("/members/")
    assert resp.status_code == 302 and "/signin" in resp.headers["Location"]


def _session_set_cookies(resp):
    return [h for h in resp.headers.getlist("Set-Cookie") if h.startswith("session=")]


def test_a_plain_signed_in_read_does_not_resend_the_session_cookie_and_signout_still_ends_it(client, town):
    # The session cookie only names the server-side session (its token); a read changes nothing in it,
    # so it is neither re-signed nor sent again (the session is not permanent: no refresh per request).
    sign_in(client, town, "grid_admin")
    # The first page after sign-in puts the CSRF token in the session (sign-in starts a new one): one
    # Set-Cookie, then none.
    assert len(_session_set_cookies(client.get("/members/"))) == 1
    cookie = _cookie(client)
    for path in ("/api/v1/members?q=1", "/members/", "/me"):
        resp = client.get(path)
        assert resp.status_code in (200, 302), path
        assert _session_set_cookies(resp) == [], path
    assert _cookie(client) == cookie
    # Not re-sending the cookie keeps nothing alive on the client: sign-out revokes the server-side
    # session, and the very same cookie is refused on the next read.
    token = csrf_from(client.get("/members/").get_data(as_text=True))
    assert client.post("/signout", data={"csrf_token": token}).status_code == 302
    client.set_cookie("session", cookie)
    assert client.get("/api/v1/members?q=1").status_code == 401


def test_the_same_session_from_another_user_agent_is_marked_not_fresh_once(client, town):
    # Flask-Login's session protection ("basic"): a cookie used from another address or User-Agent than
    # it signed in with is marked not fresh, which re-signs it (one Set-Cookie); the request is still
    # answered. The benchmark signs in with the User-Agent its load generator sends (none), or every
    # one of its requests would pay this (it keeps no cookies).
    sign_in(client, town, "grid_admin")
    resp = client.get("/api/v1/members?q=1", headers={"User-Agent": "another-browser"})
    assert resp.status_code == 200 and len(_session_set_cookies(resp)) == 1
    again = client.get("/api/v1/members?q=1", headers={"User-Agent": "another-browser"})
    assert again.status_code == 200 and _session_set_cookies(again) == []


def test_password_change_revokes_other_sessions(app, town):
    phone, laptop = app.test_client(), app.test_client()
    sign_in(phone, town, "volunteer")
    sign_in(laptop, town, "volunteer")
    laptop_cookie = _cookie(laptop)
    _, _, old = town.users["volunteer"]
    token = csrf_from(phone.get("/account/password").get_data(as_text=True))
    resp = phone.post(
        "/account/password",
        data={
            "csrf_token": token,
            "current_password": old,
            "new_password": "a fresh long passphrase",
            "confirm": "a fresh long passphrase",
        },
    )
    assert resp.status_code == 302
    assert phone.get("/me").status_code == 302 and "/members/" in phone.get("/me").headers["Location"]
    laptop.set_cookie("session", laptop_cookie)
    assert "/signin" in laptop.get("/me").headers["Location"]


def test_suspension_revokes_sessions(app, client, town):
    victim = app.test_client()
    member = sign_in(victim, town, "volunteer")
    assert victim.get(f"/members/{member.id}").status_code == 200
    sign_in(client, town, "district_admin")
    token = csrf_from(client.get(f"/members/{member.id}/edit").get_data(as_text=True))
    resp = client.post(
        f"/members/{member.id}/edit",
        data={
            "csrf_token": token,
            "name": member.name,
            "mobile": member.mobile,
            "grid_id": member.grid_id,
            "status": "suspended",
            "is_volunteer": "y",
        },
    )
    assert resp.status_code == 302
    resp = victim.get(f"/members/{member.id}")
    assert resp.status_code == 302 and "/signin" in resp.headers["Location"]


def test_session_is_rotated_at_signin(app, town):
    c = app.test_client()
    c.get("/signin")
    before = _cookie(c)
    sign_in(c, town, "volunteer")
    assert _cookie(c) != before
    # Each sign-in is its own server-side session with a new token.
    with app.app_context():
        with unit_of_work(app.extensions["db_sessionmaker"]) as s:
            uid = s.scalar(select(User.id).where(User.member_id == town.users["volunteer"][0].id))
            tokens = s.execute(text("SELECT token FROM user_sessions WHERE user_id = :u"), {"u": uid}).scalars().all()
    sign_in(app.test_client(), town, "volunteer")
    with app.app_context():
        with unit_of_work(app.extensions["db_sessionmaker"]) as s:
            after = s.execute(text("SELECT token FROM user_sessions WHERE user_id = :u"), {"u": uid}).scalars().all()
    assert len(set(after)) == len(tokens) + 1


def test_failed_signins_are_throttled_with_429_and_logged(app, client, town):
    _, mobile, _ = town.users["auditor"]
    last = None
    for _ in range(7):
        page = client.get("/signin")
        last = client.post(
            "/signin",
            data={
                "csrf_token": csrf_from(page.get_data(as_text=True)),
                "district": town.district.id,
                "mobile": mobile,
                "password": "wrong-password-x",
            },
        )
    assert last.status_code == 429
    assert "Too many attempts" in last.get_data(as_text=True) or "尝试次数过多" in last.get_data(as_text=True)
    assert len(_events(app, town.district.id, "signin.failure")) == 5
    assert _events(app, town.district.id, "signin.throttled")
    # The right password is refused too while throttled: the limit is on the account.
    page = client.get("/signin")
    resp = client.post(
        "/signin",
        data={
            "csrf_token": csrf_from(page.get_data(as_text=True)),
            "district": town.district.id,
            "mobile": mobile,
            "password": town.users["auditor"][2],
        },
    )
    assert resp.status_code == 429


def test_successful_signin_is_logged(app, client, town):
    member = sign_in(client, town, "organiser")
    events = _events(app, town.district.id, "signin.success")
    with app.app_context():
        with unit_of_work(app.extensions["db_sessionmaker"]) as s:
            uid = s.scalar(select(User.id).where(User.member_id == member.id))
    assert any(e.actor_user_id == uid for e in events)


def test_wrong_password_does_not_say_which_part_was_wrong(client, town):
    page = client.get("/signin")
    resp = client.post(
        "/signin",
        data={
            "csrf_token": csrf_from(page.get_data(as_text=True)),
            "district": town.district.id,
            "mobile": "13900000000",
            "password": "whatever-123",
        },
    )
    unknown = resp.get_data(as_text=True)
    page = client.get("/signin")
    resp2 = client.post(
        "/signin",
        data={
            "csrf_token": csrf_from(page.get_data(as_text=True)),
            "district": town.district.id,
            "mobile": town.users["auditor"][1],
            "password": "whatever-123",
        },
    )
    assert resp.status_code == resp2.status_code == 401
    assert ("Wrong mobile number or password" in unknown) or ("手机号或密码错误" in unknown)


def test_stored_password_hashes_are_argon2id(app, town):
    with app.app_context():
        with unit_of_work(app.extensions["db_sessionmaker"]) as s:
            hashes = s.scalars(
                select(User.password_hash)
                .join(Member, Member.id == User.member_id)
                .where(Member.tenant_id == town.district.id)
            ).all()
    assert hashes and all(h.startswith("$argon2id$") for h in hashes)


def test_default_hasher_is_argon2id_with_recommended_cost():
    from app.auth.passwords import _STRONG

    h = _STRONG.hash("a long enough passphrase")
    assert h.startswith("$argon2id$v=19$m=65536,t=3,p=4$")


def test_session_cookie_flags(client, town):
    page = client.get("/signin")
    _, mobile, password = town.users["volunteer"]
    resp = client.post(
        "/signin",
        data={
            "csrf_token": csrf_from(page.get_data(as_text=True)),
            "district": town.district.id,
            "mobile": mobile,
            "password": password,
        },
    )
    cookie = next(h for h in resp.headers.getlist("Set-Cookie") if h.startswith("session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # development/test over http


STRONG_SECRET = "k3Jq9-vN2xT7wLp0ZrB5yH8cF1mD6sGa"
STRONG_ID_KEY = "Qe4Rt6Yu8Io0Pa2Sd4Fg6Hj8Kl0Zx2Cv"


def _production(engine, db_url, **keys):
    return create_app(
        {"ENV": "production", "DATABASE_URL": db_url, "ENGINE": engine, "RATELIMIT_STORAGE_URI": "memory://", **keys}
    )


def test_production_cookies_are_secure_and_dev_secret_refused(engine, db_url):
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        _production(engine, db_url, SECRET_KEY=DEV_SECRET, ID_HASH_KEY=STRONG_ID_KEY)
    app = _production(engine, db_url, SECRET_KEY=STRONG_SECRET, ID_HASH_KEY=STRONG_ID_KEY)
    assert app.config["SESSION_COOKIE_SECURE"] is True
    resp = app.test_client().get("/signin")
    assert "Strict-Transport-Security" in resp.headers


@pytest.mark.parametrize(
    "secret,id_key,names",
    [
        ("a", STRONG_ID_KEY, "SECRET_KEY"),  # accepted before the review
        ("", STRONG_ID_KEY, "SECRET_KEY"),
        ("a-real-production-secret", STRONG_ID_KEY, "SECRET_KEY"),  # 24 characters: too short
        (DEV_SECRET, STRONG_ID_KEY, "SECRET_KEY"),
        ("a" * 40, STRONG_ID_KEY, "random"),  # long but not random
        (STRONG_SECRET, None, "ID_HASH_KEY"),  # no separate key
        (STRONG_SECRET, "", "ID_HASH_KEY"),
        (STRONG_SECRET, "short-id-key", "ID_HASH_KEY"),
        (STRONG_SECRET, STRONG_SECRET, "ID_HASH_KEY must differ"),
        (STRONG_SECRET, "b" * 40, "random"),
    ],
)
def test_production_refuses_weak_or_shared_keys(engine, db_url, secret, id_key, names):
    with pytest.raises(RuntimeError, match=names):
        _production(engine, db_url, SECRET_KEY=secret, ID_HASH_KEY=id_key)


def test_development_still_starts_without_an_id_hash_key(engine, db_url):
    app = create_app(
        {
            "ENV": "development",
            "SECRET_KEY": "a",
            "DATABASE_URL": db_url,
            "ENGINE": engine,
            "RATELIMIT_STORAGE_URI": "memory://",
        }
    )
    assert app.config["ENV"] == "development"  # the key checks are for production only


def test_security_headers(client):
    resp = client.get("/signin")
    h = resp.headers
    assert "script-src 'self'" in h["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in h["Content-Security-Policy"]
    assert h["X-Content-Type-Options"] == "nosniff"
    assert h["X-Frame-Options"] == "DENY"
    assert h["Referrer-Policy"] == "same-origin"
    assert h["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    "password,ok",
    [
        ("short1", False),  # under 8 characters
        ("x" * 129, False),  # over 128
        ("password", False),  # among the most common
        ("12345678", False),
        ("qwertyuiop", False),
        ("长城万里长城永不倒", True),  # any characters; no composition rules
        ("correct horse battery staple", True),
        ("x" * 128, True),
    ],
)
def test_password_rules(app, password, ok):
    from app.auth.passwords import password_problem

    with app.test_request_context():
        assert (password_problem(password) is None) == ok


def test_password_containing_own_mobile_is_refused(app):
    from app.auth.passwords import password_problem

    with app.test_request_context():
        assert password_problem("13912345678a", mobile="13912345678") is not None


def test_id_number_is_never_stored_in_plain(app, client, town):
    sign_in(client, town, "grid_admin")
    id_number = valid_id_number("19900215", 123)
    page = client.get("/members/new")
    resp = client.post(
        "/members/new",
        data={
            "csrf_token": csrf_from(page.get_data(as_text=True)),
            "name": "欧阳娜娜",
            "mobile": "13700001111",
            "id_number": id_number,
            "grid_id": town.grid_a1.id,
            "status": "active",
            "is_volunteer": "y",
        },
    )
    assert resp.status_code == 302, resp.get_data(as_text=True)[:1500]
    with app.app_context():
        with unit_of_work(app.extensions["db_sessionmaker"]) as s:
            m = s.scalar(select(Member).where(Member.tenant_id == town.district.id, Member.mobile == "13700001111"))
            row = s.execute(text("SELECT * FROM members WHERE id = :i"), {"i": m.id}).mappings().one()
            audit = (
                s.execute(text("SELECT detail FROM audit_events WHERE tenant_id = :t"), {"t": town.district.id})
                .scalars()
                .all()
            )
    assert all(id_number not in str(v) for v in row.values())
    assert all(id_number not in str(d) for d in audit)
    assert m.id_number_masked == id_number[:4] + "*" * 10 + id_number[-4:]
    page = client.get(f"/members/{m.id}").get_data(as_text=True)
    assert id_number not in page and "13700001111" not in page
    assert "137****1111" in page


def test_audit_log_is_append_only_in_the_database(app, town):
    from sqlalchemy.exc import DBAPIError

    with app.app_context():
        with pytest.raises(DBAPIError):
            with unit_of_work(app.extensions["db_sessionmaker"]) as s:
                s.execute(text("UPDATE audit_events SET action = 'x' WHERE tenant_id = :t"), {"t": town.district.id})
        with pytest.raises(DBAPIError):
            with unit_of_work(app.extensions["db_sessionmaker"]) as s:
                s.execute(text("DELETE FROM audit_events WHERE tenant_id = :t"), {"t": town.district.id})


def test_auditor_reads_and_filters_the_audit_log(client, town):
    sign_in(client, town, "auditor")
    resp = client.get("/audit/?action=role.grant")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert "role.grant" in html and "signin.success" not in html.split("</select>", 1)[1]


def test_audit_log_shows_chinese_details_readably(app, client, town):
    sign_in(client, town, "district_admin")
    token = csrf_from(client.get(f"/org/{town.grid_a1.id}").get_data(as_text=True))
    assert (
        client.post(
            f"/org/{town.grid_a1.id}/rename", data={"name": "凤凰新网格", "grid_type": "area", "csrf_token": token}
        ).status_code
        == 302
    )
    html = client.get("/audit/?action=org.rename").get_data(as_text=True)
    assert "凤凰新网格" in html
