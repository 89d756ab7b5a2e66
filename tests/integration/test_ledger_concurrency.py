"""Real concurrent transactions on PostgreSQL: no overdraft, no deadlock, one journal per key/reversal/resolution."""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from ledger import AlreadyReversed, InsufficientBalance, Ledger, NotPending, Transfer
from ledger.schema import accounts, journals

pytestmark = pytest.mark.postgres

# The server's max_connections (100 by default) is shared with everything else on it, so at most this
# many transactions hold a connection at once; the other threads queue for one, as behind any pool.
CONNECTIONS = 20


def run_together(engine, tenant: int, n: int, work, hold: tuple[str, ...] = ()) -> list:
    """Run work(book, i) for i in range(n), each in its own thread and its own committed transaction.

    Every thread waits at a barrier first so they start together. With `hold`, another transaction
    locks those accounts until all n are queued on the lock, so each has made its checks before any
    has written: the narrowest race, every time. Returns, per call, the value returned or the
    exception raised (which means that transaction was rolled back).
    """
    assert not hold or n <= CONNECTIONS, "every held-up thread needs a connection of its own"
    barrier = threading.Barrier(n)
    slots = threading.BoundedSemaphore(CONNECTIONS)

    def one(i: int):
        barrier.wait(timeout=60)
        with slots:
            try:
                with Session(engine) as s:
                    result = work(Ledger(s, tenant=tenant), i)
                    s.commit()
                    return result
            except Exception as exc:  # noqa: BLE001  (the caller asserts on every outcome)
                return exc

    with engine.connect() as gate, ThreadPoolExecutor(max_workers=n) as pool:
        if hold:
            gate.execute(
                select(accounts.c.id).where(accounts.c.tenant_id == tenant, accounts.c.code.in_(hold)).with_for_update()
            )
        try:
            futures = [pool.submit(one, i) for i in range(n)]
            if hold:
                wait_for_lock_waiters(engine, n)
        finally:
            gate.rollback()  # always let the threads go, or the pool never shuts down
        return [f.result() for f in futures]


def wait_for_lock_waiters(engine, n: int) -> None:
    """Wait until n sessions of this database are blocked on a lock (only this test uses the database)."""
    with engine.connect() as conn:
        for _ in range(3000):
            waiting = conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            ).scalar_one()
            if waiting >= n:
                return
            conn.rollback()  # a fresh snapshot of pg_stat_activity next time
            time.sleep(0.02)
    pytest.fail(f"only {waiting} of {n} transactions reached the lock")


def setup(engine, tenant: int, build) -> None:
    """Commit the accounts and opening postings a scenario starts from."""
    with Session(engine) as s:
        build(Ledger(s, tenant=tenant))
        s.commit()


def read(engine, tenant: int, fn):
    with Session(engine) as s:
        return fn(Ledger(s, tenant=tenant))


def outcomes(results: list) -> Counter:
    return Counter(type(r).__name__ for r in results)


def unexpected(results: list, expected: type) -> list:
    """A few of the errors other than the expected one, for the failure message."""
    return [r for r in results if isinstance(r, Exception) and not isinstance(r, expected)][:3]


def test_concurrent_spends_never_overdraw(pg_engine, tenant):
    def build(book):
        book.open_account("source:hours", normal="debit")
        book.open_account("member:1", no_overdraft=True)
        book.open_account("sink:market")
        book.post([Transfer("source:hours", "member:1", 37)], kind="earn.hours")

    setup(pg_engine, tenant, build)

    results = run_together(
        pg_engine,
        tenant,
        100,
        lambda book, i: book.post([Transfer("member:1", "sink:market", 1)], kind="spend.market", key=f"spend:{i}"),
    )

    assert outcomes(results) == {"Journal": 37, "InsufficientBalance": 63}, unexpected(results, InsufficientBalance)
    assert len({r.id for r in results if not isinstance(r, Exception)}) == 37
    balance, sink, problems = read(
        pg_engine, tenant, lambda b: (b.balance("member:1"), b.balance("sink:market"), b.verify())
    )
    assert balance.posted == 0 and balance.available == 0
    assert sink.posted == 37
    assert problems == []


def test_crossing_transfers_do_not_deadlock(pg_engine, tenant):
    def build(book):
        book.open_account("source:hours", normal="debit")
        book.open_account("member:a", no_overdraft=True)
        book.open_account("member:b", no_overdraft=True)
        book.post(
            [Transfer("source:hours", "member:a", 10_000), Transfer("source:hours", "member:b", 10_000)],
            kind="earn.hours",
        )

    setup(pg_engine, tenant, build)

    # Even i: A -> B for 3 points; odd i: B -> A for 5 points. 200 of each.
    def move(book, i):
        if i % 2 == 0:
            return book.post([Transfer("member:a", "member:b", 3)], kind="gift")
        return book.post([Transfer("member:b", "member:a", 5)], kind="gift")

    results = run_together(pg_engine, tenant, 400, move)

    errors = [r for r in results if isinstance(r, Exception)]
    assert errors == [], errors[:3]
    a, b, problems = read(pg_engine, tenant, lambda bk: (bk.balance("member:a"), bk.balance("member:b"), bk.verify()))
    assert a.posted == 10_000 - 200 * 3 + 200 * 5
    assert b.posted == 10_000 + 200 * 3 - 200 * 5
    assert problems == []


