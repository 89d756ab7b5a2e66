"""The outlets API through the real app: the counter (look up, redeem, double tap, refusals with their
codes), refunds, one-outlet scope (404 elsewhere, 403 not_outlet_staff for a role that does not allow
it), stock movements, counts and the report, and the district's catalogue."""

from __future__ import annotations

from app.db import utcnow
from app.tokens import make_token
from tests.conftest import csrf_from
from tests.factories import PASSWORD
from tests.outlets_world import give_points, make_shop, member_with_points
from tests.web.test_api import commit, post, signed_in


def _shop(app, town):
    """A committed shop (tests/outlets_world.py); its staff sign in like the town's roles; the town's
    volunteer has 200 points."""

    def build(s):
        shop = make_shop(s, town)
        give_points(s, shop.tenant, town.users["volunteer"][0].id, 200)
        return shop

    shop = commit(app, build)
    for role, member in shop.people.items():
        town.users[role] = (member, member.mobile, PASSWORD)
    return shop


def _token(app, town, member, when=None):
    with app.app_context():
        return make_token("member", town.district.id, member.id, when or utcnow())


def test_staff_redeem_once_per_cart_and_the_receipt_says_what_left(app, client, town):
    shop = _shop(app, town)
    csrf = signed_in(client, town, "staff_a")
    volunteer = town.users["volunteer"][0]
    tok = _token(app, town, volunteer)
    r = post(client, f"/api/v1/outlets/{shop.a.id}/member-lookup", {"member_token": tok}, csrf)
    assert r.status_code == 200 and r.get_json()["available_points"] == 200
    assert r.get_json()["name_masked"] == "李*"
    body = {
        "member_token": tok,
        "lines": [{"item_id": shop.rice.id, "qty": 1}, {"item_id": shop.haircut.id, "qty": 1}],
        "key": "cart-1",
    }
    first = post(client, f"/api/v1/outlets/{shop.a.id}/redemptions", body, csrf)
    assert first.status_code == 201, first.get_data(as_text=True)
    receipt = first.get_json()
    assert receipt["total_points"] == 60 and receipt["available_after"] == 140
    again = post(client, f"/api/v1/outlets/{shop.a.id}/redemptions", body, csrf)
    assert again.status_code == 201 and again.get_json()["id"] == receipt["id"]
    used = post(client, f"/api/v1/outlets/{shop.a.id}/redemptions", {**body, "key": "cart-2"}, csrf)
    assert used.status_code == 409 and used.get_json()["error"]["code"] == "token_used"
    r = client.get(f"/api/v1/outlets/{shop.a.id}/catalogue")
    assert {x["item_id"]: x["stock"] for x in r.get_json()["items"]}[shop.rice.id] == 19


def test_the_counter_refuses_with_codes_that_say_what_to_do(app, client, town):
    shop = _shop(app, town)
    csrf = signed_in(client, town, "staff_a")
    poor = commit(app, lambda s: member_with_points(s, town, 30, name="钱少"))
    r = post(
        client,
        f"/api/v1/outlets/{shop.a.id}/redemptions",
        {"member_token": _token(app, town, poor), "lines": [{"item_id": shop.rice.id, "qty": 1}], "key": "p"},
        csrf,
    )
    assert r.status_code == 409
    err = r.get_json()["error"]
    assert err["code"] == "insufficient_points" and err["details"][0]["shortfall"] == 20
    r = post(
        client,
        f"/api/v1/outlets/{shop.a.id}/redemptions",
        {"member_code": "ABCDEF", "lines": [{"item_id": shop.oil.id, "qty": 1}], "key": "q"},
        csrf,
    )
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "member_unknown"
    r = post(
        client,
        f"/api/v1/outlets/{shop.a.id}/redemptions",
        {"lines": [{"item_id": shop.oil.id, "qty": 1}], "key": "q"},
        csrf,
    )
    assert r.status_code == 422


