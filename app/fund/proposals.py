"""Proposing payouts: a fund manager proposes a reward to a member (payee, amount in fen, reason
category, reason, evidence: a verified grid report, an activity, text, an attachment). A proposal
RESERVES the money at once: a pending ledger journal `fund:payout:<id>` (available -> the payee's
account), so proposals can never together exceed the fund (the no-overdraft account refuses; the error
is `budget_exceeded`), and counts against the year's budget when one is set.

A list of proposals (the monthly awards list, .xlsx) is read with the shared reader
(app/spreadsheets.py): `check_list` is the dry run, `propose_list` proposes all rows or none.
"""

from __future__ import annotations

import io
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from app.activities.models import Activity
from app.auth.models import User
from app.db import utcnow
from app.errors import NotFound
from app.gridreports.labels import VERIFIED
from app.gridreports.models import GridReport
from app.people.labels import ACTIVE
from app.people.models import Member
from app.spreadsheets import Limits, append_text_row, blank, cell_text, read_table
from ledger import JournalSpec, Ledger, Transfer
from ledger.errors import InsufficientBalance

from .budget import (
    available_code,
    budget_year,
    commit_to_budget,
    get_fund,
    open_payee_accounts,
    payee_code,
    record_many,
    rules,
)
from .errors import BudgetExceeded, FundInvalid, ImportRefused, PayeeCannotPropose
from .labels import KIND_PAYOUT, PROPOSED, REASON_LABELS, REASONS
from .models import FundAttachment, FundPayout
from .money import MAX_FEN, format_yuan, parse_yuan

MAX_BATCH = 2_000


def actor_member_id(session: Session, tenant_id: int, user_id: int) -> int:
    """The member behind a signed-in user of the district (approvals and proposals are tied to members,
    so the same person cannot act twice under two roles). Raises NotFound for an unknown user."""
    member_id = session.scalar(select(User.member_id).where(User.id == user_id, User.tenant_id == tenant_id))
    if member_id is None:
        raise NotFound(str(_l("No such user.")))
    return member_id


@dataclass(frozen=True)
class PayoutItem:
    """One payout to propose: `amount` in fen; the evidence fields are optional."""

    payee_member_id: int
    amount: int
    reason_category: str
    reason: str
    grid_report_id: int | None = None
    activity_id: int | None = None
    evidence: str = ""
    attachment_id: int | None = None


def _problems(
    session: Session, tenant_id: int, items: list[PayoutItem], proposer_member_id: int
) -> tuple[list[dict], dict[int, Member]]:
    out: list[dict] = []

    def bad(n: int, f: str, message, code: str = "fund_invalid") -> None:
        out.append({"item": n, "field": f, "code": code, "message": str(message)})

    payees = {
        m.id: m
        for m in session.scalars(
            select(Member)
            .options(joinedload(Member.grid))
            .where(Member.tenant_id == tenant_id, Member.id.in_({i.payee_member_id for i in items}))
        )
    }
    activities = set(
        session.scalars(
            select(Activity.id).where(
                Activity.tenant_id == tenant_id, Activity.id.in_({i.activity_id for i in items if i.activity_id})
            )
        )
    )
    verified_reports = set(
        session.scalars(
            select(GridReport.id).where(
                GridReport.tenant_id == tenant_id,
                GridReport.status == VERIFIED,
                GridReport.id.in_({i.grid_report_id for i in items if i.grid_report_id}),
            )
        )
    )
    attachments = set(
        session.scalars(
            select(FundAttachment.id).where(
                FundAttachment.tenant_id == tenant_id,
                FundAttachment.id.in_({i.attachment_id for i in items if i.attachment_id}),
            )
        )
    )
    for n, i in enumerate(items, 1):
        payee = payees.get(i.payee_member_id)
        if payee is None:
            bad(n, "payee_member_id", _l("The payee is not a member of this district."))
        elif payee.status != ACTIVE:
            bad(n, "payee_member_id", _l("The payee is not an active member."))
        elif payee.id == proposer_member_id:
            bad(n, "payee_member_id", _l("You cannot propose a reward to yourself."), "payee_cannot_propose")
        if isinstance(i.amount, bool) or not isinstance(i.amount, int) or not 1 <= i.amount <= MAX_FEN:
            bad(n, "amount", _l("The amount must be more than zero and at most 100,000,000 yuan."))
        if i.reason_category not in REASONS:
            bad(n, "reason_category", _l("Choose one of the listed reasons."))
        if not (i.reason or "").strip():
            bad(n, "reason", _l("Say why the reward is given."))
        if i.reason_category == "grid_report" and not i.grid_report_id:
            bad(n, "grid_report_id", _l("Name the verified grid report this reward is for."))
        elif i.grid_report_id and i.grid_report_id not in verified_reports:
            bad(n, "grid_report_id", _l("That grid report is not a verified report of this district."))
        if i.activity_id and i.activity_id not in activities:
            bad(n, "activity_id", _l("No such activity in this district."))
        if i.attachment_id and i.attachment_id not in attachments:
            bad(n, "attachment_id", _l("No such attachment."))
        if len(i.evidence or "") > 1000:
            bad(n, "evidence", _l("The evidence text is longer than 1,000 characters."))
    return out, payees


