"""Activities, sign-ups (with a waiting list), attendances (check-in, check-out, credited time, review)
and the log of every scan."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, Id, utcnow
from app.people.models import Member
from app.places.models import OrgUnit
from app.points.labels import CATEGORIES

from .labels import (
    ACTIVITY_STATUSES,
    ATTENDANCE_STATUSES,
    DRAFT,
    ELIGIBILITY,
    IN,
    SIGNUP_STATUSES,
    SOURCES,
)


class Activity(Base):
    __tablename__ = "activities"
    __table_args__ = (
        CheckConstraint(f"status IN {ACTIVITY_STATUSES}", name="status"),
        CheckConstraint(f"category IN {CATEGORIES}", name="category"),
        CheckConstraint(f"eligibility IN {ELIGIBILITY}", name="eligibility"),
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        CheckConstraint("capacity >= 1", name="capacity"),
        CheckConstraint("confirmed_count >= 0 AND confirmed_count <= capacity", name="confirmed_within_capacity"),
        CheckConstraint("radius_m IS NULL OR (radius_m >= 10 AND lat IS NOT NULL AND lng IS NOT NULL)", name="radius"),
        Index("ix_activities_tenant_starts", "tenant_id", "starts_at"),
        Index("ix_activities_host_unit_id", "host_unit_id"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("districts.id"))
    title: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[str] = mapped_column(String(16))
    host_unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"))
    place: Mapped[str] = mapped_column(String(200))
    lat: Mapped[float | None] = mapped_column(Float)
    lng: Mapped[float | None] = mapped_column(Float)
    radius_m: Mapped[int | None] = mapped_column(Integer)  # scans from farther away are refused
    starts_at: Mapped[datetime] = mapped_column(DateTime)  # UTC
    ends_at: Mapped[datetime] = mapped_column(DateTime)  # UTC
    capacity: Mapped[int] = mapped_column(Integer)
    # Kept in step with the confirmed sign-ups under the activity's row lock; the CHECK above makes the
    # database refuse a sign-up beyond capacity whatever the code does.
    confirmed_count: Mapped[int] = mapped_column(Integer, default=0)
    signup_opens_at: Mapped[datetime | None] = mapped_column(DateTime)
    signup_closes_at: Mapped[datetime | None] = mapped_column(DateTime)
    eligibility: Mapped[str] = mapped_column(String(16), default="district")
    eligible_unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"))  # the community
    eligible_tag: Mapped[str | None] = mapped_column(String(32))
    walk_ins: Mapped[bool] = mapped_column(Boolean, default=True)  # may people who did not sign up check in?
    status: Mapped[str] = mapped_column(String(16), default=DRAFT)
    cancel_reason: Mapped[str | None] = mapped_column(String(200))
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(DateTime)
    # Missed check-outs of this activity were closed by the job (so it runs once per activity).
    closed_at: Mapped[datetime | None] = mapped_column(DateTime)

    host_unit: Mapped[OrgUnit] = relationship(foreign_keys=[host_unit_id])
    eligible_unit: Mapped[OrgUnit | None] = relationship(foreign_keys=[eligible_unit_id])

    # Where the permission check finds it: under its host unit.
    view_action = "activity.view"

    @property
    def scope_path(self) -> str | None:
        return self.host_unit.path if self.host_unit is not None else None


class Signup(Base):
    __tablename__ = "activity_signups"
    __table_args__ = (
        UniqueConstraint("activity_id", "member_id"),
        CheckConstraint(f"status IN {SIGNUP_STATUSES}", name="status"),
        Index("ix_activity_signups_member_id", "member_id"),
        Index("ix_activity_signups_queue", "activity_id", "status", "queued_at"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("districts.id"))
    activity_id: Mapped[int] = mapped_column(ForeignKey("activities.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    status: Mapped[str] = mapped_column(String(16))
    queued_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)  # the waiting list's order
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    activity: Mapped[Activity] = relationship()
    member: Mapped[Member] = relationship()


class Attendance(Base):
    """One member at one activity: when they came and left, how each was recorded, what is credited,
    the pending points journal, and the review."""

    __tablename__ = "attendances"
    __table_args__ = (
        UniqueConstraint("activity_id", "member_id"),
        CheckConstraint(f"status IN {ATTENDANCE_STATUSES}", name="status"),
        CheckConstraint(f"checkin_source IN {SOURCES}", name="checkin_source"),
        CheckConstraint(f"checkout_source IS NULL OR checkout_source IN {SOURCES}", name="checkout_source"),
        CheckConstraint("checked_out_at IS NULL OR checked_out_at >= checked_in_at", name="out_after_in"),
        CheckConstraint("credited_minutes >= 0 AND points >= 0", name="credit_not_negative"),
        Index("ix_attendances_activity_status", "activity_id", "status"),
        Index("ix_attendances_member_id", "member_id"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("districts.id"))
    activity_id: Mapped[int] = mapped_column(ForeignKey("activities.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    status: Mapped[str] = mapped_column(String(16), default=IN)
    checked_in_at: Mapped[datetime] = mapped_column(DateTime)
    checkin_source: Mapped[str] = mapped_column(String(8))
    checked_out_at: Mapped[datetime | None] = mapped_column(DateTime)
    checkout_source: Mapped[str | None] = mapped_column(String(8))
    paper: Mapped[bool] = mapped_column(Boolean, default=False)  # 补录: from a paper sheet, flagged in review
    manual_reason: Mapped[str | None] = mapped_column(String(200))
    recorded_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # manual / paper entries
    present_minutes: Mapped[int] = mapped_column(Integer, default=0)
    presence_percent: Mapped[int] = mapped_column(Integer, default=0)
    credited_minutes: Mapped[int] = mapped_column(Integer, default=0)
    points: Mapped[int] = mapped_column(Integer, default=0)
    zero_reason: Mapped[str | None] = mapped_column(String(32))
    rule_id: Mapped[int | None] = mapped_column(Integer)
    rule_version: Mapped[int | None] = mapped_column(Integer)
    journal_id: Mapped[int | None] = mapped_column(Integer)  # the pending points journal (ledger id)
    points_cut: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # what a cap cut off
    review_reason: Mapped[str | None] = mapped_column(String(200))
    reviewed_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    activity: Mapped[Activity] = relationship()
    member: Mapped[Member] = relationship()

    view_action = "activity.view"

    @property
    def scope_path(self) -> str | None:
        return self.activity.scope_path

    @property
    def owner_member_id(self) -> int:
        return self.member_id


class Scan(Base):
    """Every scan and hand entry, including refused ones, with the outcome: the record an organiser
    reads when a volunteer says "I did scan"."""

    __tablename__ = "activity_scans"
    __table_args__ = (Index("ix_activity_scans_activity_at", "activity_id", "at"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("districts.id"))
    activity_id: Mapped[int] = mapped_column(ForeignKey("activities.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    direction: Mapped[str] = mapped_column(String(3))  # in | out
    source: Mapped[str] = mapped_column(String(8))
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    outcome: Mapped[str] = mapped_column(String(32))  # recorded | already | an error code
    distance_m: Mapped[int | None] = mapped_column(Integer)
