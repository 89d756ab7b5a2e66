"""Redemption at the counter (兑换): identify the member from their rotating QR token or a short code
they read out, check the cart (offered here, priced, in stock, within per-member limits, points
enough), and post one journal (points member → outlet, goods shelf → redeemed; app/points/spending.py)
with its record and receipt.

Concurrency: the member's wallet row is locked first, so one member's redemptions (two outlets at
once, a double tap) take turns and each sees the one before it: limits and points are checked exactly.
Shelves are no-overdraft ledger accounts, so the database refuses selling a piece twice. The cart's
`key` makes a retry or double tap return the first receipt; a QR token or short code pays for one
redemption only (unique columns on outlet_redemptions, and member_codes.used_at).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from app.db import utcnow
from app.errors import AppError
from app.people import member_codes
from app.people.labels import ACTIVE
from app.people.models import Member, MemberCode
from app.points.accounts import wallet_code
from app.points.spending import available_points, open_outlet_points, outlet_points_code, post_redemption
from app.times import beijing
from app.tokens import check_token
from ledger import InsufficientBalance, Transfer
from ledger.schema import accounts

from .accounts import REDEEMED, goods_code, shelf_code
from .catalogue import limit_window, prices_at, redeemed_since
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
from .models import Item, Outlet, OutletItem, Redemption, RedemptionLine
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
    written when it raises."""
    now = now or utcnow()
    if not isinstance(key, str) or not 1 <= len(key) <= 100:
        raise OutletInvalid(str(_l("The cart needs a key of 1 to 100 characters.")), field="key")
    cart = _cart(lines)
    ident = f"t:{token_digest(member_token)}" if member_token else f"c:{member_codes.normalise(member_code or '')}"
    request_hash = _request_hash(outlet.id, ident, cart)
    tenant = outlet.tenant_id
    if not outlet.active:
        raise OutletClosed(str(_l("This outlet is closed: it cannot redeem.")))
    try:
        who = identify(db, tenant, member_token=member_token, member_code=member_code, now=now, check_used=False)
    except AppError:
        # A retry of a cart that went through (its code since used or expired) gets its receipt back.
        if (found := _by_key(db, tenant, key)) is not None:
            return _same_or_refuse(found, request_hash)
        raise
    member = who.member
    # Take the member's turn: their concurrent redemptions (a double tap, another outlet) wait here and
    # then see this one, so the key, the token, limits and points below are checked exactly. The locked
    # row is the wallet: what it holds is the member's available points.
    wallet = db.execute(
        select(accounts.c.credits_posted, accounts.c.debits_posted, accounts.c.debits_pending)
        .where(accounts.c.tenant_id == tenant, accounts.c.code == wallet_code(member.id))
        .with_for_update()
    ).first()
    have = wallet.credits_posted - wallet.debits_posted - wallet.debits_pending if wallet is not None else 0
    if (found := _by_key(db, tenant, key)) is not None:
        return _same_or_refuse(found, request_hash)
    if who.token_digest is not None and db.scalar(
        select(Redemption.id).where(Redemption.tenant_id == tenant, Redemption.token_digest == who.token_digest)
    ):
        raise TokenUsed(str(_l("This QR code was already used for a redemption. Ask the member to refresh it.")))
    if who.code is not None:
        db.refresh(who.code)
        if who.code.used_at is not None:
            raise TokenUsed(str(_l("This code was already used. Ask the member to reopen “My QR code” for a new one.")))

    ids = [i for i, _ in cart]
    offered = {
        item.id: item
        for oi, item in db.execute(
            select(OutletItem, Item)
            .join(Item, Item.id == OutletItem.item_id)
            .where(OutletItem.outlet_id == outlet.id, OutletItem.item_id.in_(ids))
        ).all()
        if oi.available and item.active and item.tenant_id == tenant
    }
    for item_id in ids:
        if item_id not in offered:
            raise ItemUnavailable(
                str(_l("An item of the cart is not offered at this outlet now. Remove it and try again.")),
                details=[{"field": "lines", "code": "item_unavailable", "item_id": item_id}],
            )
    prices = prices_at(db, ids, now)
    for item_id in ids:
        if item_id not in prices:
            raise ItemUnavailable(
                str(_l("%(item)s has no price yet. Ask the district to set one.", item=offered[item_id].name)),
                details=[{"field": "lines", "code": "item_unavailable", "item_id": item_id}],
            )

    # Per-member limits, per Beijing calendar period, across every outlet of the district.
    by_period: dict[str, list[int]] = {}
    for item_id in ids:
        item = offered[item_id]
        if item.limit_qty is not None and item.limit_period is not None:
            by_period.setdefault(item.limit_period, []).append(item_id)
    qty_of = dict(cart)
    for period, period_ids in by_period.items():
        start, resets = limit_window(period, now)
        already = redeemed_since(db, tenant, member.id, period_ids, start)
        for item_id in period_ids:
            item = offered[item_id]
            assert item.limit_qty is not None
            had = already.get(item_id, 0)
            if had + qty_of[item_id] > item.limit_qty:
                raise LimitReached(
                    str(
                        _l(
                            "%(item)s: at most %(limit)s per member in this period; this member has had %(had)s. "
                            "The limit resets on %(when)s.",
                            item=item.name,
                            limit=item.limit_qty,
                            had=had,
                            when=beijing(resets),
                        )
                    ),
                    details=[
                        {
                            "field": "lines",
                            "code": "limit_reached",
                            "item_id": item_id,
                            "limit": item.limit_qty,
                            "already": had,
                            "resets_at": resets.isoformat() + "Z",
                        }
                    ],
                )

    total = sum(prices[i].points * q for i, q in cart)
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
        if offered[i].kind == GOODS
    ]
    names = {i: offered[i].name for i in ids}
    if points_shards > 1:  # a busy outlet's points accounts, one per shard (opened once, then found)
        open_outlet_points(db, tenant, outlet.id, points_shards)
    try:
        journal = post_redemption(
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
                "lines": [[i, names[i], q, prices[i].points] for i, q in cart],
            },
        )
    except InsufficientBalance as e:
        raise out_of_stock(db, e, names) from None
    if who.code is not None:
        member_codes.consume_code(db, who.code, now)
    redemption = Redemption(
        tenant_id=tenant,
        outlet_id=outlet.id,
        member_id=member.id,
        staff_user_id=staff_user_id,
        key=key,
        token_digest=who.token_digest,
        member_code_id=who.code.id if who.code is not None else None,
        total_points=total,
        journal_id=journal.id,
        request_hash=request_hash,
        created_at=now,
    )
    redemption.lines = [
        RedemptionLine(item_id=i, price_id=prices[i].id, item_name=names[i], unit_points=prices[i].points, qty=q)
        for i, q in cart
    ]
    redemption.outlet, redemption.member = outlet, member
    redemption.available_after = have - total  # type: ignore[attr-defined]  # the receipt needs no query
    db.add(redemption)
    # The unique token, code and key columns back the checks above; a writer that skipped the member's
    # lock would fail here with an IntegrityError, and its whole request roll back.
    db.flush()
    return redemption


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
