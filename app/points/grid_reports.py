"""Posting a verified grid report's points: priced by the district's grid report rule
(grid_report_rules.py) in force when the report was made, cut to the member's monthly cap (caps.py, a
locked counter in this same transaction), posted from the grid's source `source:report:<grid id>` to the
reporter's wallet as one posted journal, kind "report", key `report:<report id>` — so a report is
credited at most once whatever retries or races happen.

The gridreports area owns the reports and their triage and calls `credit_grid_report` in the
transaction that verifies one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from app.times import to_beijing
from ledger import Ledger, Transfer

from . import caps
from .accounts import open_source, open_wallets, report_source_code, wallet_code
from .grid_report_rules import report_rule_for
from .labels import KIND_REPORT


@dataclass(frozen=True)
class ReportCredit:
    points: int  # posted
    cut: int  # what the monthly cap cut off
    cap: int | None
    journal_id: int | None


def credit_grid_report(
    session: Session,
    tenant_id: int,
    report_id: int,
    member_id: int,
    grid_id: int,
    reported_at: datetime,
    memo: str = "",
) -> ReportCredit:
    """Price (by the rule in force when the report was made), cap (the month it was made, Beijing time)
    and post one verified report's points in the caller's transaction. The caller has locked the
    report and moved it out of "submitted" first, so this runs once per report; the key makes a retry
    of the same posting a no-op in the ledger as well."""
    rule = report_rule_for(session, tenant_id, reported_at)
    amount = rule.points_per_report
    period = to_beijing(reported_at).strftime("%Y-%m")
    granted = caps.take(session, tenant_id, member_id, KIND_REPORT, period, amount, rule.monthly_cap)
    journal_id = None
    if granted > 0:
        source = report_source_code(grid_id)
        open_source(session, tenant_id, source)
        open_wallets(session, tenant_id, [member_id])
        journal = Ledger(session, tenant=tenant_id).post(
            [Transfer(source, wallet_code(member_id), granted)],
            kind=KIND_REPORT,
            key=f"report:{report_id}",
            memo=memo[:200],
            meta={"grid_report_id": report_id, "asked": amount, "cut": amount - granted, **rule.meta()},
        )
        journal_id = journal.id
    return ReportCredit(granted, amount - granted, rule.monthly_cap, journal_id)
