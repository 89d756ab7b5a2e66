"""Pages of the gridreports area: report a problem (phone first: photos from the camera, the location
from the phone), my reports and one report's page, its photos (only to those who may see the report),
the grid admin's triage queue and decisions (confirmed before they are made), the summary per grid with
a chart and .xlsx, the district's settings, and the home panels."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from io import BytesIO

from flask import Response, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from openpyxl import Workbook
from sqlalchemy import select, true

from app.access import can, path_filter, require
from app.db import get_session, utcnow
from app.errors import AppError, NotFound
from app.forms import show_errors
from app.geo import coordinate
from app.pagination import paginate
from app.people import services as people
from app.places.labels import GRID_TYPE_LABELS
from app.places.models import OrgUnit
from app.places.services import get_unit, path_label, path_labels, search_units
from app.points.grid_report_rules import change_report_rule, report_rule_for
from app.spreadsheets import append_text_row
from app.times import to_beijing, to_utc

from . import services
from .forms import ReportForm, SettingsForm, SummaryForm, TriageForm
from .labels import CATEGORIES, CATEGORY_LABELS, REJECTED, STATUS_LABELS, STATUSES, SUBMITTED
from .limits import submit_limit
from .models import GridReport
from .photos import photo_path, upload_dir

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
LABELS = {"category": CATEGORY_LABELS, "status": STATUS_LABELS}
PHOTO_MAX_AGE = 7 * 86400


def _render(template: str, http_status: int = 200, /, **context):
    # Positional-only: a page's own `status` (a report's state) is template context, never the HTTP status.
    return render_template(template, L=LABELS, **context), http_status


def _me():
    return people.get_member(get_session(), current_user.tenant_id, current_user.member_id)


def _report(report_id: int, action: str = "gridreport.view") -> GridReport:
    report = services.get_report(get_session(), current_user.tenant_id, report_id)
    require(current_user, action, report)
    return report


# --- picking a grid (any member of the district) --------------------------------------------------------


@login_required
def pick_grid():
    """JSON suggestions for the grid field of the report form: active grids of the district."""
    db = get_session()
    found = search_units(
        db, current_user.tenant_id, (request.args.get("q") or "")[:100], true(), kinds=["grid"], limit=15
    )
    paths = path_labels(db, found)
    return jsonify(
        items=[
            {"id": u.id, "name": u.name, "path": paths[u.id], "kind": str(GRID_TYPE_LABELS.get(u.grid_type or "", ""))}
            for u in found
        ]
    )


# --- reporting -----------------------------------------------------------------------------------------


@login_required
@submit_limit
def new_report():
    db = get_session()
    member = _me()
    own_grid = services.member_grid(db, member)
    form = ReportForm()
    if form.validate_on_submit():
        files = [f for f in (form.photos.data or []) if getattr(f, "filename", "")]
        try:
            photos = [f.read() for f in files]
            report = services.submit_report(
                db,
                member,
                category=form.category.data,
                text=form.text.data or "",
                grid=form.grid.data,
                lat=coordinate(form.lat.data),
                lng=coordinate(form.lng.data),
                photos=photos,
                upload_dir=upload_dir(),
            )
        except AppError as e:
            show_errors(form, e)
            return _render("gridreports/new.html", e.status, form=form, own_grid=own_grid)
        flash(_("Thank you. Report No. %(id)d is sent; the grid admin will look at it.", id=report.id), "success")
        return redirect(url_for("gridreports.report_page", report_id=report.id))
    return _render("gridreports/new.html", 422 if form.errors else 200, form=form, own_grid=own_grid)


@login_required
def my_reports():
    db = get_session()
    page = paginate(db, services.my_reports_query(_me()), size=20)
    return _render("gridreports/mine.html", page=page)


def _duplicate_choices(db, report: GridReport) -> list[tuple[int, str]]:
    """Earlier reports of the same grid (last 90 days, not rejected) the admin may say this one repeats."""
    rows = db.scalars(
        select(GridReport)
        .where(
            GridReport.tenant_id == report.tenant_id,
            GridReport.grid_id == report.grid_id,
            GridReport.id != report.id,
            GridReport.status != REJECTED,
            GridReport.created_at <= report.created_at,
            GridReport.created_at >= report.created_at - timedelta(days=90),
        )
        .order_by(GridReport.created_at.desc())
        .limit(50)
    ).all()
    return [
        (
            r.id,
            _("No. %(id)d", id=r.id)
            + f" · {to_beijing(r.created_at):%m-%d} · {CATEGORY_LABELS[r.category]} · {r.text[:30]}",
        )
        for r in rows
    ]


@login_required
def report_page(report_id: int):
    db = get_session()
    report = _report(report_id)
    may_triage = report.status == SUBMITTED and can(current_user, "gridreport.triage", report)
    form = None
    if may_triage:
        form = TriageForm(formdata=None)
        form.duplicate_of.choices = _duplicate_choices(db, report)
    cutoff = services.overdue_before(db, report.tenant_id)
    return _render(
        "gridreports/report.html",
        report=report,
        form=form,
        overdue=services.is_overdue(report, cutoff),
        grid_label=path_label(db, report.grid),
        mine=report.reporter_member_id == current_user.member_id,
        actions=current_app.extensions.get("gridreport_actions", []),
    )


@login_required
def photo(report_id: int, position: int):
    """A report's photo, only to those who may see the report. Its file never changes (named by its
    content), so the browser may keep it — privately — for a week and revalidate by its ETag."""
    db = get_session()
    report = _report(report_id)
    p = services.get_photo(db, report, position)
    path = photo_path(upload_dir(), p.sha256)
    if not path.exists():
        raise NotFound(_("This photo is no longer stored."))
    cache = f"private, max-age={PHOTO_MAX_AGE}, immutable"
    if request.if_none_match.contains(p.sha256):
        return Response(status=304, headers={"ETag": f'"{p.sha256}"', "Cache-Control": cache})
    resp = Response(path.read_bytes(), mimetype="image/jpeg")
    resp.set_etag(p.sha256)
    resp.headers["Cache-Control"] = cache
    return resp


# --- triage --------------------------------------------------------------------------------------------


@login_required
def triage(report_id: int):
    """First POST: the question (what will happen, irreversibly); the answer with confirm=yes decides."""
    db = get_session()
    report = _report(report_id, "gridreport.triage")
    form = TriageForm()
    form.duplicate_of.choices = _duplicate_choices(db, report)
    back = url_for("gridreports.report_page", report_id=report.id)
    if not form.validate_on_submit():
        flash(_("The form expired. Try again."), "error")
        return redirect(back)
    decision = form.decision.data
    if form.confirm.data != "yes":
        original = None
        if decision == "duplicate" and form.duplicate_of.data:
            original = db.get(GridReport, form.duplicate_of.data)
        rule = report_rule_for(db, report.tenant_id, report.created_at)
        return _render(
            "gridreports/confirm.html", report=report, form=form, decision=decision, original=original, rule=rule
        )
    try:
        if decision == "verify":
            services.verify_report(db, report, current_user.user_id, actor_member_id=current_user.member_id)
            flash(_("Report No. %(id)d verified.", id=report.id), "success")
        elif decision == "reject":
            services.reject_report(db, report, current_user.user_id, form.reason.data or "")
            flash(_("Report No. %(id)d not accepted.", id=report.id), "success")
        else:
            if not form.duplicate_of.data:
                raise services.errors.DuplicateInvalid(_("Choose the earlier report it repeats."), "duplicate_of")
            original = services.get_report(db, current_user.tenant_id, form.duplicate_of.data)
            require(current_user, "gridreport.view", original)
            services.mark_duplicate(db, report, current_user.user_id, original, form.reason.data or "")
            flash(_("Report No. %(id)d marked as a duplicate.", id=report.id), "success")
    except AppError as e:
        flash(e.message, "error")
        return redirect(back)
    return redirect(url_for("gridreports.queue"))


@login_required
def queue():
    require(current_user, "gridreport.triage")
    db = get_session()
    status = request.args.get("status", SUBMITTED)
    status = status if status in STATUSES or status == "all" else SUBMITTED
    category = request.args.get("category") if request.args.get("category") in CATEGORIES else None
    stmt = services.triage_query(current_user.tenant_id, None if status == "all" else status, category).where(
        path_filter(current_user, "gridreport.triage", OrgUnit.path)
    )
    page = paginate(db, stmt, size=30)
    cutoff = services.overdue_before(db, current_user.tenant_id)
    waiting, overdue = services.waiting_counts(
        db, current_user.tenant_id, path_filter(current_user, "gridreport.triage", OrgUnit.path), cutoff
    )
    return _render(
        "gridreports/queue.html",
        page=page,
        cutoff=cutoff,
        shown_status=status,
        category=category,
        waiting=waiting,
        overdue=overdue,
        days=services.triage_days(db, current_user.tenant_id),
    )


# --- the summary per grid ------------------------------------------------------------------------------


def _period() -> tuple[date, date]:
    today = to_beijing(utcnow()).date()
    start, end = today - timedelta(days=365), today
    try:
        start = date.fromisoformat(request.args.get("start") or start.isoformat())
        end = date.fromisoformat(request.args.get("end") or end.isoformat())
    except ValueError:
        start, end = today - timedelta(days=365), today
    if start > end:
        start, end = end, start
    return start, end


def _summary_rows(unit: OrgUnit, start: date, end: date):
    utc_start = to_utc(datetime.combine(start, datetime.min.time()))
    utc_end = to_utc(datetime.combine(end + timedelta(days=1), datetime.min.time()))
    return services.summary_by_grid(
        get_session(), unit, utc_start, utc_end, path_filter(current_user, "gridreport.view", OrgUnit.path)
    )


def _summary_unit(unit_id: int) -> OrgUnit:
    require(current_user, "gridreport.view")
    unit = get_unit(get_session(), current_user.tenant_id, unit_id)
    require(current_user, "gridreport.view", unit)
    return unit


@login_required
def summary_index():
    require(current_user, "gridreport.view")
    form = SummaryForm(request.args)
    if ("unit" in request.args or "unit-text" in request.args) and form.validate():
        args = {k: request.args[k] for k in ("start", "end") if request.args.get(k)}
        return redirect(url_for("gridreports.summary", unit_id=form.unit.data.id, **args))
    return _render("gridreports/summary_index.html", form=form)


@login_required
def summary(unit_id: int):
    unit = _summary_unit(unit_id)
    start, end = _period()
    rows = _summary_rows(unit, start, end)
    shown = [r for r in rows if r.total] or rows
    chart = {
        "type": "bar",
        "labels": [r.name for r in shown],
        "series": [{"label": str(STATUS_LABELS[s]), "data": [r.by_status[s] for r in shown]} for s in STATUSES],
    }
    totals = {
        "status": {s: sum(r.by_status[s] for r in rows) for s in STATUSES},
        "category": {c: sum(r.by_category[c] for r in rows) for c in CATEGORIES},
        "overdue": sum(r.overdue for r in rows),
        "all": sum(r.total for r in rows),
    }
    return _render(
        "gridreports/summary.html",
        unit=unit,
        unit_label=path_label(get_session(), unit),
        rows=rows,
        chart=chart,
        totals=totals,
        start=start,
        end=end,
        statuses=STATUSES,
        categories=CATEGORIES,
    )


@login_required
def summary_xlsx(unit_id: int):
    unit = _summary_unit(unit_id)
    start, end = _period()
    rows = _summary_rows(unit, start, end)
    wb = Workbook()
    ws = wb.active
    ws.title = _("Grid reports")[:31]
    header = (
        [_("Grid")]
        + [str(STATUS_LABELS[s]) for s in STATUSES]
        + [str(CATEGORY_LABELS[c]) for c in CATEGORIES]
        + [_("Overdue"), _("Total")]
    )
    append_text_row(ws, header)
    for r in rows:
        append_text_row(
            ws,
            [r.name]
            + [r.by_status[s] for s in STATUSES]
            + [r.by_category[c] for c in CATEGORIES]
            + [r.overdue, r.total],
        )
    out = BytesIO()
    wb.save(out)
    return Response(
        out.getvalue(),
        mimetype=XLSX,
        headers={"Content-Disposition": f'attachment; filename="grid-reports-{unit.id}-{start}-{end}.xlsx"'},
    )


# --- the district's settings ---------------------------------------------------------------------------


@login_required
def settings():
    require(current_user, "gridreport.settings")
    db = get_session()
    tenant = current_user.tenant_id
    status = 200
    rule = report_rule_for(db, tenant, utcnow())
    if request.method == "POST":
        form = SettingsForm()
        if form.validate():
            try:
                services.set_triage_days(db, tenant, current_user.user_id, form.triage_days.data)
                if (form.points_per_report.data, form.monthly_cap.data) != (rule.points_per_report, rule.monthly_cap):
                    change_report_rule(
                        db,
                        tenant,
                        current_user.user_id,
                        points_per_report=form.points_per_report.data,
                        monthly_cap=form.monthly_cap.data,
                        reason=form.reason.data or "",
                    )
                flash(_("Grid report settings saved."), "success")
                return redirect(url_for("gridreports.settings"))
            except AppError as e:
                show_errors(form, e)
        status = 422
    else:
        form = SettingsForm(
            formdata=None,
            triage_days=services.triage_days(db, tenant),
            points_per_report=rule.points_per_report,
            monthly_cap=rule.monthly_cap,
        )
    return _render("gridreports/settings.html", status, form=form, rule=rule)


# --- home panels ---------------------------------------------------------------------------------------


def admin_panel() -> dict | None:
    """The grid admin's panel: reports waiting for triage in their grids, and how many are overdue."""
    if not current_user.is_authenticated or not can(current_user, "gridreport.triage"):
        return None
    db = get_session()
    cutoff = services.overdue_before(db, current_user.tenant_id)
    waiting, overdue = services.waiting_counts(
        db, current_user.tenant_id, path_filter(current_user, "gridreport.triage", OrgUnit.path), cutoff
    )
    return {"waiting": waiting, "overdue": overdue}


def reporter_panel() -> dict | None:
    """Every member's panel: report a problem, and their latest reports with their status."""
    if not current_user.is_authenticated or not getattr(current_user, "member_id", None):
        return None
    db = get_session()
    recent = db.scalars(
        select(GridReport)
        .where(GridReport.tenant_id == current_user.tenant_id, GridReport.reporter_member_id == current_user.member_id)
        .order_by(GridReport.created_at.desc(), GridReport.id.desc())
        .limit(3)
    ).all()
    return {"recent": recent, "L": LABELS}
