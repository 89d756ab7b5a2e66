"""Activities use cases: create, edit, publish and cancel; sign up and cancel (capacity and the waiting
list); check in and out (scans of the rotating code or the poster, by hand, from a paper sheet); close
missed check-outs; review hours. Points move only through the points area (app/points/services.py).

Every function takes plain values and the actor, flushes and never commits (app/db.py commits).
Concurrency: a sign-up locks the activity's row (SELECT … FOR UPDATE on PostgreSQL; SQLite's writers
take the database lock at BEGIN), and the database refuses a confirmed count beyond capacity; a
check-in relies on the unique (activity, member) key, so fifty simultaneous scans make one attendance.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any, cast

from flask_babel import lazy_gettext as _l
from sqlalchemy import Table, bindparam, case, func, literal, literal_column, or_, select, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, joinedload, object_session

from app.audit.services import record
from app.db import FixedStatement, starts_with, utcnow
from app.errors import NotFound
from app.geo import distance_m
from app.notices.services import notify, notify_many
from app.people.labels import TAGS
from app.people.models import Member
from app.people.services import get_member
from app.places.models import OrgUnit
from app.points import caps
from app.points import rules as points_rules
from app.points import services as points
from app.points.labels import CATEGORIES
from app.points.models import PointsRule
from app.times import beijing, to_beijing, to_utc
from app.tokens import TokenMalformed, check_token
from ledger import Ledger

from . import errors
from .labels import (
    ADJUSTED,
    APPROVED,
    AUTO,
    CANCELLED,
    CHECKIN,
    CHECKOUT,
    CONFIRMED,
    DRAFT,
    ELIGIBILITY,
    IN,
    MANUAL,
    PAPER,
    POSTER,
    PUBLISHED,
    REJECTED,
    SCAN,
    TO_REVIEW,
    WAITLISTED,
    WITHDRAWN,
)
from .models import Activity, Attendance, Scan, Signup

# When codes and posters work, around the activity's times.
CHECKIN_OPENS_BEFORE = timedelta(hours=1)  # the rotating code and the poster accept check-ins from then
POSTER_CLOSES_AFTER = timedelta(minutes=30)  # the check-out poster stops working this long after the end
PAPER_ENTRY_DAYS = 7  # 补录 from a paper sheet: up to 7 days after the end
MAX_REVIEW = 20_000  # one review request may decide at most this many attendances
# A full activity keeps a waiting list of up to three people per place (200 sign-ups for 50 places: 50
# confirmed, 150 waiting in order); beyond that a sign-up is refused (activity_full): cancellations
# rarely reach further down, and the organiser can add places.
WAITLIST_PER_PLACE = 3


@dataclass
class ActivityData:
    """What an organiser enters for an activity (times naive UTC)."""

    title: str
    category: str
    host_unit_id: int
    place: str
    starts_at: datetime
    ends_at: datetime
    capacity: int
    description: str = ""
    lat: float | None = None
    lng: float | None = None
    radius_m: int | None = None
    signup_opens_at: datetime | None = None
    signup_closes_at: datetime | None = None
    eligibility: str = "district"
    eligible_unit_id: int | None = None
    eligible_tag: str | None = None
    walk_ins: bool = True


FIELDS = tuple(ActivityData.__dataclass_fields__)


def _invalid(problems: list[tuple[str, object]]) -> errors.ActivityInvalid:
    field_, message = problems[0]
    return errors.ActivityInvalid(
        str(message),
        field=field_,
        details=[{"field": f, "code": "activity_invalid", "message": str(m)} for f, m in problems],
    )


def _check(session: Session, tenant_id: int, data: ActivityData) -> None:
    problems: list[tuple[str, object]] = []
    data.title = (data.title or "").strip()
    data.place = (data.place or "").strip()
    if not 1 <= len(data.title) <= 100:
        problems.append(("title", _l("Give the activity a title of at most 100 characters.")))
    if not 1 <= len(data.place) <= 200:
        problems.append(("place", _l("Say where it takes place (at most 200 characters).")))
    if data.category not in CATEGORIES:
        problems.append(("category", _l("Choose one of the listed categories.")))
    if data.ends_at <= data.starts_at:
        problems.append(("ends_at", _l("The end must be after the start.")))
    elif data.ends_at - data.starts_at > timedelta(hours=24):
        problems.append(("ends_at", _l("An activity lasts at most 24 hours; make one per day.")))
    if not 1 <= data.capacity <= 100_000:
        problems.append(("capacity", _l("Capacity must be from 1 to 100000.")))
    if data.radius_m is not None:
        if data.lat is None or data.lng is None:
            problems.append(("radius_m", _l("A radius needs the place's coordinates (latitude and longitude).")))
        elif not 10 <= data.radius_m <= 50_000:
            problems.append(("radius_m", _l("The radius must be from 10 to 50000 metres.")))
    if (data.lat is None) != (data.lng is None):
        problems.append(("lat", _l("Give both latitude and longitude, or neither.")))
    if data.lat is not None and not -90 <= data.lat <= 90:
        problems.append(("lat", _l("Latitude must be from -90 to 90.")))
    if data.lng is not None and not -180 <= data.lng <= 180:
        problems.append(("lng", _l("Longitude must be from -180 to 180.")))
    if data.signup_opens_at and data.signup_closes_at and data.signup_closes_at <= data.signup_opens_at:
        problems.append(("signup_closes_at", _l("Sign-up must close after it opens.")))
    if data.signup_closes_at and data.signup_closes_at > data.ends_at:
        problems.append(("signup_closes_at", _l("Sign-up must close by the activity's end.")))
    if data.eligibility not in ELIGIBILITY:
        problems.append(("eligibility", _l("Choose who may join.")))
    elif data.eligibility == "community":
        unit = session.get(OrgUnit, data.eligible_unit_id) if data.eligible_unit_id else None
        if unit is None or unit.tenant_id != tenant_id or unit.kind != "community":
            problems.append(("eligible_unit_id", _l("Choose the community whose residents may join.")))
    elif data.eligibility == "tag":
        if data.eligible_tag not in TAGS:
            problems.append(("eligible_tag", _l("Choose the tag members need to join.")))
    if data.eligibility != "community":
        data.eligible_unit_id = None
    if data.eligibility != "tag":
        data.eligible_tag = None
    if problems:
        raise _invalid(problems)


def get_activity(session: Session, tenant_id: int, activity_id: int, lock: bool = False) -> Activity:
    stmt = select(Activity).where(Activity.id == activity_id, Activity.tenant_id == tenant_id)
    if lock:
        # populate_existing: an activity the session loaded before (a view's permission check) is
        # refreshed from the locked row; otherwise its confirmed_count could be stale and two sign-ups
        # would both count from the same number.
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    activity = session.scalars(stmt).first()
    if activity is None:
        raise NotFound(str(_l("No such activity. It may have been removed, or the link is wrong.")))
    return activity


def create_activity(session: Session, tenant_id: int, data: ActivityData, *, actor_user_id: int | None) -> Activity:
    """A new activity, as a draft (publish it to open sign-up)."""
    _check(session, tenant_id, data)
    activity = Activity(tenant_id=tenant_id, status=DRAFT, created_by_user_id=actor_user_id, confirmed_count=0)
    for name in FIELDS:
        setattr(activity, name, getattr(data, name))
    session.add(activity)
    session.flush()
    record(
        session,
        "activity.create",
        tenant_id=tenant_id,
        actor_user_id=actor_user_id,
        target_type="activity",
        target_id=activity.id,
        detail={"title": activity.title},
    )
    return activity


def _signed_up_ids(session: Session, activity: Activity) -> list[int]:
    return list(
        session.scalars(
            select(Signup.member_id).where(
                Signup.activity_id == activity.id, Signup.status.in_((CONFIRMED, WAITLISTED))
            )
        )
    )


def update_activity(session: Session, activity: Activity, data: ActivityData, *, actor_user_id: int | None) -> Activity:
    """Change an activity. A cancelled one cannot change; capacity cannot drop below those confirmed.
    When a published activity moves (time or place), everyone signed up is told."""
    if activity.status == CANCELLED:
        raise errors.NotOpen(str(_l("This activity was cancelled and can no longer be changed.")))
    _check(session, activity.tenant_id, data)
    activity = get_activity(session, activity.tenant_id, activity.id, lock=True)
    if data.capacity < activity.confirmed_count:
        raise _invalid(
            [
                (
                    "capacity",
                    _l(
                        "%(n)d people are already signed up; capacity cannot be less. Cancel sign-ups first.",
                        n=activity.confirmed_count,
                    ),
                )
            ]
        )
    moved = (activity.starts_at, activity.ends_at, activity.place) != (data.starts_at, data.ends_at, data.place)
    changed = [name for name in FIELDS if getattr(activity, name) != getattr(data, name)]
    for name in FIELDS:
        setattr(activity, name, getattr(data, name))
    session.flush()
    if activity.status == PUBLISHED and data.capacity > activity.confirmed_count:
        _promote(session, activity)
    if moved and activity.status == PUBLISHED:
        notify(
            session,
            activity.tenant_id,
            _signed_up_ids(session, activity),
            "activity.moved",
            {"title": activity.title, "starts": _bj(activity.starts_at), "place": activity.place},
            link=f"/activities/{activity.id}",
        )
    record(
        session,
        "activity.update",
        tenant_id=activity.tenant_id,
        actor_user_id=actor_user_id,
        target_type="activity",
        target_id=activity.id,
        detail={"changed": changed},
    )
    return activity


def _bj(value: datetime) -> str:
    return beijing(value)


def publish_activity(
    session: Session, activity: Activity, *, actor_user_id: int | None, now: datetime | None = None
) -> Activity:
    """Open sign-up. `now`: when it is published (the demo loader publishes its past activities as of
    the day they were announced)."""
    now = now or utcnow()
    if activity.status == PUBLISHED:
        return activity
    if activity.status == CANCELLED:
        raise errors.NotOpen(str(_l("This activity was cancelled; make a new one instead.")))
    if activity.ends_at <= now:
        raise errors.NotOpen(str(_l("This activity has already ended; correct its times before publishing.")))
    activity.status = PUBLISHED
    activity.published_at = now
    session.flush()
    record(
        session,
        "activity.publish",
        tenant_id=activity.tenant_id,
        actor_user_id=actor_user_id,
        target_type="activity",
        target_id=activity.id,
    )
    return activity


def cancel_activity(session: Session, activity: Activity, reason: str, *, actor_user_id: int | None) -> Activity:
    """Cancel an activity and tell everyone signed up. Attendances already recorded keep their review."""
    reason = (reason or "").strip()
    if not reason:
        raise _invalid([("reason", _l("Say why the activity is cancelled; the volunteers will read it."))])
    if activity.status == CANCELLED:
        return activity
    activity = get_activity(session, activity.tenant_id, activity.id, lock=True)
    told = _signed_up_ids(session, activity)
    activity.status = CANCELLED
    activity.cancel_reason = reason[:200]
    session.flush()
    notify(
        session,
        activity.tenant_id,
        told,
        "activity.cancelled",
        {"title": activity.title, "starts": _bj(activity.starts_at), "reason": activity.cancel_reason},
        link=f"/activities/{activity.id}",
    )
    record(
        session,
        "activity.cancel",
        tenant_id=activity.tenant_id,
        actor_user_id=actor_user_id,
        target_type="activity",
        target_id=activity.id,
        detail={"reason": activity.cancel_reason, "told": len(told)},
    )
    return activity


# --- who may join, browsing -----------------------------------------------------------------------------


def eligibility_problem(activity: Activity, member: Member) -> str | None:
    """Why `member` may not join `activity` (a sentence), or None."""
    if activity.eligibility == "community":
        unit = activity.eligible_unit
        if unit is None or member.grid is None or not member.grid.path.startswith(unit.path):
            return str(_l("Only residents of %(unit)s may join this activity.", unit=unit.name if unit else "?"))
    elif activity.eligibility == "party" and not member.is_party_member:
        return str(_l("Only party members may join this activity."))
    elif activity.eligibility == "tag" and activity.eligible_tag not in member.tags:
        return str(_l("This activity is for members with a particular role; yours does not match."))
    return None


@dataclass
class Browse:
    """Filters for upcoming activities."""

    day_from: datetime | None = None  # UTC
    day_to: datetime | None = None
    category: str | None = None
    community_id: int | None = None
    places_left: bool = False
    q: str = ""


def upcoming_query(tenant_id: int, member: Member | None, browse: Browse, now: datetime | None = None):
    """Published activities not yet ended, nearest to the member first (their grid, then their
    community, then their street, then the rest), then soonest."""
    now = now or utcnow()
    stmt = (
        select(Activity)
        .join(OrgUnit, OrgUnit.id == Activity.host_unit_id)
        .options(joinedload(Activity.host_unit))
        .where(Activity.tenant_id == tenant_id, Activity.status == PUBLISHED, Activity.ends_at > now)
    )
    if browse.day_from is not None:
        stmt = stmt.where(Activity.starts_at >= browse.day_from)
    if browse.day_to is not None:
        stmt = stmt.where(Activity.starts_at < browse.day_to)
    if browse.category:
        stmt = stmt.where(Activity.category == browse.category)
    if browse.places_left:
        stmt = stmt.where(Activity.confirmed_count < Activity.capacity)
    if browse.q:
        stmt = stmt.where(Activity.title.contains(browse.q.strip(), autoescape=True))
    if browse.community_id is not None:
        stmt = stmt.where(
            or_(
                OrgUnit.id == browse.community_id,
                OrgUnit.path.like(f"%/{int(browse.community_id)}/%"),
            )
        )
    order: list[Any] = []
    if member is not None and member.grid is not None:
        parts = [p for p in member.grid.path.strip("/").split("/") if p]
        # The member's grid path is /street/community/grid[/…]: nearest is the host unit that is an
        # ancestor-or-self of the member's grid with the longest path.
        ancestors = ["/" + "/".join(parts[: i + 1]) + "/" for i in range(len(parts))]
        whens: list[tuple[Any, float]] = [(OrgUnit.path == p, len(ancestors) - i) for i, p in enumerate(ancestors)]
        # Then anything under one of them, the deepest first (a sibling grid before the rest of the street).
        whens += [
            (starts_with(OrgUnit.path, p), len(ancestors) - i + 0.5) for i, p in reversed(list(enumerate(ancestors)))
        ]
        order.append(case(*whens, else_=99))
    order += [Activity.starts_at, Activity.id]
    return stmt.order_by(*order)


# --- sign-up and the waiting list ---------------------------------------------------------------------


def my_signup(session: Session, activity: Activity, member_id: int) -> Signup | None:
    return session.scalars(
        select(Signup).where(Signup.activity_id == activity.id, Signup.member_id == member_id)
    ).first()


def sign_up(session: Session, activity_id: int, member: Member, now: datetime | None = None) -> Signup:
    """Sign `member` up: confirmed while places are left, else on the waiting list (as long as the
    activity's capacity). Locks the activity's row for the count.

    The waiting list's order is the order in which sign-ups took the lock (the order that decided who
    was confirmed), so `queued_at` is stamped once the lock is held, not when the request came in."""
    activity = get_activity(session, member.tenant_id, activity_id, lock=True)
    now = now or utcnow()
    if activity.status != PUBLISHED:
        raise errors.NotOpen(str(_l("This activity is not open for sign-up.")))
    if activity.ends_at <= now or (activity.signup_closes_at and activity.signup_closes_at <= now):
        raise errors.SignupClosed(str(_l("Sign-up for this activity has closed.")))
    if activity.signup_opens_at and activity.signup_opens_at > now:
        raise errors.SignupClosed(
            str(_l("Sign-up opens at %(when)s (Beijing time).", when=_bj(activity.signup_opens_at)))
        )
    problem = eligibility_problem(activity, member)
    if problem:
        raise errors.NotEligible(problem)
    signup = my_signup(session, activity, member.id)
    if signup is not None and signup.status in (CONFIRMED, WAITLISTED):
        raise errors.AlreadySignedUp(
            str(
                _l("You are already signed up.")
                if signup.status == CONFIRMED
                else _l("You are already on the waiting list.")
            )
        )
    if activity.confirmed_count < activity.capacity:
        status = CONFIRMED
        activity.confirmed_count += 1
    else:
        waiting = session.scalar(
            select(func.count()).where(Signup.activity_id == activity.id, Signup.status == WAITLISTED)
        )
        if (waiting or 0) >= WAITLIST_PER_PLACE * activity.capacity:
            raise errors.ActivityFull(str(_l("This activity is full and so is its waiting list.")))
        status = WAITLISTED
    if signup is None:
        signup = Signup(tenant_id=activity.tenant_id, activity_id=activity.id, member_id=member.id)
        session.add(signup)
    signup.status = status
    signup.queued_at = now
    session.flush()
    return signup


def cancel_signup(session: Session, activity_id: int, member: Member) -> Signup:
    """Withdraw `member`'s sign-up; a confirmed place goes to the first on the waiting list (told)."""
    activity = get_activity(session, member.tenant_id, activity_id, lock=True)
    signup = my_signup(session, activity, member.id)
    if signup is None or signup.status == WITHDRAWN:
        raise errors.NotSignedUp(str(_l("You are not signed up for this activity.")))
    was = signup.status
    signup.status = WITHDRAWN
    if was == CONFIRMED:
        activity.confirmed_count -= 1
    session.flush()
    # A place freed before the end goes to the next in line; after the end, nobody is told of a place.
    if was == CONFIRMED and activity.status == PUBLISHED and activity.ends_at > utcnow():
        _promote(session, activity)
    return signup


