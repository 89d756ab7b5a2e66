"""Factories for test data: a small district with a street, communities, grids and people with roles.

Everything goes through the services, so members get wallets and the audit log is written, as in
production. Each call makes a fresh district, so tests never see each other's rows."""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, field

from app.auth import services as auth
from app.people import services as people
from app.people.identity import id_check_char
from app.people.schemas import MemberIn
from app.places import services as places

PASSWORD = "correct horse battery"
_seq = itertools.count(random.randint(1000, 9999) * 10000)


def unique_mobile() -> str:
    return f"139{next(_seq) % 10**8:08d}"


def valid_id_number(birth: str = "19800101", seq: int | None = None) -> str:
    seq = seq if seq is not None else random.randint(100, 999)
    first17 = f"440311{birth}{seq:03d}"
    return first17 + id_check_char(first17)


@dataclass
class Town:
    """A district with street → 2 communities → grids, and one user per role."""

    district: object
    street: object
    community_a: object
    community_b: object
    grid_a1: object
    grid_a2: object
    grid_b1: object
    users: dict = field(default_factory=dict)  # role name -> (member, mobile, password)


def make_member(session, district_id: int, grid, name: str = "张伟", **kw):
    data = MemberIn(name=name, mobile=kw.pop("mobile", None) or unique_mobile(), grid_id=grid.id, **kw)
    return people.create_member(session, district_id, data)


def make_user(session, district_id: int, grid, name: str, roles=(), password: str = PASSWORD):
    member = make_member(session, district_id, grid, name=name)
    auth.set_password(session, member, password)
    for role, unit in roles:
        auth.grant_role(session, None, member, role, unit)
    return member


def make_town(session) -> Town:
    code = f"T{next(_seq)}"
    district = places.create_district(session, code=code, name=f"测试区{code}")
    t = district.id
    street = places.create_unit(session, t, name="凤凰街道", kind="street")
    ca = places.create_unit(session, t, name="凤凰社区", kind="community", parent=street)
    cb = places.create_unit(session, t, name="塘家社区", kind="community", parent=street)
    a1 = places.create_unit(session, t, name="凤凰第一片区网格", kind="grid", grid_type="area", parent=ca)
    a2 = places.create_unit(session, t, name="凤凰第二片区网格", kind="grid", grid_type="area", parent=ca)
    b1 = places.create_unit(session, t, name="塘家第一片区网格", kind="grid", grid_type="area", parent=cb)
    town = Town(district, street, ca, cb, a1, a2, b1)
    specs = {
        "volunteer": [],
        "organiser": [("organiser", ca)],
        "grid_admin": [("grid_admin", ca)],
        "fund_manager": [("fund_manager", None)],
        "fund_approver": [("fund_approver", None)],
        "district_admin": [("district_admin", None)],
        "auditor": [("auditor", None)],
    }
    names = {
        "volunteer": "李娜",
        "organiser": "王芳",
        "grid_admin": "刘洋",
        "fund_manager": "陈静",
        "fund_approver": "杨磊",
        "district_admin": "赵敏",
        "auditor": "黄强",
    }
    for role, grants in specs.items():
        m = make_user(session, t, a1, names[role], grants)
        town.users[role] = (m, m.mobile, PASSWORD)
    session.flush()
    return town
