"""Disbursement: an approved payout is paid outside the system (bank transfer, WeChat, cash); a fund
manager records the channel, the reference, the date and who paid, and only then is the money posted
(the pending journal `fund:payout:<id>` is posted under the key `fund:payout:<id>:paid`). An approved
payout nobody claims is returned to the fund (by hand here, or by the job in app/fund/jobs.py): its
reservation is released and the record kept.

Two clerks recording one payment at once pay it once: both lock the payout row; the second then finds
it paid (`already_paid`); the unique disbursement per payout and the ledger's one resolution per
pending journal refuse it in the database as well."""

from __future__ import annotations

from datetime import date, datetime

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit.services import record
from app.db import utcnow
from app.times import to_beijing
from ledger import Ledger

from .approvals import release
from .errors import AlreadyPaid, FundInvalid, NotApproved, PayeeCannotApprove, SecondApproverNeeded
from .labels import APPROVED, CHANNELS, PAID, PROPOSED, RETURNED
from .models import FundDisbursement, FundPayout
from .payees import tell
from .proposals import actor_member_id, get_payout


def record_payment(
    session: Session,
    tenant_id: int,
    payout_id: int,
    *,
    channel: str,
    reference: str,
    paid_on: date,
    paid_by: str,
    note: str = "",
    actor_user_id: int,
    now: datetime | None = None,
) -> FundDisbursement:
    """Record that an approved payout was paid, and post its money (reserved -> paid to the payee).
    `reference` is the bank or WeChat transaction number or the cash receipt number; `paid_by` the
    person who paid. Raises FundInvalid (a missing field, a date in the future or before the approval),
    AlreadyPaid, SecondApproverNeeded (one approval of two), NotApproved (not approved yet, or ended),
    PayeeCannotApprove (the payee records their
    own payment), NotFound."""
    now = now or utcnow()
    payout = get_payout(session, tenant_id, payout_id, lock=True)
    if payout.status == PAID:
        raise AlreadyPaid(_("Payout %(id)s was already paid.", id=payout.id))
    if payout.status == PROPOSED and 0 < payout.approvals < payout.required_approvals:
        raise SecondApproverNeeded(
            _(
                "Payout %(id)s has one approval of two: a second approver must approve it before it is paid.",
                id=payout.id,
            )
        )
    if payout.status != APPROVED:
        raise NotApproved(_("Payout %(id)s is not approved: only an approved payout can be paid.", id=payout.id))
    if actor_member_id(session, tenant_id, actor_user_id) == payout.payee_member_id:
        raise PayeeCannotApprove(
            _("Payout %(id)s is to you; another fund manager must record its payment.", id=payout.id)
        )
    reference, paid_by = (reference or "").strip(), (paid_by or "").strip()
    problems = []
    if channel not in CHANNELS:
        problems.append(("channel", _l("Choose bank transfer, WeChat or cash.")))
    if not reference:
        problems.append(("reference", _l("Give the transaction or receipt number.")))
    if not paid_by:
        problems.append(("paid_by", _l("Say who paid.")))
    today = to_beijing(now).date()
    approved_on = to_beijing(payout.approved_at or payout.proposed_at).date()
    if paid_on is None or paid_on > today:
        problems.append(("paid_on", _l("The payment date cannot be in the future.")))
    elif paid_on < approved_on:
        problems.append(("paid_on", _l("The payment date cannot be before the payout was approved.")))
    if problems:
        f, m = problems[0]
        raise FundInvalid(
            str(m), field=f, details=[{"field": x, "code": "fund_invalid", "message": str(y)} for x, y in problems]
        )
    assert payout.reserve_journal_id is not None  # every proposal reserves (app/fund/proposals.py)
    book = Ledger(session, tenant=tenant_id)
    journal = book.post_pending(payout.reserve_journal_id, key=f"fund:payout:{payout.id}:paid")
    row = FundDisbursement(
        tenant_id=tenant_id,
        payout_id=payout.id,
        channel=channel,
        reference=reference[:100],
        paid_on=paid_on,
        paid_by=paid_by[:64],
        note=(note or "").strip()[:200],
        recorded_by_user_id=actor_user_id,
        recorded_at=now,
        journal_id=journal.id,
    )
    session.add(row)
    payout.status, payout.closed_at, payout.settle_journal_id = PAID, now, journal.id
    payout.closed_by_user_id = actor_user_id
    session.flush()
    record(
        session,
        "fund.paid",
        tenant_id=tenant_id,
        actor_user_id=actor_user_id,
        target_type="fund_payout",
        target_id=payout.id,
        detail={
            "amount": payout.amount,
            "channel": channel,
            "reference": reference[:100],
            "paid_on": paid_on.isoformat(),
            "paid_by": paid_by[:64],
        },
    )
    tell(session, "fund.paid", [payout], channel=channel, paid_on=paid_on.isoformat())  # the code: shown in words
    return row


def disbursement_of(session: Session, payout_id: int) -> FundDisbursement | None:
    """The payment record of a payout, if it was paid."""
    return session.scalar(select(FundDisbursement).where(FundDisbursement.payout_id == payout_id))


def return_payout(
    session: Session,
    tenant_id: int,
    payout_id: int,
    *,
    reason: str,
    actor_user_id: int | None,
    now: datetime | None = None,
) -> FundPayout:
    """Return an approved, unpaid payout to the fund (the payee could not be paid or did not claim it),
    with a reason: its reservation is released, the record kept with status `returned`. Raises
    AlreadyPaid, NotApproved, FundInvalid (no reason), NotFound."""
    now = now or utcnow()
    reason = (reason or "").strip()
    if not reason:
        raise FundInvalid(str(_l("Say why the payout is returned.")), field="reason")
    payout = get_payout(session, tenant_id, payout_id, lock=True)
    if payout.status == PAID:
        raise AlreadyPaid(_("Payout %(id)s was already paid.", id=payout.id))
    if payout.status != APPROVED:
        raise NotApproved(
            _("Payout %(id)s is not approved: only an approved, unpaid payout can be returned.", id=payout.id)
        )
    return release(session, payout, RETURNED, reason, actor_user_id=actor_user_id, now=now, audit="fund.returned")
