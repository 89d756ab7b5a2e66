"""Rules for the org-unit tree: create, rename, move and retire units, and subtree queries."""

from __future__ import annotations

from typing import cast

from flask_babel import gettext as _
from sqlalchemy import case, func, literal, not_, select, update
from sqlalchemy.engine import ScalarResult
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.audit.services import record
from app.db import starts_with, utcnow
from app.errors import Conflict, NotFound, ValidationFailed
from app.signals import reasons_against, unit_retiring
from app.validation import MAX_ID, clean_name

from .labels import GRID_TYPE_LABELS, KIND_LABELS
from .models import GRID_RANKS, GRID_TYPES, KINDS, PARENT_KINDS, District, OrgUnit

PATH_SEPARATOR = " › "


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
        raise ValidationFailed(
            _("A unit of this kind cannot be placed there (street → community → grid → building)."), field="parent_id"
        )
    if parent is not None and parent.retired_at is not None:
        raise ValidationFailed(_("The parent unit is retired."), field="parent_id")
    if kind == "grid" and parent is not None and parent.kind == "grid":
        # Checked above for the new grid; a grid always has a type (constraint grid_type_only_on_grids).
        assert grid_type is not None and parent.grid_type is not None
        if GRID_RANKS[parent.grid_type] >= GRID_RANKS[grid_type]:
            raise ValidationFailed(
                _(
                    "A %(kind)s cannot be placed under a %(parent)s (片区网格 → 基础网格 → 微网格).",
                    kind=GRID_TYPE_LABELS[grid_type],
                    parent=GRID_TYPE_LABELS[parent.grid_type],
                ),
                field="parent_id",
            )


def _check_children_fit(session: Session, unit: OrgUnit, grid_type: str) -> None:
    """A grid whose type changes must still be coarser than the grids under it."""
    finer = [
        t
        # Grids always have a type (constraint grid_type_only_on_grids).
        for t in cast(
            "ScalarResult[str]",
            session.scalars(
                select(OrgUnit.grid_type).where(
                    OrgUnit.parent_id == unit.id, OrgUnit.kind == "grid", OrgUnit.retired_at.is_(None)
                )
            ),
        )
        if GRID_RANKS[t] <= GRID_RANKS[grid_type]
    ]
    if finer:
        raise ValidationFailed(
            _(
                "A %(kind)s cannot hold the %(child)s under this unit; move it first.",
                kind=GRID_TYPE_LABELS[grid_type],
                child=GRID_TYPE_LABELS[finer[0]],
            ),
            field="grid_type",
        )


def _check_unique_name(
    session: Session, tenant_id: int, parent_id: int | None, name: str, exclude_id: int | None = None
) -> None:
    """No two live units under one parent share a name (trimmed, ignoring letter case). The database's
    unique index uq_org_units_live_sibling_name backs this up against a race."""
    q = select(OrgUnit.id).where(
        OrgUnit.tenant_id == tenant_id,
        OrgUnit.retired_at.is_(None),
        func.lower(OrgUnit.name) == func.lower(literal(name)),
    )
    q = q.where(OrgUnit.parent_id == parent_id) if parent_id is not None else q.where(OrgUnit.parent_id.is_(None))
    if exclude_id is not None:
        q = q.where(OrgUnit.id != exclude_id)
    if session.scalar(q.limit(1)) is not None:
        raise Conflict(_("There is already a unit named %(name)s there.", name=name), field="name")


def _flush_unique(session: Session, name: str, change) -> None:
    """Make `change()` and flush it in a savepoint, so two requests racing to one sibling name end as a
    Conflict, not a server error. (begin_nested flushes what is pending first, so that goes before.)"""
    session.flush()
    try:
        with session.begin_nested():
            change()
            session.flush()
    except IntegrityError as e:
        if "uq_org_units_live_sibling_name" not in str(e.orig):
            raise
        raise Conflict(_("There is already a unit named %(name)s there.", name=name), field="name") from None


def _clean_name(name: str) -> str:
    return clean_name(name, "name", max_length=100)  # the shared name rules (app/validation.py)


