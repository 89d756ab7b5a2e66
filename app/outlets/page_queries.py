"""What the outlet pages read (nothing here writes): shelf quantities from the ledger now or at a time, an
outlet's goods with their low-stock levels, its statement for a month and today's redemptions, and the
district's comparison of outlets, popular items and slow movers. (账物相符 comes from stock.stock_report.)"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.db import starts_with
from app.times import to_beijing, to_utc
from ledger.schema import accounts, entries

from .models import (
    Item,
    Outlet,
    OutletItem,
    Redemption,
    RedemptionLine,
    Refund,
)

SHELF_PREFIX = "outlet:"


def day_end(day: date) -> datetime:
    """The end of a Beijing calendar day, as a naive UTC timestamp (exclusive bound)."""
    return to_utc(datetime.combine(day + timedelta(days=1), time(0)))


def day_start(day: date) -> datetime:
    return to_utc(datetime.combine(day, time(0)))


def beijing_today(now: datetime | None = None) -> date:
    from app.db import utcnow

    return to_beijing(now or utcnow()).date()


def _parse_shelf(code: str) -> tuple[int, int] | None:
    parts = code.split(":")
    if len(parts) == 4 and parts[0] == "outlet" and parts[2] == "shelf":
        return int(parts[1]), int(parts[3])
    return None


def shelf_now(session: Session, tenant_id: int, outlet_id: int | None = None) -> dict[tuple[int, int], int]:
    """{(outlet id, item id): pieces on the shelf} from the accounts' cached balances."""
    prefix = f"outlet:{outlet_id}:shelf:" if outlet_id else SHELF_PREFIX
    rows = session.execute(
        select(accounts.c.code, (accounts.c.debits_posted - accounts.c.credits_posted).label("qty")).where(
            accounts.c.tenant_id == tenant_id, starts_with(accounts.c.code, prefix)
        )
    )
    out = {}
    for code, qty in rows:
        key = _parse_shelf(code)
        if key is not None:
            out[key] = int(qty)
    return out


def shelf_at(
    session: Session, tenant_id: int, when: datetime, outlet_id: int | None = None
) -> dict[tuple[int, int], int]:
    """{(outlet id, item id): pieces on the shelf} just before `when` (naive UTC), from the postings."""
    prefix = f"outlet:{outlet_id}:shelf:" if outlet_id else SHELF_PREFIX
    rows = session.execute(
        select(accounts.c.code, func.coalesce(func.sum(entries.c.posted_delta), 0))
        .select_from(accounts.join(entries, entries.c.account_id == accounts.c.id))
        .where(accounts.c.tenant_id == tenant_id, starts_with(accounts.c.code, prefix), entries.c.created_at < when)
        .group_by(accounts.c.code)
    )
    out = {}
    for code, qty in rows:
        key = _parse_shelf(code)
        if key is not None:
            out[key] = int(qty)
    return out


# --- one outlet --------------------------------------------------------------------------------------


@dataclass
class StockLine:
    item: Item
    qty: int
    low_at: int | None = None
    available: bool = True

    @property
    def value_fen(self) -> int:
        return self.qty * (self.item.value_fen or 0)

    @property
    def low(self) -> bool:
        return self.low_at is not None and self.item.kind == "goods" and self.qty <= self.low_at


def stock_lines(session: Session, outlet: Outlet, at: datetime | None = None) -> list[StockLine]:
    """Every item the outlet offers or holds, with its pieces on the shelf (now, or just before `at`)."""
    shelf = (
        shelf_at(session, outlet.tenant_id, at, outlet.id) if at else shelf_now(session, outlet.tenant_id, outlet.id)
    )
    offered = {oi.item_id: oi for oi in session.scalars(select(OutletItem).where(OutletItem.outlet_id == outlet.id))}
    ids = set(offered) | {i for (_o, i) in shelf}
    items: list[Item] = (
        list(session.scalars(select(Item).where(Item.id.in_(ids)).order_by(Item.category, Item.name))) if ids else []
    )
    lines = []
    for item in items:
        oi = offered.get(item.id)
        lines.append(
            StockLine(
                item,
                shelf.get((outlet.id, item.id), 0),
                oi.low_stock_at if oi else None,
                bool(oi and oi.available),
            )
        )
    return lines


@dataclass
class Statement:
    """An outlet's month: redemptions, points collected (less refunds), pieces out, stock value now."""

    redemptions: int = 0
    points: int = 0
    items_out: int = 0
    stock_value_fen: int = 0


def _redeemed(session: Session, tenant_id: int, start: datetime, end: datetime, outlet_id: int | None = None):
    """Per outlet: (redemptions, points collected less refunds, pieces out less refunds)."""
    cond = [Redemption.tenant_id == tenant_id, Redemption.created_at >= start, Redemption.created_at < end]
    if outlet_id:
        cond.append(Redemption.outlet_id == outlet_id)
    out: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0])
    for oid, n, pts in session.execute(
        select(Redemption.outlet_id, func.count(), func.coalesce(func.sum(Redemption.total_points), 0))
        .where(*cond)
        .group_by(Redemption.outlet_id)
    ):
        out[oid][0], out[oid][1] = int(n), int(pts)
    for oid, qty in session.execute(
        select(Redemption.outlet_id, func.coalesce(func.sum(RedemptionLine.qty - RedemptionLine.refunded_qty), 0))
        .join(RedemptionLine, RedemptionLine.redemption_id == Redemption.id)
        .where(*cond)
        .group_by(Redemption.outlet_id)
    ):
        out[oid][2] = int(qty)
    for oid, pts in session.execute(
        select(Redemption.outlet_id, func.coalesce(func.sum(Refund.points), 0))
        .join(Refund, Refund.redemption_id == Redemption.id)
        .where(*cond)
        .group_by(Redemption.outlet_id)
    ):
        out[oid][1] -= int(pts)
    return out


