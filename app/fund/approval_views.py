"""The approvals queue (phone first): what waits for a decision, and for each whether the signed-in
approver may approve it — or, in words, why the rule refuses them (their own proposal, a payout to
them, already approved by them) and when a second approver is needed; batch approval with a
confirmation step."""

from __future__ import annotations

from dataclasses import dataclass

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from app.access import can, path_filter, require
from app.db import get_session
from app.errors import AppError

from . import approvals, proposals
from .forms import BatchForm
from .labels import PROPOSED, REASON_LABELS
from .models import FundApproval, FundPayout
from .money import format_yuan
from .view_helpers import fund_names, payee_names, user_names

QUEUE_SIZE = 200


@dataclass(frozen=True)
class ApprovalState:
    may_approve: bool
    may_reject: bool
    message: str  # in words: what this approver's decision does, or why the rule refuses them
    refused: bool  # the message is a refusal


def approval_state(payout: FundPayout, approved_by: list, principal) -> ApprovalState | None:
    """What `principal` (a fund approver) may do with a payout waiting for approval, said plainly."""
    if payout.status != PROPOSED:
        return None
    me = principal.member_id
    if me == payout.proposer_member_id:
        return ApprovalState(
            False,
            False,
            _("You proposed this payout, so the rule refuses your approval: another fund approver must decide it."),
            True,
        )
    if me == payout.payee_member_id:
        return ApprovalState(
            False,
            False,
            _("This payout is to you, so the rule refuses your approval: another fund approver must decide it."),
            True,
        )
    if any(a.approver_member_id == me for a in approved_by):
        return ApprovalState(
            False,
            False,
            _("You have approved it. It needs a second approver, and the rule refuses a second approval by you."),
            True,
        )
    if payout.required_approvals == 2 and payout.approvals == 0:
        return ApprovalState(
            True,
            True,
            _(
                "Above the threshold of %(limit)s: two different approvers are needed. Yours is the first; it then "
                "waits for a second approver.",
                limit=format_yuan(payout.threshold),
            ),
            False,
        )
    if payout.required_approvals == 2:
        return ApprovalState(
            True, True, _("One approver has approved it; yours is the second and last approval."), False
        )
    return ApprovalState(True, True, _("One approval is enough: yours approves it for payment."), False)


def _queue(db, t):
    rows = list(
        db.scalars(
            select(FundPayout)
            .where(
                FundPayout.tenant_id == t,
                FundPayout.status == PROPOSED,
                path_filter(current_user, "fund.view", FundPayout.payee_path),
            )
            .order_by(FundPayout.proposed_at, FundPayout.id)
            .limit(QUEUE_SIZE)
        )
    )
    by_payout: dict[int, list] = {}
    if rows:
        for a in db.scalars(select(FundApproval).where(FundApproval.payout_id.in_([p.id for p in rows]))):
            by_payout.setdefault(a.payout_id, []).append(a)
    states = {p.id: approval_state(p, by_payout.get(p.id, []), current_user) for p in rows}
    return rows, by_payout, states


@login_required
def approvals_page():
    """The queue. A POST with ticked payouts first asks to confirm (their count and total), then
    approves them all or none."""
    require(current_user, "fund.view")
    db = get_session()
    t = current_user.tenant_id
    form = BatchForm()
    status = 200
    confirming = None
    if request.method == "POST":
        require(current_user, "fund.approve")
        ids = sorted({int(x) for x in request.form.getlist("payout") if x.isdecimal() and len(x) < 19})
        if not form.validate():
            status = 422
        elif not ids:
            form.form_errors.append(_("Tick the payouts to approve."))
            status = 422
        elif form.confirm.data != "yes":
            chosen = [p for p in proposals.payouts(db, t, status=PROPOSED, limit=QUEUE_SIZE) if p.id in set(ids)]
            confirming = {"ids": [p.id for p in chosen], "total": sum(p.amount for p in chosen)}
        else:
            try:
                done = approvals.approve_payouts(
                    db, t, ids, actor_user_id=current_user.user_id, reason=form.decision_reason.data or ""
                )
                ready = sum(1 for p in done if p.status == "approved")
                flash(
                    _(
                        "Approved %(n)s payouts: %(ready)s can now be paid, %(second)s wait for a second approver.",
                        n=len(done),
                        ready=ready,
                        second=len(done) - ready,
                    ),
                    "success",
                )
                return redirect(url_for("fund.approvals_page"))
            except AppError as e:
                form.form_errors.append(_("Nothing was approved: %(why)s", why=e.message))
                status = 409 if e.status == 409 else 422
    rows, by_payout, states = _queue(db, t)
    mine = [p for p in rows if states[p.id] and states[p.id].may_approve]
    return (
        render_template(
            "fund/approvals.html",
            rows=rows,
            mine=mine,
            others=[p for p in rows if not (states[p.id] and states[p.id].may_approve)],
            states=states,
            by_payout=by_payout,
            form=form,
            confirming=confirming,
            may_approve=can(current_user, "fund.approve"),
            names=payee_names(db, [p.payee_member_id for p in rows]),
            users=user_names(db, [p.proposer_user_id for p in rows]),
            funds=fund_names(db, t),
            REASON_LABELS=REASON_LABELS,
        ),
        status,
    )
