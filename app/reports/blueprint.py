"""URL rules of the reports area (only URL rules): the pick page, each report's page and .xlsx, the API."""

from __future__ import annotations

from flask import Blueprint

from app.api.blueprints import api_blueprint

from . import api, views

bp = Blueprint("reports", "app.reports", template_folder="templates")

_U = "/reports/units/<int:unit_id>"
bp.add_url_rule("/reports/", view_func=views.index)
bp.add_url_rule(f"{_U}/party-checkins", view_func=views.party_checkins)
bp.add_url_rule(f"{_U}/party-checkins.xlsx", view_func=views.party_checkins_xlsx)
bp.add_url_rule(f"{_U}/absent", view_func=views.absent)
bp.add_url_rule(f"{_U}/absent.xlsx", view_func=views.absent_xlsx)
bp.add_url_rule(f"{_U}/grid-coverage", view_func=views.grid_coverage)
bp.add_url_rule(f"{_U}/grid-coverage.xlsx", view_func=views.grid_coverage_xlsx)

api_bp = api_blueprint("reports_api", __name__)

api_bp.add_url_rule("/reports/party-checkins", view_func=api.party_checkins, methods=["GET"])
api_bp.add_url_rule("/reports/absent-party-members", view_func=api.absent_party_members, methods=["GET"])
api_bp.add_url_rule("/reports/grid-coverage", view_func=api.grid_coverage, methods=["GET"])
