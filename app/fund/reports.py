"""The fund's report queries: allocated, reserved, paid, returned and remaining by Beijing month, by
street, by community and by reason; payouts per payee over a year (to spot concentration). Grouped
queries over the fund's tables; every payout query takes a permission condition over the payee's path
(`scope`, from app.access.path_filter), so a report shows only what its reader may see.

What the columns mean, for a year's month rows: allocated = income received that month; proposed =
payouts proposed that month (any status); reserved = those still open (proposed or approved) today;
paid = payments dated that month; returned = approved payouts returned that month; remaining = the
fund's money left at the month's end (allocated − paid so far, less what is still reserved from
payouts proposed so far)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import Integer, and_, case, cast, extract, func, select
from sqlalchemy.orm import Session

from app.places.models import OrgUnit

from .budget import balance
from .labels import OPEN_STATUSES, PAID, REASONS, RETURNED
from .models import FundDisbursement, FundIncome, FundPayout

BEIJING_HOURS = 8


def _ym_of_date(col):
    return cast(extract("year", col), Integer) * 100 + cast(extract("month", col), Integer)


def _ym_of_utc(session: Session, col):
    """year*100+month of a UTC timestamp column, in Beijing time (UTC+8, no daylight saving)."""
    if session.get_bind().dialect.name == "sqlite":
        return cast(func.strftime("%Y%m", col, f"+{BEIJING_HOURS} hours"), Integer)
    shifted = col + func.make_interval(0, 0, 0, 0, BEIJING_HOURS)
    return _ym_of_date(shifted)


def _year_bounds(year: int) -> tuple[date, date]:
    return date(year, 1, 1), date(year + 1, 1, 1)


def _utc_bounds(year: int):
    from datetime import datetime, timedelta

    return (
        datetime(year, 1, 1) - timedelta(hours=BEIJING_HOURS),
        datetime(year + 1, 1, 1) - timedelta(hours=BEIJING_HOURS),
    )


@dataclass
class Row:
    """One line of a report; amounts in fen."""

    key: str | int
    label: str = ""
    allocated: int = 0
    proposed: int = 0
    reserved: int = 0
    paid: int = 0
    returned: int = 0
    remaining: int | None = None
    payouts: int = 0


@dataclass
class Report:
    year: int
    rows: list[Row]
    total: Row = field(default_factory=lambda: Row("total"))


def _payout_sums(session: Session, tenant_id: int, fund_id: int, year: int, scope, key_of_payout) -> dict:
    """proposed, reserved (open today), count per key for payouts proposed in `year`."""
    start, end = _utc_bounds(year)
    open_amount = case((FundPayout.status.in_(OPEN_STATUSES), FundPayout.amount), else_=0)
    q = (
        select(key_of_payout, func.sum(FundPayout.amount), func.sum(open_amount), func.count(FundPayout.id))
        .where(
            FundPayout.tenant_id == tenant_id,
            FundPayout.fund_id == fund_id,
            FundPayout.proposed_at >= start,
            FundPayout.proposed_at < end,
            scope,
        )
        .group_by(key_of_payout)
    )
    return {k: (int(a or 0), int(r or 0), int(n)) for k, a, r, n in session.execute(q)}


def _paid_sums(session: Session, tenant_id: int, fund_id: int, year: int, scope, key) -> dict:
    start, end = _year_bounds(year)
    q = (
        select(key, func.sum(FundPayout.amount))
        .select_from(FundDisbursement)
        .join(FundPayout, FundPayout.id == FundDisbursement.payout_id)
        .where(
            FundDisbursement.tenant_id == tenant_id,
            FundPayout.fund_id == fund_id,
            FundDisbursement.paid_on >= start,
            FundDisbursement.paid_on < end,
            scope,
        )
        .group_by(key)
    )
    return {k: int(a or 0) for k, a in session.execute(q)}


def _returned_sums(session: Session, tenant_id: int, fund_id: int, year: int, scope, key) -> dict:
    start, end = _utc_bounds(year)
    q = (
        select(key, func.sum(FundPayout.amount))
        .where(
            FundPayout.tenant_id == tenant_id,  # with the status: the (tenant, status) index, few rows
            FundPayout.status == RETURNED,
            FundPayout.fund_id == fund_id,
            FundPayout.closed_at >= start,
            FundPayout.closed_at < end,
            scope,
        )
        .group_by(key)
    )
    return {k: int(a or 0) for k, a in session.execute(q)}


def _totals(rows: list[Row]) -> Row:
    t = Row("total")
    for r in rows:
        t.allocated += r.allocated
        t.proposed += r.proposed
        t.reserved += r.reserved
        t.paid += r.paid
        t.returned += r.returned
        t.payouts += r.payouts
    return t


def by_month(session: Session, tenant_id: int, fund_id: int, year: int, scope, whole: bool = True) -> Report:
    """Twelve rows, January first. `remaining` needs the whole fund (income is not per place): it is
    left empty unless `whole` (the reader sees every payout: `scope` limits nothing).

    The remaining balance at a month's end is worked back from the fund's ledger balance now (constant
    time) and what moved after that month: remaining now − income after + paid after + reserved by
    payouts proposed after. Only the year's rows and the rows after the year are read."""
    proposed = _payout_sums(session, tenant_id, fund_id, year, scope, _ym_of_utc(session, FundPayout.proposed_at))
    paid = _paid_sums(session, tenant_id, fund_id, year, scope, _ym_of_date(FundDisbursement.paid_on))
    returned = _returned_sums(session, tenant_id, fund_id, year, scope, _ym_of_utc(session, FundPayout.closed_at))
    start, end = _year_bounds(year)
    ym_in = _ym_of_date(FundIncome.received_on)
    income: dict[int, int] = dict(
        session.execute(
            select(ym_in, func.sum(FundIncome.amount))
            .where(
                FundIncome.tenant_id == tenant_id,
                FundIncome.fund_id == fund_id,
                FundIncome.received_on >= start,
                FundIncome.received_on < end,
            )
            .group_by(ym_in)
        ).all()
    )
    rows = []
    for m in range(1, 13):
        k = year * 100 + m
        p = proposed.get(k, (0, 0, 0))
        rows.append(
            Row(
                k,
                f"{year}-{m:02d}",
                allocated=int(income.get(k) or 0),
                proposed=p[0],
                reserved=p[1],
                paid=paid.get(k, 0),
                returned=returned.get(k, 0),
                payouts=p[2],
            )
        )
    rep = Report(year, rows, _totals(rows))
    if whole:
        # What moved after the year (nothing for the current year), then month by month backwards.
        income_after, paid_after, reserved_after = _after_year(session, tenant_id, fund_id, year)
        now = balance(session, tenant_id, fund_id)
        for r in reversed(rows):
            r.remaining = now.remaining - income_after + paid_after + reserved_after
            income_after += r.allocated
            paid_after += r.paid
            reserved_after += r.reserved
        rep.total.remaining = rows[-1].remaining
    return rep


