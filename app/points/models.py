"""Points rules: how service hours are priced, per district and optionally per category, versioned.

A rule is never edited: a change is a new version with an effective time that is not in the past, so
a rule never applies retroactively. The version in force at an activity's start prices its hours, and
every points journal records in its meta which rule (id and version) priced it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, Id, utcnow

from .labels import CATEGORIES, MISSED_CHECKOUT, MISSED_NOTHING


class PointsRule(Base):
    __tablename__ = "points_rules"
    __table_args__ = (
        # One version number per (district, category); the default rule has category '' (not NULL, so
        # the unique key holds on both databases).
        UniqueConstraint("tenant_id", "category", "version"),
        CheckConstraint(f"category = '' OR category IN {CATEGORIES}", name="category"),
        CheckConstraint(f"missed_checkout IN {MISSED_CHECKOUT}", name="missed_checkout"),
        CheckConstraint("points_per_hour >= 0 AND points_per_hour <= 1000", name="points_per_hour"),
        CheckConstraint("rounding_minutes >= 1 AND rounding_minutes <= 240", name="rounding_minutes"),
        CheckConstraint("presence_percent >= 0 AND presence_percent <= 100", name="presence_percent"),
        CheckConstraint("grace_minutes >= 0 AND grace_minutes <= 1440", name="grace_minutes"),
        Index("ix_points_rules_lookup", "tenant_id", "category", "effective_from"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("districts.id"))
    category: Mapped[str] = mapped_column(String(16), default="")  # '' = every category without its own
    version: Mapped[int] = mapped_column(Integer)
    effective_from: Mapped[datetime] = mapped_column(DateTime)  # UTC
    points_per_hour: Mapped[int] = mapped_column(Integer)
    rounding_minutes: Mapped[int] = mapped_column(Integer, default=30)  # credited time is rounded down to this
    presence_percent: Mapped[int] = mapped_column(Integer, default=60)  # below it nothing is credited; 0 = off
    missed_checkout: Mapped[str] = mapped_column(String(16), default=MISSED_NOTHING)
    grace_minutes: Mapped[int] = mapped_column(Integer, default=60)  # after the end, open check-ins are closed
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    reason: Mapped[str] = mapped_column(String(200), default="")


# The expiry setting and the lots cache live beside their logic (app/points/expiry.py).
from .expiry import ExpiryPolicy, LotMark, PointsLot  # noqa: E402, F401
