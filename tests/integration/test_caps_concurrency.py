"""Caps under real concurrency on PostgreSQL: simultaneous approvals for one member, each in its own
committed transaction, never pass the monthly cap (the counter row is locked in each posting's
transaction), and simultaneous takes of one counter grant exactly the cap."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from app.activities import services as act
from app.activities.labels import MANUAL
from app.auth.services import user_for_member
from app.db import utcnow
from app.points import caps
from app.points import services as points
from ledger import Ledger
from tests.factories import make_member, make_town
from tests.integration import test_earning_concurrency as conc
from tests.integration.test_earning_concurrency import _activity, build, outcome, run_together, verified

pg_app = conc.pg_app  # the fixture

pytestmark = [pytest.mark.postgres, pytest.mark.commits]


def test_simultaneous_takes_of_one_counter_grant_exactly_the_cap(pg_app, pg_engine):
    def setup(s):
        town = make_town(s)
        return town.district.id, make_member(s, town.district.id, town.grid_a1, name="张伟").id

    tenant, member_id = build(pg_app, pg_engine, setup)
    results = run_together(
        pg_app, pg_engine, 20, lambda s, i: caps.take(s, tenant, member_id, "checkin", "2026-12", 7, 50)
    )
    assert sorted(map(outcome, results)) == sorted(["7"] * 7 + ["1"] + ["0"] * 12)
    with Session(pg_engine) as s:
        assert caps.used(s, tenant, member_id, "checkin", "2026-12") == 50


def test_simultaneous_approvals_for_one_member_never_pass_the_monthly_cap(pg_app, pg_engine):
    # Ten activities of two hours on one day; 60 points an hour: 120 each, 1,200 asked, 300 allowed.
    start = (utcnow() + timedelta(days=1)).replace(hour=1, minute=0, second=0, microsecond=0)

    def setup(s):
        town = make_town(s)
        org_member = town.users["organiser"][0]
        org_user = user_for_member(s, org_member).id
        points.change_rule(
            s,
            town.district.id,
            category="",
            points_per_hour=60,
            rounding_minutes=30,
            presence_percent=60,
            missed_checkout="nothing",
            grace_minutes=60,
            effective_from=None,
            monthly_points_cap=300,
        )
        volunteer = make_member(s, town.district.id, town.grid_a1, name="张伟")
        ids = []
        for i in range(10):
            a = _activity(s, town, org_user, start, title=f"活动{i}")
            act.check_in(s, a, volunteer, start, MANUAL, reason="测试")
            act.check_out(s, a, volunteer, start + timedelta(hours=2), MANUAL, reason="测试")
            ids.append(a.id)
        return town.district.id, ids, volunteer.id, (org_user, org_member.id)

    tenant, activity_ids, member_id, (user_id, reviewer_member) = build(pg_app, pg_engine, setup)

    def review(s, i):
        activity = act.get_activity(s, tenant, activity_ids[i])
        out = act.review(s, activity, act.Review(approve="all"), actor_user_id=user_id, actor_member_id=reviewer_member)
        return out.points

    results = run_together(pg_app, pg_engine, 10, review)
    assert all(not isinstance(r, Exception) for r in results), results
    assert sum(results) == 300
    with Session(pg_engine) as s:
        balance = Ledger(s, tenant=tenant).balance(f"member:{member_id}")
        assert (balance.available, balance.pending_in) == (300, 0)
        assert caps.used(s, tenant, member_id, "hours", caps.month_of(start)) == 300
    assert verified(pg_engine, tenant) == []


def test_two_reviews_over_the_same_members_in_opposite_orders_both_finish(pg_app, pg_engine):
    # Two activities with the same 30 volunteers under a monthly cap: one activity's attendances run
    # from the first volunteer to the last, the other's the other way round. Each review takes every
    # volunteer's cap counter; taken one by one in attendance order, the two would each hold counters
    # the other waits for (PostgreSQL kills one with a deadlock). Counters and accounts are locked
    # first in one sorted order, so both reviews finish, three times over.
    start = (utcnow() + timedelta(days=1)).replace(hour=1, minute=0, second=0, microsecond=0)
    rounds, people = 3, 30

    def setup(s):
        town = make_town(s)
        org_member = town.users["organiser"][0]
        org_user = user_for_member(s, org_member).id
        points.change_rule(
            s,
            town.district.id,
            category="",
            points_per_hour=60,
            rounding_minutes=30,
            presence_percent=60,
            missed_checkout="nothing",
            grace_minutes=60,
            effective_from=None,
            daily_points_cap=100_000,
            monthly_points_cap=100_000,
        )
        volunteers = [make_member(s, town.district.id, town.grid_a1, name=f"志愿者{i}") for i in range(people)]
        pairs = []
        for r in range(rounds):
            pair = []
            for order in (volunteers, volunteers[::-1]):
                a = _activity(s, town, org_user, start, title=f"活动{r}-{len(pair)}")
                for v in order:  # attendance ids follow this order, and so does a review's loop
                    act.check_in(s, a, v, start, MANUAL, reason="测试")
                    act.check_out(s, a, v, start + timedelta(hours=2), MANUAL, reason="测试")
                pair.append(a.id)
            pairs.append(pair)
        return town.district.id, pairs, [v.id for v in volunteers], (org_user, org_member.id)

    tenant, pairs, members, (user_id, reviewer_member) = build(pg_app, pg_engine, setup)
    for pair in pairs:

        def review(s, i, pair=pair):
            activity = act.get_activity(s, tenant, pair[i])
            out = act.review(
                s, activity, act.Review(approve="all"), actor_user_id=user_id, actor_member_id=reviewer_member
            )
            return out.points

        results = run_together(pg_app, pg_engine, 2, review)
        assert all(not isinstance(r, Exception) for r in results), results
        assert results == [120 * people, 120 * people]
    with Session(pg_engine) as s:
        book = Ledger(s, tenant=tenant)
        for m in members:
            assert book.balance(f"member:{m}").available == 120 * 2 * rounds
            assert caps.used(s, tenant, m, "hours", caps.month_of(start)) == 120 * 2 * rounds
    assert verified(pg_engine, tenant) == []
