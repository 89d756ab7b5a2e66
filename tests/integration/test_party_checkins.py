"""Party check-ins (报到) and household visits through the services, on SQLite and PostgreSQL: once a day
per site, the monthly cap (what it cut is recorded), another community's site earning by its own rule,
refusals (not a party member, outside the radius), visits confirmed or rejected only by the grid's admin.
On PostgreSQL, real concurrency: 30 simultaneous scans give one check-in and one posting, and
simultaneous check-ins at different sites never pass the monthly cap. The ledger verifies clean."""

from __future__ import annotations

import calendar
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.access import can
from app.auth import services as auth
from app.auth.services import open_session, user_for_member
from app.checkins import errors
from app.checkins import services as chk
from app.checkins.labels import CONFIRMED, REJECTED, SUBMITTED
from app.checkins.models import PartyCheckin
from app.people import services as people
from app.people.models import Member
from app.places import services as places
from app.points import caps
from app.points.checkin_rules import change_checkin_rule
from app.points.services import member_points
from app.tokens import TokenInvalid, make_token
from ledger import Ledger
from ledger.schema import journals
from tests.factories import make_member, make_town

PLACE = (22.7780, 113.9360)
# 2026-12-05 10:00 Beijing = 02:00 UTC
DAY1 = datetime(2026, 12, 5, 2, 0)


@dataclass
class Env:
    s: Session
    town: object
    tenant: int
    admin_user: int

    def site(self, unit=None, **kw):
        return chk.create_site(self.s, self.tenant, self.admin_user, unit or self.town.community_a, "", **kw)

    def party(self, name="党员甲", community=None, **kw):
        community = community or self.town.community_a
        return make_member(
            self.s,
            self.tenant,
            self.town.grid_a1,
            name=name,
            is_party_member=True,
            checkin_community_id=community.id,
            **kw,
        )

    def check_in(self, member, site, at=DAY1, **kw):
        token = make_token("site_poster", self.tenant, site.id)
        return chk.check_in(self.s, member, token, now=at, **kw).checkin

    def wallet(self, member) -> int:
        return member_points(self.s, self.tenant, member.id).available

    def verify(self):
        assert Ledger(self.s, tenant=self.tenant).verify() == []


@pytest.fixture
def env(app):
    with app.app_context(), app.test_request_context():
        s = app.extensions["db_sessionmaker"]()
        town = make_town(s)
        admin = town.users["district_admin"][0]
        yield Env(s, town, town.district.id, user_for_member(s, admin).id)
        s.close()


def test_once_a_day_per_site_beijing_day(env):
    site = env.site()
    other = env.site(env.town.grid_a1)
    m = env.party()
    first = env.check_in(m, site)
    assert (first.points, first.points_cut, first.day) == (2, 0, date(2026, 12, 5))
    with pytest.raises(errors.AlreadyCheckedInToday) as e:
        env.check_in(m, site, DAY1 + timedelta(hours=12))  # 22:00 Beijing, same day
    assert e.value.code == "already_checked_in_today"
    # Another site the same day, and the same site after Beijing midnight (16:00 UTC), are new check-ins.
    assert env.check_in(m, other).points == 2
    assert env.check_in(m, site, DAY1 + timedelta(hours=14)).day == date(2026, 12, 6)
    assert env.s.scalar(select(func.count()).select_from(PartyCheckin).where(PartyCheckin.member_id == m.id)) == 3
    assert env.wallet(m) == 6
    env.verify()


