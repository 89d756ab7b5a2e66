"""The fund's home for fund managers (balance = allocated − reserved − paid, the year's budget, what
waits for approval and what waits to be paid), income (allocations and donations) with their
attachments, the budget, the typed pickers' suggestions, and the home-page panels."""

from __future__ import annotations

from flask import Response, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import func, select

from app.access import can, require
from app.db import get_session
from app.errors import AppError
from app.forms import already_sent, show_errors, spend_once

from . import attachments, budget, money, picks, proposals
from .forms import BudgetForm, IncomeForm, OpenFundForm, RulesForm
from .labels import APPROVED, INCOME_KIND_LABELS, PROPOSED, REASON_LABELS, STATUS_LABELS
from .models import Fund, FundApproval, FundPayout
from .money import format_yuan
from .view_helpers import attachment_id_from, payee_names, this_year, user_names


@login_required
def index():
    """The district's funds: straight to the fund when there is one; a form to open the first."""
    require(current_user, "fund.view")
    db = get_session()
    found = budget.funds(db, current_user.tenant_id)
    form = OpenFundForm()
    if request.method == "POST":
        require(current_user, "fund.manage")
        if form.validate():
            try:
                fund = budget.open_fund(
                    db, current_user.tenant_id, form.name.data or "", actor_user_id=current_user.user_id
                )
                flash(_("The fund is open. Record its first allocation."), "success")
                return redirect(url_for("fund.incomes_page", fund_id=fund.id))
            except AppError as e:
                show_errors(form, e)
        return render_template("fund/index.html", funds=found, form=form), 422
    if len(found) == 1:
        return redirect(url_for("fund.fund_home", fund_id=found[0].id))
    return render_template("fund/index.html", funds=found, form=form)


def get_fund(fund_id: int) -> Fund:
    fund = budget.get_fund(get_session(), current_user.tenant_id, fund_id)
    require(current_user, "fund.view", fund)
    return fund


@login_required
def fund_home(fund_id: int):
    fund = get_fund(fund_id)
    db = get_session()
    t = current_user.tenant_id
    year = this_year()
    form = BudgetForm(prefix="b", year=year)
    current = budget.rules(db, t)
    rules_form = RulesForm(
        prefix="r",
        approval_threshold=money.yuan_text(current.approval_threshold),
        approval_days=current.approval_days,
        unclaimed_days=current.unclaimed_days,
    )
    status = 200
    if request.method == "POST" and request.form.get("form") == "rules":
        require(current_user, "fund.settings")
        if rules_form.validate():
            try:
                budget.change_rules(
                    db,
                    t,
                    approval_threshold=rules_form.approval_threshold.fen or 0,
                    approval_days=rules_form.approval_days.data or 0,
                    unclaimed_days=rules_form.unclaimed_days.data or 0,
                    reason=rules_form.rules_reason.data or "",
                    actor_user_id=current_user.user_id,
                )
                flash(_("The fund's rules are saved; they apply to payouts proposed from now on."), "success")
                return redirect(url_for("fund.fund_home", fund_id=fund.id))
            except AppError as e:
                show_errors(rules_form, e)
        status = 422
    elif request.method == "POST":
        require(current_user, "fund.manage", fund)
        if form.validate():
            try:
                budget.set_budget(
                    db,
                    t,
                    fund.id,
                    form.year.data or year,
                    form.budget.fen or 0,
                    note=form.note.data or "",
                    actor_user_id=current_user.user_id,
                )
                flash(_("The budget for %(year)s is saved.", year=form.year.data), "success")
                return redirect(url_for("fund.fund_home", fund_id=fund.id))
            except AppError as e:
                show_errors(form, e)
                if e.field == "amount":
                    form.budget.errors = list(form.budget.errors) + [e.message]
        status = 422
    waiting = proposals.payouts(db, t, fund_id=fund.id, status=PROPOSED, limit=20)
    to_pay = proposals.payouts(db, t, fund_id=fund.id, status=APPROVED, limit=20)
    counts = dict(
        db.execute(
            select(FundPayout.status, func.count())
            .where(
                FundPayout.tenant_id == t, FundPayout.fund_id == fund.id, FundPayout.status.in_([PROPOSED, APPROVED])
            )
            .group_by(FundPayout.status)
        ).all()
    )
    budgets = budget.budgets(db, t, fund.id)
    return (
        render_template(
            "fund/home.html",
            fund=fund,
            balance=budget.balance(db, t, fund.id),
            budgets=budgets,
            this_budget=next((b for b in budgets if b.year == year), None),
            year=year,
            rules=current,
            rules_form=rules_form,
            waiting=waiting,
            to_pay=to_pay,
            counts=counts,
            names=payee_names(db, [p.payee_member_id for p in waiting + to_pay]),
            form=form,
            REASON_LABELS=REASON_LABELS,
            STATUS_LABELS=STATUS_LABELS,
        ),
        status,
    )


