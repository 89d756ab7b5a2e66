"""The member import job: its whole state machine, the background task that runs it, and the sweep.

    upload ─check─> checked ─Import─> queued ─worker─> importing ─> done
                      │  (problems: a report, the file deleted)      └──> failed
                      └─ not run in time ─> abandoned        cut off ─> interrupted ─Import─> queued

A file that cannot be read creates no job. The uploaded file is kept only while the job may still run
(checked without problems, queued, importing, interrupted) and deleted when it ends. Progress and state
live in the job's row, written in short transactions of their own, so any process can read them. A job
is visible to its creator and to users whose member.edit reach covers the area it was created in.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import cast

from flask_babel import gettext as _
from sqlalchemy import Table as SqlTable
from sqlalchemy import and_, bindparam, func, insert, literal, or_, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from app.access import Principal, Scope, can, path_filter, scopes_for
from app.audit.services import record
from app.db import unit_of_work, utcnow
from app.errors import NotFound
from app.jobs import crontab, enqueue_after_commit, flask_app, huey
from app.places.models import OrgUnit
from app.points.accounts import open_wallets
from app.spreadsheets import DEFAULT_LIMITS, SpreadsheetError, Table, append_text_row, read_table

from .member_rows import (
    COLUMNS,
    EXAMPLE_MARK,
    HEADERS,
    IMPORTED_COLUMNS,
    REQUIRED,
    CheckResult,
    check_rows,
    problem_text,
)
from .models import ImportJob, Member
from .services import id_hash_key

MAX_ROWS = DEFAULT_LIMITS.max_rows
WRITE_CHUNK = 1000  # rows per INSERT
STALE_AFTER = timedelta(minutes=5)  # "importing" with no sign of life this long: its worker stopped
ABANDON_AFTER = timedelta(hours=24)  # a checked file nobody imported within this is deleted
WAITING = ("checked", "interrupted")  # states from which "Import" may be pressed
_log = logging.getLogger(__name__)


class ImportRejected(Exception):
    """The real import found bad rows (the district changed since the dry run); nothing was written."""

    def __init__(self, errors: list[dict]):
        super().__init__(f"{len(errors)} problem(s)")
        self.errors = errors


# ---------------------------------------------------------------- reading and checking a file


def read_members_file(filename: str, content: bytes, progress=None) -> Table:
    return read_table(filename, content, COLUMNS, REQUIRED, progress=progress)


def dry_run(
    session: Session,
    tenant_id: int,
    filename: str,
    content: bytes,
    *,
    may_edit: Callable[[OrgUnit], bool],
    id_key: bytes,
) -> CheckResult:
    """Read and check a file; nothing is written. Raises SpreadsheetError for a file that cannot be used."""
    return check_rows(session, tenant_id, read_members_file(filename, content), may_edit=may_edit, id_key=id_key)


def import_file(
    session: Session,
    tenant_id: int,
    filename: str,
    content: bytes,
    *,
    may_edit: Callable[[OrgUnit], bool],
    id_key: bytes,
    actor_user_id: int | None = None,
) -> list[int]:
    """Check the file, then write every member or raise ImportRejected (writing nothing). Only flushes."""
    result = dry_run(session, tenant_id, filename, content, may_edit=may_edit, id_key=id_key)
    if result.errors:
        raise ImportRejected(result.errors)
    return write_members(session, tenant_id, result.members, actor_user_id=actor_user_id, filename=filename)


# ---------------------------------------------------------------- who sees a job


def scope_path_for(principal) -> str | None:
    """The area a job created by `principal` belongs to: the narrowest path covering all of their
    member.edit reach (None: the whole district)."""
    paths = [s.path for s in scopes_for(principal, "member.edit")]
    if not paths or any(p is None for p in paths):
        return None
    known = [p for p in paths if p is not None]  # all of them: None was ruled out above
    common = known[0]
    for p in known[1:]:
        while not p.startswith(common):
            common = common[: common.rstrip("/").rfind("/") + 1]
    return common if common.strip("/") else None


def visible(principal):
    """SQL: the jobs `principal` may list, read and run."""
    return and_(
        ImportJob.tenant_id == principal.tenant_id,
        or_(
            ImportJob.created_by_user_id == principal.user_id,
            path_filter(principal, "member.edit", ImportJob.scope_path),
        ),
    )


def get_job(session: Session, principal, job_id: int) -> ImportJob:
    """The job, or NotFound when it does not exist or is not the user's to see (never 403: its
    existence is not told)."""
    job = session.get(ImportJob, job_id)
    if (
        job is None
        or job.tenant_id != principal.tenant_id
        or not (job.created_by_user_id == principal.user_id or can(principal, "member.edit", job))
    ):
        raise NotFound(_("No such import."))
    return job


def recent_jobs(session: Session, principal, limit: int = 10) -> list[ImportJob]:
    return list(session.scalars(select(ImportJob).where(visible(principal)).order_by(ImportJob.id.desc()).limit(limit)))


# ---------------------------------------------------------------- the state machine


def check_upload(session: Session, principal, filename: str, content: bytes, *, id_key: bytes) -> ImportJob:
    """The dry run of an upload, as a new job. A file that cannot be read raises SpreadsheetError and
    creates nothing; a file with problems keeps its report but not the file."""
    result = dry_run(
        session,
        principal.tenant_id,
        filename,
        content,
        id_key=id_key,
        may_edit=lambda unit: can(principal, "member.edit", unit),
    )
    job = ImportJob(
        tenant_id=principal.tenant_id,
        created_by_user_id=principal.user_id,
        scope_path=scope_path_for(principal),
        filename=filename[-255:] or "members",
        content=None if result.errors else content,
        status="checked",
        total_rows=result.total_rows,
        error_count=len(result.errors),
        errors=result.errors,
        created_at=utcnow(),
    )
    session.add(job)
    session.flush()
    return job


def request_import(session: Session, principal, job: ImportJob) -> bool:
    """ "Import" pressed: queue the job for the worker, enqueued once this transaction commits.

    False when the job cannot be imported now (problems, already queued or done). The conditional
    UPDATE makes a double click queue it once."""
    queued = cast(
        CursorResult,
        session.execute(
            update(ImportJob)
            .where(
                ImportJob.id == job.id,
                ImportJob.status.in_(WAITING),
                ImportJob.error_count == 0,
                ImportJob.content.is_not(None),
            )
            .values(status="queued", processed_rows=0, outcome=None, outcome_params=None)
            .execution_options(synchronize_session=False)
        ),
    ).rowcount
    if queued != 1:
        return False
    session.expire(job)
    enqueue_after_commit(
        session,
        run_member_import,
        job.id,
        principal.user_id,
        principal.member_id,
        [[s.role, s.path] for s in principal.scopes],
    )
    return True


@huey.task()
def run_member_import(job_id: int, user_id: int, member_id: int, scopes: list) -> bool:
    """The worker's task: import a queued job as the user who pressed "Import" (with the reach they had)."""
    app = flask_app()
    with app.app_context():
        factory = app.extensions["db_sessionmaker"]
        with unit_of_work(factory) as s:
            tenant_id = s.scalar(select(ImportJob.tenant_id).where(ImportJob.id == job_id))
        if tenant_id is None:
            return False
        principal = Principal(
            token="",
            user_id=user_id,
            member_id=member_id,
            tenant_id=tenant_id,
            name="",
            scopes=[Scope(role, path) for role, path in scopes],
        )
        return import_queued_job(
            factory,
            job_id,
            may_edit=lambda unit: can(principal, "member.edit", unit),
            id_key=id_hash_key(),
            actor_user_id=user_id,
        )


