"""The JSON API /api/v1: org units and members through the real app, sessions, CSRF and permissions."""

from __future__ import annotations

import json

from sqlalchemy import event

from app.people.schemas import MemberIn
from tests.conftest import sign_in
from tests.factories import make_member, make_town, unique_mobile, valid_id_number
from tests.web.api_operations import OPERATIONS


def commit(app, fn):
    """Run fn(session) in its own committed transaction, as another office's work would be."""
    from app.db import unit_of_work

    with app.app_context(), app.test_request_context():
        with unit_of_work(app.extensions["db_sessionmaker"]) as s:
            return fn(s)


def signed_in(client, town, role: str) -> str:
    """Sign in and return the CSRF token the API hands out for this session."""
    sign_in(client, town, role)
    r = client.get("/api/v1/csrf-token")
    assert r.status_code == 200, r.get_data(as_text=True)
    return r.get_json()["csrf_token"]


def post(client, url, body, token):
    return client.post(url, json=body, headers={"X-CSRFToken": token})


def patch(client, url, body, token):
    return client.patch(url, json=body, headers={"X-CSRFToken": token})


def fields(resp) -> dict[str, str]:
    """{field: code} of a 422 answer."""
    assert resp.status_code == 422, resp.get_data(as_text=True)
    err = resp.get_json()["error"]
    assert err["code"] == "validation_failed"
    return {d["field"]: d["code"] for d in err["details"]}


def all_pages(client, url: str) -> list[dict]:
    items, page = [], 1
    while True:
        r = client.get(f"{url}&page={page}")
        assert r.status_code == 200, r.get_data(as_text=True)
        body = r.get_json()
        assert body["page"] == page
        items += body["items"]
        if not body["has_next"]:
            return items
        page += 1


# --- session, CSRF and bad input ---------------------------------------------------------------------


def test_unauthenticated_calls_answer_401_json(client, town):
    for url in ("/api/v1/members", f"/api/v1/org-units/{town.grid_a1.id}", "/api/v1/csrf-token"):
        r = client.get(url)
        assert r.status_code == 401
        assert r.get_json()["error"]["code"] == "unauthenticated"


def test_a_write_without_the_csrf_header_is_refused_and_changes_nothing(client, town):
    signed_in(client, town, "district_admin")
    r = client.post(
        "/api/v1/org-units",
        json={"name": "无令牌网格", "kind": "grid", "grid_type": "micro", "parent_id": town.community_a.id},
    )
    assert r.status_code == 400
    assert r.get_json()["error"]["code"] == "csrf_failed"
    r = client.patch(
        f"/api/v1/members/{town.users['volunteer'][0].id}",
        json={"name": "改名"},
        headers={"X-CSRFToken": "not-the-token"},
    )
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "csrf_failed"
    found = client.get("/api/v1/org-units?q=无令牌网格").get_json()["items"]
    assert found == []
    assert client.get(f"/api/v1/members/{town.users['volunteer'][0].id}").get_json()["name"] == "李娜"


def test_a_write_checks_the_token_of_its_own_session_in_either_header(app, client, town):
    # A JSON write's token is read from the headers (Flask-WTF's CSRFProtect): a real token of another
    # session is still refused, a token in the JSON body is no header, and both header names
    # Flask-WTF accepts work.
    other = app.test_client()
    others_token = signed_in(other, town, "district_admin")
    token = signed_in(client, town, "district_admin")
    body = {"name": "令牌网格", "kind": "grid", "grid_type": "micro", "parent_id": town.community_a.id}
    r = client.post("/api/v1/org-units", json=body, headers={"X-CSRFToken": others_token})
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "csrf_failed"
    r = client.post("/api/v1/org-units", json={**body, "csrf_token": token})  # a body field is no header
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "csrf_failed"
    assert client.get("/api/v1/org-units?q=令牌网格").get_json()["items"] == []
    assert client.post("/api/v1/org-units", json=body, headers={"X-CSRF-Token": token}).status_code == 201
    r = client.post("/api/v1/org-units", json={**body, "name": "令牌网格二"}, headers={"X-CSRFToken": token})
    assert r.status_code == 201


