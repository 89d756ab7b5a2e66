"""Earning by service through the core services, on SQLite and PostgreSQL: rules versions, sign-up and the
waiting list, scans, hand and paper entries, missed check-outs, the review, notices and the volunteer's
points. Every scenario ends with the ledger sound (`Ledger.verify() == []`).

The tests use the app's session (one savepoint per test, rolled back after it) inside an app context,
as a request would; times are given explicitly (`now=`) so the scenarios can run "tomorrow"."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.activities import errors
from app.activities import services as act
from app.activities.labels import (
    ADJUSTED,
    APPROVED,
    AUTO,
    CHECKIN,
    CHECKOUT,
    CONFIRMED,
    IN,
    MANUAL,
    PAPER,
    POSTER,
    REJECTED,
    SCAN,
    TO_REVIEW,
    WAITLISTED,
    WITHDRAWN,
)
from app.activities.models import Attendance, Scan
from app.audit.models import AuditEvent
from app.auth.services import user_for_member
from app.db import utcnow
from app.notices.models import Notice
from app.points import services as points
from app.points.errors import RuleInvalid
from app.points.labels import MISSED_NOTHING, MISSED_UNTIL_END
from app.points.models import PointsRule
from app.tokens import TokenExpired, TokenWrongDistrict, make_token
from ledger import Ledger
from ledger.schema import journals
from tests.factories import make_member, make_town

PLACE = (22.7780, 113.9360)  # a square in Guangming


@dataclass
class Env:
    s: object
    town: object
    tenant: int
    organiser: object
    organiser_user: int
    start: object  # tomorrow, on the minute (naive UTC)

    @property
    def end(self):
        return self.start + timedelta(hours=2)

    def at(self, minutes: float):
        return self.start + timedelta(minutes=minutes)

    def member(self, name="张伟", grid=None, **kw):
        return make_member(self.s, self.tenant, grid or self.town.grid_a1, name=name, **kw)

    def activity(self, **kw):
        data = dict(
            title="垃圾分类宣传",
            category="environment",
            host_unit_id=self.town.community_a.id,
            place="凤凰广场",
            starts_at=self.start,
            ends_at=self.end,
            capacity=80,
        )
        data.update(kw)
        a = act.create_activity(self.s, self.tenant, act.ActivityData(**data), actor_user_id=self.organiser_user)
        return act.publish_activity(self.s, a, actor_user_id=self.organiser_user)

    def scan(self, member, purpose, activity, minutes, made=None, **kw):
        when = self.at(minutes)
        token = make_token(purpose, self.tenant, activity.id, self.at(made if made is not None else minutes))
        # As the API and the scan page do: the member by id (a first check-in is written without ORM objects).
        return act.scan_member(self.s, member.tenant_id, member.id, token, now=when, **kw)

    def attend(self, member, activity, minutes_in, minutes_out):
        """Scan the rotating codes in and out."""
        self.scan(member, "activity_checkin", activity, minutes_in)
        done = self.scan(member, "activity_checkout", activity, minutes_out).attendance
        # The row as the session's object (a scan answers with what it wrote; the review changes the row).
        return self.s.get(Attendance, done.id, populate_existing=True)

    def review(self, activity, actor=None, **decision):
        actor = actor or self.organiser
        return act.review(
            self.s,
            activity,
            act.Review(**decision),
            actor_user_id=user_for_member(self.s, actor).id,
            actor_member_id=actor.id,
            now=self.at(200),
        )

    def points(self, member):
        return points.member_points(self.s, self.tenant, member.id)

    def notices(self, member, kind=None):
        q = select(Notice).where(Notice.member_id == member.id)
        if kind:
            q = q.where(Notice.kind == kind)
        return list(self.s.scalars(q.order_by(Notice.id)))

    def journals(self, attendance_id):
        return self.s.execute(
            select(journals).where(journals.c.tenant_id == self.tenant, journals.c.key.like(f"hours:{attendance_id}%"))
        ).all()

    def verify(self):
        self.s.flush()
        assert Ledger(self.s, tenant=self.tenant).verify() == []


@pytest.fixture
def env(app):
    with app.app_context(), app.test_request_context():
        s = app.extensions["db_sessionmaker"]()
        town = make_town(s)
        organiser = town.users["organiser"][0]
        start = (utcnow() + timedelta(days=1)).replace(second=0, microsecond=0)
        yield Env(s, town, town.district.id, organiser, user_for_member(s, organiser).id, start)
        s.close()


def change_rule(env, **kw):
    values = dict(
        category="",
        points_per_hour=10,
        rounding_minutes=30,
        presence_percent=60,
        missed_checkout=MISSED_NOTHING,
        grace_minutes=60,
        effective_from=None,
        actor_user_id=env.organiser_user,
    )
    values.update(kw)
    return points.change_rule(env.s, env.tenant, **values)


# --- rules, versioned -----------------------------------------------------------------------------------


def test_the_rule_in_force_is_the_categorys_own_else_the_districts_else_the_built_in(env):
    from app.points.rules import DEFAULT_RULE, rule_for

    assert rule_for(env.s, env.tenant, "elderly", env.at(0)) == DEFAULT_RULE
    district_v1 = change_rule(env, points_per_hour=11, effective_from=env.at(-600))
    elderly = change_rule(env, category="elderly", points_per_hour=30, effective_from=env.at(-300))
    district_v2 = change_rule(env, points_per_hour=12, effective_from=env.at(-60))  # newer than the category's
    later = change_rule(env, category="elderly", points_per_hour=40, effective_from=env.at(60))

    def in_force(category, minutes):
        return rule_for(env.s, env.tenant, category, env.at(minutes)).points_per_hour

    assert [in_force("elderly", m) for m in (-700, -400, -200, 0, 90)] == [10, 11, 30, 30, 40]
    assert [in_force("environment", m) for m in (-700, -400, 0)] == [10, 11, 12]
    assert [in_force("", m) for m in (-400, 0, 90)] == [11, 12, 12]
    assert (district_v1.version, district_v2.version, elderly.version, later.version) == (1, 2, 1, 2)
    # All of it read back whole (every value of the version, not the rate alone), and a version added in
    # the same transaction but not yet flushed counts, as it did when the lookup went through the ORM.
    got = rule_for(env.s, env.tenant, "elderly", env.at(0))
    assert (got.id, got.version, got.category, got.rounding_minutes, got.presence_percent) == (
        elderly.id,
        1,
        "elderly",
        elderly.rounding_minutes,
        elderly.presence_percent,
    )
    env.s.add(
        PointsRule(
            tenant_id=env.tenant,
            category="elderly",
            version=3,
            effective_from=env.at(-10),
            points_per_hour=35,
            rounding_minutes=15,
            presence_percent=50,
            missed_checkout=elderly.missed_checkout,
            grace_minutes=elderly.grace_minutes,
            monthly_points_cap=500,
            created_at=env.at(-10),
        )
    )
    got = rule_for(env.s, env.tenant, "elderly", env.at(0))
    assert (got.points_per_hour, got.rounding_minutes, got.monthly_points_cap) == (35, 15, 500)


def test_the_rule_in_force_at_the_start_prices_the_service(env):
    a = env.activity()
    volunteer = env.member()
    act.sign_up(env.s, a.id, volunteer)  # signed up under the built-in default (10 an hour)
    v1 = change_rule(env, points_per_hour=20)  # changed after sign-up, before the service: it prices it
    change_rule(env, points_per_hour=50, effective_from=env.at(30))  # takes effect mid-activity: it does not

    att = env.attend(volunteer, a, 0, 120)

    assert (att.points, att.rule_id, att.rule_version) == (40, v1.id, 1)
    meta = env.s.execute(select(journals.c.meta).where(journals.c.id == att.journal_id)).scalar_one()
    assert (meta["rule_id"], meta["rule_version"], meta["attendance_id"]) == (v1.id, 1, att.id)
    audited = env.s.scalars(
        select(AuditEvent).where(AuditEvent.tenant_id == env.tenant, AuditEvent.action == "points.rule_change")
    ).all()
    assert sorted(e.detail["points_per_hour"] for e in audited) == [20, 50]
    assert all(e.actor_user_id == env.organiser_user for e in audited)
    env.verify()


def test_a_category_rule_wins_over_the_default_and_versions_count_up(env):
    change_rule(env, points_per_hour=10)
    change_rule(env, category="elderly", points_per_hour=30)
    v2 = change_rule(env, category="elderly", points_per_hour=40)
    a = env.activity(category="elderly")
    att = env.attend(env.member(), a, 0, 120)
    assert (att.points, att.rule_id, att.rule_version) == (80, v2.id, 2)
    env.verify()


def test_a_rule_cannot_take_effect_in_the_past(env):
    with pytest.raises(RuleInvalid) as exc:
        change_rule(env, points_per_hour=99, effective_from=utcnow() - timedelta(hours=1))
    assert exc.value.field == "effective_from"
    assert points.rule_versions(env.s, env.tenant) == []
    with pytest.raises(RuleInvalid) as exc:
        change_rule(env, rounding_minutes=0, presence_percent=101)
    assert {d["field"] for d in exc.value.details} == {"rounding_minutes", "presence_percent"}


# --- sign-up --------------------------------------------------------------------------------------------


def test_capacity_waiting_list_and_promotion(env):
    a = env.activity(capacity=2)
    people = [env.member(f"志愿者{i}") for i in range(9)]
    now = utcnow()
    got = [act.sign_up(env.s, a.id, m, now=now + timedelta(seconds=i)).status for i, m in enumerate(people[:8])]
    assert got == [CONFIRMED, CONFIRMED] + [WAITLISTED] * 6
    with pytest.raises(errors.ActivityFull):  # the waiting list holds three people per place
        act.sign_up(env.s, a.id, people[8], now=now + timedelta(seconds=9))
    with pytest.raises(errors.AlreadySignedUp):
        act.sign_up(env.s, a.id, people[0], now=now + timedelta(seconds=9))

    act.cancel_signup(env.s, a.id, people[1])

    statuses = {m.id: act.my_signup(env.s, a, m.id).status for m in people[:4]}
    assert statuses == {
        people[0].id: CONFIRMED,
        people[1].id: WITHDRAWN,
        people[2].id: CONFIRMED,
        people[3].id: WAITLISTED,
    }
    assert a.confirmed_count == 2
    assert [n.kind for n in env.notices(people[2])] == ["signup.promoted"]
    assert env.notices(people[3]) == []
    assert env.notices(people[2])[0].params["title"] == "垃圾分类宣传"

    # Signing up again after cancelling: at the end of the queue.
    assert act.sign_up(env.s, a.id, people[1], now=now + timedelta(seconds=20)).status == WAITLISTED
    act.cancel_signup(env.s, a.id, people[0])
    assert act.my_signup(env.s, a, people[3].id).status == CONFIRMED  # queued before people[1] came back
    assert act.my_signup(env.s, a, people[1].id).status == WAITLISTED
    with pytest.raises(errors.NotSignedUp):
        act.cancel_signup(env.s, a.id, people[0])
    env.verify()


def test_a_stale_activity_in_the_session_does_not_oversell(env):
    """A view loads the activity (permission check) before signing up: the count comes from the row."""
    a = env.activity(capacity=1)
    first, second = env.member("甲"), env.member("乙")
    act.sign_up(env.s, a.id, first)
    # The copy a view loaded before another request confirmed `first` (set as it would be: stale).
    loaded = act.get_activity(env.s, env.tenant, a.id)
    loaded.__dict__["confirmed_count"] = 0
    assert act.sign_up(env.s, a.id, second).status == WAITLISTED


def test_cancelling_or_moving_an_activity_tells_everyone_signed_up(env):
    a = env.activity(capacity=1)
    confirmed, waiting, gone = env.member("甲"), env.member("乙"), env.member("丙")
    act.sign_up(env.s, a.id, gone)
    act.cancel_signup(env.s, a.id, gone)
    act.sign_up(env.s, a.id, confirmed)
    act.sign_up(env.s, a.id, waiting)
    data = act.ActivityData(
        **{name: getattr(a, name) for name in act.FIELDS if name not in ("starts_at", "ends_at")},
        starts_at=env.at(60),
        ends_at=env.at(180),
    )
    act.update_activity(env.s, a, data, actor_user_id=env.organiser_user)
    act.cancel_activity(env.s, a, "暴雨预警", actor_user_id=env.organiser_user)
    for m in (confirmed, waiting):
        assert [n.kind for n in env.notices(m)] == ["activity.moved", "activity.cancelled"]
    assert env.notices(confirmed)[1].params["reason"] == "暴雨预警"
    assert env.notices(gone) == []


def test_who_may_join(env):
    t = env.town
    community = env.activity(eligibility="community", eligible_unit_id=t.community_a.id)
    party = env.activity(eligibility="party")
    tagged = env.activity(eligibility="tag", eligible_tag="grid_worker")
    resident, outsider = env.member("居民", t.grid_a2), env.member("外人", t.grid_b1)
    member_of_party = env.member("党员", t.grid_b1, is_party_member=True)
    worker = env.member("网格员", t.grid_b1, is_grid_worker=True)

    assert act.sign_up(env.s, community.id, resident).status == CONFIRMED
    with pytest.raises(errors.NotEligible, match="凤凰社区|Fenghuang|residents"):
        act.sign_up(env.s, community.id, outsider)
    assert act.sign_up(env.s, party.id, member_of_party).status == CONFIRMED
    with pytest.raises(errors.NotEligible):
        act.sign_up(env.s, party.id, resident)
    assert act.sign_up(env.s, tagged.id, worker).status == CONFIRMED
    with pytest.raises(errors.NotEligible):
        act.sign_up(env.s, tagged.id, member_of_party)
    env.verify()


def test_the_sign_up_window(env):
    now = utcnow()
    closed = env.activity(signup_closes_at=now + timedelta(hours=1))
    later = env.activity(signup_opens_at=now + timedelta(hours=3))
    v = env.member()
    with pytest.raises(errors.SignupClosed):
        act.sign_up(env.s, closed.id, v, now=now + timedelta(hours=2))
    with pytest.raises(errors.SignupClosed):
        act.sign_up(env.s, later.id, v, now=now + timedelta(hours=2))
    assert act.sign_up(env.s, later.id, v, now=now + timedelta(hours=4)).status == CONFIRMED
    with pytest.raises(errors.SignupClosed):  # the activity is over
        act.sign_up(env.s, later.id, env.member("迟到"), now=env.end + timedelta(minutes=1))
    draft = act.create_activity(
        env.s,
        env.tenant,
        act.ActivityData("草稿", "environment", env.town.community_a.id, "广场", env.start, env.end, 5),
        actor_user_id=None,
    )
    with pytest.raises(errors.NotOpen):
        act.sign_up(env.s, draft.id, v)


# --- scans ----------------------------------------------------------------------------------------------


def test_rotating_codes_check_in_and_out_and_points_go_pending(env):
    a = env.activity()
    v = env.member()
    act.sign_up(env.s, a.id, v)
    first = env.scan(v, "activity_checkin", a, -10)
    again = env.scan(v, "activity_checkin", a, -9)
    assert (first.already, again.already, first.attendance.status) == (False, True, IN)
    assert first.attendance.checked_in_at == env.at(-10)  # the second scan changed nothing

    out = env.scan(v, "activity_checkout", a, 115)
    out_again = env.scan(v, "activity_checkout", a, 125)
    att = out.attendance
    assert (out.already, out_again.already) == (False, True)
    assert (att.status, att.checked_out_at, att.checkin_source, att.checkout_source) == (
        TO_REVIEW,
        env.at(115),
        SCAN,
        SCAN,
    )
    assert (att.present_minutes, att.credited_minutes, att.points) == (115, 90, 15)
    assert len(env.journals(att.id)) == 1
    assert env.s.scalar(select(func.count()).select_from(Attendance).where(Attendance.activity_id == a.id)) == 1
    outcomes = env.s.scalars(select(Scan.outcome).where(Scan.activity_id == a.id).order_by(Scan.id)).all()
    assert outcomes == ["recorded", "already", "recorded", "already"]
    mine = env.points(v)
    assert (mine.available, mine.pending) == (0, 15)
    assert mine.lines[0].title == "垃圾分类宣传" and mine.lines[0].minutes == 90
    env.verify()


def test_expired_and_early_codes(env):
    a = env.activity()
    v = env.member()
    with pytest.raises(TokenExpired):  # a photo of the code, forwarded five minutes later
        env.scan(v, "activity_checkin", a, 10, made=5)
    with pytest.raises(errors.NotOpen):  # check-in opens an hour before the start
        env.scan(v, "activity_checkin", a, -61)
    with pytest.raises(errors.NotOpen):  # and closes at the end
        env.scan(v, "activity_checkin", a, 121)
    with pytest.raises(errors.NotCheckedIn):
        env.scan(v, "activity_checkout", a, 60)
    assert env.s.scalar(select(func.count()).select_from(Attendance).where(Attendance.activity_id == a.id)) == 0


def test_signing_in_first_keeps_the_time_the_code_was_opened(env):
    a = env.activity()
    v = env.member()
    token = make_token("activity_checkin", env.tenant, a.id, env.at(0))
    with pytest.raises(TokenExpired):  # five minutes at the sign-in page: the code itself has expired
        act.scan(env.s, v, token, now=env.at(5))
    r = act.scan(env.s, v, token, now=env.at(5), seen_at=env.at(0))  # but it was opened while valid
    assert (r.already, r.attendance.checked_in_at) == (False, env.at(5))


def test_a_first_check_in_by_id_writes_what_the_loaded_member_path_writes(env):
    """`scan_member` writes a signed-up volunteer's first check-in with plain statements; `scan` (a
    loaded member, ORM objects) writes the same attendance and scan log, column for column."""
    a = env.activity(lat=PLACE[0], lng=PLACE[1], radius_m=200)
    fast, slow = env.member("甲"), env.member("乙")
    for v in (fast, slow):
        act.sign_up(env.s, a.id, v)
    token = make_token("poster_checkin", env.tenant, a.id, env.at(-5))
    near = {"lat": PLACE[0] + 0.0005, "lng": PLACE[1]}
    by_id = act.scan_member(env.s, env.tenant, fast.id, token, now=env.at(-5), **near)
    loaded = act.scan(env.s, slow, token, now=env.at(-5), **near)
    assert (by_id.direction, by_id.already, by_id.activity.title) == (CHECKIN, False, "垃圾分类宣传")
    env.s.expire_all()

    def row_id(model, member):
        return env.s.scalar(select(model.id).where(model.activity_id == a.id, model.member_id == member.id))

    def row(model, member):
        obj = env.s.scalars(select(model).where(model.activity_id == a.id, model.member_id == member.id)).one()
        assert getattr(obj, "created_at", True) is not None
        skip = ("id", "member_id", "created_at")  # created_at: each path's own clock reading
        return {c.key: getattr(obj, c.key) for c in model.__table__.columns if c.key not in skip}

    written = row(Attendance, fast)
    assert written == row(Attendance, slow)
    assert (written["status"], written["checkin_source"], written["checked_in_at"]) == (IN, POSTER, env.at(-5))
    assert by_id.attendance.id == loaded.attendance.id - 1  # the answer carries the row's id
    assert row(Scan, fast) == row(Scan, slow)
    assert row(Scan, fast)["outcome"] == "recorded" and row(Scan, fast)["distance_m"] == 55
    # The same refusals, in the same order, as the loaded member's path.
    late = env.member("丙")
    act.sign_up(env.s, a.id, late)
    with pytest.raises(errors.OutsideRadius):
        act.scan_member(env.s, env.tenant, late.id, token, now=env.at(-5), lat=PLACE[0] + 0.01, lng=PLACE[1])
    assert env.s.scalars(select(Scan.outcome).where(Scan.member_id == late.id)).all() == ["outside_radius"]
    with pytest.raises(errors.NotOpen):
        act.scan_member(env.s, env.tenant, late.id, token, now=env.at(121), **near)
    walk_in = env.member("丁")  # not signed up: `scan` with the loaded member takes them (walk-ins welcome)
    came = act.scan_member(env.s, env.tenant, walk_in.id, token, now=env.at(-5), **near)
    assert (came.already, came.attendance.member.name) == (False, "丁")
    closed = env.activity(walk_ins=False)
    with pytest.raises(errors.NotSignedUp):
        act.scan_member(
            env.s,
            env.tenant,
            walk_in.id,
            make_token("poster_checkin", env.tenant, closed.id, env.at(-5)),
            now=env.at(-5),
        )
    assert act.scan_member(env.s, env.tenant, fast.id, token, now=env.at(-4), **near).already

    # Check-out: the attendance closed and priced, the points held, the scan logged, as `scan` does.
    leave = make_token("poster_checkout", env.tenant, a.id, env.at(100))
    closed = act.scan_member(env.s, env.tenant, fast.id, leave, now=env.at(100), **near)
    act.scan(env.s, slow, leave, now=env.at(100), **near)
    assert (closed.direction, closed.already, closed.attendance.status, closed.attendance.points) == (
        CHECKOUT,
        False,
        TO_REVIEW,
        15,
    )
    env.s.expire_all()
    written = row(Attendance, fast)
    assert {**written, "journal_id": None} == {**row(Attendance, slow), "journal_id": None}
    assert (written["credited_minutes"], written["checkout_source"], closed.attendance.journal_id) == (
        90,
        POSTER,
        written["journal_id"],
    )
    fast_journal, slow_journal = (
        env.s.execute(
            select(journals.c.pending, journals.c.memo, journals.c.meta).where(journals.c.id == x["journal_id"])
        ).one()
        for x in (written, row(Attendance, slow))
    )
    for j, who in ((fast_journal, fast), (slow_journal, slow)):
        assert (j.pending, j.memo) == (True, "垃圾分类宣传")
        assert j.meta["attendance_id"] == row_id(Attendance, who)
    assert {**fast_journal.meta, "attendance_id": 0} == {**slow_journal.meta, "attendance_id": 0}
    assert (env.points(fast).pending, env.points(slow).pending) == (15, 15)
    outcomes = env.s.scalars(select(Scan.direction).where(Scan.member_id == fast.id, Scan.outcome == "recorded"))
    assert sorted(outcomes) == [CHECKIN, CHECKOUT]
    again = act.scan_member(env.s, env.tenant, fast.id, leave, now=env.at(101), **near)
    assert (again.already, again.attendance.checked_out_at) == (True, env.at(100))  # through `scan`
    env.verify()


def test_a_code_of_another_district_is_refused(env):
    a = env.activity()
    other_town = make_town(env.s)
    stranger = make_member(env.s, other_town.district.id, other_town.grid_a1, name="外区")
    with pytest.raises(TokenWrongDistrict):
        env.scan(stranger, "activity_checkin", a, 0)


def test_posters_work_only_around_the_activity(env):
    a = env.activity()
    v, w = env.member("甲"), env.member("乙")
    with pytest.raises(errors.NotOpen):
        env.scan(v, "poster_checkin", a, -90)
    assert env.scan(v, "poster_checkin", a, -30).attendance.checkin_source == POSTER
    env.scan(w, "poster_checkin", a, 0)
    assert env.scan(v, "poster_checkout", a, 120 + 20).attendance.checkout_source == POSTER
    with pytest.raises(errors.NotOpen):  # half an hour after the end the poster stops working
        env.scan(w, "poster_checkout", a, 120 + 31)
    assert act._attendance(env.s, a, w.id).status == IN
    env.verify()


def test_radius(env):
    a = env.activity(lat=PLACE[0], lng=PLACE[1], radius_m=200)
    near, far, blind = env.member("近"), env.member("远"), env.member("无")
    r = env.scan(near, "activity_checkin", a, 0, lat=PLACE[0] + 0.001, lng=PLACE[1])  # about 111 m
    assert not r.already
    with pytest.raises(errors.OutsideRadius) as exc:
        env.scan(far, "activity_checkin", a, 0, lat=PLACE[0] + 0.01, lng=PLACE[1])  # about 1.1 km
    assert exc.value.code == "outside_radius" and "凤凰广场" in str(exc.value)
    with pytest.raises(errors.LocationRequired) as exc:
        env.scan(blind, "activity_checkin", a, 0)
    assert exc.value.code == "location_required"
    refused = env.s.scalars(select(Scan).where(Scan.activity_id == a.id, Scan.member_id == far.id)).one()
    assert refused.outcome == "outside_radius" and 1000 < refused.distance_m < 1200
    assert act._attendance(env.s, a, far.id) is None and act._attendance(env.s, a, blind.id) is None


def test_walk_ins(env):
    closed = env.activity(walk_ins=False)
    open_ = env.activity(walk_ins=True)
    v = env.member()
    with pytest.raises(errors.NotSignedUp):
        env.scan(v, "activity_checkin", closed, 0)
    act.sign_up(env.s, closed.id, v)
    assert not env.scan(v, "activity_checkin", closed, 0).already
    assert not env.scan(env.member("路人"), "activity_checkin", open_, 0).already


# --- by hand, from paper, missed check-outs --------------------------------------------------------------


def test_by_hand_is_manual_and_audited(env):
    a = env.activity()
    v = env.member()
    with pytest.raises(errors.ActivityInvalid):
        act.record_by_hand(env.s, a, v, direction=CHECKIN, at=env.at(0), reason=" ", actor_user_id=env.organiser_user)
    act.record_by_hand(
        env.s, a, v, direction=CHECKIN, at=env.at(0), reason="手机没电", actor_user_id=env.organiser_user
    )
    r = act.record_by_hand(
        env.s, a, v, direction=CHECKOUT, at=env.at(90), reason="手机没电", actor_user_id=env.organiser_user
    )
    att = r.attendance
    assert (att.checkin_source, att.checkout_source, att.manual_reason, att.points) == (MANUAL, MANUAL, "手机没电", 15)
    assert att.recorded_by_user_id == env.organiser_user
    actions = env.s.scalars(
        select(AuditEvent.action).where(AuditEvent.tenant_id == env.tenant, AuditEvent.action.like("attendance.%"))
    ).all()
    assert sorted(actions) == ["attendance.manual_in", "attendance.manual_out"]
    env.verify()


def test_paper_sheet_within_seven_days_flagged(env):
    a = env.activity()
    v, late = env.member("甲"), env.member("乙")
    att = act.record_paper(
        env.s,
        a,
        v,
        checked_in_at=env.at(0),
        checked_out_at=env.at(120),
        reason="纸质签到表",
        actor_user_id=env.organiser_user,
        now=env.end + timedelta(days=6, hours=23),
    )
    assert (att.paper, att.checkin_source, att.checkout_source, att.status, att.points) == (
        True,
        PAPER,
        PAPER,
        TO_REVIEW,
        20,
    )
    with pytest.raises(errors.NotOpen):
        act.record_paper(
            env.s,
            a,
            late,
            checked_in_at=env.at(0),
            checked_out_at=env.at(120),
            reason="纸质签到表",
            actor_user_id=env.organiser_user,
            now=env.end + timedelta(days=7, minutes=1),
        )
    with pytest.raises(errors.AlreadyReviewed):
        act.record_paper(
            env.s,
            a,
            v,
            checked_in_at=env.at(0),
            checked_out_at=env.at(60),
            reason="重复",
            actor_user_id=env.organiser_user,
            now=env.end,
        )
    with pytest.raises(errors.ActivityInvalid):
        act.record_paper(
            env.s,
            a,
            late,
            checked_in_at=env.at(60),
            checked_out_at=env.at(0),
            reason="",
            actor_user_id=env.organiser_user,
            now=env.end,
        )
    assert (
        env.s.scalar(
            select(AuditEvent.action).where(AuditEvent.action == "attendance.paper", AuditEvent.tenant_id == env.tenant)
        )
        == "attendance.paper"
    )
    env.verify()


@pytest.mark.parametrize("missed", [MISSED_NOTHING, MISSED_UNTIL_END])
def test_missed_check_outs_are_closed_after_the_grace_period(env, missed):
    change_rule(env, missed_checkout=missed, grace_minutes=60)
    a = env.activity()
    forgot, left = env.member("忘了"), env.member("走了")
    env.scan(forgot, "activity_checkin", a, 0)
    env.attend(left, a, 0, 120)

    act.close_missed_checkouts(env.s, now=env.at(120 + 59))  # (the job runs over every district)
    assert act._attendance(env.s, a, forgot.id).status == IN
    assert a.closed_at is None

    assert act.close_missed_checkouts(env.s, now=env.at(120 + 61)) >= 1
    att = act._attendance(env.s, a, forgot.id)
    assert (att.status, att.checkout_source, att.checked_out_at) == (TO_REVIEW, AUTO, None)
    if missed == MISSED_NOTHING:
        assert (att.points, att.zero_reason, att.journal_id) == (0, "missed_checkout", None)
    else:
        assert (att.points, att.zero_reason, att.credited_minutes) == (20, None, 120)
        assert env.points(forgot).pending == 20
    count = env.s.scalar(select(func.count()).select_from(journals).where(journals.c.tenant_id == env.tenant))

    act.close_missed_checkouts(env.s, now=env.at(120 + 90))  # again: nothing changes
    assert env.s.scalar(select(func.count()).select_from(journals).where(journals.c.tenant_id == env.tenant)) == count
    assert act._attendance(env.s, a, forgot.id).checkout_source == AUTO
    env.verify()


def test_activities_inside_a_long_grace_period_do_not_hold_back_due_ones(env):
    change_rule(env, category="elderly", grace_minutes=1440)
    patient = [env.activity(category="elderly") for _ in range(3)]  # end first, closed a day later
    due = env.activity(starts_at=env.at(10), ends_at=env.at(130))  # ends later, an hour's grace
    v = env.member()
    env.scan(v, "activity_checkin", due, 10)
    now = env.at(130 + 61)
    while act.close_missed_checkouts(env.s, now=now, limit=2) == 2:  # as the job's batches run
        pass
    assert due.closed_at == now and act._attendance(env.s, due, v.id).status == TO_REVIEW
    assert [a.closed_at for a in patient] == [None] * 3
    env.verify()


def test_a_review_of_something_else_than_ids_is_refused(env):
    a, _people, atts = _queue(env, 1)
    for bad in ("some", ["x"], [None]):
        with pytest.raises(errors.ReviewInvalid):
            env.review(a, approve=bad)
    assert atts[0].status == TO_REVIEW


# --- review ---------------------------------------------------------------------------------------------


def _queue(env, n=4, **activity):
    a = env.activity(**activity)
    people = [env.member(f"志愿者{i}") for i in range(n)]
    atts = [env.attend(m, a, 0, 120) for m in people]  # 20 points each, pending
    return a, people, atts


def test_approve_all_moves_points_from_pending_to_available(env):
    a, people, atts = _queue(env, 3)
    assert [(env.points(m).available, env.points(m).pending) for m in people] == [(0, 20)] * 3

    out = env.review(a, approve="all")

    assert (out.approved, out.points, sorted(out.ids)) == (3, 60, sorted(x.id for x in atts))
    assert {x.status for x in atts} == {APPROVED}
    assert [(env.points(m).available, env.points(m).pending) for m in people] == [(20, 0)] * 3
    for m in people:
        (notice,) = env.notices(m, "hours.approved")
        assert notice.params == {"title": "垃圾分类宣传", "points": 20, "hours": "2"}
    events = env.s.scalars(
        select(AuditEvent).where(AuditEvent.tenant_id == env.tenant, AuditEvent.action == "attendance.review")
    ).all()
    assert len(events) == 1 and events[0].detail["approved"] == 3
    env.verify()


def test_approve_some_adjust_and_reject(env):
    a, people, atts = _queue(env, 5)
    out = env.review(
        a,
        approve=[atts[0].id],
        adjust=[(atts[1].id, 60, "提前离开"), (atts[2].id, 180, "多服务一小时")],
        reject=[(atts[3].id, "未到场")],
    )
    assert (out.approved, out.adjusted, out.rejected, out.points) == (1, 2, 1, 20 + 10 + 30)
    assert [x.status for x in atts] == [APPROVED, ADJUSTED, ADJUSTED, REJECTED, TO_REVIEW]
    got = [(env.points(m).available, env.points(m).pending) for m in people]
    assert got == [(20, 0), (10, 0), (30, 0), (0, 0), (0, 20)]
    # Down: a partial post of the held journal. Up: the held journal voided, the whole amount posted afresh.
    keys = {r.key for r in env.journals(atts[1].id)}
    assert keys == {f"hours:{atts[1].id}", f"hours:{atts[1].id}:post"}
    keys = {r.key for r in env.journals(atts[2].id)}
    assert keys == {f"hours:{atts[2].id}", f"hours:{atts[2].id}:void", f"hours:{atts[2].id}:credit"}
    credit = next(r for r in env.journals(atts[2].id) if r.key.endswith(":credit"))
    assert credit.meta["reason"] == "多服务一小时" and credit.meta["minutes"] == 180
    assert credit.meta["rule_version"] == 0
    assert (atts[1].credited_minutes, atts[1].review_reason) == (60, "提前离开")
    assert env.notices(people[1], "hours.adjusted")[0].params["reason"] == "提前离开"
    assert env.notices(people[3], "hours.rejected")[0].params == {"title": "垃圾分类宣传", "reason": "未到场"}
    assert env.notices(people[4]) == []
    env.verify()


def test_adjusting_a_missed_check_out_credits_it(env):
    a = env.activity()
    v = env.member()
    env.scan(v, "activity_checkin", a, 0)
    act.close_missed_checkouts(env.s, now=env.at(300))
    att = act._attendance(env.s, a, v.id)
    assert (att.journal_id, att.zero_reason) == (None, "missed_checkout")
    env.review(a, adjust=[(att.id, 120, "确认在场两小时")])
    assert (att.status, att.points, att.zero_reason) == (ADJUSTED, 20, None)
    assert (env.points(v).available, env.points(v).pending) == (20, 0)
    assert [r.key for r in env.journals(att.id)] == [f"hours:{att.id}:credit"]
    env.verify()


def test_adjusting_to_zero_voids(env):
    a, people, atts = _queue(env, 1)
    env.review(a, adjust=[(atts[0].id, 0, "未按要求服务")])
    assert (atts[0].status, atts[0].points) == (ADJUSTED, 0)
    assert (env.points(people[0]).available, env.points(people[0]).pending) == (0, 0)
    env.verify()


def test_nobody_reviews_their_own_attendance(env):
    a, people, atts = _queue(env, 2)
    own = env.attend(env.organiser, a, 0, 120)
    with pytest.raises(errors.OwnAttendance):
        env.review(a, approve=[atts[0].id, own.id])
    assert atts[0].status == TO_REVIEW
    out = env.review(a, approve="all")  # leaves the organiser's own for another organiser
    assert out.approved == 2 and own.status == TO_REVIEW
    other = env.member("另一位组织者")
    env.review(a, actor=other, approve=[own.id])
    assert own.status == APPROVED
    env.verify()


def test_already_reviewed_and_unknown_ids_change_nothing(env):
    a, people, atts = _queue(env, 3)
    env.review(a, approve=[atts[0].id])
    other = env.activity(title="另一个活动")
    stranger = env.attend(env.member("别的"), other, 0, 120)
    before = [(x.id, x.status) for x in atts]
    journals_before = env.s.scalar(select(func.count()).select_from(journals).where(journals.c.tenant_id == env.tenant))

    def refused(exc_type, **decision):
        with pytest.raises(exc_type), env.s.begin_nested():  # the request's rollback
            env.review(a, **decision)
        env.s.expire_all()
        assert [(x.id, x.status) for x in atts] == before
        count = env.s.scalar(select(func.count()).select_from(journals).where(journals.c.tenant_id == env.tenant))
        assert count == journals_before

    refused(errors.AlreadyReviewed, approve=[atts[1].id, atts[0].id])
    refused(errors.ReviewInvalid, approve=[atts[1].id, atts[2].id, 99_999_999])
    refused(errors.ReviewInvalid, approve=[atts[1].id], reject=[(stranger.id, "不是这个活动")])
    refused(errors.ReviewInvalid, approve=[atts[1].id], reject=[(atts[1].id, "两次")])
    refused(errors.ReviewInvalid, adjust=[(atts[1].id, 60, "  ")])
    refused(errors.ReviewInvalid, reject=[(atts[1].id, "")])
    refused(errors.ReviewInvalid, adjust=[(atts[1].id, 2000, "太多")])
    env.s.expire_all()
    assert (env.points(people[1]).available, env.points(people[1]).pending) == (0, 20)
    assert env.notices(people[1]) == []
    env.verify()


def test_a_checked_in_volunteer_is_not_reviewable(env):
    a = env.activity()
    v = env.member()
    att = env.scan(v, "activity_checkin", a, 0).attendance
    with pytest.raises(errors.AlreadyReviewed):
        env.review(a, approve=[att.id])
    assert env.review(a, approve="all").approved == 0


def test_no_check_in_by_hand_once_the_job_has_closed_the_activity(env):
    """A check-in after the missed check-outs were closed would stay open for good: the paper entry is the way."""
    a = env.activity()
    act.close_missed_checkouts(env.s, now=env.at(120 + 61))
    assert a.closed_at is not None
    v = env.member("晚来")
    with pytest.raises(errors.NotOpen, match="paper|纸质"):
        act.record_by_hand(
            env.s, a, v, direction=CHECKIN, at=env.at(10), reason="补签", actor_user_id=env.organiser_user
        )
    assert act._attendance(env.s, a, v.id) is None
    att = act.record_paper(
        env.s,
        a,
        v,
        checked_in_at=env.at(0),
        checked_out_at=env.at(120),
        reason="纸质签到表",
        actor_user_id=env.organiser_user,
        now=env.at(300),
    )
    assert (att.status, att.paper, att.points) == (TO_REVIEW, True, 20)
    env.verify()


def test_by_hand_and_paper_entries_keep_to_who_may_join(env):
    # What an attack probe found: an organiser recording (and so crediting) a member the activity is
    # not open to. By hand and from paper, the activity's rule holds as it does for a scan.
    a = env.activity(eligibility="community", eligible_unit_id=env.town.community_a.id)
    outsider = env.member("外社区", grid=env.town.grid_b1)
    with pytest.raises(errors.NotEligible):
        act.record_by_hand(
            env.s, a, outsider, direction=CHECKIN, at=env.at(0), reason="手机没电", actor_user_id=env.organiser_user
        )
    with pytest.raises(errors.NotEligible):
        act.record_paper(
            env.s, a, outsider, checked_in_at=env.at(0), checked_out_at=env.at(120), reason="纸质签到表",
            actor_user_id=env.organiser_user, now=env.end,
        )  # fmt: skip
    env.verify()
