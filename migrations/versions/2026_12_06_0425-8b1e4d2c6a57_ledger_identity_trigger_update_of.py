"""ledger: the account identity trigger fires only for an UPDATE that names an identity column (PostgreSQL)

ledger_accounts_identity_fixed refuses a change of an account's tenant, code, unit, normal side or
no_overdraft, and a reopening. Since 57df64508350 it has a WHEN condition, but PostgreSQL still reads that
condition from its stored text, simplifies and compiles it on every statement that updates the table: each
post's balance update paid for it (about 5% of the backend's instructions per one-transfer post, measured
with callgrind; docs/ledger.md). As `BEFORE UPDATE OF tenant_id, code, unit, normal, no_overdraft, closed`
the trigger is considered only when the UPDATE names one of those columns (a balance update names none),
and then its WHEN condition and function refuse exactly what they refused before. A column an UPDATE does
not name keeps its value (no other BEFORE UPDATE row trigger on ledger_accounts changes NEW, and none of
these columns is generated), so every change the trigger refused is still refused.

SQLite compiles a trigger into each prepared statement once, so its trigger stays as it is.

Revision ID: 8b1e4d2c6a57
Revises: 57df64508350
Create Date: 2026-12-06 04:25:00

"""

from typing import Sequence, Union

from alembic import op


# revision identifiers, used by Alembic.
revision: str = "8b1e4d2c6a57"
down_revision: Union[str, Sequence[str], None] = "57df64508350"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

# As in 57df64508350 (the function tests the same condition).
IDENTITY_CHANGED = (
    "NEW.tenant_id <> OLD.tenant_id OR NEW.code <> OLD.code OR NEW.unit <> OLD.unit "
    "OR NEW.normal <> OLD.normal OR NEW.no_overdraft <> OLD.no_overdraft OR (OLD.closed AND NOT NEW.closed)"
)
IDENTITY_COLUMNS = "tenant_id, code, unit, normal, no_overdraft, closed"


def _identity_trigger(event: str) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER ledger_accounts_identity_fixed ON ledger_accounts")
    op.execute(
        f"CREATE TRIGGER ledger_accounts_identity_fixed BEFORE {event} ON ledger_accounts "
        f"FOR EACH ROW WHEN ({IDENTITY_CHANGED}) EXECUTE FUNCTION ledger_account_identity_fixed()"
    )


def upgrade() -> None:
    """Upgrade schema."""
    _identity_trigger(f"UPDATE OF {IDENTITY_COLUMNS}")


def downgrade() -> None:
    """Downgrade schema."""
    _identity_trigger("UPDATE")
