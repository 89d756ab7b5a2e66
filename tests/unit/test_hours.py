"""Pricing one attendance (app/points/rules.py `credit`), table-driven: what a volunteer is credited for
arriving early, staying late, leaving at the threshold, forgetting to check out, and how points follow."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from app.points.labels import MISSED_NOTHING, MISSED_UNTIL_END
from app.points.rules import DEFAULT_RULE, Rule, credit, points_for_minutes

START = datetime(2026, 3, 7, 1, 0)  # 09:00 Beijing
END = START + timedelta(hours=2)  # a two-hour clean-up
RULE = replace(DEFAULT_RULE, points_per_hour=10, rounding_minutes=30, presence_percent=60)


def at(minutes: float) -> datetime:
    """START + minutes (negative: before the start)."""
    return START + timedelta(minutes=minutes)


CASES = [
    # name, rule changes, check-in, check-out, (present, credited, points, percent, zero reason)
    ("whole activity", {}, at(0), at(120), (120, 120, 20, 100, None)),
    ("early arrival is not credited", {}, at(-45), at(120), (120, 120, 20, 100, None)),
    ("late stay is not credited", {}, at(0), at(200), (120, 120, 20, 100, None)),
    ("early and late", {}, at(-60), at(180), (120, 120, 20, 100, None)),
    ("exactly at 60 %: credited, rounded down", {}, at(0), at(72), (72, 60, 10, 60, None)),
    ("one minute below 60 %: nothing", {}, at(0), at(71), (71, 0, 0, 59, "below_threshold")),
    ("seconds short of the threshold count as below", {}, at(0), at(71.99), (71, 0, 0, 59, "below_threshold")),
    ("late arrival above the threshold", {}, at(30), at(120), (90, 90, 15, 75, None)),
    ("threshold 0 turns it off", {"presence_percent": 0}, at(100), at(120), (20, 0, 0, 16, "below_unit")),
    ("threshold off, one unit", {"presence_percent": 0}, at(85), at(120), (35, 30, 5, 29, None)),
    ("rounded down to 30 min: 89 -> 60", {"presence_percent": 0}, at(0), at(89), (89, 60, 10, 74, None)),
    ("rounded down to 30 min: 90 -> 90", {"presence_percent": 0}, at(0), at(90), (90, 90, 15, 75, None)),
    ("rounding unit 15 min", {"rounding_minutes": 15}, at(0), at(89), (89, 75, 12, 74, None)),
    ("rounding unit 1 min", {"rounding_minutes": 1}, at(0), at(89), (89, 89, 14, 74, None)),
    ("no overlap: left before the start", {}, at(-90), at(-10), (0, 0, 0, 0, "no_overlap")),
    ("no overlap: came after the end", {}, at(130), at(150), (0, 0, 0, 0, "no_overlap")),
    ("left at the start", {}, at(-30), at(0), (0, 0, 0, 0, "no_overlap")),
    ("checked out within the same minute, during the activity", {}, at(10), at(10.5), (0, 0, 0, 0, "below_unit")),
    (
        "missed check-out, rule 'nothing'",
        {"missed_checkout": MISSED_NOTHING},
        at(0),
        None,
        (0, 0, 0, 0, "missed_checkout"),
    ),
    (
        "missed check-out, rule 'until the end'",
        {"missed_checkout": MISSED_UNTIL_END},
        at(15),
        None,
        (105, 90, 15, 87, None),
    ),
    (
        "missed check-out until the end, arrived too late",
        {"missed_checkout": MISSED_UNTIL_END},
        at(60),
        None,
        (60, 0, 0, 50, "below_threshold"),
    ),
    (
        "points per hour 7: 90 min -> 10 (integer, rounded down)",
        {"points_per_hour": 7},
        at(0),
        at(90),
        (90, 90, 10, 75, None),
    ),
    ("points per hour 0: time credited, no points", {"points_per_hour": 0}, at(0), at(120), (120, 120, 0, 100, None)),
    ("points per hour 1000", {"points_per_hour": 1000}, at(0), at(120), (120, 120, 2000, 100, None)),
]


@pytest.mark.parametrize(
    "changes, checked_in, checked_out, expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_credit(changes, checked_in, checked_out, expected):
    c = credit(replace(RULE, **changes), START, END, checked_in, checked_out)
    assert (c.present_minutes, c.credited_minutes, c.points, c.presence_percent, c.zero_reason) == expected
    assert all(isinstance(v, int) for v in (c.present_minutes, c.credited_minutes, c.points, c.presence_percent))


def test_credit_never_exceeds_the_activity():
    for minutes_in in range(-120, 240, 7):
        for minutes_out in range(minutes_in, 300, 11):
            c = credit(RULE, START, END, at(minutes_in), at(minutes_out))
            assert 0 <= c.credited_minutes <= c.present_minutes <= 120
            assert c.credited_minutes % RULE.rounding_minutes == 0
            assert c.points == c.credited_minutes * RULE.points_per_hour // 60


@pytest.mark.parametrize(
    "per_hour, minutes, points",
    [(10, 0, 0), (10, 30, 5), (10, 59, 9), (10, 60, 10), (7, 90, 10), (3, 20, 1), (3, 19, 0), (10, -30, 0)],
)
def test_points_for_minutes_in_integers(per_hour, minutes, points):
    got = points_for_minutes(replace(RULE, points_per_hour=per_hour), minutes)
    assert got == points and isinstance(got, int)


def test_a_rule_records_what_priced_the_journal():
    rule = Rule(41, 3, "elderly", 12, 30, 60, MISSED_NOTHING, 60)
    assert rule.meta() == {"rule_id": 41, "rule_version": 3, "rule_category": "elderly"}
    assert DEFAULT_RULE.meta() == {"rule_id": None, "rule_version": 0, "rule_category": None}
