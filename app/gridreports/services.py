"""Grid report use cases: a member reports a problem in a grid (from a phone, with photos and an optional
location); the grid's admin verifies it (the reporter's points are credited by app/points), rejects it
with a reason, or marks it a duplicate of another report; reports waiting longer than the district's
triage period are overdue; the reporter follows the status; the fund reads verified reports to propose
a reward in one step. Services take plain values and the actor, flush, never commit."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload, selectinload

from app.audit.services import record
from app.db import starts_with, utcnow
from app.errors import NotFound
from app.notices.services import notify
from app.people.models import Member
from app.places.models import OrgUnit
from app.points.grid_reports import credit_grid_report

from . import errors
from .labels import (
    CATEGORIES,
    DEFAULT_TRIAGE_DAYS,
    DUPLICATE,
    MAX_PHOTOS,
    MAX_REASON,
    MAX_TEXT,
    REJECTED,
    STATUSES,
    SUBMITTED,
    VERIFIED,
)
from .models import GridReport, GridReportPhoto, GridReportSetting
from .photos import store_photo

# --- the grid ------------------------------------------------------------------------------------------


def grid_of(session: Session, unit: OrgUnit | None) -> OrgUnit | None:
    """The grid a unit stands for: the unit itself when it is a grid, the grid above a building."""
    while unit is not None and unit.kind == "building":
        unit = unit.parent
    return unit if unit is not None and unit.kind == "grid" and unit.active else None


def member_grid(session: Session, member: Member) -> OrgUnit | None:
    """The grid the member belongs to (a report goes there unless they choose another)."""
    return grid_of(session, member.grid)


# --- reporting -----------------------------------------------------------------------------------------


def submit_report(
    session: Session,
    member: Member,
    *,
    category: str,
    text: str,
    grid: OrgUnit | None = None,
    lat: float | None = None,
    lng: float | None = None,
    photos: list[bytes] | None = None,
    upload_dir: str | os.PathLike | None = None,
    now: datetime | None = None,
) -> GridReport:
    """The member's report in `grid` (default: their own grid). Photos (at most 3) are checked, shrunk and
    stored under `upload_dir`; nothing is recorded when anything is wrong."""
    now = now or utcnow()
    text = " ".join((text or "").split("\x00")).strip()
    photos = [p for p in (photos or []) if p]
    if not member.is_active:
        raise errors.ReportInvalid(str(_l("Your membership is not active; ask your community.")))
    if category not in CATEGORIES:
        raise errors.ReportInvalid(str(_l("Choose what kind of problem it is.")), "category")
    if len(text) < 5:
        raise errors.ReportInvalid(str(_l("Say what the problem is and where (at least 5 characters).")), "text")
    if len(text) > MAX_TEXT:
        raise errors.ReportInvalid(str(_l("The description may have at most 1000 characters.")), "text")
    if (lat is None) != (lng is None):
        raise errors.ReportInvalid(str(_l("Give both latitude and longitude, or neither.")), "lat")
    if lat is not None and lng is not None:
        if not (math.isfinite(lat) and math.isfinite(lng) and -90 <= lat <= 90 and -180 <= lng <= 180):
            raise errors.ReportInvalid(str(_l("The location is not a place on Earth; leave it out.")), "lat")
    if len(photos) > MAX_PHOTOS:
        raise errors.PhotoInvalid(str(_l("Add at most 3 photos.")), "photos")
    chosen = grid if grid is not None else member_grid(session, member)
    if chosen is None:
        raise errors.GridRequired(str(_l("Choose the grid where the problem is.")), "grid")
    if chosen.tenant_id != member.tenant_id:
        raise NotFound(str(_l("No such place.")))
    target = grid_of(session, chosen)
    if target is None:
        raise errors.GridRequired(str(_l("Choose a grid (not a street or community) where the problem is.")), "grid")
    if photos and upload_dir is None:
        raise errors.PhotoInvalid(str(_l("Photos cannot be stored here; send the report without them.")), "photos")
    stored = [store_photo(upload_dir, p) for p in photos] if photos else []  # type: ignore[arg-type]
    report = GridReport(
        tenant_id=member.tenant_id,
        grid_id=target.id,
        grid=target,
        reporter_member_id=member.id,
        reporter=member,
        category=category,
        text=text,
        lat=lat,
        lng=lng,
        status=SUBMITTED,
        reason="",
        points=0,
        points_cut=0,
        created_at=now.replace(tzinfo=None),
    )
    session.add(report)
    session.flush()
    for i, s in enumerate(stored, start=1):
        session.add(
            GridReportPhoto(
                tenant_id=member.tenant_id,
                report_id=report.id,
                position=i,
                sha256=s.sha256,
                width=s.width,
                height=s.height,
                size_bytes=s.size_bytes,
                created_at=report.created_at,
            )
        )
    session.flush()
    record(
        session,
        "gridreport.submit",
        tenant_id=member.tenant_id,
        actor_user_id=None,
        target_type="grid_report",
        target_id=report.id,
        detail={"grid_id": target.id, "category": category, "photos": len(stored), "member_id": member.id},
    )
    return report


def get_report(session: Session, tenant_id: int, report_id: int) -> GridReport:
    report = session.scalars(
        select(GridReport)
        .options(
            joinedload(GridReport.grid),
            joinedload(GridReport.reporter),
            selectinload(GridReport.photos),
        )
        .where(GridReport.id == report_id)
    ).first()
    if report is None or report.tenant_id != tenant_id:
        raise NotFound(str(_l("No such grid report.")))
    return report


def get_photo(session: Session, report: GridReport, position: int) -> GridReportPhoto:
    photo = next((p for p in report.photos if p.position == position), None)
    if photo is None:
        raise NotFound(str(_l("No such photo.")))
    return photo


# --- triage --------------------------------------------------------------------------------------------


def _lock_submitted(session: Session, report: GridReport) -> GridReport:
    """The report, locked; AlreadyTriaged unless it is still waiting (so two admins deciding at once
    decide it once, and its points are credited once)."""
    locked = session.scalars(
        select(GridReport).where(GridReport.id == report.id).with_for_update().execution_options(populate_existing=True)
    ).one()
    if locked.status != SUBMITTED:
        raise errors.AlreadyTriaged(str(_l("This report was already triaged.")))
    return locked


def _decided(session: Session, report: GridReport, actor_user_id: int | None, now: datetime, kind: str, params):
    session.flush()
    record(
        session,
        "gridreport.triage",
        tenant_id=report.tenant_id,
        actor_user_id=actor_user_id,
        target_type="grid_report",
        target_id=report.id,
        detail={
            "status": report.status,
            "reason": report.reason,
            "duplicate_of": report.duplicate_of_id,
            "points": report.points,
        },
    )
    notify(
        session,
        report.tenant_id,
        [report.reporter_member_id],
        kind,
        {"id": report.id, **params},
        link=f"/me/grid-reports/{report.id}",
    )
    return report


def verify_report(
    session: Session,
    report: GridReport,
    actor_user_id: int | None,
    now: datetime | None = None,
    *,
    actor_member_id: int | None = None,
) -> GridReport:
    """The grid admin confirms the problem is real: the report is verified and the reporter's points
    are credited by the district's grid report rule (the caller checked the permission). Not by the
    reporter (`actor_member_id`): the points would be their own (own_report)."""
    now = (now or utcnow()).replace(tzinfo=None)
    if actor_member_id is not None and actor_member_id == report.reporter_member_id:
        raise errors.OwnReport(str(_l("You made this report; another grid administrator must verify it.")))
    locked = _lock_submitted(session, report)
    locked.status = VERIFIED
    locked.triaged_by_user_id = actor_user_id
    locked.triaged_at = now
    session.flush()
    grid = session.get(OrgUnit, locked.grid_id)
    credit = credit_grid_report(
        session,
        locked.tenant_id,
        locked.id,
        locked.reporter_member_id,
        locked.grid_id,
        locked.created_at,
        memo=grid.name if grid is not None else "",
    )
    locked.points = credit.points
    locked.points_cut = credit.cut
    locked.journal_id = credit.journal_id
    return _decided(session, locked, actor_user_id, now, "gridreport.verified", {"points": credit.points})


def reject_report(
    session: Session, report: GridReport, actor_user_id: int | None, reason: str, now: datetime | None = None
) -> GridReport:
    """Not a problem to act on (the reporter reads why)."""
    reason = (reason or "").strip()
    if not reason:
        raise errors.ReasonRequired(str(_l("Say why the report is not accepted; the reporter reads it.")), "reason")
    if len(reason) > MAX_REASON:
        raise errors.ReasonRequired(str(_l("The reason may have at most 200 characters.")), "reason")
    now = (now or utcnow()).replace(tzinfo=None)
    locked = _lock_submitted(session, report)
    locked.status = REJECTED
    locked.reason = reason
    locked.triaged_by_user_id = actor_user_id
    locked.triaged_at = now
    return _decided(session, locked, actor_user_id, now, "gridreport.rejected", {"reason": reason})


def mark_duplicate(
    session: Session,
    report: GridReport,
    actor_user_id: int | None,
    original: GridReport,
    reason: str = "",
    now: datetime | None = None,
) -> GridReport:
    """The same problem was reported before (`original`, an earlier report of the district that was not
    rejected; a duplicate's own original when `original` is itself a duplicate). Earns nothing."""
    reason = (reason or "").strip()[:MAX_REASON]
    if original.tenant_id != report.tenant_id:
        raise NotFound(str(_l("No such grid report.")))
    if original.duplicate_of_id is not None:
        target = session.get(GridReport, original.duplicate_of_id)
        original = target if target is not None else original
    if original.id == report.id:
        raise errors.DuplicateInvalid(str(_l("A report cannot repeat itself; choose an earlier one.")), "duplicate_of")
    if original.status == REJECTED:
        raise errors.DuplicateInvalid(
            str(_l("That report was not accepted; reject this one with a reason instead.")), "duplicate_of"
        )
    if (original.created_at, original.id) > (report.created_at, report.id):
        raise errors.DuplicateInvalid(str(_l("Choose a report made before this one.")), "duplicate_of")
    now = (now or utcnow()).replace(tzinfo=None)
    locked = _lock_submitted(session, report)
    locked.status = DUPLICATE
    locked.duplicate_of_id = original.id
    locked.reason = reason
    locked.triaged_by_user_id = actor_user_id
    locked.triaged_at = now
    return _decided(session, locked, actor_user_id, now, "gridreport.duplicate", {"original": original.id})


# --- the triage period ---------------------------------------------------------------------------------


def triage_days(session: Session, tenant_id: int) -> int:
    days = session.scalar(select(GridReportSetting.triage_days).where(GridReportSetting.tenant_id == tenant_id))
    return days if days is not None else DEFAULT_TRIAGE_DAYS


def set_triage_days(
    session: Session, tenant_id: int, actor_user_id: int | None, days: int, now: datetime | None = None
) -> GridReportSetting:
    if not isinstance(days, int) or not 1 <= days <= 60:
        raise errors.SettingInvalid(str(_l("The triage period must be from 1 to 60 days.")), "triage_days")
    now = now or utcnow()
    row = session.scalars(
        select(GridReportSetting).where(GridReportSetting.tenant_id == tenant_id).with_for_update()
    ).first()
    old = row.triage_days if row is not None else DEFAULT_TRIAGE_DAYS
    if row is None:
        row = GridReportSetting(tenant_id=tenant_id)
        session.add(row)
    row.triage_days = days
    row.updated_by_user_id = actor_user_id
    row.updated_at = now
    session.flush()
    record(
        session,
        "gridreport.setting_change",
        tenant_id=tenant_id,
        actor_user_id=actor_user_id,
        target_type="grid_report_setting",
        target_id=row.id,
        detail={"triage_days": days, "was": old},
    )
    return row


def overdue_before(session: Session, tenant_id: int, now: datetime | None = None) -> datetime:
    """Reports made before this time and still waiting are overdue."""
    return (now or utcnow()).replace(tzinfo=None) - timedelta(days=triage_days(session, tenant_id))


def is_overdue(report: GridReport, cutoff: datetime) -> bool:
    return report.status == SUBMITTED and report.created_at < cutoff


# --- lists ---------------------------------------------------------------------------------------------


def my_reports_query(member: Member):
    return (
        select(GridReport)
        .options(joinedload(GridReport.grid), selectinload(GridReport.photos))
        .where(GridReport.tenant_id == member.tenant_id, GridReport.reporter_member_id == member.id)
        .order_by(GridReport.created_at.desc(), GridReport.id.desc())
    )


def triage_query(tenant_id: int, status: str | None = SUBMITTED, category: str | None = None):
    """Reports of the district, oldest waiting first (the caller adds the permission's path filter on
    OrgUnit.path)."""
    q = (
        select(GridReport)
        .join(OrgUnit, OrgUnit.id == GridReport.grid_id)
        .options(joinedload(GridReport.grid), joinedload(GridReport.reporter), selectinload(GridReport.photos))
        .where(GridReport.tenant_id == tenant_id)
    )
    if status in STATUSES:
        q = q.where(GridReport.status == status)
    if category in CATEGORIES:
        q = q.where(GridReport.category == category)
    if status == SUBMITTED:
        return q.order_by(GridReport.created_at, GridReport.id)
    return q.order_by(GridReport.created_at.desc(), GridReport.id.desc())


def waiting_counts(session: Session, tenant_id: int, scope_condition, cutoff: datetime) -> tuple[int, int]:
    """(waiting, of which overdue) in the scope."""
    row = session.execute(
        select(func.count(), func.count().filter(GridReport.created_at < cutoff))
        .select_from(GridReport)
        .join(OrgUnit, OrgUnit.id == GridReport.grid_id)
        .where(GridReport.tenant_id == tenant_id, GridReport.status == SUBMITTED, scope_condition)
    ).one()
    return int(row[0]), int(row[1])


def verified_reports_query(tenant_id: int, member_id: int | None = None):
    """Verified reports of the district, newest first, with their reporter and grid: what the fund lists
    to propose a reward in one step (the caller adds its own permission's path filter on OrgUnit.path)."""
    q = (
        select(GridReport)
        .join(OrgUnit, OrgUnit.id == GridReport.grid_id)
        .options(joinedload(GridReport.grid), joinedload(GridReport.reporter))
        .where(GridReport.tenant_id == tenant_id, GridReport.status == VERIFIED)
        .order_by(GridReport.triaged_at.desc(), GridReport.id.desc())
    )
    if member_id is not None:
        q = q.where(GridReport.reporter_member_id == member_id)
    return q


def get_verified_report(session: Session, tenant_id: int, report_id: int) -> GridReport:
    """A verified report (the evidence of a reward); NotFound for any other."""
    report = get_report(session, tenant_id, report_id)
    if report.status != VERIFIED:
        raise NotFound(str(_l("No such verified grid report.")))
    return report


# --- the summary (by grid, category and status) --------------------------------------------------------


@dataclass
class GridSummary:
    grid_id: int
    name: str
    by_status: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATUSES, 0))
    by_category: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CATEGORIES, 0))
    overdue: int = 0

    @property
    def total(self) -> int:
        return sum(self.by_status.values())


