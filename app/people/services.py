"""Rules for members: create (with their points wallet), update, suspend, search, grid assignments."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import String, bindparam, func, select
from sqlalchemy.orm import Session, contains_eager, joinedload
from sqlalchemy.sql.elements import True_

from app.access import require
from app.audit.services import record
from app.db import FixedStatement, starts_with, utcnow
from app.errors import Conflict, NotFound, ValidationFailed
from app.pagination import Paged
from app.places.labels import KIND_LABELS
from app.places.models import OrgUnit
from app.points.accounts import open_wallets
from app.signals import member_changing, member_deactivated
from app.validation import MAX_ID

from .identity import hash_id_number, mask_id_number
from .labels import INACTIVE_STATUSES, LEFT, STATUSES
from .models import ASSIGNMENT_ROLES, GridAssignment, Member
from .schemas import MemberIn, MemberPatch

# Fields whose changes the audit log records by name only (the values are personal data).
PERSONAL_FIELDS = {"mobile", "id_number"}


def id_hash_key() -> bytes:
    key = current_app.config.get("ID_HASH_KEY")
    if key:
        return key.encode()
    return hashlib.sha256(b"aixin-id-number:" + current_app.config["SECRET_KEY"].encode()).digest()


def open_wallet(session: Session, member: Member) -> None:
    open_wallets(session, member.tenant_id, [member.id])


MAX_HOUSEHOLDS = 100_000  # far above any grid; the column is a 32-bit integer


def get_member(session: Session, tenant_id: int, member_id: int) -> Member:
    member = (
        session.get(Member, member_id, options=[joinedload(Member.grid)])
        if isinstance(member_id, int) and 1 <= member_id <= MAX_ID
        else None
    )
    if member is None or member.tenant_id != tenant_id:
        raise NotFound(_("No such member."))
    return member


def _residence_unit(session: Session, tenant_id: int, grid_id: int) -> OrgUnit:
    unit = session.get(OrgUnit, grid_id)
    if unit is None or unit.tenant_id != tenant_id or unit.retired_at is not None:
        raise ValidationFailed(_("Unknown grid: choose an active grid of this district."), field="grid_id")
    if unit.kind not in ("grid", "building"):
        raise ValidationFailed(
            _("A member lives in a grid (or a building in a grid), not a %(kind)s.", kind=KIND_LABELS[unit.kind]),
            field="grid_id",
        )
    return unit


def _checkin_community(session: Session, tenant_id: int, unit_id: int | None) -> None:
    if unit_id is None:
        return
    unit = session.get(OrgUnit, unit_id)
    if unit is None or unit.tenant_id != tenant_id or unit.kind != "community":
        raise ValidationFailed(
            _("The check-in (报到) community must be a community of this district."), field="checkin_community_id"
        )


def _duplicate_checks(
    session: Session, tenant_id: int, mobile: str | None, id_hash: str | None, exclude_id: int | None = None
) -> None:
    if mobile:
        q = select(Member.id).where(Member.tenant_id == tenant_id, Member.mobile == mobile)
        if exclude_id:
            q = q.where(Member.id != exclude_id)
        if session.scalar(q):
            raise Conflict(_("Another member already has this mobile number."), field="mobile")
    if id_hash:
        q = select(Member.id).where(Member.tenant_id == tenant_id, Member.id_number_hash == id_hash)
        if exclude_id:
            q = q.where(Member.id != exclude_id)
        if session.scalar(q):
            raise Conflict(_("Another member already has this ID number."), field="id_number")


def member_row(tenant_id: int, data: MemberIn, *, id_hash: str | None, now) -> dict:
    """The column values of a new member, with the rules every way in shares (form, API, import, demo):
    the mobile's tail is indexed, the ID number is kept only as its keyed hash and masked form, and
    the party fields are kept only for party members."""
    party = data.is_party_member
    return dict(
        tenant_id=tenant_id,
        name=data.name,
        mobile=data.mobile,
        mobile_tail=data.mobile[-4:],
        id_number_hash=id_hash,
        id_number_masked=mask_id_number(data.id_number) if data.id_number else None,
        grid_id=data.grid_id,
        status=data.status,
        is_volunteer=data.is_volunteer,
        is_party_member=party,
        party_org=data.party_org if party else None,
        checkin_community_id=data.checkin_community_id if party else None,
        is_grid_worker=data.is_grid_worker,
        is_building_head=data.is_building_head,
        created_at=now,
        updated_at=now,
    )


def create_member(
    session: Session,
    tenant_id: int,
    data: MemberIn,
    *,
    actor_user_id: int | None = None,
    check_duplicates: bool = True,
    audit: bool = True,
) -> Member:
    """Create a member and open their PT wallet in the same transaction."""
    _residence_unit(session, tenant_id, data.grid_id)
    _checkin_community(session, tenant_id, data.checkin_community_id)
    id_hash = hash_id_number(data.id_number, id_hash_key()) if data.id_number else None
    if check_duplicates:
        _duplicate_checks(session, tenant_id, data.mobile, id_hash)
    member = Member(**member_row(tenant_id, data, id_hash=id_hash, now=utcnow()))
    session.add(member)
    session.flush()
    open_wallet(session, member)
    if audit:
        record(
            session,
            "member.create",
            tenant_id=tenant_id,
            actor_user_id=actor_user_id,
            target_type="member",
            target_id=member.id,
            detail={"grid_id": member.grid_id},
        )
    return member


def require_may_change(session: Session, actor, member: Member) -> None:
    """`actor` may edit `member` (member.edit over their grid), and every area that has a say agrees
    (`member_changing`: auth refuses when the member holds a role beyond the actor's reach, so a grid
    administrator cannot suspend, or take over the mobile of, the district administrator who lives in
    their grid). Raises NotFound / Forbidden."""
    require(actor, "member.edit", member)
    member_changing.send(session, member=member, actor=actor)


def update_member(
    session: Session, member: Member, patch: MemberPatch, *, actor=None, actor_user_id: int | None = None
) -> Member:
    """Apply the fields given. With `actor` (the signed-in user), first check they may change this
    member (require_may_change); system callers (imports, the demo) pass no actor."""
    if actor is not None:
        require_may_change(session, actor, member)
        actor_user_id = actor.user_id
    changes = patch.model_dump(exclude_unset=True)
    if "name" in changes and not changes["name"]:
        raise ValidationFailed(_("Enter a name."), field="name")
    if "grid_id" in changes and changes["grid_id"] is not None:
        _residence_unit(session, member.tenant_id, changes["grid_id"])
    if changes.get("checkin_community_id") is not None:
        _checkin_community(session, member.tenant_id, changes["checkin_community_id"])
    id_hash = None
    if changes.get("id_number"):
        id_hash = hash_id_number(changes["id_number"], id_hash_key())
    _duplicate_checks(session, member.tenant_id, changes.get("mobile"), id_hash, exclude_id=member.id)
    changed: dict[str, object] = {}
    for field, value in changes.items():
        if field == "id_number":
            if value is None:
                if member.id_number_hash is not None:
                    member.id_number_hash = member.id_number_masked = None
                    changed["id_number"] = "(removed)"
            elif id_hash != member.id_number_hash:
                member.id_number_hash, member.id_number_masked = id_hash, mask_id_number(value)
                changed["id_number"] = "(changed)"
            continue
        if value is None and field in ("name", "mobile", "grid_id", "status") or getattr(member, field) == value:
            continue
        old = getattr(member, field)
        setattr(member, field, value)
        changed[field] = "(changed)" if field in PERSONAL_FIELDS else {"from": old, "to": value}
        if field == "mobile":
            member.mobile_tail = value[-4:]
    if not member.is_party_member:
        member.party_org = None
        member.checkin_community_id = None
    if changed:
        member.updated_at = utcnow()
        record(
            session,
            "member.update",
            tenant_id=member.tenant_id,
            actor_user_id=actor_user_id,
            target_type="member",
            target_id=member.id,
            detail={"changed": changed},
        )
        if "status" in changed and member.status in INACTIVE_STATUSES:
            member_deactivated.send(session, member=member, status=member.status)
    session.flush()
    return member


@dataclass
class MemberQuery:
    q: str = ""
    grid_id: int | None = None
    tag: str | None = None
    status: str | None = None


# The member lists' SELECTs, built once (building an ORM select costs more than running it). Filters
# use the tables' Core columns, which are cheaper to compare than the mapped attributes.
_mt, _ut = Member.__table__, OrgUnit.__table__
_MEMBERS = (
    select(Member)
    .join(OrgUnit, OrgUnit.id == Member.grid_id)
    .options(contains_eager(Member.grid))  # the joined grid fills member.grid: no query per row
)
# What the API's list answers (app/people/schemas.py MemberOut), as plain rows: no ORM objects to build.
# Joined to the grid only when a scope or a grid narrows the list: a district-wide list needs no join
# (grid_id is never null), so PostgreSQL plans it once per connection instead of on every call.
_MEMBER_COLUMNS = select(
    *(
        _mt.c[name]
        for name in (
            "id name mobile id_number_masked grid_id status is_volunteer is_party_member party_org "
            "checkin_community_id is_grid_worker is_building_head created_at updated_at"
        ).split()
    )
)
_MEMBER_ROWS = _MEMBER_COLUMNS.select_from(_mt.join(_ut, _ut.c.id == _mt.c.grid_id))


def search_query(tenant_id: int, query: MemberQuery, scope_condition, grid_path: str | None = None):
    """The SELECT behind every member list: scoped and filtered; newest first, or by name for a name search.

    `q` is a name prefix, a 4-digit mobile tail or a whole mobile number — each an indexed lookup.
    `scope_condition` is on org_units.path (access.path_filter)."""
    stmt, params = _search(tenant_id, query, scope_condition, grid_path, rows=False)
    return stmt.params(**params)


def search_rows_page(
    session: Session, tenant_id: int, query: MemberQuery, scope_condition, grid_path: str | None, size: int, number: int
) -> Paged:
    """One page of search_query's members as plain rows of the columns the API shows (MemberOut): no ORM
    objects to build, and for the common searches a statement object reused as it is (its cache key
    computed once), with this request's values as parameters. When nothing is added to the shape's
    statement per request (no name prefix, no grid, a district-wide reader) it runs on the cursor as
    an app/db.FixedStatement, without SQLAlchemy's per-execution machinery."""
    stmt, params = _search(tenant_id, query, scope_condition, grid_path, rows=True)
    params = {**params, "m_limit": size + 1, "m_offset": (number - 1) * size}
    shape = _shape(query)
    got: Sequence[Any]
    if stmt is _member_select(True, *shape, joined=False):
        got = _fixed_member_select(*shape).rows(session.connection(), params)
    else:
        got = session.connection().execute(stmt, params).all()
    return Paged(items=list(got[:size]), number=number, size=size, has_next=len(got) > size)


