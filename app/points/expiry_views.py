"""The expiry setting page (/points/expiry): what is in force, every version, and a form for a new
version (district administrators; it applies to points earned from now on)."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app.access import can, require
from app.audit.names import names_for_users
from app.db import get_session, utcnow
from app.errors import AppError
from app.forms import show_errors

from . import lots
from .expiry import MODE_LABELS, NOTICE_DAYS, OFF
from .forms import ExpiryForm


@login_required
def expiry_page():
    require(current_user, "points.rules.view")
    db = get_session()
    tenant = current_user.tenant_id
    may_edit = can(current_user, "points.rules.edit")
    form = ExpiryForm() if request.method == "POST" else None
    status = 200
    if form is not None:
        require(current_user, "points.rules.edit")
        if form.validate():
            try:
                lots.change_expiry(
                    db,
                    tenant,
                    mode=form.mode.data or OFF,
                    months=form.months.data or 0,
                    reason=form.reason.data or "",
                    actor_user_id=current_user.user_id,
                )
                flash(_("The expiry setting is saved; it applies to points earned from now on."), "success")
                return redirect(url_for("points.expiry_page"))
            except AppError as e:
                show_errors(form, e)
        status = 422
    now = utcnow()
    current = lots.policy_in_force(db, tenant, now)
    if form is None:
        form = ExpiryForm(
            formdata=None, mode=current.mode if current else OFF, months=(current.months if current else 0) or 12
        )
    versions = lots.policy_versions(db, tenant)
    people = names_for_users(db, tenant, sorted({v.created_by_user_id for v in versions if v.created_by_user_id}))
    return (
        render_template(
            "points/expiry.html",
            form=form,
            may_edit=may_edit,
            current=current,
            versions=versions,
            names={uid: p.name for uid, p in people.items()},
            MODE_LABELS=MODE_LABELS,
            OFF=OFF,
            NOTICE_DAYS=NOTICE_DAYS,
        ),
        status,
    )
