"""The places and member pages (issue 6, items 15, 18, 20, 21): irreversible actions ask first, without
JavaScript; breadcrumbs never lead to a 404; search shows where a unit is; a scoped administrator cannot
change their own top unit; the small things a user notices on a phone."""

from __future__ import annotations

import re
from datetime import date

from flask import render_template

from app.auth import services as auth
from app.auth.models import RoleGrant
from app.db import unit_of_work
from app.people import services as people
from app.people.models import GridAssignment
from app.places import services as places
from app.places.models import OrgUnit
from config import ROOT
from tests.conftest import csrf_from, sign_in
from tests.factories import PASSWORD, make_member, make_user


def _db(app):
    return unit_of_work(app.extensions["db_sessionmaker"])


def _links(html: str) -> list[str]:
    return re.findall(r'<a [^>]*href="(/[^"]*)"', html)


# --- 15. confirmations -----------------------------------------------------------------------------


def _organiser_grant(app, town):
    with app.app_context(), app.test_request_context(), _db(app) as s:
        m = make_member(s, town.district.id, town.grid_a1, name="钱多")
        g = auth.grant_role(s, None, m, "organiser", s.get(OrgUnit, town.community_b.id))
        return m.id, g.id


def _revoked(app, grant_id):
    with app.app_context(), _db(app) as s:
        return s.get(RoleGrant, grant_id).revoked_at is not None


def test_revoking_a_role_asks_first(client, town, app):
    member_id, grant_id = _organiser_grant(app, town)
    sign_in(client, town, "district_admin")
    page = client.get(f"/members/{member_id}").get_data(as_text=True)
    # The member page links to the question with a visible (red on white) button; no one-click form.
    assert f'class="button secondary" href="/roles/{grant_id}/revoke"' in page
    assert f'action="/roles/{grant_id}/revoke"' not in page
    token = csrf_from(page)
    # A POST without the confirmation (the old one-click form) only asks.
    resp = client.post(f"/roles/{grant_id}/revoke", data={"csrf_token": token})
    assert resp.status_code == 200 and not _revoked(app, grant_id)
    question = client.get(f"/roles/{grant_id}/revoke").get_data(as_text=True)
    assert "钱多" in question and "凤凰街道 › 塘家社区" in question and 'name="confirm"' in question
    resp = client.post(f"/roles/{grant_id}/revoke", data={"csrf_token": csrf_from(question), "confirm": "yes"})
    assert resp.status_code == 302 and _revoked(app, grant_id)


def test_ending_an_assignment_asks_first(client, town, app):
    with app.app_context(), app.test_request_context(), _db(app) as s:
        m = make_member(s, town.district.id, town.grid_a1, name="孙立")
        a = people.assign(s, m, s.get(OrgUnit, town.grid_a1.id), "grid_worker", effective_from=date(2026, 1, 1))
        member_id, assignment_id = m.id, a.id
    sign_in(client, town, "grid_admin")
    page = client.get(f"/members/{member_id}").get_data(as_text=True)
    assert f'href="/assignments/{assignment_id}/end"' in page
    token = csrf_from(page)
    resp = client.post(f"/assignments/{assignment_id}/end", data={"csrf_token": token, "effective_to": "2026-06-30"})
    assert resp.status_code == 200  # the question, not the deed
    question = client.get(f"/assignments/{assignment_id}/end").get_data(as_text=True)
    assert "孙立" in question and 'name="effective_to"' in question
    with app.app_context(), _db(app) as s:
        assert s.get(GridAssignment, assignment_id).effective_to is None
    resp = client.post(
        f"/assignments/{assignment_id}/end",
        data={"csrf_token": csrf_from(question), "effective_to": "2026-06-30", "confirm": "yes"},
    )
    assert resp.status_code == 302
    with app.app_context(), _db(app) as s:
        assert s.get(GridAssignment, assignment_id).effective_to == date(2026, 6, 30)