def test_bad_input_answers_json_errors_never_500(client, town):
    token = signed_in(client, town, "district_admin")
    h = {"X-CSRFToken": token}
    grid = town.grid_a1.id

    r = client.post("/api/v1/members", data='{"name": "张三", ', content_type="application/json", headers=h)
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "malformed_json"
    r = client.post("/api/v1/members", data="[" * 50_000, content_type="application/json", headers=h)
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "malformed_json"
    r = client.post("/api/v1/members", data=b'{"name": "\xff"}', content_type="application/json", headers=h)
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "malformed_json"
    r = client.post("/api/v1/members", data={"name": "张三"}, headers=h)  # a form post, not JSON
    assert r.status_code == 415 and r.get_json()["error"]["code"] == "unsupported_media_type"
    r = client.post("/api/v1/members", data="name=x", content_type="text/plain", headers=h)
    assert r.status_code == 415
    r = client.post("/api/v1/members", json={"name": "长" * 100_000}, headers=h)
    assert r.status_code == 413 and r.get_json()["error"]["code"] == "too_large"
    r = client.post("/api/v1/members", data="[]", content_type="application/json", headers=h)
    assert fields(r) == {None: "not_an_object"}

    base = {"name": "张三", "mobile": unique_mobile(), "grid_id": grid}
    assert fields(post(client, "/api/v1/members", {**base, "grid_id": 10**30}, token)) == {"grid_id": "out_of_range"}
    assert fields(post(client, "/api/v1/members", {**base, "grid_id": -(10**30)}, token)) == {"grid_id": "out_of_range"}
    assert fields(post(client, "/api/v1/members", {**base, "grid_id": "99999999999999999999"}, token)) == {
        "grid_id": "out_of_range"
    }
    assert fields(
        patch(client, f"/api/v1/members/{town.users['volunteer'][0].id}", {"checkin_community_id": str(2**63)}, token)
    ) == {"checkin_community_id": "out_of_range"}
    assert fields(post(client, "/api/v1/members", {**base, "grid_id": "abc"}, token)) == {"grid_id": "not_a_number"}
    assert fields(post(client, "/api/v1/members", {**base, "grid_id": 1e308}, token))["grid_id"]
    assert fields(post(client, "/api/v1/members", {**base, "name": "张\x00三"}, token)) == {"name": "control_character"}
    # A lone surrogate, escaped in the JSON text as a client would send it.
    r = client.post(
        "/api/v1/members", data=json.dumps({**base, "name": "\ud800"}), content_type="application/json", headers=h
    )
    assert set(fields(r)) == {"name"}
    assert fields(post(client, "/api/v1/members", {**base, "is_volunteer": "maybe"}, token)) == {
        "is_volunteer": "not_yes_no"
    }
    assert fields(post(client, "/api/v1/members", {**base, "name": "长" * 65}, token)) == {"name": "too_long"}
    assert fields(patch(client, f"/api/v1/org-units/{grid}", {"parent_id": 2**63}, token)) == {
        "parent_id": "out_of_range"
    }  # the API's own schemas carry the id bounds

    # Ids and query strings out of range: 404 for a path, 422 for a query, never a driver overflow.
    for url in (
        "/api/v1/members/99999999999999999999999",
        "/api/v1/org-units/0",
        "/api/v1/members/-1",
        "/api/v1/members/9223372036854775807",
    ):
        r = client.get(url)
        assert r.status_code == 404 and r.get_json()["error"]["code"] == "not_found"
    assert set(fields(client.get("/api/v1/members?page_size=1000&page=abc"))) == {"page_size", "page"}
    assert fields(client.get("/api/v1/members?grid_id=99999999999999999999")) == {"grid_id": "out_of_range"}
    assert fields(client.get("/api/v1/members?tag=ghost")) == {"tag": "not_allowed"}
    assert fields(client.get("/api/v1/org-units?q=%00")) == {"q": "bad_character"}
    r = client.get("/api/v1/members?q=%E5%BC%A0%ZZ&lang=en")  # a broken escape and an unknown parameter
    assert r.status_code == 200


