"""Party check-in pages and API through the real app (sessions, CSRF, permissions), on both databases:
sites list and create (admins only), a site's page, poster and rotating code, the site scan page (GET
shows, POST records; signed out → sign in → continue), my check-ins with points and cut-offs,
household visits (log, my visits, the grid admin's queue), and the API."""

from __future__ import annotations

import re
from datetime import date
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from sqlalchemy import select

from app.checkins import services as chk
from app.checkins.models import HouseholdVisit, PartyCheckin
from app.people import services as people
from app.people.models import Member
from app.points.checkin_rules import change_checkin_rule
from app.tokens import make_token
from tests.conftest import csrf_from, sign_in
from tests.factories import PASSWORD
from tests.web.test_api import commit, post, signed_in


def _party(app, town, key="party"):
    """A party member of community A (报到社区) who can sign in; registered in town.users[key]."""

    def make(s):
        m = s.get(Member, town.users["volunteer"][0].id)
        m.is_party_member = True
        m.checkin_community_id = town.community_a.id
        return m

    m = commit(app, make)
    town.users[key] = (m, m.mobile, PASSWORD)
    return m


def _site(app, town, unit=None, **kw):
    return commit(app, lambda s: chk.create_site(s, town.district.id, None, unit or town.community_a, "", **kw).id)


def _poster_token(app, town, site_id):
    with app.app_context():
        return make_token("site_poster", town.district.id, site_id)


def _checkins(app, member_id):
    return commit(
        app,
        lambda s: [
            (c.site_id, c.points, c.points_cut)
            for c in s.scalars(select(PartyCheckin).where(PartyCheckin.member_id == member_id))
        ],
    )


def test_admin_creates_a_site_by_typing_the_units_name(app, client, town):
    client.get("/?lang=en")
    sign_in(client, town, "district_admin")
    page = client.get("/checkins/sites/new")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'name="unit-text"' in html  # picked by typing, never by number
    resp = client.post(
        "/checkins/sites/new",
        data={
            "csrf_token": csrf_from(html),
            "unit-text": "凤凰第一片区",
            "name": "",
            "lat": "",
            "lng": "",
            "radius_m": "",
        },
    )
    assert resp.status_code == 302, resp.get_data(as_text=True)[:3000]
    site_page = client.get(resp.headers["Location"])
    text = site_page.get_data(as_text=True)
    assert "凤凰第一片区网格" in text and "Print the QR poster" in text
    assert "Check-in sites" in client.get("/checkins/sites/").get_data(as_text=True)
    # A street is no place for a site: the form says so.
    resp = client.post(
        "/checkins/sites/new",
        data={"csrf_token": csrf_from(html), "unit-text": "凤凰街道", "name": ""},
    )
    assert resp.status_code == 422 and "area grid" in resp.get_data(as_text=True)


def test_volunteers_may_not_manage_sites(app, client, town):
    site_id = _site(app, town)
    sign_in(client, town, "volunteer")
    assert client.get("/checkins/sites/").status_code in (403, 404)
    assert client.get("/checkins/sites/new").status_code in (403, 404)
    assert client.get(f"/checkins/sites/{site_id}/poster").status_code in (403, 404)


def test_poster_and_rotating_code(app, client, town):
    site_id = _site(app, town)
    sign_in(client, town, "grid_admin")
    poster = client.get(f"/checkins/sites/{site_id}/poster").get_data(as_text=True)
    assert "<svg" in poster and "AX1.SP." in poster and "js/qr.js" in poster
    code = client.get(f"/checkins/sites/{site_id}/code").get_data(as_text=True)
    assert "AX1.S." in code and "code.svg" in code
    svg = client.get(f"/checkins/sites/{site_id}/code.svg")
    assert svg.mimetype == "image/svg+xml" and svg.headers["Cache-Control"] == "no-store"


