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
