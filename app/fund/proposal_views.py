"""Proposing payouts: one payee (picked by typing part of a name, the amount typed in yuan, a reason
and its evidence), the monthly .xlsx awards list (dry run with every row, then all or none), the list
of payouts and one payout's page (its evidence, approvals and what the signed-in user may do)."""

from __future__ import annotations

from flask import Response, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import and_, select

from app.access import can, path_filter, require, scopes_for
from app.db import get_session
from app.errors import AppError
from app.forms import already_sent, show_errors, spend_once
from app.gridreports.models import GridReport
from app.gridreports.services import verified_reports_query
from app.people.models import Member
from app.places.models import OrgUnit
from app.spreadsheets import XLSX_MIMETYPE, SpreadsheetError

from . import approvals, budget, disbursement, picks, proposals
from .approval_views import approval_state
from .forms import DecisionForm, ListConfirmForm, ListUploadForm, ProposalForm
from .fund_views import get_fund
from .labels import APPROVED, CHANNEL_LABELS, PAID, PROPOSED, REASON_LABELS, STATUS_LABELS, STATUSES
from .models import FundPayout
from .money import format_yuan
from .view_helpers import attachment_id_from, payee_names, user_names

# A service's field name -> the form field that shows its error.
_FIELDS = {
    "payee_member_id": "payee",
    "grid_report_id": "grid_report",
    "activity_id": "activity",
    "attachment_id": "attachment",
}


def _show(form, e: AppError) -> None:
    if e.field in _FIELDS:
        e.field = _FIELDS[e.field]
    for d in e.details or []:
        if d.get("field") in _FIELDS:
            d["field"] = _FIELDS[d["field"]]
    show_errors(form, e)


def proposed_text(payouts: list) -> str:
    two = sum(1 for p in payouts if p.required_approvals == 2)
    total = format_yuan(sum(p.amount for p in payouts))
    if len(payouts) == 1:
        p = payouts[0]
        if p.required_approvals == 2:
            return _(
                "Proposed: %(amount)s, reserved from the fund. Above the threshold of %(limit)s, it needs two "
                "different fund approvers.",
                amount=format_yuan(p.amount),
                limit=format_yuan(p.threshold),
            )
        return _("Proposed: %(amount)s, reserved from the fund. It waits for a fund approver.", amount=total)
    return _(
        "Proposed: %(n)s payouts, %(total)s in all, reserved from the fund; %(two)s of them need two approvers.",
        n=len(payouts),
        total=total,
        two=two,
    )


@login_required
def propose_page(fund_id: int):
    fund = get_fund(fund_id)
    require(current_user, "fund.manage", fund)
    db = get_session()
    t = current_user.tenant_id
    status = 200
    if request.method == "POST":
        form = ProposalForm()
        if form.validate():
            if not spend_once(db, form):
                flash(already_sent(), "error")
                return redirect(url_for("fund.payouts_page", fund=fund.id, status="proposed"))
            try:
                payout = proposals.propose_payout(
                    db,
                    t,
                    fund.id,
                    proposals.PayoutItem(
                        payee_member_id=form.payee.data,
                        amount=form.amount.fen or 0,
                        reason_category=form.reason_category.data or "",
                        reason=form.reason.data or "",
                        grid_report_id=form.grid_report.data or None,
                        activity_id=form.activity.data or None,
                        evidence=form.evidence.data or "",
                        attachment_id=attachment_id_from(db, form.attachment),
                    ),
                    actor_user_id=current_user.user_id,
                )
                flash(proposed_text([payout]), "success")
                return redirect(url_for("fund.payout_page", payout_id=payout.id))
            except AppError as e:
                _show(form, e)
        status = 422
    else:
        # "Propose a reward" from a verified grid report: the report and its reporter filled in.
        report_id = request.args.get("grid_report", type=int)
        payee_id = request.args.get("payee", type=int)
        if report_id and report_id < 2**63 and payee_id is None:
            payee_id = picks.grid_report_reporter(db, current_user, report_id)
        form = ProposalForm(
            formdata=None,
            grid_report=report_id if report_id and report_id < 2**63 else None,
            payee=payee_id if payee_id and payee_id < 2**63 else None,
            reason_category="grid_report" if report_id else "other",
        )
    return (
        render_template(
            "fund/propose.html",
            fund=fund,
            form=form,
            unrewarded=_unrewarded_reports(db),
            balance=budget.balance(db, t, fund.id),
            rules=budget.rules(db, t),
        ),
        status,
    )


