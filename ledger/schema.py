"""The ledger's tables, as SQLAlchemy Core. Alembic migrations create them; nothing else does."""

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets BIGINT identity.
Id = BigInteger().with_variant(Integer(), "sqlite")

# The posted balance in the account's normal sign, and what is still free to spend.
_OVERDRAFT_ROOM = (
    "CASE WHEN normal = 'credit' "
    "THEN credits_posted - debits_posted - debits_pending "
    "ELSE debits_posted - credits_posted - credits_pending END"
)

accounts = Table(
    "ledger_accounts",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("tenant_id", BigInteger, nullable=False),
    Column("code", String(200), nullable=False),
    Column("unit", String(8), nullable=False),
    Column("normal", String(6), nullable=False),
    Column("no_overdraft", Boolean, nullable=False),
    Column("closed", Boolean, nullable=False, default=False),
    Column("debits_posted", BigInteger, nullable=False, default=0),
    Column("credits_posted", BigInteger, nullable=False, default=0),
    Column("debits_pending", BigInteger, nullable=False, default=0),
    Column("credits_pending", BigInteger, nullable=False, default=0),
    # Head of this account's hash chain: how many entries it has and the last entry's hash.
    Column("entry_count", BigInteger, nullable=False, default=0),
    Column("head_hash", LargeBinary(32), nullable=False),
    Column("created_at", DateTime, nullable=False),
    UniqueConstraint("tenant_id", "code"),
    # Transfers reference (id, unit) so the database refuses a transfer across units.
    UniqueConstraint("id", "unit"),
    # On PostgreSQL five of the ledger's CHECKs are stored in equivalent forms it reads faster on every write
    # (migration 5f2a9c7d1e38: normal_side, totals_not_negative, resolution_kind, phase_kind,
    # resolution_names_transfer); the portable forms here are what SQLite keeps.
    CheckConstraint("normal IN ('debit', 'credit')", name="normal_side"),
    CheckConstraint(
        "debits_posted >= 0 AND credits_posted >= 0 AND debits_pending >= 0 AND credits_pending >= 0",
        name="totals_not_negative",
    ),
    CheckConstraint(f"NOT no_overdraft OR ({_OVERDRAFT_ROOM}) >= 0", name="no_overdraft"),
    CheckConstraint(
        "NOT closed OR (debits_posted = credits_posted AND debits_pending = 0 AND credits_pending = 0)",
        name="closed_at_zero",
    ),
    # Every post rewrites two account rows. Room left on each page lets PostgreSQL put the new version
    # beside the old one (a HOT update: no index entries, less WAL) even while a long snapshot (an
    # autovacuum ANALYZE, a report) keeps the old versions from being pruned; with full pages such an
    # update moves the row and inserts into all three of the table's indexes.
    postgresql_with={"fillfactor": 70},
)

journals = Table(
    "ledger_journals",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("tenant_id", BigInteger, nullable=False),
    Column("kind", String(64), nullable=False),
    Column("key", String(200), nullable=True),
    Column("memo", Text, nullable=False, default=""),
    Column("pending", Boolean, nullable=False, default=False),
    Column("expires_at", DateTime, nullable=True),
    Column("effective_at", DateTime, nullable=True),
    Column("meta", JSON, nullable=True),
    # A journal that posts or voids a pending one names it here; at most one may.
    Column("resolves_id", Id, ForeignKey("ledger_journals.id"), nullable=True),
    Column("resolution", String(4), nullable=True),
    # A reversal names the journal it reverses; at most one may.
    Column("reverses_id", Id, ForeignKey("ledger_journals.id"), nullable=True),
    Column("request_hash", LargeBinary(32), nullable=False),
    Column("created_at", DateTime, nullable=False),
    CheckConstraint("resolution IS NULL OR resolution IN ('post', 'void')", name="resolution_kind"),
    CheckConstraint("(resolves_id IS NULL) = (resolution IS NULL)", name="resolution_names_journal"),
    CheckConstraint("NOT (pending AND (resolves_id IS NOT NULL OR reverses_id IS NOT NULL))", name="pending_is_new"),
    Index("uq_ledger_journals_tenant_id_key", "tenant_id", "key", unique=True),
    # Partial: only a resolution, a reversal or a journal that can expire has these columns set, so the
    # commonest journal (a plain post) adds no entry to these indexes. NULLs never collided in them, so
    # they refuse exactly what the full indexes refused; a lookup by value (resolves_id = ?, expires_at
    # <= ?) implies the index's condition and still uses it.
    Index(
        "uq_ledger_journals_resolves_id",
        "resolves_id",
        unique=True,
        postgresql_where=text("resolves_id IS NOT NULL"),
        sqlite_where=text("resolves_id IS NOT NULL"),
    ),
    Index(
        "uq_ledger_journals_reverses_id",
        "reverses_id",
        unique=True,
        postgresql_where=text("reverses_id IS NOT NULL"),
        sqlite_where=text("reverses_id IS NOT NULL"),
    ),
    Index(
        "ix_ledger_journals_pending_expiry",
        "tenant_id",
        "expires_at",
        postgresql_where=text("expires_at IS NOT NULL"),
        sqlite_where=text("expires_at IS NOT NULL"),
    ),
)

