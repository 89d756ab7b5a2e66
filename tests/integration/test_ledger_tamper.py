"""verify() catches history edited behind the API by someone who owns the database and turned its guards off."""

from __future__ import annotations

import hashlib
from types import SimpleNamespace

import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from ledger import Ledger, Transfer
from ledger.schema import APPEND_ONLY_TABLES, entries, transfers

SRC = "source:hours:c1"
ALICE = "member:42"
OUTLET = "outlet:7"
FORGED = hashlib.sha256(b"forged").digest()


def disable_guards(conn: Connection) -> None:
    """Turn off the append-only triggers for this transaction only (the test's rollback restores them)."""
    if conn.dialect.name == "postgresql":
        # Replica mode skips ordinary triggers and foreign-key checks; CHECK constraints still apply.
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        return
    # SQLite DDL is transactional, so dropped triggers come back when the test's transaction rolls back.
    for table in APPEND_ONLY_TABLES:
        conn.execute(text(f"DROP TRIGGER {table}_no_update"))
        conn.execute(text(f"DROP TRIGGER {table}_no_delete"))
    conn.execute(text("DROP TRIGGER ledger_accounts_no_delete"))
    conn.execute(text("DROP TRIGGER ledger_accounts_identity_fixed"))


@pytest.fixture
def w(book: Ledger, session) -> SimpleNamespace:
    """Alice earns 30 and 20, spends 15 (35 left) and has 5 awaiting approval; the books are sound."""
    book.open_account(SRC, normal="debit")
    book.open_account(ALICE, no_overdraft=True)
    book.open_account(OUTLET)
    j1 = book.post([Transfer(SRC, ALICE, 30)], kind="earn.hours")
    j2 = book.post([Transfer(SRC, ALICE, 20)], kind="earn.hours")
    j3 = book.post([Transfer(ALICE, OUTLET, 15)], kind="redeem")
    j4 = book.post([Transfer(SRC, ALICE, 5)], kind="earn.hours", pending=True)
    conn = session.connection()
    tid = lambda j: conn.execute(select(transfers.c.id).where(transfers.c.journal_id == j.id)).scalar_one()  # noqa: E731
    assert book.balance(ALICE).posted == 35
    assert book.verify() == []
    return SimpleNamespace(
        j1=j1,
        j2=j2,
        j3=j3,
        j4=j4,
        t1=tid(j1),
        t2=tid(j2),
        t3=tid(j3),
        t4=tid(j4),
        alice=book.account(ALICE).id,
        src=book.account(SRC).id,
        outlet=book.account(OUTLET).id,
    )


def run(conn: Connection, statement: str, **params):
    return conn.execute(text(statement), params)


def copy_transfer(conn: Connection, transfer_id: int) -> int:
    """INSERT a second transfer identical to an existing one; returns the new id."""
    cols = ", ".join(c.name for c in transfers.columns if c.name != "id")
    return run(
        conn,
        f"INSERT INTO ledger_transfers ({cols}) SELECT {cols} FROM ledger_transfers WHERE id = :id RETURNING id",
        id=transfer_id,
    ).scalar_one()


def append_entry(conn: Connection, account_id: int, transfer_id: int, posted_delta: int) -> None:
    """Append an entry after an account's last one, right in every column but the hash the forger cannot make."""
    last = conn.execute(
        select(entries).where(entries.c.account_id == account_id).order_by(entries.c.seq.desc()).limit(1)
    ).one()
    run(
        conn,
        "INSERT INTO ledger_entries (account_id, seq, transfer_id, journal_id, posted_delta, pending_delta, "
        'balance_after, created_at, "hash") SELECT account_id, seq + 1, :t, journal_id, :d, 0, '
        "balance_after + :d, created_at, :h FROM ledger_entries WHERE account_id = :a AND seq = :s",
        t=transfer_id,
        d=posted_delta,
        h=FORGED,
        a=account_id,
        s=last.seq,
    )


def changed_amount(conn, w):
    run(conn, "UPDATE ledger_transfers SET amount = amount + 100 WHERE id = :id", id=w.t2)


def changed_amount_with_balances_patched(conn, w):
    # The cached totals are made to agree, so only the entries and their hashes can tell.
    run(conn, "UPDATE ledger_transfers SET amount = amount + 100 WHERE id = :id", id=w.t2)
    run(conn, "UPDATE ledger_accounts SET credits_posted = credits_posted + 100 WHERE id = :id", id=w.alice)
    run(conn, "UPDATE ledger_accounts SET debits_posted = debits_posted + 100 WHERE id = :id", id=w.src)


