"""Anchors: each account's chain head at a cut-off, and the check that the history they cover is unchanged.

`chain_heads()` reads, in one statement, every account of a tenant with its entry count, the hash of its
last entry and its cached totals: a consistent cut-off that a signed statement (app/audit/statements.py)
keeps outside the database. `check_against()` later re-walks each account's chain from the first entry
up to the recorded position, recomputing every hash from the entries and transfers as they are stored now,
and compares the result with the recorded head. An owner of the database who rewrites history and
recomputes the whole chain consistently (which `verify()` alone cannot notice) ends at a different head.
Entries appended after the cut-off are not read and so never fail it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from itertools import groupby
from operator import attrgetter

from sqlalchemy import select
from sqlalchemy.engine import Connection

from .chain import GENESIS, entry_hash
from .schema import accounts, entries, transfers

_LIMIT = 200  # problems listed before the report stops


@dataclass(frozen=True)
class Head:
    """One account at the cut-off."""

    code: str
    unit: str
    normal: str
    entry_count: int
    head_hash: bytes
    debits_posted: int
    credits_posted: int
    debits_pending: int
    credits_pending: int

    @property
    def posted(self) -> int:
        """The posted balance in the account's normal sign (as `Ledger.balance`)."""
        d, c = self.debits_posted, self.credits_posted
        return d - c if self.normal == "debit" else c - d


@dataclass(frozen=True)
class Recorded:
    """What a statement recorded for one account: how many entries its chain had, and its head."""

    entry_count: int
    head_hash: bytes
    posted: int | None = None


def chain_heads(conn: Connection, tenant: int) -> list[Head]:
    """Every account of `tenant` with its chain head and cached totals, ordered by code, in one read."""
    rows = conn.execute(select(accounts).where(accounts.c.tenant_id == tenant).order_by(accounts.c.code))
    return [
        Head(
            code=r.code,
            unit=r.unit,
            normal=r.normal,
            entry_count=int(r.entry_count),
            head_hash=bytes(r.head_hash),
            debits_posted=int(r.debits_posted),
            credits_posted=int(r.credits_posted),
            debits_pending=int(r.debits_pending),
            credits_pending=int(r.credits_pending),
        )
        for r in rows
    ]


def _tenant_rows(conn: Connection, tenant: int) -> Iterator:
    """Every entry of the tenant with its transfer, by account and position, streamed."""
    q = (
        select(
            entries,
            transfers.c.id.label("t_id"),
            transfers.c.debit_account_id,
            transfers.c.credit_account_id,
            transfers.c.unit,
            transfers.c.amount,
            transfers.c.phase,
            transfers.c.pending_transfer_id,
        )
        .join(accounts, accounts.c.id == entries.c.account_id)
        .outerjoin(transfers, transfers.c.id == entries.c.transfer_id)
        .where(accounts.c.tenant_id == tenant)
        .order_by(entries.c.account_id, entries.c.seq)
        .execution_options(yield_per=5000)
    )
    return iter(conn.execute(q))


def check_account(rows: Iterable, code: str, recorded: Recorded) -> list[str]:
    """Re-walk one account's chain (`rows`: its entries in order) up to `recorded.entry_count`; say where
    it no longer leads to the head.

    Two kinds of rewrite are told apart: an entry whose stored hash no longer matches what it records
    (an edit that left the hashes alone: that entry is named), and a chain that is consistent in itself
    but ends at another head than the one recorded (history rewritten with every hash recomputed: the
    entries up to the recorded position are named as the range that was rewritten)."""
    problems: list[str] = []
    prev, expect, balance = GENESIS, 1, 0
    first_bad: int | None = None
    for e in rows:
        if e.seq > recorded.entry_count:
            break  # written after the cut-off
        if e.seq != expect:
            problems.append(f"account {code}: entry {expect} is missing (the next one found is entry {e.seq})")
            return problems
        if e.t_id is None:
            problems.append(f"account {code}: entry {e.seq} names transfer {e.transfer_id}, which no longer exists")
            return problems
        tr = dict(
            debit_account_id=e.debit_account_id,
            credit_account_id=e.credit_account_id,
            unit=e.unit,
            amount=e.amount,
            phase=e.phase,
            pending_transfer_id=e.pending_transfer_id,
        )
        h = entry_hash(prev, e._mapping, tr)
        if h != bytes(e.hash) and first_bad is None:
            first_bad = e.seq
            problems.append(
                f"account {code}: entry {e.seq} (transfer {e.t_id}, amount {e.amount}) no longer matches its "
                "stored hash: it was changed after it was written"
            )
        balance += e.posted_delta
        if balance != e.balance_after and first_bad is None:
            first_bad = e.seq
            problems.append(
                f"account {code}: entry {e.seq} records balance {e.balance_after} but its entries sum to {balance}"
            )
        prev = h
        expect += 1
    found = expect - 1
    if found < recorded.entry_count:
        problems.append(
            f"account {code}: the statement recorded {recorded.entry_count} entries, only {found} are left "
            f"(entries {found + 1}–{recorded.entry_count} were deleted)"
        )
        return problems
    if prev != recorded.head_hash:
        if first_bad is None:
            problems.append(
                f"account {code}: entries 1–{recorded.entry_count} no longer lead to the head the statement "
                f"recorded ({recorded.head_hash.hex()[:16]}…, now {prev.hex()[:16]}…): an entry at or before "
                f"entry {recorded.entry_count} was rewritten and the chain's hashes recomputed to hide it"
            )
        else:
            problems.append(
                f"account {code}: entries 1–{recorded.entry_count} no longer lead to the head the statement recorded"
            )
    if recorded.posted is not None and balance != recorded.posted:
        problems.append(
            f"account {code}: its balance after entry {recorded.entry_count} is now {balance}; "
            f"the statement recorded {recorded.posted}"
        )
    return problems


def changed_accounts(conn: Connection, tenant: int, recorded: Mapping[str, Recorded]) -> dict[str, list[str]]:
    """Every recorded account of `tenant` whose chain, as stored now, no longer matches the record, with what
    differs; {} when nothing recorded was changed. Accounts opened after the cut-off are not in `recorded`
    and are not checked. One streaming read of the tenant's entries, as `verify()`."""
    changed: dict[str, list[str]] = {}
    codes = dict(conn.execute(select(accounts.c.id, accounts.c.code).where(accounts.c.tenant_id == tenant)).all())
    seen: set[str] = set()
    for account_id, rows in groupby(_tenant_rows(conn, tenant), key=attrgetter("account_id")):
        code = codes.get(account_id)
        if code is None or code not in recorded:
            continue
        seen.add(code)
        problems = check_account(rows, code, recorded[code])
        if problems:
            changed[code] = problems
    for code in sorted(set(recorded) - seen):
        rec = recorded[code]
        if not rec.entry_count:
            continue
        if code in codes.values():
            changed[code] = [f"account {code}: the statement recorded {rec.entry_count} entries; none are left"]
        else:
            changed[code] = [f"account {code}: the statement recorded {rec.entry_count} entries; the account is gone"]
    return changed


def check_against(conn: Connection, tenant: int, recorded: Mapping[str, Recorded]) -> list[str]:
    """`changed_accounts` as one list of problems, by account code; [] when nothing recorded was changed."""
    changed = changed_accounts(conn, tenant, recorded)
    return [p for code in sorted(changed) for p in changed[code]][:_LIMIT]
