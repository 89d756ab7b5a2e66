"""Pages of the reports area: pick a unit (by typing part of its name) and a report; each report's page
(a table and a chart drawn by static/js/reports.js with the vendored Chart.js) and its .xlsx export."""

from __future__ import annotations

from datetime import date
from io import BytesIO

from flask import Response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from openpyxl import Workbook

from app.access import require
from app.db import get_session
from app.places.models import OrgUnit
from app.places.services import get_unit, path_label, path_labels
from app.spreadsheets import append_text_row

from . import services
from .forms import REPORTS, PickForm

ENDPOINTS = {
    "party_checkins": "reports.party_checkins",
    "absent": "reports.absent",
    "grid_coverage": "reports.grid_coverage",
}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _why_labels() -> dict[str, str]:
    return {
        services.RESIDES: _("Lives here"),
        services.CHECKIN_COMMUNITY: _("Reports (报到) to a community here"),
        services.BOTH: _("Lives and reports here"),
    }


def report_unit(unit_id: int) -> OrgUnit:
    """The unit a report is about: 404 when it is not one the user may see, 403 when they may see it
    but not read reports there."""
    require(current_user, "report.view")
    unit = get_unit(get_session(), current_user.tenant_id, unit_id)
    require(current_user, "report.view", unit)
    return unit


def months_arg(default: int) -> int:
    months = request.args.get("months", default, type=int) or default
    return max(1, min(months, services.MAX_MONTHS))


def period_args() -> tuple[date, date]:
    """?from=&to= (ISO dates); default: the last 12 months to today. A bad or reversed one falls back."""
    today = services.beijing_today()
    start, end = services.months_back(today, 12), today
    try:
        start = date.fromisoformat(request.args.get("from") or start.isoformat())
        end = date.fromisoformat(request.args.get("to") or end.isoformat())
    except ValueError:
        start, end = services.months_back(today, 12), today
    if start > end:
        start, end = end, start
    return start, end


def _xlsx(filename: str, title: str, header: list, rows: list[list]) -> Response:
    wb = Workbook()
    ws = wb.active
    ws.title = title[:31]
    append_text_row(ws, header)
    for r in rows:
        append_text_row(ws, r)
    out = BytesIO()
    wb.save(out)
    return Response(
        out.getvalue(), mimetype=XLSX, headers={"Content-Disposition": f'attachment; filename="{filename}"'}
    )


@login_required
def index():
    require(current_user, "report.view")
    form = PickForm(request.args)
    report = request.args.get("report", "party_checkins")
    report = report if report in ENDPOINTS else "party_checkins"
    if ("unit" in request.args or "unit-text" in request.args) and form.validate():
        return redirect(url_for(ENDPOINTS[report], unit_id=form.unit.data.id))
    return render_template("reports/index.html", form=form, reports=REPORTS, report=report)


def _page(template: str, unit: OrgUnit, **context):
    return render_template(template, unit=unit, unit_label=path_label(get_session(), unit), reports=REPORTS, **context)


@login_required
def party_checkins(unit_id: int):
    unit = report_unit(unit_id)
    rows = services.party_checkins(get_session(), unit)
    chart = {
        "type": "bar",
        "labels": [r.label for r in rows],
        "series": [
            {"label": _("Check-ins"), "data": [r.checkins for r in rows]},
            {"label": _("Party members who checked in"), "data": [r.members for r in rows]},
        ],
    }
    return _page("reports/party_checkins.html", unit, rows=rows, chart=chart, total=sum(r.checkins for r in rows))


@login_required
def party_checkins_xlsx(unit_id: int):
    unit = report_unit(unit_id)
    rows = services.party_checkins(get_session(), unit)
    return _xlsx(
        f"party-checkins-{unit.id}.xlsx",
        _("Check-ins by month"),
        [_("Month"), _("Check-ins"), _("Party members who checked in")],
        [[r.label, r.checkins, r.members] for r in rows],
    )


@login_required
def absent(unit_id: int):
    unit = report_unit(unit_id)
    months = months_arg(6)
    number = max(1, min(request.args.get("page", 1, type=int) or 1, 100000))
    db = get_session()
    page = services.absent_page(db, unit, months, number)
    grids = {u.id: u for u in db.query(OrgUnit).filter(OrgUnit.id.in_({r.grid_id for r in page.items}))}
    labels = path_labels(db, grids.values())
    return _page(
        "reports/absent.html",
        unit,
        page=page,
        months=months,
        since=services.cutoff(services.beijing_today(), months),
        grid_labels=labels,
        why=_why_labels(),
    )


@login_required
def absent_xlsx(unit_id: int):
    unit = report_unit(unit_id)
    months = months_arg(6)
    db = get_session()
    rows = services.absent_all(db, unit, months)
    grids = {u.id: u for u in db.query(OrgUnit).filter(OrgUnit.id.in_({r.grid_id for r in rows}))} if rows else {}
    labels = path_labels(db, grids.values())
    why = _why_labels()
    return _xlsx(
        f"absent-party-members-{unit.id}.xlsx",
        _("Not checked in"),
        [_("Name"), _("Grid"), _("Party organisation"), _("Last check-in"), _("Counted because")],
        [
            [
                r.name,
                labels.get(r.grid_id, ""),
                r.party_org or "",
                r.last_checkin.isoformat() if r.last_checkin else _("Never"),
                why[r.why],
            ]
            for r in rows
        ],
    )


@login_required
def grid_coverage(unit_id: int):
    unit = report_unit(unit_id)
    start, end = period_args()
    rows = services.grid_coverage(get_session(), unit, start, end)
    chart = {
        "type": "bar",
        "labels": [r.name for r in rows],
        "series": [{"label": _("Households covered"), "data": [r.households for r in rows]}],
    }
    return _page(
        "reports/grid_coverage.html",
        unit,
        rows=rows,
        start=start,
        end=end,
        chart=chart,
        covered=sum(1 for r in rows if r.covered),
        households=sum(r.households for r in rows),
    )


@login_required
def grid_coverage_xlsx(unit_id: int):
    unit = report_unit(unit_id)
    start, end = period_args()
    rows = services.grid_coverage(get_session(), unit, start, end)
    return _xlsx(
        f"grid-coverage-{unit.id}.xlsx",
        _("Grid coverage"),
        [_("Grid"), _("Responsible party members now"), _("Households covered")],
        [[r.name, r.party_members, r.households] for r in rows],
    )
