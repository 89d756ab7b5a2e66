"""The JSON API for activities, sign-ups, codes, scans, attendances, review, points, notices and rules,
through the real app, sessions, CSRF and permissions, on both databases."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from app.db import utcnow
from app.tokens import make_token
from tests.factories import PASSWORD, make_user
from tests.web.test_api import commit, patch, post, signed_in

A = "/api/v1/activities"


def _make_token(app, purpose, tenant_id, subject_id, now=None):
    with app.app_context():
        return make_token(purpose, tenant_id, subject_id, now)


def _iso(value: datetime) -> str:
    """Naive UTC as RFC 3339 with Z."""
    return value.replace(tzinfo=UTC).isoformat().replace("+00:00", "Z")


def _body(town, **kw) -> dict:
    now = utcnow().replace(microsecond=0)
    body = {
        "title": "垃圾分类宣传",
        "category": "environment",
        "host_unit_id": town.community_a.id,
        "place": "凤凰社区广场",
        "starts_at": _iso(now - timedelta(hours=3)),
        "ends_at": _iso(now + timedelta(hours=1)),
        "capacity": 10,
    }
    body.update(kw)
    return body


def _client(app, town, role):
    c = app.test_client()
    return c, signed_in(c, town, role)


def _published(app, town, **kw) -> int:
    """An activity the organiser created and published; its id."""
    c, token = _client(app, town, "organiser")
    r = post(c, A, _body(town, **kw), token)
    assert r.status_code == 201, r.get_data(as_text=True)
    activity_id = r.get_json()["id"]
    r = post(c, f"{A}/{activity_id}/publish", {}, token)
    assert r.status_code == 200, r.get_data(as_text=True)
    return activity_id


def _error(r, status: int) -> str:
    assert r.status_code == status, r.get_data(as_text=True)
    body = r.get_json()["error"]
    assert body["message"]
    return body["code"]


def _extra_user(app, town, key: str, name: str, **kw):
    def make(s):
        return make_user(s, town.district.id, town.grid_a1, name, **kw)

    m = commit(app, make)
    town.users[key] = (m, m.mobile, PASSWORD)
    return m


# --- signed out, CSRF ----------------------------------------------------------------------------


def test_signed_out_calls_answer_401(client, town):
    for url in (A, f"{A}/1", f"{A}/1/codes", "/api/v1/me/points", "/api/v1/me/notices", "/api/v1/points/rules"):
        assert _error(client.get(url), 401) == "unauthenticated"
    assert _error(client.post("/api/v1/scans", json={"token": "x"}), 401) == "unauthenticated"


def test_writes_need_the_csrf_header(app, town):
    c, _token = _client(app, town, "organiser")
    r = c.post(A, json=_body(town))
    assert _error(r, 400) == "csrf_failed"
    activity_id = _published(app, town)
    v, vtoken = _client(app, town, "volunteer")
    assert _error(v.post(f"{A}/{activity_id}/signups", json={}), 400) == "csrf_failed"
    assert post(v, f"{A}/{activity_id}/signups", {}, vtoken).status_code == 201
    assert _error(v.delete(f"{A}/{activity_id}/signups/me"), 400) == "csrf_failed"
    assert _error(v.post("/api/v1/me/notices/read", json={}), 400) == "csrf_failed"
    assert [a["id"] for a in c.get(f"{A}?scope=manage").get_json()["items"]] == [activity_id]


# --- activities ----------------------------------------------------------------------------------


def test_an_organiser_creates_publishes_changes_and_cancels_an_activity(app, town):
    c, token = _client(app, town, "organiser")
    # An offset is that instant; a time without one is Beijing time.
    r = post(c, A, _body(town, starts_at="2030-06-01T09:00:00+08:00", ends_at="2030-06-01T11:30:00", capacity=2), token)
    assert r.status_code == 201, r.get_data(as_text=True)
    created = r.get_json()
    assert created["starts_at"] == "2030-06-01T01:00:00Z"
    assert created["ends_at"] == "2030-06-01T03:30:00Z"
    assert (created["status"], created["places_left"], created["host_unit_name"]) == ("draft", 2, "凤凰社区")
    url = f"{A}/{created['id']}"
    assert r.headers["Location"].endswith(url)

    # A draft: the organiser manages it, volunteers do not see it.
    assert [a["id"] for a in c.get(f"{A}?scope=manage").get_json()["items"]] == [created["id"]]
    v, vtoken = _client(app, town, "volunteer")
    assert _error(v.get(url), 404) == "not_found"
    assert v.get(A).get_json()["items"] == []

    assert post(c, f"{url}/publish", {}, token).get_json()["status"] == "published"
    listed = v.get(f"{A}?from=2030-06-01&to=2030-06-01&category=environment&places_left=true").get_json()
    assert [a["id"] for a in listed["items"]] == [created["id"]]
    assert v.get(f"{A}?from=2030-06-02").get_json()["items"] == []
    assert v.get(f"{A}?q=宣传").get_json()["items"][0]["my_signup"] is None

    assert post(v, f"{url}/signups", {}, vtoken).status_code == 201
    r = patch(c, url, {"place": "凤凰社区活动中心", "capacity": 5, "lat": None}, token)
    assert r.status_code == 200, r.get_data(as_text=True)
    assert (r.get_json()["place"], r.get_json()["capacity"]) == ("凤凰社区活动中心", 5)
    assert _error(patch(c, url, {"title": None}, token), 422) == "validation_failed"
    assert _error(patch(c, url, {"ends_at": "2030-06-01T08:00:00+08:00"}, token), 422) == "activity_invalid"

    assert _error(post(c, f"{url}/cancel", {"reason": ""}, token), 422) == "validation_failed"
    r = post(c, f"{url}/cancel", {"reason": "暴雨预警"}, token)
    assert (r.get_json()["status"], r.get_json()["cancel_reason"]) == ("cancelled", "暴雨预警")
    # The volunteer signed up is told of the move and the cancellation.
    texts = [n["text"] for n in v.get("/api/v1/me/notices").get_json()["items"]]
    assert any("暴雨预警" in t for t in texts) and any("凤凰社区活动中心" in t for t in texts), texts


def test_bad_activity_input_is_a_422_naming_the_field(app, town):
    c, token = _client(app, town, "organiser")
    cases = {
        "starts_at": _body(town, starts_at="0001-01-01T00:00:00+08:00"),
        "ends_at": _body(town, ends_at="9999-12-31T23:59:59-12:00"),
        "capacity": _body(town, capacity=10**12),
        "lat": _body(town, lat=float("inf"), lng=1.0),
        "title": _body(town, title="x" * 101),
        "host_unit_id": _body(town, host_unit_id=town.community_b.id),  # outside the organiser's scope
        "eligible_unit_id": _body(town, eligibility="community", eligible_unit_id=town.grid_a1.id),
    }
    for field, body in cases.items():
        r = c.post(A, data=json.dumps(body), headers={"X-CSRFToken": token, "Content-Type": "application/json"})
        assert r.status_code == 422, (field, r.get_data(as_text=True))
        assert field in {d["field"] for d in r.get_json()["error"]["details"]}, (field, r.get_json())
    assert c.get(f"{A}?scope=manage").get_json()["items"] == []
    assert _error(c.get(f"{A}?from=0001-01-01"), 422) == "validation_failed"


def test_an_activity_outside_the_organisers_scope_is_not_found(app, town):
    admin, atoken = _client(app, town, "district_admin")
    r = post(admin, A, _body(town, host_unit_id=town.community_b.id), atoken)
    assert r.status_code == 201, r.get_data(as_text=True)
    url = f"{A}/{r.get_json()['id']}"
    c, token = _client(app, town, "organiser")
    assert _error(c.get(url), 404) == "not_found"
    assert _error(post(c, f"{url}/publish", {}, token), 404) == "not_found"
    assert _error(c.get(f"{url}/codes"), 404) == "not_found"
    assert c.get(f"{A}?scope=manage").get_json()["items"] == []
    # Published, it is visible to all, but only its organisers may change it.
    assert post(admin, f"{url}/publish", {}, atoken).status_code == 200
    assert c.get(url).status_code == 200
    assert _error(post(c, f"{url}/cancel", {"reason": "不办了"}, token), 403) == "forbidden"
    assert _error(c.get(f"{url}/attendances"), 403) == "forbidden"


def test_volunteers_cannot_manage(app, town):
    activity_id = _published(app, town)
    v, vtoken = _client(app, town, "volunteer")
    assert _error(v.get(f"{A}?scope=manage"), 403) == "forbidden"
    assert _error(post(v, A, _body(town), vtoken), 403) == "forbidden"
    assert _error(v.get(f"{A}/{activity_id}/codes"), 403) == "forbidden"
    assert _error(v.get(f"{A}/{activity_id}/signups"), 403) == "forbidden"
    assert _error(post(v, f"{A}/{activity_id}/review", {"approve": "all"}, vtoken), 403) == "forbidden"
    assert _error(v.get(f"{A}/99999999999"), 404) == "not_found"


# --- sign-ups ------------------------------------------------------------------------------------


def test_sign_up_waiting_list_full_and_cancel(app, town):
    activity_id = _published(
        app,
        town,
        capacity=1,
        starts_at=_iso(utcnow() + timedelta(days=1)),
        ends_at=_iso(utcnow() + timedelta(days=1, hours=2)),
    )
    url = f"{A}/{activity_id}/signups"
    _extra_user(app, town, "second", "周杰")
    _extra_user(app, town, "third", "吴昊")
    v, vtoken = _client(app, town, "volunteer")
    r = post(v, url, {}, vtoken)
    assert (r.status_code, r.get_json()["status"]) == (201, "confirmed")
    assert _error(post(v, url, {}, vtoken), 409) == "already_signed_up"
    assert v.get(f"{A}/{activity_id}").get_json()["my_signup"] == "confirmed"
    s, stoken = _client(app, town, "second")
    assert post(s, url, {}, stoken).get_json()["status"] == "waitlisted"
    # The waiting list holds three per place: the third and fourth wait too, the fifth is refused.
    for key, name in (("third", "吴昊"), ("fourth", "郑爽"), ("fifth", "王磊")):
        if key != "third":
            _extra_user(app, town, key, name)
        c_, token_ = _client(app, town, key)
        r = post(c_, url, {}, token_)
        if key == "fifth":
            assert _error(r, 409) == "activity_full"
        else:
            assert (r.status_code, r.get_json()["status"]) == (201, "waitlisted")

    r = v.delete(f"{url}/me", headers={"X-CSRFToken": vtoken})
    assert (r.status_code, r.get_json()["status"]) == (200, "cancelled")
    assert _error(v.delete(f"{url}/me", headers={"X-CSRFToken": vtoken}), 409) == "not_signed_up"
    c, _token = _client(app, town, "organiser")
    listed = c.get(url).get_json()["items"]
    assert [(x["member_name"], x["status"]) for x in listed] == [
        ("周杰", "confirmed"),
        ("吴昊", "waitlisted"),
        ("郑爽", "waitlisted"),
        ("李娜", "cancelled"),
    ]
    assert any("周杰" not in n["text"] for n in s.get("/api/v1/me/notices").get_json()["items"])
    assert s.get("/api/v1/me/notices").get_json()["unread"] == 1


def test_only_eligible_members_sign_up(app, town):
    activity_id = _published(app, town, eligibility="party")
    v, vtoken = _client(app, town, "volunteer")
    assert _error(post(v, f"{A}/{activity_id}/signups", {}, vtoken), 403) == "not_eligible"


# --- codes, scans --------------------------------------------------------------------------------


def test_codes_scans_and_their_refusals(app, town):
    activity_id = _published(app, town)
    c, _token = _client(app, town, "organiser")
    codes = c.get(f"{A}/{activity_id}/codes").get_json()
    assert 0 < codes["seconds_to_next"] <= 30
    assert codes["checkin"]["url"].endswith(codes["checkin"]["token"])
    assert codes["checkin"]["token"] != codes["checkout"]["token"]

    v, vtoken = _client(app, town, "volunteer")
    r = post(v, "/api/v1/scans", {"token": codes["checkout"]["token"]}, vtoken)
    assert _error(r, 409) == "not_checked_in"
    r = post(v, "/api/v1/scans", {"token": codes["checkin"]["token"]}, vtoken)
    assert r.status_code == 200, r.get_data(as_text=True)
    first = r.get_json()
    assert (first["direction"], first["already"], first["attendance"]["status"]) == ("in", False, "in")
    again = post(v, "/api/v1/scans", {"token": codes["poster_checkin"]["token"]}, vtoken).get_json()
    assert (again["already"], again["attendance"]["id"]) == (True, first["attendance"]["id"])
    assert again["message"] != first["message"]
    r = post(v, "/api/v1/scans", {"token": codes["checkout"]["token"]}, vtoken)
    assert (r.get_json()["direction"], r.get_json()["attendance"]["status"]) == ("out", "to_review")

    old = _make_token(app, "activity_checkin", town.district.id, activity_id, utcnow() - timedelta(minutes=10))
    assert _error(post(v, "/api/v1/scans", {"token": old}, vtoken), 422) == "token_expired"
    assert _error(post(v, "/api/v1/scans", {"token": "AX1.AI.1.2.3.AAAA"}, vtoken), 422) == "token_malformed"
    assert _error(post(v, "/api/v1/scans", {"token": "x" * 121}, vtoken), 422) == "validation_failed"


def test_a_scan_from_outside_the_radius_is_refused(app, town):
    activity_id = _published(app, town, lat=22.75, lng=113.93, radius_m=200)
    token = _make_token(app, "activity_checkin", town.district.id, activity_id)
    v, vtoken = _client(app, town, "volunteer")
    assert _error(post(v, "/api/v1/scans", {"token": token}, vtoken), 422) == "location_required"
    r = post(v, "/api/v1/scans", {"token": token, "lat": 22.80, "lng": 113.93}, vtoken)
    assert _error(r, 422) == "outside_radius"
    r = post(v, "/api/v1/scans", {"token": token, "lat": 22.7501, "lng": 113.9301}, vtoken)
    assert r.status_code == 200, r.get_data(as_text=True)


# --- attendances, review, points -----------------------------------------------------------------


def test_hand_and_paper_entries_review_and_the_volunteers_points(app, town):
    activity_id = _published(app, town)
    url = f"{A}/{activity_id}"
    c, token = _client(app, town, "organiser")
    volunteer = town.users["volunteer"][0]
    organiser = town.users["organiser"][0]
    second = _extra_user(app, town, "second", "周杰")
    starts = utcnow() - timedelta(hours=3)

    assert _error(post(c, f"{url}/attendances", {"member_id": second.id, "kind": "in"}, token), 422) == (
        "validation_failed"
    )
    r = post(c, f"{url}/attendances", {"member_id": second.id, "kind": "in", "reason": "手机没电"}, token)
    assert (r.status_code, r.get_json()["checkin_source"]) == (201, "manual")
    r = post(c, f"{url}/attendances", {"member_id": second.id, "kind": "in", "reason": "再次登记"}, token)
    assert (r.status_code, r.get_json()["manual_reason"]) == (200, "手机没电")  # already in: nothing changed
    early = {"member_id": second.id, "kind": "out", "reason": "手机没电", "at": _iso(starts)}
    assert _error(post(c, f"{url}/attendances", early, token), 422) == "activity_invalid"
    r = post(c, f"{url}/attendances", {"member_id": 99999999999, "kind": "in", "reason": "x"}, token)
    assert _error(r, 422) == "validation_failed"
    paper = {
        "member_id": volunteer.id,
        "kind": "paper",
        "checked_in_at": _iso(starts),
        "checked_out_at": _iso(utcnow()),
        "reason": "纸质签到表",
    }
    r = post(c, f"{url}/attendances", paper, token)
    assert r.status_code == 201, r.get_data(as_text=True)
    mine = r.get_json()
    assert (mine["paper"], mine["status"], mine["credited_minutes"], mine["points"]) == (True, "to_review", 180, 30)
    assert _error(post(c, f"{url}/attendances", paper, token), 409) == "already_reviewed"
    r = post(c, f"{url}/attendances", {**paper, "member_id": organiser.id}, token)
    assert r.status_code == 201
    own = r.get_json()["id"]

    assert [a["member_name"] for a in c.get(f"{url}/attendances?status=in").get_json()["items"]] == ["周杰"]
    assert len(c.get(f"{url}/attendances").get_json()["items"]) == 3

    v, _vtoken = _client(app, town, "volunteer")
    points = v.get("/api/v1/me/points").get_json()
    assert (points["available"], points["pending"]) == (0, 30)
    assert points["lines"][0]["title"] == "垃圾分类宣传" and points["lines"][0]["minutes"] == 180

    # Nobody approves their own attendance: naming it refuses the whole review, and "all" leaves it
    # for another organiser.
    r = post(c, f"{url}/review", {"approve": [mine["id"], own]}, token)
    assert _error(r, 403) == "own_attendance"
    assert _error(post(c, f"{url}/review", {"approve": [1] * 20_001}, token), 422) == "validation_failed"
    # A review names up to 20,000 attendances in one body, well over the 64 KB other writes take: read
    # and checked (here refused whole: the ids are not this activity's), not turned away as too large.
    big = {"approve": [*range(10**9, 10**9 + 15_000), own]}
    assert len(json.dumps(big)) > 150_000
    assert _error(post(c, f"{url}/review", big, token), 422) == "review_invalid"
    too_big = {"name": "张三", "note": "长" * 30_000}
    assert _error(post(c, "/api/v1/members", too_big, token), 413) == "too_large"
    r = post(c, f"{url}/review", {"reject": [{"id": own, "reason": ""}]}, token)
    assert _error(r, 422) == "validation_failed"
    r = post(c, f"{url}/review", {"approve": "all"}, token)
    assert r.get_json() == {"approved": 1, "adjusted": 0, "rejected": 0, "points": 30}
    assert [a["id"] for a in c.get(f"{url}/attendances?status=to_review").get_json()["items"]] == [own]
    assert _error(post(c, f"{url}/review", {"approve": [mine["id"]]}, token), 409) == "already_reviewed"
    points = v.get("/api/v1/me/points").get_json()
    assert (points["available"], points["pending"]) == (30, 0)
    notices = v.get("/api/v1/me/notices").get_json()
    assert notices["unread"] >= 1
    assert post(v, "/api/v1/me/notices/read", {}, _vtoken).get_json() == {"unread": 0}
    assert v.get("/api/v1/me/notices").get_json()["unread"] == 0

    # Another organiser reviews the organiser's own attendance: adjusted.
    admin, atoken = _client(app, town, "district_admin")
    # Not more than the activity lasted (an attack probe credited 24 h for a 2 h activity).
    r = post(admin, f"{url}/review", {"adjust": [{"id": own, "minutes": 1440, "reason": "stayed late"}]}, atoken)
    assert _error(r, 422) == "review_invalid" and r.get_json()["error"]["field"] == "adjust"
    r = post(admin, f"{url}/review", {"adjust": [{"id": own, "minutes": 60, "reason": "提前离开"}]}, atoken)
    assert r.get_json() == {"approved": 0, "adjusted": 1, "rejected": 0, "points": 10}


# --- points rules ---------------------------------------------------------------------------------


def test_points_rules_read_by_organisers_changed_by_district_admins(app, town):
    c, token = _client(app, town, "organiser")
    assert c.get("/api/v1/points/rules").get_json() == {"items": []}
    rule = {"category": "elderly", "points_per_hour": 20, "reason": "敬老月"}
    assert _error(post(c, "/api/v1/points/rules", rule, token), 403) == "forbidden"
    admin, atoken = _client(app, town, "district_admin")
    r = post(admin, "/api/v1/points/rules", rule, atoken)
    assert r.status_code == 201, r.get_data(as_text=True)
    assert (r.get_json()["version"], r.get_json()["points_per_hour"]) == (1, 20)
    r = post(admin, "/api/v1/points/rules", {**rule, "effective_from": "2020-01-01T00:00:00"}, atoken)
    assert _error(r, 422) == "rule_invalid"
    assert _error(post(admin, "/api/v1/points/rules", {**rule, "points_per_hour": 1001}, atoken), 422) == (
        "validation_failed"
    )
    assert [x["version"] for x in c.get("/api/v1/points/rules").get_json()["items"]] == [1]
    v, _vt = _client(app, town, "volunteer")
    assert _error(v.get("/api/v1/points/rules"), 403) == "forbidden"


def test_a_signed_up_volunteers_scans_are_one_read_and_a_few_plain_writes(app, town):
    """The scans of a burst (`scan_member`): a first check-in is the principal, one read of the activity
    with the member's attendance and sign-up, the attendance row and the scan log — no ORM load of the
    member or the activity; a check-out reads the same, the rule in force, closes the attendance in one
    statement and logs the scan. A second scan of either is answered by the loaded-member path."""
    from sqlalchemy import event

    activity_id = _published(app, town, starts_at=_iso(utcnow() + timedelta(minutes=30)))
    v, vtoken = _client(app, town, "volunteer")
    assert post(v, f"{A}/{activity_id}/signups", {}, vtoken).get_json()["status"] == "confirmed"
    codes = _client(app, town, "organiser")[0].get(f"{A}/{activity_id}/codes").get_json()
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        statements.append(" ".join(statement.split()))

    def scan(token: str) -> tuple[dict, list[str]]:
        statements.clear()
        r = post(v, "/api/v1/scans", {"token": token}, vtoken)
        assert r.status_code == 200, r.get_data(as_text=True)
        return r.get_json(), [
            s.split(" (")[0] if s.startswith("INSERT") else s[:28]
            for s in statements
            if "ledger_" not in s and s.split(None, 1)[0] in ("SELECT", "INSERT", "UPDATE", "DELETE")
        ]

    engine = app.extensions["db_sessionmaker"]().get_bind()
    event.listen(engine, "before_cursor_execute", count)
    try:
        came, came_sql = scan(codes["checkin"]["token"])
        again, _sql = scan(codes["checkin"]["token"])
        left, left_sql = scan(codes["checkout"]["token"])
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert (came["already"], came["attendance"]["status"], came["attendance"]["member_name"]) == (False, "in", "李娜")
    # The principal, the one read, the row and the log.
    assert came_sql[1:] == ["SELECT activities.id, activi", "INSERT INTO attendances", "INSERT INTO activity_scans"], (
        came_sql
    )
    assert again["already"] is True and again["attendance"]["id"] == came["attendance"]["id"]
    assert (left["direction"], left["already"], left["attendance"]["status"]) == ("out", False, "to_review")
    # The principal, the one read, the rule in force (the category's, else the district's: one statement),
    # the close, the log.
    assert left_sql[1:] == [
        "SELECT activities.id, activi",
        "SELECT points_rules.id, poin",
        "UPDATE attendances SET statu",
        "INSERT INTO activity_scans",
    ], left_sql
    assert not [s for s in left_sql if s.startswith(("SELECT members", "SELECT attendances"))], left_sql