def test_validation_errors_name_every_field_in_the_users_language(client, town):
    token = signed_in(client, town, "district_admin")
    r = client.post(
        "/api/v1/members?lang=en",
        json={"mobile": "12345", "id_number": "440311198001011234", "grid_id": town.grid_a1.id, "nickname": "x"},
        headers={"X-CSRFToken": token},
    )
    assert fields(r) == {
        "name": "missing",
        "mobile": "bad_mobile",
        "id_number": "bad_id_number",
        "nickname": "unknown_field",
    }
    messages = {d["field"]: d["message"] for d in r.get_json()["error"]["details"]}
    assert messages["mobile"].startswith("Enter an 11-digit mainland mobile number")
    # A rule the service checks (a member lives in a grid, not a community) names its field too.
    r = post(
        client, "/api/v1/members", {"name": "张三", "mobile": unique_mobile(), "grid_id": town.community_a.id}, token
    )
    assert fields(r) == {"grid_id": "validation_failed"}
    r = post(client, "/api/v1/org-units", {"name": "无类型", "kind": "grid", "parent_id": town.community_a.id}, token)
    assert fields(r) == {"grid_type": "validation_failed"}
    r = post(client, "/api/v1/org-units", {"name": "", "kind": "planet", "parent_id": town.community_a.id}, token)
    assert fields(r) == {"name": "missing", "kind": "not_allowed"}


# --- org units ---------------------------------------------------------------------------------------


def test_org_units_list_search_and_paginate(client, town):
    signed_in(client, town, "district_admin")
    everything = all_pages(client, "/api/v1/org-units?page_size=2")
    assert [u["name"] for u in everything] == [
        "凤凰街道",
        "凤凰社区",
        "塘家社区",
        "凤凰第一片区网格",
        "凤凰第二片区网格",
        "塘家第一片区网格",
    ]
    assert len({u["id"] for u in everything}) == 6
    first = client.get("/api/v1/org-units?page_size=2").get_json()
    assert first["page_size"] == 2 and first["has_next"] is True and len(first["items"]) == 2

    a1 = client.get("/api/v1/org-units?q=第一&kind=grid").get_json()["items"]
    assert {u["id"] for u in a1} == {town.grid_a1.id, town.grid_b1.id}
    kids = client.get(f"/api/v1/org-units?parent_id={town.community_a.id}").get_json()["items"]
    assert {u["id"] for u in kids} == {town.grid_a1.id, town.grid_a2.id}
    assert kids[0] == {
        "id": town.grid_a1.id,
        "name": "凤凰第一片区网格",
        "kind": "grid",
        "grid_type": "area",
        "parent_id": town.community_a.id,
        "path": town.grid_a1.path,
        "retired": False,
    }


def test_a_grid_admin_lists_and_reads_only_their_subtree(client, town):
    signed_in(client, town, "grid_admin")
    names = {u["name"] for u in all_pages(client, "/api/v1/org-units?page_size=100")}
    assert names == {"凤凰社区", "凤凰第一片区网格", "凤凰第二片区网格"}
    assert client.get(f"/api/v1/org-units/{town.grid_a2.id}").status_code == 200
    assert client.get(f"/api/v1/org-units/{town.grid_b1.id}").status_code == 404
    assert client.get(f"/api/v1/org-units?parent_id={town.street.id}").status_code == 404


