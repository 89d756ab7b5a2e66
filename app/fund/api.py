"""The fund area's JSON API (app/fund/blueprint.py routes it): funds, budgets, income, payouts
(single and batch), approvals, rejections, withdrawals, payments, returns, the district's fund rules,
and the signed-in member's rewards. Every rule lives in the services; these views translate HTTP."""

from __future__ import annotations

from datetime import UTC

from flask import request, url_for
from flask_login import current_user

from app.access import path_filter, require
from app.api.openapi import FILE_BODY, WRITE_SECURITY, api, large_body, responses, write_responses
from app.api.schemas import ErrorOut
from app.db import get_session

from . import approvals, attachments, budget, disbursement, payees, proposals
from .models import FundPayout
from .money import decimal_text, parse_yuan
from .proposals import PayoutItem
from .schemas import (
    AttachmentIn,
    AttachmentOut,
    BatchApprovalIn,
    BudgetIn,
    DisbursementIn,
    FundIn,
    FundList,
    FundOut,
    IncomeIn,
    IncomeList,
    IncomeOut,
    MyRewardsOut,
    PayoutBatchIn,
    PayoutDecisionIn,
    PayoutIn,
    PayoutList,
    PayoutOut,
    PayoutQuery,
    RewardOut,
    RulesIn,
    RulesOut,
)

FORBIDDEN = (ErrorOut, "Visible but not allowed")
TAGS = ["fund"]


def _fund_out(fund) -> FundOut:
    s = get_session()
    return FundOut.of(fund, budget.balance(s, fund.tenant_id, fund.id), budget.budgets(s, fund.tenant_id, fund.id))


def _payout_out(p) -> PayoutOut:
    s = get_session()
    return PayoutOut.of(p, approvals.approvers_of(s, p.id), disbursement.disbursement_of(s, p.id))


def _decision(operation_id: str):
    """The API contract shared by the decisions on one payout (approve, reject, withdraw): a reason in,
    the payout out."""
    return api.validate(
        json=PayoutDecisionIn,
        resp=write_responses(HTTP_200=PayoutOut, HTTP_422=(ErrorOut, "What to fix")),
        tags=TAGS,
        security=WRITE_SECURITY,
        operation_id=operation_id,
    )


def _decide(payout_id, action, decide):
    """Check the permission, make the decision with the request's reason, answer with the payout."""
    data: PayoutDecisionIn = request.context.json
    require(current_user, action)
    p = decide(get_session(), current_user.tenant_id, payout_id, actor_user_id=current_user.user_id, reason=data.reason)
    return _payout_out(p)


def _item(i) -> PayoutItem:
    return PayoutItem(
        payee_member_id=i.payee_member_id,
        amount=parse_yuan(i.amount),
        reason_category=i.reason_category,
        reason=i.reason,
        grid_report_id=i.grid_report_id,
        activity_id=i.activity_id,
        evidence=i.evidence,
        attachment_id=i.attachment_id,
    )


# --- funds, budgets, income -----------------------------------------------------------------------------


@api.validate(resp=responses(HTTP_200=FundList, HTTP_403=FORBIDDEN), tags=TAGS, operation_id="listFunds")
def list_funds():
    """The district's funds with their balance (allocated − reserved − paid = remaining) and budgets."""
    require(current_user, "fund.view")
    return FundList(items=[_fund_out(f) for f in budget.funds(get_session(), current_user.tenant_id)])


@large_body(FILE_BODY)
@api.validate(
    json=AttachmentIn,
    resp=write_responses(HTTP_201=AttachmentOut, HTTP_422=(ErrorOut, "Not a file the fund keeps (code fund_invalid)")),
    tags=TAGS,
    security=WRITE_SECURITY,
    operation_id="uploadFundAttachment",
)
def upload_attachment():
    """Keep a file as evidence (fund managers): its `id` goes into an income's or a payout's
    `attachment_id`. Read back at `/fund/attachments/{id}` (signed in, fund readers)."""
    data: AttachmentIn = request.context.json
    require(current_user, "fund.manage")
    row = attachments.store_attachment(
        get_session(),
        current_user.tenant_id,
        filename=data.filename,
        content=bytes(data.content),
        actor_user_id=current_user.user_id,
    )
    return AttachmentOut(
        id=row.id, filename=row.filename, content_type=row.content_type, size_bytes=row.size_bytes
    ), 201


