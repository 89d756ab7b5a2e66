"""How verified grid reports (网格事件上报) earn points, per district, versioned like the check-in rule: a
change is a new version taking effect now or later, never an edit, and it is audited. A rule says the
points per verified report and the most report points a member may earn in a Beijing calendar month
(None: no cap). The posting is app/points/grid_reports.py."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, Session, mapped_column

from app.db import Base, Id, utcnow

from .versioned_rules import add_version, in_force, refuse_problems


class GridReportRule(Base):
    # A new version's audit action and target type (versioned_rules.add_version).
    AUDIT = ("points.report_rule_change", "grid_report_rule")
    __tablename__ = "grid_report_rules"
    __table_args__ = (
        UniqueConstraint("tenant_id", "version"),
        CheckConstraint("points_per_report >= 0 AND points_per_report <= 1000", name="points_per_report"),
        CheckConstraint("monthly_cap IS NULL OR (monthly_cap >= 0 AND monthly_cap <= 100000)", name="monthly_cap"),
        Index("ix_grid_report_rules_lookup", "tenant_id", "effective_from"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("districts.id"))
    version: Mapped[int] = mapped_column(Integer)
    effective_from: Mapped[datetime] = mapped_column(DateTime)  # UTC
    points_per_report: Mapped[int] = mapped_column(Integer)
    monthly_cap: Mapped[int | None] = mapped_column(Integer)
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    reason: Mapped[str] = mapped_column(String(200), default="")


@dataclass(frozen=True)
class ReportPricing:
    id: int | None
    version: int
    points_per_report: int
    monthly_cap: int | None

    def meta(self) -> dict:
        return {"report_rule_id": self.id, "report_rule_version": self.version}


# A district that has set no rule: 5 points per verified report, at most 50 report points a month.
DEFAULT_REPORT_RULE = ReportPricing(None, 0, points_per_report=5, monthly_cap=50)


def report_rule_for(session: Session, tenant_id: int, at: datetime) -> ReportPricing:
    """The version in force at `at` (UTC), else the default."""
    row = in_force(session, GridReportRule, tenant_id, at)
    if row is None:
        return DEFAULT_REPORT_RULE
    return ReportPricing(row.id, row.version, row.points_per_report, row.monthly_cap)


def change_report_rule(
    session: Session,
    tenant_id: int,
    actor_user_id: int | None,
    *,
    points_per_report: int,
    monthly_cap: int | None = None,
    effective_from: datetime | None = None,
    reason: str = "",
    now: datetime | None = None,
) -> GridReportRule:
    """A new version of the district's grid report rule (audited); never retroactive."""
    now = now or utcnow()
    effective_from = effective_from or now
    problems = []
    if not 0 <= points_per_report <= 1000:
        problems.append(("points_per_report", _l("Points per verified report must be from 0 to 1000.")))
    if monthly_cap is not None and not 0 <= monthly_cap <= 100000:
        problems.append(("monthly_cap", _l("The monthly cap must be from 0 to 100000 points, or empty for none.")))
    refuse_problems(problems, effective_from, now)
    values = {"points_per_report": points_per_report, "monthly_cap": monthly_cap}
    return add_version(session, GridReportRule, tenant_id, actor_user_id, values, effective_from, reason, now)
