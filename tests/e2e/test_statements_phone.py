"""The auditors' statements page in a real browser: on a 390 px phone in Chinese an auditor reaches it from
the menu, reads the public key without sideways scrolling, and downloads a statement and the key (the
browser saves the very bytes the system signed); the same page at 1280 px in English."""

from __future__ import annotations

import pytest

from app.db import unit_of_work
from app.statements import services as statements
from app.statements.models import LedgerStatement
from ledger import Ledger, Transfer
from tests.e2e.conftest import PHONE, SHOTS, sign_in_in_browser

pytestmark = [pytest.mark.browser, pytest.mark.commits]

WIDE = {"viewport": {"width": 1280, "height": 900}, "locale": "en-GB"}


def test_an_auditor_downloads_a_statement_and_the_key_on_a_phone(app, town, live_server, browser, tmp_path):
    app.config["STATEMENT_KEY_FILE"] = str(tmp_path / "statement-signing.key")
    tenant = town.district.id
    key = statements.signing_key(app.config)
    with app.app_context(), unit_of_work(app.extensions["db_sessionmaker"]) as s:
        book = Ledger(s, tenant=tenant)
        book.open_account("fund:allocations", unit="CNY", normal="debit")
        book.open_account("fund:safety", unit="CNY", normal="credit", no_overdraft=True)
        book.post([Transfer("fund:allocations", "fund:safety", 100_000_000)], kind="fund.allocation")
        statements.issue(s, tenant, key, kind="month_end", period="2026-11")
        document = s.query(LedgerStatement).filter_by(tenant_id=tenant).one().document
    _, mobile, password = town.users["auditor"]

    page = browser.new_context(**PHONE, accept_downloads=True).new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_in_in_browser(page, live_server, tenant, mobile, password)
    page.click("summary")  # the phone menu
    page.click("nav.nav-menu >> text=账本对账单")
    page.wait_for_load_state()
    assert page.url == f"{live_server}/audit/statements/"
    assert "已签名的账本对账单" in page.inner_text("h1")
    assert "2026-11 月末" in page.inner_text("main")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390  # no sideways scrolling
    link = page.locator("main a", has_text="对账单（JSON）")
    box = link.bounding_box()
    assert box and box["height"] >= 44  # a tap target
    with page.expect_download() as got:
        link.click()
    saved = tmp_path / "saved.json"
    got.value.save_as(saved)
    assert saved.read_text() == document
    with page.expect_download() as got:
        page.click("text=下载公钥")
    got.value.save_as(tmp_path / "kept.pem")
    kept = statements.load_public_key((tmp_path / "kept.pem").read_bytes())
    assert statements.check_signature(statements.parse(saved.read_bytes()), kept) == []
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "statements_phone.png"), full_page=True)

    wide = browser.new_context(**WIDE).new_page()
    wide.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_in_in_browser(wide, live_server, tenant, mobile, password)
    wide.goto(f"{live_server}/audit/statements/?lang=en")
    assert "Signed ledger statements" in wide.inner_text("h1")
    assert "Month end 2026-11" in wide.inner_text("main")
    assert wide.evaluate("() => document.documentElement.scrollWidth") <= 1280
    wide.screenshot(path=str(SHOTS / "statements_wide.png"), full_page=True)
    assert errors == []
