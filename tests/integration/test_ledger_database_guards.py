"""The database itself refuses bad ledger rows: raw SQL that bypasses the API hits CHECKs, keys and triggers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace

import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from ledger import Ledger, Transfer
from ledger.schema import accounts, entries, journals, transfers

SRC = "source:hours:c1"
ALICE = "member:42"
OUTLET = "outlet:7"
FUND = "fund:safety"
GRANT = "grant:district"
SPARE = "member:43"  # opened, never used
GONE = "member:44"  # closed at zero


@pytest.fixture
def w(book: Ledger, session) -> SimpleNamespace:
    """Valid rows made through the API, which the raw SQL below copies with one thing changed."""
    for code, kw in (
        (SRC, dict(normal="debit")),
        (ALICE, dict(no_overdraft=True)),
        (OUTLET, {}),
        (FUND, dict(unit="CNY", no_overdraft=True)),
        (GRANT, dict(unit="CNY", normal="debit")),
        (SPARE, {}),
        (GONE, {}),
    ):
        book.open_account(code, **kw)
    book.close_account(GONE)
    earned = book.post([Transfer(SRC, ALICE, 30)], kind="earn.hours", key="attendance:1")
    spent = book.post([Transfer(ALICE, OUTLET, 10)], kind="redeem")
    refund = book.reverse(spent.id)
    resolved = book.post([Transfer(SRC, ALICE, 5)], kind="earn.hours", pending=True)
    approval = book.post_pending(resolved.id)
    waiting = book.post([Transfer(SRC, ALICE, 7)], kind="earn.hours", pending=True)
    conn = session.connection()
    ids = {code: book.account(code).id for code in (SRC, ALICE, OUTLET, FUND, GRANT, SPARE, GONE)}

    def first_transfer(j):
        stmt = select(transfers.c.id).where(transfers.c.journal_id == j.id).order_by(transfers.c.id)
        return conn.execute(stmt).scalars().first()

    assert book.verify() == []
    return SimpleNamespace(
        ids=ids,
        earned=earned,
        spent=spent,
        refund=refund,
        resolved=resolved,
        approval=approval,
        waiting=waiting,
        t_earned=first_transfer(earned),
        t_resolved=first_transfer(resolved),
        t_approval=first_transfer(approval),
        t_waiting=first_transfer(waiting),
    )


def clone(conn: Connection, table, where: dict, **changes) -> None:
    """INSERT a copy of one existing row, with `changes` as the only differences (the primary id is new)."""
    cols = [c.name for c in table.columns if c.name != "id"]
    target = ", ".join(f'"{c}"' for c in cols)
    chosen = ", ".join(f":new_{c}" if c in changes else f'"{c}"' for c in cols)
    cond = " AND ".join(f'"{c}" = :old_{c}' for c in where)
    params = {f"new_{c}": v for c, v in changes.items()} | {f"old_{c}": v for c, v in where.items()}
    conn.execute(text(f"INSERT INTO {table.name} ({target}) SELECT {chosen} FROM {table.name} WHERE {cond}"), params)


@dataclass
class Guard:
    """`run(conn, w, ok)` issues the statement; with ok=True the one thing under test is made valid."""

    run: Callable[[Connection, SimpleNamespace, bool], None]
    fragment: str | dict  # in the database's message; a dict gives one per dialect
    has_control: bool = True


def transfer_copy(**bad_or_good):
    """A copy of the earn transfer; `field=(bad, good)` pairs say what differs."""

    def run(conn, w, ok):
        changes = {k: (good if ok else bad)(w) for k, (bad, good) in bad_or_good.items()}
        clone(conn, transfers, {"id": w.t_earned}, **changes)

    return run


def journal_copy(source: str, **bad_or_good):
    def run(conn, w, ok):
        changes = {k: (good if ok else bad)(w) for k, (bad, good) in bad_or_good.items()}
        clone(conn, journals, {"id": getattr(w, source).id}, **changes)

    return run


def const(v):
    return lambda w: v


acct = lambda code: lambda w: w.ids[code]  # noqa: E731
UNIQUE = {"sqlite": "UNIQUE constraint failed", "postgresql": "duplicate key value violates unique constraint"}


def unique(sqlite_cols: str, pg_index: str) -> dict:
    return {"sqlite": f"UNIQUE constraint failed: {sqlite_cols}", "postgresql": f'unique constraint "{pg_index}"'}


FK = {"sqlite": "FOREIGN KEY constraint failed", "postgresql": "violates foreign key constraint"}


def append_only(table: str, action: str) -> Guard:
    where = "account_id = :a AND seq = 1" if table == "ledger_entries" else "id = :id"
    change = (
        "UPDATE {t} SET {col} = {col} {op} WHERE {where}" if action == "UPDATE" else "DELETE FROM {t} WHERE {where}"
    )
    col, op = {
        "ledger_journals": ("memo", "|| 'x'"),
        "ledger_transfers": ("amount", "+ 1"),
        "ledger_entries": ("balance_after", "+ 1"),
    }[table]
    statement = change.format(t=table, col=col, op=op, where=where)

    def run(conn, w, ok):
        params = (
            {"a": w.ids[ALICE]}
            if table == "ledger_entries"
            else {"id": w.earned.id if table == "ledger_journals" else w.t_earned}
        )
        conn.execute(text(statement), params)

    return Guard(run, f"{table} is append-only: {action} refused", has_control=False)


def account_update(assignment: str, code: str, fragment: str, control: str | None = None) -> Guard:
    def run(conn, w, ok):
        conn.execute(
            text(f"UPDATE ledger_accounts SET {control if ok else assignment} WHERE id = :id"), {"id": w.ids[code]}
        )

    return Guard(run, fragment, has_control=control is not None)


GUARDS = [
    pytest.param(
        Guard(transfer_copy(amount=(const(0), const(5))), "ck_ledger_transfers_amount_positive"), id="transfer amount 0"
    ),
    pytest.param(
        Guard(transfer_copy(amount=(const(-5), const(5))), "ck_ledger_transfers_amount_positive"),
        id="transfer amount negative",
    ),
    pytest.param(
        Guard(transfer_copy(credit_account_id=(acct(SRC), acct(ALICE))), "ck_ledger_transfers_two_accounts"),
        id="transfer same account both sides",
    ),
    pytest.param(
        Guard(transfer_copy(credit_account_id=(acct(FUND), acct(OUTLET))), FK),
        id="transfer into an account of another unit",
    ),
    pytest.param(
        Guard(
            transfer_copy(
                unit=(const("CNY"), const("CNY")),
                credit_account_id=(acct(FUND), acct(FUND)),
                debit_account_id=(acct(SRC), acct(GRANT)),
            ),
            FK,
        ),
        id="transfer out of an account of another unit",
    ),
    pytest.param(
        Guard(transfer_copy(phase=(const("gift"), const("posted"))), "ck_ledger_transfers_phase_kind"),
        id="transfer unknown phase",
    ),
    pytest.param(
        Guard(transfer_copy(phase=(const("post"), const("posted"))), "ck_ledger_transfers_resolution_names_transfer"),
        id="transfer posts no pending transfer",
    ),
    pytest.param(
        Guard(
            lambda conn, w, ok: clone(
                conn, transfers, {"id": w.t_earned}, phase="pending", pending_transfer_id=w.t_waiting
            ),
            "ck_ledger_transfers_resolution_names_transfer",
            has_control=False,
        ),
        id="pending transfer that names a pending transfer",
    ),
    pytest.param(
        Guard(
            lambda conn, w, ok: clone(
                conn, accounts, {"id": w.ids[SPARE]}, code="member:98", normal="credit" if ok else "side"
            ),
            "ck_ledger_accounts_normal_side",
        ),
        id="account of an unknown normal side",
    ),
    pytest.param(
        Guard(
            journal_copy(
                "approval",
                resolves_id=(lambda w: w.waiting.id, lambda w: w.waiting.id),
                resolution=(const("redo"), const("void")),
            ),
            "ck_ledger_journals_resolution_kind",
        ),
        id="unknown resolution",
    ),
    pytest.param(
        Guard(transfer_copy(journal_id=(const(10**12), lambda w: w.earned.id)), FK), id="transfer of no journal"
    ),
    pytest.param(append_only("ledger_journals", "UPDATE"), id="update journal"),
    pytest.param(append_only("ledger_journals", "DELETE"), id="delete journal"),
    pytest.param(append_only("ledger_transfers", "UPDATE"), id="update transfer"),
    pytest.param(append_only("ledger_transfers", "DELETE"), id="delete transfer"),
    pytest.param(append_only("ledger_entries", "UPDATE"), id="update entry"),
    pytest.param(append_only("ledger_entries", "DELETE"), id="delete entry"),
    pytest.param(
        Guard(
            lambda conn, w, ok: conn.execute(text("DELETE FROM ledger_accounts WHERE id = :id"), {"id": w.ids[SPARE]}),
            "DELETE refused",
            has_control=False,
        ),
        id="delete unused account",
    ),
    pytest.param(
        Guard(
            lambda conn, w, ok: conn.execute(text("DELETE FROM ledger_accounts WHERE id = :id"), {"id": w.ids[ALICE]}),
            "DELETE refused",
            has_control=False,
        ),
        id="delete account with history",
    ),
    pytest.param(
        account_update(
            "debits_posted = credits_posted + 1",
            ALICE,
            "ck_ledger_accounts_no_overdraft",
            control="debits_posted = credits_posted",
        ),
        id="account overdrawn",
    ),
    pytest.param(
        account_update(
            "debits_pending = credits_posted - debits_posted + 1",
            ALICE,
            "ck_ledger_accounts_no_overdraft",
            control="debits_pending = credits_posted - debits_posted",
        ),
        id="account over-committed by holds",
    ),
    pytest.param(
        account_update(
            "credits_pending = -1", OUTLET, "ck_ledger_accounts_totals_not_negative", control="credits_pending = 0"
        ),
        id="account negative total",
    ),
    *[
        pytest.param(
            account_update(
                f"{col} = -1, debits_posted = debits_posted + 1" if col == "credits_posted" else f"{col} = -1",
                SPARE,
                "ck_ledger_accounts_totals_not_negative",
                control=f"{col} = 0",
            ),
            id=f"account negative {col}",
        )
        for col in ("debits_posted", "credits_posted", "debits_pending")
    ],
    pytest.param(
        account_update("closed = TRUE", ALICE, "ck_ledger_accounts_closed_at_zero", control="closed = FALSE"),
        id="close account holding points",
    ),
    pytest.param(account_update("code = 'member:99'", SPARE, "are fixed", control="code = code"), id="rename account"),
    pytest.param(account_update("unit = 'CNY'", SPARE, "are fixed", control="unit = unit"), id="change account unit"),
    pytest.param(
        account_update("normal = 'debit'", SPARE, "are fixed", control="normal = normal"),
        id="change account normal side",
    ),
    pytest.param(
        account_update("no_overdraft = TRUE", SPARE, "are fixed", control="no_overdraft = no_overdraft"),
        id="change account no_overdraft",
    ),
    pytest.param(
        account_update("closed = FALSE", GONE, "closed account stays closed", control="closed = TRUE"),
        id="reopen closed account",
    ),
    pytest.param(
        Guard(
            journal_copy("refund", reverses_id=(lambda w: w.spent.id, lambda w: w.earned.id)),
            unique("ledger_journals.reverses_id", "uq_ledger_journals_reverses_id"),
        ),
        id="second reversal of a journal",
    ),
    pytest.param(
        Guard(
            journal_copy("approval", resolves_id=(lambda w: w.resolved.id, lambda w: w.waiting.id)),
            unique("ledger_journals.resolves_id", "uq_ledger_journals_resolves_id"),
        ),
        id="second resolution of a pending journal",
    ),
    pytest.param(
        Guard(
            lambda conn, w, ok: clone(
                conn, transfers, {"id": w.t_approval}, pending_transfer_id=w.t_waiting if ok else w.t_resolved
            ),
            unique("ledger_transfers.pending_transfer_id", "uq_ledger_transfers_pending_transfer_id"),
        ),
        id="second resolution of a pending transfer",
    ),
    pytest.param(
        Guard(
            journal_copy("earned", key=(const("attendance:1"), const("attendance:2"))),
            unique("ledger_journals.tenant_id, ledger_journals.key", "uq_ledger_journals_tenant_id_key"),
        ),
        id="reused idempotency key",
    ),
    pytest.param(
        Guard(
            journal_copy(
                "earned",
                key=(const("attendance:2"), const("attendance:2")),
                pending=(const(True), const(True)),
                reverses_id=(lambda w: w.earned.id, const(None)),
            ),
            "ck_ledger_journals_pending_is_new",
        ),
        id="pending journal that reverses",
    ),
    pytest.param(
        Guard(
            journal_copy("earned", key=(const("x:1"), const("x:1")), resolution=(const("post"), const(None))),
            "ck_ledger_journals_resolution_names_journal",
        ),
        id="resolution naming no journal",
    ),
    pytest.param(
        Guard(
            lambda conn, w, ok: clone(conn, entries, {"account_id": w.ids[ALICE], "seq": 1}, seq=99 if ok else 1),
            UNIQUE,
        ),
        id="entry reuses a sequence number",
    ),
    pytest.param(
        Guard(
            lambda conn, w, ok: clone(conn, entries, {"account_id": w.ids[ALICE], "seq": 1}, seq=99 if ok else 0),
            "ck_ledger_entries_seq_positive",
        ),
        id="entry sequence number 0",
    ),
]


@pytest.mark.parametrize("guard", GUARDS)
def test_database_refuses(book, session, w, guard: Guard):
    conn = session.connection()
    dialect = conn.dialect.name
    posted = book.balance(ALICE).posted
    before = [tuple(r) for r in conn.execute(select(accounts).where(accounts.c.tenant_id == book.tenant))]
    if guard.has_control:
        # The same statement with the one thing under test made valid is accepted: the guard is what refuses.
        control = session.begin_nested()
        guard.run(session.connection(), w, True)  # session.connection() is what emits the SAVEPOINT
        control.rollback()
    with pytest.raises(DBAPIError) as refused:
        with session.begin_nested():  # a savepoint, so PostgreSQL's transaction survives the error
            guard.run(session.connection(), w, False)
    fragment = guard.fragment[dialect] if isinstance(guard.fragment, dict) else guard.fragment
    assert fragment in str(refused.value.orig)
    # The transaction is still usable and nothing changed.
    assert [tuple(r) for r in conn.execute(select(accounts).where(accounts.c.tenant_id == book.tenant))] == before
    assert book.verify() == []
    book.post([Transfer(SRC, ALICE, 1)], kind="earn.hours")
    assert book.balance(ALICE).posted == posted + 1
