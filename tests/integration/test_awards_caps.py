"""Caps, awards and corrections through the services, on SQLite and PostgreSQL (issue 9, items 2 and 3).

Caps: the rule's minutes per activity, daily and monthly points caps, counted in the posting's
transaction (app/points/caps.py). Awards: below the threshold they post at once, above it a second
district administrator approves — never the proposer (service and database). Corrections: reversals
with the shortfall said plainly when the wallet no longer holds the points."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from app.activities.labels import APPROVED
from app.audit.models import AuditEvent
from app.auth.models import User
from app.auth.services import user_for_member
from app.points import awards, caps
from app.points.errors import AwardDecided, AwardInvalid, CorrectionRefused, OwnAward
from app.points.labels import AWARD_SOURCE
from app.points.models import Award, AwardLine
from ledger import Ledger
from ledger.schema import journals
from tests.factories import make_user
from tests.integration import test_earning
from tests.integration.test_earning import Env, change_rule

env = test_earning.env  # the fixture: a district, an organiser, tomorrow


def two_activities(env: Env):
    """Two activities of two hours on one Beijing day (09:00 and 12:00 the day after tomorrow), and the
    minutes from env.start to the first's start (scans are given in minutes from env.start)."""
    base = (env.start + timedelta(days=1)).replace(hour=1, minute=0)
    off = int((base - env.start).total_seconds() // 60)
    first = env.activity(starts_at=env.at(off), ends_at=env.at(off + 120))
    second = env.activity(title="敬老院探访", starts_at=env.at(off + 180), ends_at=env.at(off + 300))
    return first, second, off


def admins(env: Env):
    first = env.town.users["district_admin"][0]
    second = make_user(env.s, env.tenant, env.town.grid_a1, "孙丽", [("district_admin", None)])
    return user_for_member(env.s, first).id, user_for_member(env.s, second).id


def audit(env: Env, action: str) -> list[AuditEvent]:
    return list(
        env.s.scalars(select(AuditEvent).where(AuditEvent.tenant_id == env.tenant, AuditEvent.action == action))
    )


def available(env: Env, member) -> int:
    return Ledger(env.s, tenant=env.tenant).balance(f"member:{member.id}").available


# --- caps: the counter --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cap, asks, grants",
    [
        (None, [50, 70], [50, 70]),  # no cap: everything, still counted
        (100, [60, 60], [60, 40]),  # the second is cut to what is left
        (100, [100, 1], [100, 0]),  # exactly at the cap: nothing more
        (100, [0, 30], [0, 30]),  # asking nothing takes nothing
        (0, [10], [0]),  # a cap of 0 grants nothing
        (30, [10, 10, 10, 10], [10, 10, 10, 0]),
    ],
)
def test_take_grants_up_to_the_cap(env, cap, asks, grants):
    member = env.member()
    got = [caps.take(env.s, env.tenant, member.id, "hours", "2026-12", a, cap) for a in asks]
    assert got == grants
    assert caps.used(env.s, env.tenant, member.id, "hours", "2026-12") == sum(grants)
    # Another period, kind or member has its own counter.
    assert caps.take(env.s, env.tenant, member.id, "hours", "2027-01", 5, cap) == min(5, cap if cap is not None else 5)
    assert caps.used(env.s, env.tenant, member.id, "hours:elderly", "2026-12") == 0


@pytest.mark.parametrize(
    "daily, monthly, asks, grants",
    [
        (None, None, [40, 40], [40, 40]),
        (50, None, [40, 40], [40, 10]),
        (None, 50, [40, 40], [40, 10]),
        (30, 50, [40, 40], [30, 0]),  # same day: the daily cap bites first
        (100, 50, [40, 40], [40, 10]),
    ],
)
def test_take_hours_applies_the_daily_and_monthly_caps(env, daily, monthly, asks, grants):
    member = env.member()
    got = [caps.take_hours(env.s, env.tenant, member.id, "", daily, monthly, env.start, a) for a in asks]
    assert got == grants
    if monthly is not None or daily is not None:
        month = caps.month_of(env.start)
        assert caps.used(env.s, env.tenant, member.id, "hours", month) == sum(grants)


def test_months_and_days_are_beijing_time():
    from datetime import datetime

    assert caps.month_of(datetime(2026, 11, 30, 16, 30)) == "2026-12"  # 00:30 on 1 December in Beijing
    assert caps.day_of(datetime(2026, 12, 4, 15, 59)) == "2026-12-04"
    assert caps.day_of(datetime(2026, 12, 4, 16, 0)) == "2026-12-05"


