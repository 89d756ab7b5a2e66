"""Members (real-name residents) and who serves which grid (包格联户 assignments, with history)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, Id, utcnow
from app.places.models import OrgUnit
from app.points.accounts import wallet_code

from .labels import ACTIVE, ASSIGNMENT_ROLES, STATUSES

__all__ = ["ASSIGNMENT_ROLES", "STATUSES", "GridAssignment", "ImportJob", "Member", "MemberCode"]


class Member(Base):
    __tablename__ = "members"
    __table_args__ = (
        UniqueConstraint("tenant_id", "mobile"),
        UniqueConstraint("tenant_id", "id_number_hash"),
        CheckConstraint(f"status IN {STATUSES}", name="status"),
        CheckConstraint("length(mobile_tail) = 4", name="mobile_tail_length"),
        Index("ix_members_tenant_name", "tenant_id", "name"),
        Index("ix_members_tenant_mobile_tail", "tenant_id", "mobile_tail"),
        Index("ix_members_grid_id", "grid_id"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("districts.id"))
    # Collation "C" (code point order) on PostgreSQL, as SQLite's BINARY: one index then serves both a
    # name-prefix search and the name order of its results, whatever the database's own collation.
    name: Mapped[str] = mapped_column(String(64).with_variant(String(64, collation="C"), "postgresql"))
    mobile: Mapped[str] = mapped_column(String(11))
    # The last four digits, indexed, because offices search by 手机尾号.
    mobile_tail: Mapped[str] = mapped_column(String(4))
    # 身份证: never stored in plain — a keyed hash to find duplicates, and the masked form to show.
    id_number_hash: Mapped[str | None] = mapped_column(String(64))
    id_number_masked: Mapped[str | None] = mapped_column(String(18))
    grid_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"))
    status: Mapped[str] = mapped_column(String(16), default=ACTIVE)
    is_volunteer: Mapped[bool] = mapped_column(Boolean, default=True)
    is_party_member: Mapped[bool] = mapped_column(Boolean, default=False)
    party_org: Mapped[str | None] = mapped_column(String(100))  # 党组织 / 党支部
    checkin_community_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"))  # 报到社区
    is_grid_worker: Mapped[bool] = mapped_column(Boolean, default=False)
    is_building_head: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    grid: Mapped[OrgUnit] = relationship(foreign_keys=[grid_id])
    checkin_community: Mapped[OrgUnit | None] = relationship(foreign_keys=[checkin_community_id])
    assignments: Mapped[list[GridAssignment]] = relationship(
        back_populates="member", order_by="GridAssignment.effective_from.desc()"
    )

    # Where the permission check (app/access.py) finds a member: in their residence grid; their own page.
    view_action = "member.view"

    @property
    def scope_path(self) -> str | None:
        return self.grid.path if self.grid is not None else None

    @property
    def owner_member_id(self) -> int:
        return self.id

    @property
    def wallet_code(self) -> str:
        return wallet_code(self.id)

    @property
    def is_active(self) -> bool:
        return self.status == ACTIVE

    @property
    def mobile_masked(self) -> str:
        return mask_mobile(self.mobile)

    @property
    def tags(self) -> list[str]:
        return member_tags(self)


def mask_mobile(mobile: str) -> str:
    return f"{mobile[:3]}****{mobile[-4:]}"


def member_tags(m) -> list[str]:
    """The tags of a member, or of a row with the member's is_* columns (the API's list reads rows)."""
    return [
        t
        for t, on in (
            ("volunteer", m.is_volunteer),
            ("party_member", m.is_party_member),
            ("grid_worker", m.is_grid_worker),
            ("building_head", m.is_building_head),
        )
        if on
    ]


class GridAssignment(Base):
    """A member responsible for a grid (包格联户) from one date to another. Rows are never
    overwritten: ending an assignment only fills in `effective_to`; a change is a new row."""

    __tablename__ = "grid_assignments"
    __table_args__ = (
        CheckConstraint("role IN ('party_member', 'grid_worker', 'building_head')", name="role"),
        CheckConstraint("effective_to IS NULL OR effective_to >= effective_from", name="dates_in_order"),
        CheckConstraint("households IS NULL OR households >= 0", name="households_not_negative"),
        Index("ix_grid_assignments_member_id", "member_id"),
        Index("ix_grid_assignments_org_unit_id", "org_unit_id"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("districts.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"))
    role: Mapped[str] = mapped_column(String(16))
    households: Mapped[int | None] = mapped_column(Integer)
    effective_from: Mapped[date] = mapped_column(Date)
    effective_to: Mapped[date | None] = mapped_column(Date)
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    member: Mapped[Member] = relationship(back_populates="assignments")
    org_unit: Mapped[OrgUnit] = relationship()

    def current(self, on: date) -> bool:
        return self.effective_from <= on and (self.effective_to is None or self.effective_to >= on)


class ImportJob(Base):
    """One member import: its dry-run report, then the state and progress of the real import.

    The uploaded file (`content`) is kept only while the job may still run: it is deleted when the
    job ends (done, failed), when its check found problems, and when nobody runs it in time
    (abandoned). The state machine is app/people/import_job.py's."""

    __tablename__ = "import_jobs"
    __table_args__ = (
        CheckConstraint(
            "status IN ('checked', 'queued', 'importing', 'done', 'failed', 'interrupted', 'abandoned')", name="status"
        ),
        Index("ix_import_jobs_tenant_id", "tenant_id"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("districts.id"))
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # The org-unit path the creator's member.edit reach covered ("/3/17/"); None: the whole district.
    # Who else may see and run the job is decided against it (import_job.visible).
    scope_path: Mapped[str | None] = mapped_column(String(400))
    filename: Mapped[str] = mapped_column(String(255))
    content: Mapped[bytes | None] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(16), default="checked")
    total_rows: Mapped[int] = mapped_column(Integer, default=0)
    processed_rows: Mapped[int] = mapped_column(Integer, default=0)
    error_count: Mapped[int] = mapped_column(Integer, default=0)
    # [{"row": 7, "column": "手机号", "code": "bad_mobile", "params": {}, "value": "138****0000"}]
    errors: Mapped[list | None] = mapped_column(JSON)
    imported_count: Mapped[int] = mapped_column(Integer, default=0)
    # How the job ended, as a code and its parameters (put into words when shown): import_job.outcome_text.
    outcome: Mapped[str | None] = mapped_column(String(40))
    outcome_params: Mapped[dict | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime)  # when the import (not the check) began
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime)  # last progress written by the worker
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)

    # For the permission check (app/access.py): a job sits where it was created (scope_path, a column).
    view_action = "member.import"


class MemberCode(Base):
    """A short code (6 characters, no look-alike characters) a member reads out at an outlet counter
    instead of showing the QR code. Issued on the member's QR page, valid for minutes, used once:
    `used_at` is set by the redemption that consumes it. Unique per district for all time, so an old
    code can never name someone else."""

    __tablename__ = "member_codes"
    __table_args__ = (
        UniqueConstraint("tenant_id", "code"),
        CheckConstraint("expires_at > issued_at", name="expires_after_issued"),
        Index("ix_member_codes_member", "member_id", "issued_at"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("districts.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    code: Mapped[str] = mapped_column(String(8))
    issued_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    used_at: Mapped[datetime | None] = mapped_column(DateTime)