def test_monthly_cap_cuts_and_records_what_it_cut(env):
    change_checkin_rule(
        env.s, env.tenant, env.admin_user, points_per_checkin=3, monthly_cap=10, now=DAY1 - timedelta(days=10)
    )
    site = env.site()
    m = env.party()
    got = [env.check_in(m, site, DAY1 + timedelta(days=i)) for i in range(5)]  # 5 days in December
    assert [(c.points, c.points_cut) for c in got] == [(3, 0), (3, 0), (3, 0), (1, 2), (0, 3)]
    assert all(c.monthly_cap == 10 for c in got)
    assert got[4].journal_id is None
    assert env.wallet(m) == 10
    assert caps.used(env.s, env.tenant, m.id, "checkin", "2026-12") == 10
    # A new month starts afresh (Beijing calendar: 2027-01-01 00:30 Beijing is still 2026-12-31 UTC).
    jan = env.check_in(m, site, datetime(2026, 12, 31, 16, 30))
    assert (jan.points, jan.points_cut, jan.day) == (3, 0, date(2027, 1, 1))
    keys = env.s.scalars(select(journals.c.key).where(journals.c.tenant_id == env.tenant, journals.c.kind == "checkin"))
    assert sorted(keys) == sorted(f"checkin:{c.id}" for c in [*got[:4], jan])
    env.verify()


def test_other_community_site_earns_by_its_own_rule(env):
    own, elsewhere, grid_site = env.site(), env.site(env.town.community_b), env.site(env.town.grid_a2)
    m = env.party()
    c = env.check_in(m, elsewhere)
    assert (c.own_community, c.points, c.points_cut) == (False, 0, 0)  # recorded, earns nothing by default
    assert env.check_in(m, grid_site).own_community is True  # a grid under the own community
    assert env.check_in(m, own).points == 2
    change_checkin_rule(env.s, env.tenant, env.admin_user, points_per_checkin=2, other_site_points=1, now=DAY1)
    assert env.check_in(m, elsewhere, DAY1 + timedelta(days=1)).points == 1
    env.verify()


def test_a_scan_is_priced_by_its_own_districts_rule_in_force_at_the_scan(env):
    """The scan reads the site, the member's community and the rule in one statement: another
    district's rule, a version scheduled for later, and a member with no 报到 community must not leak in."""
    other = make_town(env.s)
    change_checkin_rule(env.s, other.district.id, None, points_per_checkin=9, monthly_cap=None, now=DAY1)
    site, elsewhere = env.site(), env.site(env.town.community_b)
    m = env.party()
    assert env.check_in(m, site).points == 2  # the built-in default: this district has no rule
    change_checkin_rule(env.s, env.tenant, env.admin_user, points_per_checkin=4, other_site_points=1, now=DAY1)
    change_checkin_rule(
        env.s, env.tenant, env.admin_user, points_per_checkin=7, now=DAY1, effective_from=DAY1 + timedelta(days=2)
    )
    assert env.check_in(m, site, DAY1 + timedelta(days=1)).points == 4  # version 1 in force, not the scheduled one
    assert env.check_in(m, elsewhere, DAY1 + timedelta(days=1)).points == 1
    assert env.check_in(m, site, DAY1 + timedelta(days=2)).points == 7
    homeless = make_member(env.s, env.tenant, env.town.grid_a1, name="党员无", is_party_member=True)
    c = env.check_in(homeless, site, DAY1 + timedelta(days=2))
    assert (c.own_community, c.points) == (False, 0)  # other_site_points of version 2: 0
    env.verify()


def test_not_a_party_member_is_refused(env):
    site = env.site()
    v = make_member(env.s, env.tenant, env.town.grid_a1, name="群众乙")
    with pytest.raises(errors.NotAPartyMember) as e:
        env.check_in(v, site)
    assert e.value.code == "not_a_party_member"
    assert env.s.scalar(select(func.count()).select_from(PartyCheckin).where(PartyCheckin.member_id == v.id)) == 0


def test_radius(env):
    site = env.site(lat=PLACE[0], lng=PLACE[1], radius_m=200)
    m = env.party()
    with pytest.raises(errors.LocationRequired):
        env.check_in(m, site)
    with pytest.raises(errors.OutsideRadius) as e:
        env.check_in(m, site, lat=PLACE[0] + 0.01, lng=PLACE[1])  # about 1.1 km north
    assert e.value.code == "outside_radius"
    c = env.check_in(m, site, lat=PLACE[0] + 0.0005, lng=PLACE[1])
    assert c.distance_m is not None and 40 < c.distance_m < 70 and c.points == 2


