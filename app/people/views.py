"""Member pages: list and search, a member's page, create and edit, grid assignments, roles, my page."""

from __future__ import annotations

from datetime import date
from typing import cast

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select
from wtforms.validators import Optional

from app.access import ROLE_KINDS, can, path_filter, require
from app.auth import services as auth
from app.auth.models import RoleGrant, User
from app.db import get_session
from app.errors import AppError, Conflict, NotFound, ValidationFailed
from app.forms import ConfirmForm, choices, show_errors
from app.pagination import paginate
from app.places import services as places
from app.places.models import OrgUnit
from app.validation import int_arg, parse
from ledger import Ledger

from . import services
from .forms import AssignmentForm, EndAssignmentForm, GrantForm, MemberForm
from .models import GridAssignment, Member
from .schemas import MemberIn, MemberPatch


def member_query_from_args() -> tuple[services.MemberQuery, OrgUnit | None]:
    grid = None
    grid_id = int_arg(request.args, "grid")
    if grid_id:
        grid = places.get_unit(get_session(), current_user.tenant_id, grid_id)
        require(current_user, "org.view", grid)
    query = services.MemberQuery(
        q=request.args.get("q", ""),
        grid_id=grid_id,
        tag=request.args.get("tag") or None,
        status=request.args.get("status") or None,
    )
    return query, grid


def scoped_member_select(action: str = "member.view"):
    query, grid = member_query_from_args()
    return (
        services.search_query(
            current_user.tenant_id, query, path_filter(current_user, action, OrgUnit.path), grid.path if grid else None
        ),
        query,
        grid,
    )


@login_required
def list_members():
    require(current_user, "member.view")
    stmt, query, grid = scoped_member_select()
    page = paginate(get_session(), stmt, size=20)
    return render_template("people/list.html", page=page, query=query, grid=grid)


@login_required
def member_page(member_id: int):
    db = get_session()
    member = services.get_member(db, current_user.tenant_id, member_id)
    require(current_user, "member.view", member)
    return _render_member(db, member)


def _grant_form(fresh: bool = False) -> GrantForm:
    form = GrantForm(formdata=None) if fresh else GrantForm()
    # No role is chosen until the administrator picks one (the first would otherwise be granted).
    # Roles held at one place below a unit (outlet staff) are granted on that place's page, not here.
    form.role.choices = choices(
        [("", _("Choose a role…"))]
        + [(k, str(v.label)) for k, v in ROLE_KINDS.items() if v.scope in (None, "org_unit")]
    )
    return form


def _render_member(
    db,
    member: Member,
    *,
    assign_form: AssignmentForm | None = None,
    grant_form: GrantForm | None = None,
    status: int = 200,
):
    """The member's page; a form that came back with errors (or with places to choose from) is shown again."""
    balance = Ledger(db, tenant=member.tenant_id).balance(member.wallet_code)
    assignments = list(
        db.scalars(
            select(GridAssignment)
            .where(GridAssignment.member_id == member.id)
            .order_by(GridAssignment.effective_from.desc(), GridAssignment.id.desc())
        )
    )
    grants = list(
        db.scalars(
            select(RoleGrant)
            .join(User, User.id == RoleGrant.user_id)
            .where(User.member_id == member.id)
            .order_by(RoleGrant.granted_at.desc())
        )
    )
    if assign_form is None:
        # The 包格联户 duty is a party member's: for anyone else the list starts on a duty they may take.
        assign_form = AssignmentForm(
            formdata=None,
            effective_from=date.today(),
            role="party_member" if member.is_party_member else "grid_worker",
        )
        if can(current_user, "assignment.edit", member.grid):
            assign_form.org_unit_id.set_unit(member.grid)
    return render_template(
        "people/member.html",
        member=member,
        balance=balance,
        assignments=assignments,
        grants=grants,
        today=date.today(),
        assign_form=assign_form,
        grant_form=grant_form or _grant_form(fresh=True),
        ancestors=places.ancestors(db, member.grid),
    ), status


