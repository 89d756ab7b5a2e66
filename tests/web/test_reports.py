"""Compliance and pledge reports through the real app, on both databases: the numbers of the three
reports for a small set of check-ins, visits and assignments made with the checkins and people services;
the absent list at its boundary; scope (404 outside, 403 for a volunteer, the auditor reads); the pick
page; the .xlsx exports (opened with openpyxl, same numbers); and the JSON API."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from io import BytesIO

import pytest
from openpyxl import load_workbook

from app.checkins import services as chk
from app.people import services as people
from app.reports import services as rep
from app.tokens import make_token
from tests.conftest import sign_in
from tests.factories import make_member
from tests.web.test_api import commit


def _utc_noon(day: date) -> datetime:
    """12:00 Beijing time on `day`, as the naive UTC the services take."""
    return datetime.combine(day, time(4, 0))


@dataclass
class World:
    today: date
    since: date
    p1: int
    p2: int
    p3: int
    p4: int
    p5: int
    checkin_days_a: list  # days of the check-ins at community A's site
    checkin_days_b: list


@pytest.fixture
def world(app, town) -> World:
    today = rep.beijing_today()
    since = rep.cutoff(today, 6)

    def build(s):
        t = town.district.id

        def party(name, grid, community):
            m = make_member(s, t, grid, name=name)
            m.is_party_member = True
            m.checkin_community_id = community.id
            s.flush()
            return m

        p1 = party("甲党员", town.grid_a1, town.community_a)
        p2 = party("乙党员", town.grid_a2, town.community_a)
        p3 = party("丙党员", town.grid_a2, town.community_a)
        p4 = party("丁党员", town.grid_b1, town.community_a)  # lives in B, reports (报到) to A
        p5 = party("戊党员", town.grid_b1, town.community_b)
        make_member(s, t, town.grid_a1, name="群众甲")  # not a party member: never listed
        site_a = chk.create_site(s, t, None, town.community_a, "")
        site_b = chk.create_site(s, t, None, town.community_b, "")
        token_a = make_token("site_poster", t, site_a.id)
        token_b = make_token("site_poster", t, site_b.id)
        days_a = [(p1, today), (p1, rep.months_back(today, 2)), (p2, since), (p3, since - timedelta(days=1))]
        for m, day in days_a:
            chk.check_in(s, m, token_a, now=_utc_noon(day))
        days_b = [(p5, rep.months_back(today, 1))]
        for m, day in days_b:
            chk.check_in(s, m, token_b, now=_utc_noon(day))
        # 包格联户: p1 responsible for grid A1 now; p2 was for A2 but no longer.
        people.assign(s, p1, town.grid_a1, "party_member", effective_from=today - timedelta(days=30))
        a2 = people.assign(s, p2, town.grid_a2, "party_member", effective_from=today - timedelta(days=60))
        people.end_assignment(s, a2, today - timedelta(days=10))
        v1 = chk.log_visit(s, p1, town.grid_a1.id, today - timedelta(days=3), 5, today=today)
        chk.log_visit(s, p1, town.grid_a1.id, today - timedelta(days=2), 7, today=today)  # not confirmed
        v3 = chk.log_visit(s, p2, town.grid_a2.id, today - timedelta(days=20), 4, today=today)
        v4 = chk.log_visit(s, p1, town.grid_a1.id, today - timedelta(days=4), 9, today=today)
        for v, ok in ((v1, True), (v3, True), (v4, False)):
            chk.decide_visit(s, v, None, ok, "" if ok else "没有走访记录")
        return World(today, since, p1.id, p2.id, p3.id, p4.id, p5.id, [d for _m, d in days_a], [d for _m, d in days_b])

    return commit(app, build)


def _months(days) -> Counter:
    return Counter(f"{d.year}-{d.month:02d}" for d in days)


def test_checkins_by_month_count_the_sites_in_the_subtree(app, town, world):
    def read(s):
        return rep.party_checkins(s, town.community_a), rep.party_checkins(s, town.street)

    community, street = commit(app, read)
    assert len(community) == 12 and community[-1].label == f"{world.today.year}-{world.today.month:02d}"
    assert {r.label: r.checkins for r in community if r.checkins} == dict(_months(world.checkin_days_a))
    assert {r.label: r.checkins for r in street if r.checkins} == dict(
        _months(world.checkin_days_a + world.checkin_days_b)
    )
    assert (community[-1].checkins, community[-1].members) == (1, 1)  # p1 today
    two_back = rep.months_back(world.today, 2)
    assert next(r for r in community if (r.year, r.month) == (two_back.year, two_back.month)).members == 1


def test_absent_list_at_the_boundary(app, town, world):
    rows = commit(app, lambda s: rep.absent_all(s, town.community_a, 6))
    # p2 checked in exactly on the cutoff day: not absent; p3 the day before: absent. p4 never, first.
    assert [(r.member_id, r.last_checkin, r.why) for r in rows] == [
        (world.p4, None, rep.CHECKIN_COMMUNITY),
        (world.p3, world.since - timedelta(days=1), rep.BOTH),  # lives in A2 and reports to A
    ]
    both = commit(app, lambda s: rep.absent_all(s, town.street, 6))
    assert {r.member_id for r in both} == {world.p3, world.p4}
    assert next(r.why for r in both if r.member_id == world.p4) == rep.BOTH
    # One month: everyone without a check-in this last month, never first.
    one = commit(app, lambda s: rep.absent_all(s, town.community_a, 1))
    assert world.p1 not in {r.member_id for r in one} and one[0].member_id == world.p4
    page = commit(app, lambda s: rep.absent_page(s, town.community_a, 6, number=1, size=1))
    assert page.total == 2 and page.has_next and [r.member_id for r in page.items] == [world.p4]


def test_grid_coverage_counts_current_party_members_and_confirmed_households(app, town, world):
    rows = commit(app, lambda s: rep.grid_coverage(s, town.community_a, world.today - timedelta(days=90), world.today))
    assert [(r.grid_id, r.party_members, r.households) for r in rows] == [
        (town.grid_a1.id, 1, 5),
        (town.grid_a2.id, 0, 4),
    ]
    narrow = commit(app, lambda s: rep.grid_coverage(s, town.community_a, world.today - timedelta(days=5), world.today))
    assert [r.households for r in narrow] == [5, 0]


def test_grid_admin_reads_the_pages_and_the_numbers_match(app, client, town, world):
    client.get("/?lang=en")
    sign_in(client, town, "grid_admin")
    home = client.get("/reports/").get_data(as_text=True)
    assert 'name="unit-text"' in home and "Reports" in home
    resp = client.get("/reports/", query_string={"unit-text": "凤凰社区", "report": "absent"})
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/reports/units/{town.community_a.id}/absent")
    html = client.get(f"/reports/units/{town.community_a.id}/absent").get_data(as_text=True)
    assert "丁党员" in html and "丙党员" in html and "乙党员" not in html and "甲党员" not in html
    assert "Never" in html and (world.since - timedelta(days=1)).isoformat() in html
    html = client.get(f"/reports/units/{town.community_a.id}/party-checkins").get_data(as_text=True)
    assert 'id="report-chart"' in html and 'type="application/json" id="report-chart-data"' in html
    assert "chart.umd.min.js" in html and "js/reports.js" in html
    html = client.get(f"/reports/units/{town.community_a.id}/grid-coverage").get_data(as_text=True)
    assert "1 of 2 grids" in html and "No party member" in html


def test_scope_auditor_and_volunteer(app, client, town, world):
    sign_in(client, town, "grid_admin")
    for unit in (town.community_b, town.street, town.grid_b1):
        for report in ("party-checkins", "absent", "grid-coverage", "absent.xlsx"):
            assert client.get(f"/reports/units/{unit.id}/{report}").status_code == 404
        assert client.get("/api/v1/reports/grid-coverage", query_string={"unit_id": unit.id}).status_code == 404
    assert client.get(f"/reports/units/{town.grid_a1.id}/absent").status_code == 200
    client.get("/signout")
    client.post("/signout")

    other = client.application.test_client()
    sign_in(other, town, "auditor")
    assert other.get(f"/reports/units/{town.street.id}/party-checkins").status_code == 200
    assert (
        other.get("/api/v1/reports/absent-party-members", query_string={"unit_id": town.street.id}).status_code == 200
    )

    vol = client.application.test_client()
    sign_in(vol, town, "volunteer")
    assert vol.get("/reports/").status_code == 403
    assert vol.get(f"/reports/units/{town.community_a.id}/party-checkins").status_code == 403
    assert vol.get("/api/v1/reports/party-checkins", query_string={"unit_id": town.community_a.id}).status_code == 403
    assert "/reports/" not in vol.get("/").get_data(as_text=True)


def _sheet(resp):
    assert resp.status_code == 200 and resp.mimetype.endswith("spreadsheetml.sheet")
    ws = load_workbook(BytesIO(resp.data)).active
    return [list(r) for r in ws.iter_rows(values_only=True)]


def test_xlsx_exports_have_the_same_numbers(app, client, town, world):
    client.get("/?lang=en")
    sign_in(client, town, "grid_admin")
    u = town.community_a.id
    rows = _sheet(client.get(f"/reports/units/{u}/party-checkins.xlsx"))
    assert rows[0] == ["Month", "Check-ins", "Party members who checked in"]
    assert {r[0]: r[1] for r in rows[1:] if r[1]} == dict(_months(world.checkin_days_a))
    rows = _sheet(client.get(f"/reports/units/{u}/absent.xlsx", query_string={"months": 6}))
    assert [(r[0], r[3]) for r in rows[1:]] == [
        ("丁党员", "Never"),
        ("丙党员", (world.since - timedelta(days=1)).isoformat()),
    ]
    start = (world.today - timedelta(days=90)).isoformat()
    rows = _sheet(client.get(f"/reports/units/{u}/grid-coverage.xlsx", query_string={"from": start}))
    assert [r[1:] for r in rows[1:]] == [[1, 5], [0, 4]]


def test_api_reports(app, client, town, world):
    sign_in(client, town, "grid_admin")
    u = town.community_a.id
    body = client.get("/api/v1/reports/party-checkins", query_string={"unit_id": u, "months": 3}).get_json()
    assert len(body["months"]) == 3
    recent = {k: v for k, v in _months(world.checkin_days_a).items() if k in {m["month"] for m in body["months"]}}
    assert {m["month"]: m["checkins"] for m in body["months"] if m["checkins"]} == recent
    body = client.get("/api/v1/reports/absent-party-members", query_string={"unit_id": u}).get_json()
    assert body["total"] == 2 and body["since"] == world.since.isoformat()
    assert [(i["member_id"], i["last_checkin"], i["counted_because"]) for i in body["items"]] == [
        (world.p4, None, "checkin_community"),
        (world.p3, (world.since - timedelta(days=1)).isoformat(), "both"),
    ]
    start = (world.today - timedelta(days=90)).isoformat()
    body = client.get("/api/v1/reports/grid-coverage", query_string={"unit_id": u, "from": start}).get_json()
    assert (body["grids"], body["covered_grids"], body["households"]) == (2, 1, 9)
    for bad in ({"unit_id": u, "months": 0}, {"unit_id": u, "months": 25}, {"unit_id": "x"}, {}):
        assert client.get("/api/v1/reports/party-checkins", query_string=bad).status_code == 422
    resp = client.get(
        "/api/v1/reports/grid-coverage", query_string={"unit_id": u, "from": "2026-05-01", "to": "2026-01-01"}
    )
    assert resp.status_code == 422
