"""Stock that is a ledger: donations and purchases in, transfers between outlets, write-offs, stock
counts (盘点) and their adjustments — each one journal of the outlets' goods accounts (accounts.py),
recorded with who, why and what as a StockMovement — and the stock report (账物相符) at any date.

Every movement takes an optional `key`: the same key again returns the first movement and moves nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session, selectinload

from app.audit.services import record
from app.db import utcnow
from app.errors import NotFound
from ledger import InsufficientBalance, Ledger, Transfer
from ledger.schema import accounts, entries

from .accounts import (
    ADJUSTED,
    DONATED,
    PURCHASED,
    REDEEMED,
    SHELF,
    WRITTEN_OFF,
    goods_code,
    open_goods_accounts,
    shelf_code,
)
from .errors import CountNotPending, OutletClosed, OutletInvalid, OutOfStock
from .labels import (
    ADJUSTMENT,
    APPLIED,
    CANCELLED,
    DONATION,
    GOODS,
    PENDING,
    PURCHASE,
    TRANSFER,
    WRITE_OFF,
    WRITE_OFF_REASONS,
)
from .models import Item, Outlet, OutletItem, StockCount, StockCountLine, StockMovement, StockMovementLine

MAX_QTY = 1_000_000
MAX_LINES = 2_000
KIND_STOCK = "stock"  # ledger journal kind of every stock movement (meta says which)
_SHORT = re.compile(r"account (\S+) has (-?\d+) \S+ available but this needs (\d+)")


def short_account(e: InsufficientBalance) -> tuple[str, int] | None:
    """(account code, pieces available) named by the ledger's refusal, if it names one."""
    m = _SHORT.search(str(e))
    return (m.group(1), int(m.group(2))) if m else None


def out_of_stock(db: Session, e: InsufficientBalance, names: dict[int, str]) -> OutOfStock:
    """The ledger refused a shelf going below zero: say which item and how many are left."""
    found = short_account(e)
    if found is not None and ":shelf:" in found[0]:
        item_id = int(found[0].rsplit(":", 1)[1])
        return OutOfStock(
            str(
                _l(
                    "Only %(left)s of %(item)s left on the shelf. Take fewer, or receive stock first.",
                    left=max(found[1], 0),
                    item=names.get(item_id, str(item_id)),
                )
            ),
            details=[{"field": "lines", "code": "out_of_stock", "item_id": item_id, "available": max(found[1], 0)}],
        )
    return OutOfStock(str(_l("Not enough stock on the shelf for this. Take fewer, or receive stock first.")))


def _lines(
    db: Session, tenant_id: int, lines: Iterable[tuple[int, int]], *, allow_zero: bool = False
) -> tuple[list[tuple[Item, int]], dict[int, str]]:
    """Check (item id, qty) pairs: goods of the district, whole positive pieces, each item once."""
    pairs = list(lines)
    if not pairs:
        raise OutletInvalid(str(_l("Add at least one item.")), field="lines")
    if len(pairs) > MAX_LINES:
        raise OutletInvalid(str(_l("At most 2,000 items in one movement; split it.")), field="lines")
    seen: set[int] = set()
    for item_id, qty in pairs:
        if not isinstance(qty, int) or isinstance(qty, bool) or not (0 if allow_zero else 1) <= qty <= MAX_QTY:
            raise OutletInvalid(str(_l("Each quantity must be a whole number from 1 to 1,000,000.")), field="lines")
        if item_id in seen:
            raise OutletInvalid(str(_l("An item appears twice; put it on one line.")), field="lines")
        seen.add(item_id)
    items = {i.id: i for i in db.scalars(select(Item).where(Item.tenant_id == tenant_id, Item.id.in_(seen)))}
    missing = seen - set(items)
    if missing:
        raise NotFound(str(_l("No such item in the catalogue.")), field="lines")
    for item in items.values():
        if item.kind != GOODS:
            raise OutletInvalid(
                str(_l("%(item)s is a service: services have no stock.", item=item.name)), field="lines"
            )
    return [(items[i], q) for i, q in pairs], {i.id: i.name for i in items.values()}


