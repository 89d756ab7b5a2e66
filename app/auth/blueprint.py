"""URL rules of the auth area (only URL rules: the views are plain functions in their modules)."""

from __future__ import annotations

from flask import Blueprint

from . import views

bp = Blueprint("auth", "app.auth", template_folder="templates")

bp.add_url_rule("/signin", view_func=views.signin, methods=["GET", "POST"])
bp.add_url_rule("/signout", view_func=views.signout, methods=["POST"])
bp.add_url_rule("/account/password", view_func=views.change_password, methods=["GET", "POST"])
bp.add_url_rule("/members/<int:member_id>/invitation", view_func=views.invitation, methods=["GET", "POST"])
bp.add_url_rule("/activate/<token>", view_func=views.activate, methods=["GET", "POST"])
