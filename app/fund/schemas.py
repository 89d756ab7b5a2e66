"""The fund API's request and response models. Amounts go in as yuan strings ("1234.50", at most two
decimals: never floats) and come out twice: `*_fen` (integer fen, as the books keep them) and a yuan
string with two decimals."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, Base64Bytes, BaseModel, ConfigDict, Field

from app.api.schemas import Day, Id, utc

from .labels import CHANNELS, INCOME_KINDS, REASONS, STATUSES
from .money import decimal_text

Reason = Literal["grid_report", "mediation", "patrol", "volunteer_of_month", "other"]
Channel = Literal["bank", "wechat", "cash"]
Status = Literal["proposed", "approved", "paid", "rejected", "expired", "withdrawn", "returned"]
IncomeKind = Literal["allocation", "donation"]
assert set(Reason.__args__) == set(REASONS)  # type: ignore[attr-defined]
assert set(Channel.__args__) == set(CHANNELS)  # type: ignore[attr-defined]
assert set(Status.__args__) == set(STATUSES)  # type: ignore[attr-defined]
assert set(IncomeKind.__args__) == set(INCOME_KINDS)  # type: ignore[attr-defined]

Yuan = Field(min_length=1, max_length=24, description='Yuan with at most two decimals, e.g. "1234.50" or "1,234.50"')


def _yuan(fen: int) -> str:
    return decimal_text(fen)


class BalanceOut(BaseModel):
    allocations_fen: int
    donations_fen: int
    allocated_fen: int = Field(description="All income: allocations + donations")
    reserved_fen: int = Field(description="Held by payouts proposed or approved, not yet paid")
    paid_fen: int
    remaining_fen: int = Field(description="allocated − reserved − paid")
    returned_fen: int = Field(description="Approved payouts returned unclaimed (already back in remaining)")
    remaining: str = Field(description="remaining_fen in yuan")


class BudgetOut(BaseModel):
    year: int
    amount_fen: int
    committed_fen: int = Field(description="Held or paid by payouts proposed in that year")
    amount: str
    note: str


class FundOut(BaseModel):
    id: int
    name: str
    created_at: AwareDatetime
    balance: BalanceOut
    budgets: list[BudgetOut]

    @classmethod
    def of(cls, fund, bal, budgets) -> FundOut:
        return cls(
            id=fund.id,
            name=fund.name,
            created_at=utc(fund.created_at),
            balance=BalanceOut(
                allocations_fen=bal.allocations,
                donations_fen=bal.donations,
                allocated_fen=bal.allocated,
                reserved_fen=bal.reserved,
                paid_fen=bal.paid,
                remaining_fen=bal.remaining,
                returned_fen=bal.returned,
                remaining=_yuan(bal.remaining),
            ),
            budgets=[
                BudgetOut(
                    year=b.year,
                    amount_fen=b.amount,
                    committed_fen=b.committed,
                    amount=_yuan(b.amount),
                    note=b.note or "",
                )
                for b in budgets
            ],
        )


class FundList(BaseModel):
    items: list[FundOut]


class AttachmentIn(BaseModel):
    """Evidence for an income or a payout: a PDF, JPEG, PNG or .xlsx of at most 10 MB, recognised by its
    first bytes, base64-encoded; its `id` goes into an income's or a proposal's `attachment_id`."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    filename: str = Field(min_length=1, max_length=200)
    content: Base64Bytes = Field(description="The file, base64-encoded")


class AttachmentOut(BaseModel):
    id: int
    filename: str
    content_type: str
    size_bytes: int


class FundIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=100)


class BudgetIn(BaseModel):
    """The fund's budget for one year (Beijing calendar year of the proposal)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    amount: str = Yuan
    note: str = Field(default="", max_length=200)


class IncomeIn(BaseModel):
    """An allocation or a donation into the fund, posted at once."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    kind: IncomeKind
    amount: str = Yuan
    source: str = Field(min_length=1, max_length=200, description="Who gave it, e.g. 区财政局 or a donor")
    document_ref: str = Field(min_length=1, max_length=100, description="Document (文号) or receipt number")
    received_on: Day
    note: str = Field(default="", max_length=200)
    attachment_id: Id | None = None


class IncomeOut(BaseModel):
    id: int
    fund_id: int
    kind: IncomeKind
    amount_fen: int
    amount: str
    source: str
    document_ref: str
    received_on: Day
    note: str
    attachment_id: int | None
    created_at: AwareDatetime

    @classmethod
    def of(cls, i) -> IncomeOut:
        return cls(
            id=i.id,
            fund_id=i.fund_id,
            kind=i.kind,
            amount_fen=i.amount,
            amount=_yuan(i.amount),
            source=i.source,
            document_ref=i.document_ref,
            received_on=i.received_on,
            note=i.note or "",
            attachment_id=i.attachment_id,
            created_at=utc(i.created_at),
        )


class IncomeList(BaseModel):
    items: list[IncomeOut] = Field(description="Newest first (the latest 100)")


class PayoutItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    payee_member_id: Id
    amount: str = Yuan
    reason_category: Reason
    reason: str = Field(min_length=1, max_length=200)
    grid_report_id: Id | None = Field(default=None, description="Required when reason_category is grid_report")
    activity_id: Id | None = None
    evidence: str = Field(default="", max_length=1000)
    attachment_id: Id | None = None