def test_retiring_a_unit_asks_first(client, town, app):
    with app.app_context(), app.test_request_context(), _db(app) as s:
        unit_id = places.create_unit(
            s, town.district.id, name="空网格", kind="grid", grid_type="basic", parent=s.get(OrgUnit, town.grid_a2.id)
        ).id
    sign_in(client, town, "grid_admin")
    page = client.get(f"/org/{unit_id}").get_data(as_text=True)
    assert f'href="/org/{unit_id}/retire"' in page
    resp = client.post(f"/org/{unit_id}/retire", data={"csrf_token": csrf_from(page)})
    assert resp.status_code == 200
    with app.app_context(), _db(app) as s:
        assert s.get(OrgUnit, unit_id).retired_at is None
    question = client.get(f"/org/{unit_id}/retire").get_data(as_text=True)
    assert "凤凰社区 › 凤凰第二片区网格 › 空网格" in question
    resp = client.post(f"/org/{unit_id}/retire", data={"csrf_token": csrf_from(question), "confirm": "yes"})
    assert resp.status_code == 302
    with app.app_context(), _db(app) as s:
        assert s.get(OrgUnit, unit_id).retired_at is not None


# --- 18. breadcrumbs -------------------------------------------------------------------------------


def test_breadcrumbs_above_the_scope_are_text_not_links(client, town, app):
    member_id = town.users["volunteer"][0].id
    sign_in(client, town, "grid_admin")  # scoped to 凤凰社区, under 凤凰街道
    for path in (f"/org/{town.grid_a1.id}", f"/members/{member_id}"):
        html = client.get(path).get_data(as_text=True)
        crumbs = html.split('class="crumbs')[1].split("</nav>")[0]
        assert f'href="/org/{town.street.id}"' not in crumbs and "<span>凤凰街道</span>" in crumbs
        assert f'href="/org/{town.community_a.id}"' in crumbs
        for link in _links(html):
            assert client.get(link).status_code not in (404, 500), link


def test_a_volunteer_sees_their_grid_as_text(client, town):
    sign_in(client, town, "volunteer")
    html = client.get("/me", follow_redirects=True).get_data(as_text=True)
    assert "凤凰第一片区网格" in html and f'href="/org/{town.grid_a1.id}"' not in html
    for link in _links(html):
        assert client.get(link).status_code not in (404, 500), link


# --- 20. places ------------------------------------------------------------------------------------


def test_search_results_show_where_each_unit_is(client, town, app):
    with app.app_context(), app.test_request_context(), _db(app) as s:
        for parent in (town.grid_a1, town.grid_b1):
            places.create_unit(
                s, town.district.id, name="第1网格", kind="grid", grid_type="basic", parent=s.get(OrgUnit, parent.id)
            )
    sign_in(client, town, "district_admin")
    html = client.get("/org/?q=第1网格").get_data(as_text=True)
    assert "凤凰街道 › 凤凰社区 › 凤凰第一片区网格" in html
    assert "凤凰街道 › 塘家社区 › 塘家第一片区网格" in html


def test_the_heading_says_whose_grid_it_is(client, town):
    sign_in(client, town, "district_admin")
    assert "<h1>全区网格架构</h1>" in client.get("/org/").get_data(as_text=True)
    client.get("/signout")
    sign_in(client, town, "grid_admin")  # scoped to a community: not the district's whole grid
    page = client.get("/org/").get_data(as_text=True)
    assert "<h1>我负责的网格</h1>" in page and "全区网格架构" not in page


def test_a_duplicate_name_is_shown_on_the_rename_field(client, town):
    sign_in(client, town, "grid_admin")
    page = client.get(f"/org/{town.grid_a2.id}").get_data(as_text=True)
    resp = client.post(
        f"/org/{town.grid_a2.id}/rename",
        data={"csrf_token": csrf_from(page), "name": "凤凰第一片区网格", "grid_type": "area"},
    )
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422 and 'id="rename" open' in html and "凤凰第一片区网格" in html


