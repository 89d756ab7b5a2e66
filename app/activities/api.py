"""The activities area's JSON API (app/activities/blueprint.py routes it): activities, sign-ups, the
check-in codes, scans, attendances and review.

Who sees what: an organiser (activity.view and friends) sees every activity hosted in their subtree, drafts
included; any signed-in member of the district sees published and cancelled activities and acts only
for themselves (sign-up, scans). An activity the user may not see answers 404; one they may see but not
change answers 403."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from flask import request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import case, select
from sqlalchemy.orm import joinedload

from app.access import can, path_filter, require
from app.api.blueprints import page_of
from app.api.openapi import WRITE_SECURITY, api, bulk, responses, write_responses
from app.api.schemas import ErrorOut
from app.db import get_session, utcnow
from app.errors import Forbidden, NotFound, ValidationFailed
from app.pagination import paginate
from app.people import services as people
from app.places import services as places
from app.places.api import unit_in_body
from app.places.models import OrgUnit
from app.times import beijing, to_utc
from app.tokens import make_token, seconds_to_next_step

from . import services
from .labels import CHECKIN, CONFIRMED, DRAFT, WAITLISTED
from .models import Activity, Attendance, Signup
from .schemas import (
    ActivityIn,
    ActivityOut,
    ActivityPage,
    ActivityPatch,
    ActivityQuery,
    AttendanceIn,
    AttendanceOut,
    AttendancePage,
    AttendanceQuery,
    CancelIn,
    CodeOut,
    CodesOut,
    EmptyIn,
    ReviewIn,
    ReviewOut,
    ScanIn,
    ScanOut,
    SignupOut,
    SignupPage,
    SignupQuery,
)

TAGS = ["activities"]
FORBIDDEN = (ErrorOut, "Visible but not allowed")


def _me():
    return people.get_member(get_session(), current_user.tenant_id, current_user.member_id)


def _activity(activity_id: int) -> Activity:
    """An activity the user may see: any in their organiser scope, or a published or cancelled one."""
    activity = services.get_activity(get_session(), current_user.tenant_id, activity_id)
    if activity.status == DRAFT:
        require(current_user, "activity.view", activity)  # 404 outside the organiser's scope
    return activity


def _managed(activity_id: int, action: str) -> Activity:
    """An activity the user may `action` (404 when they may not see it, 403 when they may only see it)."""
    activity = _activity(activity_id)
    if can(current_user, action, activity):
        return activity
    if not can(current_user, "activity.view", activity):
        raise Forbidden(_("Only the activity's organisers may do this."))
    require(current_user, action, activity)
    return activity


def _my_signups(activity_ids: list[int]) -> dict[int, str]:
    if not activity_ids:
        return {}
    rows = get_session().execute(
        select(Signup.activity_id, Signup.status).where(
            Signup.member_id == current_user.member_id, Signup.activity_id.in_(activity_ids)
        )
    )
    return {activity_id: status for activity_id, status in rows}


def _out(activity: Activity) -> ActivityOut:
    return ActivityOut.of(activity, _my_signups([activity.id]).get(activity.id))


def _data(source) -> services.ActivityData:
    return services.ActivityData(**{name: getattr(source, name) for name in services.FIELDS})


def _start_of(day: date) -> datetime:
    return to_utc(datetime.combine(day, time()))


# --- activities ------------------------------------------------------------------------------------


@api.validate(
    query=ActivityQuery,
    resp=responses(HTTP_200=ActivityPage, HTTP_403=FORBIDDEN),
    tags=TAGS,
    operation_id="listActivities",
)
def list_activities():
    """Upcoming published activities, nearest to your grid and community first, then soonest
    (`scope=manage`: every activity you may edit, drafts and past ones too, latest start first)."""
    query: ActivityQuery = request.context.query
    db = get_session()
    browse = services.Browse(
        day_from=_start_of(query.day_from) if query.day_from else None,
        day_to=_start_of(query.day_to + timedelta(days=1)) if query.day_to else None,
        category=query.category,
        community_id=query.community_id,
        places_left=query.places_left,
        q=query.q,
    )
    if query.scope == "manage":
        require(current_user, "activity.edit")
        stmt = (
            select(Activity)
            .join(OrgUnit, OrgUnit.id == Activity.host_unit_id)
            .options(joinedload(Activity.host_unit))
            .where(
                Activity.tenant_id == current_user.tenant_id, path_filter(current_user, "activity.edit", OrgUnit.path)
            )
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
            stmt = stmt.where(Activity.title.contains(browse.q, autoescape=True))
        if query.community_id is not None:
            unit = places.get_unit(db, current_user.tenant_id, query.community_id)
            stmt = stmt.where(OrgUnit.path.startswith(unit.path, autoescape=True))
        if query.status:
            stmt = stmt.where(Activity.status == query.status)
        stmt = stmt.order_by(Activity.starts_at.desc(), Activity.id.desc())
    else:
        stmt = services.upcoming_query(current_user.tenant_id, _me(), browse)
    page = paginate(db, stmt, size=query.page_size, number=query.page)
    mine = _my_signups([a.id for a in page.items])
    return ActivityPage(
        items=[ActivityOut.of(a, mine.get(a.id)) for a in page.items],
        page=page.number,
        page_size=page.size,
        has_next=page.has_next,
    )


@api.validate(resp=responses(HTTP_200=ActivityOut), tags=TAGS, operation_id="getActivity")
def get_activity(activity_id: int):
    return _out(_activity(activity_id))


@api.validate(
    json=ActivityIn,
    resp=write_responses(HTTP_201=ActivityOut),
    tags=TAGS,
    security=WRITE_SECURITY,
    operation_id="createActivity",
)
def create_activity():
    """Create an activity as a draft, hosted by a unit in your scope."""
    data: ActivityIn = request.context.json
    require(current_user, "activity.edit")
    unit_in_body(data.host_unit_id, "host_unit_id", "activity.edit")
    activity = services.create_activity(
        get_session(), current_user.tenant_id, _data(data), actor_user_id=current_user.user_id
    )
    return _out(activity), 201, {"Location": url_for(".get_activity", activity_id=activity.id)}


@api.validate(
    json=ActivityPatch,
    resp=write_responses(HTTP_200=ActivityOut),
    tags=TAGS,
    security=WRITE_SECURITY,
    operation_id="updateActivity",
)
def update_activity(activity_id: int):
    """Change the fields given. Moving a published activity (time or place) tells everyone signed up."""
    patch: ActivityPatch = request.context.json  # type: ignore[attr-defined]
    activity = _managed(activity_id, "activity.edit")
    data = _data(activity)
    for name in patch.model_fields_set:  # fields that may not be null refuse it (422) in the schema
        setattr(data, name, getattr(patch, name))
    if data.host_unit_id != activity.host_unit_id:
        unit_in_body(data.host_unit_id, "host_unit_id", "activity.edit")
    activity = services.update_activity(get_session(), activity, data, actor_user_id=current_user.user_id)
    return _out(activity)


@api.validate(
    json=EmptyIn,
    resp=write_responses(HTTP_200=ActivityOut),
    tags=TAGS,
    security=WRITE_SECURITY,
    operation_id="publishActivity",
)
def publish_activity(activity_id: int):
    """Open sign-up (send {}). Publishing again changes nothing."""
    activity = _managed(activity_id, "activity.edit")
    activity = services.publish_activity(get_session(), activity, actor_user_id=current_user.user_id)
    return _out(activity)


@api.validate(
    json=CancelIn,
    resp=write_responses(HTTP_200=ActivityOut),
    tags=TAGS,
    security=WRITE_SECURITY,
    operation_id="cancelActivity",
)
def cancel_activity(activity_id: int):
    """Cancel with a reason; everyone signed up is told."""
    data: CancelIn = request.context.json  # type: ignore[attr-defined]
    activity = _managed(activity_id, "activity.edit")
    activity = services.cancel_activity(get_session(), activity, data.reason, actor_user_id=current_user.user_id)
    return _out(activity)


# --- sign-ups --------------------------------------------------------------------------------------


@api.validate(
    json=EmptyIn,
    resp=write_responses(HTTP_201=SignupOut),
    tags=TAGS,
    security=WRITE_SECURITY,
    operation_id="signUp",
)
def sign_up(activity_id: int):
    """Sign yourself up (send {}): confirmed while places are left, else on the waiting list."""
    activity = _activity(activity_id)
    signup = services.sign_up(get_session(), activity.id, _me())
    return SignupOut.of(signup), 201


@api.validate(
    resp=write_responses(HTTP_200=SignupOut), tags=TAGS, security=WRITE_SECURITY, operation_id="cancelMySignup"
)
def cancel_my_signup(activity_id: int):
    """Withdraw your sign-up; your place goes to the first on the waiting list."""
    activity = _activity(activity_id)
    signup = services.cancel_signup(get_session(), activity.id, _me())
    return SignupOut.of(signup)


@api.validate(
    query=SignupQuery, resp=responses(HTTP_200=SignupPage, HTTP_403=FORBIDDEN), tags=TAGS, operation_id="listSignups"
)
def list_signups(activity_id: int):
    """Who signed up (organisers): confirmed first, then the waiting list in order, then those who cancelled."""
    query: SignupQuery = request.context.query  # type: ignore[attr-defined]
    activity = _managed(activity_id, "activity.view")
    stmt = select(Signup).options(joinedload(Signup.member)).where(Signup.activity_id == activity.id)
    if query.status:
        stmt = stmt.where(Signup.status == query.status)
    order = case((Signup.status == CONFIRMED, 0), (Signup.status == WAITLISTED, 1), else_=2)
    stmt = stmt.order_by(order, Signup.queued_at, Signup.id)
    return page_of(stmt, query, SignupOut, SignupPage)


# --- codes and scans -------------------------------------------------------------------------------


def _code(purpose: str, activity: Activity) -> CodeOut:
    token = make_token(purpose, activity.tenant_id, activity.id)
    return CodeOut(token=token, url=url_for("activities.scan_page", token=token, _external=True))


@api.validate(resp=responses(HTTP_200=CodesOut, HTTP_403=FORBIDDEN), tags=TAGS, operation_id="getActivityCodes")
def get_codes(activity_id: int):
    """The current rotating check-in and check-out codes (new every 30 s) and the posters' codes."""
    activity = _managed(activity_id, "attendance.manage")
    return CodesOut(
        activity_id=activity.id,
        checkin=_code("activity_checkin", activity),
        checkout=_code("activity_checkout", activity),
        seconds_to_next=seconds_to_next_step("activity_checkin"),
        poster_checkin=_code("poster_checkin", activity),
        poster_checkout=_code("poster_checkout", activity),
    )


