"""Typed ledger errors: each says what went wrong and what to do about it."""


class LedgerError(Exception):
    """Base of every error the ledger raises on purpose."""

    code = "ledger_error"


class InsufficientBalance(LedgerError):
    code = "insufficient_balance"


class UnknownAccount(LedgerError):
    code = "unknown_account"


class UnitMismatch(LedgerError):
    code = "unit_mismatch"


class AccountClosed(LedgerError):
    code = "account_closed"


class AccountConflict(LedgerError):
    code = "account_conflict"


class IdempotencyConflict(LedgerError):
    code = "idempotency_conflict"


class AlreadyReversed(LedgerError):
    code = "already_reversed"


class NotPending(LedgerError):
    code = "not_pending"


class PendingExpired(LedgerError):
    code = "pending_expired"


class InvalidTransfer(LedgerError):
    code = "invalid_transfer"


class UnknownJournal(LedgerError):
    code = "unknown_journal"


class AccountNotEmpty(LedgerError):
    code = "account_not_empty"
