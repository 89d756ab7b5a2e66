"""URL rules of the checkins area (only URL rules): sites, their posters and codes, the site scan page,
my check-ins, household visits (views), and the JSON API (api)."""

from __future__ import annotations

from flask import Blueprint

from app.api.blueprints import ID, api_blueprint

from . import api, views

bp = Blueprint("checkins", "app.checkins", template_folder="templates")

_S = "/checkins/sites/<int:site_id>"
bp.add_url_rule("/checkins/sites/", view_func=views.list_sites)
bp.add_url_rule("/checkins/sites/new", view_func=views.new_site, methods=["GET", "POST"])
bp.add_url_rule(_S, view_func=views.site_page)
bp.add_url_rule(f"{_S}/edit", view_func=views.edit_site, methods=["GET", "POST"])
bp.add_url_rule(f"{_S}/close", view_func=views.close_site, methods=["GET", "POST"])
bp.add_url_rule(f"{_S}/reopen", view_func=views.reopen_site, methods=["POST"])
bp.add_url_rule(f"{_S}/poster", view_func=views.poster)
bp.add_url_rule(f"{_S}/code", view_func=views.code_screen)
bp.add_url_rule(f"{_S}/code.svg", view_func=views.code_svg)
bp.add_url_rule("/site-scan/<token>", view_func=views.scan_page, endpoint="scan_page")
bp.add_url_rule("/site-scan/<token>", view_func=views.scan_record, methods=["POST"], endpoint="scan_record")
bp.add_url_rule("/me/checkins", view_func=views.my_checkins)
bp.add_url_rule("/me/visits", view_func=views.my_visits, methods=["GET", "POST"])
bp.add_url_rule("/checkins/visits/", view_func=views.visit_queue)
bp.add_url_rule("/checkins/visits/<int:visit_id>/decide", view_func=views.decide_visit, methods=["POST"])
bp.add_url_rule("/checkins/rule", view_func=views.checkin_rule, methods=["GET", "POST"])


api_bp = api_blueprint("checkins_api", __name__)

api_bp.add_url_rule("/checkin-sites", view_func=api.list_sites, methods=["GET"])
api_bp.add_url_rule("/checkin-sites", view_func=api.create_site, methods=["POST"])
api_bp.add_url_rule("/site-scans", view_func=api.site_scan, methods=["POST"])
api_bp.add_url_rule("/me/checkins", view_func=api.my_checkins, methods=["GET"])
api_bp.add_url_rule("/household-visits", view_func=api.create_visit, methods=["POST"])
api_bp.add_url_rule("/household-visits", view_func=api.list_visits, methods=["GET"])
api_bp.add_url_rule(f"/household-visits/<{ID}:visit_id>/decision", view_func=api.decide_visit, methods=["POST"])