def _promote(session: Session, activity: Activity) -> list[int]:
    """Fill free places from the waiting list, in order; tell each one promoted."""
    free = activity.capacity - activity.confirmed_count
    if free <= 0:
        return []
    nxt = list(
        session.scalars(
            select(Signup)
            .where(Signup.activity_id == activity.id, Signup.status == WAITLISTED)
            .order_by(Signup.queued_at, Signup.id)
            .limit(free)
        )
    )
    for s in nxt:
        s.status = CONFIRMED
        activity.confirmed_count += 1
    session.flush()
    ids = [s.member_id for s in nxt]
    notify(
        session,
        activity.tenant_id,
        ids,
        "signup.promoted",
        {"title": activity.title, "starts": _bj(activity.starts_at)},
        link=f"/activities/{activity.id}",
    )
    return ids


# --- check-in and check-out --------------------------------------------------------------------------


@dataclass(frozen=True)
class ScanResult:
    # From `scan_member`'s own writes: a RecordedAttendance and a ScannedActivity, with the attributes
    # an answer reads (values, not objects in the session).
    attendance: Attendance
    direction: str  # in | out
    already: bool  # the scan changed nothing (a second scan)
    activity: Activity


TOKEN_KINDS = {
    "AI": ("activity_checkin", CHECKIN, SCAN),
    "AO": ("activity_checkout", CHECKOUT, SCAN),
    "PI": ("poster_checkin", CHECKIN, POSTER),
    "PO": ("poster_checkout", CHECKOUT, POSTER),
}