@api.validate(
    json=FundIn,
    resp=write_responses(HTTP_201=FundOut, HTTP_422=(ErrorOut, "What to fix")),
    tags=TAGS,
    security=WRITE_SECURITY,
    operation_id="createFund",
)
def create_fund():
    """Open a fund of the district (fund managers)."""
    data: FundIn = request.context.json
    require(current_user, "fund.manage")
    fund = budget.open_fund(get_session(), current_user.tenant_id, data.name, actor_user_id=current_user.user_id)
    return _fund_out(fund), 201, {"Location": url_for(".get_fund", fund_id=fund.id)}


@api.validate(resp=responses(HTTP_200=FundOut, HTTP_403=FORBIDDEN), tags=TAGS, operation_id="getFund")
def get_fund(fund_id):
    """One fund with its balance and budgets."""
    require(current_user, "fund.view")
    return _fund_out(budget.get_fund(get_session(), current_user.tenant_id, fund_id))


@api.validate(
    json=BudgetIn,
    resp=write_responses(HTTP_200=FundOut, HTTP_422=(ErrorOut, "What to fix")),
    tags=TAGS,
    security=WRITE_SECURITY,
    operation_id="setFundBudget",
)
def set_budget(fund_id, year):
    """Set the fund's budget for a year (never below what that year's payouts already hold)."""
    data: BudgetIn = request.context.json
    require(current_user, "fund.manage")
    s = get_session()
    budget.set_budget(
        s,
        current_user.tenant_id,
        fund_id,
        year,
        parse_yuan(data.amount, allow_zero=True),
        note=data.note,
        actor_user_id=current_user.user_id,
    )
    return _fund_out(budget.get_fund(s, current_user.tenant_id, fund_id))


@api.validate(resp=responses(HTTP_200=IncomeList, HTTP_403=FORBIDDEN), tags=TAGS, operation_id="listFundIncomes")
def list_incomes(fund_id):
    """The fund's allocations and donations, newest first (the latest 100)."""
    require(current_user, "fund.view")
    s = get_session()
    budget.get_fund(s, current_user.tenant_id, fund_id)
    return IncomeList(items=[IncomeOut.of(i) for i in budget.incomes(s, current_user.tenant_id, fund_id, limit=100)])


@api.validate(
    json=IncomeIn,
    resp=write_responses(HTTP_201=IncomeOut, HTTP_422=(ErrorOut, "What to fix")),
    tags=TAGS,
    security=WRITE_SECURITY,
    operation_id="createFundIncome",
)
def create_income(fund_id):
    """Record an allocation or a donation (source, document reference, optional attachment): posted at once."""
    data: IncomeIn = request.context.json
    require(current_user, "fund.manage")
    income = budget.record_income(
        get_session(),
        current_user.tenant_id,
        fund_id,
        kind=data.kind,
        amount=parse_yuan(data.amount),
        source=data.source,
        document_ref=data.document_ref,
        received_on=data.received_on,
        note=data.note,
        attachment_id=data.attachment_id,
        actor_user_id=current_user.user_id,
    )
    return IncomeOut.of(income), 201


# --- payouts ------------------------------------------------------------------------------------------------


