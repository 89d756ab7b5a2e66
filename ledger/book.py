"""The Ledger: opens accounts and posts balanced journals inside the caller's transaction.

It never commits. Every write locks the accounts it touches (in code order, so two journals over
the same accounts cannot deadlock), checks the request, then appends rows and updates the cached
balances on the account rows. Nothing is written before every check has passed, so a LedgerError
leaves the caller's transaction as it was.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, exists, func, insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from . import errors
from .chain import GENESIS, entry_hash
from .schema import accounts, entries, journals, transfers
from .types import Account, Balance, Journal, Page, StatementLine, Transfer

_UNIT = re.compile(r"^[A-Z]{2,8}$")
_CHUNK = 2000  # bind parameters per IN (...) list; well under SQLite's limit
MAX_CODE = 200
# 10^15 fen is ten trillion yuan: far beyond any real posting, and far inside a 64-bit column even
# summed over millions of postings.
MAX_AMOUNT = 10**15
MAX_TOTAL = 2**62
MAX_KEY = 200


# Hot-path statements, built once: SQLAlchemy then only binds values (building a statement per call
# costs more than the SQLite round trip it sends).
_ACCOUNTS_BY_CODE = (
    select(accounts)
    .where(accounts.c.tenant_id == bindparam("tenant"), accounts.c.code.in_(bindparam("codes", expanding=True)))
    .order_by(accounts.c.code)
)
_ACCOUNTS_BY_CODE_LOCKED = _ACCOUNTS_BY_CODE.with_for_update()
_KEY_USED = select(journals.c.id, journals.c.request_hash).where(
    journals.c.tenant_id == bindparam("tenant"), journals.c.key == bindparam("key")
)
_INSERT_JOURNAL = insert(journals).returning(journals.c.id)
# PostgreSQL: a lost race on a unique index (key, resolution, reversal) returns no row instead of
# aborting the transaction, so no savepoint is needed around it.
_INSERT_JOURNAL_PG = pg_insert(journals).on_conflict_do_nothing().returning(journals.c.id)
_NEXT_TRANSFER_IDS_PG = text(
    "SELECT nextval(pg_get_serial_sequence('ledger_transfers', 'id')) FROM generate_series(1, :n)"
)
_MAX_TRANSFER_ID = select(func.coalesce(func.max(transfers.c.id), 0))
# Plain executemany: psycopg sends one prepared statement for all rows, sqlite3 loops in C.
_INSERT_TRANSFERS = insert(transfers)
_INSERT_ENTRIES = insert(entries)
_UPDATE_ACCOUNT = (
    update(accounts)
    .where(accounts.c.id == bindparam("a_id"))
    .values(
        debits_posted=bindparam("dp"),
        credits_posted=bindparam("cp"),
        debits_pending=bindparam("dq"),
        credits_pending=bindparam("cq"),
        entry_count=bindparam("n"),
        head_hash=bindparam("h"),
    )
)


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _naive_utc(when: datetime | None) -> datetime | None:
    if when is None:
        return None
    if when.tzinfo is not None:
        when = when.astimezone(UTC).replace(tzinfo=None)
    return when


def _digest(payload: dict[str, Any]) -> bytes:
    raw = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str, ensure_ascii=False)
    return hashlib.sha256(raw.encode()).digest()


class _Acct:
    """A locked account row and the balances it will have once this journal is applied."""

    __slots__ = ("id", "code", "unit", "normal", "no_overdraft", "closed", "dp", "cp", "dq", "cq", "count", "head")

    def __init__(self, row):
        self.id = row.id
        self.code = row.code
        self.unit = row.unit
        self.normal = row.normal
        self.no_overdraft = row.no_overdraft
        self.closed = row.closed
        self.dp, self.cp = row.debits_posted, row.credits_posted
        self.dq, self.cq = row.debits_pending, row.credits_pending
        self.count = row.entry_count
        self.head = bytes(row.head_hash)

    def sign(self, is_debit: bool) -> int:
        """+1 when this side increases the balance in the account's normal sign."""
        return 1 if (self.normal == "debit") == is_debit else -1

    @property
    def posted(self) -> int:
        return self.cp - self.dp if self.normal == "credit" else self.dp - self.cp

    @property
    def room(self) -> int:
        """What may still leave the account: posted balance less outgoing pending value."""
        return self.posted - (self.dq if self.normal == "credit" else self.cq)