def _form_to_dict(form: MemberForm) -> dict:
    return {
        "name": form.name.data,
        "mobile": form.mobile.data,
        "id_number": form.id_number.data or None,
        "grid_id": form.grid_id.unit_id,
        "status": form.status.data,
        "is_volunteer": form.is_volunteer.data,
        "is_party_member": form.is_party_member.data,
        "party_org": form.party_org.data or None,
        "checkin_community_id": form.checkin_community_id.unit_id,
        "is_grid_worker": form.is_grid_worker.data,
        "is_building_head": form.is_building_head.data,
    }


@login_required
def create_member():
    require(current_user, "member.edit")
    db = get_session()
    form = MemberForm(grid_id=int_arg(request.args, "grid"))
    if form.validate_on_submit():
        try:
            data = parse(MemberIn, _form_to_dict(form))
            grid = places.get_unit(db, current_user.tenant_id, data.grid_id)
            require(current_user, "member.edit", grid)
            member = services.create_member(db, current_user.tenant_id, data, actor_user_id=current_user.user_id)
            flash(_("%(name)s was added.", name=member.name), "success")
            return redirect(url_for("people.member_page", member_id=member.id))
        except AppError as e:
            show_errors(form, e)
    status = 422 if request.method == "POST" else 200
    return render_template("people/edit.html", form=form, member=None), status


@login_required
def edit_member(member_id: int):
    db = get_session()
    member = services.get_member(db, current_user.tenant_id, member_id)
    services.require_may_change(db, current_user, member)
    form = MemberForm(obj=member)
    # The mobile and the ID number are never shown in full: blank keeps the one on file.
    form.mobile.validators = [Optional()]
    if request.method == "GET":
        form.id_number.data = ""
        form.mobile.data = ""
    if form.validate_on_submit():
        try:
            values = _form_to_dict(form)
            if not values["id_number"]:
                values.pop("id_number")  # blank keeps the stored number (it is never shown in full)
            if not (values["mobile"] or "").strip():
                values.pop("mobile")
            patch = cast(MemberPatch, parse(MemberPatch, values))
            if patch.grid_id is not None and patch.grid_id != member.grid_id:
                require(current_user, "member.edit", places.get_unit(db, current_user.tenant_id, patch.grid_id))
            services.update_member(db, member, patch, actor=current_user)
            flash(_("Saved."), "success")
            return redirect(url_for("people.member_page", member_id=member.id))
        except AppError as e:
            show_errors(form, e)
    status = 422 if request.method == "POST" else 200
    return render_template("people/edit.html", form=form, member=member), status


@login_required
def add_assignment(member_id: int):
    db = get_session()
    member = services.get_member(db, current_user.tenant_id, member_id)
    require(current_user, "member.view", member)
    require(current_user, "assignment.edit")
    form = AssignmentForm()
    if form.validate_on_submit():
        unit = form.org_unit_id.data  # a grid the user may assign: the field checked it
        try:
            services.assign(
                db,
                member,
                unit,
                form.role.data,
                effective_from=form.effective_from.data,
                households=form.households.data,
                actor_user_id=current_user.user_id,
            )
            flash(_("%(name)s now serves %(unit)s.", name=member.name, unit=unit.name), "success")
            return redirect(url_for("people.member_page", member_id=member_id))
        except Conflict as e:  # nothing to fix in the form: it is already so
            flash(e.message, "error")
            return redirect(url_for("people.member_page", member_id=member_id))
        except ValidationFailed as e:
            show_errors(form, e)
    return _render_member(db, member, assign_form=form, status=422)