def read_scan_token(token: str, tenant_id: int | None = None, now: float | None = None):
    """(activity id, direction, source) of a genuine check-in/out code; raises a TokenInvalid subclass."""
    text = (token or "").strip().upper()
    parts = text.split(".")
    kind = TOKEN_KINDS.get(parts[1]) if len(parts) > 2 else None
    if kind is None:
        raise TokenMalformed()
    purpose, direction, source = kind
    claims = check_token(text, purpose, now, tenant_id=tenant_id)
    return claims.subject_id, direction, source, claims.tenant_id


def scan(
    session: Session,
    member: Member,
    token: str,
    lat: float | None = None,
    lng: float | None = None,
    now: datetime | None = None,
    seen_at: datetime | None = None,
) -> ScanResult:
    """Record the check-in or check-out a scanned code stands for, for the signed-in member.
    `seen_at`: when the code was first opened (a volunteer who had to sign in first keeps the time the
    code was still valid)."""
    now = now or utcnow()
    token_time = (seen_at or now).replace(tzinfo=None)
    activity_id, direction, source, _t = read_scan_token(
        token, member.tenant_id, token_time.replace(tzinfo=UTC).timestamp()
    )
    activity = get_activity(session, member.tenant_id, activity_id)
    distance = _distance_checked(session, activity, member.id, direction, source, now, lat, lng)
    if direction == CHECKIN:
        result = check_in(session, activity, member, now, source, poster=source == POSTER)
    else:
        result = check_out(session, activity, member, now, source, poster=source == POSTER)
    _log_scan(
        session, activity, member.id, direction, source, now, "already" if result.already else "recorded", distance
    )
    return result


def _distance_checked(session, activity, member_id, direction, source, now, lat, lng) -> int | None:
    """The scan's distance from the activity's place (None when it has no radius); a scan outside the
    radius is logged as refused and raises."""
    if activity.radius_m is None:
        return None
    if lat is None or lng is None:
        raise errors.LocationRequired(
            str(_l("This activity checks where you are. Allow the page to use your location, then try again."))
        )
    assert activity.lat is not None and activity.lng is not None  # a radius needs them (CHECK)
    distance = int(distance_m(lat, lng, activity.lat, activity.lng))
    if distance > activity.radius_m:
        _log_scan(session, activity, member_id, direction, source, now, "outside_radius", distance)
        raise errors.OutsideRadius(
            str(
                _l(
                    "You are about %(d)d m from the activity's place; scans count within %(r)d m. "
                    "Go to %(place)s and scan again.",
                    d=distance,
                    r=activity.radius_m,
                    place=activity.place,
                )
            )
        )
    return distance


