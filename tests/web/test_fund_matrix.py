"""The fund's maker-checker matrix through the JSON API (real sign-in, CSRF, permissions): who may
propose, approve, reject, pay and return a payout — proposer, approver, second approver, payee, the fund
roles, a district administrator, an auditor, and a role with no fund action — each answered with the
right status and stable code."""

from __future__ import annotations

from datetime import date

import pytest

from app.auth.services import user_for_member
from app.fund import approvals, budget
from app.fund.proposals import PayoutItem, propose_payout
from tests.factories import PASSWORD, make_member, make_user
from tests.integration.fund_env import beijing_today
from tests.web.test_api import commit, post, signed_in


@pytest.fixture
def world(app, town):
    """A fund of ¥100,000 and payouts in every state the matrix needs, proposed by the fund manager."""

    def build(s):
        t = town.district.id
        second = make_user(s, t, town.grid_a1, "孙丽", [("fund_approver", None)])
        town.users["second_approver"] = (second, second.mobile, PASSWORD)
        manager = user_for_member(s, town.users["fund_manager"][0]).id
        approver = user_for_member(s, town.users["fund_approver"][0]).id
        admin = user_for_member(s, town.users["district_admin"][0]).id
        fund = budget.open_fund(s, t, "平安志愿者奖励基金", actor_user_id=manager)
        budget.record_income(
            s,
            t,
            fund.id,
            kind="allocation",
            amount=100_000_00,
            source="区财政局",
            document_ref="深财〔2026〕1号",
            received_on=date(2026, 1, 5),
            actor_user_id=manager,
        )
        payee = town.users["volunteer"][0]
        other = make_member(s, t, town.grid_a1, name="周一")

        def propose(member, fen, by=manager):
            return propose_payout(s, t, fund.id, PayoutItem(member.id, fen, "patrol", "夜间巡逻"), actor_user_id=by).id

        ids = {
            "small": propose(payee, 500_00),
            "large": propose(payee, 5_000_00),
            "to_approver": propose(town.users["fund_approver"][0], 500_00),
            "by_admin": propose(other, 500_00, by=admin),
            "approved": propose(payee, 500_00),
        }
        approvals.approve_payout(s, t, ids["large"], actor_user_id=approver)  # one of two approvals
        approvals.approve_payout(s, t, ids["approved"], actor_user_id=approver)
        return {"fund": fund.id, "other": other.id, **ids}

    return commit(app, build)


def act(client, token, world, action: str, target: str):
    if action == "propose":
        body = {
            "fund_id": world["fund"],
            "payee_member_id": world["other"],
            "amount": "300.00",
            "reason_category": "patrol",
            "reason": "夜间巡逻",
        }
        return post(client, "/api/v1/fund/payouts", body, token)
    url = f"/api/v1/fund/payouts/{world[target]}"
    if action == "approve":
        return post(client, f"{url}/approve", {}, token)
    if action == "reject":
        return post(client, f"{url}/reject", {"reason": "证据不足"}, token)
    if action == "pay":
        body = {"channel": "bank", "reference": "BANK-1", "paid_on": beijing_today().isoformat(), "paid_by": "陈静"}
        return post(client, f"{url}/disbursement", body, token)
    if action == "return":
        return post(client, f"{url}/return", {"reason": "无法联系"}, token)
    raise AssertionError(action)