def deleted_transfer(conn, w):
    # Entries first: on SQLite the foreign keys stay on inside a transaction.
    run(conn, "DELETE FROM ledger_entries WHERE transfer_id = :id", id=w.t3)
    run(conn, "DELETE FROM ledger_transfers WHERE id = :id", id=w.t3)


def deleted_journal(conn, w):
    deleted_transfer(conn, w)
    run(conn, "DELETE FROM ledger_journals WHERE id = :id", id=w.j3.id)


def inserted_transfer_without_entries(conn, w):
    copy_transfer(conn, w.t1)


def inserted_transfer_with_entries(conn, w):
    # Entries appended, cached totals, counts and chain heads all patched: only the hashes give it away.
    new = copy_transfer(conn, w.t1)
    append_entry(conn, w.src, new, 30)
    append_entry(conn, w.alice, new, 30)
    run(
        conn,
        "UPDATE ledger_accounts SET debits_posted = debits_posted + 30, entry_count = entry_count + 1, "
        '"head_hash" = :h WHERE id = :id',
        h=FORGED,
        id=w.src,
    )
    run(
        conn,
        "UPDATE ledger_accounts SET credits_posted = credits_posted + 30, entry_count = entry_count + 1, "
        '"head_hash" = :h WHERE id = :id',
        h=FORGED,
        id=w.alice,
    )


def edited_cached_balance(conn, w):
    # More credit keeps the no_overdraft CHECK true, which cannot be turned off.
    run(conn, "UPDATE ledger_accounts SET credits_posted = credits_posted + 100 WHERE id = :id", id=w.alice)


def edited_cached_spending(conn, w):
    run(conn, "UPDATE ledger_accounts SET debits_posted = 0 WHERE id = :id", id=w.alice)


def edited_balance_after(conn, w):
    run(
        conn,
        "UPDATE ledger_entries SET balance_after = balance_after + 100 WHERE account_id = :a AND seq = 2",
        a=w.alice,
    )


def edited_last_balance_after(conn, w):
    run(
        conn,
        "UPDATE ledger_entries SET balance_after = balance_after + 100 "
        "WHERE account_id = :a AND seq = (SELECT MAX(seq) FROM ledger_entries WHERE account_id = :a)",
        a=w.alice,
    )


def pending_made_posted(conn, w):
    run(conn, "UPDATE ledger_transfers SET phase = 'posted' WHERE id = :id", id=w.t4)


def redirected_transfer(conn, w):
    # Alice's first earning now credits the outlet instead.
    run(conn, "UPDATE ledger_transfers SET credit_account_id = :o WHERE id = :id", o=w.outlet, id=w.t1)


TAMPERING = [
    pytest.param(changed_amount, id="changed transfer amount"),
    pytest.param(changed_amount_with_balances_patched, id="changed transfer amount, cached balances patched"),
    pytest.param(deleted_transfer, id="deleted transfer and its entries"),
    pytest.param(deleted_journal, id="deleted journal with its transfer and entries"),
    pytest.param(inserted_transfer_without_entries, id="inserted transfer without entries"),
    pytest.param(inserted_transfer_with_entries, id="inserted transfer with entries and patched balances"),
    pytest.param(edited_cached_balance, id="edited cached balance up"),
    pytest.param(edited_cached_spending, id="edited cached spending down"),
    pytest.param(edited_balance_after, id="edited entry balance_after"),
    pytest.param(edited_last_balance_after, id="edited latest entry balance_after"),
    pytest.param(pending_made_posted, id="pending transfer turned posted"),
    pytest.param(redirected_transfer, id="transfer moved to another account"),
]


@pytest.mark.parametrize("tamper", TAMPERING)
def test_verify_reports_tampering(book, session, w, tamper):
    conn = session.connection()
    disable_guards(conn)
    tamper(conn, w)
    problems = book.verify()
    assert problems, "verify() missed the tampering"
    assert any(ALICE in p for p in problems), problems


def test_guards_were_on_before_they_were_disabled(book, session, w):
    # Without disable_guards() the same edit is refused, so the cases above really go behind the guards.
    with pytest.raises(DBAPIError, match="append-only"):
        with session.begin_nested():
            changed_amount(session.connection(), w)
    assert book.verify() == []
