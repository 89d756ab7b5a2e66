"""Spending points at an outlet: the redemption journal (points member wallet → the outlet's points
account, plus the goods transfers the outlets area hands in) and the refund journal (the reverse), one
journal each, so points and goods move together or not at all. The only place outlet journals are posted.

The wallet is no-overdraft, so the database refuses spending points a member does not have; the lots
(app/points/lots.py) are derived from the ledger, so a spend takes from the oldest lots by itself and
a refund (kind `redemption_refund`, meta `refund_of` = the redemption's journal) gives back to the lots
the redemption took from.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import bindparam, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ledger import Journal, Ledger, Transfer, UnknownAccount
from ledger.schema import accounts

from .accounts import POINTS, wallet_code

KIND_REDEMPTION = "redemption"
KIND_REFUND = "redemption_refund"


def outlet_points_code(outlet_id: int, member_id: int = 0, shards: int = 1) -> str:
    """Where an outlet's collected points go. With `shards` > 1 the outlet has that many points
    accounts (`outlet:<id>:pt:<n>`, chosen by member), so redemptions at one busy outlet do not all
    queue for one account row's lock; the outlet's total is the sum (`outlet_points_codes`)."""
    if shards <= 1:
        return f"outlet:{outlet_id}"
    return f"outlet:{outlet_id}:pt:{member_id % shards}"


def outlet_points_codes(outlet_id: int, shards: int = 1) -> list[str]:
    """Every points account of an outlet (one, or one per shard)."""
    if shards <= 1:
        return [f"outlet:{outlet_id}"]
    return [f"outlet:{outlet_id}:pt:{n}" for n in range(shards)]


def open_outlet_points(session: Session, tenant_id: int, outlet_id: int, shards: int = 1) -> None:
    """Open the outlet's points account(s): credit-normal, their balance counts the points collected.
    Safe when concurrent requests open the same accounts (the first redemptions at an outlet once
    OUTLET_POINTS_SHARDS is raised): the one that loses the race waits for the other's commit, its
    insert fails inside a savepoint, and it finds the accounts open."""
    for attempt in (1, 2):
        try:
            with session.begin_nested():
                Ledger(session, tenant=tenant_id).open_accounts(
                    outlet_points_codes(outlet_id, shards), unit=POINTS, normal="credit", no_overdraft=False
                )
            return
        except IntegrityError:
            if attempt == 2:
                raise


_ACCOUNTS_FOUND = (
    select(func.count())
    .select_from(accounts)
    .where(accounts.c.tenant_id == bindparam("tenant"), accounts.c.code.in_(bindparam("codes", expanding=True)))
)


def ensure_outlet_points(session: Session, tenant_id: int, outlet_id: int, shards: int) -> None:
    """Make sure the outlet's split points accounts (`shards` > 1) exist before a redemption locks
    anything. Opening them after the ledger has locked the cart's accounts and found a shard missing
    deadlocked: the rows locked by that first attempt were then held out of the ledger's code order
    (a shard account sorts before the goods accounts), so another redemption holding the shard and
    waiting for those goods formed a cycle, which PostgreSQL broke by aborting one (answered 503).
    Here nothing is locked yet: a request that must wait for another's uncommitted accounts holds
    nothing that one needs. Costs one indexed count per redemption when shards > 1 (not remembered per
    process: accounts this transaction opened may yet roll back, and SQLite reuses rolled-back ids)."""
    if shards <= 1:
        return
    codes = outlet_points_codes(outlet_id, shards)
    if session.scalar(_ACCOUNTS_FOUND, {"tenant": tenant_id, "codes": codes}) != len(codes):
        open_outlet_points(session, tenant_id, outlet_id, shards)


def available_points(session: Session, tenant_id: int, member_id: int) -> int:
    """What the member may spend now: posted points less what is held going out (pending hours coming
    in are not spendable until approved). 0 for a member without a wallet."""
    try:
        return Ledger(session, tenant=tenant_id).balance(wallet_code(member_id)).available
    except UnknownAccount:
        return 0


def _goods_only(goods: Sequence[Transfer]) -> list[Transfer]:
    for t in goods:
        if not (t.debit.startswith("outlet:") and t.credit.startswith("outlet:")) or ":pt:" in t.debit + t.credit:
            raise ValueError("goods transfers move only an outlet's goods accounts")
    return list(goods)


def post_redemption(
    session: Session,
    tenant_id: int,
    *,
    member_id: int,
    outlet_account: str,
    points: int,
    goods: Sequence[Transfer],
    key: str,
    memo: str,
    meta: dict,
    journal_id: int | None = None,
) -> Journal:
    """One journal: `points` from the member's wallet to `outlet_account` (outlet_points_code), and
    each goods transfer (shelf → redeemed, in the item's unit). Raises ledger.InsufficientBalance when
    the wallet or a shelf would go below zero (nothing written). Same `key` and request: the original
    journal comes back. `journal_id`: an id taken beforehand (ledger.NEXT_JOURNAL_ID_PG; PostgreSQL,
    and a journal of two transfers or more: points and goods)."""
    transfers = [Transfer(wallet_code(member_id), outlet_account, points)] if points > 0 else []
    transfers += _goods_only(goods)
    return Ledger(session, tenant=tenant_id).post(
        transfers, kind=KIND_REDEMPTION, key=key, memo=memo[:200], meta=meta, journal_id=journal_id
    )


def post_refund(
    session: Session,
    tenant_id: int,
    *,
    member_id: int,
    outlet_account: str,
    points: int,
    goods: Sequence[Transfer],
    redemption_journal_id: int,
    key: str,
    memo: str,
    meta: dict,
) -> Journal:
    """One journal returning `points` from `outlet_account` to the member's wallet and the goods
    (redeemed → shelf). `meta` gets `refund_of` (the redemption's journal), which the lots use to give
    the points back to the lots they came from."""
    transfers = [Transfer(outlet_account, wallet_code(member_id), points)] if points > 0 else []
    transfers += _goods_only(goods)
    return Ledger(session, tenant=tenant_id).post(
        transfers,
        kind=KIND_REFUND,
        key=key,
        memo=memo[:200],
        meta={**meta, "refund_of": redemption_journal_id},
    )
