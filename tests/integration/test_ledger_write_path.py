"""The write path's shortcuts keep every guarantee: a transaction's later posts reuse the account rows it
has locked (PostgreSQL) — never across transactions, never past a rolled-back savepoint — and the
one-transfer write refuses a row changed behind the ledger's back instead of overwriting it."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session

from ledger import AccountClosed, InsufficientBalance, Ledger, Transfer, UnknownAccount
from ledger.schema import accounts
from tests.integration.test_ledger_concurrency import setup


@pytest.fixture
def funded(book):
    book.open_account("source:hours", normal="debit")
    book.open_accounts([f"member:{i}" for i in range(4)], no_overdraft=True)
    book.post([Transfer("source:hours", "member:0", 100)], kind="earn", key="fund")
    return book


def test_many_posts_in_one_transaction_from_one_source(funded):
    book = funded
    for i in range(40):
        book.post([Transfer("source:hours", f"member:{i % 4}", 1 + i)], kind="earn", key=f"k{i}")
    for i in range(10):  # both sides already locked by this transaction
        book.post([Transfer(f"member:{i % 4}", f"member:{(i + 1) % 4}", 2)], kind="move", key=f"m{i}")
    want = {j: sum(1 + i for i in range(40) if i % 4 == j) for j in range(4)}
    want[0] += 100
    for i in range(10):
        want[i % 4] -= 2
        want[(i + 1) % 4] += 2
    assert {j: book.balance(f"member:{j}").posted for j in range(4)} == want
    assert book.balance("source:hours").posted == sum(want.values())
    assert book.verify() == []


def test_a_refused_post_leaves_the_transaction_able_to_post(funded):
    book = funded
    book.post([Transfer("member:0", "member:1", 60)], kind="move", key="a")
    with pytest.raises(InsufficientBalance):
        book.post([Transfer("member:0", "member:1", 41)], kind="move", key="b")
    book.post([Transfer("member:0", "member:1", 40)], kind="move", key="c")
    assert book.balance("member:0").posted == 0
    assert book.balance("member:1").posted == 100
    assert book.verify() == []


def test_an_account_closed_in_the_transaction_refuses_the_next_post(funded):
    book = funded
    book.post([Transfer("member:0", "member:3", 100)], kind="move", key="out")
    book.post([Transfer("member:3", "member:0", 100)], kind="move", key="back")
    book.post([Transfer("member:0", "member:3", 100)], kind="move", key="out-again")
    book.close_account("member:0")  # both accounts were locked and recorded by the posts above
    with pytest.raises(AccountClosed):
        book.post([Transfer("member:3", "member:0", 1)], kind="move", key="to-closed")
    assert book.verify() == []


def test_a_rolled_back_savepoint_leaves_no_stale_account(funded, session):
    book = funded
    book.post([Transfer("source:hours", "member:1", 5)], kind="earn", key="before")
    nested = session.begin_nested()
    book.post([Transfer("source:hours", "member:1", 7)], kind="earn", key="inside")
    book.post([Transfer("source:hours", "member:2", 9)], kind="earn", key="inside-new")
    nested.rollback()
    # The rows are as before the savepoint; a post that used the state recorded inside it would chain
    # onto entries that no longer exist and total amounts that were rolled back.
    book.post([Transfer("source:hours", "member:1", 11)], kind="earn", key="after")
    book.post([Transfer("source:hours", "member:2", 13)], kind="earn", key="after-new")
    assert book.balance("member:1").posted == 16
    assert book.balance("member:2").posted == 13
    assert book.balance("source:hours").posted == 129
    assert book.verify() == []


def test_a_released_savepoint_keeps_its_posts(funded, session):
    book = funded
    with session.begin_nested():
        book.post([Transfer("source:hours", "member:3", 3)], kind="earn", key="inside")
    book.post([Transfer("source:hours", "member:3", 4)], kind="earn", key="after")
    assert book.balance("member:3").posted == 7
    assert book.verify() == []


@pytest.mark.postgres
def test_a_post_after_a_rolled_back_savepoint_locks_the_account_again(pg_engine, tenant):
    """Rolling back to a savepoint releases the row locks taken inside it: the next post must take the
    lock again (it would not, if it trusted what it recorded inside the savepoint)."""
    setup(pg_engine, tenant, lambda b: (b.open_account("src", normal="debit"), b.open_account("w:1")))
    with Session(pg_engine) as s, pg_engine.connect() as other:
        book = Ledger(s, tenant=tenant)
        s.connection()  # the transaction is open before the savepoint
        nested = s.begin_nested()
        book.post([Transfer("src", "w:1", 1)], kind="earn")
        nested.rollback()
        lock = (
            select(accounts.c.id)
            .where(accounts.c.tenant_id == tenant, accounts.c.code == "w:1")
            .with_for_update(nowait=True)
        )
        other.execute(lock)  # free again: the savepoint's lock went with it
        other.rollback()
        book.post([Transfer("src", "w:1", 2)], kind="earn")
        with pytest.raises(OperationalError):  # locked again by the post
            other.execute(lock)
        other.rollback()
        s.commit()
    with Session(pg_engine) as s:
        book = Ledger(s, tenant=tenant)
        assert book.balance("w:1").posted == 2
        assert book.verify() == []


@pytest.mark.postgres
def test_a_connection_reads_accounts_afresh_in_its_next_transaction(pg_engine, tenant):
    """What a transaction recorded is not used by the next one on the same connection: another writer may
    have posted to the account in between."""
    setup(pg_engine, tenant, lambda b: (b.open_account("src", normal="debit"), b.open_account("w:1")))
    with pg_engine.connect() as mine, Session(pg_engine) as theirs:
        book = Ledger(mine, tenant=tenant)
        book.post([Transfer("src", "w:1", 1)], kind="earn")
        mine.commit()
        Ledger(theirs, tenant=tenant).post([Transfer("src", "w:1", 10)], kind="earn")
        theirs.commit()
        book.post([Transfer("src", "w:1", 100)], kind="earn")
        mine.commit()
        assert book.balance("w:1").posted == 111
        assert book.verify() == []
        mine.rollback()


@pytest.mark.postgres
def test_an_account_row_changed_behind_the_ledger_fails_the_write(pg_engine, tenant):
    """Within one transaction, a row the ledger has locked and recorded is changed by plain SQL: the next
    post's write finds the row is not as recorded and fails (the transaction with it) instead of writing
    totals and a chain head computed from the old row."""
    setup(pg_engine, tenant, lambda b: (b.open_account("src", normal="debit"), b.open_account("w:1")))
    with pg_engine.connect() as conn:
        book = Ledger(conn, tenant=tenant)
        book.post([Transfer("src", "w:1", 1)], kind="earn")
        conn.execute(
            text(
                "UPDATE ledger_accounts SET credits_posted = credits_posted + 5 WHERE tenant_id = :t AND code = 'w:1'"
            ),
            {"t": tenant},
        )
        with pytest.raises(DBAPIError, match="changed under this transaction"):
            book.post([Transfer("src", "w:1", 2)], kind="earn")
        conn.rollback()
    with Session(pg_engine) as s:
        book = Ledger(s, tenant=tenant)
        assert book.balance("w:1").posted == 0
        assert book.verify() == []


# -- the one-statement post (PostgreSQL: _POST_ONE_PG) ------------------------------------------------
# A one-transfer post over two accounts the transaction has not locked yet is one statement on PostgreSQL:
# the database locks, checks, computes the entries' hashes and writes. These tests run on both databases
# (SQLite takes the Python path) and would fail if the database's arithmetic or hashing differed from the
# ledger's own, or if a refused post wrote anything.


def _recomputed(conn, journal_id: int) -> list[tuple[bytes, bytes]]:
    """(stored hash, hash recomputed by ledger.chain) for each entry of a journal, chained from the entry
    before it on the same account."""
    from ledger.chain import GENESIS, entry_hash
    from ledger.schema import entries, transfers

    out = []
    for e in conn.execute(select(entries).where(entries.c.journal_id == journal_id)).mappings().all():
        t = conn.execute(select(transfers).where(transfers.c.id == e["transfer_id"])).mappings().one()
        prev = conn.execute(
            select(entries.c.hash).where(entries.c.account_id == e["account_id"], entries.c.seq == e["seq"] - 1)
        ).scalar()
        out.append((bytes(e["hash"]), entry_hash(bytes(prev) if prev is not None else GENESIS, e, t)))
    return out


def test_the_databases_chain_and_totals_match_the_ledgers_own(book, session):
    from datetime import timedelta

    from ledger.book import MAX_AMOUNT, utcnow

    book.open_account("src", normal="debit")
    book.open_account("bank", unit="CNY", normal="debit")
    book.open_accounts(["w:1", "w:2", "w:3"], no_overdraft=True)
    book.open_account("till", unit="CNY", no_overdraft=True)
    conn = session.connection()
    posted = [
        book.post([Transfer("src", "w:1", 70)], kind="earn", key="a", memo="社区清洁 3小时", meta={"n": [1, "二"]}),
        book.post([Transfer("bank", "till", MAX_AMOUNT)], kind="fund", key="big"),
        book.post([Transfer("w:1", "w:2", 30)], kind="hold", key="p", pending=True, expires_at=utcnow() + timedelta(1)),
        book.post([Transfer("src", "w:3", 5)], kind="earn", effective_at=utcnow() - timedelta(days=3)),
    ]
    for j in posted:
        pairs = _recomputed(conn, j.id)
        assert len(pairs) == 2 and all(stored == again for stored, again in pairs)
        # What was stored reads back as what post() returned (times, JSON, flags: SQLite stores them as
        # text and integers through the columns' own types on either path).
        assert book.journal(j.id) == j
    assert book.balance_at("w:1", posted[0].created_at) == 70
    held = posted[2]
    book.post_pending(held.id, amount=20)
    assert book.balance("w:1").posted == 50 and book.balance("w:1").pending_out == 0
    assert book.balance("w:2").posted == 20
    assert book.balance("src").posted == 75  # debit-normal: grows as it issues
    assert book.balance("bank").posted == MAX_AMOUNT and book.balance("till").posted == MAX_AMOUNT
    two = book.post([Transfer("src", "w:1", 1), Transfer("src", "w:2", 1)], kind="earn", meta={"n": [1, "二"]})
    assert book.journal(two.id) == two  # (the general path, for comparison)
    assert book.verify() == []


def test_refused_one_transfer_posts_write_nothing_and_say_why(book, session):
    from ledger import UnitMismatch, UnknownAccount
    from ledger.schema import journals

    book.open_account("src", normal="debit")
    book.open_account("bank", unit="CNY", normal="debit")
    book.open_accounts([f"w:{i}" for i in range(1, 7)], no_overdraft=True)
    # Each refusal below is the first post over its accounts in the transaction (the one-statement path).
    with pytest.raises(InsufficientBalance, match="account w:1 has 0 PT available but this needs 5"):
        book.post([Transfer("w:1", "w:2", 5)], kind="move", key="r1")
    with pytest.raises(UnitMismatch, match="w:3 holds PT but bank holds CNY"):
        book.post([Transfer("w:3", "bank", 5)], kind="move", key="r2")
    with pytest.raises(UnknownAccount, match="no such account: w:99"):
        book.post([Transfer("src", "w:99", 5)], kind="move", key="r3")
    conn = session.connection()
    mine = select(func.count()).select_from(journals).where(journals.c.tenant_id == book.tenant)
    assert conn.execute(mine).scalar() == 0
    book.close_account("w:4")
    with pytest.raises(AccountClosed, match="account w:4 is closed"):
        book.post([Transfer("w:6", "w:4", 5)], kind="move", key="r4")
    # A repeated request finds its original even when the balance no longer allows it.
    first = book.post([Transfer("src", "w:5", 5)], kind="earn", key="once")
    book.post([Transfer("w:5", "w:6", 5)], kind="move")
    assert book.post([Transfer("src", "w:5", 5)], kind="earn", key="once").id == first.id
    assert book.balance("w:5").posted == 0 and book.balance("w:6").posted == 5
    assert book.verify() == []


@pytest.mark.postgres
def test_a_one_transfer_post_is_one_statement_on_postgresql(pg_engine, tenant):
    from sqlalchemy import event

    setup(pg_engine, tenant, lambda b: (b.open_account("src", normal="debit"), b.open_account("w:1")))
    sent: list[str] = []
    with pg_engine.connect() as conn:
        book = Ledger(conn, tenant=tenant)
        listen = lambda *a: sent.append(a[2])  # noqa: E731
        event.listen(conn, "before_cursor_execute", listen)
        try:
            j = book.post([Transfer("src", "w:1", 7)], kind="earn", key="one")
            assert len(sent) == 1
            conn.commit()
            assert book.post([Transfer("src", "w:1", 7)], kind="earn", key="one").id == j.id  # a repeat
            conn.rollback()
        finally:
            event.remove(conn, "before_cursor_execute", listen)
    with Session(pg_engine) as s:
        book = Ledger(s, tenant=tenant)
        assert book.balance("w:1").posted == 7
        assert book.verify() == []


@pytest.mark.postgres
def test_a_post_that_waited_for_a_concurrent_writer_builds_on_what_it_committed(pg_engine, tenant):
    """The statement's snapshot is taken before it waits for the row lock; the writer it waited for
    committed after it. The post must chain and total from the committed rows (it falls back to locking
    then writing in a second statement), not from its snapshot."""
    from tests.integration.test_ledger_concurrency import wait_for_lock_waiters

    setup(pg_engine, tenant, lambda b: (b.open_account("src", normal="debit"), b.open_accounts(["w:1", "w:2"])))
    with Session(pg_engine) as first:
        Ledger(first, tenant=tenant).post([Transfer("src", "w:1", 10)], kind="earn", key="first")
        got: list = []

        def second():
            with Session(pg_engine) as s:
                try:
                    got.append(Ledger(s, tenant=tenant).post([Transfer("w:2", "w:1", 3)], kind="move", key="second"))
                    s.commit()
                except Exception as e:  # reported below
                    got.append(e)

        import threading

        th = threading.Thread(target=second)
        th.start()
        wait_for_lock_waiters(pg_engine, 1)
        first.commit()
        th.join(30)
    assert len(got) == 1 and not isinstance(got[0], Exception), got
    with Session(pg_engine) as s:
        book = Ledger(s, tenant=tenant)
        assert book.balance("w:1").posted == 13 and book.balance("w:2").posted == -3
        assert book.statement("w:1").lines[0].balance_after == 13
        assert book.verify() == []

        assert book.verify() == []


@pytest.mark.postgres
def test_small_journals_of_several_transfers_lock_every_account_and_keep_their_order(pg_engine, tenant):
    """Journals of 2 to 4 transfers over up to 8 accounts lock and reserve with a fixed-size statement
    (the codes padded by repeating the last one): every account is found and moved, the transfers keep
    the order given with ascending ids, an unknown account is refused with nothing written, and a journal
    past those sizes takes the general path."""
    codes = [f"w:{i}" for i in range(9)]

    def build(b):
        b.open_account("src", normal="debit")
        b.open_accounts(codes, no_overdraft=True)
        b.post([Transfer("src", c, 100) for c in codes[:4]], kind="fund")

    setup(pg_engine, tenant, build)
    with Session(pg_engine) as s:
        book = Ledger(s, tenant=tenant)
        two = book.post([Transfer("w:0", "w:1", 7), Transfer("w:1", "w:0", 2)], kind="move")  # 2 accounts
        three = book.post([Transfer("w:2", "w:3", 5), Transfer("w:3", "w:4", 4), Transfer("w:2", "w:5", 1)], kind="m")
        s.commit()
    with Session(pg_engine) as s:
        book = Ledger(s, tenant=tenant)
        with pytest.raises(UnknownAccount):
            book.post([Transfer("w:0", "w:1", 1), Transfer("w:1", "nobody", 1)], kind="move")
        s.rollback()
    with Session(pg_engine) as s:
        book = Ledger(s, tenant=tenant)
        eight = book.post([Transfer(codes[i], codes[i + 4], 10 + i) for i in range(4)], kind="move")
        five = book.post([Transfer("src", c, 1) for c in codes[:5]], kind="fund")  # past 4 transfers
        s.commit()
    with Session(pg_engine) as s:
        book = Ledger(s, tenant=tenant)
        for journal, want in (
            (two, [("w:0", "w:1", 7), ("w:1", "w:0", 2)]),
            (three, [("w:2", "w:3", 5), ("w:3", "w:4", 4), ("w:2", "w:5", 1)]),
            (eight, [(codes[i], codes[i + 4], 10 + i) for i in range(4)]),
            (five, [("src", c, 1) for c in codes[:5]]),
        ):
            # (in transfer id order: the ids were reserved in the order the transfers were given)
            assert [(d, c, a) for d, c, a, _ in book.journal_transfers(journal.id)] == want
        balances = {c: book.balance(c).posted for c in codes}
        assert balances == {
            "w:0": 100 - 7 + 2 - 10 + 1,
            "w:1": 100 + 7 - 2 - 11 + 1,
            "w:2": 100 - 5 - 1 - 12 + 1,
            "w:3": 100 + 5 - 4 - 13 + 1,
            "w:4": 4 + 10 + 1,
            "w:5": 1 + 11,
            "w:6": 12,
            "w:7": 13,
            "w:8": 0,
        }