def test_rotating_site_code_and_wrong_tokens(env):
    site = env.site()
    m = env.party()
    ts = calendar.timegm(DAY1.timetuple())
    token = make_token("checkin_site", env.tenant, site.id, ts)
    assert chk.check_in(env.s, m, token, now=DAY1).checkin.source == "code"
    stale = make_token("checkin_site", env.tenant, site.id, ts - 600)
    with pytest.raises(TokenInvalid) as e:
        chk.check_in(env.s, m, stale, now=DAY1 + timedelta(days=1))
    assert e.value.code == "token_expired"


def test_site_only_for_community_or_area_grid_once(env):
    with pytest.raises(errors.SiteInvalid):
        env.site(env.town.street)
    env.site()
    with pytest.raises(errors.SiteExists):
        env.site()


def test_visits_confirmed_or_rejected_only_by_the_grids_admin(env, app):
    m = env.party()
    people.assign(env.s, m, env.town.grid_a1, "party_member", effective_from=date(2026, 11, 1))
    with pytest.raises(errors.NotResponsible):
        chk.log_visit(env.s, m, env.town.grid_b1.id, date(2026, 12, 4), 5, today=date(2026, 12, 5))
    with pytest.raises(errors.NotResponsible):  # before the assignment began
        chk.log_visit(env.s, m, env.town.grid_a1.id, date(2026, 10, 30), 5, today=date(2026, 12, 5))
    with pytest.raises(errors.VisitInvalid):
        chk.log_visit(env.s, m, env.town.grid_a1.id, date(2026, 12, 4), 0, today=date(2026, 12, 5))
    v1 = chk.log_visit(env.s, m, env.town.grid_a1.id, date(2026, 12, 4), 12, "送温暖", today=date(2026, 12, 5))
    v2 = chk.log_visit(env.s, m, env.town.grid_a1.id, date(2026, 12, 5), 3, today=date(2026, 12, 5))
    assert v1.status == SUBMITTED

    grid_admin = open_session(env.s, user_for_member(env.s, env.town.users["grid_admin"][0]).id)
    volunteer = open_session(env.s, user_for_member(env.s, env.town.users["volunteer"][0]).id)
    assert can(grid_admin, "visit.confirm", v1)
    assert not can(volunteer, "visit.confirm", v1)
    # A grid admin of the other community may not.
    other = make_member(env.s, env.tenant, env.town.grid_b1, name="他格管理员")
    auth.set_password(env.s, other, "Passw0rd-long-enough")
    auth.grant_role(env.s, None, other, "grid_admin", env.town.community_b)
    assert not can(open_session(env.s, user_for_member(env.s, other).id), "visit.confirm", v1)

    with pytest.raises(errors.VisitInvalid):
        chk.decide_visit(env.s, v2, 1, confirm=False, reason="")
    with pytest.raises(errors.OwnVisit):  # the member who made the visit does not decide it
        chk.decide_visit(env.s, v1, 1, confirm=True, actor_member_id=m.id)
    assert v1.status == SUBMITTED
    assert chk.decide_visit(env.s, v1, None, confirm=True).status == CONFIRMED
    assert chk.decide_visit(env.s, v2, None, confirm=False, reason="日期不对").status == REJECTED
    with pytest.raises(errors.AlreadyDecided):
        chk.decide_visit(env.s, v1, None, confirm=False, reason="x")


