"""Pricing service hours: which rule applies, how much time is credited, how many points it earns.

`credit` is pure (no database): the table-driven tests in tests/unit/test_hours.py drive it directly.
Credited time is the overlap of [check-in, check-out] with [start, end] — arriving early or staying late
earns nothing extra — rounded down to the rule's unit; below the presence threshold it is zero.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import cast

from sqlalchemy import Table, bindparam, case, literal_column, select
from sqlalchemy.orm import Session

from app.db import FixedStatement

from .labels import MISSED_NOTHING
from .models import PointsRule

# A district that has set no rule yet earns by this one (version 0, not stored): 10 points an hour,
# credited in half hours, 60 % presence, nothing for a missed check-out until the organiser confirms.
DEFAULT = dict(
    points_per_hour=10, rounding_minutes=30, presence_percent=60, missed_checkout=MISSED_NOTHING, grace_minutes=60
)


@dataclass(frozen=True)
class Rule:
    """The rule values that price one attendance (a stored version, or the built-in default)."""

    id: int | None
    version: int
    category: str
    points_per_hour: int
    rounding_minutes: int
    presence_percent: int
    missed_checkout: str
    grace_minutes: int
    # Caps (issue 9; None = no cap): see app/points/caps.py and docs/points.md "Caps".
    max_minutes_per_activity: int | None = None
    daily_points_cap: int | None = None
    monthly_points_cap: int | None = None

    @classmethod
    def of(cls, row: PointsRule) -> Rule:
        return cls(
            row.id,
            row.version,
            row.category,
            row.points_per_hour,
            row.rounding_minutes,
            row.presence_percent,
            row.missed_checkout,
            row.grace_minutes,
            row.max_minutes_per_activity,
            row.daily_points_cap,
            row.monthly_points_cap,
        )

    def meta(self) -> dict:
        """What a journal's meta records of the rule that priced it."""
        return {"rule_id": self.id, "rule_version": self.version, "rule_category": self.category or None}


DEFAULT_RULE = Rule(None, 0, "", **DEFAULT)  # type: ignore[arg-type]


_rules = cast(Table, PointsRule.__table__)
# One statement for both: the category's own versions sort before the district default's (category "").
# Every check-out prices with it, so it is compiled once and run on the cursor (app/db.FixedStatement):
# built and loaded through the ORM it cost as much as the points journal the check-out then posts.
_RULE_FOR = FixedStatement(
    select(*(_rules.c[f.name] for f in fields(Rule)))
    .where(
        _rules.c.tenant_id == bindparam("r_tenant"),
        _rules.c.category.in_([bindparam("r_category"), bindparam("r_district")]),
        _rules.c.effective_from <= bindparam("r_at"),
    )
    .order_by(
        case((_rules.c.category == bindparam("r_district"), literal_column("1")), else_=literal_column("0")),
        _rules.c.effective_from.desc(),
        _rules.c.version.desc(),
    )
    .limit(1)
)


def rule_for(session: Session, tenant_id: int, category: str, at: datetime) -> Rule:
    """The rule in force at `at` (UTC) for `category`: the category's own newest version effective by
    then, else the district default's, else the built-in default."""
    session.flush()  # as the ORM query did (autoflush): a rule added in this transaction counts
    row = _RULE_FOR.first(
        session.connection(), {"r_tenant": tenant_id, "r_category": category, "r_district": "", "r_at": at}
    )
    return DEFAULT_RULE if row is None else Rule(*row)


@dataclass(frozen=True)
class Credit:
    """What one attendance is credited: minutes present inside the activity, minutes credited, points,
    and why it is zero when it is ('below_threshold', 'missed_checkout', 'no_overlap' or None)."""

    present_minutes: int
    credited_minutes: int
    points: int
    presence_percent: int  # of the activity's length, rounded down
    zero_reason: str | None = None
    points_cut: int = 0  # what the rule's per-activity cap cut off


def _minutes(seconds: float) -> int:
    return int(seconds // 60)


def credit(
    rule: Rule,
    starts_at: datetime,
    ends_at: datetime,
    checked_in_at: datetime,
    checked_out_at: datetime | None,
) -> Credit:
    """Price one attendance. `checked_out_at` None means the volunteer never checked out: by the rule,
    nothing (until the organiser confirms) or the time up to the activity's end."""
    length = _minutes((ends_at - starts_at).total_seconds())
    if checked_out_at is None:
        if rule.missed_checkout == MISSED_NOTHING:
            return Credit(0, 0, 0, 0, "missed_checkout")
        checked_out_at = ends_at
    begin, end = max(checked_in_at, starts_at), min(checked_out_at, ends_at)
    present = max(0, _minutes((end - begin).total_seconds()))
    percent = (present * 100 // length) if length > 0 else 0
    if present == 0:
        # Inside the activity's time but under a minute (checked out straight after checking in): too
        # short to count, not "absent".
        return Credit(0, 0, 0, percent, "below_unit" if end > begin else "no_overlap")
    if rule.presence_percent and present * 100 < rule.presence_percent * length:
        return Credit(present, 0, 0, percent, "below_threshold")
    credited = present - present % rule.rounding_minutes
    points = credited * rule.points_per_hour // 60
    if rule.max_minutes_per_activity is not None and credited > rule.max_minutes_per_activity:
        credited = rule.max_minutes_per_activity
        capped = credited * rule.points_per_hour // 60
        return Credit(present, credited, capped, percent, None if credited else "below_unit", points - capped)
    # Zero points with credited time (a rule of 0 points an hour, or too few minutes for one point) is
    # not "below one rounding unit": only no credited time is.
    return Credit(present, credited, points, percent, None if credited else "below_unit")


def points_for_minutes(rule: Rule, minutes: int) -> int:
    """Points for `minutes` an organiser credits by hand (rounded down, as every credit is)."""
    return max(0, minutes) * rule.points_per_hour // 60