def _after_year(session: Session, tenant_id: int, fund_id: int, year: int) -> tuple[int, int, int]:
    """Income received, payments dated and open payouts proposed after `year` (fen)."""
    _start, end = _year_bounds(year)
    _ustart, uend = _utc_bounds(year)
    income = session.scalar(
        select(func.coalesce(func.sum(FundIncome.amount), 0)).where(
            FundIncome.tenant_id == tenant_id, FundIncome.fund_id == fund_id, FundIncome.received_on >= end
        )
    )
    paid = session.scalar(
        select(func.coalesce(func.sum(FundPayout.amount), 0))
        .select_from(FundDisbursement)
        .join(FundPayout, FundPayout.id == FundDisbursement.payout_id)
        .where(FundDisbursement.tenant_id == tenant_id, FundPayout.fund_id == fund_id, FundDisbursement.paid_on >= end)
    )
    reserved = session.scalar(
        select(func.coalesce(func.sum(FundPayout.amount), 0)).where(
            FundPayout.tenant_id == tenant_id,
            FundPayout.status.in_(OPEN_STATUSES),
            FundPayout.fund_id == fund_id,
            FundPayout.proposed_at >= uend,
        )
    )
    return int(income or 0), int(paid or 0), int(reserved or 0)


def _unit_report(session: Session, tenant_id: int, fund_id: int, year: int, scope, depth: int) -> Report:
    """Rows per street (depth 0) or community (depth 1) of the payee's grid when proposed: grouped by
    grid in SQL (an integer, cheap), then each grid's street or community read from its path."""
    key = FundPayout.payee_grid_id
    proposed = _payout_sums(session, tenant_id, fund_id, year, scope, key)
    paid = _paid_sums(session, tenant_id, fund_id, year, scope, key)
    returned = _returned_sums(session, tenant_id, fund_id, year, scope, key)
    grids = set(proposed) | set(paid) | set(returned)
    known = [g for g in grids if g is not None]
    paths = dict(session.execute(select(OrgUnit.id, OrgUnit.path).where(OrgUnit.id.in_(known))).all()) if known else {}

    def unit_of(grid_id) -> int | None:
        parts = [p for p in (paths.get(grid_id) or "").split("/") if p]
        return int(parts[depth]) if len(parts) > depth else None

    by_unit: dict[int | None, Row] = {}
    for g in grids:
        unit = unit_of(g)
        r = by_unit.setdefault(unit, Row(unit if unit is not None else ""))
        p = proposed.get(g, (0, 0, 0))
        r.proposed += p[0]
        r.reserved += p[1]
        r.payouts += p[2]
        r.paid += paid.get(g, 0)
        r.returned += returned.get(g, 0)
    ids = [u for u in by_unit if u is not None]
    names = dict(session.execute(select(OrgUnit.id, OrgUnit.name).where(OrgUnit.id.in_(ids))).all()) if ids else {}
    rows = list(by_unit.values())
    for r in rows:
        r.label = names.get(r.key, "—") if isinstance(r.key, int) else "—"
    rows.sort(key=lambda r: (-r.paid, -r.proposed, r.label))
    return Report(year, rows, _totals(rows))