# (who, action, on which payout) -> (status, code or the payout's status after)
MATRIX = [
    # the proposer (fund manager): makes and pays, never checks
    ("fund_manager", "propose", None, 201, "proposed"),
    ("fund_manager", "approve", "small", 403, "forbidden"),
    ("fund_manager", "reject", "small", 403, "forbidden"),
    ("fund_manager", "pay", "approved", 201, "paid"),
    ("fund_manager", "pay", "small", 409, "not_approved"),
    ("fund_manager", "pay", "large", 409, "second_approver_needed"),
    ("fund_manager", "return", "approved", 200, "returned"),
    # the approver: checks, never makes or pays
    ("fund_approver", "propose", None, 403, "forbidden"),
    ("fund_approver", "approve", "small", 200, "approved"),
    ("fund_approver", "reject", "small", 200, "rejected"),
    ("fund_approver", "approve", "large", 409, "already_approved_by_you"),
    ("fund_approver", "approve", "approved", 409, "already_decided"),
    ("fund_approver", "approve", "to_approver", 403, "payee_cannot_approve"),
    ("fund_approver", "reject", "to_approver", 403, "payee_cannot_approve"),
    ("fund_approver", "pay", "approved", 403, "forbidden"),
    ("fund_approver", "return", "approved", 403, "forbidden"),
    # the second approver: completes a two-approver payout
    ("second_approver", "approve", "large", 200, "approved"),
    ("second_approver", "approve", "small", 200, "approved"),
    ("second_approver", "reject", "large", 200, "rejected"),
    ("second_approver", "propose", None, 403, "forbidden"),
    ("second_approver", "pay", "approved", 403, "forbidden"),
    # the payee: sees their own, decides nothing
    ("volunteer", "propose", None, 403, "forbidden"),
    ("volunteer", "approve", "small", 403, "forbidden"),
    ("volunteer", "reject", "small", 403, "forbidden"),
    ("volunteer", "pay", "approved", 403, "forbidden"),
    ("volunteer", "return", "approved", 403, "forbidden"),
    # a district administrator holds every action, but never approves their own proposal
    ("district_admin", "propose", None, 201, "proposed"),
    ("district_admin", "approve", "by_admin", 403, "own_proposal"),
    ("district_admin", "reject", "by_admin", 403, "own_proposal"),
    ("district_admin", "approve", "small", 200, "approved"),
    ("district_admin", "pay", "approved", 201, "paid"),
    ("district_admin", "return", "approved", 200, "returned"),
    # an auditor reads everything and changes nothing
    ("auditor", "propose", None, 403, "forbidden"),
    ("auditor", "approve", "small", 403, "forbidden"),
    ("auditor", "reject", "small", 403, "forbidden"),
    ("auditor", "pay", "approved", 403, "forbidden"),
    ("auditor", "return", "approved", 403, "forbidden"),
    # a role with no fund action
    ("grid_admin", "propose", None, 403, "forbidden"),
    ("grid_admin", "approve", "small", 403, "forbidden"),
    ("grid_admin", "pay", "approved", 403, "forbidden"),
]


@pytest.mark.parametrize(
    ("who", "action", "target", "status", "outcome"),
    MATRIX,
    ids=[f"{w}-{a}-{t or 'new'}" for w, a, t, _s, _o in MATRIX],
)
def test_maker_checker_matrix(app, town, world, who, action, target, status, outcome):
    client = app.test_client()
    token = signed_in(client, town, who)
    r = act(client, token, world, action, target)
    assert r.status_code == status, r.get_data(as_text=True)
    body = r.get_json()
    if status < 300:
        assert body["status"] == outcome
    else:
        assert body["error"]["code"] == outcome


def test_who_reads_what(app, town, world):
    readers = {
        "fund_manager": 200,
        "fund_approver": 200,
        "district_admin": 200,
        "auditor": 200,
        "grid_admin": 403,
        "volunteer": 403,
    }
    for who, status in readers.items():
        client = app.test_client()
        signed_in(client, town, who)
        assert client.get("/api/v1/fund/payouts").status_code == status, who
        assert client.get(f"/api/v1/fund/funds/{world['fund']}").status_code == status, who
    # The payee reads their own payout and their rewards, not another's payout.
    client = app.test_client()
    signed_in(client, town, "volunteer")
    assert client.get(f"/api/v1/fund/payouts/{world['small']}").status_code == 200
    assert client.get(f"/api/v1/fund/payouts/{world['by_admin']}").status_code == 404
    mine = client.get("/api/v1/me/rewards").get_json()
    assert mine["waiting_fen"] == 500_00 + 5_000_00 + 500_00
    assert {i["amount"] for i in mine["items"]} == {"500.00", "5000.00"}


