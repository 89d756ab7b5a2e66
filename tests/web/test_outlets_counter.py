"""The outlet counter: staff find a member by QR token or short code, redeem a cart once, print the
receipt; the errors say what to do; another outlet's staff get 404; writes need CSRF; a supervisor
refunds some lines; the member sees the redemption on their QR page and in their points history."""

from __future__ import annotations

import re
import time
import uuid

import pytest
from sqlalchemy import func, select

from app.db import unit_of_work
from app.outlets.models import Redemption
from app.people.models import Member
from app.tokens import make_token
from tests.conftest import csrf_from
from tests.counter_shop import make_shop


def _sign_in_as(client, town, user) -> None:
    member, mobile, password = user
    page = client.get("/signin")
    r = client.post(
        "/signin",
        data={
            "csrf_token": csrf_from(page.get_data(as_text=True)),
            "district": town.district.id,
            "mobile": mobile,
            "password": password,
        },
    )
    assert r.status_code == 302, r.get_data(as_text=True)[:500]


def _text(resp) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", resp.get_data(as_text=True)))


class Counter:
    """The counter page's JSON calls, as counter.js makes them (CSRF header from the page's meta tag)."""

    def __init__(self, client, outlet_id: int):
        self.client = client
        self.outlet_id = outlet_id
        page = client.get(f"/outlets/{outlet_id}/counter")
        assert page.status_code == 200, page.status_code
        self.html = page.get_data(as_text=True)
        self.csrf = csrf_from(self.html)

    def post(self, path: str, body, csrf: bool = True):
        headers = {"Accept": "application/json"}
        if csrf:
            headers["X-CSRFToken"] = self.csrf
        return self.client.post(f"/outlets/{self.outlet_id}/counter/{path}", json=body, headers=headers)

    def look_up(self, code: str):
        return self.post("member", {"code": code})

    def redeem(self, code: str, lines, key: str | None = None):
        body = {
            "code": code,
            "key": key or f"cart-{uuid.uuid4().hex}",
            "lines": [{"item_id": i, "qty": q} for i, q in lines],
        }
        return self.post("redeem", body)


def _token(app, town, member_id: int | None = None, now: float | None = None) -> str:
    mid = member_id or town.users["volunteer"][0].id
    return make_token("member", town.district.id, mid, now or time.time(), secret=app.config["SECRET_KEY"])


@pytest.fixture
def shop(app, town):
    return make_shop(app, town)


def test_staff_open_the_counter_with_the_outlets_items_and_the_scanner(client, town, shop):
    _sign_in_as(client, town, shop.users["staff"])
    c = Counter(client, shop.outlet_a)
    assert "凤凰社区爱心超市" in c.html
    for name in ("大米 5kg", "食用油 1.8L", "洗衣液", "理发"):
        assert f'data-name="{name}"' in c.html
    assert "/static/vendor/jsqr/jsQR.js" in c.html and "/static/js/counter.js" in c.html
    assert not re.search(r"<script(?![^>]*\bsrc=)", c.html), "inline scripts break under CSP script-src 'self'"
    for path in ("/static/vendor/jsqr/jsQR.js", "/static/js/counter.js", "/static/vendor/jsqr/LICENSE"):
        with client.get(path) as r:
            assert r.status_code == 200, path


def test_a_scanned_code_shows_the_masked_name_points_and_limits_left(app, client, town, shop):
    _sign_in_as(client, town, shop.users["staff"])
    r = Counter(client, shop.outlet_a).look_up(_token(app, town))
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["member"]["name"] == "李*"  # 李娜, masked
    assert "****" in body["member"]["mobile"]
    assert body["member"]["available"] == 200
    rice = body["limits"][str(shop.items["rice"])]
    assert rice["left"] == 2 and "2" in rice["text"]
    assert "photo" not in str(body).lower()


