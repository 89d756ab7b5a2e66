"""Maker-checker on payouts: a fund approver approves or rejects a proposed payout. The approver is
never the proposer (`own_proposal`) and never the payee (`payee_cannot_approve`); a payout above the
district's threshold needs two different approvers (`already_approved_by_you` for a second try by the
first). The same rules are refused by the database (app/fund/models.py: FundApproval). A rejection
releases the reservation (the pending journal is voided). `approve_payouts` approves a batch, all or
none.

Concurrency: every decision locks the payout row first (then the budget row, then the ledger's
accounts), so two approvers at once are decided one after the other: the second sees the first's
approval."""

from __future__ import annotations

from datetime import datetime

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from app.audit.services import record
from app.db import utcnow
from app.errors import NotFound
from ledger import Journal, Ledger

from .budget import record_many, release_from_budget
from .errors import (
    AlreadyApprovedByYou,
    AlreadyDecided,
    FundInvalid,
    OwnProposal,
    PayeeCannotApprove,
)
from .labels import APPROVED, OPEN_STATUSES, PROPOSED, REJECTED, RETURNED
from .models import FundApproval, FundPayout
from .payees import tell, tell_proposers
from .proposals import actor_member_id, get_payout

MAX_BATCH = 2_000


def _check_approver(payout: FundPayout, member_id: int, already: set[int]) -> None:
    if payout.status != PROPOSED:
        raise AlreadyDecided(_("Payout %(id)s is no longer waiting for approval.", id=payout.id))
    if member_id == payout.proposer_member_id:
        raise OwnProposal(_("You proposed payout %(id)s; another approver must decide it.", id=payout.id))
    if member_id == payout.payee_member_id:
        raise PayeeCannotApprove(_("Payout %(id)s is to you; another approver must decide it.", id=payout.id))
    if member_id in already:
        raise AlreadyApprovedByYou(
            _("You already approved payout %(id)s; it needs a second, different approver.", id=payout.id)
        )


def approvers_of(session: Session, payout_id: int) -> list[FundApproval]:
    """The approvals of one payout, in order."""
    return list(
        session.scalars(select(FundApproval).where(FundApproval.payout_id == payout_id).order_by(FundApproval.seq))
    )


def approve_payouts(
    session: Session,
    tenant_id: int,
    payout_ids: list[int],
    *,
    actor_user_id: int,
    reason: str = "",
    now: datetime | None = None,
) -> list[FundPayout]:
    """Approve one payout or a batch, all or none. Each gets one approval from the actor; a payout whose
    approvals reach its `required_approvals` becomes `approved` (else it stays `proposed`, waiting for a
    second approver). Raises NotFound (an id not of the district), AlreadyDecided, OwnProposal,
    PayeeCannotApprove, AlreadyApprovedByYou — naming the payout; nothing is written then."""
    now = now or utcnow()
    ids = sorted(set(payout_ids))
    if not ids:
        raise FundInvalid(str(_l("Choose at least one payout.")), field="payout_ids")
    if len(ids) > MAX_BATCH:
        raise FundInvalid(str(_l("At most 2,000 payouts at once.")), field="payout_ids")
    member_id = actor_member_id(session, tenant_id, actor_user_id)
    rows = list(
        session.scalars(
            select(FundPayout)
            .where(FundPayout.tenant_id == tenant_id, FundPayout.id.in_(ids))
            .order_by(FundPayout.id)
            .with_for_update()
        )
    )
    if len(rows) != len(ids):
        missing = sorted(set(ids) - {p.id for p in rows})
        raise NotFound(_("No such payout: %(id)s.", id=missing[0]))
    mine = set(
        session.scalars(
            select(FundApproval.payout_id).where(
                FundApproval.payout_id.in_(ids), FundApproval.approver_member_id == member_id
            )
        )
    )
    for p in rows:
        _check_approver(p, member_id, {member_id} if p.id in mine else set())
    reason = (reason or "").strip()[:200]
    session.execute(
        insert(FundApproval),
        [
            {
                "tenant_id": tenant_id,
                "payout_id": p.id,
                "proposer_member_id": p.proposer_member_id,
                "payee_member_id": p.payee_member_id,
                "required_approvals": p.required_approvals,
                "seq": p.approvals + 1,
                "approver_member_id": member_id,
                "approver_user_id": actor_user_id,
                "reason": reason,
                "created_at": now,
            }
            for p in rows
        ],
    )
    for p in rows:
        p.approvals += 1
        if p.approvals >= p.required_approvals:
            p.status, p.approved_at = APPROVED, now
    session.flush()
    record_many(
        session,
        "fund.approved",
        tenant_id,
        actor_user_id,
        "fund_payout",
        [
            (p.id, {"amount": p.amount, "approval": p.approvals, "of": p.required_approvals, "reason": reason})
            for p in rows
        ],
    )
    tell(session, "fund.approved", [p for p in rows if p.status == APPROVED])
    tell_proposers(session, [p for p in rows if p.status == APPROVED])
    return rows