def by_street(session: Session, tenant_id: int, fund_id: int, year: int, scope) -> Report:
    return _unit_report(session, tenant_id, fund_id, year, scope, 0)


def by_community(session: Session, tenant_id: int, fund_id: int, year: int, scope) -> Report:
    return _unit_report(session, tenant_id, fund_id, year, scope, 1)


def by_reason(session: Session, tenant_id: int, fund_id: int, year: int, scope) -> Report:
    key = FundPayout.reason_category
    proposed = _payout_sums(session, tenant_id, fund_id, year, scope, key)
    paid = _paid_sums(session, tenant_id, fund_id, year, scope, key)
    returned = _returned_sums(session, tenant_id, fund_id, year, scope, key)
    rows = []
    for k in REASONS:
        p = proposed.get(k, (0, 0, 0))
        rows.append(
            Row(k, k, proposed=p[0], reserved=p[1], paid=paid.get(k, 0), returned=returned.get(k, 0), payouts=p[2])
        )
    return Report(year, rows, _totals(rows))


@dataclass(frozen=True)
class PayeeRow:
    member_id: int
    name: str
    payouts: int
    paid: int  # fen, paid in the year
    open: int  # fen, still reserved for them
    share: float  # of all paid in the year, 0..1


@dataclass
class PayeeReport:
    year: int
    rows: list[PayeeRow]
    paid_total: int
    payees: int
    top10_share: float


def payees(session: Session, tenant_id: int, fund_id: int, year: int, scope, limit: int | None = 200) -> PayeeReport:
    """Per payee over `year` (payouts proposed in the year): count, paid, still open, and their share of
    everything paid — the largest first, so concentration shows at the top."""
    from app.people.models import Member

    start, end = _utc_bounds(year)
    paid_amount = case((FundPayout.status == PAID, FundPayout.amount), else_=0)
    open_amount = case((FundPayout.status.in_(OPEN_STATUSES), FundPayout.amount), else_=0)
    base = and_(
        FundPayout.tenant_id == tenant_id,
        FundPayout.fund_id == fund_id,
        FundPayout.proposed_at >= start,
        FundPayout.proposed_at < end,
        scope,
    )
    totals = session.execute(
        select(func.coalesce(func.sum(paid_amount), 0), func.count(func.distinct(FundPayout.payee_member_id))).where(
            base
        )
    ).one()
    paid_total, n = int(totals[0] or 0), int(totals[1] or 0)
    paid_sum = func.sum(paid_amount)
    q = (
        select(FundPayout.payee_member_id, Member.name, func.count(FundPayout.id), paid_sum, func.sum(open_amount))
        .join(Member, Member.id == FundPayout.payee_member_id)
        .where(base)
        .group_by(FundPayout.payee_member_id, Member.name)
        .order_by(paid_sum.desc(), FundPayout.payee_member_id)
    )
    if limit:
        q = q.limit(limit)
    rows = [
        PayeeRow(mid, name, int(c), int(p or 0), int(o or 0), (int(p or 0) / paid_total) if paid_total else 0.0)
        for mid, name, c, p, o in session.execute(q)
    ]
    return PayeeReport(year, rows, paid_total, n, sum(r.share for r in rows[:10]))
