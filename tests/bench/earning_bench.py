"""Earning sections: the organiser's review of 10,000 attendances in one request, and sign-up under
contention — each through the services the pages and the API call."""

from __future__ import annotations

import random
import statistics
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from sqlalchemy import bindparam, func, insert, select
from sqlalchemy.orm import Session

from app.activities import errors
from app.activities import services as act
from app.activities.labels import CONFIRMED, PUBLISHED, SCAN, TO_REVIEW, WAITLISTED
from app.activities.models import Activity, Attendance, Signup
from app.auth.services import user_for_member
from app.db import make_engine, utcnow
from app.notices.models import Notice
from app.people.models import Member
from app.places import services as places
from app.points import rules as points_rules
from app.points import services as points
from app.points.accounts import open_wallets
from ledger import Ledger

from .harness import Context, Section, Stopwatch, Target, ms
from .people_bench import _app, _bulk_members

REVIEW = "11. Review of 10,000 attendances in one request"
SIGNUP = "12. Sign-up under contention (200 clients, 50 places)"


def _district(s: Session, code: str):
    district = places.create_district(s, code=code, name="积分测试区")
    street = places.create_unit(s, district.id, name="光明街道", kind="street")
    community = places.create_unit(s, district.id, name="光明社区", kind="community", parent=street)
    grid = places.create_unit(s, district.id, name="光明第一网格", kind="grid", grid_type="area", parent=community)
    return district.id, community, grid


def _members(s: Session, tenant: int, grid, n: int, rng: random.Random) -> list[int]:
    _bulk_members(s, tenant, [grid], n, rng)
    ids = list(s.scalars(select(Member.id).where(Member.tenant_id == tenant).order_by(Member.id)))
    open_wallets(s, tenant, ids)
    return ids


def _activity(s: Session, tenant: int, community, start, capacity: int) -> Activity:
    a = Activity(
        tenant_id=tenant,
        title="全民义务植树",
        category="environment",
        host_unit_id=community.id,
        place="光明公园",
        starts_at=start,
        ends_at=start + timedelta(hours=2),
        capacity=capacity,
        confirmed_count=0,
        status=PUBLISHED,
        eligibility="district",
        walk_ins=True,
        published_at=utcnow(),
    )
    s.add(a)
    s.flush()
    return a


def _queue(s: Session, tenant: int, activity: Activity, member_ids: list[int]) -> None:
    """One attendance per member, checked out and priced, its points held as a pending journal — as
    check_out leaves it (rows inserted in bulk, the journals through points.hold_hours)."""
    rule = points_rules.rule_for(s, tenant, activity.category, activity.starts_at)
    c = points_rules.credit(rule, activity.starts_at, activity.ends_at, activity.starts_at, activity.ends_at)
    rows = [
        dict(
            tenant_id=tenant,
            activity_id=activity.id,
            member_id=m,
            status=TO_REVIEW,
            checked_in_at=activity.starts_at,
            checkin_source=SCAN,
            checked_out_at=activity.ends_at,
            checkout_source=SCAN,
            paper=False,
            present_minutes=c.present_minutes,
            presence_percent=c.presence_percent,
            credited_minutes=c.credited_minutes,
            points=c.points,
            rule_id=rule.id,
            rule_version=rule.version,
            created_at=utcnow(),
        )
        for m in member_ids
    ]
    ids = list(s.execute(insert(Attendance).returning(Attendance.id, sort_by_parameter_order=True), rows).scalars())
    held = []
    for aid, m in zip(ids, member_ids, strict=True):
        claim = points.HoursClaim(
            aid, activity.id, m, activity.host_unit_id, activity.title, c.credited_minutes, c.points, rule
        )
        journal = points.hold_hours(s, tenant, claim)
        assert journal is not None
        held.append({"i": aid, "j": journal.id})
    s.execute(
        Attendance.__table__.update().where(Attendance.id == bindparam("i")).values(journal_id=bindparam("j")), held
    )


