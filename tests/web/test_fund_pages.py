"""The reward fund's pages: each page for the roles that use it (and refused for the others), the
manager's journey from income to payment, refusals said in words (own proposal, payee, second
approver), amounts typed in yuan (bad ones explained), batch approval with its confirmation, the
.xlsx list (dry run, all or none), reports with .xlsx, and CSRF on every form."""

from __future__ import annotations

import io
import re
from datetime import date

from openpyxl import Workbook, load_workbook

from tests.conftest import csrf_from, once_from, sign_in
from tests.web.test_activities_api import _extra_user
from tests.web.test_api import commit


def _sign_in_en(client, town, role: str):
    """Sign in and read the pages in English (the assertions quote the English words)."""
    member = sign_in(client, town, role)
    client.get("/?lang=en")
    return member


def _beijing_today():
    """Today in Beijing (a payment is dated in Beijing time, never before its approval)."""
    from app.db import utcnow
    from app.times import to_beijing

    return to_beijing(utcnow()).date()


def _fund(app, town, fen: int = 100_000_000) -> int:
    """A fund with ¥1,000,000.00 allocated, opened and funded by the town's fund manager."""
    from app.auth.services import user_for_member
    from app.fund import budget

    def make(s):
        manager = user_for_member(s, town.users["fund_manager"][0]).id
        fund = budget.open_fund(s, town.district.id, "平安志愿者奖励基金", actor_user_id=manager)
        budget.record_income(
            s,
            town.district.id,
            fund.id,
            kind="allocation",
            amount=fen,
            source="区财政局",
            document_ref="光财〔2026〕8号",
            received_on=date(2026, 1, 5),
            actor_user_id=manager,
        )
        return fund.id

    return commit(app, make)


def _propose(app, town, fund_id: int, fen: int, payee_key: str = "volunteer", by: str = "fund_manager"):
    from app.auth.services import user_for_member
    from app.fund import proposals

    def make(s):
        user = user_for_member(s, town.users[by][0]).id
        item = proposals.PayoutItem(town.users[payee_key][0].id, fen, "patrol", "夜间巡逻")
        return proposals.propose_payout(s, town.district.id, fund_id, item, actor_user_id=user).id

    return commit(app, make)


def _status(app, payout_id: int) -> str:
    from app.fund.models import FundPayout

    return commit(app, lambda s: s.get(FundPayout, payout_id).status)


def _token(client, url: str) -> str:
    page = client.get(url)
    assert page.status_code == 200, page.get_data(as_text=True)[:2000]
    return csrf_from(page.get_data(as_text=True))