@login_required
def incomes_page(fund_id: int):
    """Money into the fund: the list, and (for fund managers) the form for an allocation or donation."""
    fund = get_fund(fund_id)
    db = get_session()
    t = current_user.tenant_id
    form = IncomeForm(prefix="in")
    status = 200
    if request.method == "POST":
        require(current_user, "fund.manage", fund)
        if form.validate():
            if not spend_once(db, form):
                flash(already_sent(), "error")
                return redirect(url_for("fund.incomes_page", fund_id=fund.id))
            try:
                income = budget.record_income(
                    db,
                    t,
                    fund.id,
                    kind=form.kind.data or "",
                    amount=form.amount.fen or 0,
                    source=form.source.data or "",
                    document_ref=form.document_ref.data or "",
                    received_on=form.received_on.data,
                    note=form.note.data or "",
                    attachment_id=attachment_id_from(db, form.attachment),
                    actor_user_id=current_user.user_id,
                )
                flash(
                    _(
                        "Recorded: %(kind)s of %(amount)s from %(source)s.",
                        kind=INCOME_KIND_LABELS[income.kind],
                        amount=format_yuan(income.amount),
                        source=income.source,
                    ),
                    "success",
                )
                return redirect(url_for("fund.incomes_page", fund_id=fund.id))
            except AppError as e:
                show_errors(form, e)
                if e.field == "attachment_id":
                    form.attachment.errors = list(form.attachment.errors) + [e.message]
        status = 422
    number = max(1, min(request.args.get("page", 1, type=int) or 1, 10_000))
    rows = budget.incomes(db, t, fund.id, limit=51, offset=(number - 1) * 50)
    return (
        render_template(
            "fund/incomes.html",
            fund=fund,
            form=form,
            incomes=rows[:50],
            more=len(rows) > 50,
            number=number,
            balance=budget.balance(db, t, fund.id),
            recorders=user_names(db, [i.recorded_by_user_id for i in rows]),
            INCOME_KIND_LABELS=INCOME_KIND_LABELS,
        ),
        status,
    )


@login_required
def attachment(attachment_id: int):
    """An attachment of the fund (income documents, payout evidence), for whoever reads the fund."""
    require(current_user, "fund.view")
    row, content = attachments.read_attachment(get_session(), current_user.tenant_id, attachment_id)
    return Response(
        content,
        mimetype=row.content_type if "/" in row.content_type else "application/octet-stream",
        headers={
            "Content-Disposition": f'attachment; filename="fund-attachment-{row.id}"',
            "X-Content-Type-Options": "nosniff",
        },
    )


# --- the typed pickers' suggestions (static/js/pick.js) -------------------------------------------------


def _suggestions(found) -> Response:
    # The grey line under a suggestion says only what its main line does not (a member's label already
    # ends with the grid, an activity's with its date).
    return jsonify(
        items=[
            {"id": f.id, "name": f.name, "path": f.label, "kind": "" if f.hint in f.label else f.hint} for f in found
        ]
    )


@login_required
def pick_members():
    require(current_user, "fund.manage")
    return _suggestions(picks.search_members(get_session(), current_user, (request.args.get("q") or "")[:100]))


@login_required
def pick_activities():
    require(current_user, "fund.manage")
    return _suggestions(picks.search_activities(get_session(), current_user, (request.args.get("q") or "")[:100]))


@login_required
def pick_grid_reports():
    require(current_user, "fund.manage")
    return _suggestions(picks.search_grid_reports(get_session(), current_user, (request.args.get("q") or "")[:100]))


# --- home-page panels (registered in the area's setup) -------------------------------------------------------


def manager_panel() -> dict | None:
    """For fund managers: each fund's remaining money, what waits for approval and what waits to be paid."""
    if not current_user.is_authenticated or not can(current_user, "fund.manage"):
        return None
    db = get_session()
    t = current_user.tenant_id
    rows = []
    for fund in budget.funds(db, t):
        counts = dict(
            db.execute(
                select(FundPayout.status, func.count())
                .where(
                    FundPayout.tenant_id == t,
                    FundPayout.fund_id == fund.id,
                    FundPayout.status.in_([PROPOSED, APPROVED]),
                )
                .group_by(FundPayout.status)
            ).all()
        )
        rows.append((fund, budget.balance(db, t, fund.id), counts.get(PROPOSED, 0), counts.get(APPROVED, 0)))
    return {"funds": rows}


def approver_panel() -> dict | None:
    """For fund approvers: how many payouts wait for them (not their own, not to them, not approved by
    them already)."""
    if not current_user.is_authenticated or not can(current_user, "fund.approve"):
        return None
    db = get_session()
    n = db.scalar(waiting_for_me_count_query(current_user))
    return {"waiting": n or 0}


def waiting_for_me_count_query(principal):
    me = principal.member_id
    mine = select(FundApproval.payout_id).where(
        FundApproval.tenant_id == principal.tenant_id, FundApproval.approver_member_id == me
    )
    return select(func.count()).where(
        FundPayout.tenant_id == principal.tenant_id,
        FundPayout.status == PROPOSED,
        FundPayout.proposer_member_id != me,
        FundPayout.payee_member_id != me,
        FundPayout.id.not_in(mine),
    )


def payee_panel() -> dict | None:
    """For a member with rewards: paid and waiting totals in yuan, and the latest few."""
    if not current_user.is_authenticated or current_user.member_id is None:
        return None
    from .payees import my_rewards

    mine = my_rewards(get_session(), current_user.tenant_id, current_user.member_id, limit=3)
    if not mine.lines:
        return None
    return {"rewards": mine}