@login_required
def propose_for_report():
    """From a verified grid report's page: the district's fund's proposal form, filled in with the report
    and its reporter (the list of funds when there are several)."""
    require(current_user, "fund.manage")
    found = budget.funds(get_session(), current_user.tenant_id)
    if len(found) != 1:
        return redirect(url_for("fund.index"))
    report_id = request.args.get("grid_report", type=int)
    return redirect(url_for("fund.propose_page", fund_id=found[0].id, grid_report=report_id))


def _signer() -> URLSafeSerializer:
    return URLSafeSerializer(
        current_app.config["SECRET_KEY"], salt="fund-list-once"
    )  # the rows with the form's one-time key


@login_required
def list_template(fund_id: int):
    fund = get_fund(fund_id)
    require(current_user, "fund.manage", fund)
    return Response(
        proposals.template_xlsx(),
        mimetype=XLSX_MIMETYPE,
        headers={"Content-Disposition": "attachment; filename=fund-awards-list.xlsx"},
    )


@login_required
def upload_page(fund_id: int):
    """Step 1: upload, and the dry run shows every row (and every problem). Step 2: propose them all, or
    none. The checked rows travel signed in the confirmation form, so step 2 proposes exactly what step 1
    showed (and the service checks them again)."""
    fund = get_fund(fund_id)
    require(current_user, "fund.manage", fund)
    db = get_session()
    t = current_user.tenant_id
    check = names = None
    confirm = None
    form = ListUploadForm()
    status = 200
    if request.method == "POST" and request.form.get("step") == "confirm":
        confirm = ListConfirmForm()
        if confirm.validate():
            try:
                # The checked list is signed with this form's one-time key: it is sent once, as checked.
                filename, rows, once = _signer().loads(confirm.rows.data or "")
                if once != confirm.once.data:
                    raise BadSignature("another form's list")
                if not spend_once(db, confirm):
                    flash(already_sent(), "error")
                    return redirect(url_for("fund.payouts_page", fund=fund.id, status="proposed"))
                items = [
                    proposals.PayoutItem(int(m), int(a), str(c), str(r), grid_report_id=g) for m, a, c, r, g in rows
                ]
                payouts = proposals.propose_payouts(
                    db, t, fund.id, items, actor_user_id=current_user.user_id, batch_ref=str(filename)[:64]
                )
                flash(proposed_text(payouts), "success")
                return redirect(url_for("fund.payouts_page", fund=fund.id, status="proposed"))
            except (BadSignature, ValueError, TypeError):  # changed, or not the shape this page signs
                confirm.form_errors.append(_("The checked list was changed; upload the file again."))
            except AppError as e:
                show_errors(confirm, e)
        status = 422
        form = ListUploadForm(formdata=None)
    elif request.method == "POST":
        if form.validate():
            upload = form.file.data
            content = upload.read()
            try:
                check = proposals.check_list(
                    db, t, fund.id, upload.filename or "", content, actor_user_id=current_user.user_id
                )
            except SpreadsheetError as e:
                form.file.errors = [e.message]
                status = 422
            else:
                names = payee_names(db, [i.payee_member_id for i in check.items])
                if check.problems:
                    status = 422
                else:
                    rows = [
                        [i.payee_member_id, i.amount, i.reason_category, i.reason, i.grid_report_id]
                        for i in check.items
                    ]
                    confirm = ListConfirmForm(formdata=None)
                    confirm.rows.data = _signer().dumps(
                        [(upload.filename or "list.xlsx")[:64], rows, confirm.once.data]
                    )
        else:
            status = 422
    return (
        render_template(
            "fund/upload.html",
            fund=fund,
            form=form,
            check=check,
            confirm=confirm,
            names=names or {},
            rules=budget.rules(db, t),
            balance=budget.balance(db, t, fund.id),
            REASON_LABELS=REASON_LABELS,
        ),
        status,
    )


