"""GET /api/v1/points/expiry-forecast through the real app: district-wide roles see twelve months of
open points by the month they expire (the lots the expiry job keeps); a role scoped below the district
and a volunteer are refused with a stable code; signed out is 401."""

from __future__ import annotations

from datetime import datetime

from app.db import utcnow
from app.points import lots
from app.points.accounts import wallet_code
from app.points.expiry import MONTH_END
from app.times import to_beijing
from ledger import Ledger, Transfer
from tests.web.test_api import commit, signed_in

URL = "/api/v1/points/expiry-forecast"


def test_district_admins_see_twelve_months_of_expiring_points(app, town):
    volunteer = town.users["volunteer"][0]

    def setup(s):
        lots.change_expiry(s, town.district.id, mode=MONTH_END, months=1, reason="测试", now=datetime(2020, 1, 1))
        book = Ledger(s, tenant=town.district.id)
        book.open_accounts(["source:test"], unit="PT", normal="debit", no_overdraft=False)
        book.post([Transfer("source:test", wallet_code(volunteer.id), 30)], kind="test", key="forecast:1")

    commit(app, setup)
    c = app.test_client()
    signed_in(c, town, "district_admin")
    r = c.get(URL)
    assert r.status_code == 200, r.get_data(as_text=True)
    body = r.get_json()
    this_month = to_beijing(utcnow()).strftime("%Y-%m")
    assert len(body["months"]) == 12 and body["months"][0]["month"] == this_month
    # Not refreshed yet: the wallet is behind, its new lot not counted until the job refreshes it.
    assert body["wallets_behind"] >= 1 and sum(m["points"] for m in body["months"]) == 0
    commit(app, lambda s: lots.refresh_page(s, town.district.id))
    body = c.get(URL).get_json()
    assert body["wallets_behind"] == 0
    # Earned this month, expiring at the end of next month: 30 points, one member, in the second month.
    assert [(m["points"], m["members"]) for m in body["months"][:3]] == [(0, 0), (30, 1), (0, 0)]


def test_scoped_roles_and_volunteers_are_refused(app, town):
    for role in ("organiser", "volunteer"):
        c = app.test_client()
        signed_in(c, town, role)
        r = c.get(URL)
        assert r.status_code == 403 and r.get_json()["error"]["code"] == "forbidden", (role, r.get_json())
    assert app.test_client().get(URL).status_code == 401
