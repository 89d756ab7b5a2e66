"""JSON API v1: list, read, create and update org units and members (OpenAPI at /api/v1/openapi.json).

Views only translate HTTP to the services and back; rules live in app/places/services.py and
app/people/services.py, access in app/access.py. An id in the URL that the user may not
see answers 404; an org unit named in a body that the user may not see (or that does not exist) is
a 422 on that field, so a body never reveals whether another scope's unit exists."""

from __future__ import annotations

from flask import jsonify, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from sqlalchemy import select

from app.access import path_filter, require
from app.db import get_session
from app.errors import NotFound, ValidationFailed
from app.pagination import paginate
from app.people import services as people
from app.people.schemas import MemberIn, MemberPatch
from app.places import services as places
from app.places.models import OrgUnit
from app.places.views import require_change

from .openapi import WRITE_SECURITY, api, document, responses, write_responses
from .schemas import (
    CsrfTokenOut,
    MemberOut,
    MemberPage,
    MemberQuery,
    OrgUnitIn,
    OrgUnitOut,
    OrgUnitPage,
    OrgUnitPatch,
    OrgUnitQuery,
)


def openapi():
    return jsonify(document())


@api.validate(resp=responses(HTTP_200=CsrfTokenOut), tags=["session"], operation_id="getCsrfToken")
def csrf_token():
    """The CSRF token for this session: send it as X-CSRFToken on every POST and PATCH."""
    return CsrfTokenOut(csrf_token=generate_csrf())


def _unit_in_body(unit_id: int, field: str, action: str) -> OrgUnit:
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


def _page(stmt, query, out, page_model):
    page = paginate(get_session(), stmt, size=query.page_size, number=query.page)
    return page_model(
        items=[out.of(x) for x in page.items], page=page.number, page_size=page.size, has_next=page.has_next
    )


# --- org units -------------------------------------------------------------------------------------


@api.validate(query=OrgUnitQuery, resp=responses(HTTP_200=OrgUnitPage), tags=["org-units"], operation_id="listOrgUnits")
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
    return _page(stmt.order_by(OrgUnit.depth, OrgUnit.name, OrgUnit.id), query, OrgUnitOut, OrgUnitPage)


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
        parent = _unit_in_body(data.parent_id, "parent_id", "org.edit")
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
            new_parent = _unit_in_body(patch.parent_id, "parent_id", "org.edit")
        if (new_parent.id if new_parent else None) != unit.parent_id:
            unit = places.move_unit(db, unit, new_parent, actor_user_id=current_user.user_id)
    if patch.retired:
        unit = places.retire_unit(db, unit, actor_user_id=current_user.user_id)
    return OrgUnitOut.of(unit)


# --- members ---------------------------------------------------------------------------------------


@api.validate(query=MemberQuery, resp=responses(HTTP_200=MemberPage), tags=["members"], operation_id="listMembers")
def list_members():
    """Members the user may see, newest first; `q` is a name prefix or a mobile (tail)."""
    query: MemberQuery = request.context.query
    require(current_user, "member.view")
    grid = None
    if query.grid_id is not None:
        grid = places.get_unit(get_session(), current_user.tenant_id, query.grid_id)
        require(current_user, "org.view", grid)
    stmt = people.search_query(
        current_user.tenant_id,
        people.MemberQuery(q=query.q, grid_id=query.grid_id, tag=query.tag, status=query.status),
        path_filter(current_user, "member.view", OrgUnit.path),
        grid.path if grid else None,
    )
    return _page(stmt, query, MemberOut, MemberPage)


@api.validate(resp=responses(HTTP_200=MemberOut), tags=["members"], operation_id="getMember")
def get_member(member_id: int):
    member = people.get_member(get_session(), current_user.tenant_id, member_id)
    require(current_user, "member.view", member)
    return MemberOut.of(member)


@api.validate(
    json=MemberIn,
    resp=write_responses(HTTP_201=MemberOut),
    tags=["members"],
    security=WRITE_SECURITY,
    operation_id="createMember",
)
def create_member():
    """Create a member (and their points wallet) in a grid the user may edit."""
    data: MemberIn = request.context.json
    require(current_user, "member.edit")
    _unit_in_body(data.grid_id, "grid_id", "member.edit")
    member = people.create_member(get_session(), current_user.tenant_id, data, actor_user_id=current_user.user_id)
    return MemberOut.of(member), 201, {"Location": url_for(".get_member", member_id=member.id)}


@api.validate(
    json=MemberPatch,
    resp=write_responses(HTTP_200=MemberOut),
    tags=["members"],
    security=WRITE_SECURITY,
    operation_id="updateMember",
)
def update_member(member_id: int):
    """Change the fields given; moving a member to another grid needs the right to edit there too."""
    db = get_session()
    patch: MemberPatch = request.context.json  # type: ignore[attr-defined]
    member = people.get_member(db, current_user.tenant_id, member_id)
    people.require_may_change(db, current_user, member)  # also: roles the member holds are within reach
    if patch.grid_id is not None and patch.grid_id != member.grid_id:
        _unit_in_body(patch.grid_id, "grid_id", "member.edit")
    member = people.update_member(db, member, patch, actor=current_user)
    return MemberOut.of(member)
