"""Pages to browse the district's grid and to create, rename, move and retire units."""

from __future__ import annotations

from datetime import date

from flask import flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from app.access import ACTIONS, ROLE_KINDS, can, path_filter, require, scopes_for
from app.db import get_session
from app.errors import Conflict, Forbidden, ValidationFailed
from app.forms import show_errors
from app.pagination import paginate
from app.people.services import grid_people

from . import services
from .forms import ConfirmForm, MoveForm, RenameForm, UnitForm
from .labels import GRID_TYPE_LABELS, KIND_LABELS
from .models import KINDS, OrgUnit


def template_labels():
    return {"KIND_LABELS": KIND_LABELS, "GRID_TYPE_LABELS": GRID_TYPE_LABELS, "unit_label": services.label}


@login_required
def tree():
    """The top of the tree the user may see, with search by name."""
    require(current_user, "org.view")
    db = get_session()
    q = (request.args.get("q") or "").strip()
    scopes = [sc for sc in current_user.scopes if "org.view" in ROLE_KINDS[sc.role].actions]
    whole = any(sc.path is None for sc in scopes)  # the heading: the district's grid, or the user's part of it
    stmt = select(OrgUnit).where(
        OrgUnit.tenant_id == current_user.tenant_id, path_filter(current_user, "org.view", OrgUnit.path)
    )
    if q:
        stmt = stmt.where(OrgUnit.name.contains(q, autoescape=True)).order_by(OrgUnit.depth, OrgUnit.name)
        page = paginate(db, stmt, size=30)
        return render_template(
            "places/tree.html",
            page=page,
            q=q,
            roots=None,
            form=UnitForm(),
            paths=services.path_labels(db, page.items),
            whole=whole,
        )
    # The tops of what the user may see: the streets for district-wide roles, else their scope units.
    if whole:
        roots = services.children(db, current_user.tenant_id, None)
    else:
        paths = sorted({sc.path for sc in scopes}, key=len)
        tops = [p for i, p in enumerate(paths) if not any(p.startswith(q) for q in paths[:i])]
        ids = [int(p.strip("/").split("/")[-1]) for p in tops]
        roots = list(db.scalars(select(OrgUnit).where(OrgUnit.id.in_(ids)).order_by(OrgUnit.name)))
    return render_template("places/tree.html", page=None, q=q, roots=roots, form=UnitForm(), whole=whole)


@login_required
def unit_page(unit_id: int):
    db = get_session()
    unit = services.get_unit(db, current_user.tenant_id, unit_id)
    require(current_user, "org.view", unit)
    return _render_unit(db, unit)


def _render_unit(
    db, unit: OrgUnit, *, rename_form: RenameForm | None = None, move_form: MoveForm | None = None, status: int = 200
):
    show_retired = request.args.get("retired") == "1"
    kids = services.children(db, unit.tenant_id, unit, include_retired=show_retired)
    people = grid_people(db, unit, date.today()) if unit.kind in ("grid", "building") else None
    if move_form is None:
        move_form = MoveForm(formdata=None)
    move_form.parent_id.exclude(unit)
    return render_template(
        "places/unit.html",
        unit=unit,
        ancestors=services.ancestors(db, unit),
        children=kids,
        people=people,
        form=UnitForm(),
        rename_form=rename_form or RenameForm(obj=unit),
        move_form=move_form,
        may_change=may_change(current_user, unit),
        show_retired=show_retired,
    ), status