def _existing(db: Session, tenant_id: int, key: str | None) -> StockMovement | None:
    if key is None:
        return None
    return db.scalars(
        select(StockMovement)
        .options(selectinload(StockMovement.lines))
        .where(StockMovement.tenant_id == tenant_id, StockMovement.key == key)
    ).first()


def _check_key(key: str | None) -> None:
    if key is not None and not 1 <= len(key) <= 100:
        raise OutletInvalid(str(_l("A key must be 1 to 100 characters.")), field="key")


def _open(outlet: Outlet) -> None:
    if not outlet.active:
        raise OutletClosed(str(_l("This outlet is closed. Open it again on its page first.")))


def _post(
    db: Session,
    outlet: Outlet,
    actor_user_id: int | None,
    kind: str,
    transfers: list[Transfer],
    movement_lines: list[tuple[int, int]],
    names: dict[int, str],
    key: str | None,
    now: datetime,
    **fields,
) -> StockMovement:
    """One journal for the movement and its record (all or nothing)."""
    try:
        journal = Ledger(db, tenant=outlet.tenant_id).post(
            transfers,
            kind=KIND_STOCK,
            key=f"stock:{key}" if key else None,
            memo=f"{kind} {outlet.name}"[:200],
            meta={"movement": kind, "outlet_id": outlet.id},
        )
    except InsufficientBalance as e:
        raise out_of_stock(db, e, names) from None
    movement = StockMovement(
        tenant_id=outlet.tenant_id,
        outlet_id=outlet.id,
        kind=kind,
        journal_id=journal.id,
        key=key,
        created_by_user_id=actor_user_id,
        created_at=now,
        **fields,
    )
    movement.lines = [StockMovementLine(item_id=i, qty=q) for i, q in movement_lines]
    db.add(movement)
    db.flush()
    record(
        db,
        "outlet.stock_movement",
        tenant_id=outlet.tenant_id,
        actor_user_id=actor_user_id,
        target_type="outlet",
        target_id=outlet.id,
        detail={"movement_id": movement.id, "kind": kind, "lines": len(movement_lines)},
    )
    return movement


def receive(
    db: Session,
    outlet: Outlet,
    actor_user_id: int | None,
    kind: str,
    lines: Sequence[tuple[int, int]],
    *,
    donor: str = "",
    supplier: str = "",
    estimated_value_fen: int | None = None,
    note: str = "",
    key: str | None = None,
    now: datetime | None = None,
) -> StockMovement:
    """Goods in at an outlet: a donation (`donor`, e.g. an 爱心企业, required; `estimated_value_fen`
    optional) or a purchase (`supplier`). One journal: each item's donated/purchased → shelf."""
    now = now or utcnow()
    _check_key(key)
    if (found := _existing(db, outlet.tenant_id, key)) is not None:
        return found
    _open(outlet)
    if kind not in (DONATION, PURCHASE):
        raise OutletInvalid(str(_l("Goods come in as a donation or a purchase.")), field="kind")
    donor, supplier = (donor or "").strip(), (supplier or "").strip()
    if kind == DONATION and not 1 <= len(donor) <= 100:
        raise OutletInvalid(str(_l("Name the donor (a business or a person), up to 100 characters.")), field="donor")
    if len(supplier) > 100:
        raise OutletInvalid(str(_l("The supplier can be at most 100 characters.")), field="supplier")
    if estimated_value_fen is not None and not 0 <= estimated_value_fen <= 10**12:
        raise OutletInvalid(
            str(_l("The estimated value must be from 0 to 10,000,000,000 yuan.")), field="estimated_value"
        )
    checked, names = _lines(db, outlet.tenant_id, lines)
    open_goods_accounts(db, outlet.tenant_id, outlet.id, [i.id for i, _ in checked])
    source = DONATED if kind == DONATION else PURCHASED
    transfers = [Transfer(shelf_code(outlet.id, i.id), goods_code(outlet.id, source, i.id), q) for i, q in checked]
    return _post(
        db,
        outlet,
        actor_user_id,
        kind,
        transfers,
        [(i.id, q) for i, q in checked],
        names,
        key,
        now,
        donor=donor if kind == DONATION else "",
        supplier=supplier if kind == PURCHASE else "",
        estimated_value_fen=estimated_value_fen,
        note=(note or "")[:500],
    )