def _scan_message(result: services.ScanResult) -> str:
    a = result.attendance
    if result.direction == CHECKIN:
        if result.already and a.checked_out_at is not None:
            return _(
                "You checked in at %(came)s and out at %(left)s (Beijing time); scanning again changes nothing. "
                "If you are still here, ask the organiser to correct your times.",
                came=beijing(a.checked_in_at, "%H:%M"),
                left=beijing(a.checked_out_at, "%H:%M"),
            )
        if result.already:
            return _("You were already checked in at %(time)s (Beijing time).", time=beijing(a.checked_in_at, "%H:%M"))
        return _("Checked in at %(time)s (Beijing time).", time=beijing(a.checked_in_at, "%H:%M"))
    if result.already and a.checked_out_at is not None:
        return _("You were already checked out at %(time)s (Beijing time).", time=beijing(a.checked_out_at, "%H:%M"))
    if result.already:
        return _("Your attendance is already closed.")
    return _(
        "Checked out at %(time)s (Beijing time): %(minutes)d minutes credited, waiting for the organiser's review.",
        time=beijing(a.checked_out_at, "%H:%M"),
        minutes=a.credited_minutes or 0,
    )


@api.validate(
    json=ScanIn,
    resp=write_responses(HTTP_200=ScanOut),
    tags=TAGS,
    security=WRITE_SECURITY,
    operation_id="scan",
)
def scan():
    """Record the check-in or check-out a scanned code stands for, for you. A second scan changes
    nothing and says so (`already`)."""
    data: ScanIn = request.context.json
    # The member is read with the activity, in the scan's one read (no ORM member loaded on a first
    # check-in); the answer names them as signed in.
    result = services.scan_member(
        get_session(), current_user.tenant_id, current_user.member_id, data.token, data.lat, data.lng
    )
    return ScanOut(
        direction=result.direction,
        already=result.already,
        message=_scan_message(result),
        activity_id=result.activity.id,
        activity_title=result.activity.title,
        attendance=AttendanceOut.of(result.attendance, member_name=current_user.name),
    )