def test_party_member_signs_in_then_is_checked_in_and_sees_the_points(app, client, town):
    site_id = _site(app, town)
    member = _party(app, town)
    token = _poster_token(app, town, site_id)
    client.get("/?lang=en")
    resp = client.get(f"/site-scan/{token}")
    assert resp.status_code == 302 and urlsplit(resp.headers["Location"]).path == "/signin"
    location = resp.headers["Location"]
    nxt = parse_qs(urlsplit(location).query)["next"][0]
    assert "seen=" in nxt
    page = client.get(location)
    resp = client.post(
        location,
        data={
            "csrf_token": csrf_from(page.get_data(as_text=True)),
            "district": town.district.id,
            "mobile": member.mobile,
            "password": PASSWORD,
        },
    )
    assert resp.status_code == 302 and unquote(resp.headers["Location"]).endswith(unquote(nxt))
    page = client.get(nxt)
    html = page.get_data(as_text=True)
    assert 'id="scan-form"' in html and "js/scan.js" in html and "凤凰社区" in html
    assert _checkins(app, member.id) == []  # a GET changes nothing
    resp = client.post(nxt, data={"csrf_token": csrf_from(html)})
    text = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "Checked in" in text and "+2 points" in text, text[:2000]
    assert _checkins(app, member.id) == [(site_id, 2, 0)]
    again = client.post(nxt, data={"csrf_token": csrf_from(html)})
    assert again.status_code == 409 and "already checked in" in again.get_data(as_text=True)
    mine = client.get("/me/checkins").get_data(as_text=True)
    assert "凤凰社区" in mine and "+2" in mine and "2 of at most 20" in mine
    assert "My check-ins" in client.get("/").get_data(as_text=True)  # the menu shows party members the link
    # The points history says what the points were for, not just the site's name.
    assert re.search(r"Check-in \(报到\) at [^<]*凤凰社区", client.get("/me/points").get_data(as_text=True))


def test_cap_is_shown_to_the_member(app, client, town):
    commit(app, lambda s: change_checkin_rule(s, town.district.id, None, points_per_checkin=15, monthly_cap=20))
    a, b = _site(app, town), _site(app, town, town.grid_a1)
    _party(app, town)
    client.get("/?lang=zh_Hans_CN")
    sign_in(client, town, "party")
    for site_id in (a, b):
        token = _poster_token(app, town, site_id)
        html = client.get(f"/site-scan/{token}").get_data(as_text=True)
        resp = client.post(f"/site-scan/{token}", data={"csrf_token": csrf_from(html)})
    text = resp.get_data(as_text=True)
    assert "+5" in text and "本月报到积分已达上限 20" in text
    assert "本月报到积分已达上限 20" in client.get("/me/checkins").get_data(as_text=True)


def test_not_a_party_member_is_told(app, client, town):
    site_id = _site(app, town)
    client.get("/?lang=en")
    sign_in(client, town, "organiser")
    token = _poster_token(app, town, site_id)
    html = client.get(f"/site-scan/{token}").get_data(as_text=True)
    resp = client.post(f"/site-scan/{token}", data={"csrf_token": csrf_from(html)})
    assert resp.status_code == 403 and "for party members" in resp.get_data(as_text=True)


def test_visits_logged_and_confirmed_by_the_grid_admin(app, client, town):
    member = _party(app, town)
    commit(
        app,
        lambda s: people.assign(
            s, s.get(Member, member.id), s.merge(town.grid_a1), "party_member", effective_from=date(2026, 1, 1)
        ),
    )
    client.get("/?lang=en")
    sign_in(client, town, "party")
    page = client.get("/me/visits")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "凤凰第一片区网格" in html
    resp = client.post(
        "/me/visits",
        data={
            "csrf_token": csrf_from(html),
            "grid": town.grid_a1.id,
            "visit_date": "2026-12-01",
            "households": "8",
            "note": "入户走访",
        },
    )
    assert resp.status_code == 302, resp.get_data(as_text=True)[:3000]
    assert "Waiting for the grid admin" in client.get("/me/visits").get_data(as_text=True)
    bad = client.post(
        "/me/visits",
        data={"csrf_token": csrf_from(html), "grid": town.grid_a1.id, "visit_date": "2026-12-01", "households": "500"},
    )
    assert bad.status_code == 422
    visit_id = commit(app, lambda s: s.scalar(select(HouseholdVisit.id).where(HouseholdVisit.member_id == member.id)))

    admin = app.test_client()
    admin.get("/?lang=en")
    sign_in(admin, town, "grid_admin")
    queue = admin.get("/checkins/visits/").get_data(as_text=True)
    assert member.name in queue and "8 households" in queue
    decide = f"/checkins/visits/{visit_id}/decide"
    # A decision is final: the first tap asks, saying what it does; nothing is decided yet.
    ask = admin.post(decide, data={"csrf_token": csrf_from(queue), "decision": "confirm", "reason": ""})
    asked = ask.get_data(as_text=True)
    assert ask.status_code == 200 and "Confirm this visit?" in asked and "cannot be undone" in asked
    assert member.name in asked and 'name="confirm" value="yes"' in asked
    assert commit(app, lambda s: s.get(HouseholdVisit, visit_id).status) == "submitted"
    # Rejecting without a reason: the question says what is missing and asks for it there, with the
    # button to reject (no dead end); nothing is decided yet.
    ask = admin.post(decide, data={"csrf_token": csrf_from(queue), "decision": "reject", "reason": ""})
    asked_reason = ask.get_data(as_text=True)
    assert "Say why the visit is rejected." in asked_reason
    assert re.search(r'<input id="visit-reason" name="reason"[^>]*required', asked_reason)
    assert 'class="danger"' in asked_reason and commit(app, lambda s: s.get(HouseholdVisit, visit_id).status) == (
        "submitted"
    )
    resp = admin.post(
        decide, data={"csrf_token": csrf_from(asked), "decision": "confirm", "reason": "", "confirm": "yes"}
    )
    assert resp.status_code == 302
    assert commit(app, lambda s: s.get(HouseholdVisit, visit_id).status) == "confirmed"
    # The party member may not confirm anything.
    assert client.get("/checkins/visits/").status_code in (403, 404)


