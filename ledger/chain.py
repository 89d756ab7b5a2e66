"""The per-account hash chain that makes edited, deleted or inserted history detectable.

Each entry's hash covers the previous entry's hash on the same account, the entry itself and the
transfer it records. A chain per account (not one global chain) lets writers on unrelated accounts
proceed in parallel: they never contend for a shared chain head.
"""

import hashlib
from collections.abc import Mapping
from typing import Any

GENESIS = bytes(32)


def entry_hash(prev: bytes, entry: Mapping[Any, Any], transfer: Mapping[Any, Any]) -> bytes:
    """Hash of one entry. `entry` and `transfer` are column->value mappings as stored."""
    parts = (
        entry["account_id"],
        entry["seq"],
        entry["transfer_id"],
        entry["journal_id"],
        entry["posted_delta"],
        entry["pending_delta"],
        entry["balance_after"],
        entry["created_at"].isoformat(timespec="microseconds"),
        transfer["debit_account_id"],
        transfer["credit_account_id"],
        transfer["unit"],
        transfer["amount"],
        transfer["phase"],
        transfer["pending_transfer_id"],
    )
    return hashlib.sha256(bytes(prev) + "|".join(map(str, parts)).encode()).digest()