def import_queued_job(
    factory: sessionmaker, job_id: int, *, may_edit: Callable[[OrgUnit], bool], id_key: bytes, actor_user_id: int | None
) -> bool:
    """Claim a queued job and import it: progress in short transactions while the file is read, then the
    check and every member in ONE transaction that also marks the job done and deletes the file.

    On SQLite no transaction is open while the file is read, so the progress writes never wait for the
    import's own write lock. Returns False when the job was not queued (another worker took it)."""
    with unit_of_work(factory) as s:
        now = utcnow()
        claimed = cast(
            CursorResult,
            s.execute(
                update(ImportJob)
                .where(ImportJob.id == job_id, ImportJob.status == "queued")
                .values(status="importing", processed_rows=0, started_at=now, heartbeat_at=now)
            ),
        ).rowcount
        if claimed != 1:
            return False
        job = s.get(ImportJob, job_id)
        assert job is not None  # the row this transaction just claimed
        tenant_id, filename, content = job.tenant_id, job.filename, job.content

    def progress(n: int) -> None:
        with unit_of_work(factory) as ps:
            ps.execute(
                update(ImportJob)
                .where(ImportJob.id == job_id, ImportJob.status == "importing")
                .values(processed_rows=n, heartbeat_at=utcnow())
            )

    try:
        # A queued job keeps its file: every change that deletes it also moves the job out of "queued".
        assert content is not None
        table = read_members_file(filename, content, progress=progress)
        progress(len(table.rows))
        with unit_of_work(factory) as s:
            result = check_rows(s, tenant_id, table, may_edit=may_edit, id_key=id_key)
            if result.errors:
                raise ImportRejected(result.errors)
            ids = write_members(s, tenant_id, result.members, actor_user_id=actor_user_id, filename=filename)
            # Done, with the members, in one commit: a job cut off before this wrote nothing.
            done = cast(
                CursorResult,
                s.execute(
                    update(ImportJob)
                    .where(ImportJob.id == job_id, ImportJob.status == "importing")
                    .values(
                        status="done",
                        processed_rows=len(ids),
                        imported_count=len(ids),
                        finished_at=utcnow(),
                        content=None,
                        outcome="imported",
                        outcome_params={"n": len(ids)},
                    )
                ),
            ).rowcount
            if done != 1:  # the sweep took it for dead meanwhile: give way, write nothing
                raise _GaveWay()
        return True
    except _GaveWay:
        return False
    except ImportRejected as e:
        _fail(factory, job_id, "changed_since_check", {"n": len(e.errors)}, e.errors)
    except SpreadsheetError as e:
        _fail(factory, job_id, "file_error", {"code": e.code})
    except IntegrityError:
        _fail(factory, job_id, "duplicate_race", {})
    except Exception as e:
        _fail(factory, job_id, "internal_error", {})
        # The kind of error only: a database error's text carries the rows' values (personal data).
        _log.error("member import job %s failed: %s", job_id, type(e).__name__)
    return True


