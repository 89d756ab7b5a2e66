"""Caps that hold under concurrency: a counter row per (district, member, kind, period), taken in the
posting's own transaction. `take` is one upsert in the common case: it creates the row, or adds the
amount to it only if the whole amount still fits under the cap (the condition is evaluated on the
locked, latest row, so two approvals at once queue on it and the second sees what the first used).
When it does not fit, the row (locked by that upsert on PostgreSQL; SQLite serialises writers anyway)
is read FOR UPDATE and cut to what is left: never a read-then-write race in Python.

kind: what is counted, e.g. 'hours' (every category), 'hours:elderly'; period: '2026-12' or '2026-12-05'
(Beijing time, see `month_of` / `day_of`)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from functools import lru_cache
from typing import cast

from sqlalchemy import Table, and_, bindparam, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from app.db import FixedStatement
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
    less) grants nothing; give back with `give_back`.

    The common case is one statement (`_take_whole`): an insert of the counter that, on conflict,
    adds `amount` only if the whole of it fits under the cap, returning the row when it took it. When
    it does not fit (or `amount` alone is over the cap) the counter is read FOR UPDATE and cut."""
    if amount <= 0:
        return 0
    session.flush()  # as the ORM statements did (autoflush): the Core ones below see pending rows
    conn = session.connection()
    key = {"k_tenant_id": tenant_id, "k_member_id": member_id, "k_kind": kind, "k_period": period}
    if cap is None or amount <= cap:
        stmt = _take_whole(conn.dialect.name, cap is not None)
        if stmt.first(conn, {**key, "amount": amount, "cap": cap}) is not None:
            return amount
        # The counter exists and the whole amount does not fit: the upsert locked the row (PostgreSQL
        # locks a conflicting row even when its DO UPDATE ... WHERE is false); cut to what is left.
    else:
        conn.execute(_insert_missing(conn.dialect.name), {**key, "amount": 0})
    used = conn.execute(_LOCK_USED, key).scalar_one()
    granted = amount if cap is None else max(0, min(amount, cap - used))
    if granted:
        conn.execute(_ADD_USED, {**key, "granted": granted})
    return granted


_COUNTERS = cast(Table, PointsCounter.__table__)
_KEY_COLUMNS = ["tenant_id", "member_id", "kind", "period"]
_KEY = and_(*(_COUNTERS.c[c] == bindparam(f"k_{c}") for c in _KEY_COLUMNS))
_LOCK_USED = select(_COUNTERS.c.used).where(_KEY).with_for_update()
_ADD_USED = update(_COUNTERS).where(_KEY).values(used=_COUNTERS.c.used + bindparam("granted"))


def _insert_values(dialect: str):
    ins = pg_insert if dialect == "postgresql" else sqlite_insert
    return ins(_COUNTERS).values(**{c: bindparam(f"k_{c}") for c in _KEY_COLUMNS}, used=bindparam("amount"))


@lru_cache(maxsize=4)
def _insert_missing(dialect: str):
    """Create the counter at 0 if it is missing."""
    return _insert_values(dialect).on_conflict_do_nothing(index_elements=_KEY_COLUMNS)


@lru_cache(maxsize=4)
def _take_whole(dialect: str, capped: bool) -> FixedStatement:
    """Create the counter at `amount`, or add `amount` to it if (capped) it stays within `cap`;
    RETURNING gives a row only when the amount was taken. Built and compiled once per dialect, run on
    the DBAPI cursor (app/db.FixedStatement: a scan's hot path)."""
    ins = _insert_values(dialect)
    new_used = _COUNTERS.c.used + ins.excluded.used
    return FixedStatement(
        ins.on_conflict_do_update(
            index_elements=_KEY_COLUMNS,
            set_={"used": new_used},
            where=(new_used <= bindparam("cap")) if capped else None,
        ).returning(_COUNTERS.c.id)
    )


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
