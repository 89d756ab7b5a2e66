"""Ledger.resolve_many (post_pending_many, void_pending_many): many pending journals posted or voided in
one call — the same result as one by one, all or none for the batch, each item with its own idempotency
key — on SQLite and PostgreSQL, and its races on PostgreSQL."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger import (
    IdempotencyConflict,
    InvalidTransfer,
    JournalSpec,
    Ledger,
    NotPending,
    PendingExpired,
    Resolution,
    Transfer,
    UnknownJournal,
)
from ledger.book import utcnow
from ledger.schema import journals
from tests.integration.test_ledger_batch import rows
from tests.integration.test_ledger_concurrency import run_together, setup, wait_for_lock_waiters

MEMBERS = 5


def accounts_of(book: Ledger) -> None:
    book.open_account("source:hours", normal="debit")
    book.open_account("source:bonus", normal="debit")
    book.open_accounts([f"member:{i}" for i in range(MEMBERS)], no_overdraft=True)


def hold(i: int, amount: int = 10, two: bool = False, expires_at=None) -> JournalSpec:
    """The hours of attendance i held for review (two=True: a bonus beside them, two transfers)."""
    ts = [Transfer("source:hours", f"member:{i % MEMBERS}", amount)]
    if two:
        ts.append(Transfer("source:bonus", f"member:{i % MEMBERS}", 3))
    return JournalSpec(
        ts, kind="earn.hours", key=f"hours:{i}", memo=f"第{i}次服务", pending=True, expires_at=expires_at
    )


def holds(book: Ledger, n: int, **kw) -> list[int]:
    return [j.id for j in book.post_many([hold(i, amount=10 + i, **kw) for i in range(n)])]


@pytest.fixture
def held(book):
    accounts_of(book)
    return book, holds(book, 8)


def snapshot(book: Ledger) -> tuple:
    """Everything a member or an auditor reads: balances and statement lines of every account."""
    codes = ["source:hours", "source:bonus", *[f"member:{i}" for i in range(MEMBERS)]]
    return tuple(
        (
            code,
            book.balance(code),
            [
                (ln.seq, ln.kind, ln.memo, ln.phase, ln.amount, ln.pending_amount, ln.balance_after)
                for ln in book.statement(code, limit=1000).lines
            ],
        )
        for code in codes
    )


# -- the same as one by one ----------------------------------------------------------------------------
def test_a_batch_leaves_the_books_as_resolving_one_by_one_would(session, tenant):
    """Full posts, partial posts, voids (of an expired hold too) and two-transfer journals: the same
    balances, the same statement lines, the same resolution journals, and verify() clean."""
    past = utcnow() - timedelta(minutes=1)
    plan = [(0, "post", None), (1, "post", 4), (2, "void", None), (3, "post", None), (4, "void", None)]
    plan += [(5, "post", 15), (6, "post", None), (7, "void", None), (8, "post", None), (9, "void", None)]
    books, answers = [], []
    for n, one_by_one in enumerate((True, False)):
        book = Ledger(session, tenant=tenant + n * 2**42)
        accounts_of(book)
        ids = holds(book, 8) + [j.id for j in book.post_many([hold(8, two=True), hold(9, two=True)])]
        expired = book.post([Transfer("source:hours", "member:1", 7)], kind="earn.hours", pending=True,
                            key="old", expires_at=past)  # fmt: skip
        todo = [Resolution(ids[i], how, amount, f"hours:{i}:{how}") for i, how, amount in plan]
        todo.append(Resolution(expired.id, "void", None, "old:void"))  # a void of an expired hold is allowed
        if one_by_one:
            got = [
                book.post_pending(r.journal_id, r.amount, r.key)
                if r.how == "post"
                else book.void_pending(r.journal_id, r.key)
                for r in todo
            ]
        else:
            got = book.resolve_many(todo)
        books.append(book)
        answers.append([(j.kind, j.key, j.memo, j.resolution, j.status, j.pending) for j in got])
        assert [j.resolves_id for j in got] == [r.journal_id for r in todo]
        assert book.verify() == []
        assert [book.journal(r.journal_id).status for r in todo] == [
            "posted" if r.how == "post" else "voided" for r in todo
        ]
    assert answers[0] == answers[1]
    assert snapshot(books[0]) == snapshot(books[1])
    assert rows(books[0]) == rows(books[1])
    # The partial post moved 4 of hold 1's 11 points and released the rest; hold 6 (16) went in full.
    assert books[1].balance("member:1") == books[0].balance("member:1")
    assert (books[1].balance("member:1").posted, books[1].balance("member:1").pending_in) == (20, 0)


def test_post_pending_many_and_void_pending_many(held):
    book, ids = held
    posted = book.post_pending_many([(ids[0], None, "a"), (ids[1], 5, "b")])
    voided = book.void_pending_many([(ids[2], "c"), (ids[3], None)])
    assert [(j.resolution, j.key) for j in posted + voided] == [
        ("post", "a"),
        ("post", "b"),
        ("void", "c"),
        ("void", None),
    ]
    assert book.journal_transfers(posted[1].id) == [("source:hours", "member:1", 5, "post")]
    assert book.balance("member:0").posted == 10 and book.balance("member:1").posted == 5
    assert book.balance("member:2").pending_in == 17 and book.balance("member:3").pending_in == 0  # hold 7 waits
    assert book.verify() == []


def test_an_empty_batch_is_nothing(held):
    book, _ = held
    assert book.resolve_many([]) == []


# -- all or none ---------------------------------------------------------------------------------------
BAD = {
    "unknown journal": (
        lambda ids, extra: Resolution(10**12),
        UnknownJournal,
        "resolution 3: no journal 1000000000000",
    ),
    "id beyond any journal": (
        lambda ids, extra: Resolution(2**70),
        UnknownJournal,
        f"resolution 3: no journal {2**70}",
    ),
    "never pending": (
        lambda ids, extra: Resolution(extra["plain"]),
        NotPending,
        r"resolution 3: journal {plain} was never pending",
    ),
    "resolved already": (
        lambda ids, extra: Resolution(ids[5], "void"),
        NotPending,
        r"resolution 3: journal {five} is no longer pending: it was posted by journal {five_post}",
    ),
    "expired": (
        lambda ids, extra: Resolution(extra["expired"]),
        PendingExpired,
        r"resolution 3: journal {expired} expired at .* and can no longer be posted",
    ),
    "partial of two transfers": (
        lambda ids, extra: Resolution(extra["two"], amount=1),
        InvalidTransfer,
        r"resolution 3: journal {two} has 2 transfers; a partial amount needs a one-transfer journal",
    ),
    "more than held": (
        lambda ids, extra: Resolution(ids[6], amount=17),
        InvalidTransfer,
        r"resolution 3: journal {six}: amount must be a whole number from 1 to the pending 16, not 17",
    ),
    "void with an amount": (
        lambda ids, extra: Resolution(ids[6], "void", 3),
        InvalidTransfer,
        r"resolution 3: journal {six}: a void releases the whole journal",
    ),
    "neither post nor void": (
        lambda ids, extra: Resolution(ids[6], "undo"),
        InvalidTransfer,
        "resolution 3: a resolution",
    ),
    "bad key": (lambda ids, extra: Resolution(ids[6], key=""), InvalidTransfer, "resolution 3: an idempotency key"),
    "not a Resolution": (
        lambda ids, extra: (ids[6], None, None),
        InvalidTransfer,
        "resolution 3 is not a ledger.Resolution",
    ),
    "named twice": (
        lambda ids, extra: Resolution(ids[0], "void", key="again"),
        NotPending,
        r"resolution 3: journal {zero} is resolved twice in this batch \(resolutions 1 and 3\)",
    ),
}


@pytest.mark.parametrize("case", list(BAD))
def test_one_bad_item_anywhere_refuses_the_batch_and_writes_nothing(held, case):
    book, ids = held
    extra = {
        "plain": book.post([Transfer("source:hours", "member:0", 1)], kind="earn").id,
        "expired": book.post(
            [Transfer("source:hours", "member:0", 2)],
            kind="earn",
            pending=True,
            expires_at=utcnow() - timedelta(seconds=1),
        ).id,
        "two": book.post_many([hold(20, two=True)])[0].id,
    }
    five_post = book.post_pending(ids[5], key="five").id
    build, error, message = BAD[case]
    message = message.format(
        zero=ids[0], five=ids[5], six=ids[6], five_post=five_post, plain=extra["plain"], expired=extra["expired"],
        two=extra["two"],
    )  # fmt: skip
    before = rows(book), snapshot(book)
    batch = [Resolution(ids[0], key="r0"), Resolution(ids[1], "void", key="r1"), build(ids, extra), Resolution(ids[2])]
    with pytest.raises(error, match=message):
        book.resolve_many(batch)
    assert (rows(book), snapshot(book)) == before
    assert [book.journal(i).status for i in ids[:3]] == ["pending"] * 3
    # The caller's transaction is as it was and goes on.
    assert book.resolve_many([Resolution(ids[0], key="after")])[0].key == "after"
    assert book.verify() == []


def test_of_several_bad_items_the_first_is_named_as_one_by_one_would_stop_there(held):
    book, ids = held
    with pytest.raises(InvalidTransfer, match=r"^resolution 2: journal \d+: amount must be"):
        book.resolve_many([Resolution(ids[0]), Resolution(ids[1], amount=99), Resolution(ids[2]), Resolution(10**12)])
    with pytest.raises(UnknownJournal, match=r"^resolution 2: no journal"):
        book.resolve_many([Resolution(ids[0]), Resolution(10**12), Resolution(ids[1], amount=99)])
    book.void_pending(ids[5], key="used")
    with pytest.raises(NotPending, match=r"^resolution 2: journal \d+ is no longer pending"):
        book.resolve_many([Resolution(ids[0]), Resolution(ids[5]), Resolution(ids[1], key="used")])
    with pytest.raises(IdempotencyConflict, match=r"^resolution 2: key 'used'"):
        book.resolve_many([Resolution(ids[0]), Resolution(ids[1], key="used"), Resolution(ids[5])])
    with pytest.raises(NotPending, match=r"^resolution 2: journal \d+ is resolved twice"):
        book.resolve_many([Resolution(ids[0]), Resolution(ids[0], "void"), Resolution(ids[1], key="used")])


# -- idempotency ---------------------------------------------------------------------------------------
def test_a_repeated_batch_returns_the_same_journals_and_changes_nothing(held):
    book, ids = held
    batch = [Resolution(j, "post" if n % 3 else "void", key=f"r:{n}") for n, j in enumerate(ids)]
    first = book.resolve_many(batch)
    state = rows(book), snapshot(book)
    again = book.resolve_many(batch)
    assert [j.id for j in again] == [j.id for j in first]
    assert [(j.resolves_id, j.resolution, j.key) for j in again] == [
        (j.resolves_id, j.resolution, j.key) for j in first
    ]
    assert (rows(book), snapshot(book)) == state


def test_a_batch_that_repeats_some_resolutions_makes_only_the_new_ones(held):
    book, ids = held
    # Resolved before, one by one, with the keys the batch carries (a review retried after a timeout).
    earlier = [book.post_pending(ids[1], key="r:1"), book.void_pending(ids[4], key="r:4")]
    batch = [Resolution(j, "void" if n == 4 else "post", key=f"r:{n}") for n, j in enumerate(ids)]
    got = book.resolve_many(batch)
    assert (got[1].id, got[4].id) == (earlier[0].id, earlier[1].id)
    assert got[1].status == "posted" and got[4].resolution == "void"
    assert len({j.id for j in got}) == len(ids)
    assert rows(book)[0] == len(ids) * 2  # each hold resolved once
    assert book.balance("member:1").posted == 11 + 16  # holds 1 and 6 (of 11 and 16 points), once each
    assert book.verify() == []


def test_a_key_used_before_for_another_request_refuses_the_batch(held):
    book, ids = held
    book.void_pending(ids[2], key="r:2")
    before = rows(book)
    with pytest.raises(
        IdempotencyConflict, match=r"resolution 3: key 'r:2' was already used for a different request \(journal \d+\)"
    ):
        book.resolve_many([Resolution(j, key=f"r:{n}") for n, j in enumerate(ids)])
    assert rows(book) == before


def test_a_key_twice_in_one_batch_is_one_resolution_or_a_conflict(held):
    book, ids = held
    got = book.resolve_many([Resolution(ids[0], key="a"), Resolution(ids[1], key="b"), Resolution(ids[0], key="a")])
    assert got[0].id == got[2].id != got[1].id
    assert rows(book)[0] == len(ids) + 2
    with pytest.raises(IdempotencyConflict, match=r"resolution 2: key 'c' is given twice in this batch"):
        book.resolve_many([Resolution(ids[2], key="c"), Resolution(ids[3], key="c")])


def test_a_repeat_is_answered_even_once_the_hold_has_expired(book):
    """A retried approval gets its original, as post_pending would, not PendingExpired or NotPending."""
    accounts_of(book)
    soon = utcnow() + timedelta(seconds=30)
    j = book.post([Transfer("source:hours", "member:0", 5)], kind="earn", pending=True, expires_at=soon)
    first = book.post_pending(j.id, key="once")
    assert book.resolve_many([Resolution(j.id, key="once")])[0].id == first.id


# -- races (PostgreSQL) ----------------------------------------------------------------------------
def _held(pg_engine, tenant, n: int) -> list[int]:
    ids: list[int] = []

    def build(book):
        accounts_of(book)
        ids.extend(holds(book, n))

    setup(pg_engine, tenant, build)
    return ids


def _resolutions(pg_engine, tenant) -> Counter:
    """How many resolutions each journal has: each must have at most one."""
    with Session(pg_engine) as s:
        got = s.execute(
            select(journals.c.resolves_id, func.count())
            .where(journals.c.tenant_id == tenant, journals.c.resolves_id.is_not(None))
            .group_by(journals.c.resolves_id)
        ).all()
    return Counter(dict(got))  # type: ignore[arg-type]


def _verified(pg_engine, tenant) -> list[str]:
    with Session(pg_engine) as s:
        return Ledger(s, tenant=tenant).verify()


@pytest.mark.postgres
def test_two_batches_of_the_same_review_over_overlapping_journals_resolve_each_once(pg_engine, tenant):
    """Two organisers' retried requests (same keys) at the same moment, both checked before either writes."""
    ids = _held(pg_engine, tenant, 20)
    parts = [ids[:14], ids[6:]]
    results = run_together(
        pg_engine,
        tenant,
        2,
        lambda book, w: book.resolve_many([Resolution(j, key=f"post:{j}") for j in parts[w]]),
        hold=("source:hours",),
    )
    assert all(isinstance(r, list) for r in results), results
    both = {j.resolves_id: j.id for j in results[0]}
    assert all(both[j.resolves_id] == j.id for j in results[1] if j.resolves_id in both)  # the winner's journals
    assert _resolutions(pg_engine, tenant) == Counter(dict.fromkeys(ids, 1))
    assert _verified(pg_engine, tenant) == []