def test_api_sites_scans_checkins_visits(app, town):
    member = _party(app, town)
    commit(
        app,
        lambda s: people.assign(
            s, s.get(Member, member.id), s.merge(town.grid_a1), "party_member", effective_from=date(2026, 1, 1)
        ),
    )
    admin = app.test_client()
    at = signed_in(admin, town, "district_admin")
    r = post(
        admin,
        "/api/v1/checkin-sites",
        {"unit_id": town.community_a.id, "lat": 22.778, "lng": 113.936, "radius_m": 300},
        at,
    )
    assert r.status_code == 201, r.get_data(as_text=True)
    site = r.get_json()
    assert admin.get("/api/v1/checkin-sites").get_json()["items"][0]["id"] == site["id"]
    r = post(admin, "/api/v1/checkin-sites", {"unit_id": town.community_a.id}, at)
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "site_exists"

    c = app.test_client()
    ct = signed_in(c, town, "party")
    token = _poster_token(app, town, site["id"])
    r = post(c, "/api/v1/site-scans", {"token": token, "lat": 22.79, "lng": 113.936}, ct)
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "outside_radius"
    r = post(c, "/api/v1/site-scans", {"token": token, "lat": 22.7781, "lng": 113.936}, ct)
    assert r.status_code == 201, r.get_data(as_text=True)
    assert r.get_json()["checkin"]["points"] == 2 and r.get_json()["code"] == "checked_in"
    r = post(c, "/api/v1/site-scans", {"token": token, "lat": 22.7781, "lng": 113.936}, ct)
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "already_checked_in_today"
    mine = c.get("/api/v1/me/checkins").get_json()["items"]
    assert [(x["site_id"], x["points"], x["points_cut"]) for x in mine] == [(site["id"], 2, 0)]

    o = app.test_client()
    ot = signed_in(o, town, "organiser")
    r = post(o, "/api/v1/site-scans", {"token": token, "lat": 22.7781, "lng": 113.936}, ot)
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "not_a_party_member"

    r = post(
        c, "/api/v1/household-visits", {"grid_id": town.grid_a1.id, "visit_date": "2026-12-01", "households": 4}, ct
    )
    assert r.status_code == 201, r.get_data(as_text=True)
    visit = r.get_json()
    r = post(
        c, "/api/v1/household-visits", {"grid_id": town.grid_b1.id, "visit_date": "2026-12-01", "households": 4}, ct
    )
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "not_responsible"
    assert c.get("/api/v1/household-visits").get_json()["items"][0]["status"] == "submitted"
    r = post(c, f"/api/v1/household-visits/{visit['id']}/decision", {"confirm": True}, ct)
    assert r.status_code in (403, 404)
    g = app.test_client()
    gt = signed_in(g, town, "grid_admin")
    assert [v["id"] for v in g.get("/api/v1/household-visits?scope=queue").get_json()["items"]] == [visit["id"]]
    r = post(g, f"/api/v1/household-visits/{visit['id']}/decision", {"confirm": False}, gt)
    assert r.status_code == 422
    r = post(g, f"/api/v1/household-visits/{visit['id']}/decision", {"confirm": False, "reason": "未见记录"}, gt)
    assert r.status_code == 200 and r.get_json()["status"] == "rejected"


@pytest.mark.parametrize("path", ["/me/checkins", "/me/visits"])
def test_member_pages_render_for_anyone_signed_in(app, client, town, path):
    sign_in(client, town, "volunteer")
    assert client.get(path).status_code == 200