def test_staff_of_one_outlet_get_404_at_another_and_refund_only_as_supervisors(app, client, town):
    shop = _shop(app, town)
    volunteer = town.users["volunteer"][0]
    csrf = signed_in(client, town, "staff_a")
    body = {"member_token": _token(app, town, volunteer), "lines": [{"item_id": shop.rice.id, "qty": 2}], "key": "x"}
    assert post(client, f"/api/v1/outlets/{shop.b.id}/redemptions", body, csrf).status_code == 404
    assert (
        post(
            client,
            f"/api/v1/outlets/{shop.b.id}/stock-counts",
            {"lines": [{"item_id": shop.rice.id, "counted_qty": 1}]},
            csrf,
        ).status_code
        == 404
    )
    assert client.get(f"/api/v1/outlets/{shop.b.id}").status_code == 404
    assert [o["id"] for o in client.get("/api/v1/outlets").get_json()["items"]] == [shop.a.id]
    made = post(client, f"/api/v1/outlets/{shop.a.id}/redemptions", body, csrf)
    assert made.status_code == 201
    rid = made.get_json()["id"]
    r = post(client, f"/api/v1/redemptions/{rid}/refund", {"reason": "破损"}, csrf)
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "not_outlet_staff"
    client.post("/signout")

    csrf = signed_in(client, town, "staff_b")
    assert post(client, f"/api/v1/redemptions/{rid}/refund", {"reason": "破损"}, csrf).status_code == 404
    assert client.get(f"/api/v1/redemptions/{rid}").status_code == 404
    client.post("/signout")

    csrf = signed_in(client, town, "supervisor_a")
    line_id = client.get(f"/api/v1/redemptions/{rid}").get_json()["lines"][0]["line_id"]
    r = post(
        client,
        f"/api/v1/redemptions/{rid}/refund",
        {"reason": "包装破损", "lines": [{"line_id": line_id, "qty": 1}]},
        csrf,
    )
    assert r.status_code == 201, r.get_data(as_text=True)
    assert r.get_json()["points"] == 50 and r.get_json()["receipt"]["refunded_points"] == 50
    assert post(client, f"/api/v1/redemptions/{rid}/refund", {"reason": "全部退"}, csrf).status_code == 201
    r = post(client, f"/api/v1/redemptions/{rid}/refund", {"reason": "再退"}, csrf)
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "already_refunded"
    client.post("/signout")

    signed_in(client, town, "volunteer")  # the member sees their own receipt
    assert client.get(f"/api/v1/redemptions/{rid}").get_json()["available_after"] == 200


def test_nobody_refunds_a_redemption_they_made(app, client, town):
    shop = _shop(app, town)
    volunteer = town.users["volunteer"][0]
    csrf = signed_in(client, town, "supervisor_a")
    made = post(
        client,
        f"/api/v1/outlets/{shop.a.id}/redemptions",
        {"member_token": _token(app, town, volunteer), "lines": [{"item_id": shop.oil.id, "qty": 1}], "key": "s"},
        csrf,
    )
    r = post(client, f"/api/v1/redemptions/{made.get_json()['id']}/refund", {"reason": "自己做的"}, csrf)
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "own_redemption"