def _shape(query: MemberQuery) -> tuple[str | None, str | None, str | None]:
    """What kind of search this is (match, tag, status): _member_select's key, never a searched value."""
    text = (query.q or "").strip()
    match = None
    if text:
        match = (
            "tail"
            if text.isdecimal() and len(text) == 4
            else "mobile"
            if text.isdecimal() and len(text) == 11
            else "name"
        )
    tag = query.tag if query.tag in _TAGS else None
    status = query.status if query.status in STATUSES else None
    return match, tag, status


def _search(tenant_id: int, query: MemberQuery, scope_condition, grid_path: str | None, *, rows: bool):
    text = (query.q or "").strip()
    match, tag, status = _shape(query)
    scoped = not isinstance(scope_condition, True_)  # a district-wide reader needs no condition
    joined = not rows or scoped or grid_path is not None
    stmt = _member_select(rows, match, tag, status, joined=joined)
    if match == "name":
        stmt = stmt.where(starts_with(_mt.c.name, text))
    if grid_path:
        stmt = stmt.where(starts_with(_ut.c.path, grid_path))
    if scoped:
        stmt = stmt.where(scope_condition)
    return stmt, {"m_tenant": tenant_id, "m_q": text}


_TAGS = ("volunteer", "party_member", "grid_worker", "building_head")