@pytest.mark.postgres
def test_two_different_batches_over_overlapping_journals_one_wins_the_other_writes_nothing(pg_engine, tenant):
    """One organiser approves, another rejects, overlapping attendances: one batch goes through whole,
    the other is refused whole (NotPending naming a journal) — no journal is resolved twice."""
    ids = _held(pg_engine, tenant, 20)
    batches = [
        [Resolution(j, "post", key=f"post:{j}") for j in ids[:14]],
        [Resolution(j, "void", key=f"void:{j}") for j in ids[6:]],
    ]
    results = run_together(pg_engine, tenant, 2, lambda book, w: book.resolve_many(batches[w]), hold=("source:hours",))
    kinds = sorted(type(r).__name__ for r in results)
    assert kinds == ["NotPending", "list"], results
    loser = next(r for r in results if isinstance(r, Exception))
    assert "is no longer pending: it was" in str(loser)
    winner = next(w for w, r in enumerate(results) if isinstance(r, list))
    assert _resolutions(pg_engine, tenant) == Counter(dict.fromkeys((r.journal_id for r in batches[winner]), 1))
    assert _verified(pg_engine, tenant) == []


@pytest.mark.postgres
@pytest.mark.parametrize("same_key", [True, False])
def test_a_batch_against_a_concurrent_single_resolution(pg_engine, tenant, same_key):
    """A single post_pending of one of the batch's journals at the same moment: with the batch's key it
    is one resolution that both get; with another key one of the two is refused, never both written."""
    ids = _held(pg_engine, tenant, 10)

    def work(book, w):
        if w == 0:
            return book.resolve_many([Resolution(j, key=f"post:{j}") for j in ids])
        return book.post_pending(ids[4], key=f"post:{ids[4]}" if same_key else "single")

    results = run_together(pg_engine, tenant, 2, work, hold=("source:hours",))
    batch, single = results
    counts = _resolutions(pg_engine, tenant)
    assert all(n == 1 for n in counts.values())
    if same_key:
        assert isinstance(batch, list) and not isinstance(single, Exception), results
        assert batch[4].id == single.id
        assert counts == Counter(dict.fromkeys(ids, 1))
    else:
        assert sorted(type(r).__name__ for r in results) in (["Journal", "NotPending"], ["NotPending", "list"]), results
        assert set(counts) == (set(ids) if isinstance(batch, list) else {ids[4]})
    assert _verified(pg_engine, tenant) == []