@login_required
def payouts_page():
    """Every payout the user may read, newest first, by status and fund."""
    require(current_user, "fund.view")
    db = get_session()
    t = current_user.tenant_id
    status = request.args.get("status") if request.args.get("status") in STATUSES else None
    fund_id = request.args.get("fund", type=int)
    fund = get_fund(fund_id) if fund_id and fund_id < 2**63 else None
    number = max(1, min(request.args.get("page", 1, type=int) or 1, 10_000))
    q = " ".join((request.args.get("q") or "").split())[:64]
    where = path_filter(current_user, "fund.view", FundPayout.payee_path)
    if q:  # part of the payee's name, or the last 4 digits of their mobile
        found = select(Member.id).where(
            Member.tenant_id == t,
            (Member.mobile_tail == q) if q.isdecimal() and len(q) == 4 else Member.name.contains(q, autoescape=True),
        )
        where = and_(where, FundPayout.payee_member_id.in_(found))
    rows = proposals.payouts(
        db,
        t,
        fund_id=fund.id if fund else None,
        status=status,
        where=where,
        limit=51,
        offset=(number - 1) * 50,
    )
    return render_template(
        "fund/payouts.html",
        fund=fund,
        payouts=rows[:50],
        more=len(rows) > 50,
        number=number,
        status=status,
        q=q,
        names=payee_names(db, [p.payee_member_id for p in rows]),
        STATUS_LABELS=STATUS_LABELS,
        REASON_LABELS=REASON_LABELS,
        STATUSES=STATUSES,
    )


def _confirm_decision(db, payout, action: str, reason: str, next_url: str | None):
    payee = payee_names(db, [payout.payee_member_id]).get(payout.payee_member_id, "")
    amount = format_yuan(payout.amount)
    title, question, consequence, button = {
        "approve": (
            _("Approve this payout?"),
            _("Approve %(amount)s to %(payee)s for “%(reason)s”?", amount=amount, payee=payee, reason=payout.reason),
            _("An approval cannot be taken back. The payout then still needs a second, different approver.")
            if len(approvals.approvers_of(db, payout.id)) + 1 < payout.required_approvals
            else _("An approval cannot be taken back. With it the payout can be paid."),
            _("Approve %(amount)s", amount=amount),
        ),
        "reject": (
            _("Reject this payout?"),
            _("Reject %(amount)s to %(payee)s for “%(reason)s”?", amount=amount, payee=payee, reason=payout.reason),
            _("The reserved money goes back to the fund; the proposer and the payee see your reason."),
            _("Reject"),
        ),
        "withdraw": (
            _("Withdraw this proposal?"),
            _(
                "Withdraw the proposal to pay %(amount)s to %(payee)s for “%(reason)s”?",
                amount=amount,
                payee=payee,
                reason=payout.reason,
            ),
            _("The reserved money goes back to the fund. To pay it after all, propose it again."),
            _("Withdraw it"),
        ),
        "return": (
            _("Return this payment to the fund?"),
            _("Return %(amount)s paid to %(payee)s to the fund?", amount=amount, payee=payee),
            _("Only when the money really came back (a failed transfer, a refund). The payment record is kept."),
            _("Return %(amount)s to the fund", amount=amount),
        ),
    }[action]
    carried = {"action": action, "decision_reason": reason}
    if next_url == "queue":
        carried["next"] = next_url
    return render_template(
        "confirm.html",
        form=DecisionForm(formdata=None),
        title=title,
        question=question,
        consequence=consequence + (" " + _("Reason: %(reason)s", reason=reason) if reason else ""),
        action=url_for("fund.payout_page", payout_id=payout.id),
        button=button,
        button_class="" if action == "approve" else "danger",
        carried=carried,
        back=url_for("fund.approvals_page")
        if next_url == "queue"
        else url_for("fund.payout_page", payout_id=payout.id),
    )


