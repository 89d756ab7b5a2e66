"""Verification codes of certificates: 10 characters of Crockford base32 (9 random, 1 check), shown in
groups of five ("7KQ2M-XR4TB"). 45 random bits make guessing hopeless behind the verify page's rate
limit; the check character catches a mistyped code before the database is asked."""

from __future__ import annotations

import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford: no I, L, O, U
_RANDOM = 9
LENGTH = _RANDOM + 1
_READ_AS = {"O": "0", "I": "1", "L": "1"}


def _check_char(body: str) -> str:
    # A weighted sum mod 31 (prime) catches every single wrong character and every swap of neighbours.
    total = sum((i + 1) * ALPHABET.index(c) for i, c in enumerate(body))
    return ALPHABET[total % 31]


def new_code() -> str:
    body = "".join(secrets.choice(ALPHABET) for _ in range(_RANDOM))
    return body + _check_char(body)


def normalise(text: str) -> str | None:
    """The code a person typed or scanned (any case, with dashes or spaces, O for 0), or None when it
    cannot be a code."""
    raw = "".join(ch for ch in (text or "").upper() if ch not in "- ")
    raw = "".join(_READ_AS.get(ch, ch) for ch in raw)
    if len(raw) != LENGTH or any(ch not in ALPHABET for ch in raw):
        return None
    return raw if _check_char(raw[:-1]) == raw[-1] else None


def grouped(code: str) -> str:
    return f"{code[:5]}-{code[5:]}"