def test_the_member_reads_out_the_short_code_from_their_qr_page(app, client, town, shop):
    _sign_in_as(client, town, town.users["volunteer"])
    page = client.get("/me/qr").get_data(as_text=True)
    m = re.search(r'id="qr-short-code">([2-9A-Z]{6})<', page)
    assert m, "the QR page shows a 6-character code to read out"
    code = m.group(1)
    assert 'id="qr-redeemed"' in page and "/me/redeemed.json" in page  # the outlets' panel, through a slot
    client.post("/signout", data={"csrf_token": csrf_from(page)})
    _sign_in_as(client, town, shop.users["staff"])
    c = Counter(client, shop.outlet_a)
    typed = f"{code[:3].lower()} {code[3:]}"  # as staff type it: small letters, a space
    r = c.look_up(typed)
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["member"]["name"] == "李*"
    done = c.redeem(typed, [(shop.items["oil"], 1)])
    assert done.status_code == 200, done.get_json()
    again = c.redeem(code, [(shop.items["oil"], 1)])
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "token_used"
    assert again.get_json()["error"]["message"]


def test_redeeming_a_cart_gives_a_receipt_and_a_double_tap_redeems_once(app, client, town, shop):
    _sign_in_as(client, town, shop.users["staff"])
    c = Counter(client, shop.outlet_a)
    token = _token(app, town)
    key = f"cart-{uuid.uuid4().hex}"
    cart = [(shop.items["rice"], 2), (shop.items["haircut"], 1)]
    first = c.redeem(token, cart, key)
    assert first.status_code == 200, first.get_json()
    second = c.redeem(token, cart, key)  # the double tap: same key, same cart
    assert second.status_code == 200 and second.get_json() == first.get_json()
    with app.app_context(), unit_of_work(app.extensions["db_sessionmaker"]) as s:
        n = s.scalar(select(func.count()).select_from(Redemption).where(Redemption.outlet_id == shop.outlet_a))
    assert n == 1
    receipt = client.get(first.get_json()["receipt_url"])
    assert receipt.status_code == 200
    text = _text(receipt)
    assert "大米 5kg" in text and "×2" in text and "理发" in text and "115" in text
    assert "李*" in text and "李娜" not in text
    assert "85" in text  # points available now
    with client.get("/static/css/counter.css") as css:
        assert "max-width: 80mm" in css.get_data(as_text=True)  # printed: a receipt printer's paper
    history = _text(client.get(f"/outlets/{shop.outlet_a}/counter/redemptions"))
    assert "大米 5kg ×2" in history


@pytest.mark.parametrize(
    ("case", "code", "words"),
    [
        ("not_enough", "insufficient_points", "short"),
        ("out_of_stock", "out_of_stock", "洗衣液"),
        ("limit", "limit_reached", "resets"),
        ("expired", "token_expired", "refresh"),
        ("suspended", "member_suspended", "suspended"),
        ("unknown_code", "member_unknown", "My QR code"),
    ],
)
def test_errors_say_what_to_do(app, client, town, shop, case, code, words):
    client.set_cookie("lang", "en")  # the words checked are the English ones (Chinese is the default)
    _sign_in_as(client, town, shop.users["staff"])
    c = Counter(client, shop.outlet_a)
    token = _token(app, town)
    if case == "not_enough":
        r = c.redeem(token, [(shop.items["rice"], 2), (shop.items["oil"], 3), (shop.items["haircut"], 1)])  # 205 > 200
    elif case == "out_of_stock":
        r = c.redeem(token, [(shop.items["soap"], 1)])
    elif case == "limit":
        r = c.redeem(token, [(shop.items["rice"], 3)])
    elif case == "expired":
        r = c.look_up(_token(app, town, now=time.time() - 300))
    elif case == "suspended":
        with app.app_context(), unit_of_work(app.extensions["db_sessionmaker"]) as s:
            s.get(Member, town.users["volunteer"][0].id).status = "suspended"
        r = c.look_up(token)
    else:
        r = c.look_up("ZZZZZZ")
    assert 400 <= r.status_code < 500, r.status_code
    err = r.get_json()["error"]
    assert err["code"] == code, err
    assert words.lower() in err["message"].lower(), err["message"]
    if case == "not_enough":
        assert "5" in err["message"]  # the shortfall: 205 - 200
    with app.app_context(), unit_of_work(app.extensions["db_sessionmaker"]) as s:
        assert s.scalar(select(func.count()).select_from(Redemption).where(Redemption.outlet_id == shop.outlet_a)) == 0


