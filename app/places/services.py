"""Rules for the org-unit tree: create, rename, move and retire units, and subtree queries."""

from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import func, literal, select, update
from sqlalchemy.orm import Session

from app.audit.services import record
from app.db import starts_with, utcnow
from app.errors import Conflict, NotFound, ValidationFailed
from app.validation import MAX_ID, clean_name

from .models import GRID_TYPES, KINDS, PARENT_KINDS, District, OrgUnit


def get_unit(session: Session, tenant_id: int, unit_id: int) -> OrgUnit:
    # A number no id can have (a 20-digit form field) names nothing; the driver would overflow on it.
    unit = session.get(OrgUnit, unit_id) if isinstance(unit_id, int) and 1 <= unit_id <= MAX_ID else None
    if unit is None or unit.tenant_id != tenant_id:
        raise NotFound(_("No such org unit."))
    return unit


def create_district(session: Session, code: str, name: str) -> District:
    district = District(code=code, name=name, created_at=utcnow())
    session.add(district)
    session.flush()
    return district


def _check_placement(kind: str, grid_type: str | None, parent: OrgUnit | None) -> None:
    if kind not in KINDS:
        raise ValidationFailed(_("Unknown unit kind %(kind)s.", kind=kind), field="kind")
    if kind == "grid" and grid_type not in GRID_TYPES:
        raise ValidationFailed(_("Choose the grid type."), field="grid_type")
    if kind != "grid" and grid_type:
        raise ValidationFailed(_("Only grids have a grid type."), field="grid_type")
    parent_kind = parent.kind if parent is not None else None
    if parent_kind not in PARENT_KINDS[kind]:
        raise ValidationFailed(_("A unit of this kind cannot be placed there (street → community → grid → building)."),
                               field="parent_id")
    if parent is not None and parent.retired_at is not None:
        raise ValidationFailed(_("The parent unit is retired."), field="parent_id")


def _clean_name(name: str) -> str:
    return clean_name(name, "name", max_length=100)  # the shared name rules (app/validation.py)


def create_unit(session: Session, tenant_id: int, *, name: str, kind: str, parent: OrgUnit | None = None,
                grid_type: str | None = None, actor_user_id: int | None = None) -> OrgUnit:
    name = _clean_name(name)
    _check_placement(kind, grid_type or None, parent)
    if parent is not None and parent.tenant_id != tenant_id:
        raise NotFound(_("No such org unit."))
    unit = OrgUnit(tenant_id=tenant_id, parent_id=parent.id if parent else None, kind=kind,
                   grid_type=grid_type or None, name=name, path="", depth=(parent.depth + 1) if parent else 0,
                   created_at=utcnow())
    session.add(unit)
    session.flush()
    unit.path = f"{parent.path if parent else '/'}{unit.id}/"
    session.flush()
    record(session, "org.create", tenant_id=tenant_id, actor_user_id=actor_user_id, target_type="org_unit",
           target_id=unit.id, detail={"name": name, "kind": kind, "parent_id": unit.parent_id})
    return unit


def rename_unit(session: Session, unit: OrgUnit, name: str, *, grid_type: str | None = None,
                actor_user_id: int | None = None) -> OrgUnit:
    old = unit.name
    unit.name = _clean_name(name)
    if grid_type is not None and unit.kind != "grid":
        raise ValidationFailed(_("Only grids have a grid type."), field="grid_type")
    if grid_type is not None:
        if grid_type not in GRID_TYPES:
            raise ValidationFailed(_("Choose the grid type."), field="grid_type")
        unit.grid_type = grid_type
    record(session, "org.rename", tenant_id=unit.tenant_id, actor_user_id=actor_user_id, target_type="org_unit",
           target_id=unit.id, detail={"from": old, "to": unit.name})
    session.flush()
    return unit


