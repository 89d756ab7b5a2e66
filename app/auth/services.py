"""Sign-in, sign-out, passwords, suspension and role grants: the rules, without HTTP."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from flask_babel import gettext as _
from sqlalchemy import select, update
from sqlalchemy.orm import Session, selectinload

from app.audit.services import record
from app.db import utcnow
from app.errors import Conflict, NotFound, ValidationFailed
from app.people.models import Member
from app.places.models import OrgUnit

from .models import RoleGrant, User, UserSession
from .passwords import hash_password, needs_rehash, password_problem, verify_password
from app.access import ROLE_KINDS, Scope


class SignInFailed(Exception):
    """Wrong mobile or password, or an account that may not sign in. The message never says which."""


@dataclass
class Principal:
    """The signed-in user as the permission check sees it (Flask-Login's user object)."""

    token: str
    user_id: int
    member_id: int
    tenant_id: int
    name: str
    scopes: list[Scope] = field(default_factory=list)
    is_authenticated: bool = True
    is_active: bool = True
    is_anonymous: bool = False

    def get_id(self) -> str:
        return self.token

    @property
    def roles(self) -> list[str]:
        return sorted({s.role for s in self.scopes})


def load_principal(session: Session, token: str) -> Principal | None:
    row = session.execute(
        select(UserSession, User, Member)
        .join(User, User.id == UserSession.user_id)
        .join(Member, Member.id == User.member_id)
        .where(UserSession.token == token)
    ).first()
    if row is None:
        return None
    us, user, member = row
    if us.revoked_at is not None or member.status != "active":
        return None
    scopes = [
        Scope(g.role, g.org_unit.path if g.org_unit is not None else None)
        for g in session.scalars(
            select(RoleGrant).options(selectinload(RoleGrant.org_unit))
            .where(RoleGrant.user_id == user.id, RoleGrant.revoked_at.is_(None))
        )
        if g.role in ROLE_KINDS and (g.org_unit is None or g.org_unit.retired_at is None)
    ]
    return Principal(token=token, user_id=user.id, member_id=member.id, tenant_id=user.tenant_id,
                     name=member.name, scopes=scopes)


def sign_in(session: Session, tenant_id: int, mobile: str, password: str, *, ip: str | None = None,
            user_agent: str | None = None) -> Principal:
    """Check the password and open a new server-side session (a new token each time: rotation)."""
    row = session.execute(
        select(User, Member).join(Member, Member.id == User.member_id)
        .where(Member.tenant_id == tenant_id, Member.mobile == mobile.strip())
    ).first()
    user, member = row if row else (None, None)
    ok = verify_password(user.password_hash if user else None, password)
    if not ok or member.status != "active":
        reason = "unknown_mobile" if user is None else ("wrong_password" if not ok else f"member_{member.status}")
        record_failure(session, tenant_id, user.id if user else None, mobile, reason, ip)
        raise SignInFailed(_("Wrong mobile number or password."))
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    record(session, "signin.success", tenant_id=tenant_id, actor_user_id=user.id, target_type="user",
           target_id=user.id, ip=ip)
    return open_session(session, user.id, ip=ip, user_agent=user_agent)


def open_session(session: Session, user_id: int, *, ip: str | None = None, user_agent: str | None = None) -> Principal:
    """A new server-side session with a fresh random token."""
    us = UserSession(token=secrets.token_urlsafe(32), user_id=user_id, created_at=utcnow(), ip=ip,
                     user_agent=(user_agent or "")[:300])
    session.add(us)
    session.flush()
    return load_principal(session, us.token)


def record_failure(session: Session, tenant_id: int | None, user_id: int | None, mobile: str, reason: str,
                   ip: str | None) -> None:
    """Failed sign-ins are kept although the request answers 401 (the view asks the request to commit)."""
    record(session, "signin.failure", tenant_id=tenant_id, actor_user_id=user_id, target_type="user",
           target_id=user_id, ip=ip, detail={"mobile_tail": mobile.strip()[-4:], "reason": reason})


def sign_out(session: Session, token: str) -> None:
    us = session.get(UserSession, token)
    if us is not None and us.revoked_at is None:
        us.revoked_at, us.revoked_why = utcnow(), "sign_out"
        record(session, "signout", tenant_id=us.user.tenant_id, actor_user_id=us.user_id, target_type="user",
               target_id=us.user_id)


def revoke_sessions(session: Session, user_id: int, why: str, keep: str | None = None) -> int:
    q = update(UserSession).where(UserSession.user_id == user_id, UserSession.revoked_at.is_(None))
    if keep:
        q = q.where(UserSession.token != keep)
    return session.execute(q.values(revoked_at=utcnow(), revoked_why=why)).rowcount


def end_sessions_of_deactivated(session: Session, member: Member, status: str, **kwargs) -> None:
    """`member_deactivated` receiver: a suspended member, or one who left, is signed out everywhere."""
    user_id = session.scalar(select(User.id).where(User.member_id == member.id))
    if user_id:
        revoke_sessions(session, user_id, status)


def user_for_member(session: Session, member: Member) -> User:
    user = session.scalar(select(User).where(User.member_id == member.id))
    if user is None:
        user = User(tenant_id=member.tenant_id, member_id=member.id, created_at=utcnow())
        session.add(user)
        session.flush()
    return user


def set_password(session: Session, member: Member, password: str, *, actor_user_id: int | None = None) -> User:
    problem = password_problem(password, mobile=member.mobile)
    if problem:
        raise ValidationFailed(problem, field="password")
    user = user_for_member(session, member)
    user.password_hash = hash_password(password)
    user.password_changed_at = utcnow()
    revoke_sessions(session, user.id, "password_change")
    record(session, "password.change", tenant_id=member.tenant_id, actor_user_id=actor_user_id,
           target_type="user", target_id=user.id)
    return user


def change_password(session: Session, principal: Principal, current: str, new: str, *, ip: str | None = None,
                    user_agent: str | None = None) -> Principal:
    """Every session of the user is revoked (a copied cookie stops working); this browser gets a new one."""
    user = session.get(User, principal.user_id)
    if not verify_password(user.password_hash, current):
        raise ValidationFailed(_("The current password is not right."), field="current_password")
    member = session.get(Member, principal.member_id)
    set_password(session, member, new, actor_user_id=user.id)
    return open_session(session, user.id, ip=ip, user_agent=user_agent)


def grant_role(session: Session, principal: Principal, member: Member, role: str,
               org_unit: OrgUnit | None = None) -> RoleGrant:
    kind = ROLE_KINDS.get(role)
    if kind is None:
        raise ValidationFailed(_("Unknown role %(role)s.", role=role), field="role")
    if kind.scope == "org_unit" and org_unit is None:
        raise ValidationFailed(_("This role needs an org unit as its scope."), field="org_unit_id")
    if kind.scope is None:
        org_unit = None
    if org_unit is not None and org_unit.tenant_id != member.tenant_id:
        raise NotFound(_("No such org unit."))
    user = user_for_member(session, member)
    same_scope = RoleGrant.org_unit_id == org_unit.id if org_unit else RoleGrant.org_unit_id.is_(None)
    existing = session.scalar(select(RoleGrant).where(
        RoleGrant.user_id == user.id, RoleGrant.role == role, RoleGrant.revoked_at.is_(None), same_scope))
    if existing is not None:
        raise Conflict(_("%(name)s already holds this role here.", name=member.name))
    grant = RoleGrant(tenant_id=member.tenant_id, user_id=user.id, role=role,
                      org_unit_id=org_unit.id if org_unit else None,
                      granted_by_user_id=principal.user_id if principal else None, granted_at=utcnow())
    session.add(grant)
    session.flush()
    record(session, "role.grant", tenant_id=member.tenant_id, actor_user_id=principal.user_id if principal else None,
           target_type="user", target_id=user.id,
           detail={"role": role, "org_unit_id": grant.org_unit_id, "member_id": member.id})
    return grant


def revoke_role(session: Session, principal: Principal, grant: RoleGrant) -> None:
    if grant.revoked_at is not None:
        return
    grant.revoked_at, grant.revoked_by_user_id = utcnow(), principal.user_id
    record(session, "role.revoke", tenant_id=grant.tenant_id, actor_user_id=principal.user_id,
           target_type="user", target_id=grant.user_id, detail={"role": grant.role, "org_unit_id": grant.org_unit_id})