@api.validate(
    query=PayoutQuery, resp=responses(HTTP_200=PayoutList, HTTP_403=FORBIDDEN), tags=TAGS, operation_id="listPayouts"
)
def list_payouts():
    """The district's payouts, newest first, filtered by fund, status or payee."""
    query: PayoutQuery = request.context.query
    require(current_user, "fund.view")
    items = proposals.payouts(
        get_session(),
        current_user.tenant_id,
        fund_id=query.fund_id,
        status=query.status,
        payee_member_id=query.payee_member_id,
        where=path_filter(current_user, "fund.view", FundPayout.payee_path),
        limit=query.limit,
        offset=query.offset,
    )
    return PayoutList(items=[PayoutOut.of(p) for p in items])


@api.validate(
    json=PayoutIn,
    resp=write_responses(HTTP_201=PayoutOut, HTTP_422=(ErrorOut, "What to fix")),
    tags=TAGS,
    security=WRITE_SECURITY,
    operation_id="proposePayout",
)
def propose_payout():
    """Propose a payout (fund managers): it reserves the money at once; 409 budget_exceeded when the fund
    or the year's budget has not enough left; 403 payee_cannot_propose for a reward to yourself."""
    data: PayoutIn = request.context.json
    require(current_user, "fund.manage")
    p = proposals.propose_payout(
        get_session(), current_user.tenant_id, data.fund_id, _item(data), actor_user_id=current_user.user_id
    )
    return _payout_out(p), 201, {"Location": url_for(".get_payout", payout_id=p.id)}


@api.validate(
    json=PayoutBatchIn,
    resp=write_responses(HTTP_201=PayoutList, HTTP_422=(ErrorOut, "What to fix")),
    tags=TAGS,
    security=WRITE_SECURITY,
    operation_id="proposePayouts",
)
def propose_payouts():
    """Propose several payouts at once, all or none (details name each refused item, 1-based)."""
    data: PayoutBatchIn = request.context.json
    require(current_user, "fund.manage")
    made = proposals.propose_payouts(
        get_session(),
        current_user.tenant_id,
        data.fund_id,
        [_item(i) for i in data.items],
        actor_user_id=current_user.user_id,
    )
    return PayoutList(items=[PayoutOut.of(p) for p in made]), 201


@api.validate(resp=responses(HTTP_200=PayoutOut, HTTP_403=FORBIDDEN), tags=TAGS, operation_id="getPayout")
def get_payout(payout_id):
    """One payout with its approvals and payment record (its payee may read it too)."""
    p = proposals.get_payout(get_session(), current_user.tenant_id, payout_id)
    require(current_user, "fund.view", p)
    return _payout_out(p)


@_decision("approvePayout")
def approve_payout(payout_id):
    """Approve a payout (fund approvers; never its proposer — 403 own_proposal — nor its payee — 403
    payee_cannot_approve). Above the threshold the answer is still `proposed` until a second, different
    approver approves (409 already_approved_by_you for a second try)."""
    return _decide(payout_id, "fund.approve", approvals.approve_payout)


@api.validate(
    json=BatchApprovalIn,
    resp=write_responses(HTTP_200=PayoutList, HTTP_422=(ErrorOut, "What to fix")),
    tags=TAGS,
    security=WRITE_SECURITY,
    operation_id="approvePayouts",
)
def approve_payouts():
    """Approve a batch of payouts, all or none (the error names the payout that was refused)."""
    data: BatchApprovalIn = request.context.json
    require(current_user, "fund.approve")
    done = approvals.approve_payouts(
        get_session(), current_user.tenant_id, data.payout_ids, actor_user_id=current_user.user_id, reason=data.reason
    )
    return PayoutList(items=[PayoutOut.of(p) for p in done])


@_decision("rejectPayout")
def reject_payout(payout_id):
    """Reject a payout waiting for approval, with a reason: its reservation is released."""
    return _decide(payout_id, "fund.approve", approvals.reject_payout)


@_decision("withdrawPayout")
def withdraw_payout(payout_id):
    """Withdraw a payout still waiting for approval (fund managers), with a reason: its money is released."""
    return _decide(payout_id, "fund.manage", approvals.withdraw_payout)


