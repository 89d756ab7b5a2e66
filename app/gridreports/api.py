"""The gridreports area's JSON API (app/gridreports/blueprint.py routes it): make a report, my reports,
the triage queue, and the three decisions. Photos are added on the report page (a JSON body is at most
64 KB); a report made here has none."""

from __future__ import annotations

from flask import request, url_for
from flask_login import current_user

from app.access import path_filter, require
from app.api.blueprints import page_of
from app.api.openapi import FILE_BODY, WRITE_SECURITY, api, large_body, responses, write_responses
from app.api.schemas import ErrorOut, PageQuery
from app.db import get_session
from app.pagination import paginate
from app.people import services as people
from app.places.models import OrgUnit
from app.places.services import get_unit

from . import services
from .limits import submit_limit
from .photos import upload_dir
from .schemas import DuplicateIn, RejectIn, ReportIn, ReportOut, ReportPage, TriagePage, TriageQuery, VerifyIn

TAGS = ["grid reports"]
FORBIDDEN = (ErrorOut, "Not allowed")


def _me():
    return people.get_member(get_session(), current_user.tenant_id, current_user.member_id)


def _report(report_id: int, action: str):
    report = services.get_report(get_session(), current_user.tenant_id, report_id)
    require(current_user, action, report)
    return report


@large_body(FILE_BODY)
@api.validate(
    json=ReportIn,
    resp=write_responses(
        HTTP_201=ReportOut,
        HTTP_422=(ErrorOut, "Invalid report"),
        HTTP_429=(ErrorOut, "Too many reports: 10 an hour and 30 a day per member; the message says until when"),
    ),
    tags=TAGS,
    security=WRITE_SECURITY,
    operation_id="createGridReport",
)
@submit_limit
def create_report():
    """Report a problem in a grid (default: your own grid). Errors: `report_invalid`, `grid_required`."""
    data: ReportIn = request.context.json
    db = get_session()
    grid = get_unit(db, current_user.tenant_id, data.grid_id) if data.grid_id else None
    report = services.submit_report(
        db,
        _me(),
        category=data.category,
        text=data.text,
        grid=grid,
        lat=data.lat,
        lng=data.lng,
        photos=list(data.photos),
        upload_dir=upload_dir(),
    )
    return ReportOut.of(report), 201, {"Location": url_for(".get_report", report_id=report.id)}


@api.validate(resp=responses(HTTP_200=ReportOut, HTTP_403=FORBIDDEN), tags=TAGS, operation_id="getGridReport")
def get_report(report_id: int):
    """One grid report: yours, or one in the grids you may see (404 otherwise)."""
    return ReportOut.of(_report(report_id, "gridreport.view"))


@api.validate(query=PageQuery, resp=responses(HTTP_200=ReportPage), tags=TAGS, operation_id="myGridReports")
def my_reports():
    """Your grid reports, newest first, each with its status in words."""
    return page_of(services.my_reports_query(_me()), request.context.query, ReportOut, ReportPage)


@api.validate(
    query=TriageQuery,
    resp=responses(HTTP_200=TriagePage, HTTP_403=FORBIDDEN),
    tags=TAGS,
    operation_id="gridReportsToTriage",
)
def triage_queue():
    """Reports in the grids you admin: by default those waiting (oldest first), with the overdue ones named."""
    query: TriageQuery = request.context.query
    require(current_user, "gridreport.triage")
    db = get_session()
    stmt = services.triage_query(
        current_user.tenant_id, None if query.status == "all" else query.status, query.category
    ).where(path_filter(current_user, "gridreport.triage", OrgUnit.path))
    page = paginate(db, stmt, size=query.page_size, number=query.page)
    cutoff = services.overdue_before(db, current_user.tenant_id)
    return TriagePage(
        items=[ReportOut.of(r) for r in page.items],
        overdue_ids=[r.id for r in page.items if services.is_overdue(r, cutoff)],
        page=page.number,
        page_size=page.size,
        has_next=page.has_next,
    )


@api.validate(
    json=VerifyIn,
    resp=write_responses(HTTP_200=ReportOut),
    tags=TAGS,
    security=WRITE_SECURITY,
    operation_id="verifyGridReport",
)
def verify(report_id: int):
    """Verify a waiting report of a grid you admin; its reporter's points are credited once by the
    district's rule. Error: `already_triaged`."""
    report = _report(report_id, "gridreport.triage")
    return ReportOut.of(
        services.verify_report(get_session(), report, current_user.user_id, actor_member_id=current_user.member_id)
    )


@api.validate(
    json=RejectIn,
    resp=write_responses(HTTP_200=ReportOut),
    tags=TAGS,
    security=WRITE_SECURITY,
    operation_id="rejectGridReport",
)
def reject(report_id: int):
    """Do not accept a waiting report, with a reason the reporter reads. Errors: `reason_required`,
    `already_triaged`."""
    data: RejectIn = request.context.json  # type: ignore[attr-defined]
    report = _report(report_id, "gridreport.triage")
    return ReportOut.of(services.reject_report(get_session(), report, current_user.user_id, data.reason))


@api.validate(
    json=DuplicateIn,
    resp=write_responses(HTTP_200=ReportOut, HTTP_422=(ErrorOut, "Not a report this one can repeat")),
    tags=TAGS,
    security=WRITE_SECURITY,
    operation_id="markGridReportDuplicate",
)
def mark_duplicate(report_id: int):
    """Mark a waiting report as repeating an earlier one. Errors: `duplicate_invalid`, `already_triaged`."""
    data: DuplicateIn = request.context.json  # type: ignore[attr-defined]
    db = get_session()
    report = _report(report_id, "gridreport.triage")
    original = services.get_report(db, current_user.tenant_id, data.duplicate_of_id)
    require(current_user, "gridreport.view", original)
    return ReportOut.of(services.mark_duplicate(db, report, current_user.user_id, original, data.reason))
