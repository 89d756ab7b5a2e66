"""URL rules of the audit area (only URL rules: the views are plain functions in their modules)."""

from __future__ import annotations

from flask import Blueprint

from . import views

bp = Blueprint("audit", "app.audit", template_folder="templates")

bp.add_url_rule("/audit/", view_func=views.list_events, methods=["GET"])
