"""Points expiry: the district's setting (versioned, never retroactive), the lots (积分批次) of a wallet
and the pure function that derives them from the wallet's ledger history.

A lot is what one posting INTO a member wallet brought (service hours, later awards and check-ins):
its amount, when it was earned, the last day it may be spent (`expires_on`, a Beijing date, None =
never) and what is left. Anything that takes points out of the wallet (a redemption, a correction,
expiry itself) uses the oldest lots first. The lots are re-derivable: `derive_lots` walks the wallet's
posted history in order; `points_lots` only caches its result (see app/points/lots.py).

This module holds the models and pure functions only (no ledger writes)."""

from __future__ import annotations

import calendar
from bisect import bisect_right, insort
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import chain
from typing import NamedTuple

from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, Id, utcnow
from app.times import to_beijing

from .labels import KIND_EXPIRY  # noqa: F401  (journal kind: wallet -> the district's `expired` account)

# --- the setting ----------------------------------------------------------------------------------------

OFF, MONTHS, MONTH_END, YEAR_END = "off", "months", "month_end", "year_end"
MODES = (OFF, MONTHS, MONTH_END, YEAR_END)
MODE_LABELS = {
    OFF: _l("Points never expire"),
    MONTHS: _l("N months after they were earned"),
    MONTH_END: _l("At the end of the month, N months after they were earned"),
    YEAR_END: _l("At the end of the year, N months after they were earned"),
}
EXPIRED_ACCOUNT = "expired"
NOTICE_DAYS = 30  # members see what expires within this many days
_UTC_TO_BEIJING = timedelta(hours=8)  # naive UTC as stored -> Beijing wall clock (no daylight saving)


