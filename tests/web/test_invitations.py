"""A member gets a password through a one-time link an administrator makes (or `flask auth invite`):
shown once, stored only as a hash, expiring, audited; a reset revokes the member's sessions."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest
from sqlalchemy import select, text, update

from app.audit.models import AuditEvent
from app.auth import services as auth
from app.auth.models import Invitation
from app.db import unit_of_work
from tests.conftest import csrf_from, sign_in
from tests.factories import make_member

NEW_PASSWORD = "a brand new passphrase"


def _new_member(app, town, grid=None):
    with app.app_context(), app.test_request_context():
        with unit_of_work(app.extensions["db_sessionmaker"]) as s:
            return make_member(s, town.district.id, grid or town.grid_a1, name="孙丽")


def _make_link(client, member_id) -> str:
    page = client.get(f"/members/{member_id}/invitation")
    assert page.status_code == 200, page.get_data(as_text=True)[:1500]
    resp = client.post(f"/members/{member_id}/invitation", data={"csrf_token": csrf_from(page.get_data(as_text=True))})
    assert resp.status_code == 200, resp.get_data(as_text=True)[:1500]
    m = re.search(r"<code>(http://[^<]+/activate/[^<]+)</code>", resp.get_data(as_text=True))
    assert m, "no link on the page"
    return m.group(1).replace("http://localhost", "")


def _set_password(client, path, password=NEW_PASSWORD, confirm=None):
    page = client.get(path)
    assert page.status_code == 200, page.get_data(as_text=True)[:1500]
    return client.post(
        path,
        data={
            "csrf_token": csrf_from(page.get_data(as_text=True)),
            "new_password": password,
            "confirm": confirm or password,
        },
    )


def _signin(client, town, mobile, password):
    page = client.get("/signin")
    return client.post(
        "/signin",
        data={
            "csrf_token": csrf_from(page.get_data(as_text=True)),
            "district": town.district.id,
            "mobile": mobile,
            "password": password,
        },
    )


def _events(app, tenant_id, action):
    with app.app_context():
        with unit_of_work(app.extensions["db_sessionmaker"]) as s:
            return list(
                s.scalars(select(AuditEvent).where(AuditEvent.tenant_id == tenant_id, AuditEvent.action == action))
            )


def test_a_new_member_is_invited_sets_a_password_and_signs_in(app, town):
    admin, member_client = app.test_client(), app.test_client()
    member = _new_member(app, town)
    assert _signin(member_client, town, member.mobile, NEW_PASSWORD).status_code == 401  # no password yet
    sign_in(admin, town, "district_admin")
    html = admin.get(f"/members/{member.id}?lang=en").get_data(as_text=True)
    assert f"/members/{member.id}/invitation" in html  # the button
    path = _make_link(admin, member.id)
    resp = _set_password(member_client, path)
    assert resp.status_code == 302
    assert member_client.get("/me").headers["Location"].endswith(f"/members/{member.id}")
    fresh = app.test_client()
    assert _signin(fresh, town, member.mobile, NEW_PASSWORD).status_code == 302
    assert _events(app, town.district.id, "invitation.activate")
    assert _events(app, town.district.id, "invitation.use")


def test_the_link_works_once(app, town):
    admin = app.test_client()
    member = _new_member(app, town)
    sign_in(admin, town, "district_admin")
    path = _make_link(admin, member.id)
    assert _set_password(app.test_client(), path).status_code == 302
    again = app.test_client()
    assert again.get(path).status_code == 404
    page = again.get("/signin")
    resp = again.post(
        path,
        data={
            "csrf_token": csrf_from(page.get_data(as_text=True)),
            "new_password": "someone else's pass",
            "confirm": "someone else's pass",
        },
    )
    assert resp.status_code == 404
    assert _signin(app.test_client(), town, member.mobile, NEW_PASSWORD).status_code == 302


def test_only_the_hash_of_the_token_is_stored(app, town):
    admin = app.test_client()
    member = _new_member(app, town)
    sign_in(admin, town, "district_admin")
    token = _make_link(admin, member.id).rsplit("/", 1)[1]
    with app.app_context():
        with unit_of_work(app.extensions["db_sessionmaker"]) as s:
            rows = (
                s.execute(text("SELECT * FROM invitations WHERE tenant_id = :t"), {"t": town.district.id})
                .mappings()
                .all()
            )
            audit = (
                s.execute(text("SELECT detail FROM audit_events WHERE tenant_id = :t"), {"t": town.district.id})
                .scalars()
                .all()
            )
    assert len(rows) == 1 and rows[0]["token_hash"] == hashlib.sha256(token.encode()).hexdigest()
    assert all(token not in str(v) for v in rows[0].values())
    assert all(token not in str(d) for d in audit)


def test_an_expired_link_is_refused(app, town):
    admin = app.test_client()
    member = _new_member(app, town)
    sign_in(admin, town, "district_admin")
    path = _make_link(admin, member.id)
    with app.app_context():
        with unit_of_work(app.extensions["db_sessionmaker"]) as s:
            inv = s.scalar(select(Invitation).where(Invitation.tenant_id == town.district.id))
            s.execute(
                update(Invitation)
                .where(Invitation.id == inv.id)
                .values(
                    created_at=inv.created_at - timedelta(hours=73), expires_at=inv.expires_at - timedelta(hours=73)
                )
            )
    assert app.test_client().get(path).status_code == 404


def test_a_new_link_replaces_the_old_one(app, town):
    admin = app.test_client()
    member = _new_member(app, town)
    sign_in(admin, town, "district_admin")
    first = _make_link(admin, member.id)
    second = _make_link(admin, member.id)
    assert app.test_client().get(first).status_code == 404
    assert app.test_client().get(second).status_code == 200


def test_the_new_password_follows_the_rules(app, town):
    admin = app.test_client()
    member = _new_member(app, town)
    sign_in(admin, town, "district_admin")
    path = _make_link(admin, member.id)
    c = app.test_client()
    resp = _set_password(c, path, "password1")
    assert resp.status_code == 422 and "过于常见" in resp.get_data(as_text=True)
    resp = _set_password(c, path, member.mobile + "x")
    assert resp.status_code == 422
    resp = _set_password(c, path, NEW_PASSWORD, confirm="something else entirely")
    assert resp.status_code == 422
    assert c.get(path).status_code == 200  # a refused try does not use the link up
    assert _set_password(c, path).status_code == 302


def test_a_reset_revokes_sessions_and_the_old_password(app, town):
    admin, victim = app.test_client(), app.test_client()
    member = sign_in(victim, town, "volunteer")
    _, mobile, old = town.users["volunteer"]
    assert victim.get(f"/members/{member.id}").status_code == 200
    sign_in(admin, town, "district_admin")
    confirm = admin.get(f"/members/{member.id}/invitation?lang=en").get_data(as_text=True)
    assert "Reset password" in confirm and "stops working" in confirm
    path = _make_link(admin, member.id)
    assert victim.get(f"/members/{member.id}").status_code == 302  # signed out at once
    assert _signin(app.test_client(), town, mobile, old).status_code == 401  # the old password is gone
    assert _events(app, town.district.id, "invitation.reset")
    assert _set_password(app.test_client(), path).status_code == 302
    assert _signin(app.test_client(), town, mobile, NEW_PASSWORD).status_code == 302


@pytest.mark.parametrize("role", ["volunteer", "organiser", "auditor", "fund_manager"])
def test_who_may_not_make_links(app, client, town, role):
    member = _new_member(app, town)
    sign_in(client, town, role)
    assert client.get(f"/members/{member.id}/invitation").status_code in (403, 404)
    token = csrf_from(client.get("/signin").get_data(as_text=True))
    assert client.post(f"/members/{member.id}/invitation", data={"csrf_token": token}).status_code in (403, 404)
    assert f"/members/{member.id}/invitation" not in client.get(f"/members/{member.id}").get_data(as_text=True)


def test_a_grid_admin_invites_members_of_their_grid_but_cannot_reset_a_role_holder(app, client, town):
    plain = _new_member(app, town)
    outside = _new_member(app, town, grid=town.grid_b1)
    sign_in(client, town, "grid_admin")
    _make_link(client, plain.id)
    assert client.get(f"/members/{outside.id}/invitation").status_code == 404  # not in their subtree
    holder = town.users["organiser"][0]  # lives in grid_a1 and holds a role
    assert client.get(f"/members/{holder.id}/invitation").status_code == 403
    assert f"/members/{holder.id}/invitation" not in client.get(f"/members/{holder.id}").get_data(as_text=True)
    admin = town.users["district_admin"][0]
    assert client.get(f"/members/{admin.id}/invitation").status_code == 403


def test_granting_a_role_withdraws_open_links(app, client, town):
    member = _new_member(app, town)
    sign_in(client, town, "grid_admin")
    path = _make_link(client, member.id)
    admin = app.test_client()
    sign_in(admin, town, "district_admin")
    page = admin.get(f"/members/{member.id}")
    resp = admin.post(
        f"/members/{member.id}/roles",
        data={"csrf_token": csrf_from(page.get_data(as_text=True)), "role": "district_admin", "confirm": "yes"},
    )
    assert resp.status_code == 302
    assert app.test_client().get(path).status_code == 404


def test_a_suspended_member_gets_no_link(app, client, town):
    member = _new_member(app, town)
    with app.app_context(), app.test_request_context():
        with unit_of_work(app.extensions["db_sessionmaker"]) as s:
            with pytest.raises(auth.ValidationFailed):
                m = s.get(type(member), member.id)
                m.status = "suspended"
                auth.create_invitation(s, None, m, hours=72)


def test_cli_invite_prints_a_link_for_the_first_admin(app, town):
    member = _new_member(app, town)
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["auth", "invite", "--mobile", member.mobile, "--district", town.district.code, "--role", "district_admin"]
    )
    assert result.exit_code == 0, result.output
    link = result.output.strip().splitlines()[-1]
    assert link.startswith("http://127.0.0.1:5000/activate/")
    c = app.test_client()
    assert _set_password(c, link.replace("http://127.0.0.1:5000", "")).status_code == 302
    assert c.get("/audit/").status_code == 200  # a district administrator, signed in
    result = runner.invoke(args=["auth", "invite", "--mobile", "13000000000", "--district", str(town.district.id)])
    assert result.exit_code != 0 and "no member" in result.output


def test_the_audit_log_names_link_events(app, client, town):
    member = _new_member(app, town)
    sign_in(client, town, "district_admin")
    _make_link(client, member.id)
    html = client.get("/audit/?action=invitation&lang=en").get_data(as_text=True)
    assert "Sign-in link made" in html


@pytest.mark.commits  # two threads, two connections
def test_two_simultaneous_uses_of_one_link_set_one_password(app, town):
    import threading

    admin = app.test_client()
    member = _new_member(app, town)
    sign_in(admin, town, "district_admin")
    token = _make_link(admin, member.id).rsplit("/", 1)[1]
    barrier, results = threading.Barrier(2), []

    def use(password):
        with app.app_context(), app.test_request_context():
            barrier.wait()
            try:
                with unit_of_work(app.extensions["db_sessionmaker"]) as s:
                    auth.accept_invitation(s, token, password)
                results.append(password)
            except auth.InvitationInvalid:
                results.append("refused")

    threads = [threading.Thread(target=use, args=(p,)) for p in ("first passphrase x", "second passphrase y")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(results) == 2 and results.count("refused") == 1, results
    winner = next(r for r in results if r != "refused")
    assert _signin(app.test_client(), town, member.mobile, winner).status_code == 302
    assert len(_events(app, town.district.id, "invitation.use")) == 1
