"""The ledger on a PostgreSQL connection in AUTOCOMMIT: every write is a transaction of its own.

A one-transfer post() is one statement (its own transaction, committed when it returns); any other write
runs in a transaction block the ledger opens and ends around it, so it is still all or none. These tests
commit for real (each on a tenant of its own), as a caller in AUTOCOMMIT does.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import event, func, select

from ledger import (
    AlreadyReversed,
    IdempotencyConflict,
    InsufficientBalance,
    JournalSpec,
    Ledger,
    Transfer,
)
from ledger.book import utcnow
from ledger.schema import journals
from tests.integration.test_ledger_concurrency import wait_for_lock_waiters

pytestmark = pytest.mark.postgres


@pytest.fixture
def alone(pg_engine):
    """A connection in AUTOCOMMIT, with the statements SQLAlchemy sends on it recorded."""
    conn = pg_engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    sent: list[str] = []
    event.listen(conn, "before_cursor_execute", lambda _c, _cur, sql, *_a: sent.append(sql))
    conn.sent = sent  # type: ignore[attr-defined]
    yield conn
    conn.close()


def committed(pg_engine, tenant: int, fn):
    """Read through another connection: only what was committed is there."""
    with pg_engine.connect() as other:
        try:
            return fn(Ledger(other, tenant=tenant))
        finally:
            other.rollback()


def idle(conn) -> bool:
    """No transaction is open on the server for this connection: what was written is committed."""
    return conn.connection.dbapi_connection.info.transaction_status.name == "IDLE"


def open_wallets(book: Ledger, funded: dict[str, int]) -> None:
    book.open_account("src", normal="debit")
    for code, amount in funded.items():
        book.open_account(code, no_overdraft=True)
        if amount:
            book.post([Transfer("src", code, amount)], kind="fund", key=f"fund:{code}")


def test_a_one_transfer_post_is_one_statement_committed_when_it_returns(pg_engine, alone, tenant):
    book = Ledger(alone, tenant=tenant)
    open_wallets(book, {"a": 100, "b": 0})
    alone.sent.clear()
    j = book.post([Transfer("a", "b", 30)], kind="pay", key="pay-1")
    assert len(alone.sent) == 1 and alone.sent[0].startswith("WITH l AS MATERIALIZED")
    assert idle(alone)
    # Another connection sees it at once: the statement was the transaction, and it has committed.
    assert committed(pg_engine, tenant, lambda b: (b.balance("a").posted, b.balance("b").posted)) == (70, 30)
    assert committed(pg_engine, tenant, lambda b: b.journal(j.id).key) == "pay-1"
    assert committed(pg_engine, tenant, lambda b: b.verify()) == []


def test_a_refused_post_writes_nothing_and_the_connection_goes_on(pg_engine, alone, tenant):
    book = Ledger(alone, tenant=tenant)
    open_wallets(book, {"a": 100, "b": 0})
    before = committed(pg_engine, tenant, lambda b: b._conn.scalar(select(func.count()).select_from(journals)))
    with pytest.raises(InsufficientBalance, match="overdrawn by 50"):
        book.post([Transfer("a", "b", 150)], kind="pay", key="too-much")
    assert idle(alone)
    assert committed(pg_engine, tenant, lambda b: b._conn.scalar(select(func.count()).select_from(journals))) == before
    assert book.post([Transfer("a", "b", 100)], kind="pay", key="all-of-it").id
    assert committed(pg_engine, tenant, lambda b: b.balance("a").posted) == 0


def test_a_key_posts_once_and_refuses_another_request(pg_engine, alone, tenant):
    book = Ledger(alone, tenant=tenant)
    open_wallets(book, {"a": 100, "b": 0})
    first = book.post([Transfer("a", "b", 10)], kind="pay", key="k")
    again = book.post([Transfer("a", "b", 10)], kind="pay", key="k")
    assert again.id == first.id
    with pytest.raises(IdempotencyConflict):
        book.post([Transfer("a", "b", 11)], kind="pay", key="k")
    assert committed(pg_engine, tenant, lambda b: b.balance("b").posted) == 10


def test_a_journal_of_two_transfers_is_all_or_none(pg_engine, alone, tenant):
    book = Ledger(alone, tenant=tenant)
    open_wallets(book, {"a": 100, "b": 0, "c": 0})
    # The second transfer overdraws b: the first must not land either.
    with pytest.raises(InsufficientBalance):
        book.post([Transfer("a", "b", 50), Transfer("b", "c", 80)], kind="split")
    assert idle(alone)
    assert committed(pg_engine, tenant, lambda b: [b.balance(x).posted for x in "abc"]) == [100, 0, 0]
    book.post([Transfer("a", "b", 50), Transfer("b", "c", 20)], kind="split", key="split")
    assert idle(alone)
    assert committed(pg_engine, tenant, lambda b: [b.balance(x).posted for x in "abc"]) == [50, 30, 20]


def test_every_other_write_works_in_a_block_of_its_own(pg_engine, alone, tenant):
    book = Ledger(alone, tenant=tenant)
    open_wallets(book, {"a": 100})
    assert book.open_accounts(["m1", "m2", "m3"], no_overdraft=True) == 3
    done = book.post_many([JournalSpec([Transfer("a", f"m{i}", 10)], kind="batch", key=f"b{i}") for i in (1, 2, 3)])
    assert [j.key for j in done] == ["b1", "b2", "b3"]
    # A batch with one journal too many is refused whole.
    with pytest.raises(InsufficientBalance):
        book.post_many(
            [JournalSpec([Transfer("m1", "m2", 10)], kind="x"), JournalSpec([Transfer("m1", "m3", 1)], kind="x")]
        )
    assert committed(pg_engine, tenant, lambda b: [b.balance(f"m{i}").posted for i in (1, 2, 3)]) == [10, 10, 10]
    hold = book.post([Transfer("a", "m1", 5)], kind="hold", pending=True)
    book.post_pending(hold.id, amount=3)
    gone = book.post([Transfer("a", "m2", 5)], kind="hold", pending=True, expires_at=utcnow() - timedelta(seconds=1))
    assert book.expire_pending() == 1
    rev = book.reverse(done[2].id, key="undo")
    with pytest.raises(AlreadyReversed):
        book.reverse(done[2].id)
    assert book.close_account("m3").closed
    assert idle(alone)
    seen = committed(
        pg_engine, tenant, lambda b: (b.balance("m1"), b.journal(gone.id).status, b.journal(rev.id).reverses_id)
    )
    assert seen[0].posted == 13 and seen[0].pending_in == 0
    assert seen[1:] == ("voided", done[2].id)
    assert book.verify() == []
    assert idle(alone)


def test_a_post_after_another_connection_wrote_the_account_reads_it_afresh(pg_engine, alone, tenant):
    """Nothing read under one post is reused by the next: each was a transaction of its own."""
    book = Ledger(alone, tenant=tenant)
    open_wallets(book, {"a": 100, "b": 0})
    book.post([Transfer("a", "b", 10)], kind="pay")
    with pg_engine.connect() as other:
        Ledger(other, tenant=tenant).post([Transfer("b", "a", 4)], kind="pay")
        other.commit()
    book.post([Transfer("b", "a", 6)], kind="pay")
    assert committed(pg_engine, tenant, lambda b: (b.balance("a").posted, b.balance("b").posted)) == (100, 0)
    assert committed(pg_engine, tenant, lambda b: b.verify()) == []


def test_a_post_whose_account_changed_while_it_waited_is_written_after_the_change(pg_engine, alone, tenant):
    """The statement waits on a lock another transaction holds; that one commits a post to the same
    account; the statement then finds a row newer than its snapshot, writes nothing, and the ledger
    posts again in a block of its own: both journals land, the chain is sound."""
    book = Ledger(alone, tenant=tenant)
    open_wallets(book, {"a": 100, "b": 0, "c": 0})
    gate = pg_engine.connect()
    try:
        Ledger(gate, tenant=tenant).post([Transfer("a", "b", 30)], kind="first")  # holds a until commit
        alone.sent.clear()
        with ThreadPoolExecutor(max_workers=1) as pool:
            waiting = pool.submit(book.post, [Transfer("a", "c", 50)], kind="second", key="second")
            wait_for_lock_waiters(pg_engine, 1)
            gate.commit()
            second = waiting.result(timeout=60)
    finally:
        gate.close()
    assert second.key == "second"
    assert len(alone.sent) > 1  # the one statement wrote nothing; the general path wrote the journal
    assert idle(alone)
    assert committed(pg_engine, tenant, lambda b: [b.balance(x).posted for x in "abc"]) == [20, 30, 50]
    assert committed(pg_engine, tenant, lambda b: b.verify()) == []


def together(pg_engine, tenant: int, n: int, work) -> list:
    """work(book, i) for i in range(n), each on a connection of its own in AUTOCOMMIT, all released at once;
    per call the journal posted or the exception raised."""
    barrier = threading.Barrier(n)

    def one(i: int):
        with pg_engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            barrier.wait(timeout=60)
            try:
                return work(Ledger(conn, tenant=tenant), i)
            except Exception as e:  # noqa: BLE001  (the caller asserts on every outcome)
                return e

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(one, range(n)))


def test_concurrent_spends_on_autocommit_never_overdraw(pg_engine, tenant):
    """20 connections in AUTOCOMMIT spend from one wallet that holds enough for 7 of them."""
    with pg_engine.connect() as c:
        open_wallets(Ledger(c, tenant=tenant), {"w": 70, "shop": 0})
        c.commit()
    results = together(
        pg_engine, tenant, 20, lambda book, i: book.post([Transfer("w", "shop", 10)], kind="spend", key=f"s{i}")
    )
    assert sum(not isinstance(r, Exception) for r in results) == 7
    assert all(isinstance(r, InsufficientBalance) for r in results if isinstance(r, Exception))
    assert committed(pg_engine, tenant, lambda b: (b.balance("w").posted, b.balance("shop").posted)) == (0, 70)
    assert committed(pg_engine, tenant, lambda b: b.verify()) == []


def test_concurrent_journals_of_two_transfers_on_autocommit_all_land(pg_engine, tenant):
    """Journals of two transfers over one shared source, from 12 connections in AUTOCOMMIT at once: each
    is locked, checked and written in one block, so none finds its rows changed between lock and write."""
    with pg_engine.connect() as c:
        open_wallets(Ledger(c, tenant=tenant), {f"w{i}": 0 for i in range(12)} | {"pool": 0})
        c.commit()
    results = together(
        pg_engine,
        tenant,
        12,
        lambda book, i: book.post([Transfer("src", f"w{i}", 10), Transfer("src", "pool", 1)], kind="pay", key=f"p{i}"),
    )
    assert [r for r in results if isinstance(r, Exception)] == []
    assert committed(pg_engine, tenant, lambda b: (b.balance("src").posted, b.balance("pool").posted)) == (132, 12)
    assert committed(pg_engine, tenant, lambda b: b.verify()) == []
