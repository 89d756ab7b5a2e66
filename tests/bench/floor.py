"""Ledger rows written with hand-written minimal SQL: the floor the ledger is compared with, and bulk setup.

Every row written here is a valid ledger row (same columns, same hash chain via ledger.chain), so
Ledger.verify() passes on a tenant built this way; only the checks and reads the ledger does are
left out.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import DateTime, LargeBinary, bindparam, text
from sqlalchemy.engine import Connection

from ledger.book import utcnow
from ledger.chain import GENESIS, entry_hash

# Typed binds, so SQLite stores datetimes exactly as the ledger's SQLAlchemy DateTime columns do.
_TS = DateTime()

INSERT_ACCOUNT = text(
    "INSERT INTO ledger_accounts (tenant_id, code, unit, normal, no_overdraft, closed, debits_posted, credits_posted,"
    " debits_pending, credits_pending, entry_count, head_hash, created_at)"
    " VALUES (:t, :code, :unit, :normal, :nod, false, 0, 0, 0, 0, 0, :h, :at)"
).bindparams(bindparam("at", type_=_TS), bindparam("h", type_=LargeBinary()))

INSERT_JOURNAL = text(
    "INSERT INTO ledger_journals (tenant_id, kind, key, memo, pending, request_hash, created_at)"
    " VALUES (:t, :kind, :key, :memo, false, :rh, :at) RETURNING id"
).bindparams(bindparam("at", type_=_TS), bindparam("rh", type_=LargeBinary()))

INSERT_TRANSFER_RETURNING = text(
    "INSERT INTO ledger_transfers (journal_id, debit_account_id, credit_account_id, unit, amount, phase)"
    " VALUES (:j, :d, :c, :unit, :amount, 'posted') RETURNING id"
)

INSERT_TRANSFER = text(
    "INSERT INTO ledger_transfers (id, journal_id, debit_account_id, credit_account_id, unit, amount, phase)"
    " VALUES (:id, :j, :d, :c, :unit, :amount, 'posted')"
)

INSERT_ENTRY = text(
    "INSERT INTO ledger_entries (account_id, seq, transfer_id, journal_id, posted_delta, pending_delta,"
    " balance_after, created_at, hash) VALUES (:a, :seq, :tr, :j, :pd, 0, :bal, :at, :h)"
).bindparams(bindparam("at", type_=_TS), bindparam("h", type_=LargeBinary()))

UPDATE_ACCOUNT = text(
    "UPDATE ledger_accounts SET debits_posted = :dp, credits_posted = :cp, debits_pending = :dq,"
    " credits_pending = :cq, entry_count = :n, head_hash = :h WHERE id = :id"
).bindparams(bindparam("h", type_=LargeBinary()))


class Acct:
    """The floor's own copy of an account row: it never reads the row back."""

    __slots__ = ("id", "normal", "dp", "cp", "dq", "cq", "count", "head")

    def __init__(self, id_: int, normal: str):
        self.id, self.normal = id_, normal
        self.dp = self.cp = self.dq = self.cq = self.count = 0
        self.head = GENESIS

    @property
    def posted(self) -> int:
        return self.cp - self.dp if self.normal == "credit" else self.dp - self.cp

    def row(self) -> dict:
        return dict(id=self.id, dp=self.dp, cp=self.cp, dq=self.dq, cq=self.cq, n=self.count, h=self.head)


def open_accounts(
    conn: Connection, tenant: int, specs: Iterable[tuple[str, str, bool]], unit: str = "PT"
) -> dict[str, Acct]:
    """Open accounts in bulk (code, normal side, no_overdraft): setup only, never timed."""
    specs = list(specs)
    now = utcnow()
    conn.execute(
        INSERT_ACCOUNT, [dict(t=tenant, code=c, unit=unit, normal=n, nod=nod, h=GENESIS, at=now) for c, n, nod in specs]
    )
    normal = {c: n for c, n, _ in specs}
    rows = conn.execute(text("SELECT id, code FROM ledger_accounts WHERE tenant_id = :t"), {"t": tenant})
    return {code: Acct(id_, normal[code]) for id_, code in rows if code in normal}