def transfer(
    db: Session,
    source: Outlet,
    target: Outlet,
    actor_user_id: int | None,
    lines: Sequence[tuple[int, int]],
    *,
    note: str = "",
    key: str | None = None,
    now: datetime | None = None,
) -> StockMovement:
    """Goods from one outlet's shelf straight to another's (same district), one journal. The caller
    checked `outlet.stock.receive` at the source."""
    now = now or utcnow()
    _check_key(key)
    if (found := _existing(db, source.tenant_id, key)) is not None:
        return found
    _open(source)
    if target.tenant_id != source.tenant_id:
        raise NotFound(str(_l("No such outlet.")), field="to_outlet_id")
    if target.id == source.id:
        raise OutletInvalid(str(_l("Choose another outlet to send the goods to.")), field="to_outlet_id")
    _open(target)
    checked, names = _lines(db, source.tenant_id, lines)
    ids = [i.id for i, _ in checked]
    open_goods_accounts(db, source.tenant_id, source.id, ids)
    open_goods_accounts(db, source.tenant_id, target.id, ids)
    transfers = [Transfer(shelf_code(target.id, i.id), shelf_code(source.id, i.id), q) for i, q in checked]
    return _post(
        db,
        source,
        actor_user_id,
        TRANSFER,
        transfers,
        [(i.id, -q) for i, q in checked],
        names,
        key,
        now,
        to_outlet_id=target.id,
        note=(note or "")[:500],
    )


def write_off(
    db: Session,
    outlet: Outlet,
    actor_user_id: int | None,
    lines: Sequence[tuple[int, int]],
    *,
    reason: str,
    note: str = "",
    key: str | None = None,
    now: datetime | None = None,
) -> StockMovement:
    """Goods leaving the shelf as damaged, past their date, lost or other (`reason` one of
    WRITE_OFF_REASONS; `note` says more, required for "other"). One journal: shelf → written off."""
    now = now or utcnow()
    _check_key(key)
    if (found := _existing(db, outlet.tenant_id, key)) is not None:
        return found
    if reason not in WRITE_OFF_REASONS:
        raise OutletInvalid(str(_l("Choose why the goods are written off.")), field="reason")
    if reason == "other" and not (note or "").strip():
        raise OutletInvalid(str(_l("Say why the goods are written off.")), field="note")
    checked, names = _lines(db, outlet.tenant_id, lines)
    open_goods_accounts(db, outlet.tenant_id, outlet.id, [i.id for i, _ in checked])
    transfers = [Transfer(goods_code(outlet.id, WRITTEN_OFF, i.id), shelf_code(outlet.id, i.id), q) for i, q in checked]
    return _post(
        db,
        outlet,
        actor_user_id,
        WRITE_OFF,
        transfers,
        [(i.id, -q) for i, q in checked],
        names,
        key,
        now,
        reason=reason,
        note=(note or "")[:500],
    )


# --- stock counts (盘点) ---------------------------------------------------------------------------------