def month_bounds(day: date) -> tuple[date, date]:
    first = day.replace(day=1)
    nxt = (first + timedelta(days=32)).replace(day=1)
    return first, nxt


def statement(session: Session, outlet: Outlet, day: date) -> Statement:
    first, nxt = month_bounds(day)
    got = _redeemed(session, outlet.tenant_id, day_start(first), day_start(nxt), outlet.id).get(outlet.id, [0, 0, 0])
    value = sum(line.value_fen for line in stock_lines(session, outlet))
    return Statement(got[0], got[1], got[2], value)


def todays_redemptions(session: Session, outlet: Outlet, today: date, limit: int = 50) -> list[Redemption]:
    return list(
        session.scalars(
            select(Redemption)
            .where(
                Redemption.outlet_id == outlet.id,
                Redemption.created_at >= day_start(today),
                Redemption.created_at < day_end(today),
            )
            .order_by(Redemption.created_at.desc())
            .limit(limit)
        )
    )


# --- the district view ---------------------------------------------------------------------------------


@dataclass
class OutletRow:
    outlet: Outlet
    redemptions: int = 0
    points: int = 0
    items_out: int = 0
    stock_pieces: int = 0
    stock_value_fen: int = 0
    low_items: int = 0


@dataclass
class ItemRow:
    item: Item
    qty: int = 0
    points: int = 0
    on_shelf: int = 0


@dataclass
class DistrictView:
    rows: list[OutletRow] = field(default_factory=list)
    popular: list[ItemRow] = field(default_factory=list)
    slow: list[ItemRow] = field(default_factory=list)


def district_view(session: Session, tenant_id: int, outlets: list[Outlet], start: date, end: date) -> DistrictView:
    """Outlets side by side for [start, end] (Beijing days), the 10 most redeemed items and the goods
    that sit on shelves and moved least (slow movers)."""
    lo, hi = day_start(start), day_end(end)
    ids = [o.id for o in outlets]
    redeemed = _redeemed(session, tenant_id, lo, hi)
    shelf = {k: v for k, v in shelf_now(session, tenant_id).items() if k[0] in set(ids)}
    items = {i.id: i for i in session.scalars(select(Item).where(Item.tenant_id == tenant_id))}
    low_at = {
        (oi.outlet_id, oi.item_id): oi.low_stock_at
        for oi in session.scalars(
            select(OutletItem).where(OutletItem.tenant_id == tenant_id, OutletItem.available.is_(True))
        )
    }
    view = DistrictView()
    for o in outlets:
        got = redeemed.get(o.id, [0, 0, 0])
        row = OutletRow(o, got[0], got[1], got[2])
        for (oid, iid), qty in shelf.items():
            if oid != o.id:
                continue
            row.stock_pieces += qty
            row.stock_value_fen += qty * (items[iid].value_fen or 0) if iid in items else 0
        row.low_items = sum(
            1
            for (oid, iid), at in low_at.items()
            if oid == o.id and iid in items and items[iid].kind == "goods" and shelf.get((oid, iid), 0) <= at
        )
        view.rows.append(row)
    by_item: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    if ids:
        for iid, qty, pts in session.execute(
            select(
                RedemptionLine.item_id,
                func.sum(RedemptionLine.qty - RedemptionLine.refunded_qty),
                func.sum((RedemptionLine.qty - RedemptionLine.refunded_qty) * RedemptionLine.unit_points),
            )
            .join(Redemption, Redemption.id == RedemptionLine.redemption_id)
            .where(
                Redemption.tenant_id == tenant_id,
                Redemption.outlet_id.in_(ids),
                Redemption.created_at >= lo,
                Redemption.created_at < hi,
            )
            .group_by(RedemptionLine.item_id)
        ):
            by_item[iid] = [int(qty or 0), int(pts or 0)]
    on_shelf: dict[int, int] = defaultdict(int)
    for (_oid, iid), qty in shelf.items():
        on_shelf[iid] += qty
    rows = [ItemRow(items[i], q, p, on_shelf.get(i, 0)) for i, (q, p) in by_item.items() if i in items and q > 0]
    view.popular = sorted(rows, key=lambda r: (-r.qty, r.item.name))[:10]
    goods = [
        ItemRow(it, by_item.get(i, [0, 0])[0], by_item.get(i, [0, 0])[1], on_shelf.get(i, 0))
        for i, it in items.items()
        if it.kind == "goods" and it.active and on_shelf.get(i, 0) > 0
    ]
    # Slow: pieces out in the period per piece on the shelves, lowest first (what sits and does not move).
    view.slow = sorted(goods, key=lambda r: (r.qty / max(r.on_shelf, 1), -r.on_shelf, r.item.name))[:10]
    return view