def _entries(journal_id: int, transfer_id: int, d: Acct, c: Acct, amount: int, unit: str, at: datetime) -> list[dict]:
    """The two entries of one posted transfer, advancing both accounts' totals and hash chains."""
    tr = dict(
        debit_account_id=d.id,
        credit_account_id=c.id,
        unit=unit,
        amount=amount,
        phase="posted",
        pending_transfer_id=None,
    )
    d.dp += amount
    c.cp += amount
    out = []
    for acct, is_debit in ((d, True), (c, False)):
        sign = 1 if (acct.normal == "debit") == is_debit else -1
        acct.count += 1
        e = dict(
            account_id=acct.id,
            seq=acct.count,
            transfer_id=transfer_id,
            journal_id=journal_id,
            posted_delta=sign * amount,
            pending_delta=0,
            balance_after=acct.posted,
            created_at=at,
        )
        acct.head = entry_hash(acct.head, e, tr)
        out.append(
            dict(
                a=acct.id,
                seq=e["seq"],
                tr=transfer_id,
                j=journal_id,
                pd=e["posted_delta"],
                bal=e["balance_after"],
                at=at,
                h=acct.head,
            )
        )
    return out


def post_one(
    conn: Connection, tenant: int, d: Acct, c: Acct, amount: int, kind: str, key: str, unit: str = "PT"
) -> None:
    """One journal of one transfer: the four statements it takes at least (the caller commits)."""
    at = utcnow()
    jid = conn.execute(
        INSERT_JOURNAL, dict(t=tenant, kind=kind, key=key, memo="", rh=_request_hash(key), at=at)
    ).scalar_one()
    tid = conn.execute(INSERT_TRANSFER_RETURNING, dict(j=jid, d=d.id, c=c.id, unit=unit, amount=amount)).scalar_one()
    conn.execute(INSERT_ENTRY, _entries(jid, tid, d, c, amount, unit, at))
    conn.execute(UPDATE_ACCOUNT, [d.row(), c.row()])


def reserve_ids(conn: Connection, table: str, n: int) -> list[int]:
    """n ids for `table`, so its rows can go in with a plain executemany (as the ledger does)."""
    if conn.dialect.name == "postgresql":
        return list(
            conn.execute(
                text(f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) FROM generate_series(1, :n)"), {"n": n}
            ).scalars()
        )
    # SQLite: the transaction holds the write lock (BEGIN IMMEDIATE), so max(id) cannot move.
    top = conn.execute(text(f"SELECT coalesce(max(id), 0) FROM {table}")).scalar_one()
    return list(range(top + 1, top + 1 + n))


def post_many(
    conn: Connection,
    tenant: int,
    pairs: list[tuple[Acct, Acct, int]],
    kind: str,
    key: str,
    memo: str = "",
    unit: str = "PT",
) -> None:
    """One journal of many transfers with executemany: journal, reserved ids, transfers, entries, balances."""
    at = utcnow()
    jid = conn.execute(
        INSERT_JOURNAL, dict(t=tenant, kind=kind, key=key, memo=memo, rh=_request_hash(key), at=at)
    ).scalar_one()
    ids = reserve_ids(conn, "ledger_transfers", len(pairs))
    conn.execute(
        INSERT_TRANSFER,
        [
            dict(id=tid, j=jid, d=d.id, c=c.id, unit=unit, amount=amount)
            for tid, (d, c, amount) in zip(ids, pairs, strict=True)
        ],
    )
    entry_rows: list[dict] = []
    for tid, (d, c, amount) in zip(ids, pairs, strict=False):
        entry_rows += _entries(jid, tid, d, c, amount, unit, at)
    conn.execute(INSERT_ENTRY, entry_rows)
    touched = {a.id: a for d, c, _ in pairs for a in (d, c)}
    conn.execute(UPDATE_ACCOUNT, [a.row() for a in touched.values()])