class ExpiryPolicy(Base):
    """One version of a district's expiry setting. Never edited: a change is a new version that applies
    to points earned from its effective time on; lots already earned keep the expiry they were given."""

    __tablename__ = "points_expiry_policies"
    __table_args__ = (
        UniqueConstraint("tenant_id", "version"),
        CheckConstraint(f"mode IN {MODES}", name="mode"),
        CheckConstraint("months >= 0 AND months <= 120", name="months"),
        CheckConstraint("mode = 'off' OR months >= 1", name="months_when_on"),
        Index("ix_points_expiry_policies_lookup", "tenant_id", "effective_from"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("districts.id"))
    version: Mapped[int] = mapped_column(Integer)
    effective_from: Mapped[datetime] = mapped_column(DateTime)  # UTC
    mode: Mapped[str] = mapped_column(String(16), default=OFF)
    months: Mapped[int] = mapped_column(Integer, default=0)
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    reason: Mapped[str] = mapped_column(String(200), default="")


class PointsLot(Base):
    """Cache of `derive_lots` for one wallet (rebuilt whenever the wallet's history grew; see lots.py):
    its lots that still hold points or have expired (`cached_lot`; a lot spent in full is not kept).
    `lot_id` is the id of the journal that formed the lot."""

    __tablename__ = "points_lots"
    __table_args__ = (
        UniqueConstraint("tenant_id", "member_id", "lot_id"),
        CheckConstraint("amount > 0 AND remaining >= 0 AND expired >= 0", name="amounts"),
        # The expiry job's and the members' lookups touch open lots only.
        Index(
            "ix_points_lots_open",
            "tenant_id",
            "member_id",
            "expires_on",
            postgresql_where=text("remaining > 0"),
            sqlite_where=text("remaining > 0"),
        ),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(BigInteger)
    member_id: Mapped[int] = mapped_column(BigInteger)
    lot_id: Mapped[int] = mapped_column(BigInteger)
    earned_at: Mapped[datetime] = mapped_column(DateTime)
    expires_on: Mapped[date | None] = mapped_column(Date)
    amount: Mapped[int] = mapped_column(BigInteger)
    remaining: Mapped[int] = mapped_column(BigInteger)
    expired: Mapped[int] = mapped_column(BigInteger, default=0)


class LotMark(Base):
    """How much of a wallet's history the cached lots cover: the wallet account's entry count when they
    were derived. A wallet whose account has more entries is stale and is derived again."""

    __tablename__ = "points_lot_marks"

    tenant_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    member_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    account_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    entry_count: Mapped[int] = mapped_column(BigInteger)


# --- pure functions -------------------------------------------------------------------------------------


def add_months(d: date, n: int) -> date:
    y, m = divmod(d.month - 1 + n, 12)
    year, month = d.year + y, m + 1
    return date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


def expiry_date(mode: str, months: int, earned_at: datetime) -> date | None:
    """The last (Beijing) day points earned at `earned_at` (UTC) may be spent; None = never.
    months: the day before the same date N months later (earned 15 March, 12 months: valid to 14 March
    next year); month_end: the last day of the month N months later; year_end: 31 December of the year
    N months later."""
    if mode == OFF or months <= 0:
        return None
    later = add_months(to_beijing(earned_at).date(), months)
    if mode == MONTHS:
        return later - timedelta(days=1)
    if mode == MONTH_END:
        return date(later.year, later.month, calendar.monthrange(later.year, later.month)[1])
    return date(later.year, 12, 31)


@dataclass(frozen=True)
class PolicyVersion:
    effective_from: datetime
    mode: str
    months: int


def expiry_rule(versions: Iterable[PolicyVersion]) -> Callable[[datetime], date | None]:
    """expires_for(earned_at): the expiry the version in force at `earned_at` gives (off before any)."""
    ordered = sorted(versions, key=lambda v: v.effective_from)
    starts = [v.effective_from for v in ordered]
    # The answer depends only on the version in force and the Beijing day earned: a district-wide run
    # derives millions of lots from a few thousand distinct days, so each is computed once.
    memo: dict[tuple[int, date], date | None] = {}

    def expires_for(earned_at: datetime) -> date | None:
        i = bisect_right(starts, earned_at) - 1
        if i < 0:
            return None
        day = (earned_at + _UTC_TO_BEIJING).date() if earned_at.tzinfo is None else to_beijing(earned_at).date()
        key = (i, day)
        if key not in memo:
            v = ordered[i]
            memo[key] = expiry_date(v.mode, v.months, earned_at)
        return memo[key]

    return expires_for


class WalletRow(NamedTuple):
    """One posted change to a wallet, per journal, in the wallet's order (a tuple: a district-wide
    refresh builds millions)."""

    journal_id: int
    amount: int  # signed change to the posted balance
    time: datetime  # when it counts: the journal's effective time, else when it was posted
    kind: str = ""
    reverses_id: int | None = None
    expires_lot: int | None = None  # a per-lot expiry journal (before issue 9's third follow-up): its lot
    # A per-member expiry journal: the lots it expires and how many points of each, in order.
    expires_lots: tuple[tuple[int, int], ...] = ()


@dataclass
class Lot:
    lot_id: int
    earned_at: datetime
    expires_on: date | None
    amount: int
    remaining: int
    expired: int = 0


def _lot_order(lot: Lot) -> tuple[datetime, int]:
    return (lot.earned_at, lot.lot_id)


def _place(ordered: list[Lot], lot: Lot) -> None:
    """Put a new lot in (earned, lot id) order: at the end when it is the newest, as nearly every
    earning is (a history is read in posting order), else where it belongs."""
    last = ordered[-1] if ordered else None
    if last is None or last.earned_at < lot.earned_at or (last.earned_at == lot.earned_at and last.lot_id < lot.lot_id):
        ordered.append(lot)
    else:
        insort(ordered, lot, key=_lot_order)


def cached_lot(lot: Lot) -> bool:
    """Whether the cache keeps the lot: it still holds points, or some of it expired. A lot spent in full
    is history only (re-derivable from the ledger, read by nothing that uses the cache); not keeping
    it writes about half as many rows on a district's first run."""
    return lot.remaining > 0 or lot.expired > 0


@dataclass
class Derived:
    lots: list[Lot]
    shortfall: int = 0  # points taken out that no lot held (never, in a sound ledger)
    consumed: dict[int, list[tuple[int, int]]] = field(default_factory=dict, repr=False)


def derive_lots(rows: Sequence[WalletRow], expires_for: Callable[[datetime], date | None]) -> Derived:
    """The wallet's lots from its posted history, in order (pure; the definition the cache must equal).

    - A credit forms a lot of its amount, earned at its time, expiring as `expires_for` says then.
    - A debit takes from the oldest open lots first (by earning time, then lot id). An expiry journal
      takes from the lots it names (one lot, or several with their points); a reversal of an earning
      takes from that earning's lot first.
    - A credit that reverses a debit (a refund) gives back to the lots that debit took from, unless a
      lot has since been hit by expiry: what cannot go back forms one new lot (id = the refund's
      journal) that expires on the earliest expiry of the lots it came from — if that day has passed,
      the next expiry run takes it (under its own key)."""
    lots: list[Lot] = []
    ordered: list[Lot] = []  # the same lots by (earned_at, lot_id): the order debits take from
    by_id: dict[int, Lot] = {}
    consumed: dict[int, list[tuple[int, int]]] = {}
    shortfall = 0
    for r in rows:
        if r.amount > 0:
            took = consumed.get(r.reverses_id) if r.reverses_id is not None else None
            if took:
                left = r.amount
                leftover, earliest, first_earned = 0, None, None
                # A partial refund gives back part of what the debit took; what is left of `took` is
                # what a later refund of the same debit may still give back.
                rest: list[tuple[int, int]] = []
                for lot_id, took_amt in took:
                    amt = min(took_amt, left)
                    left -= amt
                    if took_amt > amt:
                        rest.append((lot_id, took_amt - amt))
                    if amt == 0:
                        continue
                    lot = by_id[lot_id]
                    if lot.expired == 0:
                        lot.remaining += amt
                    else:
                        leftover += amt
                        if lot.expires_on is not None and (earliest is None or lot.expires_on < earliest):
                            earliest = lot.expires_on
                        first_earned = lot.earned_at if first_earned is None else min(first_earned, lot.earned_at)
                consumed[r.reverses_id] = rest  # type: ignore[index]
                leftover += left
                if leftover:
                    new = Lot(r.journal_id, first_earned or r.time, earliest, leftover, leftover)
                    if earliest is None and first_earned is None:
                        new.expires_on = expires_for(r.time)
                    lots.append(new)
                    _place(ordered, new)
                    by_id[new.lot_id] = new
            else:
                new = Lot(r.journal_id, r.time, expires_for(r.time), r.amount, r.amount)
                lots.append(new)
                _place(ordered, new)
                by_id[new.lot_id] = new
        elif r.amount < 0:
            need = -r.amount
            takes: list[tuple[int, int]] = []
            expiring = r.kind == KIND_EXPIRY
            # A per-member expiry journal names each lot and its points: exactly those first.
            for lot_id, points in r.expires_lots:
                named = by_id.get(lot_id)
                amt = 0 if named is None else min(named.remaining, points, need)
                if named is None or amt <= 0:
                    continue
                named.remaining -= amt
                need -= amt
                takes.append((lot_id, amt))
                if expiring:
                    named.expired += amt
            first = r.expires_lot if r.expires_lot is not None else r.reverses_id
            # Oldest first: `ordered` is kept sorted as lots form (no sort per debit); spent lots are
            # skipped below (amt 0).
            order: Iterable[Lot] = ordered
            if first is not None and first in by_id:
                head = by_id[first]
                order = chain((head,), (lot for lot in ordered if lot is not head))
            for lot in order:
                if need == 0:
                    break
                if lot.remaining <= 0:  # spent (most lots of a long history): skipped cheaply
                    continue
                amt = lot.remaining if lot.remaining < need else need
                lot.remaining -= amt
                need -= amt
                takes.append((lot.lot_id, amt))
                if expiring:
                    lot.expired += amt
            shortfall += need
            consumed[r.journal_id] = takes
    return Derived(lots, shortfall, consumed)