def test_district_admin_sets_a_new_checkin_rule_version(app, client, town):
    client.get("/?lang=en")
    sign_in(client, town, "district_admin")
    page = client.get("/checkins/rule")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "At most 20 check-in points a month" in html and "Built-in default" in html
    resp = client.post(
        "/checkins/rule",
        data={
            "csrf_token": csrf_from(html),
            "points_per_checkin": "3",
            "other_site_points": "1",
            "monthly_cap": "",
            "reason": "试行",
        },
    )
    assert resp.status_code == 302, resp.get_data(as_text=True)[:3000]
    html = client.get("/checkins/rule").get_data(as_text=True)
    assert "3 points per check-in" in html and "No monthly cap" in html and "Version 1" in html
    bad = client.post(
        "/checkins/rule",
        data={"csrf_token": csrf_from(html), "points_per_checkin": "5000", "other_site_points": "0", "reason": "x"},
    )
    assert bad.status_code == 422
    assert "Points must be a whole number from 0 to 1,000." in bad.get_data(as_text=True)  # not a generic range
    # Only district admins change it; an organiser may not even open it.
    other = app.test_client()
    sign_in(other, town, "grid_admin")
    assert other.get("/checkins/rule").status_code in (403, 404)


def test_an_api_scan_reads_site_rule_and_community_once_and_takes_the_cap_in_one_statement(app, town):
    """The scan's own statements (the ledger's are the ledger's business): the principal, one read of
    the member with the site and its unit, the member's community and the rule in force, the check-in
    row, one upsert of the monthly-cap counter, and the check-in's points. No separate read of the
    member, the rule, the counter or the site's source account — and the points are still right."""
    from sqlalchemy import event

    member = _party(app, town)

    def second(s):
        m = s.get(Member, town.users["organiser"][0].id)
        m.is_party_member, m.checkin_community_id = True, town.community_a.id

    commit(app, second)
    site_id, other_id = _site(app, town), _site(app, town, town.grid_a1)
    c, o = app.test_client(), app.test_client()
    ct, ot = signed_in(c, town, "party"), signed_in(o, town, "organiser")
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        statements.append(" ".join(statement.split()))

    engine = app.extensions["db_sessionmaker"]().get_bind()
    event.listen(engine, "before_cursor_execute", count)
    try:
        r = post(c, "/api/v1/site-scans", {"token": _poster_token(app, town, site_id)}, ct)
        first = list(statements)
        statements.clear()
        r2 = post(o, "/api/v1/site-scans", {"token": _poster_token(app, town, site_id)}, ot)
        second_scan = list(statements)
        r3 = post(c, "/api/v1/site-scans", {"token": _poster_token(app, town, other_id)}, ct)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert (r.status_code, r2.status_code, r3.status_code) == (201, 201, 201), r3.get_data(as_text=True)
    assert r3.get_json()["checkin"]["points"] == 2 and r3.get_json()["checkin"]["own_community"] is True
    own = [
        s.split(" (")[0] if s.startswith("INSERT") else s[:40]
        for s in second_scan
        if "ledger_" not in s and s.split(None, 1)[0] in ("SELECT", "INSERT", "UPDATE", "DELETE")
    ]
    assert len(own) == 5, own
    assert own[2:4] == ["INSERT INTO party_checkins", "INSERT INTO points_counters"], own
    assert own[4].startswith("UPDATE party_checkins"), own
    assert any("checkin_rules" in s and "checkin_sites" in s and "FROM members" in s for s in second_scan), second_scan
    assert not [s for s in statements if s.startswith(("SELECT checkin_rules", "SELECT points_counters"))]
    # The first credited scan at a unit opens its source account on the way; the next one finds it.
    assert any("INSERT INTO ledger_accounts" in s for s in first)
    assert not any("INSERT INTO ledger_accounts" in s for s in second_scan)
    assert _checkins(app, member.id) == [(site_id, 2, 0), (other_id, 2, 0)]


def test_a_scan_past_the_monthly_cap_is_recorded_and_says_cap_reached(app, town):
    from app.points.checkin_rules import change_checkin_rule

    _party(app, town)
    first, second = _site(app, town), _site(app, town, town.grid_a1)
    commit(app, lambda s: change_checkin_rule(s, town.district.id, None, points_per_checkin=15, monthly_cap=20))
    c = app.test_client()
    ct = signed_in(c, town, "party")
    r = post(c, "/api/v1/site-scans", {"token": _poster_token(app, town, first)}, ct)
    assert r.status_code == 201 and r.get_json()["code"] == "checked_in" and r.get_json()["checkin"]["points"] == 15
    r = post(c, "/api/v1/site-scans", {"token": _poster_token(app, town, second)}, ct)
    body = r.get_json()
    assert r.status_code == 201 and body["code"] == "cap_reached"  # recorded; the cap cut 10 of its 15
    assert (body["checkin"]["points"], body["checkin"]["points_cut"]) == (5, 10)
