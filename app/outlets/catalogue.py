"""The district's catalogue: items (goods and services), versioned prices in points, per-member limits
per Beijing calendar period, and availability per outlet with the stock on its shelf."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.audit.services import record
from app.db import utcnow
from app.errors import Conflict, NotFound
from app.times import to_beijing, to_utc
from ledger.schema import accounts

from .accounts import open_goods_accounts, shelf_code, shelf_prefix
from .errors import OutletInvalid
from .labels import DAY, ITEM_KINDS, LIMIT_PERIODS, MONTH, WEEK, YEAR
from .models import Item, ItemPrice, Outlet, OutletItem, Redemption, RedemptionLine

MAX_POINTS = 100_000


def get_item(db: Session, tenant_id: int, item_id: int) -> Item:
    """The district's item, or NotFound."""
    item = db.get(Item, item_id)
    if item is None or item.tenant_id != tenant_id:
        raise NotFound(str(_l("No such item in the catalogue.")))
    return item


def _check_item(
    name: str,
    category: str,
    kind: str,
    unit_name: str,
    limit_qty: int | None,
    limit_period: str | None,
    value_fen: int | None,
) -> tuple[str, str, str]:
    name, category, unit_name = (name or "").strip(), (category or "").strip(), (unit_name or "").strip()
    if not 1 <= len(name) <= 100:
        raise OutletInvalid(str(_l("Give the item a name of 1 to 100 characters.")), field="name")
    if len(category) > 50:
        raise OutletInvalid(str(_l("The category can be at most 50 characters.")), field="category")
    if kind not in ITEM_KINDS:
        raise OutletInvalid(str(_l("Choose goods or service.")), field="kind")
    if len(unit_name) > 16:
        raise OutletInvalid(str(_l("The unit can be at most 16 characters (袋, 瓶, 次).")), field="unit_name")
    if (limit_qty is None) != (limit_period is None):
        raise OutletInvalid(
            str(_l("A limit needs both a number and a period (for example 2 per month), or neither.")),
            field="limit_qty",
        )
    if limit_qty is not None and not 1 <= limit_qty <= 10_000:
        raise OutletInvalid(str(_l("A limit must be from 1 to 10,000 pieces.")), field="limit_qty")
    if limit_period is not None and limit_period not in LIMIT_PERIODS:
        raise OutletInvalid(str(_l("Choose a limit period: day, week, month or year.")), field="limit_period")
    if value_fen is not None and not 0 <= value_fen <= 10**9:
        raise OutletInvalid(str(_l("The value must be from 0 to 10,000,000 yuan.")), field="value_fen")
    return name, category, unit_name


def _check_points(points: int) -> None:
    if not isinstance(points, int) or isinstance(points, bool) or not 1 <= points <= MAX_POINTS:
        raise OutletInvalid(str(_l("A price must be from 1 to 100,000 points.")), field="points")


def create_item(
    db: Session,
    tenant_id: int,
    actor_user_id: int | None,
    *,
    name: str,
    points: int,
    category: str = "",
    kind: str = "goods",
    unit_name: str = "",
    description: str = "",
    limit_qty: int | None = None,
    limit_period: str | None = None,
    value_fen: int | None = None,
    now: datetime | None = None,
) -> Item:
    """A new catalogue item with its first price (version 1, in force from now). Names are unique
    per district."""
    now = now or utcnow()
    name, category, unit_name = _check_item(name, category, kind, unit_name, limit_qty, limit_period, value_fen)
    _check_points(points)
    item = Item(
        tenant_id=tenant_id,
        name=name,
        category=category,
        kind=kind,
        unit_name=unit_name,
        description=(description or "")[:2000],
        limit_qty=limit_qty,
        limit_period=limit_period,
        value_fen=value_fen,
        created_by_user_id=actor_user_id,
        created_at=now,
    )
    try:
        with db.begin_nested():
            db.add(item)
            db.flush()
    except IntegrityError:
        raise Conflict(str(_l("An item with this name is already in the catalogue.")), field="name") from None
    db.add(
        ItemPrice(
            tenant_id=tenant_id,
            item_id=item.id,
            version=1,
            points=points,
            effective_from=now,
            created_by_user_id=actor_user_id,
            created_at=now,
        )
    )
    db.flush()
    record(
        db,
        "outlet.item_create",
        tenant_id=tenant_id,
        actor_user_id=actor_user_id,
        target_type="outlet_item",
        target_id=item.id,
        detail={"name": name, "points": points},
    )
    return item


