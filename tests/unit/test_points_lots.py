"""Lots (积分批次) derived from a wallet's history: oldest first, partial lots, refunds, expiry, and
an expiry setting that changes mid-month without touching points already earned. Pure: no database."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from app.points.expiry import (
    KIND_EXPIRY,
    MONTH_END,
    MONTHS,
    OFF,
    YEAR_END,
    PolicyVersion,
    WalletRow,
    derive_lots,
    expiry_date,
    expiry_rule,
)

T0 = datetime(2020, 1, 1)
TWELVE_MONTHS = expiry_rule([PolicyVersion(T0, MONTH_END, 12)])


def at(day: str) -> datetime:
    """Noon UTC of an ISO day (20:00 Beijing: the same Beijing day)."""
    return datetime.fromisoformat(day + "T04:00:00")


def earn(j: int, amount: int, day: str) -> WalletRow:
    return WalletRow(j, amount, at(day), "hours")


def spend(j: int, amount: int, day: str, reverses: int | None = None) -> WalletRow:
    return WalletRow(j, -amount, at(day), "redeem", reverses)


def refund(j: int, amount: int, day: str, reverses: int) -> WalletRow:
    return WalletRow(j, amount, at(day), "redeem", reverses)


def expire(j: int, amount: int, day: str, lot: int) -> WalletRow:
    return WalletRow(j, -amount, at(day), KIND_EXPIRY, None, lot)


def expire_member(j: int, day: str, *lots: tuple[int, int]) -> WalletRow:
    """A per-member expiry journal (one transfer of the sum; each lot and its points in the meta)."""
    return WalletRow(j, -sum(p for _, p in lots), at(day), KIND_EXPIRY, None, None, tuple(lots))


def state(rows, rule=TWELVE_MONTHS):
    d = derive_lots(rows, rule)
    assert d.shortfall == 0
    return [(lot.lot_id, lot.remaining, lot.expires_on.isoformat() if lot.expires_on else None) for lot in d.lots]


CASES = [
    pytest.param(
        [earn(1, 30, "2026-01-10"), earn(2, 50, "2026-02-10"), spend(3, 40, "2026-03-01")],
        [(1, 0, "2027-01-31"), (2, 40, "2027-02-28")],
        id="oldest lot first, the next one partly",
    ),
    pytest.param(
        [earn(1, 30, "2026-01-10"), spend(2, 10, "2026-01-20"), spend(3, 5, "2026-01-21"), earn(4, 20, "2026-02-01")],
        [(1, 15, "2027-01-31"), (4, 20, "2027-02-28")],
        id="partial lot spent twice keeps its place",
    ),
    pytest.param(
        [
            earn(1, 30, "2026-01-10"),
            earn(2, 50, "2026-02-10"),
            spend(3, 40, "2026-03-01"),
            refund(4, 40, "2026-03-02", reverses=3),
        ],
        [(1, 30, "2027-01-31"), (2, 50, "2027-02-28")],
        id="a refund restores the lots the spend took",
    ),
    pytest.param(
        [
            earn(1, 30, "2026-01-10"),
            earn(2, 50, "2026-02-10"),
            spend(3, 40, "2026-03-01"),
            refund(5, 40, "2027-02-05", reverses=3),
            expire(6, 30, "2027-02-06", lot=1),
        ],
        [(1, 0, "2027-01-31"), (2, 50, "2027-02-28")],
        id="refunded into a lot that has passed its day: the next run expires it",
    ),
    pytest.param(
        [
            earn(1, 30, "2026-01-10"),
            earn(2, 50, "2026-02-10"),
            spend(3, 40, "2026-03-01"),
            earn(7, 5, "2026-03-01"),
            spend(8, 5, "2026-03-02"),
        ],
        [(1, 0, "2027-01-31"), (2, 35, "2027-02-28"), (7, 5, "2027-03-31")],
        id="a later spend takes the oldest open lot, not the newest",
    ),
    pytest.param(
        [
            earn(1, 30, "2026-01-10"),
            earn(2, 50, "2026-02-10"),
            spend(3, 40, "2026-03-01"),
            expire(4, 40, "2027-03-01", lot=2),
            refund(5, 40, "2027-03-02", reverses=3),
        ],
        [(1, 30, "2027-01-31"), (2, 0, "2027-02-28"), (5, 10, "2027-02-28")],
        id="refund after expiry: lot 1 restored; what lot 2 gave back forms a lot with lot 2's day",
    ),
    pytest.param(
        [earn(1, 30, "2026-01-10"), earn(2, 50, "2026-02-10"), spend(3, 20, "2026-03-01", reverses=2)],
        [(1, 30, "2027-01-31"), (2, 30, "2027-02-28")],
        id="a correction of an earning takes from that earning's lot first",
    ),
    pytest.param(
        [earn(1, 30, "2026-01-10"), earn(2, 50, "2026-02-10"), expire(3, 30, "2027-02-01", lot=1)],
        [(1, 0, "2027-01-31"), (2, 50, "2027-02-28")],
        id="expiry takes exactly the lot it names",
    ),
    pytest.param(
        [earn(1, 30, "2026-02-10"), earn(2, 20, "2026-01-05"), spend(3, 25, "2026-03-01")],
        [(1, 25, "2027-02-28"), (2, 0, "2027-01-31")],
        id="an earning posted later with an earlier time is the older lot and is spent first",
    ),
    pytest.param(
        [earn(5, 10, "2026-01-10"), earn(3, 10, "2026-01-10"), earn(4, 10, "2026-01-10"), spend(6, 15, "2026-02-01")],
        [(5, 10, "2027-01-31"), (3, 0, "2027-01-31"), (4, 5, "2027-01-31")],
        id="several lots the same day are taken by lot id",
    ),
    pytest.param(
        [
            earn(1, 30, "2026-01-10"),
            earn(2, 50, "2026-02-10"),
            spend(3, 40, "2026-03-01"),
            expire(4, 40, "2027-03-01", lot=2),
            refund(5, 40, "2027-03-02", reverses=3),
            earn(6, 7, "2027-03-02"),
            spend(7, 35, "2027-03-03"),
        ],
        [(1, 0, "2027-01-31"), (2, 0, "2027-02-28"), (5, 5, "2027-02-28"), (6, 7, "2028-03-31")],
        id="a lot formed by a late refund keeps its early place: spent before a newer earning",
    ),
]


@pytest.mark.parametrize("rows, want", CASES)
def test_lots_derived_from_a_wallet_history(rows, want):
    assert state(rows) == want


def test_open_lots_sum_to_the_balance_and_expiry_is_counted_on_its_lot():
    rows = [
        earn(1, 30, "2026-01-10"),
        earn(2, 50, "2026-02-10"),
        spend(3, 40, "2026-03-01"),
        expire(4, 40, "2027-03-01", lot=2),
    ]
    d = derive_lots(rows, TWELVE_MONTHS)
    assert sum(lot.remaining for lot in d.lots) == sum(r.amount for r in rows) == 0
    assert [(lot.lot_id, lot.expired) for lot in d.lots] == [(1, 0), (2, 40)]


def test_a_per_member_expiry_journal_takes_exactly_the_lots_and_points_it_names():
    """Lots 1 and 3 are due; lot 2 is older than 3 but not named: it keeps its points although
    oldest-first would have taken it."""
    rows = [
        earn(1, 30, "2026-01-10"),
        earn(2, 50, "2026-01-20"),
        spend(4, 10, "2026-01-25"),  # from lot 1
        earn(3, 15, "2026-02-10"),
        expire_member(5, "2027-03-01", (1, 20), (3, 15)),
    ]
    d = derive_lots(rows, TWELVE_MONTHS)
    assert d.shortfall == 0
    assert [(lot.lot_id, lot.remaining, lot.expired) for lot in d.lots] == [(1, 0, 20), (2, 50, 0), (3, 0, 15)]
    assert d.consumed[5] == [(1, 20), (3, 15)]


def test_old_per_lot_and_new_per_member_expiry_journals_in_one_history():
    """A wallet expired by per-lot journals before the change and a per-member one after derives the
    same lots as if each had been written either way."""
    history = [
        earn(1, 30, "2025-01-10"),
        earn(2, 50, "2025-02-10"),
        earn(3, 40, "2026-01-10"),
        earn(6, 5, "2026-02-01"),
    ]
    old = [expire(4, 30, "2026-02-01", lot=1), expire(5, 50, "2026-03-01", lot=2), expire(7, 40, "2027-02-01", lot=3)]
    mixed = [expire(4, 30, "2026-02-01", lot=1), expire(5, 50, "2026-03-01", lot=2)]
    mixed.append(expire_member(7, "2027-02-01", (3, 40)))
    together = [expire_member(4, "2026-03-01", (1, 30), (2, 50)), expire_member(7, "2027-02-01", (3, 40))]
    results = []
    for expiries in (old, mixed, together):
        rows = sorted(history + expiries, key=lambda r: (r.time, r.journal_id))
        d = derive_lots(rows, TWELVE_MONTHS)
        assert d.shortfall == 0
        results.append([(lot.lot_id, lot.remaining, lot.expired) for lot in d.lots])
    assert results[0] == results[1] == results[2] == [(1, 0, 30), (2, 0, 50), (3, 0, 40), (6, 5, 0)]


def test_a_refund_after_a_per_member_expiry_forms_one_new_lot():
    """Lot 1 never expired: its 30 go back to it; lot 2 did: its 10 form a new lot with lot 2's day."""
    rows = [
        earn(1, 30, "2026-01-10"),
        earn(2, 50, "2026-02-10"),
        spend(3, 40, "2026-03-01"),  # 30 of lot 1, 10 of lot 2
        expire_member(4, "2027-03-01", (2, 40)),
        refund(5, 40, "2027-03-02", reverses=3),
    ]
    assert state(rows) == [(1, 30, "2027-01-31"), (2, 0, "2027-02-28"), (5, 10, "2027-02-28")]


