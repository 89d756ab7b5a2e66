"""Fund section: maker-checker at volume — proposing 1,000 payouts in one batch (each reserves its money
as a pending ledger journal) and approving the 1,000 in one batch (one approval row each, all or none)."""

from __future__ import annotations

import time
from datetime import date

from sqlalchemy.orm import Session

from app.auth.services import user_for_member
from app.fund import approvals, budget
from app.fund.proposals import PayoutItem, propose_payouts
from ledger import Ledger
from tests.factories import make_member, make_town

from .harness import Context, Section, Target, ms
from .people_bench import _app

FUND = "16. Fund: batch proposal and batch approval of payouts"


def _setup(target: Target, payees: int) -> tuple[int, int, int, int, list[int]]:
    app = _app(target)
    with app.test_request_context(), Session(target.engine) as s:
        town = make_town(s)
        t = town.district.id
        manager = user_for_member(s, town.users["fund_manager"][0]).id
        approver = user_for_member(s, town.users["fund_approver"][0]).id
        fund = budget.open_fund(s, t, "平安志愿者奖励基金", actor_user_id=manager)
        budget.record_income(
            s,
            t,
            fund.id,
            kind="allocation",
            amount=1_000_000_00,
            source="区财政局",
            document_ref="bench",
            received_on=date(2026, 1, 5),
            actor_user_id=manager,
        )
        members = [make_member(s, t, town.grid_a1, name=f"队员{i}").id for i in range(payees)]
        s.commit()
        return t, fund.id, manager, approver, members


def bench_fund(ctx: Context) -> None:
    n = ctx.size(1_000, 200)
    for target in ctx.targets:
        tenant, fund_id, manager, approver, members = _setup(target, 50)
        app = _app(target)
        with app.test_request_context(), Session(target.engine) as s:
            items = [PayoutItem(members[i % len(members)], 100_00 + i, "patrol", f"巡逻 {i}") for i in range(n)]
            t0 = time.perf_counter()
            made = propose_payouts(s, tenant, fund_id, items, actor_user_id=manager)
            s.commit()
            proposed = time.perf_counter() - t0
            ids = [p.id for p in made]
            t0 = time.perf_counter()
            done = approvals.approve_payouts(s, tenant, ids, actor_user_id=approver)
            s.commit()
            approved = time.perf_counter() - t0
            assert {p.status for p in done} == {"approved"}
            ctx.report.verified.append(Ledger(s, tenant=tenant).verify() == [])
        ctx.report.add(
            FUND, f"propose {n:,} payouts in one batch (reserve {n:,} pending journals)", target.name, ms(proposed)
        )
        ctx.report.add(FUND, f"approve {n:,} payouts in one batch", target.name, ms(approved))
        if n == 1_000:
            ctx.report.goal("batch approval of 1,000 payouts: seconds (< 10 s)", target.name, approved, approved < 10)


SECTIONS = [
    Section(
        "fund",
        FUND,
        bench_fund,
        """
A district's fund of ¥1,000,000 and 50 payees; the fund manager proposes 1,000 payouts of ¥100–¥110 in
one call of `app.fund.proposals.propose_payouts` (validation, the year's budget row, 1,000 payout rows,
1,000 pending journals through `Ledger.post_many`, audit rows), then a fund approver approves all 1,000
in one call of `app.fund.approvals.approve_payouts` (the payout rows locked in id order, one approval row
each, statuses, audit rows). Each timed with its commit.""",
    ),
]
