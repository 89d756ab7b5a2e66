"""The points area's ledger account codes (one place spells them) and opening accounts."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import SQLColumnExpression, String, cast, literal
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from ledger import Ledger

POINTS = "PT"  # the ledger unit of 爱心积分


def wallet_code(member_id: int) -> str:
    """A member's points wallet."""
    return f"member:{member_id}"


def wallet_code_sql(member_id: SQLColumnExpression[int]) -> ColumnElement[str]:
    """`wallet_code` in SQL, for joining a member row to their wallet in one statement."""
    return literal("member:") + cast(member_id, String)


def hours_source_code(unit_id: int) -> str:
    """Where the points for service hours come from: one source per host unit (a community or street),
    so the books show which unit's activities issued how many points."""
    return f"source:hours:{unit_id}"


def checkin_source_code(unit_id: int) -> str:
    """Where the points for party check-ins come from: one source per site's unit (community or grid)."""
    return f"source:checkin:{unit_id}"


def report_source_code(grid_id: int) -> str:
    """Where the points for verified grid reports come from: one source per grid."""
    return f"source:report:{grid_id}"


def open_wallets(session: Session, tenant_id: int, member_ids: Iterable[int]) -> None:
    """Open each member's wallet (credit-normal, never overdrawn) in the caller's transaction."""
    codes = [wallet_code(i) for i in member_ids]
    if codes:
        Ledger(session, tenant=tenant_id).open_accounts(codes, unit=POINTS, normal="credit", no_overdraft=True)


def open_source(session: Session, tenant_id: int, code: str) -> None:
    """Open a source account (debit-normal: its balance counts the points it has issued)."""
    Ledger(session, tenant=tenant_id).open_accounts([code], unit=POINTS, normal="debit", no_overdraft=False)
