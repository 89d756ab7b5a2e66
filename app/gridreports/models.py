"""Grid reports (网格事件上报): a member's report of a problem in a grid, its photos, and the district's
triage setting (how many days a report may wait before it is flagged overdue)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, Float, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, Id, utcnow
from app.people.models import Member
from app.places.models import OrgUnit

from .labels import CATEGORIES, DEFAULT_TRIAGE_DAYS, MAX_PHOTOS, STATUSES


class GridReport(Base):
    """One report. It starts "submitted"; the grid's admin verifies it (points are credited), rejects it
    with a reason, or marks it a duplicate of an earlier report of the same grid. The database refuses
    a decided report without who decided and when, a rejection without a reason, and a duplicate
    without the report it repeats."""

    __tablename__ = "grid_reports"
    __table_args__ = (
        CheckConstraint(f"category IN {CATEGORIES}", name="category"),
        CheckConstraint(f"status IN {STATUSES}", name="status"),
        CheckConstraint("(lat IS NULL) = (lng IS NULL)", name="lat_lng_together"),
        CheckConstraint("points >= 0", name="points"),
        CheckConstraint(
            "(status = 'submitted') = (triaged_at IS NULL AND triaged_by_user_id IS NULL)", name="triaged_when_decided"
        ),
        CheckConstraint("status <> 'rejected' OR reason <> ''", name="rejected_has_reason"),
        CheckConstraint("(status = 'duplicate') = (duplicate_of_id IS NOT NULL)", name="duplicate_has_original"),
        CheckConstraint("duplicate_of_id IS NULL OR duplicate_of_id <> id", name="not_own_duplicate"),
        CheckConstraint("status = 'verified' OR (points = 0 AND journal_id IS NULL)", name="points_only_verified"),
        Index("ix_grid_reports_grid", "tenant_id", "grid_id", "status", "created_at"),
        Index("ix_grid_reports_reporter", "reporter_member_id", "created_at"),
        Index("ix_grid_reports_status", "tenant_id", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("districts.id"))
    grid_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"))
    reporter_member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    category: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(String(1000))
    lat: Mapped[float | None] = mapped_column(Float)
    lng: Mapped[float | None] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(16), default="submitted")
    reason: Mapped[str] = mapped_column(String(200), default="")
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("grid_reports.id"))
    triaged_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    triaged_at: Mapped[datetime | None] = mapped_column(DateTime)
    points: Mapped[int] = mapped_column(Integer, default=0)  # credited on verification
    points_cut: Mapped[int] = mapped_column(Integer, default=0)  # what the monthly cap cut off
    journal_id: Mapped[int | None] = mapped_column(Id)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    grid: Mapped[OrgUnit] = relationship()
    reporter: Mapped[Member] = relationship()
    duplicate_of: Mapped[GridReport | None] = relationship(remote_side="GridReport.id")
    photos: Mapped[list[GridReportPhoto]] = relationship(
        back_populates="report", order_by="GridReportPhoto.position", cascade="all, delete-orphan"
    )

    view_action = "gridreport.view"

    @property
    def scope_path(self) -> str | None:
        return self.grid.path if self.grid is not None else None

    @property
    def owner_member_id(self) -> int:
        return self.reporter_member_id


class GridReportPhoto(Base):
    """A photo of a report, resized and stored as a file named by the SHA-256 of its stored bytes
    (app/gridreports/photos.py)."""

    __tablename__ = "grid_report_photos"
    __table_args__ = (
        UniqueConstraint("report_id", "position"),
        CheckConstraint(f"position >= 1 AND position <= {MAX_PHOTOS}", name="position"),
        CheckConstraint("width > 0 AND height > 0 AND size_bytes > 0", name="dimensions"),
        Index("ix_grid_report_photos_tenant", "tenant_id"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("districts.id"))
    report_id: Mapped[int] = mapped_column(ForeignKey("grid_reports.id"))
    position: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    size_bytes: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    report: Mapped[GridReport] = relationship(back_populates="photos")


class GridReportSetting(Base):
    """A district's triage period: a report waiting longer than `triage_days` is flagged overdue."""

    __tablename__ = "grid_report_settings"
    __table_args__ = (
        UniqueConstraint("tenant_id"),
        CheckConstraint("triage_days >= 1 AND triage_days <= 60", name="triage_days"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("districts.id"))
    triage_days: Mapped[int] = mapped_column(Integer, default=DEFAULT_TRIAGE_DAYS)
    updated_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