@dataclass(frozen=True)
class ScannedActivity:
    """What a check-in scan reads of its activity (the columns its checks and answer use)."""

    id: int
    tenant_id: int
    title: str
    status: str
    starts_at: datetime
    ends_at: datetime
    place: str
    lat: float | None
    lng: float | None
    radius_m: int | None
    category: str
    host_unit_id: int


@dataclass(frozen=True)
class RecordedAttendance:
    """An attendance as a scan wrote it: the attendances row's values (not an object in the session; a
    later read loads the row afresh). Has the attributes of an `Attendance` an answer shows."""

    id: int
    tenant_id: int
    activity_id: int
    member_id: int
    checked_in_at: datetime
    checkin_source: str
    status: str = IN
    checked_out_at: datetime | None = None
    checkout_source: str | None = None
    paper: bool = False
    manual_reason: str | None = None
    present_minutes: int = 0
    presence_percent: int = 0
    credited_minutes: int = 0
    points: int = 0
    points_cut: int = 0
    zero_reason: str | None = None
    review_reason: str | None = None
    reviewed_at: datetime | None = None
    rule_id: int | None = None
    rule_version: int | None = None
    journal_id: int | None = None


def scan_member(
    session: Session,
    tenant_id: int,
    member_id: int,
    token: str,
    lat: float | None = None,
    lng: float | None = None,
    now: datetime | None = None,
    seen_at: datetime | None = None,
) -> ScanResult:
    """`scan` for the signed-in member by id. The scans of a burst — a signed-up volunteer's first
    check-in, and the check-out of an open attendance — are one read (the activity, the member's
    attendance and sign-up) and a few statements of plain columns (no ORM objects), with the same
    checks in the same order as `scan`. Anything else (a second scan, a walk-in, a refusal by one of
    `scan`'s later checks, a scan that lost a race) is `scan` with the member loaded, which answers it."""
    now = now or utcnow()
    token_time = (seen_at or now).replace(tzinfo=None)
    activity_id, direction, source, _t = read_scan_token(token, tenant_id, token_time.replace(tzinfo=UTC).timestamp())
    session.flush()  # the Core statements below see the caller's pending ORM changes
    conn = session.connection()
    found = _SCAN_READ.first(conn, {"r_activity": activity_id, "r_tenant": tenant_id, "r_member": member_id})
    at = now.replace(tzinfo=None)
    done = None
    if found is None:
        pass
    elif direction == CHECKIN and found.attendance_id is None and found.signup_status == CONFIRMED:
        activity = ScannedActivity(*found[: len(_ACTIVITY_COLUMNS)])
        distance = _distance_checked(session, activity, member_id, direction, source, now, lat, lng)
        _open_for_checkin(activity, now, source == POSTER)
        done = _first_check_in(conn, activity, member_id, at, source)
    elif (
        direction == CHECKOUT
        and found.attendance_status == IN
        and found.checked_out_at is None
        and found.status == PUBLISHED
        and not (source == POSTER and at > found.ends_at + POSTER_CLOSES_AFTER)
        and at >= found.checked_in_at
    ):
        activity = ScannedActivity(*found[: len(_ACTIVITY_COLUMNS)])
        distance = _distance_checked(session, activity, member_id, direction, source, now, lat, lng)
        done = _open_check_out(session, conn, activity, found, member_id, at, source)
    if done is None:  # not a burst's scan, or a simultaneous scan of the same member came first
        return scan(session, get_member(session, tenant_id, member_id), token, lat, lng, now, seen_at)
    _LOG_SCAN.rows(
        conn,
        {
            "s_tenant_id": tenant_id,
            "s_activity_id": activity.id,
            "s_member_id": member_id,
            "s_direction": direction,
            "s_source": source,
            "s_at": at,
            "s_outcome": "recorded",
            "s_distance_m": distance,
        },
    )
    return ScanResult(done, direction, False, activity)  # type: ignore[arg-type]


def _first_check_in(conn, activity: ScannedActivity, member_id: int, at: datetime, source: str):
    """The attendance row of a first check-in, or None when a simultaneous scan made it first."""
    row: dict[str, Any] = {"tenant_id": activity.tenant_id, "activity_id": activity.id, "member_id": member_id}
    inserted = _insert_attendance(conn.dialect.name).first(
        conn, {"a_checked_in_at": at, "a_checkin_source": source, "a_created_at": utcnow(), **_keyed("a", row)}
    )
    if inserted is None:
        return None
    return RecordedAttendance(inserted.id, checked_in_at=at, checkin_source=source, **row)


def _open_check_out(
    session: Session, conn, activity: ScannedActivity, found, member_id: int, at: datetime, source: str
):
    """Close an open attendance at `at` and price it, as `check_out` and `_price` do: the rule in force
    at the start, the credit, and the points held as a pending journal. The attendance is closed by
    a conditional UPDATE (still open, not checked out): of simultaneous check-outs one closes it, and
    None tells the others to answer through `scan`."""
    rule = points_rules.rule_for(session, activity.tenant_id, activity.category, activity.starts_at)
    c = points_rules.credit(rule, activity.starts_at, activity.ends_at, found.checked_in_at, at)
    closed: dict[str, Any] = {
        "status": TO_REVIEW,
        "checked_out_at": at,
        "checkout_source": source,
        "present_minutes": c.present_minutes,
        "presence_percent": c.presence_percent,
        "credited_minutes": c.credited_minutes,
        "points": c.points,
        "zero_reason": c.zero_reason,
        "points_cut": c.points_cut,
        "rule_id": rule.id,
        "rule_version": rule.version,
    }
    if _CLOSE_ATTENDANCE.first(conn, {"o_id": found.attendance_id, **_keyed("o", closed)}) is None:
        return None
    attendance = RecordedAttendance(
        found.attendance_id,
        activity.tenant_id,
        activity.id,
        member_id,
        checked_in_at=found.checked_in_at,
        checkin_source=found.checkin_source,
        paper=bool(found.paper),
        manual_reason=found.manual_reason,
        **closed,
    )
    claim = points.HoursClaim(
        attendance_id=attendance.id,
        activity_id=activity.id,
        member_id=member_id,
        host_unit_id=activity.host_unit_id,
        title=activity.title,
        minutes=c.credited_minutes,
        points=c.points,
        rule=rule,
    )
    journal = points.hold_hours(session, activity.tenant_id, claim)
    if journal is None:
        return attendance
    _SET_JOURNAL.rows(conn, {"j_id": attendance.id, "j_journal_id": journal.id})
    return replace(attendance, journal_id=journal.id)


def _keyed(prefix: str, values: dict) -> dict:
    return {f"{prefix}_{k}": v for k, v in values.items()}