def test_the_manager_records_income_proposes_by_typing_a_name_and_pays_and_the_payee_sees_it(app, client, town):
    _sign_in_en(client, town, "fund_manager")
    token = _token(client, "/fund/")
    r = client.post("/fund/", data={"csrf_token": token, "name": "平安志愿者奖励基金"})
    assert r.status_code == 302
    fund_url = r.headers["Location"].replace("/income", "")
    income_url = r.headers["Location"]
    income_page = client.get(income_url).get_data(as_text=True)
    token = csrf_from(income_page)
    form = {
        "csrf_token": token,
        "in-once": once_from(income_page, "in-"),
        "in-kind": "allocation",
        "in-source": "区财政局",
        "in-document_ref": "光财〔2026〕8号",
        "in-received_on": "2026-01-05",
    }
    bad = client.post(income_url, data={**form, "in-amount": "12.345"})
    assert bad.status_code == 422
    assert "1,234.50" in bad.get_data(as_text=True)  # the message shows how to type it
    bad = client.post(income_url, data={**form, "in-amount": "-5"})
    assert bad.status_code == 422
    ok = client.post(income_url, data={**form, "in-amount": "1,000,000.00"})
    assert ok.status_code == 302, ok.get_data(as_text=True)[:3000]
    # The same form sent again (a double tap, a replay): recorded once, and it says so.
    again = client.post(income_url, data={**form, "in-amount": "1,000,000.00"}, follow_redirects=True)
    assert "already sent" in again.get_data(as_text=True)
    home = client.get(fund_url)
    assert home.status_code == 200
    assert "¥1,000,000.00" in home.get_data(as_text=True)

    # Propose: the payee typed as part of the name, without the script (the server resolves it).
    volunteer = town.users["volunteer"][0]
    propose_url = fund_url + "/propose"
    propose_page = client.get(propose_url).get_data(as_text=True)
    token = csrf_from(propose_page)
    data = {
        "csrf_token": token,
        "once": once_from(propose_page),
        "payee-text": volunteer.name,
        "payee": "",
        "amount": "500.00",
        "reason_category": "patrol",
        "reason": "12月夜间巡逻",
        "evidence": "连续四周参加夜间巡逻",
    }
    bad = client.post(propose_url, data={**data, "amount": "五百"})
    assert bad.status_code == 422
    nobody = client.post(propose_url, data={**data, "payee-text": "不存在的人"})
    assert nobody.status_code == 422 and "不存在的人" in nobody.get_data(as_text=True)
    r = client.post(propose_url, data=data)
    assert r.status_code == 302, r.get_data(as_text=True)[:3000]
    payout_url = r.headers["Location"]
    payout_id = int(payout_url.rstrip("/").split("/")[-1])
    assert _status(app, payout_id) == "proposed"
    from app.fund.models import FundIncome, FundPayout

    again = client.post(propose_url, data=data)
    assert again.status_code == 302 and "payouts" in again.headers["Location"]
    fund_id = int(fund_url.rstrip("/").split("/")[-1])
    assert commit(
        app,
        lambda s: (
            s.query(FundPayout).filter_by(fund_id=fund_id).count(),
            s.query(FundIncome).filter_by(fund_id=fund_id).count(),
        ),
    ) == (1, 1)
    # The manager may not approve: the page offers no approval to them.
    page = client.get(payout_url).get_data(as_text=True)
    assert 'value="approve"' not in page
    # Which 刘心怡: the payee is named with the last four digits of their mobile.
    assert f"{volunteer.name} (mobile …{volunteer.mobile[-4:]})" in page

    # An approver approves it (one approver: ¥500 is below the ¥3,000 threshold).
    approver = app.test_client()
    _sign_in_en(approver, town, "fund_approver")
    token = _token(approver, payout_url)
    assert "One approval is enough" in approver.get(payout_url).get_data(as_text=True)
    # It asks first (an approval cannot be taken back), naming the amount; the answer carries the choice.
    r = approver.post(payout_url, data={"csrf_token": token, "action": "approve", "decision_reason": ""})
    assert r.status_code == 200 and "Approve ¥500.00 to" in r.get_data(as_text=True)
    assert _status(app, payout_id) == "proposed"
    r = approver.post(
        payout_url, data={"csrf_token": token, "action": "approve", "decision_reason": "", "confirm": "yes"}
    )
    assert r.status_code == 302
    assert _status(app, payout_id) == "approved"
    # The manager is told it can be paid now, with a link to it.
    notices = client.get("/api/v1/me/notices").get_json()["items"]
    ready = [n for n in notices if "ready to pay" in n["text"]]
    assert len(ready) == 1 and "¥500.00" in ready[0]["text"] and ready[0]["link"] == f"/fund/payouts/{payout_id}"

    # The manager records the payment: checked, then confirmed.
    pay_url = payout_url + "/pay"
    token = _token(client, pay_url)
    pay = {
        "csrf_token": token,
        "channel": "wechat",
        "reference": "WX20261205001",
        "paid_on": _beijing_today().isoformat(),
        "paid_by": "陈静",
        "note": "",
    }
    r = client.post(pay_url, data=pay)
    assert r.status_code == 200 and "WX20261205001" in r.get_data(as_text=True)
    assert _status(app, payout_id) == "approved"  # nothing posted before the confirmation
    r = client.post(pay_url, data={**pay, "confirm": "yes"})
    assert r.status_code == 302, r.get_data(as_text=True)[:3000]
    assert _status(app, payout_id) == "paid"
    again = client.post(pay_url, data={**pay, "confirm": "yes"})
    assert again.status_code == 409  # paid once only
    home = client.get(fund_url).get_data(as_text=True)
    assert "¥999,500.00" in home  # remaining = allocated − reserved − paid

    # The payee sees it, in yuan, with its status; and a home panel links to it.
    payee = app.test_client()
    _sign_in_en(payee, town, "volunteer")
    mine = payee.get("/me/rewards")
    assert mine.status_code == 200
    text = mine.get_data(as_text=True)
    assert "¥500.00" in text and "12月夜间巡逻" in text
    assert "/me/rewards" in payee.get("/").get_data(as_text=True)
    # The payment's notice says how it was paid in the reader's language, whatever the manager's was.
    assert "was paid (WeChat, " in payee.get("/notices").get_data(as_text=True)
    payee_zh = app.test_client()
    sign_in(payee_zh, town, "volunteer")
    said = payee_zh.get("/notices").get_data(as_text=True)
    assert "奖励已支付（微信，" in said and "WeChat" not in said
    # The payee cannot open the fund's pages.
    assert payee.get(fund_url).status_code in (403, 404)
    assert payee.get("/fund/approvals").status_code == 403


