"""A create answers 201 with a Location header that names what was made, and reading that Location
answers 200 with the same thing: the way a client (and Schemathesis' link inference) follows it."""

from __future__ import annotations

from tests.web.test_api import post, signed_in


def _follow(client, resp):
    assert resp.status_code == 201, resp.get_data(as_text=True)
    location = resp.headers.get("Location", "")
    assert location.startswith("/api/v1/"), resp.headers
    read = client.get(location)
    assert read.status_code == 200, read.get_data(as_text=True)
    assert read.get_json()["id"] == resp.get_json()["id"]
    return read.get_json()


def test_a_new_outlet_and_a_new_fund_read_back_from_their_location(client, town):
    token = signed_in(client, town, "district_admin")
    outlet = _follow(
        client, post(client, "/api/v1/outlets", {"unit_id": town.community_a.id, "name": "凤凰社区爱心超市"}, token)
    )
    assert outlet["name"] == "凤凰社区爱心超市"
    fund = _follow(client, post(client, "/api/v1/fund/funds", {"name": "平安志愿者奖励基金"}, token))
    assert fund["name"] == "平安志愿者奖励基金"


def test_a_grid_report_reads_back_from_its_location(client, town):
    token = signed_in(client, town, "volunteer")
    report = _follow(
        client,
        post(client, "/api/v1/grid-reports", {"category": "hazard", "text": "楼道里堆放了很多纸箱，有火灾隐患"}, token),
    )
    assert report["category"] == "hazard"
