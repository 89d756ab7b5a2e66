"""ledger write path: partial indexes on the mostly-NULL journal and transfer columns, the account identity
trigger guarded by a WHEN condition, room on the account pages for in-place (HOT) updates

Every one-transfer post inserts one journal, one transfer and two entries and rewrites two account rows.
- uq_ledger_journals_resolves_id, uq_ledger_journals_reverses_id, ix_ledger_journals_pending_expiry and
  uq_ledger_transfers_pending_transfer_id become partial (WHERE the column IS NOT NULL): a plain post sets
  none of these columns, so it no longer adds four index entries (NULLs never collided in the unique
  ones, so the same rows are refused; lookups by value imply the condition and still use them).
- ix_ledger_entries_transfer_id is dropped: nothing reads entries by transfer (every read goes from an
  entry to its transfer by the transfers' primary key), and the foreign key never needs it on the
  referenced side (ledger_transfers refuses UPDATE, DELETE and TRUNCATE). It cost two index entries per post.
- On PostgreSQL, ledger_accounts_identity_fixed fires only WHEN the identity changed (the condition the
  function itself tests, evaluated in the executor): a balance update no longer calls PL/pgSQL twice per
  post. SQLite's trigger already had this WHEN condition.
- On PostgreSQL, ledger_accounts gets fillfactor 70 (applies to pages written from now on; a VACUUM FULL
  or pg_repack applies it to an existing table).

Revision ID: 57df64508350
Revises: 5d0979e058c8
Create Date: 2026-12-06 01:05:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '57df64508350'
down_revision: Union[str, Sequence[str], None] = '5d0979e058c8'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

# (table, index, columns, unique, the column that is NULL on a plain post)
PARTIAL = [
    ("ledger_journals", "uq_ledger_journals_resolves_id", ["resolves_id"], True, "resolves_id"),
    ("ledger_journals", "uq_ledger_journals_reverses_id", ["reverses_id"], True, "reverses_id"),
    ("ledger_journals", "ix_ledger_journals_pending_expiry", ["tenant_id", "expires_at"], False, "expires_at"),
    ("ledger_transfers", "uq_ledger_transfers_pending_transfer_id", ["pending_transfer_id"], True, "pending_transfer_id"),
]

# As in 7ad0aaf243ef (the function tests the same condition).
IDENTITY_CHANGED = (
    "NEW.tenant_id <> OLD.tenant_id OR NEW.code <> OLD.code OR NEW.unit <> OLD.unit "
    "OR NEW.normal <> OLD.normal OR NEW.no_overdraft <> OLD.no_overdraft OR (OLD.closed AND NOT NEW.closed)"
)


def _identity_trigger(when: str) -> None:
    op.execute("DROP TRIGGER ledger_accounts_identity_fixed ON ledger_accounts")
    op.execute(
        "CREATE TRIGGER ledger_accounts_identity_fixed BEFORE UPDATE ON ledger_accounts "
        f"FOR EACH ROW {when}EXECUTE FUNCTION ledger_account_identity_fixed()"
    )


def upgrade() -> None:
    """Upgrade schema."""
    for table, name, columns, unique, column in PARTIAL:
        where = sa.text(f"{column} IS NOT NULL")
        op.drop_index(name, table_name=table)
        op.create_index(name, table, columns, unique=unique, postgresql_where=where, sqlite_where=where)
    op.drop_index("ix_ledger_entries_transfer_id", table_name="ledger_entries")
    if op.get_bind().dialect.name == "postgresql":
        _identity_trigger(f"WHEN ({IDENTITY_CHANGED}) ")
        op.execute("ALTER TABLE ledger_accounts SET (fillfactor = 70)")


def downgrade() -> None:
    """Downgrade schema."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE ledger_accounts RESET (fillfactor)")
        _identity_trigger("")
    op.create_index("ix_ledger_entries_transfer_id", "ledger_entries", ["transfer_id"], unique=False)
    for table, name, columns, unique, _column in PARTIAL:
        op.drop_index(name, table_name=table)
        op.create_index(name, table, columns, unique=unique)
