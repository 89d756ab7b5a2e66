"""URL rules of the places area (only URL rules: the views are plain functions in their modules)."""

from __future__ import annotations

from flask import Blueprint

from app.api.blueprints import ID, api_blueprint

from . import api, views

bp = Blueprint("places", "app.places", template_folder="templates")

bp.add_url_rule("/org/", view_func=views.tree, methods=["GET"])
bp.add_url_rule("/org/<int:unit_id>", view_func=views.unit_page, methods=["GET"])
bp.add_url_rule("/org/pick", view_func=views.pick, methods=["GET"])
bp.add_url_rule("/org/", view_func=views.create, methods=["POST"])
bp.add_url_rule("/org/<int:unit_id>/children", view_func=views.create, methods=["POST"])
bp.add_url_rule("/org/<int:unit_id>/rename", view_func=views.rename, methods=["POST"])
bp.add_url_rule("/org/<int:unit_id>/move", view_func=views.move, methods=["POST"])
bp.add_url_rule("/org/<int:unit_id>/retire", view_func=views.retire, methods=["GET", "POST"])

api_bp = api_blueprint("places_api", __name__)
api_bp.add_url_rule("/org-units", view_func=api.list_org_units, methods=["GET"])
api_bp.add_url_rule(f"/org-units/<{ID}:unit_id>", view_func=api.get_org_unit, methods=["GET"])
api_bp.add_url_rule("/org-units", view_func=api.create_org_unit, methods=["POST"])
api_bp.add_url_rule(f"/org-units/<{ID}:unit_id>", view_func=api.update_org_unit, methods=["PATCH"])