def bench_review(ctx: Context) -> None:
    n = ctx.size(10_000, 1_000)
    for target in ctx.targets:
        app = _app(target)
        rng = random.Random(5)
        with app.test_request_context(), Session(target.engine) as s:
            t0 = time.perf_counter()
            tenant, community, grid = _district(s, f"review{ctx.tenant()}")
            ids = _members(s, tenant, grid, n + 1, rng)
            organiser = s.get(Member, ids[0])
            activity = _activity(s, tenant, community, utcnow() - timedelta(hours=4), n)
            _queue(s, tenant, activity, ids[1:])
            user_id, organiser_id = user_for_member(s, organiser).id, organiser.id
            s.commit()
            activity_id = activity.id
            ctx.report.note(
                f"{target.name}: {n:,} attendances with pending journals set up in {time.perf_counter() - t0:.0f} s"
            )
        with app.test_request_context(), Session(target.engine) as s:
            # Time the ledger's share: the review reaches it through points.approve_hours_many only.
            ledger_time = Stopwatch()
            real = points.approve_hours_many

            def timed(*args, _sw=ledger_time, _real=real, **kw):
                with _sw:
                    return _real(*args, **kw)

            points.approve_hours_many = timed  # type: ignore[assignment]
            try:
                activity = act.get_activity(s, tenant, activity_id)
                t = time.perf_counter()
                out = act.review(
                    s, activity, act.Review(approve="all"), actor_user_id=user_id, actor_member_id=organiser_id
                )
                s.commit()
                took = time.perf_counter() - t
            finally:
                points.approve_hours_many = real  # type: ignore[assignment]
            assert out.approved == n, out.approved
            approved = s.scalar(
                select(func.count())
                .select_from(Attendance)
                .where(Attendance.activity_id == activity_id, Attendance.status == "approved")
            )
            told = s.scalar(
                select(func.count())
                .select_from(Notice)
                .where(Notice.tenant_id == tenant, Notice.kind == "hours.approved")
            )
            assert approved == n and told == n, (approved, told)
            problems = Ledger(s, tenant=tenant).verify()
            ctx.report.verified.append(problems == [])
        rest = took - ledger_time.total
        ctx.report.add(REVIEW, f"approve all {n:,} (one call, commit included)", target.name, ms(took))
        ctx.report.add(
            REVIEW,
            "of which the ledger (Ledger.post_pending_many, chunks of 2,000)",
            target.name,
            f"{ms(ledger_time.total)} ({ledger_time.total / n * 1000:.2f} ms per attendance)",
        )
        ctx.report.add(REVIEW, "the rest (rows, statuses, notices, audit)", target.name, ms(rest))
        if target.is_pg:
            ctx.report.goal(f"review of {n:,} attendances < 10 s", target.name, took, took < 10)


def bench_signup(ctx: Context) -> None:
    target: Target | None = ctx.pg
    if target is None:
        ctx.report.note(f"{SIGNUP}: not measured ({ctx.pg_missing or 'PostgreSQL only'})")
        return
    clients, places_, rounds = 200, 50, ctx.size(5, 2)
    app = _app(target)
    engine = make_engine(target.url, pool_size=20, max_overflow=0)
    settle: list[float] = []
    try:
        for r in range(rounds):
            with app.test_request_context(), Session(engine) as s:
                tenant, community, grid = _district(s, f"signup{ctx.tenant()}")
                ids = _members(s, tenant, grid, clients, random.Random(r))
                activity_id = _activity(s, tenant, community, utcnow() + timedelta(days=1), places_).id
                s.commit()
            barrier = threading.Barrier(clients + 1)

            def one(i: int, ids=ids, tenant=tenant, activity_id=activity_id, barrier=barrier):
                barrier.wait(timeout=60)
                with app.test_request_context(), Session(engine) as s:
                    try:
                        status = act.sign_up(s, activity_id, s.get(Member, ids[i])).status
                        s.commit()
                        return status
                    except errors.ActivityFull:
                        return "activity_full"

            with ThreadPoolExecutor(max_workers=clients) as pool:
                futures = [pool.submit(one, i) for i in range(clients)]
                barrier.wait(timeout=60)
                t = time.perf_counter()
                got = Counter(f.result() for f in futures)
                settle.append(time.perf_counter() - t)
            with Session(engine) as s:
                rows = (
                    s.execute(
                        select(Signup.status)
                        .where(Signup.activity_id == activity_id)
                        .order_by(Signup.queued_at, Signup.id)
                    )
                    .scalars()
                    .all()
                )
                count = s.get(Activity, activity_id).confirmed_count  # type: ignore[union-attr]
            waiting = min(clients - places_, act.WAITLIST_PER_PLACE * places_)
            refused = clients - places_ - waiting
            right = (
                got == {CONFIRMED: places_, WAITLISTED: waiting, **({"activity_full": refused} if refused else {})}
                and list(rows) == [CONFIRMED] * places_ + [WAITLISTED] * waiting
                and count == places_
            )
            assert right, (got, count)
    finally:
        engine.dispose()
    med = statistics.median(settle)
    ctx.report.add(SIGNUP, f"time to settle, median of {rounds} rounds (20 connections)", target.name, ms(med))
    ctx.report.add(
        SIGNUP,
        "outcome every round",
        target.name,
        f"{places_} confirmed, {waiting} waiting in order, {refused} refused (activity_full)",
    )
    ctx.report.goal("200 sign-ups for 50 places settle correctly", target.name, med, True)


SECTIONS = [
    Section(
        "review",
        REVIEW,
        bench_review,
        """
One activity with 10,000 attendances, each checked out and priced, its points held as a pending
journal (rows inserted in bulk, journals through `points.hold_hours` as check-out makes them). The
measure is one call of `activities.services.review(Review(approve="all"))` and its commit: the rows
in one query, statuses, one notice per volunteer in one insert, one audit event, and every held
journal posted through `points.approve_hours_many`, whose time is shown on its own line (the ledger's
batch resolution, `Ledger.post_pending_many`, in chunks of 2,000: a handful of statements per chunk,
where one `Ledger.post_pending` per attendance took a dozen each). The ledger is verified afterwards.""",
    ),
    Section(
        "signup",
        SIGNUP,
        bench_signup,
        """
PostgreSQL only. 200 members of a fresh district, each in its own thread with its own session (20
connections, as behind a server's pool), are released together to call
`activities.services.sign_up` for one activity of 50 places. Time to settle: from the release until
the last has committed or been refused. Correct means 50 confirmed, 150 on the waiting list (three per place) in
the order the sign-ups were decided, none refused, and the activity's confirmed count 50.""",
    ),
]
