"""The fund under real concurrency on PostgreSQL: many transactions at once on their own connections,
each committing (as many requests would). Twenty proposals against a fund that fits seven reserve
exactly seven; approvers deciding one payout at once approve it once (and two-approver payouts still get
two different approvers); two clerks recording one payment pay it once. The ledger verifies clean
after each."""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.fund import approvals, budget
from app.fund.models import FundApproval, FundDisbursement, FundPayout
from app.fund.proposals import PayoutItem, propose_payout
from ledger.schema import journals
from tests.integration import test_earning_concurrency as conc
from tests.integration.fund_env import beijing_today, make_fund_env
from tests.integration.test_earning_concurrency import build, outcome, run_together, verified

pg_app = conc.pg_app  # the fixture

pytestmark = [pytest.mark.postgres, pytest.mark.commits]


def _env(pg_app, pg_engine, payouts: int = 0, amount: int = 100_00, approved: bool = False):
    def setup(s):
        fx = make_fund_env(s)
        fx.income(1_000_000_00)
        ids = []
        for i in range(payouts):
            p = fx.propose(amount, payee=fx.member(f"队员{i}"))
            if approved:
                fx.approve(p)
            ids.append(p.id)
        return fx.tenant, fx.fund_id, fx.manager, fx.approver, fx.approver2, ids

    return build(pg_app, pg_engine, setup)


def test_twenty_simultaneous_proposals_against_a_fund_that_fits_seven_reserve_exactly_seven(pg_app, pg_engine):
    def setup(s):
        fx = make_fund_env(s)
        fx.income(7 * 1_000_00)
        return fx.tenant, fx.fund_id, fx.manager, [fx.member(f"队员{i}").id for i in range(20)]

    tenant, fund_id, manager, members = build(pg_app, pg_engine, setup)
    results = run_together(
        pg_app,
        pg_engine,
        20,
        lambda s, i: (
            propose_payout(
                s, tenant, fund_id, PayoutItem(members[i], 1_000_00, "patrol", "夜间巡逻"), actor_user_id=manager
            ).status
        ),
    )
    assert Counter(map(outcome, results)) == {"proposed": 7, "BudgetExceeded": 13}
    with Session(pg_engine) as s:
        assert s.scalar(select(func.count()).select_from(FundPayout).where(FundPayout.tenant_id == tenant)) == 7
        bal = budget.balance(s, tenant, fund_id)
        assert (bal.reserved, bal.remaining) == (7_000_00, 0)
    assert verified(pg_engine, tenant) == []


def test_twenty_simultaneous_proposals_against_a_years_budget_that_fits_seven(pg_app, pg_engine):
    def setup(s):
        fx = make_fund_env(s)
        fx.income(100 * 1_000_00)
        year = budget.budget_year(budget.utcnow())
        budget.set_budget(s, fx.tenant, fx.fund_id, year, 7 * 1_000_00, actor_user_id=fx.manager)
        return fx.tenant, fx.fund_id, fx.manager, [fx.member(f"队员{i}").id for i in range(20)]

    tenant, fund_id, manager, members = build(pg_app, pg_engine, setup)
    results = run_together(
        pg_app,
        pg_engine,
        20,
        lambda s, i: (
            propose_payout(
                s, tenant, fund_id, PayoutItem(members[i], 1_000_00, "patrol", "夜间巡逻"), actor_user_id=manager
            ).status
        ),
    )
    assert Counter(map(outcome, results)) == {"proposed": 7, "BudgetExceeded": 13}
    with Session(pg_engine) as s:
        assert budget.balance(s, tenant, fund_id).reserved == 7_000_00
    assert verified(pg_engine, tenant) == []


def test_two_approvers_approving_one_payout_at_once_approve_it_once(pg_app, pg_engine):
    tenant, _fund, _m, approver, approver2, (payout_id,) = _env(pg_app, pg_engine, 1)
    users = [approver, approver2]
    results = run_together(
        pg_app, pg_engine, 2, lambda s, i: approvals.approve_payout(s, tenant, payout_id, actor_user_id=users[i]).status
    )
    assert sorted(map(outcome, results)) == ["AlreadyDecided", "approved"]
    with Session(pg_engine) as s:
        assert s.scalar(select(func.count()).select_from(FundApproval).where(FundApproval.payout_id == payout_id)) == 1
        assert s.get(FundPayout, payout_id).status == "approved"
    assert verified(pg_engine, tenant) == []


