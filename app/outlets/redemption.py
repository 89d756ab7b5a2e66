"""Redemption at the counter (兑换): identify the member from their rotating QR token or a short code
they read out, check the cart (offered here, priced, in stock, within per-member limits, points
enough), and post one journal (points member → outlet, goods shelf → redeemed; app/points/spending.py)
with its record and receipt.

Concurrency: the member's wallet row is locked first, so one member's redemptions (two outlets at
once, a double tap) take turns and each sees the one before it: limits and points are checked exactly.
Shelves are no-overdraft ledger accounts, so the database refuses selling a piece twice. The cart's
`key` makes a retry or double tap return the first receipt; a QR token or short code pays for one
redemption only (unique columns on outlet_redemptions, and member_codes.used_at).

Speed (the busiest write of a Saturday): six statements for a redemption on PostgreSQL, built once per
process (redemption_sql.py); see `_turn_and_checks` and docs/outlets.md, "Benchmark".
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session, make_transient_to_detached, selectinload
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from app.db import as_loaded, utcnow
from app.errors import AppError
from app.people import member_codes
from app.people.labels import ACTIVE
from app.people.models import Member, MemberCode
from app.points.accounts import wallet_code
from app.points.spending import available_points, ensure_outlet_points, outlet_points_code, post_redemption
from app.times import beijing
from app.tokens import check_token
from ledger import InsufficientBalance, Journal, LedgerError, Transfer

from . import redemption_sql as sql
from .accounts import REDEEMED, goods_code, shelf_code
from .catalogue import limit_starts, limit_window
from .errors import (
    CartKeyReused,
    InsufficientPoints,
    ItemUnavailable,
    LimitReached,
    MemberSuspended,
    MemberUnknown,
    OutletClosed,
    OutletInvalid,
    TokenUsed,
)
from .labels import GOODS
from .models import Outlet, Redemption, RedemptionLine
from .stock import out_of_stock

MAX_LINES = 50
MAX_QTY = 99
# Points accounts per outlet (app/points/spending.outlet_points_code): 1 is one account per outlet; the
# API takes OUTLET_POINTS_SHARDS from the configuration (see docs/outlets.md, "the hot outlet").
POINTS_SHARDS = 1


def mask_name(name: str) -> str:
    """张三 → 张*, 张小明 → 张*明, 欧阳娜娜 → 欧**娜: enough for staff to confirm, not to learn a name."""
    name = (name or "").strip()
    if len(name) <= 1:
        return name or "*"
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def token_digest(token: str) -> str:
    return hashlib.sha256(token.strip().upper().encode()).hexdigest()


@dataclass(frozen=True)
class Identified:
    """Who the code names, and what it is (to consume it with the redemption)."""

    member: Member
    token_digest: str | None
    code: MemberCode | None


def identify(
    db: Session,
    tenant_id: int,
    *,
    member_token: str | None = None,
    member_code: str | None = None,
    now: datetime | None = None,
    check_used: bool = True,
) -> Identified:
    """The member a live QR token (purpose "member") or short code names, checked: genuine, this
    district's, not expired, not used (unless check_used=False: redeem checks it under the member's
    lock), member active. Raises the token's own errors (token_expired, token_invalid…), TokenUsed,
    MemberUnknown or MemberSuspended, each saying what to do."""
    now = now or utcnow()
    if bool(member_token) == bool(member_code):
        raise OutletInvalid(
            str(_l("Scan the member's QR code or type their short code (one of the two).")), field="member_token"
        )
    code_row = None
    digest = None
    if member_token:
        claims = check_token(member_token, "member", now, tenant_id=tenant_id)
        member_id = claims.subject_id
        digest = token_digest(member_token)
        used = check_used and db.scalar(
            select(Redemption.id).where(Redemption.tenant_id == tenant_id, Redemption.token_digest == digest)
        )
        if used:
            raise TokenUsed(str(_l("This QR code was already used for a redemption. Ask the member to refresh it.")))
    else:
        code_row = member_codes.resolve_code(db, tenant_id, member_code or "", now)
        member_id = code_row.member_id
    member = db.get(Member, member_id)
    if member is None or member.tenant_id != tenant_id:
        raise MemberUnknown(str(_l("This code names no member of this district. Ask the member to show it again.")))
    if member.status != ACTIVE:
        raise MemberSuspended(
            str(_l("This member's account is suspended, so points cannot be spent. Ask them to call their community."))
        )
    return Identified(member, digest, code_row)


@dataclass(frozen=True)
class AtCounter:
    """What the counter shows once a member is identified."""

    member_id: int
    name_masked: str
    available_points: int


def member_at_counter(
    db: Session,
    tenant_id: int,
    *,
    member_token: str | None = None,
    member_code: str | None = None,
    now: datetime | None = None,
) -> AtCounter:
    """Identify the member (as `identify`, consuming nothing) and say their masked name and points."""
    who = identify(db, tenant_id, member_token=member_token, member_code=member_code, now=now)
    return AtCounter(who.member.id, mask_name(who.member.name), available_points(db, tenant_id, who.member.id))


@dataclass(frozen=True)
class ReceiptLine:
    item_id: int
    name: str
    qty: int
    unit_points: int
    points: int
    refunded_qty: int


@dataclass(frozen=True)
class Receipt:
    redemption_id: int
    outlet_id: int
    outlet_name: str
    member_id: int
    member_name_masked: str
    lines: list[ReceiptLine]
    total_points: int
    refunded_points: int
    available_after: int
    created_at: datetime
    journal_id: int

    @property
    def time_beijing(self) -> str:
        return beijing(self.created_at)


def receipt(db: Session, redemption: Redemption) -> Receipt:
    """The receipt of a redemption as it stands (refunded quantities included), with the member's
    available points now."""
    refunded = sum(line.unit_points * line.refunded_qty for line in redemption.lines)
    after = getattr(redemption, "available_after", None)  # redeem() knows it; otherwise read now
    return Receipt(
        redemption_id=redemption.id,
        outlet_id=redemption.outlet_id,
        outlet_name=redemption.outlet.name,
        member_id=redemption.member_id,
        member_name_masked=mask_name(redemption.member.name),
        lines=[
            ReceiptLine(line.item_id, line.item_name, line.qty, line.unit_points, line.points, line.refunded_qty)
            for line in redemption.lines
        ],
        total_points=redemption.total_points,
        refunded_points=refunded,
        available_after=available_points(db, redemption.tenant_id, redemption.member_id) if after is None else after,
        created_at=redemption.created_at,
        journal_id=redemption.journal_id,
    )


def get_redemption(db: Session, tenant_id: int, redemption_id: int) -> Redemption | None:
    r = db.scalars(
        select(Redemption)
        .options(selectinload(Redemption.lines), selectinload(Redemption.outlet))
        .where(Redemption.id == redemption_id)
    ).first()
    return r if r is not None and r.tenant_id == tenant_id else None


def _by_key(db: Session, tenant_id: int, key: str) -> Redemption | None:
    return db.scalars(
        select(Redemption)
        .options(selectinload(Redemption.lines))
        .where(Redemption.tenant_id == tenant_id, Redemption.key == key)
    ).first()


def _cart(lines: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    pairs = list(lines)
    if not pairs:
        raise OutletInvalid(str(_l("The cart is empty: add at least one item.")), field="lines")
    if len(pairs) > MAX_LINES:
        raise OutletInvalid(str(_l("At most 50 different items in one redemption.")), field="lines")
    seen = set()
    for item_id, qty in pairs:
        if not isinstance(qty, int) or isinstance(qty, bool) or not 1 <= qty <= MAX_QTY:
            raise OutletInvalid(str(_l("Each quantity must be a whole number from 1 to 99.")), field="lines")
        if item_id in seen:
            raise OutletInvalid(str(_l("An item appears twice in the cart; put it on one line.")), field="lines")
        seen.add(item_id)
    return pairs


def _request_hash(outlet_id: int, member: str, cart: list[tuple[int, int]]) -> str:
    body = json.dumps([outlet_id, member, sorted(cart)], separators=(",", ":"))
    return hashlib.sha256(body.encode()).hexdigest()


def _same_or_refuse(found: Redemption, request_hash: str) -> Redemption:
    if found.request_hash != request_hash:
        raise CartKeyReused(
            str(_l("This cart was already confirmed with other items or for another member. Start a new cart."))
        )
    return found


@dataclass(frozen=True)
class _Turn:
    """The identified member, their wallet locked: what the code named and what they may spend."""

    member: Member
    code_id: int | None
    token_digest: str | None
    have: int


@dataclass(frozen=True)
class _Line:
    """One cart item as the database has it: offered at this outlet now, its price version, what the
    member had of it in its limit period."""

    item_id: int
    offered: bool
    name: str
    kind: str
    limit_qty: int | None
    limit_period: str | None
    price_id: int | None
    points: int | None
    had: int


@dataclass(frozen=True)
class _Checked:
    """What the checks read once the member's turn is taken."""

    key_used: int | None  # the redemption already made under this cart key
    token_used: bool
    code_used: bool
    lines: dict[int, _Line]


