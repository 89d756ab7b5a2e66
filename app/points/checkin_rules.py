"""How party check-ins (报到) earn points, per district, versioned like PointsRule: a change is a new
version with an effective time not in the past, never an edit, and it is audited.

A rule says the points per check-in at a site of the member's own 报到 community (or a grid under it),
the points per check-in elsewhere (default nothing: recorded, but earns nothing), and the most
check-in points a member may earn in a Beijing calendar month (None: no cap). The cap is enforced by
app/points/caps.py in the posting's transaction (app/points/checkins.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, Session, mapped_column

from app.db import Base, Id, utcnow

from .versioned_rules import add_version, in_force, refuse_problems


class CheckinRule(Base):
    # A new version's audit action and target type (versioned_rules.add_version).
    AUDIT = ("points.checkin_rule_change", "checkin_rule")
    __tablename__ = "checkin_rules"
    __table_args__ = (
        UniqueConstraint("tenant_id", "version"),
        CheckConstraint("points_per_checkin >= 0 AND points_per_checkin <= 1000", name="points_per_checkin"),
        CheckConstraint("other_site_points >= 0 AND other_site_points <= 1000", name="other_site_points"),
        CheckConstraint("monthly_cap IS NULL OR (monthly_cap >= 0 AND monthly_cap <= 100000)", name="monthly_cap"),
        Index("ix_checkin_rules_lookup", "tenant_id", "effective_from"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("districts.id"))
    version: Mapped[int] = mapped_column(Integer)
    effective_from: Mapped[datetime] = mapped_column(DateTime)  # UTC
    points_per_checkin: Mapped[int] = mapped_column(Integer)
    other_site_points: Mapped[int] = mapped_column(Integer, default=0)
    monthly_cap: Mapped[int | None] = mapped_column(Integer)
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    reason: Mapped[str] = mapped_column(String(200), default="")


@dataclass(frozen=True)
class CheckinPricing:
    """The rule values that price one check-in (a stored version, or the built-in default)."""

    id: int | None
    version: int
    points_per_checkin: int
    other_site_points: int
    monthly_cap: int | None

    def meta(self) -> dict:
        return {"checkin_rule_id": self.id, "checkin_rule_version": self.version}


# A district that has set no check-in rule earns 2 points a check-in at its own community's sites,
# nothing elsewhere, at most 20 check-in points a month.
DEFAULT_CHECKIN_RULE = CheckinPricing(None, 0, points_per_checkin=2, other_site_points=0, monthly_cap=20)


def checkin_rule_for(session: Session, tenant_id: int, at: datetime) -> CheckinPricing:
    """The version in force at `at` (UTC), else the default."""
    row = in_force(session, CheckinRule, tenant_id, at)
    if row is None:
        return DEFAULT_CHECKIN_RULE
    return CheckinPricing(row.id, row.version, row.points_per_checkin, row.other_site_points, row.monthly_cap)


def change_checkin_rule(
    session: Session,
    tenant_id: int,
    actor_user_id: int | None,
    *,
    points_per_checkin: int,
    other_site_points: int = 0,
    monthly_cap: int | None = 20,
    effective_from: datetime | None = None,
    reason: str = "",
    now: datetime | None = None,
) -> CheckinRule:
    """A new version of the district's check-in rule (audited); never retroactive."""
    now = now or utcnow()
    effective_from = effective_from or now
    problems = []
    if not 0 <= points_per_checkin <= 1000:
        problems.append(("points_per_checkin", _l("Points per check-in must be from 0 to 1000.")))
    if not 0 <= other_site_points <= 1000:
        problems.append(("other_site_points", _l("Points at another community's site must be from 0 to 1000.")))
    if monthly_cap is not None and not 0 <= monthly_cap <= 100000:
        problems.append(("monthly_cap", _l("The monthly cap must be from 0 to 100000 points, or empty for none.")))
    refuse_problems(problems, effective_from, now)
    values = {
        "points_per_checkin": points_per_checkin,
        "other_site_points": other_site_points,
        "monthly_cap": monthly_cap,
    }
    return add_version(session, CheckinRule, tenant_id, actor_user_id, values, effective_from, reason, now)
