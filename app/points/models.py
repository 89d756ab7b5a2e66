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
    # Caps (issue 9; NULL = no cap): minutes credited per activity, points of hours per day and per
    # month (Beijing time) per member, counted per category when the rule has one, else overall.
    max_minutes_per_activity: Mapped[int | None] = mapped_column(Integer)
    daily_points_cap: Mapped[int | None] = mapped_column(Integer)
    monthly_points_cap: Mapped[int | None] = mapped_column(Integer)


# --- caps, awards (issue 9) -----------------------------------------------------------------------------
# Caps on what a member is credited: the rule's columns below (nullable: no cap) are versioned with the
# rule; the running totals are PointsCounter rows, taken under a row lock in the posting's transaction.


class PointsCounter(Base):
    """How much of a capped quantity a member has used in a period: kind is what is counted
    ('hours' overall, 'hours:<category>', ...), period '2026-12' (a month) or '2026-12-05' (a day),
    Beijing time. `app/points/caps.take` is the only writer."""

    __tablename__ = "points_counters"
    __table_args__ = (
        UniqueConstraint("tenant_id", "member_id", "kind", "period"),
        CheckConstraint("used >= 0", name="used_not_negative"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("districts.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    kind: Mapped[str] = mapped_column(String(40))
    period: Mapped[str] = mapped_column(String(10))
    used: Mapped[int] = mapped_column(Integer, default=0)


class AwardSetting(Base):
    """A district's award threshold: an award line of more than `approval_threshold` points for one
    member waits for a second district administrator. Versioned: a change is a new row."""

    __tablename__ = "award_settings"
    __table_args__ = (
        UniqueConstraint("tenant_id", "version"),
        CheckConstraint("approval_threshold >= 0", name="approval_threshold"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("districts.id"))
    version: Mapped[int] = mapped_column(Integer)
    approval_threshold: Mapped[int] = mapped_column(Integer)
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    reason: Mapped[str] = mapped_column(String(200), default="")


AWARD_STATUSES = ("pending", "posted", "rejected")
LINE_STATUSES = ("pending", "posted", "rejected", "reversed")


class Award(Base):
    """An award (奖励积分) of points to one member or a list of members, with one reason and category.
    When its total is above the district's threshold it waits for a second district administrator:
    never the proposer (refused by the service, and by the CHECK below)."""

    __tablename__ = "awards"
    __table_args__ = (
        CheckConstraint(f"status IN {AWARD_STATUSES}", name="status"),
        CheckConstraint(f"category IN {CATEGORIES}", name="category"),
        CheckConstraint("total > 0", name="total"),
        CheckConstraint(
            "approver_user_id IS NULL OR approver_user_id <> proposer_user_id", name="approver_not_proposer"
        ),
        Index("ix_awards_tenant_status", "tenant_id", "status"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("districts.id"))
    category: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))
    total: Mapped[int] = mapped_column(Integer)
    member_count: Mapped[int] = mapped_column(Integer)
    threshold: Mapped[int] = mapped_column(Integer)  # the district's threshold when it was proposed
    proposer_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    proposed_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    approver_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime)
    decision_reason: Mapped[str | None] = mapped_column(String(200))


class AwardLine(Base):
    """One member's points in an award; posted under the key `award:<line id>`."""

    __tablename__ = "award_lines"
    __table_args__ = (
        UniqueConstraint("award_id", "member_id"),
        CheckConstraint("points > 0 AND points <= 100000", name="points"),
        CheckConstraint(f"status IN {LINE_STATUSES}", name="status"),
        Index("ix_award_lines_member", "tenant_id", "member_id"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("districts.id"))
    award_id: Mapped[int] = mapped_column(ForeignKey("awards.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    points: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    journal_id: Mapped[int | None] = mapped_column(Integer)  # the award's ledger journal once posted
    reversal_journal_id: Mapped[int | None] = mapped_column(Integer)
    reversal_reason: Mapped[str | None] = mapped_column(String(200))


from .checkin_rules import CheckinRule  # noqa: E402,F401  (party check-ins' rule, app/points/checkin_rules.py)

# The expiry setting and the lots cache live beside their logic (app/points/expiry.py).
from .expiry import ExpiryPolicy, LotMark, PointsLot  # noqa: E402, F401
from .grid_report_rules import GridReportRule  # noqa: E402,F401  (verified grid reports' rule, app/points/grid_report_rules.py)
