"""Issue 6 of the security review, through pages and the API: a lower admin cannot change a higher
one; names with control, invisible or direction characters are refused everywhere; bad arguments are
400/422 and never 500; the error log holds no personal data; a lost database answers 503 with the
app's own page."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import text

from app import create_app
from app.db import get_session, make_engine, unit_of_work
from app.people.models import Member
from tests.conftest import csrf_from, sign_in
from tests.factories import PASSWORD, make_user, unique_mobile
from tests.web.test_api import commit, fields, patch, post, signed_in


def member_row(app, member_id: int) -> tuple[str, str]:
    with app.app_context(), unit_of_work(app.extensions["db_sessionmaker"]) as s:
        m = s.get(Member, member_id)
        return m.status, m.mobile


def post_edit(app, client, member_id: int, token: str, **changes):
    with app.app_context(), unit_of_work(app.extensions["db_sessionmaker"]) as s:
        m = s.get(Member, member_id)
        form = {"name": m.name, "mobile": m.mobile, "grid_id": m.grid_id, "status": m.status, "is_volunteer": "y"}
    return client.post(f"/members/{member_id}/edit", data={**form, **changes, "csrf_token": token})


def page_token(client) -> str:
    return csrf_from(client.get("/members/").get_data(as_text=True))


# --- 6: a lower admin cannot change a higher one --------------------------------------------------


def test_a_grid_admin_cannot_suspend_or_remobile_the_district_admin_in_their_grid_by_api(app, client, town):
    boss = town.users["district_admin"][0]  # lives in grid A1, inside the grid admin's community
    token = signed_in(client, town, "grid_admin")
    assert client.get(f"/api/v1/members/{boss.id}").status_code == 200  # visible: a 403, not a 404
    for change in ({"status": "suspended"}, {"mobile": unique_mobile()}, {"name": "冒名"}):
        r = patch(client, f"/api/v1/members/{boss.id}", change, token)
        assert r.status_code == 403, r.get_data(as_text=True)
        assert r.get_json()["error"]["code"] == "forbidden"
    assert member_row(app, boss.id) == ("active", town.users["district_admin"][1])
    # An ordinary resident of the same grid: the grid admin may.
    volunteer = town.users["volunteer"][0]
    assert patch(client, f"/api/v1/members/{volunteer.id}", {"status": "suspended"}, token).status_code == 200


def test_a_grid_admin_cannot_suspend_the_district_admin_through_the_pages(app, client, town):
    boss = town.users["district_admin"][0]
    sign_in(client, town, "grid_admin")
    assert client.get(f"/members/{boss.id}/edit").status_code == 403
    r = post_edit(app, client, boss.id, page_token(client), status="suspended", mobile=unique_mobile())
    assert r.status_code == 403
    assert member_row(app, boss.id) == ("active", town.users["district_admin"][1])
    # The district admin can still sign in (their sessions were not revoked).
    other = app.test_client()
    sign_in(other, town, "district_admin")
    assert other.get("/members/").status_code == 200


def test_a_subtree_role_is_changed_only_by_someone_whose_edit_scope_covers_that_subtree(app, client, town):
    """An admin of one grid may not change the admin of the whole community, though that admin lives
    in the grid; the community's admin may change the community's organiser; the district admin may
    change anyone."""
    small = commit(app, lambda s: make_user(s, town.district.id, town.grid_a1, "孙悦", [("grid_admin", town.grid_a1)]))
    town.users["grid_a1_admin"] = (small, small.mobile, PASSWORD)
    community_admin, organiser = town.users["grid_admin"][0], town.users["organiser"][0]

    token = signed_in(client, town, "grid_a1_admin")
    assert patch(client, f"/api/v1/members/{community_admin.id}", {"status": "suspended"}, token).status_code == 403
    assert patch(client, f"/api/v1/members/{organiser.id}", {"is_volunteer": False}, token).status_code == 403
    assert post_edit(app, client, community_admin.id, page_token(client), status="suspended").status_code == 403

    c2 = app.test_client()
    token2 = signed_in(c2, town, "grid_admin")
    assert patch(c2, f"/api/v1/members/{organiser.id}", {"is_volunteer": False}, token2).status_code == 200
    assert patch(c2, f"/api/v1/members/{small.id}", {"is_volunteer": False}, token2).status_code == 200
    assert (
        patch(c2, f"/api/v1/members/{town.users['auditor'][0].id}", {"is_volunteer": False}, token2).status_code == 403
    )  # a district-wide role

    c3 = app.test_client()
    token3 = signed_in(c3, town, "district_admin")
    assert patch(c3, f"/api/v1/members/{community_admin.id}", {"is_volunteer": False}, token3).status_code == 200
    assert post_edit(app, c3, community_admin.id, page_token(c3), status="active").status_code == 302


def test_a_revoked_role_no_longer_protects_its_holder(app, client, town):
    from app.auth.models import RoleGrant, User

    holder = commit(app, lambda s: make_user(s, town.district.id, town.grid_a1, "周杰", [("auditor", None)]))
    grant_id = commit(
        app,
        lambda s: (
            s.query(RoleGrant.id).join(User, User.id == RoleGrant.user_id).filter(User.member_id == holder.id).scalar()
        ),
    )
    token = signed_in(client, town, "grid_admin")
    assert patch(client, f"/api/v1/members/{holder.id}", {"is_volunteer": False}, token).status_code == 403
    boss = app.test_client()
    sign_in(boss, town, "district_admin")
    assert (
        boss.post(f"/roles/{grant_id}/revoke", data={"csrf_token": page_token(boss), "confirm": "yes"}).status_code
        == 302
    )
    assert patch(client, f"/api/v1/members/{holder.id}", {"is_volunteer": False}, token).status_code == 200


# --- 9: names with control, invisible or direction characters -------------------------------------

BAD_NAMES = {
    "张\x01伟": "control_character",
    "张\x1b[31m伟": "control_character",
    "张伟\x07": "control_character",
    "张\t伟": "control_character",
    "张\u200b伟": "control_character",
    "\u200b\u200c\u2060": "invisible_name",
    "\u3164": "invisible_name",
    "张\u202e伟": "bidi_control",
    "\u2066张伟\u2069": "bidi_control",
}


@pytest.mark.parametrize("name,code", BAD_NAMES.items(), ids=[repr(n) for n in BAD_NAMES])
def test_the_api_refuses_names_with_control_invisible_or_direction_characters(client, town, name, code):
    token = signed_in(client, town, "district_admin")
    body = {"name": name, "mobile": unique_mobile(), "grid_id": town.grid_a1.id}
    r = post(client, "/api/v1/members", body, token)
    assert fields(r) == {"name": code}
    message = r.get_json()["error"]["details"][0]["message"]
    assert message.startswith("姓名"), message  # names the field, in the user's language
    assert fields(patch(client, f"/api/v1/members/{town.users['volunteer'][0].id}", {"name": name}, token)) == {
        "name": code
    }
    assert fields(
        post(
            client,
            "/api/v1/members",
            {**body, "name": "张伟", "party_org": f"党支部{name}", "is_party_member": True},
            token,
        )
    ) == {"party_org": "control_character" if code == "invisible_name" else code}  # not only invisible there
    assert fields(
        post(
            client,
            "/api/v1/org-units",
            {"name": name, "kind": "grid", "grid_type": "micro", "parent_id": town.community_a.id},
            token,
        )
    ) == {"name": code}
    assert fields(patch(client, f"/api/v1/org-units/{town.grid_a2.id}", {"name": name}, token)) == {"name": code}


def test_ordinary_names_still_pass(client, town):
    token = signed_in(client, town, "district_admin")
    for name in ("欧阳娜娜", "阿卜杜拉·买买提", "Zoë O'Brien", "  张伟  ", "李 娜"):
        r = post(
            client, "/api/v1/members", {"name": name, "mobile": unique_mobile(), "grid_id": town.grid_a1.id}, token
        )
        assert r.status_code == 201, (name, r.get_data(as_text=True))
        assert r.get_json()["name"] == name.strip()


def test_the_member_form_and_the_unit_pages_refuse_a_control_character(app, client, town):
    sign_in(client, town, "district_admin")
    page = client.get(f"/members/new?grid={town.grid_a1.id}")
    r = client.post(
        "/members/new",
        data={
            "csrf_token": csrf_from(page.get_data(as_text=True)),
            "name": "张\x1b伟",
            "mobile": unique_mobile(),
            "grid_id": town.grid_a1.id,
            "status": "active",
        },
    )
    assert r.status_code == 422
    assert "姓名包含控制字符或不可见字符" in r.get_data(as_text=True)
    r = client.post(
        f"/org/{town.grid_a2.id}/rename",
        data={"csrf_token": page_token(client), "name": "网格\u202e", "grid_type": "area"},
    )
    assert r.status_code < 500
    with app.app_context(), unit_of_work(app.extensions["db_sessionmaker"]) as s:
        from app.places.models import OrgUnit

        assert s.get(OrgUnit, town.grid_a2.id).name == town.grid_a2.name


def test_an_import_row_with_a_control_character_in_the_name_is_reported_not_imported(app, town):
    from app.people import import_job

    content = (
        "姓名,手机号,网格\n"
        f"张\x01伟,{unique_mobile()},{town.grid_a1.id}\n"
        f"\u200b,{unique_mobile()},{town.grid_a1.id}\n"
        f"王芳,{unique_mobile()},{town.grid_a1.id}\n"
    ).encode()
    with app.app_context(), app.test_request_context(), unit_of_work(app.extensions["db_sessionmaker"]) as s:
        result = import_job.dry_run(
            s, town.district.id, "members.csv", content, may_edit=lambda unit: True, id_key=b"k" * 32
        )
        problems = {(e["row"], e["column"], e["code"]) for e in result.errors}
    assert problems == {(2, "姓名", "control_character"), (3, "姓名", "invisible_name")}, problems


# --- 11: no 500s, and nothing personal in the log ---------------------------------------------------


@pytest.mark.parametrize(
    "field",
    ["is_volunteer", "is_party_member", "is_grid_worker", "is_building_head", "name", "mobile", "grid_id", "status"],
)
def test_patching_a_required_field_to_null_is_a_422_not_a_500(client, town, field):
    token = signed_in(client, town, "district_admin")
    r = patch(client, f"/api/v1/members/{town.users['volunteer'][0].id}", {field: None}, token)
    assert fields(r) == {field: "not_null"}


def test_nullable_fields_may_still_be_cleared(client, town):
    token = signed_in(client, town, "district_admin")
    r = patch(
        client,
        f"/api/v1/members/{town.users['volunteer'][0].id}",
        {"id_number": None, "party_org": None, "checkin_community_id": None},
        token,
    )
    assert r.status_code == 200, r.get_data(as_text=True)


@pytest.mark.parametrize(
    "url",
    [
        "/members/?grid=99999999999999999999",
        "/members/?grid=0",
        "/members/?grid=abc",
        "/members/new?grid=99999999999999999999",
        "/audit/?actor=99999999999999999999",
        "/audit/?target_id=99999999999999999999",
        "/audit/?before=99999999999999999999",
        "/audit/?until=9999-12-31",
        "/audit/?since=0001-01-01",
        "/audit/?until=2026-13-45",
    ],
)
def test_out_of_range_page_arguments_answer_400_with_a_message(client, town, url):
    sign_in(client, town, "district_admin")
    r = client.get(url)
    assert r.status_code == 400, (url, r.status_code)
    assert "<h1>" in r.get_data(as_text=True)


def test_out_of_range_numbers_in_forms_do_not_break_the_server(app, client, town):
    sign_in(client, town, "district_admin")
    volunteer = town.users["volunteer"][0]
    token = page_token(client)
    huge = "99999999999999999999"
    for url, data in (
        (
            f"/members/{volunteer.id}/assignments",
            {"org_unit_id": huge, "role": "grid_worker", "effective_from": "2026-01-01"},
        ),
        (
            f"/members/{volunteer.id}/assignments",
            {"org_unit_id": town.grid_a1.id, "role": "grid_worker", "effective_from": "2026-01-01", "households": huge},
        ),
        (
            f"/members/{volunteer.id}/assignments",
            {
                "org_unit_id": town.grid_a1.id,
                "role": "grid_worker",
                "effective_from": "2026-01-01",
                "households": "3000000000",
            },
        ),
        (f"/members/{volunteer.id}/roles", {"role": "grid_admin", "org_unit_id": huge}),
        (
            f"/members/{volunteer.id}/edit",
            {
                "name": "李娜",
                "mobile": volunteer.mobile,
                "grid_id": huge,
                "status": "active",
                "checkin_community_id": huge,
            },
        ),
    ):
        r = client.post(url, data={**data, "csrf_token": token})
        assert r.status_code < 500, (url, data, r.status_code)


def _failing_insert_route(app):
    """A view whose statement the database refuses, carrying a mobile and an ID hash as a row would."""

    @app.get("/test-only/failing-insert")
    def failing_insert():
        get_session().execute(
            text("INSERT INTO members (name, mobile, id_number_hash) VALUES (:n, :m, :h)"),
            {"n": "张伟", "m": "13912345678", "h": "deadbeefcafe0123456789"},
        )
        return "unreachable"


def test_an_unexpected_database_error_logs_no_row_contents_or_parameters(app, client, caplog):
    _failing_insert_route(app)
    with caplog.at_level(logging.DEBUG):
        r = client.get("/test-only/failing-insert", headers={"Accept": "application/json"})
    assert r.status_code == 500
    assert r.get_json()["error"]["code"] == "internal_error"
    logged = "\n".join(rec.getMessage() + (rec.exc_text or "") for rec in caplog.records)
    assert "IntegrityError" in logged and "failing_insert" in logged  # what and where, for the engineer
    for secret in ("13912345678", "deadbeefcafe", "张伟"):
        assert secret not in logged
    assert not any(rec.exc_info for rec in caplog.records)  # no raw traceback with the driver's message


def test_a_page_whose_write_fails_shows_the_apps_own_error_page_signed_in(app, client, town, caplog):
    """A flush the database refuses leaves the request's session needing a rollback; the error page's
    menu (the user's links, unread notices) reads the database. It used to fail there a second time,
    and the user got Werkzeug's bare "Internal Server Error" instead of this page."""

    @app.get("/test-only/failing-flush")
    def failing_flush():
        db = get_session()
        db.add(Member(tenant_id=town.district.id, name="张伟"))  # no mobile, no grid: refused at the flush
        db.flush()
        return "unreachable"

    sign_in(client, town, "district_admin")
    with caplog.at_level(logging.ERROR):
        r = client.get("/test-only/failing-flush")
    assert r.status_code == 500
    html = r.get_data(as_text=True)
    assert "系统出错，未保存任何内容，请重试。" in html and "<nav" in html
    assert 'href="/members/"' in html  # the signed-in menu, read from the database after the rollback
    assert "PendingRollbackError" not in "\n".join(rec.getMessage() for rec in caplog.records)
    assert client.get("/members/").status_code == 200  # and the next request is served as usual


def test_the_engine_hides_bound_parameters(engine):
    assert make_engine(str(engine.url)).hide_parameters


# --- 12: the database is gone --------------------------------------------------------------------


@pytest.fixture
def app_without_database(tmp_path, app, town):
    """The same app settings, on a database that cannot be opened (as when PostgreSQL is down)."""
    url = f"sqlite:///{tmp_path}/no/such/dir/aixin.db"
    broken = create_app(
        {
            "ENV": "test",
            "SECRET_KEY": "test-secret-key",
            "DATABASE_URL": url,
            "ENGINE": make_engine(url),
            "RATELIMIT_STORAGE_URI": "memory://",
        }
    )
    return broken


def test_pages_answer_503_with_the_apps_own_page_when_the_database_is_gone(app, app_without_database, town, caplog):
    signed = app.test_client()
    sign_in(signed, town, "district_admin")
    broken = app_without_database.test_client()
    broken.set_cookie("session", signed.get_cookie("session").value)
    for client, url in ((broken, "/members/"), (app_without_database.test_client(), "/signin")):
        r = client.get(url)
        assert r.status_code == 503, (url, r.status_code)
        html = r.get_data(as_text=True)
        assert 'lang="zh' in html and "服务暂时不可用" in html and "<nav" in html  # error.html in base.html
    r = broken.get("/api/v1/members")
    assert r.status_code == 503 and r.get_json()["error"]["code"] == "unavailable"


def test_a_405_carries_allow_and_a_nonexistent_id_is_404_whatever_the_method(client, town):
    signed_in(client, town, "district_admin")
    r = client.delete(f"/api/v1/members/{town.users['volunteer'][0].id}")
    assert r.status_code == 405 and set(r.headers["Allow"].split(", ")) >= {"GET", "PATCH"}
    assert r.get_json()["error"]["code"] == "method_not_allowed"
    assert client.delete("/api/v1/members/0").status_code == 404
    assert client.put("/members/0").status_code == 404
    page = client.put(f"/members/{town.users['volunteer'][0].id}")  # a page answers the same, as HTML
    assert page.status_code == 405 and "GET" in page.headers["Allow"] and page.mimetype == "text/html"


def test_unauthenticated_writes_answer_401_as_documented(client, town):
    for method, url in (
        ("post", "/api/v1/members"),
        ("patch", f"/api/v1/members/{town.users['volunteer'][0].id}"),
        ("post", "/api/v1/org-units"),
    ):
        r = getattr(client, method)(url, json={"name": "x"})
        assert r.status_code == 401, (method, url, r.status_code)
        assert r.get_json()["error"]["code"] == "unauthenticated"


def test_created_at_in_the_api_is_rfc3339_with_an_offset(client, town):
    from datetime import datetime

    signed_in(client, town, "district_admin")
    body = client.get(f"/api/v1/members/{town.users['volunteer'][0].id}").get_json()
    for key in ("created_at", "updated_at"):
        assert body[key].endswith("Z") or body[key].endswith("+00:00"), body[key]
        assert datetime.fromisoformat(body[key]).utcoffset().total_seconds() == 0