class _GaveWay(Exception):
    pass


def _fail(factory: sessionmaker, job_id: int, outcome: str, params: dict, errors: list[dict] | None = None) -> None:
    values: dict = {
        "status": "failed",
        "outcome": outcome,
        "outcome_params": params,
        "finished_at": utcnow(),
        "processed_rows": 0,
        "content": None,
    }
    if errors is not None:
        values |= {"errors": errors, "error_count": len(errors)}
    with unit_of_work(factory) as s:
        s.execute(update(ImportJob).where(ImportJob.id == job_id).values(**values))


def sweep(factory: sessionmaker, now: datetime | None = None) -> dict[str, int]:
    """Find jobs cut off by a stop (importing, no progress for STALE_AFTER: interrupted, may run again),
    and jobs nobody ran (waiting longer than ABANDON_AFTER: abandoned, their file deleted)."""
    now = now or utcnow()
    with unit_of_work(factory) as s:
        interrupted = cast(
            CursorResult,
            s.execute(
                update(ImportJob)
                .where(
                    ImportJob.status == "importing",
                    func.coalesce(ImportJob.heartbeat_at, ImportJob.started_at, ImportJob.created_at)
                    < now - STALE_AFTER,
                )
                .values(status="interrupted", outcome="interrupted", outcome_params={}, processed_rows=0)
            ),
        ).rowcount
        abandoned = cast(
            CursorResult,
            s.execute(
                update(ImportJob)
                .where(
                    ImportJob.status.in_(("checked", "queued", "interrupted")),
                    ImportJob.content.is_not(None),
                    ImportJob.created_at < now - ABANDON_AFTER,
                )
                .values(status="abandoned", content=None, outcome="abandoned", outcome_params={}, finished_at=now)
            ),
        ).rowcount
    return {"interrupted": interrupted, "abandoned": abandoned}


@huey.periodic_task(crontab(minute="*/5"))
def sweep_import_jobs() -> dict[str, int]:
    app = flask_app()
    with app.app_context():
        return sweep(app.extensions["db_sessionmaker"])


@huey.on_startup()
def _sweep_at_worker_start() -> None:
    try:
        sweep_import_jobs.call_local()
    except Exception:  # the database may not be up yet; the periodic sweep tries again
        _log.exception("import sweep at worker start failed")


