"""The fund's money model: funds, their ledger accounts, the district's fund rules, the year's budget,
money coming in (allocations and donations, with source, document reference and optional attachment),
and the balance.

Ledger accounts of fund F (unit CNY, integer fen; tenant = the district):

    fund:F:in:allocation, fund:F:in:donation   debit-normal sources: their balance is what came in
    fund:F:available                            credit-normal, no-overdraft: what is left to promise
    fund:F:paid:<member id>                     credit-normal: what was paid to each payee

An income posts `in:<kind> -> available`. A proposal posts a PENDING journal `available -> paid:<payee>`
(it reserves: the ledger counts pending value leaving a no-overdraft account against it, so proposals
can never together exceed the fund — refused in Python and by the account row's CHECK). Paying posts
the pending journal; rejection, expiry, withdrawal and return void it. So:

    allocated (all income)  = posted balance of the in:* accounts
    reserved                = pending_out of available
    paid                    = allocated - posted balance of available
    remaining               = available's available = allocated - reserved - paid
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.audit.services import record
from app.db import utcnow
from app.errors import NotFound
from app.places.models import District
from app.times import to_beijing
from ledger import Ledger, Transfer

from .errors import FundInvalid
from .labels import INCOME_KINDS, KIND_INCOME, RETURNED
from .models import Fund, FundAttachment, FundBudget, FundIncome, FundPayout, FundSetting
from .money import MAX_FEN, format_yuan

CNY = "CNY"
DEFAULT_THRESHOLD = 300_000  # fen: ¥3,000.00
DEFAULT_APPROVAL_DAYS = 14
DEFAULT_UNCLAIMED_DAYS = 30


def record_many(
    session: Session,
    action: str,
    tenant_id: int,
    actor_user_id: int | None,
    target_type: str,
    rows: list[tuple[int, dict]],
) -> None:
    """Append one audit event per (target id, detail) in one statement (a batch of 1,000 payouts would
    otherwise flush 1,000 times)."""
    from sqlalchemy import insert

    from app.audit.models import AuditEvent

    if rows:
        at = utcnow()
        session.execute(
            insert(AuditEvent),
            [
                {
                    "tenant_id": tenant_id,
                    "at": at,
                    "actor_user_id": actor_user_id,
                    "action": action,
                    "target_type": target_type,
                    "target_id": target_id,
                    "ip": None,
                    "detail": detail,
                }
                for target_id, detail in rows
            ],
        )


# --- ledger account codes -------------------------------------------------------------------------------


def available_code(fund_id: int) -> str:
    """The fund's account of money not yet promised (credit-normal, no overdraft)."""
    return f"fund:{fund_id}:available"


def income_code(fund_id: int, kind: str) -> str:
    """Where income of `kind` (allocation, donation) comes from (debit-normal)."""
    return f"fund:{fund_id}:in:{kind}"


def payee_code(fund_id: int, member_id: int) -> str:
    """What fund `fund_id` paid (or reserved for) one member (credit-normal)."""
    return f"fund:{fund_id}:paid:{member_id}"


def open_payee_accounts(session: Session, tenant_id: int, fund_id: int, member_ids) -> None:
    """Open each payee's account (idempotent) in the caller's transaction."""
    codes = sorted({payee_code(fund_id, m) for m in member_ids})
    if codes:
        Ledger(session, tenant=tenant_id).open_accounts(codes, unit=CNY, normal="credit", no_overdraft=False)


# --- funds ----------------------------------------------------------------------------------------------


def open_fund(session: Session, tenant_id: int, name: str, *, actor_user_id: int | None) -> Fund:
    """Open a fund of the district with its ledger accounts (audited). Raises FundInvalid for an empty
    or duplicate name."""
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise FundInvalid(str(_l("Give the fund a name of at most 100 characters.")), field="name")
    if session.scalar(select(Fund.id).where(Fund.tenant_id == tenant_id, Fund.name == name)) is not None:
        raise FundInvalid(str(_l("The district already has a fund with this name.")), field="name")
    fund = Fund(tenant_id=tenant_id, name=name, created_by_user_id=actor_user_id)
    session.add(fund)
    session.flush()
    book = Ledger(session, tenant=tenant_id)
    book.open_account(available_code(fund.id), unit=CNY, normal="credit", no_overdraft=True)
    book.open_accounts([income_code(fund.id, k) for k in INCOME_KINDS], unit=CNY, normal="debit", no_overdraft=False)
    record(
        session,
        "fund.created",
        tenant_id=tenant_id,
        actor_user_id=actor_user_id,
        target_type="fund",
        target_id=fund.id,
        detail={"name": name},
    )
    return fund


