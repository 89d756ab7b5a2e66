"""Posting a party check-in's points: priced by the district's check-in rule (checkin_rules.py), cut
to the member's monthly cap (caps.py, a locked counter in this same transaction), posted from the
site unit's source `source:checkin:<unit id>` to the wallet as one posted journal, kind "checkin",
key `checkin:<check-in id>` (a retry posts nothing twice)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from app.times import to_beijing
from ledger import Ledger, Transfer, UnknownAccount

from . import caps
from .accounts import checkin_source_code, open_source, wallet_code
from .checkin_rules import CheckinPricing, checkin_rule_for
from .labels import KIND_CHECKIN


@dataclass(frozen=True)
class CheckinCredit:
    points: int  # posted
    cut: int  # what the monthly cap cut off
    cap: int | None  # the cap that applied
    journal_id: int | None


def credit_checkin(
    session: Session,
    tenant_id: int,
    checkin_id: int,
    member_id: int,
    unit_id: int,
    at: datetime,
    own_community: bool,
    memo: str = "",
    rule: CheckinPricing | None = None,
) -> CheckinCredit:
    """Price, cap and post one check-in at `at` (UTC) in the caller's transaction. `rule`: the
    district's check-in rule in force at `at`, if the caller has read it already."""
    rule = rule or checkin_rule_for(session, tenant_id, at)
    amount = rule.points_per_checkin if own_community else rule.other_site_points
    period = to_beijing(at).strftime("%Y-%m")
    granted = caps.take(session, tenant_id, member_id, KIND_CHECKIN, period, amount, rule.monthly_cap)
    journal_id = None
    if granted > 0:
        source = checkin_source_code(unit_id)
        book = Ledger(session.connection(), tenant=tenant_id)  # the connection itself: no lookup per call

        def post():
            return book.post(
                [Transfer(source, wallet_code(member_id), granted)],
                kind=KIND_CHECKIN,
                key=f"checkin:{checkin_id}",
                memo=memo[:200],
                meta={"checkin_id": checkin_id, "asked": amount, "cut": amount - granted, **rule.meta()},
            )

        try:
            journal = post()
        except UnknownAccount:
            # The site unit's first credited check-in: its source account is opened here, then the
            # journal posted. (The post refuses an unknown account before it writes anything, so the
            # transaction goes on.) The common path does not read the account first: the post's own
            # lock finds it.
            open_source(session, tenant_id, source)
            journal = post()
        journal_id = journal.id
    return CheckinCredit(granted, amount - granted, rule.monthly_cap, journal_id)