def test_refusals_are_said_in_words(app, client, town):
    fund_id = _fund(app, town)
    # Someone who is both fund manager and approver proposes: the rule refuses their approval.
    _extra_user(app, town, "both", "周敏", roles=[("fund_manager", None), ("fund_approver", None)])
    own = _propose(app, town, fund_id, 80_000, by="both")
    # A payout to the approver: they may not approve it.
    to_approver = _propose(app, town, fund_id, 60_000, payee_key="fund_approver")
    # Above the ¥3,000 threshold: two approvers.
    big = _propose(app, town, fund_id, 500_000)

    _sign_in_en(client, town, "both")
    queue = client.get("/fund/approvals").get_data(as_text=True)
    assert "You proposed this payout, so the rule refuses your approval" in queue
    token = csrf_from(queue)
    r = client.post(f"/fund/payouts/{own}", data={"csrf_token": token, "action": "approve", "confirm": "yes"})
    assert r.status_code == 422
    assert "another approver must decide it" in r.get_data(as_text=True)
    assert _status(app, own) == "proposed"

    approver = app.test_client()
    _sign_in_en(approver, town, "fund_approver")
    queue = approver.get("/fund/approvals").get_data(as_text=True)
    assert "This payout is to you, so the rule refuses your approval" in queue
    assert "two different approvers are needed" in queue
    token = csrf_from(queue)
    r = approver.post(f"/fund/payouts/{to_approver}", data={"csrf_token": token, "action": "approve", "confirm": "yes"})
    assert r.status_code == 422 and "is to you" in r.get_data(as_text=True)
    r = approver.post(f"/fund/payouts/{big}", data={"csrf_token": token, "action": "approve", "confirm": "yes"})
    assert r.status_code == 302
    assert _status(app, big) == "proposed"
    page = approver.get(f"/fund/payouts/{big}").get_data(as_text=True)
    assert "It needs a second approver, and the rule refuses a second approval by you" in page
    r = approver.post(f"/fund/payouts/{big}", data={"csrf_token": token, "action": "approve", "confirm": "yes"})
    assert r.status_code == 422 and _status(app, big) == "proposed"
    # A rejection needs a reason.
    r = approver.post(
        f"/fund/payouts/{own}", data={"csrf_token": token, "action": "reject", "decision_reason": "", "confirm": "yes"}
    )
    assert r.status_code == 422 and _status(app, own) == "proposed"
    r = approver.post(
        f"/fund/payouts/{own}",
        data={"csrf_token": token, "action": "reject", "decision_reason": "证据不足", "confirm": "yes"},
    )
    assert r.status_code == 302 and _status(app, own) == "rejected"

    # The second approver (someone else) completes the big one.
    both_token = csrf_from(client.get(f"/fund/payouts/{big}").get_data(as_text=True))
    r = client.post(f"/fund/payouts/{big}", data={"csrf_token": both_token, "action": "approve", "confirm": "yes"})
    assert r.status_code == 302 and _status(app, big) == "approved"

    # The payee of the rejected proposal... is the volunteer: they see why.
    payee = app.test_client()
    _sign_in_en(payee, town, "volunteer")
    assert "证据不足" in payee.get("/me/rewards").get_data(as_text=True)


