"""The reward fund's reports (app/fund/reports.py) over five years of payouts: 50,000 payouts to 3,000
members of a district of 2 streets, 10 communities and 50 grids, read the way the report pages read
them (one year at a time, by month, street, community, reason, and per payee)."""

from __future__ import annotations

import random
import statistics
import time
from datetime import date, datetime, timedelta

from sqlalchemy import insert, select, true
from sqlalchemy.orm import Session

from app.auth import services as auth
from app.auth.models import User
from app.fund import budget
from app.fund import reports as fr
from app.fund.labels import REASONS
from app.fund.models import FundDisbursement, FundIncome, FundPayout
from app.people.models import Member
from app.places import services as places

from .harness import Context, Section, ms
from .people_bench import _app, _bulk_members

FUND_REPORTS = "17. Fund report over 5 years of payouts (50,000 payouts): p95"
YEARS = 5


def _district(s: Session, code: str):
    district = places.create_district(s, code=code, name="基金报表测试区")
    t = district.id
    grids = []
    for st in range(2):
        street = places.create_unit(s, t, name=f"平安第{st + 1}街道", kind="street")
        for c in range(5):
            community = places.create_unit(s, t, name=f"平安{st + 1}-{c + 1}社区", kind="community", parent=street)
            for g in range(5):
                grids.append(
                    places.create_unit(
                        s, t, name=f"平安{st + 1}-{c + 1}-{g + 1}网格", kind="grid", grid_type="area", parent=community
                    )
                )
    return t, grids


def _fill(s: Session, t: int, grids, payouts: int, rng: random.Random) -> tuple[int, int]:
    """The fund, its income, and `payouts` payouts spread over YEARS years (most paid, some still open,
    some rejected or returned), inserted in bulk: the reports read these tables, not the ledger."""
    _bulk_members(s, t, grids, 3000, rng)
    members = s.execute(select(Member.id, Member.grid_id).where(Member.tenant_id == t)).all()
    path_of = {g.id: g.path for g in grids}
    manager = s.get(Member, members[0][0])
    auth.set_password(s, manager, "bench-password-2026")
    user_id = s.execute(select(User.id).where(User.member_id == manager.id)).scalar_one()
    fund = budget.open_fund(s, t, "平安志愿者奖励基金", actor_user_id=user_id)
    this_year = date.today().year
    first_year = this_year - YEARS + 1
    s.execute(
        insert(FundIncome),
        [
            dict(
                tenant_id=t,
                fund_id=fund.id,
                kind="allocation",
                amount=100_000_000,
                source="区财政局",
                document_ref=f"光财〔{y}〕{q}号",
                received_on=date(y, 3 * q - 2, 10),
                note="",
            )
            for y in range(first_year, this_year + 1)
            for q in range(1, 5)
        ],
    )
    start = datetime(first_year, 1, 1)
    span = (datetime(this_year, 12, 1) - start).total_seconds()
    rows = []
    for _ in range(payouts):
        mid, gid = members[rng.randrange(1, len(members))]
        at = start + timedelta(seconds=rng.random() * span)
        roll = rng.random()
        status = (
            "paid"
            if roll < 0.85
            else "rejected"
            if roll < 0.90
            else "returned"
            if roll < 0.93
            else ("approved" if roll < 0.96 else "proposed")
        )
        amount = rng.randrange(200, 3000, 50) * 100
        two = amount > 300_000
        rows.append(
            dict(
                tenant_id=t,
                fund_id=fund.id,
                payee_member_id=mid,
                payee_grid_id=gid,
                payee_path=path_of[gid],
                amount=amount,
                reason_category=rng.choice(REASONS[1:]),
                reason="奖励",
                budget_year=at.year,
                status=status,
                threshold=300_000,
                required_approvals=2 if two else 1,
                approvals=0 if status in ("proposed", "rejected") else (2 if two else 1),
                proposer_member_id=manager.id,
                proposer_user_id=user_id,
                proposed_at=at,
                approved_at=at + timedelta(days=3) if status in ("paid", "approved", "returned") else None,
                closed_at=at + timedelta(days=10 if status == "paid" else 40)
                if status in ("paid", "rejected", "returned")
                else None,
                close_reason="未领取" if status == "returned" else ("不符合条件" if status == "rejected" else None),
            )
        )
    for i in range(0, len(rows), 5000):
        s.execute(insert(FundPayout), rows[i : i + 5000])
    paid = s.execute(
        select(FundPayout.id, FundPayout.proposed_at).where(FundPayout.fund_id == fund.id, FundPayout.status == "paid")
    ).all()
    disb = [
        dict(
            tenant_id=t,
            payout_id=pid,
            channel="bank",
            reference=f"B{pid}",
            paid_on=(at + timedelta(days=10)).date(),
            paid_by="财务室",
            recorded_by_user_id=user_id,
        )
        for pid, at in paid
    ]
    for i in range(0, len(disb), 5000):
        s.execute(insert(FundDisbursement), disb[i : i + 5000])
    return fund.id, this_year - 1


def _measures(t: int, fund_id: int, year: int) -> dict:
    return {
        "by month (a year, with remaining)": lambda s: fr.by_month(s, t, fund_id, year, true(), whole=True),
        "by street": lambda s: fr.by_street(s, t, fund_id, year, true()),
        "by community": lambda s: fr.by_community(s, t, fund_id, year, true()),
        "by reason": lambda s: fr.by_reason(s, t, fund_id, year, true()),
        "per payee (top 200 of the year)": lambda s: fr.payees(s, t, fund_id, year, true(), limit=200),
    }


def _p95(xs: list[float]) -> float:
    return statistics.quantiles(xs, n=20)[18]


def bench_fund_reports(ctx: Context) -> None:
    n, runs = ctx.size(50_000, 5_000), ctx.size(40, 10)
    for target in ctx.targets:
        app = _app(target)
        rng = random.Random(16)
        with app.test_request_context(), Session(target.engine) as s:
            t0 = time.perf_counter()
            t, grids = _district(s, f"fundrep{ctx.tenant()}")
            fund_id, year = _fill(s, t, grids, n, rng)
            s.commit()
            ctx.report.note(
                f"{target.name}: {n:,} payouts over {YEARS} years set up in {time.perf_counter() - t0:.0f} s"
            )
        measures = _measures(t, fund_id, year)
        worst = 0.0
        for label, fn in measures.items():
            took = []
            with app.test_request_context(), Session(target.engine) as s:
                fn(s)  # warm
                for _ in range(runs):
                    t1 = time.perf_counter()
                    fn(s)
                    took.append(time.perf_counter() - t1)
            p95 = _p95(took)
            worst = max(worst, p95)
            ctx.report.add(
                FUND_REPORTS, f"{label}: median / p95", target.name, f"{ms(statistics.median(took))} / {ms(p95)}"
            )
        ctx.report.goal(
            f"fund report over {YEARS} years of {n:,} payouts: p95 < 200 ms (slowest breakdown)",
            target.name,
            worst * 1000,
            worst < 0.200,
        )


SECTIONS = [
    Section(
        "fund_reports",
        FUND_REPORTS,
        bench_fund_reports,
        """
A district of 2 streets, 10 communities and 50 grids with 3,000 members; one fund with 4 allocations a
year and 50,000 payouts spread over 5 years (85% paid with a payment record, the rest rejected,
returned, approved or waiting), inserted in bulk. Each breakdown of `app.fund.reports` for last year —
by month (with the remaining balance, which reads every earlier year too), by street, by community,
by reason, and per payee (the 200 largest) — is run 40 times in one session after one warm-up run.
The goal is on the slowest breakdown's p95.""",
    ),
]
