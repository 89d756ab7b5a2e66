"""Outlet management pages: the list of outlets in reach, creating and changing an outlet (its community
or street picked by typing part of the name), and its staff and supervisors (a member found by part
of the name or the last 4 digits of the mobile)."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from app.access import can, require
from app.db import get_session
from app.errors import AppError, Conflict, NotFound
from app.forms import show_errors
from app.pagination import paginate
from app.people.models import Member
from app.places.services import path_label

from . import outlets as outlet_services
from .forms import OutletForm, SettingsForm, StaffForm
from .models import Outlet


def find_members(text: str, tenant_id: int, limit: int = 10) -> list[Member]:
    """Active members by the last 4 digits of the mobile, or by part of the name."""
    text = (text or "").strip()[:50]
    if not text:
        return []
    cond = (
        Member.mobile_tail == text
        if text.isdecimal() and len(text) == 4
        else Member.name.contains(text, autoescape=True)
    )
    return list(
        get_session().scalars(
            select(Member)
            .where(Member.tenant_id == tenant_id, Member.status == "active", cond)
            .order_by(Member.name, Member.id)
            .limit(limit)
        )
    )


def outlet_for(outlet_id: int, action: str = "outlet.view") -> Outlet:
    """The outlet if the user may `action` there: 404 outside their reach, 403 visible but not allowed."""
    return outlet_services.get_outlet(get_session(), current_user, outlet_id, action)


@login_required
def list_outlets():
    require(current_user, "outlet.view")
    q = (request.args.get("q") or "").strip()[:50]
    stmt = outlet_services.outlets_query(current_user)
    if q:
        stmt = stmt.where(Outlet.name.contains(q, autoescape=True))
    page = paginate(get_session(), stmt, size=40)
    return render_template("outlets/list.html", page=page, q=q, can_edit=can(current_user, "outlet.edit"))


@login_required
def new_outlet():
    require(current_user, "outlet.edit")
    form = OutletForm()
    if form.validate_on_submit():
        try:
            outlet = outlet_services.create_outlet(
                get_session(),
                current_user.tenant_id,
                current_user.user_id,
                form.unit.data,
                form.name.data or "",
                form.address.data or "",
                form.opening_hours.data or "",
            )
            flash(
                _("Outlet %(name)s created. Now choose what it offers and who works there.", name=outlet.name),
                "success",
            )
            return redirect(url_for("outlets.outlet_home", outlet_id=outlet.id))
        except AppError as e:
            show_errors(form, e)
    status = 422 if request.method == "POST" else 200
    return render_template("outlets/outlet_form.html", form=form, outlet=None), status


@login_required
def edit_outlet(outlet_id: int):
    outlet = outlet_for(outlet_id, "outlet.edit")
    form = OutletForm(obj=outlet) if request.method == "POST" else OutletForm(formdata=None, obj=outlet)
    if request.method != "POST":
        form.unit.set_unit(outlet.org_unit)
    if form.validate_on_submit():
        try:
            if form.unit.data is not None and form.unit.data.id != outlet.org_unit_id:
                raise AppError(
                    _("An outlet stays with its community or street; create a new outlet elsewhere."), field="unit"
                )
            outlet_services.update_outlet(
                get_session(),
                outlet,
                current_user.user_id,
                name=form.name.data or "",
                address=form.address.data or "",
                opening_hours=form.opening_hours.data or "",
                active=bool(form.active.data),
            )
            flash(_("Saved."), "success")
            return redirect(url_for("outlets.outlet_home", outlet_id=outlet.id))
        except AppError as e:
            show_errors(form, e)
    status = 422 if request.method == "POST" else 200
    return render_template("outlets/outlet_form.html", form=form, outlet=outlet), status


@login_required
def outlet_staff(outlet_id: int):
    """GET: the outlet's staff and a search for a member; POST: grant the chosen member a role here."""
    db = get_session()
    outlet = outlet_for(outlet_id, "outlet.view")
    can_edit = can(current_user, "outlet.edit", outlet)
    who = (request.values.get("who") or "").strip()
    found = find_members(who, current_user.tenant_id) if can_edit else []
    form = StaffForm() if request.method == "POST" else StaffForm(formdata=None)
    status = 200
    if request.method == "POST":
        outlet = outlet_for(outlet_id, "outlet.edit")
        if form.validate_on_submit():
            raw = form.member_id.data or ""
            member = db.get(Member, int(raw)) if raw.isdecimal() and len(raw) < 19 else None
            try:
                if member is None or member.tenant_id != outlet.tenant_id:
                    raise NotFound(_("Find the person and choose them."), field="member_id")
                outlet_services.grant_outlet_role(db, current_user, outlet, member, form.role.data or "")
                flash(_("%(name)s now works at %(outlet)s.", name=member.name, outlet=outlet.name), "success")
                return redirect(url_for("outlets.outlet_staff", outlet_id=outlet.id))
            except Conflict as e:
                form.form_errors.append(e.message)
            except AppError as e:
                show_errors(form, e)
        status = 422
    staff = outlet_services.outlet_staff(db, outlet)
    return render_template(
        "outlets/staff.html",
        outlet=outlet,
        unit_label=path_label(db, outlet.org_unit),
        staff=staff,
        form=form,
        who=who,
        found=found,
        can_edit=can_edit,
    ), status


@login_required
def settings():
    """The district's refund period (default 7 days): how long after a redemption a supervisor may refund it."""
    require(current_user, "outlet.settings.edit")
    db = get_session()
    tenant = current_user.tenant_id
    status = 200
    if request.method == "POST":
        form = SettingsForm()
        if form.validate():
            try:
                outlet_services.change_settings(
                    db, tenant, current_user.user_id, refund_days=form.refund_days.data or 0
                )
                flash(_("Outlet settings saved."), "success")
                return redirect(url_for("outlets.settings"))
            except AppError as e:
                show_errors(form, e)
        status = 422
    else:
        form = SettingsForm(formdata=None, refund_days=outlet_services.refund_days(db, tenant))
    return render_template("outlets/settings.html", form=form), status