def propose_payouts(
    session: Session,
    tenant_id: int,
    fund_id: int,
    items: list[PayoutItem],
    *,
    actor_user_id: int,
    batch_ref: str | None = None,
    now: datetime | None = None,
) -> list[FundPayout]:
    """Propose one payout or many, all or none, and reserve their money (one pending journal each,
    posted together). Each needs two approvers when its amount is above the district's threshold, else
    one. Raises FundInvalid (details per item: `item` is 1-based), PayeeCannotPropose (a reward to
    yourself), BudgetExceeded (the fund's remaining money or the year's budget does not cover them)."""
    now = now or utcnow()
    fund = get_fund(session, tenant_id, fund_id)
    items = list(items)
    if not items:
        raise FundInvalid(str(_l("Propose at least one payout.")), field="items")
    if len(items) > MAX_BATCH:
        raise FundInvalid(str(_l("At most 2,000 payouts at once; split the list.")), field="items")
    proposer = actor_member_id(session, tenant_id, actor_user_id)
    problems, payees = _problems(session, tenant_id, items, proposer)
    if problems:
        first = problems[0]
        cls = PayeeCannotPropose if first["code"] == "payee_cannot_propose" else FundInvalid
        message = (
            first["message"]
            if len(items) == 1
            else _("Item %(n)s: %(message)s", n=first["item"], message=first["message"])
        )
        raise cls(message, field=first["field"], details=problems)
    limit = rules(session, tenant_id).approval_threshold
    year = budget_year(now)
    # All or nothing even for a caller that catches the error and goes on: a savepoint around the writes
    # (a lost race for the fund's money is only found by the ledger, after the payout rows are in).
    with session.begin_nested():
        # Lock order everywhere: payout rows, then the budget row, then the ledger's accounts.
        by_year: dict[int, int] = defaultdict(int)
        for i in items:
            by_year[year] += i.amount
        for y, total in by_year.items():
            commit_to_budget(session, fund.id, y, total)
        payouts = []
        for i in items:
            payee = payees[i.payee_member_id]
            payouts.append(
                FundPayout(
                    tenant_id=tenant_id,
                    fund_id=fund.id,
                    payee_member_id=payee.id,
                    payee_grid_id=payee.grid_id,
                    payee_path=payee.grid.path if payee.grid is not None else "",
                    amount=i.amount,
                    reason_category=i.reason_category,
                    reason=i.reason.strip()[:200],
                    grid_report_id=i.grid_report_id,
                    activity_id=i.activity_id,
                    evidence=(i.evidence or "").strip()[:1000],
                    attachment_id=i.attachment_id,
                    budget_year=year,
                    status=PROPOSED,
                    threshold=limit,
                    required_approvals=2 if i.amount > limit else 1,
                    approvals=0,
                    proposer_member_id=proposer,
                    proposer_user_id=actor_user_id,
                    proposed_at=now,
                    batch_ref=batch_ref,
                )
            )
        session.add_all(payouts)
        session.flush()
        open_payee_accounts(session, tenant_id, fund.id, [p.payee_member_id for p in payouts])
        book = Ledger(session, tenant=tenant_id)
        specs = [
            JournalSpec(
                [Transfer(available_code(fund.id), payee_code(fund.id, p.payee_member_id), p.amount)],
                kind=KIND_PAYOUT,
                key=f"fund:payout:{p.id}",
                pending=True,
                memo=p.reason[:200],
                meta={"fund_id": fund.id, "payout_id": p.id, "reason_category": p.reason_category},
            )
            for p in payouts
        ]
        try:
            journals = book.post_many(specs)
        except InsufficientBalance:
            left = book.balance(available_code(fund.id)).available
            raise BudgetExceeded(
                _(
                    "The fund has %(left)s left to promise; %(asked)s was asked. Nothing was proposed.",
                    left=format_yuan(left),
                    asked=format_yuan(sum(i.amount for i in items)),
                )
            ) from None
        for p, j in zip(payouts, journals, strict=True):
            p.reserve_journal_id = j.id
        session.flush()
    record_many(
        session,
        "fund.proposed",
        tenant_id,
        actor_user_id,
        "fund_payout",
        [
            (
                p.id,
                {
                    "fund_id": fund.id,
                    "payee_member_id": p.payee_member_id,
                    "amount": p.amount,
                    "reason_category": p.reason_category,
                    "required_approvals": p.required_approvals,
                    "batch_ref": batch_ref,
                },
            )
            for p in payouts
        ],
    )
    return payouts