# --- caps where hours are credited --------------------------------------------------------------------


def test_minutes_per_activity_cap_cuts_at_check_out_and_says_what(env):
    change_rule(env, points_per_hour=60, max_minutes_per_activity=60)
    a = env.activity()
    volunteer = env.member()
    att = env.attend(volunteer, a, 0, 120)
    assert (att.credited_minutes, att.points, att.points_cut) == (60, 60, 60)
    env.review(a, approve="all")
    assert available(env, volunteer) == 60
    env.verify()


def test_monthly_cap_cuts_an_approval_to_a_partial_post(env):
    change_rule(env, points_per_hour=60, monthly_points_cap=150)
    volunteer = env.member()
    first, second, off = two_activities(env)
    env.attend(volunteer, first, off, off + 120)
    att2 = env.attend(volunteer, second, off + 180, off + 300)
    assert att2.points == 120  # held in full: the cap is taken when the points post
    env.review(first, approve="all")
    env.review(second, approve="all")
    env.s.refresh(att2)
    assert att2.status == APPROVED
    assert (att2.points, att2.points_cut) == (30, 90)
    assert available(env, volunteer) == 150
    assert Ledger(env.s, tenant=env.tenant).balance(f"member:{volunteer.id}").pending_in == 0
    env.verify()


def test_daily_cap_cuts_an_adjustment_to_nothing(env):
    change_rule(env, points_per_hour=60, daily_points_cap=60)
    volunteer = env.member()
    first, second, off = two_activities(env)
    env.attend(volunteer, first, off, off + 120)
    att2 = env.attend(volunteer, second, off + 180, off + 300)
    env.review(first, approve="all")  # 120 asked, 60 granted (the day's cap)
    env.review(second, adjust=[(att2.id, 90, "到得晚")])
    env.s.refresh(att2)
    assert (att2.points, att2.points_cut) == (0, 90)
    assert available(env, volunteer) == 60
    env.verify()


@pytest.mark.parametrize(
    "category_caps, overall_caps, asks, grants, category_used",
    [
        # (daily, monthly) of the elderly rule and of the district default; 120 points per activity
        ((None, None), (None, 200), [120, 120], [120, 80], None),  # the overall cap counts every category
        ((None, 150), (None, None), [120, 120], [120, 30], 150),
        ((None, 150), (None, 100), [120, 120], [100, 0], 100),  # overall refused 20: given back to elderly
        ((60, None), (None, 100), [120, 120], [60, 0], 60),
    ],
)
def test_a_category_rule_counts_its_category_and_the_default_counts_overall(
    env, category_caps, overall_caps, asks, grants, category_used
):
    change_rule(env, points_per_hour=60, daily_points_cap=overall_caps[0], monthly_points_cap=overall_caps[1])
    change_rule(
        env,
        category="elderly",
        points_per_hour=60,
        daily_points_cap=category_caps[0],
        monthly_points_cap=category_caps[1],
    )
    member = env.member()
    from app.points.rules import rule_for

    rule = rule_for(env.s, env.tenant, "elderly", env.start)
    got = [caps.take_for_rule(env.s, env.tenant, member.id, rule, env.start, a) for a in asks]
    assert got == grants
    month = caps.month_of(env.start)
    overall_used = caps.used(env.s, env.tenant, member.id, "hours", month)
    assert overall_used == (sum(grants) if overall_caps != (None, None) else 0)  # counted only under a cap
    if category_used is not None:
        assert caps.used(env.s, env.tenant, member.id, "hours:elderly", month) == category_used


# --- awards -------------------------------------------------------------------------------------------


def test_an_award_at_most_the_threshold_posts_at_once_from_the_award_source(env):
    maker, _checker = admins(env)
    one, two = env.member(), env.member(name="李雷")
    award = awards.propose(
        env.s,
        env.tenant,
        [awards.AwardItem(one.id, 60), awards.AwardItem(two.id, 40)],
        category="civic",
        reason="创文志愿者表彰",
        actor_user_id=maker,
    )
    assert award.status == "posted" and award.total == 100
    lines = awards.lines_of(env.s, award.id)
    assert [line.status for line in lines] == ["posted", "posted"]
    keys = env.s.scalars(
        select(journals.c.key).where(journals.c.tenant_id == env.tenant, journals.c.kind == "award")
    ).all()
    assert sorted(keys) == sorted(f"award:{line.id}" for line in lines)
    assert (available(env, one), available(env, two)) == (60, 40)
    assert Ledger(env.s, tenant=env.tenant).balance(AWARD_SOURCE).posted == 100
    assert [n.params["points"] for n in env.notices(one, "points.awarded")] == [60]
    assert len(audit(env, "points.award_proposed")) == 1
    env.verify()