def approve_payout(
    session: Session,
    tenant_id: int,
    payout_id: int,
    *,
    actor_user_id: int,
    reason: str = "",
    now: datetime | None = None,
) -> FundPayout:
    """Approve one payout (see `approve_payouts`). The result's status says whether it is now
    `approved` or still `proposed` (waiting for a second approver)."""
    return approve_payouts(session, tenant_id, [payout_id], actor_user_id=actor_user_id, reason=reason, now=now)[0]


def release(
    session: Session,
    payout: FundPayout,
    status: str,
    reason: str,
    *,
    actor_user_id: int | None,
    now: datetime,
    audit: str,
) -> FundPayout:
    """End an open payout (locked by the caller) without paying it: void its pending journal (key
    `fund:payout:<id>:release`: a second run finds it and changes nothing), give its amount back to
    the year's budget, and record why. The row is kept."""
    return release_many(session, [payout], status, reason, actor_user_id=actor_user_id, now=now, audit=audit)[0]


def release_many(
    session: Session,
    payouts: list[FundPayout],
    status: str,
    reason: str,
    *,
    actor_user_id: int | None,
    now: datetime,
    audit: str,
) -> list[FundPayout]:
    """`release` for many payouts of one district (locked by the caller), all or none: their pending
    journals are voided in one `Ledger.void_pending_many` call (each with the key `release` gives it, so
    either form finds the other's journal on a second run)."""
    for payout in payouts:
        if payout.status not in OPEN_STATUSES:
            raise AlreadyDecided(_("Payout %(id)s is no longer open.", id=payout.id))
    held = [p for p in payouts if p.reserve_journal_id is not None]
    voided: dict[int, Journal] = {}
    if held:
        book = Ledger(session, tenant=held[0].tenant_id)
        done = book.void_pending_many((p.reserve_journal_id or 0, f"fund:payout:{p.id}:release") for p in held)
        voided = {p.id: j for p, j in zip(held, done, strict=True)}
    for payout in payouts:
        journal = voided.get(payout.id)
        release_from_budget(session, payout.fund_id, payout.budget_year, payout.amount)
        payout.status, payout.closed_at, payout.close_reason = status, now, reason[:200]
        payout.closed_by_user_id = actor_user_id
        payout.settle_journal_id = journal.id if journal is not None else None
        session.flush()
        record(
            session,
            audit,
            tenant_id=payout.tenant_id,
            actor_user_id=actor_user_id,
            target_type="fund_payout",
            target_id=payout.id,
            detail={"amount": payout.amount, "reason": reason[:200]},
        )
        if status in (REJECTED, RETURNED):
            tell(session, f"fund.{status}", [payout])
    return payouts


def reject_payout(
    session: Session, tenant_id: int, payout_id: int, *, actor_user_id: int, reason: str, now: datetime | None = None
) -> FundPayout:
    """Reject a proposed payout with a reason (required); its reservation is released. The rejecter is
    never the proposer (who withdraws instead) nor the payee. Raises FundInvalid (no reason),
    AlreadyDecided, OwnProposal, PayeeCannotApprove, NotFound."""
    now = now or utcnow()
    reason = (reason or "").strip()
    if not reason:
        raise FundInvalid(str(_l("Say why the payout is rejected.")), field="reason")
    member_id = actor_member_id(session, tenant_id, actor_user_id)
    payout = get_payout(session, tenant_id, payout_id, lock=True)
    _check_approver(payout, member_id, set())
    payout.rejected_by_member_id = member_id
    return release(session, payout, REJECTED, reason, actor_user_id=actor_user_id, now=now, audit="fund.rejected")


def withdraw_payout(
    session: Session, tenant_id: int, payout_id: int, *, actor_user_id: int, reason: str, now: datetime | None = None
) -> FundPayout:
    """The proposer (or another fund manager) withdraws a payout still waiting for approval, with a
    reason; its reservation is released. Raises AlreadyDecided once it was approved or ended."""
    from .labels import WITHDRAWN

    now = now or utcnow()
    reason = (reason or "").strip()
    if not reason:
        raise FundInvalid(str(_l("Say why the payout is withdrawn.")), field="reason")
    payout = get_payout(session, tenant_id, payout_id, lock=True)
    if payout.status != PROPOSED:
        raise AlreadyDecided(_("Payout %(id)s is no longer waiting for approval.", id=payout.id))
    return release(session, payout, WITHDRAWN, reason, actor_user_id=actor_user_id, now=now, audit="fund.withdrawn")
