"""Caps that hold under concurrency: a counter row per (district, member, kind, period), taken in the
posting's own transaction. `take` inserts the row if missing (an insert that ignores a duplicate) and
then reads it FOR UPDATE (on PostgreSQL; SQLite serialises writers anyway), so two approvals at once
queue on the row and the second sees what the first used: never a read-then-write race in Python.

kind: what is counted, e.g. 'hours' (every category), 'hours:elderly'; period: '2026-12' or '2026-12-05'
(Beijing time, see `month_of` / `day_of`)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from app.times import to_beijing

from .models import PointsCounter
from .rules import rule_for


def month_of(at: datetime) -> str:
    """The Beijing month of a UTC time: '2026-12'."""
    return to_beijing(at).strftime("%Y-%m")


def day_of(at: datetime) -> str:
    """The Beijing day of a UTC time: '2026-12-05'."""
    return to_beijing(at).strftime("%Y-%m-%d")


def take(session: Session, tenant_id: int, member_id: int, kind: str, period: str, amount: int, cap: int | None) -> int:
    """Use up to `amount` of the member's `cap` for (kind, period) and return what was granted (0 to
    amount). cap None means no cap: everything is granted (and still counted). Nothing asked (0 or
    less) grants nothing; give back with `give_back`."""
    if amount <= 0:
        return 0
    values = dict(tenant_id=tenant_id, member_id=member_id, kind=kind, period=period, used=0)
    dialect = session.get_bind().dialect.name
    ins = (pg_insert if dialect == "postgresql" else sqlite_insert)(PointsCounter).values(**values)
    session.execute(ins.on_conflict_do_nothing(index_elements=["tenant_id", "member_id", "kind", "period"]))
    key = (
        PointsCounter.tenant_id == tenant_id,
        PointsCounter.member_id == member_id,
        PointsCounter.kind == kind,
        PointsCounter.period == period,
    )
    used = session.execute(select(PointsCounter.used).where(*key).with_for_update()).scalar_one()
    granted = amount if cap is None else max(0, min(amount, cap - used))
    if granted:
        session.execute(
            update(PointsCounter)
            .where(*key)
            .values(used=PointsCounter.used + granted)
            .execution_options(synchronize_session=False)
        )
    return granted


def lock_counters(session: Session, tenant_id: int, keys: Iterable[tuple[int, str, str]]) -> None:
    """Create (if missing) and lock the counters (member id, kind, period) in one order, sorted by
    key, before any of them is taken: a review that caps several members takes all their counters
    here first, so two reviews over overlapping members queue instead of each holding a counter the
    other waits for (a deadlock). The later `take`s find their rows locked by this transaction."""
    wanted = sorted(set(keys))
    if not wanted:
        return
    dialect = session.get_bind().dialect.name
    # One insert in key order: a row another transaction inserted but has not committed makes this
    # one wait, and that wait follows the same order as the locks.
    ins = (pg_insert if dialect == "postgresql" else sqlite_insert)(PointsCounter).values(
        [dict(tenant_id=tenant_id, member_id=m, kind=k, period=p, used=0) for m, k, p in wanted]
    )
    session.execute(ins.on_conflict_do_nothing(index_elements=["tenant_id", "member_id", "kind", "period"]))
    for i in range(0, len(wanted), 500):
        chunk = wanted[i : i + 500]
        session.execute(
            select(PointsCounter.id)
            .where(
                PointsCounter.tenant_id == tenant_id,
                tuple_(PointsCounter.member_id, PointsCounter.kind, PointsCounter.period).in_(chunk),
            )
            .order_by(PointsCounter.member_id, PointsCounter.kind, PointsCounter.period)
            .with_for_update()
        ).all()


def hours_counter_keys(
    session: Session, tenant_id: int, member_id: int, rule, at: datetime
) -> list[tuple[int, str, str]]:
    """The counters `take_for_rule` may take for this member, rule and time (none when no cap applies)."""
    keys: list[tuple[int, str, str]] = []
    rules = [rule] + ([rule_for(session, tenant_id, "", at)] if rule.category else [])
    for r in rules:
        if r.daily_points_cap is None and r.monthly_points_cap is None:
            continue
        kind = hours_kind(r.category)
        keys.append((member_id, kind, month_of(at)))
        if r.daily_points_cap is not None:
            keys.append((member_id, kind, day_of(at)))
    return keys


def give_back(session: Session, tenant_id: int, member_id: int, kind: str, period: str, amount: int) -> None:
    """Return `amount` to the counter (a reversed posting frees its share of the cap)."""
    if amount <= 0:
        return
    session.execute(
        update(PointsCounter)
        .where(
            PointsCounter.tenant_id == tenant_id,
            PointsCounter.member_id == member_id,
            PointsCounter.kind == kind,
            PointsCounter.period == period,
        )
        .values(used=PointsCounter.used - amount)
        .execution_options(synchronize_session=False)
    )


def used(session: Session, tenant_id: int, member_id: int, kind: str, period: str) -> int:
    """What the member has used of (kind, period): for pages, never for deciding."""
    return (
        session.scalar(
            select(PointsCounter.used).where(
                PointsCounter.tenant_id == tenant_id,
                PointsCounter.member_id == member_id,
                PointsCounter.kind == kind,
                PointsCounter.period == period,
            )
        )
        or 0
    )


def hours_kind(category: str) -> str:
    """The counter a rule's caps count on: its own category's, or every category's for a default rule."""
    return f"hours:{category}" if category else "hours"


def take_hours(
    session: Session,
    tenant_id: int,
    member_id: int,
    category: str,
    daily_cap: int | None,
    monthly_cap: int | None,
    at: datetime,
    amount: int,
) -> int:
    """Points of service hours a member may be credited now, under the rule's daily and monthly caps
    (the day and month of `at`, an activity's start, in Beijing time); the counters are taken in the
    caller's transaction. Without caps everything is granted (nothing is counted)."""
    if amount <= 0 or (daily_cap is None and monthly_cap is None):
        return max(amount, 0)
    kind = hours_kind(category)
    day, month = day_of(at), month_of(at)
    # The month's row is locked first, always (one lock order: two approvals never deadlock).
    granted = take(session, tenant_id, member_id, kind, month, amount, monthly_cap)
    if daily_cap is not None and granted:
        by_day = take(session, tenant_id, member_id, kind, day, granted, daily_cap)
        give_back(session, tenant_id, member_id, kind, month, granted - by_day)
        granted = by_day
    return granted


def take_for_rule(session: Session, tenant_id: int, member_id: int, rule, at: datetime, amount: int) -> int:
    """What the caps let a member be credited of `amount` points of hours priced by `rule` (a
    rules.Rule): the rule's own caps on its category's counters and, for a category's rule, the
    district default's caps on the overall counters as well (every category together). What the
    overall caps refuse is given back to the category's counters."""
    granted = take_hours(
        session, tenant_id, member_id, rule.category, rule.daily_points_cap, rule.monthly_points_cap, at, amount
    )
    if not rule.category or granted <= 0:
        return granted
    overall = rule_for(session, tenant_id, "", at)
    allowed = take_hours(
        session, tenant_id, member_id, "", overall.daily_points_cap, overall.monthly_points_cap, at, granted
    )
    if allowed < granted and (rule.daily_points_cap is not None or rule.monthly_points_cap is not None):
        kind = hours_kind(rule.category)
        give_back(session, tenant_id, member_id, kind, month_of(at), granted - allowed)
        if rule.daily_points_cap is not None:
            give_back(session, tenant_id, member_id, kind, day_of(at), granted - allowed)
    return allowed