def _checked(rows: Sequence[Any], first: Any) -> _Checked:
    lines = {
        r.item_id: _Line(
            r.item_id, bool(r.offered), r.item_name, r.kind, r.limit_qty, r.limit_period, r.price_id, r.points, r.had
        )
        for r in rows
    }
    return _Checked(first.key_used, first.token_used is not None, first.used_at is not None, lines)


def _turn_and_checks(
    db: Session,
    tenant: int,
    outlet_id: int,
    ids: list[int],
    key: str,
    member_token: str | None,
    member_code: str | None,
    now: datetime,
) -> tuple[_Turn, _Checked]:
    """Identify the member, take their turn and read what the checks need: usually one statement.

    The turn is the member's wallet row, locked (FOR UPDATE): their concurrent redemptions (a double
    tap, another outlet) wait for it and then see this one, so the key, the token, the code, limits
    and points are checked exactly; what the wallet holds is what they may spend. The statement also
    reads the checks (redemption_sql.TURN_AND_CHECKS_*), in the snapshot it started with. They hold
    for the lock when the wallet's entry count read under the lock equals the one in that snapshot:
    every redemption and refund of the member posts to the wallet, so nothing of theirs committed in
    between. Otherwise (we waited for their other redemption) the checks are read again in a new
    statement, which sees it (redemption_sql.CHECKS). When the statement finds no row (a code unknown
    or used or expired, a member suspended or without a wallet, nothing of the cart offered here) the
    turn is taken alone, and `identify` says what is wrong. Raises what `identify` raises."""
    params: dict = {
        "tenant": tenant,
        "outlet_id": outlet_id,
        "ids": ids,
        "key": key,
        "now": now,
        **{f"since_{p}": start for p, start in limit_starts(now).items()},
    }
    if member_token and not member_code:
        member_id = check_token(member_token, "member", now, tenant_id=tenant).subject_id
        params.update(member_id=member_id, wallet=wallet_code(member_id), digest=token_digest(member_token))
        both, alone = sql.TURN_AND_CHECKS_BY_TOKEN, sql.TURN_BY_TOKEN
    elif member_code and not member_token:
        params.update(code=member_codes.normalise(member_code), digest=None)
        both, alone = sql.TURN_AND_CHECKS_BY_CODE, sql.TURN_BY_CODE
    else:
        identify(db, tenant, member_token=member_token, member_code=member_code, now=now)  # raises: one of the two
        raise AssertionError("unreachable")
    conn = db.connection()
    if conn.dialect.name == "postgresql":
        by_size = {f"ids_{i}": x for i, x in enumerate(ids)}
        rows: Sequence[Any] = sql.turn_and_checks_pg(bool(member_code), len(ids)).rows(conn, {**params, **by_size})
        member = as_loaded(db, Member, {k: getattr(rows[0], f"m_{k}") for k, _ in sql.MEMBER_COLUMNS}) if rows else None
    else:
        rows = db.execute(both, params).all()
        member = rows[0].Member if rows else None
    first: Any = rows[0] if rows else db.execute(alone, params).first()
    if first is not None and member is None:
        member = first.Member
    checked = _checked(rows, rows[0]) if rows and rows[0].wallet_n == rows[0].wallet_seen_n else None
    turn = _turn_of(first, member, tenant, params["digest"], now)
    if turn is None:
        # Say what is wrong with the code or the member (a member without a wallet passes: 0 points).
        who = identify(db, tenant, member_token=member_token, member_code=member_code, now=now, check_used=False)
        turn = _Turn(who.member, who.code.id if who.code is not None else None, who.token_digest, 0)
    if checked is None:
        params.update(member_id=turn.member.id, code_id=turn.code_id)
        rows = conn.execute(sql.CHECKS, params).all()
        checked = _checked(rows, rows[0] if rows else conn.execute(sql.USED, params).one())
    return turn, checked


