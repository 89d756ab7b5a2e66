"""Earning under real concurrency on PostgreSQL: many transactions at once on their own connections,
each committing (as many requests would). Sign-ups never oversell and queue in order, a burst of scans
makes one attendance and one pending journal, two organisers reviewing one queue resolve each
attendance once. The ledger is verified after each."""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from app import create_app
from app.activities import services as act
from app.activities.labels import APPROVED, CONFIRMED, MANUAL, TO_REVIEW, WAITLISTED
from app.activities.models import Attendance, Signup
from app.auth.services import user_for_member
from app.db import unit_of_work, utcnow
from app.notices.models import Notice
from app.people.models import Member
from app.tokens import make_token
from ledger import Ledger
from ledger.schema import journals
from tests.conftest import TEST_CONFIG
from tests.factories import make_member, make_town

pytestmark = [pytest.mark.postgres, pytest.mark.commits]

CONNECTIONS = 20  # at most this many transactions hold a connection at once; the rest queue for one


@pytest.fixture
def pg_app(pg_engine, postgres_url):
    return create_app({**TEST_CONFIG, "DATABASE_URL": postgres_url, "ENGINE": pg_engine})


def build(app, engine, fn):
    """Commit what a scenario starts from; fn(session) returns plain values."""
    with app.app_context(), app.test_request_context(), unit_of_work(app.extensions["db_sessionmaker"]) as s:
        return fn(s)


def run_together(app, engine, n: int, work, hold_activity: int | None = None) -> list:
    """work(session, i) for i in range(n), each in its own thread, app context and committed transaction,
    all released together. With hold_activity, another transaction holds that activity's row lock until
    all n are queued on it: each has read what it reads before any has written. Returns each call's value
    or the exception it raised (its transaction rolled back)."""
    assert not hold_activity or n <= CONNECTIONS
    barrier = threading.Barrier(n)
    slots = threading.BoundedSemaphore(CONNECTIONS)

    def one(i: int):
        barrier.wait(timeout=60)
        with slots, app.app_context(), app.test_request_context():
            try:
                with Session(engine) as s:
                    result = work(s, i)
                    s.commit()
                    return result
            except Exception as exc:  # noqa: BLE001  (the caller asserts on every outcome)
                return exc

    with engine.connect() as gate, ThreadPoolExecutor(max_workers=n) as pool:
        if hold_activity:
            gate.execute(text("SELECT id FROM activities WHERE id = :id FOR UPDATE"), {"id": hold_activity})
        try:
            futures = [pool.submit(one, i) for i in range(n)]
            if hold_activity:
                wait_for_lock_waiters(engine, n)
        finally:
            gate.rollback()
        return [f.result() for f in futures]


def wait_for_lock_waiters(engine, n: int) -> None:
    with engine.connect() as conn:
        for _ in range(3000):
            waiting = conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            ).scalar_one()
            if waiting >= n:
                return
            conn.rollback()
            time.sleep(0.02)
    pytest.fail(f"only {waiting} of {n} transactions reached the lock")


def outcome(r) -> str:
    return type(r).__name__ if isinstance(r, Exception) else str(r)


def verified(engine, tenant: int) -> list[str]:
    with Session(engine) as s:
        return Ledger(s, tenant=tenant).verify()


def _activity(s, town, organiser_user, start, **kw):
    data = dict(
        title="社区大扫除",
        category="environment",
        host_unit_id=town.community_a.id,
        place="凤凰广场",
        starts_at=start,
        ends_at=start + timedelta(hours=2),
        capacity=80,
    )
    data.update(kw)
    a = act.create_activity(s, town.district.id, act.ActivityData(**data), actor_user_id=organiser_user)
    return act.publish_activity(s, a, actor_user_id=organiser_user)


def test_200_sign_ups_for_50_places(pg_app, pg_engine):
    def setup(s):
        town = make_town(s)
        org = user_for_member(s, town.users["organiser"][0]).id
        a = _activity(s, town, org, utcnow() + timedelta(days=1), capacity=50)
        people = [make_member(s, town.district.id, town.grid_a1, name=f"志愿者{i}").id for i in range(200)]
        return town.district.id, a.id, people

    tenant, activity_id, people = build(pg_app, pg_engine, setup)

    def sign_up(s, i):
        act.get_activity(s, tenant, activity_id)  # as a view does first (the permission check)
        return act.sign_up(s, activity_id, s.get(Member, people[i])).status

    results = run_together(pg_app, pg_engine, 200, sign_up)

    assert Counter(map(outcome, results)) == {CONFIRMED: 50, WAITLISTED: 150}
    with Session(pg_engine) as s:
        rows = s.execute(
            select(Signup.member_id, Signup.status)
            .where(Signup.activity_id == activity_id)
            .order_by(Signup.queued_at, Signup.id)
        ).all()
        count = s.scalar(text("SELECT confirmed_count FROM activities WHERE id = :id"), {"id": activity_id})
    # The queue's order is the order the sign-ups were decided in: the 50 confirmed first, then the list.
    assert [r.status for r in rows] == [CONFIRMED] * 50 + [WAITLISTED] * 150
    assert count == 50
    waitlist = [r.member_id for r in rows[50:]]

    # Ten confirmed volunteers cancel at once: the first ten on the list move up, each told once.
    leaving = [r.member_id for r in rows[:10]]
    results = run_together(
        pg_app, pg_engine, 10, lambda s, i: act.cancel_signup(s, activity_id, s.get(Member, leaving[i])).status
    )
    assert Counter(map(outcome, results)) == {"cancelled": 10}
    with Session(pg_engine) as s:
        status = dict(s.execute(select(Signup.member_id, Signup.status).where(Signup.activity_id == activity_id)).all())
        told = Counter(
            s.scalars(select(Notice.member_id).where(Notice.tenant_id == tenant, Notice.kind == "signup.promoted"))
        )
        count = s.scalar(text("SELECT confirmed_count FROM activities WHERE id = :id"), {"id": activity_id})
    assert [status[m] for m in waitlist] == [CONFIRMED] * 10 + [WAITLISTED] * 140
    assert told == {m: 1 for m in waitlist[:10]}
    assert count == 50 == Counter(status.values())[CONFIRMED]
    assert verified(pg_engine, tenant) == []


