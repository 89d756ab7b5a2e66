"""Every place field is picked by typing part of a name (issue 6, item 14): one match is taken, several
come back to choose from, none or one outside the user's scope is an error on the field, never a 404.
The JSON suggestions behind the script are scoped by the user's grants and show each unit's path."""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import select

from app.auth.models import RoleGrant, User
from app.db import unit_of_work
from app.people.models import GridAssignment, Member
from app.places import services as places
from app.places.models import OrgUnit
from config import ROOT
from tests.conftest import csrf_from, sign_in
from tests.factories import make_member, unique_mobile


def _db(app):
    return unit_of_work(app.extensions["db_sessionmaker"])


def _add_units(app, town, *specs):
    """specs: (name, kind, grid_type, parent attribute of town or an OrgUnit id) -> ids in order."""
    ids = []
    with app.app_context(), app.test_request_context(), _db(app) as s:
        for name, kind, grid_type, parent in specs:
            parent_unit = s.get(OrgUnit, parent if isinstance(parent, int) else getattr(town, parent).id)
            ids.append(
                places.create_unit(
                    s, town.district.id, name=name, kind=kind, grid_type=grid_type, parent=parent_unit
                ).id
            )
    return ids


def _member(app, town, grid_attr="grid_a2", name="孙小梅"):
    with app.app_context(), app.test_request_context(), _db(app) as s:
        return make_member(s, town.district.id, getattr(town, grid_attr), name=name).id


def _assignments(app, member_id):
    with app.app_context(), _db(app) as s:
        return [
            (a.org_unit_id, a.role)
            for a in s.scalars(select(GridAssignment).where(GridAssignment.member_id == member_id))
        ]


def _assign(client, member_id, **data):
    token = csrf_from(client.get(f"/members/{member_id}").get_data(as_text=True))
    return client.post(
        f"/members/{member_id}/assignments",
        data={"csrf_token": token, "role": "grid_worker", "effective_from": "2026-01-01", **data},
    )


def test_no_page_asks_for_a_numeric_unit_number():
    """The house hook's grep: no IntegerField labelled as a number (编号) is left in app/."""
    offenders = [
        str(p)
        for p in (ROOT / "app").rglob("*.py")
        if re.search(r"IntegerField\(.*(number|编号)", Path(p).read_text(encoding="utf-8"))
    ]
    assert offenders == []


def test_the_assign_form_is_a_name_field_with_a_hidden_id(client, town, app):
    member_id = _member(app, town)
    sign_in(client, town, "grid_admin")
    html = client.get(f"/members/{member_id}").get_data(as_text=True)
    assert 'name="org_unit_id-text"' in html and 'type="hidden" name="org_unit_id"' in html
    assert 'inputmode="numeric"' not in html.split('id="assign"')[1].split("</details>")[0]
    # It starts on the member's own grid, shown as its path.
    assert "凤凰街道 › 凤凰社区 › 凤凰第二片区网格" in html


def test_one_match_by_part_of_the_name_is_taken(client, town, app):
    member_id = _member(app, town)
    sign_in(client, town, "grid_admin")
    resp = _assign(client, member_id, **{"org_unit_id-text": "第二片区"})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:2000]
    assert _assignments(app, member_id) == [(town.grid_a2.id, "grid_worker")]


