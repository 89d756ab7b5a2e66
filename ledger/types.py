"""The values the ledger takes and returns: plain frozen dataclasses, integers for amounts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Transfer:
    """Move `amount` (a positive integer in the accounts' unit) from `debit` to `credit`."""

    debit: str
    credit: str
    amount: int


@dataclass(frozen=True)
class JournalSpec:
    """One journal of a batch for `Ledger.post_many`: the arguments `Ledger.post` takes."""

    transfers: Sequence[Transfer]
    kind: str
    key: str | None = None
    memo: str = ""
    pending: bool = False
    expires_at: datetime | None = None
    effective_at: datetime | None = None
    meta: Any = None


@dataclass(frozen=True)
class Resolution:
    """One item of a batch for `Ledger.resolve_many`: post (in full, or `amount` of a one-transfer
    journal) or void the pending journal `journal_id`, as `post_pending` / `void_pending` would."""

    journal_id: int
    how: str = "post"  # post | void
    amount: int | None = None
    key: str | None = None


@dataclass(frozen=True)
class Journal:
    id: int
    kind: str
    key: str | None
    memo: str
    pending: bool
    created_at: datetime
    expires_at: datetime | None = None
    effective_at: datetime | None = None
    meta: Any = None
    resolves_id: int | None = None
    resolution: str | None = None
    reverses_id: int | None = None
    # pending | posted | voided — "posted" for every journal that was never pending.
    status: str = "posted"


@dataclass(frozen=True)
class Account:
    id: int
    code: str
    unit: str
    normal: str
    no_overdraft: bool
    closed: bool


@dataclass(frozen=True)
class Balance:
    """In the account's normal sign: a member wallet (normal credit) holding 30 points has posted=30."""

    posted: int
    pending_in: int
    pending_out: int
    available: int


@dataclass(frozen=True)
class StatementLine:
    seq: int
    journal_id: int
    transfer_id: int
    kind: str
    memo: str
    phase: str  # posted | pending | post | void
    amount: int  # signed change to the posted balance
    pending_amount: int  # signed change to the pending balance
    balance_after: int  # posted balance after this line
    time: datetime


@dataclass(frozen=True)
class Page:
    lines: list[StatementLine] = field(default_factory=list)
    next: int | None = None  # pass as `after=` for the next (older) page; None at the end
