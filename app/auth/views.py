"""Sign-in, sign-out and password pages, and one-time links (invitations, resets) to set a password."""

from __future__ import annotations

import unicodedata
from urllib.parse import urlsplit

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from markupsafe import Markup
from sqlalchemy import select

from app.access import require
from app.api.schemas import MAX_ID
from app.audit.services import record
from app.db import get_session, keep_changes_on_error, unit_of_work
from app.errors import NotFound, ValidationFailed
from app.extensions import limiter
from app.forms import choices
from app.people.identity import normalise_mobile
from app.people.qr_views import qr_svg
from app.people.services import get_member
from app.places.models import District

from . import services
from .forms import ChangePasswordForm, SetPasswordForm, SignInForm

# Only failed attempts count (a successful sign-in redirects): an office behind one address where
# everyone signs in at nine is not locked out, but guessing is.
ACCOUNT_LIMIT, ADDRESS_LIMIT = "5 per 10 minutes", "30 per 10 minutes"
LOCK_MINUTES = 10  # the window of both limits: a lock lasts until it ends, at most this long


def safe_next(target: str | None) -> str:
    """`target` if it is a path on this site, else the home page. Browsers drop tabs and newlines and
    read a backslash as a slash, so "/\\t/evil" or "/\\evil" would lead off-site: refuse any of them."""
    home = url_for("home")
    if not target or len(target) > 2000 or not target.startswith("/") or target.startswith("//"):
        return home
    if any(c == "\\" or c.isspace() or unicodedata.category(c).startswith("C") for c in target):
        return home
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return home
    return target


def _account_key() -> str:
    # The account as the sign-in reads it ("01", " 1" and "+1" are all district 1; "+86 138…" is
    # 138…), so no spelling of the same account gets fresh attempts.
    district = request.form.get("district", type=int)
    mobile = normalise_mobile(request.form.get("mobile") or "")
    return f"signin:{district if district is not None else '-'}:{mobile}"


def _throttled(limit) -> None:

    mobile = normalise_mobile(request.form.get("mobile") or "")
    district = request.form.get("district", type=int)
    with unit_of_work(current_app.extensions["db_sessionmaker"]) as s:
        # Any number may be typed into the form: only an id that can exist is looked up.
        tenant = district if district and 0 < district <= MAX_ID and s.get(District, district) else None
        record(
            s,
            "signin.throttled",
            tenant_id=tenant,
            ip=request.remote_addr,
            detail={"mobile_tail": mobile[-4:], "limit": str(limit.limit)},
        )


def _attempts_left() -> int | None:
    """Failures still allowed after this one before the lock (the tighter of account and address)."""
    try:
        left = [lim.remaining - 1 for lim in limiter.current_limits]
    except Exception:  # storage unreachable: the limiter lets the request through; say nothing
        return None
    return max(0, min(left)) if left else None


def _signin_page(form, districts, status):
    return render_template("auth/signin.html", form=form, single=len(districts) == 1), status


@limiter.limit(
    ADDRESS_LIMIT,
    key_func=lambda: f"signin-ip:{request.remote_addr}",
    methods=["POST"],
    on_breach=_throttled,
    deduct_when=lambda response: response.status_code != 302,
)
@limiter.limit(
    ACCOUNT_LIMIT,
    key_func=_account_key,
    methods=["POST"],
    on_breach=_throttled,
    deduct_when=lambda response: response.status_code != 302,
)
def signin():
    db = get_session()
    form = SignInForm()
    districts = db.scalars(select(District).order_by(District.id)).all()
    form.district.choices = choices((d.id, d.name) for d in districts)
    if request.method == "GET" and districts:
        form.district.data = districts[0].id
    if form.validate_on_submit():
        try:
            principal = services.sign_in(
                db,
                form.district.data,
                form.mobile.data,
                form.password.data,
                ip=request.remote_addr,
                user_agent=request.user_agent.string,
            )
        except services.SignInFailed as e:
            keep_changes_on_error()  # the failure stays in the audit log
            form.password.errors.append(str(e))
            left = _attempts_left()
            if left is not None:
                form.password.errors.append(
                    _(
                        "Attempts left before sign-in is locked for %(minutes)d minutes: %(n)d.",
                        minutes=LOCK_MINUTES,
                        n=left,
                    )
                    if left
                    else _(
                        "Sign-in for this mobile number is now locked for %(minutes)d minutes.", minutes=LOCK_MINUTES
                    )
                )
            return _signin_page(form, districts, 401)
        session.clear()  # a fresh session cookie: nothing from before sign-in survives (fixation)
        login_user(principal)
        return redirect(safe_next(request.args.get("next")))
    return _signin_page(form, districts, 422 if request.method == "POST" else 200)