@login_required
def pick():
    """JSON suggestions for the pick-a-place fields: active units the user may `action` whose name
    contains `q`, each with its path. The user's own scope limits them, whatever is asked."""
    db = get_session()
    action = request.args.get("action") if request.args.get("action") in ACTIONS else "org.view"
    kinds = [k for k in (request.args.get("kind") or "").split(",") if k in KINDS] or None
    exclude_path = None
    exclude = request.args.get("exclude", type=int)
    if exclude and exclude < 2**63:
        excluded = db.get(OrgUnit, exclude)
        if excluded is not None and excluded.tenant_id == current_user.tenant_id:
            exclude_path = excluded.path
    found = services.search_units(
        db,
        current_user.tenant_id,
        (request.args.get("q") or "")[:100],
        path_filter(current_user, action, OrgUnit.path),
        kinds=kinds,
        exclude_path=exclude_path,
        limit=15,
    )
    paths = services.path_labels(db, found)
    return jsonify(
        items=[
            {
                "id": u.id,
                "name": u.name,
                "path": paths[u.id],
                "kind": str(GRID_TYPE_LABELS[u.grid_type] if u.grid_type else KIND_LABELS[u.kind]),
            }
            for u in found
        ]
    )


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
        flash(
            _("Check the form: %(errors)s", errors="; ".join(str(e) for errs in form.errors.values() for e in errs)),
            "error",
        )
        return redirect(url_for("places.unit_page", unit_id=unit_id) if unit_id else url_for("places.tree"))
    try:
        unit = services.create_unit(
            db,
            current_user.tenant_id,
            name=form.name.data,
            kind=form.kind.data,
            parent=parent,
            grid_type=form.grid_type.data or None,
            actor_user_id=current_user.user_id,
        )
    except (ValidationFailed, Conflict) as e:
        flash(e.message, "error")
        return redirect(url_for("places.unit_page", unit_id=unit_id) if unit_id else url_for("places.tree"))
    flash(_("%(name)s was created.", name=unit.name), "success")
    return redirect(url_for("places.unit_page", unit_id=unit.id))


def may_change(principal, unit: OrgUnit) -> bool:
    """Rename, move or retire a unit: it must lie strictly below the top of one of the user's org.edit
    scopes. A street's grid administrator works inside their street but cannot rename, move or retire
    the street itself; only a district-wide grant may change a street."""
    if not can(principal, "org.edit", unit):
        return False
    return any(
        s.path is None or (unit.path.startswith(s.path) and unit.path != s.path)
        for s in scopes_for(principal, "org.edit")
    )


def require_change(principal, unit: OrgUnit) -> None:
    """As `require`, for renaming, moving or retiring `unit` (404 when invisible, 403 when not allowed)."""
    require(principal, "org.edit", unit)
    if not may_change(principal, unit):
        raise Forbidden(_("Only an administrator above this unit may rename, move or retire it."))


def _editable_unit(db, unit_id: int) -> OrgUnit:
    """The unit the URL names, which the user must be allowed to change (404 / 403 otherwise)."""
    unit = services.get_unit(db, current_user.tenant_id, unit_id)
    require_change(current_user, unit)
    return unit


@login_required
def rename(unit_id: int):
    db = get_session()
    unit = _editable_unit(db, unit_id)
    form = RenameForm()
    if form.validate_on_submit():
        try:
            services.rename_unit(
                db, unit, form.name.data, grid_type=form.grid_type.data or None, actor_user_id=current_user.user_id
            )
            flash(_("Saved."), "success")
            return redirect(url_for("places.unit_page", unit_id=unit_id))
        except (ValidationFailed, Conflict) as e:
            show_errors(form, e)
    return _render_unit(db, unit, rename_form=form, status=422)


@login_required
def move(unit_id: int):
    db = get_session()
    unit = _editable_unit(db, unit_id)
    form = MoveForm()
    form.parent_id.exclude(unit)
    if form.validate_on_submit():
        try:
            services.move_unit(db, unit, form.parent_id.data, actor_user_id=current_user.user_id)
            flash(_("Moved."), "success")
            return redirect(url_for("places.unit_page", unit_id=unit_id))
        except (ValidationFailed, Conflict) as e:
            show_errors(form, e)
    return _render_unit(db, unit, move_form=form, status=422)


@login_required
def retire(unit_id: int):
    """Retiring asks first: GET (or a POST without confirm=yes) shows the question, a confirmed POST retires."""
    db = get_session()
    unit = _editable_unit(db, unit_id)
    form = ConfirmForm()
    if form.validate_on_submit():
        try:
            services.retire_unit(db, unit, actor_user_id=current_user.user_id)
            flash(_("%(name)s was retired. Its history is kept.", name=unit.name), "success")
        except (ValidationFailed, Conflict) as e:
            flash(e.message, "error")
        return redirect(url_for("places.unit_page", unit_id=unit_id))
    return render_template(
        "confirm.html",
        form=ConfirmForm(formdata=None),
        title=_("Retire %(name)s?", name=unit.name),
        question=_("Retire %(path)s?", path=services.path_label(db, unit)),
        consequence=_(
            "Retiring hides the unit from new work. It needs no active units or residents under it. "
            "History is kept. This cannot be undone here."
        ),
        action=url_for("places.retire", unit_id=unit.id),
        button=_("Retire %(name)s", name=unit.name),
        back=url_for("places.unit_page", unit_id=unit.id),
    )
