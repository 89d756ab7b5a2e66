"""The permission matrix: every role × every action × in scope / out of scope / other district.

"in" is community A (凤凰社区), where the organiser and grid_admin hold their roles; "out" is community
B of the same district; "other" is another district. Expected answers are written out by hand:
ok (done), 403 (visible but not allowed), 404 (invisible: out of scope or another district).
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app import create_app
from app.db import unit_of_work
from app.people.models import Member
from app.places.models import OrgUnit
from tests.conftest import csrf_from, sign_in
from tests.factories import make_member, make_town

ROLES = ("volunteer", "organiser", "grid_admin", "fund_manager", "fund_approver", "district_admin", "auditor")

OK, DENIED, HIDDEN = "ok", 403, 404

# action -> role -> (in, out, other)
MATRIX = {
    "view_member": {
        "volunteer": (HIDDEN, HIDDEN, HIDDEN),
        "organiser": (OK, HIDDEN, HIDDEN),
        "grid_admin": (OK, HIDDEN, HIDDEN),
        "fund_manager": (OK, OK, HIDDEN),
        "fund_approver": (OK, OK, HIDDEN),
        "district_admin": (OK, OK, HIDDEN),
        "auditor": (OK, OK, HIDDEN),
    },
    "edit_member": {
        "volunteer": (HIDDEN, HIDDEN, HIDDEN),
        "organiser": (DENIED, HIDDEN, HIDDEN),
        "grid_admin": (OK, HIDDEN, HIDDEN),
        "fund_manager": (DENIED, DENIED, HIDDEN),
        "fund_approver": (DENIED, DENIED, HIDDEN),
        "district_admin": (OK, OK, HIDDEN),
        "auditor": (DENIED, DENIED, HIDDEN),
    },
    "view_unit": {
        "volunteer": (HIDDEN, HIDDEN, HIDDEN),
        "organiser": (OK, HIDDEN, HIDDEN),
        "grid_admin": (OK, HIDDEN, HIDDEN),
        "fund_manager": (OK, OK, HIDDEN),
        "fund_approver": (OK, OK, HIDDEN),
        "district_admin": (OK, OK, HIDDEN),
        "auditor": (OK, OK, HIDDEN),
    },
    "rename_unit": {
        "volunteer": (HIDDEN, HIDDEN, HIDDEN),
        "organiser": (DENIED, HIDDEN, HIDDEN),
        "grid_admin": (OK, HIDDEN, HIDDEN),
        "fund_manager": (DENIED, DENIED, HIDDEN),
        "fund_approver": (DENIED, DENIED, HIDDEN),
        "district_admin": (OK, OK, HIDDEN),
        "auditor": (DENIED, DENIED, HIDDEN),
    },
    "assign_grid": {
        "volunteer": (HIDDEN, HIDDEN, HIDDEN),
        "organiser": (DENIED, HIDDEN, HIDDEN),
        "grid_admin": (OK, HIDDEN, HIDDEN),
        "fund_manager": (DENIED, DENIED, HIDDEN),
        "fund_approver": (DENIED, DENIED, HIDDEN),
        "district_admin": (OK, OK, HIDDEN),
        "auditor": (DENIED, DENIED, HIDDEN),
    },
    "grant_role": {
        "volunteer": (HIDDEN, HIDDEN, HIDDEN),
        "organiser": (DENIED, HIDDEN, HIDDEN),
        "grid_admin": (DENIED, HIDDEN, HIDDEN),
        "fund_manager": (DENIED, DENIED, HIDDEN),
        "fund_approver": (DENIED, DENIED, HIDDEN),
        "district_admin": (OK, OK, HIDDEN),
        "auditor": (DENIED, DENIED, HIDDEN),
    },
}
SCOPES = ("in", "out", "other")


@pytest.fixture(scope="module")
def world(engine, db_url):
    """Two districts, committed once for the module, and one signed-in client per role."""
    app = create_app(
        {
            "ENV": "test",
            "SECRET_KEY": "matrix-secret",
            "DATABASE_URL": db_url,
            "ENGINE": engine,
            "RATELIMIT_STORAGE_URI": "memory://",
            "PASSWORD_HASH_FAST": True,
        }
    )
    with app.app_context(), app.test_request_context():
        with unit_of_work(app.extensions["db_sessionmaker"]) as s:
            town, other = make_town(s), make_town(s)
            targets = {
                "in": (make_member(s, town.district.id, town.grid_a2, name="甲在内").id, town.grid_a2.id),
                "out": (make_member(s, town.district.id, town.grid_b1, name="乙在外").id, town.grid_b1.id),
                "other": (make_member(s, other.district.id, other.grid_a1, name="丙他区").id, other.grid_a1.id),
            }
    clients = {}
    for role in ROLES:
        c = app.test_client()
        sign_in(c, town, role)
        clients[role] = c
    return app, town, targets, clients


def _token(client) -> str:
    return csrf_from(client.get("/account/password").get_data(as_text=True))


def _do(action: str, client, member_id: int, unit_id: int, app):
    if action == "view_member":
        return client.get(f"/members/{member_id}")
    if action == "view_unit":
        return client.get(f"/org/{unit_id}")
    token = _token(client)
    if action == "edit_member":
        with app.app_context():
            with unit_of_work(app.extensions["db_sessionmaker"]) as s:
                m = s.get(Member, member_id)
                form = {
                    "name": m.name,
                    "mobile": m.mobile,
                    "grid_id": m.grid_id,
                    "status": "active",
                    "is_volunteer": "y",
                }
        return client.post(f"/members/{member_id}/edit", data={**form, "csrf_token": token})
    if action == "rename_unit":
        return client.post(
            f"/org/{unit_id}/rename", data={"name": "改名网格", "grid_type": "area", "csrf_token": token}
        )
    if action == "assign_grid":
        return client.post(
            f"/members/{member_id}/assignments",
            data={
                "org_unit_id": unit_id,
                "role": "grid_worker",
                "households": 30,
                "effective_from": "2026-01-01",
                "csrf_token": token,
            },
        )
    if action == "grant_role":
        return client.post(
            f"/members/{member_id}/roles", data={"role": "auditor", "csrf_token": token, "confirm": "yes"}
        )
    raise AssertionError(action)


CASES = [(action, role, scope) for action in MATRIX for role in ROLES for scope in SCOPES]


@pytest.mark.parametrize("action,role,scope", CASES, ids=[f"{a}-{r}-{s}" for a, r, s in CASES])
def test_matrix(world, action, role, scope):
    app, town, targets, clients = world
    member_id, unit_id = targets[scope]
    expected = MATRIX[action][role][SCOPES.index(scope)]
    resp = _do(action, clients[role], member_id, unit_id, app)
    if expected == OK:
        assert resp.status_code in (200, 302), (resp.status_code, resp.get_data(as_text=True)[:500])
        if resp.status_code == 302:
            assert "/signin" not in resp.headers["Location"]
    else:
        assert resp.status_code == expected, resp.get_data(as_text=True)[:500]


@pytest.mark.parametrize("role", ROLES)
def test_member_list_is_scoped(world, role):
    """Lists show only what the role may see: never another community's or district's members."""
    app, town, targets, clients = world
    resp = clients[role].get("/members/?q=")
    if role == "volunteer":
        assert resp.status_code == 403
        return
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert "甲在内" in html
    assert "丙他区" not in html
    assert ("乙在外" in html) == (role not in ("organiser", "grid_admin"))


@pytest.mark.parametrize("role", ROLES)
def test_audit_log_only_for_district_admin_and_auditor(world, role):
    app, town, targets, clients = world
    resp = clients[role].get("/audit/")
    assert resp.status_code == (200 if role in ("district_admin", "auditor") else 403)


def test_scope_follows_a_moved_unit(world):
    """Scopes are subtrees by path: a grid moved out of community A leaves the grid admin's reach."""
    app, town, targets, clients = world
    with app.app_context(), app.test_request_context():
        with unit_of_work(app.extensions["db_sessionmaker"]) as s:
            from app.places import services as places

            unit = places.create_unit(
                s,
                town.district.id,
                name="临时网格",
                kind="grid",
                grid_type="micro",
                parent=s.get(OrgUnit, town.community_a.id),
            )
            unit_id = unit.id
    assert clients["grid_admin"].get(f"/org/{unit_id}").status_code == 200
    token = _token(clients["district_admin"])
    resp = clients["district_admin"].post(
        f"/org/{unit_id}/move", data={"parent_id": town.community_b.id, "csrf_token": token}
    )
    assert resp.status_code == 302
    with app.app_context():
        with unit_of_work(app.extensions["db_sessionmaker"]) as s:
            moved = s.get(OrgUnit, unit_id)
            assert moved.parent_id == town.community_b.id
            assert moved.path.startswith(s.get(OrgUnit, town.community_b.id).path)
            assert s.scalar(select(OrgUnit.id).where(OrgUnit.id == unit_id)) == unit_id
    assert clients["grid_admin"].get(f"/org/{unit_id}").status_code == 404
