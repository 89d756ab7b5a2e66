"""The reports' numbers, each a grouped query or two (never one query per member or grid).

- party_checkins: check-ins at the sites in a unit's subtree, per Beijing month, the last `months`.
- absent_query / absent_page: active party members who reside in the subtree or whose 报到 community is
  in it, and whose last check-in (at any site) is before `cutoff(today, months)` or who never checked in.
- grid_coverage: the area grids in the subtree, each with its current responsible party members (a
  GridAssignment with role party_member current today) and the households covered (confirmed visits'
  households, visit date in the period).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import Integer, and_, case, cast, extract, func, literal, or_, select
from sqlalchemy.orm import Session

from app.checkins.labels import CONFIRMED
from app.checkins.models import CheckinSite, HouseholdVisit, PartyCheckin
from app.db import utcnow
from app.people.labels import ACTIVE
from app.people.models import GridAssignment, Member
from app.places.models import OrgUnit
from app.places.services import subtree_ids
from app.times import to_beijing

REPORT_KINDS = ("street", "community", "grid")
MAX_MONTHS = 24
PARTY_MEMBER_ROLE = "party_member"


def beijing_today() -> date:
    return to_beijing(utcnow()).date()


def months_back(day: date, months: int) -> date:
    """The same day `months` calendar months before `day` (the month's last day when shorter)."""
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    month += 1
    for d in (day.day, 30, 29, 28):
        try:
            return date(year, month, d)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def month_keys(today: date, months: int = 12) -> list[tuple[int, int]]:
    """The last `months` (year, month) pairs, oldest first, ending with today's month."""
    index = today.year * 12 + today.month - 1
    return [divmod(i, 12) for i in range(index - months + 1, index + 1)]


# --- 1. party members' check-ins by month ----------------------------------------------------------------


@dataclass(frozen=True)
class MonthRow:
    year: int
    month: int
    checkins: int
    members: int

    @property
    def label(self) -> str:
        return f"{self.year}-{self.month:02d}"


def party_checkins(session: Session, unit: OrgUnit, today: date | None = None, months: int = 12) -> list[MonthRow]:
    """Check-ins at the sites in `unit`'s subtree per month (and how many different members), oldest
    month first, every month present (zeros included). One grouped query."""
    today = today or beijing_today()
    keys = month_keys(today, months)
    first = date(keys[0][0], keys[0][1] + 1, 1)
    ym = cast(extract("year", PartyCheckin.day), Integer) * 100 + cast(extract("month", PartyCheckin.day), Integer)
    rows = session.execute(
        select(ym, func.count(PartyCheckin.id), func.count(func.distinct(PartyCheckin.member_id)))
        .join(CheckinSite, CheckinSite.id == PartyCheckin.site_id)
        .where(
            PartyCheckin.tenant_id == unit.tenant_id,
            CheckinSite.org_unit_id.in_(subtree_ids(session, unit)),
            PartyCheckin.day >= first,
            PartyCheckin.day <= today,
        )
        .group_by(ym)
    ).all()
    found = {int(k): (int(n), int(m)) for k, n, m in rows}
    out = []
    for y, m0 in keys:
        n, members = found.get(y * 100 + m0 + 1, (0, 0))
        out.append(MonthRow(y, m0 + 1, n, members))
    return out


# --- 2. party members who have not checked in --------------------------------------------------------------

RESIDES, CHECKIN_COMMUNITY, BOTH = "resides", "checkin_community", "both"


@dataclass(frozen=True)
class AbsentRow:
    member_id: int
    name: str
    grid_id: int
    party_org: str | None
    last_checkin: date | None
    why: str  # RESIDES, CHECKIN_COMMUNITY or BOTH


def cutoff(today: date, months: int) -> date:
    """Members whose last check-in is before this day have not checked in for `months` months."""
    return months_back(today, months)


def absent_query(session: Session, unit: OrgUnit, months: int, today: date | None = None):
    """The SELECT of (member id, name, grid id, party org, last check-in day, resides, 报到 here) of the
    absent party members, those never checked in first, then the longest absent, then by name."""
    today = today or beijing_today()
    since = cutoff(today, months)
    units = subtree_ids(session, unit)
    # Correlated per member (an index range scan of ix_party_checkins_member each), whatever the
    # planner's statistics: a grouped subquery over the whole district's check-ins can be joined
    # by a nested loop when they are stale.
    last_day = (
        select(func.max(PartyCheckin.day))
        .where(PartyCheckin.member_id == Member.id)
        .correlate(Member)
        .scalar_subquery()
        .label("last_day")
    )
    candidates = (
        select(Member.id, Member.name, Member.grid_id, Member.party_org, last_day, Member.checkin_community_id)
        .where(
            Member.tenant_id == unit.tenant_id,
            Member.is_party_member.is_(True),
            Member.status == ACTIVE,
            or_(Member.grid_id.in_(units), Member.checkin_community_id.in_(units)),
        )
        .subquery()
    )
    c = candidates.c
    resides = c.grid_id.in_(units)
    reports_here = c.checkin_community_id.in_(units)
    return (
        select(
            c.id,
            c.name,
            c.grid_id,
            c.party_org,
            c.last_day,
            case((resides, literal(True)), else_=literal(False)).label("resides"),
            case((reports_here, literal(True)), else_=literal(False)).label("reports_here"),
        )
        .where(or_(c.last_day.is_(None), c.last_day < since))
        .order_by(c.last_day.is_(None).desc(), c.last_day, c.name, c.id)
    )


def _absent_row(r) -> AbsentRow:
    why = BOTH if (r.resides and r.reports_here) else (RESIDES if r.resides else CHECKIN_COMMUNITY)
    return AbsentRow(r.id, r.name, r.grid_id, r.party_org, r.last_day, why)


@dataclass(frozen=True)
class AbsentPage:
    items: list[AbsentRow]
    number: int
    size: int
    has_next: bool
    total: int


def absent_page(
    session: Session, unit: OrgUnit, months: int, number: int = 1, size: int = 50, today: date | None = None
) -> AbsentPage:
    stmt = absent_query(session, unit, months, today)
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    rows = session.execute(stmt.limit(size + 1).offset((number - 1) * size)).all()
    return AbsentPage([_absent_row(r) for r in rows[:size]], number, size, len(rows) > size, total)


def absent_all(session: Session, unit: OrgUnit, months: int, today: date | None = None) -> list[AbsentRow]:
    return [_absent_row(r) for r in session.execute(absent_query(session, unit, months, today))]


# --- 3. 包格联户 coverage -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class GridRow:
    grid_id: int
    name: str
    path: str
    party_members: int  # current responsible party members
    households: int  # confirmed visits' households in the period

    @property
    def covered(self) -> bool:
        return self.party_members > 0


def grid_coverage(
    session: Session, unit: OrgUnit, period_from: date, period_to: date, today: date | None = None
) -> list[GridRow]:
    """Every live grid in the subtree with its current responsible party members and households covered
    in the period, in tree order. One query (two grouped subqueries joined to the grids)."""
    today = today or beijing_today()
    assigned = (
        select(
            GridAssignment.org_unit_id.label("grid_id"), func.count(func.distinct(GridAssignment.member_id)).label("n")
        )
        .where(
            GridAssignment.tenant_id == unit.tenant_id,
            GridAssignment.role == PARTY_MEMBER_ROLE,
            GridAssignment.effective_from <= today,
            or_(GridAssignment.effective_to.is_(None), GridAssignment.effective_to >= today),
        )
        .group_by(GridAssignment.org_unit_id)
        .subquery()
    )
    visited = (
        select(HouseholdVisit.grid_id.label("grid_id"), func.sum(HouseholdVisit.households).label("n"))
        .where(
            HouseholdVisit.tenant_id == unit.tenant_id,
            HouseholdVisit.status == CONFIRMED,
            HouseholdVisit.visit_date >= period_from,
            HouseholdVisit.visit_date <= period_to,
        )
        .group_by(HouseholdVisit.grid_id)
        .subquery()
    )
    rows = session.execute(
        select(OrgUnit.id, OrgUnit.name, OrgUnit.path, assigned.c.n, visited.c.n)
        .outerjoin(assigned, assigned.c.grid_id == OrgUnit.id)
        .outerjoin(visited, visited.c.grid_id == OrgUnit.id)
        .where(
            and_(OrgUnit.tenant_id == unit.tenant_id, OrgUnit.id.in_(subtree_ids(session, unit))),
            OrgUnit.kind == "grid",
            OrgUnit.retired_at.is_(None),
        )
        .order_by(OrgUnit.path)
    ).all()
    return [GridRow(i, name, path, int(a or 0), int(v or 0)) for i, name, path, a, v in rows]
