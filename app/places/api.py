"""The places area's JSON API: list, read, create and update org units (app/places/blueprint.py routes them).

Views only translate HTTP to the services and back. An id in the URL that the user may not see
answers 404; an org unit named in a body that the user may not see (or that does not exist) is a 422
on that field, so a body never reveals whether another scope's unit exists."""

from __future__ import annotations

from flask import request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from app.access import path_filter, require
from app.api.blueprints import page_of
from app.api.openapi import WRITE_SECURITY, api, responses, write_responses
from app.api.schemas import ErrorOut
from app.db import get_session
from app.errors import NotFound, ValidationFailed

from . import services as places
from .models import OrgUnit
from .schemas import OrgUnitIn, OrgUnitOut, OrgUnitPage, OrgUnitPatch, OrgUnitQuery
from .views import require_change


def unit_in_body(unit_id: int, field: str, action: str) -> OrgUnit:
    """An org unit named in a request body, which the user must be allowed to `action`."""
    try:
        unit = places.get_unit(get_session(), current_user.tenant_id, unit_id)
        require(current_user, action, unit)
    except NotFound:
        raise ValidationFailed(
            _("Some fields need fixing."),
            details=[{"field": field, "code": "unknown", "message": _("No such org unit.")}],
        ) from None
    return unit


# --- org units -------------------------------------------------------------------------------------


@api.validate(
    query=OrgUnitQuery,
    resp=responses(HTTP_200=OrgUnitPage, HTTP_403=(ErrorOut, "Not allowed to list org units")),
    tags=["org-units"],
    operation_id="listOrgUnits",
)
def list_org_units():
    """Org units the user may see, searched by part of the name; the top of the tree first, then by name."""
    query: OrgUnitQuery = request.context.query
    require(current_user, "org.view")
    stmt = select(OrgUnit).where(
        OrgUnit.tenant_id == current_user.tenant_id, path_filter(current_user, "org.view", OrgUnit.path)
    )
    if query.parent_id is not None:
        parent = places.get_unit(get_session(), current_user.tenant_id, query.parent_id)
        require(current_user, "org.view", parent)
        stmt = stmt.where(OrgUnit.parent_id == parent.id)
    if query.q:
        stmt = stmt.where(OrgUnit.name.contains(query.q, autoescape=True))
    if query.kind:
        stmt = stmt.where(OrgUnit.kind == query.kind)
    if not query.include_retired:
        stmt = stmt.where(OrgUnit.retired_at.is_(None))
    return page_of(stmt.order_by(OrgUnit.depth, OrgUnit.name, OrgUnit.id), query, OrgUnitOut, OrgUnitPage)


@api.validate(resp=responses(HTTP_200=OrgUnitOut), tags=["org-units"], operation_id="getOrgUnit")
def get_org_unit(unit_id: int):
    unit = places.get_unit(get_session(), current_user.tenant_id, unit_id)
    require(current_user, "org.view", unit)
    return OrgUnitOut.of(unit)


@api.validate(
    json=OrgUnitIn,
    resp=write_responses(HTTP_201=OrgUnitOut),
    tags=["org-units"],
    security=WRITE_SECURITY,
    operation_id="createOrgUnit",
)
def create_org_unit():
    """Create a unit under `parent_id`; a street (no parent) needs a district-wide grant."""
    data: OrgUnitIn = request.context.json
    if data.parent_id is None:
        require(current_user, "role.grant")
        parent = None
    else:
        require(current_user, "org.edit")
        parent = unit_in_body(data.parent_id, "parent_id", "org.edit")
    unit = places.create_unit(
        get_session(),
        current_user.tenant_id,
        name=data.name,
        kind=data.kind,
        parent=parent,
        grid_type=data.grid_type,
        actor_user_id=current_user.user_id,
    )
    return OrgUnitOut.of(unit), 201, {"Location": url_for(".get_org_unit", unit_id=unit.id)}


@api.validate(
    json=OrgUnitPatch,
    resp=write_responses(HTTP_200=OrgUnitOut),
    tags=["org-units"],
    security=WRITE_SECURITY,
    operation_id="updateOrgUnit",
)
def update_org_unit(unit_id: int):
    """Rename, change the grid type, move (parent_id; null = to the top) or retire (retired: true)."""
    db = get_session()
    patch: OrgUnitPatch = request.context.json  # type: ignore[attr-defined]
    unit = places.get_unit(db, current_user.tenant_id, unit_id)
    require_change(current_user, unit)  # strictly below the top of the user's scope
    if patch.name is not None or patch.grid_type is not None:
        unit = places.rename_unit(
            db, unit, patch.name or unit.name, grid_type=patch.grid_type, actor_user_id=current_user.user_id
        )
    if "parent_id" in patch.model_fields_set:
        if patch.parent_id is None:
            require(current_user, "role.grant")
            new_parent = None
        else:
            new_parent = unit_in_body(patch.parent_id, "parent_id", "org.edit")
        if (new_parent.id if new_parent else None) != unit.parent_id:
            unit = places.move_unit(db, unit, new_parent, actor_user_id=current_user.user_id)
    if patch.retired:
        unit = places.retire_unit(db, unit, actor_user_id=current_user.user_id)
    return OrgUnitOut.of(unit)
