"""The people area's JSON API: list, read, create and update members (app/people/blueprint.py routes them)."""

from __future__ import annotations

from flask import request, url_for
from flask_login import current_user

from app.access import path_filter, require
from app.api.openapi import WRITE_SECURITY, api, responses, write_responses
from app.api.schemas import ErrorOut
from app.db import get_session, writes_on_get
from app.places import services as places
from app.places.api import unit_in_body
from app.places.models import OrgUnit

from . import services as people
from .schemas import MemberIn, MemberOut, MemberPage, MemberPatch, MemberQuery, MyQrOut

# --- members ---------------------------------------------------------------------------------------


@api.validate(
    query=MemberQuery,
    resp=responses(HTTP_200=MemberPage, HTTP_403=(ErrorOut, "Not allowed to list members")),
    tags=["members"],
    operation_id="listMembers",
)
def list_members():
    """Members the user may see, newest first; `q` is a name prefix or a mobile (tail)."""
    query: MemberQuery = request.context.query
    require(current_user, "member.view")
    grid = None
    if query.grid_id is not None:
        grid = places.get_unit(get_session(), current_user.tenant_id, query.grid_id)
        require(current_user, "org.view", grid)
    page = people.search_rows_page(
        get_session(),
        current_user.tenant_id,
        people.MemberQuery(q=query.q, grid_id=query.grid_id, tag=query.tag, status=query.status),
        path_filter(current_user, "member.view", OrgUnit.path),
        grid.path if grid else None,
        size=query.page_size,
        number=query.page,
    )
    return MemberPage(
        items=[MemberOut.of(r) for r in page.items], page=page.number, page_size=page.size, has_next=page.has_next
    )


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
    unit_in_body(data.grid_id, "grid_id", "member.edit")
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
        unit_in_body(patch.grid_id, "grid_id", "member.edit")
    member = people.update_member(db, member, patch, actor=current_user)
    return MemberOut.of(member)


# --- the member's own code ------------------------------------------------------------------------------


@api.validate(resp=responses(HTTP_200=MyQrOut), tags=["members"], operation_id="myQrCode")
@writes_on_get  # a new short code is issued when the last one was used or ran out
def my_qr():
    """Your live member QR token and short code, as /me/qr shows them (for an app that draws the code)."""
    from app.tokens import PURPOSES

    from .qr_views import live_code

    token, refresh_in, short = live_code()
    lifetime = PURPOSES["member"].step_seconds * (PURPOSES["member"].valid_steps + 1)
    return MyQrOut(token=token, short_code=short, refresh_in=refresh_in, valid_for=lifetime)
