"""Issued service record certificates (志愿服务记录证明): what each one certified, as a snapshot."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, CheckConstraint, Date, DateTime, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, Id, utcnow
from app.people.models import Member


class Certificate(Base):
    """One issued certificate. Rows are never changed: the PDF is re-made from this snapshot on every
    download (reportlab's invariant mode makes the same bytes, so `pdf_sha256` still matches)."""

    __tablename__ = "certificates"
    __table_args__ = (
        UniqueConstraint("code"),
        CheckConstraint("period_from <= period_to", name="period_in_order"),
        CheckConstraint("total_minutes >= 0", name="total_not_negative"),
        Index("ix_certificates_tenant_member", "tenant_id", "member_id"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("districts.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    code: Mapped[str] = mapped_column(String(10))
    period_from: Mapped[date] = mapped_column(Date)  # Beijing dates, both included
    period_to: Mapped[date] = mapped_column(Date)
    issuer_unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"))  # None: the district
    issuer_name: Mapped[str] = mapped_column(String(200))
    # What the certificate says about the volunteer, kept as printed (the member's record may change later).
    holder_name: Mapped[str] = mapped_column(String(64))
    holder_id_masked: Mapped[str | None] = mapped_column(String(18))
    total_minutes: Mapped[int] = mapped_column(Integer)
    # [{"attendance_id", "date" (Beijing, ISO), "title", "place", "minutes"}], oldest first
    lines: Mapped[list] = mapped_column(JSON)
    verify_url: Mapped[str] = mapped_column(String(300))
    issued_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    issued_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)  # UTC
    pdf_sha256: Mapped[str] = mapped_column(String(64))

    member: Mapped[Member] = relationship()

    # The permission check sees a certificate where its member is: their own, or an admin's over them.
    view_action = "member.view"

    @property
    def scope_path(self) -> str | None:
        return self.member.scope_path

    @property
    def owner_member_id(self) -> int:
        return self.member_id

    @property
    def activity_count(self) -> int:
        return len(self.lines)
