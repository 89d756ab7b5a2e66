"""The reward fund through its services, on SQLite and PostgreSQL: the balance reads allocated −
reserved − paid; proposals reserve and can never together exceed the fund or the year's budget;
maker-checker in the service and in the database; rejection, withdrawal, expiry and return release the
money; paying posts it once; the awards list is all or none; the payee sees each reward; the ledger
verifies clean after every story."""

from __future__ import annotations

import io
from datetime import date, timedelta

import pytest
from openpyxl import Workbook
from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError

from app.audit.models import AuditEvent
from app.db import utcnow
from app.fund import approvals, budget, disbursement, jobs, payees, proposals
from app.fund.errors import (
    AlreadyApprovedByYou,
    AlreadyDecided,
    AlreadyPaid,
    BudgetExceeded,
    FundInvalid,
    ImportRefused,
    NotApproved,
    OwnProposal,
    PayeeCannotApprove,
    PayeeCannotPropose,
)
from app.fund.models import FundApproval, FundDisbursement, FundPayout
from app.fund.proposals import PayoutItem
from app.notices.channels import render
from app.notices.services import notices_of
from tests.integration.fund_env import FundEnv, beijing_today, make_fund_env


@pytest.fixture
def fx(app):
    with app.app_context(), app.test_request_context():
        s = app.extensions["db_sessionmaker"]()
        yield make_fund_env(s)
        s.close()


def test_the_balance_reads_allocated_minus_reserved_minus_paid(fx: FundEnv):
    fx.income(1_000_000_00)
    fx.income(50_000_00, kind="donation")
    a = fx.propose(2_000_00)
    b = fx.propose(500_00)
    fx.approve(a)
    fx.pay(a)
    bal = fx.balance()
    assert (bal.allocations, bal.donations, bal.allocated) == (1_000_000_00, 50_000_00, 1_050_000_00)
    assert (bal.reserved, bal.paid) == (500_00, 2_000_00)
    assert bal.remaining == bal.allocated - bal.reserved - bal.paid == 1_047_500_00
    assert b.status == "proposed"
    assert fx.verify() == []


def test_proposals_together_never_exceed_the_fund(fx: FundEnv):
    fx.income(1_000_00)
    fx.propose(600_00)
    with pytest.raises(BudgetExceeded) as e:
        fx.propose(400_01)
    assert e.value.code == "budget_exceeded" and "¥400.00" in e.value.message
    fx.propose(400_00)
    assert fx.balance().remaining == 0
    assert fx.verify() == []


def test_a_refused_proposal_leaves_nothing_behind_even_when_the_caller_goes_on(fx: FundEnv):
    fx.income(1_000_00)
    year = budget.budget_year(utcnow())
    budget.set_budget(fx.s, fx.tenant, fx.fund_id, year, 5_000_00, actor_user_id=fx.manager)
    with pytest.raises(BudgetExceeded):  # the year's budget fits it; the fund's money does not
        fx.propose(2_000_00)
    fx.s.flush()
    assert fx.s.scalar(select(func.count()).select_from(FundPayout).where(FundPayout.tenant_id == fx.tenant)) == 0
    assert budget.budgets(fx.s, fx.tenant, fx.fund_id)[0].committed == 0
    assert fx.propose(1_000_00).status == "proposed"
    assert fx.verify() == []


def test_the_sweep_command_runs_the_job(app, fx: FundEnv):
    fx.income(1_000_00)
    late = fx.propose(100_00)
    fx.s.execute(update(FundPayout).where(FundPayout.id == late.id).values(proposed_at=utcnow() - timedelta(days=20)))
    fx.s.commit()
    result = app.test_cli_runner().invoke(args=["fund", "sweep"])
    assert result.exit_code == 0, result.output
    assert f"district {fx.tenant}: 1 proposal(s) released, 0 payout(s) returned" in result.output


