"""Caps on what a member earns per period, enforced in the posting's own transaction.

One counter row per (district, member, kind, period) counts what has been granted so far. `take`
creates the row if it is missing (INSERT … ON CONFLICT DO NOTHING), then locks it (SELECT … FOR
UPDATE on PostgreSQL; SQLite has a single writer, and the insert already took its write lock) and
adds what the cap still allows — never a read-then-write without a lock, so two scans or two
approvals at once can never pass the cap between them.

`kind` names what is capped ("checkin", "hours", "hours:activity:12", …) and `period` the window
("2026-12" for a month, "2026-12-05" for a day; Beijing calendar). A cap of None counts without
limiting."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Integer, String, UniqueConstraint, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, Session, mapped_column

from app.db import Base, Id, utcnow


class PointsCounter(Base):
    """What member has been granted of `kind` in `period` (the cap's counter)."""

    __tablename__ = "points_counters"
    __table_args__ = (
        UniqueConstraint("tenant_id", "member_id", "kind", "period"),
        CheckConstraint("used >= 0", name="used"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("districts.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    kind: Mapped[str] = mapped_column(String(40))
    period: Mapped[str] = mapped_column(String(10))
    used: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


def take(session: Session, tenant_id: int, member_id: int, kind: str, period: str, amount: int, cap: int | None) -> int:
    """Grant up to `amount` of `kind` to a member in `period` without passing `cap`; returns what was
    granted (0..amount) and counts it, in the caller's transaction (roll back and it was never taken)."""
    if amount <= 0:
        return 0
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(
        insert(PointsCounter)
        .values(tenant_id=tenant_id, member_id=member_id, kind=kind, period=period, used=0, updated_at=utcnow())
        .on_conflict_do_nothing(
            index_elements=[PointsCounter.tenant_id, PointsCounter.member_id, PointsCounter.kind, PointsCounter.period]
        )
    )
    counter = session.scalars(
        select(PointsCounter)
        .where(
            PointsCounter.tenant_id == tenant_id,
            PointsCounter.member_id == member_id,
            PointsCounter.kind == kind,
            PointsCounter.period == period,
        )
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    granted = amount if cap is None else max(0, min(amount, cap - counter.used))
    if granted:
        counter.used += granted
        counter.updated_at = utcnow()
        session.flush()
    return granted


def used(session: Session, tenant_id: int, member_id: int, kind: str, period: str) -> int:
    """What has been granted so far (0 when nothing)."""
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
