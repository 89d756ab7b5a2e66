"""Party life in the demo district (issue 9): check-in sites, the district's check-in rule, six months of
party members' check-ins, household visits (包格联户) confirmed or rejected by the grid admins, two
awards, an expiry setting with points expiring soon, and one issued certificate.

Everything goes through the services (check-ins at their own past times through the check-in service
with a site poster's code, visits through log_visit/decide_visit, awards through propose), so the
ledger, the caps, the audit log and the notices are the real ones. Choices come from a seeded random.

What the services cannot back-date, the demo does not fake: the check-in rule takes effect at the
load (past check-ins were priced by the built-in default rule, as they would have been), and points are
earned in the ledger when they are posted — at the load — so the expiry setting is told as it is: a
one-month setting was in force while the party points and the first award were posted, then the
district changed to "end of the year after 12 months" (both versions are in its history).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from flask import current_app, has_app_context
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from app.auth.models import User
from app.certificates import services as certificates
from app.certificates.models import Certificate
from app.checkins import errors as checkin_errors
from app.checkins import services as checkins
from app.checkins.labels import CONFIRMED, REJECTED, SUBMITTED
from app.checkins.models import CheckinSite, HouseholdVisit, PartyCheckin
from app.db import utcnow
from app.people.models import GridAssignment, Member
from app.places.models import OrgUnit
from app.points import awards, lots
from app.points.checkin_rules import change_checkin_rule
from app.points.expiry import MONTHS, YEAR_END, PointsLot
from app.points.models import Award
from app.times import to_beijing, to_utc
from app.tokens import make_token

DAYS = 180  # six months of check-ins
AREA_SITE_SHARE = 0.4  # of the 片区网格 get a site of their own (every community has one)
VISIT_NOTES = (
    "走访独居老人，了解生活需求",
    "宣传反诈知识，发放宣传册",
    "了解困难家庭近况，反馈社区",
    "排查出租屋消防隐患",
    "收集居民对小区环境的意见",
    "",
)
REJECT_VISIT = "走访记录与网格台账不符，请补充走访对象后重新提交"
SMALL_AWARD = "社区“邻里守望”活动表现突出"
BIG_AWARD = "2026年度优秀包格联户党员"


@dataclass
class Party:
    """What was made, for the printed summary and the tests."""

    sites: int = 0
    checkins: int = 0
    checkin_members: int = 0
    absent: int = 0
    absent_example: str = ""
    visits: int = 0
    confirmed: int = 0
    rejected: int = 0
    submitted: int = 0
    award_posted: str = ""
    award_pending: str = ""
    expiring_members: int = 0
    volunteer_expiring: list[tuple[int, date]] = field(default_factory=list)
    certificate: str = ""
    second_admin: Member | None = None


def _user_id(session: Session, member: Member) -> int:
    uid = session.scalar(select(User.id).where(User.member_id == member.id))
    assert uid is not None  # the demo sign-ins all have a user
    return uid


def _at(day: date, rng: random.Random) -> datetime:
    return to_utc(datetime.combine(day, time(8, 0)) + timedelta(minutes=rng.randrange(11 * 60)))


def _verify_url(code: str) -> str:
    base = current_app.config.get("BASE_URL", "") if has_app_context() else ""
    return f"{(base or 'http://127.0.0.1:5000').rstrip('/')}/verify/{code}"


def load_party(
    session: Session, tenant_id: int, members: list[Member], sign_ins: dict[str, Member], seed: int
) -> Party:
    """Party life for the freshly loaded district (in the caller's transaction)."""
    rng = random.Random(seed + 9)
    now = utcnow()
    today = to_beijing(now).date()
    party = Party()
    admin, volunteer = sign_ins["district_admin"], sign_ins["volunteer"]
    admin_user = _user_id(session, admin)
    second = sign_ins.get("district_admin (second)")
    party.second_admin = second

    # Sites: one per community (its 党群服务中心), and a share of the 片区网格.
    units = list(session.scalars(select(OrgUnit).where(OrgUnit.tenant_id == tenant_id).order_by(OrgUnit.id)))
    sites_of: dict[int, list[CheckinSite]] = {}  # community id -> sites at it or under it
    community_of_path = {u.path: u.id for u in units if u.kind == "community"}
    for u in units:
        if u.kind == "community":
            site = checkins.create_site(session, tenant_id, admin_user, u, f"{u.name}党群服务中心")
        elif u.grid_type == "area" and rng.random() < AREA_SITE_SHARE:
            site = checkins.create_site(session, tenant_id, admin_user, u, f"{u.name}党群服务站")
        else:
            continue
        community = community_of_path["/" + "/".join(u.path.strip("/").split("/")[:2]) + "/"]
        sites_of.setdefault(community, []).append(site)
        party.sites += 1
    posters = {s.id: make_token("site_poster", tenant_id, s.id) for ss in sites_of.values() for s in ss}

    # The district's rule, from now on (what was checked in before was priced by the default rule).
    change_checkin_rule(
        session,
        tenant_id,
        admin_user,
        points_per_checkin=2,
        other_site_points=1,
        monthly_cap=10,
        reason="党员到社区报到打卡：本社区每次2分，其他社区1分，每月最多10分",
        now=now,
    )

    # The expiry setting in force while the party points are posted: one month (see the docstring).
    lots.change_expiry(
        session,
        tenant_id,
        mode=MONTHS,
        months=1,
        reason="试行：积分自获得之日起一个月内有效",
        actor_user_id=admin_user,
        now=now,
    )

    # Check-ins: a fifth of the party members come every month, nearly half now and then, the rest never
    # (each check-in goes through the service: ~1,600 of them keep the load to seconds).
    party_members = [m for m in members if m.is_party_member and m.status == "active" and m.checkin_community_id]
    for m in party_members:
        own = sites_of.get(m.checkin_community_id or 0, [])
        if not own:
            continue
        r = rng.random()
        if r < 0.2:
            days = [today - timedelta(days=30 * k + rng.randrange(1, 30)) for k in range(DAYS // 30)]
        elif r < 0.65:
            days = [today - timedelta(days=rng.randint(1, DAYS - 1)) for _ in range(rng.randint(1, 2))]
        else:
            days = []
        if not days:
            party.absent += 1
            party.absent_example = party.absent_example or m.name
            continue
        party.checkin_members += 1
        for day in sorted(set(days)):
            site = own[0] if rng.random() < 0.7 else rng.choice(own)
            try:
                checkins.check_in(session, m, posters[site.id], now=_at(day, rng))
            except checkin_errors.AlreadyCheckedInToday:
                continue
            party.checkins += 1

    # Household visits by party members responsible for a grid now, in the two grid admins' scopes;
    # the last fortnight's still wait for the grid admin.
    community = session.scalar(select(OrgUnit).where(OrgUnit.tenant_id == tenant_id, OrgUnit.name == "塘家社区"))
    street = session.scalar(select(OrgUnit).where(OrgUnit.tenant_id == tenant_id, OrgUnit.name == "光明街道"))
    assert community is not None and street is not None
    deciders = [
        (community.path, _user_id(session, sign_ins["grid_admin (community)"])),
        (street.path, _user_id(session, sign_ins["grid_admin (street)"])),
    ]
    by_id = {m.id: m for m in members}
    rows = session.execute(
        select(GridAssignment.member_id, GridAssignment.org_unit_id, GridAssignment.effective_from, OrgUnit.path)
        .join(OrgUnit, OrgUnit.id == GridAssignment.org_unit_id)
        .where(
            GridAssignment.tenant_id == tenant_id,
            GridAssignment.role == "party_member",
            GridAssignment.effective_to.is_(None),
            or_(OrgUnit.path.startswith(street.path), OrgUnit.path.startswith(community.path)),
        )
        .order_by(GridAssignment.id)
    ).all()
    for member_id, grid_id, since, path in rows:
        member = by_id[member_id]
        if member.status != "active":
            continue
        decider = next(uid for p, uid in deciders if path.startswith(p))
        first = max(since, today - timedelta(days=DAYS))
        for _ in range(rng.randint(1, 4)):
            day = first + timedelta(days=rng.randrange((today - first).days + 1))
            visit = checkins.log_visit(
                session, member, grid_id, day, rng.randint(1, 8), rng.choice(VISIT_NOTES), today=today
            )
            party.visits += 1
            if day >= today - timedelta(days=14):
                party.submitted += 1
            elif rng.random() < 0.1:
                checkins.decide_visit(session, visit, decider, confirm=False, reason=REJECT_VISIT)
                party.rejected += 1
            else:
                checkins.decide_visit(session, visit, decider, confirm=True)
                party.confirmed += 1

    # Awards: a small one posts at once (the volunteer among them); a big one waits for a second admin.
    # Neither district administrator is among those awarded (nobody awards or approves points to themselves).
    admins = {admin.id} | ({second.id} if second is not None else set())
    visitors = sorted({r.member_id for r in rows} - admins)
    small = [volunteer.id] + [i for i in rng.sample(visitors, min(3, len(visitors))) if i != volunteer.id]
    award = awards.propose(
        session,
        tenant_id,
        [awards.AwardItem(i, 10) for i in small],
        category="civic",
        reason=SMALL_AWARD,
        actor_user_id=admin_user,
        now=now,
    )
    party.award_posted = f"{award.total} points to {award.member_count} members at once ({award.reason})"
    big = rng.sample(visitors, min(20, len(visitors)))
    proposer = _user_id(session, second) if second is not None else admin_user
    award = awards.propose(
        session,
        tenant_id,
        [awards.AwardItem(i, 10) for i in big],
        category="civic",
        reason=BIG_AWARD,
        actor_user_id=proposer,
        now=now,
    )
    party.award_pending = (
        f"{award.total} points to {award.member_count} members ({award.reason}), above the threshold of "
        f"{award.threshold}: proposed by the second district admin, waiting for the district_admin sign-in "
        f"to approve or reject it"
        if second is not None
        else f"{award.threshold}: waiting for a second district admin"
    )

    # From now on: points expire at the end of the year after 12 months.
    lots.change_expiry(
        session,
        tenant_id,
        mode=YEAR_END,
        months=12,
        reason="积分自获得之日起满12个月后的年底到期",
        actor_user_id=admin_user,
        now=max(utcnow(), now + timedelta(seconds=1)),
    )
    # The lots cache, as the expiry job's first step builds it (nothing is due yet).
    after = ""
    while True:
        nxt = lots.refresh_page(session, tenant_id, after, 1000)
        if nxt is None:
            break
        after = nxt

    # One issued certificate for the volunteer's last three months of service.
    home = session.get(OrgUnit, volunteer.grid_id)
    assert home is not None
    issuer = session.scalar(
        select(OrgUnit).where(OrgUnit.path == "/" + "/".join(home.path.strip("/").split("/")[:2]) + "/")
    )
    cert, _pdf = certificates.issue_certificate(
        session,
        volunteer,
        period_from=today - timedelta(days=90),
        period_to=today - timedelta(days=1),
        issuer_unit=issuer,
        actor_user_id=admin_user,
        verify_url_for=_verify_url,
        font_path=current_app.config.get("CERTIFICATE_FONT") if has_app_context() else None,
        now=now,
    )
    party.certificate = cert.code
    _expiring(session, tenant_id, volunteer, party, now)
    session.flush()
    return party


def _expiring(session: Session, tenant_id: int, volunteer: Member, party: Party, now: datetime) -> None:
    horizon = lots.today_in_beijing(now) + timedelta(days=30)
    party.expiring_members = (
        session.scalar(
            select(func.count(func.distinct(PointsLot.member_id))).where(
                PointsLot.tenant_id == tenant_id, PointsLot.remaining > 0, PointsLot.expires_on <= horizon
            )
        )
        or 0
    )
    party.volunteer_expiring = lots.expiring_soon(session, tenant_id, volunteer.id, now)


def summary_lines(party: Party, volunteer: Member) -> list[str]:
    soon = "; ".join(f"{p} on {d:%Y-%m-%d}" for p, d in party.volunteer_expiring) or "none"
    return [
        f"Party: {party.sites} check-in sites; {party.checkins} check-ins in six months by {party.checkin_members} "
        f"party members; {party.absent} party members not seen for 6 months (e.g. {party.absent_example})",
        f"  visits: {party.visits} logged by party members ({party.confirmed} confirmed, {party.rejected} rejected, "
        f"{party.submitted} waiting for the grid admins)",
        f"  awards: {party.award_posted}; {party.award_pending}",
        f"  expiry: one month while the party points and the first award were posted, then the end of the year "
        f"after 12 months; expiring within 30 days: {party.expiring_members} members' points; "
        f"volunteer {volunteer.name}: {soon}",
        f"  certificate issued for volunteer {volunteer.name}: /verify/{party.certificate}",
    ]


def read_back(session: Session, tenant_id: int, volunteer: Member | None) -> list[str]:
    """The party summary of a district loaded before, read from the database (nothing is written)."""
    if volunteer is None:
        return []
    now = utcnow()
    party = Party()
    party.sites = session.scalar(select(func.count()).where(CheckinSite.tenant_id == tenant_id)) or 0
    party.checkins, party.checkin_members = session.execute(
        select(func.count(), func.count(func.distinct(PartyCheckin.member_id))).where(
            PartyCheckin.tenant_id == tenant_id
        )
    ).one()
    since = to_beijing(now).date() - timedelta(days=DAYS)
    seen = select(PartyCheckin.member_id).where(PartyCheckin.tenant_id == tenant_id, PartyCheckin.day >= since)
    absent = session.scalars(
        select(Member.name)
        .where(
            Member.tenant_id == tenant_id,
            Member.is_party_member.is_(True),
            Member.status == "active",
            Member.id.not_in(seen),
        )
        .order_by(Member.id)
    ).all()
    party.absent, party.absent_example = len(absent), (absent[0] if absent else "")
    counts = dict(
        session.execute(
            select(HouseholdVisit.status, func.count())
            .where(HouseholdVisit.tenant_id == tenant_id)
            .group_by(HouseholdVisit.status)
        ).all()
    )
    party.confirmed, party.rejected = counts.get(CONFIRMED, 0), counts.get(REJECTED, 0)
    party.submitted = counts.get(SUBMITTED, 0)
    party.visits = sum(counts.values())
    for a in session.scalars(select(Award).where(Award.tenant_id == tenant_id).order_by(Award.id)):
        text = f"{a.total} points to {a.member_count} members ({a.reason})"
        if a.status == "pending":
            party.award_pending = f"{text}: waiting for a second district admin"
        else:
            party.award_posted = f"{text}, {a.status}"
    code = session.scalar(
        select(Certificate.code).where(Certificate.member_id == volunteer.id).order_by(Certificate.id).limit(1)
    )
    party.certificate = code or ""
    _expiring(session, tenant_id, volunteer, party, now)
    return summary_lines(party, volunteer)