class Ledger:
    """A double-entry book for one tenant, working inside a Session's or Connection's transaction."""

    def __init__(self, bind: Session | Connection, tenant: int = 0):
        if not isinstance(tenant, int) or isinstance(tenant, bool):
            raise TypeError("tenant must be an int")
        self._bind = bind
        self.tenant = tenant

    # -- plumbing ---------------------------------------------------------------------------
    @property
    def _conn(self) -> Connection:
        return self._bind.connection() if isinstance(self._bind, Session) else self._bind

    @staticmethod
    def _locking(conn: Connection) -> bool:
        return conn.dialect.name == "postgresql"

    def _account_row(self, conn: Connection, code: str, lock: bool = False):
        q = select(accounts).where(accounts.c.tenant_id == self.tenant, accounts.c.code == code)
        if lock and self._locking(conn):
            q = q.with_for_update()
        return conn.execute(q).first()

    def _lock_accounts(self, conn: Connection, codes: Iterable[str]) -> dict[str, _Acct]:
        ordered = sorted(set(codes))
        found: dict[str, _Acct] = {}
        q = _ACCOUNTS_BY_CODE_LOCKED if self._locking(conn) else _ACCOUNTS_BY_CODE
        for i in range(0, len(ordered), _CHUNK):
            for row in conn.execute(q, {"tenant": self.tenant, "codes": ordered[i : i + _CHUNK]}):
                found[row.code] = _Acct(row)
        missing = [c for c in ordered if c not in found]
        if missing:
            shown = ", ".join(missing[:5]) + (" …" if len(missing) > 5 else "")
            raise errors.UnknownAccount(f"no such account: {shown}; open it with open_account() first")
        return found

    def _insert_transfers(self, conn: Connection, rows: list[dict]) -> list[int]:
        """Give transfer rows their ids (the entries' hashes need them) and insert them."""
        if self._locking(conn):
            ids = [r[0] for r in conn.execute(_NEXT_TRANSFER_IDS_PG, {"n": len(rows)})]
        else:
            # SQLite: the writer holds the database lock, so max(id) cannot move under us.
            top = conn.execute(_MAX_TRANSFER_ID).scalar_one()
            ids = list(range(top + 1, top + 1 + len(rows)))
        for tid, row in zip(ids, rows, strict=False):
            row["id"] = tid
        conn.execute(_INSERT_TRANSFERS, rows)
        return ids

    def _journal_from_row(self, row, status: str | None = None) -> Journal:
        return Journal(
            id=row.id,
            kind=row.kind,
            key=row.key,
            memo=row.memo,
            pending=row.pending,
            created_at=row.created_at,
            expires_at=row.expires_at,
            effective_at=row.effective_at,
            meta=row.meta,
            resolves_id=row.resolves_id,
            resolution=row.resolution,
            reverses_id=row.reverses_id,
            status=status or ("pending" if row.pending else "posted"),
        )

    def _journal_row(self, conn: Connection, journal_id: int):
        row = conn.execute(
            select(journals).where(journals.c.tenant_id == self.tenant, journals.c.id == journal_id)
        ).first()
        if row is None:
            raise errors.UnknownJournal(f"no journal {journal_id} in this district's ledger")
        return row

    def _by_key(self, conn: Connection, key: str, request_hash: bytes) -> Journal | None:
        used = conn.execute(_KEY_USED, {"tenant": self.tenant, "key": key}).first()
        if used is None:
            return None
        row = self._journal_row(conn, used.id)
        if bytes(row.request_hash) != request_hash:
            raise errors.IdempotencyConflict(
                f"key {key!r} was already used for a different request (journal {row.id}); "
                "use a new key for a new request"
            )
        return self._journal_from_row(row, self._status(conn, row))

    def _status(self, conn: Connection, row) -> str:
        if not row.pending:
            return "posted"
        res = conn.execute(select(journals.c.resolution).where(journals.c.resolves_id == row.id)).first()
        if res is None:
            return "pending"
        return "posted" if res.resolution == "post" else "voided"

    @staticmethod
    def _check_key(key: str | None) -> None:
        if key is not None and (not isinstance(key, str) or not key or len(key) > MAX_KEY):
            raise errors.InvalidTransfer(
                f"an idempotency key must be a non-empty string of at most {MAX_KEY} characters"
            )

    # -- accounts ---------------------------------------------------------------------------
    @staticmethod
    def _check_account_settings(codes: Iterable[str], unit: str, normal: str) -> None:
        for code in codes:
            if not isinstance(code, str) or not code.strip() or len(code) > MAX_CODE:
                raise errors.InvalidTransfer(
                    f"an account code must be a non-empty string of at most {MAX_CODE} characters"
                )
        if not isinstance(unit, str) or not _UNIT.match(unit):
            raise errors.InvalidTransfer(f"unit {unit!r} is not valid: use 2-8 capital letters such as PT or CNY")
        if normal not in ("debit", "credit"):
            raise errors.InvalidTransfer(f"normal side must be 'debit' or 'credit', not {normal!r}")

    def _new_account(self, code: str, unit: str, normal: str, no_overdraft: bool, now: datetime) -> dict:
        return dict(
            tenant_id=self.tenant,
            code=code,
            unit=unit,
            normal=normal,
            no_overdraft=no_overdraft,
            closed=False,
            debits_posted=0,
            credits_posted=0,
            debits_pending=0,
            credits_pending=0,
            entry_count=0,
            head_hash=GENESIS,
            created_at=now,
        )

    def open_account(self, code: str, unit: str = "PT", normal: str = "credit", no_overdraft: bool = False) -> Account:
        """Open an account, or return it if it is already open with the same settings."""
        self._check_account_settings([code], unit, normal)
        no_overdraft = bool(no_overdraft)
        conn = self._conn
        row = self._account_row(conn, code)
        if row is None:
            try:
                with conn.begin_nested():
                    conn.execute(
                        insert(accounts).values(**self._new_account(code, unit, normal, no_overdraft, utcnow()))
                    )
            except IntegrityError:
                pass  # opened by a concurrent writer a moment ago: compare below
            row = self._account_row(conn, code)
        if (row.unit, row.normal, row.no_overdraft) != (unit, normal, no_overdraft):
            raise errors.AccountConflict(
                f"account {code} is already open as unit={row.unit}, normal={row.normal}, "
                f"no_overdraft={row.no_overdraft}; it cannot be reopened with other settings"
            )
        return self._account_from_row(row)

    def open_accounts(
        self, codes: Iterable[str], unit: str = "PT", normal: str = "credit", no_overdraft: bool = False
    ) -> int:
        """Open many accounts with one set of settings (a member import's wallets); returns how many
        were new. Codes already open with the same settings are left alone; other settings raise
        AccountConflict and nothing is written."""
        codes = sorted(set(codes))
        if not codes:
            return 0
        self._check_account_settings(codes, unit, normal)
        conn = self._conn
        existing = {}
        for i in range(0, len(codes), _CHUNK):
            for row in conn.execute(
                select(accounts.c.code, accounts.c.unit, accounts.c.normal, accounts.c.no_overdraft).where(
                    accounts.c.tenant_id == self.tenant, accounts.c.code.in_(codes[i : i + _CHUNK])
                )
            ):
                existing[row.code] = row
        for code, row in existing.items():
            if (row.unit, row.normal, row.no_overdraft) != (unit, normal, bool(no_overdraft)):
                raise errors.AccountConflict(f"account {code} is already open with other settings")
        now = utcnow()
        new = [self._new_account(c, unit, normal, bool(no_overdraft), now) for c in codes if c not in existing]
        if new:
            conn.execute(insert(accounts), new)
        return len(new)

    @staticmethod
    def _account_from_row(row) -> Account:
        return Account(row.id, row.code, row.unit, row.normal, row.no_overdraft, row.closed)

    def account(self, code: str) -> Account:
        row = self._account_row(self._conn, code)
        if row is None:
            raise errors.UnknownAccount(f"no such account: {code}")
        return self._account_from_row(row)

    def close_account(self, code: str) -> Account:
        """Close an account whose posted and pending balances are all zero. Closing twice is harmless."""
        conn = self._conn
        acct = self._lock_accounts(conn, [code])[code]
        if acct.closed:
            return self._account_from_row(self._account_row(conn, code))
        if acct.posted != 0 or acct.dq or acct.cq:
            raise errors.AccountNotEmpty(
                f"account {code} still holds {acct.posted} {acct.unit} posted and "
                f"{acct.dq + acct.cq} pending; move or release it before closing"
            )
        conn.execute(update(accounts).where(accounts.c.id == acct.id).values(closed=True))
        return self._account_from_row(self._account_row(conn, code))

    def balance(self, code: str) -> Balance:
        row = self._account_row(self._conn, code)
        if row is None:
            raise errors.UnknownAccount(f"no such account: {code}")
        return self._balance_from_row(row)

    @staticmethod
    def _balance_from_row(row) -> Balance:
        if row.normal == "credit":
            posted = row.credits_posted - row.debits_posted
            pin, pout = row.credits_pending, row.debits_pending
        else:
            posted = row.debits_posted - row.credits_posted
            pin, pout = row.debits_pending, row.credits_pending
        return Balance(posted=posted, pending_in=pin, pending_out=pout, available=posted - pout)

    def balance_at(self, code: str, when: datetime) -> int:
        """The posted balance as it stood at `when` (0 before the account's first posting)."""
        conn = self._conn
        row = self._account_row(conn, code)
        if row is None:
            raise errors.UnknownAccount(f"no such account: {code}")
        got = conn.execute(
            select(entries.c.balance_after)
            .where(entries.c.account_id == row.id, entries.c.created_at <= _naive_utc(when))
            .order_by(entries.c.created_at.desc(), entries.c.seq.desc())
            .limit(1)
        ).first()
        return got.balance_after if got else 0

    def statement(
        self,
        code: str,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 50,
        after: int | None = None,
    ) -> Page:
        """The account's lines, newest first; `after` is the `next` cursor of the previous page."""
        if not isinstance(limit, int) or not 1 <= limit <= 1000:
            raise errors.InvalidTransfer("limit must be between 1 and 1000")
        conn = self._conn
        row = self._account_row(conn, code)
        if row is None:
            raise errors.UnknownAccount(f"no such account: {code}")
        q = (
            select(
                entries.c.seq,
                entries.c.journal_id,
                entries.c.transfer_id,
                entries.c.posted_delta,
                entries.c.pending_delta,
                entries.c.balance_after,
                entries.c.created_at,
                journals.c.kind,
                journals.c.memo,
                transfers.c.phase,
            )
            .join(journals, journals.c.id == entries.c.journal_id)
            .join(transfers, transfers.c.id == entries.c.transfer_id)
            .where(entries.c.account_id == row.id)
            .order_by(entries.c.seq.desc())
            .limit(limit + 1)
        )
        if after is not None:
            q = q.where(entries.c.seq < after)
        if since is not None:
            q = q.where(entries.c.created_at >= _naive_utc(since))
        if until is not None:
            q = q.where(entries.c.created_at < _naive_utc(until))
        rows = conn.execute(q).all()
        lines = [
            StatementLine(
                seq=r.seq,
                journal_id=r.journal_id,
                transfer_id=r.transfer_id,
                kind=r.kind,
                memo=r.memo,
                phase=r.phase,
                amount=r.posted_delta,
                pending_amount=r.pending_delta,
                balance_after=r.balance_after,
                time=r.created_at,
            )
            for r in rows[:limit]
        ]
        return Page(lines=lines, next=lines[-1].seq if len(rows) > limit else None)

    def trial_balance(self) -> dict[str, tuple[int, int]]:
        rows = self._conn.execute(
            select(accounts.c.unit, func.sum(accounts.c.debits_posted), func.sum(accounts.c.credits_posted))
            .where(accounts.c.tenant_id == self.tenant)
            .group_by(accounts.c.unit)
            .order_by(accounts.c.unit)
        )
        return {r[0]: (int(r[1] or 0), int(r[2] or 0)) for r in rows}

    def journal(self, journal_id: int) -> Journal:
        conn = self._conn
        row = self._journal_row(conn, journal_id)
        return self._journal_from_row(row, self._status(conn, row))

    def journal_transfers(self, journal_id: int) -> list[tuple[str, str, int, str]]:
        """(debit code, credit code, amount, phase) for each transfer of a journal, in order."""
        conn = self._conn
        self._journal_row(conn, journal_id)
        d, c = accounts.alias("d"), accounts.alias("c")
        rows = conn.execute(
            select(d.c.code, c.c.code, transfers.c.amount, transfers.c.phase)
            .join(d, d.c.id == transfers.c.debit_account_id)
            .join(c, c.c.id == transfers.c.credit_account_id)
            .where(transfers.c.journal_id == journal_id)
            .order_by(transfers.c.id)
        )
        return [tuple(r) for r in rows]

    # -- posting ----------------------------------------------------------------------------
    def post(
        self,
        transfers_in: Iterable[Transfer],
        kind: str,
        key: str | None = None,
        memo: str = "",
        pending: bool = False,
        expires_at: datetime | None = None,
        effective_at: datetime | None = None,
        meta: Any = None,
    ) -> Journal:
        """Post a journal of transfers, all or none. With pending=True the value is reserved, not moved."""
        items = list(transfers_in)
        if not items:
            raise errors.InvalidTransfer("a journal needs at least one transfer")
        for i, t in enumerate(items, 1):
            if not isinstance(t, Transfer):
                raise errors.InvalidTransfer(f"transfer {i} is not a ledger.Transfer")
            if not isinstance(t.amount, int) or isinstance(t.amount, bool) or t.amount <= 0:
                raise errors.InvalidTransfer(f"transfer {i}: amount must be a positive whole number, not {t.amount!r}")
            if t.amount > MAX_AMOUNT:
                raise errors.InvalidTransfer(
                    f"transfer {i}: amount {t.amount} is larger than the most one transfer may move ({MAX_AMOUNT})"
                )
            if t.debit == t.credit:
                raise errors.InvalidTransfer(f"transfer {i}: debit and credit are the same account {t.debit}")
        if not isinstance(kind, str) or not kind or len(kind) > 64:
            raise errors.InvalidTransfer("kind must be a non-empty string of at most 64 characters")
        self._check_key(key)
        if expires_at is not None and not pending:
            raise errors.InvalidTransfer("expires_at applies only to a pending journal")
        expires_at, effective_at = _naive_utc(expires_at), _naive_utc(effective_at)
        memo = memo or ""
        try:
            json.dumps(meta)
        except (TypeError, ValueError):
            raise errors.InvalidTransfer(
                "meta must be JSON data (dicts, lists, strings, numbers, booleans, null)"
            ) from None
        request = _digest(
            {
                "op": "post",
                "kind": kind,
                "memo": memo,
                "pending": bool(pending),
                "expires_at": expires_at,
                "effective_at": effective_at,
                "meta": meta,
                "t": [(t.debit, t.credit, t.amount) for t in items],
            }
        )
        conn = self._conn
        if key is not None and (found := self._by_key(conn, key, request)) is not None:
            return found
        accts = self._lock_accounts(conn, [c for t in items for c in (t.debit, t.credit)])
        if (found := self._after_lock(conn, key, request)) is not None:
            return found
        rows = []
        for i, t in enumerate(items, 1):
            d, c = accts[t.debit], accts[t.credit]
            for a in (d, c):
                if a.closed:
                    raise errors.AccountClosed(f"account {a.code} is closed and takes no new postings")
            if d.unit != c.unit:
                raise errors.UnitMismatch(
                    f"transfer {i}: {d.code} holds {d.unit} but {c.code} holds {c.unit}; both sides need one unit"
                )
            rows.append((d, c, t.amount, "pending" if pending else "posted", None, t.amount))
        journal_row = dict(
            tenant_id=self.tenant,
            kind=kind,
            key=key,
            memo=memo,
            pending=bool(pending),
            expires_at=expires_at,
            effective_at=effective_at,
            meta=meta,
            resolves_id=None,
            resolution=None,
            reverses_id=None,
            request_hash=request,
        )
        return self._write(conn, journal_row, rows, key=key, request=request)

    def post_pending(self, journal_id: int, amount: int | None = None, key: str | None = None) -> Journal:
        """Post a pending journal. `amount` (one-transfer journals only) posts part and releases the rest."""
        return self._resolve(journal_id, "post", amount, key)

    def void_pending(self, journal_id: int, key: str | None = None) -> Journal:
        """Release a pending journal's reservation; nothing moves."""
        return self._resolve(journal_id, "void", None, key)

    def _resolve(
        self,
        journal_id: int,
        how: str,
        amount: int | None,
        key: str | None,
        now: datetime | None = None,
        expiring: bool = False,
    ) -> Journal:
        self._check_key(key)
        conn = self._conn
        request = _digest({"op": how, "journal": journal_id, "amount": amount})
        if key is not None and (found := self._by_key(conn, key, request)) is not None:
            return found
        orig = self._journal_row(conn, journal_id)
        if not orig.pending:
            raise errors.NotPending(f"journal {journal_id} was never pending; reverse it instead")
        done = conn.execute(
            select(journals.c.id, journals.c.resolution).where(journals.c.resolves_id == journal_id)
        ).first()
        if done is not None:
            state = "posted" if done.resolution == "post" else "voided"
            raise errors.NotPending(f"journal {journal_id} is no longer pending: it was {state} by journal {done.id}")
        now = now or utcnow()
        if how == "post" and orig.expires_at is not None and orig.expires_at <= now:
            raise errors.PendingExpired(
                f"journal {journal_id} expired at {orig.expires_at:%Y-%m-%d %H:%M:%S} UTC and can no longer be posted"
            )
        pend = conn.execute(
            select(transfers).where(transfers.c.journal_id == journal_id).order_by(transfers.c.id)
        ).all()
        if amount is not None:
            if len(pend) != 1:
                raise errors.InvalidTransfer(
                    f"journal {journal_id} has {len(pend)} transfers; a partial amount needs a one-transfer journal"
                )
            if not isinstance(amount, int) or isinstance(amount, bool) or not 0 < amount <= pend[0].amount:
                raise errors.InvalidTransfer(
                    f"amount must be a whole number from 1 to the pending {pend[0].amount}, not {amount!r}"
                )
        ids = {r.debit_account_id for r in pend} | {r.credit_account_id for r in pend}
        codes = conn.execute(select(accounts.c.code).where(accounts.c.id.in_(ids))).scalars().all()
        accts = self._lock_accounts(conn, codes)
        if (found := self._after_lock(conn, key, request, resolves_id=journal_id)) is not None:
            return found
        by_id = {a.id: a for a in accts.values()}
        rows = []
        for r in pend:
            posted = amount if amount is not None else r.amount
            rows.append(
                (
                    by_id[r.debit_account_id],
                    by_id[r.credit_account_id],
                    posted if how == "post" else r.amount,
                    how,
                    r.id,
                    r.amount,
                )
            )
        journal_row = dict(
            tenant_id=self.tenant,
            kind=orig.kind,
            key=key,
            memo=orig.memo if not expiring else f"expired: {orig.memo}".rstrip(": "),
            pending=False,
            expires_at=None,
            effective_at=None,
            meta=None,
            resolves_id=journal_id,
            resolution=how,
            reverses_id=None,
            request_hash=request,
        )
        return self._write(conn, journal_row, rows, key=key, request=request, now=now)

    def reverse(self, journal_id: int, key: str | None = None, memo: str = "") -> Journal:
        """Post a new journal that undoes a posted one, every transfer swapped. Once per journal."""
        self._check_key(key)
        conn = self._conn
        request = _digest({"op": "reverse", "journal": journal_id, "memo": memo or ""})
        if key is not None and (found := self._by_key(conn, key, request)) is not None:
            return found
        orig = self._journal_row(conn, journal_id)
        if orig.pending:
            raise errors.NotPending(
                f"journal {journal_id} is a pending journal; void it (or reverse the journal that posted it)"
            )
        if orig.resolution == "void":
            raise errors.InvalidTransfer(f"journal {journal_id} voided a reservation and moved nothing to reverse")
        done = conn.execute(select(journals.c.id).where(journals.c.reverses_id == journal_id)).first()
        if done is not None:
            raise errors.AlreadyReversed(f"journal {journal_id} was already reversed by journal {done.id}")
        moved = conn.execute(
            select(transfers).where(transfers.c.journal_id == journal_id).order_by(transfers.c.id)
        ).all()
        ids = {r.debit_account_id for r in moved} | {r.credit_account_id for r in moved}
        codes = conn.execute(select(accounts.c.code).where(accounts.c.id.in_(ids))).scalars().all()
        accts = self._lock_accounts(conn, codes)
        if (found := self._after_lock(conn, key, request, reverses_id=journal_id)) is not None:
            return found
        by_id = {a.id: a for a in accts.values()}
        for a in by_id.values():
            if a.closed:
                raise errors.AccountClosed(f"account {a.code} is closed; journal {journal_id} cannot be reversed")
        rows = [
            (by_id[r.credit_account_id], by_id[r.debit_account_id], r.amount, "posted", None, r.amount) for r in moved
        ]
        journal_row = dict(
            tenant_id=self.tenant,
            kind=orig.kind,
            key=key,
            memo=memo or f"reversal of journal {journal_id}",
            pending=False,
            expires_at=None,
            effective_at=None,
            meta=None,
            resolves_id=None,
            resolution=None,
            reverses_id=journal_id,
            request_hash=request,
        )
        return self._write(conn, journal_row, rows, key=key, request=request)

    def expire_pending(self, now: datetime | None = None) -> int:
        """Void every pending journal whose expires_at has passed; returns how many were voided."""
        now = _naive_utc(now) or utcnow()
        later = journals.alias("later")
        due = (
            self._conn.execute(
                select(journals.c.id)
                .where(
                    journals.c.tenant_id == self.tenant,
                    journals.c.expires_at <= now,
                    journals.c.pending.is_(True),
                    ~exists().where(later.c.resolves_id == journals.c.id),
                )
                .order_by(journals.c.id)
            )
            .scalars()
            .all()
        )
        for jid in due:
            self._resolve(jid, "void", None, None, now=now, expiring=True)
        return len(due)

    def _after_lock(
        self,
        conn: Connection,
        key: str | None,
        request: bytes,
        resolves_id: int | None = None,
        reverses_id: int | None = None,
    ) -> Journal | None:
        """Look again once the accounts are locked: while we waited, a concurrent writer may have
        committed the same key, resolution or reversal (on PostgreSQL a new READ COMMITTED statement
        sees it). Without this, the loser would be judged against balances the winner already
        changed and could be told "insufficient balance" instead of getting the original journal."""
        if not self._locking(conn):
            return None  # SQLite runs writers one at a time: nothing can have changed
        if key is not None and (found := self._by_key(conn, key, request)) is not None:
            return found
        if resolves_id is not None:
            done = conn.execute(
                select(journals.c.id, journals.c.resolution).where(journals.c.resolves_id == resolves_id)
            ).first()
            if done is not None:
                state = "posted" if done.resolution == "post" else "voided"
                raise errors.NotPending(
                    f"journal {resolves_id} is no longer pending: it was {state} by journal {done.id}"
                )
        if reverses_id is not None:
            done = conn.execute(select(journals.c.id).where(journals.c.reverses_id == reverses_id)).first()
            if done is not None:
                raise errors.AlreadyReversed(f"journal {reverses_id} was already reversed by journal {done.id}")
        return None

    # -- the one place rows are written -----------------------------------------------------
    def _write(
        self,
        conn: Connection,
        journal_row: dict,
        rows: list,
        *,
        key: str | None,
        request: bytes,
        now: datetime | None = None,
    ) -> Journal:
        """Check no_overdraft, then append the journal, its transfers and entries, and update balances.

        rows: (debit _Acct, credit _Acct, amount, phase, pending_transfer_id, pending_amount)
        """
        # Apply to the in-memory copies first so an overdraft is refused before anything is written.
        touched = {a.id: a for d, c, *_ in rows for a in (d, c)}
        room_before = {i: a.room for i, a in touched.items()}
        posted_now = {i: a.posted for i, a in touched.items()}  # walked forward below for balance_after
        for d, c, amount, phase, _pid, pamount in rows:
            if phase == "posted":
                d.dp += amount
                c.cp += amount
            elif phase == "pending":
                d.dq += amount
                c.cq += amount
            elif phase == "post":
                d.dq -= pamount
                c.cq -= pamount
                d.dp += amount
                c.cp += amount
            else:  # void
                d.dq -= pamount
                c.cq -= pamount
        for a in touched.values():
            if max(a.dp, a.cp, a.dq, a.cq) > MAX_TOTAL:
                raise errors.InvalidTransfer(f"account {a.code} would exceed the largest total the ledger keeps")
            if a.no_overdraft and a.room < 0:
                raise errors.InsufficientBalance(
                    f"account {a.code} has {room_before[a.id]} {a.unit} available but this needs "
                    f"{room_before[a.id] - a.room}; it would be overdrawn by {-a.room}"
                )
        now = now or utcnow()
        journal_row["created_at"] = now
        if self._locking(conn):
            journal_id = conn.execute(_INSERT_JOURNAL_PG, journal_row).scalar_one_or_none()
            if journal_id is None:
                return self._lost_race(conn, journal_row, key, request)
        else:
            # SQLite runs one writer at a time, and the checks above already looked for the key.
            journal_id = conn.execute(_INSERT_JOURNAL, journal_row).scalar_one()

        transfer_rows = [
            dict(
                journal_id=journal_id,
                debit_account_id=d.id,
                credit_account_id=c.id,
                unit=d.unit,
                amount=amount,
                phase=phase,
                pending_transfer_id=pid,
            )
            for d, c, amount, phase, pid, _pamount in rows
        ]
        for tid, tr in zip(self._insert_transfers(conn, transfer_rows), transfer_rows, strict=False):
            tr["id"] = tid
        entry_rows = []
        # Entries: walk the transfers from the pre-journal balances to get each balance_after.
        for tr, (d, c, amount, phase, _pid, pamount) in zip(transfer_rows, rows, strict=False):
            for acct, is_debit in ((d, True), (c, False)):
                s = acct.sign(is_debit)
                posted_delta = s * amount if phase in ("posted", "post") else 0
                pending_delta = s * amount if phase == "pending" else (-s * pamount if phase in ("post", "void") else 0)
                posted_now[acct.id] += posted_delta
                acct.count += 1
                e = dict(
                    account_id=acct.id,
                    seq=acct.count,
                    transfer_id=tr["id"],
                    journal_id=journal_id,
                    posted_delta=posted_delta,
                    pending_delta=pending_delta,
                    balance_after=posted_now[acct.id],
                    created_at=now,
                )
                acct.head = e["hash"] = entry_hash(acct.head, e, tr)
                entry_rows.append(e)
        conn.execute(_INSERT_ENTRIES, entry_rows)
        conn.execute(
            _UPDATE_ACCOUNT,
            [dict(a_id=a.id, dp=a.dp, cp=a.cp, dq=a.dq, cq=a.cq, n=a.count, h=a.head) for a in touched.values()],
        )
        status = "pending" if journal_row["pending"] else "posted"
        return Journal(
            id=journal_id,
            kind=journal_row["kind"],
            key=key,
            memo=journal_row["memo"],
            pending=journal_row["pending"],
            created_at=now,
            expires_at=journal_row["expires_at"],
            effective_at=journal_row["effective_at"],
            meta=journal_row["meta"],
            resolves_id=journal_row["resolves_id"],
            resolution=journal_row["resolution"],
            reverses_id=journal_row["reverses_id"],
            status=status,
        )

    def _lost_race(self, conn: Connection, journal_row: dict, key: str | None, request: bytes) -> Journal:
        """A concurrent writer committed the same key, resolution or reversal first: say which."""
        if key is not None:
            found = self._by_key(conn, key, request)
            if found is not None:
                return found
        if journal_row["resolves_id"]:
            raise errors.NotPending(f"journal {journal_row['resolves_id']} was resolved by another request just now")
        if journal_row["reverses_id"]:
            raise errors.AlreadyReversed(
                f"journal {journal_row['reverses_id']} was reversed by another request just now"
            )
        raise errors.LedgerError("the journal could not be written; retry the request")

    # -- checking ---------------------------------------------------------------------------
    def verify(self) -> list[str]:
        """Re-derive everything the ledger caches or chains and list every disagreement; [] is sound."""
        from .verify import verify_book

        return verify_book(self._conn, self.tenant)
