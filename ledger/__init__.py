"""The double-entry ledger: accounts, balanced journals, pending holds, reversals, verification.

SQLAlchemy Core only; it never imports Flask or the app and never commits.
"""

from .book import NEXT_JOURNAL_ID_PG, Ledger
from .errors import (
    AccountClosed,
    AccountConflict,
    AccountNotEmpty,
    AlreadyReversed,
    IdempotencyConflict,
    InsufficientBalance,
    InvalidTransfer,
    LedgerError,
    NotPending,
    PendingExpired,
    UnitMismatch,
    UnknownAccount,
    UnknownJournal,
)
from .schema import metadata
from .types import Account, Balance, Journal, JournalSpec, Page, Resolution, StatementLine, Transfer

__all__ = [
    "Ledger",
    "NEXT_JOURNAL_ID_PG",
    "Transfer",
    "Journal",
    "JournalSpec",
    "Resolution",
    "Account",
    "Balance",
    "Page",
    "StatementLine",
    "metadata",
    "LedgerError",
    "InsufficientBalance",
    "UnknownAccount",
    "UnitMismatch",
    "AccountClosed",
    "AccountConflict",
    "AccountNotEmpty",
    "IdempotencyConflict",
    "AlreadyReversed",
    "NotPending",
    "PendingExpired",
    "InvalidTransfer",
    "UnknownJournal",
]
