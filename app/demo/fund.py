"""The reward fund in the demo district (issue 11): 平安志愿者奖励基金 of 1,000,000 yuan — allocations
and a donation over the last year, about 295,000 yuan paid in rewards to grid workers and volunteers
(a few rejected, withdrawn or returned unclaimed, each with its reason), two approved payouts waiting
to be paid, and proposals waiting for one approver and for two.

Everything goes through the fund's services (app/fund: proposals reserve the money as pending journals,
approvals are maker-checker, payments post them), at past times where the services take a `now`; the
ledger's own timestamps are the load's. Choices come from a seeded random."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.auth.models import User
from app.db import utcnow
from app.fund import approvals, budget, disbursement, proposals
from app.fund.labels import APPROVED, PAID, PROPOSED, REJECTED, RETURNED, WITHDRAWN
from app.fund.models import Fund, FundPayout
from app.fund.money import format_yuan
from app.fund.proposals import PayoutItem
from app.people.models import Member
from app.times import to_beijing, to_utc

FUND_NAME = "平安志愿者奖励基金"
TARGET_PAID = 30_800_000  # fen: proposed per year so that about 295,000 yuan end up paid
INCOMES = (  # (days ago, kind, amount in fen, source, document reference, note)
    (400, "allocation", 50_000_000, "区财政局", "光财〔2025〕112号", "年度平安志愿者奖励专项资金（第一批）"),
    (200, "donation", 10_000_000, "光明区爱心企业联合会", "捐赠收据 No.0031876", "爱心企业定向捐赠"),
    (170, "allocation", 40_000_000, "区财政局", "光财〔2026〕47号", "年度平安志愿者奖励专项资金（第二批）"),
)
REASONS = (  # (reason category, reason text, amount range in yuan)
    ("patrol", "参加治安巡逻满20次", (200, 800)),
    ("patrol", "夜间巡逻表现突出", (300, 1000)),
    ("mediation", "成功调解邻里纠纷", (500, 2000)),
    ("mediation", "化解物业矛盾纠纷", (800, 2500)),
    ("volunteer_of_month", "月度平安志愿者之星", (1000, 2000)),
    ("other", "协助疫情防控与应急处置", (300, 1500)),
    ("other", "协助抓获违法嫌疑人", (3000, 5000)),
)
REJECT_REASONS = ("巡逻记录与台账不符，请补充签到表", "同一事项已在上月奖励，不重复发放")
WITHDRAW_REASON = "金额填写有误，重新提交"
RETURN_REASON = "受奖人超过30天未领取，退回基金"


@dataclass
class FundLife:
    """What was made, for the printed summary and the tests."""

    fund_id: int = 0
    allocated: int = 0
    paid: int = 0
    paid_count: int = 0
    ended: dict[str, int] = field(default_factory=dict)
    waiting_one: int = 0
    waiting_two: int = 0
    waiting_second: int = 0
    to_pay: int = 0
    remaining: int = 0
    volunteer_paid: int = 0


def _user_id(session: Session, member: Member) -> int:
    return session.execute(select(User.id).where(User.member_id == member.id)).scalar_one()


def _at(day: date, hour: int) -> datetime:
    """A Beijing day and hour as naive UTC."""
    return to_utc(datetime.combine(day, time(hour, 0)))


def _item(rng: random.Random, member: Member) -> PayoutItem:
    category, reason, (low, high) = rng.choice(REASONS[:-1])  # the big one only where asked for
    yuan = rng.randrange(low, high + 1, 50)
    return PayoutItem(member.id, yuan * 100, category, reason, evidence=f"{reason}（{member.name}）")


def load_fund(
    session: Session, tenant_id: int, members: list[Member], sign_ins: dict[str, Member], seed: int
) -> FundLife:
    """The fund and its year, in the caller's transaction. `sign_ins`: the demo sign-ins by label (the
    fund manager proposes and pays; the two fund approvers approve)."""
    rng = random.Random(seed + 11)
    now = utcnow()
    today = to_beijing(now).date()
    life = FundLife()
    manager = _user_id(session, sign_ins["fund_manager"])
    first = _user_id(session, sign_ins["fund_approver"])
    second = _user_id(session, sign_ins["fund_approver (second)"])
    staff = {m.id for label, m in sign_ins.items() if label != "volunteer"}
    volunteer = sign_ins["volunteer"]

    fund = budget.open_fund(session, tenant_id, FUND_NAME, actor_user_id=manager)
    life.fund_id = fund.id
    for days, kind, amount, source, ref, note in INCOMES:
        budget.record_income(
            session,
            tenant_id,
            fund.id,
            kind=kind,
            amount=amount,
            source=source,
            document_ref=ref,
            received_on=today - timedelta(days=days),
            note=note,
            actor_user_id=manager,
        )
        life.allocated += amount
    budget.set_budget(session, tenant_id, fund.id, today.year, 60_000_000, note="区财政年度预算", actor_user_id=manager)

    # Payees: mostly grid workers (the 平安志愿者 team), some volunteers; never the fund's own staff.
    workers = [m for m in members if m.status == "active" and m.is_grid_worker and m.id not in staff]
    others = [
        m for m in members if m.status == "active" and m.is_volunteer and not m.is_grid_worker and m.id not in staff
    ]
    pool = workers * 3 + rng.sample(others, min(len(others), 120))

    # A year of monthly lists: proposed on the 5th, approved within days, paid within two weeks.
    index = today.year * 12 + today.month - 1
    months = [date((index - k) // 12, (index - k) % 12 + 1, 5) for k in range(12, 0, -1)]
    per_month = TARGET_PAID // len(months)
    for n, day in enumerate(months):
        items: list[PayoutItem] = []
        total = 0
        used: set[int] = set()
        while total < per_month * rng.uniform(0.85, 1.15) and len(items) < 60:
            member = rng.choice(pool)
            if member.id in used:
                continue
            used.add(member.id)
            item = _item(rng, member)
            items.append(item)
            total += item.amount
        if n % 4 == 1:  # now and then a big reward: two approvers
            member = rng.choice([m for m in pool if m.id not in used])
            items.append(PayoutItem(member.id, rng.randrange(3200, 5001, 100) * 100, "other", REASONS[-1][1]))
        if n == len(months) - 2:  # the volunteer's own reward, so their page has one
            items.append(PayoutItem(volunteer.id, 50_000, "volunteer_of_month", "月度平安志愿者之星"))
        proposed_at = _at(day, 10)
        made = proposals.propose_payouts(
            session,
            tenant_id,
            fund.id,
            items,
            actor_user_id=manager,
            batch_ref=f"{day:%Y年%m月}奖励名单.xlsx",
            now=proposed_at,
        )
        # Two of each month's list do not pay: rejected, or withdrawn by the manager.
        rejected = made[0] if n % 3 == 0 else None
        withdrawn = made[1] if n % 5 == 2 else None
        if rejected is not None:
            approvals.reject_payout(
                session,
                tenant_id,
                rejected.id,
                actor_user_id=first,
                reason=rng.choice(REJECT_REASONS),
                now=proposed_at + timedelta(days=2),
            )
        if withdrawn is not None:
            approvals.withdraw_payout(
                session,
                tenant_id,
                withdrawn.id,
                actor_user_id=manager,
                reason=WITHDRAW_REASON,
                now=proposed_at + timedelta(days=1),
            )
        open_ids = [p.id for p in made if p.status == PROPOSED]
        approvals.approve_payouts(
            session, tenant_id, open_ids, actor_user_id=first, now=proposed_at + timedelta(days=3)
        )
        twos = [p.id for p in made if p.status == PROPOSED]
        if twos:
            approvals.approve_payouts(
                session, tenant_id, twos, actor_user_id=second, now=proposed_at + timedelta(days=4)
            )
        paid_day = day + timedelta(days=rng.randint(8, 14))
        unclaimed = made[-2] if n % 6 == 3 else None
        for p in made:
            if p.status != APPROVED:
                continue
            if p is unclaimed:
                disbursement.return_payout(
                    session,
                    tenant_id,
                    p.id,
                    reason=RETURN_REASON,
                    actor_user_id=None,
                    now=_at(paid_day + timedelta(days=30), 2),
                )
                continue
            disbursement.record_payment(
                session,
                tenant_id,
                p.id,
                channel=rng.choice(("bank", "bank", "wechat", "cash")),
                reference=f"GM{paid_day:%Y%m%d}{p.id:05d}",
                paid_on=paid_day,
                paid_by="光明区综治中心 财务室",
                actor_user_id=manager,
                now=_at(paid_day, 15),
            )

    # Now: two approved payouts waiting to be paid, and proposals waiting for one and for two approvers.
    recent = today - timedelta(days=3)
    pick = rng.sample([m for m in workers], 6)
    ready = proposals.propose_payouts(
        session,
        tenant_id,
        fund.id,
        [
            PayoutItem(pick[0].id, 80_000, "mediation", "成功调解邻里纠纷"),
            PayoutItem(pick[1].id, 60_000, "patrol", "参加治安巡逻满20次"),
        ],
        actor_user_id=manager,
        now=_at(recent, 10),
    )
    approvals.approve_payouts(session, tenant_id, [p.id for p in ready], actor_user_id=first, now=_at(recent, 16))
    waiting = proposals.propose_payouts(
        session,
        tenant_id,
        fund.id,
        [
            PayoutItem(pick[2].id, 50_000, "patrol", "夜间巡逻表现突出", evidence="连续四周参加夜间巡逻"),
            PayoutItem(pick[3].id, 120_000, "volunteer_of_month", "月度平安志愿者之星"),
            PayoutItem(volunteer.id, 30_000, "other", "协助社区应急演练"),
            PayoutItem(pick[4].id, 450_000, "other", "协助抓获违法嫌疑人", evidence="配合派出所抓获盗窃嫌疑人"),
            PayoutItem(pick[5].id, 380_000, "mediation", "化解重大物业矛盾纠纷"),
        ],
        actor_user_id=manager,
        now=_at(today - timedelta(days=1), 9),
    )
    # Yesterday afternoon (today 08:00 Beijing is still ahead when the demo is loaded before then).
    approvals.approve_payouts(
        session, tenant_id, [waiting[4].id], actor_user_id=first, now=_at(today - timedelta(days=1), 17)
    )
    session.flush()
    return count(session, tenant_id, life, volunteer)


def count(session: Session, tenant_id: int, life: FundLife, volunteer: Member | None) -> FundLife:
    """Fill the summary's numbers from the database (also for a district loaded before)."""
    fund_id = life.fund_id or session.scalar(select(Fund.id).where(Fund.tenant_id == tenant_id, Fund.name == FUND_NAME))
    if fund_id is None:
        return life
    life.fund_id = fund_id
    b = budget.balance(session, tenant_id, fund_id)
    life.allocated, life.paid, life.remaining = b.allocated, b.paid, b.remaining
    rows = session.execute(
        select(FundPayout.status, FundPayout.required_approvals, FundPayout.approvals, func.count())
        .where(FundPayout.tenant_id == tenant_id, FundPayout.fund_id == fund_id)
        .group_by(FundPayout.status, FundPayout.required_approvals, FundPayout.approvals)
    ).all()
    for status, required, approved, n in rows:
        if status == PAID:
            life.paid_count += n
        elif status == APPROVED:
            life.to_pay += n
        elif status == PROPOSED and required == 1:
            life.waiting_one += n
        elif status == PROPOSED and approved == 0:
            life.waiting_two += n
        elif status == PROPOSED:
            life.waiting_second += n
        elif status in (REJECTED, WITHDRAWN, RETURNED):
            life.ended[status] = life.ended.get(status, 0) + n
    if volunteer is not None:
        life.volunteer_paid = (
            session.scalar(
                select(func.coalesce(func.sum(FundPayout.amount), 0)).where(
                    FundPayout.tenant_id == tenant_id,
                    FundPayout.payee_member_id == volunteer.id,
                    FundPayout.status == PAID,
                )
            )
            or 0
        )
    return life


def summary_lines(life: FundLife, volunteer: Member | None) -> list[str]:
    if not life.fund_id:
        return []
    ended = ", ".join(f"{n} {s}" for s, n in sorted(life.ended.items())) or "none"
    return [
        f"Fund {FUND_NAME}: {format_yuan(life.allocated)} allocated, {format_yuan(life.paid)} paid in "
        f"{life.paid_count} payouts, {format_yuan(life.remaining)} remaining (/fund/{life.fund_id})",
        f"  waiting: {life.waiting_one} for one approver, {life.waiting_two} for two, {life.waiting_second} for a "
        f"second approver; {life.to_pay} approved, to be paid; ended without paying: {ended}",
        f"  volunteer {volunteer.name if volunteer else '—'}: {format_yuan(life.volunteer_paid)} paid (/me/rewards)",
    ]