def test_another_outlets_staff_get_404_and_volunteers_get_nothing(app, client, town, shop):
    _sign_in_as(client, town, shop.users["staff_b"])
    assert client.get(f"/outlets/{shop.outlet_b}/counter").status_code == 200
    assert client.get(f"/outlets/{shop.outlet_a}/counter").status_code == 404
    c = Counter(client, shop.outlet_b)
    r = client.post(
        f"/outlets/{shop.outlet_a}/counter/redeem",
        json={
            "code": _token(app, town),
            "key": "cart-0123456789",
            "lines": [{"item_id": shop.items["rice"], "qty": 1}],
        },
        headers={"X-CSRFToken": c.csrf, "Accept": "application/json"},
    )
    assert r.status_code == 404
    # A redemption of outlet A is not found through outlet B's pages either.
    _sign_in_as(client, town, shop.users["staff"])
    done = Counter(client, shop.outlet_a).redeem(_token(app, town), [(shop.items["oil"], 1)])
    rid = done.get_json()["redemption_id"]
    _sign_in_as(client, town, shop.users["staff_b"])
    assert client.get(f"/outlets/{shop.outlet_a}/counter/redemptions/{rid}").status_code == 404
    assert client.get(f"/outlets/{shop.outlet_b}/counter/redemptions/{rid}").status_code == 404
    _sign_in_as(client, town, town.users["volunteer"])
    assert client.get(f"/outlets/{shop.outlet_a}/counter").status_code in (403, 404)


def test_counter_writes_need_the_csrf_token(app, client, town, shop):
    _sign_in_as(client, town, shop.users["staff"])
    c = Counter(client, shop.outlet_a)
    r = c.post(
        "redeem",
        {"code": _token(app, town), "key": "cart-0123456789", "lines": [{"item_id": shop.items["oil"], "qty": 1}]},
        csrf=False,
    )
    assert r.status_code == 400
    assert c.post("member", {"code": _token(app, town)}, csrf=False).status_code == 400
    with app.app_context(), unit_of_work(app.extensions["db_sessionmaker"]) as s:
        assert (
            s.scalar(select(func.count()).select_from(Redemption).where(Redemption.tenant_id == town.district.id)) == 0
        )


def test_bad_carts_are_refused_in_words_not_500(app, client, town, shop):
    _sign_in_as(client, town, shop.users["staff"])
    c = Counter(client, shop.outlet_a)
    token = _token(app, town)
    for body in (
        {"code": token, "key": "cart-0123456789", "lines": []},
        {"code": token, "key": "cart-0123456789", "lines": [{"item_id": "x", "qty": 1}]},
        {"code": token, "key": "cart-0123456789", "lines": [{"item_id": shop.items["oil"], "qty": 0}]},
        {"code": token, "key": "k", "lines": [{"item_id": shop.items["oil"], "qty": 1}]},
        {"code": "", "key": "cart-0123456789", "lines": [{"item_id": shop.items["oil"], "qty": 1}]},
        {"code": token, "key": "cart-0123456789", "lines": [{"item_id": 2**62, "qty": 1}]},
        ["not", "an", "object"],
    ):
        r = c.post("redeem", body)
        assert 400 <= r.status_code < 500, (body, r.status_code)
        assert r.get_json()["error"]["message"]


def _refund_flow(client, outlet_id: int, rid: int, form: dict):
    page = client.get(f"/outlets/{outlet_id}/counter/redemptions/{rid}/refund")
    assert page.status_code == 200
    csrf = csrf_from(page.get_data(as_text=True))
    check = client.post(f"/outlets/{outlet_id}/counter/redemptions/{rid}/refund", data={"csrf_token": csrf, **form})
    return page, check, csrf


