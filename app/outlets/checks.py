"""The stock check: every shelf account's cached balance equals its postings, is not negative, is in its
item's unit, and equals what the outlets' own records say moved (movements, redemptions, refunds).
`flask outlets verify-stock` runs it; tests run it after every scenario."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger.schema import accounts, entries

from .accounts import item_unit
from .labels import GOODS, TRANSFER
from .models import Item, Redemption, RedemptionLine, Refund, RefundLine, StockMovement, StockMovementLine


def verify_stock(db: Session, tenant_id: int) -> list[str]:
    """Every disagreement found in the district's stock, in words; [] when shelf = postings = records."""
    problems: list[str] = []
    shelves = db.execute(
        select(
            accounts.c.id, accounts.c.code, accounts.c.unit, accounts.c.debits_posted, accounts.c.credits_posted
        ).where(accounts.c.tenant_id == tenant_id, accounts.c.code.like("outlet:%:shelf:%"))
    ).all()
    sums = dict(
        db.execute(
            select(entries.c.account_id, func.coalesce(func.sum(entries.c.posted_delta), 0))
            .join(accounts, accounts.c.id == entries.c.account_id)
            .where(accounts.c.tenant_id == tenant_id, accounts.c.code.like("outlet:%:shelf:%"))
            .group_by(entries.c.account_id)
        ).all()
    )
    book: dict[tuple[int, int], int] = {}
    for a in shelves:
        _, outlet_id, _, item_id = a.code.split(":")
        key = (int(outlet_id), int(item_id))
        cached = a.debits_posted - a.credits_posted
        book[key] = cached
        if a.unit != item_unit(key[1]):
            problems.append(f"{a.code}: unit {a.unit}, but item {key[1]}'s unit is {item_unit(key[1])}")
        if cached != int(sums.get(a.id, 0)):
            problems.append(f"{a.code}: cached balance {cached} but its postings sum to {sums.get(a.id, 0)}")
        if cached < 0:
            problems.append(f"{a.code}: {cached} pieces on the shelf (negative)")

    records: defaultdict[tuple[int, int], int] = defaultdict(int)
    for outlet_id, to_outlet_id, kind, item_id, qty in db.execute(
        select(
            StockMovement.outlet_id,
            StockMovement.to_outlet_id,
            StockMovement.kind,
            StockMovementLine.item_id,
            StockMovementLine.qty,
        )
        .join(StockMovementLine, StockMovementLine.movement_id == StockMovement.id)
        .where(StockMovement.tenant_id == tenant_id)
    ):
        records[(outlet_id, item_id)] += qty
        if kind == TRANSFER and to_outlet_id is not None:
            records[(to_outlet_id, item_id)] -= qty
    goods = set(db.scalars(select(Item.id).where(Item.tenant_id == tenant_id, Item.kind == GOODS)))
    for outlet_id, item_id, qty in db.execute(
        select(Redemption.outlet_id, RedemptionLine.item_id, func.sum(RedemptionLine.qty))
        .join(RedemptionLine, RedemptionLine.redemption_id == Redemption.id)
        .where(Redemption.tenant_id == tenant_id)
        .group_by(Redemption.outlet_id, RedemptionLine.item_id)
    ):
        if item_id in goods:
            records[(outlet_id, item_id)] -= int(qty)
    for outlet_id, item_id, qty in db.execute(
        select(Redemption.outlet_id, RedemptionLine.item_id, func.sum(RefundLine.qty))
        .join(RedemptionLine, RedemptionLine.id == RefundLine.redemption_line_id)
        .join(Redemption, Redemption.id == RedemptionLine.redemption_id)
        .join(Refund, Refund.id == RefundLine.refund_id)
        .where(Refund.tenant_id == tenant_id)
        .group_by(Redemption.outlet_id, RedemptionLine.item_id)
    ):
        if item_id in goods:
            records[(outlet_id, item_id)] += int(qty)
    for key in sorted(set(book) | set(records)):
        if book.get(key, 0) != records.get(key, 0):
            problems.append(
                f"outlet {key[0]} item {key[1]}: the books hold {book.get(key, 0)} pieces but the outlet's "
                f"records add up to {records.get(key, 0)}"
            )
    # Refunded quantities on the lines equal the refund lines.
    for line_id, refunded, total in db.execute(
        select(RedemptionLine.id, RedemptionLine.refunded_qty, func.coalesce(func.sum(RefundLine.qty), 0))
        .join(Redemption, Redemption.id == RedemptionLine.redemption_id)
        .outerjoin(RefundLine, RefundLine.redemption_line_id == RedemptionLine.id)
        .where(Redemption.tenant_id == tenant_id)
        .group_by(RedemptionLine.id, RedemptionLine.refunded_qty)
        .having(RedemptionLine.refunded_qty != func.coalesce(func.sum(RefundLine.qty), 0))
    ):
        problems.append(f"redemption line {line_id}: refunded_qty {refunded} but its refund lines add up to {total}")
    return problems
