"""Sign-in, sign-out, passwords, suspension and role grants: the rules, without HTTP."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import cast

from flask_babel import gettext as _
from sqlalchemy import CursorResult, and_, bindparam, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from app.access import ROLE_KINDS, Principal, Scope, scopes_for
from app.audit.services import record
from app.db import FixedStatement, utcnow
from app.errors import Conflict, Forbidden, NotFound, ValidationFailed
from app.people.labels import ACTIVE
from app.people.models import Member
from app.places.models import OrgUnit

from .models import FormKey, Invitation, RoleGrant, User, UserSession
from .passwords import hash_password, needs_rehash, password_problem, verify_password


class SignInFailed(Exception):
    """Wrong mobile or password, or an account that may not sign in. The message never says which."""


class SessionExpired(Exception):
    """The session was idle too long or is older than its lifetime; it has now been revoked."""

    def __init__(self, why: str):
        super().__init__(why)
        self.why = why  # "idle_timeout" | "lifetime"


# last_seen_at is written at most this often, so a busy page costs no write per request.
TOUCH_EVERY = timedelta(minutes=1)


# The signed-in request's one query: session, user, member and live grants (with their units) in one
# round trip, in Core (no ORM objects to build). Built and compiled once, run on the DBAPI cursor
# (app/db.FixedStatement): every signed-in request pays for it.
_us, _u, _m = UserSession.__table__, User.__table__, Member.__table__
_g, _ou = RoleGrant.__table__, OrgUnit.__table__
_PRINCIPAL = FixedStatement(
    select(
        _us.c.created_at,
        _us.c.last_seen_at,
        _us.c.revoked_at,
        _u.c.id.label("user_id"),
        _u.c.tenant_id,
        _m.c.id.label("member_id"),
        _m.c.name,
        _m.c.status,
        _g.c.role,
        _g.c.org_unit_id,
        _g.c.scope_suffix,
        _ou.c.path,
        _ou.c.retired_at,
    )
    .select_from(
        _us.join(_u, _u.c.id == _us.c.user_id)
        .join(_m, _m.c.id == _u.c.member_id)
        .outerjoin(_g, and_(_g.c.user_id == _u.c.id, _g.c.revoked_at.is_(None)))
        .outerjoin(_ou, _ou.c.id == _g.c.org_unit_id)
    )
    .where(_us.c.token == bindparam("token"))
    .order_by(_g.c.id)
)


def load_principal(
    session: Session,
    token: str,
    *,
    idle: timedelta | None = None,
    lifetime: timedelta | None = None,
    now: datetime | None = None,
) -> Principal | None:
    """The signed-in user for a session token, or None. With `idle` / `lifetime`, a session unused for
    `idle` or opened more than `lifetime` ago is revoked and SessionExpired raised.

    Every call reads the session row, the member's status and the live grants from the database (one
    query), so a sign-out, a suspension or a revoked role stops the very next request in every process:
    nothing about who may do what is cached between requests."""
    rows = _PRINCIPAL.rows(session.connection(), {"token": token})
    if not rows:
        return None
    first = rows[0]
    if first.revoked_at is not None or first.status != ACTIVE:
        return None
    if idle is not None or lifetime is not None:
        _check_and_touch(session, token, first, idle, lifetime, now or utcnow())
    scopes = [
        Scope(r.role, (r.path + (r.scope_suffix or "")) if r.org_unit_id is not None else None)
        for r in rows
        if r.role is not None and r.role in ROLE_KINDS and (r.org_unit_id is None or r.retired_at is None)
    ]
    return Principal(
        token=token,
        user_id=first.user_id,
        member_id=first.member_id,
        tenant_id=first.tenant_id,
        name=first.name,
        scopes=scopes,
    )


def _check_and_touch(
    session: Session, token: str, us, idle: timedelta | None, lifetime: timedelta | None, now: datetime
) -> None:
    """`us`: the session's created_at and last_seen_at, its user_id and tenant_id."""
    last_seen = us.last_seen_at or us.created_at
    why = (
        "lifetime"
        if lifetime is not None and now - us.created_at >= lifetime
        else "idle_timeout"
        if idle is not None and now - last_seen >= idle
        else None
    )
    if why is None and now - last_seen < TOUCH_EVERY:
        return
    values = {"revoked_at": now, "revoked_why": why} if why else {"last_seen_at": now}
    try:
        # A savepoint: on SQLite a page view's read transaction may not get the write lock at once;
        # the bookkeeping is then skipped (the expiry itself is decided from the timestamps above).
        with session.begin_nested():
            session.execute(
                update(UserSession)
                .where(UserSession.token == token, UserSession.revoked_at.is_(None))
                .values(**values),
                execution_options={"synchronize_session": False},
            )
            if why:
                record(
                    session,
                    "session.expired",
                    tenant_id=us.tenant_id,
                    actor_user_id=us.user_id,
                    target_type="user",
                    target_id=us.user_id,
                    detail={"why": why},
                )
    except OperationalError:
        pass
    if why:
        raise SessionExpired(why)


