"""URL rules of the outlets area (only URL rules): the pages (views modules, added by the page
owners below) and the JSON API (api)."""

from __future__ import annotations

from flask import Blueprint

from app.api.blueprints import ID, api_blueprint

from . import api

bp = Blueprint("outlets", "app.outlets", template_folder="templates")

# --- pages (counter, catalogue, stock, outlet and district views) ---------------------------------


# --- JSON API ---------------------------------------------------------------------------------------
api_bp = api_blueprint("outlets_api", __name__)

_O = f"/outlets/<{ID}:outlet_id>"
api_bp.add_url_rule("/outlets", view_func=api.list_outlets, methods=["GET"])
api_bp.add_url_rule("/outlets", view_func=api.create_outlet, methods=["POST"])
api_bp.add_url_rule(_O, view_func=api.get_outlet, methods=["GET"])
api_bp.add_url_rule(f"{_O}/catalogue", view_func=api.outlet_catalogue, methods=["GET"])
api_bp.add_url_rule(f"{_O}/availability", view_func=api.set_availability, methods=["POST"])
api_bp.add_url_rule("/catalogue/items", view_func=api.list_items, methods=["GET"])
api_bp.add_url_rule("/catalogue/items", view_func=api.create_item, methods=["POST"])
api_bp.add_url_rule(f"/catalogue/items/<{ID}:item_id>/prices", view_func=api.change_price, methods=["POST"])
api_bp.add_url_rule(f"{_O}/stock-movements", view_func=api.create_movement, methods=["POST"])
api_bp.add_url_rule(f"{_O}/stock-movements", view_func=api.list_movements, methods=["GET"])
api_bp.add_url_rule(f"{_O}/stock-counts", view_func=api.record_count, methods=["POST"])
api_bp.add_url_rule(f"/stock-counts/<{ID}:count_id>/apply", view_func=api.apply_count, methods=["POST"])
api_bp.add_url_rule(f"{_O}/stock-report", view_func=api.stock_report, methods=["GET"])
api_bp.add_url_rule(f"{_O}/member-lookup", view_func=api.lookup_member, methods=["POST"])
api_bp.add_url_rule(f"{_O}/redemptions", view_func=api.redeem, methods=["POST"])
api_bp.add_url_rule(f"/redemptions/<{ID}:redemption_id>", view_func=api.get_redemption, methods=["GET"])
api_bp.add_url_rule(f"/redemptions/<{ID}:redemption_id>/refund", view_func=api.refund_redemption, methods=["POST"])