def test_batch_approval_asks_to_confirm_then_approves_all_or_none(app, client, town):
    fund_id = _fund(app, town)
    _extra_user(app, town, "payee2", "吴芳")
    a = _propose(app, town, fund_id, 20_000)
    b = _propose(app, town, fund_id, 30_000, payee_key="payee2")
    _sign_in_en(client, town, "fund_approver")
    token = _token(client, "/fund/approvals")
    r = client.post("/fund/approvals", data={"csrf_token": token, "payout": [str(a), str(b)]})
    assert r.status_code == 200
    assert "¥500.00" in r.get_data(as_text=True)  # the confirmation says the total
    assert _status(app, a) == "proposed" and _status(app, b) == "proposed"
    r = client.post("/fund/approvals", data={"csrf_token": token, "payout": [str(a), str(b)], "confirm": "yes"})
    assert r.status_code == 302
    assert _status(app, a) == "approved" and _status(app, b) == "approved"
    # Nothing ticked: said in words.
    r = client.post("/fund/approvals", data={"csrf_token": token})
    assert r.status_code == 422 and "Tick the payouts" in r.get_data(as_text=True)


def _workbook(rows) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.append(["姓名", "手机号", "金额(元)", "事由类别", "事由", "网格事件编号"])
    for row in rows:
        ws.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def test_the_list_upload_shows_every_row_then_proposes_all_or_none(app, client, town):
    fund_id = _fund(app, town)
    _sign_in_en(client, town, "fund_manager")
    url = f"/fund/{fund_id}/upload"
    token = _token(client, url)
    template = client.get(f"{url}/template.xlsx")
    assert template.status_code == 200
    volunteer, mobile, _ = town.users["volunteer"]
    organiser, omobile, _ = town.users["organiser"]
    bad = _workbook(
        [[volunteer.name, mobile, "300.00", "巡逻", "巡逻"], [organiser.name, omobile, "1.234", "巡逻", "巡逻"]]
    )
    r = client.post(
        url,
        data={"csrf_token": token, "step": "check", "file": (io.BytesIO(bad), "list.xlsx")},
        content_type="multipart/form-data",
    )
    text = r.get_data(as_text=True)
    assert r.status_code == 422
    assert "<td>3</td>" in text and volunteer.name in text  # the problem row, and the good row shown
    assert 'name="step" value="confirm"' not in text  # all or none: no way to propose part of it
    good = _workbook(
        [[volunteer.name, mobile, "300.00", "巡逻", "巡逻"], [organiser.name, omobile, "1,200", "月度之星", "12月之星"]]
    )
    r = client.post(
        url,
        data={"csrf_token": token, "step": "check", "file": (io.BytesIO(good), "list.xlsx")},
        content_type="multipart/form-data",
    )
    text = r.get_data(as_text=True)
    assert r.status_code == 200 and "¥1,500.00" in text
    rows = re.search(r'name="rows" type="hidden" value="([^"]+)"', text) or re.search(
        r'id="rows" name="rows" type="hidden" value="([^"]+)"', text
    )
    assert rows, text[:3000]
    once = once_from(text)
    r = client.post(url, data={"csrf_token": token, "step": "confirm", "rows": rows.group(1), "once": once})
    assert r.status_code == 302, r.get_data(as_text=True)[:3000]
    from app.fund.models import FundPayout

    assert commit(app, lambda s: s.query(FundPayout).filter_by(fund_id=fund_id).count()) == 2
    # The confirmed list sent again, or with another form's key: proposed once.
    again = client.post(url, data={"csrf_token": token, "step": "confirm", "rows": rows.group(1), "once": once})
    assert again.status_code == 302
    other = client.post(url, data={"csrf_token": token, "step": "confirm", "rows": rows.group(1), "once": "x" * 32})
    assert other.status_code == 422 and "upload the file again" in other.get_data(as_text=True)
    assert commit(app, lambda s: s.query(FundPayout).filter_by(fund_id=fund_id).count()) == 2
    tampered = client.post(url, data={"csrf_token": token, "step": "confirm", "rows": rows.group(1)[:-3] + "abc"})
    assert tampered.status_code == 422