def sign_in(
    session: Session,
    tenant_id: int,
    mobile: str,
    password: str,
    *,
    ip: str | None = None,
    user_agent: str | None = None,
) -> Principal:
    """Check the password and open a new server-side session (a new token each time: rotation)."""
    row = session.execute(
        select(User, Member)
        .join(Member, Member.id == User.member_id)
        .where(Member.tenant_id == tenant_id, Member.mobile == mobile.strip())
    ).first()
    user, member = row if row else (None, None)
    ok = verify_password(user.password_hash if user else None, password)
    if user is None or member is None or not ok or not member.is_active:  # no user: never ok
        reason = (
            "unknown_mobile"
            if user is None or member is None
            else ("wrong_password" if not ok else f"member_{member.status}")
        )
        record_failure(session, tenant_id, user.id if user else None, mobile, reason, ip)
        raise SignInFailed(_("Wrong mobile number or password."))
    assert user.password_hash is not None  # it verified the password
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    record(
        session,
        "signin.success",
        tenant_id=tenant_id,
        actor_user_id=user.id,
        target_type="user",
        target_id=user.id,
        ip=ip,
    )
    return open_session(session, user.id, ip=ip, user_agent=user_agent)


def open_session(session: Session, user_id: int, *, ip: str | None = None, user_agent: str | None = None) -> Principal:
    """A new server-side session with a fresh random token."""
    now = utcnow()
    us = UserSession(
        token=secrets.token_urlsafe(32),
        user_id=user_id,
        created_at=now,
        last_seen_at=now,
        ip=ip,
        user_agent=(user_agent or "")[:300],
    )
    session.add(us)
    session.flush()
    principal = load_principal(session, us.token)
    assert principal is not None  # a fresh session, opened only for an active member
    return principal


def record_failure(
    session: Session, tenant_id: int | None, user_id: int | None, mobile: str, reason: str, ip: str | None
) -> None:
    """Failed sign-ins are kept although the request answers 401 (the view asks the request to commit)."""
    record(
        session,
        "signin.failure",
        tenant_id=tenant_id,
        actor_user_id=user_id,
        target_type="user",
        target_id=user_id,
        ip=ip,
        detail={"mobile_tail": mobile.strip()[-4:], "reason": reason},
    )


def sign_out(session: Session, token: str) -> None:
    us = session.get(UserSession, token)
    if us is not None and us.revoked_at is None:
        us.revoked_at, us.revoked_why = utcnow(), "sign_out"
        record(
            session,
            "signout",
            tenant_id=us.user.tenant_id,
            actor_user_id=us.user_id,
            target_type="user",
            target_id=us.user_id,
        )


def revoke_sessions(session: Session, user_id: int, why: str, keep: str | None = None) -> int:
    q = update(UserSession).where(UserSession.user_id == user_id, UserSession.revoked_at.is_(None))
    if keep:
        q = q.where(UserSession.token != keep)
    return cast(CursorResult, session.execute(q.values(revoked_at=utcnow(), revoked_why=why))).rowcount


