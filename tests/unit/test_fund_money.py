"""Yuan typed by people become integer fen, exactly; fen are shown as ¥1,234.50. No floats."""

import pytest

from app.fund.errors import AmountInvalid
from app.fund.money import format_yuan, parse_yuan, yuan_text


@pytest.mark.parametrize(
    ("text", "fen"),
    [
        ("1,234.50", 123450),
        ("1234.5", 123450),
        ("¥300", 30000),
        ("300元", 30000),
        ("0.01", 1),
        (" 12 ", 1200),
        ("1，000", 100000),
        (3000, 300000),
        ("100,000,000", 10_000_000_000),
    ],
)
def test_yuan_are_read_as_fen(text, fen):
    assert parse_yuan(text) == fen


@pytest.mark.parametrize(
    "text",
    ["", "abc", "1.234", "-5", "1,23", "1e3", "0", "0.00", "100,000,000.01", "12.3.4", "１２３", "١٢", "²", "9" * 5000],
)
def test_what_is_not_an_amount_is_refused_with_a_field(text):
    with pytest.raises(AmountInvalid) as e:
        parse_yuan(text, field="amount")
    assert e.value.field == "amount" and e.value.code == "amount_invalid"


def test_a_float_is_refused_it_cannot_say_which_fen_it_means():
    with pytest.raises(AmountInvalid):
        parse_yuan(0.1)


def test_zero_only_when_allowed():
    assert parse_yuan("0", allow_zero=True) == 0


@pytest.mark.parametrize(
    ("fen", "shown"),
    [(123450, "¥1,234.50"), (1, "¥0.01"), (0, "¥0.00"), (-500, "-¥5.00"), (10_000_000_000, "¥100,000,000.00")],
)
def test_fen_are_shown_in_yuan(fen, shown):
    assert format_yuan(fen) == shown
    assert yuan_text(fen) == shown.replace("¥", "")


def test_a_very_long_number_is_too_large_not_a_crash():
    # Python refuses to turn more than 4,300 digits into an int: the parser must say "too large" first.
    with pytest.raises(AmountInvalid, match="too large"):
        parse_yuan("9" * 5000)