@login_required
def signout():
    services.sign_out(get_session(), current_user.token)
    logout_user()
    session.clear()
    flash(_("You have signed out."), "info")
    return redirect(url_for("auth.signin"))


def _show_password_error(form, e: ValidationFailed) -> None:
    field = getattr(form, e.field, None) if e.field else None
    (field if field is not None and hasattr(field, "errors") else form.new_password).errors.append(e.message)


@login_required
def change_password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            principal = services.change_password(
                get_session(),
                current_user,
                form.current_password.data,
                form.new_password.data,
                ip=request.remote_addr,
                user_agent=request.user_agent.string,
            )
        except ValidationFailed as e:
            _show_password_error(form, e)
            return render_template("auth/password.html", form=form), 422
        session.clear()
        login_user(principal)
        flash(_("Password changed. Other devices have been signed out."), "success")
        return redirect(url_for("home"))
    return render_template("auth/password.html", form=form), 422 if request.method == "POST" else 200


# ---- One-time links to set a password ------------------------------------------------------------


def _member_to_invite(member_id: int):
    """The member, if the signed-in user may give them a sign-in link: whoever may edit the member;
    for a member who holds a role, only whoever may also grant roles (else a grid administrator
    could reset a district administrator's password and take the account)."""

    db = get_session()
    member = get_member(db, current_user.tenant_id, member_id)
    require(current_user, "member.edit", member)
    if services.holds_roles(db, member):
        require(current_user, "role.grant", member)
    return member


@login_required
def invitation(member_id: int):
    """GET: what the link will do, and a button to make it (the confirmation). POST: make it, show it once."""

    member = _member_to_invite(member_id)
    db = get_session()
    has_password = services.has_password(db, member)
    if request.method == "GET":
        return render_template(
            "auth/invitation_confirm.html",
            member=member,
            has_password=has_password,
            hours=current_app.config["INVITATION_HOURS"],
        )
    inv, token = services.create_invitation(
        db, current_user.user_id, member, hours=current_app.config["INVITATION_HOURS"], ip=request.remote_addr
    )
    link = url_for("auth.activate", token=token, _external=True)
    return render_template(
        "auth/invitation.html",
        member=member,
        invitation=inv,
        link=link,
        svg=Markup(qr_svg(link, _("Sign-in link for %(name)s", name=member.name))),
    )


def activate(token: str):
    db = get_session()
    try:
        inv, member = services.find_invitation(db, token)
    except services.InvitationInvalid:
        raise NotFound(
            _(
                "This link is not valid any more: it was used, replaced or has expired. "
                "Ask your administrator for a new one."
            )
        ) from None
    form = SetPasswordForm()
    if form.validate_on_submit():
        try:
            principal = services.accept_invitation(
                db, token, form.new_password.data, ip=request.remote_addr, user_agent=request.user_agent.string
            )
        except ValidationFailed as e:
            _show_password_error(form, e)
            return render_template("auth/activate.html", form=form, member=member, invitation=inv), 422
        except services.InvitationInvalid:
            raise NotFound(
                _(
                    "This link is not valid any more: it was used, replaced or has expired. "
                    "Ask your administrator for a new one."
                )
            ) from None
        if current_user.is_authenticated:
            logout_user()
        session.clear()
        login_user(principal)
        flash(
            _(
                "Your password is set and you are signed in. Next time, sign in with your mobile number "
                "and this password."
            ),
            "success",
        )
        return redirect(url_for("home"))
    status = 422 if request.method == "POST" else 200
    return render_template("auth/activate.html", form=form, member=member, invitation=inv), status