def propose_payout(
    session: Session, tenant_id: int, fund_id: int, item: PayoutItem, *, actor_user_id: int, now: datetime | None = None
) -> FundPayout:
    """Propose one payout (see `propose_payouts` for the rules and errors)."""
    return propose_payouts(session, tenant_id, fund_id, [item], actor_user_id=actor_user_id, now=now)[0]


# --- reading ---------------------------------------------------------------------------------------------


def get_payout(session: Session, tenant_id: int, payout_id: int, *, lock: bool = False) -> FundPayout:
    """One payout of the district (locked FOR UPDATE when `lock`); NotFound otherwise."""
    q = select(FundPayout).where(FundPayout.id == payout_id, FundPayout.tenant_id == tenant_id)
    payout = session.scalar(q.with_for_update() if lock else q)
    if payout is None:
        raise NotFound(str(_l("No such payout.")))
    return payout


def payouts(
    session: Session,
    tenant_id: int,
    *,
    fund_id: int | None = None,
    status: str | None = None,
    payee_member_id: int | None = None,
    where=None,
    limit: int = 50,
    offset: int = 0,
) -> list[FundPayout]:
    """The district's payouts, newest first, filtered; `where` is an extra SQL condition (a permission
    scope over FundPayout.payee_path)."""
    q = select(FundPayout).where(FundPayout.tenant_id == tenant_id)
    if fund_id is not None:
        q = q.where(FundPayout.fund_id == fund_id)
    if status:
        q = q.where(FundPayout.status == status)
    if payee_member_id is not None:
        q = q.where(FundPayout.payee_member_id == payee_member_id)
    if where is not None:
        q = q.where(where)
    return list(session.scalars(q.order_by(FundPayout.id.desc()).limit(limit).offset(offset)))


# --- the monthly awards list (.xlsx) ---------------------------------------------------------------------

COLUMNS = {
    "name": ("姓名", "name"),
    "mobile": ("手机号", "手机", "mobile"),
    "amount": ("金额", "金额(元)", "金额（元）", "奖励金额", "amount"),
    "category": ("事由类别", "类别", "category"),
    "reason": ("事由", "奖励事由", "reason"),
    "grid_report": ("网格事件编号", "事件编号", "grid report"),
}
REQUIRED = ("name", "mobile", "amount", "category", "reason")
HEADERS = ["姓名", "手机号", "金额(元)", "事由类别", "事由", "网格事件编号"]
EXAMPLE_MARK = "示例"
LIMITS = Limits(max_rows=MAX_BATCH, max_columns=20)


def _category(text: str) -> str | None:
    text = text.strip()
    if text in REASONS:
        return text
    for code, label in REASON_LABELS.items():
        if text == str(label):
            return code
    english = {
        "verified grid report": "grid_report",
        "mediation success": "mediation",
        "patrol": "patrol",
        "volunteer of the month": "volunteer_of_month",
        "other": "other",
    }
    if text.lower() in english:
        return english[text.lower()]
    zh = {
        "网格事件": "grid_report",
        "有奖上报": "grid_report",
        "网格事件上报": "grid_report",
        "矛盾调解": "mediation",
        "调解": "mediation",
        "巡逻": "patrol",
        "治安巡逻": "patrol",
        "月度之星": "volunteer_of_month",
        "月度志愿者": "volunteer_of_month",
        "其他": "other",
    }
    return zh.get(text)


@dataclass
class ListCheck:
    """The dry run of an awards list: the rows that would be proposed, and every row's problems
    (`row` as the spreadsheet numbers it)."""

    items: list[PayoutItem] = field(default_factory=list)
    rows: list[int] = field(default_factory=list)
    problems: list[dict] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(i.amount for i in self.items)


