"""URL rules of the points area (only URL rules): the rules page and the points API."""

from __future__ import annotations

from flask import Blueprint

from app.api.blueprints import ID, api_blueprint  # noqa: F401

from . import api, expiry_views, views  # noqa: F401

bp = Blueprint("points", "app.points", template_folder="templates")

# --- pages (views) -------------------------------------------------------------------------------------------
bp.add_url_rule("/points/rules", view_func=views.rules_page, methods=["GET", "POST"])
bp.add_url_rule("/points/expiry", view_func=expiry_views.expiry_page, methods=["GET", "POST"])


api_bp = api_blueprint("points_api", __name__)

# --- JSON API (api) ------------------------------------------------------------------------------------------
api_bp.add_url_rule("/me/points", view_func=api.my_points, methods=["GET"])
api_bp.add_url_rule("/points/rules", view_func=api.list_rules, methods=["GET"])
api_bp.add_url_rule("/points/rules", view_func=api.create_rule, methods=["POST"])
