"""Pure rules of the outlets area: one ledger unit per item, limit periods on the Beijing calendar,
masked names, short codes without look-alike characters, and lots given back by partial refunds."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from app.outlets.accounts import MAX_ITEM_ID, item_unit
from app.outlets.catalogue import limit_window
from app.outlets.redemption import mask_name
from app.people.member_codes import ALPHABET, looks_like_code, normalise
from app.points.expiry import WalletRow, derive_lots


def test_each_item_has_its_own_ledger_unit_of_two_to_eight_capitals():
    units = {item_unit(i) for i in range(1, 5000)}
    assert len(units) == 4999
    assert item_unit(1) == "PCB" and item_unit(26) == "PCBA" and item_unit(MAX_ITEM_ID) == "PCZZZZZZ"
    assert all(u.isalpha() and u.isupper() and 2 <= len(u) <= 8 for u in units)
    with pytest.raises(ValueError):
        item_unit(MAX_ITEM_ID + 1)
    with pytest.raises(ValueError):
        item_unit(0)


@pytest.mark.parametrize(
    ("period", "now", "start", "end"),
    [
        # 2026-12-31 17:00 UTC is 2027-01-01 01:00 in Beijing: January's month, 2027's year.
        ("month", datetime(2026, 12, 31, 17, 0), datetime(2026, 12, 31, 16, 0), datetime(2027, 1, 31, 16, 0)),
        ("year", datetime(2026, 12, 31, 17, 0), datetime(2026, 12, 31, 16, 0), datetime(2027, 12, 31, 16, 0)),
        ("day", datetime(2026, 12, 5, 15, 59), datetime(2026, 12, 4, 16, 0), datetime(2026, 12, 5, 16, 0)),
        # Saturday 2026-12-05 in Beijing: the week from Monday 2026-11-30.
        ("week", datetime(2026, 12, 5, 3, 0), datetime(2026, 11, 29, 16, 0), datetime(2026, 12, 6, 16, 0)),
    ],
)
def test_limits_count_beijing_calendar_periods(period, now, start, end):
    assert limit_window(period, now) == (start, end)


def test_names_are_masked_for_the_counter():
    assert [mask_name(n) for n in ("张三", "张小明", "欧阳娜娜", "李", "")] == ["张*", "张*明", "欧**娜", "李", "*"]


def test_short_codes_have_no_look_alike_characters_and_forgive_typing():
    assert not set(ALPHABET) & set("01OIL")
    assert normalise(" ab3-d4e ") == "AB3D4E" and looks_like_code("ab3-d4e")
    assert not looks_like_code("AB0D4E") and not looks_like_code("AB3D4") and not looks_like_code("大米大米大米")


def test_partial_refunds_give_points_back_to_the_lots_they_came_from():
    def t(day):
        return datetime(2026, 1, day)

    rows = [
        WalletRow(1, 100, t(1), "hours"),
        WalletRow(2, 100, t(2), "hours"),
        WalletRow(3, -150, t(3), "redemption"),  # 100 from lot 1, 50 from lot 2
        WalletRow(4, 120, t(4), "redemption_refund", reverses_id=3),
        WalletRow(5, 30, t(5), "redemption_refund", reverses_id=3),
    ]
    after_first = derive_lots(rows[:4], lambda when: date(2027, 1, 1))
    assert [(x.lot_id, x.remaining) for x in after_first.lots] == [(1, 100), (2, 70)]
    after_both = derive_lots(rows, lambda when: date(2027, 1, 1))
    assert [(x.lot_id, x.remaining) for x in after_both.lots] == [(1, 100), (2, 100)]
    assert after_both.shortfall == 0
