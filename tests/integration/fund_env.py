"""Shared set-up for the fund's tests: a district with a fund, a manager, two approvers and a payee."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from app.auth.services import user_for_member
from app.db import utcnow
from app.fund import approvals, budget, disbursement, proposals
from app.fund.proposals import PayoutItem
from app.times import to_beijing
from ledger import Ledger
from tests.factories import make_member, make_town, make_user


def beijing_today():
    """Today in Beijing, the calendar the fund's dates are in (after 16:00 UTC it is already tomorrow)."""
    return to_beijing(utcnow()).date()


@dataclass
class FundEnv:
    s: object
    town: object
    tenant: int
    fund_id: int
    manager: int  # user ids
    approver: int
    approver2: int
    payee: object  # a member (the volunteer, who can sign in)
    payee_user: int

    def income(self, fen: int, kind: str = "allocation"):
        return budget.record_income(
            self.s,
            self.tenant,
            self.fund_id,
            kind=kind,
            amount=fen,
            source="区财政局",
            document_ref="深财〔2026〕1号",
            received_on=date(2026, 1, 5),
            actor_user_id=self.manager,
        )

    def propose(self, fen: int, payee=None, reason_category: str = "patrol", **kw):
        item = PayoutItem((payee or self.payee).id, fen, reason_category, kw.pop("reason", "夜间巡逻"), **kw)
        return proposals.propose_payout(self.s, self.tenant, self.fund_id, item, actor_user_id=self.manager)

    def approve(self, payout, user=None):
        return approvals.approve_payout(self.s, self.tenant, payout.id, actor_user_id=user or self.approver)

    def pay(self, payout, reference: str = "WX20261205001", user=None):
        return disbursement.record_payment(
            self.s,
            self.tenant,
            payout.id,
            channel="wechat",
            reference=reference,
            paid_on=beijing_today(),
            paid_by="陈静",
            actor_user_id=user or self.manager,
        )

    def member(self, name: str = "张伟"):
        return make_member(self.s, self.tenant, self.town.grid_a1, name=name)

    def balance(self):
        return budget.balance(self.s, self.tenant, self.fund_id)

    def verify(self):
        return Ledger(self.s, tenant=self.tenant).verify()


def make_fund_env(s) -> FundEnv:
    """Build the district (tests/factories.make_town), a second fund approver and a fund."""
    town = make_town(s)
    t = town.district.id
    second = make_user(s, t, town.grid_a1, "孙丽", [("fund_approver", None)])
    manager = user_for_member(s, town.users["fund_manager"][0]).id
    fund = budget.open_fund(s, t, "平安志愿者奖励基金", actor_user_id=manager)
    payee = town.users["volunteer"][0]
    return FundEnv(
        s,
        town,
        t,
        fund.id,
        manager,
        user_for_member(s, town.users["fund_approver"][0]).id,
        user_for_member(s, second).id,
        payee,
        user_for_member(s, payee).id,
    )