def test_org_unit_create_rename_move_and_retire(client, town):
    token = signed_in(client, town, "district_admin")
    r = post(
        client,
        "/api/v1/org-units",
        {"name": " 凤凰第三微网格 ", "kind": "grid", "grid_type": "micro", "parent_id": town.community_a.id},
        token,
    )
    assert r.status_code == 201, r.get_data(as_text=True)
    unit = r.get_json()
    assert r.headers["Location"].endswith(f"/api/v1/org-units/{unit['id']}")
    assert unit["name"] == "凤凰第三微网格" and unit["path"] == f"{town.community_a.path}{unit['id']}/"
    url = f"/api/v1/org-units/{unit['id']}"

    r = patch(client, url, {"name": "凤凰第三网格", "grid_type": "basic"}, token)
    assert r.status_code == 200 and r.get_json()["name"] == "凤凰第三网格" and r.get_json()["grid_type"] == "basic"
    r = patch(client, url, {"parent_id": town.community_b.id}, token)
    assert r.status_code == 200, r.get_data(as_text=True)
    assert r.get_json()["parent_id"] == town.community_b.id
    assert r.get_json()["path"] == f"{town.community_b.path}{unit['id']}/"
    assert fields(patch(client, url, {"parent_id": unit["id"]}, token)) == {"parent_id": "validation_failed"}
    assert fields(patch(client, url, {"retired": False}, token)) == {"retired": "not_allowed"}
    r = patch(client, url, {"retired": True}, token)
    assert r.status_code == 200 and r.get_json()["retired"] is True
    assert client.get(url).get_json()["retired"] is True
    assert unit["id"] not in {u["id"] for u in client.get("/api/v1/org-units?page_size=100").get_json()["items"]}
    assert unit["id"] in {
        u["id"] for u in client.get("/api/v1/org-units?page_size=100&include_retired=true").get_json()["items"]
    }

    # A grid with residents cannot be retired: the service's rule, answered as a 409.
    r = patch(client, f"/api/v1/org-units/{town.grid_a1.id}", {"retired": True}, token)
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "conflict"

    r = post(client, "/api/v1/org-units", {"name": "新街道", "kind": "street"}, token)
    assert r.status_code == 201 and r.get_json()["parent_id"] is None


def test_org_unit_writes_respect_scope_and_role(client, town, app):
    token = signed_in(client, town, "grid_admin")
    r = post(
        client,
        "/api/v1/org-units",
        {"name": "A区新网格", "kind": "grid", "grid_type": "micro", "parent_id": town.community_a.id},
        token,
    )
    assert r.status_code == 201
    r = post(
        client,
        "/api/v1/org-units",
        {"name": "B区新网格", "kind": "grid", "grid_type": "micro", "parent_id": town.community_b.id},
        token,
    )
    assert fields(r) == {"parent_id": "unknown"}
    assert patch(client, f"/api/v1/org-units/{town.grid_b1.id}", {"name": "改"}, token).status_code == 404
    assert fields(patch(client, f"/api/v1/org-units/{town.grid_a2.id}", {"parent_id": town.community_b.id}, token)) == {
        "parent_id": "unknown"
    }
    r = post(client, "/api/v1/org-units", {"name": "街道", "kind": "street"}, token)
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "forbidden"

    client2 = app.test_client()
    token = signed_in(client2, town, "auditor")
    r = post(
        client2,
        "/api/v1/org-units",
        {"name": "审计网格", "kind": "grid", "grid_type": "micro", "parent_id": town.community_a.id},
        token,
    )
    assert r.status_code == 403
    r = patch(client2, f"/api/v1/org-units/{town.grid_a1.id}", {"name": "改"}, token)
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "forbidden"
    assert client2.get(f"/api/v1/org-units/{town.grid_a1.id}").get_json()["name"] == "凤凰第一片区网格"


# --- members -----------------------------------------------------------------------------------------