def test_the_years_budget_limits_what_is_proposed_in_that_year(fx: FundEnv):
    fx.income(10_000_00)
    year = budget.budget_year(utcnow())
    budget.set_budget(fx.s, fx.tenant, fx.fund_id, year, 1_000_00, actor_user_id=fx.manager)
    p = fx.propose(800_00)
    with pytest.raises(BudgetExceeded):
        fx.propose(300_00)
    # A rejection gives the year's budget back.
    approvals.reject_payout(fx.s, fx.tenant, p.id, actor_user_id=fx.approver, reason="证据不足")
    fx.propose(1_000_00)
    with pytest.raises(FundInvalid):  # below what the year already holds
        budget.set_budget(fx.s, fx.tenant, fx.fund_id, year, 999_00, actor_user_id=fx.manager)
    with pytest.raises(IntegrityError), fx.s.begin_nested():  # the database refuses it too
        fx.s.execute(update(budget.FundBudget).where(budget.FundBudget.fund_id == fx.fund_id).values(amount=1))


def test_one_approver_below_the_threshold_two_above(fx: FundEnv):
    fx.income(100_000_00)
    small = fx.propose(3_000_00)  # at the threshold: one approver
    large = fx.propose(3_000_01)
    assert (small.required_approvals, large.required_approvals) == (1, 2)
    assert fx.approve(small).status == "approved"
    assert fx.approve(large).status == "proposed"  # waits for a second approver
    with pytest.raises(AlreadyApprovedByYou) as e:
        fx.approve(large)
    assert e.value.code == "already_approved_by_you"
    assert fx.approve(large, fx.approver2).status == "approved"
    assert [a.seq for a in approvals.approvers_of(fx.s, large.id)] == [1, 2]
    with pytest.raises(AlreadyDecided):
        fx.approve(large, fx.manager)


def test_the_threshold_is_set_per_district(fx: FundEnv):
    fx.income(100_000_00)
    budget.change_rules(
        fx.s, fx.tenant, approval_threshold=500_00, approval_days=7, unclaimed_days=30, actor_user_id=fx.manager
    )
    assert fx.propose(500_01).required_approvals == 2
    assert budget.rules(fx.s, fx.tenant).approval_days == 7


def test_the_approver_is_never_the_proposer_nor_the_payee(fx: FundEnv):
    fx.income(100_000_00)
    # The approver proposes (a district admin may do both); then they may not approve it.
    admin = fx.s.scalar(
        select(proposals.User.id).where(proposals.User.member_id == fx.town.users["district_admin"][0].id)
    )
    p = proposals.propose_payout(
        fx.s, fx.tenant, fx.fund_id, PayoutItem(fx.payee.id, 100_00, "patrol", "巡逻"), actor_user_id=admin
    )
    with pytest.raises(OwnProposal) as e:
        approvals.approve_payout(fx.s, fx.tenant, p.id, actor_user_id=admin)
    assert e.value.code == "own_proposal"
    # A reward to the approver: they may not approve or reject it.
    approver_member = fx.town.users["fund_approver"][0]
    q = fx.propose(100_00, payee=approver_member)
    with pytest.raises(PayeeCannotApprove):
        fx.approve(q)
    with pytest.raises(PayeeCannotApprove):
        approvals.reject_payout(fx.s, fx.tenant, q.id, actor_user_id=fx.approver, reason="x")
    # Nor may a manager propose a reward to themselves.
    with pytest.raises(PayeeCannotPropose):
        fx.propose(100_00, payee=fx.town.users["fund_manager"][0])


def test_the_database_refuses_what_the_service_refuses(fx: FundEnv):
    fx.income(100_000_00)
    p = fx.propose(5_000_00)
    manager_member = fx.town.users["fund_manager"][0].id
    approver_member = fx.town.users["fund_approver"][0].id
    row = {
        "tenant_id": fx.tenant,
        "payout_id": p.id,
        "proposer_member_id": p.proposer_member_id,
        "payee_member_id": p.payee_member_id,
        "required_approvals": 2,
        "seq": 1,
        "approver_member_id": approver_member,
        "approver_user_id": fx.approver,
        "reason": "",
        "created_at": utcnow(),
    }
    cases = [
        {"approver_member_id": manager_member, "approver_user_id": fx.manager},  # the proposer approves
        {"approver_member_id": p.payee_member_id},  # the payee approves (not even a user: refused either way)
        {"proposer_member_id": fx.town.users["auditor"][0].id},  # a copy that lies about the proposer
        {"required_approvals": 1},  # a copy that lies about the approvals needed
        {"seq": 3},  # more approvals than needed
    ]
    for change in cases:
        with pytest.raises(IntegrityError), fx.s.begin_nested():
            fx.s.execute(insert(FundApproval), [{**row, **change}])
    fx.s.execute(insert(FundApproval), [row])
    with pytest.raises(IntegrityError), fx.s.begin_nested():  # a second approval by the same person
        fx.s.execute(insert(FundApproval), [{**row, "seq": 2}])
    with pytest.raises(IntegrityError), fx.s.begin_nested():  # approved with one approval of two
        fx.s.execute(update(FundPayout).where(FundPayout.id == p.id).values(status="approved", approvals=1))