_activities = cast(Table, Activity.__table__)
_attendances = cast(Table, Attendance.__table__)
_signups = cast(Table, Signup.__table__)
_scans = cast(Table, Scan.__table__)
_ACTIVITY_COLUMNS = tuple(f.name for f in fields(ScannedActivity))
# The activity (by id, in the member's district), with the member's attendance and sign-up status
# (NULL when there is none): every question of a first check-in or a check-out, in one statement
# compiled once.
_SCAN_READ = FixedStatement(
    select(
        *(_activities.c[c] for c in _ACTIVITY_COLUMNS),
        _attendances.c.id.label("attendance_id"),
        _attendances.c.status.label("attendance_status"),
        _attendances.c.checked_in_at,
        _attendances.c.checkin_source,
        _attendances.c.checked_out_at,
        _attendances.c.paper,
        _attendances.c.manual_reason,
        _signups.c.status.label("signup_status"),
    )
    .select_from(
        _activities.outerjoin(
            _attendances,
            (_attendances.c.activity_id == _activities.c.id) & (_attendances.c.member_id == bindparam("r_member")),
        ).outerjoin(
            _signups, (_signups.c.activity_id == _activities.c.id) & (_signups.c.member_id == bindparam("r_member"))
        )
    )
    .where(_activities.c.id == bindparam("r_activity"), _activities.c.tenant_id == bindparam("r_tenant"))
)
_NEW_ATTENDANCE = ("tenant_id", "activity_id", "member_id", "checked_in_at", "checkin_source", "created_at")
_CLOSED_COLUMNS = (
    "status",
    "checked_out_at",
    "checkout_source",
    "present_minutes",
    "presence_percent",
    "credited_minutes",
    "points",
    "zero_reason",
    "points_cut",
    "rule_id",
    "rule_version",
)
# Close an attendance still open (checked in, not out): RETURNING its id when this statement did it.
_CLOSE_ATTENDANCE = FixedStatement(
    _attendances.update()
    .where(
        _attendances.c.id == bindparam("o_id"),
        _attendances.c.status == literal(IN),
        _attendances.c.checked_out_at.is_(None),
    )
    .values(**{c: bindparam(f"o_{c}") for c in _CLOSED_COLUMNS})
    .returning(_attendances.c.id)
)
_SET_JOURNAL = FixedStatement(
    _attendances.update().where(_attendances.c.id == bindparam("j_id")).values(journal_id=bindparam("j_journal_id"))
)
_LOG_SCAN = FixedStatement(
    _scans.insert().values(
        **{
            c: bindparam(f"s_{c}")
            for c in ("tenant_id", "activity_id", "member_id", "direction", "source", "at", "outcome", "distance_m")
        }
    )
)


@lru_cache(maxsize=4)
def _insert_attendance(dialect: str) -> FixedStatement:
    """A check-in's attendance row, built and compiled once per dialect: INSERT … ON CONFLICT DO
    NOTHING RETURNING id, as `check_in` does (of simultaneous scans, one makes the row)."""
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    return FixedStatement(
        insert(_attendances)
        .values(
            **{c: bindparam(f"a_{c}") for c in _NEW_ATTENDANCE},
            status=literal(IN),
            paper=literal(False),
            present_minutes=literal_column("0"),
            presence_percent=literal_column("0"),
            credited_minutes=literal_column("0"),
            points=literal_column("0"),
            points_cut=literal_column("0"),
        )
        .on_conflict_do_nothing(index_elements=["activity_id", "member_id"])
        .returning(_attendances.c.id)
    )


def _log_scan(session, activity, member_id, direction, source, at, outcome, distance=None) -> None:
    session.add(
        Scan(
            tenant_id=activity.tenant_id,
            activity_id=activity.id,
            member_id=member_id,
            direction=direction,
            source=source,
            at=at,
            outcome=outcome,
            distance_m=distance,
        )
    )
    session.flush()


def _open_for_checkin(activity: Activity | ScannedActivity, now: datetime, poster: bool) -> None:
    if activity.status != PUBLISHED:
        raise errors.NotOpen(
            str(
                _l("This activity was cancelled.")
                if activity.status == CANCELLED
                else _l("This activity is not published yet.")
            )
        )
    if now < activity.starts_at - CHECKIN_OPENS_BEFORE:
        raise errors.NotOpen(
            str(_l("Check-in opens one hour before the start (%(when)s).", when=_bj(activity.starts_at)))
        )
    if now > activity.ends_at:
        raise errors.NotOpen(str(_l("This activity has ended; check-in is closed. Ask the organiser.")))


def _attendance(session: Session, activity: Activity, member_id: int, lock: bool = False) -> Attendance | None:
    stmt = select(Attendance).where(Attendance.activity_id == activity.id, Attendance.member_id == member_id)
    if lock:
        stmt = stmt.with_for_update()
    # populate_existing: the row as it is now, also when the session holds it from before a scan wrote
    # it with plain statements (`scan_member`), which do not touch the session's objects.
    return session.scalars(stmt.execution_options(populate_existing=True)).first()


def check_in(
    session: Session,
    activity: Activity,
    member: Member,
    at: datetime,
    source: str,
    *,
    poster: bool = False,
    reason: str | None = None,
    actor_user_id: int | None = None,
) -> ScanResult:
    """Check `member` in at `at`. A second check-in changes nothing and says so."""
    if source in (SCAN, POSTER):
        _open_for_checkin(activity, at, poster)
    # One round trip for both questions: checked in already? signed up?
    attended_id, signup_status = session.execute(
        select(
            select(Attendance.id)
            .where(Attendance.activity_id == activity.id, Attendance.member_id == member.id)
            .scalar_subquery(),
            select(Signup.status)
            .where(Signup.activity_id == activity.id, Signup.member_id == member.id)
            .scalar_subquery(),
        )
    ).one()
    if attended_id is not None:
        existing = session.get(Attendance, attended_id, populate_existing=True)  # as now (see _attendance)
        assert existing is not None  # just seen; attendances are never deleted
        return ScanResult(existing, CHECKIN, True, activity)
    if signup_status != CONFIRMED:
        if source in (SCAN, POSTER) and not activity.walk_ins:
            raise errors.NotSignedUp(
                str(_l("Only volunteers signed up for this activity may check in. Ask the organiser."))
            )
        # By hand and from a paper sheet too: who may join is the activity's rule, whoever records it.
        problem = eligibility_problem(activity, member)
        if problem:
            raise errors.NotEligible(problem)
    # INSERT … ON CONFLICT DO NOTHING RETURNING: one statement, no savepoint. A simultaneous scan of
    # the same member that won the insert leaves nothing returned, and this one changes nothing.
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    attendance = session.scalars(
        insert(Attendance)
        .values(
            tenant_id=activity.tenant_id,
            activity_id=activity.id,
            member_id=member.id,
            status=IN,
            checked_in_at=at,
            checkin_source=source,
            paper=False,
            manual_reason=reason,
            recorded_by_user_id=actor_user_id,
            created_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=[Attendance.activity_id, Attendance.member_id])
        .returning(Attendance),
        execution_options={"populate_existing": True},
    ).first()
    if attendance is None:
        won = _attendance(session, activity, member.id)
        assert won is not None  # the conflicting row is there (attendances are never deleted)
        return ScanResult(won, CHECKIN, True, activity)
    return ScanResult(attendance, CHECKIN, False, activity)