def create_unit(
    session: Session,
    tenant_id: int,
    *,
    name: str,
    kind: str,
    parent: OrgUnit | None = None,
    grid_type: str | None = None,
    actor_user_id: int | None = None,
) -> OrgUnit:
    name = _clean_name(name)
    _check_placement(kind, grid_type or None, parent)
    if parent is not None and parent.tenant_id != tenant_id:
        raise NotFound(_("No such org unit."))
    _check_unique_name(session, tenant_id, parent.id if parent else None, name)
    unit = OrgUnit(
        tenant_id=tenant_id,
        parent_id=parent.id if parent else None,
        kind=kind,
        grid_type=grid_type or None,
        name=name,
        path="",
        depth=(parent.depth + 1) if parent else 0,
        created_at=utcnow(),
    )
    _flush_unique(session, name, lambda: session.add(unit))
    unit.path = f"{parent.path if parent else '/'}{unit.id}/"
    session.flush()
    record(
        session,
        "org.create",
        tenant_id=tenant_id,
        actor_user_id=actor_user_id,
        target_type="org_unit",
        target_id=unit.id,
        detail={"name": name, "kind": kind, "parent_id": unit.parent_id},
    )
    return unit


def rename_unit(
    session: Session, unit: OrgUnit, name: str, *, grid_type: str | None = None, actor_user_id: int | None = None
) -> OrgUnit:
    old = unit.name
    name = _clean_name(name)
    if grid_type is not None and unit.kind != "grid":
        raise ValidationFailed(_("Only grids have a grid type."), field="grid_type")
    if grid_type is not None and grid_type != unit.grid_type:
        if grid_type not in GRID_TYPES:
            raise ValidationFailed(_("Choose the grid type."), field="grid_type")
        _check_placement(unit.kind, grid_type, unit.parent)
        _check_children_fit(session, unit, grid_type)
    if unit.retired_at is None:
        _check_unique_name(session, unit.tenant_id, unit.parent_id, name, exclude_id=unit.id)
    if grid_type is not None:
        unit.grid_type = grid_type
    _flush_unique(session, name, lambda: setattr(unit, "name", name))
    record(
        session,
        "org.rename",
        tenant_id=unit.tenant_id,
        actor_user_id=actor_user_id,
        target_type="org_unit",
        target_id=unit.id,
        detail={"from": old, "to": unit.name},
    )
    session.flush()
    return unit


def move_unit(
    session: Session, unit: OrgUnit, new_parent: OrgUnit | None, *, actor_user_id: int | None = None
) -> OrgUnit:
    """Re-hang a unit and its whole subtree under another parent (one UPDATE for the subtree)."""
    if new_parent is not None and (new_parent.tenant_id != unit.tenant_id):
        raise NotFound(_("No such org unit."))
    if new_parent is not None and new_parent.path.startswith(unit.path):
        raise ValidationFailed(
            _("A unit cannot be moved into itself or under one of its own units."), field="parent_id"
        )
    _check_placement(unit.kind, unit.grid_type, new_parent)
    if unit.retired_at is None:
        _check_unique_name(
            session, unit.tenant_id, new_parent.id if new_parent else None, unit.name, exclude_id=unit.id
        )
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
    record(
        session,
        "org.move",
        tenant_id=unit.tenant_id,
        actor_user_id=actor_user_id,
        target_type="org_unit",
        target_id=unit.id,
        detail={"from_parent_id": old_parent, "to_parent_id": unit.parent_id},
    )
    moved = session.get(OrgUnit, unit.id)
    assert moved is not None  # the unit was just updated, not deleted
    return moved


def retire_unit(session: Session, unit: OrgUnit, *, actor_user_id: int | None = None) -> OrgUnit:
    """Retire a unit that has no active units or residents under it. History stays; the row stays."""
    if unit.retired_at is not None:
        return unit
    active_children = session.scalar(
        select(func.count()).select_from(OrgUnit).where(OrgUnit.parent_id == unit.id, OrgUnit.retired_at.is_(None))
    )
    if active_children:
        raise Conflict(_("Retire or move the %(n)d units under it first.", n=active_children))
    # Other areas say what still depends on the unit (people: its residents).
    reasons = reasons_against(unit_retiring, session, unit=unit)
    if reasons:
        raise Conflict(" ".join(reasons))
    unit.retired_at = utcnow()
    record(
        session,
        "org.retire",
        tenant_id=unit.tenant_id,
        actor_user_id=actor_user_id,
        target_type="org_unit",
        target_id=unit.id,
    )
    session.flush()
    return unit


