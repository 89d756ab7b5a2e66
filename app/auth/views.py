"""Sign-in, sign-out and password change pages."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy import select

from app.db import get_session, keep_changes_on_error
from app.errors import ValidationFailed
from app.forms import choices
from app.extensions import limiter
from app.places.models import District

from . import services
from .forms import ChangePasswordForm, SignInForm

bp = Blueprint("auth", __name__, template_folder="templates")


def _account_key() -> str:
    return f"signin:{request.form.get('district', '')}:{(request.form.get('mobile') or '').strip()}"


def _throttled(limit) -> None:
    from app.audit.services import record
    from app.db import unit_of_work
    from flask import current_app

    mobile = (request.form.get("mobile") or "").strip()
    district = request.form.get("district", type=int)
    with unit_of_work(current_app.extensions["db_sessionmaker"]) as s:
        tenant = district if district and s.get(District, district) else None
        record(s, "signin.throttled", tenant_id=tenant, ip=request.remote_addr,
               detail={"mobile_tail": mobile[-4:], "limit": str(limit.limit)})


@bp.route("/signin", methods=["GET", "POST"])
# Only failed attempts count (a successful sign-in redirects): an office behind one address where
# everyone signs in at nine is not locked out, but guessing is.
@limiter.limit("30 per 10 minutes", key_func=lambda: f"signin-ip:{request.remote_addr}", methods=["POST"],
               on_breach=_throttled, deduct_when=lambda response: response.status_code != 302)
@limiter.limit("5 per 10 minutes", key_func=_account_key, methods=["POST"], on_breach=_throttled,
               deduct_when=lambda response: response.status_code != 302)
def signin():
    db = get_session()
    form = SignInForm()
    districts = db.scalars(select(District).order_by(District.id)).all()
    form.district.choices = choices((d.id, d.name) for d in districts)
    if request.method == "GET" and districts:
        form.district.data = districts[0].id
    if form.validate_on_submit():
        try:
            principal = services.sign_in(db, form.district.data, form.mobile.data, form.password.data,
                                         ip=request.remote_addr, user_agent=request.user_agent.string)
        except services.SignInFailed as e:
            keep_changes_on_error()  # the failure stays in the audit log
            form.password.errors.append(str(e))
            return render_template("auth/signin.html", form=form, single=len(districts) == 1), 401
        session.clear()  # a fresh session cookie: nothing from before sign-in survives (fixation)
        login_user(principal)
        target = request.args.get("next") or ""
        if not target.startswith("/") or target.startswith("//"):
            target = url_for("home")
        return redirect(target)
    status = 422 if request.method == "POST" else 200
    return render_template("auth/signin.html", form=form, single=len(districts) == 1), status


@bp.post("/signout")
@login_required
def signout():
    services.sign_out(get_session(), current_user.token)
    logout_user()
    session.clear()
    flash(_("You have signed out."), "info")
    return redirect(url_for("auth.signin"))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            principal = services.change_password(get_session(), current_user, form.current_password.data,
                                                 form.new_password.data, ip=request.remote_addr,
                                                 user_agent=request.user_agent.string)
        except ValidationFailed as e:
            getattr(form, e.field or "new_password").errors.append(e.message)
            return render_template("auth/password.html", form=form), 422
        session.clear()
        login_user(principal)
        flash(_("Password changed. Other devices have been signed out."), "success")
        return redirect(url_for("home"))
    return render_template("auth/password.html", form=form), 422 if request.method == "POST" else 200