def held_role_scopes(session: Session, member: Member) -> list[tuple[str, str | None]]:
    """The member's live role grants as (role, subtree path or None for district-wide)."""
    rows = session.execute(
        select(RoleGrant.role, OrgUnit.path, OrgUnit.retired_at)
        .join(User, User.id == RoleGrant.user_id)
        .outerjoin(OrgUnit, OrgUnit.id == RoleGrant.org_unit_id)
        .where(User.member_id == member.id, RoleGrant.revoked_at.is_(None))
    )
    # A grant on a retired unit confers nothing (load_principal ignores it), so it protects nothing either.
    return [(role, path) for role, path, retired_at in rows if role in ROLE_KINDS and retired_at is None]


def refuse_change_beyond_reach(session: Session, member: Member, actor, **kwargs) -> None:
    """`member_changing` receiver: a member who holds roles may be changed only by someone whose
    member.edit reach covers each role's scope — a district-wide role only by a district-wide editor, a
    subtree role only by an editor whose subtree contains it."""
    reach = [s.path for s in scopes_for(actor, "member.edit")]
    for role, path in held_role_scopes(session, member):
        covered = any(r is None or (path is not None and path.startswith(r)) for r in reach)
        if not covered:
            raise Forbidden(
                _(
                    "%(name)s holds the role “%(role)s”, which reaches beyond what you manage: only an "
                    "administrator whose area covers that role may change this member.",
                    name=member.name,
                    role=str(ROLE_KINDS[role].label),
                )
            )


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
        raise ValidationFailed(problem, field="new_password")
    user = user_for_member(session, member)
    user.password_hash = hash_password(password)
    user.password_changed_at = utcnow()
    revoke_sessions(session, user.id, "password_change")
    record(
        session,
        "password.change",
        tenant_id=member.tenant_id,
        actor_user_id=actor_user_id,
        target_type="user",
        target_id=user.id,
    )
    return user


def change_password(
    session: Session,
    principal: Principal,
    current: str,
    new: str,
    *,
    ip: str | None = None,
    user_agent: str | None = None,
) -> Principal:
    """Every session of the user is revoked (a copied cookie stops working); this browser gets a new one."""
    user = session.get(User, principal.user_id)
    assert user is not None  # the principal is signed in as this user
    if not verify_password(user.password_hash, current):
        raise ValidationFailed(_("The current password is not right."), field="current_password")
    if new == current:
        raise ValidationFailed(
            _("The new password is the same as the current one. Choose a different one."), field="new_password"
        )
    member = session.get(Member, principal.member_id)
    assert member is not None  # the principal's own member record
    set_password(session, member, new, actor_user_id=user.id)
    return open_session(session, user.id, ip=ip, user_agent=user_agent)


def grant_scope(
    role: str, org_unit: OrgUnit | None = None, scope_suffix: str | None = None
) -> tuple[OrgUnit | None, str | None]:
    """The unit and suffix a grant of `role` keeps (a district-wide kind keeps neither), or
    ValidationFailed when the role is unknown or its scope is missing. A page asks this before its
    confirmation step, so the question is only put for a grant that can be made."""
    kind = ROLE_KINDS.get(role)
    if kind is None:
        raise ValidationFailed(_("Unknown role %(role)s.", role=role), field="role")
    if kind.scope not in (None, "org_unit") and (org_unit is None or not scope_suffix):
        raise ValidationFailed(_("This role is granted on its outlet's page."), field="role")
    if kind.scope in (None, "org_unit"):
        scope_suffix = None
    if kind.scope == "org_unit" and org_unit is None:
        raise ValidationFailed(_("This role needs an org unit as its scope."), field="org_unit_id")
    if kind.scope is None:
        org_unit = None
    return org_unit, scope_suffix