def book_stock(db: Session, tenant_id: int, outlet_id: int, item_ids: Iterable[int]) -> dict[int, int]:
    """The books' posted pieces on the shelf now, per item (0 for an item never stocked)."""
    ids = sorted(set(item_ids))
    codes = {shelf_code(outlet_id, i): i for i in ids}
    found = {i: 0 for i in ids}
    if codes:
        for r in db.execute(
            select(accounts.c.code, accounts.c.debits_posted, accounts.c.credits_posted).where(
                accounts.c.tenant_id == tenant_id, accounts.c.code.in_(list(codes))
            )
        ):
            found[codes[r.code]] = r.debits_posted - r.credits_posted
    return found


def record_count(
    db: Session,
    outlet: Outlet,
    actor_user_id: int | None,
    counted: Sequence[tuple[int, int]],
    *,
    reasons: dict[int, str] | None = None,
    note: str = "",
    now: datetime | None = None,
) -> StockCount:
    """A stock count: the counted pieces per item (0 allowed) beside what the books say now. It stays
    pending until a supervisor applies it (apply_count) or cancels it."""
    now = now or utcnow()
    checked, _names = _lines(db, outlet.tenant_id, counted, allow_zero=True)
    book = book_stock(db, outlet.tenant_id, outlet.id, [i.id for i, _ in checked])
    reasons = reasons or {}
    count = StockCount(
        tenant_id=outlet.tenant_id,
        outlet_id=outlet.id,
        status=PENDING,
        note=(note or "")[:500],
        counted_by_user_id=actor_user_id,
        counted_at=now,
        created_at=now,
    )
    count.lines = [
        StockCountLine(item_id=i.id, book_qty=max(book[i.id], 0), counted_qty=q, reason=(reasons.get(i.id) or "")[:200])
        for i, q in checked
    ]
    db.add(count)
    db.flush()
    record(
        db,
        "outlet.count_record",
        tenant_id=outlet.tenant_id,
        actor_user_id=actor_user_id,
        target_type="outlet_stock_count",
        target_id=count.id,
        detail={
            "outlet_id": outlet.id,
            "items": len(checked),
            "differences": sum(1 for x in count.lines if x.difference),
        },
    )
    return count


def get_count(db: Session, tenant_id: int, count_id: int) -> StockCount:
    count = db.get(StockCount, count_id)
    if count is None or count.tenant_id != tenant_id:
        raise NotFound(str(_l("No such stock count.")))
    return count


def apply_count(
    db: Session,
    count: StockCount,
    actor_user_id: int | None,
    *,
    reasons: dict[int, str] | None = None,
    now: datetime | None = None,
) -> StockMovement | None:
    """Apply a pending count: each difference (counted − book at the time of counting) becomes one line
    of one adjustment movement, with its reason (required for every difference: here or when counted).
    Returns the movement, or None when nothing differed. The caller checked `outlet.stock.adjust`."""
    now = now or utcnow()
    locked = db.scalars(select(StockCount).where(StockCount.id == count.id).with_for_update()).one()
    if locked.status != PENDING:
        raise CountNotPending(str(_l("This stock count was already applied or cancelled.")))
    for line in count.lines:
        if reasons and reasons.get(line.item_id):
            line.reason = reasons[line.item_id][:200]
    missing = [line for line in count.lines if line.difference and not line.reason.strip()]
    if missing:
        raise OutletInvalid(
            str(_l("Give a reason for each difference (%(item)s).", item=missing[0].item.name)), field="reasons"
        )
    outlet = count.outlet
    diffs = [(line.item_id, line.difference) for line in count.lines if line.difference]
    movement = None
    if diffs:
        transfers = []
        for item_id, d in diffs:
            shelf, adj = shelf_code(outlet.id, item_id), goods_code(outlet.id, ADJUSTED, item_id)
            transfers.append(Transfer(shelf, adj, d) if d > 0 else Transfer(adj, shelf, -d))
        names = {line.item_id: line.item.name for line in count.lines}
        movement = _post(
            db,
            outlet,
            actor_user_id,
            ADJUSTMENT,
            transfers,
            diffs,
            names,
            f"count:{count.id}",
            now,
            count_id=count.id,
            reason="; ".join(f"{names[line.item_id]}: {line.reason}" for line in count.lines if line.difference)[:200],
        )
    count.status, count.decided_by_user_id, count.decided_at = APPLIED, actor_user_id, now
    db.flush()
    record(
        db,
        "outlet.count_apply",
        tenant_id=count.tenant_id,
        actor_user_id=actor_user_id,
        target_type="outlet_stock_count",
        target_id=count.id,
        detail={"movement_id": movement.id if movement else None, "differences": len(diffs)},
    )
    return movement


