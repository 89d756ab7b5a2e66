"""Signed statements: an anchor outside the database that catches history rewritten behind the API, even
when the whole hash chain is recomputed to hide it (the gap `verify()` alone leaves open)."""

from __future__ import annotations

import base64
import json
import os
import stat
from datetime import datetime

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from app.db import unit_of_work
from app.statements import services as statements
from app.statements.models import LedgerStatement
from ledger import Ledger, Transfer
from ledger.chain import GENESIS, entry_hash
from ledger.schema import accounts, entries, transfers
from tests.integration import test_earning_concurrency as conc
from tests.integration.test_ledger_tamper import disable_guards

pg_app = conc.pg_app  # the fixture, for the PostgreSQL race below

ALLOCATIONS = "fund:allocations"  # CNY, debit-normal: what the fund was given
FUND = "fund:safety"  # CNY, credit-normal, never overdrawn
PAYEE = "payee:42"
SRC = "source:hours:c1"
ALICE = "member:42"


@pytest.fixture
def cli(app, tmp_path):
    app.config["STATEMENT_KEY_FILE"] = str(tmp_path / "keys" / "statement-signing.key")
    return app.test_cli_runner()


def factory(app):
    return app.extensions["db_sessionmaker"]


def history(app, tenant: int) -> None:
    """A fund given 1,000,000.00 yuan that paid 1,234.56 and holds 500.00 for a payout awaiting approval;
    a volunteer who earned 30 and 20 points."""
    with app.app_context(), unit_of_work(factory(app)) as s:
        book = Ledger(s, tenant=tenant)
        book.open_account(ALLOCATIONS, unit="CNY", normal="debit")
        book.open_account(FUND, unit="CNY", normal="credit", no_overdraft=True)
        book.open_account(PAYEE, unit="CNY", normal="credit")
        book.open_account(SRC, normal="debit")
        book.open_account(ALICE, no_overdraft=True)
        book.post([Transfer(ALLOCATIONS, FUND, 100_000_000)], kind="fund.allocation")
        book.post([Transfer(FUND, PAYEE, 123_456)], kind="fund.payout")
        book.post([Transfer(FUND, PAYEE, 50_000)], kind="fund.payout", pending=True)
        book.post([Transfer(SRC, ALICE, 30)], kind="earn.hours")
        book.post([Transfer(SRC, ALICE, 20)], kind="earn.hours")