def test_rejection_releases_the_reservation_and_keeps_the_record(fx: FundEnv):
    fx.income(1_000_00)
    p = fx.propose(1_000_00)
    with pytest.raises(FundInvalid):
        approvals.reject_payout(fx.s, fx.tenant, p.id, actor_user_id=fx.approver, reason=" ")
    approvals.reject_payout(fx.s, fx.tenant, p.id, actor_user_id=fx.approver, reason="不属于奖励范围")
    assert (p.status, p.close_reason) == ("rejected", "不属于奖励范围")
    assert fx.balance().remaining == 1_000_00
    with pytest.raises(AlreadyDecided):
        fx.approve(p)
    q = fx.propose(1_000_00)
    approvals.withdraw_payout(fx.s, fx.tenant, q.id, actor_user_id=fx.manager, reason="重复提交")
    assert q.status == "withdrawn" and fx.balance().remaining == 1_000_00
    assert fx.verify() == []


def test_paying_posts_the_money_once_and_only_when_approved(fx: FundEnv):
    fx.income(10_000_00)
    p = fx.propose(1_234_50)
    with pytest.raises(NotApproved):
        fx.pay(p)
    fx.approve(p)
    with pytest.raises(FundInvalid) as e:
        disbursement.record_payment(
            fx.s,
            fx.tenant,
            p.id,
            channel="alipay",
            reference="",
            paid_on=beijing_today(),
            paid_by="",
            actor_user_id=fx.manager,
        )
    assert {d["field"] for d in e.value.details} == {"channel", "reference", "paid_by"}
    with pytest.raises(FundInvalid):
        disbursement.record_payment(
            fx.s,
            fx.tenant,
            p.id,
            channel="cash",
            reference="R1",
            paid_on=beijing_today() + timedelta(days=2),
            paid_by="陈静",
            actor_user_id=fx.manager,
        )
    d = fx.pay(p)
    assert (p.status, d.channel, d.reference) == ("paid", "wechat", "WX20261205001")
    with pytest.raises(AlreadyPaid) as e:
        fx.pay(p, reference="WX-again")
    assert e.value.code == "already_paid"
    assert fx.s.scalar(select(FundDisbursement.id).where(FundDisbursement.payout_id == p.id)) == d.id
    bal = fx.balance()
    assert (bal.paid, bal.reserved, bal.remaining) == (1_234_50, 0, 8_765_50)
    with pytest.raises(AlreadyPaid):
        disbursement.return_payout(fx.s, fx.tenant, p.id, reason="x", actor_user_id=fx.manager)
    assert fx.verify() == []


def test_the_payee_cannot_record_their_own_payment(fx: FundEnv):
    fx.income(10_000_00)
    manager2 = fx.town.users["district_admin"][0]
    p = fx.propose(100_00, payee=manager2)
    fx.approve(p)
    admin_user = fx.s.scalar(select(proposals.User.id).where(proposals.User.member_id == manager2.id))
    with pytest.raises(PayeeCannotApprove):
        fx.pay(p, user=admin_user)


def test_the_job_releases_late_proposals_and_returns_unclaimed_payouts_once(app, fx: FundEnv):
    fx.income(10_000_00)
    late = fx.propose(100_00)
    unclaimed = fx.propose(200_00)
    fx.approve(unclaimed)
    fresh = fx.propose(300_00)
    fx.s.execute(update(FundPayout).where(FundPayout.id == late.id).values(proposed_at=utcnow() - timedelta(days=15)))
    fx.s.execute(
        update(FundPayout).where(FundPayout.id == unclaimed.id).values(approved_at=utcnow() - timedelta(days=31))
    )
    fx.s.commit()
    factory = app.extensions["db_sessionmaker"]
    run = jobs.sweep(factory, fx.tenant, page=1)
    assert (run.expired, run.returned) == (1, 1)
    again = jobs.sweep(factory, fx.tenant)
    assert (again.expired, again.returned) == (0, 0)
    fx.s.expire_all()
    assert [fx.s.get(FundPayout, i).status for i in (late.id, unclaimed.id, fresh.id)] == [
        "expired",
        "returned",
        "proposed",
    ]
    assert fx.s.get(FundPayout, unclaimed.id).close_reason
    bal = fx.balance()
    assert (bal.reserved, bal.remaining, bal.returned) == (300_00, 9_700_00, 200_00)
    assert fx.verify() == []