def summary_by_grid(
    session: Session, unit: OrgUnit, start: datetime, end: datetime, scope_condition, now: datetime | None = None
) -> list[GridSummary]:
    """Reports made from `start` to `end` (UTC) in the grids under `unit` that the scope allows, counted per
    grid by status and by category; every active grid appears, with or without reports."""
    cutoff = overdue_before(session, unit.tenant_id, now)
    grids = session.scalars(
        select(OrgUnit)
        .where(
            OrgUnit.tenant_id == unit.tenant_id,
            OrgUnit.kind == "grid",
            OrgUnit.retired_at.is_(None),
            starts_with(OrgUnit.path, unit.path),
            scope_condition,
        )
        .order_by(OrgUnit.path)
    ).all()
    rows = {g.id: GridSummary(g.id, g.name) for g in grids}
    counts = session.execute(
        select(
            GridReport.grid_id,
            GridReport.status,
            GridReport.category,
            func.count(),
            func.count().filter(GridReport.status == SUBMITTED, GridReport.created_at < cutoff),
        )
        .join(OrgUnit, OrgUnit.id == GridReport.grid_id)
        .where(
            GridReport.tenant_id == unit.tenant_id,
            starts_with(OrgUnit.path, unit.path),
            scope_condition,
            GridReport.created_at >= start,
            GridReport.created_at < end,
        )
        .group_by(GridReport.grid_id, GridReport.status, GridReport.category)
    ).all()
    for grid_id, status, category, n, overdue in counts:
        row = rows.get(grid_id)
        if row is None:  # a retired grid still has its reports counted
            g = session.get(OrgUnit, grid_id)
            row = rows[grid_id] = GridSummary(grid_id, g.name if g is not None else str(grid_id))
        row.by_status[status] += n
        row.by_category[category] += n
        row.overdue += overdue
    return list(rows.values())
