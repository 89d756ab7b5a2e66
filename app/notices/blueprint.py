"""URL rules of the notices area (only URL rules): the notices page and API."""

from __future__ import annotations

from flask import Blueprint

from app.api.blueprints import api_blueprint

from . import api, views  # noqa: F401

bp = Blueprint("notices", "app.notices", template_folder="templates")

# --- pages (views) -------------------------------------------------------------------------------------------
bp.add_url_rule("/notices", "list_notices", views.list_notices)
bp.add_url_rule("/notices/read", "mark_read", views.mark_read, methods=["POST"])


api_bp = api_blueprint("notices_api", __name__)

# --- JSON API (api) ------------------------------------------------------------------------------------------
api_bp.add_url_rule("/me/notices", view_func=api.my_notices, methods=["GET"])
api_bp.add_url_rule("/me/notices/read", view_func=api.mark_read, methods=["POST"])
