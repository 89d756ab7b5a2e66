"""The reports area's JSON API (app/reports/blueprint.py routes it): the same three reports as the pages,
for a unit in the caller's report.view scope (404 outside it)."""

from __future__ import annotations

from flask import request

from app.api.openapi import api, responses
from app.api.schemas import ErrorOut
from app.db import get_session

from . import services
from .schemas import (
    AbsentOut,
    AbsentPage,
    AbsentQuery,
    CheckinsOut,
    CheckinsQuery,
    CoverageOut,
    CoverageQuery,
    GridOut,
    MonthOut,
)
from .views import report_unit

TAGS = ["reports"]
FORBIDDEN = (ErrorOut, "Not allowed")


@api.validate(
    query=CheckinsQuery,
    resp=responses(HTTP_200=CheckinsOut, HTTP_403=FORBIDDEN),
    tags=TAGS,
    operation_id="reportPartyCheckins",
)
def party_checkins():
    """Party members' check-ins at the sites in a unit's subtree, per month (Beijing time)."""
    query: CheckinsQuery = request.context.query
    unit = report_unit(query.unit_id)
    rows = services.party_checkins(get_session(), unit, months=query.months)
    return CheckinsOut(
        unit_id=unit.id,
        unit_name=unit.name,
        months=[MonthOut(month=r.label, checkins=r.checkins, members=r.members) for r in rows],
    )


@api.validate(
    query=AbsentQuery,
    resp=responses(HTTP_200=AbsentPage, HTTP_403=FORBIDDEN),
    tags=TAGS,
    operation_id="reportAbsentPartyMembers",
)
def absent_party_members():
    """Active party members living in the unit's subtree or reporting (报到) to a community in it who have
    not checked in for `months` months (or never), never first, then the longest absent."""
    query: AbsentQuery = request.context.query
    unit = report_unit(query.unit_id)
    page = services.absent_page(get_session(), unit, query.months, query.page, query.page_size)
    return AbsentPage(
        page=page.number,
        page_size=page.size,
        has_next=page.has_next,
        total=page.total,
        since=services.cutoff(services.beijing_today(), query.months),
        items=[AbsentOut.of(r) for r in page.items],
    )


@api.validate(
    query=CoverageQuery,
    resp=responses(HTTP_200=CoverageOut, HTTP_403=FORBIDDEN),
    tags=TAGS,
    operation_id="reportGridCoverage",
)
def grid_coverage():
    """包格联户 coverage: the grids in the unit's subtree, their responsible party members today and the
    households covered by confirmed visits in the period."""
    query: CoverageQuery = request.context.query
    unit = report_unit(query.unit_id)
    today = services.beijing_today()
    start = query.period_from or services.months_back(today, 12)
    end = query.period_to or today
    if start > end:
        start, end = end, start
    rows = services.grid_coverage(get_session(), unit, start, end)
    return CoverageOut(
        unit_id=unit.id,
        unit_name=unit.name,
        period_from=start,
        period_to=end,
        grids=len(rows),
        covered_grids=sum(1 for r in rows if r.covered),
        households=sum(r.households for r in rows),
        items=[
            GridOut(grid_id=r.grid_id, name=r.name, party_members=r.party_members, households=r.households)
            for r in rows
        ],
    )
