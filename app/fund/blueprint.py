"""URL rules of the fund area (only URL rules): the fund's JSON API; `fund-pages` adds the page rules."""

from __future__ import annotations

from flask import Blueprint

from app.api.blueprints import ID, api_blueprint  # noqa: F401

from . import (  # noqa: F401
    api,
    approval_views,
    fund_views,
    my_rewards_views,
    payment_views,
    proposal_views,
    report_views,
)

bp = Blueprint("fund", "app.fund", template_folder="templates")

# --- pages (views) -------------------------------------------------------------------------------------------
_F = "/fund/<int:fund_id>"
bp.add_url_rule("/fund/", view_func=fund_views.index, methods=["GET", "POST"])
bp.add_url_rule(_F, view_func=fund_views.fund_home, methods=["GET", "POST"])
bp.add_url_rule(f"{_F}/income", view_func=fund_views.incomes_page, methods=["GET", "POST"])
bp.add_url_rule(f"{_F}/propose", view_func=proposal_views.propose_page, methods=["GET", "POST"])
bp.add_url_rule("/fund/propose", view_func=proposal_views.propose_for_report, methods=["GET"])
bp.add_url_rule(f"{_F}/upload", view_func=proposal_views.upload_page, methods=["GET", "POST"])
bp.add_url_rule(f"{_F}/upload/template.xlsx", view_func=proposal_views.list_template, methods=["GET"])
bp.add_url_rule("/fund/payouts/", view_func=proposal_views.payouts_page, methods=["GET"])
bp.add_url_rule("/fund/payouts/<int:payout_id>", view_func=proposal_views.payout_page, methods=["GET", "POST"])
bp.add_url_rule("/fund/payouts/<int:payout_id>/pay", view_func=payment_views.payment_page, methods=["GET", "POST"])
bp.add_url_rule("/fund/approvals", view_func=approval_views.approvals_page, methods=["GET", "POST"])
bp.add_url_rule("/fund/attachments/<int:attachment_id>", view_func=fund_views.attachment, methods=["GET"])
bp.add_url_rule("/fund/pick/members", view_func=fund_views.pick_members, methods=["GET"])
bp.add_url_rule("/fund/pick/activities", view_func=fund_views.pick_activities, methods=["GET"])
bp.add_url_rule("/fund/pick/grid-reports", view_func=fund_views.pick_grid_reports, methods=["GET"])
bp.add_url_rule("/me/rewards", view_func=my_rewards_views.my_rewards_page, methods=["GET"])
# reports: allocated, reserved, paid, returned, remaining by month / street / community / reason; per payee
bp.add_url_rule(f"{_F}/reports", view_func=report_views.report_page, methods=["GET"])
bp.add_url_rule(f"{_F}/reports.xlsx", view_func=report_views.report_xlsx, methods=["GET"])
bp.add_url_rule(f"{_F}/reports/payees", view_func=report_views.payees_page, methods=["GET"])
bp.add_url_rule(f"{_F}/reports/payees.xlsx", view_func=report_views.payees_xlsx, methods=["GET"])

api_bp = api_blueprint("fund_api", __name__)

# --- JSON API (api) ------------------------------------------------------------------------------------------
api_bp.add_url_rule("/fund/funds", view_func=api.list_funds, methods=["GET"])
api_bp.add_url_rule("/fund/funds", view_func=api.create_fund, methods=["POST"])
api_bp.add_url_rule("/fund/attachments", view_func=api.upload_attachment, methods=["POST"])
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
