"""The audit log refuses TRUNCATE on PostgreSQL, as the ledger's tables do.

UPDATE and DELETE were already refused (a row trigger, or on SQLite a RAISE(ABORT) trigger); a
TRUNCATE skips row triggers, so it needs its own statement trigger. SQLite has no TRUNCATE (its
"DELETE FROM" without WHERE fires the DELETE trigger already).

Revision ID: 3b1f0c9a7d21
Revises: e170f459e985
Create Date: 2026-12-01 23:55:00

"""
from typing import Sequence, Union

from alembic import op


# revision identifiers, used by Alembic.
revision: str = '3b1f0c9a7d21'
down_revision: Union[str, Sequence[str], None] = 'e170f459e985'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events "
            "FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change()"
        )


def downgrade() -> None:
    """Downgrade schema."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_truncate ON audit_events")
