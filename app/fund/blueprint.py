"""URL rules of the fund area (only URL rules): the fund's JSON API; `fund-pages` adds the page rules."""

from __future__ import annotations

from flask import Blueprint

from app.api.blueprints import ID, api_blueprint  # noqa: F401

from . import api  # noqa: F401

bp = Blueprint("fund", "app.fund", template_folder="templates")

# --- pages (views) -------------------------------------------------------------------------------------------

api_bp = api_blueprint("fund_api", __name__)

# --- JSON API (api) ------------------------------------------------------------------------------------------
api_bp.add_url_rule("/fund/funds", view_func=api.list_funds, methods=["GET"])
api_bp.add_url_rule("/fund/funds", view_func=api.create_fund, methods=["POST"])
api_bp.add_url_rule(f"/fund/funds/<{ID}:fund_id>", view_func=api.get_fund, methods=["GET"])
api_bp.add_url_rule(
    f"/fund/funds/<{ID}:fund_id>/budgets/<int(min=2000,max=2200):year>", view_func=api.set_budget, methods=["PUT"]
)
api_bp.add_url_rule(f"/fund/funds/<{ID}:fund_id>/incomes", view_func=api.list_incomes, methods=["GET"])
api_bp.add_url_rule(f"/fund/funds/<{ID}:fund_id>/incomes", view_func=api.create_income, methods=["POST"])
api_bp.add_url_rule("/fund/payouts", view_func=api.list_payouts, methods=["GET"])
api_bp.add_url_rule("/fund/payouts", view_func=api.propose_payout, methods=["POST"])
api_bp.add_url_rule("/fund/payouts/batch", view_func=api.propose_payouts, methods=["POST"])
api_bp.add_url_rule("/fund/payouts/approve", view_func=api.approve_payouts, methods=["POST"])
api_bp.add_url_rule(f"/fund/payouts/<{ID}:payout_id>", view_func=api.get_payout, methods=["GET"])
api_bp.add_url_rule(f"/fund/payouts/<{ID}:payout_id>/approve", view_func=api.approve_payout, methods=["POST"])
api_bp.add_url_rule(f"/fund/payouts/<{ID}:payout_id>/reject", view_func=api.reject_payout, methods=["POST"])
api_bp.add_url_rule(f"/fund/payouts/<{ID}:payout_id>/withdraw", view_func=api.withdraw_payout, methods=["POST"])
api_bp.add_url_rule(f"/fund/payouts/<{ID}:payout_id>/disbursement", view_func=api.record_payment, methods=["POST"])
api_bp.add_url_rule(f"/fund/payouts/<{ID}:payout_id>/return", view_func=api.return_payout, methods=["POST"])
api_bp.add_url_rule("/fund/rules", view_func=api.get_rules, methods=["GET"])
api_bp.add_url_rule("/fund/rules", view_func=api.change_rules, methods=["PUT"])
api_bp.add_url_rule("/me/rewards", view_func=api.my_rewards, methods=["GET"])