def grant_role(
    session: Session,
    principal: Principal | None,
    member: Member,
    role: str,
    org_unit: OrgUnit | None = None,
    scope_suffix: str | None = None,
    scope_detail: dict | None = None,
) -> RoleGrant:
    """Give `member` the role `role`, scoped to `org_unit`'s subtree for scoped kinds. A kind scoped
    to a place below a unit (scope "outlet") needs `scope_suffix`, the place's segment under the unit,
    which only the area owning the place passes (app/outlets), with `scope_detail`: what the log says
    of that place instead of the raw segment ({"outlet_id": 21}, which the log shows by name)."""
    org_unit, scope_suffix = grant_scope(role, org_unit, scope_suffix)
    if org_unit is not None and org_unit.tenant_id != member.tenant_id:
        raise NotFound(_("No such org unit."))
    user = user_for_member(session, member)
    # A link made before this grant may have been made by someone who could not grant it (a grid
    # administrator may invite a volunteer): it must not become a way into the new role.
    withdraw_invitations(session, user.id)
    same_scope = RoleGrant.org_unit_id == org_unit.id if org_unit else RoleGrant.org_unit_id.is_(None)
    same_suffix = RoleGrant.scope_suffix == scope_suffix if scope_suffix else RoleGrant.scope_suffix.is_(None)
    existing = session.scalar(
        select(RoleGrant).where(
            RoleGrant.user_id == user.id,
            RoleGrant.role == role,
            RoleGrant.revoked_at.is_(None),
            same_scope,
            same_suffix,
        )
    )
    if existing is not None:
        raise Conflict(_("%(name)s already holds this role here.", name=member.name))
    grant = RoleGrant(
        tenant_id=member.tenant_id,
        user_id=user.id,
        role=role,
        org_unit_id=org_unit.id if org_unit else None,
        scope_suffix=scope_suffix,
        granted_by_user_id=principal.user_id if principal else None,
        granted_at=utcnow(),
    )
    session.add(grant)
    session.flush()
    record(
        session,
        "role.grant",
        tenant_id=member.tenant_id,
        actor_user_id=principal.user_id if principal else None,
        target_type="user",
        target_id=user.id,
        detail={
            "role": role,
            "org_unit_id": grant.org_unit_id,
            "member_id": member.id,
            **((scope_detail or {"scope": scope_suffix}) if scope_suffix else {}),
        },
    )
    return grant


def revoke_role(session: Session, principal: Principal, grant: RoleGrant) -> None:
    if grant.revoked_at is not None:
        return
    grant.revoked_at, grant.revoked_by_user_id = utcnow(), principal.user_id
    record(
        session,
        "role.revoke",
        tenant_id=grant.tenant_id,
        actor_user_id=principal.user_id,
        target_type="user",
        target_id=grant.user_id,
        detail={"role": grant.role, "org_unit_id": grant.org_unit_id},
    )


# ---- Invitations: one-time links with which a member sets their own password ----------------------


class InvitationInvalid(Exception):
    """The link is unknown, used, withdrawn or expired; the message never says which."""


def token_hash(token: str) -> str:
    # The token is 256 random bits: a plain SHA-256 is enough (no guessing to slow down).
    return hashlib.sha256(token.encode()).hexdigest()


def holds_roles(session: Session, member: Member) -> bool:
    return (
        session.scalar(
            select(RoleGrant.id)
            .join(User, User.id == RoleGrant.user_id)
            .where(User.member_id == member.id, RoleGrant.revoked_at.is_(None))
            .limit(1)
        )
        is not None
    )


def has_password(session: Session, member: Member) -> bool:
    return bool(session.scalar(select(User.password_hash).where(User.member_id == member.id)))


def withdraw_invitations(session: Session, user_id: int, now: datetime | None = None) -> int:
    return cast(
        CursorResult,
        session.execute(
            update(Invitation)
            .where(Invitation.user_id == user_id, Invitation.used_at.is_(None), Invitation.withdrawn_at.is_(None))
            .values(withdrawn_at=now or utcnow()),
            execution_options={"synchronize_session": False},
        ),
    ).rowcount