@pytest.mark.parametrize(
    ("takes", "cap", "granted"),
    [
        ([5, 5, 5], 12, [5, 5, 2]),  # the third is cut to what is left
        ([5, 5, 5], None, [5, 5, 5]),  # no cap: counted, never cut
        ([0, 3, -2], 10, [0, 3, 0]),  # nothing asked, nothing taken
        ([4, 4], 0, [0, 0]),  # a cap of 0 grants nothing
        ([20], 15, [15]),
    ],
)
def test_caps_take_table(env, takes, cap, granted):
    m = make_member(env.s, env.tenant, env.town.grid_a1, name="志愿者己")
    assert [caps.take(env.s, env.tenant, m.id, "hours", "2026-12-05", t, cap) for t in takes] == granted
    assert caps.used(env.s, env.tenant, m.id, "hours", "2026-12-05") == sum(granted)
    # Another period, kind or member has its own counter.
    assert caps.take(env.s, env.tenant, m.id, "hours", "2026-12-06", 1, cap) == (0 if cap == 0 else 1)
    assert caps.take(env.s, env.tenant, m.id, "checkin", "2026-12-05", 1, cap) == (0 if cap == 0 else 1)


def test_a_rule_change_mid_month_keeps_the_months_counter(env):
    site, grid_site = env.site(), env.site(env.town.grid_a1)
    m = env.party()
    change_checkin_rule(env.s, env.tenant, env.admin_user, points_per_checkin=8, monthly_cap=30, now=DAY1)
    assert env.check_in(m, site).points == 8
    assert env.check_in(m, grid_site).points == 8
    # From the 10th: 10 a check-in, cap 20 — what was earned before counts against it.
    change_checkin_rule(
        env.s, env.tenant, env.admin_user, points_per_checkin=10, monthly_cap=20, now=DAY1 + timedelta(days=5)
    )
    c = env.check_in(m, site, DAY1 + timedelta(days=5, hours=1))
    assert (c.points, c.points_cut, c.monthly_cap) == (4, 6, 20)
    env.verify()


# --- real concurrency on PostgreSQL ------------------------------------------------------------------------


@pytest.fixture
def pg_app(pg_engine, postgres_url):
    from app import create_app  # noqa: PLC0415  (the app on its own engine, committing for real)
    from tests.conftest import TEST_CONFIG  # noqa: PLC0415

    return create_app({**TEST_CONFIG, "DATABASE_URL": postgres_url, "ENGINE": pg_engine})


def _build(app, fn):
    from app.db import unit_of_work  # noqa: PLC0415

    with app.app_context(), app.test_request_context(), unit_of_work(app.extensions["db_sessionmaker"]) as s:
        return fn(s)


def _together(app, engine, n: int, work) -> list:
    """work(session, i) in n threads, each in its own committed transaction, released together."""
    barrier = threading.Barrier(n)

    def one(i: int):
        barrier.wait(timeout=60)
        with app.app_context(), app.test_request_context():
            try:
                with Session(engine) as s:
                    result = work(s, i)
                    s.commit()
                    return result
            except Exception as exc:  # noqa: BLE001  (the caller asserts on every outcome)
                return exc

    with ThreadPoolExecutor(max_workers=n) as pool:
        return [f.result() for f in [pool.submit(one, i) for i in range(n)]]


def _outcome(r) -> str:
    return type(r).__name__ if isinstance(r, Exception) else "ok"


@pytest.mark.postgres
@pytest.mark.commits
def test_30_simultaneous_scans_make_one_checkin_and_one_posting(pg_app, pg_engine):
    def setup(s):
        town = make_town(s)
        site = chk.create_site(s, town.district.id, None, town.community_a, "")
        m = make_member(
            s,
            town.district.id,
            town.grid_a1,
            name="党员丙",
            is_party_member=True,
            checkin_community_id=town.community_a.id,
        )
        return town.district.id, site.id, m.id

    tenant, site_id, member_id = _build(pg_app, setup)
    with pg_app.app_context():
        token = make_token("site_poster", tenant, site_id)

    def scan(s, i):
        return chk.check_in(s, s.get(Member, member_id), token, now=DAY1).checkin.points

    results = _together(pg_app, pg_engine, 30, scan)
    assert Counter(map(_outcome, results)) == {"ok": 1, "AlreadyCheckedInToday": 29}
    with Session(pg_engine) as s:
        assert s.scalar(select(func.count()).select_from(PartyCheckin).where(PartyCheckin.member_id == member_id)) == 1
        posted = s.scalars(
            select(journals.c.key).where(journals.c.tenant_id == tenant, journals.c.kind == "checkin")
        ).all()
        assert len(posted) == 1
        assert Ledger(s, tenant=tenant).verify() == []
        assert member_points(s, tenant, member_id).available == 2


