"""The points area's JSON API (app/points/blueprint.py routes it): the signed-in member's points and
the district's points rules."""

from __future__ import annotations

from functools import partial

from flask import request
from flask_babel import gettext as _
from flask_login import current_user

from app.access import require, scopes_for
from app.api.openapi import WRITE_SECURITY, api, bulk, responses, write_responses
from app.api.schemas import ErrorOut
from app.db import get_session, utcnow
from app.errors import Forbidden

from . import awards, lots
from . import services as points
from .schemas import (
    AwardDecisionIn,
    AwardIn,
    AwardList,
    AwardOut,
    AwardQuery,
    ExpiringOut,
    ExpiryForecastOut,
    ForecastMonthOut,
    MemberExpiryOut,
    MemberExpiryQuery,
    PointsLineOut,
    PointsOut,
    ReversalOut,
    RuleIn,
    RuleList,
    RuleOut,
)

FORBIDDEN = (ErrorOut, "Visible but not allowed")


@api.validate(resp=responses(HTTP_200=PointsOut), tags=["points"], operation_id="getMyPoints")
def my_points():
    """Your points: available, pending (held until your hours are reviewed), posted, and the latest lines."""
    summary = points.member_points(get_session(), current_user.tenant_id, current_user.member_id)
    return PointsOut(
        available=summary.available,
        pending=summary.pending,
        posted=summary.posted,
        lines=[PointsLineOut.of(line) for line in summary.lines],
        expiring=[
            ExpiringOut(points=p, expires_on=d)
            for p, d in lots.expiring_soon(get_session(), current_user.tenant_id, current_user.member_id, utcnow())
        ],
    )


@api.validate(resp=responses(HTTP_200=RuleList, HTTP_403=FORBIDDEN), tags=["points"], operation_id="listPointsRules")
def list_rules():
    """Every version of the district's points rules."""
    require(current_user, "points.rules.view")
    return RuleList(items=[RuleOut.of(r) for r in points.rule_versions(get_session(), current_user.tenant_id)])


@api.validate(
    json=RuleIn,
    resp=write_responses(HTTP_201=RuleOut),
    tags=["points"],
    security=WRITE_SECURITY,
    operation_id="createPointsRule",
)
def create_rule():
    """A new version of a rule (district administrators); it never prices service already given."""
    data: RuleIn = request.context.json
    require(current_user, "points.rules.edit")
    if not any(s.path is None for s in scopes_for(current_user, "points.rules.edit")):
        raise Forbidden(_("Only a district administrator may change the points rules."))
    rule = points.change_rule(
        get_session(),
        current_user.tenant_id,
        category=data.category,
        points_per_hour=data.points_per_hour,
        rounding_minutes=data.rounding_minutes,
        presence_percent=data.presence_percent,
        missed_checkout=data.missed_checkout,
        grace_minutes=data.grace_minutes,
        effective_from=data.effective_from,
        reason=data.reason,
        actor_user_id=current_user.user_id,
        max_minutes_per_activity=data.max_minutes_per_activity,
        daily_points_cap=data.daily_points_cap,
        monthly_points_cap=data.monthly_points_cap,
    )
    return RuleOut.of(rule), 201


# --- awards (issue 9) -----------------------------------------------------------------------------------


def _district_admin(action: str) -> None:
    require(current_user, action)
    if not any(s.path is None for s in scopes_for(current_user, action)):
        raise Forbidden(_("Only a district administrator may award points or correct them."))


@bulk
@api.validate(
    json=AwardIn,
    resp=write_responses(HTTP_201=AwardOut, HTTP_422=(ErrorOut, "What to fix (code award_invalid)")),
    tags=["points"],
    security=WRITE_SECURITY,
    operation_id="createAward",
)
def create_award():
    """Award points to one member or a list, with a reason and a category. Posted at once when the total
    is at most the district's threshold, else pending until a second district administrator approves."""
    data: AwardIn = request.context.json
    _district_admin("points.awards.edit")
    award = awards.propose(
        get_session(),
        current_user.tenant_id,
        [awards.AwardItem(i.member_id, i.points) for i in data.items],
        category=data.category,
        reason=data.reason,
        actor_user_id=current_user.user_id,
        actor_member_id=current_user.member_id,
    )
    return AwardOut.of(award, awards.lines_of(get_session(), award.id)), 201


@api.validate(
    query=AwardQuery, resp=responses(HTTP_200=AwardList, HTTP_403=FORBIDDEN), tags=["points"], operation_id="listAwards"
)
def list_awards():
    """The district's awards, newest first (the latest 100), optionally only those with one status."""
    query: AwardQuery = request.context.query
    _district_admin("points.awards.view")
    items = awards.awards(get_session(), current_user.tenant_id, status=query.status, limit=100)
    return AwardList(items=[AwardOut.of(a) for a in items])


