"""The auditors' statements page: every signed statement of their district with its download (the stored
bytes, exactly), the public key to keep, in Chinese and English; nothing of another district; only for
those who may read it."""

from __future__ import annotations

import html as htmllib
import re

import pytest

from app.db import unit_of_work
from app.places.services import create_district
from app.statements import services as statements
from ledger import Ledger, Transfer
from tests.conftest import sign_in


@pytest.fixture
def keyed(app, tmp_path):
    app.config["STATEMENT_KEY_FILE"] = str(tmp_path / "statement-signing.key")
    return app


def issue(app, tenant: int):
    """A small fund's history and a statement of it, as `flask ledger statement` makes one."""
    key = statements.signing_key(app.config)
    with app.app_context(), unit_of_work(app.extensions["db_sessionmaker"]) as s:
        book = Ledger(s, tenant=tenant)
        book.open_account("fund:allocations", unit="CNY", normal="debit")
        book.open_account("fund:safety", unit="CNY", normal="credit", no_overdraft=True)
        book.post([Transfer("fund:allocations", "fund:safety", 100_000_000)], kind="fund.allocation")
        row = statements.issue(s, tenant, key)
        return row.id, row.document, row.key_fingerprint, row.sha256


def text_of(resp) -> str:
    assert resp.status_code == 200, resp.get_data(as_text=True)[:2000]
    return re.sub(r"\s+", " ", htmllib.unescape(re.sub(r"<[^>]+>", " ", resp.get_data(as_text=True))))


def test_an_auditor_lists_downloads_and_takes_the_public_key(keyed, client, town):
    app = keyed
    sid, document, fp, digest = issue(app, town.district.id)
    sign_in(client, town, "auditor")

    page = text_of(client.get("/audit/statements/"))
    assert "已签名的账本对账单" in page and "公钥" in page and fp in page
    assert "按需" in page and digest[:16] in page and "1" in page
    assert "ledger verify --against" in page
    assert "账本对账单" in text_of(client.get("/"))  # the menu leads there

    english = text_of(client.get("/audit/statements/?lang=en"))
    assert "Signed ledger statements" in english and "On demand" in english and "Download the public key" in english

    got = client.get(f"/audit/statements/{sid}.json")
    assert got.status_code == 200 and got.mimetype == "application/json"
    assert got.get_data() == document.encode()  # the stored bytes, signature and all
    assert "attachment" in got.headers["Content-Disposition"]
    assert statements.check_signature(statements.parse(got.get_data())) == []

    pem = client.get("/audit/statements/public-key.pem")
    assert pem.status_code == 200 and pem.get_data(as_text=True).startswith("-----BEGIN PUBLIC KEY-----")
    assert statements.fingerprint(statements.load_public_key(pem.get_data())) == fp


def test_another_districts_statements_are_invisible(keyed, client, town):
    app = keyed
    with app.app_context(), unit_of_work(app.extensions["db_sessionmaker"]) as s:
        other = create_district(s, f"O{town.district.id}", "别的区").id
    sid, _, _, digest = issue(app, other)
    sign_in(client, town, "auditor")
    assert digest[:16] not in text_of(client.get("/audit/statements/"))
    assert client.get(f"/audit/statements/{sid}.json").status_code == 404


def test_the_page_is_for_auditors_and_administrators_only(keyed, app, town):
    issue(keyed, town.district.id)
    admin = app.test_client()
    sign_in(admin, town, "district_admin")
    assert admin.get("/audit/statements/").status_code == 200
    for role in ("volunteer", "fund_manager"):
        c = app.test_client()
        sign_in(c, town, role)
        assert c.get("/audit/statements/").status_code in (403, 404)
        assert c.get("/audit/statements/public-key.pem").status_code in (403, 404)
    anonymous = app.test_client().get("/audit/statements/")
    assert anonymous.status_code == 302 and "/signin" in anonymous.headers["Location"]


def test_before_any_statement_the_page_says_so_and_offers_no_key(keyed, client, town):
    sign_in(client, town, "auditor")
    page = text_of(client.get("/audit/statements/"))
    assert "尚未签发任何对账单" in page
    assert client.get("/audit/statements/public-key.pem").status_code == 404