# "spend": the request spends the member's whole balance, so after the winner commits a loser's copy
# would overdraw it; the retry must still get the original journal back, not InsufficientBalance.
@pytest.mark.parametrize("request_kind", ["earn", "spend"])
def test_one_idempotency_key_posts_one_journal(pg_engine, tenant, request_kind):
    def build(book):
        book.open_account("source:hours", normal="debit")
        book.open_account("member:1", no_overdraft=True)
        book.open_account("sink:market")
        book.post([Transfer("source:hours", "member:1", 30)], kind="earn.hours")

    setup(pg_engine, tenant, build)
    if request_kind == "earn":
        request, after = Transfer("source:hours", "member:1", 30), 60
    else:
        request, after = Transfer("member:1", "sink:market", 30), 0

    results = run_together(
        pg_engine,
        tenant,
        20,
        lambda book, i: book.post([request], kind=request_kind, key="request:9"),
        hold=("member:1", "sink:market", "source:hours"),
    )

    errors = [r for r in results if isinstance(r, Exception)]
    assert errors == [], errors[:3]
    assert len({r.id for r in results}) == 1
    with Session(pg_engine) as s:
        rows = s.execute(
            select(func.count())
            .select_from(journals)
            .where(journals.c.tenant_id == tenant, journals.c.key == "request:9")
        ).scalar_one()
        book = Ledger(s, tenant=tenant)
        assert rows == 1
        assert book.balance("member:1").posted == after
        assert book.verify() == []


# "exact": the recipient holds just what the reversal takes back, so after the winner commits a
# loser's reversal would also overdraw it; it must still be told AlreadyReversed, the real reason.
@pytest.mark.parametrize("extra", [0, 1_000], ids=["exact", "more"])
def test_one_journal_is_reversed_once(pg_engine, tenant, extra):
    ids = {}

    def build(book):
        book.open_account("source:hours", normal="debit")
        book.open_account("member:1", no_overdraft=True)
        book.open_account("member:2", no_overdraft=True)
        earn = [Transfer("source:hours", "member:1", 100)]
        if extra:
            earn.append(Transfer("source:hours", "member:2", extra))
        book.post(earn, kind="earn.hours")
        ids["gift"] = book.post([Transfer("member:1", "member:2", 40)], kind="gift").id

    setup(pg_engine, tenant, build)

    results = run_together(
        pg_engine, tenant, 20, lambda book, i: book.reverse(ids["gift"]), hold=("member:1", "member:2")
    )

    assert outcomes(results) == {"Journal": 1, "AlreadyReversed": 19}, unexpected(results, AlreadyReversed)
    m1, m2, problems = read(pg_engine, tenant, lambda b: (b.balance("member:1"), b.balance("member:2"), b.verify()))
    assert (m1.posted, m2.posted) == (100, extra)
    assert problems == []
    with Session(pg_engine) as s:
        reversals = s.execute(
            select(func.count()).select_from(journals).where(journals.c.reverses_id == ids["gift"])
        ).scalar_one()
    assert reversals == 1


def test_one_pending_journal_is_posted_once(pg_engine, tenant):
    ids = {}

    def build(book):
        book.open_account("source:hours", normal="debit")
        book.open_account("member:1", no_overdraft=True)
        book.open_account("sink:market")
        book.post([Transfer("source:hours", "member:1", 100)], kind="earn.hours")
        ids["hold"] = book.post([Transfer("member:1", "sink:market", 25)], kind="spend.market", pending=True).id

    setup(pg_engine, tenant, build)

    results = run_together(
        pg_engine, tenant, 20, lambda book, i: book.post_pending(ids["hold"]), hold=("member:1", "sink:market")
    )

    assert outcomes(results) == {"Journal": 1, "NotPending": 19}, unexpected(results, NotPending)
    m1, sink, status, problems = read(
        pg_engine,
        tenant,
        lambda b: (b.balance("member:1"), b.balance("sink:market"), b.journal(ids["hold"]).status, b.verify()),
    )
    assert (m1.posted, m1.pending_out, m1.available) == (75, 0, 75)
    assert (sink.posted, sink.pending_in) == (25, 0)
    assert status == "posted"
    assert problems == []