@api.validate(
    json=DisbursementIn,
    resp=write_responses(HTTP_201=PayoutOut, HTTP_422=(ErrorOut, "What to fix")),
    tags=TAGS,
    security=WRITE_SECURITY,
    operation_id="recordPayoutPayment",
)
def record_payment(payout_id):
    """Record the payment of an approved payout (channel, reference, date, who paid); only now is the
    money posted. 409 already_paid for a second record, not_approved before approval."""
    data: DisbursementIn = request.context.json
    require(current_user, "fund.manage")
    s = get_session()
    disbursement.record_payment(
        s,
        current_user.tenant_id,
        payout_id,
        channel=data.channel,
        reference=data.reference,
        paid_on=data.paid_on,
        paid_by=data.paid_by,
        note=data.note,
        actor_user_id=current_user.user_id,
    )
    return _payout_out(proposals.get_payout(s, current_user.tenant_id, payout_id)), 201


@api.validate(
    json=PayoutDecisionIn,
    resp=write_responses(HTTP_200=PayoutOut, HTTP_422=(ErrorOut, "What to fix")),
    tags=TAGS,
    security=WRITE_SECURITY,
    operation_id="returnPayout",
)
def return_payout(payout_id):
    """Return an approved, unpaid payout to the fund, with a reason (the record is kept)."""
    data: PayoutDecisionIn = request.context.json
    require(current_user, "fund.manage")
    p = disbursement.return_payout(
        get_session(), current_user.tenant_id, payout_id, reason=data.reason, actor_user_id=current_user.user_id
    )
    return _payout_out(p)


# --- the district's rules, and the payee's view -------------------------------------------------------------


def _rules_out(r) -> RulesOut:
    return RulesOut(
        approval_threshold_fen=r.approval_threshold,
        approval_threshold=decimal_text(r.approval_threshold),
        approval_days=r.approval_days,
        unclaimed_days=r.unclaimed_days,
        version=r.version,
    )


@api.validate(resp=responses(HTTP_200=RulesOut, HTTP_403=FORBIDDEN), tags=TAGS, operation_id="getFundRules")
def get_rules():
    """The district's fund rules: the two-approver threshold and the two periods."""
    require(current_user, "fund.view")
    return _rules_out(budget.rules(get_session(), current_user.tenant_id))


@api.validate(
    json=RulesIn,
    resp=write_responses(HTTP_200=RulesOut, HTTP_422=(ErrorOut, "What to fix")),
    tags=TAGS,
    security=WRITE_SECURITY,
    operation_id="changeFundRules",
)
def change_rules():
    """Change the district's fund rules (district administrators): a new version, audited."""
    data: RulesIn = request.context.json
    require(current_user, "fund.settings")
    s = get_session()
    budget.change_rules(
        s,
        current_user.tenant_id,
        approval_threshold=parse_yuan(data.approval_threshold, field="approval_threshold", allow_zero=True),
        approval_days=data.approval_days,
        unclaimed_days=data.unclaimed_days,
        reason=data.reason,
        actor_user_id=current_user.user_id,
    )
    return _rules_out(budget.rules(s, current_user.tenant_id))


@api.validate(resp=responses(HTTP_200=MyRewardsOut), tags=TAGS, operation_id="getMyRewards")
def my_rewards():
    """Your rewards from the fund, in yuan (separate from points), each with its status and reason."""
    mine = payees.my_rewards(get_session(), current_user.tenant_id, current_user.member_id)
    return MyRewardsOut(
        paid_fen=mine.paid,
        waiting_fen=mine.waiting,
        items=[
            RewardOut(
                payout_id=x.payout_id,
                fund_name=x.fund_name,
                amount_fen=x.amount,
                amount=decimal_text(x.amount),
                reason_category=x.reason_category,
                reason=x.reason,
                status=x.status,
                status_reason=x.status_reason,
                proposed_at=x.proposed_at.replace(tzinfo=UTC),
                paid_on=x.paid_on,
                channel=x.channel,
            )
            for x in mine.lines
        ],
    )