def create_invitation(
    session: Session, actor_user_id: int | None, member: Member, *, hours: int, ip: str | None = None
) -> tuple[Invitation, str]:
    """A new one-time link for `member`; returns the row and the token (shown once, never stored).

    `activate` when the member has no password yet; otherwise a `reset`: the current password stops
    working and every session is revoked at once (the member sets a new one with the link)."""
    if not member.is_active:
        raise ValidationFailed(_("Only an active member can be given a sign-in link."))
    user = user_for_member(session, member)
    now = utcnow()
    purpose = "reset" if user.password_hash else "activate"
    withdraw_invitations(session, user.id, now)
    if purpose == "reset":
        user.password_hash = None
        user.password_changed_at = now
        revoke_sessions(session, user.id, "password_reset")
    token = secrets.token_urlsafe(32)
    inv = Invitation(
        tenant_id=member.tenant_id,
        user_id=user.id,
        purpose=purpose,
        token_hash=token_hash(token),
        created_by_user_id=actor_user_id,
        created_at=now,
        expires_at=now + timedelta(hours=hours),
    )
    session.add(inv)
    session.flush()
    record(
        session,
        f"invitation.{purpose}",
        tenant_id=member.tenant_id,
        actor_user_id=actor_user_id,
        target_type="user",
        target_id=user.id,
        ip=ip,
        detail={"member_id": member.id, "invitation_id": inv.id, "expires_at": inv.expires_at.isoformat()},
    )
    return inv, token


def find_invitation(session: Session, token: str, now: datetime | None = None) -> tuple[Invitation, Member]:
    """The open invitation for a token, with its member; InvitationInvalid otherwise."""
    row = session.execute(
        select(Invitation, Member)
        .join(User, User.id == Invitation.user_id)
        .join(Member, Member.id == User.member_id)
        .where(Invitation.token_hash == token_hash(token or ""))
    ).first()
    now = now or utcnow()
    if row is None:
        raise InvitationInvalid()
    inv, member = row
    if inv.used_at is not None or inv.withdrawn_at is not None or inv.expires_at <= now or not member.is_active:
        raise InvitationInvalid()
    return inv, member


def accept_invitation(
    session: Session, token: str, password: str, *, ip: str | None = None, user_agent: str | None = None
) -> Principal:
    """Set the member's own password with the link (once) and sign them in on this browser."""
    inv, member = find_invitation(session, token)
    # Claim the link first: of two simultaneous uses only one updates the row.
    now = utcnow()
    claimed = cast(
        CursorResult,
        session.execute(
            update(Invitation)
            .where(Invitation.id == inv.id, Invitation.used_at.is_(None), Invitation.withdrawn_at.is_(None))
            .values(used_at=now),
            execution_options={"synchronize_session": False},
        ),
    ).rowcount
    if claimed != 1:
        raise InvitationInvalid()
    user = set_password(session, member, password, actor_user_id=inv.user_id)
    record(
        session,
        "invitation.use",
        tenant_id=member.tenant_id,
        actor_user_id=user.id,
        target_type="user",
        target_id=user.id,
        ip=ip,
        detail={"invitation_id": inv.id, "purpose": inv.purpose},
    )
    return open_session(session, user.id, ip=ip, user_agent=user_agent)


# ---- One-time form keys ----------------------------------------------------------------------------


def spend_form_key(session: Session, tenant_id: int, user_id: int | None, key: str) -> bool:
    """Spend a form's one-time key in the caller's transaction: True the first time, False when it was
    spent already (the same form sent again). INSERT … ON CONFLICT DO NOTHING: of two sends at once,
    the second waits for the first's commit and then finds the key taken; a send that fails rolls
    back and leaves the key unspent, so the form can be sent again once fixed."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    spent = session.execute(
        insert(FormKey)
        .values(key=key[:64], tenant_id=tenant_id, user_id=user_id, spent_at=utcnow())
        .on_conflict_do_nothing(index_elements=[FormKey.key])
        .returning(FormKey.key)
    ).first()
    return spent is not None