def _turn_of(row: Any, member: Member | None, tenant: int, digest: str | None, now: datetime) -> _Turn | None:
    """The turn the row (and its member) gives, or None when anything is not plainly fine."""
    if row is None or member is None:
        return None
    if member.tenant_id != tenant or member.status != ACTIVE or row.used_at is not None:
        return None
    if row.code_id is not None and row.expires_at <= now:
        return None
    return _Turn(member, row.code_id, digest, row.have)


def redeem(
    db: Session,
    outlet: Outlet,
    staff_user_id: int | None,
    lines: Sequence[tuple[int, int]],
    key: str,
    *,
    member_token: str | None = None,
    member_code: str | None = None,
    now: datetime | None = None,
    points_shards: int = POINTS_SHARDS,
) -> Redemption:
    """Redeem a cart of (item id, qty) at `outlet` for the member the token or code names, in one
    journal. The caller checked `outlet.redeem` there. Idempotent by `key`: the same cart again
    returns the first Redemption (even once its token has expired); another cart under the same key
    raises CartKeyReused. Raises InsufficientPoints (with the shortfall), OutOfStock, LimitReached
    (with when it resets), ItemUnavailable, TokenUsed, token_expired, MemberSuspended; nothing is
    written when it raises.

    Statements on the way (see docs/outlets.md, "Benchmark"): the member's turn (code, member and the
    locked wallet), the checks (key, token, code, items, prices, limits), the ledger's journal, and the
    records (code used, redemption, its lines)."""
    now = now or utcnow()
    if not isinstance(key, str) or not 1 <= len(key) <= 100:
        raise OutletInvalid(str(_l("The cart needs a key of 1 to 100 characters.")), field="key")
    cart = _cart(lines)
    ident = f"t:{token_digest(member_token)}" if member_token else f"c:{member_codes.normalise(member_code or '')}"
    request_hash = _request_hash(outlet.id, ident, cart)
    tenant = outlet.tenant_id
    if not outlet.active:
        raise OutletClosed(str(_l("This outlet is closed: it cannot redeem.")))
    ids = [i for i, _ in cart]
    # A busy outlet's points accounts, one per shard, are opened by its first redemption, before
    # anything is locked (see ensure_outlet_points).
    ensure_outlet_points(db, tenant, outlet.id, points_shards)
    try:
        turn, checked = _turn_and_checks(db, tenant, outlet.id, ids, key, member_token, member_code, now)
    except AppError:
        # A retry of a cart that went through (its code since used or expired) gets its receipt back.
        if (found := _by_key(db, tenant, key)) is not None:
            return _same_or_refuse(found, request_hash)
        raise
    member, have, found_lines = turn.member, turn.have, checked.lines
    if checked.key_used is not None:
        found = _by_key(db, tenant, key)
        assert found is not None  # the member's lock is held: it cannot have gone
        return _same_or_refuse(found, request_hash)
    if checked.token_used:
        raise TokenUsed(str(_l("This QR code was already used for a redemption. Ask the member to refresh it.")))
    if checked.code_used:
        raise TokenUsed(str(_l("This code was already used. Ask the member to reopen “My QR code” for a new one.")))
    for item_id in ids:
        line = found_lines.get(item_id)
        if line is None or not line.offered:
            raise ItemUnavailable(
                str(_l("An item of the cart is not offered at this outlet now. Remove it and try again.")),
                details=[{"field": "lines", "code": "item_unavailable", "item_id": item_id}],
            )
    for item_id in ids:
        if found_lines[item_id].price_id is None:
            raise ItemUnavailable(
                str(_l("%(item)s has no price yet. Ask the district to set one.", item=found_lines[item_id].name)),
                details=[{"field": "lines", "code": "item_unavailable", "item_id": item_id}],
            )

    # Per-member limits, per Beijing calendar period, across every outlet of the district.
    for item_id, qty in cart:
        line = found_lines[item_id]
        if line.limit_qty is not None and line.limit_period is not None and line.had + qty > line.limit_qty:
            raise _limit_reached(line, now)

    points = {i: found_lines[i].points or 0 for i in ids}
    total = sum(points[i] * q for i, q in cart)
    if total > have:
        raise InsufficientPoints(
            str(
                _l(
                    "Not enough points: this cart needs %(total)s, the member has %(have)s (%(short)s short). "
                    "Take something off the cart.",
                    total=total,
                    have=have,
                    short=total - have,
                )
            ),
            details=[
                {
                    "field": "lines",
                    "code": "insufficient_points",
                    "needed": total,
                    "available": have,
                    "shortfall": total - have,
                }
            ],
        )

    goods = [
        Transfer(goods_code(outlet.id, REDEEMED, i), shelf_code(outlet.id, i), q)
        for i, q in cart
        if found_lines[i].kind == GOODS
    ]
    names = {i: found_lines[i].name for i in ids}
    row = dict(
        tenant_id=tenant,
        outlet_id=outlet.id,
        member_id=member.id,
        staff_user_id=staff_user_id,
        key=key,
        token_digest=turn.token_digest,
        member_code_id=turn.code_id,
        total_points=total,
        journal_id=None,
        request_hash=request_hash,
        created_at=now,
    )
    line_rows = [
        dict(item_id=i, price_id=found_lines[i].price_id, item_name=names[i], unit_points=points[i], qty=q)
        for i, q in cart
    ]

    def post(journal_id: int | None = None) -> Journal:
        return post_redemption(
            db,
            tenant,
            member_id=member.id,
            outlet_account=outlet_points_code(outlet.id, member.id, points_shards),
            points=total,
            goods=goods,
            key=f"redeem:{key}",
            memo=outlet.name,
            meta={
                "outlet_id": outlet.id,
                "title": outlet.name,
                "lines": [[i, names[i], q, points[i]] for i, q in cart],
            },
            journal_id=journal_id,
        )

    if db.connection().dialect.name == "postgresql" and len(goods) + (total > 0) >= 2:
        # The records first, the journal last: the journal locks the outlet's points account and the
        # shelves, which every redemption at the outlet needs, so they are held only for the journal's
        # write and the commit (not for the records' round trip too). RECORD_PG takes the journal's id
        # from the ledger's sequence; everything it wrote is this member's, under their lock.
        redemption = _record(db, turn.code_id, now, row, line_rows)
        try:
            journal = post(redemption.journal_id)
        except InsufficientBalance as e:
            # A shelf ran out since the checks (they do not lock the shelves): undo the records.
            _unrecord(db, redemption, turn.code_id)
            raise out_of_stock(db, e, names) from None
        if journal.id != redemption.journal_id:  # the ledger found the key taken: never, under the member's lock
            raise LedgerError("the redemption's journal key was taken by another journal")
    else:
        try:
            journal = post()
        except InsufficientBalance as e:
            raise out_of_stock(db, e, names) from None
        row["journal_id"] = journal.id
        redemption = _record(db, turn.code_id, now, row, line_rows)
    db.add(redemption)  # persistent, as if just loaded (with its lines)
    # Its outlet and member, already in the session, set after the add: the add's cascade need not
    # walk them and what they hold.
    set_committed_value(redemption, "outlet", outlet)
    set_committed_value(redemption, "member", member)
    redemption.available_after = have - total  # type: ignore[attr-defined]  # the receipt needs no query
    return redemption