def update_item(
    db: Session,
    item: Item,
    actor_user_id: int | None,
    *,
    name: str,
    category: str,
    kind: str,
    unit_name: str,
    description: str,
    limit_qty: int | None,
    limit_period: str | None,
    value_fen: int | None,
    active: bool,
) -> Item:
    """Change an item's description, limit or whether it is offered at all (its price: change_price)."""
    name, category, unit_name = _check_item(name, category, kind, unit_name, limit_qty, limit_period, value_fen)
    db.flush()  # begin_nested flushes what is pending first, outside the savepoint: do that before
    try:
        with db.begin_nested():  # a taken name rolls back only this change, and the page can say so
            item.name, item.category, item.kind, item.unit_name = name, category, kind, unit_name
            item.description, item.limit_qty, item.limit_period = (description or "")[:2000], limit_qty, limit_period
            item.value_fen, item.active = value_fen, active
            db.flush()
    except IntegrityError:
        raise Conflict(str(_l("An item with this name is already in the catalogue.")), field="name") from None
    record(
        db,
        "outlet.item_update",
        tenant_id=item.tenant_id,
        actor_user_id=actor_user_id,
        target_type="outlet_item",
        target_id=item.id,
        detail={"name": name, "active": active, "limit_qty": limit_qty, "limit_period": limit_period},
    )
    return item


def change_price(
    db: Session,
    item: Item,
    actor_user_id: int | None,
    points: int,
    *,
    effective_from: datetime | None = None,
    reason: str = "",
    now: datetime | None = None,
) -> ItemPrice:
    """A new price version in force from `effective_from` (default now; never in the past, so no
    redemption already made changes price). Redemptions keep the version they were made at."""
    now = now or utcnow()
    _check_points(points)
    effective_from = effective_from or now
    if effective_from < now - timedelta(minutes=1):
        raise OutletInvalid(
            str(_l("A price cannot take effect in the past; choose now or later.")), field="effective_from"
        )
    db.execute(select(Item.id).where(Item.id == item.id).with_for_update())  # one version number at a time
    last = db.scalar(select(func.max(ItemPrice.version)).where(ItemPrice.item_id == item.id)) or 0
    price = ItemPrice(
        tenant_id=item.tenant_id,
        item_id=item.id,
        version=last + 1,
        points=points,
        effective_from=max(effective_from, now),
        reason=(reason or "")[:200],
        created_by_user_id=actor_user_id,
        created_at=now,
    )
    db.add(price)
    db.flush()
    record(
        db,
        "outlet.price_change",
        tenant_id=item.tenant_id,
        actor_user_id=actor_user_id,
        target_type="outlet_item",
        target_id=item.id,
        detail={"version": price.version, "points": points, "effective_from": price.effective_from.isoformat()},
    )
    return price


def prices_at(db: Session, item_ids: Iterable[int], when: datetime) -> dict[int, ItemPrice]:
    """The price version in force at `when` for each item (items without one are left out)."""
    ids = sorted(set(item_ids))
    if not ids:
        return {}
    rows = db.scalars(
        select(ItemPrice)
        .where(ItemPrice.item_id.in_(ids), ItemPrice.effective_from <= when)
        .order_by(ItemPrice.item_id, ItemPrice.effective_from.desc(), ItemPrice.version.desc())
    )
    out: dict[int, ItemPrice] = {}
    for p in rows:
        out.setdefault(p.item_id, p)
    return out


def set_availability(
    db: Session, outlet: Outlet, item: Item, *, available: bool = True, low_stock_at: int = 5
) -> OutletItem:
    """Offer (or stop offering) an item at an outlet; opens the item's goods accounts there."""
    if item.tenant_id != outlet.tenant_id:
        raise NotFound(str(_l("No such item in the catalogue.")))
    if not 0 <= low_stock_at <= 100_000:
        raise OutletInvalid(str(_l("The low-stock level must be from 0 to 100,000.")), field="low_stock_at")
    row = db.scalars(select(OutletItem).where(OutletItem.outlet_id == outlet.id, OutletItem.item_id == item.id)).first()
    if row is None:
        row = OutletItem(tenant_id=outlet.tenant_id, outlet_id=outlet.id, item_id=item.id)
        db.add(row)
    row.available, row.low_stock_at = available, low_stock_at
    db.flush()
    open_goods_accounts(db, outlet.tenant_id, outlet.id, [item.id])
    return row