def test_the_payee_sees_each_reward_with_its_status_and_reason(fx: FundEnv):
    fx.income(10_000_00)
    paid = fx.propose(500_00, reason="11月平安之星")
    fx.approve(paid)
    fx.pay(paid)
    rejected = fx.propose(50_00)
    approvals.reject_payout(fx.s, fx.tenant, rejected.id, actor_user_id=fx.approver, reason="证据不足")
    fx.propose(80_00)
    mine = payees.my_rewards(fx.s, fx.tenant, fx.payee.id)
    assert (mine.paid, mine.waiting) == (500_00, 80_00)
    assert [(line.status, line.amount_text) for line in mine.lines] == [
        ("proposed", "¥80.00"),
        ("rejected", "¥50.00"),
        ("paid", "¥500.00"),
    ]
    assert mine.lines[1].status_reason == "证据不足"
    assert mine.lines[2].channel == "wechat" and mine.lines[2].paid_on == beijing_today()
    assert payees.my_rewards(fx.s, fx.tenant, fx.town.users["auditor"][0].id).lines == []
    # And is told: approved, paid, not approved (with why).
    told = [(n.kind, n.params["amount"]) for n in notices_of(fx.s, fx.tenant, fx.payee.id)]
    assert sorted(told) == [("fund.approved", "¥500.00"), ("fund.paid", "¥500.00"), ("fund.rejected", "¥50.00")]
    rejected_notice = next(n for n in notices_of(fx.s, fx.tenant, fx.payee.id) if n.kind == "fund.rejected")
    assert "证据不足" in render(rejected_notice.kind, rejected_notice.params)


def test_batch_approval_is_all_or_none(fx: FundEnv):
    fx.income(100_000_00)
    ps = [fx.propose(100_00, payee=fx.member(f"队员{i}")) for i in range(5)]
    own = proposals.propose_payout(
        fx.s, fx.tenant, fx.fund_id, PayoutItem(fx.payee.id, 100_00, "patrol", "巡逻"), actor_user_id=fx.approver2
    )
    with pytest.raises(OwnProposal):
        approvals.approve_payouts(fx.s, fx.tenant, [p.id for p in ps] + [own.id], actor_user_id=fx.approver2)
    fx.s.expire_all()
    assert {p.status for p in ps} == {"proposed"}
    done = approvals.approve_payouts(fx.s, fx.tenant, [p.id for p in ps] + [own.id], actor_user_id=fx.approver)
    assert {p.status for p in done} == {"approved"}


def test_every_decision_is_in_the_audit_log(fx: FundEnv):
    fx.income(10_000_00)
    p = fx.propose(100_00)
    fx.approve(p)
    fx.pay(p)
    actions = set(fx.s.scalars(select(AuditEvent.action).where(AuditEvent.tenant_id == fx.tenant)))
    assert {"fund.created", "fund.income", "fund.proposed", "fund.approved", "fund.paid"} <= actions


