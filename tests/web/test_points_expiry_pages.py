"""The expiry setting page (district administrators, audited) and what a member sees: the points that
expire within 30 days on /me/points, on the home page and in GET /api/v1/me/points."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from app.audit.models import AuditEvent
from app.db import unit_of_work, utcnow
from app.points import lots
from app.points.accounts import open_source, open_wallets, wallet_code
from app.points.expiry import MONTHS, ExpiryPolicy, expiry_date
from ledger import Ledger, Transfer
from tests.conftest import csrf_from, sign_in


def _uow(app):
    return unit_of_work(app.extensions["db_sessionmaker"])


def _text(resp) -> str:
    return resp.get_data(as_text=True)


def test_the_expiry_page_adds_a_version_and_audits_it(app, client, town):
    sign_in(client, town, "district_admin")
    page = client.get("/points/expiry")
    assert page.status_code == 200 and "<form" in _text(page)
    data = {"csrf_token": csrf_from(_text(page)), "mode": "month_end", "months": "12", "reason": "年底清零前提醒"}
    resp = client.post("/points/expiry", data=data)
    assert resp.status_code == 302, _text(resp)[:2000]
    with app.test_request_context(), _uow(app) as s:
        policy = s.scalars(select(ExpiryPolicy).where(ExpiryPolicy.tenant_id == town.district.id)).one()
        assert (policy.mode, policy.months, policy.version) == ("month_end", 12, 1)
        events = s.scalars(
            select(AuditEvent).where(
                AuditEvent.tenant_id == town.district.id, AuditEvent.action == "points.expiry_change"
            )
        ).all()
        assert len(events) == 1
    page = _text(client.get("/points/expiry"))
    assert "年底清零前提醒" in page and "赵敏" in page
    # Months out of range come back as an error on the page, nothing saved.
    bad = client.post("/points/expiry", data={**data, "mode": "months", "months": "0", "csrf_token": csrf_from(page)})
    assert bad.status_code == 422
    with app.test_request_context(), _uow(app) as s:
        assert len(lots.policy_versions(s, town.district.id)) == 1


def test_a_volunteer_may_not_change_the_setting(client, town):
    sign_in(client, town, "volunteer")
    assert client.get("/points/expiry").status_code == 403


def test_a_member_sees_what_expires_within_30_days(app, client, town):
    member = town.users["volunteer"][0]
    t = town.district.id
    now = utcnow()
    earned = now - timedelta(days=45)  # 2 months: its last day is 14-17 days away
    with app.test_request_context(), _uow(app) as s:
        lots.change_expiry(s, t, mode=MONTHS, months=2, reason="test", now=now - timedelta(days=400))
        open_wallets(s, t, [member.id])
        open_source(s, t, "source:test")
        book = Ledger(s, tenant=t)
        book.post([Transfer("source:test", wallet_code(member.id), 120)], kind="test", effective_at=earned)
        # Earned now: its last day is two months away, not shown yet.
        book.post([Transfer("source:test", wallet_code(member.id), 7)], kind="test", effective_at=now)
    day = expiry_date(MONTHS, 2, earned).isoformat()
    sign_in(client, town, "volunteer")
    mine = _text(client.get("/me/points"))
    assert 'class="card expiring"' in mine and day in mine and "120" in mine
    assert day in _text(client.get("/"))
    body = client.get("/api/v1/me/points").get_json()
    assert body["available"] == 127 and body["expiring"] == [{"points": 120, "expires_on": day}]


def test_an_administrator_reads_one_members_expiry_forecast(app, client, town):
    # "API for … expiry forecast per member": whoever may see the member; outside their grids, 404.
    from app.points import lots
    from tests.outlets_world import give_points
    from tests.web.test_api import commit, signed_in

    volunteer = town.users["volunteer"][0]
    commit(app, lambda s: lots.change_expiry(s, town.district.id, mode="months", months=12, reason="试行"))
    commit(app, lambda s: give_points(s, town.district.id, volunteer.id, 40))
    admin = app.test_client()
    signed_in(admin, town, "district_admin")
    r = admin.get(f"/api/v1/members/{volunteer.id}/expiring-points?days=3660")
    assert r.status_code == 200, r.get_data(as_text=True)
    body = r.get_json()
    assert body["member_id"] == volunteer.id and body["days"] == 3660
    assert body["total"] == 40 == sum(x["points"] for x in body["expiring"])
    assert admin.get(f"/api/v1/members/{volunteer.id}/expiring-points?days=30").get_json()["total"] == 0
    assert admin.get(f"/api/v1/members/{volunteer.id}/expiring-points?days=0").status_code == 422
    outsider = app.test_client()
    signed_in(outsider, town, "volunteer")
    assert outsider.get(f"/api/v1/members/{town.users['organiser'][0].id}/expiring-points").status_code in (403, 404)
