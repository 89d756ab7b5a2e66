"""Members' short codes: 6 characters a member reads out at an outlet counter instead of showing the
QR code. The member's QR page calls `current_code`; the counter calls `resolve_code` and, in the same
transaction as the redemption, `consume_code` (a code pays once).

The alphabet has no look-alike characters (no 0/O, 1/I/L), so a code read out loud or typed from a
phone screen is unambiguous: 31 characters, 6 places, about 887 million codes. A code lives
CODE_LIFETIME and is unique per district for all time (a retired code never names anyone else).
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import cast

from flask_babel import lazy_gettext as _l
from sqlalchemy import DateTime, Table, bindparam, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from app.errors import AppError, Conflict

from .models import MemberCode

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
LENGTH = 6
CODE_LIFETIME = timedelta(minutes=10)
# A code with less than this left is not shown again: the member would not reach the counter in time.
MIN_LEFT = timedelta(minutes=2)


class MemberCodeUnknown(AppError):
    code = "member_unknown"
    status = 422


class MemberCodeExpired(AppError):
    code = "token_expired"
    status = 422


class MemberCodeUsed(Conflict):
    code = "token_used"


def normalise(typed: str) -> str:
    """What staff typed, as stored: capitals, without spaces or dashes."""
    return "".join(ch for ch in (typed or "").upper() if ch not in " -\t")


def looks_like_code(typed: str) -> bool:
    c = normalise(typed)
    return len(c) == LENGTH and all(ch in ALPHABET for ch in c)


def _new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def current_code(db: Session, tenant_id: int, member_id: int, now: datetime) -> MemberCode:
    """The member's short code to show now: the latest unused one with at least MIN_LEFT to live,
    else a new one (valid CODE_LIFETIME from `now`). Flushes; the caller's request commits."""
    latest = db.scalars(
        select(MemberCode)
        .where(MemberCode.tenant_id == tenant_id, MemberCode.member_id == member_id)
        .order_by(MemberCode.issued_at.desc(), MemberCode.id.desc())
        .limit(1)
    ).first()
    if latest is not None and latest.used_at is None and latest.expires_at - now >= MIN_LEFT:
        return latest
    for _attempt in range(8):
        row = MemberCode(
            tenant_id=tenant_id, member_id=member_id, code=_new_code(), issued_at=now, expires_at=now + CODE_LIFETIME
        )
        try:
            with db.begin_nested():
                db.add(row)
                db.flush()
            return row
        except IntegrityError:
            continue  # that code was issued once already in this district: draw again
    raise Conflict(str(_l("No short code could be issued just now. Reload the page.")))


def resolve_code(db: Session, tenant_id: int, typed: str, now: datetime) -> MemberCode:
    """The issued code row for what staff typed; raises MemberCodeUnknown (no such code in this
    district), MemberCodeExpired or MemberCodeUsed, each with a message saying what to do."""
    code = normalise(typed)
    if not looks_like_code(code):
        raise MemberCodeUnknown(
            str(_l("A short code has 6 letters and digits. Ask the member to read it again from “My QR code”.")),
            field="member_code",
        )
    row = db.scalars(select(MemberCode).where(MemberCode.tenant_id == tenant_id, MemberCode.code == code)).first()
    if row is None:
        raise MemberCodeUnknown(
            str(_l("No member has this code. Ask the member to read it again from “My QR code”.")),
            field="member_code",
        )
    if row.used_at is not None:
        raise MemberCodeUsed(
            str(_l("This code was already used. Ask the member to reopen “My QR code” for a new one."))
        )
    if row.expires_at <= now:
        raise MemberCodeExpired(str(_l("This code has expired. Ask the member to reopen “My QR code” for a new one.")))
    return row


def consume_code(db: Session, row: MemberCode, now: datetime) -> None:
    """Mark the code used, once: a concurrent use of the same code finds it used (MemberCodeUsed)."""
    consume_code_id(db, row.id, now)


_TABLE = cast(Table, MemberCode.__table__)
_CONSUME = (
    update(_TABLE)
    .where(_TABLE.c.id == bindparam("code_id"), _TABLE.c.used_at.is_(None))
    .values(used_at=bindparam("now", type_=DateTime))
)


def consume_code_id(db: Session, code_id: int, now: datetime) -> None:
    """`consume_code` by the code's id, in one UPDATE."""
    done = db.connection().execute(_CONSUME, {"code_id": code_id, "now": now})
    consumed(db, code_id, now, done.rowcount)


# consume_code's UPDATE as PostgreSQL text, for a caller that sends it in one statement with its own
# writes (a data-modifying WITH; parameters code_id and now) and then calls `consumed`.
CONSUME_PG = "UPDATE member_codes SET used_at = %(now)s WHERE id = %(code_id)s AND used_at IS NULL RETURNING id"


def consumed(db: Session, code_id: int, now: datetime, changed: int) -> None:
    """After the UPDATE that marks the code used changed `changed` rows: 0 means a concurrent use got
    there first (MemberCodeUsed). A MemberCode of the session is told, as loaded (no second UPDATE at
    the next flush)."""
    if changed != 1:
        raise MemberCodeUsed(
            str(_l("This code was already used. Ask the member to reopen “My QR code” for a new one."))
        )
    loaded = db.identity_map.get(identity_key(MemberCode, code_id))
    if loaded is not None:
        set_committed_value(loaded, "used_at", now)
