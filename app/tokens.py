"""Signed, purpose-bound, short-lived QR tokens: a member's code, activity and site check-in codes, printed cards.

Format (every character is in the QR alphanumeric set, so the code stays small — about 50 chars,
a version 3 QR):

    AX1.<P>.<tenant>.<subject>.<step>.<sig>     timed purposes
    AX1.<P>.<tenant>.<subject>.<sig>            member_card (no time step)

<P> is the purpose code (M, AI, AO, PI, PO, S, SP, C); tenant, subject and step are integers in base 36
(0-9A-Z); <sig> is HMAC-SHA256 over everything before it, truncated to 128 bits, in base 32
without padding (26 chars). The HMAC key is derived from the secret with a purpose-specific salt,
so a token of one purpose never verifies as another even if its code letter is edited.

A timed token carries the time step it was made in (step = unix seconds // step_seconds) and is
accepted in that step and the next `valid_steps` steps, so it lives at most
(valid_steps + 1) * step_seconds; that must be 120 s or less.

`make_token` / `check_token` are pure given `secret=`; without it they read the Flask app's
QR_TOKEN_KEY, else SECRET_KEY.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import NamedTuple

from flask_babel import lazy_gettext as _l

from app.errors import AppError

VERSION = "AX1"
MAX_LIFETIME_SECONDS = 120
# Servers' clocks may differ a little: a token made in the next step (by a server slightly ahead)
# is still accepted.
FUTURE_STEPS_ALLOWED = 1
_SIG_BYTES = 16  # 128 bits: plenty for a token checked online, and printed cards live long
_MAX_FIELD = 13  # base-36 digits; 36**13 > 2**64


@dataclass(frozen=True)
class Purpose:
    name: str
    code: str  # the letters in the token
    label: object  # lazy text: "a member's QR code"
    expired_message: object
    step_seconds: int | None  # None: no time step, the token does not expire
    valid_steps: int = 0  # steps after the issuing one in which the token is still accepted

    def __post_init__(self):
        if self.step_seconds is not None:
            _check_lifetime(self.name, self.step_seconds, self.valid_steps)


def _check_lifetime(name: str, step_seconds: int, valid_steps: int) -> None:
    if step_seconds <= 0 or valid_steps < 0 or (valid_steps + 1) * step_seconds > MAX_LIFETIME_SECONDS:
        raise ValueError(
            f"QR tokens for {name} must expire within {MAX_LIFETIME_SECONDS} s "
            f"(step {step_seconds} s, {valid_steps} further steps)"
        )


PURPOSES: dict[str, Purpose] = {
    p.name: p
    for p in (
        # A member's own code, shown on their phone at an outlet to spend points.
        Purpose(
            "member",
            "M",
            _l("a member's QR code"),
            _l("This code has expired. Ask the member to refresh it (reopen “My QR code”)."),
            step_seconds=30,
            valid_steps=3,
        ),
        # Codes an organiser's screen shows at an activity; volunteers scan them.
        Purpose(
            "activity_checkin",
            "AI",
            _l("an activity check-in code"),
            _l("This check-in code has expired. Scan the code on the organiser's screen again."),
            step_seconds=30,
            valid_steps=3,
        ),
        Purpose(
            "activity_checkout",
            "AO",
            _l("an activity check-out code"),
            _l("This check-out code has expired. Scan the code on the organiser's screen again."),
            step_seconds=30,
            valid_steps=3,
        ),
        # The printed A4 posters of an activity. They carry no time step: the activity's own times
        # bound them (accepted only from shortly before its start to shortly after its end).
        Purpose(
            "poster_checkin",
            "PI",
            _l("an activity's check-in poster"),
            _l("This poster is not valid at this time. It works from shortly before the activity starts."),
            step_seconds=None,
        ),
        Purpose(
            "poster_checkout",
            "PO",
            _l("an activity's check-out poster"),
            _l("This poster is not valid at this time. It works until shortly after the activity ends."),
            step_seconds=None,
        ),
        # A community or grid site's code for party members' 报到 check-in.
        Purpose(
            "checkin_site",
            "S",
            _l("a site check-in code"),
            _l("This site code has expired. Scan the code on the site's screen again."),
            step_seconds=30,
            valid_steps=3,
        ),
        # A check-in site's printed A4 poster (报到点). No time step: a site is always open; once a
        # day per member per site is enforced by the check-in itself.
        Purpose(
            "site_poster",
            "SP",
            _l("a check-in site's poster"),
            _l("This site poster is no longer valid. Ask the community for the current poster."),
            step_seconds=None,
        ),
        # The printed member card. It never expires, so it only IDENTIFIES the member (like the name and
        # number printed beside it); it must never authorise spending on its own. Redemption must ask for
        # the live "member" code or a staff confirmation. A stolen card therefore reveals nothing that
        # is not already printed on it, which is why it needs no revocation list.
        Purpose(
            "member_card",
            "C",
            _l("a printed member card"),
            _l("This member card is no longer valid."),
            step_seconds=None,
        ),
    )
}
_BY_CODE = {p.code: p for p in PURPOSES.values()}

_TOKEN_RE = re.compile(
    rf"{VERSION}\.([A-Z]{{1,2}})\.([0-9A-Z]{{1,{_MAX_FIELD}}})\.([0-9A-Z]{{1,{_MAX_FIELD}}})"
    rf"(?:\.([0-9A-Z]{{1,{_MAX_FIELD}}}))?\.([A-Z2-7]{{26}})",
    re.ASCII,
)


class TokenClaims(NamedTuple):
    tenant_id: int
    subject_id: int  # member id, activity id or site id, by purpose
    issued_step: int | None  # None for member_card


class TokenInvalid(AppError):
    """A QR code or typed code that cannot be accepted; the message says what to do."""

    code = "token_invalid"
    status = 422

    def __init__(self, message=None):
        super().__init__(
            str(
                message
                if message is not None
                else _l("This is not an Aixin code. Scan again, or type the code shown under the QR code.")
            )
        )


class TokenMalformed(TokenInvalid):
    code = "token_malformed"


class TokenForged(TokenInvalid):
    code = "token_forged"

    def __init__(self, message=None):
        super().__init__(
            message
            or _l(
                "This code is not genuine. Ask for the code to be shown again on the "
                "Aixin app; if it fails again, call the organiser."
            )
        )


class TokenExpired(TokenInvalid):
    code = "token_expired"


class TokenWrongPurpose(TokenInvalid):
    code = "token_wrong_purpose"


class TokenWrongDistrict(TokenInvalid):
    code = "token_wrong_district"

    def __init__(self, message=None):
        super().__init__(message or _l("This code belongs to another district."))


def _b36(n: int) -> str:
    digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if n == 0:
            return out


def _key(secret: str | bytes, purpose: Purpose) -> bytes:
    raw = secret.encode() if isinstance(secret, str) else bytes(secret)
    return hmac.new(raw, f"aixin-qr-token:{VERSION}:{purpose.name}".encode(), hashlib.sha256).digest()


def _sign(secret: str | bytes, purpose: Purpose, body: str) -> str:
    mac = hmac.new(_key(secret, purpose), body.encode(), hashlib.sha256).digest()[:_SIG_BYTES]
    return base64.b32encode(mac).decode().rstrip("=")


def _seconds(now) -> float:
    if now is None:
        return time.time()
    if isinstance(now, datetime):
        return (now if now.tzinfo else now.replace(tzinfo=UTC)).timestamp()  # naive = UTC
    return now  # seconds since the epoch, as time.time() gives


def current_step(purpose: str, now=None) -> int | None:
    p = _purpose(purpose)
    return None if p.step_seconds is None else int(_seconds(now) // p.step_seconds)


def seconds_to_next_step(purpose: str, now=None) -> int:
    """How long until a fresh token is due (what a page counts down before it refreshes)."""
    p = _purpose(purpose)
    if p.step_seconds is None:
        raise ValueError(f"{purpose} tokens have no time step")
    s = _seconds(now)
    return max(1, math.ceil(p.step_seconds - s % p.step_seconds))


def _purpose(name: str) -> Purpose:
    try:
        return PURPOSES[name]
    except KeyError:
        raise ValueError(f"unknown QR token purpose {name!r}; known: {sorted(PURPOSES)}") from None


def _secret(secret):
    if secret is not None:
        return secret
    from flask import current_app

    return current_app.config.get("QR_TOKEN_KEY") or current_app.config["SECRET_KEY"]


def make_token(purpose: str, tenant_id: int, subject_id: int, now=None, *, secret: str | bytes | None = None) -> str:
    """A signed token for `purpose` about `subject_id` in district `tenant_id`, made at `now`
    (datetime, naive = UTC, or unix seconds; default: the current time)."""
    p = _purpose(purpose)
    for name, value in (("tenant_id", tenant_id), ("subject_id", subject_id)):
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 36**_MAX_FIELD:
            raise ValueError(f"{name} must be a non-negative integer, not {value!r}")
    parts = [VERSION, p.code, _b36(tenant_id), _b36(subject_id)]
    if p.step_seconds is not None:
        step = current_step(purpose, now)
        assert step is not None  # the purpose has a time step
        parts.append(_b36(step))
    body = ".".join(parts)
    return f"{body}.{_sign(_secret(secret), p, body)}"


def check_token(
    token: str,
    purpose: str,
    now=None,
    *,
    secret: str | bytes | None = None,
    tenant_id: int | None = None,
    valid_steps: int | None = None,
) -> TokenClaims:
    """The claims of a genuine, unexpired token of `purpose`; else raises a TokenInvalid subclass.

    `tenant_id`, when given, must match (TokenWrongDistrict). `valid_steps` overrides the purpose's
    window (a caller reading it from configuration); the lifetime limit still applies.
    """
    expected = _purpose(purpose)
    if not isinstance(token, str) or len(token) > 120:
        raise TokenMalformed()
    # Staff may type the code by hand: case and surrounding spaces do not matter.
    m = _TOKEN_RE.fullmatch(token.strip().upper())
    if not m:
        raise TokenMalformed()
    code, tenant_txt, subject_txt, step_txt, sig = m.groups()
    actual = _BY_CODE.get(code)
    if actual is None or (step_txt is None) != (actual.step_seconds is None):
        raise TokenMalformed()
    body = m.group(0)[: -len(sig) - 1]
    # The signature is checked with the key of the purpose the token claims, so an edited purpose
    # letter fails here, and a genuine token of another purpose is told apart from a forgery.
    if not hmac.compare_digest(_sign(_secret(secret), actual, body), sig):
        raise TokenForged()
    if actual is not expected:
        raise TokenWrongPurpose(
            _l("This is %(actual)s, but %(expected)s is needed here.", actual=actual.label, expected=expected.label)
        )
    claims = TokenClaims(int(tenant_txt, 36), int(subject_txt, 36), int(step_txt, 36) if step_txt else None)
    if tenant_id is not None and claims.tenant_id != tenant_id:
        raise TokenWrongDistrict()
    if expected.step_seconds is not None:
        window = expected.valid_steps if valid_steps is None else valid_steps
        _check_lifetime(expected.name, expected.step_seconds, window)
        step = current_step(purpose, now)
        # A stepped purpose has a step, and its tokens carry one (checked against the purpose above).
        assert step is not None and claims.issued_step is not None
        age = step - claims.issued_step
        if age > window:
            raise TokenExpired(expected.expired_message)
        if age < -FUTURE_STEPS_ALLOWED:
            raise TokenInvalid(
                _l("This code is not valid yet. The clocks of the servers disagree; tell the district administrator.")
            )
    return claims


__all__ = [
    "PURPOSES",
    "Purpose",
    "TokenClaims",
    "TokenExpired",
    "TokenForged",
    "TokenInvalid",
    "TokenMalformed",
    "TokenWrongDistrict",
    "TokenWrongPurpose",
    "check_token",
    "current_step",
    "make_token",
    "seconds_to_next_step",
]