def test_a_supervisor_refunds_one_line_after_a_check_and_the_member_sees_it(app, client, town, shop):
    client.set_cookie("lang", "en")
    _sign_in_as(client, town, shop.users["staff"])
    done = Counter(client, shop.outlet_a).redeem(_token(app, town), [(shop.items["rice"], 2), (shop.items["oil"], 1)])
    rid = done.get_json()["redemption_id"]
    # Staff may not refund.
    assert client.get(f"/outlets/{shop.outlet_a}/counter/redemptions/{rid}/refund").status_code == 403
    _sign_in_as(client, town, shop.users["supervisor"])
    with app.app_context(), unit_of_work(app.extensions["db_sessionmaker"]) as s:
        r = s.get(Redemption, rid)
        rice_line = next(ln.id for ln in r.lines if ln.item_id == shop.items["rice"])
    _, missing, _ = _refund_flow(client, shop.outlet_a, rid, {f"qty-{rice_line}": "1", "reason": ""})
    assert missing.status_code == 422 and "why" in _text(missing).lower()
    _, too_many, _ = _refund_flow(client, shop.outlet_a, rid, {f"qty-{rice_line}": "3", "reason": "袋子破了"})
    assert too_many.status_code == 422 and "At most 2" in _text(too_many)
    _, check, csrf = _refund_flow(client, shop.outlet_a, rid, {f"qty-{rice_line}": "1", "reason": "袋子破了"})
    assert check.status_code == 200
    html = check.get_data(as_text=True)
    assert "大米 5kg ×1" in _text(check) and 'name="confirm" value="yes"' in html
    key = re.search(r'name="key" value="([^"]+)"', html).group(1)
    form = {"csrf_token": csrf, "confirm": "yes", "key": key, "reason": "袋子破了", f"qty-{rice_line}": "1"}
    done = client.post(f"/outlets/{shop.outlet_a}/counter/redemptions/{rid}/refund", data=form)
    assert done.status_code == 302
    # The same confirm sent twice refunds once.
    again = client.post(f"/outlets/{shop.outlet_a}/counter/redemptions/{rid}/refund", data=form)
    assert again.status_code == 302
    receipt = _text(client.get(done.headers["Location"]))
    assert "50" in receipt and "袋子破了" in receipt
    # Refund the rest of the rice, then send that confirm twice: the second changes nothing.
    _, check, csrf = _refund_flow(client, shop.outlet_a, rid, {f"qty-{rice_line}": "1", "reason": "也破了"})
    key = re.search(r'name="key" value="([^"]+)"', check.get_data(as_text=True)).group(1)
    form = {"csrf_token": csrf, "confirm": "yes", "key": key, "reason": "也破了", f"qty-{rice_line}": "1"}
    for _ in range(2):
        assert client.post(f"/outlets/{shop.outlet_a}/counter/redemptions/{rid}/refund", data=form).status_code == 302
    with app.app_context(), unit_of_work(app.extensions["db_sessionmaker"]) as s:
        r = s.get(Redemption, rid)
        assert [f.points for f in r.refunds] == [50, 50]
    _sign_in_as(client, town, town.users["volunteer"])
    points = _text(client.get("/me/points"))
    assert "凤凰社区爱心超市 · 大米 5kg ×2 · 食用油 1.8L ×1" in points and "-130" in points
    assert "凤凰社区爱心超市 · 大米 5kg ×1" in points and "+50" in points
    latest = client.get("/me/redeemed.json").get_json()
    assert latest["redemptions"][0]["outlet"] == "凤凰社区爱心超市"
    assert latest["available"] == 200 - 130 + 50 + 50
    api = client.get("/api/v1/me/points").get_json()
    assert any("大米 5kg ×2" in ln["title"] for ln in api["lines"])


def test_nobody_refunds_a_redemption_they_made(app, client, town, shop):
    client.set_cookie("lang", "en")
    _sign_in_as(client, town, shop.users["supervisor"])
    done = Counter(client, shop.outlet_a).redeem(_token(app, town), [(shop.items["oil"], 1)])
    rid = done.get_json()["redemption_id"]
    with app.app_context(), unit_of_work(app.extensions["db_sessionmaker"]) as s:
        line = s.get(Redemption, rid).lines[0].id
    _, check, csrf = _refund_flow(client, shop.outlet_a, rid, {f"qty-{line}": "1", "reason": "试试"})
    key = re.search(r'name="key" value="([^"]+)"', check.get_data(as_text=True)).group(1)
    r = client.post(
        f"/outlets/{shop.outlet_a}/counter/redemptions/{rid}/refund",
        data={"csrf_token": csrf, "confirm": "yes", "key": key, "reason": "试试", f"qty-{line}": "1"},
    )
    assert r.status_code == 403 and "another supervisor" in _text(r)


def test_the_members_latest_redemptions_need_sign_in(client, town):
    r = client.get("/me/redeemed.json", headers={"Accept": "application/json"})
    assert r.status_code in (302, 401)