def test_members_list_search_filter_and_paginate(client, town, app):
    def seed(s):
        made = [make_member(s, town.district.id, town.grid_a2, name=f"欧阳{i}") for i in range(5)]
        made.append(
            make_member(s, town.district.id, town.grid_b1, name="欧阳塘", is_party_member=True, status="suspended")
        )
        return [(m.id, m.mobile) for m in made]

    seeded = commit(app, seed)
    signed_in(client, town, "district_admin")
    found = all_pages(client, "/api/v1/members?q=欧阳&page_size=2")
    # A name search comes in name order (the index's order), each member once across the pages.
    assert [m["name"] for m in found] == ["欧阳0", "欧阳1", "欧阳2", "欧阳3", "欧阳4", "欧阳塘"]
    assert sorted(m["id"] for m in found) == sorted(i for i, _ in seeded)
    mid, mobile = seeded[2]
    assert [m["id"] for m in client.get(f"/api/v1/members?q={mobile[-4:]}").get_json()["items"]] == [mid]
    assert [m["id"] for m in client.get(f"/api/v1/members?q={mobile}").get_json()["items"]] == [mid]
    in_a2 = client.get(f"/api/v1/members?grid_id={town.grid_a2.id}&page_size=100").get_json()["items"]
    assert {m["id"] for m in in_a2} == {i for i, _ in seeded[:5]}
    in_a = client.get(f"/api/v1/members?grid_id={town.community_a.id}&q=欧阳").get_json()["items"]
    assert len(in_a) == 5
    party = client.get("/api/v1/members?tag=party_member&status=suspended").get_json()["items"]
    assert [m["id"] for m in party] == [seeded[5][0]]
    text = client.get("/api/v1/members?q=欧阳&page_size=100").get_data(as_text=True)
    assert all(m not in text for _, m in seeded)  # mobiles only ever masked
    assert f"{mobile[:3]}****{mobile[-4:]}" in text

    signed_in(client, town, "grid_admin")  # community A only
    assert {m["name"] for m in client.get("/api/v1/members?q=欧阳&page_size=100").get_json()["items"]} == {
        f"欧阳{i}" for i in range(5)
    }
    assert client.get(f"/api/v1/members?grid_id={town.grid_b1.id}").status_code == 404


def test_member_search_reuses_its_statement_with_each_requests_values(client, town, app):
    # The list's SELECT is built once per shape of search (app/people/services.py); the district and the
    # mobile are parameters, so a second search of the same shape, or another district's, never sees the
    # first one's values.
    other = commit(app, make_town)
    tail = "7" + unique_mobile()[-3:]

    def seed(s):
        made = [
            make_member(s, town.district.id, town.grid_a1, name="甲", mobile="139" + "0" * 4 + tail),
            make_member(s, town.district.id, town.grid_a2, name="乙", mobile="138" + "1" * 4 + tail),
            make_member(s, other.district.id, other.grid_a1, name="丙", mobile="137" + "2" * 4 + tail),
            make_member(s, town.district.id, town.grid_b1, name="丁", mobile="136" + "3" * 4 + tail),  # community B
        ]
        return [(m.id, m.mobile) for m in made]

    (a_id, a_mobile), (b_id, b_mobile), (c_id, c_mobile), (d_id, _d_mobile) = commit(app, seed)
    signed_in(client, town, "district_admin")

    def found(c, url):
        items = c.get(url).get_json()["items"]
        return {m["id"] for m in items if m["mobile_masked"].endswith(tail)}, len(items)

    # District-wide (the statement without the join to the grid): not the other district's member.
    assert found(client, f"/api/v1/members?q={tail}")[0] == {a_id, b_id, d_id}
    # Paged one by one (limit and offset are parameters too): newest first, each member once.
    paged = [m["id"] for m in all_pages(client, f"/api/v1/members?q={tail}&page_size=1")]
    assert [i for i in paged if i in (a_id, b_id)] == [b_id, a_id]
    assert found(client, f"/api/v1/members?q={a_mobile}") == ({a_id}, 1)
    assert found(client, f"/api/v1/members?q={b_mobile}") == ({b_id}, 1)
    assert found(client, f"/api/v1/members?q={c_mobile}") == (set(), 0)  # another district's member
    client2 = app.test_client()
    signed_in(client2, other, "district_admin")
    assert found(client2, f"/api/v1/members?q={tail}")[0] == {c_id}
    signed_in(client, town, "grid_admin")  # community A only: the scope is a condition of its own
    assert found(client, f"/api/v1/members?q={tail}")[0] == {a_id, b_id}  # not community B's member
    assert found(client, f"/api/v1/members?q={tail}&grid_id={town.grid_a2.id}")[0] == {b_id}


def test_a_signed_in_member_search_sends_two_statements_and_writes_nothing(client, town, app):
    # The principal (session, status and grants: one query, read afresh on every request) and the search.
    signed_in(client, town, "district_admin")
    client.get("/api/v1/members?q=1234")  # warm: the session's last-seen time is written at most once a minute
    engine = app.extensions["db_sessionmaker"].kw["bind"]
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        statements.append(statement.split(None, 1)[0].upper())

    event.listen(engine, "before_cursor_execute", count)
    try:
        assert client.get("/api/v1/members?q=1234").status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert [s for s in statements if s not in ("BEGIN", "SAVEPOINT", "RELEASE")] == ["SELECT", "SELECT"], statements


