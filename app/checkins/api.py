"""The checkins area's JSON API (app/checkins/blueprint.py routes it): check-in sites, site scans, my
check-ins, household visits and their confirmation."""

from __future__ import annotations

from flask import request
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.orm import joinedload

from app.access import path_filter, require
from app.api.blueprints import page_of
from app.api.openapi import WRITE_SECURITY, api, responses, write_responses
from app.api.schemas import ErrorOut, PageQuery
from app.db import get_session
from app.people import services as people
from app.places.api import unit_in_body
from app.places.models import OrgUnit

from . import services
from .models import HouseholdVisit
from .schemas import (
    CheckinOut,
    CheckinPage,
    SiteIn,
    SiteOut,
    SitePage,
    SiteScanIn,
    SiteScanOut,
    VisitDecisionIn,
    VisitIn,
    VisitOut,
    VisitPage,
    VisitQuery,
)

TAGS = ["checkins"]
FORBIDDEN = (ErrorOut, "Not allowed")


def _me():
    return people.get_member(get_session(), current_user.tenant_id, current_user.member_id)


@api.validate(
    query=PageQuery, resp=responses(HTTP_200=SitePage, HTTP_403=FORBIDDEN), tags=TAGS, operation_id="listCheckinSites"
)
def list_sites():
    """The check-in sites in your scope."""
    require(current_user, "checkin.site.view")
    stmt = services.sites_query(current_user.tenant_id).where(
        path_filter(current_user, "checkin.site.view", OrgUnit.path)
    )
    return page_of(stmt, request.context.query, SiteOut, SitePage)


@api.validate(
    json=SiteIn,
    resp=write_responses(HTTP_201=SiteOut),
    tags=TAGS,
    security=WRITE_SECURITY,
    operation_id="createCheckinSite",
)
def create_site():
    """A check-in site for a community or area grid in your scope (one per unit)."""
    data: SiteIn = request.context.json
    require(current_user, "checkin.site.edit")
    unit = unit_in_body(data.unit_id, "unit_id", "checkin.site.edit")
    site = services.create_site(
        get_session(), current_user.tenant_id, current_user.user_id, unit, data.name, data.lat, data.lng, data.radius_m
    )
    return SiteOut.of(site), 201


@api.validate(
    json=SiteScanIn,
    resp=write_responses(HTTP_201=SiteScanOut),
    tags=TAGS,
    security=WRITE_SECURITY,
    operation_id="siteScan",
)
def site_scan():
    """Check in at the site a scanned poster or code stands for (party members; once a day per site).
    Errors: `not_a_party_member`, `already_checked_in_today`, `outside_radius`, `location_required`."""
    data: SiteScanIn = request.context.json
    # The member is read with the site, in the scan's one read (no ORM member loaded here).
    result = services.check_in_member(
        get_session(), current_user.tenant_id, current_user.member_id, data.token, data.lat, data.lng
    )
    c = result.checkin
    message = _("Checked in at %(site)s: +%(points)d points", site=result.site.name, points=c.points)
    if c.points_cut:
        message += " " + _("(this month's check-in points reached the cap of %(cap)d)", cap=c.monthly_cap or 0)
    code = "cap_reached" if c.points_cut else "checked_in"
    return SiteScanOut(code=code, message=message, checkin=CheckinOut.of(c)), 201


@api.validate(query=PageQuery, resp=responses(HTTP_200=CheckinPage), tags=TAGS, operation_id="myCheckins")
def my_checkins():
    """Your check-ins, newest first, with the points each earned and what the monthly cap cut off."""
    return page_of(services.my_checkins_query(_me()), request.context.query, CheckinOut, CheckinPage)


@api.validate(
    json=VisitIn,
    resp=write_responses(HTTP_201=VisitOut),
    tags=TAGS,
    security=WRITE_SECURITY,
    operation_id="createHouseholdVisit",
)
def create_visit():
    """Log household visits in a grid you are responsible for; the grid admin confirms them."""
    data: VisitIn = request.context.json
    visit = services.log_visit(get_session(), _me(), data.grid_id, data.visit_date, data.households, data.note)
    return VisitOut.of(visit), 201


@api.validate(
    query=VisitQuery, resp=responses(HTTP_200=VisitPage, HTTP_403=FORBIDDEN), tags=TAGS, operation_id="listVisits"
)
def list_visits():
    """Your visits (`scope=mine`), or those waiting in the grids you admin (`scope=queue`)."""
    query: VisitQuery = request.context.query
    if query.scope == "queue":
        require(current_user, "visit.confirm")
        stmt = services.visit_queue_query(current_user.tenant_id).where(
            path_filter(current_user, "visit.confirm", OrgUnit.path)
        )
    else:
        stmt = services.my_visits_query(_me()).options(joinedload(HouseholdVisit.member))
    return page_of(stmt, query, VisitOut, VisitPage)


@api.validate(
    json=VisitDecisionIn,
    resp=write_responses(HTTP_200=VisitOut),
    tags=TAGS,
    security=WRITE_SECURITY,
    operation_id="decideHouseholdVisit",
)
def decide_visit(visit_id: int):
    """Confirm a visit, or reject it with a reason (the grid's admin only). Error: `already_decided`."""
    data: VisitDecisionIn = request.context.json  # type: ignore[attr-defined]
    db = get_session()
    visit = services.get_visit(db, current_user.tenant_id, visit_id)
    require(current_user, "visit.confirm", visit)
    return VisitOut.of(
        services.decide_visit(
            db, visit, current_user.user_id, data.confirm, data.reason, actor_member_id=current_user.member_id
        )
    )
