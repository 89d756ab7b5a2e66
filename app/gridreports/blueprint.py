"""URL rules of the gridreports area (only URL rules): reporting, my reports, a report and its photos,
triage, the summary per grid, the settings (views), and the JSON API (api)."""

from __future__ import annotations

from flask import Blueprint

from app.api.blueprints import ID, api_blueprint

from . import api, views

bp = Blueprint("gridreports", "app.gridreports", template_folder="templates")

_R = "/me/grid-reports/<int:report_id>"
bp.add_url_rule("/grid-reports/new", view_func=views.new_report, methods=["GET", "POST"])
bp.add_url_rule("/grid-reports/grids", view_func=views.pick_grid)
bp.add_url_rule("/me/grid-reports", view_func=views.my_reports)
bp.add_url_rule(_R, view_func=views.report_page)
bp.add_url_rule(f"{_R}/photos/<int(min=1, max=3):position>", view_func=views.photo)
bp.add_url_rule(f"{_R}/triage", view_func=views.triage, methods=["POST"])
bp.add_url_rule("/grid-reports/triage", view_func=views.queue)
bp.add_url_rule("/grid-reports/summary", view_func=views.summary_index)
bp.add_url_rule("/grid-reports/summary/<int:unit_id>", view_func=views.summary)
bp.add_url_rule("/grid-reports/summary/<int:unit_id>.xlsx", view_func=views.summary_xlsx)
bp.add_url_rule("/grid-reports/settings", view_func=views.settings, methods=["GET", "POST"])

api_bp = api_blueprint("gridreports_api", __name__)

_A = f"/grid-reports/<{ID}:report_id>"
api_bp.add_url_rule("/grid-reports", view_func=api.create_report, methods=["POST"])
api_bp.add_url_rule("/me/grid-reports", view_func=api.my_reports, methods=["GET"])
api_bp.add_url_rule("/grid-reports/triage", view_func=api.triage_queue, methods=["GET"])
api_bp.add_url_rule(_A, view_func=api.get_report, methods=["GET"])
api_bp.add_url_rule(f"{_A}/verification", view_func=api.verify, methods=["POST"])
api_bp.add_url_rule(f"{_A}/rejection", view_func=api.reject, methods=["POST"])
api_bp.add_url_rule(f"{_A}/duplicate", view_func=api.mark_duplicate, methods=["POST"])