def funds(session: Session, tenant_id: int) -> list[Fund]:
    """The district's funds, oldest first."""
    return list(session.scalars(select(Fund).where(Fund.tenant_id == tenant_id).order_by(Fund.id)))


def get_fund(session: Session, tenant_id: int, fund_id: int) -> Fund:
    """One fund of the district; NotFound for another district's or an unknown id."""
    fund = session.scalar(select(Fund).where(Fund.id == fund_id, Fund.tenant_id == tenant_id))
    if fund is None:
        raise NotFound(str(_l("No such fund.")))
    return fund


# --- the district's rules --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rules:
    """The fund rules in force: threshold in fen (above it: two approvers), days a proposal may wait
    for approval, days an approved payout may wait to be paid."""

    approval_threshold: int = DEFAULT_THRESHOLD
    approval_days: int = DEFAULT_APPROVAL_DAYS
    unclaimed_days: int = DEFAULT_UNCLAIMED_DAYS
    version: int = 0


def rules(session: Session, tenant_id: int) -> Rules:
    """The district's current fund rules (the defaults — ¥3,000.00, 14 days, 30 days — until changed)."""
    row = session.scalars(
        select(FundSetting).where(FundSetting.tenant_id == tenant_id).order_by(FundSetting.version.desc()).limit(1)
    ).first()
    if row is None:
        return Rules()
    return Rules(row.approval_threshold, row.approval_days, row.unclaimed_days, row.version)


def change_rules(
    session: Session,
    tenant_id: int,
    *,
    approval_threshold: int,
    approval_days: int,
    unclaimed_days: int,
    reason: str = "",
    actor_user_id: int | None,
) -> FundSetting:
    """A new version of the district's fund rules (audited, before and after). Applies to payouts
    proposed from now on (each payout keeps the threshold it was proposed under); the periods apply to
    every open payout at the next run of the job. Raises FundInvalid for values out of range."""
    if not 0 <= approval_threshold <= MAX_FEN:
        raise FundInvalid(str(_l("The threshold must be from 0 to 100,000,000 yuan.")), field="approval_threshold")
    if not 1 <= approval_days <= 365:
        raise FundInvalid(str(_l("The approval period must be from 1 to 365 days.")), field="approval_days")
    if not 1 <= unclaimed_days <= 365:
        raise FundInvalid(str(_l("The unclaimed period must be from 1 to 365 days.")), field="unclaimed_days")
    session.execute(select(District.id).where(District.id == tenant_id).with_for_update())
    before = rules(session, tenant_id)
    row = FundSetting(
        tenant_id=tenant_id,
        version=before.version + 1,
        approval_threshold=approval_threshold,
        approval_days=approval_days,
        unclaimed_days=unclaimed_days,
        created_by_user_id=actor_user_id,
        reason=(reason or "").strip()[:200],
    )
    session.add(row)
    session.flush()
    record(
        session,
        "fund.settings",
        tenant_id=tenant_id,
        actor_user_id=actor_user_id,
        target_type="fund_setting",
        target_id=row.id,
        detail={
            "before": [before.approval_threshold, before.approval_days, before.unclaimed_days],
            "after": [approval_threshold, approval_days, unclaimed_days],
            "reason": row.reason,
        },
    )
    return row


# --- budgets ---------------------------------------------------------------------------------------------


def budget_year(when: datetime) -> int:
    """The budget year of a moment (naive UTC): the calendar year in Beijing."""
    return to_beijing(when).year


