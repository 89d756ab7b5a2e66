"""Flask-Login wiring: the signed-in user of a request is looked up server-side by session token."""

from __future__ import annotations

from flask import Flask, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.db import get_session
from app.errors import error_response, wants_json
from app.extensions import login_manager

from .services import load_principal


def init_login(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "auth.signin"
    login_manager.login_message = _l("Please sign in to see this page.")
    login_manager.session_protection = "basic"
    login_manager.user_loader(_load)
    login_manager.unauthorized_handler(_unauthorized)


def _load(token: str):
    return load_principal(get_session(), token)


def _unauthorized():
    if wants_json():
        return error_response("unauthenticated", _("Sign in first."), 401)
    flash(str(login_manager.login_message), "info")
    return redirect(url_for("auth.signin", next=request.full_path.rstrip("?")))