@api.validate(resp=responses(HTTP_200=AwardOut, HTTP_403=FORBIDDEN), tags=["points"], operation_id="getAward")
def get_award(award_id):
    """One award with its lines."""
    _district_admin("points.awards.view")
    award = awards.get_award(get_session(), current_user.tenant_id, award_id)
    return AwardOut.of(award, awards.lines_of(get_session(), award.id))


def _award_decision(operation_id: str):
    """The API contract shared by the decisions on a pending award: a reason in, the award out."""
    return api.validate(
        json=AwardDecisionIn,
        resp=write_responses(HTTP_200=AwardOut, HTTP_422=(ErrorOut, "What to fix")),
        tags=["points"],
        security=WRITE_SECURITY,
        operation_id=operation_id,
    )


def _decide_award(award_id, decide):
    """A district administrator decides (approve or reject) with the request's reason."""
    data: AwardDecisionIn = request.context.json
    _district_admin("points.awards.edit")
    s = get_session()
    award = decide(s, current_user.tenant_id, award_id, actor_user_id=current_user.user_id, reason=data.reason)
    return AwardOut.of(award, awards.lines_of(s, award.id))


@_award_decision("approveAward")
def approve_award(award_id):
    """Approve a pending award (another district administrator than its proposer and than any member it
    awards: else 403 own_award)."""
    return _decide_award(award_id, partial(awards.approve, actor_member_id=current_user.member_id))


@_award_decision("rejectAward")
def reject_award(award_id):
    """Reject a pending award, with a reason: nothing posts."""
    return _decide_award(award_id, awards.reject)


@api.validate(
    json=AwardDecisionIn,
    resp=write_responses(HTTP_200=ReversalOut, HTTP_422=(ErrorOut, "What to fix")),
    tags=["points"],
    security=WRITE_SECURITY,
    operation_id="reverseAwardLine",
)
def reverse_award_line(line_id):
    """Take back one member's posted award (a correction), with a reason. 409 insufficient_balance when
    the wallet no longer holds the points (the message says the shortfall)."""
    data: AwardDecisionIn = request.context.json
    _district_admin("points.awards.edit")
    line = awards.reverse_award_line(
        get_session(), current_user.tenant_id, line_id, reason=data.reason, actor_user_id=current_user.user_id
    )
    return ReversalOut(points=line.points)


@api.validate(
    json=AwardDecisionIn,
    resp=write_responses(HTTP_200=ReversalOut, HTTP_422=(ErrorOut, "What to fix")),
    tags=["points"],
    security=WRITE_SECURITY,
    operation_id="reverseHours",
)
def reverse_hours(attendance_id):
    """Take back the posted points of one attendance's hours (a correction), with a reason."""
    data: AwardDecisionIn = request.context.json
    _district_admin("points.awards.edit")
    taken = awards.reverse_hours(
        get_session(), current_user.tenant_id, attendance_id, reason=data.reason, actor_user_id=current_user.user_id
    )
    return ReversalOut(points=taken)


@api.validate(
    resp=responses(HTTP_200=ExpiryForecastOut, HTTP_403=FORBIDDEN),
    tags=["points"],
    operation_id="getExpiryForecast",
)
def expiry_forecast():
    """District-wide: open points expiring per month for this month and the next eleven (district
    administrators and auditors: whoever sees the points rules for the whole district)."""
    require(current_user, "points.rules.view")
    if not any(s.path is None for s in scopes_for(current_user, "points.rules.view")):
        raise Forbidden(_("The expiry forecast covers the whole district: only district-wide roles see it."))
    now = utcnow()
    forecast = lots.expiry_forecast(get_session(), current_user.tenant_id, now)
    return ExpiryForecastOut(
        as_of=lots.today_in_beijing(now),
        months=[ForecastMonthOut(month=m.month, points=m.points, members=m.members) for m in forecast.months],
        wallets_behind=forecast.wallets_behind,
    )


@api.validate(
    query=MemberExpiryQuery,
    resp=responses(HTTP_200=MemberExpiryOut, HTTP_403=FORBIDDEN),
    tags=["points"],
    operation_id="getMemberExpiry",
)
def member_expiry(member_id: int):
    """One member's expiry forecast: their points that expire within `days` (default a year), by last day.
    For whoever may see the member (a grid administrator in their grids, district roles); the member
    reads their own in `GET /me/points`."""
    from app.people import services as people

    query: MemberExpiryQuery = request.context.query  # type: ignore[attr-defined]
    db = get_session()
    member = people.get_member(db, current_user.tenant_id, member_id)
    require(current_user, "member.view", member)  # 404 outside the reader's scope
    now = utcnow()
    found = lots.expiring_within(db, current_user.tenant_id, member.id, now, query.days)
    return MemberExpiryOut(
        member_id=member.id,
        as_of=lots.today_in_beijing(now),
        days=query.days,
        total=sum(p for p, _d in found),
        expiring=[ExpiringOut(points=p, expires_on=d) for p, d in found],
    )
