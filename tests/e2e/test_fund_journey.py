"""In real Chromium, the reward fund end to end: a grid worker reports a hazard with a photo on a 390-px
phone, the grid admin verifies it (phone), the fund manager proposes a reward for it at 1280 px
(payee and report picked by typing, amount in yuan), an approver approves it on a phone, the manager
records the payment (checked, then confirmed), and the grid worker sees it among their rewards.
Saves screenshots under tests/e2e/screenshots/."""

from __future__ import annotations

from datetime import date
from io import BytesIO

import pytest
from PIL import Image

from app.auth import services as auth
from app.db import unit_of_work
from app.fund import budget
from app.fund.models import FundPayout
from app.gridreports.models import GridReport
from app.people.models import Member
from tests.e2e.conftest import PHONE, SHOTS, sign_in_in_browser
from tests.factories import PASSWORD, make_user

pytestmark = [pytest.mark.browser, pytest.mark.commits]
DESKTOP = {"viewport": {"width": 1280, "height": 900}, "locale": "zh-CN"}
NARROW = "document.documentElement.scrollWidth <= 390"


def _beijing_today():
    """Today in Beijing (a payment is dated in Beijing time, never before its approval)."""
    from app.db import utcnow
    from app.times import to_beijing

    return to_beijing(utcnow()).date()


def _db(app, fn):
    with app.app_context(), app.test_request_context(), unit_of_work(app.extensions["db_sessionmaker"]) as s:
        return fn(s)


def _photo(path) -> None:
    img = Image.new("RGB", (1600, 1200), (192, 57, 43))
    out = BytesIO()
    img.save(out, format="JPEG")
    path.write_bytes(out.getvalue())


def _setup(app, town) -> tuple[int, object]:
    """A grid worker who can sign in, and the district's fund with ¥1,000,000.00 allocated."""

    def make(s):
        worker = make_user(s, town.district.id, town.grid_a1, "郑海峰")
        s.get(Member, worker.id).is_grid_worker = True
        manager = auth.user_for_member(s, town.users["fund_manager"][0]).id
        fund = budget.open_fund(s, town.district.id, "平安志愿者奖励基金", actor_user_id=manager)
        budget.record_income(
            s,
            town.district.id,
            fund.id,
            kind="allocation",
            amount=100_000_000,
            source="区财政局",
            document_ref="光财〔2026〕8号",
            received_on=date(2026, 1, 5),
            actor_user_id=manager,
        )
        return fund.id, worker

    return _db(app, make)


def _pick(page, field: str, text: str, expect: str) -> None:
    """Type part of a name in a pick field and choose the suggestion that contains `expect`."""
    page.fill(f"#{field}-text", text)
    option = page.locator(f"#{field}-list li[role=option]", has_text=expect).first
    option.wait_for()
    option.dispatch_event("mousedown")
    page.wait_for_function(f"document.querySelector('input[name={field}]').value !== ''")


