"""Pages to browse the district's grid and to create, rename, move and retire units."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from app.access import ROLE_KINDS, path_filter, require
from app.db import get_session
from app.errors import Conflict, ValidationFailed
from app.pagination import paginate
from app.people.services import grid_people

from . import services
from .forms import ConfirmForm, MoveForm, RenameForm, UnitForm
from .labels import GRID_TYPE_LABELS, KIND_LABELS
from .models import OrgUnit

bp = Blueprint("places", __name__, template_folder="templates")


@bp.app_context_processor
def _labels():
    return {"KIND_LABELS": KIND_LABELS, "GRID_TYPE_LABELS": GRID_TYPE_LABELS, "unit_label": services.label}


@bp.get("/org/")
@login_required
def tree():
    """The top of the tree the user may see, with search by name."""
    require(current_user, "org.view")
    db = get_session()
    q = (request.args.get("q") or "").strip()
    stmt = select(OrgUnit).where(OrgUnit.tenant_id == current_user.tenant_id,
                                 path_filter(current_user, "org.view", OrgUnit.path))
    if q:
        stmt = stmt.where(OrgUnit.name.contains(q, autoescape=True)).order_by(OrgUnit.depth, OrgUnit.name)
        page = paginate(db, stmt, size=30)
        return render_template("places/tree.html", page=page, q=q, roots=None, form=UnitForm())
    # The tops of what the user may see: the streets for district-wide roles, else their scope units.
    scopes = [sc for sc in current_user.scopes if "org.view" in ROLE_KINDS[sc.role].actions]
    if any(sc.path is None for sc in scopes):
        roots = services.children(db, current_user.tenant_id, None)
    else:
        paths = sorted({sc.path for sc in scopes}, key=len)
        tops = [p for i, p in enumerate(paths) if not any(p.startswith(q) for q in paths[:i])]
        ids = [int(p.strip("/").split("/")[-1]) for p in tops]
        roots = list(db.scalars(select(OrgUnit).where(OrgUnit.id.in_(ids)).order_by(OrgUnit.name)))
    return render_template("places/tree.html", page=None, q=q, roots=roots, form=UnitForm())


@bp.get("/org/<int:unit_id>")
@login_required
def unit_page(unit_id: int):
    db = get_session()
    unit = services.get_unit(db, current_user.tenant_id, unit_id)
    require(current_user, "org.view", unit)
    show_retired = request.args.get("retired") == "1"
    kids = services.children(db, unit.tenant_id, unit, include_retired=show_retired)
    people = grid_people(db, unit, date.today()) if unit.kind in ("grid", "building") else None
    return render_template("places/unit.html", unit=unit, ancestors=services.ancestors(db, unit), children=kids,
                           people=people, form=UnitForm(), rename_form=RenameForm(obj=unit), move_form=MoveForm(),
                           confirm=ConfirmForm(), show_retired=show_retired)


@bp.post("/org/")
@bp.post("/org/<int:unit_id>/children")
@login_required
def create(unit_id: int | None = None):
    db = get_session()
    parent = services.get_unit(db, current_user.tenant_id, unit_id) if unit_id else None
    if parent is not None:
        require(current_user, "org.edit", parent)
    else:
        # Only a district-wide grant may add a street at the top.
        require(current_user, "role.grant")
    form = UnitForm()
    if not form.validate_on_submit():
        flash(_("Check the form: %(errors)s", errors="; ".join(e for errs in form.errors.values() for e in errs)), "error")
        return redirect(url_for("places.unit_page", unit_id=unit_id) if unit_id else url_for("places.tree"))
    try:
        unit = services.create_unit(db, current_user.tenant_id, name=form.name.data, kind=form.kind.data,
                                    parent=parent, grid_type=form.grid_type.data or None,
                                    actor_user_id=current_user.user_id)
    except (ValidationFailed, Conflict) as e:
        flash(e.message, "error")
        return redirect(url_for("places.unit_page", unit_id=unit_id) if unit_id else url_for("places.tree"))
    flash(_("%(name)s was created.", name=unit.name), "success")
    return redirect(url_for("places.unit_page", unit_id=unit.id))


def _editable_unit(db, unit_id: int) -> OrgUnit:
    """The unit the URL names, which the user must be allowed to change (404 / 403 otherwise)."""
    unit = services.get_unit(db, current_user.tenant_id, unit_id)
    require(current_user, "org.edit", unit)
    return unit


@bp.post("/org/<int:unit_id>/rename")
@login_required
def rename(unit_id: int):
    db = get_session()
    unit = _editable_unit(db, unit_id)
    form = RenameForm()
    if form.validate_on_submit():
        try:
            services.rename_unit(db, unit, form.name.data, grid_type=form.grid_type.data or None,
                                 actor_user_id=current_user.user_id)
            flash(_("Saved."), "success")
        except (ValidationFailed, Conflict) as e:
            flash(e.message, "error")
    else:
        flash(_("Enter a name."), "error")
    return redirect(url_for("places.unit_page", unit_id=unit_id))


@bp.post("/org/<int:unit_id>/move")
@login_required
def move(unit_id: int):
    db = get_session()
    unit = _editable_unit(db, unit_id)
    form = MoveForm()
    if form.validate_on_submit():
        parent = services.get_unit(db, current_user.tenant_id, form.parent_id.data)
        require(current_user, "org.edit", parent)
        try:
            services.move_unit(db, unit, parent, actor_user_id=current_user.user_id)
            flash(_("Moved."), "success")
        except (ValidationFailed, Conflict) as e:
            flash(e.message, "error")
    else:
        flash(_("Enter the number of the new parent unit."), "error")
    return redirect(url_for("places.unit_page", unit_id=unit_id))


@bp.post("/org/<int:unit_id>/retire")
@login_required
def retire(unit_id: int):
    db = get_session()
    unit = _editable_unit(db, unit_id)
    if ConfirmForm().validate_on_submit():
        try:
            services.retire_unit(db, unit, actor_user_id=current_user.user_id)
            flash(_("%(name)s was retired. Its history is kept.", name=unit.name), "success")
        except (ValidationFailed, Conflict) as e:
            flash(e.message, "error")
    return redirect(url_for("places.unit_page", unit_id=unit_id))