def test_an_award_above_the_threshold_waits_for_a_second_admin(env):
    maker, checker = admins(env)
    awards.set_threshold(env.s, env.tenant, 50, reason="从严", actor_user_id=maker)
    assert awards.threshold(env.s, env.tenant) == 50
    assert audit(env, "points.award_threshold")[0].detail["after"] == 50
    member = env.member()
    award = awards.propose(
        env.s, env.tenant, [awards.AwardItem(member.id, 80)], category="safety", reason="见义勇为", actor_user_id=maker
    )
    assert award.status == "pending" and available(env, member) == 0
    assert env.notices(member, "points.awarded") == []
    with pytest.raises(OwnAward) as refused:
        awards.approve(env.s, env.tenant, award.id, actor_user_id=maker)
    assert refused.value.code == "own_award"
    awards.approve(env.s, env.tenant, award.id, actor_user_id=checker, reason="核实无误")
    assert award.status == "posted" and award.approver_user_id == checker
    assert available(env, member) == 80
    assert len(env.notices(member, "points.awarded")) == 1
    with pytest.raises(AwardDecided):
        awards.approve(env.s, env.tenant, award.id, actor_user_id=checker)
    assert len(audit(env, "points.award_approved")) == 1
    env.verify()


def test_the_database_refuses_an_approver_who_proposed(env):
    maker, _checker = admins(env)
    awards.set_threshold(env.s, env.tenant, 0, actor_user_id=maker)
    member = env.member()
    award = awards.propose(
        env.s, env.tenant, [awards.AwardItem(member.id, 5)], category="other", reason="补发", actor_user_id=maker
    )
    with pytest.raises(IntegrityError), env.s.begin_nested():
        env.s.execute(update(Award).where(Award.id == award.id).values(approver_user_id=maker))


def test_a_rejected_award_posts_nothing_and_needs_a_reason(env):
    maker, checker = admins(env)
    awards.set_threshold(env.s, env.tenant, 0, actor_user_id=maker)
    member = env.member()
    award = awards.propose(
        env.s, env.tenant, [awards.AwardItem(member.id, 5)], category="other", reason="补发", actor_user_id=maker
    )
    with pytest.raises(AwardInvalid):
        awards.reject(env.s, env.tenant, award.id, actor_user_id=checker, reason=" ")
    awards.reject(env.s, env.tenant, award.id, actor_user_id=checker, reason="材料不全")
    assert award.status == "rejected" and award.decision_reason == "材料不全"
    assert [line.status for line in awards.lines_of(env.s, award.id)] == ["rejected"]
    assert available(env, member) == 0
    env.verify()


@pytest.mark.parametrize(
    "items, category, reason, field",
    [
        ([], "civic", "表彰", "members"),
        ([(1, 0)], "civic", "表彰", "points"),
        ([(1, 100_001)], "civic", "表彰", "points"),
        ([(1, 5), (1, 6)], "civic", "表彰", "members"),
        ([(1, 5)], "money", "表彰", "category"),
        ([(1, 5)], "civic", "  ", "reason"),
    ],
)
def test_a_bad_award_says_what_to_fix(env, items, category, reason, field):
    maker, _ = admins(env)
    member = env.member()
    with pytest.raises(AwardInvalid) as bad:
        awards.propose(
            env.s,
            env.tenant,
            [awards.AwardItem(member.id if m == 1 else m, p) for m, p in items],
            category=category,
            reason=reason,
            actor_user_id=maker,
        )
    assert bad.value.field == field
    assert env.s.scalars(select(AwardLine).where(AwardLine.tenant_id == env.tenant)).all() == []


# --- corrections ----------------------------------------------------------------------------------------


def test_a_posted_award_is_reversed_not_edited(env):
    maker, checker = admins(env)
    member = env.member()
    award = awards.propose(
        env.s, env.tenant, [awards.AwardItem(member.id, 30)], category="civic", reason="表彰", actor_user_id=maker
    )
    line = awards.lines_of(env.s, award.id)[0]
    awards.reverse_award_line(env.s, env.tenant, line.id, reason="重复发放", actor_user_id=checker)
    assert line.status == "reversed" and available(env, member) == 0
    key = env.s.scalar(select(journals.c.key).where(journals.c.id == line.reversal_journal_id))
    assert key == f"award:{line.id}:reverse"
    assert env.notices(member, "points.reversed")[0].params == {"points": 30, "reason": "重复发放"}
    assert audit(env, "points.award_reversed")[0].detail["points"] == 30
    with pytest.raises(AwardDecided):
        awards.reverse_award_line(env.s, env.tenant, line.id, reason="再来", actor_user_id=checker)
    env.verify()


