"""Ledger.post_many: many journals in one call — all or none for the batch, each journal with its own
idempotency key — on SQLite and PostgreSQL, and its races on PostgreSQL."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger import (
    AccountClosed,
    IdempotencyConflict,
    InsufficientBalance,
    InvalidTransfer,
    JournalSpec,
    Ledger,
    Transfer,
    UnknownAccount,
)
from ledger.schema import entries, journals, transfers
from tests.integration.test_ledger_concurrency import run_together, setup, wait_for_lock_waiters


def rows(book: Ledger) -> tuple[int, int, int]:
    """How many journals, transfers and entries the tenant has: what a refused batch must not change."""
    conn = book._conn
    t = book.tenant
    j = conn.execute(select(func.count()).select_from(journals).where(journals.c.tenant_id == t)).scalar_one()
    ids = select(journals.c.id).where(journals.c.tenant_id == t)
    tr = conn.execute(select(func.count()).select_from(transfers).where(transfers.c.journal_id.in_(ids))).scalar_one()
    e = conn.execute(select(func.count()).select_from(entries).where(entries.c.journal_id.in_(ids))).scalar_one()
    return j, tr, e


@pytest.fixture
def wallets(book):
    book.open_account("source:hours", normal="debit")
    book.open_accounts([f"member:{i}" for i in range(5)], no_overdraft=True)
    book.open_account("outlet:1")
    return book


def earn(i: int, amount: int = 10, key: str | None = "k") -> JournalSpec:
    return JournalSpec(
        [Transfer("source:hours", f"member:{i % 5}", amount)],
        kind="earn.hours",
        key=None if key is None else f"{key}:{i}",
        memo=f"第{i}次",
    )


def test_a_batch_posts_every_journal_in_order_and_verifies(wallets):
    book = wallets
    got = book.post_many([earn(i) for i in range(20)])
    assert [j.key for j in got] == [f"k:{i}" for i in range(20)]
    assert [j.memo for j in got] == [f"第{i}次" for i in range(20)]
    assert len({j.id for j in got}) == 20 and all(j.status == "posted" for j in got)
    assert [book.balance(f"member:{i}").posted for i in range(5)] == [40] * 5
    assert book.balance("source:hours").posted == 200
    assert rows(book) == (20, 20, 40)
    assert book.verify() == []
    # Each journal is a journal of its own, as post() would have made it.
    assert book.journal_transfers(got[7].id) == [("source:hours", "member:2", 10, "posted")]
    assert book.journal(got[7].id).key == "k:7"


TRICKY = ['"quoted"', "back\\slash", "{braces},comma", "NULL", "", "新\n行", '\\"}{', "tab\tend"]


def test_every_column_of_a_batch_arrives_as_written_whatever_its_characters(wallets, session):
    """PostgreSQL sends a batch's columns as array literals: keys, memos, kinds and meta with quotes,
    backslashes, braces, commas, the word NULL, newlines, no key at all, and an effective time given
    with an offset come back exactly as a single post would store them, and the chains verify."""
    book = wallets
    specs = [
        JournalSpec(
            [Transfer("source:hours", f"member:{i % 5}", i + 1)],
            kind=f"earn.{w}"[:64] if w else "earn",
            key=None if i == 3 else f"key:{w}:{i}",
            memo=w,
            effective_at=datetime(2026, 3, 1, 8, 30, tzinfo=timezone(timedelta(hours=8))) if i % 2 else None,
            meta={"note": w, "n": i, "list": [w, None]},
        )
        for i, w in enumerate(TRICKY)
    ]
    got = book.post_many(specs)
    session.flush()
    stored = {
        r.id: r
        for r in book._conn.execute(
            select(
                journals.c.id,
                journals.c.key,
                journals.c.kind,
                journals.c.memo,
                journals.c.meta,
                journals.c.effective_at,
            ).where(journals.c.id.in_([j.id for j in got]))
        )
    }
    for i, (w, j) in enumerate(zip(TRICKY, got, strict=True)):
        r = stored[j.id]
        assert r.key == (None if i == 3 else f"key:{w}:{i}")
        assert r.memo == w and r.kind == (f"earn.{w}" if w else "earn")
        assert r.meta == {"note": w, "n": i, "list": [w, None]}
        assert r.effective_at == (datetime(2026, 3, 1, 0, 30) if i % 2 else None)
    # The same journals again are found by key (the stored request hashes equal the recomputed ones).
    again = book.post_many([s for i, s in enumerate(specs) if i != 3])
    assert [j.id for j in again] == [j.id for i, j in enumerate(got) if i != 3]
    assert book.verify() == []


def test_journals_are_checked_in_order_against_what_the_earlier_ones_left(wallets):
    book = wallets
    got = book.post_many(
        [
            JournalSpec([Transfer("source:hours", "member:0", 30)], kind="earn", key="a"),
            JournalSpec([Transfer("member:0", "outlet:1", 25)], kind="redeem", key="b"),  # spends what "a" gave
            JournalSpec([Transfer("member:0", "outlet:1", 5)], kind="redeem", pending=True, key="c", meta={"n": 1}),
        ]
    )
    assert [j.status for j in got] == ["posted", "posted", "pending"]
    assert got[2].meta == {"n": 1} and book.journal(got[2].id).meta == {"n": 1}
    assert book.balance("member:0").available == 0
    assert book.verify() == []


def test_all_or_none_a_refused_journal_writes_nothing_of_the_batch(wallets, session):
    book = wallets
    book.post([Transfer("source:hours", "member:0", 10)], kind="earn", key="first")
    before = rows(book), book.balance("member:0"), book.balance("source:hours")
    batch = [earn(i, key="x") for i in range(5)] + [
        JournalSpec([Transfer("member:0", "outlet:1", 1000)], kind="redeem", key="too-much")
    ]
    with pytest.raises(InsufficientBalance, match=r"^journal 6: account member:0 has 20 PT available"):
        book.post_many(batch)
    assert (rows(book), book.balance("member:0"), book.balance("source:hours")) == before
    # The caller's transaction is as it was and goes on.
    assert book.post_many([earn(0, key="after")])[0].key == "after:0"
    assert book.verify() == []


@pytest.mark.parametrize(
    "bad, error, message",
    [
        (JournalSpec([Transfer("source:hours", "member:404", 1)], kind="earn"), UnknownAccount, "member:404"),
        (JournalSpec([Transfer("source:hours", "member:1", 0)], kind="earn"), InvalidTransfer, "journal 3: transfer 1"),
        (JournalSpec([], kind="earn"), InvalidTransfer, "journal 3: a journal needs"),
        (JournalSpec([Transfer("source:hours", "closed", 1)], kind="earn"), AccountClosed, "journal 3: account closed"),
        ("not a spec", InvalidTransfer, "journal 3 is not a ledger.JournalSpec"),
    ],
)
def test_a_bad_journal_anywhere_refuses_the_batch(wallets, bad, error, message):
    book = wallets
    book.open_account("closed")
    book.close_account("closed")
    before = rows(book)
    with pytest.raises(error, match=message):
        book.post_many([earn(1), earn(2), bad, earn(4)])
    assert rows(book) == before


def test_each_journal_keeps_its_own_key_a_repeated_batch_changes_nothing(wallets):
    book = wallets
    first = book.post_many([earn(i) for i in range(6)])
    state = rows(book), [book.balance(f"member:{i}") for i in range(5)]
    again = book.post_many([earn(i) for i in range(6)])
    assert [j.id for j in again] == [j.id for j in first]
    assert (rows(book), [book.balance(f"member:{i}") for i in range(5)]) == state


def test_a_batch_that_repeats_some_posted_journals_posts_only_the_new_ones(wallets):
    book = wallets
    old = book.post(earn(2).transfers, kind="earn.hours", key="k:2", memo="第2次")
    got = book.post_many([earn(i) for i in range(4)])
    assert got[2].id == old.id
    assert len({j.id for j in got}) == 4
    assert rows(book) == (4, 4, 8)
    assert book.balance("member:2").posted == 10  # not twice


def test_a_key_used_before_for_another_request_refuses_the_batch(wallets):
    book = wallets
    book.post([Transfer("source:hours", "member:1", 99)], kind="earn.hours", key="k:1")
    before = rows(book)
    with pytest.raises(IdempotencyConflict, match="journal 2: key 'k:1' was already used for a different request"):
        book.post_many([earn(i) for i in range(3)])
    assert rows(book) == before


def test_a_key_twice_in_one_batch_is_one_journal_or_a_conflict(wallets):
    book = wallets
    got = book.post_many([earn(1), earn(2), earn(1)])
    assert got[0].id == got[2].id != got[1].id
    assert rows(book)[0] == 2
    with pytest.raises(IdempotencyConflict, match="given twice in this batch"):
        book.post_many([earn(3), earn(3, amount=11)])


def test_an_empty_batch_is_nothing(wallets):
    assert wallets.post_many([]) == []


# -- races (PostgreSQL) ----------------------------------------------------------------------------
def _wallets(tenant_book: Ledger) -> None:
    tenant_book.open_account("source:hours", normal="debit")
    tenant_book.open_accounts([f"member:{i}" for i in range(5)], no_overdraft=True)


@pytest.mark.postgres
def test_the_same_batch_posted_at_once_by_many_writes_it_once(pg_engine, tenant):
    setup(pg_engine, tenant, _wallets)
    batch = [earn(i) for i in range(30)]
    results = run_together(
        pg_engine, tenant, 8, lambda book, i: [j.id for j in book.post_many(batch)], hold=("member:0",)
    )
    assert all(isinstance(r, list) for r in results), results
    assert len({tuple(r) for r in results}) == 1  # everyone got the same journals
    with Session(pg_engine) as s:
        book = Ledger(s, tenant=tenant)
        assert rows(book) == (30, 30, 60)
        assert book.balance("source:hours").posted == 300
        assert book.verify() == []


@pytest.mark.postgres
def test_batches_on_disjoint_accounts_run_in_parallel_and_all_land(pg_engine, tenant):
    def build(book):
        book.open_account("source:hours", normal="debit")
        for w in range(4):
            book.open_account(f"source:{w}", normal="debit")
        book.open_accounts([f"member:{i}" for i in range(40)], no_overdraft=True)

    setup(pg_engine, tenant, build)

    def work(book, w):
        return book.post_many(
            [
                JournalSpec([Transfer(f"source:{w}", f"member:{w * 10 + i}", 5)], kind="earn", key=f"w{w}:{i}")
                for i in range(10)
            ]
        )

    results = run_together(pg_engine, tenant, 4, work)
    assert all(isinstance(r, list) and len(r) == 10 for r in results), results
    with Session(pg_engine) as s:
        book = Ledger(s, tenant=tenant)
        assert [book.balance(f"member:{i}").posted for i in range(40)] == [5] * 40
        assert book.verify() == []


@pytest.mark.postgres
def test_a_key_taken_by_a_concurrent_writer_mid_batch_refuses_the_batch_and_writes_none_of_it(pg_engine, tenant):
    """The narrowest race: the batch looked the key up before the other writer committed it, so its
    insert finds the key taken; its rows are rolled back to the savepoint and the batch, looked at
    again, is refused for the conflict."""

    def build(book):
        _wallets(book)
        book.open_account("source:other", normal="debit")
        book.open_account("member:other", no_overdraft=True)

    setup(pg_engine, tenant, build)
    with Session(pg_engine) as first:
        # Takes key "k:3" for another request, on accounts the batch does not lock; not committed yet.
        Ledger(first, tenant=tenant).post([Transfer("source:other", "member:other", 1)], kind="earn", key="k:3")
        outcome: list = []

        def batch():
            with Session(pg_engine) as s:
                try:
                    outcome.append(Ledger(s, tenant=tenant).post_many([earn(i) for i in range(6)]))
                    s.commit()
                except Exception as exc:  # noqa: BLE001 (asserted below)
                    outcome.append(exc)

        t = threading.Thread(target=batch)
        t.start()
        wait_for_lock_waiters(pg_engine, 1)  # the batch waits on the key's unique index entry
        first.commit()
        t.join(timeout=60)
    assert len(outcome) == 1 and isinstance(outcome[0], IdempotencyConflict), outcome
    with Session(pg_engine) as s:
        book = Ledger(s, tenant=tenant)
        assert rows(book) == (1, 1, 2)  # only the other writer's journal
        assert book.verify() == []
