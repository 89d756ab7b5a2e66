"""URL rules of the points area (only URL rules): the rules page and the points API."""

from __future__ import annotations

from flask import Blueprint

from app.api.blueprints import ID, api_blueprint  # noqa: F401

from . import api, award_views, expiry_views, views  # noqa: F401

bp = Blueprint("points", "app.points", template_folder="templates")

# --- pages (views) -------------------------------------------------------------------------------------------
bp.add_url_rule("/points/rules", view_func=views.rules_page, methods=["GET", "POST"])
# awards and corrections (issue 9)
bp.add_url_rule("/points/awards", view_func=award_views.awards_page, methods=["GET", "POST"])
bp.add_url_rule("/points/corrections", view_func=award_views.corrections_page, methods=["GET", "POST"])
bp.add_url_rule("/points/awards/members", view_func=award_views.member_search, methods=["GET"])
bp.add_url_rule("/points/awards/upload", view_func=award_views.award_upload_page, methods=["GET", "POST"])
bp.add_url_rule("/points/awards/template.xlsx", view_func=award_views.award_list_template, methods=["GET"])
bp.add_url_rule(f"/points/awards/<{ID}:award_id>", view_func=award_views.award_page, methods=["GET", "POST"])
bp.add_url_rule("/points/expiry", view_func=expiry_views.expiry_page, methods=["GET", "POST"])


api_bp = api_blueprint("points_api", __name__)

# --- JSON API (api) ------------------------------------------------------------------------------------------
api_bp.add_url_rule("/me/points", view_func=api.my_points, methods=["GET"])
api_bp.add_url_rule("/points/rules", view_func=api.list_rules, methods=["GET"])
api_bp.add_url_rule("/points/expiry-forecast", view_func=api.expiry_forecast, methods=["GET"])
api_bp.add_url_rule(f"/members/<{ID}:member_id>/expiring-points", view_func=api.member_expiry, methods=["GET"])
api_bp.add_url_rule("/points/rules", view_func=api.create_rule, methods=["POST"])
# awards and corrections (issue 9)
api_bp.add_url_rule("/points/awards", view_func=api.create_award, methods=["POST"])
api_bp.add_url_rule("/points/awards", view_func=api.list_awards, methods=["GET"])
api_bp.add_url_rule(f"/points/awards/<{ID}:award_id>", view_func=api.get_award, methods=["GET"])
api_bp.add_url_rule(f"/points/awards/<{ID}:award_id>/approve", view_func=api.approve_award, methods=["POST"])
api_bp.add_url_rule(f"/points/awards/<{ID}:award_id>/reject", view_func=api.reject_award, methods=["POST"])
api_bp.add_url_rule(f"/points/award-lines/<{ID}:line_id>/reverse", view_func=api.reverse_award_line, methods=["POST"])
api_bp.add_url_rule(f"/points/hours/<{ID}:attendance_id>/reverse", view_func=api.reverse_hours, methods=["POST"])
