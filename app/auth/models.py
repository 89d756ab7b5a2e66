"""Sign-in identities, server-side sessions, role grants and invitations (one-time password links)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, Id, utcnow
from app.people.models import Member
from app.places.models import OrgUnit


class User(Base):
    """A member who can sign in. Every member may have one; the password is an argon2id hash."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("districts.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(200))
    password_changed_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    member: Mapped[Member] = relationship()
    grants: Mapped[list[RoleGrant]] = relationship(
        back_populates="user", foreign_keys="RoleGrant.user_id", order_by="RoleGrant.granted_at"
    )


class UserSession(Base):
    """One signed-in browser. The cookie carries only `token`; revoking the row signs it out."""

    __tablename__ = "user_sessions"
    __table_args__ = (Index("ix_user_sessions_user_id", "user_id"),)

    token: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # Last request seen (written at most once a minute): the idle timeout counts from here.
    last_seen_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)
    revoked_why: Mapped[str | None] = mapped_column(String(32))
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(300))

    user: Mapped[User] = relationship()


class RoleGrant(Base):
    """A role held by a user, scoped to an org-unit subtree for scoped roles. Revoking keeps the row."""

    __tablename__ = "role_grants"
    __table_args__ = (
        Index("ix_role_grants_user_id", "user_id"),
        CheckConstraint("revoked_at IS NULL OR revoked_at >= granted_at", name="revoked_after_granted"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("districts.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    role: Mapped[str] = mapped_column(String(32))
    org_unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"))
    # A place below the unit that narrows the grant (an outlet: "o7/"), appended to the unit's path; the
    # area that owns such places grants these (app/outlets). None: the whole subtree of the unit.
    scope_suffix: Mapped[str | None] = mapped_column(String(40))
    granted_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    granted_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)
    revoked_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    user: Mapped[User] = relationship(back_populates="grants", foreign_keys=[user_id])
    org_unit: Mapped[OrgUnit | None] = relationship()

    @property
    def active(self) -> bool:
        return self.revoked_at is None


class Invitation(Base):
    """A one-time link with which a member sets their own password: `activate` for a first password,
    `reset` after an administrator's reset. Only the SHA-256 of the link's token is stored."""

    __tablename__ = "invitations"
    __table_args__ = (
        Index("ix_invitations_user_id", "user_id"),
        CheckConstraint("purpose IN ('activate', 'reset')", name="purpose"),
        CheckConstraint("expires_at > created_at", name="expires_after_created"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("districts.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    purpose: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # None: the CLI
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    used_at: Mapped[datetime | None] = mapped_column(DateTime)
    withdrawn_at: Mapped[datetime | None] = mapped_column(DateTime)

    user: Mapped[User] = relationship(foreign_keys=[user_id])


class FormKey(Base):
    """A form's one-time key (app/forms.OnceForm), spent in the transaction of what the form did: the
    same form sent twice — a double tap, a replayed POST, a confirmed list sent again — finds its key
    spent and does nothing the second time. Kept as a record of what was sent when."""

    __tablename__ = "form_keys"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("districts.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    spent_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