def check_list(
    session: Session, tenant_id: int, fund_id: int, filename: str, content: bytes, *, actor_user_id: int
) -> ListCheck:
    """Read an awards list and report every row's problem in words; writes nothing. A file that cannot
    be read at all raises SpreadsheetError. Also reports when the list's total is more than the fund
    has left."""
    from .budget import balance

    get_fund(session, tenant_id, fund_id)
    table = read_table(filename, content, COLUMNS, REQUIRED, limits=LIMITS)
    out = ListCheck()
    col = table.headers

    def problem(row: int, f: str, message: str) -> None:
        out.problems.append({"row": row, "column": col.get(f, COLUMNS[f][0]) if f else "", "message": message})

    mobiles = [cell_text(c.get("mobile")) for _n, c in table.rows]
    found = {
        m.mobile: m
        for m in session.scalars(
            select(Member).where(
                Member.tenant_id == tenant_id, Member.mobile.in_([m for m in mobiles if m]), Member.status == ACTIVE
            )
        )
    }
    proposer = actor_member_id(session, tenant_id, actor_user_id)
    seen: dict[int, int] = {}
    for number, cells in table.rows:
        name = cell_text(cells.get("name"))
        if name.startswith(EXAMPLE_MARK):
            problem(number, "name", _("This is the template's example row: delete it."))
            continue
        ok = True
        try:
            amount = parse_yuan(cell_text(cells.get("amount")))
        except FundInvalid as e:
            ok, amount = False, 0
            problem(number, "amount", e.message)
        category = _category(cell_text(cells.get("category")))
        if category is None:
            ok = False
            names = "、".join(str(v) for v in REASON_LABELS.values())
            problem(number, "category", _("Use one of: %(names)s.", names=names))
        reason = cell_text(cells.get("reason"))
        if blank(reason):
            ok = False
            problem(number, "reason", _("Say why the reward is given."))
        raw_report = cell_text(cells.get("grid_report"))
        report_id = int(raw_report) if raw_report.isdecimal() and len(raw_report) < 19 else None
        if raw_report and report_id is None:
            ok = False
            problem(number, "grid_report", _("The grid report number must be a whole number."))
        if category == "grid_report" and report_id is None:
            ok = False
            problem(number, "grid_report", _("Name the verified grid report this reward is for."))
        mobile = cell_text(cells.get("mobile"))
        member = found.get(mobile)
        if blank(mobile):
            ok = False
            problem(number, "mobile", _("The mobile number is missing."))
        elif member is None:
            ok = False
            problem(number, "mobile", _("No active member of this district has this mobile number."))
        elif name and name != member.name:
            ok = False
            problem(
                number,
                "name",
                _("This mobile number belongs to %(name)s, not to the name in this row.", name=member.name),
            )
        elif member.id == proposer:
            ok = False
            problem(number, "mobile", _("You cannot propose a reward to yourself."))
        elif member.id in seen:
            ok = False
            problem(number, "mobile", _("The same member is already in row %(row)s.", row=seen[member.id]))
        if ok and member is not None and category is not None:
            seen[member.id] = number
            out.rows.append(number)
            out.items.append(PayoutItem(member.id, amount, category, reason[:200], grid_report_id=report_id))
    if not table.rows:
        out.problems.append({"row": 1, "column": "", "message": _("The list has no rows.")})
    left = balance(session, tenant_id, fund_id).remaining
    if out.items and not out.problems and out.total > left:
        out.problems.append(
            {
                "row": 0,
                "column": col.get("amount", "金额"),
                "message": _(
                    "The list asks for %(total)s but the fund has %(left)s left.",
                    total=format_yuan(out.total),
                    left=format_yuan(left),
                ),
            }
        )
    return out


def propose_list(
    session: Session,
    tenant_id: int,
    fund_id: int,
    filename: str,
    content: bytes,
    *,
    actor_user_id: int,
    now: datetime | None = None,
) -> list[FundPayout]:
    """Propose every row of an awards list, or none: raises ImportRefused (details: row, column,
    message) when the dry run finds any problem."""
    checked = check_list(session, tenant_id, fund_id, filename, content, actor_user_id=actor_user_id)
    if checked.problems:
        raise ImportRefused(
            _("The list has %(n)s problem(s); nothing was proposed.", n=len(checked.problems)), details=checked.problems
        )
    return propose_payouts(
        session,
        tenant_id,
        fund_id,
        checked.items,
        actor_user_id=actor_user_id,
        batch_ref=(filename or "list.xlsx")[:64],
        now=now,
    )


def template_xlsx() -> bytes:
    """The awards list template: the headers and one example row (refused if left in)."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "rewards"
    append_text_row(ws, HEADERS)
    example = [f"{EXAMPLE_MARK}：张三（删除此行）", "13800138000", "500.00", "月度之星", "12月平安志愿者之星", ""]
    append_text_row(ws, example)
    for row in range(2, MAX_BATCH + 2):
        ws[f"B{row}"].number_format = "@"
        ws[f"C{row}"].number_format = "@"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