def _price(session: Session, attendance: Attendance, activity: Activity) -> None:
    rule = points_rules.rule_for(session, activity.tenant_id, activity.category, activity.starts_at)
    c = points_rules.credit(
        rule, activity.starts_at, activity.ends_at, attendance.checked_in_at, attendance.checked_out_at
    )
    attendance.present_minutes = c.present_minutes
    attendance.presence_percent = c.presence_percent
    attendance.credited_minutes = c.credited_minutes
    attendance.points = c.points
    attendance.zero_reason = c.zero_reason
    attendance.points_cut = c.points_cut
    attendance.rule_id = rule.id
    attendance.rule_version = rule.version
    attendance.status = TO_REVIEW
    journal = points.hold_hours(session, activity.tenant_id, _claim(attendance, activity, rule))
    attendance.journal_id = journal.id if journal is not None else None


def _capped(session: Session, activity: Activity, a: Attendance, rule: points_rules.Rule, pts: int) -> int:
    """What the rule's daily and monthly caps let the member be credited of `pts` (counted in this
    transaction, under the counters' row locks: app/points/caps.py)."""
    return caps.take_for_rule(session, activity.tenant_id, a.member_id, rule, activity.starts_at, pts)


def _claim(attendance: Attendance, activity: Activity, rule=None, minutes=None, pts=None) -> points.HoursClaim:
    return points.HoursClaim(
        attendance_id=attendance.id,
        activity_id=activity.id,
        member_id=attendance.member_id,
        host_unit_id=activity.host_unit_id,
        title=activity.title,
        minutes=attendance.credited_minutes if minutes is None else minutes,
        points=attendance.points if pts is None else pts,
        rule=rule or _rule_of(attendance),
    )


def _rule_of(attendance: Attendance) -> points_rules.Rule:
    """The rule version that priced the attendance (by its recorded id; the built-in default if none)."""
    if attendance.rule_id is None:
        return points_rules.DEFAULT_RULE
    session = object_session(attendance)
    assert session is not None
    row = session.get(PointsRule, attendance.rule_id)
    return points_rules.Rule.of(row) if row is not None else points_rules.DEFAULT_RULE


def check_out(
    session: Session,
    activity: Activity,
    member: Member,
    at: datetime,
    source: str,
    *,
    poster: bool = False,
    reason: str | None = None,
    actor_user_id: int | None = None,
) -> ScanResult:
    """Check `member` out at `at`: the credited time is priced and held as a pending points journal."""
    if source in (SCAN, POSTER):
        if activity.status != PUBLISHED:
            raise errors.NotOpen(str(_l("This activity is not open.")))
        if at > activity.ends_at + POSTER_CLOSES_AFTER and poster:
            raise errors.NotOpen(str(_l("This poster no longer works: the activity ended. Ask the organiser.")))
    attendance = _attendance(session, activity, member.id, lock=True)
    if attendance is None:
        raise errors.NotCheckedIn(
            str(_l("You have not checked in to this activity. Scan the check-in code first, or ask the organiser."))
        )
    if attendance.checked_out_at is not None or attendance.status != IN:
        return ScanResult(attendance, CHECKOUT, True, activity)
    if at < attendance.checked_in_at:
        raise errors.ActivityInvalid(str(_l("The check-out time is before the check-in time.")), field="checked_out_at")
    attendance.checked_out_at = at
    attendance.checkout_source = source
    if reason:
        attendance.manual_reason = reason
    if actor_user_id is not None:
        attendance.recorded_by_user_id = actor_user_id
    _price(session, attendance, activity)
    session.flush()
    return ScanResult(attendance, CHECKOUT, False, activity)


def record_by_hand(
    session: Session,
    activity: Activity,
    member: Member,
    *,
    direction: str,
    at: datetime,
    reason: str,
    actor_user_id: int,
) -> ScanResult:
    """The organiser checks someone in or out by hand, with a reason (recorded as manual, audited)."""
    reason = (reason or "").strip()
    if not reason:
        raise _invalid([("reason", _l("Say why you record this by hand (for example: phone battery empty)."))])
    if activity.status != PUBLISHED:
        raise errors.NotOpen(str(_l("This activity is not open.")))
    if direction == CHECKIN and activity.closed_at is not None:
        # Open check-ins were closed after the end: a check-in now would stay open for good.
        raise errors.NotOpen(
            str(_l("This activity is over and its check-ins were closed. Enter the attendance from the paper sheet."))
        )
    if direction == CHECKIN:
        result = check_in(session, activity, member, at, MANUAL, reason=reason, actor_user_id=actor_user_id)
    else:
        result = check_out(session, activity, member, at, MANUAL, reason=reason, actor_user_id=actor_user_id)
    if not result.already:
        _log_scan(session, activity, member.id, direction, MANUAL, utcnow(), "recorded")
        record(
            session,
            f"attendance.manual_{'in' if direction == CHECKIN else 'out'}",
            tenant_id=activity.tenant_id,
            actor_user_id=actor_user_id,
            target_type="activity",
            target_id=activity.id,
            detail={"member_id": member.id, "at": at.isoformat(timespec="minutes"), "reason": reason[:200]},
        )
    return result


def record_paper(
    session: Session,
    activity: Activity,
    member: Member,
    *,
    checked_in_at: datetime,
    checked_out_at: datetime,
    reason: str,
    actor_user_id: int,
    now: datetime | None = None,
) -> Attendance:
    """补录: attendance from a paper sign-in sheet, within 7 days after the end; flagged in review."""
    now = now or utcnow()
    reason = (reason or "").strip() or str(_l("Paper sign-in sheet"))
    if activity.status == DRAFT:
        raise errors.NotOpen(str(_l("This activity is not published yet.")))
    if activity.status == CANCELLED:
        raise errors.NotOpen(str(_l("This activity was cancelled.")))
    if now < activity.starts_at:
        raise errors.NotOpen(str(_l("Attendance from a paper sheet can be entered once the activity has started.")))
    if now > activity.ends_at + timedelta(days=PAPER_ENTRY_DAYS):
        raise errors.NotOpen(
            str(_l("Paper sheets can be entered up to %(n)d days after the activity's end.", n=PAPER_ENTRY_DAYS))
        )
    if checked_out_at < checked_in_at:
        raise _invalid([("checked_out_at", _l("The check-out time is before the check-in time."))])
    if _attendance(session, activity, member.id) is not None:
        raise errors.AlreadyReviewed(
            str(_l("%(name)s already has an attendance at this activity; adjust it in the review.", name=member.name))
        )
    result = check_in(session, activity, member, checked_in_at, PAPER, reason=reason, actor_user_id=actor_user_id)
    attendance = result.attendance
    attendance.paper = True
    attendance.checked_out_at = checked_out_at
    attendance.checkout_source = PAPER
    _price(session, attendance, activity)
    session.flush()
    record(
        session,
        "attendance.paper",
        tenant_id=activity.tenant_id,
        actor_user_id=actor_user_id,
        target_type="activity",
        target_id=activity.id,
        detail={
            "member_id": member.id,
            "in": checked_in_at.isoformat(timespec="minutes"),
            "out": checked_out_at.isoformat(timespec="minutes"),
            "reason": reason[:200],
        },
    )
    return attendance


