"""What a volunteer reads about activities and their own part in them: which activities they may open,
their sign-ups for a page of activities (one query), their waiting-list place, their upcoming sign-ups
and past attendances, and the minutes credited to attendances. Read-only: sign-up and cancellation are
in services.py."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload

from app.db import utcnow
from app.errors import NotFound
from app.places.models import OrgUnit

from .labels import CONFIRMED, DRAFT, IN, WAITLISTED
from .models import Activity, Attendance, Signup
from .services import get_activity


def activity_for_member(
    session: Session, tenant_id: int, activity_id: int, see_drafts: Callable[[Activity], bool]
) -> Activity:
    """An activity of the district as a member may open it: published and cancelled ones for everyone,
    drafts only for those who may see them (`see_drafts(activity)`); anything else is not found."""
    activity = get_activity(session, tenant_id, activity_id)
    if activity.status == DRAFT and not see_drafts(activity):
        raise NotFound(str(_l("No such activity. It may have been removed, or the link is wrong.")))
    return activity


def signups_of(session: Session, member_id: int, activity_ids: Iterable[int]) -> dict[int, Signup]:
    """The member's live sign-ups (signed up or waiting) for these activities, by activity id."""
    ids = sorted(set(activity_ids))
    if not ids:
        return {}
    rows = session.scalars(
        select(Signup).where(
            Signup.member_id == member_id,
            Signup.activity_id.in_(ids),
            Signup.status.in_((CONFIRMED, WAITLISTED)),
        )
    )
    return {s.activity_id: s for s in rows}


def waiting_position(session: Session, signup: Signup) -> int | None:
    """1 for the first on the waiting list; None when not waiting."""
    if signup.status != WAITLISTED:
        return None
    ahead = session.scalar(
        select(func.count()).where(
            Signup.activity_id == signup.activity_id,
            Signup.status == WAITLISTED,
            (Signup.queued_at < signup.queued_at) | ((Signup.queued_at == signup.queued_at) & (Signup.id < signup.id)),
        )
    )
    return (ahead or 0) + 1


def my_upcoming_query(tenant_id: int, member_id: int, now: datetime | None = None):
    """(Signup, Activity) rows of the member's live sign-ups for activities not yet ended, soonest first —
    but not one the member has already served and checked out of (it is past service for them, listed
    there, though the activity runs on)."""
    now = now or utcnow()
    served = (
        select(Attendance.id)
        .where(Attendance.activity_id == Activity.id, Attendance.member_id == member_id, Attendance.status != IN)
        .exists()
    )
    return (
        select(Signup, Activity)
        .join(Activity, Activity.id == Signup.activity_id)
        .where(
            Signup.tenant_id == tenant_id,
            Signup.member_id == member_id,
            Signup.status.in_((CONFIRMED, WAITLISTED)),
            Activity.ends_at > now,
            ~served,
        )
        .order_by(Activity.starts_at, Activity.id)
    )


def my_upcoming(session: Session, tenant_id: int, member_id: int, limit: int = 3, now: datetime | None = None):
    return [(r[0], r[1]) for r in session.execute(my_upcoming_query(tenant_id, member_id, now).limit(limit))]


def my_attendances_query(tenant_id: int, member_id: int):
    """The member's attendances (not those still checked in), newest first, with their activity."""
    return (
        select(Attendance)
        .options(joinedload(Attendance.activity))
        .where(Attendance.tenant_id == tenant_id, Attendance.member_id == member_id, Attendance.status != IN)
        .order_by(Attendance.checked_in_at.desc(), Attendance.id.desc())
    )


def credited_minutes(session: Session, member_id: int, attendance_ids: Iterable[int]) -> dict[int, int]:
    """Minutes credited to these attendances of the member (one query)."""
    ids = sorted({i for i in attendance_ids if i})
    if not ids:
        return {}
    rows = session.execute(
        select(Attendance.id, Attendance.credited_minutes).where(
            Attendance.id.in_(ids), Attendance.member_id == member_id
        )
    )
    return {r.id: r.credited_minutes for r in rows}


def points_cut(session: Session, member_id: int, attendance_ids: Iterable[int]) -> dict[int, int]:
    """Points a cap held back from these attendances of the member, where any (one query)."""
    ids = sorted({i for i in attendance_ids if i})
    if not ids:
        return {}
    rows = session.execute(
        select(Attendance.id, Attendance.points_cut).where(
            Attendance.id.in_(ids), Attendance.member_id == member_id, Attendance.points_cut > 0
        )
    )
    return {r.id: r.points_cut for r in rows}


def communities(session: Session, tenant_id: int) -> list[OrgUnit]:
    """The district's communities by name (to filter activities by one)."""
    return list(
        session.scalars(
            select(OrgUnit)
            .where(OrgUnit.tenant_id == tenant_id, OrgUnit.kind == "community")
            .order_by(OrgUnit.name, OrgUnit.id)
        )
    )
