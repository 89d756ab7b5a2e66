"""Outlets: create and change them, grant their staff (one-outlet scope), find one in the signed-in
user's reach, list those in reach, and the district's outlet settings (refund period)."""

from __future__ import annotations

from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import BigInteger, Select, String, bindparam, cast, select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from app import access
from app.audit.services import record
from app.auth.models import RoleGrant
from app.db import FixedStatement, as_loaded, utcnow
from app.errors import Conflict, NotFound
from app.people.models import Member
from app.places.models import OrgUnit
from app.points.spending import open_outlet_points

from . import OUTLET_STAFF, OUTLET_SUPERVISOR
from .errors import NotOutletStaff, OutletInvalid
from .models import OUTLET_SEGMENT, Outlet, OutletSettings

DEFAULT_REFUND_DAYS = 7

# The outlet's scope path as SQL (its unit's path + "o<id>/"), for path_filter on lists.
OUTLET_PATH = OrgUnit.path + OUTLET_SEGMENT + cast(Outlet.id, String) + "/"


def _not_found() -> NotFound:
    return NotFound(str(_l("Not found. It may have been moved, or you may not have access to it.")))


_OUTLET_BY_ID = select(Outlet).options(joinedload(Outlet.org_unit)).where(Outlet.id == bindparam("outlet_id"))

# The same read for the request path (every counter call begins with it): the outlet's and its unit's
# columns in Core on the DBAPI cursor (app/db.FixedStatement), the two objects then built as if the ORM
# had loaded them (`_as_loaded`). The ORM's own load of this one row cost about four times the driver's
# work in CPU (docs/outlets.md, "CPU per redemption, fourth pass").
_OUTLET_COLS = [(p.key, p.columns[0]) for p in sa_inspect(Outlet).column_attrs]
_UNIT_COLS = [(p.key, p.columns[0]) for p in sa_inspect(OrgUnit).column_attrs]
_OUTLET_ROW = FixedStatement(
    select(
        *(c.label(f"o_{k}") for k, c in _OUTLET_COLS),
        *(c.label(f"u_{k}") for k, c in _UNIT_COLS),
    )
    .join_from(Outlet, OrgUnit, OrgUnit.id == Outlet.org_unit_id)
    .where(Outlet.id == bindparam("outlet_id", type_=BigInteger))
)


def _as_loaded(db: Session, outlet_id: int) -> Outlet | None:
    """The outlet with its org unit, persistent in `db` and unchanged, as `_OUTLET_BY_ID` loads it."""
    row = _OUTLET_ROW.first(db.connection(), {"outlet_id": outlet_id})
    if row is None:
        return None
    unit = as_loaded(db, OrgUnit, {k: getattr(row, f"u_{k}") for k, _ in _UNIT_COLS})
    return as_loaded(db, Outlet, {k: getattr(row, f"o_{k}") for k, _ in _OUTLET_COLS}, {"org_unit": unit})


def get_outlet(db: Session, principal, outlet_id: int, action: str = "outlet.view") -> Outlet:
    """The outlet if `principal` may `action` there. An outlet outside the user's reach (another
    district, another outlet's staff) is NotFound (404); one they can see but not act at raises
    NotOutletStaff (403, code not_outlet_staff)."""
    outlet = _as_loaded(db, outlet_id)
    if outlet is None or outlet.tenant_id != principal.tenant_id or not access.can_see(principal, outlet):
        raise _not_found()
    if not access.can(principal, action, outlet):
        raise NotOutletStaff(str(_l("Your role at this outlet does not allow this. Ask the outlet's supervisor.")))
    return outlet


def outlets_query(principal, action: str = "outlet.view") -> Select:
    """The district's outlets the user may `action` at, by name (join OrgUnit for the path)."""
    return (
        select(Outlet)
        .join(OrgUnit, OrgUnit.id == Outlet.org_unit_id)
        .options(joinedload(Outlet.org_unit))
        .where(Outlet.tenant_id == principal.tenant_id, access.path_filter(principal, action, OUTLET_PATH))
        .order_by(Outlet.name, Outlet.id)
    )


def _check_fields(name: str, address: str, opening_hours: str) -> tuple[str, str, str]:
    name, address, opening_hours = (name or "").strip(), (address or "").strip(), (opening_hours or "").strip()
    if not 1 <= len(name) <= 100:
        raise OutletInvalid(str(_l("Give the outlet a name of 1 to 100 characters.")), field="name")
    if len(address) > 200:
        raise OutletInvalid(str(_l("The address can be at most 200 characters.")), field="address")
    if len(opening_hours) > 200:
        raise OutletInvalid(str(_l("The opening hours can be at most 200 characters.")), field="opening_hours")
    return name, address, opening_hours


