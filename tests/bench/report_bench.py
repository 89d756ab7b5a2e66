"""Compliance reports: the three reports of app/reports for a street of 2,000 party members, through the
services the pages and the API call (app.reports.services)."""

from __future__ import annotations

import random
import statistics
import time
from datetime import timedelta

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from app.checkins.models import CheckinSite, HouseholdVisit, PartyCheckin
from app.db import utcnow
from app.people.models import GridAssignment, Member
from app.places import services as places
from app.reports import services as rep

from .harness import Context, Section, ms
from .people_bench import _app, _bulk_members

REPORTS = "15. Compliance report for a street of 2,000 party members: p95"


def _street(s: Session, code: str, communities: int = 10, grids_each: int = 5):
    district = places.create_district(s, code=code, name="报表测试区")
    t = district.id
    street = places.create_unit(s, t, name="红星街道", kind="street")
    comms, grids = [], []
    for c in range(communities):
        community = places.create_unit(s, t, name=f"红星第{c + 1}社区", kind="community", parent=street)
        comms.append(community)
        for g in range(grids_each):
            grids.append(
                places.create_unit(
                    s, t, name=f"红星{c + 1}-{g + 1}网格", kind="grid", grid_type="area", parent=community
                )
            )
    return t, street, comms, grids


def _fill(s: Session, t: int, comms, grids, n: int, rng: random.Random) -> None:
    """n party members in the street's grids (报到 to their community), each with 0-24 check-ins over
    the last 13 months at their community's site; a party member responsible for 4 grids of 5 with
    confirmed and waiting household visits."""
    _bulk_members(s, t, grids, n, rng)
    s.execute(update(Member).where(Member.tenant_id == t).values(is_party_member=True))
    members = s.execute(select(Member.id, Member.grid_id).where(Member.tenant_id == t)).all()
    community_of = {g.id: g.parent_id for g in grids}
    for g in grids:
        s.execute(
            update(Member).where(Member.tenant_id == t, Member.grid_id == g.id).values(checkin_community_id=g.parent_id)
        )
    sites = {}
    for c in comms:
        site = CheckinSite(tenant_id=t, org_unit_id=c.id, name=c.name, active=True)
        s.add(site)
        s.flush()
        sites[c.id] = site.id
    today = rep.beijing_today()
    rows = []
    for mid, gid in members:
        for day in {today - timedelta(days=rng.randint(0, 400)) for _ in range(rng.randint(0, 24))}:
            at = utcnow().replace(year=day.year, month=day.month, day=day.day, hour=2)
            rows.append(
                dict(
                    tenant_id=t,
                    member_id=mid,
                    site_id=sites[community_of[gid]],
                    day=day,
                    checked_in_at=at,
                    source="poster",
                    own_community=True,
                    points=10,
                    points_cut=0,
                )
            )
    for i in range(0, len(rows), 5000):
        s.execute(insert(PartyCheckin), rows[i : i + 5000])
    assignments, visits = [], []
    ids = [m for m, _g in members]
    for k, g in enumerate(grids):
        if k % 5 == 4:
            continue  # one grid in five has nobody
        mid = rng.choice(ids)
        assignments.append(
            dict(
                tenant_id=t,
                member_id=mid,
                org_unit_id=g.id,
                role="party_member",
                effective_from=today - timedelta(days=500),
            )
        )
        for _ in range(100):
            visits.append(
                dict(
                    tenant_id=t,
                    member_id=mid,
                    grid_id=g.id,
                    visit_date=today - timedelta(days=rng.randint(0, 400)),
                    households=rng.randint(1, 20),
                    note="",
                    status=rng.choice(["confirmed", "confirmed", "submitted", "rejected"]),
                    reason="",
                    created_at=utcnow(),
                )
            )
    s.execute(insert(GridAssignment), [{**a, "created_at": utcnow()} for a in assignments])
    s.execute(insert(HouseholdVisit), visits)


def _p95(xs: list[float]) -> float:
    return statistics.quantiles(xs, n=20)[18]


def bench_reports(ctx: Context) -> None:
    n, runs = ctx.size(2_000, 300), ctx.size(40, 10)
    for target in ctx.targets:
        app = _app(target)
        rng = random.Random(14)
        with app.test_request_context(), Session(target.engine) as s:
            t0 = time.perf_counter()
            t, street, comms, grids = _street(s, f"report{ctx.tenant()}")
            _fill(s, t, comms, grids, n, rng)
            s.commit()
            street_id = street.id
            checkins = s.scalar(
                select(PartyCheckin.id).where(PartyCheckin.tenant_id == t).order_by(PartyCheckin.id.desc())
            )
            ctx.report.note(
                f"{target.name}: {n:,} party members in {len(grids)} grids, check-ins and visits set up in "
                f"{time.perf_counter() - t0:.0f} s (last check-in id {checkins})"
            )
        today = rep.beijing_today()
        measures = {
            "check-ins by month (12 months)": lambda s, u: rep.party_checkins(s, u),
            "not checked in for 6 months (count + first page of 50)": lambda s, u: rep.absent_page(s, u, 6),
            "grid coverage (50 grids, 12 months)": lambda s, u, today=today: rep.grid_coverage(
                s, u, rep.months_back(today, 12), today
            ),
        }
        worst = 0.0
        for label, fn in measures.items():
            took = []
            with app.test_request_context(), Session(target.engine) as s:
                unit = places.get_unit(s, t, street_id)
                fn(s, unit)  # warm
                for _ in range(runs):
                    t1 = time.perf_counter()
                    fn(s, unit)
                    took.append(time.perf_counter() - t1)
            p95 = _p95(took)
            worst = max(worst, p95)
            ctx.report.add(REPORTS, f"{label}: median / p95", target.name, f"{ms(statistics.median(took))} / {ms(p95)}")
        ctx.report.goal(
            f"compliance report, street of {n:,} party members: p95 < 200 ms (slowest of the three)",
            target.name,
            worst * 1000,
            worst < 0.200,
        )


SECTIONS = [
    Section(
        "reports",
        REPORTS,
        bench_reports,
        """
A street of 10 communities and 50 area grids with 2,000 party members (报到 to their community), each
with 0-24 check-ins at their community's site over the last 13 months (about 24,000 rows), a party
member responsible for 40 of the 50 grids, and 100 household visits per such grid (half confirmed).
Each of the three reports of `app.reports.services` is run for the street 40 times in one session
(after one warm-up run): check-ins by month (one grouped query), the absent party members for 6 months
(a count and the first page of 50), grid coverage (one query with two grouped subqueries). The goal is
on the slowest report's p95.""",
    ),
]