def test_pages_answer_each_role_and_refuse_the_others(app, client, town):
    fund_id = _fund(app, town)
    payout = _propose(app, town, fund_id, 10_000)
    pages = [
        "/fund/",
        f"/fund/{fund_id}",
        f"/fund/{fund_id}/income",
        "/fund/approvals",
        "/fund/payouts/",
        f"/fund/payouts/{payout}",
        f"/fund/{fund_id}/reports",
        f"/fund/{fund_id}/reports?by=street",
        f"/fund/{fund_id}/reports?by=community",
        f"/fund/{fund_id}/reports?by=reason",
        f"/fund/{fund_id}/reports/payees",
    ]
    for role in ("fund_manager", "fund_approver", "auditor", "district_admin"):
        c = app.test_client()
        _sign_in_en(c, town, role)
        for url in pages:
            r = c.get(url)
            assert r.status_code in (200, 302), (role, url, r.status_code)
        assert c.get("/").status_code == 200
    manager_only = [f"/fund/{fund_id}/propose", f"/fund/{fund_id}/upload"]
    for role in ("fund_approver", "auditor"):
        c = app.test_client()
        _sign_in_en(c, town, role)
        for url in manager_only:
            assert c.get(url).status_code == 403, (role, url)
    for role in ("organiser", "volunteer", "grid_admin"):
        if role not in town.users:
            continue
        c = app.test_client()
        _sign_in_en(c, town, role)
        for url in pages + manager_only:
            r = c.get(url)
            if role == "volunteer" and url == f"/fund/payouts/{payout}":  # their own payout: their rewards page
                assert r.status_code == 302 and r.headers["Location"].endswith("/me/rewards")
                continue
            assert r.status_code in (403, 404), (role, url)
        assert c.get("/me/rewards").status_code == 200
    # The list searches by part of the payee's name.
    c = app.test_client()
    _sign_in_en(c, town, "fund_manager")
    volunteer = town.users["volunteer"][0]
    assert f"/fund/payouts/{payout}" in c.get("/fund/payouts/", query_string={"q": volunteer.name[-1]}).get_data(
        as_text=True
    )
    assert f"/fund/payouts/{payout}" not in c.get("/fund/payouts/", query_string={"q": "不存在"}).get_data(as_text=True)
    # The auditor reads but cannot change anything.
    auditor = app.test_client()
    _sign_in_en(auditor, town, "auditor")
    token = _token(auditor, f"/fund/payouts/{payout}")
    r = auditor.post(f"/fund/payouts/{payout}", data={"csrf_token": token, "action": "approve", "confirm": "yes"})
    assert r.status_code == 403 and _status(app, payout) == "proposed"