# --- attendances and review ------------------------------------------------------------------------


def _missing(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(
        _("Some fields need fixing."), details=[{"field": field, "code": "missing", "message": message}]
    )


@api.validate(
    json=AttendanceIn,
    resp=write_responses(HTTP_201=AttendanceOut, HTTP_200=(AttendanceOut, "Already recorded: nothing changed")),
    tags=TAGS,
    security=WRITE_SECURITY,
    operation_id="recordAttendance",
)
def record_attendance(activity_id: int):
    """Check a member in or out by hand (kind in / out, with a reason), or enter their attendance from
    a paper sign-in sheet (kind paper, both times). 201 when recorded; 200 when the member was already
    checked in (or out) and nothing changed."""
    data: AttendanceIn = request.context.json  # type: ignore[attr-defined]
    db = get_session()
    activity = _managed(activity_id, "attendance.manage")
    try:
        member = people.get_member(db, current_user.tenant_id, data.member_id)
    except NotFound:
        raise ValidationFailed(
            _("Some fields need fixing."),
            details=[{"field": "member_id", "code": "unknown", "message": _("No such member.")}],
        ) from None
    if data.kind == "paper":
        if data.checked_in_at is None:
            raise _missing("checked_in_at", _("Give the time they came, from the sheet."))
        if data.checked_out_at is None:
            raise _missing("checked_out_at", _("Give the time they left, from the sheet."))
        attendance = services.record_paper(
            db,
            activity,
            member,
            checked_in_at=data.checked_in_at,
            checked_out_at=data.checked_out_at,
            reason=data.reason,
            actor_user_id=current_user.user_id,
        )
        return AttendanceOut.of(attendance), 201
    if not data.reason:
        raise _missing("reason", _("Say why you record this by hand (for example: phone battery empty)."))
    result = services.record_by_hand(
        db,
        activity,
        member,
        direction=data.kind,
        at=data.at or utcnow(),
        reason=data.reason,
        actor_user_id=current_user.user_id,
    )
    return AttendanceOut.of(result.attendance), 200 if result.already else 201


@api.validate(
    query=AttendanceQuery,
    resp=responses(HTTP_200=AttendancePage, HTTP_403=FORBIDDEN),
    tags=TAGS,
    operation_id="listAttendances",
)
def list_attendances(activity_id: int):
    """Attendances of the activity (organisers), in check-in order; `status` filters."""
    query: AttendanceQuery = request.context.query  # type: ignore[attr-defined]
    activity = _managed(activity_id, "activity.view")
    stmt = select(Attendance).options(joinedload(Attendance.member)).where(Attendance.activity_id == activity.id)
    if query.status:
        stmt = stmt.where(Attendance.status == query.status)
    stmt = stmt.order_by(Attendance.checked_in_at, Attendance.id)
    return page_of(stmt, query, AttendanceOut, AttendancePage)


@bulk
@api.validate(
    json=ReviewIn,
    resp=write_responses(HTTP_200=ReviewOut),
    tags=TAGS,
    security=WRITE_SECURITY,
    operation_id="reviewAttendances",
)
def review(activity_id: int):
    """Approve, adjust and reject attendances, all or nothing; each volunteer is told. Nobody reviews
    their own attendance (own_attendance)."""
    data: ReviewIn = request.context.json  # type: ignore[attr-defined]
    activity = _managed(activity_id, "attendance.review")
    outcome = services.review(
        get_session(),
        activity,
        services.Review(
            approve=data.approve,
            adjust=[(a.id, a.minutes, a.reason) for a in data.adjust],
            reject=[(r.id, r.reason) for r in data.reject],
        ),
        actor_user_id=current_user.user_id,
        actor_member_id=current_user.member_id,
    )
    return ReviewOut(
        approved=outcome.approved, adjusted=outcome.adjusted, rejected=outcome.rejected, points=outcome.points
    )