def _request_hash(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


# -- a long history, fast --------------------------------------------------------------------------
_HISTORY_COLUMNS = {
    "ledger_journals": ("id", "tenant_id", "kind", "key", "memo", "pending", "request_hash", "created_at"),
    "ledger_transfers": ("id", "journal_id", "debit_account_id", "credit_account_id", "unit", "amount", "phase"),
    "ledger_entries": (
        "account_id",
        "seq",
        "transfer_id",
        "journal_id",
        "posted_delta",
        "pending_delta",
        "balance_after",
        "created_at",
        "hash",
    ),
}


def build_history(conn: Connection, tenant: int, source: Acct, member: Acct, n: int, chunk: int = 50_000) -> None:
    """n one-transfer journals source -> member, written in bulk (COPY on PostgreSQL, executemany on SQLite).

    Both accounts must be new (no entries yet). Ids are taken as a block; nothing else may write
    the ledger tables meanwhile (the benchmark's database is its own).
    """
    assert source.count == 0 and member.count == 0, "build_history needs two accounts without history"
    pg = conn.dialect.name == "postgresql"
    # SQLite gets values as SQLAlchemy's SQLite types store them; psycopg adapts Python values itself.
    ts, false = (lambda d: d, False) if pg else (_sqlite_ts, 0)
    if pg:
        try:
            # Skip the foreign-key triggers for this load, as pg_restore does; the rows are consistent by
            # construction and Ledger.verify() checks them. Needs a superuser; without one, load with checks.
            with conn.begin_nested():
                conn.execute(text("SET LOCAL session_replication_role = replica"))
        except Exception:
            pass
    j0 = _id_block(conn, "ledger_journals", n)
    t0 = _id_block(conn, "ledger_transfers", n)
    start = utcnow().replace(microsecond=0) - timedelta(seconds=n + 60)
    for lo in range(0, n, chunk):
        js, trs, es = [], [], []
        for i in range(lo, min(n, lo + chunk)):
            jid, tid, amount = j0 + i, t0 + i, 1 + i % 7
            at = start + timedelta(seconds=i, microseconds=i % 1000 + 1)
            key = f"history:{member.id}:{i}"
            stored_at = ts(at)
            js.append((jid, tenant, "earn.hours", key, "", false, _request_hash(key), stored_at))
            trs.append((tid, jid, source.id, member.id, "PT", amount, "posted"))
            for e in _entries(jid, tid, source, member, amount, "PT", at):
                es.append((e["a"], e["seq"], tid, jid, e["pd"], 0, e["bal"], stored_at, e["h"]))
        _bulk_insert(conn, "ledger_journals", js)
        _bulk_insert(conn, "ledger_transfers", trs)
        _bulk_insert(conn, "ledger_entries", es)
    conn.execute(UPDATE_ACCOUNT, [source.row(), member.row()])


def _id_block(conn: Connection, table: str, n: int) -> int:
    """The first of n consecutive new ids for table."""
    if conn.dialect.name == "postgresql":
        seq = f"pg_get_serial_sequence('{table}', 'id')"
        first = conn.execute(text(f"SELECT nextval({seq})")).scalar_one()
        conn.execute(text(f"SELECT setval({seq}, :last)"), {"last": first + n - 1})
        return first
    return conn.execute(text(f"SELECT coalesce(max(id), 0) + 1 FROM {table}")).scalar_one()


def _bulk_insert(conn: Connection, table: str, rows: list[tuple]) -> None:
    cols = _HISTORY_COLUMNS[table]
    raw = conn.connection.driver_connection
    if conn.dialect.name == "postgresql":
        with raw.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy:
            for r in rows:
                copy.write_row(r)
        return
    cur = raw.cursor()
    try:
        cur.executemany(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})", rows)
    finally:
        cur.close()


def _sqlite_ts(v: datetime) -> str:
    """A datetime as SQLAlchemy's SQLite DateTime stores it."""
    return f"{v:%Y-%m-%d %H:%M:%S}.{v.microsecond:06d}"
