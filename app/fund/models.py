"""The reward fund's tables (平安志愿者奖励基金). Money itself lives in the ledger (unit CNY, integer fen):
these rows say why it moved, who asked, who approved and who paid.

The maker-checker rules are refused by the database as well as by the services: an approval row
carries copies of its payout's proposer, payee and required number of approvals, tied to the payout by
a composite foreign key (so the copies cannot lie), and CHECKs that the approver is neither; one
approval per approver per payout and at most `required_approvals` of them (unique keys); one
disbursement per payout."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, Id, utcnow

from .labels import CHANNELS, INCOME_KINDS, REASONS, STATUSES

# SQLite compares BIGINT and INTEGER alike; PostgreSQL wants one type on both sides of a composite FK.
Fen = BigInteger().with_variant(Integer(), "sqlite")


class Fund(Base):
    """A fund of a district (usually one: 平安志愿者奖励基金). Its money is in the ledger accounts
    `fund:<id>:available`, `fund:<id>:in:<kind>` and `fund:<id>:paid:<member id>` (app/fund/budget.py)."""

    __tablename__ = "funds"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("districts.id"))
    name: Mapped[str] = mapped_column(String(100))
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    view_action = "fund.view"
    scope_path = None  # district-wide


class FundSetting(Base):
    """A district's fund rules, versioned (a change is a new row): payouts above `approval_threshold`
    fen need two approvers; a proposal not approved within `approval_days` is released; an approved
    payout not paid within `unclaimed_days` is returned to the fund."""

    __tablename__ = "fund_settings"
    __table_args__ = (
        UniqueConstraint("tenant_id", "version"),
        CheckConstraint("approval_threshold >= 0", name="approval_threshold"),
        CheckConstraint("approval_days >= 1 AND approval_days <= 365", name="approval_days"),
        CheckConstraint("unclaimed_days >= 1 AND unclaimed_days <= 365", name="unclaimed_days"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("districts.id"))
    version: Mapped[int] = mapped_column(Integer)
    approval_threshold: Mapped[int] = mapped_column(Fen)  # fen
    approval_days: Mapped[int] = mapped_column(Integer)
    unclaimed_days: Mapped[int] = mapped_column(Integer)
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    reason: Mapped[str] = mapped_column(String(200), default="")


class FundBudget(Base):
    """A fund's budget for one calendar year (Beijing time): what may be committed to payouts proposed
    in that year. `committed` (fen) counts open and paid payouts of the year; the CHECK keeps it within
    `amount`, so the database refuses an over-committed year too. A year without a budget row has no
    yearly limit (the fund's balance still is one)."""

    __tablename__ = "fund_budgets"
    __table_args__ = (
        UniqueConstraint("fund_id", "year"),
        CheckConstraint("amount >= 0", name="amount"),
        CheckConstraint("committed >= 0 AND committed <= amount", name="committed_within_amount"),
        CheckConstraint("year >= 2000 AND year <= 2200", name="year"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("districts.id"))
    fund_id: Mapped[int] = mapped_column(ForeignKey("funds.id"))
    year: Mapped[int] = mapped_column(Integer)
    amount: Mapped[int] = mapped_column(Fen)  # fen
    committed: Mapped[int] = mapped_column(Fen, default=0)  # fen
    note: Mapped[str] = mapped_column(String(200), default="")
    updated_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class FundAttachment(Base):
    """A file kept as evidence (a document for an allocation, a photo or letter for a payout). The bytes
    are stored under the instance folder by their SHA-256 (app/fund/attachments.py), so the row's hash
    proves the file unchanged."""

    __tablename__ = "fund_attachments"
    __table_args__ = (
        CheckConstraint("size_bytes > 0", name="size"),
        Index("ix_fund_attachments_tenant_sha256", "tenant_id", "sha256"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("districts.id"))
    sha256: Mapped[str] = mapped_column(String(64))
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int] = mapped_column(Integer)
    uploaded_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class FundIncome(Base):
    """Money into a fund: an allocation (from the district's budget) or a donation, with its source and
    document reference; posted at once as journal `fund:income:<id>` (source -> available)."""

    __tablename__ = "fund_incomes"
    __table_args__ = (
        CheckConstraint(f"kind IN {INCOME_KINDS}", name="kind"),
        CheckConstraint("amount > 0", name="amount"),
        Index("ix_fund_incomes_fund_received", "fund_id", "received_on"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("districts.id"))
    fund_id: Mapped[int] = mapped_column(ForeignKey("funds.id"))
    kind: Mapped[str] = mapped_column(String(16))
    amount: Mapped[int] = mapped_column(Fen)  # fen
    source: Mapped[str] = mapped_column(String(200))  # who gave it: 区财政局, a donor's name
    document_ref: Mapped[str] = mapped_column(String(100))  # 文号, receipt number
    received_on: Mapped[date] = mapped_column(Date)
    note: Mapped[str] = mapped_column(String(200), default="")
    attachment_id: Mapped[int | None] = mapped_column(ForeignKey("fund_attachments.id"))
    journal_id: Mapped[int | None] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"))
    recorded_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    view_action = "fund.view"
    scope_path = None


class FundPayout(Base):
    """A proposed cash reward from a fund to a member. While proposed or approved it holds a pending
    ledger journal (`fund:payout:<id>`, available -> payee) that reserves the money; paying posts it,
    every other end voids it. `approvals` counts the approval rows (see FundApproval)."""

    __tablename__ = "fund_payouts"
    __table_args__ = (
        # The target of FundApproval's composite foreign key: the copies an approval carries.
        UniqueConstraint(
            "id", "proposer_member_id", "payee_member_id", "required_approvals", name="uq_fund_payouts_approval_copy"
        ),
        CheckConstraint(f"status IN {STATUSES}", name="status"),
        CheckConstraint(f"reason_category IN {REASONS}", name="reason_category"),
        CheckConstraint("amount > 0", name="amount"),
        CheckConstraint("required_approvals IN (1, 2)", name="required_approvals"),
        CheckConstraint("approvals >= 0 AND approvals <= required_approvals", name="approvals"),
        CheckConstraint("proposer_member_id <> payee_member_id", name="payee_not_proposer"),
        CheckConstraint(
            "status IN ('proposed', 'withdrawn', 'rejected', 'expired') OR approvals = required_approvals",
            name="approved_by_enough",
        ),
        CheckConstraint(
            "rejected_by_member_id IS NULL OR rejected_by_member_id <> payee_member_id", name="payee_not_rejecter"
        ),
        Index("ix_fund_payouts_tenant_status", "tenant_id", "status"),
        Index("ix_fund_payouts_tenant_payee", "tenant_id", "payee_member_id"),
        Index("ix_fund_payouts_fund_proposed", "fund_id", "proposed_at"),
        Index("ix_fund_payouts_grid_report", "tenant_id", "grid_report_id"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("districts.id"))
    fund_id: Mapped[int] = mapped_column(ForeignKey("funds.id"))
    payee_member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    # Where the payee lived when it was proposed (their grid and its path): reports by street and
    # community, and the permission check, read these.
    payee_grid_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"))
    payee_path: Mapped[str] = mapped_column(String(400), default="")
    amount: Mapped[int] = mapped_column(Fen)  # fen
    reason_category: Mapped[str] = mapped_column(String(24))
    reason: Mapped[str] = mapped_column(String(200))
    # Evidence: a verified grid report (app/gridreports; the foreign key is added when that area is
    # merged), an activity, text, an attachment.
    grid_report_id: Mapped[int | None] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), ForeignKey("grid_reports.id")
    )
    activity_id: Mapped[int | None] = mapped_column(ForeignKey("activities.id"))
    evidence: Mapped[str] = mapped_column(String(1000), default="")
    attachment_id: Mapped[int | None] = mapped_column(ForeignKey("fund_attachments.id"))
    budget_year: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    threshold: Mapped[int] = mapped_column(Fen)  # the district's threshold when proposed (fen)
    required_approvals: Mapped[int] = mapped_column(Integer)
    approvals: Mapped[int] = mapped_column(Integer, default=0)
    proposer_member_id: Mapped[int] = mapped_column(ForeignKey("users.member_id"))
    proposer_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    proposed_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    batch_ref: Mapped[str | None] = mapped_column(String(64))  # the .xlsx list it came from
    reserve_journal_id: Mapped[int | None] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"))
    approved_at: Mapped[datetime | None] = mapped_column(DateTime)
    rejected_by_member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    # Why it ended (rejected, expired, withdrawn, returned), when, and the journal that released or
    # posted the reservation.
    closed_at: Mapped[datetime | None] = mapped_column(DateTime)
    close_reason: Mapped[str | None] = mapped_column(String(200))
    closed_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    settle_journal_id: Mapped[int | None] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"))

    view_action = "fund.view"

    @property
    def scope_path(self) -> str | None:
        return self.payee_path or None

    @property
    def owner_member_id(self) -> int:
        return self.payee_member_id


class FundApproval(Base):
    """One approval of a payout by one approver. The copies (proposer, payee, required approvals) are
    tied to the payout by a composite foreign key; the CHECKs and unique keys make the database refuse
    an approval by the proposer or the payee, a second approval by the same person, and more approvals
    than the payout needs."""

    __tablename__ = "fund_approvals"
    __table_args__ = (
        ForeignKeyConstraint(
            ["payout_id", "proposer_member_id", "payee_member_id", "required_approvals"],
            [
                "fund_payouts.id",
                "fund_payouts.proposer_member_id",
                "fund_payouts.payee_member_id",
                "fund_payouts.required_approvals",
            ],
            name="fk_fund_approvals_payout_copy",
        ),
        UniqueConstraint("payout_id", "approver_member_id"),
        UniqueConstraint("payout_id", "seq"),
        CheckConstraint("approver_member_id <> proposer_member_id", name="approver_not_proposer"),
        CheckConstraint("approver_member_id <> payee_member_id", name="approver_not_payee"),
        CheckConstraint("seq >= 1 AND seq <= required_approvals", name="seq"),
        Index("ix_fund_approvals_approver", "tenant_id", "approver_member_id"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("districts.id"))
    payout_id: Mapped[int] = mapped_column(Id)
    proposer_member_id: Mapped[int] = mapped_column(Id)
    payee_member_id: Mapped[int] = mapped_column(Id)
    required_approvals: Mapped[int] = mapped_column(Integer)
    seq: Mapped[int] = mapped_column(Integer)  # 1st or 2nd approval
    approver_member_id: Mapped[int] = mapped_column(ForeignKey("users.member_id"))
    approver_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class FundDisbursement(Base):
    """The record that an approved payout was paid outside the system: channel, reference (bank or
    WeChat transaction number, cash receipt number), date, who paid, who recorded it. One per payout
    (unique): two clerks recording one payment pay it once. Its journal posts the reservation."""

    __tablename__ = "fund_disbursements"
    __table_args__ = (
        UniqueConstraint("payout_id"),
        CheckConstraint(f"channel IN {CHANNELS}", name="channel"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("districts.id"))
    payout_id: Mapped[int] = mapped_column(ForeignKey("fund_payouts.id"))
    channel: Mapped[str] = mapped_column(String(16))
    reference: Mapped[str] = mapped_column(String(100))
    paid_on: Mapped[date] = mapped_column(Date)
    paid_by: Mapped[str] = mapped_column(String(64))  # the person who handed over or sent the money
    note: Mapped[str] = mapped_column(String(200), default="")
    recorded_by_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    journal_id: Mapped[int | None] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"))