def issue(cli, tenant: int, out) -> str:
    result = cli.invoke(args=["ledger", "statement", "--tenant", str(tenant), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return result.output


def verify(cli, *files, public_key=None):
    args = ["ledger", "verify"]
    for f in files:
        args += ["--against", str(f)]
    if public_key:
        args += ["--public-key", str(public_key)]
    return cli.invoke(args=args)


def kept_public_key(app, tmp_path):
    """The public key an auditor took away on the first day (what `flask ledger statement-key` prints)."""
    key = statements.signing_key(app.config)
    path = tmp_path / "kept.pem"
    path.write_text(statements.public_pem(key.public_key()))
    return path


# --- tampering as a database owner could ---------------------------------------------------------------------------


def transfer_of(conn, tenant: int, debit: str, credit: str) -> int:
    ids = dict(conn.execute(select(accounts.c.code, accounts.c.id).where(accounts.c.tenant_id == tenant)).all())
    return conn.execute(
        select(transfers.c.id)
        .where(transfers.c.debit_account_id == ids[debit], transfers.c.credit_account_id == ids[credit])
        .order_by(transfers.c.id)
        .limit(1)
    ).scalar_one()


def change_amount(conn, transfer_id: int, by: int) -> list[int]:
    """Raise a posted transfer's amount and make every row that depends on it agree: the entries' deltas and
    running balances and the accounts' cached totals. Returns the two accounts."""
    t = conn.execute(select(transfers).where(transfers.c.id == transfer_id)).one()
    conn.execute(text("UPDATE ledger_transfers SET amount = amount + :by WHERE id = :id"), dict(by=by, id=transfer_id))
    for acct_id, side in ((t.debit_account_id, "debit"), (t.credit_account_id, "credit")):
        a = conn.execute(select(accounts).where(accounts.c.id == acct_id)).one()
        sign = 1 if a.normal == side else -1
        seq = conn.execute(
            select(entries.c.seq).where(entries.c.account_id == acct_id, entries.c.transfer_id == transfer_id)
        ).scalar_one()
        conn.execute(
            text("UPDATE ledger_entries SET posted_delta = posted_delta + :d WHERE account_id = :a AND seq = :s"),
            dict(d=sign * by, a=acct_id, s=seq),
        )
        conn.execute(
            text("UPDATE ledger_entries SET balance_after = balance_after + :d WHERE account_id = :a AND seq >= :s"),
            dict(d=sign * by, a=acct_id, s=seq),
        )
        conn.execute(
            text(f"UPDATE ledger_accounts SET {side}s_posted = {side}s_posted + :by WHERE id = :a"),
            dict(by=by, a=acct_id),
        )
    return [t.debit_account_id, t.credit_account_id]


def recompute_chain(conn, account_id: int) -> None:
    """Rewrite every hash of an account's chain and its head so the chain is consistent again: what an owner
    who knows the (public) hashing rule does to hide an edit from `verify()`."""
    rows = conn.execute(
        select(entries, transfers.c.debit_account_id, transfers.c.credit_account_id, transfers.c.unit)
        .add_columns(transfers.c.amount, transfers.c.phase, transfers.c.pending_transfer_id)
        .join(transfers, transfers.c.id == entries.c.transfer_id)
        .where(entries.c.account_id == account_id)
        .order_by(entries.c.seq)
    ).all()
    prev = GENESIS
    for e in rows:
        h = entry_hash(prev, e._mapping, e._mapping)
        conn.execute(
            text('UPDATE ledger_entries SET "hash" = :h WHERE account_id = :a AND seq = :s'),
            dict(h=h, a=account_id, s=e.seq),
        )
        prev = h
    conn.execute(text('UPDATE ledger_accounts SET "head_hash" = :h WHERE id = :a'), dict(h=prev, a=account_id))


# --- the tests -----------------------------------------------------------------------------------------------------


def test_a_statement_is_canonical_signed_stored_and_verifies_clean(app, cli, tenant, tmp_path):
    history(app, tenant)
    out = issue(cli, tenant, tmp_path / "s.json")
    document = (tmp_path / "s.json").read_bytes()
    env = json.loads(document)
    assert statements.canonical(env) == document  # sorted keys, no spaces: one byte form
    st = env["statement"]
    assert st["tenant_id"] == tenant and st["kind"] == "on_demand" and st["period"] is None
    assert st["cutoff_utc"].endswith("Z") and st["cutoff_beijing"].endswith("+08:00")
    assert st["accounts"][ALICE] == {
        "unit": "PT",
        "entries": 2,
        "head": st["accounts"][ALICE]["head"],
        "posted": 50,
    }
    assert st["accounts"][FUND]["entries"] == 3 and len(st["accounts"][FUND]["head"]) == 64
    assert st["totals"]["CNY"]["posted_credits"] == 100_000_000 + 123_456
    assert st["totals"]["CNY"]["pending_credits"] == 50_000 and st["totals"]["PT"]["entries"] == 4
    # The fund's balances in fen: 1,000,000.00 - 1,234.56 paid, 500.00 reserved.
    assert st["cny_balances_fen"][FUND] == {
        "posted": 99_876_544,
        "pending_in": 0,
        "pending_out": 50_000,
        "available": 99_826_544,
    }
    assert SRC not in st["cny_balances_fen"]
    pub = base64.b64decode(st["public_key"]["base64"])
    assert len(pub) == 32 and st["public_key"]["fingerprint"] in out
    assert env["signature"]["algorithm"] == "Ed25519"

    with app.app_context(), unit_of_work(factory(app)) as s:
        row = s.scalars(select(LedgerStatement).where(LedgerStatement.tenant_id == tenant)).one()
        assert row.document.encode() == document and row.accounts == 5 and row.entries == 10
    assert row.sha256 in out

    result = verify(cli, tmp_path / "s.json", public_key=kept_public_key(app, tmp_path))
    assert result.exit_code == 0, result.output
    assert "all 5 account(s) unchanged" in result.output and "the key you kept" in result.output


@pytest.mark.parametrize("recompute", [False, True], ids=["hashes left alone", "whole chain recomputed"])
def test_a_changed_amount_behind_the_api_is_caught_by_an_earlier_statement(app, cli, tenant, tmp_path, recompute):
    history(app, tenant)
    issue(cli, tenant, tmp_path / "s.json")
    with app.app_context(), unit_of_work(factory(app)) as s:
        conn = s.connection()
        disable_guards(conn)
        payout = transfer_of(conn, tenant, FUND, PAYEE)
        touched = change_amount(conn, payout, 100_000)  # the paid 1,234.56 yuan becomes 2,234.56
        if recompute:
            for account_id in touched:
                recompute_chain(conn, account_id)
        problems = Ledger(s, tenant=tenant).verify()
    if recompute:
        assert problems == []  # the gap: a consistently rewritten chain passes verify() on its own
    else:
        assert problems

    result = verify(cli, tmp_path / "s.json", public_key=kept_public_key(app, tmp_path))
    assert result.exit_code == 1, result.output
    assert "was changed since" in result.output
    assert f"account {FUND}:" in result.output and f"account {PAYEE}:" in result.output
    if recompute:
        assert "entries 1–3 no longer lead to the head the statement recorded" in result.output
        assert "recomputed to hide it" in result.output
    else:
        assert f"account {FUND}: entry 2 (transfer {payout}, amount 223456) no longer matches its stored hash" in (
            result.output
        )
    assert f"account {PAYEE}: its balance after entry 2 is now 223456; the statement recorded 123456" in result.output
    assert f"account {ALICE}" not in result.output  # only what changed is named


def test_a_forged_or_edited_statement_fails_its_signature(app, cli, tenant, tmp_path):
    history(app, tenant)
    issue(cli, tenant, tmp_path / "s.json")
    env = json.loads((tmp_path / "s.json").read_bytes())
    env["statement"]["cny_balances_fen"][FUND]["posted"] += 100_000  # edited after it was signed
    (tmp_path / "edited.json").write_bytes(statements.canonical(env))
    result = verify(cli, tmp_path / "edited.json")
    assert result.exit_code == 3, result.output
    assert "NOT AUTHENTIC" in result.output and "edited or forged" in result.output

    env = json.loads((tmp_path / "s.json").read_bytes())
    env["signature"]["value"] = base64.b64encode(bytes(64)).decode()
    (tmp_path / "forged.json").write_bytes(statements.canonical(env))
    assert verify(cli, tmp_path / "forged.json").exit_code == 3

    (tmp_path / "float.json").write_text('{"statement": {"amount": 1.5}}')
    result = verify(cli, tmp_path / "float.json")
    assert result.exit_code == 3 and "non-integer number (1.5)" in result.output
    (tmp_path / "garbage.json").write_text("<html>")
    result = verify(cli, tmp_path / "garbage.json")
    assert result.exit_code == 3 and "not a statement file" in result.output


def test_a_statement_signed_by_another_key_fails_against_the_key_the_auditor_kept(app, cli, tenant, tmp_path):
    history(app, tenant)
    kept = kept_public_key(app, tmp_path)
    with app.app_context(), unit_of_work(factory(app)) as s:
        conn = s.connection()
        disable_guards(conn)
        touched = change_amount(conn, transfer_of(conn, tenant, FUND, PAYEE), 100_000)
        for account_id in touched:
            recompute_chain(conn, account_id)
        # The attacker signs a fresh statement of the rewritten ledger with a key of their own.
        intruder = Ed25519PrivateKey.generate()
        st = statements.build(s, tenant, intruder.public_key(), kind="on_demand", period=None)
    (tmp_path / "resigned.json").write_bytes(statements.sign(st, intruder))

    alone = verify(cli, tmp_path / "resigned.json")
    assert alone.exit_code == 0, alone.output  # its own key vouches for it: that proves nothing about who signed
    assert "its own key" in alone.output
    result = verify(cli, tmp_path / "resigned.json", public_key=kept)
    assert result.exit_code == 3, result.output
    assert "not by the key you kept" in result.output


def test_entries_and_accounts_added_after_the_statement_do_not_fail_it(app, cli, tenant, tmp_path):
    history(app, tenant)
    issue(cli, tenant, tmp_path / "s.json")
    with app.app_context(), unit_of_work(factory(app)) as s:
        book = Ledger(s, tenant=tenant)
        book.open_account("member:43", no_overdraft=True)
        book.post([Transfer(SRC, ALICE, 10)], kind="earn.hours")
        book.post([Transfer(SRC, "member:43", 10)], kind="earn.hours")
        book.post_pending(book.statement(PAYEE, limit=1).lines[0].journal_id)
    result = verify(cli, tmp_path / "s.json")
    assert result.exit_code == 0, result.output
    # A second statement takes the new positions; both verify.
    issue(cli, tenant, tmp_path / "later.json")
    later = json.loads((tmp_path / "later.json").read_bytes())["statement"]
    assert later["accounts"][ALICE]["entries"] == 3 and "member:43" in later["accounts"]
    result = verify(cli, tmp_path / "s.json", tmp_path / "later.json")
    assert result.exit_code == 0, result.output


def test_deleted_history_is_named(app, cli, tenant, tmp_path):
    history(app, tenant)
    issue(cli, tenant, tmp_path / "s.json")
    with app.app_context(), unit_of_work(factory(app)) as s:
        conn = s.connection()
        disable_guards(conn)
        alice = conn.execute(
            select(accounts.c.id).where(accounts.c.tenant_id == tenant, accounts.c.code == ALICE)
        ).scalar_one()
        conn.execute(text("DELETE FROM ledger_entries WHERE account_id = :a AND seq = 2"), dict(a=alice))
    result = verify(cli, tmp_path / "s.json")
    assert result.exit_code == 1
    assert f"account {ALICE}: the statement recorded 2 entries, only 1 are left" in result.output


def test_cli_usage_errors_and_an_unsound_ledger_is_never_signed(app, cli, tenant, tmp_path):
    history(app, tenant)
    assert verify(cli, tmp_path / "missing.json").exit_code == 2  # click: no such file
    (tmp_path / "k.pem").write_text("not a key")
    result = cli.invoke(args=["ledger", "verify", "--public-key", str(tmp_path / "k.pem")])
    assert result.exit_code == 2 and "--against" in result.output

    with app.app_context(), unit_of_work(factory(app)) as s:
        conn = s.connection()
        disable_guards(conn)
        conn.execute(
            text("UPDATE ledger_transfers SET amount = amount + 1 WHERE id = :id"),
            dict(id=transfer_of(conn, tenant, SRC, ALICE)),
        )
    result = cli.invoke(args=["ledger", "statement", "--tenant", str(tenant), "--out", str(tmp_path / "s.json")])
    assert result.exit_code == 1 and "fails verification" in result.output
    assert not (tmp_path / "s.json").exists()
    with app.app_context(), unit_of_work(factory(app)) as s:
        assert s.scalar(select(LedgerStatement.id).where(LedgerStatement.tenant_id == tenant)) is None


def test_the_month_end_job_signs_each_month_once(app, tenant, tmp_path):
    history(app, tenant)
    app.config["STATEMENT_KEY_FILE"] = str(tmp_path / "statement-signing.key")
    first_of_december_beijing = datetime(2026, 11, 30, 16, 5)  # 00:05 on 1 December, Beijing time
    with app.app_context():
        done = statements.issue_month_end(factory(app), app.config, first_of_december_beijing, tenants=[tenant])
        assert done == {tenant: "issued"}
        again = statements.issue_month_end(factory(app), app.config, datetime(2026, 12, 1, 3, 0), tenants=[tenant])
        assert again == {tenant: "exists"}
    with app.app_context(), unit_of_work(factory(app)) as s:
        rows = s.scalars(select(LedgerStatement).where(LedgerStatement.tenant_id == tenant)).all()
    assert [(r.kind, r.period) for r in rows] == [("month_end", "2026-11")]
    st = json.loads(rows[0].document)["statement"]
    assert (st["kind"], st["period"]) == ("month_end", "2026-11")


def test_last_ended_month_is_a_beijing_month():
    assert statements.last_ended_month(datetime(2026, 11, 30, 15, 59)) == "2026-10"  # 23:59 on 30 Nov, Beijing
    assert statements.last_ended_month(datetime(2026, 11, 30, 16, 0)) == "2026-11"  # 00:00 on 1 Dec, Beijing
    assert statements.last_ended_month(datetime(2026, 12, 31, 16, 5)) == "2026-12"  # 1 Jan 2027, Beijing


def test_the_statements_table_is_append_only(app, cli, tenant, tmp_path):
    history(app, tenant)
    issue(cli, tenant, tmp_path / "s.json")
    with app.app_context(), unit_of_work(factory(app)) as s:
        for sql in ("UPDATE ledger_statements SET sha256 = 'x'", "DELETE FROM ledger_statements"):
            with pytest.raises(DBAPIError, match="append-only"):
                with s.begin_nested():
                    s.execute(text(sql + " WHERE tenant_id = :t"), dict(t=tenant))


def test_the_signing_key_is_made_once_private_and_refused_in_production_when_missing(app, cli, tmp_path):
    path = tmp_path / "keys" / "statement-signing.key"
    result = cli.invoke(args=["ledger", "statement-key"])
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert "PRIVATE" not in result.output and "BEGIN PUBLIC KEY" in result.output
    fp = statements.fingerprint(statements.signing_key(app.config).public_key())
    assert f"fingerprint: {fp}" in result.output
    assert cli.invoke(args=["ledger", "statement-key"]).output == result.output  # the same key every time

    os.chmod(path, 0o644)
    with pytest.raises(statements.StatementError, match="chmod 600"):
        statements.signing_key(app.config)

    production = {"ENV": "production", "STATEMENT_KEY_FILE": str(tmp_path / "none.key")}
    with pytest.raises(statements.KeyMissing, match="statement-key --generate"):
        statements.signing_key(production)
    assert not (tmp_path / "none.key").exists()
    assert statements.signing_key(production, create=True)  # what `statement-key --generate` does
    assert (tmp_path / "none.key").exists()


def test_the_job_in_production_without_a_key_signs_nothing_and_says_why(app, tmp_path, caplog):
    from app.statements.jobs import month_end_statements_task

    app.config.update(ENV="production", STATEMENT_KEY_FILE=str(tmp_path / "missing.key"))
    with app.app_context():
        assert month_end_statements_task.call_local() == 0
    assert "month-end statements not signed" in caplog.text and "statement-key --generate" in caplog.text
    assert not (tmp_path / "missing.key").exists()
    with app.app_context(), unit_of_work(factory(app)) as s:
        assert s.scalar(select(LedgerStatement.id).where(LedgerStatement.key_fingerprint == "")) is None


def test_a_statement_can_go_to_standard_output(app, cli, tenant):
    history(app, tenant)
    result = cli.invoke(args=["ledger", "statement", "--tenant", str(tenant), "--out", "-"])
    assert result.exit_code == 0, result.output
    document = result.stdout.strip().encode()
    env = statements.parse(document)
    assert statements.check_signature(env) == [] and env["statement"]["tenant_id"] == tenant
    assert "ledger statement: tenant" in result.stderr  # the summary stays out of the document


@pytest.mark.postgres
@pytest.mark.commits
def test_workers_running_the_month_end_job_at_once_sign_one_statement(pg_app, tenant, tmp_path):
    """On PostgreSQL with real connections: five workers at the same moment, one statement for the month."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    pg_app.config["STATEMENT_KEY_FILE"] = str(tmp_path / "statement-signing.key")
    history(pg_app, tenant)
    statements.signing_key(pg_app.config)  # made once, before the race (as in production)
    barrier = threading.Barrier(5)

    def worker(_):
        barrier.wait(timeout=60)
        with pg_app.app_context():
            return statements.issue_month_end(
                factory(pg_app), pg_app.config, datetime(2026, 11, 30, 16, 5), tenants=[tenant]
            )[tenant]

    with ThreadPoolExecutor(max_workers=5) as pool:
        outcomes = list(pool.map(worker, range(5)))
    assert sorted(outcomes) == ["exists"] * 4 + ["issued"]
    with pg_app.app_context(), unit_of_work(factory(pg_app)) as s:
        assert len(s.scalars(select(LedgerStatement).where(LedgerStatement.tenant_id == tenant)).all()) == 1


def test_two_statements_narrow_a_recomputed_rewrite_down_to_the_entries_between_them(app, cli, tenant, tmp_path):
    history(app, tenant)
    issue(cli, tenant, tmp_path / "october.json")  # Alice: 2 entries
    with app.app_context(), unit_of_work(factory(app)) as s:
        book = Ledger(s, tenant=tenant)
        for points in (5, 6, 7):
            book.post([Transfer(SRC, ALICE, points)], kind="earn.hours")
    issue(cli, tenant, tmp_path / "november.json")  # Alice: 5 entries
    with app.app_context(), unit_of_work(factory(app)) as s:
        conn = s.connection()
        disable_guards(conn)
        ids = dict(conn.execute(select(accounts.c.code, accounts.c.id).where(accounts.c.tenant_id == tenant)).all())
        fourth = conn.execute(
            select(entries.c.transfer_id).where(entries.c.account_id == ids[ALICE], entries.c.seq == 4)
        ).scalar_one()
        for account_id in change_amount(conn, fourth, 1_000):
            recompute_chain(conn, account_id)
    result = verify(cli, tmp_path / "october.json", tmp_path / "november.json")
    assert result.exit_code == 1, result.output
    assert "october.json: signed by" in result.output  # nothing before October's cut-off changed
    assert f"account {ALICE}: entries 1–5 no longer lead to the head the statement recorded" in result.output
    assert f"account {ALICE}: unchanged up to entry 2 (statement of " in result.output
    assert "so what changed is among entries 3–5" in result.output