def cancel_count(db: Session, count: StockCount, actor_user_id: int | None, now: datetime | None = None) -> StockCount:
    """Set a pending count aside (counted wrongly): nothing moves."""
    locked = db.scalars(select(StockCount).where(StockCount.id == count.id).with_for_update()).one()
    if locked.status != PENDING:
        raise CountNotPending(str(_l("This stock count was already applied or cancelled.")))
    count.status, count.decided_by_user_id, count.decided_at = CANCELLED, actor_user_id, now or utcnow()
    db.flush()
    record(
        db,
        "outlet.count_cancel",
        tenant_id=count.tenant_id,
        actor_user_id=actor_user_id,
        target_type="outlet_stock_count",
        target_id=count.id,
    )
    return count


# --- the stock report (账物相符) ------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportLine:
    item_id: int
    name: str
    unit_name: str
    value_fen: int | None
    book_qty: int  # on the shelf by the books at the report's date
    received: int  # donated + purchased in the period
    transferred: int  # net transfers in (+) or out (−) in the period
    redeemed: int  # net of refunds, in the period
    written_off: int
    adjusted: int  # count differences applied (+ surplus, − shortage)
    counted_qty: int | None  # the latest count at or before the date (None: never counted)
    count_book_qty: int | None  # what the books said when it was counted
    counted_at: datetime | None
    count_status: str | None  # pending | applied

    @property
    def difference(self) -> int | None:
        """Counted − books at the time of the latest count."""
        return (
            None if self.counted_qty is None or self.count_book_qty is None else self.counted_qty - self.count_book_qty
        )

    @property
    def reconciled(self) -> bool:
        """Shelf and books agree: never counted differently, or the difference was applied."""
        return self.difference in (None, 0) or self.count_status == APPLIED

    @property
    def value(self) -> int | None:
        return None if self.value_fen is None else self.value_fen * self.book_qty


@dataclass(frozen=True)
class StockReport:
    outlet_id: int
    at: datetime
    since: datetime | None
    lines: list[ReportLine]

    @property
    def matches(self) -> bool:
        """账物相符: no item's latest count differs from its books without the difference applied."""
        return all(line.reconciled for line in self.lines)

    @property
    def value_fen(self) -> int:
        return sum(line.value or 0 for line in self.lines)