@lru_cache(maxsize=256)
def _member_select(rows: bool, match: str | None, tag: str | None, status: str | None, *, joined: bool = True):
    """The part of a member list's SELECT that depends only on the shape of the search, built once per
    shape: the tenant and the mobile are parameters (m_tenant, m_q), and so are a row page's limit and
    offset (m_limit, m_offset). `joined`: rows joined to their grid (org_units), for a scope or grid
    condition added per request; ORM members are always joined (their grid is loaded with them)."""
    base = _MEMBERS if not rows else _MEMBER_ROWS if joined else _MEMBER_COLUMNS
    stmt = base.where(_mt.c.tenant_id == bindparam("m_tenant"))
    order: list[Any] = [_mt.c.id.desc()]  # newest first
    if match == "tail":
        stmt = stmt.where(_mt.c.mobile_tail == bindparam("m_q", type_=String()))
    elif match == "mobile":
        stmt = stmt.where(_mt.c.mobile == bindparam("m_q", type_=String()))
    elif match == "name":  # the prefix condition is added per search (starts_with)
        order = [_mt.c.name, _mt.c.id]  # in index order: the first page needs no sort of all matches
    if tag:
        stmt = stmt.where(_mt.c[f"is_{tag}"].is_(True))
    if status:
        stmt = stmt.where(_mt.c.status == status)
    stmt = stmt.order_by(*order)
    if rows:
        stmt = stmt.limit(bindparam("m_limit")).offset(bindparam("m_offset"))
    return stmt