def test_stock_in_count_and_report_through_the_api(app, client, town):
    shop = _shop(app, town)
    csrf = signed_in(client, town, "staff_a")
    r = post(
        client,
        f"/api/v1/outlets/{shop.a.id}/stock-movements",
        {
            "kind": "donation",
            "donor": "光明爱心企业",
            "estimated_value_fen": 50000,
            "lines": [{"item_id": shop.oil.id, "qty": 10}],
        },
        csrf,
    )
    assert r.status_code == 201 and r.get_json()["lines"] == [
        {"item_id": shop.oil.id, "name": "花生油 1.8L", "qty": 10}
    ]
    r = post(
        client,
        f"/api/v1/outlets/{shop.a.id}/stock-movements",
        {"kind": "write_off", "reason": "damaged", "lines": [{"item_id": shop.oil.id, "qty": 1}]},
        csrf,
    )
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "not_outlet_staff"
    r = post(
        client,
        f"/api/v1/outlets/{shop.a.id}/stock-movements",
        {"kind": "transfer", "to_outlet_id": shop.b.id, "lines": [{"item_id": shop.oil.id, "qty": 31}]},
        csrf,
    )
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "out_of_stock"
    # Each detail as the document's FieldError has it: a message besides the code (it once had none).
    (detail,) = r.get_json()["error"]["details"]
    assert detail["code"] == "out_of_stock" and detail["item_id"] == shop.oil.id and "30" in detail["message"]
    client.post("/signout")

    csrf = signed_in(client, town, "supervisor_a")
    r = post(
        client,
        f"/api/v1/outlets/{shop.a.id}/stock-counts",
        {"lines": [{"item_id": shop.oil.id, "counted_qty": 29, "reason": "一瓶漏油"}]},
        csrf,
    )
    assert r.status_code == 201 and r.get_json()["status"] == "pending"
    count_id = r.get_json()["id"]
    report = client.get(f"/api/v1/outlets/{shop.a.id}/stock-report").get_json()
    assert report["matches"] is False
    r = post(client, f"/api/v1/stock-counts/{count_id}/apply", {}, csrf)
    assert r.status_code == 200 and r.get_json()["status"] == "applied"
    report = client.get(f"/api/v1/outlets/{shop.a.id}/stock-report").get_json()
    oil = next(x for x in report["lines"] if x["item_id"] == shop.oil.id)
    assert report["matches"] is True and oil["book_qty"] == 29
    # Times as the document says, date-time with an offset: a bare number is refused, not read as 1970.
    for arg in ("since=0.5", "at=1700000000", "since=-5"):
        r = client.get(f"/api/v1/outlets/{shop.a.id}/stock-report?{arg}")
        assert r.status_code == 422, arg
    at = "2026-12-05T09:00:00%2B08:00"
    assert client.get(f"/api/v1/outlets/{shop.a.id}/stock-report?at={at}").status_code == 200
    assert (
        post(client, f"/api/v1/stock-counts/{count_id}/apply", {}, csrf).get_json()["error"]["code"]
        == "count_not_pending"
    )


def test_the_district_keeps_the_catalogue_and_opens_outlets(app, client, town):
    shop = _shop(app, town)
    csrf = signed_in(client, town, "district_admin")
    r = post(
        client,
        "/api/v1/outlets",
        {"unit_id": town.community_b.id, "name": "塘家第二爱心超市", "address": "塘家路8号"},
        csrf,
    )
    assert r.status_code == 201
    new_outlet = r.get_json()["id"]
    r = post(
        client,
        "/api/v1/catalogue/items",
        {"name": "洗衣液 2kg", "points": 30, "category": "日用品", "limit_qty": 1, "limit_period": "week"},
        csrf,
    )
    assert r.status_code == 201
    item = r.get_json()["id"]
    assert post(client, "/api/v1/catalogue/items", {"name": "洗衣液 2kg", "points": 30}, csrf).status_code == 409
    r = post(client, f"/api/v1/catalogue/items/{item}/prices", {"points": 35, "reason": "调价"}, csrf)
    assert r.status_code == 201 and r.get_json()["version"] == 2
    r = post(client, f"/api/v1/outlets/{new_outlet}/availability", {"item_id": item}, csrf)
    assert r.status_code == 200 and r.get_json()["items"][0]["points"] == 35
    names = [x["name"] for x in client.get("/api/v1/catalogue/items?q=洗衣").get_json()["items"]]
    assert names == ["洗衣液 2kg"]
    client.post("/signout")
    csrf = signed_in(client, town, "supervisor_a")
    r = post(client, "/api/v1/catalogue/items", {"name": "香皂", "points": 5}, csrf)
    assert r.status_code == 403
    assert shop.a.id


