"""Recording a payment made outside the system (bank transfer, WeChat, cash): channel, reference, date
and who paid, checked and then confirmed before the money is posted to the payee."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app.access import require
from app.db import get_session, utcnow
from app.errors import AppError
from app.forms import show_errors
from app.times import to_beijing

from . import budget, disbursement, proposals
from .forms import PaymentForm
from .labels import APPROVED, CHANNEL_LABELS, REASON_LABELS
from .view_helpers import payee_names


@login_required
def payment_page(payout_id: int):
    db = get_session()
    t = current_user.tenant_id
    payout = proposals.get_payout(db, t, payout_id)
    require(current_user, "fund.manage", payout)
    form = PaymentForm()
    if request.method == "GET":
        form.paid_on.data = to_beijing(utcnow()).date()  # usually paid today; change it if not
    status = 200
    confirming = False
    if request.method == "POST":
        if form.validate():
            if form.confirm.data != "yes":
                confirming = True  # the same form again, read back, with a "Record the payment" button
            else:
                try:
                    disbursement.record_payment(
                        db,
                        t,
                        payout.id,
                        channel=form.channel.data or "",
                        reference=form.reference.data or "",
                        paid_on=form.paid_on.data,
                        paid_by=form.paid_by.data or "",
                        note=form.note.data or "",
                        actor_user_id=current_user.user_id,
                    )
                    flash(_("The payment is recorded and the money posted to the payee."), "success")
                    return redirect(url_for("fund.payout_page", payout_id=payout.id))
                except AppError as e:
                    show_errors(form, e)
                    status = 409 if e.status == 409 else 422
                    db.refresh(payout)
        if not confirming and status == 200:
            status = 422
    elif payout.status != APPROVED:
        flash(_("Only an approved payout can be paid."), "error")
        return redirect(url_for("fund.payout_page", payout_id=payout.id))
    return (
        render_template(
            "fund/payment.html",
            payout=payout,
            fund=budget.get_fund(db, t, payout.fund_id),
            form=form,
            confirming=confirming,
            payee=payee_names(db, [payout.payee_member_id]).get(payout.payee_member_id, "—"),
            CHANNEL_LABELS=CHANNEL_LABELS,
            REASON_LABELS=REASON_LABELS,
        ),
        status,
    )