def test_reports_have_charts_and_xlsx(app, client, town):
    fund_id = _fund(app, town)
    _propose(app, town, fund_id, 12_345)
    _sign_in_en(client, town, "fund_manager")
    page = client.get(f"/fund/{fund_id}/reports").get_data(as_text=True)
    assert 'id="report-chart-data"' in page and "¥123.45" in page and "¥1,000,000.00" in page
    # Remaining at the end of this month: allocated − reserved − paid = 1,000,000.00 − 123.45.
    assert "¥999,876.55" in page
    for by in ("month", "street", "community", "reason"):
        r = client.get(f"/fund/{fund_id}/reports.xlsx?by={by}")
        assert r.status_code == 200
        rows = list(load_workbook(io.BytesIO(r.data)).active.iter_rows(values_only=True))
        assert len(rows) >= 2
    r = client.get(f"/fund/{fund_id}/reports/payees.xlsx")
    rows = list(load_workbook(io.BytesIO(r.data)).active.iter_rows(values_only=True))
    assert rows[1][0] == town.users["volunteer"][0].name


def test_every_form_needs_the_csrf_token(app, client, town):
    fund_id = _fund(app, town)
    payout = _propose(app, town, fund_id, 10_000)
    _sign_in_en(client, town, "fund_manager")
    for url, data in [
        ("/fund/", {"name": "x"}),
        (f"/fund/{fund_id}/income", {"in-amount": "1.00"}),
        (f"/fund/{fund_id}/propose", {"amount": "1.00"}),
        ("/fund/approvals", {"payout": str(payout), "confirm": "yes"}),
        (f"/fund/payouts/{payout}", {"action": "withdraw", "decision_reason": "x"}),
    ]:
        r = client.post(url, data=data)
        assert r.status_code == 400, (url, r.status_code)
    assert _status(app, payout) == "proposed"


def test_the_pickers_suggest_members_by_part_of_a_name(app, client, town):
    _fund(app, town)
    _sign_in_en(client, town, "fund_manager")
    volunteer = town.users["volunteer"][0]
    r = client.get("/fund/pick/members", query_string={"q": volunteer.name[1:]})
    assert r.status_code == 200
    items = r.get_json()["items"]
    assert any(i["id"] == volunteer.id and volunteer.name in i["path"] for i in items)
    assert all(volunteer.mobile not in i["path"] for i in items)  # the mobile is never shown whole
    mine = next(i for i in items if i["id"] == volunteer.id)
    assert mine["kind"] == ""  # the grey line does not repeat the grid the label already ends with
    other = app.test_client()
    _sign_in_en(other, town, "volunteer")
    assert other.get("/fund/pick/members", query_string={"q": "a"}).status_code == 403


def test_a_verified_grid_report_is_one_tap_from_a_proposal(app, client, town):
    from app.auth.services import user_for_member
    from app.db import utcnow
    from app.gridreports.models import GridReport

    fund_id = _fund(app, town)
    volunteer = town.users["volunteer"][0]

    def report(s):
        admin = user_for_member(s, town.users["grid_admin"][0]).id
        r = GridReport(
            tenant_id=town.district.id,
            grid_id=town.grid_a1.id,
            reporter_member_id=volunteer.id,
            category="hazard",
            text="楼道堆放杂物堵住消防通道",
            status="verified",
            triaged_by_user_id=admin,
            triaged_at=utcnow(),
        )
        s.add(r)
        s.flush()
        return r.id

    report_id = commit(app, report)
    _sign_in_en(client, town, "fund_manager")
    # On the report's own page (the grid reports area's hook): "Propose a reward" leads to the filled form.
    on_report = client.get(f"/me/grid-reports/{report_id}").get_data(as_text=True)
    assert f"/fund/propose?grid_report={report_id}" in on_report
    r = client.get(f"/fund/propose?grid_report={report_id}")
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/fund/{fund_id}/propose?grid_report={report_id}")
    page = client.get(f"/fund/{fund_id}/propose").get_data(as_text=True)
    link = f"/fund/{fund_id}/propose?grid_report={report_id}"
    assert link in page
    filled = client.get(link).get_data(as_text=True)
    assert f'name="grid_report" value="{report_id}"' in filled
    assert f'name="payee" value="{volunteer.id}"' in filled
    data = {
        "csrf_token": csrf_from(filled),
        "payee": str(volunteer.id),
        "payee-text": re.search(r'name="payee-text" value="([^"]*)"', filled).group(1),
        "grid_report": str(report_id),
        "grid_report-text": re.search(r'name="grid_report-text" value="([^"]*)"', filled).group(1),
        "amount": "200",
        "reason_category": "grid_report",
        "reason": "有奖上报",
    }
    r = client.post(f"/fund/{fund_id}/propose", data=data)
    assert r.status_code == 302, r.get_data(as_text=True)[:3000]
    # Rewarded now: no longer offered.
    assert link not in client.get(f"/fund/{fund_id}/propose").get_data(as_text=True)