def test_guessing_short_codes_is_throttled_per_staff_account(app, client, town):
    # Only refused lookups count: 30 in 10 minutes, then 429 until the window passes (MEMBER_LOOKUP_LIMIT).
    shop = _shop(app, town)
    csrf = signed_in(client, town, "staff_a")
    url = f"/api/v1/outlets/{shop.a.id}/member-lookup"
    good = {"member_token": _token(app, town, town.users["volunteer"][0])}
    assert post(client, url, good, csrf).status_code == 200  # a good scan does not count
    answers = [post(client, url, {"member_code": f"ZZ{i:04d}"}, csrf).status_code for i in range(31)]
    assert answers[:30] == [422] * 30 and answers[30] == 429
    assert post(client, url, good, csrf).status_code == 429  # the account waits, whatever it sends
    other = app.test_client()  # another staff account is not held up
    other_csrf = signed_in(other, town, "supervisor_a")
    assert post(other, url, good, other_csrf).status_code == 200


def test_the_district_sets_its_refund_period_and_refunds_keep_to_it(app, client, town):
    # "Within a period set per district (default 7 days)": read by anyone who sees outlets, set by a
    # district administrator (page and API), audited; a supervisor's refund after it is refused.
    shop = _shop(app, town)
    csrf = signed_in(client, town, "staff_a")
    assert client.get("/api/v1/outlets/settings").get_json() == {"refund_days": 7}
    r = client.put("/api/v1/outlets/settings", json={"refund_days": 1}, headers={"X-CSRFToken": csrf})
    assert r.status_code == 403
    admin = app.test_client()
    admin_csrf = signed_in(admin, town, "district_admin")
    for bad in (-1, 366, "seven"):
        r = admin.put("/api/v1/outlets/settings", json={"refund_days": bad}, headers={"X-CSRFToken": admin_csrf})
        assert r.status_code == 422, bad
    r = admin.put("/api/v1/outlets/settings", json={"refund_days": 0}, headers={"X-CSRFToken": admin_csrf})
    assert r.status_code == 200 and r.get_json() == {"refund_days": 0}
    assert client.get("/api/v1/outlets/settings").get_json() == {"refund_days": 0}
    # A redemption now, and its refund refused: no refunds in this district any more.
    tok = _token(app, town, town.users["volunteer"][0])
    body = {"member_token": tok, "lines": [{"item_id": shop.rice.id, "qty": 1}], "key": "cart-r"}
    receipt = post(client, f"/api/v1/outlets/{shop.a.id}/redemptions", body, csrf).get_json()
    supervisor = app.test_client()
    sup_csrf = signed_in(supervisor, town, "supervisor_a")
    r = post(supervisor, f"/api/v1/redemptions/{receipt['id']}/refund", {"reason": "退货"}, sup_csrf)
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "refund_period_over", r.get_data(as_text=True)
    # The page: the district administrator's form, a refusal with what to fix, and the saved value.
    page = admin.get("/outlets/settings")
    assert page.status_code == 200 and 'name="refund_days"' in page.get_data(as_text=True)
    token = csrf_from(page.get_data(as_text=True))
    assert admin.post("/outlets/settings", data={"csrf_token": token, "refund_days": "400"}).status_code == 422
    assert admin.post("/outlets/settings", data={"csrf_token": token, "refund_days": "14"}).status_code == 302
    assert client.get("/api/v1/outlets/settings").get_json() == {"refund_days": 14}
    assert client.get("/outlets/settings").status_code == 403


def test_a_member_gets_their_code_from_the_api_and_the_counter_reads_it(app, client, town):
    shop = _shop(app, town)
    me = app.test_client()
    signed_in(me, town, "volunteer")
    r = me.get("/api/v1/me/qr")
    assert r.status_code == 200, r.get_data(as_text=True)
    code = r.get_json()
    assert code["token"].startswith("AX1.") and 6 <= len(code["short_code"]) <= 8
    assert 0 < code["refresh_in"] <= code["valid_for"]
    csrf = signed_in(client, town, "staff_a")
    for body in ({"member_token": code["token"]}, {"member_code": code["short_code"]}):
        r = post(client, f"/api/v1/outlets/{shop.a.id}/member-lookup", body, csrf)
        assert r.status_code == 200 and r.get_json()["available_points"] == 200, body
    assert app.test_client().get("/api/v1/me/qr").status_code == 401