def test_member_create_read_and_update(client, town):
    token = signed_in(client, town, "grid_admin")
    id_number, mobile = valid_id_number(), unique_mobile()
    r = post(
        client,
        "/api/v1/members",
        {
            "name": "欧阳娜娜",
            "mobile": f"+86 {mobile}",
            "id_number": id_number.lower(),
            "grid_id": town.grid_a2.id,
            "is_party_member": True,
            "party_org": "凤凰社区党委",
            "checkin_community_id": town.community_a.id,
        },
        token,
    )
    assert r.status_code == 201, r.get_data(as_text=True)
    body = r.get_json()
    text = r.get_data(as_text=True)
    assert id_number not in text and id_number.lower() not in text and mobile not in text
    assert body["id_number_masked"] == f"{id_number[:4]}**********{id_number[-4:]}"
    assert body["mobile_masked"] == f"{mobile[:3]}****{mobile[-4:]}"
    assert body["tags"] == ["volunteer", "party_member"] and body["party_org"] == "凤凰社区党委"
    url = f"/api/v1/members/{body['id']}"
    assert r.headers["Location"].endswith(url)
    assert client.get(url).get_json() == body

    r = patch(client, url, {"name": "欧阳娜", "status": "suspended", "is_party_member": False}, token)
    assert r.status_code == 200, r.get_data(as_text=True)
    got = client.get(url).get_json()
    assert (got["name"], got["status"], got["party_org"], got["checkin_community_id"]) == (
        "欧阳娜",
        "suspended",
        None,
        None,
    )
    assert got["id_number_masked"] == body["id_number_masked"]  # untouched fields stay

    r = patch(client, url, {"mobile": town.users["volunteer"][1]}, token)
    assert r.status_code == 409
    assert r.get_json()["error"]["details"][0]["field"] == "mobile"
    r = post(client, "/api/v1/members", {"name": "重号", "mobile": mobile, "grid_id": town.grid_a1.id}, token)
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "conflict"


def test_member_access_follows_scope_role_and_district(client, town, app):
    outsider_id = commit(app, lambda s: make_member(s, town.district.id, town.grid_b1, name="塘家人").id)
    insider_id = town.users["volunteer"][0].id
    other = commit(app, make_town)
    other_member_id = other.users["volunteer"][0].id

    token = signed_in(client, town, "grid_admin")  # community A
    assert client.get(f"/api/v1/members/{insider_id}").status_code == 200
    assert client.get(f"/api/v1/members/{outsider_id}").status_code == 404
    r = patch(client, f"/api/v1/members/{outsider_id}", {"name": "改"}, token)
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "not_found"
    r = post(client, "/api/v1/members", {"name": "张三", "mobile": unique_mobile(), "grid_id": town.grid_b1.id}, token)
    assert fields(r) == {"grid_id": "unknown"}
    r = patch(client, f"/api/v1/members/{insider_id}", {"grid_id": town.grid_b1.id}, token)
    assert fields(r) == {"grid_id": "unknown"}

    client2 = app.test_client()
    token = signed_in(client2, town, "auditor")
    assert client2.get(f"/api/v1/members/{outsider_id}").status_code == 200
    r = post(client2, "/api/v1/members", {"name": "张三", "mobile": unique_mobile(), "grid_id": town.grid_a1.id}, token)
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "forbidden"
    assert patch(client2, f"/api/v1/members/{insider_id}", {"name": "改"}, token).status_code == 403

    client3 = app.test_client()
    token = signed_in(client3, town, "district_admin")  # of this district only
    for url in (f"/api/v1/members/{other_member_id}", f"/api/v1/org-units/{other.grid_a1.id}"):
        assert client3.get(url).status_code == 404
    assert patch(client3, f"/api/v1/members/{other_member_id}", {"name": "改"}, token).status_code == 404
    assert patch(client3, f"/api/v1/org-units/{other.grid_a1.id}", {"name": "改"}, token).status_code == 404
    r = post(
        client3, "/api/v1/members", {"name": "张三", "mobile": unique_mobile(), "grid_id": other.grid_a1.id}, token
    )
    assert fields(r) == {"grid_id": "unknown"}
    assert other_member_id not in {m["id"] for m in client3.get("/api/v1/members?q=李娜").get_json()["items"]}