@pytest.mark.postgres
def test_a_key_taken_by_a_concurrent_writer_mid_batch_refuses_the_batch_and_writes_none_of_it(pg_engine, tenant):
    """The narrowest race: the batch looked its keys up before the other writer committed one, so its
    insert finds the key taken; its rows are rolled back to the savepoint and the batch, looked at again,
    is refused for the conflict."""
    ids = _held(pg_engine, tenant, 6)

    def others(book):
        book.open_account("source:other", normal="debit")
        book.open_account("member:other", no_overdraft=True)

    setup(pg_engine, tenant, others)
    with Session(pg_engine) as first:
        before = read_rows(pg_engine, tenant)
        # Takes key "post:3" for another request, on accounts the batch does not lock; not committed yet.
        Ledger(first, tenant=tenant).post([Transfer("source:other", "member:other", 1)], kind="earn", key="post:3")
        outcome: list = []

        def batch():
            with Session(pg_engine) as s:
                try:
                    outcome.append(
                        Ledger(s, tenant=tenant).resolve_many(
                            [Resolution(j, key=f"post:{n}") for n, j in enumerate(ids)]
                        )
                    )
                    s.commit()
                except Exception as exc:  # noqa: BLE001 (asserted below)
                    outcome.append(exc)

        t = threading.Thread(target=batch)
        t.start()
        wait_for_lock_waiters(pg_engine, 1)  # the batch waits on the key's unique index entry
        first.commit()
        t.join(timeout=60)
    assert len(outcome) == 1 and isinstance(outcome[0], IdempotencyConflict), outcome
    assert "resolution 4: key 'post:3'" in str(outcome[0])
    after = read_rows(pg_engine, tenant)
    assert after == (before[0] + 1, before[1] + 1, before[2] + 2)  # only the other writer's journal
    assert _resolutions(pg_engine, tenant) == Counter()
    assert _verified(pg_engine, tenant) == []


def read_rows(pg_engine, tenant) -> tuple[int, int, int]:
    with Session(pg_engine) as s:
        return rows(Ledger(s, tenant=tenant))
