"""Yuan as the user types and reads it, fen (integers) as the books keep it. No floats anywhere."""

from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l

from .errors import AmountInvalid

MAX_FEN = 100_000_000_00  # 100 million yuan: far above any fund; keeps typos like 1e12 out
_YUAN = re.compile(r"^([0-9]{1,3}(,[0-9]{3}){1,4}|[0-9]{1,15})(\.([0-9]{1,2}))?$")  # ASCII digits only


def parse_yuan(text: object, *, field: str = "amount", allow_zero: bool = False) -> int:
    """Read a yuan amount ("1,234.50", "1234.5", "¥300", "300元", or an int) and return integer fen.

    Raises AmountInvalid (code `amount_invalid`, with `field`) when it is not a plain amount with at
    most two decimals, is negative, zero (unless `allow_zero`), or above 100,000,000 yuan. A float is
    refused: it cannot say exactly which fen it means."""
    if isinstance(text, bool) or isinstance(text, float):
        raise AmountInvalid(str(_l("Type the amount in yuan as text, for example 1,234.50.")), field=field)
    if isinstance(text, int):
        s = str(text)
    else:
        s = str(text or "").strip()
    for sign in ("¥", "￥", "元", "RMB", "CNY"):
        s = s.replace(sign, "")
    s = s.replace("，", ",").replace("．", ".").replace(" ", "").strip()
    if not s:
        raise AmountInvalid(str(_l("Type an amount in yuan, for example 1,234.50.")), field=field)
    if s.startswith("-"):
        raise AmountInvalid(str(_l("The amount cannot be negative.")), field=field)
    if re.fullmatch(r"[0-9,]{16,}(\.[0-9]*)?", s):  # a whole part far over the limit: say so, not "not an amount"
        raise AmountInvalid(str(_l("The amount is too large: at most 100,000,000 yuan.")), field=field)
    m = _YUAN.match(s)
    if m is None:
        raise AmountInvalid(
            str(
                _l(
                    "%(value)s is not an amount in yuan: use digits with at most two decimals, for example 1,234.50.",
                    value=s[:20],
                )
            ),
            field=field,
        )
    whole = int(m.group(1).replace(",", ""))
    cents = (m.group(4) or "").ljust(2, "0")
    fen = whole * 100 + int(cents)
    if fen == 0 and not allow_zero:
        raise AmountInvalid(str(_l("The amount must be more than zero.")), field=field)
    if fen > MAX_FEN:
        raise AmountInvalid(str(_l("The amount is too large: at most 100,000,000 yuan.")), field=field)
    return fen


def yuan_text(fen: int) -> str:
    """Fen as a plain yuan string with two decimals and thousands separators: 123450 -> "1,234.50"."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(int(fen)), 100)
    return f"{sign}{whole:,}.{cents:02d}"


def decimal_text(fen: int) -> str:
    """Fen as a machine-readable yuan string, two decimals, no separators: 123450 -> "1234.50" (the API)."""
    return yuan_text(fen).replace(",", "")


def format_yuan(fen: int) -> str:
    """Fen for people: 123450 -> "¥1,234.50" (negative: "-¥1,234.50")."""
    text = yuan_text(fen)
    return f"-¥{text[1:]}" if text.startswith("-") else f"¥{text}"
