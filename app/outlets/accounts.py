"""The outlets area's goods accounts in the ledger: one set per outlet and item, in the item's own unit.

Each item has its own ledger unit ("PC" + the item id in letters: item 1 is "PCB", item 27 "PCBB"), so
the database itself refuses a transfer from one item's shelf to another item's account (transfers
reference (account id, unit)); a single "PCS" unit for every item would let rice leave the shelf as
oil. The ledger's per-unit check (debits = credits) then holds per item, too.

Per outlet o and item i (all codes under "outlet:<o>:", so they sort after the member's wallet and
the outlet's points account: the ledger locks in code order, never deadlocking):

    outlet:o:shelf:i        debit-normal, no overdraft  the pieces on the shelf (never below zero)
    outlet:o:redeemed:i     debit-normal                pieces that left by redemption (less refunds)
    outlet:o:donated:i      credit-normal (source)      pieces donated in
    outlet:o:purchased:i    credit-normal (source)      pieces bought in
    outlet:o:written_off:i  debit-normal                pieces written off
    outlet:o:adjusted:i     debit-normal                stock-count differences (+ shortage, - surplus)

A transfer between outlets moves pieces from one shelf straight to the other (same unit).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.orm import Session

from ledger import Ledger

SHELF, REDEEMED, DONATED, PURCHASED, WRITTEN_OFF, ADJUSTED = (
    "shelf",
    "redeemed",
    "donated",
    "purchased",
    "written_off",
    "adjusted",
)
_SETTINGS = {
    SHELF: ("debit", True),
    REDEEMED: ("debit", False),
    DONATED: ("credit", False),
    PURCHASED: ("credit", False),
    WRITTEN_OFF: ("debit", False),
    ADJUSTED: ("debit", False),
}
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
MAX_ITEM_ID = 26**6 - 1  # "PC" + at most 6 letters: units are 2-8 capital letters


def item_unit(item_id: int) -> str:
    """The ledger unit of one item's pieces."""
    if not 1 <= item_id <= MAX_ITEM_ID:
        raise ValueError(f"item id {item_id} has no ledger unit (1..{MAX_ITEM_ID})")
    letters = ""
    n = item_id
    while n:
        n, r = divmod(n, 26)
        letters = _LETTERS[r] + letters
    return "PC" + letters


def goods_code(outlet_id: int, kind: str, item_id: int) -> str:
    return f"outlet:{outlet_id}:{kind}:{item_id}"


def shelf_code(outlet_id: int, item_id: int) -> str:
    return goods_code(outlet_id, SHELF, item_id)


def shelf_prefix(outlet_id: int) -> str:
    return f"outlet:{outlet_id}:{SHELF}:"


def open_goods_accounts(session: Session, tenant_id: int, outlet_id: int, item_ids: Iterable[int]) -> None:
    """Open the six goods accounts of each item at the outlet (already open: left alone)."""
    book = Ledger(session, tenant=tenant_id)
    for item_id in sorted(set(item_ids)):
        unit = item_unit(item_id)
        for kind, (normal, no_overdraft) in _SETTINGS.items():
            book.open_accounts(
                [goods_code(outlet_id, kind, item_id)], unit=unit, normal=normal, no_overdraft=no_overdraft
            )
