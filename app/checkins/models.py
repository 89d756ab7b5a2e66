"""Party check-in sites (报到点), party members' check-ins (报到) and household visits (包格联户 入户走访)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, Id, utcnow
from app.people.models import Member
from app.places.models import OrgUnit

from .labels import SOURCES, VISIT_STATUSES


class CheckinSite(Base):
    """A community's or 片区网格's check-in site: at most one per unit."""

    __tablename__ = "checkin_sites"
    __table_args__ = (
        UniqueConstraint("org_unit_id"),
        CheckConstraint("radius_m IS NULL OR (radius_m >= 10 AND radius_m <= 5000)", name="radius_m"),
        CheckConstraint("radius_m IS NULL OR (lat IS NOT NULL AND lng IS NOT NULL)", name="radius_needs_place"),
        Index("ix_checkin_sites_tenant", "tenant_id"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("districts.id"))
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"))
    name: Mapped[str] = mapped_column(String(100))
    lat: Mapped[float | None] = mapped_column(Float)
    lng: Mapped[float | None] = mapped_column(Float)
    radius_m: Mapped[int | None] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    org_unit: Mapped[OrgUnit] = relationship()

    view_action = "checkin.site.view"

    @property
    def scope_path(self) -> str | None:
        return self.org_unit.path if self.org_unit is not None else None


class PartyCheckin(Base):
    """One party member's check-in at a site: at most one per member, site and Beijing day."""

    __tablename__ = "party_checkins"
    __table_args__ = (
        UniqueConstraint("member_id", "site_id", "day", name="uq_party_checkins_once_a_day"),
        CheckConstraint(f"source IN {SOURCES}", name="source"),
        CheckConstraint("points >= 0 AND points_cut >= 0", name="points"),
        Index("ix_party_checkins_member", "member_id", "checked_in_at"),
        Index("ix_party_checkins_site", "site_id", "day"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("districts.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    site_id: Mapped[int] = mapped_column(ForeignKey("checkin_sites.id"))
    day: Mapped[date] = mapped_column(Date)  # Beijing calendar day
    checked_in_at: Mapped[datetime] = mapped_column(DateTime)  # UTC
    source: Mapped[str] = mapped_column(String(16))
    lat: Mapped[float | None] = mapped_column(Float)
    lng: Mapped[float | None] = mapped_column(Float)
    distance_m: Mapped[int | None] = mapped_column(Integer)
    own_community: Mapped[bool] = mapped_column(Boolean, default=True)
    points: Mapped[int] = mapped_column(Integer, default=0)
    points_cut: Mapped[int] = mapped_column(Integer, default=0)
    monthly_cap: Mapped[int | None] = mapped_column(Integer)
    journal_id: Mapped[int | None] = mapped_column(Id)

    site: Mapped[CheckinSite] = relationship()
    member: Mapped[Member] = relationship()


class HouseholdVisit(Base):
    """A party member's 包格联户 household visits in a grid they are responsible for, which the grid's
    admin confirms or rejects (with a reason)."""

    __tablename__ = "household_visits"
    __table_args__ = (
        CheckConstraint(f"status IN {VISIT_STATUSES}", name="status"),
        CheckConstraint("households >= 1 AND households <= 200", name="households"),
        Index("ix_household_visits_member", "member_id", "visit_date"),
        Index("ix_household_visits_grid", "grid_id", "status"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("districts.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    grid_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"))
    visit_date: Mapped[date] = mapped_column(Date)
    households: Mapped[int] = mapped_column(Integer)
    note: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(16))
    decided_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime)
    reason: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    grid: Mapped[OrgUnit] = relationship()
    member: Mapped[Member] = relationship()

    view_action = "visit.view"

    @property
    def scope_path(self) -> str | None:
        return self.grid.path if self.grid is not None else None

    @property
    def owner_member_id(self) -> int:
        return self.member_id