@login_required
def payout_page(payout_id: int):
    """One payout: amount, payee, reason and evidence, its approvals and payment, and what the signed-in
    user may do now (approve, reject, withdraw, record the payment, return it) — or why they may not."""
    db = get_session()
    t = current_user.tenant_id
    payout = proposals.get_payout(db, t, payout_id)
    require(current_user, "fund.view", payout)
    if not scopes_for(current_user, "fund.view"):
        return redirect(url_for("fund.my_rewards_page"))  # the payee: their rewards page says it all
    form = DecisionForm()
    status = 200
    if request.method == "POST":
        action = request.form.get("action")
        reason = (form.decision_reason.data or "").strip()
        needs = {
            "approve": "fund.approve",
            "reject": "fund.approve",
            "withdraw": "fund.manage",
            "return": "fund.manage",
        }
        require(current_user, needs.get(action or "", "fund.manage"), payout)
        if form.validate():
            # Asks first (none can be undone), once the decision is complete: a rejection, withdrawal or
            # return without its reason goes on to the service, which says what is missing.
            if action in needs and request.form.get("confirm") != "yes" and (reason or action == "approve"):
                return _confirm_decision(db, payout, action, reason, request.form.get("next"))
            try:
                if action == "approve":
                    done = approvals.approve_payout(db, t, payout.id, actor_user_id=current_user.user_id, reason=reason)
                    flash(
                        _("Approved: the payout can now be paid.")
                        if done.status == "approved"
                        else _("Your approval is recorded. It needs a second, different approver."),
                        "success",
                    )
                elif action == "reject":
                    approvals.reject_payout(db, t, payout.id, actor_user_id=current_user.user_id, reason=reason)
                    flash(_("Rejected: the reserved money is back in the fund."), "success")
                elif action == "withdraw":
                    approvals.withdraw_payout(db, t, payout.id, actor_user_id=current_user.user_id, reason=reason)
                    flash(_("Withdrawn: the reserved money is back in the fund."), "success")
                elif action == "return":
                    disbursement.return_payout(db, t, payout.id, reason=reason, actor_user_id=current_user.user_id)
                    flash(_("Returned: the money is back in the fund; the record is kept."), "success")
                else:
                    form.form_errors.append(_("Choose what to do."))
                    raise _Redisplay
                next_url = request.form.get("next")
                if next_url == "queue":
                    return redirect(url_for("fund.approvals_page"))
                return redirect(url_for("fund.payout_page", payout_id=payout.id))
            except _Redisplay:
                pass
            except AppError as e:
                if e.field == "reason":
                    e.field = "decision_reason"
                show_errors(form, e)
        status = 422
        db.refresh(payout)
    fund = budget.get_fund(db, t, payout.fund_id)
    approved_by = approvals.approvers_of(db, payout.id)
    paid = disbursement.disbursement_of(db, payout.id)
    return (
        render_template(
            "fund/payout.html",
            fund=fund,
            payout=payout,
            approved_by=approved_by,
            paid=paid,
            names=payee_names(db, [payout.payee_member_id, payout.rejected_by_member_id]),
            users=user_names(
                db,
                [payout.proposer_user_id, payout.closed_by_user_id]
                + [a.approver_user_id for a in approved_by]
                + ([paid.recorded_by_user_id] if paid else []),
            ),
            evidence=_evidence(db, payout),
            state=approval_state(payout, approved_by, current_user) if can(current_user, "fund.approve") else None,
            form=form,
            acted=request.form.get("action") if status == 422 else None,
            REASON_LABELS=REASON_LABELS,
            STATUS_LABELS=STATUS_LABELS,
            CHANNEL_LABELS=CHANNEL_LABELS,
        ),
        status,
    )


def _unrewarded_reports(db, limit: int = 10) -> list:
    """Recent verified grid reports no payout is open or paid for: a reward for one is one tap away."""
    rewarded = select(FundPayout.grid_report_id).where(
        FundPayout.tenant_id == current_user.tenant_id,
        FundPayout.grid_report_id.is_not(None),
        FundPayout.status.in_([PROPOSED, APPROVED, PAID]),
    )
    q = verified_reports_query(current_user.tenant_id).where(
        path_filter(current_user, "fund.view", OrgUnit.path), GridReport.id.not_in(rewarded)
    )
    return list(db.scalars(q.limit(limit)).unique())


class _Redisplay(Exception):
    pass


def _evidence(db, payout) -> dict:
    report = picks.grid_report_found(db, current_user, payout.grid_report_id) if payout.grid_report_id else None
    activity = picks.activity_found(db, current_user, payout.activity_id) if payout.activity_id else None
    return {"report": report, "activity": activity}
