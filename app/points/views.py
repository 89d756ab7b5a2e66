"""The points rules page: the rule in force per category, every version, and a form for a new version."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app.access import can, require
from app.audit.names import names_for_users
from app.db import get_session, utcnow
from app.errors import AppError
from app.forms import show_errors
from app.times import to_beijing, to_utc

from . import rules, services
from .forms import RuleForm
from .labels import CATEGORIES, CATEGORY_LABELS, MISSED_CHECKOUT_LABELS


@login_required
def rules_page():
    require(current_user, "points.rules.view")
    db = get_session()
    tenant = current_user.tenant_id
    may_edit = can(current_user, "points.rules.edit")
    form = RuleForm() if request.method == "POST" else None
    status = 200
    if form is not None:
        require(current_user, "points.rules.edit")
        if form.validate():
            try:
                services.change_rule(
                    db,
                    tenant,
                    category=form.category.data or "",
                    points_per_hour=form.points_per_hour.data or 0,
                    rounding_minutes=form.rounding_minutes.data or 0,
                    presence_percent=form.presence_percent.data or 0,
                    missed_checkout=form.missed_checkout.data or "",
                    grace_minutes=form.grace_minutes.data or 0,
                    effective_from=to_utc(form.effective_from.data) if form.effective_from.data else None,
                    reason=form.reason.data or "",
                    actor_user_id=current_user.user_id,
                    max_minutes_per_activity=form.max_minutes_per_activity.data,
                    daily_points_cap=form.daily_points_cap.data,
                    monthly_points_cap=form.monthly_points_cap.data,
                )
                flash(
                    _("The new rule version is saved; it prices activities starting from its effective time."),
                    "success",
                )
                return redirect(url_for("points.rules_page"))
            except AppError as e:
                show_errors(form, e)
        status = 422
    now = utcnow()
    current = rules.rule_for(db, tenant, "", now)
    if form is None:
        form = RuleForm(
            formdata=None,
            points_per_hour=current.points_per_hour,
            rounding_minutes=current.rounding_minutes,
            presence_percent=current.presence_percent,
            missed_checkout=current.missed_checkout,
            grace_minutes=current.grace_minutes,
            max_minutes_per_activity=current.max_minutes_per_activity,
            daily_points_cap=current.daily_points_cap,
            monthly_points_cap=current.monthly_points_cap,
            effective_from=to_beijing(now).replace(second=0, microsecond=0),
        )
    in_force = [("", rules.rule_for(db, tenant, "", now))] + [
        (c, rules.rule_for(db, tenant, c, now)) for c in CATEGORIES
    ]
    versions = services.rule_versions(db, tenant)
    people = names_for_users(db, tenant, sorted({v.created_by_user_id for v in versions if v.created_by_user_id}))
    names = {uid: p.name for uid, p in people.items()}
    return (
        render_template(
            "points/rules.html",
            form=form,
            may_edit=may_edit,
            in_force=in_force,
            versions=versions,
            names=names,
            now=now,
            CATEGORY_LABELS=CATEGORY_LABELS,
            MISSED_CHECKOUT_LABELS=MISSED_CHECKOUT_LABELS,
        ),
        status,
    )