def test_50_scans_of_one_code_make_one_attendance_and_one_pending_journal(pg_app, pg_engine):
    start = (utcnow() + timedelta(days=1)).replace(second=0, microsecond=0)

    def setup(s):
        town = make_town(s)
        org = user_for_member(s, town.users["organiser"][0]).id
        a = _activity(s, town, org, start)
        v = make_member(s, town.district.id, town.grid_a1, name="李雷")
        act.sign_up(s, a.id, v)
        return town.district.id, a.id, v.id

    tenant, activity_id, member_id = build(pg_app, pg_engine, setup)

    def burst(purpose, when):
        with pg_app.app_context():
            token = make_token(purpose, tenant, activity_id, when)

        def one(s, i):
            # As the API and the scan page: the first check-in is written without ORM objects, and a
            # scan that loses the insert to a simultaneous one answers "already" through `scan`.
            return act.scan_member(s, tenant, member_id, token, now=when).already

        return Counter(map(outcome, run_together(pg_app, pg_engine, 50, one)))

    assert burst("activity_checkin", start - timedelta(minutes=5)) == {"False": 1, "True": 49}
    assert burst("activity_checkout", start + timedelta(minutes=125)) == {"False": 1, "True": 49}
    with Session(pg_engine) as s:
        (att,) = s.scalars(select(Attendance).where(Attendance.activity_id == activity_id)).all()
        held = s.execute(
            select(journals.c.key, journals.c.pending).where(journals.c.tenant_id == tenant, journals.c.kind == "hours")
        ).all()
        balance = Ledger(s, tenant=tenant).balance(f"member:{member_id}")
    assert (att.status, att.points) == (TO_REVIEW, 20)
    assert held == [(f"hours:{att.id}", True)]
    assert (balance.pending_in, balance.posted) == (20, 0)
    assert verified(pg_engine, tenant) == []


@pytest.mark.parametrize("second", ["all", "ids"])
def test_two_organisers_review_one_queue_at_once(pg_app, pg_engine, second):
    start = (utcnow() + timedelta(days=1)).replace(second=0, microsecond=0)

    def setup(s):
        town = make_town(s)
        org_member = town.users["organiser"][0]
        other = make_member(s, town.district.id, town.grid_a1, name="第二位组织者")
        a = _activity(s, town, user_for_member(s, org_member).id, start)
        for i in range(30):
            v = make_member(s, town.district.id, town.grid_a1, name=f"志愿者{i}")
            act.check_in(s, a, v, start, MANUAL, reason="测试")
            act.check_out(s, a, v, start + timedelta(hours=2), MANUAL, reason="测试")
        reviewers = [(user_for_member(s, m).id, m.id) for m in (org_member, other)]
        return town.district.id, a.id, reviewers

    tenant, activity_id, reviewers = build(pg_app, pg_engine, setup)

    def review(s, i):
        activity = act.get_activity(s, tenant, activity_id)
        queue = act.review_queue(s, activity)  # the page the organiser approved from
        decision = act.Review(approve="all" if i == 0 or second == "all" else [a.id for a in queue])
        user_id, member_id = reviewers[i]
        return act.review(s, activity, decision, actor_user_id=user_id, actor_member_id=member_id).approved

    results = run_together(pg_app, pg_engine, 2, review, hold_activity=activity_id)

    got = sorted(map(outcome, results))
    # Whoever takes the activity's lock second finds nothing left ("all") or is told already_reviewed.
    assert got in ([["0", "30"]] if second == "all" else [["0", "30"], ["30", "AlreadyReviewed"]]), got
    with Session(pg_engine) as s:
        statuses = Counter(s.scalars(select(Attendance.status).where(Attendance.activity_id == activity_id)))
        resolutions = s.execute(
            select(journals.c.resolves_id, func.count())
            .where(journals.c.tenant_id == tenant, journals.c.resolves_id.is_not(None))
            .group_by(journals.c.resolves_id)
        ).all()
        told = Counter(
            s.scalars(select(Notice.member_id).where(Notice.tenant_id == tenant, Notice.kind == "hours.approved"))
        )
    assert statuses == {APPROVED: 30}
    assert len(resolutions) == 30 and {n for _, n in resolutions} == {1}
    assert len(told) == 30 and set(told.values()) == {1}
    assert verified(pg_engine, tenant) == []


def test_admins_changing_one_rule_at_once_each_get_their_own_version(pg_app, pg_engine):
    """Ten district admins saving the default rule at the same moment: each save takes the next version
    (the district's row is locked for it), none fails, none is lost."""
    from app.points import services as points
    from app.points.models import PointsRule

    tenant = build(pg_app, pg_engine, lambda s: make_town(s).district.id)

    def save(s, i):
        return points.change_rule(
            s,
            tenant,
            category="",
            points_per_hour=10 + i,
            rounding_minutes=30,
            presence_percent=60,
            missed_checkout="nothing",
            grace_minutes=60,
            effective_from=None,
        ).version

    results = run_together(pg_app, pg_engine, 10, save)
    assert sorted(results) == list(range(1, 11)), results
    with Session(pg_engine) as s:
        rows = s.scalars(select(PointsRule).where(PointsRule.tenant_id == tenant)).all()
        assert sorted(r.points_per_hour for r in rows) == list(range(10, 20))