def _xlsx(rows) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.append(proposals.HEADERS)
    for r in rows:
        ws.append(r)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def test_the_awards_list_dry_run_names_each_rows_problem_and_proposes_all_or_none(fx: FundEnv):
    fx.income(10_000_00)
    a, b = fx.member("周一"), fx.member("吴二")
    bad = _xlsx(
        [
            ["周一", a.mobile, "500.00", "月度之星", "12月之星", ""],
            ["吴二", b.mobile, "abc", "巡逻", "夜巡", ""],
            ["王五", "13900000000", "100", "其他", "x", ""],
            ["周一", a.mobile, "100", "网格事件", "上报", ""],
        ]
    )
    checked = proposals.check_list(fx.s, fx.tenant, fx.fund_id, "list.xlsx", bad, actor_user_id=fx.manager)
    assert sorted({p["row"] for p in checked.problems}) == [3, 4, 5]
    with pytest.raises(ImportRefused):
        proposals.propose_list(fx.s, fx.tenant, fx.fund_id, "list.xlsx", bad, actor_user_id=fx.manager)
    assert fx.balance().reserved == 0
    good = _xlsx(
        [
            ["周一", a.mobile, "500.00", "月度之星", "12月之星", ""],
            ["吴二", b.mobile, "1,000", "巡逻", "夜巡", ""],
        ]
    )
    made = proposals.propose_list(fx.s, fx.tenant, fx.fund_id, "list.xlsx", good, actor_user_id=fx.manager)
    assert [(p.amount, p.reason_category) for p in made] == [(500_00, "volunteer_of_month"), (1_000_00, "patrol")]
    too_much = _xlsx([["周一", a.mobile, "9,000", "其他", "x", ""]])
    checked = proposals.check_list(fx.s, fx.tenant, fx.fund_id, "l.xlsx", too_much, actor_user_id=fx.manager)
    assert checked.problems and "¥8,500.00" in checked.problems[0]["message"]


def test_income_needs_a_source_and_a_document(fx: FundEnv):
    with pytest.raises(FundInvalid) as e:
        budget.record_income(
            fx.s,
            fx.tenant,
            fx.fund_id,
            kind="gift",
            amount=0,
            source="",
            document_ref="",
            received_on=beijing_today() + timedelta(days=3),
            actor_user_id=fx.manager,
        )
    assert {d["field"] for d in e.value.details} == {"kind", "amount", "source", "document_ref", "received_on"}


def test_a_grid_report_reward_names_its_report(fx: FundEnv):
    fx.income(1_000_00)
    with pytest.raises(FundInvalid) as e:
        fx.propose(100_00, reason_category="grid_report")
    assert e.value.field == "grid_report_id"
    from app.gridreports.models import GridReport

    def report(status: str) -> int:
        decided = {} if status == "submitted" else {"triaged_at": utcnow(), "triaged_by_user_id": fx.manager}
        r = GridReport(
            tenant_id=fx.tenant,
            grid_id=fx.town.grid_a1.id,
            reporter_member_id=fx.payee.id,
            category="hazard",
            text="井盖缺失",
            status=status,
            **decided,
        )
        fx.s.add(r)
        fx.s.flush()
        return r.id

    waiting = report("submitted")
    with pytest.raises(FundInvalid) as e:  # only a verified report earns a reward
        fx.propose(100_00, reason_category="grid_report", grid_report_id=waiting, evidence="井盖缺失")
    assert e.value.field == "grid_report_id"
    verified = report("verified")
    p = fx.propose(100_00, reason_category="grid_report", grid_report_id=verified, evidence="井盖缺失，已核实")
    assert p.grid_report_id == verified


def test_an_attachment_is_kept_by_its_hash_and_proven_unchanged(app, fx: FundEnv, tmp_path):
    from app.fund import attachments

    pdf = b"%PDF-1.4 allocation letter"
    row = attachments.store_attachment(
        fx.s, fx.tenant, filename="../../深财〔2026〕1号.pdf", content=pdf, actor_user_id=fx.manager, folder=tmp_path
    )
    assert (row.content_type, row.filename, row.size_bytes) == ("application/pdf", "深财〔2026〕1号.pdf", len(pdf))
    assert (tmp_path / row.sha256).read_bytes() == pdf
    income = budget.record_income(
        fx.s,
        fx.tenant,
        fx.fund_id,
        kind="donation",
        amount=5_000_00,
        source="爱心企业",
        document_ref="JZ-001",
        received_on=date(2026, 3, 1),
        attachment_id=row.id,
        actor_user_id=fx.manager,
    )
    assert income.attachment_id == row.id
    assert attachments.read_attachment(fx.s, fx.tenant, row.id, folder=tmp_path)[1] == pdf
    (tmp_path / row.sha256).write_bytes(b"%PDF-1.4 changed")
    with pytest.raises(FundInvalid):
        attachments.read_attachment(fx.s, fx.tenant, row.id, folder=tmp_path)
    for bad in (b"", b"MZ\x90\x00 not a document"):
        with pytest.raises(FundInvalid):
            attachments.store_attachment(
                fx.s, fx.tenant, filename="x.exe", content=bad, actor_user_id=fx.manager, folder=tmp_path
            )