def test_several_matches_come_back_as_choices_with_their_paths(client, town, app):
    member_id = _member(app, town)
    sign_in(client, town, "district_admin")
    resp = _assign(client, member_id, **{"org_unit_id-text": "片区网格"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert _assignments(app, member_id) == []
    for grid, path in [
        (town.grid_a1, "凤凰街道 › 凤凰社区 › 凤凰第一片区网格"),
        (town.grid_b1, "凤凰街道 › 塘家社区 › 塘家第一片区网格"),
    ]:
        assert f'type="radio" name="org_unit_id" value="{grid.id}"' in html
        assert path in html
    # Choosing one of them (the typed text is sent again with it) assigns that one.
    resp = _assign(
        client,
        member_id,
        **{"org_unit_id-text": "片区网格", "org_unit_id": town.grid_b1.id, "org_unit_id-choosing": "1"},
    )
    assert resp.status_code == 302
    assert _assignments(app, member_id) == [(town.grid_b1.id, "grid_worker")]


def test_same_named_grids_are_told_apart_by_their_path(client, town, app):
    _add_units(app, town, ("第1网格", "grid", "basic", "grid_a1"), ("第1网格", "grid", "basic", "grid_b1"))
    member_id = _member(app, town)
    sign_in(client, town, "district_admin")
    html = _assign(client, member_id, **{"org_unit_id-text": "第1网格"}).get_data(as_text=True)
    assert "凤凰街道 › 凤凰社区 › 凤凰第一片区网格 › 第1网格" in html
    assert "凤凰街道 › 塘家社区 › 塘家第一片区网格 › 第1网格" in html
    # Typing the whole path picks exactly one.
    resp = _assign(client, member_id, **{"org_unit_id-text": "塘家社区>第1网格"})
    assert resp.status_code == 302
    ((unit_id, _),) = _assignments(app, member_id)
    with app.app_context(), _db(app) as s:
        assert s.get(OrgUnit, unit_id).parent_id == town.grid_b1.id


def test_no_match_is_an_error_on_the_field(client, town, app):
    member_id = _member(app, town)
    sign_in(client, town, "grid_admin")
    resp = _assign(client, member_id, **{"org_unit_id-text": "不存在的网格"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert "不存在的网格" in html and 'class="error" role="alert"' in html
    assert 'id="assign" open' in html


def test_a_unit_outside_the_scope_is_an_error_on_the_field_not_a_404(client, town, app):
    member_id = _member(app, town)
    sign_in(client, town, "grid_admin")  # scoped to 凤凰社区; 塘家第一片区网格 is outside
    resp = _assign(client, member_id, **{"org_unit_id-text": "塘家第一片区网格"})
    assert resp.status_code == 422
    # An id outside the scope (hand-made, or stale) is not trusted: the field asks again.
    resp = _assign(client, member_id, **{"org_unit_id": town.grid_b1.id, "org_unit_id-text": ""})
    assert resp.status_code == 422
    assert "输入网格名称中的几个字" in resp.get_data(as_text=True)
    assert _assignments(app, member_id) == []


def test_a_stale_id_gives_way_to_a_new_name(client, town, app):
    """Without the script the hidden id stays when someone types another name: the name decides."""
    member_id = _member(app, town)
    sign_in(client, town, "grid_admin")
    resp = _assign(client, member_id, **{"org_unit_id": town.grid_a2.id, "org_unit_id-text": "凤凰第一片区网格"})
    assert resp.status_code == 302
    assert _assignments(app, member_id) == [(town.grid_a1.id, "grid_worker")]
    # Even when the new text also matches the old unit: several match, so the form asks.
    resp = _assign(client, member_id, **{"org_unit_id": town.grid_a2.id, "org_unit_id-text": "片区网格"})
    assert resp.status_code == 422 and 'type="radio"' in resp.get_data(as_text=True)


def test_residence_grid_and_check_in_community_are_picked_by_name(client, town, app):
    sign_in(client, town, "grid_admin")
    token = csrf_from(client.get("/members/new").get_data(as_text=True))
    mobile = unique_mobile()
    resp = client.post(
        "/members/new",
        data={
            "csrf_token": token,
            "name": "周新",
            "mobile": mobile,
            "status": "active",
            "is_party_member": "y",
            "grid_id-text": "凤凰第一",
            "checkin_community_id-text": "凤凰社区",
        },
    )
    assert resp.status_code == 302, resp.get_data(as_text=True)[:3000]
    with app.app_context(), _db(app) as s:
        m = s.scalar(select(Member).where(Member.tenant_id == town.district.id, Member.mobile == mobile))
        assert (m.grid_id, m.checkin_community_id) == (town.grid_a1.id, town.community_a.id)
    # A community is not a residence: the residence field only offers grids and buildings.
    resp = client.post(
        "/members/new",
        data={
            "csrf_token": token,
            "name": "周新二",
            "mobile": unique_mobile(),
            "status": "active",
            "grid_id-text": "凤凰社区",
        },
    )
    assert resp.status_code == 422


def test_a_unit_is_moved_by_picking_its_new_parent_by_name(client, town, app):
    (micro,) = _add_units(app, town, ("临时微网格", "grid", "micro", "grid_a1"))
    sign_in(client, town, "grid_admin")
    page = client.get(f"/org/{micro}").get_data(as_text=True)
    assert 'name="parent_id-text"' in page
    resp = client.post(f"/org/{micro}/move", data={"csrf_token": csrf_from(page), "parent_id-text": "凤凰第二"})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:3000]
    with app.app_context(), _db(app) as s:
        assert s.get(OrgUnit, micro).parent_id == town.grid_a2.id
    # Not into a community outside the scope, and not into itself: errors on the field.
    for text in ("塘家社区", "临时微网格"):
        resp = client.post(f"/org/{micro}/move", data={"csrf_token": csrf_from(page), "parent_id-text": text})
        assert resp.status_code == 422
        assert 'id="move" open' in resp.get_data(as_text=True)


def test_a_role_scope_is_picked_by_name(client, town, app):
    member_id = _member(app, town)
    sign_in(client, town, "district_admin")
    page = client.get(f"/members/{member_id}").get_data(as_text=True)
    token = csrf_from(page)
    # No role is chosen until one is picked: a bare submit grants nothing and says what to do.
    # The grant form's fields have their own ids: its labels point at its own fields, not the assignment form's.
    assert page.count('id="grant-role"') == 1 and 'for="grant-role"' in page and page.count('id="role"') == 1
    assert page.count('id="grant-org_unit_id-text"') == 1
    grant_form = page[page.index('id="grant"') :]
    options = re.search(r'<select[^>]*name="role"[^>]*>(.*?)</select>', grant_form, re.S).group(1)
    assert re.match(r'\s*<option[^>]*value=""[^>]*>请选择角色…</option>', options), options[:200]
    # Outlet roles are granted on the outlet's page: not offered here (choosing one only to be refused).
    assert 'value="outlet_staff"' not in options and 'value="outlet_supervisor"' not in options
    assert 'value="organiser"' in options
    resp = client.post(f"/members/{member_id}/roles", data={"csrf_token": token, "role": ""})
    assert resp.status_code == 422 and "请选择要授予的角色。" in resp.get_data(as_text=True)
    # The choice asks first, naming the member, the role and the picked scope; nothing is granted yet.
    resp = client.post(
        f"/members/{member_id}/roles", data={"csrf_token": token, "role": "organiser", "org_unit_id-text": "塘家社区"}
    )
    question = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "塘家社区" in question and 'name="confirm" value="yes"' in question
    with app.app_context(), _db(app) as s:
        user = s.scalar(select(User).where(User.member_id == member_id))
        assert user is None or not s.scalars(select(RoleGrant).where(RoleGrant.user_id == user.id)).all()
    carried = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', question))
    assert carried["role"] == "organiser" and carried["org_unit_id"] == str(town.community_b.id)
    resp = client.post(f"/members/{member_id}/roles", data={**carried, "csrf_token": csrf_from(question)})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:3000]
    with app.app_context(), _db(app) as s:
        user = s.scalar(select(User).where(User.member_id == member_id))
        assert [(g.role, g.org_unit_id) for g in s.scalars(select(RoleGrant).where(RoleGrant.user_id == user.id))] == [
            ("organiser", town.community_b.id)
        ]  # the whole name: 塘家第一片区网格 contains it too
    # A scoped role without a scope is an error on the scope field.
    resp = client.post(f"/members/{member_id}/roles", data={"csrf_token": token, "role": "grid_admin"})
    assert resp.status_code == 422
    assert 'class="error" role="alert"' in resp.get_data(as_text=True)


def test_suggestions_are_scoped_and_show_the_path(client, town, app):
    sign_in(client, town, "grid_admin")
    got = client.get("/org/pick?q=片区网格&action=assignment.edit&kind=grid,building").get_json()["items"]
    assert {i["id"] for i in got} == {town.grid_a1.id, town.grid_a2.id}  # not 塘家's grid
    assert {i["path"] for i in got} == {
        "凤凰街道 › 凤凰社区 › 凤凰第一片区网格",
        "凤凰街道 › 凤凰社区 › 凤凰第二片区网格",
    }
    assert all(i["kind"] for i in got)
    # An action the user does not hold finds nothing, whatever is typed.
    assert client.get("/org/pick?q=网格&action=role.grant").get_json()["items"] == []
    # Kinds narrow it; the excluded unit's subtree is left out.
    got = client.get("/org/pick?q=凤凰&kind=community&action=org.edit").get_json()["items"]
    assert [i["id"] for i in got] == [town.community_a.id]
    got = client.get(f"/org/pick?q=凤凰&action=org.edit&exclude={town.community_a.id}").get_json()["items"]
    assert got == []


def _duplicate_ids(html: str) -> list[str]:
    ids = re.findall(r'\sid="([^"]+)"', html)
    return sorted({i for i in ids if ids.count(i) > 1})


def test_pages_with_several_forms_have_no_two_elements_with_one_id(client, town, app):
    # A member's page holds the assignment and the role grant forms; a unit's page its rename, move and
    # add-below forms: each with its CSRF token, which renders without an id.
    member_id = _member(app, town)
    sign_in(client, town, "district_admin")
    for url in (f"/members/{member_id}", f"/org/{town.community_a.id}"):
        page = client.get(url).get_data(as_text=True)
        assert page.count('name="csrf_token"') >= 2, url
        assert _duplicate_ids(page) == [], url


def test_adding_a_unit_without_a_name_says_so(client, town):
    sign_in(client, town, "grid_admin")
    page = client.get(f"/org/{town.community_a.id}").get_data(as_text=True)
    resp = client.post(
        f"/org/{town.community_a.id}/children", data={"csrf_token": csrf_from(page), "name": "", "kind": "grid"}
    )
    assert resp.status_code == 302
    shown = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "请检查填写的内容：请输入名称。" in shown, shown[:3000]