def set_budget(
    session: Session,
    tenant_id: int,
    fund_id: int,
    year: int,
    amount: int,
    *,
    note: str = "",
    actor_user_id: int | None,
) -> FundBudget:
    """Set (or change) the fund's budget for `year` to `amount` fen (audited, before and after). Raises
    FundInvalid for a year outside 2000–2200, a negative amount, or an amount below what that year's
    payouts already hold (the CHECK on the row refuses it too)."""
    get_fund(session, tenant_id, fund_id)
    if not 2000 <= year <= 2200:
        raise FundInvalid(str(_l("Choose a year from 2000 to 2200.")), field="year")
    if not 0 <= amount <= MAX_FEN:
        raise FundInvalid(str(_l("The budget must be from 0 to 100,000,000 yuan.")), field="amount")
    row = session.scalar(
        select(FundBudget).where(FundBudget.fund_id == fund_id, FundBudget.year == year).with_for_update()
    )
    before = None if row is None else row.amount
    if row is None:
        row = FundBudget(tenant_id=tenant_id, fund_id=fund_id, year=year, amount=amount, committed=0)
        session.add(row)
    elif amount < row.committed:
        raise FundInvalid(
            str(
                _l(
                    "Payouts of %(year)s already hold %(held)s: the budget cannot be less than that.",
                    year=year,
                    held=format_yuan(row.committed),
                )
            ),
            field="amount",
        )
    row.amount, row.note = amount, (note or "").strip()[:200]
    row.updated_by_user_id, row.updated_at = actor_user_id, utcnow()
    session.flush()
    record(
        session,
        "fund.budget",
        tenant_id=tenant_id,
        actor_user_id=actor_user_id,
        target_type="fund",
        target_id=fund_id,
        detail={"year": year, "before": before, "after": amount, "note": row.note},
    )
    return row


def budgets(session: Session, tenant_id: int, fund_id: int) -> list[FundBudget]:
    """The fund's budgets, newest year first."""
    return list(
        session.scalars(
            select(FundBudget)
            .where(FundBudget.tenant_id == tenant_id, FundBudget.fund_id == fund_id)
            .order_by(FundBudget.year.desc())
        )
    )


def commit_to_budget(session: Session, fund_id: int, year: int, amount: int) -> None:
    """Count `amount` fen against the year's budget, under the budget row's lock; no budget row for the
    year means no yearly limit. Raises BudgetExceeded when the year has not enough left."""
    from .errors import BudgetExceeded

    row = session.scalar(
        select(FundBudget).where(FundBudget.fund_id == fund_id, FundBudget.year == year).with_for_update()
    )
    if row is None:
        return
    if row.committed + amount > row.amount:
        raise BudgetExceeded(
            str(
                _l(
                    "The %(year)s budget has %(left)s left; this payout of %(amount)s does not fit.",
                    year=year,
                    left=format_yuan(row.amount - row.committed),
                    amount=format_yuan(amount),
                )
            )
        )
    row.committed += amount
    session.flush()


def release_from_budget(session: Session, fund_id: int, year: int, amount: int) -> None:
    """Give `amount` fen back to the year's budget (a released reservation), under the row's lock."""
    row = session.scalar(
        select(FundBudget).where(FundBudget.fund_id == fund_id, FundBudget.year == year).with_for_update()
    )
    if row is not None:
        row.committed = max(0, row.committed - amount)
        session.flush()


# --- income ----------------------------------------------------------------------------------------------