def test_a_reversal_the_wallet_cannot_cover_says_the_shortfall(env):
    maker, _ = admins(env)
    member = env.member()
    award = awards.propose(
        env.s, env.tenant, [awards.AwardItem(member.id, 30)], category="civic", reason="表彰", actor_user_id=maker
    )
    line = awards.lines_of(env.s, award.id)[0]
    # The member spent 20 of them (a transfer out of the wallet, as a redemption would).
    book = Ledger(env.s, tenant=env.tenant)
    book.open_accounts(["sink:test"], unit="PT", normal="debit", no_overdraft=False)
    from ledger import Transfer

    book.post([Transfer(f"member:{member.id}", "sink:test", 20)], kind="redeem", key="test:spend")
    with pytest.raises(CorrectionRefused) as refused:
        awards.reverse_award_line(env.s, env.tenant, line.id, reason="重复发放", actor_user_id=maker)
    assert refused.value.code == "insufficient_balance"
    assert "30" in str(refused.value) and "10" in str(refused.value) and "20" in str(refused.value)
    assert line.status == "posted" and available(env, member) == 10
    env.verify()


def test_approved_hours_are_corrected_by_reversal(env):
    maker, _ = admins(env)
    a = env.activity()
    volunteer = env.member()
    att = env.attend(volunteer, a, 0, 120)
    env.review(a, approve="all")
    assert available(env, volunteer) == 20
    assert awards.reverse_hours(env.s, env.tenant, att.id, reason="代签到", actor_user_id=maker) == 20
    assert available(env, volunteer) == 0
    keys = env.s.scalars(
        select(journals.c.key).where(journals.c.tenant_id == env.tenant, journals.c.key.like(f"hours:{att.id}%"))
    ).all()
    assert f"hours:{att.id}:post:reverse" in keys
    assert audit(env, "points.hours_reversed")[0].detail == {"points": 20, "reason": "代签到"}
    assert env.notices(volunteer, "points.reversed")[0].params["points"] == 20
    env.verify()


def test_nobody_awards_themselves_or_approves_an_award_that_pays_them(env):
    # What an attack probe found: an administrator awarding themselves (posted at once under the
    # threshold), and a recipient approving an award that pays them.
    maker, checker = admins(env)
    me = env.town.users["district_admin"][0]
    other = env.member(name="李雷")
    with pytest.raises(OwnAward):
        awards.propose(
            env.s, env.tenant, [awards.AwardItem(me.id, 10)], category="civic", reason="自己", actor_user_id=maker,
            actor_member_id=me.id,
        )  # fmt: skip
    awards.set_threshold(env.s, env.tenant, 50, reason="从严", actor_user_id=maker)
    checker_member = env.s.scalar(select(User.member_id).where(User.id == checker))
    pays_checker = awards.propose(
        env.s, env.tenant, [awards.AwardItem(other.id, 40), awards.AwardItem(checker_member, 40)],
        category="civic", reason="表彰", actor_user_id=maker, actor_member_id=me.id,
    )  # fmt: skip
    assert pays_checker.status == "pending"
    with pytest.raises(OwnAward) as refused:
        awards.approve(env.s, env.tenant, pays_checker.id, actor_user_id=checker, actor_member_id=checker_member)
    assert "includes you" in str(refused.value) or "包含您本人" in str(refused.value)
    assert available(env, other) == 0
    env.verify()


def test_split_awards_to_one_member_are_weighed_together(env):
    # Three awards of 40 to one member within a day weigh as 120 against a threshold of 100: the third
    # waits for a second administrator (an attack probe split an award to dodge the threshold).
    maker, _checker = admins(env)
    member = env.member()
    got = [
        awards.propose(
            env.s, env.tenant, [awards.AwardItem(member.id, 40)], category="civic", reason=f"第{i}次",
            actor_user_id=maker,
        ).status
        for i in range(3)
    ]  # fmt: skip
    assert got == ["posted", "posted", "pending"]
    assert available(env, member) == 80
    env.verify()
