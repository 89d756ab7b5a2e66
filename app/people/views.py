"""Member pages: list and search, a member's page, create and edit, grid assignments, roles, my page."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from app.auth import services as auth
from app.auth.models import RoleGrant, User
from app.auth.permissions import ROLE_KINDS, path_filter, require
from app.db import get_session
from app.errors import AppError, Conflict, NotFound, ValidationFailed
from app.forms import choices
from app.pagination import paginate
from app.places import services as places
from app.places.models import OrgUnit
from app.validation import int_arg, parse
from ledger import Ledger

from . import services
from .forms import AssignmentForm, EndAssignmentForm, GrantForm, MemberForm
from .models import GridAssignment, Member
from .schemas import MemberIn, MemberPatch

bp = Blueprint("people", __name__, template_folder="templates")


def member_query_from_args() -> tuple[services.MemberQuery, OrgUnit | None]:
    grid = None
    grid_id = int_arg(request.args, "grid")
    if grid_id:
        grid = places.get_unit(get_session(), current_user.tenant_id, grid_id)
        require(current_user, "org.view", grid)
    query = services.MemberQuery(q=request.args.get("q", ""), grid_id=grid_id, tag=request.args.get("tag") or None,
                                 status=request.args.get("status") or None)
    return query, grid


def scoped_member_select(action: str = "member.view"):
    query, grid = member_query_from_args()
    return services.search_query(current_user.tenant_id, query, path_filter(current_user, action, OrgUnit.path),
                                 grid.path if grid else None), query, grid


@bp.get("/members/")
@login_required
def list_members():
    require(current_user, "member.view")
    stmt, query, grid = scoped_member_select()
    page = paginate(get_session(), stmt, size=20)
    return render_template("people/list.html", page=page, query=query, grid=grid)


@bp.get("/members/<int:member_id>")
@login_required
def member_page(member_id: int):
    db = get_session()
    member = services.get_member(db, current_user.tenant_id, member_id)
    require(current_user, "member.view", member)
    balance = Ledger(db, tenant=member.tenant_id).balance(member.wallet_code)
    assignments = list(db.scalars(select(GridAssignment).where(GridAssignment.member_id == member.id)
                                  .order_by(GridAssignment.effective_from.desc(), GridAssignment.id.desc())))
    grants = list(db.scalars(select(RoleGrant).join(User, User.id == RoleGrant.user_id)
                             .where(User.member_id == member.id).order_by(RoleGrant.granted_at.desc())))
    grant_form = GrantForm()
    grant_form.role.choices = choices((k, str(v.label)) for k, v in ROLE_KINDS.items())
    return render_template("people/member.html", member=member, balance=balance, assignments=assignments,
                           grants=grants, today=date.today(), assign_form=AssignmentForm(effective_from=date.today()),
                           end_form=EndAssignmentForm(effective_to=date.today()), grant_form=grant_form,
                           ancestors=places.ancestors(db, member.grid))


def _form_to_dict(form: MemberForm) -> dict:
    return {
        "name": form.name.data, "mobile": form.mobile.data, "id_number": form.id_number.data or None,
        "grid_id": form.grid_id.data, "status": form.status.data, "is_volunteer": form.is_volunteer.data,
        "is_party_member": form.is_party_member.data, "party_org": form.party_org.data or None,
        "checkin_community_id": form.checkin_community_id.data, "is_grid_worker": form.is_grid_worker.data,
        "is_building_head": form.is_building_head.data,
    }


def _show_errors(form: MemberForm, e: AppError) -> None:
    details = e.details or [{"field": e.field, "message": e.message}]
    for d in details:
        target = getattr(form, d.get("field") or "", None)
        if target is not None and hasattr(target, "errors"):
            target.errors = list(target.errors) + [d["message"]]
        else:
            form.form_errors.append(d["message"])


@bp.route("/members/new", methods=["GET", "POST"])
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
            _show_errors(form, e)
    status = 422 if request.method == "POST" else 200
    return render_template("people/edit.html", form=form, member=None), status


@bp.route("/members/<int:member_id>/edit", methods=["GET", "POST"])
@login_required
def edit_member(member_id: int):
    db = get_session()
    member = services.get_member(db, current_user.tenant_id, member_id)
    services.require_may_change(db, current_user, member)
    form = MemberForm(obj=member)
    if request.method == "GET":
        form.id_number.data = ""
    if form.validate_on_submit():
        try:
            values = _form_to_dict(form)
            if not values["id_number"]:
                values.pop("id_number")  # blank keeps the stored number (it is never shown in full)
            patch = parse(MemberPatch, values)
            if patch.grid_id is not None and patch.grid_id != member.grid_id:
                require(current_user, "member.edit", places.get_unit(db, current_user.tenant_id, patch.grid_id))
            services.update_member(db, member, patch, actor=current_user)
            flash(_("Saved."), "success")
            return redirect(url_for("people.member_page", member_id=member.id))
        except AppError as e:
            _show_errors(form, e)
    status = 422 if request.method == "POST" else 200
    return render_template("people/edit.html", form=form, member=member), status


@bp.post("/members/<int:member_id>/assignments")
@login_required
def add_assignment(member_id: int):
    db = get_session()
    member = services.get_member(db, current_user.tenant_id, member_id)
    require(current_user, "member.view", member)
    form = AssignmentForm()
    if not form.validate_on_submit():
        flash(_("Check the form: %(errors)s", errors="; ".join(e for errs in form.errors.values() for e in errs)), "error")
        return redirect(url_for("people.member_page", member_id=member_id))
    require(current_user, "member.view", member)
    unit = places.get_unit(db, current_user.tenant_id, form.org_unit_id.data)
    require(current_user, "assignment.edit", unit)
    try:
        services.assign(db, member, unit, form.role.data, effective_from=form.effective_from.data,
                        households=form.households.data, actor_user_id=current_user.user_id)
        flash(_("%(name)s now serves %(unit)s.", name=member.name, unit=unit.name), "success")
    except (ValidationFailed, Conflict) as e:
        flash(e.message, "error")
    return redirect(url_for("people.member_page", member_id=member_id))


@bp.post("/assignments/<int:assignment_id>/end")
@login_required
def end_assignment(assignment_id: int):
    db = get_session()
    a = db.get(GridAssignment, assignment_id)
    if a is None or a.tenant_id != current_user.tenant_id:
        raise NotFound(_("No such assignment."))
    require(current_user, "assignment.edit", a.org_unit)
    form = EndAssignmentForm()
    if form.validate_on_submit():
        try:
            services.end_assignment(db, a, form.effective_to.data, actor_user_id=current_user.user_id)
            flash(_("The assignment ends on %(d)s.", d=form.effective_to.data), "success")
        except (ValidationFailed, Conflict) as e:
            flash(e.message, "error")
    return redirect(url_for("people.member_page", member_id=a.member_id))


@bp.post("/members/<int:member_id>/roles")
@login_required
def grant(member_id: int):
    db = get_session()
    member = services.get_member(db, current_user.tenant_id, member_id)
    require(current_user, "role.grant", member)
    form = GrantForm()
    form.role.choices = choices((k, str(v.label)) for k, v in ROLE_KINDS.items())
    if form.validate_on_submit():
        unit = places.get_unit(db, current_user.tenant_id, form.org_unit_id.data) if form.org_unit_id.data else None
        try:
            auth.grant_role(db, current_user, member, form.role.data, unit)
            flash(_("Role granted."), "success")
        except (ValidationFailed, Conflict) as e:
            flash(e.message, "error")
    return redirect(url_for("people.member_page", member_id=member_id))


@bp.post("/roles/<int:grant_id>/revoke")
@login_required
def revoke(grant_id: int):
    db = get_session()
    g = db.get(RoleGrant, grant_id)
    if g is None or g.tenant_id != current_user.tenant_id:
        raise NotFound(_("No such role grant."))
    require(current_user, "role.grant")
    auth.revoke_role(db, current_user, g)
    flash(_("Role revoked."), "success")
    member_id = db.scalar(select(User.member_id).where(User.id == g.user_id))
    return redirect(url_for("people.member_page", member_id=member_id))


@bp.get("/me")
@login_required
def my_page():
    return redirect(url_for("people.member_page", member_id=current_user.member_id))


# The QR and import/export pages live in their own modules on this blueprint.
from . import qr_views  # noqa: E402,F401
from . import import_views  # noqa: E402,F401