transfers = Table(
    "ledger_transfers",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("journal_id", Id, ForeignKey("ledger_journals.id"), nullable=False),
    Column("debit_account_id", Id, nullable=False),
    Column("credit_account_id", Id, nullable=False),
    Column("unit", String(8), nullable=False),
    Column("amount", BigInteger, nullable=False),
    # posted | pending | post (posts a pending transfer) | void (releases one)
    Column("phase", String(8), nullable=False),
    Column("pending_transfer_id", Id, ForeignKey("ledger_transfers.id"), nullable=True),
    ForeignKeyConstraint(["debit_account_id", "unit"], ["ledger_accounts.id", "ledger_accounts.unit"]),
    ForeignKeyConstraint(["credit_account_id", "unit"], ["ledger_accounts.id", "ledger_accounts.unit"]),
    CheckConstraint("amount > 0", name="amount_positive"),
    CheckConstraint("debit_account_id <> credit_account_id", name="two_accounts"),
    CheckConstraint("phase IN ('posted', 'pending', 'post', 'void')", name="phase_kind"),
    CheckConstraint(
        "(phase IN ('post', 'void')) = (pending_transfer_id IS NOT NULL)", name="resolution_names_transfer"
    ),
    Index("ix_ledger_transfers_journal_id", "journal_id"),
    # A pending transfer is posted or voided once (partial, as the journals' resolves_id index).
    Index(
        "uq_ledger_transfers_pending_transfer_id",
        "pending_transfer_id",
        unique=True,
        postgresql_where=text("pending_transfer_id IS NOT NULL"),
        sqlite_where=text("pending_transfer_id IS NOT NULL"),
    ),
)

# One row per account touched by a transfer: the account's own hash-chained history, with the
# posted balance after it, so statements and balance_at are index range reads.
entries = Table(
    "ledger_entries",
    metadata,
    Column("account_id", Id, ForeignKey("ledger_accounts.id"), primary_key=True),
    Column("seq", BigInteger, primary_key=True),
    Column("transfer_id", Id, ForeignKey("ledger_transfers.id"), nullable=False),
    Column("journal_id", Id, nullable=False),
    # Change to the posted and pending balances, in the account's normal sign.
    Column("posted_delta", BigInteger, nullable=False),
    Column("pending_delta", BigInteger, nullable=False),
    Column("balance_after", BigInteger, nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("hash", LargeBinary(32), nullable=False),
    CheckConstraint("seq >= 1", name="seq_positive"),
    # (No index on transfer_id: every read goes from an entry to its transfer by the transfers' key, and
    # the foreign key's referenced side never needs one — transfers are never updated or deleted, their
    # triggers refuse it. An unread index would cost every post two index entries.)
    Index("ix_ledger_entries_account_time", "account_id", "created_at"),
)

APPEND_ONLY_TABLES = ("ledger_journals", "ledger_transfers", "ledger_entries")
