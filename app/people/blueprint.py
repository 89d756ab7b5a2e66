"""URL rules of the people area (only URL rules: the views are plain functions in their modules)."""

from __future__ import annotations

from flask import Blueprint

from app.api.blueprints import ID, api_blueprint

from . import api, import_views, qr_views, views

bp = Blueprint("people", "app.people", template_folder="templates")

bp.add_url_rule("/members/", view_func=views.list_members, methods=["GET"])
bp.add_url_rule("/members/<int:member_id>", view_func=views.member_page, methods=["GET"])
bp.add_url_rule("/members/new", view_func=views.create_member, methods=["GET", "POST"])
bp.add_url_rule("/members/<int:member_id>/edit", view_func=views.edit_member, methods=["GET", "POST"])
bp.add_url_rule("/members/<int:member_id>/assignments", view_func=views.add_assignment, methods=["POST"])
bp.add_url_rule("/assignments/<int:assignment_id>/end", view_func=views.end_assignment, methods=["GET", "POST"])
bp.add_url_rule("/members/<int:member_id>/roles", view_func=views.grant, methods=["POST"])
bp.add_url_rule("/roles/<int:grant_id>/revoke", view_func=views.revoke, methods=["GET", "POST"])
bp.add_url_rule("/me", view_func=views.my_page, methods=["GET"])
bp.add_url_rule("/me/qr", view_func=qr_views.my_qr, methods=["GET"])
bp.add_url_rule("/me/qr.svg", view_func=qr_views.my_qr_svg, methods=["GET"])
bp.add_url_rule("/members/<int:member_id>/card", view_func=qr_views.member_card, methods=["GET"])
bp.add_url_rule("/members/import", view_func=import_views.import_members, methods=["GET", "POST"])
bp.add_url_rule("/members/import/template.xlsx", view_func=import_views.import_template, methods=["GET"])
bp.add_url_rule("/members/import/<int:job_id>", view_func=import_views.import_status, methods=["GET"])
bp.add_url_rule("/members/import/<int:job_id>/problems.xlsx", view_func=import_views.import_problems, methods=["GET"])
bp.add_url_rule("/members/import/<int:job_id>/status.json", view_func=import_views.import_status_json, methods=["GET"])
bp.add_url_rule("/members/import/<int:job_id>/run", view_func=import_views.run_import, methods=["POST"])
bp.add_url_rule("/members/export.xlsx", view_func=import_views.export_members, methods=["GET"])

api_bp = api_blueprint("people_api", __name__)
api_bp.add_url_rule("/members", view_func=api.list_members, methods=["GET"])
api_bp.add_url_rule("/me/qr", view_func=api.my_qr, methods=["GET"])
api_bp.add_url_rule(f"/members/<{ID}:member_id>", view_func=api.get_member, methods=["GET"])
api_bp.add_url_rule("/members", view_func=api.create_member, methods=["POST"])
api_bp.add_url_rule(f"/members/<{ID}:member_id>", view_func=api.update_member, methods=["PATCH"])