@login_required
def end_assignment(assignment_id: int):
    """Ending asks first: GET (or a POST without confirm=yes) shows the question with the end date."""
    db = get_session()
    a = db.get(GridAssignment, assignment_id)
    if a is None or a.tenant_id != current_user.tenant_id:
        raise NotFound(_("No such assignment."))
    require(current_user, "assignment.edit", a.org_unit)
    form = EndAssignmentForm(effective_to=date.today())
    status = 200
    if form.validate_on_submit():
        try:
            services.end_assignment(db, a, form.effective_to.data, actor_user_id=current_user.user_id)
            flash(_("The assignment ends on %(d)s.", d=form.effective_to.data), "success")
            return redirect(url_for("people.member_page", member_id=a.member_id))
        except (ValidationFailed, Conflict) as e:
            form.effective_to.errors = list(form.effective_to.errors) + [e.message]
            status = 422
    elif form.is_submitted() and form.confirm.data == "yes":
        status = 422
    role = {
        "party_member": _("Responsible party member"),
        "grid_worker": _("Grid worker"),
        "building_head": _("Building head"),
    }[a.role]
    return render_template(
        "confirm.html",
        form=form,
        extra_field=form.effective_to,
        title=_("End this responsibility?"),
        question=_(
            "%(name)s stops being %(role)s of %(unit)s.",
            name=a.member.name,
            role=role,
            unit=places.path_label(db, a.org_unit),
        ),
        consequence=_("The assignment stays in the history with its end date. This cannot be undone here."),
        action=url_for("people.end_assignment", assignment_id=a.id),
        button=_("End the assignment"),
        back=url_for("people.member_page", member_id=a.member_id),
    ), status


@login_required
def grant(member_id: int):
    db = get_session()
    member = services.get_member(db, current_user.tenant_id, member_id)
    require(current_user, "role.grant", member)
    form = _grant_form()
    if form.validate_on_submit():
        try:
            if form.confirm.data != "yes":  # asks first: who, which role, over what
                unit, _suffix = auth.grant_scope(form.role.data, form.org_unit_id.data)
                return _confirm_grant(db, member, form.role.data, unit)
            auth.grant_role(db, current_user, member, form.role.data, form.org_unit_id.data)
            flash(_("Role granted."), "success")
            return redirect(url_for("people.member_page", member_id=member_id))
        except Conflict as e:  # nothing to fix in the form: they hold it already
            flash(e.message, "error")
            return redirect(url_for("people.member_page", member_id=member_id))
        except ValidationFailed as e:
            show_errors(form, e)
    return _render_member(db, member, grant_form=form, status=422)


def _confirm_grant(db, member: Member, role: str, unit) -> str:
    scope = places.path_label(db, unit) if unit is not None else _("the whole district")
    carried = {"role": role}
    if unit is not None:  # the unit picker's id and text, as the form posted them
        carried |= {"org_unit_id": str(unit.id), "org_unit_id-text": scope}
    return render_template(
        "confirm.html",
        form=ConfirmForm(formdata=None),
        title=_("Grant this role?"),
        question=_(
            "%(name)s will be %(role)s for %(scope)s.", name=member.name, role=ROLE_KINDS[role].label, scope=scope
        ),
        consequence=_("They can see and do what this role allows at once, until the role is revoked."),
        action=url_for("people.grant", member_id=member.id),
        button=_("Grant the role"),
        button_class="",
        carried=carried,
        back=url_for("people.member_page", member_id=member.id),
    )


@login_required
def revoke(grant_id: int):
    """Revoking asks first: GET (or a POST without confirm=yes) shows the question, a confirmed POST revokes."""
    db = get_session()
    g = db.get(RoleGrant, grant_id)
    if g is None or g.tenant_id != current_user.tenant_id:
        raise NotFound(_("No such role grant."))
    require(current_user, "role.grant")
    member = db.get(Member, db.scalar(select(User.member_id).where(User.id == g.user_id)))
    assert member is not None  # a grant's user always belongs to a member (non-null foreign keys)
    back = url_for("people.member_page", member_id=member.id)
    form = ConfirmForm()
    if form.validate_on_submit():
        auth.revoke_role(db, current_user, g)
        flash(_("Role revoked."), "success")
        return redirect(back)
    role = str(ROLE_KINDS[g.role].label) if g.role in ROLE_KINDS else g.role
    scope = places.path_label(db, g.org_unit) if g.org_unit else _("the whole district")
    return render_template(
        "confirm.html",
        form=ConfirmForm(formdata=None),
        title=_("Revoke this role?"),
        question=_("%(name)s will no longer be %(role)s for %(scope)s.", name=member.name, role=role, scope=scope),
        consequence=_("They lose what this role lets them see and do at once. To give it back, grant it again."),
        action=url_for("people.revoke", grant_id=g.id),
        button=_("Revoke the role"),
        back=back,
    )


@login_required
def my_page():
    return redirect(url_for("people.member_page", member_id=current_user.member_id))