def test_a_verified_hazard_report_is_rewarded_approved_on_a_phone_paid_and_seen(
    app, town, live_server, browser, tmp_path
):
    app.config["UPLOAD_DIR"] = str(tmp_path / "uploads")
    app.config["FUND_UPLOAD_FOLDER"] = str(tmp_path / "fund")
    SHOTS.mkdir(exist_ok=True)
    fund_id, worker = _setup(app, town)
    photo = tmp_path / "hazard.jpg"
    _photo(photo)

    # 1. The grid worker reports a hazard with a photo, on a phone.
    wctx = browser.new_context(
        **PHONE, permissions=["geolocation"], geolocation={"latitude": 22.7791, "longitude": 113.9362}
    )
    wpage = wctx.new_page()
    sign_in_in_browser(wpage, live_server, town.district.id, worker.mobile, PASSWORD)
    wpage.goto(f"{live_server}/grid-reports/new")
    wpage.check("input[name=category][value=hazard]")
    wpage.fill("textarea[name=text]", "5栋地下车库消防栓被杂物堵住")
    wpage.locator("#photos").set_input_files(str(photo))
    wpage.wait_for_function("document.querySelector('#gr-form input[name=lat]').value !== ''")
    assert wpage.evaluate(NARROW)
    wpage.click("#gr-form button[type=submit]")
    wpage.wait_for_url("**/me/grid-reports/*")
    report_id = int(wpage.url.rsplit("/", 1)[1])

    # 2. The grid admin verifies it (confirmed first), on a phone.
    _admin, a_mobile, a_password = town.users["grid_admin"]
    actx = browser.new_context(**PHONE)
    apage = actx.new_page()
    sign_in_in_browser(apage, live_server, town.district.id, a_mobile, a_password)
    apage.goto(f"{live_server}/me/grid-reports/{report_id}")
    apage.click("button[name=decision][value=verify]")
    apage.locator("button.danger").click()
    apage.wait_for_url("**/grid-reports/triage")
    assert _db(app, lambda s: s.get(GridReport, report_id).status) == "verified"
    actx.close()

    # 3. The fund manager proposes a reward for it on a desk screen: report and payee picked by typing.
    manager, m_mobile, m_password = town.users["fund_manager"]
    mctx = browser.new_context(**DESKTOP)
    mpage = mctx.new_page()
    sign_in_in_browser(mpage, live_server, town.district.id, m_mobile, m_password)
    mpage.goto(f"{live_server}/fund/{fund_id}/propose")
    _pick(mpage, "payee", "海峰", "郑海峰")
    _pick(mpage, "grid_report", str(report_id), f"#{report_id}")
    mpage.fill("#amount", "200.00")
    mpage.select_option("#reason_category", "grid_report")
    mpage.fill("#reason", "有奖上报：消防通道隐患")
    mpage.fill("#evidence", "网格员及时发现并上报消防隐患，已核实")
    mpage.screenshot(path=str(SHOTS / "fund_propose_desktop.png"), full_page=True)
    mpage.click("main form button[type=submit]")
    mpage.wait_for_url("**/fund/payouts/*")
    payout_id = int(mpage.url.rsplit("/", 1)[1])
    payout = _db(app, lambda s: s.get(FundPayout, payout_id))
    assert (payout.payee_member_id, payout.amount, payout.grid_report_id, payout.status) == (
        worker.id,
        20_000,
        report_id,
        "proposed",
    )

    # 4. An approver approves it on a phone: the home page says it waits, the queue shows it.
    _approver, p_mobile, p_password = town.users["fund_approver"]
    pctx = browser.new_context(**PHONE)
    ppage = pctx.new_page()
    sign_in_in_browser(ppage, live_server, town.district.id, p_mobile, p_password)
    ppage.locator("main a[href='/fund/approvals']").first.click()
    ppage.wait_for_url("**/fund/approvals")
    assert ppage.evaluate(NARROW)
    ppage.screenshot(path=str(SHOTS / "fund_approvals_phone.png"), full_page=True)
    ppage.click(f"main a[href='/fund/payouts/{payout_id}']")
    ppage.wait_for_url(f"**/fund/payouts/{payout_id}")
    assert ppage.evaluate(NARROW)
    ppage.click("button[name=action][value=approve]")
    # It asks first, with the amount and the payee; nothing is approved before the confirmation.
    ppage.wait_for_selector("section.confirm")
    assert ppage.evaluate(NARROW)
    assert _db(app, lambda s: s.get(FundPayout, payout_id).status) == "proposed"
    ppage.click("section.confirm button[type=submit]")
    ppage.wait_for_url(f"**/fund/payouts/{payout_id}")
    assert _db(app, lambda s: s.get(FundPayout, payout_id).status) == "approved"
    ppage.screenshot(path=str(SHOTS / "fund_approved_phone.png"), full_page=True)
    pctx.close()

    # 5. The manager records the payment: checked, then confirmed.
    mpage.goto(f"{live_server}/fund/payouts/{payout_id}/pay")
    mpage.select_option("#channel", "wechat")
    mpage.fill("#reference", "WX20261205000123")
    mpage.fill("#paid_on", _beijing_today().isoformat())
    mpage.fill("#paid_by", "陈静")
    mpage.click("main form button[type=submit]")
    confirm = mpage.locator("main form button[type=submit]", has_text="¥200.00")
    confirm.wait_for()
    assert _db(app, lambda s: s.get(FundPayout, payout_id).status) == "approved"  # nothing before the confirmation
    confirm.click()
    mpage.wait_for_url(f"**/fund/payouts/{payout_id}")
    assert _db(app, lambda s: s.get(FundPayout, payout_id).status) == "paid"
    mpage.screenshot(path=str(SHOTS / "fund_paid_desktop.png"), full_page=True)
    mctx.close()

    # 6. The grid worker sees the reward, in yuan, paid.
    wpage.goto(f"{live_server}/")
    wpage.locator("main a[href='/me/rewards']").first.click()
    wpage.wait_for_url("**/me/rewards")
    text = wpage.inner_text("main")
    assert "¥200.00" in text and "有奖上报：消防通道隐患" in text
    assert wpage.evaluate(NARROW)
    wpage.screenshot(path=str(SHOTS / "fund_my_rewards_phone.png"), full_page=True)
    wctx.close()