@lru_cache(maxsize=256)
def _fixed_member_select(match: str | None, tag: str | None, status: str | None) -> FixedStatement:
    """_member_select's row page without the join, for the cursor (compiled once per database)."""
    return FixedStatement(_member_select(True, match, tag, status, joined=False))


def assign(
    session: Session,
    member: Member,
    unit: OrgUnit,
    role: str,
    *,
    effective_from: date,
    households: int | None = None,
    actor_user_id: int | None = None,
) -> GridAssignment:
    """Make a member responsible for a grid (包格联户) from a date. Earlier assignments stay as history."""
    if role not in ASSIGNMENT_ROLES:
        raise ValidationFailed(_("Choose the responsibility."), field="role")
    if role == "party_member" and not member.is_party_member:
        raise ValidationFailed(
            _(
                "%(name)s is not recorded as a party member. Mark them as one on their details first, or "
                "choose another responsibility.",
                name=member.name,
            ),
            field="role",
        )
    if unit.tenant_id != member.tenant_id or unit.retired_at is not None:
        raise ValidationFailed(_("Choose an active grid of this district."), field="org_unit_id")
    if unit.kind not in ("grid", "building"):
        raise ValidationFailed(_("Responsibility is taken for a grid or a building."), field="org_unit_id")
    if households is not None and households < 0:
        raise ValidationFailed(_("Households cannot be negative."), field="households")
    if households is not None and households > MAX_HOUSEHOLDS:
        raise ValidationFailed(_("Households: at most %(n)s.", n=MAX_HOUSEHOLDS), field="households")
    open_same = session.scalar(
        select(GridAssignment.id).where(
            GridAssignment.member_id == member.id,
            GridAssignment.org_unit_id == unit.id,
            GridAssignment.role == role,
            GridAssignment.effective_to.is_(None),
        )
    )
    if open_same:
        raise Conflict(_("%(name)s already has this responsibility for this grid.", name=member.name))
    a = GridAssignment(
        tenant_id=member.tenant_id,
        member_id=member.id,
        org_unit_id=unit.id,
        role=role,
        households=households,
        effective_from=effective_from,
        created_by_user_id=actor_user_id,
        created_at=utcnow(),
    )
    session.add(a)
    session.flush()
    record(
        session,
        "assignment.create",
        tenant_id=member.tenant_id,
        actor_user_id=actor_user_id,
        target_type="member",
        target_id=member.id,
        detail={"org_unit_id": unit.id, "role": role, "from": effective_from.isoformat()},
    )
    return a


def end_assignment(
    session: Session, assignment: GridAssignment, effective_to: date, *, actor_user_id: int | None = None
) -> GridAssignment:
    if assignment.effective_to is not None:
        raise Conflict(_("This assignment has already ended."))
    if effective_to < assignment.effective_from:
        raise ValidationFailed(_("The end date is before the start date."), field="effective_to")
    assignment.effective_to = effective_to
    record(
        session,
        "assignment.end",
        tenant_id=assignment.tenant_id,
        actor_user_id=actor_user_id,
        target_type="member",
        target_id=assignment.member_id,
        detail={"assignment_id": assignment.id, "to": effective_to.isoformat()},
    )
    session.flush()
    return assignment


def grid_people(session: Session, unit: OrgUnit, on: date) -> dict[str, Any]:
    """Who lives in and who serves a grid, as its page shows them."""
    residents = list(
        session.scalars(
            select(Member).where(Member.grid_id == unit.id, Member.status != LEFT).order_by(Member.name).limit(200)
        )
    )
    resident_count = session.scalar(
        select(func.count()).select_from(Member).where(Member.grid_id == unit.id, Member.status != LEFT)
    )
    current = [
        a
        for a in session.scalars(
            select(GridAssignment)
            .options(joinedload(GridAssignment.member))
            .where(GridAssignment.org_unit_id == unit.id)
            .order_by(GridAssignment.effective_from.desc())
        )
        if a.current(on)
    ]
    return {
        "residents": residents,
        "resident_count": resident_count,
        "party_members": [a for a in current if a.role == "party_member"],
        "grid_workers": [a for a in current if a.role == "grid_worker"],
        "building_heads": [a for a in current if a.role == "building_head"],
    }


def residents_keep_unit(session: Session, unit: OrgUnit, **kwargs) -> list[str]:
    """`unit_retiring` receiver: a unit with residents (not counting those who left) may not retire."""
    residents = session.scalar(
        select(func.count()).select_from(Member).where(Member.grid_id == unit.id, Member.status != LEFT)
    )
    return [_("Move its %(n)d residents to another grid first.", n=residents)] if residents else []