def move_unit(session: Session, unit: OrgUnit, new_parent: OrgUnit | None, *,
              actor_user_id: int | None = None) -> OrgUnit:
    """Re-hang a unit and its whole subtree under another parent (one UPDATE for the subtree)."""
    if new_parent is not None and (new_parent.tenant_id != unit.tenant_id):
        raise NotFound(_("No such org unit."))
    if new_parent is not None and new_parent.path.startswith(unit.path):
        raise ValidationFailed(_("A unit cannot be moved into itself or under one of its own units."), field="parent_id")
    _check_placement(unit.kind, unit.grid_type, new_parent)
    old_path, old_parent = unit.path, unit.parent_id
    new_path = f"{new_parent.path if new_parent else '/'}{unit.id}/"
    delta = ((new_parent.depth + 1) if new_parent else 0) - unit.depth
    session.flush()
    session.execute(
        update(OrgUnit)
        .where(OrgUnit.tenant_id == unit.tenant_id, starts_with(OrgUnit.path, old_path))
        .values(path=literal(new_path) + func.substr(OrgUnit.path, len(old_path) + 1), depth=OrgUnit.depth + delta)
        .execution_options(synchronize_session=False)
    )
    unit.parent_id = new_parent.id if new_parent else None
    session.flush()
    session.expire_all()
    record(session, "org.move", tenant_id=unit.tenant_id, actor_user_id=actor_user_id, target_type="org_unit",
           target_id=unit.id, detail={"from_parent_id": old_parent, "to_parent_id": unit.parent_id})
    return session.get(OrgUnit, unit.id)


def retire_unit(session: Session, unit: OrgUnit, *, actor_user_id: int | None = None) -> OrgUnit:
    """Retire a unit that has no active units or residents under it. History stays; the row stays."""
    from app.people.models import Member

    if unit.retired_at is not None:
        return unit
    active_children = session.scalar(
        select(func.count()).select_from(OrgUnit).where(OrgUnit.parent_id == unit.id, OrgUnit.retired_at.is_(None)))
    if active_children:
        raise Conflict(_("Retire or move the %(n)d units under it first.", n=active_children))
    residents = session.scalar(select(func.count()).select_from(Member).where(
        Member.grid_id == unit.id, Member.status != "left"))
    if residents:
        raise Conflict(_("Move its %(n)d residents to another grid first.", n=residents))
    unit.retired_at = utcnow()
    record(session, "org.retire", tenant_id=unit.tenant_id, actor_user_id=actor_user_id, target_type="org_unit",
           target_id=unit.id)
    session.flush()
    return unit


def subtree_ids(session: Session, unit: OrgUnit):
    """A SELECT of every unit id in the subtree (the unit included): one index range scan."""
    return select(OrgUnit.id).where(OrgUnit.tenant_id == unit.tenant_id,
                                    starts_with(OrgUnit.path, unit.path))


def children(session: Session, tenant_id: int, parent: OrgUnit | None, include_retired: bool = False) -> list[OrgUnit]:
    q = select(OrgUnit).where(OrgUnit.tenant_id == tenant_id)
    q = q.where(OrgUnit.parent_id == parent.id) if parent else q.where(OrgUnit.parent_id.is_(None))
    if not include_retired:
        q = q.where(OrgUnit.retired_at.is_(None))
    return list(session.scalars(q.order_by(OrgUnit.name)))


def ancestors(session: Session, unit: OrgUnit) -> list[OrgUnit]:
    ids = unit.ancestor_ids[:-1]
    if not ids:
        return []
    found = {u.id: u for u in session.scalars(select(OrgUnit).where(OrgUnit.id.in_(ids)))}
    return [found[i] for i in ids if i in found]


def label(unit: OrgUnit) -> str:
    """The unit's name with its kind, e.g. "凤凰社区第3网格（片区网格）"."""
    from .labels import GRID_TYPE_LABELS, KIND_LABELS

    kind = GRID_TYPE_LABELS.get(unit.grid_type) if unit.kind == "grid" else KIND_LABELS.get(unit.kind)
    return f"{unit.name}（{kind}）" if kind else unit.name
