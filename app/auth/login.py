"""Flask-Login wiring: the signed-in user of a request is looked up server-side by session token."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask, current_app, flash, g, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.db import get_session
from app.errors import error_response, wants_json
from app.extensions import login_manager

from .services import SessionExpired, load_principal


def init_login(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "auth.signin"
    login_manager.login_message = _l("Please sign in to see this page.")
    login_manager.session_protection = "basic"
    login_manager.user_loader(_load)
    login_manager.unauthorized_handler(_unauthorized)


def _load(token: str):
    config = current_app.config
    try:
        return load_principal(
            get_session(),
            token,
            idle=timedelta(minutes=config["SESSION_IDLE_MINUTES"]),
            lifetime=timedelta(hours=config["SESSION_LIFETIME_HOURS"]),
        )
    except SessionExpired as e:
        g.session_expired = True
        flash(
            _(
                "You were signed out after %(n)d minutes without activity. Please sign in again.",
                n=config["SESSION_IDLE_MINUTES"],
            )
            if e.why == "idle_timeout"
            else _(
                "You were signed out: a sign-in lasts at most %(n)d hours. Please sign in again.",
                n=config["SESSION_LIFETIME_HOURS"],
            ),
            "info",
        )
        return None


def _unauthorized():
    if wants_json():
        return error_response("unauthenticated", _("Sign in first."), 401)
    if not g.get("session_expired"):  # that message was already given
        flash(str(login_manager.login_message), "info")
    return redirect(url_for("auth.signin", next=request.full_path.rstrip("?")))
