"""Simultaneous scans of the same code by the same volunteer (a double tap, a retry on a slow network)
make one attendance: the check-in's INSERT … ON CONFLICT DO NOTHING lets exactly one of them record it,
and the others answer "already checked in" — never an error."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.activities import services as activities
from app.activities.models import Attendance, Scan
from app.db import unit_of_work, utcnow
from app.people.models import Member
from app.tokens import make_token
from tests.factories import make_member, make_town

pytestmark = [pytest.mark.commits]

SCANS = 8


def test_simultaneous_scans_make_one_attendance(app):
    maker = app.extensions["db_sessionmaker"]
    with app.app_context(), unit_of_work(maker) as s:
        town = make_town(s)
        t = town.district.id
        member_id = make_member(s, t, town.grid_a1, name="周杰").id
        now = utcnow()
        activity = activities.create_activity(
            s,
            t,
            activities.ActivityData(
                title="河道清洁",
                category="environment",
                host_unit_id=town.community_a.id,
                place="茅洲河凤凰段",
                starts_at=now - timedelta(minutes=10),
                ends_at=now + timedelta(hours=2),
                capacity=20,
            ),
            actor_user_id=None,
        )
        activities.publish_activity(s, activity, actor_user_id=None)
        activity_id = activity.id
        token = make_token("poster_checkin", t, activity_id)

    barrier = threading.Barrier(SCANS)

    def one(_i: int) -> bool:
        with app.app_context():
            barrier.wait(timeout=30)
            with unit_of_work(maker) as s:
                member = s.get(Member, member_id)
                return activities.scan(s, member, token).already

    with ThreadPoolExecutor(max_workers=SCANS) as pool:
        already = list(pool.map(one, range(SCANS)))

    assert already.count(False) == 1 and already.count(True) == SCANS - 1
    with app.app_context(), unit_of_work(maker) as s:
        assert s.scalar(select(func.count()).select_from(Attendance).where(Attendance.activity_id == activity_id)) == 1
        outcomes = s.scalars(select(Scan.outcome).where(Scan.activity_id == activity_id)).all()
        assert sorted(outcomes) == ["already"] * (SCANS - 1) + ["recorded"]