def test_the_district_admin_sets_the_threshold_in_yuan_and_others_cannot(app, client, town):
    from app.fund import budget

    fund_id = _fund(app, town)
    _sign_in_en(client, town, "district_admin")
    token = _token(client, f"/fund/{fund_id}")
    data = {
        "csrf_token": token,
        "form": "rules",
        "r-approval_threshold": "5,000.00",
        "r-approval_days": "14",
        "r-unclaimed_days": "30",
        "r-rules_reason": "区财政局通知",
    }
    bad = client.post(f"/fund/{fund_id}", data={**data, "r-approval_days": "0"})
    assert bad.status_code == 422
    r = client.post(f"/fund/{fund_id}", data=data)
    assert r.status_code == 302
    assert commit(app, lambda s: budget.rules(s, town.district.id).approval_threshold) == 500_000
    manager = app.test_client()
    _sign_in_en(manager, town, "fund_manager")
    token = _token(manager, f"/fund/{fund_id}")
    assert manager.post(f"/fund/{fund_id}", data={**data, "csrf_token": token}).status_code == 403


def test_withdrawing_a_payout_asks_first_with_the_reason(app, client, town):
    fund_id = _fund(app, town)
    payout = _propose(app, town, fund_id, 20_000)
    _sign_in_en(client, town, "fund_manager")
    url = f"/fund/payouts/{payout}"
    data = {"csrf_token": _token(client, url), "action": "withdraw", "decision_reason": "重复提交"}
    r = client.post(url, data=data)
    question = r.get_data(as_text=True)
    assert r.status_code == 200 and "Withdraw the proposal to pay ¥200.00 to" in question and "重复提交" in question
    assert _status(app, payout) == "proposed"  # nothing before the answer
    r = client.post(url, data={**data, "confirm": "yes"})
    assert r.status_code == 302 and _status(app, payout) == "withdrawn"


def test_a_refused_decision_says_why_once_under_the_form_that_was_sent(app, client, town):
    # The district administrator may both decide (approve/reject) and withdraw: two forms on one page.
    fund_id = _fund(app, town)
    payout = _propose(app, town, fund_id, 20_000)
    _sign_in_en(client, town, "district_admin")
    url = f"/fund/payouts/{payout}"
    page = client.get(url).get_data(as_text=True)
    assert 'id="decision_reason"' in page and 'id="end-decision_reason"' in page
    assert 'for="end-decision_reason"' in page and re.search(r"<details>\s*<summary>Withdraw this proposal", page)
    token = csrf_from(page)

    def alerts(html: str) -> list[str]:
        return re.findall(r'role="alert">([^<]+)<', html)

    r = client.post(url, data={"csrf_token": token, "action": "reject", "decision_reason": ""})
    html = r.get_data(as_text=True)
    assert r.status_code == 422 and len(alerts(html)) == 1, alerts(html)
    assert re.search(r"<details>\s*<summary>Withdraw this proposal", html)  # the other form stays closed
    r = client.post(url, data={"csrf_token": token, "action": "withdraw", "decision_reason": ""})
    html = r.get_data(as_text=True)
    assert r.status_code == 422 and len(alerts(html)) == 1, alerts(html)
    # The withdraw form stays open with its message under its own field; the decision form has none.
    withdraw = html[html.index("Withdraw this proposal") :]
    assert re.search(r"<details open>\s*<summary>Withdraw this proposal", html) and alerts(withdraw)
    assert _status(app, payout) == "proposed"
