"""URL rules of the outlets area (only URL rules): the pages (views modules, added by the page
owners below) and the JSON API (api)."""

from __future__ import annotations

from flask import Blueprint

from app.api.blueprints import ID, api_blueprint

from . import admin_views, api, catalogue_views, district_views, home_views, photos, stock_views

bp = Blueprint("outlets", "app.outlets", template_folder="templates")

# --- pages (counter, catalogue, stock, outlet and district views) ---------------------------------

# Outlet management, catalogue, stock, the outlet's home and the district view (outlet pages).
_P = "/outlets/<int:outlet_id>"
bp.add_url_rule("/outlets/", view_func=admin_views.list_outlets)
bp.add_url_rule("/outlets/new", view_func=admin_views.new_outlet, methods=["GET", "POST"])
bp.add_url_rule("/outlets/settings", view_func=admin_views.settings, methods=["GET", "POST"])
bp.add_url_rule(_P, view_func=home_views.outlet_home)
bp.add_url_rule(f"{_P}/edit", view_func=admin_views.edit_outlet, methods=["GET", "POST"])
bp.add_url_rule(f"{_P}/staff", view_func=admin_views.outlet_staff, methods=["GET", "POST"])
bp.add_url_rule(f"{_P}/offer", view_func=catalogue_views.availability, methods=["GET", "POST"])
bp.add_url_rule(f"{_P}/stock", view_func=stock_views.stock)
bp.add_url_rule(f"{_P}/stock/<kind>", view_func=stock_views.movement, methods=["GET", "POST"])
bp.add_url_rule(f"{_P}/count", view_func=stock_views.stock_count, methods=["GET", "POST"])
bp.add_url_rule(f"{_P}/counts/<int:count_id>", view_func=stock_views.count_page, methods=["GET", "POST"])
bp.add_url_rule(f"{_P}/stock-report", view_func=stock_views.stock_report)
bp.add_url_rule("/outlets/reconciliation", view_func=stock_views.reconciliation)
bp.add_url_rule("/outlets/district", view_func=district_views.district_page, endpoint="district_view")
bp.add_url_rule("/outlets/district.xlsx", view_func=district_views.district_xlsx)
bp.add_url_rule("/outlets/catalogue/", view_func=catalogue_views.catalogue)
bp.add_url_rule("/outlets/catalogue/new", view_func=catalogue_views.new_item, methods=["GET", "POST"])
bp.add_url_rule("/outlets/catalogue/<int:item_id>", view_func=catalogue_views.edit_item, methods=["GET", "POST"])
bp.add_url_rule("/outlets/catalogue/<int:item_id>/price", view_func=catalogue_views.change_price, methods=["POST"])
bp.add_url_rule("/outlets/catalogue.xlsx", view_func=catalogue_views.export_catalogue)
bp.add_url_rule("/outlets/catalogue/import", view_func=catalogue_views.import_catalogue, methods=["GET", "POST"])
bp.add_url_rule("/outlets/catalogue/template.xlsx", view_func=catalogue_views.import_template)
bp.add_url_rule("/outlets/photos/<name>", view_func=photos.serve_photo, endpoint="photo")
bp.record_once(home_views.install_panel)  # the outlet staff's home page panel


# --- JSON API ---------------------------------------------------------------------------------------
api_bp = api_blueprint("outlets_api", __name__)

_O = f"/outlets/<{ID}:outlet_id>"
api_bp.add_url_rule("/outlets", view_func=api.list_outlets, methods=["GET"])
api_bp.add_url_rule("/outlets", view_func=api.create_outlet, methods=["POST"])
api_bp.add_url_rule("/outlets/settings", view_func=api.get_settings, methods=["GET"])
api_bp.add_url_rule("/outlets/settings", view_func=api.change_settings, methods=["PUT"])
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

# --- the counter, receipts, refunds and the member's "just redeemed" (outlets-counter) ----------------
from . import counter_views  # noqa: E402

_C = "/outlets/<int:outlet_id>/counter"
bp.add_url_rule(_C, view_func=counter_views.counter, endpoint="counter")
bp.add_url_rule(f"{_C}/member", view_func=counter_views.counter_member, methods=["POST"], endpoint="counter_member")
bp.add_url_rule(f"{_C}/redeem", view_func=counter_views.counter_redeem, methods=["POST"], endpoint="counter_redeem")
bp.add_url_rule(f"{_C}/redemptions", view_func=counter_views.counter_history, endpoint="counter_history")
bp.add_url_rule(
    f"{_C}/redemptions/<int:redemption_id>", view_func=counter_views.counter_receipt, endpoint="counter_receipt"
)
bp.add_url_rule(
    f"{_C}/redemptions/<int:redemption_id>/refund",
    view_func=counter_views.counter_refund,
    methods=["GET", "POST"],
    endpoint="counter_refund",
)
bp.add_url_rule("/me/redeemed.json", view_func=counter_views.my_latest_redemptions, endpoint="my_latest_redemptions")
# The member's side, wired when the pages are registered: the QR page's "just redeemed" panel and the
# points history's words for redemptions and refunds (counter_views.setup_counter).
bp.record_once(lambda state: counter_views.setup_counter(state.app))