def subtree_ids(session: Session, unit: OrgUnit):
    """A SELECT of every unit id in the subtree (the unit included): one index range scan."""
    return select(OrgUnit.id).where(OrgUnit.tenant_id == unit.tenant_id, starts_with(OrgUnit.path, unit.path))


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


def path_labels(session: Session, units) -> dict[int, str]:
    """Each unit's place in the tree as names, e.g. "凤凰街道 › 塘家社区 › 第1网格" (one query for all)."""
    units = list(units)
    ids = {i for u in units for i in u.ancestor_ids}
    names = dict(session.execute(select(OrgUnit.id, OrgUnit.name).where(OrgUnit.id.in_(ids))).all()) if ids else {}
    for u in units:
        names[u.id] = u.name
    return {u.id: PATH_SEPARATOR.join(names.get(i, "…") for i in u.ancestor_ids) for u in units}


def path_label(session: Session, unit: OrgUnit) -> str:
    return path_labels(session, [unit])[unit.id]


def _normal(text: str) -> str:
    return " ".join((text or "").split()).casefold()


def _normal_path(text: str) -> str:
    """A typed or shown path, compared whatever the spaces around "›" (or ">")."""
    return "›".join(_normal(p) for p in (text or "").replace(">", "›").split("›"))


def search_units(
    session: Session,
    tenant_id: int,
    text: str,
    scope_condition,
    *,
    kinds=None,
    exclude_path: str | None = None,
    limit: int = 20,
) -> list[OrgUnit]:
    """Active units the user may pick whose name contains `text`: the closest matches first (the whole
    name, then names starting with it), then the top of the tree first. `text` may be a path
    ("凤凰街道 › 第1网格"): its last part is searched and the rest must name the unit's ancestors."""
    parts = [p.strip() for p in (text or "").replace(">", "›").split("›") if p.strip()]
    if not parts:
        return []
    term = parts[-1]
    q = select(OrgUnit).where(
        OrgUnit.tenant_id == tenant_id,
        OrgUnit.retired_at.is_(None),
        scope_condition,
        OrgUnit.name.contains(term, autoescape=True),
    )
    if kinds:
        q = q.where(OrgUnit.kind.in_(list(kinds)))
    if exclude_path:
        q = q.where(not_(starts_with(OrgUnit.path, exclude_path)))
    exact = func.lower(OrgUnit.name) == func.lower(literal(term))
    prefix = starts_with(OrgUnit.name, term)
    q = q.order_by(case((exact, 0), (prefix, 1), else_=2), OrgUnit.depth, OrgUnit.name, OrgUnit.id)
    found = list(session.scalars(q.limit(limit if len(parts) == 1 else limit * 10)))
    if len(parts) > 1:
        labels = path_labels(session, found)
        wanted = [_normal(p) for p in parts[:-1]]
        found = [u for u in found if _ancestors_match(labels[u.id], wanted)][:limit]
    return found


def _ancestors_match(label_text: str, wanted: list[str]) -> bool:
    """The names before the last in a typed path appear, in order, among the unit's ancestors."""
    names = [_normal(n) for n in label_text.split(PATH_SEPARATOR.strip())][:-1]
    i = 0
    for n in names:
        if i < len(wanted) and wanted[i] in n:
            i += 1
    return i == len(wanted)


def resolve_unit(
    session: Session,
    tenant_id: int,
    text: str,
    scope_condition,
    *,
    kinds=None,
    exclude_path: str | None = None,
    limit: int = 20,
) -> list[OrgUnit]:
    """What a typed name means: the unit whose whole name (or path) it is, if exactly one; else every
    unit whose name contains it (none, one, or several to choose from)."""
    found = search_units(session, tenant_id, text, scope_condition, kinds=kinds, exclude_path=exclude_path, limit=limit)
    typed = _normal_path(text)
    labels = path_labels(session, found)
    whole = [u for u in found if _normal_path(labels[u.id]) == typed or _normal(u.name) == typed]
    return whole if len(whole) == 1 else found


def label(unit: OrgUnit) -> str:
    """The unit's name with its kind, e.g. "凤凰社区第3网格（片区网格）"."""
    kind = GRID_TYPE_LABELS.get(unit.grid_type or "") if unit.kind == "grid" else KIND_LABELS.get(unit.kind)
    return f"{unit.name}（{kind}）" if kind else unit.name
