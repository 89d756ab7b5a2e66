"""A member's own live QR code (/me/qr, /me/qr.svg) and the printable member card (/members/<id>/card)."""

from __future__ import annotations

import re
from xml.etree import ElementTree

import pytest

from app.db import unit_of_work
from app.tokens import TokenWrongPurpose, check_token
from tests.conftest import sign_in
from tests.factories import make_member

SVG = "{http://www.w3.org/2000/svg}svg"


def data_token(html: str) -> str:
    m = re.search(r'data-token="([^"]+)"', html)
    assert m, "no data-token on the page"
    return m.group(1)


def add_member(app, town, grid, name):
    with app.app_context(), app.test_request_context():
        with unit_of_work(app.extensions["db_sessionmaker"]) as s:
            member = make_member(s, town.district.id, grid, name=name)
            s.flush()
            return member.id


def test_signed_in_volunteer_sees_their_live_qr(app, client, town):
    me = sign_in(client, town, "volunteer")
    r = client.get("/me/qr")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert "<svg" in html and "<path" in html  # drawn inline, not an <img>
    assert me.name in html
    token = data_token(html)
    claims = check_token(token, "member", secret=app.config["SECRET_KEY"])
    assert (claims.tenant_id, claims.subject_id) == (town.district.id, me.id)
    # For staff to type when a scanner fails: the short code (6 characters), not the long token.
    assert re.search(r'id="qr-short-code">[2-9A-HJKMNP-Z]{6}<', html)
    assert token not in re.sub(r"<[^>]+>", " ", html)
    assert "/static/js/qr.js" in html
    assert not re.search(r"<script(?![^>]*\bsrc=)", html), "inline scripts break under CSP script-src 'self'"
    with client.get("/static/js/qr.js") as js:
        assert js.status_code == 200


def test_qr_svg_refresh_is_an_uncached_svg_of_a_fresh_member_token(app, client, town):
    me = sign_in(client, town, "volunteer")
    r = client.get("/me/qr.svg")
    assert r.status_code == 200
    assert r.mimetype == "image/svg+xml"
    assert "no-store" in r.headers["Cache-Control"]
    root = ElementTree.fromstring(r.get_data())
    assert root.tag == SVG
    assert 1 <= int(root.get("data-refresh-in")) <= 30
    claims = check_token(root.get("data-token"), "member", secret=app.config["SECRET_KEY"])
    assert claims.subject_id == me.id
    assert re.fullmatch(r"[2-9A-HJKMNP-Z]{6}", root.get("data-short-code"))  # the page's short code, kept in step


def test_my_qr_needs_sign_in(client, town):
    for path in ("/me/qr", "/me/qr.svg"):
        r = client.get(path)
        assert r.status_code == 302 and "/signin" in r.headers["Location"]


def test_my_page_links_to_my_qr(client, town):
    sign_in(client, town, "volunteer")
    page = client.get("/me", follow_redirects=True).get_data(as_text=True)
    assert 'href="/me/qr"' in page


def test_member_sees_own_card_but_not_someone_elses_in_another_community(app, client, town):
    me = sign_in(client, town, "volunteer")
    assert client.get(f"/members/{me.id}/card").status_code == 200
    stranger = add_member(app, town, town.grid_b1, "周杰")
    r = client.get(f"/members/{stranger}/card")
    assert r.status_code == 404
    assert "周杰" not in r.get_data(as_text=True)


def test_grid_admin_prints_the_card_of_a_member_in_their_community(app, client, town):
    member = add_member(app, town, town.grid_a2, "吴<刚>&")
    sign_in(client, town, "grid_admin")
    r = client.get(f"/members/{member}/card")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert "吴&lt;刚&gt;&amp;" in html and "吴<刚>" not in html  # shown as text, in the page and the SVG title
    assert town.district.name in html and town.grid_a2.name in html
    assert f"{member:06d}" in html
    assert re.search(r"1\d\d\*\*\*\*\d{4}", html), "the mobile is masked"
    assert "/static/css/qr.css" in html
    with client.get("/static/css/qr.css") as css:
        assert "@media print" in css.get_data(as_text=True)
    token = data_token(html)
    claims = check_token(token, "member_card", secret=app.config["SECRET_KEY"])
    assert (claims.tenant_id, claims.subject_id) == (town.district.id, member)
    # The printed card identifies the member; it never passes as the live code that spends points.
    with pytest.raises(TokenWrongPurpose):
        check_token(token, "member", secret=app.config["SECRET_KEY"])


def test_grid_admin_cannot_see_cards_outside_their_community(app, client, town):
    elsewhere = add_member(app, town, town.grid_b1, "郑爽")
    sign_in(client, town, "grid_admin")
    assert client.get(f"/members/{elsewhere}/card").status_code == 404


def test_card_of_another_district_is_invisible(app, client, town):
    from tests.factories import make_town

    with app.app_context(), app.test_request_context():
        with unit_of_work(app.extensions["db_sessionmaker"]) as s:
            other_id = make_town(s).users["volunteer"][0].id
    sign_in(client, town, "district_admin")
    assert client.get(f"/members/{other_id}/card").status_code == 404


def test_a_get_that_issues_a_code_takes_the_write_lock_and_a_plain_page_view_does_not(sqlite_url):
    """/me/qr writes (a new short code when due). Opened as a read, its transaction would fail on SQLite
    ("database is locked") as soon as another writer committed between its first read and its write:
    a GET that writes says so (app/db.writes_on_get) and takes the write lock from the start. SQLite
    only, by its own app (PostgreSQL takes no lock at BEGIN: reads and writes begin alike there)."""
    from sqlalchemy import event

    from app import create_app
    from app.db import make_engine
    from tests.conftest import TEST_CONFIG
    from tests.factories import make_town

    engine = make_engine(sqlite_url)
    app = create_app({**TEST_CONFIG, "DATABASE_URL": sqlite_url, "ENGINE": engine})
    with app.app_context(), app.test_request_context():
        with unit_of_work(app.extensions["db_sessionmaker"]) as s:
            town = make_town(s)  # committed for real: a district of its own
    client = app.test_client()
    sign_in(client, town, "volunteer")
    begins: list[str] = []

    def seen(conn, cursor, statement, *args):
        if statement.startswith("BEGIN"):
            begins.append(statement)

    event.listen(engine, "before_cursor_execute", seen)
    try:
        assert client.get("/me/qr").status_code == 200
        qr = list(begins)
        begins.clear()
        assert client.get("/me/qr.svg").status_code == 200
        svg = list(begins)
        begins.clear()
        assert client.get("/me/points").status_code == 200
        page = list(begins)
    finally:
        event.remove(engine, "before_cursor_execute", seen)
        engine.dispose()
    assert qr == ["BEGIN IMMEDIATE"] and svg == ["BEGIN IMMEDIATE"]
    assert page == ["BEGIN"]  # a plain page view reads without the lock
