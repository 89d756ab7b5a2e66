"""Organisers' pages: every page renders for the organiser, others get 403/404, the real forms (CSRF and
all) create, edit, publish and cancel activities, record hand and paper entries, review hours, change
the points rules; the attendance export opens as a spreadsheet."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import openpyxl
import pytest
from sqlalchemy import select

from app.activities import services
from app.activities.models import Activity, Attendance
from app.audit.models import AuditEvent
from app.db import unit_of_work, utcnow
from app.notices.models import Notice
from app.people.models import Member
from app.points import services as points
from app.points.models import PointsRule
from app.times import to_beijing
from ledger import Ledger
from tests.conftest import csrf_from, sign_in
from tests.factories import PASSWORD, make_member, make_user


def _uow(app):
    return unit_of_work(app.extensions["db_sessionmaker"])


def make_activity(
    app,
    town,
    *,
    title="社区清洁",
    starts_in=timedelta(minutes=-10),
    hours=2,
    radius=None,
    publish=True,
    done=0,
    signed_up=0,
    unit=None,
):
    """An activity hosted by community A; `done` volunteers checked in and out (waiting for review),
    `signed_up` signed up. Returns (activity id, [member ids of those done], [signed up ids])."""
    with app.test_request_context(), _uow(app) as s:
        now = utcnow().replace(second=0, microsecond=0)
        data = services.ActivityData(
            title=title,
            category="environment",
            host_unit_id=(unit or town.community_a).id,
            place="凤凰社区广场",
            starts_at=now + starts_in,
            ends_at=now + starts_in + timedelta(hours=hours),
            capacity=10,
            lat=30.0 if radius else None,
            lng=120.0 if radius else None,
            radius_m=radius,
        )
        a = services.create_activity(s, town.district.id, data, actor_user_id=None)
        if publish:
            services.publish_activity(s, a, actor_user_id=None)
        ids, signed = [], []
        for i in range(done):
            m = make_member(s, town.district.id, town.grid_a1, name=f"志愿者{i}")
            services.check_in(s, a, m, a.starts_at, "manual")
            services.check_out(s, a, m, a.starts_at + timedelta(hours=hours), "manual")
            ids.append(m.id)
        for i in range(signed_up):
            m = make_member(s, town.district.id, town.grid_a1, name=f"报名者{i}")
            services.sign_up(s, a.id, m)
            signed.append(m.id)
        return a.id, ids, signed


def _post(client, url, data, page_url=None):
    page = client.get(page_url or url)
    assert page.status_code == 200, page.get_data(as_text=True)[:500]
    return client.post(url, data={"csrf_token": csrf_from(page.get_data(as_text=True)), **data})


def _text(resp) -> str:
    return resp.get_data(as_text=True)


def test_every_page_renders_for_the_organiser(app, client, town):
    aid, _done, _s = make_activity(app, town, done=1, signed_up=1)
    sign_in(client, town, "organiser")
    base = f"/organise/activities/{aid}"
    for url in [
        "/organise/",
        "/organise/?q=清洁&show=upcoming",
        "/organise/?show=past",
        "/organise/activities/new",
        base,
        f"{base}/edit",
        f"{base}/cancel",
        f"{base}/code/in",
        f"{base}/code/out",
        f"{base}/poster/in",
        f"{base}/poster/out",
        f"{base}/live",
        f"{base}/by-hand",
        f"{base}/paper",
        f"{base}/review",
        f"{base}/review/all",
        "/points/rules",
    ]:
        resp = client.get(url)
        assert resp.status_code == 200, (url, _text(resp)[:800])
    home = _text(client.get("/organise/"))
    assert "社区清洁" in home and "/organise/activities/" in home
    svg = client.get(f"{base}/code/in.svg")
    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml"
    assert svg.headers["Cache-Control"] == "no-store"
    token = re.search(r'data-token="([^"]+)"', svg.get_data(as_text=True)).group(1)
    assert token.split(".")[1] == "AI"
    with app.app_context():
        assert services.read_scan_token(token, town.district.id)[0] == aid
    poster = _text(client.get(f"{base}/poster/out"))
    assert "@page" not in poster  # print CSS lives in the stylesheet
    assert re.search(r'data-token="[^"]*\.PO\.', poster)


def test_menu_links_for_the_organiser_only(client, town):
    sign_in(client, town, "organiser")
    home = _text(client.get("/"))
    assert "/organise/" in home and "/points/rules" in home


@pytest.mark.parametrize(
    "url",
    [
        "/organise/activities/{aid}",
        "/organise/activities/{aid}/review",
        "/organise/activities/{aid}/code/in",
        "/organise/activities/{aid}/attendances.xlsx",
    ],
)
def test_a_volunteer_may_not_open_organisers_pages(app, client, town, url):
    aid, _d, _s = make_activity(app, town)
    sign_in(client, town, "volunteer")
    assert client.get("/organise/").status_code == 403
    assert client.get(url.format(aid=aid)).status_code in (403, 404)
    assert "/organise/" not in _text(client.get("/"))


def test_another_communitys_organiser_gets_404(app, client, town):
    aid, _d, _s = make_activity(app, town, done=1)
    with app.test_request_context(), _uow(app) as s:
        m = make_user(s, town.district.id, town.grid_b1, "孙丽", [("organiser", town.community_b)])
        mobile = m.mobile
    town.users["organiser_b"] = (m, mobile, PASSWORD)
    sign_in(client, town, "organiser_b")
    for suffix in ["", "/edit", "/code/in", "/live", "/review", "/attendances.xlsx"]:
        assert client.get(f"/organise/activities/{aid}{suffix}").status_code == 404, suffix
    assert "社区清洁" not in _text(client.get("/organise/"))


def _form_data(**over):
    start = to_beijing(utcnow()) + timedelta(days=2)
    data = {
        "title": "敬老院探访",
        "description": "陪老人聊天",
        "category": "elderly",
        "host_unit_id-text": "凤凰社区",
        "host_unit_id": "",
        "place": "凤凰敬老院",
        "lat": "",
        "lng": "",
        "radius_m": "",
        "starts_at": start.strftime("%Y-%m-%dT09:00"),
        "ends_at": start.strftime("%Y-%m-%dT11:30"),
        "capacity": "5",
        "signup_opens_at": "",
        "signup_closes_at": "",
        "eligibility": "district",
        "eligible_unit_id-text": "",
        "eligible_unit_id": "",
        "eligible_tag": "",
        "walk_ins": "y",
    }
    data.update(over)
    return data


def test_create_edit_publish_and_cancel_through_the_forms(app, client, town, engine):
    sign_in(client, town, "organiser")
    # A service error shows on its field.
    bad = _post(client, "/organise/activities/new", _form_data(ends_at=_form_data()["starts_at"]))
    assert bad.status_code == 422
    assert "The end must be after the start." in _text(bad) or "结束时间" in _text(bad)
    # A year-1 date is a typo to fix (it was a 500: Beijing to UTC steps back before year 1).
    for field in ("starts_at", "signup_opens_at"):
        bad = _post(client, "/organise/activities/new", _form_data(**{field: "0001-01-01T00:00"}))
        assert bad.status_code == 422 and "2000" in _text(bad) and "2100" in _text(bad), field
    resp = _post(client, "/organise/activities/new", _form_data())
    assert resp.status_code == 302, _text(resp)[:2000]
    aid = int(resp.headers["Location"].rstrip("/").split("/")[-1])
    with app.test_request_context(), _uow(app) as s:
        a = s.get(Activity, aid)
        assert (a.title, a.category, a.status, a.host_unit_id) == (
            "敬老院探访",
            "elderly",
            "draft",
            town.community_a.id,
        )
        assert to_beijing(a.starts_at).strftime("%H:%M") == "09:00"  # entered in Beijing time, stored UTC
        assert (a.ends_at - a.starts_at) == timedelta(hours=2, minutes=30)
    page = _text(client.get(f"/organise/activities/{aid}/edit"))
    assert 'value="敬老院探访"' in page and "T09:00" in page
    resp = _post(client, f"/organise/activities/{aid}/edit", _form_data(title="敬老院探访（下午）", capacity="8"))
    assert resp.status_code == 302, _text(resp)[:2000]
    # Publishing asks first (it cannot be taken back); a POST without confirm=yes only asks again.
    detail = _text(client.get(f"/organise/activities/{aid}"))
    assert f'href="/organise/activities/{aid}/publish"' in detail
    question = _text(client.get(f"/organise/activities/{aid}/publish"))
    assert "敬老院探访（下午）" in question and ("cannot go back to a draft" in question or "不能退回草稿" in question)
    again = client.post(f"/organise/activities/{aid}/publish", data={"csrf_token": csrf_from(question)})
    assert again.status_code == 200 and "confirm" in _text(again)
    with app.test_request_context(), _uow(app) as s:
        assert s.get(Activity, aid).status == "draft"
    resp = client.post(
        f"/organise/activities/{aid}/publish", data={"csrf_token": csrf_from(question), "confirm": "yes"}
    )
    assert resp.status_code == 302
    assert client.get(f"/organise/activities/{aid}/publish").status_code == 302  # nothing left to publish
    # A volunteer signs up; cancelling tells them.
    with app.test_request_context(), _uow(app) as s:
        m = make_member(s, town.district.id, town.grid_a1, name="周杰")
        services.sign_up(s, aid, m)
        mid = m.id
    confirm = client.get(f"/organise/activities/{aid}/cancel")
    assert "cannot be undone" in _text(confirm) or "无法撤销" in _text(confirm) or "不能撤销" in _text(confirm)
    # Without a reason nothing happens.
    no_reason = client.post(
        f"/organise/activities/{aid}/cancel",
        data={"csrf_token": csrf_from(_text(confirm)), "confirm": "yes", "reason": ""},
    )
    assert no_reason.status_code == 422
    resp = client.post(
        f"/organise/activities/{aid}/cancel",
        data={"csrf_token": csrf_from(_text(confirm)), "confirm": "yes", "reason": "暴雨预警"},
    )
    assert resp.status_code == 302
    with app.test_request_context(), _uow(app) as s:
        a = s.get(Activity, aid)
        assert (a.title, a.capacity, a.status, a.cancel_reason) == ("敬老院探访（下午）", 8, "cancelled", "暴雨预警")
        notices = s.scalars(select(Notice).where(Notice.member_id == mid)).all()
        assert any(n.kind == "activity.cancelled" for n in notices)


def test_create_without_csrf_is_refused(client, town):
    sign_in(client, town, "organiser")
    resp = client.post("/organise/activities/new", data=_form_data())
    assert resp.status_code in (400, 422)


def test_review_approve_adjust_reject_through_the_form(app, client, town):
    aid, done, _s = make_activity(app, town, done=4)
    sign_in(client, town, "organiser")
    with app.test_request_context(), _uow(app) as s:
        att = {a.member_id: a.id for a in s.scalars(select(Attendance).where(Attendance.activity_id == aid))}
    a0, a1, a2, a3 = (att[m] for m in done)
    url = f"/organise/activities/{aid}/review"
    page = _text(client.get(url))
    assert "志愿者0" in page and "20" in page  # 2 hours at the default 10 points an hour
    # A rejection needs a reason: the whole review is refused and nothing changes.
    resp = client.post(
        url,
        data={
            "csrf_token": csrf_from(page),
            "approve": [str(a0)],
            f"change-{a1}": "adjust",
            f"minutes-{a1}": "75",
            f"reason-{a1}": "提前离开",
            f"change-{a2}": "reject",
        },
    )
    assert resp.status_code == 422
    assert "reason" in _text(resp) or "理由" in _text(resp)
    # What was sent is shown again as it was (nothing typed is lost), the row lacking its reason marked.
    again = _text(resp)
    assert f'name="approve" value="{a0}" checked' in again
    assert f'name="change-{a1}" value="adjust" checked' in again and 'value="75"' in again
    assert 'value="提前离开"' in again and f'name="change-{a2}" value="reject" checked' in again
    assert again.count('<details class="review-change" open>') == 2
    row = again[again.index(f'id="reason-{a2}"') :][:600]
    assert 'class="error"' in row
    resp = client.post(
        url,
        data={
            "csrf_token": csrf_from(page),
            "approve": [str(a0)],
            f"change-{a1}": "adjust",
            f"minutes-{a1}": "60",
            f"reason-{a1}": "提前离开",
            f"change-{a2}": "reject",
            f"reason-{a2}": "未到场",
        },
    )
    assert resp.status_code == 302, _text(resp)[:2000]
    with app.test_request_context(), _uow(app) as s:
        rows = {a.id: a for a in s.scalars(select(Attendance).where(Attendance.activity_id == aid))}
        assert rows[a0].status == "approved" and rows[a0].points == 20
        assert rows[a1].status == "adjusted" and rows[a1].points == 10 and rows[a1].review_reason == "提前离开"
        assert rows[a2].status == "rejected"
        assert rows[a3].status == "to_review"
        assert points.member_points(s, town.district.id, done[0]).available == 20
        assert points.member_points(s, town.district.id, done[1]).available == 10
        assert points.member_points(s, town.district.id, done[2]).available == 0
    # Already reviewed: said plainly.
    page = _text(client.get(url))
    resp = client.post(url, data={"csrf_token": csrf_from(page), "approve": [str(a0)]})
    assert resp.status_code == 409 and "志愿者0" in _text(resp)
    # Approve all (asks first).
    confirm = _text(client.get(f"{url}/all"))
    resp = client.post(f"{url}/all", data={"csrf_token": csrf_from(confirm), "confirm": "yes"})
    assert resp.status_code == 302
    with app.test_request_context(), _uow(app) as s:
        assert s.get(Attendance, a3).status == "approved"
        assert Ledger(s, town.district.id).verify() == []


def test_nobody_reviews_their_own_attendance(app, client, town):
    aid, _done, _s = make_activity(app, town)
    organiser = town.users["organiser"][0]
    with app.test_request_context(), _uow(app) as s:
        a = s.get(Activity, aid)
        me = s.get(Member, organiser.id)
        services.check_in(s, a, me, a.starts_at, "manual")
        att = services.check_out(s, a, me, a.ends_at, "manual").attendance.id
    sign_in(client, town, "organiser")
    page = _text(client.get(f"/organise/activities/{aid}/review"))
    resp = client.post(
        f"/organise/activities/{aid}/review", data={"csrf_token": csrf_from(page), "approve": [str(att)]}
    )
    assert resp.status_code == 403
    assert "own attendance" in _text(resp) or "自己" in _text(resp)


def test_hand_entry_finds_by_mobile_tail_and_records(app, client, town):
    aid, _d, _s = make_activity(app, town)
    with app.test_request_context(), _uow(app) as s:
        m = make_member(s, town.district.id, town.grid_a1, name="吴磊", mobile="13912345678")
        mid = m.id
    sign_in(client, town, "organiser")
    url = f"/organise/activities/{aid}/by-hand"
    page = client.get(f"{url}?tail=5678")
    assert "吴磊" in _text(page) and "13912345678" not in _text(page)
    now_bj = to_beijing(utcnow()).strftime("%Y-%m-%dT%H:%M")
    no_reason = client.post(
        f"{url}?tail=5678",
        data={"csrf_token": csrf_from(_text(page)), "member_id": mid, "direction": "in", "at": now_bj, "reason": ""},
    )
    assert no_reason.status_code == 422
    resp = client.post(
        f"{url}?tail=5678",
        data={
            "csrf_token": csrf_from(_text(page)),
            "member_id": mid,
            "direction": "in",
            "at": now_bj,
            "reason": "手机没电",
        },
    )
    assert resp.status_code == 302, _text(resp)[:2000]
    with app.test_request_context(), _uow(app) as s:
        att = s.scalars(select(Attendance).where(Attendance.activity_id == aid, Attendance.member_id == mid)).one()
        assert (att.status, att.checkin_source, att.manual_reason) == ("in", "manual", "手机没电")
    live = _text(client.get(f"/organise/activities/{aid}/live"))
    assert "吴磊" in live and 'http-equiv="refresh"' in live


def test_paper_entry_records_a_flagged_attendance(app, client, town):
    aid, _d, _s = make_activity(app, town, starts_in=timedelta(hours=-1), hours=2)
    with app.test_request_context(), _uow(app) as s:
        m = make_member(s, town.district.id, town.grid_a1, name="郑爽")
        mid = m.id
        a = s.get(Activity, aid)
        start = to_beijing(a.starts_at)
    sign_in(client, town, "organiser")
    url = f"/organise/activities/{aid}/paper"
    page = client.get(f"{url}?who=郑")
    assert "郑爽" in _text(page)
    resp = client.post(
        f"{url}?who=郑",
        data={
            "csrf_token": csrf_from(_text(page)),
            "member_id": mid,
            "checked_in_at": start.strftime("%Y-%m-%dT%H:%M"),
            "checked_out_at": (start + timedelta(hours=1, minutes=30)).strftime("%Y-%m-%dT%H:%M"),
            "reason": "纸质签到表",
        },
    )
    assert resp.status_code == 302, _text(resp)[:2000]
    with app.test_request_context(), _uow(app) as s:
        att = s.scalars(select(Attendance).where(Attendance.activity_id == aid, Attendance.member_id == mid)).one()
        assert att.paper and att.status == "to_review" and att.credited_minutes == 90
    review = _text(client.get(f"/organise/activities/{aid}/review"))
    assert "郑爽" in review and ("补录" in review)


def test_rules_page_adds_a_version_and_audits_it(app, client, town):
    sign_in(client, town, "district_admin")
    page = client.get("/points/rules")
    assert page.status_code == 200 and "<form" in _text(page)
    resp = client.post(
        "/points/rules",
        data={
            "csrf_token": csrf_from(_text(page)),
            "category": "safety",
            "points_per_hour": "15",
            "rounding_minutes": "15",
            "presence_percent": "50",
            "missed_checkout": "until_end",
            "grace_minutes": "30",
            "effective_from": "",
            "reason": "夜间巡逻加分",
        },
    )
    assert resp.status_code == 302, _text(resp)[:2000]
    with app.test_request_context(), _uow(app) as s:
        rule = s.scalars(select(PointsRule).where(PointsRule.tenant_id == town.district.id)).one()
        assert (rule.category, rule.points_per_hour, rule.version, rule.reason) == ("safety", 15, 1, "夜间巡逻加分")
        events = s.scalars(
            select(AuditEvent).where(
                AuditEvent.tenant_id == town.district.id, AuditEvent.action == "points.rule_change"
            )
        ).all()
        assert len(events) == 1
    page = _text(client.get("/points/rules"))
    assert "夜间巡逻加分" in page and "赵敏" in page
    # A bad value comes back on its field.
    bad = client.post(
        "/points/rules",
        data={
            "csrf_token": csrf_from(page),
            "category": "",
            "points_per_hour": "5000",
            "rounding_minutes": "30",
            "presence_percent": "60",
            "missed_checkout": "nothing",
            "grace_minutes": "60",
            "reason": "x",
        },
    )
    assert bad.status_code == 422 and ("1000" in _text(bad))


def test_rules_page_is_read_only_for_organisers_and_closed_to_volunteers(client, town):
    sign_in(client, town, "organiser")
    page = client.get("/points/rules")
    assert page.status_code == 200 and 'name="points_per_hour"' not in _text(page)
    assert client.post("/points/rules", data={"csrf_token": csrf_from(_text(page))}).status_code == 403
    client.post("/signout", data={"csrf_token": csrf_from(_text(page))})
    sign_in(client, town, "volunteer")
    assert client.get("/points/rules").status_code == 403


def test_attendance_export_opens_as_a_spreadsheet(app, client, town):
    aid, _done, _s = make_activity(app, town, done=2)
    sign_in(client, town, "organiser")
    resp = client.get(f"/organise/activities/{aid}/attendances.xlsx")
    assert resp.status_code == 200
    wb = openpyxl.load_workbook(io.BytesIO(resp.data))
    rows = list(wb.active.iter_rows(values_only=True))
    assert len(rows) == 3
    names = {r[0] for r in rows[1:]}
    assert names == {"志愿者0", "志愿者1"}
    assert all("*" in r[1] for r in rows[1:])  # masked mobiles
    assert all(r[8] == 20 for r in rows[1:])


def test_who_may_join_is_chosen_on_the_form(app, client, town):
    sign_in(client, town, "organiser")
    missing = _post(client, "/organise/activities/new", _form_data(eligibility="community"))
    assert missing.status_code == 422  # the community is not named: said on its field
    assert 'class="field unit-pick has-error"' in _text(missing)
    resp = _post(
        client,
        "/organise/activities/new",
        _form_data(eligibility="community", **{"eligible_unit_id-text": "凤凰社区"}),
    )
    assert resp.status_code == 302, _text(resp)[:2000]
    tagged = _post(client, "/organise/activities/new", _form_data(eligibility="tag", eligible_tag="party_member"))
    assert tagged.status_code == 302
    with app.test_request_context(), _uow(app) as s:
        rows = s.scalars(select(Activity).where(Activity.tenant_id == town.district.id).order_by(Activity.id)).all()
        assert [(a.eligibility, a.eligible_unit_id, a.eligible_tag) for a in rows] == [
            ("community", town.community_a.id, None),
            ("tag", None, "party_member"),
        ]


def test_the_organisers_home_shows_todays_activities_and_the_review_queue(app, client, town):
    """The first thing an organiser sees on "/": today's activity with its live counts and how many
    attendances wait for review; a volunteer's home has no such panel."""
    make_activity(app, town, title="今日垃圾分类", done=2)
    sign_in(client, town, "organiser")
    html = client.get("/").get_data(as_text=True)
    assert "今日垃圾分类" in html
    assert "有 2 条签到记录等待您审核。" in html
    assert "待审核：2" in html
    assert "/organise/activities/" in html
    # The notice on the activities page leads to where the hours wait, each activity with its review link.
    home = client.get("/organise/").get_data(as_text=True)
    assert 'href="/organise/?show=review"' in home
    waiting = client.get("/organise/?show=review").get_data(as_text=True)
    assert "今日垃圾分类" in waiting and re.search(r'href="/organise/activities/\d+/review">审核时长 \(2\)', waiting)
    client.post("/signout", data={"csrf_token": csrf_from(html)})
    sign_in(client, town, "volunteer")
    assert "今日垃圾分类" not in client.get("/").get_data(as_text=True)


def test_a_new_activity_starts_hosted_by_the_organisers_own_unit(client, town):
    sign_in(client, town, "organiser")  # organiser of 凤凰社区 only
    html = client.get("/organise/activities/new").get_data(as_text=True)
    field = re.search(r'<input[^>]*name="host_unit_id-text"[^>]*>', html).group(0)
    assert town.community_a.name in field, field
    admin = client.application.test_client()
    sign_in(admin, town, "district_admin")  # district-wide: nothing to guess
    html = admin.get("/organise/activities/new").get_data(as_text=True)
    field = re.search(r'<input[^>]*name="host_unit_id-text"[^>]*>', html).group(0)
    assert 'value=""' in field or "value=" not in field, field
