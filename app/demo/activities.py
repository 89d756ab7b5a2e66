"""Life in the demo district: activities over the past three months and the next month, with sign-ups,
attendances, reviewed hours and the points they earned, a queue waiting for the demo organiser, a
points rule and the notices all of that sends.

Everything goes through the activities and points services (never a ledger row by hand), so the
ledger, the audit log and the notices are the real ones. Times in the past are recorded as the
services allow: check-ins and check-outs at their own `at`, a few by hand or from a paper sheet, the
missed check-outs closed by the same job that runs every few minutes. Choices come from a seeded
random (the same demo every time); dates are relative to the day it is loaded.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.activities import errors
from app.activities import services as activities
from app.activities.labels import ADJUSTED, APPROVED, AUTO, CHECKIN, CONFIRMED, POSTER, REJECTED, SCAN
from app.activities.models import Activity, Attendance
from app.auth.models import User
from app.db import utcnow
from app.people.models import Member
from app.places.models import OrgUnit
from app.points import services as points
from app.points.labels import MISSED_NOTHING
from app.times import to_beijing, to_utc

PAST_DAYS = 90
FUTURE_DAYS = 30
QUEUE_COMMUNITY = "凤凰社区"  # the demo organiser's community: yesterday's activity there waits for review
PRESENCE = 60  # % of the time needed to earn (the district's rule below)

# (title, category, place — "{c}" is the community's short name, "{s}" the street's —, Beijing start
# time, minutes, capacity range)
KINDS: tuple[tuple[str, str, str, time, int, tuple[int, int]], ...] = (
    ("垃圾分类宣传", "environment", "{c}党群服务中心门前广场", time(9, 0), 120, (10, 30)),
    ("垃圾分类桶边督导", "environment", "{c}各小区垃圾投放点", time(7, 0), 120, (10, 40)),
    ("河道清洁", "environment", "茅洲河{c}段", time(8, 30), 180, (20, 80)),
    ("植树护绿", "environment", "{c}社区公园", time(9, 0), 150, (20, 60)),
    ("敬老院探访", "elderly", "{s}敬老院", time(14, 30), 120, (10, 25)),
    ("关爱独居老人上门服务", "elderly", "{c}辖区独居老人家中", time(9, 30), 150, (10, 20)),
    ("社区义诊", "elderly", "{c}社区健康服务中心", time(8, 30), 210, (10, 30)),
    ("四点半课堂辅导", "culture", "{c}党群服务中心二楼活动室", time(16, 30), 90, (10, 20)),
    ("亲子阅读分享会", "culture", "{c}社区书屋", time(15, 0), 120, (10, 30)),
    ("平安巡逻", "safety", "{c}辖区主要街道", time(19, 30), 120, (10, 30)),
    ("消防安全隐患排查", "safety", "{c}城中村出租屋", time(14, 0), 150, (10, 25)),
    ("反诈宣传进小区", "civic", "{c}各小区出入口", time(9, 0), 120, (10, 40)),
    ("文明交通劝导", "civic", "光明大道{c}路口", time(7, 30), 90, (10, 40)),
    ("创文环境整治", "civic", "{c}背街小巷", time(8, 30), 150, (20, 80)),
    ("义务理发", "other", "{c}党群服务中心", time(9, 0), 180, (10, 20)),
)
HAND_REASONS = ("手机没电，现场由组织者登记", "老人没有智能手机，组织者代为登记", "扫码时网络不好")
PAPER_REASON = "纸质签到表补录"
MISSED_CONFIRM = "核对现场照片，服务到活动结束"
REJECT_REASON = "签到后未参加服务，经现场负责人核实"


@dataclass
class Life:
    """What was made, for the printed summary and the tests."""

    past: int = 0
    upcoming: int = 0
    attendances: int = 0
    points_approved: int = 0
    queue: int = 0
    queue_title: str = ""
    volunteer_available: int = 0
    volunteer_pending: int = 0
    notes: list[str] = field(default_factory=list)


def _short(name: str) -> str:
    return name.removesuffix("社区").removesuffix("街道")


def _user_id(session: Session, member: Member) -> int:
    uid = session.scalar(select(User.id).where(User.member_id == member.id))
    assert uid is not None  # the demo sign-ins all have a user
    return uid


def _at(day: date, start: time, minutes: int = 0) -> datetime:
    return to_utc(datetime.combine(day, start) + timedelta(minutes=minutes))


def load_life(
    session: Session,
    tenant_id: int,
    members: list[Member],
    sign_ins: dict[str, Member],
    seed: int,
) -> Life:
    """Activities, attendances, points and notices for the freshly loaded district (in the caller's
    transaction). `sign_ins`: the demo sign-ins' members by label."""
    rng = random.Random(seed + 8)
    now = utcnow()
    today = to_beijing(now).date()
    life = Life()
    organiser, admin, volunteer = sign_ins["organiser"], sign_ins["district_admin"], sign_ins["volunteer"]
    organiser_user, admin_user = _user_id(session, organiser), _user_id(session, admin)
    staff = {m.id for label, m in sign_ins.items() if label != "volunteer"}

    # The district's rule (from now on; what was served before was priced by the built-in default,
    # the same values) and a dearer one for the evening patrols.
    points.change_rule(
        session,
        tenant_id,
        category="",
        points_per_hour=10,
        rounding_minutes=30,
        presence_percent=PRESENCE,
        missed_checkout=MISSED_NOTHING,
        grace_minutes=60,
        effective_from=None,
        reason="区志愿服务积分办法：每小时10分，按半小时计，在场不足60%不计分",
        actor_user_id=admin_user,
        now=now,
    )
    points.change_rule(
        session,
        tenant_id,
        category="safety",
        points_per_hour=12,
        rounding_minutes=30,
        presence_percent=PRESENCE,
        missed_checkout=MISSED_NOTHING,
        grace_minutes=60,
        effective_from=None,
        reason="夜间巡逻、隐患排查每小时12分",
        actor_user_id=admin_user,
        now=now,
    )

    communities = list(
        session.scalars(
            select(OrgUnit).where(OrgUnit.tenant_id == tenant_id, OrgUnit.kind == "community").order_by(OrgUnit.id)
        )
    )
    streets = {
        u.id: u.name
        for u in session.scalars(select(OrgUnit).where(OrgUnit.tenant_id == tenant_id, OrgUnit.kind == "street"))
    }
    residents: dict[int, list[Member]] = {c.id: [] for c in communities}
    grid_paths = dict(session.execute(select(OrgUnit.id, OrgUnit.path).where(OrgUnit.tenant_id == tenant_id)).all())
    by_path = {c.path: c.id for c in communities}
    for m in members:
        if m.status != "active" or not m.is_volunteer or m.id in staff or m.id == volunteer.id:
            continue
        path = grid_paths[m.grid_id]
        community_path = "/" + "/".join(path.strip("/").split("/")[:2]) + "/"
        residents[by_path[community_path]].append(m)
    phoenix = next(c for c in communities if c.name == QUEUE_COMMUNITY)
    home_path = grid_paths[volunteer.grid_id]
    home = by_path["/" + "/".join(home_path.strip("/").split("/")[:2]) + "/"]

    # The calendar: about one activity every other day per street, more at weekends; yesterday's in
    # the organiser's community stays waiting for review, with everything else before it reviewed.
    plan: list[tuple[date, OrgUnit, int]] = []
    for offset in range(-PAST_DAYS, FUTURE_DAYS + 1):
        day = today + timedelta(days=offset)
        if offset == 0:
            continue  # today's depend on the hour of loading: none
        n = rng.choice((0, 1, 1, 1, 2)) if day.weekday() >= 5 else rng.choice((0, 0, 1))
        for _ in range(n):
            plan.append((day, rng.choice(communities), rng.randrange(len(KINDS))))
    plan.append((today - timedelta(days=1), phoenix, 2))  # 河道清洁 in 凤凰社区, yesterday
    for k in (0, 4, 9):  # the volunteer's own community, in the past: points earned
        plan.append((today - timedelta(days=rng.randint(10, 80)), next(c for c in communities if c.id == home), k))
    plan.sort(key=lambda p: (p[0], p[1].id, p[2]))

    volunteer_joins: list[Activity] = []
    queue_activity: Activity | None = None
    for day, community, k in plan:
        title, category, place, start, minutes, (low, high) = KINDS[k]
        starts = _at(day, start)
        ends = starts + timedelta(minutes=minutes)
        capacity = rng.randint(low, high)
        yesterday_queue = community.id == phoenix.id and day == today - timedelta(days=1)
        joins_volunteer = yesterday_queue or (community.id == home and day < today)
        data = activities.ActivityData(
            title=title,
            category=category,
            host_unit_id=community.id,
            place=place.format(c=_short(community.name), s=streets[community.parent_id or 0]),
            starts_at=starts,
            ends_at=ends,
            capacity=capacity,
            description=f"{community.name}新时代文明实践志愿服务活动，请穿志愿者马甲，提前十分钟到场签到。",
            eligibility="community" if rng.random() < 0.2 and not joins_volunteer else "district",
            eligible_unit_id=community.id,
        )
        announced = min(now, starts - timedelta(days=rng.randint(3, 10)))
        host_user = organiser_user if community.id == phoenix.id else admin_user
        activity = activities.create_activity(session, tenant_id, data, actor_user_id=host_user)
        activities.publish_activity(session, activity, actor_user_id=host_user, now=announced)

        # Sign-ups: neighbours first, some from elsewhere; popular ones fill up and queue.
        local = residents[community.id]
        pool = rng.sample(local, min(len(local), capacity + 5))
        if data.eligibility == "district":
            others = [m for m in rng.sample(members, 40) if m.status == "active" and m.id not in staff]
            pool += others[: rng.randint(0, 8)]
        wanted = pool[: rng.randint(capacity // 2, capacity + min(5, len(pool)))]
        if joins_volunteer or (day > today and len(volunteer_joins) < 6 and rng.random() < 0.3):
            wanted.insert(0, volunteer)
            volunteer_joins.append(activity)
        confirmed: list[Member] = []
        for i, m in enumerate(wanted):
            at = min(now, announced + timedelta(hours=1 + i * rng.uniform(0.5, 3)))
            if at >= ends:
                break
            try:
                signup = activities.sign_up(session, activity.id, m, now=at)
            except (errors.NotEligible, errors.ActivityFull, errors.SignupClosed):
                continue  # not eligible (lives elsewhere), or full with its waiting list
            if signup.status == CONFIRMED:
                confirmed.append(m)
        if day > today:
            life.upcoming += 1
            if len(confirmed) > 3 and rng.random() < 0.3:  # someone drops out; the first waiting moves up
                activities.cancel_signup(session, activity.id, confirmed[-1])
            continue

        life.past += 1
        _attend(
            session, rng, activity, confirmed, volunteer, organiser_user if community.id == phoenix.id else admin_user
        )
        if yesterday_queue:
            queue_activity = activity

    # The job that closes missed check-outs (runs every few minutes in production).
    activities.close_missed_checkouts(session, now=now, limit=10_000)

    # Reviews: everything ended before yesterday, the organiser's community by the organiser.
    for activity in session.scalars(
        select(Activity).where(Activity.tenant_id == tenant_id, Activity.ends_at < now).order_by(Activity.starts_at)
    ):
        if to_beijing(activity.starts_at).date() >= today - timedelta(days=1):
            continue
        _review(session, rng, activity, organiser if activity.host_unit_id == phoenix.id else admin, life)

    assert queue_activity is not None
    life.queue = len(activities.review_queue(session, queue_activity))
    life.queue_title = f"{queue_activity.title}（{to_beijing(queue_activity.starts_at):%m-%d}）"
    summary = points.member_points(session, tenant_id, volunteer.id)
    life.volunteer_available, life.volunteer_pending = summary.available, summary.pending
    session.flush()
    return life


def _attend(
    session: Session, rng: random.Random, activity: Activity, confirmed: list[Member], volunteer: Member, actor: int
) -> None:
    """Who came, when, and how it was recorded."""
    starts, ends = activity.starts_at, activity.ends_at
    length = (ends - starts).total_seconds() / 60
    paper_ok = activity.ends_at > utcnow() - timedelta(days=activities.PAPER_ENTRY_DAYS)
    for m in confirmed:
        r = 0.2 if m.id == volunteer.id else rng.random()
        if r < 0.1:
            continue  # did not come
        source = POSTER if rng.random() < 0.15 else SCAN
        poster = source == POSTER
        if r < 0.25:  # early
            arrive = starts - timedelta(minutes=rng.randint(10, 40))
        elif r < 0.32:  # late
            arrive = starts + timedelta(minutes=rng.randint(15, 40))
        else:
            arrive = starts + timedelta(minutes=rng.randint(-8, 6))
        if r > 0.94:  # forgot to check out: the job closes it
            leave = None
        elif 0.86 < r <= 0.94:  # left early, below the presence threshold
            leave = starts + timedelta(minutes=int(length * rng.uniform(0.15, 0.5)))
        else:
            leave = ends + timedelta(minutes=rng.randint(-10, 15))
        if leave is not None and paper_ok and rng.random() < 0.05:
            activities.record_paper(
                session,
                activity,
                m,
                checked_in_at=max(arrive, starts),
                checked_out_at=leave,
                reason=PAPER_REASON,
                actor_user_id=actor,
                now=ends + timedelta(hours=1),
            )
            continue
        if rng.random() < 0.04:
            activities.record_by_hand(
                session,
                activity,
                m,
                direction=CHECKIN,
                at=arrive,
                reason=rng.choice(HAND_REASONS),
                actor_user_id=actor,
            )
        else:
            activities.check_in(session, activity, m, arrive, source, poster=poster)
        if leave is not None:
            activities.check_out(session, activity, m, max(leave, arrive), source, poster=poster)


def _review(session: Session, rng: random.Random, activity: Activity, reviewer: Member, life: Life) -> None:
    queue = activities.review_queue(session, activity)
    if not queue:
        return
    adjust = [
        (
            a.id,
            int((activity.ends_at - max(a.checked_in_at, activity.starts_at)).total_seconds() // 1800) * 30,
            MISSED_CONFIRM,
        )
        for a in queue
        if a.checkout_source == AUTO and rng.random() < 0.7
    ]
    adjusted = {a[0] for a in adjust}
    reject = [(a.id, REJECT_REASON) for a in queue if a.id not in adjusted and rng.random() < 0.01]
    outcome = activities.review(
        session,
        activity,
        activities.Review(approve="all", adjust=[(i, max(0, min(m, 1440)), r) for i, m, r in adjust], reject=reject),
        actor_user_id=_user_id(session, reviewer),
        actor_member_id=reviewer.id,
        now=activity.ends_at + timedelta(hours=rng.randint(2, 30)),
    )
    life.attendances += outcome.approved + outcome.adjusted + outcome.rejected
    life.points_approved += outcome.points


def summary_lines(life: Life, organiser: Member, volunteer: Member) -> list[str]:
    return [
        f"Activities: {life.past} in the past three months ({life.attendances} attendances reviewed, "
        f"{life.points_approved} points approved), {life.upcoming} in the next month.",
        f"  organiser {organiser.name} has {life.queue} attendances waiting for review: {life.queue_title}",
        f"  volunteer {volunteer.name} has {life.volunteer_available} points available "
        f"and {life.volunteer_pending} pending",
    ]


def read_back(session: Session, tenant_id: int, organiser: Member | None, volunteer: Member | None) -> list[str]:
    """The summary of a district loaded before, read from the database (nothing is written)."""
    if organiser is None or volunteer is None:
        return []
    now = utcnow()
    life = Life()
    rows = session.execute(select(Activity.starts_at, Activity.ends_at).where(Activity.tenant_id == tenant_id)).all()
    life.past = sum(1 for _, ends in rows if ends < now)
    life.upcoming = sum(1 for starts, _ in rows if starts > now)
    life.attendances = (
        session.scalar(
            select(func.count()).where(
                Attendance.tenant_id == tenant_id, Attendance.status.in_((APPROVED, ADJUSTED, REJECTED))
            )
        )
        or 0
    )
    life.points_approved = int(
        session.scalar(
            select(func.coalesce(func.sum(Attendance.points), 0)).where(
                Attendance.tenant_id == tenant_id, Attendance.status.in_((APPROVED, ADJUSTED))
            )
        )
        or 0
    )
    community = session.scalar(select(OrgUnit).where(OrgUnit.tenant_id == tenant_id, OrgUnit.name == QUEUE_COMMUNITY))
    if community is not None:
        life.queue = activities.waiting_review_count(session, tenant_id, OrgUnit.path.startswith(community.path))
        life.queue_title = "（" + QUEUE_COMMUNITY + "）"
    summary = points.member_points(session, tenant_id, volunteer.id)
    life.volunteer_available, life.volunteer_pending = summary.available, summary.pending
    return summary_lines(life, organiser, volunteer)