def test_more_taken_than_the_lots_hold_is_reported():
    d = derive_lots([earn(1, 10, "2026-01-10"), spend(2, 15, "2026-01-11")], TWELVE_MONTHS)
    assert d.shortfall == 5


def test_a_setting_change_mid_month_is_not_retroactive():
    # Expiry off until 15 March 2026 noon, then 12 months to the end of the month; on 20 March the
    # district changes to the end of the year. Points keep the expiry they were given when earned.
    rule = expiry_rule(
        [
            PolicyVersion(T0, OFF, 0),
            PolicyVersion(datetime(2026, 3, 15, 4), MONTH_END, 12),
            PolicyVersion(datetime(2026, 3, 20, 4), YEAR_END, 12),
        ]
    )
    rows = [earn(1, 10, "2026-03-01"), earn(2, 20, "2026-03-16"), earn(3, 30, "2026-03-25")]
    assert state(rows, rule) == [(1, 10, None), (2, 20, "2027-03-31"), (3, 30, "2027-12-31")]


@pytest.mark.parametrize(
    "mode, months, earned, want",
    [
        (MONTHS, 12, "2026-03-15", date(2027, 3, 14)),
        (MONTHS, 1, "2026-01-31", date(2026, 2, 27)),  # 28 Feb is a month after 31 Jan; valid the day before
        (MONTH_END, 12, "2026-03-15", date(2027, 3, 31)),
        (MONTH_END, 1, "2026-01-31", date(2026, 2, 28)),
        (YEAR_END, 12, "2026-03-15", date(2027, 12, 31)),
        (YEAR_END, 6, "2026-09-01", date(2027, 12, 31)),
        (OFF, 0, "2026-03-15", None),
    ],
)
def test_expiry_date_by_mode(mode, months, earned, want):
    assert expiry_date(mode, months, at(earned)) == want


def test_the_day_is_the_beijing_day():
    # 31 January 17:00 UTC is 1 February in Beijing.
    assert expiry_date(MONTH_END, 1, datetime(2026, 1, 31, 17)) == date(2026, 3, 31)