def test_the_fund_story_through_the_api(app, town):
    client = app.test_client()
    token = signed_in(client, town, "fund_manager")
    r = post(client, "/api/v1/fund/funds", {"name": "平安志愿者奖励基金"}, token)
    assert r.status_code == 201, r.get_data(as_text=True)
    fund = r.get_json()["id"]
    r = post(
        client,
        f"/api/v1/fund/funds/{fund}/incomes",
        {
            "kind": "allocation",
            "amount": "1,000.00",
            "source": "区财政局",
            "document_ref": "深财〔2026〕1号",
            "received_on": "2026-01-05",
        },
        token,
    )
    assert r.status_code == 201 and r.get_json()["amount_fen"] == 1_000_00
    year = beijing_today().year
    r = client.put(f"/api/v1/fund/funds/{fund}/budgets/{year}", json={"amount": "800"}, headers={"X-CSRFToken": token})
    assert r.status_code == 200 and r.get_json()["budgets"][0]["amount_fen"] == 800_00
    r = post(
        client,
        "/api/v1/fund/payouts",
        {
            "fund_id": fund,
            "payee_member_id": town.users["volunteer"][0].id,
            "amount": "12.345",
            "reason_category": "patrol",
            "reason": "巡逻",
        },
        token,
    )
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "amount_invalid"
    items = [
        {
            "payee_member_id": town.users["volunteer"][0].id,
            "amount": "600",
            "reason_category": "patrol",
            "reason": "巡逻",
        },
        {
            "payee_member_id": town.users["auditor"][0].id,
            "amount": "600",
            "reason_category": "mediation",
            "reason": "调解",
        },
    ]
    r = post(client, "/api/v1/fund/payouts/batch", {"fund_id": fund, "items": items}, token)
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "budget_exceeded"
    r = post(client, "/api/v1/fund/payouts/batch", {"fund_id": fund, "items": items[:1]}, token)
    assert r.status_code == 201
    payout = r.get_json()["items"][0]["id"]
    body = client.get(f"/api/v1/fund/funds/{fund}").get_json()["balance"]
    assert (body["allocated_fen"], body["reserved_fen"], body["paid_fen"], body["remaining"]) == (
        1_000_00,
        600_00,
        0,
        "400.00",
    )
    approver = app.test_client()
    atoken = signed_in(approver, town, "fund_approver")
    r = post(approver, "/api/v1/fund/payouts/approve", {"payout_ids": [payout]}, atoken)
    assert r.status_code == 200 and r.get_json()["items"][0]["status"] == "approved"
    r = post(
        client,
        f"/api/v1/fund/payouts/{payout}/disbursement",
        {"channel": "wechat", "reference": "WX1", "paid_on": beijing_today().isoformat(), "paid_by": "陈静"},
        token,
    )
    assert r.status_code == 201 and r.get_json()["disbursement"]["reference"] == "WX1"
    body = client.get(f"/api/v1/fund/funds/{fund}").get_json()["balance"]
    assert (body["reserved_fen"], body["paid_fen"], body["remaining_fen"]) == (0, 600_00, 400_00)
    r = client.get("/api/v1/fund/rules").get_json()
    assert (r["approval_threshold"], r["unclaimed_days"]) == ("3000.00", 30)
    r = client.put(
        "/api/v1/fund/rules",
        json={"approval_threshold": "1000", "approval_days": 7, "unclaimed_days": 30},
        headers={"X-CSRFToken": token},
    )
    assert r.status_code == 403  # district administrators only


def test_evidence_is_uploaded_through_the_api_and_attached_to_an_income(app, town, tmp_path):
    import base64

    app.config["FUND_UPLOAD_FOLDER"] = str(tmp_path / "fund")
    client = app.test_client()
    token = signed_in(client, town, "fund_manager")
    fund = post(client, "/api/v1/fund/funds", {"name": "平安志愿者奖励基金"}, token).get_json()["id"]
    pdf = b"%PDF-1.4\n% a district's allocation letter\n%%EOF\n"
    r = post(
        client,
        "/api/v1/fund/attachments",
        {"filename": "拨款通知.pdf", "content": base64.b64encode(pdf).decode()},
        token,
    )
    assert r.status_code == 201, r.get_data(as_text=True)
    att = r.get_json()
    assert (att["filename"], att["content_type"], att["size_bytes"]) == ("拨款通知.pdf", "application/pdf", len(pdf))
    income = {
        "kind": "allocation",
        "amount": "1,000.00",
        "source": "区财政局",
        "document_ref": "深财〔2026〕2号",
        "received_on": "2026-01-05",
        "attachment_id": att["id"],
    }
    r = post(client, f"/api/v1/fund/funds/{fund}/incomes", income, token)
    assert r.status_code == 201, r.get_data(as_text=True)
    assert client.get(f"/fund/attachments/{att['id']}").data == pdf
    # Not a file the fund keeps, and not a fund manager: refused.
    r = post(
        client, "/api/v1/fund/attachments", {"filename": "x.exe", "content": base64.b64encode(b"MZ..").decode()}, token
    )
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "fund_invalid"
    other = app.test_client()
    vt = signed_in(other, town, "volunteer")
    body = {"filename": "a.pdf", "content": base64.b64encode(pdf).decode()}
    assert post(other, "/api/v1/fund/attachments", body, vt).status_code == 403