def _limit_reached(line: _Line, now: datetime) -> LimitReached:
    assert line.limit_qty is not None and line.limit_period is not None
    resets = limit_window(line.limit_period, now)[1]
    return LimitReached(
        str(
            _l(
                "%(item)s: at most %(limit)s per member in this period; this member has had %(had)s. "
                "The limit resets on %(when)s.",
                item=line.name,
                limit=line.limit_qty,
                had=line.had,
                when=beijing(resets),
            )
        ),
        details=[
            {
                "field": "lines",
                "code": "limit_reached",
                "item_id": line.item_id,
                "limit": line.limit_qty,
                "already": line.had,
                "resets_at": resets.isoformat() + "Z",
            }
        ],
    )


def _record(db: Session, code_id: int | None, now: datetime, row: dict, line_rows: list[dict]) -> Redemption:
    """Mark the short code used (`code_id`, if any), insert the redemption and its lines, and build the
    Redemption with its lines as if just loaded (the caller adds it to the session and sets its outlet and member):
    the receipt and the caller read it without another query. On PostgreSQL one statement
    (redemption_sql.RECORD_PG), which takes the journal's id from the ledger's sequence when
    row["journal_id"] is None; elsewhere three. The unique key, token and code columns back the checks
    made under the member's lock; a writer that skipped the lock would fail here with an
    IntegrityError, and its whole request roll back."""
    conn = db.connection()
    if conn.dialect.name == "postgresql":
        got = sql.RECORD_PG_ROW.rows(
            conn,
            {
                **row,
                "code_id": code_id,
                "now": now,
                "item_ids": [x["item_id"] for x in line_rows],
                "price_ids": [x["price_id"] for x in line_rows],
                "item_names": [x["item_name"] for x in line_rows],
                "unit_points": [x["unit_points"] for x in line_rows],
                "qtys": [x["qty"] for x in line_rows],
            },
        )[0]
        if code_id is not None:
            member_codes.consumed(db, code_id, now, got.codes_used)
        row = {**row, "journal_id": got.journal_id}
        rid, line_of = got.id, dict(zip(got.item_ids, got.line_ids, strict=True))
        line_ids: Sequence[int] = [line_of[x["item_id"]] for x in line_rows]
    else:
        if code_id is not None:
            member_codes.consume_code_id(db, code_id, now)
        rid = conn.execute(sql.INSERT_REDEMPTION, row).scalar_one()
        line_ids = (
            conn.execute(sql.INSERT_LINES, [{"redemption_id": rid, "refunded_qty": 0, **x} for x in line_rows])
            .scalars()
            .all()
        )
    redemption = Redemption(id=rid, **row)
    lines = [
        RedemptionLine(id=lid, redemption_id=rid, refunded_qty=0, **x)
        for lid, x in zip(line_ids, line_rows, strict=True)
    ]
    # As a load sets them (no change events: nothing here is a change to flush).
    set_committed_value(redemption, "lines", lines)
    for line in lines:
        set_committed_value(line, "redemption", redemption)
        make_transient_to_detached(line)
    make_transient_to_detached(redemption)
    return redemption


def _unrecord(db: Session, redemption: Redemption, code_id: int | None) -> None:
    """Undo `_record` (PostgreSQL) in the transaction that wrote it, before anyone could see it."""
    db.connection().exec_driver_sql(sql.UNRECORD_PG, {"id": redemption.id, "code_id": code_id})
    loaded = db.identity_map.get(identity_key(MemberCode, code_id)) if code_id is not None else None
    if loaded is not None:
        set_committed_value(loaded, "used_at", None)


def member_redemptions(
    db: Session, tenant_id: int, member_id: int, since: datetime | None = None, limit: int = 20
) -> list[Redemption]:
    """The member's latest redemptions (newest first), for their history and their QR page's
    "just redeemed" panel (pass `since`)."""
    q = (
        select(Redemption)
        .options(selectinload(Redemption.lines), selectinload(Redemption.outlet))
        .where(Redemption.tenant_id == tenant_id, Redemption.member_id == member_id)
        .order_by(Redemption.created_at.desc(), Redemption.id.desc())
        .limit(limit)
    )
    if since is not None:
        q = q.where(Redemption.created_at > since)
    return list(db.scalars(q))