def outcome_text(job: ImportJob) -> str | None:
    """How the job ended, in the viewer's language."""
    p = job.outcome_params or {}
    texts = {
        "imported": lambda: _("%(n)d members were imported, each with a points wallet.", n=p.get("n", 0)),
        "changed_since_check": lambda: _(
            "The file no longer passes the checks (the district changed since the "
            "check): %(n)d problems. Nothing was imported.",
            n=p.get("n", 0),
        ),
        "duplicate_race": lambda: _(
            "Someone added a member with the same mobile or ID number while the import ran. "
            "Nothing was imported; upload the file again to check it."
        ),
        "internal_error": lambda: _("The import failed on our side. Nothing was imported; please try again."),
        "file_error": lambda: _("The file could not be read again. Nothing was imported; upload it again."),
        "interrupted": lambda: _(
            "This import was cut off before it finished (the server stopped). Nothing was "
            "imported. You can run it again."
        ),
        "abandoned": lambda: _(
            "This file was not imported within %(h)d hours, so it was deleted. Upload it again to import it.",
            h=int(ABANDON_AFTER.total_seconds() // 3600),
        ),
    }
    return texts[job.outcome]() if job.outcome in texts else None


def problem_rows(job: ImportJob) -> list[dict]:
    """The job's problems as shown: row, column, the (masked) value and the reason in words."""
    return [
        {
            "row": e.get("row"),
            "column": e.get("column"),
            "value": e.get("value", ""),
            "reason": problem_text(e.get("code", ""), e.get("params")),
        }
        for e in (job.errors or [])
    ]


def problems_xlsx(job: ImportJob) -> bytes:
    """The dry run's problems as a workbook with a reason column, to fix the file by."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    ws.title = "problems"
    append_text_row(ws, [_("Row"), _("Column"), _("Value"), _("Problem")])
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for p in problem_rows(job):
        append_text_row(ws, [p["row"], p["column"], p["value"], p["reason"]])
    for letter, width in zip("ABCD", (8, 14, 24, 70), strict=False):
        ws.column_dimensions[letter].width = width
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


# ---------------------------------------------------------------- writing


def write_members(
    session: Session, tenant_id: int, members: list[dict], *, actor_user_id: int | None, filename: str
) -> list[int]:
    """Insert checked members in bulk, open their PT wallets, record one "member.import" event.

    Only flushes: the caller's transaction commits all of it or none."""
    now = utcnow()
    ids: list[int] = []
    insert_chunk = _insert_unnest if session.get_bind().dialect.name == "postgresql" else _insert_many
    for i in range(0, len(members), WRITE_CHUNK):
        ids.extend(insert_chunk(session, tenant_id, members[i : i + WRITE_CHUNK], now))
    open_wallets(session, tenant_id, ids)
    record(
        session,
        "member.import",
        tenant_id=tenant_id,
        actor_user_id=actor_user_id,
        target_type="member",
        detail={"filename": filename, "rows": len(members), "imported": len(ids), "wallets": len(ids)},
    )
    return ids


def _insert_many(session: Session, tenant_id: int, batch: list[dict], now) -> list[int]:
    table = cast(SqlTable, Member.__table__)
    stmt = insert(table).returning(table.c.id, sort_by_parameter_order=True)
    rows = [{**m, "tenant_id": tenant_id, "status": "active", "created_at": now, "updated_at": now} for m in batch]
    return list(session.execute(stmt, rows).scalars())


def _insert_unnest(session: Session, tenant_id: int, batch: list[dict], now) -> list[int]:
    """PostgreSQL: one INSERT … SELECT unnest(array per column). psycopg then converts 12 parameters,
    not 12,000 as a multi-row VALUES list has: about six times faster for a 10,000-row import."""
    table = cast(SqlTable, Member.__table__)
    arrays = select(
        *[func.unnest(bindparam(c, type_=ARRAY(table.c[c].type))).label(c) for c in IMPORTED_COLUMNS]
    ).subquery()
    stmt = (
        insert(table)
        .from_select(
            [*IMPORTED_COLUMNS, "tenant_id", "status", "created_at", "updated_at"],
            select(
                *[arrays.c[c] for c in IMPORTED_COLUMNS],
                literal(tenant_id, table.c.tenant_id.type),
                literal("active"),
                literal(now, table.c.created_at.type),
                literal(now, table.c.updated_at.type),
            ),
        )
        .returning(table.c.id, table.c.mobile)
    )
    # RETURNING's order is not promised for INSERT … SELECT: match ids back by mobile (unique in the file).
    params = {c: [m[c] for m in batch] for c in IMPORTED_COLUMNS}
    id_of = {mobile: id_ for id_, mobile in session.execute(stmt, params)}
    return [id_of[m["mobile"]] for m in batch]


# ---------------------------------------------------------------- the template


def template_xlsx(example_grid: str) -> bytes:
    """An .xlsx with the column headers and one example row (refused if left in: its name says 示例);
    mobile and ID columns formatted as text."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    ws.title = "members"
    append_text_row(ws, HEADERS)
    append_text_row(
        ws, [f"{EXAMPLE_MARK}：张三（导入前删除此行）", "13800138000", "", example_grid, "是", "否", "", "", "否", "否"]
    )
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for letter, width in zip("ABCDEFGHIJ", (26, 15, 22, 24, 8, 8, 18, 16, 8, 8), strict=False):
        ws.column_dimensions[letter].width = width
    # Typed as text, so Excel keeps all 18 characters of an ID number and the leading digits of a mobile.
    for letter in ("B", "C"):
        for row in range(2, 2001):
            ws[f"{letter}{row}"].number_format = "@"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
