"""What a payee sees of their rewards: each payout to them in yuan, its status and the reason (why it
was given, and why it ended when it did not pay), separate from their points."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from .labels import OPEN_STATUSES, PAID, REASON_LABELS, STATUS_LABELS
from .models import Fund, FundDisbursement, FundPayout
from .money import format_yuan

REWARDS_LINK = "/me/rewards"


def tell(session: Session, kind: str, payouts: list[FundPayout], **params) -> None:
    """Tell each payout's payee (an in-app notice, in the caller's transaction): kind is fund.approved,
    fund.paid, fund.rejected or fund.returned; params fill the notice's words besides amount and reason."""
    from app.notices.services import notify_many

    if payouts:
        notify_many(
            session,
            payouts[0].tenant_id,
            [
                (
                    p.payee_member_id,
                    kind,
                    {"amount": format_yuan(p.amount), "reason": p.reason, "why": p.close_reason or "", **params},
                    REWARDS_LINK,
                )
                for p in payouts
            ],
        )


def tell_proposers(session: Session, payouts: list[FundPayout]) -> None:
    """Tell each approved payout's proposer (the fund manager) that it can now be paid (fund.ready_to_pay)."""
    from app.auth.models import User
    from app.notices.services import notify_many
    from app.people.models import Member

    if not payouts:
        return
    users = {p.proposer_user_id for p in payouts}
    members = dict(session.execute(select(User.id, User.member_id).where(User.id.in_(users))).all())
    payees = dict(
        session.execute(select(Member.id, Member.name).where(Member.id.in_({p.payee_member_id for p in payouts}))).all()
    )
    notify_many(
        session,
        payouts[0].tenant_id,
        [
            (
                members[p.proposer_user_id],
                "fund.ready_to_pay",
                {"amount": format_yuan(p.amount), "payee": payees.get(p.payee_member_id, ""), "reason": p.reason},
                f"/fund/payouts/{p.id}",
            )
            for p in payouts
            if p.proposer_user_id in members
        ],
    )


@dataclass(frozen=True)
class RewardLine:
    """One reward as its payee sees it; `amount` in fen, `amount_text` like ¥1,234.50."""

    payout_id: int
    fund_name: str
    amount: int
    amount_text: str
    reason_category: str
    reason_label: str
    reason: str
    status: str
    status_label: str
    status_reason: str  # why it ended (rejected, expired, withdrawn, returned); '' otherwise
    proposed_at: datetime
    paid_on: date | None
    channel: str | None


@dataclass(frozen=True)
class MyRewards:
    """A member's rewards: paid and waiting totals in fen, and the lines, newest first."""

    paid: int
    waiting: int
    lines: list[RewardLine]


def my_rewards(session: Session, tenant_id: int, member_id: int, limit: int = 100) -> MyRewards:
    """The rewards of `member_id` (the signed-in member: no other check is needed), newest first, with
    paid and waiting (proposed or approved) totals over all of them."""
    rows = session.execute(
        select(FundPayout, Fund.name, FundDisbursement.paid_on, FundDisbursement.channel)
        .join(Fund, Fund.id == FundPayout.fund_id)
        .outerjoin(FundDisbursement, FundDisbursement.payout_id == FundPayout.id)
        .where(FundPayout.tenant_id == tenant_id, FundPayout.payee_member_id == member_id)
        .order_by(FundPayout.id.desc())
    ).all()
    paid = sum(p.amount for p, *_ in rows if p.status == PAID)
    waiting = sum(p.amount for p, *_ in rows if p.status in OPEN_STATUSES)
    lines = [
        RewardLine(
            payout_id=p.id,
            fund_name=name,
            amount=p.amount,
            amount_text=format_yuan(p.amount),
            reason_category=p.reason_category,
            reason_label=str(REASON_LABELS[p.reason_category]),
            reason=p.reason,
            status=p.status,
            status_label=str(STATUS_LABELS[p.status]),
            status_reason=p.close_reason or "",
            proposed_at=p.proposed_at,
            paid_on=paid_on,
            channel=channel,
        )
        for p, name, paid_on, channel in rows[:limit]
    ]
    return MyRewards(paid=paid, waiting=waiting, lines=lines)