def record_income(
    session: Session,
    tenant_id: int,
    fund_id: int,
    *,
    kind: str,
    amount: int,
    source: str,
    document_ref: str,
    received_on: date,
    note: str = "",
    attachment_id: int | None = None,
    actor_user_id: int | None,
    key: str | None = None,
) -> FundIncome:
    """Record an allocation or a donation of `amount` fen into the fund and post it at once (journal
    `fund:income:<id>`, source -> available). `source` (who gave it) and `document_ref` (文号 or receipt
    number) are required. Raises FundInvalid naming the field to fix."""
    get_fund(session, tenant_id, fund_id)
    source, document_ref = (source or "").strip(), (document_ref or "").strip()
    problems = []
    if kind not in INCOME_KINDS:
        problems.append(("kind", _l("Choose allocation or donation.")))
    if not isinstance(amount, int) or isinstance(amount, bool) or not 1 <= amount <= MAX_FEN:
        problems.append(("amount", _l("The amount must be more than zero and at most 100,000,000 yuan.")))
    if not source:
        problems.append(("source", _l("Say where the money comes from.")))
    if not document_ref:
        problems.append(("document_ref", _l("Give the document or receipt number.")))
    if received_on is None or received_on > to_beijing(utcnow()).date():
        problems.append(("received_on", _l("The date received cannot be in the future.")))
    if (
        attachment_id is not None
        and session.scalar(
            select(FundAttachment.id).where(FundAttachment.id == attachment_id, FundAttachment.tenant_id == tenant_id)
        )
        is None
    ):
        problems.append(("attachment_id", _l("No such attachment.")))
    if problems:
        f, m = problems[0]
        raise FundInvalid(
            str(m), field=f, details=[{"field": x, "code": "fund_invalid", "message": str(y)} for x, y in problems]
        )
    income = FundIncome(
        tenant_id=tenant_id,
        fund_id=fund_id,
        kind=kind,
        amount=amount,
        source=source[:200],
        document_ref=document_ref[:100],
        received_on=received_on,
        note=(note or "").strip()[:200],
        attachment_id=attachment_id,
        recorded_by_user_id=actor_user_id,
    )
    session.add(income)
    session.flush()
    journal = Ledger(session, tenant=tenant_id).post(
        [Transfer(income_code(fund_id, kind), available_code(fund_id), amount)],
        kind=KIND_INCOME,
        key=f"fund:income:{income.id}",
        memo=f"{source[:80]} {document_ref[:60]}",
        meta={"fund_id": fund_id, "income_id": income.id, "kind": kind},
    )
    income.journal_id = journal.id
    session.flush()
    record(
        session,
        "fund.income",
        tenant_id=tenant_id,
        actor_user_id=actor_user_id,
        target_type="fund_income",
        target_id=income.id,
        detail={
            "fund_id": fund_id,
            "kind": kind,
            "amount": amount,
            "source": source[:200],
            "document_ref": document_ref[:100],
        },
    )
    return income


def incomes(session: Session, tenant_id: int, fund_id: int, limit: int = 50, offset: int = 0) -> list[FundIncome]:
    """The fund's income records, newest first."""
    return list(
        session.scalars(
            select(FundIncome)
            .where(FundIncome.tenant_id == tenant_id, FundIncome.fund_id == fund_id)
            .order_by(FundIncome.received_on.desc(), FundIncome.id.desc())
            .limit(limit)
            .offset(offset)
        )
    )


# --- the balance -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FundBalance:
    """A fund's money in fen: allocated (all income: allocations + donations) − reserved − paid =
    remaining. `returned` is what approved-but-unclaimed payouts gave back (informational: a returned
    payout's reservation was released, so it is in `remaining` again)."""

    allocations: int
    donations: int
    reserved: int
    paid: int
    remaining: int
    returned: int

    @property
    def allocated(self) -> int:
        return self.allocations + self.donations


def balance(session: Session, tenant_id: int, fund_id: int) -> FundBalance:
    """The fund's balance read from its ledger accounts (constant time) and the returned total."""
    book = Ledger(session, tenant=tenant_id)
    allocations = book.balance(income_code(fund_id, "allocation")).posted
    donations = book.balance(income_code(fund_id, "donation")).posted
    available = book.balance(available_code(fund_id))
    returned = (
        session.scalar(
            select(func.coalesce(func.sum(FundPayout.amount), 0)).where(
                FundPayout.tenant_id == tenant_id, FundPayout.fund_id == fund_id, FundPayout.status == RETURNED
            )
        )
        or 0
    )
    return FundBalance(
        allocations=allocations,
        donations=donations,
        reserved=available.pending_out,
        paid=allocations + donations - available.posted,
        remaining=available.available,
        returned=int(returned),
    )
