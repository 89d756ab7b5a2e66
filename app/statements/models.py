"""The signed statements as stored: append-only (the database refuses edits and deletions)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, Id


class LedgerStatement(Base):
    """One district's signed fund and ledger statement (app/statements/services.py), kept so auditors
    can download every one ever issued."""

    __tablename__ = "ledger_statements"
    __table_args__ = (
        # The month-end job issues one per district and month, however often it runs.
        Index("uq_ledger_statements_tenant_kind_period", "tenant_id", "kind", "period", unique=True),
        Index("ix_ledger_statements_tenant_cutoff", "tenant_id", "cutoff_at"),
        CheckConstraint("kind IN ('month_end', 'on_demand')", name="kind"),
        CheckConstraint("(kind = 'month_end') = (period IS NOT NULL)", name="period_for_month_end"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    # A ledger tenant, usually a district; not a foreign key, as in the ledger's own tables.
    tenant_id: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(16))
    period: Mapped[str | None] = mapped_column(String(7))  # "2026-11" (a Beijing month) for a month-end statement
    cutoff_at: Mapped[datetime] = mapped_column(DateTime)  # naive UTC, as in the document
    issued_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    accounts: Mapped[int] = mapped_column(Integer)
    entries: Mapped[int] = mapped_column(BigInteger)
    key_fingerprint: Mapped[str] = mapped_column(String(80))
    sha256: Mapped[str] = mapped_column(String(64))  # of `document`, the bytes an auditor downloads
    document: Mapped[str] = mapped_column(Text)  # the signed statement: canonical JSON