def close_missed_checkouts(session: Session, now: datetime | None = None, limit: int = 200) -> int:
    """Close the attendances of activities ended more than their rule's grace period ago whose
    volunteers never checked out: flagged, priced by the rule's missed check-out setting. Safe to run
    again; returns how many activities were closed."""
    now = now or utcnow()
    closed = 0
    after: tuple[datetime, int] | None = None
    # Candidates are every activity ended and not closed, oldest first; one still inside its grace
    # period is passed over (keyset on ends_at, id), so a batch of those (a long grace on many recent
    # activities) never holds back older ones that are due.
    while closed < limit:
        stmt = select(Activity).where(Activity.closed_at.is_(None), Activity.status != DRAFT, Activity.ends_at < now)
        if after is not None:
            stmt = stmt.where(tuple_(Activity.ends_at, Activity.id) > tuple_(*after))
        due = list(
            session.scalars(stmt.order_by(Activity.ends_at, Activity.id).limit(limit).with_for_update(skip_locked=True))
        )
        if not due:
            break
        for activity in due:
            after = (activity.ends_at, activity.id)
            rule = points_rules.rule_for(session, activity.tenant_id, activity.category, activity.starts_at)
            if activity.ends_at + timedelta(minutes=rule.grace_minutes) > now:
                continue
            still_in = list(
                session.scalars(
                    select(Attendance).where(Attendance.activity_id == activity.id, Attendance.status == IN)
                )
            )
            for attendance in still_in:
                attendance.checkout_source = AUTO
                _price(session, attendance, activity)
            activity.closed_at = now
            closed += 1
            if closed >= limit:
                break
    session.flush()
    return closed


# --- review --------------------------------------------------------------------------------------------


@dataclass
class Review:
    approve: Sequence[int] | str = ()  # attendance ids, or "all" (every one waiting)
    adjust: Sequence[tuple[int, int, str]] = ()  # (attendance id, credited minutes, reason)
    reject: Sequence[tuple[int, str]] = ()  # (attendance id, reason)


@dataclass
class ReviewOutcome:
    approved: int = 0
    adjusted: int = 0
    rejected: int = 0
    points: int = 0
    ids: list[int] = field(default_factory=list)


def review_queue(session: Session, activity: Activity) -> list[Attendance]:
    return list(
        session.scalars(
            select(Attendance)
            .options(joinedload(Attendance.member))
            .where(Attendance.activity_id == activity.id, Attendance.status == TO_REVIEW)
            .order_by(Attendance.checked_in_at, Attendance.id)
        )
    )