def test_a_scoped_admin_cannot_change_their_own_top_unit(client, town, app):
    """A street's grid administrator: rename, move and retire only strictly below the street."""
    with app.app_context(), app.test_request_context(), _db(app) as s:
        admin = make_user(
            s,
            town.district.id,
            s.get(OrgUnit, town.grid_a1.id),
            "街道管理员",
            [("grid_admin", s.get(OrgUnit, town.street.id))],
        )
        mobile = admin.mobile
    page = client.get("/signin")
    client.post(
        "/signin",
        data={
            "csrf_token": csrf_from(page.get_data(as_text=True)),
            "district": town.district.id,
            "mobile": mobile,
            "password": PASSWORD,
        },
    )
    street = client.get(f"/org/{town.street.id}").get_data(as_text=True)
    assert 'id="rename"' not in street and f"/org/{town.street.id}/retire" not in street
    assert "添加下级单位" in street or f'action="/org/{town.street.id}/children"' in street
    token = csrf_from(street)
    assert (
        client.post(f"/org/{town.street.id}/rename", data={"csrf_token": token, "name": "改名街道"}).status_code == 403
    )
    assert (
        client.post(f"/org/{town.street.id}/move", data={"csrf_token": token, "parent_id-text": "凤凰社区"}).status_code
        == 403
    )
    assert client.get(f"/org/{town.street.id}/retire").status_code == 403
    # Strictly below the street is theirs.
    community = client.get(f"/org/{town.community_a.id}").get_data(as_text=True)
    assert 'id="rename"' in community
    resp = client.post(f"/org/{town.community_a.id}/rename", data={"csrf_token": token, "name": "凤凰新社区"})
    assert resp.status_code == 302
    # The API keeps the same rule.
    api_token = client.get("/api/v1/csrf-token").get_json()["csrf_token"]
    resp = client.patch(
        f"/api/v1/org-units/{town.street.id}", json={"name": "改名街道"}, headers={"X-CSRFToken": api_token}
    )
    assert resp.status_code == 403
    with app.app_context(), _db(app) as s:
        assert s.get(OrgUnit, town.street.id).name == "凤凰街道"


# --- 21. small things ------------------------------------------------------------------------------


def test_the_edit_form_does_not_show_the_full_mobile(client, town, app):
    member, mobile, _ = town.users["volunteer"]
    sign_in(client, town, "grid_admin")
    html = client.get(f"/members/{member.id}/edit").get_data(as_text=True)
    assert mobile not in html
    assert f"{mobile[:3]}****{mobile[-4:]}" in html
    # Saving with the mobile left blank keeps it.
    resp = client.post(
        f"/members/{member.id}/edit",
        data={
            "csrf_token": csrf_from(html),
            "name": member.name,
            "mobile": "",
            "grid_id": town.grid_a1.id,
            "status": "active",
            "is_volunteer": "y",
        },
    )
    assert resp.status_code == 302, resp.get_data(as_text=True)[:3000]
    with app.app_context(), _db(app) as s:
        from app.people.models import Member

        assert s.get(Member, member.id).mobile == mobile


def test_problem_counts_use_plurals(app):
    class Job:
        status, error_count = "checked", 1

    with app.test_request_context("/?lang=en"):
        assert render_template("people/_import_status_label.html", j=Job).strip() == "1 problem"
        Job.error_count = 3
        assert render_template("people/_import_status_label.html", j=Job).strip() == "3 problems"


def test_the_home_page_is_for_people(client, town):
    html = client.get("/").get_data(as_text=True)
    assert "/healthz" not in html and "复式记账" not in html and "double-entry" not in html
    assert 'href="/signin"' in html
    sign_in(client, town, "grid_admin")
    html = client.get("/").get_data(as_text=True)
    main = html.split("<main>")[1]
    for path in ("/members/", "/org/", "/me"):
        assert f'href="{path}"' in main
    assert "/healthz" not in html
    sign_in(client, town, "volunteer")
    main = client.get("/").get_data(as_text=True).split("<main>")[1]
    assert 'href="/members/"' not in main and 'href="/me"' in main


def test_the_phone_menu_works_without_javascript(client, town):
    sign_in(client, town, "district_admin")
    html = client.get("/").get_data(as_text=True)
    menu = html.split('<details class="menu">')[1].split("</details>")[0]
    assert "<summary>" in menu and 'href="/members/"' in menu and 'href="/audit/"' in menu
    css = (ROOT / "static" / "css" / "app.css").read_text(encoding="utf-8")
    assert re.search(r"@media \(max-width: 700px\) \{\s*\.nav-wide \{ display: none; \}", css)
