"""Every typed ledger error, table-driven: the right class, a message naming what to fix, and nothing written."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

import ledger
from ledger import (
    AccountClosed,
    AccountConflict,
    AccountNotEmpty,
    AlreadyReversed,
    IdempotencyConflict,
    InsufficientBalance,
    InvalidTransfer,
    Ledger,
    LedgerError,
    NotPending,
    PendingExpired,
    Transfer,
    UnitMismatch,
    UnknownAccount,
    UnknownJournal,
)
from ledger.schema import accounts, entries, journals, transfers

HOURS = "source:hours:c1"
ALICE = "member:42"  # 30 posted, 10 held for the outlet, 40 of hours awaiting approval
BOB = "member:43"  # earned 10 and spent it all
GONE = "member:44"  # closed at zero
WAITING = "member:45"  # nothing posted, 5 awaiting approval
OUTLET = "outlet:7"
GRANT = "grant:district"
FUND = "fund:safety"  # 1000 fen, 700 of it held for a payout
PAYEE = "payable:member:42"
NOBODY = "member:999"
FOREIGN = "member:77"  # open in another district only
NO_SUCH_JOURNAL = 10**12


@pytest.fixture
def world(book: Ledger, session, tenant) -> SimpleNamespace:
    """One district with a little of every kind of history the error cases act on."""
    book.open_account(HOURS, normal="debit")
    for member in (ALICE, BOB, GONE, WAITING):
        book.open_account(member, no_overdraft=True)
    book.open_account(OUTLET)
    book.open_account(GRANT, unit="CNY", normal="debit")
    book.open_account(FUND, unit="CNY", no_overdraft=True)
    book.open_account(PAYEE, unit="CNY")

    w = SimpleNamespace()
    w.earned = book.post([Transfer(HOURS, ALICE, 50)], kind="earn.hours", key="attendance:1")
    w.spent = book.post([Transfer(ALICE, OUTLET, 20)], kind="redeem", key="redeem:1")
    w.refunded = book.post([Transfer(ALICE, OUTLET, 5)], kind="redeem")
    w.refund = book.reverse(w.refunded.id)
    w.hold = book.post([Transfer(ALICE, OUTLET, 10)], kind="redeem", pending=True)
    w.pending = book.post([Transfer(HOURS, ALICE, 40)], kind="earn.hours", pending=True)
    w.pending_two = book.post([Transfer(HOURS, ALICE, 3), Transfer(HOURS, WAITING, 5)], kind="earn.hours", pending=True)
    w.voided = book.post([Transfer(HOURS, ALICE, 6)], kind="earn.hours", pending=True)
    w.void = book.void_pending(w.voided.id)
    w.approved = book.post([Transfer(HOURS, ALICE, 8)], kind="earn.hours", pending=True)
    w.approval = book.post_pending(w.approved.id)
    w.spent_more = book.post([Transfer(ALICE, OUTLET, 8)], kind="redeem")  # back to 30 posted
    w.expired = book.post(
        [Transfer(HOURS, ALICE, 9)],
        kind="earn.hours",
        pending=True,
        expires_at=datetime.now(UTC) - timedelta(hours=1),
    )
    w.bob_earned = book.post([Transfer(HOURS, BOB, 10)], kind="earn.hours")
    book.post([Transfer(BOB, OUTLET, 10)], kind="redeem")
    w.gone_earned = book.post([Transfer(HOURS, GONE, 4)], kind="earn.hours")
    book.post([Transfer(GONE, OUTLET, 4)], kind="redeem")
    book.close_account(GONE)
    book.post([Transfer(GRANT, FUND, 1000)], kind="fund.grant")
    w.payout = book.post([Transfer(FUND, PAYEE, 700)], kind="payout", pending=True)

    other = Ledger(session, tenant=-tenant)  # a different district in the same database
    other.open_account(HOURS, normal="debit")
    other.open_account(FOREIGN)
    w.foreign = other.post([Transfer(HOURS, FOREIGN, 5)], kind="earn.hours", pending=True)

    assert book.balance(ALICE) == ledger.Balance(posted=30, pending_in=3 + 40 + 9, pending_out=10, available=20)
    assert book.balance(FUND).available == 300
    assert book.verify() == []
    return w


def snapshot(book: Ledger, session) -> dict:
    """Everything the district has written: account rows (balances, chain heads), row counts, trial balance."""
    conn = session.connection()
    mine = select(accounts.c.id).where(accounts.c.tenant_id == book.tenant)
    its_journals = select(journals.c.id).where(journals.c.tenant_id == book.tenant)
    count = lambda table, where: conn.execute(select(func.count()).select_from(table).where(where)).scalar_one()  # noqa: E731
    return {
        "accounts": [
            tuple(r)
            for r in conn.execute(select(accounts).where(accounts.c.tenant_id == book.tenant).order_by(accounts.c.id))
        ],
        "journals": count(journals, journals.c.tenant_id == book.tenant),
        "transfers": count(transfers, transfers.c.journal_id.in_(its_journals)),
        "entries": count(entries, entries.c.account_id.in_(mine)),
        "trial_balance": book.trial_balance(),
    }


def post(*legs, **kw):
    """An action posting the given (debit, credit, amount) legs."""
    kw.setdefault("kind", "redeem")
    return lambda book, w: book.post([Transfer(*leg) for leg in legs], **kw)


def case(error, names, action, id):
    """names: text the message must contain, or a function of the world giving it."""
    return pytest.param(error, names, action, id=id)


jid = lambda attr: lambda w: f"journal {getattr(w, attr).id}"  # noqa: E731

CASES = [
    # InsufficientBalance
    case(InsufficientBalance, ALICE, post((ALICE, OUTLET, 21)), "redeem more than available"),
    case(InsufficientBalance, ALICE, post((ALICE, OUTLET, 21), pending=True), "hold more than available"),
    case(
        InsufficientBalance,
        ALICE,
        post((ALICE, OUTLET, 15), (ALICE, OUTLET, 15)),
        "second transfer of a journal overdraws, first is not kept",
    ),
    case(InsufficientBalance, WAITING, post((WAITING, OUTLET, 1)), "pending incoming points are not spendable"),
    case(
        InsufficientBalance,
        FUND,
        post((FUND, PAYEE, 301), kind="payout", pending=True),
        "second payout over-commits the fund",
    ),
    case(InsufficientBalance, BOB, lambda book, w: book.reverse(w.bob_earned.id), "reverse points already spent"),
    # UnknownAccount
    case(UnknownAccount, NOBODY, post((HOURS, NOBODY, 5), kind="earn.hours"), "post to unknown account"),
    case(UnknownAccount, NOBODY, post((NOBODY, OUTLET, 5)), "post from unknown account"),
    case(UnknownAccount, FOREIGN, post((HOURS, FOREIGN, 5), kind="earn.hours"), "account of another district"),
    case(UnknownAccount, NOBODY, lambda book, w: book.balance(NOBODY), "balance of unknown account"),
    case(UnknownAccount, NOBODY, lambda book, w: book.account(NOBODY), "look up unknown account"),
    case(UnknownAccount, NOBODY, lambda book, w: book.close_account(NOBODY), "close unknown account"),
    case(UnknownAccount, NOBODY, lambda book, w: book.statement(NOBODY), "statement of unknown account"),
    case(
        UnknownAccount,
        NOBODY,
        lambda book, w: book.balance_at(NOBODY, datetime.now(UTC)),
        "balance_at of unknown account",
    ),
    # UnitMismatch
    case(UnitMismatch, GRANT, post((GRANT, ALICE, 5), kind="earn.hours"), "fen into a points wallet"),
    case(UnitMismatch, PAYEE, post((ALICE, OUTLET, 1), (ALICE, PAYEE, 1)), "second transfer crosses units"),
    # AccountClosed
    case(AccountClosed, GONE, post((HOURS, GONE, 5), kind="earn.hours"), "post to closed account"),
    case(AccountClosed, GONE, post((GONE, OUTLET, 1)), "post from closed account"),
    case(AccountClosed, GONE, post((HOURS, GONE, 5), kind="earn.hours", pending=True), "hold on closed account"),
    case(AccountClosed, GONE, lambda book, w: book.reverse(w.gone_earned.id), "reverse into closed account"),
    # AccountConflict
    case(
        AccountConflict,
        ALICE,
        lambda book, w: book.open_account(ALICE, unit="CNY", no_overdraft=True),
        "reopen with another unit",
    ),
    case(
        AccountConflict,
        ALICE,
        lambda book, w: book.open_account(ALICE, normal="debit", no_overdraft=True),
        "reopen with another normal side",
    ),
    case(
        AccountConflict,
        ALICE,
        lambda book, w: book.open_account(ALICE, no_overdraft=False),
        "reopen without no_overdraft",
    ),
    # AccountNotEmpty
    case(AccountNotEmpty, ALICE, lambda book, w: book.close_account(ALICE), "close wallet holding points"),
    case(AccountNotEmpty, WAITING, lambda book, w: book.close_account(WAITING), "close wallet with points pending"),
    case(AccountNotEmpty, HOURS, lambda book, w: book.close_account(HOURS), "close source that issued points"),
    # IdempotencyConflict
    case(
        IdempotencyConflict,
        "attendance:1",
        post((HOURS, ALICE, 51), kind="earn.hours", key="attendance:1"),
        "same key other amount",
    ),
    case(
        IdempotencyConflict,
        "attendance:1",
        post((HOURS, BOB, 50), kind="earn.hours", key="attendance:1"),
        "same key other account",
    ),
    case(
        IdempotencyConflict,
        "redeem:1",
        post((ALICE, OUTLET, 20), key="redeem:1", memo="changed"),
        "same key other memo",
    ),
    case(
        IdempotencyConflict,
        "redeem:1",
        lambda book, w: book.reverse(w.earned.id, key="redeem:1"),
        "same key for a reversal",
    ),
    case(
        IdempotencyConflict,
        "redeem:1",
        lambda book, w: book.post_pending(w.pending.id, key="redeem:1"),
        "same key for an approval",
    ),
    # AlreadyReversed
    case(AlreadyReversed, jid("refunded"), lambda book, w: book.reverse(w.refunded.id), "reverse twice"),
    case(
        AlreadyReversed,
        jid("refunded"),
        lambda book, w: book.reverse(w.refunded.id, key="refund:again"),
        "reverse twice with a new key",
    ),
    # NotPending
    case(NotPending, jid("voided"), lambda book, w: book.void_pending(w.voided.id), "void twice"),
    case(NotPending, jid("voided"), lambda book, w: book.post_pending(w.voided.id), "post after void"),
    case(NotPending, jid("approved"), lambda book, w: book.post_pending(w.approved.id), "post twice"),
    case(NotPending, jid("approved"), lambda book, w: book.void_pending(w.approved.id), "void after post"),
    case(NotPending, jid("earned"), lambda book, w: book.post_pending(w.earned.id), "post a non-pending journal"),
    case(NotPending, jid("earned"), lambda book, w: book.void_pending(w.earned.id), "void a non-pending journal"),
    case(NotPending, jid("void"), lambda book, w: book.post_pending(w.void.id), "post the journal that voided"),
    case(NotPending, jid("pending"), lambda book, w: book.reverse(w.pending.id), "reverse a pending journal"),
    # PendingExpired
    case(PendingExpired, jid("expired"), lambda book, w: book.post_pending(w.expired.id), "post after expiry"),
    case(
        PendingExpired,
        jid("expired"),
        lambda book, w: book.post_pending(w.expired.id, amount=4),
        "partly post after expiry",
    ),
    # InvalidTransfer
    case(InvalidTransfer, "amount", post((ALICE, OUTLET, 0)), "amount 0"),
    case(InvalidTransfer, "amount", post((ALICE, OUTLET, -5)), "negative amount"),
    case(InvalidTransfer, "amount", post((ALICE, OUTLET, 1.5)), "fractional amount"),
    case(InvalidTransfer, "amount", post((ALICE, OUTLET, True)), "boolean amount"),
    case(InvalidTransfer, "amount", post((ALICE, OUTLET, "5")), "amount as text"),
    case(InvalidTransfer, "amount", post((HOURS, ALICE, 2**63), kind="earn.hours"), "amount beyond a 64-bit integer"),
    case(InvalidTransfer, "transfer 2", post((ALICE, OUTLET, 1), (ALICE, OUTLET, 0)), "second transfer amount 0"),
    case(InvalidTransfer, ALICE, post((ALICE, ALICE, 5)), "same account both sides"),
    case(InvalidTransfer, "at least one transfer", post(), "empty journal"),
    case(
        InvalidTransfer,
        "Transfer",
        lambda book, w: book.post([(ALICE, OUTLET, 5)], kind="redeem"),
        "tuple instead of Transfer",
    ),
    case(
        InvalidTransfer,
        "one-transfer",
        lambda book, w: book.post_pending(w.pending_two.id, amount=2),
        "partial amount on a multi-transfer journal",
    ),
    case(
        InvalidTransfer,
        "40",
        lambda book, w: book.post_pending(w.pending.id, amount=41),
        "partial amount larger than pending",
    ),
    case(InvalidTransfer, "amount", lambda book, w: book.post_pending(w.pending.id, amount=0), "partial amount 0"),
    case(
        InvalidTransfer,
        "amount",
        lambda book, w: book.post_pending(w.pending.id, amount=1.5),
        "partial amount fractional",
    ),
    case(
        InvalidTransfer,
        "amount",
        lambda book, w: book.post_pending(w.pending.id, amount=True),
        "partial amount boolean",
    ),
    case(InvalidTransfer, "kind", post((ALICE, OUTLET, 5), kind=""), "empty kind"),
    case(InvalidTransfer, "kind", post((ALICE, OUTLET, 5), kind="k" * 65), "kind too long"),
    case(InvalidTransfer, "key", post((ALICE, OUTLET, 5), key=""), "empty key"),
    case(InvalidTransfer, "key", post((ALICE, OUTLET, 5), key="k" * 201), "key too long"),
    case(InvalidTransfer, "key", post((ALICE, OUTLET, 5), key=42), "key not a string"),
    case(InvalidTransfer, "key", lambda book, w: book.void_pending(w.pending.id, key=""), "empty key on void"),
    case(
        InvalidTransfer,
        "expires_at",
        post((ALICE, OUTLET, 5), expires_at=datetime.now(UTC)),
        "expiry on a posted journal",
    ),
    case(InvalidTransfer, jid("void"), lambda book, w: book.reverse(w.void.id), "reverse a void"),
    case(InvalidTransfer, "unit", lambda book, w: book.open_account("member:46", unit="pt"), "lower-case unit"),
    case(
        InvalidTransfer, "normal", lambda book, w: book.open_account("member:46", normal="left"), "unknown normal side"
    ),
    case(InvalidTransfer, "code", lambda book, w: book.open_account("  "), "blank account code"),
    case(InvalidTransfer, "limit", lambda book, w: book.statement(ALICE, limit=0), "statement limit 0"),
    case(InvalidTransfer, "limit", lambda book, w: book.statement(ALICE, limit=1001), "statement limit too big"),
    # UnknownJournal
    case(UnknownJournal, str(NO_SUCH_JOURNAL), lambda book, w: book.post_pending(NO_SUCH_JOURNAL), "post unknown"),
    case(UnknownJournal, str(NO_SUCH_JOURNAL), lambda book, w: book.void_pending(NO_SUCH_JOURNAL), "void unknown"),
    case(UnknownJournal, str(NO_SUCH_JOURNAL), lambda book, w: book.reverse(NO_SUCH_JOURNAL), "reverse unknown"),
    case(UnknownJournal, str(NO_SUCH_JOURNAL), lambda book, w: book.journal(NO_SUCH_JOURNAL), "look up unknown"),
    case(
        UnknownJournal,
        str(NO_SUCH_JOURNAL),
        lambda book, w: book.journal_transfers(NO_SUCH_JOURNAL),
        "transfers of unknown",
    ),
    case(
        UnknownJournal,
        lambda w: str(w.foreign.id),
        lambda book, w: book.post_pending(w.foreign.id),
        "post another district's journal",
    ),
    case(
        UnknownJournal,
        lambda w: str(w.foreign.id),
        lambda book, w: book.reverse(w.foreign.id),
        "reverse another district's journal",
    ),
]


@pytest.mark.parametrize("error, names, action", CASES)
def test_error_names_the_problem_and_writes_nothing(book, session, world, error, names, action):
    before = snapshot(book, session)
    with pytest.raises(LedgerError) as raised:
        action(book, world)
    assert type(raised.value) is error
    message = str(raised.value)
    assert message.strip()
    expected = names(world) if callable(names) else names
    assert expected in message
    assert snapshot(book, session) == before
    assert book.verify() == []


def test_every_error_class_has_a_case():
    covered = {p.values[0] for p in CASES}
    exported = {getattr(ledger, name) for name in ledger.__all__}
    errors = {
        cls for cls in exported if isinstance(cls, type) and issubclass(cls, LedgerError) and cls is not LedgerError
    }
    assert errors == covered


def test_error_codes_are_distinct():
    # The web layer maps errors to answers by `code`, so two errors must never share one.
    errors = [getattr(ledger, name) for name in ledger.__all__]
    codes = [cls.code for cls in errors if isinstance(cls, type) and issubclass(cls, LedgerError)]
    assert len(codes) == len(set(codes))