def review(
    session: Session,
    activity: Activity,
    decision: Review,
    *,
    actor_user_id: int,
    actor_member_id: int,
    now: datetime | None = None,
) -> ReviewOutcome:
    """Approve, adjust or reject attendances of one activity, all or nothing. Nobody reviews their own
    attendance; an attendance already reviewed (by someone else a moment ago) refuses the whole review."""
    now = now or utcnow()
    adjust = {a[0]: (a[1], (a[2] or "").strip()) for a in decision.adjust}
    reject = {r[0]: (r[1] or "").strip() for r in decision.reject}
    wanted_all = decision.approve == "all"
    try:
        approve: set[int] = set() if wanted_all else {int(i) for i in decision.approve}
    except (TypeError, ValueError):
        raise errors.ReviewInvalid(str(_l('Approve a list of attendance ids, or "all".')), field="approve") from None
    problems: list[tuple[str, object]] = []
    for minutes, reason in adjust.values():
        if not isinstance(minutes, int) or not 0 <= minutes <= 24 * 60:
            problems.append(("adjust", _l("Credited minutes must be from 0 to 1440.")))
        if not reason:
            problems.append(("adjust", _l("Give a reason for each adjustment; the volunteer will read it.")))
    if any(not r for r in reject.values()):
        problems.append(("reject", _l("Give a reason for each rejection; the volunteer will read it.")))
    both = (approve & set(adjust)) | (approve & set(reject)) | (set(adjust) & set(reject))
    if both:
        problems.append(("approve", _l("An attendance can be decided only once in a review.")))
    if problems:
        raise errors.ReviewInvalid(str(problems[0][1]), field=problems[0][0])
    named = approve | set(adjust) | set(reject)
    if len(named) > MAX_REVIEW:
        raise errors.ReviewInvalid(str(_l("Review at most %(n)d attendances at once.", n=MAX_REVIEW)))
    # Lock the activity: two organisers reviewing the same queue at once take turns.
    activity = get_activity(session, activity.tenant_id, activity.id, lock=True)
    # No one is credited longer than they could have been there: from when check-in opens (an hour
    # before the start) to when the check-out poster closes (30 minutes after the end).
    window = activity.ends_at + POSTER_CLOSES_AFTER - (activity.starts_at - CHECKIN_OPENS_BEFORE)
    longest = int(window.total_seconds() // 60)
    if any(minutes > longest for minutes, _reason in adjust.values()):
        raise errors.ReviewInvalid(
            str(
                _l(
                    "Credited minutes cannot be more than %(n)d: from when check-in opens to when check-out closes.",
                    n=longest,
                )
            ),
            field="adjust",
        )
    where = [Attendance.activity_id == activity.id]
    if not wanted_all:
        where.append(Attendance.id.in_(named))
    elif named:
        where.append(or_(Attendance.status == TO_REVIEW, Attendance.id.in_(named)))
    else:
        where.append(Attendance.status == TO_REVIEW)
    # One query for every row decided (no per-row loads); populate_existing: rows this session loaded
    # before the lock (the queue a page showed) are re-read, so one reviewed a moment ago by another
    # organiser is seen as reviewed.
    rows = {
        a.id: a for a in session.scalars(select(Attendance).where(*where).execution_options(populate_existing=True))
    }
    missing = named - set(rows)
    if missing:
        raise errors.ReviewInvalid(
            str(
                _l(
                    "Some attendances are not part of this activity (ids %(ids)s).",
                    ids=", ".join(str(i) for i in sorted(missing)[:10]),
                )
            ),
            field="approve",
        )
    if wanted_all:
        # "Approve all" leaves the reviewer's own attendance waiting for another organiser (naming it
        # is refused below).
        approve = (
            {aid for aid, a in rows.items() if a.status == TO_REVIEW and a.member_id != actor_member_id}
            - set(adjust)
            - set(reject)
        )
    decided = approve | set(adjust) | set(reject)
    for aid in decided:
        a = rows[aid]
        if a.member_id == actor_member_id:
            raise errors.OwnAttendance(str(_l("You cannot review your own attendance; another organiser must.")))
        if a.status != TO_REVIEW:
            raise errors.AlreadyReviewed(
                str(
                    _l(
                        "%(name)s's attendance is not waiting for review (it is checked in, or was already "
                        "reviewed). Reload the queue.",
                        name=session.get(Member, a.member_id).name,  # type: ignore[union-attr]
                    )
                )
            )
    out = ReviewOutcome()
    tenant = activity.tenant_id
    told: list[tuple[int, str, dict, str | None]] = []  # (member id, notice kind, params, link)
    to_post: list[tuple[int, int]] = []  # (held journal id, attendance id) approved in full
    to_void: list[tuple[int, int]] = []  # (held journal id, attendance id) rejected
    rules: dict[int | None, points_rules.Rule] = {}  # the rule versions that priced the rows, loaded once each
    for aid in approve | set(adjust):
        if rows[aid].rule_id not in rules:
            rules[rows[aid].rule_id] = _rule_of(rows[aid])
    # Every cap counter and ledger account this review may take, locked first in one global order
    # (sorted keys), so two reviews over overlapping members never deadlock.
    points.lock_for_review(
        session,
        tenant,
        activity.host_unit_id,
        [
            (rows[aid].member_id, rules.get(rows[aid].rule_id) if aid not in reject else None, activity.starts_at)
            for aid in decided
        ],
    )
    for aid in sorted(decided):
        a = rows[aid]
        if aid in approve:
            if a.rule_id not in rules:
                rules[a.rule_id] = _rule_of(a)
            rule = rules[a.rule_id]
            granted = _capped(session, activity, a, rule, a.points)
            if a.journal_id is not None and granted == a.points:
                to_post.append((a.journal_id, a.id))
            elif a.journal_id is not None:
                # A cap cut it: a partial post of the held journal (or a void when nothing is left).
                capped_held = Ledger(session, tenant=tenant).journal(a.journal_id)
                claim = _claim(a, activity, rule, pts=granted)
                points.credit_hours(session, tenant, claim, capped_held, a.points, "cap")
                a.points_cut += a.points - granted
                a.points = granted
            a.status = APPROVED
            out.approved += 1
            out.points += a.points
            told.append(
                (
                    a.member_id,
                    "hours.approved",
                    {"title": activity.title, "points": a.points, "hours": _hours(a.credited_minutes)},
                    "/me/points",
                )
            )
        elif aid in adjust:
            minutes, reason = adjust[aid]
            if a.rule_id not in rules:
                rules[a.rule_id] = _rule_of(a)
            rule = rules[a.rule_id]
            cut = 0
            if rule.max_minutes_per_activity is not None and minutes > rule.max_minutes_per_activity:
                cut = points_rules.points_for_minutes(rule, minutes - rule.max_minutes_per_activity)
                minutes = rule.max_minutes_per_activity
            pts = points_rules.points_for_minutes(rule, minutes)
            granted = _capped(session, activity, a, rule, pts)
            cut, pts = cut + pts - granted, granted
            a.points_cut = cut
            held = a.points if a.journal_id is not None else 0
            held_journal = Ledger(session, tenant=tenant).journal(a.journal_id) if a.journal_id else None
            points.credit_hours(session, tenant, _claim(a, activity, rule, minutes, pts), held_journal, held, reason)
            a.credited_minutes, a.points = minutes, pts
            a.zero_reason = None if pts else a.zero_reason
            a.status = ADJUSTED
            a.review_reason = reason[:200]
            out.adjusted += 1
            out.points += pts
            told.append(
                (
                    a.member_id,
                    "hours.adjusted",
                    {"title": activity.title, "points": pts, "hours": _hours(minutes), "reason": reason[:200]},
                    "/me/points",
                )
            )
        else:
            if a.journal_id is not None:
                to_void.append((a.journal_id, a.id))
            a.status = REJECTED
            a.review_reason = reject[aid][:200]
            out.rejected += 1
            told.append(
                (a.member_id, "hours.rejected", {"title": activity.title, "reason": a.review_reason}, "/me/points")
            )
        a.reviewed_by_user_id = actor_user_id
        a.reviewed_at = now
        out.ids.append(aid)
    # Approvals and rejections reach the ledger in batches (a handful of statements, not a dozen each).
    points.approve_hours_many(session, tenant, to_post)
    points.reject_hours_many(session, tenant, to_void)
    session.flush()
    notify_many(session, tenant, told)
    record(
        session,
        "attendance.review",
        tenant_id=tenant,
        actor_user_id=actor_user_id,
        target_type="activity",
        target_id=activity.id,
        detail={"approved": out.approved, "adjusted": out.adjusted, "rejected": out.rejected, "points": out.points},
    )
    return out


def _hours(minutes: int) -> str:
    """Minutes as hours for people: 150 → '2.5'."""
    h = minutes / 60
    return f"{h:.1f}".rstrip("0").rstrip(".") if minutes % 60 else str(minutes // 60)


# --- lists ---------------------------------------------------------------------------------------------


def attendances(session: Session, activity: Activity) -> list[Attendance]:
    return list(
        session.scalars(
            select(Attendance)
            .options(joinedload(Attendance.member))
            .where(Attendance.activity_id == activity.id)
            .order_by(Attendance.checked_in_at, Attendance.id)
        )
    )


def live_counts(session: Session, activity_ids: Iterable[int]) -> dict[int, dict[str, int]]:
    """Per activity: how many are in, have left, are waiting for review (one query)."""
    ids = list(activity_ids)
    counts: dict[int, dict[str, int]] = {i: {"in": 0, "out": 0, "to_review": 0} for i in ids}
    if not ids:
        return counts
    rows = session.execute(
        select(Attendance.activity_id, Attendance.status, func.count())
        .where(Attendance.activity_id.in_(ids))
        .group_by(Attendance.activity_id, Attendance.status)
    )
    for activity_id, status, n in rows:
        c = counts[activity_id]
        if status == IN:
            c["in"] += n
        else:
            c["out"] += n
            if status == TO_REVIEW:
                c["to_review"] += n
    return counts


def managed_query(tenant_id: int, scope_condition):
    """Activities in the user's scope (scope_condition on OrgUnit.path of the host unit), host units loaded."""
    return (
        select(Activity)
        .join(OrgUnit, OrgUnit.id == Activity.host_unit_id)
        .options(joinedload(Activity.host_unit))
        .where(Activity.tenant_id == tenant_id, scope_condition)
    )


def todays_activities(session: Session, tenant_id: int, scope_condition, now: datetime | None = None) -> list[Activity]:
    """Activities in scope running on the Beijing calendar day of `now` (default: today)."""
    now = now or utcnow()
    day_start = to_utc(to_beijing(now).replace(hour=0, minute=0, second=0, microsecond=0))
    stmt = managed_query(tenant_id, scope_condition).where(
        Activity.starts_at < day_start + timedelta(days=1), Activity.ends_at >= day_start
    )
    return list(session.scalars(stmt.order_by(Activity.starts_at, Activity.id)))


def has_waiting_review():
    """A condition on Activity: some attendance of it waits for review (the organiser's "to review" list)."""
    return Activity.id.in_(select(Attendance.activity_id).where(Attendance.status == TO_REVIEW))


def waiting_review_count(session: Session, tenant_id: int, scope_condition) -> int:
    """Attendances waiting for review in activities the user may review (scope_condition on OrgUnit.path)."""
    return (
        session.scalar(
            select(func.count())
            .select_from(Attendance)
            .join(Activity, Activity.id == Attendance.activity_id)
            .join(OrgUnit, OrgUnit.id == Activity.host_unit_id)
            .where(Attendance.tenant_id == tenant_id, Attendance.status == TO_REVIEW, scope_condition)
        )
        or 0
    )


def find_by_mobile_tail(session: Session, tenant_id: int, tail: str, limit: int = 10) -> list[Member]:
    """Members whose mobile ends with `tail` (4 digits), for checking someone in by hand."""
    tail = (tail or "").strip()
    if len(tail) != 4 or not tail.isdecimal():
        return []
    return list(
        session.scalars(
            select(Member)
            .where(Member.tenant_id == tenant_id, Member.mobile_tail == tail, Member.status == "active")
            .order_by(Member.name)
            .limit(limit)
        )
    )