@pytest.mark.postgres
@pytest.mark.commits
def test_simultaneous_checkins_at_different_sites_never_pass_the_monthly_cap(pg_app, pg_engine):
    n = 12

    def setup(s):
        town = make_town(s)
        change_checkin_rule(
            s, town.district.id, None, points_per_checkin=3, monthly_cap=20, now=DAY1 - timedelta(days=1)
        )
        units = [town.community_a, town.grid_a1, town.grid_a2]
        for i in range(n - 3):
            units.append(
                places.create_unit(
                    s,
                    town.district.id,
                    name=f"凤凰第{i + 3}片区",
                    kind="grid",
                    grid_type="area",
                    parent=town.community_a,
                )
            )
        sites = [chk.create_site(s, town.district.id, None, u, "").id for u in units]
        m = make_member(
            s,
            town.district.id,
            town.grid_a1,
            name="党员丁",
            is_party_member=True,
            checkin_community_id=town.community_a.id,
        )
        return town.district.id, sites, m.id

    tenant, sites, member_id = _build(pg_app, setup)

    def scan(s, i):
        token = make_token("site_poster", tenant, sites[i])
        c = chk.check_in(s, s.get(Member, member_id), token, now=DAY1)
        return c.checkin.points, c.checkin.points_cut

    results = _together(pg_app, pg_engine, n, scan)
    assert all(isinstance(r, tuple) for r in results), results
    assert sum(p for p, _ in results) == 20  # 12 × 3 = 36 asked, the cap holds at 20
    assert sum(c for _, c in results) == 16
    with Session(pg_engine) as s:
        assert member_points(s, tenant, member_id).available == 20
        assert caps.used(s, tenant, member_id, "checkin", "2026-12") == 20
        assert Ledger(s, tenant=tenant).verify() == []


@pytest.mark.postgres
@pytest.mark.commits
def test_caps_take_under_concurrency(pg_app, pg_engine):
    """The general counter other kinds use (hours caps): 40 takes of 7 against a cap of 100."""

    def setup(s):
        town = make_town(s)
        return town.district.id, make_member(s, town.district.id, town.grid_a1, name="志愿者戊").id

    tenant, member_id = _build(pg_app, setup)
    results = _together(
        pg_app, pg_engine, 40, lambda s, i: caps.take(s, tenant, member_id, "hours", "2026-12-05", 7, 100)
    )
    assert sorted(results) == [0] * 25 + [2] + [7] * 14
    with Session(pg_engine) as s:
        assert caps.used(s, tenant, member_id, "hours", "2026-12-05") == 100


def test_only_a_party_member_is_made_a_responsible_party_member(env):
    # A volunteer given the 包格联户 duty would have no way to log visits (the menu is for party members).
    from app.errors import ValidationFailed

    volunteer = env.town.users["volunteer"][0]
    assert not volunteer.is_party_member
    with pytest.raises(ValidationFailed) as refused:
        people.assign(env.s, volunteer, env.town.grid_a1, "party_member", effective_from=date(2026, 12, 1))
    assert refused.value.field == "role"
    people.assign(env.s, volunteer, env.town.grid_a1, "grid_worker", effective_from=date(2026, 12, 1))
