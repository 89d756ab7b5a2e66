"""The points area's JSON API (app/points/blueprint.py routes it): the signed-in member's points and
the district's points rules."""

from __future__ import annotations

from flask import request
from flask_babel import gettext as _
from flask_login import current_user

from app.access import require, scopes_for
from app.api.openapi import WRITE_SECURITY, api, responses, write_responses
from app.api.schemas import ErrorOut
from app.db import get_session, utcnow
from app.errors import Forbidden

from . import lots
from . import services as points
from .schemas import ExpiringOut, PointsLineOut, PointsOut, RuleIn, RuleList, RuleOut

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
    )
    return RuleOut.of(rule), 201
