"""Refunds: a supervisor gives back a whole redemption or some of its lines, with a reason, within the
district's refund period (default 7 days): the points return to the wallet and the goods to the shelf
in one journal (app/points/spending.post_refund). A line is never refunded beyond what was redeemed
(checked under the redemption's row lock, and by a CHECK on refunded_qty), and nobody refunds a
redemption they made or one that paid for their own goods."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from app.audit.services import record
from app.db import utcnow
from app.points.accounts import wallet_code
from app.points.spending import post_refund
from app.times import beijing
from ledger import InsufficientBalance, Ledger, Transfer

from .accounts import REDEEMED, goods_code, shelf_code
from .errors import AlreadyRefunded, OutletInvalid, OwnRedemption, RefundPeriodOver
from .labels import GOODS
from .models import Item, Redemption, Refund, RefundLine
from .outlets import refund_days
from .stock import out_of_stock


def _outlet_account(db: Session, redemption: Redemption) -> str:
    """The points account the redemption paid into (read from its journal)."""
    wallet = wallet_code(redemption.member_id)
    for debit, credit, _amount, _phase in Ledger(db, tenant=redemption.tenant_id).journal_transfers(
        redemption.journal_id
    ):
        if debit == wallet:
            return credit
    raise ValueError(f"redemption {redemption.id}: its journal moves no points")


def refund(
    db: Session,
    redemption: Redemption,
    actor_user_id: int | None,
    actor_member_id: int | None,
    *,
    lines: Sequence[tuple[int, int]] | None = None,
    reason: str,
    key: str | None = None,
    now: datetime | None = None,
) -> Refund:
    """Refund `lines` ((redemption line id, qty) pairs; None: everything not yet refunded) with
    `reason`. The caller checked `outlet.refund` at the redemption's outlet. Same `key` again: the
    first Refund. Raises OwnRedemption, RefundPeriodOver (saying when it ended), AlreadyRefunded
    (nothing left to refund on a line or at all), OutletInvalid."""
    now = now or utcnow()
    reason = (reason or "").strip()
    if key is not None and not 1 <= len(key) <= 100:
        raise OutletInvalid(str(_l("A key must be 1 to 100 characters.")), field="key")
    tenant = redemption.tenant_id
    if actor_user_id is not None and redemption.staff_user_id == actor_user_id:
        raise OwnRedemption(str(_l("You made this redemption, so another supervisor must refund it.")))
    if actor_member_id is not None and redemption.member_id == actor_member_id:
        raise OwnRedemption(str(_l("This redemption is your own: another supervisor must refund it.")))
    # One refund of a redemption at a time: the second waits, then sees what the first refunded.
    locked = db.scalars(
        select(Redemption)
        .options(selectinload(Redemption.lines), selectinload(Redemption.refunds))
        .where(Redemption.id == redemption.id)
        .with_for_update()
    ).one()
    db.refresh(locked)
    for line in locked.lines:
        db.refresh(line)
    if key is not None:
        found = db.scalars(select(Refund).where(Refund.tenant_id == tenant, Refund.key == key)).first()
        if found is not None:
            return found
    days = refund_days(db, tenant)
    ends = locked.created_at + timedelta(days=days)
    if now > ends:
        raise RefundPeriodOver(
            str(
                _l(
                    "Refunds are possible for %(days)s days; this redemption's period ended on %(when)s.",
                    days=days,
                    when=beijing(ends),
                )
            )
        )
    if not 1 <= len(reason) <= 200:
        raise OutletInvalid(str(_l("Say why the redemption is refunded (up to 200 characters).")), field="reason")
    by_id = {line.id: line for line in locked.lines}
    if lines is None:
        wanted = [(line.id, line.qty - line.refunded_qty) for line in locked.lines if line.qty > line.refunded_qty]
        if not wanted:
            raise AlreadyRefunded(str(_l("This redemption has already been refunded in full.")))
    else:
        wanted = list(lines)
        if not wanted:
            raise OutletInvalid(str(_l("Choose at least one line to refund.")), field="lines")
        seen = set()
        for line_id, qty in wanted:
            this = by_id.get(line_id)
            if this is None or line_id in seen:
                raise OutletInvalid(str(_l("Choose lines of this redemption, each once.")), field="lines")
            seen.add(line_id)
            if not isinstance(qty, int) or isinstance(qty, bool) or qty < 1:
                raise OutletInvalid(str(_l("Each quantity to refund must be 1 or more.")), field="lines")
            left = this.qty - this.refunded_qty
            if left == 0:
                raise AlreadyRefunded(str(_l("%(item)s has already been refunded.", item=this.item_name)))
            if qty > left:
                raise OutletInvalid(
                    str(_l("Only %(left)s of %(item)s can still be refunded.", left=left, item=this.item_name)),
                    field="lines",
                )
    kinds = dict(db.execute(select(Item.id, Item.kind).where(Item.id.in_([by_id[i].item_id for i, _ in wanted]))).all())
    points = sum(by_id[i].unit_points * q for i, q in wanted)
    outlet_id = locked.outlet_id
    goods = [
        Transfer(shelf_code(outlet_id, by_id[i].item_id), goods_code(outlet_id, REDEEMED, by_id[i].item_id), q)
        for i, q in wanted
        if kinds.get(by_id[i].item_id) == GOODS
    ]
    row = Refund(
        tenant_id=tenant,
        redemption_id=locked.id,
        reason=reason,
        points=points,
        journal_id=0,
        # Without a key: the n-th refund of this redemption (counted under its lock).
        key=key or f"refund:{locked.id}:{len(locked.refunds) + 1}",
        actor_user_id=actor_user_id,
        created_at=now,
    )
    try:
        journal = post_refund(
            db,
            tenant,
            member_id=locked.member_id,
            outlet_account=_outlet_account(db, locked),
            points=points,
            goods=goods,
            redemption_journal_id=locked.journal_id,
            key=f"outlet-refund:{row.key}",
            memo=reason,
            meta={"redemption_id": locked.id, "lines": [[by_id[i].item_id, by_id[i].item_name, q] for i, q in wanted]},
        )
    except InsufficientBalance as e:
        raise out_of_stock(db, e, {by_id[i].item_id: by_id[i].item_name for i, _ in wanted}) from None
    row.journal_id = journal.id
    row.lines = [RefundLine(redemption_line_id=i, qty=q) for i, q in wanted]
    for i, q in wanted:
        by_id[i].refunded_qty += q
    db.add(row)
    db.flush()
    record(
        db,
        "outlet.refund",
        tenant_id=tenant,
        actor_user_id=actor_user_id,
        target_type="outlet_redemption",
        target_id=locked.id,
        detail={"refund_id": row.id, "points": points, "reason": reason, "lines": len(wanted)},
    )
    return row