def stock_report(db: Session, outlet: Outlet, at: datetime | None = None, since: datetime | None = None) -> StockReport:
    """Per goods item of the outlet: pieces on the shelf by the books at `at` (default now), the
    movements from `since` to `at` by kind, and the latest stock count at or before `at` with its
    difference. A few indexed statements whatever the history's length."""
    at = at or utcnow()
    tenant = outlet.tenant_id
    items = list(
        db.scalars(
            select(Item)
            .join(OutletItem, and_(OutletItem.item_id == Item.id, OutletItem.outlet_id == outlet.id))
            .where(Item.kind == GOODS)
            .order_by(Item.category, Item.name)
        )
    )
    stocked = db.scalars(
        select(StockMovementLine.item_id)
        .join(StockMovement, StockMovement.id == StockMovementLine.movement_id)
        .where(StockMovement.outlet_id == outlet.id)
        .distinct()
    ).all()
    have = {i.id for i in items}
    extra = [i for i in stocked if i not in have]
    if extra:
        items += list(db.scalars(select(Item).where(Item.id.in_(extra)).order_by(Item.name)))
    kinds = (SHELF, DONATED, PURCHASED, REDEEMED, WRITTEN_OFF, ADJUSTED)
    codes = {goods_code(outlet.id, k, i.id): (k, i.id) for i in items for k in kinds}
    ids: dict[int, tuple[str, int]] = {}
    if codes:
        for r in db.execute(
            select(accounts.c.id, accounts.c.code).where(
                accounts.c.tenant_id == tenant, accounts.c.code.in_(list(codes))
            )
        ):
            ids[r.id] = codes[r.code]
    shelf_ids = [a for a, (k, _) in ids.items() if k == SHELF]
    balance: dict[int, int] = {}
    if shelf_ids:
        latest = (
            select(entries.c.balance_after)
            .where(entries.c.account_id == accounts.c.id, entries.c.created_at <= at)
            .order_by(entries.c.created_at.desc(), entries.c.seq.desc())
            .limit(1)
            .correlate(accounts)
            .scalar_subquery()
        )
        for r in db.execute(select(accounts.c.id, latest.label("bal")).where(accounts.c.id.in_(shelf_ids))):
            balance[ids[r.id][1]] = r.bal or 0
    moved: dict[tuple[str, int], int] = {}
    transfers_net: dict[int, int] = {}
    if since is not None and ids:
        for account_id, delta in db.execute(
            select(entries.c.account_id, func.sum(entries.c.posted_delta))
            .where(entries.c.account_id.in_(list(ids)), entries.c.created_at > since, entries.c.created_at <= at)
            .group_by(entries.c.account_id)
        ).all():
            moved[ids[account_id]] = int(delta or 0)
        for item_id, from_outlet, qty in db.execute(
            select(StockMovementLine.item_id, StockMovement.outlet_id, func.sum(StockMovementLine.qty))
            .join(StockMovement, StockMovement.id == StockMovementLine.movement_id)
            .where(
                StockMovement.kind == TRANSFER,
                (StockMovement.outlet_id == outlet.id) | (StockMovement.to_outlet_id == outlet.id),
                StockMovement.created_at > since,
                StockMovement.created_at <= at,
            )
            .group_by(StockMovementLine.item_id, StockMovement.outlet_id)
        ).all():
            sign = 1 if from_outlet == outlet.id else -1  # lines are the source's change; the target sees the opposite
            transfers_net[item_id] = transfers_net.get(item_id, 0) + sign * int(qty or 0)
    counts: dict[int, tuple[int, int, datetime, str]] = {}
    for line, count in db.execute(
        select(StockCountLine, StockCount)
        .join(StockCount, StockCount.id == StockCountLine.count_id)
        .where(StockCount.outlet_id == outlet.id, StockCount.counted_at <= at, StockCount.status != CANCELLED)
        .order_by(StockCount.counted_at)
    ).all():
        status = count.status if count.decided_at is None or count.decided_at <= at else PENDING
        counts[line.item_id] = (line.counted_qty, line.book_qty, count.counted_at, status)
    lines = []
    for i in items:
        c = counts.get(i.id)
        book = balance.get(i.id, 0)
        lines.append(
            ReportLine(
                item_id=i.id,
                name=i.name,
                unit_name=i.unit_name,
                value_fen=i.value_fen,
                book_qty=book,
                received=moved.get((DONATED, i.id), 0) + moved.get((PURCHASED, i.id), 0),
                transferred=transfers_net.get(i.id, 0),
                redeemed=moved.get((REDEEMED, i.id), 0),
                written_off=moved.get((WRITTEN_OFF, i.id), 0),
                adjusted=-moved.get((ADJUSTED, i.id), 0),
                counted_qty=c[0] if c else None,
                count_book_qty=c[1] if c else None,
                counted_at=c[2] if c else None,
                count_status=c[3] if c else None,
            )
        )
    return StockReport(outlet_id=outlet.id, at=at, since=since, lines=lines)
