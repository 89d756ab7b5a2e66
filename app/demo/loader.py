"""Builds the demo district: a Guangming-shaped 区 with grids, ~3,000 members, 包格联户 and role users.

`plan()` decides everything from a fixed seed without touching the database (so the same demo comes
out every time, and tests can regenerate the raw data); `load_demo()` writes the plan in the caller's
transaction — district, passwords and role grants through the services, the org tree, members with
their wallets and the assignments in bulk (seconds, not minutes) — and returns the lines to print.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta

from flask import current_app, has_app_context, has_request_context
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from app.audit.services import record
from app.auth import services as auth
from app.auth.models import User
from app.db import utcnow
from app.people import services as people
from app.people.identity import hash_id_number
from app.people.models import GridAssignment, Member
from app.people.schemas import MemberIn, Status
from app.places import services as places
from app.places.models import District, OrgUnit
from app.points.accounts import open_wallets
from app.points.services import member_points

from . import fake
from . import gridreports as grid_reports
from . import party as party_life
from .activities import load_life, read_back, summary_lines
from .guangming import (
    AREA_GRIDS_PER_COMMUNITY,
    BIGGER_COMMUNITIES,
    CHINESE_NUMERALS,
    ESTATE_SUFFIXES,
    ESTATES,
    LOCAL_SURNAMES,
    STREETS,
    WORK_UNIT_PARTY_ORGS,
    stem,
)

DEFAULT_CODE = "guangming"
DEFAULT_NAME = "光明区（演示）"
SEED = 20260101
MEMBER_COUNT = 3000
# Public on purpose: printed for anyone trying the demo. It passes the password rules (length, not
# a common password, does not contain the mobile).
DEMO_PASSWORD = "aixin-demo-2026"
# One demo sign-in per role: (label, role, scope by name — None for the whole district). The
# volunteer holds no role: a plain member who can sign in.
SIGN_INS = (
    ("organiser", "organiser", "凤凰社区"),
    ("grid_admin (community)", "grid_admin", "塘家社区"),
    ("grid_admin (street)", "grid_admin", "光明街道"),
    ("fund_manager", "fund_manager", None),
    ("fund_approver", "fund_approver", None),
    ("district_admin", "district_admin", None),
    ("auditor", "auditor", None),
    ("volunteer", None, None),
    # Approves what the first proposes (an award above the threshold needs another district admin).
    ("district_admin (second)", "district_admin", None),
)
# Easy-to-type mobiles for the demo sign-ins (valid numbers; the random ones never take them).
SIGNIN_MOBILES = tuple(f"138001380{i:02d}" for i in range(1, len(SIGN_INS) + 1))
VOLUNTEER_MOBILE = SIGNIN_MOBILES[[label for label, _r, _s in SIGN_INS].index("volunteer")]

PARTY_SHARE = 0.30
ID_NUMBER_SHARE = 0.60
VOLUNTEER_SHARE = 0.90


@dataclass(frozen=True)
class UnitSpec:
    key: str
    name: str
    kind: str
    grid_type: str | None = None
    parent: str | None = None
    street: str | None = None  # key of the street the unit lies in
    community: str | None = None  # key of the community a grid lies in
    area: str | None = None  # key of the area grid a smaller grid lies in


@dataclass
class PersonSpec:
    name: str
    sex: str
    mobile: str
    id_number: str | None
    grid: str
    community: str
    status: Status = "active"
    is_volunteer: bool = True
    is_party_member: bool = False
    party_org: str | None = None
    checkin_community: str | None = None
    is_grid_worker: bool = False
    is_building_head: bool = False


@dataclass(frozen=True)
class AssignmentSpec:
    person: int
    unit: str
    role: str
    households: int
    effective_from: date
    effective_to: date | None = None


@dataclass(frozen=True)
class SignInSpec:
    label: str
    person: int
    role: str | None  # None: a plain volunteer who can sign in but holds no role
    scope: str | None = None  # unit key for scoped roles


@dataclass
class Plan:
    units: list[UnitSpec] = field(default_factory=list)
    people: list[PersonSpec] = field(default_factory=list)
    assignments: list[AssignmentSpec] = field(default_factory=list)
    sign_ins: list[SignInSpec] = field(default_factory=list)

    def unit(self, key: str) -> UnitSpec:
        return self._by_key[key]

    def index(self) -> None:
        self._by_key = {u.key: u for u in self.units}


def _day_between(rng: random.Random, first: date, last: date) -> date:
    return first + timedelta(days=rng.randrange((last - first).days + 1))


def _plan_units(rng: random.Random, p: Plan) -> None:
    for si, (street, communities) in enumerate(STREETS):
        skey = f"s{si}"
        p.units.append(UnitSpec(skey, street, "street", street=skey))
        for ci, community in enumerate(communities):
            ckey = f"{skey}c{ci}"
            p.units.append(UnitSpec(ckey, community, "community", parent=skey, street=skey))
            known = list(ESTATES.get(community, ()))
            made_up = [stem(community) + s for s in ESTATE_SUFFIXES if stem(community) + s not in known]
            rng.shuffle(made_up)
            estates = known + made_up
            micro_count = 0
            for ai in range(AREA_GRIDS_PER_COMMUNITY + (community in BIGGER_COMMUNITIES)):
                akey, area_name = f"{ckey}a{ai}", f"{community}第{CHINESE_NUMERALS[ai]}片区"
                p.units.append(UnitSpec(akey, area_name, "grid", "area", parent=ckey, street=skey, community=ckey))
                for bi in range(rng.randint(2, 4)):
                    bkey = f"{akey}b{bi}"
                    p.units.append(
                        UnitSpec(
                            bkey,
                            f"{area_name}第{bi + 1}网格",
                            "grid",
                            "basic",
                            parent=akey,
                            street=skey,
                            community=ckey,
                            area=akey,
                        )
                    )
                    for mi in range(rng.choice((0, 1, 1, 2))):
                        # A micro grid is usually one estate or village; big estates come in phases.
                        estate = estates[micro_count % len(estates)]
                        phase = micro_count // len(estates)
                        name = estate if phase == 0 else f"{estate}{CHINESE_NUMERALS[phase]}期"
                        micro_count += 1
                        p.units.append(
                            UnitSpec(
                                f"{bkey}m{mi}",
                                name,
                                "grid",
                                "micro",
                                parent=bkey,
                                street=skey,
                                community=ckey,
                                area=akey,
                            )
                        )
    p.index()


def _party_org(rng: random.Random, p: Plan, person: PersonSpec) -> str:
    grid = p.unit(person.grid)
    assert grid.area is not None and grid.street is not None  # a residence grid lies in an area and a street
    community = p.unit(person.community).name
    r = rng.random()
    if 0.45 <= r < 0.72:
        return f"{p.unit(grid.area).name}党支部"  # one party organisation per 片区网格
    if 0.72 <= r < 0.85 and grid.grid_type == "micro":
        # 支部建在家门口: a branch in the village or the residential estate.
        estate = grid.name
        return f"{estate}党支部" if estate.endswith(("村", "围")) else f"{estate}小区党支部"
    if 0.85 <= r < 0.9:
        return f"{p.unit(grid.street).name}办事处机关党支部"
    if r >= 0.9:
        return rng.choice(WORK_UNIT_PARTY_ORGS)  # in-service party members report to where they live
    return f"{community}第{CHINESE_NUMERALS[rng.randrange(3)]}党支部"  # the community's own branches


def _plan_people(rng: random.Random, p: Plan, count: int) -> None:
    residences = [u for u in p.units if u.grid_type in ("basic", "micro")]
    communities_of_street: dict[str, list[str]] = {}
    for u in p.units:
        if u.kind == "community":
            assert u.parent is not None  # a community lies in a street
            communities_of_street.setdefault(u.parent, []).append(u.key)
    mobiles: set[str] = set(SIGNIN_MOBILES)
    id_numbers: set[str] = set()
    for _ in range(count):
        grid = rng.choice(residences)
        assert grid.community is not None and grid.street is not None  # a residence lies in both
        sex = rng.choice("MF")
        born = fake.birth_date(rng)
        person = PersonSpec(
            name=fake.person_name(rng, sex, born.year, LOCAL_SURNAMES.get(p.unit(grid.community).name)),
            sex=sex,
            mobile=fake.mobile(rng, mobiles),
            id_number=fake.id_number(rng, sex, born, id_numbers) if rng.random() < ID_NUMBER_SHARE else None,
            grid=grid.key,
            community=grid.community,
        )
        r = rng.random()
        person.status = "suspended" if r < 0.012 else "left" if r < 0.02 else "active"
        person.is_volunteer = rng.random() < VOLUNTEER_SHARE
        if rng.random() < PARTY_SHARE:
            person.is_party_member = True
            person.party_org = _party_org(rng, p, person)
            # Most report (报到) to the community they live in; some to a neighbouring one.
            neighbours = [c for c in communities_of_street[grid.street] if c != grid.community]
            person.checkin_community = rng.choice(neighbours) if neighbours and rng.random() < 0.1 else grid.community
        p.people.append(person)


def _plan_assignments(rng: random.Random, p: Plan) -> None:
    active = [i for i, person in enumerate(p.people) if person.status == "active"]
    by_area: dict[str, list[int]] = {}
    by_grid: dict[str, list[int]] = {}
    party_by_community: dict[str, list[int]] = {}
    for i in active:
        person = p.people[i]
        area = p.unit(person.grid).area
        assert area is not None  # a residence grid lies in an area
        by_area.setdefault(area, []).append(i)
        by_grid.setdefault(person.grid, []).append(i)
        if person.is_party_member:
            assert person.checkin_community is not None  # set with is_party_member (_plan_people)
            party_by_community.setdefault(person.checkin_community, []).append(i)
    basics_of_area: dict[str, list[str]] = {}
    for u in p.units:
        if u.grid_type == "basic":
            assert u.parent is not None  # a basic grid lies in an area grid
            basics_of_area.setdefault(u.parent, []).append(u.key)
    taken: set[int] = set()

    # 网格员: one or two per 片区网格, sharing its 基础网格 between them; now and then a predecessor
    # whose assignment ended, so the history shows.
    for area, basics in basics_of_area.items():
        candidates = [i for i in by_area.get(area, []) if i not in taken]
        if not candidates:
            continue
        workers = rng.sample(candidates, min(len(candidates), 1 if len(basics) <= 2 else 2))
        for n, basic in enumerate(basics):
            worker = workers[n % len(workers)]
            start = _day_between(rng, date(2019, 6, 1), date(2025, 6, 30))
            spare = [i for i in candidates if i not in workers and i not in taken]
            if spare and rng.random() < 0.1:
                before = rng.choice(spare)
                taken.add(before)
                p.assignments.append(
                    AssignmentSpec(
                        before,
                        basic,
                        "grid_worker",
                        rng.randint(150, 450),
                        _day_between(rng, date(2017, 1, 1), date(2019, 1, 1)),
                        start - timedelta(days=1),
                    )
                )
            p.assignments.append(AssignmentSpec(worker, basic, "grid_worker", rng.randint(150, 450), start))
        for worker in workers:
            p.people[worker].is_grid_worker = True
            taken.add(worker)

    # 楼栋长: a resident of most micro grids heads its buildings.
    for u in p.units:
        if u.grid_type != "micro" or rng.random() >= 0.7:
            continue
        residents = [i for i in by_grid.get(u.key, []) if i not in taken]
        if residents:
            head = rng.choice(residents)
            taken.add(head)
            p.people[head].is_building_head = True
            p.assignments.append(
                AssignmentSpec(
                    head,
                    u.key,
                    "building_head",
                    rng.randint(20, 90),
                    _day_between(rng, date(2020, 1, 1), date(2025, 12, 31)),
                )
            )

    # 包格联户: about a third of the party members take a grid of the community they report to,
    # with a handful of households each; a few have moved on from an earlier grid.
    grids_of_community: dict[str, list[str]] = {}
    for u in p.units:
        if u.grid_type in ("basic", "micro"):
            assert u.community is not None  # a residence grid lies in a community
            grids_of_community.setdefault(u.community, []).append(u.key)
    for community, members in party_by_community.items():
        for i in members:
            if rng.random() >= 0.35:
                continue
            grids = rng.sample(grids_of_community[community], min(2, len(grids_of_community[community])))
            start = _day_between(rng, date(2021, 3, 1), date(2025, 12, 31))
            if len(grids) == 2 and rng.random() < 0.08:
                earlier = _day_between(rng, date(2019, 6, 1), start - timedelta(days=60))
                p.assignments.append(
                    AssignmentSpec(i, grids[1], "party_member", rng.randint(5, 30), earlier, start - timedelta(days=1))
                )
            p.assignments.append(AssignmentSpec(i, grids[0], "party_member", rng.randint(5, 30), start))


def _plan_sign_ins(rng: random.Random, p: Plan) -> None:
    units = {u.name: u.key for u in p.units if u.kind in ("street", "community")}
    chosen: set[int] = set()
    for n, (label, role, scope) in enumerate(SIGN_INS):
        home = units[scope] if scope else None

        def fits(i: int, person: PersonSpec, home=home, role=role) -> bool:
            if i in chosen or person.status != "active":
                return False
            if home and home not in (person.community, p.unit(person.community).parent):
                return False  # scoped roles go to someone living in their scope
            return role is not None or (
                person.is_volunteer and not (person.is_party_member or person.is_grid_worker or person.is_building_head)
            )

        i = rng.choice([i for i, person in enumerate(p.people) if fits(i, person)])
        chosen.add(i)
        p.people[i].mobile = SIGNIN_MOBILES[n]  # memorable, and never handed out to anyone else
        p.sign_ins.append(SignInSpec(label, i, role, home))


def plan(seed: int = SEED, members: int = MEMBER_COUNT) -> Plan:
    """Everything the demo will contain, decided from `seed` alone (the same seed, the same demo)."""
    rng = random.Random(seed)
    p = Plan()
    _plan_units(rng, p)
    _plan_people(rng, p, members)
    _plan_assignments(rng, p)
    _plan_sign_ins(rng, p)
    return p


def _insert_units(session: Session, tenant_id: int, p: Plan) -> dict[str, OrgUnit]:
    """The org-unit tree, one level at a time (one batched INSERT, then the paths, per level): the
    same rows `create_unit` writes, without its three round trips per unit."""
    units: dict[str, OrgUnit] = {}
    now = utcnow()
    levels: dict[int, list[UnitSpec]] = {}
    for spec in p.units:
        depth = 0
        up = spec.parent
        while up is not None:
            depth, up = depth + 1, p.unit(up).parent
        levels.setdefault(depth, []).append(spec)
    for depth in sorted(levels):
        made = []
        for spec in levels[depth]:
            parent = units.get(spec.parent) if spec.parent is not None else None
            unit = OrgUnit(
                tenant_id=tenant_id,
                parent_id=parent.id if parent else None,
                kind=spec.kind,
                grid_type=spec.grid_type,
                name=spec.name,
                path="",
                depth=depth,
                created_at=now,
            )
            units[spec.key] = unit
            made.append((unit, parent))
        session.add_all(u for u, _ in made)
        session.flush()
        for unit, parent in made:
            unit.path = f"{parent.path if parent else '/'}{unit.id}/"
        session.flush()
    return units


def _sign_in_lines(district: District, rows: list[tuple[str, str, str, str]], note: str = "") -> list[str]:
    lines = [
        "",
        "DEMO-ONLY sign-ins (public demo passwords: never use them for a real deployment)" + note,
        f"  district: {district.name} (the sign-in page asks for a district only when there are several)",
    ]
    for label, scope, name, mobile in rows:
        lines.append(
            f"  {label:<23} {name:<4}  mobile {mobile}  password {DEMO_PASSWORD}"
            + (f"  scope {scope}" if scope else "")
        )
    return lines


def _already_loaded(session: Session, district: District) -> list[str]:
    """Nothing changes; the demo sign-ins are printed again (read back, not re-created)."""
    members = session.scalar(select(func.count()).select_from(Member).where(Member.tenant_id == district.id))
    found = dict(
        session.execute(
            select(Member.mobile, Member.name)
            .join(User, User.member_id == Member.id)
            .where(Member.tenant_id == district.id, Member.mobile.in_(SIGNIN_MOBILES))
        ).all()
    )
    rows = [
        (label, scope or "", found[mobile], mobile)
        for (label, _role, scope), mobile in zip(SIGN_INS, SIGNIN_MOBILES, strict=False)
        if mobile in found
    ]
    by_mobile = {
        m.mobile: m
        for m in session.scalars(
            select(Member).where(
                Member.tenant_id == district.id, Member.mobile.in_((SIGNIN_MOBILES[0], VOLUNTEER_MOBILE))
            )
        )
    }
    volunteer = by_mobile.get(VOLUNTEER_MOBILE)
    life = read_back(session, district.id, by_mobile.get(SIGNIN_MOBILES[0]), volunteer)
    life += party_life.read_back(session, district.id, volunteer)
    life += grid_reports.read_back(session, district.id)
    return (
        [
            f"The demo district {district.name} (code {district.code}) is already loaded "
            f"({members} members); nothing changed."
        ]
        + life
        + _sign_in_lines(district, rows, note=" — as first loaded, unless changed since")
    )


def load_demo(
    session: Session,
    code: str = DEFAULT_CODE,
    name: str = DEFAULT_NAME,
    *,
    seed: int = SEED,
    members: int = MEMBER_COUNT,
) -> list[str]:
    """Create the demo district in the caller's transaction; a district with `code` already there
    means it was loaded before, and nothing is written. Returns the lines to print."""
    if has_app_context() and not has_request_context():
        # Services turn lazy messages into text (why a member may not join an activity, which the demo's
        # sign-ups meet on some days and skip); Flask-Babel reads the locale from a request, which a CLI
        # command or a test fixture has none of: a plain one stands in.
        with current_app.test_request_context():
            return load_demo(session, code, name, seed=seed, members=members)
    existing = session.scalar(select(District).where(District.code == code))
    if existing is not None:
        return _already_loaded(session, existing)

    p = plan(seed, members)
    district = places.create_district(session, code=code, name=name)
    t = district.id

    units = _insert_units(session, t, p)

    # Members in bulk (create_member per row would take a minute): every row is checked by the same
    # schema as forms and imports, stored as create_member stores it, then the wallets open in one go.
    key, now = people.id_hash_key(), utcnow()
    rows: list[Member] = []
    for person in p.people:
        data = MemberIn(
            name=person.name,
            mobile=person.mobile,
            id_number=person.id_number,
            grid_id=units[person.grid].id,
            status=person.status,
            is_volunteer=person.is_volunteer,
            is_party_member=person.is_party_member,
            party_org=person.party_org,
            checkin_community_id=units[person.checkin_community].id if person.checkin_community else None,
            is_grid_worker=person.is_grid_worker,
            is_building_head=person.is_building_head,
        )
        rows.append(
            Member(
                **people.member_row(
                    t, data, id_hash=hash_id_number(data.id_number, key) if data.id_number else None, now=now
                )
            )
        )
    session.add_all(rows)
    session.flush()
    open_wallets(session, t, [m.id for m in rows])

    # 包格联户 in bulk too: the plan only makes assignments `assign` would accept (an active grid of
    # the district, a known role, households >= 0, no duplicate open assignment).
    session.execute(
        insert(GridAssignment),
        [
            dict(
                tenant_id=t,
                member_id=rows[a.person].id,
                org_unit_id=units[a.unit].id,
                role=a.role,
                households=a.households,
                effective_from=a.effective_from,
                effective_to=a.effective_to,
                created_at=now,
            )
            for a in p.assignments
        ],
    )

    sign_in_rows = []
    sign_in_members: dict[str, Member] = {}
    for s in p.sign_ins:
        member = rows[s.person]
        auth.set_password(session, member, DEMO_PASSWORD)
        scope = units[s.scope] if s.scope else None
        if s.role:
            auth.grant_role(session, None, member, s.role, scope)
        sign_in_rows.append((s.label, scope.name if scope else "", member.name, member.mobile))
        sign_in_members[s.label] = member

    # The activities were planned before the second district admin existed: the same life as before.
    first_sign_ins = {k: m for k, m in sign_in_members.items() if k != "district_admin (second)"}
    life = load_life(session, t, rows, first_sign_ins, seed)
    made = party_life.load_party(session, t, rows, sign_in_members, seed)
    reported = grid_reports.load_gridreports(session, t, rows, sign_in_members, seed)
    after = member_points(session, t, sign_in_members["volunteer"].id)  # with the award the party life gave
    life.volunteer_available, life.volunteer_pending = after.available, after.pending

    grids = {gt: sum(1 for u in p.units if u.grid_type == gt) for gt in ("area", "basic", "micro")}
    party = sum(1 for m in rows if m.is_party_member)
    with_id = sum(1 for m in rows if m.id_number_hash)
    record(
        session,
        "demo.load",
        tenant_id=t,
        target_type="district",
        target_id=t,
        detail={
            "seed": seed,
            "units": len(p.units),
            "members": len(rows),
            "assignments": len(p.assignments),
            "activities": life.past + life.upcoming,
        },
    )
    session.flush()
    streets = sum(1 for u in p.units if u.kind == "street")
    communities = sum(1 for u in p.units if u.kind == "community")
    return (
        [
            f"Loaded the demo district {name} (code {code}): {streets} streets, {communities} communities, "
            f"{grids['area']} area grids with {grids['basic']} basic and {grids['micro']} micro grids "
            f"({len(p.units)} org units); {len(rows)} members ({party} party members, {with_id} with an ID number), "
            f"each with a PT wallet; {len(p.assignments)} grid assignments.",
        ]
        + summary_lines(life, sign_in_members["organiser"], sign_in_members["volunteer"])
        + party_life.summary_lines(made, sign_in_members["volunteer"])
        + grid_reports.summary_lines(reported)
        + _sign_in_lines(district, sign_in_rows)
    )