def create_outlet(
    db: Session,
    tenant_id: int,
    actor_user_id: int | None,
    unit: OrgUnit,
    name: str,
    address: str = "",
    opening_hours: str = "",
) -> Outlet:
    """A new outlet of `unit` (a community or street of the district; the caller checked the actor may
    `outlet.edit` there) with its points account opened. Names are unique per district."""
    if unit.tenant_id != tenant_id or unit.retired_at is not None:
        raise _not_found()
    if unit.kind not in ("community", "street"):
        raise OutletInvalid(str(_l("An outlet belongs to a community or a street.")), field="unit_id")
    name, address, opening_hours = _check_fields(name, address, opening_hours)
    outlet = Outlet(
        tenant_id=tenant_id,
        org_unit_id=unit.id,
        name=name,
        address=address,
        opening_hours=opening_hours,
        created_by_user_id=actor_user_id,
        created_at=utcnow(),
    )
    outlet.org_unit = unit
    try:
        with db.begin_nested():
            db.add(outlet)
            db.flush()
    except IntegrityError:
        raise Conflict(str(_l("An outlet with this name already exists. Choose another name.")), field="name") from None
    open_outlet_points(db, tenant_id, outlet.id)
    record(
        db,
        "outlet.create",
        tenant_id=tenant_id,
        actor_user_id=actor_user_id,
        target_type="outlet",
        target_id=outlet.id,
        detail={"name": name, "org_unit_id": unit.id},
    )
    return outlet


def update_outlet(
    db: Session,
    outlet: Outlet,
    actor_user_id: int | None,
    *,
    name: str,
    address: str,
    opening_hours: str,
    active: bool,
) -> Outlet:
    """Change an outlet's name, address, opening hours or whether it is open (a closed outlet redeems
    nothing and takes no stock)."""
    name, address, opening_hours = _check_fields(name, address, opening_hours)
    db.flush()  # begin_nested flushes what is pending first, outside the savepoint: do that before
    try:
        with db.begin_nested():  # a taken name rolls back only this change, and the page can say so
            outlet.name, outlet.address, outlet.opening_hours, outlet.active = name, address, opening_hours, active
            db.flush()
    except IntegrityError:
        raise Conflict(str(_l("An outlet with this name already exists. Choose another name.")), field="name") from None
    record(
        db,
        "outlet.update",
        tenant_id=outlet.tenant_id,
        actor_user_id=actor_user_id,
        target_type="outlet",
        target_id=outlet.id,
        detail={"name": name, "active": active},
    )
    return outlet


def grant_outlet_role(db: Session, principal, outlet: Outlet, member: Member, role: str) -> RoleGrant:
    """Make `member` outlet staff or supervisor of this one outlet (the grant's scope is the outlet's
    own path: nothing else in the unit). The caller checked `outlet.edit` on the outlet."""
    from app.auth import services as auth

    if role not in (OUTLET_STAFF, OUTLET_SUPERVISOR):
        raise OutletInvalid(str(_l("Choose outlet staff or outlet supervisor.")), field="role")
    if member.tenant_id != outlet.tenant_id:
        raise _not_found()
    grant = auth.grant_role(
        db,
        principal,
        member,
        role,
        outlet.org_unit,
        scope_suffix=f"{OUTLET_SEGMENT}{outlet.id}/",
        scope_detail={"outlet_id": outlet.id},
    )
    record(
        db,
        "outlet.staff_grant",
        tenant_id=outlet.tenant_id,
        actor_user_id=getattr(principal, "user_id", None),
        target_type="outlet",
        target_id=outlet.id,
        detail={"member_id": member.id, "role": role},
    )
    return grant


def outlet_staff(db: Session, outlet: Outlet) -> list[tuple[RoleGrant, Member]]:
    """The live grants on this outlet with their members."""
    from app.auth.models import User

    rows = db.execute(
        select(RoleGrant, Member)
        .join(User, User.id == RoleGrant.user_id)
        .join(Member, Member.id == User.member_id)
        .where(
            RoleGrant.tenant_id == outlet.tenant_id,
            RoleGrant.org_unit_id == outlet.org_unit_id,
            RoleGrant.scope_suffix == f"{OUTLET_SEGMENT}{outlet.id}/",
            RoleGrant.revoked_at.is_(None),
        )
        .order_by(RoleGrant.granted_at)
    ).all()
    return [(g, m) for g, m in rows]


# --- settings ---------------------------------------------------------------------------------------


def refund_days(db: Session, tenant_id: int) -> int:
    """The district's refund period in days (default 7)."""
    row = db.get(OutletSettings, tenant_id)
    return row.refund_days if row is not None else DEFAULT_REFUND_DAYS


def change_settings(db: Session, tenant_id: int, actor_user_id: int | None, *, refund_days: int) -> OutletSettings:
    """Set the district's refund period (0-365 days; 0: no refunds)."""
    if not isinstance(refund_days, int) or not 0 <= refund_days <= 365:
        raise OutletInvalid(str(_l("The refund period must be from 0 to 365 days.")), field="refund_days")
    row = db.get(OutletSettings, tenant_id, with_for_update=True)
    if row is None:
        row = OutletSettings(tenant_id=tenant_id, refund_days=refund_days, updated_by_user_id=actor_user_id)
        db.add(row)
    row.refund_days, row.updated_by_user_id, row.updated_at = refund_days, actor_user_id, utcnow()
    db.flush()
    record(
        db,
        "outlet.settings_change",
        tenant_id=tenant_id,
        actor_user_id=actor_user_id,
        target_type="outlet_settings",
        target_id=tenant_id,
        detail={"refund_days": refund_days},
    )
    return row


def now_utc() -> datetime:
    return utcnow()
