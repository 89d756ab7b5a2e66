"""Member import and export pages: upload and dry-run report, background import with progress, .xlsx out."""

from __future__ import annotations

import tempfile
from datetime import date

from flask import current_app, flash, jsonify, redirect, render_template, request, send_file, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from sqlalchemy import select

from app.audit.services import record
from app.access import can, path_filter, require
from app.db import get_session, unit_of_work, utcnow
from app.errors import NotFound
from app.places.models import OrgUnit

from . import exporter, importer
from .models import ImportJob
from .services import id_hash_key
from .views import bp, scoped_member_select

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class UploadForm(FlaskForm):
    file = FileField(_l("Excel (.xlsx) or CSV file"), validators=[FileRequired(_l("Choose a file to upload."))])


def _job(job_id: int) -> ImportJob:
    job = get_session().get(ImportJob, job_id)
    if job is None or job.tenant_id != current_user.tenant_id:
        raise NotFound(_("No such import."))
    return job


@bp.route("/members/import", methods=["GET", "POST"])
@login_required
def import_members():
    require(current_user, "member.import")
    db = get_session()
    form = UploadForm()
    file_error = None
    if form.validate_on_submit():
        upload = form.file.data
        job = ImportJob(tenant_id=current_user.tenant_id, created_by_user_id=current_user.user_id,
                        filename=(upload.filename or "members")[-255:], content=upload.read(), status="checking",
                        created_at=utcnow())
        db.add(job)
        db.flush()
        try:
            # The dry run runs in the request: MAX_ROWS (50,000) rows are checked in a few seconds.
            result = importer.dry_run(db, current_user.tenant_id, job.filename, job.content, id_key=id_hash_key(),
                                      may_edit=lambda unit: can(current_user, "member.edit", unit))
        except importer.ImportFileError as e:
            file_error = e.message  # the 422 answer rolls the job back: a file that cannot be read is not kept
        else:
            job.status, job.total_rows, job.error_count = "checked", result.total_rows, len(result.errors)
            job.errors = result.errors
            return redirect(url_for("people.import_status", job_id=job.id), 303)
    jobs = list(db.scalars(select(ImportJob).where(ImportJob.tenant_id == current_user.tenant_id)
                           .order_by(ImportJob.id.desc()).limit(10)))
    status = 422 if request.method == "POST" else 200
    return render_template("people/import.html", form=form, file_error=file_error, jobs=jobs,
                           max_rows=importer.MAX_ROWS), status


@bp.get("/members/import/template.xlsx")
@login_required
def import_template():
    require(current_user, "member.import")
    example = get_session().scalar(
        select(OrgUnit.name).where(OrgUnit.tenant_id == current_user.tenant_id, OrgUnit.kind == "grid",
                                   OrgUnit.retired_at.is_(None), path_filter(current_user, "member.edit", OrgUnit.path))
        .order_by(OrgUnit.path).limit(1))
    content = importer.template_xlsx(example or "1")
    return current_app.response_class(content, mimetype=XLSX, headers={
        "Content-Disposition": "attachment; filename=member-import-template.xlsx"})


@bp.get("/members/import/<int:job_id>")
@login_required
def import_status(job_id: int):
    require(current_user, "member.import")
    job = _job(job_id)
    # Just after "Import" the thread may not have claimed the job yet: show progress, not the button again.
    starting = request.args.get("started") == "1" and job.status == "checked" and not job.error_count
    interrupted = job.interrupted(utcnow())
    return render_template("people/import_job.html", job=job, interrupted=interrupted,
                           running=starting or (job.status == "importing" and not interrupted))


@bp.get("/members/import/<int:job_id>/status.json")
@login_required
def import_status_json(job_id: int):
    require(current_user, "member.import")
    job = _job(job_id)
    processed = max(job.processed_rows, importer.LIVE_PROGRESS.get(job.id, 0)) if job.status == "importing" \
        else job.processed_rows
    return jsonify(status=job.status, processed_rows=processed, total_rows=job.total_rows,
                   imported_count=job.imported_count, error_count=job.error_count, message=job.message)


@bp.post("/members/import/<int:job_id>/run")
@login_required
def run_import(job_id: int):
    require(current_user, "member.import")
    job = _job(job_id)
    if not (job.status == "checked" or job.interrupted(utcnow())) or job.error_count:
        flash(_("This file cannot be imported now: fix the rows listed and upload it again."), "error")
        return redirect(url_for("people.import_status", job_id=job.id), 303)
    # The thread claims the job (checked → importing) in its own transaction, so a second click finds
    # nothing to claim; on SQLite it waits for this request's transaction to end first.
    importer.start_import_thread(current_app._get_current_object(), job.id, current_user._get_current_object(),
                                 str(get_locale()))
    flash(_("The import has started. You can leave this page; the import goes on."), "info")
    return redirect(url_for("people.import_status", job_id=job.id, started=1), 303)


@bp.get("/members/export.xlsx")
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
    if text.isdigit() and len(text) == 11:
        text = exporter.mask_mobile(text)  # a whole mobile number is personal data; the log keeps it masked
    # A GET's own transaction only reads (app.db.get_session): the record is its own unit of work.
    with unit_of_work(current_app.extensions["db_sessionmaker"]) as s:
        record(s, "member.export", tenant_id=current_user.tenant_id, actor_user_id=current_user.user_id,
               ip=request.remote_addr, target_type="member",
               detail={"filter": {"q": text, "grid": query.grid_id, "tag": query.tag, "status": query.status},
                       "rows": count})
    out.seek(0)
    return send_file(out, mimetype=XLSX, as_attachment=True, download_name=f"members-{date.today():%Y%m%d}.xlsx",
                     max_age=0)