def shelf_stock(db: Session, tenant_id: int, outlet_id: int, item_ids: Iterable[int] | None = None) -> dict[int, int]:
    """Pieces on the outlet's shelf now, per item (from the ledger's cached balances)."""
    prefix = shelf_prefix(outlet_id)
    q = select(accounts.c.code, accounts.c.debits_posted, accounts.c.credits_posted, accounts.c.credits_pending).where(
        accounts.c.tenant_id == tenant_id
    )
    if item_ids is not None:
        codes = [shelf_code(outlet_id, i) for i in set(item_ids)]
        if not codes:
            return {}
        q = q.where(accounts.c.code.in_(codes))
    else:
        q = q.where(accounts.c.code.like(prefix.replace("_", "\\_") + "%", escape="\\"))
    return {int(r.code[len(prefix) :]): r.debits_posted - r.credits_posted - r.credits_pending for r in db.execute(q)}


@dataclass(frozen=True)
class Offer:
    """One item as the counter sees it at an outlet."""

    item: Item
    price: ItemPrice | None
    stock: int | None  # None for services (not counted)
    available: bool
    low: bool


def offers(db: Session, outlet: Outlet, when: datetime | None = None, include_unavailable: bool = False) -> list[Offer]:
    """The items offered at the outlet with their price now and the stock on its shelf, by category
    and name."""
    when = when or utcnow()
    q = (
        select(OutletItem, Item)
        .join(Item, Item.id == OutletItem.item_id)
        .where(OutletItem.outlet_id == outlet.id)
        .order_by(Item.category, Item.name)
    )
    if not include_unavailable:
        q = q.where(OutletItem.available.is_(True), Item.active.is_(True))
    rows = db.execute(q).all()
    ids = [item.id for _, item in rows]
    prices = prices_at(db, ids, when)
    stock = shelf_stock(db, outlet.tenant_id, outlet.id, ids)
    out = []
    for oi, item in rows:
        qty = stock.get(item.id, 0) if item.kind == "goods" else None
        out.append(
            Offer(
                item=item,
                price=prices.get(item.id),
                stock=qty,
                available=oi.available and item.active,
                low=qty is not None and qty <= oi.low_stock_at,
            )
        )
    return out


# --- per-member limits --------------------------------------------------------------------------------


def limit_window(period: str, now: datetime) -> tuple[datetime, datetime]:
    """The Beijing calendar period containing `now` (naive UTC), as (start, next start) in naive UTC:
    a limit counts what was redeemed from `start` and resets at `next start`."""
    return _window(period, to_beijing(now).date())


def limit_starts(now: datetime) -> dict[str, datetime]:
    """The start of each limit period (day, week, month, year) containing `now`, as limit_window gives
    them: what every redemption's checks read (redemption._turn_and_checks)."""
    return dict(_starts(to_beijing(now).date()))  # a copy: the cached one is shared


@lru_cache(maxsize=16)
def _starts(day: date) -> dict[str, datetime]:
    return {p: _window(p, day)[0] for p in LIMIT_PERIODS}


@lru_cache(maxsize=64)
def _window(period: str, local_day: date) -> tuple[datetime, datetime]:
    """limit_window of a Beijing calendar day: it depends on the day alone, and every redemption of
    the day asks for the same four, so they are worked out once a day per process."""
    day = datetime(local_day.year, local_day.month, local_day.day)
    if period == DAY:
        start, end = day, day + timedelta(days=1)
    elif period == WEEK:
        start = day - timedelta(days=day.weekday())
        end = start + timedelta(days=7)
    elif period == MONTH:
        start = day.replace(day=1)
        end = (start + timedelta(days=32)).replace(day=1)
    elif period == YEAR:
        start = day.replace(month=1, day=1)
        end = start.replace(year=start.year + 1)
    else:
        raise ValueError(f"unknown limit period {period!r}")
    return to_utc(start), to_utc(end)


def redeemed_since(
    db: Session, tenant_id: int, member_id: int, item_ids: Iterable[int], since: datetime
) -> dict[int, int]:
    """Pieces of each item the member redeemed (anywhere in the district) from `since`, less refunds."""
    ids = sorted(set(item_ids))
    if not ids:
        return {}
    rows = db.execute(
        select(RedemptionLine.item_id, func.sum(RedemptionLine.qty - RedemptionLine.refunded_qty))
        .join(Redemption, Redemption.id == RedemptionLine.redemption_id)
        .where(
            Redemption.tenant_id == tenant_id,
            Redemption.member_id == member_id,
            Redemption.created_at >= since,
            RedemptionLine.item_id.in_(ids),
        )
        .group_by(RedemptionLine.item_id)
    )
    return {r[0]: int(r[1] or 0) for r in rows}