# --- the OpenAPI document ----------------------------------------------------------------------------


def test_openapi_document_is_valid_and_uses_the_validation_schemas(client):
    from openapi_spec_validator import validate

    r = client.get("/api/v1/openapi.json")
    assert r.status_code == 200
    doc = r.get_json()
    validate(doc)
    assert doc["openapi"].startswith("3.1")
    ops = {(path, method) for path, item in doc["paths"].items() for method in item}
    assert ops == OPERATIONS

    ref = doc["paths"]["/api/v1/members"]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    documented = doc["components"]["schemas"][ref.rsplit("/", 1)[1]]
    expected = json.loads(json.dumps(MemberIn.model_json_schema()))
    assert documented["properties"] == expected["properties"]
    assert documented["required"] == expected["required"]
    assert documented["additionalProperties"] is False
    assert doc["paths"]["/api/v1/members"]["post"]["security"] == [{"session": [], "csrf": []}]
    error = doc["paths"]["/api/v1/members"]["post"]["responses"]["422"]["content"]["application/json"]["schema"]
    assert error == {"$ref": "#/components/schemas/ErrorOut"}
    assert "id_number" not in doc["components"]["schemas"]["MemberOut"]["properties"]


def _schema_of(doc: dict, path: str, method: str, where: str) -> dict:
    op = doc["paths"][path][method]
    content = op["requestBody"] if where == "body" else op["responses"][where]
    return doc["components"]["schemas"][content["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]]


def test_each_operation_is_documented_with_its_own_models(client):
    """SpecTree keeps one schema per model name. Two models of one name once made the document describe
    the outlets' stock report with a grid report's schema, and a household visit's decision (which needs
    `confirm`) with the fund's (which forbids it); a client built from the document could not use them."""
    doc = client.get("/api/v1/openapi.json").get_json()
    report = _schema_of(doc, "/api/v1/outlets/{outlet_id}/stock-report", "get", "200")
    assert {"outlet_id", "matches", "lines", "value_fen"} <= set(report["properties"])
    assert "grid_id" not in report["properties"]
    assert set(_schema_of(doc, "/api/v1/grid-reports/{report_id}", "get", "200")["properties"]) >= {"grid_id", "id"}
    visit = _schema_of(doc, "/api/v1/household-visits/{visit_id}/decision", "post", "body")
    assert set(visit["properties"]) == {"confirm", "reason"} and visit["required"] == ["confirm"]
    payout = _schema_of(doc, "/api/v1/fund/payouts/{payout_id}/reject", "post", "body")
    assert set(payout["properties"]) == {"reason"} and payout["additionalProperties"] is False


def test_no_two_api_models_share_a_name(app):
    """Every pydantic model of the app (top-level or nested in another) has a name of its own, and the
    document refuses a second model under a name already taken."""
    from collections import defaultdict

    import pytest
    from pydantic import BaseModel

    from app.api.openapi import _component_name

    by_name: dict[str, set[str]] = defaultdict(set)

    def walk(cls) -> None:
        for sub in cls.__subclasses__():
            if sub.__module__.startswith("app."):
                by_name[sub.__name__].add(f"{sub.__module__}.{sub.__qualname__}")
            walk(sub)

    walk(BaseModel)
    assert len(by_name) > 100  # every area's models were imported by the app
    assert {name: where for name, where in by_name.items() if len(where) > 1} == {}

    clash = type("MemberOut", (BaseModel,), {"__module__": "tests.web.test_api"})
    with pytest.raises(RuntimeError, match="two API models are named MemberOut"):
        _component_name(clash)


# Schemathesis (generated requests for every operation) is in test_api_schemathesis.py.
