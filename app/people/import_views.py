"""Member import and export pages: upload and dry-run report, background import with progress, .xlsx out.

The import's states and rules are import_job.py's; these views parse, check permission and render."""

from __future__ import annotations

import tempfile
from datetime import date

from flask import current_app, flash, jsonify, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf.file import FileField, FileRequired
from sqlalchemy import select

from app.access import path_filter, require
from app.audit.services import record
from app.db import get_session, unit_of_work
from app.forms import Form
from app.places.models import OrgUnit
from app.spreadsheets import XLSX_MIMETYPE as XLSX
from app.spreadsheets import SpreadsheetError

from . import exporter, import_job
from .models import ImportJob
from .services import id_hash_key
from .views import scoped_member_select


class UploadForm(Form):
    file = FileField(_l("Excel (.xlsx) or CSV file"), validators=[FileRequired(_l("Choose a file to upload."))])


def _job(job_id: int) -> ImportJob:
    return import_job.get_job(get_session(), current_user, job_id)


@login_required
def import_members():
    require(current_user, "member.import")
    db = get_session()
    form = UploadForm()
    file_error = None
    if form.validate_on_submit():
        upload = form.file.data
        try:
            # The dry run runs in the request: MAX_ROWS (50,000) rows are checked in a few seconds.
            job = import_job.check_upload(
                db, current_user, upload.filename or "members", upload.read(), id_key=id_hash_key()
            )
        except SpreadsheetError as e:
            file_error = e.message  # a file that cannot be read creates no job
        else:
            return redirect(url_for("people.import_status", job_id=job.id), 303)
    status = 422 if request.method == "POST" else 200
    return render_template(
        "people/import.html",
        form=form,
        file_error=file_error,
        jobs=import_job.recent_jobs(db, current_user),
        max_rows=import_job.MAX_ROWS,
    ), status


@login_required
def import_template():
    require(current_user, "member.import")
    example = get_session().scalar(
        select(OrgUnit.name)
        .where(
            OrgUnit.tenant_id == current_user.tenant_id,
            OrgUnit.kind == "grid",
            OrgUnit.retired_at.is_(None),
            path_filter(current_user, "member.edit", OrgUnit.path),
        )
        .order_by(OrgUnit.path)
        .limit(1)
    )
    content = import_job.template_xlsx(example or "1")
    return current_app.response_class(
        content, mimetype=XLSX, headers={"Content-Disposition": "attachment; filename=member-import-template.xlsx"}
    )


@login_required
def import_status(job_id: int):
    require(current_user, "member.import")
    job = _job(job_id)
    return render_template(
        "people/import_job.html",
        job=job,
        running=job.status in ("queued", "importing"),
        outcome=import_job.outcome_text(job),
        problems=import_job.problem_rows(job),
        can_run=job.status in import_job.WAITING and not job.error_count and job.content is not None,
    )


@login_required
def import_problems(job_id: int):
    require(current_user, "member.import")
    job = _job(job_id)
    return current_app.response_class(
        import_job.problems_xlsx(job),
        mimetype=XLSX,
        headers={"Content-Disposition": f"attachment; filename=import-{job.id}-problems.xlsx"},
    )


@login_required
def import_status_json(job_id: int):
    require(current_user, "member.import")
    job = _job(job_id)
    return jsonify(
        status=job.status,
        processed_rows=job.processed_rows,
        total_rows=job.total_rows,
        imported_count=job.imported_count,
        error_count=job.error_count,
        message=import_job.outcome_text(job),
    )


@login_required
def run_import(job_id: int):
    require(current_user, "member.import")
    job = _job(job_id)
    if not import_job.request_import(get_session(), current_user, job):
        flash(_("This file cannot be imported now: fix the rows listed and upload it again."), "error")
        return redirect(url_for("people.import_status", job_id=job.id), 303)
    flash(_("The import has started. You can leave this page; the import goes on."), "info")
    return redirect(url_for("people.import_status", job_id=job.id), 303)


@login_required
def export_members():
    require(current_user, "member.export")
    db = get_session()
    stmt, query, grid = scoped_member_select("member.export")
    out = tempfile.TemporaryFile()  # the workbook goes to disk, not memory: a district has 300,000 members
    try:
        count = exporter.write_members_xlsx(db, current_user.tenant_id, stmt, out)
    except BaseException:
        out.close()
        raise
    text = (query.q or "").strip()
    if text.isdecimal() and len(text) == 11:
        text = exporter.mask_mobile(text)  # a whole mobile number is personal data; the log keeps it masked
    # A GET's own transaction only reads (app.db.get_session): the record is its own unit of work.
    with unit_of_work(current_app.extensions["db_sessionmaker"]) as s:
        record(
            s,
            "member.export",
            tenant_id=current_user.tenant_id,
            actor_user_id=current_user.user_id,
            ip=request.remote_addr,
            target_type="member",
            detail={
                "filter": {"q": text, "grid": query.grid_id, "tag": query.tag, "status": query.status},
                "rows": count,
            },
        )
    out.seek(0)
    return send_file(
        out, mimetype=XLSX, as_attachment=True, download_name=f"members-{date.today():%Y%m%d}.xlsx", max_age=0
    )
