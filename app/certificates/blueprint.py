"""URL rules of the certificates area (pages in views, JSON in api)."""

from __future__ import annotations

from flask import Blueprint

from app.api.blueprints import api_blueprint

from . import api, views

bp = Blueprint("certificates", "app.certificates", template_folder="templates")
bp.add_url_rule("/me/certificates", view_func=views.mine, methods=["GET", "POST"])
bp.add_url_rule("/members/<int:member_id>/certificates", view_func=views.for_member, methods=["GET", "POST"])
bp.add_url_rule("/certificates/<code>.pdf", view_func=views.download)
bp.add_url_rule("/verify/", view_func=views.verify_enter)
bp.add_url_rule("/verify/<code>", view_func=views.verify)

api_bp = api_blueprint("certificates_api", __name__)
api_bp.add_url_rule("/certificates", view_func=api.issue_certificate, methods=["POST"])
api_bp.add_url_rule("/certificates/<code>", view_func=api.verify_certificate, methods=["GET"])