class PayoutIn(PayoutItemIn):
    """Propose one payout; it reserves the money at once (409 budget_exceeded when the fund has not enough)."""

    fund_id: Id


class PayoutBatchIn(BaseModel):
    """Propose several payouts, all or none."""

    model_config = ConfigDict(extra="forbid")

    fund_id: Id
    items: list[PayoutItemIn] = Field(min_length=1, max_length=200)


class ApprovalOut(BaseModel):
    seq: int
    approver_member_id: int
    reason: str
    created_at: AwareDatetime


class DisbursementOut(BaseModel):
    channel: Channel
    reference: str
    paid_on: Day
    paid_by: str
    note: str
    recorded_by_user_id: int
    recorded_at: AwareDatetime


class PayoutOut(BaseModel):
    id: int
    fund_id: int
    payee_member_id: int
    amount_fen: int
    amount: str
    reason_category: Reason
    reason: str
    grid_report_id: int | None
    activity_id: int | None
    evidence: str
    attachment_id: int | None
    status: Status
    required_approvals: int = Field(description="2 when the amount is above the district's threshold")
    approvals: int
    proposer_user_id: int
    proposed_at: AwareDatetime
    approved_at: AwareDatetime | None
    closed_at: AwareDatetime | None
    close_reason: str | None = Field(description="Why it ended: rejected, expired, withdrawn or returned")
    approvers: list[ApprovalOut] | None = Field(default=None, description="Only when one payout is read")
    disbursement: DisbursementOut | None = Field(default=None, description="Only when one payout is read")

    @classmethod
    def of(cls, p, approvals=None, disbursement=None) -> PayoutOut:
        return cls(
            id=p.id,
            fund_id=p.fund_id,
            payee_member_id=p.payee_member_id,
            amount_fen=p.amount,
            amount=_yuan(p.amount),
            reason_category=p.reason_category,
            reason=p.reason,
            grid_report_id=p.grid_report_id,
            activity_id=p.activity_id,
            evidence=p.evidence or "",
            attachment_id=p.attachment_id,
            status=p.status,
            required_approvals=p.required_approvals,
            approvals=p.approvals,
            proposer_user_id=p.proposer_user_id,
            proposed_at=utc(p.proposed_at),
            approved_at=utc(p.approved_at) if p.approved_at else None,
            closed_at=utc(p.closed_at) if p.closed_at else None,
            close_reason=p.close_reason,
            approvers=None
            if approvals is None
            else [
                ApprovalOut(
                    seq=a.seq,
                    approver_member_id=a.approver_member_id,
                    reason=a.reason or "",
                    created_at=utc(a.created_at),
                )
                for a in approvals
            ],
            disbursement=None
            if disbursement is None
            else DisbursementOut(
                channel=disbursement.channel,
                reference=disbursement.reference,
                paid_on=disbursement.paid_on,
                paid_by=disbursement.paid_by,
                note=disbursement.note or "",
                recorded_by_user_id=disbursement.recorded_by_user_id,
                recorded_at=utc(disbursement.recorded_at),
            ),
        )


class PayoutList(BaseModel):
    items: list[PayoutOut] = Field(description="Newest first")


class PayoutQuery(BaseModel):
    fund_id: Id | None = None
    status: Status | None = None
    payee_member_id: Id | None = None
    limit: int = Field(default=50, ge=1, le=200)
    offset: int = Field(default=0, ge=0, le=1_000_000)


class PayoutDecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    reason: str = Field(default="", max_length=200, description="Required to reject, withdraw or return")


class BatchApprovalIn(BaseModel):
    """Approve several payouts at once, all or none."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    payout_ids: list[Id] = Field(min_length=1, max_length=2000)
    reason: str = Field(default="", max_length=200)


class DisbursementIn(BaseModel):
    """The payment made outside the system; the money is posted when this is recorded."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    channel: Channel
    reference: str = Field(min_length=1, max_length=100, description="Transaction or receipt number")
    paid_on: Day
    paid_by: str = Field(min_length=1, max_length=64, description="Who paid")
    note: str = Field(default="", max_length=200)


class RulesOut(BaseModel):
    approval_threshold_fen: int = Field(description="Payouts above it need two approvers")
    approval_threshold: str
    approval_days: int = Field(description="A proposal not approved within it is released")
    unclaimed_days: int = Field(description="An approved payout not paid within it is returned")
    version: int = Field(description="0: the defaults, never changed")


class RulesIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    approval_threshold: str = Field(min_length=1, max_length=24, description="Yuan, e.g. 3000")
    approval_days: int = Field(ge=1, le=365)
    unclaimed_days: int = Field(ge=1, le=365)
    reason: str = Field(default="", max_length=200)


class RewardOut(BaseModel):
    payout_id: int
    fund_name: str
    amount_fen: int
    amount: str
    reason_category: Reason
    reason: str
    status: Status
    status_reason: str
    proposed_at: AwareDatetime
    paid_on: Day | None
    channel: Channel | None


class MyRewardsOut(BaseModel):
    paid_fen: int
    waiting_fen: int = Field(description="Proposed or approved, not yet paid")
    items: list[RewardOut] = Field(description="Newest first")
