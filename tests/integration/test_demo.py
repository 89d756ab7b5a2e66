"""`flask demo load`: the Guangming-shaped demo district — its shape, its printed sign-ins, running
it twice, and that every mobile and ID number in it is valid (loads ~3,000 members: slow)."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import date

import pytest
from sqlalchemy import func, select

from app.auth import services as auth
from app.auth.models import RoleGrant, User
from app.auth.passwords import password_problem
from app.db import unit_of_work
from app.demo.loader import load_demo, plan
from app.people.identity import hash_id_number, id_checksum_ok, mask_id_number, valid_mobile
from app.people.models import GridAssignment, Member
from app.people.services import id_hash_key
from app.places.models import District, OrgUnit
from ledger import Ledger
from ledger.schema import accounts
from tests.conftest import csrf_from

# The demo loader's sign-ins are checked from fresh connections: its district must really commit.
pytestmark = [pytest.mark.slow, pytest.mark.commits]

SIGN_IN_LINE = re.compile(
    r"^\s+(?P<label>\S+(?: \((?:community|street)\))?)\s+(?P<name>\S+)"
    r"\s+mobile (?P<mobile>\d{11})\s+password (?P<password>\S+)(?:\s+scope (?P<scope>\S+))?$"
)
# One demo per database per test session: loading 3,000 members is the slow part.
_loaded: dict[str, tuple[str, list[str]]] = {}


@dataclass
class Demo:
    code: str
    district_id: int
    lines: list[str]


@pytest.fixture
def demo(app, db_url) -> Demo:
    if db_url not in _loaded:
        code = f"gm-{uuid.uuid4().hex[:12]}"  # the PostgreSQL test database is shared: a code per run
        with app.app_context(), unit_of_work(app.extensions["db_sessionmaker"]) as s:
            lines = load_demo(s, code=code, name=f"光明区（演示 {code}）")
        _loaded[db_url] = (code, lines)
    code, lines = _loaded[db_url]
    with app.app_context(), unit_of_work(app.extensions["db_sessionmaker"]) as s:
        district_id = s.scalar(select(District.id).where(District.code == code))
    return Demo(code, district_id, lines)


def _sign_ins(lines: list[str]) -> dict[str, dict]:
    found = {}
    for line in lines:
        m = SIGN_IN_LINE.match(line)
        if m:
            found[m["label"]] = m.groupdict()
    return found


def _counts(s, t: int) -> dict[str, int]:
    def n(model):
        return s.scalar(select(func.count()).select_from(model).where(model.tenant_id == t))

    return {
        "units": n(OrgUnit),
        "members": n(Member),
        "assignments": n(GridAssignment),
        "users": n(User),
        "grants": n(RoleGrant),
        "wallets": s.scalar(select(func.count()).select_from(accounts).where(accounts.c.tenant_id == t)),
        "districts": s.scalar(select(func.count()).select_from(District)),
    }


def test_demo_has_the_shape_of_guangming(app, demo):
    with app.app_context(), unit_of_work(app.extensions["db_sessionmaker"]) as s:
        t = demo.district_id
        kind = func.coalesce(OrgUnit.grid_type, OrgUnit.kind)
        kinds = dict(s.execute(select(kind, func.count()).where(OrgUnit.tenant_id == t).group_by(kind)).all())
        assert kinds["street"] == 6
        assert kinds["community"] == 31
        assert kinds["area"] == 103
        assert kinds["basic"] >= 103 and kinds["micro"] > 0
        assert sum(kinds.values()) <= 1000
        streets = set(s.scalars(select(OrgUnit.name).where(OrgUnit.tenant_id == t, OrgUnit.kind == "street")))
        assert streets == {"光明街道", "公明街道", "新湖街道", "凤凰街道", "玉塘街道", "马田街道"}
        communities = set(s.scalars(select(OrgUnit.name).where(OrgUnit.tenant_id == t, OrgUnit.kind == "community")))
        assert {"凤凰社区", "塘家社区", "东周社区", "楼村社区"} <= communities
        # Every community has area grids, and every area grid smaller grids under it.
        for community in s.scalars(select(OrgUnit).where(OrgUnit.tenant_id == t, OrgUnit.kind == "community")):
            areas = s.scalars(select(OrgUnit).where(OrgUnit.parent_id == community.id)).all()
            assert areas and all(a.grid_type == "area" for a in areas), community.name
            for area in areas:
                assert s.scalar(select(func.count()).select_from(OrgUnit).where(OrgUnit.parent_id == area.id)) >= 2

        members = s.scalars(select(Member).where(Member.tenant_id == t)).all()
        assert 2850 <= len(members) <= 3150
        party = [m for m in members if m.is_party_member]
        assert 0.25 <= len(party) / len(members) <= 0.35
        community_ids = {
            u.id for u in s.scalars(select(OrgUnit).where(OrgUnit.tenant_id == t, OrgUnit.kind == "community"))
        }
        assert all(m.party_org and m.checkin_community_id in community_ids for m in party)
        assert not any(m.party_org or m.checkin_community_id for m in members if not m.is_party_member)
        grid_types = dict(s.execute(select(OrgUnit.id, OrgUnit.grid_type).where(OrgUnit.tenant_id == t)).all())
        assert all(grid_types[m.grid_id] in ("basic", "micro") for m in members)

        # Every member has a PT wallet, empty: all of them read from the accounts table, and a sample
        # through the ledger's own API.
        wallets = {r.code: r for r in s.execute(select(accounts).where(accounts.c.tenant_id == t))}
        assert set(wallets) == {m.wallet_code for m in members}
        assert all(
            (w.unit, w.normal, w.no_overdraft, w.closed) == ("PT", "credit", True, False)
            and w.debits_posted == w.credits_posted == w.debits_pending == w.credits_pending == 0
            for w in wallets.values()
        )
        book = Ledger(s, tenant=t)
        for m in members[::60]:
            bal = book.balance(m.wallet_code)
            assert (bal.posted, bal.pending_in, bal.pending_out, bal.available) == (0, 0, 0, 0)

        # 包格联户 and the grid workers and building heads carry the matching tag and a current assignment.
        assignments = s.scalars(select(GridAssignment).where(GridAssignment.tenant_id == t)).all()
        by_member = {m.id: m for m in members}
        for role, tag in (
            ("party_member", "is_party_member"),
            ("grid_worker", "is_grid_worker"),
            ("building_head", "is_building_head"),
        ):
            current = [a for a in assignments if a.role == role and a.current(date(2026, 1, 1))]
            assert len(current) >= 50, role
            assert all(getattr(by_member[a.member_id], tag) for a in current), role
            assert all(a.households is not None and a.households > 0 for a in current), role
        assert any(a.effective_to is not None for a in assignments)  # some history


def test_every_printed_sign_in_works_with_its_role(app, demo):
    sign_ins = _sign_ins(demo.lines)
    assert set(sign_ins) == {
        "organiser",
        "grid_admin (community)",
        "grid_admin (street)",
        "fund_manager",
        "fund_approver",
        "district_admin",
        "auditor",
        "volunteer",
    }
    assert any("DEMO-ONLY" in line for line in demo.lines)
    expected = {
        "organiser": (["organiser"], "community"),
        "grid_admin (community)": (["grid_admin"], "community"),
        "grid_admin (street)": (["grid_admin"], "street"),
        "volunteer": ([], None),
    }
    members = set()
    with app.app_context(), app.test_request_context(), unit_of_work(app.extensions["db_sessionmaker"]) as s:
        for label, row in sign_ins.items():
            assert password_problem(row["password"], mobile=row["mobile"]) is None
            principal = auth.sign_in(s, demo.district_id, row["mobile"], row["password"])
            roles, scope_kind = expected.get(label, ([label], None))
            assert principal.roles == roles, label
            assert principal.name == row["name"]
            for scope in principal.scopes:
                if scope_kind:
                    unit = s.scalar(
                        select(OrgUnit).where(OrgUnit.tenant_id == demo.district_id, OrgUnit.path == scope.path)
                    )
                    assert (unit.kind, unit.name) == (scope_kind, row["scope"]), label
                else:
                    assert scope.path is None, label
            members.add(principal.member_id)
    with app.app_context(), app.test_request_context(), unit_of_work(app.extensions["db_sessionmaker"]) as s:
        with pytest.raises(auth.SignInFailed):
            auth.sign_in(s, demo.district_id, sign_ins["auditor"]["mobile"], "not-the-password")
    assert len(members) == len(sign_ins)  # fund manager and approver (and every other role) are different people


def test_a_printed_sign_in_works_on_the_sign_in_page(client, demo):
    row = _sign_ins(demo.lines)["district_admin"]
    page = client.get("/signin")
    resp = client.post(
        "/signin",
        data={
            "csrf_token": csrf_from(page.get_data(as_text=True)),
            "district": demo.district_id,
            "mobile": row["mobile"],
            "password": row["password"],
        },
    )
    assert resp.status_code == 302, resp.get_data(as_text=True)[:2000]
    listing = client.get("/members/?q=" + row["mobile"])
    assert listing.status_code == 200
    assert row["name"] in listing.get_data(as_text=True)


def test_loading_twice_changes_nothing(app, demo):
    with app.app_context(), unit_of_work(app.extensions["db_sessionmaker"]) as s:
        before = _counts(s, demo.district_id)
    with app.app_context(), unit_of_work(app.extensions["db_sessionmaker"]) as s:
        lines = load_demo(s, code=demo.code)
    with app.app_context(), unit_of_work(app.extensions["db_sessionmaker"]) as s:
        after = _counts(s, demo.district_id)
    assert "already loaded" in lines[0]
    assert after == before
    assert before["wallets"] == before["members"]
    # The same sign-ins are printed again.
    again = {label: (row["name"], row["mobile"], row["password"]) for label, row in _sign_ins(lines).items()}
    first = {label: (row["name"], row["mobile"], row["password"]) for label, row in _sign_ins(demo.lines).items()}
    assert again == first and len(first) == 8


def test_every_mobile_is_valid_and_unique(app, demo):
    with app.app_context(), unit_of_work(app.extensions["db_sessionmaker"]) as s:
        rows = s.execute(select(Member.mobile, Member.mobile_tail).where(Member.tenant_id == demo.district_id)).all()
    assert all(valid_mobile(mobile) and tail == mobile[-4:] for mobile, tail in rows)
    assert len({mobile for mobile, _ in rows}) == len(rows)


def test_every_id_number_was_valid_and_is_stored_only_masked_and_hashed(app, demo):
    """The raw numbers never reach the database; the plan (same seed, same people) still knows them."""
    raw = {person.mobile: person.id_number for person in plan().people}
    with app.app_context(), unit_of_work(app.extensions["db_sessionmaker"]) as s:
        key = id_hash_key()
        rows = s.execute(
            select(Member.mobile, Member.id_number_hash, Member.id_number_masked).where(
                Member.tenant_id == demo.district_id
            )
        ).all()
    assert len(rows) == len(raw)
    with_id = 0
    for mobile, id_hash, masked in rows:
        number = raw[mobile]
        if number is None:
            assert id_hash is None and masked is None
            continue
        with_id += 1
        assert id_checksum_ok(number), number
        assert number.startswith("4403")
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))  # raises if not a real date
        assert date(1940, 1, 1) <= born <= date(2008, 12, 31)
        assert masked == mask_id_number(number) and re.fullmatch(r"4403\*{10}\d{3}[\dX]", masked)
        assert id_hash == hash_id_number(number, key)
    assert 0.55 <= with_id / len(rows) <= 0.65
    assert len({h for _, h, _ in rows if h}) == with_id
