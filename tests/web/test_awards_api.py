"""The awards API (issue 9): district administrators award points, a second one approves above the
threshold (never the proposer: 403 own_award), rejects with a reason, and corrects by reversal."""

from __future__ import annotations

from tests.web.test_activities_api import _client, _error, _extra_user
from tests.web.test_api import commit, post

AW = "/api/v1/points/awards"


def test_awards_below_and_above_the_threshold_with_maker_checker(app, town):
    _extra_user(app, town, "district_admin2", "孙丽", roles=[("district_admin", None)])
    maker, mtoken = _client(app, town, "district_admin")
    checker, ctoken = _client(app, town, "district_admin2")
    volunteer = town.users["volunteer"][0]
    small = {"category": "civic", "reason": "创文表彰", "items": [{"member_id": volunteer.id, "points": 20}]}
    r = post(maker, AW, small, mtoken)
    assert r.status_code == 201, r.get_data(as_text=True)
    assert (r.get_json()["status"], r.get_json()["lines"][0]["status"]) == ("posted", "posted")
    line_id = r.get_json()["lines"][0]["id"]

    big = {**small, "items": [{"member_id": volunteer.id, "points": 500}]}
    r = post(maker, AW, big, mtoken)
    assert r.status_code == 201 and r.get_json()["status"] == "pending"
    award_id = r.get_json()["id"]
    assert [a["id"] for a in maker.get(f"{AW}?status=pending").get_json()["items"]] == [award_id]
    assert _error(post(maker, f"{AW}/{award_id}/approve", {}, mtoken), 403) == "own_award"
    r = post(checker, f"{AW}/{award_id}/approve", {"reason": "核实"}, ctoken)
    assert r.status_code == 200 and r.get_json()["status"] == "posted"
    assert _error(post(checker, f"{AW}/{award_id}/approve", {}, ctoken), 409) == "award_decided"

    v, _vt = _client(app, town, "volunteer")
    assert v.get("/api/v1/me/points").get_json()["available"] == 520
    assert _error(v.get(AW), 403) == "forbidden"

    r = post(checker, f"/api/v1/points/award-lines/{line_id}/reverse", {"reason": "重复发放"}, ctoken)
    assert r.status_code == 200 and r.get_json() == {"points": 20}
    assert v.get("/api/v1/me/points").get_json()["available"] == 500


def test_bad_awards_and_rejections_say_what_to_fix(app, town):
    _extra_user(app, town, "district_admin2", "孙丽", roles=[("district_admin", None)])
    maker, mtoken = _client(app, town, "district_admin")
    checker, ctoken = _client(app, town, "district_admin2")
    volunteer = town.users["volunteer"][0]
    item = {"member_id": volunteer.id, "points": 5}
    assert _error(post(maker, AW, {"category": "money", "reason": "x", "items": [item]}, mtoken), 422)
    r = post(maker, AW, {"category": "civic", "reason": "x", "items": [item, item]}, mtoken)
    assert _error(r, 422) == "award_invalid"
    r = post(maker, AW, {"category": "civic", "reason": "x", "items": [{**item, "points": 200}]}, mtoken)
    award_id = r.get_json()["id"]
    assert _error(post(checker, f"{AW}/{award_id}/reject", {"reason": ""}, ctoken), 422) == "award_invalid"
    r = post(checker, f"{AW}/{award_id}/reject", {"reason": "材料不全"}, ctoken)
    assert r.get_json()["status"] == "rejected"
    assert _error(maker.get(f"{AW}/999999"), 404) == "not_found"
    organiser, otoken = _client(app, town, "organiser")
    assert _error(post(organiser, AW, {"category": "civic", "reason": "x", "items": [item]}, otoken), 403)


def test_a_reversal_the_wallet_cannot_cover_is_409_with_the_shortfall(app, town):
    maker, mtoken = _client(app, town, "district_admin")
    volunteer = town.users["volunteer"][0]
    r = post(
        maker, AW, {"category": "civic", "reason": "表彰", "items": [{"member_id": volunteer.id, "points": 30}]}, mtoken
    )
    line_id = r.get_json()["lines"][0]["id"]

    def spend(s):
        from ledger import Ledger, Transfer

        book = Ledger(s, tenant=town.district.id)
        book.open_accounts(["sink:test"], unit="PT", normal="debit", no_overdraft=False)
        book.post([Transfer(f"member:{volunteer.id}", "sink:test", 25)], kind="redeem", key="test:spend")

    commit(app, spend)
    r = post(maker, f"/api/v1/points/award-lines/{line_id}/reverse", {"reason": "重复"}, mtoken)
    assert _error(r, 409) == "insufficient_balance"
    assert "25" in r.get_json()["error"]["message"]


def test_an_award_to_someone_outside_the_district_is_refused(app, town):
    from tests.factories import make_town

    other = commit(app, lambda s: make_town(s).users["volunteer"][0].id)
    maker, mtoken = _client(app, town, "district_admin")
    body = {"category": "civic", "reason": "x", "items": [{"member_id": other, "points": 5}]}
    assert _error(post(maker, AW, body, mtoken), 422) == "award_invalid"
    body["items"][0]["member_id"] = 2**62
    assert _error(post(maker, AW, body, mtoken), 422) == "award_invalid"