def test_three_approvers_at_once_on_a_two_approver_payout_give_two_different_approvals(pg_app, pg_engine):
    def setup(s):
        from app.auth.services import user_for_member
        from tests.factories import make_user

        fx = make_fund_env(s)
        fx.income(1_000_000_00)
        third = make_user(s, fx.tenant, fx.town.grid_a1, "钱七", [("fund_approver", None)])
        p = fx.propose(5_000_00)
        return fx.tenant, p.id, [fx.approver, fx.approver2, user_for_member(s, third).id]

    tenant, payout_id, users = build(pg_app, pg_engine, setup)
    results = run_together(
        pg_app, pg_engine, 3, lambda s, i: approvals.approve_payout(s, tenant, payout_id, actor_user_id=users[i]).status
    )
    assert sorted(map(outcome, results)) == ["AlreadyDecided", "approved", "proposed"]
    with Session(pg_engine) as s:
        rows = list(s.scalars(select(FundApproval).where(FundApproval.payout_id == payout_id)))
        assert sorted(r.seq for r in rows) == [1, 2] and len({r.approver_member_id for r in rows}) == 2
        assert s.get(FundPayout, payout_id).status == "approved"
    assert verified(pg_engine, tenant) == []


def test_one_approver_twice_at_once_on_a_two_approver_payout_counts_once(pg_app, pg_engine):
    tenant, _fund, _m, approver, _a2, (payout_id,) = _env(pg_app, pg_engine, 1, amount=5_000_00)
    results = run_together(
        pg_app, pg_engine, 2, lambda s, i: approvals.approve_payout(s, tenant, payout_id, actor_user_id=approver).status
    )
    assert sorted(map(outcome, results)) == ["AlreadyApprovedByYou", "proposed"]
    with Session(pg_engine) as s:
        assert s.get(FundPayout, payout_id).approvals == 1
    assert verified(pg_engine, tenant) == []


def test_two_clerks_recording_one_payment_at_once_pay_it_once(pg_app, pg_engine):

    from app.fund.disbursement import record_payment

    def setup(s):
        from app.auth.services import user_for_member

        fx = make_fund_env(s)
        fx.income(1_000_000_00)
        p = fx.propose(800_00)
        fx.approve(p)
        admin = user_for_member(s, fx.town.users["district_admin"][0]).id
        return fx.tenant, fx.fund_id, p.id, [fx.manager, admin]

    tenant, fund_id, payout_id, clerks = build(pg_app, pg_engine, setup)
    results = run_together(
        pg_app,
        pg_engine,
        2,
        lambda s, i: (
            record_payment(
                s,
                tenant,
                payout_id,
                channel="bank",
                reference=f"BANK-{i}",
                paid_on=beijing_today(),
                paid_by="陈静",
                actor_user_id=clerks[i],
            ).channel
        ),
    )
    assert sorted(map(outcome, results)) == ["AlreadyPaid", "bank"]
    with Session(pg_engine) as s:
        assert (
            s.scalar(select(func.count()).select_from(FundDisbursement).where(FundDisbursement.payout_id == payout_id))
            == 1
        )
        assert (
            s.scalar(
                select(func.count())
                .select_from(journals)
                .where(journals.c.tenant_id == tenant, journals.c.key == f"fund:payout:{payout_id}:paid")
            )
            == 1
        )
        bal = budget.balance(s, tenant, fund_id)
        assert (bal.paid, bal.reserved) == (800_00, 0)
    assert verified(pg_engine, tenant) == []


def test_a_burst_of_batch_approvals_over_overlapping_payouts_never_double_approves(pg_app, pg_engine):
    tenant, _fund, _m, approver, approver2, ids = _env(pg_app, pg_engine, 30)
    users = [approver, approver2]
    halves = [ids[:20], ids[10:]]
    results = run_together(
        pg_app, pg_engine, 2, lambda s, i: len(approvals.approve_payouts(s, tenant, halves[i], actor_user_id=users[i]))
    )
    # All or none: one batch wins whole; the other meets payouts already decided and approves none.
    assert sorted(map(outcome, results)) == ["20", "AlreadyDecided"]
    with Session(pg_engine) as s:
        per = Counter(s.scalars(select(FundApproval.payout_id).where(FundApproval.payout_id.in_(ids))))
        assert set(per.values()) == {1}
    assert verified(pg_engine, tenant) == []
