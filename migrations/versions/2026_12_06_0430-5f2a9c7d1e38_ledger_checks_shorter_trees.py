"""ledger: five CHECK constraints in forms PostgreSQL reads faster (PostgreSQL; same names, same refusals)

PostgreSQL 15 reads every CHECK constraint of a table from its stored expression tree (text) on each
statement that writes the table, then simplifies and compiles it: on a one-transfer post that is about a
sixth of the backend's instructions (callgrind; docs/ledger.md). An `IN ('a', 'b')` list over a varchar
column is stored as an array built from one coerced constant per value and cast to text[]; written as one
text[] constant (`col::text = ANY ('{a,b}'::text[])`) it is the same comparison in a tree a third the size,
with nothing left to fold. `a >= 0 AND b >= 0 AND c >= 0 AND d >= 0` over four NOT NULL columns is
`least(a, b, c, d) >= 0`. Names, and the rows each refuses, are unchanged (NULL included: an IN list and
= ANY both give NULL, and least() of the four NOT NULL totals is never NULL).

ledger/schema.py keeps the portable forms (SQLite's tables keep theirs: SQLite compiles a table's CHECKs
once per prepared statement). Each table is re-checked once against its new constraints (one scan each,
under the ALTER's lock).

Revision ID: 5f2a9c7d1e38
Revises: 8b1e4d2c6a57
Create Date: 2026-12-06 04:30:00

"""

from typing import Sequence, Union

from alembic import op


# revision identifiers, used by Alembic.
revision: str = "5f2a9c7d1e38"
down_revision: Union[str, Sequence[str], None] = "8b1e4d2c6a57"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

# (table, constraint, as created in 7ad0aaf243ef, the form PostgreSQL reads faster)
CHECKS = [
    (
        "ledger_accounts",
        "ck_ledger_accounts_normal_side",
        "normal IN ('debit', 'credit')",
        "normal::text = ANY ('{debit,credit}'::text[])",
    ),
    (
        "ledger_accounts",
        "ck_ledger_accounts_totals_not_negative",
        "debits_posted >= 0 AND credits_posted >= 0 AND debits_pending >= 0 AND credits_pending >= 0",
        "least(debits_posted, credits_posted, debits_pending, credits_pending) >= 0",
    ),
    (
        "ledger_journals",
        "ck_ledger_journals_resolution_kind",
        "resolution IS NULL OR resolution IN ('post', 'void')",
        "resolution IS NULL OR resolution::text = ANY ('{post,void}'::text[])",
    ),
    (
        "ledger_transfers",
        "ck_ledger_transfers_phase_kind",
        "phase IN ('posted', 'pending', 'post', 'void')",
        "phase::text = ANY ('{posted,pending,post,void}'::text[])",
    ),
    (
        "ledger_transfers",
        "ck_ledger_transfers_resolution_names_transfer",
        "(phase IN ('post', 'void')) = (pending_transfer_id IS NOT NULL)",
        "(phase::text = ANY ('{post,void}'::text[])) = (pending_transfer_id IS NOT NULL)",
    ),
]


def _replace(which: int) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in dict.fromkeys(t for t, *_ in CHECKS):
        changes = ", ".join(
            f"DROP CONSTRAINT {name}, ADD CONSTRAINT {name} CHECK ({forms[which]})"
            for t, name, *forms in CHECKS
            if t == table
        )
        op.execute(f"ALTER TABLE {table} {changes}")


def upgrade() -> None:
    """Upgrade schema."""
    _replace(1)


def downgrade() -> None:
    """Downgrade schema."""
    _replace(0)
